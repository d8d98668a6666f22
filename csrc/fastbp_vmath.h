/*
 * Vectorised transcendental functions over arrays, float and double:
 *
 *     fbp_v{exp,expm1,log,log1p,tanh,sigmoid}_{f,d}(const T *x, T *y, n)
 *
 * y[k] = f(x[k]) for k < n; x == y (in place) is allowed. Accuracy (tested
 * in tests/test_vmath.py): double within 4 ulp of NumPy's correctly rounded
 * libm, float within 4 ulp of the double result rounded to float, with exact
 * IEEE special values (inf, nan, signed zeros, subnormals, over/underflow).
 *
 * Written with GCC/clang vector extensions on 32-byte vectors (4 doubles or
 * 8 floats): the same source becomes AVX2+FMA code in one clone and pairs of
 * SSE2 instructions in the baseline clone (csrc/fastbp_cpu.h picks one per
 * call). No -ffast-math is relied on: every step is an IEEE operation, and
 * integer work is done on bit patterns obtained through the 1.5*2^52 (2^23)
 * shifter, so no int64 compare or int<->double conversion is needed (SSE2
 * has neither). The tail of an array is computed by the same vector code on
 * a padded copy, so a result never depends on the element's position.
 * Compilers without vector extensions (MSVC) get scalar libm loops.
 *
 * Algorithms (all from first principles; coefficients are Taylor's):
 *   exp    x = n ln2 + r, |r| <= ln2/2 (Cody-Waite split of ln2), exp(r) by
 *          its Taylor polynomial (degree 13 double, 7 float), times 2^n as
 *          two power-of-two factors so subnormal results round once.
 *   expm1  same reduction; 2^n expm1(r) + (2^n - 1), exact for n = 0.
 *   log    x = 2^e m, m in [sqrt(1/2), sqrt(2)), f = m - 1, s = f/(2+f),
 *          log(1+f) = f - (f^2/2 - s (f^2/2 + R(s^2))) (fdlibm's form, R the
 *          atanh series), plus e ln2 split in two parts.
 *   log1p  log(w) - ((w - 1) - x)/w with w = 1 + x (corrects w's rounding).
 *   tanh   sign(x) t/(t + 2) for |x| < 1, else sign(x) (1 - 2/(t + 2)),
 *          t = expm1(2|x|), |x| clamped at 20 (10 float).
 *   sigmoid  e = exp(-|z|); 1/(1+e) for z >= 0, e/(1+e) otherwise.
 */
#ifdef FBP_VM_TEMPLATE
/* ------------------------------------------------------------------------
 * Element functions on one vector, included twice by the main part below:
 * once on 32-byte vectors (the AVX2 clone) and once on 16-byte vectors (the
 * baseline clone: gcc splits 32-byte arithmetic into SSE2 pairs but
 * scalarises 32-byte comparisons, which made it slower). VD/VL/VU are
 * the double/int64/uint64 vectors, VF/VI/VU32 the float/int32/uint32 ones;
 * FBP_VN(name) appends the width to a name.
 * --------------------------------------------------------------------- */
/* m ? a : b lane-wise (m all-ones or all-zeros per lane). */
FBP_VI VD FBP_VN(fbp_sel_d)(VL m, VD a, VD b)
{
    return (VD)((m & (VL)a) | (~m & (VL)b));
}
FBP_VI VF FBP_VN(fbp_sel_f)(VI m, VF a, VF b)
{
    return (VF)((m & (VI)a) | (~m & (VI)b));
}

/* ------------------------------------------------------------ double */

#define FBP_SHIFT_D 6755399441055744.0          /* 1.5 * 2^52 */
#define FBP_INVLN2_D 1.4426950408889634074
#define FBP_LN2HI_D 6.93147180369123816490e-01  /* 0x3fe62e42fee00000 */
#define FBP_LN2LO_D 1.90821492927058770002e-10

/* Range reduction for exp/expm1: x = n ln2 + r + c, returns r, sets *nd = n
 * as a double (integral) and *c to r's rounding error. x must be finite-clamped (|x| < 1100) or NaN. */
