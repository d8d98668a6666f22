"""Losses from the logits, and the Poisson loss (issue 12, item 1).

Wherever fastbp holds the output's pre-activation Z[L] (Network.train_step,
train_batch, evaluate, fit's history, ``fastbp.loss(Z, Y, ..., from_logits=True)``)
the loss is computed from it, so it stays exact where the probabilities
saturate. Expected values are written from the math (softplus, log-sum-exp,
the half Poisson deviance), or taken from ``fastbp.reference.loss_from_logits``
(float64 NumPy) and scikit-learn's ``poisson_loss``.

Network cases use one layer with W = I and b = 0, so Z[L] is X itself (an
identity GEMM is exact) and the logits can be chosen: +-1e3, +-88, +-710
(beyond float32's and float64's exp overflow) and ordinary values.
"""
import math

import numpy as np
import pytest

import fastbp
from fastbp import reference as ref
from fastbp.network import Network
from fastbp.optim import SGD

from conftest import DTYPES, layout

TINY_LR = 1e-30     # an update that changes nothing: train_step reports the loss


def _dt_id(t):
    return np.dtype(t).name


def _softplus(z):
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def _identity_net(n, output, dtype, n_threads=1):
    net = Network([n, n], output=output, dtype=dtype, seed=0, n_threads=n_threads)
    net.parameters = {"W1": np.eye(n), "b1": np.zeros((n, 1))}
    net._kernel.min_flops_per_thread = 1     # let two threads share even 1 x 1
    net._kernel.team_policy = n_threads      # and run them, whatever the timings
    return net


# ------------------------------------------------- the cases, from the math

@pytest.mark.parametrize("dtype,z", [(np.float32, 20.0), (np.float64, 37.0),
                                     (np.float32, 100.0), (np.float64, 800.0)])
def test_saturated_sigmoid_reports_softplus(dtype, z):
    # y = 0, x = z: the true loss is softplus(z) = z + log1p(e^-z), not -log(tiny)
    expected = _softplus(z)     # softplus(20) = 20.000000002061153, softplus(37) = 37.0
    net = _identity_net(1, "sigmoid", dtype)
    X = np.array([[z]], dtype)
    Y = np.zeros((1, 1), dtype)
    loss, _ = net.evaluate(X, Y)
    assert loss == pytest.approx(expected, rel=1e-14), loss
    assert net.train_step(X, Y, SGD(TINY_LR)) == pytest.approx(expected, rel=1e-14)
    assert fastbp.loss(X, Y, "binary_crossentropy", from_logits=True) == \
        pytest.approx(expected, rel=1e-14)
    hist = net.fit(X, Y, epochs=2, optimizer=SGD(TINY_LR), verbose=False)
    assert hist["loss"] == pytest.approx([expected] * 2, rel=1e-14)
    assert net.loss_and_gradient(X, Y)[0] == pytest.approx(expected, rel=1e-14)
    if z == 20.0:
        assert abs(loss - 20.000000002061153) < 1e-12


def test_saturated_sigmoid_other_side():
    # x = -40, y = 1: softplus(40) = 40 + 4.2e-18; y = 0 there: softplus(-40) = e^-40
    net = _identity_net(1, "sigmoid", np.float32)
    X = np.array([[-40.0, -40.0]], np.float32)
    Y = np.array([[1.0, 0.0]], np.float32)
    assert net.evaluate(X, Y)[0] == pytest.approx((40.0 + math.exp(-40.0)) / 2, rel=1e-14)


@pytest.mark.parametrize("labels", ["indices", "one-hot"])
def test_softmax_large_logit_gap_float32(labels):
    logits = np.array([[14.4], [150.1], [3.5]], np.float32)
    z = logits[:, 0].astype(np.float64)          # the float32 values, exactly
    expected = z[1] + math.log1p(math.exp(z[0] - z[1]) + math.exp(z[2] - z[1])) - z[0]
    assert abs(expected - 135.7) < 1e-5          # 135.7 up to float32's rounding of the logits
    Y = np.array([0]) if labels == "indices" else np.array([[1.0], [0.0], [0.0]], np.float32)
    net = _identity_net(3, "softmax", np.float32)
    assert net.evaluate(logits, Y)[0] == pytest.approx(expected, rel=1e-14)
    assert net.train_step(logits, Y, SGD(TINY_LR)) == pytest.approx(expected, rel=1e-14)
    if labels == "one-hot":
        assert fastbp.loss(logits, Y, "crossentropy", from_logits=True) == \
            pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
