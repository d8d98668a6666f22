"""The first layer's forward on a transposed copy of X (_netstep's _xt_on).

Where OpenBLAS runs a small NT product slower than the NN one (its AVX-512
cores: _blas.nt_copy_rule), a step whose X is stored transposed (examples
as rows: every gathered mini-batch, and ``X.T`` of a C-ordered data set)
transposes X into a copy per thread and runs W X as NN. These tests turn
the rule on whatever the machine's core (and off, for comparison): the
step against fastbp.reference, the epoch call against the per-batch loop
bit for bit, the team against one thread bit for bit, and the size limit
and the workspaces.
"""
import zlib

import numpy as np
import pytest

import fastbp
from fastbp import _blas, _fit, _testing
from fastbp.network import Network
from fastbp.optim import Adam, SGD

from conftest import dispatch_env, run_python
from test_network import assert_grads, reference_step  # tests/ is on sys.path

SERIAL = pytest.mark.skipif(not fastbp.openmp_enabled(),
                            reason="a serial build runs every step on one thread")


@pytest.fixture
def rng(request):
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def _openblas_only(on):
    """The rule on or off, and every product in OpenBLAS (as on its AVX-512
    cores; elsewhere the small kernel takes these products, and the rule
    leaves them alone). Returns what restores the settings."""
    old_rule = _blas._set_nt_copy_rule(on)
    old_limits = _testing.set_small_gemm_max(-1)

    def restore():
        _testing.set_small_gemm_max(old_limits)
        _blas._set_nt_copy_rule(old_rule)
    return restore


@pytest.fixture(params=[True, False], ids=["copy", "nocopy"])
def rule(request):
    restore = _openblas_only(request.param)
    yield request.param
    restore()


@pytest.fixture
def rule_on():
    restore = _openblas_only(True)
    yield
    restore()


def _rows(rng, n_x, m, dtype, layout):
    """X (n_x, m) stored transposed: the transpose of C-ordered rows, an
    F-ordered array, a strided column block of a wider one, or read-only."""
    R = rng.standard_normal((m, n_x)).astype(dtype)
    if layout == "rows":
        return R.T
    if layout == "F":
        return np.asfortranarray(R.T)
    if layout == "strided":
        W = np.zeros((m, n_x + 5), dtype=dtype)
        W[:, 2:2 + n_x] = R
        return W[:, 2:2 + n_x].T
    X = R.T
    X.flags.writeable = False
    return X


