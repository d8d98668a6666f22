"""Course 2, week 1, "Gradient Checking", end to end: NumPy vs fastbp.course.c2w1a3.

The notebook's N-D check (forward_propagation_n, backward_propagation_n,
gradient_check_n on the course's [4, 5, 3, 1] network with 3 examples and
Y = [1, 1, 0]) and the same check on a larger batch, run with the course's
NumPy code and with fastbp, printing both times and the differences.

    python examples/c2w1a3_gradient_checking.py [--quick]
"""
import argparse

import numpy as np

import _numpy_course2 as npc
from fastbp.course import c2w1a3


def case(m):
    np.random.seed(1)
    X = np.random.randn(4, m)
    Y = np.array([1, 1, 0] * (m // 3))
    shapes = (("W1", (5, 4)), ("b1", (5, 1)), ("W2", (3, 5)), ("b2", (3, 1)),
              ("W3", (1, 3)), ("b3", (1, 1)))
    return X, Y, {k: np.random.randn(*s) for k, s in shapes}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    repeats = 5 if ap.parse_args().quick else 50
    cases = [case(3), case(3000)]

    def flow(course):
        for X, Y, parameters in cases:
            for _ in range(repeats):
                cost, cache = course.forward_propagation_n(X, Y, parameters)
                gradients = course.backward_propagation_n(X, Y.reshape(1, -1), cache)
                difference = course.gradient_check_n(parameters, gradients, X, Y)
            print(f"m = {X.shape[1]}: cost {float(cost):.6f}, difference {difference:.3e}")

    npc.compare(flow, c2w1a3, npc.c2w1a3)


if __name__ == "__main__":
    main()
