"""Every check of arrays, labels, shapes and arguments, and every message, once.

fastbp's ``sklearn/utils/validation.py``: the Python modules above call these
at their boundary; the compiled kernels trust what they are given. Each
function is self-contained: it raises ``TypeError`` / ``ValueError`` with a
message that says what was wrong and how to fix it, or returns the checked
(possibly converted) value.
"""
import importlib
import math
import numbers
import operator
import os

import numpy as np

from fastbp._dense import disjoint as _disjoint
from fastbp._dense import plain_backward as _plain_backward
from fastbp._dense import plain_bias as _plain_bias
from fastbp._dense import plain_forward as _plain_forward
from fastbp._dense import plain_inputs as _plain_inputs
from fastbp._dense import plain_labels as _plain_labels
from fastbp._dense import plain_out as _plain_out
from fastbp._dense import plain_outputs as _plain_outputs
from fastbp._openmp_helpers import effective_n_threads as _effective_n_threads
from fastbp._registry import (ACT_CODES, ACTIVATIONS, DEFAULT_ALPHA, DERIV_FROM_Z,
                              LABEL_DTYPES, LOSS_CODES, LOSSES)

# --- network, labels, optimizer and training arguments ---

#: dtypes a Network computes in
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def shape_str(a):
    """``a.shape`` as NumPy prints it: ``(3,)``, ``(2, 5)``."""
    return "(" + ", ".join(str(s) for s in a.shape) + ("," if a.ndim == 1 else "") + ")"


