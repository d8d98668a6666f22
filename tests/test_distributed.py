"""fastbp.distributed: data-parallel training over MPI.

Two kinds of tests:

* in this process, on ``MPI.COMM_SELF`` (one rank): the split step
  (grad_step + Allreduce + update) equals the one-call step bit for bit, and
  the errors and edge cases of the API;
* under ``mpiexec -n 2`` and ``-n 3`` (scripts in tests/mpi_scripts/, each
  run with a timeout, the whole process group killed on expiry): fits equal
  one-process fits with the same global batch to 1e-10 in float64, the
  replicas are bitwise identical on every rank, and a rank that fails makes
  the whole run end (non-zero, or a clean collective error) within the timeout.

Without mpi4py or mpiexec these tests are skipped -- except when
``FASTBP_REQUIRE_MPI=1`` (set by .ci/run), where a missing MPI is a failure.
"""
import os
import re
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

import fastbp
from fastbp import SGD, Adam, Network
from fastbp.distributed import shares

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "mpi_scripts")
# the directory holding the fastbp these tests import (source tree or site-packages)
FASTBP_PATH = os.path.dirname(os.path.dirname(os.path.abspath(fastbp.__file__)))
REQUIRE_MPI = os.environ.get("FASTBP_REQUIRE_MPI", "0") not in ("", "0")
TIMEOUT = 180
SIZES = [2, 3]


def _missing(reason):
    if REQUIRE_MPI:
        pytest.fail(f"{reason} (FASTBP_REQUIRE_MPI=1: MPI tests must run, not skip)")
    pytest.skip(reason)


# Subprocesses import the fastbp under test (FASTBP_PATH first on PYTHONPATH) and
# run in tests/ or a temporary directory, never in the source root, where an
# unbuilt checkout would shadow an installed wheel.
def _env(**extra):
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = FASTBP_PATH + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


@pytest.fixture(scope="module")
def MPI():
    try:
        from mpi4py import MPI
    except ImportError as exc:
        _missing(f"mpi4py is not installed ({exc}): pip install 'fastbp[mpi]'")
    return MPI


def _find_mpiexec():
    # the mpich wheel puts mpiexec next to the interpreter; else PATH
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return here if os.path.exists(here) else shutil.which("mpiexec")


@pytest.fixture(scope="module")
def mpiexec(MPI):
    exe = _find_mpiexec()
    if exe is None:
        _missing("mpiexec not found (pip install mpich, or a system MPI)")
    r = _run([exe, "-n", "2", sys.executable, "-c",
              "import sys; from mpi4py import MPI; "
              "sys.stdout.write('size %d\\n' % MPI.COMM_WORLD.Get_size())"], 60)
    # The ranks share one stdout: their lines may interleave mid-line
    # ("size 2size 2\n\n" was seen with PYTHONUNBUFFERED=1), so count matches.
    if r.returncode != 0 or re.findall(r"size (\d+)", r.stdout) != ["2", "2"]:
        _missing(f"{exe} -n 2 did not start 2 ranks of one job (an mpiexec of another MPI "
                 f"than mpi4py's?): rc={r.returncode} out={r.stdout!r} err={r.stderr[-500:]!r}")
    return exe


