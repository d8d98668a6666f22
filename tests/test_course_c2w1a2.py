"""fastbp.course.c2w1a2 (Regularization + reg_utils) against plain NumPy."""
import re

import numpy as np
import pytest

import course_reference_c2 as ref
from course_reference_c2 import assert_close, assert_same_dict, assert_same_tuple
from fastbp.course import c2w1a2 as a
from test_course_c2w1a1 import _data, _params

DIMS = [2, 20, 3, 1]


def _case(seed, m, dtype=np.float64):
    """(X (2, m), Y (1, m), parameters of [2, 20, 3, 1])."""
    rng = np.random.default_rng(seed)
    X, Y = _data(rng, 2, m, dtype)
    return X, Y, _params(rng, DIMS, dtype)


def test_initialize_parameters_seeds_3():
    np.random.seed(0)
    got = a.initialize_parameters(DIMS)
    assert np.random.rand() == (ref.init_reg(DIMS), np.random.rand())[1]
    assert_same_dict(got, ref.init_reg(DIMS), rtol=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("lambd", [0.0, 0.7])
def test_forward_backward_with_and_without_regularization(dtype, lambd):
    X, Y, p = _case(10, 41, dtype)
    A3, cache = a.forward_propagation(X, p)
    eA3, ecache = ref.forward3(X, p)
    assert_close(A3, eA3, name="A3")
    assert_same_tuple(cache, ecache, name="cache")
    expected = ref.backward3(X, Y, ecache, lambd=lambd)
    if lambd:
        grads = a.backward_propagation_with_regularization(X=X, Y=Y, cache=cache, lambd=lambd)
        cost = a.compute_cost_with_regularization(A3=A3, Y=Y, parameters=p, lambd=lambd)
        assert_close(cost, ref.cost_l2(eA3, Y, p, lambd), name="cost")
    else:
        grads = a.backward_propagation(X, Y, cache)
        assert_close(a.compute_cost(A3, Y), ref.cost_nanmean(eA3, Y), name="cost")
    assert list(grads) == ["dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1",
                           "dW1", "db1"]
    assert_same_dict(grads, expected, name="grads")


def test_backward_of_a_cache_holding_lists_is_that_of_arrays():
    # the dtype was np.result_type of the cache's entries, which reads a
    # list as a structured dtype spec: "Field elements must be 2- or 3-tuples"
    X, Y, p = _case(3, 6)
    _, cache = a.forward_propagation(X, p)
    as_lists = tuple(x.tolist() for x in cache)
    assert_same_dict(a.backward_propagation(X, Y, as_lists), a.backward_propagation(X, Y, cache))
    _, cache = a.forward_propagation_with_dropout(X, p, 0.8)
    as_lists = tuple(x.tolist() for x in cache)
    assert_same_dict(a.backward_propagation_with_dropout(X, Y, as_lists, 0.8),
                     a.backward_propagation_with_dropout(X, Y, cache, 0.8))


def test_helper_costs_of_a_1d_a3_broadcast_like_the_course():
    # a3 of shape (m,) against Y of shape (1, m): the helper files' NumPy
    # broadcasts to (1, m); fastbp raised a bare IndexError (a.shape[1])
    from fastbp.course import c2w1a1, c2w2a1
    a3 = np.array([0.2, 0.7, 0.9, 0.4])
    Y = np.array([[0, 1, 1, 0]])
    for cost, expected in ((a.compute_cost, ref.cost_nanmean), (c2w1a1.compute_loss,
                           ref.cost_nanmean), (c2w2a1.compute_cost, ref.cost_sum)):
        assert_close(cost(a3, Y), expected(a3, Y))
        assert_close(cost(a3, Y), cost(a3.reshape(1, -1), Y))


def test_compute_cost_with_regularization_course_value():
    # the course's public test case
    np.random.seed(1)
    Y = np.array([[1, 1, 0, 1, 0]])
    p = {}
    for k, shape in (("W1", (2, 3)), ("b1", (2, 1)), ("W2", (3, 2)), ("b2", (3, 1)),
                     ("W3", (1, 3)), ("b3", (1, 1))):
        p[k] = np.random.randn(*shape)
    A3 = np.array([[0.40682402, 0.01629284, 0.16722898, 0.10118111, 0.40682402]])
    cost = a.compute_cost_with_regularization(A3, Y, p, 0.1)
    assert type(cost) is np.float64
    assert_close(cost, ref.cost_l2(A3, Y, p, 0.1))
    assert abs(cost - 1.7864859451590758) < 1e-12


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("keep_prob", [0.86, 0.5])
def test_dropout_seeds_1_on_entry_and_matches(dtype, keep_prob):
    X, Y, p = _case(11, 33, dtype)
    np.random.seed(42)                      # the function seeds 1 itself
    A3, cache = a.forward_propagation_with_dropout(X, p, keep_prob=keep_prob)
    after = np.random.rand()
    eA3, ecache = ref.forward3(X, p, keep_prob)
    assert after == np.random.rand()
    assert_close(A3, eA3, name="A3")
    assert len(cache) == 14
    assert_same_tuple(cache, ecache, name="cache")
    assert cache[1].dtype.kind == "i" and cache[6].dtype.kind == "i"
    A3b, cacheb = a.forward_propagation_with_dropout(X, p, keep_prob)
    np.testing.assert_array_equal(A3b, A3)
    grads = a.backward_propagation_with_dropout(X, Y, cache, keep_prob=keep_prob)
    assert_same_dict(grads, ref.backward3(X, Y, ecache, keep_prob=keep_prob), name="grads")


def test_dropout_default_keep_prob_and_errors():
    X, Y, p = _case(12, 9)
    A3, cache = a.forward_propagation_with_dropout(X, p)
    assert_same_tuple(cache, ref.forward3(X, p, 0.5)[1])
    A3, cache = a.forward_propagation_with_dropout(X, p, 1)
    assert_same_tuple(cache, ref.forward3(X, p, 1)[1])
    with pytest.raises(ValueError, match="keep_prob"):
        a.forward_propagation_with_dropout(X, p, 0)
    with pytest.raises(ValueError, match="Invalid cache"):
        a.backward_propagation_with_dropout(X, Y, cache[:12], 0.5)
    with pytest.raises(ValueError, match="Invalid cache"):
        a.backward_propagation(X, Y, cache)


def _printed(out):
    return [(int(i), float(c)) for i, c in
            re.findall(r"Cost after iteration (\d+): (\S+)", out)]


@pytest.mark.parametrize("lambd,keep_prob", [(0, 1), (0.7, 1), (0, 0.86)])
def test_model_matches_the_numpy_loop(lambd, keep_prob, capsys):
    rng = np.random.default_rng(13)
    X, Y = _data(rng, 2, 50)
    n = 1001
    p = a.model(X, Y, learning_rate=0.3, num_iterations=n, lambd=lambd, keep_prob=keep_prob)
    ep, ecosts = ref.gd_loop(X, Y, ref.init_reg(DIMS), 0.3, n, lambd=lambd,
                             keep_prob=None if keep_prob == 1 else keep_prob)
    printed = _printed(capsys.readouterr().out)
    assert [i for i, _ in printed] == [0]
    assert abs(printed[0][1] - ecosts[0]) <= 1e-12 * abs(ecosts[0])
    for k in ep:
        assert_close(p[k], ep[k], rtol=1e-9, name=k)


@pytest.mark.parametrize("lambd,keep_prob", [(0, 1), (0.7, 1), (0, 0.86)])
def test_labels_outside_the_unit_interval_train_as_in_numpy(lambd, keep_prob, capsys):
    # the course's formulas take labels of any value (C1W4A2's public test
    # trains on randn labels); fastbp refused them (labels must be 0/1)
    rng = np.random.default_rng(14)
    X = rng.standard_normal((2, 40))
    Y = rng.standard_normal((1, 40))
    A3, cache = a.forward_propagation(X, _params(rng, DIMS))
    assert_close(a.compute_cost(A3, Y), ref.cost_nanmean(A3, Y), name="compute_cost")
    assert_same_dict(a.backward_propagation(X, Y, cache), ref.backward3(X, Y, cache))
    p = a.model(X, Y, learning_rate=0.03, num_iterations=50, lambd=lambd, keep_prob=keep_prob)
    ep, ecosts = ref.gd_loop(X, Y, ref.init_reg(DIMS), 0.03, 50, lambd=lambd,
                             keep_prob=None if keep_prob == 1 else keep_prob)
    printed = _printed(capsys.readouterr().out)
    assert abs(printed[0][1] - ecosts[0]) <= 1e-12 * abs(ecosts[0])
    for k in ep:
        assert_close(p[k], ep[k], rtol=1e-9, name=k)


def test_load_2D_dataset(tmp_path):
    with pytest.raises(FileNotFoundError, match="data.mat"):
        a.load_2D_dataset(tmp_path / "datasets" / "data.mat")
    io = pytest.importorskip("scipy.io")
    rng = np.random.default_rng(14)
    d = {"X": rng.standard_normal((211, 2)), "y": (rng.random((211, 1)) > .5).astype(float),
         "Xval": rng.standard_normal((200, 2)), "yval": np.ones((200, 1))}
    io.savemat(tmp_path / "data.mat", d)
    train_X, train_Y, test_X, test_Y = a.load_2D_dataset(str(tmp_path / "data.mat"))
    np.testing.assert_array_equal(train_X, d["X"].T)
    np.testing.assert_array_equal(train_Y, d["y"].T)
    np.testing.assert_array_equal(test_X, d["Xval"].T)
    np.testing.assert_array_equal(test_Y, d["yval"].T)


def test_star_import():
    ns = {}
    exec("from fastbp.course.c2w1a2 import *", ns)
    assert set(a.__all__) <= set(ns)
    assert ns["update_parameters"] is a.update_parameters
