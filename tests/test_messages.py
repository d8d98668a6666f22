"""Every message template names the argument and the offending value (issue 12, item 3).

A table: each row calls one check of fastbp._validation (or a public function
whose message is built there) with one bad argument and lists what the
message must contain -- the argument's name and the value found -- so a field
that goes missing from a template (``"Z of layer  has shape"``) fails here.
Every message is also checked for the marks of an empty field: a doubled
space, ``{}``, ``()`` or a dangling ``: ;``.
"""
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
    _row(v.check_adam_t, (0,), {}, ValueError, "t", "0"),
    _row(v.check_adam_t, ("one",), {}, TypeError, "t", "'one'"),
    _row(v.check_optimizer, ("sgd", Optimizer), {}, TypeError, "optimizer", "str"),
    _row(v.check_fit_args, (1.5, 1, 1, None), {}, TypeError, "epochs", "1.5"),
    _row(v.check_fit_args, (-1, 1, 1, None), {}, ValueError, "epochs", "-1"),
    _row(v.check_fit_args, (1, 0, 1, None), {}, ValueError, "batch_size", "0"),
    _row(v.check_fit_args, (1, 1, 0, None), {}, ValueError, "checkpoint_every", "0"),
    _row(v.check_fit_args, (1, 1, 1, 7), {}, TypeError, "callback", "7"),
    _row(v.check_replica_check_every, (-2,), {}, ValueError, "replica_check_every", "-2"),
    _row(v.check_n_steps, (0,), {}, ValueError, "n_steps", "0"),
    _row(v.check_n_steps, (2.5,), {}, TypeError, "n_steps", "2.5"),
    _row(v.check_validation_pair, (5,), {}, TypeError, "validation_data", "int"),
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
    _row(v.check_cli_output, ("regression", 0, "exp"), {}, ValueError, "--output", "exp"),
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

#: marks of a field that formatted to nothing
EMPTY_FIELD = re.compile(r"  |\{\}|\(\)|: ;|'' ")


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
