"""fastbp.dense_forward and fastbp.dense_backward against fastbp.reference.

Grid: shapes (n_prev, n, m) over the sizes 1, 3, 17, 1000 x float32/float64 x
n_threads 1/2 x eight layouts (C/F order of every input, out= given or not,
read-only inputs) x every activation; plus large shapes, scale/lambd, strided
and byte-swapped inputs, NaN/inf, and a finite-difference gradient check of a
two-layer chain for every activation and loss.
"""
import itertools

import numpy as np
import pytest

import fastbp
from fastbp import _blas, _dense
from fastbp import reference as ref

from conftest import (DTYPES, LARGE_SHAPES, SHAPES, assert_same, assert_unchanged,
                      check_backward, check_forward, layout, shape_id,
                      snapshot)

ACTIVATIONS = ref.ACTIVATIONS
FROM_Z = ref.DERIVATIVE_FROM_Z


def _l8():
    """Orthogonal array L8 (7 binary columns): every pair of columns takes all
    four value combinations, and columns 0, 1, 3 are a full factorial."""
    return [(a, b, a ^ b, c, a ^ c, b ^ c, a ^ b ^ c)
            for a, b, c in itertools.product((0, 1), repeat=3)]


ORD = "CF"
# forward: orders of A_prev and W in full factorial with b as (n,) or (n, 1);
# out= and read-only inputs pairwise-balanced against them.
FWD_LAYOUTS = [dict(A_prev=ORD[r[0]], W=ORD[r[1]], b1d=bool(r[3]), out=bool(r[2]),
                    readonly=bool(r[4])) for r in _l8()]
# backward: orders of dZ, A_prev, W in full factorial; out=, read-only and
# Z_prev's order pairwise-balanced against them.
BWD_LAYOUTS = [dict(dZ=ORD[r[0]], A_prev=ORD[r[1]], W=ORD[r[3]], out=bool(r[2]),
                    readonly=bool(r[4]), Z_prev=ORD[r[5]]) for r in _l8()]


def _lay_id(d):
    return "-".join(f"{k}={v}" if isinstance(v, str) else (k if v else f"no{k}")
                    for k, v in d.items())


def _dt_id(t):
    return np.dtype(t).name


def _forward_data(rng, shape, dtype):
    n_prev, n, m = shape
    A_prev = rng.standard_normal((n_prev, m)).astype(dtype)
    W = (rng.standard_normal((n, n_prev)) / np.sqrt(n_prev)).astype(dtype)
    b = (0.5 * rng.standard_normal((n, 1))).astype(dtype)
    return A_prev, W, b


def _backward_data(rng, shape, dtype):
    n_prev, n, m = shape
    dZ = rng.standard_normal((n, m)).astype(dtype)
    W = (rng.standard_normal((n, n_prev)) / np.sqrt(n_prev)).astype(dtype)
    Z_prev = (2 * rng.standard_normal((n_prev, m))).astype(dtype)
    Z_prev.flat[::7] = 0  # exact zeros: relu'(0) = 0, leaky_relu'(0) = alpha
    A_free = rng.standard_normal((n_prev, m)).astype(dtype)  # for activation=None
    return dZ, W, Z_prev, A_free


def _a_prev_for(act, Z_prev, A_free, alpha=None):
    """A_prev consistent with Z_prev, so derivatives from A and from Z agree."""
    if act is None:
        return A_free
    with np.errstate(all="ignore"):
        return ref.activation(Z_prev, act, alpha)


def run_forward(A_prev, W, b, act, *, use_out, n_threads, alpha=None):
    n, m = W.shape[0], A_prev.shape[1]
    if not use_out:
        return fastbp.dense_forward(A_prev, W, b, act, alpha=alpha, n_threads=n_threads)
    out = (np.full((n, m), np.nan, A_prev.dtype), np.full((n, m), np.nan, A_prev.dtype))
    res = fastbp.dense_forward(A_prev, W, b, act, alpha=alpha, out=out, n_threads=n_threads)
    assert res[0] is out[0] and res[1] is out[1], "out= objects not returned"
    return res


