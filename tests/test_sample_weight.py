"""Per-example weights (sample_weight) and the whole-data-set loss and gradient.

The reference is an independent NumPy transcription of scikit-learn 1.9's
MLP backward (``_backprop`` / ``_compute_loss_grad`` in
sklearn/neural_network/_multilayer_perceptron.py), written examples-as-rows
with scikit-learn's (n_in, n_out) coefficients, so neither the layout nor the
code is fastbp's.
"""
import zlib

import numpy as np
import pytest

from fastbp.network import Network
from fastbp.optim import SGD, Adam

ACT = {
    "relu": (lambda z: np.maximum(z, 0), lambda a: (a > 0).astype(a.dtype)),
    "tanh": (np.tanh, lambda a: 1 - a ** 2),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda a: a * (1 - a)),
    "identity": (lambda z: z, lambda a: np.ones_like(a)),
}


def sk_backprop(Xr, Yr, coefs, intercepts, hidden, output, alpha, sw):
    """scikit-learn's loss and gradients, examples as rows.

    Xr (m, n_x); Yr (m, n_L) dense targets; coefs[l] (n_in, n_out);
    sw (m,) or None. The squared loss is summed over the outputs (fastbp's
    mse; scikit-learn reports it averaged over them, with the same gradient).
    """
    n = Xr.shape[0] if sw is None else sw.sum()
    w = np.ones(Xr.shape[0]) if sw is None else sw
    acts = [Xr]
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        z = acts[-1] @ W + b
        if i < len(coefs) - 1:
            acts.append(ACT[hidden][0](z))
        elif output == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            acts.append(e / e.sum(axis=1, keepdims=True))
        else:
            acts.append(ACT["sigmoid" if output == "sigmoid" else "identity"][0](z))
    P = acts[-1]
    if output == "softmax":
        per = -np.sum(Yr * np.log(P), axis=1)
    elif output == "sigmoid":
        per = -np.sum(Yr * np.log(P) + (1 - Yr) * np.log(1 - P), axis=1)
    else:
        per = 0.5 * np.sum((P - Yr) ** 2, axis=1)
    loss = np.average(per, weights=w) + 0.5 * alpha * sum(np.dot(c.ravel(), c.ravel())
                                                            for c in coefs) / n
    delta = (P - Yr) * w[:, None]
    cg, ig = [None] * len(coefs), [None] * len(coefs)
    for i in range(len(coefs) - 1, -1, -1):
        cg[i] = (acts[i].T @ delta + alpha * coefs[i]) / n
        ig[i] = delta.sum(axis=0) / n
        if i > 0:
            delta = (delta @ coefs[i].T) * ACT[hidden][1](acts[i])
    return loss, cg, ig


def flat_of(cg, ig):
    """fastbp's flat layout of scikit-learn-style gradients: W = coef.T, then b."""
    return np.concatenate([np.concatenate([c.T.ravel(), g]) for c, g in zip(cg, ig)])


def dense_targets(net, Y):
    if net.output == "softmax" and Y.ndim == 1:
        D = np.zeros((Y.shape[0], net.layer_dims[-1]))
        D[np.arange(Y.shape[0]), Y] = 1
        return D
    return np.asarray(Y, dtype=np.float64).T


def reference(net, X, Y, sw):
    coefs = [net.parameters[f"W{l}"].T.astype(np.float64) for l in range(1, net.n_layers + 1)]
    ints = [net.parameters[f"b{l}"].ravel().astype(np.float64)
            for l in range(1, net.n_layers + 1)]
    return sk_backprop(np.asarray(X, dtype=np.float64).T, dense_targets(net, Y), coefs, ints,
                       net.hidden[0], net.output, net.lambd, sw)


