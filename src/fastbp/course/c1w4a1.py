"""Course 1, week 4, assignment 1: "Building your Deep Neural Network: Step by Step".

An exact drop-in for the notebook's graded functions and for the helper
module it imports, ``dnn_utils``: the same names, signatures, seeding,
return types, caches and dict keys, so the notebook runs unchanged and
prints the same numbers up to floating-point rounding (a printed cost can
differ in its last one or two of 16 digits: fastbp's products and logs round
in another order), with the GEMMs in fastbp's fused kernels.

Use from the notebook: replace the import cell's line
``from dnn_utils import sigmoid, sigmoid_backward, relu, relu_backward``
with

    from fastbp.course.c1w4a1 import *

and leave out the graded cells' definitions (or run this import after them:
the names below replace the cells' functions). ``from testCases import *``
and ``from public_tests import *`` stay as they are.

Graded functions: ``initialize_parameters(n_x, n_h, n_y)`` (seeds 1, weights
0.01 randn), ``initialize_parameters_deep(layer_dims)`` (seeds 3, weights
0.01 randn), ``linear_forward``, ``linear_activation_forward``,
``L_model_forward``, ``compute_cost``, ``linear_backward``,
``linear_activation_backward``, ``L_model_backward``,
``update_parameters(params, grads, learning_rate)``. Helpers
(``dnn_utils``): ``sigmoid``, ``relu``, ``sigmoid_backward``,
``relu_backward``.

Return types are the course's: ``compute_cost`` returns ``np.squeeze`` of
the cost, a 0-d ndarray, of the dtype NumPy 2's promotion gives the
course's expression (float32 for a float32 ``AL`` with float32 or uint8
labels, float64 with int64 or bool ones; also under NumPy 1); caches are
``((A_prev, W, b), Z)``; ``L_model_backward``'s dict holds "dA{l-1}",
"dW{l}", "db{l}" in the course's order; ``update_parameters`` returns a
new dict and leaves ``params`` as it was. The 2021 and 2024 editions agree on all of these.

``fastbp.course`` has the same functions generalised (dropout, L2); the
seeding and return types here are this assignment's.
"""
import numpy as np

from fastbp.course import L_model_backward as _L_model_backward
from fastbp.course import L_model_forward as _L_model_forward
from fastbp.course import compute_cost as _compute_cost
from fastbp.course import initialize_parameters as _initialize_parameters
from fastbp.course import linear_activation_backward, linear_activation_forward
from fastbp.course import linear_backward, linear_forward
from fastbp.course import relu, relu_backward, sigmoid, sigmoid_backward
from fastbp.course import update_parameters as _update_parameters
from fastbp.course._initialization import initialize_parameters_small as _small_layers

__all__ = [
    # the graded functions
    "initialize_parameters", "initialize_parameters_deep", "linear_forward",
    "linear_activation_forward", "L_model_forward", "compute_cost", "linear_backward",
    "linear_activation_backward", "L_model_backward", "update_parameters",
    # dnn_utils
    "sigmoid", "relu", "sigmoid_backward", "relu_backward",
]


def initialize_parameters(n_x, n_h, n_y):
    """``np.random.seed(1)``, then W1 (n_h, n_x), W2 (n_y, n_h) = 0.01 randn
    and b1 (n_h, 1), b2 (n_y, 1) zeros.

    Parameters
    ----------
    n_x : int
        Input size, >= 1.
    n_h : int
        Hidden units, >= 1.
    n_y : int
        Output size, >= 1.

    Returns
    -------
    parameters : dict with keys "W1", "b1", "W2", "b2"
        float64.

    Raises
    ------
    ValueError, TypeError
        As :func:`fastbp.course.initialize_parameters`.
    """
    np.random.seed(1)
    return _initialize_parameters(n_x, n_h, n_y)


def initialize_parameters_deep(layer_dims):
    """``np.random.seed(3)``, then W_l = 0.01 randn(n_l, n_{l-1}), b_l zeros.

    Parameters
    ----------
    layer_dims : list of ints [n_x, n_1, ..., n_L]
        At least two sizes, each >= 1.

    Returns
    -------
    parameters : dict with keys "W1", "b1", ..., "WL", "bL"
        float64.

    Raises
    ------
    ValueError, TypeError
        As :func:`fastbp.course.initialize_parameters_deep`.
    """
    np.random.seed(3)
    return _small_layers(layer_dims)


def L_model_forward(X, parameters):
    """[LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID.

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, examples as columns.
    parameters : dict
        "W1", "b1", ..., "WL", "bL".

    Returns
    -------
    AL : ndarray (1, m)
        The sigmoid output.
    caches : list of the L caches ((A_prev, W, b), Z)

    Raises
    ------
    ValueError, TypeError, KeyError
        As :func:`fastbp.course.L_model_forward`.
    """
    return _L_model_forward(X, parameters)


def compute_cost(AL, Y):
    """Cross-entropy cost -1/m sum(Y log AL + (1 - Y) log(1 - AL)), m = Y.shape[1].

    Parameters
    ----------
    AL : ndarray (1, m), or (m,)
        The sigmoid output.
    Y : ndarray (1, m)
        Labels.

    Returns
    -------
    cost : 0-d ndarray
        As the course's ``np.squeeze(cost)``; its dtype is the one NumPy
        gives the course's expression (``AL``, ``Y`` and ``1 - Y`` promoted
        together).

    Raises
    ------
    ValueError, TypeError
        As :func:`fastbp.course.compute_cost`.
    """
    y = Y if isinstance(Y, np.ndarray) else np.asarray(Y)
    cost = _compute_cost(AL, y)           # checks Y's dtype and values first
    dt = np.result_type(np.asarray(AL).dtype, y.dtype, (1 - y.ravel()[:1]).dtype)
    return np.array(cost, dtype=dt)


def L_model_backward(AL, Y, caches):
    """Gradients of [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID.

    Parameters
    ----------
    AL : ndarray (1, m)
        The output of :func:`L_model_forward`.
    Y : ndarray (1, m)
        Labels.
    caches : list
        The caches :func:`L_model_forward` returned.

    Returns
    -------
    grads : dict with "dA{L-1}", "dW{L}", "db{L}", ..., "dA0", "dW1", "db1"

    Raises
    ------
    ValueError, TypeError
        As :func:`fastbp.course.L_model_backward`.
    """
    return _L_model_backward(AL, Y, caches)


def update_parameters(params, grads, learning_rate):
    """W_l - learning_rate dW_l and b_l - learning_rate db_l for every layer.

    Parameters
    ----------
    params : dict
        "W1", "b1", ..., "WL", "bL".
    grads : dict
        "dW1", "db1", ..., of the parameters' shapes.
    learning_rate : float

    Returns
    -------
    dict
        A new dict; ``params`` and its arrays are left as they were.

    Raises
    ------
    ValueError, TypeError, KeyError
        As :func:`fastbp.course.update_parameters`.
    """
    return _update_parameters(params, grads, learning_rate)