def run_backward(dZ, A_prev, W, act, *, use_out, n_threads, Z_prev=None, alpha=None,
                 scale=None, lambd=0.0):
    n, m = dZ.shape
    n_prev = A_prev.shape[0]
    kw = dict(Z_prev=Z_prev, alpha=alpha, scale=scale, lambd=lambd, n_threads=n_threads)
    if not use_out:
        return fastbp.dense_backward(dZ, A_prev, W, act, **kw)
    dt = dZ.dtype
    out = (np.full((n_prev, m), np.nan, dt), np.full((n, n_prev), np.nan, dt),
           np.full((n, 1), np.nan, dt))
    res = fastbp.dense_backward(dZ, A_prev, W, act, out=out, **kw)
    assert len(res) == 3 and all(r is o for r, o in zip(res, out)), \
        "out= objects not returned"
    return res


# ------------------------------------------------------------------- forward grid
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("lay", FWD_LAYOUTS, ids=_lay_id)
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_dense_forward_grid(shape, dtype, lay, n_threads, rng):
    n_prev, n, m = shape
    A0, W0, b0 = _forward_data(rng, shape, dtype)
    ro = lay["readonly"]
    A_prev = layout(A0, lay["A_prev"], ro)
    W = layout(W0, lay["W"], ro)
    b = layout(b0.reshape(n) if lay["b1d"] else b0, "C", ro)
    before = snapshot(A_prev, W, b)
    for act in ACTIVATIONS:
        params = (f"shape(n_prev,n,m)={shape} dtype={_dt_id(dtype)} {_lay_id(lay)} "
                  f"n_threads={n_threads} activation={act}")
        Z, A = run_forward(A_prev, W, b, act, use_out=lay["out"], n_threads=n_threads)
        check_forward(A_prev, W, b, act, None, Z, A, params)
    assert_unchanged([A_prev, W, b], before, f"shape={shape} {_lay_id(lay)}")


# ------------------------------------------------------------------ backward grid
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("lay", BWD_LAYOUTS, ids=_lay_id)
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_dense_backward_grid(shape, dtype, lay, n_threads, rng):
    dZ0, W0, Zp0, A_free = _backward_data(rng, shape, dtype)
    ro = lay["readonly"]
    dZ = layout(dZ0, lay["dZ"], ro)
    W = layout(W0, lay["W"], ro)
    Z_prev = layout(Zp0, lay["Z_prev"], ro)
    before = snapshot(dZ, W, Z_prev)
    for act in (None,) + ACTIVATIONS:
        A_prev = layout(_a_prev_for(act, Zp0, A_free), lay["A_prev"], ro)
        a_before = snapshot(A_prev)
        # Z_prev is passed where required and, on half the layouts, also where not
        zp = Z_prev if act in FROM_Z or (act is not None and lay["out"]) else None
        params = (f"shape(n_prev,n,m)={shape} dtype={_dt_id(dtype)} {_lay_id(lay)} "
                  f"n_threads={n_threads} activation={act} Z_prev given={zp is not None}")
        dZp, dW, db = run_backward(dZ, A_prev, W, act, use_out=lay["out"],
                                   n_threads=n_threads, Z_prev=zp)
        check_backward(dZ, A_prev, W, act, Z_prev, None, None, 0.0, dZp, dW, db, params)
        assert_unchanged([A_prev], a_before, params)
    assert_unchanged([dZ, W, Z_prev], before, f"shape={shape} {_lay_id(lay)}")


# ----------------------------------------------------------------- large shapes
# (shape, dtype, (order, out given, read-only), n_threads): the shapes with
# two dimensions of 1000 and a long odd m in full; 1000^3 once per dtype to
# keep the suite fast.
LARGE_LAYOUTS = [("C", False, False), ("F", True, True)]
LARGE_CASES = ([(s, d, lay, t) for s in LARGE_SHAPES[:-1] for d in DTYPES
                for lay in LARGE_LAYOUTS for t in (1, 2)]
               + [(LARGE_SHAPES[-1], np.float32, LARGE_LAYOUTS[0], 1),
                  (LARGE_SHAPES[-1], np.float64, LARGE_LAYOUTS[1], 2)])


def _large_id(case):
    s, d, (o, out, ro), t = case
    return f"{shape_id(s)}-{_dt_id(d)}-{o}{'-out' if out else ''}{'-ro' if ro else ''}-t{t}"


@pytest.mark.parametrize("case", LARGE_CASES, ids=_large_id)
def test_dense_forward_large(case, rng):
    shape, dtype, (order, use_out, readonly), n_threads = case
    A0, W0, b0 = _forward_data(rng, shape, dtype)
    A_prev, W, b = (layout(x, order, readonly) for x in (A0, W0, b0))
    act = "gelu_tanh"
    params = f"{_large_id(case)} activation={act}"
    Z, A = run_forward(A_prev, W, b, act, use_out=use_out, n_threads=n_threads)
    check_forward(A_prev, W, b, act, None, Z, A, params)


