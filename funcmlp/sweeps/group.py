"""The loop of one sweep group: compiled chunks of steps for every model, a logged row of every model's
curves at the logged steps (``funcmlp.sweeps.curves``), the caller's callback between chunks.

Chunk c runs global steps first + c k .. first + (c + 1) k - 1 of every model in one call of
``programs.train_steps`` (k = ``length``); with ``log_every`` the chunk length divides it, so every logged
step ends a chunk. A callback that returns True, or patience run out for every model, ends the loop there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from funcmlp import checks
from funcmlp.chunking import Losses
from funcmlp.sweeps import programs
from funcmlp.sweeps.curves import Curves
from funcmlp.sweeps.halving import Ladder, Plan, block_size, counts


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
    """A group's loop: the final state, the chunks' losses, the steps done, whether a callback stopped it
    (which ends the sweep; early stopping ends only the group) and, with halving, the per-model record
    (``halving.Ladder.record``)."""

    carry: Any
    chunks: Losses
    done: int
    stopped: bool
    record: dict[str, Any] | None = None


def run_group(
    carry,
    data: tuple[Any, ...],
    plan: Schedule,
    *,
    cfg: programs.Static,
    curves: Curves | None,
    report: Callable[[int, Any], bool] | None,
    halving: Plan | None = None,
    val: tuple[Any, Any] | None = None,
) -> Outcome:
    """Train every model of the group for ``plan.steps`` steps (``data``: x, y, batch key, l2).

    ``report(done, losses)`` after each chunk (``losses``: the chunk's (C_pad, S_pad, k) array) returns True
    to stop there; ``curves`` logs a row at ``plan.first``, at every logged step, at the end and where the
    loop stopped. With ``halving`` (and the validation rows ``val``): ``run_halving``."""
    if halving is not None:
        return run_halving(carry, data, plan, cfg=cfg, curves=curves, report=report, halving=halving, val=val)
    first, steps, length, every = plan
    if curves is not None:
        curves.log(first, carry.params, carry.opt_state)
    chunks, done, stopped = Losses(), 0, False
    for c in range(math.ceil(steps / length)):
        begin, end = jnp.int32(first + c * length), jnp.int32(first + steps)
        carry, losses = programs.train_steps(carry, *data, begin, end, cfg=cfg, length=length)
        chunks.append(losses)
        done = min(steps, (c + 1) * length)
        patience_out = False
        if curves is not None and ((first + done) % every == 0 or done == steps):
            patience_out = curves.log(first + done, carry.params, carry.opt_state)
        stopped = report is not None and report(done, losses) is True
        if stopped and curves is not None:
            curves.log(first + done, carry.params, carry.opt_state)
        if stopped or patience_out:
            break
    return Outcome(carry, chunks, done, stopped)  # early stopping ends this group, not the sweep


def run_halving(carry, data, plan: Schedule, *, cfg, curves, report, halving: Plan, val) -> Outcome:
    """Successive halving (``funcmlp.sweeps.halving``): the configurations still training run to the next
    rung end in blocks (``halving.block_size``), the best go on, the last run to the end. Every chunk has
    the first rung's length (at most ``plan.length``), so one compiled program serves every rung; a segment
    whose length it does not divide ends with steps past the rung end, which the engine skips.

    The outcome is the whole grid's: each model's state and losses at the step it stopped (its last loss
    held after it), and ``report`` gets every model's last loss broadcast over ``plan.length`` steps. With
    ``curves`` (whose interval divides every rung end), each logged row measures the whole grid, a stopped
    model at its state where it stopped."""
    x, y, batch_key, l2 = data
    first, steps = plan.first, plan.steps
    ends = [e for e in halving.ends if first < e < first + steps]
    smallest = counts(halving.configs, len(ends), halving.keep)[-1]
    length = min(plan.length, (ends or [first + steps])[0] - first)  # one chunk length: one program
    ladder, begin, r, halted = Ladder(carry, l2, halving, first), first, 0, []
    if curves is not None:
        curves.log(first, carry.params, carry.opt_state)
    watch = partial(_watch, ladder=ladder, curves=curves, report=report, plan=plan, halted=halted)
    while True:
        final = r >= len(ends) or ladder.count == 1
        end = first + steps if final else ends[r]
        rows, states, l2s, block_cfg = ladder.blocks(block_size(cfg, smallest, ladder.count), cfg)
        segment = Schedule(begin, end - begin, length, None)
        after = partial(watch, segment=segment, rows=rows)
        blocks = (states, (x, y, batch_key), l2s)
        states, losses, done, stopped = run_blocks(*blocks, segment, block_cfg, after)
        ladder.absorb(rows, states, losses, begin + done)
        if stopped or final:
            return Outcome(
                ladder.full, Losses(ladder.losses()), begin - first + done, bool(halted), ladder.record()
            )
        ladder.prune(states, block_cfg, val, r)
        begin, r = end, r + 1


def _watch(done, losses, states, *, segment, rows, ladder, curves, report, plan: Schedule, halted: list):
    """After a chunk of a halving segment: log a row of the whole grid (the blocks' ``states`` in place) at
    a logged step, then ``report`` every model's last loss; True to stop, for the callback (noted in
    ``halted``) or for early stopping (patience run out for every model)."""
    at = segment.first + done
    logged = curves is not None and (at % plan.log_every == 0 or at == plan.first + plan.steps)
    ran_out = False
    if logged:
        full = ladder.peek(rows, states)
        ran_out = curves.log(at, full.params, full.opt_state)
    if report is None:
        return ran_out
    last = ladder.told(rows, losses, (done - 1) % segment.length)
    stop = report(at - plan.first, jnp.broadcast_to(last[..., None], (*last.shape, plan.length))) is True
    if stop:
        halted.append(True)
        if curves is not None and not logged:  # a row where the callback stopped it
            full = ladder.peek(rows, states)
            curves.log(at, full.params, full.opt_state)
    return stop or ran_out


def run_blocks(states: list, data, l2s: list, plan: Schedule, cfg, after):
    """``run_group``'s loop for blocks of models that share one compiled program: each chunk runs every
    block, then ``after(done, the blocks' chunk losses, the blocks' states)`` may stop it.

    Returns (states, losses (b, S_pad, done) per block, done, stopped)."""
    first, steps, length, _ = plan
    chunks, done, stopped = [Losses() for _ in states], 0, False
    for c in range(math.ceil(steps / length)):
        begin, end = jnp.int32(first + c * length), jnp.int32(first + steps)
        last = []
        for i, (state, l2) in enumerate(zip(states, l2s, strict=True)):
            states[i], losses = programs.train_steps(state, *data, l2, begin, end, cfg=cfg, length=length)
            chunks[i].append(losses)
            last.append(losses)
        done = min(steps, (c + 1) * length)
        stopped = after(done, last, states) is True
        if stopped:
            break
    joined = [jnp.concatenate(ch, axis=2) if len(ch) > 1 else ch[0] for ch in chunks]
    return states, [a if a.shape[2] == done else a[..., :done] for a in joined], done, stopped


def last_losses(losses, done: int, length: int, grid_shape: tuple[int, ...], size: int, seeds: int):
    """Every model's loss at its last step so far, (*grid shape, seeds) on the host; None when some models
    live on another process."""
    if not losses.is_fully_addressable:
        return None
    last = np.asarray(losses[:, :, (done - 1) % length])[:size, :seeds]
    return last.reshape(*grid_shape, seeds)
