"""The layer kernels' task claims (csrc/fastbp_omp.h, fbp_task_claim).

A thread first claims the tasks at its home position (t = home mod nthr),
then any task left, lowest first; every task goes out exactly once, and past
64 tasks they go out in order. The kernels' results do not depend on who ran
which task (tests/test_numpy_pool.py); these pin down who does.
"""
import numpy as np
import pytest

from fastbp import _testing


def test_each_thread_gets_its_home_task_when_both_come():
    assert _testing.task_claims(2, 2, [0, 1], [0, 1, 0, 1]) == [0, 1, 2, 2]
    # the worker first: still its own task, not the lowest one
    assert _testing.task_claims(2, 2, [0, 1], [1, 0, 1, 0]) == [1, 0, 2, 2]


def test_home_tasks_interleave_over_more_tasks():
    # backward: 2 dW blocks then 2 dZ blocks; each thread one of each
    assert _testing.task_claims(4, 2, [0, 1], [1, 1, 0, 0, 0, 1]) == [1, 3, 0, 2, 4, 4]
    assert _testing.task_claims(6, 3, [0, 1, 2], [2, 0, 1, 2, 0, 1]) == [2, 0, 1, 5, 3, 4]


def test_a_late_thread_leaves_its_tasks_to_the_others():
    assert _testing.task_claims(4, 2, [0, 1], [0, 0, 0, 0, 0, 1]) == [0, 2, 1, 3, 4, 4]
    assert _testing.task_claims(2, 2, [0, 1], [1, 1, 0]) == [1, 0, 2]


def test_a_home_past_the_team_wraps_around():
    # a pool slot counts every thread that ever asked; position = slot mod nthr
    assert _testing.task_claims(2, 2, [2, 3], [1, 0]) == [1, 0]
    assert _testing.task_claims(3, 2, [5], [0, 0, 0, 0]) == [1, 0, 2, 3]


def test_one_thread_or_many_tasks_go_in_order():
    assert _testing.task_claims(3, 1, [0], [0, 0, 0, 0]) == [0, 1, 2, 3]
    n = 65
    got = _testing.task_claims(n, 2, [0, 1], [1, 0] * 33)
    assert got[:n] == list(range(n)) and got[n] >= n
    # 64 still by home
    got = _testing.task_claims(64, 2, [0, 1], [1, 0])
    assert got == [1, 0]


@pytest.mark.parametrize("seed", range(20))
def test_every_task_goes_out_once_in_any_order(seed):
    rng = np.random.default_rng(seed)
    ntask = int(rng.integers(1, 70))
    nthr = int(rng.integers(1, min(ntask, 8) + 1))
    homes = [int(h) for h in rng.integers(0, 10, nthr)]
    turns = [int(k) for k in rng.integers(0, nthr, 3 * ntask + 5)]
    got = _testing.task_claims(ntask, nthr, homes, turns)
    real = [t for t in got if t < ntask]
    assert sorted(real) == list(range(ntask))
    # once none is left, every later claim says so (a value >= ntask)
    first_none = next(i for i, t in enumerate(got) if t >= ntask)
    assert all(t >= ntask for t in got[first_none:])


def test_the_hook_refuses_what_the_kernels_never_pass():
    with pytest.raises(ValueError, match="homes >= 0"):
        _testing.task_claims(4, 2, [-1], [0])
    with pytest.raises(ValueError, match="nthr >= 1"):
        _testing.task_claims(4, 0, [0], [0])
