# The phases of a whole network's training step (fastbp._network.NetKernel
# runs them): the plan structs and one `cdef inline` function per phase, all
# executed by every thread of one OpenMP team. See _network.pyx's docstring
# for the threading and determinism rules they follow.
from cython cimport floating
from cython.parallel cimport parallel
from libc.float cimport DBL_EPSILON, DBL_MIN, FLT_EPSILON, FLT_MIN
from libc.math cimport fabs, log, log1p, isfinite, pow, sqrt
from libc.stdint cimport uint64_t, uint32_t, uint16_t, uint8_t, int64_t, int32_t
from libc.string cimport memcpy

from fastbp._blas cimport _gemm, _nn_copy_pays, BLAS_Trans, NoTrans, Trans
from fastbp._kernels cimport *  # the csrc kernels (fbp_*)
from fastbp._openmp_helpers cimport fbp_omp_thread_num, team_threads
from fastbp._registry cimport *  # the codes (FBP_*)
from fastbp._rows cimport (Mat, _rowmajor, _fwd_rows, _bwd_rows, _grad_rows, _l2_rows,
                           _dprev_rows, _rowsum, _mm)

# mode bits of one kernel call
cdef enum:
    M_FORWARD = 1
    M_TRAIN = 2      # keep per-layer activations, apply dropout
    M_LOSS = 4
    M_DELTA = 8
    M_BACKWARD = 16
    M_UPDATE = 32
    M_NOCHECK = 64   # update even when the loss is not finite (course semantics)
    M_GATHER = 128   # first copy the batch's examples into the epoch's workspaces

# Rows per GEMM block are multiples of this (OpenBLAS's micro-kernel tiles)
# where blocks stay balanced (_row_grain);
# columns of the output phase and elements of the update loop likewise.
cdef enum:
    ROW_GRAIN = 8
    COL_GRAIN = 16
    ELEM_GRAIN = 256

# Dropout hash: SplitMix64's gamma and finalizer constants.
cdef extern from *:
    """
    #define FBP_GOLDEN 0x9E3779B97F4A7C15ULL
    #define FBP_MIX1 0xBF58476D1CE4E5B9ULL
    #define FBP_MIX2 0x94D049BB133111EBULL
    """
    const uint64_t GOLDEN "FBP_GOLDEN"
    const uint64_t MIX1 "FBP_MIX1"
    const uint64_t MIX2 "FBP_MIX2"

# A batch's cost and its share of the epoch's loss, with the roundings of
# the Python code around the per-batch steps (Network.train_batch: ``loss =
# loss_sum / n + lambd / (2 n) * l2_sum``, n = m or the weights' sum;
# fastbp._fit: ``total += loss * m``): the volatile products keep a compiler
# from contracting them into FMAs, which would change the last bit.
cdef extern from *:
    """
    static inline double fbp_l2_term(double l2_sum, double lambd, double n)
    {
        volatile double t;
        if (lambd == 0.0)
            return 0.0;
        t = lambd / (2.0 * n) * l2_sum;
        return t;
    }
    static inline double fbp_add_batch_loss(double total, double loss, Py_ssize_t m)
    {
        volatile double t = loss * (double)m;
        return total + t;
    }
    """
    double fbp_l2_term(double l2_sum, double lambd, double n) noexcept nogil
    double fbp_add_batch_loss(double total, double loss, Py_ssize_t m) noexcept nogil


cdef struct LayerPlan:
    int n_in
    int n_out
    int act            # activation code (hidden) or the output's non-linearity
    double alpha
    double keep_prob   # 1.0: no dropout on this layer's output
    uint64_t keep_thr  # keep an element when its 24-bit hash < keep_thr
    Py_ssize_t w_off   # offsets of W (n_out, n_in) and b (n_out,) in the flat buffers
    Py_ssize_t b_off
    void *Z            # (n_out, m) row-major, ld = m; == A unless g' needs Z, and
                       # apart from A in the output layer of every loss but mse
                       # (the losses are computed from the logits Z[L])
    void *A            # g(Z), pre-dropout (what g' reads)
    void *Ad           # dropout(A): the next layer's input; == A without dropout


# The per-example arrays of an epoch (X, Y, and any array with one entry or
# row per example, such as per-example weights): the epoch kernel gathers the
# examples of each mini-batch into one contiguous workspace per array.
cdef enum:
    EX_X = 0         # the input, n_x elements per example
    EX_Y = 1         # targets (n_L per example) or class labels (1)
    EX_W = 2         # per-example weights (float64, 1; optional): NetPlan.sw
    EX_MAX = 4       # room for more per-example arrays


cdef struct ExArray:
    const char *src        # element f of example j at src + j ex_stride + f f_stride
    Py_ssize_t ex_stride   # (bytes; either may be negative)
    Py_ssize_t f_stride
    Py_ssize_t n           # elements per example (1 for a vector)
    Py_ssize_t itemsize
    char *dst              # workspace: example k of the batch at dst + k n itemsize
    Py_ssize_t copies      # X only: > 0 when each thread t of a team gathers the
                           # whole batch into its own copy at dst + t copies (bytes)


cdef struct EpochPlan:
    const Py_ssize_t *order  # the epoch's example indices, or NULL: the examples in order
    Py_ssize_t n_ex          # examples in the epoch
    Py_ssize_t batch         # mini-batch size (the last batch may be smaller)
    double data_div          # a batch's cost in the total: loss_sum / n / data_div + L2 term
    int n_arrays
    ExArray arr[EX_MAX]


cdef struct NetPlan:
    int L
    int loss           # FBP_BCE, FBP_CE, FBP_MSE or FBP_POISSON
    int softmax        # output A[L] = softmax(Z[L]) (column-wise, after the forward)
    int expout         # output A[L] = exp(Z[L]) (the Poisson loss's canonical link)
    void *params
    void *grads
    Py_ssize_t n_params
    Py_ssize_t m
    # input X (n_x, m): row-major with leading dimension x_ld (x_trans = 0),
    # or X^T row-major (x_trans = 1)
    const void *X
    Py_ssize_t x_ld
    int x_trans
    # bytes between the threads' own copies of a gathered X (ExArray.copies):
    # thread t reads X at X + t x_copy; 0: one X for every thread
    Py_ssize_t x_copy
    # the first layer's forward on a transposed copy of an X stored
    # transposed (_xt_on): xt = 1 when this step runs it (_run sets it);
    # thread t's copy (n_x, m) at xtbuf + t xt_copy (bytes), xtbuf NULL when
    # NetKernel allocated none
    int xt
    void *xtbuf
    Py_ssize_t xt_copy
    # or, when xs_u is not NULL, a sparse X (csrc/fastbp_sparse.h; X is then
    # not read), feature-major: the xs_nu features its m examples use,
    # xs_u[u], and feature u's entries at [xs_fptr[u], xs_fptr[u + 1]) of
    # xs_fj (their examples) and xs_fv (their values); NetKernel._set_x_sparse
    # makes them. xs_scratch: m G values per thread (thread t's at
    # t m G; G = FBP_SPG_f / FBP_SPG_d). xs_nnz: the entries (the work
    # estimate's).
    const Py_ssize_t *xs_u
    Py_ssize_t xs_nu
    const Py_ssize_t *xs_fptr
    const int32_t *xs_fj
    const void *xs_fv
    void *xs_scratch
    int xs_which       # NetKernel's buffers in use: 0 training, 1 inference
    Py_ssize_t xs_nnz
    # targets: dense (rows, m) with element strides, or class labels (m,)
    const void *Y
    int yt
    Py_ssize_t yr
    Py_ssize_t yc
    int labels
    int check_targets  # scan the targets' domain while computing the loss
    # > 0: the loss's probabilities clipped to [loss_clip, 1 - loss_clip]
    # before their logs, scikit-learn's MLP loss values (fastbp_loss.h's clip;
    # fastbp.sklearn sets it); 0: the exact losses from the logits
    double loss_clip
    # workspaces
    void *D0
    void *D1
    # the output layer on its inner dimension (_split_k): sk = the step's nb
    # when it is, else 0 (_run sets it); skbuf: the blocks' partial
    # products, n_L x m each; skl2: block b's ||W[L][i, K_b]||^2 at b n_L + i
    int sk
    void *skbuf
    double *skl2
    # ... and, in an epoch call, block b's columns K_b of W[L], of its
    # gradient and of the optimizer's state in packed copies (_sk_pack):
    # n_L x |K_b| contiguous each, array a (0 W, 1 G, 2 S1, 3 S2) at
    # skpk + (4 b + a) skpk_stride elements. skpk NULL: none allocated;
    # skpk_call: this call may use them (NetKernel._call sets it); skpk_on:
    # this step does (_run sets it); skpk_nb: the nb of the step that packed
    # them, 0 while the flat buffers hold the values (they do whenever a
    # call has returned: _sk_unpack)
    void *skpk
    Py_ssize_t skpk_stride
    int skpk_call
    int skpk_on
    int skpk_nb
    Py_ssize_t skpk_steps  # steps run on them (a count for tests)
    void *smbuf        # 2 m scratch values for softmax
    double *colloss    # m per-column loss sums
    double *l2rows     # one ||W[l][i, :]||^2 per weight row, all layers
    # per-example weights (scikit-learn's sample_weight): NULL, or sw[j] for
    # column j of the batch, contiguous (m,). The output phase multiplies
    # column j of the loss and of dZ[L] by sw[j]; the caller sets gscale =
    # 1/sum(sw) and l2scale = lambd/sum(sw) and divides loss_sum by sum(sw).
    # double whatever the network's dtype: the loss partials and scales are
    # double, weights are often counts or ratios beyond float's 24 bits, and
    # one type lets a caller (e.g. a compiled epoch loop gathering batches)
    # keep one weight buffer for both dtypes; the multiply of dZ[L] rounds
    # sw[j] to the network's dtype.
    const double *sw
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
    double c1          # ADAM: 1 / (1 - beta1^t); ADAM_STEP: sqrt(1 - beta2^t)
    double c2          # ADAM: 1 / (1 - beta2^t); ADAM_STEP: 1 - beta1^t
    void *s1
    void *s2
    # the epoch being run (NULL outside NetKernel.train_epoch) and the
    # position in it of the current batch's first example
    const EpochPlan *ep
    Py_ssize_t ep_j0
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


