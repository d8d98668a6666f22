# cython: language_level=3
"""A whole dense network's training step in one ``nogil`` call.

One call runs, for a mini-batch of m examples (columns):

    forward   Z[l] = W[l] A[l-1] + b[l];  A[l] = g[l](Z[l])   (dropout on A[l])
    output    A[L] = softmax(Z[L]) / sigmoid / identity; loss; dZ[L] = A[L] - Y
    backward  dW[l] = (1/m) dZ[l] A[l-1]^T + (lambd/m) W[l]
              db[l] = (1/m) sum_j dZ[l][:, j]
              dZ[l-1] = (W[l]^T dZ[l]) * mask/keep_prob * g'[l-1]
    update    one fused loop over the flat parameter/gradient buffers
              (SGD, momentum, Nesterov or Adam)

Threading (why this shape): the step runs in ONE OpenMP parallel region.
Each phase splits the rows of its GEMM outputs among the team; every thread
calls a single-threaded GEMM on its row block (SciPy's OpenBLAS pinned to one
thread for the duration, so no BLAS thread ever runs inside an OpenMP one)
and applies the epilogue (bias + activation, activation derivative, db, L2)
to that block while it is still in cache; a barrier separates layers. Why:
only one thread pool is ever awake (OpenBLAS's workers spin ~100 ms after
each threaded call and would compete with the OpenMP team for the cores),
every epilogue runs on cache-hot rows instead of a second sweep, and the
split never needs a reduction, so results do not depend on the team size.
The alternative -- each GEMM whole on a BLAS-threaded OpenBLAS, epilogues on
the calling thread -- is kept as ``NetKernel.set_strategy("blas")`` and
compared by bench/bench_train.py ("floor omp" vs "floor blas" rows time the
two schemes on bare GEMMs). Small steps (under ``min_flops_per_thread``
forward flops per thread) run on one thread: a barrier costs more than it
saves there.

Determinism: row blocks never share an output element, the bias gradients
are per-row sums in a fixed order, the loss and the L2 term are summed
serially from per-column / per-row partials, and dropout masks come from a
counter-based hash of (seed, step, layer, element). Results therefore do not
depend on the thread count beyond the GEMM's own rounding.

The kernel trusts its inputs: fastbp.network.Network validates everything
at the Python boundary.
"""
from cython cimport floating
from cython.parallel cimport parallel
from libc.math cimport sqrt, sqrtf, log, isfinite, pow
from libc.stdint cimport uint64_t, int64_t
from libc.string cimport memcpy
from cpython.mem cimport PyMem_Malloc, PyMem_Free
cimport numpy as cnp

import numpy as np

from fastbp._blas cimport _gemm, _gemm_blas, _blas_begin, _blas_end, BLAS_Trans, NoTrans, Trans

cnp.import_array()

from fastbp._kernels cimport *  # the csrc kernels (fbp_*)
from fastbp._registry cimport *  # the codes (FBP_*)
from fastbp import _registry

