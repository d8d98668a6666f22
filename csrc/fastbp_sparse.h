/*
 * The first layer's two products when its input X (n_x, m) is a sparse
 * matrix in compressed-column form (CSC: the entries of example j, its
 * column, at positions ptr[j] .. ptr[j+1]-1 of idx (feature indices) and
 * val). A CSR matrix of examples as rows (scikit-learn's X) is the CSC
 * matrix of X^T, the same three arrays.
 *
 *     forward   Z = W X          Z[i, j] = sum_k W[i, idx[k]] val[k]
 *     backward  dW = s D X^T     dW[i, c] = sum_{k: idx[k] = c} s D[i, j] val[k]
 *
 * Why: densified, a sparse input costs all n_x m products of its zeros too;
 * these cost 2 n_out nnz flops (scikit-learn's MLP uses SciPy's sparse
 * products for the same two, sklearn/neural_network/_multilayer_perceptron.py,
 * safe_sparse_dot).
 *
 * How. W is row-major (n_out, n_x), so an entry's weights W[:, c] are a
 * column, n_x apart, and a mini-batch's entries touch up to nnz such
 * columns at random: gathered entry by entry (or from a transposed copy of
 * W) they cost a cache miss each. So the entries are first sorted by
 * feature (fbp_sp_remap_*, a counting sort in O(n_x + nnz): U, the features
 * used, ascending; per feature its entries, examples ascending), and each
 * block of rows of W is walked G rows at a time (G = one vector: 8 doubles
 * or 16 floats):
 *
 *   forward   for each feature u: gather w = W[g0:g0+G, U[u]] once, then
 *             ZT[j, :] += val w for its entries (ZT: m x G, in L1/L2);
 *             Z[g0:g0+G, :] = ZT^T
 *   backward  DT = s D[g0:g0+G, :]^T (m x G); for each feature u:
 *             acc = sum of val DT[j, :] over its entries, then
 *             dW[g0:g0+G, U[u]] = acc (the rest of the rows zeroed)
 *
 * W and dW are read and written once per row, in ascending columns; the
 * random accesses are to the m x G table. Work per group: nnz vector
 * FMAs, G |U| scalar moves and G m for the transposes (vectorised; AVX2 /
 * AVX-512 clones). Every output element is one sum in a fixed order (Z[i,
 * j]: its column's entries by ascending feature; dW[i, c]: feature c's
 * entries by ascending example), whatever the block of rows, so a row's
 * bits do not depend on the thread split (they do on the clone: FMA
 * contraction). Duplicate indices add up (as SciPy's toarray sums them);
 * indices need not be sorted. The caller checks ptr and idx first
 * (fbp_csc_check_*): the loops index W and dW with them unchecked.
 */
#ifndef FASTBP_SPARSE_H
#define FASTBP_SPARSE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "fastbp_cpu.h"

/* 0 when ptr[0..m] is non-decreasing from >= 0 with ptr[m] <= nnz and every
 * idx[ptr[0] .. ptr[m]) lies in [0, n); else 1 (a malformed ptr) or 2 (an
 * index out of range). O(m + nnz). */
#define FBP_CSC_CHECK(NAME, IT)                                               \
static inline int NAME(const IT *ptr, const IT *idx, ptrdiff_t m,             \
                       ptrdiff_t nnz, ptrdiff_t n)                            \
{                                                                             \
    ptrdiff_t j, k, bad = 0;                                                  \
    if (ptr[0] < 0 || (ptrdiff_t)ptr[m] > nnz)                                \
        return 1;                                                             \
    for (j = 0; j < m; j++)                                                   \
        if (ptr[j + 1] < ptr[j])                                              \
            return 1;                                                         \
    for (k = (ptrdiff_t)ptr[0]; k < (ptrdiff_t)ptr[m]; k++)                   \
        bad |= ((ptrdiff_t)idx[k] < 0) | ((ptrdiff_t)idx[k] >= n);            \
    return bad ? 2 : 0;                                                       \
}

/* The feature-major copy of a checked X's m columns: U[0 .. nu) the
 * features used, ascending; feature u's entries at fptr[u] .. fptr[u+1] of
 * fj (their columns, ascending) and fv (their values). mark (n int64) must
 * be all 0 and is left so. Returns nu. */
