"""Data-parallel training over MPI: one Allreduce of the flat gradient buffer per step.

Every process (rank) holds a replica of the :class:`~fastbp.Network` and the
same data. A global mini-batch of M columns is cut into disjoint, contiguous
shares -- rank r of N takes columns ``[M r // N, M (r + 1) // N)``, so shares
differ by at most one column and may be empty when M < N -- and each rank's
compiled step computes the gradient of its share already weighted by its
share of the batch::

    dW_r = (1/M) dZ_r A_r^T + (lambd/M) (m_r/M) W        db_r = (1/M) sum_j dZ_r

so that the sum over ranks is exactly the gradient of the global batch,
``(1/M) dZ A^T + (lambd/M) W``, whatever the shares. The rank's part of the
cost, ``loss_r / M + (m_r/M) lambd/(2M) ||W||^2``, a 0/1 "this rank
failed" flag and a 0/1 "this rank has a new optimizer" flag sit in three
spare slots right after the gradients in the same flat buffer, so a training
step makes ONE in-place ``MPI_Allreduce`` (SUM) of ``n_params + 3`` numbers:
no per-layer messages, no copies, no second reduction. (For a float32 network the loss is therefore summed in float32.)
Then every rank applies the same optimizer update to the same numbers, so the
replicas stay bitwise identical; a CRC-32 of the parameters and optimizer
state (and of ``lambd``, the dropout counter, the optimizer's update count and
rate) is compared across ranks every ``replica_check_every`` steps and at the
end of :func:`fit`.

Failures never hang the job:

* inconsistent setups (data shapes, dtypes or contents, architecture,
  optimizer, arguments) are found at the start of :func:`fit` by one
  ``allgather`` and raise the same ``ValueError`` on every rank;
* an error inside a training step (bad input, labels out of range, a
  non-finite loss, Ctrl-C) travels in the flag slot of the step's Allreduce,
  so every rank raises together (the others a :class:`RankFailedError` that
  quotes the failing rank's message), before any update; so does a ``train_step`` that
  got a new optimizer object on some ranks only;
* a checkpoint that rank 0 cannot write or read raises on every rank (the
  others a :class:`RankFailedError` quoting rank 0's error);
* anything raised on one rank alone during :func:`fit` (a callback, Ctrl-C)
  prints ``fastbp: rank k of N failed: ...`` to stderr and calls
  ``MPI_Abort``, which ends every rank. :class:`abort_on_error` gives a script
  the same guarantee for its own code (put the data loading inside it too: an
  exception on one rank outside it leaves the others waiting);
* what fastbp cannot see (a rank that left outside that guard, a network
  built on one rank alone) leaves the others waiting in a collective: after
  ``FASTBP_MPI_STALL_SECONDS`` (default 60) each waiting rank says so on
  stderr, naming the collective, as Horovod's stall check does.

mpi4py is imported only when one of these functions is called:
``import fastbp`` never needs it. Install it with ``pip install "fastbp[mpi]"``
(mpi4py plus the ``mpich`` wheel), or build mpi4py against a cluster's own MPI.
See docs/distributed.md for running on several machines and the cost model
(installed with fastbp: ``fastbp info`` prints the folder).
"""
import contextlib
import math
import numbers
import os
import sys
import threading
import time
import traceback
import warnings
import zlib

import numpy as np

from fastbp import _validation, checkpoint
from fastbp._openmp_helpers import cpu_count, effective_n_threads
from fastbp._version import version as __version__
from fastbp.optim import Optimizer, optimizer_from_config, schedule_function_name

__all__ = ["fit", "shares", "broadcast_state", "check_replicas", "default_n_threads",
           "abort_on_error", "is_collective_error", "mark_collective", "agree", "check_launcher",
           "launcher_sizes", "SETUP_MISMATCH", "RankFailedError", "ReplicaMismatchError"]


class RankFailedError(RuntimeError):
    """Raised on every rank that did not fail when another rank did.

    The message names the failing rank(s) and quotes their errors.
    """


class ReplicaMismatchError(RuntimeError):
    """The replicas' parameters or optimizer state differ across ranks."""


# ---------------------------------------------------------------- helpers

def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError(
            "fastbp's distributed training needs mpi4py: pip install 'fastbp[mpi]' "
            "(mpi4py and the mpich wheel), or install mpi4py built against your "
            f"cluster's MPI ({exc})") from exc
    return MPI


#: how the ValueError of ranks whose setups differ begins (see :func:`agree`)
SETUP_MISMATCH = "inconsistent setup"


def _check_comm(comm):
    """The MPI module, after checking that ``comm`` is a usable intracommunicator."""
    MPI = _mpi()
    if not isinstance(comm, MPI.Comm):
        raise TypeError("comm must be an mpi4py communicator such as MPI.COMM_WORLD, got "
                        f"{type(comm).__name__}")
    if comm == MPI.COMM_NULL:
        raise ValueError("comm is MPI.COMM_NULL; pass a communicator this process belongs to")
    if comm.Is_inter():
        raise ValueError("comm must be an intra-communicator (e.g. MPI.COMM_WORLD), "
                         "not an inter-communicator")
    return MPI


def launcher_sizes():
    """(variable, process count) for each process count an MPI launcher set in
    the environment (MPICH's / Slurm's ``PMI_SIZE``, Open MPI's
    ``OMPI_COMM_WORLD_SIZE``); needs no mpi4py.

    Returns
    -------
    list of (str, int)
        Empty when no launcher set one (or set one that is not an int).
    """
    sizes = []
    for var in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        try:
            sizes.append((var, int(os.environ[var])))
        except (KeyError, ValueError):
            continue
    return sizes


