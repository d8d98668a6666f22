"""The Deep Learning Specialization's NumPy helper API, compiled.

``from fastbp.course import *`` replaces the helper functions of course 1
(weeks 3 and 4) and course 2 (weeks 1 and 2) of the Deep Learning
Specialization, 2021+ edition: same names, signatures, defaults, return
types, cache layouts and dict keys, with examples as columns. The GEMMs and
element-wise epilogues run in fastbp's fused kernels (SciPy's BLAS, OpenMP);
this module only validates, calls the kernels and builds the course's
dicts and tuples.

Where the two weeks of course 1 define a function twice, one function serves
both: ``compute_cost`` returns a NumPy scalar (a ``float`` subclass with
``ndim == 0``), ``update_parameters`` works for any depth and defaults to
week 3's ``learning_rate=1.2``, ``predict(parameters, X)`` is week 3's and
``predict(X, y, parameters)`` week 4's. ``initialize_parameters`` does not
seed (week 3; ``nn_model`` and ``two_layer_model`` seed before calling it,
as in the course) and ``initialize_parameters_deep`` is the application's
(``dnn_app_utils_v3``: seed 1, weights scaled by 1/sqrt(n_prev)), the one
``L_layer_model`` trains with.

Generalisations, all off by default: L2 (``lambd``) and inverted dropout
(``keep_prob``) for any depth as keyword arguments of ``L_model_forward``,
``L_model_backward``, ``L_layer_model``; the gradient-checking helpers for
any layer sizes; dtypes: float32 inputs stay float32, mixed inputs follow
NumPy's promotion.

Memory: outputs of 64 KiB and more (Z, A, dA, dW, updated parameters) come
from a small per-thread pool and are reused once nothing refers to them any
more, which spares the page faults of fresh multi-MB arrays; an array that
anything can still reach (a dict, a list, a view) is never reused. The pool
keeps up to 256 MiB per thread; ``fastbp.course.clear_pool()`` releases it.

Differences from the NumPy code, all at the edges:

* ``L_model_backward`` computes the output delta as ``AL - Y`` when ``AL`` is
  the array ``L_model_forward`` returned for these caches, the value the
  course's ``dAL * s * (1 - s)`` has mathematically; it is finite where the
  course's expression divides by zero (AL exactly 0 or 1). For any other
  ``AL`` (hand-built caches, a copy) it evaluates the course's expression
  and uses ``AL - Y`` only where that is not finite. Do not modify ``AL`` in
  place between the forward and the backward call.
* Costs use logs clipped at the dtype's smallest normal number, so a cost
  with AL exactly 0 or 1 is large and finite instead of inf/nan. Costs of
  inputs outside [0, 1] (or NaN) are computed as the course does (nan).
* Relu derivatives are applied by multiplying with the mask ``Z > 0``, 7x
  faster than the course's masked assignment; the results differ only for
  non-finite inputs (an infinite dA where Z <= 0 gives nan, not 0).
* Sigmoid, tanh, exp and log are fastbp's vectorised implementations
  (csrc/fastbp_vmath.h): no overflow warnings, and within 3 ulps of
  NumPy's (tested), so results agree with the NumPy code to ~1e-15
  relative per call.
* Dropout masks are drawn from ``np.random.rand`` exactly as the course
  does, but ``L_model_forward`` does not reseed the generator on every call
  as the course's ``forward_propagation_with_dropout`` does.
* ``nn_model``, ``two_layer_model`` and ``L_layer_model`` run their
  iterations (forward, cost, backward, update) inside compiled calls of
  :class:`fastbp.Network`, one call per stretch between the iterations
  that print or record a cost, computing the cost only on those (per-layer
  kernels when dropout is on). Non-finite values are carried on, as in
  the NumPy loop. The arithmetic
  is the course's; after a few hundred iterations the parameters agree with
  the NumPy loop to ~1e-13, after 10000 steps of learning rate 1.2 to
  ~1e-5 (gradient descent amplifies last-bit differences; so does running
  the NumPy code on another BLAS).
"""
import collections
import math
import sys
import threading
import weakref
from collections.abc import Mapping

import numpy as np
from scipy.special import expit as _expit

from fastbp._course import POOL_MIN_BYTES as _POOL_MIN_BYTES
from fastbp._course import backward_chain as _backward_chain
from fastbp._course import is_recent_output as _is_recent_output
from fastbp._course import keys as _keys  # ("W{l}", "b{l}", "dW{l}", "db{l}", "dA{l}")
from fastbp._registry import MIN_FLOPS_PER_THREAD as _MIN_FLOPS_PER_THREAD
from fastbp import _dense, _loss as _loss_kernels
from fastbp import _validation as _v
from fastbp._registry import ACT_CODES as _ACT_CODES, DEFAULT_ALPHA as _DEFAULT_ALPHA
from fastbp.layers import dense_backward as _bwd
from fastbp.layers import dense_forward as _fwd
from fastbp.layers import loss as _loss
from fastbp.layers import output_delta as _delta
from fastbp.network import Network
from fastbp.optim import SGD, schedule_lr_decay, update_lr  # the course's, re-exported

__all__ = [
    # course 1 week 3
    "layer_sizes", "initialize_parameters", "forward_propagation", "compute_cost",
    "backward_propagation", "update_parameters", "nn_model", "predict",
    # course 1 week 4
    "sigmoid", "relu", "sigmoid_backward", "relu_backward", "initialize_parameters_deep",
    "linear_forward", "linear_activation_forward", "L_model_forward", "linear_backward",
    "linear_activation_backward", "L_model_backward", "two_layer_model", "L_layer_model",
    # course 2 week 1
    "initialize_parameters_zeros", "initialize_parameters_random", "initialize_parameters_he",
    "compute_cost_with_regularization", "dictionary_to_vector", "vector_to_dictionary",
    "gradients_to_vector", "gradient_check_n",
    # course 2 week 2
    "update_parameters_with_gd", "random_mini_batches", "initialize_velocity",
    "update_parameters_with_momentum", "initialize_adam", "update_parameters_with_adam",
    "update_lr", "schedule_lr_decay",
]

# Train without dropout through fastbp.Network (compiled multi-step calls).
_USE_NETWORK = True
# _MIN_FLOPS_PER_THREAD: below this many GEMM flops a layer runs on one
# thread (see _threads); one value in fastbp._registry for every kernel.
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_BCE = "binary_crossentropy"
_COURSE_ACTIVATIONS = ("relu", "sigmoid")

# Weak references to the (AL, Z_L) pairs L_model_forward returned recently: for
# these AL == sigmoid(Z_L) holds by construction and the output delta is AL - Y.
# A dead referent never matches, so a recycled id cannot fool the check.
_RECENT_OUTPUTS = collections.deque(maxlen=32)


# ---------------------------------------------------- recycled output arrays
#
# The course's functions return fresh arrays each call, and a fresh array of
# a few MB costs page faults when first written: in L_model_backward at
# [784, 512, 256, 128, 64, 1] they add 40% to the GEMMs. So large outputs
# come from a small per-thread pool, and an array is handed out again only
# when nothing but the pool refers to it any more (the caller dropped the
# grads/caches/parameters holding it, as a training loop does one iteration
# later). Views, memoryviews and containers all hold references, so an array
# anyone can still reach is never reused.

# _POOL_MIN_BYTES (1 << 16, from fastbp._course): smaller arrays come from
# malloc's free lists
_POOL_PER_KEY = 3              # arrays kept per (shape, dtype)
_POOL_MAX_BYTES = 256 << 20    # per thread; least recently used shapes go first


