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


def _spy_csr_columns(monkeypatch):
    """A list that gets an entry per batch fit picks from a CSR X's CSC copy."""
    from fastbp import _fit as fit_module
    calls = []
    real = fit_module._csr_columns

    def spy(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(fit_module, "_csr_columns", spy)
    return calls


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


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")
def test_sklearn_early_stopping_score_without_accuracy_score(monkeypatch):
    """early_stopping scores the validation set after every epoch; with integer
    labels of one output the score is computed directly (accuracy_score's
    input checks cost more than a small epoch), with accuracy_score's value."""
    pytest.importorskip("sklearn")
    from sklearn.metrics import accuracy_score
    from fastbp import sklearn as fsk
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 6))
    y = (X[:, 0] + 0.5 * rng.standard_normal(300) > 0).astype(np.int64) + 2 * (X[:, 1] > 0)
    kw = dict(hidden_layer_sizes=(7,), max_iter=6, early_stopping=True, random_state=0,
              n_iter_no_change=100)
    with monkeypatch.context() as mp:      # the score as accuracy_score gives it
        mp.setattr(fsk.MLPClassifier, "_score", lambda self, X, y, sample_weight=None:
                   self._score_with_function(X, y, sample_weight, accuracy_score))
        ref = fsk.MLPClassifier(**kw).fit(X, y)
    calls = []

    def counting(*a, **k):
        calls.append(1)
        return accuracy_score(*a, **k)

    monkeypatch.setattr(fsk, "accuracy_score", counting)
    clf = fsk.MLPClassifier(**kw).fit(X, y)
    assert not calls
    assert clf.validation_scores_ == ref.validation_scores_
    # the same values as accuracy_score's on the held-out rows
    clf2 = fsk.MLPClassifier(**kw).fit(X, y)
    for yv in (y[:60], y[:61].astype(np.int32)):
        pred = fsk.MLPClassifier._predict(clf2, X[:yv.shape[0]], check_input=False)
        pred = pred.astype(yv.dtype)
        monkeypatch.setattr(clf2, "_predict", lambda X, check_input=True, p=pred: p)
        got = clf2._score(X[:yv.shape[0]], yv)
        assert type(got) is float and got == accuracy_score(yv, pred)
    # string labels and weights still go through accuracy_score
    ys = np.array(["a", "b", "c", "d"])[y]
    fsk.MLPClassifier(**kw).fit(X, ys)
    assert calls


def test_csr_batches_are_scipys_and_fit_bits_unchanged(monkeypatch):
    """A shuffled fit of a CSR X picks each batch's columns from one CSC copy
    (X[:, idx] on CSR scans the whole matrix per batch: quadratic epochs);
    the batches are X[:, idx] array for array, so the results are the same."""
    sp = pytest.importorskip("scipy.sparse")
    from fastbp import _fit
    rng = np.random.default_rng(3)
    X = sp.random(9, 40, density=0.3, format="csr", dtype=np.float32, random_state=3)
    for arr in (X, sp.csr_array(X)):
        C = arr.tocsc()
        for _ in range(20):
            idx = rng.permutation(40)[:7]
            a, b = arr[:, idx], _fit._csr_columns(arr, C, idx)
            assert type(a) is type(b) and a.shape == b.shape
            assert np.array_equal(a.indptr, b.indptr)
            assert np.array_equal(a.indices, b.indices)
            assert np.array_equal(a.data, b.data)
        for j, k in ((0, 8), (8, 16), (32, 40)):             # unshuffled batches
            a, b = arr[:, j:k], _fit._csr_columns(arr, C, np.arange(j, k, dtype=np.intp))
            assert type(a) is type(b) and a.shape == b.shape
            assert np.array_equal(a.indptr, b.indptr)
            assert np.array_equal(a.indices, b.indices)
            assert np.array_equal(a.data, b.data)
    y = rng.integers(0, 3, 40)

    def fit(shuffle=True):
        net = fastbp.Network([9, 5, 3], output="softmax", seed=1)
        h = net.fit(X, y, epochs=3, batch_size=8, verbose=False, optimizer=fastbp.Adam(1e-2),
                    shuffle=shuffle)
        return net.flat_parameters.copy(), h["loss"]

    p_new, l_new = fit()
    q_new, m_new = fit(shuffle=False)
    calls = _spy_csr_columns(monkeypatch)
    fit()
    assert calls, "a CSR X's batches were picked by X[:, idx]"
    # the old way: X[:, idx] on the CSR matrix itself
    monkeypatch.setattr(_fit, "_csr_columns", lambda X, C, idx: X[:, idx])
    p_old, l_old = fit()
    assert np.array_equal(p_new, p_old) and l_new == l_old
    q_old, m_old = fit(shuffle=False)
    assert np.array_equal(q_new, q_old) and m_new == m_old


