"""Issue 12 item 4: float32 in, float32 out, whatever the hyperparameters' type.

Every public function that takes float arrays is called with float32 arrays
and its hyperparameters (learning rates, betas, lambd, keep_prob, epsilon,
alpha, scale) given as Python floats and as NumPy float64 scalars: every
floating array it returns must be float32. Under NumPy 2's promotion (NEP 50)
a float32 array times a Python float stays float32 but times an
``np.float64`` scalar becomes float64; hyperparameters are not data, so
fastbp treats both as Python floats, on NumPy 1 and 2 alike.

``SWEEP`` is the table; ``test_sweep_covers_every_array_function`` fails
when a public function of the fuzz table (tests/test_fuzz.py ROWS) that
takes arrays has neither a sweep row nor a reason in ``NO_FLOAT_HYPERPARAMETERS``.
"""
import numpy as np
import pytest

import fastbp
import fastbp.course as fc
from fastbp.course import c1w3a1, c1w4a1, c1w4a2, c2w1a1, c2w1a2, c2w1a3, c2w2a1

F32 = np.float32
HYPER_KINDS = {"python": float, "np.float64": np.float64}


def _data(n_x=3, m=7, dims=(3, 4, 2, 1), seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_x, m)).astype(F32)
    Y = (rng.random((dims[-1], m)) < 0.5).astype(F32)
    p = {}
    for l in range(1, len(dims)):
        p[f"W{l}"] = (rng.standard_normal((dims[l], dims[l - 1])) / 2).astype(F32)
        p[f"b{l}"] = (0.1 * rng.standard_normal((dims[l], 1))).astype(F32)
    return X, Y, p


def _grads(p, seed=1):
    rng = np.random.default_rng(seed)
    return {"d" + k: rng.standard_normal(v.shape).astype(F32) for k, v in p.items()}


def _net(h, **kw):
    return fastbp.Network([3, 4, 1], dtype="float32", seed=0, **kw)


def _c2(h):
    X, Y, p = _data(dims=(3, 4, 2, 1))
    return X, Y, p


def _fit(h, opt):
    X, Y, _ = _data()
    net = _net(h, lambd=h(0.1))
    net.fit(X, Y, epochs=2, batch_size=4, optimizer=opt, verbose=False)
    return net.parameters, net.predict_proba(X), net.flat_parameters


def _train_step(h):
    X, Y, _ = _data()
    net = _net(h, lambd=h(0.1), keep_prob=h(0.8))
    net.train_step(X, Y, fastbp.Adam(h(0.01), h(0.9), h(0.999), h(1e-7)))
    return net.parameters, net.grads, net.forward(X)


def _adam_course(h):
    _, _, p = _data()
    g = _grads(p)
    v, s = fc.initialize_adam(p)
    return fc.update_parameters_with_adam(p, g, v, s, 2, h(0.01), h(0.9), h(0.999), h(1e-8))


def _momentum_course(h):
    _, _, p = _data()
    g = _grads(p)
    v = fc.initialize_velocity(p)
    return fc.update_parameters_with_momentum(p, g, v, h(0.9), h(0.01))


def _L_backward(h):
    X, Y, p = _data()
    np.random.seed(0)
    AL, caches = fc.L_model_forward(X, p, keep_prob=h(0.8))
    return fc.L_model_backward(AL, Y, caches, lambd=h(0.7), keep_prob=h(0.8))


def _c2w1a2_dropout(h):
    X, Y, p = _c2(h)
    a3, cache = c2w1a2.forward_propagation_with_dropout(X, p, h(0.86))
    return a3, cache, c2w1a2.backward_propagation_with_dropout(X, Y, cache, h(0.86))


def _c2w1a2_reg(h):
    X, Y, p = _c2(h)
    a3, cache = c2w1a2.forward_propagation(X, p)
    return (c2w1a2.backward_propagation_with_regularization(X, Y, cache, h(0.7)),
            c2w1a2.compute_cost_with_regularization(a3, Y, p, h(0.7)))


def _gradient_check(h):
    X, Y, p = _c2(h)
    X, Y = X[:, :3], Y[:, :3]
    _, cache = c2w1a3.forward_propagation_n(X, Y, p)
    g = c2w1a3.backward_propagation_n(X, Y, cache)
    return fc.gradient_check_n(p, g, X, Y, h(1e-3))


