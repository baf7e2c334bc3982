"""Cost of logging a run to TensorBoard at chunk boundaries, on a run of about 3 seconds:

* chunks vs chunks + TensorBoard: ``funcmlp.train(..., chunk_size=chunk_size(steps))`` without and with
  ``callback=tracking.train_callback(sink)`` (each chunk's last loss);
* logged vs logged + TensorBoard: ``train_logged`` with a validation set (what ``funcmlp train`` runs)
  without and with the chunk losses and every logged row (``history_callback``) in the sink;
* after the run: ``tracking.log_losses`` of every step's loss, against the chunked run.

The cost is measured twice: paired (the median over repeats of the ratio of the run with the sink to the
run without, timed back to back, in reverse order every other repeat), and as the sink's host work alone
(the same calls replayed into a fresh sink without training, made and closed in the timing, over the
time of the run without it): on a busy machine the first is noisy, the second is not.

    python scripts/logging_overhead.py --seconds 3 --repeats 7

The sink is made and closed inside each timed run (its event files written to a temporary directory);
every variant is compiled first.
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


class Recorder(tracking.sinks.Closing):
    """A sink that keeps the scalars it is given, to replay them into TensorBoard without training."""

    def __init__(self):
        self.calls = []

    def scalars(self, step, values, run=None):
        self.calls.append((step, dict(values), run))

    def hparams(self, run, hparams, metrics, step=0):
        pass

    def image(self, tag, image, step=0, run=None):
        pass

    def close(self):
        pass


def _replay(calls) -> float:
    """Seconds to make a TensorBoard sink, write ``calls`` and close it: the sink's host work alone."""
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        with tracking.TensorBoard(d) as sink:
            for call in calls:
                sink.scalars(*call)
        return time.perf_counter() - t0


def main(opt: Options) -> None:
    x, y = funcmlp.data.spiral(jax.random.key(0))
    val = {"val": funcmlp.data.spiral(jax.random.key(1))}
    params = funcmlp.init_params(jax.random.key(1), (2, opt.hidden, 3))
    kw = dict(optimizer=optax.sgd(1.0), steps=2000)
    _time(lambda: funcmlp.train(params, x, y, **kw).params)
    per_step = min(_time(lambda: funcmlp.train(params, x, y, **kw).params) for _ in range(3)) / 2000
    kw["steps"] = steps = max(1000, round(opt.seconds / per_step))
    chunk = chunk_size(steps)

    def chunks(sink=None):
        fn = None if sink is None else tracking.train_callback(sink)
        return funcmlp.train(params, x, y, **kw, chunk_size=chunk, callback=fn).params

    def logged(sink=None):
        fn = None if sink is None else tracking.train_callback(sink)
        on_log = None if sink is None else tracking.history_callback(sink)
        return train_logged(params, x, y, **kw, evaluate=val, callback=fn, on_log=on_log)[0].params

    def with_sink(run):
        def timed():
            with tempfile.TemporaryDirectory() as d, tracking.TensorBoard(d) as sink:
                return run(sink)

        return timed

    pairs = {"chunks": (chunks, with_sink(chunks)), "logged": (logged, with_sink(logged))}
    calls = {}
    for name, (run, _) in pairs.items():
        run(calls.setdefault(name, Recorder()))  # compiles, and keeps what the sink is given
    losses = funcmlp.train(params, x, y, **kw).losses
    every_step = Recorder()
    tracking.log_losses(every_step, losses)
    times = {(name, k): [] for name in pairs for k in (0, 1)}
    host = {name: [] for name in (*pairs, "every step")}
    for r in range(opt.repeats):  # every other repeat in reverse order: neither side always runs first
        for name, fns in pairs.items():
            for k in (0, 1)[:: 1 if r % 2 == 0 else -1]:
                times[name, k].append(_time(fns[k]))
        for name in host:
            host[name].append(_replay((calls.get(name) or every_step).calls))
    _report(opt, steps, chunk, times, host)


def _report(opt: Options, steps: int, chunk: int, times: dict, host: dict[str, list[float]]) -> None:
    title = (
        f"Cost of TensorBoard logging ({jax.default_backend()}, 2-{opt.hidden}-3, {steps} steps in "
        f"{-(-steps // chunk)} chunks of {chunk}, medians of {opt.repeats} repeats)"
    )
    table = Table(title=title)
    cols = ("run", "without (s)", "with TensorBoard (s)", "cost (paired)", "sink alone (ms)", "sink / run")
    for col in cols:
        table.add_column(col, justify="right")
    for name in ("chunks", "logged"):
        base, with_tb = times[name, 0], times[name, 1]
        ratio = statistics.median(t / b for t, b in zip(with_tb, base, strict=True))
        alone = statistics.median(host[name])
        row = (
            name,
            f"{statistics.median(base):.3f}",
            f"{statistics.median(with_tb):.3f}",
            f"{ratio - 1:+.2%}",
        )
        table.add_row(*row, f"{alone * 1e3:.1f}", f"{alone / statistics.median(base):.2%}")
    alone, base = statistics.median(host["every step"]), statistics.median(times["chunks", 0])
    table.add_row(
        f"every step's loss after ({steps} points)", "", "", "", f"{alone * 1e3:.0f}", f"{alone / base:.2%}"
    )
    Console(width=140).print(table)


if __name__ == "__main__":
    main(tyro.cli(Options))