# Team-level OpenMP primitives. The barrier is an orphaned directive: it binds
# to the parallel region of whichever thread team calls it (a team of one
# without OpenMP, where it is a no-op).
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static inline void fbp_net_barrier(void)
    {
    #pragma omp barrier
    }
    static inline int fbp_net_team_size(void) { return omp_get_num_threads(); }
    static inline int fbp_net_thread_id(void) { return omp_get_thread_num(); }
    #else
    static inline void fbp_net_barrier(void) {}
    static inline int fbp_net_team_size(void) { return 1; }
    static inline int fbp_net_thread_id(void) { return 0; }
    #endif

    /* Adam's update over [a, b). gcc will not vectorise sqrt without
     * -fno-math-errno (not used for wheels), and the scalar sqrt + divide
     * made the update ~4x slower than the memory traffic it needs; so the
     * body is written with SSE2 intrinsics (baseline x86-64). sqrtps and
     * divps round exactly like their scalar forms and the operations run in
     * the same order, so results equal the scalar loop bit for bit. */
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    /* One definition for both types: T, the SSE2 vector type V of W lanes,
     * the intrinsics' suffix SUF (ps/pd) and the scalar sqrt. */
    #if defined(__SSE2__)
    #define FBP_NET_ADAM_SIMD(V, W, SUF)                                          \
        const V vb1 = _mm_set1_##SUF(b1), vb2 = _mm_set1_##SUF(b2),              \
            vn1 = _mm_set1_##SUF(nb1), vn2 = _mm_set1_##SUF(nb2),                 \
            vlr = _mm_set1_##SUF(lr), veps = _mm_set1_##SUF(eps),                 \
            vc1 = _mm_set1_##SUF(c1), vc2 = _mm_set1_##SUF(c2);                   \
        for (; i + W <= b; i += W) {                                              \
            V g = _mm_loadu_##SUF(G + i);                                         \
            V v = _mm_add_##SUF(_mm_mul_##SUF(vb1, _mm_loadu_##SUF(S1 + i)),      \
                                _mm_mul_##SUF(vn1, g));                           \
            V s = _mm_add_##SUF(_mm_mul_##SUF(vb2, _mm_loadu_##SUF(S2 + i)),      \
                                _mm_mul_##SUF(_mm_mul_##SUF(vn2, g), g));         \
            V step;                                                               \
            _mm_storeu_##SUF(S1 + i, v);                                          \
            _mm_storeu_##SUF(S2 + i, s);                                          \
            step = _mm_div_##SUF(_mm_mul_##SUF(vlr, _mm_mul_##SUF(v, vc1)),       \
                _mm_add_##SUF(_mm_sqrt_##SUF(_mm_mul_##SUF(s, vc2)), veps));      \
            _mm_storeu_##SUF(P + i, _mm_sub_##SUF(_mm_loadu_##SUF(P + i), step)); \
        }
    #else
    #define FBP_NET_ADAM_SIMD(V, W, SUF)
    #endif
    #define FBP_NET_ADAM(T, S, V, W, SUF, SQRT)                                   \
    static void fbp_net_adam_##S(T *P, const T *G, T *S1, T *S2, ptrdiff_t a,     \
        ptrdiff_t b, T lr, T b1, T b2, T nb1, T nb2, T eps, T c1, T c2)           \
    {                                                                             \
        ptrdiff_t i = a;                                                          \
        FBP_NET_ADAM_SIMD(V, W, SUF)                                              \
        for (; i < b; i++) {                                                      \
            T g = G[i];                                                           \
            T v = b1 * S1[i] + nb1 * g;                                           \
            T s = b2 * S2[i] + nb2 * g * g;                                       \
            S1[i] = v;                                                            \
            S2[i] = s;                                                            \
            P[i] -= lr * (v * c1) / (SQRT(s * c2) + eps);                         \
        }                                                                         \
    }
    FBP_NET_ADAM(float, f, __m128, 4, ps, sqrtf)
    FBP_NET_ADAM(double, d, __m128d, 2, pd, sqrt)
    """
    void fbp_net_adam_f(float *P, const float *G, float *S1, float *S2, Py_ssize_t a,
                        Py_ssize_t b, float lr, float b1, float b2, float nb1, float nb2,
                        float eps, float c1, float c2) noexcept nogil
    void fbp_net_adam_d(double *P, const double *G, double *S1, double *S2, Py_ssize_t a,
                        Py_ssize_t b, double lr, double b1, double b2, double nb1,
                        double nb2, double eps, double c1, double c2) noexcept nogil
    void fbp_net_barrier() noexcept nogil
    int fbp_net_team_size() noexcept nogil
    int fbp_net_thread_id() noexcept nogil

# aliases for modules not yet switched; remove after merge
ACTIVATIONS = _registry.ACTIVATIONS
LOSS_CODES = _registry.LOSS_CODES
Y_CODES = _registry.LABEL_DTYPES
OPTIMIZERS = _registry.OPTIMIZERS

# mode bits of one kernel call
cdef enum:
    M_FORWARD = 1
    M_TRAIN = 2      # keep per-layer activations, apply dropout
    M_LOSS = 4
    M_DELTA = 8
    M_BACKWARD = 16
    M_UPDATE = 32
    M_NOCHECK = 64   # update even when the loss is not finite (course semantics)

# Rows per GEMM block are multiples of this (OpenBLAS's micro-kernel tiles);
# columns of the output phase and elements of the update loop likewise.
cdef Py_ssize_t ROW_GRAIN = 8
cdef Py_ssize_t COL_GRAIN = 16
cdef Py_ssize_t ELEM_GRAIN = 256

# Dropout hash: SplitMix64's gamma and finalizer constants.
cdef uint64_t GOLDEN = 0x9E3779B97F4A7C15ULL
cdef uint64_t MIX1 = 0xBF58476D1CE4E5B9ULL
cdef uint64_t MIX2 = 0x94D049BB133111EBULL


cdef struct LayerPlan:
    int n_in
    int n_out
    int act            # activation code (hidden) or the output's non-linearity
    double alpha
    double keep_prob   # 1.0: no dropout on this layer's output
    uint64_t keep_thr  # keep an element when its 24-bit hash < keep_thr
    Py_ssize_t w_off   # offsets of W (n_out, n_in) and b (n_out,) in the flat buffers
    Py_ssize_t b_off
    void *Z            # (n_out, m) row-major, ld = m; == A unless g' needs Z
    void *A            # g(Z), pre-dropout (what g' reads)
    void *Ad           # dropout(A): the next layer's input; == A without dropout


cdef struct NetPlan:
    int L
    int loss           # FBP_BCE, FBP_CE or FBP_MSE
    int softmax
    void *params
    void *grads
    Py_ssize_t n_params
    Py_ssize_t m
    # input X (n_x, m): row-major with leading dimension x_ld (x_trans = 0),
    # or X^T row-major (x_trans = 1)
    const void *X
    Py_ssize_t x_ld
    int x_trans
    # targets: dense (rows, m) with element strides, or class labels (m,)
    const void *Y
    int yt
    Py_ssize_t yr
    Py_ssize_t yc
    int labels
    # workspaces
    void *D0
    void *D1
    void *smbuf        # 2 m scratch values for softmax
    double *colloss    # m per-column loss sums
    double *l2rows     # one ||W[l][i, :]||^2 per weight row, all layers
    # gradient scaling: dW = gscale dZ A^T + l2scale W, db = gscale sum_j dZ.
    # One process: 1/m and lambd/m. Data-parallel (fastbp.distributed): 1/M
    # and (lambd/M)(m/M) for this rank's m of the global batch M, so the
    # ranks' gradients sum to the global batch's.
    double gscale
    double l2scale
    # regularisation and dropout
    double lambd
    int dropout        # apply dropout (set by a training forward, read by backward)
    uint64_t seed
    uint64_t step
    # dropout hash index of element (i, j): i mask_ld + mask_off + j. One
    # process: m and 0; a rank holding columns [off, off + m) of a global
    # batch of M: M and off, so its masks are the global batch's.
    Py_ssize_t mask_ld
    Py_ssize_t mask_off
    # optimizer
    int opt
    double lr
    double b1
    double b2
    double eps
    double c1          # 1 / (1 - beta1^t)
    double c2          # 1 / (1 - beta2^t)
    void *s1
    void *s2
    # results
    double loss_sum
    double l2_sum
    int bad_label
    int nonfinite


# ------------------------------------------------------------------ helpers

cdef inline uint64_t _fin(uint64_t z) noexcept nogil:
    z = (z ^ (z >> 30)) * MIX1
    z = (z ^ (z >> 27)) * MIX2
    return z ^ (z >> 31)


cdef inline uint64_t _dropout_key(uint64_t seed, uint64_t step, uint64_t layer) noexcept nogil:
    return _fin(_fin(_fin(seed + GOLDEN) + step * GOLDEN) + (layer + 1) * GOLDEN)


cdef inline bint _keep(uint64_t key, uint64_t idx, uint64_t thr) noexcept nogil:
    return (_fin(key + (idx + 1) * GOLDEN) >> 40) < thr


cdef inline void _split(Py_ssize_t n, int parts, int idx, Py_ssize_t grain,
                        Py_ssize_t *lo, Py_ssize_t *hi) noexcept nogil:
    """[lo, hi): block idx of n items cut into `parts` runs of whole grains."""
    cdef Py_ssize_t units = (n + grain - 1) // grain
    cdef Py_ssize_t a = units * idx // parts
    cdef Py_ssize_t b = units * (idx + 1) // parts
    lo[0] = a * grain if a * grain < n else n
    hi[0] = b * grain if b * grain < n else n


cdef inline void _fwd_rows(int act, floating alpha, floating *Z, Py_ssize_t ldz,
                           floating *A, Py_ssize_t lda, const floating *b,
                           Py_ssize_t rows, Py_ssize_t cols) noexcept nogil:
    if floating is float:
        fbp_forward_rows_f(act, alpha, Z, ldz, A, lda, b, 1, rows, cols)
    else:
        fbp_forward_rows_d(act, alpha, Z, ldz, A, lda, b, 1, rows, cols)


cdef inline void _bwd_rows(int act, floating alpha, floating *D, Py_ssize_t ldd,
                           const floating *V, Py_ssize_t rows, Py_ssize_t cols) noexcept nogil:
    if floating is float:
        fbp_backward_rows_f(act, alpha, D, ldd, V, ldd, 1, rows, cols)
    else:
        fbp_backward_rows_d(act, alpha, D, ldd, V, ldd, 1, rows, cols)


cdef inline void _rowsum(const floating *D, Py_ssize_t rows, Py_ssize_t cols,
                         floating scale, floating *out) noexcept nogil:
    if floating is float:
        fbp_rowsum_f(D, cols, 1, rows, cols, scale, out, 1)
    else:
        fbp_rowsum_d(D, cols, 1, rows, cols, scale, out, 1)


# ------------------------------------------------------------------- phases

cdef void _forward(floating *P, NetPlan *p, LayerPlan *lys, int tid, int nt,
                   bint train) noexcept nogil:
    cdef int l
    cdef LayerPlan *ly
    cdef Py_ssize_t m = p.m, r0, r1, i, j, k, ald
    cdef const floating *Ain
    cdef floating *Z
    cdef floating *A
    cdef floating *Ad
    cdef floating inv
    cdef BLAS_Trans ta
    cdef uint64_t key
    cdef Py_ssize_t mld = p.mask_ld, moff = p.mask_off
    for l in range(p.L):
        ly = &lys[l]
        if l == 0:
            Ain = <const floating *>p.X
            ald = p.x_ld
            ta = Trans if p.x_trans else NoTrans
        else:
            Ain = <const floating *>(lys[l - 1].Ad if p.dropout else lys[l - 1].A)
            ald = m
            ta = NoTrans
        _split(ly.n_out, nt, tid, ROW_GRAIN, &r0, &r1)
        if r1 > r0:
            Z = <floating *>ly.Z + r0 * m
            A = <floating *>ly.A + r0 * m
            _gemm(NoTrans, ta, <int>(r1 - r0), <int>m, ly.n_in, <floating>1.0,
                  P + ly.w_off + r0 * ly.n_in, ly.n_in, Ain, <int>ald, <floating>0.0,
                  Z, <int>m)
            # softmax needs whole columns: here only the bias, the rest later
            _fwd_rows(FBP_IDENTITY if (p.softmax and l == p.L - 1) else ly.act,
                      <floating>ly.alpha, Z, m, A, m, P + ly.b_off + r0, r1 - r0, m)
            if p.dropout and ly.keep_prob < 1.0:
                Ad = <floating *>ly.Ad
                inv = <floating>(1.0 / ly.keep_prob)
                key = _dropout_key(p.seed, p.step, l)
                for i in range(r0, r1):
                    for j in range(m):
                        k = i * m + j
                        Ad[k] = ((<floating *>ly.A)[k] * inv
                                 if _keep(key, i * mld + moff + j, ly.keep_thr) else 0)
        fbp_net_barrier()


cdef void _softmax(floating *P, NetPlan *p, LayerPlan *lys, int tid, int nt) noexcept nogil:
    """Column-wise softmax of the output, in place, on this thread's columns."""
    cdef LayerPlan *ly = &lys[p.L - 1]
    cdef Py_ssize_t m = p.m, j0, j1
    _split(m, nt, tid, COL_GRAIN, &j0, &j1)
    if j1 > j0:
        if floating is float:
            fbp_softmax_cols_f(<float *>ly.A, m, 1, <float *>ly.A, m, ly.n_out, j0, j1,
                               <float *>p.smbuf + 2 * j0)
        else:
            fbp_softmax_cols_d(<double *>ly.A, m, 1, <double *>ly.A, m, ly.n_out, j0, j1,
                               <double *>p.smbuf + 2 * j0)


