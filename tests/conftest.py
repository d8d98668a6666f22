"""Shared helpers for fastbp's kernel tests.

The compiled kernels are checked against :mod:`fastbp.reference`, the NumPy
specification, with tolerances derived from the floating-point error bound of
each operation rather than fixed numbers:

* a length-K dot product carries at most ~K eps sum|a_i b_i| of rounding, in
  the kernel and in the reference alike, so GEMM results are compared to
  ``2 (K + 2) eps (|A| |B|)`` element by element (``gemm_tol``);
* element-wise functions (activations, derivatives) are compared with a
  relative tolerance per dtype plus an absolute one that grows with |z|, where
  libm implementations may differ by a few ulps after cancellation
  (``elem_tol``).

A wrong transpose, column or scale factor is an O(1) relative error and any
float32 shortcut in a float64 kernel is ~1e-7; both are far outside these bounds.
"""
import os
import re
import zlib

import numpy as np
import pytest

DTYPES = (np.float32, np.float64)
EPS = {np.dtype(t): float(np.finfo(t).eps) for t in DTYPES}
TINY = {np.dtype(t): float(np.finfo(t).tiny) for t in DTYPES}
#: relative / absolute tolerances of element-wise functions, per dtype
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
ATOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-13}

#: (n_prev, n, m): each dimension over the odd sizes while the others stay
#: small, plus combined cases. Big combined shapes live in the "large" tests.
SHAPES = sorted({(1, 1, 1), (3, 3, 3), (17, 17, 17), (17, 17, 1000)}
                | {tuple(s if i == axis else 3 for i in range(3))
                   for axis in range(3) for s in (1, 17, 1000)})
LARGE_SHAPES = [(1000, 17, 1000), (17, 1000, 1000), (1000, 1000, 17), (33, 65, 5001),
                (1000, 1000, 1000)]


def pytest_configure(config):
    # Registered here, not only in pyproject.toml: a copy of tests/ run on its
    # own against an installed wheel (no pyproject.toml beside it) would
    # otherwise warn "Unknown pytest.mark.slow" 19 times, and -m "not slow"
    # would rest on an unregistered mark.
    config.addinivalue_line(
        "markers",
        "slow: stress and subprocess tests of 1.5 s or more (fork storms, killed writers, "
        "the CLI end to end) and the property-based fuzzing of tests/test_fuzz.py")
    config.addinivalue_line(
        "markers",
        "huge: arrays of more than 2**31 elements held in memory (8-10 GiB each); skipped "
        "unless FASTBP_HUGE_TESTS=1 is set and the machine has the memory free (see "
        "require_free_memory)")


def pytest_collection_modifyitems(config, items):
    # huge tests are opt-in: CI (30 minutes, unknown memory) never runs them by default
    if os.environ.get("FASTBP_HUGE_TESTS", "").strip() in ("1", "true", "yes", "on"):
        return
    skip = pytest.mark.skip(reason="a huge-memory test: set FASTBP_HUGE_TESTS=1 to run it")
    for item in items:
        if "huge" in item.keywords:
            item.add_marker(skip)


