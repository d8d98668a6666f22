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


def rule_operands(ta, tb, M, N, K, dtype):
    """(A, B, op(A) op(B) in float64, its tolerance) for a rule's shape."""
    rng = np.random.default_rng(M * 7 + N)
    A = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
    B = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
    ref = (A.T if ta else A).astype(np.float64) @ (B.T if tb else B).astype(np.float64)
    atol = 4 * (K + 2) * np.finfo(dtype).eps * float(np.abs(A).max() * np.abs(B).max()) * K
    return A, B, ref, atol


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
        A, B, ref, atol = rule_operands(ta, tb, M, N, K, dtype)
        outs = {}
        for path in ("auto", "small", "blas"):
            outs[path] = np.full((M, N), np.nan, dtype)
            _testing.gemm(A, B, outs[path], trans_a=bool(ta), trans_b=bool(tb), path=path)
            np.testing.assert_allclose(outs[path], ref, rtol=0, atol=atol, err_msg=path)
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
        keep = _blas._set_mid512(False)             # (AVX-512 cores' own rule)
        try:
            assert _blas.small_gemm_path(0, 0, 1024, 32, 32, np.float32) == "blas"
        finally:
            _blas._set_mid512(keep)
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
print(_blas.small_gemm_narrow_max() > 0, _blas.small_gemm_path(0, 0, 512, 16, 1024, "float32"),
      _blas.simd_dispatch() == "avx512")
"""


@pytest.mark.parametrize("core,baseline,want", [
    ("Haswell", False, "True small"), ("Zen", False, "True small"),
    ("Zen", True, "False blas"),             # no AVX2 clone: the mid-size rule off too
    ("Sandybridge", False, "False blas"),
    ("", False, "False blas"),               # no OpenBLAS found (another BLAS)
    ("SkylakeX", False, "False blas")])      # AVX-512 kernels: the AVX2 limits 0
def test_narrow_rule_defaults_per_core(core, baseline, want):
    """The narrow rule is on by default only with OpenBLAS's Haswell/Zen kernels
    and fastbp's AVX2 clone, the kernels it was measured against; with the
    AVX-512 kernels the AVX-512 clone's mid-size rule takes the product
    instead where fastbp's AVX-512 clones run (and only there)."""
    env = dict(os.environ)
    if baseline:
        env["FASTBP_DISPATCH"] = "baseline"
    code = f"CORE = {core!r}\nBASELINE = {baseline}\n" + NARROW_DEFAULT
    out = run_python(code, env)
    assert out.returncode == 0, out.stderr[-3000:]
    if out.stdout.strip() == "skip":
        pytest.skip("no AVX2 clone on this CPU")
    narrow, path, avx512 = out.stdout.split()
    if core == "SkylakeX" and avx512 == "True":
        want = "False small512"
    assert f"{narrow} {path}" == want


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


# ------------------------------------- the AVX-512 clone and its mid-size rule

needs_avx512 = pytest.mark.skipif(not _testing.avx512_clone(),
                                  reason="the small kernel's AVX-512 clone does not run here")


@needs_avx512
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("ta,tb", list(itertools.product((False, True), repeat=2)),
                         ids=["NN", "NT", "TN", "TT"])
def test_avx512_clone_matches_numpy(dtype, ta, tb):
    """The clone _gemm's AVX-512 rule calls (6 x 4-vector tiles, then 3-, 2-
    and 1-vector tiles and edge columns): the grid, and shapes the rule sends
    it (whole and partial tiles, K past one 256-long chunk)."""
    run_grid(dtype, ta, tb, path="small512")
    vn = 64 // np.dtype(dtype).itemsize
    rng = np.random.default_rng([7, int(ta), int(tb)])
    for n, (M, N, K) in enumerate([(37, 4 * vn, 300), (130, 2 * vn, 600), (13, 7 * vn, 40),
                                   (7, 3 * vn + 5, 257), (64, vn, 129)]):
        check_case(dtype, ta, tb, M, N, K, ALPHAS[n % 3], BETAS[n % 3], "small512", rng)


