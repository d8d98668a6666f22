/*
 * Output-layer kernels: column-wise softmax, the fused delta AL - Y, and the
 * mean losses, float and double. Layout: AL/Z are row-major blocks with
 * (row, column) strides in elements; a block of columns [j0, j1) is processed
 * so callers can split columns among threads.
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

enum fbp_loss { FBP_BCE = 0, FBP_CE = 1, FBP_MSE = 2 };
enum fbp_ytype { FBP_Y_F32 = 0, FBP_Y_F64 = 1, FBP_Y_U8 = 2, FBP_Y_I32 = 3,
                 FBP_Y_I64 = 4 };

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

#define FBP_DEFINE_LOSS(T, S, EXP, LOG, TINY, YSELF)                                 \
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
        for (j = 0; j < w; j++) {                                             \
            T e = EXP(z[j * zc] - mx[j]);                                     \
            o[j] = e; sm[j] += e;                                             \
        }                                                                     \
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
/* Sum over rows x [j0, j1) of the per-element loss, accumulated in double    \
 * in a fixed order (column by column, rows inside). Divide by m outside. */  \
static inline double fbp_loss_sum_##S(int loss, const T *AL, ptrdiff_t ar,    \
    ptrdiff_t ac, const void *Y, int yt, ptrdiff_t yr, ptrdiff_t yc,          \
    ptrdiff_t rows, ptrdiff_t j0, ptrdiff_t j1)                               \
{                                                                             \
    ptrdiff_t i, j;                                                           \
    double total = 0.0;                                                       \
    const T tiny = TINY;                                                      \
    for (j = j0; j < j1; j++) {                                               \
        double col = 0.0;                                                     \
        for (i = 0; i < rows; i++) {                                          \
            T a = AL[i * ar + j * ac];                                        \
            T y = (T)fbp_yval(Y, yt, i * yr + j * yc);                        \
            if (loss == FBP_BCE) {                                            \
                T p = a > tiny ? a : tiny, q = (T)1 - a;                      \
                q = q > tiny ? q : tiny;                                      \
                if (a != a) { p = a; q = a; }                                 \
                col -= (double)(y * LOG(p)) + (double)(((T)1 - y) * LOG(q));  \
            } else if (loss == FBP_CE) {                                      \
                T p = (a > tiny || a != a) ? a : tiny;                        \
                col -= (double)(y * LOG(p));                                  \
            } else {                                                          \
                double d = (double)a - (double)y;                             \
                col += 0.5 * d * d;                                           \
            }                                                                 \
        }                                                                     \
        total += col;                                                         \
    }                                                                         \
    return total;                                                             \
}

FBP_DEFINE_LOSS(float, f, expf, logf, FLT_MIN, FBP_Y_F32)
FBP_DEFINE_LOSS(double, d, exp, log, DBL_MIN, FBP_Y_F64)

#endif /* FASTBP_LOSS_H */
