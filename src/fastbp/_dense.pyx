# cython: language_level=3
"""Fused dense-layer kernels: forward, backward, output delta, loss, softmax.

Every public function validates its arguments once (shapes, dtypes, layouts,
``out=``), then runs one ``nogil`` kernel: GEMMs through SciPy's BLAS
(``scipy.linalg.cython_blas``) and the element-wise work in OpenMP loops.

Fusion design, measured with bench/bench_layer.py (2 cores, OpenBLAS
SkylakeX kernel). Strategy 0, the default and the winner: each GEMM is cut
into one block of output rows per thread; OpenMP threads each run a
single-threaded GEMM (SciPy's OpenBLAS pinned to one thread meanwhile) and
apply the epilogue (bias + activation forward; activation derivative
backward; db next to the dW block) to their block right after its GEMM,
while it is still in cache (see _n_blocks for the block size).
Only one thread pool is ever awake. Strategy 1 (one BLAS-threaded GEMM, then
an OpenMP pass) wakes OpenBLAS's pool and OpenMP's in turn; on two cores each
pool's spinning threads starve the other's, and it measured 2-4x the GEMM
floor at large shapes and up to 300x at (256, 256, 64). Strategy 2 (BLAS-
threaded GEMM, serial epilogue) was 1.0-1.5x. Both stay selectable through
_set_tuning for the benchmark only.
"""
cimport cython
from cython cimport floating
from cython.parallel cimport prange
from libc.stdlib cimport malloc, free
from libc.stdint cimport uintptr_t
cimport numpy as cnp

import numpy as np

from fastbp._blas cimport _gemm, _blas_begin, _blas_end, BLAS_Trans, NoTrans, Trans
from fastbp._openmp_helpers import effective_n_threads as _effective_n_threads

cnp.import_array()

from fastbp._kernels cimport *  # the csrc kernels (fbp_*)
from fastbp._registry cimport *  # the codes (FBP_*)
from fastbp._registry import ACT_CODES as _ACT_CODE, LOSS_CODES as _LOSS_CODE
from fastbp._registry import DEFAULT_ALPHA as _DEFAULT_ALPHA
from fastbp import _registry

# alias for modules not yet switched; remove after merge
ACTIVATIONS = _registry.ACTIVATIONS
LOSSES = _registry.LOSSES  # alias for modules not yet switched; remove after merge

# Element-wise work below this many elements runs on one thread: forking
# the OpenMP team costs more than it saves.
cdef Py_ssize_t _PAR_MIN_ELEMS = 16384
# GEMMs with fewer multiply-adds than this run on one thread (team fork and
# BLAS thread wake-up cost more than they save; measured with bench_layer).
cdef Py_ssize_t _PAR_MIN_MACS = 200000
# OpenBLAS runs a GEMM with M N K <= 65536 * GEMM_MULTITHREAD_THRESHOLD (4 by
# default) on the calling thread whatever its thread setting, so one-thread
# calls that small skip setting it (two library calls, ~5% of a (64, 64, 32)
# backward).
cdef Py_ssize_t _BLAS_SERIAL_MNK = 262144
# Columns per task in softmax/delta/loss; fixed so the association of every
# sum is independent of the thread count.
cdef Py_ssize_t _COL_CHUNK = 256

# Tuning knobs (see module docstring); changed only by benchmarks.
cdef int _strategy = 0              # see the module docstring


def _set_tuning(strategy=None, par_min_macs=None):
    """Benchmark hook: fusion strategy (0, 1, 2) and the threading threshold."""
    global _strategy, _PAR_MIN_MACS
    if par_min_macs is not None:
        _PAR_MIN_MACS = max(0, int(par_min_macs))
    if strategy is not None:
        if strategy not in (0, 1, 2):
            raise ValueError("strategy must be 0 (row-blocked), 1 (BLAS-threaded GEMM, "
                             "OpenMP epilogue) or 2 (BLAS-threaded GEMM, serial epilogue)")
        _strategy = strategy
    return {"strategy": _strategy, "par_min_macs": _PAR_MIN_MACS}


cdef int _DEFAULT_NT = _effective_n_threads(None)


cdef inline int _resolve_threads(object n_threads) except -1:
    if n_threads is None:
        return _DEFAULT_NT
    return _effective_n_threads(n_threads)


# ---------------------------------------------------------------- validation

cdef struct Mat:
    void *data
    Py_ssize_t rs   # row stride, in elements
    Py_ssize_t cs   # column stride, in elements


cdef str _shape(cnp.ndarray a):
    return str(tuple(a.shape[i] for i in range(a.ndim)))


cdef cnp.ndarray _float2d(object x, str name):
    """x as a C- or F-contiguous 2-D float32/float64 array (copied only if strided)."""
    cdef cnp.ndarray a
    if cnp.PyArray_Check(x):
        a = <cnp.ndarray>x
    else:
        a = np.asarray(x)
    cdef int t = cnp.PyArray_TYPE(a)
    if t != cnp.NPY_FLOAT and t != cnp.NPY_DOUBLE:
        raise TypeError(
            f"Unsupported dtype: {name} has dtype {a.dtype}; fastbp kernels take float32 "
            f"or float64 arrays. Cast it first, e.g. {name}.astype(np.float32)")
    if a.ndim != 2:
        raise ValueError(
            f"Invalid shape: {name} must be a 2-D array (features x examples), "
            f"got shape {_shape(a)}")
    if not cnp.PyArray_ISBEHAVED_RO(a):
        # byte-swapped or misaligned: one copy into native, aligned memory
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("="))
    elif not (cnp.PyArray_IS_C_CONTIGUOUS(a) or cnp.PyArray_IS_F_CONTIGUOUS(a)):
        a = np.ascontiguousarray(a)
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(
            f"Invalid shape: {name} has shape {_shape(a)}; every dimension must be at "
            f"least 1 (m = 0 examples or an empty layer leaves nothing to compute)")
    if a.shape[0] > 2147483647 or a.shape[1] > 2147483647:
        raise ValueError(
            f"Invalid shape: {name} has shape {_shape(a)}; BLAS indexes with 32-bit "
            f"integers, so every dimension must be below 2**31. Split the batch.")
    return a


