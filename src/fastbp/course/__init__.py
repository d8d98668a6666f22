"""The Deep Learning Specialization's NumPy helper API, compiled and generalised.

``from fastbp.course import *`` gives the helper functions of course 1
(weeks 3 and 4) and course 2 (weeks 1 and 2) of the Deep Learning
Specialization, 2021+ edition, with the course's names, cache layouts and
dict keys, examples as columns -- generalised: any depth, L2 (``lambd=``)
and dropout (``keep_prob=``) as keyword arguments, one function where
several assignments define one name. The GEMMs and element-wise epilogues
run in fastbp's fused kernels (SciPy's BLAS, OpenMP); this package only
validates, calls the kernels and builds the course's dicts and tuples.

**To run a notebook unchanged, with the course's numbers, use its
assignment module instead**: each is an exact drop-in for one graded
notebook and the helper module it imports (seeding, defaults, signatures,
return types), built on the functions here:

    fastbp.course.c1w3a1   Planar data classification with one hidden layer
    fastbp.course.c1w4a1   Building your Deep Neural Network: Step by Step
    fastbp.course.c1w4a2   Deep Neural Network for Image Classification: Application
    fastbp.course.c2w1a1   Initialization
    fastbp.course.c2w1a2   Regularization
    fastbp.course.c2w1a3   Gradient Checking
    fastbp.course.c2w2a1   Optimization Methods

e.g. ``from fastbp.course.c1w4a1 import *`` in place of the notebook's
``from dnn_utils import *`` and its graded cells.

Where the assignments define a function differently, one function serves
them here: ``compute_cost`` returns a NumPy scalar of the inputs' dtype
(``ndim == 0``; in float64 a ``float`` subclass, in float32 ``np.float32``;
an AL of shape (m,) is taken against Y of shape (1, m)),
``update_parameters`` works for any depth and defaults to
week 3's ``learning_rate=1.2``, ``predict(parameters, X)`` is week 3's and
``predict(X, y, parameters)`` week 4's. ``initialize_parameters`` does not
seed (week 3; ``nn_model`` and ``two_layer_model`` seed before calling it,
as in the course) and ``initialize_parameters_deep`` is the application's
(``dnn_app_utils_v3``: seed 1, weights scaled by 1/sqrt(n_prev)), the one
``L_layer_model`` trains with.

Generalisations, all off by default: L2 (``lambd``) and inverted dropout
(``keep_prob``) for any depth as keyword arguments of ``L_model_forward``,
``L_model_backward``, ``L_layer_model``; the gradient-checking helpers for
any layer sizes; dtypes: float32 inputs stay float32, mixed inputs (X and
the parameters) follow NumPy's promotion. Labels ``Y`` are the exception:
the backward passes read them in ``AL``'s dtype, so float32 gradients stay
float32 with int64, bool or float64 labels, where the course's ``dAL``
expression would promote them to float64.

Memory: outputs of 64 KiB and more (Z, A, dA, dW, updated parameters) come
from a small per-thread pool and are reused once nothing refers to them any
more, which spares the page faults of fresh multi-MB arrays; an array that
anything can still reach (a dict, a list, a view) is never reused. The pool
keeps up to 256 MiB per thread; ``fastbp.course.clear_pool()`` releases it.

Differences from the NumPy code, all at the edges:

* ``L_model_backward`` computes the output delta as ``AL - Y`` when ``AL`` is
  the array ``L_model_forward`` returned for these caches, the value the
  course's ``dAL * s * (1 - s)`` has mathematically; it is finite where the
  course's expression divides by zero (AL exactly 0 or 1). For any other
  ``AL`` (hand-built caches, a copy) it evaluates the course's expression
  and uses ``AL - Y`` only where that is not finite. An ``AL`` (or ``Z_L``)
  changed in place since the forward call (``np.clip(AL, eps, 1 - eps,
  out=AL)``) counts as another ``AL``: the forward keeps a copy of both
  (one row per output unit) to tell.
* Costs use logs clipped at the dtype's smallest normal number, so a cost
  with AL exactly 0 or 1 is large and finite instead of inf/nan. Costs of
  inputs outside [0, 1] (or NaN) are computed as the course does (nan).
  Labels are not limited to 0/1 or [0, 1] (the course's formulas take any
  values, and its public test of C1W4A2's ``two_layer_model`` trains on
  ``Y = np.random.randn(1, 10)``): costs of such labels are the course's
  formula, deltas ``AL - Y``; the training loops refuse only NaN or inf.
* Relu derivatives are applied by multiplying with the mask ``Z > 0``, 7x
  faster than the course's masked assignment; the results differ only for
  non-finite inputs (an infinite dA where Z <= 0 gives nan, not 0; a NaN in
  Z gives 0, where the course's ``dZ[Z <= 0] = 0`` keeps dA).
* Sigmoid, tanh, exp and log are fastbp's vectorised implementations
  (csrc/fastbp_vmath.h): no overflow warnings, and within 4 ulps of
  NumPy's (tested), so results agree with the NumPy code to ~1e-15
  relative per call.
* Dropout masks are drawn from ``np.random.rand`` exactly as the course
  does, but ``L_model_forward`` does not reseed the generator on every call
  as the course's ``forward_propagation_with_dropout`` does.
* ``nn_model``, ``two_layer_model`` and ``L_layer_model`` run their
  iterations (forward, cost, backward, update) inside compiled calls of
  :class:`fastbp.Network`, one call per stretch between the iterations
  that print or record a cost, computing the cost only on those (per-layer
  kernels when dropout is on). Non-finite values are carried on, as in
  the NumPy loop. The arithmetic
  is the course's, not its rounding: after 300 iterations of learning rate
  1.2 on the planar data the parameters agree with the NumPy loop to 1e-9
  relative (tests/test_course.py). Longer runs amplify last-bit differences
  (so does running the NumPy code on another BLAS): on the planar data the
  run is chaotic from about step 7000, where a 1-ulp change at the start
  moves the result by 1e-4, so after 10000 steps the two agree in accuracy
  (tested: >= 88%), not in digits.
"""

