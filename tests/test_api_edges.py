"""The Python API's rough edges of issue 13: each now a clear error or warning."""
import os
import warnings

import numpy as np
import pytest

import fastbp
from fastbp import Network
from fastbp._openmp_helpers import cpu_count, openmp_enabled


def test_integer_labels_with_the_default_sigmoid_suggest_softmax(rng):
    X = rng.standard_normal((5, 40))
    y = rng.integers(0, 10, 40)
    with pytest.raises(ValueError, match=r"output='softmax'.*Network\(\[\.\.\., 10\]"):
        Network([5, 3, 10]).fit(X, y, epochs=1, verbose=False)
    with pytest.raises(ValueError, match="the output is 'sigmoid' \\(Network's default"):
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


@pytest.mark.skipif(openmp_enabled(), reason="the serial build's contract (-Dopenmp=disabled)")
def test_a_serial_build_runs_every_count_on_one_thread_silently(rng):
    # n_threads=2 is 1 everywhere, without a warning, and the layer functions
    # keep their compiled fast path for it (the serial stub of OMP_THREAD_LIMIT,
    # 1, sent every count above 1 to the full checks); NumPy's pool, which only
    # a team of two would use, is not loaded (`fastbp info` named it)
    from fastbp import _blas, _dense
    from fastbp._config import config_info

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fastbp.effective_n_threads(2) == fastbp.effective_n_threads() == 1
        assert Network([3, 2], n_threads=2).effective_n_threads == 1
        A, W, b = rng.standard_normal((5, 40)), rng.standard_normal((3, 5)), np.zeros((3, 1))
        got = _dense.forward_plain(A, W, b, "tanh", None, None, 2)
        assert got is not None, "n_threads=2 left the compiled fast path"
        for g, w in zip(got, fastbp.dense_forward(A, W, b, "tanh", n_threads=1)):
            np.testing.assert_array_equal(g, w)
    assert not _blas.numpy_pool_enabled() and config_info()["numpy_pool"] is None
    import io
    text = io.StringIO()
    fastbp.show_config(file=text)
    assert "OpenMP     OFF (serial build)" in text.getvalue()
    assert "layer kernels' threads: one (serial build)" in text.getvalue(), text.getvalue()


def _os_threads():
    return len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else None


@pytest.mark.skipif(not openmp_enabled(), reason="threads need OpenMP")
@pytest.mark.parametrize("n_threads", [1000, 2**40])
def test_layer_functions_cap_n_threads_at_the_cores(rng, n_threads):
    # they started n_threads OpenMP threads (1000 on 2 cores), or raised an
    # OverflowError for 2**40; Network capped them with this warning already
    A, W, b = rng.standard_normal((5, 40)), rng.standard_normal((3, 5)), np.zeros((3, 1))
    Z = rng.standard_normal((4, 40))
    before = _os_threads()
    calls = [lambda nt: fastbp.dense_forward(A, W, b, "tanh", n_threads=nt),
             lambda nt: fastbp.dense_backward(Z[:3], A, W, "tanh", Z_prev=A, n_threads=nt),
             lambda nt: fastbp.softmax(Z, n_threads=nt),
             lambda nt: fastbp.output_delta(fastbp.softmax(Z), np.eye(4)[:, :40].repeat(10, 1),
                                            "crossentropy", n_threads=nt)]
    for f in calls:
        with pytest.warns(RuntimeWarning, match=f"n_threads={n_threads} is more than the "
                          f"{cpu_count()} cores") as rec:
            got = f(n_threads)
        assert rec[0].filename == __file__          # the user's line
        exp = f(1)
        for x, y in zip(got if isinstance(got, tuple) else (got,),
                        exp if isinstance(exp, tuple) else (exp,)):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14)
    if before is not None:
        assert _os_threads() <= before + cpu_count()


def test_float64_data_beyond_float32s_range_is_named(rng):
    net = Network([3, 4, 2], "relu", "softmax", dtype="float32", seed=0)
    X = rng.standard_normal((3, 10))
    X[1, 2] = 1e300
    with warnings.catch_warnings():
        warnings.simplefilter("error")     # NumPy's "overflow encountered in cast" came first
        with pytest.raises(ValueError, match=r"X holds values beyond float32's range \(largest "
                           r"\|value\| 1e\+300.*use a network of dtype float64"):
            net.fit(X, rng.integers(0, 2, 10), epochs=1, verbose=False)
        with pytest.raises(ValueError, match="X holds values beyond float32's range"):
            net.predict(X)


@pytest.mark.skipif(np.finfo(np.longdouble).max <= np.finfo(np.float64).max,
                    reason="long double is double here")
def test_long_double_data_beyond_float64s_range_is_named_with_its_value(rng):
    # a float64 network was told to "use a network of dtype float64", and the
    # largest value read "inf" (1e400 as a Python float)
    net = Network([2, 3, 1], dtype="float64", seed=0)
    X = np.full((2, 4), np.longdouble("1e400"))
    with pytest.raises(ValueError, match=r"X holds values beyond float64's range \(largest "
                       r"\|value\| 1e\+400, .*\): scale the data$"):
        net.predict(X)


def test_validation_labels_out_of_range_name_Y_val(rng):
    # a bad Y and a bad Y_val gave the same message
    net = Network([4, 5, 3], output="softmax", seed=0)
    X, y = rng.standard_normal((4, 30)), np.arange(30) % 3
    with pytest.raises(ValueError, match=r"class labels Y_val must be in 0\.\.2"):
        net.fit(X, y, verbose=False, validation_data=(X, y + 1))
    with pytest.raises(ValueError, match=r"class labels Y must be in 0\.\.2"):
        net.fit(X, y + 1, verbose=False, validation_data=(X, y))


def test_float64_targets_beyond_float32s_range_are_named(rng):
    # a regression target of 1e39 became inf: fit returned with every
    # parameter NaN and predict gave NaN
    net = Network([3, 4, 1], "relu", "identity", dtype="float32", seed=0)
    X, y = rng.standard_normal((3, 10)), rng.standard_normal((1, 10))
    y[0, 4] = 1e39
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="Y holds values beyond float32's range"):
            net.fit(X, y, epochs=1, verbose=False)
    assert np.isfinite(net.flat_parameters).all()


