/*
 * Output-layer kernels: column-wise softmax, the fused delta AL - Y, and the
 * mean losses, float and double: from the probabilities AL (clipped logs,
 * fastbp.loss) and from the logits Z (exact, everything that holds Z). Layout: AL/Z are row-major blocks with
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

/*
 * Cascade (pairwise) summation of a stream of per-column losses.
 *
 * The loss of m examples is a sum of m terms. Added one after the other its
 * rounding error grows like m (2e-13 relative at m = 3e5 in double), and a
 * gradient check divides that error by 2 epsilon: the course's check of
 * correct gradients at m = 300000 reported 8.8e-6, a mistake by its 2e-7
 * threshold, where NumPy's pairwise np.sum gave 3.3e-9. So each chunk of
 * FBP_LCHUNK columns is summed in column order (at most 64 terms: a batch
 * of up to 64 columns sums exactly as before), and the chunk sums are
 * paired like a binary counter -- s[k] holds the sum of 2^k chunks -- so the
 * error grows like log2(m / 64). The order is fixed by m alone.
 */
typedef struct {
    double s[64];
    uint64_t n;        /* chunk sums added; bit k set: s[k] holds 2^k of them */
    double chunk;      /* the running chunk's sum */
    int in_chunk;      /* terms in it */
} fbp_cascade;

static inline void fbp_cascade_init(fbp_cascade *c)
{
    c->n = 0;
    c->chunk = 0.0;
    c->in_chunk = 0;
}

static inline void fbp_cascade_push(fbp_cascade *c, double x)
{
    uint64_t n = c->n;
    int k = 0;
    while (n & 1) {
        x = c->s[k] + x;
        n >>= 1;
        k++;
    }
    c->s[k] = x;
    c->n++;
}

static inline void fbp_cascade_add(fbp_cascade *c, double x)
{
    c->chunk += x;
    if (++c->in_chunk == FBP_LCHUNK) {
        fbp_cascade_push(c, c->chunk);
        c->chunk = 0.0;
        c->in_chunk = 0;
    }
}

static inline double fbp_cascade_total(const fbp_cascade *c)
{
    /* the partial sums from the oldest (largest) to the newest, then the
     * running chunk: left to right, as a pairwise sum of the whole */
    double t = 0.0;
    int k, first = 1;
    for (k = 63; k >= 0; k--)
        if ((c->n >> k) & 1) {
            t = first ? c->s[k] : t + c->s[k];
            first = 0;
        }
    if (c->in_chunk)
        t = first ? c->chunk : t + c->chunk;
    return t;
}

/* sum of a[0:n] by the cascade above */
static inline double fbp_sum_cascade(const double *a, ptrdiff_t n)
{
    fbp_cascade c;
    ptrdiff_t j;
    fbp_cascade_init(&c);
    for (j = 0; j < n; j++)
        fbp_cascade_add(&c, a[j]);
    return fbp_cascade_total(&c);
}

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
            } else if (loss == FBP_POISSON) {                                 \
                /* mu - y log mu + (y log y - y), log mu clipped at TINY */   \
                for (j = 0; j < w; j++) {                                     \
                    double mu = (double)a[j * ac], yv = (double)y[j];         \
                    double lm = log(mu > (double)tiny || mu != mu ? mu : (double)tiny); \
                    col[j] += mu - (yv != 0 ? yv * lm : 0.0)                  \
                            + (yv > 0 ? yv * log(yv) : 0.0) - yv;             \
                }                                                             \
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
 * fbp_loss_cols added by fbp_cascade. Divide by m outside. */               \
static inline double fbp_loss_sum_##S(int loss, const T *AL, ptrdiff_t ar,    \
    ptrdiff_t ac, const void *Y, int yt, ptrdiff_t yr, ptrdiff_t yc,          \
    ptrdiff_t rows, ptrdiff_t j0, ptrdiff_t j1)                               \
{                                                                             \
    double cl[FBP_LCHUNK];                                                    \
    fbp_cascade acc;                                                          \
    ptrdiff_t j, c0;                                                          \
    fbp_cascade_init(&acc);                                                   \
    for (c0 = j0; c0 < j1; c0 += FBP_LCHUNK) {                                \
        ptrdiff_t c1 = j1 - c0 < FBP_LCHUNK ? j1 : c0 + FBP_LCHUNK;           \
        fbp_loss_cols0_##S(loss, AL, ar, ac, Y, yt, yr, yc, rows, c0, c1, cl); \
        for (j = 0; j < c1 - c0; j++) fbp_cascade_add(&acc, cl[j]);           \
    }                                                                         \
    return fbp_cascade_total(&acc);                                           \
}