def check_real(name, value, *, low=None, high=None, low_open=False, high_open=False):
    """``value`` as a finite float within the given bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        bound = ">" if low_open else ">="
        raise ValueError(f"{name} must be {bound} {low}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        bound = "<" if high_open else "<="
        raise ValueError(f"{name} must be {bound} {high}, got {value}")
    return value


def check_positive_int(name, value):
    """``value`` as an int >= 1 (schedules' step sizes and intervals)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def check_layer_dims(layer_dims):
    """``[n_x, n_1, ..., n_L]`` as a tuple of ints >= 1 that BLAS can index."""
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


def check_hidden(hidden, n_layers, activations):
    """One activation name per hidden layer, as a tuple."""
    names = [hidden] * (n_layers - 1) if isinstance(hidden, str) else list(hidden)
    if len(names) != n_layers - 1:
        raise ValueError(f"hidden must be one activation name or a list of {n_layers - 1} "
                         f"(one per hidden layer); got {len(names)}")
    for name in names:
        if name not in activations:
            raise ValueError(f"unknown activation {name!r}; valid: {tuple(activations)}")
    return tuple(names)


def check_output(output, n_out, outputs):
    """The output non-linearity, one of ``outputs``, for ``n_out`` units."""
    if output not in outputs:
        raise ValueError(f"unknown output {output!r}; valid: {sorted(outputs)} "
                         "(sigmoid: binary cross-entropy, softmax: cross-entropy, "
                         "identity: mean squared error)")
    if output == "softmax" and n_out < 2:
        raise ValueError("a softmax output needs at least 2 units; for two classes use "
                         "output='sigmoid' with 1 unit")
    return output


def check_alpha(alpha):
    """None (the activation's default) or a finite float."""
    if alpha is None:
        return None
    alpha = float(alpha)
    if not math.isfinite(alpha):
        raise ValueError(f"alpha must be finite, got {alpha}")
    return alpha


def check_float_dtype(dtype):
    """``np.dtype`` float32 or float64."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be 'float32' or 'float64', got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be 'float32' or 'float64', got {dt}")
    return dt


def check_choice(name, value, valid):
    """``value`` if it is one of ``valid``."""
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {valid}")
    return value


def check_seed(seed):
    """None or a non-negative int."""
    if seed is None:
        return None
    seed = operator.index(seed)
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed}")
    return seed


def check_lambd(lambd):
    """The L2 strength as a finite float >= 0."""
    if isinstance(lambd, bool) or not isinstance(lambd, numbers.Real):
        raise TypeError(f"lambd must be a real number, got {type(lambd).__name__}")
    lambd = float(lambd)
    if not (math.isfinite(lambd) and lambd >= 0):
        raise ValueError(f"lambd must be a finite number >= 0, got {lambd}")
    return lambd


def check_keep_prob(keep_prob, n_layers):
    """One keep probability in (0, 1] per hidden layer, as a tuple."""
    if isinstance(keep_prob, numbers.Real) and not isinstance(keep_prob, bool):
        kps = [float(keep_prob)] * (n_layers - 1)
    else:
        kps = [float(k) for k in keep_prob]
        if len(kps) != n_layers - 1:
            raise ValueError(f"keep_prob must be one float or a list of {n_layers - 1} "
                             f"(one per hidden layer); got {len(kps)}")
    for k in kps:
        if not (0.0 < k <= 1.0):
            raise ValueError(f"keep_prob values must be in (0, 1], got {k}")
    return tuple(kps)


def check_X(X, n_x, dtype, name="X"):
    """X as a 2-D (n_x, m) array of ``dtype`` with one unit stride (C or F order)."""
    if type(X) is not np.ndarray:
        try:
            X = np.asarray(X)
        except Exception as exc:
            raise TypeError(f"{name} must be an array of numbers, got "
                            f"{type(X).__name__}: {exc}") from None
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_x, m) with examples as columns; got shape "
                         f"{shape_str(X)}. For a single example use {name}.reshape(-1, 1).")
    if X.shape[0] != n_x:
        hint = (f" It looks like examples are rows: pass {name}.T (no copy is made)."
                if X.shape[1] == n_x else "")
        raise ValueError(f"{name} has shape {shape_str(X)} but the network expects "
                         f"{n_x} features as rows, (n_x={n_x}, m).{hint}")
    if X.shape[1] == 0:
        raise ValueError(f"{name} has no examples (shape {shape_str(X)})")
    if X.dtype != dtype:
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
        X = X.astype(dtype)   # a copy: pass the network's dtype to avoid it
    isz = X.itemsize
    s0, s1 = X.strides
    if not ((s1 == isz or X.shape[1] == 1) and (s0 >= X.shape[1] * isz or X.shape[0] == 1)
            or (s0 == isz or X.shape[0] == 1) and (s1 >= X.shape[0] * isz or X.shape[1] == 1)):
        X = np.ascontiguousarray(X)
    return X


def check_Y(Y, m, n_out, output, dtype, y_codes):
    """(Y array, its code in ``y_codes``, is-labels) for m examples.

    Y is (n_out, m), or for a softmax output integer class labels of shape
    (m,) or (1, m) (returned as (m,)).
    """
    if type(Y) is not np.ndarray:
        Y = np.asarray(Y)
    if Y.dtype == np.bool_:
        Y = Y.view(np.uint8)
    elif Y.dtype not in y_codes:
        if Y.dtype.kind in "iu":
            Y = Y.astype(np.int64)
        elif Y.dtype.kind == "f":
            Y = Y.astype(dtype)
        else:
            raise TypeError(f"Y must hold numbers, got dtype {Y.dtype}")
    labels = False
    if output == "softmax" and (Y.ndim == 1 or (Y.ndim == 2 and Y.shape[0] == 1)):
        if Y.dtype.kind not in "iu":
            raise TypeError(f"class labels Y of shape {shape_str(Y)} must be integers "
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
            if output == "softmax":
                want += f" one-hot, or integer labels of shape ({m},) or (1, {m})"
            raise ValueError(f"Y has shape {shape_str(Y)}; expected {want} "
                             "(outputs as rows, examples as columns)")
    if Y.strides[-1] % Y.itemsize or (Y.ndim == 2 and Y.strides[0] % Y.itemsize):
        Y = np.ascontiguousarray(Y)
    return Y, y_codes[Y.dtype], labels


def label_range_error(Y, n_out):
    """The ValueError for class labels outside 0..n_out-1 (for kernels that found one)."""
    return ValueError(f"class labels must be in 0..{n_out - 1} (the network has {n_out} "
                      f"outputs); got values in [{int(np.min(Y))}, {int(np.max(Y))}]")


def check_label_range(Y, n_out):
    """Raise :func:`label_range_error` unless every label is in 0..n_out-1."""
    if int(np.min(Y)) < 0 or int(np.max(Y)) >= n_out:
        raise label_range_error(Y, n_out)


def check_finite(A, name):
    """Raise unless every value of the float array A is finite."""
    if A.dtype.kind == "f" and not np.all(np.isfinite(A)):
        hint = "; clean or impute the data before training" if name == "X" else ""
        raise ValueError(f"{name} contains NaN or inf{hint}")


def check_optimizer(optimizer, base):
    """``optimizer`` if it is an instance of ``base`` (fastbp.optim.Optimizer)."""
    if not isinstance(optimizer, base):
        raise TypeError("optimizer must be a fastbp.optim optimizer such as SGD(0.1) or "
                        f"Adam(1e-3), got {type(optimizer).__name__}")
    return optimizer


def check_fit_args(epochs, batch_size, checkpoint_every, callback):
    """Validate ``fit``'s scalar arguments."""
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


def check_replica_check_every(value):
    """``replica_check_every`` as an int >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError("replica_check_every must be an int >= 0 (0: check only at the "
                         f"end), got {value!r}")
    return int(value)


def check_n_steps(n_steps):
    """``n_steps`` as an int >= 1."""
    n_steps = int(n_steps)
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    return n_steps


def check_validation_pair(validation_data):
    """(X_val, Y_val) of a ``validation_data`` argument."""
    try:
        Xv, Yv = validation_data
    except (TypeError, ValueError):
        raise TypeError("validation_data must be a pair (X_val, Y_val)") from None
    return Xv, Yv


# --- layer kernels: arrays, out=, activations, losses ---
#
# Checks of fastbp.layers' dense_forward, dense_backward, output_delta, loss
# and softmax. Each returns what the kernels take: 2-D C- or F-contiguous
# float32/float64 arrays of one dtype, C-contiguous outputs (or None: the
# kernel allocates), codes and a thread count. The common case (plain
# aligned contiguous ndarrays of one float dtype, valid out= arrays) is
# recognised by one call into fastbp._dense (plain_*); everything else takes
# the full checks below, which convert what they can or raise.

ACT_NONE = -1                      # dense_backward's activation=None
_MAX_DIM = 2147483647              # BLAS indexes with 32-bit integers
_LABEL_CODES = {**LABEL_DTYPES, np.dtype(np.bool_): LABEL_DTYPES[np.dtype(np.uint8)]}
_DEFAULT_NT = _effective_n_threads(None)


def threads(n_threads):
    """The kernels' thread count for ``n_threads`` (None: all cores)."""
    return _DEFAULT_NT if n_threads is None else _effective_n_threads(n_threads)


def float2d(x, name):
    """x as a C- or F-contiguous 2-D float32/float64 array (copied only if strided)."""
    if _plain_inputs(x):
        return x
    a = x if isinstance(x, np.ndarray) else np.asarray(x)
    if a.dtype.char not in "fd":
        raise TypeError(
            f"Unsupported dtype: {name} has dtype {a.dtype}; fastbp kernels take float32 "
            f"or float64 arrays. Cast it first, e.g. {name}.astype(np.float32)")
    if a.ndim != 2:
        raise ValueError(
            f"Invalid shape: {name} must be a 2-D array (features x examples), "
            f"got shape {shape_str(a)}")
    if not (a.flags.aligned and a.dtype.isnative):
        # byte-swapped or misaligned: one copy into native, aligned memory
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("="))
    elif not (a.flags.c_contiguous or a.flags.f_contiguous):
        a = np.ascontiguousarray(a)
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(
            f"Invalid shape: {name} has shape {shape_str(a)}; every dimension must be at "
            f"least 1 (m = 0 examples or an empty layer leaves nothing to compute)")
    if a.shape[0] > _MAX_DIM or a.shape[1] > _MAX_DIM:
        raise ValueError(
            f"Invalid shape: {name} has shape {shape_str(a)}; BLAS indexes with 32-bit "
            f"integers, so every dimension must be below 2**31. Split the batch.")
    return a