cdef inline Mat _mat(cnp.ndarray a):
    cdef Mat M
    M.data = cnp.PyArray_DATA(a)
    if cnp.PyArray_IS_C_CONTIGUOUS(a):
        M.rs = a.shape[1]
        M.cs = 1
    else:  # F-contiguous (validated)
        M.rs = 1
        M.cs = a.shape[0]
    return M


cdef inline bint _overlap(cnp.ndarray a, cnp.ndarray b):
    cdef uintptr_t a0 = <uintptr_t>cnp.PyArray_DATA(a)
    cdef uintptr_t b0 = <uintptr_t>cnp.PyArray_DATA(b)
    cdef uintptr_t a1 = a0 + <uintptr_t>cnp.PyArray_NBYTES(a)
    cdef uintptr_t b1 = b0 + <uintptr_t>cnp.PyArray_NBYTES(b)
    return a0 < b1 and b0 < a1


cdef _check_same_dtype(cnp.ndarray ref, str refname, cnp.ndarray a, str name):
    if cnp.PyArray_TYPE(a) != cnp.PyArray_TYPE(ref):
        raise TypeError(
            f"Mismatched dtypes: {refname} is {ref.dtype} but {name} is {a.dtype}; "
            f"cast them to one dtype, e.g. {name}.astype({refname}.dtype)")


cdef cnp.ndarray _out_array(object o, str name, Py_ssize_t rows, Py_ssize_t cols,
                            cnp.ndarray like, tuple inputs):
    """Validate one preallocated output (C-contiguous, writeable, no overlap)."""
    cdef cnp.ndarray a
    if not cnp.PyArray_Check(o):
        raise TypeError(f"Invalid out: {name} must be a numpy.ndarray, got {type(o).__name__}")
    a = <cnp.ndarray>o
    if cnp.PyArray_TYPE(a) != cnp.PyArray_TYPE(like):
        raise TypeError(f"Invalid out: {name} has dtype {a.dtype}, expected {like.dtype} "
                        f"(the inputs' dtype)")
    if a.ndim != 2 or a.shape[0] != rows or a.shape[1] != cols:
        raise ValueError(f"Invalid out: {name} should have shape {(rows, cols)}, "
                         f"got {_shape(a)}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError(f"Invalid out: {name} must be C-contiguous "
                         f"(np.empty({(rows, cols)}, dtype=...)), got a strided or F-ordered array")
    if not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"Invalid out: {name} is read-only; pass a writeable array")
    for inp_name, inp in inputs:
        if inp is not None and _overlap(a, <cnp.ndarray>inp):
            raise ValueError(f"Invalid out: {name} overlaps the input {inp_name}; outputs "
                             f"must not share memory with inputs or with each other")
    return a


cdef inline bint _out_fast(object o, int typenum, Py_ssize_t rows, Py_ssize_t cols):
    """Cheap acceptance test of one out= array (the full check runs on failure)."""
    if not cnp.PyArray_CheckExact(o):
        return False
    cdef cnp.ndarray a = <cnp.ndarray>o
    return (cnp.PyArray_TYPE(a) == typenum and a.ndim == 2 and a.shape[0] == rows
            and a.shape[1] == cols and cnp.PyArray_IS_C_CONTIGUOUS(a)
            and cnp.PyArray_ISWRITEABLE(a))


cdef inline bint _disjoint(cnp.ndarray a, cnp.ndarray b, cnp.ndarray c, cnp.ndarray d,
                           cnp.ndarray e):
    """a shares no memory with b, c, d, e (e may be None)."""
    return not (_overlap(a, b) or _overlap(a, c) or _overlap(a, d)
                or (e is not None and _overlap(a, e)))


cdef cnp.ndarray _one_out(object out, str name, Py_ssize_t rows, Py_ssize_t cols,
                          cnp.ndarray like, tuple inputs):
    """The single output of a kernel: ``out`` validated, or a new C-ordered array."""
    if out is None:
        return cnp.PyArray_EMPTY(2, [rows, cols], cnp.PyArray_TYPE(like), 0)
    return _out_array(_unpack_out(out, 1, name)[0], name, rows, cols, like, inputs)


cdef tuple _unpack_out(object out, int n, str names):
    if isinstance(out, cnp.ndarray) and n == 1:
        return (out,)
    if not isinstance(out, (tuple, list)) or len(out) != n:
        raise TypeError(f"Invalid out: expected a tuple of {n} arrays ({names}), "
                        f"got {type(out).__name__}"
                        + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else ""))
    return tuple(out)


cdef double _real(object x, str name) except? -1.0:
    try:
        return float(x)
    except (TypeError, ValueError):
        raise TypeError(f"Invalid {name}: expected a real number, got {x!r}") from None


cdef int _act_code(object activation, bint allow_none) except -2:
    if activation is None and allow_none:
        return ACT_NONE
    try:
        return _ACT_CODE[activation]
    except (KeyError, TypeError):
        valid = ", ".join(repr(a) for a in ACTIVATIONS)
        extra = " or None (no derivative: the input layer)" if allow_none else ""
        raise ValueError(f"Unknown activation {activation!r}; valid names: {valid}{extra}") from None


cdef double _alpha_value(object activation, object alpha) except? -1.0:
    if alpha is None:
        return _DEFAULT_ALPHA.get(activation, 0.0)
    a = float(alpha)
    if activation in ("leaky_relu", "elu") and not a >= 0:
        raise ValueError(f"Invalid alpha: {activation} needs alpha >= 0 (its derivative is read "
                         f"from the layer's output), got {alpha!r}")
    return a


# ------------------------------------------------------------ BLAS operands