cdef void _output(floating *P, NetPlan *p, LayerPlan *lys, int tid, int nt,
                  bint want_loss, bint want_delta) noexcept nogil:
    cdef LayerPlan *ly = &lys[p.L - 1]
    cdef Py_ssize_t m = p.m, rows = ly.n_out, j0, j1, i, j, c
    cdef floating *AL = <floating *>ly.A
    cdef floating *D = <floating *>p.D0
    cdef floating a
    cdef double tiny = 1.1754943508222875e-38 if floating is float else 2.2250738585072014e-308
    _split(m, nt, tid, COL_GRAIN, &j0, &j1)
    if j1 <= j0:
        return
    if p.labels:
        for j in range(j0, j1):
            c = <Py_ssize_t>fbp_yval(p.Y, p.yt, j * p.yc)
            if c < 0 or c >= rows:
                p.bad_label = 1
                c = -1
            if want_loss:
                if c >= 0:
                    a = AL[c * m + j]
                    p.colloss[j] = -log(<double>a if (a > tiny or a != a) else tiny)
                else:
                    p.colloss[j] = 0.0
            if want_delta:
                for i in range(rows):
                    D[i * m + j] = AL[i * m + j]
                if c >= 0:
                    D[c * m + j] -= 1
    else:
        if want_loss:
            if floating is float:
                fbp_loss_cols_f(p.loss, AL, m, 1, p.Y, p.yt, p.yr, p.yc, rows, j0, j1,
                                p.colloss)
            else:
                fbp_loss_cols_d(p.loss, AL, m, 1, p.Y, p.yt, p.yr, p.yc, rows, j0, j1,
                                p.colloss)
        if want_delta:
            if floating is float:
                fbp_delta_f(AL, m, 1, p.Y, p.yt, p.yr, p.yc, D, m, rows, j0, j1)
            else:
                fbp_delta_d(AL, m, 1, p.Y, p.yt, p.yr, p.yc, D, m, rows, j0, j1)


