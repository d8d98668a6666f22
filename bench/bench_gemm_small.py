"""_gemm's small-product kernel (csrc/fastbp_gemm.h) vs OpenBLAS, per call.

Run (benchmarks only: unset the variables that force a slow OpenBLAS kernel):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_gemm_small.py

Both sides are called through fastbp._testing.gemm(path="small" / "blas") with
``repeat`` calls inside one nogil loop, so Python's call overhead is amortised
and the numbers are the C-level cost of one _gemm. OpenBLAS runs on one thread
(as inside fastbp's parallel regions; below ~262k m*n*k it would anyway).
Shapes: the products of a [2, 4, 1] network on m = 400 examples (also split
in two row panels, as on 2 threads), the m = 400 products of wider layers,
and square-ish sizes 4..64 in all four transpose combinations. Medians of
interleaved blocks (bench/_timing.py). The last lines list, per dtype, the
largest m*n*k up to which the small kernel won on every shape: the basis of
_blas.pyx's _small_gemm_max.

``--mid``: the mid-size rule instead (_blas.pyx's _small_fits, the basis of
_small_gemm_mid_max): the products of a digits step ([64, 128, 10], batch
32, whole and split in two row blocks), the shapes at the edges of the rule
and a few above its limit, with the path _gemm takes under the limits of
an AVX2 core (16384, 262144) and whether it was the faster one; then a
whole digits fit (Network.fit, [64, 128, 10], batch 32, Adam, shuffled,
float64 and float32) per epoch with the rule (limits (16384, 262144)) and
without it (16384, 16384: the limit before it), interleaved in one process.
Run it where those limits apply (OpenBLAS's Haswell kernel):

    OPENBLAS_CORETYPE=Haswell FASTBP_DISPATCH=avx2 python bench/bench_gemm_small.py --mid

``--narrow``: the narrow rule (NN and TN products above the mid limit with a
few AVX2 vectors of columns, _blas.pyx's _narrow_fits) on and off,
interleaved in one process (n_threads=None: every core): dense_forward at
batch 16-64, dense_backward at batch 8-16 and a [784, 256, 128, 10] Adam
train_step at batch 16, 32 and 64, float32 and float64; first the TN
region (W^T dZ with 1-2 vectors of columns, m 64-4096, k 32-2048, one
thread) by the span of W it walks.

``--nt32``: the mid-size rule's float32 NT products (NT with up to 8 rows at
any k, or with k <= 256 and a whole number of vectors of columns: dW = dZ
A^T of a small layer, digits' Z1 = W1 Xb^T) in the small kernel (the
default) and in OpenBLAS: first every NT shape the rule sends to the small
kernel from a grid (m 1-128, n 2-4000, k 16-4096, both dtypes; one thread,
small kernel / OpenBLAS), then,
interleaved in one process (n_threads=None), the products alone (one
thread), dense_backward, a [784, 256, 128, 10] Adam train_step at batch
32 and a digits fit per epoch, float32.

``--avx512``: the AVX-512 clone's mid-size rule on OpenBLAS's AVX-512 cores
(_blas.pyx's _mid512_fits): the clone over OpenBLAS, one thread each, on a
grid of NN, TN and NT products (M 16-512, N 1-16 vectors, K 10-2048; NT K
10-300), then Adam train_steps with the rule on and off, interleaved in one
process:

    python bench/bench_gemm_small.py --avx512

``--nt``: a network step's NT products (dW = dZ A^T, and W X with the
examples as rows) against the same product as NN on a transposed copy of B
(the copy made beforehand, not timed), through OpenBLAS and through the
small kernel, one thread. The step does not keep such copies: whole fits
gained nothing measurable with them (bench/RESULTS.md, 2026-12-01); this
table is what the idea rested on.
"""
import argparse
import os
import time

import numpy as np

from _timing import blas_info, compare  # bench/_timing.py (the script's directory is on sys.path)

from fastbp import _blas, _testing