@pytest.fixture
def rng(request):
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def data(rng, dims, output, m, dtype):
    X = rng.standard_normal((dims[0], m)).astype(dtype)
    if output == "softmax":
        Y = rng.integers(0, dims[-1], m)
    elif output == "sigmoid":
        Y = (rng.random((dims[-1], m)) > 0.5).astype(dtype)
    else:
        Y = rng.standard_normal((dims[-1], m)).astype(dtype)
    sw = rng.random(m) * 3
    sw[rng.random(m) < 0.2] = 0.0             # zero weights are allowed
    if not sw.any():
        sw[0] = 1.5
    return X, Y, sw


ARCHS = [([3, 17, 4], "relu", "softmax"), ([17, 3, 3, 1], "tanh", "sigmoid"),
         ([5, 17, 3], "sigmoid", "sigmoid"), ([1, 3, 2], "identity", "identity")]
TOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 2e-5}


def assert_grad(got, want, dtype, what):
    rtol = TOL[np.dtype(dtype)]
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.max(np.abs(want)),
                               err_msg=what)


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: f"{a[1]}-{a[2]}-{len(a[0])}")
@pytest.mark.parametrize("m", [1, 3, 17, 1000])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("nt", [1, 2])
def test_weighted_step_matches_sklearn_backprop(rng, arch, m, dtype, order, nt):
    dims, hidden, output = arch
    net = Network(dims, hidden, output, dtype=dtype, seed=3, lambd=0.7, n_threads=nt)
    net._kernel.min_flops_per_thread = 1        # a team of nt even for small steps
    net._kernel.team_policy = nt
    X, Y, sw = data(rng, dims, output, m, dtype)
    X = np.asarray(X, order=order)
    for a in (X, Y, sw):                        # read-only inputs
        a.flags.writeable = False
    want_loss, cg, ig = reference(net, X, Y, sw)
    want = flat_of(cg, ig)
    what = f"{arch} m={m} {np.dtype(dtype).name} {order} nt={nt}"
    # the whole-data-set call
    loss, grad = net.loss_and_gradient(X, Y, sample_weight=sw)
    assert grad.dtype == np.float64 and grad.shape == (net.n_params,)
    assert loss == pytest.approx(want_loss, rel=TOL[np.dtype(dtype)] * 10), what
    assert_grad(grad, want, dtype, what)
    # the training step: same loss, same gradient, then W -= lr grad
    P0 = net.flat_parameters.astype(np.float64)
    got_loss = net.train_step(X, Y, SGD(0.5), sample_weight=sw)
    assert got_loss == pytest.approx(want_loss, rel=TOL[np.dtype(dtype)] * 10), what
    assert_grad(net.flat_grads, want, dtype, what)
    assert_grad(net.flat_parameters, P0 - 0.5 * net.flat_grads.astype(np.float64), dtype, what)


@pytest.mark.parametrize("arch", ARCHS[:3], ids=lambda a: f"{a[1]}-{a[2]}")
def test_sklearn_backprop_itself(rng, arch):
    # the transcription above agrees with scikit-learn's own _backprop
    mlp = pytest.importorskip("sklearn.neural_network")
    dims, hidden, output = arch
    net = Network(dims, hidden, output, dtype=np.float64, seed=5, lambd=0.3)
    X, Y, sw = data(rng, dims, output, 23, np.float64)
    Xr, Yr = X.T, dense_targets(net, Y)
    est = (mlp.MLPClassifier if output != "identity" else mlp.MLPRegressor)(
        hidden_layer_sizes=dims[1:-1], alpha=net.lambd,
        activation={"sigmoid": "logistic"}.get(hidden, hidden))
    est.coefs_ = [net.parameters[f"W{l}"].T.copy() for l in range(1, net.n_layers + 1)]
    est.intercepts_ = [net.parameters[f"b{l}"].ravel().copy()
                       for l in range(1, net.n_layers + 1)]
    est.n_layers_ = len(dims)
    est.out_activation_ = {"softmax": "softmax", "sigmoid": "logistic"}.get(output, "identity")
    est.loss = "log_loss" if output != "identity" else "squared_error"
    L = len(dims) - 1
    acts = [Xr] + [None] * L
    deltas, cgr, igr = [None] * L, [None] * L, [None] * L
    sk_loss, cg, ig = est._backprop(Xr, Yr, sw, acts, deltas, cgr, igr)
    loss, cg2, ig2 = reference(net, X, Y, sw)
    np.testing.assert_allclose(flat_of(cg2, ig2), flat_of(cg, ig), rtol=1e-12, atol=1e-14)
    assert loss == pytest.approx(sk_loss, rel=1e-12)


