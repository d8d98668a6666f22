# cython: language_level=3
"""Fused dense-layer kernels: forward and backward of one layer.

The kernels trust their inputs: fastbp.layers validates every argument (with
fastbp._validation, whose fast path asks plain_inputs/plain_outputs/... here)
and passes 2-D C- or F-contiguous float32/float64 arrays
of one dtype, C-contiguous outputs or None (allocated here), codes and
thread counts.

Fusion: each GEMM is cut into one block of output rows per thread; OpenMP
threads each run a single-threaded GEMM (SciPy's OpenBLAS pinned to one
thread meanwhile) and apply the epilogue (bias + activation forward;
activation derivative backward; db next to the dW block) to their block
right after its GEMM, while it is still in cache (see _n_blocks for the
block size). Only one thread pool is ever awake. bench/RESULTS.md records
how the alternatives (a BLAS-threaded GEMM, then an OpenMP or serial
epilogue) measured.

Which threads: the blocks are tasks (FwdJob / BwdJob) that run either in an
OpenMP team or on the calling thread and the workers of NumPy's OpenBLAS
pool (fastbp._blas._pool_run), chosen per call by _team_size: the pool
wherever fastbp found one it can use. A user's NumPy GEMMs leave that pool's
worker spinning for ~0.1 s; an OpenMP team started then shares the cores
with the spinner (a NumPy-forward / fastbp-backward loop cost ~2x its
parts), while on the pool the spinner runs fastbp's tasks. The same tasks on
either give bitwise the same results (tests/test_numpy_pool.py). Either way
each thread claims its home tasks first (fbp_task_claim), so a block of
output rows is written by the same core call after call.
"""
from cython cimport floating
from cython.parallel cimport parallel
from cpython.dict cimport PyDict_GetItem
from cpython.long cimport PyLong_AsLongAndOverflow
from cpython.object cimport PyObject
from libc.limits cimport INT_MAX
from libc.math cimport isfinite
from libc.stdint cimport uintptr_t
cimport numpy as cnp
from libc.float cimport DBL_MAX

from fastbp._blas cimport _blas_begin, _blas_end, _pool_size, _pool_run
from fastbp._kernels cimport (fbp_deriv_needs_z, fbp_gemm512_on, fbp_gemm_small512_f,
                              fbp_gemm_small512_d, fbp_pf_rows, fbp_pool_enter,
                              fbp_pool_home, fbp_pool_leave, fbp_task_claim)
from fastbp._openmp_helpers cimport (cores_at_import, default_threads, fbp_omp_enabled,
                                      fbp_omp_thread_limit, fbp_omp_thread_num, fork_child,
                                      team_threads)
from fastbp._registry cimport label_code, ACT_NONE, FBP_LEAKY_RELU, FBP_ELU, FBP_N_ACT
from fastbp._rows cimport *  # Mat, _mm, row kernels, backward of a row block

from fastbp._registry import ACT_CODES, DEFAULT_ALPHA

cnp.import_array()

# GEMMs with fewer multiply-adds than this run on one thread (team fork and
# BLAS thread wake-up cost more than they save; measured with bench_layer).
cdef Py_ssize_t _PAR_MIN_MACS = 200000
# OpenBLAS runs a GEMM with M N K <= 65536 * GEMM_MULTITHREAD_THRESHOLD (4 by
# default) on the calling thread whatever its thread setting, so one-thread
# calls that small skip setting it (two library calls saved).
cdef Py_ssize_t _BLAS_SERIAL_MNK = 262144


# ------------------------------------------------------ acceptance tests
#
# For the fast path of fastbp._validation: a layer kernel's validation costs
# more in Python attribute reads than the kernel itself on small layers, so
# the common case -- plain, aligned, contiguous ndarrays of one float dtype,
# outputs of the right shape that share no memory, labels and bias the
# kernels read as they are -- is recognised here in one call. These only say
# yes or no: on "no", fastbp._validation runs its full checks, which convert
# what can be converted and raise the messages.

cdef Py_ssize_t _MAX_DIM = 2147483647      # BLAS indexes with 32-bit integers


cdef inline int _plain(object x, int typenum):
    """x's typenum if it is a plain 2-D float array (of typenum unless 0), else 0."""
    if not cnp.PyArray_CheckExact(x):
        return 0
    cdef cnp.ndarray a = <cnp.ndarray>x
    cdef int t = cnp.PyArray_TYPE(a)
    if (t != cnp.NPY_FLOAT and t != cnp.NPY_DOUBLE) or (typenum and t != typenum):
        return 0
    if (cnp.PyArray_NDIM(a) != 2 or not cnp.PyArray_ISBEHAVED_RO(a)
            or not (cnp.PyArray_IS_C_CONTIGUOUS(a) or cnp.PyArray_IS_F_CONTIGUOUS(a))):
        return 0
    if not (0 < a.shape[0] <= _MAX_DIM and 0 < a.shape[1] <= _MAX_DIM):
        return 0
    return t


def plain_inputs(a, b=None, c=None, d=None):
    """The NumPy type number the given arrays share (None entries skipped) when
    each is a plain ndarray: 2-D, C- or F-contiguous, aligned, native byte
    order, float32 or float64, every dimension in [1, 2**31); else 0."""
    cdef int t = _plain(a, 0)
    if t == 0:
        return 0
    if b is not None and _plain(b, t) == 0:
        return 0
    if c is not None and _plain(c, t) == 0:
        return 0
    if d is not None and _plain(d, t) == 0:
        return 0
    return t


