"""The time budget of a run on your data (``funcmlp.fitting.budget``): the chooser against its documented
rule with given costs (never a clock), the values a caller gives winning over it, and what it chose landing
in ``Fit.options``/``metrics``, config.json, metrics.json and the summary line."""

import contextlib
import io
import json

import jax
import numpy as np
import pytest

import funcmlp
from funcmlp.cli.app import main
from funcmlp.fitting import budget

SMALL = 54  # training rows of a 90-row file (0.6 of it): too few for mini-batches (4 x 256 > 54)
LARGE = 2048  # mini-batches of 256 apply (4 x 256 <= 2048)


@pytest.mark.parametrize(
    ("cost", "n", "seconds", "expected"),
    [
        # cost x seeds x steps x rows / n, the first candidate within the seconds, in CANDIDATES' order
        (0.0, SMALL, 1.0, (64, 1000, None)),  # free: the most training
        (1e-4, SMALL, 5.0, (32, 1000, None)),  # 6.4 s > 5, then 3.2 s
        (1e-4, SMALL, 1.0, (8, 1000, None)),  # 6.4, 3.2, 1.6, then 0.8 (the 256-row batches are full: merged)
        (1e-4, SMALL, 0.3, (4, 500, None)),  # ... 0.8, 0.4 (4 x 1000), then 0.2
        (2e-3, LARGE, 5.0, (16, 1000, 256)),  # 128, 64 (full), then 16 x 1000 x 256 / 2048 x 2e-3 = 4
        (1e-4, LARGE, 5.0, (32, 1000, None)),  # 6.4 s, then 3.2 s: full batches while they fit
        (1.0, LARGE, 0.0, (1, 200, 256)),  # nothing fits: the cheapest
        (1.0, SMALL, 0.0, (1, 200, None)),
    ],
)
def test_choose_takes_the_first_candidate_within_the_seconds(cost, n, seconds, expected):
    plan = budget.choose(cost, n, seconds)
    assert plan[:3] == expected
    s, t, b = expected
    assert plan.seconds == pytest.approx(cost * s * t * (n if b is None else b) / n)
    assert (plan.cost, plan.budget) == (cost, seconds)


def test_choose_counts_every_configuration_and_keeps_the_given_values():
    # five L2 weights: 5 x 64 x 1000 x 1e-4 = 32 s, 16 s, 8 s (16 seeds), then 4 s (8 seeds)
    assert budget.choose(1e-4, SMALL, 5.0, configurations=5)[:3] == (8, 1000, None)
    # steps given: every candidate trains 300 steps: 64 x 300 x 1e-4 = 1.92 s > 1, then 0.96 s
    assert budget.choose(1e-4, SMALL, 1.0, steps=300)[:3] == (32, 300, None)
    # seeds given: 4 x 1000 x 2e-3 = 8 s of full batches > 5; mini-batches of 256: 1 s
    assert budget.choose(2e-3, LARGE, 5.0, seeds=4)[:3] == (4, 1000, 256)
    # the full batch given (None): full-batch candidates only, the cheapest 1 x 200 x 2e-3 = 0.4 s
    assert budget.choose(2e-3, LARGE, 1.0, batch_size=None)[:3] == (1, 200, None)
    assert budget.choose(1.0, LARGE, 0.0, seeds=3, steps=7, batch_size=5)[:3] == (3, 7, 5)


def test_plan_run_measures_only_when_there_is_a_choice(monkeypatch):
    def no_clock(*args, **kwargs):
        raise AssertionError("measured a choice that was made")

    monkeypatch.setattr(budget, "measure", no_clock)
    train = (np.zeros((SMALL, 3), np.float32), np.zeros(SMALL, np.int32))
    given = budget.plan_run(train, (3, 4, 2), 10.0, seeds=3, steps=7, batch_size=None)
    assert given == budget.Plan(3, 7, None, budget=10.0)
    # a small file with seeds and steps given: every candidate is its full batch
    assert budget.plan_run(train, (3, 4, 2), 10.0, seeds=3, steps=7)[:3] == (3, 7, None)
    assert budget.plan_run(train, (3, 4, 2), None) == budget.Plan(64, 1000, None)  # no budget
    assert budget.plan_run(train, (3, 4, 2), None, steps=5, batch_size=8) == budget.Plan(64, 5, 8)
    monkeypatch.setattr(budget, "measure", lambda *a, **k: 1e-4)
    plan = budget.plan_run(train, (3, 4, 2), 1e6)  # a budget no candidate reaches: the first
    assert plan == budget.Plan(64, 1000, None, pytest.approx(6.4), 1e-4, 1e6)


