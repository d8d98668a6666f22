/*
 * Optimizer updates of the network kernel over a range [a, b) of the flat
 * parameter buffer P, its gradient G and the state S1 (first moment or
 * velocity) / S2 (second moment):
 *
 *     fbp_update_f / fbp_update_d (opt, P, G, S1, S2, a, b,
 *                                  lr, b1, b2, nb1, nb2, eps, c1, c2)
 *
 * opt is an FBP_OPT_* code (fastbp_codes.h); the formulas, in the order the
 * operations round (fastbp/optim.py gives their sources):
 *
 *     SGD            P -= lr g
 *     MOMENTUM       v = b1 v + nb1 g;  P -= lr v                (the course)
 *     NESTEROV       v = b1 v + nb1 g;  P -= lr (b1 v + nb1 g)
 *     ADAM           v = b1 v + nb1 g;  s = b2 s + nb2 g g;
 *                    P -= lr (v c1) / (sqrt(s c2) + eps)         (the course)
 *     MOMENTUM_STEP  v = b1 v - lr g;   P += v                   (scikit-learn)
 *     NESTEROV_STEP  v = b1 v - lr g;   P += b1 v - lr g
 *     ADAM_STEP      ADAM with c1 = c2 = 1 and lr = lr_t (the caller's;
 *                    multiplying by 1 is exact, so it rounds as the step
 *                    form of Kingma & Ba 2015, section 2, does)
 *
 * Why here and cloned: at small batches the update is a large part of a
 * step (digits, [64, 128, 10], batch 32, float64: about a quarter of the
 * epoch with SSE2's two doubles per instruction), and Adam's square root and
 * division are bound by the divider's throughput (the AVX-512 float64 clone
 * takes its square root on the FMA units instead: fbp_sqrt_pd_avx512). The
 * body is compiled three times (fastbp_cpu.h): x86-64 baseline (SSE2), AVX2
 * and AVX-512 (F/DQ/VL), chosen at run time. The element-wise loops are plain C that the compiler
 * vectorises in each clone; Adam is written with intrinsics because gcc
 * will not vectorise sqrt without -fno-math-errno (not used for wheels).
 *
 * Every clone rounds exactly like the scalar loop: no FMA contraction in
 * these functions (optimize("fp-contract=off") on gcc, the pragma on clang),
 * sqrt and division are correctly rounded in every width (vsqrtpd's result
 * bit for bit where fbp_sqrt_pd_avx512 replaces it), and each element
 * sees the same operations in the same order. So the update's result does
 * not depend on the CPU, the dispatch level or the thread split
 * (tests/test_optim.py runs each dispatch level in a subprocess against the
 * same formulas written with NumPy, bit for bit), except for subnormal
 * numbers, which the update flushes to zero where FBP_UPDATE_FLUSHES (below).
 */
#ifndef FASTBP_OPTIM_H
#define FASTBP_OPTIM_H

#include <float.h>
#include <math.h>
#include <stddef.h>
#include "fastbp_codes.h"
#include "fastbp_cpu.h"
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

#if defined(__clang__)
#define FBP_NO_CONTRACT
#define FBP_NO_CONTRACT_BODY _Pragma("clang fp contract(off)")
#elif defined(__GNUC__)
#define FBP_NO_CONTRACT __attribute__((optimize("fp-contract=off")))
#define FBP_NO_CONTRACT_BODY
#else
#define FBP_NO_CONTRACT
#define FBP_NO_CONTRACT_BODY
#endif

/* The vector part of Adam for one width: vector type V of W lanes, the
 * intrinsics' prefix PFX (_mm, _mm256, _mm512), suffix SUF (ps/pd) and
 * correctly rounded square root SQRTV. */