cdef inline Py_ssize_t _row_grain(Py_ssize_t n, int nb) noexcept nogil:
    """The grain of a split of n rows into nb blocks: ROW_GRAIN (whole
    micro-kernel tiles) when each block has at least 8 grains, so blocks
    differ by at most an eighth; single rows below that, where whole tiles
    would unbalance the blocks (digits' 10 output rows: 8 + 2 rows with
    whole tiles, 5 + 5 without)."""
    return ROW_GRAIN if n >= 8 * ROW_GRAIN * nb else 1


cdef inline bint _mine(int blk, int tid, int nt, Py_ssize_t n, int nb, Py_ssize_t grain,
                       Py_ssize_t *lo, Py_ssize_t *hi) noexcept nogil:
    """Whether block blk of n items cut into nb (_split) is thread tid's in a
    team of nt (it takes blocks tid, tid + nt, ...) and not empty; its range
    is then [lo, hi)."""
    if blk % nt != tid:
        return False
    _split(n, nb, blk, grain, lo, hi)
    return hi[0] > lo[0]


cdef inline bint _split_k(const NetPlan *p, const LayerPlan *lys, int nb) noexcept nogil:
    """Whether a step of nb blocks cuts the output layer's products along its
    inner dimension (the previous layer's rows) instead of its own rows.

    Row blocks of every layer hand each layer's whole input to every thread:
    the output layer's threads read A[L-1], which the other threads' row
    blocks wrote, and a line that moves between cores costs about 8 ns here
    (a 16 KiB handoff 4.4 us more than the same reads on one core; Xeon,
    bench/RESULTS.md, twenty-eighth session), so a digits step on two
    threads took as long as on one. Cut along K = n_(L-1) in the previous
    layer's row blocks, thread t keeps its rows of A[L-1] and of dZ[L-1]:
    it computes a partial W[L][:, K_t] A[L-1][K_t, :] (n_L x m), the blocks'
    partials are summed column block by column block in block order (one
    barrier, n_L m values moved instead of n_(L-1) m), and its backward
    writes dW[L][:, K_t], dZ[L-1][K_t] and updates W[L][:, K_t] with no
    barrier at all. So for outputs narrower than their input and without
    dropout on the output. The bits depend on nb (the partial sums), never
    on the team."""
    cdef const LayerPlan *last
    if nb < 2 or p.L < 2:
        return False
    last = &lys[p.L - 1]
    return last.n_out < last.n_in and last.keep_prob >= 1.0


cdef inline floating *_sk_part(floating *P, NetPlan *p, LayerPlan *last,
                               int blk) noexcept nogil:
    """Where block blk's partial output product goes (see _split_k). Not
    Z[L] itself, even for block 0: an inference forward's Z[L] is the
    buffer of Z[L-2], the input other threads may still be reading."""
    return <floating *>p.skbuf + blk * last.n_out * p.m


cdef inline floating *_sk_packed(floating *P, NetPlan *p, int blk, int a) noexcept nogil:
    """Block blk's packed array a (0 W, 1 G, 2 S1, 3 S2) of the split output
    layer (NetPlan.skpk)."""
    return <floating *>p.skpk + (4 * blk + a) * p.skpk_stride


cdef inline void _sk_copy(floating *flat, Py_ssize_t ld, floating *packed, Py_ssize_t rows,
                          Py_ssize_t w, bint out) noexcept nogil:
    """Between rows x w of a flat array (row stride ld) and its packed copy
    (row stride w): into the copy, or with ``out`` back (bit copies)."""
    cdef Py_ssize_t i
    for i in range(rows):
        if out:
            memcpy(flat + i * ld, packed + i * w, w * sizeof(floating))
        else:
            memcpy(packed + i * w, flat + i * ld, w * sizeof(floating))


cdef inline void _sk_block(floating *P, NetPlan *p, LayerPlan *last, int blk, int nb,
                           bint out) noexcept nogil:
    """Block blk (of nb) of W[L], its gradient and the optimizer's state:
    into its packed copies, or with ``out`` back into the flat buffers."""
    cdef Py_ssize_t n = last.n_out, n_in = last.n_in, k0, k1
    cdef floating *flat[4]
    cdef int a
    _split(n_in, nb, blk, _row_grain(n_in, nb), &k0, &k1)
    if k1 <= k0:
        return
    flat[0] = P
    flat[1] = <floating *>p.grads
    flat[2] = <floating *>p.s1
    flat[3] = <floating *>p.s2
    for a in range(4):
        if flat[a] != NULL:
            _sk_copy(flat[a] + last.w_off + k0, n_in, _sk_packed(P, p, blk, a), n, k1 - k0,
                     out)


cdef inline void _sk_pack(floating *P, NetPlan *p, LayerPlan *last, int tid, int nt,
                          int nb) noexcept nogil:
    """Copy this thread's blocks K_b of W[L], of its gradient and of the
    optimizer's state into their packed copies (at the start of the first
    packed step; the gradient too, so that a step that stops before its
    backward leaves the flat gradient as it was when the copies go back).

    Why: the split output layer's threads own column blocks of W[L]'s rows
    (n_L rows of n_(L-1) values: digits' 10 rows of 128), so in the flat
    buffers each thread's values alternate with the other's every half row.
    A core's prefetchers then fetch the other core's lines along with its
    own, and each thread's writes (the update of W[L], its gradient, the
    moments) take those lines back: the Adam update of a thread's 640
    digits weights took 2.1 us on a team against 0.84 us on one thread,
    and 1.6 against 0.9 us for two threads updating alternate 512-byte
    rows against contiguous halves (a /tmp C program; Xeon, bench/RESULTS.md,
    twenty-ninth session). Packed, each block's values are contiguous and
    touched by one core for the whole call."""
    cdef int blk
    for blk in range(nb):
        if blk % nt == tid:     # this thread's blocks (_mine)
            _sk_block(P, p, last, blk, nb, False)


cdef inline void _sk_unpack(floating *P, NetPlan *p, LayerPlan *last) noexcept nogil:
    """Copy every packed block (W[L], its gradient, the optimizer's state)
    back into the flat buffers; on the calling thread, between steps."""
    cdef int blk
    for blk in range(p.skpk_nb):
        _sk_block(P, p, last, blk, p.skpk_nb, True)
    p.skpk_nb = 0


