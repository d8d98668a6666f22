/*
 * fastbp activations and their derivatives, float and double.
 *
 * One header shared by the forward and backward kernels (and the network
 * kernel). Every function is static inline; the row kernels below switch on
 * the activation once, outside the loops, so each inner loop is a plain
 * element-wise loop the compiler can vectorise (relu, leaky_relu, identity,
 * sigmoid/tanh derivatives) or at least pipeline (libm calls).
 *
 * Derivatives are written as functions of the layer's OUTPUT a = g(z) where
 * the output determines them (identity, relu, leaky_relu, sigmoid, tanh, elu,
 * softplus) and of the pre-activation z otherwise (gelu, gelu_tanh, silu).
 *
 * The row kernels evaluate exp/expm1/log1p/tanh/sigmoid with the vectorised
 * array functions of fastbp_vmath.h (an order of magnitude cheaper per
 * element than libm's scalar calls), on chunks of at most FBP_VCHUNK
 * elements in a stack buffer, strided inputs gathered first, so every
 * element of a layer gets the same answer whatever its position or stride.
 * fbp_act_* / fbp_dact_* below stay scalar libm (within a few ulp of the
 * vector ones).
 *
 * Stability: no intermediate overflows for any finite z: sigmoid uses
 * exp(-|z|), softplus log1p(exp(-|z|)), gelu erfc, silu the stable sigmoid;
 * gelu_tanh's derivative is evaluated at z clamped to +-1e4 (FBP_GELU_CLAMP).
 */
#ifndef FASTBP_ACT_H
#define FASTBP_ACT_H

#include <math.h>
#include <stddef.h>
#include "fastbp_codes.h"
#include "fastbp_vmath.h"

/* 1 when the derivative needs Z (the pre-activation), 0 when A suffices. */
static inline int fbp_deriv_needs_z(int act)
{
    return act == FBP_GELU || act == FBP_GELU_TANH || act == FBP_SILU;
}

#define FBP_SQRT1_2 0.70710678118654752440
#define FBP_INV_SQRT_2PI 0.39894228040143267794
#define FBP_SQRT_2_OVER_PI 0.79788456080286535588
#define FBP_GELU_K 0.044715
/* gelu_tanh's derivative at |z| >= 1e4 is exactly 1 (z > 0) or 0 (z < 0) in
 * float and double, but z^3 overflows float from |z| ~ 2e12 and then
 * (1 - t^2) z^3 = 0 * inf = NaN: evaluate it at z clamped to +-1e4, where
 * tanh is saturated and nothing overflows (NaN stays NaN). */
#define FBP_GELU_CLAMP(T, z) ((z) > (T)1e4 ? (T)1e4 : ((z) < (T)-1e4 ? (T)-1e4 : (z)))

/* Scalar forward g(z) and derivative g'(.) for one type T with libm suffix. */
#define FBP_DEFINE_SCALAR(T, S, EXP, EXPM1, LOG1P, TANH, ERFC)                 \
static inline T fbp_sigmoid_##S(T z)                                          \
{                                                                             \
    if (z >= 0) return (T)1 / ((T)1 + EXP(-z));                               \
    { T e = EXP(z); return e / ((T)1 + e); }                                  \
}                                                                             \
static inline T fbp_softplus_##S(T z)                                         \
{                                                                             \
    /* log(1 + e^z) = max(z, 0) + log1p(e^-|z|) */                            \
    return (z > 0 ? z : (T)0) + LOG1P(EXP(-fabs(z)));                         \
}                                                                             \
static inline T fbp_gelu_##S(T z)                                             \
{                                                                             \
    return (T)0.5 * z * ERFC(-z * (T)FBP_SQRT1_2);                            \
}                                                                             \
static inline T fbp_dgelu_##S(T z)                                            \
{                                                                             \
    return (T)0.5 * ERFC(-z * (T)FBP_SQRT1_2)                                 \
        + z * (T)FBP_INV_SQRT_2PI * EXP((T)-0.5 * z * z);                     \
}                                                                             \
static inline T fbp_gelu_tanh_##S(T z)                                        \
{                                                                             \
    T u = (T)FBP_SQRT_2_OVER_PI * (z + (T)FBP_GELU_K * z * z * z);            \
    return (T)0.5 * z * ((T)1 + TANH(u));                                     \
}                                                                             \
static inline T fbp_dgelu_tanh_##S(T z0)                                      \
{                                                                             \
    T z = FBP_GELU_CLAMP(T, z0), z2 = z * z;                                  \
    T t = TANH((T)FBP_SQRT_2_OVER_PI * (z + (T)FBP_GELU_K * z2 * z));         \
    return (T)0.5 * ((T)1 + t) + (T)0.5 * z * ((T)1 - t * t)                  \
        * (T)FBP_SQRT_2_OVER_PI * ((T)1 + (T)(3 * FBP_GELU_K) * z2);          \
}                                                                             \
static inline T fbp_silu_##S(T z) { return z * fbp_sigmoid_##S(z); }          \
static inline T fbp_dsilu_##S(T z)                                            \
{                                                                             \
    T s = fbp_sigmoid_##S(z);                                                 \
    return s * ((T)1 + z * ((T)1 - s));                                       \
}                                                                             \
static inline T fbp_elu_##S(T z, T alpha)                                     \
{                                                                             \
    return z > 0 ? z : alpha * EXPM1(z);                                      \
}                                                                             \
                                                                              \
