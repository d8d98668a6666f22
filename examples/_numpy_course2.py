"""Course 2's NumPy code (weeks 1-2), written once for the c2w* examples.

Each namespace below (``c2w1a1`` ... ``c2w2a1``) holds the names the
matching ``fastbp.course`` module exports, computed the way the course's
notebooks and utils files compute them, so an example's notebook flow can be
handed either one. Also: the data sets, made without scikit-learn when it is
not installed.
"""
import math
import types

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def relu(x):
    return np.maximum(0, x)


def forward_propagation(X, parameters, keep_prob=None):
    """The utils files' 3-layer forward pass; with keep_prob, the graded dropout one."""
    if keep_prob is not None:
        np.random.seed(1)
    cache = []
    A = X
    for l in (1, 2, 3):
        W, b = parameters["W%d" % l], parameters["b%d" % l]
        Z = np.dot(W, A) + b
        A = relu(Z) if l < 3 else sigmoid(Z)
        if keep_prob is not None and l < 3:
            D = (np.random.rand(A.shape[0], A.shape[1]) < keep_prob).astype(int)
            A = A * D / keep_prob
            cache += [Z, D, A, W, b]
        else:
            cache += [Z, A, W, b]
    return A, tuple(cache)


def backward(X, Y, cache, lambd=0.0, keep_prob=None, per_example=False):
    m = X.shape[1]
    if keep_prob is None:
        Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3 = cache
    else:
        Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3 = cache
    f, s = (1. / m, 1.) if per_example else (1., 1. / m)
    z, a = ("dz", "da") if per_example else ("dZ", "dA")
    g = {}
    dZ = f * (A3 - Y)
    for l, A_prev, W in ((3, A2, W3), (2, A1, W2), (1, X, W1)):
        g[z + str(l)] = dZ
        g["dW" + str(l)] = s * np.dot(dZ, A_prev.T) + lambd / m * W
        g["db" + str(l)] = s * np.sum(dZ, axis=1, keepdims=True)
        if l > 1:
            dA = np.dot(W.T, dZ)
            if keep_prob is not None:
                dA = dA * (D2 if l == 3 else D1) / keep_prob
            g[a + str(l - 1)] = dA
            dZ = np.multiply(dA, np.int64(A_prev > 0))
    return g


def cost(a3, Y, mean=True, nan=np.nansum):
    with np.errstate(divide="ignore", invalid="ignore"):
        total = nan(np.multiply(-np.log(a3), Y) + np.multiply(-np.log(1 - a3), 1 - Y))
    return 1. / Y.shape[-1] * total if mean else total