FBP_DEFINE_LOSS(float, f, FLT_MIN, FBP_Y_F32)
FBP_DEFINE_LOSS(double, d, DBL_MIN, FBP_Y_F64)

/* 1 when every target Y (rows x cols) lies in the domain of the loss:
 * binary_crossentropy [0, 1]; crossentropy non-negative, each column summing
 * to 1 within tol; poisson non-negative and finite; mse anything. NaN is out
 * of every domain but mse's. The message is built in Python on a 0. */
static inline int fbp_targets_ok(int loss, const void *Y, int yt, ptrdiff_t yr,
    ptrdiff_t yc, ptrdiff_t rows, ptrdiff_t cols, double tol)
{
    double yb[FBP_LCHUNK], cs[FBP_LCHUNK];
    ptrdiff_t i, j, c0;
    int ok = 1;
    if (loss == FBP_MSE) return 1;
    for (c0 = 0; c0 < cols && ok; c0 += FBP_LCHUNK) {
        ptrdiff_t w = cols - c0 < FBP_LCHUNK ? cols - c0 : FBP_LCHUNK;
        for (j = 0; j < w; j++) cs[j] = 0.0;
        for (i = 0; i < rows; i++) {
            fbp_ygather_d(Y, yt, i * yr + c0 * yc, yc, w, yb);
            if (loss == FBP_BCE) {
                for (j = 0; j < w; j++) ok &= (yb[j] >= 0) & (yb[j] <= 1);
            } else if (loss == FBP_POISSON) {
                for (j = 0; j < w; j++) ok &= (yb[j] >= 0) & (yb[j] <= DBL_MAX);
            } else {
                for (j = 0; j < w; j++) { ok &= yb[j] >= 0; cs[j] += yb[j]; }
            }
        }
        if (loss == FBP_CE)
            for (j = 0; j < w; j++) ok &= fabs(cs[j] - 1.0) <= tol;
    }
    return ok;
}

/*
 * Losses from the logits Z (the output layer's pre-activation), exact where
 * the probabilities would round to 0 or 1. The linear terms (z y, max - z)
 * are formed in double, exactly; the bounded transcendental terms run in T
 * with the vectorised exp/log1p of fastbp_vmath.h, each to a few ulps of its
 * own size (log1p(e^-|z|) in [0, log 2]; a softmax column's e^(z - max),
 * whose sum without the max's own 1 is taken in double, and its log1p: see
 * fbp_lse0), so a small loss keeps its relative precision; Poisson's e^z,
 * which cancels against y z and y log y, is taken in double. Per column the
 * terms are summed in double in row order, as fbp_loss_cols0 does:
 *
 *   binary_crossentropy  softplus(z) - y z  =  max(z, 0) - z y + log1p(e^-|z|)
 *                        (written z (1 - y) for z > 0 and -z y otherwise, a
 *                        term skipped where its label factor is 0, so an
 *                        infinite logit with a 0/1 label stays exact)
 *   crossentropy         lse - sum_i y_i z_i,  lse = max_i z_i + log sum_i e^(z_i - max),
 *                        computed as sum_i y_i (max - z_i) + (log sum) + max (1 - s),
 *                        s = sum_i y_i (terms with y_i = 0 skipped). The
 *                        function whose gradient A - Y is: -sum_i y_i log a_i
 *                        equals it only where the column sums to 1 exactly
 *                        (it is s lse - sum_i y_i z_i), and soft targets are
 *                        taken within a tolerance of that. One-hot columns
 *                        give the bits of (max - z_c) + log sum as before.
 *   poisson              e^z - y z + (y log y - y)   (half Poisson deviance, xlogy)
 *   mse                  (z - y)^2 / 2
 *
 * clip > 0 (fastbp.sklearn: numpy's eps of the network's dtype) computes
 * scikit-learn's MLP loss values instead (sklearn/neural_network/_base.py,
 * log_loss and binary_log_loss): the probabilities clipped to [clip,
 * 1 - clip] before their logs. crossentropy: -sum_i y_i log clip(a_i)
 * whatever the column sums, each -log a_i = lse - z_i clamped to
 * [-log1p(-clip), -log(clip)]; binary_crossentropy in scikit-learn's own
 * arithmetic (p = expit(z) in T, clipped, log p and log(1 - p)), whose
 * 1 - p cancels where p is near 1 (a relative 1e-5 of a term at z ~ 30 in
 * float64): matching its values there takes its arithmetic. poisson too
 * (y_pred = e^z in T, xlogy(y, y / y_pred) - y + y_pred): inf or NaN where
 * e^z overflows or underflows in T, as scikit-learn's (its tol stopping and
 * L-BFGS's line search see those values).
 * Its gradient is A - Y all the same, as scikit-learn's is; L-BFGS's line
 * search compares these values, so its iterates follow scikit-learn's.
 *
 * With bad != NULL, *bad is set to 1 (never cleared) when a label lies
 * outside the loss's domain: binary_crossentropy [0, 1]; crossentropy
 * non-negative with each column summing to 1 within sqrt(eps), eps that of
 * T or of float Y's type, the larger (fastbp._validation's rule); poisson
 * non-negative and finite; NaN for all three. The caller builds the message.
 * bad == NULL skips the scan (targets already checked: fit's steps).
 */
