"""Regression tests for what tests/test_fuzz.py found (issue 12), one concrete example each.

Each test is the shrunk failing example of a fuzz row, written out, with the
value it must give (from a formula or NumPy, never from fastbp). The kinds and
where they were fixed are listed in the closing note of issue 12.
"""
import numpy as np
import pytest

import fastbp
import fastbp.course as fc
from fastbp import reference as ref


# ------------------------------------------------ gelu_tanh's derivative at large |z|

@pytest.mark.parametrize("dtype, big", [(np.float32, 3e20), (np.float64, 3e200),
                                        (np.float32, 1e5), (np.float64, np.inf)])
def test_gelu_tanh_derivative_saturates_instead_of_nan(dtype, big):
    # g'(z) -> 1 for z -> +inf and 0 for z -> -inf; z^3 overflowed and (1 - t^2) z^3
    # was 0 * inf = NaN (float32 from |z| ~ 2e12, float64 from ~ 1e103)
    Z_prev = np.array([[big, -big, 1.0]], dtype=dtype)
    dZ = np.ones((1, 3), dtype)
    A_prev = np.zeros((1, 3), dtype)           # not read for gelu_tanh
    W = np.full((1, 1), 2.0, dtype)
    dZ_prev, _, _ = fastbp.dense_backward(dZ, A_prev, W, "gelu_tanh", Z_prev=Z_prev)
    # at z = 1: 0.5 (1 + t) + 0.5 z (1 - t^2) sqrt(2/pi) (1 + 3 k z^2), t = tanh(sqrt(2/pi)(z + k z^3))
    t = np.tanh(np.sqrt(2 / np.pi) * (1 + 0.044715))
    d1 = 0.5 * (1 + t) + 0.5 * (1 - t * t) * np.sqrt(2 / np.pi) * (1 + 3 * 0.044715)
    expected = 2.0 * np.array([[1.0, 0.0, d1]])
    np.testing.assert_allclose(dZ_prev, expected, rtol=1e-6 if dtype == np.float32 else 1e-13)
    np.testing.assert_allclose(ref.activation_derivative(Z_prev, "gelu_tanh")[0, :2], [1, 0])


def test_gelu_tanh_network_gradient_finite_for_huge_inputs():
    net = fastbp.Network([1, 2, 1], hidden="gelu_tanh", seed=0, dtype="float32")
    net.parameters = {"W1": np.array([[1e15], [-1e15]], np.float32),
                      "b1": np.zeros((2, 1), np.float32),
                      "W2": np.array([[1e-15, 1e-15]], np.float32),
                      "b2": np.zeros((1, 1), np.float32)}
    X = np.array([[1e6]], np.float32)           # Z1 = +-1e21: far past the old overflow
    net.forward(X)
    grads = net.backward(np.array([[1.0]], np.float32))
    for k, g in grads.items():
        assert np.isfinite(g).all(), (k, g)


# ------------------------------------------------ schedules with gamma > 1

def test_exponential_and_step_decay_overflow_to_inf_not_overflowerror():
    # 3.0 ** 1000 raises OverflowError in Python; a schedule returns inf there
    assert fastbp.ExponentialDecay(3)(0.1, 1000) == np.inf
    assert fastbp.StepDecay(1, gamma=3)(0.1, 1000) == np.inf
    opt = fastbp.SGD(0.1, schedule=fastbp.ExponentialDecay(3))
    with pytest.raises(ValueError, match="epoch 1000"):
        opt.set_epoch(1000)


# ------------------------------------------------ messages that name the argument

@pytest.mark.parametrize("kwargs, exc, name", [
    ({"hidden": "nope"}, ValueError, "hidden"),
    ({"hidden": 3}, TypeError, "hidden"),
    ({"hidden": None}, TypeError, "hidden"),
    ({"alpha": "a"}, TypeError, "alpha"),
    ({"seed": 1.5}, TypeError, "seed"),
    ({"seed": "x"}, TypeError, "seed"),
    ({"layer_dims": "341"}, TypeError, "layer_dims"),
])
def test_network_argument_errors_name_the_argument(kwargs, exc, name):
    args = dict(layer_dims=[3, 4, 1])
    args.update(kwargs)
    with pytest.raises(exc, match=name):
        fastbp.Network(**args)


