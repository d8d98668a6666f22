"""Row-major GEMM over scipy.linalg.cython_blas and BLAS thread control.

fastbp links no BLAS: the GEMMs run in the OpenBLAS that SciPy ships. To run
one single-threaded GEMM per OpenMP thread (no oversubscription, see
DESIGN.md), fastbp needs OpenBLAS's thread setters; they are looked up once
at import in SciPy's BLAS library with ctypes.

The layer kernels' teams can also run on the threads of NumPy's OpenBLAS
pool instead of an OpenMP team (``_pool_size`` / ``_pool_run``; why: the
section "Running in NumPy's pool" below).
"""
import os as _os

from scipy.linalg.cython_blas cimport sgemm, dgemm
from fastbp._kernels cimport fbp_gemm512_on, fbp_gemm_small512_f, fbp_gemm_small512_d
from libc.limits cimport INT_MAX
from libc.stdint cimport uintptr_t
from cpython.pythread cimport (PyThread_type_lock, PyThread_allocate_lock,
                               PyThread_acquire_lock, PyThread_release_lock, WAIT_LOCK)

ctypedef void (*set_threads_void_t)(int) noexcept nogil
ctypedef int (*get_threads_t)() noexcept nogil

cdef set_threads_void_t _set_global = NULL
cdef get_threads_t _get_threads = NULL

# NumPy's OpenBLAS thread pool (see "Running in NumPy's pool" below).
ctypedef int (*pool_exec_t)(int, void *, void *, int) noexcept nogil
cdef pool_exec_t _pool_exec = NULL
cdef int *_pool_threads = NULL
cdef bint _pool_enabled = False
cdef Py_ssize_t _pool_runs = 0      # teams run on the pool (for tests)


cdef extern from "fastbp_gemm.h" nogil:
    void fbp_gemm_small_f(int ta, int tb, Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                          float alpha, const float *A, Py_ssize_t lda,
                          const float *B, Py_ssize_t ldb, float beta,
                          float *C, Py_ssize_t ldc)
    void fbp_gemm_small_d(int ta, int tb, Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                          double alpha, const double *A, Py_ssize_t lda,
                          const double *B, Py_ssize_t ldb, double beta,
                          double *C, Py_ssize_t ldc)
    const char *fbp_dispatch_name()
    int fbp_use_avx2()
    # the small kernel's NT path packs op(B) for its tiles up to this inner size
    # (where that beats its lane-sum dot products: fbp_gs_nt_packs)
    const int FBP_GS_NT_PACK_K

# Which products run in csrc/fastbp_gemm.h instead of OpenBLAS (_small_fits):
#
# * m*n*k up to _small_gemm_max, any shape: on OpenBLAS's Haswell/Zen kernels
#   (every AVX2 CPU) OpenBLAS costs several times more per call on tiny
#   products (interface, its beta pass over C, packing); the small kernel is
#   2.8-9.8x faster on the [2, 4, 1] products (bench/bench_gemm_small.py).
# * m*n*k up to _small_gemm_mid_max where the product runs in the small
#   kernel's register tiles: NN and TN with at least one AVX2 vector of
#   columns (n >= 8 in float32, 4 in float64), and NT (the kernel runs it as
#   NN tiles on op(B) transposed into a stack buffer, or as lane-sum dot
#   products where those are faster: fbp_gs_nt_packs) with few rows (up to 8
#   in float32, 7 in float64) at any n and k, or with k <= 256
#   (FBP_GS_NT_PACK_K) and a vector of columns, in float32 a whole number of
#   them. Zen 1, one thread each, sixteenth session: with 1-7 rows (8 in
#   float32) every mid-size NT shape measured (n 2-4000, k 16-4096) took
#   0.12-0.69x OpenBLAS's time in float32 (medians 0.13 at 1 row to 0.69 at
#   8) and 0.35-0.97x in float64 (one exception, 1 x 4000 x 16: 1.10x); at 8
#   rows float64 lost from k = 300 (1.2x), at 16 float32 too (1.3x). Over the
#   411 shapes with k <= 256 (m 4-128, n 4-4000) they took 0.79x OpenBLAS's
#   time (median; 0.6-0.91 from the 10th to the 90th percentile), 0.99-1.30x
#   at worst in three runs; float32 with edge columns took 1.02-1.44x (10, 20
#   and 33 columns, 64-128 rows).
#   (Until the sixteenth session GCC kept the float32 tiles' B vectors of the
#   transposed strip on the stack, 2.1x the NN time, so float32 NT stayed in
#   OpenBLAS.) On the products of a digits step
#   ([64, 128, 10], batch 32: Z1 128 x 32 x 64, dW1 128 x 64 x 32, ...) the
#   small kernel took 0.3-0.9x OpenBLAS's one-thread Haswell time, and
#   0.7-0.95x on other such shapes up to 262,144 multiply-adds; beyond, the
#   two traded places (0.7-1.8x). Outside those paths it lost at mid sizes:
#   NT by lane-sum dot products with long k and more rows (float64
#   16 x 16 x 1000: 1.3x), NN
#   with fewer columns than a vector (2.6x: 64 x 4 x 1000 in float32), so
#   those keep the tiny limit. bench/bench_gemm_small.py --mid measures it
#   (bench/RESULTS.md, "The rule, product by product"), --nt32 the NT part
#   (RESULTS.md, sixteenth session).
#
# OpenBLAS's AVX-512 cores have small-matrix kernels without packing that
# match or beat this AVX2 code, so there both limits are 0 (always OpenBLAS);
# without the AVX2 clone (FASTBP_DISPATCH=baseline, pre-AVX2 CPUs) the
# mid-size rule is off (SSE2 tiles were not measured faster there).