cdef inline void _opnd(Mat X, bint trans, Py_ssize_t r0, Py_ssize_t c0, Py_ssize_t itemsize,
                       const void **ptr, int *ld, BLAS_Trans *flag) noexcept nogil:
    """BLAS view of op(X)[r0:, c0:] (op = transpose when trans)."""
    cdef bint c_order = X.cs == 1
    if not trans:
        ptr[0] = <const char*>X.data + (r0 * X.rs + c0 * X.cs) * itemsize
        flag[0] = NoTrans if c_order else Trans
    else:
        ptr[0] = <const char*>X.data + (r0 * X.cs + c0 * X.rs) * itemsize
        flag[0] = Trans if c_order else NoTrans
    ld[0] = <int>(X.rs if c_order else X.cs)


cdef inline void _mm(floating *C, int ldc, int M, int N, int K, floating alpha,
                     Mat A, bint ta, Py_ssize_t r0, Mat B, bint tb, Py_ssize_t c0,
                     floating beta) noexcept nogil:
    """C (M, N) = alpha op(A)[r0:r0+M, :] op(B)[:, c0:c0+N] + beta C."""
    cdef const void *pa
    cdef const void *pb
    cdef int lda, ldb
    cdef BLAS_Trans fa, fb
    _opnd(A, ta, r0, 0, sizeof(floating), &pa, &lda, &fa)
    _opnd(B, tb, 0, c0, sizeof(floating), &pb, &ldb, &fb)
    _gemm(fa, fb, M, N, K, alpha, <const floating*>pa, lda, <const floating*>pb, ldb,
          beta, C, ldc)


cdef inline bint _by_cols(Py_ssize_t M, Py_ssize_t N, int nt) noexcept nogil:
    """Split an (M, N) GEMM output by columns rather than rows?

    With few rows each thread's share would be a thin panel that runs far
    below GEMM speed (the (20, 12288) dW of the course's 12288-feature
    network ran slower on 2 threads than on 1), so split the long side.
    """
    return nt > 1 and M < 64 * nt and N > M


cdef inline Py_ssize_t _n_blocks(Py_ssize_t rows, int nt) noexcept nogil:
    """Row blocks for the blocked GEMM: one per thread, at least 8 rows each.

    Smaller, cache-sized blocks (256 KiB - 1 MiB of output) keep the epilogue
    in L2 but cost more than they save: every block re-packs the GEMM's
    shared operand, and they measured 1.05-1.22x the two-GEMM floor at
    (2048, 2048, 1024) and (4096, 1024, 256) where one block per thread
    measured 0.99-1.01x. The epilogue on a thread's own half still runs
    from L3 right after its GEMM.
    """
    cdef Py_ssize_t nb = nt
    cdef Py_ssize_t max_nb = (rows + 7) // 8
    if nb > max_nb:
        nb = max_nb
    return nb if nb > 0 else 1


# ------------------------------------------------------------------ kernels

cdef inline void _fwd_rows(int act, floating alpha, floating *Z, Py_ssize_t ldz, floating *A,
                           const floating *b, Py_ssize_t bs, Py_ssize_t rows,
                           Py_ssize_t cols) noexcept nogil:
    if floating is float:
        fbp_forward_rows_f(act, alpha, Z, ldz, A, ldz, b, bs, rows, cols)
    else:
        fbp_forward_rows_d(act, alpha, Z, ldz, A, ldz, b, bs, rows, cols)


cdef inline void _bwd_rows(int act, floating alpha, floating *D, Py_ssize_t ldd,
                           const floating *V, Py_ssize_t vr, Py_ssize_t vc,
                           Py_ssize_t rows, Py_ssize_t cols) noexcept nogil:
    if floating is float:
        fbp_backward_rows_f(act, alpha, D, ldd, V, vr, vc, rows, cols)
    else:
        fbp_backward_rows_d(act, alpha, D, ldd, V, vr, vc, rows, cols)


cdef inline void _rowsum(const floating *D, Py_ssize_t dr, Py_ssize_t dc, Py_ssize_t rows,
                         Py_ssize_t cols, floating scale, floating *out) noexcept nogil:
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


cdef void _forward_kernel(Mat Ap, Mat W, const floating *b, Py_ssize_t bs,
                          floating *Z, floating *A, int n, int p, int m,
                          int act, floating alpha, int nt) noexcept nogil:
    cdef Py_ssize_t nb, t, r0, r1, blk, dim
    cdef int prev
    if <Py_ssize_t>n * p * m < _PAR_MIN_MACS:
        nt = 1
    cdef bint bc
    if _strategy == 0 or nt == 1:
        bc = _by_cols(n, m, nt)
        dim = m if bc else n
        nb = _n_blocks(dim, nt) if nt > 1 else 1
        blk = (dim + nb - 1) // nb
        prev = _blas_begin(0 if nt == 1 and <Py_ssize_t>n * p * m <= _BLAS_SERIAL_MNK else 1)
        for t in prange(nb, num_threads=nt if nb > 1 else 1, schedule="dynamic"):
            r0 = t * blk
            r1 = r0 + blk if r0 + blk < dim else dim
            if r0 < r1 and bc:
                _mm(Z + r0, m, n, <int>(r1 - r0), p, <floating>1, W, False, 0,
                    Ap, False, r0, <floating>0)
                _fwd_rows(act, alpha, Z + r0, m, A + r0, b, bs, n, r1 - r0)
            elif r0 < r1:
                _mm(Z + r0 * m, m, <int>(r1 - r0), m, p, <floating>1, W, False, r0,
                    Ap, False, 0, <floating>0)
                _fwd_rows(act, alpha, Z + r0 * m, m, A + r0 * m, b + r0 * bs, bs, r1 - r0, m)
        _blas_end(prev)
    else:
        prev = _blas_begin(nt)
        _mm(Z, m, n, m, p, <floating>1, W, False, 0, Ap, False, 0, <floating>0)
        _blas_end(prev)
        nb = nt if <Py_ssize_t>n * m >= _PAR_MIN_ELEMS and _strategy == 1 else 1
        blk = (n + nb - 1) // nb
        for t in prange(nb, num_threads=nb, schedule="static"):
            r0 = t * blk
            r1 = r0 + blk if r0 + blk < n else n
            if r0 < r1:
                _fwd_rows(act, alpha, Z + r0 * m, m, A + r0 * m, b + r0 * bs, bs, r1 - r0, m)


