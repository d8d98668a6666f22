"""Parameters and gradients as one column and back (course 2 week 1's gc_utils),
for any number of layers."""
import numpy as np

from fastbp._course import keys as _keys  # ("W{l}", "b{l}", "dW{l}", "db{l}", "dA{l}")
from fastbp._validation import course_get as _get
from fastbp._validation import course_n_layers as _n_layers
from fastbp._validation import course_theta as _check_theta

__all__ = ["dictionary_to_vector", "vector_to_dictionary", "gradients_to_vector"]


def dictionary_to_vector(parameters):
    """Stack W1, b1, ..., WL, bL into one (n, 1) column.

    Like the course's gc_utils (which fixes L = 3).

    Parameters
    ----------
    parameters : dict
        "W1", "b1", ..., "WL", "bL".

    Returns
    -------
    theta : ndarray (n, 1)
        n the number of parameters.
    keys : list of str
        ``keys[i]`` the name of the parameter ``theta[i]`` came from.

    Raises
    ------
    KeyError
        A parameter missing.
    """
    L = _n_layers(parameters)
    keys = []
    vecs = []
    for l in range(1, L + 1):
        for key in _keys(l)[:2]:
            v = np.reshape(_get(parameters, key, "parameters"), (-1, 1))
            keys = keys + [key] * v.shape[0]
            vecs.append(v)
    return np.concatenate(vecs, axis=0), keys


def vector_to_dictionary(theta, layer_dims=None):
    """Inverse of dictionary_to_vector.

    Parameters
    ----------
    theta : ndarray (n, 1) or (n,)
        The parameters as one column.
    layer_dims : sequence of ints, optional
        [n_x, n_1, ..., n_L]; default [4, 5, 3, 1], the course's shapes.

    Returns
    -------
    dict
        "W1" (n_1, n_x), "b1" (n_1, 1), ...: views of ``theta``.

    Raises
    ------
    ValueError
        ``theta`` does not hold the number of values ``layer_dims`` needs.
    """
    dims = [4, 5, 3, 1] if layer_dims is None else [int(d) for d in layer_dims]
    theta = np.asarray(theta)
    _check_theta(theta, dims)
    flat = theta.reshape(-1)
    parameters = {}
    off = 0
    for l in range(1, len(dims)):
        n, p = dims[l], dims[l - 1]
        parameters["W" + str(l)] = flat[off:off + n * p].reshape((n, p))
        off += n * p
        parameters["b" + str(l)] = flat[off:off + n].reshape((n, 1))
        off += n
    return parameters


def gradients_to_vector(gradients):
    """Stack dW1, db1, ..., dWL, dbL into one (n, 1) column.

    Parameters
    ----------
    gradients : dict
        "dW1", "db1", ..., "dWL", "dbL" (other keys, such as "dA1", are
        ignored).

    Returns
    -------
    ndarray (n, 1)

    Raises
    ------
    KeyError
        A gradient missing.
    """
    L = _n_layers(gradients, "gradients", prefix="dW")
    vecs = []
    for l in range(1, L + 1):
        for key in _keys(l)[2:4]:
            vecs.append(np.reshape(_get(gradients, key, "gradients"), (-1, 1)))
    return np.concatenate(vecs, axis=0)
