"""Course 1 week 3 assignment 1 ("Planar data classification with one hidden layer"),
end to end, with ``fastbp.course.c1w3a1``.

The notebook's flow (``course_week3.week3``: ``nn_model`` with n_h = 4
printing its cost every 1000 iterations, ``predict`` and the accuracy, then
the hidden-layer sizes 1 ... 50) run twice -- with the week's plain NumPy
code (``examples/course_week3.py``) and with ``fastbp.course.c1w3a1``, the
module a learner imports in place of ``planar_utils`` and the graded
cells -- printing both runs' costs, accuracies and times:

    python examples/c1w3a1_planar.py            # 10000 iterations, as the course
    python examples/c1w3a1_planar.py --quick    # 2000 iterations
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import course_week3  # noqa: E402
from fastbp.course import c1w3a1  # noqa: E402

if __name__ == "__main__":
    course_week3.main(c1w3a1, "fastbp.course.c1w3a1")
