# cython: language_level=3
"""C-speed acceptance tests for the fast path of fastbp._validation.

A layer kernel's validation costs more in Python attribute reads than the
kernel itself on small layers, so the common case -- plain, aligned,
contiguous ndarrays of one float dtype, outputs of the right shape that
share no memory -- is recognised here in one call. These functions only say
yes or no: on "no", fastbp._validation runs its full checks, which convert
what can be converted and raise the messages.
"""
from libc.stdint cimport uintptr_t
cimport numpy as cnp

from fastbp._registry cimport label_code

cnp.import_array()

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


def inputs(a, b=None, c=None, d=None):
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


cdef inline bint _overlap(cnp.ndarray a, cnp.ndarray b):
    cdef uintptr_t a0 = <uintptr_t>cnp.PyArray_DATA(a)
    cdef uintptr_t b0 = <uintptr_t>cnp.PyArray_DATA(b)
    cdef uintptr_t a1 = a0 + <uintptr_t>cnp.PyArray_NBYTES(a)
    cdef uintptr_t b1 = b0 + <uintptr_t>cnp.PyArray_NBYTES(b)
    return a0 < b1 and b0 < a1


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


def outputs(int typenum, tuple outs, tuple shapes, tuple ins):
    """True when every ``outs[k]`` is an ndarray of ``typenum`` with shape
    ``(shapes[2k], shapes[2k + 1])``, C-contiguous and writeable, and
    :func:`disjoint` holds."""
    cdef Py_ssize_t k
    cdef cnp.ndarray a
    if len(shapes) != 2 * len(outs):
        return False
    for k in range(len(outs)):
        o = outs[k]
        if not cnp.PyArray_CheckExact(o):
            return False
        a = <cnp.ndarray>o
        if (cnp.PyArray_TYPE(a) != typenum or cnp.PyArray_NDIM(a) != 2
                or a.shape[0] != <Py_ssize_t>shapes[2 * k]
                or a.shape[1] != <Py_ssize_t>shapes[2 * k + 1]
                or not cnp.PyArray_IS_C_CONTIGUOUS(a) or not cnp.PyArray_ISWRITEABLE(a)):
            return False
    return disjoint(outs, ins)


def labels(Y, Py_ssize_t rows, Py_ssize_t cols):
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


def bias(b, int typenum, Py_ssize_t n):
    """The element stride of a bias b the forward kernel reads as it is -- an
    ndarray (n, 1) or (n,) of ``typenum``, aligned, native byte order, stride a
    whole number of elements -- else -1."""
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
