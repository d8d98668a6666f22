"""64-bit indexing: strides, offsets and sizes beyond 2**31.

SciPy's ``cython_blas`` takes 32-bit ints for every size and leading
dimension. A network's first layer reads X in place, with X's row stride (or
example stride) as the GEMM's leading dimension: a column block of a C-ordered
X (n_x, M) has M there, and M can pass 2**31 (n_x = 2, float32: 17 GiB). The
kernels used to truncate that to ``int``: 2**31 + 16 became negative (a
segmentation fault) and 2**32 + 16 became 16 (the second row read from the
first: wrong predictions and gradients, silently).

The cheap tests build such views over an anonymous ``MAP_NORESERVE`` mapping:
only the pages the test touches are ever backed, a few KiB whatever the
stride. The ``huge`` tests hold arrays of more than 2**31 elements for real
(8-10 GiB); they run only with FASTBP_HUGE_TESTS=1 (tests/conftest.py).
"""
import mmap
import sys

import numpy as np
import pytest
import scipy.sparse as sp

import fastbp
from fastbp import _blas, _testing
from conftest import require_free_memory

pytestmark = pytest.mark.skipif(
    not (sys.platform.startswith("linux") and sys.maxsize > 2**32),
    reason="the lazily backed views need 64-bit Linux's anonymous MAP_NORESERVE mappings")

_MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000)    # Linux's value
BIG_LDS = (2**31 + 16, 2**32 + 16)      # truncated to int: negative, and 16


def strided(shape, row_stride, dtype=np.float32):
    """A writeable (rows, cols) view whose rows are ``row_stride`` elements apart,
    over a lazily backed anonymous mapping (untouched pages cost nothing)."""
    rows, cols = shape
    isz = np.dtype(dtype).itemsize
    nbytes = ((rows - 1) * row_stride + cols) * isz
    try:
        mm = mmap.mmap(-1, nbytes,
                       flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_NORESERVE)
    except (OSError, OverflowError, ValueError) as exc:
        pytest.skip(f"cannot map {nbytes / 2**30:.0f} GiB of address space: {exc}")
    buf = np.frombuffer(mm, dtype=dtype)
    return np.lib.stride_tricks.as_strided(buf, shape=(rows, cols),
                                           strides=(row_stride * isz, isz))


def filled(shape, row_stride, rng, dtype=np.float32, scale=1.0):
    a = strided(shape, row_stride, dtype)
    a[...] = rng.standard_normal(shape) * scale
    return a


# ------------------------------------------------------- the GEMM shim

@pytest.mark.parametrize("ld", BIG_LDS)
@pytest.mark.parametrize("path", ["auto", "small", "blas"])
@pytest.mark.parametrize("trans", [(False, False), (False, True), (True, False)])
@pytest.mark.parametrize("which", ["A", "B", "C"])
def test_gemm_leading_dimension_beyond_int32(ld, path, trans, which, rng):
    """_gemm (and _gemm_blas, which falls back to the small kernel) with one
    operand's row stride beyond INT_MAX: the product of the strided rows, not of
    the rows its truncated stride points at."""
    ta, tb = trans
    M, N, K = 3, 7, 5
    shapes = {"A": (K, M) if ta else (M, K), "B": (N, K) if tb else (K, N), "C": (M, N)}
    ops = {}
    for name, shape in shapes.items():
        if name == which:
            ops[name] = filled(shape, ld, rng)
        else:
            ops[name] = rng.standard_normal(shape).astype(np.float32)
    C0 = np.array(ops["C"])
    A, B = np.array(ops["A"]), np.array(ops["B"])
    want = 1.5 * (A.T if ta else A) @ (B.T if tb else B) + 0.5 * C0
    _testing.gemm(ops["A"], ops["B"], ops["C"], alpha=1.5, beta=0.5, trans_a=ta, trans_b=tb,
                  path=path)
    np.testing.assert_allclose(np.array(ops["C"]), want, rtol=1e-5, atol=1e-5)


def test_small_gemm_path_keeps_a_long_leading_dimension_out_of_blas():
    # a product OpenBLAS would take, but A's rows are 2**31 elements apart
    assert _blas.small_gemm_path(0, 0, 1024, 1024, 1024, np.float32) == "blas"
    for lda in BIG_LDS:
        assert _blas.small_gemm_path(0, 0, 1024, 1024, 1024, np.float32, lda=lda) == "small"


