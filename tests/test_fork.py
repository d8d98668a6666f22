"""fork() after fastbp's threads ran: the child's fits and kernels finish.

libgomp's worker threads do not survive fork(); an OpenMP team started in the
child of a process that had run one waits forever for them (GCC bug 60035).
multiprocessing's 'fork' start method, Linux's default before Python 3.14,
does exactly that after a fit in the parent. fastbp runs such a child's
kernels on one thread (fastbp._openmp_helpers.team_threads), as n_threads=1
does: the results must equal the parent's with n_threads=1 bit for bit. (Its
two-thread results can differ in the last bits: OpenBLAS's SkylakeX kernels
round a GEMM on a row block differently from one on the whole.) The scenarios
run in a subprocess with a timeout, so that a hang fails the test instead of
stopping the suite.
"""
import os
import subprocess
import sys
import textwrap

import pytest

import fastbp

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() on this platform"),
    pytest.mark.skipif(not fastbp.openmp_enabled(), reason="fastbp built without OpenMP"),
]

SCENARIO = textwrap.dedent("""
    import multiprocessing as mp
    import numpy as np
    import fastbp
    from fastbp._openmp_helpers import forked_single_threaded

    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3000))
    Y = (X[:3].sum(axis=0, keepdims=True) > 0).astype(np.float64)
    W = rng.standard_normal((512, 64)) * 0.1
    b = rng.standard_normal((512, 1))
    dZ = rng.standard_normal((512, 3000))
    logits = rng.standard_normal((10, 20000))

    def work(nt=2):
        net = fastbp.Network([64, 32, 16, 1], hidden="relu", output="sigmoid", seed=1,
                             dtype=np.float64, n_threads=nt)
        net.fit(X, Y, epochs=2, batch_size=3000, optimizer=fastbp.Adam(1e-2), shuffle=False,
                verbose=False)
        Z, A = fastbp.dense_forward(X, W, b, "relu", n_threads=nt)
        grads = fastbp.dense_backward(dZ, X, W, n_threads=nt)
        S = fastbp.softmax(logits, n_threads=nt)
        default = fastbp.dense_backward(dZ, X, W, n_threads=None if nt > 1 else 1)[0]
        return (forked_single_threaded(), fastbp.effective_n_threads(nt),
                [net.flat_parameters.copy(), Z, A, *grads, S, default])

    def explicit():
        import warnings
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            fastbp.dense_forward(X, W, b, "relu", n_threads=2)
            fastbp.Network([64, 1], n_threads=2)      # said once
            fastbp.Network([64, 1])                   # the default: nothing to say
        import io
        from fastbp import _config
        buf = io.StringIO()
        _config.show_config(file=buf)                 # fastbp info says why
        return [str(w.message) for w in seen], buf.getvalue(), [w.filename for w in seen]

    def estimator():
        import warnings
        try:
            from fastbp.sklearn import MLPClassifier
        except ImportError:             # scikit-learn is not installed
            return None
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, n_threads=2).fit(X.T, Y[0])
        return [w.filename for w in seen if issubclass(w.category, RuntimeWarning)]

    if __name__ == "__main__":
        mine = work()                   # the parent's OpenMP team starts here
        assert mine[0] is False and mine[1] == 2, mine[:2]
        single = work(1)
        with mp.get_context("fork").Pool(1) as pool:
            forked = pool.apply_async(work).get(timeout=%(timeout)d)
        assert forked[0] is True and forked[1] == 1, forked[:2]
        with mp.get_context("fork").Pool(1) as pool:
            said, info, where = pool.apply_async(explicit).get(timeout=%(timeout)d)
        assert len(said) == 1 and "n_threads=2: fastbp runs on one thread" in said[0], said
        assert where[0] == __file__, (where, __file__)     # the user's line, not fastbp's
        with mp.get_context("fork").Pool(1) as pool:
            where = pool.apply_async(estimator).get(timeout=%(timeout)d)
        assert where in (None, [__file__]), (where, __file__)   # nor scikit-learn's fit wrapper
        assert "n_threads=None -> 1  (a fork() child" in info, info
        for a, c in zip(single[2], forked[2]):
            np.testing.assert_allclose(c, a, rtol=0, atol=0)
        with mp.get_context("spawn").Pool(1) as pool:  # a fresh process keeps its threads
            spawned = pool.apply_async(work).get(timeout=%(timeout)d)
        assert spawned[0] is False and spawned[1] == 2, spawned[:2]
        print("ok")
""")