cdef struct Ext:
    uintptr_t lo       # first byte of an array's elements
    uintptr_t hi       # one past the last (lo == hi == 0: no element)


cdef inline Ext _ext(cnp.ndarray a):
    """The bytes a's elements occupy, every stride counted (negative ones too),
    so a strided bias or label view is covered over its whole extent."""
    cdef Ext e
    cdef Py_ssize_t k, d, s, l = 0, h = 0
    for k in range(cnp.PyArray_NDIM(a)):
        d = cnp.PyArray_DIM(a, k)
        if d == 0:
            e.lo = e.hi = 0
            return e
        s = cnp.PyArray_STRIDE(a, k)
        if s > 0:
            h += (d - 1) * s
        else:
            l += (d - 1) * s
    e.lo = <uintptr_t>cnp.PyArray_DATA(a) + <uintptr_t>l
    e.hi = <uintptr_t>cnp.PyArray_DATA(a) + <uintptr_t>(h + cnp.PyArray_ITEMSIZE(a))
    return e


cdef inline bint _meet(Ext a, Ext b) noexcept nogil:
    return a.lo < b.hi and b.lo < a.hi


cdef inline bint _exts_disjoint(const Ext *outs, int no, const Ext *ins, int ni) noexcept nogil:
    """No output shares a byte with another output or with an input."""
    cdef int i, j
    for i in range(no):
        for j in range(i + 1, no):
            if _meet(outs[i], outs[j]):
                return False
        for j in range(ni):
            if _meet(outs[i], ins[j]):
                return False
    return True


cdef inline bint _overlap(cnp.ndarray a, cnp.ndarray b):
    """a and b share a byte."""
    return _meet(_ext(a), _ext(b))


cdef inline bint _apart(object o, object x):
    """Output o and input x (None: nothing) share no byte."""
    return x is None or not _overlap(<cnp.ndarray>o, <cnp.ndarray>x)


def disjoint(tuple outs, tuple ins):
    """True when no array of ``outs`` shares a byte range with another output
    or with an array of ``ins`` (None entries skipped)."""
    cdef Py_ssize_t i, j, no = len(outs), ni = len(ins)
    for i in range(no):
        o = outs[i]
        for j in range(i + 1, no):
            if _overlap(<cnp.ndarray>o, <cnp.ndarray>outs[j]):
                return False
        for j in range(ni):
            x = ins[j]
            if x is not None and _overlap(<cnp.ndarray>o, <cnp.ndarray>x):
                return False
    return True


cdef inline bint _plain_out(object o, int typenum, Py_ssize_t rows, Py_ssize_t cols):
    """o is an ndarray of typenum, shape (rows, cols), C-contiguous, writeable,
    aligned and in native byte order (a '>f8' array has float64's typenum: the
    kernels would write native bytes into it)."""
    if not cnp.PyArray_CheckExact(o):
        return False
    cdef cnp.ndarray a = <cnp.ndarray>o
    return (cnp.PyArray_TYPE(a) == typenum and cnp.PyArray_NDIM(a) == 2
            and a.shape[0] == rows and a.shape[1] == cols
            and cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISBEHAVED(a))


def plain_outputs(int typenum, tuple outs, tuple shapes, tuple ins):
    """True when every ``outs[k]`` is an ndarray of ``typenum`` with shape
    ``(shapes[2k], shapes[2k + 1])``, C-contiguous, writeable, aligned and
    native, and ``disjoint`` holds."""
    cdef Py_ssize_t k
    if len(shapes) != 2 * len(outs):
        return False
    for k in range(len(outs)):
        if not _plain_out(outs[k], typenum, shapes[2 * k], shapes[2 * k + 1]):
            return False
    return disjoint(outs, ins)


def plain_labels(Y, Py_ssize_t rows, Py_ssize_t cols):
    """(code, row stride, column stride) of labels Y the loss kernels read as
    they are -- an ndarray (rows, cols), aligned, native byte order, of a dtype
    in fastbp._registry.LABEL_DTYPES or bool, strides whole elements -- else None."""
    if not cnp.PyArray_CheckExact(Y):
        return None
    cdef cnp.ndarray y = <cnp.ndarray>Y
    cdef int yt = label_code(cnp.PyArray_TYPE(y))
    cdef Py_ssize_t isz = cnp.PyArray_ITEMSIZE(y)
    if (yt < 0 or cnp.PyArray_NDIM(y) != 2 or y.shape[0] != rows or y.shape[1] != cols
            or not cnp.PyArray_ISBEHAVED_RO(y)
            or cnp.PyArray_STRIDE(y, 0) % isz or cnp.PyArray_STRIDE(y, 1) % isz):
        return None
    return yt, cnp.PyArray_STRIDE(y, 0) // isz, cnp.PyArray_STRIDE(y, 1) // isz


