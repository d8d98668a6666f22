"""Every message template names the argument and the offending value (issue 12, item 3).

A table: each row calls one check of fastbp._validation (or a public function
whose message is built there) with one bad argument and lists what the
message must contain -- the argument's name and the value found -- so a field
that goes missing from a template (``"Z of layer  has shape"``) fails here.
Every message is also checked for the marks of an empty field: a doubled
space, ``{}``, ``()`` or a dangling ``: ;``.
"""
import os
import re

import numpy as np
import pytest

import fastbp
from fastbp import _validation as v
from fastbp import course
from fastbp._registry import ACTIVATIONS, LABEL_DTYPES, OUTPUT_LOSS
from fastbp.optim import Optimizer

F32 = np.dtype(np.float32)
NAN = float("nan")


def _row(fn, args, kwargs, exc, *needles):
    return pytest.param(fn, args, kwargs, exc, needles,
                        id=f"{getattr(fn, '__name__', fn)}-{'|'.join(needles)}"[:90])


CASES = [
    # --- network, labels, optimizer and training arguments
    _row(v.check_real, ("lr", -1.5), dict(low=0.0), ValueError, "lr", "-1.5"),
    _row(v.check_real, ("beta1", "x"), {}, TypeError, "beta1", "'x'"),
    _row(v.check_real, ("eps", float("inf")), {}, ValueError, "eps", "inf"),
    _row(v.check_positive_int, ("step_size", 0), {}, ValueError, "step_size", "0"),
    _row(v.check_positive_int, ("step_size", 2.5), {}, TypeError, "step_size", "float 2.5"),
    _row(v.check_positive_int, ("step_size", "10"), {}, TypeError, "step_size", "str '10'"),
    _row(v.check_positive_int, ("step_size", True), {}, TypeError, "step_size", "bool True"),
    _row(v.check_layer_dims, (5,), {}, TypeError, "layer_dims", "5"),
    _row(v.check_layer_dims, ([3],), {}, ValueError, "layer_dims", "[3]"),
    _row(v.check_layer_dims, ([3, 0],), {}, ValueError, "layer_dims[1]", "0"),
    _row(v.check_layer_dims, ([3, 2.5],), {}, TypeError, "layer_dims[1]", "2.5"),
    _row(v.check_hidden, ("swish7", 2, ACTIVATIONS), {}, ValueError, "hidden", "'swish7'"),
    _row(v.check_hidden, (["relu"], 3, ACTIVATIONS), {}, ValueError, "hidden", "['relu']"),
    _row(v.check_output, ("tanh", 1, OUTPUT_LOSS), {}, ValueError, "output", "'tanh'"),
    _row(v.check_output, ("softmax", 1, OUTPUT_LOSS), {}, ValueError, "softmax", "got 1"),
    _row(v.check_alpha, ("x",), {}, TypeError, "alpha", "'x'"),
    _row(v.check_alpha, (float("inf"),), {}, ValueError, "alpha", "inf"),
    _row(v.check_float_dtype, ("int8",), {}, TypeError, "dtype", "int8"),
    _row(v.check_choice, ("init", "glorot9", ("he",)), {}, ValueError, "init", "'glorot9'"),
    _row(v.check_seed, (-3,), {}, ValueError, "seed", "-3"),
    _row(v.check_seed, (1.5,), {}, TypeError, "seed", "1.5"),
    _row(v.check_lambd, (-0.5,), {}, ValueError, "lambd", "-0.5"),
    _row(v.check_lambd, ("big",), {}, TypeError, "lambd", "'big'"),
    _row(v.check_keep_prob, (1.5, 2), {}, ValueError, "keep_prob", "1.5"),
    _row(v.check_keep_prob, ([0.5], 3), {}, ValueError, "keep_prob", "[0.5]"),
    _row(v.check_keep_prob, ("ab", 3), {}, TypeError, "keep_prob", "'ab'"),
    _row(v.check_X, (np.ones(3), 3, F32), {}, ValueError, "X", "(3,)"),
    _row(v.check_X, (np.ones((2, 5)), 3, F32, "X_val"), {}, ValueError, "X_val", "(2, 5)"),
    _row(v.check_X, (np.array([["a"]]), 1, F32), {}, TypeError, "X", "<U1"),
    _row(v.check_Y, (np.ones((2, 5)), 5, 1, "sigmoid", F32, LABEL_DTYPES), {}, ValueError,
         "Y", "(2, 5)"),
    _row(v.check_Y, (np.ones(4), 5, 3, "softmax", F32, LABEL_DTYPES), {}, TypeError,
         "Y", "float64"),
    _row(v.check_Y, (np.array([1, 2, 2]), 3, 1, "sigmoid", F32, LABEL_DTYPES), {},
         ValueError, "Y", "1..2"),
    _row(v.check_targets, (np.array([[0.0, 2.0, 1.0]]), "binary_crossentropy", 1), {},
         ValueError, "Y", "{2}", "1 of 3", "[0, 1]"),
    _row(v.check_targets, (np.array([[0.0, -1.0]]), "binary_crossentropy", 1),
         dict(name="Y_val"), ValueError, "Y_val", "{-1}"),
    _row(v.check_targets, (np.array([[0.0, NAN]]), "binary_crossentropy", 1), {},
         ValueError, "Y", "nan"),
    _row(v.check_targets, (np.array([[1.0, 0.0], [2.0, 1.0]]), "crossentropy", 2), {},
         ValueError, "Y", "{3}", "columns 0", "sum to 1"),
    _row(v.check_targets, (np.array([[1.0, -1.0], [0.0, 2.0]]), "crossentropy", 2), {},
         ValueError, "Y", "{-1}", "non-negative"),
    _row(v.check_targets, (np.array([3, 0, 5]), "crossentropy", 3), dict(labels=True),
         ValueError, "0..2", "{3, 5}", "2 of 3"),
    _row(v.check_targets, (np.array([[2.0, -0.5, np.inf]]), "poisson", 1), {},
         ValueError, "Y", "{-0.5, inf}", "2 of 3", "non-negative"),
    _row(v.check_label_range, (np.array([0, 4]), 3), {}, ValueError, "0..2", "{4}"),
    _row(v.check_finite, (np.array([1.0, NAN, np.inf]), "Y"), {}, ValueError,
         "Y", "nan", "inf", "2 of 3"),
    _row(v.check_adam_t, (0,), {}, ValueError, "t", "got 0"),
    _row(v.check_adam_t, ("one",), {}, TypeError, "t", "'one'"),
    _row(v.check_optimizer, ("sgd", Optimizer), {}, TypeError, "optimizer", "str"),
    _row(v.check_fit_args, (1.5, 1, 1, None), {}, TypeError, "epochs", "1.5"),
    _row(v.check_fit_args, (-1, 1, 1, None), {}, ValueError, "epochs", "-1"),
    _row(v.check_fit_args, (1, 0, 1, None), {}, ValueError, "batch_size", "0"),
    _row(v.check_fit_args, (1, 1, 0, None), {}, ValueError, "checkpoint_every", "0"),
    _row(v.check_fit_args, (1, 1, 1, 7), {}, TypeError, "callback", "7"),
    _row(v.check_fit_args, (1, 1, 1, None), {"verbose": "no"}, TypeError, "verbose", "'no'"),
    _row(v.check_fit_args, (1, 1, 1, None), {"verbose": "auto"}, TypeError, "verbose",
         "'auto'"),
    _row(v.check_replica_check_every, (-2,), {}, ValueError, "replica_check_every", "-2"),
    _row(v.check_n_steps, (0,), {}, ValueError, "n_steps", "0"),
    _row(v.check_n_steps, (2.5,), {}, TypeError, "n_steps", "2.5"),
    _row(v.check_validation_pair, (5,), {}, TypeError, "validation_data", "int"),
    _row(v.check_validation_pair, ({"X": np.ones((2, 3)), "y": np.ones(3)},), {}, TypeError,
         "validation_data", "dict", "'X', 'y'"),
    _row(v.check_validation_pair, ("Xy",), {}, TypeError, "validation_data", "str"),
    # --- layer kernels
    _row(v.float2d, (np.ones((2, 2), np.int64), "AL"), {}, TypeError, "AL", "int64"),
    _row(v.float2d, (np.ones(3), "A_prev"), {}, ValueError, "A_prev", "(3,)"),
    _row(v.float2d, (np.ones((0, 3)), "dZ"), {}, ValueError, "dZ", "(0, 3)"),
    _row(v.same_dtype, (np.ones(1, np.float32), "A_prev", np.ones(1), "W"), {}, TypeError,
         "A_prev", "W", "float64", "float32"),
    _row(v.out_array, (np.ones((2, 3)), "dW", 3, 2, np.ones((3, 2)), ()), {}, ValueError,
         "dW", "(3, 2)", "(2, 3)"),
    _row(v.out_array, ([1], "dZ", 1, 1, np.ones((1, 1)), ()), {}, TypeError, "dZ", "list"),
    _row(v.act_code, ("swish7", False), {}, ValueError, "activation", "'swish7'"),
    _row(v.alpha_value, ("elu", -1.0), {}, ValueError, "alpha", "-1.0", "elu"),
    _row(v.alpha_value, ("elu", "a"), {}, TypeError, "alpha", "'a'"),
    _row(v.loss_code, ("hinge",), {}, ValueError, "loss", "'hinge'"),
    _row(v.labels, (np.ones((2, 3)), np.ones((1, 3))), {}, ValueError, "Y", "(2, 3)",
         "(1, 3)"),
    _row(v.labels, (np.array([["a"]]), np.ones((1, 1))), {}, TypeError, "Y", "<U1"),
    _row(fastbp.loss, (np.ones((1, 2)), np.ones((1, 2)), "mse"), dict(from_logits="yes"),
         TypeError, "from_logits", "'yes'"),
    # --- command line
    _row(v.check_test_size, ("abc",), {}, ValueError, "--test-size", "'abc'"),
    _row(v.check_test_size, ("-3",), {}, ValueError, "--test-size", "-3"),
    _row(v.check_threads_option, (0,), {}, ValueError, "--threads", "0"),
    _row(v.parse_layers, ("64,x", 2), {}, ValueError, "--layers", "'64,x'"),
    _row(v.parse_layers, ("64,3", 2), {}, ValueError, "--layers", "3", "2"),
    _row(v.check_cli_output, ("regression", 0, "sigmoid"), {}, ValueError, "--output",
         "sigmoid"),
    _row(v.check_cli_output, ("classification", 3, "exp"), {}, ValueError, "--output exp",
         "--task classification"),
    _row(v.check_count_target, (np.array([3.0, -1.5, 0.0]), "count"), {}, ValueError,
         "--output exp", "'count'", "-1.5", "1 of 3"),
    _row(v.check_count_target, (np.array(["a", "2"], dtype=object), "count"), {}, ValueError,
         "--output exp", "'count'", "'a'"),
    # --- course API
    _row(v.course_z, (np.ones((2, 5)), (2, 3), None), {}, ValueError, "Z", "(2, 5)",
         "(2, 3)"),
    _row(v.course_z, (np.ones((2, 5)), (2, 3), 2), {}, ValueError, "layer 2", "dA2",
         "(2, 5)", "(2, 3)"),
    _row(v.course_z, (np.ones((2, 5)), (2, 3), "L"), {}, ValueError, "output layer",
         "(2, 5)", "(2, 3)"),
    _row(v.course_keep_prob, (1.5,), {}, ValueError, "keep_prob", "1.5"),
    _row(course.linear_activation_backward,
         (np.ones((2, 3)), ((np.ones((4, 3)), np.ones((2, 4)), np.ones((2, 1))),
                            np.ones((2, 5))), "relu"), {}, ValueError,
         "Z", "(2, 5)", "(2, 3)"),
]