cdef void _backward(floating *P, NetPlan *p, LayerPlan *lys, int tid, int nt) noexcept nogil:
    cdef floating *G = <floating *>p.grads
    cdef int l
    cdef LayerPlan *ly
    cdef LayerPlan *lp
    cdef Py_ssize_t m = p.m, r0, r1, q0, q1, i, j, k, ald, n_in, l2base = 0
    cdef floating scale = <floating>p.gscale
    cdef floating l2s = <floating>p.l2scale
    cdef Py_ssize_t mld = p.mask_ld, moff = p.mask_off
    cdef floating inv
    cdef floating w
    cdef double acc
    cdef floating *cur = <floating *>p.D0
    cdef floating *nxt = <floating *>p.D1
    cdef floating *tmp
    cdef floating *dW
    cdef floating *W
    cdef const floating *Ain
    cdef const floating *V
    cdef BLAS_Trans tb
    cdef uint64_t key
    for l in range(p.L):
        l2base += lys[l].n_out
    for l in range(p.L - 1, -1, -1):
        ly = &lys[l]
        n_in = ly.n_in
        l2base -= ly.n_out
        if l == 0:
            Ain = <const floating *>p.X
            ald = p.x_ld
            # X row-major: X^T is Trans(X); X stored transposed: X^T as is
            tb = NoTrans if p.x_trans else Trans
        else:
            Ain = <const floating *>(lys[l - 1].Ad if p.dropout else lys[l - 1].A)
            ald = m
            tb = Trans
        # dW, db (and L2) on this thread's rows of W
        _split(ly.n_out, nt, tid, ROW_GRAIN, &r0, &r1)
        if r1 > r0:
            dW = G + ly.w_off + r0 * n_in
            W = P + ly.w_off + r0 * n_in
            _gemm(NoTrans, tb, <int>(r1 - r0), <int>n_in, <int>m, scale,
                  cur + r0 * m, <int>m, Ain, <int>ald, <floating>0.0, dW, <int>n_in)
            _rowsum(cur + r0 * m, r1 - r0, m, scale, G + ly.b_off + r0)
            if p.lambd != 0.0:
                for i in range(r1 - r0):
                    acc = 0.0
                    for j in range(n_in):
                        w = W[i * n_in + j]
                        dW[i * n_in + j] += l2s * w
                        acc += <double>w * w
                    p.l2rows[l2base + r0 + i] = acc
        # dZ[l-1] = (W^T dZ) * mask / keep_prob * g'  on this thread's rows of it
        if l > 0:
            lp = &lys[l - 1]
            _split(n_in, nt, tid, ROW_GRAIN, &q0, &q1)
            if q1 > q0:
                _gemm(Trans, NoTrans, <int>(q1 - q0), <int>m, ly.n_out, <floating>1.0,
                      P + ly.w_off + q0, <int>n_in, cur, <int>m, <floating>0.0,
                      nxt + q0 * m, <int>m)
                if p.dropout and lp.keep_prob < 1.0:
                    inv = <floating>(1.0 / lp.keep_prob)
                    key = _dropout_key(p.seed, p.step, l - 1)
                    for i in range(q0, q1):
                        for j in range(m):
                            k = i * m + j
                            nxt[k] = (nxt[k] * inv
                                      if _keep(key, i * mld + moff + j, lp.keep_thr) else 0)
                V = <const floating *>(lp.Z if fbp_deriv_needs_z(lp.act) else lp.A)
                _bwd_rows(lp.act, <floating>lp.alpha, nxt + q0 * m, m, V + q0 * m,
                          q1 - q0, m)
            tmp = cur
            cur = nxt
            nxt = tmp
        fbp_net_barrier()


