"""A dense network whose training step is one compiled call.

Parameters live in ONE flat contiguous buffer and gradients in another;
``net.parameters`` and ``net.grads`` are dicts of views into them with the
course's keys (``"W1"``, ``"b1"``, ... / ``"dW1"``, ``"db1"``, ...), so the
functions of :mod:`fastbp.course` accept them. Examples are columns:
``X`` is (n_x, m).
"""
import math
import numbers
import operator

import numpy as np

from fastbp import _network
from fastbp._openmp_helpers import effective_n_threads
from fastbp.optim import Optimizer, SGD

__all__ = ["Network", "ACTIVATIONS", "OUTPUTS", "INITS"]

ACTIVATIONS = _network.ACTIVATIONS
#: output non-linearity -> loss it is trained with
OUTPUTS = {"sigmoid": "binary_crossentropy", "softmax": "crossentropy", "identity": "mse"}
INITS = ("he", "xavier", "course")
_DEFAULT_ALPHA = {"leaky_relu": 0.01, "elu": 1.0}
_ACT_CODE = {name: i for i, name in enumerate(ACTIVATIONS)}
_Y_CODES = _network.Y_CODES
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_GRAD_TAIL = 2      # spare slots after the gradients: loss, failed-rank count


def _shape(a):
    return "(" + ", ".join(str(s) for s in a.shape) + ("," if a.ndim == 1 else "") + ")"


