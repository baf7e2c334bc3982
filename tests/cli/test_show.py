import csv
import io
import json
import re

import jax
import numpy as np
import pytest

import funcmlp
from funcmlp.cli.app import main
from funcmlp.io import datafile, runs


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
            r"--data: '.*three\.csv': expected 2 feature columns \(optionally followed by a label\), "
            r"got 4 columns",
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


@pytest.mark.parametrize(
    "order",
    [
        ["len", "wid", "species"],  # the training order
        ["wid", "len", "species"],  # features swapped
        ["wid", "species", "len"],  # the label in the middle
        ["species", "len", "wid"],  # the label first
    ],
)
def test_predict_matches_columns_by_header_name(run_dir, tmp_path, capsys, order):
    out, params, st = run_dir
    x = np.random.default_rng(5).normal([5.0, -1.0], [2.0, 0.3], size=(8, 2)).astype(np.float32)
    truth = reference_labels(params, st, x)
    truth[0] = next(c for c in ("ant", "bee", "cat") if c != truth[0])  # one wrong on purpose
    cells = {"len": [str(v) for v in x[:, 0]], "wid": [str(v) for v in x[:, 1]], "species": truth}
    rows = [",".join(order)] + [",".join(cells[k][i] for k in order) for i in range(len(x))]
    (tmp_path / "new.csv").write_text("\n".join(rows) + "\n")
    assert main(["predict", str(out), "--data", str(tmp_path / "new.csv"), "--probabilities"]) == 0
    captured = capsys.readouterr()
    assert "accuracy against the file's labels 0.875 (7/8)" in captured.err
    table = list(csv.reader(io.StringIO(captured.out)))
    assert table[0] == [*order, "prediction", "p_ant", "p_bee", "p_cat"]  # the file's names, in its order
    got = {k: [r[c] for r in table[1:]] for c, k in enumerate(table[0])}
    assert got["prediction"] == reference_labels(params, st, x)
    assert got["species"] == truth
    for j, k in enumerate(["len", "wid"]):  # each column keeps its own values under its own name
        np.testing.assert_allclose(np.array(got[k], float), x[:, j], rtol=1e-6)
    probs = np.array([got[f"p_{c}"] for c in ("ant", "bee", "cat")], float).T
    assert [("ant", "bee", "cat")[i] for i in probs.argmax(1)] == got["prediction"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "len,width,species\n1,2,ant\n",
            r"--data: '.*new\.csv': expected the model's feature columns \['len', 'wid'\] in the header row, "
            r"missing \['wid'\]; the header has \['len', 'width', 'species'\]$",
        ),
        (
            "wid,len,wid\n1,2,3\n",
            r"--data: '.*new\.csv': the header row names column 'wid' twice \(columns 1 and 3\)",
        ),
        (
            "wid,species,len,notes\n1,ant,2,x\n",
            r"--data: '.*new\.csv': expected the model's feature columns \['len', 'wid'\] and at most one "
            r"label column, got 2 other columns \['species', 'notes'\]$",
        ),
    ],
)
def test_predict_refuses_a_header_that_does_not_match(run_dir, tmp_path, capsys, text, message):
    out, _, _ = run_dir
    (tmp_path / "new.csv").write_text(text)
    assert main(["predict", str(out), "--data", str(tmp_path / "new.csv")]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and re.match(rf"funcmlp: error: {message}", err[0]), err
    assert captured.out == ""


def test_predict_with_a_model_without_feature_names(tmp_path, capsys):
    """Trained without a header (names x1, x2): a header that names other columns is refused, one that
    names x1, x2 is matched by name, a file without a header is read by position."""
    params = funcmlp.init_params(jax.random.key(6), (2, 4, 2))
    runs.save_model(tmp_path, params, classes=(0, 1))
    x = np.random.default_rng(7).normal(size=(20, 2)).astype(np.float32)

    def reference(x):
        hidden = np.maximum(x @ np.asarray(params[0]["w"]) + np.asarray(params[0]["b"]), 0)
        return (hidden @ np.asarray(params[1]["w"]) + np.asarray(params[1]["b"])).argmax(1).tolist()

    predicted = reference(x)
    assert predicted != reference(x[:, ::-1])  # the test can tell the two orders apart
    data = tmp_path / "new.csv"

    data.write_text("a,b\n" + "".join(f"{u},{v}\n" for u, v in x))
    assert main(["predict", str(tmp_path), "--data", str(data)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert re.match(
        r"funcmlp: error: --data: '.*new\.csv' has a header row \['a', 'b'\], but the model was trained "
        r"without feature names .*; give the file without a header row",
        err[0],
    ), err

    data.write_text("x2,x1\n" + "".join(f"{v},{u}\n" for u, v in x))
    assert main(["predict", str(tmp_path), "--data", str(data)]) == 0
    table = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert table[0] == ["x2", "x1", "prediction"]
    assert [int(r[2]) for r in table[1:]] == predicted
    np.testing.assert_allclose(np.array([r[:2] for r in table[1:]], float), x[:, ::-1], rtol=1e-6)

    data.write_text("".join(f"{u},{v},{c}\n" for (u, v), c in zip(x, predicted, strict=True)))
    assert main(["predict", str(tmp_path), "--data", str(data)]) == 0
    captured = capsys.readouterr()
    table = list(csv.reader(io.StringIO(captured.out)))
    assert table[0] == ["x1", "x2", "label", "prediction"]
    assert [int(r[3]) for r in table[1:]] == predicted
    assert "accuracy against the file's labels 1.000 (20/20)" in captured.err


# -- `funcmlp train` / `funcmlp sweep` with a data file, a run name and progress --------------------------


def flowers(path, n=30, d=2, seed=0):
    """Three well-separated classes with word labels and a header row; (x, labels) as written."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4.0, size=(3, d)) + 10.0
    labels = np.repeat(["iris", "lily", "rose"], n)
    x = (np.repeat(centres, n, axis=0) + rng.normal(0, 0.5, size=(3 * n, d))).round(3)
    header = ",".join([f"f{i}" for i in range(d)] + ["species"])
    path.write_text(
        header
        + "\n"
        + "".join(",".join(map(str, row)) + f",{lab}\n" for row, lab in zip(x, labels, strict=True))
    )
    return x, labels


@pytest.mark.parametrize("seeds", ["1", "3"])
def test_train_on_a_csv_writes_a_run_that_predict_uses(tmp_path, monkeypatch, capsys, seeds):
    monkeypatch.chdir(tmp_path)
    x, labels = flowers(tmp_path / "flowers.csv")
    argv = [
        "train",
        "--data",
        "flowers.csv",
        "--standardize",
        "--hidden",
        "8",
        "--steps",
        "150",
        "--seeds",
        seeds,
    ]
    assert main([*argv, "--name", "fl", "--quiet"]) == 0
    run = tmp_path / "runs" / "fl"
    for name in [
        "config.json",
        "metrics.json",
        "metrics.csv",
        "params.safetensors",
        "learning_curves.png",
        "loss.png",
        "decision_boundary.png",
    ]:
        assert (run / name).stat().st_size > 0, name
    metrics = json.loads((run / "metrics.json").read_text())
    history = runs.read_history(run / "metrics.csv")
    assert list(history) == [
        "step",
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
        "test_loss",
        "test_accuracy",
    ]
    assert history["step"][0] == 0 and history["step"][-1] == 150
    for split, key in [
        ("train", "train_accuracy"),
        ("val", "validation_accuracy"),
        ("test", "test_accuracy"),
    ]:
        assert metrics[key] == pytest.approx(history[f"{split}_accuracy"][-1])
    # the saved model answers in the file's labels from raw rows; the reference is the saved params by hand
    model = runs.load_model(run)
    assert model.classes == ("iris", "lily", "rose") and model.feature_names == ("f0", "f1")
    xs = (x - x.mean(0)) / x.std(0)
    assert np.abs(model.standardizer.mean - x.mean(0)).max() > 0  # statistics of the training rows only
    p = model.params
    z = np.maximum(model.standardizer(x) @ np.asarray(p[0]["w"]) + np.asarray(p[0]["b"]), 0) @ np.asarray(
        p[1]["w"]
    ) + np.asarray(p[1]["b"])
    assert model.predict(x) == [model.classes[i] for i in z.argmax(1)]
    assert np.mean(np.array(model.predict(x)) == labels) > 0.9 and xs.shape == x.shape
    capsys.readouterr()
    assert main(["predict", str(run), "--data", "flowers.csv"]) == 0
    out, err = capsys.readouterr()
    assert [r[-1] for r in csv.reader(io.StringIO(out))][1:] == model.predict(x)
    assert "accuracy against the file's labels" in err


def test_train_on_three_features_skips_the_boundary_plot(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    flowers(tmp_path / "f3.csv", d=3)
    assert (
        main(["train", "--data", "f3.csv", "--steps", "20", "--seeds", "1", "--name", "f3", "--quiet"]) == 0
    )
    run = tmp_path / "runs" / "f3"
    # with --data and no --hidden: one hidden layer of 2 (d + K) units, at least 8
    assert json.loads((run / "metrics.json").read_text())["sizes"] == [3, max(8, 2 * (3 + 3)), 3]
    assert (run / "learning_curves.png").exists() and not (run / "decision_boundary.png").exists()


def test_sweep_on_a_csv_saves_its_best_model(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    x, _ = flowers(tmp_path / "flowers.csv")
    args = ["--learning-rates", "0.01", "0.1", "--widths", "2", "4", "--seeds", "2", "--steps", "40"]
    assert main(["sweep", "--data", "flowers.csv", *args, "--name", "sw", "--quiet"]) == 0
    run = tmp_path / "runs" / "sw"
    for name in [
        "models.csv",
        "heatmap.png",
        "seed_spread.png",
        "metrics.csv",
        "params.safetensors",
        "learning_curves.png",
    ]:
        assert (run / name).stat().st_size > 0, name
    best = json.loads((run / "metrics.json").read_text())
    doc = json.loads((run / "models.json").read_text())
    top = max(doc["models"], key=lambda m: m["val_accuracy"])
    assert best["validation_accuracy"] == pytest.approx(top["val_accuracy"], abs=1.5 / 18)
    assert "best: " in capsys.readouterr().out
    assert len(runs.load_model(run).predict(x)) == len(x)


@pytest.mark.parametrize("quiet", [True, False])
def test_progress_goes_to_stderr_unless_quiet(tmp_path, monkeypatch, capsys, quiet):
    from funcmlp.cli import progress

    class Eager(progress.Progress):  # reports at once instead of after a second
        def __init__(self, total, **kwargs):
            super().__init__(total, **{**kwargs, "delay": 0.0})

    monkeypatch.setattr(progress, "Progress", Eager)
    argv = ["train", "--steps", "400", "--seeds", "2", "--n-per-class", "20", "--out", str(tmp_path / "r")]
    assert main(argv + (["--quiet"] if quiet else [])) == 0
    out, err = capsys.readouterr()
    assert out.count("\n") == 1  # stdout holds the result line only
    if quiet:
        assert err == ""
    else:
        lines = err.strip().splitlines()
        assert lines[0].startswith("2 seeds: step ") and lines[-1].startswith("2 seeds: step ")
        assert "step 400/400 (100%)" in lines[-1] and "loss " in lines[-1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["train", "--data", "{tmp}/bad.csv"],
            r"--data: '.*bad\.csv' line 3, column 1: expected a number, got 'x'",
        ),
        (["train", "--data", "{tmp}/missing.csv"], r"--data: file '.*missing\.csv' does not exist"),
        (
            ["train", "--data", "{tmp}/good.csv", "--val", "0.6", "--test", "0.6"],
            r"--val, --test: expected fractions that leave",
        ),
        (
            ["train", "--data", "{tmp}/good.csv", "--test", "1.5"],
            r"--test: expected a fraction in \[0, 1\), got 1\.5",
        ),
        (["train", "--name", "a/b"], r"--name: expected a plain folder name without '/', got 'a/b'"),
        (["sweep", "--name", "taken"], r"--name: expected a new run name, but '.*taken' already holds a run"),
    ],
)
def test_run_option_errors_are_one_line_before_anything_is_made(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.csv").write_text("1,2,0\n3,4,1\nx,5,0\n")
    flowers(tmp_path / "good.csv", n=2)
    (tmp_path / "runs" / "taken").mkdir(parents=True)
    (tmp_path / "runs" / "taken" / "config.json").write_text("{}")
    before = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.match(rf"funcmlp: error: {message}", err[0]), err
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == before
