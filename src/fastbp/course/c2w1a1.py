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
BLAS does (the large random initialisation trains chaotically: there they
reach 1e-7 within 100 iterations). The cost curve is plotted when
matplotlib is installed.
"""
from fastbp import _validation as _v
from fastbp.course import (initialize_parameters_he, initialize_parameters_random,
                           initialize_parameters_zeros)
from fastbp.course import _c2utils as _u
from fastbp.course import update_parameters_with_gd as update_parameters
from fastbp.course._c2utils import backward_propagation_scaled as backward_propagation
from fastbp.course._c2utils import compute_loss, forward_propagation, plot_decision_boundary
from fastbp.course._c2utils import predict, predict_dec
from fastbp.course._c2utils import relu_s as relu
from fastbp.course._c2utils import sigmoid_s as sigmoid

__all__ = [
    # graded
    "initialize_parameters_zeros", "initialize_parameters_random", "initialize_parameters_he",
    "model",
    # init_utils
    "sigmoid", "relu", "compute_loss", "forward_propagation", "backward_propagation",
    "update_parameters", "predict", "load_dataset", "plot_decision_boundary", "predict_dec",
]

_INITIALIZATIONS = {"zeros": initialize_parameters_zeros,
                    "random": initialize_parameters_random,
                    "he": initialize_parameters_he}


def load_dataset():
    """The course's circles (init_utils' ``load_dataset``).

    scikit-learn's ``make_circles``, noise 0.05, seeds 1 and 2;
    scatter-plots the training set when matplotlib is installed.

    Returns
    -------
    train_X : ndarray (2, 300)
    train_Y : ndarray (1, 300)
        Labels 0/1.
    test_X : ndarray (2, 100)
    test_Y : ndarray (1, 100)

    Raises
    ------
    ImportError
        scikit-learn is not installed (``pip install "fastbp[course]"``).
    """
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
        Inputs, examples as columns.
    Y : ndarray (1, m) of 0/1
        Labels.
    learning_rate : float, default 0.01
    num_iterations : int, default 15000
    print_cost : bool, default True
        Print ``Cost after iteration i: cost`` every 1000 iterations (and plot
        those costs at the end, with matplotlib).
    initialization : {"zeros", "random", "he"}, default "he"

    Returns
    -------
    parameters : dict W1, b1, W2, b2, W3, b3

    Raises
    ------
    ValueError
        An unknown ``initialization``; shapes that do not fit, NaN or inf in
        Y, a ``learning_rate`` <= 0 or a negative ``num_iterations``.
    TypeError
        Arrays that are not real numbers.
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
