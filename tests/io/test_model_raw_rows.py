"""A saved model carries its whole preprocessing: ``load_model(run).predict`` and ``funcmlp predict`` take raw
rows in the training file's own form (a path, or a data frame with its columns in any order) and answer
as the hand-encoded matrix does."""

import csv
import io
import json

import jax
import numpy as np
import pandas as pd
import pytest

import funcmlp
from funcmlp.cli.app import main
from funcmlp.io import preprocess, runs
from funcmlp.io.labels import read_labelled
from tests.io.test_preprocess import SITES, penguins, write

CLASSES = ("Adelie", "Chinstrap", "Gentoo")


N_TRAIN = 40


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A 2-layer tanh net saved with the preprocessing fitted on a mixed table's first 40 labelled rows."""
    folder = tmp_path_factory.mktemp("raw")
    path = write(penguins(), folder / "penguins.csv")
    train = read_labelled(path).features.iloc[:N_TRAIN]
    prep = preprocess.fit(train, standardize=True, drop=("id",))
    params = funcmlp.init_params(jax.random.key(1), (len(prep.feature_names), 6, 3))
    run = folder / "run"
    run.mkdir()
    runs.save_model(
        run,
        params,
        activation="tanh",
        standardizer=prep.standardizer,
        classes=CLASSES,
        feature_names=prep.feature_names,
        preprocessing=prep,
    )
    return path, params, run


def hand_encoded(train: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """The inputs by hand in float64 numpy: per number column the value (the training median where missing)
    and, when the training rows had gaps, 1[missing]; per text column 1[value == c] for its sorted training
    categories c (a gap: the most frequent one, the smallest of a tie)."""
    blocks = []
    for name in ("bill", "site", "mass", "sex", "year"):
        if name in ("bill", "mass", "year"):
            t, v = train[name].to_numpy(float), rows[name].to_numpy(float)
            blocks.append(np.where(np.isnan(v), np.median(t[~np.isnan(t)]), v)[:, None])
            if np.isnan(t).any():
                blocks.append(np.isnan(v)[:, None].astype(float))
        else:
            counts = train[name].dropna().value_counts()
            top = min(counts.index[counts == counts.max()])
            v = rows[name].fillna(top).to_numpy(object)
            blocks.append(np.stack([v == c for c in sorted(counts.index)], axis=1).astype(float))
    return np.concatenate(blocks, axis=1)


def reference_labels(params, train: pd.DataFrame, x: np.ndarray) -> list[str]:
    """argmax of the tanh net by hand in float64, on inputs standardised with the training rows' numbers."""
    ref = hand_encoded(train, train)
    mean, std = ref.mean(0), ref.std(0)
    numbers = [
        0,
        5,
        9,
    ]  # bill, mass, year among bill, bill (missing), site x3, mass, mass (missing), sex x2, year
    z = x.copy()
    z[:, numbers] = (x[:, numbers] - mean[numbers]) / std[numbers]
    a = np.tanh(z @ np.asarray(params[0]["w"], float) + np.asarray(params[0]["b"], float))
    logits = a @ np.asarray(params[1]["w"], float) + np.asarray(params[1]["b"], float)
    return [CLASSES[i] for i in logits.argmax(1)]


def test_predictions_from_raw_rows_equal_those_from_the_hand_encoded_matrix(saved):
    path, params, run = saved
    model = runs.load_model(run)
    table = penguins()
    train = table[table["species"].notna()].iloc[:N_TRAIN]
    x_hand = hand_encoded(train, table)
    assert model.feature_names[5:7] == ("mass", "mass (missing)")
    np.testing.assert_allclose(model.inputs(table), x_hand, rtol=1e-6)
    expected = reference_labels(params, train, x_hand)
    assert len(set(expected)) > 1  # the test can tell rows apart
    assert model.predict(x_hand) == expected
    assert model.predict(path) == expected  # the file, as it is
    shuffled = table[["species", "year", "sex", "id", "mass", "site", "bill"]]  # any order, id and label too
    assert model.predict(shuffled) == expected
    with pytest.raises(ValueError, match=r"frame: expected the columns .* missing \['site'\]"):
        model.predict(table.drop(columns=["site"]))


def test_funcmlp_predict_reads_the_raw_file(saved, capsys):
    path, params, run = saved
    table = penguins()
    train = table[table["species"].notna()].iloc[:N_TRAIN]
    expected = reference_labels(params, train, hand_encoded(train, table))
    assert main(["predict", str(run), "--data", str(path)]) == 0
    out = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert out[0] == [*table.columns, "prediction"]
    assert [r[-1] for r in out[1:]] == expected
    assert [r[2] for r in out[1:]] == table["site"].tolist()  # the file's cells, echoed


def test_a_run_on_a_raw_table_writes_its_preprocessing(tmp_path, capsys):
    path = write(penguins(), tmp_path / "penguins.csv")
    argv = ["train", "--data", str(path), "--drop", "id", "--standardize", "--steps", "30", "--seeds", "1"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert "--data: one-hot site (3), sex (2); median + indicator bill (" in err
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["drop"] == ["id"] and config["missing"] == "impute"
    assert config["preprocessing"]["one_hot"]["site"] == sorted(SITES)
    assert config["preprocessing"]["dropped_rows"]["missing_label"] == 1
    model = runs.load_model(tmp_path / "run")
    assert model.preprocessing.dropped == ("id",) and len(model.predict(path)) == 60


def test_an_unseen_category_at_predict_time_warns_and_predicts_from_zeros(saved, capsys):
    path, params, run = saved
    table = penguins()
    train = table[table["species"].notna()].iloc[:N_TRAIN]
    new = table.iloc[:5].copy()
    new.loc[2, "site"] = "Anvers"
    x_hand = hand_encoded(train, new)
    assert x_hand[2, 2:5].tolist() == [0.0, 0.0, 0.0]  # site=... columns: all zeros by hand too
    capsys.readouterr()
    assert runs.load_model(run).predict(new) == reference_labels(params, train, x_hand)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'site' = 'Anvers' (1 row)" in err[0] and err[0].startswith("funcmlp: warning:")
