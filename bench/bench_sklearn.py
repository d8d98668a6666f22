"""fit time of scikit-learn's MLP estimators vs fastbp.sklearn's, same parameters.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_sklearn.py
    python bench/bench_sklearn.py --quick          # smoke run (small data, 1 repeat)

Cases (issue 15), each in float64 and float32:
  (a) load_digits (X / 16), MLPClassifier(hidden_layer_sizes=(128,), batch_size=32),
      adam, 30 epochs;
  (b) make_classification 20000 x 784, (256, 128), batch 200, adam, 3 epochs;
  (c) MLPRegressor on make_regression 20000 x 100, (64, 64), batch 200, adam, 10 epochs;
  (d) lbfgs on digits, (128,), max_iter=200;
  (e) only with --cases e: the data of (b), (1024,), the whole training split
      as one batch, adam, 3 epochs (few, large steps: the team chooser's start).
  (f), (g), (h) only when named in --cases: sparse CSR input (the network's
      sparse first-layer kernel), text-like: 4000 x 20000 at density 0.002
      (~40 entries an example), 10 classes from a sparse linear model:
      (f) lbfgs, (100,), max_iter 50; (g) adam, (64,), batch 200, 3 epochs;
      (h) 5000 x 100000 at density 0.0005, sgd, (64,), batch 200, 1 epoch.
Both estimators get the same parameters and ``random_state`` and ``tol=0`` (so
stochastic fits run exactly ``max_iter`` epochs); each case reports the median
fit time of ``--repeats`` interleaved runs (scikit-learn, fastbp, scikit-learn,
...; a pause before each switch, as the two use different BLAS copies),
the speed-up, and the held-out accuracy / R^2 of both (25% test split).
Targets: >= 10x on (a) and (d), >= 3x on (b) and (c), scores within 0.5 points.

Each row also gives the fit's GEMM arithmetic (forward and backward products
of every mini-batch; for lbfgs of every whole-set evaluation SciPy asked for)
and the fraction of the machine's peak, in the row's dtype, that the fit's
GEMMs would have to run at to meet the target: the peak is a large GEMM
through SciPy's OpenBLAS measured in the same run (``--peak-size``). Above
~80% the target asks for GEMMs faster than OpenBLAS's with nothing else in
the fit. For lbfgs the time SciPy's L-BFGS-B spends outside the objective
(``scipy.optimize.minimize``'s time minus the objective's, measured in both
libraries' fits: they run the same SciPy code on the same number of
parameters) is taken off the target's time first: the evaluations get only
what is left.

scikit-learn's fit runs in NumPy's OpenBLAS, fastbp's in SciPy's: threads
are left at their defaults (all cores) for both; ``--threads N`` caps both
(threadpoolctl for the BLAS, ``n_threads`` for fastbp).
"""
import argparse
import contextlib
import statistics
import sys
import time
import warnings

import numpy as np

from _timing import blas_info, compare, peak_cands, step_flops  # bench/_timing.py (the script's directory is on sys.path)

try:
    import sklearn
    from sklearn import neural_network as sk_nn
    from sklearn.datasets import load_digits, make_classification, make_regression
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
except ImportError:
    sys.exit("bench_sklearn.py needs scikit-learn: pip install fastbp[sklearn]")

import fastbp
from fastbp import sklearn as fsk


def sparse_classification(n, d, density, seed=0):
    """A CSR X (n, d) of the given density (entries ~ U(0, 1), like tf-idf
    weights) and 10 classes from a random sparse linear model of it."""
    import scipy.sparse as sp
    rng = np.random.default_rng(seed)
    # a Generator: with an int seed (a RandomState) SciPy draws the positions
    # by a permutation of all n * d cells, 28 s for 4000 x 20000
    X = sp.random(n, d, density=density, format="csr", random_state=rng)
    w = rng.standard_normal((d, 10))
    y = np.argmax(X @ w + 0.1 * rng.standard_normal((n, 10)), axis=1)
    return X, y


