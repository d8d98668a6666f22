"""Course 2 (weeks 1-2) written out in plain NumPy, as a learner writes it.

The independent reference the tests of fastbp.course.c2w1a1 ... c2w2a1
compare against: the course's formulas, seeds and layouts, nothing of
fastbp. Deltas and costs follow NumPy's dtype rules except where the
course's own code would leave float32 through integer arrays (``np.int64``
relu and dropout masks, int64 labels), which fastbp deliberately does not:
there the reference keeps the input dtype.
"""
import math

import numpy as np

RTOL64 = 1e-12
RTOL32 = 2e-5


_NUMPY1 = np.lib.NumpyVersion(np.__version__) < "2.0.0"


def assert_close(actual, expected, rtol=None, name=""):
    """Same type, shape and dtype; |a - e| <= rtol (|e| + max|e|) elementwise.

    fastbp follows NumPy 2's promotion rules on every NumPy (float32 in,
    float32 out); under NumPy 1 the course's ``1./m * np.sum(float32)`` is a
    float64 scalar, so there the expected float64 scalar of a float32
    result is compared as float32.
    """
    if (_NUMPY1 and isinstance(actual, np.float32) and isinstance(expected, np.float64)):
        expected = np.float32(expected)
    assert type(actual) is type(expected), f"{name}: type {type(actual)} != {type(expected)}"
    a = np.asarray(actual)
    e = np.asarray(expected)
    assert a.shape == e.shape, f"{name}: shape {a.shape} != {e.shape}"
    assert a.dtype == e.dtype, f"{name}: dtype {a.dtype} != {e.dtype}"
    if rtol is None:
        rtol = RTOL32 if e.dtype == np.float32 else RTOL64
    if e.dtype.kind in "biu":
        np.testing.assert_array_equal(a, e, err_msg=name)
        return
    scale = float(np.max(np.abs(e[np.isfinite(e)]))) if np.isfinite(e).any() else 0.0
    np.testing.assert_allclose(a, e, rtol=rtol, atol=rtol * scale, err_msg=f"{name} (rtol={rtol})")


def assert_same_dict(actual, expected, rtol=None, name=""):
    """Same keys in the same order, every value close (assert_close)."""
    assert list(actual) == list(expected), f"{name}: keys {list(actual)} != {list(expected)}"
    for k in expected:
        assert_close(actual[k], expected[k], rtol, f"{name}[{k!r}]")


def assert_same_tuple(actual, expected, rtol=None, name=""):
    assert type(actual) is tuple and len(actual) == len(expected), name
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert_close(a, e, rtol, f"{name}[{i}]")


# ------------------------------------------------------------------ utils

def sigmoid(x):
    with np.errstate(over="ignore"):           # exp(-x) = inf gives the course's 0
        return 1 / (1 + np.exp(-x))


def relu(x):
    return np.maximum(0, x)


def init_zeros(dims):
    p = {}
    for l in range(1, len(dims)):
        p["W" + str(l)] = np.zeros((dims[l], dims[l - 1]))
        p["b" + str(l)] = np.zeros((dims[l], 1))
    return p


def init_seeded(dims, scaled):
    """np.random.seed(3); W_l = scaled(randn(n_l, n_{l-1}), n_{l-1})."""
    np.random.seed(3)
    p = {}
    for l in range(1, len(dims)):
        p["W" + str(l)] = scaled(np.random.randn(dims[l], dims[l - 1]), dims[l - 1])
        p["b" + str(l)] = np.zeros((dims[l], 1))
    return p


def init_random(dims):
    return init_seeded(dims, lambda w, n: w * 10)


def init_he(dims):
    return init_seeded(dims, lambda w, n: w * np.sqrt(2. / n))


def init_reg(dims):
    return init_seeded(dims, lambda w, n: w / np.sqrt(n))


def forward3(X, p, keep_prob=None):
    """(A3, flat cache); keep_prob given: seeds 1 and drops the hidden outputs."""
    if keep_prob is not None:
        np.random.seed(1)
    cache = []
    A = X
    for l in (1, 2, 3):
        W, b = p["W%d" % l], p["b%d" % l]
        Z = np.dot(W, A) + b
        A = relu(Z) if l < 3 else sigmoid(Z)
        if keep_prob is not None and l < 3:
            D = (np.random.rand(A.shape[0], A.shape[1]) < keep_prob).astype(int)
            A = A * D
            A = A / keep_prob
            A = A.astype(Z.dtype)          # fastbp keeps float32 (int masks promote)
            cache += [Z, D, A, W, b]
        else:
            cache += [Z, A, W, b]
    return A, tuple(cache)


def backward3(X, Y, cache, lambd=0.0, keep_prob=None, per_example=False):
    m = X.shape[1]
    if keep_prob is None:
        Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3 = cache
        D1 = D2 = None
    else:
        Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3 = cache
    dt = A3.dtype
    z, a = ("dz", "da") if per_example else ("dZ", "dA")
    f = 1. / m if per_example else 1.
    s = 1. if per_example else 1. / m
    g = {}
    dZ = f * (A3 - Y.astype(dt))
    layers = [(X, W1), (A1, W2), (A2, W3)]
    for l in (3, 2, 1):
        A_prev, W = layers[l - 1]
        g[z + str(l)] = dZ
        g["dW" + str(l)] = s * np.dot(dZ, A_prev.T) + lambd / m * W
        g["db" + str(l)] = s * np.sum(dZ, axis=1, keepdims=True)
        if l == 1:
            break
        dA = np.dot(W.T, dZ)
        D = D1 if l == 2 else D2      # the mask of A_{l-1}
        if keep_prob is not None:
            dA = (dA * D).astype(dt)
            dA = dA / keep_prob
        g[a + str(l - 1)] = dA
        dZ = dA * (A_prev > 0)
    return g