@pytest.mark.parametrize("fn", ["loss", "output_delta"])
@pytest.mark.parametrize("loss", ["mse", "poisson"])
def test_layer_functions_name_float64_targets_beyond_a_float32_als_range(fn, loss):
    # fastbp.loss / output_delta of a float32 AL read a float64 Y as float32:
    # a target of 1e39 gave inf (NumPy's reference, promoting to float64,
    # gives a finite value); a float64 AL takes the same Y
    AL = np.full((1, 4), 2.0, np.float32)
    Y = np.array([[1e39, 1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match=r"Y holds values beyond float32's range \(largest "
                                         r"\|value\| 1e\+39"):
        getattr(fastbp, fn)(AL, Y, loss)
    got = getattr(fastbp, fn)(AL.astype(np.float64), Y, loss)
    assert np.all(np.isfinite(got))
    Y[0, 0] = 3e38                        # within float32's range: computed as before
    assert np.all(np.isfinite(getattr(fastbp, fn)(AL, Y, "mse")))


def test_an_overflowing_last_update_is_divergence(rng):
    # every loss finite (computed in float64), the last update overflowing
    # float32: fit returned NaN parameters; an earlier epoch's would be caught
    # by the next step's loss, the last one's by nothing
    X = (rng.standard_normal((4, 16)) * 1e4).astype(np.float32)
    Y = np.zeros((1, 16), np.float32)
    Y[0, 2] = 1e36
    net = fastbp.Network([4, 8, 1], "relu", "identity", seed=0)
    good = net.flat_parameters.copy()
    with pytest.raises(FloatingPointError, match="diverged in the last update of epoch 1: "
                       "the loss was finite, but the parameters it left are not"):
        net.fit(X, Y, epochs=1, verbose=False, optimizer=fastbp.SGD(0.01))
    np.testing.assert_array_equal(net.flat_parameters, good)     # put back


def test_layer_messages_for_common_mistakes(rng):
    AL = fastbp.softmax(rng.standard_normal((4, 6)))
    y = np.array([0, 1, 3, 2, 1, 0])
    for f in (lambda: fastbp.loss(AL, y, "crossentropy"),
              lambda: fastbp.output_delta(AL, y, "crossentropy")):
        with pytest.raises(ValueError, match=r"take one-hot labels: for class indices y in "
                           r"0\.\.3, pass np\.eye\(4\)\[y\]\.T"):
            f()
    np.testing.assert_allclose(fastbp.loss(AL, np.eye(4)[y].T, "crossentropy"),
                               -np.mean(np.log(AL[y, np.arange(6)])), rtol=1e-12)
    # the second output overlapping the first: "the input Z" said before
    A, W, b = rng.standard_normal((5, 6)), rng.standard_normal((3, 5)), np.zeros((3, 1))
    buf = np.empty((3, 6))
    with pytest.raises(ValueError, match="Invalid out: A overlaps the output Z"):
        fastbp.dense_forward(A, W, b, "relu", out=(buf, buf))
    # pandas' nullable columns give object arrays
    net = Network([5, 3, 2], "relu", "softmax", seed=0)
    with pytest.raises(TypeError, match=r"got dtype object; an object array .* "
                       r"df\.to_numpy\(dtype=float, na_value=np\.nan\)"):
        net.fit(A.astype(object), rng.integers(0, 2, 6), epochs=1, verbose=False)


def test_parameters_of_a_deeper_network_are_refused(rng):
    net = Network([3, 4, 2], "relu", "softmax", seed=0)
    deeper = Network([3, 4, 2, 2], "relu", "softmax", seed=1).parameters
    deeper["W2"], deeper["b2"] = net.parameters["W2"] * 2, net.parameters["b2"]
    before = net.flat_parameters.copy()
    with pytest.raises(KeyError, match=r"holds \['W3', 'b3'\] but this network has 2 layer"):
        net.parameters = deeper           # W3 and b3 were ignored silently
    np.testing.assert_array_equal(net.flat_parameters, before)
    extra = dict(net.parameters, note="kept by the user")      # other keys are no layer's
    net.parameters = extra
    with pytest.raises(TypeError, match="parameters must be a dict"):
        net.parameters = list(net.parameters.values())


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


def test_a_bytes_path_that_save_takes_loads_too(tmp_path):
    # save(b"dir/model") wrote model.npz; load(b"dir/model") raised "TypeError:
    # endswith first arg must be bytes"
    net = Network([3, 4, 1], seed=0)
    net.save(os.fsencode(tmp_path / "model"))
    for p in (tmp_path / "model", tmp_path / "model.npz"):
        back = Network.load(os.fsencode(p))
        np.testing.assert_array_equal(back.flat_parameters, net.flat_parameters)
        net.restore(os.fsencode(p))


def test_save_and_restore_check_their_optimizer_argument(tmp_path):
    # save(optimizer=Optimizer(0.1)) wrote kind 'none', a file load refuses;
    # a str raised AttributeError, and restore ignored one when the file held none
    from fastbp.optim import Optimizer
    net = Network([3, 4, 1], seed=0)
    path = tmp_path / "m.npz"
    for bad in ("adam", fastbp.Adam, Optimizer(0.1)):
        with pytest.raises(TypeError, match="optimizer must be a fastbp.optim optimizer"):
            net.save(path, optimizer=bad)
        assert not path.exists()
    net.save(path)
    for bad in ("adam", Optimizer(0.1)):
        with pytest.raises(TypeError, match="optimizer must be a fastbp.optim optimizer"):
            net.restore(path, optimizer=bad)


def test_load_names_a_bad_n_threads_as_the_callers(tmp_path):
    # it was wrapped as "invalid architecture in checkpoint (n_threads must be ...)"
    path = Network([3, 4, 1], seed=0).save(tmp_path / "m.npz")
    for bad, exc in (("a", TypeError), (0, ValueError)):
        with pytest.raises(exc, match="n_threads") as err:
            Network.load(path, n_threads=bad)
        assert "checkpoint" not in str(err.value)
    assert Network.load(path, n_threads=1).n_threads == 1


def test_save_into_a_missing_directory_names_the_path(tmp_path):
    target = tmp_path / "no_such_dir" / "model.npz"
    with pytest.raises(FileNotFoundError) as info:
        Network([3, 2]).save(target)
    assert f"cannot write {str(target)!r}" in str(info.value)
    assert ".fastbp-ckpt" not in str(info.value)
    # no "previous checkpoint there is unchanged" where there is no directory
    assert str(info.value).endswith(f"(the directory {str(target.parent)!r} does not exist)")


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


# -------------------------------------------- from a fresh-user trial of the core API
def _net_and_batch(rng, dims=(3, 4, 1), m=10):
    net = Network(list(dims), seed=0, dtype="float64")
    X = rng.standard_normal((dims[0], m))
    Y = (X[:1] > 0).astype(float)
    Xc = net.check_X(X)
    Yc, yt, labels = net.check_Y(Y, m)
    return net, X, Xc, Yc, yt, labels


@pytest.mark.parametrize("case", ["float32 X", "short X", "Y fewer columns", "Y code",
                                  "n_steps 0", "n_steps -1"])
def test_train_batch_refuses_unchecked_data(rng, case):
    """train_batch / train_epoch are the checked data's fast path, but public:
    a float32 X was read as float64 (garbage loss), a 1-row X for a 200000-input
    network crashed the process, a short Y was read out of bounds."""
    import fastbp
    net, X, Xc, Yc, yt, labels = _net_and_batch(rng)
    opt = fastbp.SGD(0.1)
    before = net.flat_parameters.copy()
    args = {"float32 X": (X.astype(np.float32), Yc, yt, labels, opt),
            "short X": (Xc[:1], Yc, yt, labels, opt),
            "Y fewer columns": (Xc, Yc[:, :3], yt, labels, opt),
            "Y code": (Xc, Yc, yt + 1, labels, opt),
            "n_steps 0": (Xc, Yc, yt, labels, opt, 0),
            "n_steps -1": (Xc, Yc, yt, labels, opt, -1)}[case]
    with pytest.raises(ValueError, match="X must be|Y must be|n_steps"):
        net.train_batch(*args)
    if not case.startswith("n_steps"):
        with pytest.raises(ValueError, match="X must be|Y must be"):
            net.train_epoch(*args[:5], None, 4)
    assert np.array_equal(net.flat_parameters, before) and opt.t == 0


# an int below 1 is a ValueError, a value that is not an int a TypeError
NON_COUNTS = [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError)]


@pytest.mark.parametrize("value,exc", NON_COUNTS)
def test_effective_n_threads_and_apply_update_refuse_non_counts(rng, value, exc):
    """0 or -1 made every compiled call a silent no-op (fit's losses 0.0,
    the weights unchanged, the optimizer's t counting on)."""
    import fastbp
    net, X, Xc, Yc, yt, labels = _net_and_batch(rng)
    with pytest.raises(exc, match="effective_n_threads"):
        net.effective_n_threads = value
    net.forward(X)
    net.backward((X[:1] > 0).astype(float))
    opt = fastbp.SGD(0.1)
    with pytest.raises(exc, match="n_threads"):
        net.apply_update(opt, n_threads=value)
    assert opt.t == 0
    with pytest.raises(exc, match="n_threads"):
        net.predict_proba(X, n_threads=value)


@pytest.mark.parametrize("value,exc", NON_COUNTS)
def test_share_gradient_refuses_non_counts(rng, value, exc):
    """share_gradient's n_threads is an effective count like apply_update's:
    0 or -1 (-1 is "all cores" everywhere else) returned a loss of 0.0 and
    left the gradients as they were, silently; None takes the network's."""
    net, X, Xc, Yc, yt, labels = _net_and_batch(rng)
    net.flat_grads[...] = 7.0
    with pytest.raises(exc, match="n_threads"):
        net.share_gradient(Xc, Yc, yt, labels, Xc.shape[1], 0, value)
    assert np.all(net.flat_grads == 7.0)
    loss = net.share_gradient(Xc, Yc, yt, labels, Xc.shape[1], 0, None)
    expected, grad = net.loss_and_gradient(X, Yc)
    np.testing.assert_allclose(loss, expected, rtol=1e-12)
    np.testing.assert_allclose(net.flat_grads, grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("case", ["Y fewer columns", "Y more rows", "Y int8", "Y >f8",
                                  "weights short", "weights list"])
def test_evaluate_sums_refuses_unchecked_targets_and_weights(rng, case):
    """evaluate_sums (public: the evaluation in shares) read Y and the weights
    as they were: a short Y out of bounds, a Y of 3 rows for 1 output gave an
    accuracy sum above m, Y dtypes the kernels do not read a KeyError, and a
    list of weights crashed the process."""
    net, X, Xc, Yc, yt, labels = _net_and_batch(rng)
    m = Xc.shape[1]
    Y, sw = {"Y fewer columns": (Yc[:, :3], None),
             "Y more rows": (np.ones((3, m)), None),
             "Y int8": (Yc.astype(np.int8), None),
             "Y >f8": (Yc.astype(">f8"), None),
             "weights short": (Yc, np.ones(3)),
             "weights list": (Yc, [1.0] * m)}[case]
    with pytest.raises((ValueError, TypeError), match="Y must be as Network.check_Y|"
                                                      "sample_weight must be"):
        net.evaluate_sums(Xc, Y, labels, sw)
    loss, correct = net.evaluate_sums(Xc, Yc.tolist(), labels)     # as check_Y would give
    assert (loss, correct) == net.evaluate_sums(Xc, Yc, labels)


@pytest.mark.parametrize("method", ["train_batch", "train_epoch", "share_gradient",
                                    "evaluate_sums"])
@pytest.mark.parametrize("make", [lambda X: X.tolist(), lambda X: None])
def test_checked_data_paths_name_an_X_that_is_no_array(rng, method, make):
    """A list (or None) X raised AttributeError: 'list' object has no
    attribute 'shape' from the fast paths that read X's shape first."""
    net, X, Xc, Yc, yt, labels = _net_and_batch(rng)
    opt = fastbp.SGD(0.1)
    before = net.flat_parameters.copy()
    args = {"train_batch": (Yc, yt, labels, opt),
            "train_epoch": (Yc, yt, labels, opt, None, 4),
            "share_gradient": (Yc, yt, labels, Xc.shape[1], 0, None),
            "evaluate_sums": (Yc, labels)}[method]
    with pytest.raises(TypeError, match="X must be .* as Network.check_X returns it"):
        getattr(net, method)(make(Xc), *args)
    assert np.array_equal(net.flat_parameters, before) and opt.t == 0


@pytest.mark.parametrize("method", ["train_batch", "train_epoch", "share_gradient"])
def test_checked_data_paths_name_a_Y_that_is_no_array(rng, method):
    """A list Y raised Cython's "Argument 'Y' has incorrect type (expected
    numpy.ndarray, got list)", which said nothing of check_Y."""
    net, X, Xc, Yc, yt, labels = _net_and_batch(rng)
    opt = fastbp.SGD(0.1)
    before = net.flat_parameters.copy()
    args = {"train_batch": (yt, labels, opt),
            "train_epoch": (yt, labels, opt, None, 4),
            "share_gradient": (yt, labels, Xc.shape[1], 0, None)}[method]
    with pytest.raises(TypeError, match=r"Y must be as Network.check_Y returns it .*"
                                        r"\(got list\); pass Y through net.check_Y"):
        getattr(net, method)(Xc, Yc.tolist(), *args)
    assert np.array_equal(net.flat_parameters, before) and opt.t == 0


@pytest.mark.parametrize("columns", [slice(None), slice(0, 1)])
def test_a_field_of_a_structured_array_is_copied_for_the_kernels(rng, columns):
    """X = records['features'].T (records of 44 bytes: strides (8, 44)) passed
    check_X's layout rule unchanged, and predict / fit / train_step then
    raised the kernel's 'pass X through net.check_X first', which the user
    had just done; one column of it (5, 1) too (a dimension of one)."""
    rec = np.zeros(20, dtype=[("f", "f8", (5,)), ("g", "i4")])
    rec["f"] = rng.standard_normal((20, 5))
    X = rec["f"].T[:, columns]
    assert X.strides[1] % X.itemsize          # not whole elements
    plain = np.array(X)
    y = (plain[0] > 0).astype(int)
    net = Network([5, 4, 1], seed=0, dtype="float64")
    Xc = net.check_X(X)
    assert all(s % Xc.itemsize == 0 for s in Xc.strides)
    np.testing.assert_array_equal(Xc, plain)
    np.testing.assert_array_equal(net.predict_proba(X), net.predict_proba(plain))
    twin = Network([5, 4, 1], seed=0, dtype="float64")
    assert net.train_step(X, y, fastbp.SGD(0.1)) == twin.train_step(plain, y, fastbp.SGD(0.1))
    np.testing.assert_array_equal(net.flat_parameters, twin.flat_parameters)


@pytest.mark.parametrize("output", ["identity", "softmax"])
def test_one_example_of_a_structured_array_is_copied_for_the_kernels(rng, output):
    """Y = records['y'].T[:, :1] (one example, strides (8, 68)) or the class
    label records['c'][:1] (stride 68) kept its stride through check_Y's
    ascontiguousarray (a dimension of one), and train_step, fit, evaluate and
    backward raised the kernel's 'pass Y through net.check_Y first'."""
    rec = np.zeros(3, dtype=[("y", "f8", (2,)), ("c", "i8"), ("g", "i4")])
    rec["y"] = rng.random((3, 2))
    rec["c"] = [1, 0, 1]
    Y = rec["c"][:1] if output == "softmax" else rec["y"].T[:, :1]
    assert Y.strides[-1] % Y.itemsize
    X = rng.standard_normal((5, 1))
    net = Network([5, 4, 2], output=output, seed=0, dtype="float64")
    twin = Network([5, 4, 2], output=output, seed=0, dtype="float64")
    assert net.train_step(X, Y, fastbp.SGD(0.1)) == twin.train_step(X, np.array(Y),
                                                                     fastbp.SGD(0.1))
    np.testing.assert_array_equal(net.flat_parameters, twin.flat_parameters)
    assert net.evaluate(X, Y)[0] == twin.evaluate(X, np.array(Y))[0]


def test_unaligned_sample_weight_is_copied_for_the_kernels(rng):
    """Weights read with np.frombuffer at an odd offset are C-contiguous but
    not aligned: check_sample_weight's ascontiguousarray kept them so, and
    train_step, fit and loss_and_gradient raised the kernel's 'as
    Network.check_sample_weight returns it'."""
    net, X, Xc, Yc, yt, labels = _net_and_batch(rng)
    m = X.shape[1]
    w = rng.random(m) + 0.5
    sw = np.frombuffer(b"\0" + w.tobytes(), dtype=np.float64, offset=1)
    assert not sw.flags.aligned
    checked = net.check_sample_weight(sw, m)
    assert checked.flags.aligned and np.array_equal(checked, w)
    twin = Network(list(net.layer_dims), seed=0, dtype="float64")
    assert net.loss_and_gradient(X, Yc, sample_weight=sw)[0] == \
        twin.loss_and_gradient(X, Yc, sample_weight=w)[0]
    assert net.train_step(X, Yc, fastbp.SGD(0.1), sample_weight=sw) == \
        twin.train_step(X, Yc, fastbp.SGD(0.1), sample_weight=w)
    np.testing.assert_array_equal(net.flat_parameters, twin.flat_parameters)


@pytest.mark.parametrize("n_steps", [2.5, "2", None, True])
def test_train_batch_names_n_steps_that_is_no_int(rng, n_steps):
    """n_steps=2.5 raised "'float' object cannot be interpreted as an integer"
    (n_steps=True ran one step)."""
    net, X, Xc, Yc, yt, labels = _net_and_batch(rng)
    opt = fastbp.SGD(0.1)
    before = net.flat_parameters.copy()
    with pytest.raises(TypeError, match="n_steps must be an int >= 1, got"):
        net.train_batch(Xc, Yc, yt, labels, opt, n_steps)
    assert np.array_equal(net.flat_parameters, before) and opt.t == 0
    assert net.train_batch(Xc, Yc, yt, labels, opt, np.int64(2)) is not None and opt.t == 2


@pytest.mark.parametrize("m", [0, -3, 0.0, float("nan"), None, True])
def test_evaluate_finish_names_an_m_that_is_no_count(rng, m):
    """m = 0 raised a bare ZeroDivisionError, m = -3 returned a negative loss."""
    net, X, Xc, Yc, yt, labels = _net_and_batch(rng)
    with pytest.raises(ValueError, match="m .* must be a number > 0, got"):
        net.evaluate_finish(1.0, 3.0, m)
    assert net.evaluate_finish(1.0, 3.0, 4) == (0.25, 0.75)


@pytest.mark.parametrize("hidden", ["leaky_relu", "elu"])
def test_alpha_beyond_float32s_range_is_refused_in_a_float32_network(rng, hidden):
    """alpha=1e39 was taken; the float32 kernels used inf, every output was
    NaN, and fit said 'training diverged ... lower the learning rate'."""
    with pytest.raises(ValueError, match=r"alpha=1e\+39 is beyond float32's range"):
        Network([3, 4, 1], hidden=hidden, alpha=1e39, seed=0)
    net = Network([3, 4, 1], hidden=hidden, alpha=1e39, dtype="float64", seed=0)
    assert net.alpha == 1e39
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # alpha has no effect with tanh: warned only
        assert Network([3, 4, 1], hidden="tanh", alpha=1e39, seed=0).alpha == 1e39


@pytest.mark.parametrize("loss_total", ["0", None, [0.0]])
def test_train_epoch_names_a_loss_total_that_is_no_number(rng, loss_total):
    """loss_total="0" raised the kernel's "must be real number, not str",
    naming no argument."""
    net, X, Xc, Yc, yt, labels = _net_and_batch(rng)
    opt = fastbp.SGD(0.1)
    before = net.flat_parameters.copy()
    with pytest.raises(TypeError, match="loss_total must be a real number, got"):
        net.train_epoch(Xc, Yc, yt, labels, opt, None, 4, loss_total=loss_total)
    assert np.array_equal(net.flat_parameters, before) and opt.t == 0
    total, done = net.train_epoch(Xc, Yc, yt, labels, opt, None, 4, loss_total=np.float32(1))
    assert done == 3 and total > 1.0


_NOT_AN_INT = (TypeError, "y_code must be the int code Network.check_Y returns")
_NOT_A_CODE = (ValueError, r"y_code must be the code Network.check_Y returns with Y "
                           r"\(an int in \[0, 2\*\*31\)\), got")


@pytest.mark.parametrize("method", ["train_batch", "train_epoch", "share_gradient"])
@pytest.mark.parametrize("y_code, error", [
    ("4", _NOT_AN_INT), (1.0, _NOT_AN_INT), (None, _NOT_AN_INT), (True, _NOT_AN_INT),
    (-1, _NOT_A_CODE), (2**31, _NOT_A_CODE), (2**70, _NOT_A_CODE),
    (np.int64(2**40), _NOT_A_CODE)])
def test_checked_data_paths_name_a_y_code_that_is_no_code(rng, method, y_code, error):
    """y_code "4" or 1.0 raised the kernel's conversion error "an integer is
    required", naming no argument (True was taken as code 1); 2**31 or
    beyond its OverflowError "Python int too large to convert to C long"."""
    net, X, Xc, Yc, yt, labels = _net_and_batch(rng)
    opt = fastbp.SGD(0.1)
    before = net.flat_parameters.copy()
    args = {"train_batch": (labels, opt),
            "train_epoch": (labels, opt, None, 4),
            "share_gradient": (labels, Xc.shape[1], 0, None)}[method]
    with pytest.raises(error[0], match=error[1]):
        getattr(net, method)(Xc, Yc, y_code, *args)
    assert np.array_equal(net.flat_parameters, before) and opt.t == 0
    getattr(net, method)(Xc, Yc, np.int64(yt), *args)       # an int of NumPy's works


def test_parameters_dict_is_a_new_dict_of_views(rng):
    """The course's update pattern rebinds keys of the dict it holds: with the
    network's own dict, the network's views were replaced and it trained
    weights no one could see any more."""
    net, X, Xc, Yc, yt, labels = _net_and_batch(rng)
    p = net.parameters
    p["W1"] = p["W1"] - 1.0                    # rebinds this dict's key only
    assert not np.array_equal(net.parameters["W1"], p["W1"])
    net.parameters["W1"][...] = 0.0            # writing into a view reaches the network
    assert not net.flat_parameters[:12].any()
    net.parameters = p                         # and so does assigning the dict back
    np.testing.assert_array_equal(net.parameters["W1"], p["W1"])
    g = net.grads
    g["dW1"] = None
    assert net.grads["dW1"] is not None


@pytest.mark.parametrize("value", ["no", None, 0, "False"])
def test_flags_of_predict_proba_and_loss_and_gradient_are_bools(rng, value):
    """As forward's ``training``: a string was truthy and None falsy, so
    check_finite=None skipped the NaN check and check_targets="False" checked."""
    net, X, Xc, Yc, yt, labels = _net_and_batch(rng)
    X[0, 0] = np.nan
    with pytest.raises(TypeError, match="check_finite must be True or False, got "):
        net.predict_proba(X, check_finite=value)
    for flag in ("check_targets", "ensure_non_negative"):
        with pytest.raises(TypeError, match=f"{flag} must be True or False"):
            net.loss_and_gradient(Xc, Yc, **{flag: value})
    net.predict_proba(X, check_finite=np.False_)


def test_backward_returns_a_new_dict_of_views(rng):
    """backward returned the network's own dict: rebinding one of its keys
    (the course's ``grads["dW1"] = grads["dW1"] * 0.5``) detached net.grads
    from the gradient buffer for good, and it showed that stale array after
    every later backward."""
    net, X, Xc, Yc, yt, labels = _net_and_batch(rng)
    net.forward(X)
    g = net.backward(Yc)
    assert all(np.shares_memory(v, net.flat_grads) for v in g.values())
    g["dW1"] = g["dW1"] * 0.0
    net.forward(X)
    net.backward(Yc)
    assert np.shares_memory(net.grads["dW1"], net.flat_grads)
    assert net.grads["dW1"].any()


@pytest.mark.parametrize("bad, exc", [
    ({"W1": np.ones((2, 2, 3))}, ValueError), ({"W1": np.ones(12)}, ValueError),
    ({"b2": np.ones((1, 2))}, ValueError), ({"W2": np.ones((1, 4)) * 1j}, TypeError),
    ({"b1": None}, TypeError)])
def test_parameters_assignment_checks_everything_before_writing(rng, bad, exc):
    net, X, Xc, Yc, yt, labels = _net_and_batch(rng)
    before = net.flat_parameters.copy()
    new = {k: v + 1.0 for k, v in net.parameters.items()}
    new.update(bad)
    with pytest.raises(exc):
        net.parameters = new
    np.testing.assert_array_equal(net.flat_parameters, before)   # nothing written
    missing = {k: v + 1.0 for k, v in net.parameters.items() if k != "b2"}
    with pytest.raises(KeyError):
        net.parameters = missing
    np.testing.assert_array_equal(net.flat_parameters, before)


def test_parameters_assignment_of_the_networks_own_views_swapped():
    """Each array was copied in turn from the network's buffer: W2 then read
    W1 already overwritten, and both layers ended up with W2's weights."""
    net = Network([3, 3, 3, 3], seed=0)
    p = net.parameters
    old = {k: v.copy() for k, v in p.items()}
    net.parameters = {**p, "W1": p["W2"], "W2": p["W1"], "b1": p["b3"], "b3": p["b1"][:, 0]}
    got = net.parameters
    for key, src in (("W1", "W2"), ("W2", "W1"), ("b1", "b3"), ("b3", "b1"), ("W3", "W3")):
        np.testing.assert_array_equal(got[key], old[src])


def test_parameters_assignment_refuses_a_pending_backward(rng):
    """backward after new parameters would mix the old forward's activations
    with the new weights."""
    net, X, Xc, Yc, yt, labels = _net_and_batch(rng)
    net.forward(X)
    net.parameters = {k: v * 0.5 for k, v in net.parameters.items()}
    with pytest.raises(RuntimeError):
        net.backward((X[:1] > 0).astype(float))


def test_checkpoint_names_without_npz_are_found_again(rng, tmp_path):
    """save/fit write NAME.npz (NumPy adds the suffix); load and resume
    looked for NAME, so resume silently retrained from scratch."""
    import fastbp
    X = rng.standard_normal((3, 40))
    Y = (X[:1] > 0).astype(float)
    net = Network([3, 4, 1], seed=0, dtype="float64")
    net.save(str(tmp_path / "model"))
    np.testing.assert_array_equal(Network.load(str(tmp_path / "model")).flat_parameters,
                                  net.flat_parameters)
    path = str(tmp_path / "ckpt")
    net.fit(X, Y, epochs=2, optimizer=fastbp.Adam(0.01), checkpoint_path=path, verbose=False)
    again = Network([3, 4, 1], seed=0, dtype="float64")
    hist = again.fit(X, Y, epochs=3, checkpoint_path=path, resume=True, verbose=False)
    # continued from epoch 2 (one step per epoch of 40 examples), not restarted
    assert len(hist["loss"]) == 3
    assert again.step_count == net.step_count + 1
    assert again.optimizer.t == net.optimizer.t + 1


def test_resume_refuses_another_architecture_or_optimizer_and_changes_nothing(rng, tmp_path):
    import fastbp
    X = rng.standard_normal((3, 40))
    Y = (X[:1] > 0).astype(float)
    path = str(tmp_path / "run.npz")
    Network([3, 4, 1], "tanh", seed=0, dtype="float64").fit(
        X, Y, epochs=1, optimizer=fastbp.Adam(0.01), checkpoint_path=path, verbose=False)
    other = Network([3, 4, 1], "relu", seed=1, dtype="float64")
    before = other.flat_parameters.copy()
    with pytest.raises(ValueError, match="hidden=.*tanh.*relu"):
        other.fit(X, Y, epochs=2, optimizer=fastbp.Adam(0.01), checkpoint_path=path,
                  resume=True, verbose=False)
    same = Network([3, 4, 1], "tanh", seed=1, dtype="float64")
    with pytest.raises(ValueError, match="the checkpoint's optimizer is Adam"):
        same.fit(X, Y, epochs=2, optimizer=fastbp.SGD(0.1), checkpoint_path=path,
                 resume=True, verbose=False)
    np.testing.assert_array_equal(other.flat_parameters, before)
    # no optimizer given: the checkpoint's is used
    same.fit(X, Y, epochs=2, checkpoint_path=path, resume=True, verbose=False)
    assert isinstance(same.optimizer, fastbp.Adam)


@pytest.mark.parametrize("damage, match", [
    (lambda a: a[:-1], "is missing or has the wrong size"),
    (lambda a: a.astype(str), "is <U"),
    (lambda a: a.astype(np.float32), "is float32, not the network's float64"),
    (lambda a: a.astype(np.complex128), "is complex128"),
    (lambda a: np.where(np.arange(a.size) == 0, np.nan, a), "contains NaN or inf"),
])
def test_resume_from_a_damaged_optimizer_state_changes_nothing(rng, tmp_path, damage, match):
    # of another dtype or NaN, the state was copied into the bound buffers:
    # numeric strings parsed, complex values lost their imaginary parts with
    # a warning, NaN loaded
    import fastbp
    X = rng.standard_normal((3, 40))
    Y = (X[:1] > 0).astype(float)
    net = Network([3, 4, 1], seed=0, dtype="float64")
    net.fit(X, Y, epochs=1, optimizer=fastbp.Adam(0.01), verbose=False)
    path = net.save(str(tmp_path / "a.npz"))
    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    data["opt_state_1"] = damage(data["opt_state_1"])
    np.savez(path, **data)
    fresh = Network([3, 4, 1], seed=5, dtype="float64")
    before, step = fresh.flat_parameters.copy(), fresh.step_count
    with pytest.raises(ValueError, match=f"optimizer state buffer 1 {match}"):
        fresh.restore(path)
    np.testing.assert_array_equal(fresh.flat_parameters, before)
    assert fresh.step_count == step


def test_save_refuses_a_copied_optimizer_state_of_another_dtype(rng, tmp_path):
    # a copy of a float32 network's Adam saved with a float64 network of the
    # same size wrote a checkpoint that restore refuses (or cast its state)
    import copy

    import fastbp
    X = rng.standard_normal((3, 40))
    Y = (X[:1] > 0).astype(float)
    net = Network([3, 4, 1], seed=0)
    opt = fastbp.Adam(0.01)
    net.fit(X, Y, epochs=1, optimizer=opt, verbose=False)
    other = Network([3, 4, 1], seed=0, dtype="float64")
    with pytest.raises(ValueError, match="holds the state of another network"):
        other.save(tmp_path / "a.npz", optimizer=copy.deepcopy(opt))
    assert not (tmp_path / "a.npz").exists()


def test_nan_in_X_val_is_refused_before_any_update(rng):
    import fastbp
    X = rng.standard_normal((3, 40))
    Y = (X[:1] > 0).astype(float)
    Xv = X[:, :5].copy()
    Xv[0, 0] = np.nan
    net = Network([3, 4, 1], seed=0, dtype="float64")
    before = net.flat_parameters.copy()
    opt = fastbp.Adam(0.01)
    with pytest.raises(ValueError, match="X_val"):
        net.fit(X, Y, epochs=2, optimizer=opt, validation_data=(Xv, Y[:, :5]), verbose=False)
    np.testing.assert_array_equal(net.flat_parameters, before)
    assert opt.t == 0


def test_plan_attributes_are_fixed_and_lambd_is_checked():
    net = Network([3, 4, 1], "tanh", seed=0)
    for name, value in (("hidden", ("relu",)), ("keep_prob", (0.5,)), ("output", "identity"),
                        ("layer_dims", (3, 5, 1)), ("dtype", np.float64), ("alpha", 0.3)):
        with pytest.raises(AttributeError, match=f"{name} is fixed"):
            setattr(net, name, value)
    assert net.hidden == ("tanh",) or list(net.hidden) == ["tanh"]
    for bad in (float("nan"), -5, "0.1"):
        with pytest.raises((ValueError, TypeError), match="lambd"):
            net.lambd = bad
    net.lambd = 0.25
    assert net.lambd == 0.25 and "lambd=0.25" in repr(net)


def test_save_refuses_the_optimizer_of_another_network(rng, tmp_path):
    import fastbp
    X = rng.standard_normal((3, 10))
    Y = (X[:1] > 0).astype(float)
    other = Network([3, 7, 1], seed=0, dtype="float64")
    opt = fastbp.Adam(0.01)
    other.train_step(X, Y, opt)
    net = Network([3, 4, 1], seed=0, dtype="float64")
    with pytest.raises(ValueError, match="another network"):
        net.save(str(tmp_path / "x.npz"), optimizer=opt)


def test_fit_seed_and_dataset_arguments_are_checked():
    from fastbp import datasets
    net = Network([2, 1], seed=0)
    with pytest.raises(TypeError, match="seed must be"):
        net.fit(np.ones((2, 4)), np.ones((1, 4)), seed="a", verbose=False)
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        datasets.make_image_like_dataset(m=3, n_px=4, dtype=int)   # was all zeros
    with pytest.raises(TypeError, match="m must be an int"):
        datasets.make_image_like_dataset(m=1.5, n_px=4)


def test_reset_parameters_checks_its_seed_as_the_constructor_does():
    # NumPy's own messages came through ("expected non-negative integer";
    # "... for entropy not 3" for the string '3')
    net = Network([3, 4, 2], seed=0)
    before = net.flat_parameters.copy()
    for bad, exc in ((-1, ValueError), (1.5, TypeError), ("3", TypeError), (True, TypeError)):
        with pytest.raises(exc, match="seed must be"):
            net.reset_parameters(seed=bad)
        with pytest.raises(exc, match="seed must be"):
            Network([3, 4, 2], seed=bad)
    np.testing.assert_array_equal(net.flat_parameters, before)
    net.reset_parameters(seed=np.int64(5))
    np.testing.assert_array_equal(net.flat_parameters, Network([3, 4, 2], seed=5).flat_parameters)


@pytest.mark.parametrize("flag", ["shuffle", "resume", "training"])
def test_flags_given_as_strings_are_refused(tmp_path, flag):
    # shuffle="no" shuffled and training="no" applied dropout: any non-empty
    # string is truthy
    net = Network([3, 4, 2], "relu", "softmax", seed=0, keep_prob=0.5)
    X, y = np.ones((3, 6)), np.array([0, 1, 0, 1, 1, 0])
    before = net.flat_parameters.copy()
    for bad in ("no", "False", 0, None):
        with pytest.raises(TypeError, match=f"{flag} must be True or False"):
            if flag == "training":
                net.forward(X, training=bad)
            else:
                net.fit(X, y, epochs=1, verbose=False, checkpoint_path=tmp_path / "c",
                        **{flag: bad})
    np.testing.assert_array_equal(net.flat_parameters, before)
    assert net.step_count == 0
    # NumPy's bools are bools
    if flag == "training":
        net.forward(X, training=np.False_)
    else:
        net.fit(X, y, epochs=1, verbose=False, **{flag: np.False_})


@pytest.mark.parametrize("keep_prob", [1.0, 0.5])
def test_step_count_wraps_at_2_64_as_the_kernels_uint64_does(tmp_path, keep_prob):
    # fit from 2**64 - 3 raised a raw OverflowError mid-training and left the
    # counter above 2**64 - 1, so save() wrote a file load() refused
    X, y = np.ones((3, 5), np.float32), np.array([0, 1, 0, 1, 1])
    net = Network([3, 4, 2], output="softmax", seed=0, keep_prob=keep_prob)
    net.step_count = 2**64 - 3
    net.fit(X, y, epochs=2, batch_size=1, verbose=False)      # 10 steps
    assert net.step_count == 7
    assert Network.load(net.save(tmp_path / "w")).step_count == 7
    from fastbp.optim import SGD
    net.step_count = 2**64 - 1
    net.train_step(X, y, SGD(0.1))
    assert net.step_count == 0
    net.step_count = 2**64 - 1
    net.forward(X, training=True)
    assert net.step_count == (0 if keep_prob < 1 else 2**64 - 1)   # counted with dropout only


def test_hidden_settings_of_a_network_without_hidden_layers_are_checked_or_warned():
    # Network([3, 1], hidden="tanh", keep_prob=0.5) ignored both silently (an
    # unused alpha warned), and hidden="foo" was not even refused
    with pytest.raises(ValueError, match="unknown activation 'foo'"):
        Network([3, 1], hidden="foo")
    for kw, said in (({"hidden": "tanh"}, "hidden='tanh' has no effect"),
                     ({"keep_prob": 0.5}, "keep_prob=0.5 has no effect"),
                     ({"hidden": "tanh", "keep_prob": 0.5}, "and keep_prob=0.5 have")):
        with pytest.warns(UserWarning, match=said):
            Network([3, 1], **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        net = Network([3, 1])
        Network(**net.get_config())
        Network([3, 1], hidden=[], keep_prob=[])
        from sklearn.exceptions import ConvergenceWarning
        from fastbp.sklearn import MLPClassifier
        warnings.simplefilter("ignore", ConvergenceWarning)     # not what this is about
        X = np.random.default_rng(0).standard_normal((20, 3))
        MLPClassifier(hidden_layer_sizes=(), activation="tanh", max_iter=200,
                      solver="lbfgs").fit(X, np.arange(20) % 2)


def test_parameters_beyond_float32s_range_are_refused_not_stored_as_inf():
    # 1e300 went into a float32 network as inf with only NumPy's cast warning
    net = Network([3, 4, 2], dtype=np.float32, seed=0)
    before = net.flat_parameters.copy()
    new = {k: v.astype(np.float64) for k, v in net.parameters.items()}
    new["W2"][0, 1] = -1e300
    with pytest.raises(ValueError, match=r"parameters\['W2'\] holds values beyond float32's"):
        net.parameters = new
    np.testing.assert_array_equal(net.flat_parameters, before)
    new["W2"][0, 1] = np.nan        # NaN / inf given as such are the caller's values
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.parameters = new
    assert np.isnan(net.parameters["W2"][0, 1])
    new["W2"][0, 1] = -np.inf       # was refused as "beyond float32's range"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.parameters = new
    assert net.parameters["W2"][0, 1] == -np.inf
    net64 = Network([3, 4, 2], dtype=np.float64, seed=0)
    new["W2"][0, 1] = 1e300
    net64.parameters = new
    assert net64.parameters["W2"][0, 1] == 1e300


def test_buffers_beyond_physical_memory_are_a_memory_error(monkeypatch):
    """A network whose parameter and gradient buffers exceed the machine's
    memory: np.zeros granted them lazily and the OOM killer ended the process
    when the initialisation touched them. (The machine's memory is faked
    small, so the test allocates nothing large anywhere.)"""
    from fastbp import _validation
    monkeypatch.setattr(_validation, "physical_memory", lambda: 2**20)
    with pytest.raises(MemoryError, match=r"Network\(\[400, 400, 1\]\).*GiB.*narrower"):
        fastbp.Network([400, 400, 1])       # 2 x 160,801 float32 > 1 MiB
    monkeypatch.setattr(_validation, "physical_memory", lambda: None)
    assert fastbp.Network([400, 400, 1]).n_params == 160_801


def test_layer_dims_as_a_dict_is_refused():
    """Network({3: 0, 4: 0, 1: 0}) built a [3, 4, 1] network from the keys."""
    with pytest.raises(TypeError, match="layer_dims must be a sequence.*got a dict"):
        fastbp.Network({3: 0, 4: 0, 1: 0})


def test_fit_verbose_none_still_trains_without_a_bar(capsys):
    """verbose=None ran without a progress bar before fit checked verbose's
    type; it is kept (strings, truthy, are what the check refuses)."""
    X = np.random.default_rng(0).standard_normal((3, 20))
    net = fastbp.Network([3, 4, 1], dtype="float64", seed=0)
    h = net.fit(X, (X[:1] > 0) * 1.0, epochs=2, batch_size=10, verbose=None)
    assert len(h["loss"]) == 2
    assert capsys.readouterr().err == ""


def test_alpha_as_a_0d_array_is_taken_as_scale_and_lambd_are(rng):
    """alpha=np.array(0.1) was a TypeError ("a real number or None, got
    ndarray") in the layers and the Network, while dense_backward's scale and
    lambd took a 0-d array as the number it holds; a 0-d bool array and a
    1-element 1-d array stay refused."""
    from fastbp import reference
    A = rng.standard_normal((4, 5))
    W = rng.standard_normal((3, 4))
    b = rng.standard_normal((3, 1))
    dZ = rng.standard_normal((3, 5))
    Z = rng.standard_normal((4, 5))
    got = fastbp.dense_forward(A, W, b, "leaky_relu", alpha=np.array(0.3))
    want = fastbp.dense_forward(A, W, b, "leaky_relu", alpha=0.3)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(want[0], reference.dense_forward(A, W, b, "leaky_relu", alpha=0.3)[0])
    got = fastbp.dense_backward(dZ, A, W, "leaky_relu", Z_prev=Z, alpha=np.array(0.3))
    want = fastbp.dense_backward(dZ, A, W, "leaky_relu", Z_prev=Z, alpha=0.3)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert Network([3, 4, 1], hidden="leaky_relu", alpha=np.array(0.25), seed=0).alpha == 0.25
    assert Network([3, 4, 1], hidden="elu", alpha=np.array(2), seed=0).alpha == 2.0
    for bad in (np.array(True), np.array([0.3]), np.array("0.3")):
        with pytest.raises(TypeError, match="alpha"):
            fastbp.dense_forward(A, W, b, "leaky_relu", alpha=bad)
        with pytest.raises(TypeError, match="alpha"):
            Network([3, 4, 1], hidden="leaky_relu", alpha=bad)


def test_low_level_scalars_take_0d_arrays_as_their_numbers(rng):
    """The one-type-test checks of the per-step paths refused a 0-d array
    for n_steps, y_code, loss_total and evaluate_finish's m (TypeError /
    ValueError), which the kernel's conversion had taken; hyperparameters
    such as an optimizer's lr were refused too. Each now counts as the
    number it holds and gives the result the number gives."""
    net, X, Xc, Yc, yt, labels = _net_and_batch(rng)
    twin, _, _, _, _, _ = _net_and_batch(np.random.default_rng(0))
    twin.flat_parameters[...] = net.flat_parameters
    twin.parameters_changed()
    opt_a, opt_b = fastbp.Adam(np.array(0.01)), fastbp.Adam(0.01)
    assert opt_a.lr == 0.01 and type(opt_a.lr) is float
    got = net.train_batch(Xc, Yc, np.array(yt), labels, opt_a, np.array(2))
    want = twin.train_batch(Xc, Yc, yt, labels, opt_b, 2)
    assert got == want and np.array_equal(net.flat_parameters, twin.flat_parameters)
    got = net.train_epoch(Xc, Yc, np.array(yt), labels, opt_a, None, 4,
                          loss_total=np.array(1.5))
    want = twin.train_epoch(Xc, Yc, yt, labels, opt_b, None, 4, loss_total=1.5)
    assert got == want and np.array_equal(net.flat_parameters, twin.flat_parameters)
    assert net.evaluate_finish(1.0, 3.0, np.array(4)) == net.evaluate_finish(1.0, 3.0, 4)
    for bad in (np.array([2]), np.array(True)):
        with pytest.raises(TypeError, match="n_steps"):
            net.train_batch(Xc, Yc, yt, labels, opt_a, bad)