import numpy as np

from fastbp._course import POOL_MIN_BYTES as _POOL_MIN_BYTES
from fastbp._course import backward_chain as _backward_chain
from fastbp._course import is_recent_output as _is_recent_output
from fastbp._course import keys as _keys  # ("W{l}", "b{l}", "dW{l}", "db{l}", "dA{l}")
from fastbp._validation import check_layer_dims as _check_layer_dims
from fastbp._validation import check_lambd as _check_lambd
from fastbp._validation import course_2d as _as2d
from fastbp._validation import course_activation as _check_activation
from fastbp._validation import course_caches as _check_caches
from fastbp._validation import course_cost_inputs as _cost_inputs
from fastbp._validation import course_fit_inputs as _prepare_fit
from fastbp._validation import course_float_dtype as _float_dtype
from fastbp._validation import course_get as _get
from fastbp._validation import course_iterations as _iterations
from fastbp._validation import course_rates as _check_rates
from fastbp._validation import course_epsilon as _check_epsilon
from fastbp._validation import course_real as _real
from fastbp._validation import course_scalar as _scalar
from fastbp._validation import course_two_layer_dims as _two_layer_dims
from fastbp._validation import course_keep_prob as _check_keep_prob
from fastbp._validation import course_labels as _labels
from fastbp._validation import course_labels_outside_unit as _labels_outside_unit
from fastbp._validation import course_n_layers as _n_layers
from fastbp._validation import course_coerce_backward as _coerce_backward
from fastbp._validation import course_dropout_mask as _check_mask
from fastbp._validation import course_grad_shape_error as _grad_shape_error
from fastbp._validation import course_gradient_count as _check_gradient_count
from fastbp._validation import course_linear_cache as _linear_cache
from fastbp._validation import course_output_cache as _output_cache
from fastbp._validation import course_predict_args as _predict_args
from fastbp._validation import course_unpack_cache as _unpack_cache
from fastbp.course._initialization import (initialize_parameters, initialize_parameters_deep,
                                           initialize_parameters_he,
                                           initialize_parameters_random,
                                           initialize_parameters_zeros)
from fastbp.course._layers import RECENT_OUTPUTS as _RECENT_OUTPUTS
from fastbp.course._layers import remember_output as _remember_output
from fastbp.course._layers import backward as _backward
from fastbp.course._layers import backward_layers as _backward_layers
from fastbp.course._layers import course_cost as _course_cost
from fastbp.course._layers import expit as _expit
from fastbp.course._layers import forward as _forward
from fastbp.course._layers import forward_layers as _forward_layers
from fastbp.course._layers import output_delta as _delta
from fastbp.course._layers import output_delta_course as _output_delta_course
from fastbp.course._layers import relu_grad as _relu_grad
from fastbp.course._layers import sigmoid_grad as _sigmoid_grad
from fastbp.course._layers import threads as _threads
from fastbp.course._loop import fit_layers as _fit
from fastbp.course._optimization import (initialize_adam, initialize_velocity,
                                         random_mini_batches, update_parameters_with_adam,
                                         update_parameters_with_gd,
                                         update_parameters_with_momentum)
from fastbp.course._pool import clear_pool  # noqa: F401  (fastbp.course.clear_pool())
from fastbp.course._pool import new_array as _new
from fastbp.course._vectors import dictionary_to_vector, gradients_to_vector, vector_to_dictionary
from fastbp.layers import dense_backward as _bwd
from fastbp.layers import loss as _loss
from fastbp.network import Network
from fastbp.optim import SGD, schedule_lr_decay, update_lr  # the course's, re-exported

__all__ = [
    # course 1 week 3
    "layer_sizes", "initialize_parameters", "forward_propagation", "compute_cost",
    "backward_propagation", "update_parameters", "nn_model", "predict",
    # course 1 week 4
    "sigmoid", "relu", "sigmoid_backward", "relu_backward", "initialize_parameters_deep",
    "linear_forward", "linear_activation_forward", "L_model_forward", "linear_backward",
    "linear_activation_backward", "L_model_backward", "two_layer_model", "L_layer_model",
    # course 2 week 1
    "initialize_parameters_zeros", "initialize_parameters_random", "initialize_parameters_he",
    "compute_cost_with_regularization", "dictionary_to_vector", "vector_to_dictionary",
    "gradients_to_vector", "gradient_check_n",
    # course 2 week 2
    "update_parameters_with_gd", "random_mini_batches", "initialize_velocity",
    "update_parameters_with_momentum", "initialize_adam", "update_parameters_with_adam",
    "update_lr", "schedule_lr_decay",
]

# Train without dropout through fastbp.Network (compiled multi-step calls).
_USE_NETWORK = True
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_BCE = "binary_crossentropy"


# ------------------------------------------------------- course 1, week 3

