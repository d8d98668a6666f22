"""Every check of arrays, labels, shapes and arguments, and every message, once.

fastbp's ``sklearn/utils/validation.py``: the Python modules above call these
at their boundary; the compiled kernels trust what they are given. Each
function is self-contained: it raises ``TypeError`` / ``ValueError`` with a
message that says what was wrong and how to fix it, or returns the checked
(possibly converted) value.
"""
import difflib
import errno
import importlib
import math
import numbers
import operator
import os
import re
import shlex
import stat
import tempfile
import warnings
import zipfile
from collections.abc import Mapping

import numpy as np

from fastbp._course import keys as _course_keys  # ("W{l}", "b{l}", "dW{l}", "db{l}", "dA{l}")
from fastbp._dense import disjoint as _disjoint
from fastbp._dense import plain_backward as _plain_backward
from fastbp._dense import plain_bias as _plain_bias
from fastbp._dense import plain_forward as _plain_forward
from fastbp._dense import plain_inputs as _plain_inputs
from fastbp._dense import plain_labels as _plain_labels
from fastbp._dense import plain_out as _plain_out
from fastbp._dense import plain_outputs as _plain_outputs
from fastbp._loss import targets_ok as _targets_ok
from fastbp._openmp_helpers import cpu_count as _cpu_count
from fastbp._openmp_helpers import effective_n_threads as _effective_n_threads
from fastbp._openmp_helpers import user_stacklevel as _user_stacklevel
from fastbp._registry import (ACT_CODES, ACTIVATIONS, DEFAULT_ALPHA, DERIV_FROM_Z,
                              LABEL_DTYPES, LOSS_CODES, LOSSES)

# --- network, labels, optimizer and training arguments ---

#: dtypes a Network computes in
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# the largest C int: the kernels' sizes (BLAS's 32-bit integers) and label codes
C_INT_MAX = 2**31 - 1


def shape_str(a):
    """``a.shape`` as NumPy prints it: ``(3,)``, ``(2, 5)``."""
    return "(" + ", ".join(str(s) for s in a.shape) + ("," if a.ndim == 1 else "") + ")"


#: NumPy < 1.24 turns ragged nested sequences into object arrays with this
#: warning (NumPy >= 1.24 raises ValueError): _asarray makes it the error
_RAGGED_WARNING = (getattr(getattr(np, "exceptions", None), "VisibleDeprecationWarning", None)
                   or getattr(np, "VisibleDeprecationWarning", None))


def _asarray(x):
    """np.asarray(x); ragged nested sequences raise on every NumPy (NumPy <
    1.24 made an object array with a VisibleDeprecationWarning)."""
    if _RAGGED_WARNING is None:
        return np.asarray(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error", _RAGGED_WARNING)
        return np.asarray(x)


def refuse_masked(x, name):
    """Refuse a :class:`numpy.ma.MaskedArray` with masked entries.

    fastbp's kernels read an array's data, and NumPy's ``asarray`` drops a
    mask: the masked entries' hidden values (a -999 sentinel, a stale value)
    would be trained on or predicted from silently. A masked array with
    nothing masked is its data. (The scikit-learn estimators follow
    scikit-learn, whose input validation drops masks.)
    """
    if isinstance(x, np.ma.MaskedArray):
        n = int(np.ma.count_masked(x))
        if n:
            raise TypeError(
                f"{name} is a numpy.ma masked array with {n} masked value"
                f"{'s' if n != 1 else ''}; fastbp does not read masks (the hidden values "
                f"under them would be used): fill them ({name}.filled(value)) or drop "
                "those examples first")


def refuse_sparse(x, name):
    """Refuse a SciPy sparse matrix where a layer function reads a dense array
    (np.asarray makes it a 0-d object array: a misleading dtype or shape error)."""
    if is_sparse(x):
        raise TypeError(f"{name} is a SciPy sparse {type(x).__name__}; the layer functions "
                        f"take dense arrays: pass {name}.toarray()")


class FixedAfterInit:
    """Descriptor of an attribute set once (by ``__init__``) and read-only after.

    The value lives in the instance's ``__dict__`` under ``prefix + name``
    (pickles hold it there, so the prefix is part of the pickle format). A
    second assignment raises AttributeError with ``advice(cls_name, name)``,
    which says what to do instead. Shared by the settings a Network's
    compiled plan is built from and the hyperparameters an optimizer's
    update and state are chosen by: assigned, they were silently ignored or
    broke the next step.
    """

    def __init__(self, prefix, advice, doc=None):
        self.prefix, self.advice = prefix, advice
        if doc is not None:
            self.__doc__ = doc

    def __set_name__(self, owner, name):
        self.name, self.slot = name, self.prefix + name

    def __get__(self, obj, owner=None):
        return self if obj is None else obj.__dict__[self.slot]

    def __set__(self, obj, value):
        if self.slot in obj.__dict__:
            raise AttributeError(self.advice(type(obj).__name__, self.name))
        obj.__dict__[self.slot] = value


def check_real(name, value, *, low=None, high=None, low_open=False, high_open=False,
               expected="a real number"):
    """``value`` as a finite float within the given bounds (a 0-d array of a
    real number counts as the number, as in NumPy); ``expected`` is what the
    TypeError for a non-number says the argument takes."""
    value = zero_d_real(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__} {value!r}")
    try:
        value = float(value)
    except OverflowError:       # an int beyond float's range (10**400)
        raise ValueError(f"{name} must be finite, got an int of {int(value).bit_length()} "
                         "bits, beyond float's range") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        bound = ">" if low_open else ">="
        raise ValueError(f"{name} must be {bound} {low}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        bound = "<" if high_open else "<="
        raise ValueError(f"{name} must be {bound} {high}, got {value}")
    return value


def check_count(name, value, limit):
    """``value`` as an int in [0, limit) (a counter the kernels store unsigned)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}") from None
    if not 0 <= value < limit:
        bound = f"2**{limit.bit_length() - 1}" if limit & (limit - 1) == 0 else str(limit)
        raise ValueError(f"{name} must be an int in [0, {bound}), got {value}")
    return value


def check_positive_int(name, value):
    """``value`` as an int >= 1 (schedules' step sizes and intervals, batch
    sizes, effective thread counts): TypeError for a value that is not an
    int (a float, a string, a bool), ValueError for an int below 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive int, got {type(value).__name__} "
                        f"{value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def check_layer_dims(layer_dims, name="layer_dims"):
    """``[n_x, n_1, ..., n_L]`` as a tuple of ints >= 1 that BLAS can index."""
    if isinstance(layer_dims, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of ints like [n_x, n_1, ..., n_L], "
                        f"got {type(layer_dims).__name__} {layer_dims!r}")
    if isinstance(layer_dims, Mapping):
        # {3: 0, 4: 0, 1: 0} iterated as its keys: a network of the keys' sizes
        raise TypeError(f"{name} must be a sequence of ints like [n_x, n_1, ..., n_L], got "
                        f"a {type(layer_dims).__name__}; pass the sizes as a list")
    if isinstance(layer_dims, (set, frozenset)):
        # {4, 5, 1} iterates as [1, 4, 5], and equal sizes collapse into one
        raise TypeError(f"{name} must be a sequence of ints like [n_x, n_1, ..., n_L], in "
                        f"order; got a {type(layer_dims).__name__} {layer_dims!r}, which has "
                        "no order (and holds each size once)")
    try:
        dims = list(layer_dims)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of ints like [n_x, n_1, ..., n_L], "
                        f"got {type(layer_dims).__name__} {layer_dims!r}") from None
    if len(dims) < 2:
        raise ValueError(f"{name} needs at least an input and an output size, "
                         f"e.g. [n_x, n_y]; got {dims}")
    return tuple(check_size(f"{name}[{i}]", d) for i, d in enumerate(dims))


def check_size(name, d):
    """One layer size: an int >= 1 that BLAS can index."""
    if isinstance(d, (bool, np.bool_)) or not isinstance(d, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(d).__name__} {d!r}")
    if d < 1:
        raise ValueError(f"{name} must be >= 1, got {d}")
    if d > C_INT_MAX:
        raise ValueError(f"{name} = {d} is too large (BLAS takes 32-bit sizes)")
    return int(d)


def _refuse_unordered(name, value):
    """A per-layer list given as a set: its order (for strings, the process's
    hash seed) would pick which layer gets which value."""
    if isinstance(value, (set, frozenset)):
        raise TypeError(f"{name} must be one value or a list with one per hidden layer, in "
                        f"order; got a {type(value).__name__} {value!r}, which has no order")


def check_hidden(hidden, n_layers, activations):
    """One activation name per hidden layer, as a tuple."""
    _refuse_unordered("hidden", hidden)
    try:
        names = [hidden] * (n_layers - 1) if isinstance(hidden, str) else list(hidden)
    except TypeError:
        raise TypeError(f"hidden must be an activation name or a list of them, got "
                        f"{type(hidden).__name__} {hidden!r}; valid names: "
                        f"{tuple(activations)}") from None
    if len(names) != n_layers - 1:
        raise ValueError(f"hidden must be one activation name or a list of {n_layers - 1} "
                         f"(one per hidden layer); got {len(names)}: {names!r}")
    for name in names or ([hidden] if isinstance(hidden, str) else []):
        if not isinstance(name, str):
            raise TypeError(f"hidden: an activation must be a name (a str), got "
                            f"{type(name).__name__} {name!r}; valid: {tuple(activations)}")
        if name not in activations:
            raise ValueError(f"hidden: unknown activation {name!r}; valid: {tuple(activations)}")
    return tuple(names)


def check_output(output, n_out, outputs):
    """The output non-linearity, one of ``outputs``, for ``n_out`` units."""
    if not isinstance(output, str):
        # output=["sigmoid"] met the dict lookup below: "unhashable type: 'list'"
        raise TypeError(f"output must be a name (a str), got {type(output).__name__} "
                        f"{output!r}; valid: {sorted(outputs)}")
    if output not in outputs:
        raise ValueError(f"unknown output {output!r}; valid: {sorted(outputs)} "
                         "(sigmoid: binary cross-entropy, softmax: cross-entropy, "
                         "identity: mean squared error, exp: Poisson deviance)")
    if output == "softmax" and n_out < 2:
        raise ValueError(f"a softmax output needs at least 2 units, got {n_out}; for two "
                         "classes use output='sigmoid' with 1 unit")
    return output


def zero_d_real(x):
    """A 0-d NumPy array of integers or floats as its NumPy scalar (NumPy
    takes one for the other), anything else as it is, for the checks of a
    scalar argument that test ``numbers.Real``."""
    if isinstance(x, np.ndarray) and x.ndim == 0 and x.dtype.kind in "iuf":
        return x[()]
    return x


def check_alpha(alpha, hidden=()):
    """None (the activation's default) or a finite float; >= 0 when a hidden
    activation is leaky_relu or elu, whose derivative the kernels read from
    the layer's output (A < 0 exactly where Z < 0 needs alpha >= 0: with
    alpha < 0 the gradients were silently wrong)."""
    if alpha is None:
        return None
    alpha = check_real("alpha", alpha, expected="a real number or None")
    which = [a for a in ("leaky_relu", "elu") if a in hidden]
    if which and alpha < 0:
        raise ValueError(f"alpha must be >= 0 for {which[0]} (its derivative is read from the "
                         f"layer's output), got {alpha}")
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
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"seed must be None or a non-negative int, got {seed!r}")
    try:
        seed = operator.index(seed)
    except TypeError:
        raise TypeError(f"seed must be None or a non-negative int, got {type(seed).__name__} "
                        f"{seed!r}") from None
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed}")
    return seed


def check_lambd(lambd):
    """The L2 strength as a finite float >= 0."""
    return check_real("lambd", lambd, low=0.0)


def check_keep_prob(keep_prob, n_layers):
    """One keep probability in (0, 1] per hidden layer, as a tuple."""
    _refuse_unordered("keep_prob", keep_prob)
    if isinstance(keep_prob, numbers.Real) and not isinstance(keep_prob, bool):
        kps = [float(keep_prob)] * (n_layers - 1)
    else:
        try:
            kps = [float(k) for k in keep_prob]
        except (TypeError, ValueError):
            raise TypeError("keep_prob must be one float or a list of floats in (0, 1], got "
                            f"{type(keep_prob).__name__} {keep_prob!r}") from None
        if len(kps) != n_layers - 1:
            raise ValueError(f"keep_prob must be one float or a list of {n_layers - 1} "
                             f"(one per hidden layer); got {len(kps)}: {keep_prob!r}")
    for k in kps:
        if not (0.0 < k <= 1.0):
            raise ValueError(f"keep_prob values must be in (0, 1], got {k}")
    return tuple(kps)


def given_dtype(a):
    """The dtype an argument came in, as text (its type's name if it has none),
    for comparing what ranks passed before conversion."""
    dt = getattr(a, "dtype", None)
    return str(dt) if dt is not None else type(a).__name__


def _object_hint(X):
    """What to do about an object array (pandas' nullable columns give one)."""
    if X.dtype != object:
        return ""
    return ("; an object array (pandas' nullable Int64/Float64 columns and pd.NA give one) "
            "converts with df.to_numpy(dtype=float, na_value=np.nan), missing values then "
            "being NaN, which must be imputed or dropped first")


#: NumPy >= 1.24 reports a cast's overflow as a floating-point error (older
#: NumPy casts 1e300 to float32 inf silently)
_CASTS_REPORT_OVERFLOW = tuple(int(v) for v in np.__version__.split(".")[:2]) >= (1, 24)


def converted_in_range(X, dtype, name, order="K"):
    """X.astype(dtype, order=order); values beyond the dtype's range (float64
    data for a float32 network) are a ValueError naming them, not NumPy's
    overflow warning and then a "contains inf" that the user's data does not."""
    try:
        with np.errstate(over="raise"):
            out = X.astype(dtype, order=order)
    except FloatingPointError:
        out = None
    if out is None or (not _CASTS_REPORT_OVERFLOW and X.dtype.kind == "f"
                       and np.isinf(out).any() and not np.isinf(X).any()):
        raise _range_error(name, np.max(np.abs(X[np.isfinite(X)])), dtype) from None
    return out


def _range_error(name, big, dtype):
    """``big``: the largest |value|, in the data's own dtype (a long double's
    1e400 is inf as a Python float)."""
    dt = np.dtype(dtype)
    big = (np.format_float_scientific(big, precision=5, trim="-")
           if isinstance(big, np.floating) else f"{big:.6g}")
    fix = "scale the data" + (", or use a network of dtype float64"
                              if dt.itemsize < np.dtype(np.float64).itemsize else "")
    return ValueError(f"{name} holds values beyond {dt.name}'s range (largest |value| "
                      f"{big}, {dt.name}'s largest {float(np.finfo(dt).max):.6g}): {fix}")


def _check_range(Y, dtype, name):
    """A float Y wider than the network's dtype, which the kernels read as it
    is, must fit in that dtype: a float32 network's loss and deltas of a
    target of 1e39 are inf, and fit returned with every parameter NaN (and
    fastbp.loss / output_delta of a float32 AL returned inf where NumPy's
    promotion to float64 gives a finite value)."""
    if Y.dtype.kind == "f" and Y.dtype.itemsize > np.dtype(dtype).itemsize and Y.size:
        big = float(np.max(np.abs(Y)))
        if math.isfinite(big) and big > float(np.finfo(dtype).max):
            raise _range_error(name, big, dtype)


def check_X(X, n_x, dtype, name="X", order="K"):
    """X as a 2-D (n_x, m) array of ``dtype`` with one unit stride (C or F order),
    or a SciPy sparse matrix / array as a CSC one (check_sparse_X). ``order``:
    the layout of a dtype conversion's copy (as ndarray.astype's)."""
    if type(X) is not np.ndarray and is_sparse(X):
        return check_sparse_X(X, n_x, dtype, name)
    if type(X) is not np.ndarray:
        refuse_masked(X, name)
        try:
            X = _asarray(X)
        except Exception as exc:
            raise TypeError(f"{name} must be an array of numbers, got "
                            f"{type(X).__name__}: {exc}") from None
    _check_x_shape(X, n_x, name, f" For a single example use {name}.reshape(-1, 1).")
    if X.dtype != dtype:
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}"
                            + _object_hint(X))
        X = converted_in_range(X, dtype, name, order)   # a copy: pass the network's dtype to avoid it
    isz = X.itemsize
    s0, s1 = X.strides
    if (s0 % isz or s1 % isz or not X.flags.aligned
            or not ((s1 == isz or X.shape[1] == 1) and (s0 >= X.shape[1] * isz or X.shape[0] == 1)
                    or (s0 == isz or X.shape[0] == 1) and (s1 >= X.shape[0] * isz
                                                           or X.shape[1] == 1))):
        # strides of whole elements too (a field of a structured array, whose
        # records are 44 bytes, say, passed here and the kernels refused it,
        # saying to pass X through check_X); np.array, not ascontiguousarray,
        # which keeps the stride of a dimension of one (5, 1) as it is
        X = np.array(X, order="C")
    return X


def _check_x_shape(X, n_x, name, single_hint):
    """X (dense or sparse) is 2-D (n_x, m >= 1), examples as columns."""
    if X.ndim != 2:
        if single_hint and X.ndim == 1 and n_x == 1 and X.shape[0] != 1:
            # one feature: the values are examples, and (-1, 1) made them rows
            single_hint = (f" For {X.shape[0]} examples of the network's one feature use "
                           f"{name}.reshape(1, -1).")
        raise ValueError(f"{name} must be 2-D (n_x, m) with examples as columns; got shape "
                         f"{shape_str(X)}.{single_hint}")
    if X.shape[0] != n_x:
        hint = (f" It looks like examples are rows: pass {name}.T (no copy is made)."
                if X.shape[1] == n_x else "")
        raise ValueError(f"{name} has shape {shape_str(X)} but the network expects "
                         f"{n_x} features as rows, (n_x={n_x}, m).{hint}")
    if X.shape[1] == 0:
        raise ValueError(f"{name} has no examples (shape {shape_str(X)})")


def is_sparse(X):
    """A SciPy sparse matrix or array (SciPy imported only when X may be one)."""
    if not type(X).__module__.startswith("scipy.sparse"):
        return False
    import scipy.sparse
    return scipy.sparse.issparse(X)


