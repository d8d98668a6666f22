/*
 * Output-layer kernels: column-wise softmax, the fused delta AL - Y, and the
 * mean losses, float and double. Layout: AL/Z are row-major blocks with
 * (row, column) strides in elements; a block of columns [j0, j1) is processed
 * so callers can split columns among threads.
 *
 * exp and log are the vectorised array functions of fastbp_vmath.h.
 *
 * Labels Y come as one of several element types (FBP_Y_*), switched on once
 * outside the loops, so uint8/bool course labels need no conversion copy.
 */
#ifndef FASTBP_LOSS_H
#define FASTBP_LOSS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <float.h>
#include "fastbp_codes.h"
#include "fastbp_vmath.h"

#define FBP_LCHUNK 64  /* columns per chunk in the loss kernels */

static inline double fbp_yval(const void *Y, int yt, ptrdiff_t k)
{
    switch (yt) {
    case FBP_Y_F32: return ((const float *)Y)[k];
    case FBP_Y_F64: return ((const double *)Y)[k];
    case FBP_Y_U8: return ((const uint8_t *)Y)[k];
    case FBP_Y_I32: return ((const int32_t *)Y)[k];
    default: return (double)((const int64_t *)Y)[k];
    }
}

#define FBP_DEFINE_LOSS(T, S, TINY, YSELF)                                    \
/* out[:, j0:j1] = softmax(Z[:, j0:j1]) column-wise (max-shifted); buf holds  \
 * 2 (j1 - j0) scratch values. Rows are walked in the outer loop so a         \
 * C-ordered Z is read contiguously. */                                       \
static inline void fbp_softmax_cols_##S(const T *Z, ptrdiff_t zr,             \
    ptrdiff_t zc, T *out, ptrdiff_t ldo, ptrdiff_t rows, ptrdiff_t j0,        \
    ptrdiff_t j1, T *buf)                                                     \
{                                                                             \
    ptrdiff_t i, j, w = j1 - j0;                                              \
    T *mx = buf, *sm = buf + w;                                               \
    for (j = 0; j < w; j++) { mx[j] = -(T)INFINITY; sm[j] = 0; }              \
    for (i = 0; i < rows; i++) {                                              \
        const T *z = Z + i * zr + j0 * zc;                                    \
        for (j = 0; j < w; j++) {                                             \
            T v = z[j * zc];                                                  \
            /* NaN-propagating max: a NaN column stays NaN */                 \
            mx[j] = (v > mx[j] || v != v) ? v : mx[j];                        \
        }                                                                     \
    }                                                                         \
    for (i = 0; i < rows; i++) {                                              \
        const T *z = Z + i * zr + j0 * zc;                                    \
        T *o = out + i * ldo + j0;                                            \
        for (j = 0; j < w; j++) o[j] = z[j * zc] - mx[j];                     \
        fbp_vexp_##S(o, o, w);                                                \
        for (j = 0; j < w; j++) sm[j] += o[j];                                \
    }                                                                         \
    for (j = 0; j < w; j++) sm[j] = (T)1 / sm[j];                             \
    for (i = 0; i < rows; i++) {                                              \
        T *o = out + i * ldo + j0;                                            \
        for (j = 0; j < w; j++) o[j] *= sm[j];                                \
    }                                                                         \
}                                                                             \
                                                                              \
/* D[i, j] = AL[i, j] - Y[i, j] over rows x [j0, j1). */                      \
static inline void fbp_delta_##S(const T *AL, ptrdiff_t ar, ptrdiff_t ac,     \
    const void *Y, int yt, ptrdiff_t yr, ptrdiff_t yc, T *D, ptrdiff_t ldd,   \
    ptrdiff_t rows, ptrdiff_t j0, ptrdiff_t j1)                               \
{                                                                             \
    ptrdiff_t i, j;                                                           \
    for (i = 0; i < rows; i++) {                                              \
        const T *a = AL + i * ar;                                             \
        T *d = D + i * ldd;                                                   \
        if (ac == 1 && yc == 1 && yt == YSELF) {                       \
            const T *y = (const T *)Y + i * yr;                               \
            for (j = j0; j < j1; j++) d[j] = a[j] - y[j];                     \
        } else if (yt == FBP_Y_U8) {                                          \
            const uint8_t *y = (const uint8_t *)Y + i * yr;                   \
            for (j = j0; j < j1; j++) d[j] = a[j * ac] - (T)y[j * yc];        \
        } else {                                                              \
            for (j = j0; j < j1; j++)                                         \
                d[j] = a[j * ac] - (T)fbp_yval(Y, yt, i * yr + j * yc);       \
        }                                                                     \
    }                                                                         \
}                                                                             \
                                                                              \
/* yb[k] = (T)Y[base + k*yc] for k < w, the type switch outside the loop. */ \
static inline void fbp_ygather_##S(const void *Y, int yt, ptrdiff_t base,     \
    ptrdiff_t yc, ptrdiff_t w, T *yb)                                         \
{                                                                             \
    ptrdiff_t k;                                                              \
    switch (yt) {                                                             \
    case FBP_Y_F32: { const float *y = (const float *)Y + base;               \
        for (k = 0; k < w; k++) yb[k] = (T)y[k * yc]; } break;                \
    case FBP_Y_F64: { const double *y = (const double *)Y + base;             \
        for (k = 0; k < w; k++) yb[k] = (T)y[k * yc]; } break;                \
    case FBP_Y_U8: { const uint8_t *y = (const uint8_t *)Y + base;            \
        for (k = 0; k < w; k++) yb[k] = (T)y[k * yc]; } break;                \
    case FBP_Y_I32: { const int32_t *y = (const int32_t *)Y + base;           \
        for (k = 0; k < w; k++) yb[k] = (T)y[k * yc]; } break;                \
    default: { const int64_t *y = (const int64_t *)Y + base;                  \
        for (k = 0; k < w; k++) yb[k] = (T)(double)y[k * yc]; } break;        \
    }                                                                         \
}                                                                             \
                                                                              \