# float32 blocks with >= 256 inputs start Z as the bias and let the GEMM add
# its product (BIAS_FIRST_K, _rows.pxd); the epilogue then writes A alone. Both
# sides of the limit, every activation, row and column blocks, 1 and 2
# threads, out= given (Z filled with garbage first) or not.
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("use_out", [False, True])
@pytest.mark.parametrize("n_prev", [255, 256, 300])
@pytest.mark.parametrize("n,m", [(130, 50), (9, 700)], ids=["rows", "cols"])
def test_dense_forward_bias_first(n, m, n_prev, use_out, n_threads, rng):
    shape = (n_prev, n, m)
    A_prev, W, b = _forward_data(rng, shape, np.float32)
    for act in ACTIVATIONS:
        params = f"shape={shape} use_out={use_out} n_threads={n_threads} activation={act}"
        out = None
        if use_out:
            out = (np.full((n, m), np.nan, np.float32), np.full((n, m), -7.0, np.float32))
        Z, A = fastbp.dense_forward(A_prev, W, b, act, out=out, n_threads=n_threads)
        check_forward(A_prev, W, b, act, None, Z, A, params)
        # the same Z whatever the activation (an epilogue that wrote Z again
        # would show here only as a rounding difference: compare exactly)
        Z_id, _ = fastbp.dense_forward(A_prev, W, b, "identity", n_threads=n_threads)
        assert_same(Z, Z_id, "Z", params)


# Small blocks in row chunks (fastbp._dense's _chunks_pay: AVX-512, C-ordered
# W and A_prev, whole 4-vector tiles of columns, at most 262,144
# multiply-adds a block): rows that are not a multiple of the chunk (12) or
# of the register tile (6), inner sizes from 1, every activation, 1 and 2
# threads, out= filled with NaN first, read-only inputs; against the
# reference and against the same call through OpenBLAS (chunks off).
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
@pytest.mark.parametrize("n,n_prev", [(1, 1), (5, 3), (6, 17), (7, 64), (13, 2), (25, 60),
                                      (64, 32)])
@pytest.mark.parametrize("tiles", [1, 2])
def test_dense_forward_chunks(tiles, n, n_prev, dtype, n_threads, rng):
    m = tiles * (32 if np.dtype(dtype) == np.float64 else 64)
    shape = (n_prev, n, m)
    A_prev, W, b = (layout(x, "C", readonly=True) for x in _forward_data(rng, shape, dtype))
    if _blas.simd_dispatch() == "avx512":
        assert _dense.fwd_chunks_apply(n, n_prev, m, dtype), shape
    for act in ACTIVATIONS:
        params = f"shape={shape} dtype={_dt_id(dtype)} n_threads={n_threads} activation={act}"
        out = (np.full((n, m), np.nan, dtype), np.full((n, m), np.nan, dtype))
        Z, A = fastbp.dense_forward(A_prev, W, b, act, out=out, n_threads=n_threads)
        assert Z is out[0] and A is out[1]
        check_forward(A_prev, W, b, act, None, Z, A, params)
        old = _dense._set_fwd_chunks(False)
        try:
            Zb, Ab = fastbp.dense_forward(A_prev, W, b, act, n_threads=n_threads)
        finally:
            _dense._set_fwd_chunks(old)
        tol = 2e-5 if np.dtype(dtype) == np.float32 else 1e-12
        np.testing.assert_allclose(Z, Zb, rtol=tol, atol=tol, err_msg=params)
        np.testing.assert_allclose(A, Ab, rtol=tol, atol=tol, err_msg=params)


def test_dense_forward_chunks_rule():
    """Which one-block forwards take the row chunks: whole 4-vector tiles of
    columns, at most 262,144 multiply-adds, only with the AVX-512 clones."""
    on = _blas.simd_dispatch() == "avx512"
    assert _dense.fwd_chunks_apply(64, 64, 32, np.float64) is on
    assert _dense.fwd_chunks_apply(64, 64, 64, np.float32) is on
    assert _dense.fwd_chunks_apply(64, 128, 32, np.float64) is on          # 262,144
    assert not _dense.fwd_chunks_apply(65, 128, 32, np.float64)            # above it
    assert not _dense.fwd_chunks_apply(64, 64, 32, np.float32)             # 2 vectors
    assert not _dense.fwd_chunks_apply(64, 64, 16, np.float64)
    assert not _dense.fwd_chunks_apply(64, 64, 40, np.float64)             # 5 vectors
    old = _dense._set_fwd_chunks(False)
    try:
        assert not _dense.fwd_chunks_apply(64, 64, 32, np.float64)
    finally:
        assert _dense._set_fwd_chunks(old) is False