cdef inline Py_ssize_t _plain_fwd(object A_prev, object W, object b, object out):
    """plain_forward in C: b's stride, or -1."""
    cdef int t = _plain(A_prev, 0)
    if t == 0 or _plain(W, t) == 0:
        return -1
    cdef cnp.ndarray a = <cnp.ndarray>A_prev, w = <cnp.ndarray>W
    if a.shape[0] != w.shape[1]:
        return -1
    cdef Py_ssize_t bs = _plain_bias(b, t, w.shape[0])
    if bs < 0 or out is None:
        return bs
    if type(out) is not tuple or len(<tuple>out) != 2:
        return -1
    o0 = (<tuple>out)[0]
    o1 = (<tuple>out)[1]
    if not (_plain_out(o0, t, w.shape[0], a.shape[1]) and _plain_out(o1, t, w.shape[0], a.shape[1])):
        return -1
    cdef Ext eo[2]
    cdef Ext ei[3]
    eo[0] = _ext(<cnp.ndarray>o0)
    eo[1] = _ext(<cnp.ndarray>o1)
    ei[0] = _ext(a)
    ei[1] = _ext(w)
    ei[2] = _ext(<cnp.ndarray>b)
    return bs if _exts_disjoint(eo, 2, ei, 3) else -1


def plain_forward(A_prev, W, b, out=None):
    """plain_bias(b) when A_prev and W pass plain_inputs and chain (A_prev has
    W.shape[1] rows), b is a plain bias of their dtype and ``out`` is None or
    a tuple (Z, A) that passes plain_outputs; else -1."""
    return _plain_fwd(A_prev, W, b, out)


cdef inline Py_ssize_t _plain_bwd(object dZ, object A_prev, object W, object out):
    """plain_backward in C: m, or 0."""
    cdef int t = _plain(dZ, 0)
    if t == 0 or _plain(A_prev, t) == 0 or _plain(W, t) == 0:
        return 0
    cdef cnp.ndarray dz = <cnp.ndarray>dZ, a = <cnp.ndarray>A_prev, w = <cnp.ndarray>W
    cdef Py_ssize_t n = w.shape[0], p = w.shape[1], m = dz.shape[1]
    if dz.shape[0] != n or a.shape[0] != p or a.shape[1] != m:
        return 0
    if out is None:
        return m
    if type(out) is not tuple or len(<tuple>out) != 3:
        return 0
    o0 = (<tuple>out)[0]
    o1 = (<tuple>out)[1]
    o2 = (<tuple>out)[2]
    if not (_plain_out(o0, t, p, m) and _plain_out(o1, t, n, p) and _plain_out(o2, t, n, 1)):
        return 0
    cdef Ext eo[3]
    cdef Ext ei[3]
    eo[0] = _ext(<cnp.ndarray>o0)
    eo[1] = _ext(<cnp.ndarray>o1)
    eo[2] = _ext(<cnp.ndarray>o2)
    ei[0] = _ext(dz)
    ei[1] = _ext(a)
    ei[2] = _ext(w)
    return m if _exts_disjoint(eo, 3, ei, 3) else 0


def plain_backward(dZ, A_prev, W, out=None):
    """m when dZ, A_prev and W pass plain_inputs, their shapes chain as
    dZ (n, m), A_prev (n_prev, m), W (n, n_prev), and ``out`` is None or a
    tuple (dZ_prev, dW, db) that passes plain_outputs; else 0."""
    return _plain_bwd(dZ, A_prev, W, out)


def plain_out(out, like, other=None):
    """True when ``out`` is an ndarray of ``like``'s dtype and shape, C-contiguous,
    writeable, aligned and native, sharing no memory with ``like`` or ``other``
    (may be None)."""
    cdef cnp.ndarray a = <cnp.ndarray>like
    return (_plain_out(out, cnp.PyArray_TYPE(a), a.shape[0], a.shape[1])
            and disjoint((out,), (like, other)))


cdef inline Py_ssize_t _plain_bias(object b, int typenum, Py_ssize_t n):
    if not cnp.PyArray_CheckExact(b):
        return -1
    cdef cnp.ndarray a = <cnp.ndarray>b
    cdef int nd = cnp.PyArray_NDIM(a)
    cdef Py_ssize_t isz = cnp.PyArray_ITEMSIZE(a)
    if (cnp.PyArray_TYPE(a) != typenum or not cnp.PyArray_ISBEHAVED_RO(a)
            or not ((nd == 2 and a.shape[0] == n and a.shape[1] == 1)
                    or (nd == 1 and a.shape[0] == n))
            or cnp.PyArray_STRIDE(a, 0) % isz):
        return -1
    return cnp.PyArray_STRIDE(a, 0) // isz


def plain_bias(b, int typenum, Py_ssize_t n):
    """The element stride of a bias b the forward kernel reads as it is -- an
    ndarray (n, 1) or (n,) of ``typenum``, aligned, native byte order, stride a
    whole number of elements -- else -1."""
    return _plain_bias(b, typenum, n)


# ------------------------------------------ the whole call, common case
#
# forward_plain / backward_plain run fastbp.dense_forward / dense_backward in
# one compiled call when every argument is in the form the full checks of
# fastbp._validation would pass through unchanged: the plain_forward /
# plain_backward arrays, an activation named by an exact str (or None for
# backward), alpha None or a float the checks accept, scale None or a float,
# lambd a float, n_threads None or a positive int. Anything else returns None
# without computing, and fastbp.layers runs the full checks, which convert or
# raise. At a few microseconds per call, the second Python frame, the
# argument tuple and the per-name lookups of the general path cost as much
# as the bias and activation passes (bench/RESULTS.md).