# (label, trans_a, trans_b, M, N, K)
NET = [
    ("fwd1 Z1=W1 X", 0, 0, 4, 400, 2),
    ("fwd2 Z2=W2 A1", 0, 0, 1, 400, 4),
    ("bwd dW2=dZ2 A1^T", 0, 1, 1, 4, 400),
    ("bwd dA1=W2^T dZ2", 1, 0, 4, 400, 1),
    ("bwd dW1=dZ1 X^T", 0, 1, 4, 2, 400),
    ("fwd1 2-row panel", 0, 0, 2, 400, 2),
    ("bwd dW1 2-row panel", 0, 1, 2, 2, 400),
    ("bwd dA1 2-row panel", 1, 0, 2, 400, 1),
    ("fwd1 X given as X.T", 0, 1, 4, 400, 2),
]
WIDE = [(f"m=400 {kind} n={n}", ta, tb, M, N, K)
        for n in (8, 16, 24, 32, 48, 64)
        for kind, ta, tb, M, N, K in (("NN fwd", 0, 0, n, 400, n),
                                      ("NT dW", 0, 1, n, n, 400),
                                      ("TN dA", 1, 0, n, 400, n))]
MID = [(f"digits {name}", ta, tb, M, N, K)
       for rows in (128, 64)
       for name, ta, tb, M, N, K in (
           (f"Z1 = W1 Xb^T, {rows} rows", 0, 1, rows, 32, 64),
           (f"dW1 = dZ1 Xb, {rows} rows", 0, 0, rows, 64, 32),
           ("Z2 = W2 A1", 0, 0, 10 if rows == 128 else 5, 32, 128),
           ("dW2 = dZ2 A1^T", 0, 1, 10 if rows == 128 else 5, 128, 32),
           (f"dA1 = W2^T dZ2, {rows} rows", 1, 0, rows, 32, 10))] + [
    ("NN square 64", 0, 0, 64, 64, 64),
    ("NT few rows", 0, 1, 4, 4000, 16),
    ("NT long k", 0, 1, 10, 64, 400),
    ("NT long k, 16 rows", 0, 1, 16, 16, 1000),
    ("NN 4 columns", 0, 0, 64, 4, 1000),
    ("TN 7 columns", 1, 0, 20, 7, 1000),
    ("TT square 64", 1, 1, 64, 64, 64),
    ("NN above the limit", 0, 0, 64, 200, 32),
    ("NN above the limit", 0, 0, 128, 64, 64),
    ("NT above the limit", 0, 1, 128, 100, 64),
    ("TN above the limit", 1, 0, 200, 64, 64),
    # above the mid limit: the narrow-NN rule (_narrow_fits)
    ("narrow: forward Z = W A, batch 32", 0, 0, 128, 32, 784),
    ("narrow: batch 16, wide layer", 0, 0, 512, 16, 1024),
    ("narrow: batch 64, B 64 KiB in float32", 0, 0, 128, 64, 256),
    ("narrow: batch 64, k 784", 0, 0, 128, 64, 784),
    ("narrow: 20 columns (float32: padded edge)", 0, 0, 128, 20, 784),
    ("narrow: TN 32 columns, 4 KiB rows", 1, 0, 512, 32, 1024),
]
SQUARE = [(f"square {n}", ta, tb, n, n, n)
          for n in (4, 8, 12, 16, 24, 32, 40, 48, 64)
          for ta in (0, 1) for tb in (0, 1)]


def operands(ta, tb, M, N, K, dtype, rng):
    A = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
    B = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
    return A, B, np.zeros((M, N), dtype)


def time_shape(ta, tb, M, N, K, dtype, rng, repeats, min_block, work=20e-6):
    A, B, C = operands(ta, tb, M, N, K, dtype, rng)
    # ~work seconds per Python call so its overhead (~0.3 us) is < 2 %
    reps = max(1, int(work / max(M * N * K * 0.5e-9 / 4, 5e-8)))

    def run(path):
        return lambda: _testing.gemm(A, B, C, trans_a=bool(ta), trans_b=bool(tb),
                                  path=path, repeat=reps)

    t, reruns = compare([("small", run("small"), "scipy"), ("blas", run("blas"), "scipy")],
                        repeats=repeats, min_block=min_block)
    return t["small"] / reps, t["blas"] / reps, reruns