def _run(cmd, timeout, cwd=None, env=None):
    """Run cmd in its own process group; on timeout kill the group and fail (a hang)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=_env(**(env or {})), cwd=cwd or HERE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        pytest.fail(f"HANG: {' '.join(cmd)} still running after {timeout} s\n"
                    f"stdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}")
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def mpirun(mpiexec, n, *args, timeout=TIMEOUT, cwd=None, env=None):
    return _run([mpiexec, "-n", str(n), sys.executable, *args], timeout, cwd=cwd, env=env)


# ------------------------------------------------------------- no MPI needed

def test_shares_cover_the_batch_disjointly():
    for m in (0, 1, 2, 5, 64, 101):
        for size in (1, 2, 3, 7):
            sh = shares(m, size)
            assert len(sh) == size
            assert sh[0][0] == 0 and sh[-1][1] == m
            assert all(a[1] == b[0] for a, b in zip(sh, sh[1:]))
            sizes = [hi - lo for lo, hi in sh]
            assert max(sizes) - min(sizes) <= 1, (m, size, sh)
            # docs/distributed.md: rank r of N takes columns [M r // N, M (r + 1) // N)
            assert [tuple(s) for s in sh] == [(m * r // size, m * (r + 1) // size)
                                              for r in range(size)], (m, size, sh)


@pytest.mark.parametrize("m, size, exc", [(5, 0, ValueError), (-1, 2, ValueError),
                                           (5.5, 2, TypeError), (5, True, TypeError)])
def test_shares_refuses_bad_sizes(m, size, exc):
    with pytest.raises(exc, match="must be"):
        shares(m, size)


def test_replica_check_every_is_checked_without_comm_too():
    net = Network([2, 3, 1], seed=0)
    with pytest.raises(ValueError, match="replica_check_every must be an int >= 0"):
        net.fit(np.zeros((2, 4)), np.zeros((1, 4)), replica_check_every=-5, verbose=False)


def test_import_fastbp_never_imports_mpi4py():
    code = ("import sys; sys.modules['mpi4py'] = None\n"   # make `import mpi4py` fail
            "import fastbp, fastbp.distributed, fastbp.cli\n"
            "from fastbp import Network\n"
            "net = Network([2, 3, 1], seed=0)\n"
            "try:\n"
            "    net.fit([[0.0], [1.0]], [[1]], comm=object(), verbose=False)\n"
            "except ImportError as exc:\n"
            "    print('IMPORTERROR', exc)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=_env(), timeout=120, cwd=HERE)
    assert r.returncode == 0, r.stderr
    assert "IMPORTERROR" in r.stdout and "pip install 'fastbp[mpi]'" in r.stdout, r.stdout


def test_cli_distributed_without_mpi4py_is_a_clear_error():
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "from fastbp.cli import main\n"
            "sys.exit(main(['train', '--distributed', '--epochs', '2']))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=_env(), timeout=120, cwd=HERE)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "--distributed needs mpi4py" in r.stderr and "fastbp[mpi]" in r.stderr
    assert "Traceback" not in r.stderr


# ------------------------------------------------- one rank, in this process

def _data(rng, dims, output, m, dtype=np.float64):
    X = rng.standard_normal((dims[0], m)).astype(dtype)
    if output == "softmax":
        return X, rng.integers(0, dims[-1], m)
    return X, (rng.random((dims[-1], m)) > 0.5).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw,opt", [
    ({}, lambda: SGD(0.1, momentum=0.9)),
    (dict(lambd=0.3, keep_prob=[0.8, 0.7]), lambda: Adam(0.01)),
])
def test_one_rank_split_step_is_bitwise_the_fused_step(MPI, dtype, kw, opt):
    """grad_step + Allreduce + update on COMM_SELF == the one-call step, bit for bit."""
    rng = np.random.default_rng(1)
    dims = [7, 20, 12, 4]
    X, y = _data(rng, dims, "softmax", 90, dtype)
    a = Network(dims, "relu", "softmax", dtype=dtype, seed=2, **kw)
    b = Network(dims, "relu", "softmax", dtype=dtype, seed=2, **kw)
    ha = a.fit(X, y, epochs=3, batch_size=16, optimizer=opt(), seed=0, verbose=False,
               comm=MPI.COMM_SELF)
    hb = b.fit(X, y, epochs=3, batch_size=16, optimizer=opt(), seed=0, verbose=False)
    np.testing.assert_array_equal(a.flat_parameters, b.flat_parameters)
    # the float32 loss is summed in the float32 buffer
    np.testing.assert_allclose(ha["loss"], hb["loss"],
                               rtol=1e-6 if dtype == np.float32 else 1e-15)
    assert len(ha["allreduce_seconds"]) == 3 and all(t >= 0 for t in ha["allreduce_seconds"])
    oa, ob = Adam(0.01), Adam(0.01)
    for j in range(0, 90, 30):
        la = a.train_step(X[:, j:j + 30], y[j:j + 30], oa, comm=MPI.COMM_SELF)
        lb = b.train_step(X[:, j:j + 30], y[j:j + 30], ob)
        assert la == pytest.approx(lb, rel=1e-6 if dtype == np.float32 else 1e-15)
    np.testing.assert_array_equal(a.flat_parameters, b.flat_parameters)
    np.testing.assert_array_equal(a.flat_grads, b.flat_grads)


def test_one_rank_step_errors_leave_parameters_unchanged(MPI):
    comm = MPI.COMM_SELF
    rng = np.random.default_rng(0)
    net = Network([3, 5, 2], "relu", "softmax", dtype=np.float64, seed=0)
    X, y = _data(rng, [3, 5, 2], "softmax", 20)
    opt = SGD(0.1)
    net.train_step(X, y, opt, comm=comm)
    before = net.flat_parameters.copy()
    t = opt.t
    bad = y.copy()
    bad[3] = 5
    with pytest.raises(ValueError, match=r"class labels Y must be in 0\.\.1"):
        net.train_step(X, bad, opt, comm=comm)
    with pytest.raises(ValueError, match="features as rows"):
        net.train_step(X.T, y, opt, comm=comm)
    Xn = X.copy()
    Xn[0, 0] = np.inf
    with pytest.raises(FloatingPointError, match="not finite.*every rank"):
        net.train_step(Xn * 1e300, y, opt, comm=comm)
    np.testing.assert_array_equal(net.flat_parameters, before)
    assert opt.t == t
    net.train_step(X, y, opt, comm=comm)           # and training goes on
    assert opt.t == t + 1


def test_fit_with_comm_is_refused_while_the_network_is_fitting(MPI):
    """Fits with comm= are registered as running like local ones: nested in
    a fit's callback (either kind) they raise, and leave the running fit (its
    replica's settings included) as it was."""
    comm = MPI.COMM_SELF
    rng = np.random.default_rng(1)
    X, y = _data(rng, [3, 5, 2], "softmax", 40)
    net = Network([3, 5, 2], "relu", "softmax", dtype=np.float64, seed=0)
    twin = Network([3, 5, 2], "relu", "softmax", dtype=np.float64, seed=0)
    caught = []

    def nested(n, epoch, logs):
        # no pytest.raises here: an exception out of a callback of a fit with
        # comm= that is not a collective error aborts the MPI job (pytest too)
        for kwargs in ({"comm": comm, "replica_check_every": 1}, {}):
            try:
                n.fit(X, y, epochs=1, verbose=False, **kwargs)
            except RuntimeError as exc:
                caught.append(str(exc))
            else:
                caught.append("trained")

    for a, cb in ((net, nested), (twin, None)):
        a.fit(X, y, epochs=3, batch_size=8, seed=2, optimizer=Adam(0.01), verbose=False,
              comm=comm, replica_check_every=2, callback=cb)
    assert len(caught) == 6
    for msg in caught:
        assert msg.startswith("a fit of this network is already running"), msg
    np.testing.assert_array_equal(net.flat_parameters, twin.flat_parameters)
    with pytest.raises(RuntimeError, match="a fit of this network is already running"):
        net.fit(X, y, epochs=1, verbose=False, callback=lambda n, e, l: n.fit(
            X, y, epochs=1, verbose=False, comm=comm))
    net.fit(X, y, epochs=1, verbose=False, comm=comm)     # the registration was released