# A scenario's helper (inserted as %(wait_child)s): wait for a fork() child.
WAIT_CHILD = """
def wait_child(pid, timeout):
    \"\"\"The child's exit code, or None when it ran past timeout s (then killed).\"\"\"
    t0 = time.monotonic()
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() - t0 > timeout:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.0005)
"""


def _run_scenario(tmp_path, source, timeout, hang):
    """Run the script ``source`` (its children wait ``timeout`` s at most); a
    hang of the whole fails the test with the message ``hang``."""
    script = tmp_path / "scenario.py"
    script.write_text(source % {"timeout": timeout, "wait_child": WAIT_CHILD})
    try:
        run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                             timeout=300)
    except subprocess.TimeoutExpired:
        pytest.fail(hang)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().endswith("ok")


@pytest.mark.slow
def test_fork_child_of_a_threaded_parent_trains_single_threaded(tmp_path):
    _run_scenario(tmp_path, SCENARIO, 120, "the fork() child hung (libgomp's pool after fork)")


BACKGROUND_FIT = textwrap.dedent("""
    import multiprocessing as mp
    import threading
    import numpy as np
    import fastbp

    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 2000))
    y = rng.integers(0, 10, 2000)

    def fit(seed, epochs):
        net = fastbp.Network([64, 128, 10], output="softmax", seed=seed, dtype=np.float64)
        net.fit(X, y, epochs=epochs, batch_size=32, optimizer=fastbp.Adam(1e-3),
                verbose=False)
        return net.evaluate(X, y)[0]

    def small(seed):
        return fit(seed, 1)

    if __name__ == "__main__":
        fit(0, 1)
        busy = threading.Thread(target=fit, args=(1, 300))   # holds fastbp's BLAS lock
        busy.start()                                         # most of the time
        ctx = mp.get_context("fork")
        for rep in range(6):
            with ctx.Pool(2) as pool:
                losses = pool.map_async(small, [10, 11]).get(timeout=%(timeout)d)
            assert all(np.isfinite(losses)), losses
        busy.join()
        print("ok")
""")


@pytest.mark.slow
def test_fork_while_another_thread_fits(tmp_path):
    """A fork() while another thread of the parent was inside a fit copied
    fastbp's BLAS lock in its locked state: the child's first fit waited for
    it forever (fastbp._blas makes the child a new lock)."""
    _run_scenario(tmp_path, BACKGROUND_FIT, 60,
                  "a fork() child hung on the BLAS lock a parent thread held")


FORK_WAITS = textwrap.dedent("""
    import os
    import threading
    import time
    import numpy as np
    import fastbp

    rng = np.random.default_rng(0)
    W = rng.standard_normal((3000, 2500))      # a call of 30 GFLOP: about a second
    X = rng.standard_normal((2500, 2000))
    b = np.zeros((3000, 1))
    Z = np.full((3000, 2000), np.nan)          # its outputs, written as it goes
    A = np.full((3000, 2000), np.nan)
    inside = threading.Event()

    def long_call():
        inside.set()
        fastbp.dense_forward(X, W, b, "relu", out=(Z, A), n_threads=1)   # holds the BLAS lock

    if __name__ == "__main__":
        fastbp.dense_forward(X[:, :8], W, b, "relu", n_threads=1)
        busy = threading.Thread(target=long_call)
        busy.start()
        inside.wait()
        time.sleep(0.2)                 # inside the call by now
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:                    # the child's copy of the outputs
            os.write(w, repr((int(np.isnan(Z).sum()), int(np.isnan(A).sum()))).encode())
            os._exit(0)
        os.close(w)
        left = eval(os.read(r, 100))
        os.waitpid(pid, 0)
        busy.join()
        # none left: the fork waited for the call's end (all: it came before
        # the call began, which is allowed too); a part: it copied a call midway
        assert left in ((0, 0), (Z.size, A.size)), f"the fork copied {left} unwritten outputs"
        assert not np.isnan(Z).any()
        print("ok")
""")


