"""Pure NumPy reference of every fastbp kernel: the specification.

Readable, unfused, allocation-happy code whose only job is to be obviously
right. The compiled kernels in :mod:`fastbp` are tested against these
functions. Notation is the Deep Learning Specialization's: examples are
columns, ``A_prev`` is (n_prev, m), ``W`` is (n, n_prev), ``b`` is (n, 1),
``Z = W A_prev + b`` and ``A = g(Z)``.
"""
import numpy as np
from scipy.special import erfc, xlogy

from fastbp._registry import ACTIVATIONS, DEFAULT_ALPHA, LOSSES

#: activations whose derivative needs Z; the others take it from A = g(Z)
DERIVATIVE_FROM_Z = ("gelu", "gelu_tanh", "silu")

_SQRT_2_OVER_PI = np.sqrt(2.0 / np.pi)
_GELU_K = 0.044715


def _alpha(name, alpha):
    return DEFAULT_ALPHA.get(name, 0.0) if alpha is None else alpha


def _sigmoid(z):
    # exp(-|z|) never overflows; both branches agree where they meet.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)


def activation(z, name, alpha=None):
    """g(z) for the activation ``name``.

    identity: z;  relu: max(z, 0);  leaky_relu: z if z >= 0 else alpha z;
    sigmoid: 1 / (1 + e^-z);  tanh;  elu: z if z > 0 else alpha (e^z - 1);
    gelu: z Phi(z) = z erfc(-z / sqrt 2) / 2;
    gelu_tanh: z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))) / 2;
    silu: z sigmoid(z);  softplus: log(1 + e^z).
    """
    z = np.asarray(z)
    a = _alpha(name, alpha)
    t = z.dtype.type
    if name == "identity":
        return z.copy()
    if name == "relu":
        return np.where(z < 0, t(0), z)
    if name == "leaky_relu":
        return np.where(z < 0, t(a) * z, z)
    if name == "sigmoid":
        return _sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "elu":
        return np.where(z > 0, z, t(a) * np.expm1(np.minimum(z, 0)))
    if name == "gelu":
        return (t(0.5) * z * erfc(-z / np.sqrt(2))).astype(z.dtype)
    if name == "gelu_tanh":
        u = t(_SQRT_2_OVER_PI) * (z + t(_GELU_K) * z ** 3)
        return t(0.5) * z * (1 + np.tanh(u))
    if name == "silu":
        return z * _sigmoid(z)
    if name == "softplus":
        return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))
    raise ValueError(f"unknown activation {name!r}; valid: {ACTIVATIONS}")


def activation_derivative(v, name, alpha=None):
    """g'(z), written as a function of ``v``.

    ``v`` is the output A = g(Z) for identity, relu, leaky_relu, sigmoid, tanh,
    elu and softplus, and the pre-activation Z for gelu, gelu_tanh and silu:

    relu: 1 if a > 0 else 0 (0 at exactly 0);  leaky_relu: 1 if a > 0 else alpha;
    sigmoid: a (1 - a);  tanh: 1 - a^2;  elu: 1 if a > 0 else a + alpha;
    softplus: sigmoid(z) = 1 - e^-a;  gelu: Phi(z) + z phi(z);
    gelu_tanh: (1 + t)/2 + z (1 - t^2) sqrt(2/pi) (1 + 3 0.044715 z^2) / 2;
    silu: s (1 + z (1 - s)) with s = sigmoid(z).
    """
    v = np.asarray(v)
    a = _alpha(name, alpha)
    t = v.dtype.type
    if name == "identity":
        return np.ones_like(v)
    if name == "relu":
        return (v > 0).astype(v.dtype)
    if name == "leaky_relu":
        return np.where(v > 0, t(1), t(a))
    if name == "sigmoid":
        return v * (1 - v)
    if name == "tanh":
        return 1 - v * v
    if name == "elu":
        return np.where(v > 0, t(1), v + t(a))
    if name == "softplus":
        return -np.expm1(-v)
    if name == "gelu":
        phi = np.exp(-0.5 * v.astype(np.float64) ** 2) / np.sqrt(2 * np.pi)
        return (0.5 * erfc(-v / np.sqrt(2)) + v * phi).astype(v.dtype)
    if name == "gelu_tanh":
        v = np.clip(v, t(-1e4), t(1e4))   # saturated there; z^3 would overflow (0 * inf)
        th = np.tanh(t(_SQRT_2_OVER_PI) * (v + t(_GELU_K) * v ** 3))
        return (t(0.5) * (1 + th) + t(0.5) * v * (1 - th * th) * t(_SQRT_2_OVER_PI)
                * (1 + t(3 * _GELU_K) * v * v))
    if name == "silu":
        s = _sigmoid(v)
        return s * (1 + v * (1 - s))
    raise ValueError(f"unknown activation {name!r}; valid: {ACTIVATIONS}")


def dense_forward(A_prev, W, b, activation="relu", *, alpha=None):
    """One dense layer forward.

    Z = W A_prev + b,  A = g(Z)

    A_prev : (n_prev, m), W : (n, n_prev), b : (n, 1) or (n,).
    Returns Z (n, m) and A (n, m).
    """
    Z = W @ A_prev + np.reshape(b, (-1, 1))
    return Z, globals()["activation"](Z, activation, alpha)


