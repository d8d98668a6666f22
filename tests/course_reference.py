"""Plain NumPy versions of course 1's graded notebooks, for the tests.

One namespace per assignment -- ``planar`` (C1W3A1), ``step`` (C1W4A1),
``app`` (C1W4A2) -- holding what the notebook and its helper module
define, written from the assignments' statements: the formulas, the
``np.random.seed`` calls in their order, the return types (week 3's cost a
Python float, week 4's a 0-d ndarray from ``np.squeeze``), the dict keys and
the printed lines. It is independent of fastbp (it imports nothing of it),
so the tests can compare fastbp.course's assignment modules with it.
"""
import copy
import inspect
import types

import numpy as np


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _draw_layers(dims, scale):
    """{"W1", "b1", ...}: W_l = scale(randn(n_l, n_{l-1}), n_{l-1}), drawn in order."""
    out = {}
    for l, (n_prev, n) in enumerate(zip(dims[:-1], dims[1:]), start=1):
        out[f"W{l}"] = scale(np.random.randn(n, n_prev), n_prev)
        out[f"b{l}"] = np.zeros((n, 1))
    return out


def _times_001(W, n_prev):
    return W * 0.01


# ------------------------------------------------------------------ C1W3A1

def _w3_layer_sizes(X, Y):
    return (X.shape[0], 4, Y.shape[0])


def _w3_initialize_parameters(n_x, n_h, n_y):
    return _draw_layers([n_x, n_h, n_y], _times_001)       # 2024: no seed inside


def _w3_forward_propagation(X, parameters):
    Z1 = parameters["W1"] @ X + parameters["b1"]
    A1 = np.tanh(Z1)
    Z2 = parameters["W2"] @ A1 + parameters["b2"]
    A2 = _sigmoid(Z2)
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def _w3_compute_cost(A2, Y):
    m = Y.shape[1]
    total = np.sum(np.multiply(Y, np.log(A2)) + np.multiply(1 - Y, np.log(1 - A2)))
    return float(np.squeeze(-total / m))


def _w3_backward_propagation(parameters, cache, X, Y):
    m = X.shape[1]
    A1 = cache["A1"]
    dZ2 = cache["A2"] - Y
    dZ1 = (parameters["W2"].T @ dZ2) * (1 - A1 ** 2)
    return {"dW1": dZ1 @ X.T / m, "db1": dZ1.sum(axis=1, keepdims=True) / m,
            "dW2": dZ2 @ A1.T / m, "db2": dZ2.sum(axis=1, keepdims=True) / m}


def _w3_update_parameters(parameters, grads, learning_rate=1.2):
    return {k: parameters[k] - learning_rate * grads["d" + k] for k in ("W1", "b1", "W2", "b2")}


def _w3_nn_model(X, Y, n_h, num_iterations=10000, print_cost=False):
    np.random.seed(3)
    sizes = _w3_layer_sizes(X, Y)
    parameters = _w3_initialize_parameters(sizes[0], n_h, sizes[2])
    for i in range(num_iterations):
        A2, cache = _w3_forward_propagation(X, parameters)
        cost = _w3_compute_cost(A2, Y)
        grads = _w3_backward_propagation(parameters, cache, X, Y)
        parameters = _w3_update_parameters(parameters, grads)
        if print_cost and i % 1000 == 0:
            print("Cost after iteration %i: %f" % (i, cost))
    return parameters


def _w3_predict(parameters, X):
    return _w3_forward_propagation(X, parameters)[0] > 0.5


planar = types.SimpleNamespace(
    layer_sizes=_w3_layer_sizes, initialize_parameters=_w3_initialize_parameters,
    forward_propagation=_w3_forward_propagation, compute_cost=_w3_compute_cost,
    backward_propagation=_w3_backward_propagation, update_parameters=_w3_update_parameters,
    nn_model=_w3_nn_model, predict=_w3_predict,
    sigmoid=_sigmoid)


# ------------------------------------------------------------------ C1W4A1

def _sigmoid_cached(Z):
    return _sigmoid(Z), Z


def _relu_cached(Z):
    return np.maximum(0, Z), Z


def _relu_backward(dA, cache):
    return np.where(cache > 0, dA, np.zeros_like(dA))


def _sigmoid_backward(dA, cache):
    s = _sigmoid(cache)
    return dA * s * (1 - s)


def _w4_initialize_parameters(n_x, n_h, n_y):
    np.random.seed(1)
    return _draw_layers([n_x, n_h, n_y], _times_001)


