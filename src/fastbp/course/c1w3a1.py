"""Course 1, week 3, assignment 1: "Planar data classification with one hidden layer".

An exact drop-in for the notebook's graded functions and for the helper
module it imports, ``planar_utils``: the same names, signatures, defaults,
seeding, return types and dict keys, so the notebook runs unchanged and
prints the same numbers up to floating-point rounding, with the GEMMs in
fastbp's fused kernels. fastbp's products and logs round in another order, so
a cost usually differs in its last one or two of 16 digits; but the
notebook's 10,000-iteration run is chaotic from about iteration 7000, where
its printed six decimals start to differ (0.220609 with NumPy, 0.220656 with
fastbp, on one machine; two BLAS kernels under NumPy alone differ as much),
and the hidden-layer sweep's accuracies can differ by one test point.

Use from the notebook: replace the import cell's line
``from planar_utils import plot_decision_boundary, sigmoid, ...`` with

    from fastbp.course.c1w3a1 import *

and leave out the graded cells' definitions (or run this import after them:
the names below replace the cells' functions). ``from testCases_v2 import *``
and ``from public_tests import *`` stay as they are.

Graded functions: ``layer_sizes``, ``initialize_parameters``,
``forward_propagation``, ``compute_cost``, ``backward_propagation``,
``update_parameters``, ``nn_model``, ``predict``. Helpers (``planar_utils``):
``sigmoid``, ``load_planar_dataset``, ``load_extra_datasets``,
``plot_decision_boundary``.

Editions differ in one place, and this module follows the newest (2024):
``initialize_parameters`` draws from NumPy's global generator without
reseeding it (the 2021 edition called ``np.random.seed(2)`` inside; call it
yourself before ``initialize_parameters`` to get that edition's numbers).
``nn_model`` seeds 3 before initialising, in both editions.

Return types are the course's: ``compute_cost`` returns a Python ``float``,
``predict`` a boolean array ``A2 > 0.5``. ``compute_cost`` takes ``A2`` of
shape (1, m), or (m,) as the course's broadcasting allows, against ``Y`` of
shape (1, m). ``plot_decision_boundary`` needs matplotlib and
``load_extra_datasets`` scikit-learn (optional dependencies of fastbp).
"""
import numpy as np

from fastbp._validation import optional_module as _optional_module
from fastbp.course import backward_propagation, forward_propagation, initialize_parameters
from fastbp.course import compute_cost as _compute_cost
from fastbp.course import layer_sizes, nn_model, update_parameters
from fastbp.course._layers import expit as _expit
from fastbp.course import predict as _predict
from fastbp.datasets import load_planar_dataset

__all__ = [
    # the graded functions
    "layer_sizes", "initialize_parameters", "forward_propagation", "compute_cost",
    "backward_propagation", "update_parameters", "nn_model", "predict",
    # planar_utils
    "plot_decision_boundary", "sigmoid", "load_planar_dataset", "load_extra_datasets",
]


def compute_cost(A2, Y):
    """Cross-entropy cost -1/m sum(Y log A2 + (1 - Y) log(1 - A2)), m = Y.shape[1].

    Parameters
    ----------
    A2 : ndarray (1, m), or (m,)
        The sigmoid output of ``forward_propagation``.
    Y : ndarray (1, m)
        Labels 0/1.

    Returns
    -------
    cost : float
        A Python ``float``, as the course's ``float(np.squeeze(cost))``.
    """
    return float(_compute_cost(A2, Y))


def predict(parameters, X):
    """``A2 > 0.5`` for the network of ``forward_propagation``.

    Parameters
    ----------
    parameters : dict
        "W1", "b1", "W2", "b2".
    X : ndarray (n_x, m)
        Inputs, examples as columns.

    Returns
    -------
    predictions : ndarray of bool (1, m)

    Raises
    ------
    ValueError, TypeError, KeyError
        As :func:`fastbp.course.forward_propagation`.
    """
    return _predict(parameters, X)


# ------------------------------------------------------------- planar_utils

def sigmoid(x):
    """1 / (1 + exp(-x)) of a scalar or array (``planar_utils``: no cache).

    Parameters
    ----------
    x : scalar or array_like

    Returns
    -------
    ndarray or numpy scalar
        Of x's shape; float32 for float16/float32 input, float64 for ints.

    Raises
    ------
    TypeError
        x not real numbers (complex, strings).
    """
    return _expit(x, "x")


def load_extra_datasets():
    """The notebook's other data sets, drawn as ``planar_utils`` draws them.

    200 examples each, from scikit-learn's generators with the course's
    arguments and NumPy's global generator (unseeded, as in the course).

    Returns
    -------
    tuple of 5 (X, Y) pairs
        ``(noisy_circles, noisy_moons, blobs, gaussian_quantiles,
        no_structure)``, each X (200, 2) float64 and Y (200,) with examples as
        *rows* (the notebook transposes them); no_structure's Y is, as the
        course's, a second (200, 2) array of uniform noise.

    Raises
    ------
    ImportError
        scikit-learn is not installed (``pip install "fastbp[course]"``).
    """
    datasets = _optional_module("sklearn.datasets", "load_extra_datasets", "scikit-learn")
    N = 200
    noisy_circles = datasets.make_circles(n_samples=N, factor=.5, noise=.3)
    noisy_moons = datasets.make_moons(n_samples=N, noise=.2)
    blobs = datasets.make_blobs(n_samples=N, random_state=5, n_features=2, centers=6)
    gaussian_quantiles = datasets.make_gaussian_quantiles(
        mean=None, cov=0.5, n_samples=N, n_features=2, n_classes=2, shuffle=True,
        random_state=None)
    no_structure = np.random.rand(N, 2), np.random.rand(N, 2)
    return noisy_circles, noisy_moons, blobs, gaussian_quantiles, no_structure


def plot_decision_boundary(model, X, y):
    """Colour the plane by ``model``'s prediction and scatter the points (X, y).

    Draws on matplotlib's current axes (matplotlib is needed; the course's
    ``planar_utils.plot_decision_boundary``).

    Parameters
    ----------
    model : callable
        Takes points as rows, (k, 2), and returns k labels; the notebook
        passes ``lambda x: predict(parameters, x.T)``.
    X : ndarray (2, m)
        The points, examples as columns.
    y : ndarray (1, m) or (m,)
        Labels, the points' colours.

    Raises
    ------
    ImportError
        matplotlib is not installed (``pip install "fastbp[course]"``).
    """
    plt = _optional_module("matplotlib.pyplot", "plot_decision_boundary", "matplotlib")
    h = 0.01                                     # the grid step
    x_min, x_max = X[0, :].min() - 1, X[0, :].max() + 1
    y_min, y_max = X[1, :].min() - 1, X[1, :].max() + 1
    xx, yy = np.meshgrid(np.arange(x_min, x_max, h), np.arange(y_min, y_max, h))
    Z = np.reshape(model(np.c_[xx.ravel(), yy.ravel()]), xx.shape)
    plt.contourf(xx, yy, Z, cmap=plt.cm.Spectral)
    plt.ylabel("x2")
    plt.xlabel("x1")
    plt.scatter(X[0, :], X[1, :], c=np.ravel(y), cmap=plt.cm.Spectral)