def layer_sizes(X, Y):
    """(n_x, n_h, n_y) = (X.shape[0], 4, Y.shape[0]).

    Course 1 week 3's ``layer_sizes`` (its hidden layer of 4 units).

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, examples as columns.
    Y : ndarray (n_y, m)
        Labels.

    Returns
    -------
    tuple of int
        ``(n_x, 4, n_y)``.
    """
    n_x = X.shape[0]
    n_h = 4
    n_y = Y.shape[0]
    return (n_x, n_h, n_y)


def forward_propagation(X, parameters):
    """LINEAR -> TANH -> LINEAR -> SIGMOID.

    Z1 = W1 X + b1, A1 = tanh(Z1), Z2 = W2 A1 + b2, A2 = sigmoid(Z2)
    (course 1 week 3's ``forward_propagation``).

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, examples as columns; float32 or float64 (ints are computed in
        float64).
    parameters : dict
        "W1" (n_h, n_x), "b1" (n_h, 1), "W2" (n_y, n_h), "b2" (n_y, 1).

    Returns
    -------
    A2 : ndarray (n_y, m)
        The sigmoid output.
    cache : dict with keys "Z1", "A1", "Z2", "A2"
        The layers' values, for :func:`backward_propagation`.

    Raises
    ------
    ValueError
        Shapes that do not chain (a transposed X says which rows W1 needs), a
        1-D bias.
    TypeError
        Arrays that are not real numbers.
    KeyError
        A parameter missing from ``parameters`` (the message lists the keys).
    """
    W1 = _get(parameters, "W1", "parameters")
    b1 = _get(parameters, "b1", "parameters")
    W2 = _get(parameters, "W2", "parameters")
    b2 = _get(parameters, "b2", "parameters")
    Z1, A1, X, W1, b1 = _forward(X, W1, b1, "tanh", 1, "X")
    Z2, A2, _, _, _ = _forward(A1, W2, b2, "sigmoid", 2, "A1")
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def compute_cost(AL, Y):
    """Cross-entropy cost -1/m sum(Y log AL + (1 - Y) log(1 - AL)).

    Serves week 3 (``compute_cost(A2, Y)``) and week 4
    (``compute_cost(AL, Y)``). Y is (n_y, m); AL has Y's shape
    or one that broadcasts to it with as many entries, as week 3's A2 of
    shape (m,) against Y of shape (1, m). Labels outside [0, 1] (or NaN), and
    AL outside [0, 1] (or NaN), are computed with the course's formula
    (unclipped logs; nan where AL is outside [0, 1]).

    Parameters
    ----------
    AL : ndarray (n_y, m)
        Probabilities, float32 or float64.
    Y : ndarray (n_y, m)
        Labels (float, int, bool or uint8).

    Returns
    -------
    cost : numpy.float32 or numpy.float64
        A NumPy scalar of AL's dtype: a 0-d value like week 4's
        ``np.squeeze(cost)``; in float64 also a Python ``float`` like week 3's
        ``float(cost)``.

    Raises
    ------
    ValueError
        Y not 2-D (``Y.reshape(1, -1)``), or shapes that differ (a transposed
        Y included).
    TypeError
        AL or Y not numbers.
    """
    AL, y = _cost_inputs(AL, Y)
    if AL.dtype != _F64 and AL.dtype != _F32:
        AL = AL.astype(_float_dtype(AL, names=("AL",)))
    if AL.size and not (AL.min() >= 0.0 and AL.max() <= 1.0):
        # Not probabilities (or NaN): clipped logs would hide it; give the course's nan.
        return AL.dtype.type(_course_cost(AL, y))
    if _labels_outside_unit(y):
        # labels outside [0, 1] (the loss kernel's domain): the course's formula
        return AL.dtype.type(_course_cost(AL, y))
    return AL.dtype.type(_loss(AL, y, _BCE))


def backward_propagation(parameters, cache, X, Y):
    """Gradients of the week 3 network (tanh hidden layer, sigmoid output).

    dZ2 = A2 - Y, dW2 = dZ2 A1^T / m, db2 = rowsum(dZ2) / m,
    dZ1 = W2^T dZ2 * (1 - A1^2), dW1 = dZ1 X^T / m, db1 = rowsum(dZ1) / m
    (course 1 week 3's ``backward_propagation``).

    Parameters
    ----------
    parameters : dict
        "W1" (n_h, n_x), "W2" (n_y, n_h) (the biases are not read).
    cache : dict
        "A1" (n_h, m) and "A2" (n_y, m) of :func:`forward_propagation`.
    X : ndarray (n_x, m)
        Inputs, examples as columns.
    Y : ndarray (n_y, m)
        Labels.

    Returns
    -------
    grads : dict with keys "dW1", "db1", "dW2", "db2"
        Of the parameters' shapes (db: (n, 1)).

    Raises
    ------
    ValueError
        Shapes that do not chain.
    TypeError
        Arrays that are not real numbers.
    KeyError
        A key missing from ``parameters`` or ``cache``.
    """
    W1 = _get(parameters, "W1", "parameters")
    W2 = _get(parameters, "W2", "parameters")
    A1 = _get(cache, "A1", "cache")
    A2 = _as2d(_get(cache, "A2", "cache"), "cache['A2']")
    y = _labels(Y, A2)
    try:
        dZ2 = _delta(A2, y)
        dZ1, dW2, db2 = _bwd(dZ2, A1, W2, "tanh", n_threads=_threads(W2.shape, A2.shape[1], 2))
    except (TypeError, ValueError, AttributeError) as exc:
        A2 = A2.astype(_float_dtype(A2, np.asarray(A1), np.asarray(W2),
                                        names=("cache['A2']", "cache['A1']", "W2")),
                           copy=False)
        dZ2 = _delta(A2, y)
        dZ2, A1, W2 = _coerce_backward(dZ2, A1, W2, 2, exc)
        dZ1, dW2, db2 = _bwd(dZ2, A1, W2, "tanh")
    _, dW1, db1 = _backward(dZ1, X, W1, 1)
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


