"""fastbp.datasets: the course's planar data, regenerated."""
import numpy as np
import pytest

from fastbp.datasets import load_planar_dataset, make_image_like_dataset


def _planar_by_formula():
    """The flower written out independently: per class j, 200 angles
    t = linspace(3.12 j, 3.12 (j+1)) + 0.2 n1, radii r = 4 sin 4t + 0.2 n2,
    points (r sin t, r cos t); draws n1, n2 from seed 1 in that order."""
    rs = np.random.RandomState(1)
    cols, labels = [], []
    for j in (0, 1):
        t = np.linspace(3.12 * j, 3.12 * (j + 1), 200) + rs.randn(200) * 0.2
        r = 4 * np.sin(4 * t) + rs.randn(200) * 0.2
        cols.append(np.vstack([r * np.sin(t), r * np.cos(t)]))
        labels.append(np.full(200, j, dtype=np.uint8))
    return np.hstack(cols), np.concatenate(labels)[None, :]


def test_planar_shapes_dtypes_balance():
    X, Y = load_planar_dataset()
    assert X.shape == (2, 400) and X.dtype == np.float64
    assert Y.shape == (1, 400) and Y.dtype == np.uint8
    assert set(np.unique(Y)) == {0, 1}
    assert int(Y.sum()) == 200
    assert np.all(Y[0, :200] == 0) and np.all(Y[0, 200:] == 1)
    # a flower of maximum ray 4 (+ noise)
    assert np.abs(X).max() < 4.8
    assert np.isfinite(X).all()


def test_planar_matches_the_formula_bitwise():
    X, Y = load_planar_dataset()
    Xf, Yf = _planar_by_formula()
    np.testing.assert_array_equal(X, Xf)
    np.testing.assert_array_equal(Y, Yf)


def test_planar_deterministic_and_leaves_rng_like_the_course():
    np.random.seed(123)
    X1, Y1 = load_planar_dataset()
    after1 = np.random.rand()
    np.random.seed(999)
    X2, Y2 = load_planar_dataset()
    after2 = np.random.rand()
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(Y1, Y2)
    # the course seeds the global generator with 1 and draws 800 normals
    np.random.seed(1)
    np.random.randn(800)
    expected = np.random.rand()
    assert after1 == after2 == expected


def test_planar_is_not_trivially_separable():
    # logistic regression on the raw coordinates gets ~47% in the course;
    # a linear rule through the origin cannot separate the petals
    X, Y = load_planar_dataset()
    best = max(np.mean((np.sign(w @ X) > 0) == Y[0])
               for w in np.random.RandomState(0).randn(200, 2))
    assert best < 0.75


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_image_like_dataset(dtype):
    state = np.random.get_state()[1].copy()
    X, Y = make_image_like_dataset(m=30, n_px=8, seed=3, dtype=dtype)
    assert np.array_equal(np.random.get_state()[1], state)   # global RNG untouched
    assert X.shape == (8 * 8 * 3, 30) and X.dtype == dtype and X.flags.c_contiguous
    assert Y.shape == (1, 30) and Y.dtype == np.uint8
    assert 0.0 <= X.min() and X.max() <= 1.0
    X2, Y2 = make_image_like_dataset(m=30, n_px=8, seed=3, dtype=dtype)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(Y, Y2)
    assert 0 < Y.sum() < 30
    # the label is visible: more red than blue in the centre for Y = 1
    img = X.T.reshape(30, 8, 8, 3)[:, 2:6, 2:6, :].astype(np.float64)
    red_minus_blue = img[..., 0].mean(axis=(1, 2)) - img[..., 2].mean(axis=(1, 2))
    np.testing.assert_array_equal(red_minus_blue > 0, Y[0] == 1)
    with pytest.raises(ValueError, match="m >= 1"):
        make_image_like_dataset(m=0)