class _Pool(threading.local):
    def __init__(self):
        self.lists = collections.OrderedDict()   # (shape, dtype) -> [ndarray]
        self.nbytes = 0


def _refs(lst, i):
    return sys.getrefcount(lst[i])


def _calibrate_pool():
    """References _refs reports for a pooled array nobody else holds, or None
    (no pooling) where reference counts cannot be trusted that way."""
    if not hasattr(sys, "getrefcount") or not getattr(sys, "_is_gil_enabled", lambda: True)():
        return None
    lst = [np.empty(1)]
    free = _refs(lst, 0)
    held = lst[0]
    busy = _refs(lst, 0)
    del held
    return free if busy == free + 1 and _refs(lst, 0) == free else None


_POOL = _Pool()
_FREE_REFS = _calibrate_pool()


def _new(shape, dtype):
    """An uninitialised C-contiguous array of (shape, dtype) that nothing else
    references: recycled from the pool when one is free."""
    if type(dtype) is type:
        dtype = np.dtype(dtype)
    nbytes = dtype.itemsize
    for d in shape:
        nbytes *= d
    if _FREE_REFS is None or nbytes < _POOL_MIN_BYTES:
        return np.empty(shape, dtype)
    pool = _POOL
    key = (shape, dtype)
    lst = pool.lists.get(key)
    if lst is None:
        lst = pool.lists[key] = []
    else:
        pool.lists.move_to_end(key)
        for i in range(len(lst)):
            if _refs(lst, i) == _FREE_REFS:
                a = lst[i]
                f = a.flags
                if f.c_contiguous and f.writeable and a.shape == shape and a.dtype == dtype:
                    return a
    a = np.empty(shape, dtype)
    if len(lst) == _POOL_PER_KEY:
        lst.pop(0)          # still in use by the caller; stop tracking the oldest
        pool.nbytes -= nbytes
    lst.append(a)
    pool.nbytes += nbytes
    while pool.nbytes > _POOL_MAX_BYTES and len(pool.lists) > 1:
        _, old = pool.lists.popitem(last=False)
        pool.nbytes -= sum(x.nbytes for x in old)
    return a


def clear_pool():
    """Drop this thread's recycled output arrays (see the module notes)."""
    _POOL.lists.clear()
    _POOL.nbytes = 0


# ---------------------------------------------------------------- helpers

def _shape(x):
    return getattr(x, "shape", type(x).__name__)


def _n_layers(d, what="parameters", prefix="W"):
    """Number of layers L: the keys prefix1 .. prefixL present in d."""
    if not isinstance(d, Mapping):
        raise TypeError(f"Invalid {what}: expected a dict with keys {prefix}1, "
                        f"{'b' if prefix == 'W' else 'db'}1, ..., got {type(d).__name__}")
    L = 0
    while _keys(L + 1)[0 if prefix == "W" else 2] in d:
        L += 1
    if L == 0:
        raise KeyError(f"Missing key: {what} has no {prefix + '1'!r} (keys: {list(d)})")
    return L


def _get(d, key, what):
    try:
        return d[key]
    except KeyError:
        raise KeyError(f"Missing key: {what} has no {key!r} (keys: {list(d)})") from None
    except TypeError:
        raise TypeError(f"Invalid {what}: expected a dict, got {type(d).__name__}") from None


def _float_dtype(*arrays):
    """The float dtype NumPy would compute in, restricted to float32/float64."""
    dt = np.result_type(*arrays)
    if dt == _F32 or dt == _F64:
        return dt
    if dt.kind in "biu":
        return _F64
    if dt.kind == "f" and dt.itemsize < 4:
        return _F32
    raise TypeError(f"Unsupported dtype: {dt}; fastbp.course computes in float32 or float64")


def _as2d(x, name):
    a = x if type(x) is np.ndarray else np.asarray(x)
    if a.ndim != 2:
        raise ValueError(f"Invalid shape: {name} must be a 2-D array (rows x examples), "
                         f"got shape {a.shape}")
    return a


def _coerce_forward(A_prev, W, b, l, prev_name, exc):
    """Explain why the kernel rejected layer l's inputs, or promote their dtypes."""
    wn, bn = _keys(l)[:2]
    A_prev = _as2d(A_prev, prev_name)
    W = _as2d(W, wn)
    b = np.asarray(b)
    if A_prev.shape[0] != W.shape[1]:
        raise ValueError(f"Invalid shapes: {wn} has shape {W.shape} (n_{l}, n_{l - 1}), so "
                         f"{prev_name} needs {W.shape[1]} rows, got {prev_name} "
                         f"{A_prev.shape}") from None
    if b.shape not in ((W.shape[0], 1), (W.shape[0],)):
        raise ValueError(f"Invalid shapes: {bn} should have shape ({W.shape[0]}, 1) to match "
                         f"{wn} {W.shape}, got {bn} {b.shape}") from None
    if 0 in A_prev.shape or 0 in W.shape:
        raise ValueError(f"Invalid shapes: empty layer {l}: {prev_name} {A_prev.shape}, "
                         f"{wn} {W.shape}") from None
    return _promoted((A_prev, W, b), exc, f"layer {l} ({prev_name}, {wn}, {bn})")


def _coerce_backward(dZ, A_prev, W, l, exc):
    """Explain why the kernel rejected layer l's backward inputs, or promote dtypes."""
    wn = _keys(l)[0]
    dZ = _as2d(dZ, f"dZ{l}")
    A_prev = _as2d(A_prev, f"A{l - 1}")
    W = _as2d(W, wn)
    if dZ.shape[0] != W.shape[0] or A_prev.shape[0] != W.shape[1] or \
            A_prev.shape[1] != dZ.shape[1]:
        raise ValueError(f"Invalid shapes in layer {l}: expected dZ{l} (n_{l}, m), "
                         f"A{l - 1} (n_{l - 1}, m), {wn} (n_{l}, n_{l - 1}); got dZ{l} "
                         f"{dZ.shape}, A{l - 1} {A_prev.shape}, {wn} {W.shape}") from None
    return _promoted((dZ, A_prev, W), exc, f"layer {l}")


def _promoted(arrays, exc, where):
    """arrays in their common float dtype; when that changes none of them,
    the kernel's error exc was not about dtypes: re-raise it, saying where."""
    dt = _float_dtype(*arrays)
    new = tuple(x.astype(dt, copy=False) for x in arrays)
    if all(n.dtype == o.dtype for n, o in zip(new, arrays)):
        raise type(exc)(f"{where}: {exc}") from None
    return new


def _threads(shape_w, m, gemms):
    """n_threads for a layer: 1 below _MIN_FLOPS_PER_THREAD of GEMM work.

    A parallel region costs microseconds, and far more when the other cores
    are busy (a descheduled team member stalls the whole call), while the
    GEMMs of a small layer take less than that.
    """
    try:
        flops = 2 * gemms * shape_w[0] * shape_w[1] * m
    except (TypeError, IndexError):
        return None
    return 1 if flops < _MIN_FLOPS_PER_THREAD else None


def _forward(A_prev, W, b, activation, l, prev_name):
    """(Z, A, A_prev, W, b) of one layer; the inputs as the kernel used them."""
    try:
        shape = (W.shape[0], A_prev.shape[1])
        dt = A_prev.dtype
        out = None
        if shape[0] * shape[1] * dt.itemsize >= _POOL_MIN_BYTES:
            out = (_new(shape, dt), _new(shape, dt))
        Z, A = _fwd(A_prev, W, b, activation, out=out,
                    n_threads=_threads(W.shape, shape[1], 1))
    except (TypeError, ValueError, AttributeError, IndexError) as exc:
        A_prev, W, b = _coerce_forward(A_prev, W, b, l, prev_name, exc)
        Z, A = _fwd(A_prev, W, b, activation, n_threads=_threads(W.shape, A_prev.shape[1], 1))
    return Z, A, A_prev, W, b