def update_parameters(parameters, grads, learning_rate=1.2):
    """One gradient-descent step, W_l - learning_rate dW_l, for every layer.

    Week 3 defaults the learning rate to 1.2; week 4 passes it.

    Parameters
    ----------
    parameters : dict
        "W1", "b1", ..., "WL", "bL".
    grads : dict
        "dW1", "db1", ..., "dWL", "dbL", of the parameters' shapes.
    learning_rate : float, default 1.2

    Returns
    -------
    dict
        A new dict (``parameters.copy()`` with W_l, b_l replaced); the input
        dict and its arrays are not modified.

    Raises
    ------
    ValueError
        A gradient whose shape differs from its parameter's.
    TypeError
        Parameters or gradients that are not real numbers, or a
        ``learning_rate`` that is not a real number (a scalar).
    KeyError
        A key missing from ``parameters`` or ``grads``.
    """
    L = _n_layers(parameters)
    new = parameters.copy()
    learning_rate = _scalar(learning_rate, "learning_rate")   # float32 stays float32 (NEP 50)
    plain_lr = type(learning_rate) in (float, int)
    for l in range(1, L + 1):
        wk, bk, dwk, dbk, _ = _keys(l)
        for pk, gk in ((wk, dwk), (bk, dbk)):
            p = _real(_get(parameters, pk, "parameters"), pk)   # ints: float64, no wrap
            g = _real(_get(grads, gk, "grads"), gk)
            if type(p) is np.ndarray and type(g) is np.ndarray:
                if p.shape != g.shape:
                    raise _grad_shape_error(pk, gk, p, g)
                if plain_lr and p.nbytes >= _POOL_MIN_BYTES and p.dtype == g.dtype \
                        and p.dtype.kind == "f":
                    out = _new(p.shape, p.dtype)    # p - learning_rate * g, recycled memory
                    np.multiply(g, learning_rate, out=out)
                    new[pk] = np.subtract(p, out, out=out)
                    continue
            elif np.shape(p) != np.shape(g):
                raise _grad_shape_error(pk, gk, p, g)
            new[pk] = p - learning_rate * g
    return new


def nn_model(X, Y, n_h, num_iterations=10000, print_cost=False):
    """Train the week 3 network (n_h tanh units) with gradient descent, lr 1.2.

    Seeds NumPy's global generator with 3 and initialises with
    ``initialize_parameters``, as the course does; prints the cost every
    1000 iterations when ``print_cost``. The iterations run in compiled
    calls of ``fastbp.Network`` (see the module notes).

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, examples as columns.
    Y : ndarray (n_y, m)
        Labels (any finite values; 0/1 in the course).
    n_h : int
        Hidden units.
    num_iterations : int, default 10000
        >= 0.
    print_cost : bool, default False

    Returns
    -------
    parameters : dict with keys "W1", "b1", "W2", "b2"

    Raises
    ------
    ValueError
        Shapes that do not fit (Y of examples as rows says so), NaN or inf in
        Y, a negative ``num_iterations``.
    TypeError
        Arrays that are not real numbers, a non-int ``n_h`` or
        ``num_iterations``.
    """
    num_iterations = _iterations(num_iterations)
    np.random.seed(3)
    n_x, _, n_y = layer_sizes(X, Y)
    parameters = initialize_parameters(n_x, n_h, n_y)

    def report(i, cost):
        if print_cost and i % 1000 == 0:
            print("Cost after iteration %i: %f" % (i, cost))

    every = 1000 if print_cost else 0
    return _train(X, Y, parameters, "tanh", 1.2, num_iterations, every, -1, report)[0]


def predict(*args, **kwargs):
    """Predict labels; two course signatures.

    ``predict(parameters, X)`` (week 3): the tanh network of
    ``forward_propagation``; returns the boolean array ``A2 > 0.5``.

    ``predict(X, y, parameters)`` (week 4 application): the L-layer network
    of ``L_model_forward``; prints ``"Accuracy: ..."`` against y and returns
    a float64 (1, m) array of 0/1.

    Parameters
    ----------
    *args, **kwargs
        ``(parameters, X)`` or ``(X, y, parameters)``, by position or name:
        X (n_x, m), y (1, m) labels, parameters as the network's.

    Returns
    -------
    ndarray (n_y, m) of bool, or ndarray (1, m) of float64
        Week 3's ``A2 > 0.5``, or week 4's 0/1 predictions.

    Raises
    ------
    TypeError
        Arguments that fit neither signature.
    ValueError
        Shapes that do not chain (see :func:`forward_propagation`).
    """
    bound = _predict_args(args, kwargs)
    if len(bound) == 2:
        A2, _ = forward_propagation(bound["X"], bound["parameters"])
        return A2 > 0.5
    X, y, parameters = bound["X"], bound["y"], bound["parameters"]
    m = X.shape[1]
    probas, _ = L_model_forward(X, parameters)
    p = (probas[:1] > 0.5).astype(np.float64)
    print("Accuracy: " + str(np.sum((p == y) / m)))
    return p