#: marks of a field that formatted to nothing ("()" unless it calls a method: Y.ravel())
EMPTY_FIELD = re.compile(r"  |\{\}|(?<![A-Za-z_])\(\)|: ;|'' ")


@pytest.mark.parametrize("fn,args,kwargs,exc,needles", CASES)
def test_message_names_argument_and_value(fn, args, kwargs, exc, needles):
    with pytest.raises(exc) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    for needle in needles:
        assert needle in msg, f"{needle!r} missing from the message: {msg!r}"
    assert not EMPTY_FIELD.search(msg), f"an empty field in: {msg!r}"


def test_issue_example_message():
    # "labels must be 0/1 for a sigmoid output; found {1, 2}: use output='softmax' ..."
    net = fastbp.Network([2, 1], dtype="float64")
    X = np.zeros((2, 4))
    with pytest.raises(ValueError) as info:
        net.fit(X, np.array([[1.0, 2.0, 2.0, 1.0]]), verbose=False)
    msg = str(info.value)
    for needle in ("0/1", "sigmoid", "{2}", "2 of 4", "output='softmax'", "map the labels"):
        assert needle in msg, msg


# ---------------------------------------------------------------- command line
# Each row runs ``fastbp ARGS`` in this process on small files written once
# (``{d}`` is their folder) and checks the one error line it prints.

