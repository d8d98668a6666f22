"""fastbp's small-GEMM kernel (csrc/fastbp_gemm.h) and _gemm's dispatch to it.

Grid: float32/float64 x the four transpose combinations x (M, N, K) over
{1, 2, 3, 4, 7, 17} cubed plus one side in {64, 400} x alpha in {1, 0.5, -2}
x beta in {0 (C prefilled with NaN), 1, 0.25}, every operand a submatrix of a
larger array (leading dimension > row length). Compared with a long-double
NumPy reference to 2 (K + 2) eps (|alpha| |op(A)| |op(B)| + |beta| |C|),
element by element. Run in this process (AVX2 + FMA clone where the CPU has
it) and in a subprocess with FASTBP_DISPATCH=baseline.
"""
import itertools
import os

import numpy as np
import pytest
from conftest import run_python

import fastbp
from fastbp import _blas, _testing

DTYPES = (np.float32, np.float64)
SIZES = (1, 2, 3, 4, 7, 17)
SHAPES = list(itertools.product(SIZES, repeat=3)) + [
    tuple(big if d == axis else s for d in range(3))
    for big in (64, 400) for axis in range(3) for s in (1, 3, 17)] + [
    # edge columns (N % 8 in float32, N % 4 in float64) beside whole
    # vectors and alone, K over one 256-long chunk of the edge's copy
    (5, 13, 3), (17, 13, 300), (9, 31, 400), (3, 23, 17), (6, 10, 257)] + [
    # NT on both sides of each bound of the packed path (fbp_gs_nt_packs):
    # whole vectors K <= 16 M (32 M from 8 rows in float32, 4 in float64),
    # edge columns K <= 4 M, fewer columns than a vector K <= 2 M
    (4, 16, 64), (4, 16, 100), (5, 8, 128), (5, 8, 200), (6, 16, 128), (8, 16, 256),
    (8, 12, 32), (8, 12, 40), (16, 3, 32), (8, 3, 40)]
ALPHAS = (1.0, 0.5, -2.0)
BETAS = (0.0, 1.0, 0.25)


def _view(rng, rows, cols, dtype, fill=None):
    """(rows, cols) view into a larger array: row stride > cols, offset start."""
    parent = rng.standard_normal((rows + 2, cols + 3)).astype(dtype)
    if fill is not None:
        parent[...] = fill
    return parent[1:rows + 1, 2:cols + 2]


def check_case(dtype, ta, tb, M, N, K, alpha, beta, path, rng):
    A = _view(rng, K if ta else M, M if ta else K, dtype)
    B = _view(rng, N if tb else K, K if tb else N, dtype)
    if beta == 0:
        C = _view(rng, M, N, dtype, fill=np.nan)  # must not leak
        C0 = np.zeros((M, N))
    else:
        C = _view(rng, M, N, dtype)
        C0 = C.astype(np.longdouble)
    opA = (A.T if ta else A).astype(np.longdouble)
    opB = (B.T if tb else B).astype(np.longdouble)
    ref = alpha * (opA @ opB) + beta * C0
    bound = abs(alpha) * (np.abs(opA) @ np.abs(opB)) + abs(beta) * np.abs(C0)
    eps = float(np.finfo(dtype).eps)
    _testing.gemm(A, B, C, alpha=alpha, beta=beta, trans_a=ta, trans_b=tb, path=path)
    err = np.abs(C.astype(np.longdouble) - ref)
    tol = 2 * (K + 2) * eps * bound + float(np.finfo(dtype).tiny)
    ok = np.all(err <= tol)  # False on NaN
    assert ok, (f"{np.dtype(dtype).name} trans_a={ta} trans_b={tb} M,N,K={M},{N},{K} "
                f"alpha={alpha} beta={beta} path={path}: max err {float(np.nanmax(err))} "
                f"(tol {float(tol.max())}), NaN: {bool(np.isnan(C).any())}")


