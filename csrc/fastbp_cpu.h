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
 * The transcendental functions (fastbp_vmath.h) have a third, AVX-512
 * clone. FASTBP_DISPATCH=baseline or FASTBP_DISPATCH=avx2 in the
 * environment (read once per extension module, at the first kernel call)
 * caps the choice, so tests can check every path on one machine
 * (FASTBP_DISPATCH=avx512 and unset: no cap; `import fastbp` warns of any
 * other value, fastbp/_config.py).
 */
#ifndef FASTBP_CPU_H
#define FASTBP_CPU_H

#include <stdlib.h>
#include <string.h>

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) \
    && !defined(FASTBP_NO_DISPATCH)
#define FBP_HAVE_AVX2_CLONE 1
#define FBP_TARGET_AVX2 __attribute__((target("avx2,fma")))
/* AVX-512 F/DQ/VL: 64-byte vectors, mask compares; the transcendental
 * kernels' third clone (twice the lanes of AVX2 on CPUs with full-width
 * AVX-512 units). */
#define FBP_TARGET_AVX512 \
    __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))
#else
#define FBP_HAVE_AVX2_CLONE 0
#define FBP_TARGET_AVX2
#define FBP_TARGET_AVX512
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FBP_ALWAYS_INLINE __attribute__((always_inline))
#else
#define FBP_ALWAYS_INLINE
#endif

/* C99's restrict: MSVC's C compiler spells it __restrict (it knows
 * `restrict` only from /std:c11 on, which the build does not ask for). */
#if defined(_MSC_VER) && !defined(__clang__)
#define FBP_RESTRICT __restrict
#else
#define FBP_RESTRICT restrict
#endif

/* The instruction set the clones may use: 0 baseline, 1 AVX2 + FMA,
 * 2 AVX-512 (F, DQ, VL) as well. FASTBP_DISPATCH=baseline or =avx2 caps it.
 * Cached per translation unit; the race of two first calls is benign (both
 * store the same value). */
static inline int fbp_isa_level(void)
{
#if FBP_HAVE_AVX2_CLONE
    static volatile int state = -1;
    int s = state;
    if (s < 0) {
        const char *e = getenv("FASTBP_DISPATCH");
        int cap = 2;
        __builtin_cpu_init();
        if (e != NULL && strcmp(e, "baseline") == 0)
            cap = 0;
        else if (e != NULL && strcmp(e, "avx2") == 0)
            cap = 1;
        s = 0;
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
            s = 1;
            if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
                    && __builtin_cpu_supports("avx512vl"))
                s = 2;
        }
        if (s > cap)
            s = cap;
        state = s;
    }
    return s;
#else
    return 0;
#endif
}

/* 1: run the AVX2 + FMA clones. */
static inline int fbp_use_avx2(void) { return fbp_isa_level() >= 1; }

/* 1: run the AVX-512 clones where a kernel has one. */
static inline int fbp_use_avx512(void) { return fbp_isa_level() >= 2; }

/* Call the widest of three clones the CPU (and FASTBP_DISPATCH) allows:
 * FBP_ISA_CALL(f_avx512, f_avx2, f_base, (args)). */
#define FBP_ISA_CALL(F512, F2, FBASE, ARGS)                                    \
    do {                                                                      \
        int isa_ = fbp_isa_level();                                           \
        if (isa_ >= 2) F512 ARGS;                                             \
        else if (isa_ == 1) F2 ARGS;                                          \
        else FBASE ARGS;                                                      \
    } while (0)

/* "avx512", "avx2+fma" or "baseline": the widest clones in use. */
static inline const char *fbp_dispatch_name(void)
{
    int s = fbp_isa_level();
    return s >= 2 ? "avx512" : (s == 1 ? "avx2+fma" : "baseline");
}

#endif /* FASTBP_CPU_H */
