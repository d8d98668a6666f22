/*
 * Run-time ISA dispatch for fastbp's C kernels.
 *
 * Wheels are built for the x86-64 baseline (SSE2): no -march flags, so they
 * run on every x86-64 CPU. Kernels whose speed depends on vector width
 * (transcendental functions, small GEMMs) are compiled a second time for
 * AVX2 + FMA with a function attribute and chosen per call:
 *
 *     static inline FBP_ALWAYS_INLINE void body(...) { plain C loops }
 *     FBP_TARGET_AVX2 static void k_avx2(...) { body(...); }
 *     static void k_base(...) { body(...); }
 *     void k(...) { if (fbp_use_avx2()) k_avx2(...); else k_base(...); }
 *
 * (gcc and clang inline a baseline function into an AVX2 one, never the
 * reverse.) FMA contraction makes the AVX2 results differ from the baseline
 * ones in the last bits; each is deterministic on its machine.
 *
 * FASTBP_DISPATCH=baseline in the environment (read once per extension
 * module, at the first kernel call) forces the baseline code, so tests can
 * check both paths on one machine.
 */
#ifndef FASTBP_CPU_H
#define FASTBP_CPU_H

#include <stdlib.h>
#include <string.h>

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) \
    && !defined(FASTBP_NO_DISPATCH)
#define FBP_HAVE_AVX2_CLONE 1
#define FBP_TARGET_AVX2 __attribute__((target("avx2,fma")))
#else
#define FBP_HAVE_AVX2_CLONE 0
#define FBP_TARGET_AVX2
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FBP_ALWAYS_INLINE __attribute__((always_inline))
#else
#define FBP_ALWAYS_INLINE
#endif

/* 1: run the AVX2 + FMA clones. Cached per translation unit; the race of
 * two first calls is benign (both store the same value). */
static inline int fbp_use_avx2(void)
{
#if FBP_HAVE_AVX2_CLONE
    static volatile int state = -1;
    int s = state;
    if (s < 0) {
        const char *e = getenv("FASTBP_DISPATCH");
        __builtin_cpu_init();
        if (e != NULL && strcmp(e, "baseline") == 0)
            s = 0;
        else
            s = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        state = s;
    }
    return s;
#else
    return 0;
#endif
}

/* "avx2+fma" or "baseline": what fbp_use_avx2 chose (for show_config). */
static inline const char *fbp_dispatch_name(void)
{
    return fbp_use_avx2() ? "avx2+fma" : "baseline";
}

#endif /* FASTBP_CPU_H */
