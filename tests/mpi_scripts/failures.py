"""Run as ``mpiexec -n K python failures.py MODE``: a failure on some rank.

Modes (the last rank, K-1, is the one that misbehaves):

callback    its fit callback raises in epoch 2: fit aborts every rank
script      its own code raises inside ``abort_on_error`` while the others
            wait in a collective: every rank is aborted
shape       its X has one column fewer: every rank raises the same
            ValueError at the start of fit (printed once, status 1)
labels      its train_step batch holds a label out of range: every rank
            raises (no update anywhere); each prints what it caught, exit 0
diverge     its callback changes a parameter: the periodic replica check
            raises ReplicaMismatchError on every rank; each prints it, exit 0
checkpoint  rank 0 cannot write the checkpoint (a missing directory, found before
            training; a directory removed during training): every rank raises;
            exit 0
ckpt_root   only rank 0 passes checkpoint_path (the Horovod habit): every rank
            raises the setup ValueError at the start; exit 0
weights     its fit, then its train_step, gets a sample_weight (refused with
            comm=): every rank raises, the others a RankFailedError; exit 0
interrupt   Ctrl-C (KeyboardInterrupt) while its fit checks the data: every
            rank raises instead of waiting at the setup exchange; exit 0
own_part    each rank passes train_step its own part of the batch (Horovod's
            way): the first call's setup exchange finds it; exit 0
ctrl_c      Ctrl-C (KeyboardInterrupt) in its fit callback: every rank is
            aborted, the message printed without a traceback
dtype       its X is float32 (the network float64): the setup ValueError
            names the dtypes as given; exit 0
crc_int     Ctrl-C while its fit computes the data's CRC-32 (after the checks):
            every rank raises at the setup exchange; exit 0
wait_int    Ctrl-C while it waits in the setup exchange: every rank is aborted
after_fit   a fit with comm=, then train_step with each rank's own part of the
            batch: the first train_step after the fit compares; exit 0
schedule    its optimizer has a plain-function learning-rate schedule, the
            others none: the setup ValueError; exit 0
switch_opt  a train_step loop in which it alone switches to a new optimizer
            object at step 3: every rank raises a ValueError; exit 0
switch_all  the same loop, every rank switching at step 3: training goes on
            with the new optimizer, replicas identical; prints the loss
            of the last step and a parameter CRC per rank; exit 0
slow_rank   it reaches fit 2.5 s after the others (with FASTBP_MPI_STALL_SECONDS=1
            the waiting ranks say so on stderr, then that the wait ended); exit 0
resume_init (every rank) a fit with resume=True from a checkpoint saved
            before any training (no optimizer in it; path: argv[2]): fit's
            default SGD trains; prints the last loss and a CRC per rank
resume_lr   (every rank) a fit whose callback lowers the learning rate, with a
            checkpoint (path: argv[2]), then a resumed fit with the optimizer
            passed again and without one: each prints its rates and a CRC
lr_one_rank its optimizer's rate in force was set (opt.lr = ...) on it alone:
            the setup ValueError; exit 0
step_int    Ctrl-C (KeyboardInterrupt) while its train_step computes its share
            of the gradient: every rank raises (no update anywhere), then
            training goes on; exit 0
eps_dtype   (every rank) a float32 network with Adam(eps=1e-50), which is 0 in
            float32: fit, then train_step, raise the ValueError on every rank
            together (is_collective_error); exit 0
nested      as ``shape``, inside two abort_on_error guards (a decorated main
            that opens another): printed once, status 1, no MPI_Abort
switch_back as switch_opt, but every rank catches the error and goes on with the
            optimizer it had: only step 3 raises; prints the caught lines, then
            whether the replicas and net.optimizer are as before; exit 0
settings    its fit callback sets net.lambd in epoch 1 of 3; then, in another
            fit, the optimizer's lr in the last epoch (the parameters stay
            equal in both): every rank raises ReplicaMismatchError; exit 0
busy        it calls its fit with comm= from the callback of a local fit of
            the same network (a fit already running): every rank raises at
            the setup exchange, it the RuntimeError, the others a
            RankFailedError; then a fit with comm= trains on every rank; exit 0
"""
import os
import sys

import numpy as np
from mpi4py import MPI

from fastbp import Adam, Network
from fastbp.distributed import RankFailedError, ReplicaMismatchError, abort_on_error

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
bad = size - 1
mode = sys.argv[1]


def report(line):
    """Print every rank's line from rank 0 (mpiexec may interleave the ranks' output)."""
    lines = comm.gather(line, root=0)
    if rank == 0:
        print("\n".join(lines), flush=True)