def same_dtype(ref, refname, a, name):
    if a.dtype != ref.dtype:
        raise TypeError(
            f"Mismatched dtypes: {refname} is {ref.dtype} but {name} is {a.dtype}; "
            f"cast them to one dtype, e.g. {name}.astype({refname}.dtype)")


def out_array(o, name, rows, cols, like, inputs):
    """Validate one preallocated output (C-contiguous, writeable, no overlap)."""
    if not isinstance(o, np.ndarray):
        raise TypeError(f"Invalid out: {name} must be a numpy.ndarray, got {type(o).__name__}")
    if o.dtype.num != like.dtype.num:
        raise TypeError(f"Invalid out: {name} has dtype {o.dtype}, expected {like.dtype} "
                        f"(the inputs' dtype)")
    if o.ndim != 2 or o.shape[0] != rows or o.shape[1] != cols:
        raise ValueError(f"Invalid out: {name} should have shape {(rows, cols)}, "
                         f"got {shape_str(o)}")
    if not o.flags.c_contiguous:
        raise ValueError(f"Invalid out: {name} must be C-contiguous "
                         f"(np.empty({(rows, cols)}, dtype=...)), got a strided or F-ordered array")
    if not o.flags.writeable:
        raise ValueError(f"Invalid out: {name} is read-only; pass a writeable array")
    for inp_name, inp in inputs:
        if inp is not None and not _disjoint((o,), (inp,)):
            raise ValueError(f"Invalid out: {name} overlaps the input {inp_name}; outputs "
                             f"must not share memory with inputs or with each other")
    return o


