"""fastbp.network.Network against fastbp.reference and independent NumPy code."""
import os
import tracemalloc
import zlib

import re

import numpy as np
import pytest

from fastbp import reference as ref
from fastbp.network import Network
from fastbp.optim import SGD, Adam

ARCHS = [
    # (layer_dims, hidden, output)
    ([5, 7, 3], "relu", "softmax"),
    ([4, 9, 6, 1], ["tanh", "gelu"], "sigmoid"),
    ([3, 17, 2], "silu", "identity"),
    ([6, 8, 8, 8, 4], ["leaky_relu", "elu", "sigmoid"], "softmax"),
    ([2, 5, 3], "softplus", "sigmoid"),
    ([7, 16, 16, 2], ["gelu_tanh", "identity"], "identity"),
]
RTOL = {np.dtype(np.float32): 2e-4, np.dtype(np.float64): 1e-10}


@pytest.fixture
def rng(request):
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def _out_act(net):
    return "sigmoid" if net.output == "sigmoid" else "identity"


def make_data(rng, dims, output, m, dtype=np.float64):
    X = rng.standard_normal((dims[0], m)).astype(dtype)
    if output == "softmax":
        y = rng.integers(0, dims[-1], m)
        return X, y
    if output == "sigmoid":
        return X, (rng.random((dims[-1], m)) > 0.5).astype(dtype)
    return X, rng.standard_normal((dims[-1], m)).astype(dtype)


def dense_y(net, Y, m):
    Y = np.asarray(Y)
    if net.output == "softmax" and (Y.ndim == 1 or Y.shape[0] == 1):
        D = np.zeros((net.layer_dims[-1], m))
        D[Y.reshape(-1), np.arange(m)] = 1
        return D
    return Y.astype(np.float64).reshape(net.layer_dims[-1], m)


def dropout_mask(seed, step, layer, shape, keep_prob):
    """Independent NumPy version of the documented counter-based dropout hash."""
    G, M1, M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), \
        np.uint64(0x94D049BB133111EB)

    def fin(z):
        z = (z ^ (z >> np.uint64(30))) * M1
        z = (z ^ (z >> np.uint64(27))) * M2
        return z ^ (z >> np.uint64(31))

    with np.errstate(over="ignore"):
        one = np.ones(1, dtype=np.uint64)
        key = fin(fin(fin(np.uint64(seed) * one + G) + np.uint64(step) * G)
                  + np.uint64(layer + 1) * G)
        idx = np.arange(shape[0] * shape[1], dtype=np.uint64)
        bits = fin(key + (idx + np.uint64(1)) * G) >> np.uint64(40)
    thr = np.uint64(int(keep_prob * 16777216.0 + 0.5))
    return (bits < thr).reshape(shape)


def reference_step(net, params, X, Y, masks=None):
    """(loss, grads) of the network's cost in float64 with fastbp.reference kernels."""
    P = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    L = net.n_layers
    m = X.shape[1]
    A = np.asarray(X, dtype=np.float64)
    caches = [(None, A, A)]          # (Z, A pre-dropout, A after dropout)
    for l in range(1, L + 1):
        act = net.hidden[l - 1] if l < L else _out_act(net)
        Z, A = ref.dense_forward(caches[-1][2], P[f"W{l}"], P[f"b{l}"], act, alpha=net.alpha)
        if l == L and net.output == "softmax":
            A = ref.softmax(Z)
        Ad = A
        if masks is not None and l < L and net.keep_prob[l - 1] < 1:
            Ad = A * masks[l - 1] / net.keep_prob[l - 1]
        caches.append((Z, A, Ad))
    AL = caches[-1][1]
    Yd = dense_y(net, Y, m)
    loss = ref.loss(AL, Yd, net.loss_name)
    if net.lambd:
        loss += net.lambd / (2 * m) * sum(np.sum(P[f"W{l}"] ** 2) for l in range(1, L + 1))
    dZ = ref.output_delta(AL, Yd, net.loss_name)
    grads = {}
    for l in range(L, 0, -1):
        Zp, Ap, Adp = caches[l - 1]
        dA, grads[f"dW{l}"], grads[f"db{l}"] = ref.dense_backward(
            dZ, Adp, P[f"W{l}"], None, lambd=net.lambd)
        if l > 1:
            if masks is not None and net.keep_prob[l - 2] < 1:
                dA = dA * masks[l - 2] / net.keep_prob[l - 2]
            act = net.hidden[l - 2]
            v = Zp if act in ref.DERIVATIVE_FROM_Z else Ap
            dZ = dA * ref.activation_derivative(v, act, net.alpha)
    return loss, grads


def assert_grads(got, want, dtype, what):
    rtol = RTOL[np.dtype(dtype)]
    for k, w in want.items():
        g = np.asarray(got[k], dtype=np.float64)
        scale = max(np.max(np.abs(w)), 1e-30)
        err = np.max(np.abs(g - w)) / scale
        assert err <= rtol, f"{what}: {k} relative error {err:.3g} > {rtol}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dims,hidden,output", ARCHS)
def test_gradients_match_reference(rng, dims, hidden, output, dtype):
    net = Network(dims, hidden, output, dtype=dtype, seed=3)
    m = 37
    X, Y = make_data(rng, dims, output, m, dtype)
    params = {k: v.copy() for k, v in net.parameters.items()}
    loss_ref, g_ref = reference_step(net, params, X, Y)
    what = f"{dims} {hidden} {output} {np.dtype(dtype).name}"

    AL = net.forward(X)
    assert AL.shape == (dims[-1], m) and AL.dtype == np.dtype(dtype)
    grads = net.backward(Y)
    assert_grads(grads, g_ref, dtype, what + " backward")

    net.flat_grads[...] = np.nan
    lr = 0.05
    loss = net.train_step(X, Y, SGD(lr))
    assert loss == pytest.approx(loss_ref, rel=RTOL[np.dtype(dtype)] * 10), what
    assert_grads(net.grads, g_ref, dtype, what + " train_step")
    for k, p in params.items():
        expected = p.astype(np.float64) - lr * g_ref["d" + k]
        np.testing.assert_allclose(net.parameters[k], expected, rtol=RTOL[np.dtype(dtype)],
                                   atol=RTOL[np.dtype(dtype)] * np.max(np.abs(expected)),
                                   err_msg=what + " update " + k)


def test_label_formats_and_layouts_agree(rng):
    dims = [6, 10, 4]
    net = Network(dims, "relu", "softmax", dtype=np.float64, seed=0)
    m = 50
    base = rng.standard_normal((m, dims[0]))           # rows = examples
    y = rng.integers(0, 4, m)
    onehot = dense_y(net, y, m)
    wide = np.zeros((dims[0], 2 * m))
    wide[:, 10:10 + m] = base.T
    results = []
    for X in (np.ascontiguousarray(base.T), base.T, wide[:, 10:10 + m]):
        for Y in (y, y.reshape(1, m), y.astype(np.int32), y.astype(np.uint8), onehot,
                  onehot.astype(np.float32), np.asfortranarray(onehot)):
            net.forward(X)
            results.append(np.concatenate([g.ravel() for g in net.backward(Y).values()]))
    for r in results[1:]:
        np.testing.assert_allclose(r, results[0], rtol=1e-12, atol=1e-15)


