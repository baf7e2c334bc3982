"""Batched experiments: seeds x learning rates (x widths x activations) trained in one compiled program.

Model (i, j) of a group starts from theta_0 = init_params(split(key, n_seeds)[j], sizes) and takes ``steps``
steps of  (u_t, s_{t+1}) = optimizer(alpha_i).update(dJ/dtheta (theta_t), s_t, theta_t),
theta_{t+1} = theta_t + u_t  (for ``optax.sgd``: w_new = w_old - alpha_i dJ/dw): the engine's step
(``funcmlp.engine``), the one ``funcmlp.train`` runs, over a model axis. Learning rates are traced data (the
optimizer's hyperparameters in each model's state), so one compiled program serves any list of them; widths
and activations change shapes and functions, so each (sizes, activation) pair is its own compiled group. A
model whose loss turns non-finite stops there (as in ``train``); the others go on.

The grid is sharded over every device (``funcmlp.sweeps.mesh``): each device trains its block of models and
keeps its block of the results; ``funcmlp.engine.plan`` chooses how each device's models are vmapped (in
cache-sized groups on a CPU, all at once on an accelerator). The result types, tables and summaries are in
``funcmlp.sweeps.results``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from funcmlp import activations, checks, engine, heads, training
from funcmlp.mlp import SCHEMES, init_params
from funcmlp.sweeps import mesh as sharding
from funcmlp.sweeps.results import GroupResult, SweepResult

GRID, LR, REP = PartitionSpec("lr", "seed"), PartitionSpec("lr"), PartitionSpec()


class ByLearningRate(NamedTuple):
    """A sweep's optimizer factory ``optimizer(learning_rate)`` as the engine calls it (by keyword)."""

    factory: Callable[[Any], Any]

    def __call__(self, learning_rate):
        return self.factory(learning_rate)


class _Static(NamedTuple):
    """The compile-time choices of one group (hashable: a static argument of the jitted functions)."""

    sizes: tuple[int, ...]
    scheme: str
    dtype: Any
    spec: engine.Spec
    n: int
    mesh: Mesh


def _over_grid(fn, carry_axis):
    """vmap ``fn(a, lr)`` over seeds (inner, a's axis 0) and learning rates (outer): outputs (n_lr, n_seeds, ...)."""
    return jax.vmap(jax.vmap(fn, in_axes=(0, None)), in_axes=(carry_axis, 0))


def _per_device(fn, cfg: _Static, in_specs, out_specs=GRID):
    """Run ``fn`` on each device's block of the grid (``shard_map``): no data moves between devices."""
    return jax.shard_map(fn, mesh=cfg.mesh, in_specs=in_specs, out_specs=out_specs, check_vma=False)


@partial(jax.jit, static_argnames=("cfg", "n_seeds"))
def _start(key, lrs, batch_key, *, cfg: _Static, n_seeds: int):
    """State of every model: theta_0 = init_params(split(key, n_seeds)[j]) (padded seeds repeat seed 0)."""
    seed_keys = jax.random.split(key, n_seeds)
    pad = sharding.padded(n_seeds, cfg.mesh.devices.shape[1]) - n_seeds
    seed_keys = jnp.concatenate([seed_keys, jnp.repeat(seed_keys[:1], pad)])

    def local(seed_keys, lrs, batch_key):
        # lax.map, not vmap: the same numbers, and a batched threefry compiles twice as slowly
        params = jax.lax.map(
            lambda k: init_params(k, cfg.sizes, scheme=cfg.scheme, dtype=cfg.dtype), seed_keys
        )

        def one(p, lr):
            return engine.init_state(p, cfg.spec, batch_key, 0, cfg.n, {"learning_rate": lr})

        return _over_grid(one, None)(params, lrs)

    return _per_device(local, cfg, (PartitionSpec("seed"), LR, REP))(seed_keys, lrs, batch_key)


@partial(jax.jit, static_argnames=("cfg", "length"))
def train_steps(state, x, y, batch_key, l2, start, end, *, cfg: _Static, length: int):
    """``length`` steps of the engine for every model of the grid, from global step ``start``
    (``engine.run`` with a model axis, on each device's block)."""

    def local(state, x, y, batch_key, l2, start, end):
        y = cfg.spec.objective.targets(y, cfg.sizes[-1], x.dtype)
        n_lr, n_seeds = jax.tree.leaves(state)[0].shape[:2]
        flat = jax.tree.map(lambda a: a.reshape(n_lr * n_seeds, *a.shape[2:]), state)
        data = engine.Data(x, y, batch_key, l2, end)
        flat, values = engine.run(flat, data, start, spec=cfg.spec, length=length, models=True)
        return jax.tree.map(lambda a: a.reshape(n_lr, n_seeds, *a.shape[1:]), (flat, values))

    specs = (GRID, REP, REP, REP, REP, REP, REP)
    return _per_device(local, cfg, specs, (GRID, GRID))(state, x, y, batch_key, l2, start, end)


