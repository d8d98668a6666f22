"""What warming OpenBLAS's buffers is worth: fresh processes with and without it.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_warm.py

fastbp._blas touches the first pages of OpenBLAS's packing buffers before a
thread's first OpenBLAS call (the comment "OpenBLAS's buffers, warmed once"
in src/fastbp/_blas.pyx says why). That state lasts for the process, and a
larger product warms a buffer too, so each workload is timed alone in a
fresh process, as a program that runs only that workload would see it: each
round starts, per workload, one child process with the warm-up on and one
with it off (fastbp._blas._set_buffer_warmup), in alternating order, and
each child times its workload (median of blocks, bench/_timing.py). The
table gives, per workload, the median over rounds of each arm's time, their
ratio (off / on: above 1, the warm-up helps), and the first call's time in
each arm (the warm-up's one-time cost is in the "on" arm's first call).

Workloads (2 threads): fastbp.dense_backward and dense_forward (ReLU) at
(n_prev, n, m) = (256, 256, 64) and (512, 512, 256), and a Network
[784, 256, 128, 10] softmax Adam ``train_step`` at batch 64, each in float32
and float64.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

SHAPES = [(256, 256, 64), (512, 512, 256)]


def child(on, which, repeats):
    """Time workload ``which`` (None: print the workloads' names)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _timing import compare  # bench/_timing.py

    import fastbp
    from fastbp import _blas
    from fastbp.network import Network
    from fastbp.optim import Adam

    _blas._set_buffer_warmup(on)
    rng = np.random.default_rng(0)
    work = []
    for dt in (np.float32, np.float64):
        for n_prev, n, m in SHAPES:
            dZ = rng.standard_normal((n, m)).astype(dt)
            Ap = rng.standard_normal((n_prev, m)).astype(dt)
            W = rng.standard_normal((n, n_prev)).astype(dt)
            b = rng.standard_normal((n, 1)).astype(dt)
            work.append((f"dense_backward {n_prev},{n},{m} {np.dtype(dt).name}",
                         lambda dZ=dZ, Ap=Ap, W=W: fastbp.dense_backward(
                             dZ, Ap, W, "relu", Z_prev=Ap, n_threads=2)))
            work.append((f"dense_forward {n_prev},{n},{m} {np.dtype(dt).name}",
                         lambda Ap=Ap, W=W, b=b: fastbp.dense_forward(Ap, W, b, "relu",
                                                                      n_threads=2)))
        net = Network([784, 256, 128, 10], "relu", "softmax", dtype=np.dtype(dt).name,
                      seed=0, n_threads=2)
        X = rng.standard_normal((784, 64)).astype(dt)
        Y = np.eye(10, dtype=dt)[:, rng.integers(0, 10, 64)]
        opt = Adam(1e-3)
        work.append((f"train_step [784,256,128,10] b64 Adam {np.dtype(dt).name}",
                     lambda net=net, X=X, Y=Y, opt=opt: net.train_step(X, Y, opt)))
    if which is None:
        print(json.dumps([name for name, _ in work]))
        return
    name, fn = work[which]
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    med, _ = compare([(name, fn, "scipy")], repeats=repeats, min_block=0.05)
    print(json.dumps({"median": med[name], "first": first,
                      "warmups": _blas._warm_counts()[0]}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--child", choices=["on", "off"], help=argparse.SUPPRESS)
    ap.add_argument("--which", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child == "on", args.which, args.repeats)
        return
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _timing import blas_info
    print(blas_info())

    def run(arm, which):
        cmd = [sys.executable, os.path.abspath(__file__), "--child", arm,
               "--repeats", str(args.repeats)]
        if which is not None:
            cmd += ["--which", str(which)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    names = run("on", None)
    runs = {name: {"on": [], "off": []} for name in names}
    for r in range(args.rounds):
        for i, name in enumerate(names):
            for arm in (("on", "off") if (r + i) % 2 == 0 else ("off", "on")):
                runs[name][arm].append(run(arm, i))
        print(f"  round {r + 1} done; warm-up passes of the last 'on' child: "
              f"{runs[names[-1]]['on'][-1]['warmups']}", flush=True)
    print("\n| workload | warm-up on ms | off ms | off / on | first call on ms | "
          "first call off ms |")
    print("|---|---|---|---|---|---|")
    for name in names:
        on = np.median([x["median"] for x in runs[name]["on"]])
        off = np.median([x["median"] for x in runs[name]["off"]])
        f_on = np.median([x["first"] for x in runs[name]["on"]])
        f_off = np.median([x["first"] for x in runs[name]["off"]])
        print(f"| {name} | {on * 1e3:.4f} | {off * 1e3:.4f} | {off / on:.2f} | "
              f"{f_on * 1e3:.2f} | {f_off * 1e3:.2f} |")


if __name__ == "__main__":
    main()
