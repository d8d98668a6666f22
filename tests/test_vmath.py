"""fastbp's vectorised exp/expm1/log/log1p/tanh/sigmoid (csrc/fastbp_vmath.h)
against NumPy: <= 4 ulp in double, <= 4 ulp of the double result rounded to
float in float32, exact special values, any length, in place, independent of
position, on both the AVX2 and the baseline dispatch paths."""
import json

import numpy as np
import pytest
from conftest import dispatch_env, run_python

from fastbp import _testing

NAMES = ("exp", "expm1", "log", "log1p", "tanh", "sigmoid")
DTYPES = (np.float32, np.float64)
MAX_ULP = 4.0


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


REF = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p,
       "tanh": np.tanh, "sigmoid": _sigmoid}


def reference(name, x):
    """NumPy's f in double, rounded to x's dtype."""
    with np.errstate(all="ignore"):
        return REF[name](x.astype(np.float64)).astype(x.dtype)


def ulp_error(got, want):
    """|got - want| in units of want's spacing; 0 where equal or both NaN."""
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    with np.errstate(all="ignore"):
        err = np.abs(got.astype(np.float64) - want.astype(np.float64)) \
            / np.spacing(np.abs(want)).astype(np.float64)
    err = np.where(np.isnan(err), np.inf, err)
    return np.where(same, 0.0, err)


def grid(name, dtype, seed=0):
    rng = np.random.default_rng(seed)
    dbl = dtype == np.float64
    n = 10**6
    if name in ("exp", "expm1"):
        big = 750.0 if dbl else 105.0
        parts = [np.linspace(-big, big, n), np.linspace(-1, 1, n), np.linspace(-45, 45, n)]
    elif name in ("tanh", "sigmoid"):
        parts = [np.linspace(-25, 25, n), np.linspace(-1.5, 1.5, n),
                 np.linspace(-1e-5, 1e-5, 10**5)]
    elif name == "log":
        lo, hi = (1e-320, 1e308) if dbl else (1e-44, 3e38)
        parts = [np.linspace(0, 4, n), np.geomspace(lo, hi, n), np.linspace(0.5, 1.5, n)]
    else:
        parts = [np.linspace(-1, 4, n), np.geomspace(1e-30, 1e30, n),
                 -np.geomspace(1e-30, 1 - 1e-7, 10**5)]
    # random bit patterns: every exponent, both signs, NaNs and infs included
    if dbl:
        bits = rng.integers(0, 2**64, 10**6, dtype=np.uint64).view(np.float64)
    else:
        bits = rng.integers(0, 2**32, 10**6, dtype=np.uint64).astype(np.uint32).view(np.float32)
    return np.concatenate([p.astype(dtype) for p in parts] + [bits])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_accuracy_dense_grid(name, dtype):
    x = grid(name, dtype)
    got = _testing.vmath(name, x)
    err = ulp_error(got, reference(name, x))
    k = int(np.argmax(err))
    assert err[k] <= MAX_ULP, f"{name} {np.dtype(dtype).name}: {err[k]} ulp at x={x[k]!r} " \
                              f"got {got[k]!r} want {reference(name, x[k:k + 1])[0]!r}"


