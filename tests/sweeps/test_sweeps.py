import csv
import itertools
import json
from types import SimpleNamespace

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp import data

# The sweep that several tests read (one compile per group, shared through a module-scoped fixture): 2 widths
# x 2 activations (4 compiled groups) x 2 learning rates x 3 seeds, float64, with validation data.
SIZES, ACTS, LRS, SEEDS, STEPS = [(2, 3, 3), (2, 6, 6, 3)], ["relu", "sigmoid"], [0.05, 0.5], 3, 25
# the adam case: mini-batches, an L2 penalty and tanh, in a sweep of its own
ADAM = {"steps": 40, "batch_size": 32, "l2": 1e-3, "activation": "tanh"}


def spiral_data():
    """A 120-point training spiral and a 60-point validation spiral, inputs in float64 (needs x64)."""
    x, y = data.spiral(jax.random.key(0), 40)
    x_val, y_val = data.spiral(jax.random.key(7), 20)
    return x.astype(jnp.float64), y, x_val.astype(jnp.float64), y_val


@pytest.fixture
def spiral64(x64):
    """A 120-point spiral in float64 (float64 stays enabled for the test)."""
    return spiral_data()[:2]


def reference(init_key, x, y, *, sizes, seeds, j, optimizer, lr, **kw):
    """Model (i, j) trained alone by funcmlp.train: the independent reference. The learning rate is a
    hyperparameter of the optimizer factory (traced), so one compiled loop serves every rate; that this
    equals training with the object ``optimizer(lr)`` is tests/engine's check."""
    params = funcmlp.init_params(jax.random.split(init_key, seeds)[j], sizes, dtype=jnp.float64)
    return funcmlp.train(params, x, y, optimizer=optimizer, hyperparams={"learning_rate": lr}, **kw)


def model(group, i, j):
    return jax.tree.map(lambda a: a[i, j], group.params)


NUMPY_ACTS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
}


def numpy_metrics(params, x, y, activation):
    """{"loss": mean softmax cross-entropy, "accuracy"} of a network, in float64 numpy."""
    a = np.asarray(x, np.float64)
    for layer in params[:-1]:
        a = NUMPY_ACTS[activation](a @ np.float64(layer["w"]) + np.float64(layer["b"]))
    z = a @ np.float64(params[-1]["w"]) + np.float64(params[-1]["b"])
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    y = np.asarray(y)
    return {"loss": float(-log_p[np.arange(len(y)), y].mean()), "accuracy": float(np.mean(z.argmax(1) == y))}


