"""fastbp.sklearn against scikit-learn itself: the estimator contract, and parity.

Parity: with the same ``random_state`` and float64 data, fastbp's estimators
draw scikit-learn's initial weights and mini-batches, so after a few epochs
their ``coefs_`` / ``intercepts_`` must equal scikit-learn's to rounding
(1e-8 relative), with the same ``loss_curve_``, ``n_iter_`` and warnings.
The expected values are scikit-learn's own, computed here by scikit-learn.
"""
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip(
    "sklearn", minversion="1.7",
    reason="fastbp.sklearn needs scikit-learn >= 1.7 (pip install fastbp[sklearn])")

from sklearn import neural_network as sk_nn  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from fastbp import sklearn as fsk  # noqa: E402

SK = {"MLPClassifier": sk_nn.MLPClassifier, "MLPRegressor": sk_nn.MLPRegressor}
FB = {"MLPClassifier": fsk.MLPClassifier, "MLPRegressor": fsk.MLPRegressor}
RTOL = 1e-8
SK_VERSION = tuple(int("".join(c for c in p if c.isdigit()) or 0)
                   for p in sklearn.__version__.split(".")[:2])


def _listed(mark):
    """scikit-learn < 1.8's parametrize_with_checks hands pytest a generator,
    which pytest 9 deprecates and pytest 10 refuses: the same mark, listed."""
    names, values, *rest = mark.mark.args
    return pytest.mark.parametrize(names, list(values), *rest, **mark.mark.kwargs)


@_listed(parametrize_with_checks([fsk.MLPClassifier(max_iter=100),
                                  fsk.MLPRegressor(max_iter=100),
                                  fsk.MLPClassifier(solver="lbfgs", max_iter=50),
                                  fsk.MLPRegressor(solver="sgd", max_iter=50)]))
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# ------------------------------------------------------------------- parity
def _data(task, n=157, n_features=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features))
    w = rng.standard_normal((n_features, 3))
    z = X @ w
    if task == "binary":
        y = np.where(z[:, 0] + 0.3 * rng.standard_normal(n) > 0, "yes", "no")
    elif task == "multiclass":
        y = np.array(["a", "b", "c"])[np.argmax(z + 0.3 * rng.standard_normal(z.shape), axis=1)]
    elif task == "multilabel":
        y = (z + 0.3 * rng.standard_normal(z.shape) > 0).astype(int)
    elif task == "regression":
        y = z[:, 0] + 0.1 * rng.standard_normal(n)
    elif task == "regression2":
        y = z[:, :2] + 0.1 * rng.standard_normal((n, 2))
    elif task == "poisson":
        y = rng.poisson(np.exp(0.3 * z[:, 0]))
    else:
        raise ValueError(task)
    return X, y


def _kind(task):
    return "MLPClassifier" if task in ("binary", "multiclass", "multilabel") else "MLPRegressor"


def _fit_both(task, params, sample_weight=None, X=None, y=None, method="fit", calls=1,
              classes=None):
    if X is None:
        X, y = _data(task)
    kind = _kind(task)
    if task == "poisson":
        params = dict(params, loss="poisson")
    out = []
    for cls in (SK[kind], FB[kind]):
        est = cls(**params)
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            for _ in range(calls):
                if method == "fit":
                    est.fit(X, y, sample_weight=sample_weight)
                elif classes is not None:
                    est.partial_fit(X, y, sample_weight=sample_weight, classes=classes)
                else:
                    est.partial_fit(X, y, sample_weight=sample_weight)
        out.append((est, [(w.category, str(w.message)) for w in rec]))
    return out


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.max(np.abs(b)), 1e-300)
    return float(np.max(np.abs(a - b)) / scale)