def test_sigmoid_accepts_bool_and_vector_labels(rng):
    net = Network([3, 5, 1], "tanh", "sigmoid", dtype=np.float64, seed=1)
    X = rng.standard_normal((3, 20))
    y = rng.random(20) > 0.5
    out = []
    for Y in (y, y.reshape(1, 20), y.astype(np.float64), y.astype(np.uint8)):
        net.forward(X)
        out.append(net.flat_grads.copy() if net.backward(Y) else None)
    for o in out[1:]:
        np.testing.assert_array_equal(o, out[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_l2_regularisation(rng, dtype):
    net = Network([5, 12, 6, 3], "relu", "softmax", dtype=dtype, seed=5, lambd=0.7)
    X, Y = make_data(rng, net.layer_dims, "softmax", 40, dtype)
    params = {k: v.copy() for k, v in net.parameters.items()}
    loss_ref, g_ref = reference_step(net, params, X, Y)
    loss = net.train_step(X, Y, SGD(0.1))
    assert loss == pytest.approx(loss_ref, rel=RTOL[np.dtype(dtype)] * 10)
    assert_grads(net.grads, g_ref, dtype, "L2")


@pytest.mark.parametrize("m", [1, 7])
def test_fit_trains_a_last_batch_of_one_example(rng, m):
    """m = 2 batch_size + 1, and m = 1: the epoch's last mini-batch holds a
    single example. Dropping it (batches cut over range(0, m - 1, bs), an
    off-by-one no other test saw: their m were never 1 more than a multiple
    of batch_size) left that example untrained. Expected: plain SGD on the
    reference's gradients, batch after batch, in NumPy."""
    net = Network([3, 5, 2], "tanh", "softmax", dtype=np.float64, seed=1)
    X, Y = make_data(rng, net.layer_dims, "softmax", m)
    params = {k: v.astype(np.float64) for k, v in net.parameters.items()}
    lr, bs = 0.5, 3
    total = 0.0
    for j in range(0, m, bs):
        loss, g = reference_step(net, params, X[:, j:j + bs], Y[j:j + bs])
        total += loss * X[:, j:j + bs].shape[1]
        for l in (1, 2):
            params[f"W{l}"] = params[f"W{l}"] - lr * g[f"dW{l}"]
            params[f"b{l}"] = params[f"b{l}"] - lr * g[f"db{l}"]
    hist = net.fit(X, Y, epochs=1, batch_size=bs, optimizer=SGD(lr), shuffle=False,
                   verbose=False)
    for k, want in params.items():
        np.testing.assert_allclose(net.parameters[k], want, rtol=1e-10, atol=1e-12, err_msg=k)
    assert hist["loss"][0] == pytest.approx(total / m, rel=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_evaluate_class_labels_beyond_one_chunk_of_columns(rng, dtype):
    """evaluate's cross-entropy from class indices sums its columns in chunks
    of 64 (fastbp._loss.loss_logits): m = 150 spans three, so a logit read
    at the column's offset within its chunk instead of its index is wrong
    from column 64 on (every other evaluate test with labels had m <= 64)."""
    net = Network([4, 6, 3], "relu", "softmax", dtype=dtype, seed=3)
    X, y = make_data(rng, net.layer_dims, "softmax", 150, dtype)
    params = {k: v.copy() for k, v in net.parameters.items()}
    loss_ref, _ = reference_step(net, params, X, y)
    loss, _ = net.evaluate(X, y)
    assert loss == pytest.approx(loss_ref, rel=RTOL[np.dtype(dtype)] * 10)
    # the columns from 64 on alone
    loss_ref2, _ = reference_step(net, params, X[:, 64:], y[64:])
    loss2, _ = net.evaluate(X[:, 64:], y[64:])
    assert loss2 == pytest.approx(loss_ref2, rel=RTOL[np.dtype(dtype)] * 10)


def test_dropout_masks_and_gradients(rng):
    kp = (0.8, 0.6)
    net = Network([6, 40, 30, 2], ["relu", "tanh"], "softmax", dtype=np.float64, seed=11,
                  keep_prob=kp)
    m = 64
    X, Y = make_data(rng, net.layer_dims, "softmax", m)
    params = {k: v.copy() for k, v in net.parameters.items()}
    step = net._step + 1
    masks = [dropout_mask(11, step, l, (net.layer_dims[l + 1], m), kp[l]) for l in range(2)]
    for l, mk in enumerate(masks):
        assert abs(mk.mean() - kp[l]) < 0.05, "mask keep rate far from keep_prob"
    loss_ref, g_ref = reference_step(net, params, X, Y, masks)
    loss = net.train_step(X, Y, SGD(0.1))
    assert loss == pytest.approx(loss_ref, rel=1e-10)
    assert_grads(net.grads, g_ref, np.float64, "dropout")
    # the next step draws fresh masks; inference uses none
    masks2 = [dropout_mask(11, step + 1, l, (net.layer_dims[l + 1], m), kp[l]) for l in range(2)]
    assert not np.array_equal(masks[0], masks2[0])
    AL = net.predict_proba(X)
    params = {k: v.copy() for k, v in net.parameters.items()}
    P = {k: v for k, v in params.items()}
    A = X
    for l in (1, 2):
        _, A = ref.dense_forward(A, P[f"W{l}"], P[f"b{l}"], net.hidden[l - 1])
    np.testing.assert_allclose(AL, ref.softmax(P["W3"] @ A + P["b3"]), rtol=1e-12)


@pytest.mark.parametrize("opt", [lambda: SGD(0.05, momentum=0.9), lambda: Adam(1e-2)])
def test_thread_count_does_not_change_results(rng, opt):
    dims = [64, 96, 48, 5]
    m = 300           # large enough that the step runs on a team of 2
    X, Y = make_data(rng, dims, "softmax", m, np.float32)
    runs = []
    for nt in (1, 2):
        net = Network(dims, "relu", "softmax", seed=4, keep_prob=[0.9, 0.8], lambd=0.1,
                      n_threads=nt)
        o = opt()
        losses = [net.train_step(X, Y, o) for _ in range(5)]
        runs.append((np.array(losses), net.flat_parameters.copy()))
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-6)
    np.testing.assert_allclose(runs[1][1], runs[0][1], rtol=1e-5, atol=1e-6)


def test_no_allocation_per_step_after_warmup(rng):
    net = Network([30, 64, 32, 4], "relu", "softmax", seed=0, keep_prob=[1.0, 0.9], lambd=0.01)
    X, Y = make_data(rng, net.layer_dims, "softmax", 128, np.float32)
    opt = Adam(1e-3)
    Xb, Yb = X[:, :64], Y[:64]
    for _ in range(3):
        net.train_step(Xb, Yb, opt)
        net.train_step(X[:, 64:100], Y[64:100], opt)     # a smaller batch reuses the workspace
    domain = np.lib.tracemalloc_domain
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        base_cur, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(50):
            net.train_step(Xb, Yb, opt)
        cur, peak = tracemalloc.get_traced_memory()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    numpy_data = [s for s in after.filter_traces([tracemalloc.DomainFilter(True, domain)])
                  .compare_to(before.filter_traces([tracemalloc.DomainFilter(True, domain)]),
                              "lineno") if s.size_diff or s.count_diff]
    assert not numpy_data, f"NumPy buffers allocated during training steps: {numpy_data[:3]}"
    assert peak - base_cur < 4096, f"steps allocated {peak - base_cur} bytes at peak"
    assert cur - base_cur < 1024


def test_fit_planar_reaches_88_percent():
    from fastbp.datasets import load_planar_dataset
    X, Y = load_planar_dataset()
    net = Network([2, 4, 1], "tanh", "sigmoid", init="course", seed=2)
    hist = net.fit(X, Y, epochs=3000, batch_size=400, optimizer=SGD(1.2), verbose=False)
    loss, acc = net.evaluate(X, Y)
    assert acc >= 0.88, f"training accuracy {acc:.3f} < 0.88"
    assert hist["loss"][-1] < hist["loss"][0]
    assert len(hist["loss"]) == 3000
    assert np.mean(net.predict(X) == Y) == pytest.approx(acc)


def test_fit_minibatch_validation_and_callback(rng):
    net = Network([4, 16, 3], "relu", "softmax", seed=0)
    X = rng.standard_normal((4, 300)).astype(np.float32)
    y = (X[0] > 0).astype(int) + (X[1] > 0.5)
    seen = []

    def cb(n, epoch, logs):
        seen.append((epoch, logs["loss"]))
        return epoch == 4

    hist = net.fit(X, y, epochs=10, batch_size=32, optimizer=Adam(0.01),
                   validation_data=(X[:, :50], y[:50]), verbose=False, callback=cb)
    assert [e for e, _ in seen] == [1, 2, 3, 4]
    assert len(hist["loss"]) == 4 and len(hist["val_accuracy"]) == 4
    assert hist["val_accuracy"][-1] > 0.6


def test_fit_callback_return_values(rng, tmp_path):
    net = Network([4, 8, 3], "relu", "softmax", seed=0)
    X = rng.standard_normal((4, 60))
    y = rng.integers(0, 3, 60)
    # np.True_ stops as True does; None and False go on
    for ret, epochs_run in ((np.True_, 1), (None, 3), (False, 3), (np.False_, 3)):
        hist = net.fit(X, y, epochs=3, batch_size=20, verbose=False,
                       callback=lambda n, e, logs, r=ret: r)
        assert len(hist["loss"]) == epochs_run, ret
    # save() returns its path: that silently stopped training after one epoch
    with pytest.raises(TypeError, match=r"callback returned str .*return True to stop "
                       r"training, or None / False to go on"):
        net.fit(X, y, epochs=3, batch_size=20, verbose=False,
                callback=lambda n, e, logs: n.save(tmp_path / f"snap{e}.npz"))
    with pytest.raises(TypeError, match="callback returned int 1"):
        net.fit(X, y, epochs=3, batch_size=20, verbose=False, callback=lambda n, e, logs: 1)


@pytest.mark.parametrize("swap", ["assign", "train_step"])
def test_a_callback_that_replaces_the_optimizer_is_an_error(rng, swap):
    # fit went on with the optimizer it started with and rebound it at its
    # next step: net.optimizer = Adam(...) in a callback was silently undone
    net = Network([4, 8, 3], "relu", "softmax", seed=0)
    X = rng.standard_normal((4, 60))
    y = rng.integers(0, 3, 60)
    sgd = SGD(0.01)

    def callback(n, epoch, logs):
        if swap == "assign":
            n.optimizer = Adam(0.01)
        else:
            n.train_step(X, y, optimizer=Adam(0.01))

    with pytest.raises(RuntimeError, match=r"callback replaced net.optimizer \(SGD\(lr=0.01"
                                           r".* by Adam\(.*set the optimizer's lr"):
        net.fit(X, y, epochs=3, batch_size=20, optimizer=sgd, verbose=False,
                callback=callback)
    # changing the rate is the supported edit
    hist = net.fit(X, y, epochs=3, batch_size=20, optimizer=sgd, verbose=False,
                   callback=lambda n, e, logs: setattr(n.optimizer, "lr", 0.02 * e))
    assert hist["lr"] == [0.01, 0.02, 0.04]


def test_predict_does_not_disturb_pending_backward(rng):
    net = Network([3, 8, 2], "relu", "softmax", dtype=np.float64, seed=0)
    X, Y = make_data(rng, net.layer_dims, "softmax", 30)
    net.forward(X)
    net.predict_proba(rng.standard_normal((3, 5000)))
    g1 = {k: v.copy() for k, v in net.backward(Y).items()}
    _, g_ref = reference_step(net, net.parameters, X, Y)
    assert_grads(g1, g_ref, np.float64, "backward after predict")


@pytest.mark.parametrize("other", ["loss_and_gradient", "train_step", "fit", "evaluate",
                                   "apply_update"])
def test_backward_refuses_a_forward_that_a_training_call_replaced(rng, other):
    # backward() after forward(X) then a training call returned the gradient of
    # the training call's data (or old activations with updated weights),
    # silently; evaluate, like predict_proba, leaves the pending forward alone
    net = Network([3, 8, 2], "relu", "softmax", dtype=np.float64, seed=0)
    X, Y = make_data(rng, net.layer_dims, "softmax", 30)
    X2, Y2 = make_data(rng, net.layer_dims, "softmax", 25)
    net.forward(X)
    if other == "loss_and_gradient":
        net.loss_and_gradient(X2, Y2)
    elif other == "train_step":
        net.train_step(X2, Y2, SGD(0.1))
    elif other == "fit":
        net.fit(X2, Y2, epochs=1, batch_size=5, verbose=False)
    elif other == "apply_update":
        net.backward(Y)
        net.apply_update(SGD(1.0))      # old activations with the new W2: mixed
    else:
        net.evaluate(X2, Y2)
    if other == "evaluate":
        g1 = {k: v.copy() for k, v in net.backward(Y).items()}
        _, g_ref = reference_step(net, net.parameters, X, Y)
        assert_grads(g1, g_ref, np.float64, "backward after evaluate")
        return
    with pytest.raises(RuntimeError, match=r"forward\(X\)"):
        net.backward(Y)
    net.forward(X)              # a new forward makes backward valid again
    g1 = {k: v.copy() for k, v in net.backward(Y).items()}
    _, g_ref = reference_step(net, net.parameters, X, Y)
    assert_grads(g1, g_ref, np.float64, f"backward after {other} and a new forward")


def test_predict_proba_matches_forward_for_large_inputs(rng):
    net = Network([5, 9, 3], "tanh", "softmax", dtype=np.float64, seed=0)
    X = rng.standard_normal((5, 4500))
    np.testing.assert_allclose(net.predict_proba(X), net.forward(X), rtol=1e-13)
    np.testing.assert_allclose(net.predict_proba(X).sum(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(net.predict(X), np.argmax(net.forward(X), axis=0))


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-6), (np.float64, 1e-13)])
def test_predict_proba_n_threads_is_this_calls_count(rng, dtype, rtol):
    # an effective count for one call (scikit-learn's predictions pass
    # theirs): the network's own count is left as it was
    net = Network([7, 33, 4], "relu", "softmax", dtype=dtype, seed=0, n_threads=1)
    X = rng.standard_normal((7, 1000))
    ref = net.forward(X).copy()
    for nt in (1, 2):
        np.testing.assert_allclose(net.predict_proba(X, n_threads=nt), ref, rtol=rtol)
        assert net.effective_n_threads == 1
    with pytest.warns(RuntimeWarning, match="cores"):
        got = net.predict_proba(X, n_threads=10**6)
    np.testing.assert_allclose(got, ref, rtol=rtol)


def test_parameters_dict_views_and_assignment():
    net = Network([3, 4, 2], "relu", "sigmoid", seed=0)
    p = net.parameters
    assert set(p) == {"W1", "b1", "W2", "b2"} and set(net.grads) == {"dW1", "db1", "dW2", "db2"}
    assert p["W1"].shape == (4, 3) and p["b1"].shape == (4, 1) and p["W2"].shape == (2, 4)
    assert all(np.shares_memory(v, net.flat_parameters) for v in p.values())
    assert all(np.shares_memory(v, net.flat_grads) for v in net.grads.values())
    new = {k: np.full(v.shape, 0.5) for k, v in p.items()}
    net.parameters = new
    assert np.all(net.flat_parameters == np.float32(0.5))
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        net.parameters = {**new, "W1": np.zeros((3, 4))}


def test_init_scales():
    for init, scale in (("he", np.sqrt(2 / 400)), ("xavier", np.sqrt(1 / 400)), ("course", 0.01)):
        net = Network([400, 300, 1], init=init, seed=0, dtype=np.float64)
        assert net.parameters["W1"].std() == pytest.approx(scale, rel=0.02)
        assert np.all(net.parameters["b1"] == 0)
    a = Network([4, 5, 1], seed=7).flat_parameters
    b = Network([4, 5, 1], seed=7).flat_parameters
    np.testing.assert_array_equal(a, b)


def test_init_none_starts_at_zero_and_round_trips(tmp_path):
    net = Network([4, 6, 2], "relu", "softmax", init=None, dtype=np.float64)
    assert net.init is None and not np.any(net.flat_parameters)
    net.flat_parameters[...] = np.arange(net.n_params) / net.n_params
    net.reset_parameters()
    assert not np.any(net.flat_parameters)
    net.flat_parameters[...] = 0.5
    net.save(tmp_path / "n.npz")
    back = Network.load(tmp_path / "n.npz")
    assert back.init is None and np.all(back.flat_parameters == 0.5)
    assert Network(**net.get_config()).init is None
    with pytest.raises(ValueError, match="init"):
        Network([4, 6, 2], init="zeros")


# ------------------------------------------------------------------ checkpoints

def test_save_load_round_trip_exact(tmp_path, rng):
    net = Network([4, 6, 3], ["elu"], "softmax", seed=1, lambd=0.1, keep_prob=0.9,
                  dtype=np.float64)
    X, Y = make_data(rng, net.layer_dims, "softmax", 40)
    opt = Adam(0.01)
    for _ in range(3):
        net.train_step(X, Y, opt)
    path = net.save(tmp_path / "model")
    assert path.endswith(".npz") and os.listdir(tmp_path) == ["model.npz"]
    net2 = Network.load(path)
    assert net2.get_config() == net.get_config()
    np.testing.assert_array_equal(net2.flat_parameters, net.flat_parameters)
    assert isinstance(net2.optimizer, Adam) and net2.optimizer.t == 3
    for a, b in zip(net2.optimizer.state_arrays(), opt.state_arrays()):
        np.testing.assert_array_equal(a, b)
    # continuing from the checkpoint equals continuing the original
    l1 = net.train_step(X, Y, opt)
    l2 = net2.train_step(X, Y, net2.optimizer)
    assert l1 == l2
    np.testing.assert_array_equal(net2.flat_parameters, net.flat_parameters)


def test_corrupted_truncated_and_wrong_version_rejected(tmp_path):
    net = Network([3, 4, 1], seed=0)
    path = net.save(tmp_path / "ok.npz")
    data = open(path, "rb").read()
    trunc = tmp_path / "trunc.npz"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        Network.load(trunc)
    bad = bytearray(data)
    i = data.find(b"PK\x03\x04", 10) - 40          # inside the payload of a member
    bad[i] ^= 0xFF
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(bytes(bad))
    with pytest.raises(ValueError, match="checkpoint"):
        Network.load(corrupt)
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    with pytest.raises(ValueError, match="format tag"):
        Network.load(other)
    z = dict(np.load(path))
    z["version"] = np.array(99)
    v99 = tmp_path / "v99.npz"
    np.savez(v99, **z)
    with pytest.raises(ValueError, match="version 99"):
        Network.load(v99)
    with pytest.raises(FileNotFoundError):
        Network.load(tmp_path / "missing.npz")


@pytest.mark.parametrize("damage", ["deflated data", "encryption flag", "zip version"])
def test_damaged_zip_members_are_a_corrupted_checkpoint(tmp_path, damage):
    # these escaped Network.load as zlib.error, RuntimeError ("is encrypted,
    # password required") and NotImplementedError ("zip file version 9.9")
    net = Network([3, 4, 1], seed=0)
    path = net.save(tmp_path / "ok.npz", optimizer=Adam(0.01))
    data = bytearray(open(path, "rb").read())
    name = b"config.npy"
    if damage == "deflated data":
        i = data.find(b"PK\x03\x04", data.find(name) - 30)    # its local header
        n, k = int.from_bytes(data[i + 26:i + 28], "little"), \
            int.from_bytes(data[i + 28:i + 30], "little")
        assert data[i + 30:i + 30 + n] == name
        start = i + 30 + n + k
        data[start:start + 8] = b"\xff" * 8               # an invalid deflate block
    else:
        i = data.find(b"PK\x01\x02")                    # central directory entries
        while data[i + 46:i + 46 + len(name)] != name:
            i = data.find(b"PK\x01\x02", i + 4)
        if damage == "encryption flag":
            data[i + 8] |= 1
        else:
            data[i + 6:i + 8] = (99).to_bytes(2, "little")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="bad.npz' is not a readable fastbp checkpoint"):
        Network.load(bad)
    X = np.zeros((3, 10))
    with pytest.raises(ValueError, match="bad.npz' is not a readable fastbp checkpoint"):
        Network([3, 4, 1]).fit(X, X[:1], checkpoint_path=bad, resume=True, verbose=False)


