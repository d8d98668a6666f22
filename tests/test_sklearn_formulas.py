"""The compiled pieces scikit-learn's MLP estimators need, end to end.

A fastbp.Network given scikit-learn's initial weights and mini-batches,
stepped with the step-form optimizers, per-example weights and
``lambd = alpha``, ends 3 epochs with the coefficients scikit-learn's
MLPClassifier / MLPRegressor reach (1e-8 relative, float64), and
``loss_and_gradient`` drives L-BFGS to scikit-learn's lbfgs loss. The
estimators themselves (fastbp.sklearn) are tested elsewhere; this pins the
kernels' formulas to scikit-learn's behaviour.
"""
import warnings
import zlib

import numpy as np
import pytest

from fastbp.network import Network
from fastbp.optim import SGD, Adam

nn = pytest.importorskip("sklearn.neural_network")
sk_utils = pytest.importorskip("sklearn.utils")
ConvergenceWarning = pytest.importorskip("sklearn.exceptions").ConvergenceWarning

HIDDEN = {"logistic": "sigmoid", "tanh": "tanh", "relu": "relu", "identity": "identity"}


def sk_init(dims, activation, rs):
    """scikit-learn's Glorot-uniform draw (MLP._init_coef), layer by layer."""
    factor = 2.0 if activation == "logistic" else 6.0
    coefs, ints = [], []
    for fan_in, fan_out in zip(dims[:-1], dims[1:]):
        bound = np.sqrt(factor / (fan_in + fan_out))
        coefs.append(rs.uniform(-bound, bound, (fan_in, fan_out)))
        ints.append(rs.uniform(-bound, bound, fan_out))
    return coefs, ints


def fastbp_run(Xr, Y, dims, output, kw, sw, epochs):
    """scikit-learn's _fit_stochastic, with fastbp doing each step."""
    rs = np.random.RandomState(kw["random_state"])
    net = Network(dims, HIDDEN[kw["activation"]], output, dtype=np.float64,
                  lambd=kw["alpha"])
    coefs, ints = sk_init(dims, kw["activation"], rs)
    net.parameters = {**{f"W{l + 1}": c.T for l, c in enumerate(coefs)},
                      **{f"b{l + 1}": b for l, b in enumerate(ints)}}
    lr0 = kw["learning_rate_init"]
    if kw["solver"] == "adam":
        opt = Adam(lr0, kw.get("beta_1", 0.9), kw.get("beta_2", 0.999),
                   kw.get("epsilon", 1e-8), bias_correction="step")
    else:
        opt = SGD(lr0, kw["momentum"], kw["nesterovs_momentum"], velocity="step")
    n, bs = Xr.shape[0], kw["batch_size"]
    idx, t, curve = np.arange(n), 0, []
    for _ in range(epochs):
        if kw["shuffle"]:
            idx = sk_utils.shuffle(idx, random_state=rs)
        total = 0.0
        for sl in sk_utils.gen_batches(n, bs):
            b = idx[sl]
            Yb = Y[b] if Y.ndim == 1 else Y[b].T
            loss = net.train_step(Xr[b].T, Yb, opt,
                                  sample_weight=None if sw is None else sw[b])
            if output == "identity":      # scikit-learn averages the squared loss over outputs
                data, l2 = net.last_loss_terms
                assert data + l2 == loss
                loss = data / dims[-1] + l2
            total += loss * len(b)
        curve.append(total / n)
        t += n
        if kw.get("learning_rate") == "invscaling":
            opt.lr = lr0 / (t + 1) ** kw.get("power_t", 0.5)
    return net, curve