def _assert_parity(sk, fb, rtol=RTOL):
    (s, sw), (f, fw) = sk, fb
    assert len(f.coefs_) == len(s.coefs_)
    for name in ("coefs_", "intercepts_"):
        for i, (a, b) in enumerate(zip(getattr(f, name), getattr(s, name))):
            assert a.shape == b.shape, (name, i)
            assert _rel(a, b) <= rtol, (name, i, _rel(a, b))
    assert f.n_iter_ == s.n_iter_
    assert f.n_outputs_ == s.n_outputs_ and f.n_layers_ == s.n_layers_
    assert f.out_activation_ == s.out_activation_
    if hasattr(s, "loss_curve_"):
        assert len(f.loss_curve_) == len(s.loss_curve_)
        np.testing.assert_allclose(f.loss_curve_, s.loss_curve_, rtol=rtol)
        assert f.t_ == s.t_
        for attr in ("best_loss_", "best_validation_score_"):
            a, b = getattr(f, attr), getattr(s, attr)
            assert (a is None) == (b is None), attr
            if b is not None:
                np.testing.assert_allclose(a, b, rtol=rtol, err_msg=attr)
        if s.validation_scores_ is not None:
            np.testing.assert_allclose(f.validation_scores_, s.validation_scores_, rtol=rtol)
    np.testing.assert_allclose(f.loss_, s.loss_, rtol=rtol)
    assert fw == sw          # the same warnings, word for word
    if hasattr(s, "classes_"):
        np.testing.assert_array_equal(f.classes_, s.classes_)


TASKS = ["binary", "multiclass", "multilabel", "regression", "regression2", "poisson"]
SOLVERS = {"adam": dict(solver="adam", learning_rate_init=0.01),
           "sgd-nesterov": dict(solver="sgd", learning_rate_init=0.05, momentum=0.9,
                                nesterovs_momentum=True)}


def _poisson_mark(task):
    return None


def _params(task, solver, **extra):
    p = dict(hidden_layer_sizes=(7, 5), batch_size=32, max_iter=3, random_state=3, tol=0.0,
             **SOLVERS[solver])
    p.update(extra)
    return p


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
@pytest.mark.parametrize("alpha", [0.0, 0.05])
def test_parity_three_epochs(task, solver, weighted, alpha, request):
    mark = _poisson_mark(task)
    if mark:
        request.applymarker(mark)
    X, y = _data(task)
    sw = np.random.default_rng(1).uniform(0.2, 2.0, X.shape[0]) if weighted else None
    sk, fb = _fit_both(task, _params(task, solver, alpha=alpha), sample_weight=sw, X=X, y=y)
    assert any(c is ConvergenceWarning for c, _ in sk[1])   # max_iter=3 reached
    _assert_parity(sk, fb)
    if _kind(task) == "MLPRegressor":
        np.testing.assert_allclose(fb[0].predict(X), sk[0].predict(X), rtol=1e-7)
    else:
        np.testing.assert_array_equal(fb[0].predict(X), sk[0].predict(X))
        np.testing.assert_allclose(fb[0].predict_proba(X), sk[0].predict_proba(X), rtol=1e-7)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression2", "poisson"])
@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
def test_parity_early_stopping(task, solver, weighted, request):
    mark = _poisson_mark(task)
    if mark:
        request.applymarker(mark)
    X, y = _data(task, n=300)
    if _kind(task) == "MLPClassifier" and SK_VERSION < (1, 8):
        # scikit-learn < 1.8 fails early stopping on string labels (np.isnan of
        # its predictions); fastbp does not, but parity needs scikit-learn to run
        y = np.unique(y, return_inverse=True)[1]
    sw = np.random.default_rng(2).uniform(0.2, 2.0, X.shape[0]) if weighted else None
    params = _params(task, solver, alpha=1e-3, early_stopping=True, max_iter=8,
                     n_iter_no_change=2, tol=1e-3, validation_fraction=0.2)
    if task == "poisson" and solver != "adam":
        # at 0.05 this SGD diverges by epoch 3: scikit-learn's loss turns NaN
        # (inf - inf of clipped exp) where fastbp's, from the logits, stays
        # finite; parity is about training that works
        params["learning_rate_init"] = 0.005
    sk, fb = _fit_both(task, params, sample_weight=sw, X=X, y=y)
    _assert_parity(sk, fb)


