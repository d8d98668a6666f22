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
static inline void fbp_omp_barrier(void) {}
#endif
#endif