@pytest.mark.parametrize("gap", [12.0, 40.0, 80.0])
@pytest.mark.parametrize("labels", ["indices", "one-hot"])
def test_confident_softmax_loss_keeps_its_relative_precision(dtype, gap, labels):
    # the true class leads by `gap`: the cost is log1p(e^-gap + e^-(gap + 1)),
    # about e^-gap (6e-6 to 2e-35, still normal in float32: the exponentials
    # run in the dtype). log(1 + rest) rounded rest against 1: 0.9% off in
    # float32 at gap 12, and 0 in float64 from gap 37 on
    tol = 1e-6 if dtype == np.float32 else 1e-13
    logits = np.array([[0.0], [-gap], [-gap - 1.0]], dtype)
    expected = math.log1p(math.exp(-gap) + math.exp(-gap - 1.0))
    Y = np.array([0]) if labels == "indices" else np.array([[1.0], [0.0], [0.0]], dtype)
    net = _identity_net(3, "softmax", dtype)
    assert net.evaluate(logits, Y)[0] == pytest.approx(expected, rel=tol)
    assert net.train_step(logits, Y, SGD(TINY_LR)) == pytest.approx(expected, rel=tol)
    if labels == "one-hot":
        assert fastbp.loss(logits, Y, "crossentropy", from_logits=True) == \
            pytest.approx(expected, rel=tol)


def test_from_probabilities_keeps_the_documented_clip():
    # fastbp.loss(AL, Y) sees only probabilities: -log(tiny) per saturated element
    AL = np.array([[1.0]], np.float32)
    assert fastbp.loss(AL, np.zeros((1, 1)), "binary_crossentropy") == \
        pytest.approx(-math.log(np.finfo(np.float32).tiny), rel=1e-6)


# ------------------------------------------- compiled paths against the reference

EXTREME = np.array([1e3, -1e3, 88.0, -88.0, 710.0, -710.0, 0.0, 3.5, -2.25])


def _logits(rng, n, m, dtype, extreme):
    Z = 4 * rng.standard_normal((n, m))
    if extreme:
        Z.flat[:min(Z.size, 9)] = EXTREME[:min(Z.size, 9)]
        Z.flat[9::7] = rng.choice(EXTREME, Z.flat[9::7].shape)
    return Z.astype(dtype)


def _targets(rng, loss, n, m, ydtype, dtype):
    if loss == "crossentropy":
        Y = np.eye(n)[rng.integers(0, n, m)].T
    elif loss == "binary_crossentropy":
        Y = rng.integers(0, 2, (n, m)).astype(np.float64)
        if ydtype == "same":
            Y[:, ::3] = rng.random((n, Y[:, ::3].shape[1]))     # soft targets
    elif loss == "poisson":
        Y = rng.poisson(2.0, (n, m)).astype(np.float64)
    else:
        Y = rng.standard_normal((n, m)) if ydtype == "same" else rng.integers(0, 4, (n, m))
    return Y.astype(dtype if ydtype == "same" else ydtype)