/* The loop of FBP_ADAM_VEC; UNIT (a constant 0 or 1): c1 = c2 = 1. */
#define FBP_ADAM_LOOP(V, W, PFX, SUF, SQRTV, UNIT)                            \
        for (; i + W <= b; i += W) {                                          \
            V g = PFX##_loadu_##SUF(G + i);                                   \
            V v = PFX##_add_##SUF(PFX##_mul_##SUF(vb1, PFX##_loadu_##SUF(S1 + i)), \
                                  PFX##_mul_##SUF(vn1, g));                   \
            V s = PFX##_add_##SUF(PFX##_mul_##SUF(vb2, PFX##_loadu_##SUF(S2 + i)), \
                                  PFX##_mul_##SUF(PFX##_mul_##SUF(vn2, g), g)); \
            V step;                                                           \
            PFX##_storeu_##SUF(S1 + i, v);                                    \
            PFX##_storeu_##SUF(S2 + i, s);                                    \
            step = PFX##_div_##SUF(                                           \
                PFX##_mul_##SUF(vlr, (UNIT) ? v : PFX##_mul_##SUF(v, vc1)),   \
                PFX##_add_##SUF(SQRTV((UNIT) ? s : PFX##_mul_##SUF(s, vc2)), veps)); \
            PFX##_storeu_##SUF(P + i, PFX##_sub_##SUF(PFX##_loadu_##SUF(P + i), step)); \
        }

#define FBP_ADAM_VEC(V, W, PFX, SUF, SQRTV)                                   \
    {                                                                         \
        const V vb1 = PFX##_set1_##SUF(b1), vb2 = PFX##_set1_##SUF(b2),       \
            vn1 = PFX##_set1_##SUF(nb1), vn2 = PFX##_set1_##SUF(nb2),         \
            vlr = PFX##_set1_##SUF(lr), veps = PFX##_set1_##SUF(eps),         \
            vc1 = PFX##_set1_##SUF(c1), vc2 = PFX##_set1_##SUF(c2);           \
        /* x c = x exactly when c = 1 (NaN, infinities, signed zeros and,     \
         * unflushed, subnormal numbers too; flushed, what the product would  \
         * give, the next operation reads as 0 anyway): with c1 = c2 = 1      \
         * (ADAM_STEP always) the loop leaves both products out. The float64  \
         * update is bound by the FMA ports (fbp_sqrt_pd_avx512 runs there):  \
         * 8% faster without them (bench/adam_update.c). Two loops, not a     \
         * test per vector: that made the general one 2-5% slower. */         \
        if (c1 == 1 && c2 == 1)                                               \
            FBP_ADAM_LOOP(V, W, PFX, SUF, SQRTV, 1)                           \
        else                                                                  \
            FBP_ADAM_LOOP(V, W, PFX, SUF, SQRTV, 0)                           \
    }

/* One clone for element type T (suffix S); CL names the clone, ATTR is its
 * target attribute, ADAMV its Adam vector loop (or nothing). */
#define FBP_DEFINE_UPDATE(T, S, CL, ATTR, ADAMV, SQRT)                        \
ATTR FBP_NO_CONTRACT static void                                              \
fbp_update_##S##_##CL(int opt, T *FBP_RESTRICT P, const T *FBP_RESTRICT G,           \
                      T *FBP_RESTRICT S1, T *FBP_RESTRICT S2, ptrdiff_t a,            \
                      ptrdiff_t b, T lr, T b1, T b2, T nb1, T nb2, T eps,     \
                      T c1, T c2)                                             \
{                                                                             \
    FBP_NO_CONTRACT_BODY                                                      \
    ptrdiff_t i = a;                                                          \
    T g, v, s;                                                                \
    switch (opt) {                                                            \
    case FBP_OPT_SGD:                                                         \
        for (; i < b; i++)                                                    \
            P[i] -= lr * G[i];                                                \
        break;                                                                \
    case FBP_OPT_MOMENTUM:                                                    \
        for (; i < b; i++) {                                                  \
            v = b1 * S1[i] + nb1 * G[i];                                      \
            S1[i] = v;                                                        \
            P[i] -= lr * v;                                                   \
        }                                                                     \
        break;                                                                \
    case FBP_OPT_NESTEROV:                                                    \
        for (; i < b; i++) {                                                  \
            g = G[i];                                                         \
            v = b1 * S1[i] + nb1 * g;                                         \
            S1[i] = v;                                                        \
            P[i] -= lr * (b1 * v + nb1 * g);                                  \
        }                                                                     \
        break;                                                                \
    case FBP_OPT_MOMENTUM_STEP:                                               \
        for (; i < b; i++) {                                                  \
            v = b1 * S1[i] - lr * G[i];                                       \
            S1[i] = v;                                                        \
            P[i] += v;                                                        \
        }                                                                     \
        break;                                                                \
    case FBP_OPT_NESTEROV_STEP:                                               \
        for (; i < b; i++) {                                                  \
            g = G[i];                                                         \
            v = b1 * S1[i] - lr * g;                                          \
            S1[i] = v;                                                        \
            P[i] += b1 * v - lr * g;                                          \
        }                                                                     \
        break;                                                                \
    case FBP_OPT_ADAM:                                                        \
    case FBP_OPT_ADAM_STEP:                                                   \
        ADAMV                                                                 \
        for (; i < b; i++) {                                                  \
            g = G[i];                                                         \
            v = b1 * S1[i] + nb1 * g;                                         \
            s = b2 * S2[i] + nb2 * g * g;                                     \
            S1[i] = v;                                                        \
            S2[i] = s;                                                        \
            P[i] -= lr * (v * c1) / (SQRT(s * c2) + eps);                     \
        }                                                                     \
        break;                                                                \
    default:                                                                  \
        break;                                                                \
    }                                                                         \
}

