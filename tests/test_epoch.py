"""An epoch in one compiled call (Network.train_epoch, the default of fit)
against the per-batch loop it replaces, and against independent NumPy code.

The per-batch loop (``LocalStepper(per_batch=True)``: one ``train_batch``
call per mini-batch, batches gathered with ``np.take``) is the specification
of the epoch path: the two must give the same parameters, optimizer state,
counters and history bit for bit. The per-batch loop itself is checked
against fastbp.reference in test_network.py; an independent NumPy epoch
below checks the epoch path directly.
"""
import tracemalloc
import zlib

import numpy as np
import pytest

from fastbp import _fit, _testing
from fastbp.network import Network
from fastbp.optim import SGD, Adam

DTYPES = (np.float32, np.float64)
OPTIMIZERS = {
    "sgd": lambda: SGD(0.05),
    "momentum": lambda: SGD(0.05, momentum=0.9),
    "nesterov": lambda: SGD(0.05, momentum=0.9, nesterov=True),
    "adam": lambda: Adam(5e-3),
}
#: output -> (units, label form)
TARGETS = {
    "sigmoid": ("sigmoid", 2, "dense"),
    "softmax-labels": ("softmax", 4, "labels"),
    "softmax-onehot": ("softmax", 4, "onehot"),
    "identity": ("identity", 3, "dense"),
}


@pytest.fixture
def rng(request):
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def make_data(rng, n_x, m, target, dtype, layout):
    """(X, Y) with X (n_x, m) in ``layout``: "F", "C", or "rows" (the transpose
    of a C-order (m, n_x) array, as scikit-learn-style data is passed); a
    dense Y in the same layout."""
    output, n_out, form = TARGETS[target]
    X = rng.standard_normal((n_x, m))
    if form == "labels":
        Y = rng.integers(0, n_out, m)
    elif form == "onehot":
        Y = np.eye(n_out)[rng.integers(0, n_out, m)].T
    elif output == "sigmoid":
        Y = (rng.random((n_out, m)) > 0.5).astype(np.float64)
    else:
        Y = rng.standard_normal((n_out, m))

    def lay(a):
        a = a.astype(dtype) if a.dtype.kind == "f" else a
        if a.ndim == 1 or layout == "C":
            return np.ascontiguousarray(a)
        if layout == "F":
            return np.asfortranarray(a)
        return np.ascontiguousarray(a.T).T          # examples as rows, seen as (n, m)

    X, Y = lay(X), lay(Y)
    if layout == "rows":
        assert X.flags.f_contiguous and X.T.flags.c_contiguous
    return X, Y


def make_net(target, dtype, nt, *, dims=(6, 16, 12), dropout=True, lambd=0.05):
    output, n_out, _ = TARGETS[target]
    net = Network(list(dims) + [n_out], ["tanh", "relu"][:len(dims) - 1], output, dtype=dtype,
                  seed=3, keep_prob=[0.8, 0.9][:len(dims) - 1] if dropout else 1.0,
                  lambd=lambd, n_threads=nt)
    # a team of nt threads even on these small batches (otherwise one thread runs them),
    # whatever the team chooser would measure
    net._kernel.min_flops_per_thread = 1
    net._kernel.team_policy = nt
    return net


def fit_both(target, dtype, opt, X, Y, nt, *, batches_per_call=None, **fit_kw):
    """Fit two equal networks, per batch and per epoch; return both (net, optimizer, history)."""
    runs = []
    for per_batch in (True, False):
        net = make_net(target, dtype, nt)
        o = OPTIMIZERS[opt]()
        stepper = _fit.LocalStepper(net, per_batch=per_batch, batches_per_call=batches_per_call)
        kw = dict(epochs=3, batch_size=16, optimizer=o, shuffle=True, seed=5,
                  validation_data=None, verbose=False, callback=None, checkpoint_path=None,
                  checkpoint_every=1, resume=False,
                    sample_weight=None)
        kw.update(fit_kw)
        hist = _fit.fit(net, stepper, X, Y, **kw)
        runs.append((net, o, hist))
    return runs


