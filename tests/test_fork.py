"""fork() after fastbp's threads ran: the child's fits and kernels finish.

libgomp's worker threads do not survive fork(); an OpenMP team started in the
child of a process that had run one waits forever for them (GCC bug 60035).
multiprocessing's 'fork' start method, Linux's default before Python 3.14,
does exactly that after a fit in the parent. fastbp runs such a child's
kernels on one thread (fastbp._openmp_helpers.team_threads); the results must
equal the parent's bit for bit (the work is cut into blocks by n_threads, not
by the size of the team that runs them). The scenario runs in a subprocess with a timeout, so that
a hang fails the test instead of stopping the suite.
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

    def work(_=None):
        net = fastbp.Network([64, 32, 16, 1], hidden="relu", output="sigmoid", seed=1,
                             dtype=np.float64, n_threads=2)
        net.fit(X, Y, epochs=2, batch_size=3000, optimizer=fastbp.Adam(1e-2), shuffle=False,
                verbose=False)
        Z, A = fastbp.dense_forward(X, W, b, "relu", n_threads=2)
        grads = fastbp.dense_backward(dZ, X, W, n_threads=2)
        S = fastbp.softmax(logits, n_threads=2)
        return (forked_single_threaded(), fastbp.effective_n_threads(2),
                [net.flat_parameters.copy(), Z, A, *grads, S])

    def explicit():
        import warnings
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            fastbp.Network([64, 1], n_threads=2)
            fastbp.Network([64, 1], n_threads=2)      # said once
            fastbp.Network([64, 1])                   # the default: nothing to say
        return [str(w.message) for w in seen]

    if __name__ == "__main__":
        mine = work()                   # the parent's OpenMP team starts here
        assert mine[0] is False and mine[1] == 2, mine[:2]
        with mp.get_context("fork").Pool(1) as pool:
            forked = pool.apply_async(work).get(timeout=%(timeout)d)
        assert forked[0] is True and forked[1] == 1, forked[:2]
        with mp.get_context("fork").Pool(1) as pool:
            said = pool.apply_async(explicit).get(timeout=%(timeout)d)
        assert len(said) == 1 and "n_threads=2: fastbp runs on one thread" in said[0], said
        for a, c in zip(mine[2], forked[2]):
            np.testing.assert_allclose(c, a, rtol=0, atol=0)
        with mp.get_context("spawn").Pool(1) as pool:  # a fresh process keeps its threads
            spawned = pool.apply_async(work).get(timeout=%(timeout)d)
        assert spawned[0] is False and spawned[1] == 2, spawned[:2]
        print("ok")
""")


def _run_scenario(tmp_path, source, timeout, hang):
    """Run the script ``source`` (its children wait ``timeout`` s at most); a
    hang of the whole fails the test with the message ``hang``."""
    script = tmp_path / "scenario.py"
    script.write_text(source % {"timeout": timeout})
    try:
        run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                             timeout=300)
    except subprocess.TimeoutExpired:
        pytest.fail(hang)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().endswith("ok")


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


def test_fork_while_another_thread_fits(tmp_path):
    """A fork() while another thread of the parent was inside a fit copied
    fastbp's BLAS lock in its locked state: the child's first fit waited for
    it forever (fastbp._blas makes the child a new lock)."""
    _run_scenario(tmp_path, BACKGROUND_FIT, 60,
                  "a fork() child hung on the BLAS lock a parent thread held")
