"""The layer kernels' teams on NumPy's OpenBLAS pool (fastbp._blas, "Running in
NumPy's pool").

* Whether fastbp uses the pool agrees with threadpoolctl's independent view of
  the process (NumPy's BLAS a pthreads OpenBLAS, another library than SciPy's).
* Through the pool, dense_forward / dense_backward match fastbp.reference over
  the layouts of tests/test_dense.py (dtypes, C/F orders, out=, read-only) on
  the shapes that run multithreaded, every activation, n_threads 1 and 2; each
  result is bitwise the OpenMP team's (same blocks), and the pool really ran
  (its run counter moved) exactly when n_threads > 1.
* Safety: NumPy GEMMs that use the same pool in other Python threads, while
  yet another thread changes NumPy's BLAS thread count, run alongside fastbp
  calls in two more threads: every result stays right and nothing hangs (in a
  child process with a timeout, so a deadlock fails the test instead of
  hanging the suite).
* FASTBP_NUMPY_POOL=0 turns the pool off; kernels still give right results.
"""
import os
import textwrap

import numpy as np
import pytest

import fastbp
from fastbp import _testing
from fastbp import reference as ref

from conftest import (DTYPES, assert_same, check_backward, check_forward, layout, run_python,
                      shape_id)
from test_dense import (BWD_LAYOUTS, FWD_LAYOUTS, _a_prev_for, _backward_data,
                        _forward_data, _lay_id, run_backward, run_forward)

ACTIVATIONS = ref.ACTIVATIONS
FROM_Z = ref.DERIVATIVE_FROM_Z

# n_prev * n * m >= 200000 (the kernels' threshold for a team), odd sizes:
# every layout and activation on the small ones, n_threads 2 (1 on two
# layouts: the pool must stay unused); one layout per dtype and fewer
# activations on the large ones.
SMALL = [(17, 17, 1000), (17, 1000, 17), (1000, 17, 17)]
LARGE = [(1000, 17, 1000), (1000, 1000, 17), (1, 1000, 1000)]


def _cases(layouts):
    cases = [(s, d, lay, 2) for s in SMALL for d in DTYPES for lay in layouts]
    cases += [(s, d, lay, 1) for s in SMALL[:1] for d in DTYPES for lay in layouts[:2]]
    cases += [(s, d, layouts[-1] if i % 2 else layouts[0], 2)
              for s in LARGE for i, d in enumerate(DTYPES)]
    return cases


def _case_id(case):
    s, d, lay, t = case
    return f"{shape_id(s)}-{_dt_id(d)}-{_lay_id(lay)}-t{t}"

def _dt_id(t):
    return np.dtype(t).name


def _numpy_blas_is_separate_pthreads_openblas():
    """threadpoolctl's view: (True, "") when fastbp should use NumPy's pool, else
    (False, why)."""
    import sys

    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not sys.platform.startswith("linux"):
        return False, "not Linux"
    if os.environ.get("FASTBP_NUMPY_POOL", "1").strip().lower() in ("0", "false", "off", "no"):
        return False, "FASTBP_NUMPY_POOL turns it off"
    import numpy.linalg  # noqa: F401  (NumPy's BLAS is loaded with numpy itself)
    import scipy.linalg  # noqa: F401

    info = threadpoolctl.threadpool_info()
    np_dir = os.path.dirname(os.path.dirname(np.__file__))
    libs = [d for d in info if d["user_api"] == "blas"]
    np_libs = [d for d in libs if os.path.realpath(d["filepath"]).startswith(
        (os.path.join(np_dir, "numpy.libs"), os.path.join(np_dir, "numpy", ".dylibs")))]
    if not np_libs:
        return False, "NumPy's BLAS is not a library of NumPy's own wheel"
    d = np_libs[0]
    if d["internal_api"] != "openblas" or d.get("threading_layer") != "pthreads":
        return False, f"NumPy's BLAS is {d['internal_api']} ({d.get('threading_layer')})"
    others = [x for x in libs if x is not d and "scipy" in x["filepath"]]
    if not others:
        return False, "SciPy's BLAS is the same library as NumPy's"
    # The pool's entry points are OpenBLAS internals: NumPy 2.4's OpenBLAS
    # (0.3.31) exports them, NumPy 2.5's (0.3.34, the one Python 3.12+ gets)
    # hides them but its symbol table still names them, and fastbp finds
    # them there (docs/architecture.md); a stripped library has neither, and
    # fastbp runs its OpenMP team. threadpoolctl cannot see symbols: binutils'
    # nm reads the symbol table here, independently of fastbp's reader.
    import ctypes
    import shutil
    import subprocess

    lib = ctypes.CDLL(d["filepath"])
    wanted = ("gotoblas_pthread", "blas_num_threads")
    missing = [s for s in wanted if not hasattr(lib, s)]
    if missing:
        if shutil.which("nm") is None:
            pytest.skip("NumPy's OpenBLAS hides the pool's entry points, and binutils' nm "
                        "is not here to read its symbol table")
        out = subprocess.run(["nm", d["filepath"]], capture_output=True, text=True).stdout
        named = {line.split()[-1] for line in out.splitlines() if len(line.split()) == 3}
        missing = [s for s in wanted if s not in named]
    if missing:
        return False, (f"NumPy's OpenBLAS {d.get('version')} neither exports nor names "
                       f"{' / '.join(missing)}")
    if fastbp.effective_n_threads(2) < 2:
        return False, "one core"
    return True, ""