/* g(z) for any activation (used by scalar callers and tests). */            \
static inline T fbp_act_##S(int act, T z, T alpha)                            \
{                                                                             \
    switch (act) {                                                            \
    case FBP_RELU: return z < 0 ? (T)0 : z;                                   \
    case FBP_LEAKY_RELU: return z < 0 ? alpha * z : z;                        \
    case FBP_SIGMOID: return fbp_sigmoid_##S(z);                              \
    case FBP_TANH: return TANH(z);                                            \
    case FBP_ELU: return fbp_elu_##S(z, alpha);                               \
    case FBP_GELU: return fbp_gelu_##S(z);                                    \
    case FBP_GELU_TANH: return fbp_gelu_tanh_##S(z);                          \
    case FBP_SILU: return fbp_silu_##S(z);                                    \
    case FBP_SOFTPLUS: return fbp_softplus_##S(z);                            \
    default: return z;                                                        \
    }                                                                         \
}                                                                             \
                                                                              \
/* g'(.) from a = g(z), or from z for gelu, gelu_tanh, silu. */              \
static inline T fbp_dact_##S(int act, T v, T alpha)                           \
{                                                                             \
    switch (act) {                                                            \
    case FBP_RELU: return v > 0 ? (T)1 : (T)0;                                \
    case FBP_LEAKY_RELU: return v > 0 ? (T)1 : alpha;                         \
    case FBP_SIGMOID: return v * ((T)1 - v);                                  \
    case FBP_TANH: return (T)1 - v * v;                                       \
    case FBP_ELU: return v > 0 ? (T)1 : v + alpha;                            \
    case FBP_GELU: return fbp_dgelu_##S(v);                                   \
    case FBP_GELU_TANH: return fbp_dgelu_tanh_##S(v);                         \
    case FBP_SILU: return fbp_dsilu_##S(v);                                   \
    case FBP_SOFTPLUS: return -EXPM1(-v);                                     \
    default: return (T)1;                                                     \
    }                                                                         \
}

FBP_DEFINE_SCALAR(float, f, expf, expm1f, log1pf, tanhf, erfcf)
FBP_DEFINE_SCALAR(double, d, exp, expm1, log1p, tanh, erfc)

#define FBP_VCHUNK 64

/* Vector forms on n <= FBP_VCHUNK contiguous elements: y = g(z) (y may be z)
 * and g = g'(v) (g must not alias v), for the activations whose g or g'
 * needs a transcendental (sigmoid and tanh forward take whole rows in
 * fbp_forward_rows); the others fall back to the scalar functions. */
#define FBP_DEFINE_VECACT(T, S)                                               \
static inline void fbp_act_vec_##S(int act, T alpha, const T *z, T *y,        \
                                   ptrdiff_t n)                               \
{                                                                             \
    T buf[FBP_VCHUNK];                                                        \
    ptrdiff_t j;                                                              \
    switch (act) {                                                            \
    case FBP_ELU:                                                             \
        fbp_vexpm1_##S(z, buf, n);                                            \
        for (j = 0; j < n; j++) {                                             \
            T v = z[j], e = alpha * buf[j]; y[j] = v > 0 ? v : e; }           \
        break;                                                                \
    case FBP_SOFTPLUS:                                                        \
        /* log(1 + e^z) = max(z, 0) + log1p(e^-|z|) */                        \
        for (j = 0; j < n; j++) buf[j] = (T)-fabs(z[j]);                      \
        fbp_vexp_##S(buf, buf, n);                                            \
        fbp_vlog1p_##S(buf, buf, n);                                          \
        for (j = 0; j < n; j++) {                                             \
            T v = z[j], m = v > 0 ? v : (T)0; y[j] = m + buf[j]; }            \
        break;                                                                \
    case FBP_SILU:                                                            \
        fbp_vsigmoid_##S(z, buf, n);                                          \
        for (j = 0; j < n; j++) y[j] = z[j] * buf[j];                         \
        break;                                                                \
    case FBP_GELU_TANH:                                                       \
        for (j = 0; j < n; j++) {                                             \
            T v = z[j];                                                       \
            buf[j] = (T)FBP_SQRT_2_OVER_PI * (v + (T)FBP_GELU_K * v * v * v); } \
        fbp_vtanh_##S(buf, buf, n);                                           \
        for (j = 0; j < n; j++) y[j] = (T)0.5 * z[j] * ((T)1 + buf[j]);       \
        break;                                                                \
    default:                                                                  \
        for (j = 0; j < n; j++) y[j] = fbp_act_##S(act, z[j], alpha);         \
        break;                                                                \
    }                                                                         \
}                                                                             \
                                                                              \
