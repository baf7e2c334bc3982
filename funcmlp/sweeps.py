"""Batched experiments: seeds x learning rates (x widths x activations) trained in one compiled program.

Model (i, j) of a group starts from theta_0 = init_params(split(key, n_seeds)[j], sizes) and takes ``steps``
steps of  (u_t, s_{t+1}) = optimizer(alpha_i).update(dJ/dtheta (theta_t), s_t, theta_t),
theta_{t+1} = theta_t + u_t  (for ``optax.sgd``: w_new = w_old - alpha_i dJ/dw), exactly the step of
``funcmlp.train`` (``training._step``), vmapped over the (learning rate, seed) grid. Learning rates are traced data, so one compiled program serves any list of them;
widths and activations change shapes and functions, so each (sizes, activation) pair is its own compiled
group. A model whose loss turns non-finite stops there (as in ``train``); the others go on.

The grid is sharded over every device (``funcmlp.sharding``): each device trains its block of models and
keeps its block of the results. The result types, tables and summaries are in ``funcmlp.sweep_results``.
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

from funcmlp import activations, checks, heads, sharding, training
from funcmlp.mlp import SCHEMES, _forward, _loss, init_params
from funcmlp.sweep_results import GroupResult, SweepResult

GRID, LR, REP = PartitionSpec("lr", "seed"), PartitionSpec("lr"), PartitionSpec()


class _Static(NamedTuple):
    """The compile-time choices of one group (hashable: a static argument of the jitted functions)."""

    sizes: tuple[int, ...]
    scheme: str
    dtype: Any
    optimizer: Callable[[Any], optax.GradientTransformation]
    act: activations.Activation
    head: heads.Head
    batch_size: int | None
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
    """Carry of every model: theta_0 = init_params(split(key, n_seeds)[j]) (padded seeds repeat seed 0)."""
    seed_keys = jax.random.split(key, n_seeds)
    pad = sharding.padded(n_seeds, cfg.mesh.devices.shape[1]) - n_seeds
    seed_keys = jnp.concatenate([seed_keys, jnp.repeat(seed_keys[:1], pad)])

    def local(seed_keys, lrs, batch_key):
        # lax.map, not vmap: the same numbers, and a batched threefry compiles twice as slowly
        params = jax.lax.map(
            lambda k: init_params(k, cfg.sizes, scheme=cfg.scheme, dtype=cfg.dtype), seed_keys
        )
        perm = training._epoch_perm(batch_key, 0, cfg.n, cfg.batch_size)

        def one(p, lr):
            return training._Carry(p, p, cfg.optimizer(lr).init(p), jnp.int32(-1), perm)

        return _over_grid(one, None)(params, lrs)

    return _per_device(local, cfg, (PartitionSpec("seed"), LR, REP))(seed_keys, lrs, batch_key)


# Models per group of the fast steps: each group's arrays stay in cache (docs/performance.md).
GROUP = 64


def _in_groups(fn, tree, size: int):
    """``fn`` over the leading (model) axis of ``tree`` in groups of ``size`` models (``lax.map`` over the
    groups; the last group is padded with copies of the last model, whose results are dropped)."""
    m = jax.tree.leaves(tree)[0].shape[0]
    size = min(size, m)
    n_groups = -(-m // size)

    def grouped(a):
        a = jnp.concatenate([a, jnp.repeat(a[-1:], n_groups * size - m, axis=0)])
        return a.reshape(n_groups, size, *a.shape[1:])

    out = jax.lax.map(fn, jax.tree.map(grouped, tree))
    return jax.tree.map(lambda a: a.reshape(n_groups * size, *a.shape[2:])[:m], out)


@partial(jax.jit, static_argnames=("cfg", "length"))
def _steps(carry, lrs, x, y, batch_key, l2, start, end, *, cfg: _Static, length: int):
    """``length`` steps of ``training._step`` for every model, from global step ``start``.

    As in ``train``, the steps run in chunks of fast steps (``training._fast_step``, vmapped over groups of
    ``GROUP`` models); a chunk in which any model of this device's block is not clean is redone with
    ``training._step``.
    """

    def local(carry, lrs, x, y, batch_key, l2, start, end):
        xt, targets = training._prepare(x, y, cfg.head.name, cfg.sizes[-1])
        end = jnp.minimum(end, start + length)
        k = min(training.CHUNK, length)
        ts_all = start + jnp.arange(-(-length // k) * k, dtype=jnp.int32).reshape(-1, k)
        n_lr, n_seeds = lrs.shape[0], jax.tree.leaves(carry)[0].shape[1]
        many = n_lr * n_seeds > 1

        def kw(lr):
            return dict(
                xt=xt, targets=targets, key=batch_key, l2=l2, end=end, optimizer=cfg.optimizer(lr),
                act=cfg.act, head=cfg.head.name, batch_size=cfg.batch_size,
            )  # fmt: skip

        def fast_group(group, ts):  # group: (carry, lr) of some models, stacked
            def one(c, lr):
                step = partial(training._fast_step, **kw(lr), sample_sums="reduce" if many else "dot")
                return jax.lax.scan(step, c, ts)

            return jax.vmap(one)(*group)

        def chunk(carry, ts):
            models = jax.tree.map(lambda a: a.reshape(n_lr * n_seeds, *a.shape[2:]), carry)
            fast, values = _in_groups(lambda g: fast_group(g, ts), (models, jnp.repeat(lrs, n_seeds)), GROUP)
            fast, values = jax.tree.map(lambda a: a.reshape(n_lr, n_seeds, *a.shape[1:]), (fast, values))
            ok = jnp.all(
                jax.vmap(jax.vmap(lambda c, f, v: training._clean(c, f, v, ts, end)))(carry, fast, values)
            )
            careful = _over_grid(lambda c, lr: jax.lax.scan(partial(training._step, **kw(lr)), c, ts), 0)
            return jax.lax.cond(ok, lambda: (fast, values), lambda: careful(carry, lrs))

        carry, values = jax.lax.scan(chunk, carry, ts_all)  # values (n_chunks, n_lr, n_seeds, k)
        values = jnp.moveaxis(values, 0, 2).reshape(*values.shape[1:3], -1)[..., :length]
        return carry, values

    specs = (GRID, LR, REP, REP, REP, REP, REP, REP)
    return _per_device(local, cfg, specs, (GRID, GRID))(carry, lrs, x, y, batch_key, l2, start, end)


@partial(jax.jit, static_argnames=("cfg", "shape"))
def _finish(carry, losses, x, y, x_val, y_val, *, cfg: _Static, shape: tuple[int, int, int]):
    """Metrics at the final parameters, then drop the padded models (and padded steps)."""
    n_lr, n_seeds, steps = shape

    def metrics(params):
        def pair(xs, ys):
            value = _loss(params, xs, ys, cfg.act.fn, cfg.head, None)
            if cfg.head.name == "linear":
                return value, jnp.full((), jnp.nan, value.dtype)
            hits = cfg.head.predict(_forward(params, xs, cfg.act.fn)) == ys
            return value, jnp.mean(hits.astype(value.dtype))

        out = dict(zip(("train_loss", "train_accuracy"), pair(x, y), strict=True))
        if x_val is not None:
            out.update(zip(("val_loss", "val_accuracy"), pair(x_val, y_val), strict=True))
        return out

    m = _per_device(jax.vmap(jax.vmap(metrics)), cfg, (GRID,))(carry.params)
    out = (carry.params, jnp.concatenate(losses, axis=2)[..., :steps], carry.diverged_at, m)
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
    activation: str | Sequence[str] = "relu",
    head: str = "softmax",
    optimizer: Callable[[Any], optax.GradientTransformation] = optax.sgd,
    batch_size: int | None = None,
    batch_key: jax.Array | None = None,
    x_val: jax.Array | None = None,
    y_val: jax.Array | None = None,
    l2: float = 0.0,
    scheme: str = "he",
    dtype: Any = jnp.float32,
    chunk_size: int | None = None,
    callback: Callable[[int, int], None] | None = None,
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
      activation: hidden activation name, or a list of names (one group each).
      head: ``"softmax"``, ``"sigmoid"`` or ``"linear"``.
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
    act_names = [activation] if isinstance(activation, str) else list(activation)
    if not act_names:
        raise ValueError("activation: expected a name or a non-empty list of names, got []")
    acts = [activations.get(a) for a in act_names]
    hd = heads.get(head)
    seeds = checks.check_positive_int(seeds, "seeds")
    steps = checks.check_positive_int(steps, "steps")
    lrs = np.asarray(checks.check_learning_rates(learning_rates), dtype=np.float64)
    _check_optimizer(optimizer, float(lrs[0]))
    checks.check_key(key)
    checks.check_scheme(scheme, SCHEMES)
    dtype = checks.check_float_dtype(dtype)
    checks.check_nonnegative_real(l2, "l2")
    checks.check_callback(callback)
    x, y = _checked_data(x, y, size_list, head, dtype)
    if (x_val is None) != (y_val is None):
        raise ValueError("x_val, y_val: expected both or neither, got only one")
    if x_val is not None:
        x_val, y_val = _checked_data(x_val, y_val, size_list, head, dtype, "x_val", "y_val")
    batch_size = checks.check_batch_size(batch_size, x.shape[0])
    if batch_size is not None:
        if batch_key is None:
            raise ValueError("batch_key: expected a jax.random.key to shuffle mini-batches, got None")
        checks.check_key(batch_key, "batch_key")
    length = steps if chunk_size is None else min(checks.check_positive_int(chunk_size, "chunk_size"), steps)

    mesh = sharding.grid_mesh(len(lrs), seeds, devices)
    rep = sharding.replicated(mesh)
    lrs_pad = np.resize(lrs, sharding.padded(len(lrs), mesh.devices.shape[0])).astype(dtype)
    g_lrs = sharding.put(lrs_pad, NamedSharding(mesh, PartitionSpec("lr")))
    key_data, impl = _key_data(key)
    bkey = key_data if batch_key is None else _key_data(batch_key)[0]
    g_key, g_bkey, g_x, g_y = (sharding.put(a, rep) for a in (key_data, bkey, x, y))
    g_val = (None, None) if x_val is None else (sharding.put(x_val, rep), sharding.put(y_val, rep))
    g_key, g_bkey = (jax.random.wrap_key_data(k, impl=impl) for k in (g_key, g_bkey))
    l2_arr = None if l2 == 0 else jnp.asarray(l2, dtype)

    groups = []
    for g, (s, (name, act)) in enumerate(
        (s, a) for s in size_list for a in zip(act_names, acts, strict=True)
    ):
        cfg = _Static(s, scheme, dtype, optimizer, act, hd, batch_size, x.shape[0], mesh)
        carry, chunks = _start(g_key, g_lrs, g_bkey, cfg=cfg, n_seeds=seeds), []
        for c in range(math.ceil(steps / length)):
            start, end = jnp.int32(c * length), jnp.int32(steps)
            carry, losses = _steps(carry, g_lrs, g_x, g_y, g_bkey, l2_arr, start, end, cfg=cfg, length=length)
            chunks.append(losses)
            if callback is not None:
                done = min(steps, (c + 1) * length)
                last = None  # another process's models cannot be read here
                if losses.is_fully_addressable:
                    last = np.asarray(losses[:, :, done - c * length - 1])[: len(lrs), :seeds]
                callback(g, done, last)
        out = _finish(carry, tuple(chunks), g_x, g_y, *g_val, cfg=cfg, shape=(len(lrs), seeds, steps))
        groups.append(GroupResult(s, name, *out))
    return SweepResult(tuple(float(a) for a in lrs), seeds, head, tuple(groups))


def _size_list(sizes: Any) -> list[tuple[int, ...]]:
    if isinstance(sizes, Sequence) and sizes and all(isinstance(s, Sequence) for s in sizes):
        return [checks.check_sizes(s) for s in sizes]
    return [checks.check_sizes(sizes)]


def _checked_data(x, y, size_list, head, dtype, x_name="x", y_name="y"):
    """Check (x, y) against every group's sizes; integer inputs are computed in ``dtype`` (as ``train``)."""
    for s in size_list:
        checks.check_x(x, s[0], x_name)
        checks.check_y(y, np.shape(x)[0], head, s[-1], y_name)
    x, y = jnp.asarray(x), jnp.asarray(y)
    return (x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(dtype)), y


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
