"""Course 2, week 1, assignment 1: "Initialization", with its ``init_utils``.

In the notebook, replace ``from init_utils import ...`` and the graded cells'
definitions with::

    from fastbp.course.c2w1a1 import *

and run it unchanged: the same names, signatures, defaults, seeds, return
types and prints as the course's code (the newest edition, 2024), on
fastbp's fused kernels. float32 inputs stay float32.

Graded: ``initialize_parameters_zeros`` (no seed), ``initialize_parameters_random``
(``np.random.seed(3)``, randn * 10), ``initialize_parameters_he``
(``np.random.seed(3)``, randn * sqrt(2 / n_prev)) and ``model(X, Y,
learning_rate=0.01, num_iterations=15000, print_cost=True,
initialization="he")`` for the network [n_x, 10, 5, 1].

``init_utils``: ``sigmoid``, ``relu`` (return s only), ``compute_loss``
(``1/m nansum`` of the cross-entropy terms), ``forward_propagation`` (cache
``(z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3)``), ``backward_propagation``
(keys "dz3", "dW3", "db3", "da2", ... with dz3 = (a3 - Y) / m),
``update_parameters`` (rebinds the dict's keys), ``predict`` (prints the
accuracy), ``predict_dec``, ``plot_decision_boundary`` (matplotlib) and
``load_dataset`` (scikit-learn's ``make_circles``: 300 training points after
``np.random.seed(1)``, 100 test points after ``np.random.seed(2)``).

``model`` runs its iterations in compiled calls of :class:`fastbp.Network`
between the iterations that print; the printed costs are the course's
``compute_loss`` of that iteration's forward pass (``inf`` for the large
random initialisation, as in the course). Parameters agree with the NumPy
loop to ~1e-13 after a few hundred iterations; over thousands, gradient
descent amplifies last-bit differences, as running the NumPy code on another
BLAS does. The cost curve is plotted when matplotlib is installed.
"""
import numpy as np

from fastbp import _validation as _v
from fastbp.course import (initialize_parameters_he, initialize_parameters_random,
                           initialize_parameters_zeros, update_parameters_with_gd)
from fastbp.course import _c2utils as _u

__all__ = [
    # graded
    "initialize_parameters_zeros", "initialize_parameters_random", "initialize_parameters_he",
    "model",
    # init_utils
    "sigmoid", "relu", "compute_loss", "forward_propagation", "backward_propagation",
    "update_parameters", "predict", "load_dataset", "plot_decision_boundary", "predict_dec",
]

sigmoid = _u.sigmoid_s
relu = _u.relu_s
#: W_l -= learning_rate dW_l for every layer, rebinding the keys of ``parameters``
update_parameters = update_parameters_with_gd
plot_decision_boundary = _u.plot_decision_boundary

_INITIALIZATIONS = {"zeros": initialize_parameters_zeros,
                    "random": initialize_parameters_random,
                    "he": initialize_parameters_he}


def forward_propagation(X, parameters):
    """LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID.

    Returns
    -------
    a3 : ndarray (1, m)
    cache : tuple (z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3)
    """
    return _u.forward(X, parameters)


def backward_propagation(X, Y, cache):
    """Gradients of the three-layer network from its cache.

    dz3 = (a3 - Y) / m, dW3 = dz3 a2^T, db3 = rowsum(dz3), da2 = W3^T dz3,
    dz2 = da2 * (a2 > 0), and so on down to dW1 = dz1 X^T.

    Returns
    -------
    gradients : dict with keys "dz3", "dW3", "db3", "da2", "dz2", "dW2", "db2",
        "da1", "dz1", "dW1", "db1", in that order
    """
    return _u.backward(X, Y, cache, per_example=True)


def compute_loss(a3, Y):
    """Cross-entropy ``1/m nansum(-Y log a3 - (1 - Y) log(1 - a3))``; a NumPy scalar."""
    return _u.cross_entropy(a3, Y)


def predict(X, y, parameters):
    """Predictions (1, m) of int 0/1 by ``a3 > 0.5``; prints ``Accuracy: ...`` against y."""
    return _u.predict(X, y, parameters, forward_propagation)


def predict_dec(parameters, X):
    """``a3 > 0.5`` (bool (1, m)); ``plot_decision_boundary(lambda x: predict_dec(parameters, x.T), X, y)``."""
    return _u.predict_dec(parameters, X, forward_propagation)


def load_dataset():
    """(train_X (2, 300), train_Y (1, 300), test_X (2, 100), test_Y (1, 100)), the
    course's circles (scikit-learn's ``make_circles``, noise 0.05, seeds 1 and 2);
    scatter-plots the training set when matplotlib is installed."""
    train_X, train_Y = _u.make_data("make_circles", 1, 300, .05)
    test_X, test_Y = _u.make_data("make_circles", 2, 100, .05)
    _u.scatter(train_X, train_Y)
    return train_X, train_Y, test_X, test_Y


def model(X, Y, learning_rate=0.01, num_iterations=15000, print_cost=True,
          initialization="he"):
    """Train LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID, [n_x, 10, 5, 1].

    Parameters
    ----------
    X : ndarray (n_x, m)
    Y : ndarray (1, m) of 0/1
    learning_rate : float
    num_iterations : int
    print_cost : bool
        Print ``Cost after iteration i: cost`` every 1000 iterations (and plot
        those costs at the end, with matplotlib).
    initialization : {"zeros", "random", "he"}

    Returns
    -------
    parameters : dict W1, b1, W2, b2, W3, b3
    """
    init = _INITIALIZATIONS[_v.check_choice("initialization", initialization,
                                            tuple(_INITIALIZATIONS))]
    parameters = init([X.shape[0], 10, 5, 1])
    costs = []

    def report(i, params):
        cost = compute_loss(forward_propagation(X, params)[0], Y)
        print("Cost after iteration {}: {}".format(i, cost))
        costs.append(cost)

    parameters = _u.gd_train(X, Y, parameters, learning_rate, num_iterations,
                             1000 if print_cost else 0, report)
    if print_cost:
        _u.plot_costs(costs, 'iterations (per hundreds)', learning_rate)
    return parameters
