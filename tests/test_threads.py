"""Thread-count independence, concurrent calls, and GIL release.

* n_threads=2 gives the same result as n_threads=1: bit for bit for softmax,
  output_delta, db and the element-wise (activation) parts; to GEMM rounding
  for Z, dW and dZ_prev. Where a GEMM has a reduction of length 1 it is exact
  whatever the blocking, so the whole result must then be bitwise equal too.
* Four Python threads calling the kernels at once get correct results.
* A long kernel call does not hold the GIL.
"""
import os
import threading
import time

import numpy as np
import pytest

import fastbp
from fastbp import reference as ref

from conftest import (DTYPES, assert_same, assert_within, check_backward, check_forward,
                      elem_tol, gemm_tol)

ACTIVATIONS = ref.ACTIVATIONS
FROM_Z = ref.DERIVATIVE_FROM_Z
SHAPES = [(1, 17, 4099), (1, 1000, 1000), (17, 17, 1000), (1000, 17, 1000),
          (17, 1000, 17), (300, 200, 1000), (17, 1, 4099)]


def _acts(size):
    """Every activation on small outputs; one from A and one from Z on big ones."""
    return ACTIVATIONS if size <= 20000 else ("relu", "gelu")


def _dt_id(t):
    return np.dtype(t).name


def _sid(s):
    return "x".join(map(str, s))


@pytest.mark.parametrize("shape", SHAPES, ids=_sid)
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_forward_threads_equal(dtype, shape, rng):
    n_prev, n, m = shape
    A_prev = rng.standard_normal((n_prev, m)).astype(dtype)
    W = rng.standard_normal((n, n_prev)).astype(dtype)
    b = rng.standard_normal((n, 1)).astype(dtype)
    absprod = np.abs(W.astype(np.float64)) @ np.abs(A_prev.astype(np.float64)) + np.abs(b)
    for act in _acts(n * m):
        params = f"shape={shape} dtype={_dt_id(dtype)} activation={act}"
        Z1, A1 = fastbp.dense_forward(A_prev, W, b, act, n_threads=1)
        Z2, A2 = fastbp.dense_forward(A_prev, W, b, act, n_threads=2)
        if n_prev == 1:  # one product per element: no rounding freedom
            assert_same(Z2, Z1, "Z (K=1)", params)
        else:
            assert_within(Z2, Z1, gemm_tol(dtype, n_prev + 1, absprod), "Z", params)
        same = Z1 == Z2
        assert_same(A2[same], A1[same], "A where Z agrees", params)


@pytest.mark.parametrize("shape", SHAPES, ids=_sid)
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_backward_threads_equal(dtype, shape, rng):
    n_prev, n, m = shape
    dZ = rng.standard_normal((n, m)).astype(dtype)
    W = rng.standard_normal((n, n_prev)).astype(dtype)
    Z_prev = (2 * rng.standard_normal((n_prev, m))).astype(dtype)
    A_free = rng.standard_normal((n_prev, m)).astype(dtype)
    adZ = np.abs(dZ.astype(np.float64))
    dA_tol = gemm_tol(dtype, n, np.abs(W.astype(np.float64)).T @ adZ)
    for act in (None,) + _acts(n_prev * m):
        A_prev = A_free if act is None else ref.activation(Z_prev, act)
        params = f"shape={shape} dtype={_dt_id(dtype)} activation={act}"
        r1 = fastbp.dense_backward(dZ, A_prev, W, act, Z_prev=Z_prev, lambd=0.1,
                                   n_threads=1)
        r2 = fastbp.dense_backward(dZ, A_prev, W, act, Z_prev=Z_prev, lambd=0.1,
                                   n_threads=2)
        dW_tol = gemm_tol(dtype, m + 2, (adZ @ np.abs(A_prev.astype(np.float64)).T
                                         + 0.1 * np.abs(W)) / m)
        assert_same(r2[2], r1[2], "db", params)
        assert_within(r2[1], r1[1], dW_tol, "dW", params)
        if act is None:
            dA1, dA2 = r1[0], r2[0]
        if n == 1:
            assert_same(r2[0], r1[0], "dZ_prev (K=1)", params)
        else:
            v = Z_prev if act in FROM_Z else A_prev
            d = 1.0 if act is None else (np.abs(ref.activation_derivative(v, act))
                                         + elem_tol(dtype, 0.0, v))
            assert_within(r2[0], r1[0], dA_tol * d, "dZ_prev", params)
        # the element-wise part: where W^T dZ agreed, g' must give the same bits
        same = dA1 == dA2
        assert_same(r2[0][same], r1[0][same], "dZ_prev where W^T dZ agrees", params)


