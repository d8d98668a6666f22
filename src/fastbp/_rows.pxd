# Shared Cython primitives of the layer kernels (fastbp._dense, fastbp._network,
# fastbp._course): the fused row kernels over csrc/fastbp_act.h, the strided
# matrix operand Mat and its GEMM, and the backward of one block of rows.
# All `cdef inline`, so every module compiles its own copy.
from cython cimport floating
cimport numpy as cnp

from fastbp._blas cimport _gemm, BLAS_Trans, NoTrans, Trans
from fastbp._kernels cimport *  # the csrc kernels (fbp_*)


# A 2-D operand: element (i, j) at data[i * rs + j * cs]; one of rs, cs is 1.
cdef struct Mat:
    void *data
    Py_ssize_t rs   # row stride, in elements
    Py_ssize_t cs   # column stride, in elements


cdef inline Mat _mat(cnp.ndarray a):
    """Mat of a C- or F-contiguous 2-D array."""
    cdef Mat M
    M.data = cnp.PyArray_DATA(a)
    if cnp.PyArray_IS_C_CONTIGUOUS(a):
        M.rs = a.shape[1]
        M.cs = 1
    else:
        M.rs = 1
        M.cs = a.shape[0]
    return M


cdef inline Mat _rowmajor(const void *data, Py_ssize_t ld) noexcept nogil:
    cdef Mat M
    M.data = <void *>data
    M.rs = ld
    M.cs = 1
    return M


# dense_forward's float32 blocks with at least this many inputs (the GEMM's
# inner size) start Z as the bias and let the GEMM add its product (beta
# 1), so the epilogue writes A alone instead of Z and A: 0.77-0.93x the time
# on OpenBLAS's SkylakeX kernel at 256-784 inputs, 0.91-1.02x on its Haswell
# kernel, 0.99x at 1024 and above (bench/RESULTS.md, thirtieth session).
# Not below: with fewer inputs OpenBLAS's small-matrix kernels that skip
# reading C (beta 0) won by 3-7% (float64 by up to 19% at (64, 64, 64));
# float64 gained nothing anywhere. Bits: the same product plus the bias,
# rounded once either way, unless OpenBLAS splits the inner dimension into
# several passes over C (then the bias joins at the first pass instead of
# after the last). The network step (_netstep) keeps beta 0: there the same
# change measured within noise ([784, 256, 128, 10] float32 Adam steps at
# batch 64 and 256).
cdef enum:
    BIAS_FIRST_K = 256


# ------------------------------------------------------------- row kernels

cdef inline void _fwd_rows(int act, floating alpha, floating *Z, Py_ssize_t ldz,
                           floating *A, Py_ssize_t lda, const floating *b, Py_ssize_t bs,
                           Py_ssize_t rows, Py_ssize_t cols) noexcept nogil:
    """Z += b (broadcast over columns, b's stride bs); A = g(Z). b NULL: Z
    holds the bias already (_bias_fill, then a GEMM with beta 1), and only A
    is written."""
    if floating is float:
        fbp_forward_rows_f(act, alpha, Z, ldz, A, lda, b, bs, rows, cols)
    else:
        fbp_forward_rows_d(act, alpha, Z, ldz, A, lda, b, bs, rows, cols)


cdef inline void _bias_fill(floating *Z, Py_ssize_t ldz, const floating *b, Py_ssize_t bs,
                            Py_ssize_t rows, Py_ssize_t cols) noexcept nogil:
    """Z[i, :] = b[i * bs] for rows x cols of Z."""
    if floating is float:
        fbp_bias_fill_f(Z, ldz, b, bs, rows, cols)
    else:
        fbp_bias_fill_d(Z, ldz, b, bs, rows, cols)


cdef inline void _bwd_rows(int act, floating alpha, floating *D, Py_ssize_t ldd,
                           const floating *V, Py_ssize_t vr, Py_ssize_t vc,
                           Py_ssize_t rows, Py_ssize_t cols) noexcept nogil:
    """D *= g'(V), V the layer's output (or Z where g' needs it), strides (vr, vc)."""
    if floating is float:
        fbp_backward_rows_f(act, alpha, D, ldd, V, vr, vc, rows, cols)
    else:
        fbp_backward_rows_d(act, alpha, D, ldd, V, vr, vc, rows, cols)


cdef inline void _rowsum(const floating *D, Py_ssize_t dr, Py_ssize_t dc, Py_ssize_t rows,
                         Py_ssize_t cols, floating scale, floating *out) noexcept nogil:
    """out[i] = scale sum_j D[i, j], summed in a fixed order."""
    if floating is float:
        fbp_rowsum_f(D, dr, dc, rows, cols, scale, out, 1)
    else:
        fbp_rowsum_d(D, dr, dc, rows, cols, scale, out, 1)