def interrupted_fit(module, name):
    """A fit in which ``module.name`` raises KeyboardInterrupt on the bad rank
    (as a Ctrl-C there would); every rank reports what it caught."""
    if rank == bad:
        def interrupt(*args, **kwargs):
            raise KeyboardInterrupt
        setattr(module, name, interrupt)
    try:
        net.fit(X, y, epochs=1, batch_size=10, verbose=False, comm=comm)
    except (KeyboardInterrupt, RankFailedError) as exc:
        report(f"rank {rank}: caught {type(exc).__name__}: {exc}")


rng = np.random.default_rng(0)
X = rng.standard_normal((4, 60))
y = rng.integers(0, 3, 60)
net = Network([4, 8, 3], "relu", "softmax", dtype="float64", seed=0)

if mode == "callback":
    def cb(net, epoch, logs):
        if rank == bad and epoch == 2:
            raise RuntimeError("boom from the callback")
    net.fit(X, y, epochs=50, batch_size=10, optimizer=Adam(0.01), verbose=False, comm=comm,
            callback=cb)
    print(f"rank {rank}: not reached", flush=True)

elif mode == "script":
    with abort_on_error(comm):
        if rank == bad:
            raise KeyError("a key missing on this rank only")
        comm.Barrier()            # the other ranks would wait here forever
    print(f"rank {rank}: not reached", flush=True)

elif mode == "shape":
    Xr = X[:, :59] if rank == bad else X
    yr = y[:59] if rank == bad else y
    with abort_on_error(comm):
        net.fit(Xr, yr, epochs=2, batch_size=10, verbose=False, comm=comm)