def header(limits):
    """OpenBLAS on one thread, and the lines that say what ran."""
    _blas._set_blas_num_threads(1)
    for line in blas_info():
        print(line)
    print(f"small kernel clone: {_blas.small_gemm_dispatch()}, {limits}, "
          f"load {os.getloadavg()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--min-block", type=float, default=0.02)
    ap.add_argument("--quick", action="store_true", help="[2,4,1] shapes only")
    ap.add_argument("--mid", action="store_true",
                    help="the mid-size rule's shapes (see the module docstring)")
    ap.add_argument("--narrow", action="store_true",
                    help="layer calls and train steps, narrow-NN rule on and off")
    ap.add_argument("--nt", action="store_true",
                    help="NT products against NN on a transposed copy (see the docstring)")
    ap.add_argument("--nt32", action="store_true",
                    help="float32 NT products in the small kernel on and off (see the docstring)")
    ap.add_argument("--avx512", action="store_true",
                    help="the AVX-512 clone's mid-size rule (see the docstring)")
    args = ap.parse_args()
    if args.avx512:
        return avx512(args)
    if args.nt32:
        return nt32(args)
    if args.mid:
        return mid(args)
    if args.narrow:
        return narrow(args)
    if args.nt:
        return nt(args)

    header(f"_gemm threshold m*n*k <= {_blas.small_gemm_max()}")
    rng = np.random.default_rng(0)
    groups = [("[2, 4, 1] network, m = 400", NET)]
    if not args.quick:
        groups += [("wider layers, m = 400", WIDE), ("square-ish", SQUARE)]
    wins = {np.float32: [], np.float64: []}
    total_reruns = 0
    for title, shapes in groups:
        print(f"\n### {title}: us per call (median)\n")
        print("| shape | op | M, N, K | m*n*k | dtype | small us | blas us | blas/small |")
        print("|---|---|---|---|---|---|---|---|")
        for label, ta, tb, M, N, K in shapes:
            for dtype in (np.float32, np.float64):
                ts, tbl, rr = time_shape(ta, tb, M, N, K, dtype, rng,
                                         args.repeats, args.min_block)
                total_reruns += rr
                mnk = M * N * K
                wins[dtype].append((mnk, ts < tbl, label))
                op = ("T" if ta else "N") + ("T" if tb else "N")
                print(f"| {label} | {op} | {M}, {N}, {K} | {mnk} | {np.dtype(dtype).name} "
                      f"| {ts * 1e6:.3f} | {tbl * 1e6:.3f} | {tbl / ts:.2f} |", flush=True)
    print(f"\nblocks re-run under outside load: {total_reruns}")
    for dtype, rows in wins.items():
        losses = sorted(mnk for mnk, win, _ in rows if not win)
        first_loss = losses[0] if losses else None
        safe = max((mnk for mnk, win, _ in rows
                    if win and (first_loss is None or mnk < first_loss)), default=0)
        print(f"{np.dtype(dtype).name}: small kernel won every shape up to m*n*k = {safe}; "
              f"smallest m*n*k where OpenBLAS won: {first_loss} "
              f"({[lab for mnk, win, lab in rows if not win and mnk == first_loss]})")


