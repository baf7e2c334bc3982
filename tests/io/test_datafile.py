from pathlib import Path

import jax
import numpy as np
import pytest

from funcmlp.io import datafile


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("delim", [",", ";", "\t"])
@pytest.mark.parametrize("header", [True, False])
def test_csv_features_then_label(tmp_path, delim, header):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 3)).round(4)
    labels = ["b", "a", "c", "a", "b", "c", "c"]
    lines = [delim.join(["f1", "f2", "f3", "species"])] if header else []
    lines += [delim.join([*map(str, row), lab]) for row, lab in zip(x, labels, strict=True)]
    ds = datafile.load(write(tmp_path, "\n".join(lines) + "\n"))
    np.testing.assert_allclose(ds.x, x.astype(np.float32))
    assert ds.classes == ("a", "b", "c")
    assert [ds.classes[i] for i in ds.y] == labels
    assert ds.x.dtype == np.float32 and ds.y.dtype == np.int32
    assert ds.feature_names == (("f1", "f2", "f3") if header else ("x1", "x2", "x3"))


def test_integer_labels_keep_their_values_as_classes(tmp_path):
    ds = datafile.load(write(tmp_path, "0.5,1,3\n1.5,2,1.0\n# a comment\n\n2.5,3,3\n"))
    assert ds.classes == (1, 3)
    np.testing.assert_array_equal(ds.y, [1, 0, 1])
    np.testing.assert_array_equal(ds.x, [[0.5, 1], [1.5, 2], [2.5, 3]])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b,y\n1,2,0\n3,4\n", "line 3: expected 3 columns like line 1, got 2"),
        ("1,2,0\n3,4,1,5\n", "line 2: expected 3 columns like line 1, got 4"),
        ("a,b,y\n1,2,0\n3,four,1\n", "line 3, column 2: expected a number, got 'four'"),
        ("1,2,0\n\n1,inf,1\n", "line 3, column 2: expected a finite float32 number, got 'inf'"),
        ("1,2,0\n1,1e39,1\n", "line 2, column 2: expected a finite float32 number, got '1e39'"),
        ("", "has no data rows"),
        ("a,b,label\n", "has a header row (line 1) but no data rows"),
        ("1,2,0\n3,4,0\n", "expected at least 2 classes"),
        ("1,2,0\n3,4,cat\n", "labels mix numbers and words"),
        ("1\n2\n", "line 1: expected at least 2 columns"),
    ],
)
def test_malformed_csv_names_the_line_and_the_problem(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as e:
        datafile.load(path)
    assert message in str(e.value)
    assert str(path) in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        datafile.load(tmp_path / "nope.csv")


def test_npz(tmp_path):
    x = np.arange(12, dtype=np.float64).reshape(6, 2)
    y = np.array([2, 0, 2, 5, 0, 5])
    np.savez(tmp_path / "d.npz", x=x, y=y)
    ds = datafile.load(tmp_path / "d.npz")
    np.testing.assert_array_equal(ds.x, x.astype(np.float32))
    assert ds.classes == (0, 2, 5)
    np.testing.assert_array_equal(np.asarray(ds.classes)[ds.y], y)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x": np.zeros((3, 2))}, "missing ['y']"),
        ({"x": np.zeros((3, 2)), "y": np.zeros(4)}, "expected y of shape (3,)"),
        ({"x": np.zeros(3), "y": np.zeros(3)}, "expected x of shape (n, d)"),
        ({"x": np.array([[0.0, np.inf], [1, 1]]), "y": np.array([0, 1])}, "x[0, 1] is inf"),
    ],
)
def test_malformed_npz(tmp_path, arrays, message):
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(ValueError) as e:
        datafile.load(tmp_path / "d.npz")
    assert message in str(e.value)


