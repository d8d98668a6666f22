"""fastbp.optim: updates against the course's formulas, schedules, validation."""
import numpy as np
import pytest

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
    for epoch in (0, 1, 7, 999, 1000, 2500):
        assert InverseTimeDecay(0.3)(0.1, epoch) == pytest.approx(update_lr(0.1, epoch, 0.3))
        assert InverseTimeDecay(0.3, 1000)(0.1, epoch) == pytest.approx(
            schedule_lr_decay(0.1, epoch, 0.3, 1000))
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


def test_optimizer_moved_to_another_network_starts_fresh():
    a, X, y = _setup(3)
    b, _, _ = _setup(4)
    opt = Adam(0.01)
    a.train_step(X, y, opt)
    a.train_step(X, y, opt)
    assert opt.t == 2
    b.train_step(X, y, opt)
    assert opt.t == 1