@pytest.mark.parametrize("task", ["multiclass", "regression"])
@pytest.mark.parametrize("params", [
    dict(solver="adam", learning_rate_init=0.02, tol=1e-3, n_iter_no_change=3),
    dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.05, tol=1e-2,
         n_iter_no_change=2),
    dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.2, power_t=0.3,
         momentum=0.5, nesterovs_momentum=False, tol=1e-3),
    dict(solver="sgd", learning_rate_init=0.05, momentum=0.0, shuffle=False, tol=1e-3),
], ids=["adam-tol", "sgd-adaptive", "sgd-invscaling-momentum", "sgd-plain-noshuffle"])
def test_parity_tol_stopping(task, params):
    """Same n_iter_ under tol stopping (and adaptive / invscaling schedules)."""
    p = dict(hidden_layer_sizes=(6,), batch_size=40, max_iter=60, random_state=0, **params)
    sk, fb = _fit_both(task, p)
    assert sk[0].n_iter_ < 60 or any(c is ConvergenceWarning for c, _ in sk[1])
    _assert_parity(sk, fb, rtol=1e-7)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel", "regression2",
                                  "poisson"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
def test_parity_lbfgs(task, weighted, request):
    mark = _poisson_mark(task)
    if mark:
        request.applymarker(mark)
    X, y = _data(task)
    sw = np.random.default_rng(1).uniform(0.2, 2.0, X.shape[0]) if weighted else None
    params = dict(solver="lbfgs", hidden_layer_sizes=(7,), alpha=1e-3, max_iter=30,
                  random_state=0)
    (s, sw_), (f, fw) = _fit_both(task, params, sample_weight=sw, X=X, y=y)
    assert abs(f.loss_ - s.loss_) <= 1e-6 * abs(s.loss_)
    assert f.n_iter_ == s.n_iter_
    assert [c for c, _ in fw] == [c for c, _ in sw_]


