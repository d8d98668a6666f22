"""Time per training step: fastbp vs plain NumPy vs PyTorch CPU, and the GEMM floor.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_train.py

Cases (float32): [784, 256, 128, 10] relu/softmax at batch 64 and 256,
[2, 4, 1] tanh/sigmoid at 400 (the planar network), [1024, 1024, 1024, 10]
relu/softmax at 512. For each: fastbp's ``train_step`` with SGD and with Adam;
the same network and update written in plain NumPy (fastbp._numpy_baseline.NumpyNetwork,
course style); PyTorch CPU eager (nn.Sequential + autograd + torch.optim,
skipped when torch is not installed); and the step's GEMM floor (its GEMMs
and nothing else, the better of whole BLAS-threaded GEMMs and the kernel's
row-split scheme). Candidates are interleaved in blocks (bench/_timing.py):
medians of >= 7 blocks, a sleep before switching BLAS copies, blocks seen
under outside load re-run.

The machine's peak is measured in the same run: a 2048 x 2048 x 2048 float32
GEMM through SciPy's OpenBLAS at the same thread count (``--peak-size``);
each fastbp step's rate is its GEMM arithmetic (forward, dW, and dA_prev of
every layer but the first: 2 n_in n_out m multiply-adds each) over its time,
reported as GFLOP/s and as a fraction of that peak.

Targets (issue 14; 2 threads, both OpenBLAS kernels): Adam ``train_step`` at
[784, 256, 128, 10] x 64 >= 4x faster than PyTorch's eager step with
torch.optim.Adam, with its fraction of peak reported; [1024, 1024, 1024, 10]
x 512 within 1.05x of its GEMM floor.
"""
import argparse
import time

import numpy as np

from _timing import blas_info, compare, peak_cands, step_flops  # bench/_timing.py (the script's directory is on sys.path)

from fastbp import _bench
from fastbp._numpy_baseline import NumpyNetwork, one_hot
from fastbp.network import Network
from fastbp.optim import SGD, Adam

CASES = [
    ([784, 256, 128, 10], "relu", "softmax", 64),
    ([784, 256, 128, 10], "relu", "softmax", 256),
    ([2, 4, 1], "tanh", "sigmoid", 400),
    ([1024, 1024, 1024, 10], "relu", "softmax", 512),
]


def torch_cands(dims, hidden, output, m, X, y, nt):
    try:
        import torch
    except ImportError:
        return []
    torch.set_num_threads(nt)
    act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[hidden]

    def build():
        layers = []
        for l in range(len(dims) - 1):
            layers.append(torch.nn.Linear(dims[l], dims[l + 1]))
            if l < len(dims) - 2:
                layers.append(act())
        return torch.nn.Sequential(*layers)

    Xt = torch.from_numpy(np.ascontiguousarray(X.T))
    if output == "softmax":
        crit = torch.nn.CrossEntropyLoss()
        yt = torch.from_numpy(y.astype(np.int64))
    else:
        crit = torch.nn.BCEWithLogitsLoss()
        yt = torch.from_numpy(y.reshape(m, 1).astype(np.float32))
    cands = []
    for name, make in (("sgd", lambda p: torch.optim.SGD(p, lr=0.01)),
                       ("adam", lambda p: torch.optim.Adam(p, lr=1e-3))):
        model = build()
        opt = make(model.parameters())

        def step(model=model, opt=opt):
            opt.zero_grad(set_to_none=True)
            loss = crit(model(Xt), yt)
            loss.backward()
            opt.step()

        cands.append((f"torch {name}", step, "torch"))
    return cands


