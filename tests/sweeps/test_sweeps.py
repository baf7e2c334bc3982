import csv
import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp import data


@pytest.fixture
def spiral64(x64):
    """A 120-point spiral in float64 (float64 stays enabled for the test)."""
    x, y = data.spiral(jax.random.key(0), 40)
    return x.astype(jnp.float64), y


def reference(init_key, x, y, *, sizes, seeds, j, optimizer, **kw):
    """Model (i, j) trained alone by funcmlp.train: the independent reference."""
    params = funcmlp.init_params(jax.random.split(init_key, seeds)[j], sizes, dtype=jnp.float64)
    return funcmlp.train(params, x, y, optimizer=optimizer, **kw)


def model(group, i, j):
    return jax.tree.map(lambda a: a[i, j], group.params)


@pytest.mark.parametrize(
    ("optimizer", "train_kw"),
    [
        (optax.sgd, {"steps": 30}),
        (optax.adam, {"steps": 40, "batch_size": 32, "l2": 1e-3, "activation": "tanh"}),
    ],
)
def test_every_model_equals_its_single_training_run(spiral64, optimizer, train_kw):
    x, y = spiral64
    x_val, y_val = data.spiral(jax.random.key(7), 20)
    x_val = x_val.astype(jnp.float64)
    key, batch_key, lrs = jax.random.key(3), jax.random.key(9), [0.05, 0.5]
    kw = dict(train_kw)
    common = dict(sizes=(2, 5, 3), seeds=3, learning_rates=lrs, optimizer=optimizer, dtype=jnp.float64)
    result = funcmlp.sweep(key, x, y, **common, batch_key=batch_key, x_val=x_val, y_val=y_val, **kw)
    (group,) = result.groups
    assert group.losses.shape == (2, 3, kw["steps"])
    act = kw.get("activation", "relu")
    for i, lr in enumerate(lrs):
        opt = optimizer(lr)  # one object per learning rate: train compiles once for it
        for j in range(3):
            ref = reference(key, x, y, sizes=(2, 5, 3), seeds=3, j=j, optimizer=opt, key=batch_key, **kw)
            chex.assert_trees_all_close(model(group, i, j), ref.params, rtol=1e-6, atol=1e-12)
            np.testing.assert_allclose(group.losses[i, j], ref.losses, rtol=1e-6)
            assert int(group.diverged_at[i, j]) == int(ref.diverged_at) == -1
            expected = {
                "train_loss": funcmlp.loss(ref.params, x, y, activation=act),
                "train_accuracy": funcmlp.accuracy(ref.params, x, y, activation=act),
                "val_loss": funcmlp.loss(ref.params, x_val, y_val, activation=act),
                "val_accuracy": funcmlp.accuracy(ref.params, x_val, y_val, activation=act),
            }
            for name, value in expected.items():
                assert float(group.metrics[name][i, j]) == pytest.approx(float(value), rel=1e-6), name


def test_widths_and_activations_are_compiled_groups(spiral64):
    x, y = spiral64
    key = jax.random.key(4)
    sizes, acts = [(2, 3, 3), (2, 6, 6, 3)], ["relu", "sigmoid"]
    result = funcmlp.sweep(
        key, x, y, sizes=sizes, activation=acts, seeds=2, learning_rates=[0.3], steps=15, dtype=jnp.float64
    )
    assert [(g.sizes, g.activation) for g in result.groups] == [(s, a) for s in sizes for a in acts]
    opt = optax.sgd(0.3)
    for g in result.groups:
        ref = reference(
            key, x, y, sizes=g.sizes, seeds=2, j=1, optimizer=opt, steps=15, activation=g.activation
        )
        chex.assert_trees_all_close(model(g, 0, 1), ref.params, rtol=1e-6, atol=1e-12)
    rows = result.table()
    assert len(rows) == 4 * 2
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
        opt = optax.sgd(lr)
        for j in range(2):
            ref = reference(key, x, y, sizes=(2, 16, 2), seeds=2, j=j, optimizer=opt, steps=60, head="linear")
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


def test_chunks_give_the_same_result_and_report_progress(spiral64):
    x, y = spiral64
    seen, last = [], []
    kw = dict(sizes=(2, 4, 3), seeds=2, learning_rates=[0.5], steps=25, dtype=jnp.float64)
    whole = funcmlp.sweep(jax.random.key(2), x, y, **kw)

    def callback(g, s, losses):
        seen.append((g, s))
        last.append(losses)

    chunked = funcmlp.sweep(jax.random.key(2), x, y, chunk_size=10, callback=callback, **kw)
    assert seen == [(0, 10), (0, 20), (0, 25)]
    for (_, s), losses in zip(seen, last, strict=True):  # every model's loss at its last step so far
        np.testing.assert_allclose(losses, whole.groups[0].losses[:, :, s - 1], rtol=1e-6)
    chex.assert_trees_all_close(chunked.groups[0].params, whole.groups[0].params, rtol=1e-6)
    np.testing.assert_allclose(chunked.groups[0].losses, whole.groups[0].losses, rtol=1e-6)


def test_table_summary_and_exports(spiral64, tmp_path, x64):
    x, y = spiral64
    lrs = [0.1, 1.0]
    opts = dict(seeds=4, learning_rates=lrs, steps=20, dtype=jnp.float64, x_val=x[:30], y_val=y[:30])
    result = funcmlp.sweep(jax.random.key(5), x, y, sizes=[(2, 3, 3), (2, 8, 3)], **opts)
    rows = result.table()
    assert len(rows) == 2 * 2 * 4
    for r in rows:
        g = next(g for g in result.groups if "-".join(map(str, g.sizes)) == r["sizes"])
        i, j = lrs.index(r["learning_rate"]), r["seed"]
        assert r["val_accuracy"] == pytest.approx(float(g.metrics["val_accuracy"][i, j]))
    summary = result.summary()
    assert len(summary) == 4
    for s in summary:
        g = next(g for g in result.groups if "-".join(map(str, g.sizes)) == s["sizes"])
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
    assert (result.groups[g].sizes, lrs[i], j) == (
        tuple(map(int, best["sizes"].split("-"))),
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
    with pytest.raises(ValueError, match="x_val, y_val: expected both or neither"):
        call(x_val=x)
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


def test_models_in_padded_groups_equal_their_single_training_runs(spiral64, monkeypatch):
    # 2 learning rates x 3 seeds in groups of 4: the second group is padded with 2 copies of the last model.
    from funcmlp.engine import plan

    monkeypatch.setattr(plan, "CPU_GROUP", 4)
    jax.clear_caches()
    x, y = spiral64
    key, lrs = jax.random.key(4), [0.1, 0.7]
    result = funcmlp.sweep(
        key, x, y, sizes=(2, 5, 3), seeds=3, learning_rates=lrs, steps=25, dtype=jnp.float64
    )
    (group,) = result.groups
    for i, lr in enumerate(lrs):
        opt = optax.sgd(lr)
        for j in range(3):
            ref = reference(key, x, y, sizes=(2, 5, 3), seeds=3, j=j, optimizer=opt, steps=25)
            chex.assert_trees_all_close(model(group, i, j), ref.params, rtol=1e-6, atol=1e-12)
            np.testing.assert_allclose(group.losses[i, j], ref.losses, rtol=1e-6)