def assert_same_training(runs, what):
    (a, oa, ha), (b, ob, hb) = runs
    assert np.array_equal(a.flat_parameters, b.flat_parameters), \
        f"{what}: parameters differ (max |diff| " \
        f"{np.max(np.abs(a.flat_parameters - b.flat_parameters)):.3g})"
    assert len(oa.state_arrays()) == len(ob.state_arrays())
    for sa, sb in zip(oa.state_arrays(), ob.state_arrays()):
        assert np.array_equal(sa, sb), f"{what}: optimizer state differs"
    assert (oa.t, a.step_count) == (ob.t, b.step_count), what
    assert ha.keys() == hb.keys(), what
    for k in ha:
        assert np.array_equal(np.array(ha[k], dtype=float), np.array(hb[k], dtype=float),
                              equal_nan=True), f"{what}: history[{k!r}] {ha[k]} != {hb[k]}"


@pytest.mark.parametrize("opt", list(OPTIMIZERS))
@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_epoch_equals_per_batch_loop_outputs_and_optimizers(rng, dtype, target, opt):
    # dropout and L2 on; 70 examples in batches of 16: the last batch is 6.
    # (Two threads for Adam here; the next test runs every case on 1 and 2.)
    X, Y = make_data(rng, 6, 70, target, dtype, "F")
    runs = fit_both(target, dtype, opt, X, Y, 2 if opt == "adam" else 1)
    assert_same_training(runs, f"{dtype.__name__} {target} {opt}")
    assert len(runs[1][2]["loss"]) == 3 and runs[1][1].t == 3 * 5


