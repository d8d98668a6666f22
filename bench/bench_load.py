"""Small network steps on a busy machine: the team chooser vs a fixed team.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_load.py
    OPENBLAS_CORETYPE=Haswell FASTBP_DISPATCH=avx2 python bench/bench_load.py

A digits fit (scikit-learn's digits / 16, its first 1347 examples,
``Network([64, 128, 10])``, relu, softmax, Adam lr 1e-3, batch 32, shuffled
epochs: issue 15's case (a) without the estimator around it) while ``k``
other processes spin on the CPU (started by this script: ``while True:
pass``), for each of

* ``one thread``: ``n_threads=1``;
* ``team of two``: ``n_threads=2`` with the team fixed at two threads
  (``team_policy = 2``: every step on the team, as before the chooser);
* ``chooser``: ``n_threads=2`` as users get it (the team chooser of
  fastbp._network times the steps and runs them on one thread or two).

The three are interleaved (one fit each, in turn) and each one's median over
``--repeats`` fits is reported, per epoch. A fresh network per fit, so every
chooser starts from nothing. Run it on an otherwise quiet machine: the load is
the point, and it must be only the load this script makes.
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

from _timing import blas_info  # bench/_timing.py (the script's directory is on sys.path)

from fastbp.network import Network
from fastbp.optim import Adam

ARMS = ("one thread", "team of two", "chooser")


def _fit_time(X, y, dtype, arm, epochs):
    net = Network([64, 128, 10], "relu", "softmax", dtype=dtype, seed=0,
                  n_threads=1 if arm == "one thread" else 2)
    if arm == "team of two":
        net._kernel.team_policy = 2
    t = time.perf_counter()
    net.fit(X, y, epochs=epochs, batch_size=32, optimizer=Adam(1e-3), shuffle=True,
            seed=0, verbose=False)
    return (time.perf_counter() - t) / epochs, net._kernel.team_stats()


def _spinners(k):
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(k)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--loads", default="0,1,3",
                    help="numbers of spinning processes, comma-separated (default 0,1,3)")
    ap.add_argument("--quick", action="store_true", help="loads 0 and 1, 2 fits of 1 epoch")
    args = ap.parse_args(argv)
    loads = [int(k) for k in args.loads.split(",")]
    repeats, epochs = args.repeats, args.epochs
    if args.quick:
        loads, repeats, epochs = [0, 1], 2, 1
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    X, y = (X / 16.0)[:1347].T, y[:1347]
    for line in blas_info():
        print(line)
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")
    print()
    print("| other spinning processes | dtype | one thread ms/epoch | team of two ms/epoch "
          "| chooser ms/epoch | chooser: one thread, probes, switches (last fit) "
          "| team of two / chooser | chooser / one thread |")
    print("|---|---|---|---|---|---|---|---|")
    for k in loads:
        procs = _spinners(k)
        try:
            time.sleep(0.5 if k else 0.0)
            for dtype in (np.float64, np.float32):
                Xd = np.asfortranarray(X, dtype=dtype)
                for arm in ARMS:                 # warm-up: build, first-touch, threads
                    _fit_time(Xd[:, :256], y[:256], dtype, arm, 1)
                times = {a: [] for a in ARMS}
                last = {}
                for _ in range(repeats):
                    for arm in ARMS:
                        dt, stats = _fit_time(Xd, y, dtype, arm, epochs)
                        times[arm].append(dt)
                        last[arm] = stats
                med = {a: 1e3 * float(np.median(v)) for a, v in times.items()}
                st = last["chooser"].get("step")
                how = (f"{'yes' if st['one_thread'] else 'no'}, {st['probes']}, "
                       f"{st['switches']}" if st else "not timed (one block)")
                print(f"| {k} | {np.dtype(dtype).name} | {med['one thread']:.2f} | "
                      f"{med['team of two']:.2f} | {med['chooser']:.2f} | {how} | "
                      f"{med['team of two'] / med['chooser']:.2f}x | "
                      f"{med['chooser'] / med['one thread']:.2f}x |", flush=True)
        finally:
            for p in procs:
                p.kill()
                p.wait()


if __name__ == "__main__":
    main()
