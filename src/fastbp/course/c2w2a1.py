"""Course 2, week 2, assignment 1: "Optimization Methods", with its ``opt_utils_v1a``.

In the notebook, replace ``from opt_utils_v1a import ...`` and the graded
cells' definitions with::

    from fastbp.course.c2w2a1 import *

and run it unchanged: the same names, signatures, defaults, seeds, return
types and prints as the course's code (the newest edition, 2024, whose
``update_parameters_with_adam`` returns five values and which adds learning
rate decay). float32 inputs stay float32, also under NumPy 2's promotion
rules with Python-float hyperparameters.

Graded (all fastbp.course's): ``update_parameters_with_gd(parameters, grads,
learning_rate)``, ``random_mini_batches(X, Y, mini_batch_size=64, seed=0)``,
``initialize_velocity``, ``update_parameters_with_momentum(parameters, grads,
v, beta, learning_rate)``, ``initialize_adam``,
``update_parameters_with_adam(parameters, grads, v, s, t, learning_rate=0.01,
beta1=0.9, beta2=0.999, epsilon=1e-8)`` returning (parameters, v, s,
v_corrected, s_corrected) and rejecting t < 1, ``update_lr(learning_rate0,
epoch_num, decay_rate)`` and ``schedule_lr_decay(learning_rate0, epoch_num,
decay_rate, time_interval=1000)``.

``model(X, Y, layers_dims, optimizer, learning_rate=0.0007,
mini_batch_size=64, beta=0.9, beta1=0.9, beta2=0.999, epsilon=1e-8,
num_epochs=5000, print_cost=True, decay=None, decay_rate=1)`` with optimizer
"gd", "momentum" or "adam": each epoch draws the course's mini-batches
(``random_mini_batches`` with seeds 11, 12, ...) and runs one compiled
:class:`fastbp.Network` step per mini-batch (the same formulas); prints
``Cost after epoch i: ...`` every 1000 epochs (and the learning rate with
``decay``), records the cost every 100 and plots the record (matplotlib).
The mini-batch costs come from fastbp's loss kernel (logs clipped at the
smallest normal number: finite where the course's would be inf).

``opt_utils_v1a``: ``sigmoid``, ``relu`` (return s only),
``load_params_and_grads(seed=1)``, ``initialize_parameters`` (``np.random.seed(3)``,
randn * sqrt(2 / n_prev), i.e. ``initialize_parameters_he``),
``compute_cost`` (the *sum* of the cross-entropy terms over the mini-batch),
``forward_propagation``, ``backward_propagation`` (keys "dz3", "dW3", ...
with dz3 = (a3 - Y) / m), ``predict``, ``predict_dec``,
``plot_decision_boundary`` and ``load_dataset`` (scikit-learn's
``make_moons``, 300 points, noise 0.2, after ``np.random.seed(3)``).
"""
import numpy as np

from fastbp import _validation as _v
from fastbp.course import initialize_parameters_he as initialize_parameters
from fastbp.course import (initialize_adam, initialize_velocity, random_mini_batches,
                           schedule_lr_decay, update_lr, update_parameters_with_adam,
                           update_parameters_with_gd, update_parameters_with_momentum)
from fastbp.course import _c2utils as _u
from fastbp.course._c2utils import backward_propagation_scaled as backward_propagation
from fastbp.course._c2utils import forward_propagation, plot_decision_boundary
from fastbp.course._c2utils import predict, predict_dec
from fastbp.course._c2utils import relu_s as relu
from fastbp.course._c2utils import sigmoid_s as sigmoid
from fastbp.optim import SGD, Adam

__all__ = [
    # graded
    "update_parameters_with_gd", "random_mini_batches", "initialize_velocity",
    "update_parameters_with_momentum", "initialize_adam", "update_parameters_with_adam",
    "update_lr", "schedule_lr_decay", "model",
    # opt_utils_v1a
    "sigmoid", "relu", "load_params_and_grads", "initialize_parameters", "compute_cost",
    "forward_propagation", "backward_propagation", "predict", "predict_dec",
    "plot_decision_boundary", "load_dataset",
]
_OPTIMIZERS = ("gd", "momentum", "adam")


def load_params_and_grads(seed=1):
    """Parameters and gradients drawn with randn after ``np.random.seed(seed)``.

    Parameters
    ----------
    seed : int, default 1

    Returns
    -------
    tuple of 8 ndarray
        (W1, b1, W2, b2, dW1, db1, dW2, db2), shapes (2, 3), (2, 1), (3, 3),
        (3, 1) twice.

    Raises
    ------
    ValueError, TypeError
        A seed ``np.random.seed`` does not take.
    """
    np.random.seed(_v.course_seed(seed))
    return tuple(np.random.randn(*shape) for shape in ((2, 3), (2, 1), (3, 3), (3, 1)) * 2)