def _w4_initialize_parameters_deep(layer_dims):
    np.random.seed(3)
    return _draw_layers(layer_dims, _times_001)


def _w4_linear_forward(A, W, b):
    return np.dot(W, A) + b, (A, W, b)


def _w4_linear_activation_forward(A_prev, W, b, activation):
    Z, linear_cache = _w4_linear_forward(A_prev, W, b)
    A, Z_cache = (_sigmoid_cached if activation == "sigmoid" else _relu_cached)(Z)
    return A, (linear_cache, Z_cache)


def _w4_L_model_forward(X, parameters):
    L = len(parameters) // 2
    caches = []
    A = X
    for l in range(1, L + 1):
        A, cache = _w4_linear_activation_forward(A, parameters[f"W{l}"], parameters[f"b{l}"],
                                                 "relu" if l < L else "sigmoid")
        caches.append(cache)
    return A, caches


def _w4_compute_cost(AL, Y):
    m = Y.shape[1]
    cost = -(np.dot(Y, np.log(AL).T) + np.dot(1 - Y, np.log(1 - AL).T)) * (1. / m)
    return np.squeeze(cost)


def _w4_linear_backward(dZ, cache):
    A_prev, W, _ = cache
    m = A_prev.shape[1]
    return np.dot(W.T, dZ), np.dot(dZ, A_prev.T) / m, np.sum(dZ, axis=1, keepdims=True) / m


def _w4_linear_activation_backward(dA, cache, activation):
    linear_cache, Z = cache
    g = _sigmoid_backward if activation == "sigmoid" else _relu_backward
    return _w4_linear_backward(g(dA, Z), linear_cache)


def _w4_L_model_backward(AL, Y, caches):
    Y = Y.reshape(AL.shape)
    L = len(caches)
    grads = {}
    dA = -(Y / AL - (1 - Y) / (1 - AL))
    for l in range(L, 0, -1):
        dA, dW, db = _w4_linear_activation_backward(dA, caches[l - 1],
                                                    "sigmoid" if l == L else "relu")
        grads[f"dA{l - 1}"], grads[f"dW{l}"], grads[f"db{l}"] = dA, dW, db
    return grads


def _w4_update_parameters(params, grads, learning_rate):
    parameters = copy.deepcopy(params)
    for l in range(1, len(parameters) // 2 + 1):
        for p in ("W", "b"):
            parameters[f"{p}{l}"] = parameters[f"{p}{l}"] - learning_rate * grads[f"d{p}{l}"]
    return parameters


step = types.SimpleNamespace(
    initialize_parameters=_w4_initialize_parameters,
    initialize_parameters_deep=_w4_initialize_parameters_deep,
    linear_forward=_w4_linear_forward, linear_activation_forward=_w4_linear_activation_forward,
    L_model_forward=_w4_L_model_forward, compute_cost=_w4_compute_cost,
    linear_backward=_w4_linear_backward,
    linear_activation_backward=_w4_linear_activation_backward,
    L_model_backward=_w4_L_model_backward, update_parameters=_w4_update_parameters,
    sigmoid=_sigmoid_cached, relu=_relu_cached, sigmoid_backward=_sigmoid_backward,
    relu_backward=_relu_backward)


# ------------------------------------------------------------------ C1W4A2

def _app_initialize_parameters_deep(layer_dims):
    np.random.seed(1)
    return _draw_layers(layer_dims, lambda W, n_prev: W / np.sqrt(n_prev))


def _app_update_parameters(parameters, grads, learning_rate):
    for l in range(1, len(parameters) // 2 + 1):
        for p in ("W", "b"):
            parameters[f"{p}{l}"] = parameters[f"{p}{l}"] - learning_rate * grads[f"d{p}{l}"]
    return parameters


def _app_predict(X, y, parameters):
    probas, _ = _w4_L_model_forward(X, parameters)
    p = np.zeros((1, X.shape[1]))
    p[0, probas[0] > 0.5] = 1
    print("Accuracy: " + str(np.sum((p == y) / X.shape[1])))
    return p


def _report(print_cost, i, num_iterations, cost, costs):
    if print_cost and i % 100 == 0 or i == num_iterations - 1:
        print("Cost after iteration {}: {}".format(i, np.squeeze(cost)))
    if i % 100 == 0 or i == num_iterations:
        costs.append(cost)


def _app_two_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                         print_cost=False):
    np.random.seed(1)
    costs = []
    parameters = _w4_initialize_parameters(*layers_dims)
    for i in range(num_iterations):
        A1, cache1 = _w4_linear_activation_forward(X, parameters["W1"], parameters["b1"], "relu")
        A2, cache2 = _w4_linear_activation_forward(A1, parameters["W2"], parameters["b2"],
                                                   "sigmoid")
        cost = _w4_compute_cost(A2, Y)
        dA2 = -(np.divide(Y, A2) - np.divide(1 - Y, 1 - A2))
        dA1, dW2, db2 = _w4_linear_activation_backward(dA2, cache2, "sigmoid")
        _, dW1, db1 = _w4_linear_activation_backward(dA1, cache1, "relu")
        grads = {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
        parameters = _app_update_parameters(parameters, grads, learning_rate)
        _report(print_cost, i, num_iterations, cost, costs)
    return parameters, costs


def _app_L_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                       print_cost=False):
    np.random.seed(1)
    costs = []
    parameters = _app_initialize_parameters_deep(layers_dims)
    for i in range(num_iterations):
        AL, caches = _w4_L_model_forward(X, parameters)
        cost = _w4_compute_cost(AL, Y)
        grads = _w4_L_model_backward(AL, Y, caches)
        parameters = _app_update_parameters(parameters, grads, learning_rate)
        _report(print_cost, i, num_iterations, cost, costs)
    return parameters, costs


app = types.SimpleNamespace(**{
    **vars(step), "initialize_parameters_deep": _app_initialize_parameters_deep,
    "update_parameters": _app_update_parameters, "predict": _app_predict,
    "two_layer_model": _app_two_layer_model, "L_layer_model": _app_L_layer_model})


# --------------------------------------------------------- for the tests

#: relative tolerances: float64 results to 1e-12 (1e-9 after training loops,
#: which amplify last-bit differences), float32 to its precision
RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 2e-5}
RTOL_TRAINED = 1e-9