def case_cands(dims, hidden, output, m, nt, rng):
    X = rng.standard_normal((dims[0], m)).astype(np.float32)
    if output == "softmax":
        y = rng.integers(0, dims[-1], m)
        Yd = one_hot(y, dims[-1])
        Yf = y
    else:
        y = (rng.random(m) > 0.5).astype(np.float32)
        Yd = y.reshape(1, m)
        Yf = Yd
    cands = []
    for name, make in (("sgd", lambda: SGD(0.01)), ("adam", lambda: Adam(1e-3))):
        net = Network(dims, hidden, output, seed=0, n_threads=nt)
        opt = make()
        cands.append((f"fastbp {name}", lambda net=net, opt=opt: net.train_step(X, Yf, opt),
                      "scipy"))
        base = NumpyNetwork(net, make())
        cands.append((f"numpy {name}", lambda base=base: base.step(X, Yd), "numpy"))
    cands += torch_cands(dims, hidden, output, m, X, y, nt)
    for mode in ("blas", "omp"):
        cands.append((f"floor {mode}",
                      lambda mode=mode: _bench.gemm_floor(dims, m, "float32", nt, 1, mode),
                      "scipy"))
    return cands


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="1 block of 20 ms per candidate (smoke run)")
    ap.add_argument("--case", type=int, action="append",
                    help="run only these case indices (0-3)")
    ap.add_argument("--peak-size", type=int, default=2048,
                    help="n of the n x n x n float32 GEMM that measures the peak")
    args = ap.parse_args(argv)
    repeats, min_block = (1, 0.02) if args.quick else (args.repeats, 0.05)
    nt = args.threads
    try:
        from threadpoolctl import threadpool_limits
        limits = threadpool_limits(limits=nt, user_api="blas")   # NumPy's own OpenBLAS
    except ImportError:
        limits = None
    print("fastbp train_step benchmark,", nt, "thread(s), float32")
    for line in blas_info():
        print("  " + line)
    try:
        import torch
        print(f"  torch {torch.__version__}, {nt} thread(s)")
    except ImportError:
        print("  torch not installed: PyTorch columns skipped (pip install torch==2.13.0)")
    n = 256 if args.quick else args.peak_size
    pmed, _ = compare(peak_cands(n), repeats=repeats, min_block=min_block)
    peak = 2.0 * n ** 3 / pmed["peak gemm float32"]
    print(f"  peak: {n} x {n} x {n} float32 GEMM, {peak / 1e9:.1f} GFLOP/s")
    rng = np.random.default_rng(0)
    rows = []
    for i, (dims, hidden, output, m) in enumerate(CASES):
        if args.case and i not in args.case:
            continue
        t0 = time.perf_counter()
        med, reruns = compare(case_cands(dims, hidden, output, m, nt, rng), repeats=repeats,
                              min_block=min_block)
        floor = min(med["floor blas"], med["floor omp"])
        rows.append((dims, m, med, floor, reruns))
        print(f"\n{dims} {hidden}/{output}, batch {m}  ({time.perf_counter() - t0:.0f} s, "
              f"{reruns} block(s) re-run for outside load)")
        print(f"  {'':14s} {'us/step':>10s} {'vs fastbp':>10s}")
        for k in ("fastbp sgd", "fastbp adam", "numpy sgd", "numpy adam", "torch sgd",
                  "torch adam", "floor blas", "floor omp"):
            if k in med:
                opt = k.split()[1]
                ref = med.get(f"fastbp {opt}", med["fastbp sgd"])
                print(f"  {k:14s} {med[k] * 1e6:10.1f} {med[k] / ref:9.2f}x")
        print(f"  fastbp sgd / GEMM floor: {med['fastbp sgd'] / floor:.2f}x   "
              f"fastbp adam / GEMM floor: {med['fastbp adam'] / floor:.2f}x")
        fl = step_flops(dims, m)
        for opt in ("sgd", "adam"):
            rate = fl / med[f"fastbp {opt}"]
            print(f"  fastbp {opt}: {rate / 1e9:.1f} GFLOP/s of GEMM arithmetic, "
                  f"{rate / peak:.0%} of the measured peak")

    print("\nsummary (speed-ups of fastbp; floor ratio = fastbp time / GEMM floor)")
    print(f"(peak: {n}^3 float32 GEMM, {peak / 1e9:.1f} GFLOP/s)")
    print("| case | batch | vs NumPy SGD | vs NumPy Adam | vs torch SGD | vs torch Adam "
          "| SGD / floor | Adam / floor | Adam GFLOP/s | Adam % of peak |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for dims, m, med, floor, _ in rows:
        def r(a, b):
            return f"{med[a] / med[b]:.2f}x" if a in med and b in med else "n/a"
        print(f"| {dims} | {m} | {r('numpy sgd', 'fastbp sgd')} | {r('numpy adam', 'fastbp adam')}"
              f" | {r('torch sgd', 'fastbp sgd')} | {r('torch adam', 'fastbp adam')}"
              f" | {med['fastbp sgd'] / floor:.2f}x | {med['fastbp adam'] / floor:.2f}x"
              f" | {step_flops(dims, m) / med['fastbp adam'] / 1e9:.1f}"
              f" | {step_flops(dims, m) / med['fastbp adam'] / peak:.0%} |")
    if limits is not None:
        limits.restore_original_limits()


if __name__ == "__main__":
    main()