def test_load_checks_the_parameter_count_before_building_the_network(tmp_path):
    # the network of the file's config was built (and initialised) before its
    # parameter buffer was compared: a 2 KB file naming [10**5, 10**5, 1]
    # allocated and filled tens of gigabytes
    import json
    path = Network([3, 4, 1], seed=0).save(tmp_path / "ok.npz")
    z = dict(np.load(path))
    cfg = json.loads(z["config"].tobytes())
    cfg["layer_dims"] = [2000, 2000, 1]
    z["config"] = np.frombuffer(json.dumps(cfg).encode(), np.uint8)
    big = tmp_path / "big.npz"
    np.savez(big, **z)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"parameter buffer \(21,\) does not match its "
                                             r"architecture \[2000, 2000, 1\] \(4004001,\)"):
            Network.load(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000, peak


def test_checkpoint_documents_are_utf8_and_version_1_files_still_load(tmp_path):
    """Version 1 stored the JSON documents as NumPy unicode (4 bytes a character):
    a 10,000-epoch history made a 17-parameter model about 1 MB."""
    import json
    from fastbp import checkpoint
    net = Network([2, 3, 1], seed=0, dtype=np.float64)
    history = {"loss": [0.1234567890123 + i for i in range(10000)], "note": "é ü"}
    path = net.save(tmp_path / "m.npz", optimizer=Adam(1e-3), extra={"history": history})
    assert os.path.getsize(path) < 0.5 * len(json.dumps(history))   # UTF-8, deflated
    data = checkpoint.read(path, ("train", "config", "optimizer"), ())
    assert int(data["version"]) == 2 and data["train"]["history"] == history
    z = dict(np.load(path))
    for key in ("config", "train", "optimizer"):          # as version 1 wrote them
        z[key] = np.array(z[key].tobytes().decode("utf-8"))
    z["version"] = np.array(1)
    v1 = tmp_path / "v1.npz"
    np.savez(v1, **z)
    old = Network.load(v1)      # (an Adam saved before its first update loads too)
    np.testing.assert_array_equal(old.flat_parameters, net.flat_parameters)
    assert type(old.optimizer) is Adam and old.optimizer.t == 0
    assert checkpoint.read(v1, ("train",), ())["train"]["history"] == history


def test_fit_checkpoint_resume_equals_uninterrupted(tmp_path, rng):
    X = rng.standard_normal((3, 90))
    y = (X[0] + X[1] > 0).astype(np.uint8).reshape(1, -1)

    def make():
        return Network([3, 8, 1], "tanh", "sigmoid", seed=5, dtype=np.float64)

    full = make()
    h_full = full.fit(X, y, epochs=6, batch_size=16, optimizer=Adam(0.01), seed=1,
                      verbose=False)
    ck = tmp_path / "ck.npz"
    part = make()
    part.fit(X, y, epochs=3, batch_size=16, optimizer=Adam(0.01), seed=1, verbose=False,
             checkpoint_path=ck, checkpoint_every=2)
    resumed = make()
    h_res = resumed.fit(X, y, epochs=6, batch_size=16, optimizer=Adam(0.01), seed=1,
                        verbose=False, checkpoint_path=ck, resume=True)
    np.testing.assert_allclose(h_res["loss"], h_full["loss"], rtol=1e-12)
    np.testing.assert_allclose(resumed.flat_parameters, full.flat_parameters, rtol=1e-12)
    assert [f for f in os.listdir(tmp_path) if f.endswith(".tmp")] == []


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(layer_dims=[3]), ValueError, "at least an input and an output"),
    (dict(layer_dims=[3, 0, 1]), ValueError, r"layer_dims\[1\] must be >= 1"),
    (dict(layer_dims=[3, 2.5, 1]), TypeError, r"layer_dims\[1\] must be an int"),
    (dict(layer_dims=5), TypeError, "sequence of ints"),
    (dict(layer_dims=[3, 4, 1], hidden="swish"), ValueError, "unknown activation 'swish'"),
    (dict(layer_dims=[3, 4, 4, 1], hidden=["relu"]), ValueError, "list of 2"),
    (dict(layer_dims=[3, 4, 1], output="tanh"), ValueError, "unknown output 'tanh'"),
    # the docstring's TypeError for an activation that is not a string: output=["sigmoid"]
    # raised "unhashable type: 'list'" from a dict lookup, output=None and hidden=[None]
    # a ValueError
    (dict(layer_dims=[3, 4, 1], output=["sigmoid"]), TypeError,
     r"output must be a name \(a str\), got list \['sigmoid'\]"),
    (dict(layer_dims=[3, 4, 1], output=None), TypeError, "output must be a name"),
    (dict(layer_dims=[3, 4, 4, 1], hidden=["relu", None]), TypeError,
     r"hidden: an activation must be a name \(a str\), got NoneType None"),
    (dict(layer_dims=[3, 4, 1], output="softmax"), ValueError, "at least 2 units"),
    (dict(layer_dims=[3, 4, 1], init="glorot"), ValueError, "unknown init 'glorot'"),
    (dict(layer_dims=[3, 4, 1], dtype="float16"), TypeError, "float32' or 'float64"),
    (dict(layer_dims=[3, 4, 1], keep_prob=0.0), ValueError, r"in \(0, 1\]"),
    (dict(layer_dims=[3, 4, 1], lambd=-1), ValueError, ">= 0"),
    (dict(layer_dims=[3, 4, 1], n_threads=0), ValueError, "n_threads=0"),
    (dict(layer_dims={4, 5, 1}), TypeError, r"layer_dims must be a sequence.*got a set "
                                            r"\{1, 4, 5\}, which has no order"),
    # a set's order is the hash seed's: which layer got relu changed between runs
    (dict(layer_dims=[3, 4, 4, 1], hidden={"relu", "tanh"}), TypeError,
     "hidden must be one value or a list.*got a set"),
    (dict(layer_dims=[3, 4, 4, 1], keep_prob=frozenset({0.5, 0.9})), TypeError,
     "keep_prob must be one value or a list.*got a frozenset"),
])
def test_constructor_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Network(**kwargs)