def _csv(rows, header):
    return ",".join(header) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows)


def _cli_files(d):
    two = [(i % 7, (i * 3) % 5, i % 2) for i in range(20)]
    files = {
        "ok.csv": _csv(two, ["f0", "f1", "target"]),
        "feat.csv": _csv([(r[0], r[2]) for r in two], ["f0", "target"]),
        "nofeat.csv": _csv([r[:2] for r in two], ["f0", "f1"]),
        "text_target.csv": _csv([(i, "ab"[i % 2]) for i in range(6)], ["f0", "target"]),
        "frac.csv": _csv([(i, 0.5 + i % 3) for i in range(6)], ["f0", "target"]),
        "many.csv": _csv([(i, i) for i in range(30)], ["f0", "target"]),
        "single.csv": _csv([(i, 7) for i in range(6)], ["f0", "target"]),
        "header.csv": "f0,target\n",
        "empty.csv": "",
        "notarget.csv": _csv([(i, i, i % 2) for i in range(6)], ["a", "b", "c"]),
        "twotargets.csv": _csv([(i, i % 2, i % 2) for i in range(6)],
                               ["f0", "label", "target"]),
        "missing.csv": "f0,target\n1,0\n2,1\n,0\n4,1\n",
        "textfeat.csv": _csv([("rgb"[i % 3], i % 2) for i in range(6)], ["colour", "target"]),
        "stray.csv": _csv([("x" if i == 2 else i, i % 2) for i in range(6)], ["f0", "target"]),
        "comma.tsv": "f0\ttarget\n" + "".join(f"{i},5\t{i % 2}\n" for i in range(6)),
        "inf.csv": _csv([("inf" if i == 3 else i, i % 2) for i in range(6)], ["f0", "target"]),
        "strat.csv": _csv([(i, 2 if i == 0 else i % 2) for i in range(20)], ["f0", "target"]),
        "onlytarget.csv": _csv([(i % 2,) for i in range(6)], ["target"]),
        "allna.csv": "f0,f1,target\n1,,0\n,2,1\n3,,0\n",
        "three.csv": _csv([(i, i % 3) for i in range(30)], ["f0", "target"]),
        "reg.csv": _csv([(i, i * 0.37) for i in range(20)], ["f0", "target"]),
        "notes.md": "# not a data file\n",
    }
    for name, text in files.items():
        (d / name).write_text(text)
    (d / "latin1.csv").write_bytes(b"f0,target\n1,\xe9\n")
    (d / "notzip.npz").write_text("not a zip file\n")
    (d / "sub").mkdir()
    np.savez(d / "badkeys.npz", a=np.ones((3, 2)), b=np.ones(3))
    np.savez(d / "x1d.npz", X=np.ones(6), y=np.ones(6))
    np.savez(d / "y2d.npz", X=np.ones((6, 2)), y=np.ones((6, 2)))
    np.savez(d / "disagree.npz", X=np.ones((6, 2)), y=np.ones(5))
    fastbp.Network([2, 1], seed=0).save(d / "netonly.npz")


@pytest.fixture(scope="module")
def cli_dir(tmp_path_factory):
    from fastbp.cli import main

    d = tmp_path_factory.mktemp("messages-cli")
    _cli_files(d)
    status = main(["train", "--data", str(d / "ok.csv"), "-q", "--no-compare", "--epochs",
                   "1", "--save", str(d / "model.npz")])
    assert status in (0, None)
    return d


def _cli(*args_and_needles):
    """A row: the command's arguments up to "--", then what its error line must contain."""
    i = args_and_needles.index("--")
    args, needles = args_and_needles[:i], args_and_needles[i + 1:]
    return pytest.param(args, needles, id=" ".join(args)[:70])