/* x clamped to [lo, hi] */
static inline double fbp_clamp(double x, double lo, double hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

#define FBP_DEFINE_ZLOSS(T, S, EPS)                                           \
/* Columns [c0, c0 + w) (w <= FBP_LCHUNK) of Z: mx[j] = the column's max      \
 * (NaN-propagating) and sm[j] = log sum_i e^(z_ij - mx_j), in [0, log rows], \
 * so lse = mx + sm. The max's own term (e^0 = 1, exactly) is left out of     \
 * the sum and sm = log1p(sum of the others), summed and taken in double:     \
 * a column whose other terms are tiny (a confident prediction: its loss is   \
 * about their sum) keeps their relative precision, where log(1 + rest)       \
 * would round rest against 1 (all of it in double below 1e-16, in float      \
 * to 6e-8 absolute). im: w scratch indices, tb: w scratch values. */         \
static inline void fbp_lse0_##S(const T *Z, ptrdiff_t zr, ptrdiff_t zc,       \
    ptrdiff_t rows, ptrdiff_t c0, ptrdiff_t w, double *mx, double *sm,        \
    ptrdiff_t *im, T *tb)                                                     \
{                                                                             \
    ptrdiff_t i, j;                                                           \
    for (j = 0; j < w; j++) { mx[j] = -INFINITY; sm[j] = 0.0; im[j] = -1; }   \
    for (i = 0; i < rows; i++) {                                              \
        const T *z = Z + i * zr + c0 * zc;                                    \
        for (j = 0; j < w; j++) {                                             \
            double v = (double)z[j * zc];                                     \
            if (v > mx[j] || (v != v && mx[j] == mx[j])) {                    \
                mx[j] = v;                                                    \
                im[j] = i;                                                    \
            }                                                                 \
        }                                                                     \
    }                                                                         \
    /* a non-finite max keeps its own term: NaN then, as log(sum) was */      \
    for (j = 0; j < w; j++) if (!isfinite(mx[j])) im[j] = -1;                 \
    for (i = 0; i < rows; i++) {                                              \
        const T *z = Z + i * zr + c0 * zc;                                    \
        for (j = 0; j < w; j++) tb[j] = (T)((double)z[j * zc] - mx[j]);       \
        fbp_vexp_##S(tb, tb, w);                                              \
        for (j = 0; j < w; j++) if (i != im[j]) sm[j] += (double)tb[j];       \
    }                                                                         \
    fbp_vlog1p_d(sm, sm, w);                                                  \
}                                                                             \
                                                                              \