def _pool_or_skip():
    usable, why = _numpy_blas_is_separate_pthreads_openblas()
    if not usable:
        pytest.skip(f"no separate NumPy OpenBLAS pool here: {why}")
    if not fastbp.openmp_enabled():
        pytest.skip("serial build: n_threads is always 1")
    return usable


def test_pool_detection_agrees_with_threadpoolctl():
    from fastbp import _blas

    usable, why = _numpy_blas_is_separate_pthreads_openblas()
    assert _blas.numpy_pool_enabled() == usable, (
        f"fastbp uses NumPy's pool: {_blas.numpy_pool_enabled()}; threadpoolctl says "
        f"usable={usable} {why}; NUMPY_BLAS_LIBRARY={_blas.NUMPY_BLAS_LIBRARY}")
    from fastbp._config import config_info

    info = config_info()
    assert (info["numpy_pool"] is not None) == usable, info["numpy_pool"]


class _PoolState:
    """Set the pool on or off for a block and restore it."""

    def __init__(self, on):
        self.on = on

    def __enter__(self):
        self.old = _testing.set_numpy_pool(self.on)

    def __exit__(self, *exc):
        _testing.set_numpy_pool(self.old)


def _runs_pool(fn, n_threads, params):
    """fn() with the pool on; asserts it ran on the pool iff n_threads > 1."""
    with _PoolState(True):
        before = _testing.numpy_pool_runs()
        res = fn()
        ran = _testing.numpy_pool_runs() - before
    assert ran == (1 if n_threads > 1 else 0), \
        f"{ran} runs on NumPy's pool for one call, n_threads={n_threads}; {params}"
    with _PoolState(False):
        before = _testing.numpy_pool_runs()
        team = fn()
        assert _testing.numpy_pool_runs() == before, f"pool used while off; {params}"
    return res, team


@pytest.mark.parametrize("case", _cases(FWD_LAYOUTS), ids=_case_id)
def test_forward_on_pool(case, rng):
    _pool_or_skip()
    shape, dtype, lay, n_threads = case
    n_prev, n, m = shape
    A0, W0, b0 = _forward_data(rng, shape, dtype)
    ro = lay["readonly"]
    A_prev, W = layout(A0, lay["A_prev"], ro), layout(W0, lay["W"], ro)
    b = layout(b0.reshape(n) if lay["b1d"] else b0, "C", ro)
    acts = ACTIVATIONS if n * m <= 20000 else ("gelu",)
    for act in acts:
        params = (f"shape(n_prev,n,m)={shape} dtype={_dt_id(dtype)} {_lay_id(lay)} "
                  f"n_threads={n_threads} activation={act}")
        (Z, A), (Zt, At) = _runs_pool(
            lambda: tuple(x.copy() for x in run_forward(
                A_prev, W, b, act, use_out=lay["out"], n_threads=n_threads)),
            n_threads, params)
        check_forward(A_prev, W, b, act, None, Z, A, params)
        assert_same(Z, Zt, "Z (pool vs OpenMP team)", params)
        assert_same(A, At, "A (pool vs OpenMP team)", params)