def test_course_dtype_errors_name_the_argument():
    A = np.ones((2, 3))
    W = np.ones((1, 2))
    with pytest.raises(TypeError, match=r"\bb1? has dtype complex128"):
        fc.linear_forward(A, W, np.ones((1, 1), np.complex128))
    X = np.ones((2, 5), np.complex128)
    Y = np.zeros((1, 5))
    with pytest.raises(TypeError, match=r"\bX has dtype complex128"):
        fc.nn_model(X, Y, 2, num_iterations=1)
    with pytest.raises(TypeError, match=r"\bAL has dtype complex128"):
        fc.compute_cost(np.full((1, 5), 0.5 + 0j), Y)


@pytest.mark.parametrize("call, exc, name", [
    (lambda: fc.initialize_parameters(1, 1, -1), ValueError, "n_y"),
    (lambda: fc.initialize_parameters(2.5, 1, 1), TypeError, "n_x"),
    (lambda: fc.initialize_parameters_he([1, 2.5]), TypeError, r"layers_dims\[1\]"),
    (lambda: fc.initialize_parameters_zeros([1, -1]), ValueError, r"layers_dims\[1\]"),
    (lambda: fc.initialize_parameters_deep([3, 0, 1]), ValueError, r"layer_dims\[1\]"),
    (lambda: fc.initialize_parameters_deep("341"), TypeError, "layer_dims"),
])
def test_course_initializers_check_sizes(call, exc, name):
    with pytest.raises(exc, match=name):
        call()


def test_c2w1a2_initialize_parameters_checks_sizes():
    from fastbp.course import c2w1a2
    with pytest.raises(ValueError, match=r"layer_dims\[1\]"):
        c2w1a2.initialize_parameters([1, -1])


@pytest.mark.parametrize("size, exc", [(2.5, TypeError), (0, ValueError), (True, TypeError)])
def test_random_mini_batches_checks_mini_batch_size(size, exc):
    X = np.ones((2, 7))
    Y = np.zeros((1, 7))
    with pytest.raises(exc, match="mini_batch_size"):
        fc.random_mini_batches(X, Y, size)


def _models():
    from fastbp.course import c1w4a2, c2w1a1, c2w1a2, c2w2a1
    X = np.random.default_rng(0).standard_normal((2, 9))
    Y = (X[:1] > 0).astype(float)
    return [
        ("num_iterations", lambda n: fc.nn_model(X, Y, 3, num_iterations=n)),
        ("num_iterations", lambda n: fc.two_layer_model(X, Y, (2, 3, 1), num_iterations=n)),
        ("num_iterations", lambda n: fc.L_layer_model(X, Y, [2, 3, 1], num_iterations=n)),
        ("num_iterations", lambda n: c1w4a2.L_layer_model(X, Y, [2, 3, 1], num_iterations=n)),
        ("num_iterations", lambda n: c2w1a1.model(X, Y, num_iterations=n, print_cost=False)),
        ("num_iterations", lambda n: c2w1a2.model(X, Y, num_iterations=n, print_cost=False,
                                                   keep_prob=0.86)),
        ("num_epochs", lambda n: c2w2a1.model(X, Y, [2, 3, 1], "gd", num_epochs=n,
                                               print_cost=False)),
    ]


@pytest.mark.parametrize("i", range(7))
@pytest.mark.parametrize("n, exc", [(2.5, TypeError), ("3", TypeError), (-1, ValueError)])
def test_course_models_check_iteration_counts(i, n, exc):
    name, call = _models()[i]
    with pytest.raises(exc, match=name):
        call(n)


def test_two_layer_model_checks_layers_dims():
    X = np.ones((2, 4))
    Y = np.zeros((1, 4))
    with pytest.raises(ValueError, match="layers_dims"):
        fc.two_layer_model(X, Y, [2, 3, 3, 1], num_iterations=1)


# ------------------------------------------------ float16 and object inputs of the course

def test_course_sigmoid_float16_computes_in_float32():
    Z = np.array([[-2.0, 0.0, 3.0]], np.float16)
    A, cache = fc.sigmoid(Z)
    assert A.dtype == np.float32 and cache is Z
    np.testing.assert_allclose(A, 1 / (1 + np.exp(-Z.astype(np.float64))), rtol=1e-6)
    dZ = fc.sigmoid_backward(np.ones_like(Z), Z)
    assert dZ.dtype == np.float32