static inline void fbp_dact_vec_##S(int act, T alpha, const T *v, T *g,       \
                                    ptrdiff_t n)                              \
{                                                                             \
    ptrdiff_t j;                                                              \
    switch (act) {                                                            \
    case FBP_SOFTPLUS:                                                        \
        for (j = 0; j < n; j++) g[j] = -v[j];                                 \
        fbp_vexpm1_##S(g, g, n);                                              \
        for (j = 0; j < n; j++) g[j] = -g[j];                                 \
        break;                                                                \
    case FBP_SILU:                                                            \
        fbp_vsigmoid_##S(v, g, n);                                            \
        for (j = 0; j < n; j++) {                                             \
            T s = g[j]; g[j] = s * ((T)1 + v[j] * ((T)1 - s)); }              \
        break;                                                                \
    case FBP_GELU_TANH:                                                       \
        for (j = 0; j < n; j++) {                                             \
            T z = FBP_GELU_CLAMP(T, v[j]);                                    \
            g[j] = (T)FBP_SQRT_2_OVER_PI * (z + (T)FBP_GELU_K * (z * z) * z); } \
        fbp_vtanh_##S(g, g, n);                                               \
        for (j = 0; j < n; j++) {                                             \
            T z = FBP_GELU_CLAMP(T, v[j]), z2 = z * z, t = g[j];              \
            g[j] = (T)0.5 * ((T)1 + t) + (T)0.5 * z * ((T)1 - t * t)          \
                * (T)FBP_SQRT_2_OVER_PI * ((T)1 + (T)(3 * FBP_GELU_K) * z2); } \
        break;                                                                \
    default:                                                                  \
        for (j = 0; j < n; j++) g[j] = fbp_dact_##S(act, v[j], alpha);        \
        break;                                                                \
    }                                                                         \
}

FBP_DEFINE_VECACT(float, f)
FBP_DEFINE_VECACT(double, d)

/* 1 when the backward row kernel evaluates g' through fbp_dact_vec. */
static inline int fbp_dact_is_vec(int act)
{
    return act == FBP_SOFTPLUS || act == FBP_SILU || act == FBP_GELU_TANH;
}

/*
 * The piecewise-linear activations, forward (identity, relu, leaky_relu) and
 * backward from A (relu, leaky_relu, elu), and the row sums of the bias
 * gradient, in AVX2 and AVX-512 clones as well: an add, a compare, a select
 * or a multiply per element, nothing a compiler may contract into a fused
 * multiply-add, and the row sums' eight partial sums are the eight lanes of
 * one vector in every clone, so all clones give the baseline's bits. At a
 * (64, 64, 32) layer these passes cost as many instructions in the baseline
 * clone as the rest of the call's fixed cost (bench/RESULTS.md).
 */
#if FBP_HAVE_AVX2_CLONE
#define FBP_LIN_DISPATCH 1
#else
#define FBP_LIN_DISPATCH 0
#endif

/* The forward epilogue's stores to A miss: by the time the epilogue runs, the
 * block's GEMM has streamed W, A_prev and Z through L1 and evicted the lines
 * of A written the call before, and each store then waits for its line in
 * order (perf, float64 dense_forward (64, 64, 32) on an AVX-512 Xeon: 59% of
 * the epilogue's samples at its store to A, the epilogue 17% of the call).
 * So the epilogue asks for A's lines FBP_PF_BYTES ahead of its stores while
 * a row is short: that call went from 4.36-4.43 to 4.03-4.08 us (its GEMM
 * alone 3.1 us; bench/RESULTS.md, thirty-first session). Where A stays in
 * L1 between calls (float32 (64, 64, 32): 40 KiB in all) the prefetches
 * are overhead, about 3% of that 2 us call. GCC emits PREFETCHT0 for these
 * clones (PREFETCHW, with the prfchw target, measured no different);
 * 512-4096 bytes ahead measured alike. Rows longer than FBP_PF_BYTES are
 * left to the hardware prefetcher, which follows a long stream of stores by
 * itself. Prefetches never fault, and these stay inside A's rows. */
