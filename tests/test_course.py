"""fastbp.course against an independent plain-NumPy course implementation.

The ``npc`` namespace below is the course's NumPy code (Deep Learning
Specialization 2021+, course 1 weeks 3-4, course 2 weeks 1-2) written out
as a learner writes it, generalised to any depth where fastbp.course is.
Every fastbp.course result is compared with it: 1e-12 relative in float64.
"""
import copy
import math
import types

import numpy as np
import pytest

import fastbp.course as fc
from fastbp.course import c2w1a1, c2w1a2, c2w2a1
from fastbp.datasets import load_planar_dataset

RTOL64 = 1e-12
RTOL32 = 2e-5


# --------------------------------------------------------------- reference

def _sig(Z):
    return 1 / (1 + np.exp(-Z))


def _np_forward_propagation(X, parameters):
    W1, b1, W2, b2 = (parameters[k] for k in ("W1", "b1", "W2", "b2"))
    Z1 = np.dot(W1, X) + b1
    A1 = np.tanh(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = _sig(Z2)
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def _np_compute_cost(AL, Y):
    m = Y.shape[1]
    cost = -1 / m * np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL))
    return np.squeeze(cost)


def _np_backward_propagation(parameters, cache, X, Y):
    m = X.shape[1]
    W2 = parameters["W2"]
    A1, A2 = cache["A1"], cache["A2"]
    dZ2 = A2 - Y
    dW2 = 1 / m * np.dot(dZ2, A1.T)
    db2 = 1 / m * np.sum(dZ2, axis=1, keepdims=True)
    dZ1 = np.dot(W2.T, dZ2) * (1 - np.power(A1, 2))
    dW1 = 1 / m * np.dot(dZ1, X.T)
    db1 = 1 / m * np.sum(dZ1, axis=1, keepdims=True)
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


def _np_update_parameters(params, grads, learning_rate):
    parameters = params.copy()
    L = len(parameters) // 2
    for l in range(L):
        parameters["W" + str(l + 1)] = parameters["W" + str(l + 1)] - learning_rate * grads["dW" + str(l + 1)]
        parameters["b" + str(l + 1)] = parameters["b" + str(l + 1)] - learning_rate * grads["db" + str(l + 1)]
    return parameters


def _np_nn_model(X, Y, n_h, num_iterations):
    np.random.seed(3)
    n_x, n_y = X.shape[0], Y.shape[0]
    parameters = {"W1": np.random.randn(n_h, n_x) * 0.01, "b1": np.zeros((n_h, 1)),
                  "W2": np.random.randn(n_y, n_h) * 0.01, "b2": np.zeros((n_y, 1))}
    for i in range(num_iterations):
        A2, cache = _np_forward_propagation(X, parameters)
        grads = _np_backward_propagation(parameters, cache, X, Y)
        parameters = _np_update_parameters(parameters, grads, 1.2)
    return parameters


def _np_relu_backward(dA, Z):
    dZ = np.array(dA, copy=True)
    dZ[Z <= 0] = 0
    return dZ


def _np_sigmoid_backward(dA, Z):
    s = 1 / (1 + np.exp(-Z))
    return dA * s * (1 - s)


def _np_linear_backward(dZ, cache):
    A_prev, W, b = cache
    m = A_prev.shape[1]
    dW = 1 / m * np.dot(dZ, A_prev.T)
    db = 1 / m * np.sum(dZ, axis=1, keepdims=True)
    dA_prev = np.dot(W.T, dZ)
    return dA_prev, dW, db


def _np_linear_activation_forward(A_prev, W, b, activation):
    Z = np.dot(W, A_prev) + b
    A = np.maximum(0, Z) if activation == "relu" else _sig(Z)
    return A, ((A_prev, W, b), Z)


def _np_linear_activation_backward(dA, cache, activation):
    linear_cache, Z = cache[0], cache[1]
    if activation == "relu":
        dZ = _np_relu_backward(dA, Z)
    else:
        dZ = _np_sigmoid_backward(dA, Z)
    return _np_linear_backward(dZ, linear_cache)


def _np_L_model_forward(X, parameters, keep_prob=1.0):
    caches = []
    A = X
    L = len(parameters) // 2
    for l in range(1, L):
        A_prev = A
        A, cache = _np_linear_activation_forward(A_prev, parameters["W" + str(l)],
                                                 parameters["b" + str(l)], "relu")
        if keep_prob < 1:
            D = np.random.rand(A.shape[0], A.shape[1])
            D = (D < keep_prob).astype(int)
            A = A * D
            A = A / keep_prob
            cache = cache + (D,)
        caches.append(cache)
    AL, cache = _np_linear_activation_forward(A, parameters["W" + str(L)],
                                              parameters["b" + str(L)], "sigmoid")
    caches.append(cache)
    return AL, caches


def _np_L_model_backward(AL, Y, caches, lambd=0.0, keep_prob=1.0):
    grads = {}
    L = len(caches)
    m = AL.shape[1]
    Y = Y.reshape(AL.shape)
    dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    current_cache = caches[L - 1]
    dA_prev, dW, db = _np_linear_activation_backward(dAL, current_cache, "sigmoid")
    W = current_cache[0][1]
    grads["dA" + str(L - 1)] = dA_prev
    grads["dW" + str(L)] = dW + lambd / m * W
    grads["db" + str(L)] = db
    for l in reversed(range(L - 1)):
        current_cache = caches[l]
        dA = grads["dA" + str(l + 1)]
        if keep_prob < 1:
            dA = dA * current_cache[2]
            dA = dA / keep_prob
            grads["dA" + str(l + 1)] = dA
        dA_prev, dW, db = _np_linear_activation_backward(dA, current_cache, "relu")
        grads["dA" + str(l)] = dA_prev
        grads["dW" + str(l + 1)] = dW + lambd / m * current_cache[0][1]
        grads["db" + str(l + 1)] = db
    return grads


def _np_initialize_parameters_deep(layer_dims):
    np.random.seed(1)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters["W" + str(l)] = np.random.randn(layer_dims[l], layer_dims[l - 1]) / np.sqrt(layer_dims[l - 1])
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def _np_L_layer_model(X, Y, layers_dims, learning_rate, num_iterations, lambd=0.0,
                      keep_prob=1.0):
    parameters = _np_initialize_parameters_deep(layers_dims)   # seeds 1
    costs = []
    for i in range(num_iterations):
        AL, caches = _np_L_model_forward(X, parameters, keep_prob)
        cost = _np_compute_cost(AL, Y)
        if lambd:
            m = Y.shape[1]
            cost = cost + 1 / m * lambd / 2 * sum(
                np.sum(np.square(parameters["W" + str(l)]))
                for l in range(1, len(layers_dims)))
        grads = _np_L_model_backward(AL, Y, caches, lambd, keep_prob)
        parameters = _np_update_parameters(parameters, grads, learning_rate)
        if i % 100 == 0:
            costs.append(cost)
    return parameters, costs


def _np_random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    np.random.seed(seed)
    m = X.shape[1]
    mini_batches = []
    permutation = list(np.random.permutation(m))
    shuffled_X = X[:, permutation]
    shuffled_Y = Y[:, permutation].reshape((1, m))
    num_complete = math.floor(m / mini_batch_size)
    for k in range(num_complete):
        mini_batches.append((shuffled_X[:, k * mini_batch_size:(k + 1) * mini_batch_size],
                             shuffled_Y[:, k * mini_batch_size:(k + 1) * mini_batch_size]))
    if m % mini_batch_size != 0:
        mini_batches.append((shuffled_X[:, num_complete * mini_batch_size:],
                             shuffled_Y[:, num_complete * mini_batch_size:]))
    return mini_batches


# ----------------------------------------------------------------- helpers