cdef double _DEF_ALPHA[FBP_N_ACT]
for _name, _code in ACT_CODES.items():
    _DEF_ALPHA[<int>_code] = DEFAULT_ALPHA.get(_name, 0.0)


cdef inline bint _act_arg(object activation, object alpha, bint allow_none, int *act,
                          double *al):
    """The activation's code and alpha as the full checks give them, or False
    (not the common form: let them decide)."""
    cdef PyObject *c
    cdef double a
    if activation is None:
        if not allow_none or alpha is not None:
            return False            # (an alpha given: the full checks check it)
        act[0] = ACT_NONE           # no derivative: alpha is not read
        al[0] = 0.0
        return True
    if type(activation) is not str:
        return False
    c = PyDict_GetItem(ACT_CODES, activation)
    if c == NULL:
        return False
    act[0] = <int><object>c
    if alpha is None:
        al[0] = _DEF_ALPHA[act[0]]
        return True
    if type(alpha) is not float:
        return False
    a = <double>alpha
    if not (-DBL_MAX <= a <= DBL_MAX) or (
            (act[0] == FBP_LEAKY_RELU or act[0] == FBP_ELU) and not a >= 0):
        return False        # inf, NaN, or negative where read: the full checks raise
    al[0] = a
    return True


cdef inline int _nt_arg(object n_threads):
    """The thread count of n_threads None or a positive int, else 0 (also for
    a count above 1 in a fork() child, above the cores or above
    OMP_THREAD_LIMIT: the full checks warn and give 1, or the cores, or cap
    it at the limit as effective_n_threads does)."""
    cdef int overflow = 0
    cdef long v
    if n_threads is None:
        return default_threads()
    if type(n_threads) is not int:
        return 0
    v = PyLong_AsLongAndOverflow(n_threads, &overflow)
    if overflow or v <= 0 or v > cores_at_import():
        return 0
    if not fbp_omp_enabled():
        # a serial build runs every count on one thread, as effective_n_threads
        # says (checked before the limit: its serial stub is 1, which sent
        # every n_threads > 1 to the full checks)
        return 1
    if v > fbp_omp_thread_limit():
        return 0
    if v > 1 and fork_child():
        return 0
    return <int>v


def forward_plain(A_prev, W, b, activation, alpha, out, n_threads):
    """(Z, A) of fastbp.dense_forward in the common case (see above), else None."""
    cdef int act, nt
    cdef double al
    cdef Py_ssize_t bs = _plain_fwd(A_prev, W, b, out)
    if bs < 0 or not _act_arg(activation, alpha, False, &act, &al):
        return None
    nt = _nt_arg(n_threads)
    if nt == 0:
        return None
    if out is None:
        return _forward(A_prev, W, b, bs, None, None, act, al, nt)
    return _forward(A_prev, W, b, bs, (<tuple>out)[0], (<tuple>out)[1], act, al, nt)


def backward_plain(dZ, A_prev, W, activation, Z_prev, alpha, scale, lambd, out, n_threads):
    """(dZ_prev, dW, db) of fastbp.dense_backward in the common case (see
    above), else None."""
    cdef int act, nt
    cdef double al, sc
    cdef Py_ssize_t m = _plain_bwd(dZ, A_prev, W, out)
    if m == 0 or not _act_arg(activation, alpha, True, &act, &al):
        return None
    v = A_prev
    if Z_prev is not None:
        # read only for the activations whose g' needs it, checked whenever given
        if (_plain(Z_prev, cnp.PyArray_TYPE(<cnp.ndarray>dZ)) == 0
                or (<cnp.ndarray>Z_prev).shape[0] != (<cnp.ndarray>A_prev).shape[0]
                or (<cnp.ndarray>Z_prev).shape[1] != m):
            return None
    if act >= 0 and fbp_deriv_needs_z(act):
        if Z_prev is None:
            return None
        if out is not None and not (_apart((<tuple>out)[0], Z_prev)
                                    and _apart((<tuple>out)[1], Z_prev)
                                    and _apart((<tuple>out)[2], Z_prev)):
            return None
        v = Z_prev
    if scale is None:
        sc = 1.0 / m
    elif type(scale) is float:
        sc = <double>scale
    else:
        return None
    if type(lambd) is not float:
        return None
    if not (isfinite(sc) and isfinite(<double>lambd) and <double>lambd >= 0):
        return None         # the full checks raise
    nt = _nt_arg(n_threads)
    if nt == 0:
        return None
    if out is None:
        return _backward(dZ, A_prev, W, v, None, None, None, act, al, sc,
                         <double>lambd * sc, nt)
    return _backward(dZ, A_prev, W, v, (<tuple>out)[0], (<tuple>out)[1], (<tuple>out)[2],
                     act, al, sc, <double>lambd * sc, nt)


# ------------------------------------------------------------- blocking

cdef inline bint _by_cols(Py_ssize_t M, Py_ssize_t N, int nt) noexcept nogil:
    """Split an (M, N) GEMM output by columns rather than rows?

    With few rows each thread's share would be a thin panel that runs far
    below GEMM speed (the (20, 12288) dW of the course's 12288-feature
    network ran slower on 2 threads than on 1), so split the long side.
    """
    return nt > 1 and M < 64 * nt and N > M


