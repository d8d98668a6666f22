"""Course 1, week 3 ("Planar data classification with one hidden layer"), end to end.

The notebook's flow run twice, with the week's NumPy code and with
``fastbp.course`` (the same function names, so the flow is written once and
handed either module), printing both times and both results:

    python examples/course_week3.py            # 10000 iterations, as the course
    python examples/course_week3.py --quick    # 2000 iterations
"""
import argparse
import os
import sys
import types

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fastbp.course as fc  # noqa: E402
from _compare import report, timed  # noqa: E402
from fastbp.datasets import load_planar_dataset  # noqa: E402


# ------------------------------------------------- the week's NumPy solution

def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def layer_sizes(X, Y):
    return (X.shape[0], 4, Y.shape[0])


def initialize_parameters(n_x, n_h, n_y):
    return {"W1": np.random.randn(n_h, n_x) * 0.01, "b1": np.zeros((n_h, 1)),
            "W2": np.random.randn(n_y, n_h) * 0.01, "b2": np.zeros((n_y, 1))}


def forward_propagation(X, parameters):
    Z1 = np.dot(parameters["W1"], X) + parameters["b1"]
    A1 = np.tanh(Z1)
    Z2 = np.dot(parameters["W2"], A1) + parameters["b2"]
    A2 = _sigmoid(Z2)
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def compute_cost(A2, Y):
    m = Y.shape[1]
    logprobs = np.multiply(np.log(A2), Y) + np.multiply(np.log(1 - A2), 1 - Y)
    return float(np.squeeze(-1 / m * np.sum(logprobs)))


def backward_propagation(parameters, cache, X, Y):
    m = X.shape[1]
    W2 = parameters["W2"]
    A1, A2 = cache["A1"], cache["A2"]
    dZ2 = A2 - Y
    dW2 = 1 / m * np.dot(dZ2, A1.T)
    db2 = 1 / m * np.sum(dZ2, axis=1, keepdims=True)
    dZ1 = np.dot(W2.T, dZ2) * (1 - np.power(A1, 2))
    dW1 = 1 / m * np.dot(dZ1, X.T)
    db1 = 1 / m * np.sum(dZ1, axis=1, keepdims=True)
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


def update_parameters(parameters, grads, learning_rate=1.2):
    return {k: parameters[k] - learning_rate * grads["d" + k] for k in ("W1", "b1", "W2", "b2")}


def nn_model(X, Y, n_h, num_iterations=10000, print_cost=False):
    np.random.seed(3)
    n_x, _, n_y = layer_sizes(X, Y)
    parameters = initialize_parameters(n_x, n_h, n_y)
    for i in range(num_iterations):
        A2, cache = forward_propagation(X, parameters)
        cost = compute_cost(A2, Y)
        grads = backward_propagation(parameters, cache, X, Y)
        parameters = update_parameters(parameters, grads, learning_rate=1.2)
        if print_cost and i % 1000 == 0:
            print("Cost after iteration %i: %f" % (i, cost))
    return parameters


def predict(parameters, X):
    A2, _ = forward_propagation(X, parameters)
    return A2 > 0.5


numpy_course = types.SimpleNamespace(**{f.__name__: f for f in (
    layer_sizes, initialize_parameters, forward_propagation, compute_cost,
    backward_propagation, update_parameters, nn_model, predict)})


# ------------------------------------------------------- the notebook's flow

def accuracy(Y, predictions):
    return float(np.squeeze(np.dot(Y, predictions.T) + np.dot(1 - Y, 1 - predictions.T))
                 / float(Y.size) * 100)


def week3(course, num_iterations):
    """The notebook's cells 4.1-6; returns (printed cost lines, accuracies)."""
    X, Y = load_planar_dataset()
    n_x, n_h, n_y = course.layer_sizes(X, Y)
    parameters = course.nn_model(X, Y, n_h=4, num_iterations=num_iterations, print_cost=True)
    results = {"n_h=4": accuracy(Y, course.predict(parameters, X))}
    for n_h in [1, 2, 3, 4, 5, 20, 50]:       # "Tuning hidden layer size"
        parameters = course.nn_model(X, Y, n_h, num_iterations=num_iterations // 2)
        results[f"n_h={n_h} ({num_iterations // 2} it)"] = accuracy(
            Y, course.predict(parameters, X))
    return results


def main(fast=fc, name="fastbp.course"):
    """Run the flow with the week's NumPy code and with ``fast``; print both."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2000 iterations instead of 10000")
    args = ap.parse_args()
    iters = 2000 if args.quick else 10000
    report({"NumPy": timed(week3, numpy_course, iters), name: timed(week3, fast, iters)})


if __name__ == "__main__":
    main()
