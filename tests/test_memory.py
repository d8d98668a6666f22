"""Memory and resource hygiene: what a call leaves behind once it has returned.

A network keeps its parameters and its workspaces (sized for the largest
batch seen); it must not keep the caller's data, nor the copies a call made
of it, alive after the call. Checked with weak references to the arrays
(an ndarray supports them) and, for copies made inside a call, with
tracemalloc (NumPy reports its data buffers to it).
"""
import gc
import io
import os
import signal
import sys
import tracemalloc
import weakref

import numpy as np
import pytest
import scipy.sparse as sp

import fastbp


def _net():
    return fastbp.Network([20, 8, 3], hidden="relu", output="softmax", seed=0,
                          dtype="float64")


def _data(m=300, seed=0):
    rng = np.random.default_rng(seed)
    # examples as rows, passed as rows.T: the network's X with no copy
    return rng.standard_normal((m, 20)), rng.integers(0, 3, m)


TRAINING_CALLS = {
    "fit": lambda net, X, y: net.fit(X, y, epochs=1, batch_size=32, verbose=False),
    "fit shuffle=False": lambda net, X, y: net.fit(X, y, epochs=1, batch_size=32,
                                                    shuffle=False, verbose=False),
    "train_step": lambda net, X, y: net.train_step(X, y, fastbp.SGD(0.1)),
    "loss_and_gradient": lambda net, X, y: net.loss_and_gradient(X, y),
}


@pytest.mark.parametrize("call", list(TRAINING_CALLS))
def test_training_call_does_not_keep_X(call):
    # the kernel's plan kept its last training X (an epoch's arrays and
    # order too) until the next call: a fitted network, and so a fitted
    # MLPClassifier, held its whole training set
    net = _net()
    rows, y = _data()
    ref = weakref.ref(rows)
    TRAINING_CALLS[call](net, rows.T, y)
    del rows
    gc.collect()
    assert ref() is None, f"the network still holds X after {call}"
    # and it trains and predicts on as before
    X2, y2 = _data(seed=1)
    TRAINING_CALLS[call](net, X2.T, y2)
    assert net.predict(X2.T).shape == (300,)


def test_fit_does_not_keep_its_copy_of_X():
    # a C-ordered (n_x, m) X is gathered from an F-ordered copy made for the
    # fit (README); that copy, and the epoch's order, outlived the fit
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 20000))            # 3.2 MB
    y = rng.integers(0, 3, X.shape[1])
    net = _net()
    net.fit(X[:, :100], y[:100], epochs=1, batch_size=32, verbose=False)   # warm
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        net.fit(X, y, epochs=1, batch_size=32, verbose=False)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < X.nbytes // 4, (
        f"{held} bytes still allocated after the fit (X is {X.nbytes} bytes)")


@pytest.mark.parametrize("shuffle", [True, False])
def test_shuffled_fit_converts_X_once(shuffle):
    # float64 C-ordered data for a float32 network: check_X's float32 copy
    # (C order) and then gather_layout's F-ordered copy of it were both alive
    # while the second was made, two float32 copies where one does
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 50000))            # 8 MB of float64
    y = rng.integers(0, 3, X.shape[1])
    net = fastbp.Network([20, 8, 3], hidden="relu", output="softmax", seed=0,
                         dtype="float32")
    net.fit(X[:, :100], y[:100], epochs=1, batch_size=32, verbose=False)   # warm
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        net.fit(X, y, epochs=1, batch_size=32, shuffle=shuffle, verbose=False)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    copy = X.size * 4                               # one float32 copy
    # (+ X.size bytes on NumPy < 1.24, whose casts do not report overflow:
    # converted_in_range looks for an inf in the copy, a boolean temporary)
    assert copy <= peak < copy * 3 // 2, f"peak {peak} bytes, one float32 copy is {copy}"


def test_check_X_order_lays_out_the_converted_copy():
    net = fastbp.Network([3, 2, 1], seed=0, dtype="float32")
    X = np.arange(12.0).reshape(3, 4)               # float64, C order
    for order, flag in (("F", "F_CONTIGUOUS"), ("C", "C_CONTIGUOUS"), ("K", "C_CONTIGUOUS")):
        got = net.check_X(X, order=order)
        assert got.dtype == np.float32 and got.flags[flag], order
        np.testing.assert_array_equal(got, X)
    same = X.astype(np.float32)                     # no conversion: no copy, any order
    assert net.check_X(same, order="F") is same
    with pytest.raises(ValueError, match="unknown order 'A'"):
        net.check_X(X, order="A")


def test_forward_keeps_X_for_its_backward():
    # the one call whose X must outlive it: backward's dW[1] reads it
    net = _net()
    rows, y = _data()
    net.forward(rows.T)
    grads = net.backward(y)
    expected = {k: v.copy() for k, v in grads.items()}
    ref = weakref.ref(rows)
    net.forward(rows.T)
    del rows
    gc.collect()
    assert ref() is not None
    got = net.backward(y)
    for k in expected:
        np.testing.assert_array_equal(got[k], expected[k], err_msg=k)


@pytest.mark.parametrize("fmt", ["csc", "csr"])
@pytest.mark.parametrize("call", ["predict", "loss_and_gradient"])
def test_sparse_call_does_not_keep_X(fmt, call):
    net = _net()
    X = sp.random(20, 300, density=0.2, format=fmt, random_state=0)
    y = np.random.default_rng(0).integers(0, 3, 300)
    ref = weakref.ref(X.data)
    if call == "predict":
        net.predict(X)
    else:
        net.loss_and_gradient(X, y)
    del X
    gc.collect()
    assert ref() is None, f"the network still holds a {fmt} X after {call}"


