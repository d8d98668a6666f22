"""fastbp.output_delta, fastbp.loss and fastbp.softmax against fastbp.reference.

Grid: (n, m) over the sizes 1, 3, 17, 1000 x float32/float64 x C/F order of
AL (Z) and Y x out= given or not x read-only inputs x n_threads 1/2 x every
loss x label dtypes (float, int, bool, uint8). output_delta is one
subtraction per element and must equal the reference bit for bit.
"""
import itertools
import math
import warnings

import numpy as np
import pytest

import fastbp
from fastbp import reference as ref

from conftest import (DTYPES, EPS, TINY, assert_same, assert_unchanged, assert_within,
                      layout, snapshot)

SIZES = (1, 3, 17, 1000)
SHAPES2 = [s for s in itertools.product(SIZES, SIZES) if s != (1000, 1000)]
YDTYPES = ("same", np.uint8, np.bool_, np.int64, np.int32)
# AL order, Y order, out given, read-only: the full 2^4 would double the grid
# for nothing; this half covers every pair of the four factors.
LAYOUTS = [dict(AL=o1, Y=o2, out=bool(x), readonly=bool(y))
           for (o1, o2, x, y) in [("C", "C", 0, 0), ("C", "F", 1, 1), ("F", "C", 1, 0),
                                  ("F", "F", 0, 1), ("C", "C", 1, 1), ("C", "F", 0, 0),
                                  ("F", "C", 0, 1), ("F", "F", 1, 0)]]


def _dt_id(t):
    return np.dtype(t).name


def _lay_id(d):
    return f"AL={d['AL']}-Y={d['Y']}{'-out' if d['out'] else ''}{'-ro' if d['readonly'] else ''}"


def _shape_id(s):
    return "x".join(map(str, s))


def _labels(rng, shape, loss, ydtype, dtype):
    """Targets of ``loss`` in the given dtype ('same' = AL's dtype)."""
    n, m = shape
    if loss == "crossentropy":
        # one-hot columns (all ones for one row): the loss's domain
        Y = np.eye(n)[rng.integers(0, n, m)].T
    elif loss == "poisson":
        Y = rng.poisson(2.0, shape)
    elif loss == "mse" and ydtype == "same":
        Y = rng.standard_normal(shape)
    elif loss == "mse" and np.dtype(ydtype).kind in "iu":
        Y = rng.integers(0, 5, shape)
    else:
        Y = rng.integers(0, 2, shape)
    return np.ascontiguousarray(Y).astype(dtype if ydtype == "same" else ydtype)


def _outputs(rng, shape, loss, dtype):
    """AL as the loss expects it: sigmoid / softmax / identity / exp outputs."""
    Z = 3 * rng.standard_normal(shape)
    if loss == "binary_crossentropy":
        AL = ref.activation(Z, "sigmoid")
    elif loss == "crossentropy":
        AL = ref.softmax(Z)
    elif loss == "poisson":
        AL = np.exp(Z)
    else:
        AL = Z
    return AL.astype(dtype)


def loss_tol(AL, Y, loss):
    """Bound for |kernel - reference| of the mean cost: a few ulps per term in
    AL's dtype, plus float64 summation over n m terms."""
    AL64 = AL.astype(np.float64)
    Y64 = np.asarray(Y).astype(np.float64)
    t = TINY[AL.dtype]
    with np.errstate(all="ignore"):
        if loss == "binary_crossentropy":
            terms = (np.abs(Y64 * np.log(np.maximum(AL64, t)))
                     + np.abs((1 - Y64) * np.log(np.maximum(1 - AL64, t))))
        elif loss == "crossentropy":
            terms = np.abs(Y64 * np.log(np.maximum(AL64, t)))
        elif loss == "poisson":
            terms = (np.abs(AL64) + np.abs(Y64 * np.log(np.maximum(AL64, t)))
                     + np.abs(Y64 * np.log(np.maximum(Y64, 1))) + np.abs(Y64))
        else:
            terms = 0.5 * (AL64 - Y64) ** 2
    S = terms.sum()
    return (16 * EPS[AL.dtype] + 4 * AL.size * EPS[np.dtype(np.float64)]) * S / AL.shape[1] \
        + 1e-300