@pytest.mark.parametrize("case", LARGE_CASES, ids=_large_id)
def test_dense_backward_large(case, rng):
    shape, dtype, (order, use_out, readonly), n_threads = case
    dZ0, W0, Zp0, A_free = _backward_data(rng, shape, dtype)
    dZ, W, Z_prev = (layout(x, order, readonly) for x in (dZ0, W0, Zp0))
    for act in ("tanh", "gelu"):  # derivative from A, from Z
        A_prev = layout(_a_prev_for(act, Zp0, A_free), order, readonly)
        params = f"{_large_id(case)} activation={act}"
        zp = Z_prev if act in FROM_Z else None
        dZp, dW, db = run_backward(dZ, A_prev, W, act, use_out=use_out,
                                   n_threads=n_threads, Z_prev=zp)
        check_backward(dZ, A_prev, W, act, Z_prev, None, None, 0.0, dZp, dW, db, params)


# ------------------------------------------------------------- options and layouts
@pytest.mark.parametrize("act", (None,) + ACTIVATIONS)
@pytest.mark.parametrize("scale,lambd", [(None, 0.7), (0.25, 0.0), (3.0, 0.1),
                                         (-0.5, 2.0), (0.0, 1.0), (1, 0), (2, 1)])
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_dense_backward_scale_lambd(dtype, scale, lambd, act, rng):
    shape = (17, 3, 1000)
    dZ, W, Z_prev, A_free = _backward_data(rng, shape, dtype)
    A_prev = _a_prev_for(act, Z_prev, A_free)
    params = f"dtype={_dt_id(dtype)} scale={scale} lambd={lambd} activation={act}"
    dZp, dW, db = fastbp.dense_backward(dZ, A_prev, W, act, Z_prev=Z_prev, scale=scale,
                                        lambd=lambd)
    check_backward(dZ, A_prev, W, act, Z_prev, None, scale, lambd, dZp, dW, db, params)


@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_dense_backward_lambd_is_l2_gradient(dtype, rng):
    # dW(lambd) - dW(0) = lambd * scale * W, independently of the reference
    dZ, W, _, A_prev = _backward_data(rng, (5, 4, 9), dtype)
    _, dW0, db0 = fastbp.dense_backward(dZ, A_prev, W)
    _, dW1, db1 = fastbp.dense_backward(dZ, A_prev, W, lambd=0.5)
    np.testing.assert_allclose(dW1 - dW0, (0.5 / 9) * W, rtol=1e-4, atol=1e-6,
                               err_msg=f"dtype={_dt_id(dtype)}")
    assert_same(db1, db0, "db must not depend on lambd", f"dtype={_dt_id(dtype)}")


# The scale/lambd test above runs on one thread (its layer is below the
# kernels' parallel threshold) with a C-ordered W, so the L2 term's copy of W
# into each thread's block of dW was never checked: (300, 17, 50) splits dW
# (17, 300) by columns on 2 threads, (40, 130, 41) by rows.
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("w_order", ORD)
@pytest.mark.parametrize("shape", [(300, 17, 50), (40, 130, 41)], ids=shape_id)
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_dense_backward_lambd_on_threaded_splits(dtype, shape, w_order, n_threads, rng):
    dZ, W0, _, A_prev = _backward_data(rng, shape, dtype)
    W = layout(W0, w_order)
    params = (f"shape={shape} dtype={_dt_id(dtype)} W={w_order} n_threads={n_threads} "
              "scale=0.5 lambd=0.8")
    dZp, dW, db = fastbp.dense_backward(dZ, A_prev, W, None, scale=0.5, lambd=0.8,
                                        n_threads=n_threads)
    check_backward(dZ, A_prev, W, None, None, None, 0.5, 0.8, dZp, dW, db, params)


