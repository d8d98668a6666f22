/* OpenMP queries that also compile without OpenMP (serial build). */
#ifndef FASTBP_OMP_H
#define FASTBP_OMP_H
#ifdef _OPENMP
#include <omp.h>
static inline int fbp_omp_enabled(void) { return 1; }
static inline int fbp_omp_max_threads(void) { return omp_get_max_threads(); }
/* OMP_THREAD_LIMIT (the runtime's cap on every team; INT_MAX-like when unset). */
static inline int fbp_omp_thread_limit(void) { return omp_get_thread_limit(); }
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
static inline int fbp_omp_thread_limit(void) { return 1; }
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
static inline ptrdiff_t fbp_atomic_add(ptrdiff_t *x, ptrdiff_t d)
{
    return (ptrdiff_t)_InterlockedExchangeAdd64((volatile __int64 *)x, d) + d;
}
static inline ptrdiff_t fbp_atomic_load(ptrdiff_t *x)
{
    return (ptrdiff_t)_InterlockedCompareExchange64((volatile __int64 *)x, 0, 0);
}
static inline void fbp_atomic_store(ptrdiff_t *x, ptrdiff_t v)
{
    _InterlockedExchange64((volatile __int64 *)x, v);
}
/* No fork() on Windows: fastbp._blas's fork guard never waits there. */
static inline void fbp_yield(void) {}
#else
static inline ptrdiff_t fbp_task_next(ptrdiff_t *counter)
{
    return __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}
/* Sequentially consistent: fastbp._blas's fork guard pairs a store to one
   counter with a load of another in two threads (each sees the other's). */
static inline ptrdiff_t fbp_atomic_add(ptrdiff_t *x, ptrdiff_t d)
{
    return __atomic_add_fetch(x, d, __ATOMIC_SEQ_CST);
}
static inline ptrdiff_t fbp_atomic_load(ptrdiff_t *x)
{
    return __atomic_load_n(x, __ATOMIC_SEQ_CST);
}
static inline void fbp_atomic_store(ptrdiff_t *x, ptrdiff_t v)
{
    __atomic_store_n(x, v, __ATOMIC_SEQ_CST);
}
#include <sched.h>
static inline void fbp_yield(void) { sched_yield(); }
#endif

/* This thread's last generation of fastbp._blas's buffer warm-up (0: none). */
#if defined(_MSC_VER) && !defined(__clang__)
#define FBP_THREAD_LOCAL __declspec(thread)
#else
#define FBP_THREAD_LOCAL __thread
#endif
static FBP_THREAD_LOCAL ptrdiff_t fbp_warm_seen_gen = 0;
static inline ptrdiff_t *fbp_warm_seen(void) { return &fbp_warm_seen_gen; }

/* Tasks with a home thread (fastbp._dense's layer kernels). With nthr
   threads in a call, the thread at position `home` first claims the tasks
   t = home (mod nthr), then any task left, lowest first. A thread keeps its
   position from call to call: its OpenMP thread number in a team; on NumPy's
   OpenBLAS pool (fbp_pool_home), 0 for the thread that hands the call to
   the pool (between fbp_pool_enter and fbp_pool_leave) and for each worker
   a slot from 1 up that it takes the first time it asks. So the thread that
   ran a block of a layer's output rows in the last call runs it again: the
   rows it wrote (Z and A, dW, the previous layer's dZ) are in its own core's
   cache, not the other core's. A late or busy thread's tasks are taken by
   the others, so every task runs exactly once whoever comes. *taken is a
   bit mask of the claimed tasks; past 64 tasks the plain counter *next
   hands them out in order. Returns a value >= ntask when none is left. */
static FBP_THREAD_LOCAL int fbp_pool_caller_ = 0;
static FBP_THREAD_LOCAL ptrdiff_t fbp_pool_slot_ = -1;
static ptrdiff_t fbp_pool_slots_ = 1;

static inline void fbp_pool_enter(void) { fbp_pool_caller_ = 1; }
static inline void fbp_pool_leave(void) { fbp_pool_caller_ = 0; }

static inline ptrdiff_t fbp_pool_home(void)
{
    if (fbp_pool_caller_)
        return 0;
    if (fbp_pool_slot_ < 0)
        fbp_pool_slot_ = fbp_task_next(&fbp_pool_slots_);
    return fbp_pool_slot_;
}

static inline int fbp_task_try_(unsigned long long *taken, ptrdiff_t t)
{
    unsigned long long bit = 1ULL << t;
#if defined(_MSC_VER) && !defined(__clang__)
    return !((unsigned long long)_InterlockedOr64((volatile __int64 *)taken,
                                                  (__int64)bit) & bit);
#else
    return !(__atomic_fetch_or(taken, bit, __ATOMIC_RELAXED) & bit);
#endif
}

static inline ptrdiff_t fbp_task_claim(unsigned long long *taken, ptrdiff_t *next, ptrdiff_t ntask,
                                       ptrdiff_t nthr, ptrdiff_t home)
{   /* home >= 0 (a negative one is read modulo 2^64: still a valid task) */
    ptrdiff_t t;
    if (ntask > 64 || nthr < 2)
        return fbp_task_next(next);
    for (t = (ptrdiff_t)((size_t)home % (size_t)nthr); t < ntask; t += nthr)
        if (fbp_task_try_(taken, t))
            return t;
    for (t = 0; t < ntask; t++)
        if (fbp_task_try_(taken, t))
            return t;
    return ntask;
}
#endif