def test_integer_weights_equal_repeated_examples(rng):
    net = Network([4, 9, 3], "tanh", "softmax", dtype=np.float64, seed=1, lambd=0.2)
    X, y, _ = data(rng, net.layer_dims, "softmax", 30, np.float64)
    w = rng.integers(0, 4, 30)
    w[0] = 1
    rep = np.repeat(np.arange(30), w)
    l1, g1 = net.loss_and_gradient(X, y, sample_weight=w)
    l2, g2 = net.loss_and_gradient(X[:, rep], y[rep])
    assert l1 == pytest.approx(l2, rel=1e-13)
    np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unit_weights_are_the_unweighted_step_exactly(rng, dtype):
    kw = dict(dtype=dtype, seed=2, lambd=0.1, keep_prob=[0.8])
    a, b = Network([5, 8, 2], "relu", "sigmoid", **kw), Network([5, 8, 2], "relu", "sigmoid", **kw)
    X, Y, _ = data(rng, a.layer_dims, "sigmoid", 37, dtype)
    oa, ob = Adam(0.01), Adam(0.01)
    for _ in range(3):
        assert a.train_step(X, Y, oa) == b.train_step(X, Y, ob, sample_weight=np.ones(37))
    np.testing.assert_array_equal(a.flat_parameters, b.flat_parameters)
    assert b.train_step(X, Y, ob, sample_weight=1.0) == a.train_step(X, Y, oa)
    assert a.evaluate(X, Y) == b.evaluate(X, Y, sample_weight=np.ones(37))


def test_thread_count_does_not_change_weighted_results(rng):
    dims = [30, 64, 5]
    X, y, sw = data(rng, dims, "softmax", 501, np.float64)
    runs = []
    for nt in (1, 2):
        net = Network(dims, "relu", "softmax", dtype=np.float64, seed=4, lambd=0.1,
                      n_threads=nt)
        net._kernel.min_flops_per_thread = 1
        net._kernel.team_policy = nt
        loss, grad = net.loss_and_gradient(X, y, sample_weight=sw)
        runs.append((loss, grad, net.train_step(X, y, SGD(0.1), sample_weight=sw),
                     net.flat_parameters.copy()))
    assert runs[0][0] == pytest.approx(runs[1][0], rel=1e-14)
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(runs[0][3], runs[1][3], rtol=1e-13, atol=1e-16)


def test_zero_weight_batch_makes_no_update(rng):
    net = Network([3, 4, 1], "tanh", "sigmoid", dtype=np.float64, seed=0)
    X, Y, _ = data(rng, net.layer_dims, "sigmoid", 8, np.float64)
    X = net.check_X(X)
    Yc, yt, labels = net.check_Y(Y, 8)
    opt = SGD(0.1, 0.9, velocity="step")
    P = net.flat_parameters.copy()
    assert net.train_batch(X, Yc, yt, labels, opt, sample_weight=np.zeros(8)) == 0.0
    np.testing.assert_array_equal(net.flat_parameters, P)
    assert opt.t == 0