def _net(dims, dtype, nt, *, team=None, hidden="tanh", output="softmax", **kw):
    net = Network(dims, hidden, output, dtype=dtype, seed=4, n_threads=nt, **kw)
    net._kernel.min_flops_per_thread = 1      # a team even for these small steps
    net._kernel.team_policy = nt if team is None else team
    return net


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nt", [1, 2])
@pytest.mark.parametrize("n_x, m", [(1, 1), (3, 17), (17, 3), (64, 32), (5, 1000)])
@pytest.mark.parametrize("layout", ["rows", "F", "strided", "readonly"])
def test_step_matches_reference(rng, rule, dtype, nt, n_x, m, layout):
    dims = [n_x, 9, 4]
    net = _net(dims, dtype, nt, lambd=0.1)
    X = _rows(rng, n_x, m, dtype, layout)
    y = rng.integers(0, 4, m)
    params = {k: v.copy() for k, v in net.parameters.items()}
    loss_ref, g_ref = reference_step(net, params, X, y)
    AL = net.forward(X)
    # the path under test ran (a single row or column is no transposed layout)
    copied = rule and n_x > 1 and m > 1
    assert net._kernel.x_transposed_copy() == copied
    grads = net.backward(y)
    assert_grads(grads, g_ref, dtype, f"{n_x}x{m} {layout}")
    rtol = 2e-4 if dtype == np.float32 else 1e-10
    loss = net.train_step(X, y, SGD(0.1))
    assert loss == pytest.approx(loss_ref, rel=rtol * 10)
    assert net._kernel.x_transposed_copy() == copied
    assert AL.shape == (4, m)
    for k, p in params.items():
        want = p.astype(np.float64) - 0.1 * g_ref["d" + k]
        np.testing.assert_allclose(net.parameters[k], want, rtol=rtol,
                                   atol=rtol * np.max(np.abs(want)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_c_ordered_x_is_not_copied(rng, rule_on, dtype):
    # X (n_x, m) C-ordered is already what an NN product reads
    net = _net([6, 8, 3], dtype, 2)
    X = rng.standard_normal((6, 20)).astype(dtype)
    net.forward(X)
    assert not net._kernel.x_transposed_copy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_only_small_x_is_copied(rng, rule_on, dtype):
    # up to 64 KiB of X: digits' batches are 16 KiB in float64
    isz = np.dtype(dtype).itemsize
    net = _net([16, 8, 3], dtype, 2)
    fits = 65536 // (16 * isz)
    for m, copied in ((fits, True), (fits + 1, False), (7, True)):
        net.forward(_rows(rng, 16, m, dtype, "rows"))
        assert net._kernel.x_transposed_copy() == copied, m


def test_sparse_x_is_not_copied(rng, rule_on):
    sp = pytest.importorskip("scipy.sparse")
    net = _net([12, 8, 3], np.float64, 2)
    X = sp.random(12, 30, density=0.3, format="csc", random_state=1)
    out = net.forward(X)
    assert not net._kernel.x_transposed_copy()
    np.testing.assert_allclose(out, net.forward(np.ascontiguousarray(X.toarray().T).T),
                               rtol=1e-12)


@SERIAL
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("keep_prob", [1.0, 0.8])
def test_epoch_call_equals_per_batch_loop(rng, rule_on, dtype, keep_prob):
    # the epoch's gathered batches and train_batch's take the same rule
    n_x, m = 20, 150
    X = _rows(rng, n_x, m, dtype, "rows")
    y = rng.integers(0, 3, m)
    runs = []
    for per_batch in (True, False):
        net = _net([n_x, 16, 3], dtype, 2, keep_prob=keep_prob, lambd=0.01)
        opt = Adam(0.01)
        hist = _fit.fit(net, _fit.LocalStepper(net, per_batch=per_batch), X, y, epochs=2,
                        batch_size=32, optimizer=opt, shuffle=True, seed=3,
                        validation_data=None, verbose=False, callback=None,
                        checkpoint_path=None, checkpoint_every=1, resume=False,
                        sample_weight=None)
        assert net._kernel.x_transposed_copy()
        runs.append((net.flat_parameters.copy(), hist["loss"], opt.state_arrays()))
    (p1, l1, s1), (p2, l2, s2) = runs
    assert np.array_equal(p1, p2)
    assert l1 == l2
    assert all(np.array_equal(a, b) for a, b in zip(s1, s2))


@SERIAL
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bits_follow_the_blocks_not_the_team(rng, rule_on, dtype):
    # every thread transposes X for itself; a team of one running both
    # blocks gives the bits of a team of two
    n_x, m = 64, 32
    X = _rows(rng, n_x, m, dtype, "rows")
    y = rng.integers(0, 10, 8 * m)
    Xe = _rows(rng, n_x, 8 * m, dtype, "rows")
    out = []
    for team in (1, 2):
        net = _net([n_x, 128, 10], dtype, 2, team=team, hidden="relu")
        a = net.forward(X).copy()
        net.fit(Xe, y, epochs=2, batch_size=m, optimizer=Adam(1e-3), seed=0, verbose=False)
        assert net._kernel.x_transposed_copy()
        out.append((a, net.flat_parameters.copy()))
    assert np.array_equal(out[0][0], out[1][0])
    assert np.array_equal(out[0][1], out[1][1])


@SERIAL
def test_copies_are_counted_and_released(rng, rule_on):
    net = _net([64, 32, 10], np.float64, 2)
    X = _rows(rng, 64, 32, np.float64, "rows")
    before = None
    net.forward(X)
    assert net._kernel.x_transposed_copy()
    before = net._kernel.workspace_bytes()
    net._kernel.release_workspaces()
    assert net._kernel.workspace_bytes() == 0
    a = net.forward(X)
    assert net._kernel.workspace_bytes() == before
    _blas._set_nt_copy_rule(False)
    try:
        assert np.allclose(net.forward(X), a, rtol=1e-12)
        assert not net._kernel.x_transposed_copy()
    finally:
        _blas._set_nt_copy_rule(True)
    assert before >= 2 * 64 * 32 * 8          # two copies of X (n_x, m)


def test_small_kernel_products_are_not_copied(rng):
    # where the small kernel runs the product (AVX2 cores), NT costs it no
    # more than NN: the rule sends only OpenBLAS's products through the copy
    old_rule = _blas._set_nt_copy_rule(True)
    old_limits = _testing.set_small_gemm_max((16384, 262144))
    try:
        net = _net([64, 128, 10], np.float64, 2)
        net.forward(_rows(rng, 64, 32, np.float64, "rows"))
        # a 64-row block of digits' W1 X^T, 131,072 multiply-adds: the small
        # kernel's mid-size NT rule takes it where its AVX2 clone runs
        from fastbp._blas import small_gemm_path
        assert small_gemm_path(False, True, 64, 32, 64, np.float64) == "small"
        assert not net._kernel.x_transposed_copy()
    finally:
        _testing.set_small_gemm_max(old_limits)
        _blas._set_nt_copy_rule(old_rule)


def test_rule_follows_the_blas_core():
    # on by itself exactly on OpenBLAS's AVX-512 cores (where NT lost: the
    # measurements at _blas._nt_slow)
    assert _blas.nt_copy_rule() == _blas.blas_small_matrix_path()


TRANSPOSE_CHILD = """
import numpy as np
from fastbp import _blas, _testing
rng = np.random.default_rng(5)
n = 0
for dt in (np.float32, np.float64):
    for rows in (1, 2, 3, 4, 7, 8, 9, 16, 17, 32, 33):
        for cols in (1, 3, 4, 5, 8, 12, 17, 64):
            W = rng.standard_normal((rows, cols + 3)).astype(dt)
            W[0, 0] = np.nan          # bit copies: NaN, -0.0, subnormal numbers too
            W[-1, -4] = -0.0
            W[rows // 2, 1] = np.finfo(dt).smallest_subnormal
            for S in (W[:, :cols], np.ascontiguousarray(W[:, :cols])):
                T = _testing.transpose(S)
                assert T.shape == (cols, rows) and T.flags.c_contiguous
                assert T.tobytes() == np.ascontiguousarray(S.T).tobytes(), (dt, rows, cols)
                n += 1
print(_blas.simd_dispatch(), n)
"""


@pytest.mark.parametrize("dispatch", ["default", "avx2", "baseline"])
def test_transpose_clones_copy_every_bit(dispatch):
    # the register tiles and the scalar edges of each clone, against NumPy's
    # transpose (a child per level: the choice is cached per process)
    res = run_python(TRANSPOSE_CHILD, dispatch_env(dispatch))
    assert res.returncode == 0, res.stderr
    level, n = res.stdout.split()
    assert int(n) == 2 * 11 * 8 * 2
    if dispatch == "baseline":
        assert level == "baseline"