cdef inline void _scaled_copy(floating *dst, Py_ssize_t ldd, const floating *src,
                              Py_ssize_t sr, Py_ssize_t sc, Py_ssize_t rows, Py_ssize_t cols,
                              floating s) noexcept nogil:
    if floating is float:
        fbp_scaled_copy_f(dst, ldd, src, sr, sc, rows, cols, s)
    else:
        fbp_scaled_copy_d(dst, ldd, src, sr, sc, rows, cols, s)


# --------------------------------------------------------------------- GEMM

cdef inline void _opnd(Mat X, bint trans, Py_ssize_t r0, Py_ssize_t c0, Py_ssize_t itemsize,
                       const void **ptr, Py_ssize_t *ld, BLAS_Trans *flag) noexcept nogil:
    """BLAS view of op(X)[r0:, c0:] (op = transpose when trans). The leading
    dimension is 64-bit: _gemm keeps one above INT_MAX out of BLAS."""
    cdef bint c_order = X.cs == 1
    if not trans:
        ptr[0] = <const char*>X.data + (r0 * X.rs + c0 * X.cs) * itemsize
        flag[0] = NoTrans if c_order else Trans
    else:
        ptr[0] = <const char*>X.data + (r0 * X.cs + c0 * X.rs) * itemsize
        flag[0] = Trans if c_order else NoTrans
    ld[0] = X.rs if c_order else X.cs


cdef inline void _mm(floating *C, Py_ssize_t ldc, Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                     floating alpha,
                     Mat A, bint ta, Py_ssize_t r0, Mat B, bint tb, Py_ssize_t c0,
                     floating beta) noexcept nogil:
    """C (M, N) = alpha op(A)[r0:r0+M, :] op(B)[:, c0:c0+N] + beta C."""
    cdef const void *pa
    cdef const void *pb
    cdef Py_ssize_t lda, ldb
    cdef BLAS_Trans fa, fb
    _opnd(A, ta, r0, 0, sizeof(floating), &pa, &lda, &fa)
    _opnd(B, tb, 0, c0, sizeof(floating), &pb, &ldb, &fb)
    _gemm(fa, fb, M, N, K, alpha, <const floating*>pa, lda, <const floating*>pb, ldb,
          beta, C, ldc)


# ------------------------------------------- backward of one block of rows

cdef inline void _grad_rows(floating *dW, Py_ssize_t ldw, floating *db, Mat dZ, Mat Ap,
                            Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n_in, Py_ssize_t m,
                            floating scale, floating beta) noexcept nogil:
    """dW[r0:r1] = scale dZ[r0:r1] Ap^T + beta dW[r0:r1];  db[r0:r1] = scale rowsum(dZ[r0:r1]).

    dW and db point at row 0 of the layer's gradients.
    """
    _mm(dW + r0 * ldw, ldw, r1 - r0, n_in, m, scale, dZ, False, r0, Ap, True, 0, beta)
    _rowsum(<const floating*>dZ.data + r0 * dZ.rs, dZ.rs, dZ.cs, r1 - r0, m, scale, db + r0)


cdef inline void _l2_rows(floating *dW, const floating *W, Py_ssize_t rows, Py_ssize_t n_in,
                          floating l2, double *sq) noexcept nogil:
    """dW += l2 W on rows of n_in contiguous weights; sq[i] = ||W[i, :]||^2 unless NULL
    (summed in csrc/fastbp_optim.h's fixed order)."""
    if floating is float:
        fbp_l2_rows_f(dW, W, rows, n_in, l2, sq)
    else:
        fbp_l2_rows_d(dW, W, rows, n_in, l2, sq)


cdef inline void _dprev_rows(floating *dZp, Py_ssize_t ldp, Mat W, Mat dZ, Py_ssize_t q0,
                             Py_ssize_t q1, Py_ssize_t n_out, Py_ssize_t m, int act,
                             floating alpha, Mat V) noexcept nogil:
    """dZp[q0:q1] = (W^T dZ)[q0:q1] * g'(V[q0:q1]); act < 0: no g'.

    dZp points at row 0 of the previous layer's delta (ld ldp).
    """
    _mm(dZp + q0 * ldp, ldp, q1 - q0, m, n_out, <floating>1, W, True, q0,
        dZ, False, 0, <floating>0)
    if act >= 0:
        _bwd_rows(act, alpha, dZp + q0 * ldp, ldp, <const floating*>V.data + q0 * V.rs,
                  V.rs, V.cs, q1 - q0, m)
