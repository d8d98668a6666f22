"""A whole ``fit`` of a few epochs: fastbp vs scikit-learn vs a plain PyTorch loop.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_fit.py
    OPENBLAS_CORETYPE=Haswell FASTBP_DISPATCH=avx2 python bench/bench_fit.py   # the AVX2 path

Cases, each in float64 and float32, Adam (lr 1e-3, the course's/scikit-learn's
betas), shuffled epochs, no L2, relu hidden layers and a softmax output:

* scikit-learn's digits, [64, 128, 10], batch 32, on its 1347-example
  training split (43 mini-batches per epoch);
* make_classification, 20000 x 784, 10 classes, hidden (256, 128), batch 200.

Every candidate but PyTorch's starts from new parameters and a new optimizer
in each timed call (``fastbp``: ``reset_parameters`` and a new ``Adam``, about
0.14 ms; scikit-learn: a new estimator), so each times the same first epochs.

Columns: ``fastbp`` (``Network.fit``: one compiled call per epoch),
``fastbp/batch`` (the same fit stepping batch by batch through
``train_batch``, the loop the epoch call replaced), ``sklearn``
(``MLPClassifier(solver="adam")`` with the same network, batch, epochs and
learning rate, ``alpha=0``, no early stopping), ``torch`` (a plain PyTorch
loop: ``randperm``, a gathered batch, ``CrossEntropyLoss``, ``torch.optim.Adam``;
skipped when torch is not importable) and ``GEMM floor``: the sum of the
epoch's GEMMs (every mini-batch's forward and backward products, the last
smaller batch included) through ``fastbp._bench.gemm_floor``, the better of
whole BLAS-threaded GEMMs and the kernel's row-split scheme. Times are per
epoch; candidates are interleaved in blocks (bench/_timing.py).

The machine's peak in each dtype is measured in the same run (an n x n x n
GEMM through SciPy's OpenBLAS, ``--peak-size``), and each case reports the
rate of its GEMM floor as a fraction of it, and the epoch time 15x
scikit-learn would take, against the floor: a target below the floor asks
for the GEMMs to run faster than OpenBLAS and fastbp's row split run them.

Targets (issue 14; 2 threads, both OpenBLAS kernels): digits float64 epoch
within 1.5x of its GEMM floor and >= 15x faster than scikit-learn.
"""
import argparse
import os
import time
import warnings

import numpy as np

from _timing import blas_info, compare, peak_cands, step_flops  # bench/_timing.py (the script's directory is on sys.path)

from fastbp import _bench, _fit
from fastbp.network import Network
from fastbp.optim import Adam


def cpu_line():
    model, avx512 = "?", False
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "?":
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    avx512 = " avx512f" in line
                    break
    except OSError:
        pass
    return f"{model}, avx512f: {'yes' if avx512 else 'no'}"


def load_case(name, quick):
    """(X_rows (m, n_x) C-order float64, y int64, layer_dims, batch)."""
    if name == "digits":
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        d = load_digits()
        X, _, y, _ = train_test_split(d.data / 16.0, d.target, test_size=0.25, random_state=0)
        return np.ascontiguousarray(X), y.astype(np.int64), [64, 128, 10], 32
    from sklearn.datasets import make_classification
    m = 1000 if quick else 20000
    X, y = make_classification(n_samples=m, n_features=784, n_informative=64, n_classes=10,
                               random_state=0)
    return np.ascontiguousarray(X), y.astype(np.int64), [784, 256, 128, 10], 200


def fastbp_cands(X, y, dims, bs, epochs, nt, dtype):
    Xt = X.astype(dtype).T                    # examples as rows: passed without a copy
    cands = []
    for name, per_batch in (("fastbp", False), ("fastbp/batch", True)):
        net = Network(dims, "relu", "softmax", dtype=dtype, seed=0, n_threads=nt)
        stepper = _fit.LocalStepper(net, per_batch=per_batch)

        def run(net=net, stepper=stepper):
            # a fresh start each call, as scikit-learn's candidate makes
            # (parameters drawn again, a new optimizer): a network trained on
            # across the blocks would be timed in later, other epochs
            net.reset_parameters(0)
            opt = Adam(1e-3)
            _fit.fit(net, stepper, Xt, y, epochs=epochs, batch_size=bs, optimizer=opt,
                     shuffle=True, seed=None, validation_data=None, verbose=False,
                     callback=None, checkpoint_path=None, checkpoint_every=1, resume=False,
                     sample_weight=None)
        cands.append((name, run, "scipy"))
    return cands