def assert_close(actual, expected, rtol=RTOL64, name=""):
    """Same shape and dtype, and |a - e| <= rtol (|e| + max|e|) elementwise."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale,
                               err_msg=f"{name} (rtol={rtol})")


def random_params(layer_dims, rng, dtype=np.float64, bias=0.1):
    p = {}
    for l in range(1, len(layer_dims)):
        p["W" + str(l)] = (rng.standard_normal((layer_dims[l], layer_dims[l - 1]))
                           / np.sqrt(layer_dims[l - 1])).astype(dtype)
        p["b" + str(l)] = (bias * rng.standard_normal((layer_dims[l], 1))).astype(dtype)
    return p


def labels(rng, m, n_y=1):
    return (rng.random((n_y, m)) > 0.5).astype(np.uint8)


def frozen(obj):
    """Deep copy of a nest of dicts/lists/tuples/arrays, to detect mutation."""
    return copy.deepcopy(obj)


def assert_unchanged(before, after, path="input"):
    if isinstance(before, dict):
        assert set(before) == set(after), path
        for k in before:
            assert_unchanged(before[k], after[k], f"{path}[{k!r}]")
    elif isinstance(before, (list, tuple)):
        assert len(before) == len(after), path
        for i, (a, b) in enumerate(zip(before, after)):
            assert_unchanged(a, b, f"{path}[{i}]")
    elif isinstance(before, np.ndarray):
        assert np.array_equal(before, after, equal_nan=True), f"{path} was modified"


# shapes: the course's own and random ones, m = 1 included
DEEP_CASES = [
    ([3, 1], 5),                      # L = 1: logistic regression
    ([2, 4, 1], 400),                 # the planar network, relu'd
    ([5, 4, 3, 1], 1),                # m = 1
    ([4, 5, 3, 1], 3),                # course 2's gradient-checking shapes
    ([7, 6, 5, 4, 3, 1], 33),
    ([20, 7, 5, 1], 64),
    ([12288, 20, 7, 5, 1], 209),      # the course's application
    ([784, 64, 1], 17),
]


# ------------------------------------------------------------ course 1 week 3

def test_layer_sizes_and_initialize_parameters():
    X = np.zeros((5, 3))
    Y = np.zeros((2, 3))
    assert fc.layer_sizes(X, Y) == (5, 4, 2)
    np.random.seed(2)
    p = fc.initialize_parameters(3, 4, 2)
    np.random.seed(2)
    W1 = np.random.randn(4, 3) * 0.01
    W2 = np.random.randn(2, 4) * 0.01
    assert list(p) == ["W1", "b1", "W2", "b2"]
    np.testing.assert_array_equal(p["W1"], W1)
    np.testing.assert_array_equal(p["W2"], W2)
    assert p["b1"].shape == (4, 1) and not p["b1"].any()
    assert p["b2"].shape == (2, 1) and not p["b2"].any()
    # the course's week 3 test case value (seed 2): W1[0, 0] = -0.00416758
    assert abs(p["W1"][0, 0] - -0.00416758) < 1e-8


@pytest.mark.parametrize("m", [1, 3, 400])
@pytest.mark.parametrize("n_h", [1, 4, 9])
def test_week3_forward_cost_backward(m, n_h):
    rng = np.random.default_rng(m * 10 + n_h)
    X = rng.standard_normal((2, m))
    Y = labels(rng, m)
    params = random_params([2, n_h, 1], rng, bias=0.3)
    before = frozen((X, Y, params))
    A2, cache = fc.forward_propagation(X, params)
    eA2, ecache = _np_forward_propagation(X, params)
    assert list(cache) == ["Z1", "A1", "Z2", "A2"]
    assert cache["A2"] is A2
    for k in ecache:
        assert_close(cache[k], ecache[k], name=k)
    cost = fc.compute_cost(A2, Y)
    assert isinstance(cost, float) and np.ndim(cost) == 0
    assert_close(cost, _np_compute_cost(eA2, Y), name="cost")
    grads = fc.backward_propagation(params, cache, X, Y)
    egrads = _np_backward_propagation(params, ecache, X, Y)
    assert list(grads) == ["dW1", "db1", "dW2", "db2"]
    for k in egrads:
        assert_close(grads[k], egrads[k], name=k)
    new = fc.update_parameters(params, grads)           # default learning_rate 1.2
    enew = _np_update_parameters(params, egrads, 1.2)
    for k in enew:
        assert_close(new[k], enew[k], name=k)
    assert new is not params
    assert_unchanged(before, (X, Y, params))


def test_nn_model_matches_numpy_and_learns_the_flower():
    X, Y = load_planar_dataset()
    p = fc.nn_model(X, Y, 4, num_iterations=300)
    e = _np_nn_model(X, Y, 4, 300)
    assert list(p) == ["W1", "b1", "W2", "b2"]
    for k in e:   # 300 steps of lr 1.2 amplify last-bit differences a little
        assert_close(p[k], e[k], rtol=1e-9, name=k)
    p = fc.nn_model(X, Y, 4, num_iterations=10000)
    pred = fc.predict(p, X)
    assert pred.dtype == np.bool_ and pred.shape == (1, 400)
    # the notebook's formula (squeezed: NumPy 2 no longer converts (1, 1) arrays to float)
    accuracy = float(np.squeeze(np.dot(Y, pred.T) + np.dot(1 - Y, 1 - pred.T))
                     / float(Y.size) * 100)
    assert accuracy >= 88.0, accuracy


def test_nn_model_prints_every_1000(capsys):
    X, Y = load_planar_dataset()
    fc.nn_model(X, Y, 2, num_iterations=2001, print_cost=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split(":")[0] for ln in lines] == [
        "Cost after iteration 0", "Cost after iteration 1000", "Cost after iteration 2000"]
    assert lines[0] == "Cost after iteration 0: 0.693147" or lines[0].startswith(
        "Cost after iteration 0: 0.6931")
    fc.nn_model(X, Y, 2, num_iterations=10)
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------ course 1 week 4

def test_relu_backward_differs_from_the_course_only_on_non_finite_inputs():
    """fastbp.course's docstring: the relu derivative multiplies by the mask Z > 0;
    "the results differ only for non-finite inputs (an infinite dA where Z <= 0
    gives nan, not 0; a NaN in Z gives 0, where the course's dZ[Z <= 0] = 0
    keeps dA)". Both halves, against the course's own expression."""
    Z = np.array([[-2.0, 0.0, 3.0, np.nan, -1.0, 2.0]])
    dA = np.array([[0.5, -1.5, 2.5, 4.0, np.inf, -np.inf]])
    with np.errstate(invalid="ignore"):
        got = fc.relu_backward(dA, Z)
    course = _np_relu_backward(dA, Z)
    finite = np.isfinite(Z) & np.isfinite(dA)
    np.testing.assert_array_equal(got[finite], course[finite])
    assert np.isnan(got[0, 4]) and course[0, 4] == 0.0          # inf dA where Z <= 0
    assert got[0, 5] == course[0, 5] == -np.inf                 # inf dA where Z > 0: same
    assert got[0, 3] == 0.0 and course[0, 3] == 4.0             # NaN Z: 0, the course dA


def test_activation_helpers():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((4, 7)) * 5
    Z[0, 0] = 0.0
    dA = rng.standard_normal((4, 7))
    A, c = fc.sigmoid(Z)
    assert c is Z
    assert_close(A, _sig(Z), name="sigmoid")
    A, c = fc.relu(Z)
    assert c is Z
    np.testing.assert_array_equal(A, np.maximum(0, Z))
    dZ = fc.relu_backward(dA, Z)
    np.testing.assert_array_equal(dZ, _np_relu_backward(dA, Z))   # exact
    assert dZ[0, 0] == 0.0                                          # Z = 0 -> 0
    assert_close(fc.sigmoid_backward(dA, Z), _np_sigmoid_backward(dA, Z), name="dsig")
    # float32 stays float32
    Z32, dA32 = Z.astype(np.float32), dA.astype(np.float32)
    assert fc.sigmoid(Z32)[0].dtype == np.float32
    assert fc.relu_backward(dA32, Z32).dtype == np.float32
    assert fc.sigmoid_backward(dA32, Z32).dtype == np.float32
    # no overflow warning for very negative Z
    with np.errstate(all="raise"):
        assert fc.sigmoid(np.array([[-1000.0, 1000.0]]))[0].tolist() == [[0.0, 1.0]]


def test_sigmoid_of_a_list_of_ints_is_that_of_the_list_of_floats():
    # a list of floats worked and a list of ints raised NumPy's "Field
    # elements must be 2- or 3-tuples" (np.result_type read the list as a
    # structured dtype spec)
    from fastbp.course import c1w3a1, c2w1a1
    for sigmoid in (lambda x: fc.sigmoid(x)[0], c1w3a1.sigmoid, c2w1a1.sigmoid):
        np.testing.assert_array_equal(sigmoid([[0, 2]]), sigmoid([[0.0, 2.0]]))
        assert sigmoid([[0, 2]]).dtype == np.float64
        with pytest.raises(TypeError, match="dtype complex128"):
            sigmoid([[1j, 2]])


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
@pytest.mark.parametrize("m", [1, 6])
def test_linear_building_blocks(activation, m):
    rng = np.random.default_rng(m)
    A_prev = rng.standard_normal((5, m))
    W = rng.standard_normal((3, 5))
    b = rng.standard_normal((3, 1))
    before = frozen((A_prev, W, b))
    Z, cache = fc.linear_forward(A_prev, W, b)
    assert_close(Z, np.dot(W, A_prev) + b, name="Z")
    assert cache[0] is A_prev and cache[1] is W and cache[2] is b
    A, cache = fc.linear_activation_forward(A_prev, W, b, activation)
    eA, ecache = _np_linear_activation_forward(A_prev, W, b, activation)
    assert_close(A, eA, name="A")
    (cA, cW, cb), cZ = cache
    assert cA is A_prev and cW is W and cb is b
    assert_close(cZ, ecache[1], name="Z")
    dA = rng.standard_normal((3, m))
    out = fc.linear_activation_backward(dA, cache, activation)
    exp = _np_linear_activation_backward(dA, ecache, activation)
    assert isinstance(out, tuple) and len(out) == 3
    for a, e, k in zip(out, exp, ("dA_prev", "dW", "db")):
        assert_close(a, e, name=k)
    dZ = rng.standard_normal((3, m))
    for a, e, k in zip(fc.linear_backward(dZ, (A_prev, W, b)),
                       _np_linear_backward(dZ, (A_prev, W, b)), ("dA_prev", "dW", "db")):
        assert_close(a, e, name=k)
    assert_unchanged(before, (A_prev, W, b))


