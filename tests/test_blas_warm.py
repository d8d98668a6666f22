"""fastbp._blas warms OpenBLAS's packing buffers before a thread's first
OpenBLAS call (src/fastbp/_blas.pyx, "OpenBLAS's buffers, warmed once"; the
speed it buys is measured by bench/bench_warm.py, not here).

Each check runs in a fresh process: the warm state lasts for the process, and
the tests before this one in a pytest run have used OpenBLAS already. The
pages themselves are checked: the child borrows buffers from OpenBLAS's
allocator as fastbp does and asks mincore(2) which of their pages are
resident.
"""
import json
import sys

import pytest
from conftest import run_python

from fastbp import _blas

pytestmark = [
    pytest.mark.skipif(not _blas._warm_counts()[3],
                       reason="OpenBLAS's allocator was not found: no warm-up to test"),
    pytest.mark.skipif(not sys.platform.startswith("linux"),
                       reason="mincore and fork as on Linux"),
]

_PRELUDE = r"""
import ctypes, json, mmap, os, threading
import numpy as np
from fastbp import _blas, _testing

lib = ctypes.CDLL(_blas.BLAS_LIBRARY)
alloc, free = lib.blas_memory_alloc, lib.blas_memory_free
alloc.restype, alloc.argtypes = ctypes.c_void_p, [ctypes.c_int]
free.argtypes = [ctypes.c_void_p]
libc = ctypes.CDLL(None, use_errno=True)
libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
PASSES, SLOTS, NBYTES, _ = _blas._warm_counts()

def resident(k):
    # fraction of the first NBYTES resident in each of the k slots a team of k
    # would be handed (the lowest free ones), borrowed as fastbp does
    bufs = [alloc(0) for _ in range(k)]
    out = []
    for b in bufs:
        page = mmap.PAGESIZE
        start = b & ~(page - 1)
        n = (b + NBYTES - start + page - 1) // page
        vec = ctypes.create_string_buffer(n)
        assert libc.mincore(start, n * page, vec) == 0, ctypes.get_errno()
        out.append(sum(c & 1 for c in vec.raw) / n)
    for b in bufs:
        free(b)
    return out

def passes():
    return _blas._warm_counts()[0]

rng = np.random.default_rng(0)
A32 = rng.standard_normal((128, 256)).astype(np.float32)
B32 = rng.standard_normal((256, 64)).astype(np.float32)
A64, B64 = A32.astype(np.float64), B32.astype(np.float64)
out = {"slots": SLOTS}
"""

_WARM = _PRELUDE + r"""
out["start"] = passes()
# a small product OpenBLAS runs on this thread although its count is 2: the
# first call from this thread warms every slot a team would take
_blas._set_blas_num_threads(2)
C = np.full((128, 64), 0.5, np.float32)
_testing.gemm(A32, B32, C, beta=np.float32(1.0), path="blas")
out["after first"] = passes()
out["beta err"] = float(np.abs(C - (0.5 + A64 @ B64)).max())
out["resident"] = resident(SLOTS)
D = np.zeros((128, 64))
_testing.gemm(A64, B64, D, path="blas")          # float64, same thread: done already
_testing.gemm(A32, B32, C, path="blas")
out["after more"] = passes()
out["f64 err"] = float(np.abs(D - A64 @ B64).max())
t = threading.Thread(target=lambda: _testing.gemm(A32, B32, C, path="blas"))
t.start(); t.join()
out["after a new thread"] = passes()
print(json.dumps(out))
"""

_COLD = _PRELUDE + r"""
_blas._set_buffer_warmup(False)
out["was on"] = _blas._set_buffer_warmup(False)
C = np.zeros((128, 64), np.float32)
_testing.gemm(A32, B32, C, path="blas")
out["passes"] = passes()
out["resident"] = resident(SLOTS)
print(json.dumps(out))
"""

_FORK = _PRELUDE + r"""
C = np.zeros((128, 64), np.float32)
_testing.gemm(A32, B32, C, path="blas")
out["before"] = passes()
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    _testing.gemm(A32, B32, C, path="blas")
    os.write(w, json.dumps([passes(), resident(SLOTS)]).encode())
    os._exit(0)
os.close(w)
out["child"] = json.loads(os.read(r, 10000).decode())
os.waitpid(pid, 0)
_testing.gemm(A32, B32, C, path="blas")
out["parent"] = passes()
out["parent resident"] = resident(SLOTS)
print(json.dumps(out))
"""


def _child(code):
    r = run_python(code)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_a_threads_first_call_warms_every_slot_once():
    out = _child(_WARM)
    assert out["start"] == 0
    assert out["after first"] == 1
    assert out["after more"] == 1, "the same thread warmed twice"
    assert out["after a new thread"] == 2, "a new thread did not warm the slots it would take"
    assert out["resident"] == [1.0] * out["slots"]


def test_without_the_warm_up_the_slots_stay_cold():
    # the counterpart of the test above: the same product leaves most of the
    # first megabytes of the slots untouched (what the warm-up is for)
    out = _child(_COLD)
    assert out["was on"] is False and out["passes"] == 0
    assert out["resident"][0] < 0.5
    assert all(x < 0.5 for x in out["resident"][1:])


def test_the_warm_up_changes_no_result():
    # the call that warmed adds to C (beta = 1): only the product lands there
    out = _child(_WARM)
    assert out["beta err"] < 1e-3
    assert out["f64 err"] < 1e-10


def test_a_fork_warms_again_in_both_processes():
    # OpenBLAS hands out new buffers after a fork, in the parent too
    out = _child(_FORK)
    assert out["before"] == 1
    passes, resident = out["child"]
    assert passes == 2 and resident == [1.0] * out["slots"]
    assert out["parent"] == 2 and out["parent resident"] == [1.0] * out["slots"]


_NET = r"""
import json
import numpy as np
from fastbp import _blas
from fastbp.network import Network
from fastbp.optim import Adam
{off}
rng = np.random.default_rng(0)
X = rng.standard_normal((784, 64)).astype(np.float32)
Y = np.eye(10, dtype=np.float32)[:, rng.integers(0, 10, 64)]
net = Network([784, 256, 128, 10], "relu", "softmax", dtype="float32", seed=0, n_threads=2)
opt = Adam(1e-3)
for _ in range(20):
    net.train_step(X, Y, opt)
print(json.dumps({{"passes": _blas._warm_counts()[0],
                   "w": net.parameters["W1"].tobytes().hex()[:4096]}}))
"""


def test_a_network_gives_the_same_bits_with_and_without_the_warm_up():
    on = _child(_NET.format(off=""))
    off = _child(_NET.format(off="_blas._set_buffer_warmup(False)"))
    assert on["passes"] >= 1 and off["passes"] == 0
    assert on["w"] == off["w"]
