"""The chunked runner: model groups without padding, the two-program form (run_fast, then run only where
needed), settle's bound, and the epoch order by integer sorts. References: each model trained alone by
``funcmlp.train``, and a lax.scan of the careful step-by-step rule."""

from functools import partial

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp import activations, data, engine, heads, training
from funcmlp.engine import finite, plan


def test_model_counts_are_cut_into_groups_without_padded_copies():
    assert plan.groups(72, 64) == (36, 2, 0)
    assert plan.groups(100, 64) == (50, 2, 0)
    assert plan.groups(1000, 64) == (50, 20, 0)
    assert plan.groups(1024, 64) == (64, 16, 0)
    assert plan.groups(97, 64) == (64, 1, 33)  # no divisor in [32, 64]: one remainder group
    assert plan.groups(10, 64) == (10, 1, 0) and plan.groups(10, None) == (10, 1, 0)
    assert plan.groups(64, 64) == (64, 1, 0)


@pytest.mark.parametrize("m", [72, 97])
def test_in_groups_calls_each_group_without_padding_and_keeps_the_order(m):
    sizes = []

    def fn(tree):
        sizes.append(tree["a"].shape[0])
        return {"a": tree["a"] * 2.0 + tree["b"][:, 0]}

    tree = {"a": jnp.arange(m, dtype=jnp.float32), "b": jnp.arange(2 * m, dtype=jnp.float32).reshape(m, 2)}
    out = jax.jit(lambda t: engine.in_groups(fn, t, 64))(tree)
    np.testing.assert_array_equal(out["a"], np.arange(m) * 2.0 + np.arange(0, 2 * m, 2))
    size, count, rest = plan.groups(m, 64)
    assert sorted(sizes) == sorted([size] + ([rest] if rest else []))


@pytest.fixture(scope="module")
def spiral64():
    return data.spiral(jax.random.key(0), n_per_class=10)


@pytest.mark.parametrize("seeds", [72, 100, 97])
def test_a_sweep_of_72_100_or_97_models_equals_each_model_trained_alone(spiral64, seeds, x64):
    """72 and 100 models run as equal groups (2 x 36, 2 x 50), 97 as 64 + a remainder group of 33."""
    x, y = spiral64
    x = x.astype(jnp.float64)
    key, sizes, steps, lr = jax.random.key(3), (2, 4, 3), 4, 0.5
    result = funcmlp.sweep(
        key,
        x,
        y,
        sizes=sizes,
        seeds=seeds,
        learning_rates=[lr],
        steps=steps,
        dtype=jnp.float64,
        devices=jax.devices()[:1],
    )
    group = result.groups[0]
    init = jax.random.split(key, seeds)
    for j in range(seeds):
        params = funcmlp.init_params(init[j], sizes, dtype=jnp.float64)
        alone = funcmlp.train(
            params, x, y, optimizer=optax.sgd, hyperparams={"learning_rate": lr}, steps=steps
        )
        np.testing.assert_allclose(group.losses[0, j], alone.losses, rtol=1e-6)
        chex.assert_trees_all_close(
            jax.tree.map(lambda a, j=j: a[0, j], group.params), alone.params, rtol=1e-6
        )


def test_a_sweep_on_the_cpu_takes_the_registered_derivative_up_to_sweep_wide():
    assert plan.choose("cpu", (2, 16, 3), models=1000).registered
    assert plan.choose("cpu", (2, plan.SWEEP_WIDE, plan.SWEEP_WIDE, 3), models=2).registered
    assert not plan.choose("cpu", (2, 16, 3)).registered  # one model: autodiff above NARROW
    assert not plan.choose("cpu", (784, 32, 10), models=100).registered  # a wide input
    assert not plan.choose("cpu", (2, plan.SWEEP_WIDE + 1, 3), models=100).registered
    assert not plan.choose("gpu", (2, 16, 3), models=1000).registered
    assert not plan.choose("cpu", (2, 16, 3), models=1000, available=False).registered


@pytest.mark.parametrize("batch_size", [None, 16])
def test_a_registered_sweep_of_width_16_equals_each_model_trained_alone_by_autodiff(
    spiral64, batch_size, x64
):
    """The sweep (registered derivative, models > 1 on the CPU) against ``train`` of one model (autodiff)."""
    x, y = spiral64
    x = x.astype(jnp.float64)
    key, sizes, seeds, steps, lr = jax.random.key(4), (2, 16, 3), 3, 4, 0.5
    assert training.make_objective("relu", "softmax", sizes, models=seeds, backend="cpu").plan.registered
    assert not training.make_objective("relu", "softmax", sizes, backend="cpu").plan.registered
    opts = dict(steps=steps, batch_size=batch_size)
    result = funcmlp.sweep(
        key, x, y, sizes=sizes, seeds=seeds, learning_rates=[lr], dtype=jnp.float64, batch_key=key, **opts
    )
    group = result.groups[0]
    init = jax.random.split(key, seeds)
    for j in range(seeds):
        params = funcmlp.init_params(init[j], sizes, dtype=jnp.float64)
        hp = {"learning_rate": lr}
        alone = funcmlp.train(params, x, y, optimizer=optax.sgd, hyperparams=hp, batch_key=key, **opts)
        np.testing.assert_allclose(group.losses[0, j], alone.losses, rtol=1e-6)
        chex.assert_trees_all_close(
            jax.tree.map(lambda a, j=j: a[0, j], group.params), alone.params, rtol=1e-6, atol=1e-12
        )