@pytest.fixture(scope="module")
def shared():
    """The shared sweep (SIZES x ACTS, LRS x SEEDS, STEPS full-batch SGD steps) and every model's own
    ``train`` run, refs[g, i, j] for group g of the product SIZES x ACTS."""
    with jax.enable_x64(True):
        x, y, x_val, y_val = spiral_data()
        key, batch_key = jax.random.key(3), jax.random.key(9)
        opts = dict(seeds=SEEDS, learning_rates=LRS, steps=STEPS, dtype=jnp.float64, batch_key=batch_key)
        result = funcmlp.sweep(
            key, x, y, sizes=SIZES, activation=ACTS, evaluate={"val": (x_val, y_val)}, **opts
        )
        refs = {}
        for g, (sizes, act) in enumerate(itertools.product(SIZES, ACTS)):
            for (i, lr), j in itertools.product(enumerate(LRS), range(SEEDS)):
                kw = dict(sizes=sizes, seeds=SEEDS, j=j, optimizer=optax.sgd, lr=lr, steps=STEPS)
                refs[g, i, j] = reference(key, x, y, **kw, activation=act, batch_key=batch_key)
    return SimpleNamespace(
        x=x, y=y, x_val=x_val, y_val=y_val, key=key, batch_key=batch_key, opts=opts, result=result, refs=refs
    )


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_every_model_equals_its_single_training_run(request, x64, optimizer):
    if optimizer == "sgd":  # the shared sweep: 4 groups, full batch
        run = request.getfixturevalue("shared")
        x, y, x_val, y_val = run.x, run.y, run.x_val, run.y_val
        result, refs, steps = run.result, run.refs, STEPS
        acts = [a for _ in SIZES for a in ACTS]
    else:  # one group: adam, mini-batches, L2, tanh
        x, y, x_val, y_val = spiral_data()
        key, batch_key, steps = jax.random.key(3), jax.random.key(9), ADAM["steps"]
        common = dict(sizes=(2, 5, 3), seeds=SEEDS, optimizer=optax.adam)
        opts = dict(
            learning_rates=LRS, dtype=jnp.float64, batch_key=batch_key, evaluate={"val": (x_val, y_val)}
        )
        result = funcmlp.sweep(key, x, y, **common, **opts, **ADAM)
        refs = {
            (0, i, j): reference(key, x, y, **common, j=j, lr=lr, batch_key=batch_key, **ADAM)
            for (i, lr), j in itertools.product(enumerate(LRS), range(SEEDS))
        }
        acts = [ADAM["activation"]]
    assert len(result.groups) == len(acts)
    for g, group in enumerate(result.groups):
        assert group.losses.shape == (len(LRS), SEEDS, steps)
        for i, j in itertools.product(range(len(LRS)), range(SEEDS)):
            ref = refs[g, i, j]
            chex.assert_trees_all_close(model(group, i, j), ref.params, rtol=1e-6, atol=1e-12)
            np.testing.assert_allclose(group.losses[i, j], ref.losses, rtol=1e-6)
            assert int(group.diverged_at[i, j]) == int(ref.diverged_at) == -1
            for split, (xs, ys) in {"train": (x, y), "val": (x_val, y_val)}.items():
                for name, value in numpy_metrics(ref.params, xs, ys, acts[g]).items():
                    got = float(group.metrics[f"{split}_{name}"][i, j])
                    assert got == pytest.approx(value, rel=1e-6), (split, name, g, i, j)


def test_widths_and_activations_are_compiled_groups(shared):
    result = shared.result
    assert [(g.sizes, g.activation) for g in result.groups] == [(s, a) for s in SIZES for a in ACTS]
    for g, group in enumerate(result.groups):
        for i, j in itertools.product(range(len(LRS)), range(SEEDS)):
            ref = shared.refs[g, i, j]  # trained alone with this group's sizes and activation
            chex.assert_trees_all_close(model(group, i, j), ref.params, rtol=1e-6, atol=1e-12)
    rows = result.table()
    assert len(rows) == 4 * len(LRS) * SEEDS
    assert {(r["width"], r["activation"]) for r in rows} == {
        ("3", "relu"),
        ("3", "sigmoid"),
        ("6x6", "relu"),
        ("6x6", "sigmoid"),
    }


def test_a_diverging_model_stops_and_the_others_are_undisturbed(spiral64):
    x, _ = spiral64
    y = jnp.stack([x[:, 0] * x[:, 1], x[:, 0] - x[:, 1]], axis=1)
    key, lrs = jax.random.key(1), [0.01, 1e3, 0.1]
    result = funcmlp.sweep(
        key, x, y, sizes=(2, 16, 2), seeds=2, learning_rates=lrs, steps=60, head="linear", dtype=jnp.float64
    )
    (group,) = result.groups
    diverged = np.asarray(group.diverged_at)
    assert np.all(diverged[1] > 0) and np.all(diverged[[0, 2]] == -1)
    for i, lr in enumerate(lrs):
        for j in range(2):
            kw = dict(sizes=(2, 16, 2), seeds=2, j=j, optimizer=optax.sgd, lr=lr, steps=60, head="linear")
            ref = reference(key, x, y, **kw)
            assert int(group.diverged_at[i, j]) == int(ref.diverged_at)
            chex.assert_trees_all_close(model(group, i, j), ref.params, rtol=1e-6, atol=1e-12)
            np.testing.assert_allclose(group.losses[i, j], ref.losses, rtol=1e-6)  # NaN where ref is NaN
    rows = result.table()
    assert [r["diverged_at"] is not None for r in rows] == [False, False, True, True, False, False]
    assert all(r["train_accuracy"] is None for r in rows)  # no accuracy for the linear head
    assert [s["diverged"] for s in result.summary()] == [0, 2, 0]
    assert result.best()[1] != 1