def check_launcher(comm):
    """Catch N singletons: an mpiexec of one MPI starting processes linked to another.

    Each such process sees a ``COMM_WORLD`` of one rank while the launcher's
    environment (``PMI_SIZE``, ``OMPI_COMM_WORLD_SIZE``) says more were
    started: N independent runs instead of one job.

    ``comm`` is checked unless it is ``MPI.COMM_SELF`` (one process by
    choice): a ``COMM_WORLD.Dup()`` or ``Split`` is one process there too.

    Parameters
    ----------
    comm : mpi4py.MPI.Intracomm

    Raises
    ------
    TypeError, ValueError
        ``comm`` not an mpi4py intracommunicator (``MPI.COMM_NULL``, an
        inter-communicator).
    ImportError
        mpi4py is not installed.
    RuntimeError
        The launcher started more processes than ``MPI.COMM_WORLD`` has; the
        message says which mpiexec to use.
    """
    MPI = _check_comm(comm)
    if comm == MPI.COMM_SELF:
        return
    world = MPI.COMM_WORLD.Get_size()
    for var, n in launcher_sizes():
        if n > world:
            raise RuntimeError(
                f"the launcher started {n} processes ({var}={n}) but MPI.COMM_WORLD has "
                f"{world}: that mpiexec belongs to another MPI than the one mpi4py "
                f"loaded ({' '.join(MPI.Get_library_version().split()[:3])}). Use the "
                "mpiexec of the same MPI (the mpich wheel's is next to the python "
                "executable), or point mpi4py at the launcher's MPI (MPI4PY_LIBMPI).")


def mark_collective(exc):
    """Mark ``exc`` as raised by every rank at the same point (no abort needed); returns it.

    :class:`abort_on_error` then prints it once instead of aborting.

    Parameters
    ----------
    exc : BaseException

    Returns
    -------
    BaseException
        ``exc`` itself, marked.
    """
    exc._fastbp_collective = True
    return exc


def is_collective_error(exc):
    """True when fastbp raised ``exc`` on every rank together.

    Such errors (an inconsistent setup, a diverged loss, a rank that failed
    inside a step, mismatched replicas) leave no rank waiting in a collective,
    so a script may catch them; :class:`abort_on_error` prints them once.

    Parameters
    ----------
    exc : BaseException

    Returns
    -------
    bool
    """
    return bool(getattr(exc, "_fastbp_collective", False))


#: seconds a rank waits in one of fastbp's collectives before it says so on
#: stderr (the FASTBP_MPI_STALL_SECONDS environment variable overrides it)
STALL_SECONDS = 60.0


class _StallWatch:
    """Says on stderr when this rank has waited too long in one collective.

    An MPI rank whose peers never reach the collective it is in waits for
    ever, silently: a peer that stopped outside fastbp's guard (an exception
    outside :class:`abort_on_error`, ``sys.exit``), or that built a new
    network or optimizer alone. Horovod's stall check (its
    ``HOROVOD_STALL_CHECK_TIME_SECONDS``, 60 s by default) reports such waits;
    this is the same for fastbp's collectives: after ``FASTBP_MPI_STALL_SECONDS``
    (default :data:`STALL_SECONDS`; 0 turns it off) one line names the rank and
    the collective, and another says when the wait ended. The wait itself goes
    on: it may only be a slow peer.

    ``with watch(comm, what):`` around a collective. A daemon thread started
    at the first one polls once a second (mpi4py releases the GIL inside MPI
    calls); a watched collective costs one or two microseconds.
    """

    def __init__(self):
        self.pending = None       # (serial, start, what, rank, size) of the wait in progress
        self.serial = 0
        self.warned = 0           # the serial of the last wait reported
        self.started = False      # the thread runs (reset in a fork() child: it has none)
        self._limit = None

    def limit(self):
        """Seconds before the notice (0: never), from FASTBP_MPI_STALL_SECONDS."""
        if self._limit is None:
            raw = os.environ.get("FASTBP_MPI_STALL_SECONDS", "").strip()
            value = STALL_SECONDS
            if raw:
                try:
                    value = float(raw)
                    if not (math.isfinite(value) and value >= 0):
                        raise ValueError
                except ValueError:
                    warnings.warn(f"FASTBP_MPI_STALL_SECONDS={raw!r} is not a number of "
                                  f"seconds >= 0 (0: off); using {STALL_SECONDS:g}",
                                  RuntimeWarning, stacklevel=2)
                    value = STALL_SECONDS
            self._limit = value
        return self._limit

    def __call__(self, comm, what):
        """A context manager watching the collective ``what`` (the words after
        "waited N s in") on ``comm``."""
        return _Wait(self, comm, what)

    def start_thread(self, limit):
        self.started = True
        threading.Thread(target=self._run, args=(limit,), name="fastbp-mpi-stall-watch",
                         daemon=True).start()

    def _run(self, limit):
        poll = min(1.0, max(0.05, limit / 4))
        while True:
            time.sleep(poll)
            pending = self.pending
            if pending is None or pending[0] == self.warned:
                continue
            serial, start, what, rank, size = pending
            if time.monotonic() - start >= limit:
                self.warned = serial
                _notice(f"rank {rank} of {size} has waited {limit:g} s in {what}: another "
                        "rank has not reached it yet. It may only be slower (loading data, "
                        "writing a checkpoint); if it stopped outside fastbp's guard (an "
                        "exception outside abort_on_error, sys.exit) or built a network or "
                        "optimizer alone, this rank will wait for ever: end the job "
                        "(docs/distributed.md, \"Failures\"; `fastbp info` shows where the "
                        "docs are). FASTBP_MPI_STALL_SECONDS sets "
                        "this notice's delay (0: off)")


