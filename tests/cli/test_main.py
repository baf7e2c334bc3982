import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from funcmlp.cli.app import main


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """One `funcmlp train` of 8 seeds for 300 steps on the spiral, which several tests read (none changes
    it: a test that does works on a copy)."""
    out = tmp_path_factory.mktemp("toy") / "run"
    assert main(["train", "--seeds", "8", "--steps", "300", "--out", str(out)]) == 0
    return out


def test_train_writes_every_file(toy_run):
    out = toy_run
    for name in ["config.json", "metrics.json", "params.safetensors", "decision_boundary.png", "loss.png"]:
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    for field in ["train_accuracy", "test_accuracy", "final_loss", "seconds"]:
        assert isinstance(metrics[field], float)
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert json.loads((out / "config.json").read_text())["steps"] == 300


def test_console_entry_point_reports_bad_input_in_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "funcmlp", "train", "--steps", "0", "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["funcmlp: error: --steps: expected a positive integer, got 0"]


def test_train_keeps_the_seed_with_the_best_validation_accuracy(toy_run):
    import jax
    import optax

    import funcmlp
    from funcmlp import data

    out = toy_run
    # 8 seeds, 300 steps: the best seed on validation (6) is neither seed 0 nor the best on test (5)
    metrics = json.loads((out / "metrics.json").read_text())
    k_train, k_val, k_test, k_init, _ = jax.random.split(jax.random.key(0), 5)
    (x, y), (xv, yv), (xt, yt) = (data.spiral(k) for k in (k_train, k_val, k_test))
    opt, val, test = optax.adam(0.03), [], []
    for k in jax.random.split(k_init, 8):  # each seed trained alone: the independent reference
        params = funcmlp.train(funcmlp.init_params(k, (2, 4, 3)), x, y, optimizer=opt, steps=300).params
        val.append(float(funcmlp.accuracy(params, xv, yv)))
        test.append(float(funcmlp.accuracy(params, xt, yt)))
    j = metrics["selected_seed"]
    assert val[j] == pytest.approx(max(val), abs=1.5 / 300)  # float32: one borderline point may flip
    assert metrics["validation_accuracy"] == pytest.approx(val[j], abs=1.5 / 300)
    assert metrics["test_accuracy"] == pytest.approx(test[j], abs=1.5 / 300)
    assert np.argmax(val) != np.argmax(test) and np.argmax(val) != 0  # the case is telling
    assert metrics["seeds"] == 8
    # The saved network is the sweep's selected model, bit for bit, and metrics.json scores it.
    from funcmlp.fitting import run_keys

    keys = run_keys(0)  # the command's own data, bit for bit: the lecture's spiral, one key per sample
    draw = jax.jit(lambda k: funcmlp.data.spiral(k, 100, noise=0.2))  # as the command draws them
    (x, y), (xv, yv), (xt, yt) = (draw(keys[k]) for k in ("train", "val", "test"))
    sweep = funcmlp.sweep(
        keys["init"],
        x,
        y,
        sizes=(2, 4, 3),
        seeds=8,
        learning_rates=[0.03],
        steps=300,
        optimizer=optax.adam,
        evaluate={"val": (xv, yv)},
        chunk_size=funcmlp.progress.chunk_size(300),
    )
    assert sweep.best() == (0, 0, j)
    saved, _ = funcmlp.load(out / "params.safetensors")
    for a, b in zip(jax.tree.leaves(saved), jax.tree.leaves(sweep.model(0, 0, j)), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert metrics["test_accuracy"] == float(funcmlp.accuracy(saved, xt, yt))


def test_sweep_writes_tables_and_figures(tmp_path, capsys):
    out = tmp_path / "sweep"
    args = ["--learning-rates", "0.01", "0.1", "--widths", "2", "3", "--seeds", "2", "--steps", "20"]
    assert main(["sweep", *args, "--activations", "relu", "tanh", "--out", str(out)]) == 0
    for name in ["config.json", "models.csv", "models.json", "heatmap.png", "seed_spread.png"]:
        assert (out / name).stat().st_size > 0, name
    doc = json.loads((out / "models.json").read_text())
    assert len(doc["models"]) == 2 * 2 * 2 * 2 and len(doc["summary"]) == 2 * 2 * 2
    assert {(m["width"], m["activation"]) for m in doc["models"]} == {
        (w, a) for w in ("2", "3") for a in ("relu", "tanh")
    }
    assert "Validation accuracy over 2 seeds" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--learning-rates", "0.1", "-1"],
            "--learning-rates[1]: expected a finite non-negative number, got -1.0",
        ),
        (["--widths", "4", "0"], "--widths: expected positive layer widths, got 4 0"),
        (["--depth", "0"], "--depth: expected a positive integer, got 0"),
        (
            ["--activations", "relu", "gelu"],
            "--activations: expected one of step, linear, sigmoid, tanh, relu",
        ),
        (["--seeds", "0"], "--seeds: expected a positive integer, got 0"),
        (["--batch-size", "301"], "--batch-size: expected at most 300 (the training set's size), got 301"),
    ],
)
def test_sweep_refuses_bad_options_before_training(argv, message, tmp_path, capsys, monkeypatch):
    import funcmlp

    def no_training(*args, **kwargs):
        raise AssertionError("training started despite bad input")

    monkeypatch.setattr(funcmlp, "sweep", no_training)
    out = tmp_path / "sweep"
    assert main(["sweep", *argv, "--out", str(out)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"funcmlp: error: {message}")
    assert not out.exists()


def test_the_command_line_keeps_compiled_programs_in_its_cache_folder(tmp_path, monkeypatch):
    from funcmlp.cli import app as cli_main

    env = {**__import__("os").environ, "FUNCMLP_NO_CACHE": "", "FUNCMLP_CACHE_DIR": str(tmp_path / "cache")}
    argv = [sys.executable, "-m", "funcmlp", "train", "--seeds", "1", "--steps", "20", "--quiet"]
    proc = subprocess.run([*argv, "--out", str(tmp_path / "run")], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert len(list((tmp_path / "cache").iterdir())) > 0
    monkeypatch.setenv("FUNCMLP_NO_CACHE", "1")
    assert cli_main.cache_dir() is None
    monkeypatch.setenv("FUNCMLP_NO_CACHE", "0")
    monkeypatch.setenv("FUNCMLP_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert cli_main.cache_dir() == tmp_path / "elsewhere"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["trian"], "unknown command 'trian'; did you mean 'train'? (commands: train, sweep, show, predict"),
        (["train", "--stpes", "3"], "unknown option --stpes for 'funcmlp train'; did you mean --steps?"),
        (
            ["sweep", "--learning-rate=0.1"],
            "unknown option --learning-rate for 'funcmlp sweep'; did you mean",
        ),
        (
            ["predict", "run", "--prob"],
            "unknown option --prob for 'funcmlp predict'; did you mean --probabilities?",
        ),
    ],
)
def test_unknown_words_get_a_suggestion_in_one_line(argv, message, capsys):
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"funcmlp: error: {message}")


def test_out_onto_a_run_refuses_unless_overwrite_which_removes_the_old_files(toy_run, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(toy_run, out)  # a finished run of `funcmlp train`, copied: this test changes it
    args = ["train", "--seeds", "1", "--steps", "20", "--quiet", "--out", str(out)]
    (out / "heatmap.png").write_bytes(b"stale figure of an older run")
    (out / "notes.txt").write_text("the user's own file")
    before = (out / "config.json").read_text()
    assert main(args) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(
        f"funcmlp: error: --out: expected a directory without a run, but '{out}' already holds"
    )
    assert "pass --overwrite to replace it" in line and "overwrite=True" not in line
    assert (out / "config.json").read_text() == before and (out / "heatmap.png").exists()
    assert main([*args, "--overwrite", "--steps", "30"]) == 0
    assert not (out / "heatmap.png").exists() and (out / "notes.txt").exists()
    assert json.loads((out / "config.json").read_text())["steps"] == 30


@pytest.mark.parametrize(
    ("library", "typed"),
    [
        (
            "path: 'a.csv' column 1 ('id'): ...; drop the column (drop=('id',))",
            "--data: 'a.csv' column 1 ('id'): ...; drop the column (--drop id)",
        ),
        (
            "name: ... already holds a run; choose another name, pass overwrite=True, or delete that folder",
            "--name: ... already holds a run; choose another name, pass --overwrite, or delete that folder",
        ),
    ],
    ids=["drop", "overwrite"],
)
def test_flags_words_the_library_hints_as_options(library, typed):
    from funcmlp.cli.options import flags

    with pytest.raises(ValueError) as e, flags(path="--data", name="--name"):
        raise ValueError(library)
    assert str(e.value) == typed


def test_load_run_reads_config_metrics_history_and_model_in_one_call(toy_run, tmp_path):
    import funcmlp

    out = toy_run
    run = funcmlp.load_run(out)
    assert run.config == json.loads((out / "config.json").read_text())
    assert run.metrics == json.loads((out / "metrics.json").read_text())
    assert run.history["step"][0] == 0 and run.history["step"][-1] == 300
    saved, _ = funcmlp.load(out / "params.safetensors")
    x = np.array([[0.1, -0.2], [0.5, 0.3]], np.float32)
    want = np.argmax(np.asarray(funcmlp.forward(saved, x)), axis=1).tolist()
    assert run.model.predict(x) == want
    with pytest.raises(ValueError, match=r"^run_dir: expected a run directory holding config.json"):
        funcmlp.load_run(tmp_path)