T = ("train", "-q", "--no-compare", "--epochs", "1", "--data")
CLI_CASES = [
    # infer_task
    _cli(*T, "{d}/text_target.csv", "--task", "regression", "--",
         "--task regression", "'target'", "'a', 'b'"),
    _cli(*T, "{d}/frac.csv", "--task", "classification", "--",
         "--task classification", "'target'", "0.5"),
    _cli(*T, "{d}/many.csv", "--", "'target'", "30 distinct", "0, 1, 2"),
    # check_classes, check_has_rows, reading
    _cli(*T, "{d}/single.csv", "--", "'target'", "single class", "7"),
    _cli(*T, "{d}/header.csv", "--", "header.csv", "no data rows"),
    _cli(*T, "{d}/empty.csv", "--", "empty.csv", "empty"),
    _cli(*T, "{d}/latin1.csv", "--", "latin1.csv", "UTF-8"),
    # find_column, find_target
    _cli(*T, "{d}/ok.csv", "--target", "nosuch", "--", "--target 'nosuch'", "'f0', 'f1'"),
    _cli(*T, "{d}/ok.csv", "--target", "9", "--", "--target 9", "3 columns", "0..2"),
    _cli(*T, "{d}/ok.csv", "--drop", "zz", "--", "--drop 'zz'", "'target'"),
    _cli(*T, "{d}/notarget.csv", "--", "--target", "'b', 'c', and 'a' read as the row index"),
    _cli(*T, "{d}/twotargets.csv", "--", "'label', 'target'", "--target"),
    # check_no_missing, check_numeric_features, check_finite_features
    _cli(*T, "{d}/missing.csv", "--", "1 row", "line 4", "'f0'", "--dropna"),
    _cli(*T, "{d}/textfeat.csv", "--", "'colour'", "'r', 'g', 'b'", "--drop colour"),
    _cli(*T, "{d}/stray.csv", "--", "'f0'", "1 value that is not a number", "'x'", "of 6"),
    _cli(*T, "{d}/comma.tsv", "--", "'f0'", "'0,5'", "--decimal ,"),
    _cli(*T, "{d}/inf.csv", "--", "1 row(s)", "line 5", "'f0'"),
    # check_test_size, check_split, check_stratifiable, check_test_options
    _cli(*T, "{d}/ok.csv", "--test-size", "abc", "--", "--test-size", "'abc'"),
    _cli(*T, "{d}/ok.csv", "--test-size", "-3", "--", "--test-size", "-3"),
    _cli(*T, "{d}/ok.csv", "--test-size", "25", "--", "--test-size", "25 of 20"),
    _cli(*T, "{d}/strat.csv", "--", "class 2", "single example"),
    _cli(*T, "{d}/ok.csv", "--test-data", "{d}/ok.csv", "--test-size", "0.3", "--",
         "--test-data", "--test-size"),
    # check_threads_option, check_output_path
    _cli(*T, "{d}/ok.csv", "--threads", "0", "--", "--threads 0"),
    _cli(*T, "{d}/ok.csv", "--plot", "{d}/curve.txt", "--", "--plot", "curve.txt", ".png"),
    _cli(*T, "{d}/ok.csv", "--save", "{d}/sub", "--", "--save", "sub'", "directory"),
    _cli(*T, "{d}/ok.csv", "--save", "{d}/nodir/m.npz", "--", "--save", "nodir/m.npz",
         "nodir'", "does not exist"),
    # check_input_file, check_npz_keys, npz_layout
    _cli(*T, "{d}/nosuch.csv", "--", "--data", "nosuch.csv", "no such file"),
    _cli(*T, "{d}/notes.md", "--", "--data", "notes.md"),
    _cli(*T, "{d}/badkeys.npz", "--", "badkeys.npz", "'X' and 'y'", "['a', 'b']"),
    _cli(*T, "{d}/x1d.npz", "--", "X in", "x1d.npz", "(6,)"),
    _cli(*T, "{d}/y2d.npz", "--", "y in", "y2d.npz", "(6, 2)"),
    _cli(*T, "{d}/disagree.npz", "--", "X (6, 2)", "(5,)", "disagree.npz"),
    # check_features_left, check_rows_left
    _cli(*T, "{d}/ok.csv", "--drop", "target", "--", "--drop target", "target column"),
    _cli(*T, "{d}/onlytarget.csv", "--", "onlytarget.csv", "'target'", "no feature column"),
    _cli(*T, "{d}/allna.csv", "--dropna", "--", "allna.csv", "--dropna"),
    # parse_layers, check_cli_output, check_test_target
    _cli(*T, "{d}/ok.csv", "--layers", "8,x", "--", "--layers", "'8,x'"),
    _cli(*T, "{d}/ok.csv", "--layers", "8,0", "--", "--layers", "'8,0'"),
    _cli(*T, "{d}/ok.csv", "--layers", "8,3", "--", "--layers", "3 outputs", "need 1",
         "8,1"),
    _cli(*T, "{d}/ok.csv", "--output", "exp", "--task", "classification", "--",
         "--output exp", "--task classification"),
    _cli(*T, "{d}/reg.csv", "--output", "sigmoid", "--", "--output sigmoid", "regression"),
    _cli(*T, "{d}/three.csv", "--output", "sigmoid", "--", "--output sigmoid", "have 3"),
    _cli(*T, "{d}/ok.csv", "--output", "identity", "--", "--output identity",
         "--task regression"),
    _cli(*T, "{d}/ok.csv", "--test-data", "{d}/nofeat.csv", "--", "--test-data",
         "nofeat.csv", "'target'"),
    # the option types (argparse)
    _cli(*T, "{d}/ok.csv", "--lr", "-1", "--", "--lr", "-1"),
    _cli("train", "--epochs", "two", "--", "--epochs", "'two'"),
    # predict: check_model_file, check_preprocessing, find_features, check_output_path
    _cli("predict", "--model", "{d}/notzip.npz", "--data", "{d}/ok.csv", "--",
         "--model", "notzip.npz"),
    _cli("predict", "--model", "{d}/nosuch.npz", "--data", "{d}/ok.csv", "--",
         "--model", "nosuch.npz", "no such file"),
    _cli("predict", "--model", "{d}/netonly.npz", "--data", "{d}/ok.csv", "--",
         "netonly.npz", "preprocessing"),
    _cli("predict", "--model", "{d}/model.npz", "--data", "{d}/feat.csv", "--",
         "'f1'", "do not match the model: missing 'f1'", "2 features"),
    _cli("predict", "--model", "{d}/model.npz", "--data", "{d}/ok.csv", "--out", "{d}/sub",
         "--", "--out", "sub'", "directory"),
    _cli("predict", "--model", "{d}/model.npz", "--data", "{d}/ok.csv", "--threads", "0",
         "--", "--threads 0"),
]


@pytest.mark.parametrize("args,needles", CLI_CASES)
def test_cli_message_names_option_and_value(cli_dir, capsys, args, needles):
    from fastbp.cli import main

    d = str(cli_dir)
    try:
        status = main([a.replace("{d}", d) for a in args])
    except SystemExit as exc:
        status = exc.code
    err = capsys.readouterr().err
    assert status in (1, 2), (status, err)
    line = err.strip().splitlines()[-1]
    assert "error: " in line, err
    msg = line.split("error: ", 1)[1].replace(d + "/", "").replace(d, "")
    for needle in needles:
        assert needle in msg, f"{needle!r} missing from the message: {msg!r}"
    assert not EMPTY_FIELD.search(msg), f"an empty field in: {msg!r}"


# ---------------------------------------------------------------- course API
# Through the course's public functions, with the course's own shapes:
# X (3, 4), W1 (2, 3), b1 (2, 1), W2 (1, 2), b2 (1, 1), Y (1, 4).

def _params(**changes):
    p = {"W1": np.ones((2, 3)), "b1": np.zeros((2, 1)),
         "W2": np.ones((1, 2)), "b2": np.zeros((1, 1))}
    p.update(changes)
    return {k: v for k, v in p.items() if v is not None}


def _caches(keep_prob=1.0, **params):
    return course.L_model_forward(np.ones((3, 4)), _params(**params), keep_prob=keep_prob)[1]


X3, Y1 = np.ones((3, 4)), np.array([[0.0, 1.0, 1.0, 0.0]])
LIN = (np.ones((3, 4)), np.ones((2, 3)), np.ones((2, 1)))
from fastbp.course import c1w4a2, c2w1a2, c2w1a3, c2w2a1, _c2utils  # noqa: E402

