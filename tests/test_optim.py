"""fastbp.optim: updates against the course's formulas, schedules, validation."""
import sys
import warnings

import numpy as np
import pytest

import fastbp
from conftest import run_python
from fastbp.network import Network
from fastbp.optim import (SGD, Adam, ExponentialDecay, InverseTimeDecay, StepDecay,
                          get_optimizer, optimizer_from_config, schedule_lr_decay, update_lr)


# The course's update functions (course 2, week 2), written out independently.
def course_momentum(params, grads, v, beta, lr, nesterov=False):
    for k in params:
        v[k] = beta * v[k] + (1 - beta) * grads["d" + k]
        step = beta * v[k] + (1 - beta) * grads["d" + k] if nesterov else v[k]
        params[k] = params[k] - lr * step
    return params, v


def course_adam(params, grads, v, s, t, lr, beta1, beta2, eps):
    for k in params:
        g = grads["d" + k]
        v[k] = beta1 * v[k] + (1 - beta1) * g
        s[k] = beta2 * s[k] + (1 - beta2) * np.square(g)
        v_corr = v[k] / (1 - beta1 ** t)
        s_corr = s[k] / (1 - beta2 ** t)
        params[k] = params[k] - lr * v_corr / (np.sqrt(s_corr) + eps)
    return params, v, s