cdef void _update(floating *P, NetPlan *p, int tid, int nt) noexcept nogil:
    """One fused loop over the flat buffers (the course's update formulas)."""
    cdef floating *G = <floating *>p.grads
    cdef floating *S1 = <floating *>p.s1
    cdef floating *S2 = <floating *>p.s2
    cdef floating lr = <floating>p.lr, b1 = <floating>p.b1, b2 = <floating>p.b2
    cdef floating nb1 = <floating>(1.0 - p.b1), nb2 = <floating>(1.0 - p.b2)
    cdef floating eps = <floating>p.eps, c1 = <floating>p.c1, c2 = <floating>p.c2
    cdef floating g, v, s
    cdef Py_ssize_t i, a, b
    _split(p.n_params, nt, tid, ELEM_GRAIN, &a, &b)
    if p.opt == FBP_OPT_SGD:
        for i in range(a, b):
            P[i] -= lr * G[i]
    elif p.opt == FBP_OPT_MOMENTUM:
        for i in range(a, b):
            v = b1 * S1[i] + nb1 * G[i]
            S1[i] = v
            P[i] -= lr * v
    elif p.opt == FBP_OPT_NESTEROV:
        for i in range(a, b):
            g = G[i]
            v = b1 * S1[i] + nb1 * g
            S1[i] = v
            P[i] -= lr * (b1 * v + nb1 * g)
    elif p.opt == FBP_OPT_ADAM:
        if floating is float:
            fbp_net_adam_f(P, G, S1, S2, a, b, lr, b1, b2, nb1, nb2, eps, c1, c2)
        else:
            fbp_net_adam_d(P, G, S1, S2, a, b, lr, b1, b2, nb1, nb2, eps, c1, c2)


cdef void _team(floating *P, NetPlan *p, LayerPlan *lys, int mode) noexcept nogil:
    """Everything one thread of the team does; all threads take the same path."""
    cdef int tid = fbp_net_thread_id(), nt = fbp_net_team_size()
    cdef Py_ssize_t j, i
    cdef double total
    if mode & M_FORWARD:
        _forward(P, p, lys, tid, nt, (mode & M_TRAIN) != 0)
        if p.softmax:
            _softmax(P, p, lys, tid, nt)
            fbp_net_barrier()
    if mode & (M_LOSS | M_DELTA):
        _output(P, p, lys, tid, nt, (mode & M_LOSS) != 0, (mode & M_DELTA) != 0)
        fbp_net_barrier()
        if p.bad_label:
            return
        if mode & M_LOSS:
            # every thread sums the same partials in the same order
            total = 0.0
            for j in range(p.m):
                total += p.colloss[j]
            if tid == 0:
                p.loss_sum = total
            if not isfinite(total) and (mode & M_UPDATE) and not (mode & M_NOCHECK):
                if tid == 0:
                    p.nonfinite = 1
                return
    if mode & M_BACKWARD:
        _backward(P, p, lys, tid, nt)
        if tid == 0 and p.lambd != 0.0 and (mode & M_LOSS):
            total = 0.0
            j = 0
            for i in range(p.L):
                j += lys[i].n_out
            for i in range(j):
                total += p.l2rows[i]
            p.l2_sum = total
    if mode & M_UPDATE:
        _update(P, p, tid, nt)


cdef void _run(floating *P, NetPlan *p, LayerPlan *lys, int mode, int nt) noexcept nogil:
    if nt <= 1:
        _team(P, p, lys, mode)
        return
    with parallel(num_threads=nt):
        _team(P, p, lys, mode)


# -------------------------------------------------------------- the kernel