cdef void _backward_kernel(Mat dZ, Mat Ap, Mat W, Mat V, floating *dZp, floating *dW,
                           floating *db, int n, int p, int m, int act, floating alpha,
                           floating scale, floating l2, int nt) noexcept nogil:
    """dW = scale dZ Ap^T + l2 W; db = scale rowsum(dZ); dZp = (W^T dZ) * g'(V)."""
    cdef Py_ssize_t nbw, nbz, t, r0, r1, blkw, blkz, ntask, dimw, dimz
    cdef bint bcw, bcz
    cdef int prev
    cdef floating beta = 1 if l2 != 0 else 0
    if <Py_ssize_t>n * p * m < _PAR_MIN_MACS:
        nt = 1
    if _strategy == 0 or nt == 1:
        bcw = _by_cols(n, p, nt)
        bcz = _by_cols(p, m, nt)
        dimw = p if bcw else n
        dimz = m if bcz else p
        nbw = _n_blocks(dimw, nt) if nt > 1 else 1
        nbz = _n_blocks(dimz, nt) if nt > 1 else 1
        blkw = (dimw + nbw - 1) // nbw
        blkz = (dimz + nbz - 1) // nbz
        ntask = nbw + nbz
        prev = _blas_begin(0 if nt == 1 and <Py_ssize_t>n * p * m <= _BLAS_SERIAL_MNK else 1)
        for t in prange(ntask, num_threads=nt if ntask > 1 and nt > 1 else 1,
                        schedule="dynamic"):
            if t < nbw:
                r0 = t * blkw
                r1 = r0 + blkw if r0 + blkw < dimw else dimw
                if r0 < r1 and bcw:      # dW[:, r0:r1]; db with the first block
                    if l2 != 0:
                        _scaled_copy(dW + r0, p, <floating*>W.data + r0 * W.cs,
                                     W.rs, W.cs, n, r1 - r0, l2)
                    _mm(dW + r0, p, n, <int>(r1 - r0), m, scale, dZ, False, 0,
                        Ap, True, r0, beta)
                    if t == 0:
                        _rowsum(<floating*>dZ.data, dZ.rs, dZ.cs, n, m, scale, db)
                elif r0 < r1:            # dW[r0:r1, :] and db[r0:r1]
                    if l2 != 0:
                        _scaled_copy(dW + r0 * p, p, <floating*>W.data + r0 * W.rs,
                                     W.rs, W.cs, r1 - r0, p, l2)
                    _mm(dW + r0 * p, p, <int>(r1 - r0), p, m, scale, dZ, False, r0,
                        Ap, True, 0, beta)
                    _rowsum(<floating*>dZ.data + r0 * dZ.rs, dZ.rs, dZ.cs, r1 - r0, m,
                            scale, db + r0)
            else:
                r0 = (t - nbw) * blkz
                r1 = r0 + blkz if r0 + blkz < dimz else dimz
                if r0 < r1 and bcz:      # dZ_prev[:, r0:r1]
                    _mm(dZp + r0, m, p, <int>(r1 - r0), n, <floating>1, W, True, 0,
                        dZ, False, r0, <floating>0)
                    if act >= 0:
                        _bwd_rows(act, alpha, dZp + r0, m, <floating*>V.data + r0 * V.cs,
                                  V.rs, V.cs, p, r1 - r0)
                elif r0 < r1:            # dZ_prev[r0:r1, :]
                    _mm(dZp + r0 * m, m, <int>(r1 - r0), m, n, <floating>1, W, True, r0,
                        dZ, False, 0, <floating>0)
                    if act >= 0:
                        _bwd_rows(act, alpha, dZp + r0 * m, m,
                                  <floating*>V.data + r0 * V.rs, V.rs, V.cs, r1 - r0, m)
        _blas_end(prev)
    else:
        if l2 != 0:
            _scaled_copy(dW, p, <floating*>W.data, W.rs, W.cs, n, p, l2)
        prev = _blas_begin(nt)
        _mm(dW, p, n, p, m, scale, dZ, False, 0, Ap, True, 0, beta)
        _mm(dZp, m, p, m, n, <floating>1, W, True, 0, dZ, False, 0, <floating>0)
        _blas_end(prev)
        nbz = nt if <Py_ssize_t>p * m >= _PAR_MIN_ELEMS and _strategy == 1 else 1
        blkz = (p + nbz - 1) // nbz
        nbw = nt if <Py_ssize_t>n * m >= _PAR_MIN_ELEMS and _strategy == 1 else 1
        blkw = (n + nbw - 1) // nbw
        for t in prange(nbz + nbw, num_threads=nt if nbz + nbw > 2 else 1, schedule="static"):
            if t < nbz:
                r0 = t * blkz
                r1 = r0 + blkz if r0 + blkz < p else p
                if r0 < r1 and act >= 0:
                    _bwd_rows(act, alpha, dZp + r0 * m, m,
                              <floating*>V.data + r0 * V.rs, V.rs, V.cs, r1 - r0, m)
            else:
                r0 = (t - nbz) * blkw
                r1 = r0 + blkw if r0 + blkw < n else n
                if r0 < r1:
                    _rowsum(<floating*>dZ.data + r0 * dZ.rs, dZ.rs, dZ.cs, r1 - r0, m,
                            scale, db + r0)


# ------------------------------------------------------------- public API