# ------------------------------------------------ the network's first layer

def _net(n_x, dtype=np.float32, hidden=5):
    return fastbp.Network([n_x, hidden, 3], hidden="tanh", output="softmax", seed=3,
                          dtype=dtype)


def _wide_x(rng, ld, m=40, n_x=2):
    """X (n_x, m) as a column block of a C-ordered X of ld columns."""
    return filled((n_x, m), ld, rng)


def _tall_x(rng, ld, m=12, n_x=2):
    """X (n_x, m) as ``X_rows.T``, X_rows's rows (examples) ld elements apart
    (at most 64 of them: each is 8-16 GiB of address space further on)."""
    return filled((min(m, 64), n_x), ld, rng).T


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# (5, 40): products for the small kernel anyway; (300, 1024): products OpenBLAS
# would take (300 x 1024 x 2 and up), split between threads
SIZES = [(5, 40), (300, 1024)]


@pytest.mark.parametrize("ld", BIG_LDS)
@pytest.mark.parametrize("make", [_wide_x, _tall_x], ids=["columns", "rows"])
@pytest.mark.parametrize("hidden, m", SIZES)
def test_network_predict_and_forward_read_x_at_its_stride(ld, make, hidden, m, rng):
    X = make(rng, ld, m)
    Xc = np.array(X)
    net = _net(X.shape[0], hidden=hidden)
    assert np.shares_memory(net.check_X(X), X)      # read in place, not copied
    _close(net.predict_proba(X), net.predict_proba(Xc))
    _close(net.forward(X), net.forward(Xc))
    _close(net.evaluate(X, np.arange(X.shape[1]) % 3)[0],
           net.evaluate(Xc, np.arange(X.shape[1]) % 3)[0])