def _sparse_data(task, fmt, n=157, n_features=60, density=0.05, seed=0):
    """_data's targets from a sparse X of ``density`` (below fastbp.sklearn's
    _SPARSE_DENSITY, so mini-batches go to the network's sparse kernel)."""
    import scipy.sparse as sp
    rng = np.random.default_rng(seed)
    X = sp.random(n, n_features, density=density, format=fmt, random_state=seed,
                  data_rvs=rng.standard_normal)
    _, y = _data(task, n=n)
    z = X @ rng.standard_normal((n_features, 3))
    if task == "multiclass":
        y = np.array(["a", "b", "c"])[np.argmax(z, axis=1)]
    elif task == "regression":
        y = z[:, 0]
    return X, y


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("task", ["multiclass", "regression", "poisson"])
@pytest.mark.parametrize("solver", ["adam", "sgd-nesterov", "lbfgs"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
def test_parity_sparse_first_layer_kernel(fmt, task, solver, weighted):
    from fastbp.sklearn import _SPARSE_DENSITY
    X, y = _sparse_data(task, fmt)
    assert X.nnz <= _SPARSE_DENSITY * X.shape[0] * X.shape[1]
    sw = np.random.default_rng(2).uniform(0.2, 2.0, X.shape[0]) if weighted else None
    if solver == "lbfgs":
        params = dict(solver="lbfgs", hidden_layer_sizes=(9,), alpha=1e-3, max_iter=30,
                      random_state=0)
        (s, s_warn), (f, f_warn) = _fit_both(task, params, sample_weight=sw, X=X, y=y)
        assert abs(f.loss_ - s.loss_) <= 1e-6 * abs(s.loss_)
        assert f.n_iter_ == s.n_iter_
        assert [c for c, _ in f_warn] == [c for c, _ in s_warn]
        rtol = 1e-4
    else:
        params = _params(task, solver, alpha=1e-3, hidden_layer_sizes=(9, 5))
        sk, fb = _fit_both(task, params, sample_weight=sw, X=X, y=y)
        _assert_parity(sk, fb)
        (s, _), (f, _) = sk, fb
        rtol = 1e-7
    # prediction on sparse input: the sparse kernel's forward
    if task == "multiclass":
        np.testing.assert_allclose(f.predict_proba(X), s.predict_proba(X), rtol=rtol,
                                   atol=1e-9)
    else:
        np.testing.assert_allclose(f.predict(X), s.predict(X), rtol=rtol, atol=1e-9)


@pytest.mark.parametrize("task,solver,dtype,scale", [
    ("binary", "adam", np.float64, 20), ("multiclass", "adam", np.float64, 20),
    ("multilabel", "adam", np.float64, 20), ("multiclass", "lbfgs", np.float64, 20),
    ("binary", "adam", np.float32, 5), ("multilabel", "adam", np.float32, 5)])
def test_parity_when_log_loss_saturates(task, solver, dtype, scale, monkeypatch):
    """scikit-learn clips the probabilities to [eps, 1 - eps] before its log
    loss (and computes log(1 - p) from p); fastbp's exact losses from the
    logits differed where a term passes -log(eps), 36 in float64 and 16 in
    float32, and L-BFGS's line search, which compares them, went elsewhere (a
    fresh-user trial: coefs_ 1.4e-2 apart after 5 iterations). Random labels
    and large inputs drive the logits there."""
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((300, 100)) * scale).astype(dtype)
    y = {"binary": rng.integers(0, 2, 300), "multiclass": rng.integers(0, 3, 300),
         "multilabel": rng.integers(0, 2, (300, 3))}[task]
    params = dict(hidden_layer_sizes=(16,), solver=solver, random_state=0, max_iter=8,
                  tol=0.0, learning_rate_init=0.05, batch_size=32)
    (s, s_warn), (f, f_warn) = _fit_both(task, params, X=X, y=y)
    rtol = 1e-10 if dtype == np.float64 else 2e-5
    want = s.loss_curve_ if solver == "adam" else [s.loss_]
    np.testing.assert_allclose(f.loss_curve_ if solver == "adam" else [f.loss_], want,
                               rtol=rtol)
    if dtype == np.float64:
        for a, b in zip(f.coefs_ + f.intercepts_, s.coefs_ + s.intercepts_):
            assert _rel(a, b) <= 1e-8
        assert f.n_iter_ == s.n_iter_
    # the clipping is in play: fastbp's exact losses differ here
    from fastbp.network import Network
    monkeypatch.setattr(Network, "_clip_loss", lambda net, eps: net._kernel.set_loss_clip(0.0))
    (_, _), (exact, _) = _fit_both(task, params, X=X, y=y)
    got = exact.loss_curve_ if solver == "adam" else [exact.loss_]
    assert not np.allclose(got, want, rtol=100 * rtol)


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_parity_poisson_when_exp_overflows(solver):
    """scikit-learn's Poisson loss is inf or NaN where its e^z overflows or
    underflows (xlogy(y, y / y_pred) - y + y_pred), and its tol stopping and
    L-BFGS (status ABNORMAL, a ConvergenceWarning) see those values; fastbp's
    exact loss from the logits stayed finite and stopped elsewhere (a
    fresh-user trial: n_iter_ 13 against 30)."""
    import scipy.sparse as sp
    rng = np.random.default_rng(0)
    D = sp.random(300, 20, density=0.05, random_state=0, format="csr").toarray()
    z = D @ rng.standard_normal(20)
    rng.poisson(np.exp(0.3 * z / (np.abs(z).max() + 1e-9)))      # (the trial's draws)
    X = sp.csr_matrix(D * 30)
    y = rng.poisson(3, 300).astype(float)
    sw = np.random.default_rng(1).uniform(0.1, 3, 300)
    params = dict(hidden_layer_sizes=(16,), random_state=0, tol=0.0, max_iter=30,
                  solver=solver, batch_size=32, momentum=0.9, learning_rate_init=0.05)
    if solver == "lbfgs":
        X, sw = X.toarray(), None
    (s, s_warn), (f, f_warn) = _fit_both("poisson", params, sample_weight=sw, X=X, y=y)
    assert f.n_iter_ == s.n_iter_
    assert [c for c, _ in f_warn if c is ConvergenceWarning] == \
        [c for c, _ in s_warn if c is ConvergenceWarning]
    if solver == "sgd":
        np.testing.assert_array_equal(np.isnan(f.loss_curve_), np.isnan(s.loss_curve_))
        assert np.isnan(s.loss_curve_).any()
    for a, b in zip(f.coefs_ + f.intercepts_, s.coefs_ + s.intercepts_):
        assert _rel(a, b) <= 1e-8


def test_parity_lbfgs_converged_warning_free():
    X, y = _data("regression")
    params = dict(solver="lbfgs", hidden_layer_sizes=(3,), max_iter=2000, random_state=0,
                  tol=1e-3)
    (s, sw_), (f, fw) = _fit_both("regression", params, X=X, y=y)
    assert sw_ == [] and fw == []
    assert abs(f.loss_ - s.loss_) <= 1e-6 * abs(s.loss_)


@pytest.mark.parametrize("task", ["multiclass", "multilabel", "regression"])
def test_parity_partial_fit_and_warm_start(task):
    X, y = _data(task)
    classes = {"multiclass": np.unique(y), "multilabel": np.arange(3)}.get(task)
    params = dict(hidden_layer_sizes=(5,), batch_size=50, random_state=4,
                  learning_rate_init=0.01)
    sk, fb = _fit_both(task, params, X=X, y=y, method="partial_fit", calls=3, classes=classes)
    _assert_parity(sk, fb)
    params = dict(params, warm_start=True, max_iter=2)
    sk, fb = _fit_both(task, params, X=X, y=y, calls=2)
    _assert_parity(sk, fb)


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_parity_warm_start_with_early_stopping(task):
    X, y = _data(task, n=300)
    if task == "multiclass" and SK_VERSION < (1, 8):
        y = np.unique(y, return_inverse=True)[1]     # (see test_parity_early_stopping)
    params = dict(hidden_layer_sizes=(5,), batch_size=50, random_state=4, max_iter=4,
                  learning_rate_init=0.01, early_stopping=True, warm_start=True,
                  n_iter_no_change=1, tol=0.05)
    sk, fb = _fit_both(task, params, X=X, y=y, calls=3)
    _assert_parity(sk, fb)


def test_parity_warm_start_new_activation():
    """A warm start after set_params(activation=...) trains the old weights with it."""
    X, y = _data("regression")
    out = []
    for cls in (sk_nn.MLPRegressor, fsk.MLPRegressor):
        est = cls(hidden_layer_sizes=(5,), max_iter=2, random_state=0, warm_start=True,
                  learning_rate_init=0.01)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
            est.set_params(activation="tanh").fit(X, y)
        out.append(est)
    for a, b in zip(out[1].coefs_ + out[1].intercepts_, out[0].coefs_ + out[0].intercepts_):
        assert _rel(a, b) <= RTOL
    np.testing.assert_allclose(out[1].predict(X), out[0].predict(X), rtol=1e-9)


def test_float32_kept_and_close_to_sklearn():
    X, y = _data("multiclass")
    X = X.astype(np.float32)
    params = dict(hidden_layer_sizes=(8,), max_iter=3, random_state=0, batch_size=32,
                  learning_rate_init=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        f = fsk.MLPClassifier(**params).fit(X, y)
        s = sk_nn.MLPClassifier(**params).fit(X, y)
    assert all(c.dtype == np.float32 for c in f.coefs_ + f.intercepts_)
    assert f.predict_proba(X).dtype == np.float32
    for a, b in zip(f.coefs_, s.coefs_):
        assert _rel(a, b) < 1e-4


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_float32_kept_under_lbfgs_and_close_to_sklearn(task):
    """README: "float32 data keeps float32 parameters under solver="lbfgs" too".
    scikit-learn's L-BFGS hands back float64 parameters (SciPy's minimize works
    in float64), so this is a deliberate difference; the fit itself must still
    be scikit-learn's, to float32 rounding."""
    X, y = _data(task)
    X = X.astype(np.float32)
    params = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=15, random_state=0)
    kind = "MLPRegressor" if task == "regression" else "MLPClassifier"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        f = FB[kind](**params).fit(X, y)
        s = SK[kind](**params).fit(X, y)
    assert all(c.dtype == np.float32 for c in f.coefs_ + f.intercepts_)
    out = f.predict_proba(X) if task != "regression" else f.predict(X)
    assert out.dtype == np.float32
    assert f.loss_ == pytest.approx(s.loss_, rel=1e-3)
    for a, b in zip(f.coefs_, s.coefs_):
        assert _rel(a, b) < 1e-2


@pytest.mark.parametrize("kind", ["MLPClassifier", "MLPRegressor"])
@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_float32_model_given_float64_beyond_its_range_refuses_clearly(kind, fmt):
    """A model fitted on float32 data, asked to predict float64 rows holding a
    value beyond float32's range (1e39): scikit-learn computes in float64
    (X @ coefs_ promotes) and returns finite outputs; fastbp's float32
    network cannot represent the row. The dense path cast it to inf with
    only NumPy's "overflow encountered in cast" and returned NaN
    probabilities and class 0 (scikit-learn: class 1, probabilities
    [0, 1]); the sparse path, and fastbp.Network itself, refuse such data
    with a ValueError naming the range. Both paths must refuse alike."""
    import scipy.sparse as sp
    X, y = _data("binary" if kind == "MLPClassifier" else "regression")
    params = dict(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        f = FB[kind](**params).fit(X.astype(np.float32), y)
        s = SK[kind](**params).fit(X.astype(np.float32), y)
    Xb = X[:4].copy()
    Xb[0, 0] = 1e39
    Xb = sp.csr_matrix(Xb) if fmt == "csr" else Xb
    out = s.predict_proba(Xb) if kind == "MLPClassifier" else s.predict(Xb)
    assert np.isfinite(out).all()                   # scikit-learn: finite
    methods = ["predict", "predict_proba"] if kind == "MLPClassifier" else ["predict"]
    for method in methods:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            with pytest.raises(ValueError, match="beyond float32's range"):
                getattr(f, method)(Xb)


@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("method", ["partial_fit", "warm_start"])
def test_float32_model_continued_on_float64_beyond_its_range_refuses_before_training(method,
                                                                                    fmt):
    """partial_fit (or a warm-start fit) of a float32 model on float64 data
    holding 1e39: scikit-learn trains on (float64 products, float32
    coefs_, all finite); fastbp cast X to float32 inf, trained on it and
    then raised "Solver produced non-finite parameter weights", with the
    parameters already overwritten by NaN. It must refuse the data before
    any update, naming the range, and leave the model as it was."""
    X, y = _data("binary")
    params = dict(hidden_layer_sizes=(8,), max_iter=3, random_state=0,
                  warm_start=method == "warm_start")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        f = fsk.MLPClassifier(**params).fit(X.astype(np.float32), y)
        s = sk_nn.MLPClassifier(**params).fit(X.astype(np.float32), y)
        Xb = X.copy()
        Xb[0, 0] = 1e39
        if fmt == "csr":
            import scipy.sparse as sp
            Xb = sp.csr_matrix(Xb)
        (s.partial_fit(Xb, y) if method == "partial_fit" else s.fit(Xb, y))
        assert all(np.isfinite(c).all() for c in s.coefs_)     # scikit-learn trains
        before = [c.copy() for c in f.coefs_ + f.intercepts_]
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            with pytest.raises(ValueError, match="beyond float32's range"):
                f.partial_fit(Xb, y) if method == "partial_fit" else f.fit(Xb, y)
    for a, b in zip(f.coefs_ + f.intercepts_, before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_regressor_float32_data_with_float64_targets_beyond_its_range_refuses(solver):
    """float32 X (a float32 network) with float64 targets of 1e39: scikit-learn
    keeps y in float64 and reports a finite loss (its lbfgs loss_ 4.4e77);
    fastbp cast y to float32 inf with only NumPy's "overflow encountered in
    cast", then lbfgs returned loss_ = NaN and adam raised "Solver produced
    non-finite parameter weights" after training on inf. fastbp.Network
    refuses such targets before training, naming the range; so must the
    estimator."""
    X, _ = _data("regression")
    X = X.astype(np.float32)
    y = X[:, 0].astype(np.float64) * 1e39
    params = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0, solver=solver)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        s = sk_nn.MLPRegressor(**params).fit(X, y)
        assert np.isfinite(s.loss_)                         # scikit-learn: finite
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            with pytest.raises(ValueError, match="beyond float32's range"):
                fsk.MLPRegressor(**params).fit(X, y)


def test_initial_weights_are_sklearns():
    """One step with a tiny learning rate: the weights are scikit-learn's draws."""
    X, y = _data("binary")
    for activation in ("relu", "logistic", "tanh", "identity"):
        p = dict(hidden_layer_sizes=(4, 3), activation=activation, random_state=7,
                 solver="sgd", learning_rate_init=1e-12, max_iter=1, momentum=0.0)
        (s, _), (f, _) = _fit_both("binary", p, X=X, y=y, method="partial_fit",
                                   classes=np.unique(y))
        for a, b in zip(f.coefs_ + f.intercepts_, s.coefs_ + s.intercepts_):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


# ------------------------------------------------- negative sample weights
# scikit-learn's MLP fit calls _check_sample_weight(sample_weight, X) without
# ensure_non_negative, so negative weights are accepted: each example's delta
# is multiplied by its weight and the gradients, the L2 term and the loss are
# divided by the mini-batch's weight sum, whatever its sign (a negative sum
# turns that batch's step into ascent). A batch whose weights sum to exactly
# zero stops the fit with NumPy's ZeroDivisionError (np.average in the loss),
# after the earlier batches' updates.
def _signed_weights(n, batch_size, seed=5):
    """Standard-normal weights (about half negative) whose in-order mini-batches
    include both a positive and a negative sum (checked, so the test cannot pass
    vacuously)."""
    sw = np.random.default_rng(seed).standard_normal(n)
    sums = np.add.reduceat(sw, np.arange(0, n, batch_size))
    assert (sums < 0).any() and (sums > 0).any(), sums
    return sw


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel", "regression",
                                  "regression2", "poisson"])
