"""Course 2, week 2, "Optimization Methods", end to end: NumPy vs fastbp.course.c2w2a1.

The notebook's flow (the [2, 5, 2, 1] network on the moons with mini-batch
gradient descent, momentum and Adam, then gradient descent with learning-rate
decay (update_lr), each followed by the accuracy) run with the course's NumPy code and with
fastbp, printing both times, costs and accuracies. The data is scikit-learn's
make_moons as the notebook makes it (a NumPy stand-in without sklearn).

    python examples/c2w2a1_optimization.py            # 5000 epochs, as the course
    python examples/c2w2a1_optimization.py --quick    # 500
"""
import argparse

import _numpy_course2 as npc
from fastbp.course import c2w2a1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    epochs = 500 if ap.parse_args().quick else 5000
    train_X, train_Y = npc.moons(300, .2, 3)
    layers_dims = [train_X.shape[0], 5, 2, 1]

    def flow(course):
        for optimizer in ("gd", "momentum", "adam"):
            npc.train_and_predict(course, optimizer, (train_X, train_Y), (None, None),
                                  layers_dims, optimizer=optimizer, num_epochs=epochs)
        npc.train_and_predict(course, "gd with update_lr decay", (train_X, train_Y),
                              (None, None), layers_dims, optimizer="gd", learning_rate=0.1,
                              num_epochs=epochs, decay=course.update_lr)

    npc.compare(flow, c2w2a1, npc.c2w2a1)


if __name__ == "__main__":
    main()