cdef inline Py_ssize_t _n_blocks(Py_ssize_t rows, int nt) noexcept nogil:
    """Row blocks for the blocked GEMM: one per thread, at least 8 rows each.

    Smaller, cache-sized blocks keep the epilogue in L2 but cost more than
    they save: every block re-packs the GEMM's shared operand (see
    bench/RESULTS.md). The epilogue on a thread's own block still runs from
    L3 right after its GEMM.
    """
    cdef Py_ssize_t nb = nt
    cdef Py_ssize_t max_nb = (rows + 7) // 8
    if nb > max_nb:
        nb = max_nb
    return nb if nb > 0 else 1


# ------------------------------------------------------------------ kernels

# One call's work as tasks (one block of output rows or columns each): the
# same task bodies run in an OpenMP team or on the threads of
# NumPy's OpenBLAS pool (fastbp._blas._pool_run, see _team_size), whichever
# runs them, with the same blocks, so results do not depend on it.

cdef struct FwdJob:
    Mat Ap
    Mat W
    const void *b
    Py_ssize_t bs
    void *Z
    void *A
    Py_ssize_t n, p, m
    int act
    double alpha
    bint bc
    Py_ssize_t dim, blk, ntask
    Py_ssize_t next          # fbp_task_claim's counter,
    unsigned long long taken # its mask of the claimed tasks
    Py_ssize_t nthr          # and the threads that run them
    bint chunked             # row chunks in the AVX-512 small GEMM (_chunks_pay)


cdef struct BwdJob:
    Mat dZ
    Mat Ap
    Mat W
    Mat V
    void *dZp
    void *dW
    void *db
    Py_ssize_t n, p, m
    int act
    double alpha, scale, l2
    bint bcw, bcz
    Py_ssize_t dimw, dimz, blkw, blkz, nbw, ntask
    Py_ssize_t next, nthr
    unsigned long long taken


cdef inline int _team_size(int nt, Py_ssize_t ntask) noexcept nogil:
    """Threads of NumPy's OpenBLAS pool to run ntask tasks on (0: an OpenMP team).

    Every multithreaded call runs on that pool when fastbp._blas found it:
    after a NumPy GEMM its worker spins for ~0.1 s on the core an OpenMP
    team would need (fastbp._blas, "Running in NumPy's pool").
    """
    if ntask < 2 or nt < 2:
        return 0
    return _pool_size(nt if nt < ntask else <int>ntask)


cdef inline void _fwd_task(FwdJob *j, Py_ssize_t t, floating *Z, floating *A,
                           const floating *b) noexcept nogil:
    cdef Py_ssize_t r0 = t * j.blk
    cdef Py_ssize_t r1 = r0 + j.blk if r0 + j.blk < j.dim else j.dim
    cdef Py_ssize_t m = j.m, off, rows, cols, wr, ac
    # float32 with >= BIAS_FIRST_K inputs (_rows.pxd): the bias first, the
    # GEMM adds its product (beta 1), and the epilogue writes A alone
    cdef bint bias_first = floating is float and j.p >= BIAS_FIRST_K
    if r0 >= r1:
        return
    if j.bc:        # Z[:, r0:r1]
        off, rows, cols, wr, ac = r0, j.n, r1 - r0, 0, r0
    else:           # Z[r0:r1, :] and b[r0:r1]
        off, rows, cols, wr, ac = r0 * m, r1 - r0, m, r0, 0
        b = b + r0 * j.bs
    if j.chunked:
        _fwd_chunks(j, Z + off, A + off, b, wr, rows)
        return
    if bias_first:
        _bias_fill(Z + off, m, b, j.bs, rows, cols)
    _mm(Z + off, m, rows, cols, j.p, <floating>1, j.W, False, wr, j.Ap, False, ac,
        <floating>(1 if bias_first else 0))
    _fwd_rows(j.act, <floating>j.alpha, Z + off, m, A + off, m,
              <const floating *>NULL if bias_first else b, j.bs, rows, cols)


# Small blocks of dense_forward on AVX-512 (_chunks_pay): the GEMM in the
# small-GEMM kernel's AVX-512 clone (csrc/fastbp_gemm.h, 6-row x 4-vector
# register tiles), FWD_CHUNK rows at a time, each chunk's epilogue right after
# its GEMM while its rows of Z are in L1, and A's rows prefetched before the
# chunk's GEMM so that their lines arrive while it computes. OpenBLAS's fixed
# cost per call rules out calling it per few rows; through OpenBLAS, row
# chunks gained nothing measurable (bench/RESULTS.md, thirty-first session).
# The clone took 1.0-1.05x OpenBLAS SkylakeX's time on such products (64 x 32
# x 64, 128 x 32 x 64; 1.1-1.3x from 256 x 64 x 256 up: it neither packs nor
# blocks for the caches), hence the limits: at most FWD_CHUNK_MNK
# multiply-adds per block, and C-ordered W and A_prev (the measured NN case).
# Columns in whole tiles of 4 vectors (32 float64 / 64 float32 and their
# multiples): one thread, relu, 9 interleaved timings against the same call
# through OpenBLAS, 12 shapes up to 262,144 multiply-adds, such blocks took
# 0.63-0.99x its time (float64 (64, 64, 32) 0.90x), while 1-2 vectors of
# columns took up to 1.18x in float32 ((500, 32, 16)) and 1.07x in float64
# ((128, 128, 16)): their tiles hold 6-12 accumulators, too few to cover the
# FMA latency. FWD_CHUNK 6-48 measured alike.
cdef enum:
    FWD_CHUNK = 12
    FWD_CHUNK_MNK = 262144
    FWD_CHUNK_COLS_BYTES = 256