F32, F64 = np.float32, np.float64
MID512_RULE = [     # (ta, tb, M, N, K, dtype, path with the rule on)
    (0, 0, 64, 64, 128, F32, "blas"),          # m n k = 524,288: OpenBLAS's small kernels
    (0, 0, 64, 64, 129, F32, "small512"),      # ... one more k
    (0, 0, 65, 64, 128, F32, "small512"),
    (0, 0, 64, 72, 256, F32, "blas"),          # not whole 512-bit vectors
    (0, 0, 4096, 16, 15, F32, "blas"),         # K below 16
    (0, 0, 4096, 16, 16, F32, "small512"),
    (1, 0, 512, 512, 10, F32, "blas"),         # TN, K below 16 (W^T dZ of 10 outputs)
    (0, 0, 64, 2048, 64, F32, "small512"),     # B (K x N) 512 KiB
    (0, 0, 64, 2048, 65, F32, "blas"),         # ... above
    (0, 1, 128, 64, 256, F32, "small512"),     # NT: K <= 256 and <= 2 M, any size
    (0, 1, 128, 64, 257, F32, "blas"),         # ... K above 256 (its dot products)
    (0, 1, 16, 64, 32, F32, "small512"),
    (0, 1, 16, 64, 33, F32, "blas"),           # ... K above 2 M
    (0, 1, 32, 16, 16, F32, "small512"),       # ... 8,192 multiply-adds, 1 vector
    (0, 1, 64, 72, 64, F32, "blas"),           # ... not whole vectors
    (1, 1, 64, 64, 64, F32, "blas"),           # TT
    (0, 1, 128, 8, 64, F64, "blas"),           # NT, 1 vector of float64
    (0, 1, 128, 16, 64, F64, "small512"),
    (0, 1, 256, 1024, 256, F32, "small512"),   # ... A 256 KiB, op(B) 1 MiB
    (0, 1, 257, 1024, 256, F32, "blas"),       # ... A above 256 KiB
    (0, 1, 256, 1040, 256, F32, "blas"),       # ... op(B) above 1 MiB
    (1, 0, 128, 32, 256, F32, "small512"),     # TN, 2 vectors
    (1, 0, 128, 16, 512, F32, "blas"),         # ... 1 vector
    (1, 0, 512, 32, 256, F32, "small512"),     # ... A's rows span 512 KiB
    (1, 0, 513, 32, 256, F32, "blas"),         # ... above
    (0, 0, 64, 64, 129, F64, "small512"),
    (0, 0, 64, 60, 256, F64, "blas"),
    (0, 0, 32, 1024, 64, F64, "small512"),     # B 512 KiB
    (0, 0, 32, 1024, 65, F64, "blas"),
    (1, 0, 256, 16, 256, F64, "small512"),     # TN, 2 vectors, span 512 KiB
    (1, 0, 256, 8, 512, F64, "blas"),          # ... 1 vector
]


@needs_avx512
@pytest.mark.parametrize("ta,tb,M,N,K,dtype,want", MID512_RULE,
                         ids=[f"{'NT'[ta]}{'NT'[tb]}-{M}x{N}x{K}-{np.dtype(d).name}"
                              for ta, tb, M, N, K, d, _ in MID512_RULE])
def test_avx512_mid_rule_sends_each_shape_where_measured(ta, tb, M, N, K, dtype, want):
    """On OpenBLAS's AVX-512 cores (their limits: 0) mid-size NN and TN
    products, and NT ones with K <= 256, run in the AVX-512 clone within the
    rule's bounds, by the shape alone: _gemm runs the clone (its counter
    moves, its result equals that path's bit for bit) exactly where the rule
    says, whatever OpenBLAS's thread count (which an unlocked call does not
    own), and every path matches NumPy. set_small_gemm_max(-1) (every
    product in OpenBLAS) and the AVX2 mid-size limits turn the rule off."""
    old = _testing.set_small_gemm_max(0)
    keep = _blas._set_mid512(True)
    try:
        assert _blas.small_gemm_path(ta, tb, M, N, K, dtype) == want
        A, B, ref, atol = rule_operands(ta, tb, M, N, K, dtype)
        outs = {}
        controlled = _blas.blas_thread_control()["controlled"]
        for path, threads in (("small512", None), ("blas", 1), ("blas", 2), ("auto", 1),
                              ("auto", 2)):
            if threads is not None and not controlled:
                continue
            out = np.full((M, N), np.nan, dtype)
            prev = _blas._set_blas_num_threads(threads) if threads else None
            runs = _blas._mid512_count()
            try:
                _testing.gemm(A, B, out, trans_a=bool(ta), trans_b=bool(tb), path=path)
            finally:
                if threads:
                    _blas._set_blas_num_threads(prev)
            if path == "auto":
                assert _blas._mid512_count() - runs == (want == "small512"), threads
            outs[path if threads is None else f"{path}{threads}"] = out
            np.testing.assert_allclose(out, ref, rtol=0, atol=atol,
                                       err_msg=f"{path} {threads}")
        for limits in (-1, (16384, 262144)):
            _testing.set_small_gemm_max(limits)
            assert _blas.small_gemm_path(ta, tb, M, N, K, dtype) != "small512", limits
    finally:
        _blas._set_mid512(keep)
        _testing.set_small_gemm_max(old)
    # (OpenBLAS's bits may depend on its thread count: compare like with like)
    if controlled:
        for threads in (1, 2):
            np.testing.assert_array_equal(
                outs[f"auto{threads}"],
                outs["small512" if want == "small512" else f"blas{threads}"])


