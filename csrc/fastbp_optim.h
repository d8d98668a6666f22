/*
 * Optimizer updates of the network kernel over a range [a, b) of the flat
 * parameter buffer P, its gradient G and the state S1 (first moment) / S2
 * (second moment).
 *
 * Adam: gcc will not vectorise sqrt without -fno-math-errno (not used for
 * wheels), and the scalar sqrt + divide made the update several times slower
 * than the memory traffic it needs; so the body is written with SSE2
 * intrinsics (baseline x86-64). sqrtps and divps round exactly like their
 * scalar forms and the operations run in the same order, so results equal
 * the scalar loop bit for bit.
 *
 * The step form of Adam (Kingma & Ba 2015, end of section 2; scikit-learn's)
 * is this same loop with c1 = c2 = 1 and lr = lr_t (see _netstep.pxd's
 * _update): multiplying by 1 is exact, so it rounds as that form does.
 */
#ifndef FASTBP_OPTIM_H
#define FASTBP_OPTIM_H

#include <math.h>
#include <stddef.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The vector part of one definition for both types: the SSE2 vector type V
 * of W lanes and the intrinsics' suffix SUF (ps/pd). */
#if defined(__SSE2__)
#define FBP_ADAM_SIMD(V, W, SUF)                                              \
    const V vb1 = _mm_set1_##SUF(b1), vb2 = _mm_set1_##SUF(b2),              \
        vn1 = _mm_set1_##SUF(nb1), vn2 = _mm_set1_##SUF(nb2),                 \
        vlr = _mm_set1_##SUF(lr), veps = _mm_set1_##SUF(eps),                 \
        vc1 = _mm_set1_##SUF(c1), vc2 = _mm_set1_##SUF(c2);                   \
    for (; i + W <= b; i += W) {                                              \
        V g = _mm_loadu_##SUF(G + i);                                         \
        V v = _mm_add_##SUF(_mm_mul_##SUF(vb1, _mm_loadu_##SUF(S1 + i)),      \
                            _mm_mul_##SUF(vn1, g));                           \
        V s = _mm_add_##SUF(_mm_mul_##SUF(vb2, _mm_loadu_##SUF(S2 + i)),      \
                            _mm_mul_##SUF(_mm_mul_##SUF(vn2, g), g));         \
        V step;                                                               \
        _mm_storeu_##SUF(S1 + i, v);                                          \
        _mm_storeu_##SUF(S2 + i, s);                                          \
        step = _mm_div_##SUF(_mm_mul_##SUF(vlr, _mm_mul_##SUF(v, vc1)),       \
            _mm_add_##SUF(_mm_sqrt_##SUF(_mm_mul_##SUF(s, vc2)), veps));      \
        _mm_storeu_##SUF(P + i, _mm_sub_##SUF(_mm_loadu_##SUF(P + i), step)); \
    }
#else
#define FBP_ADAM_SIMD(V, W, SUF)
#endif

/* Adam over [a, b): v = b1 S1 + nb1 g; s = b2 S2 + nb2 g^2;
 * P -= lr (v c1) / (sqrt(s c2) + eps), with c1, c2 the bias corrections. */
#define FBP_DEFINE_ADAM(T, S, V, W, SUF, SQRT)                                \
static inline void fbp_adam_##S(T *P, const T *G, T *S1, T *S2, ptrdiff_t a,  \
    ptrdiff_t b, T lr, T b1, T b2, T nb1, T nb2, T eps, T c1, T c2)           \
{                                                                             \
    ptrdiff_t i = a;                                                          \
    FBP_ADAM_SIMD(V, W, SUF)                                                  \
    for (; i < b; i++) {                                                      \
        T g = G[i];                                                           \
        T v = b1 * S1[i] + nb1 * g;                                           \
        T s = b2 * S2[i] + nb2 * g * g;                                       \
        S1[i] = v;                                                            \
        S2[i] = s;                                                            \
        P[i] -= lr * (v * c1) / (SQRT(s * c2) + eps);                         \
    }                                                                         \
}

FBP_DEFINE_ADAM(float, f, __m128, 4, ps, sqrtf)
FBP_DEFINE_ADAM(double, d, __m128d, 2, pd, sqrt)

#endif
