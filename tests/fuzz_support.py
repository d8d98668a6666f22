"""Hostile arguments and the call contract for tests/test_fuzz.py (issue 12).

A fuzzed call must either return what an independent NumPy computation
(fastbp.reference, tests/course_reference*.py or a formula written here)
returns, within the dtype's tolerance, or raise ValueError/TypeError whose
message names the argument at fault. Never: a crash, a hang, another
exception type, a NaN where the oracle is finite, a result of the wrong
shape or dtype, or an input modified in place.

Arrays are drawn by :func:`hostile` from one seed plus a few choices that
Hypothesis draws (so it shrinks towards plain float64 C-ordered data):

* dtypes: float64, float32, and sometimes float16, int32/int64, uint8, bool,
  complex128, object, byte-swapped float32/float64;
* layouts: C, F, strided (a view of every other element), negative strides,
  a non-contiguous column slice, read-only, misaligned;
* values: normal (scaled 1e-3..1e3), NaN, +-inf, huge, denormal, all-equal,
  zero.
"""
import copy
import math
import re

import numpy as np
from hypothesis import strategies as st

# ------------------------------------------------------------------ shapes
SMALL_DIMS = (1, 2, 3, 5, 7, 11, 13)
M_SIZES = (1, 2, 3, 5, 7, 13, 17, 31, 64, 257)
LARGE_M = 2053          # a prime, large enough to take the kernels' blocked/threaded paths

FLOAT = (np.dtype(np.float64), np.dtype(np.float32))
HOSTILE_DTYPES = ("float16", "int32", "int64", "uint8", "bool", "complex128", "object",
                  ">f8", ">f4")
LAYOUTS = ("C", "F", "S", "N", "V", "RO", "U")
SPECIALS = ("nan", "inf", "huge", "denormal", "equal", "zero")


def dim(data, label, dims=SMALL_DIMS):
    return data.draw(st.sampled_from(dims), label=label)


def m_size(data, label="m", large=True):
    m = data.draw(st.sampled_from(M_SIZES), label=label)
    if large and data.draw(st.integers(0, 39), label=label + " large?") == 0:
        m = LARGE_M
    return m


def dtype_choice(data, label, base=None, hostile=True):
    """float64/float32 mostly (``base`` if given), a hostile dtype sometimes."""
    if hostile and data.draw(st.integers(0, 9), label=label + " hostile dtype?") == 0:
        return np.dtype(data.draw(st.sampled_from(HOSTILE_DTYPES), label=label + " dtype"))
    if base is not None:
        return np.dtype(base)
    return data.draw(st.sampled_from(FLOAT), label=label + " dtype")


def layout_choice(data, label):
    if data.draw(st.integers(0, 2), label=label + " plain layout?") == 0:
        return data.draw(st.sampled_from(LAYOUTS), label=label + " layout")
    return "C"


def values_choice(data, label, specials=True):
    if specials and data.draw(st.integers(0, 5), label=label + " special values?") == 0:
        return data.draw(st.sampled_from(SPECIALS), label=label + " values")
    return "normal"