def test_avx512_mid_rule_defaults_per_core():
    """The rule is on by default only with OpenBLAS's AVX-512 cores and where
    the clone runs (not under FASTBP_DISPATCH=avx2, nor with a Haswell core)."""
    code = ("from fastbp import _blas, _testing\n"
            "print(_blas._set_mid512(False), _testing.avx512_clone(), _blas.BLAS_CORENAME)\n")
    out = run_python(code, dict(os.environ))
    assert out.returncode == 0, out.stderr[-3000:]
    on, clone, core = (out.stdout.split() + [""])[:3]
    assert on == str(clone == "True" and core.lower() in ("skylakex", "cooperlake",
                                                           "sapphirerapids"))
    if clone == "True":
        out = run_python(code, dict(os.environ, FASTBP_DISPATCH="avx2"))
        assert out.returncode == 0 and out.stdout.split()[:2] == ["False", "False"], out


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_layers_and_steps_on_the_avx512_rule_match_reference(dtype, n_threads):
    """dense_forward / dense_backward at (256, 256, 64), whose row blocks' NN
    and TN products the rule sends to the AVX-512 clone where it runs, agree
    with reference.py with the rule on and off, and three [784, 256, 128, 10]
    batch-64 SGD steps agree between the two to rounding (not Adam: its
    m / sqrt(v) turns a rounding difference in a gradient near 0 into one of
    the learning rate's size)."""
    from fastbp import reference
    from fastbp.network import Network
    from fastbp.optim import SGD
    rng = np.random.default_rng(3)
    n_prev, n, m = 256, 256, 64
    A = np.maximum(rng.standard_normal((n_prev, m)), 0).astype(dtype)
    W = (rng.standard_normal((n, n_prev)) / 16).astype(dtype)
    b = rng.standard_normal((n, 1)).astype(dtype)
    dZ = rng.standard_normal((n, m)).astype(dtype)
    Zp = rng.standard_normal((n_prev, m)).astype(dtype)
    f64 = [x.astype(np.float64) for x in (A, W, b, dZ, Zp)]
    ref_f = reference.dense_forward(f64[0], f64[1], f64[2], "relu")
    ref_b = reference.dense_backward(f64[3], f64[0], f64[1], "relu", Z_prev=f64[4])
    tol = 2e-4 if dtype == np.float32 else 1e-11
    X = rng.standard_normal((784, 64)).astype(dtype)
    y = rng.integers(0, 10, 64)
    params, ran = {}, {}
    default = _blas._set_mid512(True)       # on where it runs by default (read it)
    _blas._set_mid512(default)
    for on in (True, False):
        keep = _blas._set_mid512(on and default)
        try:
            runs = _blas._mid512_count()
            out = fastbp.dense_forward(A, W, b, "relu", n_threads=n_threads)
            ran[on] = _blas._mid512_count() > runs
            for got, want in zip(out, ref_f):
                np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
            for got, want in zip(fastbp.dense_backward(dZ, A, W, "relu", Z_prev=Zp,
                                                       n_threads=n_threads), ref_b):
                np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
            net = Network([784, 256, 128, 10], "relu", "softmax", dtype=dtype, seed=0,
                          n_threads=n_threads)
            opt = SGD(0.1)
            for _ in range(3):
                net.train_step(X, y, opt)
            params[on] = net.flat_parameters.copy()
        finally:
            _blas._set_mid512(keep)
    np.testing.assert_allclose(params[True], params[False], rtol=0,
                               atol=1e-6 if dtype == np.float32 else 1e-14)
    # the forward's row blocks ran in the clone where the rule is on
    assert ran == {True: default, False: False}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
def test_gemm_path_does_not_depend_on_openblas_thread_count(dtype):
    """A one-thread dense_backward small enough to take no BLAS lock
    (_blas_begin(0)) gives the same bits whatever OpenBLAS's process-wide
    thread count (set by the user, or by another thread's fastbp call): the
    AVX-512 rule routed its dZ A^T by that count once."""
    if not _blas.blas_thread_control()["controlled"]:
        pytest.skip("OpenBLAS's thread count cannot be set here")
    rng = np.random.default_rng(2)
    for n, n_prev, m in ((16, 64, 32), (64, 64, 32), (20, 64, 40)):
        dZ = rng.standard_normal((n, m)).astype(dtype)
        A = rng.standard_normal((n_prev, m)).astype(dtype)
        W = rng.standard_normal((n, n_prev)).astype(dtype)
        outs = []
        for threads in (1, 2):
            prev = _blas._set_blas_num_threads(threads)
            try:
                outs.append(fastbp.dense_backward(dZ, A, W, "identity", n_threads=1))
            finally:
                _blas._set_blas_num_threads(prev)
        for a, b in zip(*outs):
            np.testing.assert_array_equal(a, b, err_msg=f"{(n, n_prev, m)}")
