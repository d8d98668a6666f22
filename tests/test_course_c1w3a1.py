"""The planar-data notebook (C1W3A1) on fastbp.course.c1w3a1, checked against
``course_reference.planar``: the calls the notebook makes, positional and by
keyword; values, dict keys, dtypes and Python types; seeding; printed costs.
"""
import sys

import numpy as np
import pytest

import fastbp.datasets
from course_reference import RTOL_TRAINED, check_names, network, planar, same
from fastbp.course import c1w3a1 as a

SIGNATURES = {
    "layer_sizes": "(X, Y)",
    "initialize_parameters": "(n_x, n_h, n_y)",
    "forward_propagation": "(X, parameters)",
    "compute_cost": "(A2, Y)",
    "backward_propagation": "(parameters, cache, X, Y)",
    "update_parameters": "(parameters, grads, learning_rate=1.2)",
    "nn_model": "(X, Y, n_h, num_iterations=10000, print_cost=False)",
    "predict": "(parameters, X)",
    "plot_decision_boundary": "(model, X, y)",
    "sigmoid": "(x)",
    "load_planar_dataset": "()",
    "load_extra_datasets": "()",
}


def test_names_and_signatures_are_the_notebooks():
    check_names(a, SIGNATURES)


def test_layer_sizes():
    X, Y, _ = network([5, 4, 2], 3, seed=1)
    assert a.layer_sizes(X, Y) == planar.layer_sizes(X, Y) == (5, 4, 2)
    assert a.layer_sizes(X=X, Y=Y) == (5, 4, 2)