# ------------------------------------------------------------------ output_delta
# 1000 x 1000 once per dtype (time)
OD_CASES = ([(s, d, lay, t) for s in SHAPES2 for d in DTYPES for lay in LAYOUTS
             for t in (1, 2)]
            + [((1000, 1000), np.float32, LAYOUTS[0], 2),
               ((1000, 1000), np.float64, LAYOUTS[1], 2)])


@pytest.mark.parametrize("shape,dtype,lay,n_threads", OD_CASES,
                         ids=[f"{_shape_id(s)}-{_dt_id(d)}-{_lay_id(lay)}-t{t}"
                              for s, d, lay, t in OD_CASES])
def test_output_delta_grid(shape, dtype, lay, n_threads, rng):
    ro = lay["readonly"]
    for loss in ref.LOSSES:
        AL0 = _outputs(rng, shape, loss, dtype)
        AL = layout(AL0, lay["AL"], ro)
        for ydtype in YDTYPES:
            Y = layout(_labels(rng, shape, loss, ydtype, dtype), lay["Y"], ro)
            params = (f"shape={shape} dtype={_dt_id(dtype)} {_lay_id(lay)} "
                      f"n_threads={n_threads} loss={loss} Y dtype={Y.dtype}")
            before = snapshot(AL, Y)
            if lay["out"]:
                out = np.full(shape, np.nan, dtype)
                dZ = fastbp.output_delta(AL, Y, loss, out=out, n_threads=n_threads)
                assert dZ is out, f"out= object not returned; {params}"
            else:
                dZ = fastbp.output_delta(AL, Y, loss, n_threads=n_threads)
            assert dZ.flags.c_contiguous, params
            assert_same(dZ, ref.output_delta(AL, Y, loss), "dZ", params)
            assert_unchanged([AL, Y], before, params)


@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_output_delta_row_vector_labels(dtype, rng):
    # with one output unit, Y may be the course's (m,) label vector
    AL = _outputs(rng, (1, 37), "binary_crossentropy", dtype)
    Y = rng.integers(0, 2, 37).astype(np.uint8)
    dZ = fastbp.output_delta(AL, Y, "binary_crossentropy")
    assert_same(dZ, AL - Y.astype(dtype).reshape(1, -1), "dZ", f"Y (m,) dtype={_dt_id(dtype)}")


@pytest.mark.parametrize("kind", ["S", "N", "U"])
@pytest.mark.parametrize("which", ["AL", "Y"])
def test_output_delta_other_strides(which, kind, rng):
    AL = _outputs(rng, (5, 40), "mse", np.float64)
    Y = _labels(rng, (5, 40), "mse", "same", np.float64)
    args = {"AL": AL, "Y": Y}
    args[which] = layout(args[which], kind)
    dZ = fastbp.output_delta(args["AL"], args["Y"], "mse")
    assert_same(dZ, AL - Y, "dZ", f"{which} layout {kind}")


@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_output_delta_nonfinite(dtype):
    AL = np.array([[np.nan, np.inf, -np.inf, 0.5, np.inf]], dtype)
    Y = np.array([[1.0, 1.0, 0.0, np.nan, np.inf]], dtype)
    with np.errstate(invalid="ignore"):
        expected = ref.output_delta(AL, Y, "mse")
    assert_same(fastbp.output_delta(AL, Y, "mse"), expected, "dZ", f"dtype={_dt_id(dtype)}")


# -------------------------------------------------------------------------- loss
LOSS_LAYOUTS = [("C", "C", False), ("F", "C", True), ("C", "F", True), ("F", "F", False)]


@pytest.mark.parametrize("orders", LOSS_LAYOUTS,
                         ids=[f"AL={a}-Y={y}{'-ro' if r else ''}" for a, y, r in LOSS_LAYOUTS])