def check_sparse_structure(X, name="X"):
    """X with its index arrays checked, before anything converts, slices or
    multiplies it: a malformed one is refused (ValueError), and stored
    entries past ``indptr[-1]`` (which SciPy's format check accepts) are
    dropped, in a copy.

    SciPy trusts the arrays: its ``tocsr`` / ``tocsc`` and its column
    selection read and write through them unchecked, so an index out of
    range or a decreasing ``indptr`` crashed the process, corrupted the
    heap, or came back as a well-formed matrix holding other entries, and
    its column selection corrupted the heap on entries past ``indptr[-1]``.
    O(nnz), in NumPy. CSR, CSC, BSR (indptr, indices, and BSR's block
    shape) and COO (coordinates) are checked; LIL, DOK and DIA hold Python
    lists, dicts or a dense band, which SciPy converts safely.
    """
    fmt = X.format
    where = f"{name} is a malformed sparse {fmt} matrix"
    fix = "; SciPy's X.check_format() names the problem"
    if fmt in ("csr", "csc", "bsr"):
        ptr, idx, data = X.indptr, X.indices, X.data
        major, minor = X.shape if fmt != "csc" else X.shape[::-1]
        if fmt == "bsr":
            # SciPy's blocksize is data.shape[1:]: a block shape that does not
            # divide the shape is malformed too
            R, C = (data.shape[1:] if isinstance(data, np.ndarray) and data.ndim == 3
                    and min(data.shape[1:]) > 0 else (0, 0))
            if not R or major % R or minor % C:
                raise ValueError(f"{where}: its data is not an (n_blocks, R, C) array of "
                                 f"blocks dividing its shape {shape_str(X)}{fix}")
            major, minor = major // R, minor // C
        for a, what in ((ptr, "indptr"), (idx, "indices")):
            if not isinstance(a, np.ndarray) or a.ndim != 1 or a.dtype.kind not in "iu":
                raise ValueError(f"{where}: its {what} is not a 1-D integer array{fix}")
        if not isinstance(data, np.ndarray) or data.ndim != (3 if fmt == "bsr" else 1):
            raise ValueError(f"{where}: its data is not a 1-D array{fix}")
        if ptr.size != major + 1:
            raise ValueError(f"{where}: its indptr has {ptr.size} entries where its shape "
                             f"{shape_str(X)} needs {major + 1}{fix}")
        stored = min(idx.size, data.shape[0])
        lo, hi = int(ptr[0]), int(ptr[-1])
        if lo != 0 or hi > stored:
            raise ValueError(f"{where}: its indptr runs from {lo} to {hi}, where it must "
                             f"start at 0 and end within its {stored} stored entries{fix}")
        down = np.flatnonzero(ptr[1:] < ptr[:-1]) if major else ()
        if len(down):
            k = int(down[0])
            raise ValueError(f"{where}: its indptr decreases, from {int(ptr[k])} at "
                             f"position {k} to {int(ptr[k + 1])}{fix}")
        used = idx[lo:hi]
        if used.size and (int(used.min()) < 0 or int(used.max()) >= minor):
            bad = used[(used < 0) | (used >= minor)]
            raise ValueError(f"{where}: its indices hold {int(bad[0])}, outside [0, {minor})"
                             f"{fix}")
        if idx.size != hi or data.shape[0] != hi:
            X = X.copy()            # copies of the arrays: the caller's are left alone
            X.indices, X.data = X.indices[:hi].copy(), X.data[:hi].copy()
    elif fmt == "coo":
        coords = getattr(X, "coords", None) or (X.row, X.col)
        for a, n, what in zip(coords, X.shape, ("row", "column")):
            if not isinstance(a, np.ndarray) or a.ndim != 1 or a.dtype.kind not in "iu":
                raise ValueError(f"{where}: its {what} indices are not a 1-D integer array"
                                 f"{fix}")
            if a.size != X.data.size:
                raise ValueError(f"{where}: {a.size} {what} indices for {X.data.size} "
                                 f"values{fix}")
            if a.size and (int(a.min()) < 0 or int(a.max()) >= n):
                bad = a[(a < 0) | (a >= n)]
                raise ValueError(f"{where}: its {what} indices hold {int(bad[0])}, outside "
                                 f"[0, {n}){fix}")
    return X


def check_sparse_X(X, n_x, dtype, name="X"):
    """A sparse X (n_x, m), examples as columns, as the network kernel takes it.

    A CSC matrix (compressed columns: each example's entries together; the
    transpose ``X_rows.T`` of a CSR matrix of examples as rows is one, with no
    copy) or a CSR matrix (compressed rows: each feature's entries together,
    the form the kernel computes with: read as it is, where a CSC X is
    sorted by feature at each call) of ``dtype`` whose indptr and indices
    are both int32 or both int64. Other formats and dtypes are converted (a
    copy). Duplicate entries add up and indices need not be sorted, as in
    SciPy's own products.
    """
    if X.ndim == 2:
        X = check_sparse_structure(X, name)
    _check_x_shape(X, n_x, name, "")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    if X.format not in ("csc", "csr"):
        X = X.tocsc()           # (LIL and DOK have no data array to check below)
    if X.dtype != dtype:
        if X.dtype.kind == "f" and X.dtype.itemsize > np.dtype(dtype).itemsize:
            converted_in_range(X.data, dtype, name)     # 1e39 for a float32 network: named
        X = X.astype(dtype)
    arrays = (X.indptr, X.indices, X.data)
    if (X.indptr.dtype != X.indices.dtype or X.indptr.dtype not in (np.int32, np.int64)
            or not all(a.flags.c_contiguous and a.flags.aligned and a.dtype.isnative
                       for a in arrays)):
        # one index type, each array contiguous and native (the kernel's
        # fast path reads them as such); new arrays, the caller's left alone
        itype = (X.indptr.dtype if X.indptr.dtype == X.indices.dtype
                 and X.indptr.dtype in (np.int32, np.int64) else np.int64)
        X = X.copy()
        X.indptr = np.ascontiguousarray(X.indptr, dtype=itype)
        X.indices = np.ascontiguousarray(X.indices, dtype=itype)
        X.data = np.ascontiguousarray(X.data, dtype=np.dtype(dtype))
    return X


def gather_layout(A):
    """A per-example array (n, m) (examples as columns) laid out for shuffled
    epochs, which copy each mini-batch's columns into a workspace: examples
    contiguous (F order).

    A C-ordered (n, m) array with n > 1 -- ``np.random.randn(n_x, m)``, or
    ``X_rows.T`` of F-ordered rows such as a pandas DataFrame's
    ``to_numpy()`` -- holds each example's n values m elements apart: the
    gather then reads one cache line per value, and a shuffled epoch ran
    1.3-2x slower than on the same data in F order (3x at 784 x 10000,
    batch 64). One F-ordered copy, made once per fit, costs about two passes
    over the data. The gather copies the same bits into the same workspace
    either way, so the results do not change. Other arrays (1-D, F-ordered,
    one row, sparse) are returned as they are, and so is an array larger than
    an eighth of the machine's physical memory, or one whose copy NumPy
    cannot allocate: the fit then gathers from it as it is, slower, rather
    than doubling the memory a large data set holds.
    """
    if (type(A) is np.ndarray and A.ndim == 2 and A.shape[0] > 1 and A.shape[1] > 1
            and not A.flags.f_contiguous):
        if not copy_fits_in_memory(A.nbytes):
            return A
        try:
            return np.asfortranarray(A)
        except MemoryError:
            return A
    return A


def refuse_sparse_epoch(X):
    """Network.train_epoch's X must be dense (its kernel gathers dense examples)."""
    if type(X) is not np.ndarray and is_sparse(X):
        raise TypeError("train_epoch takes a dense X; run a sparse X one mini-batch at a "
                        "time with train_batch(X[:, idx], ...) (as Network.fit does), or "
                        "pass X.toarray()")


def check_Y(Y, m, n_out, output, dtype, y_codes, name="Y"):
    """(Y array, its code in ``y_codes``, is-labels) for m examples.

    Y is (n_out, m), or for a softmax output integer class labels of shape
    (m,) or (1, m) (returned as (m,)). ``name`` is the argument's name in the
    messages (``"Y_val"`` for ``validation_data``'s, whose X is ``X_val``).
    """
    xname = "X" + name[1:]
    if type(Y) is not np.ndarray and is_sparse(Y):
        # a sparse one-hot or indicator matrix (the default output of
        # OneHotEncoder and of MultiLabelBinarizer(sparse_output=True)): the
        # kernels read dense targets, (n_out, m), which this is anyway
        Y = Y.toarray()
    if type(Y) is not np.ndarray:
        refuse_masked(Y, name)
        Y = np.asarray(Y)
    if Y.dtype == np.bool_:
        Y = Y.view(np.uint8)
    elif Y.dtype not in y_codes:
        if Y.dtype.kind == "u" and Y.size and int(Y.max()) > np.iinfo(np.int64).max:
            # uint64 beyond int64: the cast below wrapped 2**63 to -2**63, and
            # the message quoted a label the data does not hold
            if output == "softmax":
                raise label_range_error(Y, n_out, name)
            Y = Y.astype(np.float64)
        if Y.dtype.kind in "iu":
            Y = Y.astype(np.int64)
        elif Y.dtype.kind == "f":
            Y = converted_in_range(Y, dtype, name)    # 1e39 for a float32 network: named
        else:
            raise non_numeric_labels_error(Y, n_out, output, name)
    _check_range(Y, dtype, name)
    labels = False
    if output == "softmax" and (Y.ndim == 1 or (Y.ndim == 2 and Y.shape[0] == 1)):
        if Y.dtype.kind == "f" and np.isnan(Y).any():
            raise ValueError(f"class labels {name} hold NaN in {int(np.isnan(Y).sum())} of "
                             f"{Y.size} examples (missing labels, such as pandas' <NA> in an "
                             "Int64 column): drop or fill those examples first, then pass "
                             f"integers 0..{n_out - 1}")
        if Y.dtype.kind not in "iu":
            raise TypeError(f"class labels {name} of shape {shape_str(Y)} must be integers "
                            f"0..{n_out - 1}, got dtype {Y.dtype}; use {name}.astype(int), or "
                            f"pass one-hot labels of shape ({n_out}, m)")
        labels = True
        if Y.ndim == 2:
            Y = Y[0]
        if Y.shape[0] != m:
            raise ValueError(f"{name} has {Y.shape[0]} labels but {xname} has {m} examples "
                             "(columns)")
    else:
        if output == "sigmoid" and Y.dtype.kind in "iu" and Y.size \
                and (Y.ndim == 1 or Y.shape[0] == 1) and (n_out > 1 or int(Y.max()) > 1):
            raise ValueError(
                f"{name} looks like integer class labels (values "
                f"{int(Y.min())}..{int(Y.max())}) but the output is 'sigmoid' (Network's "
                "default when output= is not given), which takes 0/1 targets of shape "
                f"({n_out}, m); for one class per example use output='softmax' with one unit "
                f"per class, e.g. Network([..., {max(n_out, int(Y.max()) + 1)}], "
                "output='softmax')")
        if Y.ndim == 1 and n_out == 1:
            if Y.shape[0] != m:
                raise ValueError(f"{name} has {Y.shape[0]} values but {xname} has {m} "
                                 "examples (columns)")
            Y = Y.reshape(1, -1)
        if Y.ndim != 2 or Y.shape[0] != n_out or Y.shape[1] != m:
            want = f"({n_out}, {m})"
            if output == "softmax":
                want += f" one-hot, or integer labels of shape ({m},) or (1, {m})"
            column = output == "softmax" and Y.ndim == 2 and Y.shape == (m, 1)
            hint = (f": it looks like examples are rows, pass {name}.T"
                    if Y.ndim == 2 and Y.shape == (m, n_out) else
                    f": it looks like a column of labels, pass {name}.ravel()"
                    if column and Y.dtype.kind in "iu" else
                    f": it looks like a column of labels, pass {name}.ravel().astype(int)"
                    if column and _whole_numbers(Y, n_out) else "")
            raise ValueError(f"{name} has shape {shape_str(Y)}; expected {want} "
                             f"(outputs as rows, examples as columns){hint}")
    if Y.strides[-1] % Y.itemsize or (Y.ndim == 2 and Y.strides[0] % Y.itemsize):
        # np.array: ascontiguousarray kept such a stride of a dimension of one
        # (one example of a structured array's field, (n_out, 1)), which the
        # kernels then refused, saying to pass Y through check_Y
        Y = np.array(Y, order="C")
    return Y, y_codes[Y.dtype], labels


def _whole_numbers(Y, n):
    """Whether float Y holds only the class indices 0..n-1 (labels stored as floats)."""
    if Y.dtype.kind != "f" or Y.size == 0:
        return False
    with np.errstate(invalid="ignore"):
        return bool(np.all((Y >= 0) & (Y < n) & (Y == np.floor(Y))))


def non_numeric_labels_error(Y, n_out, output, name="Y"):
    """The TypeError for targets Y that are not numbers (text labels, objects):
    what a network takes for its output, and how to encode them."""
    flat = Y.reshape(-1)[:1000]
    if flat.dtype.kind == "S":
        flat = np.char.decode(flat, "utf-8", "replace")
    head = (f"{name} must hold numeric targets, got dtype {Y.dtype} (values "
            f"{_examples(flat.tolist())})")
    if flat.dtype == object and any(v is None or type(v).__name__ == "NAType"
                                    for v in flat.tolist()):
        # a pandas nullable column with <NA> (boolean, string): the encodings
        # suggested below would turn the missing values into class 0 silently
        return TypeError(f"{head}: it holds missing values (None or pandas' <NA>), which "
                         "are no targets: drop those examples or fill them first")
    if flat.dtype == object and flat.size and all(
            isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))
            for v in flat.tolist()):
        # numbers stored as Python objects (np.array([...], dtype=object), a
        # pandas object column): a conversion, not an encoding, is needed
        kind = "int" if all(isinstance(v, numbers.Integral) for v in flat.tolist()) else "float"
        return TypeError(f"{head}: these are numbers stored as Python objects; convert "
                         f"them with {name}.astype({kind})")
    classifier = ("; or use fastbp.sklearn.MLPClassifier, which takes text labels as "
                  "they are")
    if output == "softmax":
        return TypeError(
            f"{head}: a softmax output takes class indices 0..{n_out - 1} of shape (m,) or "
            f"one-hot columns ({n_out}, m). Encode the labels first: classes, Y = "
            "np.unique(y, return_inverse=True) (or the fit_transform(y) of "
            "sklearn.preprocessing.LabelEncoder) gives the indices, "
            "sklearn.preprocessing.OneHotEncoder the one-hot rows (transpose them)"
            + classifier)
    if output == "sigmoid":
        return TypeError(
            f"{head}: a sigmoid output takes 0/1 labels (or probabilities) of shape "
            f"({n_out}, m). Encode them first, e.g. Y = (y == positive_label).astype(np.uint8) "
            "or sklearn.preprocessing.LabelEncoder for two classes; for "
            "more classes use output='softmax' with class indices" + classifier)
    return TypeError(
        f"{head}: an {output} output is a regression and takes numeric targets; "
        "convert them first (Y.astype(float) for numbers written as text). For class labels "
        "use output='softmax' with class indices (np.unique(y, return_inverse=True), "
        "sklearn.preprocessing.LabelEncoder)" + classifier)


def label_range_error(Y, n_out, name="Y"):
    """The ValueError for class labels ``name`` outside 0..n_out-1 (for
    kernels that found one)."""
    Y = np.asarray(Y)
    bad = Y[(Y < 0) | (Y >= n_out)]
    lo, hi = int(np.min(Y)), int(np.max(Y))
    # the fix: labels counted from 1 (R's, MATLAB's, many files'), a network
    # with too few outputs, or labels that are no indices (-1/1, codes)
    recode = (f"map them to 0..{n_out - 1} with {name}_idx = np.unique({name}, "
              "return_inverse=True)[1]")
    k = len(np.unique(Y))
    if lo == 1 and hi == n_out:
        fix = f"the labels look counted from 1: pass {name} - 1, or {recode}"
    elif k > n_out:
        fix = (f"{name} holds {k} distinct labels: build the network with {k} outputs "
               f"(layer_dims[-1] = {k})" + ("" if lo == 0 and hi == k - 1 else
                                            f" and map the labels to 0..{k - 1}"))
    else:
        fix = recode
    return ValueError(f"class labels {name} must be in 0..{n_out - 1} (the network has {n_out} "
                      f"outputs); found {_found(bad, Y.size)}, values in "
                      f"[{lo}, {hi}]: {fix}")


def check_label_range(Y, n_out, name="Y"):
    """Raise :func:`label_range_error` unless every label is in 0..n_out-1."""
    if int(np.min(Y)) < 0 or int(np.max(Y)) >= n_out:
        raise label_range_error(Y, n_out, name)


# Label domains of the losses. Every loss validates its targets once at the
# boundary (fit and evaluate up front; layers.loss / output_delta per call);
# the network kernel flags a target outside the domain while it computes the
# loss (free: it reads every target there) and train_step / backward then
# raise target_error's message. Soft targets are valid where the loss is
# defined for them (binary cross-entropy in [0, 1], probability columns).

def _found(bad, n, limit=5, what="values"):
    """``{1, 2} (3 of 10 values)``: a few distinct offending values and how many."""
    if bad.dtype.kind in "iu":          # exactly (as float64, 2**63 read 9.22337e+18)
        vals = np.unique(bad)
        items = [str(int(v)) for v in vals[:limit]]
    else:
        vals = np.unique(bad.astype(np.float64, copy=False))
        nan = vals[np.isnan(vals)]
        vals = vals[~np.isnan(vals)]
        # %g unless it rounds to another number (1 + 2**-52 is not "1"): then
        # the shortest repr in bad's own dtype
        items = ([f"{v:g}" if float(f"{v:g}") == v else str(bad.dtype.type(v))
                  for v in vals[:limit]] + (["nan"] if nan.size else []))
    more = ", ..." if vals.size > limit else ""
    return f"{{{', '.join(items)}{more}}} ({bad.size} of {n} {what})"


def _sum_tolerance(ydtype, dtype=None):
    """How far a column of probability targets may sum from 1: sqrt(eps) of
    float Y's dtype or of the dtype computed in, the larger (float32
    probabilities normalised in float32 sum to 1 +- 1e-7, which a float64
    network must take; float64 targets on a float32 network are read in
    float32). scikit-learn's tolerance for probabilities; the network
    kernel's scan (csrc/fastbp_loss.h) uses the same rule."""
    eps = np.finfo(ydtype if np.dtype(ydtype).kind == "f" else np.float64).eps
    if dtype is not None:
        eps = max(eps, np.finfo(dtype).eps)
    return math.sqrt(eps)


def target_error(Y, loss, n_out, labels=False, name="Y", flagged=False, indices_ok=True,
                 dtype=None):
    """The ValueError for targets ``Y`` outside the domain of ``loss``, or None.

    binary_crossentropy: values in [0, 1] (0/1 labels, or soft targets);
    crossentropy: class indices in 0..n_out-1, or (n_out, m) non-negative values
    whose columns each sum to 1 within :func:`_sum_tolerance` of Y's dtype and
    ``dtype`` (the one computed in); poisson: non-negative and finite counts
    or rates; mse: anything (fit and evaluate check that targets are finite,
    the layer functions let NaN propagate). ``flagged``: a kernel found a bad target, so
    never None (a generic message if this check finds nothing).
    ``indices_ok``: the caller also takes class indices (a Network does; the
    layer functions take targets of AL's shape only), so the fix suggests them.
    """
    err = _target_error(Y, loss, n_out, labels, name, indices_ok, dtype)
    if err is None and flagged:
        err = ValueError(f"{name}: a target lies outside the domain of the {loss} loss")
    return err


def _target_error(Y, loss, n_out, labels, name, indices_ok=True, dtype=None):
    if labels:
        Y = np.asarray(Y)
        if Y.size and (int(np.min(Y)) < 0 or int(np.max(Y)) >= n_out):
            return label_range_error(Y, n_out, name)
        return None
    Y = np.asarray(Y)
    if Y.dtype.kind not in "biuf" or Y.size == 0:
        return None
    if Y.dtype.kind == "f":
        y = Y
    else:
        y = Y.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):     # (column sums may overflow)
        if loss == "binary_crossentropy":
            bad = ~((y >= 0) & (y <= 1))
            if bad.any():
                return ValueError(
                    f"{name}: labels must be 0/1 (or probabilities in [0, 1]) for a sigmoid "
                    f"output (binary cross-entropy); found {_found(y[bad], y.size)} outside "
                    "[0, 1]: for class indices use output='softmax' with one unit per "
                    "class, or map the labels to 0/1")
        elif loss == "crossentropy":
            fix = (f"pass class indices 0..{n_out - 1} of shape (m,), or one-hot columns"
                   if indices_ok else
                   "pass one-hot columns (a row per class, a column per example)")
            bad = ~(y >= 0)
            if bad.any():
                return ValueError(
                    f"{name}: one-hot or probability targets of a softmax output "
                    f"(cross-entropy) must be non-negative; found {_found(y[bad], y.size)} "
                    f"below 0 or NaN: {fix}")
            sums = np.sum(y, axis=0, dtype=np.float64)
            tol = _sum_tolerance(y.dtype, dtype)
            off = np.flatnonzero(~(np.abs(sums - 1.0) <= tol))
            if off.size:
                if np.all(np.abs(sums[off] - 1.0) <= math.sqrt(np.finfo(np.float32).eps)):
                    # float32 probabilities widened to float64 (another model's
                    # predict_proba, say): they sum to 1 only to float32's precision
                    fix = ("they sum to 1 only to float32's precision (probabilities "
                           "computed in float32?): renormalise them in this dtype, "
                           "Y / Y.sum(axis=0, keepdims=True), or pass them as float32")
                elif not np.all((y == 0) | (y == 1)):
                    fix += ("; or, for probabilities, renormalise them: "
                            "Y / Y.sum(axis=0, keepdims=True)")
                return ValueError(
                    f"{name}: each column (example) of one-hot or probability targets of a "
                    f"softmax output (cross-entropy) must sum to 1 (within {tol:.2g}); "
                    f"found sums {_found(sums[off], sums.size, what='columns')} at columns "
                    f"{_listing(off.tolist())}: {fix}")
        elif loss == "poisson":
            bad = ~((y >= 0) & (y <= np.finfo(np.float64).max))
            if bad.any():
                return ValueError(
                    f"{name}: targets of an exp output (Poisson loss) must be non-negative "
                    f"finite counts or rates; found {_found(y[bad], y.size)} negative, "
                    "inf or NaN")
    return None


