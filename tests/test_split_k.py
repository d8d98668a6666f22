"""The output layer cut along its inner dimension on a team (_netstep._split_k).

With more than one block per phase, a network whose output layer is narrower
than its input computes that layer's products as partial sums over the
previous layer's row blocks (summed in block order) instead of over its own
rows. These tests check that path against the one-block step (n_threads=1,
checked against NumPy elsewhere): the forward, the loss with its L2 term,
the gradients, the Adam update and the inference forward, for every output,
with dropout and per-example weights, and with more blocks than the inner
dimension has rows (an empty block). The bits may differ from one block's
(partial sums round differently); they must not depend on the team.
"""
import numpy as np
import pytest

import fastbp
from fastbp.network import Network
from fastbp.optim import Adam

SERIAL = pytest.mark.skipif(not fastbp.openmp_enabled(),
                            reason="a serial build runs every step on one thread, one block")

#: (layer dims, output): L = 2 and 3; an inner dimension of 2 on 3 blocks
#: (_split gives block 0 no row); output as wide as its input stays on rows
CASES = [
    ([7, 9, 4], "softmax"),
    ([7, 10, 6, 3], "softmax"),
    ([5, 11, 1], "sigmoid"),
    ([5, 8, 6, 2], "identity"),
    ([6, 13, 3], "exp"),
    ([4, 2, 1], "identity"),
    ([6, 5, 5], "sigmoid"),
]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


@pytest.fixture
def rng():
    return np.random.default_rng(20261204)


def _targets(rng, output, n_out, m, dtype):
    if output == "softmax":
        return rng.integers(0, n_out, m)
    if output == "sigmoid":
        return (rng.random((n_out, m)) > 0.5).astype(dtype)
    if output == "exp":
        return rng.poisson(2.0, (n_out, m)).astype(dtype)
    return rng.standard_normal((n_out, m)).astype(dtype)


def _net(dims, output, dtype, nb, team, *, lambd=0.2, keep_prob=1.0):
    net = Network(dims, "tanh", output, dtype=dtype, seed=11, lambd=lambd,
                  keep_prob=keep_prob, n_threads=1)
    net._nt = nb        # nb blocks even beyond the cores (n_threads would be capped)
    net._kernel.min_flops_per_thread = 1      # ... and even for these tiny steps
    net._kernel.team_policy = team
    return net


@SERIAL
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dims, output", CASES)
@pytest.mark.parametrize("nb", [2, 3])
def test_split_output_layer_matches_one_block(rng, dtype, dims, output, nb):
    m = 37
    X = rng.standard_normal((dims[0], m)).astype(dtype)
    Y = _targets(rng, output, dims[-1], m, dtype)
    one = _net(dims, output, dtype, 1, 1)
    many = _net(dims, output, dtype, nb, nb)
    tol = TOL[dtype]
    np.testing.assert_allclose(many.predict_proba(X), one.predict_proba(X), **tol)
    l1, g1 = one.loss_and_gradient(X, Y)
    ln, gn = many.loss_and_gradient(X, Y)
    np.testing.assert_allclose(ln, l1, **tol)
    np.testing.assert_allclose(gn, g1, **tol)
    # and a few Adam steps through the fused step (the update of W[L]'s
    # column blocks inside the backward)
    for net in (one, many):
        net.fit(X, Y, epochs=3, batch_size=16, optimizer=Adam(0.01), shuffle=False,
                verbose=False)
    np.testing.assert_allclose(many.flat_parameters, one.flat_parameters,
                               rtol=tol["rtol"] * 50, atol=tol["atol"] * 50)


