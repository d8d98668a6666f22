"""The layer calls' compiled common-case path and the SIMD clones of their epilogues.

fastbp.dense_forward / dense_backward run in one compiled call
(fastbp._dense.forward_plain / backward_plain) when every argument is in the
form the full checks pass through unchanged; these tests hold that path to
the general one bit for bit, check that it declines every other form (the
full checks then convert or raise), and that the AVX2 / AVX-512 clones of the
piecewise-linear epilogues and of the bias-gradient row sums give the
baseline clone's bits.
"""
import json

import numpy as np
import pytest
from conftest import dispatch_env, run_python

import fastbp
from fastbp import _dense
from fastbp import _validation as _v

DTYPES = [np.float32, np.float64]


def _general_forward(A_prev, W, b, act, alpha, out, nt):
    return _dense.forward(*_v.dense_forward_args(A_prev, W, b, act, alpha, out, nt))


def _general_backward(dZ, A_prev, W, act, Z_prev, alpha, scale, lambd, out, nt):
    return _dense.backward(*_v.dense_backward_args(dZ, A_prev, W, act, Z_prev, alpha, scale,
                                                   lambd, out, nt))


def _arrays(rng, n, p, m, dtype, order):
    A = np.asarray(rng.standard_normal((p, m)), dtype, order=order)
    W = np.asarray(rng.standard_normal((n, p)), dtype, order=order)
    b = rng.standard_normal((n, 1)).astype(dtype)
    dZ = np.asarray(rng.standard_normal((n, m)), dtype, order=order)
    return A, W, b, dZ