def test_one_feature_as_a_1d_array_gets_the_reshape_that_works(rng):
    """A 1-D x for a one-input network holds m examples: the hint said
    x.reshape(-1, 1), which made them rows and failed again."""
    net = Network([1, 4, 1], seed=0)
    x = rng.standard_normal(10)
    y = (x > 0).astype(float)
    with pytest.raises(ValueError, match=r"For 10 examples of the network's one feature use "
                                         r"X\.reshape\(1, -1\)"):
        net.fit(x, y, verbose=False)
    net.fit(x.reshape(1, -1), y, verbose=False)         # the hint works
    with pytest.raises(ValueError, match=r"For a single example use X\.reshape\(-1, 1\)"):
        Network([10, 4, 1]).predict(x)


def test_data_errors(rng):
    net = Network([3, 4, 3], "relu", "softmax", seed=0)
    X = rng.standard_normal((3, 10))
    y = rng.integers(0, 3, 10)
    with pytest.raises(ValueError, match=r"examples are rows: pass X.T"):
        net.train_step(X.T, y, SGD(0.1))
    with pytest.raises(ValueError, match="2-D"):
        net.forward(X[0])
    with pytest.raises(TypeError, match="real numbers"):
        net.forward(X.astype(complex))
    with pytest.raises(ValueError, match=r"expected \(3, 10\)"):
        net.train_step(X, np.zeros((3, 9)), SGD(0.1))
    with pytest.raises(ValueError, match=r"expected \(3, 10\).*examples are rows, pass Y.T"):
        net.fit(X, np.eye(3)[y], verbose=False)       # one-hot rows (m, n_out)
    with pytest.raises(ValueError, match=r"\(outputs as rows, examples as columns\)$"):
        net.fit(X, np.zeros((3, 9)), verbose=False)   # no transposed reading: no hint
    with pytest.raises(ValueError, match=r"Y has shape \(10, 1\).*column of labels, pass "
                                         r"Y.ravel\(\)"):
        net.fit(X, y[:, None], verbose=False)
    one = Network([3, 4, 1], seed=0)
    with pytest.raises(ValueError, match=r"^Y has 9 values but X has 10 examples"):
        one.fit(X, (y[:9] > 0).astype(float), verbose=False)     # not '(1, 9)'
    # validation_data's arrays are named as such, not as the training Y
    with pytest.raises(ValueError, match=r"^Y_val has 4 labels but X_val has 10 examples"):
        net.fit(X, y, validation_data=(X, y[:4]), verbose=False)
    with pytest.raises(ValueError, match=r"^Y_val has shape \(3, 4\); expected \(3, 10\)"):
        net.fit(X, y, validation_data=(X, np.zeros((3, 4))), verbose=False)
    with pytest.raises(ValueError, match="10 examples"):
        net.train_step(X, y[:9], SGD(0.1))
    with pytest.raises(TypeError, match="must be integers"):
        net.train_step(X, y.astype(float), SGD(0.1))
    p0 = net.flat_parameters.copy()
    with pytest.raises(ValueError, match=r"in 0..2 .*\[\d, 7\]"):
        net.train_step(X, np.where(y == 0, 7, y), SGD(0.1))
    np.testing.assert_array_equal(net.flat_parameters, p0)
    with pytest.raises(ValueError, match=r"in 0..2"):
        net.fit(X, np.full(10, -1), verbose=False)
    with pytest.raises(RuntimeError, match="forward"):
        Network([3, 2, 1]).backward(np.zeros((1, 4)))
    with pytest.raises(TypeError, match="optimizer"):
        net.train_step(X, y, "adam")
    with pytest.raises(ValueError, match="NaN"):
        net.fit(np.where(X > 1, np.nan, X), y, verbose=False)