def dense_forward(A_prev, W, b, activation="relu", *, alpha=None, out=None, n_threads=None):
    """Forward pass of one dense layer, fused.

    ``Z = W A_prev + b`` and ``A = g(Z)``: one GEMM, then the bias and the
    activation applied in a single pass over each block of the GEMM result.

    Parameters
    ----------
    A_prev : ndarray (n_prev, m), float32 or float64
        Previous layer's activations, examples as columns. C- or F-contiguous
        (``X_rows.T`` of examples-first data works without a copy).
    W : ndarray (n, n_prev)
    b : ndarray (n, 1) or (n,)
    activation : str
        One of ``fastbp.ACTIVATIONS``.
    alpha : float, optional
        Slope/scale of ``leaky_relu`` (default 0.01) and ``elu`` (default 1.0).
    out : tuple (Z, A) of C-contiguous ndarrays (n, m), optional
        Preallocated outputs (no allocation happens when given).
    n_threads : int, optional
        Threads for the GEMM and the epilogue; None uses all cores.

    Returns
    -------
    Z : ndarray (n, m)
    A : ndarray (n, m)
    """
    cdef cnp.ndarray a_prev = _float2d(A_prev, "A_prev")
    cdef cnp.ndarray w = _float2d(W, "W")
    _check_same_dtype(a_prev, "A_prev", w, "W")
    cdef cnp.ndarray bb
    if cnp.PyArray_Check(b):
        bb = <cnp.ndarray>b
    else:
        bb = np.asarray(b, dtype=a_prev.dtype)
    cdef Py_ssize_t n = w.shape[0], p = w.shape[1], m = a_prev.shape[1]
    if a_prev.shape[0] != p:
        raise ValueError(f"Invalid shapes: W {_shape(w)} needs A_prev with {p} rows "
                         f"(n_prev, m), got A_prev {_shape(a_prev)}")
    if not ((bb.ndim == 2 and bb.shape[0] == n and bb.shape[1] == 1)
            or (bb.ndim == 1 and bb.shape[0] == n)):
        raise ValueError(f"Invalid shapes: b should have shape ({n}, 1) or ({n},) for W "
                         f"{_shape(w)}, got b {_shape(bb)}")
    if not cnp.PyArray_ISBEHAVED_RO(bb):
        bb = np.ascontiguousarray(bb, dtype=bb.dtype.newbyteorder("="))
    if cnp.PyArray_TYPE(bb) != cnp.PyArray_TYPE(a_prev):
        if cnp.PyArray_TYPE(bb) not in (cnp.NPY_FLOAT, cnp.NPY_DOUBLE):
            raise TypeError(f"Unsupported dtype: b has dtype {bb.dtype}; expected "
                            f"{a_prev.dtype} like A_prev and W (fastbp takes float32 or "
                            f"float64). Cast it first: b.astype(np.{a_prev.dtype})")
        _check_same_dtype(a_prev, "A_prev", bb, "b")
    cdef Py_ssize_t bs = 1
    if bb.ndim == 2:
        bs = bb.strides[0] // bb.itemsize
    else:
        bs = bb.strides[0] // bb.itemsize
    if bb.strides[0] % bb.itemsize != 0:
        bb = np.ascontiguousarray(bb)
        bs = 1
    cdef int act = _act_code(activation, False)
    cdef double al = _alpha_value(activation, alpha)
    cdef int nt = _resolve_threads(n_threads)
    cdef cnp.ndarray Zo, Ao
    cdef int tn = cnp.PyArray_TYPE(a_prev)
    if out is None:
        Zo = cnp.PyArray_EMPTY(2, [n, m], tn, 0)
        Ao = cnp.PyArray_EMPTY(2, [n, m], tn, 0)
    elif (type(out) is tuple and len(<tuple>out) == 2
          and _out_fast((<tuple>out)[0], tn, n, m) and _out_fast((<tuple>out)[1], tn, n, m)
          and _disjoint((<tuple>out)[0], a_prev, w, bb, (<tuple>out)[1])
          and _disjoint((<tuple>out)[1], a_prev, w, bb, None)):
        Zo, Ao = <tuple>out
    else:
        o = _unpack_out(out, 2, "Z, A")
        ins = (("A_prev", a_prev), ("W", w), ("b", bb))
        Zo = _out_array(o[0], "Z", n, m, a_prev, ins)
        Ao = _out_array(o[1], "A", n, m, a_prev, ins + (("Z", Zo),))
    cdef Mat mA = _mat(a_prev), mW = _mat(w)
    if cnp.PyArray_TYPE(a_prev) == cnp.NPY_FLOAT:
        with nogil:
            _forward_kernel(mA, mW, <const float*>cnp.PyArray_DATA(bb), bs,
                            <float*>cnp.PyArray_DATA(Zo), <float*>cnp.PyArray_DATA(Ao),
                            n, p, m, act, <float>al, nt)
    else:
        with nogil:
            _forward_kernel(mA, mW, <const double*>cnp.PyArray_DATA(bb), bs,
                            <double*>cnp.PyArray_DATA(Zo), <double*>cnp.PyArray_DATA(Ao),
                            n, p, m, act, <double>al, nt)
    return Zo, Ao