cdef Py_ssize_t _small_gemm_max = 16384
# float32 NT in the mid range (the rule above); a switch for benchmarks' A/B
cdef bint _small_nt_float32 = True
cdef Py_ssize_t _small_gemm_mid_max = 262144
# Above _small_gemm_mid_max, while that rule is on, with OpenBLAS's
# Haswell/Zen kernels (_NARROW_CORES): NN products with few columns, a whole
# number of AVX2 vectors (_narrow_fits). OpenBLAS packs all of op(A) (m x k)
# for each call and uses each packed element for only n columns, so its
# packing weighs ~1/n of the work; the small kernel reads A in place and keeps
# B's 2-vector column strips in cache. One thread, one Zen 1 machine, Haswell
# kernel (bench/RESULTS.md, fifteenth session; not measured on Intel cores or
# Zen 2-4): at 1-4 vectors (8-32 float32 / 4-16 float64 columns) 0.45-0.98x
# OpenBLAS's time in float32 and 0.42-0.77x in float64, for m 16-1024 and k
# 64-4096; at 5-8 vectors 0.60-1.05x while B (k x n) fits 128 KiB (half the
# smallest L2 of an AVX2 core), and 0.51-1.56x beyond (either could win).
# Column counts that are not a whole number of vectors run their last columns
# in the kernel's edge tiles (1-vector tiles on a zero-padded copy of B's
# columns): float32 10-33 columns at m >= 256 took 0.95-1.5x OpenBLAS's time,
# so those stay in OpenBLAS. TN products (a layer's W^T dZ at a small batch)
# with 1 or 2 vectors of columns too, while the rows of A they walk span at
# most 2 MiB (k lda elements): 85 shapes (m 64-4096, k 32-2048; sixteenth
# session, bench_gemm_small.py --narrow) took 0.63x OpenBLAS's time
# (median), 0.96x at worst, and 0.69x (0.97x) at 2-4 MiB. The small
# kernel walks all k rows of A for every 4 rows of C, so beyond the TLB's
# reach it misses on every row: at spans of 8 MiB 1.7-3.9x OpenBLAS's time
# (an earlier sweep: 1.06-1.13x already at 2.4 MiB with k = 2048; 4 MiB is
# the reach of a Haswell core's second-level TLB, 6 MiB Zen 1's). At 3-4
# vectors TN took 0.7-1.3x. Up to _small_gemm_narrow_max m*n*k (the largest
# products measured).
cdef Py_ssize_t _small_gemm_narrow_max = 134217728
cdef enum:
    _NARROW_B_BYTES = 131072
    _NARROW_TN_SPAN = 2097152
_AVX512_CORES = ("skylakex", "cooperlake", "sapphirerapids")
# OpenBLAS's AVX-512 cores run a small row-major NT product C = A B^T
# (dZ A^T, W X^T with the examples as rows) in a kernel of their own
# (dgemm_small_kernel_b0_nt) that takes 1.4-2.9x the time of the same
# product as NN on B^T stored (dgemm_small_kernel_b0_nn): one thread, Xeon
# (family 6 model 167), SkylakeX, digits' Z1 = W1 Xb^T (128 x 32 x 64)
# 9.78 us NT against 5.82 NN in float64, 5.56 against 3.33 in float32; at
# 256 x 128 x 64 and beyond the two are within 4% (bench_gemm_small.py --nt,
# bench/RESULTS.md, twenty-ninth session). Their Haswell kernel runs both in
# the same time, and the small kernel takes the digits shapes there. True
# while the core is one of those: the network step then runs its first
# layer's W X^T as NN on a transposed copy of X where that is small
# (_netstep's _xt_on).
cdef bint _nt_slow = False
# OpenBLAS's AVX2 kernels, the ones the narrow rule was measured against; with
# another BLAS (or none found) it is off
_NARROW_CORES = ("haswell", "zen")


cdef inline bint _narrow_fits(BLAS_Trans ta, BLAS_Trans tb, Py_ssize_t n, Py_ssize_t k,
                              Py_ssize_t lda, bint single) noexcept nogil:
    """NN or TN with a whole number of AVX2 vectors of columns, few of them
    (above)."""
    cdef int vec = 8 if single else 4
    cdef Py_ssize_t isz = 4 if single else 8
    if tb != NoTrans or n < vec or n % vec != 0:
        return False
    if ta == Trans:
        return n <= 2 * vec and k * lda * isz <= _NARROW_TN_SPAN
    return n <= 4 * vec or (n <= 8 * vec and k * n * isz <= _NARROW_B_BYTES)


cdef inline bint _small_fits(BLAS_Trans ta, BLAS_Trans tb, Py_ssize_t m, Py_ssize_t n,
                             Py_ssize_t k, Py_ssize_t lda, bint single) noexcept nogil:
    """Whether _gemm runs this product in the small kernel (the rule above);
    lda: A's row stride in elements."""
    cdef Py_ssize_t mnk = m * n * k
    if mnk <= _small_gemm_max:
        return True
    if mnk > _small_gemm_mid_max:
        return (_small_gemm_mid_max > _small_gemm_max and mnk <= _small_gemm_narrow_max
                and _narrow_fits(ta, tb, n, k, lda, single))
    if tb == NoTrans:
        return n >= (8 if single else 4)        # a whole AVX2 vector of C's row
    if ta != NoTrans or (single and not _small_nt_float32):
        return False
    if m <= (8 if single else 7):       # few rows: any n, any k
        return True
    if k > FBP_GS_NT_PACK_K or n < (8 if single else 4):
        return False
    return not single or n % 8 == 0


# On OpenBLAS's AVX-512 cores (_AVX512_CORES), mid-size NN and TN products
# and NT ones with K <= 256 run in the small kernel's AVX-512 clone (6 x
# 4-vector register tiles, no packing: csrc/fastbp_gemm.h) where it measured
# faster (_mid512_fits). Up to _MID512_MIN_MNK multiply-adds OpenBLAS runs
# its own small-matrix kernels, which match the clone; beyond, it packs both
# operands for every call, which at a few vectors of columns costs it as much
# as the clone's unpacked reads. One thread each, Xeon (family 6 model 167),
# SciPy's OpenBLAS 0.3.30 SkylakeX, 5 interleaved timings per shape, operands
# in cache (a sweep of M 16-512, N 1-16 vectors, K 10-2048; bench/RESULTS.md,
# thirty-second session): above 524,288 multiply-adds NN took 0.34-1.0x
# OpenBLAS's time (medians ~0.75 in float32, ~0.7 in float64) while B (K x N)
# stayed within _MID512_B_BYTES, except at K = 10 (0.6-1.35x: short K is left
# out, _MID512_MIN_K); at 2 MiB of B 1.4-1.9x (the clone blocks for no
# cache). TN (op(A) = A^T: W^T dZ) likewise while the rows of A it walks span
# at most _MID512_TN_SPAN bytes and N is 2 vectors or more (1 vector of
# float64 took 1.1-1.2x); beyond 1 MiB of span up to 2.7x. NT (dW = dZ A^T)
# at any size while the clone runs it as NN tiles on op(B) transposed 4
# vectors at a time (K <= FBP_GS_NT_PACK_K, 256): with K <= 2 M it took
# 0.42-0.95x OpenBLAS's time (OpenBLAS's NT kernels are its slow ones here:
# _nt_slow), except 1-vector float64 (0.8-1.2x, left out); with few rows and
# long K up to 1.8x (M = 16, K >= 128), past K = 256 (lane-sum dot products)
# 1.6-6x. The clone reads A (M x K) again for every strip: on two threads, a
# dense_backward at (4096, 1024, 256), whose dW blocks are 512 x 4096 x 256,
# took 1.13x (float64, A 1 MiB) and 1.04x (float32) its time through OpenBLAS
# (one thread alone: 0.95x), so A stays within _MID512_NT_A_BYTES and op(B)
# within _MID512_NT_B_BYTES. Those are one-thread comparisons, and fastbp's
# kernels call _gemm where OpenBLAS runs on one thread: the teams' calls
# after _blas_begin(1), and the one-thread layer calls of at most 262,144
# multiply-adds, which OpenBLAS runs on the calling thread whatever its count
# (_blas_begin(0)); the course's small-network path (fastbp._course, layers
# under 2 MFLOP) may meet OpenBLAS's threads on its largest products, and
# whole products on OpenBLAS's own threads (fastbp._bench's floors) call
# _gemm_blas. The rule depends on the shape alone (not on OpenBLAS's thread
# count, which an unlocked call does not own), so a product's bits never
# depend on another thread's settings. Where the mid-size AVX2 rules above
# are on (OpenBLAS's Haswell/Zen cores), this one is off.
cdef enum:
    _MID512_MIN_MNK = 524288
    _MID512_MIN_K = 16
    _MID512_B_BYTES = 524288
    _MID512_TN_SPAN = 524288
    _MID512_NT_A_BYTES = 262144
    _MID512_NT_B_BYTES = 1048576
