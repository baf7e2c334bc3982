import csv
import io
import re

import jax
import numpy as np
import pytest

import funcmlp
from funcmlp import datafile, runs
from funcmlp.cli import main


@pytest.fixture
def run_dir(tmp_path):
    """A saved run: a 2-5-3 tanh net on standardised inputs with word labels."""
    params = funcmlp.init_params(jax.random.key(0), (2, 5, 3))
    x = np.random.default_rng(0).normal([5.0, -1.0], [2.0, 0.3], size=(40, 2)).astype(np.float32)
    st = datafile.standardizer(x)
    out = tmp_path / "run"
    out.mkdir()
    runs.save_model(
        out,
        params,
        activation="tanh",
        standardizer=st,
        classes=("ant", "bee", "cat"),
        feature_names=("len", "wid"),
    )
    runs.write_json(out / "config.json", {"activation": "tanh", "steps": 10})
    runs.write_json(out / "metrics.json", {"test_accuracy": 0.5})
    return out, params, st


def reference_labels(params, st, x):
    a = np.tanh(st(x) @ np.asarray(params[0]["w"]) + np.asarray(params[0]["b"]))
    z = a @ np.asarray(params[1]["w"]) + np.asarray(params[1]["b"])
    return [("ant", "bee", "cat")[i] for i in z.argmax(1)]


def test_show_prints_the_summary(run_dir, capsys):
    out, _, _ = run_dir
    assert main(["show", str(out)]) == 0
    assert capsys.readouterr().out.strip() == runs.show(out)


def test_predict_prints_csv_with_a_prediction_per_row(run_dir, tmp_path, capsys):
    out, params, st = run_dir
    x = np.random.default_rng(1).normal([5.0, -1.0], [2.0, 0.3], size=(6, 2)).astype(np.float32)
    (tmp_path / "new.csv").write_text("len,wid\n" + "".join(f"{a},{b}\n" for a, b in x))
    assert main(["predict", str(out), "--data", str(tmp_path / "new.csv")]) == 0
    captured = capsys.readouterr()
    rows = list(csv.reader(io.StringIO(captured.out)))
    assert rows[0] == ["len", "wid", "prediction"]
    assert [r[2] for r in rows[1:]] == reference_labels(params, st, x)
    np.testing.assert_allclose(np.array([r[:2] for r in rows[1:]], float), x, rtol=1e-6)
    assert "6 points classified" in captured.err


def test_predict_with_labels_reports_accuracy_and_writes_probabilities(run_dir, tmp_path, capsys):
    out, params, st = run_dir
    x = np.random.default_rng(2).normal([5.0, -1.0], [2.0, 0.3], size=(8, 2)).astype(np.float32)
    truth = reference_labels(params, st, x)
    truth[0] = next(c for c in ("ant", "bee", "cat") if c != truth[0])  # one wrong on purpose
    (tmp_path / "new.csv").write_text("".join(f"{a},{b},{t}\n" for (a, b), t in zip(x, truth, strict=True)))
    target = tmp_path / "pred.csv"
    assert (
        main(
            [
                "predict",
                str(out),
                "--data",
                str(tmp_path / "new.csv"),
                "--out",
                str(target),
                "--probabilities",
            ]
        )
        == 0
    )
    assert "accuracy against the file's labels 0.875 (7/8)" in capsys.readouterr().out
    rows = list(csv.reader(target.open()))
    assert rows[0] == ["len", "wid", "label", "prediction", "p_ant", "p_bee", "p_cat"]
    probs = np.array([r[4:] for r in rows[1:]], float)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert [("ant", "bee", "cat")[i] for i in probs.argmax(1)] == [r[3] for r in rows[1:]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["predict", "{tmp}/missing", "--data", "{tmp}/new.csv"],
            r"DIR: expected a run directory holding params\.safetensors",
        ),
        (
            ["predict", "{run}", "--data", "{tmp}/three.csv"],
            r"--data: '.*three\.csv': expected 2 feature columns \(optionally followed by a label\), got 4 columns",
        ),
        (
            ["predict", "{run}", "--data", "{tmp}/bad.csv"],
            r"--data: '.*bad\.csv' line 2, column 1: expected a number, got 'x'",
        ),
        (["predict", "{run}", "--data", "{tmp}/nope.csv"], r"--data: file '.*nope\.csv' does not exist"),
        (
            ["predict", "{run}", "--data", "{tmp}/new.csv", "--out", "{tmp}/no/such/dir/p.csv"],
            r"--out: expected a writable file path",
        ),
        (["show", "{tmp}/missing"], r"DIR: expected a run directory"),
    ],
)
def test_errors_are_one_line_and_exit_2(run_dir, tmp_path, capsys, args, message):
    out, _, _ = run_dir
    (tmp_path / "new.csv").write_text("1,2\n")
    (tmp_path / "three.csv").write_text("1,2,3,4\n")
    (tmp_path / "bad.csv").write_text("1,2\nx,2\n")
    argv = [a.format(tmp=tmp_path, run=out) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.match(rf"funcmlp: error: {message}", err[0]), err


def test_predict_accuracy_with_numeric_labels(tmp_path, capsys):
    params = funcmlp.init_params(jax.random.key(3), (2, 4, 2))
    runs.save_model(tmp_path, params, classes=(0, 1))
    x = np.random.default_rng(4).normal(size=(5, 2)).astype(np.float32)
    z = np.maximum(x @ np.asarray(params[0]["w"]) + np.asarray(params[0]["b"]), 0) @ np.asarray(
        params[1]["w"]
    )
    predicted = (z + np.asarray(params[1]["b"])).argmax(1)
    # the file writes the labels as 1.0 / 0.0: they still count as the classes 1 and 0
    (tmp_path / "new.csv").write_text(
        "".join(f"{a},{b},{float(c)}\n" for (a, b), c in zip(x, predicted, strict=True))
    )
    assert main(["predict", str(tmp_path), "--data", str(tmp_path / "new.csv")]) == 0
    assert "accuracy against the file's labels 1.000 (5/5)" in capsys.readouterr().err