# ------------------------------------------------------- course 1, week 4

def sigmoid(Z):
    """A = 1 / (1 + exp(-Z)), without overflow; returns (A, cache=Z).

    Parameters
    ----------
    Z : array_like
        float16 is computed in float32, integers in float64.

    Returns
    -------
    A : ndarray
        Of Z's shape, float32 or float64.
    cache : array_like
        Z itself.

    Raises
    ------
    TypeError
        Z not real numbers (complex, strings).
    """
    return _expit(Z), Z


def relu(Z):
    """A = max(0, Z); returns (A, cache=Z).

    Parameters
    ----------
    Z : array_like

    Returns
    -------
    A : ndarray
        Of Z's shape and dtype (``np.maximum(0, Z)``).
    cache : array_like
        Z itself.
    """
    A = np.maximum(0, Z)
    return A, Z


def relu_backward(dA, cache):
    """dZ = dA where Z > 0, 0 where Z <= 0 (cache is Z).

    Parameters
    ----------
    dA : array_like
        Gradient of the cost w.r.t. the relu's output.
    cache : ndarray
        Z, of dA's shape.

    Returns
    -------
    dZ : ndarray
        Of dA's shape; ``dA * (Z > 0)`` (see the module notes for the
        non-finite edge).

    Raises
    ------
    ValueError
        Z's shape differs from dA's.
    """
    dA = np.asarray(dA)
    return _relu_grad(dA, cache, None)


def sigmoid_backward(dA, cache):
    """dZ = dA s (1 - s) with s = sigmoid(Z) recomputed from the cache Z.

    Parameters
    ----------
    dA : array_like
        Gradient of the cost w.r.t. the sigmoid's output.
    cache : ndarray
        Z, of dA's shape.

    Returns
    -------
    dZ : ndarray
        Of dA's shape.

    Raises
    ------
    ValueError
        Z's shape differs from dA's.
    """
    return _sigmoid_grad(dA, cache, None)


def linear_forward(A, W, b):
    """Z = W A + b; returns (Z, cache=(A, W, b)).

    Parameters
    ----------
    A : ndarray (n_prev, m)
        The previous layer's activations, examples as columns.
    W : ndarray (n, n_prev)
    b : ndarray (n, 1)

    Returns
    -------
    Z : ndarray (n, m)
    cache : tuple (A, W, b)
        The arrays as the kernel used them (converted when they had to be).

    Raises
    ------
    ValueError
        Shapes that do not chain (a transposed A says which rows W needs), a
        1-D b (the course's biases are columns).
    TypeError
        Arrays that are not real numbers.
    """
    Z, _, A, W, b = _forward(A, W, b, "identity", 1, "A", ("A", "W", "b"))
    return Z, (A, W, b)


def linear_activation_forward(A_prev, W, b, activation):
    """A = g(W A_prev + b) for activation "relu" or "sigmoid".

    Parameters
    ----------
    A_prev : ndarray (n_prev, m)
    W : ndarray (n, n_prev)
    b : ndarray (n, 1)
    activation : {"relu", "sigmoid"}

    Returns
    -------
    A : ndarray (n, m)
    cache : tuple
        ``((A_prev, W, b), Z)``, the course's (linear_cache, activation_cache).

    Raises
    ------
    ValueError
        Shapes that do not chain, a 1-D b, an activation other than "relu"
        or "sigmoid".
    TypeError
        Arrays that are not real numbers.
    """
    _check_activation(activation)
    Z, A, A_prev, W, b = _forward(A_prev, W, b, activation, 1, "A_prev",
                                  ("A_prev", "W", "b"))
    return A, ((A_prev, W, b), Z)


def L_model_forward(X, parameters, *, keep_prob=1.0):
    """[LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID.

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, examples as columns.
    parameters : dict W1, b1, ..., WL, bL
        W_l (n_l, n_{l-1}), b_l (n_l, 1).
    keep_prob : float, default 1.0
        Keyword-only. Inverted dropout on the hidden layers when < 1: D = (rand < keep_prob)
        as int, A = A * D / keep_prob, drawn from ``np.random.rand`` layer by
        layer like the course's ``forward_propagation_with_dropout``.

    Returns
    -------
    AL : ndarray (n_L, m)
    caches : list of L caches ((A_prev, W, b), Z)
        With dropout the hidden layers' caches are ((A_prev, W, b), Z, D).

    Raises
    ------
    ValueError
        Shapes that do not chain (a transposed X says which rows W1 needs),
        a 1-D bias, a ``keep_prob`` outside (0, 1].
    TypeError
        Arrays that are not real numbers.
    KeyError
        A parameter missing from ``parameters``.
    """
    L = _n_layers(parameters)
    if keep_prob != 1.0:
        _check_keep_prob(keep_prob)
    caches = []

    def layer(l, A_prev):
        wk, bk = _keys(l)[:2]
        W = _get(parameters, wk, "parameters")
        b = _get(parameters, bk, "parameters")
        Z, A, A_prev, W, b = _forward(A_prev, W, b, "relu" if l < L else "sigmoid", l,
                                      "A" + str(l - 1) if l > 1 else "X")
        caches.append(((A_prev, W, b), Z))
        return A

    AL, masks = _forward_layers(X, L, keep_prob, layer)
    for l, D in enumerate(masks):
        if D is not None:
            caches[l] += (D.astype(int),)
    _remember_output(AL, caches[-1][1])
    return AL, caches