cdef bint _chunks_on = True     # the switch of _set_fwd_chunks


def _set_fwd_chunks(bint on):
    """Let dense_forward run its small blocks in row chunks where they pay (the
    default) or never; returns the old setting. For benchmarks and tests:
    process-wide, not thread-safe against running calls."""
    global _chunks_on
    _chunks_on, on = on, _chunks_on
    return bool(on)


def fwd_chunks_apply(Py_ssize_t n, Py_ssize_t n_prev, Py_ssize_t m, dtype):
    """Whether a one-block dense_forward of C-ordered W (n, n_prev) and A_prev
    (n_prev, m) would run in row chunks here (_chunks_pay)."""
    cdef Mat c
    c.data = NULL
    c.rs = 1
    c.cs = 1
    import numpy as np
    return bool(_chunks_pay(c, c, n, m, n_prev, np.dtype(dtype).itemsize))


cdef inline bint _chunks_pay(Mat Ap, Mat W, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t p,
                             Py_ssize_t isz) noexcept nogil:
    return (_chunks_on and fbp_gemm512_on() != 0 and Ap.cs == 1 and W.cs == 1 and cols > 0
            and (cols * isz) % FWD_CHUNK_COLS_BYTES == 0 and rows * cols * p <= FWD_CHUNK_MNK)


cdef inline void _fwd_chunks(FwdJob *j, floating *Z, floating *A, const floating *b,
                             Py_ssize_t wr, Py_ssize_t rows) noexcept nogil:
    """Rows wr .. wr + rows of Z = W A_prev + b and A = g(Z) (all m columns), in
    chunks of FWD_CHUNK rows: Z and A point at the block's first row, b at its
    bias."""
    cdef Py_ssize_t m = j.m, c0 = 0, cr
    cdef const floating *W = <const floating *>j.W.data + wr * j.W.rs
    cdef const floating *X = <const floating *>j.Ap.data
    while c0 < rows:
        cr = FWD_CHUNK if rows - c0 > FWD_CHUNK else rows - c0
        fbp_pf_rows(A + c0 * m, m * <Py_ssize_t>sizeof(floating), 0, cr, cr,
                    m * <Py_ssize_t>sizeof(floating))
        if floating is float:
            fbp_gemm_small512_f(0, 0, cr, m, j.p, 1, W + c0 * j.W.rs, j.W.rs, X, j.Ap.rs,
                                0, Z + c0 * m, m)
        else:
            fbp_gemm_small512_d(0, 0, cr, m, j.p, 1, W + c0 * j.W.rs, j.W.rs, X, j.Ap.rs,
                                0, Z + c0 * m, m)
        _fwd_rows(j.act, <floating>j.alpha, Z + c0 * m, m, A + c0 * m, m,
                  b + c0 * j.bs, j.bs, cr, m)
        c0 += cr


cdef inline void _fwd_run(FwdJob *j, Py_ssize_t home, floating *Z, floating *A,
                          const floating *b) noexcept nogil:
    """The tasks this thread claims, its home ones first (fbp_task_claim)."""
    cdef Py_ssize_t t = fbp_task_claim(&j.taken, &j.next, j.ntask, j.nthr, home)
    while t < j.ntask:
        _fwd_task(j, t, Z, A, b)
        t = fbp_task_claim(&j.taken, &j.next, j.ntask, j.nthr, home)


cdef void _fwd_pool_f(void *arg) noexcept nogil:
    cdef FwdJob *j = <FwdJob *>arg
    _fwd_run(j, fbp_pool_home(), <float *>j.Z, <float *>j.A, <const float *>j.b)


cdef void _fwd_pool_d(void *arg) noexcept nogil:
    cdef FwdJob *j = <FwdJob *>arg
    _fwd_run(j, fbp_pool_home(), <double *>j.Z, <double *>j.A, <const double *>j.b)


cdef void _forward_kernel(Mat Ap, Mat W, const floating *b, Py_ssize_t bs,
                          floating *Z, floating *A, Py_ssize_t n, Py_ssize_t p,
                          Py_ssize_t m, int act, floating alpha, int nt) noexcept nogil:
    """Z = W Ap + b; A = g(Z)."""
    cdef FwdJob j
    cdef int prev, pool
    if n * p * m < _PAR_MIN_MACS:
        nt = 1
    j.Ap = Ap
    j.W = W
    j.b = b
    j.bs = bs
    j.Z = Z
    j.A = A
    j.n = n
    j.p = p
    j.m = m
    j.act = act
    j.alpha = alpha
    j.bc = _by_cols(n, m, nt)
    j.dim = m if j.bc else n
    j.ntask = _n_blocks(j.dim, nt) if nt > 1 else 1
    j.blk = (j.dim + j.ntask - 1) // j.ntask
    j.next = 0
    j.taken = 0
    j.chunked = not j.bc and _chunks_pay(Ap, W, j.blk, m, p, sizeof(floating))
    prev = _blas_begin(0 if nt == 1 and n * p * m <= _BLAS_SERIAL_MNK else 1)
    pool = _team_size(nt, j.ntask)
    if pool:
        j.nthr = pool
        fbp_pool_enter()        # this thread's home is 0, the workers' 1 up
        if floating is float:
            _pool_run(pool, _fwd_pool_f, &j)
        else:
            _pool_run(pool, _fwd_pool_d, &j)
        fbp_pool_leave()
    elif j.ntask == 1:      # one block: no OpenMP region to enter
        _fwd_task(&j, 0, Z, A, b)
    else:
        j.nthr = team_threads(nt)
        with parallel(num_threads=j.nthr):
            _fwd_run(&j, fbp_omp_thread_num(), Z, A, b)
    _blas_end(prev)