#define FBP_SP_REMAP(NAME, T, IT)                                             \
static inline ptrdiff_t NAME(const IT *ptr, const IT *idx, const T *val,      \
                             ptrdiff_t m, ptrdiff_t n, int64_t *mark,         \
                             ptrdiff_t *U, ptrdiff_t *fptr, int32_t *fj,      \
                             T *fv)                                           \
{                                                                             \
    ptrdiff_t k, c, j, nu = 0;                                                \
    int64_t total = 0, slot;                                                  \
    for (k = (ptrdiff_t)ptr[0]; k < (ptrdiff_t)ptr[m]; k++)                   \
        mark[idx[k]]++;                                                       \
    for (c = 0; c < n; c++)                                                   \
        if (mark[c]) {                                                        \
            U[nu] = c;                                                        \
            fptr[nu++] = (ptrdiff_t)total;                                    \
            slot = total;                                                     \
            total += mark[c];                                                 \
            mark[c] = slot;                                                   \
        }                                                                     \
    fptr[nu] = (ptrdiff_t)total;                                              \
    for (j = 0; j < m; j++)                                                   \
        for (k = (ptrdiff_t)ptr[j]; k < (ptrdiff_t)ptr[j + 1]; k++) {         \
            slot = mark[idx[k]]++;                                            \
            fj[slot] = (int32_t)j;                                            \
            fv[slot] = val[k];                                                \
        }                                                                     \
    for (k = 0; k < nu; k++)                                                  \
        mark[U[k]] = 0;                                                       \
    return nu;                                                                \
}

FBP_CSC_CHECK(fbp_csc_check_i32, int32_t)
FBP_CSC_CHECK(fbp_csc_check_i64, int64_t)
FBP_SP_REMAP(fbp_sp_remap_f_i32, float, int32_t)
FBP_SP_REMAP(fbp_sp_remap_f_i64, float, int64_t)
FBP_SP_REMAP(fbp_sp_remap_d_i32, double, int32_t)
FBP_SP_REMAP(fbp_sp_remap_d_i64, double, int64_t)

/* The group width: one vector of the widest clone. */
#define FBP_SPG_f 16
#define FBP_SPG_d 8

/* A group of G values as one vector (GCC / clang vector extensions: one
 * AVX-512 register, two AVX2 or four SSE2 ones; unaligned, may alias).
 * gcc unrolls the plain loop over G into scalar FMAs instead. */
#if defined(__GNUC__) || defined(__clang__)
typedef float fbp_spv_f __attribute__((vector_size(64), aligned(4), may_alias));
typedef double fbp_spv_d __attribute__((vector_size(64), aligned(8), may_alias));
#define FBP_SP_AXPY(VT, T, G, y, a, x)                                        \
    (*(VT *)(y) += (a) * *(const VT *)(x))
#else
#define FBP_SP_AXPY(VT, T, G, y, a, x)                                        \
    do {                                                                      \
        int q_;                                                               \
        for (q_ = 0; q_ < G; q_++)                                            \
            (y)[q_] += (a) * (x)[q_];                                         \
    } while (0)
#endif

/* Forward rows [0, R) of Z (ld ldz) = W (ld ldw) X; ZT: m G scratch. */
#define FBP_SP_FWD_BODY(VT, T, G)                                             \
{                                                                             \
    ptrdiff_t g0, rr, u, k, j, q;                                             \
    for (g0 = 0; g0 < R; g0 += G) {                                           \
        rr = R - g0 < G ? R - g0 : G;                                         \
        memset(ZT, 0, (size_t)(m * G) * sizeof(T));                           \
        for (u = 0; u < nu; u++) {                                            \
            T w[G];                                                           \
            const T *col = W + g0 * ldw + U[u];                               \
            for (q = 0; q < G; q++)                                           \
                w[q] = q < rr ? col[q * ldw] : (T)0;                          \
            for (k = fptr[u]; k < fptr[u + 1]; k++)                           \
                FBP_SP_AXPY(VT, T, G, ZT + (ptrdiff_t)fj[k] * G, fv[k], w);   \
        }                                                                     \
        for (q = 0; q < rr; q++)                                              \
            for (j = 0; j < m; j++)                                           \
                Z[(g0 + q) * ldz + j] = ZT[j * G + q];                        \
    }                                                                         \
}

/* Rows [0, R) of dW (ld ldw, n wide) = s D X^T (D ld ldd); DT: m G scratch. */
#define FBP_SP_GRAD_BODY(VT, T, G)                                            \
{                                                                             \
    ptrdiff_t g0, rr, u, k, j, q;                                             \
    for (q = 0; q < R; q++)                                                   \
        memset(dW + q * ldw, 0, (size_t)n * sizeof(T));                       \
    for (g0 = 0; g0 < R; g0 += G) {                                           \
        rr = R - g0 < G ? R - g0 : G;                                         \
        for (j = 0; j < m; j++)                                               \
            for (q = 0; q < G; q++)                                           \
                DT[j * G + q] = q < rr ? s * D[(g0 + q) * ldd + j] : (T)0;    \
        for (u = 0; u < nu; u++) {                                            \
            T acc[G];                                                         \
            T *col = dW + g0 * ldw + U[u];                                    \
            for (q = 0; q < G; q++)                                           \
                acc[q] = 0;                                                   \
            for (k = fptr[u]; k < fptr[u + 1]; k++)                           \
                FBP_SP_AXPY(VT, T, G, acc, fv[k], DT + (ptrdiff_t)fj[k] * G); \
            for (q = 0; q < rr; q++)                                          \
                col[q * ldw] = acc[q];                                        \
        }                                                                     \
    }                                                                         \
}

