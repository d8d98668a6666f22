"""Targets outside the loss's domain are refused at every entry point (issue 12, item 2).

binary cross-entropy: values in [0, 1] (soft targets allowed); cross-entropy:
class indices in range, or non-negative columns summing to 1; Poisson:
non-negative and finite. fit and evaluate check once up front; train_step,
backward and train_batch get the kernel's flag (it reads every target while
it computes the loss) and raise the same message; the layer functions check
per call. A refused step makes no update. The course API is the exception:
the course's code takes labels of any value (its public test of C1W4A2's
two_layer_model trains on randn labels), so fastbp.course computes them with
the course's formulas and its training loops refuse only NaN and inf.
"""
import numpy as np
import pytest

import fastbp
from fastbp import course
from fastbp.network import Network
from fastbp.optim import SGD

from conftest import central_differences

#: output -> (bad targets for 2 examples, the value the message must quote, valid soft targets)
BAD = {
    "sigmoid": (np.array([[1.0, 2.0]]), "{2}", np.array([[0.3, 1.0]])),
    "exp": (np.array([[1.0, -1.0]]), "{-1}", np.array([[2.5, 0.0]])),
    "softmax": (np.array([[1.0, 0.0], [0.0, 2.0]]), "{2}", np.array([[0.2, 0.0], [0.8, 1.0]])),
}
N_OUT = {"sigmoid": 1, "exp": 1, "softmax": 2}


def _net(output):
    return Network([3, N_OUT[output]], output=output, dtype="float64", seed=0)


def _entry_points():
    def fit(net, X, Y):
        net.fit(X, Y, epochs=1, verbose=False)

    def fit_validation(net, X, Y):
        good = BAD[net.output][2]
        net.fit(X, good, epochs=1, verbose=False, validation_data=(X, Y))

    def train_step(net, X, Y):
        net.train_step(X, Y, SGD(0.1))

    def train_steps(net, X, Y):
        net._train_steps(X, Y, SGD(0.1), 3)

    def evaluate(net, X, Y):
        net.evaluate(X, Y)

    def backward(net, X, Y):
        net.forward(X)
        net.backward(Y)

    def loss_and_gradient(net, X, Y):
        net.loss_and_gradient(X, Y)

    return [fit, fit_validation, train_step, train_steps, evaluate, backward, loss_and_gradient]


@pytest.mark.parametrize("entry", _entry_points(), ids=lambda f: f.__name__)
@pytest.mark.parametrize("output", list(BAD))
def test_network_refuses_targets_outside_the_domain(output, entry, rng):
    bad, quoted, _ = BAD[output]
    net = _net(output)
    X = rng.standard_normal((3, 2))
    before = net.flat_parameters.copy()
    with pytest.raises(ValueError) as info:
        entry(net, X, bad)
    assert quoted in str(info.value), str(info.value)
    np.testing.assert_array_equal(net.flat_parameters, before)


@pytest.mark.parametrize("entry", _entry_points(), ids=lambda f: f.__name__)
@pytest.mark.parametrize("output", list(BAD))
def test_network_accepts_soft_targets(output, entry, rng):
    net = _net(output)
    entry(net, rng.standard_normal((3, 2)), BAD[output][2])


@pytest.mark.parametrize("labels", [[-1, 0, 1], [0, 1, 3]])
def test_softmax_class_indices_out_of_range(labels, rng):
    net = Network([3, 3], output="softmax", dtype="float64", seed=0)
    X = rng.standard_normal((3, 3))
    for call in (lambda: net.train_step(X, np.array(labels), SGD(0.1)),
                 lambda: net.evaluate(X, np.array(labels)),
                 lambda: net.fit(X, np.array(labels), verbose=False)):
        with pytest.raises(ValueError, match=r"0\.\.2") as info:
            call()
        bad = [v for v in labels if not 0 <= v <= 2]
        assert f"{{{bad[0]}}}" in str(info.value)


def test_sigmoid_minus_one_labels(rng):
    # the issue: labels -1 gave a loss with no error
    net = Network([3, 1], dtype="float32", seed=0)
    X = rng.standard_normal((3, 4)).astype(np.float32)
    Y = np.array([[-1, 1, -1, 1]], np.float32)
    with pytest.raises(ValueError, match=r"\{-1\} \(2 of 4 values\)"):
        net.train_step(X, Y, SGD(0.1))
    with pytest.raises(ValueError, match=r"\{-1\}"):
        net.fit(X, Y, verbose=False)


