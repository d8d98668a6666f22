"""Command line: ``fastbp train``, ``fastbp info``.

``fastbp train`` with no arguments trains the course's week-3 network
(2 -> 4 tanh -> 1 sigmoid) on the planar "flower" data, then prints the
final accuracy, the time per epoch and the speed-up over the same training
loop written in plain NumPy, measured in the same run.
"""
import argparse
import os
import sys
import time

import numpy as np

__all__ = ["main"]

PLANAR_DEFAULTS = dict(layers="4,1", hidden="tanh", output="sigmoid", init="course",
                       epochs=10000, batch_size=None, lr=1.2, optimizer="sgd", seed=2)
DATA_DEFAULTS = dict(layers=None, hidden="relu", output=None, init="he", epochs=20,
                     batch_size=64, lr=None, optimizer="adam", seed=0)


class CLIError(Exception):
    """A user error: printed as 'fastbp: error: ...' with exit status 2."""


# ------------------------------------------------------------------- data

def _load_csv(path, label_column):
    with open(path, "r", encoding="utf-8-sig") as f:
        first = f.readline()
    delim = "," if "," in first else None
    fields = [s.strip() for s in (first.split(delim) if delim else first.split())]
    try:
        [float(s) for s in fields]
        header = None
    except ValueError:
        header = fields
    try:
        data = np.loadtxt(path, delimiter=delim, skiprows=1 if header else 0, ndmin=2,
                          encoding="utf-8-sig")
    except ValueError as exc:
        raise CLIError(f"cannot read {path!r} as numeric CSV: {exc}") from None
    ncol = data.shape[1]
    if label_column is None:
        idx = ncol - 1
    elif header is not None and label_column in header:
        idx = header.index(label_column)
    else:
        try:
            idx = int(label_column)
        except ValueError:
            raise CLIError(f"--label-column {label_column!r} is not a column name "
                           f"{header or '(the file has no header)'} nor an index") from None
        if idx < 0:
            idx += ncol
        if not 0 <= idx < ncol:
            raise CLIError(f"--label-column {label_column} is out of range for {ncol} columns")
    if ncol < 2:
        raise CLIError(f"{path!r} needs at least one feature column and a label column")
    y = data[:, idx]
    X = np.delete(data, idx, axis=1)
    return X.T, y            # course layout: examples as columns


def _load_npz(path):
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            xk = "X" if "X" in keys else ("x" if "x" in keys else None)
            yk = next((k for k in ("y", "Y", "labels") if k in keys), None)
            if xk is None or yk is None:
                raise CLIError(f"{path!r} must hold arrays 'X' and 'y'; it has {sorted(keys)}")
            X, y = z[xk], z[yk]
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot read {path!r}: {exc}") from None
    y = np.asarray(y)
    X = np.asarray(X)
    if X.ndim != 2:
        raise CLIError(f"X in {path!r} must be 2-D, got shape {X.shape}")
    m_rows, m_cols = X.shape
    n = y.size
    if y.ndim == 2 and y.shape[0] > 1 and y.shape[1] > 1:
        raise CLIError(f"y in {path!r} must be a vector of labels, got shape {y.shape}")
    y = y.reshape(-1)
    if m_rows == n and m_cols != n:
        return X.T, y        # scikit-learn layout (m, n_x)
    if m_cols == n:
        return X, y          # course layout (n_x, m)
    raise CLIError(f"X {X.shape} and y ({n},) in {path!r} disagree on the number of examples")


def _labels_kind(y, output):
    """(Y for the network, output, n_out, description)."""
    if output == "identity":
        return y.astype(np.float64).reshape(1, -1), "identity", 1, "regression"
    if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
        if output is None:
            return y.astype(np.float64).reshape(1, -1), "identity", 1, "regression"
        raise CLIError("the label column holds non-integer values; use --output identity "
                       "for regression")
    classes = np.unique(y)
    yi = np.searchsorted(classes, y).astype(np.int64)
    k = len(classes)
    if k < 2:
        raise CLIError(f"the labels hold a single class ({classes[0]}); nothing to learn")
    if output is None:
        output = "sigmoid" if k == 2 else "softmax"
    if output == "sigmoid":
        if k != 2:
            raise CLIError(f"--output sigmoid needs 2 classes, the labels have {k}; "
                           "use --output softmax")
        return yi.reshape(1, -1).astype(np.uint8), "sigmoid", 1, "2 classes"
    return yi, "softmax", k, f"{k} classes"


