"""Course 1 week 4 assignment 2 ("Deep Neural Network for Image Classification:
Application"), end to end, with ``fastbp.course.c1w4a2``.

The notebook's flow (``course_week4.week4``: ``two_layer_model`` (12288, 7,
1) and ``L_layer_model`` [12288, 20, 7, 5, 1], each printing its cost and
followed by ``predict`` on the training and the test set) run twice -- with
the week's plain NumPy code (``examples/course_week4.py``) and with
``fastbp.course.c1w4a2`` -- printing both runs' costs, accuracies and times.

The data are the course's cat / non-cat photos when ``--datasets DIR`` (by
default ``./datasets``, as in the notebook) holds ``train_catvnoncat.h5``
and ``test_catvnoncat.h5`` and h5py is installed, preprocessed as the
notebook does (flattened to columns, divided by 255); otherwise synthetic
images of the same shapes (12288 features; 209 training, 50 test examples).

    python examples/c1w4a2_application.py                  # 2500 iterations
    python examples/c1w4a2_application.py --quick          # 300 iterations
    python examples/c1w4a2_application.py --datasets path/to/datasets
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import course_week4  # noqa: E402
from fastbp.course import c1w4a2  # noqa: E402


def course_data(path):
    """(train_x, train_y, test_x, test_y) from the course's h5 files, or None."""
    try:
        train_x_orig, train_y, test_x_orig, test_y, _ = c1w4a2.load_data(path)
    except FileNotFoundError as exc:
        missing = str(exc).split(". The course's")[0]
        print(f"{missing}.\n-> synthetic cat-shaped data (12288 features) instead; give "
              "the notebook's datasets/ folder with --datasets DIR to use its photos\n")
        return None
    except ImportError as exc:
        print(f"{exc}\n-> synthetic cat-shaped data (12288 features) instead\n")
        return None

    def flatten(x):
        return x.reshape(x.shape[0], -1).T / 255.

    print(f"the course's data from {path}\n")
    return flatten(train_x_orig), train_y, flatten(test_x_orig), test_y


if __name__ == "__main__":
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--datasets", default="datasets")
    path = ap.parse_known_args()[0].datasets
    course_week4.main(c1w4a2, "fastbp.course.c1w4a2", course_data(path))
