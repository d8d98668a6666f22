"""fastbp._blas warms each OpenBLAS buffer once before the first one-thread GEMMs
of a dtype land on it (src/fastbp/_blas.pyx, "OpenBLAS's buffers, warmed
once"; the speed it buys is measured by bench/bench_warm.py, not here).

Each check runs in a fresh process: the warm state lasts for the process,
and the tests before this one in a pytest run have used OpenBLAS already.
"""
import json

import numpy as np
import pytest
from conftest import run_python

from fastbp import _blas

pytestmark = pytest.mark.skipif(
    not _blas.blas_thread_control()["controlled"],
    reason="the warm-up runs only where fastbp controls OpenBLAS's thread count")

_CHILD = r"""
import json
import numpy as np
import fastbp
from fastbp import _blas, _testing

def counts():
    return _blas._warm_counts()[0]

out = {"start": counts(), "cap": _blas._warm_counts()[1]}
rng = np.random.default_rng(0)
A32 = rng.standard_normal((128, 256)).astype(np.float32)
B32 = rng.standard_normal((256, 64)).astype(np.float32)
A64, B64 = A32.astype(np.float64), B32.astype(np.float64)

# OpenBLAS allowed several threads: its own affair, no warm-up
_blas._set_blas_num_threads(2)
C = np.zeros((128, 64), np.float32)
_testing.gemm(A32, B32, C, path="blas")
out["multi"] = counts()

# one thread: the first float32 call warms a buffer, later ones do not
_blas._set_blas_num_threads(1)
C1 = np.zeros((128, 64), np.float32)
_testing.gemm(A32, B32, C1, path="blas")
out["f32 first"] = counts()
C2 = np.full((128, 64), np.nan, np.float32)
_testing.gemm(A32, B32, C2, path="blas")
out["f32 again"] = counts()
out["f32 same bits"] = bool((C1.view(np.uint32) == C2.view(np.uint32)).all())
out["f32 err"] = float(np.abs(C1 - (A64 @ B64)).max())

# float64 warms its own (a dgemm packs 8-byte elements further out)
D1 = np.zeros((128, 64), np.float64)
_testing.gemm(A64, B64, D1, path="blas")
out["f64 first"] = counts()
D2 = np.zeros((128, 64), np.float64)
_testing.gemm(A64, B64, D2, path="blas")
out["f64 again"] = counts()
out["f64 same bits"] = bool((D1 == D2).all())
out["f64 err"] = float(np.abs(D1 - A64 @ B64).max())

# the call that warms adds to C (beta = 1): nothing but the product lands there
C3 = np.full((128, 64), 0.5, np.float32)
_blas._forget_warm_buffers()
n0 = counts()["float32"][0]
_testing.gemm(A32, B32, C3, beta=np.float32(1.0), path="blas")
out["beta warmed"] = counts()["float32"][0] - n0
out["beta err"] = float(np.abs(C3 - (0.5 + A64 @ B64)).max())

# switched off: no warm-up, and the switch reports its old state
_blas._set_blas_num_threads(1)
out["was on"] = _blas._set_buffer_warmup(False)
out["was off"] = not _blas._set_buffer_warmup(False)
print(json.dumps(out))
"""


def _child(code):
    r = run_python(code)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_one_warm_up_per_dtype_and_none_for_threaded_openblas():
    out = _child(_CHILD)
    zero = {"float32": [0, 0], "float64": [0, 0]}
    assert out["start"] == zero
    assert out["cap"] >= 1
    assert out["multi"] == zero, "a multithreaded OpenBLAS call was warmed"
    assert out["f32 first"] == {"float32": [1, 1], "float64": [0, 0]}
    assert out["f32 again"] == out["f32 first"], "a warm buffer was warmed again"
    assert out["f64 first"] == {"float32": [1, 1], "float64": [1, 1]}
    assert out["f64 again"] == out["f64 first"]
    assert out["was on"] and out["was off"]
    assert out["beta warmed"] == 1
    assert out["beta err"] < 1e-3, "the warm-up wrote into the caller's C"


def test_the_warm_up_changes_no_result():
    # the product that triggered the warm-up and the next one: the same bits,
    # and the right product (float32 against float64 NumPy, K = 256 terms)
    out = _child(_CHILD)
    assert out["f32 same bits"] and out["f64 same bits"]
    assert out["f32 err"] < 1e-3
    assert out["f64 err"] < 1e-10


_TEAM = r"""
import json
import numpy as np
import fastbp
from fastbp import _blas
from fastbp.network import Network
from fastbp.optim import Adam

rng = np.random.default_rng(0)
X = rng.standard_normal((784, 64)).astype(np.float32)
Y = np.eye(10, dtype=np.float32)[:, rng.integers(0, 10, 64)]
net = Network([784, 256, 128, 10], "relu", "softmax", dtype="float32", seed=0,
              n_threads={nt})
opt = Adam(1e-3)
for _ in range(3):
    net.train_step(X, Y, opt)
first = _blas._warm_counts()[0]["float32"]
for _ in range(20):
    net.train_step(X, Y, opt)
print(json.dumps({{"first": first, "later": _blas._warm_counts()[0]["float32"],
                   "cap": _blas._warm_counts()[1], "w": float(net.parameters["W1"][0, 0])}}))
"""


@pytest.mark.parametrize("nt", [1, 2])
def test_a_network_step_warms_at_most_its_team(nt):
    # the [784, 256, 128, 10] batch-64 step runs its first layer's products in
    # OpenBLAS on one thread per team member; the team chooser may start on
    # one thread and try the team later, so the level may rise once more
    out = _child(_TEAM.format(nt=nt))
    runs, level = out["later"]
    assert 1 <= out["first"][1] <= level <= min(nt, out["cap"])
    # one per level, and with two threads a caller that re-enters while the
    # other is still warming may warm once more
    assert level <= runs <= 2 * level
    if nt == 1:
        assert out["later"] == out["first"] == [1, 1], "a lone thread warmed twice"


def test_a_network_step_gives_the_same_bits_with_and_without_the_warm_up():
    code = _TEAM.format(nt=2)
    on = _child(code)
    off = _child(code.replace("rng = np.random", "_blas._set_buffer_warmup(False)\nrng = np.random"))
    assert off["first"] == [0, 0] and on["first"][0] >= 1
    assert on["w"] == off["w"]


_FORK = r"""
import json, os
import numpy as np
from fastbp import _blas, _testing

def counts():
    return _blas._warm_counts()[0]["float32"]

_blas._set_blas_num_threads(1)
A = np.ones((128, 256), np.float32)
B = np.ones((256, 64), np.float32)
C = np.zeros((128, 64), np.float32)
_testing.gemm(A, B, C, path="blas")
before = counts()
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    after = counts()
    _testing.gemm(A, B, C, path="blas")
    os.write(w, json.dumps([after, counts(), float(C[0, 0])]).encode())
    os._exit(0)
os.close(w)
child = json.loads(os.read(r, 1000).decode())
os.waitpid(pid, 0)
after = counts()
_testing.gemm(A, B, C, path="blas")
print(json.dumps({"before": before, "parent": [after, counts()], "child": child}))
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_fork_warms_again_in_both_processes():
    # OpenBLAS hands out new buffers after a fork, in the parent too
    out = _child(_FORK)
    assert out["before"] == [1, 1]
    assert out["parent"] == [[1, 0], [2, 1]]
    assert out["child"][:2] == [[1, 0], [2, 1]]
    assert out["child"][2] == 256.0
