"""fastbp.course.c1w4a2 against a plain-NumPy C1W4A2 (tests/course_reference.py).

The graded models are called as the notebook calls them and compared with
the reference's loops: parameters, the costs' Python type and dtype, the
printed lines. ``load_data`` reads small h5 files the tests write.
"""
import sys

import numpy as np
import pytest

from course_reference import RTOL_TRAINED, app, check_names, network, same
from fastbp.course import c1w4a1, c1w4a2 as a
from fastbp.datasets import make_image_like_dataset

SIGNATURES = {
    "two_layer_model": "(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000, "
                       "print_cost=False)",
    "L_layer_model": "(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000, "
                     "print_cost=False)",
    "load_data": "(path='datasets')",
    "initialize_parameters": "(n_x, n_h, n_y)",
    "initialize_parameters_deep": "(layer_dims)",
    "update_parameters": "(parameters, grads, learning_rate)",
    "predict": "(X, y, parameters)",
    "print_mislabeled_images": "(classes, X, y, p)",
}
#: the same as the step-by-step notebook's (dnn_app_utils_v3 repeats them)
SHARED = ["sigmoid", "relu", "relu_backward", "sigmoid_backward", "linear_forward",
          "linear_activation_forward", "L_model_forward", "compute_cost", "linear_backward",
          "linear_activation_backward", "L_model_backward"]


def test_names_and_signatures_are_the_notebooks():
    check_names(a, {**SIGNATURES, **dict.fromkeys(SHARED)})
    for name in SHARED:
        assert getattr(a, name) is getattr(c1w4a1, name), name


def test_initialize_parameters_deep_seeds_1_and_scales_by_sqrt():
    np.random.seed(9)
    got = a.initialize_parameters_deep([7, 5, 3, 1])
    same(got, app.initialize_parameters_deep([7, 5, 3, 1]), rtol=0.0)
    same(a.initialize_parameters_deep(layer_dims=[4, 2]), app.initialize_parameters_deep([4, 2]))
    same(a.initialize_parameters(5, 3, 1), app.initialize_parameters(5, 3, 1), rtol=0.0)


def test_update_parameters_rebinds_the_callers_dict():
    X, Y, p = network([5, 4, 1], 8, seed=2)
    AL, caches = a.L_model_forward(X, p)
    grads = a.L_model_backward(AL, Y, caches)
    e = app.update_parameters({k: v.copy() for k, v in p.items()}, grads, 0.2)
    old_W1 = p["W1"]
    got = a.update_parameters(p, grads, 0.2)
    assert got is p and p["W1"] is not old_W1          # as dnn_app_utils_v3
    same(got, e)
    q = {k: v.copy() for k, v in p.items()}
    same(a.update_parameters(parameters=q, grads=grads, learning_rate=0.1),
         app.update_parameters(p, grads, 0.1))


def test_predict_prints_the_accuracy(capsys):
    X, Y, p = network([6, 4, 1], 25, seed=4)
    got = a.predict(X, Y, p)
    out = capsys.readouterr().out
    expected = app.predict(X, Y, p)
    assert out == capsys.readouterr().out and out.startswith("Accuracy: ")
    same(got, expected, rtol=0.0)
    same(a.predict(X=X, y=Y, parameters=p), expected)


def _data(m=30, n_px=6):
    X, Y = make_image_like_dataset(m=m, n_px=n_px, seed=3)
    return X, Y


def _printed_costs(out):
    """[(iteration, cost)] of the "Cost after iteration i: cost" lines."""
    rows = []
    for line in out.splitlines():
        head, value = line.rsplit(": ", 1)
        assert head.startswith("Cost after iteration "), line
        rows.append((int(head.split()[-1]), float(value)))
    return rows


@pytest.mark.parametrize("model,dims", [("two_layer_model", (108, 7, 1)),
                                        ("L_layer_model", [108, 20, 7, 5, 1])])
def test_models_train_print_and_return_like_the_notebook(model, dims, capsys):
    X, Y = _data()
    got_p, got_costs = getattr(a, model)(X, Y, dims, num_iterations=250, print_cost=True)
    out = capsys.readouterr().out
    exp_p, exp_costs = getattr(app, model)(X, Y, dims, num_iterations=250, print_cost=True)
    exp_out = capsys.readouterr().out
    same(got_p, exp_p, rtol=RTOL_TRAINED, what="parameters")
    same(got_costs, exp_costs, rtol=RTOL_TRAINED, what="costs")   # 0-d ndarrays
    assert all(type(c) is np.ndarray and c.shape == () for c in got_costs)
    got_rows, exp_rows = _printed_costs(out), _printed_costs(exp_out)
    assert [i for i, _ in got_rows] == [i for i, _ in exp_rows] == [0, 100, 200, 249]
    np.testing.assert_allclose([c for _, c in got_rows], [c for _, c in exp_rows],
                               rtol=RTOL_TRAINED)
    # the notebook's keyword calls; the last iteration prints even without print_cost
    kw = getattr(a, model)(X, Y, layers_dims=dims, num_iterations=2, print_cost=False)
    kw_out = capsys.readouterr().out
    e_kw = getattr(app, model)(X, Y, dims, num_iterations=2)
    e_out = capsys.readouterr().out
    same(kw, e_kw, rtol=RTOL_TRAINED)
    assert [i for i, _ in _printed_costs(kw_out)] == [i for i, _ in _printed_costs(e_out)] == [1]
    lr = getattr(a, model)(X=X, Y=Y, layers_dims=dims, learning_rate=0.02, num_iterations=101)
    same(lr, getattr(app, model)(X, Y, dims, 0.02, 101), rtol=RTOL_TRAINED)


