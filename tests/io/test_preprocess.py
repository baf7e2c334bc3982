"""Real tables: text columns one-hot, gaps filled with the training median (and marked), an identifier column
refused, rows without a label dropped; the same encoding as scikit-learn's encoders on the same rows."""

from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest

from funcmlp.io import datafile, preprocess, tables
from funcmlp.io.labels import read_labelled

SITES = ["Biscoe, North", "Dream", "Torgersen"]  # a separator inside a quoted field


def penguins(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """A mixed table: an id, two measurements with gaps, two text columns (one with gaps), a year, the
    label last (one missing); the label follows the measurements and the site."""
    rng = np.random.default_rng(seed)
    k = np.arange(n) % 3
    bill = rng.normal(40 + 5 * k, 1.0).round(2)
    mass = rng.normal(3500 + 400 * k, 100.0).round(0)
    frame = pd.DataFrame(
        {
            "id": [f"P-{i:03d}" for i in range(n)],
            "bill": np.where(rng.random(n) < 0.1, np.nan, bill),
            "site": [SITES[(c + (j % 5 == 0)) % 3] for j, c in enumerate(k)],
            "mass": np.where(rng.random(n) < 0.1, np.nan, mass),
            "sex": np.where(rng.random(n) < 0.1, None, rng.choice(["female", "male"], n)),
            "year": 2007 + rng.integers(0, 3, n),
            "species": np.array(["Adelie", "Chinstrap", "Gentoo"])[k].astype(object),
        }
    )
    frame.loc[7, "species"] = None
    return frame


def write(frame: pd.DataFrame, path: Path, sep: str = ",", encoding: str = "utf-8") -> Path:
    frame.to_csv(path, sep=sep, index=False, encoding=encoding)
    return path


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    return write(penguins(), tmp_path_factory.mktemp("tab") / "penguins.csv")


def test_quoted_separators_in_fields_are_read_as_one_cell(csv_file):
    text = csv_file.read_text()
    assert '"Biscoe, North"' in text  # the test file holds what it tests
    frame = tables.read_frame(csv_file).frame
    assert set(frame["site"]) == set(SITES) and frame.index.name == "line" and frame.index[0] == 2


@pytest.mark.parametrize("sep", [";", "\t", "|"])
@pytest.mark.parametrize("encoding", ["utf-8-sig", "latin-1"])
def test_any_separator_and_encoding_gives_the_same_matrix(tmp_path, csv_file, sep, encoding):
    frame = penguins()
    frame.loc[3, "site"] = "Dréam;|"  # a non-ASCII letter and the separators, quoted
    ref = datafile.prepare(write(frame, tmp_path / "a.csv"), jax.random.key(0), drop=("id",))
    other = datafile.prepare(write(frame, tmp_path / "b.csv", sep, encoding), jax.random.key(0), drop=("id",))
    assert "Dréam;|" in ref.preprocessing.columns[1].categories
    assert other.feature_names == ref.feature_names
    for a, b in zip(other.raw, ref.raw, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_parquet_copy_gives_the_same_matrix(tmp_path, csv_file):
    pytest.importorskip("pyarrow")
    pd.read_csv(csv_file).to_parquet(tmp_path / "penguins.parquet")
    kw = dict(drop=("id",), standardize=True, val=0.2, test=0.2)
    a = datafile.prepare(csv_file, jax.random.key(1), **kw)
    b = datafile.prepare(tmp_path / "penguins.parquet", jax.random.key(1), **kw)
    assert a.feature_names == b.feature_names and a.classes == b.classes
    for x, y in zip((*a.split, *a.raw), (*b.split, *b.raw), strict=True):
        np.testing.assert_array_equal(x, y)


def training_frame(path: Path, n_train: int = 40) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The file's labelled rows as read, cut into the first ``n_train`` (fit) and the rest."""
    features = read_labelled(path).features.drop(columns=["id"])
    return features.iloc[:n_train], features.iloc[n_train:]


def reference_encoding(train: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """scikit-learn's SimpleImputer(median) + MissingIndicator per number column, SimpleImputer(most frequent)
    + OneHotEncoder(handle_unknown="ignore") per text column, in the file's column order."""
    sklearn = pytest.importorskip("sklearn")
    from sklearn.impute import MissingIndicator, SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    assert sklearn.__version__
    blocks = []
    for name in train.columns:
        fit_on, apply_to = train[[name]].replace("", np.nan), rows[[name]].replace("", np.nan)
        if name in ("bill", "mass", "year"):
            fit_on, apply_to = fit_on.astype(float), apply_to.astype(float)
            blocks.append(SimpleImputer(strategy="median").fit(fit_on).transform(apply_to))
            if fit_on[name].isna().any():
                blocks.append(MissingIndicator().fit(fit_on).transform(apply_to).astype(float))
        else:
            imputer = SimpleImputer(strategy="most_frequent").fit(fit_on.astype(object))
            encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
            encoder.fit(imputer.transform(fit_on.astype(object)))
            blocks.append(encoder.transform(imputer.transform(apply_to.astype(object))))
    return np.concatenate(blocks, axis=1)


def test_the_encoding_equals_scikit_learns_encoders_on_the_same_training_rows(csv_file, capsys):
    train, rest = training_frame(csv_file)
    prep = preprocess.fit(train)
    x = preprocess.encode(prep, pd.concat([train, rest]))
    expected = reference_encoding(train, pd.concat([train, rest]))
    assert x.shape == expected.shape and x.dtype == np.float32
    np.testing.assert_allclose(x, expected, rtol=1e-6)
    assert prep.feature_names[:2] == ("bill", "bill (missing)")
    from sklearn.preprocessing import StandardScaler

    scaled = preprocess.transform(preprocess.fit(train, standardize=True), rest)
    numbers = [j for j, n in enumerate(prep.feature_names) if n in ("bill", "mass", "year")]
    ref_train, ref_rest = reference_encoding(train, train), reference_encoding(train, rest)
    scaler = StandardScaler().fit(ref_train[:, numbers])
    np.testing.assert_allclose(
        scaled[:, numbers], scaler.transform(ref_rest[:, numbers]), rtol=1e-5, atol=1e-5
    )
    others = [j for j in range(x.shape[1]) if j not in numbers]  # one-hot and indicators stay 0 / 1
    np.testing.assert_array_equal(scaled[:, others], ref_rest[:, others])


def test_an_unseen_category_is_all_zeros_with_a_one_line_warning(csv_file, capsys):
    train, rest = training_frame(csv_file)
    rows = rest.iloc[:4].copy()
    rows.loc[rows.index[1], "site"] = "Anvers"
    prep = preprocess.fit(train)
    x = preprocess.encode(prep, rows, source="path: 'new.csv'")
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "funcmlp: warning: path: 'new.csv' categories not seen in training, encoded as all zeros: "
        "'site' = 'Anvers' (1 row)"
    ]
    site = [j for j, n in enumerate(prep.feature_names) if n.startswith("site=")]
    np.testing.assert_array_equal(x[1, site], 0.0)
    assert x[[0, 2, 3]][:, site].sum(axis=1).tolist() == [1.0, 1.0, 1.0]


def test_an_identifier_column_is_refused_with_a_hint_and_dropped_with_drop(csv_file):
    with pytest.raises(ValueError) as e:
        datafile.prepare(csv_file, jax.random.key(0))
    message = str(e.value)
    assert "\n" not in message and str(csv_file) in message
    assert "column 1 ('id'): a different text in each of its" in message and "drop=('id',)" in message
    p = datafile.prepare(csv_file, jax.random.key(0), drop=("id",))
    assert "id" not in " ".join(p.feature_names) and p.preprocessing.dropped == ("id",)
    assert datafile.summary(p.preprocessing)["dropped_columns"] == ["id"]
    with pytest.raises(ValueError, match=r"drop: expected feature columns of .* got \['ID'\]"):
        datafile.prepare(csv_file, jax.random.key(0), drop=("ID",))


def test_rows_without_a_label_are_dropped_and_counted(csv_file):
    p = datafile.prepare(csv_file, jax.random.key(0), drop=("id",), val=0.2)
    assert sum(len(y) for y in p.raw[1::2]) == 59 and p.preprocessing.unlabelled == 1
    assert datafile.summary(p.preprocessing)["dropped_rows"] == {"missing_label": 1, "gaps": 0}
    assert "1 row without a label dropped" in datafile.describe(p.preprocessing)


def test_missing_drop_drops_the_rows_with_a_gap(csv_file):
    frame = penguins()
    gaps = frame.drop(columns=["id", "species"]).isna().any(axis=1) & frame["species"].notna()
    p = datafile.prepare(csv_file, jax.random.key(0), drop=("id",), missing="drop", test=0.0)
    assert len(p.raw.y_train) == 59 - gaps.sum() and p.preprocessing.incomplete == gaps.sum()
    assert not any("(missing)" in n for n in p.feature_names)
    with pytest.raises(ValueError, match="missing: expected one of impute, drop, got 'mean'"):
        datafile.prepare(csv_file, jax.random.key(0), drop=("id",), missing="mean")


def test_the_record_survives_json(csv_file):
    train, _ = training_frame(csv_file)
    prep = preprocess.fit(train, standardize=True)._replace(unlabelled=2)
    assert datafile.Preprocessing.from_json(prep.to_json()) == prep
    with pytest.raises(ValueError, match="preprocessing: expected a record"):
        datafile.Preprocessing.from_json({"columns": []})


def test_a_quoted_line_break_keeps_the_line_numbers(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text('a,note,y\n1,"two\nlines",0\n# c\n2,x,1\nthree,y,0\n')
    with pytest.raises(ValueError, match=r"notes\.csv' line 6, column 1: expected a number, got 'three'$"):
        datafile.load(path)
    frame = tables.read_frame(path).frame
    assert frame.index.tolist() == [2, 5, 6] and frame["note"].tolist() == ["two\nlines", "x", "y"]


def test_a_headerless_table_with_text_is_read_by_position(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("Torgersen,39.1,A\nBiscoe,40.2,B\nDream,,A\n")
    table = tables.read_frame(path)
    assert not table.header and list(table.frame.columns) == ["x1", "x2", "x3"]
    ds = datafile.load(path)
    assert ds.feature_names == ("x1=Biscoe", "x1=Dream", "x1=Torgersen", "x2", "x2 (missing)")
    np.testing.assert_allclose(ds.x[2], [0, 1, 0, 39.65, 1], rtol=1e-6)