def mid(args):
    """The --mid table: both paths per shape, and the one _gemm takes."""
    limits = (16384, 262144)
    header(f"limits {limits} (this process's own: {_blas.small_gemm_max()}, "
           f"{_blas.small_gemm_mid_max()})")
    rng = np.random.default_rng(0)
    old = _testing.set_small_gemm_max(limits)
    try:
        picks = {np.float32: [], np.float64: []}
        print("\n| shape | op | M, N, K | m*n*k | dtype | small us | blas us "
              "| small / blas | _gemm takes | the faster? |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for label, ta, tb, M, N, K in MID:
            for dtype in (np.float32, np.float64):
                ts, tbl, _ = time_shape(ta, tb, M, N, K, dtype, rng,
                                        args.repeats, args.min_block, work=5e-4)
                take = _blas.small_gemm_path(ta, tb, M, N, K, dtype)
                best = "small" if ts < tbl else "blas"
                picks[dtype].append(((ts if take == "small" else tbl) / min(ts, tbl)))
                op = ("T" if ta else "N") + ("T" if tb else "N")
                print(f"| {label} | {op} | {M}, {N}, {K} | {M * N * K} "
                      f"| {np.dtype(dtype).name} | {ts * 1e6:.2f} | {tbl * 1e6:.2f} "
                      f"| {ts / tbl:.2f} | {take} | {'yes' if take == best else 'no'} |",
                      flush=True)
    finally:
        _testing.set_small_gemm_max(old)
    for dtype, r in picks.items():
        print(f"{np.dtype(dtype).name}: the rule's path was the faster on "
              f"{sum(x == 1.0 for x in r)} of {len(r)} shapes; at worst {max(r):.2f}x "
              "the faster path's time")
    fit_with_and_without(args.repeats, limits)


NT = [
    ("digits Z1 = W1 Xb^T", 128, 32, 64),
    ("digits Z1, 64 rows", 64, 32, 64),
    ("digits dW2 = dZ2 A1^T", 10, 128, 32),
    ("digits dW1 = dZ1 X^T (course layout)", 128, 64, 32),
    ("dW 10 x 128, batch 64", 10, 128, 64),
    ("square 32", 32, 32, 32),
    ("square 100", 100, 100, 100),
    ("dW 64 x 64, batch 200", 64, 64, 200),
    ("dW 256 x 128, batch 64", 256, 128, 64),
    ("dW 128 x 256, batch 200", 128, 256, 200),
]


def with_setting(setter, value, fn):
    """fn run with a process-wide _blas setting (a setter that returns the old
    value) set to value, and put back after."""
    def run():
        old = setter(value)
        try:
            fn()
        finally:
            setter(old)
    return run


def small_over_blas(rng, ta, tb, M, N, K, dtype, work, pairs, small="small"):
    """One product's small-kernel time over OpenBLAS's, one thread each: the
    median of ``pairs`` interleaved pairs of ``repeat`` calls (about ``work``
    multiply-adds per call of _testing.gemm). ``small``: "small" (the
    AVX2/baseline clone) or "small512" (the AVX-512 clone)."""
    A, B, C = operands(ta, tb, M, N, K, dtype, rng)
    reps = max(2, int(work / (M * N * K)))
    times = {small: [], "blas": []}
    for _ in range(pairs):
        for path, acc in times.items():
            t0 = time.perf_counter()
            _testing.gemm(A, B, C, trans_a=ta, trans_b=tb, path=path, repeat=reps)
            acc.append(time.perf_counter() - t0)
    return float(np.median(times[small]) / np.median(times["blas"]))


def avx512(args):
    """The --avx512 tables: the AVX-512 clone over OpenBLAS, one thread each,
    on a grid of NN, TN and NT shapes (the basis of _blas.pyx's
    _mid512_fits), then [784, 256, 128, 10] Adam train_steps (batch 64 and
    256, and digits' [64, 128, 10] at 32) with the rule on and off,
    interleaved in one process (n_threads=2)."""
    if not _testing.avx512_clone():
        print("the small kernel's AVX-512 clone does not run here (CPU or FASTBP_DISPATCH)")
        return
    header(f"AVX-512 mid-size rule on by default: {_blas.small_gemm_mid512()}")
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        vn = 64 // np.dtype(dtype).itemsize
        for op, ta, tb in (("NN", 0, 0), ("TN", 1, 0), ("NT", 0, 1)):
            Ks = ((10, 16, 32, 64, 128, 200, 256, 300) if tb
                  else (10, 32, 64, 128, 256, 512, 1024, 2048))
            print(f"\n### {op}, {np.dtype(dtype).name}: AVX-512 clone time / OpenBLAS's\n")
            print("| M | N | " + " | ".join(f"K {k}" for k in Ks) + " |")
            print("|---|---|" + "---|" * len(Ks))
            for M in (16, 64, 128, 256, 512):
                for N in (vn, 2 * vn, 3 * vn, 4 * vn, 8 * vn, 16 * vn):
                    r = [small_over_blas(rng, ta, tb, M, N, K, dtype, 4e6, 5, "small512")
                         for K in Ks]
                    print(f"| {M} | {N} | " + " | ".join(f"{x:.2f}" for x in r) + " |",
                          flush=True)
    _blas._set_blas_num_threads(2)
    from fastbp.network import Network
    from fastbp.optim import Adam
    print("\n### train_step, Adam, 2 threads: us per step, rule on / off\n")
    print("| layers | batch | dtype | on us | off us | on / off |")
    print("|---|---|---|---|---|---|")
    for dims, m in (([784, 256, 128, 10], 64), ([784, 256, 128, 10], 256),
                    ([64, 128, 10], 32)):
        for dtype in (np.float32, np.float64):
            X = rng.standard_normal((dims[0], m)).astype(dtype)
            y = rng.integers(0, dims[-1], m)
            nets = {on: (Network(dims, "relu", "softmax", dtype=dtype, seed=0, n_threads=2),
                         Adam(1e-3)) for on in (True, False)}

            def step(on):
                net, opt = nets[on]
                return with_setting(_blas._set_mid512, on, lambda: net.train_step(X, y, opt))
            t, _ = compare([("on", step(True), "scipy"), ("off", step(False), "scipy")],
                           repeats=args.repeats, min_block=0.05)
            print(f"| {dims} | {m} | {np.dtype(dtype).name} | {t['on'] * 1e6:.1f} "
                  f"| {t['off'] * 1e6:.1f} | {t['on'] / t['off']:.3f} |", flush=True)


def nt(args):
    """The --nt table: C (M, N) = A B^T as NT, and as NN on B^T stored."""
    header(f"limits ({_blas.small_gemm_max()}, {_blas.small_gemm_mid_max()})")
    rng = np.random.default_rng(0)
    print("\n| product | M, N, K | dtype | NT OpenBLAS us | NN OpenBLAS us | NT small us "
          "| NN small us | _gemm's NT path / its NN path |")
    print("|---|---|---|---|---|---|---|---|")
    for label, M, N, K in NT:
        for dtype in (np.float64, np.float32):
            A = rng.standard_normal((M, K)).astype(dtype)
            B = rng.standard_normal((N, K)).astype(dtype)
            Bt, C = np.ascontiguousarray(B.T), np.zeros((M, N), dtype)
            reps = max(1, int(5e-4 / max(M * N * K * 0.5e-9 / 4, 5e-8)))

            def run(path, nn):
                if nn:
                    return lambda: _testing.gemm(A, Bt, C, path=path, repeat=reps)
                return lambda: _testing.gemm(A, B, C, trans_b=True, path=path, repeat=reps)
            cands = [(f"{op} {path}", run(path, op == "NN"), "scipy")
                     for path in ("blas", "small") for op in ("NT", "NN")]
            t, _ = compare(cands, repeats=args.repeats, min_block=args.min_block)
            us = {k: v / reps * 1e6 for k, v in t.items()}
            auto = {op: _blas.small_gemm_path(0, op == "NT", M, N, K, dtype) for op in ("NT", "NN")}
            ratio = us[f"NT {auto['NT']}"] / us[f"NN {auto['NN']}"]
            print(f"| {label} | {M}, {N}, {K} | {np.dtype(dtype).name} | {us['NT blas']:.2f} "
                  f"| {us['NN blas']:.2f} | {us['NT small']:.2f} | {us['NN small']:.2f} "
                  f"| {ratio:.2f} |", flush=True)


def fit_with_and_without(repeats, limits):
    """A digits fit per epoch, the mid-size rule on and off (one process)."""
    from sklearn.datasets import load_digits

    from fastbp.network import Network
    from fastbp.optim import Adam
    X, y = load_digits(return_X_y=True)
    X, y = (X / 16.0)[:1347].T, y[:1347]
    arms = (("with the rule", limits), ("without", (limits[0], limits[0])))
    print("\n| dtype | ms/epoch with the mid-size rule | without | without / with |")
    print("|---|---|---|---|")
    for dtype in (np.float64, np.float32):
        Xd = np.asfortranarray(X, dtype=dtype)
        times = {name: [] for name, _ in arms}
        for _ in range(repeats):
            for name, lim in arms:
                old = _testing.set_small_gemm_max(lim)
                try:
                    net = Network([64, 128, 10], "relu", "softmax", dtype=dtype, seed=0)
                    fit = dict(batch_size=32, optimizer=Adam(1e-3), shuffle=True, seed=0,
                               verbose=False)
                    net.fit(Xd, y, epochs=2, **fit)          # warm-up: workspaces, threads
                    t = time.perf_counter()
                    net.fit(Xd, y, epochs=20, **fit)
                    times[name].append((time.perf_counter() - t) / 20)
                finally:
                    _testing.set_small_gemm_max(old)
        w, wo = (1e3 * float(np.median(times[name])) for name, _ in arms)
        print(f"| {np.dtype(dtype).name} | {w:.3f} | {wo:.3f} | {wo / w:.2f}x |", flush=True)


def narrow(args):
    """The --narrow table: layer calls and train steps, the rule on and off."""
    import fastbp
    from fastbp.network import Network
    from fastbp.optim import Adam
    cap = _blas.small_gemm_narrow_max()
    header(f"narrow limit {cap}")       # OpenBLAS on one thread for the TN region
    if cap == 0:
        print("the narrow rule is off on this core (OpenBLAS AVX-512 kernel or no AVX2 "
              "clone): nothing to compare")
        return

    def arm(on, fn):
        return with_setting(_blas._set_small_gemm_narrow_max, cap if on else 0, fn)

    rng = np.random.default_rng(0)
    # the TN half's region: W^T dZ with 1-2 vectors of columns, contiguous W,
    # one thread, small kernel / OpenBLAS (medians of 5 pairs), by the span of
    # W's rows the product walks (k lda elements)
    rows = []
    for dt in (np.float32, np.float64):
        vec, isz = (8, 4) if dt == np.float32 else (4, 8)
        for M in (64, 128, 300, 784, 1024, 2048, 4096):
            for K in (32, 64, 128, 256, 512, 1024, 2048):
                for nv in (1, 2):
                    N = nv * vec
                    if not _blas.small_gemm_mid_max() < M * N * K <= cap \
                            or M * K * isz > 16 * 2 ** 20:
                        continue
                    r = small_over_blas(rng, True, False, M, N, K, dt, 5e6, 5)
                    rows.append((M * K * isz, r,
                                 f"{np.dtype(dt).name} {M} x {N} x {K}",
                                 _blas.small_gemm_path(1, 0, M, N, K, dt)))
    print("\n| W^T dZ, 1-2 vectors, one thread: span of W | shapes | small / OpenBLAS "
          "median | worst | _gemm takes |")
    print("|---|---|---|---|---|")
    for lo, hi in ((0, 2), (2, 4), (4, 16)):
        sel = sorted((r for r in rows if lo * 2 ** 20 < r[0] <= hi * 2 ** 20),
                     key=lambda r: r[1])
        if sel:
            print(f"| {lo}-{hi} MiB | {len(sel)} | {np.median([r[1] for r in sel]):.2f} "
                  f"| {sel[-1][1]:.2f} ({sel[-1][2]}) | "
                  f"{', '.join(sorted({r[3] for r in sel}))} |", flush=True)
    nt = fastbp.effective_n_threads(None)
    print(f"\n| call ({nt} threads) | dtype | rule on ms | off ms | off / on |")
    print("|---|---|---|---|---|")
    for dtype in (np.float32, np.float64):
        cases = []
        for p_, n, m in ((256, 256, 16), (256, 256, 32), (784, 256, 32), (1024, 1024, 32),
                         (256, 256, 64)):
            A = rng.standard_normal((p_, m)).astype(dtype)
            W = (rng.standard_normal((n, p_)) / np.sqrt(p_)).astype(dtype)
            b = rng.standard_normal((n, 1)).astype(dtype)
            out = (np.empty((n, m), dtype), np.empty((n, m), dtype))
            cases.append((f"dense_forward {p_}, {n}, {m}",
                          lambda A=A, W=W, b=b, out=out:
                          fastbp.dense_forward(A, W, b, "relu", out=out)))
        for p_, n, m in ((256, 256, 8), (256, 256, 16), (784, 256, 16), (1024, 1024, 8)):
            # W^T dZ: TN with 1-2 vectors of columns (the TN half of the rule)
            A = np.maximum(rng.standard_normal((p_, m)), 0).astype(dtype)
            W = (rng.standard_normal((n, p_)) / np.sqrt(p_)).astype(dtype)
            dZ = rng.standard_normal((n, m)).astype(dtype)
            cases.append((f"dense_backward {p_}, {n}, {m}",
                          lambda A=A, W=W, dZ=dZ: fastbp.dense_backward(dZ, A, W, "relu")))
        for m in (16, 32, 64):
            X = rng.standard_normal((784, m)).astype(dtype)
            y = rng.integers(0, 10, m)
            net = Network([784, 256, 128, 10], "relu", "softmax", dtype=dtype, seed=0)
            opt = Adam(1e-3)
            cases.append((f"train_step [784, 256, 128, 10] b{m} Adam",
                          lambda net=net, X=X, y=y, opt=opt: net.train_step(X, y, opt)))
        for label, fn in cases:
            t, _ = compare([("on", arm(True, fn), "scipy"), ("off", arm(False, fn), "scipy")],
                           repeats=args.repeats)
            print(f"| {label} | {np.dtype(dtype).name} | {t['on'] * 1e3:.4f} "
                  f"| {t['off'] * 1e3:.4f} | {t['off'] / t['on']:.3f} |", flush=True)


def nt32(args):
    """The --nt32 table: float32 NT in the small kernel (on) or OpenBLAS (off)."""
    import fastbp
    from fastbp.network import Network
    from fastbp.optim import Adam
    header(f"limits ({_blas.small_gemm_max()}, {_blas.small_gemm_mid_max()})")
    if _blas.small_gemm_path(0, 1, 128, 32, 64, np.float32) != "small":
        print("the mid-size rule is off on this core (OpenBLAS AVX-512 kernel or no AVX2 "
              "clone): nothing to compare")
        return

    def arm(on, fn):
        return with_setting(_blas._set_small_nt_float32, on, fn)

    rng = np.random.default_rng(0)
    # the region: every NT shape the rule sends to the small kernel in the
    # mid range, one thread, small kernel / OpenBLAS (medians of 7 pairs)
    ratios = []
    for dt in (np.float32, np.float64):
        for M in (1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 32, 64, 128):
            for N in (2, 4, 6, 8, 12, 16, 24, 32, 64, 128, 256, 1000, 4000):
                for K in (16, 32, 64, 128, 256, 300, 1000, 4096):
                    if not 16384 < M * N * K <= _blas.small_gemm_mid_max() \
                            or _blas.small_gemm_path(0, 1, M, N, K, dt) != "small":
                        continue
                    r = small_over_blas(rng, False, True, M, N, K, dt, 2e6, 7)
                    ratios.append((r, M <= 8,
                                   f"{np.dtype(dt).name} {M} x {N} x {K}"))
    print("\n| the rule's NT shapes, one thread | shapes | small / OpenBLAS median "
          "| 10th-90th percentile | worst three |")
    print("|---|---|---|---|---|")
    for few, label in ((True, "up to 8 rows, any k"), (False, "more rows, k <= 256")):
        sel = sorted((x, s) for x, f, s in ratios if f == few)
        r = [x for x, _ in sel]
        if r:
            print(f"| {label} | {len(r)} | {np.median(r):.2f} | {np.percentile(r, 10):.2f}-"
                  f"{np.percentile(r, 90):.2f} | "
                  f"{', '.join(f'{s} {x:.2f}' for x, s in sel[-3:])} |", flush=True)
    dtype = np.float32
    cases = []
    for label, M, N, K in (("digits Z1 = W1 Xb^T", 128, 32, 64),
                           ("digits Z1, 64-row block", 64, 32, 64),
                           ("digits dW2 = dZ2 A1^T", 10, 128, 32),
                           ("dW of a 64 x 64 layer, batch 32", 64, 64, 32),
                           ("dW of a 256 x 128 layer, batch 8", 128, 256, 8)):
        A = rng.standard_normal((M, K)).astype(dtype)
        B = rng.standard_normal((N, K)).astype(dtype)
        C = np.zeros((M, N), dtype)
        reps = max(1, int(2e6 / (M * N * K)))
        cases.append((f"{label} ({M}, {N}, {K}), 1 thread, x{reps}",
                      lambda A=A, B=B, C=C, reps=reps:
                      _testing.gemm(A, B, C, trans_b=True, repeat=reps)))
    for n_prev, n, m in ((64, 64, 32), (128, 128, 16)):
        A = np.maximum(rng.standard_normal((n_prev, m)), 0).astype(dtype)
        W = (rng.standard_normal((n, n_prev)) / np.sqrt(n_prev)).astype(dtype)
        dZ = rng.standard_normal((n, m)).astype(dtype)
        cases.append((f"dense_backward {n_prev}, {n}, {m}",
                      lambda A=A, W=W, dZ=dZ: fastbp.dense_backward(dZ, A, W, "relu")))
    X = rng.standard_normal((784, 32)).astype(dtype)
    y = rng.integers(0, 10, 32)
    net = Network([784, 256, 128, 10], "relu", "softmax", dtype=dtype, seed=0)
    opt = Adam(1e-3)
    cases.append(("train_step [784, 256, 128, 10] b32 Adam",
                  lambda: net.train_step(X, y, opt)))
    from sklearn.datasets import load_digits
    Xd, yd = load_digits(return_X_y=True)
    Xd = np.asfortranarray((Xd / 16.0)[:1347].T, dtype=dtype)
    yd = yd[:1347]
    dnet = Network([64, 128, 10], "relu", "softmax", dtype=dtype, seed=0)
    dopt = Adam(1e-3)
    dnet.fit(Xd, yd, epochs=2, batch_size=32, optimizer=dopt, verbose=False)
    cases.append(("digits fit [64, 128, 10] b32 Adam, 5 epochs",
                  lambda: dnet.fit(Xd, yd, epochs=5, batch_size=32, optimizer=dopt,
                                   verbose=False)))
    nt = fastbp.effective_n_threads(None)
    print(f"\n| call ({nt} threads unless said) | small kernel ms | OpenBLAS ms "
          "| OpenBLAS / small |")
    print("|---|---|---|---|")
    for label, fn in cases:
        t, _ = compare([("on", arm(True, fn), "scipy"), ("off", arm(False, fn), "scipy")],
                       repeats=args.repeats)
        print(f"| {label} | {t['on'] * 1e3:.4f} | {t['off'] * 1e3:.4f} "
              f"| {t['off'] / t['on']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
