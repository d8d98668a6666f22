# Typed shims over scipy.linalg.cython_blas. Matrices are row-major
# (C order) from the caller's point of view; the column-major swap happens
# inside, as in scikit-learn's _cython_blas.
from cython cimport floating

cdef enum BLAS_Trans:
    NoTrans = 110  # 'n'
    Trans = 116    # 't'

# _gemm: small products (_blas.pyx's _small_fits: every product up to
# _small_gemm_max m*n*k, those that suit its register tiles up to
# _small_gemm_mid_max, NN and TN with a few whole AVX2 vectors of columns up
# to _small_gemm_narrow_max) run in csrc/fastbp_gemm.h, the others in OpenBLAS.
# _gemm_blas: always OpenBLAS
# (for a BLAS floor in benchmarks). _gemm_small: always the small kernel.
# Sizes and leading dimensions are Py_ssize_t: SciPy's cython_blas takes 32-bit
# ints, so a call with one of them above INT_MAX (a row stride of 2**31
# elements or more: a column block of a wide C-ordered X) runs in the small
# kernel, whose indexing is ptrdiff_t, instead of reaching BLAS truncated.
cdef void _gemm(BLAS_Trans ta, BLAS_Trans tb, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                floating alpha, const floating *A, Py_ssize_t lda,
                const floating *B, Py_ssize_t ldb, floating beta,
                floating *C, Py_ssize_t ldc) noexcept nogil
cdef void _gemm_blas(BLAS_Trans ta, BLAS_Trans tb, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                     floating alpha, const floating *A, Py_ssize_t lda,
                     const floating *B, Py_ssize_t ldb, floating beta,
                     floating *C, Py_ssize_t ldc) noexcept nogil
cdef void _gemm_small(BLAS_Trans ta, BLAS_Trans tb, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                      floating alpha, const floating *A, Py_ssize_t lda,
                      const floating *B, Py_ssize_t ldb, floating beta,
                      floating *C, Py_ssize_t ldc) noexcept nogil

# Whether C (m, n) = A B^T runs faster as A (B^T stored): NN on a transposed
# copy of B, the copy not counted (the product goes to OpenBLAS, whose core
# runs small NT products slower: _blas.pyx's _nt_slow).
cdef bint _nt_is_slow() noexcept nogil
cdef bint _nn_copy_pays(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, Py_ssize_t lda,
                        Py_ssize_t ldb, Py_ssize_t ldc, bint single) noexcept nogil

# Serialise fastbp's use of SciPy's OpenBLAS and set its (process-wide)
# thread count; _blas_begin returns the previous count for _blas_end.
cdef int _blas_begin(int n) noexcept nogil
cdef void _blas_end(int prev) noexcept nogil
cdef int _blas_get_threads() noexcept nogil

# Set _gemm's small-kernel limits on m*n*k (-1: never) to n (every shape) and
# mid (shapes that suit its tiles); returns the old n and stores the old mid.
# For fastbp._testing: process-wide, not thread-safe against running GEMMs.
cdef Py_ssize_t _swap_small_gemm_max(Py_ssize_t n, Py_ssize_t mid,
                                     Py_ssize_t *old_mid) noexcept nogil

# Run a team on NumPy's OpenBLAS thread pool instead of an OpenMP team (see
# _blas.pyx, "Running in NumPy's pool"): _pool_size(nt) is nt when the pool
# can host a team of nt threads, else 0; _pool_run(nt, fn, arg) calls fn(arg)
# on the calling thread and nt - 1 pool workers and returns when all are done.
ctypedef void (*pool_task_t)(void *) noexcept nogil
cdef int _pool_size(int nt) noexcept nogil
cdef void _pool_run(int nt, pool_task_t fn, void *arg) noexcept nogil
