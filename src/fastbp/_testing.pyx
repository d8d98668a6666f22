# cython: language_level=3
"""Test hooks into the C kernels; not part of fastbp's API (tests/ imports them).

``vmath`` runs one vectorised function of csrc/fastbp_vmath.h on a 1-D
array; ``loss_cols`` returns the per-column loss sums of csrc/fastbp_loss.h
next to the whole-block sum; ``gemm`` runs fastbp._blas's GEMM on a chosen
path and ``set_small_gemm_max`` moves the limit between its two paths
(bench/bench_gemm_small.py uses both too); ``adam_corrections`` runs the
network kernel's per-step optimizer arguments (``_netstep._opt_step``);
``set_numpy_pool`` and ``numpy_pool_runs`` switch and count the layer
kernels' runs on NumPy's OpenBLAS pool (fastbp._blas; bench_layer.py too);
``update`` runs the optimizer update on flat buffers;
``simulate_team_chooser`` drives the network kernel's team chooser with
made-up step times; ``transpose`` runs csrc/fastbp_transpose.h;
``task_claims`` replays the layer kernels' task claims (fbp_task_claim).
"""
from cython cimport floating
cimport numpy as cnp

import numpy as np

from fastbp._blas cimport (_blas_begin, _blas_end, _gemm, _gemm_blas, _gemm_small,
                           _swap_small_gemm_max, BLAS_Trans, NoTrans, Trans)
from fastbp._kernels cimport *  # the csrc kernels (fbp_*)
from fastbp._netstep cimport (NetPlan, TeamChooser, _ch_record, _ch_reset, _ch_solo, _ch_start,
                              _opt_step)
from fastbp._blas import _numpy_pool_runs, _set_numpy_pool
from fastbp._registry cimport *  # the codes (FBP_*)

cnp.import_array()


def transpose(floating[:, :] S):
    """S^T (cols, rows) as a new C-ordered array, through fbp_transpose (the
    clone FASTBP_DISPATCH allows). S's rows must be contiguous; their stride
    may be wider (a column block of a wider array)."""
    cdef Py_ssize_t rows = S.shape[0], cols = S.shape[1]
    if rows > 1 and S.strides[1] != sizeof(floating):
        raise ValueError("S's rows must be contiguous")
    dt = np.float32 if floating is float else np.float64
    out = np.empty((cols, rows), dtype=dt)
    cdef floating[:, ::1] D = out
    cdef Py_ssize_t lds = S.strides[0] // sizeof(floating) if rows > 1 else cols
    if rows == 0 or cols == 0:
        return out
    with nogil:
        if floating is float:
            fbp_transpose_f(&S[0, 0], lds, rows, cols, &D[0, 0])
        else:
            fbp_transpose_d(&S[0, 0], lds, rows, cols, &D[0, 0])
    return out


_VMATH_NAMES = ("exp", "expm1", "log", "log1p", "tanh", "sigmoid")