elif mode == "labels":
    opt = Adam(0.01)
    net.train_step(X[:, :12], y[:12], opt, comm=comm)
    before = net.flat_parameters.copy()
    yb = y[:12].copy()
    if rank == bad:
        yb[rank * 12 // size] = 7          # inside this rank's share; 3 classes
    try:
        net.train_step(X[:, :12], yb, opt, comm=comm)
    except (ValueError, RankFailedError) as exc:
        unchanged = np.array_equal(before, net.flat_parameters)
        report(f"rank {rank}: caught {type(exc).__name__}: {exc} | unchanged={unchanged}")
    # training goes on afterwards
    net.train_step(X[:, :12], y[:12], opt, comm=comm)
    report(f"rank {rank}: continued")

elif mode == "diverge":
    def cb(net, epoch, logs):
        if rank == bad and epoch == 2:
            net.flat_parameters[0] += 1e-12
    try:
        net.fit(X, y, epochs=10, batch_size=10, optimizer=Adam(0.01), verbose=False,
                comm=comm, callback=cb, replica_check_every=4)
    except ReplicaMismatchError as exc:
        report(f"rank {rank}: caught ReplicaMismatchError: {exc}")

elif mode == "checkpoint":
    # a missing directory is found before training (at the setup exchange);
    # one that disappears during training, at the write
    try:
        net.fit(X, y, epochs=2, batch_size=10, verbose=False, comm=comm,
                checkpoint_path="/nonexistent-dir/ck.npz")
    except (OSError, RankFailedError) as exc:
        report(f"rank {rank}: caught {type(exc).__name__}: {exc}")
    import shutil
    import tempfile
    folder = comm.bcast(tempfile.mkdtemp() if rank == 0 else None, root=0)

    def remove_folder(n, epoch, logs):
        if rank == 0 and epoch == 1:
            shutil.rmtree(folder)
    try:
        net.fit(X, y, epochs=2, batch_size=10, verbose=False, comm=comm,
                checkpoint_path=os.path.join(folder, "ck.npz"), callback=remove_folder)
    except (OSError, RankFailedError) as exc:
        report(f"rank {rank}: during training caught {type(exc).__name__}: {exc}")

elif mode == "ckpt_root":
    try:
        net.fit(X, y, epochs=2, batch_size=10, verbose=False, comm=comm,
                checkpoint_path="unused-ck.npz" if rank == 0 else None)
    except ValueError as exc:
        report(f"rank {rank}: caught ValueError: {exc}")

elif mode == "weights":
    w = np.ones(60) if rank == bad else None
    for call in ("fit", "train_step"):
        try:
            if call == "fit":
                net.fit(X, y, epochs=1, batch_size=10, verbose=False, comm=comm,
                        sample_weight=w)
            else:
                net.train_step(X[:, :12], y[:12], Adam(0.01), comm=comm,
                               sample_weight=None if w is None else w[:12])
        except (ValueError, RankFailedError) as exc:
            report(f"rank {rank}: {call} caught {type(exc).__name__}: {exc}")

elif mode == "interrupt":
    from fastbp import _validation
    interrupted_fit(_validation, "check_finite")

elif mode == "own_part":
    lo, hi = rank * 12 // size, (rank + 1) * 12 // size
    try:
        net.train_step(X[:, lo:hi], y[lo:hi], Adam(0.01), comm=comm)
    except ValueError as exc:
        report(f"rank {rank}: caught ValueError: {exc}")

elif mode == "ctrl_c":
    def cb(net, epoch, logs):
        if rank == bad and epoch == 2:
            raise KeyboardInterrupt
    net.fit(X, y, epochs=50, batch_size=10, optimizer=Adam(0.01), verbose=False, comm=comm,
            callback=cb)
    print(f"rank {rank}: not reached", flush=True)

elif mode == "dtype":
    try:
        net.fit(X.astype(np.float32) if rank == bad else X, y, epochs=1, batch_size=10,
                verbose=False, comm=comm)
    except ValueError as exc:
        report(f"rank {rank}: caught ValueError: {exc}")

elif mode == "crc_int":
    from fastbp import distributed
    interrupted_fit(distributed, "_fingerprint")

elif mode == "wait_int":
    import signal
    import time
    if rank == bad:
        def interrupt(*args):
            raise KeyboardInterrupt
        signal.signal(signal.SIGALRM, interrupt)
        signal.setitimer(signal.ITIMER_REAL, 0.5)    # while it waits for rank 0
    else:
        time.sleep(3)                                # rank 0 still "checking its data"
    net.fit(X, y, epochs=1, batch_size=10, verbose=False, comm=comm)
    print(f"rank {rank}: not reached", flush=True)

elif mode == "slow_rank":
    import time
    if rank == bad:
        time.sleep(2.5)                              # "still loading its data"
    net.fit(X, y, epochs=1, batch_size=10, verbose=False, comm=comm)
    report(f"rank {rank}: fit done")

elif mode == "after_fit":
    opt = Adam(0.01)
    net.fit(X, y, epochs=1, batch_size=10, optimizer=opt, verbose=False, comm=comm)
    lo, hi = rank * 12 // size, (rank + 1) * 12 // size
    try:
        net.train_step(X[:, lo:hi], y[lo:hi], opt, comm=comm)
    except ValueError as exc:
        report(f"rank {rank}: caught ValueError: {exc}")

elif mode == "schedule":
    from fastbp import SGD

    def halving(lr0, epoch):
        return lr0 / 2 ** epoch
    try:
        net.fit(X, y, epochs=2, batch_size=10, verbose=False, comm=comm,
                optimizer=SGD(0.1, schedule=halving if rank == bad else None))
    except ValueError as exc:
        report(f"rank {rank}: caught ValueError: {exc}")

elif mode in ("switch_opt", "switch_all"):
    import zlib

    from fastbp import SGD
    from fastbp.distributed import check_replicas
    opt = Adam(0.01)
    try:
        for step in range(6):
            if step == 3 and (mode == "switch_all" or rank == bad):
                opt = SGD(0.05)
            b = slice(10 * step, 10 * step + 10)
            loss = net.train_step(X[:, b], y[b], opt, comm=comm)
        check_replicas(net, comm, opt)
        report(f"rank {rank}: loss {loss!r} crc {zlib.crc32(net.flat_parameters)}")
    except ValueError as exc:
        report(f"rank {rank}: caught ValueError at step {step}: {exc}")

elif mode == "resume_init":
    import zlib
    path = sys.argv[2]
    if rank == 0:
        Network([4, 8, 3], "relu", "softmax", dtype="float64", seed=5).save(path)
    comm.Barrier()
    hist = net.fit(X, y, epochs=2, batch_size=10, verbose=False, comm=comm,
                   checkpoint_path=path, resume=True)
    report(f"rank {rank}: loss {hist['loss'][-1]!r} crc {zlib.crc32(net.flat_parameters)} "
           f"{type(net.optimizer).__name__} {net.optimizer.lr}")

elif mode == "resume_lr":
    import shutil
    import zlib

    from fastbp import SGD
    path = sys.argv[2]

    def lower(n, epoch, logs):
        if epoch == 1:
            n.optimizer.lr = 0.01         # every rank: a plateau-style rate cut
    net.fit(X, y, epochs=2, batch_size=10, optimizer=SGD(0.1), verbose=False, comm=comm,
            callback=lower, checkpoint_path=path)
    for i, passed in enumerate((SGD(0.1), None)):
        copy = f"{path}.{i}.npz"
        if rank == 0:
            shutil.copy(path, copy)
        comm.Barrier()
        again = Network([4, 8, 3], "relu", "softmax", dtype="float64", seed=rank)
        try:
            hist = again.fit(X, y, epochs=4, batch_size=10, optimizer=passed, verbose=False,
                             comm=comm, checkpoint_path=copy, resume=True)
            report(f"rank {rank}: lr {hist['lr']} crc {zlib.crc32(again.flat_parameters)}")
        except ReplicaMismatchError as exc:
            report(f"rank {rank}: caught ReplicaMismatchError: {exc}")

elif mode == "lr_one_rank":
    from fastbp import SGD
    opt = SGD(0.1)
    if rank == bad:
        opt.lr = 0.5
    try:
        net.fit(X, y, epochs=2, batch_size=10, optimizer=opt, verbose=False, comm=comm)
    except ValueError as exc:
        report(f"rank {rank}: caught ValueError: {exc}")

elif mode == "step_int":
    opt = Adam(0.01)
    net.train_step(X[:, :12], y[:12], opt, comm=comm)
    before = net.flat_parameters.copy()
    if rank == bad:
        def interrupt(*args, **kwargs):
            raise KeyboardInterrupt
        net.share_gradient = interrupt
    try:
        net.train_step(X[:, :12], y[:12], opt, comm=comm)
    except (KeyboardInterrupt, RankFailedError) as exc:
        unchanged = np.array_equal(before, net.flat_parameters)
        report(f"rank {rank}: caught {type(exc).__name__}: {exc} | unchanged={unchanged}")
    if rank == bad:
        del net.share_gradient
    net.train_step(X[:, :12], y[:12], opt, comm=comm)
    report(f"rank {rank}: continued")

elif mode == "eps_dtype":
    from fastbp.distributed import is_collective_error
    net32 = Network([4, 8, 3], "relu", "softmax", dtype="float32", seed=0)
    for call in ("fit", "train_step"):
        try:
            if call == "fit":
                net32.fit(X, y, epochs=1, batch_size=10, optimizer=Adam(0.01, eps=1e-50),
                          verbose=False, comm=comm)
            else:
                net32.train_step(X[:, :12], y[:12], Adam(0.01, eps=1e-50), comm=comm)
        except ValueError as exc:
            report(f"rank {rank}: {call} caught ValueError (collective "
                   f"{is_collective_error(exc)}): {exc}")

elif mode == "nested":
    @abort_on_error(comm)
    def main():
        with abort_on_error(comm):
            net.fit(X[:, :59] if rank == bad else X, y[:59] if rank == bad else y, epochs=2,
                    batch_size=10, verbose=False, comm=comm)
    main()

elif mode == "settings":
    def set_lambd(n, epoch, logs):
        if rank == bad and epoch == 1:
            n.lambd = 0.5

    def set_lr(n, epoch, logs):
        if rank == bad and epoch == 3:
            n.optimizer.lr = 0.5
    for what, cb in (("lambd", set_lambd), ("lr", set_lr)):
        try:
            Network([4, 8, 3], "relu", "softmax", dtype="float64", seed=0).fit(
                X, y, epochs=3, batch_size=10, optimizer=Adam(0.01), verbose=False,
                comm=comm, callback=cb)
            report(f"rank {rank}: {what}: fit returned")
        except ReplicaMismatchError as exc:
            report(f"rank {rank}: {what}: caught ReplicaMismatchError: {exc}")

elif mode == "switch_back":
    from fastbp import SGD
    from fastbp.distributed import check_replicas
    opt = Adam(0.01)
    for step in range(6):
        b = slice(10 * step, 10 * step + 10)
        try:
            net.train_step(X[:, b], y[b], SGD(0.05) if step == 3 and rank == bad else opt,
                           comm=comm)
        except ValueError as exc:
            report(f"rank {rank}: caught ValueError at step {step}: {exc}")
    check_replicas(net, comm, opt)
    report(f"rank {rank}: replicas identical, net.optimizer is opt: {net.optimizer is opt}")

elif mode == "busy":
    def fit_with_comm(*args):
        try:
            net.fit(X, y, epochs=1, batch_size=10, verbose=False, comm=comm)
        except (RuntimeError, RankFailedError) as exc:
            report(f"rank {rank}: caught {type(exc).__name__}: {exc}")

    if rank == bad:       # its network is busy: a local fit is running
        net.fit(X, y, epochs=1, batch_size=30, verbose=False, callback=fit_with_comm)
    else:
        fit_with_comm()
    net.fit(X, y, epochs=1, batch_size=10, verbose=False, comm=comm)
    report(f"rank {rank}: trained after it")

else:
    raise SystemExit(f"unknown mode {mode!r}")