#if defined(__SSE2__)
FBP_DEFINE_UPDATE(float, f, base, , FBP_ADAM_VEC(__m128, 4, _mm, ps, _mm_sqrt_ps), sqrtf)
FBP_DEFINE_UPDATE(double, d, base, , FBP_ADAM_VEC(__m128d, 2, _mm, pd, _mm_sqrt_pd), sqrt)
#else
FBP_DEFINE_UPDATE(float, f, base, , , sqrtf)
FBP_DEFINE_UPDATE(double, d, base, , , sqrt)
#endif

#if FBP_HAVE_AVX2_CLONE
/* sqrt(x) correctly rounded, 8 doubles, without the divider: Adam's square
 * root and division both run on the core's one divider, which bounds the
 * update (about 22 and 15 cycles per 8 doubles on the Xeon of
 * bench/RESULTS.md, twenty-seventh session). Here the square root runs on
 * the FMA units and the divider does only the division: the AVX-512 float64
 * update takes about 0.7x the time (bench/adam_update.c).
 *
 * The result equals vsqrtpd's bit for bit, for every x, with or without
 * FTZ and DAZ (round-to-nearest only: the update calls it only when the
 * MXCSR's rounding control is 0, the default):
 *   1. g ~ sqrt(x), h ~ 1 / (2 sqrt(x)) from vrsqrt14pd (relative error
 *      < 2^-14) by two coupled Newton (Goldschmidt) iterations, r = 0.5 - g h,
 *      g += g r, h += h r (error ~2^-56), then one correction from the
 *      residual, g += (x - g^2) h, which rounds to sqrt(x) correctly except
 *      when sqrt(x) lies within ~2^-100 relative of a midpoint.
 *   2. g is then checked exactly, Tuckerman's test (Markstein 1990;
 *      Muller et al., Handbook of Floating-Point Arithmetic, 2nd ed., 2018,
 *      section 11.2): with g- < g < g+ its neighbours, RN(sqrt(x)) = g iff
 *      g g- < x <= g g+. No float lies between g g+ and the squared
 *      midpoint (g + ulp/2)^2, nor between g g- and (g - ulp-/2)^2, and
 *      one FMA gives the exact sign of g g+ - x and g g- - x.
 *   3. A lane passes when x is in [2^-912, 2^1000] (so those residuals are
 *      normal numbers, never flushed by FTZ, and nothing overflows) and the
 *      test holds. x = +-0 (and, under DAZ, a subnormal x) gives 0 of x's
 *      sign, as vsqrtpd does. Every other lane (NaN, negative, subnormal
 *      without DAZ, out of range, or a failed test) takes vsqrtpd itself.
 *      Lanes out of range run steps 1-2 on 1.0 instead of x, so that no
 *      0 * rsqrt14(0) = 0 * inf raises the invalid flag vsqrtpd does not
 *      (a SIGFPE where a caller unmasked it to hunt NaNs).
 * tests/test_optim.py checks the update against NumPy's sqrt on hard
 * inputs (near-squares, the g g+ boundaries, every binade, the range's
 * edges), unflushed and under FTZ | DAZ, in every clone, and that an update
 * with a zero second moment raises no trap with invalid unmasked.
 *
 * Only on Intel CPUs (fbp_sqrt_on_fma): the Xeon measured runs two 512-bit
 * FMAs per cycle on separate ports, while AMD's Zen 4 splits a 512-bit
 * instruction into two 256-bit halves, which would make these ~30
 * instructions cost about as much as its divider (not measured: no AMD
 * machine with AVX-512 in the twenty-seventh session; nor an Intel part
 * with one 512-bit FMA port). FASTBP_SQRT_ON_FMA=1 or =0 in the
 * environment overrides the choice (read once per extension module), so
 * the tests run both paths on any AVX-512 CPU. Not in float32 (16 lanes
 * per divider pass: these steps took 1.03-1.3x the divider's time there,
 * and every other vector through them gained ~10% on a digits-sized buffer
 * and nothing on 235,146 parameters, where the update is bound by memory)
 * nor in the AVX2 clone (no vrsqrt14pd; 256-bit FMAs). */