@pytest.mark.parametrize("sw,exc,match", [
    (np.ones(7), ValueError, r"sample_weight has shape \(7,\); expected \(8,\)"),
    (np.ones((2, 4)), ValueError, r"expected \(8,\)"),
    (-np.ones(8), ValueError, "must be non-negative"),
    (np.r_[np.ones(7), np.nan], ValueError, "NaN or inf"),
    (np.zeros(8), ValueError, "sums to zero"),
    (np.array(["a"] * 8), TypeError, "must hold real numbers"),
])
def test_bad_sample_weight(rng, sw, exc, match):
    net = Network([3, 4, 1], "tanh", "sigmoid", dtype=np.float64, seed=0)
    X, Y, _ = data(rng, net.layer_dims, "sigmoid", 8, np.float64)
    P = net.flat_parameters.copy()
    for call in (lambda: net.train_step(X, Y, SGD(0.1), sample_weight=sw),
                 lambda: net.loss_and_gradient(X, Y, sample_weight=sw),
                 lambda: net.evaluate(X, Y, sample_weight=sw),
                 lambda: net.fit(X, Y, sample_weight=sw, verbose=False)):
        with pytest.raises(exc, match=match):
            call()
    np.testing.assert_array_equal(net.flat_parameters, P)


# ------------------------------------------------------- negative weights
# Network refuses them by default (test_bad_sample_weight); ensure_non_negative=False
# gives scikit-learn's MLP semantics (its fit calls _check_sample_weight without
# ensure_non_negative): the signed weights scale the deltas, the signed sum divides.
def signed(rng, m, total_sign):
    """Weights of both signs (m >= 2) whose sum has ``total_sign``."""
    sw = rng.standard_normal(m)
    sw[0], sw[1] = 2.0, -1.0
    if np.sign(sw.sum()) != total_sign:
        sw = -sw
    return sw


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: f"{a[1]}-{a[2]}-{len(a[0])}")
@pytest.mark.parametrize("m", [3, 17, 1000])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("nt", [1, 2])
@pytest.mark.parametrize("total_sign", [1, -1], ids=["sum>0", "sum<0"])
def test_negative_weights_opt_in_match_sklearn_backprop(rng, arch, m, dtype, order, nt,
                                                        total_sign):
    dims, hidden, output = arch
    net = Network(dims, hidden, output, dtype=dtype, seed=3, lambd=0.7, n_threads=nt)
    net._kernel.min_flops_per_thread = 1
    net._kernel.team_policy = nt
    X, Y, _ = data(rng, dims, output, m, dtype)
    X = np.asarray(X, order=order)
    sw = signed(rng, m, total_sign)
    for a in (X, Y, sw):
        a.flags.writeable = False
    want_loss, cg, ig = reference(net, X, Y, sw)
    want = flat_of(cg, ig)
    what = f"{arch} m={m} {np.dtype(dtype).name} {order} nt={nt} sum={sw.sum()}"
    loss, grad = net.loss_and_gradient(X, Y, sample_weight=sw, ensure_non_negative=False)
    assert loss == pytest.approx(want_loss, rel=TOL[np.dtype(dtype)] * 10), what
    assert_grad(grad, want, dtype, what)
    # the compiled step on checked data (what fastbp.sklearn runs)
    w = net.check_sample_weight(sw, m, ensure_non_negative=False)
    P0 = net.flat_parameters.astype(np.float64)
    Xc = net.check_X(X)
    Yc, yt, labels = net.check_Y(Y, m)
    got_loss = net.train_batch(Xc, Yc, yt, labels, SGD(0.5), sample_weight=w)
    assert got_loss == pytest.approx(want_loss, rel=TOL[np.dtype(dtype)] * 10), what
    assert_grad(net.flat_parameters, P0 - 0.5 * want, dtype, what)


def test_negative_weights_refused_by_default_with_the_reason(rng):
    net = Network([3, 4, 1], "tanh", "sigmoid", dtype=np.float64, seed=0)
    with pytest.raises(ValueError, match=r"non-negative; got a minimum of -1\.0 .*wrong"):
        net.check_sample_weight(np.r_[np.ones(7), -1.0], 8)
    np.testing.assert_array_equal(
        net.check_sample_weight([1, -1, 3], 3, ensure_non_negative=False), [1.0, -1.0, 3.0])