def test_bad_comm_and_arguments(MPI):
    net = Network([2, 3, 1], seed=0)
    X = np.zeros((2, 4))
    Y = np.zeros((1, 4))
    with pytest.raises(TypeError, match="mpi4py communicator such as MPI.COMM_WORLD"):
        net.fit(X, Y, comm="world", verbose=False)
    with pytest.raises(TypeError, match="mpi4py communicator"):
        net.train_step(X, Y, SGD(0.1), comm=42)
    with pytest.raises(ValueError, match="COMM_NULL"):
        net.fit(X, Y, comm=MPI.COMM_NULL, verbose=False)
    with pytest.raises(ValueError, match="replica_check_every must be an int >= 0"):
        net.fit(X, Y, comm=MPI.COMM_SELF, replica_check_every=-1, verbose=False)
    for bad in (1.5, "10", None, True):
        with pytest.raises(TypeError, match="replica_check_every must be an int >= 0"):
            net.fit(X, Y, comm=MPI.COMM_SELF, replica_check_every=bad, verbose=False)
    with pytest.raises(ValueError, match="sample_weight is not supported with comm="):
        net.fit(X, Y, comm=MPI.COMM_SELF, sample_weight=np.ones(4), verbose=False)
    with pytest.raises(ValueError, match="sample_weight is not supported with comm="):
        net.train_step(X, Y, SGD(0.1), comm=MPI.COMM_SELF, sample_weight=np.ones(4))
    # the data-parallel fit without a communicator trained locally on every rank
    with pytest.raises(TypeError, match="got NoneType"):
        fastbp.distributed.fit(net, X, Y, comm=None, verbose=False)
    # checked when the guard is made, not at the first error (where it hung)
    with pytest.raises(TypeError, match="mpi4py communicator"):
        fastbp.distributed.abort_on_error("COMM_WORLD")
    with pytest.raises(TypeError, match="mpi4py communicator"):
        fastbp.distributed.check_launcher(None)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        net.fit(X, Y, comm=MPI.COMM_SELF, batch_size=0, verbose=False)
    with pytest.raises(TypeError, match="optimizer must be a fastbp.optim optimizer"):
        net.train_step(X, Y, "adam", comm=MPI.COMM_SELF)


def test_mpiexec_of_another_mpi_is_detected(MPI, monkeypatch):
    # what a process sees when an mpiexec started 3 processes that mpi4py's MPI
    # does not know about: each one a job of 1
    monkeypatch.setenv("PMI_SIZE", "3")
    net = Network([2, 3, 1], seed=0)
    with pytest.raises(RuntimeError, match=r"started 3 processes \(PMI_SIZE=3\) but "
                       r"MPI.COMM_WORLD has 1: that mpiexec belongs to another MPI"):
        net.fit(np.zeros((2, 4)), np.zeros((1, 4)), comm=MPI.COMM_WORLD, verbose=False)
    net.fit(np.zeros((2, 4)), np.zeros((1, 4)), comm=MPI.COMM_SELF, verbose=False)


def test_mpiexec_of_another_mpi_is_detected_on_a_communicator_made_from_the_world(
        MPI, monkeypatch):
    # only comm == COMM_WORLD was checked: a library's COMM_WORLD.Dup() trained
    # N times alone, each process a job of 1
    monkeypatch.setenv("PMI_SIZE", "3")
    net = Network([2, 3, 1], seed=0)
    for make in (lambda: MPI.COMM_WORLD.Dup(), lambda: MPI.COMM_WORLD.Split(0, 0)):
        comm = make()
        try:
            with pytest.raises(RuntimeError, match=r"started 3 processes \(PMI_SIZE=3\) but "
                               r"MPI.COMM_WORLD has 1: that mpiexec belongs to another MPI"):
                net.fit(np.zeros((2, 4)), np.zeros((1, 4)), comm=comm, verbose=False)
        finally:
            comm.Free()


def test_broadcast_and_check_replicas_on_one_rank(MPI):
    from fastbp.distributed import broadcast_state, check_replicas, default_n_threads
    net = Network([3, 4, 2], "relu", "softmax", seed=0)
    opt = Adam(0.01)
    broadcast_state(net, MPI.COMM_SELF, opt)
    assert len(opt.state_arrays()) == 2 and opt.t == 0
    assert check_replicas(net, MPI.COMM_SELF, opt) is True
    assert default_n_threads(MPI.COMM_SELF) >= 1


# ------------------------------------------------------- under mpiexec -n K

