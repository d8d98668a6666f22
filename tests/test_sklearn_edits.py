"""fastbp.sklearn against scikit-learn where users edit a fitted estimator or
change scikit-learn's global settings: assigned ``coefs_`` / ``out_activation_``,
a new ``activation`` before ``partial_fit``, warm starts with other widths,
``assume_finite``, early stopping that never scores, and the types and
memory layout of what the estimators return. Each case runs scikit-learn's
own estimator beside fastbp's on the same input."""
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

import sklearn  # noqa: E402
from sklearn import neural_network as sk_nn  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from fastbp import sklearn as fsk  # noqa: E402


def _both(name, **params):
    return getattr(sk_nn, name)(**params), getattr(fsk, name)(**params)


def _data(n=30, seed=0, classes=3):
    rng = np.random.RandomState(seed)
    return rng.randn(n, 3), rng.randint(0, classes, n)


def _continue(est, X, y, how):
    """Train a fitted estimator on: ``partial_fit``, or a ``warm_start`` fit."""
    if how == "partial_fit":
        return est.partial_fit(X, y)
    est.set_params(warm_start=True)
    return est.fit(X, y)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def test_assume_finite_predicts_nan_rows_as_scikit_learn():
    """sklearn.set_config(assume_finite=True) skips the NaN check: the NaN row
    gets NaN outputs and the others their values (fastbp's network refused
    the whole call before)."""
    X, y = _data()
    Xq = X.copy()
    Xq[0, 1] = np.nan
    sk, fb = _both("MLPClassifier", hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    sk.fit(X, y)
    fb.fit(X, y)
    with sklearn.config_context(assume_finite=True):
        want, got = sk.predict_proba(Xq), fb.predict_proba(Xq)
        assert np.array_equal(sk.predict(Xq), fb.predict(Xq))
    assert np.isnan(got[0]).all() and np.isfinite(got[1:]).all()
    np.testing.assert_allclose(got, want, rtol=1e-10, equal_nan=True)
    with pytest.raises(ValueError, match="NaN"):     # the check is back outside
        fb.predict_proba(Xq)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_loss_types_and_c_ordered_outputs(solver):
    X, y = _data()
    clf = fsk.MLPClassifier(hidden_layer_sizes=(4,), solver=solver, max_iter=3, random_state=0)
    clf.fit(X, y)
    assert type(clf.loss_) is np.float64
    if solver != "lbfgs":
        assert all(type(v) is np.float64 for v in clf.loss_curve_)
    assert clf.predict_proba(X).flags.c_contiguous
    reg = fsk.MLPRegressor(hidden_layer_sizes=(4,), solver=solver, max_iter=3, random_state=0)
    reg.fit(X, np.c_[y, -y].astype(float))
    assert reg.predict(X).flags.c_contiguous and reg.predict(X).shape == (30, 2)


def test_early_stopping_that_never_scores_restores_the_initial_weights():
    """A validation score that is NaN from the first epoch is never the best:
    scikit-learn's best coefficients stay the initial ones and it ends on them."""
    rng = np.random.RandomState(0)
    X, y = rng.randn(40, 3) * 1e150, rng.randn(40) * 1e150
    ests = _both("MLPRegressor", hidden_layer_sizes=(4,), solver="sgd", learning_rate_init=10.0,
                 early_stopping=True, max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for est in ests:
            est.fit(X, y)
    sk, fb = ests
    assert np.isnan(fb.validation_scores_).all() and fb.best_validation_score_ == -np.inf
    for a, b in zip(sk.coefs_ + sk.intercepts_, fb.coefs_ + fb.intercepts_):
        np.testing.assert_array_equal(a, b)         # the initial draws, bit for bit


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_new_activation_before_partial_fit_keeps_the_optimizer(solver):
    """scikit-learn keeps its optimizer (Adam moments, velocities, step count)
    when only the activation changes; fastbp rebuilt its network and started
    the optimizer over (coefficients off by ~1e-3 after one partial_fit)."""
    X, y = _data()
    ests = _both("MLPClassifier", hidden_layer_sizes=(4,), solver=solver, max_iter=3,
                 random_state=0)
    for est in ests:
        est.fit(X, y)
        est.set_params(activation="tanh")
        est.partial_fit(X, y)
    for a, b in zip(ests[0].coefs_ + ests[0].intercepts_, ests[1].coefs_ + ests[1].intercepts_):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-13)


def test_assigned_coefs_of_other_widths_are_used():
    """A consistent set of new widths runs as scikit-learn runs it."""
    X, y = _data()
    rng = np.random.RandomState(1)
    new = [rng.randn(3, 6), rng.randn(6, 3)], [rng.randn(6), rng.randn(3)]
    out = []
    for est in _both("MLPClassifier", hidden_layer_sizes=(4,), max_iter=3, random_state=0):
        est.fit(X, y)
        est.coefs_, est.intercepts_ = [c.copy() for c in new[0]], [b.copy() for b in new[1]]
        out.append(est.predict_proba(X))
    np.testing.assert_allclose(out[1], out[0], rtol=1e-10)


def test_assigned_out_activation_is_used():
    X, y = _data()
    out = []
    for est in _both("MLPClassifier", hidden_layer_sizes=(4,), max_iter=3, random_state=0):
        est.fit(X, y)
        est.out_activation_ = "logistic"
        out.append(est.predict_proba(X))
    np.testing.assert_allclose(out[1], out[0], rtol=1e-10)
    est.out_activation_ = "tanh"
    with pytest.raises(ValueError, match="out_activation_ = 'tanh'"):
        est.predict(X)


@pytest.mark.parametrize("edit, match", [
    (lambda e: e.coefs_.__setitem__(0, np.ones((1, 4))), "coefs_\\[0\\] has 1 rows"),
    (lambda e: (e.coefs_.pop(1), e.intercepts_.pop(1)), "must hold 2 arrays"),
    (lambda e: e.intercepts_.__setitem__(0, np.ones(5)), "intercepts_\\[0\\] \\(n_out,\\)"),
    (lambda e: e.coefs_.__setitem__(1, np.ones((5, 3))), "coefs_\\[1\\] has 5 rows"),
])
def test_assigned_coefs_that_cannot_run_are_refused(edit, match):
    """scikit-learn fails in its products (or with an IndexError) there; fastbp
    broadcast a (1, 4) array into (3, 4) and kept a deleted layer, silently."""
    X, y = _data()
    est = fsk.MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, y)
    edit(est)
    with pytest.raises(ValueError, match=match):
        est.predict_proba(X)


