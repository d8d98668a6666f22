"""One dense layer: fastbp vs course-style NumPy vs the bare-GEMM floor.

Run (benchmarks only: unset the variables that force a slow OpenBLAS kernel):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_layer.py

Backward (ReLU): fastbp.dense_backward with out= vs the course's NumPy code
(dW = dZ A^T / m, db = sum / m, dA = W^T dZ, dZ[Z <= 0] = 0) vs the floor:
the two GEMMs alone, into preallocated outputs, through scipy.linalg.blas.
Forward (ReLU): fastbp.dense_forward with out= vs NumPy (W @ A + b, maximum)
vs its one GEMM. All candidates of a row are timed interleaved in one run;
the table gives medians and ratios to the floor. A "mixed use" section
alternates a NumPy forward with fastbp.dense_backward, as a user dropping
fastbp into NumPy code runs it, with the layer kernels' threads on NumPy's
OpenBLAS pool (fastbp's default where it finds one, see fastbp/_blas.pyx)
and in an OpenMP team (the fallback), side by side.

    --compare-team   adds a "fastbp, OpenMP team" candidate to the layer
                     tables (fastbp-only loops on both paths, interleaved)
"""
import argparse
import os

import numpy as np
from scipy.linalg import blas as sblas

import fastbp
from fastbp import _blas, _testing
from _timing import blas_info, compare  # bench/_timing.py (the script's directory is on sys.path)

SHAPES = [(64, 64, 32), (256, 256, 64), (512, 512, 256), (1024, 1024, 512),
          (2048, 2048, 1024), (4096, 1024, 256)]


def gemm_fn(dtype):
    return sblas.sgemm if dtype == np.float32 else sblas.dgemm


def make(n_prev, n, m, dtype, rng):
    A_prev = np.maximum(rng.standard_normal((n_prev, m)), 0).astype(dtype)
    W = (rng.standard_normal((n, n_prev)) / np.sqrt(n_prev)).astype(dtype)
    b = rng.standard_normal((n, 1)).astype(dtype)
    dZ = rng.standard_normal((n, m)).astype(dtype)
    Z_prev = rng.standard_normal((n_prev, m)).astype(dtype)
    A_relu = np.maximum(Z_prev, 0)
    return A_prev, W, b, dZ, Z_prev, A_relu


def fastbp_pool():
    """Which thread pool fastbp's kernels run in (compare() sleeps between pools)."""
    return "numpy" if _blas.numpy_pool_enabled() else "omp"


def on_team(fn, pool):
    """fn run with the layer kernels' threads on NumPy's pool (True) or in an
    OpenMP team (False); the switch is restored after each call."""
    def run():
        old = _testing.set_numpy_pool(pool)
        try:
            return fn()
        finally:
            _testing.set_numpy_pool(old)
    return run


def team_cands(cands, compare_team):
    """Add a "fastbp, OpenMP team" twin of the "fastbp" candidate when asked
    (both then go through on_team, so both pay its switch)."""
    if not compare_team:
        return cands
    fast = dict((name, fn) for name, fn, _ in cands)["fastbp"]
    return ([(name, on_team(fn, True) if name == "fastbp" else fn, tag)
             for name, fn, tag in cands] + [("fastbp, OpenMP team", on_team(fast, False), "omp")])


def backward_cands(n_prev, n, m, dtype, nt, rng):
    A_prev, W, b, dZ, Z_prev, A_relu = make(n_prev, n, m, dtype, rng)
    gemm = gemm_fn(dtype)
    out = (np.empty((n_prev, m), dtype), np.empty((n, n_prev), dtype), np.empty((n, 1), dtype))
    fdW, fdA = np.empty((n, n_prev), dtype), np.empty((n_prev, m), dtype)
    inv_m = 1.0 / m

    # Row-major products as column-major calls on transposed (F-ordered)
    # views, so f2py copies nothing: dW^T = A_prev dZ^T, dA^T = dZ^T W.
    def floor():
        gemm(inv_m, A_relu.T, dZ.T, c=fdW.T, trans_a=1, overwrite_c=1)
        gemm(1.0, dZ.T, W.T, c=fdA.T, trans_b=1, overwrite_c=1)

    def fast():
        fastbp.dense_backward(dZ, A_relu, W, "relu", out=out, n_threads=nt)

    def course():
        dW = 1 / m * np.dot(dZ, A_relu.T)
        db = 1 / m * np.sum(dZ, axis=1, keepdims=True)
        dA_prev = np.dot(W.T, dZ)
        dZ_prev = np.array(dA_prev, copy=True)
        dZ_prev[Z_prev <= 0] = 0
        return dZ_prev, dW, db

    floor()
    assert np.shares_memory(fdW, fdW) and np.allclose(
        fdW, dZ @ A_relu.T / m, rtol=1e-3, atol=1e-3), "floor GEMM wrote elsewhere"
    return [("floor", floor, "scipy"), ("fastbp", fast, fastbp_pool()), ("numpy", course, "numpy")]