@pytest.mark.parametrize("n,omp", [(2, None), (3, None), (2, "3")])
def test_default_threads_share_the_nodes_cores_or_follow_omp_num_threads(mpiexec, n, omp):
    """docs/distributed.md: n_threads=None is "min(cores this process may use,
    cores of the node // ranks on the node), or OMP_NUM_THREADS when set" (as
    is, even beyond the cores). Computed here from os, for ranks on this node."""
    code = ("import sys; from mpi4py import MPI; "
            "from fastbp.distributed import default_n_threads; "
            "sys.stdout.write('threads %d\\n' % default_n_threads(MPI.COMM_WORLD))")
    env = ["env", "-u", "OMP_NUM_THREADS"] if omp is None else ["env", f"OMP_NUM_THREADS={omp}"]
    r = _run([mpiexec, "-n", str(n), *env, sys.executable, "-c", code], 60)
    assert r.returncode == 0, r.stderr[-2000:]
    may_use = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    want = int(omp) if omp else max(1, min(may_use, os.cpu_count() // n))
    assert re.findall(r"threads (\d+)", r.stdout) == [str(want)] * n, (r.stdout, want)


@pytest.mark.parametrize("n", SIZES)
def test_fit_equals_one_process_and_replicas_identical(mpiexec, n, tmp_path):
    out = tmp_path / "res.npz"
    work = tmp_path / "work"
    work.mkdir()
    r = mpirun(mpiexec, n, os.path.join(SCRIPTS, "fit_equivalence.py"), str(out), str(work))
    assert r.returncode == 0, f"rc={r.returncode}\n{r.stdout}\n{r.stderr}"
    res = np.load(out)
    assert int(res["size"]) == n, "mpiexec did not start the ranks as one job"
    cases = sorted({k.split("/")[0] for k in res.files if "/" in k})
    assert len(cases) == 9, cases
    for case in cases:
        dist, single = res[f"{case}/dist"], res[f"{case}/single"]
        assert dist.shape == (n, single.size), case
        for r_ in range(1, n):     # replicas: bitwise identical on every rank
            np.testing.assert_array_equal(dist[r_], dist[0],
                                          err_msg=f"{case}: rank {r_} differs from rank 0")
        tol = 1e-4 if dist.dtype == np.float32 else 1e-10
        scale = np.max(np.abs(single))
        err = np.max(np.abs(dist[0].astype(np.float64) - single)) / scale
        assert err <= tol, f"{case}: distributed vs one process: relative error {err:.3g}"
        dl, sl = res[f"{case}/dist_loss"], res[f"{case}/single_loss"]
        np.testing.assert_allclose(dl, sl, rtol=tol * 10, err_msg=case)
    # train_step(comm=...) returns the same global loss on every rank
    losses = res["train_step/all_rank_losses"]
    assert np.all(losses == losses[0])
    # one checkpoint file, written by rank 0, nothing half-written left
    assert list(res["resume/files"]) == ["dist_ck.npz"]


@pytest.mark.parametrize("n", SIZES)
def test_rank_raising_in_fit_aborts_every_rank(mpiexec, n):
    r = mpirun(mpiexec, n, os.path.join(SCRIPTS, "failures.py"), "callback", timeout=120)
    assert r.returncode != 0
    assert f"fastbp: rank {n - 1} of {n} failed: RuntimeError: boom from the callback" \
        in r.stderr, r.stderr
    assert "not reached" not in r.stdout


def test_ctrl_c_on_one_rank_in_fit_aborts_without_a_traceback(mpiexec):
    r = mpirun(mpiexec, 2, os.path.join(SCRIPTS, "failures.py"), "ctrl_c", timeout=120)
    assert r.returncode != 0
    assert "fastbp: rank 1 of 2 failed: KeyboardInterrupt" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "not reached" not in r.stdout, r.stderr


@pytest.mark.parametrize("delay", ["1", "0"])
def test_a_rank_waiting_long_in_a_collective_says_so(mpiexec, delay):
    """A rank whose peer is late by more than FASTBP_MPI_STALL_SECONDS says
    where it waits (a peer that never comes would leave it silent for ever),
    then that the wait ended; 0 turns the notice off."""
    r = mpirun(mpiexec, 2, os.path.join(SCRIPTS, "failures.py"), "slow_rank", timeout=120,
               env={"FASTBP_MPI_STALL_SECONDS": delay})
    assert r.returncode == 0, r.stderr
    assert "rank 0: fit done" in r.stdout and "rank 1: fit done" in r.stdout, r.stdout
    waited = re.findall(r"fastbp: rank (\d) of 2 has waited 1 s in the setup exchange", r.stderr)
    ended = re.findall(r"fastbp: rank (\d) of 2: the setup exchange .* went on after "
                       r"(\d+\.\d) s", r.stderr)
    if delay == "0":
        assert not waited and not ended and "has waited" not in r.stderr, r.stderr
    else:
        assert waited == ["0"], r.stderr            # rank 1 itself was not waiting
        assert [rank for rank, _ in ended] == ["0"], r.stderr
        assert 1.0 <= float(ended[0][1]) < 60, r.stderr


def test_stall_notice_delay_is_checked(monkeypatch):
    from fastbp.distributed import STALL_SECONDS, _StallWatch
    for raw in ("soon", "-1", "nan"):
        monkeypatch.setenv("FASTBP_MPI_STALL_SECONDS", raw)
        with pytest.warns(RuntimeWarning, match="FASTBP_MPI_STALL_SECONDS=.* is not a number"):
            assert _StallWatch().limit() == STALL_SECONDS
    monkeypatch.setenv("FASTBP_MPI_STALL_SECONDS", " 2.5 ")
    assert _StallWatch().limit() == 2.5


@pytest.mark.parametrize("n", SIZES)
def test_abort_on_error_ends_ranks_waiting_in_a_collective(mpiexec, n):
    r = mpirun(mpiexec, n, os.path.join(SCRIPTS, "failures.py"), "script", timeout=120)
    assert r.returncode != 0
    assert f"rank {n - 1} of {n} failed: KeyError" in r.stderr, r.stderr
    assert "a key missing on this rank only" in r.stderr
    assert "not reached" not in r.stdout


@pytest.mark.parametrize("n", SIZES)
def test_inconsistent_data_shapes_detected_at_start(mpiexec, n):
    r = mpirun(mpiexec, n, os.path.join(SCRIPTS, "failures.py"), "shape", timeout=120)
    assert r.returncode == 1, (r.returncode, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("fastbp: error")]
    assert len(lines) == 1, r.stderr            # printed once, by rank 0
    msg = lines[0]
    assert f"error on all {n} ranks: ValueError: inconsistent setup" in msg, msg
    assert "X shape / dtype: ((4, 60), '<f8') on rank" in msg, msg
    assert re.search(rf"\(\(4, 59\), '<f8'\) on rank {n - 1}\b", msg), msg
    assert "Traceback" not in r.stderr


def test_nested_abort_on_error_guards_exit_once_without_abort(mpiexec):
    # the inner guard's SystemExit(1) was unmarked: the outer one took it for
    # one rank's exit and aborted every rank, "SystemExit(1) on this rank only"
    r = mpirun(mpiexec, 2, os.path.join(SCRIPTS, "failures.py"), "nested", timeout=120)
    assert r.returncode == 1, (r.returncode, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("fastbp: ")]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("fastbp: error on all 2 ranks: ValueError: inconsistent "
                               "setup"), r.stderr
    assert "MPI_Abort" not in r.stderr and "Traceback" not in r.stderr, r.stderr


@pytest.mark.parametrize("n", SIZES)
def test_error_inside_a_step_raises_on_every_rank(mpiexec, n):
    r = mpirun(mpiexec, n, os.path.join(SCRIPTS, "failures.py"), "labels", timeout=120)
    assert r.returncode == 0, r.stderr
    caught = sorted(ln for ln in r.stdout.splitlines() if "caught" in ln)
    assert len(caught) == n, r.stdout
    for ln in caught:
        rank = int(ln.split()[1].rstrip(":"))
        if rank == n - 1:
            assert "caught ValueError: class labels Y must be in 0..2" in ln, ln
        else:
            assert f"caught RankFailedError: rank {n - 1}: ValueError: class labels" in ln, ln
        assert ln.endswith("unchanged=True"), ln
    assert r.stdout.count("continued") == n


@pytest.mark.parametrize("n", SIZES)
def test_ctrl_c_inside_a_step_on_one_rank_raises_on_every_rank(mpiexec, n):
    # the step caught Exception only: the interrupted rank left while the
    # others waited in the gradient Allreduce for ever
    r = mpirun(mpiexec, n, os.path.join(SCRIPTS, "failures.py"), "step_int", timeout=120)
    lines = _caught(r, n)
    assert lines[n - 1] == ["caught KeyboardInterrupt:  | unchanged=True"], lines
    for rank in range(n - 1):
        assert lines[rank] == [f"caught RankFailedError: rank {n - 1}: KeyboardInterrupt "
                               "(no update was made on any rank) | unchanged=True"], lines
    assert r.stdout.count("continued") == n, r.stdout


@pytest.mark.parametrize("n", SIZES)
def test_replica_divergence_is_detected(mpiexec, n):
    r = mpirun(mpiexec, n, os.path.join(SCRIPTS, "failures.py"), "diverge", timeout=120)
    assert r.returncode == 0, r.stderr
    caught = [ln for ln in r.stdout.splitlines() if "caught ReplicaMismatchError" in ln]
    assert len(caught) == n, r.stdout
    assert f"ranks {n - 1}: crc32" in caught[0], caught[0]


@pytest.mark.parametrize("n", SIZES)
def test_a_setting_changed_on_one_rank_is_a_replica_mismatch(mpiexec, n):
    # the check compared the parameters and optimizer state only: one rank's
    # lambd mixed into the summed gradient (the parameters stay equal) and a
    # rate changed in the last epoch went unnoticed
    r = mpirun(mpiexec, n, os.path.join(SCRIPTS, "failures.py"), "settings", timeout=120)
    for rank, lines in _caught(r, n).items():
        assert len(lines) == 2, lines
        assert lines[0].startswith("lambd: caught ReplicaMismatchError"), lines
        assert "lambd: 0.0 on rank" in lines[0] and f"0.5 on rank {n - 1}" in lines[0], lines
        assert lines[1].startswith("lr: caught ReplicaMismatchError"), lines
        assert "learning rate in force: 0.01 on rank" in lines[1], lines
        assert f"0.5 on rank {n - 1}" in lines[1], lines


def test_checkpoint_write_failure_raises_on_every_rank(mpiexec):
    r = mpirun(mpiexec, 2, os.path.join(SCRIPTS, "failures.py"), "checkpoint", timeout=120)
    assert r.returncode == 0, r.stderr
    # a missing directory: found at the setup exchange, before any update
    assert "rank 0: caught FileNotFoundError" in r.stdout, r.stdout
    assert "rank 1: caught RankFailedError: rank 0: FileNotFoundError" in r.stdout, r.stdout
    # a directory removed during training: at the write
    assert "rank 0: during training caught FileNotFoundError" in r.stdout, r.stdout
    assert "rank 1: during training caught RankFailedError: rank 0 failed while writing " \
        "the checkpoint" in r.stdout, r.stdout


def _caught(r, n):
    """Every rank's "caught" line (failures.py reports them from rank 0), by rank."""
    assert r.returncode == 0, (r.returncode, r.stderr[-3000:])
    lines = {}
    for ln in r.stdout.splitlines():
        m = re.match(r"rank (\d+): (.*)", ln)
        if m and "caught" in ln:
            lines.setdefault(int(m.group(1)), []).append(m.group(2))
    assert sorted(lines) == list(range(n)), r.stdout
    return lines


@pytest.mark.parametrize("n", SIZES)
def test_checkpoint_path_on_rank_0_only_is_a_setup_error(mpiexec, n, tmp_path):
    # it was not compared: the ranks without a path skipped the checkpoint
    # broadcasts, which then paired with the user's own collectives (or hung)
    r = mpirun(mpiexec, n, os.path.join(SCRIPTS, "failures.py"), "ckpt_root", timeout=120,
               cwd=str(tmp_path))
    for rank, lines in _caught(r, n).items():
        assert len(lines) == 1, lines
        assert "inconsistent setup" in lines[0], lines[0]
        assert "checkpoint_path given / checkpoint_every / resume: (True, 1, False) on " \
               "rank 0" in lines[0], lines[0]
    assert not (tmp_path / "unused-ck.npz").exists()


@pytest.mark.parametrize("n", SIZES)
def test_sample_weight_on_one_rank_raises_on_every_rank(mpiexec, n):
    # it was refused before the setup exchange, so the other ranks hung there
    r = mpirun(mpiexec, n, os.path.join(SCRIPTS, "failures.py"), "weights", timeout=120)
    for rank, lines in _caught(r, n).items():
        assert [ln.split()[0] for ln in lines] == ["fit", "train_step"], lines
        for ln in lines:
            if rank == n - 1:
                assert "caught ValueError: sample_weight is not supported with comm=" in ln
            else:
                assert f"caught RankFailedError: rank {n - 1}: ValueError: sample_weight " \
                       "is not supported" in ln, ln


@pytest.mark.parametrize("n", SIZES)
def test_a_busy_network_on_one_rank_refuses_the_fit_on_every_rank(mpiexec, n):
    # a fit with comm= was not registered as running: on the busy rank it
    # interleaved its steps with the local fit's while the others trained alone
    r = mpirun(mpiexec, n, os.path.join(SCRIPTS, "failures.py"), "busy", timeout=120)
    for rank, lines in _caught(r, n).items():
        assert len(lines) == 1, lines
        if rank == n - 1:
            assert "caught RuntimeError: a fit of this network is already running" in lines[0]
        else:
            assert f"caught RankFailedError: rank {n - 1}: RuntimeError: a fit of this " \
                   "network is already running" in lines[0], lines
    for rank in range(n):
        assert f"rank {rank}: trained after it" in r.stdout, r.stdout


@pytest.mark.parametrize("n", SIZES)
def test_ctrl_c_on_one_rank_while_fit_checks_the_data(mpiexec, n):
    # a KeyboardInterrupt there escaped the setup exchange: the others hung
    r = mpirun(mpiexec, n, os.path.join(SCRIPTS, "failures.py"), "interrupt", timeout=120)
    for rank, lines in _caught(r, n).items():
        if rank == n - 1:
            assert lines == ["caught KeyboardInterrupt: "], lines
        else:
            assert lines == [f"caught RankFailedError: rank {n - 1}: KeyboardInterrupt"], lines


def test_ctrl_c_during_the_crc_or_the_wait_of_the_setup_exchange(mpiexec):
    # both escaped the setup exchange on one rank: the others hung in it
    r = mpirun(mpiexec, 2, os.path.join(SCRIPTS, "failures.py"), "crc_int", timeout=120)
    assert _caught(r, 2) == {1: ["caught KeyboardInterrupt: "],
                             0: ["caught RankFailedError: rank 1: KeyboardInterrupt"]}
    r = mpirun(mpiexec, 2, os.path.join(SCRIPTS, "failures.py"), "wait_int", timeout=120)
    assert r.returncode != 0
    assert "fastbp: rank 1 of 2 failed: KeyboardInterrupt" in r.stderr, r.stderr
    assert "not reached" not in r.stdout


def test_first_train_step_after_a_fit_compares_the_batches(mpiexec):
    # fit had synchronised the optimizer, so train_step skipped its comparison
    r = mpirun(mpiexec, 2, os.path.join(SCRIPTS, "failures.py"), "after_fit", timeout=120)
    for rank, lines in _caught(r, 2).items():
        assert "X memory order / contents (CRC-32)" in lines[0], lines


def test_a_function_schedule_on_one_rank_is_a_setup_error(mpiexec):
    # get_config() has None for a plain function: the ranks trained at
    # different rates until the final replica check
    r = mpirun(mpiexec, 2, os.path.join(SCRIPTS, "failures.py"), "schedule", timeout=120)
    for rank, lines in _caught(r, 2).items():
        assert "inconsistent setup" in lines[0] and "'halving')" in lines[0], lines


def test_a_float32_X_on_one_rank_is_named(mpiexec):
    r = mpirun(mpiexec, 2, os.path.join(SCRIPTS, "failures.py"), "dtype", timeout=120)
    for rank, lines in _caught(r, 2).items():
        assert "X / Y dtype as given: ('float64', 'int64') on rank 0; ('float32', 'int64') " \
               "on rank 1" in lines[0], lines


@pytest.mark.parametrize("n", SIZES)
def test_a_new_optimizer_on_one_rank_raises_on_every_rank(mpiexec, n):
    # the switching rank started the setup exchange while the others waited
    # in the step's Allreduce: a hang
    r = mpirun(mpiexec, n, os.path.join(SCRIPTS, "failures.py"), "switch_opt", timeout=120)
    for rank, lines in _caught(r, n).items():
        assert len(lines) == 1 and lines[0].startswith("caught ValueError at step 3: "
                                                       "train_step got a new optimizer "
                                                       f"object on rank {n - 1} only "
                                                       f"(1 of {n} ranks)"), lines
        assert "no update was made on any rank" in lines[0], lines


@pytest.mark.parametrize("n", SIZES)
def test_training_goes_on_after_a_new_optimizer_on_one_rank(mpiexec, n):
    # the rank that switched alone kept the new optimizer bound: the next step,
    # every rank passing the old one, raised "a new optimizer on rank K only" again
    r = mpirun(mpiexec, n, os.path.join(SCRIPTS, "failures.py"), "switch_back", timeout=120)
    for rank, lines in _caught(r, n).items():
        assert len(lines) == 1 and lines[0].startswith("caught ValueError at step 3: "), lines
    assert r.stdout.count("replicas identical, net.optimizer is opt: True") == n, r.stdout


def test_a_new_optimizer_on_every_rank_is_set_up_and_trains(mpiexec, tmp_path):
    r = mpirun(mpiexec, 2, os.path.join(SCRIPTS, "failures.py"), "switch_all", timeout=120)
    assert r.returncode == 0, r.stderr
    lines = [ln.split(": ", 1)[1] for ln in r.stdout.splitlines() if ln.startswith("rank ")]
    assert len(lines) == 2 and lines[0] == lines[1], lines     # same loss, same parameters
    # and the same numbers as one process making those six steps
    from fastbp import SGD, Adam, Network
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 60))
    y = rng.integers(0, 3, 60)
    net = Network([4, 8, 3], "relu", "softmax", dtype="float64", seed=0)
    opt = Adam(0.01)
    for step in range(6):
        if step == 3:
            opt = SGD(0.05)
        b = slice(10 * step, 10 * step + 10)
        loss = net.train_step(X[:, b], y[b], opt)
    np.testing.assert_allclose(float(lines[0].split()[1]), loss, rtol=1e-12)