@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_defaults(dtype, rng):
    A_prev, W, b = _forward_data(rng, (4, 5, 6), dtype)
    Z, A = fastbp.dense_forward(A_prev, W, b)
    check_forward(A_prev, W, b, "relu", None, Z, A, "default activation must be relu")
    dZ, W2, _, A_free = _backward_data(rng, (4, 5, 6), dtype)
    dA, dW, db = fastbp.dense_backward(dZ, A_free, W2)
    check_backward(dZ, A_free, W2, None, None, None, None, 0.0, dA, dW, db,
                   "default activation must be None (dA_prev = W^T dZ)")


@pytest.mark.parametrize("which", ["A_prev", "W", "b"])
@pytest.mark.parametrize("kind", ["S", "N", "U", "broadcast"])
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_dense_forward_other_strides(dtype, kind, which, rng):
    shape = (17, 5, 33)
    A_prev, W, b = _forward_data(rng, shape, dtype)
    arrs = {"A_prev": A_prev, "W": W, "b": b}
    x = arrs[which]
    if kind == "broadcast":  # zero strides, read-only view
        arrs[which] = np.broadcast_to(x[:1, :], x.shape)
    else:
        arrs[which] = layout(x, kind)
    args = [arrs[k] for k in ("A_prev", "W", "b")]
    before = snapshot(*args)
    for act in ("relu", "gelu", "softplus"):
        params = f"dtype={_dt_id(dtype)} {which} with layout {kind} activation={act}"
        Z, A = fastbp.dense_forward(*args, act)
        check_forward(*args, act, None, Z, A, params)
    assert_unchanged(args, before, f"{which} {kind}")


# The layouts above run one thread (a (17, 5, 33) layer is below the parallel
# threshold), so a bias read in place at a stride other than 1 was never
# split between threads: (100, 64, 40) cuts Z's rows into two blocks, and the
# second block's bias starts r0 strides (not r0 elements) into b.
@pytest.mark.parametrize("kind", ["S", "N"])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_dense_forward_strided_bias_on_threaded_rows(dtype, n_threads, kind, rng):
    shape = (100, 64, 40)
    A_prev, W, b0 = _forward_data(rng, shape, dtype)
    b = layout(b0, kind)
    assert b.strides[0] not in (b.itemsize, 0)
    for act in ("identity", "tanh"):
        params = f"dtype={_dt_id(dtype)} b layout {kind} n_threads={n_threads} activation={act}"
        Z, A = fastbp.dense_forward(A_prev, W, b, act, n_threads=n_threads)
        check_forward(A_prev, W, b, act, None, Z, A, params)


@pytest.mark.parametrize("which", ["dZ", "A_prev", "W", "Z_prev"])
@pytest.mark.parametrize("kind", ["S", "N", "U", "broadcast"])
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_dense_backward_other_strides(dtype, kind, which, rng):
    shape = (17, 5, 33)
    dZ, W, Z_prev, _ = _backward_data(rng, shape, dtype)
    A_prev = ref.activation(Z_prev, "silu")
    arrs = {"dZ": dZ, "A_prev": A_prev, "W": W, "Z_prev": Z_prev}
    x = arrs[which]
    arrs[which] = np.broadcast_to(x[:1, :], x.shape) if kind == "broadcast" else layout(x, kind)
    before = snapshot(*arrs.values())
    params = f"dtype={_dt_id(dtype)} {which} with layout {kind}"
    dZp, dW, db = fastbp.dense_backward(arrs["dZ"], arrs["A_prev"], arrs["W"], "silu",
                                        Z_prev=arrs["Z_prev"])
    check_backward(arrs["dZ"], arrs["A_prev"], arrs["W"], "silu", arrs["Z_prev"], None,
                   None, 0.0, dZp, dW, db, params)
    assert_unchanged(list(arrs.values()), before, params)


@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_byteswapped_input_is_correct_or_rejected(dtype, rng):
    # a non-native byte order must never be read as native floats
    A_prev, W, b = _forward_data(rng, (6, 4, 5), dtype)
    W_sw = W.astype(W.dtype.newbyteorder())
    assert np.array_equal(W_sw, W)
    try:
        res = fastbp.dense_forward(A_prev, W_sw, b, "tanh")
    except (TypeError, ValueError) as exc:
        assert "W" in str(exc) or "dtype" in str(exc) or "byte" in str(exc), str(exc)
        res = None
    if res is not None:
        check_forward(A_prev, W, b, "tanh", None, *res, f"byte-swapped W, dtype={_dt_id(dtype)}")


