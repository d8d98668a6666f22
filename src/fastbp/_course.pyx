# cython: language_level=3
"""Compiled fast path of fastbp.course.L_model_backward for small networks.

On networks like the course's [2, 4, 1] with m = 400 the GEMMs of a whole
backward pass take a few microseconds, so the Python around them (unpacking
caches, one kernel call per layer, the relu mask, the dict) costs more than
the arithmetic. ``backward_chain`` does all of it in one call: it checks the
caches, allocates the returned arrays, and runs the output delta, every
layer's GEMMs, bias gradients, L2 term and relu masks without the GIL.

It only takes the common case -- plain C-contiguous float32/float64 arrays
of one dtype, caches exactly as L_model_forward builds them, AL the array
that L_model_forward returned for these caches, unchanged since (so the
output delta is AL - Y), no dropout, every layer small enough for one thread -- and returns
None for anything else; fastbp.course then runs its general path, which
also produces the error messages. Both paths compute the same formulas.
"""
from cython cimport floating
from libc.stdlib cimport malloc, free
from libc.string cimport memcmp
cimport numpy as cnp

import numpy as np

from fastbp._kernels cimport fbp_delta_f, fbp_delta_d
from fastbp._registry cimport ACT_NONE, MIN_FLOPS_PER_THREAD_C, label_code
from fastbp._rows cimport Mat, _rowmajor, _grad_rows, _l2_rows, _dprev_rows

cnp.import_array()

# Shared with fastbp.course's general path, which imports them: below
# MIN_FLOPS_PER_THREAD (fastbp._registry) GEMM flops a layer runs on one
# thread, and outputs of POOL_MIN_BYTES and more come from course's
# recycled-array pool. The fast path takes only networks
# whose every layer is on the small side of both.
POOL_MIN_BYTES = 1 << 16
cdef Py_ssize_t _MAX_LAYER_FLOPS = MIN_FLOPS_PER_THREAD_C
cdef Py_ssize_t _MAX_OUT_BYTES = POOL_MIN_BYTES

cdef int _MAX_LAYERS = 64

cdef dict _KEYS = {}


def keys(int l):
    """("W{l}", "b{l}", "dW{l}", "db{l}", "dA{l}"), formatted once per l."""
    k = _KEYS.get(l)
    if k is None:
        s = str(l)
        k = _KEYS[l] = ("W" + s, "b" + s, "dW" + s, "db" + s, "dA" + s)
    return k


cdef inline bint _plain(object a, int typenum):
    """a is an ndarray of exactly this dtype, 2-D, C-contiguous and aligned."""
    if type(a) is not cnp.ndarray:
        return False
    cdef cnp.ndarray x = <cnp.ndarray>a
    return (cnp.PyArray_NDIM(x) == 2 and cnp.PyArray_TYPE(x) == typenum
            and cnp.PyArray_ISCARRAY_RO(x) and not cnp.PyArray_ISBYTESWAPPED(x))


cdef inline bint _unchanged(object x, object snap):
    """x still holds the bytes of snap, its copy (order "K") taken when
    L_model_forward returned it: same dtype, shape and strides, one segment."""
    cdef cnp.ndarray a, s
    cdef int i
    if type(x) is not cnp.ndarray:
        return False
    a = <cnp.ndarray>x
    s = <cnp.ndarray>snap
    if (not cnp.PyArray_ISONESEGMENT(a) or cnp.PyArray_TYPE(a) != cnp.PyArray_TYPE(s)
            or cnp.PyArray_NDIM(a) != cnp.PyArray_NDIM(s)
            or cnp.PyArray_NBYTES(a) != cnp.PyArray_NBYTES(s)
            or cnp.PyArray_ISBYTESWAPPED(a) != cnp.PyArray_ISBYTESWAPPED(s)):
        return False
    for i in range(cnp.PyArray_NDIM(a)):
        if (cnp.PyArray_DIM(a, i) != cnp.PyArray_DIM(s, i)
                or cnp.PyArray_STRIDE(a, i) != cnp.PyArray_STRIDE(s, i)):
            return False
    return memcmp(cnp.PyArray_DATA(a), cnp.PyArray_DATA(s), cnp.PyArray_NBYTES(a)) == 0


