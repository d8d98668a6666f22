"""Activations and their derivatives on chosen values, through the public kernels.

With n_prev = 1, W = [[1]] and b = 0, dense_forward's Z is exactly the input
row, so A = g(z) is observed for any z we pick. With n = 1, W = ones and
dZ = ones, dense_backward's W^T dZ is exactly 1, so dZ_prev = g'(.) is
observed directly. That exposes: extreme arguments (|z| up to 1e4: no
overflow, finite results), exact zeros (relu'(0) = 0), alpha, NaN and inf.
"""
import warnings

import numpy as np
import pytest

import fastbp
from fastbp import reference as ref
from fastbp.network import Network

from conftest import DTYPES, assert_same, assert_within, central_differences, elem_tol

ACTIVATIONS = ref.ACTIVATIONS
FROM_Z = ref.DERIVATIVE_FROM_Z


def _dt_id(t):
    return np.dtype(t).name


def test_names_match_reference():
    assert tuple(fastbp.ACTIVATIONS) == ref.ACTIVATIONS
    assert tuple(fastbp.LOSSES) == ref.LOSSES


def _values(dtype):
    """Arguments from -1e4 to 1e4: a dense grid near 0, the float32 exp
    overflow region (~88), and the extremes, both signs, and exact zeros."""
    near = np.linspace(-8, 8, 161)
    far = np.geomspace(1e-6, 1e4, 60)
    special = np.array([0.0, -0.0, 1.0, -1.0, 20.0, 40.0, 87.0, 88.8, 89.0, 100.0,
                        700.0, 709.0, 710.0, 750.0, 1e3, 5e3, 1e4])
    v = np.concatenate([near, far, -far, special, -special])
    return v.astype(dtype)


def _forward_g(z, act, alpha=None, n_threads=None):
    """A = g(z) through dense_forward with an exact identity GEMM."""
    z = np.asarray(z).reshape(1, -1)
    W = np.ones((1, 1), z.dtype)
    b = np.zeros((1, 1), z.dtype)
    Z, A = fastbp.dense_forward(z, W, b, act, alpha=alpha, n_threads=n_threads)
    return Z, A


def _backward_dg(Z_prev, A_prev, act, alpha=None, pass_z=True, n_threads=None):
    """dZ_prev = 1 * g'(.) through dense_backward with W^T dZ == 1 exactly."""
    Z_prev = np.asarray(Z_prev).reshape(1, -1)
    A_prev = np.asarray(A_prev).reshape(1, -1)
    dt = A_prev.dtype
    m = A_prev.shape[1]
    dZ = np.ones((1, m), dt)
    W = np.ones((1, 1), dt)
    dZp, _, _ = fastbp.dense_backward(dZ, A_prev, W, act, Z_prev=Z_prev if pass_z else None,
                                      alpha=alpha, n_threads=n_threads)
    return dZp


@pytest.mark.parametrize("alpha", [None, 0.2])
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_activation_values(dtype, act, alpha):
    z = _values(dtype)
    params = f"dtype={_dt_id(dtype)} activation={act} alpha={alpha}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            Z, A = _forward_g(z, act, alpha)
    assert_same(Z[0], z, "Z (identity GEMM must be exact)", params)
    with np.errstate(all="ignore"):  # the reference may warn; the kernel must not
        expected = ref.activation(z, act, alpha)
    assert np.isfinite(expected).all(), f"reference not finite; {params}"
    assert np.isfinite(A).all(), (
        f"non-finite g(z) at z={z[~np.isfinite(A[0])][:5]}; {params}")
    assert_within(A[0], expected, elem_tol(dtype, expected, z), "A", params)


# Z_prev is optional where A determines g' (and required otherwise: test_errors)
@pytest.mark.parametrize("act,pass_z", [(a, True) for a in ACTIVATIONS]
                         + [(a, False) for a in ACTIVATIONS if a not in FROM_Z])
@pytest.mark.parametrize("alpha", [None, 0.2])
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_derivative_values(dtype, alpha, act, pass_z):
    z = _values(dtype)
    with np.errstate(all="ignore"):
        a = ref.activation(z, act, alpha)
        v = z if act in FROM_Z else a
        expected = ref.activation_derivative(v, act, alpha)
    params = f"dtype={_dt_id(dtype)} activation={act} alpha={alpha} Z_prev given={pass_z}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            d = _backward_dg(z, a, act, alpha, pass_z=pass_z)
    assert np.isfinite(expected).all(), f"reference not finite; {params}"
    assert np.isfinite(d).all(), f"non-finite g' at z={z[~np.isfinite(d[0])][:5]}; {params}"
    assert_within(d[0], expected, elem_tol(dtype, expected, v), "g'", params)


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_derivative_matches_finite_difference_of_forward(dtype, act):
    # g' of the backward kernel against a central difference of the forward
    # kernel: ties the two halves together without the reference.
    z = np.concatenate([np.linspace(-6, -0.05, 40), np.linspace(0.05, 6, 40)]).astype(dtype)
    h = 1e-3 if dtype is np.float32 else 1e-6
    zp = (z.astype(np.float64) + h).astype(dtype)
    zm = (z.astype(np.float64) - h).astype(dtype)
    _, A = _forward_g(z, act)
    _, Ap = _forward_g(zp, act)
    _, Am = _forward_g(zm, act)
    fd = (Ap[0].astype(np.float64) - Am[0]) / (zp.astype(np.float64) - zm)
    d = _backward_dg(z, A, act)
    tol = 5e-3 if dtype is np.float32 else 1e-7
    np.testing.assert_allclose(d[0], fd, rtol=tol, atol=tol,
                               err_msg=f"dtype={_dt_id(dtype)} activation={act}")


