"""Course 2, week 1, assignment 2: "Regularization", with its ``reg_utils``.

In the notebook, replace ``from reg_utils import ...`` and the graded cells'
definitions with::

    from fastbp.course.c2w1a2 import *

and run it unchanged: the same names, signatures, defaults, seeds, cache
layouts, dict keys and prints as the course's code (the newest edition,
2024), on fastbp's fused kernels. float32 inputs stay float32.

Graded: ``compute_cost_with_regularization(A3, Y, parameters, lambd)``,
``backward_propagation_with_regularization(X, Y, cache, lambd)``,
``forward_propagation_with_dropout(X, parameters, keep_prob=0.5)`` (seeds
NumPy's global generator with 1 on entry, as the course; masks D1, D2 are
int 0/1; cache ``(Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)``)
and ``backward_propagation_with_dropout(X, Y, cache, keep_prob)``. The
gradient dicts carry "dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1",
"dZ1", "dW1", "db1" in that order, with dZ3 = A3 - Y.

``model(X, Y, learning_rate=0.3, num_iterations=30000, print_cost=True,
lambd=0, keep_prob=1)`` trains [n_x, 20, 3, 1], printing the cost every
10000 iterations and recording it every 1000 (plotted with matplotlib).
Without dropout the iterations run in compiled calls of
:class:`fastbp.Network` between the recorded ones; with dropout each
iteration calls the functions above, the masks drawn after
``np.random.seed(1)`` as in the course. The course asserts that lambd and
keep_prob are not both used; here they combine.

``reg_utils``: ``sigmoid``, ``relu`` (return s only), ``initialize_parameters``
(``np.random.seed(3)``, randn / sqrt(n_prev)), ``compute_cost`` (``1/m nansum``),
``forward_propagation``, ``backward_propagation``, ``update_parameters``,
``predict``, ``predict_dec``, ``plot_decision_boundary`` and
``load_2D_dataset(path="datasets/data.mat")``: the course's file is not
redistributable; the default reads it where the notebook keeps it, and a
missing file raises FileNotFoundError naming the path.

``compute_cost_with_regularization`` is fastbp.course's (any depth): its
cross-entropy uses logs clipped at the smallest normal number, so saturated
outputs give a large finite cost where the course's gives inf.
"""
import numpy as np

from fastbp import _validation as _v
from fastbp.course import compute_cost_with_regularization
from fastbp.course import _c2utils as _u
from fastbp.course import update_parameters_with_gd as update_parameters
from fastbp.course._c2utils import backward_propagation, forward_propagation
from fastbp.course._c2utils import compute_loss as compute_cost
from fastbp.course._c2utils import plot_decision_boundary, predict, predict_dec
from fastbp.course._c2utils import relu_s as relu
from fastbp.course._c2utils import sigmoid_s as sigmoid

__all__ = [
    # graded
    "compute_cost_with_regularization", "backward_propagation_with_regularization",
    "forward_propagation_with_dropout", "backward_propagation_with_dropout", "model",
    # reg_utils
    "sigmoid", "relu", "initialize_parameters", "compute_cost", "forward_propagation",
    "backward_propagation", "update_parameters", "predict", "predict_dec",
    "plot_decision_boundary", "load_2D_dataset",
]