class Network:
    """Fully-connected network trained with one fused compiled call per step.

    Parameters
    ----------
    layer_dims : sequence of int
        ``[n_x, n_1, ..., n_L]``: input size, hidden sizes, output size.
    hidden : str or sequence of str, default "relu"
        Activation of the hidden layers: one name for all, or one per hidden
        layer. Any of :data:`ACTIVATIONS`.
    output : {"sigmoid", "softmax", "identity"}, default "sigmoid"
        Output non-linearity; it fixes the loss: binary cross-entropy,
        cross-entropy, mean squared error ``1/(2m) sum (AL - Y)^2``.
    alpha : float, optional
        Slope of leaky_relu / scale of elu (defaults 0.01 / 1.0).
    dtype : {"float32", "float64"}, default "float32"
    seed : int, optional
        Seeds the initialisation and the dropout masks.
    init : {"he", "xavier", "course"}, default "he"
        ``randn * sqrt(2 / n_prev)``, ``randn * sqrt(1 / n_prev)`` (the
        course's Xavier) or ``randn * 0.01``. Biases start at zero.
    lambd : float, default 0.0
        L2 strength with the course's semantics: cost ``+ lambd/(2m) sum ||W||^2``,
        ``dW += (lambd/m) W``.
    keep_prob : float or sequence of float, default 1.0
        Inverted-dropout keep probability for each hidden layer's output
        (1.0 = no dropout). Active in :meth:`train_step` and :meth:`fit`
        only. Masks come from a counter-based hash of (seed, step, layer,
        element), so they do not depend on the thread count.
    n_threads : int, optional
        Threads for the compiled step (None = all cores).

    Attributes
    ----------
    parameters : dict of ndarray
        ``{"W1": (n_1, n_x), "b1": (n_1, 1), ...}``, views into one flat buffer.
    grads : dict of ndarray
        ``{"dW1", "db1", ...}`` of the last :meth:`backward` / :meth:`train_step`.
    flat_parameters, flat_grads : ndarray (n_params,)
        The buffers themselves.
    """

    def __init__(self, layer_dims, hidden="relu", output="sigmoid", *, alpha=None,
                 dtype="float32", seed=None, init="he", lambd=0.0, keep_prob=1.0,
                 n_threads=None):
        self.layer_dims = self._check_dims(layer_dims)
        L = len(self.layer_dims) - 1
        self.hidden = self._check_hidden(hidden, L)
        if output not in OUTPUTS:
            raise ValueError(f"unknown output {output!r}; valid: {sorted(OUTPUTS)} "
                             "(sigmoid: binary cross-entropy, softmax: cross-entropy, "
                             "identity: mean squared error)")
        if output == "softmax" and self.layer_dims[-1] < 2:
            raise ValueError("a softmax output needs at least 2 units; for two classes use "
                             "output='sigmoid' with 1 unit")
        self.output = output
        self.loss_name = OUTPUTS[output]
        if alpha is not None:
            alpha = float(alpha)
            if not math.isfinite(alpha):
                raise ValueError(f"alpha must be finite, got {alpha}")
        self.alpha = alpha
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"dtype must be 'float32' or 'float64', got {dtype!r}") from None
        if dt not in _DTYPES:
            raise TypeError(f"dtype must be 'float32' or 'float64', got {dt}")
        self.dtype = dt
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; valid: {INITS}")
        self.init = init
        if seed is not None:
            seed = operator.index(seed)
            if seed < 0:
                raise ValueError(f"seed must be a non-negative int, got {seed}")
        self.seed = seed
        self.lambd = self._check_lambd(lambd)
        self.keep_prob = self._check_keep_prob(keep_prob, L)
        self.n_threads = n_threads
        self._build()
        self.reset_parameters()

    # ------------------------------------------------------------ validation
    @staticmethod
    def _check_dims(layer_dims):
        try:
            dims = list(layer_dims)
        except TypeError:
            raise TypeError("layer_dims must be a sequence of ints like [n_x, n_1, ..., n_L], "
                            f"got {type(layer_dims).__name__}") from None
        if len(dims) < 2:
            raise ValueError("layer_dims needs at least an input and an output size, "
                             f"e.g. [n_x, n_y]; got {dims}")
        out = []
        for i, d in enumerate(dims):
            if isinstance(d, (bool, np.bool_)) or not isinstance(d, numbers.Integral):
                raise TypeError(f"layer_dims[{i}] must be an int, got {type(d).__name__} {d!r}")
            if d < 1:
                raise ValueError(f"layer_dims[{i}] must be >= 1, got {d}")
            if d > 2**31 - 1:
                raise ValueError(f"layer_dims[{i}] = {d} is too large (BLAS takes 32-bit sizes)")
            out.append(int(d))
        return tuple(out)

    @staticmethod
    def _check_hidden(hidden, L):
        names = [hidden] * (L - 1) if isinstance(hidden, str) else list(hidden)
        if len(names) != L - 1:
            raise ValueError(f"hidden must be one activation name or a list of {L - 1} "
                             f"(one per hidden layer); got {len(names)}")
        for name in names:
            if name not in _ACT_CODE:
                raise ValueError(f"unknown activation {name!r}; valid: {ACTIVATIONS}")
        return tuple(names)

    @staticmethod
    def _check_lambd(lambd):
        if isinstance(lambd, bool) or not isinstance(lambd, numbers.Real):
            raise TypeError(f"lambd must be a real number, got {type(lambd).__name__}")
        lambd = float(lambd)
        if not (math.isfinite(lambd) and lambd >= 0):
            raise ValueError(f"lambd must be a finite number >= 0, got {lambd}")
        return lambd

    @staticmethod
    def _check_keep_prob(keep_prob, L):
        if isinstance(keep_prob, numbers.Real) and not isinstance(keep_prob, bool):
            kps = [float(keep_prob)] * (L - 1)
        else:
            kps = [float(k) for k in keep_prob]
            if len(kps) != L - 1:
                raise ValueError(f"keep_prob must be one float or a list of {L - 1} "
                                 f"(one per hidden layer); got {len(kps)}")
        for k in kps:
            if not (0.0 < k <= 1.0):
                raise ValueError(f"keep_prob values must be in (0, 1], got {k}")
        return tuple(kps)

    @property
    def n_threads(self):
        """Threads of the compiled step (None = all cores)."""
        return self._n_threads_arg

    @n_threads.setter
    def n_threads(self, value):
        self._nt = effective_n_threads(value)
        self._n_threads_arg = value

    # ------------------------------------------------------------- buffers
    def _build(self):
        dims = self.layer_dims
        L = len(dims) - 1
        w_off, b_off, pos = [], [], 0
        for l in range(L):
            w_off.append(pos)
            pos += dims[l + 1] * dims[l]
            b_off.append(pos)
            pos += dims[l + 1]
        self.n_params = pos
        self._flat_params = np.zeros(pos, dtype=self.dtype)
        # The gradient buffer carries _GRAD_TAIL spare slots after the
        # gradients, so a data-parallel step sums gradients, loss and error
        # count across processes in ONE in-place Allreduce (fastbp.distributed).
        self._grad_store = np.zeros(pos + _GRAD_TAIL, dtype=self.dtype)
        self._flat_grads = self._grad_store[:pos]
        self._params, self._grads = {}, {}
        for l in range(L):
            n, k = dims[l + 1], dims[l]
            self._params[f"W{l + 1}"] = self._flat_params[w_off[l]:w_off[l] + n * k].reshape(n, k)
            self._params[f"b{l + 1}"] = self._flat_params[b_off[l]:b_off[l] + n].reshape(n, 1)
            self._grads[f"dW{l + 1}"] = self._flat_grads[w_off[l]:w_off[l] + n * k].reshape(n, k)
            self._grads[f"db{l + 1}"] = self._flat_grads[b_off[l]:b_off[l] + n].reshape(n, 1)
        acts = [_ACT_CODE[h] for h in self.hidden]
        acts.append(_ACT_CODE["sigmoid" if self.output == "sigmoid" else "identity"])
        alphas = [(_DEFAULT_ALPHA.get(h, 0.0) if self.alpha is None else self.alpha)
                  for h in self.hidden] + [0.0]
        self._kernel = _network.NetKernel(
            list(dims), acts, alphas, list(self.keep_prob) + [1.0], self.loss_name,
            self.output == "softmax", self._flat_params, self._flat_grads, w_off, b_off)
        self._dropout = any(k < 1.0 for k in self.keep_prob)
        self._dropout_seed = (self.seed if self.seed is not None
                              else int(np.random.SeedSequence().entropy)) % (2**64)
        self._step = 0          # counter feeding the dropout hash
        self._last_m = None
        self.optimizer = None
        self._replica = None    # fastbp.distributed state, made by the first comm= call

    def reset_parameters(self, seed=None):
        """(Re)initialise W with ``init`` and b with zeros.

        Parameters
        ----------
        seed : int, optional
            Defaults to the network's seed.
        """
        rng = np.random.default_rng(self.seed if seed is None else seed)
        dims = self.layer_dims
        for l in range(1, len(dims)):
            n, k = dims[l], dims[l - 1]
            scale = {"he": math.sqrt(2.0 / k), "xavier": math.sqrt(1.0 / k),
                     "course": 0.01}[self.init]
            self._params[f"W{l}"][...] = rng.standard_normal((n, k)) * scale
            self._params[f"b{l}"][...] = 0.0
        self._flat_grads[...] = 0.0
        self._kernel_invalidate()

    def _kernel_invalidate(self):
        self._last_m = None

    @property
    def parameters(self):
        """dict of views ``{"W1": (n_1, n_x), "b1": (n_1, 1), ...}`` into the flat buffer.

        Assigning a dict (e.g. the course API's output) copies its arrays in.
        """
        return self._params

    @parameters.setter
    def parameters(self, new):
        for key, view in self._params.items():
            if key not in new:
                raise KeyError(f"parameters is missing {key!r}; expected keys "
                               f"{list(self._params)}")
            a = np.asarray(new[key])
            if a.size != view.size or (a.ndim == 2 and a.shape != view.shape):
                raise ValueError(f"parameters[{key!r}] has shape {a.shape}; expected {view.shape}")
            if a is not view:
                view[...] = a.reshape(view.shape)

    @property
    def grads(self):
        """dict of views ``{"dW1", "db1", ...}`` into the flat gradient buffer."""
        return self._grads

    @property
    def flat_parameters(self):
        return self._flat_params

    @property
    def flat_grads(self):
        return self._flat_grads

    @property
    def n_layers(self):
        return len(self.layer_dims) - 1

    def __repr__(self):
        extra = ""
        if self.lambd:
            extra += f", lambd={self.lambd}"
        if self._dropout:
            extra += f", keep_prob={list(self.keep_prob)}"
        hidden = self.hidden[0] if len(set(self.hidden)) == 1 else list(self.hidden)
        return (f"Network({list(self.layer_dims)}, hidden={hidden!r}, output={self.output!r}, "
                f"dtype={self.dtype.name!r}{extra})")

    # ---------------------------------------------------------- input checks
    def _check_x(self, X, name="X"):
        """X as a 2-D array of the network's dtype with one unit stride."""
        if type(X) is not np.ndarray:
            if isinstance(X, np.ndarray):
                X = np.asarray(X)
            else:
                try:
                    X = np.asarray(X)
                except Exception as exc:
                    raise TypeError(f"{name} must be an array of numbers, got "
                                    f"{type(X).__name__}: {exc}") from None
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_x, m) with examples as columns; got shape "
                             f"{_shape(X)}. For a single example use {name}.reshape(-1, 1).")
        n_x = self.layer_dims[0]
        if X.shape[0] != n_x:
            hint = (f" It looks like examples are rows: pass {name}.T (no copy is made)."
                    if X.shape[1] == n_x else "")
            raise ValueError(f"{name} has shape {_shape(X)} but the network expects "
                             f"{n_x} features as rows, (n_x={n_x}, m).{hint}")
        if X.shape[1] == 0:
            raise ValueError(f"{name} has no examples (shape {_shape(X)})")
        if X.dtype != self.dtype:
            if X.dtype.kind not in "biuf":
                raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
            X = X.astype(self.dtype)   # a copy: pass the network's dtype to avoid it
        isz = X.itemsize
        s0, s1 = X.strides
        if not ((s1 == isz or X.shape[1] == 1) and (s0 >= X.shape[1] * isz or X.shape[0] == 1)
                or (s0 == isz or X.shape[0] == 1) and (s1 >= X.shape[0] * isz or X.shape[1] == 1)):
            X = np.ascontiguousarray(X)
        return X

    def _check_y(self, Y, m):
        """(Y array, y-type code, is-labels) for the kernel."""
        if type(Y) is not np.ndarray:
            Y = np.asarray(Y)
        n_out = self.layer_dims[-1]
        if Y.dtype == np.bool_:
            Y = Y.view(np.uint8)
        elif Y.dtype not in _Y_CODES:
            if Y.dtype.kind in "iu":
                Y = Y.astype(np.int64)
            elif Y.dtype.kind == "f":
                Y = Y.astype(self.dtype)
            else:
                raise TypeError(f"Y must hold numbers, got dtype {Y.dtype}")
        labels = False
        if self.output == "softmax" and (Y.ndim == 1 or (Y.ndim == 2 and Y.shape[0] == 1)):
            if Y.dtype.kind not in "iu":
                raise TypeError(f"class labels Y of shape {_shape(Y)} must be integers "
                                f"0..{n_out - 1}, got dtype {Y.dtype}; use Y.astype(int), or "
                                f"pass one-hot labels of shape ({n_out}, m)")
            labels = True
            if Y.ndim == 2:
                Y = Y[0]
            if Y.shape[0] != m:
                raise ValueError(f"Y has {Y.shape[0]} labels but X has {m} examples (columns)")
        else:
            if Y.ndim == 1 and n_out == 1:
                Y = Y.reshape(1, -1)
            if Y.ndim != 2 or Y.shape[0] != n_out or Y.shape[1] != m:
                want = f"({n_out}, {m})"
                if self.output == "softmax":
                    want += f" one-hot, or integer labels of shape ({m},) or (1, {m})"
                raise ValueError(f"Y has shape {_shape(Y)}; expected {want} "
                                 "(outputs as rows, examples as columns)")
        if Y.strides[-1] % Y.itemsize or (Y.ndim == 2 and Y.strides[0] % Y.itemsize):
            Y = np.ascontiguousarray(Y)
        return Y, _Y_CODES[Y.dtype], labels

    def _bad_label_error(self, Y, labels):
        n_out = self.layer_dims[-1]
        return ValueError(f"class labels must be in 0..{n_out - 1} (the network has {n_out} "
                          f"outputs); got values in [{int(np.min(Y))}, {int(np.max(Y))}]")

    # ---------------------------------------------------------- computation
    def forward(self, X, *, training=False):
        """Forward pass, keeping every layer's activations for :meth:`backward`.

        Parameters
        ----------
        X : ndarray (n_x, m)
            C- or F-contiguous (``X_rows.T`` works without a copy).
        training : bool, default False
            Apply dropout (as :meth:`train_step` does).

        Returns
        -------
        AL : ndarray (n_L, m)
            Output activations (a copy).
        """
        X = self._check_x(X)
        if training and self._dropout:
            self._step += 1
        self._kernel.forward_train(X, bool(training and self._dropout), self._dropout_seed,
                                   self._step, self._nt)
        self._last_m = X.shape[1]
        return self._kernel.output().copy()

    def backward(self, Y):
        """Gradients of the cost for the last :meth:`forward`, into :attr:`grads`.

        dZ[L] = AL - Y;  dW[l] = (1/m) dZ[l] A[l-1]^T + (lambd/m) W[l];
        db[l] = (1/m) sum_j dZ[l];  dZ[l-1] = W[l]^T dZ[l] * g'[l-1].

        Parameters
        ----------
        Y : ndarray (n_L, m), or (m,) / (1, m) integer labels for softmax

        Returns
        -------
        grads : dict of ndarray
        """
        if self._last_m is None or not self._kernel.have_forward:
            raise RuntimeError("backward() needs a forward(X) first (on this network, "
                               "since its parameters were last reset)")
        Y, yt, labels = self._check_y(Y, self._last_m)
        _, _, bad = self._kernel.backward(Y, yt, labels, self.lambd, self._nt)
        if bad:
            raise self._bad_label_error(Y, labels)
        return self._grads

    def _opt_state(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError("optimizer must be a fastbp.optim optimizer such as SGD(0.1) or "
                            f"Adam(1e-3), got {type(optimizer).__name__}")
        state = optimizer._bind(self.n_params, self.dtype, id(self._flat_params))
        if optimizer is not self.optimizer or self._bound_state is not state:
            self._kernel.set_optimizer_state(state[0] if len(state) > 0 else None,
                                             state[1] if len(state) > 1 else None)
            self.optimizer = optimizer
            self._bound_state = state

    _bound_state = None

    def train_step(self, X, Y, optimizer, *, comm=None):
        """One training step: forward, loss, backward and update in one compiled call.

        Workspaces are sized at the first call (per largest batch) and reused:
        no allocation happens per step afterwards.

        Parameters
        ----------
        X : ndarray (n_x, m)
        Y : ndarray (n_L, m), or (m,) / (1, m) integer labels for softmax
        optimizer : fastbp.optim.Optimizer
        comm : mpi4py.MPI.Intracomm, optional
            Data-parallel step over the processes of ``comm`` (needs mpi4py,
            see :mod:`fastbp.distributed`). Every rank passes the SAME global
            mini-batch (X, Y); each computes the gradient of its disjoint
            share of the columns, one in-place Allreduce sums them, and every
            rank applies the same update. The first call with a ``comm``
            broadcasts the parameters and optimizer state from rank 0. The
            result equals a one-process step on (X, Y) up to rounding.

        Returns
        -------
        loss : float
            The cost before the update (plus the L2 term when ``lambd > 0``).
            With ``comm``: the global batch's cost, the same on every rank.

        Raises
        ------
        FloatingPointError
            When the loss is not finite; the update is then skipped, so the
            parameters stay the last good ones.
        """
        if comm is not None:
            from fastbp.distributed import _replica_for
            return _replica_for(self, comm).train_step(X, Y, optimizer)
        X = self._check_x(X)
        Y, yt, labels = self._check_y(Y, X.shape[1])
        return self._train_step(X, Y, yt, labels, optimizer)

    def _train_step(self, X, Y, yt, labels, optimizer, n_steps=1, first_loss=True,
                    check_finite=True):
        """n_steps compiled steps on validated (X, Y); see :meth:`_train_steps`."""
        if optimizer is not self.optimizer or optimizer._state is not self._bound_state:
            self._opt_state(optimizer)
        t = optimizer.t + 1
        code, lr, b1, b2, eps, _, _ = optimizer._kernel_args(t)
        loss_sum, l2_sum, status, done = self._kernel.train_steps(
            X, Y, yt, labels, self.lambd, code, lr, b1, b2, eps, t, n_steps, first_loss,
            check_finite, self._dropout, self._dropout_seed, self._step + 1, self._nt)
        self._step += done
        optimizer.t += done
        self._last_m = m = X.shape[1]
        loss = None
        if first_loss:
            loss = loss_sum / m
            if self.lambd:
                loss += self.lambd / (2 * m) * l2_sum
        if status == 1:
            raise self._bad_label_error(Y, labels)
        if status == 2:
            raise FloatingPointError(f"the loss is {loss} (not finite); the update was skipped, "
                                     "the parameters are the last good ones. Lower the "
                                     "learning rate or check the data for NaN/inf.")
        return loss

    def _train_steps(self, X, Y, optimizer, n_steps, *, first_loss=True, check_finite=True):
        """``n_steps`` training steps on one batch in a single compiled call.

        For loops that revisit the same batch (full-batch gradient descent,
        as fastbp.course's model functions): the per-step Python and
        validation cost is paid once. Only the first step's loss is computed
        (when ``first_loss``); ``check_finite=False`` carries non-finite
        values on instead of raising. Returns that loss (None when not
        computed; nan/inf possible with ``check_finite=False``).
        """
        X = self._check_x(X)
        Y, yt, labels = self._check_y(Y, X.shape[1])
        n_steps = int(n_steps)
        if n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}")
        return self._train_step(X, Y, yt, labels, optimizer, n_steps, first_loss,
                                check_finite)

    def apply_update(self, optimizer):
        """Apply ``optimizer`` to the current :attr:`grads` (after :meth:`backward`)."""
        self._opt_state(optimizer)
        optimizer.t += 1
        self._kernel.update(*optimizer._kernel_args(optimizer.t), self._nt)

    def predict_proba(self, X):
        """Output activations for X, without dropout.

        Runs in column chunks through a small private workspace, so a pending
        :meth:`backward` is not disturbed.

        Parameters
        ----------
        X : ndarray (n_x, m)

        Returns
        -------
        AL : ndarray (n_L, m)
            Probabilities for sigmoid/softmax outputs, values for identity.
        """
        X = self._check_x(X)
        out = np.empty((self.layer_dims[-1], X.shape[1]), dtype=self.dtype)
        return self._kernel.predict(X, out, self._nt)

    def predict(self, X):
        """Predictions for X.

        Returns
        -------
        ndarray
            sigmoid: 0/1 of shape (n_L, m) (threshold 0.5); softmax: class
            labels of shape (m,); identity: the outputs (n_L, m).
        """
        AL = self.predict_proba(X)
        if self.output == "sigmoid":
            return (AL > 0.5).astype(np.int64)
        if self.output == "softmax":
            return np.argmax(AL, axis=0)
        return AL

    def evaluate(self, X, Y):
        """(loss, accuracy) on X, Y without dropout.

        The loss is the training cost (with the L2 term when ``lambd > 0``).
        Accuracy is the fraction of correct 0/1 predictions (sigmoid), of
        correct classes (softmax), and NaN for an identity output.
        """
        X = self._check_x(X)
        Yc, _, labels = self._check_y(Y, X.shape[1])
        m = X.shape[1]
        loss_sum, correct = self._eval_sums(X, Yc, labels)
        return self._eval_finish(loss_sum, correct, m)

    def _eval_sums(self, X, Yc, labels):
        """(summed loss over the columns, number correct or NaN) of checked X, Y."""
        AL = self.predict_proba(X).astype(np.float64)
        m = X.shape[1]
        tiny = np.finfo(self.dtype).tiny
        if labels:
            idx = np.asarray(Yc, dtype=np.int64)
            n_out = self.layer_dims[-1]
            if idx.min() < 0 or idx.max() >= n_out:
                raise self._bad_label_error(idx, True)
            p = AL[idx, np.arange(m)]
            loss = -np.sum(np.log(np.maximum(p, tiny)))
            correct = np.sum(np.argmax(AL, axis=0) == idx)
        else:
            Yf = np.asarray(Yc, dtype=np.float64)
            if self.output == "sigmoid":
                loss = -np.sum(Yf * np.log(np.maximum(AL, tiny))
                               + (1 - Yf) * np.log(np.maximum(1 - AL, tiny)))
                correct = np.sum((AL > 0.5) == (Yf > 0.5)) / AL.shape[0]
            elif self.output == "softmax":
                loss = -np.sum(Yf * np.log(np.maximum(AL, tiny)))
                correct = np.sum(np.argmax(AL, axis=0) == np.argmax(Yf, axis=0))
            else:
                loss = 0.5 * np.sum((AL - Yf) ** 2)
                correct = float("nan")
        return float(loss), float(correct)

    def _eval_finish(self, loss_sum, correct, m):
        """(loss, accuracy) from :meth:`_eval_sums` totals over m examples."""
        loss = loss_sum / m
        if self.lambd:
            loss += self.lambd / (2 * m) * sum(
                float(np.sum(np.square(self._params[f"W{l}"], dtype=np.float64)))
                for l in range(1, self.n_layers + 1))
        return float(loss), float(correct / m)

    # ------------------------------------------------------------- training
    def fit(self, X, Y, *, epochs=1, batch_size=64, optimizer=None, shuffle=True, seed=None,
            validation_data=None, verbose=True, callback=None, checkpoint_path=None,
            checkpoint_every=1, resume=False, comm=None, replica_check_every=100):
        """Train with mini-batches; see :func:`fastbp.train.fit` for details.

        With ``comm`` (an mpi4py communicator), data-parallel training over
        its processes: see :func:`fastbp.distributed.fit`.

        Returns
        -------
        history : dict
            ``{"loss": [...], "lr": [...]}`` per epoch, plus ``"val_loss"``
            and ``"val_accuracy"`` with ``validation_data``.
        """
        from fastbp.train import fit
        return fit(self, X, Y, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                   shuffle=shuffle, seed=seed, validation_data=validation_data,
                   verbose=verbose, callback=callback, checkpoint_path=checkpoint_path,
                   checkpoint_every=checkpoint_every, resume=resume, comm=comm,
                   replica_check_every=replica_check_every)

    # ---------------------------------------------------------- checkpoints
    def get_config(self):
        """Architecture as a JSON-able dict (``Network(**config)`` rebuilds it)."""
        return {"layer_dims": list(self.layer_dims), "hidden": list(self.hidden),
                "output": self.output, "alpha": self.alpha, "dtype": self.dtype.name,
                "seed": self.seed, "init": self.init, "lambd": self.lambd,
                "keep_prob": list(self.keep_prob)}

    def save(self, path, *, optimizer=None, extra=None):
        """Write a checkpoint (``.npz``) atomically; see :func:`fastbp.train.save_checkpoint`."""
        from fastbp.train import save_checkpoint
        return save_checkpoint(self, path, optimizer=optimizer or self.optimizer, extra=extra)

    @classmethod
    def load(cls, path, *, n_threads=None):
        """Network from a checkpoint written by :meth:`save`.

        The optimizer saved with it (if any) is restored as ``net.optimizer``.
        """
        from fastbp.train import load_checkpoint
        net, _ = load_checkpoint(path, n_threads=n_threads)
        return net


def default_optimizer():
    """The optimizer ``fit`` uses when none is given: SGD(lr=0.01)."""
    return SGD(0.01)
