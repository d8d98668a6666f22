"""The course's parameter initialisations, one layer loop for all of them.

Each draws W_l from NumPy's global generator (``np.random.randn``) in the
course's order -- W1, W2, ... -- after the ``np.random.seed`` call of its
assignment, so the numbers are the course's; the b_l are zeros.
"""
import numpy as np

from fastbp._validation import check_layer_dims, check_size

__all__ = ["layers", "initialize_parameters", "initialize_parameters_small",
           "initialize_parameters_deep", "initialize_parameters_zeros",
           "initialize_parameters_random", "initialize_parameters_he"]


def layers(layer_dims, weight, name="layer_dims"):
    """{"W1": weight(n_1, n_0), "b1": zeros((n_1, 1)), ..., "WL", "bL"}.

    Parameters
    ----------
    layer_dims : sequence of ints [n_0, n_1, ..., n_L]
    weight : callable (n_l, n_{l-1}) -> ndarray (n_l, n_{l-1}), called for
        l = 1, ..., L in that order (the order of the course's draws).
    """
    layer_dims = check_layer_dims(layer_dims, name)   # a clear error, not NumPy's
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters["W" + str(l)] = weight(layer_dims[l], layer_dims[l - 1])
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def _small(n, n_prev):
    return np.random.randn(n, n_prev) * 0.01


def initialize_parameters(n_x, n_h, n_y):
    """W1 (n_h, n_x), W2 (n_y, n_h) = 0.01 randn; b1 (n_h, 1), b2 (n_y, 1) zeros.

    Draws from NumPy's global generator without seeding it (week 3, 2024
    edition); ``nn_model`` seeds 3 and ``two_layer_model`` seeds 1 before
    calling it.

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
    dict
        "W1", "b1", "W2", "b2", float64.

    Raises
    ------
    ValueError
        A size below 1.
    TypeError
        A size that is not an int.
    """
    return layers((check_size("n_x", n_x), check_size("n_h", n_h), check_size("n_y", n_y)),
                  _small)


def initialize_parameters_small(layer_dims):
    """W_l = 0.01 randn(n_l, n_{l-1}) for any depth, without seeding."""
    return layers(layer_dims, _small)


def initialize_parameters_deep(layer_dims):
    """W_l = randn(n_l, n_{l-1}) / sqrt(n_{l-1}), b_l = zeros((n_l, 1)).

    The application's version (``dnn_app_utils_v3``): seeds NumPy's global
    generator with 1 first. (The step-by-step exercise's variant,
    ``fastbp.course.c1w4a1.initialize_parameters_deep``, scales by 0.01 after
    seed 3; that scale does not train deep networks.)

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
    np.random.seed(1)
    return layers(layer_dims, lambda n, p: np.random.randn(n, p) / np.sqrt(p))


def initialize_parameters_zeros(layers_dims):
    """All W_l and b_l zero (the symmetric initialisation that fails).

    Parameters
    ----------
    layers_dims : sequence of int
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
    return layers(layers_dims, lambda n, p: np.zeros((n, p)), "layers_dims")


def initialize_parameters_random(layers_dims):
    """W_l = 10 randn after ``np.random.seed(3)``; b_l zeros.

    Parameters
    ----------
    layers_dims : sequence of int
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
    np.random.seed(3)
    return layers(layers_dims, lambda n, p: np.random.randn(n, p) * 10, "layers_dims")


def initialize_parameters_he(layers_dims):
    """W_l = randn * sqrt(2 / n_{l-1}) after ``np.random.seed(3)``; b_l zeros.

    He et al. 2015 ("Delving deep into rectifiers"), as course 2 week 1
    ("Initialization") writes it.

    Parameters
    ----------
    layers_dims : sequence of int
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
    np.random.seed(3)
    return layers(layers_dims, lambda n, p: np.random.randn(n, p) * np.sqrt(2. / p),
                  "layers_dims")