@partial(jax.jit, static_argnames=("cfg", "shape"))
def _finish(state, losses, x, y, x_val, y_val, *, cfg: _Static, shape: tuple[int, int, int]):
    """Metrics at the final parameters, then drop the padded models (and padded steps)."""
    n_lr, n_seeds, steps = shape
    objective = cfg.spec.objective
    sets = ((x, y),) if x_val is None else ((x, y), (x_val, y_val))

    def metrics(params):
        out = {}
        evaluated = engine.evaluate(params, sets, act_fn=objective.act.fn, head=objective.head)
        for name, (value, correct), (_, ys) in zip(("train", "val"), evaluated, sets, strict=False):
            accuracy = correct / ys.shape[0] if objective.head.classifies else jnp.nan
            out[f"{name}_loss"], out[f"{name}_accuracy"] = value, jnp.asarray(accuracy, value.dtype)
        return out

    m = jax.vmap(jax.vmap(metrics))(state.params)  # partitioned like the params by XLA
    out = (state.params, jnp.concatenate(losses, axis=2)[..., :steps], state.diverged_at, m)
    out = jax.tree.map(lambda a: a[:n_lr, :n_seeds], out)
    d_lr, d_seed = cfg.mesh.devices.shape
    spec = PartitionSpec("lr" if n_lr % d_lr == 0 else None, "seed" if n_seeds % d_seed == 0 else None)
    return jax.lax.with_sharding_constraint(out, NamedSharding(cfg.mesh, spec))