def unpack_out(out, n, names):
    if isinstance(out, np.ndarray) and n == 1:
        return (out,)
    if not isinstance(out, (tuple, list)) or len(out) != n:
        raise TypeError(f"Invalid out: expected a tuple of {n} arrays ({names}), "
                        f"got {type(out).__name__}"
                        + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else ""))
    return tuple(out)


def one_out(out, name, rows, cols, like, names, arrays):
    """The single output of a kernel: ``out`` validated, or None (the kernel
    allocates). ``names``/``arrays``: the inputs it must not overlap."""
    if out is None:
        return None
    if _plain_outputs(like.dtype.num, (out,), (rows, cols), arrays):
        return out
    return out_array(unpack_out(out, 1, name)[0], name, rows, cols, like,
                     tuple(zip(names, arrays)))


def real(x, name):
    try:
        return float(x)
    except (TypeError, ValueError):
        raise TypeError(f"Invalid {name}: expected a real number, got {x!r}") from None


def act_code(activation, allow_none):
    if activation is None and allow_none:
        return ACT_NONE
    try:
        return ACT_CODES[activation]
    except (KeyError, TypeError):
        valid = ", ".join(repr(a) for a in ACTIVATIONS)
        extra = " or None (no derivative: the input layer)" if allow_none else ""
        raise ValueError(f"Unknown activation {activation!r}; valid names: {valid}{extra}") from None


def alpha_value(activation, alpha):
    if alpha is None:
        return DEFAULT_ALPHA.get(activation, 0.0)
    a = float(alpha)
    if activation in ("leaky_relu", "elu") and not a >= 0:
        raise ValueError(f"Invalid alpha: {activation} needs alpha >= 0 (its derivative is read "
                         f"from the layer's output), got {alpha!r}")
    return a


def loss_code(loss):
    try:
        return LOSS_CODES[loss]
    except (KeyError, TypeError):
        valid = ", ".join(repr(x) for x in LOSSES)
        raise ValueError(f"Unknown loss {loss!r}; valid names: {valid}") from None