def _backward(dZ, A_prev, W, l, lambd=0.0):
    """(dA_prev, dW, db) of one layer, the course's linear_backward."""
    try:
        return _bwd(dZ, A_prev, W, None, lambd=lambd, out=_backward_out(W, dZ),
                    n_threads=_threads(W.shape, dZ.shape[1], 2))
    except (TypeError, ValueError, AttributeError, IndexError) as exc:
        dZ, A_prev, W = _coerce_backward(dZ, A_prev, W, l, exc)
        return _bwd(dZ, A_prev, W, None, lambd=lambd,
                    n_threads=_threads(W.shape, dZ.shape[1], 2))


def _backward_out(W, dZ):
    """(dA_prev, dW, db) output arrays for dense_backward."""
    n, p = W.shape
    m = dZ.shape[1]
    dt = dZ.dtype
    if max(p * m, n * p) * dt.itemsize < _POOL_MIN_BYTES:
        return None             # small: let the kernel allocate
    return (_new((p, m), dt), _new((n, p), dt), np.empty((n, 1), dt))


def _labels(Y, AL, name="Y"):
    """Y with AL's shape, as the course's ``Y.reshape(AL.shape)``."""
    y = Y if type(Y) is np.ndarray else np.asarray(Y)
    if y.shape != AL.shape:
        if y.size != AL.size:
            raise ValueError(f"Invalid shapes: {name} has shape {y.shape} but AL has shape "
                             f"{AL.shape}; they need the same number of entries")
        y = y.reshape(AL.shape)
    return y


def _dropout(A, keep_prob):
    """The course's inverted dropout of A, in place: D = rand < keep_prob (drawn
    from ``np.random.rand``), A = A * D / keep_prob. Returns D (bool)."""
    D = np.random.rand(A.shape[0], A.shape[1]) < keep_prob
    np.multiply(A, D, out=A)
    np.divide(A, keep_prob, out=A)
    return D


def _forward_layers(A, L, keep_prob, layer):
    """The forward layer loop: ``A = layer(l, A)`` for l = 1..L, the course's
    inverted dropout on the hidden layers' outputs when keep_prob < 1.

    Returns (A_L, masks): masks[l - 1] is layer l's dropout mask or None.
    """
    masks = []
    for l in range(1, L + 1):
        A = layer(l, A)
        masks.append(_dropout(A, keep_prob) if keep_prob != 1.0 and l < L else None)
    return A, masks


def _backward_layers(dZ, L, layer):
    """The backward layer loop: ``dZ = layer(l, dZ)`` for l = L..1, each call
    layer l's gradients and dZ of layer l - 1."""
    for l in range(L, 0, -1):
        dZ = layer(l, dZ)
    return dZ


def _check_keep_prob(keep_prob):
    if not 0.0 < keep_prob <= 1.0:
        raise ValueError(f"Invalid keep_prob: must be in (0, 1], got {keep_prob!r}")


def _unpack_cache(cache, l):
    """(A_prev, W, b, Z, D) of layer l's cache; D is None without dropout."""
    try:
        if len(cache) == 2:
            linear_cache, Z = cache
            D = None
        else:
            linear_cache, Z, D = cache
        A_prev, W, b = linear_cache
    except (TypeError, ValueError):
        raise ValueError(
            f"Invalid cache: the cache of layer {l} (caches[{l - 1}]) must be "
            f"((A_prev, W, b), Z) as linear_activation_forward returns it, or "
            f"((A_prev, W, b), Z, D) with dropout; got {type(cache).__name__} "
            f"of length {len(cache) if hasattr(cache, '__len__') else '?'}") from None
    return A_prev, W, b, Z, D


def _relu_grad(dA, Z, l, scratch=False):
    """dA * (Z > 0): the course's relu_backward without the masked write.

    scratch: the result is a temporary (recycled array) rather than returned.
    """
    if type(Z) is not np.ndarray:
        Z = np.asarray(Z)
    if Z.shape != dA.shape:
        raise ValueError(f"Invalid cache: Z of layer {l} has shape {Z.shape} but dA{l} has "
                         f"shape {dA.shape}; the caches do not chain")
    if not scratch or dA.dtype.kind != "f" or dA.nbytes < _POOL_MIN_BYTES:
        return np.multiply(dA, Z > 0)
    mask = np.greater(Z, 0, out=_new(Z.shape, np.bool_))
    return np.multiply(dA, mask, out=_new(dA.shape, dA.dtype))


def _sigmoid_grad(dA, Z, l):
    if type(Z) is not np.ndarray:
        Z = np.asarray(Z)
    if Z.shape != np.shape(dA):
        raise ValueError(f"Invalid cache: Z of layer {l} has shape {Z.shape} but dA{l} has "
                         f"shape {np.shape(dA)}")
    s = _expit(Z)
    return dA * s * (1 - s)


def _course_cost(AL, Y):
    """The course's cross-entropy in NumPy (used only where AL is outside [0, 1])."""
    m = Y.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        logprobs = np.multiply(np.log(AL), Y) + np.multiply(np.log(1 - AL), 1 - Y)
    return -1 / m * np.sum(logprobs)


def _output_delta_course(AL, Y, ZL):
    """dZ_L = dAL * s * (1 - s) with dAL = -(Y/AL - (1-Y)/(1-AL)) and s = sigmoid(Z_L)."""
    if type(ZL) is not np.ndarray:
        ZL = np.asarray(ZL)
    if ZL.shape != AL.shape:
        raise ValueError(f"Invalid cache: Z of the output layer has shape {ZL.shape} but AL "
                         f"has shape {AL.shape}")
    Yf = Y.astype(AL.dtype) if AL.dtype.kind == "f" else Y
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        dAL = -(np.divide(Yf, AL) - np.divide(1 - Yf, 1 - AL))
        s = _expit(ZL)
        dZ = dAL * s * (1 - s)
    bad = ~np.isfinite(dZ)
    if bad.any():
        dZ[bad] = (AL - Yf)[bad]
    return dZ


# ------------------------------------------------------- course 1, week 3

def layer_sizes(X, Y):
    """(n_x, n_h, n_y) = (X.shape[0], 4, Y.shape[0])."""
    n_x = X.shape[0]
    n_h = 4
    n_y = Y.shape[0]
    return (n_x, n_h, n_y)