static inline int fbp_sqrt_on_fma(void)
{
    static volatile int state = -1;
    int s = state;
    if (s < 0) {
        const char *e = getenv("FASTBP_SQRT_ON_FMA");
        __builtin_cpu_init();
        if (e && (e[0] == '0' || e[0] == '1') && !e[1])
            s = e[0] == '1';
        else
            s = __builtin_cpu_is("intel") ? 1 : 0;
        state = s;
    }
    return s;
}

FBP_TARGET_AVX512 FBP_NO_CONTRACT static inline __m512d fbp_sqrt_pd_avx512(__m512d x)
{
    const __m512d half = _mm512_set1_pd(0.5), zero = _mm512_setzero_pd();
    const __m512i one = _mm512_set1_epi64(1);
    __mmask8 ok, z, bad;
    /* lanes out of range run the steps on 1.0 (no invalid flag, above) */
    ok = _mm512_cmp_pd_mask(x, _mm512_set1_pd(0x1p-912), _CMP_GE_OQ);
    ok = _mm512_mask_cmp_pd_mask(ok, x, _mm512_set1_pd(0x1p1000), _CMP_LE_OQ);
    const __m512d xs = _mm512_mask_blend_pd(ok, _mm512_set1_pd(1.0), x);
    __m512d y = _mm512_rsqrt14_pd(xs);
    __m512d g = _mm512_mul_pd(xs, y), h = _mm512_mul_pd(half, y), r, up, dn;
    r = _mm512_fnmadd_pd(g, h, half);
    g = _mm512_fmadd_pd(g, r, g);
    h = _mm512_fmadd_pd(h, r, h);
    r = _mm512_fnmadd_pd(g, h, half);
    g = _mm512_fmadd_pd(g, r, g);
    h = _mm512_fmadd_pd(h, r, h);
    r = _mm512_fnmadd_pd(g, g, xs);
    g = _mm512_fmadd_pd(r, h, g);
    /* g's neighbours (g > 0 where the test can pass) */
    up = _mm512_castsi512_pd(_mm512_add_epi64(_mm512_castpd_si512(g), one));
    dn = _mm512_castsi512_pd(_mm512_sub_epi64(_mm512_castpd_si512(g), one));
    ok = _mm512_mask_cmp_pd_mask(ok, _mm512_fmsub_pd(g, up, xs), zero, _CMP_GE_OQ);
    ok = _mm512_mask_cmp_pd_mask(ok, _mm512_fmsub_pd(g, dn, xs), zero, _CMP_LT_OQ);
    z = _mm512_cmp_pd_mask(x, zero, _CMP_EQ_OQ);
    g = _mm512_mask_mov_pd(g, z, _mm512_and_pd(x, _mm512_set1_pd(-0.0)));
    bad = (__mmask8)~(ok | z);
    if (bad)
        g = _mm512_mask_sqrt_pd(g, bad, x);
    return g;
}