def test_one_compile_serves_any_learning_rates():
    x, y = data.spiral(jax.random.key(0), 20)
    traces = []

    def counted_relu(z):  # runs once per trace of a compiled program
        traces.append(1)
        return jax.nn.relu(z)

    kw = dict(sizes=(2, 4, 3), seeds=2, steps=5, activation=counted_relu)
    runs = [funcmlp.sweep(jax.random.key(2), x, y, learning_rates=[0.1, 0.2], **kw)]
    first = len(traces)
    runs.append(funcmlp.sweep(jax.random.key(2), x, y, learning_rates=[3.0, 0.001], **kw))
    assert len(traces) == first
    assert not np.allclose(runs[0].groups[0].losses, runs[1].groups[0].losses)
    # any hyperparameter axes and L2 values: one compile for the same axis lengths, whatever the values
    grid = dict(optimizer=optax.sgd, hyperparams={"learning_rate": [0.1, 0.2], "momentum": [0.0, 0.9]})
    runs.append(funcmlp.sweep(jax.random.key(2), x, y, l2=[0.0, 1e-3], **grid, **kw))
    first = len(traces)
    grid = dict(optimizer=optax.sgd, hyperparams={"learning_rate": [0.5, 0.05], "momentum": [0.5, 0.1]})
    runs.append(funcmlp.sweep(jax.random.key(2), x, y, l2=[1e-2, 0.1], **grid, **kw))
    assert len(traces) == first
    assert not np.allclose(runs[2].groups[0].losses, runs[3].groups[0].losses)


def test_chunks_give_the_same_result_and_report_progress(shared, x64):
    # the shared sweep's first group (2-3-3 relu), again alone in chunks of 10 steps, the last one partial
    seen, last = [], []
    whole = shared.result.groups[0]

    def callback(report):
        seen.append((report.group, report.step))
        last.append(report.loss)

    chunked = funcmlp.sweep(
        shared.key,
        shared.x,
        shared.y,
        sizes=SIZES[0],
        activation=ACTS[0],
        evaluate={"val": (shared.x_val, shared.y_val)},
        chunk_size=10,
        callback=callback,
        **shared.opts,
    )
    assert seen == [(0, 10), (0, 20), (0, 25)]
    for (_, s), losses in zip(seen, last, strict=True):  # every model's loss at its last step so far
        np.testing.assert_allclose(losses, whole.losses[:, :, s - 1], rtol=1e-6)
    chex.assert_trees_all_close(chunked.groups[0].params, whole.params, rtol=1e-6)
    np.testing.assert_allclose(chunked.groups[0].losses, whole.losses, rtol=1e-6)