def test_warm_start_or_partial_fit_with_other_widths_is_refused():
    """scikit-learn fails inside its fit; fastbp trained the old widths silently."""
    X, y = _data()
    clf = fsk.MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0,
                            warm_start=True).fit(X, y)
    before = [c.copy() for c in clf.coefs_]
    clf.set_params(hidden_layer_sizes=(4, 2))
    with pytest.raises(ValueError, match=r"hidden_layer_sizes is \(4, 2\).*\(4,\): a fit "
                                         "with warm_start=True continues"):
        clf.fit(X, y)
    assert clf.n_layers_ == 3 and all(np.array_equal(a, b) for a, b in zip(before, clf.coefs_))
    clf.set_params(warm_start=False)
    assert clf.fit(X, y).n_layers_ == 4
    reg = fsk.MLPRegressor(hidden_layer_sizes=(4,), random_state=0).partial_fit(X, y * 1.0)
    with pytest.raises(ValueError, match="y has 2 output"):
        reg.partial_fit(X, np.c_[y, y] * 1.0)
    assert reg.n_outputs_ == 1


@pytest.mark.parametrize("first, then", [("squared_error", "poisson"),
                                         ("poisson", "squared_error")])
@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_continued_fit_with_another_loss_is_refused(first, then, how):
    """scikit-learn keeps out_activation_ and reports the new loss of the old
    outputs; fastbp's network computes the loss of its output, so loss_ and
    loss_curve_ held the old loss under the new name (poisson: twice the
    squared error), and lbfgs minimized it."""
    X, y = _data()
    reg = fsk.MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0,
                           loss=first).fit(X, y + 1.0)
    before = [c.copy() for c in reg.coefs_]
    reg.set_params(loss=then)
    with pytest.raises(ValueError, match=f"loss='{then}' but the fitted network's output "
                                         f"is out_activation_='{reg.out_activation_}'"):
        _continue(reg, X, y + 1.0, how)
    assert all(np.array_equal(a, b) for a, b in zip(before, reg.coefs_))
    reg.set_params(warm_start=False)
    assert reg.fit(X, y + 1.0).out_activation_ == ("exp" if then == "poisson" else "identity")