def test_signed_weights_summing_to_zero_raise(rng):
    from fastbp._validation import WeightSumZeroError
    net = Network([3, 4, 1], "tanh", "sigmoid", dtype=np.float64, seed=0)
    X, Y, _ = data(rng, net.layer_dims, "sigmoid", 4, np.float64)
    P = net.flat_parameters.copy()
    sw = np.array([1.0, -1.0, 2.5, -2.5])
    for call in (lambda: net.check_sample_weight(sw, 4, ensure_non_negative=False),
                 lambda: net.loss_and_gradient(X, Y, sample_weight=sw,
                                               ensure_non_negative=False)):
        # NumPy's np.average error (what scikit-learn raises), and a ValueError
        with pytest.raises(WeightSumZeroError, match="^Weights sum to zero, can't be "
                           "normalized: sample_weight of 4 examples .2 negative.") as info:
            call()
        assert isinstance(info.value, ZeroDivisionError)
        assert isinstance(info.value, ValueError)
    np.testing.assert_array_equal(net.flat_parameters, P)


def test_sample_weight_with_comm_is_refused(rng):
    # refused where the ranks agree on the setup (tests/test_distributed.py
    # has the ranks' side), so the communicator is checked first
    MPI = pytest.importorskip("mpi4py.MPI")
    net = Network([3, 4, 1], "tanh", "sigmoid", dtype=np.float64, seed=0)
    X, Y, _ = data(rng, net.layer_dims, "sigmoid", 8, np.float64)
    before = net.flat_parameters.copy()
    with pytest.raises(ValueError, match="not supported with comm="):
        net.train_step(X, Y, SGD(0.1), sample_weight=np.ones(8), comm=MPI.COMM_SELF)
    with pytest.raises(ValueError, match="not supported with comm="):
        net.fit(X, Y, sample_weight=np.ones(8), comm=MPI.COMM_SELF, verbose=False)
    np.testing.assert_array_equal(net.flat_parameters, before)
    with pytest.raises(TypeError, match="mpi4py communicator"):
        net.fit(X, Y, sample_weight=np.ones(8), comm=object(), verbose=False)


def test_weighted_evaluate(rng):
    for dims, hidden, output in ARCHS:
        net = Network(dims, hidden, output, dtype=np.float64, seed=6, lambd=0.4)
        X, Y, sw = data(rng, dims, output, 41, np.float64)
        loss, acc = net.evaluate(X, Y, sample_weight=sw)
        want_loss, _, _ = reference(net, X, Y, sw)
        assert loss == pytest.approx(want_loss, rel=1e-12)
        P = net.predict_proba(X)
        if output == "softmax":
            ok = np.argmax(P, axis=0) == Y
        elif output == "sigmoid":
            ok = np.mean((P > 0.5) == (Y > 0.5), axis=0)
        else:
            assert np.isnan(acc)
            continue
        assert acc == pytest.approx(np.average(ok, weights=sw), rel=1e-12)