@pytest.mark.parametrize("nt", [1, 2])
@pytest.mark.parametrize("layout", ["F", "C", "rows"])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("m, batch", [(64, 16), (70, 16), (10, 16), (12, 1)],
                         ids=["divides", "remainder", "m<batch", "batch1"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_epoch_equals_per_batch_loop_layouts_batches_threads(rng, dtype, m, batch, shuffle,
                                                             layout, nt):
    target = "softmax-onehot" if layout != "F" else "softmax-labels"
    X, Y = make_data(rng, 6, m, target, dtype, layout)
    runs = fit_both(target, dtype, "adam", X, Y, nt, batch_size=batch, shuffle=shuffle,
                    epochs=2, validation_data=(X[:, :5], Y[..., :5]))
    assert_same_training(runs, f"m={m} batch={batch} shuffle={shuffle} {layout} nt={nt}")


@pytest.mark.parametrize("layout", ["F", "rows"])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("target, opt", [("softmax-labels", "adam"), ("sigmoid", "momentum"),
                                         ("identity", "nesterov"), ("softmax-onehot", "sgd")])
@pytest.mark.parametrize("dtype", DTYPES)
def test_epoch_equals_per_batch_loop_with_sample_weights(rng, dtype, target, opt, shuffle,
                                                         layout):
    # weights with zeros, and a first batch (unshuffled) whose weights all vanish:
    # that batch makes no update and adds 0 to the loss in both paths
    X, Y = make_data(rng, 6, 70, target, dtype, layout)
    sw = rng.random(70) * 3
    sw[rng.random(70) < 0.2] = 0.0
    sw[:16] = 0.0
    runs = fit_both(target, dtype, opt, X, Y, 2, sample_weight=sw, shuffle=shuffle)
    assert_same_training(runs, f"weighted {dtype.__name__} {target} {opt} {shuffle} {layout}")
    assert runs[1][1].t == (3 * 4 if not shuffle else runs[0][1].t)


@pytest.mark.parametrize("nt", [1, 2])
def test_epoch_with_shuffled_zero_weight_batches_equals_per_batch_loop(rng, nt):
    # most shuffled batches carry no weight: the epoch call skips them (no
    # gather, no step) between gathered ones, in calls of 3 batches; the
    # per-batch loop must see the same updates
    X, Y = make_data(rng, 6, 70, "softmax-labels", np.float64, "rows")
    sw = np.zeros(70)
    sw[rng.choice(70, 4, replace=False)] = rng.random(4) + 0.5
    runs = fit_both("softmax-labels", np.float64, "adam", X, Y, nt, sample_weight=sw,
                    shuffle=True, batches_per_call=3)
    assert_same_training(runs, f"mostly zero weights, nt={nt}")
    assert 0 < runs[1][1].t < 3 * 5


@pytest.mark.parametrize("per_call", [1, 2, 3, 100])
def test_epoch_in_several_calls_equals_one_call(rng, per_call):
    X, Y = make_data(rng, 6, 75, "sigmoid", np.float64, "rows")
    whole = fit_both("sigmoid", np.float64, "nesterov", X, Y, 1)
    parts = fit_both("sigmoid", np.float64, "nesterov", X, Y, 1, batches_per_call=per_call)
    assert_same_training([whole[1], parts[1]], f"batches_per_call={per_call}")
    assert_same_training([parts[0], parts[1]], f"batches_per_call={per_call} vs per batch")


def test_epoch_without_dropout_or_l2_and_with_small_labels(rng):
    # uint8 / int32 / bool label dtypes are gathered bit for bit too
    for y_dtype in (np.uint8, np.int32, np.int64):
        X, y = make_data(rng, 6, 50, "softmax-labels", np.float32, "C")
        y = y.astype(y_dtype)
        runs = []
        for per_batch in (True, False):
            net = make_net("softmax-labels", np.float32, 1, dropout=False, lambd=0.0)
            o = Adam(1e-2)
            net.fit(X, y, epochs=2, batch_size=7, optimizer=o, verbose=False, seed=0) \
                if not per_batch else _fit.fit(
                    net, _fit.LocalStepper(net, per_batch=True), X, y, epochs=2, batch_size=7,
                    optimizer=o, shuffle=True, seed=0, validation_data=None, verbose=False,
                    callback=None, checkpoint_path=None, checkpoint_every=1, resume=False,
                    sample_weight=None)
            runs.append((net, o, {}))
        assert_same_training(runs, str(y_dtype))
    X, Y = make_data(rng, 6, 40, "sigmoid", np.float64, "F")
    runs = fit_both("sigmoid", np.float64, "sgd", X, Y.astype(bool), 1)
    assert_same_training(runs, "bool targets")
    # targets and labels with negative and non-unit strides (views, not copied by check_Y)
    X, y = make_data(rng, 6, 90, "softmax-labels", np.float64, "C")
    for shuffle in (True, False):
        runs = fit_both("softmax-labels", np.float64, "adam", X[:, ::2], y[::-1][::2], 1,
                        shuffle=shuffle)
        assert_same_training(runs, f"strided labels, shuffle={shuffle}")
    X, Y = make_data(rng, 6, 90, "identity", np.float64, "C")
    runs = fit_both("identity", np.float64, "adam", X[:, :45], Y[::-1, ::-2], 1)
    assert_same_training(runs, "strided targets")


def _numpy_epoch(params, X, y, order, batch, lr):
    """One epoch of SGD on a relu -> softmax network, in plain NumPy (float64)."""
    W1, b1, W2, b2 = (params[k].astype(np.float64) for k in ("W1", "b1", "W2", "b2"))
    total = 0.0
    for j in range(0, len(order), batch):
        idx = order[j:j + batch]
        A0 = X[:, idx].astype(np.float64)
        Yb = np.eye(W2.shape[0])[y[idx]].T
        bm = A0.shape[1]
        Z1 = W1 @ A0 + b1
        A1 = np.maximum(Z1, 0)
        Z2 = W2 @ A1 + b2
        E = np.exp(Z2 - Z2.max(axis=0))
        A2 = E / E.sum(axis=0)
        total += -np.sum(Yb * np.log(A2))
        dZ2 = A2 - Yb
        dW2, db2 = dZ2 @ A1.T / bm, dZ2.sum(axis=1, keepdims=True) / bm
        dZ1 = (W2.T @ dZ2) * (Z1 > 0)
        dW1, db1 = dZ1 @ A0.T / bm, dZ1.sum(axis=1, keepdims=True) / bm
        W1, b1, W2, b2 = W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, total


@pytest.mark.parametrize("layout", ["F", "C", "rows"])
def test_train_epoch_matches_numpy(rng, layout):
    X, y = make_data(rng, 5, 53, "softmax-labels", np.float64, layout)
    net = Network([5, 11, 4], "relu", "softmax", dtype=np.float64, seed=1, n_threads=2)
    net._kernel.min_flops_per_thread = 1
    net._kernel.team_policy = 2
    p0 = {k: v.copy() for k, v in net.parameters.items()}
    order = rng.permutation(53)[:50]            # an order need not cover every column
    opt = SGD(0.3)
    Xc, (Yc, yt, labels) = net.check_X(X), net.check_Y(y, 53)
    total, done = net.train_epoch(Xc, Yc, yt, labels, opt, order, 8)
    want, want_total = _numpy_epoch(p0, X, y, order, 8, 0.3)
    assert done == 7 and opt.t == 7 and net.step_count == 7
    for k, w in want.items():
        np.testing.assert_allclose(net.parameters[k], w, rtol=1e-11, atol=1e-13, err_msg=k)
    assert total == pytest.approx(want_total, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_mean_over_outputs_total_is_the_loops_sum_of_scaled_data_terms(rng, dtype, weighted):
    """scikit-learn's multi-output squared error (its data term averaged over
    the outputs) with an L2 term: the epoch's total is the per-batch loop's
    sum of (data / n_L + l2) * width, bit for bit, and the updates are the
    same as without the option (only the reported total changes)."""
    X, Y = make_data(rng, 5, 45, "identity", dtype, "rows")
    sw = rng.random(45) + 0.5 if weighted else None
    order = rng.permutation(45)
    nets = [Network([5, 9, 3], "tanh", "identity", dtype=dtype, seed=3, lambd=0.7)
            for _ in range(3)]
    totals = []
    for net, mean in zip(nets[:2], (True, False)):
        Xc, (Yc, yt, labels) = net.check_X(X), net.check_Y(Y, 45)
        w = None if sw is None else net.check_sample_weight(sw, 45)
        total, done = net.train_epoch(Xc, Yc, yt, labels, Adam(0.01), order, 8,
                                      sample_weight=w, mean_over_outputs=mean)
        assert done == 6
        totals.append(total)
    want, loop = 0.0, nets[2]
    opt = Adam(0.01)
    for start in range(0, 45, 8):
        idx = order[start:start + 8]
        loop.train_step(X[:, idx], Y[:, idx], opt,
                        sample_weight=None if sw is None else sw[idx])
        data, l2 = loop.last_loss_terms
        assert l2 > 0
        want += (data / 3 + l2) * idx.shape[0]
    assert totals[0] == want
    assert totals[1] > totals[0]
    for a in nets[1:]:
        assert np.array_equal(a.flat_parameters, nets[0].flat_parameters)


def test_mean_over_outputs_leaves_no_trace_in_later_epochs(rng):
    X, Y = make_data(rng, 4, 20, "identity", np.float64, "F")
    a = Network([4, 6, 3], "relu", "identity", dtype=np.float64, seed=0)
    b = Network([4, 6, 3], "relu", "identity", dtype=np.float64, seed=0)
    Xc, (Yc, yt, labels) = a.check_X(X), a.check_Y(Y, 20)
    a.train_epoch(Xc, Yc, yt, labels, SGD(0.1), None, 5, mean_over_outputs=True)
    b.train_epoch(Xc, Yc, yt, labels, SGD(0.1), None, 5)
    assert a.train_epoch(Xc, Yc, yt, labels, a.optimizer, None, 5) == \
        b.train_epoch(Xc, Yc, yt, labels, b.optimizer, None, 5)


def test_divergence_stops_at_the_failing_batch_as_the_loop_does(rng):
    X = rng.standard_normal((2, 64)) * 50
    Y = rng.standard_normal((1, 64)) * 1e6
    errors, nets = [], []
    for per_batch in (True, False):
        net = Network([2, 16, 1], "relu", "identity", dtype=np.float64, seed=0)
        o = SGD(5.0)
        with pytest.raises(FloatingPointError, match=r"epoch \d+, step \d+") as info:
            _fit.fit(net, _fit.LocalStepper(net, per_batch=per_batch), X, Y, epochs=200,
                     batch_size=16, optimizer=o, shuffle=False, seed=0, validation_data=None,
                     verbose=False, callback=None, checkpoint_path=None, checkpoint_every=1,
                     resume=False, sample_weight=None)
        errors.append(str(info.value))
        nets.append((net, o))
    assert errors[0] == errors[1]
    assert "restored to those at the start of epoch" in errors[1]
    (a, oa), (b, ob) = nets
    assert np.array_equal(a.flat_parameters, b.flat_parameters)
    assert np.all(np.isfinite(b.flat_parameters))
    assert (oa.t, a.step_count) == (ob.t, b.step_count)
    # Network.train_epoch names the batch (from 0) that stopped it
    net = Network([2, 16, 1], "relu", "identity", dtype=np.float64, seed=0)
    Xn = X.copy()
    Xn[:, 40] = np.nan                              # batch 2 of 16
    before = net.flat_parameters.copy()
    with pytest.raises(FloatingPointError, match="update was skipped") as info:
        net.train_epoch(Xn, Y, *net.check_Y(Y, 64)[1:], SGD(1e-9), None, 16)
    assert info.value.batch_index == 2 and net.step_count == 2
    assert not np.array_equal(net.flat_parameters, before)   # batches 0 and 1 updated


def test_adam_corrections_are_pythons_doubles():
    """The compiled per-step bias corrections equal Optimizer.kernel_args(t) bit for bit."""
    t = np.concatenate([np.arange(1, 20001), [65535, 10**6, 2**31 - 1, 2**40]]).astype(np.int64)
    for b1, b2 in [(0.9, 0.999), (0.5, 0.9999), (0.0, 0.3), (0.123456789, 0.987654321),
                   (0.99, 0.95)]:
        c1, c2 = _testing.adam_corrections(b1, b2, t)
        opt = Adam(beta1=b1, beta2=b2)
        want = np.array([opt.kernel_args(int(k))[5:7] for k in t])
        assert np.array_equal(c1, want[:, 0]), (b1, t[np.flatnonzero(c1 != want[:, 0])[:5]])
        assert np.array_equal(c2, want[:, 1]), (b2, t[np.flatnonzero(c2 != want[:, 1])[:5]])


@pytest.mark.parametrize("layout", ["F", "C", "rows"])
@pytest.mark.parametrize("shuffle", [True, False])
def test_epoch_allocates_nothing_per_step(rng, layout, shuffle):
    """After the first epoch, an epoch allocates no NumPy buffer (the data is
    not copied, in any layout: examples-as-rows X is gathered row by row)
    and a bounded amount of Python memory whatever its number of batches."""
    net = Network([30, 64, 32, 4], "relu", "softmax", dtype=np.float32, seed=0,
                  keep_prob=[1.0, 0.9], lambd=0.01, n_threads=2)
    X, Y = make_data(rng, 30, 1000, "softmax-onehot", np.float32, layout)
    order = rng.permutation(1000) if shuffle else None
    opt = Adam(1e-3)
    args = (net.check_X(X),) + net.check_Y(Y, 1000)
    assert args[0] is X                             # check_X made no copy either
    net.train_epoch(*args, opt, order, 8)           # sizes the workspaces
    domain = np.lib.tracemalloc_domain
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        base_cur, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        _, done = net.train_epoch(*args, opt, order, 8)     # 125 steps
        _, peak = tracemalloc.get_traced_memory()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    assert done == 125
    numpy_data = [s for s in after.filter_traces([tracemalloc.DomainFilter(True, domain)])
                  .compare_to(before.filter_traces([tracemalloc.DomainFilter(True, domain)]),
                              "lineno") if s.size_diff or s.count_diff]
    assert not numpy_data, f"NumPy buffers allocated during an epoch: {numpy_data[:3]}"
    assert peak - base_cur < 2048, f"an epoch of 125 steps allocated {peak - base_cur} bytes"


def test_train_epoch_argument_errors(rng):
    net = Network([3, 4, 2], "relu", "softmax", dtype=np.float64, seed=0)
    X, y = rng.standard_normal((3, 10)), rng.integers(0, 2, 10)
    args = (X,) + net.check_Y(y, 10)
    with pytest.raises(ValueError, match=r"in 0\.\.9"):
        net.train_epoch(*args, SGD(0.1), np.array([0, 10]), 4)
    with pytest.raises(ValueError, match=r"in 0\.\.9"):
        net.train_epoch(*args, SGD(0.1), np.array([-1, 3]), 4)
    with pytest.raises(TypeError, match="integer column indices"):
        net.train_epoch(*args, SGD(0.1), np.array([0.0, 1.0]), 4)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        net.train_epoch(*args, SGD(0.1), None, 0)
    with pytest.raises(ValueError, match=r"start_batch must be an int in 0\.\.3"):
        net.train_epoch(*args, SGD(0.1), None, 4, start_batch=4)
    with pytest.raises(ValueError, match="n_batches must be an int >= 0"):
        net.train_epoch(*args, SGD(0.1), None, 4, n_batches=-1)
    with pytest.raises(ValueError, match="batches_per_call must be a positive int"):
        _fit.LocalStepper(net, batches_per_call=0)
    p0 = net.flat_parameters.copy()
    assert net.train_epoch(*args, SGD(0.1), None, 4, start_batch=3) == (0.0, 0)
    assert net.train_epoch(*args, SGD(0.1), None, 4, n_batches=0, loss_total=2.5) == (2.5, 0)
    np.testing.assert_array_equal(net.flat_parameters, p0)
    # labels out of range stop before any update of that batch
    bad = y.copy()
    bad[5] = 7
    with pytest.raises(ValueError, match=r"in 0\.\.1"):
        net.train_epoch(X, *net.check_Y(bad, 10), SGD(0.1), None, 4)
    assert net.step_count == 1                      # batch 0 ran, batch 1 held the bad label


def test_train_epoch_batch_larger_than_the_epoch_is_the_whole_epoch(rng):
    # batch_size=2**70 raised a raw OverflowError (the kernel takes a C ssize_t);
    # fit already took min(batch_size, m)
    X, y = rng.standard_normal((3, 10)), rng.integers(0, 2, 10)
    nets = [Network([3, 4, 2], "relu", "softmax", dtype=np.float64, seed=0) for _ in range(2)]
    opts = [SGD(0.1), SGD(0.1)]
    got = [net.train_epoch(X, *net.check_Y(y, 10), opt, None, bs)
           for net, opt, bs in zip(nets, opts, (2**70, 10))]
    assert got[0] == got[1] and got[0][1] == 1
    np.testing.assert_array_equal(nets[0].flat_parameters, nets[1].flat_parameters)


def test_share_gradient_refuses_a_share_outside_its_batch(rng):
    # M = 0 gave a bare ZeroDivisionError; offset past M returned a loss
    net = Network([3, 4, 2], "relu", "softmax", dtype=np.float64, seed=0)
    X, y = rng.standard_normal((3, 4)), rng.integers(0, 2, 4)
    Yc = net.check_Y(y, 4)
    net.bind_optimizer(SGD(0.1))
    for M, off, exc in ((0, 0, ValueError), (10, 100, ValueError), (4, 1, ValueError),
                        (10, -1, ValueError), (10.0, 0, TypeError), (10, True, TypeError)):
        with pytest.raises(exc, match="M|offset"):
            net.share_gradient(X, *Yc, M, off, 1)
    whole = net.share_gradient(X, *Yc, 4, 0, 1)
    halves = (net.share_gradient(X[:, :2], *net.check_Y(y[:2], 2), 4, 0, 1)
              + net.share_gradient(X[:, 2:], *net.check_Y(y[2:], 2), 4, 2, 1))
    assert halves == pytest.approx(whole, rel=1e-12)


def test_fit_uses_the_epoch_call_and_the_replica_steps_per_batch(rng, monkeypatch):
    from fastbp import distributed
    assert getattr(distributed.Replica, "epoch", None) is None
    net = Network([3, 5, 2], "relu", "softmax", seed=0)
    X, y = rng.standard_normal((3, 40)).astype(np.float32), rng.integers(0, 2, 40)
    calls = {"epoch": 0, "batch": 0}
    for name in ("train_epoch", "train_batch"):
        orig = getattr(net, name)

        def counted(*a, _orig=orig, _key=name[6:], **k):
            calls[_key] += 1
            return _orig(*a, **k)
        monkeypatch.setattr(net, name, counted)
    net.fit(X, y, epochs=3, batch_size=8, verbose=False)
    # a first call of a few batches times the pace; then whole epochs (these are fast)
    assert calls["batch"] == 0 and 3 <= calls["epoch"] <= 4, calls


def test_adaptive_calls_follow_the_pace_and_keep_the_results(rng, monkeypatch):
    """batches_per_call=None: a first call of a few batches, then calls sized to
    take call_seconds at the measured pace; the cut never changes the bits."""
    X, Y = make_data(rng, 6, 200, "softmax-labels", np.float64, "rows")
    clock = {"t": 0.0}
    monkeypatch.setattr(_fit.time, "perf_counter", lambda: clock["t"])
    sizes = []
    net = make_net("softmax-labels", np.float64, 1)
    orig = net.train_epoch

    def timed(*a, **k):
        sizes.append(a[8])                        # n_batches asked for
        out = orig(*a, **k)
        clock["t"] += 0.05 * out[1]               # 50 ms per batch
        return out
    monkeypatch.setattr(net, "train_epoch", timed)
    o = Adam(5e-3)
    hist = _fit.fit(net, _fit.LocalStepper(net), X, Y, epochs=2, batch_size=16, optimizer=o,
                    shuffle=True, seed=5, validation_data=None, verbose=False, callback=None,
                    checkpoint_path=None, checkpoint_every=1, resume=False,
                    sample_weight=None)
    # 13 batches per epoch: 4, then 0.2 s / 0.05 s = 4 per call, the last
    # call asking for the one batch left
    assert sizes == [4, 4, 4, 1, 4, 4, 4, 1], sizes
    ref = make_net("softmax-labels", np.float64, 1)
    ro = Adam(5e-3)
    rh = _fit.fit(ref, _fit.LocalStepper(ref, per_batch=True), X, Y, epochs=2, batch_size=16,
                  optimizer=ro, shuffle=True, seed=5, validation_data=None, verbose=False,
                  callback=None, checkpoint_path=None, checkpoint_every=1, resume=False,
                    sample_weight=None)
    assert_same_training([(ref, ro, rh), (net, o, hist)], "adaptive calls")