cdef inline const void *_x_of(const NetPlan *p, int tid) noexcept nogil:
    """Thread tid's X: its own gathered copy, or the one X."""
    return <const char *>p.X + tid * p.x_copy


cdef inline Mat _x_mat(NetPlan *p, int tid) noexcept nogil:
    """The input X (n_x, m) thread tid reads: row-major with ld x_ld, or
    stored transposed."""
    cdef Mat M
    M.data = <void *>_x_of(p, tid)
    if p.x_trans:
        M.rs = 1
        M.cs = p.x_ld
    else:
        M.rs = p.x_ld
        M.cs = 1
    return M


cdef inline bint _xt_on(const NetPlan *p, const LayerPlan *lys, int nb,
                         Py_ssize_t isz) noexcept nogil:
    """Whether a step of nb blocks runs its first layer's forward W X on a
    copy of X transposed into thread-local rows: X stored transposed
    (examples as rows: x_trans, as every gathered batch is), dense, small
    enough for the copies NetKernel allocated, and the first row block's
    W X^T a product that OpenBLAS runs slower than the same product NN
    (_blas.pyx's _nt_slow: its AVX-512 cores, 1.4-2.9x at digits' sizes).
    Each thread transposes all of X (every row block reads all of it) from
    the X it reads anyway, its own gathered copy in an epoch. The rule
    depends on the shape, nb and the BLAS core, never on the team; the
    backward's dW[1] = dZ[1] X^T keeps reading X itself (as rows: NN)."""
    cdef Py_ssize_t n_x = lys[0].n_in, r0, r1
    if not p.x_trans or p.xs_u != NULL or p.xtbuf == NULL:
        return False
    if n_x * p.m * isz > p.xt_copy:
        return False
    _split(lys[0].n_out, nb, 0, _row_grain(lys[0].n_out, nb), &r0, &r1)
    return _nn_copy_pays(r1 - r0, p.m, n_x, n_x, p.x_ld, p.m, isz == 4)


cdef inline void _set_x_layout(NetPlan *p, const void *X, Py_ssize_t n_x, Py_ssize_t m,
                               Py_ssize_t s0, Py_ssize_t s1) noexcept nogil:
    """Point the plan at X (n_x, m) with element strides (s0, s1), one of them unit.

    The one rule for every caller (a checked array, a column range of one, a
    gathered batch), so equal batches get equal GEMM flags and equal bits.
    """
    p.X = X
    p.x_copy = 0
    p.xs_u = NULL
    if (s1 == 1 or m == 1) and (s0 >= m or n_x == 1):
        p.x_trans = 0
        p.x_ld = s0 if (n_x > 1 and s0 >= m) else m
    else:
        p.x_trans = 1
        p.x_ld = s1 if (m > 1 and s1 >= n_x) else n_x
    p.m = m


cdef inline void _sparse_fwd(const floating *W, Py_ssize_t n_in, Py_ssize_t r0,
                             Py_ssize_t r1, const NetPlan *p, floating *Z,
                             int tid) noexcept nogil:
    """Rows [r0, r1) of Z = W X for the plan's sparse X (csrc/fastbp_sparse.h).
    W: row 0 of the layer's weights; Z: row r0 of the output (ld m)."""
    if floating is float:
        fbp_sp_fwd_f(W + r0 * n_in, n_in, r1 - r0, p.xs_u, p.xs_nu, p.xs_fptr, p.xs_fj,
                     <const float *>p.xs_fv, p.m,
                     <float *>p.xs_scratch + tid * p.m * FBP_SPG_f, Z, p.m)
    else:
        fbp_sp_fwd_d(W + r0 * n_in, n_in, r1 - r0, p.xs_u, p.xs_nu, p.xs_fptr, p.xs_fj,
                     <const double *>p.xs_fv, p.m,
                     <double *>p.xs_scratch + tid * p.m * FBP_SPG_d, Z, p.m)


cdef inline void _sparse_grad(floating *dW, Py_ssize_t n_in, Py_ssize_t r0, Py_ssize_t r1,
                              const floating *D, const NetPlan *p, floating s,
                              int tid) noexcept nogil:
    """Rows [r0, r1) of dW = s D X^T for the plan's sparse X (csrc/fastbp_sparse.h).
    dW: row 0 of the layer's gradient; D: row 0 of its delta (ld m)."""
    if floating is float:
        fbp_sp_grad_f(dW + r0 * n_in, n_in, n_in, r1 - r0, p.xs_u, p.xs_nu, p.xs_fptr,
                      p.xs_fj, <const float *>p.xs_fv, p.m, D + r0 * p.m, p.m, s,
                      <float *>p.xs_scratch + tid * p.m * FBP_SPG_f)
    else:
        fbp_sp_grad_d(dW + r0 * n_in, n_in, n_in, r1 - r0, p.xs_u, p.xs_nu, p.xs_fptr,
                      p.xs_fj, <const double *>p.xs_fv, p.m, D + r0 * p.m, p.m, s,
                      <double *>p.xs_scratch + tid * p.m * FBP_SPG_d)


cdef inline void _opt_step(NetPlan *p, int64_t t) noexcept nogil:
    """The optimizer arguments that change with the update count t (from 1).

    Adam's bias corrections: ``1 / (1 - beta ** t)`` (ADAM), ``sqrt(1 -
    beta2 ** t)`` and ``1 - beta1 ** t`` (ADAM_STEP); the same operations as
    ``fastbp.optim.Adam.kernel_args`` (CPython's float ``**`` calls the C
    library's pow too, so the doubles are equal).
    """
    if p.opt == FBP_OPT_ADAM:
        p.c1 = 1.0 / (1.0 - pow(p.b1, <double>t))
        p.c2 = 1.0 / (1.0 - pow(p.b2, <double>t))
    elif p.opt == FBP_OPT_ADAM_STEP:
        p.c1 = sqrt(1.0 - pow(p.b2, <double>t))
        p.c2 = 1.0 - pow(p.b1, <double>t)


cdef inline double _sw_sum(const char *src, Py_ssize_t stride, const Py_ssize_t *order,
                           Py_ssize_t b) noexcept nogil:
    """Sum of a batch's b weights (doubles ``stride`` bytes apart, picked by
    ``order`` or in a row), added in batch order: the n a weighted step
    divides by, the same whether the batch was gathered or not."""
    cdef double s = 0.0
    cdef Py_ssize_t k
    if order != NULL:
        for k in range(b):
            s += (<const double *>(src + order[k] * stride))[0]
    else:
        for k in range(b):
            s += (<const double *>(src + k * stride))[0]
    return s


