/*
 * What it costs a two-thread step to read data the other core just wrote.
 *
 * Thread 0 writes a buffer of KB KiB, a barrier, thread 1 reads it, a
 * barrier: the pattern of a row-blocked step, whose every layer reads the
 * rows the other thread's blocks of the previous layer wrote (and whose next
 * write to them takes the lines back). Against the same write and read on
 * one core. The difference over the line count is the price of a cache line
 * that moves between the cores (bench/RESULTS.md, twenty-eighth session).
 *
 *     gcc -O2 -fopenmp bench/core_handoff.c -o /tmp/core_handoff && /tmp/core_handoff 16
 *
 * Prints three runs of us per round (write, barrier, read on the other core,
 * barrier), then the one-core round (write and read on one thread).
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    int kb = argc > 1 ? atoi(argv[1]) : 16;
    int n = kb * 1024 / 8, rounds = 20000, run, r, i;
    double *a, t0, s1 = 0.0;
    volatile double sink = 0.0;
    if (kb <= 0 || posix_memalign((void **)&a, 64, (size_t)n * 8) != 0)
        return 1;
    memset(a, 0, (size_t)n * 8);
    for (run = 0; run < 3; run++) {
        t0 = omp_get_wtime();
#pragma omp parallel num_threads(2)
        {
            int t = omp_get_thread_num(), k, j;
            double s = 0.0;
            for (k = 0; k < rounds; k++) {
                if (t == 0)
                    for (j = 0; j < n; j++)
                        a[j] += 1.0;
#pragma omp barrier
                if (t == 1)
                    for (j = 0; j < n; j++)
                        s += a[j];
#pragma omp barrier
            }
#pragma omp atomic
            sink += s;
        }
        printf("%d KiB written on one core, read on the other: %.2f us per round\n", kb,
               (omp_get_wtime() - t0) / rounds * 1e6);
    }
    t0 = omp_get_wtime();
    for (r = 0; r < rounds; r++) {
        for (i = 0; i < n; i++)
            a[i] += 1.0;
        for (i = 0; i < n; i++)
            s1 += a[i];
    }
    printf("%d KiB written and read on one core:          %.2f us per round\n", kb,
           (omp_get_wtime() - t0) / rounds * 1e6);
    sink += s1;
    free(a);
    return 0;
}