@SERIAL
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["plain", "dropout", "weights"])
def test_split_output_layer_bits_follow_the_blocks_not_the_team(rng, dtype, case):
    dims, m = [9, 14, 8, 3], 50
    X = rng.standard_normal((dims[0], m)).astype(dtype)
    y = rng.integers(0, 3, m)
    sw = rng.uniform(0.2, 2.0, m) if case == "weights" else None
    runs = []
    for team in (1, 3):
        net = _net(dims, "softmax", dtype, 3, team,
                   keep_prob=0.75 if case == "dropout" else 1.0)
        hist = net.fit(X, y, epochs=2, batch_size=12, optimizer=Adam(0.02), seed=1,
                       sample_weight=sw, verbose=False)
        runs.append((net, hist))
    (a, ha), (b, hb) = runs
    assert np.array_equal(a.flat_parameters, b.flat_parameters)
    assert np.array_equal(ha["loss"], hb["loss"])
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))


@SERIAL
def test_split_output_layer_rounds_unlike_one_block(rng):
    """The comparisons above can fail: the partial sums do change the bits
    (so a path that silently fell back to row blocks would show here)."""
    dims, m = [20, 64, 10], 32
    X = rng.standard_normal((dims[0], m))
    one = _net(dims, "softmax", np.float64, 1, 1)
    two = _net(dims, "softmax", np.float64, 2, 2)
    Z1 = one.predict_proba(X)
    Z2 = two.predict_proba(X)
    assert not np.array_equal(Z1, Z2)
    np.testing.assert_allclose(Z2, Z1, rtol=1e-13)


@SERIAL
def test_split_output_layer_inference_chunks_and_widths(rng):
    # an inference forward in chunks whose width changes (the partial buffers
    # are sized per call), after training at a smaller batch
    dims = [6, 12, 8, 2]
    one = _net(dims, "softmax", np.float64, 1, 1)
    two = _net(dims, "softmax", np.float64, 2, 2)
    Xs = rng.standard_normal((dims[0], 5))
    ys = rng.integers(0, 2, 5)
    for net in (one, two):
        net.fit(Xs, ys, epochs=2, batch_size=2, optimizer=Adam(0.01), shuffle=False,
                verbose=False)
    for m in (1, 3, 200, 7):
        X = rng.standard_normal((dims[0], m))
        np.testing.assert_allclose(two.predict_proba(X), one.predict_proba(X), rtol=1e-12,
                                   atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 3, 17, 100, 1000, 12345])
def test_workspaces_start_on_a_cache_line(dtype, n):
    # a team's column blocks of one row must not share a line at a block's start
    from fastbp import _network
    for _ in range(4):
        a = _network._aligned_empty(n, dtype)
        assert a.shape == (n,) and a.dtype == dtype
        assert a.ctypes.data % 64 == 0
        a[...] = 1           # the whole of it is writable memory of its own
        assert a.sum() == n


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parameters_gradients_and_adam_state_start_on_a_cache_line(rng, dtype):
    # the team's threads update their own blocks of these buffers
    for dims in ([3, 5, 2], [64, 128, 10], [7, 1]):
        net = Network(dims, "relu", "softmax" if dims[-1] > 1 else "sigmoid", dtype=dtype)
        X = rng.standard_normal((dims[0], 9)).astype(dtype)
        y = rng.integers(0, dims[-1], 9) if dims[-1] > 1 else (rng.random((1, 9)) > 0.5)
        opt = Adam(0.01)
        net.fit(X, y.astype(dtype) if dims[-1] == 1 else y, epochs=1, batch_size=4,
                optimizer=opt, verbose=False)
        bufs = [net.flat_parameters, net.flat_grads] + list(opt.state_arrays())
        assert len(bufs) == 4
        for a in bufs:
            assert a.ctypes.data % 64 == 0 and a.shape == (net.n_params,)


