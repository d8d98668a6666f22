"""scikit-learn's own tests of its MLPs, run against fastbp.sklearn's estimators.

scikit-learn's wheels ship its tests. This module imports the installed
``sklearn/neural_network/tests/test_mlp.py`` (nothing of it is copied into
fastbp) while ``sklearn.neural_network.MLPClassifier`` / ``MLPRegressor``
are fastbp's (:func:`fastbp.sklearn.patch_sklearn`, undone right after), so
its ``from sklearn.neural_network import ...`` and the ``parametrize`` lists
evaluated at its import hold fastbp's classes; the copy is its own (taken
out of ``sys.modules`` again) and has pytest's assertion rewriting. Its
test functions are then collected here, as
``tests/test_sklearn_upstream.py::test_...``; the one scikit-learn fixture
they use, ``global_random_seed``, is defined below.
``test_fastbp_upstream_tests_use_fastbp_classes`` checks that no upstream
name still holds scikit-learn's own classes (a test of scikit-learn against
itself would pass). The whole module takes 10-20 s on 2 shared cores, so it
is not marked slow.

The upstream tests expected to fail are listed in ``EXPECTED_FAILURES``:
only tests that cannot apply to another implementation (category b: they
call or inspect scikit-learn's private internals) or fail for another reason
that is not a fastbp bug (category c), each with the exception it fails
with and why. Each is marked ``xfail(strict=True, raises=...)``: a listed
test that starts to pass, or fails with another exception, fails here, and
so does every unlisted test that fails. A divergence from scikit-learn
(category a) is fixed in fastbp, never listed.

Versions: the list was made by running the test_mlp.py of scikit-learn
``UPSTREAM_FOR`` (1.9). The module runs only with a scikit-learn of that
major.minor, and skips otherwise (older ones, such as CI's oldest-versions
stage with 1.7, and newer ones), as it skips when scikit-learn was installed
without its tests. An entry of the list is a judgement of one release's test
body: under another release a test of the same name may have changed (say,
to stop calling a private method), and a name-keyed xfail would then hide a
real failure; a release with new tests could not be told from one whose
tests fastbp fails for a reason not yet looked at. So another release is a
skip that names what to do (run this module against it with
``UPSTREAM_FOR`` changed, and review the list), not a run with a list made
for other test code. Within 1.9.x (a bugfix release may add a test), new
tests run and must pass, and ``test_fastbp_expected_failures_are_current``
fails when the list names a test the installed file does not have.
"""
import importlib.util
import inspect
import re
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip(
    "sklearn", minversion="1.7",
    reason="fastbp.sklearn needs scikit-learn >= 1.7 (pip install fastbp[sklearn])")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from fastbp import sklearn as fsk  # noqa: E402

#: the scikit-learn release (major, minor) whose test_mlp.py EXPECTED_FAILURES was made for
UPSTREAM_FOR = (1, 9)
#: the upstream test module, as installed with scikit-learn
UPSTREAM = "sklearn.neural_network.tests.test_mlp"

#: upstream test name, or name[parametrization id] for one case of it ->
#: (the exception it fails with here, "category: why"). Never a category (a).
EXPECTED_FAILURES = {
    # scikit-learn's test of its gradient (numerical vs analytical) runs through its
    # private L-BFGS objective; test_fastbp_lbfgs_objective_gradient below checks
    # the same property of fastbp's objective
    "test_gradient": (
        AttributeError,
        "(b) calls MLPClassifier._loss_grad_lbfgs(theta, X, Y, None, activations, deltas, "
        "coef_grads, intercept_grads), scikit-learn's private L-BFGS objective with its own "
        "buffers, which fastbp's estimators, computing it in fastbp.Network, do not have"),
}


def _version(text):
    """(major, minor) of a version string: "1.9.1", "1.10.dev0" and "1.9rc1" alike
    (None for a string that does not start with them)."""
    match = re.match(r"(\d+)\.(\d+)", text)
    return None if match is None else (int(match[1]), int(match[2]))


def _upstream_origin():
    """The installed upstream test file, or None when scikit-learn has no tests
    (some distributions strip them)."""
    try:
        spec = importlib.util.find_spec(UPSTREAM)
    except ImportError:          # sklearn.neural_network.tests itself is missing
        return None
    return None if spec is None or not spec.origin else spec.origin


