/*
 * Small row-major GEMM: C (M, N) = alpha op(A) op(B) + beta C.
 *
 *     fbp_gemm_small_f / fbp_gemm_small_d (ta, tb, M, N, K, alpha, A, lda,
 *                                           B, ldb, beta, C, ldc)
 *
 * op(A)[i, k] = ta ? A[k lda + i] : A[i lda + k], op(B) likewise; BLAS
 * semantics otherwise: beta == 0 overwrites C without reading it (NaN in C
 * does not leak), alpha == 0 or K == 0 reads neither A nor B.
 *
 * Why: for the tiny products of small networks ((4, 2) @ (2, 400), ...)
 * OpenBLAS's fixed cost (interface, its beta pass over C, packing) is large
 * next to a few thousand multiply-adds. These loops have no packing and no
 * setup; fastbp/_blas.pyx sends products below a measured size here,
 * mid-size ones whose shape suits these tiles, and NN and TN products of
 * any size with a few whole vectors of columns (OpenBLAS packs all of A for
 * them; _small_fits, whose comment gives the measurements), the rest to
 * OpenBLAS. On OpenBLAS's AVX-512 cores it sends mid-size products with
 * whole 512-bit vectors of columns to the AVX-512 clone instead (OpenBLAS
 * packs both operands there: _mid512_fits, fbp_gemm_small512 below).
 *
 * Loop orders, chosen so the inner loops run along contiguous memory:
 *   NN, TN  register tiles of rb (4, 2 or 1; 6 or 4 first in the AVX-512
 *           clone) rows x 2 vectors (4 in AVX-512: 3, 2 and 1 for the
 *           last whole vectors) of C; each k adds op(A)[i, k] * (row k of
 *           B) to the tile; C is written once.
 *           Columns past the last whole vector: B's are copied, zero-padded
 *           to a vector, into a stack buffer once per 256 k and run as
 *           1-vector tiles, each chunk's sums added into C in order.
 *   NT      K long against M (dW = dZ A^T of a thin layer, K = m long):
 *           dot products along K, 2 x 2 of them at a time, each with 2
 *           vectors of lane sums (no -ffast-math, so the compiler would not
 *           split one sum itself), joined by a fixed tree, then the tail k
 *           added in order. Otherwise (fbp_gs_nt_packs: K shorter than 2
 *           vectors, or K <= 256 and short enough against M): a register
 *           tile's width of columns of op(B) (2 vectors; 4 in the AVX-512
 *           clone) at a time is transposed into a stack buffer
 *           (fastbp_transpose.h: bit copies, in register tiles where AVX2
 *           runs) and run as NN tiles.
 *   TT      C^T = B A by the NN tiles, stored transposed.
 * Each element's summation order depends only on the shape and the clone,
 * never on alignment or threads: results are deterministic.
 *
 * The tiles use GCC/clang vector extensions (plain C left SLP-vectorised
 * 4 x 16 tiles into shuffles, slower than scalar code). The body is compiled
 * three times (fastbp_cpu.h): AVX-512 with 64-byte vectors, AVX2 + FMA with
 * 32-byte vectors and baseline SSE2 with 16-byte vectors; they differ in the
 * last bits (FMA contraction, lane count of the NT sums). Other compilers
 * get plain triple loops.
 */
#ifndef FASTBP_GEMM_H
#define FASTBP_GEMM_H

#include <stddef.h>
#include <string.h>
#include "fastbp_cpu.h"
#include "fastbp_transpose.h"

/* NT runs as NN tiles on columns of op(B) transposed into a stack buffer
 * (K up to FBP_GS_NT_PACK_K) where the transpose, spread over the M rows,
 * costs less than the lane-sum dot products' reductions (fbp_gs_nt_packs);
 * with K below 2 vectors there is no dot product to take. Measured on Zen 1
 * (AVX2 clone; bench/RESULTS.md, sixteenth session), the packed path's time
 * over the dots' grew with K and fell with M. It crossed 1 near K = 16 M
 * with a whole number of vectors of columns (at 32 M or beyond from 8 rows in
 * float32, 4 in float64), near K = 4 M when the last columns run in edge
 * tiles, and near K = M-2 M with fewer columns than a vector (1.3-11x the
 * dots at K = 8-32 M). Single products of these sizes vary by 30% between
 * runs. (Outside the #if: fastbp/_blas.pyx's _small_fits reads them too.) */