@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("alpha", [0.0, 0.05])
@pytest.mark.parametrize("shuffle", [True, False], ids=["shuffle", "in-order"])
def test_parity_negative_sample_weights(task, solver, alpha, shuffle):
    X, y = _data(task)
    sw = _signed_weights(X.shape[0], 32)
    # a batch with a negative weight sum is a step of ascent: at the parity tests'
    # usual rates the logits pass ~36 within an epoch, where scikit-learn's loss
    # (from probabilities clipped to [eps, 1 - eps]) stops being the true one that
    # fastbp reports from the logits (a documented difference); the parameters
    # agree either way
    params = _params(task, solver, alpha=alpha, shuffle=shuffle, learning_rate_init=0.005)
    sk, fb = _fit_both(task, params, sample_weight=sw, X=X, y=y)
    _assert_parity(sk, fb)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_parity_negative_sample_weights_sparse(fmt):
    import scipy.sparse as sp
    X, y = _data("multiclass")
    X = sp.random(X.shape[0], 6, density=0.5, format=fmt, random_state=0) + 0
    sw = _signed_weights(X.shape[0], 32)
    sk, fb = _fit_both("multiclass", _params("multiclass", "adam"), sample_weight=sw, X=X, y=y)
    _assert_parity(sk, fb)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression2"])
