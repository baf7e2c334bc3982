"""Batched experiments: every configuration of hyperparameters x L2 x seeds (x widths x activations) trained
in one compiled program per (sizes, activation) group.

Model (c, j) of a group starts from theta_0 = init_params(split(key, seeds)[j], sizes) and takes ``steps``
steps of  (u_t, s_{t+1}) = optimizer(**h_c).update(dJ_c/dtheta (theta_t), s_t, theta_t),
theta_{t+1} = theta_t + u_t, with J_c the loss plus configuration c's L2 term on seed j's data: the
engine's step (``funcmlp.engine``), the one ``funcmlp.train`` runs, over a model axis. The configurations are
the product of the grid's axes (``funcmlp.sweeps.axes``); their values are traced data, so one compiled
program serves any values. Widths and activations change shapes and functions, so each (sizes, activation)
pair is its own compiled group. A model whose loss turns non-finite stops there (as in ``train``); the
others go on. ``start=`` continues a previous sweep: its parameters, optimizer states and step.

The grid is sharded over every device (``funcmlp.sweeps.mesh``): each device trains its block of models and
keeps its block of the results (``funcmlp.sweeps.programs``); ``funcmlp.engine.plan`` chooses how each
device's models are vmapped (in cache-sized groups on a CPU, all at once on an accelerator). The result
types, tables and summaries are in ``funcmlp.sweeps.results``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding

from funcmlp import activations, checks, engine, heads, training
from funcmlp.mlp import SCHEMES
from funcmlp.sweeps import mesh as sharding
from funcmlp.sweeps import programs
from funcmlp.sweeps.axes import Grid, grid_of, pad_configs, pad_seeds
from funcmlp.sweeps.curves import Curves, joined_history, stopping
from funcmlp.sweeps.group import last_losses, run_group, schedule
from funcmlp.sweeps.results import GroupResult, SweepResult

# the compiled training steps of a group, public for inspection (their HLO, their calls)
train_steps = programs.train_steps


def sweep(
    key: jax.Array,
    x: jax.Array,
    y: jax.Array,
    *,
    sizes: Sequence[int] | Sequence[Sequence[int]],
    seeds: int,
    steps: int,
    learning_rates: Sequence[float] | None = None,
    hyperparams: dict[str, Any] | None = None,
    optimizer: Callable[..., optax.GradientTransformation] = optax.sgd,
    activation: Any = "relu",
    head: Any = "softmax",
    batch_size: int | None = None,
    batch_key: jax.Array | None = None,
    x_val: jax.Array | None = None,
    y_val: jax.Array | None = None,
    l2: float | Sequence[float] = 0.0,
    scheme: str = "he",
    dtype: Any = jnp.float32,
    chunk_size: int | None = None,
    callback: Callable[[int, int, np.ndarray | None], None] | None = None,
    devices: Sequence[Any] | None = None,
    start: SweepResult | None = None,
    log_every: int | None = None,
    evaluate: dict[str, tuple[Any, Any]] | None = None,
    patience: int | None = None,
) -> SweepResult:
    """Train every (sizes, activation, configuration, seed) combination; one compiled program per group.

    The configurations are the product of the ``hyperparams`` axes in the order given, then ``l2`` when it
    is a list. Model (i_1, ..., i_k, j) of a group equals ``funcmlp.train(init_params(split(key,
    seeds)[j], sizes), x_j, y_j, optimizer=optimizer(**its hyperparameters), l2=its l2, steps=steps,
    activation=..., head=..., batch_size=..., key=batch_key)``, x_j = x (or x[j] for per-seed data).

    Args:
      key: ``jax.random.key``; split into ``seeds`` initialisation keys.
      x: inputs (n, d_0), or (seeds, n, d_0): seed j trains on x[j] in every configuration (bootstraps,
        folds: ``funcmlp.data.bootstrap``); y: labels (n,) / targets (n, d_L), or with the same seed axis.
      sizes: layer widths such as ``(2, 4, 3)``, or a list of them (one group each).
      seeds: number of initialisations per configuration.
      steps: optimizer steps per model (in this call).
      learning_rates: shorthand for ``hyperparams={"learning_rate": learning_rates}`` with ``optimizer``
        called as ``optimizer(learning_rate)``.
      hyperparams: the optimizer's arguments, each a list of values (an axis of the grid) or one value
        (fixed), e.g. ``{"learning_rate": [0.01, 0.1], "momentum": [0.0, 0.9]}``; ``optimizer(**values)``.
      optimizer: an optax factory such as ``optax.sgd`` or ``optax.adam``.
      activation: hidden activation (a name or an elementwise function), or a list of them (one group each).
      head: ``"softmax"``, ``"sigmoid"``, ``"linear"`` or a per-sample loss ``fn(logits, y) -> (n,)``.
      batch_size, batch_key: mini-batches as in ``train``; every model sees the same batch order.
      x_val, y_val: optional validation data for ``val_loss`` / ``val_accuracy`` (shared or per seed).
      l2: L2 penalty weight, or a list of them (the last axis before the seeds).
      scheme, dtype: of ``init_params``.
      chunk_size: steps per compiled call (all by default); ``callback(group, steps_done, losses)`` after
        each, with ``losses`` the (*grid shape, seeds) numpy array of every model's loss at its last step
        so far (NaN for a diverged model; None when some models live on another process). A callback that
        returns True stops the sweep there: the result holds the groups so far, the last one (and ``step``)
        cut at the steps it reached (in a sweep over several processes, each must return the same).
      devices: devices to spread the models over (default ``jax.devices()``: every process's).
      start: a previous ``SweepResult`` of the same grid to continue (its parameters, optimizer states,
        divergences and step); ``key`` is then unused. N steps, then N more, equal 2N steps.
      log_every: record every model's curves (``GroupResult.history``: loss and accuracy on the training
        data, the validation data and each ``evaluate`` set) at the first step, every ``log_every`` steps
        and the last, inside the sweep (``funcmlp.sweeps.curves``); chunks then divide ``log_every``.
      evaluate: more sets to measure at the logged steps, name -> (x, y), shared by every model.
      patience: with ``log_every`` and validation data, early stopping per model: each model's result is
        the parameters of its best logged row (``GroupResult.early_stop``), and the sweep ends once no
        model has improved for ``patience`` rows.

    Returns:
      ``SweepResult`` with one ``GroupResult`` per (sizes, activation), leading axes (*grid shape, seeds).
    """
    size_list = _size_list(sizes)
    if isinstance(activation, (str, activations.Activation)) or callable(activation):
        activation = [activation]
    if not isinstance(activation, Sequence) or not activation:
        raise ValueError(
            f"activation: expected a name, a function or a non-empty list of them, got {activation!r}"
        )
    acts = activations.distinct([activations.get(a) for a in activation])
    hd = heads.get(head)
    seeds = checks.check_positive_int(seeds, "seeds")
    steps = checks.check_positive_int(steps, "steps")
    grid = grid_of(learning_rates, hyperparams, l2, optimizer)
    checks.check_key(key)
    checks.check_scheme(scheme, SCHEMES)
    dtype = checks.check_float_dtype(dtype)
    checks.check_callback(callback)
    x, y, per_seed = _checked_data(x, y, size_list, hd, dtype, seeds)
    if (x_val is None) != (y_val is None):
        raise ValueError("x_val, y_val: expected both or neither, got only one")
    per_seed_val = False
    if x_val is not None:
        x_val, y_val, per_seed_val = _checked_data(
            x_val, y_val, size_list, hd, dtype, seeds, "x_val", "y_val"
        )
    n = x.shape[-2]
    batch_size = checks.check_batch_size(batch_size, n)
    if batch_size is not None:
        if batch_key is None:
            raise ValueError("batch_key: expected a jax.random.key to shuffle mini-batches, got None")
        checks.check_key(batch_key, "batch_key")
    first = 0 if start is None else _check_start(start, grid, seeds, size_list, acts, hd)
    plan = schedule(first, steps, chunk_size, log_every)
    if patience is not None:
        checks.check_positive_int(patience, "patience")
        if x_val is None:
            raise ValueError("patience: expected validation data x_val, y_val to watch, got none")
    extra = _checked_sets(evaluate, size_list, hd, dtype, seeds)

    mesh = sharding.grid_mesh(grid.size, seeds, devices)
    c_pad = sharding.padded(grid.size, mesh.devices.shape[0])
    s_pad = sharding.padded(seeds, mesh.devices.shape[1])
    hp_dtype = np.float64 if dtype == np.float64 else np.float32
    config, seed, rep = (NamedSharding(mesh, p) for p in (programs.CONFIG, programs.SEED, programs.REP))
    g_hp = {
        k: sharding.put(pad_configs(v, c_pad).astype(hp_dtype), config) for k, v in grid.hyperparams.items()
    }
    key_data, impl = _key_data(key)
    bkey = key_data if batch_key is None else _key_data(batch_key)[0]
    seed_keys = pad_seeds(np.asarray(jax.random.key_data(jax.random.split(key, seeds))), s_pad)
    g_keys = jax.random.wrap_key_data(sharding.put(seed_keys, seed), impl=impl)
    g_bkey = jax.random.wrap_key_data(sharding.put(bkey, rep), impl=impl)
    g_x, g_y = _put_data(x, y, per_seed, s_pad, seed, rep)
    g_val = (None, None) if x_val is None else _put_data(x_val, y_val, per_seed_val, s_pad, seed, rep)
    if grid.l2_is_axis:
        l2_arr = sharding.put(pad_configs(grid.l2, c_pad).astype(dtype), config)
    else:
        l2_arr = None if grid.settings["l2"] == 0 else jnp.asarray(grid.settings["l2"], dtype)
    statics = dict(per_seed=per_seed, per_seed_val=per_seed_val, l2_axis=grid.l2_is_axis)
    sets = {"train": (g_x, g_y)} | ({} if x_val is None else {"val": g_val})
    sets |= {k: tuple(sharding.put(np.asarray(a), rep) for a in v) for k, v in extra.items()}
    set_axes = (0 if per_seed else None, *([0 if per_seed_val else None] * (x_val is not None)))
    set_axes += (None,) * len(extra)

    groups = []
    for g, (s, (name, act)) in enumerate(
        (s, a) for s in size_list for a in zip([a.name for a in acts], acts, strict=True)
    ):
        per_device = (c_pad // mesh.devices.shape[0]) * (s_pad // mesh.devices.shape[1])
        objective = training.make_objective(
            act, hd, s, models=per_device, batch_size=batch_size, backend=mesh.devices.flat[0].platform
        )
        spec = engine.Spec(objective, grid.factory, batch_size)
        cfg = programs.Static(s, scheme, dtype, spec, n, mesh, **statics)
        if start is None:
            carry = programs.start(g_keys, g_hp, g_bkey, cfg=cfg)
        else:
            carry = _resumed(start.groups[g], grid, cfg, g_hp, g_bkey, first, c_pad, s_pad)
        curves = None
        if plan.log_every is not None:
            curves = Curves(sets, set_axes, objective, patience)
        elif patience is not None:
            raise ValueError(f"patience: expected log_every with patience (rows to watch), got {patience}")

        def report(done, losses, g=g):
            if callback is None:
                return False
            return callback(g, done, last_losses(losses, done, plan.length, grid.shape, grid.size, seeds))

        out = run_group(carry, (g_x, g_y, g_bkey, l2_arr), plan, cfg=cfg, curves=curves, report=report)
        carry, shape = out.carry, (grid.shape, seeds, out.done)
        unfold = partial(programs.unfold, grid_shape=grid.shape, seeds=seeds)
        if curves is not None and curves.best is not None:
            carry = carry._replace(params=curves.best.params)  # each model's best row's parameters
        result = programs.finish(carry, tuple(out.chunks), g_x, g_y, *g_val, cfg=cfg, shape=shape)
        params, opt_state, losses, diverged_at, metrics = result
        history = None if curves is None else curves.columns(unfold)
        if start is not None:  # the whole history: the earlier calls' steps, then this call's
            earlier = start.groups[g]
            losses = np.concatenate([sharding.to_host(earlier.losses), sharding.to_host(losses)], axis=-1)
            if history is not None and earlier.history is not None:
                history = joined_history(earlier.history, history)
        early = stopping(None if curves is None else curves.best, patience, unfold)
        groups.append(
            GroupResult(s, name, params, losses, diverged_at, metrics, opt_state, history, early or None)
        )
        if out.stopped:
            break
    return SweepResult(grid.axes, seeds, hd.name, tuple(groups), first + shape[2], grid.settings, tuple(acts))


def _checked_sets(evaluate, size_list, head, dtype, seeds: int) -> dict[str, tuple[Any, Any]]:
    """The ``evaluate`` sets, each (x, y) checked like the training data (shared by every model)."""
    if evaluate is None:
        return {}
    if not isinstance(evaluate, dict):
        raise TypeError(f"evaluate: expected a dict name -> (x, y), got {type(evaluate).__name__}")
    out = {}
    for name, pair in evaluate.items():
        if name in ("train", "val") or not isinstance(name, str):
            raise ValueError(f"evaluate: expected set names other than 'train' and 'val', got {name!r}")
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise TypeError(f"evaluate[{name!r}]: expected a pair (x, y), got {type(pair).__name__}")
        x, y, per_seed = _checked_data(*pair, size_list, head, dtype, seeds, f"evaluate[{name!r}] x", "y")
        if per_seed:
            raise ValueError(
                f"evaluate[{name!r}]: expected (n, d) data shared by every seed, got per-seed data"
            )
        out[name] = (x, y)
    return out


def _put_data(x, y, per_seed: bool, s_pad: int, seed, rep):
    """(x, y) on the mesh: per-seed data padded to s_pad seeds and split over "seed"; shared data on every
    device."""
    if per_seed:
        return sharding.put(pad_seeds(np.asarray(x), s_pad), seed), sharding.put(
            pad_seeds(np.asarray(y), s_pad), seed
        )
    return sharding.put(np.asarray(x), rep), sharding.put(np.asarray(y), rep)


def _check_start(start: Any, grid: Grid, seeds: int, size_list, acts, head) -> int:
    """The step a previous sweep reached, after checking that it is a sweep of the same grid."""
    if not isinstance(start, SweepResult):
        raise TypeError(
            f"start: expected a SweepResult (a previous sweep or load_sweep), got {type(start).__name__}"
        )
    want = {
        "axes": {k: tuple(map(float, v)) for k, v in grid.axes.items()},
        "seeds": seeds,
        "head": head.name,
        "groups": [(tuple(s), a.name) for s in size_list for a in acts],
    }
    got = {
        "axes": {k: tuple(map(float, v)) for k, v in start.axes.items()},
        "seeds": start.seeds,
        "head": start.head,
        "groups": [(tuple(g.sizes), g.activation) for g in start.groups],
    }
    for k in want:
        if want[k] != got[k]:
            raise ValueError(f"start: expected a sweep with the same {k} ({want[k]}), got {got[k]}")
    if any(g.opt_state is None for g in start.groups):
        raise ValueError("start: expected a sweep with its optimizer states, got one without")
    return checks.check_nonnegative_int(start.step, "start.step")


def _resumed(group: GroupResult, grid: Grid, cfg, g_hp, g_bkey, step: int, c_pad: int, s_pad: int):
    """The grid's state from a previous group: its arrays (*grid shape, seeds, ...) folded to
    (C, seeds, ...), padded like a fresh grid and placed on the mesh."""
    one = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape[grid.ndim + 1 :], a.dtype), group.params)
    hp_one = {k: jax.ShapeDtypeStruct((), v.dtype) for k, v in g_hp.items()}
    like = jax.eval_shape(lambda p, h: engine.extra_args(cfg.spec.optimizer(**h)).init(p), one, hp_one)
    leaves, treedef = jax.tree.leaves(group.opt_state), jax.tree.structure(like)
    want = [(leaf.shape, jnp.dtype(leaf.dtype)) for leaf in jax.tree.leaves(like)]
    got = [
        (tuple(np.shape(a))[grid.ndim + 1 :], jnp.dtype(np.asarray(a).dtype))
        for a in map(sharding.to_host, leaves)
    ]
    if want != got:
        raise ValueError(f"start: expected optimizer-state leaves {want} for this optimizer, got {got}")
    grid_sharding = NamedSharding(cfg.mesh, programs.GRID)

    def place(a):
        a = np.asarray(sharding.to_host(a))
        a = a.reshape(grid.size, a.shape[grid.ndim], *a.shape[grid.ndim + 1 :])
        return sharding.put(pad_seeds(pad_configs(a, c_pad), s_pad, axis=1), grid_sharding)

    params, diverged_at = jax.tree.map(place, group.params), place(group.diverged_at)
    opt_state = jax.tree.unflatten(treedef, [place(a) for a in leaves])
    return programs.resume(params, opt_state, diverged_at, g_hp, g_bkey, jnp.int32(step), cfg=cfg)


def _size_list(sizes: Any) -> list[tuple[int, ...]]:
    if isinstance(sizes, Sequence) and sizes and all(isinstance(s, Sequence) for s in sizes):
        return [checks.check_sizes(s) for s in sizes]
    return [checks.check_sizes(sizes)]


def _checked_data(x, y, size_list, head, dtype, seeds: int, x_name="x", y_name="y"):
    """Check (x, y) against every group's sizes; integer inputs are computed in ``dtype`` (as ``train``).

    Returns (x, y, per_seed): per_seed when x is (seeds, n, d) and y has the same leading seed axis."""
    per_seed = np.ndim(x) == 3
    if per_seed:
        if np.shape(x)[0] != seeds:
            raise ValueError(
                f"{x_name}: expected (n, d) or (seeds={seeds}, n, d) with a leading seed axis, got shape "
                f"{tuple(np.shape(x))}"
            )
        if np.ndim(y) < 1 or np.shape(y)[0] != seeds:
            raise ValueError(
                f"{y_name}: expected a leading seed axis of {seeds} like {x_name}'s, "
                f"got shape {tuple(np.shape(y))}"
            )
        flat_x = jnp.reshape(jnp.asarray(x), (-1, np.shape(x)[-1]))
        flat_y = jnp.reshape(jnp.asarray(y), (-1, *np.shape(y)[2:]))
        if np.shape(y)[1] != np.shape(x)[1]:
            raise ValueError(
                f"{y_name}: expected {np.shape(x)[1]} rows per seed (as {x_name}), "
                f"got shape {tuple(np.shape(y))}"
            )
    else:
        flat_x, flat_y = x, y
    for s in size_list:
        checks.check_x(flat_x, s[0], x_name)
        head.check_y(flat_y, np.shape(flat_x)[0], s[-1], y_name)
    return training.cast_data(x, dtype, x_name), jnp.asarray(y), per_seed


def _key_data(key: Any) -> tuple[np.ndarray, str]:
    """Raw key data (host) and the implementation name of a typed or legacy uint32 ``jax.random`` key."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return np.asarray(jax.random.key_data(key)), str(jax.random.key_impl(key))
    return np.asarray(key), "threefry2x32"