@pytest.mark.parametrize("ld", BIG_LDS)
@pytest.mark.parametrize("make", [_wide_x, _tall_x], ids=["columns", "rows"])
@pytest.mark.parametrize("hidden, m", SIZES)
def test_network_training_reads_x_at_its_stride(ld, make, hidden, m, rng):
    """train_step, the unshuffled epoch (column blocks of X, read in place)
    and the shuffled one (gathered) on the view train as on its copy."""
    X = make(rng, ld, m)
    Xc = np.array(X)
    y = np.arange(X.shape[1]) % 3
    bs = max(8, m // 2)
    results = []
    for data in (X, Xc):
        net = _net(X.shape[0], hidden=hidden)
        net.train_step(data, y, optimizer=fastbp.SGD(0.1))
        net.fit(data, y, epochs=2, batch_size=bs, shuffle=False, optimizer=fastbp.SGD(0.1),
                verbose=0)
        net.fit(data, y, epochs=1, batch_size=bs, shuffle=True, seed=1,
                optimizer=fastbp.SGD(0.1), verbose=0)
        results.append(net.flat_parameters.copy())
    _close(results[0], results[1])


def test_dense_layer_copies_a_strided_input(rng):
    # the layer kernels take contiguous operands (their leading dimensions are
    # their shapes, below 2**31): a strided view is copied, not read at its stride
    X = _wide_x(rng, 2**32 + 16, m=33)
    W = rng.standard_normal((4, 2)).astype(np.float32)
    b = rng.standard_normal((4, 1)).astype(np.float32)
    Z, A = fastbp.dense_forward(X, W, b, "identity")
    _close(Z, W @ np.array(X) + b)


# ------------------------------------------------------------- sparse X

def _csc_beyond_int32(n_x=2):
    """A CSC X (n_x, 2**31 + 8) with three entries, in its last three columns;
    its indptr (17 GiB of int64 zeros) lazily backed."""
    m = 2**31 + 8
    ptr = strided((1, m + 1), 1, np.int64)[0]
    ptr[-4:] = [0, 1, 2, 3]
    X = sp.csc_matrix((np.array([1.0, 2.0, 3.0], np.float32), np.array([0, 1, 0], np.int64),
                       ptr), shape=(n_x, m))
    assert np.shares_memory(X.indptr, ptr)
    return X


def test_sparse_training_call_refuses_2_31_examples():
    """The sparse kernels number a training call's examples with int32: column
    2**31 became -2**31 and the forward wrote 8 GiB before its scratch buffer."""
    X = _csc_beyond_int32()
    net = fastbp.Network([2, 1], output="identity", seed=0, dtype=np.float32)
    Y = np.broadcast_to(np.float32(0), (1, X.shape[1]))
    # (train_batch: X as check_X returns it, the fast path, no O(m) scan first)
    with pytest.raises(ValueError, match=r"m < 2\*\*31 examples per training call"):
        net.train_batch(X, Y, 0, False, fastbp.SGD(0.1))


# --------------------------------------------- huge: > 2**31 elements, for real

N_X, M_HUGE, TAIL = 784, 2_750_000, 4096        # 2.16e9 elements, 8.0 GiB of float32


def _huge_buffer():
    require_free_memory(N_X * M_HUGE * 4 + (1 << 30))
    buf = np.empty(N_X * M_HUGE, dtype=np.float32)
    rng = np.random.default_rng(7)
    block = rng.standard_normal(1 << 22).astype(np.float32)
    for k in range(0, buf.size, block.size):        # a few seconds, not a minute of RNG
        n = min(block.size, buf.size - k)
        np.multiply(block[:n], np.float32(1 + (k // block.size) % 5), out=buf[k:k + n])
    return buf


def _tail_checks(X):
    """Predictions, one layer's forward and epochs on the examples beyond 2**31
    elements of X (784, 2.75e6) against the same examples copied out."""
    assert X.size > 2**31
    tail = np.array(X[:, -TAIL:])
    y = np.arange(M_HUGE) % 3
    net = fastbp.Network([N_X, 8, 3], hidden="relu", output="softmax", seed=1,
                         dtype=np.float32)
    out = net.predict_proba(X)
    _close(out[:, -TAIL:], net.predict_proba(tail))
    _close(out[:, :TAIL], net.predict_proba(np.array(X[:, :TAIL])))
    W = net.parameters["W1"]
    Z, _ = fastbp.dense_forward(X, W, np.zeros((W.shape[0], 1), np.float32), "identity")
    # (float32 rounding of 784-term sums: the bound of conftest's gemm tolerance)
    Wd, td = W.astype(np.float64), tail.astype(np.float64)
    bound = 2 * (N_X + 2) * np.finfo(np.float32).eps * (np.abs(Wd) @ np.abs(td))
    assert np.all(np.abs(Z[:, -TAIL:] - Wd @ td) <= bound)
    del Z, out
    # epochs on X's last examples: gathered (order) and read in place (column
    # blocks of X), against the same on their copy
    got = []
    for data, order, view, labels_of in ((X, np.arange(M_HUGE - TAIL, M_HUGE), X[:, -TAIL:], y),
                                         (tail, np.arange(TAIL), tail, y[-TAIL:])):
        n = fastbp.Network([N_X, 8, 3], hidden="relu", output="softmax", seed=1,
                           dtype=np.float32)
        opt = fastbp.SGD(0.05)
        Xk = n.check_X(data)
        assert np.shares_memory(Xk, data)
        Yk, code, labels = n.check_Y(labels_of, data.shape[1])
        n.train_epoch(Xk, Yk, code, labels, opt, order, 256)
        Yv, code, labels = n.check_Y(y[-TAIL:], TAIL)
        n.train_epoch(n.check_X(view), Yv, code, labels, opt, None, 256)
        got.append(n.flat_parameters.copy())
    np.testing.assert_array_equal(got[0], got[1])


@pytest.mark.huge
def test_huge_x_c_order():
    buf = _huge_buffer()
    try:
        _tail_checks(buf.reshape(N_X, M_HUGE))             # rows M apart: ld 2.75e6
    finally:
        del buf


@pytest.mark.huge
def test_huge_x_rows_transposed():
    buf = _huge_buffer()
    try:
        _tail_checks(buf.reshape(M_HUGE, N_X).T)           # X_rows.T: examples contiguous
    finally:
        del buf


@pytest.mark.huge
def test_huge_sparse_predict_beyond_int32_columns():
    """predict takes a CSC X of any width (it remaps chunks of columns): the
    predictions of its last columns, 2**31 and more."""
    require_free_memory((2**31 + 8) * 4 * 2)
    X = _csc_beyond_int32()
    net = fastbp.Network([2, 1], output="identity", seed=0, dtype=np.float32)
    out = net.predict_proba(X)
    tail = sp.csc_matrix(X[:, -16:].toarray())
    np.testing.assert_array_equal(out[:, -16:], net.predict_proba(tail))
    assert np.all(out[:, :16] == out[0, 0])