def _models(h, which):
    X, Y, _ = _data(m=9)
    if which == "two_layer":
        return fc.two_layer_model(X, Y, (3, 4, 1), learning_rate=h(0.01), num_iterations=3)
    if which == "L_layer":
        return fc.L_layer_model(X, Y, [3, 4, 1], learning_rate=h(0.01), num_iterations=3,
                                lambd=h(0.1), keep_prob=h(0.9))
    if which == "L_layer_nodrop":
        return fc.L_layer_model(X, Y, [3, 4, 1], learning_rate=h(0.01), num_iterations=3,
                                lambd=h(0.1))
    if which == "c1w4a2":
        return c1w4a2.L_layer_model(X, Y, [3, 4, 1], learning_rate=h(0.01), num_iterations=3)
    if which == "c2w1a1":
        return c2w1a1.model(X, Y, learning_rate=h(0.01), num_iterations=3, print_cost=False)
    if which == "c2w1a2":
        return c2w1a2.model(X, Y, learning_rate=h(0.3), num_iterations=3, print_cost=False,
                            lambd=h(0.1))
    if which == "c2w1a2_drop":
        return c2w1a2.model(X, Y, learning_rate=h(0.3), num_iterations=3, print_cost=False,
                            keep_prob=h(0.86))
    if which == "c2w2a1":
        return c2w2a1.model(X, Y, [3, 4, 1], "adam", learning_rate=h(0.01), mini_batch_size=4,
                            beta=h(0.9), beta1=h(0.9), beta2=h(0.999), epsilon=h(1e-8),
                            num_epochs=2, print_cost=False)
    raise ValueError(which)


def _layer(h, which):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 5)).astype(F32)
    W = rng.standard_normal((2, 3)).astype(F32)
    b = rng.standard_normal((2, 1)).astype(F32)
    dZ = rng.standard_normal((2, 5)).astype(F32)
    if which == "dense_forward":
        return fastbp.dense_forward(A, W, b, "leaky_relu", alpha=h(0.1))
    if which == "dense_backward":
        return fastbp.dense_backward(dZ, A, W, "elu", alpha=h(0.5), scale=h(0.2),
                                     lambd=h(0.7))
    if which == "output_delta":
        # one-hot targets (np.eye(2, 5) had all-zero columns: not a distribution)
        Y = np.eye(2, dtype=F32)[:, [0, 1, 0, 1, 1]]
        return fastbp.output_delta(fastbp.softmax(dZ), Y, "crossentropy")
    if which == "softmax":
        return fastbp.softmax(dZ)
    raise ValueError(which)


def _course_update(h, fn):
    _, _, p = _data()
    return fn(p, _grads(p), h(0.1))


#: name -> call(h) where h makes each hyperparameter (float or np.float64)
SWEEP = {
    "fastbp.dense_forward": lambda h: _layer(h, "dense_forward"),
    "fastbp.dense_backward": lambda h: _layer(h, "dense_backward"),
    "fastbp.output_delta": lambda h: _layer(h, "output_delta"),
    "fastbp.softmax": lambda h: _layer(h, "softmax"),
    "fastbp.Network.fit[SGD]": lambda h: _fit(h, fastbp.SGD(h(0.1), momentum=h(0.9))),
    "fastbp.Network.fit[Adam]": lambda h: _fit(h, fastbp.Adam(h(0.01), h(0.9), h(0.99),
                                                               h(1e-7))),
    "fastbp.Network.train_step": _train_step,
    "fastbp.course.update_parameters": lambda h: _course_update(h, fc.update_parameters),
    "fastbp.course.update_parameters_with_gd": lambda h: _course_update(
        h, fc.update_parameters_with_gd),
    "fastbp.course.c1w4a1.update_parameters": lambda h: _course_update(
        h, c1w4a1.update_parameters),
    "fastbp.course.c1w4a2.update_parameters": lambda h: _course_update(
        h, c1w4a2.update_parameters),
    "fastbp.course.update_parameters_with_momentum": _momentum_course,
    "fastbp.course.update_parameters_with_adam": _adam_course,
    "fastbp.course.L_model_forward": lambda h: fc.L_model_forward(
        *_data()[::2], keep_prob=h(0.8)),
    "fastbp.course.L_model_backward": _L_backward,
    "fastbp.course.compute_cost_with_regularization": lambda h: (
        lambda X, Y, p: fc.compute_cost_with_regularization(
            fc.L_model_forward(X, p)[0], Y, p, h(0.7)))(*_data()),
    "fastbp.course.c2w1a2.forward_propagation_with_dropout": _c2w1a2_dropout,
    "fastbp.course.c2w1a2.backward_propagation_with_dropout": _c2w1a2_dropout,
    "fastbp.course.c2w1a2.backward_propagation_with_regularization": _c2w1a2_reg,
}