#define FBP_PF_BYTES 1024

#if defined(__GNUC__) || defined(__clang__)
#define FBP_PREFETCH(p) __builtin_prefetch((p), 1, 3)
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <xmmintrin.h>
#define FBP_PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#else
#define FBP_PREFETCH(p) ((void)(p))
#endif

/* Prefetch rows [i, i + ahead) (below rows) of A, rows lda_bytes apart, the
 * first rb bytes of each. */
static inline FBP_ALWAYS_INLINE void
fbp_pf_rows(const void *A, ptrdiff_t lda_bytes, ptrdiff_t i, ptrdiff_t ahead,
            ptrdiff_t rows, ptrdiff_t rb)
{
    ptrdiff_t r, j;
    for (r = i; r < i + ahead && r < rows; r++)
        for (j = 0; j < rb; j += 64)
            FBP_PREFETCH((const char *)A + r * lda_bytes + j);
}

/* Before a loop over the rows of A (rb bytes each, lda_bytes apart): the
 * rows to prefetch ahead of each row i (0: rows too long), the first of them
 * prefetched now. In the loop, fbp_pf_rows(A, lda_bytes, i + ahead, 1, ...)
 * when ahead is not 0. */
static inline ptrdiff_t fbp_pf_begin(const void *A, ptrdiff_t lda_bytes, ptrdiff_t rows,
                                     ptrdiff_t rb)
{
    const ptrdiff_t ahead = rb > 0 && rb <= FBP_PF_BYTES ? FBP_PF_BYTES / rb : 0;
    fbp_pf_rows(A, lda_bytes, 0, ahead, rows, rb);
    return ahead;
}

/* The forward of the piecewise-linear activations (identity, relu,
 * leaky_relu) on rows of Z: Z += b, A = g(Z); b NULL: A = g(Z) alone. The
 * baseline's code, and the body of its AVX2 and AVX-512 clones. */
#define FBP_DEFINE_FWD_LIN_BODY(T, S)                                         \
static inline FBP_ALWAYS_INLINE void fbp_fwd_lin_body_##S(int act, T alpha,  \
    T *Z, ptrdiff_t ldz, T *A, ptrdiff_t lda, const T *b, ptrdiff_t bs,       \
    ptrdiff_t rows, ptrdiff_t cols)                                           \
{                                                                             \
    ptrdiff_t i, j;                                                           \
    const ptrdiff_t rb_ = cols * (ptrdiff_t)sizeof(T);                        \
    const ptrdiff_t pd_ = fbp_pf_begin(A, lda * (ptrdiff_t)sizeof(T), rows, rb_); \
    for (i = 0; i < rows; i++) {                                              \
        T *z = Z + i * ldz, *a = A + i * lda;                                 \
        if (pd_)                                                              \
            fbp_pf_rows(A, lda * (ptrdiff_t)sizeof(T), i + pd_, 1, rows, rb_); \
        if (!b) {           /* Z holds the bias already: only A is written */ \
            if (act == FBP_RELU) {                                            \
                for (j = 0; j < cols; j++) { T v = z[j]; a[j] = v < 0 ? (T)0 : v; } \
            } else if (act == FBP_LEAKY_RELU) {                               \
                for (j = 0; j < cols; j++) {                                  \
                    T v = z[j], lo = alpha * v; a[j] = v < 0 ? lo : v; }      \
            } else if (a != z) {                                              \
                for (j = 0; j < cols; j++) a[j] = z[j];                       \
            }                                                                 \
            continue;                                                         \
        }                                                                     \
        const T bi = b[i * bs];                                               \
        if (act == FBP_RELU) {                                                \
            for (j = 0; j < cols; j++) {                                      \
                T v = z[j] + bi; z[j] = v; a[j] = v < 0 ? (T)0 : v; }         \
        } else if (act == FBP_LEAKY_RELU) {                                   \
            for (j = 0; j < cols; j++) {                                      \
                T v = z[j] + bi, lo = alpha * v; z[j] = v; a[j] = v < 0 ? lo : v; } \
        } else {                                                              \
            for (j = 0; j < cols; j++) { T v = z[j] + bi; z[j] = v; a[j] = v; } \
        }                                                                     \
    }                                                                         \
}                                                                             \

FBP_DEFINE_FWD_LIN_BODY(float, f)
FBP_DEFINE_FWD_LIN_BODY(double, d)

