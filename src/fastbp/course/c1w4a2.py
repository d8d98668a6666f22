"""Course 1 week 4 assignment 2, "Deep Neural Network for Image Classification: Application".

An exact drop-in for the notebook's graded functions and for the helper
module it imports, ``dnn_app_utils_v3``: the same names, signatures,
defaults, seeding, return types and printed lines, so the notebook runs
unchanged and prints the same numbers up to floating-point rounding (a
printed cost can differ in its last one or two of 16 digits: the cost
comes from the logits); the training loops run in compiled
calls of :class:`fastbp.Network`.

Use from the notebook: replace the import cell's line
``from dnn_app_utils_v3 import *`` with

    from fastbp.course.c1w4a2 import *

and leave out the graded cells' definitions of ``two_layer_model`` and
``L_layer_model`` (or run this import after them). ``from public_tests import
*`` stays as it is.

Graded functions: ``two_layer_model`` and ``L_layer_model`` (both
``learning_rate=0.0075, num_iterations=3000, print_cost=False``; seed 1;
return ``(parameters, costs)`` with the costs of iterations 0, 100, ... as
0-d ndarrays, the course's type; print "Cost after iteration i: cost" every
100 iterations and at the last one when ``print_cost``).

Helpers (``dnn_app_utils_v3``): ``load_data(path="datasets")`` reads the
course's ``train_catvnoncat.h5`` and ``test_catvnoncat.h5`` (h5py needed);
``initialize_parameters`` (seed 1, weights 0.01 randn) and
``initialize_parameters_deep`` (seed 1, weights randn / sqrt(n_{l-1}));
``linear_forward`` ... ``L_model_backward``, ``compute_cost`` (0-d ndarray)
as in :mod:`fastbp.course.c1w4a1`; ``update_parameters(parameters, grads,
learning_rate)``, which rebinds the keys of ``parameters`` and returns it,
as this helper module does; ``predict(X, y, parameters)``, which prints
"Accuracy: ..." and returns the 0/1 predictions as float64 (1, m);
``print_mislabeled_images`` (matplotlib needed); ``sigmoid``, ``relu``,
``sigmoid_backward``, ``relu_backward``.

The 2021 and 2024 editions agree on all of these.
"""
import numpy as np

from fastbp._validation import course_h5_files as _h5_files
from fastbp._validation import optional_module as _optional_module
from fastbp.course import L_layer_model as _L_layer_model
from fastbp.course import initialize_parameters_deep
from fastbp.course import predict as _predict
from fastbp.course import two_layer_model as _two_layer_model
from fastbp.course import update_parameters_with_gd as _update_parameters_in_place
from fastbp.course.c1w4a1 import (L_model_backward, L_model_forward, compute_cost,
                                  initialize_parameters, linear_activation_backward,
                                  linear_activation_forward, linear_backward, linear_forward,
                                  relu, relu_backward, sigmoid, sigmoid_backward)

__all__ = [
    # the graded functions
    "two_layer_model", "L_layer_model",
    # dnn_app_utils_v3
    "sigmoid", "relu", "relu_backward", "sigmoid_backward", "load_data",
    "initialize_parameters", "initialize_parameters_deep", "linear_forward",
    "linear_activation_forward", "L_model_forward", "compute_cost", "linear_backward",
    "linear_activation_backward", "L_model_backward", "update_parameters", "predict",
    "print_mislabeled_images",
]

#: the course's data files, in the notebook's datasets/ folder
TRAIN_FILE = "train_catvnoncat.h5"
TEST_FILE = "test_catvnoncat.h5"


def _course_costs(trained):
    """(parameters, costs) with the costs as the course's 0-d ndarrays."""
    parameters, costs = trained
    return parameters, [np.asarray(c) for c in costs]


def two_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                    print_cost=False):
    """Train LINEAR -> RELU -> LINEAR -> SIGMOID with gradient descent.

    Seeds 1 and initialises with ``initialize_parameters``, as the course.

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, examples as columns.
    Y : ndarray (1, m)
        Labels.
    layers_dims : tuple of int
        ``(n_x, n_h, n_y)``.
    learning_rate : float, default 0.0075
    num_iterations : int, default 3000
    print_cost : bool, default False
        Print the cost every 100 iterations (and at the last one).

    Returns
    -------
    parameters : dict
        W1, b1, W2, b2.
    costs : list of 0-d ndarray
        The costs of iterations 0, 100, 200, ....

    Raises
    ------
    ValueError, TypeError
        As :func:`fastbp.course.two_layer_model`.
    """
    return _course_costs(_two_layer_model(X, Y, layers_dims, learning_rate, num_iterations,
                                          print_cost))


