"""numpy.ma masked arrays: fastbp's own API refuses masked entries.

Its kernels read an array's data, and NumPy's ``asarray`` drops a mask, so
the values hidden under a mask (a -999 sentinel here) were trained on and
predicted from silently. A masked array with nothing masked is its data.
The scikit-learn estimators follow scikit-learn, whose validation drops
masks: they give scikit-learn's numbers for the same input.
"""
import numpy as np
import pytest

import fastbp
from fastbp import layers
from fastbp.course import c1w4a1, c2w2a1

SENTINEL = -999.0


def _masked(a, where):
    """a with the entries at `where` set to SENTINEL and masked."""
    a = np.array(a, dtype=np.float64)
    a[where] = SENTINEL
    return np.ma.masked_equal(a, SENTINEL)


@pytest.fixture
def data(rng):
    X = rng.standard_normal((4, 9))
    Y = (rng.random((1, 9)) > 0.5).astype(np.float64)
    return X, Y


def _net():
    return fastbp.Network([4, 5, 1], "relu", "sigmoid", dtype="float64", seed=0)


CALLS = {
    "Network.fit X": lambda X, Y, Xm, Ym: _net().fit(Xm, Y, verbose=False),
    "Network.fit Y": lambda X, Y, Xm, Ym: _net().fit(X, Ym, verbose=False),
    "Network.fit sample_weight": lambda X, Y, Xm, Ym: _net().fit(
        X, Y, sample_weight=_masked(np.ones(9), 3), verbose=False),
    "Network.predict_proba": lambda X, Y, Xm, Ym: _net().predict_proba(Xm),
    "Network.train_step": lambda X, Y, Xm, Ym: _net().train_step(
        Xm, Y, fastbp.optim.SGD(0.1)),
    "Network.loss_and_gradient": lambda X, Y, Xm, Ym: _net().loss_and_gradient(X, Ym),
    "layers.dense_forward": lambda X, Y, Xm, Ym: layers.dense_forward(
        Xm, np.ones((3, 4)), np.zeros((3, 1))),
    "layers.dense_backward": lambda X, Y, Xm, Ym: layers.dense_backward(
        _masked(np.ones((3, 9)), (0, 0)), X, np.ones((3, 4))),
    "layers.loss Y": lambda X, Y, Xm, Ym: layers.loss(np.full((1, 9), 0.5), Ym, "binary_crossentropy"),
    "layers.output_delta": lambda X, Y, Xm, Ym: layers.output_delta(
        _masked(np.full((1, 9), 0.5), (0, 2)), Y, "binary_crossentropy"),
    "layers.softmax": lambda X, Y, Xm, Ym: layers.softmax(Xm),
    "course linear_forward": lambda X, Y, Xm, Ym: c1w4a1.linear_forward(
        Xm, np.ones((3, 4)), np.zeros((3, 1))),
    "course compute_cost": lambda X, Y, Xm, Ym: c1w4a1.compute_cost(
        _masked(np.full((1, 9), 0.5), (0, 1)), Y),
    "course random_mini_batches": lambda X, Y, Xm, Ym: c2w2a1.random_mini_batches(
        X, Ym, 4),
    # the course converted what the kernel refused, dropping the mask
    "course linear_forward b": lambda X, Y, Xm, Ym: c1w4a1.linear_forward(
        X, np.ones((3, 4)), _masked(np.zeros((3, 1)), (1, 0))),
    "Network.loss_and_gradient params": lambda X, Y, Xm, Ym: _net().loss_and_gradient(
        X, Y, params=_masked(np.zeros(_net().n_params), 2)),
    "Network.parameters": lambda X, Y, Xm, Ym: setattr(
        _net(), "parameters", {"W1": _masked(np.zeros((5, 4)), (0, 1)), "b1": np.zeros(5),
                               "W2": np.zeros((1, 5)), "b2": np.zeros(1)}),
}


@pytest.mark.parametrize("call", list(CALLS))
def test_masked_entries_are_refused(data, call):
    X, Y = data
    Xm, Ym = _masked(X, (1, 2)), _masked(Y, (0, 4))
    with pytest.raises(TypeError, match=r"masked array with 1 masked value.*\.filled\("):
        CALLS[call](X, Y, Xm, Ym)


def test_nothing_masked_is_the_data(data):
    X, Y = data
    a, b = _net(), _net()
    a.fit(X, Y, epochs=3, batch_size=4, verbose=False)
    b.fit(np.ma.array(X), np.ma.array(Y), epochs=3, batch_size=4, verbose=False)
    np.testing.assert_array_equal(a.flat_parameters, b.flat_parameters)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(np.ma.array(X)))


def test_estimators_follow_scikit_learn(data):
    sk = pytest.importorskip("sklearn.neural_network")
    from fastbp.sklearn import MLPClassifier
    X, Y = data
    Xm = _masked(X.T, (2, 1))      # scikit-learn's validation drops the mask
    y = Y.ravel().astype(int)
    kw = dict(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sk.MLPClassifier(**kw).fit(Xm, y)
        ours = MLPClassifier(**kw).fit(Xm, y)
    for a, b in zip(ref.coefs_, ours.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("call", ["dense_forward", "softmax"])
def test_masked_out_is_refused(call):
    """A masked ``out=`` was written and kept its mask: the result read as masked."""
    A, W, b = np.ones((4, 3)), np.ones((2, 4)), np.zeros((2, 1))
    out = np.ma.array(np.empty((2, 3)), mask=True)
    with pytest.raises(TypeError, match="out: .*masked array.*plain array"):
        if call == "dense_forward":
            layers.dense_forward(A, W, b, out=(out, np.empty((2, 3))))
        else:
            layers.softmax(np.ones((2, 3)), out=out)