def check_targets(Y, loss, n_out, labels=False, name="Y", indices_ok=True, dtype=None):
    """Raise :func:`target_error` when ``Y`` lies outside the domain of ``loss``
    (``dtype``: the one computed in, for the probability columns' tolerance).

    A 2-D array of a label dtype is scanned by one compiled call
    (fastbp._loss.targets_ok, well under a microsecond for the course's
    sizes); only a failure (or another input) takes the NumPy checks.
    """
    if not labels and type(Y) is np.ndarray and Y.ndim == 2 and loss in LOSS_CODES:
        yt = _LABEL_CODES.get(Y.dtype)
        isz = Y.itemsize
        if yt is not None and Y.flags.aligned and Y.dtype.isnative \
                and not (Y.strides[0] % isz or Y.strides[1] % isz):
            if _targets_ok(Y, yt, Y.strides[0] // isz, Y.strides[1] // isz,
                           LOSS_CODES[loss], _sum_tolerance(Y.dtype, dtype)):
                return Y
    err = target_error(Y, loss, n_out, labels, name, indices_ok=indices_ok, dtype=dtype)
    if err is not None:
        raise err
    return Y


def check_finite(A, name):
    """Raise unless every value of the float array A (or sparse matrix) is finite.

    A finite sum proves every value finite (a NaN or an inf makes the sum
    NaN or inf), without the boolean temporary of A's shape that
    ``np.isfinite(A)`` allocates (a quarter of a float32 X's size, at every
    fit and predict); only a sum that is not finite (a bad value, or an
    overflow of finite ones) pays for the element-wise check, as
    scikit-learn's ``_assert_all_finite`` does.
    """
    if type(A) is not np.ndarray and is_sparse(A):
        A = A.data
    if A.dtype.kind != "f":
        return
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(A)):
            return
    if not np.all(np.isfinite(A)):
        hint = "; clean or impute the data first" if name == "X" else ""
        bad = A[~np.isfinite(A)]
        raise ValueError(f"{name} contains NaN or inf: {_found(bad, A.size)}{hint}")


class WeightSumZeroError(ZeroDivisionError, ValueError):
    """Sample weights that sum to zero where the loss and gradients are divided by
    their sum.

    A ZeroDivisionError, as NumPy's ``np.average`` raises inside scikit-learn's
    MLP fit for the same weights (so code written for scikit-learn catches
    it), and a ValueError, fastbp's contract for bad input.
    """


#: NumPy's words (``np.average``), which scikit-learn's MLP fit raises for weights
#: summing to zero; fastbp's message starts with them
WEIGHT_SUM_ZERO = "Weights sum to zero, can't be normalized"


def check_sample_weight(sample_weight, m, ensure_non_negative=True, relative=False):
    """Per-example weights as a float64 C-contiguous (m,) array, or None.

    A scalar is one weight for every example (as scikit-learn's
    ``_check_sample_weight``). The weights must be finite and not all zero:
    the gradients are divided by their sum. With ``ensure_non_negative``
    (the default) they must be >= 0; without it (scikit-learn's MLP
    semantics) any sign goes, and a sum of exactly zero raises
    :class:`WeightSumZeroError`. ``relative``: only the weights' ratios
    count (a network without L2): non-negative weights beyond 2^+-500 are
    scaled by a power of two (:func:`_rescaled_weights`). Otherwise a
    non-negative sum that overflows is a ValueError (the L2 term divides by it).
    """
    if sample_weight is None:
        return None
    refuse_masked(sample_weight, "sample_weight")
    if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 0:
        # m (the examples' count) sizes a scalar weight's array: np.full(-1) /
        # np.full(1.5) failed with NumPy's messages, naming neither argument
        raise (ValueError if m is not True and m is not False
               and isinstance(m, numbers.Integral) else TypeError)(
            f"m (the number of examples sample_weight is for) must be an int >= 0, "
            f"got {m!r}")
    if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
        sample_weight = np.full(m, float(sample_weight))
    try:
        sw = _asarray(sample_weight)
    except Exception as exc:
        raise TypeError(f"sample_weight must be an array of numbers, got "
                        f"{type(sample_weight).__name__}: {exc}") from None
    if sw.dtype.kind not in "biuf":
        raise TypeError(f"sample_weight must hold real numbers, got dtype {sw.dtype}")
    if sw.ndim == 2 and 1 in sw.shape:
        sw = sw.reshape(-1)
    if sw.shape != (m,):
        raise ValueError(f"sample_weight has shape {shape_str(sw)}; expected ({m},): one "
                         "weight per example (column of X)")
    sw = np.ascontiguousarray(sw, dtype=np.float64)
    if not sw.flags.aligned:
        # (np.frombuffer at an odd offset) ascontiguousarray keeps it so, and
        # the kernels refused it, saying to pass it through check_sample_weight
        sw = sw.copy()
    if not np.all(np.isfinite(sw)):
        raise ValueError(f"sample_weight contains NaN or inf: found "
                         f"{_found(sw[~np.isfinite(sw)], sw.size)}")
    if ensure_non_negative and m and np.min(sw) < 0:
        raise ValueError(f"sample_weight must be non-negative; got a minimum of {np.min(sw)} "
                         f"({_found(sw[sw < 0], sw.size)}): a negative weight rewards the "
                         "fit for getting that example wrong")
    if not np.any(sw):
        raise ValueError("sample_weight sums to zero: at least one weight must be positive "
                         "(the gradients are divided by the sum of the weights)")
    if not ensure_non_negative and sw.sum() == 0:
        raise WeightSumZeroError(
            f"{WEIGHT_SUM_ZERO}: sample_weight of {m} examples ({int(np.sum(sw < 0))} "
            "negative) sums to 0.0, and the loss and gradients are divided by that sum")
    if ensure_non_negative and relative:
        sw = _rescaled_weights(sw)
    elif ensure_non_negative and not _finite_sum(sw):
        raise ValueError(f"sample_weight sums to inf (largest weight {np.max(sw):g}): with "
                         "L2 (lambd > 0) the term lambd / (2 sum(sample_weight)) takes the "
                         "weights as they are; scale them down (without L2 only their "
                         "ratios count)")
    return sw


def _finite_sum(sw):
    """sum(sw) does not overflow (checked without NumPy's overflow warning)."""
    with np.errstate(over="ignore"):
        return bool(np.isfinite(np.sum(sw)))


def extreme_exponent(big):
    """k with ``big / 2^k`` near 1 where the magnitude ``big`` (scalar or
    array, >= 0) is beyond 2^+-500, else 0 (also for 0, inf, NaN): scaling
    by ``2^-k`` is exact and keeps squares and sums of such values finite,
    and values of ordinary size are left as they are (their bits kept)."""
    big = np.asarray(big, dtype=np.float64)
    k = np.where((big > 0) & np.isfinite(big), np.frexp(big)[1], 0)
    k = np.where(np.abs(k) > 500, k, 0)
    return int(k) if k.ndim == 0 else k


def _rescaled_weights(sw):
    """Non-negative weights (not all zero) scaled by a power of two when their
    largest is beyond 2^+-500: only their ratios count (every use divides by a
    sum of weights), and such weights made that sum overflow (1e308: evaluate
    returned 0.0, 0.0) or its reciprocal overflow (1e-320: fit called it a
    divergence)."""
    k = extreme_exponent(np.max(sw))
    return np.ldexp(sw, -k) if k else sw


def check_flat_params(params, n_params):
    """A flat parameter vector (n_params,) of real numbers, as an ndarray."""
    if type(params) is not np.ndarray:
        refuse_masked(params, "params")
        params = np.asarray(params)
    if params.dtype.kind not in "biuf":
        raise TypeError(f"params must hold real numbers, got dtype {params.dtype}")
    if params.shape != (n_params,):
        raise ValueError(f"params has shape {shape_str(params)}; expected ({n_params},), the "
                         "layout of Network.flat_parameters")
    return params


def sample_weight_with_comm_error():
    """The ValueError for sample_weight with a data-parallel comm= (not supported yet)."""
    return ValueError("sample_weight is not supported with comm= (data-parallel training) "
                      "yet; train in one process, or repeat examples in proportion to "
                      "their weights")


def cap_n_threads(n_threads, cores, name="n_threads"):
    """``n_threads``, capped at ``cores`` with a RuntimeWarning when it asks for more.

    More OpenMP threads than cores only make the kernels wait for each other
    (``n_threads=1000`` ran 2x slower than 2 on a 2-core machine).
    """
    if isinstance(n_threads, np.ndarray) and n_threads.ndim == 0 and n_threads.dtype.kind in "iu":
        n_threads = int(n_threads)      # not Integral: array(10**18) went uncapped to OpenMP
    if isinstance(n_threads, numbers.Integral) and not isinstance(n_threads, bool) \
            and n_threads > cores:
        warnings.warn(f"{name}={n_threads} is more than the {cores} cores this process can "
                      f"use: using {cores} (more threads than cores only slow the kernels "
                      "down)", RuntimeWarning, stacklevel=_user_stacklevel())
        return cores
    return n_threads


def check_effective_count(name, n_threads):
    """An effective thread count given for one call or set on a network: an
    int >= 1 (0 or a negative one made the compiled calls no-ops), capped at
    the cores with a RuntimeWarning as the constructor's ``n_threads``."""
    return cap_n_threads(check_positive_int(name, n_threads), _cpu_count(), name)


def check_adam_t(t):
    """Adam's step count ``t`` as an int >= 1 (the course counts updates from 1).

    Raises TypeError for a non-number, ValueError for t < 1 or a fraction:
    the bias corrections divide by 1 - beta**t, which is 0 at t=0.
    """
    if isinstance(t, (bool, np.bool_)) or not isinstance(t, numbers.Real):
        raise TypeError(f"Invalid t: Adam's step count must be a whole number >= 1, got "
                        f"{type(t).__name__} {t!r}")
    if not (math.isfinite(t) and t >= 1 and t == int(t)):
        raise ValueError(f"t must be a whole number >= 1: Adam's step count, counted from 1 "
                         f"(the bias corrections divide by 1 - beta**t, which is 0 at t=0); "
                         f"got {t!r}. Count updates from 1: t = t + 1 before each "
                         "update_parameters_with_adam call")
    return int(t)


def check_optimizer(optimizer, base):
    """``optimizer`` if it is an instance of ``base`` (fastbp.optim.Optimizer)
    that implements an update (not the base class itself)."""
    if not isinstance(optimizer, base):
        raise TypeError("optimizer must be a fastbp.optim optimizer such as SGD(0.1) or "
                        f"Adam(1e-3), got {type(optimizer).__name__}")
    if type(optimizer).kernel_args is base.kernel_args:
        raise TypeError(f"optimizer must be a fastbp.optim optimizer such as SGD(0.1) or "
                        f"Adam(1e-3), got {type(optimizer).__name__}, which defines no "
                        "update (fastbp.optim.Optimizer is their base class)")
    return optimizer


def file_in_the_way(directory):
    """The nearest existing ancestor of ``directory`` (itself included) when it
    is a file, not a directory (``x/model.npz`` with ``x`` a regular file), else
    None: the reason a missing directory cannot simply be created."""
    while not os.path.exists(directory) and os.path.dirname(directory) != directory:
        directory = os.path.dirname(directory)
    return directory if os.path.exists(directory) and not os.path.isdir(directory) else None


def npz_trouble(path):
    """Why the existing file ``path`` is not a readable ``.npz`` archive, or
    None when it is a zip: "empty", "cut" (a zip whose end is missing), "npy"
    (one array written by np.save) or "other". Read from its first bytes."""
    if zipfile.is_zipfile(path):
        return None
    with open(path, "rb") as f:
        head = f.read(6)
    if not head:
        return "empty"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    return "cut" if head[:2] == b"PK" else "other"


def checkpoint_write_error(exc, path):
    """The OSError to raise when writing the checkpoint ``path`` failed with ``exc``
    (same type and errno, so ``except OSError`` and ``e.errno == ENOSPC`` work)."""
    reason = exc.strerror or str(exc)
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    blocker = file_in_the_way(folder)
    if blocker is not None:
        msg = f"cannot write {path!r}: {reason} ({blocker!r} is a file, not a directory)"
    elif not os.path.isdir(folder):
        msg = f"cannot write {path!r}: {reason} (the directory {folder!r} does not exist)"
    else:
        msg = f"cannot write {path!r}: {reason}; a file there before (if any) is unchanged"
    return type(exc)(exc.errno, msg) if exc.errno is not None else type(exc)(msg)


def check_bool(name, value):
    """``value`` if it is True or False (a NumPy bool too): a flag given as a
    string (``shuffle="no"``) is truthy, and would silently do the opposite."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} "
                        f"{value!r}")
    return bool(value)


def check_fit_args(epochs, batch_size, checkpoint_every, callback, seed=None, shuffle=True,
                   resume=False, verbose=True):
    """Validate ``fit``'s scalar arguments."""
    if seed is not None:
        check_seed(seed)
    check_bool("shuffle", shuffle)
    check_bool("resume", resume)
    if verbose is not None and not isinstance(verbose, (bool, np.bool_, int, np.integer)):
        # verbose="no" (truthy) showed the progress bar; 0 / 1 (Keras' levels)
        # and None (no bar, as it always was) are kept
        raise TypeError(f"verbose must be True or False (or 0 / 1), got "
                        f"{type(verbose).__name__} {verbose!r}")
    for name, v in (("epochs", epochs), ("batch_size", batch_size),
                    ("checkpoint_every", checkpoint_every)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(v).__name__} {v!r}")
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be >= 1, got {checkpoint_every}")
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable as callback(net, epoch, logs), got "
                        f"{type(callback).__name__} {callback!r}")


def _nonfinite_parameters(params):
    """How many of the flat parameters ``params`` are NaN/inf, and the
    sentence that says so (None when there are none)."""
    bad = int(params.size - np.count_nonzero(np.isfinite(params)))
    if not bad:
        return 0, None
    return bad, (f"The parameters themselves hold NaN/inf ({bad} of {params.size}), written "
                 "into them or left by an earlier update that overflowed: the network cannot "
                 "train or predict from them; start from finite parameters (a new network, "
                 "Network.load of a checkpoint, or assign finite values).")


def nonfinite_outputs_error(ok, params, dtype):
    """The ValueError of class predictions from NaN/inf outputs: ``ok`` (m,)
    tells which examples' outputs are finite; the cause named is NaN/inf in
    the flat ``params`` when there are any, else an overflow of ``dtype``."""
    bad = int(ok.size - np.count_nonzero(ok))
    n_bad = _nonfinite_parameters(params)[0]
    why = (f"the network's parameters hold NaN/inf ({n_bad} of {params.size}, written into "
           "them or left by an update that overflowed)" if n_bad else
           f"X overflows the network's dtype ({dtype}) inside the network")
    return ValueError(f"the network's outputs are NaN/inf for {bad} of {ok.size} examples "
                      f"(the first: column {int(np.argmin(ok))}): {why}. No class can be "
                      "predicted from them (predict_proba returns them as they are)")


def check_finite_parameters(params):
    """ValueError when the network's flat parameters hold NaN/inf (fit
    would report the first step's NaN loss as divergence)."""
    bad, text = _nonfinite_parameters(params)
    if bad:
        raise ValueError(f"fit cannot start: {text[0].lower()}{text[1:]}")


def nonfinite_loss_error(loss, where="", params=None):
    """FloatingPointError of a step whose loss is not finite (``.loss`` holds
    it): its update was skipped, so the parameters are exactly those that gave
    this loss. ``where``: e.g. " on every rank". ``params``: the network's flat
    parameter buffer; when it holds NaN/inf the message says so (neither the
    learning rate nor the data is then the cause)."""
    text = None if params is None else _nonfinite_parameters(params)[1]
    advice = text or "Lower the learning rate or check the data for NaN/inf."
    exc = FloatingPointError(
        f"the loss is {loss} (not finite); the update was skipped{where}, so the "
        "parameters are unchanged by this step: they are the ones that gave this "
        f"loss. {advice}")
    exc.loss = loss
    return exc


def divergence_message(epoch, step, j, k, loss, restored_epoch, restored, columns=None):
    """fit's error when a step's loss stops being finite.

    ``restored_epoch``: the epoch (from 1) whose starting parameters and
    optimizer state were put back, or None when nothing could be (the very
    first step of the run diverged, its update skipped). ``columns``: the
    batch's columns of X when the epoch was shuffled (positions j:k of the
    shuffled order are not columns of X), None when it was not.
    """
    where = (f"columns {j}:{k} of X" if columns is None else
             f"the columns {_listing(sorted(int(c) for c in columns), 20)} of X")
    head = (f"training diverged at epoch {epoch}, step {step} (the mini-batch of {where}): "
            f"the loss is {loss} (not finite). Lower the learning rate, or scale the data "
            "and targets (fit checked them for NaN and inf: large values overflow). ")
    if restored_epoch is None:
        return (head + "No update was made in this fit: the parameters are the ones it "
                "started from.")
    return (head + "The parameters and the optimizer state were restored to "
            f"those at the start of epoch {restored_epoch} (whose loss on that epoch's first "
            f"batch was finite); the {restored} updates made since then were undone.")


def last_update_message(epoch, restored_epoch, restored):
    """fit's error when the parameters are not finite after its last update
    though every loss was (the update overflowed the network's dtype)."""
    return (f"training diverged in the last update of epoch {epoch}: the loss was finite, "
            "but the parameters it left are not (they overflowed the network's dtype). "
            "Lower the learning rate, or scale the data and targets. The parameters and "
            f"the optimizer state were restored to those at the start of epoch "
            f"{restored_epoch}; the {restored} updates made since then were undone.")


#: a training cost this many times its value before training (or more) is divergence
DIVERGED_FACTOR = 10.0


def check_training_converged(initial, final, epochs):
    """Raise when training left the cost non-finite or ``DIVERGED_FACTOR`` times (or
    more) above its value before training: the model is worse than where it started.

    ``fit`` stops at a non-finite loss by itself; this catches the run whose
    loss grew without bound while staying finite (Adam at a huge learning
    rate: each step is bounded by the rate, so the cost reaches ~1e24, not inf).
    """
    if math.isfinite(final) and not (initial > 0 and final >= DIVERGED_FACTOR * initial):
        return final
    grew = (f"rose from {initial:.4g} before training to {final:.4g} after {epochs} "
            f"epoch{'s' if epochs != 1 else ''}" if math.isfinite(final)
            else f"is {final} (not finite) after {epochs} epoch{'s' if epochs != 1 else ''}")
    raise ValueError(f"training diverged: the training loss {grew}, {DIVERGED_FACTOR:g} "
                     "times or more its starting value: the model is worse than where it "
                     "started. Lower the learning rate or check the data for outliers")