#define FBP_GS_NT_PACK_K 256

static inline int
fbp_gs_nt_packs(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, ptrdiff_t VN, int dbl)
{
    if (K < 2 * VN)
        return 1;
    if (K > FBP_GS_NT_PACK_K)
        return 0;
    if (N < VN)
        return K <= 2 * M;
    if (N % VN)
        return K <= 4 * M;
    return K <= (M >= (dbl ? 4 : 8) ? 32 : 16) * M;
}

#if defined(__GNUC__) || defined(__clang__)

#define FBP_GS_RB 4 /* most rows of C per register tile */
/* The AVX-512 clone's register tiles: 6 rows x 4 vectors (24 of the 32
 * registers accumulate). With the AVX2 clone's 4 x 2 tiles it took 1.1x
 * OpenBLAS SkylakeX's time at 64 x 32 x 64 float64, with these 1.0-1.05x;
 * 4 x 4, 7 x 4, 8 x 3 and 12 x 2 were no better (bench/RESULTS.md,
 * thirty-first session). */
#define FBP_GS512_RB 6
#define FBP_GS512_NV 4

/*
 * One clone for element type T (suffix S) with VB-byte vectors (VN lanes);
 * CL names the clone, ATTR is its target attribute.
 */
#define FBP_GS_DEFINE(T, S, VB, CL, ATTR, RB, NVM)                             \
typedef T fbp_gs_v_##S##CL __attribute__((vector_size(VB)));                   \
/* unaligned view for loads and stores */                                      \
typedef T fbp_gs_u_##S##CL                                                     \
    __attribute__((vector_size(VB), aligned(sizeof(T)), may_alias));           \
                                                                               \
/* C[rb x nv vectors] = alpha * sum_k opA[r, k] B[k, :] + beta C, with         \
 * opA[r, k] = A[r sai + k sak] and C[r, c] at C[r csi + c csj]. */            \
static inline FBP_ALWAYS_INLINE void                                           \
fbp_gs_vtile_##S##CL(const int rb, const int nv, ptrdiff_t K, T alpha,         \
                     const T *A, ptrdiff_t sai, ptrdiff_t sak,                 \
                     const T *B, ptrdiff_t ldb, T beta,                        \
                     T *C, ptrdiff_t csi, ptrdiff_t csj)                       \
{                                                                              \
    typedef fbp_gs_v_##S##CL V;                                                \
    typedef fbp_gs_u_##S##CL U;                                                \
    enum { VN = VB / sizeof(T) };                                              \
    V acc[RB][NVM];                                                            \
    for (int r = 0; r < rb; r++)                                               \
        for (int v = 0; v < nv; v++)                                           \
            acc[r][v] = (V){0};                                                \
    for (ptrdiff_t k = 0; k < K; k++) {                                        \
        V b[NVM];                                                              \
        for (int v = 0; v < nv; v++)                                           \
            b[v] = *(const U *)(B + k * ldb + v * VN);                         \
        for (int r = 0; r < rb; r++) {                                         \
            const T a = A[r * sai + k * sak];                                  \
            for (int v = 0; v < nv; v++)                                       \
                acc[r][v] += a * b[v];                                         \
        }                                                                      \
    }                                                                          \
    for (int r = 0; r < rb; r++)                                               \
        for (int v = 0; v < nv; v++) {                                         \
            T *c = C + r * csi + v * VN * csj;                                 \
            V x;                                                               \
            if (csj == 1) {                                                    \
                if (beta == 0)                                                 \
                    x = alpha * acc[r][v];                                     \
                else                                                           \
                    x = alpha * acc[r][v] + beta * *(U *)c;                    \
                *(U *)c = x;                                                   \
            } else {                                                           \
                T t[VN];                                                       \
                x = alpha * acc[r][v];                                         \
                memcpy(t, &x, sizeof(V));                                      \
                for (int l = 0; l < VN; l++)                                   \
                    c[l * csj] = beta == 0 ? t[l]                              \
                                           : t[l] + beta * c[l * csj];         \
            }                                                                  \
        }                                                                      \
}                                                                              \
                                                                               \
