"""fastbp.sklearn in scikit-learn's machinery, and scikit-learn's own errors.

Bad input: for each condition, the same call on scikit-learn's estimator
gives the expected exception type and message; fastbp's must be identical.
"""
import importlib
import inspect
import os
import pickle
import re
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip(
    "sklearn", minversion="1.7",
    reason="fastbp.sklearn needs scikit-learn >= 1.7 (pip install fastbp[sklearn])")

import joblib  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from sklearn import neural_network as sk_nn  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from fastbp import sklearn as fsk  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _clf_data(n=120, seed=0, classes=("cat", "dog", "eel")):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 5))
    y = np.array(classes)[np.argmax(X[:, :3] + 0.2 * rng.standard_normal((n, 3)), axis=1)]
    return X, y


def _reg_data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 5))
    return X, X @ rng.standard_normal(5) + 0.1 * rng.standard_normal(n)


def _same_error(make_call):
    """make_call(module) raises; the exception types and messages must be equal."""
    errors = []
    for mod in (sk_nn, fsk):
        with pytest.raises(Exception) as info:
            make_call(mod)
        errors.append(info)
    (s, f) = errors
    assert f.type is s.type, (f.value, s.value)
    assert str(f.value) == str(s.value)
    return f


def test_errors_nan_inf_in_X():
    X, y = _clf_data()
    for bad in (np.nan, np.inf, -np.inf):
        Xb = X.copy()
        Xb[3, 2] = bad
        _same_error(lambda m: m.MLPClassifier(max_iter=2).fit(Xb, y))
        _same_error(lambda m: m.MLPRegressor(max_iter=2).fit(Xb, y == "cat"))
        _same_error(lambda m: m.MLPClassifier(max_iter=2).fit(X, y).predict(Xb))
        _same_error(lambda m: m.MLPRegressor(max_iter=2).fit(X, y == "cat").predict(Xb))


def test_errors_wrong_n_features_at_predict():
    X, y = _clf_data()
    _same_error(lambda m: m.MLPClassifier(max_iter=2).fit(X, y).predict(X[:, :4]))
    _same_error(lambda m: m.MLPClassifier(max_iter=2).fit(X, y).predict_proba(X[:, :4]))
    _same_error(lambda m: m.MLPRegressor(max_iter=2).fit(X, y == "cat").predict(X[:, :4]))


def test_errors_partial_fit_classes():
    X, y = _clf_data()
    _same_error(lambda m: m.MLPClassifier().partial_fit(X, y))      # no classes= first
    _same_error(lambda m: m.MLPClassifier().partial_fit(X, y, classes=["cat", "dog", "eel"])
                .partial_fit(X, np.where(y == "cat", "fox", y)))
    _same_error(lambda m: m.MLPClassifier().partial_fit(X, y, classes=["cat", "dog", "eel"])
                .partial_fit(X, y, classes=["cat", "dog"]))
    _same_error(lambda m: m.MLPClassifier(early_stopping=True)
                .partial_fit(X, y, classes=["cat", "dog", "eel"]))
    _same_error(lambda m: m.MLPClassifier(solver="lbfgs").partial_fit(X, y, classes=["cat"]))
    # (scikit-learn's MLPRegressor(solver="lbfgs") does have partial_fit: its
    # available_if forgets to call _check_solver; fastbp's is the same drop-in)
    assert hasattr(fsk.MLPRegressor(solver="lbfgs"), "partial_fit")
    assert hasattr(sk_nn.MLPRegressor(solver="lbfgs"), "partial_fit")


def test_errors_warm_start_new_classes():
    X, y = _clf_data()
    _same_error(lambda m: m.MLPClassifier(warm_start=True, max_iter=2).fit(X, y)
                .fit(X, np.where(y == "cat", "fox", y)))


def test_errors_not_fitted():
    X, _ = _clf_data()
    for method in ("predict", "predict_proba", "predict_log_proba"):
        f = _same_error(lambda m: getattr(m.MLPClassifier(), method)(X))
        assert f.type is NotFittedError
    _same_error(lambda m: m.MLPRegressor().predict(X))


@pytest.mark.parametrize("params", [
    dict(solver="newton"), dict(alpha=-1.0), dict(hidden_layer_sizes=(3, 0)),
    dict(batch_size=0), dict(learning_rate_init=0.0),
    dict(momentum=1.5), dict(validation_fraction=1.0, early_stopping=True),
    dict(activation="softmax"), dict(max_iter=0), dict(n_iter_no_change=0),
])
def test_errors_bad_parameters(params):
    X, y = _clf_data()
    _same_error(lambda m: m.MLPClassifier(**params).fit(X, y))