def sweep(
    key: jax.Array,
    x: jax.Array,
    y: jax.Array,
    *,
    sizes: Sequence[int] | Sequence[Sequence[int]],
    seeds: int,
    learning_rates: Sequence[float],
    steps: int,
    activation: Any = "relu",
    head: Any = "softmax",
    optimizer: Callable[[Any], optax.GradientTransformation] = optax.sgd,
    batch_size: int | None = None,
    batch_key: jax.Array | None = None,
    x_val: jax.Array | None = None,
    y_val: jax.Array | None = None,
    l2: float = 0.0,
    scheme: str = "he",
    dtype: Any = jnp.float32,
    chunk_size: int | None = None,
    callback: Callable[[int, int, np.ndarray | None], None] | None = None,
    devices: Sequence[Any] | None = None,
) -> SweepResult:
    """Train every (sizes, activation, learning rate, seed) combination; one compiled program per group.

    Model (i, j) of a group equals ``funcmlp.train(init_params(split(key, seeds)[j], sizes), x, y,
    optimizer=optimizer(learning_rates[i]), steps=steps, activation=..., head=..., batch_size=...,
    key=batch_key, l2=l2)``.

    Args:
      key: ``jax.random.key``; split into ``seeds`` initialisation keys.
      x: inputs (n, d_0); y: labels (n,) (softmax, sigmoid) or targets (n, d_L) (linear).
      sizes: layer widths such as ``(2, 4, 3)``, or a list of them (one group each).
      seeds: number of initialisations per learning rate.
      learning_rates: alpha_i, positive; traced, so any list reuses the compiled program.
      steps: optimizer steps per model.
      activation: hidden activation (a name or an elementwise function), or a list of them (one group each).
      head: ``"softmax"``, ``"sigmoid"``, ``"linear"`` or a per-sample loss ``fn(logits, y) -> (n,)``.
      optimizer: maps a learning rate to an optax transformation (``optax.sgd``, ``optax.adam``, ...).
      batch_size, batch_key: mini-batches as in ``train``; every model sees the same batch order.
      x_val, y_val: optional validation data for ``val_loss`` / ``val_accuracy``.
      l2: L2 penalty weight; scheme, dtype: of ``init_params``.
      chunk_size: steps per compiled call (all by default); ``callback(group, steps_done, losses)`` after
        each, with ``losses`` the (n_lr, n_seeds) numpy array of every model's loss at its last step so far
        (NaN for a diverged model; None when some models live on another process).
      devices: devices to spread the models over (default ``jax.devices()``: every process's).

    Returns:
      ``SweepResult`` with one ``GroupResult`` per (sizes, activation), leading axes (n_lr, n_seeds).
    """
    size_list = _size_list(sizes)
    if isinstance(activation, (str, activations.Activation)) or callable(activation):
        activation = [activation]
    if not isinstance(activation, Sequence) or not activation:
        raise ValueError(
            f"activation: expected a name, a function or a non-empty list of them, got {activation!r}"
        )
    acts = [activations.get(a) for a in activation]
    hd = heads.get(head)
    seeds = checks.check_positive_int(seeds, "seeds")
    steps = checks.check_positive_int(steps, "steps")
    lrs = np.asarray(checks.check_learning_rates(learning_rates), dtype=np.float64)
    _check_optimizer(optimizer, float(lrs[0]))
    factory = ByLearningRate(optimizer)
    checks.check_key(key)
    checks.check_scheme(scheme, SCHEMES)
    dtype = checks.check_float_dtype(dtype)
    checks.check_nonnegative_real(l2, "l2")
    checks.check_callback(callback)
    x, y = _checked_data(x, y, size_list, hd, dtype)
    if (x_val is None) != (y_val is None):
        raise ValueError("x_val, y_val: expected both or neither, got only one")
    if x_val is not None:
        x_val, y_val = _checked_data(x_val, y_val, size_list, hd, dtype, "x_val", "y_val")
    batch_size = checks.check_batch_size(batch_size, x.shape[0])
    if batch_size is not None:
        if batch_key is None:
            raise ValueError("batch_key: expected a jax.random.key to shuffle mini-batches, got None")
        checks.check_key(batch_key, "batch_key")
    length = steps if chunk_size is None else min(checks.check_positive_int(chunk_size, "chunk_size"), steps)

    mesh = sharding.grid_mesh(len(lrs), seeds, devices)
    rep = sharding.replicated(mesh)
    lrs_pad = np.resize(lrs, sharding.padded(len(lrs), mesh.devices.shape[0]))
    lrs_pad = lrs_pad.astype(np.float64 if dtype == np.float64 else np.float32)
    g_lrs = sharding.put(lrs_pad, NamedSharding(mesh, PartitionSpec("lr")))
    key_data, impl = _key_data(key)
    bkey = key_data if batch_key is None else _key_data(batch_key)[0]
    g_key, g_bkey, g_x, g_y = (sharding.put(a, rep) for a in (key_data, bkey, x, y))
    g_val = (None, None) if x_val is None else (sharding.put(x_val, rep), sharding.put(y_val, rep))
    g_key, g_bkey = (jax.random.wrap_key_data(k, impl=impl) for k in (g_key, g_bkey))
    l2_arr = None if l2 == 0 else jnp.asarray(l2, dtype)

    groups = []
    for g, (s, (name, act)) in enumerate(
        (s, a) for s in size_list for a in zip([a.name for a in acts], acts, strict=True)
    ):
        per_device = math.ceil(len(lrs_pad) / mesh.devices.shape[0]) * math.ceil(
            seeds / mesh.devices.shape[1]
        )
        objective = training.make_objective(
            act, hd, s, models=per_device, batch_size=batch_size, backend=mesh.devices.flat[0].platform
        )
        cfg = _Static(s, scheme, dtype, engine.Spec(objective, factory, batch_size), x.shape[0], mesh)
        carry, chunks = _start(g_key, g_lrs, g_bkey, cfg=cfg, n_seeds=seeds), []
        for c in range(math.ceil(steps / length)):
            start, end = jnp.int32(c * length), jnp.int32(steps)
            carry, losses = train_steps(carry, g_x, g_y, g_bkey, l2_arr, start, end, cfg=cfg, length=length)
            chunks.append(losses)
            if callback is not None:
                done = min(steps, (c + 1) * length)
                last = None  # another process's models cannot be read here
                if losses.is_fully_addressable:
                    last = np.asarray(losses[:, :, done - c * length - 1])[: len(lrs), :seeds]
                callback(g, done, last)
        out = _finish(carry, tuple(chunks), g_x, g_y, *g_val, cfg=cfg, shape=(len(lrs), seeds, steps))
        groups.append(GroupResult(s, name, *out))
    return SweepResult(tuple(float(a) for a in lrs), seeds, hd.name, tuple(groups))


def _size_list(sizes: Any) -> list[tuple[int, ...]]:
    if isinstance(sizes, Sequence) and sizes and all(isinstance(s, Sequence) for s in sizes):
        return [checks.check_sizes(s) for s in sizes]
    return [checks.check_sizes(sizes)]


def _checked_data(x, y, size_list, head, dtype, x_name="x", y_name="y"):
    """Check (x, y) against every group's sizes; integer inputs are computed in ``dtype`` (as ``train``)."""
    for s in size_list:
        checks.check_x(x, s[0], x_name)
        head.check_y(y, np.shape(x)[0], s[-1], y_name)
    return training.cast_data(x, dtype, x_name), jnp.asarray(y)


def _check_optimizer(optimizer: Any, lr: float) -> None:
    made = optimizer(lr) if callable(optimizer) else None
    if not isinstance(made, optax.GradientTransformation):
        raise TypeError(
            "optimizer: expected a function from a learning rate to an optax GradientTransformation "
            f"such as optax.sgd, got {optimizer!r}"
        )


def _key_data(key: Any) -> tuple[np.ndarray, str]:
    """Raw key data (host) and the implementation name of a typed or legacy uint32 ``jax.random`` key."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return np.asarray(jax.random.key_data(key)), str(jax.random.key_impl(key))
    return np.asarray(key), "threefry2x32"
