"""The prose's code runs as written: README.md's ```python blocks, and what
their comments promise.

The README's three Python blocks form one session (the second uses the first's
``X`` and ``Y``), so they run in order in one namespace, each exactly as the
file spells it. The comments that make a testable claim ("# AL - Y",
"# (loss, accuracy)", "# -> fastbp.sklearn.MLPClassifier") are then checked
against values computed here independently (NumPy, fastbp.reference).
docs/distributed.md's block needs mpiexec and is run by hand / CI's MPI stage.
"""
import pathlib
import re

import numpy as np
import pytest

import fastbp

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _text(name):
    path = ROOT / name
    if not path.is_file():
        pytest.skip(f"{name} is not beside the tests (an installed test run)")
    return path.read_text(encoding="utf-8")


def _python_blocks(name):
    return re.findall(r"^```python\n(.*?)^```", _text(name), flags=re.S | re.M)


def test_readme_has_the_blocks_this_test_runs():
    """A block added to the README must be run here too (or skipped with a reason)."""
    blocks = _python_blocks("README.md")
    assert len(blocks) == 3, [b.splitlines()[0] for b in blocks]
    assert "dense_backward" in blocks[0]
    assert "net.fit" in blocks[1]
    assert "patch_sklearn" in blocks[2]


def test_readme_layer_and_network_examples_run_as_written():
    blocks = _python_blocks("README.md")
    ns = {}
    exec(compile(blocks[0], "README.md[python 1]", "exec"), ns)
    X, Y, W1, b1, W2, b2 = (ns[k] for k in ("X", "Y", "W1", "b1", "W2", "b2"))
    assert X.shape == (784, 256) and Y.shape == (10, 256)

    # the forward and the "exact" cost against the NumPy specification
    tol = dict(rtol=1e-4, atol=1e-5)
    Z1 = W1.astype(np.float64) @ X + b1
    A1 = np.maximum(Z1, 0)
    Z2 = W2.astype(np.float64) @ A1 + b2
    np.testing.assert_allclose(ns["Z1"], Z1, **tol)
    np.testing.assert_allclose(ns["A1"], A1, **tol)
    np.testing.assert_allclose(ns["Z2"], Z2, **tol)
    AL = np.exp(Z2 - Z2.max(0)) / np.exp(Z2 - Z2.max(0)).sum(0)
    np.testing.assert_allclose(ns["AL"], AL, **tol)
    cost = -np.mean(np.sum(Y * (Z2 - Z2.max(0) - np.log(np.exp(Z2 - Z2.max(0)).sum(0))), 0))
    assert ns["cost"] == pytest.approx(cost, rel=1e-5)
    # "# AL - Y"
    np.testing.assert_allclose(ns["dZ2"], ns["AL"] - Y, rtol=0, atol=0)
    # the backward: the README's formulas, written out
    m = X.shape[1]
    dZ2 = ns["dZ2"].astype(np.float64)
    np.testing.assert_allclose(ns["dW2"], dZ2 @ A1.T / m, **tol)
    np.testing.assert_allclose(ns["db2"], dZ2.sum(1, keepdims=True) / m, **tol)
    dZ1 = (W2.T.astype(np.float64) @ dZ2) * (A1 > 0)      # relu' from A1
    np.testing.assert_allclose(ns["dZ1"], dZ1, **tol)
    np.testing.assert_allclose(ns["dW1"], ns["dZ1"].astype(np.float64) @ X.T / m, **tol)
    np.testing.assert_allclose(ns["dX"], W1.T.astype(np.float64) @ ns["dZ1"], **tol)
    assert all(ns[k].dtype == np.float32 for k in ("dX", "dW1", "db1", "dW2", "db2"))

    exec(compile(blocks[1], "README.md[python 2]", "exec"), ns)
    loss, acc = ns["net"].evaluate(X, Y)                   # "# (loss, accuracy)"
    assert len(ns["history"]["loss"]) == 5
    # evaluate's (loss, accuracy), computed here from the network's probabilities
    P = np.asarray(ns["net"].predict_proba(X), np.float64)
    assert loss == pytest.approx(-np.mean(np.sum(Y * np.log(P), 0)), rel=1e-4)
    assert acc == pytest.approx(np.mean(P.argmax(0) == Y.argmax(0)))
    from fastbp import course
    assert ns["L_model_forward"] is course.L_model_forward
    assert ns["L_model_backward"] is course.L_model_backward


def test_readme_sklearn_example_runs_as_written():
    pytest.importorskip("sklearn", minversion="1.7")
    import warnings
    import sklearn.neural_network as sk_nn
    from sklearn.exceptions import ConvergenceWarning
    from fastbp import sklearn as fsk
    original = sk_nn.MLPClassifier
    block = _python_blocks("README.md")[2]
    ns = {}
    try:
        with warnings.catch_warnings():          # max_iter=200 stops early, as scikit-learn's
            warnings.simplefilter("ignore", ConvergenceWarning)
            exec(compile(block, "README.md[python 3]", "exec"), ns)
        # "# -> fastbp.sklearn.MLPClassifier"
        assert ns["MLPClassifier"] is fsk.MLPClassifier
    finally:
        fsk.unpatch_sklearn()
    assert sk_nn.MLPClassifier is original
    clf, X, y = ns["clf"], ns["X"], ns["y"]
    assert type(clf) is fsk.MLPClassifier
    assert clf.coefs_[0].shape == (64, 128)          # one example per row
    assert clf.score(X / 16, y) > 0.95


def test_readme_lists_every_activation_and_loss_with_its_output():
    """README: "Activations: `identity relu ...`. Losses: `binary_crossentropy`
    (sigmoid output), ..." -- the lists the library really has, and each loss
    with the output a Network pairs it with."""
    text = _text("README.md")
    acts = re.search(r"Activations: `([^`]*)`", text)
    assert acts is not None
    assert acts.group(1).split() == list(fastbp.ACTIVATIONS)
    para = " ".join(text[text.index("Activations: `"):].split("\n\n")[0].split())
    pairs = re.findall(r"`(\w+)` \((\w+) output", para)
    assert [loss for loss, _ in pairs] == list(fastbp.LOSSES)
    for loss, output in pairs:
        net = fastbp.Network([2, 3, 2 if output == "softmax" else 1], "relu", output)
        assert net.loss_name == loss, (output, net.loss_name)


def test_readme_file_names_carry_this_version():
    """The README's install commands name dist/fastbp-X.Y.Z.tar.gz and the wheel:
    the version a build of this tree makes."""
    names = re.findall(r"fastbp-(\d+\.\d+\.\d+)", _text("README.md"))
    assert names and set(names) == {fastbp.__version__}, (names, fastbp.__version__)


def test_readme_names_every_assignment_module_and_examples_has_each():
    """README: "One module per graded assignment: `c1w3a1` (...), ..." and
    "`examples/` runs each notebook's flow": the list is the package's modules,
    each importable with `from fastbp.course.<name> import *`, each with a script."""
    import pkgutil

    from fastbp import course
    text = " ".join(_text("README.md").split())
    listed = re.findall(r"`(c\d+w\d+a\d+)` \(", text[text.index("One module per graded"):])
    modules = sorted(m.name for m in pkgutil.iter_modules(course.__path__)
                     if not m.name.startswith("_"))
    assert sorted(listed) == modules
    for name in modules:
        ns = {}
        exec(f"from fastbp.course.{name} import *", ns)
        assert len(ns) > 1, name
        assert list((ROOT / "examples").glob(f"{name}_*.py")), f"no examples/{name}_*.py"