@pytest.mark.parametrize("loss", ref.LOSSES)
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
@pytest.mark.parametrize("shape", SHAPES2, ids=_shape_id)
def test_loss_grid(shape, dtype, loss, orders, rng):
    o_al, o_y, ro = orders
    AL = layout(_outputs(rng, shape, loss, dtype), o_al, ro)
    for ydtype in YDTYPES:
        Y = layout(_labels(rng, shape, loss, ydtype, dtype), o_y, ro)
        params = (f"shape={shape} dtype={_dt_id(dtype)} AL={o_al} Y={o_y} readonly={ro} "
                  f"loss={loss} Y dtype={Y.dtype}")
        before = snapshot(AL, Y)
        got = fastbp.loss(AL, Y, loss)
        assert type(got) is float, f"returned {type(got).__name__}, not float; {params}"
        expected = ref.loss(AL, Y, loss)
        tol = loss_tol(AL, Y, loss)
        assert abs(got - expected) <= tol, (
            f"loss {got!r} != reference {expected!r} (|diff| {abs(got - expected):.3g} > "
            f"tol {tol:.3g}); {params}")
        assert fastbp.loss(AL, Y, loss) == got, f"not deterministic; {params}"
        assert_unchanged([AL, Y], before, params)


@pytest.mark.parametrize("loss", ["binary_crossentropy", "crossentropy"])
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_loss_clipped_logs_stay_finite(dtype, loss):
    # AL of exactly 0 and 1 (and slightly outside [0, 1]) against wrong labels
    AL = np.array([[0.0, 1.0, 0.0, 1.0, 1e-45, -0.25, 1.25, 0.5]], dtype)
    Y = np.array([[1, 0, 0, 1, 1, 1, 0, 1]], np.uint8)
    if loss == "crossentropy":     # two classes, one-hot columns
        AL = np.vstack([AL, AL[:, ::-1]])
        Y = np.vstack([Y, 1 - Y])
    params = f"dtype={_dt_id(dtype)} loss={loss}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = fastbp.loss(AL, Y, loss)
    with np.errstate(all="ignore"):
        expected = ref.loss(AL, Y, loss)
    assert math.isfinite(got), f"loss is {got}; {params}"
    assert abs(got - expected) <= loss_tol(AL, Y, loss) + 1e-12 * abs(expected), (
        f"{got!r} != {expected!r}; {params}")


@pytest.mark.parametrize("loss", ref.LOSSES)
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_loss_nan_propagates(dtype, loss, rng):
    AL = _outputs(rng, (3, 9), loss, dtype)
    Y = _labels(rng, (3, 9), loss, "same", dtype)
    AL[1, 4] = np.nan
    with np.errstate(all="ignore"):
        assert math.isnan(ref.loss(AL, Y, loss)), "reference sanity"
    got = fastbp.loss(AL, Y, loss)
    assert math.isnan(got), f"NaN in AL gave loss {got}; dtype={_dt_id(dtype)} loss={loss}"


@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_loss_large_shape(dtype, rng):
    for loss in ref.LOSSES:
        AL = _outputs(rng, (1000, 1000), loss, dtype)
        Y = _labels(rng, (1000, 1000), loss, "same", dtype)
        got, expected = fastbp.loss(AL, Y, loss), ref.loss(AL, Y, loss)
        assert abs(got - expected) <= loss_tol(AL, Y, loss), (
            f"{got!r} != {expected!r}; dtype={_dt_id(dtype)} loss={loss}")