static inline void fbp_zloss_cols0_##S(int loss, const T *Z, ptrdiff_t zr,    \
    ptrdiff_t zc, const void *Y, int yt, ptrdiff_t yr, ptrdiff_t yc,          \
    ptrdiff_t rows, ptrdiff_t j0, ptrdiff_t j1, double *out, int *bad,        \
    double clip)                                                              \
{                                                                             \
    ptrdiff_t i, j, c0;                                                       \
    /* clip > 0: -log p clamped to [lo, hi], p clipped to [clip, 1 - clip] */ \
    const double hi = clip > 0 ? -log(clip) : 0.0;                            \
    const double lo = clip > 0 ? -log1p(-clip) : 0.0;                         \
    double zb[FBP_LCHUNK], yb[FBP_LCHUNK], eb[FBP_LCHUNK];                    \
    double mx[FBP_LCHUNK], ys[FBP_LCHUNK], sm[FBP_LCHUNK];                    \
    ptrdiff_t im[FBP_LCHUNK];                                                 \
    T tb[FBP_LCHUNK];                                                         \
    const double tol = sqrt(yt == FBP_Y_F32 && FLT_EPSILON > (EPS)            \
                            ? (double)FLT_EPSILON : (double)(EPS));           \
    int b = 0;                                                                \
    for (c0 = j0; c0 < j1; c0 += FBP_LCHUNK) {                                \
        ptrdiff_t w = j1 - c0 < FBP_LCHUNK ? j1 - c0 : FBP_LCHUNK;            \
        double *col = out + (c0 - j0);                                        \
        for (j = 0; j < w; j++) col[j] = 0.0;                                 \
        if (loss == FBP_CE) {                                                 \
            fbp_lse0_##S(Z, zr, zc, rows, c0, w, mx, sm, im, tb);            \
            for (j = 0; j < w; j++) ys[j] = 0.0;                              \
            for (i = 0; i < rows; i++) {                                      \
                const T *z = Z + i * zr + c0 * zc;                            \
                fbp_ygather_d(Y, yt, i * yr + c0 * yc, yc, w, yb);            \
                if (bad)                                                      \
                    for (j = 0; j < w; j++) b |= !(yb[j] >= 0);               \
                for (j = 0; j < w; j++) {                                     \
                    double yv = yb[j];                                        \
                    ys[j] += yv;                                              \
                    if (yv != 0 && clip > 0)                                  \
                        col[j] += yv * fbp_clamp(mx[j] + sm[j]                \
                                                 - (double)z[j * zc], lo, hi); \
                    else if (yv != 0)                                         \
                        col[j] += yv * (mx[j] - (double)z[j * zc]);           \
                }                                                             \
            }                                                                 \
            for (j = 0; j < w && !(clip > 0); j++) {                          \
                col[j] += sm[j];                                              \
                if (ys[j] != 1.0)                                             \
                    col[j] += mx[j] * (1.0 - ys[j]);                          \
            }                                                                 \
            if (bad)                                                          \
                for (j = 0; j < w; j++) b |= !(fabs(ys[j] - 1.0) <= tol);     \
            continue;                                                         \
        }                                                                     \
        for (i = 0; i < rows; i++) {                                          \
            const T *z = Z + i * zr + c0 * zc;                                \
            for (j = 0; j < w; j++) zb[j] = (double)z[j * zc];                \
            fbp_ygather_d(Y, yt, i * yr + c0 * yc, yc, w, yb);                \
            if (loss == FBP_BCE) {                                            \
                for (j = 0; j < w; j++) tb[j] = (T)-fabs(zb[j]);              \
                fbp_vexp_##S(tb, tb, w);                                      \
                fbp_vlog1p_##S(tb, tb, w);                                    \
                if (bad)                                                      \
                    for (j = 0; j < w; j++) b |= !(yb[j] >= 0 && yb[j] <= 1); \
                for (j = 0; j < w; j++) {                                     \
                    double zv = zb[j], yv = yb[j], q = 1.0 - yv, t;           \
                    if (clip > 0) {                                           \
                        /* scikit-learn's arithmetic, in T: p = expit(z)      \
                         * (SciPy's 1 / (1 + e^-z)), clipped, then the logs   \
                         * of p and of 1 - p (which cancels where p ~ 1:      \
                         * its values, not softplus's, are the reference) */  \
                        T pt = (T)1 / ((T)1 + (T)exp(-zv)), qt;               \
                        pt = pt < (T)clip ? (T)clip                           \
                            : (pt > (T)1 - (T)clip ? (T)1 - (T)clip : pt);    \
                        qt = (T)1 - pt;                                       \
                        if (zv != zv) pt = qt = (T)zv;                        \
                        col[j] -= (yv != 0 ? yv * log((double)pt) : 0.0)      \
                                + (q != 0 ? q * log((double)qt) : 0.0);       \
                        continue;                                             \
                    }                                                         \
                    if (zv > 0) t = q != 0 ? zv * q : 0.0;                    \
                    else t = yv != 0 ? -zv * yv : 0.0;                        \
                    col[j] += t + (double)tb[j];                              \
                }                                                             \
            } else if (loss == FBP_POISSON) {                                 \
                fbp_vexp_d(zb, eb, w);                                        \
                for (j = 0; j < w; j++) mx[j] = yb[j] > 0 ? yb[j] : 1.0;      \
                fbp_vlog_d(mx, mx, w);                                        \
                if (bad)                                                      \
                    for (j = 0; j < w; j++)                                   \
                        b |= !(yb[j] >= 0 && yb[j] <= DBL_MAX);               \
                for (j = 0; j < w; j++) {                                     \
                    double zv = zb[j], yv = yb[j];                            \
                    if (clip > 0) {                                           \
                        /* scikit-learn's arithmetic, in T: y_pred = e^z      \
                         * (inf / 0 where it overflows / underflows), then    \
                         * xlogy(y, y / y_pred) - y + y_pred: inf or NaN      \
                         * where scikit-learn's is */                         \
                        T yp = (T)eb[j], r = (T)yv / yp;                      \
                        double xl = yv != 0 ? yv * log((double)r)             \
                                            : (r != r ? (double)r : 0.0);     \
                        col[j] += xl - yv + (double)yp;                       \
                        continue;                                             \
                    }                                                         \
                    col[j] += eb[j] - (yv != 0 ? yv * zv : 0.0)               \
                            + (yv > 0 ? yv * mx[j] : 0.0) - yv;               \
                }                                                             \
            } else {                                                          \
                for (j = 0; j < w; j++) {                                     \
                    double d = zb[j] - yb[j];                                 \
                    col[j] += 0.5 * d * d;                                    \
                }                                                             \
            }                                                                 \
        }                                                                     \
    }                                                                         \
    if (b && bad) *bad = 1;                                                   \
}                                                                             \
                                                                              \