@pytest.mark.parametrize("bad", [0, -1.0, float("inf"), "10"])
def test_a_bad_budget_names_the_argument(bad):
    with pytest.raises((ValueError, TypeError), match="budget: expected"):
        budget.check_budget(bad)


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1, 2], 30)
    x = (rng.normal(0, 1.0, (len(y), 3)) + 1.5 * np.eye(3)[y]).round(3)
    path = tmp_path_factory.mktemp("data") / "noisy.csv"
    path.write_text(
        "a,b,c,kind\n" + "".join(",".join(map(str, r)) + f",{c}\n" for r, c in zip(x, y, strict=True))
    )
    return path


COST, BUDGET = 1.0, 2000.0  # every step costs a second; the training gets half the budget, about 1000 s
SEEDS = 3  # given: 3 x 1000 (3000 s) and 3 x 500 (1500 s) do not fit, 3 x 300 (900 s) does


@pytest.fixture(scope="module")
def budgeted_run(noisy, tmp_path_factory):
    """`funcmlp train --data noisy.csv --seeds 3 --budget 2000` with every step costing a second (left
    alone, the budget would train 2 seeds x 300 steps), its summary line, and ``funcmlp.fit`` alike."""
    out = tmp_path_factory.mktemp("runs") / "budgeted"
    argv = ["train", "--data", str(noisy), "--seeds", str(SEEDS), "--budget", str(BUDGET), "--quiet"]
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(printed):
        mp.setattr(budget, "measure", lambda *a, **k: COST)
        assert main([*argv, "--out", str(out)]) == 0
        fit = funcmlp.fit(noisy, seeds=SEEDS, budget=BUDGET)
    return out, printed.getvalue(), fit


def test_the_left_out_values_fit_the_budget_and_the_given_ones_win(noisy, monkeypatch):
    train = (np.zeros((SMALL, 3), np.float32), np.zeros(SMALL, np.int32))
    monkeypatch.setattr(budget, "measure", lambda *a, **k: COST)
    assert budget.plan_run(train, (3, 4, 2), BUDGET)[:3] == (2, 300, None)  # alone: 2 x 300 (600 s)
    assert budget.plan_run(train, (3, 4, 2), BUDGET, seeds=SEEDS)[:3] == (SEEDS, 300, None)
    assert budget.plan_run(train, (3, 4, 2), BUDGET, steps=50)[:3] == (
        16,
        50,
        None,
    )  # 64, 32 x 50 (1600 s) do not fit
    from funcmlp.cli.options import TrainConfig
    from funcmlp.cli.train import fit_options

    given = fit_options(TrainConfig(data=noisy, steps=7, seeds=5))
    assert (given["steps"], given["seeds"], given["batch_size"]) == (7, 5, budget.AUTO)
    assert given["budget"] == budget.DEFAULT_BUDGET
    toy = fit_options(TrainConfig())  # a toy data set: 64 x 1000 full-batch steps, unmeasured
    assert (toy["steps"], toy["seeds"], toy["batch_size"], toy["budget"]) == (None, None, None, None)


def test_the_choice_lands_in_the_run_and_fit_makes_the_same(budgeted_run):
    out, line, fit = budgeted_run
    config = json.loads((out / "config.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    chosen = (SEEDS, 300, None, BUDGET)
    assert (config["seeds"], config["steps"], config["batch_size"], config["budget"]) == chosen
    assert (metrics["seeds"], metrics["steps"], metrics["batch_size"], metrics["budget"]) == chosen
    assert metrics["step_cost"] == COST and metrics["predicted_seconds"] == 900.0
    assert tuple(fit.options[k] for k in ("seeds", "steps", "batch_size", "budget")) == chosen
    assert fit.metrics["predicted_seconds"] == 900.0 and len(fit.losses) == 300
    saved, _ = funcmlp.load(out / "params.safetensors")
    for a, b in zip(jax.tree.leaves(saved), jax.tree.leaves(fit.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert "; 3 seeds x 300 steps, full batch (about 900.0 s of training, budget 2000 s), " in line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--budget", "0"], "--budget: expected a positive number of seconds, got 0.0"),
        (["--budget", "-3"], "--budget: expected a finite non-negative number, got -3.0"),
        (["--seeds", "0"], "--seeds: expected a positive integer, got 0"),
    ],
)
def test_bad_budget_options_exit_2(noisy, tmp_path, capsys, argv, message):
    assert main(["train", "--data", str(noisy), *argv, "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.strip().startswith(f"funcmlp: error: {message}")


def test_the_budget_needs_data(tmp_path, capsys):
    assert main(["train", "--budget", "5", "--out", str(tmp_path / "r")]) == 2
    assert "--budget: expected only with --data" in capsys.readouterr().err