@pytest.mark.parametrize("dims,m", DEEP_CASES)
def test_L_model_forward_backward_match_numpy(dims, m):
    rng = np.random.default_rng(len(dims) * 1000 + m)
    X = rng.standard_normal((dims[0], m))
    Y = labels(rng, m)
    params = random_params(dims, rng)
    before = frozen((X, Y, params))
    AL, caches = fc.L_model_forward(X, params)
    eAL, ecaches = _np_L_model_forward(X, params)
    assert_close(AL, eAL, name="AL")
    # the course's cache structure
    assert isinstance(caches, list) and len(caches) == len(dims) - 1
    for l, (c, ec) in enumerate(zip(caches, ecaches), start=1):
        assert isinstance(c, tuple) and len(c) == 2
        (A_prev, W, b), Z = c
        assert W is params["W" + str(l)] and b is params["b" + str(l)]
        if l == 1:
            assert A_prev is X
        assert_close(A_prev, ec[0][0], name=f"A{l - 1}")
        assert_close(Z, ec[1], name=f"Z{l}")
    cost = fc.compute_cost(AL, Y)
    assert np.ndim(cost) == 0 and cost.dtype == np.float64
    assert_close(cost, _np_compute_cost(eAL, Y), name="cost")
    grads = fc.L_model_backward(AL, Y, caches)
    egrads = _np_L_model_backward(eAL, Y, ecaches)
    assert list(grads) == list(egrads)           # keys and the course's order
    for k in egrads:
        assert_close(grads[k], egrads[k], name=k)
        assert grads[k].dtype == np.float64
    new = fc.update_parameters(params, grads, 0.05)
    enew = _np_update_parameters(params, egrads, 0.05)
    assert list(new) == list(enew)
    for k in enew:
        assert_close(new[k], enew[k], name=k)
    assert_unchanged(before, (X, Y, params))


def test_recycled_outputs_never_overwrite_what_the_caller_holds():
    # large arrays are recycled once nothing refers to them; anything still
    # reachable (dicts, lists, views) must keep its values
    rng = np.random.default_rng(61)
    dims, m = [300, 200, 100, 1], 128            # outputs above the pool threshold
    X = rng.standard_normal((dims[0], m))
    Y = labels(rng, m)
    params = random_params(dims, rng)
    kept, views, snapshots = [], [], []
    for it in range(5):
        AL, caches = fc.L_model_forward(X, params)
        grads = fc.L_model_backward(AL, Y, caches)
        new = fc.update_parameters(params, grads, 0.01)
        if it % 2 == 0:            # keep every other iteration's results
            kept.append((AL, caches, grads, new))
            snapshots.append(frozen((AL, caches, grads, new)))
        views.append(grads["dW1"][:2])          # a view keeps its base alive
        snapshots_views = [v.copy() for v in views]
        params = new
    for k, s in zip(kept, snapshots):
        assert_unchanged(s, k, "kept results")
    for v, sv in zip(views, snapshots_views):
        np.testing.assert_array_equal(v, sv)
    # and the pool really recycles: a loop that drops its results reuses memory
    ptrs = set()
    for it in range(6):
        AL, caches = fc.L_model_forward(X, params)
        grads = fc.L_model_backward(AL, Y, caches)
        ptrs.add(grads["dW1"].ctypes.data)
    assert len(ptrs) <= 3


def test_a_weak_reference_to_a_dropped_output_dies_and_never_sees_a_new_result():
    # a weakref to a dropped recycled output stayed alive and then pointed at
    # the next call's result (NumPy's fresh arrays: the reference dies)
    import gc
    import weakref
    rng = np.random.default_rng(62)
    X = rng.standard_normal((100, 200))
    params = random_params([100, 128, 1], rng)
    AL, caches = fc.L_model_forward(X, params)
    A1 = caches[0][1]                          # Z1, (128, 200): from the pool
    assert A1.nbytes >= 1 << 16
    ref = weakref.ref(A1)
    kept = A1.copy()
    del A1, AL, caches
    gc.collect()
    AL2, caches2 = fc.L_model_forward(2 * X, params)
    assert ref() is None or ref() is not caches2[0][1]
    if ref() is not None:                      # still pooled: never overwritten
        np.testing.assert_array_equal(ref(), kept)
    for _ in range(2):
        AL2, caches2 = fc.L_model_forward(2 * X, params)
    assert ref() is None


@pytest.mark.parametrize("dims,m", [([5, 4, 3, 1], 1), ([20, 7, 5, 1], 64),
                                    ([784, 64, 1], 17)])
def test_float32_stays_float32(dims, m):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((dims[0], m))
    Y = labels(rng, m)
    p64 = random_params(dims, rng)
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    AL, caches = fc.L_model_forward(X.astype(np.float32), p32)
    assert AL.dtype == np.float32
    assert all(c[1].dtype == np.float32 for c in caches)
    grads = fc.L_model_backward(AL, Y, caches)
    eAL, ecaches = _np_L_model_forward(X, p64)
    egrads = _np_L_model_backward(eAL, Y, ecaches)
    for k in egrads:
        assert grads[k].dtype == np.float32, k
        assert_close(grads[k], egrads[k], rtol=RTOL32, name=k)
    cost = fc.compute_cost(AL, Y)
    assert cost.dtype == np.float32
    new = fc.update_parameters(p32, grads, 0.1)
    assert all(v.dtype == np.float32 for v in new.values())


def test_mixed_dtypes_follow_numpy_promotion():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, 5)).astype(np.float32)
    p = random_params([3, 2, 1], rng)             # float64
    AL, caches = fc.L_model_forward(X, p)
    eAL, _ = _np_L_model_forward(X, p)
    assert AL.dtype == eAL.dtype == np.float64
    assert_close(AL, eAL, rtol=1e-12, name="AL")
    Xi = (rng.random((3, 5)) * 10).astype(np.int64)     # integer features
    AL, _ = fc.L_model_forward(Xi, p)
    assert_close(AL, _np_L_model_forward(Xi, p)[0], name="AL(int X)")


@pytest.mark.parametrize("ydtype", [np.int64, np.float64, np.float32])
def test_labels_are_read_in_als_dtype_as_documented(ydtype):
    # the module notes: float32 gradients stay float32 whatever the labels'
    # dtype (NumPy's dAL would promote int64 / float64 labels to float64)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((3, 6)).astype(np.float32)
    p = {k: v.astype(np.float32) for k, v in random_params([3, 2, 1], rng).items()}
    Y = np.array([[0, 1, 1, 0, 1, 0]], ydtype)
    AL, caches = fc.L_model_forward(X, p)
    grads = fc.L_model_backward(AL, Y, caches)
    assert {v.dtype for v in grads.values()} == {np.dtype(np.float32)}
    expected = _np_L_model_backward(AL, Y.astype(np.float32), caches)
    for k in ("dW1", "db1", "dW2", "db2"):
        assert_close(grads[k], expected[k], rtol=1e-5, name=k)


@pytest.mark.parametrize("order", [">", "<"])
def test_byteswapped_data_gives_numpys_values(order):
    """Data in the other byte order (read from a file with one, say) computes
    as NumPy computes it. With outputs large enough to come from the array
    pool, the pool handed out arrays of the input's '>f8' dtype, the kernels
    wrote native bytes into them, and Z came back as 1e+281-like garbage."""
    from fastbp._course import POOL_MIN_BYTES
    rng = np.random.default_rng(7)
    m = POOL_MIN_BYTES // (3 * 8) + 7
    X = rng.standard_normal((5, m)).astype(order + "f8")
    W, b = rng.standard_normal((3, 5)), rng.standard_normal((3, 1))
    Z, _ = fc.linear_forward(X, W, b)
    assert_close(Z, np.dot(W, X) + b, name="Z")
    A, cache = fc.linear_activation_forward(X, W, b, "relu")
    assert_close(A, np.maximum(np.dot(W, X) + b, 0), name="A")
    dZ = rng.standard_normal((3, m)).astype(order + "f8")
    for a, e, k in zip(fc.linear_backward(dZ, (X, W, b)),
                       _np_linear_backward(dZ, (X, W, b)), ("dA_prev", "dW", "db")):
        assert_close(a, e, name=k)
    params = {"W1": W.astype(order + "f8"), "b1": b, "W2": rng.standard_normal((1, 3)),
              "b2": np.zeros((1, 1))}
    AL, _ = fc.L_model_forward(X, params)
    assert_close(AL, _np_L_model_forward(X.astype(np.float64), params)[0], name="AL")


def test_one_dimensional_bias_is_refused_as_numpy_would_not_add_a_column():
    """np.dot(W, A) + b with b (n,) adds b[j] to example j (n == m) or fails
    to broadcast; fastbp took it as a column, hiding the learner's mistake."""
    rng = np.random.default_rng(3)
    A, W = rng.standard_normal((3, 4)), rng.standard_normal((4, 3))
    with pytest.raises(ValueError, match=r"b has shape \(4,\).*reshape\(-1, 1\)"):
        fc.linear_forward(A, W, np.zeros(4))
    params = {"W1": W, "b1": np.zeros(4), "W2": rng.standard_normal((1, 4)),
              "b2": np.zeros((1, 1))}
    with pytest.raises(ValueError, match=r"b1 has shape \(4,\)"):
        fc.L_model_forward(A, params)
    Z, _ = fc.linear_forward(A, W[:1], np.zeros(1))     # one unit: NumPy adds it to all
    assert_close(Z, np.dot(W[:1], A), name="Z")


