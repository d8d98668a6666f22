"""Team size of small network steps: epoch time at one thread vs two threads.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_team_size.py
    OPENBLAS_CORETYPE=Haswell FASTBP_DISPATCH=avx2 python bench/bench_team_size.py

Each network is fitted on scikit-learn's digits (1347 examples, Adam, batch
as listed) at ``n_threads=1`` and at ``n_threads=2`` with several values of
the kernel's ``min_flops_per_thread`` (a step runs on ``forward flops //
min_flops_per_thread`` threads at most), interleaved: median of blocks of 10
epochs. The ratio is one thread's time over two threads' (above 1: two
threads faster). This is the measurement behind the limits in
src/fastbp/_registry.pxd (NET_MIN_FLOPS_PER_THREAD_*), the same on every
OpenBLAS core since the small kernel took the Haswell core's small products
over (fastbp._network's docstring); the tables are in bench/RESULTS.md.
The two-thread runs keep their team (``team_policy = 2``):
left to itself, the kernel would time its steps and run them on one thread
where that is faster (bench/bench_load.py).
"""
import argparse
import time

import numpy as np

from fastbp.network import Network
from fastbp.optim import Adam

CASES = [([64, 128, 10], 32), ([64, 128, 10], 16), ([64, 256, 128, 10], 32)]
LIMITS = (2000000, 200000, 100000)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="one case, 2 blocks of 1 epoch")
    args = ap.parse_args(argv)
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    X, y = (X / 16.0)[:1347], y[:1347]
    cases = CASES[:1] if args.quick else CASES
    repeats, epochs = (2, 1) if args.quick else (args.repeats, 10)
    print("| network, batch | dtype | one thread ms/epoch | "
          + " | ".join(f"two threads, limit {t // 1000}k" for t in LIMITS) + " |")
    print("|---|---|---|" + "---|" * len(LIMITS))
    for dt in ("float64", "float32"):
        for dims, bs in cases:
            Xt = X.astype(dt).T
            nets = {}
            for key in [(1, None)] + [(2, t) for t in LIMITS]:
                net = Network(dims, "relu", "softmax", dtype=dt, n_threads=key[0], seed=0)
                if key[1] is not None:
                    net._kernel.min_flops_per_thread = key[1]
                    net._kernel.team_policy = 2      # the team, not the team chooser's pick
                opt = Adam(1e-3)
                net.fit(Xt, y, epochs=1, batch_size=bs, optimizer=opt, verbose=False)
                nets[key] = (net, opt)
            times = {k: [] for k in nets}
            for _ in range(repeats):
                for k, (net, opt) in nets.items():
                    t0 = time.perf_counter()
                    net.fit(Xt, y, epochs=epochs, batch_size=bs, optimizer=opt, verbose=False)
                    times[k].append((time.perf_counter() - t0) / epochs * 1e3)
            med = {k: float(np.median(v)) for k, v in times.items()}
            one = med[(1, None)]
            print(f"| {dims}, {bs} | {dt} | {one:.3f} | "
                  + " | ".join(f"{one / med[(2, t)]:.2f}x" for t in LIMITS) + " |", flush=True)


if __name__ == "__main__":
    main()