def check_replica_check_every(value):
    """``replica_check_every`` as an int >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError("replica_check_every must be an int >= 0 (0: check only at the "
                        f"end), got {type(value).__name__} {value!r}")
    if value < 0:
        raise ValueError("replica_check_every must be an int >= 0 (0: check only at the "
                         f"end), got {value!r}")
    return int(value)


def callback_stop(result):
    """Whether a fit callback's return value asks to stop: True stops, None or
    False goes on; anything else is a TypeError (``lambda net, e, logs:
    net.save(...)`` returns the path, which would otherwise read as True or
    be ignored, both surprising)."""
    if result is None or isinstance(result, (bool, np.bool_)):
        return bool(result)
    raise TypeError(f"the callback returned {type(result).__name__} {result!r}; it must "
                    "return True to stop training, or None / False to go on (a callback "
                    "that saves the network: call net.save(...) and return None)")


def check_n_steps(n_steps):
    """``n_steps`` as an int >= 1."""
    n_steps = zero_d_real(n_steps)
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral):
        raise TypeError(f"n_steps must be an int >= 1, got {type(n_steps).__name__} "
                        f"{n_steps!r}")
    n_steps = int(n_steps)
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    return n_steps


def check_epoch_order(order, m):
    """``order`` (the examples of an epoch) as a 1-D intp array of indices in [0, m), or None."""
    if order is None:
        return None
    a = np.asarray(order)
    if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
        raise TypeError(f"order must be a 1-D array of integer column indices (e.g. "
                        f"rng.permutation(m)), got {a.dtype} of shape {shape_str(a)}")
    if a.size and (int(a.min()) < 0 or int(a.max()) >= m):
        raise ValueError(f"order holds column indices in [{int(a.min())}, {int(a.max())}]; "
                         f"X has {m} columns, so they must be in 0..{m - 1}")
    return np.ascontiguousarray(a, dtype=np.intp)


def check_checked_weights(sample_weight, m):
    """Raise unless ``sample_weight`` is None or a float64 C-contiguous (m,) array
    (what :func:`check_sample_weight` returns), as the compiled epoch reads it."""
    if sample_weight is None:
        return
    if not (isinstance(sample_weight, np.ndarray) and sample_weight.dtype == np.float64
            and sample_weight.shape == (m,) and sample_weight.flags.c_contiguous):
        got = (f"{sample_weight.dtype} array of shape {shape_str(sample_weight)}"
               + ("" if sample_weight.flags.c_contiguous else ", not C-contiguous")
               if isinstance(sample_weight, np.ndarray) else type(sample_weight).__name__)
        raise TypeError("sample_weight must be None or a float64 C-contiguous array of shape "
                        f"({m},), got {got}; pass it through Network.check_sample_weight "
                        "first")


def check_checked_Y(Y, m, n_out, labels):
    """Raise unless ``Y`` is what :func:`check_Y` returns for m examples: (m,)
    class labels with ``labels``, else (n_out, m), of a dtype the loss kernels
    read (LABEL_DTYPES), strides whole elements; the evaluation sums read it
    as it is (a Y of fewer columns was read out of bounds)."""
    ok = (Y.shape == ((m,) if labels else (n_out, m)) and Y.dtype in LABEL_DTYPES
          and all(s % Y.itemsize == 0 for s in Y.strides))
    if not ok:
        raise ValueError(f"Y must be as Network.check_Y returns it for {m} examples: "
                         + (f"({m},) class labels" if labels else f"({n_out}, {m})")
                         + f" of float32, float64, uint8, int32 or int64 (got {Y.dtype} "
                         f"{shape_str(Y)}); pass Y through net.check_Y first, or use evaluate")


def check_y_code(y_code):
    """The label code of a checked Y as an int (the kernels compare it with
    Y's dtype; a str or float said only "an integer is required")."""
    y_code = zero_d_real(y_code)
    if isinstance(y_code, (bool, np.bool_)) or not isinstance(y_code, numbers.Integral):
        raise TypeError(f"y_code must be the int code Network.check_Y returns with Y, got "
                        f"{type(y_code).__name__} {y_code!r}; pass Y through net.check_Y "
                        "first, or use fit / train_step")
    if not 0 <= y_code <= C_INT_MAX:
        # (beyond a C int the kernel's conversion raised OverflowError)
        raise ValueError(f"y_code must be the code Network.check_Y returns with Y (an int "
                         f"in [0, 2**31)), got {y_code!r}; pass Y through net.check_Y first, "
                         "or use fit / train_step")
    return int(y_code)


def check_share(M, offset, m):
    """(M, offset) of a data-parallel share of m columns at ``offset`` in a
    batch of M: ints with 0 <= offset and offset + m <= M, M >= 1."""
    for name, v in (("M", M), ("offset", offset)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(v).__name__} {v!r}")
    if M < 1 or offset < 0 or offset + m > M:
        raise ValueError(f"a share of {m} columns at offset {offset} does not fit in a batch "
                         f"of M = {M}: need M >= 1, offset >= 0 and offset + m <= M")
    return int(M), int(offset)


def check_epoch_batches(batch_size, start_batch, n_batches, n_ex):
    """(batch_size, start_batch, n_batches) of an epoch of n_ex examples, n_batches
    clipped to the batches left (None: all of them)."""
    batch_size = check_positive_int("batch_size", batch_size)
    total = -(-n_ex // batch_size)
    if isinstance(start_batch, bool) or not isinstance(start_batch, (int, np.integer)) \
            or not 0 <= start_batch <= total:
        raise ValueError(f"start_batch must be an int in 0..{total} (the epoch has {total} "
                         f"mini-batches of {batch_size}), got {start_batch!r}")
    left = total - int(start_batch)
    # a batch larger than the epoch is the whole epoch (as fit's min(batch_size,
    # m)); the kernel takes it as a C ssize_t
    batch_size = min(batch_size, max(n_ex, 1))
    if n_batches is None:
        n_batches = left
    elif isinstance(n_batches, bool) or not isinstance(n_batches, (int, np.integer)) \
            or n_batches < 0:
        raise ValueError(f"n_batches must be an int >= 0 or None, got {n_batches!r}")
    return batch_size, int(start_batch), min(int(n_batches), left)


def check_validation_pair(validation_data):
    """(X_val, Y_val) of a ``validation_data`` argument."""
    if isinstance(validation_data, (str, bytes, Mapping)):
        # two keys or characters unpack as a pair: {"X": X_val, "y": y_val}
        # was refused as "X_val must be 2-D ... got shape ()", naming the key
        raise TypeError("validation_data must be a pair (X_val, Y_val), got "
                        f"{type(validation_data).__name__}"
                        + (f" with keys {_listing(list(map(repr, validation_data)))}: pass "
                           "(X_val, Y_val), its arrays"
                           if isinstance(validation_data, Mapping) else ""))
    try:
        Xv, Yv = validation_data
    except (TypeError, ValueError):
        hint = ""
        if isinstance(validation_data, (tuple, list)) and len(validation_data) == 3:
            hint = ("; validation weights are not supported: call net.evaluate(X_val, "
                    "Y_val, sample_weight=w) in a callback for weighted metrics")
        size = (f" of {len(validation_data)}" if isinstance(validation_data, (tuple, list))
                else "")
        raise TypeError("validation_data must be a pair (X_val, Y_val), got "
                        f"{type(validation_data).__name__}{size}" + hint) from None
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
_LABEL_CODES = {**LABEL_DTYPES, np.dtype(np.bool_): LABEL_DTYPES[np.dtype(np.uint8)]}


def threads(n_threads):
    """The kernels' thread count for ``n_threads`` (None: OpenMP's maximum,
    at most the cores; more than the cores: the cores, with a RuntimeWarning,
    as ``Network(n_threads=...)``; 1 in a fork() child of a process that had
    run fastbp's threads)."""
    return _effective_n_threads(cap_n_threads(n_threads, _cpu_count()))


def float2d(x, name):
    """x as a C- or F-contiguous 2-D float32/float64 array (copied only if strided)."""
    if _plain_inputs(x):
        return x
    refuse_masked(x, name)
    refuse_sparse(x, name)
    a = x if isinstance(x, np.ndarray) else np.asarray(x)
    if a.dtype.char not in "fd":
        raise TypeError(
            f"Unsupported dtype: {name} has dtype {a.dtype}; fastbp kernels take float32 "
            f"or float64 arrays. Cast it first, e.g. {name}.astype(np.float32)")
    if a.ndim != 2:
        raise ValueError(
            f"Invalid shape: {name} must be a 2-D array (features x examples), "
            f"got shape {shape_str(a)}")
    # the shape before any copy: a broadcast view of 2**31 columns is cheap, its copy is not
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(
            f"Invalid shape: {name} has shape {shape_str(a)}; every dimension must be at "
            f"least 1 (m = 0 examples or an empty layer leaves nothing to compute)")
    if a.shape[0] > C_INT_MAX or a.shape[1] > C_INT_MAX:   # BLAS's 32-bit ints
        raise ValueError(
            f"Invalid shape: {name} has shape {shape_str(a)}; BLAS indexes with 32-bit "
            f"integers, so every dimension must be below 2**31. Split the batch.")
    if not (a.flags.aligned and a.dtype.isnative):
        # byte-swapped or misaligned: one copy into native, aligned memory
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("="))
    elif not (a.flags.c_contiguous or a.flags.f_contiguous):
        a = np.ascontiguousarray(a)
    return a


def same_dtype(ref, refname, a, name):
    if a.dtype != ref.dtype:
        raise TypeError(
            f"Mismatched dtypes: {refname} is {ref.dtype} but {name} is {a.dtype}; "
            f"cast them to one dtype, e.g. {name}.astype({refname}.dtype)")


#: the memory limits of a Linux control group (v2, v1): a container's, a job's
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def physical_memory():
    """The memory this process may use in bytes: the machine's physical
    memory, or its control group's limit when lower (a container, a batch
    job); None where the OS does not say."""
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):     # no sysconf (Windows)
        return None
    for path in _CGROUP_LIMITS:
        try:
            with open(path) as f:
                limit = f.read().strip()
        except OSError:
            continue
        if limit.isdigit() and 0 < int(limit) < have:     # "max": none
            have = int(limit)
    return have


def copy_fits_in_memory(nbytes):
    """Whether fit may make a copy of ``nbytes`` of the data to run faster: an
    eighth of :func:`physical_memory` at most (a larger data set is used as
    it is, slower, rather than held twice)."""
    have = physical_memory()
    return have is None or nbytes <= have // 8


def check_buffer_memory(layer_dims, n_params, itemsize, tail):
    """MemoryError when a network's parameter and gradient buffers alone
    (``2 n_params + tail`` values) exceed the machine's physical memory: NumPy
    allocates zeros lazily, so the buffers were granted, and the process was
    killed by the kernel's OOM killer when the initialisation touched them."""
    need = (2 * n_params + tail) * itemsize
    have = physical_memory()
    if have is not None and need > have:
        raise MemoryError(
            f"Network({list(layer_dims)}) has {n_params:,} parameters: its parameter and "
            f"gradient buffers alone need {need / 2**30:.1f} GiB, more than this machine's "
            f"{have / 2**30:.1f} GiB of memory (an optimizer's state needs more still); "
            "use narrower layers, or float32 for float64")


def out_array(o, name, rows, cols, like, inputs, outputs=()):
    """Validate one preallocated output (C-contiguous, writeable, no overlap
    with the (name, array) pairs of ``inputs`` and of the ``outputs``
    validated before it)."""
    if not isinstance(o, np.ndarray):
        raise TypeError(f"Invalid out: {name} must be a numpy.ndarray, got {type(o).__name__}")
    if isinstance(o, np.ma.MaskedArray):
        # the kernel wrote the data and left the mask: a masked-out result
        raise TypeError(f"Invalid out: {name} is a numpy.ma masked array, whose mask the "
                        "kernel would leave as it is; pass a plain array (np.empty) and "
                        "mask the result afterwards if needed")
    if o.dtype.num != like.dtype.num:
        raise TypeError(f"Invalid out: {name} has dtype {o.dtype}, expected {like.dtype} "
                        f"(the inputs' dtype)")
    if not o.dtype.isnative:
        # same type number as the native dtype: the kernels would write native
        # bytes into it, silently wrong values
        raise TypeError(f"Invalid out: {name} has non-native byte order ({o.dtype.str}); "
                        f"pass an array of dtype {o.dtype.newbyteorder('=').name}")
    if o.ndim != 2 or o.shape[0] != rows or o.shape[1] != cols:
        raise ValueError(f"Invalid out: {name} should have shape {(rows, cols)}, "
                         f"got {shape_str(o)}")
    if not o.flags.c_contiguous:
        raise ValueError(f"Invalid out: {name} must be C-contiguous "
                         f"(np.empty({(rows, cols)}, dtype=...)), got a strided or F-ordered array")
    if not o.flags.writeable:
        raise ValueError(f"Invalid out: {name} is read-only; pass a writeable array")
    if not o.flags.aligned:
        raise ValueError(f"Invalid out: {name} is not aligned to its dtype; pass an array "
                         "from np.empty")
    for what, named in (("the input", inputs), ("the output", outputs)):
        for inp_name, inp in named:
            if inp is not None and not _disjoint((o,), (inp,)):
                raise ValueError(f"Invalid out: {name} overlaps {what} {inp_name}; outputs "
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


def real(x, name, non_negative=False):
    """A kernel's scalar argument as a finite float (>= 0 with
    ``non_negative``): TypeError for text and other non-numbers (float("0.1")
    would take a string), ValueError for NaN, inf or a negative L2 strength,
    which would poison every gradient without an error."""
    if isinstance(x, (str, bytes)):
        raise TypeError(f"Invalid {name}: expected a real number, got {x!r}")
    try:
        v = float(x)
    except OverflowError:       # an int beyond float's range (as alpha_value)
        v = math.inf if x > 0 else -math.inf
    except (TypeError, ValueError):
        raise TypeError(f"Invalid {name}: expected a real number, got {x!r}") from None
    if not math.isfinite(v) or (non_negative and v < 0):
        raise ValueError(f"Invalid {name}: expected a finite number"
                         + (" >= 0" if non_negative else "") + f", got {v!r}")
    return v


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
    alpha = zero_d_real(alpha)
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"Invalid alpha: a real number or None, got {type(alpha).__name__} "
                        f"{alpha!r}")
    try:
        a = float(alpha)
    except OverflowError:       # an int beyond float's range
        a = math.inf
    if not math.isfinite(a):
        raise ValueError(f"Invalid alpha: must be finite, got {a}")
    if activation in DEFAULT_ALPHA and not a >= 0:
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
    refuse_masked(Y, "Y")
    refuse_sparse(Y, "Y")
    y = Y if isinstance(Y, np.ndarray) else np.asarray(Y)
    if not (y.flags.aligned and y.dtype.isnative):
        y = np.ascontiguousarray(y, dtype=y.dtype.newbyteorder("="))
    if y.ndim == 1 and al.shape[0] == 1 and y.shape[0] == al.shape[1]:
        y = y.reshape(1, -1)
    if y.ndim != 2 or y.shape[0] != al.shape[0] or y.shape[1] != al.shape[1]:
        hint = ""
        if (al.shape[0] > 1 and y.size == al.shape[1] and y.dtype.kind in "iu"
                and (y.ndim == 1 or y.shape[0] == 1)):
            # class indices, as Network.fit and torch's cross_entropy take them
            hint = (f"; these layer functions take one-hot labels: for class indices "
                    f"y in 0..{al.shape[0] - 1}, pass np.eye({al.shape[0]})[y].T")
        raise ValueError(f"Invalid shapes: Y should have the shape of AL {shape_str(al)}, "
                         f"got Y {shape_str(y)}{hint}")
    yt = _LABEL_CODES.get(y.dtype)
    if yt is None:
        kind = y.dtype.kind
        if y.dtype == np.int8:
            y = y.astype(np.int32)
        elif (kind == "u" and y.dtype.itemsize == 8 and y.size
              and int(y.max()) > np.iinfo(np.int64).max):
            # uint64 beyond int64: the int64 cast wrapped 2**63 to -2**63 (as check_Y)
            y = y.astype(np.float64)
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
    refuse_masked(b, "b")
    refuse_sparse(b, "b")
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
    nt = threads(n_threads)
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
        Ao = out_array(o[1], "A", n, m, a_prev, ins, (("Z", Zo),))
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
        if alpha is not None:
            alpha_value(None, alpha)        # not read, but checked as for any activation
    elif alpha is None and type(activation) is str and activation in _ACT_ALPHA:
        act, al = _ACT_ALPHA[activation]
    else:
        act = act_code(activation, True)
        al = alpha_value(activation, alpha)
    v = a_prev
    vz = None
    if Z_prev is not None and activation not in DERIV_FROM_Z:
        # not read (g' comes from A_prev), but a Z_prev of the wrong shape or
        # dtype is a mistake in the caller's bookkeeping: say so
        zp = float2d(Z_prev, "Z_prev")
        same_dtype(dz, "dZ", zp, "Z_prev")
        if zp.shape != a_prev.shape:
            raise ValueError(f"Invalid shapes: Z_prev should match A_prev {shape_str(a_prev)}, "
                             f"got Z_prev {shape_str(zp)}")
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
    l2 = real(lambd, "lambd", non_negative=True) * sc
    nt = threads(n_threads)
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
        dWo = out_array(o[1], "dW", n, p, dz, ins, (("dZ_prev", dZp),))
        dbo = out_array(o[2], "db", n, 1, dz, ins, (("dZ_prev", dZp), ("dW", dWo)))
    return dz, a_prev, w, v, dZp, dWo, dbo, act, al, sc, l2, nt


def output_delta_args(AL, Y, loss, out, n_threads, domain=True):
    """(AL, Y, label code, Y's strides, dZ, n_threads) for _loss.output_delta.

    ``domain``: check that Y lies in the loss's domain (fastbp.course passes
    False: the course's ``AL - Y`` takes labels of any value)."""
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
    if domain:
        check_targets(y, loss, n, indices_ok=False, dtype=al.dtype)
    _check_range(y, al.dtype, "Y")
    return al, y, yt, yr, yc, D, threads(n_threads)


def loss_args(AL, Y, loss, from_logits=False):
    """(AL or Z, Y, label code, Y's strides, loss code) for _loss.loss /
    _loss.loss_logits; the targets checked against the loss's domain."""
    name = "Z" if from_logits else "AL"
    al = AL if _plain_inputs(AL) else float2d(AL, name)
    code = LOSS_CODES[loss] if type(loss) is str and loss in LOSS_CODES else loss_code(loss)
    check_bool("from_logits", from_logits)
    plain = _plain_labels(Y, al.shape[0], al.shape[1])
    args = (al, Y) + plain if plain is not None else (al,) + labels(Y, al)
    check_targets(args[1], loss, al.shape[0], indices_ok=False, dtype=al.dtype)
    _check_range(args[1], al.dtype, "Y")
    return args + (code,)


def softmax_args(Z, out, n_threads):
    """(Z, A, n_threads) for _loss.softmax."""
    z = Z if _plain_inputs(Z) else float2d(Z, "Z")
    if out is None or _plain_out(out, z):
        A = out
    else:
        A = one_out(out, "A", z.shape[0], z.shape[1], z, ("Z",), (z,))
    return z, A, threads(n_threads)


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


# --- tabular data and options of the command line (fastbp train / predict) ---
#
# The CLI reads a table into column names and 1-D arrays, then calls these.
# Each raises ValueError with the message the user sees after "fastbp: error:";
# the CLI decides the exit status (2: the options, 1: the data).

#: column names taken as the target when --target is not given (case-insensitive)
TARGET_NAMES = ("target", "label", "labels", "y", "class")
#: more distinct whole-number target values than this: class labels or quantities? ask
MAX_INFERRED_CLASSES = 20
#: rows named in a message before "and N more"
_MAX_LISTED = 5


def _listing(items, limit=_MAX_LISTED):
    items = list(items)
    text = ", ".join(str(i) for i in items[:limit])
    if len(items) > limit:
        text += f" and {len(items) - limit} more"
    return text


def _equal(a, b):
    """``a == b`` as a bool; False where that has no truth value (pandas' NA,
    whose ``==`` is NA: ``in`` raised 'boolean value of NA is ambiguous')."""
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _examples(values, limit=3):
    """A few distinct values of an array, for messages: ``'a', 'b', ...``."""
    seen = []
    for v in values:
        if not any(v is s or _equal(v, s) for s in seen):
            seen.append(v)
        if len(seen) > limit:
            break
    shown = ", ".join(repr(v.item() if isinstance(v, np.generic) else v)
                      for v in seen[:limit])
    return shown + (", ..." if len(seen) > limit else "")


def type_of_target(y):
    """scikit-learn's ``type_of_target`` of a 1-D target without missing values.

    ``'binary'`` (at most 2 distinct values), ``'multiclass'`` (more, all
    strings or whole numbers) or ``'continuous'`` (numbers, some not whole).
    Uses :func:`sklearn.utils.multiclass.type_of_target` when scikit-learn is
    importable, else the same rule for 1-D targets written here.
    """
    y = np.asarray(y)
    try:
        from sklearn.utils.multiclass import type_of_target as sk_type_of_target
    except ImportError:
        sk_type_of_target = None
    if sk_type_of_target is not None:
        with np.errstate(invalid="ignore"):     # its int cast of values beyond int64
            return sk_type_of_target(y)
    if y.dtype.kind == "f" and np.any(y != np.round(y)):
        return "continuous"
    n_unique = len(np.unique(y.astype(str) if y.dtype.kind == "O" else y))
    return "binary" if n_unique <= 2 else "multiclass"


