"""Network pickling (scikit-learn estimators are pickled, joblib copies them)."""
import copy
import pickle

import numpy as np
import pytest

from fastbp.network import Network
from fastbp.optim import SGD, Adam


@pytest.mark.parametrize("make", [lambda: None, lambda: SGD(0.1),
                                  lambda: SGD(0.05, 0.9, True, velocity="step"),
                                  lambda: Adam(0.01, bias_correction="step")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("how", ["pickle", "deepcopy", "copy"])
@pytest.mark.filterwarnings("error")   # copy.copy took the optimizer over, with a warning
def test_pickled_network_continues_training_identically(make, dtype, how):
    rng = np.random.default_rng(0)
    net = Network([4, 7, 3], "relu", "softmax", dtype=dtype, seed=1, lambd=0.1,
                  keep_prob=[0.8], n_threads=1)
    X, y = rng.standard_normal((4, 23)).astype(dtype), rng.integers(0, 3, 23)
    opt = make()
    if opt is not None:
        for _ in range(3):
            net.train_step(X, y, opt)
    other = {"pickle": lambda n: pickle.loads(pickle.dumps(n)), "deepcopy": copy.deepcopy,
             "copy": copy.copy}[how](net)
    assert other.get_config() == net.get_config() and other.n_threads == 1
    np.testing.assert_array_equal(other.flat_parameters, net.flat_parameters)
    assert not np.shares_memory(other.flat_parameters, net.flat_parameters)
    assert (other.step_count, other.dropout_seed) == (net.step_count, net.dropout_seed)
    if opt is None:
        assert other.optimizer is None
        opt = SGD(0.1)
        oo = SGD(0.1)
    else:
        oo = other.optimizer
        assert oo is not opt and oo.t == opt.t == 3 and oo.get_config() == opt.get_config()
        for a, b in zip(oo.state_arrays(), opt.state_arrays()):
            np.testing.assert_array_equal(a, b)
            assert not np.shares_memory(a, b)
    for _ in range(3):       # same dropout masks, same optimizer state: same steps
        assert other.train_step(X, y, oo) == net.train_step(X, y, opt)
    np.testing.assert_array_equal(other.flat_parameters, net.flat_parameters)
    np.testing.assert_array_equal(other.predict_proba(X), net.predict_proba(X))


def test_last_loss_terms():
    rng = np.random.default_rng(1)
    net = Network([3, 5, 2], "tanh", "identity", dtype=np.float64, seed=0, lambd=0.5)
    assert net.last_loss_terms is None
    X, Y = rng.standard_normal((3, 11)), rng.standard_normal((2, 11))
    W2 = sum(float(np.sum(net.parameters[f"W{l}"] ** 2)) for l in (1, 2))
    data = 0.5 * np.sum((net.predict_proba(X) - Y) ** 2) / 11
    loss = net.train_step(X, Y, SGD(0.1))
    d, l2 = net.last_loss_terms
    assert d + l2 == loss
    assert d == pytest.approx(data, rel=1e-12) and l2 == pytest.approx(0.5 / 22 * W2, rel=1e-12)
    loss, _ = net.loss_and_gradient(X, Y, sample_weight=np.full(11, 2.0))
    assert sum(net.last_loss_terms) == pytest.approx(loss, rel=1e-15)
    assert net.last_loss_terms[1] == pytest.approx(0.5 / 44 * sum(
        float(np.sum(net.parameters[f"W{l}"] ** 2)) for l in (1, 2)), rel=1e-12)
