"""Every documented error of the public kernels: type, message, and no crash.

Inputs: float32/float64 only (TypeError naming the allowed dtypes and how to
cast; integer, bool and uint8 labels Y excepted), no mixed float dtypes,
shapes that fit (ValueError naming every shape involved), known activation
and loss names (ValueError listing the valid ones), no empty dimension,
Z_prev where the derivative needs it, n_threads != 0, and out= arrays that are
writeable, C-contiguous, of the right shape and dtype, and overlap nothing.
"""
import contextlib

import numpy as np
import pytest

import fastbp
from fastbp import reference as ref
from fastbp._openmp_helpers import cpu_count

from conftest import shape_in

KERNELS = ("dense_forward", "dense_backward", "output_delta", "loss", "softmax")
#: the floating-point inputs of each kernel (Y is a label: its own rules)
FLOAT_INPUTS = {"dense_forward": ("A_prev", "W", "b"),
                "dense_backward": ("dZ", "A_prev", "W", "Z_prev"),
                "output_delta": ("AL",), "loss": ("AL",), "softmax": ("Z",)}
BAD_DTYPES = (np.int32, np.int64, np.uint8, np.bool_, np.float16, np.complex64,
              np.complex128, np.longdouble)


def base(kernel, dtype=np.float64, n_prev=4, n=3, m=6):
    """Valid arguments of ``kernel`` (a dict of arrays)."""
    rng = np.random.default_rng(0)

    def r(*shape):
        return rng.standard_normal(shape).astype(dtype)

    if kernel == "dense_forward":
        return dict(A_prev=r(n_prev, m), W=r(n, n_prev), b=r(n, 1))
    if kernel == "dense_backward":
        return dict(dZ=r(n, m), A_prev=r(n_prev, m), W=r(n, n_prev), Z_prev=r(n_prev, m))
    if kernel in ("output_delta", "loss"):
        return dict(AL=rng.uniform(0.1, 0.9, (n, m)).astype(dtype),
                    Y=rng.integers(0, 2, (n, m)).astype(np.uint8))
    if kernel == "softmax":
        return dict(Z=r(n, m))
    raise ValueError(kernel)


def call(kernel, a, **kw):
    if kernel == "dense_forward":
        return fastbp.dense_forward(a["A_prev"], a["W"], a["b"], kw.pop("activation", "relu"),
                                    **kw)
    if kernel == "dense_backward":
        return fastbp.dense_backward(a["dZ"], a["A_prev"], a["W"],
                                     kw.pop("activation", "gelu"),
                                     Z_prev=a["Z_prev"], **kw)
    if kernel == "output_delta":
        return fastbp.output_delta(a["AL"], a["Y"], kw.pop("loss", "binary_crossentropy"),
                                   **kw)
    if kernel == "loss":
        return fastbp.loss(a["AL"], a["Y"], kw.pop("loss", "binary_crossentropy"), **kw)
    if kernel == "softmax":
        return fastbp.softmax(a["Z"], **kw)
    raise ValueError(kernel)


def _raises(exc, kernel, a, what, **kw):
    with pytest.raises(exc) as info:
        call(kernel, a, **kw)
    msg = str(info.value)
    assert "No matching signature" not in msg and "Buffer dtype mismatch" not in msg, (
        f"raw Cython dispatch error reached the user ({what}): {msg}")
    return msg


def test_base_arguments_are_valid():
    # the error tests below change one thing at a time from these
    for kernel in KERNELS:
        for dt in (np.float32, np.float64):
            call(kernel, base(kernel, dt))


# ------------------------------------------------------------------------ dtypes
CASES_DTYPE = [(k, name, bad) for k in KERNELS for name in FLOAT_INPUTS[k]
               for bad in BAD_DTYPES]


@pytest.mark.parametrize("kernel,name,bad", CASES_DTYPE,
                         ids=[f"{k}-{n}-{np.dtype(b).name}" for k, n, b in CASES_DTYPE])
def test_unsupported_dtype(kernel, name, bad):
    a = base(kernel)
    x = a[name]
    a[name] = (10 * x).astype(bad) if np.dtype(bad).kind in "iub" else x.astype(bad)
    what = f"{kernel}: {name} of dtype {np.dtype(bad)}"
    msg = _raises(TypeError, kernel, a, what)
    if name == "b":  # b's one allowed dtype is that of A_prev and W
        assert "float64" in msg, f"{what}: the dtype to use is not named: {msg}"
    else:
        assert "float32" in msg and "float64" in msg, (
            f"{what}: allowed dtypes not named: {msg}")
    assert "astype" in msg or "cast" in msg.lower(), f"{what}: no hint how to cast: {msg}"