CASES = {
    "multiclass-adam": ("clf", 3, dict(solver="adam", activation="relu")),
    "binary-nesterov": ("clf", 2, dict(solver="sgd", activation="tanh", momentum=0.9,
                                       nesterovs_momentum=True, learning_rate_init=0.05)),
    "multilabel-adam": ("multilabel", 3, dict(solver="adam", activation="logistic")),
    "multiclass-momentum-invscaling": ("clf", 4, dict(
        solver="sgd", activation="tanh", momentum=0.8, nesterovs_momentum=False,
        learning_rate="invscaling", power_t=0.3, learning_rate_init=0.2)),
    "regression-adam": ("reg", 1, dict(solver="adam", activation="tanh")),
    "regression2-nesterov": ("reg", 2, dict(solver="sgd", activation="relu", momentum=0.9,
                                            nesterovs_momentum=True, learning_rate_init=0.01)),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
def test_three_epochs_equal_sklearn(case, weighted, shuffle):
    task, n_out, extra = CASES[case]
    rng = np.random.default_rng(zlib.crc32(f"{case}{weighted}{shuffle}".encode()))
    n, n_x = 157, 6
    Xr = rng.standard_normal((n, n_x))
    kw = dict(hidden_layer_sizes=(9, 5), alpha=0.3, batch_size=32, random_state=3,
              learning_rate_init=1e-2, max_iter=3, shuffle=shuffle, tol=0.0)
    kw.update(extra)
    sw = rng.random(n) * 2 if weighted else None
    if task == "clf":
        y = rng.integers(0, n_out, n)
        est_cls, output = nn.MLPClassifier, ("softmax" if n_out > 2 else "sigmoid")
        Y = y if n_out > 2 else y.astype(np.float64).reshape(-1, 1)
        out_units = n_out if n_out > 2 else 1
    elif task == "multilabel":
        y = (rng.random((n, n_out)) > 0.5).astype(int)
        est_cls, output, Y, out_units = nn.MLPClassifier, "sigmoid", y.astype(np.float64), n_out
    else:
        y = rng.standard_normal((n, n_out)) if n_out > 1 else rng.standard_normal(n)
        est_cls, output, out_units = nn.MLPRegressor, "identity", n_out
        Y = y.reshape(n, -1)
    est = est_cls(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(Xr, y, sample_weight=sw)
    dims = [n_x, 9, 5, out_units]
    fit_kw = dict(kw, batch_size=min(kw["batch_size"], n))
    net, curve = fastbp_run(Xr, Y, dims, output, fit_kw, sw, 3)
    for l, (c, b) in enumerate(zip(est.coefs_, est.intercepts_), start=1):
        np.testing.assert_allclose(net.parameters[f"W{l}"].T, c, rtol=1e-8, atol=1e-12,
                                   err_msg=f"{case} W{l}")
        np.testing.assert_allclose(net.parameters[f"b{l}"].ravel(), b, rtol=1e-8, atol=1e-12,
                                   err_msg=f"{case} b{l}")
    np.testing.assert_allclose(curve, est.loss_curve_, rtol=1e-8)


@pytest.mark.parametrize("weighted", [False, True])
def test_lbfgs_reaches_sklearn_loss(weighted):
    so = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(12)
    n, n_x = 120, 5
    Xr = rng.standard_normal((n, n_x))
    y = rng.integers(0, 3, n)
    sw = rng.random(n) * 2 if weighted else None
    est = nn.MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", alpha=0.1, max_iter=60,
                           random_state=0, activation="tanh", tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(Xr, y, sample_weight=sw)
    rs = np.random.RandomState(0)
    coefs, ints = sk_init([n_x, 8, 3], "tanh", rs)
    net = Network([n_x, 8, 3], "tanh", "softmax", dtype=np.float64, lambd=0.1)
    net.parameters = {"W1": coefs[0].T, "b1": ints[0], "W2": coefs[1].T, "b2": ints[1]}
    X = Xr.T
    res = so.minimize(lambda x: net.loss_and_gradient(X, y, sample_weight=sw, params=x),
                      net.flat_parameters.copy(), jac=True, method="L-BFGS-B",
                      options={"maxiter": 60, "maxfun": 15000, "gtol": 0.0})   # sklearn's
    # same objective and gradient: L-BFGS-B follows scikit-learn's path (the flat
    # layouts differ only by a permutation, which changes dot products' rounding)
    assert res.fun == pytest.approx(est.loss_, rel=1e-6)
