"""funcmlp's results into a sink: a history (metrics.csv), per-step losses, a sweep, a run directory's
figures, and callbacks for ``train`` / ``train_logged`` / ``sweep`` that log at chunk boundaries.

Tags: ``loss`` is J(theta_t), the training objective before update t (``TrainResult.losses[t]`` at step
start + t); a history's columns keep their names (``train_loss``, ``val_loss``, ``val_accuracy``, ...,
and any per-step metric such as ``grad_norm/layer0``); ``final/<metric>`` are a sweep configuration's
final metrics averaged over its seeds (the HParams table's columns).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from funcmlp import checks
from funcmlp.options import Report
from funcmlp.sweeps.curves import model_history
from funcmlp.sweeps.mesh import to_host
from funcmlp.sweeps.results import SweepResult
from funcmlp.tracking import names, sinks
from funcmlp.tracking.sinks import Sink


def log_history(sink: Sink, columns: Mapping[str, Any], run: str | None = None, *, start: int = 0) -> None:
    """Every row of a history: ``scalars(start + step[i], {name: column[i] for each other column}, run)``.

    Args:
      columns: ``History.columns`` or ``funcmlp.io.rundir.read_history(metrics.csv)``: ``step`` (m,)
        integral values >= 0 and metric columns (m,).
    """
    if not isinstance(columns, Mapping) or "step" not in columns:
        got = sorted(columns) if isinstance(columns, Mapping) else type(columns).__name__
        raise ValueError(f"columns: expected a dict with a 'step' column and metric columns, got {got}")
    arrays = {k: np.asarray(v) for k, v in columns.items()}
    shapes = {k: a.shape for k, a in arrays.items()}
    if len(set(shapes.values())) > 1 or arrays["step"].ndim != 1:
        raise ValueError(f"columns: expected 1-D columns of one length, got shapes {shapes}")
    steps = arrays.pop("step").astype(np.float64)
    if np.any(~np.isfinite(steps)) or np.any(steps < 0) or np.any(steps != np.round(steps)):
        raise ValueError(f"columns: expected non-negative integral steps, got {steps.tolist()}")
    start = sinks.check_step(start, "start")
    for i, step in enumerate(steps):
        sinks.check_values({k: a[i] for k, a in arrays.items()}, "columns")
        sink.scalars(start + int(step), {k: float(a[i]) for k, a in arrays.items()}, run)


def log_losses(
    sink: Sink, losses: Any, start: int = 0, run: str | None = None, *, tag: str = "loss", every: int = 1
) -> None:
    """Per-step losses (steps,): ``scalars(start + t, {tag: losses[t]}, run)`` for t = 0, every, 2 every,
    ... and the last step (every t by default).

    Each point costs tensorboardX about 0.1 ms, so the whole curve of a long run costs seconds; TensorBoard
    shows 1,000 points of a curve by default, which ``every = steps // 1000`` keeps.
    """
    a = to_host(losses)
    if a.ndim != 1 or not checks.is_real(a.dtype):
        raise ValueError(
            f"losses: expected a (steps,) array of real numbers, got shape {a.shape} dtype {a.dtype}"
        )
    start = sinks.check_step(start, "start")
    every = checks.check_positive_int(every, "every")
    sinks.check_tag(tag)
    values = a.astype(np.float64).tolist()
    for t in [*range(0, len(values) - 1, every), len(values) - 1][: len(values)]:
        sink.scalars(start + t, {tag: values[t]}, run)


def log_sweep(sink: Sink, result: SweepResult, *, losses: bool = True, history: bool = True) -> None:
    """Every model of a sweep under its run ``"<configuration>/seed<j>"`` and every configuration's
    hyperparameters (``names``).

    Per model (i_1, ..., i_k, j) of group g: its per-step ``loss`` (``groups[g].losses[i, j]``, from the
    sweep's first step) and, with ``sweep(log=Logging(...))``, its history (``train_loss``, ``val_loss``,
    ``val_accuracy``, ...). Per configuration: ``hparams(configuration, values, {"final/<m>": mean over
    seeds of metrics[m], "final/diverged": diverged seeds}, step=result.step)``, where values are
    ``result.configuration(g, i)`` but its functions (sizes, activation, axes, settings).

    Args:
      losses, history: whether to write the per-step losses and the histories (False when a callback
        already logged them during the sweep).
    """
    if not isinstance(result, SweepResult):
        raise TypeError(f"result: expected a funcmlp.SweepResult, got {type(result).__name__}")
    groups = [(g.sizes, g.activation) for g in result.groups]
    runs = names.seed_runs(result.axes, result.seeds, groups)
    configs = names.config_names(result.axes, groups)
    first = result.step - result.groups[-1].losses.shape[-1]
    for g, group in enumerate(result.groups):
        curves = to_host(group.losses) if losses else None
        metrics = {k: to_host(v) for k, v in group.metrics.items()}
        diverged = to_host(group.diverged_at) >= 0
        for index in np.ndindex(*result.shape):
            for j in range(result.seeds):
                at = (*index, j)
                if curves is not None:
                    log_losses(sink, curves[at], start=first, run=runs[g][at])
                if history and group.history is not None:
                    log_history(sink, model_history(group.history, at), run=runs[g][at])
            final = {f"final/{k}": _mean(v[index]) for k, v in metrics.items()}
            final["final/diverged"] = float(np.sum(diverged[index]))
            config = {k: v for k, v in result.configuration(g, index).items() if not callable(v)}
            sink.hparams(configs[g][index], config, final, step=result.step)


def _mean(values: np.ndarray) -> float:
    finite = np.asarray(values, np.float64)[~np.isnan(values)]
    return float(finite.mean()) if finite.size else math.nan


def log_figures(sink: Sink, directory: str | os.PathLike, step: int = 0, run: str | None = None) -> list[str]:
    """Every PNG file of a run directory as an image ``figures/<file name>`` at ``step``; returns the tags."""
    path = Path(directory)
    if not path.is_dir():
        raise ValueError(f"directory: expected a run directory, got {str(directory)!r}")
    tags = []
    for png in sorted(path.glob("*.png")):
        tags.append(f"figures/{png.stem}")
        sink.image(tags[-1], png, step, run)
    return tags


def train_callback(
    sink: Sink, *, run: str | None = None, start: int = 0, tag: str = "loss", then: Callable | None = None
) -> Callable[[Report], Any]:
    """``funcmlp.train(..., callback=fn)`` (and ``train_logged``): after each chunk, the chunk's last loss
    ``scalars(start + report.step - 1, {tag: report.loss}, run)``, then ``then(report)`` (e.g. a progress
    bar), whose answer it returns (True stops training).

    Args:
      start: the run's first global step (``train(start_step=...)``).
    """
    start = sinks.check_step(start, "start")
    sinks.check_tag(tag)

    def callback(report: Report):
        sink.scalars(start + report.step - 1, {tag: report.loss}, run)
        return None if then is None else then(report)

    return callback


def history_callback(
    sink: Sink, *, run: str | None = None, start: int = 0, then: Callable | None = None
) -> Callable[[int, dict[str, float]], Any]:
    """``funcmlp.history.train_logged(..., on_log=fn)``: each logged row ``scalars(start + step, row, run)``
    (``train_loss``, ``val_loss``, ``val_accuracy``, ...), then ``then(step, row)``."""
    start = sinks.check_step(start, "start")

    def on_log(step: int, row: dict[str, float]):
        sink.scalars(start + step, row, run)
        return None if then is None else then(step, row)

    return on_log


def sweep_callback(
    sink: Sink,
    *,
    axes: Mapping[str, Sequence[Any]],
    seeds: int,
    groups: Sequence[tuple[Sequence[int], str]],
    start: int = 0,
    tag: str = "loss",
    then: Callable | None = None,
) -> Callable[[Report], Any]:
    """``funcmlp.sweep(..., callback=fn)``: after each chunk of group g = ``report.group``, every model's
    last loss ``scalars(start + report.step - 1, {tag: report.loss[i, j]}, "<configuration>/seed<j>")``,
    then ``then(report)``, whose answer it returns. Nothing is logged where ``report.loss`` is None (models
    on another process).

    Args:
      axes, seeds, groups: the sweep's axes (``funcmlp.sweeps.axes.grid_of(learning_rates, hyperparams,
        l2, optimizer).axes``), seeds and (sizes, activation name) groups, as ``names.seed_runs`` takes
        them; ``log_sweep`` of the result uses the same run names.
      start: the sweep's first global step (``start.step`` when it continues a sweep).
    """
    runs = names.seed_runs(axes, seeds, groups)
    start = sinks.check_step(start, "start")
    sinks.check_tag(tag)

    def callback(report: Report):
        group, steps_done, losses = report.group, report.step, report.loss
        if losses is not None:
            if np.shape(losses) != runs[group].shape:
                raise ValueError(
                    f"losses: expected shape {runs[group].shape} (*grid, seeds), got {np.shape(losses)}"
                )
            for at in np.ndindex(*runs[group].shape):
                sink.scalars(start + steps_done - 1, {tag: float(losses[at])}, runs[group][at])
        return None if then is None else then(report)

    return callback