/* colloss[j] for j in [j0, j1): the loss of column j from the logits. */    \
static inline void fbp_zloss_cols_##S(int loss, const T *Z, ptrdiff_t zr,     \
    ptrdiff_t zc, const void *Y, int yt, ptrdiff_t yr, ptrdiff_t yc,          \
    ptrdiff_t rows, ptrdiff_t j0, ptrdiff_t j1, double *colloss, int *bad,    \
    double clip)                                                              \
{                                                                             \
    fbp_zloss_cols0_##S(loss, Z, zr, zc, Y, yt, yr, yc, rows, j0, j1,         \
                        colloss + j0, bad, clip);                             \
}                                                                             \
                                                                              \
/* Sum over rows x [j0, j1) of the loss from the logits, the column sums      \
 * added by fbp_cascade (as fbp_loss_sum). Divide by m outside. */           \
static inline double fbp_zloss_sum_##S(int loss, const T *Z, ptrdiff_t zr,    \
    ptrdiff_t zc, const void *Y, int yt, ptrdiff_t yr, ptrdiff_t yc,          \
    ptrdiff_t rows, ptrdiff_t j0, ptrdiff_t j1, int *bad, double clip)        \
{                                                                             \
    double cl[FBP_LCHUNK];                                                    \
    fbp_cascade acc;                                                          \
    ptrdiff_t j, c0;                                                          \
    fbp_cascade_init(&acc);                                                   \
    for (c0 = j0; c0 < j1; c0 += FBP_LCHUNK) {                                \
        ptrdiff_t c1 = j1 - c0 < FBP_LCHUNK ? j1 : c0 + FBP_LCHUNK;           \
        fbp_zloss_cols0_##S(loss, Z, zr, zc, Y, yt, yr, yc, rows, c0, c1, cl, bad, \
                            clip);                                            \
        for (j = 0; j < c1 - c0; j++) fbp_cascade_add(&acc, cl[j]);           \
    }                                                                         \
    return fbp_cascade_total(&acc);                                           \
}                                                                             \
                                                                              \
/* lse[j] = log sum_i e^Z[i, j] (max-shifted, in double) for j in [j0, j1):   \
 * with class labels c_j the cross-entropy of column j is lse[j] - Z[c_j, j]. */ \
static inline void fbp_lse_cols_##S(const T *Z, ptrdiff_t zr, ptrdiff_t zc,   \
    ptrdiff_t rows, ptrdiff_t j0, ptrdiff_t j1, double *lse)                  \
{                                                                             \
    ptrdiff_t j, c0;                                                          \
    double mx[FBP_LCHUNK], sm[FBP_LCHUNK];                                    \
    ptrdiff_t im[FBP_LCHUNK];                                                 \
    T tb[FBP_LCHUNK];                                                         \
    for (c0 = j0; c0 < j1; c0 += FBP_LCHUNK) {                                \
        ptrdiff_t w = j1 - c0 < FBP_LCHUNK ? j1 - c0 : FBP_LCHUNK;            \
        fbp_lse0_##S(Z, zr, zc, rows, c0, w, mx, sm, im, tb);                 \
        for (j = 0; j < w; j++) lse[c0 - j0 + j] = mx[j] + sm[j];             \
    }                                                                         \
}

FBP_DEFINE_ZLOSS(float, f, FLT_EPSILON)
FBP_DEFINE_ZLOSS(double, d, DBL_EPSILON)

#endif /* FASTBP_LOSS_H */