FBP_DEFINE_UPDATE(float, f, avx2, FBP_TARGET_AVX2,
                  FBP_ADAM_VEC(__m256, 8, _mm256, ps, _mm256_sqrt_ps), sqrtf)
FBP_DEFINE_UPDATE(double, d, avx2, FBP_TARGET_AVX2,
                  FBP_ADAM_VEC(__m256d, 4, _mm256, pd, _mm256_sqrt_pd), sqrt)
FBP_DEFINE_UPDATE(float, f, avx512, FBP_TARGET_AVX512,
                  FBP_ADAM_VEC(__m512, 16, _mm512, ps, _mm512_sqrt_ps), sqrtf)
FBP_DEFINE_UPDATE(double, d, avx512, FBP_TARGET_AVX512,
                  if (fbp_sqrt_on_fma() && (_mm_getcsr() & 0x6000u) == 0)
                      FBP_ADAM_VEC(__m512d, 8, _mm512, pd, fbp_sqrt_pd_avx512)
                  else
                      FBP_ADAM_VEC(__m512d, 8, _mm512, pd, _mm512_sqrt_pd), sqrt)
#endif

/* 1 when Adam's float64 update takes its square root on the FMA units
 * (fbp_sqrt_pd_avx512: the AVX-512 clone runs, on an Intel CPU or with
 * FASTBP_SQRT_ON_FMA=1; in the default rounding mode), 0 when the divider
 * takes it (fastbp.show_config prints which). */
static inline int fbp_adam_sqrt_on_fma(void)
{
#if FBP_HAVE_AVX2_CLONE
    return fbp_use_avx512() && fbp_sqrt_on_fma();
#else
    return 0;
#endif
}

/* FBP_OPTIM_CALL(fbp_update, f, (args)): the widest clone the CPU (and
 * FASTBP_DISPATCH) allows, NAME_S_avx512 / _avx2 / _base; the one dispatch of
 * this file's entry points (see the top of this file). */
#if FBP_HAVE_AVX2_CLONE
#define FBP_OPTIM_CALL(NAME, S, ARGS)                                         \
    FBP_ISA_CALL(NAME##_##S##_avx512, NAME##_##S##_avx2, NAME##_##S##_base, ARGS)
#else
#define FBP_OPTIM_CALL(NAME, S, ARGS) NAME##_##S##_base ARGS
#endif

/* Subnormal numbers in the update: flushed to zero (x86-64: the MXCSR's FTZ
 * and DAZ bits; ARM64: the FPCR's FZ bit; set around the update on the
 * calling thread and restored after it, as TensorFlow's ScopedFlushDenormal
 * and XLA's CPU backend do around their kernels; not for an Adam eps so
 * small that a flushed second moment would change its steps, below).
 *
 * Why: a parameter whose gradient stays exactly zero (the weights from an
 * input that is always 0, like the blank border pixels of scikit-learn's
 * digits, or into a dead ReLU unit) has its momentum or Adam first moment
 * decay as v = b1 v: 0.9 times the smallest subnormal rounds back to it
 * (0.9 k d rounds to k d for k <= 4), so v never reaches zero and stays
 * subnormal for the rest of the fit. Intel cores run each instruction with a
 * subnormal operand or result through a microcode assist (about 100-150
 * cycles): on a Xeon with AVX-512 (bench/RESULTS.md, twenty-sixth session)
 * the ~390 such moments of a digits fit made Adam's update 2.3x slower in
 * float64 and its epoch 1.5x slower, from about the 150th epoch on.
 *
 * What it changes: a state value below the smallest normal number (DBL_MIN,
 * 2.2e-308; FLT_MIN, 1.2e-38 in float32) reads and is stored as zero (of
 * its sign), and so do subnormal gradients and parameters inside the update.
 * A parameter moves by at most lr c1 DBL_MIN / eps for such a moment, which
 * changes its value only when |p| < about 1e-284 (float64; 1e-26 in
 * float32): away from zero the parameters are the same bits as the
 * unflushed formulas give (tests/test_optim.py). The second moment's square
 * root of a subnormal is below eps's rounding either way. */
/* FBP_UPDATE_FLUSHES: 1 where this build flushes (x86-64 with GCC, clang or
 * MSVC; ARM64 with GCC or clang), 0 elsewhere (the update then keeps
 * subnormal numbers; fastbp._testing.update_flushes_subnormal). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FBP_UPDATE_FLUSHES 1
#define FBP_FTZ_BEGIN(on)                                                     \
    unsigned int fbp_csr_ = _mm_getcsr();                                     \
    if (on)                                                                   \
        _mm_setcsr(fbp_csr_ | 0x8040u);   /* FTZ (bit 15) | DAZ (bit 6) */    \
    __asm__ __volatile__("" ::: "memory");
#define FBP_FTZ_END(on)                                                       \
    __asm__ __volatile__("" ::: "memory");                                    \
    if (on)                                                                   \
        _mm_setcsr(fbp_csr_);
#elif defined(_MSC_VER) && defined(_M_X64)
#include <intrin.h>
#include <xmmintrin.h>
#define FBP_UPDATE_FLUSHES 1
#define FBP_FTZ_BEGIN(on)                                                     \
    unsigned int fbp_csr_ = _mm_getcsr();                                     \
    if (on)                                                                   \
        _mm_setcsr(fbp_csr_ | 0x8040u);   /* FTZ (bit 15) | DAZ (bit 6) */    \
    _ReadWriteBarrier();
#define FBP_FTZ_END(on)                                                       \
    _ReadWriteBarrier();                                                      \
    if (on)                                                                   \
        _mm_setcsr(fbp_csr_);
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
/* FPCR.FZ (bit 24): subnormal inputs and results of single- and
 * double-precision scalar and Advanced SIMD operations are flushed to zero
 * (Arm ARM, FPCR), as FTZ | DAZ on x86 */
#define FBP_UPDATE_FLUSHES 1
#define FBP_FTZ_BEGIN(on)                                                     \
    unsigned long long fbp_fpcr_;                                             \
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(fbp_fpcr_) : : "memory");      \
    if (on)                                                                   \
        __asm__ __volatile__("msr fpcr, %0" : : "r"(fbp_fpcr_ | (1ULL << 24)) \
                             : "memory");
