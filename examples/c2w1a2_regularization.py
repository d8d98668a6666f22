"""Course 2, week 1, "Regularization", end to end: NumPy vs fastbp.course.c2w1a2.

The notebook's flow (the [2, 20, 3, 1] network without regularization, with
L2 (lambd=0.7) and with dropout (keep_prob=0.86), each followed by the train
and test accuracy) run with the course's NumPy code and with fastbp,
printing both times, costs and accuracies. The course's datasets/data.mat is
read when given (--data); otherwise synthetic 2-D data of the same shapes.

    python examples/c2w1a2_regularization.py [--data datasets/data.mat] [--quick]
"""
import argparse

import _numpy_course2 as npc
from fastbp.course import c2w1a2


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3000 iterations instead of 30000")
    ap.add_argument("--data", help="the course's datasets/data.mat")
    args = ap.parse_args()
    n = 3000 if args.quick else 30000
    if args.data:
        train_X, train_Y, test_X, test_Y = c2w1a2.load_2D_dataset(args.data)
    else:
        train_X, train_Y = npc.spots(211, 1)
        test_X, test_Y = npc.spots(200, 2)

    def flow(course):
        for lambd, keep_prob in ((0, 1), (0.7, 1), (0, 0.86)):
            npc.train_and_predict(course, f"lambd={lambd}, keep_prob={keep_prob}",
                                  (train_X, train_Y), (test_X, test_Y), num_iterations=n,
                                  lambd=lambd, keep_prob=keep_prob)

    npc.compare(flow, c2w1a2, npc.c2w1a2)


if __name__ == "__main__":
    main()