def test_fork_waits_for_a_blas_call_in_another_thread(tmp_path):
    """os.fork() (and so multiprocessing's fork) waits for a fastbp call that
    holds the BLAS lock in another thread: the child's copy of the call's
    outputs is complete. (Not a clock: the calling thread's own clock reading
    after the call waits for the GIL, which the fork holds.)"""
    _run_scenario(tmp_path, FORK_WAITS, 60, "the fork or its child hung")


FORK_STORM = textwrap.dedent("""
    import os
    import threading
    import time
    import numpy as np
    import fastbp
    %(wait_child)s

    rng = np.random.default_rng(0)
    # (96, 64) x (64, 64): over the serial limit, so each call sets OpenBLAS's
    # thread count under the BLAS lock; (32, 64) x (64, 64): an unlocked call
    shapes = [(rng.standard_normal((96, 64)), rng.standard_normal((64, 64)), np.zeros((96, 1))),
              (rng.standard_normal((32, 64)), rng.standard_normal((64, 64)), np.zeros((32, 1)))]
    stop = threading.Event()

    def calls():
        while not stop.is_set():
            for W, X, b in shapes:
                fastbp.dense_forward(X, W, b, "relu", n_threads=1)

    if __name__ == "__main__":
        for W, X, b in shapes:
            fastbp.dense_forward(X, W, b, "relu", n_threads=1)
        busy = threading.Thread(target=calls)
        busy.start()
        hung = []
        for i in range(%(forks)d):
            pid = os.fork()
            if pid == 0:
                for W, X, b in shapes:
                    fastbp.dense_forward(X, W, b, "relu", n_threads=1)
                os._exit(0)
            if wait_child(pid, %(timeout)d) is None:
                hung.append(i)
        stop.set()
        busy.join()
        assert not hung, f"fork() children {hung} of %(forks)d hung"
        print("ok")
""")


@pytest.mark.slow
def test_forks_while_another_thread_calls_blas(tmp_path):
    """Many forks while another thread makes fastbp calls: before the fork
    guard about one child in a thousand hung on a lock of OpenBLAS's copied
    in its held state (server_lock, taken by openblas_set_num_threads)."""
    source = FORK_STORM.replace("%(forks)d", "2000")
    _run_scenario(tmp_path, source, 10, "the parent of the forks hung")


FORK_WHILE_SERVING = textwrap.dedent("""
    import os
    import threading
    import time
    import numpy as np
    import fastbp
    %(wait_child)s

    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 200))
    y = rng.integers(0, 10, 200)
    net = fastbp.Network([64, 32, 10], output="softmax", dtype="float64", seed=0)
    net.fit(X, y, epochs=2, verbose=False)
    expected = net.predict_proba(X)
    stop = threading.Event()

    def serve():                        # holds the network's lock most of the time
        while not stop.is_set():
            net.predict(X)

    if __name__ == "__main__":
        t = threading.Thread(target=serve)
        t.start()
        hung = []
        for i in range(20):
            pid = os.fork()
            if pid == 0:
                ok = np.allclose(net.predict_proba(X), expected, rtol=1e-12, atol=1e-12)
                net.fit(X, y, epochs=1, verbose=False)
                os._exit(0 if ok else 3)
            code = wait_child(pid, %(timeout)d)
            if code is None:
                hung.append(i)
            assert code in (0, None), f"child {i} exited with {code}"
        stop.set()
        t.join()
        assert not hung, f"fork() children {hung} of 20 hung on the network"
        print("ok")
""")


def test_fork_while_another_thread_predicts_with_the_network(tmp_path):
    """A fork while another thread held a network's lock (inside predict)
    left the child's copy locked: its first call on that network waited
    forever (5-16 children of 20 before the fix). A fork now takes every
    network's lock first; the child starts with fresh ones."""
    _run_scenario(tmp_path, FORK_WHILE_SERVING, 15, "the parent of the forks hung")