def labels(Y, al):
    """(y, code, row stride, column stride): Y as an array of a label dtype the
    C kernels read (fastbp._registry.LABEL_DTYPES, bool as uint8), strides in
    elements."""
    y = Y if isinstance(Y, np.ndarray) else np.asarray(Y)
    if not (y.flags.aligned and y.dtype.isnative):
        y = np.ascontiguousarray(y, dtype=y.dtype.newbyteorder("="))
    if y.ndim == 1 and al.shape[0] == 1 and y.shape[0] == al.shape[1]:
        y = y.reshape(1, -1)
    if y.ndim != 2 or y.shape[0] != al.shape[0] or y.shape[1] != al.shape[1]:
        raise ValueError(f"Invalid shapes: Y should have the shape of AL {shape_str(al)}, "
                         f"got Y {shape_str(y)}")
    yt = _LABEL_CODES.get(y.dtype)
    if yt is None:
        kind = y.dtype.kind
        if y.dtype == np.int8:
            y = y.astype(np.int32)
        elif kind in "iu":
            y = y.astype(np.int64, copy=False)
        elif y.dtype == np.float16:
            y = y.astype(np.float32)
        else:
            raise TypeError(f"Unsupported dtype: Y has dtype {y.dtype}; labels may be float, "
                            f"int, bool or uint8")
        yt = LABEL_DTYPES[y.dtype]
    isz = y.itemsize
    s0, s1 = y.strides
    if s0 % isz or s1 % isz:
        y = np.ascontiguousarray(y)
        s0, s1 = y.strides
    return y, yt, s0 // isz, s1 // isz


def _bias(b, dt, n, w, a_prev):
    """(b, its stride in elements): b as (n, 1) or (n,) values of dtype dt."""
    bb = b if isinstance(b, np.ndarray) else np.asarray(b, dtype=dt)
    bshape = bb.shape
    if bshape != (n, 1) and bshape != (n,):
        raise ValueError(f"Invalid shapes: b should have shape ({n}, 1) or ({n},) for W "
                         f"{shape_str(w)}, got b {shape_str(bb)}")
    if not (bb.flags.aligned and bb.dtype.isnative):
        bb = np.ascontiguousarray(bb, dtype=bb.dtype.newbyteorder("="))
    if bb.dtype != dt:
        if bb.dtype.char not in "fd":
            raise TypeError(f"Unsupported dtype: b has dtype {bb.dtype}; expected "
                            f"{dt} like A_prev and W (fastbp takes float32 or "
                            f"float64). Cast it first: b.astype(np.{dt})")
        same_dtype(a_prev, "A_prev", bb, "b")
    isz = bb.itemsize
    if bb.strides[0] % isz:
        bb = np.ascontiguousarray(bb)
    return bb, bb.strides[0] // isz


_ACT_ALPHA = {name: (code, DEFAULT_ALPHA.get(name, 0.0)) for name, code in ACT_CODES.items()}


def dense_forward_args(A_prev, W, b, activation, alpha, out, n_threads):
    """(a_prev, W, b, b's stride, Z, A, act, alpha, n_threads) for _dense.forward."""
    bs = _plain_forward(A_prev, W, b, out)
    if bs >= 0:
        a_prev, w, bb = A_prev, W, b
        outs_ok = True
    else:
        a_prev, w, bb, bs = _forward_inputs(A_prev, W, b)
        outs_ok = False
    if alpha is None and type(activation) is str and activation in _ACT_ALPHA:
        act, al = _ACT_ALPHA[activation]
    else:
        act = act_code(activation, False)
        al = alpha_value(activation, alpha)
    nt = _DEFAULT_NT if n_threads is None else _effective_n_threads(n_threads)
    if out is None:
        return a_prev, w, bb, bs, None, None, act, al, nt
    if outs_ok:
        return a_prev, w, bb, bs, out[0], out[1], act, al, nt
    n = w.shape[0]
    m = a_prev.shape[1]
    if type(out) is tuple and _plain_outputs(a_prev.dtype.num, out, (n, m, n, m),
                                             (a_prev, w, bb)):
        Zo, Ao = out
    else:
        o = unpack_out(out, 2, "Z, A")
        ins = (("A_prev", a_prev), ("W", w), ("b", bb))
        Zo = out_array(o[0], "Z", n, m, a_prev, ins)
        Ao = out_array(o[1], "A", n, m, a_prev, ins + (("Z", Zo),))
    return a_prev, w, bb, bs, Zo, Ao, act, al, nt