def dense_backward(dZ, A_prev, W, activation=None, *, Z_prev=None, alpha=None, scale=None,
                   lambd=0.0, out=None, n_threads=None):
    """Backward pass of one dense layer, fused.

    ::

        dW      = scale * dZ A_prev^T + lambd * scale * W
        db      = scale * sum_j dZ[:, j]
        dZ_prev = (W^T dZ) * g'(A_prev)     (g' from Z_prev for gelu, gelu_tanh, silu)

    Two GEMMs; the bias gradient is computed next to the dW GEMM and the
    activation derivative is applied to each block of ``W^T dZ`` right after
    it is produced, so no full-size temporary is written or re-read.

    Parameters
    ----------
    dZ : ndarray (n, m), float32 or float64
        Gradient of the cost w.r.t. this layer's Z, *not* divided by m.
    A_prev : ndarray (n_prev, m)
        Input of this layer (output of the previous one).
    W : ndarray (n, n_prev)
    activation : str or None
        Activation of the *previous* layer, the one that produced A_prev.
        None: return dA_prev = W^T dZ (the input layer; nothing to differentiate).
    Z_prev : ndarray (n_prev, m), optional
        Previous layer's pre-activation; required for gelu, gelu_tanh, silu,
        whose derivative the output does not determine.
    alpha : float, optional
        Parameter of leaky_relu (0.01) / elu (1.0).
    scale : float, optional
        Multiplies dW and db; default 1/m, the mean over examples.
    lambd : float
        L2 strength with the course's convention: adds ``lambd * scale * W`` to dW.
    out : tuple (dZ_prev, dW, db), optional
        Preallocated C-contiguous outputs of shapes (n_prev, m), (n, n_prev), (n, 1).
    n_threads : int, optional

    Returns
    -------
    dZ_prev : ndarray (n_prev, m)
    dW : ndarray (n, n_prev)
    db : ndarray (n, 1)
    """
    cdef cnp.ndarray dz = _float2d(dZ, "dZ")
    cdef cnp.ndarray a_prev = _float2d(A_prev, "A_prev")
    cdef cnp.ndarray w = _float2d(W, "W")
    _check_same_dtype(dz, "dZ", a_prev, "A_prev")
    _check_same_dtype(dz, "dZ", w, "W")
    cdef Py_ssize_t n = w.shape[0], p = w.shape[1], m = dz.shape[1]
    if dz.shape[0] != n or a_prev.shape[0] != p or a_prev.shape[1] != m:
        raise ValueError(
            f"Invalid shapes: expected dZ (n, m), A_prev (n_prev, m), W (n, n_prev); got "
            f"dZ {_shape(dz)}, A_prev {_shape(a_prev)}, W {_shape(w)}")
    cdef int act = _act_code(activation, True)
    cdef double al = _alpha_value(activation, alpha) if act >= 0 else 0.0
    cdef cnp.ndarray v = a_prev
    if act >= 0 and fbp_deriv_needs_z(act):
        if Z_prev is None:
            raise ValueError(f"Missing Z_prev: the derivative of {activation!r} is computed "
                             f"from the pre-activation; pass Z_prev=Z of the previous layer "
                             f"(shape {(p, m)})")
        v = _float2d(Z_prev, "Z_prev")
        _check_same_dtype(dz, "dZ", v, "Z_prev")
        if v.shape[0] != p or v.shape[1] != m:
            raise ValueError(f"Invalid shapes: Z_prev should match A_prev {_shape(a_prev)}, "
                             f"got Z_prev {_shape(v)}")
    cdef double sc = (1.0 / m) if scale is None else _real(scale, "scale")
    cdef double lam = _real(lambd, "lambd")
    cdef int nt = _resolve_threads(n_threads)
    cdef int tn = cnp.PyArray_TYPE(dz)
    cdef cnp.ndarray dZp, dWo, dbo
    cdef cnp.ndarray vz = v if v is not a_prev else None
    if out is None:
        dZp = cnp.PyArray_EMPTY(2, [p, m], tn, 0)
        dWo = cnp.PyArray_EMPTY(2, [n, p], tn, 0)
        dbo = cnp.PyArray_EMPTY(2, [n, 1], tn, 0)
    elif (type(out) is tuple and len(<tuple>out) == 3
          and _out_fast((<tuple>out)[0], tn, p, m) and _out_fast((<tuple>out)[1], tn, n, p)
          and _out_fast((<tuple>out)[2], tn, n, 1)
          and _disjoint((<tuple>out)[0], dz, a_prev, w, vz)
          and _disjoint((<tuple>out)[1], dz, a_prev, w, vz)
          and _disjoint((<tuple>out)[2], dz, a_prev, w, vz)
          and _disjoint((<tuple>out)[0], (<tuple>out)[1], (<tuple>out)[2],
                        (<tuple>out)[1], None)
          and not _overlap((<tuple>out)[1], (<tuple>out)[2])):
        dZp, dWo, dbo = <tuple>out     # the common training-loop case, checked in C
    else:
        o = _unpack_out(out, 3, "dZ_prev, dW, db")
        ins = (("dZ", dz), ("A_prev", a_prev), ("W", w),
               ("Z_prev", v if v is not a_prev else None))
        dZp = _out_array(o[0], "dZ_prev", p, m, dz, ins)
        dWo = _out_array(o[1], "dW", n, p, dz, ins + (("dZ_prev", dZp),))
        dbo = _out_array(o[2], "db", n, 1, dz, ins + (("dZ_prev", dZp), ("dW", dWo)))
    cdef Mat mdz = _mat(dz), ma = _mat(a_prev), mw = _mat(w), mv = _mat(v)
    if tn == cnp.NPY_FLOAT:
        with nogil:
            _backward_kernel(mdz, ma, mw, mv, <float*>cnp.PyArray_DATA(dZp),
                             <float*>cnp.PyArray_DATA(dWo), <float*>cnp.PyArray_DATA(dbo),
                             n, p, m, act, <float>al, <float>sc, <float>(lam * sc), nt)
    else:
        with nogil:
            _backward_kernel(mdz, ma, mw, mv, <double*>cnp.PyArray_DATA(dZp),
                             <double*>cnp.PyArray_DATA(dWo), <double*>cnp.PyArray_DATA(dbo),
                             n, p, m, act, <double>al, sc, lam * sc, nt)
    return dZp, dWo, dbo


# ------------------------------------------------------------ output layer

cdef int _loss_code(object loss) except -1:
    try:
        return _LOSS_CODE[loss]
    except (KeyError, TypeError):
        valid = ", ".join(repr(x) for x in LOSSES)
        raise ValueError(f"Unknown loss {loss!r}; valid names: {valid}") from None


