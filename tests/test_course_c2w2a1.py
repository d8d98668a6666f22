"""fastbp.course.c2w2a1 (Optimization Methods + opt_utils_v1a) against plain NumPy."""
import re

import numpy as np
import pytest

import course_reference_c2 as ref
from course_reference_c2 import assert_close, assert_same_dict, assert_same_tuple
from fastbp.course import c2w2a1 as a
from test_course_c2w1a1 import _data, _params


def _grads(rng, p, dtype=np.float64):
    return {"d" + k: rng.standard_normal(v.shape).astype(dtype) for k, v in p.items()}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_keeps_dtype_and_follows_the_formulas(dtype):
    rng = np.random.default_rng(30)
    p = _params(rng, [3, 4, 2], dtype)
    v, s = a.initialize_adam(p)
    assert list(v) == list(s) == ["dW1", "db1", "dW2", "db2"]
    assert all(x.dtype == dtype and not x.any() for x in list(v.values()) + list(s.values()))
    ep = {k: x.copy() for k, x in p.items()}
    ev = {k: x.copy() for k, x in v.items()}
    es = {k: x.copy() for k, x in s.items()}
    for t in (1, 2, 3):
        g = _grads(rng, p, dtype)
        out = a.update_parameters_with_adam(p, g, v, s, t, learning_rate=0.01, beta1=0.9,
                                            beta2=0.999, epsilon=1e-8)
        assert type(out) is tuple and len(out) == 5
        p, v, s, vc, sc = out
        ep, ev, es, evc, esc = ref.adam_step(ep, g, ev, es, t, 0.01, 0.9, 0.999, 1e-8)
        for got, exp, name in ((p, ep, "parameters"), (v, ev, "v"), (s, es, "s"),
                               (vc, evc, "v_corrected"), (sc, esc, "s_corrected")):
            assert set(got) == set(exp), name
            for k in exp:
                assert got[k].dtype == dtype, f"{name}[{k}] is {got[k].dtype}"
                assert_close(got[k], exp[k].astype(dtype), name=f"{name}[{k}] t={t}")


def test_adam_rejects_t_below_1():
    rng = np.random.default_rng(31)
    p = _params(rng, [3, 2, 1])
    v, s = a.initialize_adam(p)
    g = _grads(rng, p)
    for t in (0, -1, 0.5):
        with pytest.raises(ValueError, match="t must be|>= 1"):
            a.update_parameters_with_adam(p, g, v, s, t)
    with pytest.raises(TypeError, match="Invalid t"):
        a.update_parameters_with_adam(p, g, v, s, "1")
    assert all(np.isfinite(x).all() for x in p.values())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gd_momentum(dtype):
    rng = np.random.default_rng(32)
    p = _params(rng, [3, 4, 2], dtype)
    v = a.initialize_velocity(parameters=p)
    assert all(x.dtype == dtype and x.shape == p[k[1:]].shape for k, x in v.items())
    g = _grads(rng, p, dtype)
    e = {k: x.copy() for k, x in p.items()}
    out = a.update_parameters_with_momentum(parameters=p, grads=g, v=v, beta=0.9,
                                            learning_rate=0.01)
    assert type(out) is tuple and out[0] is p and out[1] is v
    for k in e:
        ev = 0.9 * np.zeros_like(e[k]) + (1 - 0.9) * g["d" + k]
        assert_close(v["d" + k], ev, name="v" + k)
        assert_close(p[k], e[k] - 0.01 * ev, name=k)
    e = {k: x.copy() for k, x in p.items()}
    assert a.update_parameters_with_gd(p, g, learning_rate=0.3) is p
    for k in e:
        assert_close(p[k], e[k] - 0.3 * g["d" + k], name=k)


@pytest.mark.parametrize("m,size", [(7, 2), (148, 64), (128, 64)])
def test_random_mini_batches(m, size):
    np.random.seed(1)
    X = np.random.randn(5, m)
    Y = np.random.randn(1, m) < 0.5          # the course's test uses bool labels
    got = a.random_mini_batches(X, Y, mini_batch_size=size, seed=m)
    expected = ref.mini_batches(X, Y, size, m)
    assert len(got) == len(expected)
    for (bx, by), (ex, ey) in zip(got, expected):
        assert_close(bx, ex, rtol=0)
        assert_close(by, ey, rtol=0)


