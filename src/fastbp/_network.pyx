# cython: language_level=3
"""A whole dense network's training step in one ``nogil`` call.

One call runs, for a mini-batch of m examples (columns):

    forward   Z[l] = W[l] A[l-1] + b[l];  A[l] = g[l](Z[l])   (dropout on A[l])
    output    A[L] = softmax(Z[L]) / sigmoid / identity; loss; dZ[L] = A[L] - Y
    backward  dW[l] = (1/m) dZ[l] A[l-1]^T + (lambd/m) W[l]
              db[l] = (1/m) sum_j dZ[l][:, j]
              dZ[l-1] = (W[l]^T dZ[l]) * mask/keep_prob * g'[l-1]
    update    fused loops over each layer's rows of the flat parameter and
              gradient buffers, as soon as nothing reads them any more (in
              the next layer's backward phase; layer 1 right after its dW),
              so no barrier waits for it (SGD, momentum, Nesterov or Adam, in
              the course's or the step form: fastbp.optim)

Threading (why this shape): the step runs in ONE OpenMP parallel region.
Each phase cuts the rows of its GEMM outputs into blocks; every thread calls
a single-threaded GEMM on each of its blocks (SciPy's OpenBLAS pinned to one
thread for the duration, so no BLAS thread ever runs inside an OpenMP one)
and applies the epilogue (bias + activation, activation derivative, db, L2)
to that block while it is still in cache; a barrier separates layers. Why:
only one thread pool is ever awake (OpenBLAS's workers spin ~100 ms after
each threaded call and would compete with the OpenMP team for the cores),
every epilogue runs on cache-hot rows instead of a second sweep, and the
split never needs a reduction. The alternative -- each GEMM whole on a
BLAS-threaded OpenBLAS -- is timed on bare GEMMs by bench/bench_train.py
("floor omp" vs "floor blas" rows, fastbp._bench.gemm_floor).

The output layer is the exception when it is narrower than its input
(_netstep._split_k): its products are cut along their inner dimension, in
the previous layer's row blocks, so each thread keeps the rows of A[L-1] and
dZ[L-1] it computed and only the n_L x m partial outputs cross between cores
(summed in block order); a two-layer step then meets at the gather, the
partial sums and the output, not after every layer (a digits step on two
threads had run no faster than on one: bench/RESULTS.md, twenty-eighth
session).

Blocks and team: a step on m examples is cut into ``nb`` blocks per phase,
``n_threads`` of them, fewer for small steps (under ``min_flops_per_thread``
forward flops per block: a barrier costs more than it saves there): 100k in
float64 and 200k in float32 (_registry.pxd). Until the team chooser below
and the small kernel's mid-size products (fastbp._blas), OpenBLAS's Haswell
core (every AVX2 CPU) had 2M: two threads each calling its small packed
GEMMs, which take buffers from a locked pool, had run digits-sized steps
1.6-2.2x slower than one thread. With those products in fastbp's own kernel
such steps ran 1.1-1.5x faster on two threads in float64 (0.95-1.2x for
[64, 64, 10]) and 1.0-1.25x in float32 (bench/bench_team_size.py,
bench/RESULTS.md), and where two threads lose, the chooser runs the step
on one. The blocks are then run by a team
of one thread or nb threads, chosen per kind of call by timing the steps
(the team chooser, _netstep.pxd): on a machine whose cores are busy with other
processes, or a virtual machine whose second core is slow to answer, a
two-thread step waits at its barriers for a descheduled partner (libgomp
spins, then sleeps) and one thread is faster, 1.6-12x beside busy processes
here (bench/bench_load.py). A block is the same GEMM call whichever thread
runs it, so the team changes the speed, not the bits.
Unlike the per-layer kernels (fastbp._dense), the step stays on
its OpenMP team even where NumPy's OpenBLAS pool is available: its phases
meet at barriers, which fastbp._blas._pool_run's jobs do not provide, so a
user loop that alternates NumPy GEMMs with whole-network steps still shares
the cores with NumPy's spinning worker (docs/architecture.md, "Threads").

Determinism: row blocks never share an output element, the bias gradients
are per-row sums in a fixed order, the loss and the L2 term are summed
serially from per-column / per-row partials, and dropout masks come from a
counter-based hash of (seed, step, layer, element). Results therefore depend
on the blocks (n_threads and the step's size) only through the GEMM's own
rounding of a block, and never on the team that ran them.

The kernel trusts its inputs: fastbp.network.Network validates everything
at the Python boundary.
"""
from libc.stdint cimport uint64_t, int64_t, int32_t
from libc.string cimport memcpy
from cpython.mem cimport PyMem_Malloc, PyMem_Free
cimport numpy as cnp

import numpy as np

from fastbp._blas cimport _blas_begin, _blas_end, _nt_is_slow
from fastbp._kernels cimport (fbp_deriv_needs_z, fbp_wtime, fbp_csc_check_i32,
                              fbp_csc_check_i64, fbp_sp_remap_f_i32, fbp_sp_remap_f_i64,
                              fbp_sp_remap_d_i32, fbp_sp_remap_d_i64, FBP_SPG_f,
                              FBP_SPG_d, fbp_adam_sqrt_on_fma)
from fastbp._netstep cimport *  # the plan structs and the phases of a step
from fastbp._registry cimport *  # the codes (FBP_*)
from fastbp import _registry

cnp.import_array()


def adam_sqrt_path():
    """Where this module's Adam update takes float64 square roots: "fma" (Newton
    steps on the FMA units, checked to round as vsqrtpd does: the AVX-512 clone
    on an Intel CPU, or FASTBP_SQRT_ON_FMA=1) or "divider" (the square-root
    instruction). Either gives the same bits (csrc/fastbp_optim.h)."""
    return "fma" if fbp_adam_sqrt_on_fma() else "divider"

# -------------------------------------------------------------- the kernel

def _aligned_empty(Py_ssize_t n, dtype):
    """An uninitialised 1-D array of n values starting on a 64-byte boundary."""
    dt = np.dtype(dtype)
    raw = np.empty(n * dt.itemsize + 64, dtype=np.uint8)
    cdef size_t off = (64 - <size_t>cnp.PyArray_DATA(raw) % 64) % 64
    return raw[off:off + n * dt.itemsize].view(dt)


def aligned_zeros(Py_ssize_t n, dtype):
    """A zeroed 1-D array of n values starting on a 64-byte (cache line) boundary.

    For the flat parameter, gradient and optimizer-state buffers: a team's
    threads update their own blocks of them (row blocks, and the split
    output layer's column blocks, _netstep._split_k), and a block boundary
    inside a cache line makes the line move between the cores at every
    update.
    """
    a = _aligned_empty(n, dtype)
    a[...] = 0
    return a


# the largest batch of X gathered once per thread (NetKernel._set_epoch)
cdef Py_ssize_t _X_COPY_MAX = 1 << 20
# the largest X (bytes) the first layer's forward transposes into a copy per
# thread (_netstep's _xt_on; NetKernel._xt_scratch)
cdef Py_ssize_t _XT_MAX = 1 << 16
# the most bytes an epoch call's packed copies of the split output layer may
# take (4 arrays, a block per thread; _netstep's _sk_pack, NetKernel._sk_pack_scratch)
cdef Py_ssize_t _SK_PACK_MAX = 1 << 22