def _forward_inputs(A_prev, W, b):
    """(A_prev, W, b, b's stride): the full checks of dense_forward's inputs."""
    a_prev = float2d(A_prev, "A_prev")
    w = float2d(W, "W")
    same_dtype(a_prev, "A_prev", w, "W")
    n, p = w.shape
    if a_prev.shape[0] != p:
        raise ValueError(f"Invalid shapes: W {shape_str(w)} needs A_prev with {p} rows "
                         f"(n_prev, m), got A_prev {shape_str(a_prev)}")
    dt = a_prev.dtype
    bs = _plain_bias(b, dt.num, n)
    if bs >= 0:
        return a_prev, w, b, bs
    return (a_prev, w) + _bias(b, dt, n, w, a_prev)


def dense_backward_args(dZ, A_prev, W, activation, Z_prev, alpha, scale, lambd, out,
                        n_threads):
    """(dZ, A_prev, W, V, dZ_prev, dW, db, act, alpha, scale, l2, n_threads) for
    _dense.backward; V is the array g' reads."""
    m = _plain_backward(dZ, A_prev, W, out)
    if m:
        dz, a_prev, w = dZ, A_prev, W
        outs_ok = True
    else:
        dz, a_prev, w, m = _backward_inputs(dZ, A_prev, W)
        outs_ok = False
    if activation is None:
        act, al = ACT_NONE, 0.0
    elif alpha is None and type(activation) is str and activation in _ACT_ALPHA:
        act, al = _ACT_ALPHA[activation]
    else:
        act = act_code(activation, True)
        al = alpha_value(activation, alpha)
    v = a_prev
    vz = None
    if activation in DERIV_FROM_Z:
        p = w.shape[1]
        if Z_prev is None:
            raise ValueError(f"Missing Z_prev: the derivative of {activation!r} is computed "
                             f"from the pre-activation; pass Z_prev=Z of the previous layer "
                             f"(shape {(p, m)})")
        v = vz = float2d(Z_prev, "Z_prev")
        same_dtype(dz, "dZ", v, "Z_prev")
        if v.shape[0] != p or v.shape[1] != m:
            raise ValueError(f"Invalid shapes: Z_prev should match A_prev {shape_str(a_prev)}, "
                             f"got Z_prev {shape_str(v)}")
    sc = (1.0 / m) if scale is None else real(scale, "scale")
    l2 = (lambd if type(lambd) is float else real(lambd, "lambd")) * sc
    nt = _DEFAULT_NT if n_threads is None else _effective_n_threads(n_threads)
    if out is None:
        return dz, a_prev, w, v, None, None, None, act, al, sc, l2, nt
    if outs_ok and (vz is None or _disjoint(out, (vz,))):
        return dz, a_prev, w, v, out[0], out[1], out[2], act, al, sc, l2, nt
    n, p = w.shape
    if type(out) is tuple and _plain_outputs(dz.dtype.num, out, (p, m, n, p, n, 1),
                                             (dz, a_prev, w, vz)):
        dZp, dWo, dbo = out       # the common training-loop case
    else:
        o = unpack_out(out, 3, "dZ_prev, dW, db")
        ins = (("dZ", dz), ("A_prev", a_prev), ("W", w), ("Z_prev", vz))
        dZp = out_array(o[0], "dZ_prev", p, m, dz, ins)
        dWo = out_array(o[1], "dW", n, p, dz, ins + (("dZ_prev", dZp),))
        dbo = out_array(o[2], "db", n, 1, dz, ins + (("dZ_prev", dZp), ("dW", dWo)))
    return dz, a_prev, w, v, dZp, dWo, dbo, act, al, sc, l2, nt


def output_delta_args(AL, Y, loss, out, n_threads):
    """(AL, Y, label code, Y's strides, dZ, n_threads) for _loss.output_delta."""
    al = AL if _plain_inputs(AL) else float2d(AL, "AL")
    if type(loss) is not str or loss not in LOSS_CODES:
        loss_code(loss)
    n, m = al.shape
    plain = _plain_labels(Y, n, m)
    y, yt, yr, yc = (Y,) + plain if plain is not None else labels(Y, al)
    if out is None or _plain_out(out, al, y):
        D = out
    else:
        D = one_out(out, "dZ", n, m, al, ("AL", "Y"), (al, y))
    return al, y, yt, yr, yc, D, _DEFAULT_NT if n_threads is None else threads(n_threads)