@pytest.mark.parametrize("shape", [(17, 5, 33), (3, 17, 1000)], ids=shape_id)
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_out_gives_same_bits_as_fresh_outputs(dtype, shape, rng):
    A_prev, W, b = _forward_data(rng, shape, dtype)
    params = f"dtype={_dt_id(dtype)} shape={shape}"
    Z1, A1 = fastbp.dense_forward(A_prev, W, b, "gelu", n_threads=2)
    Z2, A2 = run_forward(A_prev, W, b, "gelu", use_out=True, n_threads=2)
    assert_same(Z2, Z1, "Z", params)
    assert_same(A2, A1, "A", params)
    dZ, W, Zp, _ = _backward_data(rng, shape, dtype)
    Ap = ref.activation(Zp, "sigmoid")
    r1 = fastbp.dense_backward(dZ, Ap, W, "sigmoid", n_threads=2)
    r2 = run_backward(dZ, Ap, W, "sigmoid", use_out=True, n_threads=2)
    for name, x, y in zip(("dZ_prev", "dW", "db"), r2, r1):
        assert_same(x, y, name, params)


@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_misaligned_out_is_correct_or_rejected(dtype, rng):
    # an out= array off by a byte is either filled correctly or refused
    A_prev, W, b = _forward_data(rng, (7, 5, 40), dtype)
    out = (layout(np.zeros((5, 40), dtype), "U"), np.zeros((5, 40), dtype))
    try:
        res = fastbp.dense_forward(A_prev, W, b, "sigmoid", out=out)
    except ValueError as exc:
        assert "out" in str(exc), str(exc)
        res = None
    if res is not None:
        assert res[0] is out[0]
        check_forward(A_prev, W, b, "sigmoid", None, *res, f"misaligned out, {dtype}")


@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_out_reused_across_calls(dtype, rng):
    # a training loop reuses its buffers: the second call must overwrite them
    shape = (7, 5, 40)
    out = (np.empty((5, 40), dtype), np.empty((5, 40), dtype))
    for i in range(2):
        A_prev, W, b = _forward_data(rng, shape, dtype)
        Z, A = fastbp.dense_forward(A_prev, W, b, "elu", out=out)
        assert Z is out[0] and A is out[1]
        check_forward(A_prev, W, b, "elu", None, Z, A, f"call {i} dtype={_dt_id(dtype)}")


@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_inputs_may_share_memory(dtype, rng):
    # inputs are only read: the same array in two input slots is not an overlap
    X = rng.standard_normal((6, 6)).astype(dtype)
    b = X[:, :1]  # a (non-contiguous) view of the same memory
    Z, A = fastbp.dense_forward(X, X, b, "tanh")
    check_forward(X, X, b, "tanh", None, Z, A, f"A_prev is W, dtype={_dt_id(dtype)}")
    dZp, dW, db = fastbp.dense_backward(X, X, X, "gelu", Z_prev=X)
    check_backward(X, X, X, "gelu", X, None, None, 0.0, dZp, dW, db,
                   f"dZ, A_prev, W and Z_prev are one array, dtype={_dt_id(dtype)}")


# ---------------------------------------------------------------------- NaN / inf
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=str)
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_dense_forward_nonfinite_propagates(dtype, act, value, rng):
    A_prev, W, b = _forward_data(rng, (6, 5, 40), dtype)
    A_prev[2, 3] = value
    A_prev[4, 20] = value
    W[1, 0] = value  # poisons row 1 of Z
    b[3, 0] = value  # poisons row 3
    params = f"dtype={_dt_id(dtype)} activation={act} value={value}"
    Z, A = fastbp.dense_forward(A_prev, W, b, act, n_threads=2)
    check_forward(A_prev, W, b, act, None, Z, A, params)
    assert not np.isfinite(Z[:, 3]).any() and not np.isfinite(Z[1]).any(), params
    assert np.isfinite(Z[0, 0]) and np.isfinite(Z[4, 5]), params