def linear_backward(dZ, cache):
    """dW = dZ A_prev^T / m, db = rowsum(dZ) / m, dA_prev = W^T dZ.

    Parameters
    ----------
    dZ : ndarray (n, m)
    cache : tuple (A_prev, W, b)
        The linear cache of :func:`linear_forward`.

    Returns
    -------
    dA_prev : ndarray (n_prev, m)
    dW : ndarray (n, n_prev)
    db : ndarray (n, 1)

    Raises
    ------
    ValueError
        A cache that is not (A_prev, W, b), shapes that do not chain.
    TypeError
        Arrays that are not real numbers.
    """
    A_prev, W, b = _linear_cache(cache)
    return _backward(dZ, A_prev, W, 1, names=("dZ", "cache's A_prev", "cache's W"))


def linear_activation_backward(dA, cache, activation):
    """Backward of LINEAR -> ACTIVATION from dA of this layer's output.

    dZ = relu_backward(dA, Z) or sigmoid_backward(dA, Z), then
    linear_backward(dZ, (A_prev, W, b)).

    Parameters
    ----------
    dA : ndarray (n, m)
    cache : tuple ((A_prev, W, b), Z)
        The cache of :func:`linear_activation_forward`.
    activation : {"relu", "sigmoid"}

    Returns
    -------
    dA_prev : ndarray (n_prev, m)
    dW : ndarray (n, n_prev)
    db : ndarray (n, 1)

    Raises
    ------
    ValueError
        A malformed cache, shapes that do not chain, an activation other than
        "relu" or "sigmoid".
    TypeError
        Arrays that are not real numbers.
    """
    _check_activation(activation)
    A_prev, W, b, Z, _ = _unpack_cache(cache, None)
    dA = _real(np.asarray(dA), "dA")
    if activation == "relu":
        dZ = _relu_grad(dA, Z, None)
    else:
        dZ = _sigmoid_grad(dA, Z, None)
    # dZ has dA's shape: name the argument the caller passed
    return _backward(dZ, A_prev, W, 1, names=("dA", "cache's A_prev", "cache's W"))


def L_model_backward(AL, Y, caches, *, lambd=0.0, keep_prob=1.0):
    """Backward pass of [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID.

    Per layer l one fused kernel call computes dW_l, db_l and
    dA_{l-1} = W_l^T dZ_l; the relu derivative dZ_{l-1} = dA_{l-1} * (Z_{l-1} > 0)
    is one multiply. The output delta is AL - Y (see the module notes).
    Small networks (every layer's GEMMs under ~2 MFLOP, outputs under
    64 KiB, plain C-ordered arrays of one dtype, no dropout) run the whole
    pass in one compiled call instead (``fastbp._course.backward_chain``):
    same formulas, no per-layer Python.

    Parameters
    ----------
    AL : ndarray (n_L, m)
        The output of :func:`L_model_forward`.
    Y : ndarray, AL's shape
        Labels, reshaped to AL's shape like the course (so (m, 1) and (m,)
        work too).
    caches : list
        The L caches :func:`L_model_forward` returned.
    lambd : float, default 0.0
        Keyword-only. L2 strength: adds lambd / m * W_l to dW_l.
    keep_prob : float, default 1.0
        Keyword-only. The keep_prob the forward pass used; dA_l is masked with D_l and
        divided by keep_prob, as the course's backward_propagation_with_dropout.

    Returns
    -------
    grads : dict with "dA{L-1}", "dW{L}", "db{L}", ..., "dA0", "dW1", "db1"
        Inserted in the course's order.

    Raises
    ------
    ValueError
        Y with another number of entries than AL, malformed caches or
        dropout masks, a negative ``lambd``, a ``keep_prob`` outside (0, 1].
    TypeError
        ``caches`` not the list L_model_forward returned; arrays that are
        not real numbers.
    """
    lambd = _check_lambd(lambd)
    if keep_prob == 1.0:
        grads = _backward_chain(AL, Y, caches, lambd, _RECENT_OUTPUTS)
        if grads is not None:
            return grads
    L = _check_caches(caches)
    dropout = keep_prob != 1.0
    if dropout:
        _check_keep_prob(keep_prob)
    AL = _as2d(AL, "AL")
    y = _labels(Y, AL)
    A_prev, W, b, Z = _output_cache(caches[L - 1], L)
    if _is_recent_output(AL, Z, _RECENT_OUTPUTS):
        dZ = _delta(AL, y)
    else:
        dZ = _output_delta_course(AL, y, Z)
    grads = {}                 # filled in the course's insertion order
    layer_in = {L: (A_prev, W)}

    def layer(l, dZ):
        A_prev, W = layer_in.pop(l)
        dA, dW, db = _backward(dZ, A_prev, W, l, lambd)
        keys = _keys(l)
        grads[_keys(l - 1)[4]] = dA
        grads[keys[2]] = dW
        grads[keys[3]] = db
        if l == 1:
            return None
        l -= 1                 # the previous layer: its dropout mask and relu
        cache = caches[l - 1]
        try:
            (A_prev, W, b), Z = cache
            D = None
        except (TypeError, ValueError):
            A_prev, W, b, Z, D = _unpack_cache(cache, l)
        layer_in[l] = (A_prev, W)
        if dropout or D is not None:
            _check_mask(D, dA, l, keep_prob)
            dA = np.multiply(dA, D, dtype=dA.dtype)
            np.divide(dA, keep_prob, out=dA)
            grads["dA" + str(l)] = dA
        return _relu_grad(dA, Z, l, scratch=True)

    _backward_layers(dZ, L, layer)
    return grads