#define FBP_DEFINE_LIN(T, S)                                                  \
static inline FBP_ALWAYS_INLINE void fbp_bwd_lin_body_##S(int act, T alpha,  \
    T *D, ptrdiff_t ldd, const T *V, ptrdiff_t vr, ptrdiff_t rows,            \
    ptrdiff_t cols)                                                           \
{                                                                             \
    ptrdiff_t i, j;                                                           \
    for (i = 0; i < rows; i++) {                                              \
        T *d = D + i * ldd;                                                   \
        const T *v = V + i * vr;                                              \
        if (act == FBP_RELU) {                                                \
            for (j = 0; j < cols; j++) {                                      \
                T m_ = v[j] > 0 ? (T)1 : (T)0; d[j] = d[j] * m_; }            \
        } else if (act == FBP_LEAKY_RELU) {                                   \
            for (j = 0; j < cols; j++) {                                      \
                T m_ = v[j] > 0 ? (T)1 : alpha; d[j] = d[j] * m_; }           \
        } else {                                                              \
            for (j = 0; j < cols; j++) {                                      \
                T vv_ = v[j], e_ = vv_ + alpha; T m_ = vv_ > 0 ? (T)1 : e_;   \
                d[j] = d[j] * m_; }                                           \
        }                                                                     \
    }                                                                         \
}                                                                             \
                                                                              \
/* rows of D with unit column stride: partial sum k (k < 8) adds D[i, 8 q + k],  \
 * in 16-byte vectors (lanes 0-3 and 4-7 of float; 0-1, ..., 6-7 of double):  \
 * every clone's native width, where a 32- or 64-byte vector of the AVX2       \
 * clone went through memory on every iteration. */                          \
static inline FBP_ALWAYS_INLINE void fbp_rowsum_body_##S(const T *D,         \
    ptrdiff_t dr, ptrdiff_t rows, ptrdiff_t cols, T scale, T *out,            \
    ptrdiff_t os)                                                             \
{                                                                             \
    typedef T v_t __attribute__((vector_size(16)));                           \
    enum { L_ = 16 / sizeof(T) };                                             \
    ptrdiff_t i, j;                                                           \
    for (i = 0; i < rows; i++) {                                              \
        const T *d = D + i * dr;                                              \
        v_t s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0}, x_;                      \
        T p[8];                                                               \
        int k;                                                                \
        for (j = 0; j + 8 <= cols; j += 8) {                                  \
            memcpy(&x_, d + j, 16); s0 += x_;                                 \
            memcpy(&x_, d + j + L_, 16); s1 += x_;                            \
            if (L_ == 2) {                                                    \
                memcpy(&x_, d + j + 4, 16); s2 += x_;                         \
                memcpy(&x_, d + j + 6, 16); s3 += x_;                         \
            }                                                                 \
        }                                                                     \
        for (k = 0; k < L_; k++) {                                            \
            p[k] = s0[k]; p[L_ + k] = s1[k];                                  \
            if (L_ == 2) { p[4 + k] = s2[k]; p[6 + k] = s3[k]; }              \
        }                                                                     \
        for (; j < cols; j++) p[0] += d[j];                                   \
        out[i * os] = scale * (((p[0] + p[1]) + (p[2] + p[3]))                \
                               + ((p[4] + p[5]) + (p[6] + p[7])));            \
    }                                                                         \
}                                                                             \
                                                                              \