def test_nan_loss_stops_with_epoch_and_step_and_keeps_parameters(rng):
    net = Network([2, 16, 1], "relu", "identity", seed=0)
    X = rng.standard_normal((2, 64)).astype(np.float32) * 50
    Y = rng.standard_normal((1, 64)).astype(np.float32) * 1e6
    snapshots = []

    start = net.flat_parameters.copy()
    with pytest.raises(FloatingPointError, match=r"epoch \d+, step \d+") as info:
        net.fit(X, Y, epochs=200, batch_size=16, optimizer=SGD(5.0), shuffle=False,
                verbose=False, callback=lambda n, e, logs: snapshots.append(
                    n.flat_parameters.copy()))
    msg = str(info.value)
    got = re.search(r"restored to those at the start of epoch (\d+)", msg)
    assert got, msg
    back = int(got.group(1))
    # the parameters are exactly those at the start of that epoch ...
    expected = start if back == 1 else snapshots[back - 2]
    np.testing.assert_array_equal(net.flat_parameters, expected, err_msg=msg)
    # ... and their loss on that epoch's first batch (no shuffling) is finite
    loss, _ = net.evaluate(X[:, :16], Y[:, :16])
    assert np.isfinite(loss), msg
    # the diverging epoch is after it
    assert int(re.search(r"diverged at epoch (\d+)", msg).group(1)) >= back, msg


