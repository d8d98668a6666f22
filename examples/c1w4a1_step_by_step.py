"""Course 1 week 4 assignment 1 ("Building your Deep Neural Network: Step by
Step"), end to end, with ``fastbp.course.c1w4a1``.

The notebook builds the blocks of an L-layer network one graded function at
a time; this flow assembles them the way the next assignment does --
``initialize_parameters_deep`` (seed 3, 0.01 randn), then gradient descent
of ``L_model_forward``, ``compute_cost``, ``L_model_backward`` and
``update_parameters`` -- on synthetic cat-shaped images (12288 features,
209 examples). It runs twice, with the week's plain NumPy code
(``examples/course_week4.py``) and with ``fastbp.course.c1w4a1``, and
prints both runs' costs, training accuracies and times:

    python examples/c1w4a1_step_by_step.py            # 1500 iterations
    python examples/c1w4a1_step_by_step.py --quick    # 300 iterations
"""
import argparse
import os
import sys
import types

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import course_week4  # noqa: E402
from _compare import report, timed  # noqa: E402
from fastbp.course import c1w4a1  # noqa: E402
from fastbp.datasets import make_image_like_dataset  # noqa: E402


def initialize_parameters_deep(layer_dims):
    """The step-by-step notebook's initialisation: seed 3, W_l = 0.01 randn."""
    np.random.seed(3)
    return {k: v for l in range(1, len(layer_dims)) for k, v in (
        ("W" + str(l), np.random.randn(layer_dims[l], layer_dims[l - 1]) * 0.01),
        ("b" + str(l), np.zeros((layer_dims[l], 1))))}


numpy_course = types.SimpleNamespace(
    initialize_parameters_deep=initialize_parameters_deep,
    L_model_forward=course_week4.L_model_forward, compute_cost=course_week4.compute_cost,
    L_model_backward=course_week4.L_model_backward,
    update_parameters=course_week4.update_parameters)


def step_by_step(course, X, Y, layer_dims, iters, learning_rate=0.0075):
    """Train with the notebook's blocks; returns {"training accuracy": %}."""
    parameters = course.initialize_parameters_deep(layer_dims)
    for i in range(iters):
        AL, caches = course.L_model_forward(X, parameters)
        cost = course.compute_cost(AL, Y)
        grads = course.L_model_backward(AL, Y, caches)
        parameters = course.update_parameters(parameters, grads, learning_rate)
        if i % 100 == 0 or i == iters - 1:
            print(f"Cost after iteration {i}: {float(cost):.12f}")
    AL, _ = course.L_model_forward(X, parameters)
    return {"training accuracy": float(np.mean((AL > 0.5) == Y)) * 100}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="300 iterations instead of 1500")
    ap.add_argument("--iterations", type=int, help="this many iterations (overrides --quick)")
    args = ap.parse_args()
    iters = args.iterations or (300 if args.quick else 1500)
    X, Y = make_image_like_dataset(m=209, seed=1)
    dims = [X.shape[0], 7, 1]        # 0.01 weights train two layers, not four
    report({"NumPy": timed(step_by_step, numpy_course, X, Y, dims, iters),
            "fastbp.course.c1w4a1": timed(step_by_step, c1w4a1, X, Y, dims, iters)})


if __name__ == "__main__":
    main()
