"""A dense network whose training step is one compiled call.

Parameters live in ONE flat contiguous buffer and gradients in another;
``net.parameters`` and ``net.grads`` are dicts of views into them with the
course's keys (``"W1"``, ``"b1"``, ... / ``"dW1"``, ``"db1"``, ...), so the
functions of :mod:`fastbp.course` accept them. Examples are columns:
``X`` is (n_x, m).
"""
import collections
import copy
import functools
import json
import math
import numbers
import os
import re
import threading
import warnings
import weakref
from collections.abc import Mapping

import numpy as np

from fastbp import _fit, _loss, _network, _validation, checkpoint, distributed
from fastbp._openmp_helpers import effective_n_threads, user_stacklevel
from fastbp._registry import (ACT_CODES, ACTIVATIONS, DEFAULT_ALPHA, LABEL_DTYPES, LOSS_CODES,
                              OUTPUT_LOSS)
from fastbp.optim import Optimizer, optimizer_from_config, schedule_function_name

__all__ = ["Network", "ACTIVATIONS", "OUTPUTS", "INITS"]

#: output non-linearity -> loss it is trained with
OUTPUTS = OUTPUT_LOSS
#: the weight initialisations of ``Network(init=...)``: ``randn * sqrt(2 /
#: n_prev)`` (He et al. 2015), ``randn * sqrt(1 / n_prev)`` (the course's
#: "Xavier") and ``randn * 0.01`` (the course's small random weights)
INITS = ("he", "xavier", "course")
_INIT_CHUNK = 1 << 20   # float64 values drawn per call when W is initialised (8 MB)
_GRAD_TAIL = 3      # spare slots after the gradients: loss, failed-rank count,
                    # new-optimizer count (fastbp.distributed.Replica.step)
#: JSON documents of a checkpoint, and the entries it must hold
_CKPT_DOCUMENTS = ("config", "train", "optimizer")
_CKPT_REQUIRED = ("config", "params", "train")


def _ckpt_array(key):
    """The arrays of a Network checkpoint besides the required ones."""
    return key.startswith("opt_state_")


def _read_checkpoint(path):
    """checkpoint.read of a Network checkpoint, its JSON documents checked to
    be objects (a hand-edited file fails here, naming the entry, not later
    inside the loader)."""
    data = checkpoint.read(path, _CKPT_DOCUMENTS, _CKPT_REQUIRED, _ckpt_array)
    for key in _CKPT_DOCUMENTS:
        if key in data and not isinstance(data[key], dict):
            raise ValueError(f"{os.fspath(path)!r}: corrupted checkpoint: its {key!r} entry "
                             f"is a JSON {type(data[key]).__name__}, not an object")
    if "optimizer" in data and not isinstance(data["optimizer"].get("config"), dict):
        raise ValueError(f"{os.fspath(path)!r}: corrupted checkpoint: its optimizer entry "
                         "has no 'config' object")
    return data


#: ``train`` entries :meth:`Network.save` writes itself (its dropout state)
_OWN_TRAIN_KEYS = ("step", "dropout_seed")
#: the history lists a fit continues on resume
_FIT_HISTORY = ("loss", "lr", "val_loss", "val_accuracy")


def _check_extra(extra):
    """``Network.save``'s ``extra``: a dict whose entries do not overwrite the
    network's own (``step``, ``dropout_seed``) and, for the two entries a fit
    reads back on resume, have the form it reads (``epoch`` a non-negative
    int, ``history`` a dict of lists of numbers), so that save never writes
    a file :meth:`Network.load` or ``fit(resume=True)`` refuses."""
    if extra is None:
        return
    if not isinstance(extra, dict):
        raise TypeError(f"extra must be a dict of JSON-able entries, got "
                        f"{type(extra).__name__}")
    own = [k for k in _OWN_TRAIN_KEYS if k in extra]
    if own:
        raise ValueError(f"extra must not hold {', '.join(map(repr, own))}: the network "
                         "saves its own dropout state under those names (step_count, "
                         "dropout_seed); store yours under other keys")
    if "epoch" in extra:
        e = extra["epoch"]
        if (isinstance(e, bool) or not isinstance(e, (int, np.integer)) or e < 0
                or e > 2**63 - 1):      # the range load reads
            raise ValueError(f"extra['epoch'] must be a non-negative int below 2**63 (the "
                             f"epochs done, which fit(resume=True) continues from), got {e!r}")
    if "history" in extra:
        h = extra["history"]
        if not checkpoint.history_is_lists(h, _FIT_HISTORY):
            raise ValueError("extra['history'] must be a dict whose entries "
                             f"{', '.join(map(repr, _FIT_HISTORY))} are lists of numbers, "
                             "one per epoch (as fit returns it), which fit(resume=True) "
                             "continues")


def _wrap64(step):
    """The dropout step counter after ``step`` steps: a uint64, as the kernel
    hashes it (a counter set near 2**64 wraps to 0 instead of overflowing
    the call that takes it)."""
    return step % (2**64)


def _checkpoint_int(value, path, field, lo=0, hi=2**63 - 1):
    """An integer field of a checkpoint's metadata, checked to lie in [lo, hi]."""
    try:
        v = int(value)
        if v != value and not isinstance(value, str):
            raise ValueError("not an integer")
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{os.fspath(path)!r}: corrupted checkpoint: {field} is "
                         f"{value!r}, not an integer") from None
    if not lo <= v <= hi:
        raise ValueError(f"{os.fspath(path)!r}: corrupted checkpoint: {field} is {v}, "
                         f"outside [{lo}, {hi}]")
    return v


class _FairLock:
    """A lock that waiting threads take in the order they asked for it.

    ``threading.Lock`` gives no order: the thread that releases it holds the
    GIL and, asking again at once, takes it back before the woken waiter
    runs. A thread pickling or predicting in a loop starved another thread's
    fit that way (40 one-epoch fits took 23 s beside a loop of 34,000 pickles,
    0.3 s alone), and a fit's chunks could starve a save the same way. Here a
    release with threads waiting hands the lock to the first of them, who
    holds it when it wakes; an uncontended acquire is one non-blocking
    ``Lock.acquire``.
    """

    __slots__ = ("_held", "_mutex", "_waiters")

    def __init__(self):
        self._held = threading.Lock()         # locked while a thread holds this lock
        self._mutex = threading.Lock()        # guards _waiters and the hand-over
        # one [locked Lock, handed over] entry per waiting thread
        self._waiters = collections.deque()

    def acquire(self):
        # Waiters queue only while _held is locked, and a release with waiters
        # keeps it locked: a free _held means nobody is waiting.
        if self._held.acquire(False):
            return
        wake = threading.Lock()
        wake.acquire()
        entry = [wake, False]
        try:
            with self._mutex:
                if self._held.acquire(False):     # released while we took the mutex
                    return
                self._waiters.append(entry)
            wake.acquire()                    # released by the handing-over release()
        except BaseException:                 # interrupted (KeyboardInterrupt)
            # anywhere from before the entry was queued to after the wait
            # returned (Python checks for signals after each call): an entry
            # left queued was handed the lock later by nobody's wish, and the
            # lock stayed held for good
            with self._mutex:
                if entry[1]:                  # handed over: pass it on
                    self._release_held()
                else:
                    try:
                        self._waiters.remove(entry)
                    except ValueError:        # not queued yet
                        pass
            raise

    def release(self):
        with self._mutex:
            if not self._held.locked():
                raise RuntimeError("release of an unheld network lock")
            self._release_held()

    def _release_held(self):                  # caller holds _mutex
        if self._waiters:
            entry = self._waiters.popleft()   # _held stays locked, for the waiter now
            entry[1] = True
            entry[0].release()
        else:
            self._held.release()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


# One lock per network, held around each compiled call: the kernel's plan and
# workspaces are per network, so one network's calls run one at a time (threads
# predicting with a shared network raced on its inference buffers and aborted).
# Kept outside the instance, so copies and pickles of a network never see it.
_LOCKS = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.RLock()


def _lock(net):
    lock = _LOCKS.get(net)
    if lock is None:
        with _LOCKS_GUARD:
            lock = _LOCKS.setdefault(net, _FairLock())
    return lock


# fork(): a copy made while another thread held a network's lock would keep
# it locked in the child (whose first call on that network then waits
# forever), and a copy made mid-call could keep a plan the call had swapped
# out (predict borrows the inference buffers). So a fork first takes the
# guard (no new lock is made meanwhile: no code holds a network's lock while
# it makes another's) and every network's lock, waiting without the GIL for
# the calls in progress (at most a chunk of a fit's steps); the parent
# releases them after the fork and the child starts with fresh ones.
# Registered after fastbp._blas's handler, so it runs before it: network
# locks are taken before the BLAS lock, in the order a call takes them.
#
# The waits go on through a signal handler's exception (Ctrl-C while os.fork
# waits for another thread's fit): Python ignores an exception out of a
# before-fork handler and forks anyway, so a wait given up there forked while
# another thread held the lock, and the parent then released that thread's
# lock (a third thread could enter the network beside it, and the holder's
# own release raised "release of an unheld network lock"). The first
# exception is raised after the waits (each ends after a few presses, see
# _acquire_through_signals): Python reports it, as it reports any failing
# at-fork handler, and forks with the locks this handler holds.
_FORK_HELD = []
# the networks whose local fit is running, each with (the thread running it,
# a token of the call); read and changed under _LOCKS_GUARD, which a fork holds
_FITTING = weakref.WeakKeyDictionary()


def _acquire_through_signals(acquire, interrupts=3):
    """``(held, exc)``: call ``acquire()`` until it returns, through up to
    ``interrupts`` exceptions of signal handlers (Ctrl-C); ``held`` whether
    it returned, ``exc`` the first exception or None.

    An interrupted ``threading.Lock`` / ``_FairLock`` acquire holds nothing,
    so the wait goes on. The bound: an exception can also come just after
    an acquire that took the lock (Python checks for signals after the
    call), and the retry then waits for itself; further Ctrl-C presses end
    that wait instead of being swallowed for good."""
    caught = None
    for _ in range(interrupts):
        try:
            acquire()
            return True, caught
        except BaseException as exc:      # waiting is the point
            if caught is None:
                caught = exc
    return False, caught


def _before_fork():
    # _LOCKS_GUARD is re-entrant: a retry after an exception that came just
    # after taking it takes it again instead of waiting for itself, and the
    # parent releases every level it holds
    _, first = _acquire_through_signals(_LOCKS_GUARD.acquire)
    for lk in list(_LOCKS.values()):
        held, exc = _acquire_through_signals(lk.acquire)
        if held:
            _FORK_HELD.append(lk)
        first = first if first is not None else exc
    if first is not None:
        raise first          # (Python reports it; the locks this fork holds are listed)


def _after_fork_in_parent():
    for lk in _FORK_HELD:
        lk.release()
    _FORK_HELD.clear()
    while True:                       # every level this thread holds, none if none
        try:
            _LOCKS_GUARD.release()
        except RuntimeError:
            break


def _after_fork_in_child():
    global _LOCKS, _LOCKS_GUARD
    # a fit another thread was running is not running in the child (that
    # thread is not copied): its entry, copied, would refuse every fit of the
    # network there ("already running") forever
    me = threading.get_ident()
    for net, (ident, _) in list(_FITTING.items()):
        if ident != me:
            del _FITTING[net]
    _LOCKS = weakref.WeakKeyDictionary()
    _LOCKS_GUARD = threading.RLock()
    _FORK_HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                         after_in_child=_after_fork_in_child)


def _fixed_advice(cls_name, name):
    return (f"{name} is fixed when a {cls_name} is built (its compiled plan uses it); "
            f"build a new {cls_name} with the {name} you want (and copy "
            "flat_parameters over when the shapes allow)")


#: a constructor argument the compiled plan is built from: set once (by
#: ``__init__``), read-only afterwards. Reassigning ``net.hidden`` or
#: ``net.keep_prob`` used to change ``repr`` and ``save`` while the kernel
#: kept the old activations and masks: a saved-then-loaded network then
#: predicted something else.
_Fixed = functools.partial(_validation.FixedAfterInit, "_fixed_", _fixed_advice)


def _layout(dims):
    """Where each layer's parameters sit in the flat buffer: ``(w_off, b_off,
    n_params)``, W[l] (C order) then b[l] for l = 1..L (one rule for the
    buffers a network builds and the size a checkpoint must have)."""
    w_off, b_off, pos = [], [], 0
    for k, n in zip(dims, dims[1:]):
        w_off.append(pos)
        pos += n * k
        b_off.append(pos)
        pos += n
    return w_off, b_off, pos


#: a layer's parameter key in Network.parameters: W1, b1, W2, ...
_LAYER_KEY = re.compile(r"[Wb][1-9][0-9]*")