def _close(got, expected, Z, Y, loss, params):
    """Equal within rounding: the kernels form the linear terms (z y, max - z)
    exactly in double and the bounded transcendental ones (log1p(e^-|z|) <= log 2,
    the log of a softmax column's shifted sum <= log n, summed over n terms)
    in Z's dtype; Poisson's e^z in double. So the bound is a few ulps of Z's
    dtype per element and per summed term, relative to the terms' magnitude."""
    if not math.isfinite(expected):
        assert got == expected or (math.isnan(got) and math.isnan(expected)), \
            f"{got!r} != {expected!r}; {params}"
        return
    n, m = Z.shape
    z = np.abs(Z.astype(np.float64))
    y = np.abs(np.asarray(Y, dtype=np.float64))
    scale = (np.sum(z * (1 + y)) + np.sum(np.exp(np.minimum(z, 700))) + y.sum()
             + n * m) / m
    tol = 1e-13 * scale + 1e-300
    if Z.dtype == np.float32 and loss in ("binary_crossentropy", "crossentropy"):
        tol += 4 * (n + 4) * n * float(np.finfo(np.float32).eps)   # per column, mean over m
    assert abs(got - expected) <= tol, \
        f"{got!r} != {expected!r} (diff {abs(got - expected):.3g}); {params}"


NET_SHAPES = [(1, 1), (1, 3), (3, 17), (17, 1000), (3, 1000), (17, 3), (1, 1000)]
LOSS_OUTPUT = {"binary_crossentropy": "sigmoid", "crossentropy": "softmax", "mse": "identity",
               "poisson": "exp"}