def initialize_parameters(n_x, n_h, n_y):
    """W1 (n_h, n_x), W2 (n_y, n_h) = 0.01 randn; b1 (n_h, 1), b2 (n_y, 1) zeros.

    Draws from NumPy's global generator without seeding it (week 3);
    ``nn_model`` seeds 3 and ``two_layer_model`` seeds 1 before calling it.
    """
    W1 = np.random.randn(n_h, n_x) * 0.01
    b1 = np.zeros((n_h, 1))
    W2 = np.random.randn(n_y, n_h) * 0.01
    b2 = np.zeros((n_y, 1))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def forward_propagation(X, parameters):
    """LINEAR -> TANH -> LINEAR -> SIGMOID.

    Z1 = W1 X + b1, A1 = tanh(Z1), Z2 = W2 A1 + b2, A2 = sigmoid(Z2).

    Returns
    -------
    A2 : ndarray (n_y, m)
    cache : dict with keys "Z1", "A1", "Z2", "A2"
    """
    W1 = _get(parameters, "W1", "parameters")
    b1 = _get(parameters, "b1", "parameters")
    W2 = _get(parameters, "W2", "parameters")
    b2 = _get(parameters, "b2", "parameters")
    Z1, A1, X, W1, b1 = _forward(X, W1, b1, "tanh", 1, "X")
    Z2, A2, _, _, _ = _forward(A1, W2, b2, "sigmoid", 2, "A1")
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def compute_cost(AL, Y):
    """Cross-entropy cost -1/m sum(Y log AL + (1 - Y) log(1 - AL)).

    Serves week 3 (``compute_cost(A2, Y)``) and week 4
    (``compute_cost(AL, Y)``). Returns a NumPy scalar of AL's dtype: a 0-d
    value like week 4's ``np.squeeze(cost)``; in float64 also a Python
    ``float`` like week 3's ``float(cost)``.
    """
    AL = _as2d(AL, "AL")
    y = Y if type(Y) is np.ndarray else np.asarray(Y)
    if y.shape != AL.shape:
        raise ValueError(f"Invalid shapes: Y has shape {y.shape} but AL has shape "
                         f"{AL.shape}; both should be (n_y, m)")
    if AL.dtype != _F64 and AL.dtype != _F32:
        AL = AL.astype(_float_dtype(AL))
    if AL.size and not (AL.min() >= 0.0 and AL.max() <= 1.0):
        # Not probabilities (or NaN): clipped logs would hide it; give the course's nan.
        return AL.dtype.type(_course_cost(AL, y))
    return AL.dtype.type(_loss(AL, y, _BCE))


def backward_propagation(parameters, cache, X, Y):
    """Gradients of the week 3 network (tanh hidden layer, sigmoid output).

    dZ2 = A2 - Y, dW2 = dZ2 A1^T / m, db2 = rowsum(dZ2) / m,
    dZ1 = W2^T dZ2 * (1 - A1^2), dW1 = dZ1 X^T / m, db1 = rowsum(dZ1) / m.

    Returns
    -------
    grads : dict with keys "dW1", "db1", "dW2", "db2"
    """
    W1 = _get(parameters, "W1", "parameters")
    W2 = _get(parameters, "W2", "parameters")
    A1 = _get(cache, "A1", "cache")
    A2 = _as2d(_get(cache, "A2", "cache"), "cache['A2']")
    y = _labels(Y, A2)
    try:
        dZ2 = _delta(A2, y, _BCE)
        dZ1, dW2, db2 = _bwd(dZ2, A1, W2, "tanh", n_threads=_threads(W2.shape, A2.shape[1], 2))
    except (TypeError, ValueError, AttributeError) as exc:
        A2 = A2.astype(_float_dtype(A2, np.asarray(A1), np.asarray(W2)), copy=False)
        dZ2 = _delta(A2, y, _BCE)
        dZ2, A1, W2 = _coerce_backward(dZ2, A1, W2, 2, exc)
        dZ1, dW2, db2 = _bwd(dZ2, A1, W2, "tanh")
    _, dW1, db1 = _backward(dZ1, X, W1, 1)
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


def update_parameters(parameters, grads, learning_rate=1.2):
    """One gradient-descent step, W_l - learning_rate dW_l, for every layer.

    Returns a new dict (``parameters.copy()`` with W_l, b_l replaced); the
    input dict and its arrays are not modified. Week 3 defaults the learning
    rate to 1.2; week 4 passes it.
    """
    L = _n_layers(parameters)
    new = parameters.copy()
    plain_lr = type(learning_rate) in (float, int)
    for l in range(1, L + 1):
        wk, bk, dwk, dbk, _ = _keys(l)
        for pk, gk in ((wk, dwk), (bk, dbk)):
            p = _get(parameters, pk, "parameters")
            g = _get(grads, gk, "grads")
            if type(p) is np.ndarray and type(g) is np.ndarray:
                if p.shape != g.shape:
                    raise ValueError(f"Invalid shapes: grads[{gk!r}] has shape {g.shape} but "
                                     f"parameters[{pk!r}] has shape {p.shape}")
                if plain_lr and p.nbytes >= _POOL_MIN_BYTES and p.dtype == g.dtype \
                        and p.dtype.kind == "f":
                    out = _new(p.shape, p.dtype)    # p - learning_rate * g, recycled memory
                    np.multiply(g, learning_rate, out=out)
                    new[pk] = np.subtract(p, out, out=out)
                    continue
            elif np.shape(p) != np.shape(g):
                raise ValueError(f"Invalid shapes: grads[{gk!r}] has shape {_shape(g)} but "
                                 f"parameters[{pk!r}] has shape {_shape(p)}")
            new[pk] = p - learning_rate * g
    return new


def nn_model(X, Y, n_h, num_iterations=10000, print_cost=False):
    """Train the week 3 network (n_h tanh units) with gradient descent, lr 1.2.

    Seeds NumPy's global generator with 3 and initialises with
    ``initialize_parameters``, as the course does; prints the cost every
    1000 iterations when ``print_cost``. The iterations run in compiled
    calls of ``fastbp.Network`` (see the module notes).

    Returns
    -------
    parameters : dict with keys "W1", "b1", "W2", "b2"
    """
    np.random.seed(3)
    n_x, _, n_y = layer_sizes(X, Y)
    parameters = initialize_parameters(n_x, n_h, n_y)

    def report(i, cost):
        if print_cost and i % 1000 == 0:
            print("Cost after iteration %i: %f" % (i, cost))

    every = 1000 if print_cost else 0
    return _train(X, Y, parameters, "tanh", 1.2, num_iterations, every, -1, report)[0]


def predict(*args, **kwargs):
    """Predict labels; two course signatures.

    ``predict(parameters, X)`` (week 3): the tanh network of
    ``forward_propagation``; returns the boolean array ``A2 > 0.5``.

    ``predict(X, y, parameters)`` (week 4 application): the L-layer network
    of ``L_model_forward``; prints ``"Accuracy: ..."`` against y and returns
    a float64 (1, m) array of 0/1.
    """
    n = len(args) + len(kwargs)
    if n == 2:
        names = ("parameters", "X")
    elif n == 3:
        names = ("X", "y", "parameters")
    else:
        raise TypeError("predict() takes (parameters, X) (week 3) or (X, y, parameters) "
                        f"(week 4); got {len(args)} positional and {sorted(kwargs)} keyword "
                        "arguments")
    bound = dict(zip(names, args))
    for k, v in kwargs.items():
        if k not in names or k in bound:
            raise TypeError(f"predict{names}: unexpected or repeated argument {k!r}")
        bound[k] = v
    if len(bound) != n:
        raise TypeError(f"predict{names}: missing arguments")
    if n == 2:
        A2, _ = forward_propagation(bound["X"], bound["parameters"])
        return A2 > 0.5
    X, y, parameters = bound["X"], bound["y"], bound["parameters"]
    m = X.shape[1]
    probas, _ = L_model_forward(X, parameters)
    p = (probas[:1] > 0.5).astype(np.float64)
    print("Accuracy: " + str(np.sum((p == y) / m)))
    return p


# ------------------------------------------------------- course 1, week 4

def sigmoid(Z):
    """A = 1 / (1 + exp(-Z)), without overflow; returns (A, cache=Z)."""
    return _expit(Z), Z


def relu(Z):
    """A = max(0, Z); returns (A, cache=Z)."""
    A = np.maximum(0, Z)
    return A, Z