def test_parameters_as_lists_compute_as_numpy():
    """The course's np.dot takes lists; fastbp raised an AttributeError."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((3, 5))
    params = random_params([3, 4, 1], rng)
    as_lists = {k: v.tolist() for k, v in params.items()}
    AL, caches = fc.L_model_forward(X.tolist(), as_lists)
    assert_close(AL, _np_L_model_forward(X, params)[0], name="AL")
    Z, _ = fc.linear_forward(X.tolist(), params["W1"].tolist(), params["b1"].tolist())
    assert_close(Z, np.dot(params["W1"], X) + params["b1"], name="Z")


@pytest.mark.parametrize("lambd, exc", [(-0.5, ValueError), ("0.5", TypeError),
                                        (float("nan"), ValueError)])
@pytest.mark.parametrize("keep_prob", [1.0, 0.9])
def test_lambd_is_checked_on_every_path(lambd, exc, keep_prob):
    """With dropout, L_layer_model took a negative lambd (and a string failed
    in NumPy's arithmetic); L_model_backward took both."""
    rng = np.random.default_rng(5)
    X, Y = rng.standard_normal((3, 8)), (rng.random((1, 8)) > 0.5).astype(float)
    with pytest.raises(exc, match="lambd"):
        fc.L_layer_model(X, Y, [3, 2, 1], num_iterations=2, lambd=lambd, keep_prob=keep_prob)
    AL, caches = fc.L_model_forward(X, random_params([3, 2, 1], rng))
    with pytest.raises(exc, match="lambd"):
        fc.L_model_backward(AL, Y, caches, lambd=lambd)


def test_c1w4a1_compute_cost_text_labels_get_fastbps_type_error():
    from fastbp.course import c1w4a1
    with pytest.raises(TypeError, match="Unsupported dtype: Y"):
        c1w4a1.compute_cost(np.array([[0.2, 0.7]]), np.array([["a", "b"]]))


def test_L_model_backward_hand_built_caches_like_the_course_tests():
    # The course's L_model_backward_test_case: AL, A, Z drawn independently,
    # so AL != sigmoid(Z_L) and A != relu(Z). fastbp must follow the formulas.
    np.random.seed(3)
    AL = np.random.randn(1, 2)
    Y = np.array([[1, 0]])
    A1 = np.random.randn(4, 2)
    W1 = np.random.randn(3, 4)
    b1 = np.random.randn(3, 1)
    Z1 = np.random.randn(3, 2)
    A2 = np.random.randn(3, 2)
    W2 = np.random.randn(1, 3)
    b2 = np.random.randn(1, 1)
    Z2 = np.random.randn(1, 2)
    caches = (((A1, W1, b1), Z1), ((A2, W2, b2), Z2))
    grads = fc.L_model_backward(AL, Y, caches)
    egrads = _np_L_model_backward(AL, Y, caches)
    assert list(grads) == ["dA1", "dW2", "db2", "dA0", "dW1", "db1"]
    for k in egrads:
        assert_close(grads[k], egrads[k], name=k)
    # the course notebook's expected dW1 row 0
    np.testing.assert_allclose(grads["dW1"][0], [0.41010002, 0.07807203, 0.13798444, 0.10502167],
                               atol=1e-8)


def test_L_model_backward_recognises_its_forward(monkeypatch):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 9))
    Y = labels(rng, 9)
    params = random_params([4, 3, 1], rng)
    AL, caches = fc.L_model_forward(X, params)
    calls = []
    real = fc._output_delta_course
    monkeypatch.setattr(fc, "_output_delta_course",
                        lambda *a: calls.append(1) or real(*a))
    fc.L_model_backward(AL, Y, caches)
    assert calls == []                       # AL - Y, the fused output delta
    fc.L_model_backward(AL.copy(), Y, caches)
    assert calls == [1]                      # an array it did not make: the formula
    AL2, caches2 = fc.L_model_forward(X, params)
    fc.L_model_backward(AL2, Y, caches)      # AL of another forward, these caches
    assert calls == [1, 1]
    del AL2, caches2


def test_L_model_backward_copy_of_AL_and_saturated_outputs():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((4, 9))
    Y = labels(rng, 9)
    params = random_params([4, 3, 1], rng)
    AL, caches = fc.L_model_forward(X, params)
    g_fast = fc.L_model_backward(AL, Y, caches)
    g_copy = fc.L_model_backward(AL.copy(), Y, caches)   # the course's formula path
    for k in g_fast:
        assert_close(g_copy[k], g_fast[k], rtol=1e-13, name=k)
    # saturate the output: the course's dAL divides by zero, fastbp stays finite
    for b2, value in ((800.0, 1.0), (-800.0, 0.0)):
        big = {k: v.copy() for k, v in params.items()}
        big["W2"][:] = 0.0
        big["b2"][:] = b2
        AL, caches = fc.L_model_forward(X, big)
        assert np.all(AL == value)
        with np.errstate(all="ignore"):
            egrads = _np_L_model_backward(AL, Y, caches)
        assert not np.isfinite(egrads["db2"]).all()
        for g in (fc.L_model_backward(AL, Y, caches),
                  fc.L_model_backward(AL.copy(), Y, caches)):
            assert all(np.isfinite(v).all() for v in g.values())
            assert_close(g["db2"], (AL - Y).mean(axis=1, keepdims=True), name="db2")
            assert_close(g["dA1"], big["W2"].T @ (AL - Y), name="dA1")
        cost = fc.compute_cost(AL, Y)
        assert np.isfinite(cost) and cost > 100


def test_L2_regularisation():
    rng = np.random.default_rng(11)
    dims, m, lambd = [6, 5, 3, 1], 13, 0.7
    X = rng.standard_normal((dims[0], m))
    Y = labels(rng, m)
    params = random_params(dims, rng)
    AL, caches = fc.L_model_forward(X, params)
    grads = fc.L_model_backward(AL, Y, caches, lambd=lambd)
    eAL, ecaches = _np_L_model_forward(X, params)
    egrads = _np_L_model_backward(eAL, Y, ecaches, lambd=lambd)
    for k in egrads:
        assert_close(grads[k], egrads[k], name=k)
    # the course's 3-layer formula, then deeper
    cost = fc.compute_cost_with_regularization(AL, Y, params, lambd)
    ecost = _np_compute_cost(eAL, Y) + (1 / m) * (lambd / 2) * (
        np.sum(np.square(params["W1"])) + np.sum(np.square(params["W2"]))
        + np.sum(np.square(params["W3"])))
    assert_close(cost, ecost, name="cost")
    assert fc.gradient_check_n(params, grads, X, Y, lambd=lambd) < 2e-7


@pytest.mark.parametrize("keep_prob", [0.86, 0.5])
def test_dropout_matches_the_course(keep_prob):
    rng = np.random.default_rng(13)
    dims, m = [5, 6, 4, 3, 1], 21
    X = rng.standard_normal((dims[0], m))
    Y = labels(rng, m)
    params = random_params(dims, rng)
    before = frozen((X, Y, params))
    np.random.seed(1)
    AL, caches = fc.L_model_forward(X, params, keep_prob=keep_prob)
    np.random.seed(1)
    eAL, ecaches = _np_L_model_forward(X, params, keep_prob)
    assert_close(AL, eAL, name="AL")
    for l, (c, ec) in enumerate(zip(caches, ecaches), start=1):
        assert len(c) == len(ec) == (3 if l < len(dims) - 1 else 2)
        if len(c) == 3:
            D = c[2]
            assert D.dtype.kind == "i" and set(np.unique(D)) <= {0, 1}
            np.testing.assert_array_equal(D, ec[2])
        assert_close(c[0][0], ec[0][0], name=f"A{l - 1} (dropped)")
        assert_close(c[1], ec[1], name=f"Z{l}")
    grads = fc.L_model_backward(AL, Y, caches, keep_prob=keep_prob)
    egrads = _np_L_model_backward(eAL, Y, ecaches, keep_prob=keep_prob)
    assert list(grads) == list(egrads)
    for k in egrads:
        assert_close(grads[k], egrads[k], name=k)
    assert_unchanged(before, (X, Y, params))
    with pytest.raises(ValueError, match="keep_prob"):
        fc.L_model_backward(AL, Y, caches)            # masks but no keep_prob
    np.random.seed(1)
    AL, caches = fc.L_model_forward(X, params)
    with pytest.raises(ValueError, match="dropout mask"):
        fc.L_model_backward(AL, Y, caches, keep_prob=keep_prob)
    with pytest.raises(ValueError, match="keep_prob"):
        fc.L_model_forward(X, params, keep_prob=0.0)


def test_dropout_three_layers_equals_forward_propagation_with_dropout():
    # the course's 3-layer forward_propagation_with_dropout seeds 1 itself
    rng = np.random.default_rng(2)
    X = rng.standard_normal((2, 5))
    p = random_params([2, 5, 3, 1], rng)
    kp = 0.7
    np.random.seed(1)
    Z1 = np.dot(p["W1"], X) + p["b1"]
    A1 = np.maximum(0, Z1)
    D1 = (np.random.rand(A1.shape[0], A1.shape[1]) < kp).astype(int)
    A1 = A1 * D1 / kp
    Z2 = np.dot(p["W2"], A1) + p["b2"]
    A2 = np.maximum(0, Z2)
    D2 = (np.random.rand(A2.shape[0], A2.shape[1]) < kp).astype(int)
    A2 = A2 * D2 / kp
    A3 = _sig(np.dot(p["W3"], A2) + p["b3"])
    np.random.seed(1)
    AL, caches = fc.L_model_forward(X, p, keep_prob=kp)
    assert_close(AL, A3, name="A3")
    np.testing.assert_array_equal(caches[0][2], D1)
    np.testing.assert_array_equal(caches[1][2], D2)


def test_L_layer_model_matches_numpy_loop(capsys):
    rng = np.random.default_rng(17)
    dims = [8, 6, 4, 1]
    X = rng.standard_normal((8, 50))
    Y = labels(rng, 50)
    p, costs = fc.L_layer_model(X, Y, dims, learning_rate=0.05, num_iterations=201)
    ep, ecosts = _np_L_layer_model(X, Y, dims, 0.05, 201)
    for k in ep:
        assert_close(p[k], ep[k], rtol=1e-10, name=k)
    assert len(costs) == len(ecosts) == 3
    for c, e in zip(costs, ecosts):
        assert_close(c, e, rtol=1e-10, name="cost")
        assert np.ndim(c) == 0
    # the course prints the last iteration even without print_cost
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("Cost after iteration 200: ")
    fc.L_layer_model(X, Y, dims, num_iterations=201, print_cost=True)
    out = capsys.readouterr().out.strip().splitlines()
    assert [ln.split(":")[0][len("Cost after iteration "):] for ln in out] == \
        ["0", "100", "200"]