@pytest.mark.parametrize("extreme", [False, True], ids=["normal", "extreme"])
@pytest.mark.parametrize("loss", ref.LOSSES)
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
@pytest.mark.parametrize("shape", NET_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_network_loss_matches_reference(shape, dtype, loss, extreme, rng):
    n, m = shape
    if loss == "crossentropy" and n < 2:
        pytest.skip("softmax needs 2 units")
    output = LOSS_OUTPUT[loss]
    Z = _logits(rng, n, m, dtype, extreme)
    for order_z, order_y, ydtype in (("C", "C", "same"), ("F", "F", np.uint8),
                                     ("F", "C", np.int64)):
        Y = layout(_targets(rng, loss, n, m, ydtype, dtype), order_y, True)
        X = layout(Z, order_z, True)
        with np.errstate(all="ignore"):
            expected = ref.loss_from_logits(Z, Y, loss)
        params = (f"shape={shape} dtype={_dt_id(dtype)} loss={loss} Z={order_z} Y={order_y} "
                  f"Y dtype={Y.dtype}")
        results = []
        for nt in (1, 2):
            net = _identity_net(n, output, dtype, nt)
            ev = net.evaluate(X, Y)[0] if math.isfinite(expected) or loss != "mse" else None
            if math.isfinite(expected):
                got = net.train_step(X, Y, SGD(TINY_LR))
            else:
                with pytest.raises(FloatingPointError) as info:
                    net.train_step(X, Y, SGD(TINY_LR))
                got = info.value.loss
            _close(got, expected, Z, Y, loss, params + f" train_step n_threads={nt}")
            if ev is not None:
                _close(ev, expected, Z, Y, loss, params + f" evaluate n_threads={nt}")
            results.append((got, ev))
        assert results[0] == results[1] or np.isnan(results[0][0]), \
            f"thread count changed the loss: {results}; {params}"
        with np.errstate(all="ignore"):
            got = fastbp.loss(X, Y, loss, from_logits=True)
        _close(got, expected, Z, Y, loss, params + " fastbp.loss(from_logits=True)")


@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_class_index_labels_match_one_hot(dtype, rng):
    Z = _logits(rng, 17, 1000, dtype, True)
    idx = rng.integers(0, 17, 1000)
    net = _identity_net(17, "softmax", dtype)
    expected = ref.loss_from_logits(Z, idx, "crossentropy")
    _close(net.evaluate(Z, idx)[0], expected, Z, np.ones(1), "crossentropy", "evaluate")
    _close(net.train_step(Z, idx, SGD(TINY_LR)), expected, Z, np.ones(1), "crossentropy",
           "train_step")


# ------------------------------------------------------------------------- Poisson

def test_poisson_network_matches_sklearn_poisson_loss(rng):
    from sklearn.neural_network._base import poisson_loss
    X = rng.standard_normal((4, 300))
    Y = rng.poisson(3.0, (2, 300)).astype(np.float64)
    net = Network([4, 8, 2], output="exp", dtype="float64", seed=1)
    mu = net.predict_proba(X)
    assert np.all(mu > 0)
    # scikit-learn's rows are examples: y_true, y_pred of shape (m, n_out)
    expected = poisson_loss(Y.T, mu.T)
    assert net.evaluate(X, Y)[0] == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(net.predict(X), mu, rtol=0)
    hist = net.fit(X, Y, epochs=30, batch_size=50, optimizer=SGD(0.02), verbose=False)
    assert hist["loss"][-1] < hist["loss"][0]
    assert net.evaluate(X, Y)[0] == pytest.approx(
        poisson_loss(Y.T, net.predict_proba(X).T), rel=1e-12)


def test_poisson_predict_is_exp_of_the_logits(rng):
    X = rng.standard_normal((3, 11))
    net = Network([3, 1], output="exp", dtype="float64", seed=2)
    W, b = net.parameters["W1"], net.parameters["b1"]
    np.testing.assert_allclose(net.predict(X), np.exp(W @ X + b)[0], rtol=1e-14)
    assert net.predict(X).shape == (11,)


@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_poisson_gradient_is_exp_z_minus_y(dtype, rng):
    # one layer: dW = (1/m) (e^Z - Y) X^T, db = (1/m) sum_j (e^Z - Y)
    X = rng.standard_normal((3, 9)).astype(dtype)
    Y = rng.poisson(1.0, (2, 9)).astype(dtype)
    net = Network([3, 2], output="exp", dtype=dtype, seed=3)
    W = net.parameters["W1"].astype(np.float64)
    b = net.parameters["b1"].astype(np.float64)
    D = np.exp(W @ X + b) - Y
    net.forward(X)
    g = net.backward(Y)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(g["dW1"], D @ X.T / 9, rtol=tol, atol=tol)
    np.testing.assert_allclose(g["db1"], D.sum(axis=1, keepdims=True) / 9, rtol=tol, atol=tol)


def test_poisson_loss_from_the_mean_and_from_the_logits_agree(rng):
    Z = rng.standard_normal((3, 40))
    Y = rng.poisson(2.0, (3, 40))
    a = fastbp.loss(np.exp(Z), Y, "poisson")
    b = fastbp.loss(Z, Y, "poisson", from_logits=True)
    # written out: mean over examples of sum over outputs of e^z - y z + y log y - y
    with np.errstate(divide="ignore", invalid="ignore"):
        ylogy = np.where(Y > 0, Y * np.log(np.where(Y > 0, Y, 1)), 0.0)
    expected = np.sum(np.exp(Z) - Y * Z + ylogy - Y) / 40
    assert a == pytest.approx(expected, rel=1e-12)
    assert b == pytest.approx(expected, rel=1e-12)


def test_poisson_output_delta_is_mu_minus_y(rng):
    mu = np.exp(rng.standard_normal((2, 5)))
    Y = rng.poisson(2.0, (2, 5)).astype(np.float64)
    np.testing.assert_array_equal(fastbp.output_delta(mu, Y, "poisson"), mu - Y)


def test_exp_is_a_documented_output():
    assert "exp" in fastbp.network.OUTPUTS and fastbp.network.OUTPUTS["exp"] == "poisson"
    assert "poisson" in fastbp.LOSSES
    with pytest.raises(ValueError, match="exp: Poisson"):
        Network([2, 1], output="poisson")


def test_weighted_evaluate_and_train_step_use_the_logits():
    # sample weights (1, 3) on two saturated examples: the weighted mean of softplus
    net = _identity_net(1, "sigmoid", np.float32)
    X = np.array([[20.0, -30.0]], np.float32)
    Y = np.array([[0.0, 1.0]], np.float32)
    w = np.array([1.0, 3.0])
    expected = (_softplus(20.0) + 3 * _softplus(30.0)) / 4
    assert net.evaluate(X, Y, sample_weight=w)[0] == pytest.approx(expected, rel=1e-14)
    assert net.train_step(X, Y, SGD(TINY_LR), sample_weight=w) == \
        pytest.approx(expected, rel=1e-14)