FBP_VI VD FBP_VN(fbp_reduce_d)(VD x, VD *nd, VD *c)
{
    VD k = x * FBP_B(VD, FBP_INVLN2_D) + FBP_B(VD, FBP_SHIFT_D);
    VD n = k - FBP_B(VD, FBP_SHIFT_D);
    VD hi = x - n * FBP_B(VD, FBP_LN2HI_D);   /* exact */
    VD r = hi - n * FBP_B(VD, FBP_LN2LO_D);
    *nd = n;
    *c = (hi - r) - n * FBP_B(VD, FBP_LN2LO_D);  /* what r lost in rounding */
    return r;
}

/* expm1(r) - r for |r| <= 0.35: r^2 (1/2! + r/3! + ... + r^11/13!). */
FBP_VI VD FBP_VN(fbp_expm1_poly_d)(VD r)
{
    VD q = FBP_B(VD, 1.0 / 6227020800.0);
    q = q * r + FBP_B(VD, 1.0 / 479001600.0);
    q = q * r + FBP_B(VD, 1.0 / 39916800.0);
    q = q * r + FBP_B(VD, 1.0 / 3628800.0);
    q = q * r + FBP_B(VD, 1.0 / 362880.0);
    q = q * r + FBP_B(VD, 1.0 / 40320.0);
    q = q * r + FBP_B(VD, 1.0 / 5040.0);
    q = q * r + FBP_B(VD, 1.0 / 720.0);
    q = q * r + FBP_B(VD, 1.0 / 120.0);
    q = q * r + FBP_B(VD, 1.0 / 24.0);
    q = q * r + FBP_B(VD, 1.0 / 6.0);
    q = q * r + FBP_B(VD, 0.5);
    return (r * r) * q;
}

/* 2^n for integral n (as double) in [-1022, 1023]: exponent bits built from
 * the shifter's low bits. */
FBP_VI VD FBP_VN(fbp_pow2_d)(VD n)
{
    VL k = (VL)(n + FBP_B(VD, FBP_SHIFT_D)) - (VL)FBP_B(VD, FBP_SHIFT_D);
    return (VD)((k + FBP_B(VL, 1023)) << 52);
}

FBP_VI VD FBP_VN(fbp_vm_exp_d)(VD x)
{
    VD n, n1, p, r, c;
    /* clamp (NaN passes through): e^-750 underflows to 0, e^710 overflows */
    x = FBP_VN(fbp_sel_d)((VL)(x < FBP_B(VD, -750.0)), FBP_B(VD, -750.0), x);
    x = FBP_VN(fbp_sel_d)((VL)(x > FBP_B(VD, 710.0)), FBP_B(VD, 710.0), x);
    r = FBP_VN(fbp_reduce_d)(x, &n, &c);
    p = FBP_B(VD, 1.0) + (r + (FBP_VN(fbp_expm1_poly_d)(r) + c));
    /* 2^n as 2^n1 * 2^(n-n1), n1 = n/2 rounded: each factor is normal and the
     * first product exact, so a subnormal result is rounded once */
    n1 = (n * FBP_B(VD, 0.5) + FBP_B(VD, FBP_SHIFT_D)) - FBP_B(VD, FBP_SHIFT_D);
    return (p * FBP_VN(fbp_pow2_d)(n1)) * FBP_VN(fbp_pow2_d)(n - n1);
}

FBP_VI VD FBP_VN(fbp_vm_expm1_d)(VD x)
{
    VD n, na, p, r, c, sa, y;
    VL tiny = (VL)((VD)((VL)x & FBP_B(VL, INT64_MAX))
                             < FBP_B(VD, 0x1p-54));
    /* below -40 the answer rounds to -1; above 710 it is inf */
    VD xc = FBP_VN(fbp_sel_d)((VL)(x < FBP_B(VD, -40.0)), FBP_B(VD, -40.0), x);
    xc = FBP_VN(fbp_sel_d)((VL)(xc > FBP_B(VD, 710.0)), FBP_B(VD, 710.0), xc);
    r = FBP_VN(fbp_reduce_d)(xc, &n, &c);
    /* expm1(r + c) = r + [poly + c (1 + expm1(r))] */
    p = FBP_VN(fbp_expm1_poly_d)(r);
    p = p + c * (FBP_B(VD, 1.0) + (r + p));
    /* 2^n expm1(r) + (2^n - 1) with n <= 60; beyond, 2^n - 1 == 2^n and the rest
     * of the power of two multiplies the result (overflow -> inf) */
    na = FBP_VN(fbp_sel_d)((VL)(n > FBP_B(VD, 60.0)), FBP_B(VD, 60.0), n);
    sa = FBP_VN(fbp_pow2_d)(na);
    /* (2^n - 1 + 2^n r) is one rounding; the small rest is added last */
    y = (((sa - FBP_B(VD, 1.0)) + sa * r) + sa * p) * FBP_VN(fbp_pow2_d)(n - na);
    return FBP_VN(fbp_sel_d)(tiny, x, y);   /* keeps -0 and tiny x exact */
}

