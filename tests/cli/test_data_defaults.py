"""Defaults that fit the data (hidden width, stratified split), early stopping on the command line, the
options that --data makes meaningless, and how `funcmlp show` labels losses and widths."""

import io
import json

import numpy as np
import pytest
from rich.console import Console

import funcmlp
from funcmlp.cli import defaults, progress
from funcmlp.cli.app import main
from funcmlp.cli.options import TrainConfig
from funcmlp.fitting import load_samples, task
from funcmlp.io import runs

COUNTS = (50, 30, 10)  # an imbalanced, noisy 3-class file: its validation accuracy peaks early


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1, 2], COUNTS)
    x = (rng.normal(0, 1.0, (len(y), 3)) + 0.8 * np.eye(3)[y]).round(3)
    rows = "".join(",".join(map(str, r)) + f",k{c}\n" for r, c in zip(x, y, strict=True))
    (folder / "noisy.csv").write_text("a,b,c,kind\n" + rows)
    return folder / "noisy.csv"


@pytest.fixture(scope="module")
def stopped_run(noisy, tmp_path_factory):
    """`funcmlp train --data` without --hidden, with --patience 3 --log-every 10."""
    out = tmp_path_factory.mktemp("runs") / "stopped"
    argv = ["train", "--data", str(noisy), "--seeds", "1", "--steps", "300", "--log-every", "10"]
    assert main([*argv, "--patience", "3", "--quiet", "--out", str(out)]) == 0
    return out


def test_the_hidden_width_rule():
    assert task.hidden_width(4, 3) == 14  # iris: no longer the lecture's 4 units
    assert task.hidden_width(64, 10) == 128  # the 8 x 8 digits: 2 (64 + 10) = 148, clipped
    assert task.hidden_width(2, 2) == 8  # clipped from below
    assert task.hidden_width(20, 5) == 50


def test_a_data_file_without_hidden_gets_a_width_from_the_data(stopped_run):
    config = json.loads((stopped_run / "config.json").read_text())
    metrics = json.loads((stopped_run / "metrics.json").read_text())
    assert config["hidden"] == [12] and metrics["sizes"] == [3, 12, 3]  # 2 (3 + 3)
    assert config["dataset"] is None and config["n_per_class"] is None and config["noise"] is None


def test_the_data_file_is_split_stratified(noisy):
    s = load_samples(noisy, head="softmax")[0].prepared.split
    n = sum(COUNTS)
    for part in (s.y_train, s.y_val, s.y_test):
        quota = np.asarray(COUNTS) * len(part) / n
        counts = np.bincount(part, minlength=3)
        assert np.all(counts >= np.floor(quota)) and np.all(counts <= np.ceil(quota)), (counts, quota)


def test_patience_stops_keeps_the_best_and_records_both_steps(stopped_run):
    metrics = json.loads((stopped_run / "metrics.json").read_text())
    history = runs.read_history(stopped_run / "metrics.csv")
    steps = history["step"]
    assert np.all(np.diff(steps) == 10)  # --log-every 10
    best, stopped = metrics["best_step"], metrics["stopped_step"]
    assert stopped == steps[-1] == best + 3 * 10 < 300  # three evaluations without improvement
    i = int(np.flatnonzero(steps == best)[0])
    acc, loss = history["val_accuracy"], history["val_loss"]
    assert acc[i] == acc.max() and loss[i] == loss[acc == acc.max()].min()  # the best evaluation
    assert metrics["validation_accuracy"] == pytest.approx(acc[i])  # the saved parameters are its
    model = runs.load_model(stopped_run)
    assert model.params[0]["w"].shape == (3, 12)


def test_toy_runs_keep_the_lecture_defaults():
    from funcmlp.cli.train import fit_options, toy_samples

    cfg = defaults.resolved(TrainConfig())
    assert fit_options(TrainConfig())["hidden"] == (4,)
    assert (cfg.dataset, cfg.n_per_class, cfg.noise) == ("spiral", 100, 0.2)
    (x, y), _, _ = toy_samples(TrainConfig())  # the options left out: the lecture's 3 x 100 spiral
    assert x.shape == (300, 2) and int(y.max()) + 1 == 3
    assert fit_options(TrainConfig(hidden=(8, 32)))["hidden"] == (8, 32)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dataset", "spiral"], "--dataset: expected only without --data (the file's rows replace the toy"),
        (["--n-per-class", "5"], "--n-per-class: expected only without --data"),
        (["--noise", "0.2"], "--noise: expected only without --data"),
        (["--hidden"], "--hidden: expected at least one layer width, got none"),
        (["--patience", "0"], "--patience: expected a positive integer, got 0"),
        (["--log-every", "0"], "--log-every: expected a positive integer, got 0"),
        (["--patience", "3", "--val", "0"], "--patience: expected validation rows to watch, got --val 0"),
    ],
)
def test_meaningless_options_exit_2_in_one_line(noisy, tmp_path, capsys, monkeypatch, argv, message):
    def no_training(*args, **kwargs):
        raise AssertionError("training started despite bad input")

    monkeypatch.setattr(funcmlp, "sweep", no_training)
    out = tmp_path / "run"
    assert main(["train", "--data", str(noisy), *argv, "--out", str(out)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"funcmlp: error: {message}")
    assert not out.exists()


def test_show_labels_the_loss_with_l2_and_writes_widths_unambiguously(tmp_path):
    runs.write_json(tmp_path / "config.json", {"hidden": [8, 32], "widths": [8, 32], "l2": 0.01})
    runs.write_json(tmp_path / "metrics.json", {"final_loss": 0.5, "sizes": [2, 8, 32, 3]})
    runs.write_history(tmp_path / "metrics.csv", {"step": [0, 10], "train_loss": [1.1, 0.4]})
    lines = runs.show(tmp_path).splitlines()
    w = len("final_loss (with L2)") + 1  # the name column fits the longest name
    assert f"  {'hidden':<{w}} 8x32" in lines  # one network's widths, as width_label writes them
    assert f"  {'widths':<{w}} 8, 32" in lines  # a sweep's alternatives, one network each
    assert f"  {'sizes':<{w}} 2-8-32-3" in lines
    assert f"  {'final_loss (with L2)':<{w}} 0.5" in lines
    assert "history: 2 logged steps, 0 to 10 (metrics.csv; losses without the L2 term)" in lines
    from funcmlp.sweeps.results import width_label

    assert width_label((2, 8, 32, 3)) == "8x32"


def test_the_progress_line_shows_the_validation_metric():
    buf = io.StringIO()
    bar = progress.Progress(200, console=Console(file=buf, width=120), delay=0.0, lines=2)
    bar.logged(100, {"train_loss": 0.3, "val_loss": 0.4, "val_accuracy": 0.9167})
    bar.update(100, 0.25)  # halfway: a plain line (the output is not a terminal)
    assert "loss 0.25, val accuracy 0.9167" in buf.getvalue()
    bar.logged(100, {"train_loss": 0.3})  # no validation set: nothing more
    assert bar.metric == ""
