"""The training loop of :meth:`fastbp.Network.fit`: epochs, shuffling, history,
callbacks, progress, checkpoints and resume.

The loop knows no model class and no MPI. It drives a *model* through the
stepper interface documented in :class:`fastbp.Network` (``check_X``,
``check_Y``, ``restore``, ``save``, ``optimizer``, ``seed``, ``layer_dims``,
``loss_name``, ``flat_parameters``, ``step_count``, ``parameters_changed``)
and computes through a *stepper*: :class:`LocalStepper` here, the MPI replica
of :mod:`fastbp.distributed` for data-parallel training. A stepper provides

``check_args(sample_weight)``
    validate its own arguments, and whether it can weight examples (called
    with the other checks);
``agree(err, facts)``
    raise ``err`` (a setup error, or None) -- MPI: on every rank together,
    and also when the ``facts`` (a dict describing the data and arguments)
    differ across ranks;
``training()``
    a context manager around the epochs;
``resume(path, optimizer)``
    ``(start_epoch, saved_history, optimizer, kept)`` from the checkpoint at
    ``path``, or None when there is none; ``optimizer`` is None when the
    checkpoint holds none (saved before any training), ``kept`` the other
    entries of its ``train`` record
    (:func:`fastbp.checkpoint.kept_train_entries`; needed on the process
    that writes checkpoints only);
``start(optimizer)``
    called once before the first epoch;
``shuffle_seed(seed)``
    the seed of the shuffling generator;
``share(n)``
    ``(lo, hi)``: the columns of a batch of ``n`` this process computes;
``step(X, Y, y_code, labels, optimizer, n, lo)``
    one update on the process's columns ``[lo, hi)`` of a batch of ``n``;
    returns the batch's loss. With per-example weights the loop calls it
    with ``sample_weight=`` (the batch's weights) as well; only
    :class:`LocalStepper` takes them;
``epoch`` (optional: absent or None means per-batch ``step`` calls)
    ``epoch(X, Y, y_code, labels, optimizer, order, batch_size, start_batch,
    n_batches, loss_total, sample_weight=None) -> (loss_total, n_done)``:
    mini-batches ``start_batch ..`` of the epoch ``X[:, order]`` (``order``
    None: in order) in one call, with the results of the per-batch loop bit
    for bit (:meth:`fastbp.Network.train_epoch`). The optional attributes
    ``batches_per_call`` (a fixed count) or ``call_seconds`` (calls sized to
    take about that long; neither: a whole epoch per call) cut an epoch
    into several calls. A non-finite loss raises FloatingPointError with
    the failing batch's index as ``batch_index``;
``evaluate(X, Y, labels)``
    ``(loss, accuracy)`` of checked data;
``history_keys``, ``epoch_begin()``, ``epoch_end()``
    extra per-epoch entries of the history;
``stop(flag)``
    whether any process's callback asked to stop;
``on_root(fn, what)``
    ``fn()`` on the process that writes files, its result everywhere;
``same_everywhere(exc)``
    ``exc``, marked as raised by every process together;
``finish(optimizer)``
    called after the last epoch;
``is_root``
    whether this process shows progress.
"""
import contextlib
import os
import sys
import time
import warnings

import numpy as np

from fastbp import _validation, checkpoint
from fastbp._openmp_helpers import user_stacklevel
from fastbp.optim import SGD, Optimizer

__all__ = ["fit", "LocalStepper"]