def _problem(case: str, dtype=jnp.float64):
    """(state, data, spec) of a small problem: "clean", "mini-batches", "diverges" (SGD at rate 10 on a
    linear head), "past the end" (the call's last chunk is cut by data.end)."""
    x, y = data.spiral(jax.random.key(5), n_per_class=20)
    x = x.astype(dtype)
    head, act, sizes, opt = "softmax", "relu", (2, 8, 3), optax.sgd(0.5)
    if case == "own activation":  # one the bound does not know: run_fast computes the final loss
        act = activations.from_function(jnp.sin)
    if case == "diverges":
        head, act, sizes, opt = "linear", "linear", (2, 8, 2), optax.sgd(10.0)
        y = jnp.stack([jnp.sin(x[:, 0]) + x[:, 1], x[:, 0] * x[:, 1]], axis=1)
    batch = 16 if case in ("mini-batches", "past the end") else None
    params = funcmlp.init_params(jax.random.key(6), sizes, dtype=dtype)
    objective = training.make_objective(act, head, sizes, batch_size=batch, backend="cpu")
    spec = engine.Spec(objective, engine.Fixed(opt), batch)
    key = jax.random.key(7)
    end = 3 + (29 if case == "past the end" else 40)
    state = engine.init_state(params, spec, key, 3, x.shape[0])
    return state, engine.Data(x, objective.targets(y, sizes[-1], x.dtype), key, None, jnp.int32(end)), spec


def _two_programs(state, data_, spec, length, chunk):
    """The caller's two-program form: run_fast, and run only where run_fast's result is not clean.
    Returns (state, losses, clean, run_fast's own output)."""
    fast = jax.jit(partial(engine.run_fast, spec=spec, length=length, chunk=chunk))(state, data_, 3)
    new, losses, clean = fast
    if not bool(clean):
        new, losses = jax.jit(partial(engine.run, spec=spec, length=length, chunk=chunk))(state, data_, 3)
    return new, losses, bool(clean), fast


@pytest.mark.parametrize(
    "case, chunks",
    [
        ("clean", (6, 8)),
        ("mini-batches", (6,)),
        ("own activation", (6,)),
        ("diverges", (6, 8)),
        ("past the end", (6,)),
    ],
)
def test_run_fast_is_run_where_clean_and_the_two_programs_give_the_careful_rules_numbers(case, chunks, x64):
    state, data_, spec = _problem(case)
    careful = partial(engine.step, spec=spec, data=data_._replace(end=jnp.minimum(data_.end, 3 + 36)))
    want_state, want_losses = jax.jit(lambda s: jax.lax.scan(careful, s, 3 + jnp.arange(36)))(state)
    assert (int(want_state.diverged_at) > 3) is (case == "diverges")
    for chunk in chunks:
        got_state, got_losses, clean, fast = _two_programs(state, data_, spec, 36, chunk)
        # not clean: a divergence, a call cut by the end, or 36 steps in chunks of 8 (a padded last chunk)
        assert clean is (case in ("clean", "mini-batches", "own activation") and chunk == 6)
        np.testing.assert_allclose(got_losses, want_losses, rtol=1e-6)  # NaN where NaN
        chex.assert_trees_all_close(got_state, want_state, rtol=1e-6, atol=1e-12)
        if clean:  # where clean, run_fast's numbers are run's, bit for bit
            run = jax.jit(partial(engine.run, spec=spec, length=36, chunk=chunk))(state, data_, 3)
            chex.assert_trees_all_equal(fast[:2], run)


def test_run_fast_is_not_clean_for_a_model_that_had_diverged_or_whose_last_update_needs_settling(x64):
    state, data_, spec = _problem("clean")
    stopped = state._replace(diverged_at=jnp.int32(2))
    fast = jax.jit(partial(engine.run_fast, spec=spec, length=1, chunk=1))
    assert not bool(fast(stopped, data_, 3)[2])
    # parameters that overflow the logits (finite, yet the loss is not): settle must see them
    huge = state._replace(params=jax.tree.map(lambda a: jnp.full_like(a, 1e300), state.params))
    settle = jax.jit(partial(engine.settle, spec=spec))
    settled = settle(huge, data=data_, last=jnp.int32(9))
    assert int(settled.diverged_at) == 9
    chex.assert_trees_all_equal(settled.params, huge.prev_params)
    assert not bool(fast(huge, data_, 3)[2]) and bool(fast(state, data_, 3)[2])