cdef class NetKernel:
    """Compiled state of one Network: plan, workspaces, thread strategy.

    Created and driven by :class:`fastbp.network.Network`; not public API.
    Workspaces are NumPy arrays sized at first use for the largest batch seen
    and reused; smaller batches use a prefix of them.
    """
    cdef NetPlan p
    cdef LayerPlan *train_layers
    cdef LayerPlan *infer_layers
    cdef readonly int is_double
    cdef readonly Py_ssize_t m_cap
    cdef readonly Py_ssize_t infer_cap
    cdef readonly bint have_forward   # a training-mode forward is in the workspace
    cdef readonly object strategy     # "omp" (row blocks per thread) or "blas"
    cdef public Py_ssize_t min_flops_per_thread
    cdef object params, grads, s1, s2
    cdef list dims, acts, alphas, keep_probs
    cdef list ws, infer_ws
    cdef object X_ref, Y_ref
    cdef Py_ssize_t fwd_flops

    def __cinit__(self):
        self.train_layers = NULL
        self.infer_layers = NULL

    def __dealloc__(self):
        PyMem_Free(self.train_layers)
        PyMem_Free(self.infer_layers)

    def __init__(self, list dims, list acts, list alphas, list keep_probs, str loss,
                 bint softmax, cnp.ndarray params, cnp.ndarray grads,
                 list w_offsets, list b_offsets):
        cdef int L = len(dims) - 1, l
        self.dims = dims
        self.acts = acts
        self.alphas = alphas
        self.keep_probs = keep_probs
        self.params = params
        self.grads = grads
        self.is_double = params.dtype == np.float64
        self.strategy = "omp"
        self.min_flops_per_thread = MIN_FLOPS_PER_THREAD_C
        self.m_cap = 0
        self.infer_cap = 0
        self.have_forward = False
        self.s1 = None
        self.s2 = None
        self.train_layers = <LayerPlan *>PyMem_Malloc(L * sizeof(LayerPlan))
        self.infer_layers = <LayerPlan *>PyMem_Malloc(L * sizeof(LayerPlan))
        if self.train_layers == NULL or self.infer_layers == NULL:
            raise MemoryError()
        self.fwd_flops = 0
        for l in range(L):
            self.fwd_flops += 2 * dims[l] * dims[l + 1]
            self._fill_layer(&self.train_layers[l], l, w_offsets[l], b_offsets[l])
            self._fill_layer(&self.infer_layers[l], l, w_offsets[l], b_offsets[l])
        self.p.L = L
        self.p.loss = _registry.LOSS_CODES[loss]
        self.p.softmax = softmax
        self.p.params = cnp.PyArray_DATA(params)
        self.p.grads = cnp.PyArray_DATA(grads)
        self.p.n_params = params.shape[0]
        self.p.lambd = 0.0
        self.p.gscale = 0.0
        self.p.l2scale = 0.0
        self.p.mask_ld = 0
        self.p.mask_off = 0
        self.p.seed = 0
        self.p.step = 0
        self.p.opt = FBP_OPT_NONE
        self.ws = []
        self.infer_ws = []

    cdef _fill_layer(self, LayerPlan *ly, int l, Py_ssize_t w_off, Py_ssize_t b_off):
        ly.n_in = self.dims[l]
        ly.n_out = self.dims[l + 1]
        ly.act = self.acts[l]
        ly.alpha = self.alphas[l]
        ly.keep_prob = self.keep_probs[l]
        ly.keep_thr = <uint64_t>(ly.keep_prob * 16777216.0 + 0.5)
        ly.w_off = w_off
        ly.b_off = b_off
        ly.Z = NULL
        ly.A = NULL
        ly.Ad = NULL

    # ---------------------------------------------------------- workspaces

    cdef _buf(self, list keep, Py_ssize_t n):
        a = np.empty(max(n, 1), dtype=self.params.dtype)
        keep.append(a)
        return a

    cdef _ensure(self, Py_ssize_t m):
        """Training workspaces for batches of up to m columns."""
        cdef int l, L = self.p.L
        cdef LayerPlan *ly
        cdef Py_ssize_t maxn = 0, nrows = 0
        cdef cnp.ndarray a
        if m <= self.m_cap:
            return
        m = max(m, self.m_cap * 2 if self.m_cap else m)
        self.ws = []
        for l in range(L):
            ly = &self.train_layers[l]
            a = self._buf(self.ws, ly.n_out * m)
            ly.Z = cnp.PyArray_DATA(a)
            ly.A = ly.Z
            if l < L - 1 and fbp_deriv_needs_z(ly.act):
                ly.A = cnp.PyArray_DATA(self._buf(self.ws, ly.n_out * m))
            ly.Ad = ly.A
            if l < L - 1 and ly.keep_prob < 1.0:
                ly.Ad = cnp.PyArray_DATA(self._buf(self.ws, ly.n_out * m))
            maxn = max(maxn, ly.n_out)
            nrows += ly.n_out
        self.p.D0 = cnp.PyArray_DATA(self._buf(self.ws, maxn * m))
        self.p.D1 = cnp.PyArray_DATA(self._buf(self.ws, maxn * m))
        self.p.smbuf = cnp.PyArray_DATA(self._buf(self.ws, 2 * m))
        a = np.zeros(m, dtype=np.float64)
        self.ws.append(a)
        self.p.colloss = <double *>cnp.PyArray_DATA(a)
        a = np.zeros(nrows, dtype=np.float64)
        self.ws.append(a)
        self.p.l2rows = <double *>cnp.PyArray_DATA(a)
        self.m_cap = m
        self.have_forward = False

    cdef _ensure_infer(self, Py_ssize_t m):
        cdef int l
        cdef LayerPlan *ly
        cdef Py_ssize_t maxn = 0
        cdef void *bufs[2]
        if m <= self.infer_cap:
            return
        for l in range(self.p.L):
            maxn = max(maxn, self.infer_layers[l].n_out)
        self.infer_ws = []
        bufs[0] = cnp.PyArray_DATA(self._buf(self.infer_ws, maxn * m))
        bufs[1] = cnp.PyArray_DATA(self._buf(self.infer_ws, maxn * m))
        for l in range(self.p.L):
            ly = &self.infer_layers[l]
            ly.Z = bufs[l % 2]
            ly.A = ly.Z
            ly.Ad = ly.Z
        self.infer_cap = m
        if self.m_cap == 0:
            # the output phase's softmax scratch lives in the training set
            pass

    def workspace_bytes(self):
        """Bytes held in workspaces (training + inference)."""
        return sum(a.nbytes for a in self.ws) + sum(a.nbytes for a in self.infer_ws)

    def set_optimizer_state(self, s1, s2):
        """Flat optimizer-state buffers (same size/dtype as the parameters) or None."""
        self.s1 = s1
        self.s2 = s2
        self.p.s1 = cnp.PyArray_DATA(s1) if s1 is not None else NULL
        self.p.s2 = cnp.PyArray_DATA(s2) if s2 is not None else NULL

    # ------------------------------------------------------------- inputs

    cdef _set_x(self, cnp.ndarray X):
        """Point the plan at X (n_x, m): any layout with one unit stride."""
        cdef Py_ssize_t isz = X.itemsize, n_x = X.shape[0], m = X.shape[1]
        cdef Py_ssize_t s0 = X.strides[0] // isz, s1 = X.strides[1] // isz
        self.p.X = cnp.PyArray_DATA(X)
        if (s1 == 1 or m == 1) and (s0 >= m or n_x == 1):
            self.p.x_trans = 0
            self.p.x_ld = s0 if (n_x > 1 and s0 >= m) else m
        else:
            self.p.x_trans = 1
            self.p.x_ld = s1 if (m > 1 and s1 >= n_x) else n_x
        self.p.m = m
        self.X_ref = X

    cdef _set_y(self, cnp.ndarray Y, int yt, bint labels):
        cdef Py_ssize_t isz = Y.itemsize
        self.p.Y = cnp.PyArray_DATA(Y)
        self.p.yt = yt
        self.p.labels = labels
        if Y.ndim == 1:
            self.p.yr = 0
            self.p.yc = Y.strides[0] // isz
        else:
            self.p.yr = Y.strides[0] // isz
            self.p.yc = Y.strides[1] // isz
            if labels:
                self.p.yc = Y.strides[1] // isz
        self.Y_ref = Y

    cdef int _team_size(self, int n_threads, Py_ssize_t m):
        cdef Py_ssize_t work = self.fwd_flops * m
        cdef Py_ssize_t cap = work // self.min_flops_per_thread
        if cap < 1:
            cap = 1
        return <int>(n_threads if n_threads < cap else cap)

    cdef Py_ssize_t _call(self, int mode, int n_threads, Py_ssize_t n_steps=1,
                          int64_t t0=0) except -1:
        """Run the phases in ``mode`` n_steps times in one nogil section.

        Step s after the first drops M_LOSS and advances the dropout step
        (p.step + s); with t0 > 0 and Adam, each step's bias corrections are
        1 / (1 - beta ** (t0 + s)), as the optimizer's ``_kernel_args``
        computes them. Stops early on a bad label or a non-finite loss;
        returns the number of steps that completed.
        """
        cdef int team, blas_nt, prev, m_s = mode
        cdef Py_ssize_t s, done = 0
        cdef uint64_t step0 = self.p.step
        cdef LayerPlan *lys = self.infer_layers if not (mode & M_TRAIN) else self.train_layers
        if self.strategy == "omp":
            team = self._team_size(n_threads, self.p.m)
            blas_nt = 1
        else:
            team = 1
            blas_nt = n_threads
        self.p.bad_label = 0
        self.p.nonfinite = 0
        self.p.loss_sum = 0.0
        self.p.l2_sum = 0.0
        with nogil:
            prev = _blas_begin(blas_nt)
            for s in range(n_steps):
                self.p.step = step0 + s
                if t0 > 0 and self.p.opt == FBP_OPT_ADAM:
                    self.p.c1 = 1.0 / (1.0 - pow(self.p.b1, <double>(t0 + s)))
                    self.p.c2 = 1.0 / (1.0 - pow(self.p.b2, <double>(t0 + s)))
                if self.is_double:
                    _run(<double *>self.p.params, &self.p, lys, m_s, team)
                else:
                    _run(<float *>self.p.params, &self.p, lys, m_s, team)
                if self.p.bad_label or self.p.nonfinite:
                    break
                done += 1
                m_s = mode & ~M_LOSS
            _blas_end(prev)
        return done

    cdef _set_batch(self, cnp.ndarray X, cnp.ndarray Y, int yt, bint labels, double lambd,
                    double gscale, double l2scale, bint dropout, uint64_t seed, uint64_t step,
                    Py_ssize_t mask_ld, Py_ssize_t mask_off):
        """Point the plan at a training batch (workspaces sized for it)."""
        self._ensure(X.shape[1])
        self._set_x(X)
        self._set_y(Y, yt, labels)
        self.p.lambd = lambd
        self.p.gscale = gscale
        self.p.l2scale = l2scale
        self.p.dropout = dropout
        self.p.seed = seed
        self.p.step = step
        self.p.mask_ld = mask_ld
        self.p.mask_off = mask_off

    cdef _set_opt(self, int opt, double lr, double b1, double b2, double eps, double c1,
                  double c2):
        self.p.opt = opt
        self.p.lr = lr
        self.p.b1 = b1
        self.p.b2 = b2
        self.p.eps = eps
        self.p.c1 = c1
        self.p.c2 = c2

    # -------------------------------------------------------------- calls

    def forward_train(self, cnp.ndarray X, bint dropout, uint64_t seed, uint64_t step,
                      int n_threads):
        """Forward that keeps every layer's activations for backward."""
        self._ensure(X.shape[1])
        self._set_x(X)
        self.p.dropout = dropout
        self.p.seed = seed
        self.p.step = step
        self.p.mask_ld = X.shape[1]
        self.p.mask_off = 0
        self._call(M_FORWARD | M_TRAIN, n_threads)
        self.have_forward = True

    def output(self):
        """View of the last training-mode forward's output A[L] (n_L, m)."""
        cdef LayerPlan *ly = &self.train_layers[self.p.L - 1]
        cdef Py_ssize_t n = ly.n_out, m = self.p.m
        for a in self.ws:
            if cnp.PyArray_DATA(a) == ly.A:
                return a[:n * m].reshape(n, m)
        raise RuntimeError("fastbp internal error: output buffer not found")

    def backward(self, cnp.ndarray Y, int yt, bint labels, double lambd, int n_threads):
        """dZ[L] = A[L] - Y and the backward pass into the gradient buffer.

        Returns (loss_sum, l2_sum, bad_label).
        """
        self._set_y(Y, yt, labels)
        self.p.lambd = lambd
        self.p.gscale = 1.0 / self.p.m
        self.p.l2scale = lambd / self.p.m
        self._call(M_TRAIN | M_LOSS | M_DELTA | M_BACKWARD, n_threads)
        return self.p.loss_sum, self.p.l2_sum, self.p.bad_label

    def train_steps(self, cnp.ndarray X, cnp.ndarray Y, int yt, bint labels, double lambd,
                    int opt, double lr, double b1, double b2, double eps, int64_t t0,
                    Py_ssize_t n_steps, bint first_loss, bint check_finite, bint dropout,
                    uint64_t seed, uint64_t step0, int n_threads):
        """``n_steps`` full training steps (forward, loss, backward, update) on
        the same batch in one nogil call.

        Step s (from 0) is optimizer update ``t0 + s`` and dropout step
        ``step0 + s``. Only step 0 computes the loss, and only when
        ``first_loss``. ``check_finite``: a non-finite step-0 loss stops
        before its update (status 2); otherwise non-finite values are
        carried on, as plain NumPy gradient descent does.

        Returns (loss_sum, l2_sum, status, steps_done): status 0 ok, 1 label
        out of range, 2 non-finite loss (no update made for that step).
        """
        cdef int mode = M_FORWARD | M_TRAIN | M_DELTA | M_BACKWARD | M_UPDATE
        cdef Py_ssize_t done
        if first_loss:
            mode |= M_LOSS
        if not check_finite:
            mode |= M_NOCHECK
        self._set_batch(X, Y, yt, labels, lambd, 1.0 / X.shape[1], lambd / X.shape[1],
                        dropout, seed, step0, X.shape[1], 0)
        self._set_opt(opt, lr, b1, b2, eps, 1.0, 1.0)
        done = self._call(mode, n_threads, n_steps, t0)
        self.have_forward = True
        status = 1 if self.p.bad_label else (2 if self.p.nonfinite else 0)
        return self.p.loss_sum, self.p.l2_sum, status, done

    def grad_step(self, cnp.ndarray X, cnp.ndarray Y, int yt, bint labels, double lambd,
                  double gscale, double l2scale, Py_ssize_t mask_ld, Py_ssize_t mask_off,
                  bint dropout, uint64_t seed, uint64_t step, int n_threads):
        """Forward + loss + backward, no update: one rank's share of a data-parallel step.

        ``dW = gscale dZ A^T + l2scale W`` and ``db = gscale sum_j dZ``; the
        dropout mask of element (i, j) hashes ``i mask_ld + mask_off + j``.
        The caller sums the gradient buffers of all ranks, then calls
        :meth:`update`. Returns (loss_sum, l2_sum, status) as
        :meth:`train_steps` does, except that a non-finite loss is not checked here (status 0
        or 1): the caller decides on the reduced loss.
        """
        self._set_batch(X, Y, yt, labels, lambd, gscale, l2scale, dropout, seed, step,
                        mask_ld, mask_off)
        self._call(M_FORWARD | M_TRAIN | M_LOSS | M_DELTA | M_BACKWARD, n_threads)
        self.have_forward = True
        return self.p.loss_sum, self.p.l2_sum, 1 if self.p.bad_label else 0

    def update(self, int opt, double lr, double b1, double b2, double eps, double c1,
               double c2, int n_threads):
        """Apply one optimizer update from the gradient buffer (no forward/backward)."""
        self._set_opt(opt, lr, b1, b2, eps, c1, c2)
        self._call(M_UPDATE, n_threads)

    def set_strategy(self, strategy):
        """Benchmark hook: "omp" (row blocks per OpenMP thread, default) or "blas"."""
        if strategy not in ("omp", "blas"):
            raise ValueError(f"strategy must be 'omp' or 'blas', got {strategy!r}")
        self.strategy = strategy

    def predict(self, cnp.ndarray X, cnp.ndarray out, int n_threads, Py_ssize_t chunk=2048):
        """Inference forward of X (n_x, M) into out (n_L, M), C-contiguous.

        Runs in column chunks through two ping-pong buffers, so the training
        workspace (and a pending backward) is left alone.
        """
        cdef Py_ssize_t M = X.shape[1], c0, c1, w, i, n_out = out.shape[0]
        cdef Py_ssize_t isz = out.itemsize
        cdef LayerPlan *last = &self.infer_layers[self.p.L - 1]
        cdef char *src
        cdef char *dst = <char *>cnp.PyArray_DATA(out)
        cdef const char *x0
        cdef NetPlan saved = self.p
        saved_X = self.X_ref
        if M == 0:
            return out
        chunk = min(chunk, M)
        self._ensure_infer(chunk)
        # softmax scratch: borrow a private buffer of 2 chunk values
        sm = np.empty(2 * chunk, dtype=self.params.dtype)
        self._set_x(X)
        x0 = <const char *>self.p.X
        self.p.smbuf = cnp.PyArray_DATA(sm)
        self.p.dropout = 0
        try:
            c0 = 0
            while c0 < M:
                c1 = min(M, c0 + chunk)
                w = c1 - c0
                self.p.m = w
                if self.p.x_trans:
                    self.p.X = x0 + c0 * self.p.x_ld * isz
                else:
                    self.p.X = x0 + c0 * isz
                self._call(M_FORWARD, n_threads)
                src = <char *>last.A
                for i in range(n_out):
                    memcpy(dst + (i * M + c0) * isz, src + i * w * isz, w * isz)
                c0 = c1
        finally:
            self.X_ref = saved_X
            self.p = saved
        return out


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
    cdef int tid = fbp_net_thread_id() if split else 0
    cdef int nt = fbp_net_team_size() if split else 1
    cdef int l, n_in, n_out
    cdef Py_ssize_t m = f.m, r0, r1
    for l in range(f.L):
        n_in = f.dims[l]
        n_out = f.dims[l + 1]
        _split(n_out, nt, tid, ROW_GRAIN, &r0, &r1)
        if r1 > r0:
            _gemm_blas(NoTrans, NoTrans, <int>(r1 - r0), <int>m, n_in, <floating>1.0,
                  <floating *>f.W[l] + r0 * n_in, n_in, <floating *>f.A[l], <int>m,
                  <floating>0.0, <floating *>f.A[l + 1] + r0 * m, <int>m)
        fbp_net_barrier()
    for l in range(f.L - 1, -1, -1):
        n_in = f.dims[l]
        n_out = f.dims[l + 1]
        _split(n_out, nt, tid, ROW_GRAIN, &r0, &r1)
        if r1 > r0:
            _gemm_blas(NoTrans, Trans, <int>(r1 - r0), n_in, <int>m, <floating>1.0,
                  <floating *>f.D[l] + r0 * m, <int>m, <floating *>f.A[l], <int>m,
                  <floating>0.0, <floating *>f.dW[l] + r0 * n_in, n_in)
        if l > 0:
            _split(n_in, nt, tid, ROW_GRAIN, &r0, &r1)
            if r1 > r0:
                _gemm_blas(Trans, NoTrans, <int>(r1 - r0), <int>m, n_out, <floating>1.0,
                      <floating *>f.W[l] + r0, n_in, <floating *>f.D[l], <int>m,
                      <floating>0.0, <floating *>f.E[l] + r0 * m, <int>m)
        fbp_net_barrier()


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
