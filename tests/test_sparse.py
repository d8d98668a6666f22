"""fastbp.Network with a sparse X: the first layer's sparse kernel
(csrc/fastbp_sparse.h) against fastbp.reference on the densified X, and the
sparse X's errors."""
import os
import subprocess
import sys
import zlib

import numpy as np
import pytest
import scipy.sparse as sp

from fastbp.network import Network
from fastbp.optim import Adam, SGD

from test_network import RTOL, assert_grads, reference_step


@pytest.fixture
def rng(request):
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def sparse_X(rng, n_x, m, density, dtype, fmt="csc", duplicates=False):
    """(sparse X (n_x, m) in ``fmt``, the same X dense). With ``duplicates``
    the CSC arrays are built by hand: repeated and unsorted indices within a
    column, and some empty columns."""
    if not duplicates:
        D = rng.standard_normal((n_x, m)) * (rng.random((n_x, m)) < density)
        if m > 2:
            D[:, 1] = 0.0                  # an example with no entries
        D = D.astype(dtype)
        S = sp.csc_matrix(D) if fmt == "csc" else sp.csr_matrix(D)
        return S, D
    indptr, indices, data = [0], [], []
    for j in range(m):
        k = 0 if j % 3 == 1 else int(rng.integers(1, 2 * max(1, int(density * n_x)) + 2))
        idx = rng.integers(0, n_x, k)
        if k > 1:
            idx[-1] = idx[0]               # a duplicate
        indices.extend(idx[::-1])          # unsorted
        data.extend(rng.standard_normal(k))
        indptr.append(len(indices))
    S = sp.csc_matrix((np.array(data, dtype=dtype), np.array(indices, dtype=np.int32),
                       np.array(indptr, dtype=np.int32)), shape=(n_x, m))
    assert not S.has_canonical_format
    D = S.toarray()                        # sums the duplicates
    return (S if fmt == "csc" else S.tocsr()), D