cdef bint _mid512_on = False        # set by _default_small_gemm_max
cdef bint _mid512_counting = False  # _mid512_count was called: count the runs
cdef Py_ssize_t _mid512_runs = 0


def _mid512_count():
    """How many products _gemm has run under the AVX-512 mid-size rule since
    the first call of this function (for tests: counting starts then, so that
    fits and steps do not share an atomic counter between their threads)."""
    global _mid512_counting
    _mid512_counting = True
    return fbp_atomic_load(&_mid512_runs)


def _set_mid512(bint on):
    """Switch the AVX-512 mid-size rule (_mid512_fits) on or off; returns the
    old setting. For benchmarks and tests: process-wide, not thread-safe
    against running GEMMs."""
    global _mid512_on
    _mid512_on, on = on, _mid512_on
    return bool(on)


cdef inline bint _mid512_active() noexcept nogil:
    """The rule is on: switched on (_default_small_gemm_max, _set_mid512), and
    neither fastbp._testing's limits say never (-1: every product in
    OpenBLAS) nor the AVX2 mid-size rule is on."""
    return _mid512_on and _small_gemm_max >= 0 and _small_gemm_mid_max <= _small_gemm_max


cdef inline bint _mid512_shape(BLAS_Trans ta, BLAS_Trans tb, Py_ssize_t m, Py_ssize_t n,
                               Py_ssize_t k, Py_ssize_t lda, Py_ssize_t isz) noexcept nogil:
    """The shapes of the rule above, while it is on (_mid512_active); lda: A's
    row stride in elements."""
    cdef Py_ssize_t vn = 64 // isz
    if not _mid512_active() or n % vn != 0:
        return False
    if tb == Trans:
        return (ta == NoTrans and k <= FBP_GS_NT_PACK_K and k <= 2 * m
                and (n >= 2 * vn or isz == 4) and m * k * isz <= _MID512_NT_A_BYTES
                and n * k * isz <= _MID512_NT_B_BYTES)
    if m * n * k <= _MID512_MIN_MNK or k < _MID512_MIN_K:
        return False
    if k * n * isz > _MID512_B_BYTES:
        return False
    if ta == Trans:
        return n >= 2 * vn and k * lda * isz <= _MID512_TN_SPAN
    return True


cdef inline bint _mid512_fits(BLAS_Trans ta, BLAS_Trans tb, Py_ssize_t m, Py_ssize_t n,
                              Py_ssize_t k, Py_ssize_t lda, Py_ssize_t isz) noexcept nogil:
    """Whether _gemm runs this product in the AVX-512 clone (the rule above):
    by its shape alone, never by OpenBLAS's thread count, which a call that
    takes no lock (_blas_begin(0)) does not own."""
    return _mid512_shape(ta, tb, m, n, k, lda, isz)


cdef inline bint _blas_ints(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, Py_ssize_t lda,
                            Py_ssize_t ldb, Py_ssize_t ldc) noexcept nogil:
    """Every size and leading dimension fits the 32-bit ints of SciPy's
    cython_blas (products of them may exceed 2**31: BLAS indexes with its
    own wider integers internally)."""
    return (m <= INT_MAX and n <= INT_MAX and k <= INT_MAX and lda <= INT_MAX
            and ldb <= INT_MAX and ldc <= INT_MAX)


cdef inline bint _use_small(BLAS_Trans ta, BLAS_Trans tb, Py_ssize_t m, Py_ssize_t n,
                            Py_ssize_t k, Py_ssize_t lda, Py_ssize_t ldb, Py_ssize_t ldc,
                            bint single) noexcept nogil:
    """_gemm's choice: the small kernel for the products _small_fits gives it
    and for a call BLAS's 32-bit ints cannot hold (_blas_ints)."""
    return (_small_fits(ta, tb, m, n, k, lda, single)
            or not _blas_ints(m, n, k, lda, ldb, ldc))