@pytest.mark.parametrize("out", ["identity", "exp"])
def test_continued_fit_of_a_classifier_with_a_non_log_loss_output_is_refused(out):
    """scikit-learn takes the log-loss of an assigned identity / exp output;
    fastbp's network reported its squared error / Poisson loss as loss_."""
    X, y = _data(classes=2)
    clf = fsk.MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, y)
    clf.out_activation_ = out
    with pytest.raises(ValueError, match=f"out_activation_='{out}'"):
        clf.partial_fit(X, y)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("how", ["warm_start", "partial_fit", "assigned"])
def test_other_hidden_widths_train_the_fitted_widths_as_scikit_learn(solver, how):
    """scikit-learn reads hidden_layer_sizes only when it starts a network: a
    warm start or partial_fit after set_params(hidden_layer_sizes=...) with
    the same number of layers trains the fitted widths, and one after coefs_
    of other widths were assigned trains those (fastbp raised)."""
    X, y = _data()
    rng = np.random.RandomState(1)
    new = [rng.randn(3, 6), rng.randn(6, 3)], [rng.randn(6), rng.randn(3)]
    out = []
    for est in _both("MLPClassifier", hidden_layer_sizes=(4,), max_iter=3, random_state=0,
                     solver=solver):
        est.fit(X, y)
        if how == "assigned":
            est.coefs_, est.intercepts_ = ([c.copy() for c in new[0]],
                                           [b.copy() for b in new[1]])
        else:
            est.set_params(hidden_layer_sizes=(5,))
        out.append(_continue(est, X, y, how))
    ref, ours = out
    assert [c.shape for c in ours.coefs_] == [c.shape for c in ref.coefs_]
    for a, b in zip(ref.coefs_ + ref.intercepts_, ours.coefs_ + ours.intercepts_):
        np.testing.assert_allclose(b, a, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-8)


def test_lbfgs_warm_start_with_other_widths_is_refused():
    """scikit-learn's lbfgs packs the parameters by hidden_layer_sizes and
    writes out of bounds there (its process aborts): fastbp says why."""
    X, y = _data()
    clf = fsk.MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=3,
                            random_state=0, warm_start=True).fit(X, y)
    clf.set_params(hidden_layer_sizes=(6,))
    with pytest.raises(ValueError, match=r"hidden_layer_sizes is \(6,\).*coefs_\) are "
                                         r"\(4,\): solver='lbfgs' packs"):
        clf.fit(X, y)
    clf.set_params(hidden_layer_sizes=(4,))
    assert clf.fit(X, y).n_layers_ == 3


def test_stratified_split_message_names_scikit_learns_classes():
    """The split stratifies on scikit-learn's bool indicator, so its error
    names the classes as scikit-learn's does."""
    X, y = _data(n=10, classes=2)
    y[:] = 0
    y[0] = 1
    msgs = []
    for est in _both("MLPClassifier", hidden_layer_sizes=(4,), early_stopping=True,
                     validation_fraction=0.2, random_state=0):
        with pytest.raises(ValueError) as err:
            est.fit(X, y)
        msgs.append(str(err.value))
    assert msgs[1] == msgs[0]