/* rb rows of C, its whole vectors of columns (N a multiple of VN): 2-vector   \
 * tiles, then at most one 1-vector tile */                                    \
static inline FBP_ALWAYS_INLINE void                                           \
fbp_gs_rowblock_##S##CL(const int rb, ptrdiff_t N, ptrdiff_t K, T alpha,       \
                        const T *A, ptrdiff_t sai, ptrdiff_t sak,              \
                        const T *B, ptrdiff_t ldb, T beta,                     \
                        T *C, ptrdiff_t csi, ptrdiff_t csj)                    \
{                                                                              \
    enum { VN = VB / sizeof(T) };                                              \
    ptrdiff_t j = 0;                                                           \
    for (; j + NVM * VN <= N; j += NVM * VN)                                   \
        fbp_gs_vtile_##S##CL(rb, NVM, K, alpha, A, sai, sak, B + j, ldb, beta, \
                             C + j * csj, csi, csj);                           \
    /* (NVM > 3 ? 3 : 1: a never-taken call stays well formed) */             \
    if (NVM > 3 && j + 3 * VN <= N) {                                          \
        fbp_gs_vtile_##S##CL(rb, NVM > 3 ? 3 : 1, K, alpha, A, sai, sak,       \
                             B + j, ldb, beta, C + j * csj, csi, csj);         \
        j += 3 * VN;                                                           \
    }                                                                          \
    if (NVM > 2 && j + 2 * VN <= N) {                                          \
        fbp_gs_vtile_##S##CL(rb, 2, K, alpha, A, sai, sak, B + j, ldb, beta,   \
                             C + j * csj, csi, csj);                           \
        j += 2 * VN;                                                           \
    }                                                                          \
    if (j + VN <= N) {                                                         \
        fbp_gs_vtile_##S##CL(rb, 1, K, alpha, A, sai, sak, B + j, ldb, beta,   \
                             C + j * csj, csi, csj);                           \
        j += VN;                                                               \
    }                                                                          \
}                                                                              \
                                                                               \
/* C[:, 0:w], w < VN: the last columns, for all M rows. Per chunk of <=        \
 * FBP_GS_NT_PACK_K k, B's w columns are copied once, zero-padded to a         \
 * vector, into a stack buffer; 1-vector tiles of rb rows run on it, each      \
 * chunk's products added to C in k order (the first with beta). (Copying      \
 * per row block instead cost float32 1.3-2.6x OpenBLAS's time at 10-31        \
 * columns; AVX2 masked loads per k were slower still on Zen 1, and tiles of   \
 * 2 vectors on a 2-vector copy no faster.) */                                 \