def vmath(str name, x, out=None):
    """fastbp's vectorised ``name`` applied to a 1-D array.

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


def loss_cols(AL, Y, str loss):
    """Per-column loss sums from fbp_loss_cols (C-contiguous or
    F-contiguous 2-D AL of float32/float64, Y of the same shape and dtype)."""
    cdef int code = {"bce": FBP_BCE, "ce": FBP_CE, "mse": FBP_MSE}[loss]
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
        fbp_loss_cols_f(code, <const float*>a.data, ar, ac, y.data, FBP_Y_F32, yr, yc,
                        n, 0, m, <double*>out.data)
        total = fbp_loss_sum_f(code, <const float*>a.data, ar, ac, y.data, FBP_Y_F32, yr, yc,
                               n, 0, m)
    else:
        fbp_loss_cols_d(code, <const double*>a.data, ar, ac, y.data, FBP_Y_F64, yr, yc,
                        n, 0, m, <double*>out.data)
        total = fbp_loss_sum_d(code, <const double*>a.data, ar, ac, y.data, FBP_Y_F64, yr, yc,
                               n, 0, m)
    return out, total


def set_small_gemm_max(limit):
    """Set _gemm's small-kernel limits on m*n*k; returns the old pair.

    ``limit`` is one int (every product up to it runs in the small kernel,
    larger ones in OpenBLAS; -1: never) or a pair ``(n, mid)`` as returned
    (n for every shape, mid for the shapes that suit the kernel's register
    tiles: _blas.pyx's _small_fits). Process-wide, not thread-safe against
    running GEMMs.
    """
    cdef Py_ssize_t n, mid, old_mid = 0, old
    if isinstance(limit, tuple):
        n, mid = limit
    else:
        n = mid = limit
    old = _swap_small_gemm_max(n, mid, &old_mid)
    return old, old_mid


def avx512_clone():
    """Whether the small-GEMM kernel's AVX-512 clone runs here (the CPU has
    AVX-512 F/DQ/VL, FASTBP_DISPATCH allows it, and the compiler built it)."""
    return fbp_gemm512_on() != 0


def gemm(floating[:, :] A, floating[:, :] B, floating[:, :] C,
         floating alpha=1, floating beta=0, bint trans_a=False, bint trans_b=False,
         str path="auto", Py_ssize_t repeat=1):
    """C = alpha op(A) op(B) + beta C on row-major arrays, through fastbp._blas.

    Rows may be strided (views such as ``X[:, :5]``: the leading dimension is
    the row stride) but each row must be contiguous. ``path`` is "auto"
    (_gemm: small kernel below the limit, OpenBLAS above), "small" or "blas";
    ``repeat`` runs the same call that many times (timing without Python
    overhead; with beta != 0 C changes every time). "small512": the small
    kernel's AVX-512 clone (ValueError where it does not run: avx512_clone).
    """
    cdef Py_ssize_t m = C.shape[0], n = C.shape[1]
    cdef Py_ssize_t k = A.shape[0] if trans_a else A.shape[1]
    cdef int which
    cdef Py_ssize_t r
    cdef Py_ssize_t isz = sizeof(floating)
    if (B.shape[1] if trans_b else B.shape[0]) != k or (A.shape[1] if trans_a else A.shape[0]) != m \
            or (B.shape[0] if trans_b else B.shape[1]) != n:
        raise ValueError("gemm: incompatible shapes")
    for name, X in (("A", A), ("B", B), ("C", C)):
        if X.shape[1] > 1 and X.strides[1] != isz:
            raise ValueError(f"gemm: rows of {name} must be contiguous (strides {X.strides})")
        if X.strides[0] % isz or X.strides[0] < X.shape[1] * isz:
            raise ValueError(f"gemm: row stride of {name} must be a multiple of the "
                             f"item size and at least a row (strides {X.strides})")
    which = {"auto": 0, "small": 1, "blas": 2, "small512": 3}.get(path, -1)
    if which < 0:
        raise ValueError("gemm: path must be 'auto', 'small', 'small512' or 'blas', "
                         f"got {path!r}")
    if which == 3 and not avx512_clone():
        raise ValueError("gemm: path 'small512' needs the small kernel's AVX-512 clone, "
                         "which does not run here (CPU, FASTBP_DISPATCH or compiler)")
    if m == 0 or n == 0:
        return
    cdef floating *pc = &C[0, 0]
    # k == 0: A or B has no elements; the kernels read neither
    cdef const floating *pa = &A[0, 0] if A.shape[0] and A.shape[1] else pc
    cdef const floating *pb = &B[0, 0] if B.shape[0] and B.shape[1] else pc
    cdef Py_ssize_t lda = max(1, A.strides[0] // isz), ldb = max(1, B.strides[0] // isz)
    cdef Py_ssize_t ldc = C.strides[0] // isz
    cdef BLAS_Trans fa = Trans if trans_a else NoTrans
    cdef BLAS_Trans fb = Trans if trans_b else NoTrans
    cdef int prev
    with nogil:
        prev = _blas_begin(0)       # counted in flight for the fork guard
        for r in range(repeat):
            if which == 0:
                _gemm(fa, fb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc)
            elif which == 1:
                _gemm_small(fa, fb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc)
            elif which == 3:
                if floating is float:
                    fbp_gemm_small512_f(trans_a, trans_b, m, n, k, alpha, pa, lda, pb, ldb,
                                        beta, pc, ldc)
                else:
                    fbp_gemm_small512_d(trans_a, trans_b, m, n, k, alpha, pa, lda, pb, ldb,
                                        beta, pc, ldc)
            else:
                _gemm_blas(fa, fb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc)
        _blas_end(prev)


def adam_corrections(double b1, double b2, t):
    """(c1, c2): Adam's bias corrections ``1 / (1 - beta ** t)`` as the network
    kernel computes them for each update count in t (a 1-D int64 array)."""
    cdef const long long[::1] tv = np.ascontiguousarray(t, dtype=np.int64)
    cdef cnp.ndarray c1 = np.empty(tv.shape[0]), c2 = np.empty(tv.shape[0])
    cdef double *p1 = <double *>c1.data
    cdef double *p2 = <double *>c2.data
    cdef NetPlan p
    cdef Py_ssize_t i
    p.opt = FBP_OPT_ADAM
    p.b1 = b1
    p.b2 = b2
    with nogil:
        for i in range(tv.shape[0]):
            _opt_step(&p, tv[i])
            p1[i] = p.c1
            p2[i] = p.c2
    return c1, c2


def update(int opt, floating[::1] P, const floating[::1] G, floating[::1] S1,
           floating[::1] S2, double lr, double b1, double b2, double nb1, double nb2,
           double eps, double c1, double c2):
    """Run the network kernel's optimizer update (csrc/fastbp_optim.h) once
    over whole 1-D buffers, in place: opt is an FBP_OPT_* code, P, S1, S2
    (n,) writable and G (n,) of one dtype; the scalars are cast to it. It
    flushes subnormal numbers where training's update would: where the build
    flushes (FBP_UPDATE_FLUSHES) and, for Adam, eps is large enough
    (csrc/fastbp_optim.h, fbp_update_flushes)."""
    cdef Py_ssize_t n = P.shape[0]
    if G.shape[0] != n or S1.shape[0] != n or S2.shape[0] != n:
        raise ValueError(f"P, G, S1 and S2 must have the same length, got "
                         f"{n}, {G.shape[0]}, {S1.shape[0]}, {S2.shape[0]}")
    if n == 0:
        return
    with nogil:
        if floating is float:
            fbp_update_f(opt, &P[0], &G[0], &S1[0], &S2[0], 0, n, <float>lr, <float>b1,
                         <float>b2, <float>nb1, <float>nb2, <float>eps, <float>c1,
                         <float>c2)
        else:
            fbp_update_d(opt, &P[0], &G[0], &S1[0], &S2[0], 0, n, lr, b1, b2, nb1, nb2,
                         eps, c1, c2)


def update_flushes_subnormal():
    """True where this build's optimizer update flushes subnormal numbers to
    zero (csrc/fastbp_optim.h's FBP_UPDATE_FLUSHES: x86-64 with GCC, clang
    or MSVC, and ARM64 with GCC or clang); elsewhere it keeps them."""
    return bool(FBP_UPDATE_FLUSHES)


def task_claims(Py_ssize_t ntask, Py_ssize_t nthr, homes, turns):
    """Which task each claim of csrc/fastbp_omp.h's fbp_task_claim gets.

    Threads at the positions ``homes`` claim from one job of ``ntask`` tasks
    split among ``nthr`` threads, one claim at a time, in the order ``turns``
    (indexes into ``homes``). Returns the task of each claim (ntask or
    more: none was left).
    """
    cdef unsigned long long taken = 0
    cdef Py_ssize_t nxt = 0
    cdef list got = []
    if ntask < 0 or nthr < 1 or any(int(h) < 0 for h in homes):
        raise ValueError(f"task_claims: need ntask >= 0, nthr >= 1 and homes >= 0, got "
                         f"ntask={ntask}, nthr={nthr}, homes={list(homes)}")
    for k in turns:
        got.append(fbp_task_claim(&taken, &nxt, ntask, nthr, <Py_ssize_t>homes[k]))
    return got


def set_numpy_pool(bint on):
    """Run the layer kernels' teams on NumPy's OpenBLAS pool (True, where it was
    found at import) or always in an OpenMP team (False); returns the old state.

    Process-wide; switch it only while no fastbp kernel runs.
    """
    return _set_numpy_pool(on)


def numpy_pool_runs():
    """How many layer-kernel calls ran their team on NumPy's pool since import."""
    return _numpy_pool_runs()


def simulate_team_chooser(team_secs, solo_secs, double step_flops=0.0):
    """Drive one team chooser (fastbp._netstep's) with made-up step times.

    Step i takes ``team_secs[i]`` seconds on the team or ``solo_secs[i]`` on
    one thread, whichever the chooser picks; returns an int8 array, 1 where
    step i ran on one thread. ``step_flops``: each step's GEMM work, as
    NetKernel._call hands it to the chooser before a step (_ch_start).
    """
    cdef TeamChooser c
    cdef double[::1] t = np.ascontiguousarray(team_secs, dtype=np.float64)
    cdef double[::1] o = np.ascontiguousarray(solo_secs, dtype=np.float64)
    cdef Py_ssize_t i, n = t.shape[0]
    if o.shape[0] != n:
        raise ValueError("team_secs and solo_secs must have the same length")
    out = np.zeros(n, dtype=np.int8)
    cdef signed char[::1] arm = out
    _ch_reset(&c)
    for i in range(n):
        _ch_start(&c, step_flops)
        arm[i] = _ch_solo(&c)
        _ch_record(&c, o[i] if arm[i] else t[i], 1)
    return out
