"""`funcmlp sweep` over the optimizer's axes and l2, its sweep.safetensors, --resume and
`funcmlp predict --ensemble`. One module-scoped set of runs: 20 steps, 40 steps, and 20 + 20 resumed."""

import contextlib
import csv
import io
import json
import shutil

import numpy as np
import pytest

import funcmlp
from funcmlp.cli.app import main
from funcmlp.io import runs

GRID = ["--optimizer", "sgd", "--momentum", "0", "0.9", "--l2", "0", "1e-3", "--learning-rates", "0.1", "0.3"]
SMALL = ["--widths", "4", "--seeds", "2", "--standardize", "--quiet"]


def write_points(path, n_per_class=20, seed=0):
    """Three Gaussian classes in units far from standardised (a, b, c; three features: no decision-boundary
    figure), with a header row and a label."""
    rng = np.random.default_rng(seed)
    centres = np.array([[5.0, -1.0, 20.0], [8.0, -0.4, 20.0], [6.5, 0.3, 21.0]])
    x = np.concatenate([c + rng.normal(0, [1.2, 0.25, 0.5], (n_per_class, 3)) for c in centres])
    y = np.repeat(np.arange(3), n_per_class)
    rows = [[*(f"{v:.4f}" for v in row), int(c)] for row, c in zip(x, y, strict=True)]
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([["a", "b", "c", "label"], *rows])
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def runs_made(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep_axes")
    x = write_points(root / "points.csv")
    data = ["--data", str(root / "points.csv")]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["sweep", *data, *GRID, *SMALL, "--steps", "20", "--out", str(root / "a")]) == 0
        assert main(["sweep", *data, *GRID, *SMALL, "--steps", "40", "--out", str(root / "b")]) == 0
        shutil.copytree(root / "a", root / "c")
        assert main(["sweep", "--resume", str(root / "c"), "--steps", "20", "--quiet"]) == 0
    return root, x, out.getvalue()


def test_the_table_has_a_column_per_axis_and_the_saved_model_is_the_best_configurations_best_seed(runs_made):
    root, _, printed = runs_made
    with open(root / "a" / "models.csv") as f:
        rows = list(csv.DictReader(f))
    assert {"learning_rate", "momentum", "l2"} <= set(rows[0]) and len(rows) == 2 * 2 * 2 * 2
    result = funcmlp.load_sweep(root / "a" / "sweep.safetensors")
    assert result.axes == {"learning_rate": (0.1, 0.3), "momentum": (0.0, 0.9), "l2": (0.0, 1e-3)}
    best = result.best_configuration()
    g, *index, j = result.best(configuration=best)
    saved, _ = funcmlp.load(root / "a" / "params.safetensors")
    for a, b in zip(saved, result.model(g, *index, j), strict=True):
        for k in ("w", "b"):
            np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]))
    metrics = json.loads((root / "a" / "metrics.json").read_text())
    assert metrics["selected_seed"] == j
    assert {k: metrics[k] for k in ("learning_rate", "momentum", "l2")} == {
        k: best[k] for k in ("learning_rate", "momentum", "l2")
    }
    means = {}  # the best mean over seeds, from the table alone
    for r in rows:
        means.setdefault((r["learning_rate"], r["momentum"], r["l2"]), []).append(float(r["val_accuracy"]))
    top = max(np.mean(v) for v in means.values())
    assert metrics["configuration_val_accuracy_mean"] == pytest.approx(top, abs=1e-6)
    assert "best configuration: width 4, relu, learning_rate " in printed


def test_resume_for_n_more_steps_equals_one_run_of_2n_steps(runs_made):
    root, _, _ = runs_made
    once, twice = (funcmlp.load_sweep(root / d / "sweep.safetensors") for d in ("b", "c"))
    assert once.step == twice.step == 40 and once.axes == twice.axes
    for g1, g2 in zip(once.groups, twice.groups, strict=True):
        assert g1.losses.shape[-1] == g2.losses.shape[-1] == 40
        for a, b in zip(
            [g1.losses, g1.diverged_at, *g1.opt_state, *g1.metrics.values()],
            [g2.losses, g2.diverged_at, *g2.opt_state, *g2.metrics.values()],
            strict=True,
        ):
            np.testing.assert_array_equal(a, b)
        for p1, p2 in zip(g1.params, g2.params, strict=True):
            for k in ("w", "b"):
                np.testing.assert_array_equal(p1[k], p2[k])
    (p1, _), (p2, _) = (funcmlp.load(root / d / "params.safetensors") for d in ("b", "c"))
    for a, b in zip(p1, p2, strict=True):
        np.testing.assert_array_equal(np.asarray(a["w"]), np.asarray(b["w"]))
    configs = [json.loads((root / d / "config.json").read_text()) for d in ("b", "c")]
    assert configs[0]["steps"] == configs[1]["steps"] == 40 and configs[1]["momentum"] == [0.0, 0.9]
    assert (root / "b" / "models.csv").read_text() == (root / "c" / "models.csv").read_text()