def free_memory_bytes():
    """MemAvailable of /proc/meminfo in bytes (None where it cannot be read)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def require_free_memory(nbytes):
    """Skip the calling test unless ``nbytes`` (plus 1 GiB of headroom) are free."""
    free = free_memory_bytes()
    if free is None:
        pytest.skip("cannot tell how much memory is free (no /proc/meminfo)")
    if free < nbytes + (1 << 30):
        pytest.skip(f"needs {(nbytes + (1 << 30)) / 2**30:.1f} GiB free, "
                    f"{free / 2**30:.1f} GiB are")


def shape_id(shape):
    return "x".join(map(str, shape))


@pytest.fixture
def rng(request):
    """A generator seeded from the test id: reproducible, different per case."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def layout(a, order="C", readonly=False):
    """A copy of ``a`` with the requested memory layout.

    C / F: contiguous in that order; S: strided (every other column of a
    wider buffer, neither C- nor F-contiguous unless degenerate); N: negative
    strides in both axes; U: C-contiguous but misaligned (address off by a byte).
    """
    a = np.asarray(a)
    if order in ("C", "F"):
        out = np.array(a, order=order, copy=True)
    elif order == "S":
        shape = a.shape[:-1] + (2 * a.shape[-1] + 1,)
        buf = np.full(shape, np.nan, dtype=a.dtype)
        out = buf[..., 1::2]
        out[...] = a
    elif order == "N":
        out = np.array(a[::-1, ::-1], copy=True)[::-1, ::-1]
    elif order == "U":
        buf = np.zeros(a.nbytes + 1, np.uint8)
        out = buf[1:].view(a.dtype).reshape(a.shape)
        out[...] = a
        assert not out.flags.aligned
    else:
        raise ValueError(order)
    assert np.array_equal(out, a, equal_nan=True)
    if readonly:
        out.flags.writeable = False
    return out


def snapshot(*arrays):
    return [np.array(a, copy=True) for a in arrays]


def assert_unchanged(arrays, copies, params):
    for i, (a, c) in enumerate(zip(arrays, copies)):
        assert np.array_equal(a, c, equal_nan=True), (
            f"input #{i} was modified by the kernel; {params}")


def gemm_tol(dtype, k, absprod):
    """Bound on |kernel - reference| of a length-k reduction with sum |terms|
    = ``absprod`` (both sides carry up to ~k eps of rounding)."""
    dt = np.dtype(dtype)
    return 2.0 * (k + 2) * EPS[dt] * np.asarray(absprod, dtype=np.float64) + 4 * TINY[dt]


def elem_tol(dtype, expected, arg=0.0):
    """Tolerance of an element-wise function value ``expected`` at argument ``arg``."""
    dt = np.dtype(dtype)
    e = np.abs(np.asarray(expected, dtype=np.float64))
    return RTOL[dt] * e + ATOL[dt] * (1.0 + np.abs(np.asarray(arg, dtype=np.float64)))


def f64(a):
    return np.asarray(a, dtype=np.float64)


def assert_within(actual, expected, tol, what, params):
    """|actual - expected| <= tol element-wise; NaN and inf positions equal."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, (
        f"{what}: shape {actual.shape} != expected {expected.shape}; {params}")
    a = f64(actual)
    e = f64(expected)
    tol = np.broadcast_to(f64(tol), e.shape)
    tol = np.where(np.isnan(tol), np.inf, tol)  # no bound where the inputs hold NaN
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    if not np.array_equal(nan_a, nan_e):
        idx = tuple(int(i) for i in np.argwhere(nan_a != nan_e)[0])
        raise AssertionError(
            f"{what}: NaN positions differ, first at {idx}: got {a[idx]!r}, "
            f"expected {e[idx]!r}; {params}")
    inf = (np.isinf(a) | np.isinf(e)) & ~nan_e
    if not np.array_equal(a[inf], e[inf]):
        idx = tuple(int(i) for i in np.argwhere(inf & (a != e))[0])
        raise AssertionError(
            f"{what}: infinities differ, first at {idx}: got {a[idx]!r}, "
            f"expected {e[idx]!r}; {params}")
    fin = ~(nan_e | inf)
    with np.errstate(invalid="ignore"):
        err = np.where(fin, np.abs(a - e), 0.0)
        bad = fin & ~(err <= tol)
    if bad.any():
        ratio = np.where(bad, err / np.maximum(tol, 1e-300), 0.0)
        idx = np.unravel_index(int(np.argmax(ratio)), e.shape)
        idx = tuple(int(i) for i in idx)
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {e.size} elements out of tolerance; worst at "
            f"{idx}: got {a[idx]!r}, expected {e[idx]!r}, |err| {err[idx]:.3g} > "
            f"tol {tol[idx]:.3g}; {params}")


def assert_same(actual, expected, what, params):
    """Bitwise-equal values (NaNs equal)."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype, (
        f"{what}: {actual.shape}/{actual.dtype} vs {expected.shape}/{expected.dtype}; {params}")
    if not np.array_equal(actual, expected, equal_nan=True):
        diff = ~((actual == expected) | (np.isnan(actual) & np.isnan(expected)))
        idx = tuple(int(i) for i in np.argwhere(diff)[0])
        raise AssertionError(
            f"{what}: not bitwise equal, {int(diff.sum())} elements differ, first at "
            f"{idx}: {actual[idx]!r} vs {expected[idx]!r}; {params}")