def relu_backward(dA, cache):
    """dZ = dA where Z > 0, 0 where Z <= 0 (cache is Z)."""
    dA = np.asarray(dA)
    return _relu_grad(dA, cache, "")


def sigmoid_backward(dA, cache):
    """dZ = dA s (1 - s) with s = sigmoid(Z) recomputed from the cache Z."""
    return _sigmoid_grad(dA, cache, "")


def initialize_parameters_deep(layer_dims):
    """W_l = randn(n_l, n_{l-1}) / sqrt(n_{l-1}), b_l = zeros((n_l, 1)).

    The application's version (``dnn_app_utils_v3``): seeds NumPy's global
    generator with 1 first. (The step-by-step exercise's variant scales by
    0.01 after seed 3; that scale does not train deep networks.)
    """
    np.random.seed(1)
    parameters = {}
    L = len(layer_dims)
    for l in range(1, L):
        parameters["W" + str(l)] = (np.random.randn(layer_dims[l], layer_dims[l - 1])
                                    / np.sqrt(layer_dims[l - 1]))
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def linear_forward(A, W, b):
    """Z = W A + b; returns (Z, cache=(A, W, b))."""
    Z, _, A, W, b = _forward(A, W, b, "identity", 1, "A")
    return Z, (A, W, b)


def linear_activation_forward(A_prev, W, b, activation):
    """A = g(W A_prev + b) for activation "relu" or "sigmoid".

    Returns (A, cache) with cache = ((A_prev, W, b), Z), the course's
    (linear_cache, activation_cache).
    """
    if activation not in _COURSE_ACTIVATIONS:
        raise ValueError(f"Unknown activation {activation!r}; valid: 'relu', 'sigmoid'")
    Z, A, A_prev, W, b = _forward(A_prev, W, b, activation, 1, "A_prev")
    return A, ((A_prev, W, b), Z)


def L_model_forward(X, parameters, *, keep_prob=1.0):
    """[LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID.

    Parameters
    ----------
    X : ndarray (n_x, m)
    parameters : dict W1, b1, ..., WL, bL
    keep_prob : float, keyword-only
        Inverted dropout on the hidden layers when < 1: D = (rand < keep_prob)
        as int, A = A * D / keep_prob, drawn from ``np.random.rand`` layer by
        layer like the course's ``forward_propagation_with_dropout``.

    Returns
    -------
    AL : ndarray (n_L, m)
    caches : list of L caches ((A_prev, W, b), Z); with dropout the hidden
        layers' caches are ((A_prev, W, b), Z, D).
    """
    L = _n_layers(parameters)
    if keep_prob != 1.0:
        _check_keep_prob(keep_prob)
    caches = []

    def layer(l, A_prev):
        wk, bk = _keys(l)[:2]
        W = _get(parameters, wk, "parameters")
        b = _get(parameters, bk, "parameters")
        Z, A, A_prev, W, b = _forward(A_prev, W, b, "relu" if l < L else "sigmoid", l,
                                      "A" + str(l - 1) if l > 1 else "X")
        caches.append(((A_prev, W, b), Z))
        return A

    AL, masks = _forward_layers(X, L, keep_prob, layer)
    for l, D in enumerate(masks):
        if D is not None:
            caches[l] += (D.astype(int),)
    _RECENT_OUTPUTS.append((weakref.ref(AL), weakref.ref(caches[-1][1])))
    return AL, caches


def linear_backward(dZ, cache):
    """dW = dZ A_prev^T / m, db = rowsum(dZ) / m, dA_prev = W^T dZ.

    Returns (dA_prev, dW, db).
    """
    try:
        A_prev, W, b = cache
    except (TypeError, ValueError):
        raise ValueError("Invalid cache: linear_backward needs the linear cache (A_prev, W, b)"
                         ) from None
    return _backward(dZ, A_prev, W, 1)


def linear_activation_backward(dA, cache, activation):
    """Backward of LINEAR -> ACTIVATION from dA of this layer's output.

    dZ = relu_backward(dA, Z) or sigmoid_backward(dA, Z), then
    linear_backward(dZ, (A_prev, W, b)). Returns (dA_prev, dW, db).
    """
    if activation not in _COURSE_ACTIVATIONS:
        raise ValueError(f"Unknown activation {activation!r}; valid: 'relu', 'sigmoid'")
    A_prev, W, b, Z, _ = _unpack_cache(cache, 1)
    dA = np.asarray(dA)
    if activation == "relu":
        dZ = _relu_grad(dA, Z, "")
    else:
        dZ = _sigmoid_grad(dA, Z, "")
    return _backward(dZ, A_prev, W, 1)


def L_model_backward(AL, Y, caches, *, lambd=0.0, keep_prob=1.0):
    """Backward pass of [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID.

    Per layer l one fused kernel call computes dW_l, db_l and
    dA_{l-1} = W_l^T dZ_l; the relu derivative dZ_{l-1} = dA_{l-1} * (Z_{l-1} > 0)
    is one multiply. The output delta is AL - Y (see the module notes).
    Small networks (every layer's GEMMs under ~2 MFLOP, outputs under
    64 KiB, plain C-ordered arrays of one dtype, no dropout) run the whole
    pass in one compiled call instead (``fastbp._course.backward_chain``):
    same formulas, no per-layer Python.

    Parameters
    ----------
    AL : ndarray (n_L, m)
    Y : ndarray, AL's shape (reshaped to it, like the course)
    caches : list of L caches from L_model_forward
    lambd : float, keyword-only
        L2 strength: adds lambd / m * W_l to dW_l.
    keep_prob : float, keyword-only
        The keep_prob the forward pass used; dA_l is masked with D_l and
        divided by keep_prob, as the course's backward_propagation_with_dropout.

    Returns
    -------
    grads : dict with "dA{L-1}", "dW{L}", "db{L}", ..., "dA0", "dW1", "db1"
        inserted in the course's order.
    """
    if keep_prob == 1.0:
        grads = _backward_chain(AL, Y, caches, lambd, _RECENT_OUTPUTS)
        if grads is not None:
            return grads
    L = len(caches)
    if L == 0:
        raise ValueError("Invalid caches: empty; pass the caches L_model_forward returned")
    dropout = keep_prob != 1.0
    if dropout:
        _check_keep_prob(keep_prob)
    AL = _as2d(AL, "AL")
    y = _labels(Y, AL)
    cache = caches[L - 1]
    try:
        (A_prev, W, b), Z = cache
    except (TypeError, ValueError):
        A_prev, W, b, Z, D = _unpack_cache(cache, L)
        if D is not None:
            raise ValueError(f"Invalid cache: the output layer's cache (caches[{L - 1}]) "
                             f"holds a dropout mask; dropout applies to hidden layers only")
    if _is_recent_output(AL, Z, _RECENT_OUTPUTS):
        dZ = _delta(AL, y, _BCE)
    else:
        dZ = _output_delta_course(AL, y, Z)
    grads = {}                 # filled in the course's insertion order
    layer_in = {L: (A_prev, W)}

    def layer(l, dZ):
        A_prev, W = layer_in.pop(l)
        dA, dW, db = _backward(dZ, A_prev, W, l, lambd)
        keys = _keys(l)
        grads[_keys(l - 1)[4]] = dA
        grads[keys[2]] = dW
        grads[keys[3]] = db
        if l == 1:
            return None
        l -= 1                 # the previous layer: its dropout mask and relu
        cache = caches[l - 1]
        try:
            (A_prev, W, b), Z = cache
            D = None
        except (TypeError, ValueError):
            A_prev, W, b, Z, D = _unpack_cache(cache, l)
        layer_in[l] = (A_prev, W)
        if dropout:
            if D is None:
                raise ValueError(f"Invalid cache: keep_prob={keep_prob} but the cache of "
                                 f"layer {l} holds no dropout mask; pass the keep_prob the "
                                 f"forward pass used")
            if np.shape(D) != dA.shape:
                raise ValueError(f"Invalid cache: dropout mask of layer {l} has shape "
                                 f"{np.shape(D)}, expected {dA.shape}")
            dA = np.multiply(dA, D, dtype=dA.dtype)
            np.divide(dA, keep_prob, out=dA)
            grads["dA" + str(l)] = dA
        elif D is not None:
            raise ValueError(f"Invalid cache: the cache of layer {l} holds a dropout mask; "
                             f"pass keep_prob= as used by L_model_forward")
        return _relu_grad(dA, Z, l, scratch=True)

    _backward_layers(dZ, L, layer)
    return grads