cdef inline double _bind_batch(NetPlan *p, const EpochPlan *ep, Py_ssize_t j0) noexcept nogil:
    """Point the plan at the epoch's mini-batch whose first example is at
    position j0; returns the batch's n (its width, or its weights' sum).

    With an order, the batch is the gather workspaces (filled by the
    M_GATHER phase): examples as rows, as the per-batch loop of fastbp._fit
    gathers them. Without, it is a column range of the data itself. The
    scaling and dropout indexing are those of a one-process step on the
    batch (Network.train_batch): gradients over n, L2 over n. The caller
    skips a batch whose weights sum to zero.
    """
    cdef Py_ssize_t b = ep.n_ex - j0
    cdef const ExArray *x = &ep.arr[EX_X]
    cdef const ExArray *y = &ep.arr[EX_Y]
    cdef const ExArray *w = &ep.arr[EX_W]
    cdef double n
    if b > ep.batch:
        b = ep.batch
    p.ep = ep
    p.ep_j0 = j0
    if ep.order != NULL:
        _set_x_layout(p, x.dst, x.n, b, 1, x.n)
        p.x_copy = x.copies
        p.Y = y.dst
        p.yr = 1 if y.f_stride != 0 else 0
        p.yc = y.n
    else:
        _set_x_layout(p, x.src + j0 * x.ex_stride, x.n, b, x.f_stride // x.itemsize,
                      x.ex_stride // x.itemsize)
        p.Y = y.src + j0 * y.ex_stride
        p.yr = y.f_stride // y.itemsize
        p.yc = y.ex_stride // y.itemsize
    n = <double>b
    p.sw = NULL
    if ep.n_arrays > EX_W:      # weights: float64, contiguous (the caller checked)
        if ep.order != NULL:
            p.sw = <const double *>w.dst
            n = _sw_sum(w.src, w.ex_stride, ep.order + j0, b)
        else:
            p.sw = <const double *>(w.src + j0 * w.ex_stride)
            n = _sw_sum(w.src + j0 * w.ex_stride, w.ex_stride, NULL, b)
    p.gscale = 1.0 / n
    p.l2scale = p.lambd / n
    p.mask_ld = b
    p.mask_off = 0
    return n


cdef inline void _copy_example(char *dst, const char *src, Py_ssize_t n, Py_ssize_t fs,
                               Py_ssize_t isz) noexcept nogil:
    """dst[0:n] = the n elements at src, fs bytes apart (bit copies, any type)."""
    cdef Py_ssize_t f
    if fs == isz or n == 1:
        memcpy(dst, src, n * isz)
    elif isz == 8:
        for f in range(n):
            (<uint64_t *>dst)[f] = (<const uint64_t *>(src + f * fs))[0]
    elif isz == 4:
        for f in range(n):
            (<uint32_t *>dst)[f] = (<const uint32_t *>(src + f * fs))[0]
    elif isz == 2:
        for f in range(n):
            (<uint16_t *>dst)[f] = (<const uint16_t *>(src + f * fs))[0]
    else:
        for f in range(n):
            memcpy(dst + f * isz, src + f * fs, isz)


cdef inline void _gather(NetPlan *p, int tid, int nt, int nb) noexcept nogil:
    """This thread's blocks of the batch's examples, from every per-example
    array into its workspace."""
    cdef const EpochPlan *ep = p.ep
    cdef const Py_ssize_t *order = ep.order + p.ep_j0
    cdef const ExArray *a
    cdef Py_ssize_t k0, k1, k, row
    cdef char *dst
    cdef int i, blk
    for i in range(ep.n_arrays):
        a = &ep.arr[i]
        if a.copies:
            # every example, into this thread's own copy: the threads then
            # read no line another core wrote (every thread's first layer
            # reads all of X)
            row = a.n * a.itemsize
            dst = a.dst + tid * a.copies
            for k in range(p.m):
                _copy_example(dst + k * row, a.src + order[k] * a.ex_stride, a.n,
                              a.f_stride, a.itemsize)
    for blk in range(nb):
        if _mine(blk, tid, nt, p.m, nb, ROW_GRAIN, &k0, &k1):
            for i in range(ep.n_arrays):
                a = &ep.arr[i]
                if a.copies:
                    continue
                row = a.n * a.itemsize
                for k in range(k0, k1):
                    _copy_example(a.dst + k * row, a.src + order[k] * a.ex_stride, a.n,
                                  a.f_stride, a.itemsize)


# ------------------------------------------------------------------- phases
#
# Every phase cuts its rows (or columns, or elements) into ``nb`` blocks
# (_split; nb is fixed by the step's shape and the requested thread count,
# NetKernel._blocks) and thread ``tid`` of a team of ``nt <= nb`` takes
# blocks tid, tid + nt, ... (_mine): every block is the same GEMM call on
# the same operands whichever thread runs it and however many threads there
# are, so a step's bits depend on nb, never on the team that ran it (the
# team may shrink at run time: NetKernel's team chooser, or OpenMP granting
# fewer threads than asked).

cdef inline void _fwd_block(floating *P, NetPlan *p, LayerPlan *ly, int l, Py_ssize_t r0,
                            Py_ssize_t r1, const floating *Ain, Py_ssize_t ald,
                            BLAS_Trans ta, int tid) noexcept nogil:
    """Rows [r0, r1) of layer l's forward: Z = W A_in + b, A = g(Z), dropout."""
    cdef Py_ssize_t m = p.m, i, j, k
    cdef floating *Z = <floating *>ly.Z + r0 * m
    cdef floating *A = <floating *>ly.A + r0 * m
    cdef floating *Ad
    cdef floating inv
    cdef uint64_t key
    cdef Py_ssize_t mld = p.mask_ld, moff = p.mask_off
    if l == 0 and p.xs_u != NULL:
        _sparse_fwd(P + ly.w_off, ly.n_in, r0, r1, p, Z, tid)
    else:
        _gemm(NoTrans, ta, r1 - r0, m, ly.n_in, <floating>1.0,
              P + ly.w_off + r0 * ly.n_in, ly.n_in, Ain, ald, <floating>0.0, Z, m)
    if l == p.L - 1 and (p.softmax or p.expout):
        # only the bias here: _outact makes A[L] from Z[L] (softmax needs
        # whole columns)
        _fwd_rows(FBP_IDENTITY, <floating>0.0, Z, m, Z, m, P + ly.b_off + r0, 1, r1 - r0, m)
    else:
        _fwd_rows(ly.act, <floating>ly.alpha, Z, m, A, m, P + ly.b_off + r0, 1, r1 - r0, m)
    if p.dropout and ly.keep_prob < 1.0:
        Ad = <floating *>ly.Ad
        inv = <floating>(1.0 / ly.keep_prob)
        key = _dropout_key(p.seed, p.step, l)
        for i in range(r0, r1):
            for j in range(m):
                k = i * m + j
                Ad[k] = ((<floating *>ly.A)[k] * inv
                         if _keep(key, i * mld + moff + j, ly.keep_thr) else 0)


cdef inline void _fwd_sk(floating *P, NetPlan *p, LayerPlan *ly, const floating *Ain,
                         int tid, int nt, int nb) noexcept nogil:
    """The output layer's forward cut along K (_split_k): this thread's
    partial products, a barrier, then its column blocks summed in block
    order, the bias added and g applied (only the bias before softmax or
    exp: _outact takes the same column blocks, so no barrier follows)."""
    cdef Py_ssize_t m = p.m, n = ly.n_out, n_in = ly.n_in, k0, k1, j0, j1, i, j
    cdef Py_ssize_t grain = _row_grain(n_in, nb)
    cdef int blk
    cdef bint first
    cdef floating *Z = <floating *>ly.Z
    cdef floating *src
    cdef int b
    for blk in range(nb):
        if _mine(blk, tid, nt, n_in, nb, grain, &k0, &k1):
            if p.skpk_on:
                _gemm(NoTrans, NoTrans, n, m, k1 - k0, <floating>1.0, _sk_packed(P, p, blk, 0),
                      k1 - k0, Ain + k0 * m, m, <floating>0.0, _sk_part(P, p, ly, blk), m)
            else:
                _gemm(NoTrans, NoTrans, n, m, k1 - k0, <floating>1.0, P + ly.w_off + k0, n_in,
                      Ain + k0 * m, m, <floating>0.0, _sk_part(P, p, ly, blk), m)
    fbp_omp_barrier()
    for blk in range(nb):
        if _mine(blk, tid, nt, m, nb, COL_GRAIN, &j0, &j1):
            first = True
            for b in range(nb):
                _split(n_in, nb, b, grain, &k0, &k1)
                if k1 <= k0:
                    continue
                src = _sk_part(P, p, ly, b)
                if first:
                    for i in range(n):
                        for j in range(j0, j1):
                            Z[i * m + j] = src[i * m + j]
                    first = False
                else:
                    for i in range(n):
                        for j in range(j0, j1):
                            Z[i * m + j] += src[i * m + j]
            if p.softmax or p.expout:
                _fwd_rows(FBP_IDENTITY, <floating>0.0, Z + j0, m, Z + j0, m,
                          P + ly.b_off, 1, n, j1 - j0)
            else:
                _fwd_rows(ly.act, <floating>ly.alpha, Z + j0, m, <floating *>ly.A + j0, m,
                          P + ly.b_off, 1, n, j1 - j0)


cdef inline void _forward(floating *P, NetPlan *p, LayerPlan *lys, int tid, int nt,
                          int nb) noexcept nogil:
    cdef int l, blk
    cdef LayerPlan *ly
    cdef Py_ssize_t r0, r1, ald
    cdef const floating *Ain
    cdef floating *xt
    cdef BLAS_Trans ta
    for l in range(p.L):
        ly = &lys[l]
        if l == 0:
            Ain = <const floating *>_x_of(p, tid)
            ald = p.x_ld
            ta = Trans if p.x_trans else NoTrans
            if p.xt:
                # (_xt_on) this thread's copy of X (n_x, m); the threads
                # write only their own, so no barrier follows
                xt = <floating *>(<char *>p.xtbuf + tid * p.xt_copy)
                if floating is float:
                    fbp_transpose_f(Ain, ald, p.m, ly.n_in, xt)
                else:
                    fbp_transpose_d(Ain, ald, p.m, ly.n_in, xt)
                Ain = xt
                ald = p.m
                ta = NoTrans
        else:
            Ain = <const floating *>(lys[l - 1].Ad if p.dropout else lys[l - 1].A)
            ald = p.m
            ta = NoTrans
        if p.sk and l == p.L - 1:
            _fwd_sk(P, p, ly, Ain, tid, nt, nb)
            break
        for blk in range(nb):
            if _mine(blk, tid, nt, ly.n_out, nb, _row_grain(ly.n_out, nb), &r0, &r1):
                _fwd_block(P, p, ly, l, r0, r1, Ain, ald, ta, tid)
        if not (p.sk and l == p.L - 2):
            # (before an output layer cut along K, each thread reads only
            # the rows of A[L-1] it wrote)
            fbp_omp_barrier()


cdef inline void _outact(floating *P, NetPlan *p, LayerPlan *lys, int tid, int nt,
                         int nb) noexcept nogil:
    """A[L] = softmax(Z[L]) column-wise, or exp(Z[L]), on this thread's columns."""
    cdef LayerPlan *ly = &lys[p.L - 1]
    cdef Py_ssize_t m = p.m, j0, j1, i
    cdef int blk
    for blk in range(nb):
        if _mine(blk, tid, nt, m, nb, COL_GRAIN, &j0, &j1):
            if p.softmax:
                if floating is float:
                    fbp_softmax_cols_f(<float *>ly.Z, m, 1, <float *>ly.A, m, ly.n_out, j0, j1,
                                       <float *>p.smbuf + 2 * j0)
                else:
                    fbp_softmax_cols_d(<double *>ly.Z, m, 1, <double *>ly.A, m, ly.n_out, j0, j1,
                                       <double *>p.smbuf + 2 * j0)
            else:
                for i in range(ly.n_out):
                    if floating is float:
                        fbp_vexp_f(<float *>ly.Z + i * m + j0, <float *>ly.A + i * m + j0,
                                   j1 - j0)
                    else:
                        fbp_vexp_d(<double *>ly.Z + i * m + j0, <double *>ly.A + i * m + j0,
                                   j1 - j0)


cdef inline void _flush_subnormal(floating *D, Py_ssize_t m, Py_ssize_t rows, Py_ssize_t j0,
                                  Py_ssize_t j1) noexcept nogil:
    """Zero the subnormal and near-subnormal values (0 < |d| < the smallest
    normal number over the epsilon: FLT_MIN / FLT_EPSILON, 9.9e-32;
    DBL_MIN / DBL_EPSILON, 1e-292) of dZ[L]'s columns [j0, j1).

    A fit that has learned its training set well gives some examples
    softmax (or sigmoid) outputs below FLT_MIN for their wrong classes, and
    dZ[L] = A[L] - Y keeps them: the backward's GEMMs (dW[L] = dZ[L] A^T,
    W[L]^T dZ[L]) then multiply subnormal numbers, which Intel cores run
    through a microcode assist per instruction (about 100-150 cycles).
    scikit-learn's digits in float32 ([64, 128, 10], batch 32, Adam) has
    about 380 such values after 700 epochs, and its epoch ran 3.2x slower
    than at epoch 300 on a Xeon with AVX-512 (bench/RESULTS.md,
    twenty-sixth session). Each contributes its value times an activation
    (over the batch's sum) to a gradient entry, so the gradient changes only
    where its entries are themselves near the subnormal range; TensorFlow
    and XLA flush every subnormal on the CPU (the MXCSR's FTZ and DAZ bits),
    this flushes only where they arise.

    The threshold is the smallest normal number over the epsilon (2^-103,
    9.9e-32, in float32; 2^-970, 1e-292, in float64), not the smallest normal
    number itself: a normal but tiny dZ[L] value (a sigmoid output of 1e-35)
    times a weight below 1 is subnormal, so W[L]^T dZ[L] wrote subnormal
    numbers into dZ[L-1] and its product with the layer's input multiplied
    them again (a binary digits fit in float32, [64, 128, 1], had 2,275 in
    dZ[1] at epoch 1000 and ran 1.9x slower than with FTZ/DAZ). Above this
    threshold a product stays normal for factors down to the epsilon, and
    what is dropped is below the gradient's rounding unless every example's
    contribution to that entry is as small."""
    cdef floating tiny = (FLT_MIN / FLT_EPSILON) if floating is float else (DBL_MIN / DBL_EPSILON)
    cdef Py_ssize_t i, j
    cdef floating *d
    for i in range(rows):
        d = D + i * m
        for j in range(j0, j1):
            if fabs(d[j]) < tiny:
                d[j] = 0


cdef inline void _output_cols(floating *P, NetPlan *p, LayerPlan *lys, Py_ssize_t j0,
                              Py_ssize_t j1, bint want_loss, bint want_delta) noexcept nogil:
    """_output on columns [j0, j1)."""
    cdef LayerPlan *ly = &lys[p.L - 1]
    cdef Py_ssize_t m = p.m, rows = ly.n_out, i, j, c
    cdef floating *AL = <floating *>ly.A
    cdef floating *ZL = <floating *>ly.Z
    cdef floating *D = <floating *>p.D0
    cdef int bad = 0
    cdef int *badp = &bad if p.check_targets else NULL
    if p.labels:
        if want_loss:
            # cross-entropy of class c: log-sum-exp of the column minus its logit
            if floating is float:
                fbp_lse_cols_f(ZL, m, 1, rows, j0, j1, p.colloss + j0)
            else:
                fbp_lse_cols_d(ZL, m, 1, rows, j0, j1, p.colloss + j0)
        for j in range(j0, j1):
            c = <Py_ssize_t>fbp_yval(p.Y, p.yt, j * p.yc)
            if c < 0 or c >= rows:
                p.bad_label = 1
                c = -1
            if want_loss:
                if c >= 0:
                    p.colloss[j] -= <double>ZL[c * m + j]
                    if p.loss_clip > 0.0:       # scikit-learn's values (fastbp_loss.h)
                        p.colloss[j] = fbp_clamp(p.colloss[j], -log1p(-p.loss_clip),
                                                 -log(p.loss_clip))
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
                fbp_zloss_cols_f(p.loss, ZL, m, 1, p.Y, p.yt, p.yr, p.yc, rows, j0, j1,
                                 p.colloss, badp, p.loss_clip)
            else:
                fbp_zloss_cols_d(p.loss, ZL, m, 1, p.Y, p.yt, p.yr, p.yc, rows, j0, j1,
                                 p.colloss, badp, p.loss_clip)
            if bad:
                p.bad_label = 1
        if want_delta:
            if floating is float:
                fbp_delta_f(AL, m, 1, p.Y, p.yt, p.yr, p.yc, D, m, rows, j0, j1)
            else:
                fbp_delta_d(AL, m, 1, p.Y, p.yt, p.yr, p.yc, D, m, rows, j0, j1)
    if want_delta:
        _flush_subnormal(D, m, rows, j0, j1)


cdef inline void _output(floating *P, NetPlan *p, LayerPlan *lys, int tid, int nt, int nb,
                         bint want_loss, bint want_delta) noexcept nogil:
    """colloss[j] = the loss of column j, from the logits Z[L] (exact where A[L]
    saturates; fastbp_loss.h's fbp_zloss_cols), and D0 = dZ[L] = A[L] - Y, on
    this thread's columns. A label outside the loss's domain sets bad_label
    (class index out of range: always; a target value: where the loss is
    computed, unless p.check_targets is 0), and the step stops before its
    backward."""
    cdef Py_ssize_t j0, j1
    cdef int blk
    for blk in range(nb):
        if _mine(blk, tid, nt, p.m, nb, COL_GRAIN, &j0, &j1):
            _output_cols(P, p, lys, j0, j1, want_loss, want_delta)


cdef inline void _weigh(floating *P, NetPlan *p, LayerPlan *lys, int tid, int nt, int nb,
                        bint want_loss, bint want_delta) noexcept nogil:
    """Per-example weights: column j of the loss and of dZ[L] times sw[j].

    scikit-learn's ``_backprop``: ``loss = np.average(loss_j, weights=sw)``,
    ``deltas[last] *= sw``, gradients divided by ``sum(sw)`` (gscale). Runs
    on the columns _output gave this thread (the same blocks), so it needs
    no barrier of its own.
    """
    cdef Py_ssize_t m = p.m, rows = lys[p.L - 1].n_out, i, j, j0, j1
    cdef floating *D = <floating *>p.D0
    cdef const double *sw = p.sw
    cdef int blk
    for blk in range(nb):
        if _mine(blk, tid, nt, m, nb, COL_GRAIN, &j0, &j1):
            if want_loss:
                for j in range(j0, j1):
                    p.colloss[j] *= sw[j]
            if want_delta:
                for i in range(rows):
                    for j in range(j0, j1):
                        D[i * m + j] *= <floating>sw[j]
                _flush_subnormal(D, m, rows, j0, j1)


cdef inline void _dprev_block(floating *P, NetPlan *p, LayerPlan *ly, LayerPlan *lp, int l,
                              Py_ssize_t q0, Py_ssize_t q1, floating *cur, floating *nxt,
                              const floating *Wq, Py_ssize_t ldw) noexcept nogil:
    """Rows [q0, q1) of dZ[l-1] = (W[l]^T dZ[l]) * mask / keep_prob * g'[l-1];
    Wq: column q0 of W[l] (row stride ldw: the flat buffer's, or a packed
    copy's)."""
    cdef Py_ssize_t m = p.m, i, j, k
    cdef Py_ssize_t mld = p.mask_ld, moff = p.mask_off
    cdef int act = lp.act
    cdef floating inv
    cdef uint64_t key
    cdef Mat V = _rowmajor(lp.Z if fbp_deriv_needs_z(lp.act) else lp.A, m)
    if p.dropout and lp.keep_prob < 1.0:
        act = ACT_NONE      # g' after the mask
    _dprev_rows(nxt + q0 * m, m, _rowmajor(Wq, ldw), _rowmajor(cur, m),
                0, q1 - q0, ly.n_out, m, act, <floating>lp.alpha,
                _rowmajor(<const floating *>V.data + q0 * m, m))
    if act == ACT_NONE:
        inv = <floating>(1.0 / lp.keep_prob)
        key = _dropout_key(p.seed, p.step, l - 1)
        for i in range(q0, q1):
            for j in range(m):
                k = i * m + j
                nxt[k] = (nxt[k] * inv
                          if _keep(key, i * mld + moff + j, lp.keep_thr) else 0)
        _bwd_rows(lp.act, <floating>lp.alpha, nxt + q0 * m, m,
                  <const floating *>V.data + q0 * m, m, 1, q1 - q0, m)


cdef inline void _bwd_sk(floating *P, NetPlan *p, LayerPlan *ly, LayerPlan *lp, int l,
                         Mat Ain, int tid, int nt, int nb, bint upd, floating *cur,
                         floating *nxt) noexcept nogil:
    """The output layer's backward cut along K (_split_k), on this thread's
    blocks K_t of W[L]'s columns: dW[L][:, K_t] (and its L2 term),
    dZ[L-1][K_t], then the update of W[L][:, K_t], which no other thread
    reads; db[L] and b[L] on thread 0."""
    cdef floating *G = <floating *>p.grads
    cdef Py_ssize_t m = p.m, n = ly.n_out, n_in = ly.n_in, q0, q1, i, w, ld
    cdef floating scale = <floating>p.gscale
    cdef floating l2s = <floating>p.l2scale
    cdef floating *Wq
    cdef floating *Gq
    cdef int blk
    for blk in range(nb):
        if _mine(blk, tid, nt, n_in, nb, _row_grain(n_in, nb), &q0, &q1):
            w = q1 - q0
            if p.skpk_on:       # the block's packed copies (_sk_pack)
                Wq = _sk_packed(P, p, blk, 0)
                Gq = _sk_packed(P, p, blk, 1)
                ld = w
            else:
                Wq = P + ly.w_off + q0
                Gq = G + ly.w_off + q0
                ld = n_in
            _mm(Gq, ld, n, w, m, scale, _rowmajor(cur, m), False, 0, Ain, True, q0,
                <floating>0.0)
            if p.lambd != 0.0:
                for i in range(n):
                    _l2_rows(Gq + i * ld, Wq + i * ld, 1, w, l2s, p.skl2 + blk * n + i)
            _dprev_block(P, p, ly, lp, l, q0, q1, cur, nxt, Wq, ld)
            if upd and p.skpk_on:
                _update_ptrs(p, Wq, Gq, _sk_packed(P, p, blk, 2) if p.s1 != NULL else NULL,
                             _sk_packed(P, p, blk, 3) if p.s2 != NULL else NULL, 0, n * w)
            elif upd:
                for i in range(n):
                    _update_range(P, p, ly.w_off + i * n_in + q0, ly.w_off + i * n_in + q1)
    if tid == 0:
        _rowsum(cur, m, 1, n, m, scale, G + ly.b_off)
        if upd:
            _update_range(P, p, ly.b_off, ly.b_off + n)


cdef inline void _backward(floating *P, NetPlan *p, LayerPlan *lys, int tid, int nt,
                           int nb, bint upd) noexcept nogil:
    """dW, db (and the L2 term) of every layer and the deltas between them, on
    this thread's blocks; with ``upd`` also the optimizer update of each
    layer, on the rows whose gradients this thread computed (_update_rows)."""
    cdef floating *G = <floating *>p.grads
    cdef int l, blk
    cdef LayerPlan *ly
    cdef Py_ssize_t m = p.m, r0, r1, q0, q1, n_in, l2base = 0
    cdef floating scale = <floating>p.gscale
    cdef floating l2s = <floating>p.l2scale
    cdef floating *cur = <floating *>p.D0
    cdef floating *nxt = <floating *>p.D1
    cdef floating *tmp
    cdef Mat Ain
    for l in range(p.L):
        l2base += lys[l].n_out
    for l in range(p.L - 1, -1, -1):
        ly = &lys[l]
        n_in = ly.n_in
        l2base -= ly.n_out
        if l == 0:
            Ain = _x_mat(p, tid)
        else:
            Ain = _rowmajor(lys[l - 1].Ad if p.dropout else lys[l - 1].A, m)
        if p.sk and l == p.L - 1:
            _bwd_sk(P, p, ly, &lys[l - 1], l, Ain, tid, nt, nb, upd, cur, nxt)
            tmp = cur
            cur = nxt
            nxt = tmp
            if l > 1:
                fbp_omp_barrier()   # dZ[l-2] reads every row of dZ[l-1]
            continue
        # dW, db (and L2) on this thread's blocks of W's rows
        for blk in range(nb):
            if _mine(blk, tid, nt, ly.n_out, nb, _row_grain(ly.n_out, nb), &r0, &r1):
                if l == 0 and p.xs_u != NULL:
                    _sparse_grad(G + ly.w_off, n_in, r0, r1, cur, p, scale, tid)
                    _rowsum(cur + r0 * m, m, 1, r1 - r0, m, scale, G + ly.b_off + r0)
                else:
                    _grad_rows(G + ly.w_off, n_in, G + ly.b_off, _rowmajor(cur, m), Ain,
                               r0, r1, n_in, m, scale, <floating>0.0)
                if p.lambd != 0.0:
                    _l2_rows(G + ly.w_off + r0 * n_in, P + ly.w_off + r0 * n_in, r1 - r0,
                             n_in, l2s, p.l2rows + l2base + r0)
        # dZ[l-1] on this thread's blocks of its rows
        if l > 0:
            for blk in range(nb):
                if _mine(blk, tid, nt, n_in, nb, _row_grain(n_in, nb), &q0, &q1):
                    _dprev_block(P, p, ly, &lys[l - 1], l, q0, q1, cur, nxt,
                                 P + ly.w_off + q0, ly.n_in)
            tmp = cur
            cur = nxt
            nxt = tmp
        if upd:
            # W[l+1] was last read by the previous phase (dZ[l] = W[l+1]^T
            # dZ[l+1]), which a barrier ended; W[0] is read by no other
            # thread in this phase, and its rows here are this thread's own
            if l + 1 < p.L and not (p.sk and l + 1 == p.L - 1):
                _update_rows(P, p, &lys[l + 1], tid, nt, nb)
            if l == 0:
                _update_rows(P, p, ly, tid, nt, nb)
        if l > 0:
            fbp_omp_barrier()    # after layer 0 the team's join is the barrier


cdef inline void _update_range(floating *P, NetPlan *p, Py_ssize_t a,
                               Py_ssize_t b) noexcept nogil:
    """The optimizer update of elements [a, b) of the flat buffers.

    The formulas (the course's forms and the step forms of scikit-learn /
    Keras) and why they are compiled per instruction set: csrc/fastbp_optim.h.
    ADAM_STEP is the course's Adam with c1 = c2 = 1 and
    lr_t = lr sqrt(1 - b2^t) / (1 - b1^t), computed here in double in
    scikit-learn's order. Every element is updated alone, so how the buffer
    is cut into ranges never changes a bit.
    """
    _update_ptrs(p, P, <floating *>p.grads, <floating *>p.s1, <floating *>p.s2, a, b)


cdef inline void _update_ptrs(NetPlan *p, floating *P, floating *G, floating *S1,
                              floating *S2, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    """_update_range on elements [a, b) of the given parameter, gradient and
    state arrays (the flat buffers, or a block's packed copies)."""
    cdef floating lr = <floating>p.lr, b1 = <floating>p.b1, b2 = <floating>p.b2
    cdef floating nb1 = <floating>(1.0 - p.b1), nb2 = <floating>(1.0 - p.b2)
    cdef floating eps = <floating>p.eps, c1 = <floating>p.c1, c2 = <floating>p.c2
    if p.opt == FBP_OPT_ADAM_STEP:
        lr = <floating>(p.lr * p.c1 / p.c2)
        c1 = 1.0
        c2 = 1.0
    if floating is float:
        fbp_update_f(p.opt, P, G, S1, S2, a, b, lr, b1, b2, nb1, nb2, eps, c1, c2)
    else:
        fbp_update_d(p.opt, P, G, S1, S2, a, b, lr, b1, b2, nb1, nb2, eps, c1, c2)


cdef inline void _update_rows(floating *P, NetPlan *p, LayerPlan *ly, int tid, int nt,
                              int nb) noexcept nogil:
    """The update of this thread's row blocks of one layer's W and b (the
    blocks _backward gave it for dW)."""
    cdef Py_ssize_t r0, r1
    cdef int blk
    for blk in range(nb):
        if _mine(blk, tid, nt, ly.n_out, nb, _row_grain(ly.n_out, nb), &r0, &r1):
            _update_range(P, p, ly.w_off + r0 * ly.n_in, ly.w_off + r1 * ly.n_in)
            _update_range(P, p, ly.b_off + r0, ly.b_off + r1)


cdef inline void _update(floating *P, NetPlan *p, int tid, int nt, int nb) noexcept nogil:
    """The update alone (no backward in the call): this thread's blocks of
    the flat buffers."""
    cdef Py_ssize_t a, b
    cdef int blk
    for blk in range(nb):
        if _mine(blk, tid, nt, p.n_params, nb, ELEM_GRAIN, &a, &b):
            _update_range(P, p, a, b)


cdef inline void _team(floating *P, NetPlan *p, LayerPlan *lys, int mode,
                       int nb) noexcept nogil:
    """Everything one thread of the team does; all threads take the same path."""
    cdef int tid = fbp_omp_thread_num(), nt = fbp_omp_team_size()
    cdef Py_ssize_t j
    cdef double total
    cdef bint fused = (mode & M_BACKWARD) and (mode & M_UPDATE)
    if p.skpk_on and p.skpk_nb == 0:
        _sk_pack(P, p, &lys[p.L - 1], tid, nt, nb)
    if mode & M_GATHER:
        _gather(p, tid, nt, nb)
        if not p.x_copy:
            # (with copies of X the first phase reads only this thread's;
            # the other gathered arrays are read after the forward's barriers)
            fbp_omp_barrier()
    if mode & M_FORWARD:
        _forward(P, p, lys, tid, nt, nb)
        if p.softmax or p.expout:
            # no barrier: _output and _weigh below take the same column blocks
            _outact(P, p, lys, tid, nt, nb)
    if mode & (M_LOSS | M_DELTA):
        _output(P, p, lys, tid, nt, nb, (mode & M_LOSS) != 0, (mode & M_DELTA) != 0)
        if p.sw != NULL:
            _weigh(P, p, lys, tid, nt, nb, (mode & M_LOSS) != 0, (mode & M_DELTA) != 0)
        fbp_omp_barrier()
        if p.bad_label:
            return
        if mode & M_LOSS:
            # every thread sums the same partials in the same order (pairwise
            # over chunks of columns: fastbp_loss.h's fbp_cascade)
            total = fbp_sum_cascade(p.colloss, p.m)
            if tid == 0:
                p.loss_sum = total
            if not isfinite(total) and (mode & M_UPDATE) and not (mode & M_NOCHECK):
                if tid == 0:
                    p.nonfinite = 1
                return
    if mode & M_BACKWARD:
        _backward(P, p, lys, tid, nt, nb, fused)
    if (mode & M_UPDATE) and not fused:
        _update(P, p, tid, nt, nb)


cdef inline void _l2_total(NetPlan *p, LayerPlan *lys, int mode) noexcept nogil:
    """p.l2_sum = the sum of the per-row ||W[i, :]||^2 the backward wrote, in
    row order (after the team has joined)."""
    cdef Py_ssize_t i, n = 0
    cdef double total = 0.0
    cdef Py_ssize_t k0, k1, n_out = lys[p.L - 1].n_out, n_in = lys[p.L - 1].n_in
    cdef double row
    cdef int b
    if not (mode & M_BACKWARD) or not (mode & M_LOSS) or p.lambd == 0.0:
        return
    if p.bad_label or p.nonfinite:
        return
    for i in range(p.L):
        n += lys[i].n_out
    if p.sk:
        n -= n_out
    for i in range(n):
        total += p.l2rows[i]
    if p.sk:
        # the output layer's rows: each the sum of its (non-empty) blocks'
        # parts, in block order (squares: 0.0 + the first is the first)
        for i in range(n_out):
            row = 0.0
            for b in range(p.sk):
                _split(n_in, p.sk, b, _row_grain(n_in, p.sk), &k0, &k1)
                if k1 > k0:
                    row += p.skl2[b * n_out + i]
            total += row
    p.l2_sum = total


cdef inline void _run(floating *P, NetPlan *p, LayerPlan *lys, int mode, int nb,
                      int nt) noexcept nogil:
    """One step cut into nb blocks per phase, run by a team of nt <= nb threads."""
    nt = team_threads(nt)       # 1 in a fork() child (fastbp._openmp_helpers)
    p.sk = nb if _split_k(p, lys, nb) else 0
    p.xt = _xt_on(p, lys, nb, sizeof(floating))
    if p.skpk_nb != 0 and p.skpk_nb != p.sk:
        _sk_unpack(P, p, &lys[p.L - 1])     # packed for other blocks, or none split
    p.skpk_on = p.skpk_call and p.sk != 0 and (mode & M_BACKWARD) and (mode & M_UPDATE)
    if nt <= 1:
        _team(P, p, lys, mode, nb)
    else:
        with parallel(num_threads=nt):
            _team(P, p, lys, mode, nb)
    if p.skpk_on:
        p.skpk_nb = p.sk
        p.skpk_steps += 1
    p.skpk_on = 0
    _l2_total(p, lys, mode)


# ------------------------------------------------------------ the team chooser
#
# Two threads help a small step only while both have a core: on a busy
# machine (other processes, a second fit, a virtual CPU whose sibling is
# taken) a barrier waits for a descheduled partner. This machine ran a digits
# step 1.5-1.9x slower on two threads than on one for minutes at a time
# (bench/RESULTS.md, "Two speeds at 2 threads"), 1.6-12x with busy processes
# beside it (bench/bench_load.py). So steps are timed, and every so often
# some run on the other arm (one thread, or the whole team): the arm with
# the lower mean time per example is kept.
#
# * Means, not medians: a descheduled partner costs a rare step a whole time
#   slice, which is exactly what a median hides.
# * A probe measures CH_WIN steps and CH_MIN_SECS at least (a digits epoch
#   is ~1 ms), after steps it runs but does not measure: the first (it wakes
#   the other thread, or finds it spinning), and for a one-thread probe
#   CH_SETTLE_SECS in all: after a parallel region libgomp's idle thread
#   spins for a while (about 8 ms here, its default GOMP_SPINCOUNT) and on a
#   busy machine takes the core the one thread needs.
# * A probe that has taken CH_ABORT times what the arm in use would have
#   taken for its examples (its unmeasured steps included), plus CH_WAKE_SECS,
#   ends at once, lost: under load a team step can take a whole time slice
#   (ms), and a probe of several such steps would cost a short fit more than
#   it can save. The allowance is for a team probe's first step, which wakes
#   the other thread from its sleep (libgomp's futex after its spin): on the
#   Xeon of bench/RESULTS.md's twenty-eighth session that step took 200-300 us
#   against a 42 us one-thread digits step, so every team probe of a fit
#   ended there, lost, and the fit stayed on one thread, 1.25x slower.
# * The next probe comes after ``budget`` times the probe's time plus
#   CH_SETTLE_SECS on the arm in use: that bounds what probing a bad arm
#   costs. On the team the budget is CH_BUDGET. On one thread it starts at
#   CH_BUDGET_MIN and doubles while the team keeps losing, up to CH_BUDGET:
#   a team that lost to a passing burden (NumPy's OpenBLAS threads spin for
#   ~0.1 s after a product; another short process) is tried again soon, and
#   a lasting one costs a few per cent.
# * Calls start on one thread and probe the team after CH_FIRST steps and
#   CH_MIN_SECS (a one-thread stretch has no idle thread spinning beside it,
#   so the first comparison is clean; few steps, as large steps lose most
#   there), later probes come CH_GAP steps apart at least.
# * Except large steps (CH_TEAM_FLOPS of GEMM work and more: a millisecond
#   and more at this machine's float32 peak, where a barrier's wait is
#   noise): they start on the team, and their first one-thread probe comes
#   after CH_GAP steps and CH_BUDGET_MIN times the first step's time. A
#   probe step of CH_BIG_SECS and more is a measurement of its own: the
#   probe ends after it, and a one-thread probe does not skip it (the idle
#   thread's ~8 ms of spinning is a few per cent of it). A full-batch fit of
#   0.8 s steps spent its first four on one thread, about 1.4 s, where the
#   team took 0.45 s a step (fastbp.sklearn at batch_size=20000 was 0.7x
#   scikit-learn over 3 iterations).
#
# NetKernel._call runs it. The blocks of a step are fixed by its shape
# (``nb``, NetKernel._blocks), not by the team that runs them, so the choice
# changes the speed and never the bits.

cdef enum:
    CH_WIN = 3        # steps a probe measures, at least
    CH_FIRST = 2      # steps on one thread before the first probe, at least
    CH_GAP = 8        # steps on the arm in use between probes, at least
    CH_BUDGET = 32    # see above
    CH_BUDGET_MIN = 4
    CH_ABORT = 4      # see above
    CH_CLASSES = 8    # one chooser per kind of call: M_FORWARD, M_BACKWARD, M_UPDATE
    CH_TEAM_FLOPS = 200000000   # a large step's GEMM flops, at least (see above)

# seconds a probe (and the first stretch) measures; seconds a one-thread
# probe runs before it measures
cdef extern from *:
    """
    #define FBP_CH_MIN_SECS 1e-3
    #define FBP_CH_SETTLE_SECS 1e-2
    #define FBP_CH_BIG_SECS 1e-1
    #define FBP_CH_WAKE_SECS 1e-3
    """
    const double CH_MIN_SECS "FBP_CH_MIN_SECS"
    const double CH_SETTLE_SECS "FBP_CH_SETTLE_SECS"
    const double CH_BIG_SECS "FBP_CH_BIG_SECS"
    const double CH_WAKE_SECS "FBP_CH_WAKE_SECS"

cdef struct TeamChooser:
    int solo              # the arm in use: 1 one thread, 0 the whole team
    int probing           # a probe of the other arm is running
    int warm              # the first step (thread start, first touch) is behind us
    int gap               # steps on the arm in use before the next probe, at least
    double settle         # seconds the running probe still runs before it measures
    double cost[2]        # mean seconds per example of each arm's last stretch or
                          # probe ([team, one thread]; 0: not measured yet)
    double secs           # seconds and examples measured in the running stretch
    double ex             # or probe
    Py_ssize_t steps      # ... and its steps
    double psecs          # seconds and examples of the running probe, all its steps
    double pex
    double wait           # seconds the arm in use runs before the next probe
    double budget         # wait = budget * (the last probe's seconds + CH_SETTLE_SECS)
    Py_ssize_t probes
    Py_ssize_t switches
    int big               # started on the team for a large step (_ch_start)


cdef inline void _ch_start(TeamChooser *c, double step_flops) noexcept nogil:
    """Before a call's steps: a chooser that has not yet run a step starts a
    large step (``step_flops`` of GEMM work) on the team."""
    if c.warm or c.probes or not c.solo or step_flops < <double>CH_TEAM_FLOPS:
        return
    c.solo = 0
    c.big = 1
    c.gap = CH_GAP
    c.budget = CH_BUDGET        # on the team, as after a probe the team won


cdef inline void _ch_reset(TeamChooser *c) noexcept nogil:
    c.solo = 1
    c.probing = 0
    c.warm = 0
    c.gap = CH_FIRST
    c.settle = 0.0
    c.cost[0] = 0.0
    c.cost[1] = 0.0
    c.secs = 0.0
    c.ex = 0.0
    c.steps = 0
    c.psecs = 0.0
    c.pex = 0.0
    c.wait = CH_MIN_SECS
    c.budget = CH_BUDGET_MIN / 2
    c.probes = 0
    c.switches = 0
    c.big = 0


cdef inline int _ch_solo(const TeamChooser *c) noexcept nogil:
    """Whether the next step runs on one thread (the arm in use, or the probe's)."""
    return c.solo ^ c.probing


cdef inline void _ch_end_probe(TeamChooser *c, double cost) noexcept nogil:
    """The running probe measured ``cost`` seconds per example: keep the faster arm."""
    cdef int arm = 1 - c.solo
    c.probes += 1
    c.cost[arm] = cost
    c.gap = CH_GAP
    if cost < c.cost[c.solo]:
        c.solo = arm
        c.switches += 1
        c.budget = CH_BUDGET_MIN if arm == 1 else CH_BUDGET
    elif c.solo:
        c.budget = c.budget * 2 if c.budget * 2 < CH_BUDGET else CH_BUDGET
    c.wait = c.budget * (c.psecs + CH_SETTLE_SECS)
    c.probing = 0
    c.secs = 0.0
    c.ex = 0.0
    c.steps = 0


cdef inline void _ch_record(TeamChooser *c, double secs, Py_ssize_t m) noexcept nogil:
    """Record a step of m examples that took secs; start or end a probe."""
    cdef int arm = c.solo ^ c.probing
    cdef double x = <double>(m if m > 0 else 1)
    if not c.warm:
        c.warm = 1
        if c.big:
            c.wait = CH_BUDGET_MIN * secs
        return
    if c.probing:
        c.psecs += secs
        c.pex += x
        if c.psecs > CH_ABORT * c.cost[c.solo] * c.pex + CH_WAKE_SECS:
            _ch_end_probe(c, c.psecs / c.pex)       # lost, whatever comes next
            return
        if c.settle > 0.0 and secs < CH_BIG_SECS:
            c.settle -= secs
            return
        c.settle = 0.0
    c.secs += secs
    c.ex += x
    c.steps += 1
    if c.probing:
        if (c.steps >= CH_WIN or secs >= CH_BIG_SECS) and c.secs >= CH_MIN_SECS:
            _ch_end_probe(c, c.secs / c.ex)
        return
    c.cost[arm] = c.secs / c.ex
    if c.steps < c.gap or c.secs < c.wait:
        return
    c.probing = 1
    c.psecs = 0.0
    c.pex = 0.0
    # skip the probe's first step; a one-thread probe's first CH_SETTLE_SECS
    c.settle = CH_SETTLE_SECS if c.solo == 0 else 1e-300
    c.secs = 0.0
    c.ex = 0.0
    c.steps = 0


cdef inline int _ch_class(int mode) noexcept nogil:
    return ((1 if mode & M_FORWARD else 0) | (2 if mode & M_BACKWARD else 0)
            | (4 if mode & M_UPDATE else 0))