def assert_output_array(arr, shape, dtype, what, params):
    assert isinstance(arr, np.ndarray), f"{what}: got {type(arr).__name__}; {params}"
    assert arr.shape == shape, f"{what}: shape {arr.shape} != {shape}; {params}"
    assert arr.dtype == np.dtype(dtype), f"{what}: dtype {arr.dtype} != {np.dtype(dtype)}; {params}"
    assert arr.flags.c_contiguous, f"{what}: not C-contiguous; {params}"


def shape_in(shape, msg):
    """True when ``shape`` is named in ``msg`` as (3, 4), (3,4), 3x4 or 3 x 4."""
    shape = tuple(shape)
    forms = {str(shape), str(shape).replace(" ", ""),
             "x".join(map(str, shape)), " x ".join(map(str, shape)),
             "\u00d7".join(map(str, shape))}
    return any(re.search(r"(?<![\d.])" + re.escape(f) + r"(?![\d])", msg) for f in forms)


# ----------------------------------------------------------------- reference checks
def check_forward(A_prev, W, b, activation, alpha, Z, A, params):
    """Compare a dense_forward result (Z, A) with the reference."""
    from fastbp import reference as ref

    dt = np.dtype(A_prev.dtype)
    n, n_prev = W.shape
    m = A_prev.shape[1]
    assert_output_array(Z, (n, m), dt, "Z", params)
    assert_output_array(A, (n, m), dt, "A", params)
    with np.errstate(all="ignore"):
        Z_ref, _ = ref.dense_forward(A_prev, W, b, "identity")
        absprod = np.abs(f64(W)) @ np.abs(f64(A_prev)) + np.abs(f64(b)).reshape(-1, 1)
        assert_within(Z, Z_ref, gemm_tol(dt, n_prev + 1, absprod), "Z", params)
        # the activation is checked on the kernel's own Z, to element-wise precision
        A_ref = ref.activation(Z, activation, alpha)
    assert_within(A, A_ref, elem_tol(dt, A_ref, Z), "A", params)


def check_backward(dZ, A_prev, W, activation, Z_prev, alpha, scale, lambd,
                   dZ_prev, dW, db, params):
    """Compare a dense_backward result (dZ_prev, dW, db) with the reference."""
    from fastbp import reference as ref

    dt = np.dtype(dZ.dtype)
    n, m = dZ.shape
    n_prev = A_prev.shape[0]
    assert_output_array(dZ_prev, (n_prev, m), dt, "dZ_prev", params)
    assert_output_array(dW, (n, n_prev), dt, "dW", params)
    assert_output_array(db, (n, 1), dt, "db", params)
    s = 1.0 / m if scale is None else scale
    with np.errstate(all="ignore"):
        dA_ref, dW_ref, db_ref = ref.dense_backward(dZ, A_prev, W, None, scale=scale,
                                                    lambd=lambd)
        adZ = np.abs(f64(dZ))
        dW_abs = abs(s) * (adZ @ np.abs(f64(A_prev)).T + abs(lambd) * np.abs(f64(W)))
        assert_within(dW, dW_ref, gemm_tol(dt, m + 2, dW_abs), "dW", params)
        db_abs = abs(s) * adZ.sum(axis=1, keepdims=True)
        assert_within(db, db_ref, gemm_tol(dt, m + 1, db_abs), "db", params)
        dA_tol = gemm_tol(dt, n, np.abs(f64(W)).T @ adZ)
        if activation is None:
            assert_within(dZ_prev, dA_ref, dA_tol, "dA_prev", params)
            return
        v = Z_prev if activation in ref.DERIVATIVE_FROM_Z else A_prev
        d = ref.activation_derivative(v, activation, alpha)
        expected = dA_ref * d
        tol = (dA_tol * np.abs(f64(d)) + EPS[dt] * np.abs(f64(expected))
               + np.abs(f64(dA_ref)) * elem_tol(dt, d, v))
    assert_within(dZ_prev, expected, tol, "dZ_prev", params)


