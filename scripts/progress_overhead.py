"""Throughput cost of progress reporting, against ``train`` in one compiled call without any reporting:

* chunks + bar: ``train(..., callback=Progress(...), chunk_size=chunk_size(steps))``;
* logged + bar: ``progress.train_logged`` (the same chunks, plus loss and accuracy on the training and a
  validation set after each), what ``funcmlp train`` runs for the model it keeps.

    python scripts/progress_overhead.py --steps 5000 50000 --repeats 9

Every variant is compiled first; then each repeat runs the three back to back, and the table shows the median
time of each and the median over repeats of the ratio to the plain call (pairs close in time share the load
of the machine, so the ratio is steadier than the times). The bar renders into memory as if on a
terminal, with its default delay: it appears once the run has gone on for a second after its first chunk,
as in ``funcmlp train``.
"""

from __future__ import annotations

import dataclasses
import io
import statistics
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
    steps: tuple[int, ...] = (5000, 50000)
    """Optimizer steps per run (one row per value and network)."""
    repeats: int = 15
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
    table = Table(
        title=f"Cost of progress reporting ({jax.default_backend()}, medians of {opt.repeats} repeats)"
    )
    cols = (
        "network",
        "steps",
        "chunks",
        "one call (s)",
        "chunks + bar (s)",
        "cost",
        "logged + bar (s)",
        "cost",
    )
    for col in cols:
        table.add_column(col, justify="right")
    for h in opt.hidden:
        for steps in opt.steps:
            params = funcmlp.init_params(jax.random.key(1), (2, h, 3))
            kw = dict(optimizer=sgd, steps=steps, batch_size=opt.batch_size, key=jax.random.key(2))
            chunk = progress.chunk_size(steps)

            def plain(params=params, kw=kw):
                return funcmlp.train(params, x, y, **kw).params

            def with_bar(params=params, kw=kw, chunk=chunk, steps=steps):
                console = Console(file=io.StringIO(), force_terminal=True, width=100)
                with progress.Progress(steps, console=console) as bar:
                    return funcmlp.train(params, x, y, **kw, callback=bar, chunk_size=chunk).params

            def logged(params=params, kw=kw, steps=steps):
                console = Console(file=io.StringIO(), force_terminal=True, width=100)
                with progress.Progress(steps, console=console) as bar:
                    val = {"val": (x_val, y_val)}
                    return progress.train_logged(params, x, y, **kw, evaluate=val, callback=bar)[0].params

            variants = (plain, with_bar, logged)
            times = {f: [] for f in variants}
            for f in variants:  # compile
                _time(f)
            for _ in range(opt.repeats):
                for f in variants:
                    times[f].append(_time(f))
            ta, tb, tc = (statistics.median(times[f]) for f in variants)
            # each repeat runs the three back to back: the median of their ratios cancels slow drifts in load
            rb, rc = (
                statistics.median(t / a for t, a in zip(times[f], times[plain], strict=True))
                for f in variants[1:]
            )
            row = [f"2-{h}-3", str(steps), f"{-(-steps // chunk)} x {chunk}", f"{ta:.3f}"]
            row += [f"{tb:.3f}", f"{rb - 1:+.1%}", f"{tc:.3f}", f"{rc - 1:+.1%}"]
            table.add_row(*row)
    Console(width=120).print(table)


if __name__ == "__main__":
    main(tyro.cli(Options))
