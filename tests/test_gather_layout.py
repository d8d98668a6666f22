"""Shuffled epochs gather each mini-batch's columns: they get examples contiguous.

A C-ordered (n_x, m) X (``np.random.randn(n_x, m)``, or ``X_rows.T`` of
F-ordered rows such as a DataFrame's ``to_numpy()``) holds an example's values
m elements apart, so the epoch kernel's gather read one cache line per value
(1.3-3x slower epochs than the same data in F order). fit now hands the epoch
kernel an F-ordered copy, made once per fit; the gather copies the same bits,
so the results do not change. These tests check the layout the kernel gets
and the bits, not the time.
"""
import numpy as np
import pytest

import fastbp
from fastbp import _validation


def _data(n_x=7, m=50, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    X = np.ascontiguousarray(rng.standard_normal((n_x, m)).astype(np.float32))
    y = rng.integers(0, n_out, m)
    Y = np.ascontiguousarray(np.eye(n_out, dtype=np.float32)[:, y])
    return X, y, Y


def _spy(monkeypatch):
    seen = []
    orig = fastbp.Network.train_epoch

    def train_epoch(self, X, Y, *args, **kw):
        seen.append((X, Y, args[3]))        # X, Y, order
        return orig(self, X, Y, *args, **kw)

    monkeypatch.setattr(fastbp.Network, "train_epoch", train_epoch)
    return seen


def _fit(X, Y, **kw):
    net = fastbp.Network([X.shape[0], 5, 3], output="softmax", seed=1)
    h = net.fit(X, Y, epochs=3, batch_size=8, verbose=False, optimizer=fastbp.Adam(1e-2), **kw)
    return net.flat_parameters.copy(), h


def test_gather_layout_helper():
    X, y, _ = _data()
    F = _validation.gather_layout(X)
    assert F.flags.f_contiguous and np.array_equal(F, X)
    XF = np.asfortranarray(X)
    assert _validation.gather_layout(XF) is XF
    assert _validation.gather_layout(y) is y                  # labels: one per example
    row = X[:1]
    assert _validation.gather_layout(row) is row              # one value per example


@pytest.mark.parametrize("onehot", [False, True])
def test_shuffled_fit_gathers_from_f_order(monkeypatch, onehot):
    X, y, Y = _data()
    seen = _spy(monkeypatch)
    _fit(X, Y if onehot else y)
    assert seen
    for Xk, Yk, order in seen:
        assert order is not None
        assert Xk.flags.f_contiguous, "a C-ordered X was gathered value by value"
        if onehot:
            assert Yk.flags.f_contiguous
    # one copy for the whole fit, not one per epoch
    assert len({id(Xk) for Xk, _, _ in seen}) == 1


def test_unshuffled_fit_uses_x_in_place(monkeypatch):
    X, y, _ = _data()
    seen = _spy(monkeypatch)
    _fit(X, y, shuffle=False)
    assert seen and all(np.shares_memory(Xk, X) for Xk, _, _ in seen)


@pytest.mark.parametrize("onehot", [False, True])
def test_same_bits_c_and_f_order(onehot):
    X, y, Y = _data()
    T = Y if onehot else y
    p_c, h_c = _fit(X, T)
    p_f, h_f = _fit(np.asfortranarray(X), np.asfortranarray(T))
    p_r, h_r = _fit(np.ascontiguousarray(X.T).T, T)             # X_rows.T
    assert np.array_equal(p_c, p_f) and np.array_equal(p_c, p_r)
    assert h_c["loss"] == h_f["loss"] == h_r["loss"]


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")
def test_sklearn_f_ordered_rows(monkeypatch):
    pytest.importorskip("sklearn")
    from fastbp.sklearn import MLPClassifier
    X, y, _ = _data(m=60)
    rows_c = np.ascontiguousarray(X.T, dtype=np.float64)
    rows_f = np.asfortranarray(rows_c)           # as a DataFrame's to_numpy()
    kw = dict(hidden_layer_sizes=(5,), max_iter=3, batch_size=8, random_state=0)
    a = MLPClassifier(**kw).fit(rows_c, y)
    seen = _spy(monkeypatch)
    b = MLPClassifier(**kw).fit(rows_f, y)
    assert seen and all(Xk.flags.f_contiguous for Xk, _, _ in seen)
    for ca, cb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert np.array_equal(ca, cb)
    assert a.loss_curve_ == b.loss_curve_