@pytest.mark.parametrize("shape", [(1, 1), (3, 17), (17, 1000), (1000, 1000), (10, 4099)],
                         ids=_sid)
@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_elementwise_kernels_threads_equal(dtype, shape, rng):
    Z = (5 * rng.standard_normal(shape)).astype(dtype)
    params = f"shape={shape} dtype={_dt_id(dtype)}"
    assert_same(fastbp.softmax(Z, n_threads=2), fastbp.softmax(Z, n_threads=1),
                "softmax", params)
    AL = fastbp.softmax(Z)
    Y = rng.integers(0, 2, shape).astype(np.uint8)
    for loss in ref.LOSSES:
        if loss == "crossentropy":     # one-hot columns: the loss's domain
            Y = np.eye(shape[0], dtype=np.uint8)[rng.integers(0, shape[0], shape[1])].T
        elif loss != "binary_crossentropy":
            Y = rng.integers(0, 4, shape).astype(np.uint8)
        assert_same(fastbp.output_delta(AL, Y, loss, n_threads=2),
                    fastbp.output_delta(AL, Y, loss, n_threads=1), "output_delta",
                    f"{params} loss={loss}")
        assert fastbp.loss(AL, Y, loss) == fastbp.loss(AL, Y, loss), \
            f"loss not deterministic; {params} loss={loss}"


# ------------------------------------------------------------------- concurrency
def _jobs(rng, dtype):
    """(name, callable returning a tuple of arrays, checker) for mixed kernels."""
    jobs = []
    for i, (n_prev, n, m) in enumerate([(30, 20, 500), (200, 100, 300), (5, 3, 2000),
                                        (64, 64, 64)]):
        A_prev = rng.standard_normal((n_prev, m)).astype(dtype)
        W = rng.standard_normal((n, n_prev)).astype(dtype)
        b = rng.standard_normal((n, 1)).astype(dtype)
        act = ACTIVATIONS[(3 * i + 1) % len(ACTIVATIONS)]
        t = (1, 2, None, 1)[i]

        def fwd(A_prev=A_prev, W=W, b=b, act=act, t=t):
            return fastbp.dense_forward(A_prev, W, b, act, n_threads=t)

        def check_fwd(res, params, A_prev=A_prev, W=W, b=b, act=act):
            check_forward(A_prev, W, b, act, None, res[0], res[1], params)

        jobs.append((f"forward{(n_prev, n, m)}-{act}-t{t}", fwd, check_fwd))

        dZ = rng.standard_normal((n, m)).astype(dtype)
        Z_prev = rng.standard_normal((n_prev, m)).astype(dtype)
        bact = ("gelu", "relu", "silu", None)[i]
        Ap = A_prev if bact is None else ref.activation(Z_prev, bact)

        def bwd(dZ=dZ, Ap=Ap, W=W, bact=bact, Z_prev=Z_prev, t=t):
            return fastbp.dense_backward(dZ, Ap, W, bact, Z_prev=Z_prev, n_threads=t)

        def check_bwd(res, params, dZ=dZ, Ap=Ap, W=W, bact=bact, Z_prev=Z_prev):
            check_backward(dZ, Ap, W, bact, Z_prev, None, None, 0.0, *res, params)

        jobs.append((f"backward{(n_prev, n, m)}-{bact}-t{t}", bwd, check_bwd))

        Zs = (3 * rng.standard_normal((n, m))).astype(dtype)

        def sm(Zs=Zs, t=t):
            return (fastbp.softmax(Zs, n_threads=t),)

        def check_sm(res, params, Zs=Zs):
            exp = ref.softmax(Zs)
            assert_within(res[0], exp, 2 * (n + 4) * np.finfo(dtype).eps * np.abs(exp)
                          + 1e-30, "softmax", params)

        jobs.append((f"softmax{(n, m)}-t{t}", sm, check_sm))

        Y = rng.integers(0, 2, (n, m)).astype(np.uint8)

        def od(Zs=Zs, Y=Y, t=t):
            return (fastbp.output_delta(Zs, Y, "mse", n_threads=t),
                    np.array(fastbp.loss(Zs, Y, "mse")))

        def check_od(res, params, Zs=Zs, Y=Y):
            assert_same(res[0], ref.output_delta(Zs, Y, "mse"), "output_delta", params)
            exp = ref.loss(Zs, Y, "mse")
            assert abs(float(res[1]) - exp) <= 1e-5 * abs(exp), f"loss; {params}"

        jobs.append((f"output_delta{(n, m)}-t{t}", od, check_od))
    return jobs