FBP_VI VD FBP_VN(fbp_vm_log_d)(VD x)
{
    const VL sub = (VL)(x < FBP_B(VD, 0x1p-1022));
    VD xs = FBP_VN(fbp_sel_d)(sub, x * FBP_B(VD, 0x1p54), x);
    VD eadj = FBP_VN(fbp_sel_d)(sub, FBP_B(VD, -54.0), FBP_B(VD, 0.0));
    VU ix = (VU)xs;
    /* tmp's exponent field is e + 1024 where x = 2^e m, m in [sqrt.5, sqrt2) */
    VU tmp = ix - FBP_B(VU, 0x3fe6a09e667f3bcdULL)
                  + FBP_B(VU, 0x4000000000000000ULL);
    VU eb = tmp >> 52;
    VD m = (VD)(ix - ((eb - FBP_B(VU, 1024)) << 52));
    VD e = ((VD)(eb | (VU)FBP_B(VD, 0x1p52)) - FBP_B(VD, 0x1p52))
                - FBP_B(VD, 1024.0) + eadj;
    VD f = m - FBP_B(VD, 1.0);
    VD s = f / (FBP_B(VD, 2.0) + f);
    VD z = s * s;
    VD hfsq = FBP_B(VD, 0.5) * f * f;
    VD R = FBP_B(VD, 2.0 / 21.0);
    VD y;
    R = R * z + FBP_B(VD, 2.0 / 19.0);
    R = R * z + FBP_B(VD, 2.0 / 17.0);
    R = R * z + FBP_B(VD, 2.0 / 15.0);
    R = R * z + FBP_B(VD, 2.0 / 13.0);
    R = R * z + FBP_B(VD, 2.0 / 11.0);
    R = R * z + FBP_B(VD, 2.0 / 9.0);
    R = R * z + FBP_B(VD, 2.0 / 7.0);
    R = R * z + FBP_B(VD, 2.0 / 5.0);
    R = R * z + FBP_B(VD, 2.0 / 3.0);
    R = R * z;
    y = e * FBP_B(VD, FBP_LN2HI_D)
        - ((hfsq - (s * (hfsq + R) + e * FBP_B(VD, FBP_LN2LO_D))) - f);
    /* specials: log(+-0) = -inf, log(x<0) = nan, log(inf) = inf, nan -> nan */
    y = FBP_VN(fbp_sel_d)((VL)(x == FBP_B(VD, INFINITY)), x, y);
    y = FBP_VN(fbp_sel_d)((VL)(x < FBP_B(VD, 0.0)), FBP_B(VD, NAN), y);
    y = FBP_VN(fbp_sel_d)((VL)(x == FBP_B(VD, 0.0)), FBP_B(VD, -INFINITY), y);
    y = FBP_VN(fbp_sel_d)((VL)(x != x), x + x, y);
    return y;
}

FBP_VI VD FBP_VN(fbp_vm_log1p_d)(VD x)
{
    VD w = FBP_B(VD, 1.0) + x;
    VD c = (w - FBP_B(VD, 1.0)) - x;
    VD y = FBP_VN(fbp_vm_log_d)(w);
    /* no correction where w is 0 (x = -1) or inf (x = inf or huge) */
    VL ok = (VL)(w > FBP_B(VD, 0.0)) & (VL)(w < FBP_B(VD, INFINITY));
    y = y - FBP_VN(fbp_sel_d)(ok, c / w, FBP_B(VD, 0.0));
    return FBP_VN(fbp_sel_d)((VL)(x == FBP_B(VD, 0.0)), x, y);  /* -0 -> -0 */
}