def test_a_large_x_is_gathered_in_place_not_copied(monkeypatch):
    """The F-ordered copy doubles the memory X holds: an X larger than an
    eighth of the machine's memory, or one NumPy cannot copy, is gathered
    as it is (slower, same bits) instead of raising MemoryError or pushing
    the machine into swap."""
    X, y, Y = _data()
    assert _validation.gather_layout(X) is not X        # the copy, normally
    monkeypatch.setattr(_validation, "physical_memory", lambda: 8 * X.nbytes - 8)
    assert _validation.gather_layout(X) is X
    monkeypatch.setattr(_validation, "physical_memory", lambda: None)

    def no_memory(a, *args, **kwargs):
        raise MemoryError("no room")

    monkeypatch.setattr(np, "asfortranarray", no_memory)
    assert _validation.gather_layout(X) is X
    seen = _spy(monkeypatch)
    got, _ = _fit(X, y)
    monkeypatch.undo()
    # (X converted to the network's float64 once, in its C order, and gathered so)
    assert seen and all(x.flags.c_contiguous and not x.flags.f_contiguous
                        for x, _, _ in seen)
    want, _ = _fit(np.asfortranarray(X), y)
    assert np.array_equal(got, want)


def test_a_converted_x_is_held_once_during_the_fit():
    """A C-ordered X that check_X converts (float64 into a float32 network)
    is held in the network's dtype once during the fit, in F order: the
    C-ordered conversion was kept alive by fit's frame beside the F copy."""
    import tracemalloc
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 20000))                 # float64, C order: 8 MB
    y = (X[0] > 0).astype(np.int64)
    held = []
    net = fastbp.Network([50, 4, 2], output="softmax", seed=0, dtype="float32")
    tracemalloc.start()
    try:
        net.fit(X, y, epochs=1, batch_size=256, verbose=False,
                callback=lambda n, e, logs: held.append(tracemalloc.get_traced_memory()[0]))
    finally:
        tracemalloc.stop()
    one_copy = X.size * 4
    assert held[0] < 1.5 * one_copy, f"{held[0] / one_copy:.2f} float32 copies of X held"


def test_physical_memory_reads_a_control_groups_limit(tmp_path, monkeypatch):
    """A 3 GB X in a 4 GB container on a 256 GB host was copied (the host's
    memory was the bound) and the process killed; a cgroup's memory limit,
    when lower than the machine's, is now the memory fit plans with."""
    machine = _validation.physical_memory()
    if machine is None:
        pytest.skip("the OS does not report its memory")
    limit = tmp_path / "memory.max"
    monkeypatch.setattr(_validation, "_CGROUP_LIMITS", (str(tmp_path / "none"), str(limit)))
    limit.write_text("max\n")
    assert _validation.physical_memory() >= machine
    limit.write_text("4096\n")
    assert _validation.physical_memory() == 4096
    assert _validation.copy_fits_in_memory(512) and not _validation.copy_fits_in_memory(513)


def test_a_csr_x_too_large_to_copy_is_batched_from_itself(monkeypatch):
    """The CSC copy of a CSR X has the guard of the dense copy: beyond an
    eighth of the memory the batches are picked from X itself (same bits)."""
    import scipy.sparse as sp

    X, y, _ = _data(m=60)
    Xs = sp.csr_matrix(np.where(np.abs(X) > 0.8, X, 0).astype(np.float64))
    seen = _spy_csr_columns(monkeypatch)
    copied, _ = _fit(Xs, y)
    assert seen
    seen.clear()
    Xc = fastbp.Network([7, 5, 3], output="softmax").check_X(Xs)      # what fit batches
    nbytes = Xc.data.nbytes + Xc.indices.nbytes + Xc.indptr.nbytes
    monkeypatch.setattr(_validation, "physical_memory", lambda: 8 * nbytes - 8)
    in_place, _ = _fit(Xs, y)
    assert not seen
    assert np.array_equal(copied, in_place)
