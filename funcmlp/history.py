"""``train_logged``: ``train`` with loss and accuracy measured after every chunk of steps (a ``History``),
as a run's metrics.csv holds them, and ``chunk_size``, the chunk length that reports about 50 times.

The measurements are made on the parameters the chunk reached, theta_t, in one more compiled call per
chunk; training itself is one ``funcmlp.training.train_chunks`` loop, so the result equals ``train``'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from funcmlp import activations, checks, engine, heads
from funcmlp.mlp import Params, validate
from funcmlp.training import TrainResult, result_of, train_chunks

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
        evaluation set. Losses are the mean data loss (1/n) sum_i l(z^L_i, y_i), without the L2 term.
    """

    columns: dict[str, np.ndarray]


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
    log_every: int | None = None,
    evaluate: dict[str, tuple[Any, Any]] | None = None,
    callback: Callable[[int, float], None] | None = None,
    **train_kw: Any,
) -> tuple[TrainResult, History]:
    """``train`` in chunks of ``log_every`` steps, measuring loss and accuracy after each chunk.

    It is one ``train(..., chunk_size=log_every)`` call (one compiled program for every chunk), so the
    result is the same as without logging; after each chunk the current parameters are evaluated on the
    training data and on every ``evaluate`` set in one more compiled call.

    Args:
      params, x, y, optimizer, steps, **train_kw: as for ``train`` (activation, head, hyperparams, ...).
      log_every: steps between logged rows; default ``chunk_size(steps)`` (about 50 rows).
      evaluate: extra sets to measure, e.g. ``{"val": (x_val, y_val)}`` (empty sets are skipped).
      callback: ``callback(steps_done, last_loss)`` after each chunk, e.g. a ``Progress``.

    Returns:
      ``(TrainResult, History)``: the history has a row at step 0 and after each chunk; after a divergence
      at step t it ends with the chunk that holds t (the parameters stay those of step t - 1).
    """
    steps = checks.check_positive_int(steps, "steps")
    every = chunk_size(steps) if log_every is None else checks.check_positive_int(log_every, "log_every")
    head = train_kw.get("head", "softmax")
    validate(params, x, y, head=head)
    sets = {"train": (jnp.asarray(x), jnp.asarray(y))}
    for name, (xs, ys) in (evaluate or {}).items():
        if np.shape(xs)[0] > 0:
            validate(params, xs, ys, head=head)
            sets[name] = (jnp.asarray(xs), jnp.asarray(ys))
    act_fn, hd = activations.get(train_kw.get("activation", "relu")).fn, heads.get(head)
    logged: list[tuple[int, Any]] = []

    def record(t: int, p: Params) -> None:  # stays on the device; fetched once at the end
        logged.append((t, _evaluate(p, tuple(sets.values()), act_fn=act_fn, head=hd)))

    checks.check_callback(callback)
    record(0, params)
    chunks = []
    for chunk in train_chunks(
        params, x, y, optimizer=optimizer, steps=steps, chunk_size=min(every, steps), **train_kw
    ):
        done, state, losses = chunk
        chunks.append(losses)
        record(done, state.params)
        if callback is not None:
            callback(done, float(losses[(done - 1) % losses.shape[0]]))
    result = result_of(state, chunks, steps)
    diverged_at = int(result.diverged_at)
    if diverged_at >= 0:  # keep the rows up to the end of the chunk that diverged
        logged = [(t, e) for t, e in logged if t - every <= diverged_at]
    columns: dict[str, list[float]] = {"step": [t for t, _ in logged]}
    for _, evals in jax.device_get(logged):
        for (name, (xs, _)), (loss, correct) in zip(sets.items(), evals, strict=True):
            columns.setdefault(f"{name}_loss", []).append(float(loss))
            if hd.classifies:
                columns.setdefault(f"{name}_accuracy", []).append(int(correct) / xs.shape[0])
    return result, History({k: np.asarray(v, np.float64) for k, v in columns.items()})
