/*
 * What a step's synchronisation costs by itself on two threads: an OpenMP
 * barrier (libgomp's, as the network kernel's phases meet at), a plain
 * sense-reversing spin barrier for comparison, and the fork/join of a
 * parallel region (one per compiled step). Both threads arrive together
 * here, so these are the floors; in a step, a barrier also waits out the
 * imbalance of the phase it ends (bench/RESULTS.md, thirteenth session).
 *
 *     gcc -O2 -fopenmp bench/omp_barrier.c -o /tmp/omp_barrier && /tmp/omp_barrier
 *
 * Prints three runs of: ns per barrier (200,000 in a row) and ns per empty
 * parallel region (20,000).
 */
#include <immintrin.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdio.h>

static _Atomic int count = 0;
static _Atomic int sense = 0;

static inline void spin_barrier(int *local_sense, int n)
{
    *local_sense = !*local_sense;
    if (atomic_fetch_add_explicit(&count, 1, memory_order_acq_rel) == n - 1) {
        atomic_store_explicit(&count, 0, memory_order_relaxed);
        atomic_store_explicit(&sense, *local_sense, memory_order_release);
    } else {
        while (atomic_load_explicit(&sense, memory_order_acquire) != *local_sense)
            _mm_pause();
    }
}

int main(void)
{
    const int n = 200000, regions = 20000;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = omp_get_wtime();
#pragma omp parallel num_threads(2)
        {
            for (int i = 0; i < n; i++) {
#pragma omp barrier
            }
        }
        double t1 = omp_get_wtime();
#pragma omp parallel num_threads(2)
        {
            int local = 0;
            for (int i = 0; i < n; i++)
                spin_barrier(&local, 2);
#pragma omp barrier
            if (omp_get_thread_num() == 0)
                atomic_store(&sense, 0);
        }
        double t2 = omp_get_wtime();
        for (int i = 0; i < regions; i++) {
#pragma omp parallel num_threads(2)
            {
                __asm__ volatile("");
            }
        }
        double t3 = omp_get_wtime();
        printf("libgomp barrier %.0f ns, spin barrier %.0f ns, parallel region fork/join %.0f ns\n",
               (t1 - t0) / n * 1e9, (t2 - t1) / n * 1e9, (t3 - t2) / regions * 1e9);
    }
    return 0;
}