CASES_SPARSE = [(k, name) for k in KERNELS for name in FLOAT_INPUTS[k] + (
    ("Y",) if k in ("output_delta", "loss") else ())]


@pytest.mark.parametrize("kernel,name", CASES_SPARSE, ids=[f"{k}-{n}" for k, n in CASES_SPARSE])
def test_sparse_input_says_toarray(kernel, name):
    # a SciPy sparse matrix became a 0-d object array: "has dtype object ...
    # e.g. A_prev.astype(np.float32)" (which stays sparse), "Y should have
    # the shape of AL, got Y ()", or NumPy's "setting an array element with a
    # sequence" for b
    import scipy.sparse
    a = base(kernel)
    a[name] = scipy.sparse.csr_matrix(a[name].reshape(a[name].shape[0], -1))
    msg = _raises(TypeError, kernel, a, f"{kernel}: a sparse {name}")
    assert f"{name}.toarray()" in msg, msg


@pytest.mark.parametrize("kernel", ["dense_forward", "dense_backward", "softmax",
                                    "output_delta"])
def test_all_inputs_integer(kernel):
    a = {k: (v * 10).astype(np.int64) for k, v in base(kernel).items()}
    msg = _raises(TypeError, kernel, a, f"{kernel} with all-integer inputs")
    assert "float32" in msg and "float64" in msg, msg


CASES_MIXED = [(k, name) for k in ("dense_forward", "dense_backward")
               for name in FLOAT_INPUTS[k]]


@pytest.mark.parametrize("kernel,name", CASES_MIXED, ids=[f"{k}-{n}" for k, n in CASES_MIXED])
@pytest.mark.parametrize("odd", [np.float32, np.float64], ids=["f32-among-f64",
                                                                 "f64-among-f32"])
def test_mixed_float_dtypes(kernel, name, odd):
    other = np.float64 if odd is np.float32 else np.float32
    a = base(kernel, other)
    a[name] = a[name].astype(odd)
    what = f"{kernel}: {name} is {np.dtype(odd)}, the others {np.dtype(other)}"
    msg = _raises(TypeError, kernel, a, what)
    assert "float32" in msg and "float64" in msg, f"{what}: dtypes not named: {msg}"