FBP_TARGET_AVX512 static void fbp_fwd_lin_avx512_##S(int act, T alpha, T *Z,  \
    ptrdiff_t ldz, T *A, ptrdiff_t lda, const T *b, ptrdiff_t bs,             \
    ptrdiff_t rows, ptrdiff_t cols)                                           \
{ fbp_fwd_lin_body_##S(act, alpha, Z, ldz, A, lda, b, bs, rows, cols); }      \
FBP_TARGET_AVX2 static void fbp_fwd_lin_avx2_##S(int act, T alpha, T *Z,      \
    ptrdiff_t ldz, T *A, ptrdiff_t lda, const T *b, ptrdiff_t bs,             \
    ptrdiff_t rows, ptrdiff_t cols)                                           \
{ fbp_fwd_lin_body_##S(act, alpha, Z, ldz, A, lda, b, bs, rows, cols); }      \
FBP_TARGET_AVX512 static void fbp_bwd_lin_avx512_##S(int act, T alpha, T *D,  \
    ptrdiff_t ldd, const T *V, ptrdiff_t vr, ptrdiff_t rows, ptrdiff_t cols)  \
{ fbp_bwd_lin_body_##S(act, alpha, D, ldd, V, vr, rows, cols); }             \
FBP_TARGET_AVX2 static void fbp_bwd_lin_avx2_##S(int act, T alpha, T *D,      \
    ptrdiff_t ldd, const T *V, ptrdiff_t vr, ptrdiff_t rows, ptrdiff_t cols)  \
{ fbp_bwd_lin_body_##S(act, alpha, D, ldd, V, vr, rows, cols); }             \
FBP_TARGET_AVX512 static void fbp_rowsum_avx512_##S(const T *D, ptrdiff_t dr, \
    ptrdiff_t rows, ptrdiff_t cols, T scale, T *out, ptrdiff_t os)            \
{ fbp_rowsum_body_##S(D, dr, rows, cols, scale, out, os); }                   \
FBP_TARGET_AVX2 static void fbp_rowsum_avx2_##S(const T *D, ptrdiff_t dr,     \
    ptrdiff_t rows, ptrdiff_t cols, T scale, T *out, ptrdiff_t os)            \
{ fbp_rowsum_body_##S(D, dr, rows, cols, scale, out, os); }                   \
static void fbp_rowsum_base_##S(const T *D, ptrdiff_t dr,                     \
    ptrdiff_t rows, ptrdiff_t cols, T scale, T *out, ptrdiff_t os)            \
{ fbp_rowsum_body_##S(D, dr, rows, cols, scale, out, os); }

/* FBP_LIN_CALL(fbp_fwd_lin, f, (args)): the AVX-512 or the AVX2 clone (the
 * caller has checked fbp_isa_level() > 0); FBP_LIN_CALL_BASE: the baseline one. */
#if FBP_LIN_DISPATCH
FBP_DEFINE_LIN(float, f)
FBP_DEFINE_LIN(double, d)
#define FBP_LIN_CALL(NAME, S, ARGS)                                           \
    do {                                                                      \
        if (fbp_isa_level() >= 2) NAME##_avx512_##S ARGS;                     \
        else NAME##_avx2_##S ARGS;                                            \
    } while (0)
#define FBP_LIN_CALL_BASE(NAME, S, ARGS) NAME##_base_##S ARGS
#else
#define FBP_LIN_CALL(NAME, S, ARGS) ((void)0)
#define FBP_LIN_CALL_BASE(NAME, S, ARGS) ((void)0)
#endif

/*
 * Row kernels on a block of `rows` x `cols` elements. Destination arrays are
 * row-major with leading dimension ld*; source arrays have arbitrary
 * (row, column) strides in elements so F-ordered inputs need no copy. The
 * `cs == 1` branch is the common, vectorisable case.
 */
#define FBP_LOOP2(rows, cols, cs, BODY_C, BODY_S)                             \
    do {                                                                      \
        ptrdiff_t i_, j_;                                                     \
        if ((cs) == 1) {                                                      \
            for (i_ = 0; i_ < (rows); i_++)                                   \
                for (j_ = 0; j_ < (cols); j_++) { BODY_C; }                   \
        } else {                                                              \
            for (i_ = 0; i_ < (rows); i_++)                                   \
                for (j_ = 0; j_ < (cols); j_++) { BODY_S; }                   \
        }                                                                     \
    } while (0)

#define FBP_DEFINE_ROWS(T, S)                                                 \
/* Forward epilogue: Z[i,j] += b[i*bs]; A[i,j] = g(Z[i,j]). b NULL: Z holds    \
 * the bias already (fbp_bias_fill before a GEMM with beta 1): A = g(Z),     \
 * and Z is not written. */                                                   \
static inline void fbp_forward_rows_##S(int act, T alpha, T *Z, ptrdiff_t ldz, \
    T *A, ptrdiff_t lda, const T *b, ptrdiff_t bs, ptrdiff_t rows,            \
    ptrdiff_t cols)                                                           \
{                                                                             \
    ptrdiff_t i, j;                                                           \
    if (act == FBP_RELU || act == FBP_IDENTITY || act == FBP_LEAKY_RELU) {    \
        if (FBP_LIN_DISPATCH && fbp_isa_level() > 0)                          \
            FBP_LIN_CALL(fbp_fwd_lin, S, (act, alpha, Z, ldz, A, lda, b, bs,  \
                                          rows, cols));                       \
        else                                                                  \
            fbp_fwd_lin_body_##S(act, alpha, Z, ldz, A, lda, b, bs, rows, cols); \
        return;                                                               \
    }                                                                         \
    const ptrdiff_t rb_ = cols * (ptrdiff_t)sizeof(T);                        \
    const ptrdiff_t pd_ = fbp_pf_begin(A, lda * (ptrdiff_t)sizeof(T), rows, rb_); \
    for (i = 0; i < rows; i++) {                                              \
        T *z = Z + i * ldz, *a = A + i * lda;                                 \
        const T bi = b ? b[i * bs] : (T)0;                                    \
        if (pd_)                                                              \
            fbp_pf_rows(A, lda * (ptrdiff_t)sizeof(T), i + pd_, 1, rows, rb_); \
        switch (act) {                                                        \
        case FBP_SIGMOID:                                                     \
        case FBP_TANH:                                                        \
            /* one array call per row (in place when A is Z) */               \
            if (b)                                                            \
                for (j = 0; j < cols; j++) z[j] += bi;                        \
            if (act == FBP_SIGMOID) fbp_vsigmoid_##S(z, a, cols);             \
            else fbp_vtanh_##S(z, a, cols);                                   \
            break;                                                            \
        case FBP_ELU: case FBP_SOFTPLUS: case FBP_SILU: case FBP_GELU_TANH:   \
            for (j = 0; j < cols; j += FBP_VCHUNK) {                          \
                ptrdiff_t k, w = cols - j < FBP_VCHUNK ? cols - j : FBP_VCHUNK; \
                if (b)                                                        \
                    for (k = 0; k < w; k++) z[j + k] += bi;                   \
                fbp_act_vec_##S(act, alpha, z + j, a + j, w);                 \
            }                                                                 \
            break;                                                            \
        default:                                                              \
            if (b) {                                                          \
                for (j = 0; j < cols; j++) {                                  \
                    T v = z[j] + bi; z[j] = v; a[j] = fbp_act_##S(act, v, alpha); } \
            } else {                                                          \
                for (j = 0; j < cols; j++) a[j] = fbp_act_##S(act, z[j], alpha); \
            }                                                                 \
            break;                                                            \
        }                                                                     \
    }                                                                         \
}                                                                             \
                                                                              \
/* Z[i, j] = b[i*bs]: a bias laid out for a GEMM that adds its product        \
 * (beta = 1), whose forward epilogue then takes b = NULL. */                 \
static inline void fbp_bias_fill_##S(T *Z, ptrdiff_t ldz, const T *b,         \
    ptrdiff_t bs, ptrdiff_t rows, ptrdiff_t cols)                             \
{                                                                             \
    ptrdiff_t i, j;                                                           \
    for (i = 0; i < rows; i++) {                                              \
        T *z = Z + i * ldz;                                                   \
        const T bi = b[i * bs];                                               \
        for (j = 0; j < cols; j++) z[j] = bi;                                 \
    }                                                                         \
}                                                                             \
                                                                              \