COURSE_CASES = [
    _row(course.nn_model, (X3, Y1, 2), dict(num_iterations=2.5), TypeError,
         "num_iterations", "float", "2.5"),
    _row(course.nn_model, (X3, Y1, 2), dict(num_iterations=-1), ValueError,
         "num_iterations", "-1"),
    _row(c2w2a1.model, (X3, Y1, [3, 2, 1]), dict(optimizer="gd", num_epochs=-2, print_cost=False),
         ValueError, "num_epochs", "-2"),
    _row(course.two_layer_model, (X3, Y1, (3, 2, 2, 1)), dict(num_iterations=1), ValueError,
         "layers_dims", "[3, 2, 2, 1]"),
    _row(c2w1a3.gradient_check, (np.array(["a"]), 1.0), {}, TypeError, "x", "<U1"),
    _row(c2w2a1.load_params_and_grads, (1.5,), {}, TypeError, "seed", "float", "1.5"),
    _row(c2w2a1.load_params_and_grads, (-1,), {}, ValueError, "seed", "-1"),
    _row(c2w1a3.gradient_check, (1.0, 2.0), dict(epsilon=0.0), ValueError, "epsilon", "0.0"),
    _row(course.L_model_forward, (X3, [1, 2]), {}, TypeError, "parameters", "list"),
    _row(course.L_model_forward, (X3, {"b1": 1}), {}, KeyError, "parameters", "'W1'",
         "['b1']"),
    _row(course.forward_propagation, (X3, _params(b2=None)), {}, KeyError, "parameters",
         "'b2'", "'W1', 'b1', 'W2'"),
    _row(course.update_parameters, (_params(), 5), {}, TypeError, "grads", "int"),
    _row(course.L_model_forward, (X3, _params(W1=np.ones((2, 3), complex))), {}, TypeError,
         "W1", "complex128"),
    _row(course.L_model_forward, (np.ones(3), _params()), {}, ValueError, "X", "(3,)"),
    _row(course.L_model_forward, (np.ones((5, 4)), _params()), {}, ValueError,
         "W1", "(2, 3)", "X", "3 rows", "(5, 4)"),
    _row(course.L_model_forward, (X3, _params(b1=np.zeros((3, 1)))), {}, ValueError,
         "b1", "(2, 1)", "W1", "(3, 1)"),
    _row(course.L_model_forward, (np.ones((3, 0)), _params()), {}, ValueError,
         "empty layer 1", "X", "(3, 0)"),
    _row(course.linear_backward, (np.ones((3, 4)), LIN), {}, ValueError,
         "dZ", "(3, 4)", "cache's W", "(2, 3)"),
    _row(course.compute_cost, (np.full((1, 4), 0.5), np.ones((1, 5))), {}, ValueError,
         "Y", "(1, 5)", "AL", "(1, 4)"),
    _row(course.compute_cost, (np.full((1, 4), 0.5), np.ones(4)), {}, ValueError,
         "Y", "(4,)"),
    _row(course.L_model_backward, (np.full((1, 4), 0.5), np.ones((1, 3)), _caches()), {},
         ValueError, "Y", "(1, 3)", "AL", "(1, 4)"),
    _row(course.L_model_forward, (X3, _params()), dict(keep_prob=0.0), ValueError,
         "keep_prob", "0.0"),
    _row(course.L_model_backward, (np.full((1, 4), 0.5), Y1, [_caches()[0], 7]), {},
         ValueError, "layer 2", "caches[1]", "int"),
    _row(course.L_layer_model, (X3, Y1, [3, 2, 1]), dict(num_iterations=1), None, ""),
    _row(course.L_layer_model, (np.ones((4, 3)), Y1, [3, 2, 1]), dict(num_iterations=1),
         ValueError, "X", "(4, 3)", "W1", "(2, 3)", "X.T"),
    _row(course.L_layer_model, (X3, np.ones((1, 5)), [3, 2, 1]), dict(num_iterations=1),
         ValueError, "Y", "(1, 4)", "(1, 5)"),
    _row(course.L_layer_model, (X3, np.array([["a"] * 4]), [3, 2, 1]),
         dict(num_iterations=1), TypeError, "Y", "<U1"),
    _row(course.vector_to_dictionary, (np.ones(7), [3, 2, 1]), {}, ValueError,
         "theta", "7", "[3, 2, 1]", "11"),
    _row(course.random_mini_batches, (X3, np.ones((1, 5))), {}, ValueError,
         "4 examples", "(1, 5)"),
    _row(course.random_mini_batches, (X3, Y1), dict(mini_batch_size=2.5), TypeError,
         "mini_batch_size", "float", "2.5"),
    _row(course.random_mini_batches, (X3, Y1), dict(mini_batch_size=0), ValueError,
         "mini_batch_size", "0"),
    _row(course.linear_activation_forward, LIN + ("tanh",), {}, ValueError,
         "activation", "'tanh'"),
    _row(course.update_parameters, (_params(), {"dW1": np.ones((3, 3)), "db1": np.ones((2, 1)),
                                                "dW2": np.ones((1, 2)), "db2": np.ones((1, 1))}),
         {}, ValueError, "grads['dW1']", "(3, 3)", "parameters['W1']", "(2, 3)"),
    _row(course.predict, (1, 2, 3, 4), {}, TypeError, "4 positional", "no keyword"),
    _row(course.predict, (1, 2, 3), dict(z=4), TypeError, "3 positional", "['z']"),
    _row(course.predict, (X3,), dict(z=1), TypeError, "predict", "'z'"),
    _row(course.linear_backward, (np.ones((2, 4)), (1, 2)), {}, ValueError,
         "linear_backward", "(A_prev, W, b)", "tuple of length 2"),
    _row(course.L_model_backward, (np.full((1, 4), 0.5), Y1, []), {}, ValueError, "caches",
         "empty"),
    _row(course.L_model_backward, (np.full((1, 4), 0.5), Y1, _caches(keep_prob=0.5)),
         dict(keep_prob=1.0), ValueError, "layer 1", "dropout mask", "keep_prob=1.0"),
    _row(course.L_model_backward, (np.full((1, 4), 0.5), Y1, _caches()), dict(keep_prob=0.5),
         ValueError, "keep_prob=0.5", "layer 1", "no dropout mask"),
    _row(course.L_model_backward, (np.full((1, 4), 0.5), Y1,
                                   [_caches(keep_prob=0.5)[0][:2] + (np.ones((2, 3)),),
                                    _caches()[1]]),
         dict(keep_prob=0.5), ValueError, "layer 1", "(2, 3)", "(2, 4)"),
    _row(course.L_model_backward, (np.full((1, 4), 0.5), Y1,
                                   [_caches()[0], _caches()[1] + (np.ones((1, 4)),)]),
         {}, ValueError, "caches[1]", "output layer", "dropout mask"),
    _row(course.L_model_backward, (np.full((1, 4), 0.5), Y1,
                                   [(_caches()[0][0], np.ones((2, 5))), _caches()[1]]),
         {}, ValueError, "layer 1", "(2, 5)", "dA1", "(2, 4)"),
    _row(course.L_model_backward, (np.full((1, 5), 0.5), np.ones((1, 5)), _caches()), {},
         ValueError, "output layer", "(1, 4)", "(1, 5)"),
    _row(course.gradient_check_n, (_params(), {"dW1": np.ones((2, 3)), "db1": np.ones((2, 1))},
                                   X3, Y1), {}, ValueError, "gradients", "8", "parameters",
         "11"),
    _row(c1w4a2.load_data, ("/nonexistent-dir",), {}, FileNotFoundError,
         "/nonexistent-dir/train_catvnoncat.h5", "train_catvnoncat.h5 and test_catvnoncat.h5"),
    _row(c2w1a2.load_2D_dataset, ("/nonexistent-dir/data.mat",), {}, FileNotFoundError,
         "load_2D_dataset", "'data.mat'", "/nonexistent-dir/data.mat"),
    _row(_c2utils.backward, (X3, Y1, (1, 2, 3)), {}, ValueError, "tuple of length 3",
         "forward_propagation"),
    _row(_c2utils.backward, (X3, Y1, [1, 2]), dict(keep_prob=0.5), ValueError,
         "list of length 2", "forward_propagation_with_dropout"),
]
COURSE_CASES = [c for c in COURSE_CASES if c.values[3] is not None]