def two_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                    print_cost=False):
    """Train LINEAR -> RELU -> LINEAR -> SIGMOID (the week 4 application).

    Seeds 1, initialises with ``initialize_parameters``; prints like the
    course (every 100 iterations when ``print_cost``, and the last iteration
    always); records the cost every 100 iterations.

    Returns
    -------
    parameters : dict W1, b1, W2, b2
    costs : list of the costs at iterations 0, 100, 200, ...
    """
    np.random.seed(1)
    n_x, n_h, n_y = layers_dims
    parameters = initialize_parameters(n_x, n_h, n_y)
    return _train(X, Y, parameters, "relu", learning_rate, num_iterations, 100,
                  num_iterations - 1, _course_report(print_cost, num_iterations))


def L_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                  print_cost=False, *, lambd=0.0, keep_prob=1.0):
    """Train [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID with gradient descent.

    Seeds 1, initialises with ``initialize_parameters_deep``; each iteration
    is L_model_forward, compute_cost (compute_cost_with_regularization when
    lambd > 0), L_model_backward and update_parameters, run on preallocated
    buffers with fused kernels. Prints like the course (every 100 iterations
    when ``print_cost``, and the last iteration always).

    Returns
    -------
    parameters : dict W1, b1, ..., WL, bL
    costs : list of the costs at iterations 0, 100, 200, ...
    """
    np.random.seed(1)
    parameters = initialize_parameters_deep(layers_dims)
    return _train(X, Y, parameters, "relu", learning_rate, num_iterations, 100,
                  num_iterations - 1, _course_report(print_cost, num_iterations),
                  lambd=lambd, keep_prob=keep_prob)


def _course_report(print_cost, num_iterations):
    def report(i, cost):
        # the course's precedence: (print_cost and i % 100 == 0) or last iteration
        if print_cost and i % 100 == 0 or i == num_iterations - 1:
            print("Cost after iteration {}: {}".format(i, np.squeeze(cost)))
    return report


def _prepare_fit(X, Y, parameters, keep_prob):
    """Validated (X, y, Ws, bs, dtype, dims) for the training loops."""
    L = _n_layers(parameters)
    X = _as2d(X, "X")
    Ws = [_as2d(_get(parameters, _keys(l)[0], "parameters"), _keys(l)[0])
          for l in range(1, L + 1)]
    bs = [np.asarray(_get(parameters, _keys(l)[1], "parameters")) for l in range(1, L + 1)]
    dt = _float_dtype(X, *Ws, *bs)
    X = X.astype(dt, copy=False)
    if not (X.flags.c_contiguous or X.flags.f_contiguous):
        X = np.ascontiguousarray(X)
    m = X.shape[1]
    y = np.asarray(Y)
    if y.shape != (Ws[-1].shape[0], m):
        raise ValueError(f"Invalid shapes: Y should have shape {(Ws[-1].shape[0], m)} "
                         f"(n_y, m) for X {X.shape}, got Y {y.shape}")
    if y.dtype.kind not in "biuf":
        raise TypeError(f"Unsupported dtype: Y has dtype {y.dtype}; labels are 0/1 numbers")
    if keep_prob != 1.0:
        _check_keep_prob(keep_prob)
    dims = [X.shape[0]] + [W.shape[0] for W in Ws]
    for l in range(1, L + 1):
        if Ws[l - 1].shape != (dims[l], dims[l - 1]) or bs[l - 1].size != dims[l]:
            raise ValueError(f"Invalid shapes: layer {l}: W{l} {Ws[l - 1].shape}, b{l} "
                             f"{bs[l - 1].shape} for input of {dims[l - 1]} rows")
    return X, y, Ws, bs, dt, dims