cdef _check_weights(object sw, Py_ssize_t m):
    """Per-example weights as Network.check_sample_weight returns them."""
    if not (isinstance(sw, np.ndarray) and (<cnp.ndarray>sw).ndim == 1
            and (<cnp.ndarray>sw).shape[0] == m and sw.dtype == np.float64
            and sw.flags.c_contiguous and sw.flags.aligned):
        raise ValueError(f"sample_weight must be a C-contiguous float64 ({m},) array, as "
                         "Network.check_sample_weight returns it")


cdef class NetKernel:
    """Compiled state of one Network: plan, workspaces, thread count.

    Created and driven by :class:`fastbp.network.Network`; not public API.
    Workspaces are NumPy arrays sized at first use for the largest batch seen
    and reused; smaller batches use a prefix of them. The caller's arrays
    (X, Y, weights, an epoch's order) are referenced only while a call may
    read them: from :meth:`forward_train` to the next call (its backward
    reads them), never after a call no backward can follow
    (:meth:`_release_inputs`).
    """
    cdef NetPlan p
    cdef LayerPlan *train_layers
    cdef LayerPlan *infer_layers
    cdef readonly int is_double
    cdef readonly Py_ssize_t m_cap
    cdef readonly Py_ssize_t infer_cap
    cdef readonly bint have_forward   # a training-mode forward is in the workspace
    # training-mode forwards run so far (forward_train, train_steps, train_epoch,
    # grad_step): Network.backward refuses a forward that a later one replaced
    cdef readonly Py_ssize_t forward_count
    cdef public Py_ssize_t min_flops_per_thread
    cdef object params, grads, s1, s2
    cdef list dims, acts, alphas, keep_probs
    cdef list ws, infer_ws
    cdef object X_ref, Y_ref, sw_ref
    cdef object sp_mark      # int64 (n_x,) zeros: fbp_sp_remap's counters
    # [training, inference]: a sparse X's feature-major copy [U, fptr, fj, fv],
    # the threads' scratch, and X's (indptr, indices, data)
    cdef list sp_bufs
    cdef list sp_src
    cdef object sp_all       # intp arange(n_x): a CSR X's features
    cdef Py_ssize_t fwd_flops
    cdef EpochPlan ep
    cdef list gather_ws      # one workspace per per-example array (train_epoch)
    cdef tuple epoch_refs    # the arrays the epoch plan points into
    cdef double last_n       # n (width or weights' sum) of the last batch _call ran
    cdef TeamChooser chooser[CH_CLASSES]
    cdef object sk_ws        # the output layer's partial products (_split_k)
    cdef object sk_l2        # ... and its per-block row norms
    cdef object xt_ws        # the threads' transposed copies of X (_xt_scratch)
    cdef object sk_pk        # the split output layer's packed blocks (_sk_pack_scratch)
    # 0: choose each kind of call's team by timing it (_netstep.pxd's team chooser);
    # k > 0: always min(k, blocks) threads (benchmarks and tests)
    cdef public int team_policy

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
        self.min_flops_per_thread = (NET_MIN_FLOPS_PER_THREAD_D if self.is_double
                                     else NET_MIN_FLOPS_PER_THREAD_F)
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
        self.p.expout = self.p.loss == FBP_POISSON
        self.p.params = cnp.PyArray_DATA(params)
        self.p.grads = cnp.PyArray_DATA(grads)
        self.p.n_params = params.shape[0]
        self.p.check_targets = 1
        self.p.lambd = 0.0
        self.p.gscale = 0.0
        self.p.l2scale = 0.0
        self.p.mask_ld = 0
        self.p.mask_off = 0
        self.p.seed = 0
        self.p.step = 0
        self.p.opt = FBP_OPT_NONE
        self.p.ep = NULL
        self.p.ep_j0 = 0
        self.p.sk = 0
        self.p.skbuf = NULL
        self.p.skl2 = NULL
        self.sk_ws = None
        self.sk_l2 = None
        self.p.xt = 0
        self.p.xtbuf = NULL
        self.p.xt_copy = 0
        self.xt_ws = None
        self.p.skpk = NULL
        self.p.skpk_stride = 0
        self.p.skpk_call = 0
        self.p.skpk_on = 0
        self.p.skpk_nb = 0
        self.p.skpk_steps = 0
        self.sk_pk = None
        self.p.sw = NULL
        self.sw_ref = None
        self.ws = []
        self.infer_ws = []
        self.gather_ws = []
        self.epoch_refs = ()
        self.team_policy = 0
        for l in range(CH_CLASSES):
            _ch_reset(&self.chooser[l])

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

    cdef _buf(self, list keep, Py_ssize_t n, object dtype=None):
        """n values (the network's dtype unless given), 64-byte aligned: the
        threads of a team write neighbouring column blocks of one row (the
        output phase, the output layer's partial sums), and a block that
        starts mid-line shares that line with its neighbour, which then moves
        between the cores on every write (a float32 digits step on two
        threads took 1.1-1.4 ms an epoch against 1.0 on one)."""
        a = _aligned_empty(max(n, 1), self.params.dtype if dtype is None else dtype)
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
            if (fbp_deriv_needs_z(ly.act) if l < L - 1 else self.p.loss != FBP_MSE):
                ly.A = cnp.PyArray_DATA(self._buf(self.ws, ly.n_out * m))
            ly.Ad = ly.A
            if l < L - 1 and ly.keep_prob < 1.0:
                ly.Ad = cnp.PyArray_DATA(self._buf(self.ws, ly.n_out * m))
            maxn = max(maxn, ly.n_out)
            nrows += ly.n_out
        self.p.D0 = cnp.PyArray_DATA(self._buf(self.ws, maxn * m))
        self.p.D1 = cnp.PyArray_DATA(self._buf(self.ws, maxn * m))
        self.p.smbuf = cnp.PyArray_DATA(self._buf(self.ws, 2 * m))
        a = self._buf(self.ws, m, np.float64)
        a[...] = 0.0
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
        ly = &self.infer_layers[self.p.L - 1]
        if self.p.loss != FBP_MSE:
            # the output keeps its logits beside A (predict's out_z, the loss)
            ly.A = cnp.PyArray_DATA(self._buf(self.infer_ws, ly.n_out * m))
            ly.Ad = ly.A
        self.infer_cap = m

    def release_workspaces(self):
        """Free the training workspaces (and a sparse X's training buffers):
        the next training call allocates them again. For a network whose
        training ran at a batch far wider than its later calls (an L-BFGS
        fit's whole data set), which otherwise keeps them while it lives.
        A pending backward is refused after it (its activations are gone)."""
        cdef int l
        cdef LayerPlan *ly
        for l in range(self.p.L):
            ly = &self.train_layers[l]
            ly.Z = NULL
            ly.A = NULL
            ly.Ad = NULL
        self.p.D0 = NULL
        self.p.D1 = NULL
        self.p.smbuf = NULL
        self.p.colloss = NULL
        self.p.l2rows = NULL
        self.ws = []
        self.m_cap = 0
        self.have_forward = False
        self.sk_ws = None       # (nb n_L m values: an L-BFGS fit's whole data set)
        self.sk_l2 = None
        self.p.skbuf = NULL
        self.p.skl2 = NULL
        self.xt_ws = None
        self.p.xtbuf = NULL
        self.p.xt_copy = 0
        self.sk_pk = None       # (unpacked: every call returns with the flat buffers current)
        self.p.skpk = NULL
        self._release_inputs()
        if self.sp_bufs is not None:
            self.sp_bufs[0] = [None] * 5
            self.p.xs_u = NULL
            self.p.xs_scratch = NULL

    def packed_output_steps(self):
        """How many steps have run the split output layer on packed copies
        (_netstep's _sk_pack) so far."""
        return self.p.skpk_steps

    def x_copy_stride(self):
        """Bytes between the threads' transposed copies of X (0: none)."""
        return self.p.xt_copy if self.p.xtbuf != NULL else 0

    def x_transposed_copy(self):
        """Whether the last step ran its first layer's forward on the
        threads' transposed copies of X (_netstep's _xt_on)."""
        return bool(self.p.xt)

    def set_loss_clip(self, double eps):
        """Clip the loss's probabilities to [eps, 1 - eps] before their logs
        (scikit-learn's MLP loss values; 0: the exact losses)."""
        self.p.loss_clip = eps

    def workspace_bytes(self):
        """Bytes held in workspaces (training, inference and the epoch's gathers)."""
        return (sum(a.nbytes for a in self.ws) + sum(a.nbytes for a in self.infer_ws)
                + sum(a.nbytes for a in self.gather_ws)
                + (self.sk_ws.nbytes if self.sk_ws is not None else 0)
                + (self.xt_ws.nbytes if self.xt_ws is not None else 0)
                + (self.sk_pk.nbytes if self.sk_pk is not None else 0))

    def team_stats(self):
        """What the team chooser measured and chose, per kind of call.

        A dict keyed by the kind ("forward", "backward", "gradient", "update",
        "step"), for the kinds that have run on more than one block, each a
        dict: ``one_thread`` (the arm in use), ``probes`` and ``switches``
        (counts), ``seconds_per_example`` (the mean of each arm's last stretch
        or probe: the whole team, one thread; 0.0 where not measured yet),
        ``started_on_team`` (a large step: it did not start on one thread).
        """
        cdef TeamChooser *c
        cdef int k
        names = {1: "forward", 2: "backward", 3: "gradient", 4: "update", 7: "step"}
        out = {}
        for k, name in names.items():
            c = &self.chooser[k]
            if c.warm:
                out[name] = {"one_thread": bool(c.solo), "probes": c.probes,
                             "switches": c.switches,
                             "seconds_per_example": (c.cost[0], c.cost[1]),
                             "started_on_team": bool(c.big)}
        return out

    def reset_team_chooser(self):
        """Forget what the team chooser measured (each kind starts on one thread
        again, or on the team for a large step)."""
        cdef int k
        for k in range(CH_CLASSES):
            _ch_reset(&self.chooser[k])

    def set_optimizer_state(self, s1, s2):
        """Flat optimizer-state buffers (same size/dtype as the parameters) or None."""
        for s in (s1, s2):
            # the update writes n_params elements through these pointers
            if s is not None and not (isinstance(s, np.ndarray) and s.ndim == 1
                                      and s.shape[0] == self.p.n_params
                                      and s.dtype == self.params.dtype
                                      and s.flags.c_contiguous and s.flags.writeable):
                raise ValueError(
                    f"optimizer state buffer must be a writeable contiguous "
                    f"({self.p.n_params},) {self.params.dtype} array, got "
                    + (f"{s.shape} {s.dtype}" if isinstance(s, np.ndarray) else type(s).__name__))
        self.s1 = s1
        self.s2 = s2
        self.p.s1 = cnp.PyArray_DATA(s1) if s1 is not None else NULL
        self.p.s2 = cnp.PyArray_DATA(s2) if s2 is not None else NULL

    # ------------------------------------------------------------- inputs

    cdef _check_x(self, object X_, bint whole=True):
        """X as Network.check_X returns it: (n_x, m >= 1) of the parameters'
        dtype, native byte order, one unit stride, or a SciPy CSC matrix of
        that shape and dtype (_check_sparse; ``whole``: a training call's,
        all m columns at once). O(1) for an array: these calls
        are the checked data's fast path, but a raw array here (train_batch,
        train_epoch, forward_train are public) was read out of bounds."""
        if not isinstance(X_, np.ndarray):
            self._check_sparse(X_, whole)
            return
        cdef cnp.ndarray X = X_
        cdef Py_ssize_t isz = X.itemsize, n_x = self.dims[0], m, s0, s1
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_x, m), got {X.ndim}-D")
        m, s0, s1 = X.shape[1], X.strides[0], X.strides[1]
        # _validation.check_X's layout rule (what _set_x_layout reads)
        if not (X.shape[0] == n_x and m >= 1
                and cnp.PyArray_TYPE(X) == cnp.PyArray_TYPE(self.params)
                and cnp.PyArray_ISNOTSWAPPED(X) and s0 % isz == 0 and s1 % isz == 0
                and ((s1 == isz or m == 1) and (s0 >= m * isz or n_x == 1)
                     or (s0 == isz or n_x == 1) and (s1 >= n_x * isz or m == 1))):
            raise ValueError(
                f"X must be a ({n_x}, m) {self.params.dtype} array with one unit stride, "
                f"as Network.check_X returns it (got {X.dtype} {(<object>X).shape}); the "
                "train_batch / train_epoch / forward_train fast paths do not check more: "
                "pass X through net.check_X first, or use fit / train_step")

    def check_x(self, X):
        """_check_x, for the Network methods that read X's shape before a
        kernel call does (a list X raised AttributeError: no 'shape'); a
        sparse X of any width (predict's chunks; a training call checks its
        own)."""
        self._check_x(X, False)

    cdef _check_y(self, object Y_, int yt, bint labels, Py_ssize_t m):
        """Y as Network.check_Y returns it for m examples (see _check_x)."""
        cdef Py_ssize_t n_out = self.dims[len(self.dims) - 1]
        if not isinstance(Y_, np.ndarray):
            # (a typed argument said "Argument 'Y' has incorrect type")
            raise TypeError(
                f"Y must be as Network.check_Y returns it for {m} examples: a numpy array "
                + (f"({m},) of class labels" if labels else f"({n_out}, {m})")
                + f" (got {type(Y_).__name__}); pass Y through net.check_Y first, or use "
                "fit / train_step")
        cdef cnp.ndarray Y = Y_
        cdef Py_ssize_t isz = Y.itemsize
        cdef bint shape_ok = ((Y.ndim == 1 and Y.shape[0] == m) if labels else
                              (Y.ndim == 2 and Y.shape[0] == n_out and Y.shape[1] == m))
        if not (shape_ok and label_code(cnp.PyArray_TYPE(Y)) == yt
                and cnp.PyArray_ISNOTSWAPPED(Y) and Y.strides[0] % isz == 0
                and (Y.ndim == 1 or Y.strides[1] % isz == 0)):
            raise ValueError(
                f"Y must be as Network.check_Y returns it for {m} examples: "
                + (f"({m},) class labels" if labels else f"({n_out}, {m})")
                + f" with its code (got {Y.dtype} {(<object>Y).shape}, code {yt}); pass Y "
                "through net.check_Y first, or use fit / train_step")

    cdef tuple _check_sparse(self, object X, bint whole=True):
        """(is_csr, indptr, indices, data) of a sparse X as Network.check_X
        returns it: a SciPy CSR or CSC matrix or array of shape (n_x, m >= 1),
        data of the parameters' dtype, indptr and indices both int32 or both
        int64, each 1-D, contiguous, native. O(1): _set_x checks the indices'
        values. ``whole``: all m columns in one call (a training call; predict
        takes chunks of columns), whose feature-major form numbers them with
        int32 (csrc/fastbp_sparse.h's fj): m must be below 2**31."""
        cdef Py_ssize_t n_x = self.dims[0]
        shape = getattr(X, "shape", None)
        fmt = getattr(X, "format", None)
        if fmt not in ("csc", "csr") or not isinstance(shape, tuple):
            raise TypeError(
                f"X must be a ({n_x}, m) {self.params.dtype} array or SciPy CSR / CSC "
                f"matrix, as Network.check_X returns it (got {type(X).__name__}); pass X "
                "through net.check_X first, or use fit / train_step")
        ptr, idx, val = X.indptr, X.indices, X.data
        ok = (len(shape) == 2 and shape[0] == n_x and shape[1] >= 1
              and all(isinstance(a, np.ndarray) and a.ndim == 1 and a.flags.c_contiguous
                      and a.flags.aligned and a.dtype.isnative for a in (ptr, idx, val)))
        if ok:
            ok = (val.dtype == self.params.dtype and ptr.dtype == idx.dtype
                  and ptr.dtype in (np.int32, np.int64)
                  and ptr.shape[0] == shape[0 if fmt == "csr" else 1] + 1)
        if not ok:
            raise ValueError(
                f"sparse X must be a ({n_x}, m) CSR or CSC matrix of {self.params.dtype} with "
                f"int32 or int64 indices, as Network.check_X returns it (got {X.dtype} "
                f"{shape}, indices {idx.dtype}); pass X through net.check_X first")
        if whole and shape[1] > 0x7fffffff:
            # (fbp_sp_remap wrote (int32_t)j: column 2**31 became -2**31, and the
            # forward's scratch row ZT + fj G lay 8-16 GiB before the buffer)
            raise ValueError(
                f"a sparse X takes m < 2**31 examples per training call (got {shape[1]}): "
                "the kernel numbers a call's examples with 32-bit integers. Train on "
                "mini-batches of its columns (Network.fit does); predict and evaluate "
                "take any m")
        return fmt == "csr", ptr, idx, val

    cdef _set_x(self, object X_, bint infer=False, bint checked=False):
        """Point the plan at X (n_x, m): any layout with one unit stride, or
        a CSC matrix (the first layer's products are then sparse ones; a
        training and an inference X have scratch buffers of their own, so a
        predict between a forward and its backward leaves the backward's).
        ``checked``: the caller has just run _check_x(X_, not infer)."""
        if not checked:
            self._check_x(X_, not infer)
        if not isinstance(X_, np.ndarray):
            self._set_x_sparse(X_, infer)
            return
        cdef cnp.ndarray X = X_
        cdef Py_ssize_t isz = X.itemsize
        _set_x_layout(&self.p, cnp.PyArray_DATA(X), X.shape[0], X.shape[1],
                      X.strides[0] // isz, X.strides[1] // isz)
        self.X_ref = X

    cdef cnp.ndarray _sp_buf(self, int which, int k, Py_ssize_t n, object dtype):
        """Buffer k of set ``which`` with room for n elements (grown, never shrunk)."""
        cdef list bufs = self.sp_bufs[which]
        cdef cnp.ndarray a = bufs[k]
        if a is None or a.shape[0] < n or a.dtype != dtype:
            a = np.empty(max(n, 1), dtype=dtype)
            bufs[k] = a
        return a

    cdef _set_x_sparse(self, object X, bint infer, bint remap=True):
        """Point the plan at a sparse X, after checking in O(n + nnz) what
        csrc/fastbp_sparse.h's loops read unchecked (indptr non-decreasing
        within the arrays, every index in range).

        A CSR X (n_x, m) (features as compressed rows) is the kernels'
        feature-major form already: its arrays are read as they are (int64
        indices copied to int32). A CSC X is sorted by feature (_sp_remap;
        not with ``remap`` False: predict does it per chunk of columns).
        """
        cdef cnp.ndarray ptr, idx, val, U, fptr, fj
        is_csr, ptr, idx, val = self._check_sparse(X, remap)
        cdef Py_ssize_t n_x = self.dims[0], m = X.shape[1]
        cdef Py_ssize_t nnz = min(idx.shape[0], val.shape[0])
        cdef Py_ssize_t n_ptr = n_x if is_csr else m, n_idx = m if is_csr else n_x
        cdef int rc
        cdef int which = 1 if infer else 0
        cdef const void *pp = cnp.PyArray_DATA(ptr)
        cdef const void *ip = cnp.PyArray_DATA(idx)
        cdef bint i64 = ptr.dtype == np.int64
        with nogil:
            if i64:
                rc = fbp_csc_check_i64(<const int64_t *>pp, <const int64_t *>ip, n_ptr, nnz,
                                       n_idx)
            else:
                rc = fbp_csc_check_i32(<const int32_t *>pp, <const int32_t *>ip, n_ptr, nnz,
                                       n_idx)
        if rc:
            raise ValueError(
                "sparse X is malformed: " + ("its indptr is not non-decreasing within its "
                                             "indices" if rc == 1 else
                                             f"an index lies outside [0, {n_idx})")
                + "; scipy's X.check_format() names the problem")
        if self.sp_mark is None:
            self.sp_mark = np.zeros(n_x, dtype=np.int64)
            self.sp_bufs = [[None] * 5, [None] * 5]
            self.sp_src = [None, None]
            self.sp_all = np.arange(n_x, dtype=np.intp)
        self.X_ref = (X, ptr, idx, val)     # the arrays, even if X's attributes change
        self.sp_src[which] = (ptr, idx, val)
        if not is_csr:
            if remap:
                self._sp_remap(which, 0, m)
            return
        # read as they are, or converted into the set's buffers (an L-BFGS fit
        # passes the same X at every evaluation: no allocation per call)
        fptr = ptr
        if ptr.dtype != np.intp:
            fptr = self._sp_buf(which, 1, n_x + 1, np.intp)[:n_x + 1]
            np.copyto(fptr, ptr)
        fj = idx
        if idx.dtype != np.int32:
            fj = self._sp_buf(which, 2, idx.shape[0], np.int32)[:idx.shape[0]]
            np.copyto(fj, idx, casting="unsafe")    # (< 2**31: checked above)
        self.sp_src[which] = (ptr, idx, val, fptr, fj)      # alive while the plan points here
        self._sp_point(which, <const Py_ssize_t *>cnp.PyArray_DATA(self.sp_all), n_x,
                       <const Py_ssize_t *>cnp.PyArray_DATA(fptr),
                       <const int32_t *>cnp.PyArray_DATA(fj), cnp.PyArray_DATA(val),
                       int(ptr[n_x]) - int(ptr[0]), m)

    cdef void _sp_point(self, int which, const Py_ssize_t *U, Py_ssize_t nu,
                        const Py_ssize_t *fptr, const int32_t *fj, const void *fv,
                        Py_ssize_t nnz, Py_ssize_t m):
        """Point the plan at a feature-major sparse X (NetPlan's xs_* fields)."""
        self.p.X = NULL
        self.p.xs_u = U
        self.p.xs_nu = nu
        self.p.xs_fptr = fptr
        self.p.xs_fj = fj
        self.p.xs_fv = fv
        self.p.xs_nnz = nnz
        self.p.xs_which = which
        self.p.xs_scratch = NULL        # sized by _call for its team
        self.p.m = m

    cdef _sp_remap(self, int which, Py_ssize_t c0, Py_ssize_t c1):
        """Point the plan at columns [c0, c1) of set ``which``'s checked sparse X,
        in the feature-major form the kernels read (fbp_sp_remap_*)."""
        cdef cnp.ndarray ptr, idx, val, U, fptr, fj, fv
        ptr, idx, val = self.sp_src[which][:3]
        cdef Py_ssize_t m = c1 - c0, n_x = self.dims[0], nu = 0
        cdef Py_ssize_t used = int(ptr[c1]) - int(ptr[c0])
        cdef bint i64 = ptr.dtype == np.int64, dbl = self.is_double
        cdef const char *pp = <const char *>cnp.PyArray_DATA(ptr) + c0 * cnp.PyArray_ITEMSIZE(ptr)
        cdef const void *ip = cnp.PyArray_DATA(idx)
        cdef const void *vp = cnp.PyArray_DATA(val)
        cdef int64_t *mark = <int64_t *>cnp.PyArray_DATA(self.sp_mark)
        U = self._sp_buf(which, 0, min(n_x, used), np.intp)
        fptr = self._sp_buf(which, 1, min(n_x, used) + 1, np.intp)
        fj = self._sp_buf(which, 2, used, np.int32)
        fv = self._sp_buf(which, 3, used, self.params.dtype)
        cdef Py_ssize_t *Up = <Py_ssize_t *>cnp.PyArray_DATA(U)
        cdef Py_ssize_t *fp = <Py_ssize_t *>cnp.PyArray_DATA(fptr)
        cdef int32_t *jp = <int32_t *>cnp.PyArray_DATA(fj)
        cdef void *fvp = cnp.PyArray_DATA(fv)
        with nogil:
            if dbl and i64:
                nu = fbp_sp_remap_d_i64(<const int64_t *>pp, <const int64_t *>ip,
                                        <const double *>vp, m, n_x, mark, Up, fp, jp,
                                        <double *>fvp)
            elif dbl:
                nu = fbp_sp_remap_d_i32(<const int32_t *>pp, <const int32_t *>ip,
                                        <const double *>vp, m, n_x, mark, Up, fp, jp,
                                        <double *>fvp)
            elif i64:
                nu = fbp_sp_remap_f_i64(<const int64_t *>pp, <const int64_t *>ip,
                                        <const float *>vp, m, n_x, mark, Up, fp, jp,
                                        <float *>fvp)
            else:
                nu = fbp_sp_remap_f_i32(<const int32_t *>pp, <const int32_t *>ip,
                                        <const float *>vp, m, n_x, mark, Up, fp, jp,
                                        <float *>fvp)
        self._sp_point(which, Up, nu, fp, jp, fvp, used, m)

    cdef _sp_scratch(self, int nb):
        """The plan's sparse scratch: m G values for each of nb threads."""
        cdef cnp.ndarray a = self._sp_buf(self.p.xs_which, 4,
                                          nb * self.p.m * max(<int>FBP_SPG_f, <int>FBP_SPG_d),
                                          self.params.dtype)
        self.p.xs_scratch = cnp.PyArray_DATA(a)

    cdef _sk_scratch(self, int nb, Py_ssize_t m):
        """The plan's buffers for an output layer cut along K (_split_k):
        nb partial products of n_L x m and nb n_L row norms."""
        cdef Py_ssize_t n_out = self.dims[len(self.dims) - 1]
        cdef Py_ssize_t need = nb * n_out * m
        if self.sk_ws is None or self.sk_ws.shape[0] < need:
            self.sk_ws = _aligned_empty(max(need, 1), self.params.dtype)
        if self.sk_l2 is None or self.sk_l2.shape[0] < nb * n_out:
            self.sk_l2 = np.zeros(nb * n_out, dtype=np.float64)
        self.p.skbuf = cnp.PyArray_DATA(<cnp.ndarray>self.sk_ws)
        self.p.skl2 = <double *>cnp.PyArray_DATA(<cnp.ndarray>self.sk_l2)

    cdef _sk_pack_scratch(self, int nb):
        """An epoch call's packed copies of the split output layer (_netstep's
        _sk_pack): for nb blocks of at most n_(L-1)/2 + 16 columns (any
        split into 2 or more blocks), 4 arrays each; none (skpk NULL) where
        they would take more than _SK_PACK_MAX bytes."""
        cdef Py_ssize_t n_out = self.dims[len(self.dims) - 1]
        cdef Py_ssize_t n_in = self.dims[len(self.dims) - 2]
        cdef Py_ssize_t stride = (n_out * (n_in // 2 + 16) + 15) // 16 * 16
        cdef Py_ssize_t need = 4 * nb * stride
        if need * self.params.dtype.itemsize > _SK_PACK_MAX:
            self.p.skpk = NULL
            return
        if self.sk_pk is None or self.sk_pk.shape[0] < need:
            self.sk_pk = _aligned_empty(need, self.params.dtype)
        self.p.skpk = cnp.PyArray_DATA(<cnp.ndarray>self.sk_pk)
        self.p.skpk_stride = stride

    cdef _xt_scratch(self, int nb, Py_ssize_t m):
        """The plan's transposed copies of X (_netstep's _xt_on): nb of
        n_x x m values, each on its own cache lines, while that is at most
        _XT_MAX bytes; none (xtbuf NULL) beyond, or where the BLAS core runs
        NT products as fast as NN (_blas.nt_copy_rule)."""
        cdef Py_ssize_t isz = self.params.dtype.itemsize
        cdef Py_ssize_t need = self.dims[0] * m * isz, stride
        if not _nt_is_slow() or need > _XT_MAX or self.p.xs_u != NULL:
            self.p.xtbuf = NULL
            self.p.xt_copy = 0
            return
        stride = (need + 63) // 64 * 64
        if self.xt_ws is None or self.xt_ws.shape[0] < nb * stride:
            self.xt_ws = _aligned_empty(nb * stride, np.uint8)
        self.p.xtbuf = cnp.PyArray_DATA(<cnp.ndarray>self.xt_ws)
        # (this call's stride, a whole number of lines, whatever an earlier
        # call with fewer threads or a wider X left the buffer's size at)
        self.p.xt_copy = stride

    cdef _set_y(self, object Y_, int yt, bint labels):
        self._check_y(Y_, yt, labels, self.p.m)
        cdef cnp.ndarray Y = Y_
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
        self.Y_ref = Y

    cdef _set_weights(self, object sw):
        """Per-example weights of the batch: None, or float64 (m,) contiguous."""
        if sw is not None:
            _check_weights(sw, self.p.m)
        self.sw_ref = sw
        self.p.sw = <const double *>cnp.PyArray_DATA(<cnp.ndarray>sw) if sw is not None else NULL

    cdef _release_inputs(self):
        """Drop the references to a training call's inputs once it has run
        (:meth:`train_steps`, :meth:`train_epoch`, :meth:`grad_step`: no
        backward may follow them, Network refuses one). Kept, they held a
        fit's X -- the caller's array or the copy the fit made of it, an
        X-sized block -- for as long as the network lived (a fitted
        scikit-learn estimator kept its training data). The plan's pointers
        into them are cleared: every call that reads X, Y or the weights
        points the plan at its own first."""
        self.X_ref = None
        self.Y_ref = None
        self.sw_ref = None
        self.epoch_refs = ()
        if self.sp_src is not None:
            self.sp_src[0] = None
        self.p.X = NULL
        self.p.Y = NULL
        self.p.sw = NULL

    cdef int _blocks(self, int n_threads, Py_ssize_t m) noexcept nogil:
        """Blocks per phase of a step on m examples: n_threads, fewer for small
        steps (``min_flops_per_thread``). Fixed by the shape and n_threads, so
        a step's bits are too; the team that runs them may be smaller."""
        cdef Py_ssize_t work = <Py_ssize_t>self._fwd_work(m)
        cdef Py_ssize_t cap = work // self.min_flops_per_thread
        if cap < 1:
            cap = 1
        return <int>(n_threads if n_threads < cap else cap)

    cdef double _fwd_work(self, Py_ssize_t m) noexcept nogil:
        """Forward flops of a step on m examples: the GEMMs', with a sparse X
        the first layer's 2 n_1 nnz plus its n_1 n_x weights (the backward
        zeroes and updates all of them)."""
        cdef double first
        if self.p.xs_u == NULL:
            return <double>self.fwd_flops * m
        first = 2.0 * self.train_layers[0].n_in * self.train_layers[0].n_out
        return ((<double>self.fwd_flops - first) * m
                + 2.0 * self.train_layers[0].n_out * self.p.xs_nnz + first / 2)

    cdef Py_ssize_t _call(self, int mode, int n_threads, Py_ssize_t n_steps=1,
                          int64_t t0=0, const EpochPlan *ep=NULL, Py_ssize_t b0=0,
                          double *total=NULL, Py_ssize_t *updates=NULL) except -1:
        """Run the phases in ``mode`` n_steps times in one nogil section.

        Step s advances the dropout step (p.step + s); with t0 > 0 its
        optimizer arguments are those of update t0 + s (``_opt_step``).
        Without ``ep`` every step runs on the batch the plan points at and
        steps after the first drop M_LOSS. With ``ep`` (an epoch), step s
        runs on the epoch's mini-batch b0 + s (``_bind_batch``; the blocks
        follow the batch's width) and adds its loss times its width to
        ``total[0]``; a batch whose weights sum to zero makes no update (and
        adds 0), so the update and dropout counts advance by the updates
        made (``updates[0]``). Stops early on a bad label or a non-finite
        loss (the plan then holds that step's loss_sum and l2_sum, and
        ``self.last_n`` its n); returns the number of steps (batches) done.
        """
        cdef int nb, nt, prev, m_s = mode
        cdef bint timed
        cdef double t_start = 0.0
        cdef Py_ssize_t s, done = 0, u = 0
        cdef double n = <double>self.p.m
        cdef uint64_t step0 = self.p.step
        cdef LayerPlan *lys = self.infer_layers if not (mode & M_TRAIN) else self.train_layers
        cdef TeamChooser *ch = &self.chooser[_ch_class(mode)]
        nb = self._blocks(n_threads, self.p.m)
        if self.p.xs_u != NULL:
            self._sp_scratch(nb)
        # the widest batch this call runs
        m_max = max(self.p.m, ep.batch if ep != NULL else 0)
        self.p.skpk_call = 0
        if n_threads > 1 and len(self.dims) > 2:
            # for n_threads blocks: a step's nb never exceeds it, however its
            # work is counted (an epoch's batches are dense whatever X the
            # plan held before: sizing by _blocks with a sparse X's count
            # overran it)
            self._sk_scratch(n_threads, m_max)
            if ep != NULL:      # an epoch call runs the split layer on packed copies
                self._sk_pack_scratch(n_threads)
                self.p.skpk_call = self.p.skpk != NULL
        self._xt_scratch(max(n_threads, 1), m_max)
        self.p.bad_label = 0
        self.p.nonfinite = 0
        self.p.loss_sum = 0.0
        self.p.l2_sum = 0.0
        self.p.skpk_nb = 0
        with nogil:
            prev = _blas_begin(1)
            for s in range(n_steps):
                if ep != NULL:
                    n = _bind_batch(&self.p, ep, (b0 + s) * ep.batch)
                    if n == 0.0:        # as Network.train_batch: no step, loss 0
                        total[0] = fbp_add_batch_loss(total[0], 0.0, self.p.m)
                        done += 1
                        continue
                    nb = self._blocks(n_threads, self.p.m)
                    self.last_n = n
                self.p.step = step0 + u
                if t0 > 0:
                    _opt_step(&self.p, t0 + u)
                nt = nb
                timed = nb > 1 and self.team_policy <= 0
                if timed:
                    _ch_start(ch, self._fwd_work(self.p.m)
                              * (3.0 if mode & M_BACKWARD else 1.0))
                if nb > 1 and self.team_policy > 0:
                    nt = min(nb, self.team_policy)
                elif timed:
                    if _ch_solo(ch):
                        nt = 1
                    t_start = fbp_wtime()
                if self.is_double:
                    _run(<double *>self.p.params, &self.p, lys, m_s, nb, nt)
                else:
                    _run(<float *>self.p.params, &self.p, lys, m_s, nb, nt)
                if timed:
                    _ch_record(ch, fbp_wtime() - t_start, self.p.m)
                if self.p.bad_label or self.p.nonfinite:
                    break
                done += 1
                u += 1
                if ep != NULL:
                    total[0] = fbp_add_batch_loss(
                        total[0], self.p.loss_sum / n / ep.data_div
                        + fbp_l2_term(self.p.l2_sum, self.p.lambd, n), self.p.m)
                else:
                    m_s = mode & ~M_LOSS
            if self.p.skpk_nb != 0:     # the flat buffers current again
                if self.is_double:
                    _sk_unpack(<double *>self.p.params, &self.p, &lys[self.p.L - 1])
                else:
                    _sk_unpack(<float *>self.p.params, &self.p, &lys[self.p.L - 1])
            self.p.skpk_call = 0
            _blas_end(prev)
        if updates != NULL:
            updates[0] = u
        return done

    cdef _set_batch(self, object X, object Y, int yt, bint labels, double lambd,
                    double gscale, double l2scale, bint dropout, uint64_t seed, uint64_t step,
                    Py_ssize_t mask_ld, Py_ssize_t mask_off):
        """Point the plan at a training batch (workspaces sized for it)."""
        self._check_x(X)        # (before X.shape[1] sizes the workspaces)
        self._ensure(X.shape[1])
        self._set_x(X, False, True)
        self._set_y(Y, yt, labels)
        self.p.lambd = lambd
        self.p.gscale = gscale
        self.p.l2scale = l2scale
        self._set_dropout(dropout, seed, step, mask_ld, mask_off)

    cdef void _set_dropout(self, bint dropout, uint64_t seed, uint64_t step,
                           Py_ssize_t mask_ld, Py_ssize_t mask_off):
        """Which dropout masks the next training-mode forward draws."""
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

    def forward_train(self, object X, bint dropout, uint64_t seed, uint64_t step,
                      int n_threads):
        """Forward that keeps every layer's activations for backward."""
        self._check_x(X)        # (before X.shape[1] sizes the workspaces)
        self._ensure(X.shape[1])
        self._set_x(X, False, True)
        self._set_dropout(dropout, seed, step, X.shape[1], 0)
        self._call(M_FORWARD | M_TRAIN, n_threads)
        self.have_forward = True
        self.forward_count += 1

    def output(self):
        """View of the last training-mode forward's output A[L] (n_L, m)."""
        cdef LayerPlan *ly = &self.train_layers[self.p.L - 1]
        cdef Py_ssize_t n = ly.n_out, m = self.p.m
        for a in self.ws:
            if cnp.PyArray_DATA(a) == ly.A:
                return a[:n * m].reshape(n, m)
        raise RuntimeError("fastbp internal error: output buffer not found")

    def backward(self, object Y, int yt, bint labels, double lambd, int n_threads):
        """dZ[L] = A[L] - Y and the backward pass into the gradient buffer.

        Returns (loss_sum, l2_sum, bad_label).
        """
        self._set_y(Y, yt, labels)
        self._set_weights(None)
        self.p.lambd = lambd
        self.p.gscale = 1.0 / self.p.m
        self.p.l2scale = lambd / self.p.m
        self._call(M_TRAIN | M_LOSS | M_DELTA | M_BACKWARD, n_threads)
        return self.p.loss_sum, self.p.l2_sum, self.p.bad_label

    def train_steps(self, object X, object Y, int yt, bint labels, double lambd,
                    int opt, double lr, double b1, double b2, double eps, int64_t t0,
                    Py_ssize_t n_steps, bint first_loss, bint check_finite, bint dropout,
                    uint64_t seed, uint64_t step0, int n_threads, object sample_weight=None,
                    bint check_targets=True):
        """``n_steps`` full training steps (forward, loss, backward, update) on
        the same batch in one nogil call.

        Step s (from 0) is optimizer update ``t0 + s`` and dropout step
        ``step0 + s``. Only step 0 computes the loss, and only when
        ``first_loss``. ``check_finite``: a non-finite step-0 loss stops
        before its update (status 2); otherwise non-finite values are
        carried on, as plain NumPy gradient descent does.

        ``sample_weight``: None, or float64 (m,) C-contiguous per-example
        weights; the gradients are then divided by their sum (added in
        order, ``_sw_sum``) instead of m and the loss is the weighted mean.
        Weights summing to zero make no step (the batch carries no
        information): status 3, nothing done.

        Returns (loss, l2, status, steps_done): step 0's cost as its data
        term ``loss_sum / n`` and its L2 term ``lambd / (2 n) ||W||^2`` (0.0
        when lambd is 0), n being m or the weights' sum (both None without
        ``first_loss``); status 0 ok, 1 label out of range, 2 non-finite
        loss (no update made for that step).

        ``check_targets``: flag targets outside the loss's domain while
        computing the loss (status 1); False for targets already checked.
        """
        cdef int mode = M_FORWARD | M_TRAIN | M_DELTA | M_BACKWARD | M_UPDATE
        cdef Py_ssize_t done
        if first_loss:
            mode |= M_LOSS
        if not check_finite:
            mode |= M_NOCHECK
        cdef double n
        if n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}")
        self._check_x(X)        # before X.shape[1] sizes the weights' sum
        n = <double>X.shape[1]
        if sample_weight is not None:
            _check_weights(sample_weight, X.shape[1])
            n = _sw_sum(<const char *>cnp.PyArray_DATA(sample_weight), 8, NULL, X.shape[1])
            if n == 0.0:
                return None, None, 3, 0
        try:
            self._set_batch(X, Y, yt, labels, lambd, 1.0 / n, lambd / n,
                            dropout, seed, step0, X.shape[1], 0)
            self._set_weights(sample_weight)
            self._set_opt(opt, lr, b1, b2, eps, 1.0, 1.0)
            self.p.check_targets = check_targets
            done = self._call(mode, n_threads, n_steps, t0)
        finally:
            self.p.check_targets = 1
            self._release_inputs()
        self.have_forward = True
        self.forward_count += 1
        status = 1 if self.p.bad_label else (2 if self.p.nonfinite else 0)
        if not first_loss:
            return None, None, status, done
        return self.p.loss_sum / n, fbp_l2_term(self.p.l2_sum, lambd, n), status, done

    cdef _set_epoch(self, tuple arrays, order, Py_ssize_t batch, double data_div,
                    int n_threads):
        """Fill the epoch plan: the per-example arrays (in EX_* order), the
        order (None: in order), the batch size and the data term's divisor
        in the loss total; gather workspaces for
        ``batch`` examples, allocated once and reused by later epochs. On a
        team, each thread gathers X into its own copy, up to _X_COPY_MAX
        bytes a copy: a thread's first layer reads all of X, and reading
        the lines another core gathered cost a digits step on two threads
        about 4 us (bench/RESULTS.md, twenty-eighth session); beyond that
        size the step's GEMMs dwarf the handoff."""
        cdef EpochPlan *ep = &self.ep
        cdef ExArray *ar
        cdef cnp.ndarray a, w
        cdef Py_ssize_t i, need
        # (an if, not a conditional expression: Cython's temporary for the
        # latter drops the const, a -Wdiscarded-qualifiers warning)
        if order is None:
            ep.order = NULL
        else:
            ep.order = <const Py_ssize_t *>cnp.PyArray_DATA(order)
        ep.n_ex = (<cnp.ndarray>arrays[EX_X]).shape[1] if order is None else order.shape[0]
        ep.batch = batch
        ep.data_div = data_div
        ep.n_arrays = len(arrays)
        for i in range(ep.n_arrays):
            a = arrays[i]
            ar = &ep.arr[i]
            ar.src = <const char *>cnp.PyArray_DATA(a)
            ar.itemsize = a.itemsize
            if a.ndim == 1:       # a vector: one element per example
                ar.n = 1
                ar.f_stride = 0
                ar.ex_stride = a.strides[0]
            else:                 # (n, m): examples are columns
                ar.n = a.shape[0]
                ar.f_stride = a.strides[0]
                ar.ex_stride = a.strides[1]
            ar.dst = NULL
            ar.copies = 0
            if order is not None:
                need = batch * ar.n * ar.itemsize
                if i == EX_X and n_threads > 1 and need <= _X_COPY_MAX:
                    # one copy per thread, each on its own cache lines (_gather)
                    ar.copies = (need + 63) // 64 * 64
                    need = ar.copies * n_threads
                if i >= len(self.gather_ws):
                    self.gather_ws.append(np.empty(0, dtype=np.uint8))
                w = self.gather_ws[i]
                if w.shape[0] < need:
                    w = _aligned_empty(need, np.uint8)
                    self.gather_ws[i] = w
                ar.dst = <char *>cnp.PyArray_DATA(w)
        self.epoch_refs = arrays + (order,)

    def train_epoch(self, cnp.ndarray X, object Y, int yt, bint labels, order,
                    Py_ssize_t batch, Py_ssize_t start, Py_ssize_t n_batches,
                    double loss_total, double lambd, int opt, double lr, double b1, double b2,
                    double eps, int64_t t0, bint dropout, uint64_t seed, uint64_t step0,
                    int n_threads, object sample_weight=None, double data_div=1.0):
        """Mini-batches ``start .. start + n_batches - 1`` of an epoch, each a full
        training step, in one nogil call.

        The epoch is the examples ``order`` of (X, Y) (an intp array of
        column indices; None: every column in order), cut into batches of
        ``batch`` (the last may be smaller). With an order, each batch's
        examples are first gathered (threaded) into workspaces, examples as
        rows, as fastbp._fit's per-batch loop does; without, the batch is a
        column range of X and Y. Step s (from 0) is optimizer update
        ``t0 + s`` and dropout step ``step0 + s``, scaled by its own width
        (gradients ``1/b``, L2 ``lambd/b``), exactly as :meth:`train_steps`
        on that batch. X (n_x, m) has one unit stride (checked by the
        caller), Y is (n_L, m) or labels (m,) with any element strides,
        ``sample_weight`` None or float64 C-contiguous (m,) (gathered and
        applied per batch as :meth:`train_steps` applies a batch's weights;
        a batch whose weights sum to zero makes no update and adds 0).
        ``data_div`` (> 0) divides each batch's data term in the total
        (scikit-learn's squared error, a mean over the outputs: n_L).

        Returns (loss_total, batches_done, updates_done, status, loss, l2):
        ``loss_total`` plus each completed batch's cost (data term / data_div
        + L2 term) times its width, added in batch order; status as :meth:`train_steps`'s; ``loss`` and
        ``l2`` the cost terms (as :meth:`train_steps` returns them) of the
        batch that stopped the call (status 1 or 2), else of the last batch
        that made an update (None if none did).
        """
        cdef int mode = M_FORWARD | M_TRAIN | M_LOSS | M_DELTA | M_BACKWARD | M_UPDATE
        cdef Py_ssize_t done, updates = 0
        cdef double total = loss_total
        if n_batches <= 0:
            return loss_total, 0, 0, 0, None, None
        self._check_x(X)
        self._check_y(Y, yt, labels, X.shape[1])
        if sample_weight is not None:
            _check_weights(sample_weight, X.shape[1])
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        if not data_div > 0.0:
            raise ValueError(f"data_div must be > 0, got {data_div}")
        if order is not None:
            mode |= M_GATHER
        self._set_epoch((X, Y) if sample_weight is None else (X, Y, sample_weight), order,
                        batch, data_div, n_threads)
        self._ensure(min(batch, self.ep.n_ex))
        # the batches are dense (_bind_batch points the plan at them): a
        # sparse X an earlier call left in the plan must not count here
        self.p.xs_u = NULL
        self.p.yt = yt
        self.p.labels = labels
        self.p.lambd = lambd
        self._set_dropout(dropout, seed, step0, 0, 0)
        self._set_opt(opt, lr, b1, b2, eps, 1.0, 1.0)
        self.X_ref = self.epoch_refs
        self.Y_ref = None
        self.p.loss_sum = 0.0
        self.p.check_targets = 0        # fit checked the targets' domain once, up front
        try:
            done = self._call(mode, n_threads, n_batches, t0, &self.ep, start, &total,
                              &updates)
        finally:
            self.p.ep = NULL
            self.p.check_targets = 1
            self._release_inputs()
        self.have_forward = True
        self.forward_count += 1
        status = 1 if self.p.bad_label else (2 if self.p.nonfinite else 0)
        if updates == 0 and status == 0:
            return total, done, updates, status, None, None
        n = self.last_n
        return (total, done, updates, status, self.p.loss_sum / n,
                fbp_l2_term(self.p.l2_sum, lambd, n))

    def grad_step(self, object X, object Y, int yt, bint labels, double lambd,
                  double gscale, double l2scale, Py_ssize_t mask_ld, Py_ssize_t mask_off,
                  bint dropout, uint64_t seed, uint64_t step, int n_threads,
                  object sample_weight=None, bint check_targets=True):
        """Forward + loss + backward, no update: one rank's share of a data-parallel step.

        ``dW = gscale dZ A^T + l2scale W`` and ``db = gscale sum_j dZ``; the
        dropout mask of element (i, j) hashes ``i mask_ld + mask_off + j``.
        The caller sums the gradient buffers of all ranks, then calls
        :meth:`update`. Returns (loss_sum, l2_sum, status) as
        :meth:`train_steps` does, except that a non-finite loss is not checked here (status 0
        or 1): the caller decides on the reduced loss. ``sample_weight``
        (None, or float64 (m,) contiguous) weighs the columns' losses and
        deltas; gscale and l2scale then carry 1 / sum(weights).
        ``check_targets``: as :meth:`train_steps`'s (False: a target value
        outside the loss's domain is not flagged and the backward runs; a
        class index out of range is flagged always).
        """
        try:
            self._set_batch(X, Y, yt, labels, lambd, gscale, l2scale, dropout, seed, step,
                            mask_ld, mask_off)
            self._set_weights(sample_weight)
            self.p.check_targets = check_targets
            self._call(M_FORWARD | M_TRAIN | M_LOSS | M_DELTA | M_BACKWARD, n_threads)
        finally:
            self.p.check_targets = 1
            self._release_inputs()
        self.have_forward = True
        self.forward_count += 1
        return self.p.loss_sum, self.p.l2_sum, 1 if self.p.bad_label else 0

    def update(self, int opt, double lr, double b1, double b2, double eps, double c1,
               double c2, int n_threads):
        """Apply one optimizer update from the gradient buffer (no forward/backward)."""
        self._set_opt(opt, lr, b1, b2, eps, c1, c2)
        self._call(M_UPDATE, n_threads)

    def predict(self, object X, cnp.ndarray out, int n_threads, Py_ssize_t chunk=2048,
                cnp.ndarray out_z=None):
        """Inference forward of X (n_x, M) into out (n_L, M), C-contiguous, and
        the output's logits Z[L] into out_z (same shape) when given.

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
        cdef bint sparse = not isinstance(X, np.ndarray)
        if sparse:
            if getattr(X, "format", None) == "csr" and M > chunk:
                X = X.tocsc()       # column chunks: a CSR X's columns are not contiguous
            self._check_x(X, False)
            self._set_x_sparse(X, True, X.format == "csr")
        else:
            self._set_x(X, True)
        x0 = <const char *>self.p.X
        self.p.smbuf = cnp.PyArray_DATA(sm)
        self.p.dropout = 0
        try:
            c0 = 0
            while c0 < M:
                c1 = min(M, c0 + chunk)
                w = c1 - c0
                self.p.m = w
                if sparse and X.format == "csc":
                    self._sp_remap(1, c0, c1)
                elif self.p.x_trans:
                    self.p.X = x0 + c0 * self.p.x_ld * isz
                else:
                    self.p.X = x0 + c0 * isz
                self._call(M_FORWARD, n_threads)
                src = <char *>last.A
                for i in range(n_out):
                    memcpy(dst + (i * M + c0) * isz, src + i * w * isz, w * isz)
                if out_z is not None:
                    src = <char *>last.Z
                    for i in range(n_out):
                        memcpy(<char *>cnp.PyArray_DATA(out_z) + (i * M + c0) * isz,
                               src + i * w * isz, w * isz)
                c0 = c1
        finally:
            self.X_ref = saved_X
            self.p = saved
            if sparse:
                # the predicted X's arrays (or the CSC copy made above) are not
                # the training set's: kept, they outlived the call
                self.sp_src[1] = None
        return out
