"""Throughput cost of progress reporting, against ``train`` in one compiled call without any reporting:

* chunks + bar: ``train(..., callback=Progress(...), chunk_size=chunk_size(steps))``;
* logged: ``progress.train_logged`` (segments, loss and accuracy on the training and a validation set after
  each, and the bar), what ``funcmlp train`` runs.

    python scripts/progress_overhead.py --steps 5000 --repeats 9

Every variant is compiled first; then they alternate, and the table shows the best time of each (the least disturbed by other processes) and the ratio
to the plain call (the bar renders into memory as if on a terminal, so drawing is included).
"""

from __future__ import annotations

import dataclasses
import io
import time

import jax
import optax
import tyro
from rich.console import Console
from rich.table import Table

import funcmlp
from funcmlp import progress


@dataclasses.dataclass(frozen=True)
class Options:
    steps: int = 5000
    """Optimizer steps per run."""
    repeats: int = 7
    """Timed runs of each variant (alternating)."""
    hidden: tuple[int, ...] = (4, 100)
    """Hidden widths to measure (one network per width: 2 -> h -> 3 on the 300-point spiral)."""
    batch_size: int | None = None
    """Mini-batch size; omit for full-batch gradient descent."""


def _time(fn) -> float:
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - t0


def main(opt: Options) -> None:
    x, y = funcmlp.data.spiral(jax.random.key(0))
    x_val, y_val = funcmlp.data.spiral(jax.random.key(1))
    sgd = optax.sgd(1.0)
    chunk = progress.chunk_size(opt.steps)
    table = Table(
        title=f"Progress reporting cost, {opt.steps} steps, chunks of {chunk} ({jax.default_backend()})"
    )
    for col in ("network", "one call (s)", "chunks + bar (s)", "cost", "logged + bar (s)", "cost"):
        table.add_column(col, justify="right")
    for h in opt.hidden:
        params = funcmlp.init_params(jax.random.key(1), (2, h, 3))
        kw = dict(optimizer=sgd, steps=opt.steps, batch_size=opt.batch_size, key=jax.random.key(2))

        def plain(params=params, kw=kw):
            return funcmlp.train(params, x, y, **kw).params

        def with_bar(params=params, kw=kw):
            console = Console(file=io.StringIO(), force_terminal=True, width=100)
            with progress.Progress(opt.steps, console=console, delay=0.0) as bar:
                return funcmlp.train(params, x, y, **kw, callback=bar, chunk_size=chunk).params

        def logged(params=params, kw=kw):
            console = Console(file=io.StringIO(), force_terminal=True, width=100)
            with progress.Progress(opt.steps, console=console, delay=0.0) as bar:
                result, _ = progress.train_logged(
                    params, x, y, **kw, evaluate={"val": (x_val, y_val)}, callback=bar
                )
                return result.params

        variants = (plain, with_bar, logged)
        times = {f: [] for f in variants}
        for f in variants:  # compile
            _time(f)
        for _ in range(opt.repeats):
            for f in variants:
                times[f].append(_time(f))
        ta, tb, tc = (min(times[f]) for f in variants)  # best of n: least disturbed by other processes
        table.add_row(
            f"2-{h}-3", f"{ta:.4f}", f"{tb:.4f}", f"{tb / ta - 1:+.1%}", f"{tc:.4f}", f"{tc / ta - 1:+.1%}"
        )
    Console().print(table)


if __name__ == "__main__":
    main(tyro.cli(Options))