/* out[j - j0] = sum over rows of column j's per-element loss, j in [j0, j1), \
 * accumulated in double with rows in order (each column independently, so   \
 * the values do not depend on how columns are chunked or split). Columns go \
 * in chunks of FBP_LCHUNK, rows outer, so a row-major AL is read             \
 * contiguously and the logs are array calls. Logs clip at TINY (a NaN AL     \
 * gives NaN). */                                                             \
static inline void fbp_loss_cols0_##S(int loss, const T *AL, ptrdiff_t ar,    \
    ptrdiff_t ac, const void *Y, int yt, ptrdiff_t yr, ptrdiff_t yc,          \
    ptrdiff_t rows, ptrdiff_t j0, ptrdiff_t j1, double *out)                  \
{                                                                             \
    ptrdiff_t i, j, c0;                                                       \
    const T tiny = TINY;                                                      \
    T pb[FBP_LCHUNK], qb[FBP_LCHUNK], yb[FBP_LCHUNK];                         \
    for (c0 = j0; c0 < j1; c0 += FBP_LCHUNK) {                                \
        ptrdiff_t w = j1 - c0 < FBP_LCHUNK ? j1 - c0 : FBP_LCHUNK;            \
        double *col = out + (c0 - j0);                                        \
        for (j = 0; j < w; j++) col[j] = 0.0;                                 \
        for (i = 0; i < rows; i++) {                                          \
            const T *a = AL + i * ar + c0 * ac;                               \
            const T *y;                                                       \
            if (yt == YSELF && yc == 1) {                                     \
                y = (const T *)Y + i * yr + c0;                               \
            } else {                                                          \
                fbp_ygather_##S(Y, yt, i * yr + c0 * yc, yc, w, yb);          \
                y = yb;                                                       \
            }                                                                 \
            if (loss == FBP_BCE) {                                            \
                for (j = 0; j < w; j++) {                                     \
                    T av = a[j * ac], p = av > tiny ? av : tiny, q = (T)1 - av; \
                    q = q > tiny ? q : tiny;                                  \
                    if (av != av) { p = av; q = av; }                         \
                    pb[j] = p; qb[j] = q;                                     \
                }                                                             \
                fbp_vlog_##S(pb, pb, w);                                      \
                fbp_vlog_##S(qb, qb, w);                                      \
                for (j = 0; j < w; j++)                                       \
                    col[j] -= (double)(y[j] * pb[j])                          \
                            + (double)(((T)1 - y[j]) * qb[j]);                \
            } else if (loss == FBP_CE) {                                      \
                for (j = 0; j < w; j++) {                                     \
                    T av = a[j * ac];                                         \
                    pb[j] = (av > tiny || av != av) ? av : tiny;              \
                }                                                             \
                fbp_vlog_##S(pb, pb, w);                                      \
                for (j = 0; j < w; j++) col[j] -= (double)(y[j] * pb[j]);     \
            } else {                                                          \
                for (j = 0; j < w; j++) {                                     \
                    double d = (double)a[j * ac] - (double)y[j];              \
                    col[j] += 0.5 * d * d;                                    \
                }                                                             \
            }                                                                 \
        }                                                                     \
    }                                                                         \
}                                                                             \
                                                                              \
/* colloss[j] for j in [j0, j1): as fbp_loss_sum_##S on (j, j + 1). */          \
static inline void fbp_loss_cols_##S(int loss, const T *AL, ptrdiff_t ar,     \
    ptrdiff_t ac, const void *Y, int yt, ptrdiff_t yr, ptrdiff_t yc,          \
    ptrdiff_t rows, ptrdiff_t j0, ptrdiff_t j1, double *colloss)              \
{                                                                             \
    fbp_loss_cols0_##S(loss, AL, ar, ac, Y, yt, yr, yc, rows, j0, j1,         \
                       colloss + j0);                                         \
}                                                                             \
                                                                              \
/* Sum over rows x [j0, j1) of the per-element loss: the column sums of       \
 * fbp_loss_cols added in column order. Divide by m outside. */               \
static inline double fbp_loss_sum_##S(int loss, const T *AL, ptrdiff_t ar,    \
    ptrdiff_t ac, const void *Y, int yt, ptrdiff_t yr, ptrdiff_t yc,          \
    ptrdiff_t rows, ptrdiff_t j0, ptrdiff_t j1)                               \
{                                                                             \
    double cl[FBP_LCHUNK], total = 0.0;                                       \
    ptrdiff_t j, c0;                                                          \
    for (c0 = j0; c0 < j1; c0 += FBP_LCHUNK) {                                \
        ptrdiff_t c1 = j1 - c0 < FBP_LCHUNK ? j1 : c0 + FBP_LCHUNK;           \
        fbp_loss_cols0_##S(loss, AL, ar, ac, Y, yt, yr, yc, rows, c0, c1, cl); \
        for (j = 0; j < c1 - c0; j++) total += cl[j];                         \
    }                                                                         \
    return total;                                                             \
}

FBP_DEFINE_LOSS(float, f, FLT_MIN, FBP_Y_F32)
FBP_DEFINE_LOSS(double, d, DBL_MIN, FBP_Y_F64)

#endif /* FASTBP_LOSS_H */
