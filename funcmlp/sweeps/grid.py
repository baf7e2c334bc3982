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
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from funcmlp import checks, engine, heads, models, training
from funcmlp.mlp import SCHEMES
from funcmlp.sweeps import inputs, programs
from funcmlp.sweeps import mesh as sharding
from funcmlp.sweeps.axes import Grid, grid_of
from funcmlp.sweeps.curves import Curves, joined_history, stopping
from funcmlp.sweeps.group import last_losses, run_group, schedule
from funcmlp.sweeps.halving import Halving, checked
from funcmlp.sweeps.results import GroupResult, SweepResult

# the compiled training steps of a group, public for inspection (their HLO, their calls)
train_steps = programs.train_steps


def sweep(
    key: jax.Array,
    x: jax.Array,
    y: jax.Array,
    *,
    sizes: Sequence[int] | Sequence[Sequence[int]] | None = None,
    seeds: int,
    steps: int,
    learning_rates: Sequence[float] | None = None,
    hyperparams: dict[str, Any] | None = None,
    optimizer: Callable[..., optax.GradientTransformation] = optax.sgd,
    activation: Any = None,
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
    metrics: Callable[..., dict[str, Any]] | None = None,
    allow_changes: bool = False,
    model: Any = None,
    config: dict[str, Any] | None = None,
    halving: Halving | None = None,
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
      activation: hidden activation (a name or an elementwise function, default ``"relu"``), or a list of
        them (one group each); with ``config``, a function ``fn(z, config)`` reads the config values.
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
      metrics: ``metrics(params, grads) -> dict`` of scalars, or ``metrics(params, grads, opt_state, step,
        batch)``, recorded for every model at the logged steps beside the sets' losses (grads: dJ/dtheta
        of the training objective, data loss plus L2, on batch = (x, y), all of the model's training
        rows); ``funcmlp.sweeps.curves.norms`` gives every layer's gradient and parameter norms.
      allow_changes: with ``start``, allow fixed settings (say momentum) other than the start's; the
        result's ``settings["segments"]`` then lists (start step, settings) of each call.
      model: a model of your own instead of ``sizes``: ``funcmlp.Model(init, apply)`` (``funcmlp.models``),
        model (c, j) starting from ``init(split(key, seeds)[j], config_c)``; one group, labelled by its name.
      config: traced values that ``model.init``, ``model.apply``, a head function ``loss(outputs, y,
        config)`` and an activation ``fn(z, config)`` receive, name -> a list of values (an axis, after the
        hyperparameters' and before ``l2``) or one value; one compiled program serves every value.
      halving: ``funcmlp.sweeps.halving.Halving(rungs, keep, metric)``: successive halving of each group's
        configurations on the validation rows (``funcmlp.sweeps.halving``); a stopped model keeps its state
        at its last rung and ``GroupResult.halving`` records where it stopped. Not with log_every, patience,
        metrics or start.

    Returns:
      ``SweepResult`` with one ``GroupResult`` per (sizes, activation), leading axes (*grid shape, seeds).
    """
    hd = heads.get(head)
    seeds = checks.check_positive_int(seeds, "seeds")
    steps = checks.check_positive_int(steps, "steps")
    grid = grid_of(learning_rates, hyperparams, l2, optimizer, config)
    checks.check_key(key)
    checks.check_scheme(scheme, SCHEMES)
    dtype = checks.check_float_dtype(dtype)
    checks.check_callback(callback)
    members = inputs.group_members(sizes, activation, model, grid, x, scheme, dtype)
    groups = [m.io for m in members]
    x, y, per_seed = inputs.checked_data(x, y, groups, hd, dtype, seeds)
    if (x_val is None) != (y_val is None):
        raise ValueError("x_val, y_val: expected both or neither, got only one")
    per_seed_val, val = False, None
    if x_val is not None:
        *val, per_seed_val = inputs.checked_data(x_val, y_val, groups, hd, dtype, seeds, "x_val", "y_val")
    batch_size = checks.check_batch_size(batch_size, x.shape[-2])
    if batch_size is not None:
        if batch_key is None:
            raise ValueError("batch_key: expected a jax.random.key to shuffle mini-batches, got None")
        checks.check_key(batch_key, "batch_key")
    labels = [(m.sizes, m.label) for m in members]
    first = 0 if start is None else inputs.check_start(start, grid, seeds, labels, hd, allow_changes)
    plan = schedule(first, steps, chunk_size, log_every)
    if patience is not None or metrics is not None:
        if log_every is None:
            raise ValueError(
                "log_every: expected the steps between logged rows with patience or metrics, got None"
            )
        if patience is not None:
            checks.check_positive_int(patience, "patience")
        if patience is not None and x_val is None:
            raise ValueError("patience: expected validation data x_val, y_val to watch, got none")
    checks.check_metrics(metrics)
    extra = inputs.checked_sets(evaluate, groups, hd, dtype, seeds)
    placed = inputs.place(
        grid, key, batch_key, seeds, dtype, devices, (x, y), val, extra, per_seed, per_seed_val
    )
    if halving is not None:
        others = {"log_every": log_every, "patience": patience, "metrics": metrics, "start": start}
        halving = checked(halving, steps=steps, head=hd, has_val=x_val is not None, configs=grid.size,
                          seeds=seeds, others=others)  # fmt: skip
    watch = Watch(plan, patience, metrics, callback, halving)
    results = []
    for g, member in enumerate(members):
        old = None if start is None else start.groups[g]
        spec = Static(member.sizes, scheme, dtype, batch_size, grid, seeds, first)
        group, done, stopped = _train_group(g, member, hd, spec, placed, watch, old)
        results.append(group)
        if stopped:
            break
    step = first + done
    settings = grid.settings if start is None else _segments(start, grid.settings)
    acts = tuple(m.act for m in members if m.act is not None)
    return SweepResult(grid.axes, seeds, hd.name, tuple(results), step, settings, acts)


class Static(NamedTuple):
    """What a group's training is specialised on besides its activation and head."""

    sizes: tuple[int, ...]
    scheme: str
    dtype: Any
    batch_size: int | None
    grid: Grid
    seeds: int
    first: int


class Watch(NamedTuple):
    """What the host does between chunks: the schedule, early stopping, per-step metrics, the callback."""

    plan: Any
    patience: int | None
    metrics: Callable[..., Any] | None
    callback: Callable[..., Any] | None
    halving: Any = None


def _train_group(g: int, member, hd, spec: Static, placed: inputs.Placed, watch: Watch, old):
    """Group ``g``: its compiled programs, its start (fresh, or ``old``'s), its loop and its result."""
    mesh, grid, seeds = placed.mesh, spec.grid, spec.seeds
    per_device = (placed.c_pad // mesh.devices.shape[0]) * (placed.s_pad // mesh.devices.shape[1])
    backend = mesh.devices.flat[0].platform
    if member.model is None:
        objective = training.make_objective(
            member.act, hd, spec.sizes, models=per_device, batch_size=spec.batch_size, backend=backend
        )
    else:
        objective = models.objective(member.model, hd, models=per_device, backend=backend)
    n = placed.data[0].shape[-2]
    cfg = programs.Static(
        spec.sizes, spec.scheme, spec.dtype, engine.Spec(objective, grid.factory, spec.batch_size), n, mesh,
        **placed.statics, model=member.model,
    )  # fmt: skip
    if old is None:
        carry = programs.start(placed.seed_keys, placed.hyperparams, placed.batch_key, placed.config, cfg=cfg)
    else:
        carry = inputs.resumed(old, grid, cfg, placed, spec.first)
    curves = None
    if watch.plan.log_every is not None:
        train_l2 = (placed.l2, placed.statics["l2_axis"])
        config = jax.tree.map(
            lambda a: jnp.broadcast_to(a[:, None], (a.shape[0], placed.s_pad)), placed.config
        )
        curves = Curves(
            placed.sets, placed.set_axes, objective, watch.patience, watch.metrics, train_l2, config
        )

    def report(done, losses):
        if watch.callback is None:
            return False
        last = last_losses(losses, done, watch.plan.length, grid.shape, grid.size, seeds)
        return watch.callback(g, done, last)

    data = (*placed.data, placed.batch_key, placed.l2)
    val = placed.sets.get("val", (None, None))
    halving = dict(halving=watch.halving, val=val)
    out = run_group(carry, data, watch.plan, cfg=cfg, curves=curves, report=report, **halving)
    carry, shape = out.carry, (grid.shape, seeds, out.done)
    unfold = partial(programs.unfold, grid_shape=grid.shape, seeds=seeds)
    if curves is not None and curves.best is not None:
        carry = carry._replace(params=curves.best.params)  # each model's best row's parameters
    result = programs.finish(carry, tuple(out.chunks), *placed.data, *val, cfg=cfg, shape=shape)
    params, opt_state, losses, diverged_at, metrics = result
    history = None if curves is None else curves.columns(unfold)
    if old is not None:  # the whole history: the earlier calls' steps, then this call's
        losses = np.concatenate([sharding.to_host(old.losses), sharding.to_host(losses)], axis=-1)
        if history is not None and old.history is not None:
            history = joined_history(old.history, history)
    early = stopping(None if curves is None else curves.best, watch.patience, unfold) or None
    halved = None if out.record is None else jax.tree.map(unfold, out.record)
    group = GroupResult(
        spec.sizes, member.label, params, losses, diverged_at, metrics, opt_state, history, early, halved
    )
    return group, out.done, out.stopped


def _segments(start: SweepResult, settings: dict[str, Any]) -> dict[str, Any]:
    """The fixed settings of a resumed sweep: this call's, and under ``"segments"`` every call's
    (start step, settings) when one changed (``allow_changes=True``)."""
    before = start.settings.get("segments") or [
        [0, {k: v for k, v in start.settings.items() if k != "segments"}]
    ]
    if before[-1][1] == settings:
        return {**settings, **({"segments": before} if len(before) > 1 else {})}
    return {**settings, "segments": [*before, [start.step, dict(settings)]]}
