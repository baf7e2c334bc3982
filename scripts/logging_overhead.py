"""Cost of logging a run to TensorBoard at chunk boundaries, on a run of about 3 seconds:

* chunks vs chunks + TensorBoard: ``funcmlp.train(..., chunk_size=chunk_size(steps))`` without and with
  ``callback=tracking.train_callback(sink)`` (each chunk's last loss);
* logged vs logged + TensorBoard: ``train_logged`` with a validation set (what ``funcmlp train`` runs)
  without and with the chunk losses and every logged row (``history_callback``) in the sink;
* after the run: ``tracking.log_losses`` of every step's loss, timed alone, against the chunked run.

    python scripts/logging_overhead.py --seconds 3 --repeats 7

The sink is made and closed inside each timed run (its event files written to a temporary directory).
Every variant is compiled first; each repeat runs the variants back to back, and the cost is the median
over repeats of the ratio to the run without the sink (pairs close in time share the machine's load).
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time

import jax
import optax
import tyro
from rich.console import Console
from rich.table import Table

import funcmlp
from funcmlp import tracking
from funcmlp.history import chunk_size, train_logged


@dataclasses.dataclass(frozen=True)
class Options:
    seconds: float = 3.0
    """Length of the run without logging (the steps are fitted to it)."""
    repeats: int = 7
    """Timed runs of each variant (alternating)."""
    hidden: int = 100
    """Hidden width: 2 -> h -> 3 on the 300-point spiral, full batch."""


def _time(fn) -> float:
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - t0


def main(opt: Options) -> None:
    x, y = funcmlp.data.spiral(jax.random.key(0))
    val = {"val": funcmlp.data.spiral(jax.random.key(1))}
    params = funcmlp.init_params(jax.random.key(1), (2, opt.hidden, 3))
    kw = dict(optimizer=optax.sgd(1.0), steps=2000)
    _time(lambda: funcmlp.train(params, x, y, **kw).params)
    per_step = min(_time(lambda: funcmlp.train(params, x, y, **kw).params) for _ in range(3)) / 2000
    steps = max(1000, round(opt.seconds / per_step))
    kw = dict(optimizer=optax.sgd(1.0), steps=steps)
    chunk = chunk_size(steps)

    def chunks(sink=None):
        fn = None if sink is None else tracking.train_callback(sink)
        return funcmlp.train(params, x, y, **kw, chunk_size=chunk, callback=fn)

    def logged(sink=None):
        fn = None if sink is None else tracking.train_callback(sink)
        on_log = None if sink is None else tracking.history_callback(sink)
        return train_logged(params, x, y, **kw, evaluate=val, callback=fn, on_log=on_log)[0]

    def with_sink(run, after=False):
        def timed():
            with tempfile.TemporaryDirectory() as d, tracking.TensorBoard(d) as sink:
                result = run(None) if after else run(sink)
                if after:
                    jax.block_until_ready(result.losses)
                    t0 = time.perf_counter()
                    tracking.log_losses(sink, result.losses)
                    timed.posthoc.append(time.perf_counter() - t0)
                return result.params

        timed.posthoc = []
        return timed

    variants = {
        "chunks": lambda: chunks().params,
        "chunks + TensorBoard": with_sink(chunks),
        "logged": lambda: logged().params,
        "logged + TensorBoard": with_sink(logged),
    }
    posthoc = with_sink(chunks, after=True)
    times = {name: [] for name in variants}
    for f in (*variants.values(), posthoc):  # compile
        _time(f)
    posthoc.posthoc.clear()
    for _ in range(opt.repeats):
        for name, f in variants.items():
            times[name].append(_time(f))
        _time(posthoc)
    _report(opt, steps, chunk, times, posthoc.posthoc)


def _report(
    opt: Options, steps: int, chunk: int, times: dict[str, list[float]], posthoc: list[float]
) -> None:
    title = (
        f"Cost of TensorBoard logging at chunk boundaries ({jax.default_backend()}, 2-{opt.hidden}-3, "
        f"{steps} steps in {-(-steps // chunk)} chunks of {chunk}, medians of {opt.repeats} repeats)"
    )
    table = Table(title=title)
    for col in ("run", "without (s)", "with TensorBoard (s)", "ratio", "cost"):
        table.add_column(col, justify="right")
    for base, name in (("chunks", "chunks + TensorBoard"), ("logged", "logged + TensorBoard")):
        ratio = statistics.median(t / b for t, b in zip(times[name], times[base], strict=True))
        row = (base, f"{statistics.median(times[base]):.3f}", f"{statistics.median(times[name]):.3f}")
        table.add_row(*row, f"{ratio:.4f}", f"{ratio - 1:+.2%}")
    after = statistics.median(posthoc)
    base = statistics.median(times["chunks"])
    table.add_row("every step's loss after the run", f"{base:.3f}", f"+{after:.3f}", f"{1 + after / base:.4f}",
                  f"{after / base:+.2%}")  # fmt: skip
    Console(width=140).print(table)


if __name__ == "__main__":
    main(tyro.cli(Options))