def test_models_train_on_real_valued_labels_as_the_course_public_test_does(capsys):
    # The course's public_tests.two_layer_model_test trains on labels drawn with
    # randn (its code computes AL - Y and its cross-entropy for any values);
    # fastbp refused them (labels must be 0/1), so the notebook's test failed.
    np.random.seed(1)
    X = np.random.randn(10, 10)
    Y = np.random.randn(1, 10)
    p, costs = a.two_layer_model(X, Y, (10, 4, 1), 0.0075, 2)
    same((p, costs), app.two_layer_model(X, Y, (10, 4, 1), 0.0075, 2), rtol=RTOL_TRAINED)
    # the public test's expected values (to its 8 decimals)
    np.testing.assert_allclose(p["b2"], [[-0.00689018]], rtol=0, atol=5e-9)
    np.testing.assert_allclose(costs, [0.69315968], rtol=0, atol=5e-9)
    same(a.two_layer_model(X, Y, (10, 4, 1), 0.1, 3),
         app.two_layer_model(X, Y, (10, 4, 1), 0.1, 3), rtol=RTOL_TRAINED)
    same(a.L_layer_model(X, Y, (10, 5, 6, 1), 0.0075, 150),
         app.L_layer_model(X, Y, (10, 5, 6, 1), 0.0075, 150), rtol=RTOL_TRAINED)
    # the helpers a learner's own two_layer_model calls
    AL, caches = a.L_model_forward(X, p)
    same(a.compute_cost(AL, Y), app.compute_cost(AL, Y))
    capsys.readouterr()


def test_L_layer_model_errors_name_its_layers_dims():
    # they named initialize_parameters_deep's argument, layer_dims
    X, Y = _data(m=5, n_px=2)                     # X (12, 5)
    with pytest.raises(ValueError, match=r"^layers_dims\[1\] must be >= 1, got 0"):
        a.L_layer_model(X, Y, [12, 0, 1], num_iterations=1)
    with pytest.raises(TypeError, match=r"^layers_dims\[1\] must be an int, got float"):
        a.L_layer_model(X, Y, [12, 4.5, 1], num_iterations=1)
    with pytest.raises(TypeError, match=r"^layers_dims must be a sequence of ints"):
        a.L_layer_model(X, Y, 12, num_iterations=1)


# ---------------------------------------------------------------- load_data

def _write_course_files(folder, m_train=4, m_test=3, n_px=5):
    """Small files laid out as the course's (datasets, dtypes, shapes)."""
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    data = {"train_set_x": rng.integers(0, 256, (m_train, n_px, n_px, 3), dtype=np.uint8),
            "train_set_y": rng.integers(0, 2, m_train, dtype=np.int64),
            "test_set_x": rng.integers(0, 256, (m_test, n_px, n_px, 3), dtype=np.uint8),
            "test_set_y": rng.integers(0, 2, m_test, dtype=np.int64),
            "list_classes": np.array([b"non-cat", b"cat"], dtype="S7")}
    with h5py.File(folder / "train_catvnoncat.h5", "w") as f:
        for k in ("train_set_x", "train_set_y", "list_classes"):
            f[k] = data[k]
    with h5py.File(folder / "test_catvnoncat.h5", "w") as f:
        for k in ("test_set_x", "test_set_y", "list_classes"):
            f[k] = data[k]
    return data


def test_load_data_reads_the_course_files(tmp_path, monkeypatch):
    data = _write_course_files(tmp_path / "datasets")
    expected = (data["train_set_x"], data["train_set_y"].reshape(1, -1), data["test_set_x"],
                data["test_set_y"].reshape(1, -1), data["list_classes"])
    same(a.load_data(tmp_path / "datasets"), expected, rtol=0.0)
    same(a.load_data(path=str(tmp_path / "datasets")), expected, rtol=0.0)
    monkeypatch.chdir(tmp_path)                       # the notebook's relative datasets/
    same(a.load_data(), expected, rtol=0.0)


def test_load_data_names_missing_files(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="train_catvnoncat.h5.*test_catvnoncat.h5"):
        a.load_data(tmp_path)
    (tmp_path / "train_catvnoncat.h5").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="Missing data files: .*test_catvnoncat.h5"):
        a.load_data(tmp_path)
    (tmp_path / "test_catvnoncat.h5").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match="needs h5py.*pip install h5py"):
        a.load_data(tmp_path)


def test_print_mislabeled_images(monkeypatch):
    X, Y = _data(m=6, n_px=4)
    p = Y.astype(float)
    p[0, :2] = 1 - p[0, :2]
    classes = np.array([b"non-cat", b"cat"])
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="print_mislabeled_images needs matplotlib"):
        a.print_mislabeled_images(classes, X, Y, p)
    monkeypatch.undo()
    plt = pytest.importorskip("matplotlib.pyplot")
    plt.figure()
    a.print_mislabeled_images(classes, X, Y, p)
    assert len(plt.gcf().axes) == 2
    plt.close("all")