def test_resume_from_a_checkpoint_saved_before_training(mpiexec, tmp_path):
    # rank 0 raised "'NoneType' object has no attribute 'get_config'" (a
    # fresh user's trial): the checkpoint holds no optimizer, fit's default trains
    path = str(tmp_path / "init.npz")
    r = mpirun(mpiexec, 2, os.path.join(SCRIPTS, "failures.py"), "resume_init", path,
               timeout=120)
    assert r.returncode == 0, r.stderr
    lines = [ln.split(": ", 1)[1] for ln in r.stdout.splitlines() if ln.startswith("rank ")]
    assert len(lines) == 2 and lines[0] == lines[1], lines
    assert lines[0].endswith("SGD 0.01"), lines[0]


@pytest.mark.parametrize("n", SIZES)
def test_resume_after_a_rate_change_keeps_the_replicas_identical(mpiexec, n, tmp_path):
    # the checkpoint's rate in force was set on rank 0 alone (the others kept
    # the optimizer's lr0): the replicas trained apart until the replica check
    r = mpirun(mpiexec, n, os.path.join(SCRIPTS, "failures.py"), "resume_lr",
               str(tmp_path / "ck.npz"), timeout=120)
    assert r.returncode == 0, r.stderr
    lines = [ln.split(": ", 1)[1] for ln in r.stdout.splitlines() if ln.startswith("rank ")]
    assert len(lines) == 2 * n, r.stdout
    assert not any("caught" in ln for ln in lines), r.stdout
    assert len(set(lines)) == 1, lines       # both resumes, every rank: the same
    assert lines[0].startswith("lr [0.1, 0.01, 0.01, 0.01] crc "), lines[0]