def initialize_parameters(layer_dims):
    """W_l = randn(n_l, n_{l-1}) / sqrt(n_{l-1}) after ``np.random.seed(3)``; b_l zeros.

    Parameters
    ----------
    layer_dims : sequence of int
        ``[n_x, n_1, ..., n_L]``.

    Returns
    -------
    dict
        "W1", "b1", ..., "WL", "bL", float64.

    Raises
    ------
    ValueError
        Fewer than two sizes, or a size below 1.
    TypeError
        Not a sequence of ints.
    """
    layer_dims = _v.check_layer_dims(layer_dims)
    np.random.seed(3)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters['W' + str(l)] = (np.random.randn(layer_dims[l], layer_dims[l - 1])
                                    / np.sqrt(layer_dims[l - 1]))
        parameters['b' + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def backward_propagation_with_regularization(X, Y, cache, lambd):
    """backward_propagation with the L2 term: dW_l += lambd / m W_l.

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, examples as columns.
    Y : ndarray (1, m)
        Labels.
    cache : tuple
        The cache of ``forward_propagation``.
    lambd : float
        L2 strength, >= 0.

    Returns
    -------
    dict
        "dZ3", "dW3", "db3", "dA2", "dZ2", ..., "dW1", "db1".

    Raises
    ------
    ValueError
        A malformed cache, shapes that do not chain, a negative ``lambd``.
    """
    return _u.backward(X, Y, cache, lambd=lambd)


def forward_propagation_with_dropout(X, parameters, keep_prob=0.5):
    """Forward pass with inverted dropout on the two hidden layers.

    Seeds NumPy's global generator with 1, then per hidden layer
    ``D = (np.random.rand(*A.shape) < keep_prob)`` as int,
    ``A = A * D / keep_prob``.

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, examples as columns.
    parameters : dict
        "W1", "b1", "W2", "b2", "W3", "b3".
    keep_prob : float, default 0.5
        In (0, 1].

    Returns
    -------
    A3 : ndarray (1, m)
    cache : tuple
        (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3); A1, A2 are
        the dropped, rescaled activations.

    Raises
    ------
    ValueError
        A ``keep_prob`` outside (0, 1]; shapes that do not chain.
    """
    np.random.seed(1)
    if keep_prob != 1:
        _v.check_keep_prob(keep_prob, 2)
        return _u.forward(X, parameters, keep_prob)
    A3, cache = _u.forward(X, parameters)          # keep_prob = 1: all-ones masks,
    D1, D2 = ((np.random.rand(*np.shape(cache[i])) < 1).astype(int)   # drawn as the course
              for i in (1, 5))
    return A3, cache[:1] + (D1,) + cache[1:5] + (D2,) + cache[5:]


def backward_propagation_with_dropout(X, Y, cache, keep_prob):
    """Backward pass of forward_propagation_with_dropout: dA_l = (W^T dZ) * D_l / keep_prob.

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, examples as columns.
    Y : ndarray (1, m)
        Labels.
    cache : tuple
        The cache of :func:`forward_propagation_with_dropout`.
    keep_prob : float
        The forward pass's, in (0, 1].

    Returns
    -------
    dict
        "dZ3", "dW3", "db3", "dA2", "dZ2", ..., "dW1", "db1".

    Raises
    ------
    ValueError
        A ``keep_prob`` outside (0, 1], a malformed cache.
    """
    _v.check_keep_prob(keep_prob, 2)
    return _u.backward(X, Y, cache, keep_prob=keep_prob)


def load_2D_dataset(path="datasets/data.mat"):
    """The course's 2-D data (reg_utils' ``load_2D_dataset``).

    Read from its ``data.mat`` (keys X, y, Xval, yval) with
    scipy.io.loadmat; scatter-plots the training set when matplotlib is
    installed.

    Parameters
    ----------
    path : str or os.PathLike, default "datasets/data.mat"
        Relative to the working directory, as in the notebook.

    Returns
    -------
    train_X : ndarray (2, 211)
    train_Y : ndarray (1, 211)
    test_X : ndarray (2, 200)
    test_Y : ndarray (1, 200)

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    """
    path = _v.course_data_file(path, "load_2D_dataset")
    data = _v.optional_module("scipy.io", "load_2D_dataset", "scipy").loadmat(path)
    train_X = data['X'].T
    train_Y = data['y'].T
    test_X = data['Xval'].T
    test_Y = data['yval'].T
    _u.scatter(train_X, train_Y)
    return train_X, train_Y, test_X, test_Y


def model(X, Y, learning_rate=0.3, num_iterations=30000, print_cost=True, lambd=0,
          keep_prob=1):
    """Train LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID, [n_x, 20, 3, 1].

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, examples as columns.
    Y : ndarray (1, m) of 0/1
        Labels.
    learning_rate : float, default 0.3
    num_iterations : int, default 30000
    print_cost : bool, default True
        Print ``Cost after iteration i: cost`` every 10000 iterations; record
        the cost every 1000 and plot the record at the end (matplotlib).
    lambd : float, default 0
        L2 strength (0: none).
    keep_prob : float, default 1
        Dropout keep probability of the hidden layers (1: none).

    Returns
    -------
    parameters : dict W1, b1, W2, b2, W3, b3

    Raises
    ------
    ValueError
        A negative ``lambd``, a ``keep_prob`` outside (0, 1], a
        ``learning_rate`` <= 0, a negative ``num_iterations``; shapes that do
        not fit, NaN or inf in Y.
    TypeError
        Arrays that are not real numbers.
    """
    lambd = _v.check_lambd(lambd)
    _v.course_rates(learning_rate)       # both paths: the dropout loop's too
    if keep_prob != 1:
        _v.check_keep_prob(keep_prob, 2)
    parameters = initialize_parameters([X.shape[0], 20, 3, 1])
    costs = []

    def cost_of(a3, params):
        if lambd == 0:
            return compute_cost(a3, Y)
        return compute_cost_with_regularization(a3, Y, params, lambd)

    def report(i, cost):
        if i % 10000 == 0:
            print("Cost after iteration {}: {}".format(i, cost))
        costs.append(cost)

    every = 1000 if print_cost else 0
    if keep_prob == 1:
        parameters = _u.gd_train(
            X, Y, parameters, learning_rate, num_iterations, every,
            lambda i, p: report(i, cost_of(forward_propagation(X, p)[0], p)), lambd)
    else:
        for i in range(_v.course_iterations(num_iterations)):
            a3, cache = forward_propagation_with_dropout(X, parameters, keep_prob)
            if every and i % every == 0:
                report(i, cost_of(a3, parameters))
            grads = _u.backward(X, Y, cache, lambd=lambd, keep_prob=keep_prob)
            parameters = update_parameters(parameters, grads, learning_rate)
    if print_cost:
        _u.plot_costs(costs, 'iterations (x1,000)', learning_rate)
    return parameters
