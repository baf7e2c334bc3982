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

from funcmlp import checks, engine, heads, models, options, training
from funcmlp.history import log_interval
from funcmlp.options import Logging, Report, Resume
from funcmlp.sweeps import inputs, programs
from funcmlp.sweeps import mesh as sharding
from funcmlp.sweeps.axes import Grid, grid_of
from funcmlp.sweeps.curves import Curves, joined_history, stopping
from funcmlp.sweeps.group import last_losses, run_group, schedule
from funcmlp.sweeps.halving import Halving, checked, stopped_rows
from funcmlp.sweeps.halving import log_interval as halving_interval
from funcmlp.sweeps.results import GroupResult, SweepResult

# the compiled training steps of a group, public for inspection (their HLO, their calls)
train_steps = programs.train_steps


def sweep(
    key: jax.Array, x: jax.Array, y: jax.Array, *, seeds: int, steps: int,
    sizes: Sequence[int] | Sequence[Sequence[int]] | None = None, model: Any = None, activation: Any = None,
    head: Any = "softmax", optimizer: Callable[..., optax.GradientTransformation] = optax.sgd,
    learning_rates: Sequence[float] | None = None, hyperparams: dict[str, Any] | None = None,
    l2: float | Sequence[float] = 0.0, config: dict[str, Any] | None = None, scheme: str = "he",
    dtype: Any = jnp.float32, batch_size: int | None = None, batch_key: jax.Array | None = None,
    evaluate: dict[str, tuple[Any, Any]] | None = None, log: Logging | None = None,
    chunk_size: int | None = None, callback: Callable[[Report], Any] | None = None,
    devices: Sequence[Any] | None = None, start: SweepResult | Resume | None = None,
    halving: Halving | None = None, **moved: Any,
) -> SweepResult:  # fmt: skip
    """Train every (sizes, activation, configuration, seed) combination; one compiled program per group.

    Model (c, j) of a group equals ``funcmlp.train(init_params(split(key, seeds)[j], sizes), x_j, y_j,
    optimizer=optimizer(**h_c), l2=l2_c, config=config_c, steps=steps, ...)`` with the same ``activation``,
    ``head``, ``batch_size`` and ``batch_key``, x_j = x (or x[j] for per-seed data, y likewise). The
    configurations c are the product of the axes (``funcmlp.sweeps.axes``): ``learning_rates=[...]`` (or
    the ``hyperparams`` of ``optimizer``, each a list or one value), the ``config`` values that a model, a
    head ``loss(z, y, config)`` and an activation ``fn(z, config)`` read, then ``l2`` when it is a list.

    Args:
      key: split into ``seeds`` initialisation keys; x (n, d_0) or (seeds, n, d_0), y likewise.
      sizes: widths such as ``(2, 4, 3)`` or a list of them, and ``activation`` one or a list: a group per
        pair; or ``model=funcmlp.Model(init, apply)``, one group; ``scheme``, ``dtype``: of the init.
      evaluate: sets measured at the end and at the logged steps, name -> (x, y); ``"val"`` (which may
        carry the seed axis) ranks the models, and early stopping and ``halving`` watch it.
      log: ``funcmlp.Logging(every, patience, metrics)``: every model's curves in its scan
        (``GroupResult.history``), early stopping, per-step metrics; chunks then divide ``every``.
      chunk_size: steps per compiled call; ``callback(report)`` after each (``funcmlp.Report``: step,
        steps, group, groups and loss, every model's last loss (*grid, seeds)); True stops the sweep.
      devices: the devices the models are spread over (default: every process's).
      start: a previous ``SweepResult`` of the same grid to continue (N steps, then N more, equal 2N), or
        ``funcmlp.Resume(result, allow_changes=True)`` to change its fixed settings; ``key`` is then unused.
      halving: ``funcmlp.Halving(rungs, keep, metric)``: successive halving of each group's configurations
        on the ``"val"`` rows (``funcmlp.sweeps.halving``); not with ``start``.

    Returns ``SweepResult``: a ``GroupResult`` per group, leading axes (*grid shape, seeds).
    """
    options.check_moved("sweep", moved)
    hd, grid = heads.get(head), grid_of(learning_rates, hyperparams, l2, optimizer, config)
    seeds, steps = checks.check_positive_int(seeds, "seeds"), checks.check_positive_int(steps, "steps")
    dtype = checks.check_float_dtype(dtype)
    members = inputs.group_members(sizes, activation, model, grid, x, scheme, dtype)
    placed, batch_size, first, resume, watch = _inputs(
        key, x, y, hd, grid, members, seeds, steps, dtype, batch_size, batch_key, evaluate, log, chunk_size,
        callback, devices, start, halving,
    )  # fmt: skip
    results, reached = [], 0
    for g, member in enumerate(members):
        old = None if resume is None else resume.result.groups[g]
        spec = Static(member.sizes, scheme, dtype, batch_size, grid, seeds, first)
        group, done, stopped = _train_group(g, member, hd, spec, placed, watch, old)
        results.append(group)
        reached = done if stopped else max(reached, done)  # a callback's stop: where it stopped
        if stopped:
            break
    settings = grid.settings if resume is None else _segments(resume.result, grid.settings)
    acts = tuple(m.act for m in members if m.act is not None)
    return SweepResult(grid.axes, seeds, hd.name, tuple(results), first + reached, settings, acts)