def _skip_reason(version, origin):
    """Why this module cannot run here (scikit-learn ``version`` whose test file is
    at ``origin``, None if missing), or None."""
    want = ".".join(map(str, UPSTREAM_FOR))
    if _version(version) != UPSTREAM_FOR:
        return (f"EXPECTED_FAILURES of {UPSTREAM} was made for scikit-learn {want}.x, "
                f"scikit-learn {version} is installed (to run its tests: set UPSTREAM_FOR "
                "to its version in tests/test_sklearn_upstream.py and review the list)")
    if origin is None:
        return f"scikit-learn {version} was installed without its tests ({UPSTREAM})"
    return None


_reason = _skip_reason(sklearn.__version__, _upstream_origin())
if _reason is not None:
    pytest.skip(_reason, allow_module_level=True)


def _load_upstream():
    """The upstream test module, imported while scikit-learn's MLP classes are
    fastbp's, with pytest's assertion rewriting (a failing ``assert`` shows its
    values), as a copy of its own: sklearn's entry in sys.modules, if any, is
    put back afterwards."""
    import sklearn.neural_network as nn

    patched = nn.MLPClassifier is fsk.MLPClassifier and nn.MLPRegressor is fsk.MLPRegressor
    previous = sys.modules.pop(UPSTREAM, None)
    pytest.register_assert_rewrite(UPSTREAM)
    fsk.patch_sklearn()
    try:
        return importlib.import_module(UPSTREAM)
    finally:
        if not patched:          # left as it was found
            fsk.unpatch_sklearn()
        sys.modules.pop(UPSTREAM, None)
        if previous is not None:
            sys.modules[UPSTREAM] = previous


_upstream = _load_upstream()
#: the upstream test functions, collected as this module's (at the end of it)
UPSTREAM_TESTS = {name: obj for name, obj in vars(_upstream).items()
                  if name.startswith("test_") and inspect.isfunction(obj)}


@pytest.fixture
def global_random_seed():
    """scikit-learn's fixture (sklearn/conftest.py), at its default seed, 42
    (its SKLEARN_TESTS_GLOBAL_RANDOM_SEED variable, which widens it, is not read)."""
    return 42


@pytest.fixture(autouse=True)
def _expected_upstream_failure(request):
    """Marks a listed upstream test xfail(strict=True, raises=its exception)."""
    entry = (EXPECTED_FAILURES.get(request.node.name)
             or EXPECTED_FAILURES.get(getattr(request.node, "originalname", None)))
    if entry is not None and request.node.originalname in UPSTREAM_TESTS:
        exc, reason = entry
        request.applymarker(pytest.mark.xfail(strict=True, raises=exc, reason=reason))


# ------------------------------------------------ checks of the harness itself
def _is_sklearn_mlp(obj):
    return (isinstance(obj, type) and obj.__name__ in ("MLPClassifier", "MLPRegressor")
            and obj.__module__.split(".")[0] == "sklearn")


