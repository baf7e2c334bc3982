"""Real-valued targets (``datafile.load_targets``, ``prepare(..., targets=True)``) and the check that labels
read as classes look continuous (``datafile.continuous_labels``)."""

import jax
import numpy as np
import pytest

from funcmlp.io import datafile


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_targets_are_a_float_column(tmp_path):
    ds = datafile.load_targets(write(tmp_path, "a,b,price\n1,2,10.5\n3,4,-2\n# note\n5,6,1e3\n"))
    assert ds.y.dtype == np.float32 and ds.y.shape == (3, 1)
    np.testing.assert_array_equal(ds.y[:, 0], [10.5, -2.0, 1000.0])
    assert ds.classes == () and ds.feature_names == ("a", "b")


def test_npz_targets(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.ones((4, 2)), y=np.array([1, 2, 3, 5]))
    np.testing.assert_array_equal(datafile.load_targets(path).y, [[1], [2], [3], [5]])
    np.savez(path, x=np.ones((2, 2)), y=np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="y has NaN or inf entries; expected real-valued targets"):
        datafile.load_targets(path)
    np.savez(path, x=np.ones((2, 2)), y=np.array([1e39, 0.0]))
    with pytest.raises(ValueError, match="expected targets y within the float32 range"):
        datafile.load_targets(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b,y\n1,2,3\n1,2,cheap\n", "line 3, column 3: expected a real-valued target .*, got 'cheap'"),
        ("1,2,3\n\n1,2,inf\n", "line 3, column 3: expected a real-valued target .*, got 'inf'"),
        ("1,2,3\n1,2\n", "line 2: expected 3 columns like line 1, got 2"),
    ],
)
def test_bad_targets_name_the_line(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        datafile.load_targets(write(tmp_path, text))


def test_prepare_standardizes_targets_with_the_training_rows_only(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 2)), rng.normal(300.0, 40.0, size=50)
    path = write(tmp_path, "".join(f"{a},{b},{t}\n" for (a, b), t in zip(x, y, strict=True)))
    p = datafile.prepare(path, jax.random.key(0), val=0.2, test=0.2, targets=True)
    raw_train = p.raw.y_train.astype(np.float64)
    np.testing.assert_allclose(p.target_standardizer.mean, raw_train.mean(0), rtol=1e-6)
    np.testing.assert_allclose(p.target_standardizer.std, raw_train.std(0), rtol=1e-5)
    assert abs(p.split.y_train.mean()) < 1e-5 and p.split.y_train.std() == pytest.approx(1.0, rel=1e-5)
    for raw, scaled in ((p.raw.y_test, p.split.y_test), (p.raw.y_val, p.split.y_val)):
        back = scaled * p.target_standardizer.std + p.target_standardizer.mean
        np.testing.assert_allclose(back, raw, rtol=1e-5)
    assert p.standardizer is None  # the features only with standardize=True
    np.testing.assert_array_equal(p.split.x_train, p.raw.x_train)


def test_non_integer_labels_are_numbers(tmp_path):
    ds = datafile.load(write(tmp_path, "1,0.5\n2,1\n3,1.5\n4,1.0\n"))
    assert ds.classes == (0.5, 1, 1.5)
    np.testing.assert_array_equal(ds.y, [0, 1, 2, 1])
    assert datafile.parse_label("2.50") == 2.5 and datafile.parse_label("3.0") == 3
    assert datafile.parse_label("nan") == "nan"


@pytest.mark.parametrize(
    ("classes", "n", "why"),
    [
        ((0.5, 1, 1.5), 6, "numbers that are not whole, such as 0.5"),
        (tuple(range(25)), 100, "25 distinct numbers in 100 rows"),
        (tuple(range(25)), 250, None),  # ten rows per class: classes
        (tuple(range(19)), 19, None),  # few classes
        (("a", "b"), 2, None),
        ((0, 1), 1000, None),
    ],
)
def test_continuous_labels(classes, n, why):
    assert datafile.continuous_labels(classes, n) == why