def infer_task(y, name, task=None, decimal=".", thousands=None):
    """``'classification'`` or ``'regression'`` for the target column ``name``.

    Inferred as scikit-learn's :func:`type_of_target` does (binary and
    multiclass: classification; continuous: regression), except that more
    than :data:`MAX_INFERRED_CLASSES` distinct whole numbers are ambiguous
    (151.0, 75.0, ... may be a quantity): then ``--task`` must say which.
    ``task`` (``--task``) is checked against the values instead. Text that
    reads as numbers written with a decimal comma or thousands separators
    (``decimal`` / ``thousands``: the options the file was read with) is
    neither: the error says which option reads it.
    """
    numeric = y.dtype.kind in "biuf"
    if not numeric and task != "classification" and decimal == "." and not thousands:
        # numbers written with a decimal comma or thousands separators read as
        # text: taken for class labels (or refused as a regression target)
        # the cells that do not read as numbers: 617.49 beside 2,803.20 has no comma
        text = not_numbers(y)
        hint = _text_number_hint(text if text.size else y, 0 < text.size < y.size,
                                 decimal, thousands)
        if hint:
            raise ValueError(f"target {name!r} holds numbers written as text "
                             f"({_examples(y)}){hint} (or --task classification if they "
                             "are class labels)")
    kind = type_of_target(y)
    if task == "regression":
        if not numeric:
            if all(any(c.isdigit() for c in str(v)) for v in y[:50]):
                # '$5,139.88', '12 kg': the classification that the target was first
                # taken for sent here, and 'use --task classification' back there
                raise ValueError(f"--task regression needs a numeric target, but column "
                                 f"{name!r} holds text ({_examples(y)}): write plain numbers "
                                 "there (no currency signs or units), "
                                 "or use --task classification if they are class labels")
            raise ValueError(f"--task regression needs a numeric target, but column {name!r} "
                             f"holds text ({_examples(y)}); use --task classification")
        return task
    if task == "classification":
        if kind == "continuous":
            raise ValueError(f"--task classification needs class labels, but column {name!r} "
                             f"holds fractional numbers ({_examples(y)}); use --task "
                             "regression")
        return task
    if task is not None:
        raise ValueError(f"--task must be 'classification' or 'regression', got {task!r}")
    if kind == "continuous":
        return "regression"
    if kind in ("binary", "multiclass"):
        n = len(np.unique(y)) if numeric else len(set(y.tolist()))
        if numeric and n > MAX_INFERRED_CLASSES:
            raise ValueError(f"target {name!r} holds {n} distinct whole numbers "
                             f"({_examples(y)}): class labels or a quantity? Pass --task "
                             "regression or --task classification")
        return "classification"
    raise ValueError(f"target {name!r} is {kind!r} (scikit-learn's type_of_target); fastbp "
                     "trains on one column of class labels or of numbers")


def check_classes(classes, name):
    """The sorted distinct labels of a classification target: at least two."""
    if len(classes) < 2:
        raise ValueError(f"target {name!r} holds a single class ({_examples(classes)}): "
                         "nothing to learn")
    return classes


def check_has_rows(source, m):
    """Raise if the table read from ``source`` has no data rows."""
    if m == 0:
        raise ValueError(f"{source!r} has no data rows (a header only?)")
    return m


def _meant(spec, names):
    """Columns ``spec`` may have meant: the same but for case, else close
    spellings (difflib's ratio >= 0.75), at most three."""
    text = [n for n in names if isinstance(n, str)]
    same = [n for n in text if n.casefold() == str(spec).casefold()]
    return same or difflib.get_close_matches(str(spec), text, n=3, cutoff=0.75)


def find_column(names, spec, option):
    """Position in ``names`` of the column ``spec`` (a name, else a position; -1 = last)."""
    if spec in names:
        return names.index(spec)
    try:
        pos = int(spec)
    except ValueError:
        close = _meant(spec, names)
        hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
        raise ValueError(f"{option} {spec!r}: no such column{hint}; the columns are "
                         f"{_listing(map(repr, names), 12)}{_one_column_hint(names)}") from None
    if not -len(names) <= pos < len(names):
        raise ValueError(f"{option} {spec}: the table has {len(names)} columns "
                         f"(positions 0..{len(names) - 1}, or -1 for the last)")
    return pos % len(names)


def _one_column_hint(names):
    """For a table read as one column whose name holds another separator (a
    ';' file read with --sep ,): the --sep that splits it, else ''."""
    if len(names) != 1:
        return ""
    for sep, shown, arg in ((";", "';'", "';'"), ("\t", "tab", "'\\t'"),
                            ("|", "'|'", "'|'"), (",", "','", "','")):
        if sep in str(names[0]):
            return (f" (one column: the file looks separated by {shown}; pass --sep {arg}, "
                    "or leave --sep out to have it detected)")
    return ""


def find_target(names, spec, index=None, row_labels=()):
    """Position of the target column: ``--target`` if given, else a column named like one.

    ``index``: the name of a column read as the row index (not in ``names``), for
    the message. ``row_labels``: the values of the table's first column (and
    of its index column, if one was set aside), each a sequence: a ``--target``
    that is no column but one of those values, in a table with more columns
    than rows, means the file is transposed, and the message says so.
    """
    if spec is not None:
        if spec not in names:
            for labels in row_labels:
                if len(names) > len(labels) and str(spec) in {str(v) for v in labels}:
                    raise ValueError(
                        f"--target {spec!r}: no such column, but {spec!r} labels a row: "
                        f"the file looks transposed ({len(labels)} rows of {len(names)} "
                        "columns, one example per column?). fastbp reads one example per "
                        "row: transpose it first (pandas: df.T.to_csv(...))")
        return find_column(names, spec, "--target")
    found = [i for i, n in enumerate(names) if str(n).strip().lower() in TARGET_NAMES]
    if len(found) == 1:
        return found[0]
    listed = _listing(map(repr, names), 12)
    if index is not None:
        listed += f", and {index!r} read as the row index (--index-col none keeps it)"
    if not found:
        raise ValueError("which column is the target? Name it with --target NAME or "
                         f"--target POSITION (no column is called {'/'.join(TARGET_NAMES)}); "
                         f"the columns are {listed}{_one_column_hint(names)}")
    candidates = _listing(repr(names[i]) for i in found)
    raise ValueError(f"several columns could be the target ({candidates}): choose one with "
                     "--target")


def check_no_missing(names, missing, where, *, dropna_hint=True, predict=False,
                     target=None):
    """Raise, naming rows and columns, if ``missing`` (m, n) has a True.

    ``where`` labels the rows for the message (``'line 7'``: where they are in the file).
    ``dropna_hint``: the command takes ``--dropna`` (``predict``: fastbp predict's,
    which leaves those rows' predictions empty). ``target``: the name of the
    target column among ``names``, which ``--drop`` cannot take.
    """
    rows = np.flatnonzero(missing.any(axis=1))
    if rows.size == 0:
        return
    cols = [names[j] for j in np.flatnonzero(missing.any(axis=0))]
    where = _listing(where[i] for i in rows)
    features = [c for c in cols if c != target]
    if predict:
        hint = ("fill them in, or pass --dropna (those rows then get no prediction: an "
                "empty cell)")
    elif not dropna_hint:
        hint = "fill them in first"
    elif not features:
        hint = "fill them in, or drop those rows with --dropna"
    elif len(features) < len(cols):     # the target too, which --drop cannot take
        hint = (f"fill them in, drop feature column{'s' if len(features) > 1 else ''} "
                f"{_listing(map(repr, features))} with --drop, or drop those rows with "
                "--dropna")
    else:
        hint = ("fill them in, drop those columns with --drop, or drop those rows with "
                "--dropna")
    raise ValueError(f"missing values (NA, empty or NaN) in {rows.size} row"
                     f"{'s' if rows.size > 1 else ''} ({where}) of column"
                     f"{'s' if len(cols) > 1 else ''} {_listing(map(repr, cols))}: {hint}")


def predict_dropna_note(where, m):
    """fastbp predict --dropna's note on the rows (labelled by ``where``) left without
    a prediction."""
    return (f"--dropna: {len(where)} of {m} rows {'has' if len(where) == 1 else 'have'} "
            "missing feature values "
            f"({_listing(where)}): no prediction for them (an empty cell), so the output "
            "still lines up with the input row for row")


def predict_unlabelled_note(target, n_missing, m, infinite=()):
    """fastbp predict's note when ``n_missing`` of the ``m`` predicted rows have no
    value in the ``target`` column: the score is over the others (or skipped).
    ``infinite``: the labels ('line 7') of those rows whose value is inf (a
    regression's), left out of the score as missing ones are."""
    rows = (f"{n_missing} of {m} rows {'has' if n_missing == 1 else 'have'} no "
            f"{'finite ' if len(infinite) else ''}{target!r} value")
    if len(infinite):
        rows += f" ({len(infinite)} infinite: {_listing(infinite)})"
    if n_missing == m:
        return f"{rows}: no score (it needs true values)"
    return f"{rows}: scored on the other {m - n_missing} rows (their predictions are written)"


def row_number_note(name, first, last):
    """fastbp train's note on a feature column that counts the rows (``first..last``)."""
    return (f"feature {name!r} counts the rows ({first}..{last}): an id? "
            f"--drop {shlex.quote(str(name))} if it is not a feature")


def looks_like_id_name(name):
    """Whether a column name reads as an identifier: ``id`` (any case), ending in
    ``_id`` or `` id``, or holding ``patient``, ``customer`` or ``uuid``."""
    name = str(name).strip().lower()
    return (name == "id" or name.endswith(("_id", " id"))
            or any(word in name for word in ("patient", "customer", "uuid")))


def id_column_note(name):
    """fastbp train's note on a feature named like an identifier that holds a
    different whole number in every row (it stays a feature)."""
    return (f"feature {name!r} is named like an identifier and holds a different whole "
            f"number in every row: --drop {shlex.quote(str(name))} if it is not a feature "
            "(kept as one)")


def not_numbers(col):
    """The values of an object column that do not read as numbers (in order)."""
    out = []
    for v in col:
        try:
            float(v)
        except (TypeError, ValueError):
            out.append(v)
    return np.asarray(out, dtype=object)


_THOUSANDS_NUMBER = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d*)?")
_DECIMAL_COMMA_NUMBER = re.compile(r"-?\d*,\d+")
_DOT_THOUSANDS_COMMA_DECIMAL = re.compile(r"-?\d{1,3}(\.\d{3})+(,\d*)?")
_SPACE_THOUSANDS_NUMBER = re.compile(r"-?\d{1,3}([ \u00a0\u202f])\d{3}(\1\d{3})*([.,]\d*)?")
#: the spaces between thousands, as --thousands takes them (bash/zsh quoting
#: for the invisible ones: French Excel writes a no-break space)
_SPACE_OPTION = {" ": ("' '", "' '"),
                 "\u00a0": ("a no-break space (U+00A0)", "$'\\u00a0'"),
                 "\u202f": ("a narrow no-break space (U+202F)", "$'\\u202f'")}


def _comma_hint(sample, stray):
    """What the commas in a text column's values most likely are, as a hint
    (or ""): thousands separators (51,494.5), a decimal comma (3,25), either
    (51,494: 51494 or 51.494 -- both are said), or a decimal comma with '.'
    thousands (51.494,5)."""
    if not sample:
        return ""
    if all(_THOUSANDS_NUMBER.fullmatch(v) for v in sample):
        if stray:       # the other cells read as numbers: ',' is no decimal point
            return "; ',' separates thousands in those cells: pass --thousands ,"
        if any("." in v or v.count(",") > 1 for v in sample):
            return "; ',' separates thousands there: pass --thousands ,"
        return ("; pass --thousands , if ',' separates thousands there (51,494 = 51494), "
                "or --decimal , if it is the decimal point (51,494 = 51.494)")
    if all(_DECIMAL_COMMA_NUMBER.fullmatch(v) for v in sample):
        return ("; those cells use a decimal comma where the others use a point: fix them"
                if stray else "; the numbers use a decimal comma: pass --decimal ,")
    if all(_DOT_THOUSANDS_COMMA_DECIMAL.fullmatch(v) or _DECIMAL_COMMA_NUMBER.fullmatch(v)
           for v in sample):
        return ("; the numbers use a decimal comma and '.' between thousands: pass "
                "--decimal , --thousands .")
    return ""


def _text_number_hint(values, stray, decimal, thousands):
    """The hint for text ``values`` (a column's first 50 non-numbers, all
    strings) that read as numbers under other --decimal / --thousands
    options, or "" (``stray``: the column's other cells are numbers)."""
    sample = [v.strip() for v in values[:50] if isinstance(v, str)]
    if thousands or len(sample) != min(len(values), 50):
        return ""
    found = [_SPACE_THOUSANDS_NUMBER.fullmatch(v) for v in sample]
    if found and all(found) and len({f.group(1) for f in found}) == 1:
        # 1 234,5 (French, Swiss, ...): the error said only to drop the column
        comma = decimal != "," and any("," in v for v in sample)
        what, option = _SPACE_OPTION[found[0].group(1)]
        return (f"; {what} separates thousands there: pass --thousands {option}"
                f"{' --decimal ,' if comma else ''}")
    if decimal == ".":
        return _comma_hint(sample, stray)
    if decimal == "," and all(_DOT_THOUSANDS_COMMA_DECIMAL.fullmatch(v) for v in sample):
        return "; '.' separates thousands there: pass --thousands . too"
    return ""


def check_numeric_features(names, columns, decimal=".", thousands=None, *, model=False):
    """Raise if a feature column holds text, quoting the values that are not
    numbers and saying how to drop the column (shell-quoted), or how to read
    numbers written with a decimal comma or thousands separators.

    ``model``: the columns are a saved model's features (``fastbp predict``,
    train's ``--test-data``), which cannot be dropped: the message says the
    model was trained on them as numbers, so the file must hold numbers there.
    """
    bad = [(n, c) for n, c in zip(names, columns) if c.dtype.kind not in "biuf"]
    if not bad:
        return
    name, col = bad[0]
    text = not_numbers(col)
    stray = 0 < text.size < col.size          # mostly numbers, a few cells not
    shown = text if text.size else col
    hint = _text_number_hint(shown, stray, decimal, thousands)
    marks = sorted({str(v).strip() for v in text.tolist()})
    if stray and not hint and all(m and not any(c.isalnum() for c in m) for m in marks):
        # '?' is how UCI's data sets write a missing value
        hint = (f"; if {' and '.join(map(repr, marks[:3]))} "
                f"{'marks' if len(marks) == 1 else 'mark'} missing values, leave those cells "
                f"empty (--dropna then {'gives' if model else 'drops'} their rows"
                f"{' no prediction' if model else ''})")
    what = (f"{text.size} value{'s' if text.size > 1 else ''} that {'are' if text.size > 1 else 'is'}"
            f" not a number ({_examples(shown)}, of {col.size})" if stray
            else f"text ({_examples(shown)})")
    others = f" (and {_listing(repr(n) for n, _ in bad[1:])})" if len(bad) > 1 else ""
    if name == names[0] and len(set(col.tolist())) == col.size and not stray:
        # distinct text in the first column: most likely row labels
        hint += ("; if it holds row labels (pandas' to_csv writes the index first), "
                 "pass --index-col 0")
    if model:
        raise ValueError(f"feature column {name!r}{others} holds {what}: the model was "
                         f"trained on {'them' if len(bad) > 1 else 'it'} as numbers, so the "
                         "file must hold numbers there (strip units, e.g. '5.8cm' -> 5.8)"
                         f"{hint}")
    raise ValueError(f"feature column {name!r}{others} holds {what}: fastbp needs numbers. "
                     f"Drop {'them' if len(bad) > 1 else 'it'} with --drop "
                     f"{' '.join(shlex.quote(str(n)) for n, _ in bad[:_MAX_LISTED])} or "
                     f"encode {'them' if len(bad) > 1 else 'it'} as numbers first{hint}")


def check_finite_features(names, X, where):
    """Raise, naming rows (labelled by ``where``) and columns, if the (m, n) X holds inf."""
    bad = ~np.isfinite(X)
    rows = np.flatnonzero(bad.any(axis=1))
    if rows.size:
        cols = [names[j] for j in np.flatnonzero(bad.any(axis=0))]
        raise ValueError(f"infinite values in {rows.size} row(s) "
                         f"({_listing(where[i] for i in rows)}) of column(s) "
                         f"{_listing(map(repr, cols))}: replace them with finite numbers "
                         "or remove those rows (--dropna drops rows with missing values, "
                         "not infinite ones)")


def check_finite_target(name, y, where, source=""):
    """Raise, naming rows (labelled by ``where``), if the numeric target ``y`` (m,)
    holds inf (scikit-learn's type_of_target said only "Input contains infinity");
    ``source``: a prefix naming the file (``--test-data 'x.csv': ``)."""
    if y.dtype.kind != "f":
        return
    rows = np.flatnonzero(~np.isfinite(y))
    if rows.size:
        raise ValueError(f"{source}infinite values in {rows.size} row(s) "
                         f"({_listing(where[i] for i in rows)}) of the target column {name!r}: "
                         "replace them with finite numbers or remove those rows (--dropna "
                         "drops rows with missing values, not infinite ones)")


def check_test_size(text):
    """``--test-size``: a fraction in [0, 1) or a count >= 1 (scikit-learn's ``test_size``)."""
    try:
        value = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or not 0.0 <= value < 1.0:
            raise ValueError("--test-size must be a fraction in [0, 1) such as 0.2, or a "
                             f"number of examples; got {text!r}") from None
        return value
    if value < 0:
        raise ValueError(f"--test-size must be >= 0, got {value}")
    return value


def check_split(n_test, m):
    """The number of held-out examples: at least one left on each side."""
    if n_test and m < 2:
        raise ValueError(f"--test-size holds out {n_test} of {m} example{'s' * (m != 1)}: "
                         "too few to hold any out (a held-out set needs 2 examples or more); "
                         "use --test-size 0")
    if n_test and not 1 <= n_test <= m - 1:
        raise ValueError(f"--test-size holds out {n_test} of {m} examples, leaving "
                         f"{max(m - n_test, 0)} for training: choose a smaller --test-size "
                         f"(at most {m - 1} example{'s' * (m != 2)}), or 0 for no held-out "
                         "set")
    return n_test


def check_stratifiable(classes, counts):
    """Raise if a class has fewer than 2 examples (it cannot be on both sides of a split)."""
    few = [c for c, k in zip(classes, counts) if k < 2]
    if few:
        raise ValueError(f"class{'es' if len(few) > 1 else ''} {_listing(map(repr, few))} "
                         "ha" + ("ve" if len(few) > 1 else "s") + " a single example: a "
                         "stratified held-out set needs 2; use --test-size 0 (no held-out "
                         "set) or drop those rows. If the target is a quantity rather than "
                         "class labels, pass --task regression (or --output exp for counts)")


def check_stratified_split(n_test, m, n_classes):
    """Raise unless a stratified split can hold out exactly ``n_test`` of ``m``
    examples: each of the ``n_classes`` classes keeps one for training."""
    if n_test > m - n_classes:
        raise ValueError(f"--test-size holds out {n_test} of {m} examples, but a stratified "
                         f"split keeps at least one example of each of the {n_classes} "
                         f"classes for training: choose a smaller --test-size (at most "
                         f"{m - n_classes} examples), or 0 for no held-out set")
    return n_test


def check_threads_option(value):
    """``--threads``: a non-zero int (negative counts back from the cores, -1 = all)."""
    if value == 0:
        raise ValueError("--threads 0: give a number of threads >= 1, or -1 for all cores "
                         "(-2: all but one); leave it out for all cores")
    return value