def fill(rng, shape, dtype, values, scale=1.0, low=None, high=None):
    """Float64 values of ``shape`` following the ``values`` recipe, then cast."""
    dt = np.dtype(dtype)
    a = rng.standard_normal(shape) * scale
    if low is not None:
        a = rng.uniform(low, high, shape)
    real = dt.kind == "f" or dt.kind == "c" or dt.kind == "O"
    info = np.finfo(dt) if dt.kind in "fc" else np.finfo(np.float64)
    if a.size and values != "normal":
        pick = rng.random(shape) < 0.3
        if not pick.any():
            pick.flat[rng.integers(a.size)] = True
        if values == "nan":
            a[pick] = np.nan
        elif values == "inf":
            a[pick] = np.where(rng.random(int(pick.sum())) < 0.5, np.inf, -np.inf)
        elif values == "huge":
            a[pick] = np.sqrt(float(info.max)) * 16 * np.sign(rng.standard_normal(int(pick.sum())))
        elif values == "denormal":
            a[pick] = float(info.tiny) * 0.25 * rng.standard_normal(int(pick.sum()))
        elif values == "equal":
            a[...] = 0.5 if low is None else (low + high) / 2
        elif values == "zero":
            a[...] = 0.0
    if dt.kind == "b":
        return np.asarray(a > 0)
    if dt.kind in "iu":
        a = np.nan_to_num(a, nan=0.0, posinf=3.0, neginf=-3.0)
        a = np.clip(np.round(a), 0 if dt.kind == "u" else -3, 3)
        return a.astype(dt)
    if dt.kind == "c":
        return (a + 1j * rng.standard_normal(shape)).astype(dt)
    if dt.kind == "O":
        return a.astype(object)
    if not real:
        raise ValueError(dt)
    with np.errstate(over="ignore"):
        return a.astype(dt)


def lay(a, layout):
    """A copy of ``a`` with the requested memory layout (see the module notes)."""
    a = np.asarray(a)
    if a.ndim == 0 or layout == "C":
        return np.array(a, order="C", copy=True)
    if layout == "F":
        return np.array(a, order="F", copy=True)
    if layout == "S":                      # every other element in both axes
        buf = np.zeros(tuple(2 * s + 1 for s in a.shape), dtype=a.dtype)
        out = buf[tuple(slice(1, None, 2) for _ in a.shape)]
    elif layout == "N":                    # negative strides
        out = np.array(a[tuple(slice(None, None, -1) for _ in a.shape)], copy=True)
        out = out[tuple(slice(None, None, -1) for _ in a.shape)]
    elif layout == "V":                    # a non-contiguous slice of a wider array
        buf = np.zeros(a.shape[:-1] + (a.shape[-1] + 3,), dtype=a.dtype)
        out = buf[..., 2:2 + a.shape[-1]]
    elif layout == "RO":
        out = np.array(a, copy=True)
        out.flags.writeable = False
        return out
    elif layout == "U":                    # misaligned: address off by one byte
        if a.dtype.itemsize <= 1 or a.dtype.kind == "O":
            return np.array(a, copy=True)
        buf = np.zeros(a.nbytes + 1, np.uint8)
        out = buf[1:].view(a.dtype).reshape(a.shape)
    else:
        raise ValueError(layout)
    out[...] = a
    return out


def hostile(data, rng, label, shape, *, base=None, hostile_dtype=True, specials=True,
            scale=1.0, low=None, high=None, values=None):
    """An array of ``shape`` with a drawn dtype, layout and value recipe.

    Returns (array, info) where info says whether the array is a plain
    finite float array of ``base``'s kind (which every function must accept).
    """
    dt = dtype_choice(data, label, base, hostile_dtype)
    if values is None:
        values = values_choice(data, label, specials)
    lt = layout_choice(data, label)
    store = dt
    if dt.byteorder == ">" and dt.kind == "f":
        store = dt.newbyteorder("=")
    a = fill(rng, shape, store, values, scale, low, high)
    a = lay(a, lt)
    if store is not dt:
        a = a.astype(dt)
        if lt == "RO":
            a.flags.writeable = False
    plain = dt.kind == "f" and dt.isnative and dt.itemsize >= 4
    return a, {"label": label, "dtype": str(dt), "layout": lt, "values": values,
               "float": plain, "finite": values in ("normal", "denormal", "equal", "zero")}


def pick(data, label, options):
    return data.draw(st.sampled_from(options), label=label)


