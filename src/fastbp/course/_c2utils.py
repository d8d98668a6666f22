"""What course 2's helper files share (init_utils, reg_utils, gc_utils, opt_utils).

Their network is LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID with a
flat cache tuple ``(Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)`` (with
dropout ``(Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)``). Here it
runs on fastbp.course's generalised functions (``L_model_forward``,
``compute_cost``, ``relu_backward``) and fastbp's fused layer kernels; the
assignment modules add the course's names, seeds, defaults and prints.
Layouts work for any depth; the course's networks have three layers.
"""
import numpy as np

from fastbp import _validation as _v
from fastbp.course import L_model_forward, compute_cost, relu, relu_backward
from fastbp.course._layers import expit, output_delta
from fastbp.layers import dense_backward
from fastbp.network import Network
from fastbp.optim import SGD


def sigmoid_s(x):
    """s = 1 / (1 + exp(-x)): the helper files' ``sigmoid`` (returns s only).

    Parameters
    ----------
    x : scalar or array_like

    Returns
    -------
    s : ndarray or numpy scalar
        Of x's shape; float32 for float16/float32 input, float64 for ints.

    Raises
    ------
    TypeError
        x not real numbers (complex, strings).
    """
    return expit(x, "x")


def relu_s(x):
    """s = max(0, x): the helper files' ``relu`` (returns s only).

    Parameters
    ----------
    x : array_like

    Returns
    -------
    s : ndarray
        ``np.maximum(0, x)``, of x's shape and dtype.
    """
    return relu(x)[0]


def forward_propagation(X, parameters):
    """LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID.

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, examples as columns.
    parameters : dict
        "W1", "b1", "W2", "b2", "W3", "b3".

    Returns
    -------
    A3 : ndarray (1, m)
        The sigmoid output.
    cache : tuple (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)

    Raises
    ------
    ValueError, TypeError, KeyError
        As :func:`fastbp.course.L_model_forward`.
    """
    return forward(X, parameters)


def backward_propagation(X, Y, cache):
    """Gradients from forward_propagation's cache (reg_utils, gc_utils).

    dZ3 = A3 - Y, dW3 = dZ3 A2^T / m, db3 = rowsum(dZ3) / m, dA2 = W3^T dZ3,
    dZ2 = dA2 * (A2 > 0), and so on down to dW1 = dZ1 X^T / m.

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, examples as columns.
    Y : ndarray (1, m)
        Labels.
    cache : tuple
        The cache of :func:`forward_propagation`.

    Returns
    -------
    gradients : dict
        "dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1",
        "db1", in that order.

    Raises
    ------
    ValueError
        A malformed cache, shapes that do not chain.
    """
    return backward(X, Y, cache)


def backward_propagation_scaled(X, Y, cache):
    """Gradients from forward_propagation's cache (init_utils, opt_utils).

    dz3 = (a3 - Y) / m, dW3 = dz3 a2^T, db3 = rowsum(dz3), da2 = W3^T dz3,
    dz2 = da2 * (a2 > 0), and so on down to dW1 = dz1 X^T.

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, examples as columns.
    Y : ndarray (1, m)
        Labels.
    cache : tuple
        The cache of :func:`forward_propagation`.

    Returns
    -------
    gradients : dict
        "dz3", "dW3", "db3", "da2", "dz2", "dW2", "db2", "da1", "dz1", "dW1",
        "db1", in that order.

    Raises
    ------
    ValueError
        A malformed cache, shapes that do not chain.
    """
    return backward(X, Y, cache, per_example=True)


def compute_loss(a3, Y):
    """Cross-entropy ``1/m nansum(-Y log a3 - (1 - Y) log(1 - a3))``.

    Parameters
    ----------
    a3 : ndarray (1, m)
        The output probabilities.
    Y : ndarray (1, m) or (m,)
        Labels.

    Returns
    -------
    numpy.float32 or numpy.float64
        A NumPy scalar.

    Raises
    ------
    TypeError
        a3 not real numbers.
    """
    return cross_entropy(a3, Y)


def predict(X, y, parameters):
    """Predictions (1, m) of int 0/1 by ``a3 > 0.5``; prints ``Accuracy: ...`` against y.

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, examples as columns.
    y : ndarray (1, m) or (m,)
        Labels 0/1.
    parameters : dict
        "W1", "b1", ..., "W3", "b3".

    Returns
    -------
    p : ndarray (1, m) of int
    """
    a3, _ = forward(X, parameters)
    p = (a3[:1] > 0.5).astype(int)
    y = np.asarray(y)
    print("Accuracy: " + str(np.mean(p[0, :] == (y if y.ndim == 1 else y[0, :]))))
    return p