def test_ensemble_averages_the_best_configurations_seeds(runs_made, capsys):
    root, x, _ = runs_made
    points = root / "new.csv"
    with open(points, "w", newline="") as f:
        csv.writer(f).writerows(
            [["c", "b", "a"], *([f"{c:.4f}", f"{b:.4f}", f"{a:.4f}"] for a, b, c in x[::7])]
        )
    out = root / "ensemble.csv"
    assert (
        main(
            [
                "predict",
                str(root / "a"),
                "--data",
                str(points),
                "--ensemble",
                "2",
                "--probabilities",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    with open(out) as f:
        got = list(csv.DictReader(f))
    # The reference: both seeds (k = 2 = every seed) of the best configuration, in numpy.
    result = funcmlp.load_sweep(root / "a" / "sweep.safetensors")
    best = result.best_configuration()
    index = tuple(result.axes[name].index(best[name]) for name in result.axes)
    st = runs.load_model(root / "a").standardizer
    rows = np.array([[float(r[k]) for k in "abc"] for r in got], np.float32)
    h = np.asarray(st(rows), np.float64)
    probs = []
    for j in range(result.seeds):
        (l1, l2) = ({k: np.asarray(p[k][index][j], np.float64) for k in p} for p in result.groups[0].params)
        z = np.maximum(h @ l1["w"] + l1["b"], 0) @ l2["w"] + l2["b"]
        e = np.exp(z - z.max(1, keepdims=True))
        probs.append(e / e.sum(1, keepdims=True))
    want = np.mean(probs, axis=0)
    assert [int(r["prediction"]) for r in got] == want.argmax(1).tolist()
    table = np.array([[float(r[f"p_{c}"]) for c in range(3)] for r in got])
    np.testing.assert_allclose(table, want, atol=2e-6)
    assert "the best configuration's top 2 seeds" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["sweep", "--momentum", "0.9"],
            "--momentum: expected only with --optimizer sgd or momentum, got --optimizer adam",
        ),
        (
            ["sweep", "--optimizer", "sgd", "--b1", "0.9"],
            "--b1: expected only with --optimizer adam, got --optimizer sgd",
        ),
        (["sweep", "--b2", "0.9", "1"], "--b2[1]: expected a number in [0, 1), got 1.0"),
        (["sweep", "--l2", "0", "-1"], "--l2[1]: expected a finite non-negative number, got -1.0"),
        (
            ["sweep", "--resume", "{root}/a", "--learning-rates", "0.5"],
            "--learning-rates: expected the resumed sweep's 0.1 0.3",
        ),
        (["sweep", "--resume", "{root}/a", "--out", "{root}/x"], "--out: expected none with --resume"),
        (
            ["sweep", "--resume", "{root}/nothing"],
            "--resume: expected a sweep run directory holding sweep.safetensors",
        ),
        (
            ["predict", "{root}/a", "--data", "{root}/points.csv", "--ensemble", "3"],
            "--ensemble: expected at most the sweep's 2 seeds, got 3",
        ),
        (
            ["predict", "{root}/plain", "--data", "{root}/points.csv", "--ensemble", "2"],
            "--ensemble: expected a sweep's run directory holding sweep.safetensors",
        ),
    ],
)
def test_bad_options_exit_2_naming_the_option(runs_made, monkeypatch, capsys, argv, message):
    root, _, _ = runs_made
    (root / "plain").mkdir(exist_ok=True)  # a run without its sweep
    for name in ("params.safetensors", "config.json"):
        shutil.copy(root / "a" / name, root / "plain" / name)

    def no_training(*args, **kwargs):
        raise AssertionError("training started despite bad input")

    monkeypatch.setattr(funcmlp, "sweep", no_training)
    before = sorted(p.name for p in root.iterdir())
    assert main([a.format(root=root) for a in argv]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"funcmlp: error: {message}"), line
    assert sorted(p.name for p in root.iterdir()) == before
