"""The compiled programs of a sweep group: the start states, the training steps and the final metrics.

The models form a (C_pad, S_pad) grid of (configuration, seed) pairs sharded over the mesh's
("config", "seed") axes; every program runs on each device's block (``shard_map``) or lets XLA partition it
(``finish``), so no model's data moves between devices. Per configuration, the hyperparameters and the L2
weight are traced data; per seed, the training data may be the seed's own (``Static.per_seed``).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from funcmlp import engine
from funcmlp.mlp import init_params
from funcmlp.sweeps.curves import set_metrics

GRID, CONFIG, SEED, REP = (
    PartitionSpec("config", "seed"),
    PartitionSpec("config"),
    PartitionSpec("seed"),
    PartitionSpec(),
)


class Static(NamedTuple):
    """The compile-time choices of one group (hashable: a static argument of the jitted functions).

    ``per_seed``: x and y have a leading seed axis; ``per_seed_val``: so do x_val and y_val; ``l2_axis``:
    the L2 weight has a leading configuration axis.
    """

    sizes: tuple[int, ...]
    scheme: str
    dtype: Any
    spec: engine.Spec
    n: int
    mesh: Mesh
    per_seed: bool = False
    per_seed_val: bool = False
    l2_axis: bool = False
    model: Any = None  # a funcmlp.models.Model: params from model.init(key, config); sizes unused


def _per_device(fn, cfg: Static, in_specs, out_specs=GRID):
    """Run ``fn`` on each device's block of the grid (``shard_map``): no data moves between devices."""
    return jax.shard_map(fn, mesh=cfg.mesh, in_specs=in_specs, out_specs=out_specs, check_vma=False)


@partial(jax.jit, static_argnames=("cfg",))
def start(seed_keys, hyperparams, batch_key, config=None, *, cfg: Static):
    """State of every model: theta_0 = init_params(seed_keys[j]) (or ``cfg.model.init(seed_keys[j],
    config_c)``) with configuration c's hyperparameters and config values."""
    config = {} if config is None else config

    def local(seed_keys, hyperparams, batch_key, config):
        def one(p, hp, c):
            return engine.init_state(p, cfg.spec, batch_key, 0, cfg.n, hp, config=c)

        if cfg.model is not None:  # every configuration's own initialisation (an init scale, say)
            per_config = jax.vmap(lambda c: jax.lax.map(lambda k: cfg.model.init(k, c), seed_keys))(config)
            return jax.vmap(jax.vmap(one, (0, None, None)))(per_config, hyperparams, config)
        # lax.map, not vmap: the same numbers, and a batched threefry compiles twice as slowly
        params = jax.lax.map(
            lambda k: init_params(k, cfg.sizes, scheme=cfg.scheme, dtype=cfg.dtype), seed_keys
        )
        return jax.vmap(lambda hp, c: jax.vmap(lambda p: one(p, hp, c))(params))(hyperparams, config)

    specs = (SEED, CONFIG, REP, CONFIG)
    return _per_device(local, cfg, specs)(seed_keys, hyperparams, batch_key, config)


@partial(jax.jit, static_argnames=("cfg",))
def resume(params, opt_state, diverged_at, hyperparams, batch_key, step, config=None, *, cfg: Static):
    """State of every model from a previous sweep's parameters, optimizer states and divergence steps, at
    global step ``step`` (the mini-batch order continues where it stopped)."""
    config = {} if config is None else config

    def local(params, opt_state, diverged_at, hyperparams, batch_key, step, config):
        def one(p, o, d, hp, c):
            state = engine.init_state(p, cfg.spec, batch_key, step, cfg.n, hp, opt_state=o, config=c)
            return state._replace(diverged_at=d)

        per_config = jax.vmap(one, in_axes=(0, 0, 0, None, None))
        return jax.vmap(per_config)(params, opt_state, diverged_at, hyperparams, config)

    specs = (GRID, GRID, GRID, CONFIG, REP, REP, CONFIG)
    args = (params, opt_state, diverged_at, hyperparams, batch_key, step, config)
    return _per_device(local, cfg, specs)(*args)


@partial(jax.jit, static_argnames=("cfg", "length"))
def train_steps(state, x, y, batch_key, l2, start, end, *, cfg: Static, length: int):
    """``length`` steps of the engine for every model of the grid, from global step ``start``
    (``engine.run`` with a model axis, on each device's block)."""

    def local(state, x, y, batch_key, l2, start, end):
        n_config, n_seeds = jax.tree.leaves(state)[0].shape[:2]

        def per_model(a, axis):  # (S, ...) or (C, ...) -> (C * S, ...)
            a = jnp.expand_dims(a, 1 - axis)
            return jnp.broadcast_to(a, (n_config, n_seeds, *a.shape[2:])).reshape(-1, *a.shape[2:])

        own = []
        if cfg.per_seed:
            x, y, own = per_model(x, 1), per_model(y, 1), ["x", "y"]
        y = cfg.spec.objective.targets(y, cfg.sizes[-1] if cfg.sizes else 0, x.dtype)
        if cfg.l2_axis:
            l2, own = per_model(l2, 0), [*own, "l2"]
        flat = jax.tree.map(lambda a: a.reshape(n_config * n_seeds, *a.shape[2:]), state)
        data = engine.Data(x, y, batch_key, l2, end)
        flat, values = engine.run(
            flat, data, start, spec=cfg.spec, length=length, models=True, per_model=tuple(own)
        )
        return jax.tree.map(lambda a: a.reshape(n_config, n_seeds, *a.shape[1:]), (flat, values))

    data_spec = SEED if cfg.per_seed else REP
    specs = (GRID, data_spec, data_spec, REP, CONFIG if cfg.l2_axis else REP, REP, REP)
    return _per_device(local, cfg, specs, (GRID, GRID))(state, x, y, batch_key, l2, start, end)


def unfold(a, *, grid_shape: tuple[int, ...], seeds: int):
    """(C_pad, S_pad, ...) -> (n_1, ..., n_k, seeds, ...): the padded models dropped, the configuration axis
    unfolded into the grid's axes."""
    n_config = math.prod(grid_shape)
    return a[:n_config, :seeds].reshape(*grid_shape, seeds, *a.shape[2:])


@partial(jax.jit, static_argnames=("cfg", "shape"))
def finish(state, losses, x, y, x_val, y_val, *, cfg: Static, shape: tuple[tuple[int, ...], int, int]):
    """Metrics at the final parameters; the padded models (and steps) dropped and the configuration axis
    unfolded: every array (C_pad, S_pad, ...) -> (n_1, ..., n_k, S, ...)."""
    grid_shape, n_seeds, steps = shape
    names = ("train",) if x_val is None else ("train", "val")
    sets = ((x, y),) if x_val is None else ((x, y), (x_val, y_val))
    set_axes = (0 if cfg.per_seed else None,) + (() if x_val is None else (0 if cfg.per_seed_val else None,))
    m = set_metrics(state.params, sets, names, set_axes, cfg.spec.objective, config=state.config)
    out = (state.params, state.opt_state, jnp.concatenate(losses, axis=2)[..., :steps], state.diverged_at, m)
    out = jax.tree.map(partial(unfold, grid_shape=grid_shape, seeds=n_seeds), out)
    d_config, d_seed = cfg.mesh.devices.shape
    lead = ["config" if grid_shape and grid_shape[0] % d_config == 0 else None] if grid_shape else []
    spec = PartitionSpec(*lead, *[None] * (len(grid_shape) - 1), "seed" if n_seeds % d_seed == 0 else None)
    return jax.lax.with_sharding_constraint(out, NamedSharding(cfg.mesh, spec))
