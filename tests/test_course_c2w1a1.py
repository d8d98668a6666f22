"""fastbp.course.c2w1a1 (Initialization + init_utils) against plain NumPy."""
import re
import sys

import numpy as np
import pytest

import course_reference_c2 as ref
from course_reference_c2 import assert_close, assert_same_dict, assert_same_tuple
from fastbp.course import c2w1a1 as a


def _data(rng, n_x=2, m=40, dtype=np.float64):
    X = rng.standard_normal((n_x, m)).astype(dtype)
    Y = (rng.random((1, m)) > 0.5).astype(np.int64)
    return X, Y


def _params(rng, dims, dtype=np.float64):
    return {k: (rng.standard_normal((dims[l], dims[l - 1]) if k[0] == "W" else (dims[l], 1))
                * (1 / np.sqrt(dims[l - 1]) if k[0] == "W" else 0.1)).astype(dtype)
            for l in range(1, len(dims)) for k in ("W%d" % l, "b%d" % l)}


@pytest.mark.parametrize("dims", [[3, 2, 1], [3, 1, 2], [2, 10, 5, 1]])
def test_initializations_seed_like_the_course(dims):
    for ours, theirs in ((a.initialize_parameters_zeros, ref.init_zeros),
                         (a.initialize_parameters_random, ref.init_random),
                         (a.initialize_parameters_he, ref.init_he)):
        np.random.seed(123)
        got = ours(layers_dims=dims)
        after = np.random.rand()
        np.random.seed(123)
        expected = theirs(dims)
        assert after == np.random.rand(), ours.__name__ + " leaves another generator state"
        assert list(got) == list(expected)
        for k in expected:
            assert type(got[k]) is np.ndarray and got[k].dtype == np.float64
            np.testing.assert_array_equal(got[k], expected[k], err_msg=ours.__name__ + k)


def test_initializations_match_the_course_test_values():
    # the course's public tests: [3, 2, 1] random and [3, 1, 2] He
    np.testing.assert_allclose(a.initialize_parameters_random([3, 2, 1])["W2"],
                               [[-0.82741481, -6.27000677]], rtol=1e-7)
    np.testing.assert_allclose(a.initialize_parameters_he([3, 1, 2])["W1"],
                               [[1.46040903, 0.3564088, 0.07878985]], rtol=1e-7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_backward_loss(dtype):
    rng = np.random.default_rng(1)
    X, Y = _data(rng, 2, 37, dtype)
    p = _params(rng, [2, 10, 5, 1], dtype)
    a3, cache = a.forward_propagation(X=X, parameters=p)
    ea3, ecache = ref.forward3(X, p)
    assert_close(a3, ea3, name="a3")
    assert_same_tuple(cache, ecache, name="cache")
    grads = a.backward_propagation(X, Y, cache=cache)
    assert_same_dict(grads, ref.backward3(X, Y, ecache, per_example=True), name="grads")
    assert list(grads)[:4] == ["dz3", "dW3", "db3", "da2"]
    assert_close(a.compute_loss(a3=a3, Y=Y), ref.cost_nanmean(ea3, Y), name="loss")


def test_compute_loss_saturated_like_the_course():
    Y = np.array([[1, 0, 1]])
    for a3 in (np.array([[1.0, 0.5, 0.25]]), np.array([[1.0, 1.0, 0.5]]),
               np.array([[0.0, 0.5, 0.5]])):
        got = a.compute_loss(a3, Y)
        expected = ref.cost_nanmean(a3, Y)
        assert type(got) is type(expected)
        assert got == expected or np.isclose(got, expected, rtol=1e-12), (a3, got, expected)


def test_update_parameters_rebinds_keys():
    rng = np.random.default_rng(2)
    p = _params(rng, [2, 3, 1])
    g = {"d" + k: rng.standard_normal(v.shape) for k, v in p.items()}
    before = {k: v.copy() for k, v in p.items()}
    out = a.update_parameters(p, g, learning_rate=0.1)
    assert out is p
    for k in before:
        assert_close(out[k], before[k] - 0.1 * g["d" + k], name=k)


def test_predict_and_predict_dec(capsys):
    rng = np.random.default_rng(3)
    X, Y = _data(rng, 2, 25)
    p = _params(rng, [2, 10, 5, 1])
    pred = a.predict(X, Y, p)
    a3, _ = ref.forward3(X, p)
    expected = (a3 > 0.5).astype(int)
    assert_close(pred, expected, name="predictions")
    assert capsys.readouterr().out == "Accuracy: " + str(np.mean(expected[0] == Y[0])) + "\n"
    dec = a.predict_dec(p, X)
    assert dec.dtype == np.bool_
    np.testing.assert_array_equal(dec, a3 > 0.5)


def _printed(out):
    return [(int(i), float(c)) for i, c in
            re.findall(r"Cost after iteration (\d+): (\S+)", out)]


# The large random initialisation trains chaotically: last-bit differences
# (the NumPy loop's own on another BLAS, too) grow to 1e-7 in 100 iterations.
@pytest.mark.parametrize("initialization,n", [("zeros", 2001), ("he", 2001), ("random", 21)])
def test_model_matches_the_numpy_loop(initialization, n, capsys):
    rng = np.random.default_rng(4)
    X, Y = _data(rng, 2, 60)
    p = a.model(X, Y, learning_rate=0.01, num_iterations=n, print_cost=True,
                initialization=initialization)
    init = {"zeros": ref.init_zeros, "he": ref.init_he, "random": ref.init_random}
    ep, ecosts = ref.gd_loop(X, Y, init[initialization]([2, 10, 5, 1]), 0.01, n)
    printed = _printed(capsys.readouterr().out)
    assert [i for i, _ in printed] == list(range(0, n, 1000))
    for (_, c), e in zip(printed, ecosts):
        assert c == e or abs(c - e) <= 1e-9 * abs(e), (c, e)
    assert list(p) == list(ep)
    for k in ep:
        assert_close(p[k], ep[k], rtol=1e-9, name=k)


def test_model_defaults_and_errors(capsys):
    rng = np.random.default_rng(5)
    X, Y = _data(rng, 2, 30)
    p = a.model(X, Y, num_iterations=3, print_cost=False)
    ep, _ = ref.gd_loop(X, Y, ref.init_he([2, 10, 5, 1]), 0.01, 3, every=0)
    for k in ep:
        assert_close(p[k], ep[k], name=k)
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="initialization"):
        a.model(X, Y, num_iterations=1, initialization="xavier")