def sklearn_cands(X, y, dims, bs, epochs, dtype):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    Xd = X.astype(dtype)

    def run():
        clf = MLPClassifier(hidden_layer_sizes=tuple(dims[1:-1]), activation="relu",
                            solver="adam", alpha=0.0, batch_size=bs, learning_rate_init=1e-3,
                            max_iter=epochs, shuffle=True, random_state=0, tol=0.0,
                            n_iter_no_change=10**9, early_stopping=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(Xd, y)
    return [("sklearn", run, "numpy")]


def torch_cands(X, y, dims, bs, epochs, nt, dtype):
    try:
        import torch
    except ImportError:
        return []
    torch.set_num_threads(nt)
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    layers = []
    for l in range(len(dims) - 1):
        layers.append(torch.nn.Linear(dims[l], dims[l + 1]))
        if l < len(dims) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).to(tdt)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    crit = torch.nn.CrossEntropyLoss()
    Xt = torch.from_numpy(X.astype(dtype))
    yt = torch.from_numpy(y)
    m = Xt.shape[0]

    def run():
        for _ in range(epochs):
            perm = torch.randperm(m)
            for j in range(0, m, bs):
                idx = perm[j:j + bs]
                opt.zero_grad(set_to_none=True)
                loss = crit(model(Xt[idx]), yt[idx])
                loss.backward()
                opt.step()
    return [("torch", run, "torch")]


def floor_cands(dims, m, bs, epochs, nt, dtype):
    """The epoch's GEMMs: full batches and the last one timed apart (gemm_floor
    keeps buffers for one shape at a time), summed afterwards."""
    n_full, last = divmod(m, bs)
    dt = np.dtype(dtype).name
    cands = []
    for mode in ("blas", "omp"):
        cands.append((f"floor {mode} full", lambda mode=mode: _bench.gemm_floor(
            dims, bs, dt, nt, n_full * epochs, mode), "scipy"))
        if last:
            cands.append((f"floor {mode} last", lambda mode=mode: _bench.gemm_floor(
                dims, last, dt, nt, epochs, mode), "scipy"))
    return cands


def epoch_flops(dims, m, bs):
    """The GEMM arithmetic of one epoch: every full batch and the last one."""
    n_full, last = divmod(m, bs)
    return n_full * step_flops(dims, bs) + (step_flops(dims, last) if last else 0)


