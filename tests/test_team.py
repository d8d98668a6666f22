"""The network kernel's team chooser (fastbp._netstep: _ch_record) and the
rule that lets it choose freely: a step's bits depend on its blocks (fixed by
the shape and ``n_threads``), never on how many threads ran them.

* The chooser, driven with made-up step times: it keeps the faster arm,
  probes the other rarely, skips the steps that pay for a change of arm,
  ends a hopeless probe after one step,
  recovers from one slow step, and follows a change of the machine's state.
* Whole fits with ``n_threads=2`` run on one thread or on two (forced with
  ``team_policy``) give the same bits. fastbp's own small-GEMM kernel
  (limit set with fastbp._testing) makes blocks of different sizes round
  differently, so a split that followed the team would fail here.
* ``team_stats`` reports what was measured; fixed teams and one-block steps
  are not timed.
"""
import numpy as np
import pytest

import fastbp
from fastbp import _testing
from fastbp.network import Network
from fastbp.optim import SGD, Adam

simulate = _testing.simulate_team_chooser


def _cost(arms, team, solo):
    return float(np.where(arms == 1, solo, team).sum())


def test_chooser_moves_to_the_team_when_it_is_faster():
    n = 4000
    team, solo = np.full(n, 1.0), np.full(n, 1.3)
    arms = simulate(team, solo)
    assert arms[:3].all(), "a call starts on one thread (first step, then CH_FIRST)"
    first_team = int(np.argmax(arms == 0))
    assert first_team == 3, f"the first probe came at step {first_team}"
    # probes: >= 3 measured steps after a skipped one, then 16x their time on the team
    assert (arms[20:] == 0).mean() >= 0.92, f"on one thread for {arms[20:].sum()} steps"
    assert arms[20:].sum() >= 3, "never probed one thread again"
    assert _cost(arms, team, solo) <= 1.03 * team.sum()


def test_chooser_stays_on_one_thread_when_the_team_is_slower():
    n = 4000
    team, solo = np.full(n, 3.0), np.full(n, 1.0)
    arms = simulate(team, solo)
    assert (arms == 1).mean() >= 0.96, "did not stay on one thread"
    assert (arms == 0).sum() >= 8, "never probed the team"
    assert _cost(arms, team, solo) <= 1.07 * solo.sum()