#define FBP_SP_FWD_ARGS(T)                                                    \
    (const T *W, ptrdiff_t ldw, ptrdiff_t R, const ptrdiff_t *U,              \
     ptrdiff_t nu, const ptrdiff_t *fptr, const int32_t *fj, const T *fv,     \
     ptrdiff_t m, T *FBP_RESTRICT ZT, T *FBP_RESTRICT Z, ptrdiff_t ldz)
#define FBP_SP_FWD_CALL (W, ldw, R, U, nu, fptr, fj, fv, m, ZT, Z, ldz)
#define FBP_SP_GRAD_ARGS(T)                                                   \
    (T *FBP_RESTRICT dW, ptrdiff_t ldw, ptrdiff_t n, ptrdiff_t R,             \
     const ptrdiff_t *U, ptrdiff_t nu, const ptrdiff_t *fptr,                 \
     const int32_t *fj, const T *fv, ptrdiff_t m, const T *D, ptrdiff_t ldd,  \
     T s, T *FBP_RESTRICT DT)
#define FBP_SP_GRAD_CALL (dW, ldw, n, R, U, nu, fptr, fj, fv, m, D, ldd, s, DT)

#define FBP_SP_CLONES(SUF, T, G)                                              \
static inline FBP_ALWAYS_INLINE void fbp_sp_fwd_##SUF##_body                  \
    FBP_SP_FWD_ARGS(T) FBP_SP_FWD_BODY(fbp_spv_##SUF, T, G)                   \
static inline FBP_ALWAYS_INLINE void fbp_sp_grad_##SUF##_body                 \
    FBP_SP_GRAD_ARGS(T) FBP_SP_GRAD_BODY(fbp_spv_##SUF, T, G)                 \
static void fbp_sp_fwd_##SUF##_base FBP_SP_FWD_ARGS(T)                        \
{ fbp_sp_fwd_##SUF##_body FBP_SP_FWD_CALL; }                                  \
FBP_TARGET_AVX2 static void fbp_sp_fwd_##SUF##_avx2 FBP_SP_FWD_ARGS(T)        \
{ fbp_sp_fwd_##SUF##_body FBP_SP_FWD_CALL; }                                  \
FBP_TARGET_AVX512 static void fbp_sp_fwd_##SUF##_avx512 FBP_SP_FWD_ARGS(T)    \
{ fbp_sp_fwd_##SUF##_body FBP_SP_FWD_CALL; }                                  \
static void fbp_sp_grad_##SUF##_base FBP_SP_GRAD_ARGS(T)                      \
{ fbp_sp_grad_##SUF##_body FBP_SP_GRAD_CALL; }                                \
FBP_TARGET_AVX2 static void fbp_sp_grad_##SUF##_avx2 FBP_SP_GRAD_ARGS(T)      \
{ fbp_sp_grad_##SUF##_body FBP_SP_GRAD_CALL; }                                \
FBP_TARGET_AVX512 static void fbp_sp_grad_##SUF##_avx512 FBP_SP_GRAD_ARGS(T)  \
{ fbp_sp_grad_##SUF##_body FBP_SP_GRAD_CALL; }                                \
static inline void fbp_sp_fwd_##SUF FBP_SP_FWD_ARGS(T)                        \
{                                                                             \
    FBP_ISA_CALL(fbp_sp_fwd_##SUF##_avx512, fbp_sp_fwd_##SUF##_avx2,          \
                 fbp_sp_fwd_##SUF##_base, FBP_SP_FWD_CALL);                   \
}                                                                             \
static inline void fbp_sp_grad_##SUF FBP_SP_GRAD_ARGS(T)                      \
{                                                                             \
    FBP_ISA_CALL(fbp_sp_grad_##SUF##_avx512, fbp_sp_grad_##SUF##_avx2,        \
                 fbp_sp_grad_##SUF##_base, FBP_SP_GRAD_CALL);                 \
}

FBP_SP_CLONES(f, float, FBP_SPG_f)
FBP_SP_CLONES(d, double, FBP_SPG_d)

#endif /* FASTBP_SPARSE_H */