FBP_VI VD FBP_VN(fbp_vm_tanh_d)(VD x)
{
    const VL sgn = FBP_B(VL, INT64_MIN);
    VD ax = (VD)((VL)x & ~sgn), t, q, y;
    VL big;
    ax = FBP_VN(fbp_sel_d)((VL)(ax > FBP_B(VD, 20.0)), FBP_B(VD, 20.0), ax);
    t = FBP_VN(fbp_vm_expm1_d)(ax + ax);
    /* |x| >= 1: 1 - 2/(t + 2) (fdlibm's form). t/(t + 2) rounded t + 2 back
     * to t once t's spacing reached 4 and returned exactly 1 from |x| = 18.71
     * on, where tanh rounds to 1 - 2^-53 up to 19.06 (the derivative 1 - A^2
     * read from A was then 0). One division: q = (2 or t) / (t + 2). */
    big = (VL)(ax >= FBP_B(VD, 1.0));
    q = FBP_VN(fbp_sel_d)(big, FBP_B(VD, 2.0), t) / (t + FBP_B(VD, 2.0));
    y = FBP_VN(fbp_sel_d)(big, FBP_B(VD, 1.0) - q, q);
    return (VD)((VL)y | ((VL)x & sgn));
}

FBP_VI VD FBP_VN(fbp_vm_sigmoid_d)(VD z)
{
    const VL sgn = FBP_B(VL, INT64_MIN);
    VD e = FBP_VN(fbp_vm_exp_d)((VD)((VL)z | sgn));   /* exp(-|z|) */
    VD num = FBP_VN(fbp_sel_d)((VL)(z >= FBP_B(VD, 0.0)), FBP_B(VD, 1.0), e);
    return num / (FBP_B(VD, 1.0) + e);
}

/* ------------------------------------------------------------ float */

#define FBP_SHIFT_F 12582912.0f                  /* 1.5 * 2^23 */
#define FBP_INVLN2_F 1.44269504088896341f
#define FBP_LN2HI_F 0.693359375f
#define FBP_LN2LO_F -2.12194440e-4f

FBP_VI VF FBP_VN(fbp_reduce_f)(VF x, VF *nd, VF *c)
{
    VF k = x * FBP_B(VF, FBP_INVLN2_F) + FBP_B(VF, FBP_SHIFT_F);
    VF n = k - FBP_B(VF, FBP_SHIFT_F);
    VF hi = x - n * FBP_B(VF, FBP_LN2HI_F);   /* exact */
    VF r = hi - n * FBP_B(VF, FBP_LN2LO_F);
    *nd = n;
    *c = (hi - r) - n * FBP_B(VF, FBP_LN2LO_F);  /* what r lost in rounding */
    return r;
}

/* expm1(r) - r for |r| <= 0.35: r^2 (1/2! + ... + r^5/7!). */
FBP_VI VF FBP_VN(fbp_expm1_poly_f)(VF r)
{
    VF q = FBP_B(VF, (float)(1.0 / 5040.0));
    q = q * r + FBP_B(VF, (float)(1.0 / 720.0));
    q = q * r + FBP_B(VF, (float)(1.0 / 120.0));
    q = q * r + FBP_B(VF, (float)(1.0 / 24.0));
    q = q * r + FBP_B(VF, (float)(1.0 / 6.0));
    q = q * r + FBP_B(VF, 0.5f);
    return (r * r) * q;
}

FBP_VI VF FBP_VN(fbp_pow2_f)(VF n)
{
    VI k = (VI)(n + FBP_B(VF, FBP_SHIFT_F)) - (VI)FBP_B(VF, FBP_SHIFT_F);
    return (VF)((k + FBP_B(VI, 127)) << 23);
}