def test_course_sigmoid_object_array_is_a_typeerror_naming_x():
    from fastbp.course import c1w3a1, c2w1a1
    Z = np.array([[0.5, 1.0]], dtype=object)
    with pytest.raises(TypeError, match=r"\bx has dtype object"):
        c1w3a1.sigmoid(Z)
    with pytest.raises(TypeError, match=r"\bx has dtype object"):
        c2w1a1.sigmoid(Z)
    with pytest.raises(TypeError, match=r"\bZ has dtype object"):
        fc.sigmoid(Z)


# ------------------------------------------------ later fuzz findings (second round)

def test_gradient_checks_need_a_positive_epsilon():
    from fastbp.course import c2w1a3
    with pytest.raises(ValueError, match="epsilon"):
        c2w1a3.gradient_check(2.0, 4.0, 0.0)           # was a NaN difference (0 / 0)
    with pytest.raises(TypeError, match=r"\bx has dtype"):
        c2w1a3.gradient_check("2", 4.0)                 # was "can't multiply sequence"
    X = np.ones((2, 3))
    Y = np.zeros((1, 3))
    p = {"W1": np.ones((2, 2)), "b1": np.zeros((2, 1)), "W2": np.ones((1, 2)),
         "b2": np.zeros((1, 1))}
    g = {"d" + k: np.zeros_like(v) for k, v in p.items()}
    with pytest.raises(ValueError, match="epsilon"):
        fc.gradient_check_n(p, g, X, Y, epsilon=-1e-7)


@pytest.mark.parametrize("update", ["gd", "momentum", "adam"])
def test_updates_refuse_object_arrays_naming_the_key(update):
    p = {"W1": np.ones((2, 2)), "b1": np.zeros((2, 1))}
    g = {"dW1": np.ones((2, 2)).astype(object), "db1": np.zeros((2, 1))}
    with pytest.raises(TypeError, match=r"\bdW1 has dtype object"):
        if update == "gd":
            fc.update_parameters_with_gd(p, g, 0.1)
        elif update == "momentum":
            fc.update_parameters_with_momentum(p, g, fc.initialize_velocity(p), 0.9, 0.1)
        else:
            v, s = fc.initialize_adam(p)
            fc.update_parameters_with_adam(p, g, v, s, 1)   # was NumPy's "no callable sqrt"


@pytest.mark.parametrize("seed, exc", [(-1, ValueError), (2 ** 40, ValueError),
                                       ("x", TypeError), (1.5, TypeError)])
def test_load_params_and_grads_checks_its_seed(seed, exc):
    from fastbp.course import c2w2a1
    with pytest.raises(exc, match="seed"):
        c2w2a1.load_params_and_grads(seed)


def test_c2_cost_refuses_object_probabilities_naming_a3():
    from fastbp.course import c2w1a1
    with pytest.raises(TypeError, match=r"\ba3 has dtype object"):
        c2w1a1.compute_loss(np.full((1, 4), 0.5, dtype=object), np.zeros((1, 4)))


def test_linear_activation_backward_complex_dA_names_dA():
    A = np.ones((2, 3))
    W = np.ones((1, 2))
    cache = ((A, W, np.zeros((1, 1))), np.ones((1, 3)))
    with pytest.raises(TypeError, match=r"\bdA has dtype complex128"):
        fc.linear_activation_backward(np.ones((1, 3), np.complex128), cache, "relu")


def test_course_sigmoid_of_unsigned_ints_is_the_logistic_of_their_value():
    # the course's 1 / (1 + exp(-z)) wraps -z around for uint8; fastbp computes in float64
    z = np.array([[0, 1, 200]], np.uint8)
    np.testing.assert_allclose(fc.sigmoid(z)[0], 1 / (1 + np.exp(-z.astype(np.float64))))
    assert fc.sigmoid(z)[0].dtype == np.float64


def test_course_updates_of_integer_parameters_do_not_wrap_around():
    # uint8 0 - 1 * 1 was 255 (NumPy's integer arithmetic); fastbp.course computes in float
    p = {"W1": np.zeros((1, 1), np.uint8), "b1": np.zeros((1, 1), np.uint8)}
    g = {"dW1": np.ones((1, 1), np.uint8), "db1": np.ones((1, 1), np.uint8)}
    out = fc.update_parameters_with_gd(dict(p), g, 1)
    np.testing.assert_array_equal(out["W1"], [[-1.0]])
    out, _ = fc.update_parameters_with_momentum(dict(p), g, fc.initialize_velocity(p), 0.0, 1)
    np.testing.assert_array_equal(out["b1"], [[-1.0]])
    np.testing.assert_array_equal(fc.update_parameters(p, g, 1)["W1"], [[-1.0]])