# ----------------------------------------------------------------------- softmax
def softmax_tol(expected, n):
    dt = expected.dtype
    return 2 * (n + 4) * EPS[dt] * np.abs(expected.astype(np.float64)) + 4 * TINY[dt]


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("lay", [("C", False, False), ("F", True, False), ("C", True, True),
                                 ("F", False, True)],
                         ids=["C", "F-out", "C-out-ro", "F-ro"])
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
@pytest.mark.parametrize("shape", SHAPES2 + [(1000, 1000)], ids=_shape_id)
def test_softmax_grid(shape, dtype, lay, n_threads, rng):
    order, use_out, ro = lay
    n, m = shape
    Z0 = (4 * rng.standard_normal(shape)).astype(dtype)
    Z = layout(Z0, order, ro)
    params = f"shape={shape} dtype={_dt_id(dtype)} order={order} out={use_out} " \
             f"readonly={ro} n_threads={n_threads}"
    if use_out:
        out = np.full(shape, np.nan, dtype)
        A = fastbp.softmax(Z, out=out, n_threads=n_threads)
        assert A is out, f"out= object not returned; {params}"
    else:
        A = fastbp.softmax(Z, n_threads=n_threads)
    assert A.dtype == dtype and A.shape == shape and A.flags.c_contiguous, params
    expected = ref.softmax(Z0)
    assert_within(A, expected, softmax_tol(expected, n), "softmax", params)
    sums = A.astype(np.float64).sum(axis=0)
    assert np.all(np.abs(sums - 1) <= 2 * (n + 2) * EPS[np.dtype(dtype)]), (
        f"columns do not sum to 1 (worst {np.abs(sums - 1).max():.3g}); {params}")
    assert_same(Z, Z0, "input Z modified", params)


@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_softmax_extreme_values(dtype):
    big = 1e4 if dtype is np.float32 else 1e300
    Z = np.array([[big, -big, 0.0, big, 1e4, -1e4, -np.inf, 3.0],
                  [big, big, 0.0, -big, 1e4 + 1, -1e4, 0.0, -np.inf],
                  [-big, -big, 0.0, big, 1e4, -1e4 + 2, 1.0, -np.inf]], dtype)
    params = f"dtype={_dt_id(dtype)}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            A = fastbp.softmax(Z)
    with np.errstate(all="ignore"):
        expected = ref.softmax(Z)
    assert np.isfinite(expected).all(), "reference sanity"
    assert_within(A, expected, softmax_tol(expected, 3), "softmax", params)


@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_softmax_nonfinite_like_reference(dtype):
    # a NaN or +inf anywhere in a column, or a column of -inf, gives a NaN
    # column in the reference; other columns are untouched
    Z = np.array([[np.nan, np.inf, -np.inf, 1.0, np.inf],
                  [0.0, 1.0, -np.inf, 2.0, np.inf],
                  [1.0, 2.0, -np.inf, 3.0, 0.0]], dtype)
    with np.errstate(all="ignore"):
        expected = ref.softmax(Z)
    A = fastbp.softmax(Z)
    assert_within(A, expected, softmax_tol(np.nan_to_num(expected), 3), "softmax",
                  f"dtype={_dt_id(dtype)}")


@pytest.mark.parametrize("kind", ["S", "N", "U"])
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_softmax_other_strides(dtype, kind, rng):
    Z0 = rng.standard_normal((7, 30)).astype(dtype)
    A = fastbp.softmax(layout(Z0, kind))
    expected = ref.softmax(Z0)
    assert_within(A, expected, softmax_tol(expected, 7), "softmax", f"layout {kind}")


# --------------------------------------------------------------- byte order
@pytest.mark.parametrize("kernel", ["output_delta", "loss", "softmax"])
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_byteswapped_input_is_correct_or_rejected(kernel, dtype, rng):
    # a non-native byte order must never be read as native floats
    AL = _outputs(rng, (3, 8), "mse", dtype)
    Y = _labels(rng, (3, 8), "mse", "same", dtype)
    AL_sw = AL.astype(AL.dtype.newbyteorder())
    f = {"output_delta": lambda x: fastbp.output_delta(x, Y, "mse"),
         "loss": lambda x: fastbp.loss(x, Y, "mse"),
         "softmax": fastbp.softmax}[kernel]
    try:
        got = f(AL_sw)
    except (TypeError, ValueError):
        got = None
    if got is not None:
        np.testing.assert_allclose(got, f(AL), rtol=1e-6,
                                   err_msg=f"{kernel} with byte-swapped input, {dtype}")