cpdef bint is_recent_output(object AL, object ZL, object recent):
    """Did L_model_forward return AL as the output for Z_L, both unchanged since?

    recent: course._RECENT_OUTPUTS, (weak reference to AL, weak reference to
    Z_L, copy of AL, copy of Z_L) for the outputs it returned lately (newest
    last); a dead referent never matches, and neither does an AL or Z_L
    modified in place (np.clip(AL, eps, 1 - eps, out=AL)): for those the
    course's expression is evaluated, as for any other AL.
    """
    # Calling the weak references (not PyWeakref_GetObject: deprecated in
    # Python 3.13, to be removed in 3.15, and a borrowed reference)
    for entry in reversed(recent):
        if (<tuple>entry)[0]() is AL and (<tuple>entry)[1]() is ZL:
            return (_unchanged(AL, (<tuple>entry)[2])
                    and _unchanged(ZL, (<tuple>entry)[3]))
    return False


cdef void _layers(floating *dummy, int L, Py_ssize_t m, int *n, void **Ap, void **W,
                  void **Z, void **dA, void **dW, void **db, const void *AL,
                  const void *Y, int yt, Py_ssize_t yr, Py_ssize_t yc, floating *D,
                  double lambd) noexcept nogil:
    """The backward pass proper; D is scratch of max(n) * m elements."""
    cdef int l
    cdef Py_ssize_t i, rows, cols
    cdef floating inv_m = <floating>(1.0 / m)
    cdef floating l2 = <floating>(lambd / m)
    cdef floating *a
    cdef const floating *z
    cdef floating mask
    cdef Mat dZ = _rowmajor(D, m)
    # dZ_L = AL - Y
    if floating is float:
        fbp_delta_f(<const float *>AL, m, 1, Y, yt, yr, yc, D, m, n[L], 0, m)
    else:
        fbp_delta_d(<const double *>AL, m, 1, Y, yt, yr, yc, D, m, n[L], 0, m)
    for l in range(L, 0, -1):
        rows = n[l]
        cols = n[l - 1]
        # dW_l = dZ_l A_{l-1}^T / m (+ lambd / m W_l); db_l = rowsum(dZ_l) / m
        _grad_rows(<floating *>dW[l], cols, <floating *>db[l], dZ, _rowmajor(Ap[l], m),
                   0, rows, cols, m, inv_m, <floating>0)
        if lambd != 0.0:
            _l2_rows(<floating *>dW[l], <const floating *>W[l], rows, cols, l2, NULL)
        # dA_{l-1} = W_l^T dZ_l (returned), then dZ_{l-1} = dA_{l-1} * (Z_{l-1} > 0):
        # the course's relu_backward reads Z, not A_{l-1}
        a = <floating *>dA[l]
        _dprev_rows(a, m, _rowmajor(W[l], cols), dZ, 0, cols, rows, m,
                    ACT_NONE, <floating>0, dZ)
        if l > 1:
            z = <const floating *>Z[l - 1]
            for i in range(cols * m):
                mask = 1 if z[i] > 0 else 0
                D[i] = a[i] * mask