@pytest.mark.parametrize("shuffle", [False, True])
def test_fit_with_weights_is_a_loop_of_weighted_steps(rng, shuffle):
    dims, m, bs = [4, 6, 3], 53, 16
    X, y, sw = data(rng, dims, "softmax", m, np.float64)
    a = Network(dims, "tanh", "softmax", dtype=np.float64, seed=8, lambd=0.05)
    b = Network(dims, "tanh", "softmax", dtype=np.float64, seed=8, lambd=0.05)
    hist = a.fit(X, y, epochs=3, batch_size=bs, optimizer=Adam(0.01, bias_correction="step"),
                 shuffle=shuffle, seed=11, sample_weight=sw, verbose=False)
    opt, order = Adam(0.01, bias_correction="step"), np.random.default_rng(11)
    for epoch in range(3):
        idx = order.permutation(m) if shuffle else np.arange(m)
        total = 0.0
        for j in range(0, m, bs):
            k = idx[j:j + bs]
            total += b.train_step(X[:, k], y[k], opt, sample_weight=sw[k]) * len(k)
        assert hist["loss"][epoch] == pytest.approx(total / m, rel=1e-12)
    np.testing.assert_allclose(a.flat_parameters, b.flat_parameters, rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------- loss_and_gradient

def test_loss_and_gradient_finite_differences(rng):
    so = pytest.importorskip("scipy.optimize")
    net = Network([4, 5, 3], "tanh", "softmax", dtype=np.float64, seed=9, lambd=0.3)
    X, y, sw = data(rng, net.layer_dims, "softmax", 31, np.float64)
    x0 = net.flat_parameters.copy()
    err = so.check_grad(lambda x: net.loss_and_gradient(X, y, sample_weight=sw, params=x)[0],
                        lambda x: net.loss_and_gradient(X, y, sample_weight=sw, params=x)[1],
                        x0, epsilon=1e-6)
    g = net.loss_and_gradient(X, y, sample_weight=sw, params=x0)[1]
    assert err < 1e-6 * max(1.0, np.linalg.norm(g))
    # and a cheaper, sharper central difference on a few coordinates
    for i in rng.choice(net.n_params, 8, replace=False):
        e = np.zeros_like(x0)
        e[i] = 1e-5
        fp = net.loss_and_gradient(X, y, sample_weight=sw, params=x0 + e)[0]
        fm = net.loss_and_gradient(X, y, sample_weight=sw, params=x0 - e)[0]
        assert (fp - fm) / 2e-5 == pytest.approx(g[i], rel=1e-6, abs=1e-9)


def test_loss_and_gradient_drives_lbfgs(rng):
    so = pytest.importorskip("scipy.optimize")
    net = Network([4, 8, 1], "relu", "identity", dtype=np.float64, seed=10, lambd=1e-2)
    X, Y, sw = data(rng, net.layer_dims, "identity", 60, np.float64)
    x0 = net.flat_parameters.copy()
    l0 = net.loss_and_gradient(X, Y, sample_weight=sw)[0]
    res = so.minimize(lambda x: net.loss_and_gradient(X, Y, sample_weight=sw, params=x), x0,
                      jac=True, method="L-BFGS-B", options={"maxiter": 200})
    # the network holds the last evaluated point; the optimum is what scipy reports
    got = net.loss_and_gradient(X, Y, sample_weight=sw, params=res.x)[0]
    assert got == pytest.approx(res.fun, rel=1e-14) and res.fun < 0.5 * l0
    want, _, _ = reference(net, X, Y, sw)
    assert got == pytest.approx(want, rel=1e-12)


def test_loss_and_gradient_params_and_dtypes(rng):
    net = Network([3, 4, 2], "tanh", "sigmoid", dtype=np.float32, seed=0)
    X, Y, _ = data(rng, net.layer_dims, "sigmoid", 9, np.float32)
    x = rng.standard_normal(net.n_params)
    loss, grad = net.loss_and_gradient(X, Y, params=x)
    assert grad.dtype == np.float64 and grad is not net.flat_grads
    np.testing.assert_array_equal(net.flat_parameters, x.astype(np.float32))
    np.testing.assert_array_equal(grad, net.flat_grads.astype(np.float64))
    # the returned gradient is not overwritten by the next call
    keep = grad.copy()
    net.loss_and_gradient(X, Y, params=x + 1)
    np.testing.assert_array_equal(grad, keep)
    # params=None: the current parameters, and no step or optimizer change
    step = net.step_count
    assert net.loss_and_gradient(X, Y)[0] == pytest.approx(
        net.loss_and_gradient(X, Y, params=net.flat_parameters)[0])
    assert net.step_count == step
    with pytest.raises(ValueError, match=r"params has shape \(3,\); expected \(26,\)"):
        net.loss_and_gradient(X, Y, params=np.zeros(3))
    with pytest.raises(TypeError, match="params must hold real numbers"):
        net.loss_and_gradient(X, Y, params=np.array(["a"] * 26))


def test_loss_and_gradient_bad_labels(rng):
    net = Network([3, 4, 3], "tanh", "softmax", dtype=np.float64, seed=0)
    X = rng.standard_normal((3, 5))
    with pytest.raises(ValueError, match="class labels Y must be in 0..2"):
        net.loss_and_gradient(X, np.array([0, 1, 2, 3, 0]))


def test_parameters_from_sklearn_layout(rng):
    # scikit-learn's coefs_ (n_in, n_out) go in transposed; coefs_ are W.T views
    net = Network([3, 5, 2], "relu", "identity", dtype=np.float64, seed=0)
    coefs = [rng.standard_normal((3, 5)), rng.standard_normal((5, 2))]
    ints = [rng.standard_normal(5), rng.standard_normal(2)]
    net.parameters = {"W1": coefs[0].T, "b1": ints[0], "W2": coefs[1].T, "b2": ints[1]}
    views = [net.parameters[f"W{l}"].T for l in (1, 2)]
    for v, c in zip(views, coefs):
        np.testing.assert_array_equal(v, c)
        assert np.shares_memory(v, net.flat_parameters)
    with pytest.raises(ValueError, match=r"parameters\['W1'\] has shape \(3, 5\)"):
        net.parameters = {"W1": coefs[0], "b1": ints[0], "W2": coefs[1].T, "b2": ints[1]}


def test_weights_of_extreme_magnitude_count_by_their_ratios(rng):
    """Weights of 1e308 made evaluate's sum overflow (it returned 0.0, 0.0)
    and uniform weights of 1e-320 made fit report a divergence (1 / their
    sum overflowed): only the ratios count, as documented."""
    X = rng.standard_normal((3, 40))
    y = rng.integers(0, 2, 40)
    net = Network([3, 4, 2], output="softmax", seed=0, dtype=np.float64)
    w = rng.uniform(0.5, 2.0, 40)
    ref = net.evaluate(X, y, sample_weight=w)
    for s in (2.0 ** 1000, 2.0 ** -1000):       # exact scalings
        np.testing.assert_allclose(net.evaluate(X, y, sample_weight=w * s), ref, rtol=1e-12)
    huge = np.ones(40)
    huge[:2] = 1e308
    loss, acc = net.evaluate(X, y, sample_weight=huge)
    np.testing.assert_allclose(
        (loss, acc), net.evaluate(X[:, :2], y[:2], sample_weight=[1.0, 1.0]), rtol=1e-12)

    def fitted(sw):
        n = Network([3, 4, 2], output="softmax", seed=0, dtype=np.float64)
        n.fit(X, y, sample_weight=sw, epochs=3, batch_size=8, verbose=False)
        return n.flat_parameters

    base = fitted(w)
    np.testing.assert_array_equal(fitted(w * 2.0 ** 600), base)
    np.testing.assert_array_equal(fitted(w * 2.0 ** -1000), base)
    np.testing.assert_allclose(fitted(np.full(40, 1e-320)), fitted(np.ones(40)), rtol=1e-12,
                               atol=1e-14)


def test_with_l2_the_weights_scale_counts_and_is_not_rescaled(rng):
    """With lambd > 0 the L2 term lambd / (2 sum(sw)) depends on the weights'
    size: rescaling them beyond 2^500 made the loss jump (1.53 at 2^499,
    1.92 at 2^500). They are taken as they are, and a sum that overflows is
    an error rather than a loss of 0."""
    X = rng.standard_normal((5, 40))
    y = rng.integers(0, 3, 40)
    net = Network([5, 7, 3], output="softmax", seed=0, dtype=np.float64, lambd=1.0)
    a = net.evaluate(X, y, sample_weight=np.full(40, 2.0 ** 499))[0]
    b = net.evaluate(X, y, sample_weight=np.full(40, 2.0 ** 500))[0]
    np.testing.assert_allclose(a, b, rtol=1e-12)
    with pytest.raises(ValueError, match="sums to inf.*lambd"):
        net.evaluate(X, y, sample_weight=np.full(40, 1e308))
    # without L2 the same weights count by their ratios only
    net0 = Network([5, 7, 3], output="softmax", seed=0, dtype=np.float64)
    np.testing.assert_allclose(net0.evaluate(X, y, sample_weight=np.full(40, 1e308)),
                               net0.evaluate(X, y), rtol=1e-12)