# ---------------------------------------------------------------- train

def _parse_layers(text, n_x, n_out):
    try:
        sizes = [int(s) for s in text.replace(" ", "").split(",") if s]
    except ValueError:
        raise CLIError(f"--layers must be comma-separated ints like 64,128,10; got {text!r}") \
            from None
    if not sizes or any(s < 1 for s in sizes):
        raise CLIError(f"--layers needs positive sizes, got {text!r}")
    if sizes[-1] != n_out:
        raise CLIError(f"--layers ends with {sizes[-1]} outputs but the labels need {n_out} "
                       f"(e.g. --layers {','.join(map(str, sizes[:-1] + [n_out]))})")
    return [n_x] + sizes


def _numpy_epoch_time(net, opt_factory, X, Y_dense, bs, epochs, budget):
    """Per-epoch time of the plain-NumPy loop, over at most `epochs` or `budget` seconds."""
    from fastbp._numpy_baseline import NumpyNetwork

    base = NumpyNetwork(net, opt_factory())
    m = X.shape[1]
    Xn = np.ascontiguousarray(X)
    batches = [(Xn[:, j:j + bs], Y_dense[:, j:j + bs]) for j in range(0, m, bs)]
    for xb, yb in batches[:2]:
        base.step(xb, yb)                       # warm-up
    done, t0 = 0, time.perf_counter()
    while done < epochs:
        for xb, yb in batches:
            base.step(xb, yb)
        done += 1
        if time.perf_counter() - t0 > budget:
            break
    return (time.perf_counter() - t0) / done, done