#define FBP_FTZ_END(on)                                                       \
    if (on)                                                                   \
        __asm__ __volatile__("msr fpcr, %0" : : "r"(fbp_fpcr_) : "memory");
#else
#define FBP_UPDATE_FLUSHES 0
#define FBP_FTZ_BEGIN(on)
#define FBP_FTZ_END(on)
#endif

/* Adam with a small eps runs unflushed: a second moment s below the smallest
 * normal number TINY read as 0 changes the denominator sqrt(s c2) + eps
 * unless sqrt(TINY c2) is below half of eps's last place, i.e. unless
 * eps^2 >= TINY c2 4^(DIG + 1) (DIG: the mantissa's bits; eps >= 1.2e-10 in
 * float32, 8.5e-137 in float64 at c2 = 1000). Below that the flushed step
 * lr v c1 / eps replaced lr v c1 / sqrt(s c2), 1e18 times larger at float32
 * eps 1.2e-38 (a weight moved by 8e15 at lr 1e-3, tests/test_optim.py);
 * an eps that small is the user's choice of the formulas' exact steps.
 * Computed in double: eps^2 underflowing to 0 means "too small". */
static inline int fbp_update_flushes(int opt, double eps, double c2, double tiny,
                                     int dig)
{
    if (opt != FBP_OPT_ADAM && opt != FBP_OPT_ADAM_STEP)
        return 1;
    return eps * eps >= ldexp(tiny * c2, 2 * (dig + 1));
}

#define FBP_DEFINE_UPDATE_DISPATCH(T, S, TINY, DIG)                           \
static inline void fbp_update_##S(int opt, T *P, const T *G, T *S1, T *S2,   \
                                  ptrdiff_t a, ptrdiff_t b, T lr, T b1, T b2, \
                                  T nb1, T nb2, T eps, T c1, T c2)            \
{                                                                             \
    const int flush = fbp_update_flushes(opt, eps, c2, TINY, DIG);            \
    FBP_FTZ_BEGIN(flush)                                                      \
    FBP_OPTIM_CALL(fbp_update, S, (opt, P, G, S1, S2, a, b, lr, b1, b2, nb1,  \
                                   nb2, eps, c1, c2));                        \
    FBP_FTZ_END(flush)                                                        \
}

