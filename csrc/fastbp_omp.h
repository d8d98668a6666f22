/* OpenMP queries that also compile without OpenMP (serial build). */
#ifndef FASTBP_OMP_H
#define FASTBP_OMP_H
#ifdef _OPENMP
#include <omp.h>
static inline int fbp_omp_enabled(void) { return 1; }
static inline int fbp_omp_max_threads(void) { return omp_get_max_threads(); }
static inline int fbp_omp_num_procs(void) { return omp_get_num_procs(); }
static inline int fbp_omp_thread_num(void) { return omp_get_thread_num(); }
static inline int fbp_omp_team_size(void) { return omp_get_num_threads(); }
/* Wall-clock seconds (monotonic; the team chooser times steps with it). */
static inline double fbp_wtime(void) { return omp_get_wtime(); }
/* An orphaned barrier: binds to the parallel region of whichever team calls it. */
static inline void fbp_omp_barrier(void)
{
#pragma omp barrier
}
#else
static inline int fbp_omp_enabled(void) { return 0; }
static inline int fbp_omp_max_threads(void) { return 1; }
static inline int fbp_omp_num_procs(void) { return 1; }
static inline int fbp_omp_thread_num(void) { return 0; }
static inline int fbp_omp_team_size(void) { return 1; }
static inline double fbp_wtime(void) { return 0.0; }  /* one thread: nothing to choose */
static inline void fbp_omp_barrier(void) {}
#endif

/* The next task index of a self-scheduled loop whose workers are not an
   OpenMP team (fastbp._blas's NumPy-pool path): every caller gets a distinct
   index, in any order. */
#include <stddef.h>
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
static inline ptrdiff_t fbp_task_next(ptrdiff_t *counter)
{
    return (ptrdiff_t)_InterlockedExchangeAdd64((volatile __int64 *)counter, 1);
}
#else
static inline ptrdiff_t fbp_task_next(ptrdiff_t *counter)
{
    return __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}
#endif
#endif
