"""Shared timing helpers for fastbp's benchmarks (see shared BENCHMARKING notes).

Side-by-side, interleaved blocks: each candidate runs a warm-up, then an inner
loop long enough to take >= ``min_block`` seconds; candidates alternate
A, B, C, A, B, C, ... and each one's median per-call time over the blocks is
reported. Before a block whose BLAS differs from the previous block's (NumPy
and SciPy ship separate OpenBLAS copies, whose idle threads spin ~100 ms), the
runner sleeps ``switch_sleep`` seconds. A block during which the machine was
busier than this process explains is re-run (outside load).
"""
import os
import statistics
import time


def _busy_jiffies():
    try:
        with open("/proc/stat") as f:
            parts = f.readline().split()[1:]
    except OSError:
        return None
    vals = [int(x) for x in parts]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return sum(vals) - idle


def blas_info():
    """Lines describing the BLAS libraries in this process (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["threadpoolctl not installed: pip install threadpoolctl to see BLAS kernels"]
    lines = []
    for d in threadpool_info():
        lines.append("{user_api:6s} {internal_api:9s} {version!s:8s} arch={arch!s:10s} "
                     "threads={num_threads}  {filepath}".format(
                         arch=d.get("architecture"), **d))
    env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                      "OMP_NUM_THREADS") if k in os.environ}
    lines.append(f"env: {env if env else 'OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset'}")
    return lines


def _time_block(fn, min_block):
    fn()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_block:
            return dt / n
        n = max(n * 2, int(n * min_block / max(dt, 1e-9) * 1.2))


def compare(cands, repeats=7, min_block=0.05, switch_sleep=0.12, max_retries=3):
    """Interleaved medians.

    Parameters
    ----------
    cands : list of (name, fn, blas_tag)
        ``blas_tag`` names the BLAS copy fn runs in ("numpy", "scipy", ...).
    Returns
    -------
    dict name -> median seconds per call, and the number of re-run blocks.
    """
    times = {name: [] for name, _, _ in cands}
    last_tag = None
    reruns = 0
    ncpu = os.cpu_count() or 1
    for fn_name, fn, tag in cands:  # warm-up each side once
        fn()
    for _ in range(repeats):
        for name, fn, tag in cands:
            for attempt in range(max_retries):
                if tag != last_tag:
                    time.sleep(switch_sleep)
                last_tag = tag
                b0, c0, w0 = _busy_jiffies(), os.times(), time.perf_counter()
                per_call = _time_block(fn, min_block)
                b1, c1, w1 = _busy_jiffies(), os.times(), time.perf_counter()
                if b0 is None:
                    break
                hz = os.sysconf("SC_CLK_TCK")
                ours = (c1.user - c0.user) + (c1.system - c0.system)
                others = (b1 - b0) / hz - ours
                if others < 0.25 * (w1 - w0) * ncpu:
                    break
                reruns += 1
            times[name].append(per_call)
    return {k: statistics.median(v) for k, v in times.items()}, reruns


def step_flops(dims, m):
    """Floating-point operations of one step's GEMMs on m examples: the
    forward products, every dW and every dA_prev but the first layer's."""
    pairs = list(zip(dims[:-1], dims[1:]))
    fwd = sum(2 * a * b * m for a, b in pairs)
    return 2 * fwd + sum(2 * a * b * m for a, b in pairs[1:])


def peak_cands(n, dtype="float32"):
    """A large n x n x n GEMM through SciPy's OpenBLAS (threads as
    threadpool_limits set them): the machine's measured peak in ``dtype``."""
    import numpy as np
    from scipy.linalg import blas
    dtype = np.dtype(dtype)
    gemm = blas.sgemm if dtype == np.float32 else blas.dgemm
    rng = np.random.default_rng(1)
    A = np.asfortranarray(rng.standard_normal((n, n)).astype(dtype))
    B = np.asfortranarray(rng.standard_normal((n, n)).astype(dtype))
    C = np.zeros((n, n), dtype, order="F")
    return [(f"peak gemm {dtype.name}", lambda: gemm(1.0, A, B, beta=0.0, c=C, overwrite_c=1),
             "scipy")]