@pytest.mark.parametrize("dtype", DTYPES, ids=_dt_id)
def test_concurrent_calls_from_four_threads(dtype, rng):
    jobs = _jobs(rng, dtype)
    # serial results first: every concurrent result must match its own check and
    # be bitwise equal to the serial run where no GEMM is involved
    serial = {name: [np.array(x, copy=True) for x in f()] for name, f, _ in jobs}
    n_workers, n_rounds = 4, 6
    results, errors = [], []
    barrier = threading.Barrier(n_workers)

    def worker(k):
        try:
            barrier.wait()
            for r in range(n_rounds):
                s = (k * 5 + r) % len(jobs)  # each thread in its own order
                for name, f, _ in jobs[s:] + jobs[:s]:
                    results.append((k, r, name, [np.array(x, copy=True) for x in f()]))
        except Exception as exc:  # reported below with the thread's id
            errors.append((k, repr(exc)))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    assert not errors, f"exceptions in worker threads: {errors}"
    checks = {name: c for name, _, c in jobs}
    assert len(results) == n_workers * n_rounds * len(jobs)
    seen = set()
    for k, r, name, res in results:
        params = f"thread {k} round {r} job {name} dtype={_dt_id(dtype)}"
        if name.startswith(("softmax", "output_delta")):
            for x, y in zip(res, serial[name]):
                assert_same(x, y, "concurrent vs serial", params)
        elif name.startswith("backward"):
            assert_same(res[2], serial[name][2], "db concurrent vs serial", params)
        if name not in seen or r == n_rounds - 1:  # full reference check per job
            checks[name](res, params)
            seen.add(name)


def test_kernels_release_the_gil():
    # while one thread runs a long dense_backward, another Python thread keeps
    # running; with the GIL held it would stall for the whole call
    rng = np.random.default_rng(0)
    n = 1200
    dZ = rng.standard_normal((n, n))
    A_prev = rng.standard_normal((n, n))
    W = rng.standard_normal((n, n))
    out = (np.empty((n, n)), np.empty((n, n)), np.empty((n, 1)))

    def call():
        fastbp.dense_backward(dZ, A_prev, W, "relu", out=out, n_threads=1)

    call()
    t0 = time.perf_counter()
    call()
    duration = time.perf_counter() - t0
    assert duration > 0.02, f"kernel too fast ({duration:.3f}s) to observe; enlarge n"
    gaps = []
    for attempt in range(3):  # a busy machine can stall us; a held GIL always does
        done = threading.Event()
        th = threading.Thread(target=lambda: (call(), done.set()))
        ticks = [time.perf_counter()]
        th.start()
        while not done.is_set():
            ticks.append(time.perf_counter())
            sum(range(100))
        th.join()
        ticks.append(time.perf_counter())
        gap = np.diff(ticks).max()
        gaps.append(gap)
        if gap < 0.5 * duration and len(ticks) > 10:
            return
    pytest.fail(f"main thread stalled {gaps} s during a {duration:.3f} s kernel call: "
                "is the GIL released around the GEMMs and loops?")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_prev,n,m", [(4000, 16, 50), (16, 4000, 50), (5, 60, 3000), (600, 3, 700)])