@pytest.mark.parametrize("fn,args,kwargs,exc,needles", COURSE_CASES)
def test_course_message_names_argument_and_value(fn, args, kwargs, exc, needles):
    test_message_names_argument_and_value(fn, args, kwargs, exc, needles)


# ------------------------------------------- templates no public call reaches here
# (a missing optional dependency, a --task argparse already refuses, a file
# that a writer of this fastbp cannot produce): formatted by calling the
# check itself.

DIRECT_CASES = [
    _row(v.infer_task, (np.array([1, 2]), "y", "both"), {}, ValueError, "--task", "'both'"),
    _row(v.infer_task, (np.array([[1, 2], [3, 4]]), "y"), {}, ValueError, "'y'",
         "'multiclass-multioutput'"),
    _row(v.check_preprocessing, ({"task": "classification", "target": "y", "features": ["a"],
                                  "mean": [1, 2], "scale": [1], "classes": [0, 1]},
                                 "m.npz"), {}, ValueError, "'m.npz'", "1 features",
         "2 means", "1 scales"),
    _row(v.optional_module, ("fastbp_no_such_module", "load_data", "nosuchpkg"), {},
         ImportError, "load_data", "fastbp_no_such_module", "pip install nosuchpkg"),
    _row(v.course_fit_inputs, (X3, Y1, _params(W2=np.ones((1, 3))), 1.0), {}, ValueError,
         "layer 2", "W2 (1, 3)", "b2 (1, 1)", "2 rows"),
    _row(v.course_float_dtype, (np.ones(2, complex),), {}, TypeError, "complex128"),
    _row(v.course_promoted, ((np.ones((2, 2)),), ValueError("kernel said no"),
                             "layer 3 (A2, W3, b3)", ("A2",)), {}, ValueError,
         "layer 3 (A2, W3, b3)", "kernel said no"),
    # scikit-learn section: fastbp's own messages (the rest are scikit-learn's text)
    _row(v.check_sklearn_version, ("1.5.2",), {}, ImportError, "1.7", "found 1.5.2"),
    _row(v.sk_numeric_targets, (np.array(["a", "b"]),), {}, TypeError, "y must hold numbers",
         "<U1", "'a', 'b'"),
    _row(lambda *a: _raise(v.sk_private_name_missing)(*a),
         ("sklearn.base", "_fit_context", "1.11.0", AttributeError("no _fit_context")), {},
         ImportError, "sklearn.base._fit_context", "1.11.0", "no _fit_context", "pip install"),
    _row(lambda *a: _raise(v.sk_zero_weight_sum_error)(*a), (3, 60, 80), {}, ZeroDivisionError,
         "sample_weight", "mini-batch 3", "60 to 79", "Weights sum to zero"),
    _row(v.check_sample_weight, (np.array([1.0, -1.0, 2.0, -2.0]), 4),
         dict(ensure_non_negative=False), ZeroDivisionError, "sample_weight", "4 examples",
         "2 negative"),
    _row(v.check_sample_weight, (np.array([1.0, -0.5]), 2), {}, ValueError, "sample_weight",
         "-0.5"),
    _row(lambda e: _raise(v.sklearn_missing)(e), (ImportError("no sklearn"),),
         {}, ImportError, "1.7", "no sklearn"),
    _row(lambda loss: _raise(v.sk_unsupported_loss)(loss, {"identity": 0}),
         ("poisson",), {}, NotImplementedError, "loss='poisson'", "['identity']"),
]

# messages built outside _validation (network, optim, checkpoint, datasets)
from fastbp import datasets, optim  # noqa: E402


def _net_parameters(new):
    fastbp.Network([2, 1], seed=0).parameters = new


def _ckpt_file(name, **arrays):
    import tempfile

    path = os.path.join(tempfile.mkdtemp(), name)
    np.savez(path, **arrays)
    return path


def _load(path):
    return fastbp.Network.load(path)


def _restore(path):
    return fastbp.Network([3, 1], seed=0).restore(path)


def _saved(tmp=[]):
    if not tmp:
        import tempfile

        tmp.append(os.path.join(tempfile.mkdtemp(), "net.npz"))
        fastbp.Network([2, 1], seed=0).save(tmp[0])
    return tmp[0]


def _bad_schedule(epoch):
    opt = optim.SGD(0.1, schedule=lambda lr0, e: -lr0)
    opt.set_epoch(epoch)