def test_L_layer_model_with_l2_and_dropout_matches_numpy():
    rng = np.random.default_rng(19)
    dims = [6, 5, 4, 1]
    X = rng.standard_normal((6, 30))
    Y = labels(rng, 30)
    for kw in ({"lambd": 0.3}, {"keep_prob": 0.8}, {"lambd": 0.1, "keep_prob": 0.9}):
        p, costs = fc.L_layer_model(X, Y, dims, 0.1, 101, **kw)
        ep, ecosts = _np_L_layer_model(X, Y, dims, 0.1, 101, **kw)
        for k in ep:
            assert_close(p[k], ep[k], rtol=1e-10, name=f"{k} {kw}")
        for c, e in zip(costs, ecosts):
            assert_close(c, e, rtol=1e-10, name=f"cost {kw}")


def test_per_layer_training_loop_matches_numpy(monkeypatch):
    # the loop dropout uses, run without dropout too
    monkeypatch.setattr(fc, "_USE_NETWORK", False)
    rng = np.random.default_rng(53)
    dims = [5, 4, 3, 1]
    X = rng.standard_normal((5, 20))
    Y = labels(rng, 20)
    for kw in ({}, {"lambd": 0.2}):
        p, costs = fc.L_layer_model(X, Y, dims, 0.1, 101, **kw)
        ep, ecosts = _np_L_layer_model(X, Y, dims, 0.1, 101, **kw)
        for k in ep:
            assert_close(p[k], ep[k], rtol=1e-10, name=f"{k} {kw}")
        for c, e in zip(costs, ecosts):
            assert_close(c, e, rtol=1e-10, name=f"cost {kw}")


def test_training_carries_nan_on_like_the_course():
    rng = np.random.default_rng(59)
    X = rng.standard_normal((4, 10))
    X[1, 3] = np.nan
    Y = labels(rng, 10)
    with np.errstate(all="ignore"):
        p, costs = fc.L_layer_model(X, Y, [4, 3, 1], 0.1, 120)
        ep, ecosts = _np_L_layer_model(X, Y, [4, 3, 1], 0.1, 120)
    assert len(costs) == len(ecosts) == 2
    for k in ep:
        assert np.array_equal(np.isnan(p[k]), np.isnan(ep[k])), k
    assert np.isnan(costs[0]) and np.isnan(ecosts[0])


def test_two_layer_model_matches_numpy_loop():
    rng = np.random.default_rng(23)
    X = rng.standard_normal((10, 40))
    Y = labels(rng, 40)
    p, costs = fc.two_layer_model(X, Y, (10, 7, 1), learning_rate=0.1, num_iterations=150)
    np.random.seed(1)
    e = {"W1": np.random.randn(7, 10) * 0.01, "b1": np.zeros((7, 1)),
         "W2": np.random.randn(1, 7) * 0.01, "b2": np.zeros((1, 1))}
    ecosts = []
    for i in range(150):
        A1, c1 = _np_linear_activation_forward(X, e["W1"], e["b1"], "relu")
        A2, c2 = _np_linear_activation_forward(A1, e["W2"], e["b2"], "sigmoid")
        cost = _np_compute_cost(A2, Y)
        dA2 = -(np.divide(Y, A2) - np.divide(1 - Y, 1 - A2))
        dA1, dW2, db2 = _np_linear_activation_backward(dA2, c2, "sigmoid")
        dA0, dW1, db1 = _np_linear_activation_backward(dA1, c1, "relu")
        e = _np_update_parameters(e, {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}, 0.1)
        if i % 100 == 0:
            ecosts.append(cost)
    for k in e:
        assert_close(p[k], e[k], rtol=1e-10, name=k)
    assert len(costs) == 2
    for c, ec in zip(costs, ecosts):
        assert_close(c, ec, rtol=1e-10, name="cost")


def test_predict_week4_prints_accuracy(capsys):
    rng = np.random.default_rng(29)
    X = rng.standard_normal((3, 10))
    p = random_params([3, 4, 1], rng)
    AL, _ = _np_L_model_forward(X, p)
    y = (AL > 0.5).astype(int)
    y[0, :3] = 1 - y[0, :3]
    pred = fc.predict(X, y, p)
    assert pred.dtype == np.float64 and pred.shape == (1, 10)
    np.testing.assert_array_equal(pred, (AL > 0.5).astype(float))
    assert capsys.readouterr().out.strip() == "Accuracy: " + str(np.sum((pred == y) / 10))
    pred = fc.predict(X=X, y=y, parameters=p)
    assert pred.shape == (1, 10)


# --------------------------------------------------------- course 2 week 1

def test_initializations_match_the_course():
    dims = [3, 2, 1]
    z = fc.initialize_parameters_zeros(dims)
    assert list(z) == ["W1", "b1", "W2", "b2"] and not any(v.any() for v in z.values())
    assert z["W1"].shape == (2, 3) and z["b2"].shape == (1, 1)
    r = fc.initialize_parameters_random(dims)
    np.random.seed(3)
    np.testing.assert_array_equal(r["W1"], np.random.randn(2, 3) * 10)
    np.testing.assert_array_equal(r["W2"], np.random.randn(1, 2) * 10)
    h = fc.initialize_parameters_he(dims)
    np.random.seed(3)
    np.testing.assert_array_equal(h["W1"], np.random.randn(2, 3) * np.sqrt(2. / 3))
    np.testing.assert_array_equal(h["W2"], np.random.randn(1, 2) * np.sqrt(2. / 2))
    d = fc.initialize_parameters_deep([5, 4, 3])
    e = _np_initialize_parameters_deep([5, 4, 3])
    for k in e:
        np.testing.assert_array_equal(d[k], e[k])


def test_dictionary_vector_round_trip():
    rng = np.random.default_rng(31)
    p = random_params([4, 5, 3, 1], rng)
    theta, keys = fc.dictionary_to_vector(p)
    assert theta.shape == (47, 1)
    assert keys[:20] == ["W1"] * 20 and keys[20:25] == ["b1"] * 5 and keys[-1] == "b3"
    back = fc.vector_to_dictionary(theta)                 # course default shapes
    for k in p:
        np.testing.assert_array_equal(back[k], p[k])
    q = random_params([7, 2, 6, 3, 2], rng)
    theta, keys = fc.dictionary_to_vector(q)
    back = fc.vector_to_dictionary(theta, [7, 2, 6, 3, 2])
    assert list(back) == list(q)
    for k in q:
        np.testing.assert_array_equal(back[k], q[k])
    g = {"d" + k: v for k, v in q.items()}
    np.testing.assert_array_equal(fc.gradients_to_vector(g), theta)
    with pytest.raises(ValueError, match="theta has"):
        fc.vector_to_dictionary(theta, [7, 2, 6, 3, 3])


@pytest.mark.parametrize("dims,m", [([4, 5, 3, 1], 3), ([3, 4, 4, 2, 1], 6)])
def test_gradient_check_passes_on_fastbp_and_catches_a_bug(dims, m, capsys):
    rng = np.random.default_rng(37)
    X = rng.standard_normal((dims[0], m))
    Y = labels(rng, m)
    params = random_params(dims, rng, bias=0.5)
    AL, caches = fc.L_model_forward(X, params)
    grads = fc.L_model_backward(AL, Y, caches)
    diff = fc.gradient_check_n(params, grads, X, Y, print_msg=True)
    assert diff < 2e-7
    assert "works perfectly fine" in capsys.readouterr().out
    bad = dict(grads)
    bad["dW2"] = grads["dW2"] * 2              # the course's planted bug
    diff = fc.gradient_check_n(params, bad, X, Y, 1e-7, True)
    assert diff > 2e-7
    assert "There is a mistake" in capsys.readouterr().out


# --------------------------------------------------------- course 2 week 2

@pytest.mark.parametrize("m,size", [(148, 64), (128, 64), (5, 64), (1, 1), (10, 3)])
def test_random_mini_batches(m, size):
    rng = np.random.default_rng(41)
    X = rng.standard_normal((12, m))
    Y = labels(rng, m)
    batches = fc.random_mini_batches(X, Y, size, seed=0)
    expected = _np_random_mini_batches(X, Y, size, seed=0)
    assert len(batches) == len(expected) == math.ceil(m / size)
    for (bx, by), (ex, ey) in zip(batches, expected):
        np.testing.assert_array_equal(bx, ex)
        np.testing.assert_array_equal(by, ey)
    # all examples exactly once, X and Y still paired
    allx = np.hstack([b[0] for b in batches])
    ally = np.hstack([b[1] for b in batches])
    order = np.argsort(allx[0])
    np.testing.assert_array_equal(allx[:, order], X[:, np.argsort(X[0])])
    np.testing.assert_array_equal(ally[:, order], Y[:, np.argsort(X[0])])


def test_random_mini_batches_multirow_Y_and_errors():
    X = np.arange(20.).reshape(2, 10)
    Y = np.arange(30).reshape(3, 10)
    b = fc.random_mini_batches(X, Y, 4, seed=1)
    assert [bx.shape for bx, _ in b] == [(2, 4), (2, 4), (2, 2)]
    assert [by.shape for _, by in b] == [(3, 4), (3, 4), (3, 2)]
    for bx, by in b:
        np.testing.assert_array_equal(by[0], bx[0].astype(int))
    with pytest.raises(ValueError, match="examples"):
        fc.random_mini_batches(X, Y[:, :9])
    with pytest.raises(ValueError, match="mini_batch_size"):
        fc.random_mini_batches(X, Y, 0)