class _Wait:
    """One watched collective (_StallWatch.__call__)."""

    __slots__ = ("watch", "comm", "what", "serial", "start")

    def __init__(self, watch, comm, what):
        self.watch = watch
        self.comm = comm
        self.what = what
        self.serial = 0

    def __enter__(self):
        w = self.watch
        limit = w._limit if w._limit is not None else w.limit()
        if limit <= 0:
            return self
        if not w.started:
            w.start_thread(limit)
        w.serial += 1
        self.serial = w.serial
        self.start = time.monotonic()
        w.pending = (self.serial, self.start, self.what, self.comm.Get_rank(),
                     self.comm.Get_size())
        return self

    def __exit__(self, *exc):
        w = self.watch
        w.pending = None
        if self.serial and w.warned == self.serial:
            _notice(f"rank {self.comm.Get_rank()} of {self.comm.Get_size()}: {self.what} "
                    f"went on after {time.monotonic() - self.start:.1f} s")
        return False


def _notice(line):
    try:
        sys.stderr.write(f"fastbp: {line}\n")
        sys.stderr.flush()
    except (OSError, ValueError):      # stderr closed: nothing to say it on
        pass


_stall_watch = _StallWatch()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: setattr(_stall_watch, "started", False))


def _describe_exc(exc):
    """'Type: message' as other ranks quote it (the message alone for the
    CLI's user errors, whose class name means nothing to the user)."""
    text = str(exc)
    if text and getattr(exc, "_fastbp_plain", False):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def shares(m, size):
    """Column ranges of a global batch of ``m`` columns split over ``size`` ranks.

    Rank r takes ``[m r // size, m (r + 1) // size)``: contiguous, disjoint,
    covering the batch, sizes differing by at most one (some are empty when
    ``m < size``).

    Parameters
    ----------
    m : int
        Columns in the global batch.
    size : int
        Number of ranks.

    Returns
    -------
    list of (int, int)
        ``(start, stop)`` of every rank, in rank order.

    Raises
    ------
    TypeError
        ``m`` or ``size`` not an int.
    ValueError
        ``m < 0`` or ``size < 1``.

    Examples
    --------
    >>> shares(10, 3)
    [(0, 3), (3, 6), (6, 10)]
    """
    for name, value, low in (("m", m, 0), ("size", size, 1)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")
    m, size = int(m), int(size)
    return [(m * r // size, m * (r + 1) // size) for r in range(size)]


def _share(m, rank, size):
    return m * rank // size, m * (rank + 1) // size


def _mpi_float(MPI, dtype):
    return MPI.DOUBLE if np.dtype(dtype) == np.float64 else MPI.FLOAT


def _on_root(comm, fn, what, root=0):
    """Run ``fn()`` on ``root`` only; its result, or its failure, reaches every rank."""
    res = None
    exc = None
    if comm.Get_rank() == root:
        try:
            res = (True, fn())
        except Exception as e:
            exc = e
            res = (False, _describe_exc(e))
    with _stall_watch(comm, f"the broadcast from rank {root} after {what}"):
        res = comm.bcast(res, root=root)
    if res[0]:
        return res[1]
    if exc is not None:
        raise mark_collective(exc)
    raise mark_collective(RankFailedError(f"rank {root} failed while {what}: {res[1]}"))


def agree(comm, err, desc=None):
    """Exchange every rank's local error (or None) and setup description (dict).

    Raises the same way on every rank when any rank failed or when the
    descriptions (dicts) differ; returns None otherwise. One allgather. An
    exception inside the allgather itself (Ctrl-C while this rank waits for
    the others) aborts every rank: the others could wait for it for ever.

    Parameters
    ----------
    comm : mpi4py.MPI.Intracomm
    err : BaseException or None
        This rank's error, raised again here when it has one.
    desc : dict, optional
        This rank's setup (JSON-able values), compared across the ranks.

    Raises
    ------
    RankFailedError
        On the ranks without an error, when another rank had one.
    ValueError
        The descriptions differ (the message begins with
        :data:`SETUP_MISMATCH` and names the keys and ranks).
    """
    try:
        with _stall_watch(comm, "the setup exchange at the start of fit or train_step"):
            infos = comm.allgather((None if err is None else _describe_exc(err), desc))
    except BaseException as exc:
        _abort(comm, exc)
    failed = [(r, msg) for r, (msg, _) in enumerate(infos) if msg is not None]
    if failed:
        if err is not None:
            raise mark_collective(err)
        shown = "; ".join(f"rank {r}: {msg}" for r, msg in failed[:4])
        more = f" (and {len(failed) - 4} more ranks)" if len(failed) > 4 else ""
        raise mark_collective(RankFailedError(f"{shown}{more}"))
    if desc is None:
        return
    diffs = []
    for key in desc:
        groups = {}
        for r, (_, d) in enumerate(infos):
            groups.setdefault(repr(d.get(key)), []).append(r)
        if len(groups) > 1:
            parts = []
            for value, ranks in list(groups.items())[:4]:
                rs = ", ".join(map(str, ranks[:6])) + (", ..." if len(ranks) > 6 else "")
                parts.append(f"{value} on rank{'s' if len(ranks) > 1 else ''} {rs}")
            diffs.append(f"{key}: " + "; ".join(parts))
    if diffs:
        raise mark_collective(ValueError(
            f"{SETUP_MISMATCH} across the {comm.Get_size()} ranks: every rank must pass the "
            "same data, network, optimizer and arguments. Differences: " + " | ".join(diffs)))


def _fingerprint(a):
    """(memory order, CRC-32 of the contents) of an array, for cross-rank comparison.
    A sparse matrix: (its format, the CRC-32 of its index arrays and data)."""
    if not isinstance(a, np.ndarray) and _validation.is_sparse(a):
        crc = 0
        for part in (a.indptr, a.indices, a.data):
            crc = zlib.crc32(np.ascontiguousarray(part), crc)
        return a.format, crc
    a = np.asarray(a)
    if a.flags.c_contiguous:
        return "C", zlib.crc32(a)
    if a.flags.f_contiguous:
        return "F", zlib.crc32(a.T)
    return "C", zlib.crc32(np.ascontiguousarray(a))


def _abort(comm, exc, code=1):
    """Print ``exc`` with this rank's number to stderr and abort every rank. Never returns."""
    rank, size = comm.Get_rank(), comm.Get_size()
    try:
        # Ctrl-C reaches every rank at once (mpiexec forwards it): the
        # tracebacks of where each happened to be are noise
        tb = ("" if isinstance(exc, KeyboardInterrupt) or getattr(exc, "_fastbp_plain", False)
              else "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        sys.stderr.write(f"{tb}fastbp: rank {rank} of {size} failed: {_describe_exc(exc)}\n"
                         f"fastbp: aborting all {size} ranks (MPI_Abort)\n")
        sys.stderr.flush()
        sys.stdout.flush()
        # MPI_Abort tears down mpiexec's I/O forwarding at once; without a
        # pause the message above was lost about one run in ten (mpich 4,
        # 3 ranks). A failure path, so 0.3 s costs nothing that matters.
        time.sleep(0.3)
    finally:
        comm.Abort(code)
    os._exit(code)     # not reached: MPI_Abort does not return


class abort_on_error(contextlib.ContextDecorator):
    """Context manager / decorator: an exception on any rank ends every rank, never a hang.

    An exception raised inside the block on one rank is printed to stderr as
    ``fastbp: rank k of N failed: Type: message`` (after its traceback; none
    for Ctrl-C) and ``comm.Abort(1)`` ends all ranks. An error that fastbp raised on every
    rank together (see :func:`is_collective_error`) is printed once, by rank
    0, and every rank exits with status 1 instead (a ``SystemExit(1)`` marked
    collective, so guards nest). ``SystemExit(0)`` passes, and so does a
    ``SystemExit`` marked collective.

    Parameters
    ----------
    comm : mpi4py.MPI.Intracomm, optional
        Defaults to ``MPI.COMM_WORLD``.

    Examples
    --------
    >>> from mpi4py import MPI                                   # doctest: +SKIP
    >>> with abort_on_error(MPI.COMM_WORLD):                     # doctest: +SKIP
    ...     net.fit(X, Y, comm=MPI.COMM_WORLD)
    """

    def __init__(self, comm=None):
        if comm is not None:
            _check_comm(comm)       # not at the first error, where it would hang
        self.comm = comm

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None:
            return False
        if isinstance(exc, SystemExit) and (exc.code in (None, 0) or is_collective_error(exc)):
            return False     # every rank exits the same way
        comm = self.comm
        if comm is None:
            comm = _mpi().COMM_WORLD
        if is_collective_error(exc):
            if comm.Get_rank() == 0:
                sys.stderr.write(f"fastbp: error on all {comm.Get_size()} ranks: "
                                 f"{_describe_exc(exc)}\n")
            sys.stderr.flush()
            sys.stdout.flush()
            # marked: an enclosing guard (a decorated main opening another)
            # lets it pass instead of aborting for "one rank's" exit
            raise mark_collective(SystemExit(1))
        if isinstance(exc, SystemExit):
            exc = RuntimeError(f"SystemExit({exc.code!r}) on this rank only")
        _abort(comm, exc)


def default_n_threads(comm):
    """Threads per rank for ``n_threads=None``: this node's cores shared among its ranks.

    ``OMP_NUM_THREADS``, when set, is taken as is. Otherwise
    ``min(cores this process may run on, cores of the node // ranks on the
    node)``, at least 1. Collective: every rank of ``comm`` must call it.

    Parameters
    ----------
    comm : mpi4py.MPI.Intracomm

    Returns
    -------
    int
    """
    MPI = _check_comm(comm)
    with _stall_watch(comm, "default_n_threads (MPI_Comm_split_type)"):
        node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        local = node.Get_size()
    finally:
        node.Free()
    if os.environ.get("OMP_NUM_THREADS"):
        return effective_n_threads(None)
    return max(1, min(cpu_count(), (os.cpu_count() or 1) // local))


# ------------------------------------------------------------ state sync

def broadcast_state(net, comm, optimizer=None, root=0):
    """Copy rank ``root``'s training state to every rank of ``comm``.

    Broadcasts the flat parameter buffer, the dropout step counter and seed,
    and, with ``optimizer``, its update count, learning rate in force and
    flat state buffers (bound to ``net`` first). Collective. :func:`fit` and
    the first ``train_step(..., comm=)`` call it; call it yourself after changing the
    parameters on one rank.

    Parameters
    ----------
    net : fastbp.Network
        The replica, the same architecture and dtype on every rank.
    comm : mpi4py.MPI.Intracomm
    optimizer : fastbp.optim.Optimizer, optional
        Its state is broadcast too.
    root : int, default 0
        The rank whose state is copied.
    """
    MPI = _check_comm(comm)
    if optimizer is not None:
        net.bind_optimizer(optimizer)          # binds (allocates) the state buffers
    with _stall_watch(comm, f"the broadcast of rank {root}'s parameters"):
        comm.Bcast([net.flat_parameters, _mpi_float(MPI, net.dtype)], root=root)
        meta = comm.bcast((int(net.step_count), int(net.dropout_seed),
                           None if optimizer is None else (int(optimizer.t),
                                                           float(optimizer.lr))), root=root)
        net.step_count, net.dropout_seed = meta[0], meta[1]
        if optimizer is not None:
            # the rate in force too: a resumed checkpoint sets it on root only
            optimizer.t, optimizer.lr = meta[2]
            for s in optimizer.state_arrays():
                comm.Bcast([s, _mpi_float(MPI, s.dtype)], root=root)
    net.parameters_changed()


def _state_crc(net, optimizer):
    h = zlib.crc32(net.flat_parameters)
    if optimizer is not None:
        for s in optimizer.state_arrays():
            h = zlib.crc32(s, h)
    return h


def _settings(net, optimizer):
    """What a step reads besides the buffers, for the replica check: a
    callback setting ``net.lambd`` on one rank mixes it into the summed
    gradient while the parameters stay equal, and a rate set in the last
    epoch leaves them equal too."""
    settings = {"lambd": float(net.lambd), "dropout step count": int(net.step_count),
                "dropout seed": int(net.dropout_seed)}
    if optimizer is not None:
        settings["optimizer update count"] = int(optimizer.t)
        settings["optimizer learning rate in force"] = float(optimizer.lr)
    return settings


def _rank_groups(values):
    """'v1 on ranks 0, 1; v2 on rank 2' of one value per rank."""
    groups = {}
    for r, v in enumerate(values):
        groups.setdefault(v, []).append(r)
    return "; ".join(f"{v} on rank{'s' if len(rs) > 1 else ''} {', '.join(map(str, rs[:8]))}"
                     f"{', ...' if len(rs) > 8 else ''}" for v, rs in list(groups.items())[:4])


def check_replicas(net, comm, optimizer=None):
    """Check that every rank holds bitwise the same parameters (and optimizer state).

    Compares a CRC-32 across ranks with one tiny Allreduce. Collective. The
    settings a step reads are compared too: ``net.lambd``, the dropout step
    counter and seed and, with ``optimizer``, its update count and learning
    rate in force.

    Parameters
    ----------
    net : fastbp.Network
    comm : mpi4py.MPI.Intracomm
    optimizer : fastbp.optim.Optimizer, optional
        Include its state buffers (and update count and rate) in the check.

    Returns
    -------
    True

    Raises
    ------
    ReplicaMismatchError
        On every rank, naming which ranks differ (and in which setting).
    """
    MPI = _check_comm(comm)
    buffers = _state_crc(net, optimizer)
    settings = _settings(net, optimizer)
    h = zlib.crc32(repr(settings).encode(), buffers)
    mm = np.array([h, -h], dtype=np.int64)
    with _stall_watch(comm, "the replica check"):
        comm.Allreduce(MPI.IN_PLACE, mm, op=MPI.MAX)
    if mm[0] == -mm[1]:
        return True
    with _stall_watch(comm, "the replica check"):
        infos = comm.allgather((buffers, settings))
    diffs = []
    crcs = [c for c, _ in infos]
    if len(set(crcs)) > 1:
        groups = {}
        for r, c in enumerate(crcs):
            groups.setdefault(c, []).append(r)
        diffs.append("parameters/optimizer state: " + "; ".join(
            f"ranks {', '.join(map(str, rs[:8]))}: crc32 {c:08x}"
            for c, rs in list(groups.items())[:4]))
    for key in settings:
        values = [repr(d.get(key)) for _, d in infos]
        if len(set(values)) > 1:
            diffs.append(f"{key}: {_rank_groups(values)}")
    raise mark_collective(ReplicaMismatchError(
        "the replicas differ across ranks: " + " | ".join(diffs) + ". Something changed "
        "one rank's parameters or settings (net.lambd, the optimizer's lr) outside the "
        "data-parallel step (e.g. a callback, or a train_step without comm=), or the ranks "
        "run different builds of fastbp."))


# ------------------------------------------------------------ the replica

#: what Replica.step returns when every rank's train_step got a new optimizer
#: (no update made: the caller compares the setups and steps again)
_SETUP = object()


class Replica:
    """One network's data-parallel state on one communicator, and its fit stepper.

    ``Network.train_step(..., comm=)`` calls :meth:`train_step`;
    ``Network.fit(..., comm=)`` runs the loop of ``fastbp._fit`` with this
    object as its stepper (the interface is documented there). The network
    is driven through the interface documented in :class:`fastbp.Network`.
    """

    def __init__(self, net, comm):
        MPI = _check_comm(comm)
        check_launcher(comm)
        self.net = net
        self.comm = comm
        self.MPI = MPI
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        store = net.grad_store
        self._msg = [store, _mpi_float(MPI, store.dtype)]
        self._tail = store[net.n_params:]
        self.check_every = 100
        self.steps = 0              # data-parallel updates made
        self.comm_time = 0.0        # seconds inside the gradient Allreduce
        self.nt = None              # threads for the compiled step
        self._synced_opt = None
        self._fit_check_every = 100
        self._epoch_comm0 = 0.0

    # -- setup ----------------------------------------------------------
    def describe(self, optimizer):
        net = self.net
        return {
            "fastbp version": __version__,
            "network": repr(net),
            "layer_dims": list(net.layer_dims),
            "hidden / output / alpha": (list(net.hidden), net.output, net.alpha),
            "dtype": net.dtype.name,
            "optimizer": (None if optimizer is None
                          else (type(optimizer).__name__, optimizer.get_config(),
                                schedule_function_name(optimizer.schedule))),
            # not in get_config (lr0 is): ``opt.lr = ...`` on one rank alone
            "optimizer learning rate in force": (None if optimizer is None
                                                 else float(optimizer.lr)),
        }

    def resolve_threads(self):
        """Collective: the compiled step's thread count on this rank."""
        nt = default_n_threads(self.comm)
        self.nt = self.net.effective_n_threads if self.net.n_threads is not None else nt
        return self.nt

    def sync(self, optimizer):
        broadcast_state(self.net, self.comm, optimizer)
        self._synced_opt = optimizer

    # -- one step -------------------------------------------------------
    def train_step(self, X, Y, optimizer, sample_weight=None):
        """``Network.train_step(X, Y, optimizer, comm=...)``: X is the global batch.

        The first call with an optimizer compares the setup and the batch's
        contents across ranks (a CRC-32, as ``fit`` does), which catches the
        Horovod habit of passing each rank its own part of the batch; later
        batches are not compared.

        The very first call (and the first after a ``fit``) makes that
        comparison before anything else. A later call with a new optimizer
        object first goes through the step's own Allreduce with the "new
        optimizer" slot set: a rank that switched alone would otherwise start
        the comparison while the others wait in the Allreduce (a hang). When
        every rank switched, the comparison and rank 0's state follow and the
        step is made again; when only some did, every rank raises.
        """
        net = self.net
        err = None
        first = self._synced_opt is not optimizer or not net.is_bound(optimizer)
        if first:
            given = (_validation.given_dtype(X), _validation.given_dtype(Y))
        try:
            if sample_weight is not None:
                raise _validation.sample_weight_with_comm_error()
            X = net.check_X(X)
            Y, yt, labels = net.check_Y(Y, X.shape[1])
        except BaseException as exc:     # Ctrl-C too: the other ranks are waiting
            err = exc
        desc = None
        if first:
            if err is None:
                try:
                    _validation.check_optimizer(optimizer, Optimizer)
                    optimizer.check_dtype(net.dtype)     # before, not after, the exchange
                    desc = self.describe(optimizer)
                    desc["X shape / dtype"] = (X.shape, X.dtype.str)
                    desc["Y shape / dtype"] = (Y.shape, Y.dtype.str)
                    desc["X / Y dtype as given"] = given
                    desc["X memory order / contents (CRC-32)"] = _fingerprint(X)
                    desc["Y memory order / contents (CRC-32)"] = _fingerprint(Y)
                except BaseException as exc:
                    err = exc
            if self._synced_opt is None:
                # never set up on this communicator (or a fit ran since): every
                # rank is here, and the networks may differ, so no buffer
                # collective before the comparison
                self._setup(optimizer, err, desc)
                first = False
        if err is not None:
            return self.step(None, None, 0, False, optimizer, 0, 0, err, first)
        M = X.shape[1]
        lo, hi = _share(M, self.rank, self.size)
        Yl = Y[lo:hi] if Y.ndim == 1 else Y[:, lo:hi]
        loss = self.step(X[:, lo:hi], Yl, yt, labels, optimizer, M, lo, None, first)
        if loss is _SETUP:
            # every rank got a new optimizer: compare, take rank 0's state, step again
            self._setup(optimizer, None, desc)
            loss = self.step(X[:, lo:hi], Yl, yt, labels, optimizer, M, lo)
        return loss

    def _setup(self, optimizer, err, desc):
        """Agree on the setup (raises on every rank if any differs), then rank 0's state wins."""
        agree(self.comm, err, desc)
        self.resolve_threads()
        self.sync(optimizer)

    def step(self, X, Y, yt, labels, optimizer, M, off, err=None, new_optimizer=False):
        """Gradient of this rank's share, ONE Allreduce, then the same update everywhere.

        X, Y: this rank's columns [off, off + m) of a global batch of M
        (checked; m may be 0). ``err``: a local failure to report instead.
        ``new_optimizer``: this rank's train_step got an optimizer object it
        has not set up; if every rank did, no update is made and ``_SETUP``
        is returned (the caller compares the setups and steps again); if
        only some did, every rank raises.
        """
        net = self.net
        MPI = self.MPI
        tail = self._tail
        loss_part = 0.0
        before = net.optimizer
        if err is None:
            try:
                if not net.is_bound(optimizer):
                    net.bind_optimizer(optimizer)
                loss_part = net.share_gradient(X, Y, yt, labels, M, off, self.nt)
            except BaseException as exc:     # Ctrl-C too: the others are in the Allreduce
                err = exc
        tail[0] = loss_part
        tail[1] = 0.0 if err is None else 1.0
        tail[2] = 1.0 if new_optimizer else 0.0
        t0 = time.perf_counter()
        with _stall_watch(self.comm, "a training step's gradient Allreduce"):
            self.comm.Allreduce(MPI.IN_PLACE, self._msg, op=MPI.SUM)
        self.comm_time += time.perf_counter() - t0
        if tail[1] != 0:
            # some rank failed: no rank updates; all raise, quoting the failures
            with _stall_watch(self.comm, "the exchange of a failed step's errors"):
                msgs = self.comm.allgather(None if err is None else _describe_exc(err))
            self._rebind(before)
            if err is not None:
                raise mark_collective(err)
            failed = [f"rank {r}: {msg}" for r, msg in enumerate(msgs) if msg is not None]
            raise mark_collective(RankFailedError(
                "; ".join(failed[:4]) + (" ..." if len(failed) > 4 else "")
                + " (no update was made on any rank)"))
        n_new = int(round(float(tail[2])))
        if n_new:
            if n_new == self.size:
                return _SETUP
            with _stall_watch(self.comm, "the exchange of the new-optimizer flags"):
                new = self.comm.allgather(bool(new_optimizer))
            self._rebind(before)
            ranks = [r for r, flag in enumerate(new) if flag]
            raise mark_collective(ValueError(
                f"train_step got a new optimizer object on rank{'s' if len(ranks) > 1 else ''} "
                f"{', '.join(map(str, ranks[:8]))}{', ...' if len(ranks) > 8 else ''} only "
                f"({n_new} of {self.size} ranks): every rank must pass the same optimizer, "
                "and switch to a new one at the same step (no update was made on any rank)"))
        loss = float(tail[0])
        if not math.isfinite(loss):
            raise mark_collective(_validation.nonfinite_loss_error(loss, " on every rank"))
        net.apply_update(optimizer, n_threads=self.nt)
        net.step_count = (net.step_count + 1) % (2**64)     # a uint64, as the kernel's
        self.steps += 1
        if self.check_every and self.steps % self.check_every == 0:
            check_replicas(net, self.comm, optimizer)
        return loss

    def _rebind(self, before):
        """After a step with no update, bind the optimizer bound before it
        again: a rank that bound a new one alone would count as switching at
        the next step too. Called after the step's collectives (it may raise)."""
        net = self.net
        if before is not None and net.optimizer is not before:
            net.bind_optimizer(before)

    # -- the stepper of fastbp._fit -------------------------------------
    history_keys = ("allreduce_seconds",)

    @property
    def is_root(self):
        return self.rank == 0

    def for_fit(self, replica_check_every):
        """This replica as the stepper of a fit with ``replica_check_every``."""
        self._fit_check_every = replica_check_every
        return self

    def check_args(self, sample_weight):
        if sample_weight is not None:
            raise _validation.sample_weight_with_comm_error()
        self._fit_check_every = _validation.check_replica_check_every(self._fit_check_every)

    def agree(self, err, facts):
        desc = None
        try:
            if err is None:
                desc = self._fit_facts(facts)
        except BaseException as exc:    # Ctrl-C in a long CRC: the others are waiting
            err, desc = exc, None
        agree(self.comm, err, desc)

    def _fit_facts(self, facts):
        """The setup description the ranks of a fit compare."""
        X, Y = facts["X"], facts["Y"]
        desc = self.describe(facts["optimizer"])
        desc.update({
            "X shape / dtype": (X.shape, X.dtype.str),
            "Y shape / dtype": (Y.shape, Y.dtype.str),
            "X memory order / contents (CRC-32)": _fingerprint(X),
            "Y memory order / contents (CRC-32)": _fingerprint(Y),
            "epochs": facts["epochs"], "batch_size": facts["batch_size"],
            "shuffle": facts["shuffle"], "replica_check_every": self._fit_check_every,
            "callback given": facts["callback given"],
            "checkpoint_path given / checkpoint_every / resume":
                facts["checkpoint_path given / checkpoint_every / resume"],
            # a float32 X on one rank is converted as a float64 one is
            # not: the CRCs alone would differ, naming no dtype
            "X / Y dtype as given": facts["X / Y dtype as given"],
            "validation data": None,
        })
        if facts["validation data"] is not None:
            Xv, Yv = facts["validation data"]
            desc["validation data"] = (Xv.shape, Yv.shape, _fingerprint(Xv),
                                       _fingerprint(Yv))
        return desc

    @contextlib.contextmanager
    def training(self):
        """From here an exception on one rank alone aborts every rank."""
        net = self.net
        saved_nt = net.effective_n_threads
        try:
            net.effective_n_threads = self.resolve_threads()
            yield
        except BaseException as exc:
            if is_collective_error(exc):
                raise
            _abort(self.comm, exc)
        finally:
            net.effective_n_threads = saved_nt

    def resume(self, path, optimizer):
        net = self.net

        def restore():
            path_ = checkpoint.file_for(path)      # the file this fit writes
            if not os.path.exists(path_):
                return None
            # no optimizer in the checkpoint (saved before training): fit's
            # own trains on every rank
            saved_opt = checkpoint.has_entry(path_, "optimizer")
            info = net.restore(path_, optimizer)
            restored = net.optimizer if saved_opt else None
            return (int(info.get("epoch", 0)), info.get("history") or {},
                    None if restored is None else restored.get_config(),
                    restored is optimizer,
                    checkpoint.kept_train_entries(info))

        got = self.on_root(restore, f"resuming from {os.fspath(path)!r}")
        if got is None:
            return None
        start_epoch, saved, opt_cfg, same, kept_entries = got
        if opt_cfg is None:
            optimizer = None
        elif self.rank == 0:
            optimizer = net.optimizer
        elif not same:
            optimizer = optimizer_from_config(opt_cfg)
        return start_epoch, saved, optimizer, kept_entries

    def start(self, optimizer):
        # rank 0's parameters, optimizer state and dropout counter; not
        # train_step's sync: its first call after a fit still compares the
        # ranks' batches (each rank passing its own part trained silently)
        broadcast_state(self.net, self.comm, optimizer)
        self._synced_opt = None
        self.check_every = self._fit_check_every

    def shuffle_seed(self, seed):
        net = self.net
        mine = None
        if self.rank == 0:
            mine = (seed if seed is not None else net.seed if net.seed is not None
                    else int(np.random.SeedSequence().entropy) % 2**63)
        with _stall_watch(self.comm, "the broadcast of the shuffle seed"):
            return self.comm.bcast(mine, root=0)

    def share(self, n):
        return _share(n, self.rank, self.size)

    def evaluate(self, Xv, Yv, labels):
        """(loss, accuracy) of checked validation data, each rank evaluating its share."""
        net = self.net
        Mv = Xv.shape[1]
        lo, hi = _share(Mv, self.rank, self.size)
        sums = np.zeros(2)
        if hi > lo:
            sums[:] = net.evaluate_sums(Xv[:, lo:hi],
                                        Yv[lo:hi] if Yv.ndim == 1 else Yv[:, lo:hi], labels)
        with _stall_watch(self.comm, "the validation loss's Allreduce"):
            self.comm.Allreduce(self.MPI.IN_PLACE, sums, op=self.MPI.SUM)
        return net.evaluate_finish(float(sums[0]), float(sums[1]), Mv)

    def epoch_begin(self):
        self._epoch_comm0 = self.comm_time

    def epoch_end(self):
        return {"allreduce_seconds": self.comm_time - self._epoch_comm0}

    def stop(self, flag):
        with _stall_watch(self.comm, "the end-of-epoch stop vote"):
            return self.comm.allreduce(bool(flag), op=self.MPI.LOR)

    def on_root(self, fn, what):
        return _on_root(self.comm, fn, what)

    def same_everywhere(self, exc):
        return mark_collective(exc)

    def finish(self, optimizer):
        check_replicas(self.net, self.comm, optimizer)


# ------------------------------------------------------------------- fit

def fit(net, X, Y, *, comm, **kwargs):
    """Data-parallel :meth:`Network.fit <fastbp.Network.fit>` over the ranks of ``comm``.

    The same as ``net.fit(X, Y, comm=comm, **kwargs)``. Every rank calls it
    with the same arguments and the same data; the arguments mean what they
    mean for :meth:`Network.fit <fastbp.Network.fit>`, with these differences:

    * ``batch_size`` is the global mini-batch: each step, rank r computes the
      gradient of its share of the batch's columns (see :func:`shares`) and
      ONE in-place Allreduce sums them. The result equals a one-process fit
      with the same global batch up to rounding, shuffled or not, with or
      without dropout (dropout masks are the global batch's).
    * At the start, one allgather checks that every rank has the same data
      (shape, dtype, CRC-32 of the contents), network, optimizer and
      arguments (a ``ValueError`` on every rank otherwise); then rank 0's
      parameters, optimizer state and shuffling seed are broadcast.
    * ``n_threads=None`` means the node's cores shared among its ranks
      (:func:`default_n_threads`).
    * Only rank 0 shows progress and writes checkpoints (atomically);
      ``resume`` reads the checkpoint on rank 0 and broadcasts it.
    * ``callback`` runs on every rank; training stops when any rank's
      callback returns True. Validation data is evaluated in shares.
    * ``sample_weight`` is not supported (a ``ValueError`` on every rank).
    * ``replica_check_every``: compare a CRC-32 of the parameters and
      optimizer state (and the settings a step reads, see
      :func:`check_replicas`) across ranks every this many steps (0: only at
      the end); a mismatch raises :class:`ReplicaMismatchError` on every rank.

    Parameters
    ----------
    net : fastbp.Network
        This rank's replica.
    X : ndarray (n_x, m)
        The whole data set, the same on every rank.
    Y : ndarray (n_L, m), or (m,) / (1, m) int labels for softmax
        Its targets, the same on every rank.
    comm : mpi4py.MPI.Intracomm
    **kwargs
        :meth:`Network.fit <fastbp.Network.fit>`'s keyword arguments.

    Returns
    -------
    history : dict of lists
        As :meth:`Network.fit <fastbp.Network.fit>` (the same on every rank),
        plus ``"allreduce_seconds"``: this rank's time inside the gradient
        Allreduce per epoch (it includes waiting for slower ranks).

    Raises
    ------
    ValueError, TypeError, RankFailedError, FloatingPointError, ReplicaMismatchError
        Raised on every rank together. An exception raised on one rank
        only (in a callback, Ctrl-C, ...) aborts the job with
        ``MPI_Abort`` after printing the rank and the message.
        ``comm`` not an mpi4py intracommunicator (None included: this
        function is the data-parallel fit): TypeError / ValueError.
    ImportError
        mpi4py is not installed.
    """
    _check_comm(comm)
    return net.fit(X, Y, comm=comm, **kwargs)
