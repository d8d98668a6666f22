"""The Python API's rough edges of issue 13: each now a clear error or warning."""
import warnings

import numpy as np
import pytest

from fastbp import Network
from fastbp._openmp_helpers import cpu_count, openmp_enabled


def test_integer_labels_with_the_default_sigmoid_suggest_softmax(rng):
    X = rng.standard_normal((5, 40))
    y = rng.integers(0, 10, 40)
    with pytest.raises(ValueError, match=r"output='softmax'.*Network\(\[\.\.\., 10\]"):
        Network([5, 3, 10]).fit(X, y, epochs=1, verbose=False)
    with pytest.raises(ValueError, match="the output is 'sigmoid' \\(the default\\)"):
        Network([5, 3, 1]).fit(X, y, epochs=1, verbose=False)       # labels up to 9
    Network([5, 3, 1]).fit(X, y % 2, epochs=1, verbose=False)      # 0/1 labels still fine


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_inputs_rejected_at_predict_and_evaluate(rng, bad):
    net = Network([3, 4, 2], output="softmax", seed=0)
    X = rng.standard_normal((3, 6))
    X[1, 2] = bad
    for call in (net.predict, net.predict_proba, lambda A: net.evaluate(A, np.zeros(6, int))):
        with pytest.raises(ValueError, match="X contains NaN or inf"):
            call(X)
    reg = Network([3, 1], output="identity")
    Y = np.zeros((1, 6))
    Y[0, 1] = bad
    with pytest.raises(ValueError, match="Y contains NaN or inf"):
        reg.evaluate(rng.standard_normal((3, 6)), Y)


@pytest.mark.skipif(not openmp_enabled(), reason="without OpenMP every count resolves to 1")
def test_n_threads_above_the_cores_is_capped_with_a_warning():
    with pytest.warns(RuntimeWarning, match=f"n_threads=1000 is more than the {cpu_count()}"):
        net = Network([3, 2], n_threads=1000)
    assert net.effective_n_threads == cpu_count()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Network([3, 2], n_threads=1).effective_n_threads == 1


@pytest.mark.parametrize("t", [0, -1, 1.5])
def test_adam_step_count_from_one(t):
    from fastbp import course
    p = {"W1": np.ones((2, 3)), "b1": np.zeros((2, 1))}
    g = {"dW1": np.ones((2, 3)), "db1": np.ones((2, 1))}
    v, s = course.initialize_adam(p)
    with pytest.raises(ValueError, match="counted from 1"):
        course.update_parameters_with_adam(p, g, v, s, t)
    out = course.update_parameters_with_adam(p, g, v, s, 1)[0]
    assert np.all(np.isfinite(out["W1"]))


def test_save_into_a_missing_directory_names_the_path(tmp_path):
    target = tmp_path / "no_such_dir" / "model.npz"
    with pytest.raises(FileNotFoundError) as info:
        Network([3, 2]).save(target)
    assert f"cannot write {str(target)!r}" in str(info.value)
    assert ".fastbp-ckpt" not in str(info.value)


@pytest.mark.parametrize("loop", ["nn_model", "c1w3a1.nn_model", "L_layer_model",
                                  "c1w4a2.L_layer_model", "c1w4a2.two_layer_model"])
def test_course_loops_suggest_transposing_X(loop):
    """Every course model loop given X with examples as rows says to pass X.T
    (it used to blame Y with a shape Y could never have)."""
    from fastbp import course
    from fastbp.course import c1w3a1, c1w4a2
    X, Y = c1w3a1.load_planar_dataset()
    mod, _, name = loop.rpartition(".")
    fn = getattr({"": course, "c1w3a1": c1w3a1, "c1w4a2": c1w4a2}[mod], name)
    arg = 4 if name == "nn_model" else ((2, 4, 1) if name == "two_layer_model" else [2, 4, 1])
    with pytest.raises(ValueError, match=r"pass X\.T"):
        fn(X.T, Y, arg, num_iterations=2)
