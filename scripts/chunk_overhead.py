"""Cost of the short chunks of a long run (``funcmlp.chunking.short_chunk``), two ways.

* Measured per call boundary: ``--tiny`` steps in compiled calls of 10 steps, each followed by a progress
  report (a host synchronisation), against the same steps in one call; the difference per call is the cost
  of a boundary, and its ratio to the time of one short chunk (the length a ``--long-run``-step run gets,
  times the time per step of the one call) is the overhead of the rule. Robust on a busy machine: the
  boundaries are many and each is timed against the same work.
* Timed directly: ``--chunks`` short chunks against the same steps in one call (median of the ratios of
  ``--repeats`` pairs run back to back); on a busy machine its noise (a few percent) hides the cost.

    python scripts/chunk_overhead.py

The rows are a 2-4-3 and a 2-100-3 network on the 300-point spiral, and ``funcmlp.sweep`` of 64 seeds of
the 2-4-3 network (the default ``funcmlp train``).
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
from funcmlp import chunking
from funcmlp.cli import progress


@dataclasses.dataclass(frozen=True)
class Options:
    repeats: int = 9
    """Timed runs of each variant (alternating)."""
    chunks: int = 12
    """Short chunks per directly timed run."""
    tiny: int = 500
    """Calls of 10 steps that measure the cost of a boundary."""
    long_run: int = 10_000_000
    """The --steps whose chunk length is measured."""


def _median_time(fn, repeats: int) -> float:
    jax.block_until_ready(fn())  # compile
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(opt: Options) -> None:
    x, y = funcmlp.data.spiral(jax.random.key(0))
    adam = optax.adam(0.03)  # one object: one compiled program per variant
    every = chunking.round_interval(progress.chunk_size(opt.long_run))
    table = Table(title=f"Cost of short chunks ({jax.default_backend()}, medians of {opt.repeats} repeats)")
    cols = ["network", "models", "chunk", "step (us)", "chunk (s)", "boundary (us)", "overhead"]
    cols += ["one call (s)", "chunks (s)", "timed cost"]
    for col in cols:
        table.add_column(col, justify="right")
    for sizes, models in (((2, 4, 3), 1), ((2, 100, 3), 1), ((2, 4, 3), 64)):
        length = chunking.short_chunk(every, chunking.step_work(sizes, x.shape[0], models))
        params = funcmlp.init_params(jax.random.key(1), sizes)

        def run(steps, chunk, sizes=sizes, models=models, params=params):
            console = Console(file=io.StringIO(), force_terminal=True)
            with progress.Progress(steps, console=console) as bar:
                report = None if chunk is None else bar  # one callback protocol: train's and sweep's
                if models == 1:
                    kw = {"optimizer": adam, "steps": steps, "chunk_size": chunk, "callback": report}
                    return funcmlp.train(params, x, y, **kw).params
                kw = {"sizes": sizes, "seeds": models, "learning_rates": [0.03], "steps": steps}
                kw |= {"optimizer": optax.adam, "chunk_size": chunk, "callback": report}
                return funcmlp.sweep(jax.random.key(2), x, y, **kw).groups[0].params

        n = 10 * opt.tiny
        whole, tiny = (_median_time(lambda c=c, n=n: run(n, c), opt.repeats) for c in (None, 10))
        boundary = (tiny - whole) / opt.tiny
        steps = opt.chunks * length
        one, chunked = (
            _median_time(lambda c=c, steps=steps: run(steps, c), opt.repeats) for c in (None, length)
        )
        step = one / steps
        row = ["-".join(map(str, sizes)), str(models), str(length), f"{step * 1e6:.1f}"]
        row += [f"{step * length:.3f}", f"{boundary * 1e6:.0f}", f"{boundary / (step * length):+.2%}"]
        row += [f"{one:.3f}", f"{chunked:.3f}", f"{chunked / one - 1:+.1%}"]
        table.add_row(*row)
    Console(width=160).print(table)


if __name__ == "__main__":
    main(tyro.cli(Options))