static inline FBP_ALWAYS_INLINE void                                           \
fbp_gs_edge_##S##CL(ptrdiff_t M, const ptrdiff_t w, ptrdiff_t K, T alpha,      \
                    const T *A, ptrdiff_t sai, ptrdiff_t sak,                  \
                    const T *B, ptrdiff_t ldb, T beta,                         \
                    T *C, ptrdiff_t csi, ptrdiff_t csj)                        \
{                                                                              \
    enum { VN = VB / sizeof(T) };                                              \
    T bp[FBP_GS_NT_PACK_K * VN], ct[RB * VN];                                  \
    for (ptrdiff_t k0 = 0; k0 < K; k0 += FBP_GS_NT_PACK_K) {                   \
        const ptrdiff_t kc = K - k0 < FBP_GS_NT_PACK_K ? K - k0                \
                                                   : FBP_GS_NT_PACK_K;         \
        for (ptrdiff_t k = 0; k < kc; k++)                                     \
            for (ptrdiff_t c = 0; c < VN; c++)                                 \
                bp[k * VN + c] = c < w ? B[(k0 + k) * ldb + c] : (T)0;         \
        for (ptrdiff_t i = 0; i < M;) {                                        \
            const int rb = M - i >= RB ? RB : (M - i >= 2 ? 2 : 1);            \
            const T *a = A + i * sai + k0 * sak;                               \
            if (rb == RB)                                                      \
                fbp_gs_vtile_##S##CL(RB, 1, kc, 1, a, sai, sak, bp, VN,        \
                                     0, ct, VN, 1);                            \
            else if (rb == 2)                                                  \
                fbp_gs_vtile_##S##CL(2, 1, kc, 1, a, sai, sak, bp, VN, 0,      \
                                     ct, VN, 1);                               \
            else                                                               \
                fbp_gs_vtile_##S##CL(1, 1, kc, 1, a, sai, sak, bp, VN, 0,      \
                                     ct, VN, 1);                               \
            for (int r = 0; r < rb; r++)                                       \
                for (ptrdiff_t c = 0; c < w; c++) {                            \
                    T *p = C + (i + r) * csi + c * csj;                        \
                    const T x = alpha * ct[r * VN + c];                        \
                    *p = k0 ? *p + x : (beta == 0 ? x : x + beta * *p);        \
                }                                                              \
            i += rb;                                                           \
        }                                                                      \
    }                                                                          \
}                                                                              \
                                                                               \
/* C (M, N) = alpha opA (M, K) B (K, N) + beta C, rows of B contiguous */      \
static inline FBP_ALWAYS_INLINE void                                           \
fbp_gs_rows_##S##CL(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, T alpha,            \
                    const T *A, ptrdiff_t sai, ptrdiff_t sak,                  \
                    const T *B, ptrdiff_t ldb, T beta,                         \
                    T *C, ptrdiff_t csi, ptrdiff_t csj)                        \
{                                                                              \
    enum { VN = VB / sizeof(T) };                                              \
    const ptrdiff_t Nv = N - N % VN;       /* columns in whole vectors */      \
    ptrdiff_t i = 0;                                                           \
    if (Nv > 0) {                                                              \
        for (; i + RB <= M; i += RB)                                           \
            fbp_gs_rowblock_##S##CL(RB, Nv, K, alpha, A + i * sai, sai,        \
                                    sak, B, ldb, beta, C + i * csi, csi, csj); \
        if (RB > 4 && i + 4 <= M) {                                            \
            fbp_gs_rowblock_##S##CL(RB > 4 ? 4 : 1, Nv, K, alpha, A + i * sai, \
                                    sai, sak, B, ldb, beta, C + i * csi, csi,  \
                                    csj);                                      \
            i += 4;                                                            \
        }                                                                      \
        if (i + 2 <= M) {                                                      \
            fbp_gs_rowblock_##S##CL(2, Nv, K, alpha, A + i * sai, sai, sak,    \
                                    B, ldb, beta, C + i * csi, csi, csj);      \
            i += 2;                                                            \
        }                                                                      \
        if (i < M)                                                             \
            fbp_gs_rowblock_##S##CL(1, Nv, K, alpha, A + i * sai, sai, sak,    \
                                    B, ldb, beta, C + i * csi, csi, csj);      \
    }                                                                          \
    if (Nv < N)                                                                \
        fbp_gs_edge_##S##CL(M, N - Nv, K, alpha, A, sai, sak, B + Nv, ldb,     \
                            beta, C + Nv * csj, csi, csj);                     \
}                                                                              \
                                                                               \
/* ri x rj dot products of rows of A and rows of B, K >= 2 VN: lane l of       \
 * 2 vectors sums k = l (mod 2 VN) below K - K % (2 VN); a fixed tree joins    \
 * the lanes, then the tail k are added in order. */                           \
