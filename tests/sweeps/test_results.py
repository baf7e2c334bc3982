"""SweepResult's views (table, metric, best, model, summary) against numbers recomputed with numpy."""

import dataclasses
import json

import jax
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp import activations
from funcmlp.sweeps.results import GroupResult, SweepResult

LRS = (0.1, 1.0, 1e30)  # the last one diverges at step 1
SEEDS, STEPS = 3, 6


def blobs(rng, n):
    """n points per class around three centres in the plane, float32, and their int labels."""
    y = np.repeat(np.arange(3), n)
    return (rng.normal(size=(3 * n, 2)) + 2 * np.eye(3, 2)[y]).astype(np.float32), y


@pytest.fixture(scope="module")
def run():
    """One compiled group: 3 learning rates x 3 seeds, 6 steps, with validation data."""
    rng = np.random.default_rng(0)
    sets = {"train": blobs(rng, 20), "val": blobs(rng, 10)}
    (x, y), (x_val, y_val) = sets["train"], sets["val"]
    kw = dict(sizes=(2, 4, 3), seeds=SEEDS, learning_rates=LRS, steps=STEPS, evaluate={"val": (x_val, y_val)})
    return funcmlp.sweep(jax.random.key(2), x, y, **kw), sets


def logits(params, x):
    """The network's output in float64 numpy: relu hidden layers, linear output layer."""
    a = np.asarray(x, np.float64)
    for layer in params[:-1]:
        a = np.maximum(a @ np.float64(layer["w"]) + np.float64(layer["b"]), 0.0)
    return a @ np.float64(params[-1]["w"]) + np.float64(params[-1]["b"])


def numpy_metrics(params, x, y):
    """(mean cross-entropy, accuracy) of softmax outputs."""
    z = logits(params, x)
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean()), float(np.mean(z.argmax(axis=1) == y))


def first_nonfinite(losses):
    bad = np.flatnonzero(~np.isfinite(np.asarray(losses)))
    return int(bad[0]) if bad.size else None


def test_table_rows_hold_every_models_metrics(run):
    result, sets = run
    rows = result.table()
    assert [(r["learning_rate"], r["seed"]) for r in rows] == [(lr, j) for lr in LRS for j in range(SEEDS)]
    for r in rows:
        assert tuple(r) == result.columns
        assert (r["sizes"], r["width"], r["activation"]) == ("2-4-3", "4", "relu")
        i, j = LRS.index(r["learning_rate"]), r["seed"]
        assert r["diverged_at"] == first_nonfinite(result.groups[0].losses[i, j])
        if r["diverged_at"] is not None:
            continue
        params = result.model(0, i, j)
        for split, (x, y) in sets.items():
            loss, accuracy = numpy_metrics(params, x, y)
            assert r[f"{split}_accuracy"] == pytest.approx(accuracy, abs=1e-6), (split, i, j)
            assert r[f"{split}_loss"] == pytest.approx(loss, rel=1e-5), (split, i, j)
    assert [r["diverged_at"] for r in rows[-SEEDS:]] == [1] * SEEDS
    assert all(r["diverged_at"] is None for r in rows[:-SEEDS])


def test_model_is_the_ith_learning_rate_and_jth_seed(run):
    result, _ = run
    group = result.groups[0]
    for i, j in [(0, 0), (1, 2), (2, 1)]:
        params = result.model(0, i, j)
        assert [sorted(layer) for layer in params] == [["b", "w"], ["b", "w"]]
        for layer, stacked in zip(params, group.params, strict=True):
            for k in ("w", "b"):
                assert isinstance(layer[k], np.ndarray)
                np.testing.assert_array_equal(layer[k], np.asarray(stacked[k])[i, j])


def test_metric_and_best_follow_validation_and_head(run):
    result, _ = run
    rows = result.table()

    def ranked(metric, higher):  # the best row by hand: not diverged, best metric, then lowest loss
        tie = metric.replace("accuracy", "loss")
        live = [r for r in rows if r["diverged_at"] is None]
        best = max(live, key=lambda r: ((r[metric] if higher else -r[metric]), -r[tie]))
        return 0, LRS.index(best["learning_rate"]), best["seed"]

    assert result.has_validation and result.metric == "val_accuracy"
    assert result.best() == ranked("val_accuracy", True)
    assert result.best("train_loss") == ranked("train_loss", False)
    train_only = dataclasses.replace(
        result,
        groups=tuple(
            g._replace(metrics={k: v for k, v in g.metrics.items() if k.startswith("train")})
            for g in result.groups
        ),
    )
    assert not train_only.has_validation and train_only.metric == "train_accuracy"
    assert train_only.best() == ranked("train_accuracy", True)
    assert all(r["val_loss"] is None and r["val_accuracy"] is None for r in train_only.table())
    assert dataclasses.replace(result, head="linear").metric == "val_loss"
    assert dataclasses.replace(train_only, head="linear").metric == "train_loss"
    with pytest.raises(ValueError, match=r"^metric: expected one of .*val_accuracy.*, got 'val_acc'$"):
        result.best("val_acc")