@pytest.mark.parametrize("case", _cases(BWD_LAYOUTS), ids=_case_id)
def test_backward_on_pool(case, rng):
    _pool_or_skip()
    shape, dtype, lay, n_threads = case
    n_prev, n, m = shape
    dZ0, W0, Zp0, A_free = _backward_data(rng, shape, dtype)
    ro = lay["readonly"]
    dZ, W = layout(dZ0, lay["dZ"], ro), layout(W0, lay["W"], ro)
    Z_prev = layout(Zp0, lay["Z_prev"], ro)
    acts = (None,) + (ACTIVATIONS if n_prev * m <= 20000 else ("gelu",))
    for act in acts:
        A_prev = layout(_a_prev_for(act, Zp0, A_free), lay["A_prev"], ro)
        zp = Z_prev if act in FROM_Z or (act is not None and lay["out"]) else None
        lambd = 0.3 if lay["out"] else 0.0
        params = (f"shape(n_prev,n,m)={shape} dtype={_dt_id(dtype)} {_lay_id(lay)} "
                  f"n_threads={n_threads} activation={act} lambd={lambd}")
        res, team = _runs_pool(
            lambda: tuple(x.copy() for x in run_backward(
                dZ, A_prev, W, act, use_out=lay["out"], n_threads=n_threads, Z_prev=zp,
                lambd=lambd)),
            n_threads, params)
        check_backward(dZ, A_prev, W, act, Z_prev, None, None, lambd, *res, params)
        for name, x, y in zip(("dZ_prev", "dW", "db"), res, team):
            assert_same(x, y, f"{name} (pool vs OpenMP team)", params)


def test_default_threads_follow_an_openmp_limit(rng):
    # n_threads=None is OpenMP's maximum at the call, as for a Network: a
    # layer call inside threadpoolctl's limit of 1 runs on one thread (it
    # read a count fixed at import and still ran a team of two)
    threadpoolctl = pytest.importorskip("threadpoolctl")
    _pool_or_skip()
    from fastbp import _validation

    A, W, b = _forward_data(rng, (784, 256, 256), np.float64)
    dZ = rng.standard_normal((256, 256))
    with _PoolState(True):
        before = _testing.numpy_pool_runs()
        fastbp.dense_forward(A, W, b, "relu")
        assert _testing.numpy_pool_runs() == before + 1      # two threads by default
        with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
            assert fastbp.effective_n_threads() == 1 and _validation.threads(None) == 1
            before = _testing.numpy_pool_runs()
            fastbp.dense_forward(A, W, b, "relu")                # the compiled fast path
            strided = np.repeat(A, 2, axis=1)[:, ::2]            # the full checks
            fastbp.dense_forward(strided, W, b, "relu")
            fastbp.dense_backward(dZ, A, W)
            assert _testing.numpy_pool_runs() == before
        before = _testing.numpy_pool_runs()
        fastbp.dense_forward(A, W, b, "relu")
        assert _testing.numpy_pool_runs() == before + 1