/* Backward epilogue: D[i,j] *= g'(V[i*vr + j*vc]) (V = A, or Z). */          \
static inline void fbp_backward_rows_##S(int act, T alpha, T *D,              \
    ptrdiff_t ldd, const T *V, ptrdiff_t vr, ptrdiff_t vc, ptrdiff_t rows,    \
    ptrdiff_t cols)                                                           \
{                                                                             \
    ptrdiff_t i, j;                                                           \
    if (FBP_LIN_DISPATCH && vc == 1 && fbp_isa_level() > 0 && (act == FBP_RELU \
            || act == FBP_LEAKY_RELU || act == FBP_ELU)) {                    \
        FBP_LIN_CALL(fbp_bwd_lin, S, (act, alpha, D, ldd, V, vr, rows, cols)); \
        return;                                                               \
    }                                                                         \
    if (fbp_dact_is_vec(act)) {                                               \
        T gb[FBP_VCHUNK], vb[FBP_VCHUNK];                                     \
        for (i = 0; i < rows; i++) {                                          \
            T *d = D + i * ldd;                                               \
            const T *v = V + i * vr;                                          \
            for (j = 0; j < cols; j += FBP_VCHUNK) {                          \
                ptrdiff_t k, w = cols - j < FBP_VCHUNK ? cols - j : FBP_VCHUNK; \
                const T *vv = v + j * vc;                                     \
                if (vc != 1) {                                                \
                    for (k = 0; k < w; k++) vb[k] = vv[k * vc];               \
                    vv = vb;                                                  \
                }                                                             \
                fbp_dact_vec_##S(act, alpha, vv, gb, w);                      \
                for (k = 0; k < w; k++) d[j + k] *= gb[k];                    \
            }                                                                 \
        }                                                                     \
        return;                                                               \
    }                                                                         \
    for (i = 0; i < rows; i++) {                                              \
        T *d = D + i * ldd;                                                   \
        const T *v = V + i * vr;                                              \
        if (vc == 1) {                                                        \
            switch (act) {                                                    \
            case FBP_IDENTITY: break;                                         \
            /* "m = c ? x : y; d = d * m" as separate statements: gcc       \
             * if-converts and vectorises this form, while "d *= c ? 1 : 0"  \
             * became a branch, mispredicted on half the elements. */        \
            case FBP_RELU:                                                    \
                for (j = 0; j < cols; j++) {                                  \
                    T m_ = v[j] > 0 ? (T)1 : (T)0; d[j] = d[j] * m_; }        \
                break;                                                        \
            case FBP_LEAKY_RELU:                                              \
                for (j = 0; j < cols; j++) {                                  \
                    T m_ = v[j] > 0 ? (T)1 : alpha; d[j] = d[j] * m_; }       \
                break;                                                        \
            case FBP_ELU:                                                     \
                for (j = 0; j < cols; j++) {                                  \
                    T vv_ = v[j], e_ = vv_ + alpha; T m_ = vv_ > 0 ? (T)1 : e_; \
                    d[j] = d[j] * m_; }                                       \
                break;                                                        \
            case FBP_SIGMOID:                                                 \
                for (j = 0; j < cols; j++) d[j] *= v[j] * ((T)1 - v[j]);      \
                break;                                                        \
            case FBP_TANH:                                                    \
                for (j = 0; j < cols; j++) d[j] *= (T)1 - v[j] * v[j];        \
                break;                                                        \
            default:                                                          \
                for (j = 0; j < cols; j++) d[j] *= fbp_dact_##S(act, v[j], alpha); \
                break;                                                        \
            }                                                                 \
        } else {                                                              \
            if (act == FBP_IDENTITY) continue;                                \
            for (j = 0; j < cols; j++) d[j] *= fbp_dact_##S(act, v[j * vc], alpha); \
        }                                                                     \
    }                                                                         \
}                                                                             \
                                                                              \