def loss_args(AL, Y, loss):
    """(AL, Y, label code, Y's strides, loss code) for _loss.loss."""
    al = AL if _plain_inputs(AL) else float2d(AL, "AL")
    code = LOSS_CODES[loss] if type(loss) is str and loss in LOSS_CODES else loss_code(loss)
    plain = _plain_labels(Y, al.shape[0], al.shape[1])
    return (al, Y) + plain + (code,) if plain is not None else (al,) + labels(Y, al) + (code,)


def softmax_args(Z, out, n_threads):
    """(Z, A, n_threads) for _loss.softmax."""
    z = Z if _plain_inputs(Z) else float2d(Z, "Z")
    if out is None or _plain_out(out, z):
        A = out
    else:
        A = one_out(out, "A", z.shape[0], z.shape[1], z, ("Z",), (z,))
    return z, A, _DEFAULT_NT if n_threads is None else threads(n_threads)


def _backward_inputs(dZ, A_prev, W):
    """(dZ, A_prev, W, m): the full checks of dense_backward's arrays."""
    dz = float2d(dZ, "dZ")
    a_prev = float2d(A_prev, "A_prev")
    w = float2d(W, "W")
    same_dtype(dz, "dZ", a_prev, "A_prev")
    same_dtype(dz, "dZ", w, "W")
    n, p = w.shape
    nz, m = dz.shape
    if nz != n or a_prev.shape != (p, m):
        raise ValueError(
            f"Invalid shapes: expected dZ (n, m), A_prev (n_prev, m), W (n, n_prev); got "
            f"dZ {shape_str(dz)}, A_prev {shape_str(a_prev)}, W {shape_str(w)}")
    return dz, a_prev, w, m


# --- the course's assignment modules (fastbp.course.c2w1a1, ...) ---

def check_adam_step(t):
    """Adam's update counter ``t`` (a real number >= 1), unchanged."""
    if isinstance(t, (bool, np.bool_)) or not isinstance(t, numbers.Real):
        raise TypeError(f"Invalid t: Adam's step counter must be a number >= 1, "
                        f"got {type(t).__name__} {t!r}")
    if not t >= 1:
        raise ValueError(f"Invalid t: Adam's step counter must be >= 1, got t={t!r}; the bias "
                         "corrections divide by 1 - beta**t, which is 0 at t=0. Count updates "
                         "from 1: t = t + 1 before each update_parameters_with_adam call")
    return t


def course_flat_cache(cache, dropout):
    """Per-layer ``(Z, D, A, W, b)`` of the flat cache tuple of course 2's networks.

    ``(Z1, A1, W1, b1, ..., ZL, AL, WL, bL)``; with dropout the hidden layers
    carry their mask, ``(Z1, D1, A1, W1, b1, ..., ZL, AL, WL, bL)``. D is None
    where there is no mask.
    """
    per = 5 if dropout else 4
    n = len(cache) if isinstance(cache, (tuple, list)) else None
    if n is None or n < 4 or (n + (1 if dropout else 0)) % per:
        layout = ("(Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3) that "
                  "forward_propagation_with_dropout" if dropout else
                  "(Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) that forward_propagation")
        got = type(cache).__name__ + (f" of length {n}" if n is not None else "")
        raise ValueError(f"Invalid cache: expected the tuple {layout} returns, got {got}")
    layers = []
    i = 0
    while i < n:
        if dropout and i + 4 < n:
            Z, D, A, W, b = cache[i:i + 5]
            i += 5
        else:
            (Z, A, W, b), D = cache[i:i + 4], None
            i += 4
        layers.append((Z, D, A, W, b))
    return layers


def course_data_file(path, what):
    """``path`` as a str when it names an existing file; else FileNotFoundError naming it."""
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise FileNotFoundError(
            f"Missing data file: {what} reads the course's {os.path.basename(p)!r} from "
            f"{p!r} ({os.path.abspath(p)}), which does not exist. Copy the assignment's "
            f"datasets/ folder next to the notebook or pass the file's path")
    return p


def optional_module(name, pip_name, what):
    """``import name``, or ImportError saying what needs it and what to install."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ImportError(f"Missing dependency: {what} needs {name}, as the course's own "
                          f"code does; install it with: pip install {pip_name}") from None
