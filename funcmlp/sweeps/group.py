"""The loop of one sweep group: compiled chunks of steps for every model, a logged row of every model's
curves at the logged steps (``funcmlp.sweeps.curves``), the caller's callback between chunks.

Chunk c runs global steps first + c k .. first + (c + 1) k - 1 of every model in one call of
``programs.train_steps`` (k = ``length``); with ``log_every`` the chunk length divides it, so every logged
step ends a chunk. A callback that returns True, or patience run out for every model, ends the loop there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from funcmlp import checks
from funcmlp.chunking import Losses
from funcmlp.sweeps import programs
from funcmlp.sweeps.curves import Curves


class Schedule(NamedTuple):
    """When a group's loop stops for the host: ``steps`` in chunks of ``length`` from global step ``first``,
    a logged row every ``log_every`` steps (None: no curves)."""

    first: int
    steps: int
    length: int
    log_every: int | None


def schedule(first: int, steps: int, chunk_size: int | None, log_every: int | None) -> Schedule:
    """The chunk length: ``chunk_size`` (default all the steps), cut down to a divisor of ``log_every``."""
    length = steps if chunk_size is None else min(checks.check_positive_int(chunk_size, "chunk_size"), steps)
    if log_every is not None:
        every = checks.check_positive_int(log_every, "log_every")
        length = max(d for d in range(1, min(length, every) + 1) if every % d == 0)
    return Schedule(first, steps, length, log_every)


class Outcome(NamedTuple):
    """A group's loop: the final state, the chunks' losses, the steps done and whether a callback stopped it."""

    carry: Any
    chunks: Losses
    done: int
    stopped: bool


def run_group(
    carry,
    data: tuple[Any, ...],
    plan: Schedule,
    *,
    cfg: programs.Static,
    curves: Curves | None,
    report: Callable[[int, Any], bool] | None,
) -> Outcome:
    """Train every model of the group for ``plan.steps`` steps (``data``: x, y, batch key, l2).

    ``report(done, losses)`` after each chunk (``losses``: the chunk's (C_pad, S_pad, k) array) returns True
    to stop there; ``curves`` logs a row at ``plan.first``, at every logged step, at the end and where the
    loop stopped."""
    first, steps, length, every = plan
    if curves is not None:
        curves.log(first, carry.params)
    chunks, done, stopped = Losses(), 0, False
    for c in range(math.ceil(steps / length)):
        begin, end = jnp.int32(first + c * length), jnp.int32(first + steps)
        carry, losses = programs.train_steps(carry, *data, begin, end, cfg=cfg, length=length)
        chunks.append(losses)
        done = min(steps, (c + 1) * length)
        patience_out = False
        if curves is not None and ((first + done) % every == 0 or done == steps):
            patience_out = curves.log(first + done, carry.params)
        stopped = report is not None and report(done, losses) is True
        if stopped and curves is not None:
            curves.log(first + done, carry.params)
        if stopped or patience_out:
            break
    return Outcome(carry, chunks, done, stopped or done < steps)


def last_losses(losses, done: int, length: int, grid_shape: tuple[int, ...], size: int, seeds: int):
    """Every model's loss at its last step so far, (*grid shape, seeds) on the host; None when some models
    live on another process."""
    if not losses.is_fully_addressable:
        return None
    last = np.asarray(losses[:, :, (done - 1) % length])[:size, :seeds]
    return last.reshape(*grid_shape, seeds)