def two_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                    print_cost=False):
    """Train LINEAR -> RELU -> LINEAR -> SIGMOID (the week 4 application).

    Seeds 1, initialises with ``initialize_parameters``; prints like the
    course (every 100 iterations when ``print_cost``, and the last iteration
    always); records the cost every 100 iterations.

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, examples as columns.
    Y : ndarray (1, m)
        Labels (any finite values; 0/1 in the course).
    layers_dims : tuple of int
        ``(n_x, n_h, n_y)``.
    learning_rate : float, default 0.0075
        > 0.
    num_iterations : int, default 3000
        >= 0.
    print_cost : bool, default False

    Returns
    -------
    parameters : dict W1, b1, W2, b2
    costs : list of the costs at iterations 0, 100, 200, ...

    Raises
    ------
    ValueError
        ``layers_dims`` not three sizes, shapes that do not fit, NaN or inf in
        Y, ``learning_rate <= 0``, a negative ``num_iterations``.
    TypeError
        Arrays that are not real numbers, non-int sizes or ``num_iterations``.
    """
    num_iterations = _iterations(num_iterations)
    n_x, n_h, n_y = _two_layer_dims(layers_dims)
    np.random.seed(1)
    parameters = initialize_parameters(n_x, n_h, n_y)
    return _train(X, Y, parameters, "relu", learning_rate, num_iterations, 100,
                  num_iterations - 1, _course_report(print_cost, num_iterations))


def L_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                  print_cost=False, *, lambd=0.0, keep_prob=1.0):
    """Train [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID with gradient descent.

    Seeds 1, initialises with ``initialize_parameters_deep``; each iteration
    is L_model_forward, compute_cost (compute_cost_with_regularization when
    lambd > 0), L_model_backward and update_parameters, run on preallocated
    buffers with fused kernels. Prints like the course (every 100 iterations
    when ``print_cost``, and the last iteration always).

    Parameters
    ----------
    X : ndarray (n_x, m)
        Inputs, examples as columns.
    Y : ndarray (1, m)
        Labels (any finite values; 0/1 in the course).
    layers_dims : sequence of int
        ``[n_x, n_1, ..., n_L]``.
    learning_rate : float, default 0.0075
        > 0.
    num_iterations : int, default 3000
        >= 0.
    print_cost : bool, default False
    lambd : float, default 0.0
        L2 strength (keyword-only), >= 0.
    keep_prob : float, default 1.0
        Inverted-dropout keep probability of the hidden layers (keyword-only),
        in (0, 1].

    Returns
    -------
    parameters : dict W1, b1, ..., WL, bL
    costs : list of the costs at iterations 0, 100, 200, ...

    Raises
    ------
    ValueError
        Shapes that do not fit (a transposed X says so), NaN or inf in Y,
        ``learning_rate <= 0``, a negative ``num_iterations`` or ``lambd``, a
        ``keep_prob`` outside (0, 1].
    TypeError
        Arrays that are not real numbers, non-int sizes or ``num_iterations``.
    """
    num_iterations = _iterations(num_iterations)
    # errors name this argument, not initialize_parameters_deep's layer_dims
    layers_dims = _check_layer_dims(layers_dims, "layers_dims")
    np.random.seed(1)
    parameters = initialize_parameters_deep(layers_dims)
    return _train(X, Y, parameters, "relu", learning_rate, num_iterations, 100,
                  num_iterations - 1, _course_report(print_cost, num_iterations),
                  lambd=lambd, keep_prob=keep_prob)


def _course_report(print_cost, num_iterations):
    def report(i, cost):
        # the course's precedence: (print_cost and i % 100 == 0) or last iteration
        if print_cost and i % 100 == 0 or i == num_iterations - 1:
            print("Cost after iteration {}: {}".format(i, np.squeeze(cost)))
    return report


