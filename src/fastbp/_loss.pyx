# cython: language_level=3
"""Output-layer kernels: the delta ``AL - Y``, the mean loss, column softmax.

The kernels trust their inputs: fastbp.layers validates every argument (with
fastbp._validation) and passes 2-D C- or F-contiguous float32/float64
arrays, labels Y with their element-type code (fastbp._registry.LABEL_DTYPES)
and (row, column) strides in elements, C-contiguous outputs or None
(allocated here), codes and thread counts.

Columns are cut into tasks of a fixed _COL_CHUNK, so the association of every
sum is independent of the thread count.
"""
from cython.parallel cimport prange
from libc.stdlib cimport malloc, free
cimport numpy as cnp

from fastbp._kernels cimport *  # the csrc kernels (fbp_*)
from fastbp._rows cimport Mat, _mat

cnp.import_array()

# Element-wise work below this many elements runs on one thread: forking
# the OpenMP team costs more than it saves.
cdef Py_ssize_t _PAR_MIN_ELEMS = 16384
# Columns per task in softmax/delta/loss.
cdef Py_ssize_t _COL_CHUNK = 256


cdef inline cnp.ndarray _out(object out, cnp.ndarray like):
    if out is not None:
        return <cnp.ndarray>out
    return cnp.PyArray_EMPTY(2, cnp.PyArray_DIMS(like), cnp.PyArray_TYPE(like), 0)


def output_delta(cnp.ndarray al, cnp.ndarray y, int yt, Py_ssize_t yr, Py_ssize_t yc,
                 object out, int nt):
    """dZ = AL - Y of fastbp.output_delta on validated arguments."""
    cdef Py_ssize_t n = al.shape[0], m = al.shape[1]
    cdef cnp.ndarray D = _out(out, al)
    cdef Mat ma = _mat(al)
    cdef Py_ssize_t nch = (m + _COL_CHUNK - 1) // _COL_CHUNK, t, j0, j1
    cdef bint single = cnp.PyArray_TYPE(al) == cnp.NPY_FLOAT
    cdef const void *yp = cnp.PyArray_DATA(y)
    cdef void *dp = cnp.PyArray_DATA(D)
    if n * m < _PAR_MIN_ELEMS:
        nt = 1
    with nogil:
        for t in prange(nch, num_threads=nt if nch > 1 else 1, schedule="static"):
            j0 = t * _COL_CHUNK
            j1 = j0 + _COL_CHUNK if j0 + _COL_CHUNK < m else m
            if single:
                fbp_delta_f(<const float*>ma.data, ma.rs, ma.cs, yp, yt, yr, yc,
                            <float*>dp, m, n, j0, j1)
            else:
                fbp_delta_d(<const double*>ma.data, ma.rs, ma.cs, yp, yt, yr, yc,
                            <double*>dp, m, n, j0, j1)
    return D


def loss(cnp.ndarray al, cnp.ndarray y, int yt, Py_ssize_t yr, Py_ssize_t yc, int code):
    """Mean loss of fastbp.loss on validated arguments (sums in float64)."""
    cdef Py_ssize_t n = al.shape[0], m = al.shape[1]
    cdef Mat ma = _mat(al)
    cdef double total = 0.0
    cdef const void *yp = cnp.PyArray_DATA(y)
    cdef bint single = cnp.PyArray_TYPE(al) == cnp.NPY_FLOAT
    with nogil:
        if single:
            total = fbp_loss_sum_f(code, <const float*>ma.data, ma.rs, ma.cs, yp, yt,
                                   yr, yc, n, 0, m)
        else:
            total = fbp_loss_sum_d(code, <const double*>ma.data, ma.rs, ma.cs, yp, yt,
                                   yr, yc, n, 0, m)
    return total / m


def softmax(cnp.ndarray z, object out, int nt):
    """Column softmax of fastbp.softmax on validated arguments."""
    cdef Py_ssize_t n = z.shape[0], m = z.shape[1]
    cdef cnp.ndarray A = _out(out, z)
    cdef Mat mz = _mat(z)
    cdef Py_ssize_t nch = (m + _COL_CHUNK - 1) // _COL_CHUNK, t, j0, j1
    cdef Py_ssize_t isz = z.itemsize
    cdef void *ap = cnp.PyArray_DATA(A)
    if n * m < _PAR_MIN_ELEMS:
        nt = 1
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
                                       <float*>ap, m, n, j0, j1,
                                       <float*>(buf + t * 2 * _COL_CHUNK * isz))
                else:
                    fbp_softmax_cols_d(<const double*>mz.data, mz.rs, mz.cs,
                                       <double*>ap, m, n, j0, j1,
                                       <double*>(buf + t * 2 * _COL_CHUNK * isz))
    finally:
        free(buf)
    return A