cdef void _gemm(BLAS_Trans ta, BLAS_Trans tb, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                floating alpha, const floating *A, Py_ssize_t lda,
                const floating *B, Py_ssize_t ldb, floating beta,
                floating *C, Py_ssize_t ldc) noexcept nogil:
    """C (m, n) = alpha op(A) op(B) + beta C, all row-major.

    Small products run in fastbp's own kernel, the rest in OpenBLAS; a call
    whose sizes or leading dimensions do not fit BLAS's 32-bit ints (an
    operand's row stride of 2**31 elements or more) in the small kernel
    too, whose indexing is 64-bit.
    """
    if _use_small(ta, tb, m, n, k, lda, ldb, ldc, floating is float):
        _gemm_small(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
    elif (_mid512_fits(ta, tb, m, n, k, lda, sizeof(floating))
          and _gemm_small512(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)):
        if _mid512_counting:
            fbp_atomic_add(&_mid512_runs, 1)
    else:
        _gemm_openblas(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)


cdef inline bint _gemm_small512(BLAS_Trans ta, BLAS_Trans tb, Py_ssize_t m, Py_ssize_t n,
                                Py_ssize_t k, floating alpha, const floating *A,
                                Py_ssize_t lda, const floating *B, Py_ssize_t ldb,
                                floating beta, floating *C, Py_ssize_t ldc) noexcept nogil:
    """_gemm in the small kernel's AVX-512 clone; False (nothing done) where it
    cannot run (csrc/fastbp_gemm.h's fbp_gemm_small512)."""
    if floating is float:
        return fbp_gemm_small512_f(ta == Trans, tb == Trans, m, n, k, alpha, A, lda, B, ldb,
                                   beta, C, ldc) != 0
    else:
        return fbp_gemm_small512_d(ta == Trans, tb == Trans, m, n, k, alpha, A, lda, B, ldb,
                                   beta, C, ldc) != 0


cdef void _gemm_small(BLAS_Trans ta, BLAS_Trans tb, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                      floating alpha, const floating *A, Py_ssize_t lda,
                      const floating *B, Py_ssize_t ldb, floating beta,
                      floating *C, Py_ssize_t ldc) noexcept nogil:
    """_gemm in csrc/fastbp_gemm.h (single-threaded, no packing)."""
    if floating is float:
        fbp_gemm_small_f(ta == Trans, tb == Trans, m, n, k, alpha, A, lda, B, ldb,
                         beta, C, ldc)
    else:
        fbp_gemm_small_d(ta == Trans, tb == Trans, m, n, k, alpha, A, lda, B, ldb,
                         beta, C, ldc)


cdef void _gemm_blas(BLAS_Trans ta, BLAS_Trans tb, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                     floating alpha, const floating *A, Py_ssize_t lda,
                     const floating *B, Py_ssize_t ldb, floating beta,
                     floating *C, Py_ssize_t ldc) noexcept nogil:
    """_gemm always in OpenBLAS (for callers that measure a BLAS floor), but
    for a call BLAS's 32-bit ints cannot hold (_blas_ints): that one runs in
    the small kernel rather than truncated.

    Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, so the
    operands are swapped and handed to the Fortran routine unchanged
    (_gemm_openblas).
    """
    if _blas_ints(m, n, k, lda, ldb, ldc):
        _gemm_openblas(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
    else:
        _gemm_small(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)


cdef inline void _gemm_openblas(BLAS_Trans ta, BLAS_Trans tb, Py_ssize_t m, Py_ssize_t n,
                                Py_ssize_t k, floating alpha, const floating *A,
                                Py_ssize_t lda, const floating *B, Py_ssize_t ldb,
                                floating beta, floating *C, Py_ssize_t ldc) noexcept nogil:
    """The OpenBLAS call of _gemm_blas, for sizes the caller has checked
    with _blas_ints."""
    cdef char cta = <char>ta
    cdef char ctb = <char>tb
    cdef int im, jn, kk, ia, ib, ic
    im = <int>m
    jn = <int>n
    kk = <int>k
    ia = <int>lda
    ib = <int>ldb
    ic = <int>ldc
    if _warm_on and _mem_alloc != NULL and fbp_warm_seen()[0] != _warm_gen:
        _warm_buffers()         # this thread's first OpenBLAS call (see below)
    if floating is float:
        sgemm(&ctb, &cta, &jn, &im, &kk, &alpha, <float*>B, &ib, <float*>A, &ia,
              &beta, C, &ic)
    else:
        dgemm(&ctb, &cta, &jn, &im, &kk, &alpha, <double*>B, &ib, <double*>A, &ia,
              &beta, C, &ic)


cdef extern from "fastbp_omp.h" nogil:
    Py_ssize_t fbp_atomic_add(Py_ssize_t *x, Py_ssize_t d)
    Py_ssize_t fbp_atomic_load(Py_ssize_t *x)
    void fbp_atomic_store(Py_ssize_t *x, Py_ssize_t v)
    Py_ssize_t *fbp_warm_seen()
    void fbp_yield()
    int fbp_omp_num_procs()


# ------------------------------------------- OpenBLAS's buffers, warmed once
#
# A one-thread OpenBLAS GEMM packs its operands into a buffer that OpenBLAS's
# allocator (blas_memory_alloc) hands the calling thread from a table shared
# by all threads (the lowest free slot: slot 0 to a lone caller, one slot per
# concurrent caller; 32 MiB each, mapped on first use, its pages touched only
# as packing writes them). On the Zen 1 machine of bench/RESULTS.md
# (2026-12-02, fourteenth session; SciPy's OpenBLAS 0.3.30, Haswell kernel),
# one-thread sgemm products of mid size ((128, 64, 256), (256, 256, 256),
# (128, 64, 1024), ...) ran at 10-12 GFLOP/s as long as no larger product
# had run in the process, and at 33-39 after one had: perf put 74% of the
# cold calls' samples on the instruction after the kernel's `prefetcht1`,
# and the buffer had 76 KiB of its 32 MiB resident after such a call (208
# KiB after a (512, 1024, 64) product). Software prefetches into pages that
# are mapped but were never touched are slow there, and a buffer stays cold
# as long as the process runs only mid-size products: a float32
# dense_forward at (512, 512, 256) took 3.6x as long, a dense_backward at
# (256, 256, 64) 2x; dgemm lost 5-15% (a float64 (512, 512, 256)
# dense_backward needed 2 MiB of the buffer touched, 512 KiB did for
# float32).
#
# So the first time a thread calls OpenBLAS through fastbp (and again after a
# fork: OpenBLAS then hands out new buffers, in the parent too), it takes
# _WARM_SLOTS buffers from OpenBLAS's table at once, writes one byte in each
# page of their first _WARM_BYTES, and gives them back: the slots it and the
# team's other threads take next are warm, for both dtypes, whatever
# OpenBLAS's thread count. That costs one page fault per page the first time
# (4 MiB on 2 cores: 1-2 ms in a VM) and a few writes for every later
# thread; afterwards a call reads one thread-local and one global integer. It
# writes only into buffers OpenBLAS lent it, between calls that would
# overwrite them anyway: no result changes. Where the allocator cannot be
# found (not an OpenBLAS, or one that hides it) nothing is done. An OpenBLAS
# built with per-thread buffers (USE_TLS) should be covered too, as each
# thread warms the buffers it would be handed (not tried: the wheels' share
# one table). tests/test_blas_warm.py checks the pages.

ctypedef void *(*mem_alloc_t)(int) noexcept nogil
ctypedef void (*mem_free_t)(void *) noexcept nogil
cdef mem_alloc_t _mem_alloc = NULL      # OpenBLAS's blas_memory_alloc / _free
cdef mem_free_t _mem_free = NULL
cdef bint _warm_on = True
cdef Py_ssize_t _warm_gen = 1           # bumped by forks
cdef Py_ssize_t _warm_passes = 0        # _warm_buffers runs (for tests)
cdef enum:
    _WARM_BYTES = 2 << 20
    _PAGE = 4096
    _WARM_MAX_SLOTS = 16    # well below OpenBLAS's table (50 slots and more)
cdef Py_ssize_t _warm_slots = max(1, min(<int>_WARM_MAX_SLOTS, fbp_omp_num_procs()))


cdef void _warm_buffers() noexcept nogil:
    """Touch the first _WARM_BYTES of _WARM_SLOTS of OpenBLAS's buffers (see
    above) and mark this thread done for this generation."""
    cdef Py_ssize_t gen = _warm_gen
    cdef void *bufs[_WARM_MAX_SLOTS]
    cdef int n = 0, i
    cdef Py_ssize_t off
    cdef volatile char *p
    while n < _warm_slots:
        bufs[n] = _mem_alloc(0)
        if bufs[n] == NULL:
            break
        n += 1
    for i in range(n):
        p = <volatile char *>bufs[i]
        off = 0
        while off < _WARM_BYTES:
            p[off] = 0
            off += _PAGE
    for i in range(n):
        _mem_free(bufs[i])
    fbp_warm_seen()[0] = gen
    fbp_atomic_add(&_warm_passes, 1)


def _forget_warm_buffers():
    """A new generation: every thread warms again at its next call (forks)."""
    global _warm_gen
    _warm_gen += 1


def _set_buffer_warmup(bint on):
    """Turn the warm-up above on (the default) or off, process-wide; returns
    whether it was on. For tests and bench/bench_warm.py's A/B runs."""
    global _warm_on
    was = _warm_on
    _warm_on = on
    return was


def _warm_counts():
    """(passes of the warm-up run, buffers each takes, bytes touched in each,
    whether OpenBLAS's allocator was found): for tests."""
    return _warm_passes, _warm_slots, _WARM_BYTES, _mem_alloc != NULL


cdef PyThread_type_lock _lock = PyThread_allocate_lock()

# ------------------------------------------------------------ fork() guard
#
# A fork() copies OpenBLAS's locks in whatever state the other threads left
# them, and OpenBLAS's own at-fork handler (blas_thread_shutdown_, its only
# one) takes and releases its server_lock before the copy, not across it. A
# fastbp call in another thread that is inside openblas_set_num_threads (its
# _blas_begin / _blas_end: it takes server_lock) or inside a GEMM (its buffer
# allocator's spin locks) when the fork happens leaves the child with a lock
# nobody will release: the child's first fastbp GEMM or thread setting waits
# forever (seen: a child stuck in blas_thread_init's
# pthread_mutex_lock(&server_lock) under scipy_goto_set_num_threads, about
# one fork in a thousand while a thread ran small dense_forward calls;
# tests/test_fork.py). So a fork waits for fastbp's BLAS calls in other
# threads to finish and holds new ones back until it is done:
#
# * before the fork, with the GIL released (a waiting thread may need it to
#   get to its _blas_end), it takes fastbp's BLAS lock, which every call that
#   sets OpenBLAS's thread count or runs NumPy's pool holds throughout, then
#   raises _forking and waits for the unlocked calls (_blas_begin(0):
#   single-threaded GEMMs, which take no lock) in flight to drain;
# * such a call counts itself in _in_flight and then reads _forking (the
#   fork raises _forking and then reads _in_flight; both sequentially
#   consistent, so at least one of the two sees the other): when a fork is
#   coming it steps back and waits for it on the BLAS lock;
# * after the fork the parent lowers _forking and releases the lock; the
#   child starts with a new lock and zero counts (the threads that held
#   them do not exist there).
#
# A fork waits at most for the longest fastbp call in flight (a network's
# chunk of steps: an epoch, or the steps between callbacks). Every caller of
# _blas_begin runs without the GIL. Forks that bypass os.fork (C code) are
# not guarded; multiprocessing's and os.fork's are.

cdef Py_ssize_t _in_flight = 0      # unlocked calls between begin and end
cdef Py_ssize_t _forking = 0        # a fork holds the lock and waits


def _before_fork():
    """os.register_at_fork(before=...): no fastbp BLAS call in flight."""
    with nogil:
        PyThread_acquire_lock(_lock, WAIT_LOCK)
        fbp_atomic_store(&_forking, 1)
        while fbp_atomic_load(&_in_flight) != 0:
            fbp_yield()


def _after_fork_in_parent():
    _forget_warm_buffers()      # OpenBLAS hands out new buffers after a fork
    fbp_atomic_store(&_forking, 0)
    PyThread_release_lock(_lock)


def _after_fork_in_child():
    """A new BLAS lock and zero counts: a thread of the parent that held the
    lock does not exist in the child, and the copy would stay locked forever
    (with the guard above, the forking thread itself held it)."""
    global _lock, _in_flight, _forking, _serial_users
    _lock = PyThread_allocate_lock()
    _in_flight = 0
    _forking = 0
    _forget_warm_buffers()
    if _serial_users > 0:   # regions of the parent's other threads: not here
        _serial_users = 0
        if (_serial_saved > 1 and _get_threads != NULL and _set_global != NULL
                and _get_threads() == 1):
            _set_global(_serial_saved)


cdef int _serial_users = 0         # serial_begin regions open (any thread)
cdef int _serial_saved = -1        # SciPy's OpenBLAS count before the first


def serial_begin():
    """Run SciPy's OpenBLAS on one thread until the matching serial_end.

    fastbp.sklearn's L-BFGS fits run scipy.optimize's vector updates in
    SciPy's OpenBLAS between their compiled calls. Regions of several
    threads overlap and share one setting: the first in saves the count and
    sets 1, the last out puts the saved count back (unless something else
    changed it meanwhile). Both happen under fastbp's BLAS lock, so no
    fastbp call saves a count before the change and puts it back after it.
    (threadpoolctl's limit is not used: it is process-wide but restores
    what it saw at its own entry, and since threadpoolctl 3.8 only the
    first thread that set a count may change it again.)
    """
    global _serial_users, _serial_saved
    with nogil:
        PyThread_acquire_lock(_lock, WAIT_LOCK)
    if _serial_users == 0 and _get_threads != NULL and _set_global != NULL:
        _serial_saved = _get_threads()
        if _serial_saved != 1:
            _set_global(1)
    _serial_users += 1
    PyThread_release_lock(_lock)


def serial_end():
    global _serial_users
    with nogil:
        PyThread_acquire_lock(_lock, WAIT_LOCK)
    if _serial_users > 0:
        _serial_users -= 1
        if (_serial_users == 0 and _serial_saved > 1 and _get_threads != NULL
                and _get_threads() == 1):
            _set_global(_serial_saved)
    PyThread_release_lock(_lock)


if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                         after_in_child=_after_fork_in_child)
cdef enum:
    _NO_LOCK = -2          # _blas_begin(0): no lock taken


cdef int _blas_begin(int n) noexcept nogil:
    """Take fastbp's BLAS lock and set SciPy's OpenBLAS to n threads.

    OpenBLAS's thread count is process-wide (its "_local" setter is global in
    pthreads builds), so concurrent fastbp calls from several Python threads
    serialise here instead of racing on it. Returns the previous count, to
    hand back to _blas_end. n = 0 (a call whose GEMMs OpenBLAS runs on the
    calling thread whatever its count) neither reads nor sets the count and
    takes no lock: nothing it does depends on what another call sets; it
    only counts itself in flight for the fork guard above. Call it without
    the GIL.
    """
    cdef int prev = -1
    if n == 0:
        while True:
            fbp_atomic_add(&_in_flight, 1)
            if fbp_atomic_load(&_forking) == 0:
                return _NO_LOCK
            fbp_atomic_add(&_in_flight, -1)      # a fork is waiting: let it go first
            PyThread_acquire_lock(_lock, WAIT_LOCK)
            PyThread_release_lock(_lock)
    PyThread_acquire_lock(_lock, WAIT_LOCK)
    if _get_threads != NULL and _set_global != NULL:
        prev = _get_threads()
        if prev != n:
            _set_global(n)
    return prev


cdef void _blas_end(int prev) noexcept nogil:
    if prev == _NO_LOCK:
        fbp_atomic_add(&_in_flight, -1)
        return
    if prev > 0 and _get_threads != NULL and _set_global != NULL:
        if _get_threads() != prev:
            _set_global(prev)
    PyThread_release_lock(_lock)


cdef int _blas_get_threads() noexcept nogil:
    if _get_threads == NULL:
        return -1
    return _get_threads()


def _mapped_openblas():
    """Paths of the OpenBLAS libraries mapped into this process, in the order
    /proc/self/maps lists them (Linux; empty elsewhere)."""
    import os
    paths = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                if "openblas" in line.lower() and ".so" in line:
                    path = line.split(None, 5)[-1].strip()
                    if path not in paths and os.path.exists(path):
                        paths.append(path)
    except OSError:
        pass
    return paths


def _package_openblas(pkg_dir, libs_dir):
    """The OpenBLAS a wheel bundles: mapped under its ``*.libs`` folder (or
    ``.dylibs``), else the first file there; None when it bundles none."""
    import glob
    import os
    roots = (libs_dir, os.path.join(pkg_dir, ".dylibs"))
    for path in _mapped_openblas():
        if path.startswith(roots):
            return path
    for root in roots:
        hits = sorted(glob.glob(os.path.join(root, "*openblas*")))
        if hits:
            return hits[0]
    return None


def _find_blas_library():
    """Path of the shared library behind scipy.linalg.cython_blas, or None."""
    import os
    import scipy
    import scipy.linalg.cython_blas  # noqa: F401  (loads the library)

    sp_dir = os.path.dirname(scipy.__file__)
    own = _package_openblas(sp_dir, os.path.join(os.path.dirname(sp_dir), "scipy.libs"))
    if own is not None:
        return own
    mapped = _mapped_openblas()      # a system OpenBLAS (conda, distributions)
    return mapped[0] if mapped else None


def _openblas_names(what):
    """The names OpenBLAS's builds export ``openblas_<what>`` by (SciPy's
    prefixed and 64-bit-suffixed builds' first)."""
    return (f"scipy_openblas_{what}64_", f"scipy_openblas_{what}",
            f"openblas_{what}64_", f"openblas_{what}")


def _openblas_int(lib, what, restype=None):
    """(name, value) of the first of OpenBLAS's ``openblas_<what>`` functions
    (_openblas_names) that ``lib`` exports, called with no arguments
    (``restype``: its ctypes return type, default int); (None, None) when it
    exports none."""
    import ctypes
    for name in _openblas_names(what):
        f = getattr(lib, name, None)
        if f is not None:
            f.restype = ctypes.c_int if restype is None else restype
            return name, f()
    return None, None


def _load_thread_control():
    global _set_global, _get_threads, _mem_alloc, _mem_free
    import ctypes
    path = _find_blas_library()
    if path is None:
        _default_small_gemm_max(None)
        return None
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        _default_small_gemm_max(None)
        return None

    def sym(*names):
        for name in names:
            try:
                return ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
            except AttributeError:
                continue
        return None

    p = sym(*_openblas_names("set_num_threads"))
    q = sym(*_openblas_names("get_num_threads"))
    if p and q:
        _set_global = <set_threads_void_t><uintptr_t>p
        _get_threads = <get_threads_t><uintptr_t>q
    a = sym("blas_memory_alloc", "scipy_blas_memory_alloc", "blas_memory_alloc64_")
    f = sym("blas_memory_free", "scipy_blas_memory_free", "blas_memory_free64_")
    if a and f and p and q:     # an OpenBLAS: its allocator, for _warm_buffers
        _mem_free = <mem_free_t><uintptr_t>f
        _mem_alloc = <mem_alloc_t><uintptr_t>a
    _default_small_gemm_max(lib)
    return path


def _default_small_gemm_max(lib):
    """Pick the small kernel's limits for the BLAS in use (see their comment):
    lib is SciPy's OpenBLAS opened by ctypes, or None when none was found."""
    global _small_gemm_max, _small_gemm_mid_max, _small_gemm_narrow_max, BLAS_CORENAME
    import ctypes
    if lib is not None:
        name, core = _openblas_int(lib, "get_corename", ctypes.c_char_p)
        if name is not None:
            BLAS_CORENAME = (core or b"").decode(errors="replace")
    global _nt_slow, _mid512_on
    _mid512_on = False
    if BLAS_CORENAME.lower() in _AVX512_CORES:
        _small_gemm_max = 0
        _small_gemm_mid_max = 0
        _nt_slow = True
        _mid512_on = fbp_gemm512_on() != 0
    elif not fbp_use_avx2():
        _small_gemm_mid_max = _small_gemm_max
    if BLAS_CORENAME.lower() not in _NARROW_CORES:
        _small_gemm_narrow_max = 0      # measured against these kernels only


BLAS_CORENAME = ""


def blas_small_matrix_path():
    """True when SciPy's OpenBLAS core has small-matrix GEMM kernels.

    OpenBLAS's AVX-512 cores (SkylakeX, Cooper Lake, Sapphire Rapids) run
    small products without packing and without its buffer allocator; the
    other cores (Haswell/Zen on every AVX2 CPU) pack through buffers taken
    from a locked pool. fastbp's network step uses this to decide how small a
    step may still be split between threads (fastbp._network).
    """
    return BLAS_CORENAME.lower() in _AVX512_CORES


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


def small_gemm_max():
    """m*n*k up to which _gemm runs every product in fastbp's small-GEMM kernel."""
    return _small_gemm_max


def small_gemm_mid_max():
    """m*n*k up to which _gemm runs the products that suit the small kernel's
    register tiles there (the rule above _small_fits); at most small_gemm_max
    when that rule is off."""
    return max(_small_gemm_mid_max, _small_gemm_max)


def small_gemm_narrow_max():
    """m*n*k up to which _gemm runs NN and TN products with few columns (a
    whole number of AVX2 vectors: _narrow_fits) there above
    small_gemm_mid_max; 0 when that rule is off (it is on only with the
    mid-size rule)."""
    if _small_gemm_mid_max > _small_gemm_max:
        return max(_small_gemm_narrow_max, 0)
    return 0


def small_gemm_mid512():
    """Whether mid-size NN and TN products (and NT ones with K <= 256) run in
    the small kernel's AVX-512 clone (_mid512_fits: on OpenBLAS's AVX-512
    cores where fastbp's AVX-512 clones run; off while fastbp._testing's
    limits say never, or the AVX2 mid-size rule is on)."""
    return bool(_mid512_active())


def small_gemm_path(trans_a, trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, dtype,
                    lda=None):
    """Where _gemm runs C (m, n) = op(A) op(B) with inner size k: "small" (the
    small kernel's AVX2 or baseline clone), "small512" (its AVX-512 clone,
    the mid-size rule of AVX-512 cores) or "blas". lda: A's row stride in
    elements (default: A contiguous, k for NN and NT, m for TN and TT)."""
    import numpy as np
    single = np.dtype(dtype) == np.float32
    if lda is None:
        lda = m if trans_a else k
    cdef Py_ssize_t ld = lda
    cdef Py_ssize_t ldb = k if trans_b else n      # B and C contiguous
    cdef BLAS_Trans fa = Trans if trans_a else NoTrans
    cdef BLAS_Trans fb = Trans if trans_b else NoTrans
    if _use_small(fa, fb, m, n, k, ld, ldb, n, single):
        return "small"
    if _mid512_shape(fa, fb, m, n, k, ld, 4 if single else 8):
        return "small512"
    return "blas"


cdef Py_ssize_t _swap_small_gemm_max(Py_ssize_t n, Py_ssize_t mid,
                                     Py_ssize_t *old_mid) noexcept nogil:
    global _small_gemm_max, _small_gemm_mid_max
    cdef Py_ssize_t old = _small_gemm_max
    old_mid[0] = _small_gemm_mid_max
    _small_gemm_max = n
    _small_gemm_mid_max = mid
    return old


def _set_small_gemm_narrow_max(Py_ssize_t n):
    """Set the narrow-NN rule's m*n*k limit (0: off); returns the old one.
    For benchmarks and tests: process-wide, not thread-safe against running GEMMs."""
    global _small_gemm_narrow_max
    old = _small_gemm_narrow_max
    _small_gemm_narrow_max = n
    return old


cdef bint _nt_is_slow() noexcept nogil:
    return _nt_slow


cdef bint _nn_copy_pays(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, Py_ssize_t lda,
                        Py_ssize_t ldb, Py_ssize_t ldc, bint single) noexcept nogil:
    return _nt_slow and not _use_small(NoTrans, Trans, m, n, k, lda, ldb, ldc, single)


def nt_copy_rule():
    """Whether the BLAS core runs small NT products slower than NN ones, so
    the network step transposes a small X stored as examples-as-rows for
    its first layer's forward (see _nt_slow)."""
    return bool(_nt_slow)


def _set_nt_copy_rule(bint on):
    """Turn that rule on or off whatever the core; returns the old setting.
    For benchmarks and tests: process-wide, not thread-safe against running
    network steps."""
    global _nt_slow
    old = _nt_slow
    _nt_slow = on
    return bool(old)


def _set_small_nt_float32(bint on):
    """Let the mid-size rule send float32 NT products to the small kernel (the
    default) or not; returns the old setting. For benchmarks and tests:
    process-wide, not thread-safe against running GEMMs."""
    global _small_nt_float32
    old = _small_nt_float32
    _small_nt_float32 = on
    return old


def small_gemm_dispatch():
    """Which clone of the small-GEMM kernel runs: "avx2+fma" or "baseline"."""
    return "avx2+fma" if fbp_use_avx2() else "baseline"


def simd_dispatch():
    """Widest SIMD clones fastbp's element-wise kernels run: "avx512",
    "avx2+fma" or "baseline" (capped by FASTBP_DISPATCH=avx2 or =baseline)."""
    return fbp_dispatch_name().decode()


# ------------------------------------------------- Running in NumPy's pool
#
# NumPy ships its own OpenBLAS (numpy.libs/libscipy_openblas64_*, pthreads).
# After each multithreaded NumPy GEMM its worker threads spin for about 0.1 s
# (OpenBLAS's blas_thread_server: a loop of nops -- YIELDING on x86-64, no
# sched_yield -- until 2**28 TSC cycles have passed). A user who alternates a
# NumPy forward with a fastbp layer call therefore had NumPy's spinning worker
# and fastbp's OpenMP team (then libgomp's spinning threads and NumPy's
# GEMM) on the same cores: the loop cost 1.8-2.2x its parts (bench_layer.py,
# "mixed use"). So the layer kernels run their team on the threads of that
# pool when it can: OpenBLAS's gotoblas_pthread(n, fn, arg, stride) runs
# fn(arg) on the calling thread and on n - 1 of the pool's workers and
# returns when all are done (driver/others/blas_server.c; the pool is
# started if it is down). The worker that NumPy left spinning takes the task
# at once, no other thread pool wakes, and when NumPy's next GEMM comes its
# own worker is the one still spinning. The GEMMs inside the tasks are still
# single-threaded calls into SciPy's OpenBLAS, exactly as in the OpenMP team.
#
# What it does not do: it never shuts down, resizes or reconfigures NumPy's
# pool (OpenBLAS's blas_thread_shutdown_ overwrites a worker's job slot even
# while the worker or a waiting caller is using it: with NumPy running in
# another Python thread that loses a job or hangs). gotoblas_pthread only
# queues jobs through exec_blas, the same path NumPy's own threaded calls
# take, and OpenBLAS hands each job to a free worker, so NumPy calls in other
# threads and fastbp's share the pool one job at a time.
#
# Used only when all of these hold (else the OpenMP team runs, as before):
# Linux; NumPy's BLAS is an OpenBLAS with the pthreads server (not OpenMP, not
# another BLAS) that exports gotoblas_pthread and blas_num_threads, or names
# them in its symbol table (NumPy 2.5's OpenBLAS 0.3.34 is built with hidden
# visibility: _hidden_entry_points finds them there, checked against the
# library's exported thread count; a stripped library has neither); it is a
# different library from SciPy's (in a shared one, a task's GEMM would run
# on the pool it is a job of); and the pool has the team's thread count
# (blas_num_threads: threads that exist; OpenBLAS never ends them but at
# fork or exit). FASTBP_NUMPY_POOL=0 in the environment at import turns it
# off; fastbp._testing.set_numpy_pool switches it for tests and benchmarks.


cdef int _pool_size(int nt) noexcept nogil:
    """Threads of NumPy's pool a team of nt runs on: nt, or 0 for OpenMP."""
    if not _pool_enabled or nt < 2 or _pool_threads[0] < nt:
        return 0
    return nt


cdef void _pool_run(int nt, pool_task_t fn, void *arg) noexcept nogil:
    """fn(arg) on the calling thread and nt - 1 of NumPy's pool's workers.

    nt from _pool_size. fn must claim its work from shared state
    (fbp_task_claim): a worker may start late (busy with another thread's
    NumPy call, or asleep), and the caller then does its share.
    """
    global _pool_runs
    _pool_runs += 1     # callers hold fastbp's BLAS lock (_blas_begin)
    _pool_exec(nt, <void *>fn, arg, 0)


def _find_numpy_blas(scipy_path):
    """Path of NumPy's OpenBLAS when it is a different library from SciPy's."""
    import os
    import numpy

    np_dir = os.path.dirname(numpy.__file__)
    found = _package_openblas(np_dir, os.path.join(os.path.dirname(np_dir), "numpy.libs"))
    if found is None:
        return None
    if scipy_path is not None:
        try:
            if os.path.samefile(found, scipy_path):
                return None
        except OSError:
            return None
    return found


def _load_numpy_pool():
    """Look up NumPy's OpenBLAS pool entry points; True when usable."""
    global _pool_exec, _pool_threads, _pool_enabled, NUMPY_BLAS_LIBRARY
    import ctypes
    import os
    import sys
    if os.environ.get("FASTBP_NUMPY_POOL", "1").strip().lower() in ("0", "false", "off", "no"):
        return False
    if not sys.platform.startswith("linux"):
        return False        # the pthreads server (blas_server.c) was checked on Linux only
    from fastbp._openmp_helpers import openmp_enabled
    if not openmp_enabled():
        return False        # a serial build: every team is one thread, the pool never runs
    path = _find_numpy_blas(BLAS_LIBRARY)
    if path is None:
        return False
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return False
    name, parallel = _openblas_int(lib, "get_parallel")
    if parallel != 1:           # 1: the pthreads server
        return False
    try:
        run = ctypes.cast(lib.gotoblas_pthread, ctypes.c_void_p).value
        nthr = ctypes.addressof(ctypes.c_int.in_dll(lib, "blas_num_threads"))
    except (AttributeError, ValueError):
        # not exported: NumPy 2.5's OpenBLAS (0.3.34) is built with hidden
        # visibility; its symbol table still names them (_hidden_entry_points)
        run, nthr = _hidden_entry_points(lib, path, name)
    if not run or not nthr:
        return False
    _pool_exec = <pool_exec_t><uintptr_t>run
    _pool_threads = <int *><uintptr_t>nthr
    _pool_enabled = True
    NUMPY_BLAS_LIBRARY = path
    return True


def _elf_symbols(path, wanted):
    """{name: (st_value, st_size, type)} of the ``wanted`` names in the symbol
    table (.symtab, which holds the local and hidden symbols too) of the ELF
    shared library at ``path``; {} when it is not a 64-bit little-endian ELF
    or has no symbol table (a stripped library)."""
    import numpy
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x7fELF\x02\x01":    # ELFCLASS64, ELFDATA2LSB
        return {}
    shoff = int.from_bytes(data[0x28:0x30], "little")
    shentsize = int.from_bytes(data[0x3A:0x3C], "little")
    shnum = int.from_bytes(data[0x3C:0x3E], "little")
    if shentsize != 64 or shoff == 0 or shoff + shnum * 64 > len(data):
        return {}
    sh = numpy.frombuffer(data, dtype=numpy.dtype([
        ("name", "<u4"), ("type", "<u4"), ("flags", "<u8"), ("addr", "<u8"),
        ("offset", "<u8"), ("size", "<u8"), ("link", "<u4"), ("info", "<u4"),
        ("align", "<u8"), ("entsize", "<u8")]), count=shnum, offset=shoff)
    found = {}
    for sec in sh[sh["type"] == 2]:                 # SHT_SYMTAB
        link = int(sec["link"])
        if link >= shnum or int(sec["entsize"]) != 24:
            continue
        strs = sh[link]
        s0, s1 = int(strs["offset"]), int(strs["offset"] + strs["size"])
        o0, n = int(sec["offset"]), int(sec["size"]) // 24
        if s1 > len(data) or o0 + n * 24 > len(data):
            continue
        syms = numpy.frombuffer(data, dtype=numpy.dtype([
            ("name", "<u4"), ("info", "u1"), ("other", "u1"), ("shndx", "<u2"),
            ("value", "<u8"), ("size", "<u8")]), count=n, offset=o0)
        for name in wanted:
            key = name.encode() + b"\0"
            start = s0
            while True:       # every occurrence of the name in the string table
                at = data.find(key, start, s1)
                if at < 0:
                    break
                start = at + 1
                # (the linker merges a name into the tail of a longer one:
                # a symbol's st_name may point into the middle of a string)
                hit = syms[(syms["name"] == at - s0) & (syms["shndx"] != 0)]
                if hit.size == 1:
                    found[name] = (int(hit["value"][0]), int(hit["size"][0]),
                                   int(hit["info"][0]) & 0xF)
    return found


def _library_span(path):
    """(low, high): the addresses the file ``path`` is loaded at in this
    process, its .bss included (the anonymous mapping right after the file's
    last one), from /proc/self/maps; None when it is not loaded."""
    import os
    real = os.path.realpath(path)
    lo = hi = None
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                fields = line.split(None, 5)
                a, b = (int(x, 16) for x in fields[0].split("-"))
                name = fields[5].strip() if len(fields) == 6 else ""
                if name and os.path.realpath(name) == real:
                    lo = a if lo is None else min(lo, a)
                    hi = b if hi is None else max(hi, b)
                elif not name and hi is not None and a == hi:
                    hi = b          # the .bss beyond the file's data
    except (OSError, ValueError):
        return None
    return None if lo is None else (lo, hi)


def _hidden_entry_points(lib, path, anchor):
    """(gotoblas_pthread, &blas_num_threads) of the loaded OpenBLAS ``lib``
    from its file's symbol table, when the library does not export them;
    (0, 0) when they cannot be found and checked.

    ``anchor``: an exported function of the same library (its
    openblas_get_parallel): its address, loaded, minus its symbol-table
    value is where the library was loaded, to which the hidden symbols'
    values are added. Taken only when each symbol is what its type and size
    say (a function; an int), and when the int read there is the pool's
    thread count as the library's own exported openblas_get_num_threads
    reports it at this moment (a wrong address fails that check rather
    than being called).
    """
    import ctypes
    try:
        syms = _elf_symbols(path, ("gotoblas_pthread", "blas_num_threads", anchor))
    except (OSError, ValueError):
        return 0, 0
    if len(syms) != 3:
        return 0, 0
    run_v, run_size, run_type = syms["gotoblas_pthread"]
    nthr_v, nthr_size, nthr_type = syms["blas_num_threads"]
    anchor_v, _, anchor_type = syms[anchor]
    if run_type != 2 or run_size == 0 or nthr_type != 1 or nthr_size != 4 or anchor_type != 2:
        return 0, 0                                 # STT_FUNC, STT_OBJECT
    base = ctypes.cast(getattr(lib, anchor), ctypes.c_void_p).value - anchor_v
    span = _library_span(path)
    if span is None or not all(span[0] <= a < span[1] for a in (base + run_v, base + nthr_v)):
        return 0, 0             # not where this file is loaded: a file replaced since
    count = _openblas_int(lib, "get_num_threads")[1]
    if count is None or count < 1 or ctypes.c_int.from_address(base + nthr_v).value != count:
        return 0, 0
    return base + run_v, base + nthr_v


NUMPY_BLAS_LIBRARY = None
NUMPY_POOL = _load_numpy_pool()


def numpy_pool_enabled():
    """True when the layer kernels run their teams on NumPy's OpenBLAS pool."""
    return bool(_pool_enabled)


def _numpy_pool_runs():
    """How many kernel calls ran their team on NumPy's pool since import."""
    return _pool_runs


def _set_numpy_pool(bint on):
    """Switch the NumPy-pool path (only on where it was found); returns the old state."""
    global _pool_enabled
    cdef bint old = _pool_enabled
    _pool_enabled = on and _pool_exec != NULL
    return bool(old)