SERIAL_CHILD = textwrap.dedent("""
    import os
    import numpy as np
    import threadpoolctl
    import fastbp
    from fastbp import _blas

    def scipy_threads():
        return [d["num_threads"] for d in threadpoolctl.threadpool_info()
                if d["user_api"] == "blas" and os.path.samefile(d["filepath"], _blas.BLAS_LIBRARY)]

    if __name__ == "__main__":
        before = scipy_threads()
        _blas.serial_begin()            # as an L-BFGS fit in another thread would be
        inside = scipy_threads()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(w, repr(scipy_threads()).encode())
            os._exit(0)
        os.close(w)
        child = eval(os.read(r, 100))
        os.waitpid(pid, 0)
        _blas.serial_end()
        assert inside == [1] and child == before and scipy_threads() == before, \\
            (before, inside, child, scipy_threads())
        print("ok")
""")


def test_fork_inside_a_one_thread_blas_region_restores_the_childs_count(tmp_path):
    """The child of a fork made while an L-BFGS fit held SciPy's OpenBLAS at
    one thread (fastbp._blas.serial_begin) gets the count back: no thread of
    the child will end that region."""
    pytest.importorskip("threadpoolctl")
    from fastbp import _blas

    if not _blas.BLAS_LIBRARY or fastbp.effective_n_threads() < 2:
        pytest.skip("SciPy's OpenBLAS runs one thread here anyway")
    _run_scenario(tmp_path, SERIAL_CHILD, 60, "the fork hung")


TORCH_PARENT = textwrap.dedent("""
    import os
    import sys
    import types

    if sys.argv[1] == "torch":
        # PyTorch's OpenMP threads share fastbp's runtime; a stand-in module
        # (the tests never need PyTorch): only its presence is looked at
        sys.modules["torch"] = types.ModuleType("torch")
    import fastbp
    from fastbp._openmp_helpers import forked_single_threaded

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(w, repr((forked_single_threaded(),
                          fastbp.effective_n_threads())).encode())
        os._exit(0)
    os.close(w)
    got = eval(os.read(r, 100))
    os.waitpid(pid, 0)
    print(got)
""")