def test_errors_small_validation_set_and_bad_labels():
    X, y = _clf_data(n=12)
    _same_error(lambda m: m.MLPRegressor(early_stopping=True, validation_fraction=0.05)
                .fit(X, np.arange(12.0)))
    _same_error(lambda m: m.MLPClassifier().fit(X, np.linspace(0, 1, 12)))   # continuous y
    _same_error(lambda m: m.MLPClassifier().fit(X, y, sample_weight=np.ones(5)))


@pytest.mark.parametrize("dtype", ["datetime64[D]", "timedelta64[s]"])
@pytest.mark.parametrize("solver, method, extra", [
    ("adam", "fit", {}), ("sgd", "fit", dict(early_stopping=True)), ("lbfgs", "fit", {}),
    ("adam", "partial_fit", {})])
def test_errors_regressor_with_date_targets(dtype, solver, method, extra):
    """scikit-learn fails on dates or time spans in its arithmetic (NumPy's
    UFuncTypeError, a TypeError); fastbp cast them to float (days or seconds
    since 1970) and trained on those counts without a word."""
    X, _ = _reg_data(n=40)
    y = np.arange(40).astype(dtype)
    for mod in (sk_nn, fsk):
        est = mod.MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, solver=solver, **extra)
        with pytest.raises(TypeError, match=None if mod is sk_nn else
                           r"\by must hold numbers .*got dtype " + re.escape(dtype)):
            getattr(est, method)(X, y)


def test_same_warnings_batch_size_and_column_y():
    X, y = _reg_data(n=30)
    got = []
    for mod in (sk_nn, fsk):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            mod.MLPRegressor(batch_size=100, max_iter=2, random_state=0).fit(X, y[:, None])
        got.append([(w.category, str(w.message)) for w in rec])
    assert got[0] == got[1] and len(got[0]) == 3     # column y, clipped batch, max_iter


def test_n_threads_param_and_results_do_not_depend_on_it():
    """Equal to rounding across thread counts (the GEMMs of a step split
    between threads run on row blocks, which may round differently), and the
    same bits on every run at a given count."""
    X, y = _clf_data(n=300)
    p = dict(hidden_layer_sizes=(64, 32), max_iter=3, random_state=0)
    a = fsk.MLPClassifier(n_threads=1, **p).fit(X, y)
    b = fsk.MLPClassifier(n_threads=2, **p).fit(X, y)
    b2 = fsk.MLPClassifier(n_threads=2, **p).fit(X, y)
    for c1, c2, c3 in zip(a.coefs_, b.coefs_, b2.coefs_):
        np.testing.assert_allclose(c1, c2, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(c2, c3)
    assert "n_threads" in a.get_params()
    with pytest.raises(ValueError, match="n_threads"):
        fsk.MLPClassifier(n_threads=1.5).fit(X, y)


def test_coefs_are_views_of_the_network():
    X, y = _clf_data()
    clf = fsk.MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    assert clf.coefs_[0].shape == (5, 4) and clf.coefs_[1].shape == (4, 3)
    assert clf.intercepts_[0].shape == (4,)
    W1 = clf._net.parameters["W1"]
    assert np.shares_memory(clf.coefs_[0], W1) and clf.coefs_[0].base is not None
    # written in place or replaced, the new values are used
    before = clf.predict_proba(X)
    clf.coefs_[1][...] = 0.0
    clf.intercepts_[1][...] = 0.0
    np.testing.assert_allclose(clf.predict_proba(X), 1 / 3)
    clf.coefs_ = [np.zeros((5, 4)), np.ones((4, 3))]
    clf.intercepts_ = [np.zeros(4), np.array([0.0, 0.0, 1.0])]
    p = np.exp([0.0, 0.0, 1.0]) / np.exp([0.0, 0.0, 1.0]).sum()
    np.testing.assert_allclose(clf.predict_proba(X), np.tile(p, (X.shape[0], 1)))
    assert not np.allclose(before, clf.predict_proba(X))


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_pickle_round_trip_also_after_partial_fit(dump, tmp_path):
    X, y = _clf_data()
    classes = np.unique(y)

    def roundtrip(est):
        if dump == "pickle":
            return pickle.loads(pickle.dumps(est))
        path = tmp_path / "est.joblib"
        joblib.dump(est, path)
        return joblib.load(path)

    ref = fsk.MLPClassifier(hidden_layer_sizes=(6,), random_state=0, batch_size=30)
    est = clone(ref)
    for _ in range(3):
        ref.partial_fit(X, y, classes=classes)
        est = roundtrip(est.partial_fit(X, y, classes=classes))
        np.testing.assert_array_equal(est.predict_proba(X), ref.predict_proba(X))
    for a, b in zip(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_array_equal(a, b)
    reg = fsk.MLPRegressor(hidden_layer_sizes=(3,), max_iter=5, random_state=0).fit(*_reg_data())
    again = roundtrip(reg)
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))
    assert again.score(*_reg_data()) == reg.score(*_reg_data())


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_joblib_memory_mapped_estimator_continues_training(solver, tmp_path):
    """joblib.load(mmap_mode="r") gives read-only arrays, the optimizer's state
    among them: partial_fit refused it ("optimizer state buffer must be a
    writeable contiguous (n,) float64 array, got (n,) float64"), naming nothing
    the user passed. The state is copied into memory, and training continues
    as it does without the round trip."""
    X, y = _clf_data()
    ref = fsk.MLPClassifier(hidden_layer_sizes=(6,), solver=solver, random_state=0)
    ref.partial_fit(X, y, classes=np.unique(y))
    joblib.dump(ref, tmp_path / "est.joblib")
    est = joblib.load(tmp_path / "est.joblib", mmap_mode="r")
    est.partial_fit(X, y)
    ref.partial_fit(X, y)
    for a, b in zip(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_array_equal(a, b)


def test_clone_pipeline_grid_search_cross_val_score():
    X, y = _clf_data(n=150)
    pipe = make_pipeline(StandardScaler(), fsk.MLPClassifier(hidden_layer_sizes=(8,),
                                                             learning_rate_init=0.02,
                                                             max_iter=100, random_state=0))
    assert cross_val_score(pipe, X, y, cv=3).mean() > 0.5
    grid = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1],
                               "mlpclassifier__solver": ["adam", "lbfgs"]}, cv=2, n_jobs=2)
    grid.fit(X, y)
    assert isinstance(grid.best_estimator_[-1], fsk.MLPClassifier)
    assert grid.score(X, y) > 0.5
    c = clone(grid.best_estimator_[-1])
    assert not hasattr(c, "coefs_") and c.get_params() == grid.best_estimator_[-1].get_params()