cdef inline void _bwd_task(BwdJob *j, Py_ssize_t t, floating *dZp, floating *dW,
                           floating *db) noexcept nogil:
    cdef Py_ssize_t r0, r1
    cdef Py_ssize_t n = j.n, p = j.p, m = j.m
    cdef floating scale = <floating>j.scale, l2 = <floating>j.l2
    cdef floating beta = 1 if j.l2 != 0 else 0
    cdef Mat W = j.W
    if t < j.nbw:
        r0 = t * j.blkw
        r1 = r0 + j.blkw if r0 + j.blkw < j.dimw else j.dimw
        if r0 < r1 and j.bcw:      # dW[:, r0:r1]; db with the first block
            if l2 != 0:
                _scaled_copy(dW + r0, p, <floating*>W.data + r0 * W.cs,
                             W.rs, W.cs, n, r1 - r0, l2)
            _mm(dW + r0, p, n, r1 - r0, m, scale, j.dZ, False, 0,
                j.Ap, True, r0, beta)
            if t == 0:
                _rowsum(<floating*>j.dZ.data, j.dZ.rs, j.dZ.cs, n, m, scale, db)
        elif r0 < r1:              # dW[r0:r1, :] and db[r0:r1]
            if l2 != 0:
                _scaled_copy(dW + r0 * p, p, <floating*>W.data + r0 * W.rs,
                             W.rs, W.cs, r1 - r0, p, l2)
            _grad_rows(dW, p, db, j.dZ, j.Ap, r0, r1, p, m, scale, beta)
    else:
        r0 = (t - j.nbw) * j.blkz
        r1 = r0 + j.blkz if r0 + j.blkz < j.dimz else j.dimz
        if r0 < r1 and j.bcz:      # dZ_prev[:, r0:r1]
            _mm(dZp + r0, m, p, r1 - r0, n, <floating>1, W, True, 0,
                j.dZ, False, r0, <floating>0)
            if j.act >= 0:
                _bwd_rows(j.act, <floating>j.alpha, dZp + r0, m,
                          <floating*>j.V.data + r0 * j.V.cs, j.V.rs, j.V.cs, p, r1 - r0)
        elif r0 < r1:              # dZ_prev[r0:r1, :]
            _dprev_rows(dZp, m, W, j.dZ, r0, r1, n, m, j.act, <floating>j.alpha, j.V)


cdef inline void _bwd_run(BwdJob *j, Py_ssize_t home, floating *dZp, floating *dW,
                          floating *db) noexcept nogil:
    """The tasks this thread claims, its home ones first (fbp_task_claim)."""
    cdef Py_ssize_t t = fbp_task_claim(&j.taken, &j.next, j.ntask, j.nthr, home)
    while t < j.ntask:
        _bwd_task(j, t, dZp, dW, db)
        t = fbp_task_claim(&j.taken, &j.next, j.ntask, j.nthr, home)


cdef void _bwd_pool_f(void *arg) noexcept nogil:
    cdef BwdJob *j = <BwdJob *>arg
    _bwd_run(j, fbp_pool_home(), <float *>j.dZp, <float *>j.dW, <float *>j.db)


cdef void _bwd_pool_d(void *arg) noexcept nogil:
    cdef BwdJob *j = <BwdJob *>arg
    _bwd_run(j, fbp_pool_home(), <double *>j.dZp, <double *>j.dW, <double *>j.db)


cdef void _backward_kernel(Mat dZ, Mat Ap, Mat W, Mat V, floating *dZp, floating *dW,
                           floating *db, Py_ssize_t n, Py_ssize_t p, Py_ssize_t m, int act,
                           floating alpha, floating scale, floating l2, int nt) noexcept nogil:
    """dW = scale dZ Ap^T + l2 W; db = scale rowsum(dZ); dZp = (W^T dZ) * g'(V)."""
    cdef BwdJob j
    cdef Py_ssize_t t, nbz
    cdef int prev, pool
    if n * p * m < _PAR_MIN_MACS:
        nt = 1
    j.dZ = dZ
    j.Ap = Ap
    j.W = W
    j.V = V
    j.dZp = dZp
    j.dW = dW
    j.db = db
    j.n = n
    j.p = p
    j.m = m
    j.act = act
    j.alpha = alpha
    j.scale = scale
    j.l2 = l2
    j.bcw = _by_cols(n, p, nt)
    j.bcz = _by_cols(p, m, nt)
    j.dimw = p if j.bcw else n
    j.dimz = m if j.bcz else p
    j.nbw = _n_blocks(j.dimw, nt) if nt > 1 else 1
    nbz = _n_blocks(j.dimz, nt) if nt > 1 else 1
    j.blkw = (j.dimw + j.nbw - 1) // j.nbw
    j.blkz = (j.dimz + nbz - 1) // nbz
    j.ntask = j.nbw + nbz
    j.next = 0
    j.taken = 0
    prev = _blas_begin(0 if nt == 1 and n * p * m <= _BLAS_SERIAL_MNK else 1)
    pool = _team_size(nt, j.ntask)
    if pool:
        j.nthr = pool
        fbp_pool_enter()        # this thread's home is 0, the workers' 1 up
        if floating is float:
            _pool_run(pool, _bwd_pool_f, &j)
        else:
            _pool_run(pool, _bwd_pool_d, &j)
        fbp_pool_leave()
    elif nt == 1 or j.ntask == 1:   # the tasks in order on this thread: no OpenMP region
        for t in range(j.ntask):
            _bwd_task(&j, t, dZp, dW, db)
    else:
        j.nthr = team_threads(nt)
        with parallel(num_threads=j.nthr):
            _bwd_run(&j, fbp_omp_thread_num(), dZp, dW, db)
    _blas_end(prev)