@pytest.mark.parametrize("ydtype", [">f8", ">i8", ">i4", "<f8"])
@pytest.mark.parametrize("kernel", ["output_delta", "loss"])
def test_byteswapped_labels(kernel, ydtype, rng):
    # labels in any byte order are converted like any other label dtype
    AL = _outputs(rng, (3, 8), "mse", np.float64)
    Y = rng.integers(0, 3, (3, 8)).astype(ydtype)
    f = fastbp.output_delta if kernel == "output_delta" else fastbp.loss
    r = ref.output_delta if kernel == "output_delta" else ref.loss
    np.testing.assert_allclose(f(AL, Y, "mse"), r(AL, Y, "mse"), rtol=1e-12,
                               err_msg=f"{kernel} with Y of dtype {ydtype}")


@pytest.mark.parametrize("kernel", ["output_delta", "loss"])
def test_uint64_labels_beyond_int64_are_not_wrapped(kernel):
    # labels() cast uint64 to int64: 2**64 - 1 became -1 and 2**63 became
    # -2**63, so mse's delta and cost were silently wrong (Network's check_Y
    # already kept such labels as float64)
    AL = np.full((1, 3), 0.5)
    Y = np.array([[2**63, 2**64 - 1, 1]], dtype=np.uint64)
    f = fastbp.output_delta if kernel == "output_delta" else fastbp.loss
    r = ref.output_delta if kernel == "output_delta" else ref.loss
    np.testing.assert_allclose(f(AL, Y, "mse"), r(AL, Y, "mse"), rtol=1e-12)
    with pytest.raises(ValueError, match=r"found \{9\.2233"):   # as given, not wrapped
        fastbp.loss(AL, np.array([[2**63, 1, 1]], dtype=np.uint64), "binary_crossentropy")


def test_large_sums_are_pairwise_not_serial():
    """A loss over m examples sums m terms. Added one after the other the
    rounding grew like m: 1e6 equal terms of log 2 (a zero-logit output)
    came out 9e-12 off, and the course's gradient check -- which divides
    the cost's rounding by 2 epsilon -- reported correct gradients at m =
    300000 as a mistake (8.8e-6 against its 2e-7 threshold). The column sums
    are now paired over chunks of 64 columns (fastbp_loss.h's fbp_cascade),
    as NumPy's np.sum pairs them."""
    import math
    m = 1 << 20
    Y = np.zeros((1, m))
    Y[0, ::3] = 1.0
    exact = math.fsum(np.full(m, math.log(2.0))) / m
    net = fastbp.Network([1, 1], output="sigmoid", dtype="float64", seed=0)
    net.parameters["W1"][...] = 0.0          # every logit 0: every term log 2
    for got in (net.evaluate(np.zeros((1, m)), Y)[0],                  # the logits path
                net.loss_and_gradient(np.zeros((1, m)), Y)[0],         # the network step
                fastbp.loss(np.full((1, m), 0.5), Y, "binary_crossentropy"),
                fastbp.loss(np.zeros((1, m)), Y, "binary_crossentropy", from_logits=True)):
        assert abs(got - exact) <= 4 * np.finfo(float).eps * exact, (got, exact)
    # up to 64 columns, a sum in column order, as before
    t = np.random.default_rng(0).uniform(0.1, 0.9, (1, 64))
    y = np.ones((1, 64))
    s = 0.0
    for v in -np.log(t[0]):
        s += v
    assert fastbp.loss(t, y, "binary_crossentropy") == s / 64


@pytest.mark.parametrize("loss", ["binary_crossentropy", "crossentropy"])
@pytest.mark.parametrize("dtype,cap", [(np.float32, 87.3), (np.float64, 708.4)],
                         ids=["float32", "float64"])
def test_loss_of_a_saturated_wrong_prediction_is_the_documented_cap(dtype, cap, loss):
    """fastbp.loss's docstring: a saturated probability gives at most -log(tiny)
    (87.3 in float32, 708.4 in float64) per element."""
    AL = np.array([[0.0]], dtype)                # certain of the wrong class
    Y = np.array([[1]], np.uint8)
    if loss == "crossentropy":
        AL, Y = np.array([[0.0], [1.0]], dtype), np.array([[1], [0]], np.uint8)
    got = fastbp.loss(AL, Y, loss)
    assert got == pytest.approx(-math.log(np.finfo(dtype).tiny), rel=1e-6)
    assert round(got, 1) == cap