def test_a_rate_set_on_one_rank_is_a_setup_error(mpiexec):
    # get_config() holds lr0, not the rate in force: the ranks trained at
    # different rates until the replica check
    r = mpirun(mpiexec, 2, os.path.join(SCRIPTS, "failures.py"), "lr_one_rank", timeout=120)
    for rank, lines in _caught(r, 2).items():
        assert "inconsistent setup" in lines[0], lines
        assert "optimizer learning rate in force: 0.1 on rank 0; 0.5 on rank 1" in lines[0], lines


def test_an_optimizer_unusable_in_the_networks_dtype_is_a_setup_error(mpiexec):
    # found when the optimizer was bound, after the setup exchange: fit
    # aborted the job (MPI_Abort) instead of raising on every rank
    r = mpirun(mpiexec, 2, os.path.join(SCRIPTS, "failures.py"), "eps_dtype", timeout=120)
    for rank, lines in _caught(r, 2).items():
        assert [ln.split()[0] for ln in lines] == ["fit", "train_step"], lines
        for ln in lines:
            assert "caught ValueError (collective True): eps=1e-50 is 0 in float32" in ln, ln


@pytest.mark.parametrize("n", SIZES)
def test_each_rank_passing_its_own_part_of_the_batch_is_found(mpiexec, n):
    # train_step compared shapes only: equal halves trained silently on half the data
    r = mpirun(mpiexec, n, os.path.join(SCRIPTS, "failures.py"), "own_part", timeout=120)
    for rank, lines in _caught(r, n).items():
        assert "inconsistent setup" in lines[0], lines
        assert "X memory order / contents (CRC-32)" in lines[0], lines