def L_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                  print_cost=False):
    """Train [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID with gradient descent.

    Seeds 1 and initialises with ``initialize_parameters_deep``, as the course.

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, examples as columns.
    Y : ndarray (1, m)
        Labels.
    layers_dims : sequence of int
        ``[n_x, n_1, ..., n_L]``.
    learning_rate : float, default 0.0075
    num_iterations : int, default 3000
    print_cost : bool, default False
        Print the cost every 100 iterations (and at the last one).

    Returns
    -------
    parameters : dict
        W1, b1, ..., WL, bL.
    costs : list of 0-d ndarray
        The costs of iterations 0, 100, 200, ....

    Raises
    ------
    ValueError, TypeError
        As :func:`fastbp.course.L_layer_model`.
    """
    return _course_costs(_L_layer_model(X, Y, layers_dims, learning_rate, num_iterations,
                                        print_cost))


# --------------------------------------------------------- dnn_app_utils_v3

def update_parameters(parameters, grads, learning_rate):
    """W_l = W_l - learning_rate dW_l, b_l likewise, for every layer.

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
        ``parameters`` itself, its keys rebound to new arrays, as
        ``dnn_app_utils_v3`` does.

    Raises
    ------
    ValueError, TypeError, KeyError
        As :func:`fastbp.course.update_parameters`.
    """
    return _update_parameters_in_place(parameters, grads, learning_rate)


def predict(X, y, parameters):
    """Predict with the L-layer network and print the accuracy against y.

    Prints ``"Accuracy: " + str(accuracy)`` as the course does.

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, examples as columns.
    y : ndarray (1, m)
        Labels 0/1.
    parameters : dict
        "W1", "b1", ..., "WL", "bL".

    Returns
    -------
    p : ndarray float64 (1, m)
        Predictions 0/1.

    Raises
    ------
    ValueError, TypeError, KeyError
        As :func:`fastbp.course.L_model_forward`.
    """
    return _predict(X, y, parameters)


def load_data(path="datasets"):
    """The course's cat / non-cat images, from its two h5 files in ``path``.

    Parameters
    ----------
    path : str or os.PathLike, default "datasets"
        The folder with ``train_catvnoncat.h5`` and ``test_catvnoncat.h5``;
        the notebook's ``datasets/`` (relative to the working directory, as
        in the course).

    Returns
    -------
    train_x_orig : ndarray (209, 64, 64, 3) uint8
        The training images (shapes for the course's files; other files give
        their own).
    train_y : ndarray (1, 209)
        Their labels 0/1.
    test_x_orig : ndarray (50, 64, 64, 3) uint8
        The test images.
    test_y : ndarray (1, 50)
        Their labels.
    classes : ndarray of bytes
        ``[b'non-cat', b'cat']``.

    Raises
    ------
    FileNotFoundError
        The files are not in ``path`` (the message names them).
    ImportError
        h5py is not installed (``pip install "fastbp[course]"``).
    """
    train_path, test_path = _h5_files(path, (TRAIN_FILE, TEST_FILE))
    h5py = _optional_module("h5py", "load_data (the course's .h5 files)")
    with h5py.File(train_path, "r") as f:
        train_x = np.array(f["train_set_x"][:])
        train_y = np.array(f["train_set_y"][:])
    with h5py.File(test_path, "r") as f:
        test_x = np.array(f["test_set_x"][:])
        test_y = np.array(f["test_set_y"][:])
        classes = np.array(f["list_classes"][:])
    return (train_x, train_y.reshape((1, train_y.shape[0])), test_x,
            test_y.reshape((1, test_y.shape[0])), classes)


def _class_name(classes, label):
    name = classes[int(label)]
    return name.decode("utf-8") if isinstance(name, bytes) else str(name)


def print_mislabeled_images(classes, X, y, p):
    """Show the images whose prediction p differs from the label y.

    Draws one subplot per mislabeled image on matplotlib's current figure,
    titled with the prediction and the class (matplotlib is needed; the
    course's ``dnn_app_utils_v3.print_mislabeled_images``).

    Parameters
    ----------
    classes : ndarray (2,) of bytes
        The ``classes`` of :func:`load_data` (``b"non-cat"``, ``b"cat"``).
    X : ndarray (n_px * n_px * 3, m)
        Flattened images as columns.
    y : ndarray (1, m) of 0/1
        Labels.
    p : ndarray (1, m) of 0/1
        Predictions.

    Raises
    ------
    ImportError
        matplotlib is not installed (``pip install "fastbp[course]"``).
    """
    plt = _optional_module("matplotlib.pyplot", "print_mislabeled_images", "matplotlib")
    wrong = np.asarray(np.where(p + y == 1))[1]
    n_px = int(round((X.shape[0] / 3) ** 0.5))
    plt.rcParams["figure.figsize"] = (40.0, 40.0)
    for k, index in enumerate(wrong):
        plt.subplot(2, len(wrong), k + 1)
        plt.imshow(X[:, index].reshape(n_px, n_px, 3), interpolation="nearest")
        plt.axis("off")
        plt.title("Prediction: " + _class_name(classes, p[0, index]) + " \n Class: "
                  + _class_name(classes, y[0, index]))
