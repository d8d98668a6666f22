# cython: language_level=3
"""Output-layer kernels: the delta ``AL - Y``, the loss (from the probabilities
or from the logits), column softmax.

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
from fastbp._openmp_helpers cimport team_threads

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
        for t in prange(nch, num_threads=team_threads(nt) if nch > 1 else 1, schedule="static"):
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
            for t in prange(nch, num_threads=team_threads(nt) if nch > 1 else 1, schedule="static"):
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


def loss_logits(cnp.ndarray z, cnp.ndarray y, int yt, Py_ssize_t yr, Py_ssize_t yc, int code,
                bint labels=False, object sw=None):
    """(summed loss over the columns, label-domain flag) from the logits Z on
    validated arguments (fastbp_loss.h's fbp_zloss_cols; sums in float64,
    pairwise over chunks of 64 columns: fbp_cascade).

    With ``labels``, y is a vector of class indices (element stride yc), all
    in range, and the loss is the cross-entropy ``lse(Z[:, j]) - Z[y_j, j]``.
    ``sw``: None, or float64 C-contiguous (m,) weights multiplying column j's
    loss (Network.evaluate's sample_weight).
    """
    cdef Py_ssize_t n = z.shape[0], m = z.shape[1], j, c0, c1, c
    cdef Mat mz = _mat(z)
    cdef fbp_cascade acc
    cdef double col[64]
    cdef int bad = 0
    cdef const void *yp = cnp.PyArray_DATA(y)
    cdef const double *w = NULL
    cdef bint single = cnp.PyArray_TYPE(z) == cnp.NPY_FLOAT
    if sw is not None:
        w = <const double *>cnp.PyArray_DATA(<cnp.ndarray>sw)
    with nogil:
        fbp_cascade_init(&acc)
        c0 = 0
        while c0 < m:
            c1 = c0 + 64 if c0 + 64 < m else m
            if labels:
                if single:
                    fbp_lse_cols_f(<const float*>mz.data, mz.rs, mz.cs, n, c0, c1, col)
                else:
                    fbp_lse_cols_d(<const double*>mz.data, mz.rs, mz.cs, n, c0, c1, col)
                for j in range(c0, c1):
                    c = <Py_ssize_t>fbp_yval(yp, yt, j * yc)
                    if single:
                        col[j - c0] -= <double>(<const float*>mz.data)[c * mz.rs + j * mz.cs]
                    else:
                        col[j - c0] -= (<const double*>mz.data)[c * mz.rs + j * mz.cs]
            elif single:
                fbp_zloss_cols_f(code, <const float*>mz.data, mz.rs, mz.cs, yp, yt, yr, yc,
                                 n, c0, c1, col - c0, &bad, 0.0)
            else:
                fbp_zloss_cols_d(code, <const double*>mz.data, mz.rs, mz.cs, yp, yt, yr, yc,
                                 n, c0, c1, col - c0, &bad, 0.0)
            for j in range(c0, c1):
                fbp_cascade_add(&acc, col[j - c0] * w[j] if w != NULL else col[j - c0])
            c0 = c1
    return fbp_cascade_total(&acc), bool(bad)


def targets_ok(cnp.ndarray y, int yt, Py_ssize_t yr, Py_ssize_t yc, int code, double tol):
    """Whether the targets y (2-D, label code yt, strides in elements) lie in
    the domain of the loss ``code`` (fastbp_loss.h's fbp_targets_ok): the fast
    yes of fastbp._validation.check_targets, which builds the message on a no."""
    cdef bint ok
    cdef const void *yp = cnp.PyArray_DATA(y)
    cdef Py_ssize_t rows = y.shape[0], cols = y.shape[1]
    with nogil:
        ok = fbp_targets_ok(code, yp, yt, yr, yc, rows, cols, tol)
    return ok