def _train(X, Y, parameters, hidden, learning_rate, num_iterations, every, last, report,
           lambd=0.0, keep_prob=1.0):
    """Gradient descent as the course's model functions run it.

    Each iteration is forward, cost, backward, update. The cost is computed
    on iterations i % every == 0 and i == last only (the course computes it
    every iteration, but only printing and the returned list read it);
    ``report(i, cost)`` is called on those.

    Without dropout the iterations between two reported ones run as one
    compiled call (``fastbp.Network.train_batch``); with dropout the loop
    draws the course's masks from ``np.random.rand`` and runs one fused
    kernel per layer.

    Returns (parameters, costs) with costs = the costs at i % 100 == 0.
    """
    X, y, Ws, bs, dt, dims = _prepare_fit(X, Y, parameters, keep_prob)
    if keep_prob != 1.0 or not _USE_NETWORK:
        return _fit(X, y, Ws, bs, dt, dims, hidden, learning_rate, 0, num_iterations,
                    every, last, report, lambd, keep_prob, [])
    net = Network(dims, hidden=hidden, output="sigmoid", dtype=dt.name, seed=0,
                  lambd=lambd)
    net.parameters = {k: v for l in range(1, len(dims))
                      for k, v in ((_keys(l)[0], Ws[l - 1]), (_keys(l)[1], bs[l - 1]))}
    opt = SGD(learning_rate)
    costs = []
    to_dtype = dt.type
    X = net.check_X(X)                    # checked once for every train_batch call
    y, y_code, labels = net.check_Y(y, X.shape[1])
    i = 0
    while i < num_iterations:
        # one compiled call up to the next iteration that reports a cost
        want = (every and i % every == 0) or i == last
        stop = num_iterations
        if every:
            stop = min(stop, (i // every + 1) * every)
        if i < last < stop:
            stop = last
        cost = net.train_batch(X, y, y_code, labels, opt, stop - i, first_loss=want,
                               check_finite=False)
        if want:
            cost = to_dtype(cost)
            if i % 100 == 0:
                costs.append(cost)
            report(i, cost)
        i = stop
    return {k: v.copy() for k, v in net.parameters.items()}, costs


def _fit(X, y, Ws, bs, dt, dims, hidden, learning_rate, start, stop, every, last,
         report, lambd, keep_prob, costs):
    """Iterations start..stop-1 of gradient descent, one fused kernel per layer.

    Parameters live in one flat buffer and their gradients, pre-multiplied by
    the learning rate (the kernels' ``scale``), in another, so the update is
    one subtraction. Dropout masks come from ``np.random.rand`` as in the
    course. Appends to and returns ``costs``.
    """
    L = len(dims) - 1
    m = X.shape[1]
    dropout = keep_prob != 1.0
    n_par = sum(dims[l] * (dims[l - 1] + 1) for l in range(1, L + 1))
    theta = np.empty(n_par, dt)
    grad = np.empty(n_par, dt)
    W, b, gW, gb = [], [], [], []
    off = 0
    for l in range(1, L + 1):
        n, p = dims[l], dims[l - 1]
        for dst, gdst, shape in ((W, gW, (n, p)), (b, gb, (n, 1))):
            k = shape[0] * shape[1]
            dst.append(theta[off:off + k].reshape(shape))
            gdst.append(grad[off:off + k].reshape(shape))
            off += k
        W[-1][...] = Ws[l - 1]
        b[-1][...] = np.reshape(bs[l - 1], (n, 1))
    Z = [np.empty((dims[l], m), dt) for l in range(1, L + 1)]
    A = [np.empty((dims[l], m), dt) for l in range(1, L + 1)]
    dZ = [np.empty((dims[l], m), dt) for l in range(0, L + 1)]   # dZ[0]: unused dA0
    # the kernels run on validated inputs and these buffers directly
    X = _v.float2d(X, "A_prev")
    y_k, yt, yr, yc = _v.labels(y, A[-1])
    acts = [hidden] * (L - 1) + ["sigmoid"]
    act = [_ACT_CODES[a] for a in acts]
    alpha = [_DEFAULT_ALPHA.get(a, 0.0) for a in acts]
    fwd_in = [X] + A[:-1]
    fwd_nt = [_v.threads(_threads((dims[l + 1], dims[l]), m, 1)) for l in range(L)]
    bwd_nt = [_v.threads(_threads((dims[l + 1], dims[l]), m, 2)) for l in range(L)]
    nt = _v.threads(None)
    scale = learning_rate / m
    l2 = lambd * scale
    AL = A[-1]
    view = {}
    for l in range(1, L + 1):
        view[_keys(l)[0]] = W[l - 1]
        view[_keys(l)[1]] = b[l - 1]
    forward, backward, delta = _dense.forward, _dense.backward, _loss_kernels.output_delta
    def forward_layer(l, A_prev):
        k = l - 1
        forward(A_prev, W[k], b[k], 1, Z[k], A[k], act[k], alpha[k], fwd_nt[k])
        return A[k]

    def backward_layer(l, dZ_l):
        # dZ[l-1] = W^T dZ * g'(A[l-2]) (l = 1: unused W^T dZ), times 1/keep_prob
        k = l - 1
        backward(dZ_l, fwd_in[k], W[k], fwd_in[k], dZ[k], gW[k], gb[k],
                 act[k - 1] if k else _v.ACT_NONE, alpha[k - 1] if k else 0.0,
                 scale, l2, bwd_nt[k])
        if dropout and k > 0:
            np.divide(dZ[k], keep_prob, out=dZ[k])
        return dZ[k]

    for i in range(start, stop):
        _forward_layers(X, L, keep_prob, forward_layer)
        if (every and i % every == 0) or i == last:
            if lambd:
                cost = compute_cost_with_regularization(AL, y, view, lambd)
            else:
                cost = compute_cost(AL, y)
            if i % 100 == 0:
                costs.append(cost)
            report(i, cost)
        _backward_layers(delta(AL, y_k, yt, yr, yc, dZ[L], nt), L, backward_layer)
        np.subtract(theta, grad, out=theta)
    params = {}
    for l in range(1, L + 1):
        params[_keys(l)[0]] = W[l - 1].copy()
        params[_keys(l)[1]] = b[l - 1].copy()
    return params, costs


# ------------------------------------------------------- course 2, week 1

def initialize_parameters_zeros(layers_dims):
    """All W_l and b_l zero (the symmetric initialisation that fails)."""
    parameters = {}
    L = len(layers_dims)
    for l in range(1, L):
        parameters["W" + str(l)] = np.zeros((layers_dims[l], layers_dims[l - 1]))
        parameters["b" + str(l)] = np.zeros((layers_dims[l], 1))
    return parameters


def initialize_parameters_random(layers_dims):
    """W_l = 10 randn after ``np.random.seed(3)``; b_l zeros."""
    np.random.seed(3)
    parameters = {}
    L = len(layers_dims)
    for l in range(1, L):
        parameters["W" + str(l)] = np.random.randn(layers_dims[l], layers_dims[l - 1]) * 10
        parameters["b" + str(l)] = np.zeros((layers_dims[l], 1))
    return parameters


def initialize_parameters_he(layers_dims):
    """W_l = randn * sqrt(2 / n_{l-1}) after ``np.random.seed(3)``; b_l zeros."""
    np.random.seed(3)
    parameters = {}
    L = len(layers_dims) - 1
    for l in range(1, L + 1):
        parameters["W" + str(l)] = (np.random.randn(layers_dims[l], layers_dims[l - 1])
                                    * np.sqrt(2. / layers_dims[l - 1]))
        parameters["b" + str(l)] = np.zeros((layers_dims[l], 1))
    return parameters


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    """Cross-entropy plus lambd / (2 m) sum_l ||W_l||_F^2, over every layer."""
    m = np.shape(Y)[1]
    cross_entropy_cost = compute_cost(A3, Y)
    L = _n_layers(parameters)
    sq = 0.0
    for l in range(1, L + 1):   # np.sum, not np.dot: keeps NumPy's BLAS threads asleep
        sq = sq + np.sum(np.square(_get(parameters, _keys(l)[0], "parameters")))
    L2_regularization_cost = (1 / m) * (lambd / 2) * sq
    return cross_entropy_cost + L2_regularization_cost


def dictionary_to_vector(parameters):
    """Stack W1, b1, ..., WL, bL into one (n, 1) column.

    Returns (theta, keys) with keys[i] the name of the parameter theta[i]
    came from, like the course's gc_utils (which fixes L = 3).
    """
    L = _n_layers(parameters)
    keys = []
    vecs = []
    for l in range(1, L + 1):
        for key in _keys(l)[:2]:
            v = np.reshape(_get(parameters, key, "parameters"), (-1, 1))
            keys = keys + [key] * v.shape[0]
            vecs.append(v)
    return np.concatenate(vecs, axis=0), keys


def vector_to_dictionary(theta, layer_dims=None):
    """Inverse of dictionary_to_vector.

    Parameters
    ----------
    theta : ndarray (n, 1) or (n,)
    layer_dims : sequence of ints, optional
        [n_x, n_1, ..., n_L]; default [4, 5, 3, 1], the course's shapes.
    """
    dims = [4, 5, 3, 1] if layer_dims is None else [int(d) for d in layer_dims]
    theta = np.asarray(theta)
    need = sum(dims[l] * (dims[l - 1] + 1) for l in range(1, len(dims)))
    if theta.size != need:
        raise ValueError(f"Invalid shapes: theta has {theta.size} entries but layer_dims "
                         f"{dims} need {need}")
    flat = theta.reshape(-1)
    parameters = {}
    off = 0
    for l in range(1, len(dims)):
        n, p = dims[l], dims[l - 1]
        parameters["W" + str(l)] = flat[off:off + n * p].reshape((n, p))
        off += n * p
        parameters["b" + str(l)] = flat[off:off + n].reshape((n, 1))
        off += n
    return parameters


def gradients_to_vector(gradients):
    """Stack dW1, db1, ..., dWL, dbL into one (n, 1) column."""
    L = _n_layers(gradients, "gradients", prefix="dW")
    vecs = []
    for l in range(1, L + 1):
        for key in _keys(l)[2:4]:
            vecs.append(np.reshape(_get(gradients, key, "gradients"), (-1, 1)))
    return np.concatenate(vecs, axis=0)


def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False, *,
                     lambd=0.0):
    """Relative difference between ``gradients`` and centred finite differences.

    The cost is that of L_model_forward + compute_cost (plus the L2 term when
    lambd > 0), for any number of layers:

        gradapprox_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)
        difference = ||grad - gradapprox|| / (||grad|| + ||gradapprox||)

    Returns the difference; with ``print_msg`` prints the course's verdict
    (threshold 2e-7).
    """
    parameters_values, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients)
    num_parameters = parameters_values.shape[0]
    if grad.shape[0] != num_parameters:
        raise ValueError(f"Invalid shapes: gradients hold {grad.shape[0]} values but "
                         f"parameters hold {num_parameters}")
    L = _n_layers(parameters)
    dims = [np.shape(parameters["W1"])[1]] + [np.shape(parameters[_keys(l)[0]])[0]
                                               for l in range(1, L + 1)]
    parameters_values = parameters_values.astype(np.float64)

    def J(theta):
        p = vector_to_dictionary(theta, dims)
        AL, _ = L_model_forward(X, p)
        y = _labels(Y, AL)          # a (m,) Y, as the course's broadcasting allows
        if lambd:
            return compute_cost_with_regularization(AL, y, p, lambd)
        return compute_cost(AL, y)

    gradapprox = np.zeros((num_parameters, 1))
    for i in range(num_parameters):
        theta_plus = np.copy(parameters_values)
        theta_plus[i] = theta_plus[i] + epsilon
        theta_minus = np.copy(parameters_values)
        theta_minus[i] = theta_minus[i] - epsilon
        gradapprox[i] = (J(theta_plus) - J(theta_minus)) / (2 * epsilon)
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    difference = numerator / denominator
    if print_msg:
        if difference > 2e-7:
            print("\033[93m" + "There is a mistake in the backward propagation! difference = "
                  + str(difference) + "\033[0m")
        else:
            print("\033[92m" + "Your backward propagation works perfectly fine! difference = "
                  + str(difference) + "\033[0m")
    return difference