def _same(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        assert g.tobytes() == w.tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("act,alpha", [("relu", None), ("identity", None), ("tanh", None),
                                       ("leaky_relu", 0.2), ("elu", None), ("gelu", None)])
@pytest.mark.parametrize("with_out", [False, True])
@pytest.mark.parametrize("nt", [None, 1, 2])
@pytest.mark.parametrize("shape", [(17, 3, 33), (70, 64, 64)])   # one block; a team's blocks
def test_forward_fast_path_equals_general_path(dtype, order, act, alpha, with_out, nt, shape):
    rng = np.random.default_rng(5)
    n, p, m = shape
    A, W, b, _ = _arrays(rng, n, p, m, dtype, order)
    outs = [None, None]
    if with_out:
        outs = [(np.empty((n, m), dtype), np.empty((n, m), dtype)) for _ in range(2)]
    got = _dense.forward_plain(A, W, b, act, alpha, outs[0], nt)
    assert got is not None, "the common form must take the compiled path"
    want = _general_forward(A, W, b, act, alpha, outs[1], nt)
    _same(got, want)
    if with_out:
        assert got[0] is outs[0][0] and got[1] is outs[0][1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("act,alpha", [("relu", None), (None, None), ("sigmoid", None),
                                       ("leaky_relu", 0.3), ("elu", 0.5), ("gelu", None),
                                       ("silu", None)])
@pytest.mark.parametrize("scale,lambd", [(None, 0.0), (0.25, 0.7)])
@pytest.mark.parametrize("with_out", [False, True])
@pytest.mark.parametrize("nt", [None, 2])
@pytest.mark.parametrize("shape", [(9, 17, 35), (64, 70, 64)])   # one thread; a team
def test_backward_fast_path_equals_general_path(dtype, order, act, alpha, scale, lambd,
                                                with_out, nt, shape):
    rng = np.random.default_rng(6)
    n, p, m = shape
    A, W, _, dZ = _arrays(rng, n, p, m, dtype, order)
    Z = np.asarray(rng.standard_normal((p, m)), dtype, order=order)
    outs = [None, None]
    if with_out:
        outs = [(np.empty((p, m), dtype), np.empty((n, p), dtype), np.empty((n, 1), dtype))
                for _ in range(2)]
    got = _dense.backward_plain(dZ, A, W, act, Z, alpha, scale, lambd, outs[0], nt)
    assert got is not None, "the common form must take the compiled path"
    want = _general_backward(dZ, A, W, act, Z, alpha, scale, lambd, outs[1], nt)
    _same(got, want)


def _fwd_args(dtype=np.float64):
    rng = np.random.default_rng(7)
    A, W, b, _ = _arrays(rng, 4, 3, 5, dtype, "C")
    return dict(A_prev=A, W=W, b=b, activation="relu", alpha=None, out=None, n_threads=None)


class _Str(str):
    pass


# each changes one argument to a form the compiled path must leave to the full checks
FWD_DECLINED = [
    ("A_prev", lambda a: a.tolist()),
    ("A_prev", lambda a: a.astype(np.float32)),         # dtypes differ
    ("A_prev", lambda a: np.asfortranarray(np.vstack([a, a]))[::2]),   # strided
    ("W", lambda a: a[:, :2]),                            # shapes do not chain
    ("b", lambda a: a.astype(np.float32)),
    ("b", lambda a: a[:3]),
    ("activation", lambda a: _Str("relu")),
    ("activation", lambda a: "Relu"),
    ("activation", lambda a: None),
    ("alpha", lambda a: np.float64(0.1)),
    ("alpha", lambda a: 1),
    ("n_threads", lambda a: -1),
    ("n_threads", lambda a: 0),
    ("n_threads", lambda a: True),
    ("n_threads", lambda a: 2.0),
    ("n_threads", lambda a: 2 ** 40),
    ("out", lambda a: [np.empty((4, 5)), np.empty((4, 5))]),
    ("out", lambda a: (np.empty((4, 5)),)),
    ("out", lambda a: (np.empty((4, 5)), np.empty((4, 5), order="F"))),
    ("out", lambda a: (np.empty((4, 5)), np.empty((4, 5), np.float32))),
]


@pytest.mark.parametrize("key,change", FWD_DECLINED)
def test_forward_fast_path_declines_other_forms(key, change):
    args = _fwd_args()
    args[key] = change(args[key])
    assert _dense.forward_plain(**args) is None


def test_forward_fast_path_declines_leaky_relu_negative_alpha():
    args = _fwd_args()
    args.update(activation="leaky_relu", alpha=-0.5)
    assert _dense.forward_plain(**args) is None
    with pytest.raises(ValueError, match="needs alpha >= 0"):
        fastbp.dense_forward(args["A_prev"], args["W"], args["b"], "leaky_relu", alpha=-0.5)


@pytest.mark.parametrize("act", ["leaky_relu", "elu"])
def test_fast_paths_decline_a_negative_alpha_where_g_prime_reads_A(act):
    """elu's derivative is read from A as well (A + alpha where A <= 0), so a
    negative alpha must reach the full checks' ValueError on both fast paths,
    as leaky_relu's does. Only leaky_relu's forward was tested: a fast path
    that checked leaky_relu alone ran elu layers with alpha < 0 silently."""
    args = _fwd_args()
    args.update(activation=act, alpha=-0.5)
    assert _dense.forward_plain(**args) is None
    with pytest.raises(ValueError, match="needs alpha >= 0"):
        fastbp.dense_forward(args["A_prev"], args["W"], args["b"], act, alpha=-0.5)
    A, W, _, dZ = _arrays(np.random.default_rng(8), 4, 3, 5, np.float64, "C")
    assert _dense.backward_plain(dZ=dZ, A_prev=A, W=W, activation=act, Z_prev=None,
                                 alpha=-0.5, scale=None, lambd=0.0, out=None,
                                 n_threads=None) is None
    with pytest.raises(ValueError, match="needs alpha >= 0"):
        fastbp.dense_backward(dZ, A, W, act, alpha=-0.5)


def test_backward_fast_path_declines_other_forms():
    rng = np.random.default_rng(8)
    A, W, _, dZ = _arrays(rng, 4, 3, 5, np.float64, "C")
    base = dict(dZ=dZ, A_prev=A, W=W, activation="relu", Z_prev=None, alpha=None,
                scale=None, lambd=0.0, out=None, n_threads=None)
    assert _dense.backward_plain(**base) is not None
    for key, value in [("scale", 1), ("scale", np.float64(0.5)), ("lambd", 0),
                       ("lambd", np.float32(0.1)), ("activation", "gelu"),   # Z_prev missing
                       ("alpha", 2), ("n_threads", -2), ("dZ", dZ.astype(np.float32)),
                       ("out", (np.empty((3, 5)), np.empty((4, 3)), np.empty((4,))))]:
        args = dict(base, **{key: value})
        assert _dense.backward_plain(**args) is None, (key, value)
    # Z_prev of the wrong shape, dtype or overlapping an output
    out = (np.empty((3, 5)), np.empty((4, 3)), np.empty((4, 1)))
    for Z in (np.ones((3, 4)), np.ones((3, 5), np.float32), out[0]):
        args = dict(base, activation="gelu", Z_prev=Z, out=out)
        assert _dense.backward_plain(**args) is None


@pytest.mark.parametrize("step", [1, -1])
def test_strided_bias_overlapping_an_output_is_rejected(step):
    """An output that overlaps a strided bias beyond its first n elements: the
    overlap tests once looked at [data, data + nbytes) only, so the GEMM
    overwrote the bias before the epilogue read it (a silently wrong Z)."""
    n, p, m, k = 8, 5, 6, 4
    rng = np.random.default_rng(1)
    buf = np.zeros(n * k + 2 * n * m)
    X = buf[:n * k].reshape(n, k)
    X[:, 0] = rng.standard_normal(n)
    b = X[::step, 0:1]
    Z = buf[n: n + n * m].reshape(n, m)
    assert np.shares_memory(Z, b)
    A_prev, W = rng.standard_normal((p, m)), rng.standard_normal((n, p))
    with pytest.raises(ValueError, match="Invalid out: Z overlaps the input b"):
        fastbp.dense_forward(A_prev, W, b, "identity", out=(Z, np.empty((n, m))))
    # apart, the same strided bias is read in place and gives the right answer
    Z2, A2 = np.empty((n, m)), np.empty((n, m))
    fastbp.dense_forward(A_prev, W, b, "identity", out=(Z2, A2))
    np.testing.assert_allclose(Z2, W @ A_prev + b, rtol=1e-12, atol=1e-12)


CHILD = r"""
import hashlib, json
import numpy as np
import fastbp
from fastbp import _blas, _dense, _testing
# every GEMM in OpenBLAS: fastbp's small-GEMM kernel has FMA clones of its own,
# whose last bits differ by design (tests/test_gemm_small.py), and its AVX-512
# clone runs dense_forward's small blocks in row chunks (test_dense.py)
_testing.set_small_gemm_max(-1)
_dense._set_fwd_chunks(False)
rng = np.random.default_rng(11)
h = hashlib.sha256()
for dt in (np.float32, np.float64):
    for (n, p, m) in [(1, 1, 1), (3, 2, 7), (17, 5, 33), (9, 40, 64), (70, 64, 1000)]:
        for order in "CF":
            A = np.asarray(rng.standard_normal((p, m)), dt, order=order)
            W = np.asarray(rng.standard_normal((n, p)), dt, order=order)
            b = rng.standard_normal((n, 1)).astype(dt)
            dZ = np.asarray(rng.standard_normal((n, m)), dt, order=order)
            if dZ.size > 4:
                dZ.flat[:4] = [np.nan, np.inf, -0.0, -np.inf]
                A.flat[:4] = [0.0, -0.0, np.nan, np.inf]
            for act in ("identity", "relu", "leaky_relu"):
                for arr in fastbp.dense_forward(A, W, b, act, n_threads=1):
                    h.update(arr.tobytes())
            for act in ("relu", "leaky_relu", "elu", None):
                for arr in fastbp.dense_backward(dZ, A, W, act, n_threads=2):
                    h.update(arr.tobytes())
print(json.dumps([_blas.simd_dispatch(), h.hexdigest()]))
"""


def test_epilogue_clones_give_the_baseline_bits():
    """The same layers under every dispatch level (the choice is cached per
    process, hence subprocesses): identical bytes, NaN, inf and -0 included."""
    seen = {}
    for dispatch in ("default", "avx2", "baseline"):
        env = dispatch_env(dispatch)
        res = run_python(CHILD, env)
        assert res.returncode == 0, res.stderr
        level, digest = json.loads(res.stdout.strip().splitlines()[-1])
        seen[dispatch] = (level, digest)
    assert seen["baseline"][0] == "baseline"
    digests = {d for _, d in seen.values()}
    assert len(digests) == 1, seen