# ------------------------------------------------------------------ contract
class Case:
    """One generated call: ``call()`` runs the function; ``oracle()`` computes
    the expected result independently (or raises when the inputs are not
    acceptable to it). ``valid`` cases must succeed."""

    def __init__(self, call, oracle=None, *, args=(), valid=False, names=(), info=(),
                 extra_exceptions=(), check_dtype=True, rtol=None, inputs=None,
                 compare=None, must_raise=False):
        self.call = call
        self.oracle = oracle
        self.args = args
        self.valid = valid
        self.names = tuple(names)
        self.info = list(info)
        self.extra_exceptions = tuple(extra_exceptions)
        self.check_dtype = check_dtype
        self.rtol = rtol
        self.inputs = args if inputs is None else inputs
        self.compare = compare
        self.must_raise = must_raise    # invalid input that must be refused, not computed

    def __repr__(self):
        return f"Case(valid={self.valid}, info={self.info})"


RTOL = {"f2": 2e-2, "f4": 2e-4, "f8": 1e-9, "c8": 2e-4, "c16": 1e-9}


def _rtol(dt, override):
    if override is not None:
        return override
    dt = np.dtype(dt)
    return RTOL.get(dt.kind + str(dt.itemsize), 1e-9)


def input_rtol(x):
    """The tolerance of the least precise float among the inputs: a reference
    that computes part of the way in float32 (NumPy's promotion, layer by
    layer) is only that precise, even when the result is float64."""
    worst = 0.0
    if isinstance(x, (np.generic, np.ndarray)) and x.dtype.kind in "fc":
        size = x.dtype.itemsize // (2 if x.dtype.kind == "c" else 1)
        worst = RTOL["f2"] if size <= 2 else RTOL["f4"] if size <= 4 else RTOL["f8"]
    elif isinstance(x, dict):
        worst = max([input_rtol(v) for v in x.values()] + [0.0])
    elif isinstance(x, (list, tuple)):
        worst = max([input_rtol(v) for v in x] + [0.0])
    return worst


def _arrays(x):
    if isinstance(x, np.ndarray):
        yield x
    elif isinstance(x, dict):
        for v in x.values():
            yield from _arrays(v)
    elif isinstance(x, (list, tuple)):
        for v in x:
            yield from _arrays(v)


def mixed_dtypes(inputs):
    """Whether the inputs mix dtypes or hold ints/bools: fastbp.course then
    computes everything in the common float dtype (course_float_dtype), which
    may be wider than NumPy's per-operation result, so dtypes are not compared."""
    dts = {a.dtype.newbyteorder("=") for a in _arrays(inputs) if a.dtype.kind in "biufc"}
    return len(dts) > 1 or any(d.kind in "biu" for d in dts)


def all_finite(inputs):
    for a in _arrays(inputs):
        if a.dtype.kind in "fc" and not np.isfinite(a).all():
            return False
    return True