cdef tuple _labels(object Y, cnp.ndarray al):
    """Y as an array of a label dtype the C kernels read, with (row, col) strides."""
    cdef cnp.ndarray y = Y if cnp.PyArray_Check(Y) else np.asarray(Y)
    if not cnp.PyArray_ISBEHAVED_RO(y):
        y = np.ascontiguousarray(y, dtype=y.dtype.newbyteorder("="))
    cdef int t = cnp.PyArray_TYPE(y)
    cdef int yt
    if y.ndim == 1 and al.shape[0] == 1 and y.shape[0] == al.shape[1]:
        y = y.reshape(1, -1)
    if y.ndim != 2 or y.shape[0] != al.shape[0] or y.shape[1] != al.shape[1]:
        raise ValueError(f"Invalid shapes: Y should have the shape of AL {_shape(al)}, "
                         f"got Y {_shape(y)}")
    if t == cnp.NPY_FLOAT:
        yt = FBP_Y_F32
    elif t == cnp.NPY_DOUBLE:
        yt = FBP_Y_F64
    elif t == cnp.NPY_UINT8 or t == cnp.NPY_BOOL:
        yt = FBP_Y_U8
    elif t == cnp.NPY_INT8:
        y = y.astype(np.int32)
        yt = FBP_Y_I32
    elif t == cnp.NPY_INT32:
        yt = FBP_Y_I32
    elif cnp.PyArray_ISINTEGER(y):
        y = y.astype(np.int64, copy=False)
        yt = FBP_Y_I64
    elif t == cnp.NPY_FLOAT16:
        y = y.astype(np.float32)
        yt = FBP_Y_F32
    else:
        raise TypeError(f"Unsupported dtype: Y has dtype {y.dtype}; labels may be float, "
                        f"int, bool or uint8")
    if y.strides[0] % y.itemsize or y.strides[1] % y.itemsize:
        y = np.ascontiguousarray(y)
    return y, yt, y.strides[0] // y.itemsize, y.strides[1] // y.itemsize


def output_delta(AL, Y, loss, *, out=None, n_threads=None):
    """Output-layer delta ``dZ = AL - Y``.

    The gradient of the mean cost w.r.t. the output pre-activation, times m,
    for binary_crossentropy (sigmoid output), crossentropy (softmax output)
    and mse (identity output): in all three the chain rule collapses to
    ``AL - Y``. Feed it to :func:`dense_backward`, whose ``scale`` applies 1/m.

    Parameters
    ----------
    AL : ndarray (n_out, m), float32 or float64
    Y : array_like (n_out, m)
        Targets; float, int, bool or uint8 (the course's labels are uint8).
        A (m,) vector is accepted when n_out == 1.
    loss : str
        One of ``fastbp.LOSSES``.
    out : ndarray (n_out, m), optional
    n_threads : int, optional

    Returns
    -------
    dZ : ndarray (n_out, m)
    """
    cdef cnp.ndarray al = _float2d(AL, "AL")
    _loss_code(loss)
    y, yt_o, yr_o, yc_o = _labels(Y, al)
    cdef cnp.ndarray ya = y
    cdef int yt = yt_o
    cdef Py_ssize_t yr = yr_o, yc = yc_o
    cdef Py_ssize_t n = al.shape[0], m = al.shape[1]
    cdef cnp.ndarray D = _one_out(out, "dZ", n, m, al, (("AL", al), ("Y", ya)))
    cdef int nt = _resolve_threads(n_threads)
    cdef Mat ma = _mat(al)
    cdef Py_ssize_t nch = (m + _COL_CHUNK - 1) // _COL_CHUNK, t, j0, j1
    if n * m < _PAR_MIN_ELEMS:
        nt = 1
    cdef const void *yp = cnp.PyArray_DATA(ya)
    with nogil:
        for t in prange(nch, num_threads=nt if nch > 1 else 1, schedule="static"):
            j0 = t * _COL_CHUNK
            j1 = j0 + _COL_CHUNK if j0 + _COL_CHUNK < m else m
            if cnp.PyArray_TYPE(al) == cnp.NPY_FLOAT:
                fbp_delta_f(<const float*>ma.data, ma.rs, ma.cs, yp, yt, yr, yc,
                            <float*>cnp.PyArray_DATA(D), m, n, j0, j1)
            else:
                fbp_delta_d(<const double*>ma.data, ma.rs, ma.cs, yp, yt, yr, yc,
                            <double*>cnp.PyArray_DATA(D), m, n, j0, j1)
    return D


def loss(AL, Y, loss):
    """Mean cost over the m examples (columns), logs clipped so it is finite.

    ::

        binary_crossentropy: -1/m sum [Y log AL + (1 - Y) log(1 - AL)]
        crossentropy:        -1/m sum Y log AL
        mse:                  1/(2m) sum (AL - Y)^2

    ``log(x)`` is evaluated as ``log(max(x, tiny))`` with ``tiny`` the
    dtype's smallest normal number; sums are accumulated in float64.

    Parameters
    ----------
    AL : ndarray (n_out, m), float32 or float64
    Y : array_like (n_out, m); float, int, bool or uint8
    loss : str
        One of ``fastbp.LOSSES``.

    Returns
    -------
    float
    """
    cdef cnp.ndarray al = _float2d(AL, "AL")
    cdef int code = _loss_code(loss)
    y, yt_o, yr_o, yc_o = _labels(Y, al)
    cdef cnp.ndarray ya = y
    cdef int yt = yt_o
    cdef Py_ssize_t yr = yr_o, yc = yc_o
    cdef Py_ssize_t n = al.shape[0], m = al.shape[1]
    cdef Mat ma = _mat(al)
    cdef double total = 0.0
    cdef const void *yp = cnp.PyArray_DATA(ya)
    with nogil:
        if cnp.PyArray_TYPE(al) == cnp.NPY_FLOAT:
            total = fbp_loss_sum_f(code, <const float*>ma.data, ma.rs, ma.cs, yp, yt,
                                   yr, yc, n, 0, m)
        else:
            total = fbp_loss_sum_d(code, <const double*>ma.data, ma.rs, ma.cs, yp, yt,
                                   yr, yc, n, 0, m)
    return total / m