def test_dataframe_feature_names_and_string_labels():
    pd = pytest.importorskip("pandas")
    X, y = _clf_data()
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    clf = fsk.MLPClassifier(hidden_layer_sizes=(6,), max_iter=10, random_state=0).fit(df, y)
    np.testing.assert_array_equal(clf.feature_names_in_, df.columns)
    assert clf.n_features_in_ == 5
    assert set(clf.predict(df)) <= {"cat", "dog", "eel"}
    np.testing.assert_array_equal(clf.classes_, ["cat", "dog", "eel"])
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("cut", [0.8, 1.9], ids=["densified", "sparse-kernel"])
def test_sparse_input_equals_dense(fmt, shuffle, cut):
    from fastbp.sklearn import _SPARSE_DENSITY
    X, y = _clf_data()
    X[np.abs(X) < cut] = 0.0
    # both ways a sparse X's mini-batches go: densified, or the sparse kernel
    assert (np.count_nonzero(X) > _SPARSE_DENSITY * X.size) == (cut < 1)
    Xs = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    p = dict(hidden_layer_sizes=(6,), max_iter=4, random_state=0, batch_size=25,
             shuffle=shuffle)
    dense = fsk.MLPClassifier(**p).fit(X, y)
    sparse = fsk.MLPClassifier(**p).fit(Xs, y)
    for a, b in zip(dense.coefs_, sparse.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(sparse.predict_proba(Xs), dense.predict_proba(X), rtol=1e-12)
    sk = sk_nn.MLPClassifier(**p).fit(Xs, y)
    for a, b in zip(sk.coefs_, sparse.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-8)


@pytest.mark.parametrize("kind", ["negative", "indptr-down", "index"])
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_malformed_sparse_input_is_refused_before_conversion(kind, fmt, solver):
    """fit converted a CSC X with X.tocsr() (and lbfgs X.T.tocsr()) before any
    check: a negative index corrupted the heap, a decreasing indptr came
    back as a well-formed matrix of other entries and trained."""
    X = sp.random(300, 30, density=0.05, format=fmt, random_state=0, dtype=np.float32)
    y = np.arange(300) % 3
    if fmt == "coo":
        X.row[3] = -2 if kind == "negative" else 300
        if kind == "indptr-down":
            return
    elif kind == "negative":
        X.indices[3] = -2
    elif kind == "index":
        X.indices[3] = 10**6
    else:
        X.indptr[5] = X.indptr[6] + 3
    clf = fsk.MLPClassifier(hidden_layer_sizes=(8,), solver=solver, max_iter=2,
                            random_state=0)
    with pytest.raises(ValueError, match="malformed sparse"):
        clf.fit(X, y)
    good = sp.random(300, 30, density=0.05, format="csr", random_state=0, dtype=np.float32)
    clf.fit(good, y)            # (ConvergenceWarning: filtered for the module)
    with pytest.raises(ValueError, match="malformed sparse"):
        clf.predict_proba(X)


def test_multilabel_and_binary_outputs():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 4))
    Y = (X[:, :3] > 0).astype(int)
    clf = fsk.MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0).fit(X, Y)
    assert clf.out_activation_ == "logistic" and clf.predict(X).shape == (80, 3)
    assert clf.predict_proba(X).shape == (80, 3)
    b = fsk.MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0).fit(
        X, np.where(X[:, 0] > 0, "pos", "neg"))
    P = b.predict_proba(X)
    assert P.shape == (80, 2) and np.allclose(P.sum(axis=1), 1)
    np.testing.assert_allclose(b.predict_log_proba(X), np.log(P))


