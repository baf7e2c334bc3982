"""Sweeps over any hyperparameter, L2 and per-seed data: every model equals its own ``train`` (float64),
a sweep continues bitwise, the best configuration and the ensembles agree with numpy."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp.sweeps import ensemble

SIZES, SEEDS, STEPS = (2, 5, 3), 2, 24
HP = {"learning_rate": [0.05, 0.3], "momentum": [0.0, 0.9]}
L2 = [0.0, 1e-2]


@pytest.fixture(scope="module")
def problem():
    with jax.enable_x64(True):
        x, y = funcmlp.data.spiral(jax.random.key(0), n_per_class=12)
        x = x.astype(jnp.float64)
        xs, ys = funcmlp.data.bootstrap(jax.random.key(3), x, y, SEEDS)
        x_val, y_val = funcmlp.data.spiral(jax.random.key(9), n_per_class=8)
        kw = dict(sizes=SIZES, seeds=SEEDS, optimizer=optax.sgd, hyperparams=HP, l2=L2, dtype=jnp.float64)
        kw |= dict(evaluate={"val": (x_val.astype(jnp.float64), y_val)})
        full = funcmlp.sweep(jax.random.key(1), xs, ys, steps=STEPS, **kw)
        half = funcmlp.sweep(jax.random.key(1), xs, ys, steps=STEPS // 2, **kw)
        resumed = funcmlp.sweep(jax.random.key(1), xs, ys, steps=STEPS // 2, start=half, **kw)
        yield dict(
            xs=xs, ys=ys, x_val=x_val.astype(jnp.float64), y_val=y_val, full=full, half=half, resumed=resumed
        )


def test_every_model_equals_its_own_train(problem):
    full, xs, ys = problem["full"], problem["xs"], problem["ys"]
    assert full.axes == {"learning_rate": (0.05, 0.3), "momentum": (0.0, 0.9), "l2": (0.0, 0.01)}
    assert full.shape == (2, 2, 2) and full.step == STEPS and full.settings == {}
    group = full.groups[0]
    assert group.params[0]["w"].shape == (2, 2, 2, SEEDS, 2, 5)
    assert group.losses.shape == (2, 2, 2, SEEDS, STEPS)
    keys = jax.random.split(jax.random.key(1), SEEDS)
    with jax.enable_x64(True):
        for (i, lr), (k, m), (q, l2), j in itertools.product(
            enumerate(HP["learning_rate"]), enumerate(HP["momentum"]), enumerate(L2), range(SEEDS)
        ):
            params = funcmlp.init_params(keys[j], SIZES, dtype=jnp.float64)
            hp = {"learning_rate": lr, "momentum": m}
            want = funcmlp.train(
                params, xs[j], ys[j], optimizer=optax.sgd, hyperparams=hp, l2=l2, steps=STEPS
            )
            np.testing.assert_allclose(group.losses[i, k, q, j], want.losses, rtol=1e-6)
            for a, b in zip(
                jax.tree.leaves(full.model(0, i, k, q, j)), jax.tree.leaves(want.params), strict=True
            ):
                np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12)


def test_per_seed_data_changes_what_each_seed_learns(problem):
    losses = np.asarray(problem["full"].groups[0].losses)
    # seed 1 starts from other parameters and other data: its trajectory differs from seed 0's
    assert not np.allclose(losses[..., 0, :], losses[..., 1, :])


def test_n_steps_then_n_more_equal_2n_steps_bitwise(problem):
    full, half, resumed = problem["full"], problem["half"], problem["resumed"]
    assert resumed.step == STEPS and half.step == STEPS // 2
    a, b = full.groups[0], resumed.groups[0]
    np.testing.assert_array_equal(np.asarray(b.losses), np.asarray(a.losses))  # the whole history
    for x, y in zip(
        jax.tree.leaves((a.params, a.opt_state)), jax.tree.leaves((b.params, b.opt_state)), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_resume_survives_save_and_load(problem, tmp_path):
    path = tmp_path / "half.safetensors"
    funcmlp.save_sweep(path, problem["half"])
    loaded = funcmlp.load_sweep(path)
    kw = dict(sizes=SIZES, seeds=SEEDS, optimizer=optax.sgd, hyperparams=HP, l2=L2, dtype=jnp.float64)
    with jax.enable_x64(True):
        again = funcmlp.sweep(
            jax.random.key(1),
            problem["xs"],
            problem["ys"],
            steps=STEPS // 2,
            start=loaded,
            **kw,
            evaluate={"val": (problem["x_val"], problem["y_val"])},
        )
    np.testing.assert_array_equal(
        np.asarray(again.groups[0].losses), np.asarray(problem["resumed"].groups[0].losses)
    )


def test_best_configuration_has_the_best_mean_over_seeds(problem):
    full = problem["full"]
    rows = full.table()
    means = {}
    for r in rows:
        means.setdefault((r["learning_rate"], r["momentum"], r["l2"]), []).append(r["val_accuracy"])
    ranked = sorted(means, key=lambda c: -np.mean(means[c]))
    best = full.best_configuration()
    assert np.mean(means[(best["learning_rate"], best["momentum"], best["l2"])]) == np.mean(means[ranked[0]])
    assert best["sizes"] == SIZES and best["activation"] == "relu"
    g, i, k, q, j = full.best(configuration=best)
    axes = full.axes
    assert (axes["learning_rate"][i], axes["momentum"][k], axes["l2"][q]) == (
        best["learning_rate"],
        best["momentum"],
        best["l2"],
    )
    seeds = [
        r
        for r in rows
        if (r["learning_rate"], r["momentum"], r["l2"])
        == (axes["learning_rate"][i], axes["momentum"][k], axes["l2"][q])
    ]
    assert rows and max(r["val_accuracy"] for r in seeds) == seeds[j]["val_accuracy"]


def test_ensemble_averages_the_top_seeds_probabilities(problem):
    full = problem["full"]
    members = ensemble.top_seeds(full, k=2)
    assert members.configuration == full.best_configuration() and sorted(members.seeds) == [0, 1]
    x = np.asarray(problem["x_val"])
    with jax.enable_x64(True):
        got = np.asarray(ensemble.probabilities(members, x))
    want = []
    g, *index = full.best(configuration=members.configuration)[:-1]
    for j in members.seeds:  # an independent float64 numpy forward pass per member
        p = full.model(0, *index, j)
        a = np.maximum(x @ p[0]["w"] + p[0]["b"], 0)
        z = a @ p[1]["w"] + p[1]["b"]
        e = np.exp(z - z.max(axis=1, keepdims=True))
        want.append(e / e.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(got, np.mean(want, axis=0), rtol=1e-10)
    np.testing.assert_array_equal(ensemble.predict(members, x), np.argmax(np.mean(want, axis=0), axis=1))


def test_fixed_settings_are_not_axes():
    x, y = funcmlp.data.spiral(jax.random.key(0), n_per_class=10)
    r = funcmlp.sweep(
        jax.random.key(1),
        x,
        y,
        sizes=(2, 4, 3),
        seeds=2,
        steps=3,
        optimizer=optax.sgd,
        hyperparams={"learning_rate": [0.1, 0.2], "momentum": 0.9},
        l2=1e-3,
    )
    assert r.axes == {"learning_rate": (0.1, 0.2)} and r.settings == {"momentum": 0.9, "l2": 1e-3}
    assert r.groups[0].losses.shape == (2, 2, 3)
    assert r.best_configuration()["momentum"] == 0.9


@pytest.mark.parametrize(
    ("kw", "error", "message"),
    [
        (dict(learning_rates=[0.1], hyperparams={"learning_rate": [0.1]}), ValueError, "exactly one"),
        (dict(), ValueError, "learning_rates, hyperparams: expected exactly one"),
        (dict(hyperparams={"learning_rate": []}), ValueError, r"hyperparams\['learning_rate'\]: expected"),
        (dict(hyperparams={"learning_rate": [0.1], "nesterov_x": [1.0]}), TypeError, "does not take"),
        (dict(hyperparams={"learning_rate": [0.1]}, l2=[0.0, -1.0]), ValueError, r"l2\[1\]: expected"),
        (dict(learning_rates=[0.1], start="previous"), TypeError, "start: expected a SweepResult"),
    ],
)
def test_bad_axes_are_refused_by_name(kw, error, message):
    x, y = funcmlp.data.spiral(jax.random.key(0), n_per_class=5)
    with pytest.raises(error, match=message):
        funcmlp.sweep(jax.random.key(1), x, y, sizes=(2, 4, 3), seeds=2, steps=2, **kw)


def test_per_seed_data_must_match_the_seeds():
    x, y = funcmlp.data.spiral(jax.random.key(0), n_per_class=5)
    xs, ys = np.stack([x] * 3), np.stack([y] * 3)  # data for 3 seeds
    with pytest.raises(ValueError, match=r"x: expected \(n, d\) or \(seeds=2, n, d\)"):
        funcmlp.sweep(jax.random.key(1), xs, ys, sizes=(2, 4, 3), seeds=2, steps=2, learning_rates=[0.1])


def test_start_must_be_the_same_grid(problem):
    with pytest.raises(ValueError, match="start: expected a sweep with the same axes"):
        funcmlp.sweep(
            jax.random.key(1),
            problem["xs"],
            problem["ys"],
            sizes=SIZES,
            seeds=SEEDS,
            steps=2,
            learning_rates=[0.1],
            start=problem["half"],
            dtype=jnp.float64,
        )


def test_axes_may_be_lists_tuples_numpy_or_jax_arrays():
    x, y = funcmlp.data.spiral(jax.random.key(0), n_per_class=5)
    kw = dict(sizes=(2, 4, 3), seeds=2, steps=3, optimizer=optax.sgd)

    def run(lr, momentum, l2):
        return funcmlp.sweep(
            jax.random.key(1), x, y, hyperparams={"learning_rate": lr, "momentum": momentum}, l2=l2, **kw
        )

    want = run([0.1, 0.3], 0.9, [0.0, 0.01])
    for lr, momentum, l2 in [
        (jnp.asarray([0.1, 0.3]), jnp.asarray(0.9), jnp.asarray([0.0, 0.01])),  # float32 jax arrays
        (np.asarray([0.1, 0.3]), np.float32(0.9), (0.0, 0.01)),
        ((0.1, 0.3), np.asarray(0.9), np.asarray([0.0, 0.01], np.float32)),
    ]:
        got = run(lr, momentum, l2)
        assert got.axes == want.axes == {"learning_rate": (0.1, 0.3), "l2": (0.0, 0.01)}
        assert got.settings == want.settings == {"momentum": 0.9}
        np.testing.assert_array_equal(np.asarray(got.groups[0].losses), np.asarray(want.groups[0].losses))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            jnp.zeros((2, 2)),
            r"expected a number or a non-empty list or 1-D array of numbers, got an array of shape \(2, 2\)",
        ),
        (jnp.zeros((0,)), r"got an array of shape \(0,\)"),
        ([[0.1], [0.2, 0.3]], r"got \[\[0.1\], \[0.2, 0.3\]\]"),
        (
            jnp.asarray([0.1, jnp.inf]),
            r"hyperparams\['learning_rate'\]\[1\]: expected a finite non-negative number",
        ),
    ],
    ids=["2-d", "empty", "ragged", "inf"],
)
def test_bad_array_axes_are_refused_by_name(value, message):
    x, y = funcmlp.data.spiral(jax.random.key(0), n_per_class=5)
    with pytest.raises(ValueError, match=message):
        funcmlp.sweep(
            jax.random.key(1), x, y, sizes=(2, 4, 3), seeds=2, steps=2, hyperparams={"learning_rate": value}
        )