def test_poisson_infinite_target(rng):
    net = _net("exp")
    with pytest.raises(ValueError, match="inf"):
        net.train_step(rng.standard_normal((3, 2)), np.array([[1.0, np.inf]]), SGD(0.1))


# ------------------------------------------------------------------ layer functions
LAYER_BAD = [
    ("binary_crossentropy", np.array([[0.5, 0.5]]), np.array([[1.0, 2.0]]), "{2}"),
    ("binary_crossentropy", np.array([[0.5, 0.5]]), np.array([[1, 255]], np.uint8), "{255}"),
    ("crossentropy", np.array([[0.5, 0.5], [0.5, 0.5]]), np.array([[1, 0], [1, 1]]), "{2}"),
    ("poisson", np.array([[0.5, 0.5]]), np.array([[-2.0, 1.0]]), "{-2}"),
    # an infinite count: the layer functions check no finiteness of their own,
    # so the compiled domain scan (fastbp_loss.h's fbp_targets_ok) is all that
    # refuses it; without its <= DBL_MAX they returned an inf loss and delta
    ("poisson", np.array([[0.5, 0.5]]), np.array([[np.inf, 1.0]]), "{inf}"),
]


@pytest.mark.parametrize("loss,AL,Y,quoted", LAYER_BAD, ids=lambda x: str(x)[:20])
def test_layer_functions_refuse(loss, AL, Y, quoted):
    for call in (lambda: fastbp.loss(AL, Y, loss),
                 lambda: fastbp.loss(AL, Y, loss, from_logits=True),
                 lambda: fastbp.output_delta(AL, Y, loss)):
        with pytest.raises(ValueError) as info:
            call()
        assert quoted in str(info.value), str(info.value)


def test_column_sums_beyond_float64_give_the_message_alone():
    # the message's column sums overflowed: a RuntimeWarning came with the
    # ValueError, and under np.errstate(over="raise") (or -W error) it
    # replaced it
    AL = np.full((2, 2), 0.5)
    Y = np.array([[1e308, 1.0], [1e308, 0.0]])
    for call in (lambda: fastbp.loss(AL, Y, "crossentropy"),
                 lambda: fastbp.output_delta(AL, Y, "crossentropy")):
        with np.errstate(over="raise"), pytest.raises(ValueError, match=r"sums \{inf\}"):
            call()


def test_layer_functions_accept_probability_rows():
    AL = np.array([[0.3, 0.6], [0.7, 0.4]], np.float32)
    Y = np.array([[0.25, 0.5], [0.75, 0.5]], np.float32)
    expected = -np.sum(Y * np.log(AL), dtype=np.float64) / 2
    assert fastbp.loss(AL, Y, "crossentropy") == pytest.approx(expected, rel=1e-6)
    # float32 rows that sum to 1 only up to rounding are still probability rows
    Y3 = np.full((3, 2), 1 / 3, np.float32)
    fastbp.loss(np.full((3, 2), 1 / 3, np.float32), Y3, "crossentropy")


def test_float32_probabilities_widened_to_float64_get_the_fix_that_applies(rng):
    # another model's float32 predict_proba, cast to float64: the columns sum
    # to 1 within float32's rounding, not float64's; the message said to pass
    # class indices or one-hot columns, neither of which applies to soft targets
    P = rng.random((10, 40)).astype(np.float32)
    P /= P.sum(axis=0, keepdims=True)
    Y = P.astype(np.float64)
    sums = Y.sum(axis=0)
    assert np.abs(sums - 1).max() > 1.5e-8          # the case: refused in float64
    net = Network([4, 8, 10], output="softmax", seed=0, dtype=np.float64)
    X = rng.standard_normal((4, 40))
    with pytest.raises(ValueError, match=r"only to float32's precision.*"
                                         r"Y / Y\.sum\(axis=0, keepdims=True\)"):
        net.fit(X, Y, verbose=False)
    with pytest.raises(ValueError, match="only to float32's precision"):
        fastbp.loss(np.full((10, 40), 0.1), Y, "crossentropy")
    net.fit(X, Y / Y.sum(axis=0, keepdims=True), verbose=False)   # the fix it gives works
    # soft targets further off: the general fix, plus renormalising
    with pytest.raises(ValueError, match=r"one-hot columns; or, for probabilities, "
                                         r"renormalise them"):
        net.fit(X, Y * 1.01, verbose=False)