def test_learning_rate_decay_course_values():
    assert np.isclose(a.update_lr(0.5, 2, 1), 0.16666666666666666)
    assert a.update_lr(learning_rate0=0.5, epoch_num=2, decay_rate=1) == 1 / (1 + 2) * 0.5
    assert a.schedule_lr_decay(0.5, 100, 1, 100) == 0.25
    assert a.schedule_lr_decay(0.5, 10, 1, time_interval=100) == 0.5
    assert np.isclose(a.schedule_lr_decay(0.3, 1000, 0.25, 100), 0.085714285)
    assert np.isclose(a.schedule_lr_decay(0.3, 100, 0.25, 100), 0.24)
    # Python floats, so a decayed rate keeps float32 parameters float32 (NumPy 2)
    for lr in (a.update_lr(0.5, 3, 1), a.schedule_lr_decay(0.5, 3000, 1)):
        assert type(lr) is float
        W = np.ones((2, 2), np.float32)
        assert (W - lr * W).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_opt_utils_forward_backward_cost(dtype):
    rng = np.random.default_rng(33)
    X, Y = _data(rng, 2, 45, dtype)
    p = _params(rng, [2, 5, 2, 1], dtype)
    a3, cache = a.forward_propagation(X, p)
    ea3, ecache = ref.forward3(X, p)
    assert_same_tuple(cache, ecache)
    assert_close(a.compute_cost(a3, Y), ref.cost_sum(ea3, Y), name="cost")
    grads = a.backward_propagation(X, Y, cache)
    assert list(grads)[:4] == ["dz3", "dW3", "db3", "da2"]
    assert_same_dict(grads, ref.backward3(X, Y, ecache, per_example=True))


def test_initialize_parameters_and_load_params_and_grads():
    assert_same_dict(a.initialize_parameters([2, 5, 2, 1]), ref.init_he([2, 5, 2, 1]), rtol=0)
    out = a.load_params_and_grads()
    np.random.seed(1)
    for x, shape in zip(out, ((2, 3), (2, 1), (3, 3), (3, 1)) * 2):
        np.testing.assert_array_equal(x, np.random.randn(*shape))


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "adam"])
def test_model_matches_the_numpy_loop(optimizer, capsys):
    rng = np.random.default_rng(34)
    X, Y = _data(rng, 2, 150)
    dims = [2, 5, 2, 1]
    p = a.model(X, Y, dims, optimizer=optimizer, learning_rate=0.007, mini_batch_size=64,
                num_epochs=30)
    ep, costs, _ = ref.opt_model(X, Y, dims, optimizer, 0.007, 64, 0.9, 0.9, 0.999, 1e-8, 30)
    out = capsys.readouterr().out
    assert out == "Cost after epoch 0: %f\n" % costs[0]
    assert list(p) == list(ep)
    for k in ep:
        assert_close(p[k], ep[k], rtol=1e-10, name=k)


def test_model_and_cost_of_labels_outside_the_unit_interval_as_in_numpy(capsys):
    # the course's formulas take labels of any value (C1W4A2's public test
    # trains on randn labels); fastbp refused them (labels must be 0/1)
    rng = np.random.default_rng(37)
    X = rng.standard_normal((2, 100))
    Y = rng.standard_normal((1, 100))
    a3, _ = a.forward_propagation(X, a.initialize_parameters([2, 5, 2, 1]))
    assert_close(a.compute_cost(a3, Y), ref.cost_sum(a3, Y), name="compute_cost")
    p = a.model(X, Y, [2, 5, 2, 1], "adam", learning_rate=0.007, num_epochs=5)
    ep, costs, _ = ref.opt_model(X, Y, [2, 5, 2, 1], "adam", 0.007, 64, 0.9, 0.9, 0.999, 1e-8,
                                 5)
    assert capsys.readouterr().out == "Cost after epoch 0: %f\n" % costs[0]
    for k in ep:
        assert_close(p[k], ep[k], rtol=1e-10, name=k)


@pytest.mark.parametrize("decay", ["update_lr", "schedule_lr_decay"])
def test_model_with_decay(decay, capsys):
    rng = np.random.default_rng(35)
    X, Y = _data(rng, 2, 100)
    fn = getattr(a, decay)
    p = a.model(X, Y, [2, 4, 3, 1], "adam", learning_rate=0.1, num_epochs=12, decay=fn,
                decay_rate=0.3)
    ep, costs, lrs = ref.opt_model(X, Y, [2, 4, 3, 1], "adam", 0.1, 64, 0.9, 0.9, 0.999,
                                   1e-8, 12, fn, 0.3)
    assert capsys.readouterr().out == ("Cost after epoch 0: %f\nlearning rate after epoch 0: "
                                       "%f\n" % (costs[0], lrs[0]))
    for k in ep:
        assert_close(p[k], ep[k], rtol=1e-10, name=k)


def test_model_rejects_unknown_optimizer():
    rng = np.random.default_rng(36)
    X, Y = _data(rng, 2, 10)
    with pytest.raises(ValueError, match="optimizer"):
        a.model(X, Y, [2, 3, 1], "rmsprop", num_epochs=1)


def test_load_dataset_is_the_courses_moons():
    datasets = pytest.importorskip("sklearn.datasets")
    train_X, train_Y = a.load_dataset()
    np.random.seed(3)
    X, Y = datasets.make_moons(n_samples=300, noise=.2)
    np.testing.assert_array_equal(train_X, X.T)
    np.testing.assert_array_equal(train_Y, Y.reshape(1, 300))


def test_star_import():
    ns = {}
    exec("from fastbp.course.c2w2a1 import *", ns)
    assert set(a.__all__) <= set(ns)
    assert re.match(r"Course 2, week 2", a.__doc__)
