"""Regression from the command line: ``funcmlp train --data FILE --head linear`` (and ``funcmlp sweep``),
scored in the targets' own units, the seed chosen by validation loss, ``funcmlp predict`` in those units."""

import contextlib
import csv
import io
import json

import jax
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp.cli.app import main
from funcmlp.io import runs

# Every command here trains the same 3-8-1 network for STEPS steps with 4 seeds (one compiled program).
COMMON = ["--head", "linear", "--standardize", "--seeds", "4", "--steps", "300", "--quiet"]


def call(argv):
    """(exit code, stdout, stderr) of ``funcmlp ARGV`` run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A CSV of 90 rows: y = 500 + 60 x1 - 30 x2 + 20 x3^2 + noise, far from mean 0 and std 1."""
    folder = tmp_path_factory.mktemp("regression")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 3))
    y = 500 + 60 * x[:, 0] - 30 * x[:, 1] + 20 * x[:, 2] ** 2 + rng.normal(0, 5, 90)
    path = folder / "house.csv"
    rows = "".join(f"{a:.5f},{b:.5f},{c:.5f},{t:.3f}\n" for (a, b, c), t in zip(x, y, strict=True))
    path.write_text("size,age,rooms,price\n" + rows)
    return folder, path, y


@pytest.fixture(scope="module")
def trained(data):
    folder, path, _ = data
    out = folder / "run"
    code, stdout, stderr = call(["train", "--data", path, "--hidden", "8", "--out", out, *COMMON])
    assert code == 0, stderr
    return out, stdout, json.loads((out / "metrics.json").read_text())


def reference_samples(path):
    from funcmlp.fitting import load_samples, run_keys

    return run_keys(0), load_samples(path, head="linear", standardize=True)[0]


def test_metrics_are_mae_rmse_r2_in_the_targets_units(data, trained):
    _, path, _ = data
    out, stdout, metrics = trained
    for split in ("train", "validation", "test"):
        assert {f"{split}_{m}" for m in ("mae", "rmse", "r2")} <= set(metrics)
    assert not any("accuracy" in k for k in metrics)
    assert metrics["test_r2"] > 0.9
    # recomputed from the saved network on the raw test rows, in the file's units
    _, samples = reference_samples(path)
    raw = samples.prepared.raw
    model = runs.load_model(out)
    pred = np.asarray(model.predict(raw.x_test), np.float64)
    y = raw.y_test[:, 0].astype(np.float64)
    assert metrics["test_mae"] == pytest.approx(np.mean(np.abs(y - pred)), rel=1e-5)
    assert metrics["test_rmse"] == pytest.approx(np.sqrt(np.mean((y - pred) ** 2)), rel=1e-5)
    r2 = 1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)
    assert metrics["test_r2"] == pytest.approx(r2, rel=1e-5)
    assert f"test R^2 {metrics['test_r2']:.3f} (MAE {metrics['test_mae']:.4g}" in stdout
    assert (out / "predicted_vs_true.png").stat().st_size > 0
    assert not (out / "confusion_matrix.png").exists() and not (out / "decision_boundary.png").exists()


def test_the_l2_weight_and_seed_with_the_lowest_validation_loss_are_kept(data, trained):
    from funcmlp.fitting.task import L2_CHOICES

    _, path, _ = data
    out, stdout, metrics = trained
    keys, samples = reference_samples(path)
    (x, y), (xv, yv) = samples.train, samples.val
    optimizer = optax.adam(0.03)

    @jax.jit
    def fit(params, l2):  # the independent reference: jax.grad of the loss, an optax loop
        def step(carry, _):
            params, state = carry
            grads = jax.grad(funcmlp.loss)(params, x, y, head="linear", l2=l2)
            updates, state = optimizer.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), length=300)
        return funcmlp.loss(params, xv, yv, head="linear")

    inits = [funcmlp.init_params(k, tuple(metrics["sizes"])) for k in jax.random.split(keys["init"], 4)]
    losses = np.array([[float(fit(p, l2)) for p in inits] for l2 in L2_CHOICES])  # (weight, seed)
    i, seed = np.unravel_index(np.argmin(losses), losses.shape)
    assert (metrics["l2"], metrics["selected_seed"]) == (L2_CHOICES[i], seed)
    assert json.loads((out / "config.json").read_text())["l2"] == L2_CHOICES[i]
    assert f"l2 {L2_CHOICES[i]:g}," in stdout
    assert np.sort(losses, axis=None)[0] < np.sort(losses, axis=None)[1] - 1e-4  # the case is telling