FBP_VI VF FBP_VN(fbp_vm_exp_f)(VF x)
{
    VF n, n1, p, r, c;
    x = FBP_VN(fbp_sel_f)((VI)(x < FBP_B(VF, -104.0f)), FBP_B(VF, -104.0f), x);
    x = FBP_VN(fbp_sel_f)((VI)(x > FBP_B(VF, 89.0f)), FBP_B(VF, 89.0f), x);
    r = FBP_VN(fbp_reduce_f)(x, &n, &c);
    p = FBP_B(VF, 1.0f) + (r + (FBP_VN(fbp_expm1_poly_f)(r) + c));
    n1 = (n * FBP_B(VF, 0.5f) + FBP_B(VF, FBP_SHIFT_F)) - FBP_B(VF, FBP_SHIFT_F);
    return (p * FBP_VN(fbp_pow2_f)(n1)) * FBP_VN(fbp_pow2_f)(n - n1);
}

FBP_VI VF FBP_VN(fbp_vm_expm1_f)(VF x)
{
    VF n, na, p, r, c, sa, y;
    VI tiny = (VI)((VF)((VI)x & FBP_B(VI, INT32_MAX))
                             < FBP_B(VF, 0x1p-25f));
    VF xc = FBP_VN(fbp_sel_f)((VI)(x < FBP_B(VF, -20.0f)), FBP_B(VF, -20.0f), x);
    xc = FBP_VN(fbp_sel_f)((VI)(xc > FBP_B(VF, 89.0f)), FBP_B(VF, 89.0f), xc);
    r = FBP_VN(fbp_reduce_f)(xc, &n, &c);
    /* expm1(r + c) = r + [poly + c (1 + expm1(r))] */
    p = FBP_VN(fbp_expm1_poly_f)(r);
    p = p + c * (FBP_B(VF, 1.0f) + (r + p));
    na = FBP_VN(fbp_sel_f)((VI)(n > FBP_B(VF, 30.0f)), FBP_B(VF, 30.0f), n);
    sa = FBP_VN(fbp_pow2_f)(na);
    /* (2^n - 1 + 2^n r) is one rounding; the small rest is added last */
    y = (((sa - FBP_B(VF, 1.0f)) + sa * r) + sa * p) * FBP_VN(fbp_pow2_f)(n - na);
    return FBP_VN(fbp_sel_f)(tiny, x, y);
}

FBP_VI VF FBP_VN(fbp_vm_log_f)(VF x)
{
    const VI sub = (VI)(x < FBP_B(VF, 0x1p-126f));
    VF xs = FBP_VN(fbp_sel_f)(sub, x * FBP_B(VF, 0x1p25f), x);
    VF eadj = FBP_VN(fbp_sel_f)(sub, FBP_B(VF, -25.0f), FBP_B(VF, 0.0f));
    VU32 ix = (VU32)xs;
    VU32 tmp = ix - (VU32)FBP_B(VI, 0x3f3504f3) + (VU32)FBP_B(VI, 0x40000000);
    VU32 eb = tmp >> 23;
    VF m = (VF)(ix - ((eb - (VU32)FBP_B(VI, 128)) << 23));
    VF e = ((VF)(eb | (VU32)FBP_B(VF, 0x1p23f)) - FBP_B(VF, 0x1p23f))
                - FBP_B(VF, 128.0f) + eadj;
    VF f = m - FBP_B(VF, 1.0f);
    VF s = f / (FBP_B(VF, 2.0f) + f);
    VF z = s * s;
    VF hfsq = FBP_B(VF, 0.5f) * f * f;
    VF R = FBP_B(VF, (float)(2.0 / 11.0)), y;
    R = R * z + FBP_B(VF, (float)(2.0 / 9.0));
    R = R * z + FBP_B(VF, (float)(2.0 / 7.0));
    R = R * z + FBP_B(VF, (float)(2.0 / 5.0));
    R = R * z + FBP_B(VF, (float)(2.0 / 3.0));
    R = R * z;
    y = e * FBP_B(VF, FBP_LN2HI_F)
        - ((hfsq - (s * (hfsq + R) + e * FBP_B(VF, FBP_LN2LO_F))) - f);
    y = FBP_VN(fbp_sel_f)((VI)(x == FBP_B(VF, INFINITY)), x, y);
    y = FBP_VN(fbp_sel_f)((VI)(x < FBP_B(VF, 0.0f)), FBP_B(VF, NAN), y);
    y = FBP_VN(fbp_sel_f)((VI)(x == FBP_B(VF, 0.0f)), FBP_B(VF, -INFINITY), y);
    y = FBP_VN(fbp_sel_f)((VI)(x != x), x + x, y);
    return y;
}