@pytest.mark.parametrize("kernel", ["output_delta", "loss"])
@pytest.mark.parametrize("ydtype", [np.int8, np.int32, np.int64, np.uint8, np.bool_, None],
                         ids=["int8", "int32", "int64", "uint8", "bool", "same-as-AL"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_label_dtypes_accepted(kernel, ydtype, dtype):
    a = base(kernel, dtype)
    a["Y"] = a["Y"].astype(ydtype or dtype)
    res = call(kernel, a, loss="mse")
    expected = (ref.output_delta(a["AL"], a["Y"], "mse") if kernel == "output_delta"
                else ref.loss(a["AL"], a["Y"], "mse"))
    np.testing.assert_allclose(res, expected, rtol=1e-6,
                               err_msg=f"{kernel} AL {np.dtype(dtype)} Y {np.dtype(ydtype)}")


@pytest.mark.parametrize("kernel", ["output_delta", "loss"])
@pytest.mark.parametrize("ydtype", [np.complex64, np.complex128])
def test_bad_label_dtype(kernel, ydtype):
    a = base(kernel)
    a["Y"] = a["Y"].astype(ydtype)
    what = f"{kernel}: Y of dtype {np.dtype(ydtype)}"
    _raises((TypeError, ValueError), kernel, a, what)


# ------------------------------------------------------------------------ shapes
# (kernel, {input: new shape}, the shapes the message must name)
CASES_SHAPE = [
    ("dense_forward", {"W": (3, 5)}, ("W", "A_prev")),
    ("dense_forward", {"A_prev": (5, 6)}, ("W", "A_prev")),
    ("dense_forward", {"b": (4, 1)}, ("b", "W")),
    ("dense_forward", {"b": (1, 3)}, ("b", "W")),
    ("dense_forward", {"b": (3, 2)}, ("b", "W")),
    ("dense_forward", {"b": (2,)}, ("b", "W")),
    ("dense_forward", {"A_prev": (4,)}, ("A_prev",)),
    ("dense_forward", {"A_prev": (4, 6, 1)}, ("A_prev",)),
    ("dense_forward", {"W": (4,)}, ("W",)),
    ("dense_backward", {"dZ": (3, 5)}, ("dZ", "A_prev")),
    ("dense_backward", {"A_prev": (4, 7)}, ("dZ", "A_prev")),
    ("dense_backward", {"W": (3, 5)}, ("W", "A_prev")),
    ("dense_backward", {"W": (2, 4)}, ("W", "dZ")),
    ("dense_backward", {"W": (4, 3)}, ("W",)),
    ("dense_backward", {"Z_prev": (4, 5)}, ("Z_prev", "A_prev")),
    ("dense_backward", {"Z_prev": (6, 4)}, ("Z_prev", "A_prev")),
    ("dense_backward", {"dZ": (3,)}, ("dZ",)),
    ("dense_backward", {"A_prev": (1, 4, 6)}, ("A_prev",)),
    ("output_delta", {"Y": (3, 5)}, ("AL", "Y")),
    ("output_delta", {"Y": (2, 6)}, ("AL", "Y")),
    ("output_delta", {"Y": (6,)}, ("AL", "Y")),
    ("output_delta", {"Y": (6, 3)}, ("AL", "Y")),
    ("output_delta", {"AL": (3, 6, 1), "Y": (3, 6, 1)}, ("AL",)),
    ("loss", {"Y": (3, 5)}, ("AL", "Y")),
    ("loss", {"Y": (6, 3)}, ("AL", "Y")),
    ("loss", {"AL": (18,), "Y": (18,)}, ("AL",)),
    ("softmax", {"Z": (6,)}, ("Z",)),
    ("softmax", {"Z": (3, 6, 1)}, ("Z",)),
]


def _reshaped(a, changes):
    rng = np.random.default_rng(1)
    a = dict(a)
    for name, shape in changes.items():
        old = a[name]
        if old.dtype == np.uint8:
            a[name] = rng.integers(0, 2, shape).astype(np.uint8)
        else:
            a[name] = rng.uniform(0.1, 0.9, shape).astype(old.dtype)
    return a


@pytest.mark.parametrize("kernel,changes,named", CASES_SHAPE,
                         ids=[f"{k}-" + "-".join(f"{n}{s}" for n, s in c.items())
                              for k, c, _ in CASES_SHAPE])
def test_wrong_shape(kernel, changes, named):
    a = _reshaped(base(kernel), changes)
    what = f"{kernel} with " + ", ".join(f"{n} {a[n].shape}" for n in a)
    msg = _raises(ValueError, kernel, a, what)
    for name in named:
        assert shape_in(a[name].shape, msg), (
            f"{what}: message does not name {name}'s shape {a[name].shape}: {msg}")


@pytest.mark.parametrize("n", [1, 3])
def test_b_shapes_accepted(n):
    # b as (n, 1) or (n,); b as (1, n) only works when it is (1, 1)
    rng = np.random.default_rng(2)
    A_prev, W = rng.standard_normal((4, 5)), rng.standard_normal((n, 4))
    for b in (np.ones((n, 1)), np.ones(n)):
        Z, _ = fastbp.dense_forward(A_prev, W, b, "identity")
        np.testing.assert_allclose(Z, W @ A_prev + 1, rtol=1e-12, err_msg=f"b {b.shape}")


# -------------------------------------------------------------- empty dimensions
CASES_EMPTY = [
    ("dense_forward", dict(m=0)), ("dense_forward", dict(n=0)),
    ("dense_forward", dict(n_prev=0)), ("dense_forward", dict(n=0, n_prev=0, m=0)),
    ("dense_backward", dict(m=0)), ("dense_backward", dict(n=0)),
    ("dense_backward", dict(n_prev=0)),
    ("output_delta", dict(m=0)), ("output_delta", dict(n=0)),
    ("loss", dict(m=0)), ("loss", dict(n=0)),
    ("softmax", dict(m=0)), ("softmax", dict(n=0)),
]


@pytest.mark.parametrize("kernel,dims", CASES_EMPTY,
                         ids=[f"{k}-" + "-".join(f"{d}=0" for d in dims)
                              for k, dims in CASES_EMPTY])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_empty_dimension(kernel, dims, dtype):
    a = base(kernel, dtype, **dims)
    what = f"{kernel} with " + ", ".join(f"{n} {v.shape}" for n, v in a.items())
    _raises(ValueError, kernel, a, what)


@pytest.mark.parametrize("kernel", ["dense_forward", "softmax", "loss"])
def test_dimension_beyond_blas_is_refused_before_copying(kernel):
    # a broadcast view of 2**31 columns was copied into a C-contiguous array
    # first (here 8 PiB: MemoryError; at (1, 2**31) an 8 GiB copy) and only
    # then refused
    big = np.broadcast_to(np.float32(1), (2**20, 2**31))
    a = base(kernel, np.float32)
    a["A_prev" if kernel == "dense_forward" else "AL" if kernel == "loss" else "Z"] = big
    if kernel == "dense_forward":
        a["W"] = np.ones((3, 2**20), np.float32)
    msg = _raises(ValueError, kernel, a, f"{kernel} with a (2**20, 2**31) broadcast view")
    assert "2**31" in msg, msg


# ------------------------------------------------------------ names and options
@pytest.mark.parametrize("kernel", ["dense_forward", "dense_backward"])
@pytest.mark.parametrize("name", ["swish", "softmax", "RELU ", "", "gelu-tanh"])
def test_unknown_activation(kernel, name):
    msg = _raises(ValueError, kernel, base(kernel), f"{kernel} activation={name!r}",
                  activation=name)
    missing = [v for v in ref.ACTIVATIONS if v not in msg]
    assert not missing, f"valid activations {missing} not listed: {msg}"


@pytest.mark.parametrize("kernel", ["dense_forward", "dense_backward"])
@pytest.mark.parametrize("name", [3, 1.5, b"relu"])
def test_activation_not_a_string(kernel, name):
    _raises((TypeError, ValueError), kernel, base(kernel), f"activation={name!r}",
            activation=name)


@pytest.mark.parametrize("kernel", ["output_delta", "loss"])
@pytest.mark.parametrize("name", ["cross_entropy", "mae", "hinge", "", "BCE"])
def test_unknown_loss(kernel, name):
    msg = _raises(ValueError, kernel, base(kernel), f"{kernel} loss={name!r}", loss=name)
    missing = [v for v in ref.LOSSES if v not in msg]
    assert not missing, f"valid losses {missing} not listed: {msg}"


@pytest.mark.parametrize("act", ref.DERIVATIVE_FROM_Z)
def test_z_prev_required(act):
    a = base("dense_backward")
    with pytest.raises(ValueError) as info:
        fastbp.dense_backward(a["dZ"], a["A_prev"], a["W"], act)
    assert "Z_prev" in str(info.value), f"activation={act}: {info.value}"


@pytest.mark.parametrize("kernel", ["dense_forward", "dense_backward", "output_delta",
                                    "softmax"])
def test_n_threads_zero(kernel):
    msg = _raises(ValueError, kernel, base(kernel), f"{kernel} n_threads=0", n_threads=0)
    assert "n_threads" in msg, msg


@pytest.mark.parametrize("kernel", ["dense_forward", "dense_backward", "output_delta",
                                    "softmax"])
@pytest.mark.parametrize("value", [1.5, "2", np.array(1.5), np.array(True)],
                         ids=["1.5", "'2'", "array(1.5)", "array(True)"])
def test_n_threads_not_an_int(kernel, value):
    # a 0-d array has __index__ (ndarray's), and int() truncated array(1.5) to 1
    _raises((TypeError, ValueError), kernel, base(kernel), f"{kernel} n_threads={value!r}",
            n_threads=value)


@pytest.mark.parametrize("kernel", ["dense_forward", "dense_backward", "output_delta",
                                    "softmax"])
@pytest.mark.parametrize("value", [-1, 64, np.int64(2), np.array(64)],
                         ids=["-1", "64", "np.int64(2)", "array(64)"])
def test_n_threads_negative_or_large_works(kernel, value):
    # negative counts down from the cores; more threads than cores are capped
    # at the cores with a warning; NumPy integers are integers (a 0-d array
    # was not capped: array(10**18) asked OpenMP for 2**31 - 1 threads, and
    # libgomp exited the process trying to allocate them)
    a = base(kernel)
    warns = (pytest.warns(RuntimeWarning, match=f"n_threads={value} is more than the")
             if value > cpu_count() else contextlib.nullcontext())
    with warns:
        res = call(kernel, a, n_threads=value)
    exp = call(kernel, a, n_threads=1)
    for x, y in zip(res if isinstance(res, tuple) else (res,),
                    exp if isinstance(exp, tuple) else (exp,)):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14,
                                   err_msg=f"{kernel} n_threads={value}")


# ---------------------------------------------------------------------- out= arrays
def _out_shapes(kernel, a):
    if kernel == "dense_forward":
        s = (a["W"].shape[0], a["A_prev"].shape[1])
        return [s, s]
    if kernel == "dense_backward":
        n, n_prev = a["W"].shape
        return [a["A_prev"].shape, (n, n_prev), (n, 1)]
    return [a["AL" if "AL" in a else "Z"].shape]


def _good_out(kernel, a):
    dt = next(iter(a.values())).dtype
    return [np.zeros(s, dt) for s in _out_shapes(kernel, a)]


def _pack(kernel, outs):
    return tuple(outs) if kernel in ("dense_forward", "dense_backward") else outs[0]


OUT_KERNELS = ("dense_forward", "dense_backward", "output_delta", "softmax")
N_OUT = {"dense_forward": 2, "dense_backward": 3, "output_delta": 1, "softmax": 1}


def _bad_out(kernel, a, i, how):
    outs = _good_out(kernel, a)
    o = outs[i]
    if how == "readonly":
        o.flags.writeable = False
    elif how == "transposed":
        o = np.zeros(o.shape[::-1], o.dtype)
        if o.shape == outs[i].shape:  # square: make it plainly wrong
            o = np.zeros((o.shape[0] + 1, o.shape[1]), o.dtype)
    elif how == "extra_row":
        o = np.zeros((o.shape[0] + 1, o.shape[1]), o.dtype)
    elif how == "1d":
        o = np.zeros(o.size, o.dtype)
    elif how == "dtype":
        o = o.astype(np.float32 if o.dtype == np.float64 else np.float64)
    elif how == "F":
        o = np.asfortranarray(np.zeros(outs[i].shape, outs[i].dtype))
    elif how == "strided":
        o = np.zeros((o.shape[0], 2 * o.shape[1]), o.dtype)[:, ::2]
    elif how == "byteswapped":
        # the native dtype's type number: the kernels wrote native bytes into it
        o = np.zeros(o.shape, o.dtype.newbyteorder())
    elif how == "unaligned":
        raw = np.zeros(o.size * o.itemsize + 1, np.uint8)
        o = raw[1:].view(o.dtype).reshape(o.shape)
        assert not o.flags.aligned
    outs[i] = o
    return outs


OUT_HOWS = ("readonly", "transposed", "extra_row", "1d", "dtype", "F", "strided",
            "byteswapped", "unaligned")
CASES_OUT = [(k, i, how) for k in OUT_KERNELS for i in range(N_OUT[k]) for how in OUT_HOWS
             # an (n, 1) db is C- and F-contiguous, and whether an (n,) db is
             # acceptable is left open: those cases are not errors by the spec.
             if not (k == "dense_backward" and i == 2 and how in ("F", "strided", "1d"))]


@pytest.mark.parametrize("kernel,i,how", CASES_OUT,
                         ids=[f"{k}-out{i}-{h}" for k, i, h in CASES_OUT])
def test_bad_out(kernel, i, how):
    a = base(kernel, n_prev=4, n=3, m=6)
    outs = _bad_out(kernel, a, i, how)
    what = f"{kernel}: out[{i}] {how} (shape {outs[i].shape}, dtype {outs[i].dtype})"
    exc = (ValueError, TypeError) if how in ("dtype", "byteswapped") else ValueError
    msg = _raises(exc, kernel, a, what, out=_pack(kernel, outs))
    assert "out" in msg, f"{what}: message does not mention out: {msg}"


@pytest.mark.parametrize("kernel", ["dense_forward", "dense_backward"])
@pytest.mark.parametrize("count", [0, 1, 4])
def test_out_tuple_length(kernel, count):
    a = base(kernel)
    outs = (_good_out(kernel, a) * 2)[:count]
    _raises((TypeError, ValueError), kernel, a, f"{kernel}: out of length {count}",
            out=tuple(outs))


@pytest.mark.parametrize("kernel", ["dense_forward", "dense_backward"])
def test_out_not_a_tuple(kernel):
    a = base(kernel)
    _raises((TypeError, ValueError), kernel, a, f"{kernel}: out is one array",
            out=_good_out(kernel, a)[0])


def _overlap_cases():
    """(id, kernel, build) where build() -> (arrays, outs) with a shared buffer."""
    cases = []

    def fwd_same_out():
        a = base("dense_forward")
        o = _good_out("dense_forward", a)
        return a, [o[0], o[0]]

    def fwd_out_is_input():
        a = base("dense_forward", n_prev=3, n=3)  # Z has A_prev's shape
        return a, [a["A_prev"], _good_out("dense_forward", a)[1]]

    def fwd_out_in_W():
        a = base("dense_forward", n_prev=4, n=3, m=6)
        buf = np.zeros(40)
        a["W"] = buf[10:22].reshape(3, 4)
        a["W"][...] = 0.5
        o = _good_out("dense_forward", a)
        return a, [o[0], buf[:18].reshape(3, 6)]

    def fwd_out_is_b_view():
        a = base("dense_forward", n_prev=4, n=3, m=1)
        o = _good_out("dense_forward", a)
        return a, [a["b"], o[1]]  # b is (3, 1) and Z is (3, 1)

    def fwd_partial_overlap():
        a = base("dense_forward", n_prev=4, n=3, m=6)
        buf = np.zeros(60)
        A_prev = buf[:24].reshape(4, 6)
        A_prev[...] = 1.0
        a["A_prev"] = A_prev
        o = _good_out("dense_forward", a)
        return a, [buf[20:38].reshape(3, 6), o[1]]

    def fwd_A_prev_F_overlap():
        a = base("dense_forward", n_prev=3, n=3, m=6)
        buf = np.ones((6, 3))
        a["A_prev"] = buf.T  # F-contiguous input over the same memory as out
        return a, [buf.reshape(3, 6), _good_out("dense_forward", a)[1]]

    def bwd_dZprev_is_A_prev():
        a = base("dense_backward")
        o = _good_out("dense_backward", a)
        return a, [a["A_prev"], o[1], o[2]]

    def bwd_dZprev_is_Z_prev():
        a = base("dense_backward")
        o = _good_out("dense_backward", a)
        return a, [a["Z_prev"], o[1], o[2]]

    def bwd_dW_is_W():
        a = base("dense_backward")
        o = _good_out("dense_backward", a)
        return a, [o[0], a["W"], o[2]]

    def bwd_db_in_dZ():
        a = base("dense_backward")
        buf = np.ones(18)
        a["dZ"] = buf.reshape(3, 6)
        o = _good_out("dense_backward", a)
        return a, [o[0], o[1], buf[3:6].reshape(3, 1)]

    def bwd_dW_db_overlap():
        a = base("dense_backward")
        buf = np.zeros(16)
        o = _good_out("dense_backward", a)
        return a, [o[0], buf[:12].reshape(3, 4), buf[10:13].reshape(3, 1)]

    def bwd_dZprev_dW_same_buffer():
        a = base("dense_backward", n_prev=4, n=4, m=4)
        o = _good_out("dense_backward", a)
        return a, [o[0], o[0], o[2]]

    def od_out_is_AL():
        a = base("output_delta")
        return a, [a["AL"]]

    def od_out_is_Y():
        a = base("output_delta")
        a["Y"] = a["Y"].astype(np.float64)
        return a, [a["Y"]]

    def sm_out_is_Z():
        a = base("softmax")
        return a, [a["Z"]]

    def sm_out_overlaps_Z():
        a = base("softmax")
        buf = np.ones(30)
        a["Z"] = buf[:18].reshape(3, 6)
        return a, [buf[12:30].reshape(3, 6)]

    for f, k in [(fwd_same_out, "dense_forward"), (fwd_out_is_input, "dense_forward"),
                 (fwd_out_in_W, "dense_forward"), (fwd_out_is_b_view, "dense_forward"),
                 (fwd_partial_overlap, "dense_forward"),
                 (fwd_A_prev_F_overlap, "dense_forward"),
                 (bwd_dZprev_is_A_prev, "dense_backward"),
                 (bwd_dZprev_is_Z_prev, "dense_backward"), (bwd_dW_is_W, "dense_backward"),
                 (bwd_db_in_dZ, "dense_backward"), (bwd_dW_db_overlap, "dense_backward"),
                 (bwd_dZprev_dW_same_buffer, "dense_backward"),
                 (od_out_is_AL, "output_delta"), (od_out_is_Y, "output_delta"),
                 (sm_out_is_Z, "softmax"), (sm_out_overlaps_Z, "softmax")]:
        cases.append(pytest.param(k, f, id=f.__name__))
    return cases


@pytest.mark.parametrize("kernel,build", _overlap_cases())
def test_out_overlap(kernel, build):
    a, outs = build()
    arrays = list(a.values()) + outs
    assert any(np.shares_memory(x, y) for i, x in enumerate(arrays)
               for y in arrays[i + 1:]), "test setup: nothing overlaps"
    before = {k: v.copy() for k, v in a.items()}
    msg = _raises(ValueError, kernel, a, f"{kernel}: {build.__name__}",
                  out=_pack(kernel, outs))
    assert "out" in msg, f"{build.__name__}: message does not mention out: {msg}"
    for k, v in a.items():
        assert np.array_equal(v, before[k]), f"{build.__name__}: input {k} modified"


@pytest.mark.parametrize("kw, exc", [
    ({"lambd": "0.1"}, TypeError), ({"scale": "1"}, TypeError),     # float() took text
    ({"lambd": -0.5}, ValueError), ({"lambd": float("nan")}, ValueError),
    ({"lambd": float("inf")}, ValueError), ({"scale": float("nan")}, ValueError),
    ({"scale": float("-inf")}, ValueError),
    ({"scale": 10**400}, ValueError), ({"lambd": -10**400}, ValueError)])
def test_text_nonfinite_or_negative_scale_and_lambd_are_refused(kw, exc):
    """They poisoned every gradient (NaN) or were read as numbers, silently;
    an int beyond float's range raised float()'s bare OverflowError, naming
    no argument (alpha's check already took it as inf)."""
    dZ, A, W = np.ones((2, 5)), np.ones((3, 5)), np.ones((2, 3))
    with pytest.raises(exc, match=f"Invalid {next(iter(kw))}"):
        fastbp.dense_backward(dZ, A, W, **kw)


@pytest.mark.parametrize("kw", [{"lambd": "x"}, {"scale": "half"}, {"lambd": None}, {"scale": [1, 2]}])
def test_non_numeric_scale_or_lambd_is_a_type_error(kw):
    dZ, A, W = np.ones((2, 5)), np.ones((3, 5)), np.ones((2, 3))
    name = next(iter(kw))
    with pytest.raises(TypeError, match=f"Invalid {name}: expected a real number"):
        fastbp.dense_backward(dZ, A, W, **kw)


def test_arguments_a_layer_does_not_read_are_still_checked():
    """An unused Z_prev of the wrong shape and a NaN or infinite alpha passed
    silently (alpha=inf made leaky_relu's outputs inf/NaN)."""
    dZ, A, W = np.ones((2, 7)), np.ones((3, 7)), np.ones((2, 3))
    with pytest.raises(ValueError, match=r"Z_prev should match A_prev \(3, 7\), got Z_prev \(2, 7\)"):
        fastbp.dense_backward(dZ, A, W, "relu", Z_prev=np.zeros((2, 7)))
    with pytest.raises(TypeError, match="Z_prev"):
        fastbp.dense_backward(dZ, A, W, "relu", Z_prev=np.zeros((3, 7), np.float32))
    for act in ("relu", "leaky_relu", "elu", "gelu", None):
        for bad in (np.nan, np.inf, -np.inf):
            with pytest.raises(ValueError, match="alpha: must be finite"):
                fastbp.dense_backward(dZ, A, W, act, alpha=bad, Z_prev=A)
            if act is not None:
                with pytest.raises(ValueError, match="alpha: must be finite"):
                    fastbp.dense_forward(A, W, np.zeros((2, 1)), act, alpha=bad)
    # a right-shaped Z_prev and a finite alpha that relu does not read change nothing
    ref = fastbp.dense_backward(dZ, A, W, "relu")
    got = fastbp.dense_backward(dZ, A, W, "relu", Z_prev=A.copy(), alpha=0.3)
    for r, g in zip(ref, got):
        np.testing.assert_array_equal(r, g)