INF, NAN = np.inf, np.nan
SPECIAL = {
    "exp": [(-INF, 0.0), (INF, INF), (NAN, NAN), (0.0, 1.0), (-0.0, 1.0), (800.0, INF),
            (-800.0, 0.0)],
    "expm1": [(-INF, -1.0), (INF, INF), (NAN, NAN), (0.0, 0.0), (-0.0, -0.0), (800.0, INF),
              (-800.0, -1.0), (1e-300, 1e-300), (-1e-30, -1e-30)],
    "log": [(0.0, -INF), (-0.0, -INF), (-1.0, NAN), (-INF, NAN), (INF, INF), (NAN, NAN),
            (1.0, 0.0)],
    "log1p": [(-1.0, -INF), (-2.0, NAN), (INF, INF), (NAN, NAN), (0.0, 0.0), (-0.0, -0.0),
              (1e-300, 1e-300)],
    "tanh": [(0.0, 0.0), (-0.0, -0.0), (INF, 1.0), (-INF, -1.0), (NAN, NAN), (1e-300, 1e-300),
             (-1e-30, -1e-30), (30.0, 1.0), (-30.0, -1.0)],
    "sigmoid": [(-INF, 0.0), (INF, 1.0), (NAN, NAN), (0.0, 0.5), (-800.0, 0.0), (800.0, 1.0)],
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_special_values(name, dtype):
    xs, want = zip(*SPECIAL[name])
    x = np.array(xs, dtype)
    want = np.array(want, dtype)
    got = _testing.vmath(name, x)
    np.testing.assert_array_equal(got, want, err_msg=f"{name} {np.dtype(dtype).name}")
    # signed zeros kept
    assert np.array_equal(np.signbit(got[want == 0]), np.signbit(want[want == 0])), name


@pytest.mark.parametrize("dtype", DTYPES)
def test_subnormals_and_bounds(dtype):
    tiny = np.finfo(dtype).tiny
    sub = np.array([tiny / 2, tiny / 3, tiny * 2 ** -20, np.finfo(dtype).smallest_subnormal],
                   dtype)
    assert ulp_error(_testing.vmath("log", sub), reference("log", sub)).max() <= MAX_ULP
    # exp results in the subnormal range: close to correct (scaled twice)
    x = np.linspace(np.log(tiny) - 10, np.log(tiny), 10001).astype(dtype)
    got = _testing.vmath("exp", x)
    want = reference("exp", x)
    assert np.all(np.abs(got - want) <= 4 * np.spacing(want)), "subnormal exp"
    t = _testing.vmath("tanh", np.linspace(-50, 50, 100001).astype(dtype))
    assert np.all(np.abs(t) <= 1)
    s = _testing.vmath("sigmoid", np.linspace(-200, 200, 100001).astype(dtype))
    assert np.all((s >= 0) & (s <= 1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_reaches_one_only_where_it_rounds_to_one(dtype):
    """tanh(x) rounds to 1 exactly when 1 - tanh|x| = 2 e / (1 + e), e =
    exp(-2|x|), is at most half the spacing below 1 (2^-25 in float32, 2^-54
    in float64): from |x| = 9.0109 in float32, 19.0613 in float64. Computed
    as t / (t + 2) with t = expm1(2|x|), t + 2 rounded back to t once t's
    spacing reached 4, so tanh returned exactly +-1 from |x| = 8.66 (18.71):
    1 ulp (within MAX_ULP), but there the derivative 1 - A^2 that the
    backward pass reads from A was 0 instead of 1.2e-7 (float32): units
    saturated early for good. NumPy's float32 tanh is below 1 there."""
    hi = 10.0 if dtype == np.float32 else 20.0
    x = np.linspace(-hi, hi, 4_000_001).astype(dtype)
    got = _testing.vmath("tanh", x)
    e = np.exp(-2 * np.abs(x.astype(np.float64)))
    q = 2 * e / (1 + e)                     # 1 - tanh|x|, to ~1e-16 relative
    half = 2.0 ** (-25 if dtype == np.float32 else -54)
    clear = np.abs(q / half - 1) > 1e-6     # leave out the rounding boundary itself
    ones = (q <= half) & clear
    below = (q > half) & clear
    assert np.all(np.abs(got[ones]) == 1)
    early = below & (np.abs(got) == 1)
    assert not early.any(), (f"tanh is +-1 at {early.sum()} points below where it rounds "
                             f"to 1, from |x| = {np.abs(x[early]).min()!r}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [0, 1, 3, 7, 17, 1000])
def test_lengths_in_place_and_position(name, dtype, n):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 3).astype(dtype)
    if name in ("log", "log1p"):
        x = np.abs(x)
    want = _testing.vmath(name, x)
    assert ulp_error(want, reference(name, x)).max(initial=0) <= MAX_ULP
    y = x.copy()
    assert _testing.vmath(name, y, out=y) is y
    np.testing.assert_array_equal(y, want)
    # each element alone (through the padded tail) gives the same bits
    for k in range(min(n, 40)):
        np.testing.assert_array_equal(_testing.vmath(name, x[k:k + 1]), want[k:k + 1])
    if n > 9:
        np.testing.assert_array_equal(_testing.vmath(name, x[5:]), want[5:])


def test_hook_rejects_bad_input():
    with pytest.raises(ValueError):
        _testing.vmath("cos", np.zeros(3))
    with pytest.raises(TypeError):
        _testing.vmath("exp", np.zeros(3, np.int64))


CHILD = r"""
import json, sys
import numpy as np
import test_vmath as t
from fastbp import _testing
out = {}
for name in t.NAMES:
    for dt in t.DTYPES:
        x = t.grid(name, dt, seed=3)[::7].copy()
        got = _testing.vmath(name, x)
        out[name + np.dtype(dt).name] = [float(t.ulp_error(got, t.reference(name, x)).max()),
                                         got.tobytes().hex()[:64]]
print(json.dumps(out))
"""


@pytest.mark.parametrize("dispatch", ["default", "avx2", "baseline"])
def test_dispatch_paths(dispatch):
    """Every clone (AVX-512 and AVX2+FMA where the CPU has them, and the
    forced baseline) meets the bound; run in a subprocess because the choice
    is cached per process."""
    env = dispatch_env(dispatch)
    code = CHILD
    code += (
        "from fastbp import _blas\n"
        f"want = {dispatch!r}\n"
        "got = _blas.simd_dispatch()\n"
        "ok = {'default': (got,), 'avx2': ('avx2+fma', 'baseline'), 'baseline': ('baseline',)}\n"
        "assert got in ok[want], got\n"
    )
    res = run_python(code, env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    for key, (err, _) in out.items():
        assert err <= MAX_ULP, f"{dispatch}: {key} max error {err} ulp"


def _cascade(values, chunk=64):
    """The order fastbp_loss.h's fbp_cascade adds column losses in: each run
    of 64 columns in column order, the runs paired like a binary counter,
    the pairs then left to right, the unfinished run last."""
    stack = []                      # (level, sum of 2**level runs), oldest first
    full = len(values) - len(values) % chunk
    for i in range(0, full, chunk):
        x = 0.0
        for v in values[i:i + chunk]:
            x += v
        level = 0
        while stack and stack[-1][0] == level:
            x = stack.pop()[1] + x
            level += 1
        stack.append((level, x))
    parts = [x for _, x in stack]
    if full < len(values):
        x = 0.0
        for v in values[full:]:
            x += v
        parts.append(x)
    total = parts[0] if parts else 0.0
    for x in parts[1:]:
        total += x
    return total


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", ["bce", "ce", "mse"])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("shape", [(1, 1), (1, 130), (3, 7), (5, 200), (2, 64 * 11 + 5)])
def test_loss_cols_matches_loss_sum(loss, dtype, order, shape):
    rng = np.random.default_rng(1)
    AL = np.asarray(rng.uniform(0, 1, shape), dtype, order=order)
    AL.flat[0] = 0.0  # clipped at tiny
    if AL.size > 1:
        AL.flat[1] = 1.0
    Y = np.asarray(rng.integers(0, 2, shape), dtype, order=order)
    cols, total = _testing.loss_cols(AL, Y, loss)
    per_col = [(_testing.loss_cols(AL[:, j:j + 1], Y[:, j:j + 1], loss))[1]
               for j in range(shape[1])]
    np.testing.assert_array_equal(cols, np.array(per_col))
    assert total == _cascade(cols.tolist())
    a = AL.astype(np.float64)
    tiny = np.finfo(dtype).tiny
    if loss == "bce":
        want = -(Y * np.log(np.maximum(a, tiny)) + (1 - Y) * np.log(np.maximum(1 - a, tiny)))
    elif loss == "ce":
        want = -(Y * np.log(np.maximum(a, tiny)))
    else:
        want = 0.5 * (a - Y) ** 2
    np.testing.assert_allclose(cols, want.sum(0), rtol=1e-5 if dtype == np.float32 else 1e-13,
                               atol=1e-6)