def test_load_features_with_and_without_labels(tmp_path):
    only = write(tmp_path, "u,v\n1,2\n3,4\n", "a.csv")
    x, labels = datafile.load_features(only, 2)
    np.testing.assert_array_equal(x, [[1, 2], [3, 4]])
    assert labels is None
    both = write(tmp_path, "1,2,dog\n3,4,cat\n", "b.csv")
    x, labels = datafile.load_features(both, 2)
    np.testing.assert_array_equal(x, [[1, 2], [3, 4]])
    assert labels == ["dog", "cat"]
    with pytest.raises(ValueError, match="expected 3 feature columns .* got 2 columns"):
        datafile.load_features(only, 3)


def test_standardizer_uses_the_float64_formula():
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, size=(50, 3))
    x[:, 2] = 7.0  # a constant column keeps its scale
    st = datafile.standardizer(x)
    mean = x.sum(axis=0) / len(x)
    std = np.sqrt(((x - mean) ** 2).sum(axis=0) / len(x))
    std[2] = 1.0
    np.testing.assert_allclose(st(x), (x - mean) / std, rtol=1e-5, atol=1e-6)
    new_point = np.array([[3.0, 3.0, 9.0]])  # unseen values in the constant column move by their difference
    np.testing.assert_allclose(st(new_point), (new_point - mean) / std, rtol=1e-5)
    back = datafile.Standardizer.from_json(st.to_json())
    np.testing.assert_array_equal(back(x), st(x))


@pytest.mark.parametrize(
    ("val", "test", "sizes"), [(0.0, 0.2, (80, 0, 20)), (0.1, 0.2, (70, 10, 20)), (0.0, 0.0, (100, 0, 0))]
)
def test_split_partitions_the_samples(val, test, sizes):
    x = np.arange(200, dtype=np.float32).reshape(100, 2)
    y = np.arange(100) % 3
    s = datafile.split(jax.random.key(0), x, y, val=val, test=test)
    assert (len(s.y_train), len(s.y_val), len(s.y_test)) == sizes
    rows = np.concatenate([s.x_train, s.x_val, s.x_test])[:, 0] / 2
    np.testing.assert_array_equal(np.sort(rows), np.arange(100))  # every sample once
    for xs, ys in [(s.x_train, s.y_train), (s.x_val, s.y_val), (s.x_test, s.y_test)]:
        np.testing.assert_array_equal(ys, (xs[:, 0] / 2).astype(int) % 3)  # rows keep their labels
    again = datafile.split(jax.random.key(0), x, y, val=val, test=test)
    np.testing.assert_array_equal(again.x_test, s.x_test)


@pytest.mark.parametrize(
    ("val", "test", "message"),
    [
        (0.5, 0.5, "leave training samples"),
        (-0.1, 0.2, "val: expected a fraction"),
        (0.0, 1.0, "test: expected a fraction"),
    ],
)
def test_split_rejects_bad_fractions(val, test, message):
    with pytest.raises(ValueError, match=message):
        datafile.split(jax.random.key(0), np.zeros((4, 2)), np.zeros(4), val=val, test=test)


