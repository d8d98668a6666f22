"""Course 2, week 1, assignment 3: "Gradient Checking", with its ``gc_utils``.

In the notebook, replace ``from gc_utils import ...`` and the graded cells'
definitions with::

    from fastbp.course.c2w1a3 import *

and run it unchanged: the same names, signatures, defaults, return types and
prints as the course's code (the newest edition, 2024).

The 1-D exercise: ``forward_propagation(x, theta)`` (J = theta x),
``backward_propagation(x, theta)`` (dtheta = x) and ``gradient_check(x,
theta, epsilon=1e-7, print_msg=False)``.

The N-D exercise, the three-layer network LINEAR -> RELU -> LINEAR -> RELU ->
LINEAR -> SIGMOID: ``forward_propagation_n(X, Y, parameters)`` returns
(cost, cache) with cost = ``1/m sum`` of the cross-entropy terms and cache
``(Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)``;
``backward_propagation_n(X, Y, cache)`` returns "dZ3", "dW3", "db3", "dA2",
"dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1" -- the correct gradients: the
notebook's version has two planted mistakes (in dW2 and db1) for the learner
to find, and its gradient check reports them; this one passes it.
``gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7,
print_msg=False)`` is fastbp.course's (any depth, optional ``lambd=``); Y may
be the course's (m,) vector, as in its test ``Y = np.array([1, 1, 0])``.
Its difference divides the gradients' rounding by 2 epsilon: with the
notebook's planted mistake it differs from the notebook's in the fifth or
sixth digit (0.2850931567206389 for its 0.2850931567761623); with correct
gradients it is rounding noise (about 1e-7) and differs in its first digits
(1.191e-07 for NumPy's 1.189e-07 at m = 3); the verdicts are the same.

``gc_utils``: ``sigmoid``, ``relu`` (return s only), ``dictionary_to_vector``,
``vector_to_dictionary`` (the course's shapes [4, 5, 3, 1] by default) and
``gradients_to_vector``, all fastbp.course's.
"""
import numpy as np

from fastbp import _validation as _v
from fastbp.course import (dictionary_to_vector, gradient_check_n, gradients_to_vector,
                           vector_to_dictionary)
from fastbp.course import _c2utils as _u
from fastbp.course._c2utils import relu_s as relu
from fastbp.course._c2utils import sigmoid_s as sigmoid

__all__ = [
    # graded
    "forward_propagation", "backward_propagation", "gradient_check", "forward_propagation_n",
    "backward_propagation_n", "gradient_check_n",
    # gc_utils
    "sigmoid", "relu", "dictionary_to_vector", "vector_to_dictionary", "gradients_to_vector",
]

def forward_propagation(x, theta):
    """J(theta) = theta * x.

    Parameters
    ----------
    x : float
    theta : float

    Returns
    -------
    float
        ``theta * x``.
    """
    return theta * x


def backward_propagation(x, theta):
    """dJ/dtheta = x.

    Parameters
    ----------
    x : float
    theta : float
        Not read (the derivative does not depend on it).

    Returns
    -------
    float
        ``x``.
    """
    return x


def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
    """Relative difference of backward_propagation and a centred difference of J.

    ``gradapprox = (J(theta + eps) - J(theta - eps)) / (2 eps)``;
    ``difference = |grad - gradapprox| / (|grad| + |gradapprox|)``.

    Parameters
    ----------
    x : float
    theta : float
    epsilon : float, default 1e-7
        > 0.
    print_msg : bool, default False
        Print the course's verdict (threshold 2e-7).

    Returns
    -------
    float
        The difference.

    Raises
    ------
    ValueError
        ``epsilon <= 0``.
    TypeError
        ``x`` or ``theta`` not a real number.
    """
    _v.course_epsilon(epsilon)
    _v.course_real(x, "x")
    _v.course_real(theta, "theta")
    gradapprox = (forward_propagation(x, theta + epsilon)
                  - forward_propagation(x, theta - epsilon)) / (2 * epsilon)
    grad = backward_propagation(x, theta)
    difference = np.linalg.norm(grad - gradapprox) / (np.linalg.norm(grad)
                                                      + np.linalg.norm(gradapprox))
    if print_msg:
        if difference > 2e-7:
            print("\033[93m" + "There is a mistake in the backward propagation! "
                  "difference = " + str(difference) + "\033[0m")
        else:
            print("\033[92m" + "Your backward propagation works perfectly fine! "
                  "difference = " + str(difference) + "\033[0m")
    return difference


def forward_propagation_n(X, Y, parameters):
    """The course's 3-layer network's cost and flat cache (gc_utils).

    cost = 1/m sum(-Y log A3 - (1 - Y) log(1 - A3)).

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, examples as columns.
    Y : ndarray (1, m) or (m,)
        Labels.
    parameters : dict
        "W1", "b1", "W2", "b2", "W3", "b3".

    Returns
    -------
    cost : numpy.float32 or numpy.float64
        A NumPy scalar.
    cache : tuple (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)

    Raises
    ------
    ValueError, TypeError, KeyError
        As :func:`fastbp.course.L_model_forward`.
    """
    A3, cache = _u.forward(X, parameters)
    return _u.cross_entropy(A3, Y, drop_nan=False), cache


def backward_propagation_n(X, Y, cache):
    """Gradients of forward_propagation_n's cost: dZ3 = A3 - Y, dW3 = dZ3 A2^T / m, ...

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, examples as columns.
    Y : ndarray (1, m)
        Labels.
    cache : tuple
        The cache of :func:`forward_propagation_n`.

    Returns
    -------
    dict
        "dZ3", "dW3", "db3", "dA2", "dZ2", ..., "dW1", "db1".

    Raises
    ------
    ValueError
        A malformed cache, shapes that do not chain.
    """
    return _u.backward(X, Y, cache)