def backward_chain(AL, Y, caches, lambd, recent):
    """grads of L_model_backward, or None when the fast path does not apply.

    recent: course._RECENT_OUTPUTS (see is_recent_output).
    """
    cdef int L, l, typenum, yt
    cdef Py_ssize_t m, maxn = 0, itemsize, itemsize_y, rows, cols, yr, yc
    cdef double lam
    cdef int n[65]
    cdef void *Ap[65]
    cdef void *Wp[65]
    cdef void *Zp[65]
    cdef void *dAp[65]
    cdef void *dWp[65]
    cdef void *dbp[65]
    cdef void *D
    cdef cnp.ndarray y
    cdef cnp.npy_intp shape[2]
    if type(caches) is not list or type(AL) is not cnp.ndarray:
        return None
    if type(lambd) is float or type(lambd) is int:
        lam = lambd
    else:
        return None
    if not lam >= 0.0:
        return None
    L = len(<list>caches)
    if L < 1 or L > _MAX_LAYERS:
        return None
    typenum = cnp.PyArray_TYPE(<cnp.ndarray>AL)
    if typenum != cnp.NPY_FLOAT64 and typenum != cnp.NPY_FLOAT32:
        return None
    if not _plain(AL, typenum):
        return None
    itemsize = 8 if typenum == cnp.NPY_FLOAT64 else 4
    m = cnp.PyArray_DIM(<cnp.ndarray>AL, 1)
    if m < 1:
        return None
    # unpack and check every cache: ((A_prev, W, b), Z), shapes chaining
    for l in range(1, L + 1):
        cache = (<list>caches)[l - 1]
        if type(cache) is not tuple or len(<tuple>cache) != 2:
            return None
        lin = (<tuple>cache)[0]
        Z = (<tuple>cache)[1]
        if type(lin) is not tuple or len(<tuple>lin) != 3:
            return None
        A_prev = (<tuple>lin)[0]
        W = (<tuple>lin)[1]
        if not (_plain(A_prev, typenum) and _plain(W, typenum) and _plain(Z, typenum)):
            return None
        rows = cnp.PyArray_DIM(<cnp.ndarray>W, 0)
        cols = cnp.PyArray_DIM(<cnp.ndarray>W, 1)
        if (rows < 1 or cols < 1 or cnp.PyArray_DIM(<cnp.ndarray>A_prev, 0) != cols
                or cnp.PyArray_DIM(<cnp.ndarray>A_prev, 1) != m
                or cnp.PyArray_DIM(<cnp.ndarray>Z, 0) != rows
                or cnp.PyArray_DIM(<cnp.ndarray>Z, 1) != m):
            return None
        if l > 1 and cols != n[l - 1]:
            return None
        if 4 * rows * cols * m >= _MAX_LAYER_FLOPS:
            return None
        if max(rows * cols, cols * m) * itemsize >= _MAX_OUT_BYTES:
            return None
        n[l - 1] = <int>cols
        n[l] = <int>rows
        Ap[l] = cnp.PyArray_DATA(<cnp.ndarray>A_prev)
        Wp[l] = cnp.PyArray_DATA(<cnp.ndarray>W)
        Zp[l] = cnp.PyArray_DATA(<cnp.ndarray>Z)
        maxn = max(maxn, rows)
    if cnp.PyArray_DIM(<cnp.ndarray>AL, 0) != n[L] or not is_recent_output(AL, Z, recent):
        return None
    # labels of AL's shape and a dtype the kernels read as is (others: the
    # general path converts, reshapes or explains)
    if (type(Y) is not cnp.ndarray or cnp.PyArray_NDIM(<cnp.ndarray>Y) != 2
            or cnp.PyArray_DIM(<cnp.ndarray>Y, 0) != n[L]
            or cnp.PyArray_DIM(<cnp.ndarray>Y, 1) != m):
        return None
    y = Y
    yt = label_code(cnp.PyArray_TYPE(y))
    itemsize_y = cnp.PyArray_ITEMSIZE(y)
    if (yt < 0 or not cnp.PyArray_ISBEHAVED_RO(y) or cnp.PyArray_STRIDE(y, 0) % itemsize_y
            or cnp.PyArray_STRIDE(y, 1) % itemsize_y):
        return None
    yr = cnp.PyArray_STRIDE(y, 0) // itemsize_y
    yc = cnp.PyArray_STRIDE(y, 1) // itemsize_y
    # outputs, in the course's key order
    grads = {}
    for l in range(L, 0, -1):
        _, _, kW, kb, _ = keys(l)
        kA = keys(l - 1)[4]
        shape[0] = n[l - 1]
        shape[1] = m
        dA = cnp.PyArray_EMPTY(2, shape, typenum, 0)
        shape[0] = n[l]
        shape[1] = n[l - 1]
        dW = cnp.PyArray_EMPTY(2, shape, typenum, 0)
        shape[1] = 1
        db = cnp.PyArray_EMPTY(2, shape, typenum, 0)
        grads[kA] = dA
        grads[kW] = dW
        grads[kb] = db
        dAp[l] = cnp.PyArray_DATA(<cnp.ndarray>dA)
        dWp[l] = cnp.PyArray_DATA(<cnp.ndarray>dW)
        dbp[l] = cnp.PyArray_DATA(<cnp.ndarray>db)
    D = malloc(maxn * m * itemsize)
    if D == NULL:
        raise MemoryError()
    with nogil:
        if typenum == cnp.NPY_FLOAT64:
            _layers(<double *>NULL, L, m, n, Ap, Wp, Zp, dAp, dWp, dbp,
                    cnp.PyArray_DATA(<cnp.ndarray>AL), cnp.PyArray_DATA(<cnp.ndarray>y), yt,
                    yr, yc, <double *>D, lam)
        else:
            _layers(<float *>NULL, L, m, n, Ap, Wp, Zp, dAp, dWp, dbp,
                    cnp.PyArray_DATA(<cnp.ndarray>AL), cnp.PyArray_DATA(<cnp.ndarray>y), yt,
                    yr, yc, <float *>D, lam)
    free(D)
    return grads