def compute_cost(a3, Y):
    """The *sum* over the examples of -Y log a3 - (1 - Y) log(1 - a3) (not divided by m).

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
    return _u.cross_entropy(a3, Y, mean=False, drop_nan=False)


def load_dataset():
    """The course's moons (opt_utils_v1a's ``load_dataset``).

    scikit-learn's ``make_moons``, noise 0.2, after ``np.random.seed(3)``;
    scatter-plots them when matplotlib is installed.

    Returns
    -------
    train_X : ndarray (2, 300)
    train_Y : ndarray (1, 300)
        Labels 0/1.

    Raises
    ------
    ImportError
        scikit-learn is not installed (``pip install "fastbp[course]"``).
    """
    train_X, train_Y = _u.make_data("make_moons", 3, 300, .2)
    _u.scatter(train_X, train_Y)
    return train_X, train_Y


def model(X, Y, layers_dims, optimizer, learning_rate=0.0007, mini_batch_size=64, beta=0.9,
          beta1=0.9, beta2=0.999, epsilon=1e-8, num_epochs=5000, print_cost=True, decay=None,
          decay_rate=1):
    """Train [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID with mini-batches.

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, examples as columns.
    Y : ndarray (1, m) of 0/1
        Labels.
    layers_dims : list [n_x, n_1, ..., 1]
        The layer sizes.
    optimizer : {"gd", "momentum", "adam"}
    learning_rate : float, default 0.0007
    mini_batch_size : int, default 64
    beta : float, default 0.9
        Momentum.
    beta1 : float, default 0.9
        Adam's first-moment decay.
    beta2 : float, default 0.999
        Adam's second-moment decay.
    epsilon : float, default 1e-8
        Adam's epsilon.
    num_epochs : int, default 5000
    print_cost : bool, default True
        Print the mean cost every 1000 epochs, record it every 100 (plotted).
    decay : callable (learning_rate0, epoch_num, decay_rate) -> learning rate, optional
        ``update_lr`` or ``schedule_lr_decay``; applied after each epoch.
    decay_rate : float, default 1
        Passed to ``decay``.

    Returns
    -------
    parameters : dict W1, b1, ..., WL, bL

    Raises
    ------
    ValueError
        An unknown ``optimizer``; a ``learning_rate`` <= 0, betas outside [0,
        1), ``epsilon`` <= 0 (for the optimizer that reads them); a negative
        ``num_epochs``, ``mini_batch_size < 1``; NaN or inf in Y; shapes that
    do not fit.
    TypeError
        Arrays that are not real numbers, a non-int ``num_epochs``.
    """
    _v.check_choice("optimizer", optimizer, _OPTIMIZERS)
    num_epochs = _v.course_iterations(num_epochs, "num_epochs")
    if optimizer == "momentum":
        _v.course_rates(learning_rate, beta=beta)
    elif optimizer == "adam":
        _v.course_rates(learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon)
    else:
        _v.course_rates(learning_rate)
    costs = []
    seed = 10
    m = X.shape[1]
    learning_rate0 = learning_rate
    net, X = _u.network_for(X, initialize_parameters(layers_dims))
    Y = _v.course_label_values(Y, X.dtype)
    _v.check_finite(np.asarray(Y), "Y")   # once, for every batch (any finite labels)
    if optimizer == "gd":
        opt = SGD(learning_rate)
    elif optimizer == "momentum":
        opt = SGD(learning_rate, momentum=beta)
    else:
        opt = Adam(learning_rate, beta1, beta2, epsilon)
    for i in range(num_epochs):
        seed = seed + 1
        cost_total = 0
        for minibatch_X, minibatch_Y in random_mini_batches(X, Y, mini_batch_size, seed):
            Xb = net.check_X(minibatch_X)
            yb, y_code, labels = net.check_Y(minibatch_Y, Xb.shape[1])
            loss = net.train_batch(Xb, yb, y_code, labels, opt, 1, first_loss=print_cost,
                                   check_finite=False)
            if print_cost:
                cost_total += loss * Xb.shape[1]
        cost_avg = cost_total / m
        if decay:
            learning_rate = decay(learning_rate0, i, decay_rate)
            opt.lr = learning_rate
        if print_cost and i % 1000 == 0:
            print("Cost after epoch %i: %f" % (i, cost_avg))
            if decay:
                print("learning rate after epoch %i: %f" % (i, learning_rate))
        if print_cost and i % 100 == 0:
            costs.append(cost_avg)
    if print_cost:
        _u.plot_costs(costs, 'epochs (per 100)', learning_rate)
    return _u.copy_parameters(net)