def test_divergence_on_the_first_step_keeps_the_initial_parameters():
    net = Network([1, 1], "relu", "identity", seed=0, dtype="float64")
    X = np.array([[1e200, 2e200]])
    Y = np.array([[-1e200, 1e200]])
    start = net.flat_parameters.copy()
    with pytest.raises(FloatingPointError, match="No update was made in this fit"):
        net.fit(X, Y, epochs=2, batch_size=2, verbose=False)
    np.testing.assert_array_equal(net.flat_parameters, start)


def test_train_step_nonfinite_loss_says_the_parameters_gave_it():
    net = Network([1, 1], "relu", "identity", seed=0, dtype="float64")
    start = net.flat_parameters.copy()
    with pytest.raises(FloatingPointError, match="ones that gave this loss") as info:
        net.train_step(np.array([[1e200]]), np.array([[-1e200]]), SGD(0.1))
    assert "last good" not in str(info.value)
    np.testing.assert_array_equal(net.flat_parameters, start)


@pytest.mark.parametrize("opt", [lambda: SGD(0.1), lambda: SGD(0.05, momentum=0.9),
                                 lambda: SGD(0.05, momentum=0.9, nesterov=True),
                                 lambda: Adam(1e-2),
                                 lambda: SGD(0.05, momentum=0.9, nesterov=True, velocity="step"),
                                 lambda: Adam(1e-2, bias_correction="step")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nt", [1, 2])
def test_train_steps_equals_a_loop_of_train_step(rng, opt, dtype, nt):
    # several steps in one compiled call: same parameters, optimizer state,
    # step counters and dropout masks as one train_step per step
    dims, m = [5, 24, 16, 3], 301
    X, Y = make_data(rng, dims, "softmax", m, dtype)
    kw = dict(seed=7, keep_prob=[0.9, 0.8], lambd=0.2, dtype=dtype, n_threads=nt)
    a, b = Network(dims, "tanh", "softmax", **kw), Network(dims, "tanh", "softmax", **kw)
    oa, ob = opt(), opt()
    losses = [a.train_step(X, Y, oa) for _ in range(7)]
    first = b._train_steps(X, Y, ob, 7)
    assert first == losses[0]
    np.testing.assert_array_equal(b.flat_parameters, a.flat_parameters)
    assert (ob.t, b._step) == (oa.t, a._step) == (7, 7)
    # and it continues from there like train_step
    assert b._train_steps(X, Y, ob, 1) == a.train_step(X, Y, oa)
    assert b._train_steps(X, Y, ob, 3, first_loss=False) is None
    for _ in range(3):
        a.train_step(X, Y, oa)
    np.testing.assert_array_equal(b.flat_parameters, a.flat_parameters)


def test_train_steps_non_finite_and_bad_arguments(rng):
    X, Y = make_data(rng, [3, 4, 1], "sigmoid", 20)
    net = Network([3, 4, 1], "relu", "sigmoid", dtype=np.float64, seed=0)
    with pytest.raises(ValueError, match="n_steps must be >= 1"):
        net._train_steps(X, Y, SGD(0.1), 0)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    before = net.flat_parameters.copy()
    with pytest.raises(FloatingPointError, match="update was skipped"):
        net._train_steps(Xn, Y, SGD(0.1), 5)
    np.testing.assert_array_equal(net.flat_parameters, before)
    # the course's semantics: carry the nan on
    loss = net._train_steps(Xn, Y, SGD(0.1), 5, check_finite=False)
    assert np.isnan(loss) and np.isnan(net.flat_parameters).any()


@pytest.mark.parametrize("output, n_out, shape", [
    ("softmax", 3, lambda m: (m,)),
    ("sigmoid", 1, lambda m: (m,)),
    ("sigmoid", 3, lambda m: (3, m)),
    ("identity", 1, lambda m: (m,)),
    ("identity", 2, lambda m: (2, m)),
])
def test_predict_shape_rule(output, n_out, shape):
    """One shape rule: (m,) for one prediction per example, (n_L, m) for several."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 7))
    net = Network([4, 5, n_out], output=output, seed=0)
    pred = net.predict(X)
    AL = net.predict_proba(X)
    assert pred.shape == shape(7)
    if output == "softmax":
        np.testing.assert_array_equal(pred, AL.argmax(axis=0))
    elif output == "sigmoid":
        np.testing.assert_array_equal(pred, (AL > 0.5).astype(np.int64).reshape(shape(7)))
        assert pred.dtype == np.int64
    else:
        np.testing.assert_array_equal(pred, AL.reshape(shape(7)))
        assert pred.dtype == net.dtype


# ------------------------------------------- Network.fit's documented contract
def _raises_entries(doc):
    """{exception name: its description} of a NumPy-style docstring's Raises section."""
    text = doc.split("Raises\n", 1)[1]
    lines = text.splitlines()[1:]                       # after the dashes
    base = min(len(ln) - len(ln.lstrip()) for ln in lines if ln.strip())
    entries, name = {}, None
    for ln in lines:
        if not ln.strip():
            continue
        indent = len(ln) - len(ln.lstrip())
        if indent < base:
            break
        if indent == base:
            name = ln.strip()
            entries[name] = ""
        else:
            entries[name] += " " + ln.strip()
    return entries


def _fit_errors(tmp_path):
    """(call(net), exception type, a word its Raises entry must contain) for each kind
    of error Network.fit raises."""
    X = np.random.default_rng(0).standard_normal((3, 10))
    y = np.arange(10) % 2
    other = Network([5, 2], output="softmax", seed=0)
    other.save(tmp_path / "other.npz")
    bad_x = X.copy()
    bad_x[0, 3] = np.nan
    return [
        (lambda n: n.fit(X.astype(str), y), TypeError, "real numbers"),
        (lambda n: n.fit(X.astype(complex), y), TypeError, "real numbers"),
        (lambda n: n.fit(X, y.astype(float)), TypeError, "integer"),
        (lambda n: n.fit(X, y, epochs=1.5), TypeError, "epochs"),
        (lambda n: n.fit(X, y, callback=5), TypeError, "callback"),
        (lambda n: n.fit(X, y, optimizer="adam"), TypeError, "optimizer"),
        (lambda n: n.fit(X, y, validation_data=5), TypeError, "validation_data"),
        (lambda n: n.fit(X.T, y), ValueError, "shape"),
        (lambda n: n.fit(X[:, :0], y[:0]), ValueError, "no examples"),
        (lambda n: n.fit(X, y[:5]), ValueError, "shape"),
        (lambda n: n.fit(bad_x, y), ValueError, "NaN"),
        (lambda n: n.fit(X, y + 1), ValueError, "labels"),
        (lambda n: n.fit(X, y, sample_weight=-np.ones(10)), ValueError, "sample_weight"),
        (lambda n: n.fit(X, y, epochs=-1), ValueError, "epochs"),
        (lambda n: n.fit(X, y, batch_size=0), ValueError, "batch_size"),
        (lambda n: n.fit(X, y, checkpoint_path=tmp_path / "other.npz", resume=True),
         ValueError, "resume"),
        (lambda n: n.fit(X, y, checkpoint_path=tmp_path / "no" / "dir.npz"), OSError,
         "checkpoint"),
        (lambda n: n.fit(100 * X, y, optimizer=SGD(1e30), epochs=3, batch_size=5,
                         verbose=False),
         FloatingPointError, "finite"),
    ]


def test_fit_docstring_lists_every_error_it_raises(tmp_path):
    """Each kind of bad call raises the type the Raises section lists, under an entry
    that names the condition; the setup errors leave the parameters untouched."""
    entries = _raises_entries(Network.fit.__doc__)
    cases = _fit_errors(tmp_path)
    try:
        from mpi4py import MPI
    except ImportError:
        pass
    else:
        X = np.random.default_rng(0).standard_normal((3, 10))
        cases.append((lambda n: n.fit(X, np.arange(10) % 2, comm=MPI.COMM_NULL),
                      ValueError, "COMM_NULL"))
        cases.append((lambda n: n.fit(X, np.arange(10) % 2, sample_weight=np.ones(10),
                                      comm=MPI.COMM_SELF, verbose=False), ValueError, "comm"))
        cases.append((lambda n: n.fit(X, np.arange(10) % 2, comm=object()), TypeError,
                      "comm"))
    for call, exc, word in cases:
        net = Network([3, 4, 2], "relu", "softmax", seed=0)
        P = net.flat_parameters.copy()
        with np.errstate(all="ignore"), pytest.raises(exc) as info:
            call(net)
        assert type(info.value).__name__ in entries or exc.__name__ in entries, (
            f"{type(info.value).__name__} ({info.value}) is not in Network.fit's Raises: "
            f"{sorted(entries)}")
        assert word.lower() in entries[exc.__name__].lower(), (exc.__name__, word)
        if exc in (TypeError, ValueError):           # "before any update"
            np.testing.assert_array_equal(net.flat_parameters, P, err_msg=str(info.value))


def test_fit_docstring_states_the_dtype_conversions():
    doc = " ".join(Network.fit.__doc__.split())
    for phrase in ("converted to the network's dtype", "a copy", "no copy",
                   "never modified", "X_rows.T", "float64", "F-ordered copy"):
        assert phrase in doc, phrase


@pytest.mark.parametrize("case", ["same dtype C", "same dtype F", "rows.T", "float64->32",
                                  "int", "strided", "list"])
def test_fit_conversions_are_as_documented(case, monkeypatch):
    """What the docstring says of X: the network's dtype in one unit stride (C or F,
    X_rows.T) trains in place, anything else is converted once (a copy); the
    caller's arrays are never written."""
    rng = np.random.default_rng(1)
    net = Network([3, 4, 2], "tanh", "softmax", dtype=np.float32, seed=0)
    base = rng.standard_normal((3, 12)).astype(np.float32)
    X = {"same dtype C": base, "same dtype F": np.asfortranarray(base),
         "rows.T": np.ascontiguousarray(base.T).T, "float64->32": base.astype(np.float64),
         "int": (3 * base).astype(np.int64),
         "strided": rng.standard_normal((6, 24)).astype(np.float32)[::2, ::2],
         "list": base.tolist()}[case]
    y = np.arange(12) % 2
    before = np.array(X, copy=True)
    seen = {}
    real = net.train_epoch

    def spy(Xc, *args, **kwargs):
        seen["X"] = Xc
        return real(Xc, *args, **kwargs)

    monkeypatch.setattr(net, "train_epoch", spy)
    net.fit(X, y, epochs=1, batch_size=4, verbose=False)
    Xc = seen["X"]
    assert Xc.dtype == np.float32 and Xc.shape == (3, 12)
    # a shuffled fit of a C-ordered X gathers from one F-ordered copy (the
    # docstring says so: value-by-value gathers from C order were 1.3-3x slower)
    in_place = case in ("same dtype F", "rows.T")
    assert np.shares_memory(Xc, X) == in_place if isinstance(X, np.ndarray) else not in_place
    assert Xc.flags.f_contiguous
    np.testing.assert_array_equal(np.asarray(X), before)
    np.testing.assert_array_equal(Xc, np.asarray(X).astype(np.float32))


@pytest.mark.parametrize("output, n_out", [("softmax", 3), ("sigmoid", 1)])
@pytest.mark.parametrize("kind", ["str", "object", "bytes", "list"])
def test_fit_with_string_labels_says_how_to_encode_them(output, n_out, kind):
    """Text labels (what a CSV column or a pandas Series gives) are not class
    indices: the TypeError says labels must be numeric (indices, 0/1 or
    one-hot) and how to encode them, or to use fastbp.sklearn.MLPClassifier."""
    rng = np.random.default_rng(0)
    names = ["cat", "dog", "emu"][:max(n_out, 2)]
    y = [names[i] for i in rng.integers(0, len(names), 12)]
    y = {"str": np.array(y), "object": np.array(y, dtype=object),
         "bytes": np.array([s.encode() for s in y]), "list": y}[kind]
    X = rng.standard_normal((4, 12))
    net = Network([4, 5, n_out], output=output)
    with pytest.raises(TypeError) as info:
        net.fit(X, y, epochs=1, verbose=False)
    msg = str(info.value)
    assert "numeric" in msg and "'cat'" in msg, msg
    assert "LabelEncoder" in msg and "fastbp.sklearn.MLPClassifier" in msg, msg
    if output == "softmax":
        assert "OneHotEncoder" in msg and "0..2" in msg, msg
        # the fix the message gives works as written
        classes, codes = np.unique(np.asarray(y).astype(str), return_inverse=True)
        net.fit(X, codes, epochs=1, verbose=False)
    else:
        assert "0/1" in msg, msg


def test_regression_with_text_targets_says_they_must_be_numbers():
    net = Network([2, 3, 1], output="identity")
    with pytest.raises(TypeError, match=r"numeric.*'1\.5'.*astype\(float\)"):
        net.fit(np.ones((2, 3)), np.array(["1.5", "2", "x"]), verbose=False)


@pytest.mark.parametrize("output,dims", [("softmax", [4, 5, 3]), ("sigmoid", [4, 5, 1]),
                                         ("sigmoid", [4, 5, 2])])
def test_class_predictions_refuse_nan_outputs_instead_of_class_0(output, dims):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 6))
    net = Network(dims, output=output, seed=0, dtype="float64")
    y = np.ones(6, np.int64) if output == "softmax" else np.ones((dims[-1], 6))
    net.parameters["W2"][0, 0] = np.nan
    assert np.isnan(net.predict_proba(X)).any()          # the outputs, as they are
    with pytest.raises(ValueError, match=r"outputs are NaN/inf for 6 of 6 examples.*"
                                         r"parameters hold NaN/inf \(1 of"):
        net.predict(X)
    loss, acc = net.evaluate(X, y)
    assert np.isnan(loss) and np.isnan(acc)
    with pytest.raises(FloatingPointError, match=r"parameters themselves hold NaN/inf \(1 of"):
        net.train_step(X, y, SGD(0.1))
    p0 = net.flat_parameters.copy()
    with pytest.raises(ValueError, match=r"fit cannot start: the parameters themselves hold "
                                         r"NaN/inf \(1 of"):
        net.fit(X, y, epochs=1, verbose=False)
    np.testing.assert_array_equal(net.flat_parameters, p0)
    assert net.step_count == 0