FBP_VI VF FBP_VN(fbp_vm_log1p_f)(VF x)
{
    VF w = FBP_B(VF, 1.0f) + x;
    VF c = (w - FBP_B(VF, 1.0f)) - x;
    VF y = FBP_VN(fbp_vm_log_f)(w);
    VI ok = (VI)(w > FBP_B(VF, 0.0f)) & (VI)(w < FBP_B(VF, INFINITY));
    y = y - FBP_VN(fbp_sel_f)(ok, c / w, FBP_B(VF, 0.0f));
    return FBP_VN(fbp_sel_f)((VI)(x == FBP_B(VF, 0.0f)), x, y);
}

FBP_VI VF FBP_VN(fbp_vm_tanh_f)(VF x)
{
    const VI sgn = FBP_B(VI, INT32_MIN);
    VF ax = (VF)((VI)x & ~sgn), t, q, y;
    VI big;
    ax = FBP_VN(fbp_sel_f)((VI)(ax > FBP_B(VF, 10.0f)), FBP_B(VF, 10.0f), ax);
    t = FBP_VN(fbp_vm_expm1_f)(ax + ax);
    /* |x| >= 1: 1 - 2/(t + 2), as in double (t/(t + 2) was exactly 1 from
     * |x| = 8.66, where tanh rounds to 1 - 2^-24 up to 9.01). */
    big = (VI)(ax >= FBP_B(VF, 1.0f));
    q = FBP_VN(fbp_sel_f)(big, FBP_B(VF, 2.0f), t) / (t + FBP_B(VF, 2.0f));
    y = FBP_VN(fbp_sel_f)(big, FBP_B(VF, 1.0f) - q, q);
    return (VF)((VI)y | ((VI)x & sgn));
}

FBP_VI VF FBP_VN(fbp_vm_sigmoid_f)(VF z)
{
    const VI sgn = FBP_B(VI, INT32_MIN);
    VF e = FBP_VN(fbp_vm_exp_f)((VF)((VI)z | sgn));
    VF num = FBP_VN(fbp_sel_f)((VI)(z >= FBP_B(VF, 0.0f)), FBP_B(VF, 1.0f), e);
    return num / (FBP_B(VF, 1.0f) + e);
}


#else /* main part */
#ifndef FASTBP_VMATH_H
#define FASTBP_VMATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "fastbp_cpu.h"

#if (defined(__GNUC__) || defined(__clang__)) && !defined(FASTBP_NO_VECTOR_EXT)
#define FBP_HAVE_VEC 1
#else
#define FBP_HAVE_VEC 0
#endif

#if FBP_HAVE_VEC

/* The helpers below take and return 32-byte vectors; they are always inlined,
 * so gcc's note that such an ABI differs with and without AVX is moot. (Not
 * popped: gcc emits it at the end of the translation unit.) */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

typedef double fbp_v4d __attribute__((vector_size(32)));
typedef int64_t fbp_v4l __attribute__((vector_size(32)));
typedef uint64_t fbp_v4u __attribute__((vector_size(32)));
typedef float fbp_v8f __attribute__((vector_size(32)));
typedef int32_t fbp_v8i __attribute__((vector_size(32)));
typedef uint32_t fbp_v8u __attribute__((vector_size(32)));
typedef double fbp_v8d __attribute__((vector_size(64)));
typedef int64_t fbp_v8l __attribute__((vector_size(64)));
typedef uint64_t fbp_v8ul __attribute__((vector_size(64)));
typedef float fbp_v16f __attribute__((vector_size(64)));
typedef int32_t fbp_v16i __attribute__((vector_size(64)));
typedef uint32_t fbp_v16u __attribute__((vector_size(64)));
typedef double fbp_v2d __attribute__((vector_size(16)));
typedef int64_t fbp_v2l __attribute__((vector_size(16)));
typedef uint64_t fbp_v2u __attribute__((vector_size(16)));
typedef float fbp_v4f __attribute__((vector_size(16)));
typedef int32_t fbp_v4i __attribute__((vector_size(16)));
typedef uint32_t fbp_v4u32 __attribute__((vector_size(16)));