def floor_of(med, mode):
    return med[f"floor {mode} full"] + med.get(f"floor {mode} last", 0.0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--quick", action="store_true",
                    help="one epoch, 1 block of 20 ms not re-run under load, 1000 examples "
                         "in the large case (smoke run)")
    ap.add_argument("--case", choices=("digits", "large"), action="append",
                    help="run only these cases")
    ap.add_argument("--dtype", choices=("float64", "float32"), action="append",
                    help="run only these dtypes")
    ap.add_argument("--peak-size", type=int, default=2048,
                    help="n of the n x n x n GEMM that measures the peak of each dtype")
    args = ap.parse_args(argv)
    repeats, min_block = (1, 0.02) if args.quick else (args.repeats, 0.05)
    epochs = 1 if args.quick else args.epochs
    nt = args.threads
    try:
        from threadpoolctl import threadpool_limits
        limits = threadpool_limits(limits=nt, user_api="blas")   # NumPy's own OpenBLAS
    except ImportError:
        limits = None
    print(f"fastbp fit benchmark: {nt} thread(s), {epochs} epoch(s) per fit, Adam")
    print("  cpu: " + cpu_line())
    print(f"  FASTBP_DISPATCH={os.environ.get('FASTBP_DISPATCH', '(unset)')}")
    for line in blas_info():
        print("  " + line)
    try:
        import torch
        print(f"  torch {torch.__version__}, {nt} thread(s)")
    except ImportError:
        print("  torch not installed: its column is skipped (pip install torch==2.13.0)")
    cols = ("fastbp", "fastbp/batch", "sklearn", "torch")
    dtypes = args.dtype or ("float64", "float32")
    n_peak = 256 if args.quick else args.peak_size
    peak = {}
    for dt in dtypes:
        pmed, _ = compare(peak_cands(n_peak, dt), repeats=repeats, min_block=min_block)
        peak[dt] = 2.0 * n_peak ** 3 / pmed[f"peak gemm {dt}"]
        print(f"  peak: {n_peak} x {n_peak} x {n_peak} {dt} GEMM, {peak[dt] / 1e9:.1f} GFLOP/s")
    rows = []
    for case in args.case or ("digits", "large"):
        X, y, dims, bs = load_case(case, args.quick)
        m = X.shape[0]
        for dtype in (np.dtype(d).type for d in dtypes):
            t0 = time.perf_counter()
            cands = (fastbp_cands(X, y, dims, bs, epochs, nt, dtype)
                     + sklearn_cands(X, y, dims, bs, epochs, dtype)
                     + torch_cands(X, y, dims, bs, epochs, nt, dtype)
                     + floor_cands(dims, m, bs, epochs, nt, dtype))
            med, reruns = compare(cands, repeats=repeats, min_block=min_block,
                                  max_retries=1 if args.quick else 3)
            med = {k: v / epochs for k, v in med.items()}        # per epoch
            floor = min(floor_of(med, "blas"), floor_of(med, "omp"))
            n_batches = -(-m // bs)
            print(f"\n{case} {dims}, m={m}, batch {bs} ({n_batches} mini-batches), "
                  f"{np.dtype(dtype).name}  ({time.perf_counter() - t0:.0f} s, {reruns} "
                  "block(s) re-run for outside load)")
            print(f"  {'':14s} {'ms/epoch':>10s} {'vs fastbp':>10s}")
            for k in cols:
                if k in med:
                    print(f"  {k:14s} {med[k] * 1e3:10.3f} {med[k] / med['fastbp']:9.2f}x")
            print(f"  {'GEMM floor':14s} {floor * 1e3:10.3f} {floor / med['fastbp']:9.2f}x"
                  f"   (blas {floor_of(med, 'blas') * 1e3:.3f}, "
                  f"omp {floor_of(med, 'omp') * 1e3:.3f})")
            print(f"  fastbp / GEMM floor: {med['fastbp'] / floor:.2f}x   per-batch loop / "
                  f"epoch call: {med['fastbp/batch'] / med['fastbp']:.2f}x")
            dt = np.dtype(dtype).name
            fl, pk = epoch_flops(dims, m, bs), peak[dt]
            print(f"  GEMM arithmetic {fl / 1e6:.1f} MFLOP/epoch: the floor runs it at "
                  f"{fl / floor / 1e9:.1f} GFLOP/s, {fl / floor / pk:.0%} of the {dt} peak "
                  f"({pk / 1e9:.1f}); fastbp's epoch at {fl / med['fastbp'] / pk:.0%}")
            if case == "digits" and "sklearn" in med:     # issue 14's target is on digits
                need = med["sklearn"] / 15
                print(f"  15x scikit-learn needs <= {need * 1e3:.3f} ms/epoch: "
                      f"{need / floor:.2f}x the GEMM floor, the epoch at "
                      f"{fl / need / pk:.0%} of peak")
            rows.append((case, dims, bs, dt, med, floor, fl / floor / pk))

    print("\nsummary (speed-ups of fastbp's fit; floor ratio = fastbp epoch / its GEMM floor)")
    print("| case | dtype | batch | fastbp ms/epoch | vs per-batch loop | vs scikit-learn "
          "| vs PyTorch | fastbp / GEMM floor | floor % of peak | 15x scikit-learn / floor |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for case, dims, bs, dt, med, floor, floor_peak in rows:
        def r(k, med=med):
            return f"{med[k] / med['fastbp']:.2f}x" if k in med else "n/a"
        print(f"| {case} {dims} | {dt} | {bs} | {med['fastbp'] * 1e3:.3f} | "
              f"{r('fastbp/batch')} | {r('sklearn')} | {r('torch')} | "
              f"{med['fastbp'] / floor:.2f}x | {floor_peak:.0%} | "
              + (f"{med['sklearn'] / 15 / floor:.2f}x |"
                 if case == "digits" and "sklearn" in med else "n/a |"))
    if limits is not None:
        limits.restore_original_limits()


if __name__ == "__main__":
    main()