def test_class_predictions_refuse_outputs_that_overflow_the_dtype():
    net = Network([2, 3, 2], output="softmax", seed=0, dtype="float32")
    net.parameters["W1"][...] = 1.0
    X = np.full((2, 3), 3e38, np.float32)               # finite, but W1 X overflows float32
    X[:, 1] = 0.5
    with pytest.raises(ValueError, match=r"for 2 of 3 examples \(the first: column 0\): X "
                                         r"overflows the network's dtype \(float32\)"):
        net.predict(X)
    # regression outputs are returned as they are
    reg = Network([2, 3, 1], output="identity", seed=0, dtype="float64")
    reg.parameters["b2"][0] = np.inf
    assert np.isinf(reg.predict(np.ones((2, 3)))).all()


@pytest.mark.parametrize("dtype,shown", [(np.float64, "1.0000000000000002"),
                                         (np.float32, "1.0000001")])
def test_target_domain_message_shows_values_that_round_to_the_bound_exactly(dtype, shown):
    # "found {1} outside [0, 1]" read as if 1 were refused
    Y = np.full((1, 8), 0.5, dtype)
    Y[0, :3] = np.nextafter(dtype(1), dtype(2))
    Y[0, 3] = 2.0
    net = Network([2, 3, 1], seed=0)
    with pytest.raises(ValueError,
                       match=r"found \{" + re.escape(shown) + r", 2\} \(4 of 8 values\)"):
        net.fit(np.ones((2, 8)), Y, verbose=False)