/* FBP_VT: the target of the clone that calls a width's element functions
 * (set below for each inclusion of the template). clang rejects a call that
 * passes a 32- or 64-byte vector to a function compiled without AVX /
 * AVX-512 ("changes the ABI", an error even when the callee is inlined), so
 * the _w32 functions carry the AVX2 clone's target and the _w64 ones the
 * AVX-512 clone's; gcc inlines them into those clones either way. */
#define FBP_VI static inline FBP_ALWAYS_INLINE FBP_VT
/* c broadcast to every lane of vector type V */
#define FBP_B(V, c) ((V){0} + (c))
#define FBP_VCAT_(a, b) a##b
#define FBP_VCAT(a, b) FBP_VCAT_(a, b)
#define FBP_VN(name) FBP_VCAT(name, FBP_VW)

#define FBP_VM_TEMPLATE 1
#define VD fbp_v4d
#define VL fbp_v4l
#define VU fbp_v4u
#define VF fbp_v8f
#define VI fbp_v8i
#define VU32 fbp_v8u
#define FBP_VW _w32
#define FBP_VT FBP_TARGET_AVX2
#include "fastbp_vmath.h"
#undef VD
#undef VL
#undef VU
#undef VF
#undef VI
#undef VU32
#undef FBP_VW
#undef FBP_VT
#define VD fbp_v2d
#define VL fbp_v2l
#define VU fbp_v2u
#define VF fbp_v4f
#define VI fbp_v4i
#define VU32 fbp_v4u32
#define FBP_VW _w16
#define FBP_VT
#include "fastbp_vmath.h"
#undef VD
#undef VL
#undef VU
#undef VF
#undef VI
#undef VU32
#undef FBP_VW
#undef FBP_VT
#define VD fbp_v8d
#define VL fbp_v8l
#define VU fbp_v8ul
#define VF fbp_v16f
#define VI fbp_v16i
#define VU32 fbp_v16u
#define FBP_VW _w64
#define FBP_VT FBP_TARGET_AVX512
#include "fastbp_vmath.h"
#undef VD
#undef VL
#undef VU
#undef VF
#undef VI
#undef VU32
#undef FBP_VW
#undef FBP_VT
#undef FBP_VM_TEMPLATE

/* ------------------------------------------------------- array kernels */

/* Body of an array kernel: full vectors, then the tail through a padded
 * vector (pad 0.5 keeps every function's work finite). */
#define FBP_VM_BODY(T, V, W, VF, x, y, n)                                     \
    do {                                                                      \
        ptrdiff_t i_ = 0, k_;                                                 \
        for (; i_ + (W) <= (n); i_ += (W)) {                                  \
            V v_;                                                             \
            memcpy(&v_, (x) + i_, sizeof(V));                                 \
            v_ = VF(v_);                                                      \
            memcpy((y) + i_, &v_, sizeof(V));                                 \
        }                                                                     \
        if (i_ < (n)) {                                                       \
            V v_;                                                             \
            for (k_ = 0; k_ < (W); k_++)                                      \
                v_[k_] = i_ + k_ < (n) ? (x)[i_ + k_] : (T)0.5;               \
            v_ = VF(v_);                                                      \
            for (k_ = 0; i_ + k_ < (n); k_++) (y)[i_ + k_] = v_[k_];          \
        }                                                                     \
    } while (0)

/* the AVX-512 clone on 64-byte vectors, the AVX2 one on 32-byte vectors,
 * the baseline one on 16-byte vectors */