def test_parity_negative_sample_weights_early_stopping(task):
    X, y = _data(task, n=300)
    if _kind(task) == "MLPClassifier" and SK_VERSION < (1, 8):
        y = np.unique(y, return_inverse=True)[1]     # (see test_parity_early_stopping)
    sw = np.random.default_rng(7).standard_normal(X.shape[0]) + 0.3
    params = _params(task, "adam", alpha=1e-3, early_stopping=True, max_iter=6,
                     n_iter_no_change=2, tol=1e-3, validation_fraction=0.2)
    sk, fb = _fit_both(task, params, sample_weight=sw, X=X, y=y)
    _assert_parity(sk, fb)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel", "regression2",
                                  "poisson"])
def test_parity_negative_sample_weights_lbfgs(task):
    """L-BFGS-B on the whole-data weighted loss with some negative weights (about
    1 in 6). Where the negative ones dominate, the loss is unbounded below and
    L-BFGS runs to logits where scikit-learn's log-loss (clipped probabilities)
    and fastbp's (exact, from the logits) are different functions, so parity
    there would compare two objectives, not two implementations."""
    X, y = _data(task)
    sw = np.random.default_rng(1).standard_normal(X.shape[0]) + 1.0
    assert (sw < 0).sum() >= 10
    params = dict(solver="lbfgs", hidden_layer_sizes=(7,), alpha=1e-3, max_iter=5,
                  random_state=0)
    (s, sw_), (f, fw) = _fit_both(task, params, sample_weight=sw, X=X, y=y)
    assert f.n_iter_ == s.n_iter_
    assert abs(f.loss_ - s.loss_) <= 1e-6 * abs(s.loss_)
    for a, b in zip(f.coefs_ + f.intercepts_, s.coefs_ + s.intercepts_):
        assert _rel(a, b) <= 1e-6
    assert [c for c, _ in fw] == [c for c, _ in sw_]


