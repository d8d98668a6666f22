"""Process-level faults (issue 12, "Also must show").

* A checkpoint write killed with SIGKILL at a random point leaves the previous
  checkpoint loadable: a child process saves a network over and over (each
  version's parameters all equal to its version number), the parent kills it
  after a random delay, 20 times; after every kill the file loads and holds
  one whole version, never older than the one before.
* A full disk (ENOSPC, simulated at each step of the write: the data, the
  fsync, the rename) gives an OSError that names the path and keeps errno,
  the old checkpoint stays loadable and unchanged, no temporary file remains.
* An MPI rank killed with SIGKILL mid-fit ends every rank within a bounded
  time with a non-zero status (mpiexec -n 2 and -n 3, tests/mpi_scripts/
  killed_rank.py, run with a timeout; skipped without MPI as in
  tests/test_distributed.py).
"""
import errno
import glob
import os
import random
import re
import select
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import fastbp
from fastbp import Network

from test_distributed import MPI, SCRIPTS, _env, _run, mpiexec  # noqa: F401  (fixtures)

N_KILLS = 20

_WRITER = r"""
import sys
import numpy as np
import fastbp
path, start = sys.argv[1], int(sys.argv[2])
net = fastbp.Network([400, 300, 1], dtype="float64", seed=0)   # 120k parameters, ~1 MB
print("ready", flush=True)
k = start
while True:
    k += 1
    net.flat_parameters[...] = k
    net.save(path, extra={"version": k})
"""


def _version(path):
    """The version a checkpoint holds; it must be one whole version."""
    net = Network.load(path)
    p = net.flat_parameters
    v = float(p[0])
    assert np.all(p == v), f"checkpoint {path} mixes versions: {np.unique(p)[:5]}"
    return int(v)


@pytest.mark.slow
def test_checkpoint_killed_mid_write_leaves_the_previous_one_loadable(tmp_path):
    path = str(tmp_path / "ckpt.npz")
    net = Network([400, 300, 1], dtype="float64", seed=0)
    net.flat_parameters[...] = 0
    net.save(path)
    rnd = random.Random(12)
    last = 0
    interrupted = 0        # kills that left a temporary file: they hit a write
    env = _env()
    for it in range(N_KILLS):
        p = subprocess.Popen([sys.executable, "-c", _WRITER, path, str(last * 1000 + 1000)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                             cwd=str(tmp_path))
        try:
            ready, _, _ = select.select([p.stdout], [], [], 120)
            assert ready and p.stdout.readline().strip() == b"ready", \
                f"writer did not start: {p.stderr.read().decode()[-2000:]}"
            time.sleep(rnd.uniform(0.02, 0.4))
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=60)
            p.stdout.close()
            p.stderr.close()
        assert p.returncode == -signal.SIGKILL
        tmps = glob.glob(str(tmp_path / ".fastbp-ckpt-*.tmp"))
        interrupted += bool(tmps)
        for t in tmps:              # what a crashed writer leaves; never read
            os.unlink(t)
        v = _version(path)
        assert v >= last, f"kill {it}: the checkpoint went back from version {last} to {v}"
        last = v
    # the random delays must have caught writes in progress, or this tested nothing
    assert interrupted >= 1, f"no kill hit a write in {N_KILLS} tries"


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("where", ["savez", "fsync", "replace"])
def test_full_disk_keeps_the_old_checkpoint_and_names_the_path(tmp_path, monkeypatch, where):
    path = str(tmp_path / "model.npz")
    old = Network([3, 4, 1], seed=1)
    old.save(path)
    before = open(path, "rb").read()
    new = Network([3, 4, 1], seed=2)
    from fastbp import checkpoint
    target = {"savez": (checkpoint, "_savez"), "fsync": (os, "fsync"),
              "replace": (os, "replace")}[where]
    monkeypatch.setattr(*target, _enospc)
    with pytest.raises(OSError) as info:
        new.save(path)
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC
    assert path in str(info.value) and "No space left" in str(info.value)
    assert open(path, "rb").read() == before
    np.testing.assert_array_equal(Network.load(path).flat_parameters, old.flat_parameters)
    assert not glob.glob(str(tmp_path / ".fastbp-ckpt-*")), "temporary file left behind"


def test_full_disk_during_fit_checkpoint(tmp_path, monkeypatch):
    path = str(tmp_path / "fit.npz")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 40))
    y = (X[0] > 0).astype(float)
    net = Network([3, 4, 1], seed=0, dtype="float64")
    net.fit(X, y, epochs=1, verbose=False, checkpoint_path=path)
    before = open(path, "rb").read()
    monkeypatch.setattr(os, "replace", _enospc)
    with pytest.raises(OSError, match="No space left") as info:
        net.fit(X, y, epochs=3, verbose=False, checkpoint_path=path, resume=True)
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC and path in str(info.value)
    assert open(path, "rb").read() == before
    Network.load(path)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:   # a zombie (exited, not yet reaped by its parent) counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("n", [2, 3])
def test_mpi_rank_killed_mid_fit_ends_every_rank(mpiexec, n):  # noqa: F811
    delay = random.Random(n).uniform(0.3, 1.5)
    t0 = time.monotonic()
    r = _run([mpiexec, "-n", str(n), sys.executable, os.path.join(SCRIPTS, "killed_rank.py"),
              f"{delay:.3f}"], timeout=120)
    elapsed = time.monotonic() - t0
    out = r.stdout + r.stderr
    assert r.returncode != 0, f"the job exited 0 with a rank killed:\n{out[-3000:]}"
    assert "fit finished" not in out, out[-3000:]
    # mpiexec forwards the ranks' stdout concurrently: two ranks' lines can
    # arrive joined ("... pid 12 fittingrank 0 of 3: pid 11 fitting")
    pids = [int(p) for p in re.findall(r"rank \d+ of \d+: pid (\d+)", r.stdout)]
    assert len(pids) == n, f"expected {n} ranks to start:\n{out[-3000:]}"
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids), f"ranks still running after the job ended: {pids}"
    assert elapsed < delay + 60, f"the job took {elapsed:.1f} s to end after the kill"


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="POSIX file modes")
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_saved_model_gets_the_umask_mode_not_mkstemps_0600(tmp_path, mask):
    """A fresh-user trial found every saved model -rw------- whatever the umask
    (the atomic write's mkstemp file kept its 0600): a model served by another
    account could not be read. It now gets 0666 less the umask, as a plain
    open() would, and so does a model written over an existing one."""
    from fastbp.network import Network
    old = os.umask(mask)
    try:
        net = Network([3, 2, 1], seed=0)
        path = str(tmp_path / "m.npz")
        for _ in range(2):                      # new file, then written over
            net.save(path)
            assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask, oct(os.stat(path).st_mode)
    finally:
        os.umask(old)