def predict_dec(parameters, X):
    """``a3 > 0.5`` for :func:`plot_decision_boundary`.

    ``plot_decision_boundary(lambda x: predict_dec(parameters, x.T), X, y)``.

    Parameters
    ----------
    parameters : dict
        "W1", "b1", ..., "W3", "b3".
    X : ndarray (n_x, m)
        Inputs, examples as columns.

    Returns
    -------
    ndarray (1, m) of bool
    """
    return forward(X, parameters)[0] > 0.5


def forward(X, parameters, keep_prob=1.0):
    """(A_L, flat cache) of [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID.

    With keep_prob < 1 the hidden layers' outputs get inverted dropout, masks
    drawn from ``np.random.rand`` (the caller seeds) and cached as int 0/1.
    """
    AL, caches = L_model_forward(X, parameters, keep_prob=keep_prob)
    L = len(caches)
    flat = []
    for l, c in enumerate(caches, start=1):
        (_, W, b), Z = c[0], c[1]
        A = caches[l][0][0] if l < L else AL
        flat += [Z, c[2], A, W, b] if len(c) == 3 else [Z, A, W, b]
    return AL, tuple(flat)


def backward(X, Y, cache, *, lambd=0.0, keep_prob=None, per_example=False):
    """Gradients from a flat cache, in the helper files' key order.

    dZ_L = A_L - Y; per layer dW = dZ A_prev^T / m (+ lambd / m W), db =
    rowsum(dZ) / m, dA_prev = W^T dZ (times D / keep_prob with dropout),
    dZ_prev = dA_prev * (A_prev > 0).

    keep_prob : None (the cache has no masks) or the forward pass's keep_prob.
    per_example : True gives init_utils' / opt_utils' form: keys "dz3",
        "da2", ... holding the deltas already divided by m (dz3 = (A3 - Y) / m,
        dW3 = dz3 A2^T); False reg_utils' / gc_utils': "dZ3", "dA2", ... with
        dZ3 = A3 - Y.
    """
    layers = _v.course_flat_cache(cache, keep_prob is not None)
    # np.asarray: np.result_type reads a list as a structured dtype spec
    dt = np.result_type(*(np.asarray(a) for layer in layers for a in (layer[2], layer[3])))
    X = np.asarray(X).astype(dt, copy=False)
    m = X.shape[1]
    L = len(layers)
    dZ = output_delta(np.asarray(layers[-1][2]).astype(dt, copy=False), Y)
    z, a = ("dz", "da") if per_example else ("dZ", "dA")
    if per_example:
        dZ *= 1.0 / m
    scale = 1.0 if per_example else 1.0 / m
    grads = {}
    for l in range(L, 0, -1):
        W = np.asarray(layers[l - 1][3]).astype(dt, copy=False)
        A_prev = X if l == 1 else np.asarray(layers[l - 2][2]).astype(dt, copy=False)
        dA, dW, db = dense_backward(dZ, A_prev, W, None, scale=scale, lambd=lambd)
        grads[z + str(l)] = dZ
        grads["dW" + str(l)] = dW
        grads["db" + str(l)] = db
        if l == 1:
            break
        if keep_prob is not None:
            dA = np.multiply(dA, layers[l - 2][1], dtype=dt)
            dA /= keep_prob
        grads[a + str(l - 1)] = dA
        dZ = relu_backward(dA, A_prev)
    return grads


def cross_entropy(A3, Y, *, mean=True, drop_nan=True):
    """The helper files' cost of probabilities A3 against labels Y.

    ``-sum(Y log A3 + (1 - Y) log(1 - A3))``, divided by m when ``mean``.
    Through fastbp's loss kernel when 0 < A3 < 1; otherwise as the course
    evaluates it, so saturated outputs give its inf (or, with ``drop_nan``,
    np.nansum's dropping of the 0 * inf terms).
    """
    a = _v.course_real(np.asarray(A3), "a3")
    y = np.asarray(Y)
    if y.shape != a.shape and y.size == a.size:
        # a (m,) a3 or Y against a (1, m) one, as the course's broadcasting allows
        if a.ndim == 1 and y.ndim == 2:
            a = a.reshape(y.shape)
        else:
            y = y.reshape(a.shape)
    m = a.shape[1]
    if a.size and a.dtype.kind == "f" and a.min() > 0 and a.max() < 1:
        cost = compute_cost(a, y)
        # a.dtype.type: NumPy 2's promotion (float32 stays float32) on NumPy 1 too
        return cost if mean else a.dtype.type(cost * m)
    with np.errstate(divide="ignore", invalid="ignore"):
        logprobs = np.multiply(-np.log(a), y) + np.multiply(-np.log(1 - a), 1 - y)
        total = np.nansum(logprobs) if drop_nan else np.sum(logprobs)
    return total.dtype.type(1. / m * total) if mean else total


