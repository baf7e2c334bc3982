"""How long a compiled chunk of training steps is, and the chunks' losses kept as few arrays.

A training loop runs as compiled calls of ``length`` steps each; between two calls the host reports
progress, logs a row and checks whether it was asked to stop (``funcmlp.cli.interrupt``). A chunk should be
short enough that this happens about every quarter of a second, whatever the network and the number of
steps, and long enough that the cost of a call boundary (a dispatch and a host synchronisation, about
0.1 ms) stays small. ``short_chunk`` makes the chunk hold about ``CHUNK_WORK`` floating-point operations:

    work per step = 6 x samples per step x weights x models + STEP_OVERHEAD,
    length = the largest divisor of ``every`` that is at most CHUNK_WORK / (work per step) and that the
             engine runs as equal scans of at most ``engine.CHUNK`` steps (``even``), at least 1,

where 6 x samples x weights counts a forward and a backward pass and ``STEP_OVERHEAD`` stands for the fixed
cost of a step (its kernel launches), which dominates tiny networks. On a 2-core CPU (about 40 GFLOP/s on
the matrices of a step: 16 digits models of 64-128-10 on 256 rows ran 4 steps in 14 ms) a chunk takes
0.05-0.4 s; an accelerator runs it faster (with 1e9 operations a chunk, digits ran chunks of 4 steps and
spent a tenth of its training time between them). The rule depends on the run's shape only, never on a
clock, so a run is chunked the same way every time and gives the same numbers (a chunk's length can change
the last bits of float32 results). ``every`` is the interval of logged rows or progress
reports (``funcmlp.history.chunk_size``): a chunk that divides it ends exactly on every logged step, and
``round_interval`` gives the interval many divisors.

``Losses`` is a list of the chunks' loss arrays that joins every ``JOIN`` chunks of one shape into one, so a
run of thousands of chunks is still joined quickly at its end (one ``concatenate`` of thousands of arrays
takes minutes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp

from funcmlp import checks
from funcmlp.engine import CHUNK

CHUNK_WORK = 1e10  # floating-point operations per chunk: about 0.25 s on two CPU cores
STEP_OVERHEAD = 4e5  # the fixed cost of one step, counted as this many operations (about 10 us)
JOIN = 32  # Losses joins this many chunks of one shape into one array


def round_interval(every: int) -> int:
    """``every`` rounded up to two significant digits (101 -> 110, 2470 -> 2500; up to 100 unchanged), so
    that it has many divisors to cut chunks from."""
    every = checks.check_positive_int(every, "every")
    if every <= 100:
        return every
    unit = 10 ** (len(str(every)) - 2)
    return -(-every // unit) * unit


def step_work(sizes: Sequence[int] | Sequence[Sequence[int]], samples: int, models: int = 1) -> float:
    """Floating-point operations of one training step: 6 x samples x weights x models, plus the fixed
    ``STEP_OVERHEAD``. ``sizes``: the layer widths, or a list of them (the largest counts)."""
    groups = list(sizes) if isinstance(sizes[0], Sequence) else [sizes]
    weights = max(sum(int(a) * int(b) for a, b in zip(s[:-1], s[1:], strict=False)) for s in groups)
    return 6.0 * samples * weights * models + STEP_OVERHEAD


def short_chunk(every: int, work: float) -> int:
    """The largest divisor of ``every`` whose chunk holds at most ``CHUNK_WORK`` operations, given the
    ``work`` of one step (``step_work``), and that the engine cuts into equal inner chunks (``even``); at
    least 1, at most ``every``."""
    every = checks.check_positive_int(every, "every")
    most = max(1, int(CHUNK_WORK // max(float(work), 1.0)))
    if most >= every:
        return every
    best = 1
    for d in range(1, math.isqrt(every) + 1):
        if every % d == 0:
            for c in (d, every // d):
                if best < c <= most and even(c):
                    best = c
    return best


def even(length: int) -> bool:
    """Whether a compiled call of ``length`` steps runs as equal scans of at most ``engine.CHUNK`` steps:
    otherwise its last scan reaches past the call's end and runs the slower careful steps (``engine.run``;
    ``engine.run_fast`` says such a call is not clean)."""
    return length % -(-length // CHUNK) == 0


class Losses(list):
    """The loss arrays of successive chunks (their last axis is the steps); every ``JOIN`` arrays of one
    shape in a row are joined into one as they come, so the list stays short. ``jnp.concatenate(losses,
    axis=-1)`` gives the whole history."""

    def append(self, losses: Any) -> None:
        super().append(losses)
        tail = self[-JOIN:]
        if len(tail) == JOIN and len({a.shape for a in tail}) == 1:
            self[-JOIN:] = [jnp.concatenate(tail, axis=-1)]
            if len(self) >= JOIN:  # joined blocks join in turn
                self.append(self.pop())