def _inputs(
    key, x, y, hd, grid, members, seeds, steps, dtype, batch_size, batch_key, evaluate, log, chunk_size,
    callback, devices, start, halving,
):  # fmt: skip
    """``sweep``'s inputs checked: the data and ``evaluate`` sets placed on the mesh (``inputs.Placed``), the
    batch size, the first step, the sweep continued (a ``Resume`` or None) and the host's ``Watch``."""
    checks.check_key(key)
    checks.check_callback(callback)
    groups = [m.io for m in members]
    x, y, per_seed = inputs.checked_data(x, y, groups, hd, dtype, seeds)
    val, per_seed_val, extra = inputs.checked_sets(evaluate, groups, hd, dtype, seeds)
    batch_size = checks.check_batch_size(batch_size, x.shape[-2])
    if batch_size is not None:
        if batch_key is None:
            raise ValueError("batch_key: expected a jax.random.key to shuffle mini-batches, got None")
        checks.check_key(batch_key, "batch_key")
    resume = options.resume_of(start)
    first = 0
    if resume is not None:
        labels = [(m.sizes, m.label) for m in members]
        first = inputs.check_start(resume.result, grid, seeds, labels, hd, resume.allow_changes)
    logging = None if log is None else options.check_logging(log, has_val=val is not None)
    every = None if logging is None else log_interval(steps, logging.every)
    placed = inputs.place(
        grid, key, batch_key, seeds, dtype, devices, (x, y), val, extra, per_seed, per_seed_val
    )
    if halving is not None:
        halving = checked(halving, steps=steps, head=hd, has_val=val is not None, configs=grid.size,
                          seeds=seeds, others={"start": start})  # fmt: skip
        every = every and halving_interval(halving, every, logging.every)
    plan = schedule(first, steps, chunk_size, every)
    patience, metrics = (None, None) if logging is None else (logging.patience, logging.metrics)
    return placed, batch_size, first, resume, Watch(plan, patience, metrics, callback, halving, len(members))


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
    groups: int = 1


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
        return watch.callback(Report(done, watch.plan.steps, last, g, watch.groups))

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
    if halved is not None and history is not None:  # a stopped model's rows after its stop: NaN
        history = stopped_rows(history, halved["stopped_at"])
    group = GroupResult(
        spec.sizes, member.label, params, losses, diverged_at, metrics, opt_state, history, early, halved
    )
    return group, out.done, out.stopped


def _segments(start: SweepResult, settings: dict[str, Any]) -> dict[str, Any]:
    """The fixed settings of a resumed sweep: this call's, and under ``"segments"`` every call's
    (start step, settings) when one changed (``Resume(result, allow_changes=True)``)."""
    before = start.settings.get("segments") or [
        [0, {k: v for k, v in start.settings.items() if k != "segments"}]
    ]
    if before[-1][1] == settings:
        return {**settings, **({"segments": before} if len(before) > 1 else {})}
    return {**settings, "segments": [*before, [start.step, dict(settings)]]}