@pytest.mark.parametrize("attr,value,exc,match", [
    ("seed", -1, ValueError, "seed must be a non-negative int, got -1"),
    ("seed", 1.5, TypeError, "seed must be None or a non-negative int, got float 1.5"),
    ("step_count", "x", TypeError, "step_count must be an int, got str 'x'"),
    ("step_count", 1.5, TypeError, "step_count must be an int, got float 1.5"),
    ("step_count", -1, ValueError, r"step_count must be an int in \[0, 2\*\*64\), got -1"),
    ("step_count", 2 ** 70, ValueError, r"in \[0, 2\*\*64\)"),
    ("optimizer", "adam", TypeError, "optimizer must be a fastbp.optim optimizer.*got str"),
    ("effective_n_threads", 0, ValueError, "effective_n_threads must be a positive int"),
    # init was a plain attribute: reset_parameters then raised KeyError 'glorot',
    # and save wrote a checkpoint that load refused
    ("dropout_seed", 0.5, TypeError, "dropout_seed must be an int, got float 0.5"),
    ("dropout_seed", "7", TypeError, "dropout_seed must be an int, got str '7'"),
    ("init", "glorot", ValueError, r"unknown init 'glorot'; valid: \('he', 'xavier', 'course'\)"),
])
def test_attribute_assignment_is_checked_like_the_constructor(attr, value, exc, match):
    net = Network([4, 5, 3], output="softmax", seed=0)
    before = getattr(net, attr)
    with pytest.raises(exc, match=match):
        setattr(net, attr, value)
    assert getattr(net, attr) == before


def test_attribute_assignment_takes_valid_values():
    net = Network([4, 5, 3], output="softmax", seed=0)
    net.init = "xavier"
    net.reset_parameters()
    assert net.get_config()["init"] == "xavier"
    net.init = None
    net.dropout_seed = -1
    assert net.dropout_seed == 2**64 - 1
    net.dropout_seed = np.uint64(3)
    assert net.dropout_seed == 3
    net.seed = None
    net.seed = np.int64(7)
    assert net.seed == 7
    net.step_count = np.uint64(5)
    assert net.step_count == 5 and type(net.step_count) is int
    net.optimizer = Adam(0.02)
    X = np.random.default_rng(0).standard_normal((4, 9))
    net.fit(X, np.arange(9) % 3, epochs=1, verbose=False)      # fit takes the assigned one
    assert net.optimizer.t > 0 and net.optimizer.lr == 0.02
    with pytest.warns(RuntimeWarning, match=r"effective_n_threads=10000 is more than the"):
        net.effective_n_threads = 10000
    assert net.effective_n_threads == os.cpu_count() or net.effective_n_threads <= 10000


def test_label_messages_name_missing_values_and_numbers_stored_as_objects():
    net = Network([2, 3, 3], output="softmax", seed=0)
    X = np.ones((2, 4))
    with pytest.raises(ValueError, match=r"class labels Y hold NaN in 1 of 4 examples "
                                         r"\(missing labels"):
        net.fit(X, np.array([0, 1, np.nan, 2]), verbose=False)
    with pytest.raises(TypeError, match=r"numbers stored as Python objects; convert them "
                                        r"with Y\.astype\(int\)"):
        net.fit(X, np.array([0, 1, 2, 1], dtype=object), verbose=False)
    with pytest.raises(TypeError, match=r"convert them with Y\.astype\(float\)"):
        Network([2, 3, 1], output="identity").fit(X, np.array([0.5, 1, 2, 1], dtype=object),
                                                   verbose=False)
    # text labels still get the encoding advice
    with pytest.raises(TypeError, match="Encode the labels first"):
        net.fit(X, np.array(["a", "b", "a", "c"], dtype=object), verbose=False)


def test_label_message_of_a_pandas_column_with_missing_values():
    """pandas' NA has no truth value: listing the values for the message raised
    'boolean value of NA is ambiguous' from inside pandas; and the encodings the
    message suggests would make the missing labels class 0."""
    pd = pytest.importorskip("pandas")
    X = np.ones((2, 4))
    for y in (pd.Series([True, False, None, True], dtype="boolean"),
              pd.Series(["a", "b", None, "a"], dtype="string")):
        with pytest.raises(TypeError, match=r"\(values True, False, <NA>\)|'a', 'b', <NA>"):
            Network([2, 3, 1], seed=0).fit(X, y, verbose=False)
    with pytest.raises(TypeError, match=r"missing values \(None or pandas' <NA>\).*drop "
                                        r"those examples or fill them"):
        Network([2, 3, 3], output="softmax").fit(X, np.array(["a", None, "b", "a"], object),
                                                  verbose=False)


def test_init_is_the_documented_draw_without_a_whole_float64_copy():
    """The weights are default_rng(seed)'s float64 normals, W1 first, row-major,
    times the scale, rounded to the dtype (the seed's documented meaning). A W
    larger than one draw is filled in pieces: building a network used to hold a
    float64 copy of the whole W on top of the network (twice a float32 W's size),
    and refused float32 networks that fit (MemoryError)."""
    dims = [1000, 3000, 3]                  # W1 3M values: several pieces
    rng = np.random.default_rng(11)
    want = {}
    for l in range(1, len(dims)):
        want[l] = rng.standard_normal((dims[l], dims[l - 1])) * np.sqrt(2 / dims[l - 1])
    for dtype in (np.float32, np.float64):
        tracemalloc.start()
        try:
            net = Network(dims, init="he", seed=11, dtype=dtype)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        for l in want:
            np.testing.assert_array_equal(net.parameters[f"W{l}"], want[l].astype(dtype))
        # the network's own buffers (parameters and gradients) plus one piece (8 MB)
        own = 2 * net.flat_parameters.nbytes
        assert peak < own + 12e6, (dtype, peak, own)


def test_load_reads_only_the_entries_a_checkpoint_has(tmp_path):
    # Network.load decompressed every entry of the archive: 80 MB of zeros
    # deflated into an unused entry (about 80 KB on disk) cost 80 MB of memory
    # before the file was even checked (a thousand times its size on disk)
    import zipfile
    net = Network([3, 4, 1], seed=0)
    path = net.save(tmp_path / "ok.npz", optimizer=Adam(0.01))
    n = 10_000_000
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf, \
            zf.open("junk.npy", "w", force_zip64=True) as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f8", "fortran_order": False, "shape": (n,)})
        for _ in range(10):
            f.write(bytes(8_000_000))
    tracemalloc.start()
    try:
        m = Network.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, peak
    assert np.array_equal(m.flat_parameters, net.flat_parameters)


def test_parameters_and_grads_dicts_are_what_fastbp_course_takes(rng):
    """network.py's docstring: net.parameters and net.grads "are dicts of views
    ... with the course's keys, so the functions of fastbp.course accept them".
    The course API on those dicts gives the network's own forward, gradients and
    update (an independent path: layer kernels, not the network kernel)."""
    from fastbp import course
    net = Network([5, 4, 3, 1], "relu", "sigmoid", dtype="float64", seed=3)
    X = rng.standard_normal((5, 11))
    Y = (rng.random((1, 11)) > 0.5).astype(np.float64)
    AL, caches = course.L_model_forward(X, net.parameters)
    np.testing.assert_allclose(AL, net.forward(X), rtol=1e-13)
    net.backward(Y)
    grads = course.L_model_backward(AL, Y, caches)
    for key, view in net.grads.items():
        np.testing.assert_allclose(grads[key], view, rtol=1e-12, atol=1e-15, err_msg=key)
    new = course.update_parameters(net.parameters, net.grads, learning_rate=0.1)
    for key, W in net.parameters.items():
        np.testing.assert_allclose(new[key], W - 0.1 * net.grads["d" + key], rtol=1e-15)
