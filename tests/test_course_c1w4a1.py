"""Step by Step (C1W4A1): fastbp.course.c1w4a1 must return what
``course_reference.step`` returns -- same caches ((A_prev, W, b), Z), grads
keys in order, 0-d costs of NumPy 2's dtype, seeds 1 and 3 -- for calls by
position and by the course's keyword names, in float64 and float32.
"""
import numpy as np
import pytest

from course_reference import check_names, network, same, step
from fastbp.course import c1w4a1 as a

SIGNATURES = {
    "initialize_parameters": "(n_x, n_h, n_y)",
    "initialize_parameters_deep": "(layer_dims)",
    "linear_forward": "(A, W, b)",
    "linear_activation_forward": "(A_prev, W, b, activation)",
    "L_model_forward": "(X, parameters)",
    "compute_cost": "(AL, Y)",
    "linear_backward": "(dZ, cache)",
    "linear_activation_backward": "(dA, cache, activation)",
    "L_model_backward": "(AL, Y, caches)",
    "update_parameters": "(params, grads, learning_rate)",
    "sigmoid": "(Z)",
    "relu": "(Z)",
    "sigmoid_backward": "(dA, cache)",
    "relu_backward": "(dA, cache)",
}

DEEP = [([5, 4, 3], 4), ([3, 1], 1), ([5, 4, 3, 1], 4), ([12, 7, 5, 3, 1], 33)]


def test_names_and_signatures_are_the_notebooks():
    check_names(a, SIGNATURES)