def run_grid(dtype, ta, tb, path="small"):
    rng = np.random.default_rng([int(ta), int(tb), np.dtype(dtype).itemsize])
    for n, (M, N, K) in enumerate(SHAPES):
        # alpha and beta cycle through their values against the shapes; every
        # combination also runs on the first nine shapes
        combos = (itertools.product(ALPHAS, BETAS) if n < 9
                  else [(ALPHAS[n % 3], BETAS[(n // 3) % 3])])
        for alpha, beta in combos:
            check_case(dtype, ta, tb, M, N, K, alpha, beta, path, rng)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("ta,tb", list(itertools.product((False, True), repeat=2)),
                         ids=["NN", "NT", "TN", "TT"])
def test_small_kernel_matches_numpy(dtype, ta, tb):
    run_grid(dtype, ta, tb)


def test_baseline_clone_matches_numpy():
    """The portable SSE2 clone, forced with FASTBP_DISPATCH=baseline."""
    code = ("import itertools, numpy as np, test_gemm_small as t\n"
            "from fastbp import _blas\n"
            "assert _blas.small_gemm_dispatch() == 'baseline', _blas.small_gemm_dispatch()\n"
            "for dt in t.DTYPES:\n"
            "    for ta, tb in itertools.product((False, True), repeat=2):\n"
            "        t.run_grid(dt, ta, tb)\n"
            "print('ok')\n")
    out = run_python(code, dict(os.environ, FASTBP_DISPATCH="baseline"))
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
def test_alpha_zero_and_empty_k_read_neither_operand(dtype):
    for K in (0, 5):
        A = np.full((3, K), np.nan, dtype)
        B = np.full((K, 4), np.nan, dtype)
        for beta in (0.0, 0.5, 1.0):
            C = np.full((3, 4), np.nan if beta == 0 else 2.0, dtype)
            _testing.gemm(A, B, C, alpha=0.0 if K else 1.0, beta=beta, path="small")
            np.testing.assert_array_equal(C, np.full((3, 4), 2.0 * beta, dtype),
                                          err_msg=f"K={K} beta={beta}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("ta,tb", list(itertools.product((False, True), repeat=2)),
                         ids=["NN", "NT", "TN", "TT"])
def test_gemm_dispatches_on_threshold(dtype, ta, tb):
    """_gemm runs the small kernel up to the limit and OpenBLAS above it: the
    auto path must equal one of them bit for bit (they differ in the last bits
    on these sizes), and both match NumPy."""
    rng = np.random.default_rng(7)
    M, N, K = 9, 13, 64
    A = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
    B = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
    ref = (A.T if ta else A).astype(np.float64) @ (B.T if tb else B).astype(np.float64)
    outs = {}
    for path in ("small", "blas"):
        outs[path] = np.empty((M, N), dtype)
        _testing.gemm(A, B, outs[path], trans_a=ta, trans_b=tb, path=path)
        np.testing.assert_allclose(outs[path], ref, rtol=0,
                                   atol=2 * (K + 2) * np.finfo(dtype).eps
                                   * float(np.abs(A).max() * np.abs(B).max()) * K)
    if np.array_equal(outs["small"], outs["blas"]):
        pytest.skip("small kernel and OpenBLAS agree bitwise here: dispatch not observable")
    old = _testing.set_small_gemm_max(M * N * K)
    try:
        for limit, want in ((M * N * K, "small"), (M * N * K - 1, "blas"), (-1, "blas")):
            _testing.set_small_gemm_max(limit)
            C = np.full((M, N), np.nan, dtype)
            _testing.gemm(A, B, C, trans_a=ta, trans_b=tb)
            np.testing.assert_array_equal(C, outs[want], err_msg=f"limit {limit}")
    finally:
        _testing.set_small_gemm_max(old)


# (trans_a, trans_b, M, N, K, dtype, where _gemm runs it under the limits
# (16384, 262144) and the narrow rule's 2**27, as on OpenBLAS's Haswell/Zen
# kernels): _blas.pyx's _small_fits, case by case.
NARROW = 2 ** 27
MID_RULE = [
    (0, 0, 4, 400, 2, np.float32, "small"),       # tiny: every shape
    (0, 1, 1, 4, 400, np.float32, "small"),
    (1, 1, 9, 13, 64, np.float64, "small"),
    (0, 0, 128, 64, 32, np.float64, "small"),     # digits' dW1: NN, whole vectors
    (0, 0, 128, 64, 32, np.float32, "small"),
    (1, 0, 128, 32, 10, np.float32, "small"),     # digits' dA1: TN
    (0, 1, 128, 32, 64, np.float64, "small"),     # digits' Z1: NT packed, float64
    (0, 1, 128, 32, 64, np.float32, "small"),     # ... float32, whole vectors
    (0, 1, 10, 128, 32, np.float32, "small"),
    (0, 1, 128, 10, 64, np.float32, "blas"),      # ... float32 edge columns lose
    (0, 1, 100, 33, 64, np.float32, "blas"),
    (0, 1, 128, 10, 64, np.float64, "small"),     # ... float64 any width
    (0, 1, 7, 128, 32, np.float32, "small"),      # NT with few rows: any k, any n
    (0, 1, 4, 4000, 16, np.float64, "small"),
    (0, 1, 4, 4000, 16, np.float32, "small"),
    (0, 1, 4, 256, 256, np.float32, "small"),
    (0, 1, 3, 256, 32, np.float32, "small"),
    (0, 1, 1, 64, 1000, np.float64, "small"),
    (0, 1, 7, 6, 1000, np.float64, "small"),
    (0, 1, 8, 16, 1000, np.float32, "small"),     # ... 8 rows in float32
    (0, 1, 8, 16, 1000, np.float64, "blas"),      # ... 7 in float64
    (0, 1, 9, 16, 1000, np.float32, "blas"),      # more rows and k > 256
    (0, 1, 64, 2, 256, np.float64, "blas"),       # ... or narrower than a vector
    (0, 1, 10, 128, 32, np.float64, "small"),     # dW2: NT packed, 10 rows
    (0, 1, 10, 64, 400, np.float64, "blas"),      # k > 256: lane-sum dots lose
    (0, 0, 64, 4, 1000, np.float32, "blas"),      # NN narrower than a vector
    (0, 0, 64, 4, 1000, np.float64, "small"),     # ... one vector in float64
    (1, 0, 20, 7, 1000, np.float32, "blas"),
    (1, 0, 20, 7, 1000, np.float64, "small"),
    (1, 1, 64, 64, 64, np.float64, "blas"),       # TT: C written transposed
    (0, 0, 64, 64, 64, np.float64, "small"),      # 262144: the limit itself
    (0, 0, 128, 64, 64, np.float64, "blas"),      # above it: 16 vectors wide
    # above 262144: NN and TN with few columns, a whole number of vectors
    # (_narrow_fits)
    (0, 0, 128, 32, 784, np.float32, "small"),    # 4 vectors
    (0, 0, 64, 16, 1000, np.float64, "small"),
    (0, 0, 64, 32, 2048, np.float32, "small"),    # ... any k: B 256 KiB
    (0, 0, 64, 16, 2048, np.float64, "small"),
    (0, 0, 40, 64, 512, np.float32, "small"),     # 8 vectors, B 128 KiB
    (0, 0, 40, 64, 520, np.float32, "blas"),      # ... B above 128 KiB
    (0, 0, 128, 32, 256, np.float64, "small"),    # 8 vectors, B 64 KiB
    (0, 0, 128, 32, 784, np.float64, "blas"),     # ... B 196 KiB
    (0, 0, 33, 72, 128, np.float32, "blas"),      # 9 vectors
    (0, 0, 128, 20, 784, np.float32, "blas"),     # not whole vectors: padded edge
    (0, 0, 128, 6, 784, np.float64, "blas"),
    (1, 0, 128, 32, 784, np.float32, "blas"),     # TN: 4 vectors
    (1, 0, 784, 16, 256, np.float32, "small"),    # TN: 2 vectors, A spans 784 KiB
    (1, 0, 256, 8, 600, np.float64, "small"),     # ... 2 vectors in float64
    (1, 0, 256, 12, 600, np.float64, "blas"),     # ... 3 vectors
    (1, 0, 1024, 16, 512, np.float32, "small"),   # ... A spans 2 MiB
    (1, 0, 1024, 16, 520, np.float32, "blas"),    # ... above 2 MiB
    (1, 0, 784, 20, 256, np.float32, "blas"),     # ... not whole vectors
    (0, 1, 128, 32, 784, np.float32, "blas"),     # NT
]


@pytest.mark.parametrize("ta,tb,M,N,K,dtype,want", MID_RULE,
                         ids=[f"{'NT'[ta]}{'NT'[tb]}-{M}x{N}x{K}-{np.dtype(d).name}"
                              for ta, tb, M, N, K, d, _ in MID_RULE])
def test_mid_size_rule_sends_each_shape_where_measured(ta, tb, M, N, K, dtype, want):
    """Between the tiny limit and the mid limit only NN/TN with a whole AVX2
    vector of columns, NT with few rows, and NT with k <= 256 (float32: whole
    vectors of columns) run in the small kernel; _gemm follows
    the rule (its result equals that path's bit for bit, where the two paths
    differ) and the result matches NumPy whichever path runs."""
    old = _testing.set_small_gemm_max((16384, 262144))
    old_narrow = _blas._set_small_gemm_narrow_max(NARROW)
    try:
        assert _blas.small_gemm_path(ta, tb, M, N, K, dtype) == want
        rng = np.random.default_rng(M * 7 + N)
        A = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
        B = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
        ref = (A.T if ta else A).astype(np.float64) @ (B.T if tb else B).astype(np.float64)
        outs = {}
        for path in ("auto", "small", "blas"):
            outs[path] = np.full((M, N), np.nan, dtype)
            _testing.gemm(A, B, outs[path], trans_a=bool(ta), trans_b=bool(tb), path=path)
            np.testing.assert_allclose(outs[path], ref, rtol=0,
                                       atol=4 * (K + 2) * np.finfo(dtype).eps
                                       * float(np.abs(A).max() * np.abs(B).max()) * K,
                                       err_msg=path)
    finally:
        _blas._set_small_gemm_narrow_max(old_narrow)
        _testing.set_small_gemm_max(old)
    other = "blas" if want == "small" else "small"
    if not np.array_equal(outs["small"], outs["blas"]):
        np.testing.assert_array_equal(outs["auto"], outs[want])
        assert not np.array_equal(outs["auto"], outs[other])


def test_narrow_rule_limits():
    """The narrow-NN rule stops at its m*n*k cap, is off with the mid-size rule
    (AVX-512 cores, no AVX2 clone: limits equal) and with its own cap at 0."""
    old = _testing.set_small_gemm_max((16384, 262144))
    old_narrow = _blas._set_small_gemm_narrow_max(2 ** 20)
    try:
        assert _blas.small_gemm_narrow_max() == 2 ** 20
        assert _blas.small_gemm_path(0, 0, 1024, 32, 32, np.float32) == "small"   # 2**20
        assert _blas.small_gemm_path(0, 0, 1025, 32, 32, np.float32) == "blas"
        _blas._set_small_gemm_narrow_max(0)
        assert _blas.small_gemm_narrow_max() == 0
        assert _blas.small_gemm_path(0, 0, 1024, 32, 32, np.float32) == "blas"
        _blas._set_small_gemm_narrow_max(2 ** 20)
        _testing.set_small_gemm_max(16384)          # the mid-size rule off
        assert _blas.small_gemm_narrow_max() == 0
        assert _blas.small_gemm_path(0, 0, 1024, 32, 32, np.float32) == "blas"
    finally:
        _blas._set_small_gemm_narrow_max(old_narrow)
        _testing.set_small_gemm_max(old)


NARROW_DEFAULT = """
from fastbp import _blas, _testing
if _blas.small_gemm_dispatch() != "avx2+fma" and not BASELINE:
    print("skip")
    raise SystemExit
_blas.BLAS_CORENAME = CORE
_blas._set_small_gemm_narrow_max(2 ** 27)
_testing.set_small_gemm_max((16384, 262144))
_blas._default_small_gemm_max(None)       # the defaults for that core
print(_blas.small_gemm_narrow_max() > 0, _blas.small_gemm_path(0, 0, 512, 16, 1024, "float32"))
"""


@pytest.mark.parametrize("core,baseline,want", [
    ("Haswell", False, "True small"), ("Zen", False, "True small"),
    ("Zen", True, "False blas"),             # no AVX2 clone: the mid-size rule off too
    ("Sandybridge", False, "False blas"),
    ("", False, "False blas"),               # no OpenBLAS found (another BLAS)
    ("SkylakeX", False, "False blas")])      # AVX-512 kernels: every limit 0
def test_narrow_rule_defaults_per_core(core, baseline, want):
    """The narrow rule is on by default only with OpenBLAS's Haswell/Zen kernels
    and fastbp's AVX2 clone, the kernels it was measured against."""
    env = dict(os.environ)
    if baseline:
        env["FASTBP_DISPATCH"] = "baseline"
    code = f"CORE = {core!r}\nBASELINE = {baseline}\n" + NARROW_DEFAULT
    out = run_python(code, env)
    assert out.returncode == 0, out.stderr[-3000:]
    if out.stdout.strip() == "skip":
        pytest.skip("no AVX2 clone on this CPU")
    assert out.stdout.strip() == want


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_dense_forward_on_narrow_products_matches_reference(dtype, n_threads):
    """dense_forward at batch 16 on a 784-input layer: with the narrow rule its
    product runs in the small kernel (Z equals that kernel's product plus b, bit
    for bit), without it in OpenBLAS; both agree with reference.py."""
    from fastbp import reference
    rng = np.random.default_rng(5)
    A = rng.standard_normal((784, 16)).astype(dtype)
    W = (rng.standard_normal((256, 784)) / 28).astype(dtype)
    b = rng.standard_normal((256, 1)).astype(dtype)
    ref_Z, ref_A = reference.dense_forward(A.astype(np.float64), W.astype(np.float64),
                                           b.astype(np.float64), "relu")
    tol = 1e-4 if dtype == np.float32 else 1e-11
    small = np.empty((256, 16), dtype)
    _testing.gemm(W, A, small, path="small")
    old = _testing.set_small_gemm_max((16384, 262144))
    try:
        for narrow in (NARROW, 0):
            keep = _blas._set_small_gemm_narrow_max(narrow)
            try:
                assert _blas.small_gemm_path(0, 0, 128, 16, 784, dtype) == \
                    ("small" if narrow else "blas")
                Z, A_out = fastbp.dense_forward(A, W, b, "relu", n_threads=n_threads)
            finally:
                _blas._set_small_gemm_narrow_max(keep)
            if narrow:      # rows are independent in the small kernel: blocks agree
                np.testing.assert_array_equal(Z, small + b)
            np.testing.assert_allclose(Z, ref_Z, rtol=tol, atol=tol)
            np.testing.assert_allclose(A_out, ref_A, rtol=tol, atol=tol)
    finally:
        _testing.set_small_gemm_max(old)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_dense_backward_on_narrow_tn_products_matches_reference(dtype, n_threads):
    """dense_backward at 2 vectors of columns (batch 16 float32, 8 float64): with
    the narrow rule W^T dZ runs in the small kernel (dA_prev equals that
    kernel's product bit for bit), without it in OpenBLAS; both agree with
    reference.py, and so do dW and db. The shapes are ones where the two
    kernels' bits differ on OpenBLAS's Haswell kernel (float64 needs k above
    its k block), so routing the product wrongly fails there."""
    from fastbp import reference
    # (n_prev, n, m): W is (n, n_prev); W^T dZ is TN (n_prev, m, n), lda n_prev
    p_, n, m = (784, 256, 16) if dtype == np.float32 else (256, 600, 8)
    rng = np.random.default_rng(6)
    A = rng.standard_normal((p_, m)).astype(dtype)
    W = (rng.standard_normal((n, p_)) / np.sqrt(p_)).astype(dtype)
    dZ = rng.standard_normal((n, m)).astype(dtype)
    ref = reference.dense_backward(dZ.astype(np.float64), A.astype(np.float64),
                                   W.astype(np.float64), None)
    tol = 1e-4 if dtype == np.float32 else 1e-11
    small = np.empty((p_, m), dtype)
    blas = np.empty((p_, m), dtype)
    _testing.gemm(W, dZ, small, trans_a=True, path="small")
    # OpenBLAS on the row blocks the call runs (one per thread: W's column
    # blocks), whose bits can differ from one whole call's (they do on
    # OpenBLAS's SkylakeX kernel, which matched the small kernel on the
    # 128-row halves and not on the whole 256 rows)
    for r0, r1 in ((0, p_),) if n_threads == 1 else ((0, p_ // 2), (p_ // 2, p_)):
        _testing.gemm(W[:, r0:r1], dZ, blas[r0:r1], trans_a=True, path="blas")
    # the bit checks below tell the kernels apart only where their bits
    # differ (they do on OpenBLAS's Haswell kernel at these shapes)
    differ = not np.array_equal(small, blas)
    old = _testing.set_small_gemm_max((16384, 262144))
    try:
        for narrow in (NARROW, 0):
            keep = _blas._set_small_gemm_narrow_max(narrow)
            try:
                # the row blocks of 2 threads are above the mid-size limit too
                for rows in (p_, p_ // 2):
                    assert _blas.small_gemm_path(1, 0, rows, m, n, dtype, lda=p_) == \
                        ("small" if narrow else "blas")
                got = fastbp.dense_backward(dZ, A, W, None, n_threads=n_threads)
            finally:
                _blas._set_small_gemm_narrow_max(keep)
            if narrow:
                np.testing.assert_array_equal(got[0], small)
            elif differ:
                assert not np.array_equal(got[0], small)
            for g, r in zip(got, ref):
                np.testing.assert_allclose(g, r, rtol=tol, atol=tol)
    finally:
        _testing.set_small_gemm_max(old)


def test_threshold_setter_returns_old_value():
    old = _testing.set_small_gemm_max(123)
    try:
        assert _blas.small_gemm_max() == 123
        assert _blas.small_gemm_mid_max() == 123
        assert _testing.set_small_gemm_max((456, 789)) == (123, 123)
        assert (_blas.small_gemm_max(), _blas.small_gemm_mid_max()) == (456, 789)
    finally:
        _testing.set_small_gemm_max(old)
    assert (_blas.small_gemm_max(), _blas.small_gemm_mid_max()) == (old[0], max(old))


def test_gemm_helper_rejects_bad_input():
    A = np.ones((3, 4))
    with pytest.raises(ValueError, match="incompatible shapes"):
        _testing.gemm(A, np.ones((5, 2)), np.empty((3, 2)))
    with pytest.raises(ValueError, match="contiguous"):
        _testing.gemm(np.ones((3, 8))[:, ::2], np.ones((4, 2)), np.empty((3, 2)))
    with pytest.raises(ValueError, match="path"):
        _testing.gemm(A, np.ones((4, 2)), np.empty((3, 2)), path="fast")
