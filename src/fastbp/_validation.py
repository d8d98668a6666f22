"""Every check of arrays, labels, shapes and arguments, and every message, once.

fastbp's ``sklearn/utils/validation.py``: the Python modules above call these
at their boundary; the compiled kernels trust what they are given. Each
function is self-contained: it raises ``TypeError`` / ``ValueError`` with a
message that says what was wrong and how to fix it, or returns the checked
(possibly converted) value.
"""
import math
import numbers
import operator

import numpy as np

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