def test_load_dataset_is_the_courses_circles():
    datasets = pytest.importorskip("sklearn.datasets")
    train_X, train_Y, test_X, test_Y = a.load_dataset()
    np.random.seed(1)
    X, Y = datasets.make_circles(n_samples=300, noise=.05)
    np.random.seed(2)
    tX, tY = datasets.make_circles(n_samples=100, noise=.05)
    np.testing.assert_array_equal(train_X, X.T)
    np.testing.assert_array_equal(train_Y, Y.reshape(1, 300))
    np.testing.assert_array_equal(test_X, tX.T)
    np.testing.assert_array_equal(test_Y, tY.reshape(1, 100))


def test_star_import_gives_the_notebooks_names():
    ns = {}
    exec("from fastbp.course.c2w1a1 import *", ns)
    for name in ("model", "initialize_parameters_he", "compute_loss", "forward_propagation",
                 "backward_propagation", "update_parameters", "predict", "predict_dec",
                 "load_dataset", "plot_decision_boundary", "sigmoid", "relu"):
        assert callable(ns[name]), name
    assert set(a.__all__) <= set(ns) and not any(k.startswith("_") and k != "__builtins__"
                                                 for k in ns)
    assert a.sigmoid(0.0) == 0.5 and a.relu(np.array([-1.0, 2.0])).tolist() == [0.0, 2.0]


def test_plot_decision_boundary_as_the_notebook_calls_it(monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    rng = np.random.default_rng(6)
    X, Y = _data(rng, 2, 20)
    p = _params(rng, [2, 10, 5, 1])
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    monkeypatch.setattr(plt, "show", lambda: None)
    a.plot_decision_boundary(lambda x: a.predict_dec(p, x.T), X, Y)
    plt.close("all")


def test_plots_without_matplotlib(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)      # not installed
    rng = np.random.default_rng(6)
    X, Y = _data(rng, 2, 20)
    p = _params(rng, [2, 10, 5, 1])
    with pytest.raises(ImportError, match="pip install matplotlib"):
        a.plot_decision_boundary(lambda x: a.predict_dec(p, x.T), X, Y)
    a.model(X, Y, num_iterations=2)          # the cost plot is skipped, the model trains
    assert capsys.readouterr().out.startswith("Cost after iteration 0: ")
