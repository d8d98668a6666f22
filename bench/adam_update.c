/*
 * Time the optimizer update of the network kernel alone (csrc/fastbp_optim.h)
 * on a flat buffer: how much of a small step's time Adam's correctly rounded
 * square root and division take (bench/RESULTS.md, tenth and seventeenth
 * sessions).
 *
 *     gcc -O3 -fopenmp -Icsrc bench/adam_update.c -o /tmp/adam_update -lm
 *     /tmp/adam_update [n_params [n_threads]]   (default 9738, about digits' 9,610; 1)
 *
 * -O3 as meson's release build compiles the extension: at -O2, gcc 12
 * leaves the plain-C loops (SGD, momentum) scalar, about 3x slower than
 * in the library (Adam's loop is intrinsics and runs the same at both).
 *
 * Prints the best of 5 runs of REPS updates (20,000, fewer for large
 * buffers: about 2e8 elements per run) for Adam (step form) and plain SGD,
 * float64 and float32, for each clone this CPU can run (AVX-512 rows only
 * where fastbp's dispatch would take them: F/DQ/VL present and
 * FASTBP_DISPATCH not lower; on an AVX2-only CPU they are skipped, not run
 * into an illegal instruction). With n_threads > 1 the buffer is cut into
 * one contiguous range per thread, as the network kernel cuts it by rows,
 * and the threads meet at a barrier after every update. The buffers stay
 * in cache between updates unless they are larger than it: a training
 * step's own update reads them after the step's other data went through.
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "fastbp_optim.h"

static int REPS = 20000;
static int NT = 1;

/* best_d / best_f: the best of 5 runs of REPS updates of n elements on NT
 * threads, us per update, through a clone of type upd_d / upd_f (element
 * type T). */
#define DEFINE_BEST(T, S)                                                     \
    typedef void (*upd_##S)(int, T *, const T *, T *, T *, ptrdiff_t, ptrdiff_t, T, T, \
                            T, T, T, T, T, T);                                \
    static double best_##S(upd_##S f, int opt, T *P, const T *G, T *S1, T *S2, \
                           ptrdiff_t n)                                       \
    {                                                                         \
        double best = 1e30;                                                   \
        for (int rep = 0; rep < 5; rep++) {                                   \
            double t = 0.0;                                                   \
            _Pragma("omp parallel num_threads(NT)")                           \
            {                                                                 \
                int tid = omp_get_thread_num(), nt = omp_get_num_threads();   \
                ptrdiff_t a = n * tid / nt, b = n * (tid + 1) / nt;           \
                _Pragma("omp barrier")                                        \
                _Pragma("omp master")                                         \
                t = omp_get_wtime();                                          \
                for (int r = 0; r < REPS; r++) {                              \
                    f(opt, P, G, S1, S2, a, b, (T)1e-3, (T)0.9, (T)0.999, (T)0.1, \
                      (T)0.001, (T)1e-8, (T)1, (T)1);                         \
                    _Pragma("omp barrier")                                    \
                }                                                             \
                _Pragma("omp master")                                         \
                t = (omp_get_wtime() - t) / REPS * 1e6;                       \
            }                                                                 \
            if (t < best)                                                     \
                best = t;                                                     \
        }                                                                     \
        return best;                                                          \
    }

DEFINE_BEST(double, d)
DEFINE_BEST(float, f)

int main(int argc, char **argv)
{
    ptrdiff_t n = argc > 1 ? atol(argv[1]) : 9738;
    NT = argc > 2 ? atoi(argv[2]) : 1;
    if (n < 1 || NT < 1) {
        fprintf(stderr, "usage: %s [n_params >= 1 [n_threads >= 1]]\n", argv[0]);
        return 2;
    }
    if (n > 10000)
        REPS = (int)(2e8 / (double)n) > 20 ? (int)(2e8 / (double)n) : 20;
    double *P = malloc(n * sizeof *P), *G = malloc(n * sizeof *G);
    double *S1 = calloc(n, sizeof *S1), *S2 = calloc(n, sizeof *S2);
    float *Pf = malloc(n * sizeof *Pf), *Gf = malloc(n * sizeof *Gf);
    float *S1f = calloc(n, sizeof *S1f), *S2f = calloc(n, sizeof *S2f);
    if (!P || !G || !S1 || !S2 || !Pf || !Gf || !S1f || !S2f)
        return 1;
    for (ptrdiff_t i = 0; i < n; i++) {
        P[i] = 0.01 * (double)i;
        G[i] = 1e-3 * (double)(i % 7 - 3);
        Pf[i] = (float)P[i];
        Gf[i] = (float)G[i];
    }
    printf("%ld parameters, %d thread(s), us per update (best of 5 x %d)\n", (long)n, NT,
           REPS);
    const struct { const char *name; upd_d d; upd_f f; int ok; } clones[] = {
        {"avx512", fbp_update_d_avx512, fbp_update_f_avx512, fbp_use_avx512()},
        {"avx2", fbp_update_d_avx2, fbp_update_f_avx2, fbp_use_avx2()},
        {"base", fbp_update_d_base, fbp_update_f_base, 1},
    };
    for (int c = 0; c < 3; c++) {
        if (!clones[c].ok) {
            printf("  %-6s skipped (not available on this CPU or below FASTBP_DISPATCH)\n",
                   clones[c].name);
            continue;
        }
        printf("  %-6s adam float64 %6.2f  sgd float64 %6.2f  adam float32 %6.2f"
               "  sgd float32 %6.2f\n", clones[c].name,
               best_d(clones[c].d, FBP_OPT_ADAM_STEP, P, G, S1, S2, n),
               best_d(clones[c].d, FBP_OPT_SGD, P, G, S1, S2, n),
               best_f(clones[c].f, FBP_OPT_ADAM_STEP, Pf, Gf, S1f, S2f, n),
               best_f(clones[c].f, FBP_OPT_SGD, Pf, Gf, S1f, S2f, n));
    }
    return 0;
}