def test_explicit_count_above_omp_thread_limit_is_capped_on_the_fast_path():
    # OMP_THREAD_LIMIT caps every count (effective_n_threads); the compiled
    # fast path of dense_forward / dense_backward took n_threads=2 as it is
    # and ran two threads on NumPy's pool, where the full checks (a list b)
    # ran one
    _pool_or_skip()
    code = textwrap.dedent("""
        import numpy as np, fastbp
        from fastbp import _testing
        assert fastbp.effective_n_threads(2) == 1
        rng = np.random.default_rng(0)
        A, W, dZ = (rng.standard_normal(s) for s in ((200, 200), (200, 200), (200, 200)))
        before = _testing.numpy_pool_runs()
        fastbp.dense_forward(A, W, np.zeros(200), n_threads=2)
        fastbp.dense_forward(A, W, [0.0] * 200, n_threads=2)
        fastbp.dense_backward(dZ, A, W, "relu", n_threads=2)
        print(_testing.numpy_pool_runs() - before)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
    res = run_python(code, dict(env, OMP_THREAD_LIMIT="1"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[-1] == "0", res.stdout


def test_pool_off_by_environment():
    _pool_or_skip()
    code = textwrap.dedent("""
        import numpy as np, fastbp
        from fastbp import _blas, _testing, reference as ref
        assert not _blas.numpy_pool_enabled()
        from fastbp._config import config_info
        assert config_info()["numpy_pool"] is None
        assert _testing.set_numpy_pool(True) is False   # cannot be switched on
        assert not _blas.numpy_pool_enabled()
        rng = np.random.default_rng(0)
        dZ, A, W = (rng.standard_normal(s) for s in ((300, 200), (400, 200), (300, 400)))
        got = fastbp.dense_backward(dZ, A, W, None, n_threads=2)
        want = ref.dense_backward(dZ, A, W, None)
        for g, w in zip(got, want):
            assert np.allclose(g, w, rtol=1e-12, atol=1e-12)
        assert _testing.numpy_pool_runs() == 0
        print("ok")
    """)
    env = dict(os.environ, FASTBP_NUMPY_POOL="0")
    r = run_python(code, env=env, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr


# The stress test runs in a child: a deadlock there is a timeout here.
STRESS = textwrap.dedent("""
    import threading, time
    import numpy as np
    import fastbp
    from fastbp import _blas, _testing, reference as ref
    from threadpoolctl import ThreadpoolController

    assert _blas.numpy_pool_enabled()
    rng = np.random.default_rng(0)
    # NumPy: products OpenBLAS threads (M N K well above its threshold)
    P = rng.standard_normal((384, 384)); Q = rng.standard_normal((384, 384))
    PQ = P @ Q
    PQf = (P.astype(np.float32) @ Q.astype(np.float32)).astype(np.float64)
    # fastbp: one layer per dtype, large enough for a team
    cases = []
    for dt in (np.float32, np.float64):
        dZ = rng.standard_normal((257, 301)).astype(dt)
        A = rng.standard_normal((263, 301)).astype(dt)
        W = rng.standard_normal((257, 263)).astype(dt)
        b = rng.standard_normal((257, 1)).astype(dt)
        want_b = fastbp.dense_backward(dZ, np.maximum(A, 0), W, "relu", n_threads=2)
        want_f = fastbp.dense_forward(A, W, b, "tanh", n_threads=2)
        ref_b = ref.dense_backward(dZ, np.maximum(A, 0), W, "relu")
        tol = 1e-3 if dt == np.float32 else 1e-10
        for g, w in zip(want_b, ref_b):
            assert np.allclose(g, w, rtol=tol, atol=tol), "backward wrong before the stress"
        cases.append((dZ, A, W, b, want_b, want_f))
    errors = []
    stop = threading.Event()
    DURATION = 5.0

    def numpy_user():
        n = 0
        while not stop.is_set():
            R = P @ Q
            if not np.allclose(R, PQ, rtol=1e-12, atol=1e-9):
                errors.append("NumPy GEMM wrong during fastbp calls")
            Rf = P.astype(np.float32) @ Q.astype(np.float32)
            if not np.allclose(Rf, PQf, rtol=1e-4, atol=1e-3):
                errors.append("NumPy float32 GEMM wrong during fastbp calls")
            n += 1
        counts.append(n)

    def threads_changer():
        ctl = [c for c in ThreadpoolController().select(user_api="blas").lib_controllers
               if "numpy" in c.filepath]
        k = 0
        while not stop.is_set():
            for c in ctl:
                c.set_num_threads(1 if k % 2 else 2)
            k += 1
            time.sleep(0.003)
        for c in ctl:
            c.set_num_threads(2)

    def fastbp_user(seed):
        n = 0
        while not stop.is_set():
            dZ, A, W, b, want_b, want_f = cases[(n + seed) % 2]
            got = fastbp.dense_backward(dZ, np.maximum(A, 0), W, "relu", n_threads=2)
            for g, w in zip(got, want_b):
                if not np.array_equal(g, w):
                    errors.append("fastbp backward changed under concurrent NumPy")
            got = fastbp.dense_forward(A, W, b, "tanh", n_threads=2)
            for g, w in zip(got, want_f):
                if not np.array_equal(g, w):
                    errors.append("fastbp forward changed under concurrent NumPy")
            n += 1
        counts.append(n)

    counts = []
    runs0 = _testing.numpy_pool_runs()
    ths = [threading.Thread(target=numpy_user), threading.Thread(target=numpy_user),
           threading.Thread(target=threads_changer),
           threading.Thread(target=fastbp_user, args=(0,)),
           threading.Thread(target=fastbp_user, args=(1,))]
    for t in ths:
        t.start()
    time.sleep(DURATION)
    stop.set()
    for t in ths:
        t.join()
    assert not errors, errors[:3]
    assert len(counts) == 4 and min(counts) > 0, counts
    assert _testing.numpy_pool_runs() > runs0
    print("ok", counts, _testing.numpy_pool_runs() - runs0)
""")


@pytest.mark.slow
def test_concurrent_numpy_and_fastbp_on_one_pool():
    _pool_or_skip()
    r = run_python(STRESS, timeout=180)
    assert r.returncode == 0 and r.stdout.startswith("ok"), (
        f"exit {r.returncode}\n{r.stdout}\n{r.stderr}")


# ------------------------------------------- the symbol-table reader (ELF)

def _numpy_openblas_or_skip():
    import sys

    from fastbp import _blas
    if not sys.platform.startswith("linux"):
        pytest.skip("ELF shared libraries: Linux")
    path = _blas._find_numpy_blas(_blas.BLAS_LIBRARY)
    if path is None:
        pytest.skip("NumPy has no OpenBLAS of its own here")
    return path


def _nm(path):
    import shutil
    import subprocess

    if shutil.which("nm") is None:
        pytest.skip("binutils' nm is not here")
    out = subprocess.run(["nm", path], capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            table.setdefault(parts[2], set()).add(int(parts[0], 16))
    return table


def test_elf_symbols_agree_with_nm():
    """_elf_symbols reads NumPy's OpenBLAS's symbol table as binutils' nm does:
    local, hidden and exported names, and names the linker merged into the
    tail of a longer string (NumPy 2.5's blas_num_threads)."""
    from fastbp import _blas
    path = _numpy_openblas_or_skip()
    table = _nm(path)
    names = [n for n in ("gotoblas_pthread", "blas_num_threads", "exec_blas",
                         "blas_cpu_number", "scipy_openblas_get_parallel64_")
             if len(table.get(n, ())) == 1]
    if not names:
        pytest.skip("the library's symbol table names none of them (stripped)")
    got = _blas._elf_symbols(path, names)
    assert {n: got[n][0] for n in got} == {n: next(iter(table[n])) for n in names}
    assert _blas._elf_symbols(path, ("no_such_symbol_here",)) == {}


def test_elf_symbols_of_a_file_that_is_not_an_elf_library(tmp_path):
    from fastbp import _blas
    for content in (b"", b"\x7fELF", b"#!/bin/sh\n" * 100, b"\x7fELF\x01\x01" + bytes(100)):
        f = tmp_path / "lib.so"
        f.write_bytes(content)
        assert _blas._elf_symbols(str(f), ("gotoblas_pthread",)) == {}


def test_elf_symbols_of_a_stripped_library(tmp_path):
    import shutil
    import subprocess

    from fastbp import _blas
    path = _numpy_openblas_or_skip()
    if shutil.which("strip") is None:
        pytest.skip("binutils' strip is not here")
    stripped = tmp_path / "stripped.so"
    subprocess.run(["strip", "--strip-all", "-o", str(stripped), path], check=True)
    assert _blas._elf_symbols(str(stripped), ("gotoblas_pthread", "blas_num_threads")) == {}


def test_hidden_entry_points_are_the_exported_ones():
    """The route for a library that hides gotoblas_pthread / blas_num_threads
    (NumPy 2.5's), checked on one that exports them too: the symbol table's
    addresses, relocated by the anchor's, are dlsym's."""
    import ctypes

    from fastbp import _blas
    path = _numpy_openblas_or_skip()
    lib = ctypes.CDLL(path)
    if not hasattr(lib, "gotoblas_pthread"):
        pytest.skip("this OpenBLAS hides them: the pool tests above check that route")
    anchor = next((n for n in ("scipy_openblas_get_parallel64_", "scipy_openblas_get_parallel",
                               "openblas_get_parallel64_", "openblas_get_parallel")
                   if hasattr(lib, n)), None)
    if anchor is None:
        pytest.skip("no openblas_get_parallel to anchor on")
    run, nthr = _blas._hidden_entry_points(lib, path, anchor)
    if (run, nthr) == (0, 0) and not _blas._elf_symbols(path, ("gotoblas_pthread",)):
        pytest.skip("the library's symbol table is stripped")
    assert run == ctypes.cast(lib.gotoblas_pthread, ctypes.c_void_p).value
    assert nthr == ctypes.addressof(ctypes.c_int.in_dll(lib, "blas_num_threads"))
    # an anchor that is not in the table: nothing, not a guess
    assert _blas._hidden_entry_points(lib, path, "no_such_symbol_here") == (0, 0)