static inline FBP_ALWAYS_INLINE void                                           \
fbp_gs_dots_##S##CL(const int ri, const int rj, ptrdiff_t K, T alpha,          \
                    const T *A, ptrdiff_t lda, const T *B, ptrdiff_t ldb,      \
                    T beta, T *C, ptrdiff_t ldc)                               \
{                                                                              \
    typedef fbp_gs_v_##S##CL V;                                                \
    typedef fbp_gs_u_##S##CL U;                                                \
    enum { VN = VB / sizeof(T) };                                              \
    V acc[2][2][2];                                                            \
    const ptrdiff_t Kv = K - K % (2 * VN);                                     \
    for (int r = 0; r < ri; r++)                                               \
        for (int s = 0; s < rj; s++)                                           \
            acc[r][s][0] = acc[r][s][1] = (V){0};                              \
    for (ptrdiff_t k = 0; k < Kv; k += 2 * VN)                                 \
        for (int r = 0; r < ri; r++)                                           \
            for (int s = 0; s < rj; s++)                                       \
                for (int v = 0; v < 2; v++)                                    \
                    acc[r][s][v] += *(const U *)(A + r * lda + k + v * VN)     \
                                    * *(const U *)(B + s * ldb + k + v * VN);  \
    for (int r = 0; r < ri; r++)                                               \
        for (int s = 0; s < rj; s++) {                                         \
            T t[VN];                                                           \
            V x = acc[r][s][0] + acc[r][s][1];                                 \
            memcpy(t, &x, sizeof(V));                                          \
            for (int h = VN / 2; h >= 1; h /= 2)                               \
                for (int l = 0; l < h; l++)                                    \
                    t[l] += t[l + h];                                          \
            T d = t[0];                                                        \
            for (ptrdiff_t k = Kv; k < K; k++)                                 \
                d += A[r * lda + k] * B[s * ldb + k];                          \
            T *c = C + r * ldc + s;                                            \
            *c = beta == 0 ? alpha * d : alpha * d + beta * *c;                \
        }                                                                      \
}                                                                              \
                                                                               \
/* NN tiles on the transposed strip of fbp_gs_nt, NVM vectors wide (a       \
 * function of its own: inlined there, GCC 12 kept the float32 tiles' B      \
 * vectors on the stack, 2.1x the NN time on Zen 1) */                       \
ATTR static __attribute__((noinline)) void                                     \
fbp_gs_strip_##S##CL(ptrdiff_t M, ptrdiff_t w, ptrdiff_t K, T alpha,           \
                     const T *A, ptrdiff_t lda, const T *bt, T beta,           \
                     T *C, ptrdiff_t ldc)                                      \
{                                                                              \
    fbp_gs_rows_##S##CL(M, w, K, alpha, A, lda, 1, bt, w, beta, C, ldc, 1);    \
}                                                                              \
                                                                               \
static inline FBP_ALWAYS_INLINE void                                           \
fbp_gs_nt_##S##CL(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, T alpha,              \
                  const T *A, ptrdiff_t lda, const T *B, ptrdiff_t ldb,        \
                  T beta, T *C, ptrdiff_t ldc)                                 \
{                                                                              \
    enum { VN = VB / sizeof(T) };                                              \
    if (fbp_gs_nt_packs(M, N, K, VN, sizeof(T) == 8)) {                        \
        /* short dots, or enough rows to amortise it: transpose NVM VN         \
         * columns of op(B) at a time (a register tile's width: 2 vectors in   \
         * the AVX2 and baseline clones, 4 in AVX-512's) into a stack buffer,  \
         * run them as NN tiles */                                             \
        T bt[FBP_GS_NT_PACK_K * NVM * VN];                                     \
        for (ptrdiff_t j = 0; j < N; j += NVM * VN) {                          \
            const ptrdiff_t w = N - j < NVM * VN ? N - j : NVM * VN;           \
            /* bt (K, w), row stride w: bit copies (fastbp_transpose.h's       \
             * register tiles where AVX2 runs) */                              \
            fbp_transpose_##S(B + j * ldb, ldb, w, K, bt);                     \
            fbp_gs_strip_##S##CL(M, w, K, alpha, A, lda, bt, beta, C + j,      \
                                 ldc);                                         \
        }                                                                      \
        return;                                                                \
    }                                                                          \
    ptrdiff_t i = 0;                                                           \
    for (; i + 2 <= M; i += 2) {                                               \
        ptrdiff_t j = 0;                                                       \
        for (; j + 2 <= N; j += 2)                                             \
            fbp_gs_dots_##S##CL(2, 2, K, alpha, A + i * lda, lda,              \
                                B + j * ldb, ldb, beta, C + i * ldc + j, ldc); \
        if (j < N)                                                             \
            fbp_gs_dots_##S##CL(2, 1, K, alpha, A + i * lda, lda,              \
                                B + j * ldb, ldb, beta, C + i * ldc + j, ldc); \
    }                                                                          \
    if (i < M) {                                                               \
        ptrdiff_t j = 0;                                                       \
        for (; j + 2 <= N; j += 2)                                             \
            fbp_gs_dots_##S##CL(1, 2, K, alpha, A + i * lda, lda,              \
                                B + j * ldb, ldb, beta, C + i * ldc + j, ldc); \
        if (j < N)                                                             \
            fbp_gs_dots_##S##CL(1, 1, K, alpha, A + i * lda, lda,              \
                                B + j * ldb, ldb, beta, C + i * ldc + j, ldc); \
    }                                                                          \
}                                                                              \
                                                                               \
