"""Course 2 week 2 (Optimization methods): gradient descent, mini-batches,
momentum, Adam, for any number of layers."""
import math

import numpy as np

from fastbp._course import keys as _keys  # ("W{l}", "b{l}", "dW{l}", "db{l}", "dA{l}")
from fastbp._validation import check_adam_t as _check_adam_t
from fastbp._validation import course_get as _get
from fastbp._validation import course_mini_batch_inputs as _check_mini_batches
from fastbp._validation import course_n_layers as _n_layers
from fastbp._validation import course_real as _real
from fastbp._validation import course_scalar as _scalar

__all__ = ["update_parameters_with_gd", "random_mini_batches", "initialize_velocity",
           "update_parameters_with_momentum", "initialize_adam", "update_parameters_with_adam"]


def update_parameters_with_gd(parameters, grads, learning_rate):
    """W_l = W_l - learning_rate dW_l, b_l likewise.

    Course 2 week 2 ("Optimization Methods").

    Parameters
    ----------
    parameters : dict
        "W1", "b1", ..., "WL", "bL".
    grads : dict
        "dW1", "db1", ..., of the parameters' shapes.
    learning_rate : float

    Returns
    -------
    dict
        ``parameters`` itself, its keys rebound to new arrays, as the course
        does.

    Raises
    ------
    KeyError
        A gradient missing.
    TypeError
        Arrays that are not real numbers, ``learning_rate`` not a real
        number (a scalar).
    """
    L = _n_layers(parameters)
    learning_rate = _scalar(learning_rate, "learning_rate")
    for l in range(1, L + 1):
        wk, bk, dwk, dbk, _ = _keys(l)
        parameters[wk] = _real(parameters[wk], wk) - learning_rate * _real(
            _get(grads, dwk, "grads"), dwk)
        parameters[bk] = _real(parameters[bk], bk) - learning_rate * _real(
            _get(grads, dbk, "grads"), dbk)
    return parameters


def random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    """Shuffle the columns and cut them into mini-batches.

    ``np.random.seed(seed)``, ``np.random.permutation``, then batches of
    ``mini_batch_size``, the last one smaller when m is not a multiple
    (course 2 week 2's ``random_mini_batches``).

    Parameters
    ----------
    X : ndarray (n_x, m)
    Y : ndarray (n_y, m)
    mini_batch_size : int, default 64
        >= 1.
    seed : int, default 0

    Returns
    -------
    list of tuple
        ``(mini_batch_X (n_x, k), mini_batch_Y (n_y, k))``.

    Raises
    ------
    ValueError
        X and Y with different numbers of columns (a transposed Y included),
        ``mini_batch_size < 1``.
    """
    X, Y = _check_mini_batches(X, Y, mini_batch_size)
    m = X.shape[1]
    np.random.seed(seed)
    mini_batches = []
    permutation = list(np.random.permutation(m))
    shuffled_X = X[:, permutation]
    shuffled_Y = Y[:, permutation]
    if Y.shape[0] == 1:
        shuffled_Y = shuffled_Y.reshape((1, m))
    num_complete_minibatches = math.floor(m / mini_batch_size)
    for k in range(0, num_complete_minibatches):
        sl = slice(k * mini_batch_size, (k + 1) * mini_batch_size)
        mini_batches.append((shuffled_X[:, sl], shuffled_Y[:, sl]))
    if m % mini_batch_size != 0:
        sl = slice(num_complete_minibatches * mini_batch_size, m)
        mini_batches.append((shuffled_X[:, sl], shuffled_Y[:, sl]))
    return mini_batches


def _zeros_like_grads(parameters):
    L = _n_layers(parameters)
    d = {}
    for l in range(1, L + 1):
        wk, bk, dwk, dbk, _ = _keys(l)
        W = np.asarray(parameters[wk])
        b = np.asarray(_get(parameters, bk, "parameters"))
        dt = W.dtype if W.dtype == np.float32 else np.dtype(np.float64)
        d[dwk] = np.zeros(W.shape, dt)
        d[dbk] = np.zeros(b.shape, dt)
    return d


def initialize_velocity(parameters):
    """v["dW{l}"], v["db{l}"]: zeros of the parameters' shapes.

    Parameters
    ----------
    parameters : dict
        "W1", "b1", ..., "WL", "bL".

    Returns
    -------
    dict
        float32 for float32 parameters, else float64.
    """
    return _zeros_like_grads(parameters)