def _plot(path, net, X, Y, history, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    two_d = X.shape[0] == 2
    fig, axes = plt.subplots(1, 2 if two_d else 1, figsize=(11 if two_d else 6, 4.5))
    axes = np.atleast_1d(axes)
    if two_d:
        ax = axes[0]
        x0, x1 = X[0].min() - 1, X[0].max() + 1
        y0, y1 = X[1].min() - 1, X[1].max() + 1
        xx, yy = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
        grid = np.vstack([xx.ravel(), yy.ravel()]).astype(net.dtype)
        pred = net.predict(grid)
        zz = (pred if pred.ndim == 1 else pred[0]).reshape(xx.shape)
        ax.contourf(xx, yy, zz, cmap=plt.cm.Spectral, alpha=0.8)
        lab = Y.reshape(-1) if Y.ndim == 1 or Y.shape[0] == 1 else np.argmax(Y, axis=0)
        ax.scatter(X[0], X[1], c=lab, s=12, cmap=plt.cm.Spectral, edgecolors="k",
                   linewidths=0.3)
        ax.set_title(f"decision boundary: {title}")
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
    ax = axes[-1]
    ax.plot(np.arange(1, len(history["loss"]) + 1), history["loss"], label="training loss")
    if "val_loss" in history:
        ax.plot(np.arange(1, len(history["val_loss"]) + 1), history["val_loss"],
                label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title("loss curve")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cmd_train(args):
    if not args.distributed:
        return _train(args, None)
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise CLIError("--distributed needs mpi4py: pip install 'fastbp[mpi]' (mpi4py and "
                       "the mpich wheel), then e.g. mpiexec -n 2 fastbp train --distributed "
                       f"({exc})") from None
    from fastbp.distributed import RankFailedError, abort_on_error, is_collective_error, \
        mark_collective

    comm = MPI.COMM_WORLD
    # an error on one rank aborts every rank (never a hang); one that every
    # rank raised together is printed once, by rank 0
    with abort_on_error(comm):
        try:
            return _train(args, comm)
        except (CLIError, RankFailedError) as exc:
            if not is_collective_error(exc):
                raise
            if comm.Get_rank() == 0:
                sys.stderr.write(f"fastbp: error: {exc}\n")
            raise mark_collective(SystemExit(2)) from None


def _load_data(args, d):
    """(X, Y, output, n_out, desc, name) of the built-in data or --data."""
    if args.data is None:
        from fastbp.datasets import load_planar_dataset
        X, Y = load_planar_dataset()
        output = args.output or d["output"]
        if output != "sigmoid":
            raise CLIError("the planar data has 2 classes: use --output sigmoid (the default)")
        return X, Y, output, 1, "2 classes", "planar 'flower' data (course 1, week 3)"
    if not os.path.exists(args.data):
        raise CLIError(f"--data {args.data!r}: no such file")
    ext = os.path.splitext(args.data)[1].lower()
    if ext == ".csv" or ext == ".txt":
        X, y = _load_csv(args.data, args.label_column)
    elif ext == ".npz":
        X, y = _load_npz(args.data)
    else:
        raise CLIError(f"--data must be a .csv (features + a label column) or a .npz "
                       f"(arrays X and y); got {args.data!r}")
    Y, output, n_out, desc = _labels_kind(y, args.output)
    name = os.path.basename(args.data)
    if not args.no_standardize:
        mu = X.mean(axis=1, keepdims=True)
        sd = X.std(axis=1, keepdims=True)
        X = (X - mu) / np.where(sd > 0, sd, 1.0)
    return X, Y, output, n_out, desc, name


def _train(args, comm):
    """``fastbp train``; with an MPI ``comm``, data-parallel over its ranks."""
    from fastbp.network import Network
    from fastbp.optim import get_optimizer

    rank = 0 if comm is None else comm.Get_rank()
    size = 1 if comm is None else comm.Get_size()

    def say(*a, **k):
        if rank == 0:
            print(*a, **k)

    planar = args.data is None
    d = PLANAR_DEFAULTS if planar else DATA_DEFAULTS
    opt_name = args.optimizer or d["optimizer"]
    seed = d["seed"] if args.seed is None else args.seed
    err = None
    try:
        if args.plot and rank == 0:
            try:
                import matplotlib  # noqa: F401
            except ImportError:
                raise CLIError("--plot needs matplotlib: pip install matplotlib "
                               "(or pip install 'fastbp[plot]')") from None
        X, Y, output, n_out, desc, name = _load_data(args, d)
        layers_text = args.layers or d["layers"] or f"64,{n_out}"
        dims = _parse_layers(layers_text, X.shape[0], n_out)
        hidden = args.hidden or d["hidden"]
        hidden = hidden.split(",") if "," in hidden else hidden
        m = X.shape[1]
        epochs = d["epochs"] if args.epochs is None else args.epochs
        bs = args.batch_size or d["batch_size"] or m
        lr = args.lr if args.lr is not None else d["lr"]
        X = np.ascontiguousarray(X, dtype=args.dtype)

        def make_opt():
            return get_optimizer(opt_name, lr)

        try:
            net = Network(dims, hidden, output, init=args.init or d["init"], seed=seed,
                          dtype=args.dtype, n_threads=args.threads)
            opt = make_opt()
        except (TypeError, ValueError) as exc:
            raise CLIError(str(exc)) from None
    except CLIError as exc:
        if comm is None:
            raise
        err = exc
    if comm is not None:
        from fastbp.distributed import agree, default_n_threads
        agree(comm, err)                      # a setup error anywhere stops every rank
        nt = args.threads if args.threads is not None else default_n_threads(comm)
        threads = f"{size} process{'es' if size > 1 else ''} x {nt} thread(s)"
    else:
        threads = f"{net.effective_n_threads} thread(s)"
    say(f"data     {name}: {m} examples, {X.shape[0]} features, {desc}")
    say(f"network  {net}")
    say(f"training {epochs} epochs, batch {min(bs, m)}, {opt}, {threads}")
    if comm is not None and size == 1:
        say("note     --distributed on 1 process: start several with mpiexec -n N")
    quiet = args.quiet
    # the NumPy baseline starts from the same initial parameters
    init_params = net.flat_parameters.copy()
    t0 = time.perf_counter()
    history = net.fit(X, Y, epochs=epochs, batch_size=bs, optimizer=opt,
                      shuffle=bs < m, seed=seed, verbose=not quiet, comm=comm)
    fit_time = time.perf_counter() - t0
    per_epoch = fit_time / max(epochs, 1)
    if rank == 0:
        loss, acc = net.evaluate(X, Y)
        say(f"final    loss {loss:.4f}" + ("" if np.isnan(acc) else f"   accuracy {acc:.2%}"))
    say(f"fastbp   {per_epoch * 1e3:.3f} ms/epoch ({fit_time:.2f} s for {epochs} epochs, "
        f"fit loop included)")
    if comm is not None and epochs > 0:
        steps = epochs * -(-m // min(bs, m))
        ar = sum(t or 0.0 for t in history["allreduce_seconds"])
        nbytes = (net.n_params + 2) * net.dtype.itemsize
        say(f"allreduce {ar / steps * 1e6:.1f} us/step on rank 0 ({ar / fit_time:.0%} of the "
            f"time; {nbytes} bytes summed per step, waiting for slower ranks included)")
    if comm is not None:
        say("numpy    comparison skipped under --distributed")
    elif not args.no_compare and epochs > 0:
        time.sleep(0.12)            # let the other BLAS pool's threads settle
        trained = net.flat_parameters.copy()
        net.flat_parameters[...] = init_params
        if output == "softmax":
            from fastbp._numpy_baseline import one_hot
            Y_dense = one_hot(Y, n_out, dtype=net.dtype)
        else:
            Y_dense = np.asarray(Y, dtype=net.dtype).reshape(n_out, m)
        np_time, np_epochs = _numpy_epoch_time(net, make_opt, X, Y_dense, min(bs, m),
                                               epochs, args.compare_budget)
        net.flat_parameters[...] = trained
        print(f"numpy    {np_time * 1e3:.3f} ms/epoch (same network and update in plain "
              f"NumPy, {np_epochs} epochs timed)")
        print(f"speed-up {np_time / per_epoch:.1f}x over plain NumPy")
    if args.save and rank == 0:
        path = net.save(args.save, extra={"epoch": epochs, "history": history})
        say(f"saved    {path}")
    if args.plot and rank == 0:
        _plot(args.plot, net, X, Y, history, f"{list(net.layer_dims)} {hidden}")
        say(f"plot     {args.plot}")
    return 0


# ------------------------------------------------------------------- info

def cmd_info(args):
    from fastbp._config import show_config
    show_config()
    return 0


# ------------------------------------------------------------------- main

def build_parser():
    from fastbp.network import INITS, OUTPUTS
    from fastbp.optim import OPTIMIZER_NAMES

    parser = argparse.ArgumentParser(
        prog="fastbp", description="Fast fused backward passes for dense networks on the CPU.")
    sub = parser.add_subparsers(dest="command", metavar="{train,info}")

    t = sub.add_parser("train", help="train a network (default: the planar flower data)",
                       description="Train a dense network. With no arguments: the course's "
                       "2 -> 4 tanh -> 1 sigmoid network on the planar 'flower' data.")
    t.add_argument("--data", metavar="FILE",
                   help=".csv (features + a label column) or .npz (arrays X and y)")
    t.add_argument("--label-column", metavar="NAME|INDEX",
                   help="label column of a CSV (default: the last)")
    t.add_argument("--no-standardize", action="store_true",
                   help="do not standardise the features of --data")
    t.add_argument("--layers", metavar="N1,...,NL",
                   help="sizes after the input layer, output last (default planar: 4,1)")
    t.add_argument("--hidden", metavar="ACT", help="hidden activation(s), e.g. relu or tanh,relu")
    t.add_argument("--output", choices=tuple(OUTPUTS),
                   help="output layer (default from the labels)")
    t.add_argument("--init", choices=INITS)
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int, help="default: full batch for planar, 64 otherwise")
    t.add_argument("--lr", type=float, help="learning rate")
    t.add_argument("--optimizer", choices=OPTIMIZER_NAMES)
    t.add_argument("--threads", type=int, help="threads (default: all cores)")
    t.add_argument("--seed", type=int)
    t.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    t.add_argument("--save", metavar="PATH", help="write a checkpoint (.npz) at the end")
    t.add_argument("--plot", metavar="PNG",
                   help="decision boundary (2-D data) and loss curve; needs matplotlib")
    t.add_argument("--no-compare", action="store_true",
                   help="skip the plain-NumPy speed comparison")
    t.add_argument("--compare-budget", type=float, default=3.0, metavar="SECONDS",
                   help="time limit of the NumPy comparison run (default 3)")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    t.add_argument("--distributed", action="store_true",
                   help="data-parallel over MPI: run as mpiexec -n N fastbp train "
                   "--distributed (needs mpi4py: pip install 'fastbp[mpi]'); --batch-size "
                   "is the global batch, --threads is per process (default: the node's "
                   "cores shared among its processes)")
    t.set_defaults(func=cmd_train)

    i = sub.add_parser("info", help="version, BLAS library and kernel, OpenMP, threads")
    i.set_defaults(func=cmd_info)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except CLIError as exc:
        parser.exit(2, f"fastbp: error: {exc}\n")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
