"""fastbp.course.c2w1a3 (Gradient Checking + gc_utils) against plain NumPy."""
import numpy as np
import pytest

import course_reference_c2 as ref
from course_reference_c2 import assert_close, assert_same_dict, assert_same_tuple
from fastbp.course import c2w1a3 as a


def test_one_dimensional_exercise(capsys):
    assert a.forward_propagation(2, 4) == 8
    assert a.forward_propagation(x=3, theta=4) == 12
    assert a.backward_propagation(x=2, theta=4) == 2
    eps = 1e-7
    approx = ((4 + eps) * 2 - (4 - eps) * 2) / (2 * eps)
    expected = np.linalg.norm(2 - approx) / (np.linalg.norm(2) + np.linalg.norm(approx))
    d = a.gradient_check(2, 4)
    assert type(d) is type(expected) and d == expected
    assert d == 2.919335883291695e-10               # the course's test value
    assert capsys.readouterr().out == ""
    d = a.gradient_check(x=3, theta=4, epsilon=1e-7, print_msg=True)
    assert "Your backward propagation works perfectly fine! difference = " + str(d) \
        in capsys.readouterr().out


def _course_case(Y1d=True):
    """The course's gradient_check_n test case: X (4, 3), Y = [1, 1, 0], [4, 5, 3, 1]."""
    np.random.seed(1)
    X = np.random.randn(4, 3)
    Y = np.array([1, 1, 0]) if Y1d else np.array([[1, 1, 0]])
    p = {}
    for k, shape in (("W1", (5, 4)), ("b1", (5, 1)), ("W2", (3, 5)), ("b2", (3, 1)),
                     ("W3", (1, 3)), ("b3", (1, 1))):
        p[k] = np.random.randn(*shape)
    return X, Y, p


@pytest.mark.parametrize("Y1d", [True, False])
def test_forward_backward_n(Y1d):
    X, Y, p = _course_case(Y1d)
    cost, cache = a.forward_propagation_n(X, Y, p)
    eA3, ecache = ref.forward3(X, p)
    assert_same_tuple(cache, ecache, name="cache")
    assert_close(cost, 1. / 3 * np.sum(ref.cost_terms(eA3, Y)), name="cost")
    grads = a.backward_propagation_n(X=X, Y=Y, cache=cache)
    assert list(grads) == ["dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1",
                           "dW1", "db1"]
    assert_same_dict(grads, ref.backward3(X, Y, ecache), name="grads")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_backward_n_float32(dtype):
    rng = np.random.default_rng(20)
    X = rng.standard_normal((4, 9)).astype(dtype)
    Y = (rng.random((1, 9)) > .5).astype(np.uint8)
    p = {k: v.astype(dtype) for k, v in _course_case()[2].items()}
    cost, cache = a.forward_propagation_n(X, Y, p)
    eA3, ecache = ref.forward3(X, p)
    assert_same_tuple(cache, ecache)
    assert_close(cost, 1. / 9 * np.sum(ref.cost_terms(eA3, Y)), name="cost")
    assert_same_dict(a.backward_propagation_n(X, Y, cache), ref.backward3(X, Y, ecache))


@pytest.mark.parametrize("Y1d", [True, False])
def test_gradient_check_n_with_the_course_data(Y1d, capsys):
    X, Y, p = _course_case(Y1d)
    _, cache = a.forward_propagation_n(X, Y, p)
    grads = a.backward_propagation_n(X, Y, cache)
    d = a.gradient_check_n(p, grads, X, Y, 1e-7, True)
    assert d < 2e-7 and ref.gradient_check_n(p, grads, X, Y) < 2e-7
    assert "works perfectly fine" in capsys.readouterr().out
    # the notebook's planted mistakes: the difference the course's test expects
    bad = dict(grads)
    bad["dW2"] = grads["dW2"] * 2
    bad["db1"] = grads["db1"] * 4
    d = a.gradient_check_n(parameters=p, gradients=bad, X=X, Y=Y, epsilon=1e-7,
                           print_msg=True)
    assert "There is a mistake" in capsys.readouterr().out
    assert_close(d, ref.gradient_check_n(p, bad, X, Y), rtol=1e-6)
    assert abs(d - 0.2850931567761623) < 1e-6


def test_gc_utils():
    X, Y, p = _course_case()
    theta, keys = a.dictionary_to_vector(p)
    np.testing.assert_array_equal(theta, ref.vec(p, ["W1", "b1", "W2", "b2", "W3", "b3"]))
    assert keys[:20] == ["W1"] * 20 and len(keys) == 47
    back = a.vector_to_dictionary(theta)
    assert_same_dict(back, p, rtol=0)
    g = {"d" + k: v for k, v in p.items()}
    np.testing.assert_array_equal(a.gradients_to_vector(g), theta)
    assert a.sigmoid(np.array([0.0]))[0] == 0.5 and a.relu(-2.0) == 0


def test_star_import():
    ns = {}
    exec("from fastbp.course.c2w1a3 import *", ns)
    assert set(a.__all__) <= set(ns)
    assert ns["forward_propagation"](2, 4) == 8