ELSEWHERE_CASES = [
    _row(_net_parameters, ({"W1": np.ones((1, 2))},), {}, KeyError, "'b1'", "'W1', 'b1'"),
    _row(_net_parameters, ({"W1": np.ones((2, 2)), "b1": np.ones(1)},), {}, ValueError,
         "parameters['W1']", "(2, 2)", "(1, 2)"),
    _row(_load, ("/nonexistent-dir/net.npz",), {}, FileNotFoundError,
         "'/nonexistent-dir/net.npz'"),
    _row(_load, (_ckpt_file("nofmt.npz", a=np.ones(1)),), {}, ValueError, "nofmt.npz",
         "'fastbp-checkpoint'"),
    _row(_restore, (_saved(),), {}, ValueError, "net.npz", "[2, 1] float32", "[3, 1] float32"),
    _row(optim.SGD, (0.1,), dict(nesterov="yes"), TypeError, "nesterov", "'yes'"),
    _row(optim.SGD, (0.1,), dict(schedule=5), TypeError, "schedule", "int"),
    _row(_bad_schedule, (3,), {}, ValueError, "lr=-0.1", "epoch 3"),
    _row(optim.schedule_from_config, ({"kind": "Cosine"},), {}, ValueError, "'Cosine'",
         "'ExponentialDecay'"),
    _row(optim.optimizer_from_config, ({"kind": "rmsprop", "lr": 0.1},), {}, ValueError,
         "'rmsprop'", "'adam'"),
    _row(datasets.make_image_like_dataset, (0,), {}, ValueError, "m=0"),
]


@pytest.mark.parametrize("fn,args,kwargs,exc,needles", DIRECT_CASES + ELSEWHERE_CASES)
def test_other_message_names_argument_and_value(fn, args, kwargs, exc, needles):
    test_message_names_argument_and_value(fn, args, kwargs, exc, needles)


# ------------------- network/kernel templates the first table does not reach
from fastbp._registry import DERIV_FROM_Z  # noqa: E402

ZACT = sorted(DERIV_FROM_Z)[0]
DZ, AP, WW = np.ones((2, 4)), np.ones((3, 4)), np.ones((2, 3))


def _warning_as_error(fn):
    def call(*args, **kwargs):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fn(*args, **kwargs)
    call.__name__ = fn.__name__
    return call


def _raise(make):
    def call(*args):
        raise make(*args)
    call.__name__ = make.__name__
    return call


KERNEL_CASES = [
    _row(v.check_flat_params, (np.array(["a"]), 3), {}, TypeError, "params", "<U1"),
    _row(v.check_flat_params, (np.ones((3, 1)), 3), {}, ValueError, "params", "(3, 1)",
         "(3,)"),
    _row(v.check_size, ("n_x", 2.5), {}, TypeError, "n_x", "float", "2.5"),
    _row(v.check_size, ("n_x", 0), {}, ValueError, "n_x", "0"),
    _row(v.check_size, ("n_x", 2**31), {}, ValueError, "n_x", str(2**31)),
    _row(v.check_sample_weight, (np.array(["a", "b"]), 2), {}, TypeError, "sample_weight",
         "<U1"),
    _row(v.check_sample_weight, (np.ones(3), 4), {}, ValueError, "sample_weight", "(3,)",
         "(4,)"),
    _row(v.check_sample_weight, (np.array([1.0, NAN, np.inf]), 3), {}, ValueError,
         "sample_weight", "nan", "inf", "2 of 3"),
    _row(v.check_sample_weight, (np.array([1.0, -2.0]), 2), {}, ValueError, "sample_weight",
         "-2.0"),
    _row(v.check_sample_weight, (np.zeros(2), 2), {}, ValueError, "sample_weight", "zero"),
    _row(v.check_epoch_order, (np.ones((2, 2), int), 4), {}, TypeError, "order", "int64",
         "(2, 2)"),
    _row(v.check_epoch_order, (np.array([0, 5]), 4), {}, ValueError, "order", "[0, 5]",
         "4 columns", "0..3"),
    _row(v.check_checked_weights, ([1.0, 1.0], 2), {}, TypeError, "sample_weight", "(2,)",
         "list"),
    _row(_raise(v.sample_weight_with_comm_error), (), {}, ValueError, "sample_weight",
         "comm="),
    _row(v.check_epoch_batches, (2, 9, None, 5), {}, ValueError, "start_batch", "0..3", "9"),
    _row(v.check_epoch_batches, (2, 0, -1, 5), {}, ValueError, "n_batches", "-1"),
    _row(_warning_as_error(v.cap_n_threads), (64, 2), {}, RuntimeWarning, "n_threads=64",
         "2 cores"),
    _row(fastbp.linear_forward if hasattr(fastbp, "linear_forward") else v._forward_inputs,
         (AP, WW, np.ones((3, 1))), {}, ValueError, "b", "(2, 1)", "(3, 1)", "(2, 3)"),
    _row(v._forward_inputs, (AP, WW, np.array([[1], [2]], dtype=complex)), {}, TypeError,
         "b", "complex128", "float64"),
    _row(v._forward_inputs, (np.ones((4, 4)), WW, np.ones((2, 1))), {}, ValueError,
         "A_prev", "(4, 4)", "W", "(2, 3)", "3 rows"),
    _row(v.dense_backward_args, (DZ, AP, WW, ZACT, None, None, None, 0.0, None, None), {},
         ValueError, "Z_prev", repr(ZACT), "(3, 4)"),
    _row(v.dense_backward_args, (DZ, AP, WW, ZACT, np.ones((3, 5)), None, None, 0.0, None,
                                 None), {}, ValueError, "Z_prev", "(3, 5)", "(3, 4)"),
    _row(v.dense_backward_args, (DZ, np.ones((3, 5)), WW, None, None, None, None, 0.0, None,
                                 None), {}, ValueError, "dZ (2, 4)", "A_prev (3, 5)",
         "W (2, 3)"),
    _row(v.unpack_out, ([1, 2], 3, "dW, db, dA_prev"), {}, TypeError, "out",
         "3 arrays", "list of length 2"),
    _row(v.real, ("x", "scale"), {}, TypeError, "scale", "'x'"),
    _row(_raise(v.checkpoint_write_error), (OSError(28, "No space left on device"), "c.npz"),
         {}, OSError, "'c.npz'", "No space left on device"),
    _row(_raise(v.nonfinite_loss_error), (float("inf"), " on every rank"), {},
         FloatingPointError, "loss is inf", "skipped on every rank"),
]


@pytest.mark.parametrize("fn,args,kwargs,exc,needles", KERNEL_CASES)
def test_kernel_message_names_argument_and_value(fn, args, kwargs, exc, needles):
    test_message_names_argument_and_value(fn, args, kwargs, exc, needles)