def _sklearn_fit(h, est):
    """A fastbp.sklearn estimator fitted on float32 data with each float
    hyperparameter made by h: its parameters and predictions stay float32."""
    import warnings
    from fastbp import sklearn as fsk
    X = np.random.default_rng(0).standard_normal((20, 3)).astype(F32)
    y = (X[:, 0] > 0).astype(int) if est == "MLPClassifier" else X[:, 0]
    e = getattr(fsk, est)(hidden_layer_sizes=(3,), alpha=h(0.1), learning_rate_init=h(0.01),
                          beta_1=h(0.9), beta_2=h(0.99), epsilon=h(1e-7), tol=h(1e-4),
                          max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # ConvergenceWarning after 2 epochs
        e.fit(X, y)
    out = e.predict_proba(X) if est == "MLPClassifier" else e.predict(X)
    return list(e.coefs_) + list(e.intercepts_) + [out]


def _have_fastbp_sklearn():
    try:
        import fastbp.sklearn  # noqa: F401
    except ImportError:         # no scikit-learn >= SKLEARN_MIN_VERSION: no rows
        return False
    return True


if _have_fastbp_sklearn():
    SWEEP.update({f"fastbp.sklearn.{est}": (lambda h, est=est: _sklearn_fit(h, est))
                  for est in ("MLPClassifier", "MLPRegressor")})


def _floats(x, where="result"):
    """(where, dtype) of every floating array or NumPy float scalar in x."""
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _floats(v, f"{where}[{k!r}]")
    elif isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            yield from _floats(v, f"{where}[{i}]")
    elif isinstance(x, (np.ndarray, np.floating)) and np.dtype(x.dtype).kind == "f":
        yield where, np.dtype(x.dtype)


@pytest.mark.parametrize("kind", sorted(HYPER_KINDS))
@pytest.mark.parametrize("name", sorted(SWEEP))
def test_float32_stays_float32(name, kind, capsys):
    with np.errstate(all="ignore"):
        result = SWEEP[name](HYPER_KINDS[kind])
    found = list(_floats(result))
    assert found, f"{name}: returned no float arrays"
    wrong = [(w, str(d)) for w, d in found if d != np.float32]
    assert not wrong, (f"{name} with {kind} hyperparameters returned non-float32 values: "
                       f"{wrong}")


#: array-taking public functions without float hyperparameters (their dtype
#: behaviour is the fuzz table's oracle's) or not returning arrays
NO_FLOAT_HYPERPARAMETERS = (
    "fastbp.loss", "fastbp.effective_n_threads", "fastbp.openmp_enabled", "fastbp.Network",
    "fastbp.Network.forward", "fastbp.Network.predict", "fastbp.Network.predict_proba",
    "fastbp.Network.evaluate", "fastbp.Network.backward", "fastbp.SGD", "fastbp.Adam",
    "fastbp.InverseTimeDecay", "fastbp.StepDecay", "fastbp.ExponentialDecay",
    "fastbp.update_lr", "fastbp.schedule_lr_decay", "fastbp.optim.get_optimizer",
    "fastbp.course.c2w2a1.load_params_and_grads",
    "fastbp.course.c2w1a3.gradient_check",  # scalars x, theta only (the 1-D example)
)


#: functions whose float64 results with float32 data are NumPy's promotion by design:
#: they create float64 arrays themselves (the course's initializers draw float64
#: parameters; gradient_check_n's gradapprox is np.zeros, float64), and X float32
#: with W float64 computes in float64. Their hyperparameters are still checked
#: not to promote: see test_models_hyperparameters_do_not_promote.
PROMOTED_BY_DESIGN = {
    "fastbp.course.two_layer_model": "two_layer", "fastbp.course.L_layer_model": "L_layer",
    "fastbp.course.c1w4a2.two_layer_model": None, "fastbp.course.c1w4a2.L_layer_model": "c1w4a2",
    "fastbp.course.c2w1a1.model": "c2w1a1", "fastbp.course.c2w1a2.model": "c2w1a2",
    "fastbp.course.c2w2a1.model": "c2w2a1", "fastbp.course.nn_model": None,
    "fastbp.course.gradient_check_n": None,
}


@pytest.mark.parametrize("which", sorted({w for w in PROMOTED_BY_DESIGN.values() if w}
                                         | {"L_layer_nodrop", "c2w1a2_drop"}))
def test_models_hyperparameters_do_not_promote(which):
    """The training loops with float64 data give bitwise the same parameters for
    Python-float and np.float64 hyperparameters (so the hyperparameters do not
    change the dtype or the arithmetic)."""
    with np.errstate(all="ignore"):
        a = _models(float, which)
        b = _models(np.float64, which)
    pa = a[0] if isinstance(a, tuple) else a
    pb = b[0] if isinstance(b, tuple) else b
    for k in pa:
        assert pa[k].dtype == pb[k].dtype, k
        np.testing.assert_array_equal(pa[k], pb[k], err_msg=k)


def test_sweep_covers_every_array_function():
    """Every fuzzed public name either has a sweep row, takes no float hyperparameter
    (listed above), or is a course function whose only scalars are sizes/labels."""
    import test_fuzz
    swept = {k.split("[")[0] for k in SWEEP}
    hyper_words = ("learning_rate", "lambd", "keep_prob", "beta", "epsilon", "alpha", "lr")
    import inspect
    missing = []
    for name in {k.split("[")[0] for k in test_fuzz.ROWS}:
        if name in swept or name in NO_FLOAT_HYPERPARAMETERS or name in PROMOTED_BY_DESIGN:
            continue
        obj = test_fuzz._resolve(name)
        try:
            params = inspect.signature(obj).parameters
        except (TypeError, ValueError):
            continue
        if any(p.startswith(hyper_words) for p in params):
            missing.append(name)
    assert not missing, f"functions with float hyperparameters and no sweep row: {missing}"