def forward_cands(n_prev, n, m, dtype, nt, rng):
    A_prev, W, b, dZ, Z_prev, A_relu = make(n_prev, n, m, dtype, rng)
    gemm = gemm_fn(dtype)
    out = (np.empty((n, m), dtype), np.empty((n, m), dtype))
    fZ = np.empty((n, m), dtype)

    def floor():
        gemm(1.0, A_prev.T, W.T, c=fZ.T, overwrite_c=1)

    def fast():
        fastbp.dense_forward(A_prev, W, b, "relu", out=out, n_threads=nt)

    def course():
        Z = np.dot(W, A_prev) + b
        return Z, np.maximum(0, Z)

    floor()
    assert np.allclose(fZ, W @ A_prev, rtol=1e-3, atol=1e-3)
    return [("floor", floor, "scipy"), ("fastbp", fast, fastbp_pool()), ("numpy", course, "numpy")]


def mixed_cands(dtype, nt, rng, pool, n_prev=1024, n=1024, m=512):
    """NumPy forward + fastbp backward, alternating, vs all-fastbp; the layer
    kernels' threads on NumPy's pool (pool=True) or an OpenMP team."""
    A_prev, W, b, dZ, Z_prev, A_relu = make(n_prev, n, m, dtype, rng)
    bout = (np.empty((n_prev, m), dtype), np.empty((n, n_prev), dtype), np.empty((n, 1), dtype))
    fout = (np.empty((n, m), dtype), np.empty((n, m), dtype))

    def mixed():
        Z = W @ A_prev + b
        np.maximum(Z, 0, out=Z)
        fastbp.dense_backward(dZ, A_relu, W, "relu", out=bout, n_threads=nt)

    def pure():
        fastbp.dense_forward(A_prev, W, b, "relu", out=fout, n_threads=nt)
        fastbp.dense_backward(dZ, A_relu, W, "relu", out=bout, n_threads=nt)

    def numpy_fwd():
        Z = W @ A_prev + b
        np.maximum(Z, 0, out=Z)

    # Remedy candidate: NumPy's own OpenBLAS held to one thread for the loop,
    # so its idle workers do not spin on the core fastbp's threads need.
    numpy_blas = None
    try:
        from threadpoolctl import ThreadpoolController
        numpy_blas = [lib for lib in ThreadpoolController().select(user_api="blas").lib_controllers
                      if "numpy" in lib.filepath]
    except ImportError:
        pass

    def mixed_np1():
        for lib in numpy_blas:
            lib.set_num_threads(1)
        try:
            mixed()
        finally:
            for lib in numpy_blas:
                lib.set_num_threads(nt)

    def fastbp_bwd():
        fastbp.dense_backward(dZ, A_relu, W, "relu", out=bout, n_threads=nt)

    tag = "numpy" if pool else "omp"
    cands = [("fastbp fwd+bwd", pure, tag), ("numpy fwd + fastbp bwd", mixed, "mixed"),
             ("numpy fwd alone", numpy_fwd, "numpy"), ("fastbp bwd alone", fastbp_bwd, tag)]
    if numpy_blas:
        cands.append(("mixed, NumPy BLAS 1 thread", mixed_np1, "mixed1"))
    team = "pool" if pool else "omp"
    return [(f"{name} [{team}]", on_team(fn, pool), f"{t}-{team}" if t == "mixed" else t)
            for name, fn, t in cands]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    ap.add_argument("--shapes", default=None,
                    help="n_prev,n,m triples separated by ';' (default: the issue's six)")
    ap.add_argument("--threads", type=int, default=None, help="threads for every library")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-mixed", action="store_true")
    ap.add_argument("--compare-team", action="store_true",
                    help="time fastbp on NumPy's pool and in an OpenMP team side by side")
    ap.add_argument("--only", choices=["backward", "forward"], default=None)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: the smallest shape, 3 short blocks, no mixed-use table")
    args = ap.parse_args(argv)
    min_block = 0.05
    if args.quick:
        args.shapes = args.shapes or "64,64,32"
        args.repeats, args.no_mixed, min_block = 3, True, 0.01

    nt = fastbp.effective_n_threads(args.threads)
    limits = None
    try:
        from threadpoolctl import threadpool_limits
        limits = threadpool_limits(limits=nt, user_api="blas")
    except ImportError:
        pass
    shapes = SHAPES if args.shapes is None else [
        tuple(int(x) for x in s.split(",")) for s in args.shapes.split(";")]
    dtypes = [np.float32, np.float64] if args.dtype == "both" else [np.dtype(args.dtype).type]
    rng = np.random.default_rng(0)

    print("# bench_layer")
    for line in blas_info():
        print("    " + line)
    print(f"    fastbp {fastbp.__version__}, OpenMP={fastbp.openmp_enabled()}, threads={nt}, "
          f"cores={os.cpu_count()}, layer kernels' threads: "
          f"{'NumPy OpenBLAS pool' if _blas.numpy_pool_enabled() else 'OpenMP team'}")
    print()
    sections = [("backward", backward_cands), ("forward", forward_cands)]
    for title, maker in sections:
        if args.only and args.only != title:
            continue
        ct = args.compare_team and _blas.numpy_pool_enabled()
        extra_h = " fastbp OpenMP team ms | pool/team |" if ct else ""
        print(f"## dense_{title} (ReLU), median ms per call, ratio to the GEMM floor\n")
        print("| n_prev, n, m | dtype | floor ms | fastbp ms | numpy ms | fastbp/floor | "
              "numpy/floor | fastbp speed-up vs numpy |" + extra_h)
        print("|---|---|---|---|---|---|---|---|" + ("---|---|" if ct else ""))
        for dtype in dtypes:
            for (p, n, m) in shapes:
                med, reruns = compare(team_cands(maker(p, n, m, dtype, nt, rng), ct),
                                      repeats=args.repeats, min_block=min_block)
                fl, fb, npy = med["floor"], med["fastbp"], med["numpy"]
                flag = f" ({reruns} re-run)" if reruns else ""
                extra = ""
                if ct:
                    fo = med["fastbp, OpenMP team"]
                    extra = f" {fo*1e3:.4f} | {fb/fo:.3f} |"
                print(f"| {p}, {n}, {m} | {np.dtype(dtype).name} | {fl*1e3:.4f} | {fb*1e3:.4f} | "
                      f"{npy*1e3:.4f} | {fb/fl:.3f} | {npy/fl:.3f} | {npy/fb:.2f}x{flag} |"
                      + extra, flush=True)
        print()
    if not args.no_mixed:
        print("## mixed use at (1024, 1024, 512): NumPy forward + fastbp.dense_backward, "
              "alternating\n")
        print("| dtype | layer kernels' threads | fastbp fwd+bwd ms | numpy fwd + fastbp bwd ms | "
              "numpy fwd alone ms | fastbp bwd alone ms | mixed penalty | "
              "mixed, NumPy's BLAS at 1 thread ms |")
        print("|---|---|---|---|---|---|---|---|")
        teams = [True, False] if _blas.numpy_pool_enabled() else [False]
        for dtype in dtypes:
            cands = [c for pool in teams for c in mixed_cands(dtype, nt, rng, pool)]
            med, reruns = compare(cands, repeats=args.repeats)
            for pool in teams:
                team = "pool" if pool else "omp"

                def g(name):
                    return med.get(f"{name} [{team}]", float("nan"))
                penalty = g("numpy fwd + fastbp bwd") / (g("numpy fwd alone")
                                                         + g("fastbp bwd alone"))
                flag = f" ({reruns} re-run)" if reruns else ""
                print(f"| {np.dtype(dtype).name} | "
                      f"{'NumPy pool' if pool else 'OpenMP team'} | "
                      f"{g('fastbp fwd+bwd')*1e3:.3f} | {g('numpy fwd + fastbp bwd')*1e3:.3f} | "
                      f"{g('numpy fwd alone')*1e3:.3f} | {g('fastbp bwd alone')*1e3:.3f} | "
                      f"{penalty:.2f}x{flag} | {g('mixed, NumPy BLAS 1 thread')*1e3:.3f} |",
                      flush=True)
        print("\nmixed penalty = (alternating loop) / (sum of each part timed alone); "
              "\"NumPy pool\" is fastbp's default where NumPy ships a pthreads OpenBLAS, "
              "\"OpenMP team\" the fallback (FASTBP_NUMPY_POOL=0)")
    if limits is not None:
        limits.restore_original_limits()


if __name__ == "__main__":
    main()