def softmax(Z, *, out=None, n_threads=None):
    """Column-wise softmax, ``A[:, j] = exp(Z[:, j] - max_i Z[i, j]) / sum_i(...)``.

    Parameters
    ----------
    Z : ndarray (n, m), float32 or float64
    out : ndarray (n, m), optional (may not be Z itself)
    n_threads : int, optional

    Returns
    -------
    A : ndarray (n, m)
    """
    cdef cnp.ndarray z = _float2d(Z, "Z")
    cdef Py_ssize_t n = z.shape[0], m = z.shape[1]
    cdef cnp.ndarray A = _one_out(out, "A", n, m, z, (("Z", z),))
    cdef int nt = _resolve_threads(n_threads)
    if n * m < _PAR_MIN_ELEMS:
        nt = 1
    cdef Mat mz = _mat(z)
    cdef Py_ssize_t nch = (m + _COL_CHUNK - 1) // _COL_CHUNK, t, j0, j1
    cdef Py_ssize_t isz = z.itemsize
    cdef char *buf = <char*>malloc(nch * 2 * _COL_CHUNK * isz)
    if buf == NULL:
        raise MemoryError("softmax: could not allocate the column scratch buffer")
    try:
        with nogil:
            for t in prange(nch, num_threads=nt if nch > 1 else 1, schedule="static"):
                j0 = t * _COL_CHUNK
                j1 = j0 + _COL_CHUNK if j0 + _COL_CHUNK < m else m
                if isz == 4:
                    fbp_softmax_cols_f(<const float*>mz.data, mz.rs, mz.cs,
                                       <float*>cnp.PyArray_DATA(A), m, n, j0, j1,
                                       <float*>(buf + t * 2 * _COL_CHUNK * isz))
                else:
                    fbp_softmax_cols_d(<const double*>mz.data, mz.rs, mz.cs,
                                       <double*>cnp.PyArray_DATA(A), m, n, j0, j1,
                                       <double*>(buf + t * 2 * _COL_CHUNK * isz))
    finally:
        free(buf)
    return A


_VMATH_NAMES = ("exp", "expm1", "log", "log1p", "tanh", "sigmoid")


def _vmath(str name, x, out=None):
    """Test hook: fastbp's vectorised ``name`` applied to a 1-D array.

    x : ndarray (n,) float32 or float64, C-contiguous
    out : ndarray like x, or None (a new array); may be x itself (in place)
    name : one of exp, expm1, log, log1p, tanh, sigmoid
    """
    if name not in _VMATH_NAMES:
        raise ValueError(f"Invalid name: expected one of {_VMATH_NAMES}, got {name!r}")
    if not isinstance(x, np.ndarray) or x.ndim != 1 or x.dtype not in (np.float32, np.float64) \
            or not x.flags.c_contiguous:
        raise TypeError("Invalid x: expected a C-contiguous 1-D float32/float64 array")
    if out is None:
        out = np.empty_like(x)
    elif not isinstance(out, np.ndarray) or out.dtype != x.dtype or out.shape != x.shape \
            or not out.flags.c_contiguous or not out.flags.writeable:
        raise TypeError("Invalid out: expected a writeable C-contiguous array like x")
    cdef int k = _VMATH_NAMES.index(name)
    cdef Py_ssize_t n = x.shape[0]
    cdef void *px = cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef void *py = cnp.PyArray_DATA(<cnp.ndarray>out)
    cdef bint single = x.dtype == np.float32
    with nogil:
        if single:
            if k == 0: fbp_vexp_f(<float*>px, <float*>py, n)
            elif k == 1: fbp_vexpm1_f(<float*>px, <float*>py, n)
            elif k == 2: fbp_vlog_f(<float*>px, <float*>py, n)
            elif k == 3: fbp_vlog1p_f(<float*>px, <float*>py, n)
            elif k == 4: fbp_vtanh_f(<float*>px, <float*>py, n)
            else: fbp_vsigmoid_f(<float*>px, <float*>py, n)
        else:
            if k == 0: fbp_vexp_d(<double*>px, <double*>py, n)
            elif k == 1: fbp_vexpm1_d(<double*>px, <double*>py, n)
            elif k == 2: fbp_vlog_d(<double*>px, <double*>py, n)
            elif k == 3: fbp_vlog1p_d(<double*>px, <double*>py, n)
            elif k == 4: fbp_vtanh_d(<double*>px, <double*>py, n)
            else: fbp_vsigmoid_d(<double*>px, <double*>py, n)
    return out


def _loss_cols(AL, Y, str loss):
    """Test hook: per-column loss sums from fbp_loss_cols (C-contiguous or
    F-contiguous 2-D AL of float32/float64, Y of the same shape and dtype)."""
    cdef int code = {"bce": 0, "ce": 1, "mse": 2}[loss]
    cdef cnp.ndarray a = AL, y = Y
    if a.ndim != 2 or y.ndim != 2 or a.dtype != y.dtype or a.dtype not in (np.float32, np.float64):
        raise TypeError("Invalid AL/Y: expected 2-D float32/float64 arrays of one dtype")
    cdef Py_ssize_t isz = a.itemsize
    cdef Py_ssize_t n = a.shape[0], m = a.shape[1]
    cdef Py_ssize_t ar = a.strides[0] // isz, ac = a.strides[1] // isz
    cdef Py_ssize_t yr = y.strides[0] // isz, yc = y.strides[1] // isz
    cdef cnp.ndarray out = np.empty(m, np.float64)
    cdef double total
    if isz == 4:
        fbp_loss_cols_f(code, <const float*>a.data, ar, ac, y.data, 0, yr, yc, n, 0, m,
                        <double*>out.data)
        total = fbp_loss_sum_f(code, <const float*>a.data, ar, ac, y.data, 0, yr, yc, n, 0, m)
    else:
        fbp_loss_cols_d(code, <const double*>a.data, ar, ac, y.data, 1, yr, yc, n, 0, m,
                        <double*>out.data)
        total = fbp_loss_sum_d(code, <const double*>a.data, ar, ac, y.data, 1, yr, yc, n, 0, m)
    return out, total