def labels(rng, net, m):
    if net.output == "softmax":
        return rng.integers(0, net.layer_dims[-1], m)
    return (rng.random((net.layer_dims[-1], m)) > 0.5).astype(net.dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fmt", ["csc", "csr", "coo"])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("m", [1, 3, 17, 1000])
def test_loss_and_gradient_match_reference(rng, dtype, fmt, n_threads, m):
    # 19 first-layer rows: two groups of 8 (float64) and a remainder, one
    # group of 16 (float32) and a remainder
    net = Network([23, 19, 4], "tanh", "softmax", dtype=dtype, lambd=0.3, seed=1,
                  n_threads=n_threads)
    S, D = sparse_X(rng, 23, m, 0.15, dtype, "csc" if fmt == "coo" else fmt)
    if fmt == "coo":
        S = S.tocoo()
    Y = labels(rng, net, m)
    params = {k: v.copy() for k, v in net.parameters.items()}
    loss_ref, g_ref = reference_step(net, params, D, Y)
    loss, grad = net.loss_and_gradient(S, Y)
    assert loss == pytest.approx(loss_ref, rel=RTOL[np.dtype(dtype)] * 10)
    assert_grads(net.grads, g_ref, dtype, f"sparse {fmt}")
    np.testing.assert_array_equal(grad, net.flat_grads.astype(np.float64))
    # forward / backward / predict_proba take it too
    AL = net.forward(S)
    np.testing.assert_allclose(net.predict_proba(S), AL, rtol=RTOL[np.dtype(dtype)],
                               atol=1e-6 if dtype == np.float32 else 1e-14)
    assert_grads(net.backward(Y), g_ref, dtype, f"sparse {fmt} backward")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fmt", ["csc", "csr"])
def test_duplicates_unsorted_and_empty_columns(rng, dtype, fmt):
    net = Network([30, 21, 2], "relu", "sigmoid", dtype=dtype, seed=2)
    S, D = sparse_X(rng, 30, 40, 0.1, dtype, fmt, duplicates=True)
    Y = labels(rng, net, 40)
    params = {k: v.copy() for k, v in net.parameters.items()}
    loss_ref, g_ref = reference_step(net, params, D, Y)
    loss, _ = net.loss_and_gradient(S, Y)
    assert loss == pytest.approx(loss_ref, rel=RTOL[np.dtype(dtype)] * 10)
    assert_grads(net.grads, g_ref, dtype, "duplicates")


def test_no_entries_at_all_and_one_feature(rng):
    net = Network([1, 9, 3], "relu", "softmax", dtype=np.float64, seed=0)
    S = sp.csc_matrix((1, 5))
    Y = rng.integers(0, 3, 5)
    params = {k: v.copy() for k, v in net.parameters.items()}
    loss_ref, g_ref = reference_step(net, params, np.zeros((1, 5)), Y)
    loss, _ = net.loss_and_gradient(S, Y)
    assert loss == pytest.approx(loss_ref, rel=1e-12)
    assert_grads(net.grads, g_ref, np.float64, "no entries")
    assert not np.any(net.grads["dW1"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_read_only_arrays_int64_indices_and_large_predict(rng, dtype):
    net = Network([50, 12, 3], "relu", "softmax", dtype=dtype, seed=4, n_threads=2)
    m = 5000                               # several predict chunks of 2048 columns
    S, D = sparse_X(rng, 50, m, 0.05, dtype, "csc")
    S.indptr = S.indptr.astype(np.int64)
    S.indices = S.indices.astype(np.int64)
    for a in (S.data, S.indices, S.indptr):
        a.flags.writeable = False
    want = net.predict_proba(D)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    for X in (S, S.tocsr(), sp.csc_array(S)):
        np.testing.assert_allclose(net.predict_proba(X), want, **tol)
    np.testing.assert_array_equal(net.predict(S), np.argmax(net.predict_proba(S), axis=0))
    loss, acc = net.evaluate(S, rng.integers(0, 3, m))
    assert np.isfinite(loss) and 0 <= acc <= 1


def test_predict_between_forward_and_backward_keeps_the_backward(rng):
    net = Network([40, 11, 3], "relu", "softmax", dtype=np.float64, seed=5)
    Sa, _ = sparse_X(rng, 40, 30, 0.1, np.float64)
    Sb, _ = sparse_X(rng, 40, 3000, 0.3, np.float64, "csr")    # a larger pattern
    Y = rng.integers(0, 3, 30)
    net.forward(Sa)
    want = {k: v.copy() for k, v in net.backward(Y).items()}
    net.forward(Sa)
    net.predict_proba(Sb)
    net.predict_proba(Sb.tocsc())
    got = net.backward(Y)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_training_equals_dense_training(rng, dtype):
    S, D = sparse_X(rng, 35, 90, 0.1, dtype)
    y = rng.integers(0, 3, 90)
    nets = [Network([35, 10, 3], "relu", "softmax", dtype=dtype, seed=6, lambd=0.01)
            for _ in range(4)]
    opts = [Adam(0.01) for _ in nets]
    for net, opt, X in zip(nets[:2], opts[:2], (S, D)):
        for _ in range(3):
            net.train_step(X, y, opt)
    for net, opt, X in zip(nets[2:], opts[2:], (S.tocsr(), D)):
        net.fit(X, y, epochs=2, batch_size=16, optimizer=opt, seed=3, verbose=False,
                validation_data=(X, y))
    rtol = 2e-4 if dtype == np.float32 else 1e-10
    for a, b in ((nets[0], nets[1]), (nets[2], nets[3])):
        np.testing.assert_allclose(a.flat_parameters, b.flat_parameters, rtol=rtol,
                                   atol=rtol * np.max(np.abs(b.flat_parameters)))


@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_sparse_targets_are_read_as_dense_ones(rng, output):
    """A sparse one-hot / indicator Y (OneHotEncoder's and
    MultiLabelBinarizer(sparse_output=True)'s outputs, transposed) was a
    TypeError calling the numbers "dtype object" and asking to encode the
    labels first."""
    X = rng.standard_normal((4, 30))
    if output == "softmax":
        Y = np.eye(3)[:, np.arange(30) % 3]
    else:
        Y = (rng.random((3, 30)) > 0.5).astype(float)
    results = []
    for y in (Y, sp.csc_matrix(Y), sp.csr_array(Y)):
        net = Network([4, 5, 3], output=output, dtype="float64", seed=0)
        hist = net.fit(X, y, epochs=2, batch_size=10, verbose=False)
        results.append((hist["loss"], net.flat_parameters.copy(), net.evaluate(X, y)))
        net.train_step(X, y, Adam(0.01))
    for loss, params, ev in results[1:]:
        assert loss == results[0][0] and ev == results[0][2]
        assert np.array_equal(params, results[0][1])


def test_sparse_bad_inputs(rng):
    net = Network([10, 4, 2], "relu", "softmax", dtype=np.float32, seed=0)
    S, _ = sparse_X(rng, 10, 6, 0.3, np.float32)
    y = rng.integers(0, 2, 6)
    with pytest.raises(ValueError, match=r"pass X\.T"):
        net.predict_proba(S.T)
    bad = S.copy()
    bad.indices[0] = 10
    with pytest.raises(ValueError, match="outside"):
        net.loss_and_gradient(bad, y)
    bad = S.copy()
    bad.indices[0] = -1
    with pytest.raises(ValueError, match="outside"):
        net.predict_proba(bad)
    bad = S.copy()
    bad.indptr[2], bad.indptr[3] = bad.indptr[3] + 1, bad.indptr[2]
    with pytest.raises(ValueError, match="indptr"):
        net.train_step(bad, y, SGD(0.1))
    bad = S.copy()
    bad.indptr[-1] = bad.indices.size + 5
    with pytest.raises(ValueError, match="indptr"):
        net.forward(bad)
    bad = S.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        net.predict_proba(bad)
    with pytest.raises(ValueError, match="range"):
        net.predict_proba(sp.csc_matrix(np.full((10, 2), 1e300)))
    with pytest.raises(TypeError, match="real numbers"):
        net.predict_proba(S.astype(np.complex64))
    Xc, Yc, labels_ = net.check_X(S), *net.check_Y(y, 6)[::2]
    with pytest.raises(TypeError, match="train_epoch takes a dense X"):
        net.train_epoch(Xc, Yc, net.check_Y(y, 6)[1], labels_, SGD(0.1), None, 3)
    # the compiled fast path refuses what check_X would have converted
    code = net.check_Y(y, 6)[1]
    with pytest.raises(ValueError, match="int32 or int64"):
        net.train_batch(S.astype(np.float64), Yc, code, labels_, SGD(0.1))
    with pytest.raises(TypeError, match="CSR / CSC"):
        net.train_batch(S.tocoo(), Yc, code, labels_, SGD(0.1))
    # nothing above changed the parameters or broke the network
    assert np.isfinite(net.flat_parameters).all()
    assert np.isfinite(net.loss_and_gradient(S, y)[0])


def test_every_dispatch_level_agrees(tmp_path):
    """The kernel's baseline, AVX2 and AVX-512 clones (FASTBP_DISPATCH caps the
    level) all match the reference; each level runs in its own process."""
    script = tmp_path / "levels.py"
    script.write_text(
        "import numpy as np, scipy.sparse as sp\n"
        "from fastbp.network import Network\n"
        "from test_network import reference_step\n"
        "rng = np.random.default_rng(0)\n"
        "out = []\n"
        "for dtype in (np.float32, np.float64):\n"
        "    net = Network([40, 37, 3], 'relu', 'softmax', dtype=dtype, seed=1)\n"
        "    D = (rng.standard_normal((40, 60)) * (rng.random((40, 60)) < 0.2)).astype(dtype)\n"
        "    y = rng.integers(0, 3, 60)\n"
        "    params = {k: v.copy() for k, v in net.parameters.items()}\n"
        "    _, g = reference_step(net, params, D, y)\n"
        "    net.loss_and_gradient(sp.csc_matrix(D), y)\n"
        "    err = max(np.max(np.abs(net.grads[k] - g[k])) / np.max(np.abs(g[k])) for k in g)\n"
        "    out.append(err)\n"
        "print(*out)\n")
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    for level in ("baseline", "avx2", "avx512"):
        env = dict(os.environ, FASTBP_DISPATCH=level,
                   PYTHONPATH=os.pathsep.join([tests_dir, os.environ.get("PYTHONPATH", "")]))
        res = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                             text=True, check=True)
        e32, e64 = map(float, res.stdout.split())
        assert e32 <= 2e-4 and e64 <= 1e-10, (level, e32, e64)


def _malformed(kind, fmt, shape, dtype=np.float32):
    X = sp.random(*shape, density=0.05, format=fmt, random_state=0, dtype=dtype)
    if kind == "index":
        X.indices[3] = 10**7
    elif kind == "negative":
        X.indices[3] = -2
    elif kind == "indptr-end":
        X.indptr[-1] = X.nnz + 10**6
    elif kind == "indptr-down":
        X.indptr[5] = X.indptr[6] + 3
    return X


@pytest.mark.parametrize("kind", ["index", "negative", "indptr-end", "indptr-down"])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("call", ["predict_proba", "fit", "evaluate", "forward"])
def test_malformed_matrices_are_refused_before_scipy_touches_them(kind, fmt, call):
    """A fresh-user trial crashed the process: predict_proba converted a CSR X
    of more than 2048 examples and fit sliced batches with SciPy (which trusts
    the index arrays) before the kernel's own check ran."""
    net = Network([20, 8, 3], output="softmax", seed=0)
    X = _malformed(kind, fmt, (20, 3000))
    y = np.arange(3000) % 3
    with pytest.raises(ValueError, match="malformed sparse") as err:
        if call == "fit":
            net.fit(X, y, epochs=1, batch_size=64, verbose=False)
        elif call == "evaluate":
            net.evaluate(X, y)
        else:
            getattr(net, call)(X)
    # the bounds named are the whole matrix's, not a batch's
    if kind in ("index", "negative"):
        assert f"outside [0, {3000 if fmt == 'csr' else 20})" in str(err.value)
    assert ("decreases" in str(err.value)) == (kind == "indptr-down")


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_entries_past_indptr_end_are_dropped_and_indptr_must_start_at_zero(rng, fmt):
    """SciPy's format check accepts stored entries past indptr[-1], and its
    column selection then corrupted the heap (Network.fit's batches): they
    are dropped, in a copy. An indptr not starting at 0 (SciPy's own rule)
    is refused: SciPy's conversions and fastbp's kernel read it differently."""
    D = rng.standard_normal((6, 10)) * (rng.random((6, 10)) < 0.4)
    X = sp.csr_matrix(D) if fmt == "csr" else sp.csc_matrix(D)
    X.indices = np.r_[X.indices, np.zeros(3, X.indices.dtype)]
    X.data = np.r_[X.data, [5.0, 5.0, 5.0]]
    net = Network([6, 4, 3], output="softmax", seed=0, dtype=np.float64)
    np.testing.assert_allclose(net.predict_proba(X), net.predict_proba(D), rtol=1e-12)
    ref = Network([6, 4, 3], output="softmax", seed=0, dtype=np.float64)
    y = np.arange(10) % 3
    for n, X_ in ((net, X), (ref, D)):
        n.fit(X_, y, epochs=3, batch_size=4, verbose=False, seed=1, optimizer=SGD(0.1))
    np.testing.assert_allclose(net.flat_parameters, ref.flat_parameters, rtol=1e-12)
    assert X.indices.size == X.nnz + 3          # the caller's matrix is left as it was
    X = sp.csr_matrix(D) if fmt == "csr" else sp.csc_matrix(D)
    X.indptr = X.indptr.copy()
    X.indptr[0] = 1
    with pytest.raises(ValueError, match="must start at 0"):
        net.predict_proba(X)


@pytest.mark.parametrize("fmt", ["lil_matrix", "dok_matrix", "lil_array", "dok_array",
                                 "dia_matrix"])
def test_other_formats_converted_to_a_float32_network(rng, fmt):
    """float64 LIL / DOK into a float32 network: the range check read their
    data array (LIL's is of lists, DOK has none) before the format was
    converted."""
    S, D = sparse_X(rng, 5, 20, 0.3, np.float64)
    net = Network([5, 4, 1], seed=0)
    np.testing.assert_allclose(net.predict_proba(getattr(sp, fmt)(S)),
                               net.predict_proba(D.astype(np.float32)), rtol=1e-6)


def test_malformed_bsr():
    net = Network([6, 3, 1], dtype=np.float64)
    X = sp.bsr_matrix(np.arange(1.0, 25.0).reshape(6, 4), blocksize=(2, 2))
    np.testing.assert_allclose(net.predict_proba(X), net.predict_proba(X.toarray()))
    X.data = X.data.reshape(X.data.shape[0], -1)
    with pytest.raises(ValueError, match="malformed sparse bsr"):
        net.predict_proba(X)


def test_malformed_coo_and_strided_arrays():
    net = Network([20, 8, 3], output="softmax", dtype=np.float64, seed=0)
    X = sp.random(20, 10, density=0.3, format="coo", random_state=0)
    X.row[2] = 20
    with pytest.raises(ValueError, match="row indices hold 20, outside"):
        net.predict_proba(X)
    # strided / big-endian arrays of a valid matrix are copied, not refused
    X = sp.random(20, 10, density=0.3, format="csc", random_state=0)
    want = net.predict_proba(X.toarray())
    buf = np.zeros(2 * X.nnz)
    buf[::2] = X.data
    X.data = buf[::2]
    np.testing.assert_allclose(net.predict_proba(X), want, rtol=1e-12)
    X.indices = X.indices.astype(">i4")
    np.testing.assert_allclose(net.predict_proba(X), want, rtol=1e-12)
    assert X.data.base is buf            # the caller's matrix is left as it was