class _Progress:
    """tqdm when installed, plain text lines otherwise (never a hard dependency).

    Progress is never worth a failed fit: with no stderr (``sys.stderr`` is
    None under pythonw, in a windowed app, or with file descriptor 2
    closed) nothing is shown, and a stream that stops taking writes (closed,
    full disk) ends the display, not the training."""

    def __init__(self, total, desc, verbose, stream=None, initial=0):
        """Epochs ``initial + 1 .. total`` (a resumed fit starts past 0);
        nothing is shown when none are left."""
        self.stream = stream if stream is not None else sys.stderr
        self.verbose = bool(verbose) and total > initial and self.stream is not None
        self.total = total
        self.bar = None
        self.last_print = 0.0
        if not self.verbose:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            tqdm = None
        self.desc = desc
        self.first = initial + 1
        if tqdm is not None:
            try:
                self.bar = tqdm(total=total, initial=initial, desc=desc, unit="epoch",
                                leave=True, file=self.stream, dynamic_ncols=True,
                                mininterval=0.2)
            except (OSError, ValueError, AttributeError):
                self.verbose = False      # a stream that takes no writes

    def update(self, epoch, logs):
        if not self.verbose:
            return
        try:
            self._show(epoch, logs)
        except (OSError, ValueError):     # the stream closed or filled up: stop showing
            self.verbose = False
            self.bar = None

    def _show(self, epoch, logs):
        # a regression's accuracy is NaN (Network.evaluate): not shown
        shown = {k: logs[k] for k in ("loss", "val_loss", "val_accuracy")
                 if k in logs and not (k == "val_accuracy" and logs[k] != logs[k])}
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in shown.items()}, refresh=False)
            self.bar.update(1)
            return
        now = time.perf_counter()
        every = max(1, self.total // 20)
        if (epoch == self.first or epoch == self.total or epoch % every == 0
                or now - self.last_print > 5):
            vals = "  ".join(f"{k} {v:.4g}" for k, v in shown.items())
            print(f"{self.desc} {epoch}/{self.total}  {vals}", file=self.stream, flush=True)
            self.last_print = now

    def close(self):
        if self.bar is not None:
            try:
                self.bar.close()
            except (OSError, ValueError):
                pass


class LocalStepper:
    """The stepper of a one-process fit: the model's compiled ``train_epoch``.

    Parameters
    ----------
    model : the model (:class:`fastbp.Network`)
    per_batch : bool, default False
        Step batch by batch through ``train_batch`` (the loop that
        ``train_epoch`` replaces; kept for comparison and for models without
        ``train_epoch``).
    batches_per_call : int, optional
        Mini-batches per compiled call. None (default): as many as take
        about ``call_seconds`` (estimated from the previous calls), so a
        long epoch still returns to Python a few times a second (Ctrl-C
        and other signals are handled between calls) while a short one is
        one call. The results do not depend on it.
    """

    #: target duration of one compiled call when batches_per_call is None
    call_seconds = 0.2

    history_keys = ()
    is_root = True

    def __init__(self, model, *, per_batch=False, batches_per_call=None):
        self.model = model
        if per_batch or not hasattr(model, "train_epoch"):
            self.epoch = None
        self.batches_per_call = (None if batches_per_call is None else
                                 _validation.check_positive_int("batches_per_call",
                                                                batches_per_call))

    def check_args(self, sample_weight):
        pass

    def agree(self, err, facts):
        if err is not None:
            raise err

    def training(self):
        return contextlib.nullcontext()

    def resume(self, path, optimizer):
        path = checkpoint.file_for(path)        # the file this fit writes
        if not os.path.exists(path):
            return None
        saved_opt = checkpoint.has_entry(path, "optimizer")
        info = self.model.restore(path, optimizer)
        return (int(info.get("epoch", 0)), info.get("history") or {},
                self.model.optimizer if saved_opt else None,
                checkpoint.kept_train_entries(info))

    def start(self, optimizer):
        pass

    def shuffle_seed(self, seed):
        return self.model.seed if seed is None else seed

    def share(self, n):
        return 0, n

    def step(self, X, Y, y_code, labels, optimizer, n, lo, sample_weight=None):
        return self.model.train_batch(X, Y, y_code, labels, optimizer,
                                      sample_weight=sample_weight)

    def epoch(self, X, Y, y_code, labels, optimizer, order, batch_size, start_batch,
              n_batches, loss_total, sample_weight=None):
        return self.model.train_epoch(X, Y, y_code, labels, optimizer, order, batch_size,
                                      start_batch, n_batches, loss_total,
                                      sample_weight=sample_weight)

    def evaluate(self, X, Y, labels):
        loss_sum, correct = self.model.evaluate_sums(X, Y, labels)
        return self.model.evaluate_finish(loss_sum, correct, X.shape[1])

    def epoch_begin(self):
        pass

    def epoch_end(self):
        return {}

    def stop(self, flag):
        return bool(flag)

    def on_root(self, fn, what):
        return fn()

    def same_everywhere(self, exc):
        return exc

    def finish(self, optimizer):
        pass


class _Snapshots:
    """The last parameters known to be good, for ``fit``'s divergence error.

    A step's loss is computed from the parameters before its update, and a
    non-finite loss skips the update; so when step s diverges, the parameters
    whose loss was last finite are those before step s - 1's update. Keeping
    them would cost a copy of the parameters and optimizer state per step;
    instead one copy is taken at the start of every epoch (the model's flat
    parameter buffer, the optimizer's state buffers, its update count and the
    dropout step count), and it becomes known-good once that epoch's first
    batch gives a finite loss. Two copies live at a time: the current
    epoch's (pending) and the last confirmed one.
    """

    def __init__(self, model, optimizer):
        self.model = model
        self.optimizer = optimizer
        self.good = None        # (epoch, buffers, t, step) whose first loss was finite
        self.pending = None     # this epoch's, until its first loss is known
        self.spare = None       # buffers to reuse (no allocation after the first epochs)

    def _arrays(self):
        return (self.model.flat_parameters,) + tuple(self.optimizer.state_arrays())

    def take(self, epoch):
        arrays = self._arrays()
        bufs = self.spare
        if bufs is not None and [b.shape for b in bufs] == [a.shape for a in arrays]:
            for b, a in zip(bufs, arrays):
                np.copyto(b, a)
        else:
            bufs = tuple(a.copy() for a in arrays)
        self.spare = None
        self.pending = (epoch, bufs, self.optimizer.t, self.model.step_count)

    def confirm(self):
        """The pending copy's first loss was finite: it becomes the good one."""
        if self.good is not None:
            self.spare = self.good[1]
        self.good = self.pending

    def restore(self, first_step):
        """Put the last good state back: (its epoch from 1, updates undone), or
        (None, 0) when there is none (the run's first step diverged)."""
        snap = self.good if first_step else self.pending
        if snap is None:
            return None, 0
        epoch, bufs, t, step = snap
        arrays = self._arrays()
        for a, b in zip(arrays, bufs):
            np.copyto(a, b)
        for a in arrays[len(bufs):]:
            a.fill(0)       # state allocated after the copy: as freshly bound
        undone = self.optimizer.t - t
        self.optimizer.t = t
        self.model.step_count = step
        self.model.parameters_changed()
        return epoch + 1, undone


def _gathers(shuffle, batch_size, m):
    """Whether a fit's epochs gather each mini-batch's examples from X (a
    shuffled fit of more than one batch), so X is wanted in F order."""
    return shuffle and min(batch_size, m) < m


def fit(model, stepper, X, Y, *, epochs, batch_size, optimizer, shuffle, seed,
        validation_data, verbose, callback, checkpoint_path, checkpoint_every, resume,
        sample_weight, refuse=None):
    """Train ``model`` with ``stepper``; the arguments are :meth:`fastbp.Network.fit`'s.

    ``refuse``: an exception the setup raises before any other check (a
    fit of ``model`` already running), agreed like any setup error: with a
    data-parallel stepper every rank raises.

    Returns the history dict (see :meth:`fastbp.Network.fit`).
    """
    # 1. every check, then one agreement: a setup error raises before any update
    err = facts = val = None
    chosen = True
    try:
        if refuse is not None:
            raise refuse
        _validation.check_fit_args(epochs, batch_size, checkpoint_every, callback, seed,
                                    shuffle, resume, verbose)
        if resume and checkpoint_path is None:
            raise ValueError("resume=True needs the checkpoint_path to resume from")
        if checkpoint_path is not None and stepper.is_root:
            checkpoint.check_writable(checkpoint_path)     # before an epoch is spent
        chosen = optimizer is not None or model.optimizer is not None
        if optimizer is None:
            # fit's default; on resume the checkpoint's optimizer is used instead
            optimizer = model.optimizer if model.optimizer is not None else SGD(0.01)
        _validation.check_optimizer(optimizer, Optimizer)
        # binding checks it too, but after the setup exchange: with comm= every
        # rank raised alone there, and fit aborted the job
        optimizer.check_dtype(np.dtype(model.dtype))
        if not resume:      # a resumed fit trains the checkpoint's parameters
            _validation.check_finite_parameters(model.flat_parameters)
        stepper.check_args(sample_weight)
        # before check_X converts them
        given = (_validation.given_dtype(X), _validation.given_dtype(Y))
        # a shuffled fit gathers examples from an F-ordered X (gather_layout,
        # below): a dtype conversion makes its copy in that order, so float64
        # data for a float32 network is not copied twice (two float32 copies
        # alive at once)
        gathers = (type(X) is np.ndarray and X.ndim == 2
                   and _gathers(shuffle, batch_size, X.shape[1]))
        X = model.check_X(X, "X", order="F" if gathers else "K")
        _validation.check_finite(X, "X")
        Y, yt, labels = model.check_Y(Y, X.shape[1])
        if not labels:
            _validation.check_finite(Y, "Y")
        # the targets' domain, once: the steps below read checked data
        _validation.check_targets(Y, model.loss_name, model.layer_dims[-1], labels,
                                  dtype=model.dtype)
        sw = model.check_sample_weight(sample_weight, X.shape[1])
        facts = {"X": X, "Y": Y, "epochs": int(epochs), "batch_size": int(batch_size),
                 "shuffle": bool(shuffle), "callback given": callback is not None,
                 "optimizer": optimizer, "validation data": None,
                 # only rank 0 writes and reads it, but every rank takes part
                 "checkpoint_path given / checkpoint_every / resume": (
                     checkpoint_path is not None, int(checkpoint_every), bool(resume)),
                 "X / Y dtype as given": given}
        if validation_data is not None:
            Xv, Yv = _validation.check_validation_pair(validation_data)
            Xv = model.check_X(Xv, "X_val")
            _validation.check_finite(Xv, "X_val")     # before any update, named
            Yv, _, vlabels = model.check_Y(Yv, Xv.shape[1], "Y_val")
            if not vlabels:
                _validation.check_finite(Yv, "Y_val")
            _validation.check_targets(Yv, model.loss_name, model.layer_dims[-1], vlabels,
                                      "Y_val", dtype=model.dtype)
            val = Xv, Yv, vlabels
            facts["validation data"] = (Xv, Yv)
    except BaseException as exc:
        # Ctrl-C while the data is checked too: with comm= the other ranks
        # wait in the agreement below, so it goes there like any failure
        err = exc
    stepper.agree(err, facts)
    facts = None
    if _gathers(shuffle, batch_size, X.shape[1]):
        # the F-ordered copy made here, not in _epochs: this frame holds X for
        # the whole fit, so a copy made there kept the C-ordered one alive too
        # (two copies of X in the network's dtype when check_X converted it)
        X, Y = _validation.gather_layout(X), _validation.gather_layout(Y)
    # 2. the epochs
    with stepper.training():
        return _epochs(model, stepper, X, Y, yt, labels, optimizer, val, epochs, batch_size,
                       shuffle, seed, verbose, callback, checkpoint_path, checkpoint_every,
                       resume, sw, chosen)


class _Diverged(Exception):
    """A non-finite loss at mini-batch ``batch`` (from 0) of an epoch."""

    def __init__(self, batch, error):
        super().__init__(batch, error)
        self.batch = batch
        self.error = error


class CallPacer:
    """How many mini-batches the next compiled epoch call runs.

    A compiled call runs without the GIL and Python handles signals (Ctrl-C)
    only between calls, so an epoch is cut into calls of about ``target``
    seconds at the pace of the calls so far (the first runs ``FIRST_CALL``
    batches); ``per_call`` fixes the count instead, and ``target`` None with
    no ``per_call`` runs everything in one call. Results never depend on
    the cut: the loss total is carried through the calls.
    """

    FIRST_CALL = 4      # batches of the first call, when adaptive

    def __init__(self, target=0.2, per_call=None):
        self.target = target
        self.per_call = per_call
        self.pace = None     # seconds per batch, of the last timed call

    def batches(self, left):
        """Batches for the next call, ``left`` still to run."""
        if self.per_call is not None:
            return min(self.per_call, left)
        if self.target is None:
            return left
        if self.pace is None:
            return min(self.FIRST_CALL, left)
        return min(max(1, round(self.target / self.pace)) if self.pace > 0 else left, left)

    def timed(self, seconds, done):
        """Record that a call ran ``done`` batches in ``seconds``."""
        if done:
            self.pace = seconds / done

    def run(self, call, n, start=0, total=0.0):
        """Batches ``start`` to ``n - 1`` in paced calls ``call(b, k, total) ->
        (total, done)`` (``train_epoch``'s); returns the total. A
        FloatingPointError out of a call carries ``batch_index`` (the batch the
        call started at, if the call did not set it)."""
        b = start
        while b < n:
            t0 = time.perf_counter()
            try:
                total, done = call(b, self.batches(n - b), total)
            except FloatingPointError as exc:
                if not hasattr(exc, "batch_index"):
                    exc.batch_index = b
                raise
            self.timed(time.perf_counter() - t0, done)
            b += done
        return total


class _CompiledEpochs:
    """An epoch in compiled calls of ``stepper.epoch``: ``batches_per_call``
    mini-batches each, or (None) as many as take about ``call_seconds``
    (:class:`CallPacer`)."""

    def __init__(self, stepper, X, Y, yt, labels, sw, batches, shuffled):
        self.args = (X, Y, yt, labels)
        self.kw = {} if sw is None else {"sample_weight": sw}
        self.call = stepper.epoch
        self.bs = batches[0][1] - batches[0][0]
        self.n = len(batches)
        self.pacer = CallPacer(getattr(stepper, "call_seconds", None),
                               getattr(stepper, "batches_per_call", None))

    def __call__(self, optimizer, perm):
        try:
            return self.pacer.run(lambda b, k, total: self.call(
                *self.args, optimizer, perm, self.bs, b, k, total, **self.kw), self.n)
        except FloatingPointError as exc:
            raise _Diverged(exc.batch_index, exc) from None


class _PerBatchEpochs:
    """An epoch in one ``stepper.step`` per mini-batch (the MPI replica's way,
    and a sparse X's): shuffled epochs gather this process's columns into
    buffers allocated once, examples as rows, so each batch is an
    F-contiguous view; a sparse X's batches are its columns picked by SciPy
    (CSC matrices of the batch's entries)."""

    def __init__(self, stepper, X, Y, yt, labels, sw, batches, shuffled):
        self.stepper, self.X, self.Y, self.yt, self.labels = stepper, X, Y, yt, labels
        self.sw = sw
        self.batches = batches
        # this process's columns of every batch: [j + lo, j + hi)
        self.own = [stepper.share(k - j) for j, k in batches]
        self.shuffled = shuffled
        self.sparse = not isinstance(X, np.ndarray)
        if shuffled:
            self.pos = np.concatenate([np.arange(j + lo, j + hi) for (j, _), (lo, hi) in
                                       zip(batches, self.own)]).astype(np.intp)
            self.starts = np.cumsum([0] + [hi - lo for lo, hi in self.own])
            n = self.pos.size
            self.Xs = None if self.sparse else np.empty((n, X.shape[0]), dtype=X.dtype)
            self.Ys = np.empty((n,) if Y.ndim == 1 else (n, Y.shape[0]), dtype=Y.dtype)
            self.idx = np.empty(n, dtype=np.intp)
            self.Ws = np.empty(n) if sw is not None else None
        # a CSR X's columns: X[:, idx] (and X[:, j:k]) scans all of X for every
        # batch (an epoch cost O(nnz * m / batch): 4.9x CSC's at m = 40000);
        # pick them from one CSC copy instead, O(the batch's entries)
        self.Xcsc = None
        if (self.sparse and getattr(X, "format", None) == "csr" and len(batches) > 1
                and X.has_canonical_format and _validation.copy_fits_in_memory(
                    X.data.nbytes + X.indices.nbytes + X.indptr.nbytes)):
            try:
                self.Xcsc = X.tocsc()
            except MemoryError:         # picked from X itself, slower
                pass

    def __call__(self, optimizer, perm):
        X, Y, sw, Xs, Ys, Ws = self.X, self.Y, self.sw, None, None, None
        if self.shuffled:
            np.take(perm, self.pos, out=self.idx)
            Xs, Ys, Ws = self.Xs, self.Ys, self.Ws
            if not self.sparse:
                np.take(X.T, self.idx, axis=0, out=Xs)
            if Y.ndim == 1:
                np.take(Y, self.idx, out=Ys)
            else:
                np.take(Y.T, self.idx, axis=0, out=Ys)
            if sw is not None:
                np.take(sw, self.idx, out=Ws)
        total = 0.0
        for s, ((j, k), (lo, hi)) in enumerate(zip(self.batches, self.own)):
            if self.shuffled:
                c0, c1 = self.starts[s], self.starts[s + 1]
                if self.Xcsc is not None:
                    Xb = _csr_columns(X, self.Xcsc, self.idx[c0:c1])
                else:
                    Xb = X[:, self.idx[c0:c1]] if self.sparse else Xs[c0:c1].T
                Yb = Ys[c0:c1] if Y.ndim == 1 else Ys[c0:c1].T
                Wb = Ws[c0:c1] if sw is not None else None
            elif self.Xcsc is not None:
                Xb = _csr_columns(X, self.Xcsc, np.arange(j + lo, j + hi, dtype=np.intp))
                Yb = Y[j + lo:j + hi] if Y.ndim == 1 else Y[:, j + lo:j + hi]
                Wb = sw[j + lo:j + hi] if sw is not None else None
            else:
                Xb = X[:, j + lo:j + hi]
                Yb = Y[j + lo:j + hi] if Y.ndim == 1 else Y[:, j + lo:j + hi]
                Wb = sw[j + lo:j + hi] if sw is not None else None
            try:
                if Wb is None:
                    loss = self.stepper.step(Xb, Yb, self.yt, self.labels, optimizer, k - j, lo)
                else:
                    loss = self.stepper.step(Xb, Yb, self.yt, self.labels, optimizer, k - j, lo,
                                             sample_weight=Wb)
                total += loss * (k - j)
            except FloatingPointError as exc:
                raise _Diverged(s, exc) from None
        return total


def _csr_columns(X, Xcsc, idx):
    """``X[:, idx]`` of a canonical CSR X (sorted indices, no duplicates) and
    distinct ``idx``, from ``Xcsc = X.tocsc()``: the same arrays (each row's
    entries in X's column order, labelled by their position in ``idx``), so
    the steps' sums run in the same order, in O(the batch's entries)."""
    pos = np.argsort(idx, kind="stable")
    sub = Xcsc[:, idx[pos]].tocsr()         # rows' entries in X's column order
    return type(X)((sub.data, pos[sub.indices].astype(sub.indices.dtype, copy=False),
                    sub.indptr), shape=(X.shape[0], idx.shape[0]))


def _epochs(model, stepper, X, Y, yt, labels, optimizer, val, epochs, batch_size, shuffle,
            seed, verbose, callback, checkpoint_path, checkpoint_every, resume, sw, chosen=True):
    m = X.shape[1]
    bs = int(min(batch_size, m))
    history = {"loss": [], "lr": []}
    if val is not None:
        history["val_loss"] = []
        history["val_accuracy"] = []
    for key in stepper.history_keys:
        history[key] = []
    start_epoch = 0
    kept, resumed_step = {}, None
    if resume and checkpoint_path is not None:
        # an optimizer the caller chose must be the checkpoint's (restore checks)
        got = stepper.resume(checkpoint_path, optimizer if chosen else None)
        if got is not None:
            start_epoch, saved, restored, kept = got
            # (a checkpoint written before fit_step was kept: 0, the seed alone, as then)
            resumed_step = checkpoint.check_fit_step(kept.get("fit_step", 0), checkpoint_path)
            saved = checkpoint.check_history(saved, list(history),
                                             checkpoint.file_for(checkpoint_path))
            # a checkpoint saved before any training holds no optimizer: fit's own
            # (the caller's, or its default) trains on
            optimizer = restored if restored is not None else optimizer
            if start_epoch > epochs:
                warnings.warn(
                    f"the checkpoint {os.fspath(checkpoint_path)!r} is past epoch "
                    f"{start_epoch} and epochs={epochs}: nothing is trained, and the "
                    f"history returned is the checkpoint's ({start_epoch} epochs)",
                    RuntimeWarning, stacklevel=user_stacklevel())
            n_done = len(saved.get("loss", []))
            for k in history:
                history[k] = list(saved.get(k, [None] * n_done))
    stepper.start(optimizer)
    # the step count when this fit began (a resumed fit's from its checkpoint):
    # with no seed given, the orders come from (the model's seed, it), so that
    # fit(epochs=1) called in a loop reshuffles each time (it repeated one order
    # every epoch, silently); a first fit (step 0) shuffles as the seed alone.
    # Read after start: a data-parallel fit's ranks take rank 0's count there
    # (read before it, a rank whose count differed drew other orders, and the
    # ranks summed shares of different batches, silently)
    fit_step = model.step_count if resumed_step is None else resumed_step
    base = stepper.shuffle_seed(seed)
    rng = np.random.default_rng(base if seed is not None or base is None or not fit_step
                                else [base, fit_step])
    # (shuffled, X and Y arrive laid out for the per-batch gathers: fit made
    # the copy, see _validation.gather_layout)
    shuffled = bool(shuffle and bs < m)
    # resumed runs reshuffle as if they had never stopped; past ``epochs`` nothing
    # trains (a checkpoint's epoch of 10**12 would otherwise hang here)
    for _ in range(min(start_epoch, epochs) if shuffled else 0):
        rng.permutation(m)

    batches = [(j, min(m, j + bs)) for j in range(0, m, bs)]
    if getattr(stepper, "epoch", None) is not None and isinstance(X, np.ndarray):
        run_epoch = _CompiledEpochs(stepper, X, Y, yt, labels, sw, batches, shuffled)
    else:
        run_epoch = _PerBatchEpochs(stepper, X, Y, yt, labels, sw, batches, shuffled)
    progress = _Progress(epochs, "epoch", verbose and stepper.is_root, initial=start_epoch)
    snap = _Snapshots(model, optimizer)
    warned_lr = False
    try:
        for epoch in range(start_epoch, epochs):
            lr = optimizer.set_epoch(epoch)
            snap.take(epoch)
            perm = rng.permutation(m) if shuffled else None
            stepper.epoch_begin()
            try:
                total = run_epoch(optimizer, perm)
            except _Diverged as exc:
                s = exc.batch
                j, k = batches[s]
                back, undone = snap.restore(s == 0)
                raise stepper.same_everywhere(FloatingPointError(
                    _validation.divergence_message(epoch + 1, s + 1, j, k,
                                                   getattr(exc.error, "loss", "not finite"),
                                                   back, undone,
                                                   None if perm is None else perm[j:k])
                )) from None
            snap.confirm()      # every loss of the epoch was finite, its first batch's too
            if not np.isfinite(model.flat_parameters).all():
                # the epoch's last update overflowed (a float32 network, a finite
                # loss computed in float64): the next step's loss would say so,
                # but the callback, the validation and the checkpoint come first
                # (the checkpoint replaced the last good one with one that
                # cannot be loaded), and after the last epoch there is none
                back, undone = snap.restore(True)
                raise stepper.same_everywhere(FloatingPointError(
                    _validation.last_update_message(epoch + 1, back, undone)))
            logs = {"loss": total / m, "lr": lr}
            logs.update(stepper.epoch_end())
            if val is not None:
                logs["val_loss"], logs["val_accuracy"] = stepper.evaluate(*val)
            for key in history:
                history[key].append(logs[key])
            progress.update(epoch + 1, logs)
            done = epoch + 1
            stop = False
            if callback is not None:
                bound = model.optimizer
                rates = optimizer.lr, optimizer.lr0
                result = callback(model, done, logs)
                if (optimizer.schedule is not None and not warned_lr and done < epochs
                        and optimizer.lr != rates[0] and optimizer.lr0 == rates[1]):
                    # the next epoch's set_epoch overwrote it before any step
                    warned_lr = True
                    warnings.warn(
                        f"the callback set lr={optimizer.lr!r} after epoch {done}, but the "
                        f"optimizer's schedule ({optimizer.schedule!r}) sets the rate at "
                        "every epoch, so the change is undone before the next step: set "
                        "lr0 (the rate the schedule starts from) to rescale the schedule, "
                        "or opt.schedule = None to set the rates yourself",
                        RuntimeWarning, stacklevel=user_stacklevel())
                if model.optimizer is not bound:
                    raise RuntimeError(
                        f"the callback replaced net.optimizer ({bound!r} by "
                        f"{model.optimizer!r}) during fit, which trains on with the optimizer "
                        "it started with (the change would be undone at the next step): to "
                        "change the rate, set the optimizer's lr in the callback; to switch "
                        "optimizers, return True to stop and fit again with the new one")
                stop = stepper.stop(_validation.callback_stop(result))
            if checkpoint_path is not None and (done % checkpoint_every == 0
                                                or done == epochs or stop):
                stepper.on_root(lambda: model.save(checkpoint_path, optimizer=optimizer,
                                                   extra={**kept, "epoch": done,
                                                          "history": history,
                                                          "fit_step": fit_step}),
                                f"writing the checkpoint {os.fspath(checkpoint_path)!r}")
            if stop:
                break
    finally:
        progress.close()
    stepper.finish(optimizer)
    return history