def _train(X, Y, parameters, hidden, learning_rate, num_iterations, every, last, report,
           lambd=0.0, keep_prob=1.0):
    """Gradient descent as the course's model functions run it.

    Each iteration is forward, cost, backward, update. The cost is computed
    on iterations i % every == 0 and i == last only (the course computes it
    every iteration, but only printing and the returned list read it);
    ``report(i, cost)`` is called on those.

    Without dropout the iterations between two reported ones run as one
    compiled call (``fastbp.Network.train_batch``); with dropout the loop
    draws the course's masks from ``np.random.rand`` and runs one fused
    kernel per layer.

    Returns (parameters, costs) with costs = the costs at i % 100 == 0.
    """
    lambd = _check_lambd(lambd)          # one check for every path below
    _check_rates(learning_rate)
    X, y, Ws, bs, dt, dims = _prepare_fit(X, Y, parameters, keep_prob)
    if keep_prob != 1.0 or not _USE_NETWORK:
        def cost_of(AL, y, parameters):
            if lambd:
                return compute_cost_with_regularization(AL, y, parameters, lambd)
            return compute_cost(AL, y)

        return _fit(X, y, Ws, bs, dt, dims, hidden, learning_rate, 0, num_iterations,
                    every, last, report, lambd, keep_prob, [], cost_of)
    net = Network(dims, hidden=hidden, output="sigmoid", dtype=dt.name, seed=0,
                  lambd=lambd)
    net.parameters = {k: v for l in range(1, len(dims))
                      for k, v in ((_keys(l)[0], Ws[l - 1]), (_keys(l)[1], bs[l - 1]))}
    opt = SGD(learning_rate)
    costs = []
    to_dtype = dt.type
    X = net.check_X(X)                    # checked once for every train_batch call
    y, y_code, labels = net.check_Y(y, X.shape[1])
    i = 0
    while i < num_iterations:
        # one compiled call up to the next iteration that reports a cost
        want = (every and i % every == 0) or i == last
        stop = num_iterations
        if every:
            stop = min(stop, (i // every + 1) * every)
        if i < last < stop:
            stop = last
        cost = net.train_batch(X, y, y_code, labels, opt, stop - i, first_loss=want,
                               check_finite=False)
        if want:
            cost = to_dtype(cost)
            if i % 100 == 0:
                costs.append(cost)
            report(i, cost)
        i = stop
    return {k: v.copy() for k, v in net.parameters.items()}, costs

# ------------------------------------------------------- course 2, week 1


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    """Cross-entropy plus lambd / (2 m) sum_l ||W_l||_F^2, over every layer.

    Course 2 week 1 ("Regularization"), for any depth.

    Parameters
    ----------
    A3 : ndarray (n_y, m)
        The output probabilities (the course's 3-layer network names them A3).
    Y : ndarray (n_y, m)
        Labels.
    parameters : dict
        "W1", "b1", ..., "WL", "bL".
    lambd : float
        L2 strength.

    Returns
    -------
    cost : numpy.float32 or numpy.float64
        Of :func:`compute_cost`'s type.

    Raises
    ------
    ValueError, TypeError
        As :func:`compute_cost`; TypeError also for a ``lambd`` that is
        not a real number (a scalar).
    """
    # an array of strengths made the cost an array of costs
    lambd = _scalar(lambd, "lambd")
    m = np.shape(Y)[1]
    if isinstance(A3, np.ndarray) and A3.dtype.kind in "cOSU":
        _real(A3, "A3")     # a TypeError naming A3 (compute_cost would say AL)
    cross_entropy_cost = compute_cost(A3, Y)
    L = _n_layers(parameters)
    sq = 0.0
    for l in range(1, L + 1):   # np.sum, not np.dot: keeps NumPy's BLAS threads asleep
        sq = sq + np.sum(np.square(_get(parameters, _keys(l)[0], "parameters")))
    L2_regularization_cost = (1 / m) * (lambd / 2) * sq
    # the cost's own type: NumPy 2's promotion (float32 stays float32) on NumPy 1 too
    return type(cross_entropy_cost)(cross_entropy_cost + L2_regularization_cost)


def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False, *,
                     lambd=0.0):
    """Relative difference between ``gradients`` and centred finite differences.

    The cost is that of L_model_forward + compute_cost (plus the L2 term when
    lambd > 0), for any number of layers (course 2 week 1, "Gradient
    Checking")::

        gradapprox_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)
        difference = ||grad - gradapprox|| / (||grad|| + ||gradapprox||)

    Parameters
    ----------
    parameters : dict
        "W1", "b1", ..., "WL", "bL".
    gradients : dict
        "dW1", "db1", ..., "dWL", "dbL" to check.
    X : ndarray (n_x, m)
    Y : ndarray (1, m) or (m,)
    epsilon : float, default 1e-7
        > 0.
    print_msg : bool, default False
        Print the course's verdict (threshold 2e-7).
    lambd : float, default 0.0
        L2 strength (keyword-only).

    Returns
    -------
    float
        The difference.

    Raises
    ------
    ValueError
        ``epsilon <= 0``, gradients holding another number of values than the
        parameters.
    """
    _check_epsilon(epsilon)
    parameters_values, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients)
    num_parameters = parameters_values.shape[0]
    _check_gradient_count(grad.shape[0], num_parameters)
    L = _n_layers(parameters)
    dims = [np.shape(parameters["W1"])[1]] + [np.shape(parameters[_keys(l)[0]])[0]
                                               for l in range(1, L + 1)]
    parameters_values = parameters_values.astype(np.float64)

    def J(theta):
        p = vector_to_dictionary(theta, dims)
        AL, _ = L_model_forward(X, p)
        y = _labels(Y, AL)          # a (m,) Y, as the course's broadcasting allows
        if lambd:
            return compute_cost_with_regularization(AL, y, p, lambd)
        return compute_cost(AL, y)

    gradapprox = np.zeros((num_parameters, 1))
    for i in range(num_parameters):
        theta_plus = np.copy(parameters_values)
        theta_plus[i] = theta_plus[i] + epsilon
        theta_minus = np.copy(parameters_values)
        theta_minus[i] = theta_minus[i] - epsilon
        gradapprox[i] = (J(theta_plus) - J(theta_minus)) / (2 * epsilon)
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    difference = numerator / denominator
    if print_msg:
        if difference > 2e-7:
            print("\033[93m" + "There is a mistake in the backward propagation! difference = "
                  + str(difference) + "\033[0m")
        else:
            print("\033[92m" + "Your backward propagation works perfectly fine! difference = "
                  + str(difference) + "\033[0m")
    return difference


# ------------------------------------------------------- course 2, week 2