@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_kinks_at_zero(dtype):
    # relu'(0) = 0 (NumPy course code, PyTorch, JAX); leaky_relu'(0) = alpha;
    # elu'(0) = alpha (derivative taken from A = 0: a + alpha).
    z = np.array([-1.0, -0.0, 0.0, 1.0], dtype)
    for act, alpha, want in [("relu", None, [0, 0, 0, 1]),
                             ("leaky_relu", None, [0.01, 0.01, 0.01, 1]),
                             ("leaky_relu", 0.3, [0.3, 0.3, 0.3, 1]),
                             ("elu", 0.5, [0.5 * np.exp(-1.0), 0.5, 0.5, 1])]:
        _, A = _forward_g(z, act, alpha)
        d = _backward_dg(z, A, act, alpha)
        np.testing.assert_allclose(d[0], np.array(want, dtype), rtol=1e-6,
                                   err_msg=f"dtype={_dt_id(dtype)} activation={act} "
                                           f"alpha={alpha}")


@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_alpha_changes_only_leaky_and_elu(dtype):
    z = np.linspace(-3, 3, 13).astype(dtype)
    for act in ACTIVATIONS:
        _, A_default = _forward_g(z, act)
        _, A_alpha = _forward_g(z, act, alpha=0.3)
        changed = not np.array_equal(A_default, A_alpha)
        assert changed == (act in ("leaky_relu", "elu")), (
            f"alpha=0.3 {'changed' if changed else 'did not change'} {act}; "
            f"dtype={_dt_id(dtype)}")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=str)
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_nonfinite_like_reference(dtype, act, value):
    z = np.array([value, 1.0, -2.0], dtype)
    params = f"dtype={_dt_id(dtype)} activation={act} z={value}"
    Z, A = _forward_g(z, act)
    with np.errstate(all="ignore"):
        expected = ref.activation(z, act)
        v = z if act in FROM_Z else expected
        dexp = ref.activation_derivative(v, act)
    assert_within(A[0], expected, elem_tol(dtype, expected, 1.0), "A", params)
    d = _backward_dg(z, expected, act)
    assert_within(d[0], dexp, elem_tol(dtype, dexp, 1.0), "g'", params)


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_large_layer_no_warnings(dtype, act, rng):
    # a whole layer whose Z reaches |z| ~ 1e4: forward then backward, no warning
    A_prev = rng.standard_normal((4, 50)).astype(dtype)
    W = (1000 * rng.standard_normal((6, 4))).astype(dtype)
    b = np.zeros((6, 1), dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            Z, A = fastbp.dense_forward(A_prev, W, b, act)
            dZ = np.ones((3, 50), dtype)
            W2 = np.ones((3, 6), dtype)
            dZp, dW, db = fastbp.dense_backward(dZ, A, W2, act, Z_prev=Z)
            S = fastbp.softmax(Z)
    params = f"dtype={_dt_id(dtype)} activation={act} max|Z|={np.abs(Z).max():.3g}"
    assert np.abs(Z).max() > 1e3, params
    for name, x in (("A", A), ("dZ_prev", dZp), ("dW", dW), ("softmax", S)):
        assert np.isfinite(x).all(), f"{name} not finite; {params}"


@pytest.mark.parametrize("act", ["leaky_relu", "elu"])
def test_network_refuses_negative_alpha_where_the_derivative_reads_the_output(rng, act):
    """The kernels read leaky_relu's and elu's derivative from the layer's
    output A, which tells Z < 0 from Z > 0 only when alpha >= 0: Network took
    alpha=-0.5 and returned gradients off by up to 5.8 (the layer functions
    already refused it)."""
    with pytest.raises(ValueError, match=f"alpha must be >= 0 for {act}"):
        Network([3, 4, 1], hidden=act, output="identity", alpha=-0.5)
    # alpha >= 0 gives the gradient of the loss (central differences)
    X, Y = rng.standard_normal((3, 5)), rng.standard_normal((1, 5))
    net = Network([3, 4, 1], hidden=act, output="identity", alpha=0.5, dtype="float64",
                  seed=0)
    _, g = net.loss_and_gradient(X, Y)
    np.testing.assert_allclose(g, central_differences(net, X, Y), atol=1e-7)
    # an activation without alpha takes any, and says it has no effect
    with pytest.warns(UserWarning, match=r"alpha=-0\.5 has no effect.*hidden activation is "
                                         r"'relu' \(did you mean hidden='leaky_relu'\?\)"):
        net = Network([3, 4, 1], hidden="relu", alpha=-0.5)
    assert net.alpha == -0.5 and "alpha" not in repr(net)
    assert net.get_config()["alpha"] is None        # so Network(**config) does not warn again
    lr = Network([3, 4, 4, 1], hidden=["relu", "leaky_relu"], alpha=0.3, seed=0)
    assert "alpha=0.3" in repr(lr)                  # the networks of two alphas differ in repr
    assert repr(lr) != repr(Network([3, 4, 4, 1], hidden=["relu", "leaky_relu"], alpha=0.01))