def test_chooser_recovers_from_one_slow_step():
    # a mean counts one descheduled step (a median would hide the stalls that
    # make a busy machine's team slow), so one slow step may cost a round trip
    n = 4000
    team, solo = np.full(n, 1.0), np.full(n, 1.5)
    team[30] = 100.0
    arms = simulate(team, solo)
    assert (arms[n // 2:] == 0).mean() >= 0.92
    assert _cost(arms, team, solo) <= 1.05 * team.sum()


def test_chooser_skips_the_first_step_and_the_first_of_a_probe():
    # the first step starts the threads and touches the workspaces; a probe's
    # first step wakes (or finds spinning) the other thread
    n = 400
    team, solo = np.full(n, 1.0), np.full(n, 1.5)
    solo[0] = 1000.0
    team[3] = 5.0                   # the first team step (the probe's): not measured
    arms = simulate(team, solo)
    assert arms[3] == 0 and (arms[20:] == 0).mean() >= 0.92, np.flatnonzero(arms == 0)


def test_chooser_ends_a_hopeless_probe_at_once():
    # under load a team step can take a whole time slice: one is enough
    n = 3000
    team, solo = np.full(n, 1.0), np.full(n, 1.5)
    team[3] = 100.0
    arms = simulate(team, solo)
    assert arms[3] == 0 and arms[4] == 1, arms[:6]
    # the next probe comes after 4x that probe's time on one thread (~267
    # steps here: the team may have lost to something passing) and finds it fast
    back = 4 + int(np.argmax(arms[4:] == 0))
    assert 250 <= back <= 300, back
    assert (arms[back + 10:] == 0).mean() >= 0.95


def test_chooser_lets_a_team_probe_wake_the_other_thread():
    # microsecond steps (a digits step: 42 us on one thread, 29 us on the
    # team) whose team probe starts with a 300 us wake-up of the sleeping
    # thread, every probe: that step alone must not lose the probe
    n = 3000
    solo = np.full(n, 42e-6)
    arms = np.ones(n, dtype=np.int8)
    for _ in range(5):
        # a team step right after one-thread steps pays the wake-up (the times
        # follow the arms picked, so iterate to a fixed point)
        team = np.full(n, 29e-6)
        team[np.diff(np.concatenate([[1], arms])) == -1] = 300e-6
        arms = simulate(team, solo)
    assert (arms[n // 3:] == 0).mean() >= 0.9, arms[:80]


def test_chooser_follows_a_change_of_machine_state():
    # two threads lose while another process holds a core, then win again
    n1, n2 = 1000, 3000
    team = np.concatenate([np.full(n1, 3.0), np.full(n2, 0.8)])
    solo = np.full(n1 + n2, 1.0)
    arms = simulate(team, solo)
    assert (arms[:n1] == 1).mean() >= 0.97
    back = n1 + int(np.argmax(arms[n1:] == 0))
    # it probes the team again after CH_BUDGET times the last (slow) probe's time
    assert back - n1 <= 300, f"back on the team only {back - n1} steps after the change"
    assert (arms[back + 100:] == 0).mean() >= 0.92


BIG = 3e8          # GEMM flops of a large step (above _netstep's CH_TEAM_FLOPS)


def test_a_large_step_starts_on_the_team():
    # full-batch steps of 0.45 s on the team, 0.8 s on one thread: starting on
    # one thread cost a 3-step fit about 1.4 s (0.7x scikit-learn)
    n = 200
    team, solo = np.full(n, 0.45), np.full(n, 0.8)
    arms = simulate(team, solo, BIG)
    assert not arms[:9].any(), arms[:12]
    probe = int(np.argmax(arms == 1))
    assert 9 <= probe <= 12, probe
    # one measured step is the whole probe (no skipped step: ~8 ms of an idle
    # thread's spinning is noise beside 0.8 s), then back on the team for long
    assert arms[probe] == 1 and arms[probe + 1] == 0, arms[probe - 1:probe + 3]
    assert arms[probe + 1:probe + 50].sum() == 0
    assert _cost(arms, team, solo) <= 1.03 * team.sum()
    # a small step starts on one thread as before, whatever its time
    assert simulate(team, solo, 1e6)[:3].all()


def test_a_large_step_leaves_a_team_that_loses():
    # another process holds a core: the team's large step takes 3x one thread's
    n = 400
    team, solo = np.full(n, 1.5), np.full(n, 0.5)
    arms = simulate(team, solo, BIG)
    probe = int(np.argmax(arms == 1))
    assert probe <= 12 and (arms[probe:] == 1).mean() >= 0.9, probe
    assert _cost(arms, team, solo) <= 1.25 * solo.sum()


def test_chooser_arguments():
    with pytest.raises(ValueError, match="same length"):
        simulate(np.ones(3), np.ones(4))


# ------------------------------------------------- bits independent of the team

@pytest.fixture
def small_gemm():
    """fastbp's small-GEMM kernel for products up to 16384 m n k (its limit on
    AVX2 cores): blocks of different sizes then take different kernels (and,
    in float32, roundings)."""
    old = _testing.set_small_gemm_max(16384)
    try:
        yield
    finally:
        _testing.set_small_gemm_max(old)


def _fit(dims, dtype, team, *, nb=2, opt="adam", dropout=False, sw=None, shuffle=True,
         X=None, y=None):
    net = Network(dims, ["tanh", "relu"][:len(dims) - 2] or "relu", "softmax", dtype=dtype,
                  seed=4, lambd=0.3, keep_prob=0.8 if dropout else 1.0, n_threads=nb)
    net._kernel.min_flops_per_thread = 1         # nb blocks even for these small steps
    net._kernel.team_policy = team
    o = Adam(0.01) if opt == "adam" else SGD(0.05)
    hist = net.fit(X, y, epochs=2, batch_size=24, optimizer=o, shuffle=shuffle,
                   sample_weight=sw, verbose=False)
    return net, hist


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["plain", "dropout", "weights", "in-order", "sgd"])
def test_one_thread_or_two_give_the_same_bits(rng, small_gemm, dtype, case):
    dims = [13, 37, 21, 5]
    X = rng.standard_normal((dims[0], 77)).astype(dtype)
    y = rng.integers(0, dims[-1], 77)
    kw = dict(dropout=case == "dropout", shuffle=case != "in-order",
              opt="sgd" if case == "sgd" else "adam",
              sw=rng.uniform(0.1, 2.0, 77) if case == "weights" else None)
    (a, ha), (b, hb) = (_fit(dims, dtype, team, X=X, y=y, **kw) for team in (1, 2))
    assert np.array_equal(a.flat_parameters, b.flat_parameters), \
        f"max |diff| {np.max(np.abs(a.flat_parameters - b.flat_parameters)):.3g}"
    assert np.array_equal(ha["loss"], hb["loss"])
    # a forward and a gradient over all the data (other kinds of call) too
    for net in (a, b):
        net._kernel.team_policy = 1 if net is a else 2
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))
    la, ga = a.loss_and_gradient(X, y)
    lb, gb = b.loss_and_gradient(X, y)
    assert la == lb and np.array_equal(ga, gb)


SERIAL = pytest.mark.skipif(not fastbp.openmp_enabled(),
                            reason="a serial build (-Dopenmp=disabled) runs n_threads=2 on one "
                            "thread: no team, no blocks of two")


@SERIAL
def test_blocks_not_the_team_set_the_bits(rng, small_gemm):
    """The check above can fail: in float32 one block and two blocks round
    differently here (the small kernel and OpenBLAS order a row's products
    differently), so a split that followed the team would show."""
    dims = [13, 37, 21, 5]
    X = rng.standard_normal((dims[0], 77)).astype(np.float32)
    y = rng.integers(0, dims[-1], 77)
    one, _ = _fit(dims, np.float32, 1, nb=1, X=X, y=y)
    two, _ = _fit(dims, np.float32, 2, nb=2, X=X, y=y)
    assert not np.array_equal(one.flat_parameters, two.flat_parameters)
    np.testing.assert_allclose(one.flat_parameters, two.flat_parameters, rtol=1e-4,
                               atol=1e-5)


# ----------------------------------------------------------------- team_stats

@SERIAL
def test_team_stats_report_the_faster_arm(rng):
    X = rng.standard_normal((64, 2000))
    y = rng.integers(0, 10, 2000)
    net = Network([64, 128, 10], "relu", "softmax", seed=0, n_threads=2)
    net._kernel.min_flops_per_thread = 1
    # ~600 steps: a first stretch and probes of 4 ms at least each
    net.fit(X, y, epochs=10, batch_size=32, optimizer=Adam(0.01), verbose=False)
    stats = net._kernel.team_stats()
    assert set(stats) == {"step"}, stats
    st = stats["step"]
    assert st["probes"] >= 1 and 0 <= st["switches"] <= st["probes"]
    team, solo = st["seconds_per_example"]
    assert team > 0 and solo > 0
    assert st["switches"] >= 1 or st["one_thread"], st   # a call starts on one thread

    net._kernel.reset_team_chooser()
    assert net._kernel.team_stats() == {}
    net._kernel.team_policy = 2                  # a fixed team is not timed
    net.fit(X, y, epochs=1, batch_size=32, optimizer=Adam(0.01), verbose=False)
    assert net._kernel.team_stats() == {}


def test_one_block_steps_are_not_timed(rng):
    X = rng.standard_normal((4, 50))
    y = rng.integers(0, 3, 50)
    net = Network([4, 5, 3], "relu", "softmax", seed=0, n_threads=2)   # tiny: one block
    net.fit(X, y, epochs=2, batch_size=10, optimizer=Adam(0.01), verbose=False)
    assert net._kernel.team_stats() == {}
