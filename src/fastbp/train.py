"""Fit loop, checkpoints and a plain-NumPy baseline for :class:`fastbp.Network`.

``fit`` validates and converts the data once, then runs one compiled
``train_step`` per mini-batch. Shuffled epochs gather the columns into a
buffer allocated once, stored examples-as-rows so every mini-batch is an
F-contiguous (n_x, b) view: no allocation per step.

Checkpoints are one ``.npz`` (no pickles) holding a format tag and version,
the architecture as JSON, the flat parameter buffer, the optimizer's config
and flat state buffers, and the training position (epoch, step, history).
They are written to a temporary file in the target directory and renamed
into place, so a crash never leaves a half-written checkpoint.
"""
import json
import math
import os
import sys
import tempfile
import time
import zipfile

import numpy as np

from fastbp.optim import Optimizer, SGD, optimizer_from_config

__all__ = ["fit", "save_checkpoint", "load_checkpoint", "NumpyNetwork",
           "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION"]

CHECKPOINT_FORMAT = "fastbp-checkpoint"
CHECKPOINT_VERSION = 1


# ----------------------------------------------------------------- progress

class _Progress:
    """tqdm when installed, plain text lines otherwise (never a hard dependency)."""

    def __init__(self, total, desc, verbose, stream=None):
        self.verbose = bool(verbose)
        self.stream = stream or sys.stderr
        self.total = total
        self.bar = None
        self.last_print = 0.0
        if not self.verbose:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            self.bar = tqdm(total=total, desc=desc, unit="epoch", leave=True,
                            file=self.stream, dynamic_ncols=True, mininterval=0.2)
        self.desc = desc

    def update(self, epoch, logs):
        if not self.verbose:
            return
        shown = {k: logs[k] for k in ("loss", "val_loss", "val_accuracy") if k in logs}
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in shown.items()}, refresh=False)
            self.bar.update(1)
            return
        now = time.perf_counter()
        every = max(1, self.total // 20)
        if epoch == 1 or epoch == self.total or epoch % every == 0 or now - self.last_print > 5:
            vals = "  ".join(f"{k} {v:.4g}" for k, v in shown.items())
            print(f"{self.desc} {epoch}/{self.total}  {vals}", file=self.stream, flush=True)
            self.last_print = now

    def close(self):
        if self.bar is not None:
            self.bar.close()


# ------------------------------------------------------------------- fit

def _prepare(net, X, Y):
    X = net._check_x(X, "X")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or inf; clean or impute the data before training")
    Y, yt, labels = net._check_y(Y, X.shape[1])
    if labels:
        n_out = net.layer_dims[-1]
        lo, hi = int(np.min(Y)), int(np.max(Y))
        if lo < 0 or hi >= n_out:
            raise net._bad_label_error(Y, True)
    elif Y.dtype.kind == "f" and not np.all(np.isfinite(Y)):
        raise ValueError("Y contains NaN or inf")
    return X, Y, yt, labels


def _check_fit_args(net, epochs, batch_size, checkpoint_every, callback, optimizer):
    """Validate fit's scalar arguments; returns the optimizer to use."""
    for name, v in (("epochs", epochs), ("batch_size", batch_size),
                    ("checkpoint_every", checkpoint_every)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be >= 1, got {checkpoint_every}")
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable as callback(net, epoch, logs)")
    if optimizer is None:
        optimizer = net.optimizer if net.optimizer is not None else SGD(0.01)
    if not isinstance(optimizer, Optimizer):
        raise TypeError("optimizer must be a fastbp.optim optimizer such as SGD(0.1) or "
                        f"Adam(1e-3), got {type(optimizer).__name__}")
    return optimizer


def _check_validation_data(net, validation_data):
    """(X_val, Y_val) checked against the network, or None."""
    if validation_data is None:
        return None
    try:
        Xv, Yv = validation_data
    except (TypeError, ValueError):
        raise TypeError("validation_data must be a pair (X_val, Y_val)") from None
    Xv = net._check_x(Xv, "X_val")
    net._check_y(Yv, Xv.shape[1])
    return Xv, Yv


def fit(net, X, Y, *, epochs=1, batch_size=64, optimizer=None, shuffle=True, seed=None,
        validation_data=None, verbose=True, callback=None, checkpoint_path=None,
        checkpoint_every=1, resume=False, comm=None, replica_check_every=100):
    """Train ``net`` on (X, Y) with mini-batches.

    Parameters
    ----------
    net : fastbp.Network
    X : ndarray (n_x, m)
    Y : ndarray (n_L, m), or (m,) / (1, m) integer labels for a softmax output
    epochs : int, default 1
        Total number of epochs (a resumed run continues up to this number).
    batch_size : int, default 64
        Columns per step; the last batch of an epoch may be smaller.
        ``batch_size >= m`` is full-batch gradient descent.
    optimizer : fastbp.optim.Optimizer, optional
        Defaults to the network's last optimizer, else ``SGD(0.01)``. Its
        schedule (if any) is applied at the start of every epoch.
    shuffle : bool, default True
        Reshuffle the examples every epoch.
    seed : int, optional
        Seeds the shuffling (defaults to the network's seed).
    validation_data : (X_val, Y_val), optional
        Evaluated after every epoch (``val_loss``, ``val_accuracy``).
    verbose : bool, default True
        Progress bar (tqdm when installed, text lines otherwise).
    callback : callable, optional
        ``callback(net, epoch, logs)`` after every epoch (epoch counted from
        1); returning True stops training.
    checkpoint_path : str or path, optional
        Write a checkpoint there every ``checkpoint_every`` epochs and at the end.
    checkpoint_every : int, default 1
    resume : bool, default False
        If ``checkpoint_path`` exists, continue from it: parameters, optimizer
        state, epoch count and history.
    comm : mpi4py.MPI.Intracomm, optional
        Train data-parallel over the processes of ``comm``: every rank passes
        the same data, ``batch_size`` is the global mini-batch and each rank
        computes its share; see :func:`fastbp.distributed.fit`.
    replica_check_every : int, default 100
        With ``comm``: compare a checksum of the parameters and optimizer
        state across ranks every this many steps (0 = only at the end).

    Returns
    -------
    history : dict of lists
        ``"loss"`` (mean training cost of each epoch, before each step's
        update), ``"lr"``, and with validation data ``"val_loss"``,
        ``"val_accuracy"``.

    Raises
    ------
    FloatingPointError
        When the loss stops being finite; the message names the epoch and
        step, and the parameters are those before that step.
    """
    if comm is not None:
        from fastbp.distributed import fit as distributed_fit
        return distributed_fit(
            net, X, Y, comm=comm, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
            shuffle=shuffle, seed=seed, validation_data=validation_data, verbose=verbose,
            callback=callback, checkpoint_path=checkpoint_path,
            checkpoint_every=checkpoint_every, resume=resume,
            replica_check_every=replica_check_every)
    optimizer = _check_fit_args(net, epochs, batch_size, checkpoint_every, callback, optimizer)
    X, Y, yt, labels = _prepare(net, X, Y)
    val = _check_validation_data(net, validation_data)
    if val is not None:
        Xv, Yv = val
    m = X.shape[1]
    bs = int(min(batch_size, m))

    history = {"loss": [], "lr": []}
    if validation_data is not None:
        history["val_loss"] = []
        history["val_accuracy"] = []
    start_epoch = 0
    if resume and checkpoint_path is not None and os.path.exists(checkpoint_path):
        info = _restore_into(net, checkpoint_path, optimizer)
        optimizer = net.optimizer
        start_epoch = int(info.get("epoch", 0))
        saved = info.get("history") or {}
        for k in history:
            history[k] = list(saved.get(k, []))

    rng = np.random.default_rng(net.seed if seed is None else seed)
    # resumed runs reshuffle as if they had never stopped
    for _ in range(start_epoch):
        if shuffle and bs < m:
            rng.permutation(m)

    if shuffle and bs < m:
        Xs = np.empty((m, X.shape[0]), dtype=X.dtype)    # examples as rows
        Ys = np.empty((m,) if Y.ndim == 1 else (m, Y.shape[0]), dtype=Y.dtype)
        perm = np.empty(m, dtype=np.intp)
    step_fn = net._train_step
    progress = _Progress(epochs - start_epoch, "epoch", verbose)
    try:
        for epoch in range(start_epoch, epochs):
            lr = optimizer.set_epoch(epoch)
            if shuffle and bs < m:
                perm[...] = rng.permutation(m)
                np.take(X.T, perm, axis=0, out=Xs)
                if Y.ndim == 1:
                    np.take(Y, perm, out=Ys)
                else:
                    np.take(Y.T, perm, axis=0, out=Ys)
                Xe, Ye = Xs.T, Ys.T
            else:
                Xe, Ye = X, Y
            total = 0.0
            for s, j in enumerate(range(0, m, bs)):
                k = min(m, j + bs)
                Yb = Ye[j:k] if Ye.ndim == 1 else Ye[:, j:k]
                try:
                    total += step_fn(Xe[:, j:k], Yb, yt, labels, optimizer) * (k - j)
                except FloatingPointError as exc:
                    raise FloatingPointError(
                        f"training diverged at epoch {epoch + 1}, step {s + 1} "
                        f"(batch of columns {j}:{k}): {exc}") from None
            logs = {"loss": total / m, "lr": lr}
            if validation_data is not None:
                logs["val_loss"], logs["val_accuracy"] = net.evaluate(Xv, Yv)
            for key in history:
                history[key].append(logs[key])
            progress.update(epoch + 1 - start_epoch, logs)
            done = epoch + 1
            stop = bool(callback(net, done, logs)) if callback is not None else False
            if checkpoint_path is not None and (done % checkpoint_every == 0
                                                or done == epochs or stop):
                save_checkpoint(net, checkpoint_path, optimizer=optimizer,
                                extra={"epoch": done, "history": history})
            if stop:
                break
    finally:
        progress.close()
    return history


# ------------------------------------------------------------ checkpoints

def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def save_checkpoint(net, path, *, optimizer=None, extra=None):
    """Write ``net`` (and ``optimizer``'s state) to ``path`` atomically.

    The file is a ``.npz`` holding: ``format`` and ``version``; ``config``
    (the architecture, JSON); ``params`` (the flat parameter buffer);
    ``optimizer`` (JSON config + update count) and ``opt_state_<i>``;
    ``train`` (JSON: dropout step counter, and ``extra`` such as epoch and
    history). Loads with ``allow_pickle=False``.

    Returns
    -------
    path : str
    """
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    arrays = {
        "format": np.array(CHECKPOINT_FORMAT),
        "version": np.array(CHECKPOINT_VERSION, dtype=np.int64),
        "config": np.array(json.dumps(net.get_config(), default=_json_default)),
        "params": net.flat_parameters,
    }
    train = {"step": int(net._step), "dropout_seed": str(net._dropout_seed)}
    if extra:
        train.update(extra)
    arrays["train"] = np.array(json.dumps(train, default=_json_default))
    if optimizer is not None:
        cfg = optimizer.get_config()
        state = optimizer.state_arrays()
        arrays["optimizer"] = np.array(json.dumps({"config": cfg, "t": optimizer.t,
                                                   "n_state": len(state)},
                                                  default=_json_default))
        for i, s in enumerate(state):
            arrays[f"opt_state_{i}"] = s
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".fastbp-ckpt-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def _read_checkpoint(path):
    path = os.fspath(path)
    what = f"{path!r} is not a readable fastbp checkpoint"
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError,
            zipfile.LargeZipFile) as exc:
        raise ValueError(f"{what} (truncated or corrupted file?): "
                         f"{type(exc).__name__}: {exc}") from None
    if "format" not in data or str(data["format"]) != CHECKPOINT_FORMAT:
        raise ValueError(f"{what}: no '{CHECKPOINT_FORMAT}' format tag "
                         "(was it written by Network.save?)")
    version = int(data.get("version", -1))
    if version != CHECKPOINT_VERSION:
        raise ValueError(f"{path!r} is a fastbp checkpoint of format version {version}; this "
                         f"fastbp reads version {CHECKPOINT_VERSION}. Load it with the fastbp "
                         "release that wrote it.")
    for key in ("config", "params", "train"):
        if key not in data:
            raise ValueError(f"{what}: missing {key!r}")
    try:
        data["config"] = json.loads(str(data["config"]))
        data["train"] = json.loads(str(data["train"]))
        if "optimizer" in data:
            data["optimizer"] = json.loads(str(data["optimizer"]))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what}: corrupted metadata ({exc})") from None
    return data