@SERIAL
def test_dense_fit_after_a_sparse_one_sizes_its_partial_buffers(rng):
    # a sparse call left its X in the plan, whose flop count (nnz-based) gave
    # one block where the dense batches that followed ran two: the second
    # block's partial product overran its buffer (a segfault or a corrupted
    # heap). The losses must be those of the same dense fits without the
    # sparse one before them.
    sp = pytest.importorskip("scipy.sparse")
    from fastbp.optim import SGD
    n_x, m = 1000, 4096
    Xs = sp.random(n_x, m, density=50 / (n_x * m), format="csr", random_state=0)
    ys = rng.integers(0, 2, m)
    X = rng.standard_normal((n_x, 2 * m))
    y = rng.integers(0, 2, 2 * m)
    losses = []
    start = Network([n_x, 4, 2], "tanh", "softmax", seed=1).flat_parameters.copy()
    for sparse_first in (True, False):
        net = Network([n_x, 4, 2], "tanh", "softmax", seed=1, n_threads=2)
        net._kernel.team_policy = 2
        if sparse_first:
            net.fit(Xs, ys, epochs=1, batch_size=m, optimizer=SGD(0.1), verbose=False)
            net.flat_parameters[...] = start
            net.parameters_changed()
        losses.append([net.fit(X, y, epochs=1, batch_size=m, optimizer=SGD(0.1),
                               shuffle=False, verbose=False)["loss"][0] for _ in range(3)])
    assert losses[0] == losses[1]


@SERIAL
def test_release_workspaces_frees_the_partial_buffers(rng):
    # a full-batch call's partials are n_threads n_L m values (an L-BFGS
    # fit's whole data set): counted, and freed with the other workspaces
    X = rng.standard_normal((16, 20000))
    y = rng.integers(0, 10, 20000)
    net = Network([16, 32, 10], "relu", "softmax", seed=1, n_threads=2)
    net._kernel.team_policy = 2
    l1, g1 = net.loss_and_gradient(X, y)
    assert net._kernel.workspace_bytes() >= 2 * 10 * 20000 * 8
    net._kernel.release_workspaces()
    assert net._kernel.workspace_bytes() == 0
    l2, g2 = net.loss_and_gradient(X, y)     # and allocated again when needed
    assert l1 == l2 and np.array_equal(g1, g2)


def test_unpickled_optimizer_state_lands_on_cache_lines(rng):
    import pickle
    X = rng.standard_normal((5, 40))
    y = rng.integers(0, 3, 40)
    net = Network([5, 7, 3], "relu", "softmax", seed=2)
    opt = Adam(0.01)
    net.fit(X, y, epochs=1, batch_size=8, optimizer=opt, verbose=False)
    for _ in range(4):      # an unpickled array may or may not sit on a boundary
        net2, opt2 = pickle.loads(pickle.dumps((net, opt)))
        net2.fit(X, y, epochs=1, batch_size=8, optimizer=opt2, verbose=False)
        assert all(a.ctypes.data % 64 == 0 for a in opt2.state_arrays())


# ------------------------------------------------- packed blocks of an epoch
#
# An epoch call runs the split output layer on packed copies of each
# block's columns of W[L], its gradient and the optimizer's state
# (_netstep._sk_pack), copied back when the call returns, before a step that
# splits differently (a small last batch on fewer blocks) and when a step
# stops the call. The per-batch loop (one step per call) never packs, so it
# is the reference, bit for bit.

def _both(make_net, X, y, make_opt, *, batches_per_call=None, **fit_kw):
    from fastbp import _fit
    out = []
    for per_batch in (True, False):
        net = make_net()
        opt = make_opt()
        kw = dict(epochs=3, batch_size=16, shuffle=True, seed=4, validation_data=None,
                  verbose=False, callback=None, checkpoint_path=None, checkpoint_every=1,
                  resume=False, sample_weight=None)
        kw.update(fit_kw)
        err = None
        try:
            hist = _fit.fit(net, _fit.LocalStepper(net, per_batch=per_batch,
                                                   batches_per_call=batches_per_call),
                            X, y, optimizer=opt, **kw)
        except FloatingPointError as exc:
            hist, err = None, str(exc)
        out.append((net, opt, hist, err))
    (a, oa, ha, ea), (b, ob, hb, eb) = out
    assert ea == eb
    assert np.array_equal(a.flat_parameters, b.flat_parameters)
    assert np.array_equal(a.flat_grads, b.flat_grads)
    for sa, sb in zip(oa.state_arrays(), ob.state_arrays(), strict=True):
        assert np.array_equal(sa, sb)
    assert (oa.t, a.step_count) == (ob.t, b.step_count)
    if ha is not None:
        assert np.array_equal(ha["loss"], hb["loss"])
    assert a._kernel.packed_output_steps() == 0
    return b