# --------------------------------------------------------------- the CLI

@pytest.mark.parametrize("n", SIZES)
def test_cli_train_distributed_builtin_data(mpiexec, n, tmp_path):
    ck = tmp_path / "planar.npz"
    r = mpirun(mpiexec, n, "-m", "fastbp", "train", "--distributed", "--epochs", "1500",
               "-q", "--save", str(ck), cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.count("final    loss") == 1, out      # only rank 0 prints
    assert f"{n} processes x " in out, out
    acc = float(re.search(r"accuracy ([\d.]+)%", out).group(1))
    assert acc >= 85.0, out
    assert re.search(r"allreduce +[\d.]+ us/step", out), out
    assert sorted(os.listdir(tmp_path)) == ["planar.npz"]
    from fastbp.datasets import load_planar_dataset
    X, Y = load_planar_dataset()
    assert Network.load(ck).evaluate(X, Y)[1] == pytest.approx(acc / 100, abs=1e-4)


@pytest.mark.parametrize("n", SIZES)
def test_cli_train_distributed_csv(mpiexec, n, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    path = tmp_path / "d.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header="a,b,c,d,label",
               comments="")
    # --test-size 0: train on all 300 rows, as before the CLI held out 20% by default
    r = mpirun(mpiexec, n, "-m", "fastbp", "train", "--distributed", "--data", str(path),
               "--epochs", "15", "--batch-size", "32", "--test-size", "0", "-q",
               cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("300 examples, 4 features, 3 classes") == 1, r.stdout
    acc = float(re.search(r"accuracy ([\d.]+)%", r.stdout).group(1))
    assert acc >= 80.0, r.stdout


def test_cli_distributed_setup_error_printed_once(mpiexec, tmp_path):
    r = mpirun(mpiexec, 2, "-m", "fastbp", "train", "--distributed", "--data",
               str(tmp_path / "missing.csv"), cwd=str(tmp_path), timeout=120)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.count("fastbp: error: --data") == 1, r.stderr
    assert "no such file" in r.stderr and "Traceback" not in r.stderr


def _cli_per_rank(mpiexec, tmp_path, rank0_value, rank1_value, argv):
    """``fastbp train`` under ``mpiexec -n 2`` in tmp_path, where the string
    "{f}" in argv is rank0_value on rank 0 and rank1_value on rank 1."""
    script = ("import sys; from mpi4py import MPI; from fastbp.cli import main\n"
              f"f = {rank1_value!r} if MPI.COMM_WORLD.Get_rank() == 1 else {rank0_value!r}\n"
              f"sys.exit(main([a.replace('{{f}}', f) for a in {argv!r}]))\n")
    return mpirun(mpiexec, 2, "-c", script, cwd=str(tmp_path), timeout=120)


def test_cli_data_error_on_one_rank_exits_1_without_class_names(mpiexec, tmp_path):
    # rank 0 exited 2 (its RankFailedError had no status) and rank 1 1:
    # mpiexec reported 3; the message quoted the CLI's internal CLIError
    (tmp_path / "ok.csv").write_text("a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n2,2,0\n3,3,1\n")
    (tmp_path / "nan.csv").write_text("a,b,y\n1,,0\n3,4,1\n5,6,0\n7,8,1\n2,2,0\n3,3,1\n")
    r = _cli_per_rank(mpiexec, tmp_path, "ok.csv", "nan.csv",
                      ["train", "--distributed", "--data", "{f}", "-q"])
    assert r.returncode == 1, (r.returncode, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("fastbp: error")]
    assert lines == ["fastbp: error: rank 1: missing values (NA, empty or NaN) in 1 row "
                     "(line 2) of column 'b': fill them in, drop those columns with --drop, "
                     "or drop those rows with --dropna"], r.stderr


def test_cli_launcher_of_another_mpi_is_one_line(MPI):
    code = ("import sys; from fastbp.cli import main\n"
            "sys.exit(main(['train', '--distributed', '-q']))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(_env(), PMI_SIZE="3"), timeout=120, cwd=HERE)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stdout == "", r.stdout                 # nothing printed before it
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("fastbp")]
    assert errors == [ln for ln in errors if ln.startswith("fastbp: error: the launcher "
                                                          "started 3 processes (PMI_SIZE=3)")]
    assert len(errors) == 1 and "MPI_Abort" not in r.stderr, r.stderr


def test_cli_without_distributed_under_a_launcher_says_so(tmp_path):
    code = ("import sys; from fastbp.cli import main\n"
            "sys.exit(main(['train', '--epochs', '2', '-q']))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(_env(), PMI_SIZE="2"), timeout=120, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert ("note     mpiexec started 2 processes and each trains a model of its own: add "
            "--distributed to train one model on all of them") in r.stdout, r.stdout


def test_cli_save_directory_needs_to_exist_on_rank_0_only(mpiexec, tmp_path):
    # every rank checked --save, though only rank 0 writes it: a machine
    # without that directory failed the run
    r = _cli_per_rank(mpiexec, tmp_path, "m.npz", "/nonexistent-dir/m.npz",
                      ["train", "--distributed", "--epochs", "2", "-q", "--save", "{f}"])
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert (tmp_path / "m.npz").exists()


def test_cli_different_data_on_the_ranks_is_said_in_the_clis_terms(mpiexec, tmp_path):
    rows = "".join(f"{i % 7},{(3 * i) % 5},{i % 2}\n" for i in range(40))
    (tmp_path / "a.csv").write_text("a,b,y\n" + rows)
    (tmp_path / "b.csv").write_text("a,b,y\n" + rows.replace("6,", "5,", 1))
    r = _cli_per_rank(mpiexec, tmp_path, "a.csv", "b.csv",
                      ["train", "--distributed", "--data", "{f}", "-q", "--epochs", "2"])
    assert r.returncode == 1, (r.returncode, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("fastbp")]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("fastbp: error: the ranks read different data or options: "
                               "every rank must read the same --data"), lines
    assert "ValueError" not in r.stderr and "Traceback" not in r.stderr


def test_fit_shuffles_as_rank_0_when_the_step_counts_differ(mpiexec):
    # without a seed the orders come from (seed, step_count at the fit's
    # start); the count was read before fit broadcast rank 0's, so a rank
    # whose count differed (a model loaded on rank 0 only) drew other orders
    # and the ranks summed shares of different batches, silently
    script = (
        "import numpy as np\n"
        "from mpi4py import MPI\n"
        "import fastbp, fastbp._fit as F\n"
        "from fastbp.optim import SGD\n"
        "comm = MPI.COMM_WORLD\n"
        "X = np.random.default_rng(0).standard_normal((3, 40)); Y = (X[:1] > 0) * 1.0\n"
        "net = fastbp.Network([3, 4, 1], seed=5, n_threads=1)\n"
        "if comm.rank == 0:\n"
        "    net.step_count = 7\n"
        "seeds, rng = [], np.random.default_rng\n"
        "F.np.random.default_rng = lambda s=None: (seeds.append(repr(s)), rng(s))[1]\n"
        "net.fit(X, Y, optimizer=SGD(0.1), epochs=1, batch_size=8, verbose=False, comm=comm)\n"
        "F.np.random.default_rng = rng\n"
        "got = comm.allgather(seeds)\n"
        "if comm.rank == 0:\n"
        "    print('SEEDS', got)\n")
    r = mpirun(mpiexec, 2, "-c", script, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "SEEDS [['[5, 7]'], ['[5, 7]']]" in r.stdout, r.stdout