def _grad_like(params, rng):
    return {"d" + k: rng.standard_normal(v.shape) for k, v in params.items()}


def test_gd_momentum_adam_follow_the_formulas():
    rng = np.random.default_rng(43)
    params = random_params([3, 4, 2], rng)
    v = fc.initialize_velocity(params)
    assert list(v) == ["dW1", "db1", "dW2", "db2"]
    assert all(not a.any() and a.shape == params[k[1:]].shape for k, a in v.items())
    va, sa = fc.initialize_adam(params)
    assert list(va) == list(sa) == list(v)
    p_m = {k: x.copy() for k, x in params.items()}
    p_a = {k: x.copy() for k, x in params.items()}
    e_m = {k: x.copy() for k, x in params.items()}
    e_a = {k: x.copy() for k, x in params.items()}
    ev = {k: np.zeros_like(x) for k, x in v.items()}
    eva = {k: np.zeros_like(x) for k, x in v.items()}
    esa = {k: np.zeros_like(x) for k, x in v.items()}
    beta, lr, b1, b2, eps = 0.9, 0.01, 0.9, 0.999, 1e-8
    for t in range(1, 4):
        g = _grad_like(params, rng)
        g_before = frozen(g)
        pm_before = p_m
        p_m, v = fc.update_parameters_with_momentum(p_m, g, v, beta, lr)
        assert p_m is pm_before                     # the course rebinds keys in place
        for k in ev:
            ev[k] = beta * ev[k] + (1 - beta) * g[k]
            e_m[k[1:]] = e_m[k[1:]] - lr * ev[k]
        out = fc.update_parameters_with_adam(p_a, g, va, sa, t, lr, b1, b2, eps)
        assert isinstance(out, tuple) and len(out) == 5
        p_a, va, sa, vc, sc = out
        for k in eva:
            eva[k] = b1 * eva[k] + (1 - b1) * g[k]
            evc = eva[k] / (1 - np.power(b1, t))
            esa[k] = b2 * esa[k] + (1 - b2) * np.power(g[k], 2)
            esc = esa[k] / (1 - np.power(b2, t))
            e_a[k[1:]] = e_a[k[1:]] - lr * evc / (np.sqrt(esc) + eps)
            assert_close(vc[k], evc, name="v_corrected " + k)
            assert_close(sc[k], esc, name="s_corrected " + k)
        assert_unchanged(g_before, g)
    for k in params:
        assert_close(p_m[k], e_m[k], name="momentum " + k)
        assert_close(p_a[k], e_a[k], name="adam " + k)
    for k in ev:
        assert_close(v[k], ev[k], name="v " + k)
        assert_close(va[k], eva[k], name="adam v " + k)
        assert_close(sa[k], esa[k], name="adam s " + k)
    p = {k: x.copy() for k, x in params.items()}
    g = _grad_like(params, rng)
    out = fc.update_parameters_with_gd(p, g, 0.3)
    assert out is p
    for k in params:
        assert_close(p[k], params[k] - 0.3 * g["d" + k], name="gd " + k)


def test_learning_rate_decay():
    assert fc.update_lr(0.5, 2, 1) == 1 / (1 + 1 * 2) * 0.5
    assert fc.update_lr(0.5, 0, 1) == 0.5
    assert fc.schedule_lr_decay(0.5, 100, 1) == 0.5
    assert fc.schedule_lr_decay(0.5, 1000, 1) == 0.25
    assert fc.schedule_lr_decay(0.5, 2500, 1, time_interval=1000) == 0.5 / 3
    assert fc.schedule_lr_decay(0.5, 10, 0.3, 10) == 1 / (1 + 0.3) * 0.5


def test_mini_batch_training_with_adam_reduces_cost():
    X, Y = load_planar_dataset()
    params = fc.initialize_parameters_he([2, 8, 4, 1])
    v, s = fc.initialize_adam(params)
    t = 0
    first = None
    for epoch in range(60):
        for bx, by in fc.random_mini_batches(X, Y, 64, seed=epoch):
            AL, caches = fc.L_model_forward(bx, params)
            cost = fc.compute_cost(AL, by)
            first = cost if first is None else first
            grads = fc.L_model_backward(AL, by, caches)
            t += 1
            params, v, s, _, _ = fc.update_parameters_with_adam(params, grads, v, s, t, 0.01)
    AL, _ = fc.L_model_forward(X, params)
    assert fc.compute_cost(AL, Y) < 0.6 * first


# ------------------------------------------------------------------ errors

def _small():
    rng = np.random.default_rng(47)
    X = rng.standard_normal((3, 4))
    Y = labels(rng, 4)
    return X, Y, random_params([3, 2, 1], rng)


def test_errors_name_the_key_or_shape():
    X, Y, p = _small()
    q = dict(p)
    del q["b2"]
    with pytest.raises(KeyError, match="b2"):
        fc.L_model_forward(X, q)
    with pytest.raises(KeyError, match="W1"):
        fc.L_model_forward(X, {})
    with pytest.raises(KeyError, match="W2"):
        fc.forward_propagation(X, {"W1": p["W1"], "b1": p["b1"]})
    q = dict(p)
    q["W2"] = np.ones((1, 5))
    with pytest.raises(ValueError, match=r"W2.*\(1, 5\)"):
        fc.L_model_forward(X, q)
    q = dict(p)
    q["b1"] = np.zeros((3, 1))
    with pytest.raises(ValueError, match=r"b1.*\(2, 1\)"):
        fc.L_model_forward(X, q)
    with pytest.raises(ValueError, match=r"X.*3 rows"):
        fc.L_model_forward(X[:2], p)
    with pytest.raises(ValueError, match="2-D"):
        fc.L_model_forward(X[0], p)
    with pytest.raises(TypeError, match="dict"):
        fc.L_model_forward(X, [p["W1"], p["b1"]])
    with pytest.raises(ValueError, match="Unknown activation 'tanhh'"):
        fc.linear_activation_forward(X, p["W1"], p["b1"], "tanhh")
    AL, caches = fc.L_model_forward(X, p)
    with pytest.raises(ValueError, match="Unknown activation"):
        fc.linear_activation_backward(AL, caches[1], "softmax")
    with pytest.raises(ValueError, match=r"Y has shape \(1, 3\)"):
        fc.L_model_backward(AL, Y[:, :3], caches)
    with pytest.raises(ValueError, match="Y has shape"):
        fc.compute_cost(AL, Y[:, :3])
    with pytest.raises(ValueError, match=r"cache of layer 2"):
        fc.L_model_backward(AL, Y, [caches[0], (caches[1][0],)])
    with pytest.raises(ValueError, match=r"cache of layer 1"):
        fc.L_model_backward(AL, Y, [((X, p["W1"]), caches[0][1]), caches[1]])
    bad = [caches[0], ((caches[1][0][0][:1], p["W2"], p["b2"]), caches[1][1])]
    with pytest.raises(ValueError, match=r"layer 2"):
        fc.L_model_backward(AL.copy(), Y, bad)
    bad = [((X, p["W1"], p["b1"]), caches[0][1][:, :2]), caches[1]]
    with pytest.raises(ValueError, match=r"Z of layer 1 has shape \(2, 2\)"):
        fc.L_model_backward(AL, Y, bad)
    with pytest.raises(ValueError, match="empty"):
        fc.L_model_backward(AL, Y, [])
    grads = fc.L_model_backward(AL, Y, caches)
    g = dict(grads)
    del g["dW2"]
    with pytest.raises(KeyError, match="dW2"):
        fc.update_parameters(p, g, 0.1)
    g = dict(grads)
    g["db1"] = g["db1"].ravel()                 # (2,) would broadcast against (2, 1)
    with pytest.raises(ValueError, match=r"db1.*\(2,\)"):
        fc.update_parameters(p, g, 0.1)
    with pytest.raises(TypeError, match="predict"):
        fc.predict(X)
    with pytest.raises(ValueError, match="cache"):
        fc.linear_backward(grads["dA1"], (X, p["W1"]))
    with pytest.raises(TypeError, match="dtype"):
        fc.L_model_forward(X.astype(complex), p)


def test_compute_cost_outside_unit_interval_is_nan_like_the_course():
    Y = np.array([[1, 0, 1]])
    with np.errstate(all="ignore"):
        assert np.isnan(fc.compute_cost(np.array([[0.5, 1.5, 0.5]]), Y))
        assert np.isnan(fc.compute_cost(np.array([[0.5, np.nan, 0.5]]), Y))
    # exactly 0 or 1: finite where the course overflows
    c = fc.compute_cost(np.array([[1.0, 0.0, 0.5]]), Y)
    assert_close(c, -np.log(0.5) / 3, name="cost")


@pytest.mark.parametrize("dims,m", [([4, 3, 1], 10),       # the compiled small-network path
                                    ([30, 64, 1], 600)])   # the per-layer path
