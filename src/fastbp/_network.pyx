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
The alternative -- each GEMM whole on a BLAS-threaded OpenBLAS -- is timed
on bare GEMMs by bench/bench_train.py ("floor omp" vs "floor blas" rows,
fastbp._bench.gemm_floor). Small steps (under ``min_flops_per_thread``
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
from libc.math cimport pow
from libc.stdint cimport uint64_t, int64_t
from libc.string cimport memcpy
from cpython.mem cimport PyMem_Malloc, PyMem_Free
cimport numpy as cnp

import numpy as np

from fastbp._blas cimport _blas_begin, _blas_end
from fastbp._kernels cimport fbp_deriv_needs_z
from fastbp._netstep cimport *  # the plan structs and the phases of a step
from fastbp._registry cimport *  # the codes (FBP_*)
from fastbp import _registry

cnp.import_array()

# -------------------------------------------------------------- the kernel

cdef class NetKernel:
    """Compiled state of one Network: plan, workspaces, thread count.

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
        ly = &self.infer_layers[self.p.L - 1]
        if self.p.loss != FBP_MSE:
            # the output keeps its logits beside A (predict's out_z, the loss)
            ly.A = cnp.PyArray_DATA(self._buf(self.infer_ws, ly.n_out * m))
            ly.Ad = ly.A
        self.infer_cap = m

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
        cdef int team, prev, m_s = mode
        cdef Py_ssize_t s, done = 0
        cdef uint64_t step0 = self.p.step
        cdef LayerPlan *lys = self.infer_layers if not (mode & M_TRAIN) else self.train_layers
        team = self._team_size(n_threads, self.p.m)
        self.p.bad_label = 0
        self.p.nonfinite = 0
        self.p.loss_sum = 0.0
        self.p.l2_sum = 0.0
        with nogil:
            prev = _blas_begin(1)
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

    def forward_train(self, cnp.ndarray X, bint dropout, uint64_t seed, uint64_t step,
                      int n_threads):
        """Forward that keeps every layer's activations for backward."""
        self._ensure(X.shape[1])
        self._set_x(X)
        self._set_dropout(dropout, seed, step, X.shape[1], 0)
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
                    uint64_t seed, uint64_t step0, int n_threads, bint check_targets=True):
        """``n_steps`` full training steps (forward, loss, backward, update) on
        the same batch in one nogil call.

        Step s (from 0) is optimizer update ``t0 + s`` and dropout step
        ``step0 + s``. Only step 0 computes the loss, and only when
        ``first_loss``. ``check_finite``: a non-finite step-0 loss stops
        before its update (status 2); otherwise non-finite values are
        carried on, as plain NumPy gradient descent does.

        ``check_targets``: flag targets outside the loss's domain while
        computing the loss (status 1); False for targets already checked.

        Returns (loss_sum, l2_sum, status, steps_done): status 0 ok, 1 label
        out of range or outside the loss's domain, 2 non-finite loss (no
        update made for that step).
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
        self.p.check_targets = check_targets
        try:
            done = self._call(mode, n_threads, n_steps, t0)
        finally:
            self.p.check_targets = 1
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

    def predict(self, cnp.ndarray X, cnp.ndarray out, int n_threads, Py_ssize_t chunk=2048,
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
                if out_z is not None:
                    src = <char *>last.Z
                    for i in range(n_out):
                        memcpy(<char *>cnp.PyArray_DATA(out_z) + (i * M + c0) * isz,
                               src + i * w * isz, w * isz)
                c0 = c1
        finally:
            self.X_ref = saved_X
            self.p = saved
        return out