def test_patch_and_unpatch_sklearn():
    original = sk_nn.MLPClassifier, sk_nn.MLPRegressor
    try:
        fsk.patch_sklearn()
        fsk.patch_sklearn()                        # twice is harmless
        from sklearn.neural_network import MLPClassifier, MLPRegressor
        assert MLPClassifier is fsk.MLPClassifier and MLPRegressor is fsk.MLPRegressor
    finally:
        fsk.unpatch_sklearn()
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    assert (MLPClassifier, MLPRegressor) == original


def test_import_without_sklearn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.delitem(sys.modules, "fastbp.sklearn", raising=False)
    with pytest.raises(ImportError, match=r"pip install fastbp\[sklearn\]"):
        importlib.import_module("fastbp.sklearn")


def test_too_old_sklearn_is_refused():
    from fastbp import _validation
    with pytest.raises(ImportError, match=r"scikit-learn >= 1\.7, found 1\.6\.1"):
        _validation.check_sklearn_version("1.6.1")
    _validation.check_sklearn_version("1.10.0.dev0")


def test_errors_diverging_fit():
    """Training that blows up ends with scikit-learn's own error, not fastbp's."""
    X, y = _reg_data()
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        f = _same_error(lambda m: m.MLPRegressor(solver="sgd", learning_rate_init=5.0,
                                                 max_iter=30, random_state=0).fit(X, 1e3 * y))
    assert f.type is ValueError