def test_prepare_standardises_with_training_statistics(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal([10.0, -5.0], [3.0, 0.5], size=(40, 2))
    y = (x[:, 0] > 10).astype(int)
    path = write(tmp_path, "".join(f"{a},{b},{c}\n" for (a, b), c in zip(x, y, strict=True)))
    p = datafile.prepare(path, jax.random.key(3), standardize=True, val=0.25, test=0.25)
    raw = p.raw
    mean, std = raw.x_train.astype(np.float64).mean(0), raw.x_train.astype(np.float64).std(0)
    np.testing.assert_allclose(p.split.x_train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(p.split.x_train.std(0), 1, rtol=1e-5)
    np.testing.assert_allclose(p.split.x_test, (raw.x_test - mean) / std, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(p.split.y_val, raw.y_val)
    plain = datafile.prepare(path, jax.random.key(3), val=0.25, test=0.25)
    assert plain.standardizer is None
    np.testing.assert_array_equal(plain.split.x_train, raw.x_train)


DOCUMENTED = [  # (file content, the message docs/errors.md shows for it)
    ("", "path: 'flowers.csv' has no data rows (the file is empty)"),
    ("a,b,label\n", "path: 'flowers.csv' has a header row (line 1) but no data rows"),
    ("1\n2\n", "path: 'flowers.csv' line 1: expected at least 2 columns (features, then a label), got 1"),
    ("a,b,y\n1,2,0\n3,4\n", "path: 'flowers.csv' line 3: expected 3 columns like line 1, got 2"),
    (
        "1,2,0\n1,2,1\n\n3,4,0\n# c\n5,6,1\n7,two,0\n",
        "path: 'flowers.csv' line 7, column 2: expected a number, got 'two'",
    ),
    (
        "1,2,0\n1,2,1\n\n1,inf,1\n",
        "path: 'flowers.csv' line 4, column 2: expected a finite float32 number, got 'inf'",
    ),
    ("1,2,0\n3,4,cat\n", "path: 'flowers.csv': labels mix numbers and words (e.g. 'cat'); use one kind"),
    ("1,2,0\n3,4,0\n", "path: 'flowers.csv': expected at least 2 classes in the label column, got [0]"),
]


@pytest.mark.parametrize(("text", "message"), DOCUMENTED)
def test_docs_show_the_real_messages(tmp_path, monkeypatch, text, message):
    doc = (Path(__file__).parents[2] / "docs" / "errors.md").read_text()
    assert f"`{message}`" in doc
    monkeypatch.chdir(tmp_path)
    Path("flowers.csv").write_text(text)
    with pytest.raises(ValueError) as e:
        datafile.load("flowers.csv")
    assert str(e.value) == message


# -- points to predict: columns matched to the model's features by header name -----------------------------


def test_read_features_reorders_header_columns_into_the_model_order(tmp_path):
    x = np.random.default_rng(5).normal(size=(4, 3)).round(3)
    labels = ["dog", "cat", "dog", "eel"]
    file_order = ["c", "species", "a", "b"]  # the model's order is a, b, c; the label stands second
    lines = [",".join(file_order)]
    lines += [f"{c},{lab},{a},{b}" for (a, b, c), lab in zip(x, labels, strict=True)]
    f = datafile.read_features(write(tmp_path, "\n".join(lines) + "\n"), 3, ("a", "b", "c"))
    np.testing.assert_array_equal(f.x, x.astype(np.float32))
    assert f.labels == labels
    assert f.columns == tuple(file_order)
    assert f.feature_columns == (2, 3, 0) and f.label_column == 1
    assert [f.columns[c] for c in f.feature_columns] == ["a", "b", "c"]
    x2, labels2 = datafile.load_features(tmp_path / "data.csv", 3, ["a", "b", "c"])
    np.testing.assert_array_equal(x2, f.x)
    assert labels2 == labels


def test_read_features_without_a_label_column_and_with_a_header_in_the_model_order(tmp_path):
    f = datafile.read_features(write(tmp_path, "b,a\n1,2\n3,4\n"), 2, ("a", "b"))
    np.testing.assert_array_equal(f.x, [[2, 1], [4, 3]])
    assert f.labels is None and f.label_column is None and f.columns == ("b", "a")
    same = datafile.read_features(write(tmp_path, "a,b\n2,1\n4,3\n", "same.csv"), 2, ("a", "b"))
    np.testing.assert_array_equal(same.x, f.x)


def test_read_features_without_a_header_goes_by_position_under_the_model_names(tmp_path):
    f = datafile.read_features(write(tmp_path, "1,2,dog\n3,4,cat\n"), 2, ("len", "wid"))
    np.testing.assert_array_equal(f.x, [[1, 2], [3, 4]])
    assert f.labels == ["dog", "cat"]
    assert f.columns == ("len", "wid", "label") and f.feature_columns == (0, 1) and f.label_column == 2
    f = datafile.read_features(write(tmp_path, "1,2\n3,4\n", "b.csv"), 2)
    assert f.columns == ("x1", "x2") and f.labels is None


def test_read_features_from_an_npz_takes_the_model_names(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.ones((3, 2)), y=np.array([0, 1, 0]))
    f = datafile.read_features(tmp_path / "d.npz", 2, ("len", "wid"))
    assert f.columns == ("len", "wid", "label") and f.labels == ["0", "1", "0"] and f.label_column == 2


def test_read_features_names_the_file_column_of_a_bad_row(tmp_path):
    path = write(tmp_path, "b,species,a\n1,dog,2\n3,,4\n")  # a point without a label is still a point
    assert datafile.read_features(path, 2, ("a", "b")).labels == ["dog", ""]
    path = write(tmp_path, "b,species,a\n1,dog,2\n3,cat,two\n")
    with pytest.raises(ValueError, match=r"line 3, column 3: expected a number, got 'two'"):
        datafile.read_features(path, 2, ("a", "b"))
    path = write(tmp_path, "b,species,a\n1,dog,2\n3,cat,n/a\n")  # a gap, and no median to fill it
    with pytest.raises(ValueError, match=r"line 3, column 3: expected a number, got a gap"):
        datafile.read_features(path, 2, ("a", "b"))


def test_read_features_wants_one_name_per_feature(tmp_path):
    with pytest.raises(ValueError) as e:
        datafile.read_features(write(tmp_path, "a,b\n1,2\n"), 2, ("a", "b", "c"))
    assert str(e.value) == "names: expected 2 feature names (one per feature), got 3"
    assert f"`{e.value}`" in (Path(__file__).parents[2] / "docs" / "errors.md").read_text()


MODEL = ("petal_length", "petal_width")
AUTO = ("x1", "x2")
DOCUMENTED_PREDICT = [  # (file content, the model's feature names, the message docs/errors.md shows for it)
    (
        "petal_length,width,species\n1,2,setosa\n",
        MODEL,
        "path: 'new.csv': expected the model's feature columns ['petal_length', 'petal_width'] in the header "
        "row, missing ['petal_width']; the header has ['petal_length', 'width', 'species']",
    ),
    (
        "petal_length,petal_width,petal_length\n1,2,3\n",
        MODEL,
        "path: 'new.csv': the header row names column 'petal_length' twice (columns 1 and 3); expected "
        "unique column names",
    ),
    (
        "petal_width,species,petal_length,notes\n1,setosa,2,ok\n",
        MODEL,
        "path: 'new.csv': expected the model's feature columns ['petal_length', 'petal_width'] and at most "
        "one label column, got 2 other columns ['species', 'notes']",
    ),
    (
        "length,width\n1,2\n",
        AUTO,
        "path: 'new.csv' has a header row ['length', 'width'], but the model was trained without feature "
        "names (on a file without a header row, or an .npz: x1, x2), so its columns cannot be matched by "
        "name; give the file without a header row, the features in the training order (then optionally "
        "the label)",
    ),
    (
        "1,2,3,4\n",
        MODEL,
        "path: 'new.csv': expected 2 feature columns (optionally followed by a label), got 4 columns",
    ),
]


@pytest.mark.parametrize(("text", "names", "message"), DOCUMENTED_PREDICT)
def test_read_features_refuses_columns_it_cannot_match(tmp_path, monkeypatch, text, names, message):
    doc = (Path(__file__).parents[2] / "docs" / "errors.md").read_text()
    assert f"`{message}`" in doc
    monkeypatch.chdir(tmp_path)
    Path("new.csv").write_text(text)
    with pytest.raises(ValueError) as e:
        datafile.read_features("new.csv", 2, names)
    assert str(e.value) == message