def update_parameters_with_momentum(parameters, grads, v, beta, learning_rate):
    """v = beta v + (1 - beta) grad; W = W - learning_rate v.

    Course 2 week 2's momentum (an exponential average of the gradients).

    Parameters
    ----------
    parameters : dict
        "W1", "b1", ..., "WL", "bL".
    grads : dict
        "dW1", "db1", ....
    v : dict
        The velocity, "dW1", "db1", ... (see :func:`initialize_velocity`).
    beta : float
        The momentum, in [0, 1).
    learning_rate : float

    Returns
    -------
    parameters : dict
    v : dict
        Both the dicts passed in, their keys rebound to new arrays, as the
        course does.

    Raises
    ------
    KeyError
        A key missing from ``grads`` or ``v``.
    TypeError
        ``beta`` or ``learning_rate`` not a real number (a scalar).
    """
    L = _n_layers(parameters)
    beta, learning_rate = _scalar(beta, "beta"), _scalar(learning_rate, "learning_rate")
    for l in range(1, L + 1):
        wk, bk, dwk, dbk, _ = _keys(l)
        for pk, gk in ((wk, dwk), (bk, dbk)):
            g = _real(_get(grads, gk, "grads"), gk)
            p = _real(parameters[pk], pk)
            v[gk] = beta * _real(_get(v, gk, "v"), gk) + (1 - beta) * g
            parameters[pk] = p - learning_rate * v[gk]
    return parameters, v


def initialize_adam(parameters):
    """(v, s): dicts of zeros with keys "dW{l}", "db{l}".

    Parameters
    ----------
    parameters : dict
        "W1", "b1", ..., "WL", "bL".

    Returns
    -------
    v : dict
    s : dict
        Zeros of the parameters' shapes (float32 for float32 parameters).
    """
    return _zeros_like_grads(parameters), _zeros_like_grads(parameters)


def update_parameters_with_adam(parameters, grads, v, s, t, learning_rate=0.01,
                                beta1=0.9, beta2=0.999, epsilon=1e-8):
    """One Adam step, the course's formulas.

    ::

        v = beta1 v + (1 - beta1) g,       v_corr = v / (1 - beta1^t)
        s = beta2 s + (1 - beta2) g^2,     s_corr = s / (1 - beta2^t)
        W = W - learning_rate v_corr / (sqrt(s_corr) + epsilon)

    Course 2 week 2; Kingma & Ba 2015 ("Adam: a method for stochastic
    optimization"), Algorithm 1. float32 arrays with Python-float
    hyperparameters stay float32.

    Parameters
    ----------
    parameters : dict
        "W1", "b1", ..., "WL", "bL".
    grads : dict
        "dW1", "db1", ....
    v : dict
        First moments, as :func:`initialize_adam` makes them.
    s : dict
        Second moments.
    t : int
        Updates made, counted from 1.
    learning_rate : float, default 0.01
    beta1 : float, default 0.9
    beta2 : float, default 0.999
    epsilon : float, default 1e-8

    Returns
    -------
    parameters, v, s : dict
        The dicts passed in, their keys rebound to new arrays.
    v_corrected, s_corrected : dict
        The bias-corrected moments.

    Raises
    ------
    ValueError
        ``t`` not a whole number >= 1 (the corrections would divide by zero).
    KeyError
        A key missing from ``grads``, ``v`` or ``s``.
    TypeError
        ``learning_rate``, ``beta1``, ``beta2`` or ``epsilon`` not a real
        number (a scalar).
    """
    t = _check_adam_t(t)
    L = _n_layers(parameters)
    learning_rate, beta1, beta2, epsilon = (
        _scalar(x, name) for x, name in ((learning_rate, "learning_rate"), (beta1, "beta1"),
                                         (beta2, "beta2"), (epsilon, "epsilon")))
    v_corrected = {}
    s_corrected = {}
    # Python floats, so float32 state stays float32 (a NumPy float64 scalar
    # would promote it under NumPy 2's rules); the same values as the course's
    c1 = float(1 - np.power(beta1, t))
    c2 = float(1 - np.power(beta2, t))
    for l in range(1, L + 1):
        wk, bk, dwk, dbk, _ = _keys(l)
        for pk, gk in ((wk, dwk), (bk, dbk)):
            g = _real(_get(grads, gk, "grads"), gk)
            parameters[pk] = _real(parameters[pk], pk)
            v[gk] = beta1 * _get(v, gk, "v") + (1 - beta1) * g
            v_corrected[gk] = v[gk] / c1
            s[gk] = beta2 * _get(s, gk, "s") + (1 - beta2) * np.power(g, 2)
            s_corrected[gk] = s[gk] / c2
            parameters[pk] = parameters[pk] - learning_rate * v_corrected[gk] / (
                np.sqrt(s_corrected[gk]) + epsilon)
    return parameters, v, s, v_corrected, s_corrected