PACK_OPTS = {
    "adam": lambda: Adam(0.01),
    "sgd": lambda: __import__("fastbp.optim", fromlist=["SGD"]).SGD(0.05),
    "momentum": lambda: __import__("fastbp.optim", fromlist=["SGD"]).SGD(0.05, momentum=0.9),
}


@SERIAL
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opt", list(PACK_OPTS))
@pytest.mark.parametrize("case", ["plain", "l2", "dropout", "weights", "3 blocks"])
def test_packed_epoch_equals_per_batch_loop(rng, dtype, opt, case):
    dims, m = [9, 20, 14, 4], 75          # batches of 16: the last one of 11
    X = rng.standard_normal((dims[0], m)).astype(dtype)
    y = rng.integers(0, 4, m)
    nb = 3 if case == "3 blocks" else 2

    def make():
        return _net(dims, "softmax", dtype, nb, nb, lambd=0.3 if case == "l2" else 0.0,
                    keep_prob=0.8 if case == "dropout" else 1.0)
    b = _both(make, X, y, PACK_OPTS[opt],
              sample_weight=rng.uniform(0.1, 2, m) if case == "weights" else None)
    assert b._kernel.packed_output_steps() == 3 * 5      # every step of every epoch


@SERIAL
@pytest.mark.parametrize("team", [0, 1, 2])
def test_packed_blocks_follow_a_changing_split(rng, team):
    # the real block count (min_flops_per_thread at its default): the last
    # batch of 3 examples runs on one block, after the packed ones; and the
    # team chooser (team 0) may change the team between steps
    dims, m = [64, 128, 10], 99
    X = np.ascontiguousarray(rng.random((m, dims[0]))).T
    y = rng.integers(0, 10, m)

    def make():
        net = Network(dims, "relu", "softmax", seed=0, n_threads=2)
        net._kernel.team_policy = team
        return net
    b = _both(make, X, y, lambda: Adam(1e-3), batch_size=32, epochs=4)
    assert b._kernel.packed_output_steps() == 4 * 3


@SERIAL
def test_packed_epoch_stopped_by_a_bad_step_leaves_the_flat_buffers_current(rng):
    # a non-finite loss stops the call after packed steps; the error, the
    # parameters put back and the state are the per-batch loop's
    from fastbp.optim import SGD
    X = rng.standard_normal((6, 64)) * 50
    Y = rng.standard_normal((3, 64)) * 1e6

    def make():
        return _net([6, 16, 3], "identity", np.float64, 2, 2, lambd=0.0)
    b = _both(make, X, Y, lambda: SGD(5.0), shuffle=False, epochs=200)
    assert b._kernel.packed_output_steps() > 0
    # and Network.train_epoch itself, stopped by batch 2: batches 0 and 1
    # updated W[L] through the packed copies, and the flat buffers show it
    net = _net([6, 16, 3], "identity", np.float64, 2, 2, lambd=0.0)
    ref = _net([6, 16, 3], "identity", np.float64, 2, 2, lambd=0.0)
    Xn = X.copy()
    Xn[:, 40] = np.nan
    with pytest.raises(FloatingPointError):
        net.train_epoch(Xn, Y, *net.check_Y(Y, 64)[1:], SGD(1e-3), None, 16)
    opt = SGD(1e-3)
    for j in (0, 16):       # one step per call: never packed
        ref.train_step(X[:, j:j + 16], Y[:, j:j + 16], opt)
    assert ref._kernel.packed_output_steps() == 0
    assert net._kernel.packed_output_steps() == 3
    assert np.array_equal(net.flat_parameters, ref.flat_parameters)


