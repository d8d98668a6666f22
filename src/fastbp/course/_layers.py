"""The per-layer machinery of fastbp.course: one layer forward or backward
through fastbp's fused kernels, the layer loops, dropout, the activation
derivatives and the course's output delta.

The arrays these return are the course's (fresh, or recycled from
:mod:`fastbp.course._pool` once nothing refers to them); inputs the kernels
reject are explained or promoted by the course checks of
:mod:`fastbp._validation`.
"""
import collections
import weakref

import numpy as np
from scipy.special import expit as _scipy_expit

from fastbp import _loss as _loss_kernels
from fastbp import _validation as _v
from fastbp._course import POOL_MIN_BYTES as _POOL_MIN_BYTES
from fastbp._registry import MIN_FLOPS_PER_THREAD as _MIN_FLOPS_PER_THREAD
from fastbp._validation import course_bias as _check_bias
from fastbp._validation import course_coerce_backward as _coerce_backward
from fastbp._validation import course_coerce_forward as _coerce_forward
from fastbp._validation import course_float_dtype as _float_dtype
from fastbp._validation import course_z as _check_z
from fastbp.course._pool import new_array as _new
from fastbp.layers import dense_backward as _bwd
from fastbp.layers import dense_forward as _fwd

# The (AL, Z_L) pairs L_model_forward returned recently, as (weak reference
# to AL, weak reference to Z_L, copy of AL, copy of Z_L): while both still
# hold their copies' bytes, AL == sigmoid(Z_L) holds by construction and the
# output delta is AL - Y (fastbp._course.is_recent_output). A dead referent
# never matches, so a recycled id cannot fool the check; remember_output
# drops the entries of dead outputs, so the copies live no longer than the
# arrays they copy (or the 32 newest entries).
RECENT_OUTPUTS = collections.deque(maxlen=32)


def remember_output(AL, ZL):
    """Record (AL, Z_L) as L_model_forward's output (see RECENT_OUTPUTS)."""
    for entry in list(RECENT_OUTPUTS):
        if entry[0]() is None or entry[1]() is None:
            try:
                RECENT_OUTPUTS.remove(entry)
            except ValueError:      # another thread removed it first
                pass
    RECENT_OUTPUTS.append((weakref.ref(AL), weakref.ref(ZL), AL.copy(order="K"),
                           ZL.copy(order="K")))


def threads(shape_w, m, gemms):
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


def forward(A_prev, W, b, activation, l, prev_name, names=None):
    """(Z, A, A_prev, W, b) of one layer; the inputs as the kernel used them.
    ``names``: the arguments' names for errors (default: layer l's)."""
    if getattr(b, "ndim", None) != 2:
        _check_bias(b, W, l, names)      # a 1-D b: the course's NumPy would not add a column
    try:
        shape = (W.shape[0], A_prev.shape[1])
        dt = A_prev.dtype.newbyteorder("=")      # '>f8' data: native outputs
        out = None
        if shape[0] * shape[1] * dt.itemsize >= _POOL_MIN_BYTES:
            out = (_new(shape, dt), _new(shape, dt))
        Z, A = _fwd(A_prev, W, b, activation, out=out,
                    n_threads=threads(W.shape, shape[1], 1))
    except (TypeError, ValueError, AttributeError, IndexError) as exc:
        A_prev, W, b = _coerce_forward(A_prev, W, b, l, prev_name, exc, names)
        Z, A = _fwd(A_prev, W, b, activation, n_threads=threads(W.shape, A_prev.shape[1], 1))
    return Z, A, A_prev, W, b


def backward(dZ, A_prev, W, l, lambd=0.0, names=None):
    """(dA_prev, dW, db) of one layer, the course's linear_backward."""
    try:
        return _bwd(dZ, A_prev, W, None, lambd=lambd, out=backward_out(W, dZ),
                    n_threads=threads(W.shape, dZ.shape[1], 2))
    except (TypeError, ValueError, AttributeError, IndexError) as exc:
        dZ, A_prev, W = _coerce_backward(dZ, A_prev, W, l, exc, names)
        return _bwd(dZ, A_prev, W, None, lambd=lambd,
                    n_threads=threads(W.shape, dZ.shape[1], 2))


def backward_out(W, dZ):
    """(dA_prev, dW, db) output arrays for dense_backward."""
    n, p = W.shape
    m = dZ.shape[1]
    dt = dZ.dtype.newbyteorder("=")
    if max(p * m, n * p) * dt.itemsize < _POOL_MIN_BYTES:
        return None             # small: let the kernel allocate
    return (_new((p, m), dt), _new((n, p), dt), np.empty((n, 1), dt))