@pytest.mark.parametrize("lambd", [0.0, 0.5])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=str)
@pytest.mark.parametrize("act", (None,) + ACTIVATIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_dense_backward_nonfinite_propagates(dtype, act, value, lambd, rng):
    dZ, W, Z_prev, A_free = _backward_data(rng, (6, 5, 40), dtype)
    dZ[2, 7] = value
    A_free[3, 30] = value
    if lambd:
        # Only with L2 on: the reference's lambd*scale*W term is 0*W = NaN
        # for a non-finite W even at lambd=0, a kernel may skip that term.
        W[4, 1] = value
    A_prev = _a_prev_for(act, Z_prev, A_free)
    params = f"dtype={_dt_id(dtype)} activation={act} value={value} lambd={lambd}"
    dZp, dW, db = fastbp.dense_backward(dZ, A_prev, W, act, Z_prev=Z_prev, lambd=lambd,
                                        n_threads=2)
    check_backward(dZ, A_prev, W, act, Z_prev, None, None, lambd, dZp, dW, db, params)
    assert not np.isfinite(db[2, 0]) and np.isfinite(db[0, 0]), params


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_nonfinite_activation_inputs_propagate(dtype, act, rng):
    # NaN / inf in Z_prev and A_prev go through the derivative as the reference says
    dZ, W, Z_prev, _ = _backward_data(rng, (3, 2, 8), dtype)
    Z_prev[0, :3] = [np.nan, np.inf, -np.inf]
    with np.errstate(all="ignore"):
        A_prev = ref.activation(Z_prev, act)
    params = f"dtype={_dt_id(dtype)} activation={act}"
    dZp, dW, db = fastbp.dense_backward(dZ, A_prev, W, act, Z_prev=Z_prev)
    check_backward(dZ, A_prev, W, act, Z_prev, None, None, 0.0, dZp, dW, db, params)


# ---------------------------------------------------------- finite differences
OUTPUT_ACT = {"mse": "identity", "binary_crossentropy": "sigmoid",
              "crossentropy": "identity",  # crossentropy: softmax after identity
              "poisson": "identity"}       # poisson: exp after identity, cost from Z


def _chain(X, W1, b1, W2, b2, Y, act, alpha, loss, lambd):
    """Cost of a two-layer chain and its forward values, all through fastbp."""
    m = X.shape[1]
    Z1, A1 = fastbp.dense_forward(X, W1, b1, act, alpha=alpha)
    Z2, A2 = fastbp.dense_forward(A1, W2, b2, OUTPUT_ACT[loss])
    if loss == "crossentropy":
        A2 = fastbp.softmax(Z2)
    if loss == "poisson":
        A2 = np.exp(Z2)
        J = fastbp.loss(Z2, Y, loss, from_logits=True)
    else:
        J = fastbp.loss(A2, Y, loss)
    J = J + lambd / (2 * m) * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
    return J, Z1, A1, A2


def _head_cost(A1, W2, b2, Y, loss):
    _, A2 = fastbp.dense_forward(A1, W2, b2, OUTPUT_ACT[loss])
    if loss == "crossentropy":
        A2 = fastbp.softmax(A2)
    if loss == "poisson":
        return fastbp.loss(A2, Y, loss, from_logits=True)
    return fastbp.loss(A2, Y, loss)


def _numeric_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        fp = f()
        x[idx] = old - h
        fm = f()
        x[idx] = old
        g[idx] = (fp - fm) / (2 * h)
    return g


@pytest.mark.parametrize("lambd", [0.0, 0.3])
@pytest.mark.parametrize("loss", ref.LOSSES)
@pytest.mark.parametrize("act,alpha", [(a, None) for a in ACTIVATIONS]
                         + [("leaky_relu", 0.2), ("elu", 0.5)])
def test_gradient_check(act, alpha, loss, lambd, rng):
    n0, n1, n2, m = 4, 5, 3, 7
    for _ in range(20):  # perturbations move Z1 by ~1e-5: stay clear of kinks at 0
        X = rng.standard_normal((n0, m))
        W1 = rng.standard_normal((n1, n0))
        b1 = 0.3 * rng.standard_normal((n1, 1))
        if np.abs(W1 @ X + b1).min() > 1e-3:
            break
    W2 = rng.standard_normal((n2, n1)) / 2
    b2 = 0.3 * rng.standard_normal((n2, 1))
    if loss == "mse":
        Y = rng.standard_normal((n2, m))
    elif loss == "binary_crossentropy":
        Y = rng.integers(0, 2, (n2, m)).astype(np.uint8)
    elif loss == "poisson":
        Y = rng.poisson(1.5, (n2, m)).astype(np.float64)
    else:
        Y = np.eye(n2)[rng.integers(0, n2, m)].T.copy()
    params = f"activation={act} alpha={alpha} loss={loss} lambd={lambd}"

    J, Z1, A1, A2 = _chain(X, W1, b1, W2, b2, Y, act, alpha, loss, lambd)
    assert np.abs(Z1).min() > 1e-4, "test setup: Z1 too close to a kink"
    dZ2 = fastbp.output_delta(A2, Y, loss)
    dZ1, dW2, db2 = fastbp.dense_backward(dZ2, A1, W2, act, Z_prev=Z1, alpha=alpha,
                                          lambd=lambd)
    dX, dW1, db1 = fastbp.dense_backward(dZ1, X, W1, None, lambd=lambd)

    def cost():
        return _chain(X, W1, b1, W2, b2, Y, act, alpha, loss, lambd)[0]

    analytic = {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2, "dA0 (=dX/m)": dX / m}
    numeric = {"dW1": _numeric_grad(cost, W1), "db1": _numeric_grad(cost, b1),
               "dW2": _numeric_grad(cost, W2), "db2": _numeric_grad(cost, b2),
               "dA0 (=dX/m)": _numeric_grad(cost, X)}
    # dJ/dZ1 directly: the activation derivative alone (layer 2's dZ_prev / m)
    Z1v = Z1.copy()

    def cost_z1():
        _, A1v = fastbp.dense_forward(Z1v, np.eye(n1), np.zeros(n1), act, alpha=alpha)
        return _head_cost(A1v, W2, b2, Y, loss)

    analytic["dZ1 (=dZ_prev/m)"] = dZ1 / m
    numeric["dZ1 (=dZ_prev/m)"] = _numeric_grad(cost_z1, Z1v)
    # the difference quotient's own rounding: each cost carries ~eps |J|, divided
    # by 2h (Poisson's exp outputs made J 1e2-5e4: 2% of the seeds failed by 1e-8
    # to 3e-6 at a fixed atol, with gradients right to 1e-5 relative)
    atol = 2e-8 + 4 * np.finfo(np.float64).eps * max(abs(J), 1.0) / 1e-6
    for name in analytic:
        np.testing.assert_allclose(analytic[name], numeric[name], rtol=2e-6, atol=atol,
                                   err_msg=f"{name}; {params}")


@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_rows_transposed_are_not_copied_and_out_allocates_nothing(dtype, n_threads, rng):
    """README: "C- or F-contiguous arrays (`X_rows.T` of examples-first data works
    without a copy), `out=` for preallocated outputs (a training loop then
    allocates nothing)". NumPy reports its data buffers to tracemalloc, so a copy
    of X (or a temporary the size of an output) shows in the peak."""
    import tracemalloc
    m, n_prev, n = 3000, 200, 4
    X = rng.standard_normal((m, n_prev)).astype(dtype).T          # X_rows.T, F-ordered
    W = rng.standard_normal((n, n_prev)).astype(dtype)
    b = np.zeros((n, 1), dtype)
    dZ = rng.standard_normal((n, m)).astype(dtype)
    fwd_out = (np.empty((n, m), dtype), np.empty((n, m), dtype))
    bwd_out = (np.empty((n_prev, m), dtype), np.empty_like(W), np.empty((n, 1), dtype))
    calls = {
        "dense_forward": lambda: fastbp.dense_forward(X, W, b, "relu", n_threads=n_threads),
        "dense_backward": lambda: fastbp.dense_backward(dZ, X, W, "relu",
                                                        n_threads=n_threads),
        "dense_forward out=": lambda: fastbp.dense_forward(X, W, b, "relu", out=fwd_out,
                                                           n_threads=n_threads),
        "dense_backward out=": lambda: fastbp.dense_backward(dZ, X, W, "relu", out=bwd_out,
                                                             n_threads=n_threads),
    }
    for call in calls.values():
        call()                                                     # warm caches, pools
    for name, call in calls.items():
        tracemalloc.start()
        try:
            res = call()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        outputs = 0 if "out=" in name else sum(r.nbytes for r in res)
        extra = peak - outputs
        # a copy of X, or with out= any array of an output's size (the smallest
        # is db's n values): a few small Python objects at most
        limit = 1024 if "out=" in name else X.nbytes // 8
        assert extra < limit, (
            f"{name}: {extra} bytes beyond the outputs' {outputs} (X is {X.nbytes}), "
            f"dtype={_dt_id(dtype)} n_threads={n_threads}")