@pytest.mark.parametrize("parent", ["torch", "plain"])
def test_fork_child_of_a_process_that_imported_torch_is_single_threaded(tmp_path, parent):
    """A child forked after a parallel PyTorch operation hung in fastbp's first
    team (PyTorch's GNU OpenMP, loaded RTLD_GLOBAL, serves fastbp's calls too,
    even a wheel's). A child of a process that never imported torch (and ran
    no team of fastbp's) keeps its threads."""
    if fastbp.effective_n_threads() < 2:
        pytest.skip("one thread here anyway")
    script = tmp_path / "torch_parent.py"
    script.write_text(TORCH_PARENT)
    run = subprocess.run([sys.executable, str(script), parent], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    expected = (True, 1) if parent == "torch" else (False, fastbp.effective_n_threads())
    assert run.stdout.strip() == repr(expected), run.stdout


FORK_INTERRUPTED = textwrap.dedent("""
    import os
    import signal
    import threading
    import time
    import fastbp
    from fastbp.network import _lock

    # Ctrl-C raises KeyboardInterrupt here even when this process was started
    # with SIGINT ignored (a shell's background job, nohup: as CI may run)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    net = fastbp.Network([3, 4, 1], seed=0)
    lock = _lock(net)
    main = threading.main_thread().ident
    taken, forked = threading.Event(), threading.Event()
    errors, events = [], []

    def wait_for(cond):
        deadline = time.monotonic() + %(timeout)d
        while not cond():
            assert time.monotonic() < deadline
            time.sleep(0.001)

    def holder():                   # another thread inside a call on the network
        try:
            with lock:
                taken.set()
                wait_for(lambda: len(lock._waiters) == 1)     # the fork waits for it
                first = lock._waiters[0]
                signal.pthread_kill(main, signal.SIGINT)      # Ctrl-C meanwhile
                # fixed: the fork queues again; before: it went on without the lock
                wait_for(lambda: forked.is_set() or (lock._waiters
                                                     and lock._waiters[0] is not first))
                events.append("released")
        except BaseException as exc:
            errors.append(repr(exc))

    if __name__ == "__main__":
        t = threading.Thread(target=holder)
        t.start()
        taken.wait(30)
        pid = os.fork()             # Python reports the KeyboardInterrupt and forks
        if pid == 0:
            os._exit(0)
        events.append("forked")
        forked.set()
        t.join()
        os.waitpid(pid, 0)
        assert errors == [], errors
        assert events == ["released", "forked"], events    # the fork waited for the holder
        with lock:                  # free again
            pass
        net.predict([[0.0], [1.0], [2.0]])
        print("ok")
""")


def test_a_fork_interrupted_while_it_waits_for_a_network_lock_keeps_waiting(tmp_path):
    """Ctrl-C while os.fork() waits for a network's lock held by another
    thread: Python ignores an exception out of a before-fork handler and forks
    anyway, so the fork went on without the lock and the parent then released
    the other thread's lock under it (whose release then raised "release of an
    unheld network lock"; a third thread could have entered the network beside
    it). The wait now goes on; the KeyboardInterrupt is reported once every
    lock is held, and the fork is safe."""
    _run_scenario(tmp_path, FORK_INTERRUPTED, 30, "the interrupted fork hung")


FIT_IN_CHILD = textwrap.dedent("""
    import os
    import threading
    import numpy as np
    import fastbp

    net = fastbp.Network([3, 4, 1], seed=0)
    X = np.random.default_rng(0).standard_normal((3, 64))
    Y = (X[:1] > 0).astype(np.float64)
    started, go = threading.Event(), threading.Event()

    def callback(n, epoch, logs):
        started.set()
        go.wait()
        return True

    if __name__ == "__main__":
        t = threading.Thread(target=lambda: net.fit(X, Y, epochs=2, verbose=False,
                                                    callback=callback))
        t.start()
        started.wait()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                net.fit(X, Y, epochs=1, verbose=False)
                said = "fit"
            except RuntimeError as exc:
                said = str(exc)
            os.write(w, said.encode())
            os._exit(0)
        os.close(w)
        said = os.read(r, 1000).decode()
        os.waitpid(pid, 0)
        go.set()
        t.join()
        assert said == "fit", said
        try:                          # the parent's guard still holds
            net.fit(X, Y, epochs=1, verbose=False, callback=lambda n, e, l: n.fit(X, Y))
        except RuntimeError as exc:
            assert "already running" in str(exc)
        else:
            raise AssertionError("a callback's fit of its own network ran")
        net.fit(X, Y, epochs=1, verbose=False)
        print("ok")
""")


def test_a_fork_child_fits_a_network_another_thread_was_fitting(tmp_path):
    """The fit lock of a network another thread was fitting was copied held:
    the child (which has no such thread) refused every fit of it as 'already
    running'."""
    _run_scenario(tmp_path, FIT_IN_CHILD, 60, "the fork() child's fit hung")


def test_the_fork_guard_gives_up_after_a_few_interrupts_and_never_waits_for_itself(monkeypatch):
    """A signal handler's exception can come just after an acquire that took
    the lock (Python checks for signals after the call): retrying then waited
    for itself, and every further Ctrl-C was swallowed by the retry loop, so
    only SIGKILL ended the process. The guard lock is now re-entrant (its
    retry takes it again; the parent releases every level), and a network
    lock's wait gives up after three interrupts."""
    import threading

    from fastbp import network

    calls = []

    def always_interrupted():
        calls.append(1)
        raise KeyboardInterrupt

    held, exc = network._acquire_through_signals(always_interrupted)
    assert not held and isinstance(exc, KeyboardInterrupt) and len(calls) == 3

    guard = threading.RLock()
    taken = []

    class InterruptedAfterTaking:
        """The guard, its first acquire interrupted after it took the lock."""

        def acquire(self):
            guard.acquire()
            if not taken:
                taken.append(1)
                raise KeyboardInterrupt

        def release(self):
            guard.release()

    monkeypatch.setattr(network, "_LOCKS_GUARD", InterruptedAfterTaking())
    monkeypatch.setattr(network, "_LOCKS", {})
    with pytest.raises(KeyboardInterrupt):
        network._before_fork()          # returned: the retry took the lock again
    network._after_fork_in_parent()
    # every level released: another thread takes the guard at once
    other = []
    t = threading.Thread(target=lambda: other.append(guard.acquire(timeout=5)))
    t.start()
    t.join(10)
    assert other == [True]