def test_thin_layers_split_by_columns_match_reference(dtype, n_prev, n, m):
    """Few output rows: the kernels split the GEMMs by columns on 2 threads."""
    from fastbp import reference as ref
    rng = np.random.default_rng(n_prev * 7 + n)
    A_prev = rng.standard_normal((n_prev, m)).astype(dtype)
    Z_prev = rng.standard_normal((n_prev, m)).astype(dtype)
    A_relu = np.maximum(Z_prev, 0)
    W = rng.standard_normal((n, n_prev)).astype(dtype)
    b = rng.standard_normal((n, 1)).astype(dtype)
    dZ = rng.standard_normal((n, m)).astype(dtype)
    rtol = 2e-4 if dtype == np.float32 else 1e-10
    params = f"dtype={np.dtype(dtype).name}, shapes=({n_prev}, {n}, {m})"
    for nt in (1, 2):
        Z, A = fastbp.dense_forward(A_prev, W, b, "tanh", n_threads=nt)
        Zr, Ar = ref.dense_forward(A_prev, W, b, "tanh")
        np.testing.assert_allclose(Z, Zr, rtol=rtol, atol=rtol * np.abs(Zr).max(), err_msg=params)
        np.testing.assert_allclose(A, Ar, rtol=rtol, atol=rtol, err_msg=params)
        got = fastbp.dense_backward(dZ, A_relu, W, "relu", lambd=0.5, n_threads=nt)
        exp = ref.dense_backward(dZ, A_relu, W, "relu", lambd=0.5)
        for g, e, what in zip(got, exp, ("dZ_prev", "dW", "db")):
            np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol * np.abs(e).max(),
                                       err_msg=f"{what}, n_threads={nt}, {params}")
    one = fastbp.dense_backward(dZ, A_relu, W, "relu", n_threads=1)
    two = fastbp.dense_backward(dZ, A_relu, W, "relu", n_threads=2)
    assert np.array_equal(one[2], two[2]), f"db depends on the thread count; {params}"


def test_network_team_limit_is_the_same_on_every_blas_core():
    """Small network steps split between threads on every OpenBLAS core: the
    Haswell core's 2M-flop limit (its locked buffer pool made two threads
    lose) went when the small kernel took those products over and the team
    chooser could fall back to one thread (fastbp._network's docstring).
    Checked in-process for this machine's core and in a child forced to the
    Haswell core."""
    import os

    from conftest import run_python
    from fastbp.network import Network
    got = {dt: Network([4, 3, 2], "relu", "softmax", dtype=dt)._kernel.min_flops_per_thread
           for dt in ("float32", "float64")}
    assert got == {"float32": 200000, "float64": 100000}, got
    code = ("from fastbp.network import Network\n"
            "print([Network([4, 3, 2], 'relu', 'softmax', dtype=d)._kernel.min_flops_per_thread"
            " for d in ('float32', 'float64')])\n")
    res = run_python(code, dict(os.environ, OPENBLAS_CORETYPE="Haswell"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "[200000, 100000]"


def test_omp_thread_limit_caps_every_count():
    """OMP_THREAD_LIMIT caps every OpenMP team; effective_n_threads (and so a
    network's thread count and blocks) said 2 under OMP_THREAD_LIMIT=1."""
    import subprocess
    import sys
    code = ("import fastbp; n = fastbp.Network([3, 4, 1]); "
            "print(fastbp.effective_n_threads(), fastbp.effective_n_threads(2), "
            "fastbp.effective_n_threads(-1), n.effective_n_threads)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
    out = {}
    for limit in ("1", None):
        e = dict(env, OMP_THREAD_LIMIT=limit) if limit else env
        r = subprocess.run([sys.executable, "-c", code], env=e, capture_output=True,
                           text=True, check=True)
        out[limit] = r.stdout.split()
    assert out["1"] == ["1", "1", "1", "1"], out
    if fastbp.openmp_enabled() and fastbp._openmp_helpers.cpu_count() > 1:
        assert out[None][1] == "2", out