# ------------------------------------------------ fastbp.sklearn against scikit-learn
# (the rows "fastbp.sklearn.*" of tests/test_fuzz.py; scikit-learn is the oracle)

def _sklearn_pair():
    pytest.importorskip("sklearn", minversion="1.7",
                        reason="fastbp.sklearn needs scikit-learn >= 1.7")
    from sklearn import neural_network as sk_nn
    from fastbp import sklearn as fsk
    return fsk, sk_nn


def _quiet_fit(est, X, y):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # ConvergenceWarning of a 3-iteration fit
        return est.fit(X, y)


@pytest.mark.parametrize("sizes", [(3.5,), (3, 2.0), ((3,),)])
def test_sklearn_non_integer_hidden_layer_sizes_raise_typeerror_as_sklearn(sizes):
    # scikit-learn hands each size to NumPy as a shape (TypeError); fastbp's int()
    # truncated 3.5 to 3 and trained
    fsk, sk_nn = _sklearn_pair()
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((13, 3)), np.arange(13) % 3
    with pytest.raises(TypeError):
        _quiet_fit(sk_nn.MLPClassifier(hidden_layer_sizes=sizes, max_iter=2), X, y)
    with pytest.raises(TypeError, match="hidden_layer_sizes must hold integers"):
        _quiet_fit(fsk.MLPClassifier(hidden_layer_sizes=sizes, max_iter=2), X, y)


@pytest.mark.parametrize("est", ["MLPClassifier", "MLPRegressor"])
def test_sklearn_float32_model_predicts_in_sklearns_promoted_dtype(est):
    # a float32-trained estimator given float64 (or int64) data: scikit-learn's
    # X @ coefs_ returns float64; fastbp returned float32
    fsk, sk_nn = _sklearn_pair()
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) if est == "MLPClassifier" else X[:, 0].astype(np.float64)
    params = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    sk = _quiet_fit(getattr(sk_nn, est)(**params), X, y)
    fb = _quiet_fit(getattr(fsk, est)(**params), X, y)
    method = "predict_proba" if est == "MLPClassifier" else "predict"
    for data, dtype in ((X, np.float32), (X.astype(np.float64), np.float64),
                        (np.round(X * 3).astype(np.int64), np.float64)):
        expected = getattr(sk, method)(data)
        got = getattr(fb, method)(data)
        assert expected.dtype == dtype
        assert got.dtype == dtype
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("m, exc", [(-1, ValueError), (1.5, TypeError), ("3", TypeError),
                                    (None, TypeError), (True, TypeError)])
def test_check_sample_weight_refuses_a_bad_m_naming_it(m, exc):
    # a scalar weight was expanded with np.full(m): NumPy's "negative dimensions are
    # not allowed" / "'float' object cannot be interpreted as an integer"
    net = fastbp.Network([2, 1], output="identity")
    with pytest.raises(exc, match=r"\bm \(the number of examples"):
        net.check_sample_weight(0.5, m)
    assert net.check_sample_weight(0.5, np.int64(3)).tolist() == [0.5, 0.5, 0.5]


@pytest.mark.parametrize("y", [np.array(["a", "b", "c"]), np.array(["1.5", "2", "3"]),
                               np.array([b"a", b"b", b"c"])])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_sklearn_regressor_with_text_targets_raises_typeerror_naming_y(y, method):
    # scikit-learn's validate_data(y_numeric=True) converts only object arrays, so
    # text y fails inside its arithmetic (NumPy's UFuncTypeError, a TypeError);
    # fastbp raised NumPy's "could not convert string to float", naming nothing
    fsk, sk_nn = _sklearn_pair()
    X = np.ones((3, 2))
    with pytest.raises(TypeError):
        getattr(sk_nn.MLPRegressor(hidden_layer_sizes=(3,), max_iter=1), method)(X, y)
    with pytest.raises(TypeError, match=r"\by must hold numbers .*got dtype"):
        getattr(fsk.MLPRegressor(hidden_layer_sizes=(3,), max_iter=1), method)(X, y)