def test_summary_is_the_spread_over_seeds(run):
    result, _ = run
    rows = result.table()
    summary = result.summary()
    assert [s["learning_rate"] for s in summary] == list(LRS)
    for s in summary:
        sel = [r for r in rows if r["learning_rate"] == s["learning_rate"]]
        assert s["seeds"] == SEEDS
        assert s["diverged"] == sum(r["diverged_at"] is not None for r in sel)
        for k in ("val_accuracy", "val_loss"):
            vals = np.array([np.nan if r[k] is None else r[k] for r in sel])
            if np.all(np.isnan(vals)):
                assert s[f"{k}_mean"] is None
                continue
            want = (np.nanmean(vals), np.nanmin(vals), np.nanmax(vals))
            assert (s[f"{k}_mean"], s[f"{k}_min"], s[f"{k}_max"]) == pytest.approx(want)


def test_best_puts_diverged_and_nan_models_last_and_breaks_ties_by_loss():
    def group(accuracy, loss, diverged):
        metrics = {"val_accuracy": np.array(accuracy), "val_loss": np.array(loss)}
        return GroupResult((2, 3, 3), "relu", [], np.zeros((2, 2, 1)), np.array(diverged), metrics)

    first = group([[0.9, 0.8], [np.nan, 0.5]], [[0.1, 0.3], [0.0, 0.9]], [[4, -1], [-1, -1]])
    second = group([[0.8, 0.7], [0.2, 0.8]], [[0.25, 0.1], [2.0, 0.2]], [[-1, -1], [-1, 0]])
    result = SweepResult({"learning_rate": (0.1, 1.0)}, 2, "softmax", (first, second))
    # (0, 0, 0) is diverged, (0, 1, 0) has no accuracy, (1, 1, 1) is diverged; of the two left at 0.8 the
    # lower loss wins
    assert result.best() == (1, 0, 0)
    assert result.best("val_loss") == (0, 1, 0)  # NaN accuracy does not matter when ranking by loss
    lonely = SweepResult({"learning_rate": (0.1, 1.0)}, 2, "softmax", (first,))
    assert lonely.best() == (0, 0, 1)


# two different functions with one name: the second learns nothing (its hidden layer is constant)
SMOOTH, FLAT = (lambda z: jax.numpy.tanh(z)), (lambda z: 0.0 * z)


@pytest.fixture(scope="module")
def two_lambdas():
    """A 2 x 2-seed sweep of two lambdas, 5 steps, with validation data, and its data."""
    rng = np.random.default_rng(1)
    (x, y), (x_val, y_val) = blobs(rng, 12), blobs(rng, 6)
    kw = dict(
        sizes=(2, 4, 3),
        seeds=2,
        learning_rates=[0.5],
        evaluate={"val": (x_val, y_val)},
        activation=[SMOOTH, FLAT],
    )
    return funcmlp.sweep(jax.random.key(3), x, y, steps=5, **kw), kw, (x, y)


def test_two_lambdas_are_labelled_apart_and_the_best_configuration_holds_the_function(two_lambdas, tmp_path):
    result, kw, (x, y) = two_lambdas
    assert [g.activation for g in result.groups] == ["<lambda>", "<lambda>#2"]
    assert {r["activation"] for r in result.table()} == {"<lambda>", "<lambda>#2"}
    assert [r["activation"] for r in result.summary()] == ["<lambda>", "<lambda>#2"]
    best = result.best_configuration()
    assert best["activation"] == "<lambda>" and best["activation_fn"] is SMOOTH
    assert list(best) == ["sizes", "activation", "activation_fn", "learning_rate", "l2"]
    assert result.configuration(1, (0,))["activation_fn"] is FLAT
    # the function trains again as it was swept: the best seed equals its own train
    g, i, j = result.best(configuration=best)
    params = funcmlp.init_params(jax.random.split(jax.random.key(3), 2)[j], (2, 4, 3))
    again = funcmlp.train(params, x, y, optimizer=optax.sgd(0.5), steps=5, activation=best["activation_fn"])
    np.testing.assert_allclose(result.groups[g].losses[i, j], again.losses, rtol=1e-5)
    result.to_json(tmp_path / "models.json")  # the function is named by its label there
    saved = json.loads((tmp_path / "models.json").read_text())["best_configuration"]
    assert saved["activation"] == "<lambda>" and "activation_fn" not in saved
    # resuming with the same two functions finds the same groups
    more = funcmlp.sweep(jax.random.key(3), x, y, steps=1, start=result, **kw)
    assert [g.activation for g in more.groups] == ["<lambda>", "<lambda>#2"] and more.step == 6


def test_a_loaded_sweep_finds_builtin_functions_by_label():
    def group(label):
        metrics = {"train_accuracy": np.ones((1, 1)), "train_loss": np.ones((1, 1))}
        return GroupResult((2, 3, 3), label, [], np.zeros((1, 1, 1)), np.full((1, 1), -1), metrics)

    result = SweepResult(
        {"learning_rate": (0.1,)}, 1, "softmax", tuple(map(group, ["relu", "leaky_relu(0.1)", "f"]))
    )
    fns = [result.configuration(g, (0,))["activation_fn"] for g in range(3)]
    assert fns == [activations.relu, activations.leaky(0.1).fn, None]