def _apply(net, data, path, optimizer=None):
    params = data["params"]
    if params.shape != (net.n_params,) or params.dtype != net.dtype:
        raise ValueError(f"{path!r}: parameter buffer {params.shape}/{params.dtype} does not "
                         f"match the network ({net.n_params},)/{net.dtype}")
    if not np.all(np.isfinite(params)):
        raise ValueError(f"{path!r}: the saved parameters contain NaN or inf")
    net.flat_parameters[...] = params
    net._kernel_invalidate()
    train = data["train"]
    net._step = int(train.get("step", 0))
    if "dropout_seed" in train:
        net._dropout_seed = int(train["dropout_seed"]) % (2**64)
    if "optimizer" in data:
        info = data["optimizer"]
        opt = optimizer_from_config(info["config"])
        if optimizer is not None and type(optimizer) is type(opt) \
                and optimizer.get_config() == opt.get_config():
            opt = optimizer           # keep the caller's object (and its schedule callable)
        state = opt._bind(net.n_params, net.dtype, id(net.flat_parameters))
        n_state = int(info.get("n_state", 0))
        if n_state != len(state):
            raise ValueError(f"{path!r}: optimizer state has {n_state} buffers, "
                             f"{type(opt).__name__} needs {len(state)}")
        for i, s in enumerate(state):
            saved = data.get(f"opt_state_{i}")
            if saved is None or saved.shape != s.shape:
                raise ValueError(f"{path!r}: optimizer state buffer {i} is missing or has "
                                 "the wrong size")
            s[...] = saved
        opt.t = int(info.get("t", 0))
        net._opt_state(opt)
    return train