@pytest.mark.parametrize("prior_seed", [0, 5])
def test_initializations_seed_like_the_notebook(prior_seed):
    np.random.seed(prior_seed)                     # both seed inside: no effect
    got = a.initialize_parameters(3, 2, 1)
    same(got, step.initialize_parameters(3, 2, 1), rtol=0.0, what="initialize_parameters")
    # the values the notebook prints (seed 1, 0.01 randn)
    np.testing.assert_allclose(got["W1"][0], [0.01624345, -0.00611756, -0.00528172], atol=1e-8)
    np.random.seed(prior_seed)
    got = a.initialize_parameters_deep([5, 4, 3])
    same(got, step.initialize_parameters_deep([5, 4, 3]), rtol=0.0, what="deep")
    np.testing.assert_allclose(got["W1"][0], [0.01788628, 0.0043651, 0.00096497,
                                              -0.01863493, -0.00277388], atol=1e-8)
    same(a.initialize_parameters(n_x=4, n_h=3, n_y=2), step.initialize_parameters(4, 3, 2))
    same(a.initialize_parameters_deep(layer_dims=[6, 5, 1]),
         step.initialize_parameters_deep([6, 5, 1]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_layer_functions(activation, dtype):
    X, _, p = network([3, 4], 5, seed=7, dtype=dtype)
    W, b = p["W1"], p["b1"]
    same(a.linear_forward(X, W, b), step.linear_forward(X, W, b), what="linear_forward")
    same(a.linear_forward(A=X, W=W, b=b), step.linear_forward(X, W, b))
    A, cache = a.linear_activation_forward(X, W, b, activation)
    eA, ecache = step.linear_activation_forward(X, W, b, activation)
    same((A, cache), (eA, ecache), what=f"linear_activation_forward {activation}")
    assert cache[0][0] is X and cache[0][1] is W and cache[0][2] is b   # the course's cache
    same(a.linear_activation_forward(A_prev=X, W=W, b=b, activation=activation), (eA, ecache))
    dA = np.cos(eA).astype(dtype)
    same(a.linear_activation_backward(dA, cache, activation),
         step.linear_activation_backward(dA, ecache, activation), what="backward")
    same(a.linear_activation_backward(dA=dA, cache=cache, activation=activation),
         step.linear_activation_backward(dA, ecache, activation))
    same(a.linear_backward(dA, cache[0]), step.linear_backward(dA, ecache[0]))
    same(a.linear_backward(dZ=dA, cache=cache[0]), step.linear_backward(dA, ecache[0]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dnn_utils(dtype):
    Z = np.linspace(-4, 4, 12).reshape(3, 4).astype(dtype)
    dA = np.sin(Z)
    for name in ("sigmoid", "relu"):
        A, cache = getattr(a, name)(Z)
        same((A, cache), getattr(step, name)(Z), what=name)
        assert cache is Z
    same(a.sigmoid_backward(dA, Z), step.sigmoid_backward(dA, Z), what="sigmoid_backward")
    same(a.relu_backward(dA, Z), step.relu_backward(dA, Z), what="relu_backward")
    same(a.relu_backward(dA=dA, cache=Z), step.relu_backward(dA, Z))


@pytest.mark.parametrize("dims,m", DEEP)
def test_L_model_forward_cost_backward_update(dims, m):
    X, Y, p = network(dims, m, seed=len(dims) + m)
    Y = Y[:1]
    AL, caches = a.L_model_forward(X, p)
    eAL, ecaches = step.L_model_forward(X, p)
    same((AL, caches), (eAL, ecaches), what="L_model_forward")
    same(a.L_model_forward(X=X, parameters=p), (eAL, ecaches))
    if dims[-1] == 1:
        cost = a.compute_cost(AL, Y)
        same(cost, step.compute_cost(eAL, Y), what="cost")
        assert type(cost) is np.ndarray and cost.shape == ()
        same(a.compute_cost(AL=AL, Y=Y), step.compute_cost(eAL, Y))
        grads = a.L_model_backward(AL, Y, caches)
        egrads = step.L_model_backward(eAL, Y, ecaches)
        same(grads, egrads, what="grads")
        same(a.L_model_backward(AL=AL.copy(), Y=Y, caches=caches), egrads)
        before = {k: v.copy() for k, v in p.items()}
        same(a.update_parameters(p, grads, 0.1), step.update_parameters(p, egrads, 0.1),
             what="updated")
        same(a.update_parameters(params=p, grads=grads, learning_rate=0.3),
             step.update_parameters(p, egrads, 0.3))
        same(p, before, rtol=0.0, what="params after update")   # a new dict, as the course
        with pytest.raises(TypeError):
            a.update_parameters(p, grads)                # no default learning rate


def test_L_model_backward_hand_built_caches():
    # the course's tests build caches by hand: AL is no output of L_model_forward
    rng = np.random.default_rng(3)
    X, Y, p = network([4, 3, 1], 6, seed=3)
    _, caches = a.L_model_forward(X, p)
    AL = rng.uniform(0.1, 0.9, (1, 6))
    same(a.L_model_backward(AL, Y, caches), step.L_model_backward(AL, Y, caches))


@pytest.mark.parametrize("ydtype", [np.float64, np.float32, np.uint8, np.int64, np.bool_])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compute_cost_type_follows_numpy(dtype, ydtype):
    # the course's np.squeeze(cost): a 0-d ndarray, of the dtype NumPy 2 gives
    rng = np.random.default_rng(8)
    AL = rng.uniform(0.05, 0.95, (1, 9)).astype(dtype)
    Y = (rng.random((1, 9)) < 0.5).astype(ydtype)
    expected = step.compute_cost(AL, Y)
    got = a.compute_cost(AL, Y)
    same(got, expected, rtol=1e-12 if expected.dtype == np.float64 and dtype == np.float64
         else 1e-6, what=f"cost {dtype.__name__} {ydtype.__name__}")
    # an AL of shape (m,) against Y (1, m), as the course's expression broadcasts
    same(a.compute_cost(AL.ravel(), Y), step.compute_cost(AL.ravel(), Y),
         rtol=1e-12 if expected.dtype == np.float64 and dtype == np.float64 else 1e-6)


def test_float32_network_stays_float32():
    X, Y, p = network([6, 5, 3, 1], 20, seed=13, dtype=np.float32)
    Yf = Y.astype(np.float32)
    AL, caches = a.L_model_forward(X, p)
    cost = a.compute_cost(AL, Yf)
    grads = a.L_model_backward(AL, Yf, caches)
    new = a.update_parameters(p, grads, 0.1)
    eAL, ecaches = step.L_model_forward(X, p)
    same(cost, step.compute_cost(eAL, Yf), rtol=1e-6, what="cost")
    assert cost.dtype == np.float32
    same(grads, step.L_model_backward(eAL, Yf, ecaches), what="float32 grads")
    same(new, step.update_parameters(p, step.L_model_backward(eAL, Yf, ecaches), 0.1))


def test_layer_function_errors_name_the_functions_arguments():
    # linear_forward(A, W, b) and linear_backward(dZ, cache) have no layer
    # number: their shape errors name their own arguments, not W1, b1, dZ1, A0
    X, _, p = network([3, 4], 5, seed=3)
    W, b = p["W1"], p["b1"]
    for call in (lambda W, b: a.linear_forward(X, W, b),
                 lambda W, b: a.linear_activation_forward(X, W, b, "relu")):
        with pytest.raises(ValueError, match=r"W has shape \(4, 2\).* 2 rows") as e:
            call(W[:, :2], b)
        assert "W1" not in str(e.value)
        with pytest.raises(ValueError, match=r"b should have shape \(4, 1\) to match W "
                                             r"\(4, 3\), got b \(3, 1\)"):
            call(W, b[:3])
    Z, linear_cache = a.linear_forward(X, W, b)
    with pytest.raises(ValueError, match=r"dZ \(2, 5\).*cache's W \(4, 3\)") as e:
        a.linear_backward(Z[:2], linear_cache)
    assert "dZ1" not in str(e.value) and "A0" not in str(e.value)
    A, cache = a.linear_activation_forward(X, W, b, "relu")
    with pytest.raises(ValueError, match=r"cache's A_prev \(2, 5\)") as e:
        a.linear_activation_backward(A, ((X[:2], W, b), cache[1]), "relu")
    assert "A0" not in str(e.value)


@pytest.mark.parametrize("n_prev", [2, 3])
def test_linear_activation_backward_of_the_linear_cache_says_so(n_prev):
    # the linear cache (A_prev, W, b) alone, a common slip: with 3 rows in
    # A_prev it unpacked as ((row0, row1, row2), W, b) and the error was about
    # Z's shape or "A0 must be a 2-D array"
    X, _, p = network([n_prev, 2], 3, seed=4)
    A, (linear_cache, Z) = a.linear_activation_forward(X, p["W1"], p["b1"], "relu")
    for activation in ("relu", "sigmoid"):
        with pytest.raises(ValueError, match=r"linear_activation_backward needs the cache "
                                             r"\(\(A_prev, W, b\), Z\).*linear cache"):
            a.linear_activation_backward(A, linear_cache, activation)
    with pytest.raises(ValueError, match="got dict of length 3$"):
        a.linear_activation_backward(A, {"A": X, "W": p["W1"], "b": p["b1"]}, "relu")