# ------------------------------------------------------- course 2, week 2

def update_parameters_with_gd(parameters, grads, learning_rate):
    """W_l = W_l - learning_rate dW_l, b_l likewise; rebinds the keys of
    ``parameters`` (new arrays) and returns it, as the course does."""
    L = _n_layers(parameters)
    for l in range(1, L + 1):
        wk, bk, dwk, dbk, _ = _keys(l)
        parameters[wk] = parameters[wk] - learning_rate * _get(grads, dwk, "grads")
        parameters[bk] = parameters[bk] - learning_rate * _get(grads, dbk, "grads")
    return parameters


def random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    """Shuffle the columns (``np.random.seed(seed)``, ``np.random.permutation``)
    and cut them into mini-batches of ``mini_batch_size``, the last one
    smaller when m is not a multiple.

    Returns a list of (mini_batch_X, mini_batch_Y).
    """
    X = _as2d(X, "X")
    Y = np.asarray(Y)
    if Y.ndim == 1:
        Y = Y.reshape(1, -1)
    m = X.shape[1]
    if Y.ndim != 2 or Y.shape[1] != m:
        raise ValueError(f"Invalid shapes: X has {m} examples (columns) but Y has shape "
                         f"{Y.shape}")
    if int(mini_batch_size) < 1:
        raise ValueError(f"Invalid mini_batch_size: must be >= 1, got {mini_batch_size!r}")
    np.random.seed(seed)
    mini_batches = []
    permutation = list(np.random.permutation(m))
    shuffled_X = X[:, permutation]
    shuffled_Y = Y[:, permutation]
    if Y.shape[0] == 1:
        shuffled_Y = shuffled_Y.reshape((1, m))
    num_complete_minibatches = math.floor(m / mini_batch_size)
    for k in range(0, num_complete_minibatches):
        sl = slice(k * mini_batch_size, (k + 1) * mini_batch_size)
        mini_batches.append((shuffled_X[:, sl], shuffled_Y[:, sl]))
    if m % mini_batch_size != 0:
        sl = slice(num_complete_minibatches * mini_batch_size, m)
        mini_batches.append((shuffled_X[:, sl], shuffled_Y[:, sl]))
    return mini_batches


def _zeros_like_grads(parameters):
    L = _n_layers(parameters)
    d = {}
    for l in range(1, L + 1):
        wk, bk, dwk, dbk, _ = _keys(l)
        W = np.asarray(parameters[wk])
        b = np.asarray(_get(parameters, bk, "parameters"))
        dt = W.dtype if W.dtype == _F32 else _F64
        d[dwk] = np.zeros(W.shape, dt)
        d[dbk] = np.zeros(b.shape, dt)
    return d


def initialize_velocity(parameters):
    """v["dW{l}"], v["db{l}"]: zeros of the parameters' shapes."""
    return _zeros_like_grads(parameters)


def update_parameters_with_momentum(parameters, grads, v, beta, learning_rate):
    """v = beta v + (1 - beta) grad; W = W - learning_rate v.

    Rebinds the keys of ``parameters`` and ``v`` to new arrays and returns
    (parameters, v), as the course does.
    """
    L = _n_layers(parameters)
    for l in range(1, L + 1):
        wk, bk, dwk, dbk, _ = _keys(l)
        for pk, gk in ((wk, dwk), (bk, dbk)):
            g = _get(grads, gk, "grads")
            v[gk] = beta * _get(v, gk, "v") + (1 - beta) * g
            parameters[pk] = parameters[pk] - learning_rate * v[gk]
    return parameters, v


def initialize_adam(parameters):
    """(v, s): dicts of zeros with keys "dW{l}", "db{l}"."""
    return _zeros_like_grads(parameters), _zeros_like_grads(parameters)


def update_parameters_with_adam(parameters, grads, v, s, t, learning_rate=0.01,
                                beta1=0.9, beta2=0.999, epsilon=1e-8):
    """One Adam step, the course's formulas:

        v = beta1 v + (1 - beta1) g,       v_corr = v / (1 - beta1^t)
        s = beta2 s + (1 - beta2) g^2,     s_corr = s / (1 - beta2^t)
        W = W - learning_rate v_corr / (sqrt(s_corr) + epsilon)

    Rebinds keys of ``parameters``, ``v`` and ``s``; returns
    (parameters, v, s, v_corrected, s_corrected). ``t`` counts updates from
    1 (ValueError below 1). float32 arrays with Python-float hyperparameters
    stay float32.
    """
    L = _n_layers(parameters)
    _v.check_adam_step(t)
    v_corrected = {}
    s_corrected = {}
    # Python floats, so float32 state stays float32 (a NumPy float64 scalar
    # would promote it under NumPy 2's rules); the same values as the course's
    c1 = float(1 - np.power(beta1, t))
    c2 = float(1 - np.power(beta2, t))
    for l in range(1, L + 1):
        wk, bk, dwk, dbk, _ = _keys(l)
        for pk, gk in ((wk, dwk), (bk, dbk)):
            g = _get(grads, gk, "grads")
            v[gk] = beta1 * _get(v, gk, "v") + (1 - beta1) * g
            v_corrected[gk] = v[gk] / c1
            s[gk] = beta2 * _get(s, gk, "s") + (1 - beta2) * np.power(g, 2)
            s_corrected[gk] = s[gk] / c2
            parameters[pk] = parameters[pk] - learning_rate * v_corrected[gk] / (
                np.sqrt(s_corrected[gk]) + epsilon)
    return parameters, v, s, v_corrected, s_corrected