def central_differences(net, X, Y, h=1e-6):
    """The gradient of ``net.loss_and_gradient``'s loss at the network's
    parameters by central differences (float64 networks), parameters left
    as they were."""
    p = net.flat_parameters.copy()
    out = np.empty_like(p)
    for i in range(p.size):
        q = p.copy()
        q[i] += h
        hi, _ = net.loss_and_gradient(X, Y, params=q)
        q[i] -= 2 * h
        lo, _ = net.loss_and_gradient(X, Y, params=q)
        out[i] = (hi - lo) / (2 * h)
    net.loss_and_gradient(X, Y, params=p)
    return out


def dispatch_env(dispatch):
    """os.environ for a child run at one SIMD dispatch level: "default" (the
    widest the CPU has), "avx2" or "baseline" (FASTBP_DISPATCH caps it; the
    choice is cached per process, hence children)."""
    import os
    env = dict(os.environ)
    env.pop("FASTBP_DISPATCH", None)
    if dispatch != "default":
        env["FASTBP_DISPATCH"] = dispatch
    return env


def run_python(code, env=None, timeout=300):
    """Run ``python -c code`` with the fastbp this process imported.

    The child runs in a temporary directory with PYTHONPATH = the imported
    fastbp's parent and the tests directory (so ``import test_x`` works):
    an unbuilt source checkout in the working directory (CI's README stage
    runs pytest from the repository after ``pip install .``) cannot shadow
    the installed package. Returns the CompletedProcess.
    """
    import os
    import subprocess
    import sys
    import tempfile

    import fastbp

    parent = os.path.dirname(os.path.dirname(os.path.abspath(fastbp.__file__)))
    here = os.path.dirname(os.path.abspath(__file__))
    full = dict(os.environ if env is None else env)
    full["PYTHONPATH"] = os.pathsep.join([parent, here])
    with tempfile.TemporaryDirectory(prefix="fastbp-child-") as cwd:
        return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True,
                              text=True, timeout=timeout, cwd=cwd)


# ----------------------------------------------------------------- Hypothesis profiles
# tests/test_fuzz.py (issue 12). "ci", the default: a fixed budget, derandomized
# (the same examples on every run, so CI is reproducible), no example database
# written. "long": 20x the budget, random, with the database (failing examples
# replay first next time):  pytest tests/test_fuzz.py --hypothesis-profile=long
try:
    from hypothesis import settings as _hyp_settings
except ImportError:  # hypothesis is in the test extra; without it test_fuzz skips
    pass
else:
    FUZZ_EXAMPLES = 100
    _hyp_settings.register_profile("ci", max_examples=FUZZ_EXAMPLES, derandomize=True,
                                   deadline=None, database=None, print_blob=True)
    _hyp_settings.register_profile("long", max_examples=20 * FUZZ_EXAMPLES, deadline=None,
                                   print_blob=True)
    _hyp_settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _network_lock_guard_is_free():
    """Every test leaves fastbp.network's lock guard free: a test that left it
    held by the main thread (an exception raised where a ``with`` block's exit
    was skipped) made every later network built in another thread, and every
    fork, wait forever, and the suite hung in an unrelated test."""
    yield
    import fastbp.network
    assert not fastbp.network._LOCKS_GUARD._is_owned(), \
        "this test left fastbp.network._LOCKS_GUARD held"