def test_table_summary_and_exports(shared, tmp_path, x64):
    result, lrs = shared.result, LRS

    def group_of(r):
        return next(
            g
            for g in result.groups
            if "-".join(map(str, g.sizes)) == r["sizes"] and g.activation == r["activation"]
        )

    rows = result.table()
    assert len(rows) == 4 * 2 * SEEDS
    for r in rows:
        g = group_of(r)
        i, j = lrs.index(r["learning_rate"]), r["seed"]
        assert r["val_accuracy"] == pytest.approx(float(g.metrics["val_accuracy"][i, j]))
    summary = result.summary()
    assert len(summary) == 4 * 2
    for s in summary:
        g = group_of(s)
        acc = np.asarray(g.metrics["val_accuracy"][lrs.index(s["learning_rate"])])
        assert (s["val_accuracy_mean"], s["val_accuracy_min"], s["val_accuracy_max"]) == pytest.approx(
            (acc.mean(), acc.min(), acc.max())
        )
    result.to_csv(tmp_path / "models.csv")
    with open(tmp_path / "models.csv", newline="") as f:
        back = list(csv.DictReader(f))
    assert [float(b["train_loss"]) for b in back] == pytest.approx([r["train_loss"] for r in rows])
    assert back[0]["diverged_at"] == ""
    result.to_json(tmp_path / "models.json")
    doc = json.loads((tmp_path / "models.json").read_text())
    assert doc["models"] == rows and doc["summary"] == summary
    g, i, j = result.best()
    best = max(result.table(), key=lambda r: (r["val_accuracy"], -r["val_loss"]))
    assert (result.groups[g].sizes, result.groups[g].activation, lrs[i], j) == (
        tuple(map(int, best["sizes"].split("-"))),
        best["activation"],
        best["learning_rate"],
        best["seed"],
    )
    chex.assert_trees_all_close(result.model(g, i, j), model(result.groups[g], i, j))


def test_bad_arguments():
    x, y = data.spiral(jax.random.key(0), 20)
    key = jax.random.key(0)
    ok = dict(sizes=(2, 4, 3), seeds=2, learning_rates=[0.1], steps=3)

    def call(**kw):
        funcmlp.sweep(kw.pop("key", key), kw.pop("x", x), y, **(ok | kw))

    with pytest.raises(ValueError, match="seeds: expected a positive integer, got 0"):
        call(seeds=0)
    with pytest.raises(ValueError, match="learning_rates: expected at least one learning rate"):
        call(learning_rates=[])
    with pytest.raises(
        ValueError, match=r"learning_rates\[1\]: expected a finite non-negative number, got -1.0"
    ):
        call(learning_rates=[0.1, -1.0])
    with pytest.raises(TypeError, match="optimizer: expected a function from a learning rate"):
        call(optimizer=optax.sgd(0.1))
    with pytest.raises(TypeError, match=r"evaluate\['val'\]: expected a pair \(x, y\)"):
        call(evaluate={"val": x})
    with pytest.raises(ValueError, match="batch_key: expected a jax.random.key"):
        call(batch_size=8)
    with pytest.raises(ValueError, match=r"x: expected 3 features per sample \(sizes\[0\] = 3\)"):
        call(sizes=[(2, 4, 3), (3, 4, 3)])
    with pytest.raises(ValueError, match="activation: expected one of"):
        call(activation=["relu", "swish"])
    with pytest.raises(ValueError, match=r"key: expected a single key of shape \(\), got a key array"):
        call(key=jax.random.split(key, 2))
    with pytest.raises(ValueError, match="l2: expected a finite non-negative number, got -1.0"):
        call(l2=-1.0)
    with pytest.raises(
        ValueError, match=r"activation: expected a name, a function or a non-empty list of them, got \[\]"
    ):
        call(activation=[])
    with pytest.raises(ValueError, match="devices: expected at least one device, got none"):
        call(devices=[])


def test_models_in_padded_groups_equal_their_single_training_runs(shared, x64, monkeypatch):
    # 2 learning rates x 3 seeds in groups of 4: the second group is padded with 2 copies of the last model.
    # The models are the shared sweep's 2-3-3 relu ones, so their own train runs are shared.refs[0, i, j].
    from funcmlp.engine import plan

    monkeypatch.setattr(plan, "CPU_GROUP", 4)
    jax.clear_caches()
    result = funcmlp.sweep(shared.key, shared.x, shared.y, sizes=SIZES[0], activation=ACTS[0], **shared.opts)
    (group,) = result.groups
    for i, j in itertools.product(range(len(LRS)), range(SEEDS)):
        ref = shared.refs[0, i, j]
        chex.assert_trees_all_close(model(group, i, j), ref.params, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(group.losses[i, j], ref.losses, rtol=1e-6)