def test_labels_outside_the_unit_interval_compute_the_courses_formulas(dims, m):
    # The course's formulas take labels of any value (C1W4A2's public test
    # trains on randn labels); compute_cost and the per-layer L_model_backward
    # refused them where the small networks' compiled path computed them.
    rng = np.random.default_rng(61)
    X = rng.standard_normal((dims[0], m))
    Y = rng.standard_normal((1, m))
    p = random_params(dims, rng)
    AL, caches = fc.L_model_forward(X, p)
    assert_close(fc.compute_cost(AL, Y), _np_compute_cost(AL, Y), name="cost")
    for Yv in (Y, (Y > 0) * 2 - 1):                        # floats and ints
        grads = fc.L_model_backward(AL, Yv, caches)
        expected = _np_L_model_backward(AL, Yv, caches)
        for k in expected:
            assert_close(grads[k], expected[k], name=k)
    p3 = {"W1": p["W1"][:3], "b1": p["b1"][:3], "W2": rng.standard_normal((1, 3)),
          "b2": np.zeros((1, 1))}
    A2, cache = fc.forward_propagation(X, p3)
    grads = fc.backward_propagation(p3, cache, X, Y)
    expected = _np_backward_propagation(p3, cache, X, Y)
    for k in expected:
        assert_close(grads[k], expected[k], name=k)
    got, costs = fc.L_layer_model(X, Y, dims, 0.01, 101)
    e, ecosts = _np_L_layer_model(X, Y, dims, 0.01, 101)
    for k in e:
        assert_close(got[k], e[k], rtol=1e-9, name=k)
    assert_close(costs, ecosts, rtol=1e-9, name="costs")
    got, _ = fc.L_layer_model(X, Y, dims, 0.01, 3, keep_prob=0.8)
    e, _ = _np_L_layer_model(X, Y, dims, 0.01, 3, keep_prob=0.8)
    for k in e:
        assert_close(got[k], e[k], rtol=1e-9, name=k)
    with pytest.raises(ValueError, match="Y contains NaN or inf"):
        fc.L_layer_model(X, np.where(Y > 1, np.nan, Y), dims, 0.01, 3)


def test_integer_labels_beyond_0_1_train_as_values_like_the_course():
    # The course's loops compute with integer labels of any value; a Network
    # reads integers beyond 0/1 in one row as class indices and refused them
    # ("looks like integer class labels ... use output='softmax'", an argument
    # the course's models do not have).
    rng = np.random.default_rng(71)
    X = rng.standard_normal((4, 30))
    Y = rng.integers(-1, 3, (1, 30))
    got, costs = fc.L_layer_model(X, Y, [4, 3, 1], 0.01, 101)
    e, ecosts = _np_L_layer_model(X, Y, [4, 3, 1], 0.01, 101)
    for k in e:
        assert_close(got[k], e[k], rtol=1e-9, name=k)
    assert_close(costs, ecosts, rtol=1e-9, name="costs")
    got = fc.nn_model(X, Y, 3, 10)
    e = _np_nn_model(X, Y, 3, 10)
    for k in e:
        assert_close(got[k], e[k], rtol=1e-9, name=k)
    # course 2's loops: init_utils' full-batch model, opt_utils' mini-batches
    got = c2w1a1.model(X, Y, learning_rate=0.01, num_iterations=20, print_cost=False)
    e = c2w1a1.initialize_parameters_he([4, 10, 5, 1])
    for _ in range(20):
        AL, caches = _np_L_model_forward(X, e)
        e = _np_update_parameters(e, _np_L_model_backward(AL, Y, caches), 0.01)
    for k in e:
        assert_close(got[k], e[k], rtol=1e-9, name=k)
    got = c2w2a1.model(X, Y, [4, 3, 1], "gd", learning_rate=0.01, mini_batch_size=8,
                       num_epochs=3, print_cost=False)
    e = c2w2a1.initialize_parameters([4, 3, 1])
    for epoch in range(3):
        for bx, by in _np_random_mini_batches(X, Y, 8, 11 + epoch):
            AL, caches = _np_L_model_forward(bx, e)
            e = _np_update_parameters(e, _np_L_model_backward(AL, by, caches), 0.01)
    for k in e:
        assert_close(got[k], e[k], rtol=1e-9, name=k)


def test_module_exports_the_course_names():
    for name in fc.__all__:
        assert callable(getattr(fc, name)), name
    ns = {}
    exec("from fastbp.course import *", ns)
    assert "L_model_backward" in ns and "nn_model" in ns and "_fit" not in ns
    assert isinstance(fc, types.ModuleType)


# The compiled one-call backward (fastbp._course.backward_chain) takes small
# networks; everything else runs the per-layer path. Both must give the
# course's numbers, so every case runs twice: as it comes, and with the fast
# path switched off.
CHAIN_CASES = [
    ([2, 4, 1], 400, np.float64, np.uint8, 0.0),
    ([3, 1], 1, np.float64, np.float64, 0.0),
    ([5, 4, 3, 1], 1, np.float64, np.bool_, 0.0),
    ([6, 5, 3, 2], 17, np.float64, np.int64, 0.7),
    ([7, 3, 1], 3, np.float32, np.uint8, 0.0),
    ([4, 8, 8, 1], 1000, np.float32, np.float32, 0.3),
    ([20, 7, 5, 1], 64, np.float64, np.int32, 0.0),
]


@pytest.mark.parametrize("dims,m,dt,yt,lambd", CHAIN_CASES)
@pytest.mark.parametrize("fast", [True, False])
def test_L_model_backward_fast_and_general_paths(dims, m, dt, yt, lambd, fast, monkeypatch):
    from fastbp._course import backward_chain
    rng = np.random.default_rng(m + 10 * len(dims))
    X = rng.standard_normal((dims[0], m)).astype(dt)
    Y = labels(rng, m, dims[-1]).astype(yt)
    params = random_params(dims, rng, dtype=dt)
    AL, caches = fc.L_model_forward(X, params)
    took = []
    if fast:
        monkeypatch.setattr(fc, "_backward_chain",
                            lambda *a: took.append(1) or backward_chain(*a))
        assert backward_chain(AL, Y, caches, lambd, fc._RECENT_OUTPUTS) is not None
    else:
        monkeypatch.setattr(fc, "_backward_chain", lambda *a: None)
    before = frozen((X, Y, params, AL, caches))
    grads = fc.L_model_backward(AL, Y, caches, lambd=lambd)
    assert took == ([1] if fast else [])
    eAL, ecaches = _np_L_model_forward(X.astype(np.float64),
                                       {k: v.astype(np.float64) for k, v in params.items()})
    egrads = _np_L_model_backward(eAL, Y, ecaches, lambd=lambd)
    assert list(grads) == list(egrads)
    for k in egrads:
        assert grads[k].dtype == dt and grads[k].shape == egrads[k].shape, k
        assert_close(grads[k], egrads[k], rtol=RTOL64 if dt == np.float64 else RTOL32, name=k)
    assert_unchanged(before, (X, Y, params, AL, caches))


@pytest.mark.parametrize("fast", [True, False])
def test_L_model_backward_relu_derivative_is_0_at_z_exactly_0(fast, monkeypatch):
    """The course's relu_backward zeroes dZ where Z <= 0, so at Z == 0 too.
    Random data never hits 0, so a relu mask of Z >= 0 passed every other
    test: here columns of zeros in X and zero biases make Z1 and Z2 exactly
    0 there, while dA2 = W3^T dZ3 is not: a mask of 1 at Z2 == 0 changes db2."""
    from fastbp._course import backward_chain
    rng = np.random.default_rng(12)
    dims, m = [3, 4, 3, 1], 6
    X = rng.standard_normal((dims[0], m))
    X[:, :2] = 0.0
    params = random_params(dims, rng, bias=0.0)
    Y = labels(rng, m)
    AL, caches = fc.L_model_forward(X, params)
    assert np.all(caches[0][1][:, :2] == 0) and np.all(caches[1][1][:, :2] == 0)
    took = []
    if fast:
        monkeypatch.setattr(fc, "_backward_chain",
                            lambda *a: took.append(1) or backward_chain(*a))
    else:
        monkeypatch.setattr(fc, "_backward_chain", lambda *a: None)
    grads = fc.L_model_backward(AL, Y, caches)
    assert took == ([1] if fast else [])
    eAL, ecaches = _np_L_model_forward(X, params)
    egrads = _np_L_model_backward(eAL, Y, ecaches)
    assert np.any(egrads["dA2"][:, :2] != 0)     # so dZ2 there is the mask's alone
    for k in egrads:
        assert_close(grads[k], egrads[k], name=k)


@pytest.mark.parametrize("dims, m", [([3, 4, 1], 5), ([300, 40, 1], 500)])
@pytest.mark.parametrize("changed", ["AL", "Z_L"])
def test_L_model_backward_of_an_output_changed_in_place_is_the_courses(dims, m, changed):
    # A learner clipping AL in place before the cost (np.clip(..., out=AL)) got
    # AL - Y, the gradient of the unclipped output, while a clipped copy got
    # the course's expression: same values, two answers. Both small (compiled
    # chain) and large (general path) networks.
    rng = np.random.default_rng(1)
    X = rng.standard_normal((dims[0], m))
    Y = labels(rng, m)
    params = random_params(dims, rng)
    AL, caches = fc.L_model_forward(X, params)
    if changed == "AL":
        np.clip(AL, 0.3, 0.7, out=AL)
    else:
        caches[-1][1][...] += 0.5
    expected = _np_L_model_backward(AL.copy(), Y, caches)
    grads = fc.L_model_backward(AL, Y, caches)
    for k in expected:
        assert_close(grads[k], expected[k], rtol=RTOL64, name=k)
    # and the untouched output still takes the AL - Y path, with the same numbers
    AL2, caches2 = fc.L_model_forward(X, params)
    assert fc._is_recent_output(AL2, caches2[-1][1], fc._RECENT_OUTPUTS)
    np.clip(AL2, 0.3, 0.7, out=AL2)
    assert not fc._is_recent_output(AL2, caches2[-1][1], fc._RECENT_OUTPUTS)