# --------------------------------------------------------- Python entries

cdef inline cnp.ndarray _new(Py_ssize_t rows, Py_ssize_t cols, int typenum):
    cdef cnp.npy_intp shape[2]
    shape[0] = rows
    shape[1] = cols
    return cnp.PyArray_EMPTY(2, shape, typenum, 0)


def forward(cnp.ndarray a_prev, cnp.ndarray w, cnp.ndarray b, Py_ssize_t bs, object Z,
            object A, int act, double alpha, int nt):
    """(Z, A) of fastbp.dense_forward on validated arguments.

    b: (n,) values at stride bs (elements); Z, A: C-contiguous (n, m) or None.
    """
    return _forward(a_prev, w, b, bs, Z, A, act, alpha, nt)


cdef tuple _forward(cnp.ndarray a_prev, cnp.ndarray w, cnp.ndarray b, Py_ssize_t bs, object Z,
                    object A, int act, double alpha, int nt):
    cdef Py_ssize_t n = w.shape[0], p = w.shape[1], m = a_prev.shape[1]
    cdef int tn = cnp.PyArray_TYPE(a_prev)
    cdef cnp.ndarray Zo = _new(n, m, tn) if Z is None else <cnp.ndarray>Z
    cdef cnp.ndarray Ao = _new(n, m, tn) if A is None else <cnp.ndarray>A
    cdef Mat mA = _mat(a_prev), mW = _mat(w)
    if tn == cnp.NPY_FLOAT:
        with nogil:
            _forward_kernel(mA, mW, <const float*>cnp.PyArray_DATA(b), bs,
                            <float*>cnp.PyArray_DATA(Zo), <float*>cnp.PyArray_DATA(Ao),
                            n, p, m, act, <float>alpha, nt)
    else:
        with nogil:
            _forward_kernel(mA, mW, <const double*>cnp.PyArray_DATA(b), bs,
                            <double*>cnp.PyArray_DATA(Zo), <double*>cnp.PyArray_DATA(Ao),
                            n, p, m, act, alpha, nt)
    return Zo, Ao


def backward(cnp.ndarray dz, cnp.ndarray a_prev, cnp.ndarray w, cnp.ndarray v,
             object dZ_prev, object dW, object db, int act, double alpha, double scale,
             double l2, int nt):
    """(dZ_prev, dW, db) of fastbp.dense_backward on validated arguments.

    v: the array g' reads (A_prev, or Z_prev where g' needs Z); act < 0: no g'.
    dW gets ``scale dZ A_prev^T + l2 W``. Outputs: C-contiguous or None.
    """
    return _backward(dz, a_prev, w, v, dZ_prev, dW, db, act, alpha, scale, l2, nt)


cdef tuple _backward(cnp.ndarray dz, cnp.ndarray a_prev, cnp.ndarray w, cnp.ndarray v,
                     object dZ_prev, object dW, object db, int act, double alpha,
                     double scale, double l2, int nt):
    cdef Py_ssize_t n = w.shape[0], p = w.shape[1], m = dz.shape[1]
    cdef int tn = cnp.PyArray_TYPE(dz)
    cdef cnp.ndarray dZp = _new(p, m, tn) if dZ_prev is None else <cnp.ndarray>dZ_prev
    cdef cnp.ndarray dWo = _new(n, p, tn) if dW is None else <cnp.ndarray>dW
    cdef cnp.ndarray dbo = _new(n, 1, tn) if db is None else <cnp.ndarray>db
    cdef Mat mdz = _mat(dz), ma = _mat(a_prev), mw = _mat(w), mv = _mat(v)
    if tn == cnp.NPY_FLOAT:
        with nogil:
            _backward_kernel(mdz, ma, mw, mv, <float*>cnp.PyArray_DATA(dZp),
                             <float*>cnp.PyArray_DATA(dWo), <float*>cnp.PyArray_DATA(dbo),
                             n, p, m, act, <float>alpha, <float>scale, <float>l2, nt)
    else:
        with nogil:
            _backward_kernel(mdz, ma, mw, mv, <double*>cnp.PyArray_DATA(dZp),
                             <double*>cnp.PyArray_DATA(dWo), <double*>cnp.PyArray_DATA(dbo),
                             n, p, m, act, alpha, scale, l2, nt)
    return dZp, dWo, dbo
