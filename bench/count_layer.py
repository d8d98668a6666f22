"""Instructions per call of one small dense layer: fastbp vs its GEMM floor.

Run (needs valgrind; about 4 minutes, load-independent):

    python bench/count_layer.py [--calls 1000] [--shape 64,64,32]

Counts with ``valgrind --tool=callgrind`` what bench/bench_layer.py times:
dense_backward (ReLU) and dense_forward (ReLU), with ``out=`` and without,
float32 and float64, against the floors called exactly as bench_layer calls
them (the GEMMs alone through scipy.linalg.blas into preallocated outputs).
One process runs every case; ``os.getppid()`` marks the interval of each
case's N calls (``--dump-before=getppid``), after 20 warm-up calls outside
it, and the table gives each interval's instructions / N. OpenBLAS's idle
worker threads (``blas_thread_server``, spinning after startup) are left out:
what they count depends on the scheduler, not on the call.

Valgrind does not emulate AVX-512: under it OpenBLAS picks its Haswell
kernel and fastbp its AVX2 clones, so these are the counts of the AVX2 path
(``OPENBLAS_CORETYPE=Haswell FASTBP_DISPATCH=avx2``) on any machine.
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

CASES = ["bfloor", "bwd out", "bwd none", "ffloor", "fwd out", "fwd none"]
DTYPES = ["float32", "float64"]


def child(n_calls, p, n, m):
    import numpy as np
    from scipy.linalg import blas as sblas
    import fastbp

    nt = 2
    for name in DTYPES:
        dt = np.dtype(name).type
        rng = np.random.default_rng(0)
        A_prev = np.maximum(rng.standard_normal((p, m)), 0).astype(dt)
        W = (rng.standard_normal((n, p)) / np.sqrt(p)).astype(dt)
        b = rng.standard_normal((n, 1)).astype(dt)
        dZ = rng.standard_normal((n, m)).astype(dt)
        A_relu = np.maximum(rng.standard_normal((p, m)), 0).astype(dt)
        gemm = sblas.sgemm if dt == np.float32 else sblas.dgemm
        inv_m = 1.0 / m
        fdW, fdA, fZ = np.empty((n, p), dt), np.empty((p, m), dt), np.empty((n, m), dt)
        bout = (np.empty((p, m), dt), np.empty((n, p), dt), np.empty((n, 1), dt))
        fout = (np.empty((n, m), dt), np.empty((n, m), dt))

        def bfloor():
            gemm(inv_m, A_relu.T, dZ.T, c=fdW.T, trans_a=1, overwrite_c=1)
            gemm(1.0, dZ.T, W.T, c=fdA.T, trans_b=1, overwrite_c=1)

        def ffloor():
            gemm(1.0, A_prev.T, W.T, c=fZ.T, overwrite_c=1)

        calls = {
            "bfloor": bfloor,
            "bwd out": lambda: fastbp.dense_backward(dZ, A_relu, W, "relu", out=bout,
                                                     n_threads=nt),
            "bwd none": lambda: fastbp.dense_backward(dZ, A_relu, W, "relu", n_threads=nt),
            "ffloor": ffloor,
            "fwd out": lambda: fastbp.dense_forward(A_prev, W, b, "relu", out=fout,
                                                    n_threads=nt),
            "fwd none": lambda: fastbp.dense_forward(A_prev, W, b, "relu", n_threads=nt),
        }
        for case in CASES:
            f = calls[case]
            for _ in range(20):
                f()
            os.getppid()
            for _ in range(n_calls):
                f()
            os.getppid()


def interval_total(path):
    out = subprocess.run(["callgrind_annotate", "--threshold=100", "--auto=no", path],
                         capture_output=True, text=True, check=True).stdout
    total = spin = 0
    for line in out.splitlines():
        mt = re.match(r"\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(.*)", line)
        if not mt:
            continue
        v = int(mt.group(1).replace(",", ""))
        if "PROGRAM TOTALS" in line:
            total = v
        elif "blas_thread_server" in mt.group(2):
            spin += v
    return total - spin


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--shape", default="64,64,32", help="n_prev,n,m")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    p, n, m = (int(x) for x in args.shape.split(","))
    if args.child:
        child(args.calls, p, n, m)
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg")
        subprocess.run(["valgrind", "--tool=callgrind", "--dump-before=getppid",
                        f"--callgrind-out-file={out}", sys.executable, os.path.abspath(__file__),
                        "--child", "--calls", str(args.calls), "--shape", args.shape],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        dumps = {int(f.rsplit(".", 1)[1]): f for f in glob.glob(out + ".*")
                 if f.rsplit(".", 1)[1].isdigit()}
        # dump 2k+2 holds case k's measured calls (odd dumps: warm-ups, setup)
        counts, k = {}, 0
        for dt in DTYPES:
            for case in CASES:
                counts[dt, case] = interval_total(dumps[2 * k + 2]) / args.calls
                k += 1
    print(f"## instructions per call, (n_prev, n, m) = ({p}, {n}, {m}), ReLU, "
          f"{args.calls} calls per case\n")
    print("| dtype | call | fastbp | floor | fastbp / floor |")
    print("|---|---|---|---|---|")
    for dt in DTYPES:
        for kind, floor in (("bwd", "bfloor"), ("fwd", "ffloor")):
            for o in ("out", "none"):
                c, f = counts[dt, f"{kind} {o}"], counts[dt, floor]
                label = ("dense_backward" if kind == "bwd" else "dense_forward") + \
                    (", out=" if o == "out" else ", no out")
                print(f"| {dt} | {label} | {c:,.0f} | {f:,.0f} | {c / f:.3f} |")


if __name__ == "__main__":
    main()