@pytest.mark.parametrize("solver", ["adam", "sgd-nesterov", "lbfgs"])
@pytest.mark.parametrize("task", ["multiclass", "regression2"])
def test_zero_sum_batch_raises_sklearns_error_after_the_same_updates(task, solver):
    """Weights whose 3rd mini-batch (in order) sums to exactly zero: scikit-learn
    raises NumPy's ZeroDivisionError there, after two updates; fastbp raises the
    same type (also a ValueError) with NumPy's words first, and holds the same
    parameters. With lbfgs the whole data set sums to zero."""
    X, y = _data(task, n=100)
    sw = np.ones(100)
    if solver == "lbfgs":
        sw[50:] = -1.0
        params = dict(solver="lbfgs", hidden_layer_sizes=(7,), max_iter=5, random_state=0)
    else:
        sw[40:60] = np.tile([2.0, -2.0], 10)
        params = _params(task, solver, batch_size=20, shuffle=False)
    out = []
    for cls in (SK[_kind(task)], FB[_kind(task)]):
        est = cls(**params)
        with pytest.raises(ZeroDivisionError) as info:
            est.fit(X, y, sample_weight=sw)
        out.append((est, info.value))
    (s, s_exc), (f, f_exc) = out
    assert str(f_exc).startswith(str(s_exc)), (f_exc, s_exc)
    assert isinstance(f_exc, ValueError) and "sample_weight" in str(f_exc)
    for a, b in zip(f.coefs_ + f.intercepts_, s.coefs_ + s.intercepts_):
        assert _rel(a, b) <= RTOL