def test_bool_hidden_layer_sizes_are_refused():
    X, y = _data()
    with pytest.raises(TypeError):
        sk_nn.MLPClassifier((True,), max_iter=2).fit(X, y)
    with pytest.raises(TypeError, match="integers"):
        fsk.MLPClassifier((True,), max_iter=2).fit(X, y)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_assigned_widths_continue_the_same_after_a_pickle_round_trip(solver, how):
    """A pickled estimator carried its optimizer state for the old widths and
    reapplied it to the assigned ones: "could not broadcast input array from
    shape (610,) into shape (385,)" (a fresh user's trial). Pickled or not,
    the assigned widths train from a fresh optimizer state."""
    import pickle
    X, y = _data()
    rng = np.random.RandomState(1)
    new = [rng.randn(3, 6), rng.randn(6, 3)], [rng.randn(6), rng.randn(3)]
    out = []
    for pickled in (False, True):
        est = fsk.MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0,
                                solver=solver).fit(X, y)
        if pickled:
            est = pickle.loads(pickle.dumps(est))
        est.coefs_, est.intercepts_ = [c.copy() for c in new[0]], [b.copy() for b in new[1]]
        out.append(_continue(est, X, y, how))
    for a, b in zip(out[0].coefs_ + out[0].intercepts_, out[1].coefs_ + out[1].intercepts_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name,params,match", [
    ("MLPClassifier", dict(solver="foo"), "unknown solver 'foo'"),
    ("MLPRegressor", dict(solver="LBFGS"), "unknown solver 'LBFGS'"),
    ("MLPRegressor", dict(loss="foo"),
     "unknown loss 'foo'; valid: \\('squared_error', 'poisson'\\)"),
    ("MLPClassifier", dict(activation="softmax"), "unknown activation 'softmax'"),
    ("MLPClassifier", dict(solver="sgd", learning_rate="cosine"), "unknown learning_rate 'cosine'"),
    ("MLPClassifier", dict(alpha=-1.0), r"alpha must be >= 0\.0, got -1\.0"),
])
def test_skipped_parameter_validation_still_refuses_what_fastbp_cannot_train(name, params, match):
    # scikit-learn's own estimator fails later (AttributeError, KeyError) or
    # trains; fastbp's must not train something else under a misspelt name
    X, y = _data()
    if name == "MLPRegressor":
        y = y.astype(float)
    est = getattr(fsk, name)(hidden_layer_sizes=(4,), max_iter=5, **params)
    with sklearn.config_context(skip_parameter_validation=True):
        with pytest.raises(ValueError, match=match):
            est.fit(X, y)
        assert not hasattr(est, "coefs_")
        ok = getattr(fsk, name)(hidden_layer_sizes=(4,), max_iter=5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ok.fit(X, y)


def test_notebook_display_links_to_the_parameters_documentation():
    # the parameters are scikit-learn's: its page of the same estimator
    version = ".".join(sklearn.__version__.split(".")[:2])
    for name in ("MLPClassifier", "MLPRegressor"):
        link = getattr(fsk, name)()._get_doc_link()
        assert link in (f"https://scikit-learn.org/{version}/modules/generated/"
                        f"sklearn.neural_network.{name}.html",
                        f"https://scikit-learn.org/dev/modules/generated/"
                        f"sklearn.neural_network.{name}.html")
        assert link in getattr(fsk, name)()._repr_html_()


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_an_assigned_coefs_array_is_copied_in_not_trained_in_place(how):
    """README's deliberate difference: "an array you assign to coefs_[i] is copied
    into fastbp's weights (the list then holds a view of them again), so later
    training does not change your array in place as scikit-learn's does". Both
    halves, with scikit-learn's estimator run beside it."""
    X, y = _data()
    results = {}
    for est in _both("MLPClassifier", hidden_layer_sizes=(4,), max_iter=3, random_state=0):
        est.fit(X, y)
        mine = np.full((3, 4), 0.25)
        est.coefs_[0] = mine
        _continue(est, X, y, how)
        results[type(est).__module__.split(".")[0]] = (est, mine)
    sk_est, sk_mine = results["sklearn"]
    fb_est, fb_mine = results["fastbp"]
    assert not np.all(sk_mine == 0.25) and sk_est.coefs_[0] is sk_mine  # trained in place
    assert np.all(fb_mine == 0.25)                                       # left alone
    assert not np.shares_memory(fb_est.coefs_[0], fb_mine)
    assert np.shares_memory(fb_est.coefs_[0], fb_est._net.parameters["W1"])
    np.testing.assert_allclose(fb_est.coefs_[0], sk_est.coefs_[0], rtol=1e-8)


def test_a_float32_model_given_wider_data_returns_sklearns_dtype_with_float32_values():
    """fastbp.sklearn's docstring: "A float32 network predicts in float32; given
    data of a wider dtype (float64, int64) it returns scikit-learn's result
    dtype, float64, holding the float32 computation's values"."""
    X, y = _data()
    X32 = X.astype(np.float32)
    for name, target in (("MLPClassifier", y), ("MLPRegressor", y.astype(np.float32))):
        sk, fb = _both(name, hidden_layer_sizes=(4,), max_iter=3, random_state=0)
        sk.fit(X32, target)
        fb.fit(X32, target)
        method = "predict_proba" if name == "MLPClassifier" else "predict"
        in32 = getattr(fb, method)(X32)
        assert in32.dtype == getattr(sk, method)(X32).dtype == np.float32
        for wider in (X32.astype(np.float64), np.rint(X * 3).astype(np.int64)):
            got = getattr(fb, method)(wider)
            assert got.dtype == getattr(sk, method)(wider).dtype == np.float64, (name, wider.dtype)
            same = getattr(fb, method)(wider.astype(np.float32))
            np.testing.assert_array_equal(got, same.astype(np.float64))