def test_initialize_parameters_draws_without_reseeding():
    # 2024 edition: the global generator as the caller left it
    for seed in (2, 7):
        np.random.seed(seed)
        got = a.initialize_parameters(3, 4, 2)
        after = np.random.get_state()[1].copy()
        np.random.seed(seed)
        same(got, planar.initialize_parameters(3, 4, 2), rtol=0.0, what="parameters")
        assert np.array_equal(after, np.random.get_state()[1]), "draws differ in number"
    np.random.seed(2)
    kw = a.initialize_parameters(n_x=2, n_h=4, n_y=1)
    np.random.seed(2)
    same(kw, planar.initialize_parameters(2, 4, 1), rtol=0.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m,n_h", [(1, 1), (3, 4), (400, 9)])
def test_forward_cost_backward_update(m, n_h, dtype):
    X, Y, params = network([2, n_h, 1], m, seed=m + n_h, dtype=dtype)
    A2, cache = a.forward_propagation(X, params)
    eA2, ecache = planar.forward_propagation(X, params)
    same(A2, eA2, what="A2")
    same(cache, ecache, what="cache")
    same(a.forward_propagation(X=X, parameters=params), (eA2, ecache))

    cost = a.compute_cost(A2, Y)
    ecost = planar.compute_cost(eA2, Y)
    same(cost, ecost, rtol=None if dtype == np.float64 else 1e-6, what="cost")
    assert type(a.compute_cost(A2=A2, Y=Y)) is float

    grads = a.backward_propagation(params, cache, X, Y)
    egrads = planar.backward_propagation(params, ecache, X, Y)
    same(grads, egrads, what="grads")
    same(a.backward_propagation(parameters=params, cache=cache, X=X, Y=Y), egrads)

    before = {k: v.copy() for k, v in params.items()}
    same(a.update_parameters(params, grads), planar.update_parameters(params, egrads),
         what="updated (default learning_rate 1.2)")
    same(a.update_parameters(parameters=params, grads=grads, learning_rate=0.5),
         planar.update_parameters(params, egrads, 0.5), what="updated (lr 0.5)")
    same(params, before, rtol=0.0, what="parameters after update")   # not modified


def test_compute_cost_of_1d_A2_broadcasts_like_the_course():
    X, Y, params = network([2, 4, 1], 7, seed=3)
    A2 = a.forward_propagation(X, params)[0].ravel()            # (m,) against Y (1, m)
    same(a.compute_cost(A2, Y), planar.compute_cost(A2, Y), what="cost of (m,) A2")
    same(a.compute_cost(A2=A2.astype(np.float32), Y=Y),
         planar.compute_cost(A2.astype(np.float32), Y), rtol=1e-6)
    with pytest.raises(ValueError, match="Y has shape"):
        a.compute_cost(A2[:5], Y)
    with pytest.raises(ValueError, match=r"\(n_y, m\)"):
        a.compute_cost(A2, Y.ravel())       # the course's m = Y.shape[1] needs 2-D Y


def test_float32_stays_float32():
    # NumPy 2 keeps float32 (Python floats are weak): so must fastbp
    X, Y, params = network([2, 4, 1], 50, seed=11, dtype=np.float32)
    A2, cache = a.forward_propagation(X, params)
    grads = a.backward_propagation(params, cache, X, Y)
    new = a.update_parameters(params, grads)
    for what, arr in [("A2", A2), *cache.items(), *grads.items(), *new.items()]:
        assert arr.dtype == np.float32, what
    e = planar.update_parameters(params, planar.backward_propagation(
        params, planar.forward_propagation(X, params)[1], X, Y))
    same(new, e, what="float32 update")


def test_nn_model_seeds_3_and_trains_like_the_notebook(capsys):
    X, Y = fastbp.datasets.load_planar_dataset()
    np.random.seed(0)
    p = a.nn_model(X, Y, 4, num_iterations=1001, print_cost=True)
    out = capsys.readouterr().out
    np.random.seed(123)                                        # nn_model seeds itself
    e = planar.nn_model(X, Y, 4, num_iterations=1001, print_cost=True)
    assert out == capsys.readouterr().out
    assert out.splitlines()[0].startswith("Cost after iteration 0: 0.69")
    same(p, e, rtol=RTOL_TRAINED, what="parameters")
    kw = a.nn_model(X=X, Y=Y, n_h=2, num_iterations=20, print_cost=False)
    same(kw, planar.nn_model(X, Y, 2, 20), rtol=RTOL_TRAINED)
    assert capsys.readouterr().out == ""


def test_nn_model_on_the_public_test_case():
    # the course's nn_model test: 10000 steps of lr 1.2 on 3 examples, bool labels
    np.random.seed(1)
    X = np.random.randn(2, 3)
    Y = np.random.randn(1, 3) > 0
    p = a.nn_model(X, Y, 4)
    e = planar.nn_model(X, Y, 4)
    for k in e:                        # the course checks 6 decimals
        np.testing.assert_allclose(p[k], e[k], rtol=0, atol=1e-7, err_msg=k)


def test_predict():
    X, Y, params = network([2, 4, 1], 30, seed=5)
    got = a.predict(params, X)
    same(got, planar.predict(params, X), what="predictions")
    assert got.dtype == np.bool_
    same(a.predict(parameters=params, X=X), got)


def test_planar_utils():
    z = np.linspace(-30, 30, 13).reshape(1, 13)
    same(a.sigmoid(z), planar.sigmoid(z), what="sigmoid")
    assert isinstance(a.sigmoid(0.5), float)          # a scalar in, a scalar out
    X, Y = a.load_planar_dataset()
    assert X.shape == (2, 400) and Y.shape == (1, 400) and Y.dtype == np.uint8


def test_load_extra_datasets_draws_from_the_global_generator():
    pytest.importorskip("sklearn")
    np.random.seed(4)
    first = a.load_extra_datasets()
    np.random.seed(4)
    again = a.load_extra_datasets()
    assert len(first) == 5
    for (X1, Y1), (X2, Y2) in zip(first, again):
        assert X1.shape == (200, 2) and Y1.shape[0] == 200
        np.testing.assert_array_equal(X1, X2)
        np.testing.assert_array_equal(Y1, Y2)
    np.random.seed(5)
    assert not np.array_equal(a.load_extra_datasets()[0][0], first[0][0])


def test_optional_dependencies_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    X, Y = a.load_planar_dataset()
    with pytest.raises(ImportError, match="plot_decision_boundary needs matplotlib"):
        a.plot_decision_boundary(lambda x: x[:, 0] > 0, X, Y)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        a.load_extra_datasets()


def test_plot_decision_boundary_draws():
    plt = pytest.importorskip("matplotlib.pyplot")
    X, Y, params = network([2, 4, 1], 40, seed=9)
    plt.figure()
    a.plot_decision_boundary(lambda x: a.predict(params, x.T), X, Y)
    assert plt.gca().get_xlabel() == "x1"
    plt.close("all")


def test_nn_model_with_1d_labels_names_the_fix():
    """A 1-D Y made layer_sizes size the output layer from Y.shape[0] and the
    error ask for Y of shape (400, 400)."""
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"Y has shape \(40,\), a 1-D array.*"
                                         r"Y\.reshape\(1, -1\) \(the output layer has 40 units"):
        a.nn_model(rng.standard_normal((2, 40)), rng.integers(0, 2, 40), 4, num_iterations=3)
    with pytest.raises(ValueError, match=r"Y has shape \(40, 1\), one column \(examples as "
                                         r"rows\).*Y\.reshape\(1, -1\) \(the output layer"):
        a.nn_model(rng.standard_normal((2, 40)), rng.integers(0, 2, (40, 1)), 4,
                   num_iterations=3)