ATTR static void                                                               \
fbp_gs_##S##CL(int ta, int tb, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,          \
               T alpha, const T *A, ptrdiff_t lda, const T *B, ptrdiff_t ldb,  \
               T beta, T *C, ptrdiff_t ldc)                                    \
{                                                                              \
    if (!tb)                                                                   \
        fbp_gs_rows_##S##CL(M, N, K, alpha, A, ta ? 1 : lda, ta ? lda : 1,     \
                            B, ldb, beta, C, ldc, 1);                          \
    else if (!ta)                                                              \
        fbp_gs_nt_##S##CL(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);       \
    else /* C^T (N, M) = B (N, K) A (K, M), stored transposed */               \
        fbp_gs_rows_##S##CL(N, M, K, alpha, B, ldb, 1, A, lda, beta,           \
                            C, 1, ldc);                                        \
}

FBP_GS_DEFINE(float, f, 16, _base, , FBP_GS_RB, 2)
FBP_GS_DEFINE(double, d, 16, _base, , FBP_GS_RB, 2)
#if FBP_HAVE_AVX2_CLONE
FBP_GS_DEFINE(float, f, 32, _avx2, FBP_TARGET_AVX2, FBP_GS_RB, 2)
FBP_GS_DEFINE(double, d, 32, _avx2, FBP_TARGET_AVX2, FBP_GS_RB, 2)
FBP_GS_DEFINE(float, f, 64, _avx512, FBP_TARGET_AVX512, FBP_GS512_RB, FBP_GS512_NV)
FBP_GS_DEFINE(double, d, 64, _avx512, FBP_TARGET_AVX512, FBP_GS512_RB, FBP_GS512_NV)
#endif
#undef FBP_GS_DEFINE

#else /* no vector extensions: plain loops, k innermost */

#define FBP_GS_PLAIN(T, S)                                                     \
static void                                                                    \
fbp_gs_##S##_base(int ta, int tb, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,       \
                  T alpha, const T *A, ptrdiff_t lda, const T *B,              \
                  ptrdiff_t ldb, T beta, T *C, ptrdiff_t ldc)                  \
{                                                                              \
    for (ptrdiff_t i = 0; i < M; i++)                                          \
        for (ptrdiff_t j = 0; j < N; j++) {                                    \
            T s = 0;                                                           \
            for (ptrdiff_t k = 0; k < K; k++)                                  \
                s += (ta ? A[k * lda + i] : A[i * lda + k])                    \
                     * (tb ? B[j * ldb + k] : B[k * ldb + j]);                 \
            T *c = C + i * ldc + j;                                            \
            *c = beta == 0 ? alpha * s : alpha * s + beta * *c;                \
        }                                                                      \
}
FBP_GS_PLAIN(float, f)
FBP_GS_PLAIN(double, d)
#undef FBP_GS_PLAIN