/* out[i] = scale * sum_j D[i*dr + j*dc] over rows [0, rows), all columns.    \
 * Fixed association (8 running partial sums when dc == 1, a column sweep    \
 * otherwise), so the result never depends on how rows are split among       \
 * threads. The partial sums are 8 scalars, not an array: inlined into a     \
 * large caller where dc is not a constant, gcc kept an array in memory and  \
 * ran the loop scalar. */                                                   \
static inline void fbp_rowsum_##S(const T *D, ptrdiff_t dr, ptrdiff_t dc,     \
    ptrdiff_t rows, ptrdiff_t cols, T scale, T *out, ptrdiff_t os)            \
{                                                                             \
    ptrdiff_t i, j;                                                           \
    if (FBP_LIN_DISPATCH && dc == 1) {                                        \
        if (fbp_isa_level() > 0)                                              \
            FBP_LIN_CALL(fbp_rowsum, S, (D, dr, rows, cols, scale, out, os));  \
        else                                                                  \
            FBP_LIN_CALL_BASE(fbp_rowsum, S, (D, dr, rows, cols, scale, out, os)); \
        return;                                                               \
    }                                                                         \
    if (dc == 1) {                                                            \
        for (i = 0; i < rows; i++) {                                          \
            const T *d = D + i * dr;                                          \
            T a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0; \
            for (j = 0; j + 8 <= cols; j += 8) {                              \
                a0 += d[j];     a1 += d[j + 1]; a2 += d[j + 2];               \
                a3 += d[j + 3]; a4 += d[j + 4]; a5 += d[j + 5];               \
                a6 += d[j + 6]; a7 += d[j + 7];                               \
            }                                                                 \
            for (; j < cols; j++) a0 += d[j];                                 \
            out[i * os] = scale * (((a0 + a1) + (a2 + a3))                    \
                                   + ((a4 + a5) + (a6 + a7)));                \
        }                                                                     \
    } else {                                                                  \
        for (i = 0; i < rows; i++) out[i * os] = 0;                           \
        for (j = 0; j < cols; j++) {                                          \
            const T *d = D + j * dc;                                          \
            for (i = 0; i < rows; i++) out[i * os] += d[i * dr];              \
        }                                                                     \
        for (i = 0; i < rows; i++) out[i * os] *= scale;                      \
    }                                                                         \
}                                                                             \
                                                                              \
/* dst[i,j] = s * src[i*sr + j*sc] (strided copy with scale). */             \
static inline void fbp_scaled_copy_##S(T *dst, ptrdiff_t ldd, const T *src,   \
    ptrdiff_t sr, ptrdiff_t sc, ptrdiff_t rows, ptrdiff_t cols, T s)          \
{                                                                             \
    ptrdiff_t i, j;                                                           \
    for (i = 0; i < rows; i++)                                                \
        for (j = 0; j < cols; j++) dst[i * ldd + j] = s * src[i * sr + j * sc]; \
}

FBP_DEFINE_ROWS(float, f)
FBP_DEFINE_ROWS(double, d)

#endif /* FASTBP_ACT_H */