# --------------------------------------------------------------------------- course
def test_course_functions_take_labels_outside_0_1_and_loops_refuse_nan(rng):
    # the values are compared with the course's NumPy in tests/test_course*.py
    AL = np.full((1, 3), 0.5)
    # -1/m sum(y log 0.5 + (1 - y) log 0.5) = log 2 whatever the labels
    np.testing.assert_allclose(course.compute_cost(AL, np.array([[0, 1, 2]])), np.log(2),
                               rtol=1e-15)
    X = rng.standard_normal((2, 3))
    course.L_layer_model(X, np.array([[0, 1, -1]]), [2, 3, 1], num_iterations=2)
    with pytest.raises(ValueError, match=r"Y contains NaN or inf: .*\{nan\}"):
        course.L_layer_model(X, np.array([[0, 1, np.nan]]), [2, 3, 1], num_iterations=2)
    with pytest.raises(ValueError, match=r"Y contains NaN or inf: .*\{inf\}"):
        course.nn_model(X, np.array([[0, 1, np.inf]]), 4, num_iterations=2)


def test_layer_loss_hint_offers_only_what_it_accepts():
    """fastbp.loss takes targets of AL's shape only: its hint must not offer class indices."""
    AL = np.full((3, 4), 1 / 3)
    with pytest.raises(ValueError, match=r"one-hot columns \(a row per class") as exc:
        fastbp.loss(AL, np.eye(3, 4) * 2, "crossentropy")
    assert "class indices" not in str(exc.value)
    assert "(4 of 4 columns)" in str(exc.value)
    net = fastbp.Network([2, 3], output="softmax", dtype="float64")
    with pytest.raises(ValueError, match=r"class indices 0\.\.2 of shape \(m,\), or one-hot "
                                         r"columns"):
        net.fit(np.zeros((2, 4)), np.eye(3, 4) * 2, epochs=1)


def test_soft_cross_entropy_is_the_documented_function_of_its_gradient(rng):
    """Probability columns summing to 1 within the tolerance (float32
    targets: 3.4e-4) were scored as sum(Y) lse - Y.Z while every gradient is
    A - Y, the gradient of the documented lse - Y.Z: evaluate differed from
    the formula by 3.4e-4 relative and the gradient from the reported loss's
    by up to 1.2e-3."""
    X = rng.standard_normal((3, 8))
    P = rng.random((4, 8))
    P = (P / P.sum(0) * 1.0003).astype(np.float32)          # sums 1.0003: accepted
    net = fastbp.Network([3, 4], output="softmax", dtype="float64", seed=0)
    Z = net.parameters["W1"] @ X + net.parameters["b1"]
    lse = np.log(np.exp(Z - Z.max(0)).sum(0)) + Z.max(0)
    doc = np.mean(lse - (P.astype(np.float64) * Z).sum(0))
    np.testing.assert_allclose(net.evaluate(X, P)[0], doc, rtol=1e-14)
    np.testing.assert_allclose(fastbp.loss(Z, P, "crossentropy", from_logits=True), doc,
                               rtol=1e-14)
    loss, grad = net.loss_and_gradient(X, P)
    np.testing.assert_allclose(loss, doc, rtol=1e-14)
    np.testing.assert_allclose(grad, central_differences(net, X, P), atol=1e-8)


@pytest.mark.parametrize("net_dtype, y_dtype, off", [
    ("float64", np.float32, None),      # float32 probabilities normalised in float32
    ("float32", np.float64, 1e-6),      # float64 targets a float32 network reads in float32
])
def test_probability_targets_are_taken_alike_by_every_method(rng, net_dtype, y_dtype, off):
    """fit / evaluate checked the column sums with Y's dtype, the network
    kernel (loss_and_gradient, train_step, backward) with the network's: the
    same targets were taken by one and refused by the other. Both now use
    the larger tolerance of the two dtypes."""
    X = rng.standard_normal((3, 40)).astype(net_dtype)
    P = rng.random((5, 40)).astype(y_dtype)
    P /= P.sum(0)
    if off:
        P *= 1 + off
    net = fastbp.Network([3, 4, 5], "tanh", "softmax", dtype=net_dtype, seed=0)
    net.evaluate(X, P)
    net.loss_and_gradient(X, P)
    net.train_step(X, P, fastbp.SGD(0.1))
    net.forward(X, training=True)
    net.backward(P)
    net.fit(X, P, epochs=1, batch_size=8, verbose=False)
    # and beyond the tolerance, every method refuses
    bad = P * 1.01
    for call in (lambda: net.evaluate(X, bad), lambda: net.loss_and_gradient(X, bad),
                 lambda: net.train_step(X, bad, fastbp.SGD(0.1)),
                 lambda: net.fit(X, bad, epochs=1, verbose=False)):
        with pytest.raises(ValueError, match="sum to 1|outside the domain"):
            call()