def test_recent_outputs_keep_no_copy_of_a_dead_output():
    rng = np.random.default_rng(2)
    params = random_params([3, 4, 2], rng)
    for _ in range(3):
        AL, caches = fc.L_model_forward(rng.standard_normal((3, 7)), params)
    del AL, caches
    fc.L_model_forward(rng.standard_normal((3, 7)), params)
    # the entry just made is alive only as long as its AL: it was dropped, so
    # at most the entries of live outputs remain (here none but possibly the last)
    live = [e for e in fc._RECENT_OUTPUTS if e[0]() is not None]
    assert len(fc._RECENT_OUTPUTS) - len(live) <= 1


def test_backward_chain_declines_what_it_does_not_handle():
    from fastbp._course import backward_chain
    rng = np.random.default_rng(5)
    X = rng.standard_normal((3, 9))
    Y = labels(rng, 9)
    params = random_params([3, 4, 1], rng)
    AL, caches = fc.L_model_forward(X, params)
    rec = fc._RECENT_OUTPUTS
    assert backward_chain(AL, Y, caches, 0.0, rec) is not None
    # an AL that L_model_forward did not return (the course's formula applies)
    assert backward_chain(AL.copy(), Y, caches, 0.0, rec) is None
    # F-ordered input, a tuple of caches, a float16 AL, labels of another shape
    ALf, cf = fc.L_model_forward(np.asfortranarray(X), params)
    assert backward_chain(ALf, Y, cf, 0.0, rec) is None
    assert backward_chain(AL, Y, tuple(caches), 0.0, rec) is None
    assert backward_chain(AL, Y.ravel(), caches, 0.0, rec) is None
    assert backward_chain(AL, Y, caches, "0.1", rec) is None
    assert backward_chain(AL, Y, caches, -1.0, rec) is None
    # caches that do not chain, or with a dropout mask
    bad = [((caches[0][0][0][:2], caches[0][0][1], caches[0][0][2]), caches[0][1]), caches[1]]
    assert backward_chain(AL, Y, bad, 0.0, rec) is None
    assert backward_chain(AL, Y, [caches[0] + (None,), caches[1]], 0.0, rec) is None
    # a layer too large for one thread goes the general path (threads, pooled outputs)
    Xb = rng.standard_normal((300, 500))
    pb = random_params([300, 40, 1], rng)
    ALb, cb = fc.L_model_forward(Xb, pb)
    assert backward_chain(ALb, labels(rng, 500), cb, 0.0, rec) is None
    # whichever path runs, general errors still name the problem
    with pytest.raises(ValueError, match="Invalid shapes"):
        fc.L_model_backward(AL, labels(rng, 8), caches)


def test_arguments_swapped_name_the_argument():
    """forward_propagation(parameters, X), the week-3 predict(X, parameters) and
    update_parameters_with_gd(parameters, X, lr) raised NumPy's IndexError
    ("only integers, slices ... are valid indices"), and L_model_backward(AL,
    Y, None) "object of type 'NoneType' has no len()": none named the
    argument (a fresh-user trial); their siblings did."""
    from fastbp.course import c2w2a1
    np.random.seed(0)
    X = np.random.randn(3, 6)
    Y = (np.random.rand(1, 6) > 0.5).astype(np.float64)
    P = {"W1": np.random.randn(4, 3), "b1": np.zeros((4, 1)),
         "W2": np.random.randn(1, 4), "b2": np.zeros((1, 1))}
    AL, caches = fc.L_model_forward(X, P)
    swapped = r"got ndarray of shape \(3, 6\) \(are two arguments swapped\?\)"
    with pytest.raises(TypeError, match=r"Invalid parameters: expected a dict .*" + swapped):
        fc.forward_propagation(P, X)
    with pytest.raises(TypeError, match=r"Invalid parameters: expected a dict .*" + swapped):
        fc.predict(X, P)
    with pytest.raises(TypeError, match=r"Invalid grads: expected a dict .*" + swapped):
        c2w2a1.update_parameters_with_gd(dict(P), X, 0.1)
    with pytest.raises(TypeError, match=r"Invalid caches: expected the list of caches "
                                         r"L_model_forward returned, got NoneType"):
        fc.L_model_backward(AL, Y, None)
    # the right order still works, and a tuple of caches is a list of them
    A2, _ = fc.forward_propagation(X, P)
    assert A2.shape == (1, 6)
    grads = fc.L_model_backward(AL, Y, tuple(caches))
    assert grads["dW1"].shape == (4, 3)


def _planar(n_x=2, m=20):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_x, m))
    return X, (X[:1] > 0).astype(float)


@pytest.mark.parametrize("call, name", [
    (lambda X, Y, **kw: fc.L_layer_model(X, Y, [2, 3, 1], num_iterations=2, **kw),
     "learning_rate"),
    (lambda X, Y, **kw: fc.L_layer_model(X, Y, [2, 3, 1], num_iterations=2,
                                         keep_prob=0.8, **kw), "learning_rate"),
    (lambda X, Y, **kw: fc.two_layer_model(X, Y, (2, 3, 1), num_iterations=2, **kw),
     "learning_rate"),
    (lambda X, Y, **kw: c2w1a1.model(X, Y, num_iterations=2, print_cost=False, **kw),
     "learning_rate"),
    (lambda X, Y, **kw: c2w1a2.model(X, Y, num_iterations=2, print_cost=False, **kw),
     "learning_rate"),
    (lambda X, Y, **kw: c2w1a2.model(X, Y, num_iterations=2, print_cost=False,
                                     keep_prob=0.8, **kw), "learning_rate"),
    (lambda X, Y, **kw: c2w2a1.model(X, Y, [2, 3, 1], "gd", num_epochs=1,
                                     print_cost=False, **kw), "learning_rate"),
    (lambda X, Y, **kw: c2w2a1.model(X, Y, [2, 3, 1], "momentum", num_epochs=1,
                                     print_cost=False, **kw), "learning_rate"),
    (lambda X, Y, **kw: c2w2a1.model(X, Y, [2, 3, 1], "momentum", num_epochs=1,
                                     print_cost=False, beta=1.0, **kw), "beta"),
    (lambda X, Y, **kw: c2w2a1.model(X, Y, [2, 3, 1], "adam", num_epochs=1,
                                     print_cost=False, beta2=1.0, **kw), "beta2"),
    (lambda X, Y, **kw: c2w2a1.model(X, Y, [2, 3, 1], "adam", num_epochs=1,
                                     print_cost=False, epsilon=0.0, **kw), "epsilon"),
], ids=["L_layer_model", "L_layer_model-dropout", "two_layer_model", "c2w1a1", "c2w1a2",
        "c2w1a2-dropout", "c2w2a1-gd", "c2w2a1-momentum", "c2w2a1-beta", "c2w2a1-beta2",
        "c2w2a1-epsilon"])
def test_model_hyper_parameters_are_named_as_the_course_names_them(call, name):
    """The course models train with fastbp's optimizers, which call the rate
    lr, beta momentum and epsilon eps: a refused value is named as the learner
    typed it. The dropout paths (their own loop) refused nothing, and trained
    with a rate of 0 where the others raised."""
    X, Y = _planar()
    kw = {} if name != "learning_rate" else {"learning_rate": 0.0}
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        call(X, Y, **kw)


@pytest.mark.parametrize("bad", ["0.1", None, [0.1], np.array([0.1, 0.2]), True,
                                 np.array([0.1])])
def test_update_rules_refuse_a_learning_rate_that_is_not_a_real_scalar(bad):
    # a 2-vector of rates was broadcast against the parameters: b1 (2, 1)
    # came back (2, 2) without a word; a string failed in NumPy's ufuncs
    rng = np.random.default_rng(0)
    p = {"W1": rng.standard_normal((2, 3)), "b1": rng.standard_normal((2, 1))}
    g = {"dW1": rng.standard_normal((2, 3)), "db1": rng.standard_normal((2, 1))}
    z = {k: np.zeros_like(v) for k, v in g.items()}
    calls = {
        "update_parameters": lambda lr: fc.update_parameters(dict(p), g, lr),
        "update_parameters_with_gd": lambda lr: fc.update_parameters_with_gd(dict(p), g, lr),
        "update_parameters_with_momentum": lambda lr: fc.update_parameters_with_momentum(
            dict(p), g, dict(z), 0.9, lr),
        "update_parameters_with_adam": lambda lr: fc.update_parameters_with_adam(
            dict(p), g, dict(z), dict(z), 1, lr),
    }
    for name, call in calls.items():
        with pytest.raises(TypeError, match="learning_rate must be a real number"):
            call(bad)
    with pytest.raises(TypeError, match="beta must be a real number"):
        fc.update_parameters_with_momentum(dict(p), g, dict(z), bad, 0.1)
    with pytest.raises(TypeError, match="epsilon must be a real number"):
        fc.update_parameters_with_adam(dict(p), g, dict(z), dict(z), 1, 0.01, epsilon=bad)
    A, Y = np.array([[0.3, 0.6, 0.9]]), np.array([[0, 1, 1]])
    with pytest.raises(TypeError, match="lambd must be a real number"):
        fc.compute_cost_with_regularization(A, Y, p, bad)


def test_update_rules_take_numpy_scalars_and_0d_arrays_as_python_numbers():
    p = {"W1": np.ones((2, 3), np.float32), "b1": np.zeros((2, 1), np.float32)}
    g = {"dW1": np.ones((2, 3), np.float32), "db1": np.ones((2, 1), np.float32)}
    for lr in (0.5, 1, np.float64(0.5), np.array(0.5), np.int64(1)):
        out = fc.update_parameters(p, g, lr)
        assert out["W1"].dtype == np.float32 and out["b1"].shape == (2, 1)
        np.testing.assert_array_equal(out["W1"], 1 - float(lr))