def _setup(seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    net = Network([4, 7, 3], "tanh", "softmax", dtype=dtype, seed=seed)
    X = rng.standard_normal((4, 25)).astype(dtype)
    y = rng.integers(0, 3, 25)
    return net, X, y


@pytest.mark.parametrize("make,kind", [
    (lambda: SGD(0.3), "sgd"),
    (lambda: SGD(0.3, momentum=0.9), "momentum"),
    (lambda: SGD(0.3, momentum=0.8, nesterov=True), "nesterov"),
    (lambda: Adam(0.05, beta1=0.85, beta2=0.99, eps=1e-7), "adam"),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_updates_follow_course_formulas(make, kind, dtype):
    net, X, y = _setup(1, dtype)
    opt = make()
    assert opt.kind == kind
    P = {k: v.astype(np.float64) for k, v in net.parameters.items()}
    v = {k: np.zeros_like(p) for k, p in P.items()}
    s = {k: np.zeros_like(p) for k, p in P.items()}
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    for t in range(1, 6):
        # gradients at the current parameters, from the network's own backward
        net.forward(X)
        grads = {k: g.astype(np.float64) for k, g in net.backward(y).items()}
        if t % 2:
            net.apply_update(opt)                  # separate update call
        else:
            net.train_step(X, y, opt)              # fused step (same gradients)
        if kind == "sgd":
            P = {k: P[k] - opt.lr * grads["d" + k] for k in P}
        elif kind in ("momentum", "nesterov"):
            P, v = course_momentum(P, grads, v, opt.momentum, opt.lr, kind == "nesterov")
        else:
            P, v, s = course_adam(P, grads, v, s, t, opt.lr, opt.beta1, opt.beta2, opt.eps)
        assert opt.t == t
        for k in P:
            np.testing.assert_allclose(net.parameters[k], P[k], rtol=rtol,
                                       atol=rtol * np.max(np.abs(P[k])),
                                       err_msg=f"{kind} {np.dtype(dtype).name} t={t} {k}")
        # keep the reference in the network's precision, as the network is
        P = {k: net.parameters[k].astype(np.float64) for k in P}


def test_course_schedules():
    for epoch in (0, 1, 3, 5, 7, 9, 999, 1000, 2500, 3000):
        # bit for bit: the course's 1 / (1 + ...) * lr0, not lr0 / (1 + ...)
        # (0.1 / 1.9 and 1 / 1.9 * 0.1 differ in the last bit)
        assert InverseTimeDecay(0.3)(0.1, epoch) == update_lr(0.1, epoch, 0.3) \
            == 1 / (1 + 0.3 * epoch) * 0.1
        assert InverseTimeDecay(0.3, 1000)(0.1, epoch) == schedule_lr_decay(
            0.1, epoch, 0.3, 1000) == 1 / (1 + 0.3 * np.floor(epoch / 1000)) * 0.1
    assert update_lr(0.5, 2, 1) == pytest.approx(0.5 / 3)
    assert schedule_lr_decay(0.5, 2500, 1, 1000) == pytest.approx(0.5 / 3)
    assert StepDecay(10, 0.5)(1.0, 25) == pytest.approx(0.25)
    assert ExponentialDecay(0.9)(2.0, 3) == pytest.approx(2.0 * 0.9 ** 3)


def test_fit_applies_schedule_per_epoch():
    net, X, y = _setup(2)
    opt = SGD(0.2, schedule=StepDecay(2, 0.5))
    hist = net.fit(X, y, epochs=5, batch_size=25, optimizer=opt, verbose=False)
    assert hist["lr"] == pytest.approx([0.2, 0.2, 0.1, 0.1, 0.05])
    assert opt.lr == pytest.approx(0.05) and opt.lr0 == 0.2


def test_config_round_trip():
    for opt in (SGD(0.1), SGD(0.1, momentum=0.5, nesterov=True),
                Adam(0.01, 0.8, 0.9, 1e-6, schedule=InverseTimeDecay(0.1, 10))):
        back = optimizer_from_config(opt.get_config())
        assert type(back) is type(opt) and back.get_config() == opt.get_config()
    assert "Adam(lr=0.001" in repr(Adam())


def test_repr_shows_the_rate_in_force():
    # printing net.optimizer after opt.lr = 1e-4 read lr=0.001 (the constructor's)
    opt = Adam(1e-3)
    opt.lr = 1e-4
    assert repr(opt) == ("Adam(lr=0.0001, beta1=0.9, beta2=0.999, eps=1e-08, "
                         "bias_correction='moments', lr0=0.001)")
    net, X, y = _setup(2)
    sched = SGD(0.2, schedule=StepDecay(2, 0.5))
    net.fit(X, y, epochs=3, batch_size=25, optimizer=sched, verbose=False)
    assert repr(sched) == ("SGD(lr=0.1, momentum=0.0, nesterov=False, velocity='average', "
                           "schedule=StepDecay(step_size=2, gamma=0.5), lr0=0.2)")
    halve = lambda lr0, epoch: lr0 / 2 ** epoch     # a plain function is shown too
    assert "schedule=<function" in repr(SGD(0.1, schedule=halve))


def test_get_optimizer():
    assert get_optimizer("adam").kind == "adam"
    assert get_optimizer("momentum", 0.1).momentum == 0.9
    assert get_optimizer("nesterov").nesterov
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        get_optimizer("rmsprop")


@pytest.mark.parametrize("call,exc,match", [
    (lambda: SGD(0), ValueError, "lr must be > 0"),
    (lambda: SGD(-1), ValueError, "lr must be > 0"),
    (lambda: SGD("0.1"), TypeError, "lr must be a real number"),
    (lambda: SGD(0.1, momentum=1.0), ValueError, "momentum must be < 1"),
    (lambda: SGD(0.1, nesterov=True), ValueError, "needs momentum > 0"),
    (lambda: Adam(beta1=1.5), ValueError, "beta1 must be < 1"),
    (lambda: Adam(eps=float("nan")), ValueError, "eps must be finite"),
    (lambda: StepDecay(0), ValueError, "step_size must be a positive int"),
    (lambda: SGD(0.1, schedule=3), TypeError, "schedule must be"),
])
def test_validation(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("value,exc,match", [
    (-0.01, ValueError, r"lr must be > 0\.0, got -0\.01"),
    (0, ValueError, r"lr must be > 0\.0, got 0\.0"),
    (float("nan"), ValueError, "lr must be finite"),
    (float("inf"), ValueError, "lr must be finite"),
    ("0.1", TypeError, "lr must be a real number, got str"),
    (True, TypeError, "lr must be a real number, got bool"),
    (np.array([0.1]), TypeError, "lr must be a real number, got ndarray"),
])
@pytest.mark.parametrize("make", [SGD, Adam, lambda lr: SGD(lr, momentum=0.9)])
def test_lr_assignment_is_checked_like_the_constructor(make, value, exc, match):
    opt = make(0.05)
    with pytest.raises(exc, match=match):
        opt.lr = value
    assert opt.lr == 0.05 and opt.lr0 == 0.05       # a refused value changes nothing


@pytest.mark.parametrize("make,name,value", [
    (lambda: SGD(0.1), "momentum", 0.9),              # was ignored: plain SGD trained on
    (lambda: SGD(0.1, momentum=0.9), "nesterov", True),
    (lambda: SGD(0.1, momentum=0.9), "velocity", "step"),
    (Adam, "beta1", 1.0),                             # was a ZeroDivisionError at fit
    (Adam, "beta2", 0.5),
    (Adam, "eps", 0.0),
    (Adam, "bias_correction", "step"),
])
def test_hyperparameters_fixed_at_construction_refuse_assignment(make, name, value):
    opt = make()
    before = opt.get_config()
    with pytest.raises(AttributeError, match=rf"{name} is fixed at construction.*make a "
                                             rf"new optimizer"):
        setattr(opt, name, value)
    assert opt.get_config() == before


@pytest.mark.parametrize("name,value,exc,match", [
    ("t", -5, ValueError, r"t must be an int in \[0, 2\*\*63\), got -5"),
    ("t", 2.5, TypeError, "t must be an int, got float 2.5"),
    ("t", True, TypeError, "t must be an int"),
    ("lr0", "x", TypeError, "lr0 must be a real number, got str"),
    ("lr0", 0.0, ValueError, r"lr0 must be > 0\.0"),
    ("schedule", 3, TypeError, "schedule must be an LRSchedule"),
    ("schedule", StepDecay, TypeError, r"schedule got the class StepDecay.*StepDecay\(\.\.\.\)"),
])
def test_assignable_attributes_are_checked_like_the_constructor(name, value, exc, match):
    opt = Adam(0.01)
    with pytest.raises(exc, match=match):
        setattr(opt, name, value)
    assert (opt.t, opt.lr0, opt.schedule) == (0, 0.01, None)
    opt.t, opt.lr0, opt.schedule = np.int64(3), 0.5, StepDecay(2)
    assert (opt.t, opt.lr0) == (3, 0.5) and type(opt.t) is int
    opt.set_epoch(2)
    assert opt.lr == 0.05           # the assigned lr0 and schedule drive the rate


def test_advance_counts_updates_and_refuses_what_t_refuses():
    opt = Adam(0.01)
    opt.advance()
    opt.advance(np.int64(4))            # a count from NumPy, as the kernels return
    assert opt.t == 5 and type(opt.t) is int
    for n, exc, match in [(-1, ValueError, r"n must be an int in \[0, 2\*\*63\), got -1"),
                          (1.0, TypeError, "n must be an int, got float"),
                          (True, TypeError, "n must be an int, got True")]:
        with pytest.raises(exc, match=match):
            opt.advance(n)
    opt.t = 2**63 - 2
    with pytest.raises(ValueError, match=r"t \+ n must be an int in \[0, 2\*\*63\)"):
        opt.advance(2)
    assert opt.t == 2**63 - 2        # unchanged by the refused call
    opt.advance(1)
    assert opt.t == 2**63 - 1


def test_training_steps_advance_t_by_the_updates_made():
    X = np.random.default_rng(0).standard_normal((3, 10))
    Y = (X[:1] > 0).astype(float)
    net, opt = fastbp.Network([3, 4, 1], seed=0), Adam(0.01)
    net.train_step(X, Y, opt)
    net.fit(X, Y, epochs=2, batch_size=4, optimizer=opt)     # 3 batches an epoch
    assert opt.t == 1 + 2 * 3


def test_optimizers_pickled_with_plain_attributes_still_load():
    # before they were properties, pickles held momentum, t, lr0 (...) under
    # their own names in the instance dict
    import pickle
    opt = SGD(0.1, momentum=0.9)
    state = {k.lstrip("_") if k.lstrip("_") in ("lr", "lr0", "t", "schedule", "momentum",
                                                 "nesterov", "velocity") else k: v
             for k, v in opt.__getstate__().items()}
    state["t"] = 7
    old = SGD.__new__(SGD)
    old.__setstate__(state)
    assert old.get_config() == opt.get_config() and old.t == 7
    assert pickle.loads(pickle.dumps(old)).get_config() == opt.get_config()


@pytest.mark.parametrize("make", [SGD, Adam])
def test_assigned_lr_drives_the_next_update(make):
    # an update at lr 0.02 after one at 0.05 equals, from the same state,
    # the update of a twin optimizer built with lr 0.02 at its second step
    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 20))
    y = rng.integers(0, 3, 20)
    nets = [Network([4, 5, 3], "relu", "softmax", seed=1) for _ in range(2)]
    a, b = make(0.05), make(0.05)
    for net, opt in zip(nets, (a, b)):
        net.train_step(X, y, opt)
    a.lr = np.float32(0.02)             # NumPy scalars are numbers too
    assert type(a.lr) is float and a.lr == pytest.approx(0.02)
    b.lr = 0.02
    for net, opt in zip(nets, (a, b)):
        net.train_step(X, y, opt)
    np.testing.assert_array_equal(nets[0].flat_parameters, nets[1].flat_parameters)
    a.lr = 1e-300                       # a tiny rate still updates (no underflow check)
    assert a.lr == 1e-300


def test_lr_survives_pickle_and_old_pickles_load():
    import pickle
    opt = Adam(0.05)
    opt.lr = 0.003
    back = pickle.loads(pickle.dumps(opt))
    assert back.lr == 0.003 and back.lr0 == 0.05
    # a state pickled before lr became a property stored it as "lr"
    old = dict(back.__dict__)
    old["lr"] = old.pop("_lr")
    fresh = Adam.__new__(Adam)
    fresh.__setstate__(old)
    assert fresh.lr == 0.003 and "lr" not in fresh.__dict__


@pytest.mark.parametrize("how", ["deepcopy", "pickle", "copy"])
@pytest.mark.parametrize("make", [lambda: Adam(0.01), lambda: SGD(0.05, momentum=0.9),
                                  lambda: Adam(0.01, bias_correction="step")])
def test_copied_optimizer_continues_from_its_state(make, how):
    # the snapshot pattern: copy the optimizer mid-training, continue with the
    # copy; it must go on from t and its moments, as the original does
    import copy
    import pickle
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 40))
    Y = (X[:1] > 0).astype(float)
    net = Network([3, 4, 1], seed=1)
    opt = make()
    for _ in range(3):
        net.train_step(X, Y, opt)
    snap = {"deepcopy": copy.deepcopy, "copy": copy.copy,
            "pickle": lambda o: pickle.loads(pickle.dumps(o))}[how](opt)
    # the original trains on: copy.copy shared its state buffers with the
    # snapshot, whose moments then moved with the original's updates
    twin = copy.deepcopy(net)
    net.train_step(X, Y, opt)
    net = twin
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.train_step(X, Y, snap)
    ref = Network([3, 4, 1], seed=1)
    ref_opt = make()
    for _ in range(4):
        ref.train_step(X, Y, ref_opt)
    assert snap.t == 4
    np.testing.assert_array_equal(net.flat_parameters, ref.flat_parameters)
    # a copy bound to a network of another size starts over, as a new one
    other = Network([3, 6, 1], seed=1)
    snap2 = pickle.loads(pickle.dumps(ref_opt))
    other.train_step(X, Y, snap2)
    assert snap2.t == 1 and all(s.shape == (other.n_params,) for s in snap2.state)