def cases(quick):
    n_big = 2000 if quick else 20000
    digits_X, digits_y = load_digits(return_X_y=True)
    digits_X = digits_X / 16.0
    Xb, yb = make_classification(n_samples=n_big, n_features=784, n_informative=64,
                                 n_classes=10, random_state=0)
    Xc, yc = make_regression(n_samples=n_big, n_features=100, n_informative=50, noise=1.0,
                             random_state=0)
    yc = yc / np.std(yc)
    ea, eb, ec, ed = (3, 1, 2, 10) if quick else (30, 3, 10, 200)
    return [
        ("a", f"digits, (128,), batch 32, adam, {ea} epochs", "MLPClassifier", digits_X,
         digits_y, dict(hidden_layer_sizes=(128,), batch_size=32, max_iter=ea)),
        ("b", f"{n_big} x 784 classification, (256, 128), batch 200, adam, {eb} epochs",
         "MLPClassifier", Xb, yb,
         dict(hidden_layer_sizes=(256, 128), batch_size=200, max_iter=eb)),
        ("c", f"{n_big} x 100 regression, (64, 64), batch 200, adam, {ec} epochs",
         "MLPRegressor", Xc, yc, dict(hidden_layer_sizes=(64, 64), batch_size=200, max_iter=ec)),
        ("d", f"digits, (128,), lbfgs, max_iter {ed}", "MLPClassifier", digits_X, digits_y,
         dict(hidden_layer_sizes=(128,), solver="lbfgs", max_iter=ed)),
        ("e", f"{n_big} x 784 classification, (1024,), one batch of {n_big * 3 // 4}, adam, "
         f"{eb} epochs", "MLPClassifier", Xb, yb,
         dict(hidden_layer_sizes=(1024,), batch_size=n_big * 3 // 4, max_iter=eb)),
        ("f", "sparse 4000 x 20000 (density 0.002), (100,), lbfgs, max_iter 50",
         "MLPClassifier", *sparse_classification(4000, 20000, 0.002),
         dict(hidden_layer_sizes=(100,), solver="lbfgs", max_iter=5 if quick else 50)),
        ("g", "sparse 4000 x 20000 (density 0.002), (64,), batch 200, adam, 3 epochs",
         "MLPClassifier", *sparse_classification(4000, 20000, 0.002),
         dict(hidden_layer_sizes=(64,), batch_size=200, max_iter=1 if quick else 3)),
        ("h", "sparse 5000 x 100000 (density 0.0005), (64,), batch 200, sgd, 1 epoch",
         "MLPClassifier", *sparse_classification(5000, 100000, 0.0005),
         dict(hidden_layer_sizes=(64,), batch_size=200, max_iter=1, solver="sgd")),
    ]


class _OptimizerClock:
    """Times ``scipy.optimize.minimize`` and the objective it calls.

    Both scikit-learn's and fastbp's lbfgs call it through the module
    (``scipy.optimize.minimize``), so patching the module attribute reaches
    both. ``own`` is the optimizer's time outside the objective (L-BFGS-B's
    own code and SciPy's wrapper), ``nfev`` the objective's calls, per fit.
    """

    def __init__(self):
        self.own, self.nfev = [], []

    @contextlib.contextmanager
    def patched(self):
        import scipy.optimize
        orig = scipy.optimize.minimize

        def minimize(fun, x0, *args, **kwargs):
            inside = [0.0, 0]

            def timed(x, *a):
                t0 = time.perf_counter()
                try:
                    return fun(x, *a)
                finally:
                    inside[0] += time.perf_counter() - t0
                    inside[1] += 1
            t0 = time.perf_counter()
            res = orig(timed, x0, *args, **kwargs)
            self.own.append(time.perf_counter() - t0 - inside[0])
            self.nfev.append(inside[1])
            return res
        scipy.optimize.minimize = minimize
        try:
            yield self
        finally:
            scipy.optimize.minimize = orig


def run_case(kind, X, y, params, dtype, repeats, threads, pause=0.15):
    X = X.astype(dtype)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0)
    common = dict(params, random_state=0, tol=0.0)
    makers = {"scikit-learn": lambda: getattr(sk_nn, kind)(**common),
              "fastbp": lambda: getattr(fsk, kind)(n_threads=threads, **common)}
    times = {name: [] for name in makers}
    clocks = {name: _OptimizerClock() for name in makers}
    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # the warm-up's 200 examples are fewer than (e)'s batch (both clip it)
        warnings.filterwarnings("ignore", message="Got `batch_size`")
        for name, make in makers.items():          # warm-up (imports, first allocations)
            make().fit(X_tr[:200], y_tr[:200])
        for _ in range(repeats):
            for name, make in makers.items():
                time.sleep(pause)
                est = make()
                with clocks[name].patched():
                    t0 = time.perf_counter()
                    est.fit(X_tr, y_tr)
                    times[name].append(time.perf_counter() - t0)
                scores[name] = est.score(X_te, y_te)
    own = {name: statistics.median(c.own) if c.own else 0.0 for name, c in clocks.items()}
    nfev = clocks["fastbp"].nfev[-1] if clocks["fastbp"].nfev else 0
    return {name: statistics.median(t) for name, t in times.items()}, scores, est, own, nfev


TARGETS = {"a": 10.0, "b": 3.0, "c": 3.0, "d": 10.0}


def fit_flops(key, X, est, params, nfev):
    """GEMM arithmetic of the fastbp fit ``est`` on the 75% training split
    (lbfgs: ``nfev`` whole-set evaluations)."""
    if not isinstance(X, np.ndarray):
        return float("nan")      # sparse: the dense products' count means nothing here
    n = int(round(X.shape[0] * 0.75))
    dims = [X.shape[1], *params["hidden_layer_sizes"], est.n_outputs_]
    if params.get("solver") == "lbfgs":
        return nfev * step_flops(dims, n)
    bs = params["batch_size"]
    full, last = divmod(n, bs)
    return est.n_iter_ * (full * step_flops(dims, bs) + (step_flops(dims, last) if last else 0))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small data and 1 repeat (smoke run)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None,
                    help="cap BLAS and fastbp threads (default: all cores)")
    ap.add_argument("--cases", default="abcd",
                    help="subset of the cases a-h, e.g. 'ad' (default abcd)")
    ap.add_argument("--peak-size", type=int, default=2048,
                    help="n of the n x n x n GEMM that measures each dtype's peak")
    args = ap.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    print(f"fastbp {fastbp.__version__}, scikit-learn {sklearn.__version__}, "
          f"numpy {np.__version__}")
    for line in blas_info():
        print("  " + line)
    limiter = None
    if args.threads is not None:
        try:
            from threadpoolctl import threadpool_limits
            limiter = threadpool_limits(limits=args.threads, user_api="blas")
        except ImportError:
            print("  (threadpoolctl not installed: BLAS threads not capped)")
    n_peak = 256 if args.quick else args.peak_size
    peak = {}
    for dt in ("float64", "float32"):
        med, _ = compare(peak_cands(n_peak, dt), repeats=3 if args.quick else 5)
        peak[dt] = 2.0 * n_peak ** 3 / med[f"peak gemm {dt}"]
        print(f"  peak: {n_peak}^3 {dt} GEMM, {peak[dt] / 1e9:.1f} GFLOP/s")
    print(f"median of {repeats} interleaved fits; score = accuracy (classifier) or R^2 "
          "(regressor) on a 25% held-out split\n")
    header = ("| case | dtype | scikit-learn s | fastbp s | speed-up | score sklearn | "
              "score fastbp | GEMM GFLOP | L-BFGS-B's own s, sklearn / fastbp | "
              "target needs, % of peak |")
    print(header)
    print("|---|---|---|---|---|---|---|---|---|---|")
    try:
        for key, title, kind, X, y, params in cases(args.quick):
            if key not in args.cases:
                continue
            for dtype in (np.float64, np.float32):
                t, s, est, own, nfev = run_case(kind, X, y, params, dtype, repeats,
                                                args.threads)
                dt = np.dtype(dtype).name
                fl = fit_flops(key, X, est, params, nfev)
                lbfgs = params.get("solver") == "lbfgs"
                left = t["scikit-learn"] / TARGETS.get(key, 1.0) - own["fastbp"]
                need = ("no target" if key not in TARGETS else
                        f"{fl / left / peak[dt]:.0%}" if left > 0
                        else "none (the optimizer alone takes longer)")
                own_s = (f"{own['scikit-learn']:.3f} / {own['fastbp']:.3f}" if lbfgs
                         else "n/a")
                print(f"| ({key}) {title} | {dt} | {t['scikit-learn']:.3f} | "
                      f"{t['fastbp']:.3f} | {t['scikit-learn'] / t['fastbp']:.1f}x | "
                      f"{s['scikit-learn']:.4f} | {s['fastbp']:.4f} | {fl / 1e9:.2f} | "
                      f"{own_s} | {need} |", flush=True)
    finally:
        if limiter is not None:
            limiter.restore_original_limits()


if __name__ == "__main__":
    main()