def deep_copy(x):
    if isinstance(x, np.ndarray):
        return np.array(x, copy=True)
    if isinstance(x, dict):
        return {k: deep_copy(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(deep_copy(v) for v in x) if not hasattr(x, "_fields") else x
    return copy.copy(x) if isinstance(x, (int, float, complex, str, type(None))) else x


def assert_unchanged(x, y, where):
    if isinstance(x, np.ndarray):
        assert isinstance(y, np.ndarray) and x.shape == y.shape and x.dtype == y.dtype, \
            f"input {where} changed shape/dtype"
        if x.dtype.kind == "O":
            same = all((a is b) or (a == b) or (a != a and b != b)
                       for a, b in zip(x.ravel().tolist(), y.ravel().tolist()))
        else:
            same = np.array_equal(x, y, equal_nan=x.dtype.kind in "fc")
        assert same, f"input {where} was modified in place"
    elif isinstance(x, dict):
        assert isinstance(y, dict) and list(x) == list(y), f"input {where}: keys changed"
        for k in x:
            assert_unchanged(x[k], y[k], f"{where}[{k!r}]")
    elif isinstance(x, (list, tuple)):
        assert len(x) == len(y), f"input {where}: length changed"
        for i, (a, b) in enumerate(zip(x, y)):
            assert_unchanged(a, b, f"{where}[{i}]")


def names_argument(msg, names):
    for n in names:
        if re.search(r"(?<![A-Za-z0-9_])" + re.escape(n) + r"(?![A-Za-z0-9_])", msg):
            return True
    return False


def _is_num(x):
    return isinstance(x, (int, float, complex, np.number, np.bool_)) and not isinstance(x, bool)


class Bounded:
    """An oracle's arrays with a rounding bound each: a length-K reduction may be
    off by ~K eps sum|terms| (in the kernel and in NumPy alike, whatever their
    summation order), which cancellation can make far larger than the result."""

    def __init__(self, values, bounds, k):
        self.values, self.bounds, self.k = tuple(values), tuple(bounds), k


def compare(actual, expected, rtol, check_dtype, where="result", extra=None,
            finite_inputs=True):
    """Recursive comparison; arrays element-wise within ``rtol`` of the array's scale.

    Only positions where the oracle is finite (and not near the dtype's
    overflow threshold) are compared; there the result must be finite too.
    """
    if isinstance(expected, Bounded):
        assert isinstance(actual, (tuple, list)) and len(actual) == len(expected.values), \
            f"{where}: expected {len(expected.values)} arrays"
        for i, (a, e, b) in enumerate(zip(actual, expected.values, expected.bounds)):
            dt = np.asarray(a).dtype
            eps = float(np.finfo(dt).eps) if dt.kind == "f" else 0.0
            with np.errstate(all="ignore"):
                b = np.abs(np.asarray(b, dtype=np.float64))
                ex = 4.0 * (expected.k + 2) * eps * b
                if dt.kind == "f":      # terms beyond the dtype's range may overflow it
                    ex = np.where(b < float(np.finfo(dt).max) * 1e-3, ex, np.inf)
            compare(a, e, rtol, check_dtype, f"{where}[{i}]", extra=ex,
                    finite_inputs=finite_inputs)
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected a dict, got {type(actual).__name__}"
        assert set(actual) == set(expected), \
            f"{where}: keys {sorted(actual)} != expected {sorted(expected)}"
        for k in expected:
            compare(actual[k], expected[k], rtol, check_dtype, f"{where}[{k!r}]",
                    finite_inputs=finite_inputs)
        return
    if isinstance(expected, (tuple, list)):
        assert isinstance(actual, (tuple, list)), \
            f"{where}: expected a {type(expected).__name__}, got {type(actual).__name__}"
        assert len(actual) == len(expected), f"{where}: length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            compare(a, e, rtol, check_dtype, f"{where}[{i}]", finite_inputs=finite_inputs)
        return
    if expected is None or isinstance(expected, (str, bool)):
        assert actual == expected, f"{where}: {actual!r} != expected {expected!r}"
        return
    e = np.asarray(expected)
    a = np.asarray(actual)
    assert a.shape == e.shape, f"{where}: shape {a.shape} != expected {e.shape}"
    if check_dtype and isinstance(expected, np.ndarray):
        # float16 inputs: fastbp.course may keep float16 (NumPy's rule) where the
        # reference, which computes them in float32, returns float32
        if not (a.dtype == np.float16 and e.dtype == np.float32):
            assert a.dtype == e.dtype, f"{where}: dtype {a.dtype} != expected {e.dtype}"
    if e.dtype.kind not in "fciub" or a.dtype.kind not in "fciub":
        return
    if e.dtype.kind in "iub" and a.dtype.kind in "iub":
        assert np.array_equal(a, e), f"{where}: {a!r} != expected {e!r}"
        return
    dt = a.dtype if a.dtype.kind in "fc" else np.dtype(np.float64)
    tol_r = max(_rtol(dt, None), rtol or 0.0)
    ec = e.astype(np.complex128) if e.dtype.kind == "c" else e.astype(np.float64)
    ac = a.astype(np.complex128) if a.dtype.kind == "c" else a.astype(np.float64)
    big = float(np.finfo(dt).max) * 1e-3 if dt.kind in "fc" else 1e300
    with np.errstate(all="ignore"):
        fin = np.isfinite(ec) & (np.abs(ec) < big)
        if not fin.any():
            return
        scale = float(np.max(np.abs(ec[fin])))
        tiny = float(np.finfo(dt).tiny) if dt.kind in "fc" else 0.0
        tol = tol_r * (np.abs(ec) + scale) + 64 * tiny
        if extra is not None:
            tol = tol + np.where(np.isfinite(extra), extra, 0.0)
            fin &= np.isfinite(extra) & (np.abs(extra) < big)  # no finite bound: no claim
        if not finite_inputs:
            # NaN/inf inputs: IEEE propagation (NaN * 0 = NaN) may differ from a BLAS
            # that skips zero terms; compare only where both are finite
            fin &= np.isfinite(ac)
        bad_nan = fin & ~np.isfinite(ac)
        assert not bad_nan.any(), (
            f"{where}: non-finite result where the oracle is finite, first at "
            f"{tuple(int(i) for i in np.argwhere(bad_nan)[0])}: got "
            f"{ac[tuple(np.argwhere(bad_nan)[0])]!r}, expected {ec[tuple(np.argwhere(bad_nan)[0])]!r}")
        err = np.where(fin, np.abs(ac - ec), 0.0)
        bad = fin & ~(err <= tol)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(
            f"{where}: {int(bad.sum())} of {e.size} elements out of tolerance (rtol {tol_r}), "
            f"first at {idx}: got {ac[idx]!r}, expected {ec[idx]!r}")


def check_case(case):
    """Run one case under the contract; raises AssertionError on a violation."""
    before = deep_copy(case.inputs)
    ok_types = (ValueError, TypeError) + case.extra_exceptions
    # the oracle first: some course functions rebind their dicts' entries (the
    # course's own semantics), so the oracle must see the arguments as given
    expected, comparable = None, case.oracle is not None
    if comparable:
        try:
            with np.errstate(all="ignore"):
                expected = case.oracle()
        except NotComparable:
            comparable = False
        except Exception:
            if case.valid:      # a valid call's oracle must work
                raise
            comparable = False  # e.g. mismatched shapes: the call must raise
    try:
        with np.errstate(all="ignore"):
            result = case.call()
    except ok_types as exc:
        assert_unchanged(case.inputs, before, "argument")
        msg = str(exc)
        assert not case.valid, (
            f"a valid call raised {type(exc).__name__}: {msg}; {case.info}")
        if isinstance(exc, (ValueError, TypeError)):
            assert names_argument(msg, case.names), (
                f"{type(exc).__name__} message names none of the arguments {case.names}: "
                f"{msg!r}; {case.info}")
        return "raised"
    except Exception as exc:  # noqa: BLE001 -- any other type breaks the contract
        raise AssertionError(
            f"raised {type(exc).__name__} (expected ValueError/TypeError naming one of "
            f"{case.names}): {exc}; {case.info}") from exc
    assert_unchanged(case.inputs, before, "argument")
    assert not case.must_raise, (
        f"accepted an input it must refuse with a ValueError/TypeError naming one of "
        f"{case.names}; returned {result!r:.200}; {case.info}")
    if not comparable:
        return "ok"
    if case.compare is not None:
        case.compare(result, expected)
    else:
        compare(result, expected, max(case.rtol or 0.0, input_rtol(case.inputs)),
                case.check_dtype and not mixed_dtypes(case.inputs),
                finite_inputs=all_finite(case.inputs))
    return "ok"


class NotComparable(Exception):
    """Raised by an oracle when the call's inputs have no reference value (the
    fastbp result is then only checked for the other parts of the contract)."""


def finite_all(*infos):
    return all(i["finite"] for i in infos)


def float_all(*infos):
    return all(i["float"] for i in infos)


def to_float(a, dt):
    """``a`` as ``dt`` (the conversion fastbp documents for real inputs)."""
    return np.asarray(a).astype(dt)


def isclose_scalar(a, b, rtol):
    if math.isnan(b):
        return True
    return abs(a - b) <= rtol * (abs(b) + 1.0)