def test_stateless_sgd_shared_by_two_networks_neither_warns_nor_blocks_save(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 60))
    y = rng.integers(0, 3, 60)
    a, b = (Network([4, 5, 3], output="softmax", seed=0) for _ in range(2))
    opt = SGD(0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # plain SGD has no state to discard
        a.fit(X, y, epochs=1, optimizer=opt, verbose=False)
        b.fit(X, y, epochs=1, optimizer=opt, verbose=False)
    a.save(tmp_path / "a.npz")              # no other network's state to mix in
    back = Network.load(tmp_path / "a.npz")
    np.testing.assert_array_equal(back.flat_parameters, a.flat_parameters)
    # with state, sharing still warns and save still refuses
    m = SGD(0.1, momentum=0.9)
    a.fit(X, y, epochs=1, optimizer=m, verbose=False)
    with pytest.warns(RuntimeWarning, match=r"a new one such as SGD\(lr=0.1, momentum=0.9"):
        b.fit(X, y, epochs=1, optimizer=m, verbose=False)
    with pytest.raises(ValueError, match="another network"):
        a.save(tmp_path / "a2.npz", optimizer=m)


def test_adam_refuses_eps_zero_which_makes_nan_of_zero_gradients():
    with pytest.raises(ValueError, match=r"eps must be > 0\.0, got 0\.0"):
        Adam(0.01, eps=0.0)
    # eps > 0: a feature that is always 0 leaves its weights' gradient 0 and
    # the weights finite and unchanged
    X = np.zeros((2, 30))
    X[0] = np.linspace(-1, 1, 30)
    net = Network([2, 3, 1], seed=0, dtype="float64")
    w0 = net.parameters["W1"][:, 1].copy()
    net.train_step(X, (X[:1] > 0).astype(float), Adam(0.01, eps=1e-300))
    np.testing.assert_array_equal(net.parameters["W1"][:, 1], w0)
    # an eps that is 0 in the network's dtype does the same: refused at bind
    net32 = Network([2, 3, 1], seed=0, dtype="float32")
    p0 = net32.flat_parameters.copy()
    with pytest.raises(ValueError, match=r"eps=1e-300 is 0 in float32.*use eps >= 1\.4e-45"):
        net32.train_step(X, (X[:1] > 0).astype(float), Adam(0.01, eps=1e-300))
    np.testing.assert_array_equal(net32.flat_parameters, p0)
    # a subnormal one works (as in scikit-learn): its updates run unflushed
    for dtype, eps in (("float32", 1e-40), ("float64", 1e-310)):
        net = Network([2, 3, 1], seed=0, dtype=dtype)
        net.train_step(X, (X[:1] > 0).astype(float), Adam(0.01, eps=eps))
        assert np.all(np.isfinite(net.flat_parameters))


@pytest.mark.parametrize("call,exc,match", [
    (lambda: get_optimizer(SGD(0.1), lr=0.5), TypeError, "and lr, which it would ignore"),
    (lambda: get_optimizer(Adam(), beta1=0.5), TypeError, "and beta1, which it would ignore"),
    (lambda: get_optimizer(Adam), TypeError, "got the class Adam.*Adam\\(\\.\\.\\.\\) or a name "
                                             "such as 'adam'"),
    (lambda: get_optimizer(3), TypeError, "must be a str such as 'adam', got int 3"),
    (lambda: SGD(schedule=StepDecay), TypeError, r"got the class StepDecay.*StepDecay\(\.\.\.\)"),
    (lambda: SGD(10 ** 400), ValueError, "lr must be finite, got an int of 1329 bits"),
    (lambda: Adam(beta2=-10 ** 400), ValueError, "beta2 must be finite"),
    (lambda: Network([2, 1], lambd=10 ** 400), ValueError, "lambd must be finite"),
    (lambda: Network([2, 1], lambd=-1), ValueError, r"lambd must be >= 0\.0, got -1\.0"),
    (lambda: setattr(SGD(), "lr", 10 ** 400), ValueError, "lr must be finite"),
])
def test_validation_of_odd_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_get_optimizer_passes_an_instance_through():
    opt = Adam(0.02)
    assert get_optimizer(opt) is opt
    assert get_optimizer("ADAM", 0.5).lr == 0.5


@pytest.mark.parametrize("ret,match", [
    ("0.1", "returned str '0.1'"), (None, "returned NoneType None"),
    ([0.1], r"returned list \[0\.1\]"), (True, "returned bool True"),
])
def test_schedule_returning_a_non_number_is_named(ret, match):
    net = Network([2, 3, 1], seed=0)
    X = np.random.default_rng(0).standard_normal((2, 8))
    opt = SGD(0.1, schedule=lambda lr0, epoch: ret)
    with pytest.raises(TypeError, match=match + r" at epoch 0 \(counted from 0: fit's epoch 1\)"):
        net.fit(X, (X[:1] > 0).astype(float), epochs=1, optimizer=opt, verbose=False)
    assert opt.lr == 0.1
    # an int beyond float's range raised a bare OverflowError out of fit
    opt = SGD(0.1, schedule=lambda lr0, epoch: 10 ** 400)
    with pytest.raises(ValueError, match="schedule gave lr=inf at epoch 0"):
        net.fit(X, (X[:1] > 0).astype(float), epochs=1, optimizer=opt, verbose=False)
    assert opt.lr == 0.1
    opt = SGD(0.1, schedule=lambda lr0, epoch: np.float32(0.05))     # NumPy numbers are fine
    net.fit(X, (X[:1] > 0).astype(float), epochs=1, optimizer=opt, verbose=False)
    assert opt.lr == pytest.approx(0.05)


def test_base_optimizer_is_refused_before_anything_changes():
    from fastbp.optim import Optimizer
    net = Network([2, 3, 1], seed=0)
    X = np.random.default_rng(0).standard_normal((2, 8))
    Y = (X[:1] > 0).astype(float)
    for call in (lambda: net.fit(X, Y, epochs=1, optimizer=Optimizer(0.1), verbose=False),
                 lambda: net.train_step(X, Y, Optimizer(0.1))):
        with pytest.raises(TypeError, match="got Optimizer, which defines no update"):
            call()
    assert net.optimizer is None and net.step_count == 0


def test_optimizer_moved_to_another_network_starts_fresh():
    a, X, y = _setup(3)
    b, _, _ = _setup(4)
    opt = Adam(0.01)
    a.train_step(X, y, opt)
    a.train_step(X, y, opt)
    assert opt.t == 2
    with pytest.warns(RuntimeWarning, match="state of 2 updates of another network"):
        b.train_step(X, y, opt)
    assert opt.t == 1
    del a, b                                # its network gone: no one to warn about
    c, _, _ = _setup(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c.train_step(X, y, opt)
    assert opt.t == 1


@pytest.mark.slow
def test_optimizer_of_a_freed_network_never_takes_a_reused_id():
    """Bound networks were recognised by id() of their parameter buffer: a new
    network whose buffer got a freed one's id inherited its state buffers
    (11 elements for a 2001-parameter network: the update wrote past them
    and the process died with SIGSEGV), or its update count."""
    code = """
import gc
import numpy as np
import fastbp
from fastbp.optim import Adam
rng = np.random.default_rng(0)
X = rng.standard_normal((3, 10))
Y = (X[:1] > 0).astype(float)
opt = Adam(0.1)
for trial in range(200):
    small = fastbp.Network([3, 2, 1], seed=0, dtype="float64")
    small.train_step(X, Y, opt)
    del small
    gc.collect()
    big = fastbp.Network([3, 400, 1], seed=0, dtype="float64")
    big.train_step(X, Y, opt)
    assert opt.t == 1, opt.t
    assert all(s.shape == (big.n_params,) for s in opt.state), [s.shape for s in opt.state]
    del big
    gc.collect()
print("ok")
"""
    r = run_python(code, timeout=120)
    assert r.returncode == 0 and "ok" in r.stdout, (r.returncode, r.stdout[-500:], r.stderr[-2000:])


def test_kernel_refuses_optimizer_state_of_another_size():
    net = fastbp.Network([2, 3, 1], seed=0, dtype="float64")
    for bad in (np.zeros(net.n_params - 1), np.zeros(net.n_params, np.float32),
                np.zeros(2 * net.n_params)[::2]):
        with pytest.raises(ValueError, match="optimizer state buffer"):
            net._kernel.set_optimizer_state(bad, None)


# ------------------------------------------------- the step forms (scikit-learn's)

# scikit-learn 1.9's SGDOptimizer / AdamOptimizer updates
# (sklearn/neural_network/_stochastic_optimizers.py), transcribed independently
# over flat float64 arrays; state is a dict the functions update.
def sk_sgd_update(p, g, st, lr, mu, nesterov):
    v = mu * st.get("v", np.zeros_like(p)) - lr * g
    st["v"] = v
    upd = mu * v - lr * g if nesterov else v
    return p + upd


def sk_adam_update(p, g, st, lr, b1, b2, eps):
    st["t"] = t = st.get("t", 0) + 1
    st["m"] = b1 * st.get("m", np.zeros_like(p)) + (1 - b1) * g
    st["v"] = b2 * st.get("v", np.zeros_like(p)) + (1 - b2) * g ** 2
    lr_t = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    return p + -lr_t * st["m"] / (np.sqrt(st["v"]) + eps)


STEP_FORMS = {
    "momentum_step": (lambda: SGD(0.3, momentum=0.9, velocity="step"),
                      lambda p, g, st, o: sk_sgd_update(p, g, st, o.lr, o.momentum, False)),
    "nesterov_step": (lambda: SGD(0.3, momentum=0.8, nesterov=True, velocity="step"),
                      lambda p, g, st, o: sk_sgd_update(p, g, st, o.lr, o.momentum, True)),
    "momentum_one": (lambda: SGD(0.3, momentum=1.0, velocity="step"),
                     lambda p, g, st, o: sk_sgd_update(p, g, st, o.lr, 1.0, False)),
    "adam_step": (lambda: Adam(0.05, beta1=0.85, beta2=0.99, eps=1e-3, bias_correction="step"),
                  lambda p, g, st, o: sk_adam_update(p, g, st, o.lr, o.beta1, o.beta2, o.eps)),
}


@pytest.mark.parametrize("form", list(STEP_FORMS))
@pytest.mark.parametrize("dims", [[1, 1, 1], [3, 3, 1], [17, 33, 3], [40, 17, 1000]],
                         ids=lambda d: "x".join(map(str, d)))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nt", [1, 2])
def test_step_forms_follow_sklearn_formulas(form, dims, dtype, nt):
    # arbitrary gradients written into the flat buffer, lr changed between
    # updates (scikit-learn's invscaling / adaptive do so between epochs)
    make, ref_update = STEP_FORMS[form]
    rng = np.random.default_rng(len(dims) + sum(dims))
    net = Network(dims, "tanh", "identity", dtype=dtype, seed=1, n_threads=nt)
    net._kernel.min_flops_per_thread = 1          # split even small updates across the team
    net._kernel.team_policy = nt                  # and run them on it, whatever the timings
    net.forward(rng.standard_normal((dims[0], 3)))
    opt = make()
    P = net.flat_parameters.astype(np.float64)
    st = {}
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    for t in range(1, 8):
        g = rng.standard_normal(net.n_params) * rng.choice([1e-4, 1.0, 30.0], net.n_params)
        net.flat_grads[...] = g
        g = net.flat_grads.astype(np.float64)
        opt.lr = 0.3 / t ** 0.5 if form != "adam_step" else 0.05 * (1 + t % 3)
        net.apply_update(opt, n_threads=nt)
        P = ref_update(P, g, st, opt)
        np.testing.assert_allclose(net.flat_parameters, P, rtol=rtol,
                                   atol=rtol * np.max(np.abs(P)),
                                   err_msg=f"{form} {np.dtype(dtype).name} t={t} nt={nt}")
        P = net.flat_parameters.astype(np.float64)
    assert opt.t == 7


@pytest.mark.parametrize("form", ["momentum_step", "nesterov_step", "adam_step"])
def test_step_forms_equal_sklearn_optimizers(form):
    # against scikit-learn's own classes, through the fused train_step, float64
    sko = pytest.importorskip("sklearn.neural_network._stochastic_optimizers")
    net, X, y = _setup(5)
    opt = STEP_FORMS[form][0]()
    p = [net.flat_parameters.copy()]
    if form == "adam_step":
        sk = sko.AdamOptimizer(p, opt.lr, opt.beta1, opt.beta2, opt.eps)
    else:
        sk = sko.SGDOptimizer(p, opt.lr, momentum=opt.momentum, nesterov=opt.nesterov)
    for t in range(1, 6):
        net.forward(X)
        g = net.backward(y) and net.flat_grads.copy()
        opt.lr = 0.3 / t if form != "adam_step" else 0.05 / t
        if form == "adam_step":
            sk.learning_rate_init = opt.lr
        else:
            sk.learning_rate = opt.lr
        net.train_step(X, y, opt)
        sk.update_params(p, [g])
        np.testing.assert_allclose(net.flat_parameters, p[0], rtol=1e-13, atol=1e-15,
                                   err_msg=f"{form} t={t}")


def test_step_forms_differ_from_course_forms():
    # the forms are not the same formula under two names
    a, X, y = _setup(6)
    for course, step in ((SGD(0.1, 0.9), SGD(0.1, 0.9, velocity="step")),
                         (Adam(0.01, eps=0.1), Adam(0.01, eps=0.1, bias_correction="step"))):
        b, c = _setup(6)[0], _setup(6)[0]
        for _ in range(3):
            b.train_step(X, y, course)
            c.train_step(X, y, step)
        assert not np.allclose(b.flat_parameters, c.flat_parameters, rtol=1e-6)


@pytest.mark.parametrize("make", [lambda: SGD(0.05, 0.9, velocity="step"),
                                  lambda: SGD(0.05, 0.9, True, velocity="step"),
                                  lambda: Adam(0.01, bias_correction="step")])
def test_step_forms_checkpoint_round_trip(tmp_path, make):
    a, X, y = _setup(7)
    opt = make()
    for _ in range(3):
        a.train_step(X, y, opt)
    path = a.save(tmp_path / "ck.npz")
    b = Network.load(path)
    assert b.optimizer.get_config() == opt.get_config() and b.optimizer.t == 3
    assert b.optimizer.kernel_args(4) == opt.kernel_args(4)
    for _ in range(3):
        la, lb = a.train_step(X, y, opt), b.train_step(X, y, b.optimizer)
        assert la == lb
    np.testing.assert_array_equal(b.flat_parameters, a.flat_parameters)
    for sa, sb in zip(opt.state_arrays(), b.optimizer.state_arrays()):
        np.testing.assert_array_equal(sa, sb)


def test_step_forms_config_and_validation():
    for opt in (SGD(0.1, 0.5, velocity="step"), SGD(0.1, 1.0, True, velocity="step"),
                Adam(bias_correction="step")):
        back = optimizer_from_config(opt.get_config())
        assert back.get_config() == opt.get_config()
        assert back.kernel_args(3) == opt.kernel_args(3)
    # configs written before the forms existed are the course's forms
    old = {"kind": "adam", "lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
           "schedule": None}
    assert optimizer_from_config(old).bias_correction == "moments"
    old = {"kind": "momentum", "lr": 0.01, "momentum": 0.9, "nesterov": False, "schedule": None}
    assert optimizer_from_config(old).velocity == "average"
    assert "velocity='step'" in repr(SGD(0.1, 0.9, velocity="step"))
    with pytest.raises(ValueError, match="unknown velocity 'sklearn'"):
        SGD(0.1, 0.9, velocity="sklearn")
    with pytest.raises(ValueError, match="unknown bias_correction 'eps'"):
        Adam(bias_correction="eps")
    with pytest.raises(ValueError, match="momentum must be <= 1"):
        SGD(0.1, 1.5, velocity="step")
    assert get_optimizer("nesterov", 0.1, velocity="step").kernel_args(1)[0] \
        != get_optimizer("nesterov", 0.1).kernel_args(1)[0]


# ---------------------------------------------------------------- every clone
# csrc/fastbp_optim.h compiles the update for SSE2, AVX2 and AVX-512 and
# promises that each rounds exactly like the scalar loop (no FMA contraction,
# the same operations in the same order). NumPy's element-wise ufuncs do not
# contract either and its sqrt and divide are correctly rounded, so the same
# formulas written with NumPy arrays in the network's dtype give the kernel's
# result bit for bit, whatever the dispatch level and the thread split.

UPDATE_CHILD = r"""
import json, sys
import numpy as np
from fastbp.network import Network
from fastbp.optim import SGD, Adam
from fastbp import _blas

def expected(kind, P, G, S1, S2, t, dt, opt):
    f = dt.type
    lr = f(opt.lr)
    if kind == "sgd":
        return P - lr * G, S1, S2
    b1 = f(opt.momentum if kind in ("momentum", "nesterov", "momentum_step", "nesterov_step")
           else opt.beta1)
    if kind == "momentum":
        v = b1 * S1 + f(1.0 - opt.momentum) * G
        return P - lr * v, v, S2
    if kind == "nesterov":
        nb1 = f(1.0 - opt.momentum)
        v = b1 * S1 + nb1 * G
        return P - lr * (b1 * v + nb1 * G), v, S2
    if kind == "momentum_step":
        v = b1 * S1 - lr * G
        return P + v, v, S2
    if kind == "nesterov_step":
        v = b1 * S1 - lr * G
        return P + (b1 * v - lr * G), v, S2
    b2, eps = f(opt.beta2), f(opt.eps)
    v = b1 * S1 + f(1.0 - opt.beta1) * G
    s = b2 * S2 + f(1.0 - opt.beta2) * G * G
    if kind == "adam":
        c1, c2 = f(1.0 / (1.0 - opt.beta1 ** t)), f(1.0 / (1.0 - opt.beta2 ** t))
    else:
        lr = f(opt.lr * (np.sqrt(1.0 - opt.beta2 ** t)) / (1.0 - opt.beta1 ** t))
        c1 = c2 = f(1.0)
    return P - lr * (v * c1) / (np.sqrt(s * c2) + eps), v, s

MAKERS = {
    "sgd": lambda: SGD(0.3),
    "momentum": lambda: SGD(0.3, momentum=0.9),
    "nesterov": lambda: SGD(0.3, momentum=0.8, nesterov=True),
    "momentum_step": lambda: SGD(0.3, momentum=0.9, velocity="step"),
    "nesterov_step": lambda: SGD(0.3, momentum=0.8, nesterov=True, velocity="step"),
    "adam": lambda: Adam(0.05, beta1=0.85, beta2=0.99, eps=1e-7),
    "adam_step": lambda: Adam(0.05, beta1=0.85, beta2=0.99, eps=1e-7, bias_correction="step"),
}
out = {"dispatch": _blas.simd_dispatch()}
rng = np.random.default_rng(3)
# 37*19 + 19 + 19*3 + 3 = 782 parameters: every clone's vector loop and tail
X = rng.standard_normal((37, 41))
y = rng.integers(0, 3, 41)
for dtype in ("float32", "float64"):
    dt = np.dtype(dtype)
    for kind, make in MAKERS.items():
        for nt in (1, 2):
            net = Network([37, 19, 3], "tanh", "softmax", dtype=dtype, seed=5, n_threads=nt)
            opt = make()
            Xd = X.astype(dtype)
            bad = []
            for t in range(1, 4):
                net.forward(Xd)
                grads = net.backward(y)
                keys = list(net.parameters)
                P = np.concatenate([net.parameters[k].ravel() for k in keys])
                G = np.concatenate([grads["d" + k].ravel() for k in keys])
                st = opt.state_arrays() if t > 1 else None
                S1 = st[0].copy() if st else np.zeros_like(P)
                S2 = st[1].copy() if st and len(st) > 1 else np.zeros_like(P)
                eP, eS1, eS2 = expected(kind, P, G, S1, S2, t, dt, opt)
                net.apply_update(opt)
                got = np.concatenate([net.parameters[k].ravel() for k in keys])
                if got.dtype != dt or not np.array_equal(got, eP):
                    bad.append((t, int(np.sum(got != eP))))
            out[f"{kind} {dtype} nt={nt}"] = [bad, None]
print(json.dumps(out))
"""


@pytest.mark.parametrize("dispatch", ["default", "avx2", "baseline"])
def test_update_clones_round_like_the_scalar_formula(dispatch):
    """Every update form, in every compiled clone, equals the NumPy formula
    bit for bit, for both dtypes and both thread counts. (Whole training runs
    still differ between clones in the last bits: the forward and backward
    use FMA in the AVX2 and AVX-512 clones.)"""
    import json

    from conftest import dispatch_env, run_python
    env = dispatch_env(dispatch)
    res = run_python(UPDATE_CHILD, env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    want = {"default": out["dispatch"], "avx2": ("avx2+fma", "baseline"),
            "baseline": ("baseline",)}[dispatch]
    assert out.pop("dispatch") in want
    for key, (bad, _) in out.items():
        assert not bad, f"{dispatch} {key}: (update t, elements differing) {bad}"


SQRT_CHILD = r"""
import json
import numpy as np
from fastbp import _blas, _testing
from fastbp._registry import OPTIMIZERS

rng = np.random.default_rng(11)
out = {"dispatch": _blas.simd_dispatch()}
for dtype, uint, bits, mant, emin, emax in (("float64", np.uint64, 64, 52, -1022, 1023),
                                            ("float32", np.uint32, 32, 23, -126, 127)):
    dt = np.dtype(dtype)
    fi = np.finfo(dt)
    n = 200_000
    # every binade: random significands and exponents over the normal range
    e = rng.integers(emin, emax + 1, n)
    x = np.ldexp(1.0 + rng.random(n), e).astype(dt)
    # near-squares, and the products g g+ of a float and its successor (the
    # boundaries of the exact rounding test), each nudged by -2..2 ulps
    k = np.ldexp(1.0 + rng.random(n), rng.integers(emin // 2 + 1, emax // 2, n)).astype(dt)
    sq = k * k
    gg = k * np.nextafter(k, dt.type(np.inf))
    near = np.concatenate([sq, gg]).view(uint) + rng.integers(-2, 3, 2 * n).astype(uint)
    x = np.concatenate([x, near.view(dt)])
    special = [0.0, -0.0, 1.0, 4.0, 2.0, 0.25, fi.max, fi.tiny, np.inf, np.nan, -1.0, -np.inf]
    if dtype == "float64":      # the edges of the AVX-512 Newton square root's range
        special += [2.0 ** -912, 2.0 ** 1000]
    special = np.array(special, dt)
    x = np.concatenate([x, special, np.nextafter(special, dt.type(np.inf)),
                        np.nextafter(special, dt.type(-np.inf))])
    x = x[np.isnan(x) | (np.abs(x) >= fi.tiny) | (x == 0)]    # no subnormals: flushed
    x = x[rng.permutation(x.size)]
    # P -= lr (v c1) / (sqrt(s c2) + eps) with lr = -1, c1 = 1, s c2 = x and
    # v = 1, then v = x: P = 1 / (sqrt(x) + eps) and x / (sqrt(x) + eps), as
    # NumPy rounds them. Twice: unflushed with eps = -0 (and nb2 = -0, so that
    # s = x + nb2 g g keeps x = -0 and 1 / sqrt(-0) = -inf shows its sign), then
    # under FTZ | DAZ with c2 = 2^-k, s = x 2^k and an eps that flushes
    # (fbp_update_flushes: eps^2 >= TINY c2 4^(DIG + 1); checked below), far
    # below sqrt(x)'s last place, so the range edge 2^-912 is tested flushed
    k = 900 if dtype == "float64" else 100
    c2 = np.ldexp(1.0, -k)
    tiny_eps = np.ldexp(1.0, (emin - k + 2 * (mant + 2)) // 2)
    bad = 0
    for eps, c2, xs in ((-0.0, 1.0, x), (tiny_eps, c2, x[~(np.abs(x) > fi.max * c2)])):
        if eps:     # the flushed run really flushes: a subnormal moment reads as 0
            P = np.zeros(8, dt)
            _testing.update(OPTIMIZERS["adam"], P, np.zeros_like(P),
                            np.full_like(P, fi.smallest_subnormal), np.ones_like(P),
                            -1.0, 1.0, 1.0, 0.0, 0.0, eps, 1.0, c2)
            assert (P == 0).all(), (dtype, P)
        for num in (np.ones_like(xs), xs):
            P = np.zeros_like(xs)
            S1 = num.copy()
            S2 = xs / dt.type(c2)
            G = np.zeros_like(xs)
            _testing.update(OPTIMIZERS["adam"], P, G, S1, S2, -1.0, 1.0, 1.0, 0.0, -0.0,
                            eps, 1.0, c2)
            with np.errstate(all="ignore"):
                want = dt.type(0) + num / (np.sqrt(S2 * dt.type(c2)) + dt.type(eps))
            same = (P.view(uint) == want.view(uint)) | (np.isnan(P) & np.isnan(want))
            bad += int(np.sum(~same))
    out[dtype] = [bad, int(x.size)]
print(json.dumps(out))
"""


@pytest.mark.parametrize("dispatch", ["default", "fma-sqrt", "divider-sqrt", "avx2", "baseline"])
def test_adam_square_root_is_correctly_rounded(dispatch):
    """Adam's sqrt(s c2) in every clone equals NumPy's (IEEE, correctly
    rounded) bit for bit on the inputs hardest for the AVX-512 float64
    clone's Newton square root (csrc/fastbp_optim.h, fbp_sqrt_pd_avx512):
    every binade, near-squares, the products g g+ its exact test compares
    against, the edges of its range, zeros, infinities, NaN and negatives."""
    import json

    from conftest import dispatch_env, run_python
    env = dispatch_env("default" if dispatch.endswith("-sqrt") else dispatch)
    if dispatch.endswith("-sqrt"):    # both AVX-512 float64 paths, on any vendor
        env["FASTBP_SQRT_ON_FMA"] = "1" if dispatch == "fma-sqrt" else "0"
    res = run_python(SQRT_CHILD, env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    if dispatch.endswith("-sqrt") and out["dispatch"] != "avx512":
        pytest.skip(f"no AVX-512 clone here ({out['dispatch']})")
    out.pop("dispatch")
    for dtype, (bad, n) in out.items():
        assert n > 500_000
        assert bad == 0, f"{dispatch} {dtype}: {bad} of {n} square roots differ"


TRAP_CHILD = r"""
import ctypes, ctypes.util, json
import numpy as np
from fastbp import _blas, _testing
from fastbp._registry import OPTIMIZERS

libm = ctypes.CDLL(ctypes.util.find_library("m"))
n = 67     # vector loops and a tail
out = {"dispatch": _blas.simd_dispatch()}
for dt in (np.float64, np.float32):
    # weights whose gradient stays 0 (digits' blank pixels): second moment 0
    P, G, S1, S2 = (np.zeros(n, dt) for _ in range(4))
    G[::3] = 0.5
    assert libm.feenableexcept(1) != -1      # FE_INVALID traps from here on
    _testing.update(OPTIMIZERS["adam_step"], P, G, S1, S2, 1e-3, 0.9, 0.999, 0.1, 0.001,
                    1e-8, 1.0, 1.0)
    _testing.update(OPTIMIZERS["adam"], P, G, S1, S2, 1e-3, 0.9, 0.999, 0.1, 0.001,
                    1e-30, 10.0, 1000.0)     # an eps small enough to run unflushed
    libm.fedisableexcept(1)
    out[np.dtype(dt).name] = bool(np.isfinite(P).all() and (P[1::3] == 0).all())
print(json.dumps(out))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="feenableexcept is glibc's")
@pytest.mark.parametrize("dispatch", ["default", "fma-sqrt", "avx2", "baseline"])
def test_adam_update_raises_no_invalid_trap(dispatch):
    """A zero second moment (a weight whose gradient stays 0) takes the
    square root of 0, which must not raise the invalid flag: with FE_INVALID
    unmasked, as a user hunting NaNs sets it, the update must not SIGFPE
    (the AVX-512 Newton square root once computed 0 * rsqrt14(0) = 0 * inf)."""
    import json

    from conftest import dispatch_env, run_python
    env = dispatch_env("default" if dispatch == "fma-sqrt" else dispatch)
    if dispatch == "fma-sqrt":
        env["FASTBP_SQRT_ON_FMA"] = "1"
    res = run_python(TRAP_CHILD, env)
    assert res.returncode == 0, (res.returncode, res.stderr)
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out.pop("dispatch")
    assert out == {"float64": True, "float32": True}


L2_CHILD = """
import json
import numpy as np
from fastbp.network import Network
from fastbp import _blas

def row_sq(w):
    # csrc/fastbp_optim.h's order: element j into accumulator j mod 8,
    # ((a0+a2)+(a4+a6)) + ((a1+a3)+(a5+a7)), then the tail in order
    w = w.astype(np.float64)
    n8 = len(w) // 8 * 8
    acc = [0.0] * 8
    for j in range(0, n8, 8):
        for k in range(8):
            acc[k] += w[j + k] * w[j + k]
    t = ((acc[0] + acc[2]) + (acc[4] + acc[6])) + ((acc[1] + acc[3]) + (acc[5] + acc[7]))
    for j in range(n8, len(w)):
        t += w[j] * w[j]
    return t

def check(nets, X, y, dtype):
    f = np.dtype(dtype).type
    m = X.shape[1]
    _, g0 = nets[0].loss_and_gradient(X.astype(dtype), y)
    _, g1 = nets[1].loss_and_gradient(X.astype(dtype), y)
    P = nets[1].flat_parameters
    want = g0.astype(dtype).copy()
    sq, pos = 0.0, 0
    for l in range(1, len(dims)):      # flat layout: W1, b1, W2, b2, ...
        W = nets[1].parameters[f"W{l}"]
        sl = slice(pos, pos + W.size)
        assert np.array_equal(P[sl], W.ravel())
        want[sl] = want[sl] + f(lambd / m) * P[sl]
        for i in range(W.shape[0]):
            sq += row_sq(W[i])
        pos += W.size + W.shape[0]
    return [int(np.sum(g1.astype(dtype) != want)),
            bool(nets[1].last_loss_terms[1] == lambd / (2 * m) * sq)]

out = {"dispatch": _blas.simd_dispatch()}
rng = np.random.default_rng(4)
# n_in 37 (4 blocks of 8 and a tail of 5), 19 (2 and 3), 3 (a tail only)
dims = [37, 19, 3, 2]
X = rng.standard_normal((37, 29))
y = rng.integers(0, 2, 29)
lambd = 0.7
# one row of 1e8 (square 1e16, ulp 2) in lane 0 and two ones in a pair of
# other lanes or the tail: 1e16 + 1 + 1 is 1e16 or 1e16 + 2 depending on
# which adds meet first, so another order of the accumulators or the tail
# changes the sum of some pair. X = 0 and zero biases keep it finite.
pairs = [(a, b) for a in range(1, 8) for b in range(a + 1, 8)]
pairs += [(1, 32), (2, 33), (4, 36), (32, 34), (35, 36)]
for dtype in ("float32", "float64"):
    for nt in (1, 2):
        nets = []
        for lam in (0.0, lambd):
            net = Network(dims, "relu", "softmax", dtype=dtype, seed=8, n_threads=nt, lambd=lam)
            net._kernel.min_flops_per_thread = 1     # rows split between the threads
            net._kernel.team_policy = nt
            nets.append(net)
        out[f"{dtype} nt={nt} random"] = check(nets, X, y, dtype)
        bad = []
        for a, b in pairs:
            for net in nets:
                for l in range(1, len(dims)):
                    net.parameters[f"W{l}"][...] = 0.0
                    net.parameters[f"b{l}"][...] = 0.0
                W1 = net.parameters["W1"]
                W1[5, 0] = 1e8
                W1[5, a] = W1[5, b] = 1.0
                net.parameters_changed()
            g_bad, l2_ok = check(nets, np.zeros_like(X), y, dtype)
            if g_bad or not l2_ok:
                bad.append((a, b))
        out[f"{dtype} nt={nt} pairs"] = [len(bad), not bad]
print(json.dumps(out))
"""


@pytest.mark.parametrize("dispatch", ["default", "avx2", "baseline"])
def test_l2_term_clones_round_in_the_documented_order(dispatch):
    """The L2 term of the gradient (dW += (lambd/m) W) and the sum of squares
    behind the reported cost (csrc/fastbp_optim.h's fbp_l2_rows: eight
    accumulators in a fixed order) give the same bits in every compiled clone,
    both dtypes and both thread counts, as that order written in NumPy."""
    import json

    from conftest import dispatch_env, run_python
    res = run_python(L2_CHILD, dispatch_env(dispatch))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out.pop("dispatch")
    for key, (bad, l2_equal) in out.items():
        # random: (gradient elements that differ, L2 term equal);
        # pairs: (crafted rows whose gradient or L2 term differs, none did)
        assert bad == 0, f"{dispatch} {key}: {bad} differ"
        assert l2_equal, f"{dispatch} {key}: the L2 term differs from the documented order"


@pytest.mark.parametrize("cfg,exc,match", [
    ({"kind": "sgd"}, ValueError, r"the 'sgd' optimizer config lacks 'lr' \(it takes 'lr', "),
    ({"kind": "adam", "lr": 0.1}, ValueError, "lacks 'beta1', 'beta2', 'eps'"),
    ({"kind": "momentum", "lr": 0.1, "momentun": 0.9}, ValueError,
     "has keys it does not take: 'momentun'"),
    ({"kind": "rmsprop", "lr": 0.1}, ValueError, "unknown optimizer kind 'rmsprop'"),
    # these built plain SGD / momentum without Nesterov / momentum silently
    ({"kind": "momentum", "lr": 0.1}, ValueError, "'momentum' optimizer config makes a 'sgd'"),
    ({"kind": "nesterov", "lr": 0.1, "momentum": 0.9}, ValueError, "makes a 'momentum'"),
    ({"kind": "sgd", "lr": 0.1, "momentum": 0.9}, ValueError, "'sgd' .* makes a 'momentum'"),
    ([("kind", "sgd")], TypeError, "an optimizer config is a dict"),
])
def test_optimizer_from_config_names_what_is_wrong(cfg, exc, match):
    from fastbp.optim import optimizer_from_config
    with pytest.raises(exc, match=match):
        optimizer_from_config(cfg)


@pytest.mark.parametrize("opt", [SGD(0.1), SGD(0.1, 0.9, True, velocity="step"),
                                 Adam(0.01, 0.8, 0.99, 1e-6, bias_correction="step"),
                                 Adam(schedule=StepDecay(3, 0.5))])
def test_optimizer_from_config_rebuilds_every_get_config(opt):
    from fastbp.optim import optimizer_from_config
    back = optimizer_from_config(opt.get_config())
    assert type(back) is type(opt) and back.get_config() == opt.get_config()


# ----------------------------------------------------- subnormal numbers
#
# A weight whose gradient stays exactly zero (an input that is always 0)
# has its momentum / first moment decay as v = b1 v; at the smallest
# subnormal d, 0.9 k d rounds back to k d for k <= 4, so without a flush the
# state stays subnormal for the rest of the fit, and on Intel cores every
# update instruction that touches it takes a microcode assist
# (csrc/fastbp_optim.h, bench/RESULTS.md twenty-sixth session).

def _needs_flush():
    from fastbp import _testing
    return pytest.mark.skipif(
        not _testing.update_flushes_subnormal(),
        reason="this build's optimizer update keeps subnormal numbers (no FTZ / FZ "
               "control for its compiler and CPU: csrc/fastbp_optim.h)")


def test_update_flushes_where_the_wheels_are_built():
    """x86-64 (GCC, clang, MSVC) and ARM64 (GCC, clang): every platform a
    wheel is built for flushes; the flag is 0 only on others."""
    import platform
    from fastbp import _testing
    if platform.machine().lower() in ("x86_64", "amd64", "aarch64", "arm64"):
        assert _testing.update_flushes_subnormal()


@_needs_flush()
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make_opt", [lambda: Adam(1e-3), lambda: SGD(0.1, momentum=0.9)],
                         ids=["adam", "momentum"])
def test_update_flushes_subnormal_state_of_zero_gradients(dtype, make_opt):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 16)).astype(dtype)
    X[0] = 0                           # feature 0 is always 0: its weights' gradient is 0
    y = rng.integers(0, 3, 16)
    net = Network([4, 5, 3], "relu", "softmax", dtype=dtype, seed=1, n_threads=1)
    opt = make_opt()
    net.train_step(X, y, opt)
    _, grad = net.loss_and_gradient(X, y)
    zero = np.flatnonzero(grad == 0)
    live = np.flatnonzero(grad != 0)
    assert zero.size >= 5 and live.size > 0      # W1[:, 0] at least
    d = np.finfo(dtype).smallest_subnormal
    v = opt.state_arrays()[0]
    v[zero] = d * (1 + np.arange(zero.size) % 4)         # k d, k = 1..4: b1 v rounds to v
    assert np.all(v[zero] != 0)
    before = net.flat_parameters.copy()
    net.train_step(X, y, opt)
    # without the flush these stay subnormal forever (0.9 k d rounds to k d)
    np.testing.assert_array_equal(v[zero], 0)
    # and the weights they belong to do not move
    np.testing.assert_array_equal(net.flat_parameters[zero], before[zero])
    assert np.all(net.flat_parameters[live] != before[live])


def test_update_keeps_normal_numbers_and_the_callers_mxcsr():
    """The flush reads and writes the MXCSR of the calling thread only for the
    update: NumPy arithmetic after a step still makes subnormal numbers."""
    X = np.random.default_rng(0).standard_normal((3, 8))
    net = Network([3, 4, 2], "relu", "softmax", seed=0, n_threads=1)
    net.train_step(X, np.arange(8) % 2, Adam(1e-3))
    tiny = np.finfo(np.float64).tiny
    assert np.float64(tiny) / 4 != 0           # not flushed: FTZ is off again
    assert np.array([tiny]) * np.array([0.25]) != 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_delta_flushes_subnormal_probabilities(dtype):
    """A softmax output below the smallest normal number (a class the network
    is sure against) gives a zero, not a subnormal, dZ[L], so the backward's
    GEMMs never multiply subnormal numbers (fastbp._netstep._flush_subnormal);
    the gradient is then exactly zero where it came only from them."""
    net = Network([2, 2, 3], "relu", "softmax", dtype=dtype, seed=0, n_threads=1)
    z = 95.0 if dtype == np.float32 else 720.0        # e^-z: subnormal in this dtype
    p = np.exp(np.float64(-z)).astype(dtype)
    assert 0 < p < np.finfo(dtype).tiny
    net.parameters = {"W1": np.eye(2), "b1": np.zeros(2),
                      "W2": np.array([[0.0, 0.0], [-z, 0.0], [-2 * z, 0.0]]),
                      "b2": np.zeros(3)}
    X = np.array([[1.0], [0.0]], dtype=dtype)
    A = net.predict_proba(X)
    assert A[1, 0] == p                               # the forward keeps it
    loss, grad = net.loss_and_gradient(X, np.array([0]))
    np.testing.assert_array_equal(grad, 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_delta_flushes_near_subnormal_probabilities(dtype):
    """A sigmoid output that is normal but tiny (1e-35 in float32) times a
    small weight is subnormal: W[L]^T dZ[L] wrote it into dZ[L-1], and the
    GEMMs multiplied it (a binary digits fit in float32 ran 1.9x slower at
    epoch 1000 on an Intel Xeon). dZ[L] below FLT_MIN / FLT_EPSILON is
    zeroed, so no gradient entry is built from it."""
    tiny, eps = np.finfo(dtype).tiny, np.finfo(dtype).eps
    p = 1e-35 if dtype == np.float32 else 1e-300
    z = -np.log(p)
    net = Network([2, 2, 1], "relu", "sigmoid", dtype=dtype, seed=0, n_threads=1)
    net.parameters = {"W1": np.array([[z, 0.0], [0.0, 1.0]]), "b1": np.zeros(2),
                      "W2": np.array([[-1.0, 1e-10]]), "b2": np.zeros(1)}
    X = np.array([[1.0], [1.0]], dtype=dtype)
    A = net.predict_proba(X)
    assert tiny < A[0, 0] < tiny / eps                # normal, below the threshold
    assert 0 < dtype(1e-10) * A[0, 0] < tiny          # its product with W2[0, 1]: subnormal
    loss, grad = net.loss_and_gradient(X, np.array([[0.0]]))
    np.testing.assert_array_equal(grad, 0)


@pytest.mark.parametrize("dtype,eps,g", [
    (np.float32, 1.2e-38, 1e-19),     # the smallest eps the eps check lets through
    (np.float32, 1e-30, 1e-19),
    (np.float64, 1e-300, 1e-160),
])
def test_flush_keeps_adams_step_with_a_small_eps(dtype, eps, g):
    """With an eps below sqrt(tiny), flushing a subnormal second moment s to 0
    is not invisible: sqrt(s c2) is then the denominator's larger term, and the
    flushed step lr v c1 / eps grew by up to 1e17 (a weight moved by 8e15 for
    lr 1e-3). Such an update runs the formulas unflushed."""
    net = Network([2, 2, 1], "relu", "sigmoid", dtype=dtype, seed=0, n_threads=1)
    net.flat_grads[:] = 0
    net.flat_grads[0] = g                # a normal gradient whose s = nb2 g g is subnormal
    w0 = net.flat_parameters.copy()
    net.apply_update(Adam(1e-3, eps=eps))
    t = dtype
    v = t(1 - 0.9) * t(g)
    s = t(1 - 0.999) * t(g) * t(g)
    assert 0 < s < np.finfo(dtype).tiny
    want = w0[0] - t(1e-3) * (v * t(1 / (1 - 0.9))) / (np.sqrt(s * t(1 / (1 - 0.999))) + t(eps))
    assert net.flat_parameters[0] == want
    np.testing.assert_array_equal(net.flat_parameters[1:], w0[1:])