def dense_backward(dZ, A_prev, W, activation=None, *, Z_prev=None, alpha=None,
                   scale=None, lambd=0.0):
    """One dense layer backward.

    dW      = scale dZ A_prev^T + lambd scale W        (n, n_prev)
    db      = scale sum_j dZ[:, j]                     (n, 1)
    dZ_prev = (W^T dZ) * g'(A_prev or Z_prev)          (n_prev, m)

    ``scale`` defaults to 1/m. ``activation`` is the activation of the layer
    that produced A_prev; its derivative is taken from A_prev, or from Z_prev
    for gelu, gelu_tanh and silu. ``activation=None`` returns dA_prev = W^T dZ.
    """
    m = dZ.shape[1]
    s = 1.0 / m if scale is None else scale
    dW = s * (dZ @ A_prev.T) + (lambd * s) * W
    db = s * np.sum(dZ, axis=1, keepdims=True)
    dA_prev = W.T @ dZ
    if activation is None:
        return dA_prev, dW.astype(dZ.dtype), db.astype(dZ.dtype)
    v = Z_prev if activation in DERIVATIVE_FROM_Z else A_prev
    return (dA_prev * activation_derivative(v, activation, alpha),
            dW.astype(dZ.dtype), db.astype(dZ.dtype))


def softmax(Z):
    """Column-wise softmax: A[:, j] = exp(Z[:, j] - max Z[:, j]) / sum(...)."""
    e = np.exp(Z - Z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def output_delta(AL, Y, loss):
    """dZ of the output layer, AL - Y, for every loss in LOSSES.

    binary_crossentropy with a sigmoid output, crossentropy with a softmax
    output, mse with an identity output and poisson with an exp output (the
    canonical links) all give dL/dZ = (AL - Y) / m;
    the 1/m is applied by dense_backward's ``scale``.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; valid: {LOSSES}")
    return AL - np.asarray(Y).astype(AL.dtype)


def loss(AL, Y, loss):
    """Mean cost over the m examples (columns), logs clipped to stay finite.

    binary_crossentropy: -1/m sum [Y log AL + (1 - Y) log(1 - AL)]
    crossentropy:        -1/m sum Y log AL
    mse:                  1/(2m) sum (AL - Y)^2
    poisson:              1/m sum [AL - Y log AL + (Y log Y - Y)]   (AL the mean)
    with log(x) computed as log(max(x, tiny)), tiny the dtype's smallest
    normal number.
    """
    AL = np.asarray(AL)
    Y = np.asarray(Y).astype(AL.dtype)
    m = AL.shape[1]
    tiny = np.finfo(AL.dtype).tiny
    if loss == "binary_crossentropy":
        total = -np.sum(Y * np.log(np.maximum(AL, tiny))
                        + (1 - Y) * np.log(np.maximum(1 - AL, tiny)), dtype=np.float64)
    elif loss == "crossentropy":
        total = -np.sum(Y * np.log(np.maximum(AL, tiny)), dtype=np.float64)
    elif loss == "mse":
        total = 0.5 * np.sum((AL - Y).astype(np.float64) ** 2)
    elif loss == "poisson":
        mu = AL.astype(np.float64)
        y = Y.astype(np.float64)
        total = np.sum(mu - xlogy(y, np.maximum(mu, tiny)) + xlogy(y, y) - y)
    else:
        raise ValueError(f"unknown loss {loss!r}; valid: {LOSSES}")
    return float(total / m)


def loss_from_logits(Z, Y, loss):
    """Mean cost over the m examples (columns) from the logits Z = Z[L],
    exact where the probabilities round to 0 or 1, in float64:

    binary_crossentropy: 1/m sum [max(z, 0) - z y + log1p(e^-|z|)]   (softplus(z) - z y)
    crossentropy:        1/m sum_j [logsumexp(Z[:, j]) - sum_i Y[i, j] Z[i, j]]
                         for rows Y summing to 1; class indices Y (m,): Z[Y[j], j]
    poisson:             1/m sum [e^z - y z + (y log y - y)]   (half Poisson deviance,
                         scikit-learn's poisson_loss with mu = e^z)
    mse:                 1/(2m) sum (z - y)^2

    Terms with a zero label factor are 0 (xlogy's convention), so an infinite
    logit with a 0/1 label stays exact.
    """
    z = np.asarray(Z).astype(np.float64)
    y = np.asarray(Y)
    m = z.shape[1]
    if loss == "crossentropy" and y.ndim == 1:
        y = np.eye(z.shape[0])[y].T
    y = y.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        if loss == "binary_crossentropy":
            lin = np.where(z > 0, np.where(y == 1, 0.0, z * (1 - y)),
                           np.where(y == 0, 0.0, -z * y))
            total = np.sum(lin + np.log1p(np.exp(-np.abs(z))))
        elif loss == "crossentropy":
            mx = np.max(z, axis=0, keepdims=True)
            lse = mx + np.log(np.sum(np.exp(z - mx), axis=0, keepdims=True))
            total = np.sum(np.where(y == 0, 0.0, y * (lse - z)))
        elif loss == "poisson":
            total = np.sum(np.exp(z) - np.where(y == 0, 0.0, y * z) + xlogy(y, y) - y)
        elif loss == "mse":
            total = 0.5 * np.sum((z - y) ** 2)
        else:
            raise ValueError(f"unknown loss {loss!r}; valid: {LOSSES}")
    return float(total / m)