def _fit_with_comm(comm):
    fastbp.Network([2, 1]).fit(np.zeros((2, 4)), np.zeros((1, 4)), comm=comm, verbose=False)


ELSEWHERE_MPI = [_row(_fit_with_comm, (5,), {}, TypeError, "comm must be", "got int")]


@pytest.mark.parametrize("fn,args,kwargs,exc,needles", ELSEWHERE_MPI)
def test_comm_message(fn, args, kwargs, exc, needles):
    pytest.importorskip("mpi4py")
    test_message_names_argument_and_value(fn, args, kwargs, exc, needles)


class _NoArray:
    """An object NumPy cannot turn into an array."""

    def __array__(self, *args, **kwargs):
        raise RuntimeError("no array here")


def _read_only(shape):
    a = np.ones(shape)
    a.flags.writeable = False
    return a


_SHARED = np.ones((3, 2))

# the network-section templates the first table left out (found by tracing
# which raise lines of _validation.py the rows above execute)
NETWORK_EXTRA_CASES = [
    _row(v.check_real, ("beta1", 1.5), dict(high=1.0), ValueError, "beta1", "<= 1.0", "1.5"),
    _row(v.check_layer_dims, (None,), {}, TypeError, "layer_dims", "NoneType"),
    _row(v.check_hidden, (5, 3, ACTIVATIONS), {}, TypeError, "hidden", "int 5"),
    _row(v.check_float_dtype, ([1],), {}, TypeError, "dtype", "[1]"),
    _row(v.check_seed, (True,), {}, TypeError, "seed", "True"),
    _row(v.check_X, (_NoArray(), 3, F32), {}, TypeError, "X", "_NoArray", "no array here"),
    _row(v.check_X, (np.ones((3, 0)), 3, F32), {}, ValueError, "X", "(3, 0)"),
    _row(v.check_Y, (np.array([["a"] * 5]), 5, 1, "sigmoid", F32, LABEL_DTYPES), {},
         TypeError, "Y", "<U1"),
    _row(v.check_Y, (np.array(["a", "b", "c"]), 3, 3, "softmax", F32, LABEL_DTYPES), {},
         TypeError, "Y", "<U1", "'a', 'b', 'c'", "0..2", "LabelEncoder", "OneHotEncoder"),
    _row(v.check_Y, (np.array([b"1.5", b"x"]), 2, 1, "identity", F32, LABEL_DTYPES), {},
         TypeError, "Y", "|S3", "'1.5', 'x'", "astype(float)"),
    _row(v.check_Y, (np.array([0, 1, 2]), 5, 3, "softmax", F32, LABEL_DTYPES), {},
         ValueError, "3 labels", "5 examples"),
    # a column of labels: stored as integers, or as floats (a CSV's column)
    _row(v.check_Y, (np.array([[0], [1], [2]]), 3, 3, "softmax", F32, LABEL_DTYPES), {},
         ValueError, "(3, 1)", "column of labels", "Y.ravel()"),
    _row(v.check_Y, (np.array([[0.0], [1.0], [2.0]]), 3, 3, "softmax", F32, LABEL_DTYPES),
         {}, ValueError, "(3, 1)", "column of labels", "Y.ravel().astype(int)"),
    _row(v.check_training_converged, (1.25, 2.5e24, 20), {}, ValueError, "diverged",
         "1.25", "2.5e+24", "20 epochs", "learning rate"),
    _row(v.check_training_converged, (1.25, NAN, 1), {}, ValueError, "diverged", "nan",
         "1 epoch", "not finite"),
    _row(v.check_sample_weight, (_NoArray(), 2), {}, TypeError, "sample_weight", "_NoArray",
         "no array here"),
    _row(v.out_array, (np.ones((3, 2), np.float32), "dW", 3, 2, np.ones((3, 2)), ()), {},
         TypeError, "dW", "float32", "float64"),
    _row(v.out_array, (np.ones((2, 3)).T, "dW", 3, 2, np.ones((3, 2)), ()), {},
         ValueError, "dW", "C-contiguous", "(3, 2)"),
    _row(v.out_array, (_read_only((3, 2)), "dW", 3, 2, np.ones((3, 2)), ()), {},
         ValueError, "dW", "read-only"),
    _row(v.out_array, (_SHARED, "dW", 3, 2, _SHARED, (("A_prev", _SHARED),)), {},
         ValueError, "dW", "A_prev", "overlaps"),
]


@pytest.mark.parametrize("fn,args,kwargs,exc,needles", NETWORK_EXTRA_CASES)
def test_network_extra_message_names_argument_and_value(fn, args, kwargs, exc, needles):
    test_message_names_argument_and_value(fn, args, kwargs, exc, needles)


def test_out_of_range_labels_are_quoted_as_they_are():
    """A uint64 label of 2**63 was quoted as -9.22337e+18 (wrapped by a cast
    to int64, then printed as a float)."""
    X = np.zeros((3, 5), np.float32)
    net = fastbp.Network([3, 4, 2], output="softmax", seed=0)
    with pytest.raises(ValueError, match=r"found \{9223372036854775808\} \(1 of 5 values\), "
                                         r"values in \[0, 9223372036854775808\]"):
        net.evaluate(X, np.array([0, 2**63, 1, 0, 1], dtype=np.uint64))
    with pytest.raises(ValueError, match=r"found \{-1, 7\} \(2 of 5 values\)"):
        net.evaluate(X, np.array([0, 7, 1, 0, -1]))


def test_out_of_range_labels_say_how_to_fix_them():
    """Labels 1..3 (counted from 1, as R and many files write them) or 10
    classes for 3 outputs said what was wrong but not what to do."""
    X = np.zeros((3, 6), np.float32)
    net = fastbp.Network([3, 4, 3], output="softmax", seed=0)
    with pytest.raises(ValueError, match=r"values in \[1, 3\]: the labels look counted from 1: "
                                         r"pass Y - 1"):
        net.fit(X, np.array([1, 2, 3, 1, 2, 3]), verbose=False)
    with pytest.raises(ValueError, match=r"Y holds 6 distinct labels: build the network with 6 "
                                         r"outputs \(layer_dims\[-1\] = 6\)$"):
        net.evaluate(X, np.arange(6))
    with pytest.raises(ValueError, match=r"values in \[-1, 1\]: map them to 0\.\.2 with Y_idx = "
                                         r"np\.unique\(Y, return_inverse=True\)\[1\]"):
        net.evaluate(X, np.array([-1, 1, 0, -1, 1, 0]))