def test_compiled_epochs_return_to_python_between_calls(monkeypatch):
    """Ctrl-C is handled between compiled calls: a whole epoch in one call
    held it back for seconds on a large data set (2.4 s after the signal,
    150k rows), where scikit-learn's loop stops at the next mini-batch. The
    calls are sized by fastbp._fit.CallPacer and never change the bits."""
    from fastbp import _fit
    from fastbp.network import Network
    X, y = _clf_data(n=600)
    calls = []
    real = Network.train_epoch

    def spy(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        calls.append(out[1])
        return out

    monkeypatch.setattr(Network, "train_epoch", spy)

    def fitted():
        return fsk.MLPClassifier(hidden_layer_sizes=(8,), batch_size=20, max_iter=3,
                                 random_state=0).fit(X, y)
    paced = fitted()
    assert calls[0] == _fit.CallPacer.FIRST_CALL and sum(calls) == 3 * 30, calls
    calls.clear()
    monkeypatch.setattr(_fit.CallPacer, "batches", lambda self, left: left)
    whole = fitted()
    assert calls == [30, 30, 30]
    for a, b in zip(paced.coefs_ + paced.intercepts_, whole.coefs_ + whole.intercepts_):
        assert np.array_equal(a, b)
    assert paced.loss_curve_ == whole.loss_curve_


def test_multi_output_squared_error_with_alpha_runs_compiled_epochs(monkeypatch):
    """A multi-output MLPRegressor with alpha > 0 (its default) stepped batch
    by batch from Python: scikit-learn's loss averages the data term over
    the outputs but not the L2 term, which the epoch's total could not
    split. Now compiled epochs, with scikit-learn's loss curve."""
    from fastbp.network import Network
    rng = np.random.default_rng(4)
    X = rng.standard_normal((90, 5))
    y = np.column_stack([X[:, 0] - X[:, 1], np.sin(X[:, 2]), X[:, 3] * X[:, 4]])
    calls = []
    real = Network.train_epoch

    def spy(self, *args, **kwargs):
        calls.append(kwargs.get("mean_over_outputs"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Network, "train_epoch", spy)
    params = dict(hidden_layer_sizes=(7,), alpha=0.05, batch_size=16, max_iter=4,
                  learning_rate_init=0.01, random_state=0)
    f = fsk.MLPRegressor(**params).fit(X, y)       # (ConvergenceWarning: filtered)
    s = sk_nn.MLPRegressor(**params).fit(X, y)
    assert calls and all(calls), calls
    np.testing.assert_allclose(f.loss_curve_, s.loss_curve_, rtol=1e-10)
    for a, b in zip(f.coefs_ + f.intercepts_, s.coefs_ + s.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def _doc_section(doc, title):
    """The names documented in a NumPy-style section (``name : type`` lines)."""
    lines = inspect.cleandoc(doc).splitlines()
    start = lines.index(title) + 2          # past the title and its underline
    names = []
    for i in range(start, len(lines)):
        if i + 1 < len(lines) and lines[i + 1].startswith("---"):
            break                           # the next section's title
        m = re.match(r"(\w+) : ", lines[i])
        if m:
            names.append(m.group(1))
    return names


@pytest.mark.parametrize("name", ["MLPClassifier", "MLPRegressor"])
def test_estimator_docstrings_document_every_parameter_and_attribute(name):
    """help(), IDEs and scikit-learn's HTML display read the docstring: every
    constructor parameter has its entry, in the signature's order, and every
    attribute a fit sets is listed (the section once deferred to
    scikit-learn's page, so none of them had an entry)."""
    cls = getattr(fsk, name)
    params = list(inspect.signature(cls.__init__).parameters)[1:]
    assert _doc_section(cls.__doc__, "Parameters") == params
    X, y = _reg_data() if name == "MLPRegressor" else _clf_data()
    est = cls(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    est.fit(X, y)                           # (ConvergenceWarning: filtered for the module)
    fitted = {a for a in vars(est) if a.endswith("_") and not a.startswith("_")}
    fitted.add("feature_names_in_")         # set only for a DataFrame's X
    assert set(_doc_section(cls.__doc__, "Attributes")) == fitted


def test_invscaling_rate_is_documented_as_trained():
    """The rate changes at the end of each epoch, to init / (t_ + 1) ** power_t
    (scikit-learn's iteration_ends); the docstring said init / t ** power_t
    "at step t", a per-step decay neither library makes."""
    X, y = _clf_data()
    kw = dict(hidden_layer_sizes=(4,), solver="sgd", learning_rate="invscaling",
              learning_rate_init=0.1, power_t=0.3, batch_size=50, max_iter=2, random_state=0)
    ours, theirs = fsk.MLPClassifier(**kw).fit(X, y), sk_nn.MLPClassifier(**kw).fit(X, y)
    assert ours.t_ == 240
    for est in (ours, theirs):
        assert est._optimizer.learning_rate == 0.1 / (240 + 1) ** 0.3
    doc = " ".join(fsk.MLPClassifier.__doc__.split())
    assert "``learning_rate_init / (t + 1) ** power_t`` at the end of each epoch" in doc


# ------------------------------------------------ scikit-learn's private names
def _sklearn_imports_in_source():
    """(ImportFrom nodes from sklearn, names bound by them, the module's AST) of
    fastbp/sklearn.py as installed."""
    import ast
    tree = ast.parse(open(fsk.__file__, encoding="utf-8").read())
    nodes = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
             and (n.module or "").split(".")[0] == "sklearn"]
    bound = {a.asname or a.name for n in nodes for a in n.names}
    return nodes, bound, tree


def test_private_sklearn_names_are_imported_in_one_place_only():
    """Every private scikit-learn name fastbp.sklearn uses goes through its one
    compatibility table (_SK_PRIVATE): no `from sklearn... import _x`, no
    `from sklearn._private_module import x`, no `sk_object._attr` elsewhere."""
    import ast
    nodes, bound, tree = _sklearn_imports_in_source()
    bad = [f"from {n.module} import {a.name}" for n in nodes for a in n.names
           if a.name.startswith("_") or any(p.startswith("_") for p in n.module.split("."))]
    bad += [f"{n.value.id}.{n.attr}" for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
            and n.value.id in bound and n.attr.startswith("_") and not n.attr.startswith("__")]
    assert not bad, f"private scikit-learn names outside fastbp.sklearn._SK_PRIVATE: {bad}"


def test_private_sklearn_names_all_resolve():
    """Fails on a scikit-learn release that moved or removed any private name
    fastbp.sklearn relies on, naming each one (and the documented reason it is used)."""
    table = fsk._SK_PRIVATE
    assert {"_fit_context", "_check_sample_weight", "_check_partial_fit_first_call",
            "_check_optimize_result", "_parameter_constraints"} <= {n for _, n, _ in table}
    missing = []
    for where, name, why in table:
        assert why and name.startswith("_"), (where, name)
        try:
            obj = importlib.import_module(where)
        except ImportError:
            module, _, cls = where.rpartition(".")
            obj = getattr(importlib.import_module(module), cls)
        if not hasattr(obj, name):
            missing.append(f"{where}.{name} ({why})")
    assert not missing, f"scikit-learn {sklearn.__version__} lacks: {missing}"
    # and the module docstring names every one of them
    for _, name, _ in table:
        assert name in fsk.__doc__, name


@pytest.mark.parametrize("where,name", [("sklearn.utils.optimize", "_check_optimize_result"),
                                        ("sklearn.base", "_fit_context"),
                                        ("sklearn.neural_network.MLPRegressor",
                                         "_parameter_constraints")])
def test_missing_private_name_gives_a_clear_import_error(monkeypatch, where, name):
    try:
        monkeypatch.delattr(importlib.import_module(where), name)
    except ImportError:             # a class's attribute: a release without it
        module, _, cls = where.rpartition(".")
        monkeypatch.setattr(importlib.import_module(module), cls, type(cls, (), {}))
    monkeypatch.delitem(sys.modules, "fastbp.sklearn", raising=False)
    with pytest.raises(ImportError) as info:
        importlib.import_module("fastbp.sklearn")
    msg = str(info.value)
    for needle in ("fastbp.sklearn", f"{where}.{name}", sklearn.__version__, "pip install"):
        assert needle in msg, (needle, msg)


def _scipy_blas_threads():
    """{path: threads} of SciPy's OpenBLAS (L-BFGS-B's and fastbp's), as
    threadpoolctl reads them; skips the test where that cannot be done."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from fastbp import _blas

    if not _blas.BLAS_LIBRARY:
        pytest.skip("fastbp found no OpenBLAS to control")
    return {d["filepath"]: d["num_threads"] for d in threadpoolctl.threadpool_info()
            if d["user_api"] == "blas" and os.path.samefile(d["filepath"], _blas.BLAS_LIBRARY)}


def test_lbfgs_runs_blas_on_one_thread_and_restores_it(monkeypatch):
    # L-BFGS-B's vector updates run in SciPy's OpenBLAS between fastbp's
    # calls; with its pool awake, its idle threads spin on the cores fastbp's
    # team needs (digits: ~4x slower per evaluation), so the fit holds BLAS at
    # one thread, and hands the count back afterwards
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from fastbp.network import Network

    blas_threads = _scipy_blas_threads
    blas_threads()
    seen = []
    original = Network.loss_and_gradient

    def spy(self, *args, **kwargs):
        if not seen:
            seen.append(blas_threads())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Network, "loss_and_gradient", spy)
    X, y = _clf_data()
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        fsk.MLPClassifier(solver="lbfgs", max_iter=3, random_state=0).fit(X, y)
        after = blas_threads()
    assert seen and set(seen[0].values()) == {1}, seen
    assert after == before and set(before.values()) == {2}, (before, after)


def test_lbfgs_leaves_numpys_blas_alone(monkeypatch):
    """README: while an L-BFGS fit runs, SciPy's OpenBLAS runs one thread; "NumPy's
    BLAS is left alone" (its thread count, read by threadpoolctl, during the fit)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from fastbp import _blas
    from fastbp.network import Network

    _scipy_blas_threads()

    def numpy_blas_threads():
        return {d["filepath"]: d["num_threads"] for d in threadpoolctl.threadpool_info()
                if d["user_api"] == "blas" and d["internal_api"] == "openblas"
                and not os.path.samefile(d["filepath"], _blas.BLAS_LIBRARY)}

    if not numpy_blas_threads():
        pytest.skip("NumPy and SciPy share one BLAS here")
    seen = []
    original = Network.loss_and_gradient

    def spy(self, *args, **kwargs):
        if not seen:
            seen.append(numpy_blas_threads())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Network, "loss_and_gradient", spy)
    X, y = _clf_data()
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = numpy_blas_threads()
        fsk.MLPClassifier(solver="lbfgs", max_iter=3, random_state=0).fit(X, y)
    assert set(before.values()) == {2} and seen == [before], (before, seen)


def test_lbfgs_fits_in_two_threads_restore_the_blas_threads(monkeypatch):
    # threadpoolctl's limit (used before) is process-wide and puts back what
    # it saw at its entry: two overlapping fits left BLAS at one thread for
    # good (the last out restored the other's 1), and a fastbp call in one
    # thread put back the count it had saved before the other's limit; they
    # now share one setting, made under fastbp's BLAS lock
    import threading

    from fastbp.network import Network

    blas_threads = _scipy_blas_threads
    blas_threads()
    both_in = threading.Barrier(2)
    original = Network.loss_and_gradient
    calls = threading.local()
    seen = []

    def spy(self, *args, **kwargs):
        if not getattr(calls, "n", 0):          # both fits inside their limits at once
            calls.n = 1
            both_in.wait(timeout=60)
        elif calls.n == 1:                      # the other fit is in its limit too
            calls.n = 2
            seen.append(blas_threads())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Network, "loss_and_gradient", spy)
    X, y = _clf_data()
    errors = []

    def fit():
        try:
            fsk.MLPClassifier(solver="lbfgs", max_iter=3, random_state=0).fit(X, y)
        except Exception as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    before = blas_threads()
    if min(before.values()) < 2:
        pytest.skip("BLAS runs one thread here already: nothing to restore")
    for _ in range(3):
        threads = [threading.Thread(target=fit) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        both_in.reset()
    after = blas_threads()
    assert not errors, errors
    assert len(seen) == 6 and all(set(d.values()) == {1} for d in seen), seen
    assert after == before, (before, after)


@pytest.mark.parametrize("fmt", ["csr", "csc", "duplicates"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_rows_equal_toarray_batch_after_batch(fmt, dtype):
    """The reused scatter buffer of sparse mini-batches (fastbp.sklearn._SparseRows)
    gives each batch exactly as ``X[idx].toarray()``, whatever came before."""
    import scipy.sparse as sp
    from fastbp.sklearn import _SparseRows
    rng = np.random.default_rng(0)
    X = sp.random(50, 30, density=0.2, format="csr", random_state=1, dtype=dtype)
    if fmt == "duplicates":         # a non-canonical CSR: toarray sums its duplicates
        coo = X.tocoo()
        X = sp.csr_matrix((np.concatenate([coo.data, coo.data[:10]]),
                           (np.concatenate([coo.row, coo.row[:10]]),
                            np.concatenate([coo.col, coo.col[:10]]))), shape=X.shape)
        X.has_canonical_format = False
    elif fmt == "csc":
        X = X.tocsc()
    rows = _SparseRows(X, 8)
    for idx in [rng.permutation(50)[:8], slice(8, 16), rng.permutation(50)[:3], slice(48, 50),
                np.array([5, 5, 7])]:
        got = rows(idx)
        np.testing.assert_array_equal(got, X[idx].toarray())
        assert got.dtype == dtype


def test_alpha_with_sample_weight_is_documented_as_trained():
    """The L2 penalty is divided by the batch's summed sample_weight, not its
    example count (scikit-learn's _backprop): weights of 2 halve it. The
    docstrings said ``/ n``, the examples, only."""
    X, y = _clf_data()
    kw = dict(hidden_layer_sizes=(4,), solver="lbfgs", alpha=10.0, max_iter=1, random_state=0)
    for cls in (fsk.MLPClassifier, sk_nn.MLPClassifier):
        one = cls(**kw).fit(X, y, sample_weight=np.ones(len(y)))
        two = cls(**kw).fit(X, y, sample_weight=np.full(len(y), 2.0))
        assert two.loss_ < one.loss_
    ours = fsk.MLPClassifier(**kw).fit(X, y, sample_weight=np.full(len(y), 2.0))
    theirs = sk_nn.MLPClassifier(**kw).fit(X, y, sample_weight=np.full(len(y), 2.0))
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-12)
    for cls in (fsk.MLPClassifier, fsk.MLPRegressor):
        doc = " ".join(cls.__doc__.split())
        assert "or the sum of their ``sample_weight`` when it is given" in doc
        assert "(over the sum of its ``sample_weight`` when given)" in doc


def test_partial_fit_classes_for_multilabel_y_are_documented_as_required():
    """The docstring said classes= is not needed for multilabel y; scikit-learn
    and fastbp both refuse a first call without it, and take the indicator
    matrix's column indices."""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((40, 3)), (rng.random((40, 3)) < 0.5).astype(int)
    for cls in (fsk.MLPClassifier, sk_nn.MLPClassifier):
        with pytest.raises(ValueError, match="classes must be passed on the first call"):
            cls((4,), random_state=0).partial_fit(X, Y)
        assert list(cls((4,), random_state=0).partial_fit(X, Y, classes=np.arange(3))
                    .classes_) == [0, 1, 2]
    doc = " ".join(fsk.MLPClassifier.partial_fit.__doc__.split())
    assert "not for multilabel" not in doc
    assert "required on the first call, multilabel y included" in doc
    assert "``np.arange(n_labels)``" in doc


def test_regressor_partial_fit_under_lbfgs_is_documented_as_a_whole_run():
    """MLPRegressor(solver="lbfgs").partial_fit runs L-BFGS for up to max_iter
    iterations from the current parameters (as scikit-learn's), not "one
    epoch" as its docstring said; and it listed none of its parameters."""
    X, y = _reg_data()
    kw = dict(hidden_layer_sizes=(4,), solver="lbfgs", random_state=0, max_iter=30)
    for cls in (fsk.MLPRegressor, sk_nn.MLPRegressor):
        assert cls(**kw).partial_fit(X, y).n_iter_ > 1
    doc = " ".join(fsk.MLPRegressor.partial_fit.__doc__.split())
    assert "not one epoch but a whole L-BFGS run of up to ``max_iter`` iterations" in doc
    assert _doc_section(fsk.MLPRegressor.partial_fit.__doc__, "Parameters") == [
        "X", "y", "sample_weight"]
    assert _doc_section(fsk.MLPRegressor.predict.__doc__, "Parameters") == ["X"]


def test_attributes_lbfgs_does_not_set_are_documented_so():
    """validation_scores_ and best_validation_score_ were documented as None
    without early_stopping; under solver="lbfgs" they (and best_loss_,
    loss_curve_) do not exist, in scikit-learn as in fastbp."""
    X, y = _clf_data()
    for cls in (fsk.MLPClassifier, sk_nn.MLPClassifier):
        est = cls((4,), solver="lbfgs", max_iter=3, random_state=0).fit(X, y)
        for name in ("best_loss_", "loss_curve_", "validation_scores_",
                     "best_validation_score_"):
            assert not hasattr(est, name), (cls, name)
    doc = " ".join(fsk.MLPClassifier.__doc__.split())
    assert 'Not set by ``"lbfgs"``, as the three below are not' in doc
    assert 'else None (``"sgd"``, ``"adam"``)' in doc
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_unaligned_sample_weight_fits_as_aligned(solver):
    """Weights read with np.frombuffer at an odd offset (C-contiguous, not
    aligned): scikit-learn fits with them; fastbp's ascontiguousarray kept
    them unaligned and the network kernel raised 'sample_weight must be a
    C-contiguous float64 (60,) array, as Network.check_sample_weight returns it'."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    y = (X[:, 0] > 0).astype(int)
    w = rng.random(60) + 0.5
    sw = np.frombuffer(b"\0" + w.tobytes(), dtype=np.float64, offset=1)
    assert not sw.flags.aligned
    kw = dict(hidden_layer_sizes=(5,), max_iter=3, random_state=0, solver=solver)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = fsk.MLPClassifier(**kw).fit(X, y, sample_weight=sw)
        b = fsk.MLPClassifier(**kw).fit(X, y, sample_weight=w)
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(p, q)


def test_n_threads_none_follows_a_threadpool_limit_at_each_call(monkeypatch):
    # None was resolved once, when fit built the network: a fitted estimator
    # then ignored threadpool_limits(1) around its predict and partial_fit
    # (and one fitted inside a limit kept one thread after it). A predict's
    # count is passed to its call, not stored on the network: two threads
    # predicting under different limits set each other's count
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import fastbp
    outside = fastbp.effective_n_threads()
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        inside = fastbp.effective_n_threads()
    if outside < 2 or inside != 1:
        pytest.skip("needs two cores and an OpenMP runtime threadpoolctl can limit")
    used = []
    real = fastbp.Network.predict_proba

    def spy(net, X, **kw):
        n = kw.get("n_threads")
        used.append(net.effective_n_threads if n is None else n)
        return real(net, X, **kw)

    monkeypatch.setattr(fastbp.Network, "predict_proba", spy)

    def predicted_with(clf):
        used.clear()
        clf.predict(X)
        assert len(used) == 1
        return used[0]

    X, y = _clf_data()
    clf = fsk.MLPClassifier(hidden_layer_sizes=(5,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
        assert clf._net.effective_n_threads == outside
        with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
            assert predicted_with(clf) == 1
            assert clf._net.effective_n_threads == outside     # not stored
            clf.partial_fit(X, y)
            assert clf._net.effective_n_threads == 1
        assert predicted_with(clf) == outside
        with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
            clf = fsk.MLPClassifier(hidden_layer_sizes=(5,), max_iter=2,
                                    random_state=0).fit(X, y)
        assert predicted_with(clf) == outside
    fixed = fsk.MLPClassifier(hidden_layer_sizes=(5,), max_iter=2, random_state=0,
                              n_threads=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fixed.fit(X, y)
    assert predicted_with(fixed) == 1
    assert fixed._net.effective_n_threads == 1
    fixed.set_params(n_threads=None)
    assert predicted_with(fixed) == outside