#define FBP_VM_DEFINE(NAME, T, V, W, V2, W2, V3, W3, VF)                      \
FBP_TARGET_AVX512 static void NAME##_avx512(const T *x, T *y, ptrdiff_t n)    \
{ FBP_VM_BODY(T, V3, W3, VF##_w64, x, y, n); }                                \
FBP_TARGET_AVX2 static void NAME##_avx2(const T *x, T *y, ptrdiff_t n)        \
{ FBP_VM_BODY(T, V, W, VF##_w32, x, y, n); }                                  \
static void NAME##_base(const T *x, T *y, ptrdiff_t n)                        \
{ FBP_VM_BODY(T, V2, W2, VF##_w16, x, y, n); }                                \
static inline void NAME(const T *x, T *y, ptrdiff_t n)                        \
{                                                                             \
    FBP_ISA_CALL(NAME##_avx512, NAME##_avx2, NAME##_base, (x, y, n));         \
}

#else /* no vector extensions: scalar libm */

#define FBP_VM_DEFINE_SCALAR(NAME, T, EXPR)                                   \
static inline void NAME(const T *x, T *y, ptrdiff_t n)                        \
{                                                                             \
    ptrdiff_t i;                                                              \
    for (i = 0; i < n; i++) { T v = x[i]; y[i] = (EXPR); }                    \
}

#endif

#if FBP_HAVE_VEC
FBP_VM_DEFINE(fbp_vexp_d, double, fbp_v4d, 4, fbp_v2d, 2, fbp_v8d, 8, fbp_vm_exp_d)
FBP_VM_DEFINE(fbp_vexpm1_d, double, fbp_v4d, 4, fbp_v2d, 2, fbp_v8d, 8, fbp_vm_expm1_d)
FBP_VM_DEFINE(fbp_vlog_d, double, fbp_v4d, 4, fbp_v2d, 2, fbp_v8d, 8, fbp_vm_log_d)
FBP_VM_DEFINE(fbp_vlog1p_d, double, fbp_v4d, 4, fbp_v2d, 2, fbp_v8d, 8, fbp_vm_log1p_d)
FBP_VM_DEFINE(fbp_vtanh_d, double, fbp_v4d, 4, fbp_v2d, 2, fbp_v8d, 8, fbp_vm_tanh_d)
FBP_VM_DEFINE(fbp_vsigmoid_d, double, fbp_v4d, 4, fbp_v2d, 2, fbp_v8d, 8, fbp_vm_sigmoid_d)
FBP_VM_DEFINE(fbp_vexp_f, float, fbp_v8f, 8, fbp_v4f, 4, fbp_v16f, 16, fbp_vm_exp_f)
FBP_VM_DEFINE(fbp_vexpm1_f, float, fbp_v8f, 8, fbp_v4f, 4, fbp_v16f, 16, fbp_vm_expm1_f)
FBP_VM_DEFINE(fbp_vlog_f, float, fbp_v8f, 8, fbp_v4f, 4, fbp_v16f, 16, fbp_vm_log_f)
FBP_VM_DEFINE(fbp_vlog1p_f, float, fbp_v8f, 8, fbp_v4f, 4, fbp_v16f, 16, fbp_vm_log1p_f)
FBP_VM_DEFINE(fbp_vtanh_f, float, fbp_v8f, 8, fbp_v4f, 4, fbp_v16f, 16, fbp_vm_tanh_f)
FBP_VM_DEFINE(fbp_vsigmoid_f, float, fbp_v8f, 8, fbp_v4f, 4, fbp_v16f, 16, fbp_vm_sigmoid_f)
#else
FBP_VM_DEFINE_SCALAR(fbp_vexp_d, double, exp(v))
FBP_VM_DEFINE_SCALAR(fbp_vexpm1_d, double, expm1(v))
FBP_VM_DEFINE_SCALAR(fbp_vlog_d, double, log(v))
FBP_VM_DEFINE_SCALAR(fbp_vlog1p_d, double, log1p(v))
FBP_VM_DEFINE_SCALAR(fbp_vtanh_d, double, tanh(v))
FBP_VM_DEFINE_SCALAR(fbp_vsigmoid_d, double,
    v >= 0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v)))
FBP_VM_DEFINE_SCALAR(fbp_vexp_f, float, expf(v))
FBP_VM_DEFINE_SCALAR(fbp_vexpm1_f, float, expm1f(v))
FBP_VM_DEFINE_SCALAR(fbp_vlog_f, float, logf(v))
FBP_VM_DEFINE_SCALAR(fbp_vlog1p_f, float, log1pf(v))
FBP_VM_DEFINE_SCALAR(fbp_vtanh_f, float, tanhf(v))
FBP_VM_DEFINE_SCALAR(fbp_vsigmoid_f, float,
    v >= 0 ? 1.0f / (1.0f + expf(-v)) : expf(v) / (1.0f + expf(v)))
#endif

#endif /* FASTBP_VMATH_H */
#endif /* main part */