def test_a_given_l2_weight_is_used_as_given(data):
    from funcmlp.fitting import task

    folder, path, _ = data
    out = folder / "given_l2"
    code, stdout, stderr = call(
        ["train", "--data", path, "--hidden", "8", "--l2", "0.02", "--out", out, *COMMON]
    )
    assert code == 0, stderr
    assert json.loads((out / "config.json").read_text())["l2"] == 0.02
    assert "l2" not in json.loads((out / "metrics.json").read_text())  # a setting, not a choice
    linear, classes = task.Task("linear"), task.Task("softmax", (0, 1))
    assert task.l2_choices(None, linear, n_val=18) == task.L2_CHOICES
    assert task.l2_choices(None, linear, n_val=0) == (0.0,)  # no validation rows to choose on
    assert task.l2_choices(None, classes, n_val=18) == (0.0,)  # classes: no penalty
    assert task.l2_choices(0.02, linear, n_val=18) == (0.02,)


def test_predict_prints_values_in_the_targets_units(data, trained):
    _, path, y = data
    out, _, metrics = trained
    code, stdout, stderr = call(["predict", out, "--data", path])
    assert code == 0, stderr
    rows = list(csv.reader(io.StringIO(stdout)))
    assert rows[0] == ["size", "age", "rooms", "price", "prediction"]
    pred = np.array([float(r[-1]) for r in rows[1:]])
    x = np.array([[float(v) for v in r[:3]] for r in rows[1:]], np.float32)
    np.testing.assert_allclose(pred, runs.load_model(out).predict(x), rtol=1e-6)
    assert abs(pred.mean() - y.mean()) < 0.1 * y.std()  # not standardised: around 500
    assert np.mean(np.abs(pred - y)) < 0.3 * y.std()
    assert "90 points predicted" in stderr and "R^2" in stderr
    code, _, stderr = call(["predict", out, "--data", path, "--probabilities"])
    assert code == 2
    assert stderr.strip() == (
        f"funcmlp: error: --probabilities: expected a classification run, got a regression run "
        f"(head 'linear') in {str(out)!r}"
    )


def test_sweep_scores_regression_too(data):
    folder, path, _ = data
    out = folder / "sweep"
    argv = ["sweep", "--data", path, "--widths", "8", "--learning-rates", "0.03", "--out", out, *COMMON]
    code, stdout, stderr = call(argv)
    assert code == 0, stderr
    assert "Validation loss over 4 seeds" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_r2"] > 0.9 and "test_accuracy" not in metrics
    assert (out / "predicted_vs_true.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["train", "--head", "linear"],
            "--head: expected --data with --head linear (the toy data sets hold classes, not real targets), "
            "got no --data",
        ),
        (
            ["train", "--head", "linear", "--class-weight", "balanced", "--data", "{csv}"],
            "--class-weight: expected a classification head (softmax or sigmoid), got --head linear",
        ),
        (
            ["train", "--head", "linear", "--data", "{bad}"],
            "--data: '{bad}' line 3, column 3: expected a real-valued target (a finite float32 number), "
            "got 'cheap'",
        ),
    ],
)
def test_bad_regression_options_are_refused_before_a_run_is_made(data, argv, message, tmp_path):
    _, path, _ = data
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,price\n1,2,3\n3,4,cheap\n")
    names = {"csv": str(path), "bad": str(bad)}
    out = tmp_path / "run"
    code, _, stderr = call([*(a.format(**names) for a in argv), "--out", out])
    assert code == 2
    assert stderr.strip() == f"funcmlp: error: {message.format(**names)}"
    assert not out.exists()