def check_output_path(option, path, *, suffixes=None):
    """Raise unless a file can be written at ``path`` (checked before training starts)."""
    path = os.fspath(path)
    if suffixes is not None and os.path.splitext(path)[1].lower() not in suffixes:
        raise ValueError(f"{option} {path!r}: the file name must end in one of "
                         f"{', '.join(suffixes)}")
    if os.path.isdir(path):
        raise ValueError(f"{option} {path!r} is a directory; give a file name")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        blocker = file_in_the_way(directory)
        if blocker is not None:
            raise ValueError(f"{option} {path!r}: {blocker!r} is a file, not a directory")
        raise ValueError(f"{option} {path!r}: directory {os.path.dirname(path)!r} does not "
                         "exist; create it first")
    too_long = name_too_long(path)
    if too_long:
        raise ValueError(f"{option} {path!r}: {too_long}")
    try:
        # a file made and removed at once: what writing there meets (no
        # permission, a read-only file system, a full disk), which
        # os.access reported as "no permission" for all of them
        fd, probe = tempfile.mkstemp(prefix=".fastbp-probe-", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"{option} {path!r}: cannot write there ({_os_reason(exc)})") from None
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise ValueError(f"{option} {path!r}: the file exists and is not writable "
                         "(no permission to replace it)")
    return path


def _os_reason(exc):
    """An OSError's reason in words, with a hint where the usual fix differs."""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{reason}: no permission to write in that directory"
    if exc.errno == errno.EROFS:
        return f"{reason}: choose a directory on a writable file system"
    return reason


def name_too_long(path):
    """Why ``path``'s file name is too long for its file system, or None.

    Found before training: the file itself is first written after it (a
    255-byte limit on most file systems; temporary files beside it have
    short names of their own, so they do not find it).
    """
    directory = os.path.dirname(os.path.abspath(path)) or "."
    try:
        limit = os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        limit = 255
    n = len(os.fsencode(os.path.basename(path)))
    if 0 < limit < n:
        return (f"the file name is {n} bytes long, more than the {limit} this file system "
                "allows: choose a shorter name")
    return None


def check_not_an_input(option, path, inputs):
    """Raise unless ``path`` (an output option's file) is none of the ``inputs``.

    ``inputs`` maps an option (``"--data"``) to its path or None. The same file
    under another name (a link, ``./``, another case on a case-insensitive file
    system) counts: ``fastbp predict --data x.csv --out x.csv`` would replace
    the data with its predictions.
    """
    if not os.path.exists(path):
        return
    for other_option, other in inputs.items():
        if other is None or other == "-" or not os.path.exists(other):
            continue
        if os.path.samefile(path, other):
            raise ValueError(f"{option} {path!r} is the {other_option} file: writing there "
                             f"would replace it; give {option} another file name")


#: keys of the ``preprocessing`` document that ``fastbp train --save`` writes
PREPROCESSING_KEYS = ("task", "target", "features", "mean", "scale", "classes")


def model_path(path):
    """(path, note) of ``--model``: a missing ``NAME`` reads ``NAME.npz`` when that
    exists (``fastbp train --save NAME`` writes ``NAME.npz``: NumPy adds the suffix),
    with a note saying so; else (``path``, None)."""
    path = os.fspath(path)
    if not os.path.exists(path) and not path.lower().endswith(".npz") \
            and os.path.isfile(path + ".npz"):
        return path + ".npz", (f"--model {shlex.quote(path)}: no such file; read "
                               f"{shlex.quote(path + '.npz')} (fastbp train --save adds "
                               ".npz)")
    return path, None


def check_model_file(path):
    """Raise unless ``path`` is an ``.npz`` (zip) file, as ``fastbp train --save`` writes."""
    trouble = npz_trouble(path)
    if trouble in ("empty", "cut"):
        what = "empty" if trouble == "empty" else "a truncated .npz (its end is missing)"
        raise ValueError(f"--model {os.fspath(path)!r} is {what}: a copy or a save was cut "
                         "off; save the model again with fastbp train --save")
    if trouble is not None:
        raise ValueError(f"--model {os.fspath(path)!r} is not a model file: give the .npz "
                         "that fastbp train --save wrote")
    return path


def _finite_numbers(v):
    return isinstance(v, list) and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)


def check_preprocessing(prep, path, layer_dims=None):
    """The ``preprocessing`` entry of a model file written by ``fastbp train --save``,
    checked entry by entry (a hand-edited or damaged file is named here, not by
    an IndexError inside predict); with ``layer_dims``, against the network too."""
    if not isinstance(prep, dict) or any(k not in prep for k in PREPROCESSING_KEYS):
        raise ValueError(f"{path!r} holds a network but not the preprocessing that "
                         "fastbp predict needs (feature names, scaling, classes): save it "
                         "with fastbp train --save")

    def bad(why):
        return ValueError(f"{path!r}: corrupted preprocessing ({why}); save the model "
                          "again with fastbp train --save")

    features, task = prep["features"], prep["task"]
    if task not in ("classification", "regression"):
        raise bad(f"task {task!r} is neither 'classification' nor 'regression'")
    if not isinstance(prep["target"], (str, int)) or isinstance(prep["target"], bool):
        raise bad(f"target {prep['target']!r} is not a column name")
    if not isinstance(features, list) or not all(isinstance(f, (str, int)) for f in features):
        raise bad("features is not a list of column names")
    if len(set(map(str, features))) != len(features):
        raise bad("features names a column twice")
    n = len(features)
    for key in ("mean", "scale"):
        if not _finite_numbers(prep[key]):
            raise bad(f"{key} is not a list of finite numbers")
    if len(prep["mean"]) != n or len(prep["scale"]) != n:
        raise bad(f"{n} features, {len(prep['mean'])} means, {len(prep['scale'])} scales")
    if any(x <= 0 for x in prep["scale"]):
        raise bad("a scale is not > 0")
    layout = prep.get("layout")       # absent in models saved before it was recorded
    if layout is not None and layout not in ("header", "no header", "npz"):
        raise bad(f"layout {layout!r} is none of 'header', 'no header', 'npz'")
    if layout in ("no header", "npz") and not (
            isinstance(prep.get("columns"), int) and not isinstance(prep["columns"], bool)
            and prep["columns"] >= n + (layout == "no header")):
        raise bad(f"columns {prep.get('columns')!r} is not the number of columns of a file "
                  f"of {n} features")
    if "rows" in prep and not isinstance(prep["rows"], bool):
        raise bad(f"rows {prep['rows']!r} is not true or false")
    if task == "regression":
        if not _finite_numbers([prep.get("y_mean"), prep.get("y_scale")]) \
                or prep["y_scale"] <= 0:
            raise bad("the target's y_mean / y_scale are missing or not numbers (> 0)")
    elif not isinstance(prep["classes"], list) or len(prep["classes"]) < 2 \
            or len(set(map(str, prep["classes"]))) != len(prep["classes"]):
        raise bad("classes is not a list of two or more distinct labels")
    if layer_dims is not None:
        n_out = layer_dims[-1]
        if layer_dims[0] != n:
            raise bad(f"{n} features for a network of {layer_dims[0]} inputs")
        if task == "classification" and len(prep["classes"]) != n_out \
                and not (n_out == 1 and len(prep["classes"]) == 2):
            raise bad(f"{len(prep['classes'])} classes for a network of {n_out} outputs")
    return prep


def is_pandas_placeholder(name):
    """Whether ``name`` is pandas' stand-in for an empty header ("Unnamed: 0", ...)."""
    return isinstance(name, str) and name.startswith("Unnamed: ") and name[9:].isdigit()


def find_features(names, features, target, ignore=()):
    """Positions in ``names`` of the model's ``features``, in the model's order.

    A mismatch names each column once: the features missing from the data, and
    the data's columns that are neither a feature, the target nor in ``ignore``
    (columns the user asked to carry through), nor pandas' unnamed columns
    ('Unnamed: 0': an index written by to_csv, never a renamed feature).
    """
    missing = [f for f in features if f not in names]
    if missing:
        extra = [n for n in names if n not in features and n != target and n not in ignore
                 and not is_pandas_placeholder(n)]
        unexpected = f"; unexpected {_listing(map(repr, extra))}" if extra else ""
        raise ValueError(f"feature columns do not match the model: missing "
                         f"{_listing(map(repr, missing))}{unexpected} (the model was trained "
                         f"on {len(features)} features, matched by name)"
                         f"{_one_column_hint(names) if len(features) > 1 else ''}")
    return [names.index(f) for f in features]


#: compression suffixes that pandas' read_csv undoes by itself (``compression='infer'``)
COMPRESSIONS = (".gz", ".bz2", ".zip", ".xz")


def file_suffix(path, compressible=()):
    """(suffix, compression) of a file name, both lower case: ``('.csv', '.gz')`` for
    ``a.CSV.gz`` when ``.csv`` is in ``compressible``, else ``(last suffix, None)``."""
    stem, suffix = os.path.splitext(os.fspath(path))
    suffix = suffix.lower()
    if suffix in COMPRESSIONS:
        inner = os.path.splitext(stem)[1].lower()
        if inner in compressible:
            return inner, suffix
    return suffix, None


def check_input_file(option, path, suffixes=None, what=None, compressible=(),
                     streams=False):
    """``path`` if it is a file with one of ``suffixes`` (``what`` describes them);
    those in ``compressible`` may be followed by one of :data:`COMPRESSIONS`. With
    ``streams``, a pipe whose name has one of them passes too (the caller reads it
    once: ``mkfifo x.csv``); ``/dev/stdin``, ``<(cmd)`` name no format."""
    if os.path.isdir(path):
        raise ValueError(f"{option} {path!r} is a directory; give the path of a file in it")
    if not os.path.exists(path):
        raise ValueError(f"{option} {path!r}: no such file")
    named = suffixes is None or file_suffix(path, compressible)[0] in suffixes
    if not os.path.isfile(path):
        kind = _special_file_kind(path)
        if streams and kind == "a pipe":
            if named:
                return path
            raise ValueError(f"{option} {path!r} is {kind}, not a file, and its name "
                             "does not say the format: save what it gives to a file named "
                             "like data.csv (or .tsv, .parquet, .npz) and give that file")
        raise ValueError(f"{option} {path!r} is {kind}, not a file: save what it gives "
                         "to a file and give that file")
    if not named:
        raise ValueError(f"{option} must be {what}; got {path!r}")
    return path