def same(actual, expected, rtol=None, what="value"):
    """actual is expected: same Python type, dtype and shape, values within
    rtol relative to the largest |expected| (default: RTOL of the dtype);
    recursing into dicts (same keys in the same order), tuples and lists."""
    assert type(actual) is type(expected), (
        f"{what}: {type(actual).__name__}, expected {type(expected).__name__}")
    if isinstance(expected, dict):
        assert list(actual) == list(expected), f"{what}: keys {list(actual)} != {list(expected)}"
        for k in expected:
            same(actual[k], expected[k], rtol, f"{what}[{k!r}]")
    elif isinstance(expected, (tuple, list)):
        assert len(actual) == len(expected), f"{what}: length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            same(a, e, rtol, f"{what}[{i}]")
    elif isinstance(expected, (np.ndarray, np.generic)):
        assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
        assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
        if expected.dtype.kind not in "fc":          # bool, int, bytes: exactly
            np.testing.assert_array_equal(actual, expected, err_msg=what)
            return
        tol = RTOL.get(expected.dtype, 0.0) if rtol is None else rtol
        big = float(np.max(np.abs(expected))) if expected.size else 0.0
        np.testing.assert_allclose(actual, expected, rtol=0, atol=tol * big, err_msg=what)
    elif isinstance(expected, float):
        tol = RTOL[np.dtype(np.float64)] if rtol is None else rtol
        assert abs(actual - expected) <= tol * abs(expected), f"{what}: {actual} != {expected}"
    else:
        assert actual == expected, f"{what}: {actual!r} != {expected!r}"


def network(layer_dims, m, seed, dtype=np.float64):
    """(X, Y, parameters) of random values for layer_dims, m examples; Y uint8 0/1."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((layer_dims[0], m)).astype(dtype)
    Y = (rng.random((layer_dims[-1], m)) < 0.5).astype(np.uint8)
    parameters = {}
    for l in range(1, len(layer_dims)):
        n, n_prev = layer_dims[l], layer_dims[l - 1]
        parameters[f"W{l}"] = (rng.standard_normal((n, n_prev)) / np.sqrt(n_prev)).astype(dtype)
        parameters[f"b{l}"] = (0.1 * rng.standard_normal((n, 1))).astype(dtype)
    return X, Y, parameters


def check_names(module, signatures):
    """module exports exactly the names of ``signatures`` ({name: "(X, Y)"}, the
    course's parameter lists), by __all__ and by ``import *``, with those signatures."""
    assert sorted(module.__all__) == sorted(signatures), module.__name__
    for name, sig in signatures.items():
        if sig is not None:
            assert str(inspect.signature(getattr(module, name))) == sig, name
    ns = {}
    exec(f"from {module.__name__} import *", ns)
    assert sorted(k for k in ns if not k.startswith("__")) == sorted(signatures)