#endif

#define FBP_GS_ENTRY(T, S)                                                     \
static void                                                                    \
fbp_gemm_small_##S(int ta, int tb, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,      \
                   T alpha, const T *A, ptrdiff_t lda, const T *B,             \
                   ptrdiff_t ldb, T beta, T *C, ptrdiff_t ldc)                 \
{                                                                              \
    if (M <= 0 || N <= 0)                                                      \
        return;                                                                \
    if (K <= 0 || alpha == 0) { /* BLAS: A and B are not read */               \
        if (beta == 1)                                                         \
            return;                                                            \
        for (ptrdiff_t i = 0; i < M; i++)                                      \
            for (ptrdiff_t j = 0; j < N; j++)                                  \
                C[i * ldc + j] = beta == 0 ? (T)0 : beta * C[i * ldc + j];     \
        return;                                                                \
    }                                                                          \
    if (FBP_HAVE_AVX2_CLONE && fbp_use_avx2())                                 \
        FBP_GS_AVX2_CALL(S)(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C,   \
                            ldc);                                              \
    else                                                                       \
        fbp_gs_##S##_base(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C,     \
                          ldc);                                                \
}

#if FBP_HAVE_AVX2_CLONE && (defined(__GNUC__) || defined(__clang__))
#define FBP_GS_AVX2_CALL(S) fbp_gs_##S##_avx2
#else
#define FBP_GS_AVX2_CALL(S) fbp_gs_##S##_base
#endif

FBP_GS_ENTRY(float, f)
FBP_GS_ENTRY(double, d)
#undef FBP_GS_ENTRY

#if FBP_HAVE_AVX2_CLONE && (defined(__GNUC__) || defined(__clang__))
#define FBP_GS512_ON 1
#define FBP_GS512_CALL(S) fbp_gs_##S##_avx512
#else
#define FBP_GS512_ON 0
#define FBP_GS512_CALL(S) fbp_gs_##S##_base
#endif

/* 1 where the AVX-512 clone runs: compiled (GCC/clang), and the CPU (and
 * FASTBP_DISPATCH) allows it. */
static inline int fbp_gemm512_on(void) { return FBP_GS512_ON && fbp_use_avx512(); }

/*
 * C (M, N) = alpha op(A) op(B) + beta C in the AVX-512 clone, any
 * transposes, fbp_gemm_small's semantics:
 *
 *     fbp_gemm_small512_f / fbp_gemm_small512_d (ta, tb, M, N, K, alpha, A,
 *                                                lda, B, ldb, beta, C, ldc)
 *
 * For fastbp/_blas.pyx's mid-size rule on AVX-512 cores (_mid512_fits, whose
 * comment gives the measurements) and dense_forward's small blocks, which run
 * their GEMM a few rows at a time (fastbp/_dense.pyx's _fwd_chunks), where
 * OpenBLAS's fixed cost per call would forbid that. Returns 0 and does
 * nothing where the clone cannot run (fbp_gemm512_on), else 1; K <= 0 and
 * alpha == 0 go through fbp_gemm_small, which reads neither A nor B then.
 */
#define FBP_GS512_ENTRY(T, S)                                                  \
static int                                                                     \
fbp_gemm_small512_##S(int ta, int tb, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,   \
                      T alpha, const T *A, ptrdiff_t lda, const T *B,          \
                      ptrdiff_t ldb, T beta, T *C, ptrdiff_t ldc)              \
{                                                                              \
    if (!fbp_gemm512_on())                                                     \
        return 0;                                                              \
    if (K <= 0 || alpha == 0)                                                  \
        fbp_gemm_small_##S(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C,    \
                           ldc);                                               \
    else if (M > 0 && N > 0)                                                   \
        FBP_GS512_CALL(S)(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc); \
    return 1;                                                                  \
}
FBP_GS512_ENTRY(float, f)
FBP_GS512_ENTRY(double, d)
#undef FBP_GS512_ENTRY
#undef FBP_GS512_CALL
#undef FBP_GS_AVX2_CALL

#endif /* FASTBP_GEMM_H */