def cost_terms(a3, Y):
    if Y.dtype.kind in "biu":
        Y = Y.astype(a3.dtype)             # int labels do not promote a float32 cost
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.multiply(-np.log(a3), Y) + np.multiply(-np.log(1 - a3), 1 - Y)


def cost_nanmean(a3, Y):
    return 1. / Y.shape[-1] * np.nansum(cost_terms(a3, Y))


def cost_sum(a3, Y):
    return np.sum(cost_terms(a3, Y))


def cost_l2(a3, Y, p, lambd):
    m = Y.shape[1]
    l2 = (np.sum(np.square(p["W1"])) + np.sum(np.square(p["W2"]))
          + np.sum(np.square(p["W3"])))
    return cost_nanmean(a3, Y) + 1. / m * lambd / 2 * l2


def gd_loop(X, Y, p, lr, n_iter, lambd=0.0, keep_prob=None, every=1000,
            cost=cost_nanmean):
    """The model loop of the Initialization/Regularization notebooks: params, costs."""
    p = {k: v.copy() for k, v in p.items()}
    costs = []
    for i in range(n_iter):
        a3, cache = forward3(X, p, keep_prob)
        if every and i % every == 0:
            costs.append(cost_l2(a3, Y, p, lambd) if lambd else cost(a3, Y))
        g = backward3(X, Y, cache, lambd, keep_prob, per_example=False)
        for k in p:
            p[k] = p[k] - lr * g["d" + k]
    return p, costs


# ------------------------------------------------------- gradient checking

def vec(d, keys):
    return np.concatenate([np.reshape(d[k], (-1, 1)) for k in keys], axis=0)


def unvec(theta, dims):
    p, off = {}, 0
    for l in range(1, len(dims)):
        n, k = dims[l], dims[l - 1]
        p["W%d" % l] = theta[off:off + n * k].reshape(n, k)
        off += n * k
        p["b%d" % l] = theta[off:off + n].reshape(n, 1)
        off += n
    return p


def gradient_check_n(p, grads, X, Y, eps=1e-7):
    keys = ["W1", "b1", "W2", "b2", "W3", "b3"]
    theta = vec(p, keys)
    grad = vec(grads, ["d" + k for k in keys])
    dims = [X.shape[0], p["W1"].shape[0], p["W2"].shape[0], p["W3"].shape[0]]
    m = X.shape[1]
    approx = np.zeros_like(theta)
    for i in range(theta.shape[0]):
        tp = theta.copy()
        tp[i] += eps
        tm = theta.copy()
        tm[i] -= eps
        jp = 1. / m * np.sum(cost_terms(forward3(X, unvec(tp, dims))[0], Y))
        jm = 1. / m * np.sum(cost_terms(forward3(X, unvec(tm, dims))[0], Y))
        approx[i] = (jp - jm) / (2 * eps)
    return np.linalg.norm(grad - approx) / (np.linalg.norm(grad) + np.linalg.norm(approx))


# ------------------------------------------------------------ optimization

def mini_batches(X, Y, size, seed):
    np.random.seed(seed)
    m = X.shape[1]
    perm = list(np.random.permutation(m))
    Xs, Ys = X[:, perm], Y[:, perm].reshape((1, m))
    out = [(Xs[:, k * size:(k + 1) * size], Ys[:, k * size:(k + 1) * size])
           for k in range(math.floor(m / size))]
    if m % size:
        out.append((Xs[:, (m // size) * size:], Ys[:, (m // size) * size:]))
    return out


def adam_step(p, g, v, s, t, lr, b1, b2, eps):
    vc, sc = {}, {}
    for k in list(v):
        v[k] = b1 * v[k] + (1 - b1) * g[k]
        vc[k] = v[k] / (1 - b1 ** t)
        s[k] = b2 * s[k] + (1 - b2) * g[k] ** 2
        sc[k] = s[k] / (1 - b2 ** t)
        p[k[1:]] = p[k[1:]] - lr * vc[k] / (np.sqrt(sc[k]) + eps)
    return p, v, s, vc, sc


def opt_model(X, Y, dims, optimizer, lr, size, beta, b1, b2, eps, n_epochs, decay=None,
              decay_rate=1):
    """The Optimization notebook's model: (parameters, costs every epoch)."""
    p = init_he(dims)
    v = {"d" + k: np.zeros(x.shape) for k, x in p.items()}
    s = {k: np.zeros(x.shape) for k, x in v.items()}
    t, seed, m, lr0, costs, lrs = 0, 10, X.shape[1], lr, [], []
    for i in range(n_epochs):
        seed += 1
        total = 0
        for bx, by in mini_batches(X, Y, size, seed):
            a3, cache = forward3(bx, p)
            total += cost_sum(a3, by)
            g = backward3(bx, by, cache, per_example=True)
            if optimizer == "gd":
                for k in p:
                    p[k] = p[k] - lr * g["d" + k]
            elif optimizer == "momentum":
                for k in p:
                    v["d" + k] = beta * v["d" + k] + (1 - beta) * g["d" + k]
                    p[k] = p[k] - lr * v["d" + k]
            else:
                t += 1
                p, v, s, _, _ = adam_step(p, g, v, s, t, lr, b1, b2, eps)
        costs.append(total / m)
        if decay:
            lr = decay(lr0, i, decay_rate)
        lrs.append(lr)
    return p, costs, lrs
