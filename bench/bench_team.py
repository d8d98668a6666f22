"""Per-call latency of the layer kernels on NumPy's OpenBLAS pool vs an OpenMP team.

Run (fastbp-only loops, 2 threads, the shapes where the kernels go
multithreaded; unset the variables that force a slow OpenBLAS kernel):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_team.py
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_team.py --shapes "256,256,64"

Each call is timed alone, back to back, in blocks of 25 calls that alternate
between the two paths (``fastbp._testing.set_numpy_pool``), 40 blocks each;
the table gives the minimum, 10th percentile and median per call. The
minimum and the 10th percentile hold up on a loaded machine, where the
median measures the scheduler (see bench/RESULTS.md); bench_layer.py's
interleaved medians are the numbers for a quiet one.
"""
import argparse
import time

import numpy as np

import fastbp
from fastbp import _blas, _testing
from _timing import blas_info  # bench/_timing.py (the script's directory is on sys.path)

SHAPES = [(96, 96, 32), (200, 300, 50), (256, 256, 64), (512, 512, 256)]


def calls(p, n, m, dtype, rng, nt):
    A = rng.standard_normal((p, m)).astype(dtype)
    W = (rng.standard_normal((n, p)) / np.sqrt(p)).astype(dtype)
    b = rng.standard_normal((n, 1)).astype(dtype)
    dZ = rng.standard_normal((n, m)).astype(dtype)
    Ar = np.maximum(A, 0)
    bo = (np.empty((p, m), dtype), np.empty((n, p), dtype), np.empty((n, 1), dtype))
    fo = (np.empty((n, m), dtype), np.empty((n, m), dtype))
    return [("dense_backward", lambda: fastbp.dense_backward(dZ, Ar, W, "relu", out=bo,
                                                             n_threads=nt)),
            ("dense_forward", lambda: fastbp.dense_forward(A, W, b, "relu", out=fo,
                                                           n_threads=nt))]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shapes", default=None, help="n_prev,n,m triples separated by ';'")
    ap.add_argument("--blocks", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    if not _blas.numpy_pool_enabled():
        raise SystemExit("fastbp does not use NumPy's OpenBLAS pool here (fastbp info says why)")
    shapes = SHAPES if args.shapes is None else [
        tuple(int(x) for x in s.split(",")) for s in args.shapes.split(";")]
    rng = np.random.default_rng(0)
    print("# bench_team")
    for line in blas_info():
        print("    " + line)
    print(f"\n| n_prev, n, m | dtype | kernel | pool min / p10 / median us | "
          f"OpenMP team min / p10 / median us | pool/team at min | at p10 |")
    print("|---|---|---|---|---|---|---|")
    for shape in shapes:
        for dtype in (np.float32, np.float64):
            for name, f in calls(*shape, dtype, rng, args.threads):
                res = {True: [], False: []}
                for _ in range(args.blocks):
                    for on in (True, False):
                        old = _testing.set_numpy_pool(on)
                        f()
                        f()
                        for _ in range(25):
                            t0 = time.perf_counter()
                            f()
                            res[on].append(time.perf_counter() - t0)
                        _testing.set_numpy_pool(old)
                q = {on: np.quantile(v, [0, 0.1, 0.5]) * 1e6 for on, v in res.items()}
                P, T = q[True], q[False]
                print(f"| {', '.join(map(str, shape))} | {np.dtype(dtype).name} | {name} | "
                      f"{P[0]:.1f} / {P[1]:.1f} / {P[2]:.1f} | {T[0]:.1f} / {T[1]:.1f} / "
                      f"{T[2]:.1f} | {P[0] / T[0]:.3f} | {P[1] / T[1]:.3f} |", flush=True)


if __name__ == "__main__":
    main()