class Network:
    """Fully-connected network trained with one fused compiled call per step.

    Parameters
    ----------
    layer_dims : sequence of int
        ``[n_x, n_1, ..., n_L]``: input size, hidden sizes, output size.
    hidden : str or sequence of str, default "relu"
        Activation of the hidden layers: one name for all, or one per hidden
        layer. Any of :data:`ACTIVATIONS` (formulas and sources: the Notes of
        :func:`fastbp.dense_forward`).
    output : {"sigmoid", "softmax", "identity", "exp"}, default "sigmoid"
        Output non-linearity; it fixes the loss: binary cross-entropy,
        cross-entropy, mean squared error ``1/(2m) sum (AL - Y)^2``, or the
        half Poisson deviance ``1/m sum [exp(Z) - Y Z + (Y log Y - Y)]``
        (``exp``: the Poisson loss's canonical link, AL = exp(Z) the
        predicted mean; scikit-learn's ``poisson_loss`` of
        ``sklearn/neural_network/_base.py``, same reduction: the mean over
        examples summed over the outputs). Every loss is computed from the
        logits Z[L], so it stays exact where AL saturates (``softplus(z) -
        y z`` for binary cross-entropy, ``logsumexp(Z) - Z[y]`` for
        cross-entropy). Targets are checked against the loss's domain:
        [0, 1] for sigmoid, class indices or probability columns for softmax,
        non-negative finite values for exp.
    alpha : float, optional
        Slope of leaky_relu / scale of elu (defaults 0.01 / 1.0); >= 0 (the
        derivative is read from the layer's output, whose sign then tells
        the input's). Given with no leaky_relu or elu layer, it has no
        effect and a UserWarning says so.
    dtype : {"float32", "float64"}, default "float32"
        The parameters' and computations' dtype. Data of another dtype is
        converted (a copy) as NumPy's ``astype`` does: float64 values beyond
        float32's range (3.4e38) are refused (ValueError), those below its
        smallest normal (1.2e-38) lose precision and those below 1.4e-45
        become 0, silently (rescale such features, or use float64).
    seed : int, optional
        Seeds the initialisation and the dropout masks. The weights are
        ``numpy.random.default_rng(seed).standard_normal`` draws in float64,
        ``W1`` first, each ``W`` in row-major order, times ``init``'s scale,
        then rounded to ``dtype``: the same seed starts float32 and float64
        networks at the same values (to float32's precision).
    init : {"he", "xavier", "course"} or None, default "he"
        ``randn * sqrt(2 / n_prev)`` (He et al. 2015, "Delving deep into
        rectifiers"), ``randn * sqrt(1 / n_prev)`` (what the course, course
        2 week 1, calls Xavier initialisation; Glorot & Bengio 2010's own
        variance is ``2 / (n_prev + n)``) or ``randn * 0.01`` (the course's
        small random weights). Biases start at zero. None:
        every parameter starts at zero, for a caller that then sets them all
        (fastbp.sklearn draws scikit-learn's Glorot-uniform into them; a
        network of zeros does not train, its hidden units stay equal).
    lambd : float, default 0.0
        L2 strength with the course's semantics: cost ``+ lambd/(2m) sum ||W||^2``,
        ``dW += (lambd/m) W``; with per-example weights, m is the sum of the
        batch's weights. This is scikit-learn's ``alpha`` (its MLPs add
        ``0.5 alpha ||W||^2 / sum(sw)`` to the loss and ``alpha W / sum(sw)``
        to the gradient): ``lambd = alpha``.
    keep_prob : float or sequence of float, default 1.0
        Inverted-dropout (the course's, course 2 week 1; Srivastava et al.
        2014) keep probability for each hidden layer's output
        (1.0 = no dropout). Active in :meth:`train_step`, :meth:`fit` and
        ``forward(X, training=True)`` only (not in :meth:`loss_and_gradient`,
        :meth:`predict` or :meth:`evaluate`). Masks come from a
        counter-based hash of (seed, step, layer, element), so they do not
        depend on the thread count.
    n_threads : int, optional
        Threads for the compiled step (None = all cores, or
        ``OMP_NUM_THREADS`` when that is set, taken as it is even above the
        cores, as scikit-learn takes it; a negative count counts down from
        the cores, -1 all, -2 all but one, at least one; an n_threads above
        the cores is capped at the cores, with a RuntimeWarning). None is
        resolved when the network is made and when ``n_threads`` is set:
        a ``threadpoolctl.threadpool_limits(...)`` entered later does not
        change it; ``net.n_threads = None`` inside the limit takes it
        (:attr:`effective_n_threads` is the count in use). A step split between
        threads runs its GEMMs on row blocks, which may round differently
        from the whole products: results across thread counts agree to
        rounding, and each count gives the same bits every run. It is a
        maximum: each kind of call runs on one thread or on all of them,
        whichever its timed steps find faster (a busy machine makes one
        thread faster); the blocks stay the same, so the bits do too.

    Attributes
    ----------
    parameters : dict of ndarray
        ``{"W1": (n_1, n_x), "b1": (n_1, 1), ...}``, views into one flat buffer.
    grads : dict of ndarray
        ``{"dW1", "db1", ...}`` of the last :meth:`backward` / :meth:`train_step`.
    flat_parameters, flat_grads : ndarray (n_params,)
        The buffers themselves. The flat layout is, for l = 1..L in turn,
        ``W[l]`` (n_l, n_{l-1}) in C order, then ``b[l]`` (n_l,).

    Raises
    ------
    TypeError
        ``layer_dims`` not a sequence of ints, an activation that is not a
        string, a ``dtype`` other than float32/float64 (float16, say), a
        non-int ``seed`` or ``n_threads``, a ``lambd``, ``alpha`` or
        ``keep_prob`` that is not a real number.
    ValueError
        Fewer than two layer sizes or a size below 1, a softmax output of
        one unit, an unknown activation, output or ``init``, a ``keep_prob``
        outside (0, 1] (or a list of the wrong length), a negative
        ``lambd``, a negative ``alpha`` with leaky_relu or elu hidden
        layers, ``n_threads=0``.
    MemoryError
        The parameter and gradient buffers alone (``2 n_params`` values)
        exceed the machine's physical memory (the process was killed by the
        OS when the initialisation touched them).

    Notes
    -----
    Sparse input: wherever an X is taken (except :meth:`train_epoch`), it
    may be a SciPy sparse matrix or array of shape (n_x, m). The first
    layer's two products, ``W1 X`` and ``dZ1 X^T``, then cost the entries
    of X instead of n_x m multiplications (fastbp's sparse kernel,
    csrc/fastbp_sparse.h; scikit-learn's MLP makes the same two products
    with SciPy's sparse ones). A CSC matrix (examples as compressed
    columns: ``X_rows.T`` of a CSR matrix of examples as rows is one, with
    no copy) is sorted by feature at each call, in O(n_x + nnz); a CSR
    matrix (features as compressed rows) is read as it is, the form for an
    X that many whole-set calls reuse (:meth:`loss_and_gradient` under
    L-BFGS); other formats and dtypes are converted (a copy). Inference
    (:meth:`predict`, :meth:`predict_proba`, :meth:`evaluate`) runs in
    chunks of 2048 examples, whose columns a CSR X does not hold together:
    a CSR X of more examples is converted to CSC for the call (a copy of
    it), so pass CSC there. :meth:`fit` runs a sparse X batch by batch, each
    batch's columns picked by SciPy (from one CSC copy of a CSR X, made per
    fit unless it would take more than an eighth of the memory: picking
    columns of CSR scans the whole matrix). It pays below about 10% density;
    denser, ``X.toarray()`` runs faster (dense GEMMs). Dense rows of the
    first layer's gradient are still written, zeros included.

    Threads: the compiled calls release the GIL, so networks in different
    threads train and predict in parallel (tests/test_concurrency.py). One
    network's compiled calls take a lock and run one at a time, so several
    threads may predict with one shared network; a :meth:`forward` /
    :meth:`backward` pair is not atomic across threads. Threads waiting for
    that lock take it in the order they asked: a thread predicting or
    pickling in a loop delays another thread's :meth:`fit` by at most one
    call per chunk of steps, never starves it. Writes of the whole
    parameter buffer (assigning :attr:`parameters`,
    :meth:`reset_parameters`, :meth:`restore`, ``loss_and_gradient(params=)``)
    and the reads of :meth:`save` and pickling take the same lock: a
    snapshot holds one state, never a mix of two.

    The training loop (``fastbp._fit``) and the data-parallel replica
    (:mod:`fastbp.distributed`) drive a network through this interface only:

    - :meth:`check_X`, :meth:`check_Y`, :meth:`check_sample_weight`: validated
      inputs for the calls below;
    - :meth:`train_batch`: compiled steps on checked data;
    - :meth:`train_epoch`: an epoch's mini-batch steps in one compiled call;
    - :meth:`share_gradient` then :meth:`apply_update`: a data-parallel step
      (the share's gradient into :attr:`grad_store`, then the update);
    - :meth:`bind_optimizer`, :meth:`is_bound`;
    - :meth:`evaluate_sums`, :meth:`evaluate_finish`: evaluation in shares;
    - :meth:`save`, :meth:`restore`: checkpoints;
    - :attr:`step_count`, :attr:`dropout_seed`, :meth:`parameters_changed`:
      the state a replica copies from rank 0;
    - :attr:`effective_n_threads`, :attr:`optimizer`, :attr:`seed`;
    - :attr:`loss_name` (the targets' domain is checked once per fit) and
      :attr:`flat_parameters` (copied once per epoch, restored on divergence).
    """

    layer_dims = _Fixed()
    hidden = _Fixed()
    output = _Fixed()
    loss_name = _Fixed()
    alpha = _Fixed()
    dtype = _Fixed()
    keep_prob = _Fixed()

    def __init__(self, layer_dims, hidden="relu", output="sigmoid", *, alpha=None,
                 dtype="float32", seed=None, init="he", lambd=0.0, keep_prob=1.0,
                 n_threads=None):
        self.layer_dims = _validation.check_layer_dims(layer_dims)
        L = len(self.layer_dims) - 1
        self.hidden = _validation.check_hidden(hidden, L, ACTIVATIONS)
        self.output = _validation.check_output(output, self.layer_dims[-1], OUTPUTS)
        self.loss_name = OUTPUTS[output]
        self.alpha = _validation.check_alpha(alpha, self.hidden)
        if self.alpha is not None and not self._uses_alpha():
            acts = list(dict.fromkeys(self.hidden))
            warnings.warn(f"alpha={self.alpha} has no effect: it is the slope of leaky_relu "
                          "and the scale of elu, and the hidden activation"
                          f"{'s are' if len(acts) > 1 else ' is'} "
                          f"{', '.join(map(repr, acts))} (did you mean hidden='leaky_relu'?)",
                          UserWarning, stacklevel=2)
        self.dtype = _validation.check_float_dtype(dtype)
        big = float(np.finfo(self.dtype).max)
        if self.alpha is not None and self._uses_alpha() and self.alpha > big:
            # the kernels compute in the network's dtype: alpha became inf and
            # every output NaN, which fit blamed on the learning rate or the data
            raise ValueError(f"alpha={self.alpha:g} is beyond {self.dtype}'s range (largest "
                             f"{big:.3g}): the {self.dtype} kernels would use inf, and every "
                             "output would be NaN; use a smaller alpha, or dtype='float64'")
        self.init = init
        self.seed = _validation.check_seed(seed)
        self.lambd = _validation.check_lambd(lambd)
        self.keep_prob = _validation.check_keep_prob(keep_prob, L)
        if L == 1:
            unused = [f"{k}={v!r}" for k, v, default in (("hidden", hidden, "relu"),
                                                         ("keep_prob", keep_prob, 1.0))
                      if isinstance(v, (str, numbers.Real)) and v != default]
            if unused:
                warnings.warn(f"{' and '.join(unused)} ha{'ve' if len(unused) > 1 else 's'} "
                              "no effect: the network has no hidden layer (layer_dims "
                              f"{list(self.layer_dims)}); the hidden activation and dropout "
                              "apply to hidden layers only", UserWarning, stacklevel=2)
        self.n_threads = n_threads
        self._build()
        self.reset_parameters()

    @property
    def lambd(self):
        """L2 strength (>= 0, finite); may be changed between calls."""
        return self._lambd

    @lambd.setter
    def lambd(self, value):
        self._lambd = _validation.check_lambd(value)

    @property
    def n_threads(self):
        """Threads of the compiled step (None = all cores)."""
        return self._n_threads_arg

    @n_threads.setter
    def n_threads(self, value):
        self._nt = _validation.threads(value)
        self._n_threads_arg = value

    # ------------------------------------------------------------- buffers
    def _build(self):
        dims = self.layer_dims
        L = len(dims) - 1
        w_off, b_off, pos = _layout(dims)
        self.n_params = pos
        _validation.check_buffer_memory(dims, pos, self.dtype.itemsize, _GRAD_TAIL)
        self._flat_params = _network.aligned_zeros(pos, self.dtype)
        # The gradient buffer carries _GRAD_TAIL spare slots after the
        # gradients, so a data-parallel step sums gradients, loss and two
        # counts across processes in ONE in-place Allreduce (fastbp.distributed).
        self._grad_store = _network.aligned_zeros(pos + _GRAD_TAIL, self.dtype)
        self._flat_grads = self._grad_store[:pos]
        self._params, self._grads = {}, {}
        for l in range(L):
            n, k = dims[l + 1], dims[l]
            self._params[f"W{l + 1}"] = self._flat_params[w_off[l]:w_off[l] + n * k].reshape(n, k)
            self._params[f"b{l + 1}"] = self._flat_params[b_off[l]:b_off[l] + n].reshape(n, 1)
            self._grads[f"dW{l + 1}"] = self._flat_grads[w_off[l]:w_off[l] + n * k].reshape(n, k)
            self._grads[f"db{l + 1}"] = self._flat_grads[b_off[l]:b_off[l] + n].reshape(n, 1)
        acts = [ACT_CODES[h] for h in self.hidden]
        acts.append(ACT_CODES["sigmoid" if self.output == "sigmoid" else "identity"])
        alphas = [(DEFAULT_ALPHA.get(h, 0.0) if self.alpha is None else self.alpha)
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
        self._replica = None    # fastbp.distributed.Replica, made by the first comm= call

    def reset_parameters(self, seed=None):
        """(Re)initialise W with ``init`` and b with zeros.

        Only the parameters: the optimizer's state (moments, update count
        ``t``) belongs to the optimizer and the dropout step counter
        (:attr:`step_count`) to the network, and both go on. For a run
        equal to a new network's, train with a new optimizer and set
        ``net.step_count = 0`` (with dropout), or make a new Network.

        Parameters
        ----------
        seed : int, optional
            Defaults to the network's seed.

        Raises
        ------
        TypeError, ValueError
            ``seed`` not None or a non-negative int (as the constructor's).
        """
        seed = _validation.check_seed(seed)
        with _lock(self):       # a save or pickle in another thread sees old or new
            if self.init is None:
                self._flat_params[...] = 0.0
                self._flat_grads[...] = 0.0
                self.parameters_changed()
                return
            rng = np.random.default_rng(self.seed if seed is None else seed)
            dims = self.layer_dims
            for l in range(1, len(dims)):
                n, k = dims[l], dims[l - 1]
                scale = {"he": math.sqrt(2.0 / k), "xavier": math.sqrt(1.0 / k),
                         "course": 0.01}[self.init]
                # drawn in float64 (the values do not depend on the dtype), a
                # few rows at a time: the temporary stays small however large W
                # is (W drawn whole needed a float64 copy of it, twice a float32
                # W's size)
                W = self._params[f"W{l}"]
                rows = max(1, _INIT_CHUNK // k)
                for r0 in range(0, n, rows):
                    W[r0:r0 + rows] = rng.standard_normal((min(rows, n - r0), k)) * scale
                self._params[f"b{l}"][...] = 0.0
            self._flat_grads[...] = 0.0
            self.parameters_changed()

    def parameters_changed(self):
        """Call after writing :attr:`flat_parameters` from outside: a pending
        :meth:`backward` is refused (its forward used the old parameters)."""
        self._last_m = None

    def _release_workspaces(self):
        """Free the compiled training workspaces, sized for the widest batch
        trained so far (fastbp.sklearn calls it after an L-BFGS fit, whose
        batch is the whole data set: a fitted estimator kept more memory
        than its X). The next training call allocates them again; a pending
        :meth:`backward` is refused."""
        with _lock(self):
            self._kernel.release_workspaces()
            self._last_m = None

    @property
    def parameters(self):
        """dict of views ``{"W1": (n_1, n_x), "b1": (n_1, 1), ...}`` into the flat buffer.

        Assigning a dict (e.g. the course API's output) copies its arrays in;
        a 2-D array must have the view's shape (a transposed ``W`` is refused,
        not guessed) and each ``b`` its size ((n_l,) or (n_l, 1)).
        scikit-learn's layout is the transpose: its ``coefs_[l-1]`` (n_{l-1},
        n_l) is ``parameters[f"W{l}"].T`` (a view, no copy), so set
        ``W{l} = coefs_[l-1].T`` and ``b{l} = intercepts_[l-1]``.

        Each read returns a new dict of the views: writing into a view
        (``net.parameters["W1"][...] = W``) changes the network, while
        rebinding a key (the course's ``parameters["W1"] = parameters["W1"]
        - lr * dW1``) changes only that dict, which is assigned back with
        ``net.parameters = parameters``. (A shared dict let such a rebinding
        detach the network's own views: it then trained weights nobody saw.)

        Raises
        ------
        KeyError
            On assignment, a key is missing, or the dict holds a ``W{l}`` /
            ``b{l}`` of a layer this network does not have (a deeper
            network's parameters; other keys are ignored).
        ValueError, TypeError
            On assignment, an array has another shape or is not real
            numbers; nothing is written then.
        """
        return dict(self._params)

    @parameters.setter
    def parameters(self, new):
        if not isinstance(new, Mapping):
            raise TypeError(f"parameters must be a dict like {{'W1': ..., 'b1': ...}}, got "
                            f"{type(new).__name__}")
        arrays = {}
        extra = sorted(k for k in new if isinstance(k, str) and k not in self._params
                       and _LAYER_KEY.fullmatch(k))
        if extra:
            raise KeyError(f"parameters holds {extra} but this network has {self.n_layers} "
                           f"layer(s): keys {list(self._params)}")
        for key, view in self._params.items():       # every array checked, then copied
            if key not in new:
                raise KeyError(f"parameters is missing {key!r}; expected keys "
                               f"{list(self._params)}")
            _validation.refuse_masked(new[key], f"parameters[{key!r}]")
            a = np.asarray(new[key])
            if a.dtype.kind not in "fiu":
                raise TypeError(f"parameters[{key!r}] must hold real numbers, got dtype "
                                f"{a.dtype}")
            ok = ((view.shape, (view.shape[0],)) if key.startswith("b") else (view.shape,))
            if a.shape not in ok:
                raise ValueError(f"parameters[{key!r}] has shape {a.shape}; expected "
                                 + " or ".join(str(o) for o in ok))
            if a.dtype.kind == "f" and a.dtype.itemsize > view.dtype.itemsize:
                big = np.finfo(view.dtype).max
                with np.errstate(invalid="ignore"):
                    # (an inf given as such is the caller's value, as NaN is: it
                    # was refused as "beyond float32's range, would be stored as inf")
                    over = np.isfinite(a) & (np.abs(a) > big)
                if over.any():      # finite values that would turn into inf
                    raise ValueError(
                        f"parameters[{key!r}] holds values beyond {view.dtype}'s range "
                        f"(largest |value| {float(np.max(np.abs(a[over]))):.3g} > {big:.3g}) "
                        f"that this {view.dtype} network would store as inf; scale them, or "
                        "build the network with dtype=np.float64")
            if a is not view and np.may_share_memory(a, self._flat_params):
                # another key's view of this network (W1 and W2 swapped): the
                # copies below would read it after writing it
                a = a.copy()
            arrays[key] = a
        with _lock(self):       # a save or pickle in another thread sees old or new
            for key, a in arrays.items():
                view = self._params[key]
                if a is not view:
                    view[...] = a.reshape(view.shape)
            self.parameters_changed()

    @property
    def grads(self):
        """dict of views ``{"dW1", "db1", ...}`` into the flat gradient buffer
        (a new dict on each read, as :attr:`parameters`)."""
        return dict(self._grads)

    @property
    def flat_parameters(self):
        """ndarray (n_params,): every W[l] (C order) then b[l], l = 1..L, in
        one buffer; :attr:`parameters`' arrays are views into it. Writes
        to it change the network."""
        return self._flat_params

    @property
    def flat_grads(self):
        """ndarray (n_params,): the gradients of the last backward or
        training step, in :attr:`flat_parameters`' layout."""
        return self._flat_grads

    @property
    def grad_store(self):
        """ndarray (n_params + 3,): :attr:`flat_grads` and three spare slots after them.

        A data-parallel step sums gradients, loss, a failure count and a
        new-optimizer count across processes in ONE in-place Allreduce of
        this buffer.
        """
        return self._grad_store

    @property
    def step_count(self):
        """Training steps made; with the dropout seed it fixes the next dropout masks."""
        return self._step

    @step_count.setter
    def step_count(self, value):
        # an int in [0, 2**64): the dropout masks hash it as a uint64, and
        # steps past 2**64 - 1 wrap to 0 as the kernel's uint64 count does
        self._step = _validation.check_count("step_count", value, 2**64)

    @property
    def dropout_seed(self):
        """The seed of the dropout masks (``seed``, or drawn at construction)."""
        return self._dropout_seed

    @dropout_seed.setter
    def dropout_seed(self, value):
        # an int (taken modulo 2**64, as the kernel hashes it): int() made 0.5
        # and 0.9 the seed 0, and "7" the seed 7, silently
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise TypeError(f"dropout_seed must be an int, got {type(value).__name__} "
                            f"{value!r}")
        self._dropout_seed = int(value) % (2**64)

    @property
    def effective_n_threads(self):
        """The thread count the compiled calls use (:attr:`n_threads` resolved).

        Setting it overrides the count until :attr:`n_threads` is set again.
        """
        return self._nt

    @effective_n_threads.setter
    def effective_n_threads(self, value):
        # an effective count: 0 or a negative one made every compiled call a
        # no-op; more than the cores, capped as the constructor's n_threads is
        self._nt = _validation.check_effective_count("effective_n_threads", value)

    @property
    def init(self):
        """The initialisation :meth:`reset_parameters` draws (one of :data:`INITS`, or None).

        May be changed between calls; it is checked as the constructor's.
        """
        return self._init

    @init.setter
    def init(self, value):
        # checked here: an unknown init made reset_parameters raise a bare
        # KeyError, and save wrote a checkpoint that load refused
        self._init = None if value is None else _validation.check_choice("init", value, INITS)

    @property
    def seed(self):
        """The seed of the initialisation and the dropout masks (None: drawn).

        Assign None or an int >= 0; it applies from the next
        :meth:`reset_parameters` (the dropout masks follow
        :attr:`dropout_seed`, fixed at construction).
        """
        return self._seed

    @seed.setter
    def seed(self, value):
        self._seed = _validation.check_seed(value)

    @property
    def optimizer(self):
        """The optimizer of the last ``fit`` / ``train_step`` (None before).

        Assign a fastbp.optim optimizer (or None): ``fit`` without one uses
        it. Assigning binds it as :meth:`bind_optimizer` does.
        """
        return self._optimizer

    @optimizer.setter
    def optimizer(self, value):
        if value is None:
            self._optimizer = None
        else:
            self.bind_optimizer(value)      # checked, and its state made the kernel's

    _loss_terms = None

    @property
    def last_loss_terms(self):
        """(data term, L2 term) of the last loss :meth:`train_step`,
        :meth:`train_batch` or :meth:`loss_and_gradient` computed (their sum
        is the loss returned), or None before any.

        The data term is the (weighted) mean of the examples' losses, the L2
        term ``lambd / (2 S) sum_l ||W[l]||^2`` at the parameters before the
        step (S = m or the sum of the weights). For scikit-learn's
        multi-output squared loss, which averages over the outputs:
        ``data / n_L + l2``.
        """
        return self._loss_terms

    # ------------------------------------------------------------- pickling
    def __getstate__(self):
        """Architecture, parameters, step counter, dropout seed and optimizer
        (with its state); the compiled workspaces are rebuilt on load.

        The parameters and the step counter are copied under the network's
        lock, so a pickle taken while another thread trains holds the
        parameters of one step boundary; the optimizer (the same object, so
        that it is shared with other references to it in one pickle) is read
        by pickle afterwards: pickle between fits, or use :meth:`save`, for
        its state to match.
        """
        with _lock(self):
            params, step = self._flat_params.copy(), self._step
        return {"config": self.get_config(), "params": params,
                "step": step, "dropout_seed": self._dropout_seed,
                "n_threads": self._n_threads_arg, "optimizer": self.optimizer}

    def __setstate__(self, state):
        cfg = dict(state["config"])
        self.__init__(cfg.pop("layer_dims"), n_threads=state["n_threads"], **cfg)
        self._flat_params[...] = state["params"]
        self._step = state["step"]
        self._dropout_seed = state["dropout_seed"]
        opt = state["optimizer"]
        if opt is not None:
            # the optimizer was bound to the pickled network's buffer: bind it
            # to this one, keeping its state and update count
            saved, t = opt.state_arrays(), opt.t
            for s, arr in zip(opt.bind(self.n_params, self.dtype, self._flat_params), saved):
                if s is not arr:
                    s[...] = arr
            opt.t = t
            self.bind_optimizer(opt)

    def __copy__(self):
        """``copy.copy(net)``: an independent network, as ``copy.deepcopy``
        (and as NumPy's ``copy.copy`` of an array copies its data).

        A shallow copy would share the optimizer, and binding it to the copy
        took it over: the original's Adam state was discarded when the copy
        was made, and it then trained differently from an untouched twin.
        """
        return copy.deepcopy(self)

    @property
    def n_layers(self):
        """int: L, the number of weight layers (``len(layer_dims) - 1``)."""
        return len(self.layer_dims) - 1

    def _uses_alpha(self):
        """Whether a hidden activation reads alpha (leaky_relu, elu)."""
        return any(h in DEFAULT_ALPHA for h in self.hidden)

    def __repr__(self):
        extra = ""
        if self.alpha is not None and self._uses_alpha():
            extra += f", alpha={self.alpha}"
        if self.init != "he":
            extra += f", init={self.init!r}"
        if self.lambd:
            extra += f", lambd={self.lambd}"
        if self._dropout:
            extra += f", keep_prob={list(self.keep_prob)}"
        hidden = self.hidden[0] if len(set(self.hidden)) == 1 else list(self.hidden)
        return (f"Network({list(self.layer_dims)}, hidden={hidden!r}, output={self.output!r}, "
                f"dtype={self.dtype.name!r}{extra})")

    # ---------------------------------------------------------- input checks
    def _clip_loss(self, eps):
        """Make the losses the compiled calls report (and so
        :meth:`loss_and_gradient`'s value) scikit-learn's MLP values: the
        probabilities clipped to [eps, 1 - eps] before their logs
        (csrc/fastbp_loss.h; fastbp.sklearn's estimators). 0 restores the
        exact losses from the logits. The gradients do not change."""
        self._kernel.set_loss_clip(float(eps))

    def check_X(self, X, name="X", *, order="K"):
        """X as a 2-D (n_x, m) array of the network's dtype with one unit stride,
        or a sparse X as a CSR or CSC matrix of that dtype (see the class's
        notes on sparse input).

        Parameters
        ----------
        X : array_like or scipy.sparse matrix (n_x, m)
        name : str, default "X"
            The argument's name in error messages.
        order : {"K", "F", "C"}, default "K"
            The layout of the copy made when X's dtype is not the network's
            (as :meth:`numpy.ndarray.astype`'s ``order``): "K" keeps X's;
            "F" lays out each example (column) contiguously, the layout a
            shuffled :meth:`fit` gathers mini-batches from. An X that needs
            no conversion is returned in its own layout.

        Returns
        -------
        ndarray (n_x, m) or scipy.sparse matrix
            X itself when it already qualifies, else a converted copy.

        Raises
        ------
        ValueError
            X not 2-D or its first dimension not ``n_x`` (a transposed X
            says so), or values beyond the dtype's range.
        TypeError
            X not real numbers, or a numpy.ma array with masked entries.
        """
        _validation.check_choice("order", order, ("K", "F", "C"))
        return _validation.check_X(X, self.layer_dims[0], self.dtype, name, order)

    def check_Y(self, Y, m, name="Y"):
        """(Y array, y-type code, is-labels) for m examples, as the kernels take them.

        Parameters
        ----------
        Y : array_like (n_L, m), or (m,) / (1, m) integer labels for softmax
        m : int
            The examples X holds.
        name : str, default "Y"
            The argument's name in error messages.

        Returns
        -------
        Y : ndarray
            Y as the kernels read it (possibly a converted copy).
        y_code : int
            The kernels' code for Y's dtype.
        labels : bool
            Whether Y holds class indices (softmax) rather than targets.

        Raises
        ------
        ValueError
            A shape that does not fit (n_L, m) or labels of m examples.
        TypeError
            Y not numbers, class labels (softmax) that are not integers, or
            a numpy.ma array with masked entries.
        """
        return _validation.check_Y(Y, m, self.layer_dims[-1], self.output, self.dtype,
                                   LABEL_DTYPES, name)

    def check_sample_weight(self, sample_weight, m, *, ensure_non_negative=True):
        """Per-example weights for m examples: None, or float64 C-contiguous (m,).

        A scalar means the same weight for every example.

        Negative weights are refused by default, everywhere the network
        takes weights (``fit``, ``train_step``, ``evaluate``,
        ``loss_and_gradient``): the network minimises the weighted mean loss,
        and a negative weight rewards it for getting that example wrong (a
        mini-batch whose weights sum below zero even turns its step into
        ascent), which is almost always a mistake in the weights.
        ``ensure_non_negative=False`` accepts any sign, for callers that
        want scikit-learn's MLP semantics (``fastbp.sklearn``): the loss and
        gradients are then divided by the signed sum, and weights summing to
        exactly zero raise a ValueError that is also a ZeroDivisionError
        (NumPy's ``np.average`` error, which scikit-learn raises).
        The weights returned either way are what :meth:`train_batch` and
        :meth:`train_epoch` take. Without L2 (``lambd`` 0) only their ratios
        count, and non-negative weights beyond 2^+-500 come back scaled by a
        power of two (their sum overflowed, or its reciprocal); with L2 the
        term ``lambd/(2 sum(sw))`` takes them as they are, and a sum that
        overflows is a ValueError.

        Parameters
        ----------
        sample_weight : array_like (m,), float or None
        m : int
            The examples X holds.
        ensure_non_negative : bool, default True
            Refuse negative weights.

        Returns
        -------
        ndarray (m,) of float64, C-contiguous, or None
            None for ``sample_weight=None``.

        Raises
        ------
        ValueError
            Weights not finite, negative (with ``ensure_non_negative``), all
            zero, or not of shape (m,).
        TypeError
            Weights that are not numbers.
        """
        return _validation.check_sample_weight(sample_weight, m, ensure_non_negative,
                                               relative=self.lambd == 0)

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
            Output activations (a copy), of the network's dtype. NaN or inf
            in X are not checked and propagate to AL.

        Raises
        ------
        TypeError
            ``training`` not True or False; X not real numbers.
        ValueError
            X not of shape (n_x, m) (see :meth:`check_X`).
        """
        training = _validation.check_bool("training", training)
        X = self.check_X(X)
        with _lock(self):
            if training and self._dropout:
                self._step = _wrap64(self._step + 1)
            self._kernel.forward_train(X, bool(training and self._dropout),
                                       self._dropout_seed, self._step, self._nt)
            self._last_m = X.shape[1]
            self._forward_id = self._kernel.forward_count
            return self._kernel.output().copy()

    def backward(self, Y):
        """Gradients of the cost for the last :meth:`forward`, into :attr:`grads`.

        dZ[L] = AL - Y;  dW[l] = (1/m) dZ[l] A[l-1]^T + (lambd/m) W[l];
        db[l] = (1/m) sum_j dZ[l];  dZ[l-1] = W[l]^T dZ[l] * g'[l-1].

        Parameters
        ----------
        Y : ndarray (n_L, m), or (m,) / (1, m) int labels for softmax
            Targets of the last :meth:`forward`'s X.

        Returns
        -------
        grads : dict of ndarray
            A new dict of the views of :attr:`grads`.

        Raises
        ------
        RuntimeError
            No :meth:`forward` on this network since its parameters were
            last reset or updated (:meth:`apply_update`), or a training call
            (:meth:`train_step`, :meth:`fit`, :meth:`loss_and_gradient`, ...)
            ran its own forward pass since
            (:meth:`predict_proba`, :meth:`predict` and :meth:`evaluate` do
            not disturb a pending backward).
        ValueError, TypeError
            Y of the wrong shape, dtype or domain for the output.
        """
        if self._last_m is None or not self._kernel.have_forward:
            raise RuntimeError("backward() needs a forward(X) first (on this network, "
                               "since its parameters were last reset or updated)")
        if self._forward_id != self._kernel.forward_count:
            raise RuntimeError(
                "backward() needs a forward(X) first: since the last forward(X), a "
                "train_step, fit, partial training call or loss_and_gradient on this "
                "network made a forward pass of its own (and may have changed the "
                "parameters); call forward(X) again")
        Y, yt, labels = self.check_Y(Y, self._last_m)
        with _lock(self):
            _, _, bad = self._kernel.backward(Y, yt, labels, self.lambd, self._nt)
        if bad:
            raise self._target_error(Y, labels)
        return dict(self._grads)        # a new dict, as grads (rebinding its keys is harmless)

    def bind_optimizer(self, optimizer):
        """Make ``optimizer`` the network's, its state buffers (allocated once) the kernel's.

        Parameters
        ----------
        optimizer : fastbp.optim.Optimizer

        Raises
        ------
        TypeError
            ``optimizer`` is not a :class:`fastbp.optim.Optimizer`.
        """
        _validation.check_optimizer(optimizer, Optimizer)
        with _lock(self):
            self._bind(optimizer)

    def _bind(self, optimizer):
        """bind_optimizer under the network's lock (held by the caller): a
        compiled call in another thread (a predict saves and restores the
        whole plan) must never see the kernel's state pointers change."""
        state = optimizer.bind(self.n_params, self.dtype, self._flat_params)
        if optimizer is not self.optimizer or self._bound_state is not state:
            self._kernel.set_optimizer_state(state[0] if len(state) > 0 else None,
                                             state[1] if len(state) > 1 else None)
            self._optimizer = optimizer
            self._bound_state = state

    def is_bound(self, optimizer):
        """Whether ``optimizer`` and its current state buffers are the kernel's.

        Parameters
        ----------
        optimizer : fastbp.optim.Optimizer or None

        Returns
        -------
        bool
        """
        return (optimizer is self.optimizer and optimizer is not None
                and self._bound_state is not None and optimizer.state is self._bound_state)

    _bound_state = None
    _forward_id = -1            # the kernel's forward_count after our last forward()

    def train_step(self, X, Y, optimizer, *, sample_weight=None, comm=None):
        """One training step: forward, loss, backward and update in one compiled call.

        Workspaces are sized at the first call (per largest batch) and reused:
        no allocation happens per step afterwards.

        Parameters
        ----------
        X : ndarray (n_x, m)
            The mini-batch, examples as columns (C or F order).
        Y : ndarray (n_L, m), or (m,) / (1, m) int labels for softmax
            Its targets.
        optimizer : fastbp.optim.Optimizer
            Bound to this network at its first step (see :meth:`bind_optimizer`).
        sample_weight : array_like (m,) or float, optional
            Per-example weights, with scikit-learn's semantics (``_backprop``
            of its MLPs): the loss is the weighted average ``sum_j sw_j
            loss_j / sum(sw)``, the L2 term ``lambd/(2 sum(sw)) sum ||W||^2``,
            column j of dZ[L] is multiplied by ``sw_j`` and every gradient is
            divided by ``sum(sw)`` instead of m. Finite, >= 0, not all zero
            (see :meth:`check_sample_weight` for why negatives are refused).
            None: every weight 1 (the unweighted step, exactly).
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
            parameters are unchanged: those that gave the non-finite loss.
        ValueError, TypeError
            X, Y or sample_weight of the wrong shape, dtype or domain (the
            message names the argument), or an optimizer that is not a
            :class:`fastbp.optim.Optimizer`.
        """
        if comm is not None:
            # sample_weight is refused inside, where the other ranks hear of it
            return self._replica_for(comm).train_step(X, Y, optimizer, sample_weight)
        # check_X / check_Y without their frames: a small network's whole step
        # costs a few microseconds, and each Python call about 0.1 of them
        X = _validation.check_X(X, self.layer_dims[0], self.dtype, "X")
        Y, yt, labels = _validation.check_Y(Y, X.shape[1], self.layer_dims[-1], self.output,
                                            self.dtype, LABEL_DTYPES)
        if sample_weight is not None:
            sample_weight = self.check_sample_weight(sample_weight, X.shape[1])
        # the targets' domain is scanned by the kernel as it computes the loss
        return self.train_batch(X, Y, yt, labels, optimizer, sample_weight=sample_weight,
                                check_targets=True)

    def _replica_for(self, comm):
        """This network's data-parallel replica on ``comm`` (made on first use)."""
        if self._replica is None or self._replica.comm is not comm:
            self._replica = distributed.Replica(self, comm)
        return self._replica

    def train_batch(self, X, Y, y_code, labels, optimizer, n_steps=1, first_loss=True,
                    check_finite=True, sample_weight=None, check_targets=False):
        """``n_steps`` compiled steps on (X, Y) checked by :meth:`check_X` / :meth:`check_Y`.

        For loops that revisit the same batch (full-batch gradient descent,
        as fastbp.course's model functions): the per-step Python and
        validation cost is paid once. Only the first step's loss is computed
        (when ``first_loss``); ``check_finite=False`` carries non-finite
        values on instead of raising. Returns that loss (None when not
        computed; nan/inf possible with ``check_finite=False``).

        ``sample_weight``: None, or the batch's weights as
        :meth:`check_sample_weight` returns them (float64 C-contiguous (m,);
        negative ones too, with ``ensure_non_negative=False``: the step is
        then divided by the batch's signed weight sum); see
        :meth:`train_step` for the formulas. A batch whose weights sum to
        zero carries no information (scikit-learn would divide by zero): no
        update is made and its loss is 0.0.

        ``check_targets``: also scan the targets' domain while computing the
        loss (ValueError on a bad one); off by default, for targets checked
        once up front (``fit``).

        Parameters
        ----------
        X : ndarray (n_x, m)
            As :meth:`check_X` returns it.
        Y : ndarray
            As :meth:`check_Y` returns it.
        y_code : int
            As :meth:`check_Y` returns it.
        labels : bool
            As :meth:`check_Y` returns it.
        optimizer : fastbp.optim.Optimizer
        n_steps : int, default 1
            Steps on the same batch, >= 1.
        first_loss : bool, default True
            Compute the first step's loss.
        check_finite : bool, default True
            Raise FloatingPointError on a non-finite loss.
        sample_weight : ndarray (m,) of float64, optional
            As :meth:`check_sample_weight` returns it.
        check_targets : bool, default False
            Scan the targets' domain.

        Returns
        -------
        float or None
            The first step's loss (plus the L2 term), None without
            ``first_loss``.

        Raises
        ------
        FloatingPointError
            A non-finite loss with ``check_finite`` (no update is made).
        ValueError
            A target outside the loss's domain (with ``check_targets``) or a
            label out of range; ``n_steps`` or ``y_code`` out of range.
        TypeError
            ``optimizer`` is not a :class:`fastbp.optim.Optimizer`.
        """
        if type(n_steps) is not int:
            # (the kernel's conversion said "'float' object cannot be
            # interpreted as an integer", naming no argument)
            n_steps = _validation.check_n_steps(n_steps)
        if type(y_code) is not int or not 0 <= y_code <= _validation.C_INT_MAX:
            y_code = _validation.check_y_code(y_code)
        if optimizer is not self.optimizer or optimizer.state is not self._bound_state:
            _validation.check_optimizer(optimizer, Optimizer)
        with _lock(self):
            if optimizer is not self.optimizer or optimizer.state is not self._bound_state:
                self._bind(optimizer)         # (is_bound, inlined: this runs every step)
            t = optimizer.t + 1
            code, lr, b1, b2, eps, _, _ = optimizer.kernel_args(t)
            # the batch's n (m, or the weights' sum added in order) and the loss
            # terms come from the kernel: one formula for this path and train_epoch's
            loss, l2, status, done = self._kernel.train_steps(
                X, Y, y_code, labels, self.lambd, code, lr, b1, b2, eps, t, n_steps,
                first_loss, check_finite, self._dropout, self._dropout_seed,
                _wrap64(self._step + 1), self._nt, sample_weight, check_targets)
            if status == 3:            # weights summing to zero: no step
                return 0.0 if first_loss else None
            self._step = _wrap64(self._step + done)
            optimizer.advance(done)
        self._last_m = X.shape[1]
        if first_loss:
            self._loss_terms = (loss, l2)
            loss += l2
        if status == 1:
            raise self._target_error(Y, labels)
        if status == 2:
            raise _validation.nonfinite_loss_error(loss, params=self._flat_params)
        return loss

    def _target_error(self, Y, labels):
        """The ValueError for a target the kernel found outside the loss's domain."""
        return _validation.target_error(Y, self.loss_name, self.layer_dims[-1], labels,
                                        flagged=True, dtype=self.dtype)

    def train_epoch(self, X, Y, y_code, labels, optimizer, order, batch_size, start_batch=0,
                    n_batches=None, loss_total=0.0, sample_weight=None, *,
                    mean_over_outputs=False):
        """An epoch's mini-batch steps on checked (X, Y) in one compiled call.

        The epoch is the examples ``X[:, order]`` (every column in order when
        ``order`` is None) cut into mini-batches of ``batch_size``, the last
        one possibly smaller. Mini-batches ``start_batch`` to ``start_batch +
        n_batches - 1`` run, each a full :meth:`train_batch` step (forward,
        loss, backward, update) with the same results bit for bit: the
        kernel gathers each batch's examples into a workspace allocated at
        the first call (no allocation per step; examples-as-rows data,
        ``X_rows.T``, is gathered row by row, never copied whole), computes
        the optimizer's per-update arguments itself, and sums the loss as
        :meth:`fit`'s loop does. A caller that wants control between batches
        (a progress bar, a callback) runs an epoch in several calls, passing
        the returned ``loss_total`` back in.

        Parameters
        ----------
        X : ndarray (n_x, m)
            Checked by :meth:`check_X` (C or F order, or ``X_rows.T``).
        Y : ndarray
            As :meth:`check_Y` returns it.
        y_code : int
            As :meth:`check_Y` returns it.
        labels : bool
            As :meth:`check_Y` returns it.
        optimizer : fastbp.optim.Optimizer
            Bound to this network at the first step.
        order : ndarray of intp (n,), or None
            Column indices in [0, m), e.g. ``rng.permutation(m)``; None is
            ``arange(m)`` without the gather (the batches are views of X).
        batch_size : int
            Examples per mini-batch (>= 1).
        start_batch : int, default 0
            First mini-batch to run, counted from 0.
        n_batches : int, optional
            How many to run (default: to the end of the epoch).
        loss_total : float, default 0.0
            The running sum to add to.
        sample_weight : ndarray (m,), optional
            Per-example weights as :meth:`check_sample_weight` returns them
            (float64, C-contiguous), gathered with the examples; each batch
            is weighted as :meth:`train_batch` weighs it (a batch whose
            weights sum to zero makes no update and adds 0).
        mean_over_outputs : bool, default False
            Sum ``(data_b / n_L + l2_b) * size_b`` instead: the data term
            of the cost (``last_loss_terms[0]``) averaged over the n_L
            outputs, as scikit-learn's squared error averages it where
            fastbp's sums (the gradients and updates are the same). Only
            the total changes.

        Returns
        -------
        loss_total : float
            ``loss_total`` plus ``loss_b * size_b`` of every batch run, added
            in batch order (``loss_b`` as :meth:`train_batch` returns it, so
            the epoch's mean cost is the total over m).
        n_done : int
            Mini-batches run.

        Raises
        ------
        FloatingPointError
            At the first batch whose loss is not finite, before its update
            (the earlier batches' updates stay). Its ``batch_index``
            attribute is that batch's index in the epoch (from 0); the
            message is :meth:`train_batch`'s.
        ValueError
            ``order`` holds an index outside [0, m) or a label is out of range.
        TypeError
            X is sparse: the epoch kernel gathers dense examples only (run a
            sparse X batch by batch, ``train_batch(X[:, idx], ...)``, as
            :meth:`fit` does).
        """
        _validation.refuse_sparse_epoch(X)
        self._kernel.check_x(X)
        m = X.shape[1]
        order = _validation.check_epoch_order(order, m)
        _validation.check_checked_weights(sample_weight, m)
        n_ex = m if order is None else order.shape[0]
        batch_size, start_batch, n_batches = _validation.check_epoch_batches(
            batch_size, start_batch, n_batches, n_ex)
        if type(loss_total) is not float:
            # (the kernel's conversion said "must be real number, not str")
            loss_total = _validation.check_real("loss_total", loss_total)
        if type(y_code) is not int or not 0 <= y_code <= _validation.C_INT_MAX:
            y_code = _validation.check_y_code(y_code)
        if optimizer is not self.optimizer or optimizer.state is not self._bound_state:
            _validation.check_optimizer(optimizer, Optimizer)
        with _lock(self):
            if optimizer is not self.optimizer or optimizer.state is not self._bound_state:
                self._bind(optimizer)
            t = optimizer.t + 1
            code, lr, b1, b2, eps, _, _ = optimizer.kernel_args(t)
            total, done, updates, status, loss, l2 = self._kernel.train_epoch(
                X, Y, y_code, labels, order, batch_size, start_batch, n_batches, loss_total,
                self.lambd, code, lr, b1, b2, eps, t, self._dropout, self._dropout_seed,
                _wrap64(self._step + 1), self._nt, sample_weight,
                float(self.layer_dims[-1]) if mean_over_outputs else 1.0)
            self._step = _wrap64(self._step + updates)
            optimizer.advance(updates)
        if loss is not None:
            self._loss_terms = (loss, l2)
            loss += l2
        if n_batches:
            last = start_batch + done - (0 if status else 1)
            self._last_m = min(batch_size, n_ex - last * batch_size)
        if status == 1:
            raise self._target_error(Y, labels)
        if status == 2:
            exc = _validation.nonfinite_loss_error(loss, params=self._flat_params)
            exc.batch_index = start_batch + done
            raise exc
        return total, done

    def _train_steps(self, X, Y, optimizer, n_steps, *, first_loss=True, check_finite=True):
        """:meth:`train_batch` on unchecked (X, Y): ``n_steps`` steps in one compiled call."""
        X = self.check_X(X)
        Y, yt, labels = self.check_Y(Y, X.shape[1])
        n_steps = _validation.check_n_steps(n_steps)
        if not first_loss:
            _validation.check_targets(Y, self.loss_name, self.layer_dims[-1], labels,
                                      dtype=self.dtype)
        return self.train_batch(X, Y, yt, labels, optimizer, n_steps, first_loss, check_finite,
                                check_targets=True)

    def share_gradient(self, X, Y, y_code, labels, M, offset, n_threads):
        """Gradient of columns ``[offset, offset + m)`` of a batch of M, into :attr:`grad_store`.

        For data-parallel steps: the gradient is weighted so that the shares
        of all processes sum to the batch's, ``dW = (1/M) dZ A^T + (lambd/M)
        (m/M) W``; dropout masks are those of the next step of the whole
        batch. An empty share (m = 0) zeroes the gradients. X, Y are checked
        (:meth:`check_X`, :meth:`check_Y`) and the optimizer bound.

        Parameters
        ----------
        X : ndarray (n_x, m)
            This process's share of the batch, as :meth:`check_X` returns it.
        Y : ndarray
            As :meth:`check_Y` returns it for the share.
        y_code : int
            As :meth:`check_Y` returns it.
        labels : bool
            As :meth:`check_Y` returns it.
        M : int
            Examples in the whole batch, >= 1.
        offset : int
            The share's first column in the batch, >= 0.
        n_threads : int or None
            An effective thread count; None: the network's.

        Returns
        -------
        float
            This share's part of the batch's cost, ``loss / M + (m/M)
            lambd/(2M) ||W||^2``.

        Raises
        ------
        TypeError, ValueError
            ``M`` or ``offset`` not ints with ``M >= 1``, ``offset >= 0`` and
            ``offset + m <= M``; ``n_threads`` not None (the network's count)
            or an effective count >= 1.
        """
        if getattr(X, "shape", None) is None:
            self._kernel.check_x(X)     # its TypeError (an empty share's X has m = 0)
        m = X.shape[1]
        M, offset = _validation.check_share(M, offset, m)
        if type(y_code) is not int or not 0 <= y_code <= _validation.C_INT_MAX:
            y_code = _validation.check_y_code(y_code)
        # an effective count, as apply_update's (0 or a negative one made the
        # step a silent no-op: loss 0.0 and the gradients left as they were)
        if n_threads is None:
            n_threads = self._nt
        elif type(n_threads) is not int or n_threads < 1:    # (an int: one test per step)
            n_threads = _validation.check_positive_int("n_threads", n_threads)
        self._last_m = m if m else None
        if m == 0:
            self._flat_grads.fill(0)
            return 0.0
        lambd = self.lambd
        w = m / M
        with _lock(self):
            loss_sum, l2_sum, status = self._kernel.grad_step(
                X, Y, y_code, labels, lambd, 1.0 / M, lambd / M * w, M, offset,
                self._dropout, self._dropout_seed, _wrap64(self._step + 1), n_threads)
        if status:
            raise self._target_error(Y, labels)
        loss = loss_sum / M
        if lambd:
            loss += w * (lambd / (2 * M)) * l2_sum
        return loss

    def loss_and_gradient(self, X, Y, *, sample_weight=None, params=None,
                          ensure_non_negative=True, check_targets=True):
        """Cost and its gradient over the whole of (X, Y) in one compiled call.

        For full-batch optimisers: ``scipy.optimize.minimize(fun, x0, jac=True,
        method="L-BFGS-B")`` with ``fun = lambda x: net.loss_and_gradient(X, Y,
        params=x)`` and ``x0 = net.flat_parameters.copy()`` optimises the
        network's parameters (scikit-learn's ``solver="lbfgs"``). The network
        then holds the last point evaluated, which need not be the result:
        finish with ``net.flat_parameters[...] = res.x`` (and
        :meth:`parameters_changed`), as :mod:`fastbp.sklearn` does. No
        dropout is applied and no optimizer or step counter changes. X is
        not checked for NaN or inf (an optimiser calls this many times with
        one X: check it once): they give a NaN loss and gradient.

        Parameters
        ----------
        X : ndarray (n_x, m)
            The whole data set, examples as columns (dense or sparse).
        Y : ndarray (n_L, m), or (m,) / (1, m) int labels for softmax
            Its targets.
        sample_weight : array_like (m,) or float, optional
            Per-example weights; formulas as in :meth:`train_step`.
        params : ndarray (n_params,), optional
            Parameters to evaluate at, in the layout of
            :attr:`flat_parameters`; they are copied into it (converted to
            the network's dtype) first, so afterwards the network holds them.
            None: the current parameters.
        ensure_non_negative : bool, default True
            False accepts negative weights (scikit-learn's MLP semantics; see
            :meth:`check_sample_weight`): ``S`` below is then the signed sum.
        check_targets : bool, default True
            False does not refuse targets outside the loss's domain (e.g.
            negative targets of the Poisson loss): the gradient is then
            ``A[L] - Y`` as for any target, and the loss's value at such a
            target is not defined (the caller decides what to report).
            scikit-learn's MLPRegressor(loss="poisson") trains so. Class
            indices out of range are refused either way.

        Returns
        -------
        loss : float
            ``sum_j sw_j loss_j / S + lambd / (2 S) sum_l ||W[l]||^2`` with
            ``S = sum(sw)`` (m without weights): :meth:`train_step`'s cost,
            scikit-learn's MLP loss with ``alpha = lambd``, except that the
            mse data term sums over the n_L outputs where scikit-learn's
            ``squared_loss`` averages over them (its gradient is the sum's,
            as here): scikit-learn's value is ``(loss - l2) / n_L + l2``
            with ``l2 = lambd / (2 S) sum_l ||W[l]||^2``.
        grad : ndarray (n_params,), float64
            Its gradient in the flat layout: a new array, because scipy keeps
            the gradient of one call while it evaluates the next, and the
            network's own :attr:`flat_grads` (which also holds it, in the
            network's dtype) is overwritten by each call.

        Raises
        ------
        ValueError
            For arrays of the wrong shape, labels out of range or (with
            ``check_targets``) outside the loss's domain, bad weights (weights summing to exactly zero with
            ``ensure_non_negative=False``: a ValueError that is also a
            ZeroDivisionError).
        """
        ensure_non_negative = _validation.check_bool("ensure_non_negative", ensure_non_negative)
        check_targets = _validation.check_bool("check_targets", check_targets)
        X = self.check_X(X)
        m = X.shape[1]
        Y, yt, labels = self.check_Y(Y, m)
        sw = self.check_sample_weight(sample_weight, m,
                                      ensure_non_negative=ensure_non_negative)
        if params is not None:
            params = _validation.check_flat_params(params, self.n_params)
        n = m if sw is None else float(sw.sum())
        lambd = self.lambd
        # the parameters written, the gradient computed and copied under one
        # hold of the lock: another thread's call cannot come between them
        with _lock(self):
            if params is not None and params is not self._flat_params:
                self._flat_params[...] = params
                self.parameters_changed()
            loss_sum, l2_sum, status = self._kernel.grad_step(
                X, Y, yt, labels, lambd, 1.0 / n, lambd / n, m, 0, False, self._dropout_seed,
                self._step, self._nt, sw, check_targets)
            self._last_m = m
            grad = self._flat_grads.astype(np.float64)
        if status:
            raise self._target_error(Y, labels)
        loss = loss_sum / n
        l2 = lambd / (2 * n) * l2_sum if lambd else 0.0
        self._loss_terms = (loss, l2)
        return float(loss + l2), grad

    def apply_update(self, optimizer, *, n_threads=None):
        """Apply ``optimizer`` to the current :attr:`grads` (after :meth:`backward`).

        The parameters change, so a further :meth:`backward` needs a new
        :meth:`forward` (RuntimeError otherwise).

        Parameters
        ----------
        optimizer : fastbp.optim.Optimizer
        n_threads : int, optional
            An effective thread count (>= 1); default the network's.

        Raises
        ------
        TypeError
            ``optimizer`` is not a :class:`fastbp.optim.Optimizer`;
            ``n_threads`` not an int.
        ValueError
            ``n_threads`` < 1.
        """
        _validation.check_optimizer(optimizer, Optimizer)
        # an effective count (0 or a negative one made the update a no-op)
        nt = self._nt if n_threads is None else _validation.check_positive_int("n_threads",
                                                                                 n_threads)
        with _lock(self):
            self._bind(optimizer)
            t = optimizer.t + 1
            self._kernel.update(*optimizer.kernel_args(t), nt)
            optimizer.advance()
            # the pending forward's activations belong to the old parameters: a
            # second backward would mix them with the new W (silently)
            self._last_m = None

    def predict_proba(self, X, *, check_finite=True, n_threads=None):
        """Output activations for X, without dropout.

        Runs in column chunks through a small private workspace, so a pending
        :meth:`backward` is not disturbed. An example's outputs depend in
        their last bits on the other columns of its call (its chunk's width
        and the thread split set the GEMMs' blocking), by a few units in
        the last place (about 2e-7 in float32, 4e-16 in float64, on
        probabilities); equal calls give equal bits.

        Parameters
        ----------
        X : ndarray (n_x, m)
            Examples as columns (dense or sparse; C or F order).
        check_finite : bool, default True
            Refuse NaN and inf in X. With False (X checked already, or the
            caller wants scikit-learn's ``assume_finite``), a column holding
            one gives NaN outputs in that column alone.
        n_threads : int, optional
            An effective thread count for this call, as :meth:`apply_update`
            takes (capped at the cores); default the network's
            (:attr:`effective_n_threads`).

        Returns
        -------
        AL : ndarray (n_L, m)
            Probabilities for sigmoid/softmax outputs, values for identity.

        Raises
        ------
        ValueError
            X holds NaN or inf and ``check_finite`` is True (a silent class 0 /
            NaN loss otherwise), X not of shape (n_x, m) (a transposed X
            says so, see :meth:`check_X`), or ``n_threads`` < 1.
        TypeError
            X not real numbers, ``check_finite`` not True or False,
            ``n_threads`` not an int.
        """
        # as forward's training: check_finite="no" (truthy) checked, None did not
        check_finite = _validation.check_bool("check_finite", check_finite)
        nt = (self._nt if n_threads is None
              else _validation.check_effective_count("n_threads", n_threads))
        X = self.check_X(X)
        if check_finite:
            _validation.check_finite(X, "X")
        out = np.empty((self.layer_dims[-1], X.shape[1]), dtype=self.dtype)
        with _lock(self):        # predict borrows the network's inference buffers
            return self._kernel.predict(X, out, nt)

    def predict(self, X):
        """Predictions for X, one rule for every output: shape (m,) when there
        is one prediction per example, (n_L, m) when there are several.

        Parameters
        ----------
        X : ndarray (n_x, m)
            Examples as columns (dense or sparse; C or F order).

        Returns
        -------
        ndarray
            Softmax: class labels (int64), shape (m,); sigmoid: 0/1 (int64,
            threshold 0.5), shape (m,) for one output unit and (n_L, m) for
            several (multi-label); identity: the outputs, exp: the predicted
            means exp(Z) (the network's dtype), shape (m,) for one unit and
            (n_L, m) for several. As
            scikit-learn's ``predict`` (one target: 1-D). A (1, m) ``Y``
            compares with it element by element through broadcasting
            (``np.mean(net.predict(X) == Y)`` is the accuracy either way).

        Raises
        ------
        ValueError
            X holds NaN or inf, or has the wrong shape (see :meth:`predict_proba`).
        """
        AL = self.predict_proba(X)
        if self.output in ("softmax", "sigmoid"):
            self._check_finite_outputs(AL)
        if self.output == "softmax":
            return np.argmax(AL, axis=0)
        if self.output == "sigmoid":
            AL = (AL > 0.5).astype(np.int64)
        # identity: the outputs; exp: the predicted means exp(Z)
        return AL[0] if AL.shape[0] == 1 else AL

    def _check_finite_outputs(self, AL):
        """Raise ValueError when class predictions would come from NaN/inf
        outputs (argmax and > 0.5 would turn them into a silent class 0)."""
        ok = np.isfinite(AL).all(axis=0)
        if not ok.all():
            raise _validation.nonfinite_outputs_error(ok, self._flat_params, self.dtype)

    def evaluate(self, X, Y, *, sample_weight=None):
        """(loss, accuracy) on X, Y without dropout.

        The loss is the training cost (with the L2 term when ``lambd > 0``),
        computed from the logits (exact where the probabilities saturate).
        Accuracy is the fraction of correct 0/1 predictions (sigmoid), of
        correct classes (softmax), and NaN for identity and exp outputs.
        With several sigmoid outputs (multi-label) it is the fraction of
        correct labels over outputs and examples, ``np.mean(net.predict(X)
        == Y)`` (scikit-learn's ``hamming_loss`` subtracted from 1), not the
        fraction of examples whose every label is right (its
        ``accuracy_score`` of a multi-label target, which is lower).

        ``sample_weight`` (m,): both are weighted averages over the examples
        (the loss as :meth:`train_step` defines it, L2 term over
        ``sum(sample_weight)``; the accuracy with each example's labels
        weighted by its weight, as scikit-learn's ``accuracy_score(...,
        sample_weight=)`` for one output).

        Parameters
        ----------
        X : ndarray (n_x, m)
            Examples as columns (dense or sparse).
        Y : ndarray (n_L, m), or (m,) / (1, m) int labels for softmax
            Its targets.
        sample_weight : array_like (m,) or float, optional
            Per-example weights (finite, >= 0, not all zero).

        Returns
        -------
        loss : float
        accuracy : float
            In [0, 1]; NaN for identity and exp outputs.

        Raises
        ------
        ValueError
            X or Y hold NaN or inf, or Y lies outside the loss's domain.
        TypeError
            X or Y not real numbers, or numpy.ma arrays with masked entries.
        """
        X = self.check_X(X)
        Yc, _, labels = self.check_Y(Y, X.shape[1])
        _validation.check_finite(Yc, "Y")
        _validation.check_targets(Yc, self.loss_name, self.layer_dims[-1], labels,
                                  dtype=self.dtype)
        m = X.shape[1]
        sw = self.check_sample_weight(sample_weight, m)
        loss_sum, correct = self.evaluate_sums(X, Yc, labels, sw)
        return self.evaluate_finish(loss_sum, correct, m if sw is None else float(sw.sum()))

    def evaluate_sums(self, X, Yc, labels, sample_weight=None):
        """(summed loss over the columns, number correct or NaN) of checked X, Y.

        The loss comes from the logits Z[L] (fastbp._loss.loss_logits, the
        network kernel's formulas), the accuracy from A[L] as :meth:`predict`.
        With ``sample_weight`` (checked, (m,)) both sums weigh column j by
        its weight; :meth:`evaluate_finish` then takes the weights' sum as m.

        Parameters
        ----------
        X : ndarray (n_x, m)
            As :meth:`check_X` returns it.
        Yc : ndarray
            Y as :meth:`check_Y` returns it.
        labels : bool
            As :meth:`check_Y` returns it.
        sample_weight : ndarray (m,) of float64, optional
            As :meth:`check_sample_weight` returns it.

        Returns
        -------
        loss_sum : float
            The (weighted) sum of the examples' losses, without the L2 term.
        correct : float
            The (weighted) count of correct predictions, NaN for identity
            and exp outputs or non-finite class outputs.

        Raises
        ------
        ValueError, TypeError
            Y or ``sample_weight`` not as :meth:`check_Y` /
            :meth:`check_sample_weight` return them for X's m (read as they
            are: a short Y was read out of bounds, a list of weights crashed).
        """
        self._kernel.check_x(X)
        _validation.check_finite(X, "X")
        n_out, m = self.layer_dims[-1], X.shape[1]
        Y = np.asarray(Yc)
        _validation.check_checked_Y(Y, m, n_out, labels)
        _validation.check_checked_weights(sample_weight, m)
        AL = np.empty((n_out, m), dtype=self.dtype)
        ZL = np.empty((n_out, m), dtype=self.dtype) if self.loss_name != "mse" else None
        with _lock(self):        # predict borrows the network's inference buffers
            self._kernel.predict(X, AL, self._nt, out_z=ZL)
        if labels:
            _validation.check_label_range(Y, n_out)
        isz = Y.itemsize
        loss, _ = _loss.loss_logits(AL if ZL is None else ZL, Y, LABEL_DTYPES[Y.dtype],
                                    Y.strides[0] // isz if Y.ndim == 2 else 0,
                                    Y.strides[-1] // isz, LOSS_CODES[self.loss_name], labels,
                                    sample_weight)
        w = 1.0 if sample_weight is None else sample_weight     # broadcasts over columns
        if self.output in ("sigmoid", "softmax") and not np.isfinite(AL).all():
            correct = float("nan")      # NaN outputs: no accuracy (argmax would say class 0)
        elif labels:
            correct = np.sum((np.argmax(AL, axis=0) == Y) * w)
        elif self.output == "sigmoid":
            correct = np.sum(((AL > 0.5) == (np.asarray(Y, dtype=np.float64) > 0.5)) * w) / n_out
        elif self.output == "softmax":
            correct = np.sum((np.argmax(AL, axis=0) == np.argmax(Y, axis=0)) * w)
        else:
            correct = float("nan")
        return float(loss), float(correct)

    def evaluate_finish(self, loss_sum, correct, m):
        """(loss, accuracy) from :meth:`evaluate_sums` totals over m examples
        (or over a total weight m).

        Parameters
        ----------
        loss_sum : float
        correct : float
            The totals of :meth:`evaluate_sums`, summed over the shares.
        m : int or float
            The examples (or their total weight), > 0.

        Returns
        -------
        loss : float
            ``loss_sum / m`` plus the L2 term over m.
        accuracy : float

        Raises
        ------
        ValueError
            ``m`` not a number > 0.
        """
        m = _validation.zero_d_real(m)
        if isinstance(m, (bool, np.bool_)) or not isinstance(m, numbers.Real) or not m > 0:
            # (0 raised a bare "float division by zero", a negative m gave a
            # negative loss)
            raise ValueError(f"m (the number of examples the sums are over, or their total "
                             f"weight) must be a number > 0, got {m!r}")
        loss = loss_sum / m
        if self.lambd:
            loss += self.lambd / (2 * m) * sum(
                float(np.sum(np.square(self._params[f"W{l}"], dtype=np.float64)))
                for l in range(1, self.n_layers + 1))
        return float(loss), float(correct / m)

    # ------------------------------------------------------------- training
    def fit(self, X, Y, *, epochs=1, batch_size=64, optimizer=None, shuffle=True, seed=None,
            validation_data=None, verbose=True, callback=None, checkpoint_path=None,
            checkpoint_every=1, resume=False, comm=None, replica_check_every=100,
            sample_weight=None):
        """Train with mini-batches.

        ``fit`` validates and converts the data once, then runs each epoch
        in ONE compiled call (:meth:`train_epoch`): the kernel gathers every
        mini-batch's columns of the shuffled epoch into workspaces allocated
        at the first epoch and runs all its steps without returning to
        Python. Examples-as-rows data (``X_rows.T``) is never copied whole.
        The results equal one :meth:`train_batch` call per mini-batch bit for
        bit (the data-parallel ``comm=`` fit still steps per batch).

        Data conversions (once, before the first epoch): ``X`` (and
        ``X_val``) is converted to the network's dtype (:attr:`dtype`,
        float32 by default) when it has another one: float64, integers or
        bools become a copy in that dtype (pass data of the network's dtype
        to avoid it). An array of the network's dtype with one unit stride
        -- C- or F-contiguous, or ``X_rows.T`` of examples-as-rows data --
        is used in place, no copy; other layouts (a strided view) are copied
        once. A shuffled fit (``shuffle=True`` and ``batch_size < m``) of a
        C-ordered X (an ``(n_x, m)`` array made as such, or ``X_rows.T`` of
        F-ordered rows such as a DataFrame's ``to_numpy()``) makes one
        F-ordered copy of it (and of a C-ordered 2-D ``Y``) for the fit:
        gathering each batch's columns from C order read one cache line per
        value and ran 1.3-3x slower; the results are the same bits. Pass
        ``X_rows.T`` of C-ordered rows, or an F-ordered X, to avoid the
        copy; an X of another dtype is converted straight into it (one
        copy, not two). Lists and other array-likes go through ``np.asarray``. ``Y``:
        float32 / float64, uint8, int32 and int64 are used as they are
        (bool is viewed as uint8, no copy), other integers become an int64
        copy and other floats a copy in the network's dtype; a 1-D ``Y``
        is viewed as (1, m). ``sample_weight`` becomes a float64
        C-contiguous array (a copy unless it is one). The caller's arrays
        are never modified.

        Parameters
        ----------
        X : ndarray (n_x, m)
            Examples as columns; real numbers, finite.
        Y : ndarray (n_L, m), or (m,) / (1, m)
            Targets in the loss's domain: for a softmax output, one-hot
            columns or integer class labels 0..n_L-1 of shape (m,) / (1, m);
            for a sigmoid output 0/1 (or soft targets in [0, 1]), (m,) being
            allowed when n_L == 1; for an exp (Poisson) output counts >= 0;
            any finite values for identity.
        epochs : int, default 1
            Total number of epochs (a resumed run continues up to this number).
        batch_size : int, default 64
            Columns per step; the last batch of an epoch may be smaller.
            ``batch_size >= m`` is full-batch gradient descent.
        optimizer : fastbp.optim.Optimizer, optional
            Defaults to the network's last optimizer, else ``SGD(0.01)``. Its
            schedule (if any) is applied at the start of every epoch, with the
            epochs of this call counted from 0: a second ``fit`` starts the
            schedule over (a resumed one counts from the checkpoint's epoch).
            Its state (moments, update count) carries over between calls.
        shuffle : bool, default True
            Reshuffle the examples every epoch.
        seed : int, optional
            Seeds the shuffling. By default the orders come from the
            network's seed and its :attr:`step_count` when the fit starts:
            a seeded network's first fit shuffles as ``seed=net.seed``, and
            each later one draws other orders, so ``fit(epochs=1)`` called in
            a loop reshuffles every epoch (as PyTorch's and Keras' loops do;
            not the same orders as one ``fit(epochs=N)``), and a script gives
            the same orders every run. A resumed fit continues its orders
            (the checkpoint keeps the start's step count). A given ``seed``
            shuffles from it anew in each call: the same orders every call.
        validation_data : (X_val, Y_val), optional
            Evaluated after every epoch (``val_loss``, ``val_accuracy``).
        verbose : bool, default True
            Progress bar (tqdm when installed, text lines otherwise); 0 and
            1 are taken for False and True, None for False.
        callback : callable, optional
            ``callback(net, epoch, logs)`` after every epoch (epoch counted from
            1); returning True stops training, None or False goes on (any
            other value is a TypeError: a callback that saves should
            return None, not :meth:`save`'s path). It may set the
            optimizer's ``lr`` (with a schedule, its ``lr0``: the schedule
            sets ``lr`` at every epoch, so a changed ``lr`` would be undone
            before the next step, and a RuntimeWarning says so); replacing
            ``net.optimizer`` (or binding another one, e.g. by a
            ``train_step`` with another optimizer) is a RuntimeError, since
            fit would undo it at its next step.
        checkpoint_path : str or path, optional
            Write a checkpoint there (:meth:`save`) every ``checkpoint_every``
            epochs and at the end; an epoch whose last update left non-finite
            parameters is never written (the previous checkpoint stays). Its
            directory is checked for writing before any update; an empty path
            (ValueError) or a directory (IsADirectoryError) is refused.
        checkpoint_every : int, default 1
            Epochs between checkpoints (>= 1; the last epoch, and one a
            callback stops at, are always written). Ignored without
            ``checkpoint_path``, so a path that is None when no checkpoints
            are wanted can be passed as it is.
        resume : bool, default False
            If the file the checkpoints are written to exists
            (``checkpoint_path``, with ``.npz`` added when missing), continue
            from it: parameters, optimizer
            state and learning rate in force, epoch count and history (a
            schedule that is a plain function is not saved: pass the
            optimizer with it, or a warning says it is gone). An
            ``optimizer`` given must be made as the saved one was (same kind
            and settings); with none, the saved one is used (a checkpoint
            saved before any training holds none: ``optimizer``'s default
            then trains). The data, ``batch_size`` and ``keep_prob`` are not
            compared with the checkpoint's, and the shuffling continues as if
            the run had not stopped only when its seed is the same (the
            network's, or ``seed``). Entries of the checkpoint that fit does
            not write (the preprocessing of a ``fastbp train --save`` model)
            are kept in the checkpoints it writes. Needs ``checkpoint_path``.
        comm : mpi4py.MPI.Intracomm, optional
            Train data-parallel over the processes of ``comm``: every rank passes
            the same data, ``batch_size`` is the global mini-batch and each rank
            computes its share; see :func:`fastbp.distributed.fit`.
        replica_check_every : int, default 100
            With ``comm``: compare a checksum of the parameters, optimizer
            state and ``lambd`` / learning rate across ranks every this many
            steps (0 = only at the end).
        sample_weight : array_like (m,) or float, optional
            Per-example weights, shuffled with the examples; every step uses
            its batch's weights as :meth:`train_step` does (scikit-learn's
            semantics). The epoch's ``"loss"`` is then the mean of the
            batches' weighted losses weighted by batch size, as
            scikit-learn's ``loss_curve_``. Not supported with ``comm``.

        Returns
        -------
        history : dict of lists
            ``"loss"`` (mean training cost of each epoch, before each step's
            update), ``"lr"``, and with validation data ``"val_loss"``,
            ``"val_accuracy"``; with ``comm`` also ``"allreduce_seconds"``.

        Raises
        ------
        TypeError
            Before any update (nothing changed): ``X``, ``Y``,
            ``sample_weight`` or the validation arrays not real numbers
            (strings, objects, complex), or numpy.ma arrays with masked
            entries (their hidden values would be used); class labels for a softmax output
            that are not integers; ``epochs``, ``batch_size`` or
            ``checkpoint_every`` not an int; ``seed`` not None or an int,
            ``replica_check_every`` not an int; ``shuffle`` or ``resume`` not a
            bool, ``verbose`` not a bool or int; ``callback`` not callable, or
            (after an epoch) returning something other than None or a bool;
            ``optimizer`` not a :mod:`fastbp.optim` optimizer;
            ``validation_data`` not a pair (X_val, Y_val); ``comm`` not an
            MPI communicator.
        ValueError
            Before any update (nothing changed): X of the wrong shape (not
            (n_x, m), or no examples), Y not matching X (shape, label
            count), NaN or inf in X / Y (or X_val / Y_val, once converted
            to the network's dtype, so float64 data beyond float32's range
            counts as inf), targets outside the loss's domain (class labels
            out of range, a sigmoid target outside [0, 1], a negative count),
            bad ``sample_weight`` (shape, NaN/inf, negative, all zero),
            ``epochs < 0``, ``batch_size < 1``, ``checkpoint_every < 1``,
            a negative ``seed`` or ``replica_check_every``,
            ``resume`` without ``checkpoint_path``, ``sample_weight`` with ``comm``, ``comm`` that is
            ``MPI.COMM_NULL`` or an inter-communicator; and with ``resume`` a
            checkpoint that does not fit this network or optimizer.
        FloatingPointError
            When the loss stops being finite; the message names the epoch and
            step. The parameters and optimizer state are then restored to
            those at the start of the latest epoch whose first batch gave a
            finite loss (the last state known to be good: a copy is taken
            once per epoch, not per step), and the message says which. The
            same when the last update leaves non-finite parameters though
            every loss was finite (it overflowed the network's dtype).
        OSError
            A checkpoint that cannot be written (before any update when its
            directory is missing or read-only; same errno as the system's
            error; the previous checkpoint file is kept) or read on resume.
        ImportError
            ``comm`` given without mpi4py installed (the message says what
            to install).
        RuntimeError
            A fit of this network is already running (in another thread, or
            this is its callback): two fits of one network would interleave
            their steps. With ``comm``, raised on every rank when any
            rank's network is busy. The callback replaced
            ``net.optimizer`` (see ``callback``).
        fastbp.distributed.RankFailedError, fastbp.distributed.ReplicaMismatchError
            With ``comm`` (RuntimeErrors): on every other rank when one rank
            failed (its error quoted), or when the replicas' parameters or
            optimizer state differ across ranks (see
            ``replica_check_every``).

        Notes
        -----
        An exception out of ``fit`` (Ctrl-C, a callback's, a divergence)
        returns no history. Ctrl-C stops between compiled calls: the network
        and its optimizer are consistent, at the last update made (part of
        an epoch), and the checkpoint file holds the last epoch written. A
        divergence restores the parameters as described under Raises above.
        """
        args = dict(epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                    shuffle=shuffle, seed=seed, validation_data=validation_data,
                    verbose=verbose, callback=callback, checkpoint_path=checkpoint_path,
                    checkpoint_every=checkpoint_every, resume=resume,
                    sample_weight=sample_weight)
        # a second fit of the network (another thread's, or a callback's) is
        # refused, not interleaved step by step. Under the guard a fork takes:
        # a fork child drops the entries of the threads it does not have (see
        # _after_fork_in_child). The entry is this call's own object, and the
        # finally removes it whenever it was stored: registered before the
        # try, a Ctrl-C that came between the two left it behind, and every
        # later fit of the network was refused as "already running"
        entry = (threading.get_ident(), object())
        try:
            with _LOCKS_GUARD:
                if self not in _FITTING:
                    _FITTING[self] = entry
            busy = None
            if _FITTING.get(self) is not entry:
                # two fits of one network ran their steps interleaved, each with
                # its own optimizer and order: a result neither order gives,
                # different every run, and no word of it
                busy = RuntimeError(
                    "a fit of this network is already running (in another thread, or this "
                    "is its callback): two fits of one network would interleave their "
                    "steps; wait for it to end, or fit a copy (copy.deepcopy(net))")
            if comm is None:
                _validation.check_replica_check_every(replica_check_every)
                if busy is not None:
                    raise busy
                stepper = _fit.LocalStepper(self)
            else:
                # checked where the ranks agree on the setup, so that a mistake on
                # one rank raises on every rank instead of leaving them waiting;
                # the refusal of a busy network too, through a replica of its own
                # (the running fit's replica and its settings are left alone)
                replica = (self._replica_for(comm) if busy is None
                           else distributed.Replica(self, comm))
                stepper = replica.for_fit(replica_check_every)
            return _fit.fit(self, stepper, X, Y, refuse=busy, **args)
        finally:
            with _LOCKS_GUARD:
                if _FITTING.get(self) is entry:
                    del _FITTING[self]

    # ---------------------------------------------------------- checkpoints
    def get_config(self):
        """Architecture as a JSON-able dict (``Network(**config)`` rebuilds it).

        Returns
        -------
        dict
            The constructor's arguments but ``n_threads``.
        """
        return {"layer_dims": list(self.layer_dims), "hidden": list(self.hidden),
                "output": self.output,
                # unused: None, so that Network(**config) does not warn again
                "alpha": self.alpha if self._uses_alpha() else None,
                "dtype": self.dtype.name,
                "seed": self.seed, "init": self.init, "lambd": self.lambd,
                "keep_prob": list(self.keep_prob)}

    def save(self, path, *, optimizer=None, extra=None):
        """Write a checkpoint (``.npz``) atomically (see :mod:`fastbp.checkpoint`).

        The file holds ``config`` (the architecture, JSON), ``params`` (the
        flat parameter buffer), ``optimizer`` (JSON config + update count)
        and ``opt_state_<i>`` for ``optimizer`` (default: the network's
        last), and ``train`` (JSON: dropout step counter and seed, and
        ``extra`` such as epoch and history). The arrays and counts are
        copied under the network's lock: called while another thread
        trains, it saves one step boundary (that thread's next chunk of
        steps waits for the copy).

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (``.npz`` is added when missing).
        optimizer : fastbp.optim.Optimizer, optional
            Default: the network's last (:attr:`optimizer`), if any.
        extra : dict, optional
            JSON-able entries stored in ``train`` (``epoch``, ``history``, ...).

        Returns
        -------
        path : str
            The file written (``.npz`` added to ``path`` when missing).

        Raises
        ------
        ValueError
            An empty ``path``, an optimizer holding another network's state,
            or ``extra`` holding ``step`` / ``dropout_seed`` (the network's
            own entries) or an ``epoch`` / ``history`` a resumed fit cannot
            read (not a non-negative int / a dict of lists of numbers).
        TypeError
            ``extra`` is not a dict, or ``optimizer`` is not a
            :class:`fastbp.optim.Optimizer`.
        IsADirectoryError
            ``path`` is a directory (or ends in a separator): give a file name.
        OSError
            The file cannot be written (a missing or read-only directory, a
            full disk); a file there before is unchanged.
        """
        _check_extra(extra)
        if optimizer is not None:
            # a base Optimizer wrote kind 'none', which load refuses
            _validation.check_optimizer(optimizer, Optimizer)
        # One step boundary while another thread trains: the network's
        # optimizer is read under the lock too. Read before it, a save racing
        # a first fit saw no optimizer (fit binds it under the lock) and then
        # the parameters of that fit's later steps: a checkpoint whose step
        # count no optimizer state matched.
        with _lock(self):
            optimizer = optimizer or self.optimizer
            if optimizer is not None and (optimizer.bound_elsewhere(self._flat_params)
                                          or any(st.shape != (self.n_params,)
                                                 or st.dtype != self.dtype
                                                 for st in optimizer.state_arrays())):
                raise ValueError(f"{optimizer!r} holds the state of another network (it "
                                 "trained that one; one optimizer trains one network): "
                                 "pass this network's optimizer")
            arrays = {"params": self._flat_params.copy()}
            train = {"step": int(self._step), "dropout_seed": str(self._dropout_seed)}
            state = optimizer.state_arrays() if optimizer is not None else ()
            for i, st in enumerate(state):
                arrays[f"opt_state_{i}"] = st.copy()
            if optimizer is not None:
                opt_doc = {"config": optimizer.get_config(), "t": optimizer.t,
                           "n_state": len(state),
                           # the rate in force (a callback may have changed it),
                           # and a schedule JSON cannot hold
                           "lr": float(optimizer.lr),
                           "schedule_function": schedule_function_name(optimizer.schedule)}
        if extra:
            train.update(extra)
        documents = {"config": self.get_config(), "train": train}
        if optimizer is not None:
            documents["optimizer"] = opt_doc
        return checkpoint.write(path, arrays, documents)

    @classmethod
    def load(cls, path, *, n_threads=None):
        """Network from a checkpoint written by :meth:`save`.

        The optimizer saved with it (if any) is restored as ``net.optimizer``.

        Parameters
        ----------
        path : str or os.PathLike
            A file :meth:`save` wrote (``.npz`` may be left out).
        n_threads : int, optional
            As the constructor's (the checkpoint does not fix it).

        Returns
        -------
        Network

        Raises
        ------
        FileNotFoundError
            No file at ``path`` (nor at ``path`` with ``.npz`` added).
        ValueError
            For a truncated, corrupted or wrong-version file, or one that
            is not a checkpoint (another ``.npz``, a directory);
            ``n_threads`` 0.
        TypeError
            ``n_threads`` not an int or None.
        """
        # the caller's argument: its error must not read as the file's
        effective_n_threads(n_threads)
        data = _read_checkpoint(path)
        cfg = dict(data["config"])
        try:
            dims = _validation.check_layer_dims(cfg["layer_dims"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path!r}: invalid architecture in checkpoint ({exc})") from None
        # before the network is built: a file of a few bytes naming layers of
        # 10**5 units made it allocate and initialise gigabytes
        n_params = _layout(dims)[2]
        if data["params"].shape != (n_params,):
            raise ValueError(f"{path!r}: parameter buffer {data['params'].shape} does not "
                             f"match its architecture {list(dims)} ({n_params},)")
        try:
            net = cls(cfg.pop("layer_dims"), n_threads=n_threads, **cfg)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path!r}: invalid architecture in checkpoint ({exc})") from None
        net._apply_checkpoint(data, path)
        return net

    def restore(self, path, optimizer=None):
        """Load the state saved at ``path`` into this network (to resume training).

        The checkpoint must hold this architecture and dtype. Its optimizer
        becomes ``net.optimizer`` (``optimizer`` itself when its config is
        the saved one).

        Parameters
        ----------
        path : str or os.PathLike
            A file :meth:`save` wrote (``.npz`` may be left out).
        optimizer : fastbp.optim.Optimizer, optional
            The optimizer to continue with; its config must be the saved one.

        Returns
        -------
        dict
            The checkpoint's ``train`` entries (epoch, history, ...).

        Raises
        ------
        FileNotFoundError
            No file at ``path`` (nor at ``path`` with ``.npz`` added).
        ValueError
            The checkpoint holds another architecture, dtype, activation or
            output; ``optimizer`` is configured otherwise than the saved
            one; or the file is truncated, corrupted, of another version or
            not a checkpoint.
        TypeError
            ``optimizer`` is not a :class:`fastbp.optim.Optimizer`.
        """
        if optimizer is not None:
            _validation.check_optimizer(optimizer, Optimizer)
        data = _read_checkpoint(path)
        cfg = data["config"]
        mine = json.loads(json.dumps(self.get_config()))   # as JSON stored it
        differ = [k for k in ("layer_dims", "dtype", "hidden", "output", "alpha")
                  if cfg.get(k) != mine.get(k)]
        if differ:
            def describe(c):
                more = ", ".join(f"{k}={c.get(k)!r}" for k in differ
                                 if k not in ("layer_dims", "dtype"))
                return f"{c.get('layer_dims')} {c.get('dtype')}" + (f" ({more})" if more else "")
            raise ValueError(f"cannot resume from {path!r}: it holds a {describe(cfg)} "
                             f"network, this one is {describe(mine)}")
        if optimizer is not None and "optimizer" in data \
                and optimizer.get_config() != data["optimizer"]["config"]:
            try:
                saved = optimizer_from_config(data["optimizer"]["config"])
            except (TypeError, ValueError, KeyError):
                saved = None        # corrupted: _apply_checkpoint says so, naming the file
            if saved is not None:
                raise ValueError(
                    f"cannot resume from {path!r} with {optimizer!r}: the checkpoint's "
                    f"optimizer is {saved!r}, whose state it holds. Pass an optimizer made "
                    "as that one was (or none: the checkpoint's is used), or start a new "
                    "run (resume=False)")
        # the lists a resumed fit continues, before anything changes (fit
        # checked them after restoring)
        checkpoint.check_history(data["train"].get("history") or {}, _FIT_HISTORY, path)
        return self._apply_checkpoint(data, path, optimizer)

    def _apply_checkpoint(self, data, path, optimizer=None):
        """Check every part of the checkpoint, then load it (nothing changes
        when a check fails)."""
        params = data["params"]
        if params.shape != (self.n_params,) or params.dtype != self.dtype:
            raise ValueError(f"{path!r}: parameter buffer {params.shape}/{params.dtype} does "
                             f"not match the network ({self.n_params},)/{self.dtype}")
        if not np.all(np.isfinite(params)):
            raise ValueError(f"{path!r}: the saved parameters contain NaN or inf")
        train = data["train"]
        step = _checkpoint_int(train.get("step", 0), path, "train.step", 0, 2**64 - 1)
        if "epoch" in train:
            _checkpoint_int(train["epoch"], path, "train.epoch")
        if "dropout_seed" in train:
            dropout_seed = _checkpoint_int(train["dropout_seed"], path, "train.dropout_seed",
                                           -2**63, 2**64 - 1) % (2**64)
        opt = states = None
        if "optimizer" in data:
            info = data["optimizer"]
            try:
                opt = optimizer_from_config(info["config"])
                lr = float(info["lr"]) if "lr" in info else None
                if lr is not None and not (math.isfinite(lr) and lr > 0):
                    raise ValueError(f"the learning rate in force is {lr}, not > 0")
            except (TypeError, ValueError, KeyError) as exc:
                raise ValueError(f"{os.fspath(path)!r}: corrupted checkpoint: its optimizer "
                                 f"cannot be rebuilt ({exc})") from None
            if optimizer is not None and type(optimizer) is type(opt) \
                    and optimizer.get_config() == opt.get_config():
                opt = optimizer           # keep the caller's object (and its schedule callable)
            n_state = _checkpoint_int(info.get("n_state", 0), path, "optimizer.n_state", 0, 8)
            t = _checkpoint_int(info.get("t", 0), path, "optimizer.t")
            if n_state == 0 and t == 0:
                states = ()     # saved before its first update: no state yet, bound fresh
            elif n_state != opt.n_state:
                raise ValueError(f"{path!r}: optimizer state has {n_state} buffers, "
                                 f"{type(opt).__name__} needs {opt.n_state}")
            else:
                states = []
                for i in range(n_state):
                    saved = data.get(f"opt_state_{i}")
                    if saved is None or saved.shape != (self.n_params,):
                        raise ValueError(f"{path!r}: optimizer state buffer {i} is missing "
                                         "or has the wrong size")
                    # as the parameters: copied in, strings or integers were parsed
                    # or cast silently, and NaN trained on into a divergence
                    if saved.dtype != self.dtype:
                        raise ValueError(f"{path!r}: optimizer state buffer {i} is "
                                         f"{saved.dtype}, not the network's {self.dtype}")
                    if not np.all(np.isfinite(saved)):
                        raise ValueError(f"{path!r}: optimizer state buffer {i} contains "
                                         "NaN or inf")
                    states.append(saved)
        if opt is not None:
            _validation.check_optimizer(opt, Optimizer)
        with _lock(self):       # a save or pickle in another thread sees old or new
            self._flat_params[...] = params
            self.parameters_changed()
            self._step = step
            if "dropout_seed" in train:
                self._dropout_seed = dropout_seed
            if opt is not None:
                for i, s in enumerate(opt.bind(self.n_params, self.dtype, self._flat_params)):
                    # saved before its first update (no states): zeros, as freshly
                    # bound -- the caller's optimizer may hold moments of updates since
                    s[...] = states[i] if states else 0
                opt.t = t
                if lr is not None:
                    opt.lr = lr
                self._bind(opt)
        if opt is not None:
            lost = info.get("schedule_function")
            if lost and schedule_function_name(opt.schedule) is None:
                warnings.warn(
                    f"{path!r}: its optimizer's learning rate followed the function {lost!r}, "
                    "which a checkpoint cannot hold; training goes on at the saved rate "
                    f"({opt.lr:g}) without it. Pass the optimizer with that schedule to "
                    "resume with it", RuntimeWarning, stacklevel=user_stacklevel())
        return train