# ------------------------------------- Poisson loss with negative targets
# scikit-learn's MLPRegressor(loss="poisson") does not check y >= 0: it trains
# on the gradient exp(z) - y, which is defined for any y, while its loss
# (sklearn.neural_network._base.poisson_loss: xlogy(y, y / mu) - y + mu) is
# NaN for every mini-batch holding a y < 0. So loss_ and loss_curve_ are NaN,
# best_loss_ stays inf and tol stopping never fires; L-BFGS-B runs on a NaN
# objective. fastbp must do all of that, with the same warnings.
def _negative_poisson_data(n=157):
    X, y = _data("poisson", n=n)
    y = y.astype(np.float64)
    y[[3, 40, 41, 120]] = [-1.0, -0.5, -2.0, -1.0]
    return X, y


@pytest.mark.parametrize("case", ["adam", "sgd-tol", "sgd-sparse", "sgd-early-stopping",
                                  "partial_fit", "lbfgs"])
def test_parity_poisson_negative_targets(case):
    import scipy.sparse as sp
    X, y = _negative_poisson_data()
    method, calls = "fit", 1
    if case == "adam":
        params = _params("poisson", "adam", max_iter=4)
    elif case == "sgd-tol":
        # scikit-learn never stops on tol here (NaN compares false): 25 epochs
        params = dict(hidden_layer_sizes=(5,), solver="sgd", learning_rate_init=0.01,
                      batch_size=40, max_iter=25, random_state=0, n_iter_no_change=2,
                      tol=1e-3)
    elif case == "sgd-sparse":
        X = sp.csr_matrix(X)
        params = _params("poisson", "sgd-nesterov", learning_rate_init=0.005)
    elif case == "sgd-early-stopping":
        params = _params("poisson", "sgd-nesterov", learning_rate_init=0.005,
                         early_stopping=True, max_iter=6, validation_fraction=0.2)
    elif case == "partial_fit":
        params = dict(hidden_layer_sizes=(5,), batch_size=50, random_state=4,
                      learning_rate_init=0.01)
        method, calls = "partial_fit", 3
    else:
        params = dict(solver="lbfgs", hidden_layer_sizes=(7,), alpha=1e-3, max_iter=15,
                      random_state=0)
    sk, fb = _fit_both("poisson", params, X=X, y=y, method=method, calls=calls)
    (s, s_warn), (f, f_warn) = sk, fb
    assert np.isnan(s.loss_)                          # what scikit-learn does
    if case == "lbfgs":
        assert np.isnan(f.loss_)
        assert f.n_iter_ == s.n_iter_
        assert f_warn == s_warn
        for a, b in zip(f.coefs_ + f.intercepts_, s.coefs_ + s.intercepts_):
            assert _rel(a, b) <= 1e-6
    else:
        _assert_parity(sk, fb)
    np.testing.assert_allclose(f.predict(X), s.predict(X), rtol=1e-6)
