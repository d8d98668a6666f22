/*
 * Out-of-place transpose of a small row-major matrix:
 *
 *     fbp_transpose_f / fbp_transpose_d (S, lds, rows, cols, D)
 *
 * D (cols, rows), row-major with row stride rows, = S^T for S (rows, cols)
 * with row stride lds (elements). S and D must not overlap. Bit copies: no
 * arithmetic, so every clone gives the same D.
 *
 * Why: the network step runs its first layer's W X^T, with X stored as
 * examples-as-rows, as NN on a copy of X transposed by each thread where
 * OpenBLAS's NT kernels are the slower ones (fastbp/_netstep.pxd, _xt_on).
 * A digits batch (32 x 64 float64) per thread per step: the scalar loop
 * took about 2 us of a ~30 us step, more than half what the NN product
 * saved (perf, Xeon, twenty-ninth session). The AVX2 clone transposes in
 * register tiles (4 x 4 doubles, 8 x 8 floats: unpack, then 128-bit lane
 * permutes); edges that are not a whole tile run the scalar loop.
 */
#ifndef FASTBP_TRANSPOSE_H
#define FASTBP_TRANSPOSE_H

#include <stddef.h>
#include "fastbp_cpu.h"
#if FBP_HAVE_AVX2_CLONE
#include <immintrin.h>
#endif

/* the scalar loop over [i0, i1) x [j0, j1) of S */
#define FBP_TRANSPOSE_SCALAR(S, lds, rows, D, i0, i1, j0, j1)                 \
    for (ptrdiff_t j_ = (j0); j_ < (j1); j_++)                                \
        for (ptrdiff_t i_ = (i0); i_ < (i1); i_++)                            \
            (D)[j_ * (rows) + i_] = (S)[i_ * (lds) + j_];

#define FBP_DEFINE_TRANSPOSE_BASE(T, S_)                                      \
static void fbp_transpose_##S_##_base(const T *FBP_RESTRICT S, ptrdiff_t lds,  \
                                      ptrdiff_t rows, ptrdiff_t cols,         \
                                      T *FBP_RESTRICT D)                      \
{                                                                             \
    for (ptrdiff_t i0 = 0; i0 < rows; i0 += 8) {                              \
        ptrdiff_t i1 = i0 + 8 < rows ? i0 + 8 : rows;                         \
        for (ptrdiff_t j0 = 0; j0 < cols; j0 += 8) {                          \
            ptrdiff_t j1 = j0 + 8 < cols ? j0 + 8 : cols;                     \
            FBP_TRANSPOSE_SCALAR(S, lds, rows, D, i0, i1, j0, j1)             \
        }                                                                     \
    }                                                                         \
}

FBP_DEFINE_TRANSPOSE_BASE(float, f)
FBP_DEFINE_TRANSPOSE_BASE(double, d)

#if FBP_HAVE_AVX2_CLONE
/* One 4 x 4 tile of doubles: rows s, s + lds, ... to columns d, d + ldd, ... */
FBP_TARGET_AVX2 static inline void fbp_transpose_tile_d(const double *s, ptrdiff_t lds,
                                                        double *d, ptrdiff_t ldd)
{
    __m256d r0 = _mm256_loadu_pd(s), r1 = _mm256_loadu_pd(s + lds),
            r2 = _mm256_loadu_pd(s + 2 * lds), r3 = _mm256_loadu_pd(s + 3 * lds);
    /* t0 = (r0[0] r1[0] r0[2] r1[2]), t1 = (r0[1] r1[1] r0[3] r1[3]), ... */
    __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1),
            t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    _mm256_storeu_pd(d, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(d + ldd, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(d + 2 * ldd, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(d + 3 * ldd, _mm256_permute2f128_pd(t1, t3, 0x31));
}

/* One 8 x 8 tile of floats: pairs of rows interleaved, then quadruples,
 * then the 128-bit halves exchanged. */
FBP_TARGET_AVX2 static inline void fbp_transpose_tile_f(const float *s, ptrdiff_t lds,
                                                        float *d, ptrdiff_t ldd)
{
    __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + lds),
           r2 = _mm256_loadu_ps(s + 2 * lds), r3 = _mm256_loadu_ps(s + 3 * lds),
           r4 = _mm256_loadu_ps(s + 4 * lds), r5 = _mm256_loadu_ps(s + 5 * lds),
           r6 = _mm256_loadu_ps(s + 6 * lds), r7 = _mm256_loadu_ps(s + 7 * lds);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
           t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
           t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
           u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
           u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
           u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(d + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(d + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(d + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(d + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(d + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(d + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(d + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}

/* The AVX2 clone: whole TB x TB tiles, the edges by the scalar loop. */
#define FBP_DEFINE_TRANSPOSE_AVX2(T, S_, TB)                                  \
FBP_TARGET_AVX2 static void fbp_transpose_##S_##_avx2(                        \
    const T *FBP_RESTRICT S, ptrdiff_t lds, ptrdiff_t rows, ptrdiff_t cols,   \
    T *FBP_RESTRICT D)                                                        \
{                                                                             \
    const ptrdiff_t R = rows - rows % (TB), C = cols - cols % (TB);           \
    for (ptrdiff_t i = 0; i < R; i += (TB)) {                                 \
        for (ptrdiff_t j = 0; j < C; j += (TB))                               \
            fbp_transpose_tile_##S_(S + i * lds + j, lds, D + j * rows + i, rows); \
        FBP_TRANSPOSE_SCALAR(S, lds, rows, D, i, i + (TB), C, cols)           \
    }                                                                         \
    FBP_TRANSPOSE_SCALAR(S, lds, rows, D, R, rows, 0, cols)                   \
}

FBP_DEFINE_TRANSPOSE_AVX2(float, f, 8)
FBP_DEFINE_TRANSPOSE_AVX2(double, d, 4)
#endif

/* fbp_transpose_f / fbp_transpose_d: the AVX2 clone where the CPU (and
 * FASTBP_DISPATCH) allows it, else the baseline. */
#if FBP_HAVE_AVX2_CLONE
#define FBP_TRANSPOSE_CLONE(S_, ARGS)                                         \
    if (fbp_use_avx2()) {                                                     \
        fbp_transpose_##S_##_avx2 ARGS;                                       \
        return;                                                               \
    }
#else
#define FBP_TRANSPOSE_CLONE(S_, ARGS)
#endif
#define FBP_DEFINE_TRANSPOSE(T, S_)                                           \
static inline void fbp_transpose_##S_(const T *S, ptrdiff_t lds, ptrdiff_t rows, \
                                      ptrdiff_t cols, T *D)                   \
{                                                                             \
    FBP_TRANSPOSE_CLONE(S_, (S, lds, rows, cols, D))                          \
    fbp_transpose_##S_##_base(S, lds, rows, cols, D);                         \
}

FBP_DEFINE_TRANSPOSE(float, f)
FBP_DEFINE_TRANSPOSE(double, d)

#endif /* FASTBP_TRANSPOSE_H */
