"""Row-major GEMM over scipy.linalg.cython_blas and BLAS thread control.

fastbp links no BLAS: the GEMMs run in the OpenBLAS that SciPy ships. To run
one single-threaded GEMM per OpenMP thread (no oversubscription, see
DESIGN.md), fastbp needs OpenBLAS's thread setters; they are looked up once
at import in SciPy's BLAS library with ctypes.
"""
from scipy.linalg.cython_blas cimport sgemm, dgemm
from libc.stdint cimport uintptr_t
from cpython.pythread cimport (PyThread_type_lock, PyThread_allocate_lock,
                               PyThread_acquire_lock, PyThread_release_lock, WAIT_LOCK)

ctypedef void (*set_threads_void_t)(int) noexcept nogil
ctypedef int (*get_threads_t)() noexcept nogil

cdef set_threads_void_t _set_global = NULL
cdef get_threads_t _get_threads = NULL


cdef void _gemm(BLAS_Trans ta, BLAS_Trans tb, int m, int n, int k,
                floating alpha, const floating *A, int lda,
                const floating *B, int ldb, floating beta,
                floating *C, int ldc) noexcept nogil:
    """C (m, n) = alpha op(A) op(B) + beta C, all row-major.

    Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, so the
    operands are swapped and handed to the Fortran routine unchanged.
    """
    cdef char cta = <char>ta
    cdef char ctb = <char>tb
    if floating is float:
        sgemm(&ctb, &cta, &n, &m, &k, &alpha, <float*>B, &ldb, <float*>A, &lda,
              &beta, C, &ldc)
    else:
        dgemm(&ctb, &cta, &n, &m, &k, &alpha, <double*>B, &ldb, <double*>A, &lda,
              &beta, C, &ldc)


cdef PyThread_type_lock _lock = PyThread_allocate_lock()


cdef int _blas_begin(int n) noexcept nogil:
    """Take fastbp's BLAS lock and set SciPy's OpenBLAS to n threads.

    OpenBLAS's thread count is process-wide (its "_local" setter is global in
    pthreads builds), so concurrent fastbp calls from several Python threads
    serialise here instead of racing on it. Returns the previous count, to
    hand back to _blas_end. n = 0 takes the lock and leaves the count alone.
    """
    cdef int prev = -1
    PyThread_acquire_lock(_lock, WAIT_LOCK)
    if n > 0 and _get_threads != NULL and _set_global != NULL:
        prev = _get_threads()
        if prev != n:
            _set_global(n)
    return prev


cdef void _blas_end(int prev) noexcept nogil:
    if prev > 0 and _get_threads != NULL and _set_global != NULL:
        if _get_threads() != prev:
            _set_global(prev)
    PyThread_release_lock(_lock)


cdef int _blas_get_threads() noexcept nogil:
    if _get_threads == NULL:
        return -1
    return _get_threads()


def _find_blas_library():
    """Path of the shared library behind scipy.linalg.cython_blas, or None."""
    import glob
    import os
    import scipy
    import scipy.linalg.cython_blas  # noqa: F401  (loads the library)

    # Linux: the loaded objects are listed in /proc/self/maps.
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                if "openblas" in line.lower() and ".so" in line:
                    path = line.split(None, 5)[-1].strip()
                    if os.path.exists(path):
                        return path
    except OSError:
        pass
    root = os.path.dirname(os.path.dirname(scipy.__file__))
    for pattern in ("scipy.libs/*openblas*", "scipy/.dylibs/*openblas*",
                    "scipy.libs/*openblas*.dll"):
        hits = sorted(glob.glob(os.path.join(root, pattern)))
        if hits:
            return hits[0]
    return None


def _load_thread_control():
    global _set_global, _get_threads
    import ctypes
    path = _find_blas_library()
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None

    def sym(*names):
        for name in names:
            try:
                return ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
            except AttributeError:
                continue
        return None

    p = sym("scipy_openblas_set_num_threads", "openblas_set_num_threads",
            "scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_")
    q = sym("scipy_openblas_get_num_threads", "openblas_get_num_threads",
            "scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_")
    if p and q:
        _set_global = <set_threads_void_t><uintptr_t>p
        _get_threads = <get_threads_t><uintptr_t>q
    return path


BLAS_LIBRARY = _load_thread_control()


def blas_thread_control():
    """Which OpenBLAS thread controls fastbp found: dict of booleans + path."""
    return {"library": BLAS_LIBRARY, "controlled": _set_global != NULL}


def blas_num_threads():
    """OpenBLAS's global thread count (-1 when unknown)."""
    return _blas_get_threads()


def _set_blas_num_threads(int n):
    """Set OpenBLAS's global thread count; returns the previous one (-1 unknown)."""
    cdef int prev = _blas_get_threads()
    if _set_global != NULL:
        _set_global(n)
    return prev


def gemm(floating[:, ::1] A, floating[:, ::1] B, floating[:, ::1] C,
         floating alpha=1, floating beta=0, bint trans_a=False, bint trans_b=False):
    """C = alpha op(A) op(B) + beta C on C-contiguous arrays (for tests)."""
    cdef int m = C.shape[0], n = C.shape[1]
    cdef int k = A.shape[0] if trans_a else A.shape[1]
    if (B.shape[1] if trans_b else B.shape[0]) != k or (A.shape[1] if trans_a else A.shape[0]) != m \
            or (B.shape[0] if trans_b else B.shape[1]) != n:
        raise ValueError("gemm: incompatible shapes")
    with nogil:
        _gemm(Trans if trans_a else NoTrans, Trans if trans_b else NoTrans, m, n, k,
              alpha, &A[0, 0], A.shape[1], &B[0, 0], B.shape[1], beta, &C[0, 0], C.shape[1])