def update_parameters(parameters, grads, learning_rate):
    for l in range(1, len(parameters) // 2 + 1):
        parameters["W%d" % l] = parameters["W%d" % l] - learning_rate * grads["dW%d" % l]
        parameters["b%d" % l] = parameters["b%d" % l] - learning_rate * grads["db%d" % l]
    return parameters


def predict(X, y, parameters):
    a3, _ = forward_propagation(X, parameters)
    p = (a3 > 0.5).astype(int)
    print("Accuracy: " + str(np.mean(p[0, :] == y[0, :])))
    return p


def init(layer_dims, scale, seed=3):
    np.random.seed(seed)
    p = {}
    for l in range(1, len(layer_dims)):
        p["W%d" % l] = np.random.randn(layer_dims[l], layer_dims[l - 1]) * scale(layer_dims[l - 1])
        p["b%d" % l] = np.zeros((layer_dims[l], 1))
    return p


def gd_model(X, Y, parameters, learning_rate, num_iterations, print_cost, print_every,
             cost_fn, lambd=0.0, keep_prob=None):
    for i in range(num_iterations):
        a3, cache = forward_propagation(X, parameters, keep_prob)
        c = cost_fn(a3, Y)
        if lambd:
            c = c + 1. / X.shape[1] * lambd / 2 * sum(np.sum(np.square(parameters["W%d" % l]))
                                                      for l in (1, 2, 3))
        grads = backward(X, Y, cache, lambd, keep_prob, per_example=cost_fn is not reg_cost)
        parameters = update_parameters(parameters, grads, learning_rate)
        if print_cost and i % print_every == 0:
            print("Cost after iteration {}: {}".format(i, c))
    return parameters


def reg_cost(a3, Y):
    return cost(a3, Y)


def init_model(X, Y, learning_rate=0.01, num_iterations=15000, print_cost=True,
               initialization="he"):
    dims = [X.shape[0], 10, 5, 1]
    if initialization == "zeros":
        p = init(dims, lambda n: 0.0)
    else:
        p = init(dims, (lambda n: 10) if initialization == "random" else
                 (lambda n: np.sqrt(2. / n)))
    return gd_model(X, Y, p, learning_rate, num_iterations, print_cost, 1000, cost)


def reg_model(X, Y, learning_rate=0.3, num_iterations=30000, print_cost=True, lambd=0,
              keep_prob=1):
    p = init([X.shape[0], 20, 3, 1], lambda n: 1 / np.sqrt(n))
    return gd_model(X, Y, p, learning_rate, num_iterations, print_cost, 10000, reg_cost,
                    lambd, None if keep_prob == 1 else keep_prob)


def vector(d, keys):
    return np.concatenate([np.reshape(d[k], (-1, 1)) for k in keys], axis=0)


def vector_to_dictionary(theta, dims=(4, 5, 3, 1)):
    p, off = {}, 0
    for l in range(1, len(dims)):
        n, k = dims[l], dims[l - 1]
        p["W%d" % l] = theta[off:off + n * k].reshape(n, k)
        off += n * k
        p["b%d" % l] = theta[off:off + n].reshape(n, 1)
        off += n
    return p


def forward_propagation_n(X, Y, parameters):
    a3, cache = forward_propagation(X, parameters)
    return cost(a3, Y, nan=np.sum), cache


def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
    keys = ["W1", "b1", "W2", "b2", "W3", "b3"]
    theta = vector(parameters, keys)
    grad = vector(gradients, ["d" + k for k in keys])
    dims = [X.shape[0]] + [parameters["W%d" % l].shape[0] for l in (1, 2, 3)]
    approx = np.zeros(theta.shape)
    for i in range(theta.shape[0]):
        plus, minus = np.copy(theta), np.copy(theta)
        plus[i] += epsilon
        minus[i] -= epsilon
        approx[i] = (forward_propagation_n(X, Y, vector_to_dictionary(plus, dims))[0]
                     - forward_propagation_n(X, Y, vector_to_dictionary(minus, dims))[0]) \
            / (2 * epsilon)
    difference = np.linalg.norm(grad - approx) / (np.linalg.norm(grad) + np.linalg.norm(approx))
    if print_msg:
        print("difference = " + str(difference))
    return difference


def random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    np.random.seed(seed)
    m = X.shape[1]
    permutation = list(np.random.permutation(m))
    X, Y = X[:, permutation], Y[:, permutation].reshape((1, m))
    batches = [(X[:, k:k + mini_batch_size], Y[:, k:k + mini_batch_size])
               for k in range(0, math.floor(m / mini_batch_size) * mini_batch_size,
                              mini_batch_size)]
    if m % mini_batch_size:
        batches.append((X[:, m - m % mini_batch_size:], Y[:, m - m % mini_batch_size:]))
    return batches


def opt_model(X, Y, layers_dims, optimizer, learning_rate=0.0007, mini_batch_size=64,
              beta=0.9, beta1=0.9, beta2=0.999, epsilon=1e-8, num_epochs=5000,
              print_cost=True, decay=None, decay_rate=1):
    p = init(layers_dims, lambda n: np.sqrt(2 / n))
    v = {"d" + k: np.zeros(x.shape) for k, x in p.items()}
    s = {k: np.zeros(x.shape) for k, x in v.items()}
    t, seed, m, lr0 = 0, 10, X.shape[1], learning_rate
    for i in range(num_epochs):
        seed += 1
        total = 0
        for bx, by in random_mini_batches(X, Y, mini_batch_size, seed):
            a3, cache = forward_propagation(bx, p)
            total += cost(a3, by, mean=False, nan=np.sum)
            g = backward(bx, by, cache, per_example=True)
            t += 1
            for k in list(p):
                dk = "d" + k
                if optimizer == "gd":
                    p[k] = p[k] - learning_rate * g[dk]
                elif optimizer == "momentum":
                    v[dk] = beta * v[dk] + (1 - beta) * g[dk]
                    p[k] = p[k] - learning_rate * v[dk]
                else:
                    v[dk] = beta1 * v[dk] + (1 - beta1) * g[dk]
                    s[dk] = beta2 * s[dk] + (1 - beta2) * np.power(g[dk], 2)
                    p[k] = p[k] - learning_rate * (v[dk] / (1 - np.power(beta1, t))) / (
                        np.sqrt(s[dk] / (1 - np.power(beta2, t))) + epsilon)
        if decay:
            learning_rate = decay(lr0, i, decay_rate)
        if print_cost and i % 1000 == 0:
            print("Cost after epoch %i: %f" % (i, total / m))
    return p


def update_lr(learning_rate0, epoch_num, decay_rate):
    return 1 / (1 + decay_rate * epoch_num) * learning_rate0


c2w1a1 = types.SimpleNamespace(model=init_model, predict=predict)
c2w1a2 = types.SimpleNamespace(model=reg_model, predict=predict)
c2w1a3 = types.SimpleNamespace(
    forward_propagation_n=forward_propagation_n, gradient_check_n=gradient_check_n,
    backward_propagation_n=lambda X, Y, cache: backward(X, Y, cache))
c2w2a1 = types.SimpleNamespace(model=opt_model, predict=predict, update_lr=update_lr)


# ------------------------------------------------------------------ data

def circles(n, noise, seed):
    """The course's make_circles(n, noise) after np.random.seed(seed); a NumPy
    stand-in with the same shapes when scikit-learn is missing."""
    np.random.seed(seed)
    try:
        from sklearn.datasets import make_circles
        X, Y = make_circles(n_samples=n, noise=noise)
    except ImportError:
        t = np.random.rand(n) * 2 * np.pi
        Y = np.arange(n) % 2
        r = np.where(Y == 1, 0.8, 1.0)
        X = np.c_[r * np.cos(t), r * np.sin(t)] + noise * np.random.randn(n, 2)
    return X.T, Y.reshape(1, n)


def moons(n, noise, seed):
    """The course's make_moons(n, noise) after np.random.seed(seed), or a stand-in."""
    np.random.seed(seed)
    try:
        from sklearn.datasets import make_moons
        X, Y = make_moons(n_samples=n, noise=noise)
    except ImportError:
        t = np.random.rand(n) * np.pi
        Y = np.arange(n) % 2
        X = np.where(Y[:, None] == 0, np.c_[np.cos(t), np.sin(t)],
                     np.c_[1 - np.cos(t), 0.5 - np.sin(t)]) + noise * np.random.randn(n, 2)
    return X.T, Y.reshape(1, n)


def spots(n, seed):
    """A stand-in for the regularization notebook's data.mat (2-D points, two classes)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-0.75, 0.65, (2, n))
    Y = ((X[0] * 2.5 + np.sin(4 * X[1]) + 0.3 * rng.standard_normal(n)) > 0).astype(float)
    return X, Y.reshape(1, n)


# ------------------------------------------------------------------ timing

def compare(flow, fastbp_module, numpy_module, argv=None):
    """Run ``flow(course)`` with the NumPy code and with fastbp, printing each
    run's time and the lines it printed (costs, accuracies) side by side."""
    import io
    import time
    from contextlib import redirect_stdout

    times = {}
    for name, course in (("NumPy", numpy_module), ("fastbp", fastbp_module)):
        out = io.StringIO()
        t0 = time.perf_counter()
        with redirect_stdout(out):
            result = flow(course)
        times[name] = time.perf_counter() - t0
        print(f"--- {name}: {times[name]:.2f} s")
        print(out.getvalue().rstrip())
        if result is not None:
            print(f"result: {result}")
    print(f"=== speed-up: {times['NumPy'] / times['fastbp']:.1f}x "
          f"(NumPy {times['NumPy']:.2f} s, fastbp {times['fastbp']:.2f} s)")
