# cython: language_level=3
"""Benchmark helpers; not part of fastbp's API (bench/ imports them).

``gemm_floor`` runs a training step's GEMMs and nothing else: the floor
bench/bench_train.py measures fastbp's fused step against.
"""
from cython cimport floating
from cython.parallel cimport parallel
cimport numpy as cnp

import numpy as np

from fastbp._blas cimport _gemm_blas, _blas_begin, _blas_end, NoTrans, Trans
from fastbp._kernels cimport fbp_omp_team_size, fbp_omp_barrier
from fastbp._netstep cimport _split, _row_grain
from fastbp._openmp_helpers cimport fbp_omp_thread_num

cnp.import_array()


# ------------------------------------------------------------ GEMM floor

cdef struct FloorPlan:
    int L
    Py_ssize_t m
    int *dims
    void **W      # W[l] (dims[l+1], dims[l])
    void **A      # A[0] = X, A[l+1] (dims[l+1], m)
    void **dW
    void **D      # D[l] (dims[l+1], m)
    void **E      # E[l] (dims[l], m): W^T dZ lands here, so D never decays to denormals


cdef void _floor_team(floating *dummy, FloorPlan *f, bint split) noexcept nogil:
    cdef int tid = fbp_omp_thread_num() if split else 0
    cdef int nt = fbp_omp_team_size() if split else 1
    cdef int l, n_in, n_out
    cdef Py_ssize_t m = f.m, r0, r1
    for l in range(f.L):
        n_in = f.dims[l]
        n_out = f.dims[l + 1]
        _split(n_out, nt, tid, _row_grain(n_out, nt), &r0, &r1)
        if r1 > r0:
            _gemm_blas(NoTrans, NoTrans, r1 - r0, m, n_in, <floating>1.0,
                  <floating *>f.W[l] + r0 * n_in, n_in, <floating *>f.A[l], m,
                  <floating>0.0, <floating *>f.A[l + 1] + r0 * m, m)
        fbp_omp_barrier()
    for l in range(f.L - 1, -1, -1):
        n_in = f.dims[l]
        n_out = f.dims[l + 1]
        _split(n_out, nt, tid, _row_grain(n_out, nt), &r0, &r1)
        if r1 > r0:
            _gemm_blas(NoTrans, Trans, r1 - r0, n_in, m, <floating>1.0,
                  <floating *>f.D[l] + r0 * m, m, <floating *>f.A[l], m,
                  <floating>0.0, <floating *>f.dW[l] + r0 * n_in, n_in)
        if l > 0:
            _split(n_in, nt, tid, _row_grain(n_in, nt), &r0, &r1)
            if r1 > r0:
                _gemm_blas(Trans, NoTrans, r1 - r0, m, n_out, <floating>1.0,
                      <floating *>f.W[l] + r0, n_in, <floating *>f.D[l], m,
                      <floating>0.0, <floating *>f.E[l] + r0 * m, m)
        fbp_omp_barrier()


cdef void _floor_run(floating *dummy, FloorPlan *f, int mode, int nt) noexcept nogil:
    if mode == 0 or nt <= 1:
        _floor_team(dummy, f, False)
    else:
        with parallel(num_threads=nt):
            _floor_team(dummy, f, True)


_floor_cache = {}


def _floor_buffers(list layer_dims, Py_ssize_t m, dt):
    cdef int L = len(layer_dims) - 1, l
    cdef cnp.ndarray ptrs = np.zeros(5 * (L + 1), dtype=np.uintp)
    cdef size_t *P = <size_t *>cnp.PyArray_DATA(ptrs)
    keep = []
    rng = np.random.default_rng(0)

    def new(shape):
        a = (rng.standard_normal(shape) * 0.01).astype(dt)
        keep.append(a)
        return <size_t>cnp.PyArray_DATA(a)

    for l in range(L + 1):
        P[(L + 1) + l] = new((layer_dims[l], m))                  # A
    for l in range(L):
        P[l] = new((layer_dims[l + 1], layer_dims[l]))            # W
        P[2 * (L + 1) + l] = new((layer_dims[l + 1], layer_dims[l]))  # dW
        P[3 * (L + 1) + l] = new((layer_dims[l + 1], m))          # D
        P[4 * (L + 1) + l] = new((layer_dims[l], m))              # E
    return np.asarray(layer_dims, dtype=np.intc), ptrs, keep


def gemm_floor(layer_dims, Py_ssize_t m, dtype="float32", int n_threads=1,
               int repeats=1, str mode="blas"):
    """Run a training step's GEMMs, and nothing else, ``repeats`` times.

    Forward ``W[l] A[l-1]`` for every layer, then ``dZ[l] A[l-1]^T`` for
    every layer and ``W[l]^T dZ[l]`` for l >= 2: the floor a fused step is
    measured against. ``mode="blas"`` runs each GEMM whole on SciPy's
    OpenBLAS with ``n_threads`` threads; ``mode="omp"`` splits output rows
    among ``n_threads`` OpenMP threads running single-threaded GEMMs (the
    kernel's own scheme). For benchmarks; time it from the caller.
    """
    cdef FloorPlan f
    cdef int L = len(layer_dims) - 1, l, prev, r
    cdef int imode = 0 if mode == "blas" else 1
    if mode not in ("blas", "omp"):
        raise ValueError(f"mode must be 'blas' or 'omp', got {mode!r}")
    dt = np.dtype(dtype)
    key = (tuple(layer_dims), m, dt.name)
    if key not in _floor_cache:      # buffers made once per shape, outside the timing
        _floor_cache.clear()
        _floor_cache[key] = _floor_buffers(list(layer_dims), m, dt)
    dims_arr, ptrs, keep = _floor_cache[key]
    f.L = L
    f.m = m
    f.dims = <int *>cnp.PyArray_DATA(dims_arr)
    f.W = <void **>cnp.PyArray_DATA(ptrs)
    f.A = f.W + (L + 1)
    f.dW = f.A + (L + 1)
    f.D = f.dW + (L + 1)
    f.E = f.D + (L + 1)
    cdef bint dbl = dt == np.float64
    cdef int blas_nt = n_threads if imode == 0 else 1
    with nogil:
        prev = _blas_begin(blas_nt)
        for r in range(repeats):
            if dbl:
                _floor_run(<double *>NULL, &f, imode, n_threads)
            else:
                _floor_run(<float *>NULL, &f, imode, n_threads)
        _blas_end(prev)