@SERIAL
def test_large_output_layers_are_not_packed(rng):
    # the copies would exceed their cap (4 MiB): the flat path, same results
    dims, m = [8, 1200, 1000], 40
    X = rng.standard_normal((dims[0], m))
    y = rng.integers(0, dims[-1], m)
    dims = [8, 1300, 600]
    X = rng.standard_normal((dims[0], m))
    y = rng.integers(0, dims[-1], m)

    def make():
        return _net(dims, "softmax", np.float64, 2, 2, lambd=0.0)
    b = _both(make, X, y, lambda: Adam(1e-3), epochs=1)
    assert b._kernel.packed_output_steps() == 0


@SERIAL
def test_packed_copies_are_counted_and_released(rng):
    net = _net([9, 20, 4], "softmax", np.float64, 2, 2)
    X = rng.standard_normal((9, 64))
    y = rng.integers(0, 4, 64)
    net.fit(X, y, epochs=1, batch_size=16, optimizer=Adam(0.01), verbose=False)
    assert net._kernel.packed_output_steps() == 4
    have = net._kernel.workspace_bytes()
    net._kernel.release_workspaces()
    # (the epoch's gather workspaces stay: the next epoch reuses them)
    assert have - net._kernel.workspace_bytes() >= 4 * 2 * 4 * 10 * 8   # 4 arrays, 2 blocks
    net.fit(X, y, epochs=1, batch_size=16, optimizer=Adam(0.01), verbose=False)
    assert net._kernel.workspace_bytes() == have
    assert net._kernel.packed_output_steps() == 8


@SERIAL
def test_a_call_stopped_at_its_first_step_leaves_the_gradient_alone(rng):
    # the packed copies are made at the first step; a first step that stops
    # before its backward (a non-finite loss) must give back the flat
    # gradient as it was (a later one-step call changed it after the last
    # packed call), as the per-batch loop leaves it
    X = rng.standard_normal((9, 64))
    y = rng.integers(0, 4, 64)
    Xn = X.copy()
    Xn[:, 0] = np.nan
    grads = []
    for epoch_call in (True, False):
        net = _net([9, 20, 4], "softmax", np.float64, 2, 2, lambd=0.0)
        opt = Adam(0.01)
        Y, code, labels = net.check_Y(y, 64)
        net.train_epoch(X, Y, code, labels, opt, None, 16)
        net.train_step(X[:, :16] * 3, y[:16], opt)      # the flat gradient moves on
        before = net.flat_grads.copy()
        with pytest.raises(FloatingPointError):
            if epoch_call:
                net.train_epoch(Xn, Y, code, labels, opt, None, 16)
            else:
                net.train_step(Xn[:, :16], y[:16], opt)
        assert np.array_equal(net.flat_grads, before)
        grads.append(net.flat_grads.copy())
    assert np.array_equal(grads[0], grads[1])


@SERIAL
def test_transposed_copies_keep_whole_lines_when_the_team_grows(rng):
    # a one-thread call sized the copies' buffer for a wide X; a later call
    # on three blocks must cut it at whole cache lines (its own stride), not
    # at a third of the buffer (an odd byte offset for a double copy)
    from fastbp import _blas, _testing
    old_rule = _blas._set_nt_copy_rule(True)
    old_limits = _testing.set_small_gemm_max(-1)
    try:
        net = Network([64, 30, 4], "relu", "softmax", dtype=np.float64, seed=1, n_threads=1)
        net._kernel.min_flops_per_thread = 1
        wide = np.ascontiguousarray(rng.standard_normal((100, 64))).T
        net.forward(wide)
        assert net._kernel.x_transposed_copy()
        net._nt = 3
        net._kernel.team_policy = 3
        X = np.ascontiguousarray(rng.standard_normal((32, 64))).T
        got = net.forward(X).copy()
        assert net._kernel.x_transposed_copy()
        assert net._kernel.x_copy_stride() % 64 == 0
        _blas._set_nt_copy_rule(False)
        np.testing.assert_allclose(net.forward(X), got, rtol=1e-12)
    finally:
        _testing.set_small_gemm_max(old_limits)
        _blas._set_nt_copy_rule(old_rule)