def pyplot(what):
    return _v.optional_module("matplotlib.pyplot", what, "matplotlib")


def plot_decision_boundary(model, X, y):
    """Contour of model's predictions over the plane of X's two features, and X.

    Then ``plt.show()`` (course 2's utils show the figure; course 1's does not).

    Parameters
    ----------
    model : callable
        Takes points as rows, (k, 2), and returns k labels.
    X : ndarray (2, m)
        The points, examples as columns.
    y : ndarray (1, m) or (m,)
        Labels, the points' colours.

    Raises
    ------
    ImportError
        matplotlib is not installed (``pip install "fastbp[course]"``).
    """
    from fastbp.course.c1w3a1 import plot_decision_boundary as draw
    draw(model, X, y)
    pyplot("plot_decision_boundary").show()


def plot_costs(costs, xlabel, learning_rate):
    """The model functions' cost curve, when matplotlib is installed."""
    try:
        plt = pyplot("the cost plot")
    except ImportError:
        return
    plt.plot(costs)
    plt.ylabel('cost')
    plt.xlabel(xlabel)
    plt.title("Learning rate =" + str(learning_rate))
    plt.show()


def scatter(X, Y):
    """The data sets' scatter plot, when matplotlib is installed."""
    try:
        plt = pyplot("the data plot")
    except ImportError:
        return
    plt.scatter(X[0, :], X[1, :], c=np.ravel(Y), s=40, cmap=plt.cm.Spectral)


def make_data(maker, seed, n_samples, noise):
    """sklearn.datasets.<maker>(n_samples, noise) after ``np.random.seed(seed)``,
    as (X (2, m), Y (1, m)); sklearn draws from NumPy's global generator."""
    datasets = _v.optional_module("sklearn.datasets", "load_dataset", "scikit-learn")
    np.random.seed(seed)
    X, Y = getattr(datasets, maker)(n_samples=n_samples, noise=noise)
    return X.T, Y.reshape((1, Y.shape[0]))


def network_for(X, parameters, lambd=0.0):
    """(Network holding ``parameters``, X in its dtype) for the model loops."""
    L = 1
    while "W" + str(L + 1) in parameters:
        L += 1
    Ws = [np.asarray(parameters["W" + str(l)]) for l in range(1, L + 1)]
    dt = np.result_type(np.asarray(X), *Ws)
    dt = dt if dt in _v.FLOAT_DTYPES else np.dtype(np.float64)
    dims = [Ws[0].shape[1]] + [W.shape[0] for W in Ws]
    net = Network(dims, hidden="relu", output="sigmoid", dtype=dt.name, seed=0, lambd=lambd)
    net.parameters = parameters
    return net, np.asarray(X).astype(dt, copy=False)


def copy_parameters(net):
    """The network's parameters as a new dict in the course's key order."""
    p = net.parameters
    return {k: p[k].copy() for l in range(1, net.n_layers + 1) for k in ("W%d" % l, "b%d" % l)}


def gd_train(X, Y, parameters, learning_rate, num_iterations, every, report, lambd=0.0):
    """Full-batch gradient descent, the assignments' model loop, in compiled stretches.

    Each iteration is forward, backward (with L2 when lambd > 0) and
    ``W -= learning_rate dW``; ``report(i, parameters)`` is called before
    iteration i whenever i % every == 0 (every=0: never), so it can compute
    the course's cost there. The iterations between run as one call of
    :meth:`fastbp.Network.train_batch`. Returns the final parameters.
    """
    num_iterations = _v.course_iterations(num_iterations)
    _v.course_rates(learning_rate)
    net, X = network_for(X, parameters, lambd)
    Y = _v.course_label_values(Y, X.dtype)
    opt = SGD(learning_rate)
    X = net.check_X(X)
    y, y_code, labels = net.check_Y(Y, X.shape[1])
    _v.check_finite(y, "Y")   # once: the steps trust it (any finite labels, as the course)
    i = 0
    while i < num_iterations:
        stop = num_iterations
        if every:
            if i % every == 0:
                report(i, net.parameters)
            stop = min(stop, (i // every + 1) * every)
        net.train_batch(X, y, y_code, labels, opt, stop - i, first_loss=False,
                        check_finite=False)
        i = stop
    return copy_parameters(net)