def load_checkpoint(path, *, n_threads=None):
    """(network, training info) from a checkpoint written by :func:`save_checkpoint`.

    Raises
    ------
    ValueError
        For a truncated, corrupted or wrong-version file.
    """
    from fastbp.network import Network

    data = _read_checkpoint(path)
    cfg = dict(data["config"])
    try:
        net = Network(cfg.pop("layer_dims"), n_threads=n_threads, **cfg)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path!r}: invalid architecture in checkpoint ({exc})") from None
    train = _apply(net, data, path)
    return net, train


def _restore_into(net, path, optimizer):
    data = _read_checkpoint(path)
    if data["config"].get("layer_dims") != list(net.layer_dims) or \
            data["config"].get("dtype") != net.dtype.name:
        raise ValueError(f"cannot resume from {path!r}: it holds a "
                         f"{data['config'].get('layer_dims')} {data['config'].get('dtype')} "
                         f"network, this one is {list(net.layer_dims)} {net.dtype.name}")
    return _apply(net, data, path, optimizer)


# ------------------------------------------------------- NumPy baseline

class NumpyNetwork:
    """The same network and update written in plain NumPy, course style.

    Used by ``fastbp train`` and ``bench/bench_train.py`` as the baseline:
    a dict of parameters, a list of caches, one ufunc per formula, the
    course's update loops over the dict. Labels for softmax are one-hot.

    Parameters
    ----------
    net : fastbp.Network
        Architecture and initial parameters are copied from it.
    optimizer : fastbp.optim.Optimizer
    """

    def __init__(self, net, optimizer):
        self.dims = net.layer_dims
        self.hidden = net.hidden
        self.output = net.output
        self.lambd = net.lambd
        self.params = {k: v.copy() for k, v in net.parameters.items()}
        self.kind = optimizer.kind
        self.opt = optimizer
        self.t = 0
        self.v = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.s = {k: np.zeros_like(v) for k, v in self.params.items()}

    @staticmethod
    def _act(Z, name):
        if name == "relu":
            return np.maximum(Z, 0)
        if name == "tanh":
            return np.tanh(Z)
        if name == "sigmoid":
            return 1 / (1 + np.exp(-Z))
        if name == "identity":
            return Z
        from fastbp import reference
        return reference.activation(Z, name)

    @staticmethod
    def _dact(dA, A, Z, name):
        if name == "relu":
            return dA * (A > 0)
        if name == "tanh":
            return dA * (1 - A ** 2)
        if name == "sigmoid":
            return dA * A * (1 - A)
        from fastbp import reference
        v = Z if name in reference.DERIVATIVE_FROM_Z else A
        return dA * reference.activation_derivative(v, name)

    def step(self, X, Y):
        """One forward/backward/update on (X, Y); Y dense (n_L, m). Returns the cost."""
        P = self.params
        L = len(self.dims) - 1
        m = X.shape[1]
        A = X
        caches = []
        for l in range(1, L + 1):
            Z = P[f"W{l}"] @ A + P[f"b{l}"]
            caches.append((A, Z))
            if l < L:
                A = self._act(Z, self.hidden[l - 1])
            elif self.output == "softmax":
                e = np.exp(Z - Z.max(axis=0, keepdims=True))
                A = e / e.sum(axis=0, keepdims=True)
            else:
                A = self._act(Z, self.output)
        AL = A
        if self.output == "sigmoid":
            cost = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m
        elif self.output == "softmax":
            cost = -np.sum(Y * np.log(AL)) / m
        else:
            cost = np.sum((AL - Y) ** 2) / (2 * m)
        grads = {}
        dZ = AL - Y
        for l in range(L, 0, -1):
            A_prev, _ = caches[l - 1]
            grads[f"dW{l}"] = dZ @ A_prev.T / m
            if self.lambd:
                grads[f"dW{l}"] += self.lambd / m * P[f"W{l}"]
            grads[f"db{l}"] = np.sum(dZ, axis=1, keepdims=True) / m
            if l > 1:
                dA = P[f"W{l}"].T @ dZ
                dZ = self._dact(dA, A_prev, caches[l - 2][1], self.hidden[l - 2])
        self._update(grads)
        return float(cost)

    def _update(self, grads):
        lr = self.opt.lr
        P = self.params
        if self.kind == "sgd":
            for k in P:
                P[k] -= lr * grads["d" + k]
        elif self.kind in ("momentum", "nesterov"):
            beta = self.opt.momentum
            for k in P:
                self.v[k] = beta * self.v[k] + (1 - beta) * grads["d" + k]
                if self.kind == "momentum":
                    P[k] -= lr * self.v[k]
                else:
                    P[k] -= lr * (beta * self.v[k] + (1 - beta) * grads["d" + k])
        else:
            self.t += 1
            b1, b2, eps = self.opt.beta1, self.opt.beta2, self.opt.eps
            for k in P:
                g = grads["d" + k]
                self.v[k] = b1 * self.v[k] + (1 - b1) * g
                self.s[k] = b2 * self.s[k] + (1 - b2) * g ** 2
                v_hat = self.v[k] / (1 - b1 ** self.t)
                s_hat = self.s[k] / (1 - b2 ** self.t)
                P[k] -= lr * v_hat / (np.sqrt(s_hat) + eps)


def one_hot(labels, n_classes, dtype=np.float32):
    """(n_classes, m) one-hot matrix of integer labels (m,)."""
    labels = np.asarray(labels).reshape(-1)
    Y = np.zeros((n_classes, labels.shape[0]), dtype=dtype)
    Y[labels, np.arange(labels.shape[0])] = 1
    return Y
