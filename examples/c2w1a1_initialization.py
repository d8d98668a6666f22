"""Course 2, week 1, "Initialization", end to end: NumPy vs fastbp.course.c2w1a1.

The notebook's flow (train the [2, 10, 5, 1] network on the circles with
zeros, large random and He initialisation, then predict on the training
and test sets) run with the course's NumPy code and with fastbp, printing
both times and the costs and accuracies. The data is scikit-learn's
make_circles as the notebook makes it (a NumPy stand-in without sklearn).

    python examples/c2w1a1_initialization.py            # 15000 iterations, as the course
    python examples/c2w1a1_initialization.py --quick    # 2000
"""
import argparse

import _numpy_course2 as npc
from fastbp.course import c2w1a1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    n = 2000 if ap.parse_args().quick else 15000
    train_X, train_Y = npc.circles(300, .05, 1)
    test_X, test_Y = npc.circles(100, .05, 2)

    def flow(course):
        for init in ("zeros", "random", "he"):
            npc.train_and_predict(course, init, (train_X, train_Y), (test_X, test_Y),
                                  num_iterations=n, initialization=init)

    npc.compare(flow, c2w1a1, npc.c2w1a1)


if __name__ == "__main__":
    main()
