"""``train_logged``: ``train`` with loss and accuracy measured every few steps (a ``History``), as a run's
metrics.csv holds them, and ``chunk_size``, the interval that logs about 50 times.

The measurements are made on the parameters theta_t reached at the logged steps, in one more compiled call
each; training itself is one ``funcmlp.training.train_chunks`` loop in chunks of about a quarter second
(``funcmlp.chunking``), so the result equals ``train``'s with those chunks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from funcmlp import activations, checks, chunking, early_stopping, engine, heads, options
from funcmlp.mlp import Params, loss, validate
from funcmlp.options import Logging, Report
from funcmlp.training import TrainResult, report_of, result_of, train_chunks

DEFAULT_UPDATES = 50
MIN_CHUNK = 100


def chunk_size(steps: int, *, updates: int = DEFAULT_UPDATES, min_chunk: int = MIN_CHUNK) -> int:
    """Steps per compiled chunk so that a run of ``steps`` reports about ``updates`` times.

    The chunks are as even as possible (the last chunk, padded with no-op steps, wastes fewer than
    ``updates`` steps) and never shorter than ``min_chunk`` steps, so that the per-chunk cost (a dispatch
    and a device-to-host copy of one loss) stays small next to the chunk's work.

    Returns:
      c with 1 <= c <= steps: ``train(..., chunk_size=c)`` runs ceil(steps / c) chunks.
    """
    steps = checks.check_positive_int(steps, "steps")
    updates = checks.check_positive_int(updates, "updates")
    min_chunk = checks.check_positive_int(min_chunk, "min_chunk")
    n = max(1, min(updates, steps // min_chunk))
    return math.ceil(steps / n)


class History(NamedTuple):
    """Metrics at the logged steps t_0 = 0 < t_1 < ... < t_m = steps, measured on the parameters theta_t.

    Attributes:
      columns: name -> (m + 1,) float64 values; always ``step`` and ``train_loss``, then
        ``train_accuracy`` for classification heads, and ``<name>_loss`` / ``<name>_accuracy`` for every
        evaluation set, then one per ``metrics`` value. Losses are the mean data loss (1/n) sum_i l(z^L_i,
        y_i), without the L2 term.
      early_stop: with ``train_logged(..., log=Logging(patience=N))``, the
        ``funcmlp.early_stopping.EarlyStop`` (best and stopped steps); None without.
    """

    columns: dict[str, np.ndarray]
    early_stop: early_stopping.EarlyStop | None = None


@partial(jax.jit, static_argnames=("act_fn", "head"))
def _evaluate(params: Params, sets, *, act_fn, head):
    return engine.evaluate(params, sets, act_fn=act_fn, head=head)


def train_logged(
    params: Params,
    x: jax.Array,
    y: jax.Array,
    *,
    optimizer: Any,
    steps: int,
    evaluate: dict[str, tuple[Any, Any]] | None = None,
    log: Logging | None = None,
    callback: Callable[[Report], Any] | None = None,
    on_log: Callable[[int, dict[str, float]], None] | None = None,
    **train_kw: Any,
) -> tuple[TrainResult, History]:
    """``train`` with loss and accuracy measured every ``log.every`` steps.

    It is one ``train(..., chunk_size=c)`` call (one compiled program for every chunk), so the result is
    the same as without logging; c divides ``log.every`` and holds about a quarter second of work
    (``funcmlp.chunking.short_chunk``), so ``callback`` runs that often however long the run. After each
    ``log.every`` steps the current parameters are evaluated on the training data and on every ``evaluate``
    set in one more compiled call.

    Args:
      params, x, y, optimizer, steps, **train_kw: as for ``train`` (activation, head, hyperparams, ...).
      evaluate: sets to measure beside the training rows, e.g. ``{"val": (x_val, y_val)}`` (empty sets are
        skipped); ``"val"`` is the set early stopping watches.
      log: ``funcmlp.Logging(every, patience, metrics)`` (``funcmlp.options``), as ``funcmlp.sweep``'s:
        rows every ``every`` steps (default about 50 rows), early stopping after ``patience`` rows without
        improvement on ``"val"`` (the parameters of the best row are returned; the losses and history end at
        the stopped step, the optimizer state is the stopped step's), ``metrics`` a column each.
      callback: ``callback(report)`` after each chunk (``funcmlp.Report``: step, steps, loss), e.g. a
        ``Progress``; when it returns True, training stops there (an interrupted run): the history ends
        with a row at that step.
      on_log: ``on_log(step, row)`` after each logged row, the row's values on the host (one more
        synchronisation per chunk), e.g. ``Progress.logged``.

    Returns:
      ``(TrainResult, History)``: the history has a row at step 0, every ``log.every`` steps and at the
      last step; after a divergence at step t it ends with the row after t (the parameters stay those of
      step t - 1).
    """
    options.check_moved("train_logged", {k: v for k, v in train_kw.items() if k in options.MOVED})
    steps = checks.check_positive_int(steps, "steps")
    log = options.check_logging(log, has_val=True)
    every, patience, metrics = log_interval(steps, log.every), log.patience, log.metrics
    head = train_kw.get("head", "softmax")
    sizes = validate(params, x, y, head=head)
    work = chunking.step_work(sizes, train_kw.get("batch_size") or np.shape(x)[0])
    length = min(chunking.short_chunk(every, work), steps)
    sets = _logged_sets(params, x, y, evaluate, head)
    stopper = _stopper(patience, sets)
    checks.check_callback(callback)
    if on_log is not None and not callable(on_log):
        raise TypeError(f"on_log: expected None or a function on_log(step, row), got {on_log!r}")
    rec = _Recorder(sets, train_kw, stopper, on_log, metrics)
    chunks = train_chunks(params, x, y, optimizer=optimizer, steps=steps, chunk_size=length, **train_kw)
    result = _train_recorded(rec, chunks, steps=steps, every=every, callback=callback)
    if stopper is not None:  # the best row's parameters
        result = result._replace(params=stopper.best_params)
    columns = _columns(rec, every=every, diverged_at=int(result.diverged_at))
    return result, History(columns, None if stopper is None else stopper.result(steps))


def log_interval(steps: int, every: int | None) -> int:
    """The steps between logged rows: ``every`` (``Logging.every``, checked by ``options.check_logging``);
    by default ``chunk_size(steps)`` rounded up to two significant digits (about 50 rows)."""
    return chunking.round_interval(chunk_size(steps)) if every is None else every


def _stopper(patience: int | None, sets: dict) -> early_stopping.EarlyStopping | None:
    """The early stopper of ``patience`` logged rows on the ``"val"`` set, or None without ``patience``."""
    if patience is None:
        return None
    stopper = early_stopping.EarlyStopping(patience)
    if early_stopping.MONITOR not in sets:
        raise ValueError(
            "log.patience: expected a non-empty validation set evaluate={'val': (x, y)}, got none"
        )
    return stopper


def _logged_sets(params: Params, x, y, evaluate, head: str) -> dict[str, tuple[jax.Array, jax.Array]]:
    """The sets each logged row measures: ``"train"``, then every non-empty ``evaluate`` set, validated."""
    sets = {"train": (jnp.asarray(x), jnp.asarray(y))}
    for name, (xs, ys) in (evaluate or {}).items():
        if np.shape(xs)[0] > 0:
            validate(params, xs, ys, head=head)
            sets[name] = (jnp.asarray(xs), jnp.asarray(ys))
    return sets


@partial(jax.jit, static_argnames=("fn", "activation", "head"))
def _metrics(params, opt_state, step, x, y, l2, *, fn, activation, head) -> dict[str, jax.Array]:
    """``fn`` of the parameters and dJ/dtheta (the loss plus L2 on all of x, y), with the optimizer state,
    the step and (x, y) when it takes five arguments (``checks.check_metrics``)."""
    grads = jax.grad(lambda p: loss(p, x, y, activation=activation, head=head, l2=l2))(params)
    args = (params, grads, opt_state, step, (x, y)) if checks.check_metrics(fn) else (params, grads)
    return dict(fn(*args))


class _Recorder:
    """The logged rows of a run: ``(step, (evaluations, metrics))`` pairs that stay on the device (fetched
    once at the end) unless an early stopper or ``on_log`` watches them."""

    def __init__(self, sets, train_kw, stopper, on_log, metrics) -> None:
        checks.check_metrics(metrics)
        self.sets, self.stopper, self.on_log, self.metrics = sets, stopper, on_log, metrics
        self.activation, self.head = train_kw.get("activation", "relu"), train_kw.get("head", "softmax")
        self.act_fn, self.hd = activations.get(self.activation).fn, heads.get(self.head)
        self.l2 = train_kw.get("l2", 0.0)
        self.logged: list[tuple[int, Any]] = []

    def __call__(self, t: int, state) -> bool:
        """Measure the parameters (and ``metrics``) of step ``t``; True when the early stopper asks to stop."""
        p, extra = state.params, {}
        if self.metrics is not None:
            (x, y), kw = self.sets["train"], dict(fn=self.metrics, activation=self.activation, head=self.head)
            extra = _metrics(p, state.opt_state, np.int32(t), x, y, self.l2, **kw)
        evals = _evaluate(p, tuple(self.sets.values()), act_fn=self.act_fn, head=self.hd)
        self.logged.append((t, (evals, extra)))
        if self.stopper is None and self.on_log is None:
            return False
        row = _row(self.sets, jax.device_get(self.logged[-1][1]), self.hd)
        if self.on_log is not None:
            self.on_log(t, row)
        return self.stopper is not None and self.stopper.update(t, row, p)


def _train_recorded(record: _Recorder, chunks, *, steps: int, every: int, callback) -> TrainResult:
    """Run ``chunks`` (``train_chunks``' iterator), recording step 0, every ``every`` steps and the last step,
    until the end, the early stopper or ``callback`` stops it (then also recording the stopped step)."""
    record(0, chunks.start)
    losses_so_far = chunking.Losses()
    for done, state, losses in chunks:
        losses_so_far.append(losses)
        stop = record(done, state) if done % every == 0 or done == steps else False
        halt = callback is not None and callback(report_of(done, steps, losses)) is True
        if halt and done % every and done < steps:  # a row where it was stopped
            record(done, state)
        if stop or halt:
            break
    return result_of(state, losses_so_far, min(done, steps))


def _columns(record: _Recorder, *, every: int, diverged_at: int) -> dict[str, np.ndarray]:
    """The history's columns from the recorded rows; after a divergence at step ``diverged_at`` >= 0 only
    the rows up to the end of the chunk that diverged."""
    logged = record.logged
    if diverged_at >= 0:
        logged = [(t, e) for t, e in logged if t - every <= diverged_at]
    columns: dict[str, list[float]] = {"step": [t for t, _ in logged]}
    for _, evals in jax.device_get(logged):
        for k, v in _row(record.sets, evals, record.hd).items():
            columns.setdefault(k, []).append(v)
    return {k: np.asarray(v, np.float64) for k, v in columns.items()}


def _row(sets: dict[str, tuple[Any, Any]], measured, hd) -> dict[str, float]:
    """One logged row, ``<set>_loss`` (and ``<set>_accuracy``) per set, then the ``metrics`` columns, from
    the recorder's host values (``_evaluate``'s and ``_metrics``')."""
    evals, extra = measured
    row = {}
    for (name, (xs, _)), (value, correct) in zip(sets.items(), evals, strict=True):
        row[f"{name}_loss"] = float(value)
        if hd.classifies:
            row[f"{name}_accuracy"] = int(correct) / xs.shape[0]
    return row | {k: float(v) for k, v in extra.items()}