def _special_file_kind(path):
    """What a path that exists but is neither a regular file nor a directory is."""
    mode = os.stat(path).st_mode
    for test, kind in ((stat.S_ISFIFO, "a pipe"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return kind
    return "a special file"


#: what a file that is not text starts with, and what to do with it (a gzipped
#: download or an Excel workbook named .csv was told to re-encode from latin1)
_NOT_TEXT = (
    (b"\x1f\x8b", "gzip-compressed, not text: name it .csv.gz (or gunzip it)"),
    (b"BZh", "bzip2-compressed, not text: name it .csv.bz2 (or bunzip2 it)"),
    (b"\xfd7zXZ\x00", "xz-compressed, not text: name it .csv.xz (or unxz it)"),
    (b"PK\x03\x04", "a ZIP archive, not text (an Excel .xlsx workbook is one): save the "
                    "sheet as CSV UTF-8, or name a zip of one table .zip"),
    (b"\xd0\xcf\x11\xe0", "an Excel .xls workbook, not text: save the sheet as CSV UTF-8"),
    (b"PAR1", "a Parquet file, not text: name it .parquet"),
    (b"\xff\xfe", "UTF-16 text, not UTF-8 (Excel's 'Unicode Text'): re-save it as CSV "
                  "UTF-8, or iconv -f utf-16 -t utf-8 OLD.csv > NEW.csv"),
    (b"\xfe\xff", "UTF-16 text, not UTF-8: re-save it as CSV UTF-8, or iconv -f utf-16 "
                  "-t utf-8 OLD.csv > NEW.csv"),
)


def not_utf8_message(path, file=None):
    """A table that does not decode as UTF-8: how to re-save it. ``file``: the
    uncompressed file to look at (``path`` names it in the message), whose
    first bytes may say it is no text at all (compressed, a workbook)."""
    head = b""
    if file is not None:
        try:
            with open(file, "rb") as f:
                head = f.read(8)
        except OSError:
            pass
    for magic, what in _NOT_TEXT:
        if head.startswith(magic):
            return f"{os.fspath(path)!r} is {what}"
    return (f"{os.fspath(path)!r} is not UTF-8 text: re-save it as UTF-8, e.g. "
            "df.to_csv(path, encoding='utf-8') in pandas, or iconv -f latin1 -t utf-8 "
            "OLD.csv > NEW.csv (latin1 if that is its encoding)")


def check_npz_keys(keys, path, y_optional=False):
    """(key of X, key of y) among the arrays of a ``.npz`` data file; ``y_optional``
    (new data for fastbp predict): the key of y may be None."""
    xk = "X" if "X" in keys else ("x" if "x" in keys else None)
    yk = next((k for k in ("y", "Y", "labels") if k in keys), None)
    if y_optional and xk is None:
        raise ValueError(f"{path!r} must hold an array 'X' (and 'y' to score the "
                         f"predictions); it has {sorted(keys)}")
    if xk is None or (yk is None and not y_optional):
        raise ValueError(f"{path!r} must hold arrays 'X' and 'y'; it has {sorted(keys)}")
    return xk, yk


def npz_layout(X, y, path, n_features=None, rows=True):
    """(X in the course layout (n_x, m), y (m,)) of a ``.npz``'s arrays, either layout.

    Raises ValueError for an X that is not 2-D or a y that is not a vector,
    complex numbers in either (a CSV's cells would be text; these are numbers
    fastbp cannot train on, and casting would drop their imaginary parts),
    no examples (the CSV reader's "no data rows"), or X and y of different
    lengths. ``y`` None (new data for a model of ``n_features`` inputs): the
    layout is the one with ``n_features`` features, y stays None. Where both
    layouts fit (a square X), ``rows`` decides: True reads one example per
    row (scikit-learn's layout, a table's), False one per column (the
    course's); :func:`npz_is_ambiguous` tells when that happened.
    """
    if X.ndim != 2:
        raise ValueError(f"X in {path!r} must be 2-D, got shape {X.shape}")
    if y is None:
        if X.dtype.kind == "c":
            raise ValueError(f"X in {path!r} holds complex numbers ({X.dtype}): fastbp "
                             "needs real ones; save X.real, np.abs(X) or both parts as "
                             "separate features instead")
        if X.shape[0] != n_features and X.shape[1] != n_features:
            raise ValueError(f"X {X.shape} in {path!r} has neither {n_features} rows nor "
                             f"{n_features} columns: the model takes {n_features} features "
                             "(an .npz's are matched by position: x0, x1, ...); save X with "
                             f"one row per example and {n_features} columns")
        X = X.T if X.shape[1] == n_features and (rows or X.shape[0] != n_features) else X
        if X.shape[1] == 0:
            raise ValueError(f"{path!r} holds no examples (X {X.shape}): nothing to predict")
        return X, None
    if y.ndim == 2 and y.shape[0] > 1 and y.shape[1] > 1:
        raise ValueError(f"y in {path!r} must be a vector of labels, got shape {y.shape}")
    for key, a in (("X", X), ("y", y)):
        if a.dtype.kind == "c":
            raise ValueError(f"{key} in {path!r} holds complex numbers ({a.dtype}): fastbp "
                             f"needs real ones; save {key}.real, np.abs({key}) or both parts "
                             "as separate features instead")
    y = y.reshape(-1)
    if y.size == 0:
        raise ValueError(f"{path!r} holds no examples (X {X.shape}, y {y.shape}): nothing "
                         "to train on or predict")
    m_rows, m_cols = X.shape
    if m_rows == y.size and (m_cols != y.size or rows):
        return X.T, y        # scikit-learn layout (m, n_x)
    if m_cols == y.size:
        return X, y          # course layout (n_x, m)
    raise ValueError(f"X {X.shape} and y ({y.size},) in {path!r} disagree on the number of "
                     "examples")


def npz_is_ambiguous(shape, n_examples=None, n_features=None):
    """True when a ``.npz``'s X of ``shape`` fits both layouts (:func:`npz_layout`):
    square, with as many rows as ``n_examples`` (its y's length) or as
    ``n_features`` (predict: the model's inputs)."""
    n = n_examples if n_examples is not None else n_features
    return len(shape) == 2 and shape[0] == shape[1] == n


def npz_square_note(path, n, rows):
    """The CLI's note on a square X (n, n) in ``path``, read as ``rows`` says."""
    if rows:
        how, other = "one example per row (scikit-learn's layout)", "each column"
    else:
        how, other = ("one example per column (the course's layout, as the model's "
                      "training X was)"), "each row"
    return (f"X in {path!r} is square ({n} x {n}), so both layouts fit: read as {how}; "
            f"if {other} is an example, save X.T instead")


def check_features_left(source, target, n_features, dropped):
    """Raise if ``--drop`` took the target or no feature column is left."""
    if target in dropped:
        raise ValueError(f"--drop {shlex.quote(str(target))}: that is the target column")
    if n_features == 0:
        raise ValueError(f"{source!r} has no feature column besides the target {target!r}")


def check_rows_left(source, n_left):
    """Raise if ``--dropna`` left no row."""
    if n_left == 0:
        raise ValueError(f"every row of {source!r} has a missing value: nothing left after "
                         "--dropna")


def parse_layers(text, n_out, option="--layers "):
    """``--layers 64,128,10``: the sizes after the input layer, the last one ``n_out``
    (None: not checked, the syntax alone). ``option``: the messages' prefix."""
    items = text.replace(" ", "").split(",")
    for i, item in enumerate(items):
        # digits only: an empty item was skipped (128,,1) and int() reads 1_0 as 10
        if not re.fullmatch(r"[0-9]+", item):
            what = ("empty" if not text.strip() else f"item {i + 1} is empty" if not item
                    else f"{item!r} is not a positive int")
            raise ValueError(f"{option}must be comma-separated ints like 64,128,10; got "
                             f"{text!r} ({what})")
    sizes = [int(s) for s in items]
    if any(s < 1 for s in sizes):
        raise ValueError(f"{option}needs positive sizes, got {text!r}")
    if n_out is None:
        return sizes
    if sizes[-1] != n_out:
        raise ValueError(f"--layers ends with {sizes[-1]} outputs but the labels need {n_out} "
                         f"(e.g. --layers {','.join(map(str, sizes[:-1] + [n_out]))})")
    return sizes


def check_test_options(test_data, test_size):
    """``--test-data`` is the held-out set: no ``--test-size`` beside it."""
    if test_data and test_size not in (None, "0"):
        raise ValueError("--test-data is the held-out set: leave out --test-size")


def check_count_target(y, name):
    """A ``--output exp`` (Poisson) target: numbers >= 0 (counts or rates), as float64."""
    try:
        v = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        text = sorted({str(x) for x in y if not _is_float(x)})
        raise ValueError(f"--output exp (Poisson loss) needs a numeric target, counts or rates "
                         f">= 0; column {name!r} holds text ({_listing(map(repr, text))})"
                         ) from None
    bad = v < 0
    if bad.any():
        raise ValueError(f"--output exp (Poisson loss) needs non-negative counts or rates; "
                         f"column {name!r} has {_found(v[bad], v.size)} below 0: shift or "
                         "transform it, or use --output identity (squared error)")
    return v


def _is_float(x):
    try:
        float(x)
    except (TypeError, ValueError):
        return False
    return True


#: ``fastbp`` run without a command (after the help, on stderr; exit status 2)
CLI_NO_COMMAND = "a command is required: fastbp train, fastbp predict or fastbp info"


#: the command line's options that name a file, by their argparse dest
PATH_OPTIONS = ("data", "test_data", "save", "plot", "model", "out")


def empty_path_option(args):
    """The usage error for an option naming a file given as an empty string
    (``--save "$MODEL"`` with MODEL unset trained and saved nothing), or None."""
    for dest in PATH_OPTIONS:
        if getattr(args, dest, None) == "":
            option = "--" + dest.replace("_", "-")
            return (f"{option} is empty: give a file name (is the shell variable "
                    "it came from unset?)")
    return None


def cli_unrecognized_arguments(extras, data_suffixes=()):
    """argparse's ``unrecognized arguments: ...`` for a command, with a hint when one
    of them is a bare data file name (the data is given with ``--data``; a
    command without ``--data`` passes no ``data_suffixes``, so no hint)."""
    msg = f"unrecognized arguments: {' '.join(extras)}"
    files = [a for a in extras if not a.startswith("-")
             and file_suffix(a, data_suffixes)[0] in data_suffixes]
    if files:
        msg += f" (give the data file as --data {shlex.quote(files[0])})"
    return msg


def prediction_column(target):
    """The name of ``fastbp predict``'s output column for a model of ``target``: one
    name whether printed or written with --out, and whether or not the data holds
    the target (it never collides with the true target column beside it)."""
    return f"predicted_{target}"


def check_kept_names(kept, prediction):
    """``fastbp predict --keep``: the kept columns' output headers, none of them
    the predictions' column (a file written by an earlier ``predict --keep``
    holds one: the output had two columns of one name, and pandas reads the
    second back as ``<name>.1``)."""
    if prediction in kept:
        raise ValueError(
            f"--keep {prediction!r} would give the output two columns named {prediction!r} "
            "(the predictions are written under that name): leave it out of --keep, or "
            "rename it in the file")


def check_cli_output(task, n_classes, requested):
    """(output, n_out): the network's output for the task, ``--output`` checked against it."""
    if requested == "exp":
        if task != "regression":
            raise ValueError("--output exp (Poisson loss) fits non-negative counts or rates, a "
                             "regression; it does not go with --task classification (or the "
                             "built-in classification data): leave --task out, --output exp "
                             "implies regression")
        return "exp", 1
    if task == "regression":
        output = requested or "identity"
        if output != "identity":
            raise ValueError(f"--output {output}: a regression target needs --output identity "
                             "(mean squared error) or --output exp (Poisson loss, for counts)")
        return output, 1
    output = requested or ("sigmoid" if n_classes == 2 else "softmax")
    if output == "sigmoid" and n_classes != 2:
        raise ValueError(f"--output sigmoid needs 2 classes, the labels have {n_classes}; use "
                         "--output softmax")
    if output == "identity":
        raise ValueError("--output identity is for regression: pass --task regression")
    return output, 1 if output == "sigmoid" else n_classes


def check_test_target(path, target, labelled, dropna, where):
    """Raise unless the ``--test-data`` file has the target's values to score.

    ``labelled``: the bool mask of its rows that have a target value (None: no
    such column); ``dropna`` (train's ``--dropna``) leaves the others out;
    ``where(rows)`` labels rows for the message (``'line 7'``).
    """
    if labelled is None:
        raise ValueError(f"--test-data {path!r} has no column {target!r} (the target) to "
                         "score the model on")
    if not labelled.any():
        raise ValueError(f"--test-data {path!r}: its column {target!r} (the target) has no "
                         "values to score the model on")
    if not dropna and not labelled.all():
        bad = np.flatnonzero(~labelled)
        raise ValueError(f"--test-data {path!r}: {bad.size} of {labelled.size} rows have no "
                         f"value of the target {target!r} ({_listing(where(bad))}): fill "
                         "them in, or pass --dropna to score the others")


def test_dropna_note(path, left, m, where):
    """train --dropna's note on the ``--test-data`` rows left out of the scores."""
    return (f"--dropna left {left} of {m} rows of --test-data {os.path.basename(path)} "
            f"out of the test scores (missing values: {_listing(where)})")


# --- the course API (fastbp.course and its assignment modules) ---
#
# The course's functions take dicts of arrays and tuples of caches; these
# checks name the key, the layer and the shapes the course expects.

def course_iterations(value, name="num_iterations"):
    """A loop count of the course's model functions: an int >= 0 (``range(value)``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value)


def course_rates(learning_rate, *, beta=None, beta1=None, beta2=None, epsilon=None):
    """A course model's hyper-parameters, checked under the course's names:
    the optimizers the models train with would name them lr, momentum and
    eps, names the learner never typed. ``learning_rate`` and ``epsilon``
    finite and > 0 (0 trains nothing; a negative rate climbs the cost), the
    betas in [0, 1). Those not given (None) are not checked."""
    check_real("learning_rate", learning_rate, low=0.0, low_open=True)
    for name, beta_value in (("beta", beta), ("beta1", beta1), ("beta2", beta2)):
        if beta_value is not None:
            check_real(name, beta_value, low=0.0, high=1.0, high_open=True)
    if epsilon is not None:
        check_real("epsilon", epsilon, low=0.0, low_open=True)


def course_two_layer_dims(layers_dims):
    """(n_x, n_h, n_y) of two_layer_model's ``layers_dims``."""
    dims = check_layer_dims(layers_dims, "layers_dims")
    if len(dims) != 3:
        raise ValueError(f"layers_dims must be (n_x, n_h, n_y) for the two-layer model, "
                         f"got {list(dims)}")
    return dims


def course_scalar(value, name):
    """A scalar hyperparameter (learning rate, beta, epsilon) of the course's
    update rules as a Python number: a NumPy scalar or 0-d array as the
    number it holds, since under NumPy 2's promotion (NEP 50) only Python
    numbers are weak and an ``np.float64`` learning rate would turn float32
    parameters into float64 (issue 12 item 4).

    A TypeError naming ``name`` for anything but a real number: a string
    failed deep in NumPy's ufuncs, and an array of rates was broadcast
    against the parameters (a 2-vector made a (2, 1) bias (2, 2)) without
    a word."""
    if isinstance(value, (np.ndarray, np.generic)):
        if value.ndim == 0 and value.dtype.kind in "iuf":
            return value.item()
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        return value
    what = (f"an array of shape {value.shape}" if isinstance(value, np.ndarray) and value.ndim
            else f"{type(value).__name__} {value!r}")
    raise TypeError(f"{name} must be a real number (a scalar), got {what}")


def course_real(x, name):
    """x if it holds floats; integers and bools as float64 (their NumPy arithmetic
    wraps around: a uint8 0 - 1 is 255); a TypeError naming x otherwise (object or
    complex arrays would fail deep inside NumPy's ufuncs)."""
    refuse_masked(x, name)
    dt = x.dtype if isinstance(x, (np.ndarray, np.generic)) else np.asarray(x).dtype
    if dt.kind == "f":
        return x
    if dt.kind in "biu":
        return np.asarray(x, dtype=np.float64)
    raise TypeError(f"Unsupported dtype: {name} has dtype {dt}; fastbp.course computes "
                    f"in float32 or float64 (cast with .astype(np.float64))")


def course_seed(seed):
    """A seed for ``np.random.seed``: an int in [0, 2**32 - 1]."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    if not 0 <= seed <= 2**32 - 1:
        raise ValueError(f"seed must be between 0 and 2**32 - 1 (np.random.seed), got {seed}")
    return int(seed)


def course_epsilon(epsilon):
    """The finite-difference step of the gradient checks: a finite float > 0
    (0 divides by zero: a NaN difference that reads as neither verdict)."""
    return check_real("epsilon", epsilon, low=0.0, low_open=True)


def course_shape(x):
    return getattr(x, "shape", type(x).__name__)


def course_n_layers(d, what="parameters", prefix="W"):
    """Number of layers L: the keys prefix1 .. prefixL present in d."""
    if not isinstance(d, Mapping):
        raise TypeError(f"Invalid {what}: expected a dict with keys {prefix}1, "
                        f"{'b' if prefix == 'W' else 'db'}1, ..., got {type(d).__name__}")
    L = 0
    while _course_keys(L + 1)[0 if prefix == "W" else 2] in d:
        L += 1
    if L == 0:
        raise KeyError(f"Missing key: {what} has no {prefix + '1'!r} (keys: {list(d)})")
    return L


def course_get(d, key, what):
    if not isinstance(d, Mapping):
        # an array passed where the dict goes (arguments swapped) raised
        # NumPy's IndexError "only integers, slices ... are valid indices"
        raise TypeError(f"Invalid {what}: expected a dict with key {key!r}, got "
                        f"{type(d).__name__}{_swapped_hint(d)}")
    try:
        return d[key]
    except KeyError:
        raise KeyError(f"Missing key: {what} has no {key!r} (keys: {list(d)})") from None


def course_float_dtype(*arrays, names=()):
    """The float dtype NumPy would compute in, restricted to float32/float64.

    ``names``: the arrays' argument names, for the message when one of them
    is not real (complex, object, strings)."""
    dt = np.result_type(*arrays)
    if dt == FLOAT_DTYPES[0] or dt == FLOAT_DTYPES[1]:
        return dt
    if dt.kind in "biu":
        return FLOAT_DTYPES[1]
    if dt.kind == "f" and dt.itemsize < 4:
        return FLOAT_DTYPES[0]
    bad = [f"{n} has dtype {np.result_type(a)}" for n, a in zip(names, arrays)
           if np.result_type(a).kind not in "biuf"]
    what = "; ".join(bad) if bad else f"the arrays' common dtype is {dt}"
    raise TypeError(f"Unsupported dtype: {what}; fastbp.course computes in float32 or "
                    f"float64 (cast with .astype(np.float64))")


def course_2d(x, name):
    refuse_masked(x, name)
    a = x if type(x) is np.ndarray else np.asarray(x)
    if a.ndim != 2:
        raise ValueError(f"Invalid shape: {name} must be a 2-D array (rows x examples), "
                         f"got shape {a.shape}")
    return a


def course_bias(b, W, l, names=None):
    """Refuse a 1-D bias of more than one entry: the course's biases are
    (n_l, 1) columns, and NumPy's ``np.dot(W, A) + b`` broadcasts an (n_l,)
    b along the examples instead (b[j] added to example j when n_l == m, a
    broadcast error otherwise), so taking it as a column would hide the
    learner's mistake and give other numbers than the course's code."""
    shape = np.shape(b)
    if len(shape) != 1 or shape[0] <= 1:
        return
    bn = names[2] if names else _course_keys(l)[1]
    n = np.shape(W)[0] if np.ndim(W) == 2 else shape[0]
    raise ValueError(f"Invalid shapes: {bn} has shape {shape}, but the course's biases are "
                     f"columns of shape ({n}, 1), e.g. np.zeros(({n}, 1)); NumPy's "
                     f"np.dot(W, A) + {bn} would add {bn}[j] to example j (or fail to "
                     f"broadcast). Use {bn}.reshape(-1, 1)")


def course_coerce_forward(A_prev, W, b, l, prev_name, exc, names=None):
    """Explain why the kernel rejected layer l's inputs, or promote their dtypes.

    ``names``: the three arguments' names for the errors (default: the
    layer's, e.g. X, W1, b1; linear_forward passes its own A, W, b)."""
    wn, bn = names[1:] if names else _course_keys(l)[:2]
    # the kernel refused a masked b: no conversion below may drop the mask
    # (course_2d refuses masked A_prev and W)
    refuse_masked(b, bn)
    # lists (np.dot takes them): the kernel's AttributeError was about the type
    converted = any(type(x) is not np.ndarray for x in (A_prev, W, b))
    A_prev = course_2d(A_prev, prev_name)
    W = course_2d(W, wn)
    b = np.asarray(b)
    if A_prev.shape[0] != W.shape[1]:
        dims = "" if names else f" (n_{l}, n_{l - 1})"
        raise ValueError(f"Invalid shapes: {wn} has shape {W.shape}{dims}, so "
                         f"{prev_name} needs {W.shape[1]} rows, got {prev_name} "
                         f"{A_prev.shape}") from None
    course_bias(b, W, l, names)
    if b.shape not in ((W.shape[0], 1), (W.shape[0],)):
        raise ValueError(f"Invalid shapes: {bn} should have shape ({W.shape[0]}, 1) to match "
                         f"{wn} {W.shape}, got {bn} {b.shape}") from None
    if 0 in A_prev.shape or 0 in W.shape:
        raise ValueError(f"Invalid shapes: empty {'array' if names else f'layer {l}'}: "
                         f"{prev_name} {A_prev.shape}, {wn} {W.shape}") from None
    where = f"({prev_name}, {wn}, {bn})" if names else f"layer {l} ({prev_name}, {wn}, {bn})"
    return course_promoted((A_prev, W, b), exc, where, names or (prev_name, wn, bn), converted)


def course_coerce_backward(dZ, A_prev, W, l, exc, names=None):
    """Explain why the kernel rejected layer l's backward inputs, or promote dtypes
    (``names`` as in course_coerce_forward)."""
    if names:
        dn, an, wn = names
        where, n, p = "", "n", "n_prev"
    else:
        dn, an, wn = f"dZ{l}", f"A{l - 1}", _course_keys(l)[0]
        where, n, p = f" in layer {l}", f"n_{l}", f"n_{l - 1}"
    converted = any(type(x) is not np.ndarray for x in (dZ, A_prev, W))
    dZ = course_2d(dZ, dn)
    A_prev = course_2d(A_prev, an)
    W = course_2d(W, wn)
    if dZ.shape[0] != W.shape[0] or A_prev.shape[0] != W.shape[1] or \
            A_prev.shape[1] != dZ.shape[1]:
        raise ValueError(f"Invalid shapes{where}: expected {dn} ({n}, m), {an} ({p}, m), "
                         f"{wn} ({n}, {p}); got {dn} {dZ.shape}, {an} {A_prev.shape}, "
                         f"{wn} {W.shape}") from None
    return course_promoted((dZ, A_prev, W), exc, f"layer {l}" if not names
                           else f"({dn}, {an}, {wn})", (dn, an, wn), converted)


def course_promoted(arrays, exc, where, names=(), converted=False):
    """arrays in their common float dtype; when that changes none of them
    and none was converted to an array (``converted``: some came as lists),
    the kernel's error exc was not about them: re-raise it, saying where."""
    dt = course_float_dtype(*arrays, names=names)
    new = tuple(x.astype(dt, copy=False) for x in arrays)
    if not converted and all(n.dtype == o.dtype for n, o in zip(new, arrays)):
        raise type(exc)(f"{where}: {exc}") from None
    return new


def course_labels(Y, AL, name="Y"):
    """Y with AL's shape, as the course's ``Y.reshape(AL.shape)``."""
    refuse_masked(Y, name)
    y = Y if type(Y) is np.ndarray else np.asarray(Y)
    if y.shape != AL.shape:
        if y.size != AL.size:
            raise ValueError(f"Invalid shapes: {name} has shape {y.shape} but AL has shape "
                             f"{AL.shape}; they need the same number of entries")
        y = y.reshape(AL.shape)
    return y


def course_labels_outside_unit(y):
    """Whether the numeric label array ``y`` holds a value outside [0, 1] (or NaN).

    The course's code takes labels of any value: its cross-entropy and
    ``dZ = AL - Y`` are formulas, and its own public test of C1W4A2's
    ``two_layer_model`` trains on ``Y = np.random.randn(1, 10)``. fastbp's loss
    kernels check the binary cross-entropy's domain [0, 1], so fastbp.course
    computes labels outside it with the course's formulas instead."""
    return (y.dtype.kind in "iuf" and y.size > 0
            and not (y.min() >= 0 and y.max() <= 1))


def course_label_values(Y, dtype):
    """Y for a Network that trains the course's sigmoid output: integer labels as
    values of ``dtype``, as the course's formulas read them (a Network takes
    integers beyond 0/1 in one row for class indices and refuses them for a
    sigmoid output). Other labels are returned as they are."""
    refuse_masked(Y, "Y")
    y = Y if type(Y) is np.ndarray else np.asarray(Y)
    return y.astype(dtype) if y.dtype.kind in "iu" else Y


def course_keep_prob(keep_prob):
    if not 0.0 < keep_prob <= 1.0:
        raise ValueError(f"Invalid keep_prob: must be in (0, 1], got {keep_prob!r}")


def course_unpack_cache(cache, l):
    """(A_prev, W, b, Z, D) of layer l's cache; D is None without dropout.

    ``l`` None: the one cache of linear_activation_backward."""
    try:
        if len(cache) == 2:
            linear_cache, Z = cache
            D = None
        else:
            linear_cache, Z, D = cache
        if isinstance(linear_cache, np.ndarray):
            # the linear cache (A_prev, W, b) alone: A_prev's rows would unpack
            raise ValueError
        A_prev, W, b = linear_cache
    except (TypeError, ValueError):
        n = len(cache) if hasattr(cache, "__len__") else None
        linear = (n == 3 and isinstance(cache, (tuple, list))
                  and isinstance(cache[0], np.ndarray) and isinstance(cache[1], np.ndarray))
        where = ("linear_activation_backward needs the cache ((A_prev, W, b), Z)"
                 if l is None else
                 f"the cache of layer {l} (caches[{l - 1}]) must be ((A_prev, W, b), Z)")
        raise ValueError(
            f"Invalid cache: {where} as linear_activation_forward returns it, or "
            f"((A_prev, W, b), Z, D) with dropout; got {type(cache).__name__}"
            + (f" of length {n}" if n is not None else "")
            + (": that is the linear cache (A_prev, W, b) alone; pass the whole cache, "
               "(linear_cache, Z)" if linear else "")) from None
    return A_prev, W, b, Z, D


def course_fit_inputs(X, Y, parameters, keep_prob):
    """Validated (X, y, Ws, bs, dtype, dims) for the training loops."""
    L = course_n_layers(parameters)
    X = course_2d(X, "X")
    Ws = [course_2d(course_get(parameters, _course_keys(l)[0], "parameters"), _course_keys(l)[0])
          for l in range(1, L + 1)]
    bs = [np.asarray(course_get(parameters, _course_keys(l)[1], "parameters"))
          for l in range(1, L + 1)]
    dt = course_float_dtype(X, *Ws, *bs, names=["X"] + [_course_keys(l)[0] for l in
                                                     range(1, L + 1)]
                            + [_course_keys(l)[1] for l in range(1, L + 1)])
    X = X.astype(dt, copy=False)
    if not (X.flags.c_contiguous or X.flags.f_contiguous):
        X = np.ascontiguousarray(X)
    m = X.shape[1]
    refuse_masked(Y, "Y")
    y = np.asarray(Y)
    rows_hint = (" X looks transposed (examples as rows): pass X.T; the course's X is "
                 "(n_x, m), one example per column.")
    n_x = Ws[0].shape[1]
    if X.shape[0] != n_x:
        raise ValueError(f"Invalid shapes: X has shape {X.shape} but W1 has shape "
                         f"{Ws[0].shape}, which takes X of shape ({n_x}, m)."
                         + (rows_hint if X.shape[1] == n_x else ""))
    column = y.ndim == 2 and y.shape == (m, 1) and m != 1
    if (y.ndim == 1 or column) and y.shape != (Ws[-1].shape[0], m):
        sized = (f" (the output layer has {Ws[-1].shape[0]} units because its size was read "
                 f"from Y.shape[0], as the course's layer_sizes does)"
                 if Ws[-1].shape[0] == y.shape[0] != 1 else "")
        what = "one column (examples as rows)" if column else "a 1-D array"
        raise ValueError(f"Invalid shapes: Y has shape {y.shape}, {what}; the course's "
                         f"labels are (n_y, m), one column per example: pass "
                         f"Y.reshape(1, -1){sized}.")
    if y.shape != (Ws[-1].shape[0], m):
        transposed = y.ndim == 2 and y.shape[1] == X.shape[0] != m
        raise ValueError(f"Invalid shapes: Y should have shape {(Ws[-1].shape[0], m)} "
                         f"(n_y, m) for X {X.shape}, got Y {y.shape}."
                         + (rows_hint if transposed else ""))
    if y.dtype.kind not in "biuf":
        raise TypeError(f"Unsupported dtype: Y has dtype {y.dtype}; labels are 0/1 numbers")
    # any finite labels: the course's formulas (AL - Y, its cross-entropy) take
    # values outside [0, 1] too (course_labels_outside_unit)
    check_finite(y, "Y")
    y = course_label_values(y, dt)
    if keep_prob != 1.0:
        course_keep_prob(keep_prob)
    dims = [X.shape[0]] + [W.shape[0] for W in Ws]
    for l in range(1, L + 1):
        if Ws[l - 1].shape != (dims[l], dims[l - 1]) or bs[l - 1].size != dims[l]:
            raise ValueError(f"Invalid shapes: layer {l}: W{l} {Ws[l - 1].shape}, b{l} "
                             f"{bs[l - 1].shape} for input of {dims[l - 1]} rows")
    return X, y, Ws, bs, dt, dims


def course_theta(theta, dims):
    """Raise unless theta holds the parameters of layer_dims ``dims``."""
    need = sum(dims[l] * (dims[l - 1] + 1) for l in range(1, len(dims)))
    if theta.size != need:
        raise ValueError(f"Invalid shapes: theta has {theta.size} entries but layer_dims "
                         f"{dims} need {need}")


def course_mini_batch_inputs(X, Y, mini_batch_size):
    """(X, Y) for random_mini_batches: X (n_x, m), Y (n_y, m) ((m,) becomes (1, m))."""
    X = course_2d(X, "X")
    refuse_masked(Y, "Y")
    Y = np.asarray(Y)
    if Y.ndim == 1:
        Y = Y.reshape(1, -1)
    m = X.shape[1]
    if Y.ndim != 2 or Y.shape[1] != m:
        raise ValueError(f"Invalid shapes: X has {m} examples (columns) but Y has shape "
                         f"{Y.shape}")
    if isinstance(mini_batch_size, (bool, np.bool_)) \
            or not isinstance(mini_batch_size, numbers.Integral):
        raise TypeError(f"Invalid mini_batch_size: must be an int, got "
                        f"{type(mini_batch_size).__name__} {mini_batch_size!r}")
    if mini_batch_size < 1:
        raise ValueError(f"Invalid mini_batch_size: must be >= 1, got {mini_batch_size!r}")
    return X, Y


#: the activations of the course's layer functions
COURSE_ACTIVATIONS = ("relu", "sigmoid")


def course_activation(activation):
    """``activation`` if it is one of the course's ("relu", "sigmoid")."""
    if activation not in COURSE_ACTIVATIONS:
        raise ValueError(f"Unknown activation {activation!r}; valid: 'relu', 'sigmoid'")
    return activation


def course_grad_shape_error(pk, gk, p, g):
    """The ValueError for grads[gk] whose shape is not parameters[pk]'s."""
    return ValueError(f"Invalid shapes: grads[{gk!r}] has shape {course_shape(g)} but "
                      f"parameters[{pk!r}] has shape {course_shape(p)}")


def course_predict_args(args, kwargs):
    """{name: value} of predict's two signatures, (parameters, X) (week 3) and
    (X, y, parameters) (week 4), told apart by the number of arguments."""
    n = len(args) + len(kwargs)
    if n == 2:
        names = ("parameters", "X")
    elif n == 3:
        names = ("X", "y", "parameters")
    else:
        keywords = (f"keyword arguments {sorted(kwargs)}" if kwargs
                    else "no keyword arguments")
        raise TypeError("predict takes (parameters, X) (week 3) or (X, y, parameters) "
                        f"(week 4); got {len(args)} positional and {keywords}")
    bound = dict(zip(names, args))
    for k, v in kwargs.items():
        if k not in names or k in bound:
            raise TypeError(f"predict{names}: unexpected or repeated argument {k!r}")
        bound[k] = v
    if len(bound) != n:
        raise TypeError(f"predict{names}: missing arguments")
    return bound


def course_linear_cache(cache):
    """(A_prev, W, b) of a linear cache."""
    try:
        A_prev, W, b = cache
    except (TypeError, ValueError):
        got = type(cache).__name__ + (f" of length {len(cache)}"
                                      if hasattr(cache, "__len__") else "")
        raise ValueError("Invalid cache: linear_backward needs the linear cache (A_prev, W, b), "
                         f"got {got}") from None
    return A_prev, W, b


def _swapped_hint(x):
    """For a message on an array where a dict belongs: the arguments swapped?"""
    return (f" of shape {x.shape} (are two arguments swapped?)"
            if isinstance(x, np.ndarray) else "")


def course_caches(caches):
    """The number of layers L of L_model_backward's caches (at least one)."""
    if not isinstance(caches, (list, tuple)):
        raise TypeError("Invalid caches: expected the list of caches L_model_forward "
                        f"returned, got {type(caches).__name__}{_swapped_hint(caches)}")
    L = len(caches)
    if L == 0:
        raise ValueError("Invalid caches: empty; pass the caches L_model_forward returned")
    return L


def course_output_cache(cache, L):
    """(A_prev, W, b, Z) of the output layer's cache, which holds no dropout mask."""
    try:
        (A_prev, W, b), Z = cache
    except (TypeError, ValueError):
        A_prev, W, b, Z, D = course_unpack_cache(cache, L)
        if D is not None:
            raise ValueError(f"Invalid cache: the output layer's cache (caches[{L - 1}]) "
                             f"holds a dropout mask; dropout applies to hidden layers only")
    return A_prev, W, b, Z


def course_dropout_mask(D, dA, l, keep_prob):
    """Raise unless layer l's cache holds a dropout mask D of dA's shape exactly
    when keep_prob < 1 (the forward pass used dropout)."""
    if keep_prob != 1.0:
        if D is None:
            raise ValueError(f"Invalid cache: keep_prob={keep_prob} but the cache of "
                             f"layer {l} holds no dropout mask; pass the keep_prob the "
                             f"forward pass used")
        if np.shape(D) != dA.shape:
            raise ValueError(f"Invalid cache: dropout mask of layer {l} has shape "
                             f"{np.shape(D)}, expected {dA.shape}")
    elif D is not None:
        raise ValueError(f"Invalid cache: the cache of layer {l} holds a dropout mask but "
                         f"keep_prob={keep_prob}; pass the keep_prob L_model_forward used")


def course_z(Z, dA_shape, l):
    """Z of layer l's cache as an array of dA's shape (the caches chain).

    ``l``: the layer number, "L" for the output layer, or None for one layer
    on its own (linear_activation_backward knows no number)."""
    if type(Z) is not np.ndarray:
        refuse_masked(Z, "Z")
        Z = np.asarray(Z)
    if Z.shape != dA_shape:
        if l is None:
            raise ValueError(f"Invalid cache: Z has shape {Z.shape} but dA has shape "
                             f"{dA_shape}; they must match: pass the cache of the layer "
                             "whose dA this is")
        if l == "L":
            raise ValueError(f"Invalid cache: Z of the output layer has shape {Z.shape} but "
                             f"AL has shape {dA_shape}")
        raise ValueError(f"Invalid cache: Z of layer {l} has shape {Z.shape} but dA{l} has "
                         f"shape {dA_shape}; the caches do not chain")
    return Z


def course_gradient_count(n_grad, n_params):
    """Raise unless gradients and parameters hold as many values."""
    if n_grad != n_params:
        raise ValueError(f"Invalid shapes: gradients hold {n_grad} values but "
                         f"parameters hold {n_params}")


def course_cost_inputs(AL, Y):
    """(AL, Y) as 2-D arrays of Y's shape for the cross-entropy cost.

    Y must be 2-D, (n_y, m): the course reads m = Y.shape[1]. AL may have
    any shape with Y's number of entries that broadcasts to Y's shape (the
    course's A2 of shape (m,) against Y of shape (1, m)): it is reshaped to
    Y's shape, which is what the course's broadcasting computes.
    """
    refuse_masked(AL, "AL")
    refuse_masked(Y, "Y")
    al = AL if type(AL) is np.ndarray else np.asarray(AL)
    y = Y if type(Y) is np.ndarray else np.asarray(Y)
    if al.shape == y.shape and y.ndim == 2:
        return al, y
    if y.ndim != 2:
        raise ValueError(f"Invalid shapes: Y has shape {shape_str(y)}; the cost needs Y of "
                         f"shape (n_y, m), e.g. Y.reshape(1, -1)")
    try:
        ok = np.broadcast_shapes(al.shape, y.shape) == y.shape and al.size == y.size
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"Invalid shapes: Y has shape {shape_str(y)} but AL has shape "
                         f"{shape_str(al)}; both should be (n_y, m)")
    return al.reshape(y.shape), y


def course_h5_files(directory, names):
    """The paths ``directory/name`` of the course's data files, all present."""
    paths = [os.path.join(os.fspath(directory), n) for n in names]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(
            f"Missing data files: {', '.join(missing)} (looked in "
            f"{os.path.abspath(os.fspath(directory))}). The course's notebook keeps "
            f"{' and '.join(names)} in its datasets/ folder: run from the notebook's folder "
            f"or pass that folder, e.g. load_data('path/to/datasets')")
    return paths


def optional_module(name, purpose, pip_name=None):
    """The module ``name``, or an ImportError saying what needs it and how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ImportError(f"Missing optional dependency: {purpose} needs {name}; install it "
                          f"with `pip install {pip_name or name}` (or `pip install "
                          f"fastbp[course]` for all the course helpers' extras)") from None


# --- the course's assignment modules (fastbp.course.c2w1a1, ...) ---


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


# --- scikit-learn estimators (fastbp.sklearn) ---
# fastbp.sklearn is a drop-in for scikit-learn's MLPClassifier / MLPRegressor:
# where scikit-learn raises or warns, the messages below are scikit-learn's own
# words (sklearn/neural_network/_multilayer_perceptron.py, 1.7-1.9), so code
# that matches on them keeps working. Array, label and parameter checks are
# scikit-learn's utilities themselves (validate_data, _check_sample_weight,
# the estimator's _parameter_constraints), called from fastbp.sklearn.

#: the oldest scikit-learn fastbp.sklearn supports: sample_weight and
#: loss="poisson" in MLP* and the public sklearn.utils.validation.validate_data
#: arrived in 1.7 / 1.6
SKLEARN_MIN_VERSION = (1, 7)


def sklearn_missing(exc):
    """The ImportError for ``import fastbp.sklearn`` without scikit-learn."""
    return ImportError(
        f"fastbp.sklearn needs scikit-learn >= {'.'.join(map(str, SKLEARN_MIN_VERSION))}, "
        f"which could not be imported ({exc}). Install it with: pip install fastbp[sklearn] "
        "(or pip install scikit-learn)")


def sk_private_name_missing(where, name, version, exc):
    """The ImportError for a private scikit-learn name that this release moved."""
    need = ".".join(map(str, SKLEARN_MIN_VERSION))
    return ImportError(
        f"fastbp.sklearn cannot run with scikit-learn {version}: it uses {where}.{name}, a "
        f"private scikit-learn name that this release moved or removed ({exc}). It is "
        f"tested with scikit-learn {need} to 1.9: pip install 'scikit-learn>={need},<1.10', "
        "or a fastbp release that supports yours")


def check_sklearn_version(version):
    """Raise ImportError when scikit-learn ``version`` (a str) is older than the minimum."""
    parts = []
    for p in str(version).split(".")[:2]:
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    if tuple(parts) < SKLEARN_MIN_VERSION:
        need = ".".join(map(str, SKLEARN_MIN_VERSION))
        raise ImportError(f"fastbp.sklearn needs scikit-learn >= {need}, found {version}. "
                          "Upgrade it with: pip install -U fastbp[sklearn]")


def sk_hidden_layer_sizes(sizes):
    """``hidden_layer_sizes`` as a list of ints (scikit-learn's check and message)."""
    if not hasattr(sizes, "__iter__"):
        sizes = [sizes]
    sizes = list(sizes)
    if np.any(np.array(sizes) <= 0):
        raise ValueError("hidden_layer_sizes must be > 0, got %s." % sizes)
    for s in sizes:
        # scikit-learn passes each size to NumPy as a shape (a TypeError for 3.5);
        # int() would truncate it silently
        if not isinstance(s, numbers.Integral) or isinstance(s, (bool, np.bool_)):
            raise TypeError(f"hidden_layer_sizes must hold integers (the units of each hidden "
                            f"layer), got {s!r} in {sizes}")
    return [int(s) for s in sizes]


def sk_warm_start_classes(classes, previous):
    """Raise unless a warm-started fit sees the classes of the previous fit."""
    if set(classes) != set(previous):
        raise ValueError(
            "warm_start can only be used where `y` has the same "
            "classes as in the previous call to fit. Previously "
            f"got {previous}, `y` has {classes}")


def sk_known_classes(classes, previous):
    """Raise when partial_fit's ``y`` has classes that the first call did not declare."""
    if len(np.setdiff1d(classes, previous, assume_unique=True)):
        raise ValueError(
            "`y` has classes not in `self.classes_`. "
            f"`self.classes_` has {previous}. 'y' has {classes}.")


def sk_partial_fit_solver(solver):
    """partial_fit exists for the stochastic solvers only (an AttributeError, as scikit-learn)."""
    if solver not in ("sgd", "adam"):
        raise AttributeError("partial_fit is only available for stochastic"
                             " optimizers. %s is not stochastic." % solver)
    return True


def sk_no_partial_fit_early_stopping(early_stopping, incremental):
    if early_stopping and incremental:
        raise ValueError("partial_fit does not support early_stopping=True")


def sk_validation_set_size(n_val):
    if n_val < 2:
        raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                         "or the size of your dataset.")


def sk_batch_size(batch_size, n_samples):
    """The mini-batch size of a stochastic fit, with scikit-learn's clipping and warning."""
    if batch_size == "auto":
        return min(200, n_samples)
    if batch_size > n_samples:
        warnings.warn("Got `batch_size` less than 1 or larger than "
                      "sample size. It is going to be clipped", stacklevel=4)
    return int(np.clip(batch_size, 1, n_samples))


def sk_no_improvement_message(early_stopping, tol, n_iter_no_change):
    if early_stopping:
        return ("Validation score did not improve more than "
                "tol=%f for %d consecutive epochs." % (tol, n_iter_no_change))
    return ("Training loss did not improve more than tol=%f"
            " for %d consecutive epochs." % (tol, n_iter_no_change))


def sk_max_iter_warning(max_iter, category):
    warnings.warn("Stochastic Optimizer: Maximum iterations (%d) "
                  "reached and the optimization hasn't converged yet." % max_iter,
                  category, stacklevel=4)


def sk_interrupted_warning():
    warnings.warn("Training interrupted by user.", stacklevel=4)


def sk_nonfinite_weights_error():
    """scikit-learn's error for a fit that ended with non-finite parameters."""
    return ValueError(
        "Solver produced non-finite parameter weights. The input data may"
        " contain large values and need to be preprocessed.")


def sk_zero_weight_sum_error(batch_index, start, stop):
    """scikit-learn's error (NumPy's ZeroDivisionError, as a WeightSumZeroError) for
    a mini-batch whose sample weights sum to zero."""
    return WeightSumZeroError(
        f"{WEIGHT_SUM_ZERO}: the sample_weight of mini-batch {batch_index} (examples "
        f"{start} to {stop - 1} of the epoch's order) sums to 0.0, and scikit-learn's MLP "
        "divides each mini-batch's loss and gradients by its weight sum; use weights "
        "whose mini-batches do not cancel out (e.g. non-negative ones)")


def sk_numeric_targets(y):
    """MLPRegressor's ``y`` after ``validate_data(y_numeric=True)``, which converts only
    object arrays: text, dates and time spans fail later in scikit-learn's
    arithmetic (NumPy's UFuncTypeError, a TypeError); this is that TypeError,
    naming y."""
    if y.dtype.kind in "mM":
        # NumPy casts these to float silently (days, seconds... since 1970 in
        # the array's unit), which trained on those counts
        raise TypeError(f"y must hold numbers for a regressor, got dtype {y.dtype} (values "
                        f"{_examples(np.unique(y.ravel()))}); convert it to numbers in a "
                        "unit you choose, e.g. (y - y.min()) / np.timedelta64(1, 'D') for "
                        "days")
    if y.dtype.kind in "USV":
        raise TypeError(f"y must hold numbers for a regressor, got dtype {y.dtype} (values "
                        f"{_examples(np.unique(y.ravel()))}); convert it with "
                        "y.astype(float), or use MLPClassifier for class labels")
    return y


def sk_check_finite_weights(arrays):
    if not all(np.isfinite(w).all() for w in arrays):
        raise sk_nonfinite_weights_error()


def sk_assigned_layers(coefs, intercepts, n_layers, n_features, n_outputs):
    """The layer widths ``[n_in, n_1, ..., n_out]`` that assigned ``coefs_`` /
    ``intercepts_`` lists describe, or a ValueError saying what does not fit.

    scikit-learn runs whatever its lists hold through ``X @ coefs_[i] +
    intercepts_[i]`` for ``i < n_layers_ - 1``: mismatched shapes fail there
    (or broadcast into wrong outputs), a missing layer is an IndexError.
    """
    where = "assigned coefs_ / intercepts_"
    if len(coefs) != n_layers - 1 or len(intercepts) != n_layers - 1:
        raise ValueError(
            f"{where}: the network has n_layers_ = {n_layers}, so coefs_ and intercepts_ "
            f"must hold {n_layers - 1} arrays each; they hold {len(coefs)} and "
            f"{len(intercepts)}")
    units = []
    for i, (c, b) in enumerate(zip(coefs, intercepts)):
        c_shape, b_shape = np.shape(c), np.shape(b)
        if len(c_shape) != 2 or len(b_shape) != 1 or b_shape[0] != c_shape[1]:
            raise ValueError(
                f"{where}: coefs_[{i}] must be (n_in, n_out) and intercepts_[{i}] (n_out,); "
                f"got {c_shape} and {b_shape}")
        if units and c_shape[0] != units[-1]:
            raise ValueError(
                f"{where}: coefs_[{i}] has {c_shape[0]} rows but coefs_[{i - 1}] has "
                f"{units[-1]} columns; each layer's n_in is the previous layer's n_out")
        if not units:
            units.append(c_shape[0])
        units.append(c_shape[1])
    if units[0] != n_features:
        raise ValueError(f"{where}: coefs_[0] has {units[0]} rows; the fit saw "
                         f"n_features_in_ = {n_features} features")
    if units[-1] != n_outputs:
        raise ValueError(f"{where}: coefs_[-1] has {units[-1]} columns; the fit has "
                         f"n_outputs_ = {n_outputs} outputs")
    return units


def sk_continued_layers(fitted, wanted, incremental, solver):
    """The ValueError of a warm start / partial_fit that cannot continue the
    fitted (or assigned) network: another number of layers or of outputs,
    or other hidden widths under lbfgs (``fitted`` / ``wanted``: [n_in, ...,
    n_out])."""
    how, anew = (("partial_fit", "call fit to start a new network") if incremental else
                 ("a fit with warm_start=True", "fit a new network (warm_start=False)"))
    if fitted[-1] != wanted[-1]:
        return ValueError(
            f"y has {wanted[-1]} output(s) but the fitted network has {fitted[-1]}: {how} "
            f"continues training the fitted network. Pass y with the same outputs, or {anew}")
    why = (f"solver={solver!r} packs the parameters by hidden_layer_sizes"
           if len(fitted) == len(wanted) else
           f"{how} continues training the fitted network")
    return ValueError(
        f"hidden_layer_sizes is {tuple(wanted[1:-1])} but the fitted network's hidden "
        f"layers (coefs_) are {tuple(fitted[1:-1])}: {why}. Set hidden_layer_sizes to "
        f"{tuple(fitted[1:-1])}, or {anew}")


def sk_continued_loss(loss, out_activation, incremental):
    """The ValueError of a warm start / partial_fit whose ``loss`` is not the
    one the fitted network's output was built for (``set_params(loss=...)``
    after a fit: scikit-learn keeps ``out_activation_`` and reports the new
    loss of the old outputs, which fastbp's kernels do not compute)."""
    how, anew = (("partial_fit", "call fit to start a new network") if incremental else
                 ("a fit with warm_start=True", "fit a new network (warm_start=False)"))
    return ValueError(
        f"loss={loss!r} but the fitted network's output is out_activation_="
        f"{out_activation!r}, built for another loss: {how} continues training the "
        f"fitted network. Set loss back, or {anew}")


def sk_unsupported_out_activation(name, known):
    """An ``out_activation_`` the estimators have no compiled output for."""
    return ValueError(f"out_activation_ = {name!r} is not an output fastbp computes; "
                      f"use one of {sorted(known)}")


def sk_unsupported_loss(loss, outputs):
    """A loss that this fastbp build has no compiled output for."""
    return NotImplementedError(
        f"loss={loss!r} needs an output this fastbp build does not have "
        f"(outputs: {sorted(outputs)}); use loss='squared_error' or scikit-learn's "
        "MLPRegressor")


def cli_slower_than_numpy(n_threads, load, cores):
    """The note of ``fastbp train`` when its timing found fastbp slower than NumPy
    (``load``: the 1-minute load average or None; ``cores``: the process's)."""
    busy = (f"the load average is {load:.1f} on {cores} cores"
            if load is not None else "other processes may be using the cores")
    return (f"fastbp ran slower than NumPy here on {n_threads} threads: {busy}. "
            "A multithreaded step waits at its barriers for a thread the OS has put "
            "aside; --threads 1 avoids that on a busy machine")