def _values(obj):
    """Every value nested in tuples / lists / dicts of ``obj``."""
    if isinstance(obj, (tuple, list)):
        for o in obj:
            yield from _values(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _values(o)
    else:
        yield obj


def test_fastbp_upstream_tests_use_fastbp_classes():
    """The upstream module reaches scikit-learn's MLPs only through names that
    hold fastbp's classes: its globals and its parametrize lists. A test
    importing them from elsewhere (a private module of scikit-learn's) would
    test scikit-learn against itself, and pass."""
    assert _upstream.MLPClassifier is fsk.MLPClassifier
    assert _upstream.MLPRegressor is fsk.MLPRegressor
    leaks = [name for name, value in vars(_upstream).items()
             if any(map(_is_sklearn_mlp, _values(value)))]
    for name, func in UPSTREAM_TESTS.items():
        for mark in getattr(func, "pytestmark", []):
            if any(map(_is_sklearn_mlp, _values(list(mark.args) + list(mark.kwargs.values())))):
                leaks.append(f"{name} ({mark.name})")
    assert not leaks, f"scikit-learn's own MLP classes reached by {UPSTREAM}: {leaks}"
    assert len(UPSTREAM_TESTS) > 30, sorted(UPSTREAM_TESTS)


def test_fastbp_expected_failures_are_current():
    """Every listed test exists in the installed file, with a category (b) or
    (c) reason and the exception it fails with."""
    names = {key.split("[", 1)[0] for key in EXPECTED_FAILURES}
    missing = sorted(names - set(UPSTREAM_TESTS))
    assert not missing, (f"EXPECTED_FAILURES lists tests that scikit-learn "
                         f"{sklearn.__version__}'s {UPSTREAM} does not have: {missing}")
    for key, (exc, reason) in EXPECTED_FAILURES.items():
        assert isinstance(exc, type) and issubclass(exc, BaseException), key
        assert reason[:3] in ("(b)", "(c)"), f"{key}: a divergence (a) is fixed, not listed"


_MAJOR, _MINOR = UPSTREAM_FOR


@pytest.mark.parametrize("version, origin, skips", [
    (f"{_MAJOR}.{_MINOR}.0", "test_mlp.py", False), (f"{_MAJOR}.{_MINOR}.3", "test_mlp.py", False),
    (f"{_MAJOR}.{_MINOR}.dev0", "test_mlp.py", False),
    (f"{_MAJOR}.{_MINOR}rc1", "test_mlp.py", False),
    (f"{_MAJOR}.{_MINOR}.0rc1", "test_mlp.py", False),
    (f"{_MAJOR}.{_MINOR}.1", None, True),                     # installed without its tests
    (f"{_MAJOR}.{_MINOR - 1}.2", "test_mlp.py", True),        # older
    (f"{_MAJOR}.{_MINOR + 1}.0", "test_mlp.py", True),        # newer (another minor)
    (f"{_MAJOR}.{_MINOR}0.0", "test_mlp.py", True),           # 1.9 -> 1.90, not 1.9
    (f"{_MAJOR + 1}.{_MINOR}.0", "test_mlp.py", True)])
def test_fastbp_upstream_skip_rule(version, origin, skips):
    """The module runs on UPSTREAM_FOR's bugfix and pre-releases only, and
    skips, naming the installed version, without the tests or on another."""
    reason = _skip_reason(version, origin)
    assert (reason is not None) == skips, reason
    if skips:
        assert version in reason


@pytest.mark.parametrize("n_labels", [2, 3])
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_fastbp_lbfgs_objective_gradient(activation, n_labels):
    """What upstream test_gradient (listed above) checks, through fastbp's own
    L-BFGS objective: after the same one-iteration fit, the gradient it hands
    L-BFGS equals central differences (h = 1e-5, 7 decimals, as upstream) of
    the loss it reports (``_sk_loss``: scikit-learn's value)."""
    rng = np.random.RandomState(seed=42)
    X = rng.rand(5, 10)
    y = 1 + np.mod(np.arange(5) + 1, n_labels)
    est = fsk.MLPClassifier(activation=activation, hidden_layer_sizes=10, solver="lbfgs",
                            alpha=1e-5, learning_rate_init=0.2, max_iter=1, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    net = est._network()
    Y = est._label_binarizer.transform(y).astype(np.uint8)     # as fit hands it over
    Xc = net.check_X(X.T)
    Yc, _, _ = net.check_Y(Y.T, X.shape[0])

    def objective(theta):
        _, grad = net.loss_and_gradient(Xc, Yc, params=theta, ensure_non_negative=False,
                                        check_targets=False)
        return est._sk_loss(net), grad.copy()

    theta = net.flat_parameters.astype(np.float64)
    _, grad = objective(theta)
    h = 1e-5
    numgrad = np.array([(objective(theta + h * e)[0] - objective(theta - h * e)[0]) / (2 * h)
                        for e in np.eye(theta.size)])
    np.testing.assert_almost_equal(numgrad, grad)


# The upstream tests become this module's, under their own names (after this
# module's own, which must not hide any of them).
_CLASH = sorted(name for name in UPSTREAM_TESTS if name in globals())
if _CLASH:
    raise RuntimeError(f"tests/test_sklearn_upstream.py's own names hide upstream tests: "
                       f"{_CLASH}; rename them")
globals().update(UPSTREAM_TESTS)