FBP_DEFINE_UPDATE_DISPATCH(float, f, FLT_MIN, FLT_MANT_DIG)
FBP_DEFINE_UPDATE_DISPATCH(double, d, DBL_MIN, DBL_MANT_DIG)

/* The L2 (weight-decay) term of a layer's gradient, on `rows` rows of n_in
 * contiguous weights (row i at W + i n_in, its gradient at dW + i n_in):
 *
 *     dW[i, j] += l2 W[i, j];   sq[i] = sum_j W[i, j]^2 (in double; sq may be NULL)
 *
 * The sum of squares runs in 8 independent double accumulators (element j
 * into accumulator j mod 8, then ((a0+a2)+(a4+a6)) + ((a1+a3)+(a5+a7)), then
 * the tail of n_in mod 8 elements in order): a single running sum is one
 * dependent add per weight, which made this loop ~40% of a digits-sized
 * step's own work (perf, [64, 128, 10], batch 32, alpha = 1e-4). A float
 * weight's square is exact in double, so only the adds round, in this fixed
 * order on every CPU. No FMA contraction (dW's update rounds as l2 W, then
 * the add), as in the optimizer updates above.
 */
#define FBP_DEFINE_L2_ROWS(T, S, CL, ATTR)                                    \
ATTR FBP_NO_CONTRACT static void                                              \
fbp_l2_rows_##S##_##CL(T *FBP_RESTRICT dW, const T *FBP_RESTRICT W, ptrdiff_t rows,   \
                       ptrdiff_t n_in, T l2, double *FBP_RESTRICT sq)             \
{                                                                             \
    FBP_NO_CONTRACT_BODY                                                      \
    ptrdiff_t i, j, k;                                                        \
    for (i = 0; i < rows; i++) {                                              \
        T *FBP_RESTRICT g = dW + i * n_in;                                        \
        const T *FBP_RESTRICT w = W + i * n_in;                                   \
        double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0}, t;                          \
        for (j = 0; j < n_in; j++)                                            \
            g[j] += l2 * w[j];                                                \
        if (sq == NULL)                                                       \
            continue;                                                         \
        for (j = 0; j + 8 <= n_in; j += 8)                                    \
            for (k = 0; k < 8; k++)                                           \
                acc[k] += (double)w[j + k] * (double)w[j + k];                \
        t = ((acc[0] + acc[2]) + (acc[4] + acc[6]))                           \
            + ((acc[1] + acc[3]) + (acc[5] + acc[7]));                        \
        for (; j < n_in; j++)                                                 \
            t += (double)w[j] * (double)w[j];                                 \
        sq[i] = t;                                                            \
    }                                                                         \
}

/* The clones are the same C: each accumulator's adds stay in element order
 * in any vector width (no reassociation without -ffast-math), so every
 * clone gives the baseline's bits (tests/test_optim.py checks it per level). */
FBP_DEFINE_L2_ROWS(float, f, base, )
FBP_DEFINE_L2_ROWS(double, d, base, )
#if FBP_HAVE_AVX2_CLONE
FBP_DEFINE_L2_ROWS(float, f, avx2, FBP_TARGET_AVX2)
FBP_DEFINE_L2_ROWS(double, d, avx2, FBP_TARGET_AVX2)
FBP_DEFINE_L2_ROWS(float, f, avx512, FBP_TARGET_AVX512)
FBP_DEFINE_L2_ROWS(double, d, avx512, FBP_TARGET_AVX512)
#endif

#define FBP_DEFINE_L2_DISPATCH(T, S)                                          \
static inline void fbp_l2_rows_##S(T *dW, const T *W, ptrdiff_t rows,        \
                                   ptrdiff_t n_in, T l2, double *sq)          \
{                                                                             \
    FBP_OPTIM_CALL(fbp_l2_rows, S, (dW, W, rows, n_in, l2, sq));              \
}

FBP_DEFINE_L2_DISPATCH(float, f)
FBP_DEFINE_L2_DISPATCH(double, d)

#endif