@pytest.mark.filterwarnings("ignore::UserWarning")     # ConvergenceWarning: 3 iterations
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_fitted_estimator_does_not_keep_training_data(solver):
    pytest.importorskip("sklearn")
    from fastbp.sklearn import MLPClassifier
    rows, y = _data()
    ref = weakref.ref(rows)
    clf = MLPClassifier((8,), solver=solver, max_iter=3, random_state=0)
    clf.fit(rows, y)
    del rows
    gc.collect()
    assert ref() is None, f"a fitted MLPClassifier ({solver}) still holds its X"
    assert clf.predict(_data(seed=1)[0]).shape == (300,)


def _open_fds():
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_cli_run_whose_reader_left_closes_its_descriptors(monkeypatch):
    # `fastbp info | head -1` run in-process (main() called from Python): the
    # BrokenPipeError handling pointed stdout at /dev/null through a
    # descriptor it never closed, one more per run
    from fastbp import cli

    def run():
        r, w = os.pipe()
        os.close(r)                         # the reader has left
        out = io.TextIOWrapper(io.FileIO(w, "w"), write_through=True)
        monkeypatch.setattr(sys, "stdout", out)
        try:
            assert cli.main(["info"]) == 0
        finally:
            monkeypatch.undo()
            out.close()                     # writes nothing more: /dev/null now

    old = signal.signal(signal.SIGPIPE, signal.SIG_IGN) if hasattr(signal, "SIGPIPE") else None
    try:
        run()                               # imports and caches first
        before = _open_fds()
        for _ in range(5):
            run()
        assert _open_fds() == before
    finally:
        if old is not None:
            signal.signal(signal.SIGPIPE, old)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_stderr_reader_left_closes_its_descriptor():
    from fastbp import cli

    r, w = os.pipe()
    os.close(r)
    err = cli._ReaderMayLeave(io.TextIOWrapper(io.FileIO(w, "w"), write_through=True))
    before = _open_fds()
    err.write("note\n")                     # BrokenPipeError -> /dev/null
    err.write("more\n")
    assert _open_fds() == before
    err.close()


@pytest.mark.skipif(not hasattr(os, "fchmod") or not os.path.isdir("/proc/self/fd"),
                    reason="needs os.fchmod and /proc/self/fd")
def test_failed_checkpoint_write_closes_its_temporary_file(tmp_path, monkeypatch):
    # setting the temporary file's mode ran before the file object took the
    # descriptor: an fchmod refused (EPERM, a file system without modes)
    # left it open, one per save attempt
    import errno

    def refuse(fd, mode):
        raise OSError(errno.EPERM, "Operation not permitted")

    net = fastbp.Network([3, 2, 1], seed=0)
    net.save(tmp_path / "warm.npz")
    monkeypatch.setattr(os, "fchmod", refuse)
    before = _open_fds()
    for _ in range(3):
        with pytest.raises(OSError, match="not permitted"):
            net.save(tmp_path / "m.npz")
    assert _open_fds() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["warm.npz"]   # no temporary left


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F", "strided"])
def test_finiteness_check_allocates_no_temporary_of_X(dtype, order):
    # np.all(np.isfinite(X)) made a boolean array of X's shape at every fit and
    # predict: a quarter of a float32 X on top of the call's own memory
    from fastbp import _validation

    rng = np.random.default_rng(0)
    X = np.array(rng.standard_normal((20, 2 * 25000)), dtype=dtype, order="F" if order == "F" else "C")
    if order == "strided":
        X = X[:, ::2]
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        _validation.check_finite(X, "X")
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    # np.isfinite's temporary is X.size bytes; NumPy < 2 reduces a strided
    # array through a fixed buffer of 8192 elements (64 KiB in float64,
    # seen with numpy 1.23.2, CI's oldest), which X.size // 4 leaves room for
    assert peak < X.size // 4, f"checking {X.size} values allocated {peak} bytes at once"


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_finiteness_check_still_finds_each_bad_value(dtype, bad):
    from fastbp import _validation

    big = np.finfo(dtype).max
    X = np.full((3, 40), big, dtype=dtype)          # a sum that overflows: finite values
    X[::2] = -big                                   # and one that cancels
    _validation.check_finite(X, "X")
    _validation.check_finite(np.full((3, 40), big, dtype=dtype)[:2], "X")
    X[1, 7] = bad
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        _validation.check_finite(X, "X")
    if dtype != np.float16:                         # (SciPy has no float16 matrices)
        with pytest.raises(ValueError, match="X contains NaN or inf"):
            _validation.check_finite(sp.csr_matrix(X), "X")


@pytest.mark.filterwarnings("ignore::UserWarning")     # ConvergenceWarning: 5 iterations
@pytest.mark.parametrize("sparse", [False, True])
def test_lbfgs_fit_does_not_keep_its_whole_batch_workspaces(sparse):
    # L-BFGS evaluates the whole data set in one call, whose workspaces (every
    # layer's Z and A, n_samples wide) the fitted estimator kept: 5.6 MB here
    # beside a 0.8 MB X (88 MB beside a 76 MB X on a larger fit)
    pytest.importorskip("sklearn")
    from fastbp.sklearn import MLPClassifier
    rows, y = _data(m=5000)
    if sparse:
        rows = sp.csr_matrix(rows * (rows > 1.0))
    clf = MLPClassifier((32, 32), solver="lbfgs", max_iter=5, random_state=0)
    clf.fit(rows[:50], y[:50])                       # imports and caches first
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        clf.fit(rows, y)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 500_000, f"the fitted estimator holds {held} more bytes"
    # it predicts, fits again and continues (warm start) as before
    proba = clf.predict_proba(rows[:7])
    assert proba.shape == (7, 3)
    clf.set_params(warm_start=True).fit(rows, y)
    assert clf.predict(rows).shape == (5000,)
