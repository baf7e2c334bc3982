"""The command line's progress reporting: the bar of ``funcmlp.progress`` (re-exported here), and
``sweep_chunk``, the chunk length of a command-line sweep."""

from __future__ import annotations

from typing import Any

from funcmlp import chunking
from funcmlp.history import DEFAULT_UPDATES, MIN_CHUNK, History, chunk_size, train_logged
from funcmlp.progress import Progress, format_loss

__all__ = [
    "DEFAULT_UPDATES",
    "MIN_CHUNK",
    "History",
    "Progress",
    "chunk_size",
    "format_loss",
    "sweep_chunk",
    "train_logged",
]


def sweep_chunk(cfg: Any, sizes: Any, models: int, samples: Any) -> int:
    """Steps per compiled call of a command-line sweep of ``models`` models per group (``sizes``: a
    network's widths or a list of them) on ``samples``: a divisor of ``chunk_size(--steps)`` (rounded up to
    two significant digits) that takes about a quarter second (``chunking.short_chunk``)."""
    every = chunking.round_interval(chunk_size(cfg.steps))
    work = chunking.step_work(sizes, cfg.batch_size or len(samples.train[1]), models)
    return chunking.short_chunk(every, work)