def dropout(A, keep_prob):
    """The course's inverted dropout of A, in place: D = rand < keep_prob (drawn
    from ``np.random.rand``), A = A * D / keep_prob. Returns D (bool)."""
    D = np.random.rand(A.shape[0], A.shape[1]) < keep_prob
    np.multiply(A, D, out=A)
    np.divide(A, keep_prob, out=A)
    return D


def forward_layers(A, L, keep_prob, layer):
    """The forward layer loop: ``A = layer(l, A)`` for l = 1..L, the course's
    inverted dropout on the hidden layers' outputs when keep_prob < 1.

    Returns (A_L, masks): masks[l - 1] is layer l's dropout mask or None.
    """
    masks = []
    for l in range(1, L + 1):
        A = layer(l, A)
        masks.append(dropout(A, keep_prob) if keep_prob != 1.0 and l < L else None)
    return A, masks


def backward_layers(dZ, L, layer):
    """The backward layer loop: ``dZ = layer(l, dZ)`` for l = L..1, each call
    layer l's gradients and dZ of layer l - 1."""
    for l in range(L, 0, -1):
        dZ = layer(l, dZ)
    return dZ


def expit(Z, name="Z"):
    """The logistic function 1 / (1 + exp(-Z)) of an array or scalar.

    float16 is computed in float32 and integers in float64 (``course_float_dtype``:
    the course API computes in float32 or float64; SciPy's expit would give
    float64 for float16, and float32 or float64 for ints depending on its
    release); complex and object inputs raise a TypeError naming ``name``.
    """
    if not isinstance(Z, (np.ndarray, np.generic)):
        Z = np.asarray(Z)       # a list: np.result_type would read it as a dtype spec
    dt = Z.dtype
    if dt.kind not in "fc" or dt.itemsize < 4:
        # float16 -> float32, ints and bool -> float64 (SciPy's own choice for
        # ints differs between releases); complex/object raise
        Z = np.asarray(Z, dtype=_float_dtype(Z, names=(name,)))
    elif dt.kind == "c":
        _float_dtype(Z, names=(name,))      # raises: not a real dtype
    return _scipy_expit(Z)


def relu_grad(dA, Z, l, scratch=False):
    """dA * (Z > 0): the course's relu_backward without the masked write.

    scratch: the result is a temporary (recycled array) rather than returned.
    """
    Z = _check_z(Z, dA.shape, l)
    if not scratch or dA.dtype.kind != "f" or dA.nbytes < _POOL_MIN_BYTES:
        return np.multiply(dA, Z > 0)
    mask = np.greater(Z, 0, out=_new(Z.shape, np.bool_))
    return np.multiply(dA, mask, out=_new(dA.shape, dA.dtype))


def sigmoid_grad(dA, Z, l):
    Z = _check_z(Z, np.shape(dA), l)
    s = expit(Z, "cache")
    return dA * s * (1 - s)


def course_cost(AL, Y):
    """The course's cross-entropy in NumPy (used only where AL or Y is outside [0, 1])."""
    m = Y.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        logprobs = np.multiply(np.log(AL), Y) + np.multiply(np.log(1 - AL), 1 - Y)
    return -1 / m * np.sum(logprobs)


def output_delta(AL, Y):
    """dZ_L = AL - Y of the sigmoid output, for labels of any value.

    fastbp.layers.output_delta without its check that Y lies in [0, 1] (the
    binary cross-entropy's domain): the course's ``A2 - Y`` and ``dAL``
    take any labels (C1W4A2's public test trains on Y = np.random.randn(1,
    10)), and so does the small networks' compiled path. Y is read in AL's
    dtype; the arguments are checked as fastbp.layers.output_delta checks them
    (TypeError / ValueError).
    """
    return _loss_kernels.output_delta(*_v.output_delta_args(AL, Y, "binary_crossentropy",
                                                             None, None, domain=False))


def output_delta_course(AL, Y, ZL):
    """dZ_L = dAL * s * (1 - s) with dAL = -(Y/AL - (1-Y)/(1-AL)) and s = sigmoid(Z_L)."""
    ZL = _check_z(ZL, AL.shape, "L")
    Yf = Y.astype(AL.dtype) if AL.dtype.kind == "f" else Y
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        dAL = -(np.divide(Yf, AL) - np.divide(1 - Yf, 1 - AL))
        s = expit(ZL, "Z")
        dZ = dAL * s * (1 - s)
    bad = ~np.isfinite(dZ)
    if bad.any():
        dZ[bad] = (AL - Yf)[bad]
    return dZ
