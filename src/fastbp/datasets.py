"""Small data sets of the Deep Learning Specialization, regenerated.

``load_planar_dataset`` rebuilds course 1 week 3's two-class "flower" data
bit for bit: the same seed, the same draws in the same order, the same
arithmetic. ``make_image_like_dataset`` is a synthetic stand-in with the
shapes of course 1 week 4's cat/non-cat images (the real photos are not
redistributable), with labels a dense network can learn.
"""
import numpy as np

__all__ = ["load_planar_dataset", "make_image_like_dataset"]


def load_planar_dataset():
    """The 400-point, two-class "flower" of course 1 week 3.

    Two interleaved four-petal curves in the plane, 200 points each::

        t = linspace(j 3.12, (j + 1) 3.12, 200) + 0.2 randn
        r = 4 sin(4 t) + 0.2 randn
        x = (r sin t, r cos t),  label j in {0, 1}

    Like the course's ``planar_utils.load_planar_dataset`` it calls
    ``np.random.seed(1)`` and draws from NumPy's global generator, so it
    returns the same arrays and leaves the global generator in the same
    state as the course's function does.

    Returns
    -------
    X : ndarray (2, 400) float64
        Coordinates, examples as columns.
    Y : ndarray (1, 400) uint8
        Labels: 0 for the first 200 examples (red), 1 for the rest (blue).
    """
    np.random.seed(1)
    m = 400                 # number of examples
    N = m // 2              # points per class
    D = 2                   # dimensionality
    X = np.zeros((m, D))
    Y = np.zeros((m, 1), dtype="uint8")
    a = 4                   # maximum ray of the flower
    for j in range(2):
        ix = range(N * j, N * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + np.random.randn(N) * 0.2
        r = a * np.sin(4 * t) + np.random.randn(N) * 0.2
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[ix] = j
    return X.T, Y.T


def make_image_like_dataset(m=209, n_px=64, *, seed=1, dtype=np.float64):
    """Synthetic data with the shapes of the course's cat/non-cat images.

    ``X`` holds m flattened n_px x n_px RGB "images" with pixel values in
    [0, 1] (the course divides its uint8 pixels by 255): uniform noise in
    0..199, plus 56 on the red channel of the central square for label 1
    and on the blue channel for label 0 -- a pattern a small dense network
    learns, hidden in as much noise as the course's photos carry.

    Parameters
    ----------
    m : int, default 209
        Number of examples (209 in the course's training set, 50 in its test
        set), >= 1.
    n_px : int, default 64
        Image side, >= 2; X has n_px * n_px * 3 rows (12288 for 64).
    seed : int, default 1
        Seed of a private ``np.random.default_rng``; the global generator
        is not touched.
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        The dtype of X.

    Returns
    -------
    X : ndarray (n_px * n_px * 3, m), C-contiguous
        Pixel values in [0, 1], of ``dtype``; column j is image j flattened
        as the course flattens its images (``reshape(m, -1).T``).
    Y : ndarray (1, m) uint8
        Labels 0 or 1.

    Raises
    ------
    TypeError
        ``m`` or ``n_px`` not an int, ``dtype`` not float32 or float64.
    ValueError
        ``m < 1`` or ``n_px < 2``.
    """
    for name, v in (("m", m), ("n_px", n_px)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(v).__name__} {v!r}")
    if m < 1 or n_px < 2:
        raise ValueError(f"Invalid sizes: need m >= 1 and n_px >= 2, got m={m}, n_px={n_px}")
    if np.dtype(dtype) not in (np.float32, np.float64):
        # pixels are scaled to [0, 1): an integer dtype would make them all 0
        raise TypeError(f"dtype must be float32 or float64, got {np.dtype(dtype)}")
    rng = np.random.default_rng(seed)
    Y = (rng.random(m) < 0.5).astype(np.uint8)
    imgs = rng.integers(0, 200, size=(m, n_px, n_px, 3), dtype=np.uint8)
    c0, c1 = n_px // 4, n_px - n_px // 4
    centre = imgs[:, c0:c1, c0:c1, :]
    centre[Y == 1, :, :, 0] += 56
    centre[Y == 0, :, :, 2] += 56
    X = (imgs.reshape(m, -1).T / 255.0).astype(dtype)
    return np.ascontiguousarray(X), Y.reshape(1, m)