def test_settle_keeps_a_model_whose_loss_is_finite():
    state, data_, spec = _problem("clean", jnp.float32)
    settled = jax.jit(partial(engine.settle, spec=spec))(state, data=data_, last=jnp.int32(9))
    chex.assert_trees_all_equal(settled, state)


ACTS = ["relu", "tanh", "linear", "sigmoid", "step", "leaky_relu:3"]


@pytest.mark.parametrize("head", ["softmax", "sigmoid", "linear"])
def test_the_bound_proves_a_loss_finite_only_where_it_is(head):
    """Over weights from 1 to 1e36 (float32), wherever surely_finite says the loss is finite, it is; at
    ordinary scales it says so (so settle skips its forward pass)."""
    x, _ = data.spiral(jax.random.key(1), n_per_class=10)
    k = 1 if head == "sigmoid" else 3
    y = {
        "softmax": jnp.arange(30) % 3,
        "sigmoid": jnp.arange(30) % 2,
        "linear": jnp.ones((30, 3), jnp.float32) * 7,
    }[head]
    hd = heads.get(head)
    base = funcmlp.init_params(jax.random.key(2), (2, 5, 5, k))
    for name in ACTS:
        act = activations.get(name)
        assert finite.knows(act, hd)
        proven = []
        for scale in 10.0 ** np.arange(0, 40, 3):
            params = jax.tree.map(lambda a, s=scale: a * s, base)
            for l2 in (None, jnp.float32(0.1)):
                sure = bool(finite.surely_finite(params, x, y, l2, act=act, head=hd))
                loss = funcmlp.mlp.mean_loss(params, x, y, act.fn, hd, l2)
                assert not sure or np.isfinite(loss), (name, scale, l2)
                proven.append(sure)
        assert proven[0] and proven[1] and not proven[-1], name
        # zero inputs and biases: the logits are 0 whatever the weights, but the L2 term overflows
        flat = [{"w": layer["w"] * 1e20, "b": layer["b"] * 0} for layer in base]
        zero = jnp.zeros_like(x)
        assert bool(finite.surely_finite(flat, zero, y, None, act=act, head=hd)) or name in (
            "sigmoid",
            "step",
            "tanh",
        )
        assert not bool(finite.surely_finite(flat, zero, y, jnp.float32(0.1), act=act, head=hd))
        assert not np.isfinite(funcmlp.mlp.mean_loss(flat, zero, y, act.fn, hd, jnp.float32(0.1)))
        # run_fast relies on it: a NaN or inf anywhere in the parameters is never proven finite
        for i, name_ in ((0, "w"), (1, "b"), (2, "w")):
            for bad in (jnp.nan, jnp.inf):
                broken = jax.tree.map(lambda a: a, base)
                broken[i] = dict(
                    broken[i],
                    **{name_: broken[i][name_].ravel().at[0].set(bad).reshape(broken[i][name_].shape)},
                )
                assert not bool(finite.surely_finite(broken, x, y, None, act=act, head=hd)), (name, i, bad)
    assert not finite.knows(activations.get(jnp.sin), hd)
    assert not finite.knows(activations.get("relu"), heads.custom(heads.squared_error))


def test_epoch_orders_are_permutations_drawn_per_epoch_and_about_uniform():
    key = jax.random.key(4)
    shuffle = jax.jit(engine.shuffle, static_argnums=1)
    for n in (1, 2, 5, 5000):
        p = np.asarray(shuffle(key, n))
        assert p.dtype == np.int32 and sorted(p.tolist()) == list(range(n))
    assert not np.array_equal(shuffle(key, 5000), shuffle(jax.random.key(5), 5000))
    orders = np.asarray(jax.jit(jax.vmap(lambda k: engine.shuffle(k, 3)))(jax.random.split(key, 6000)))
    _, counts = np.unique(orders, axis=0, return_counts=True)
    assert len(counts) == 6 and counts.min() > 850 and counts.max() < 1150  # 1000 each expected
    perm = jax.jit(engine.epoch_perm, static_argnums=(2, 3))(key, 7, 10, 4)  # epoch 2 of 3 batches
    np.testing.assert_array_equal(perm[:10], shuffle(jax.random.fold_in(key, 2), 10))  # and its first 2
    np.testing.assert_array_equal(perm[10:], perm[:2])
