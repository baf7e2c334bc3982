"""Cost of logging a run to TensorBoard at chunk boundaries, on a run of about 3 seconds:

* chunks: ``funcmlp.train(..., chunk_size=chunk_size(steps))`` with ``callback=tracking.train_callback(sink)``
  (each chunk's last loss);
* logged: ``train_logged`` with a validation set (what ``funcmlp train`` runs), with each chunk's loss and
  every logged row (``history_callback``) in the sink;
* after the run: ``tracking.log_losses`` of every step's loss.

Each run is timed with no callback, with the callbacks writing to a sink that keeps nothing (the host
synchronisations that a progress bar makes too), and with the TensorBoard sink. The cost is measured
twice: paired (the median over repeats of the ratio of the TensorBoard run to the other, timed back to
back, in reverse order every other repeat), and as the sink's host work alone (the same calls replayed
into a fresh sink without training, made and closed in the timing, over the time of the run with no-op
callbacks): on a busy machine the first is noisy, the second is not.

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
    """A sink that keeps the scalars it is given (to replay them into TensorBoard without training), or
    nothing (``keep=False``: the callbacks' cost without a sink's)."""

    def __init__(self, keep: bool = True):
        self.calls, self.keep = [], keep

    def scalars(self, step, values, run=None):
        if self.keep:
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

    # per run: no callback, callbacks into a sink that keeps nothing (the host synchronisations a progress
    # bar also makes), and callbacks into TensorBoard
    variants = {name: (run, lambda run=run: run(Recorder(keep=False)), with_sink(run))
                for name, run in (("chunks", chunks), ("logged", logged))}  # fmt: skip
    calls = {}
    for name, fns in variants.items():
        fns[0](calls.setdefault(name, Recorder()))  # compiles, and keeps what the sink is given
    every_step = Recorder()
    tracking.log_losses(every_step, funcmlp.train(params, x, y, **kw).losses)
    times = {(name, k): [] for name in variants for k in range(3)}
    host = {name: [] for name in (*variants, "every step")}
    for r in range(opt.repeats):  # every other repeat in reverse order: no variant always runs first
        for name, fns in variants.items():
            for k in (0, 1, 2)[:: 1 if r % 2 == 0 else -1]:
                times[name, k].append(_time(fns[k]))
        for name in host:
            host[name].append(_replay((calls.get(name) or every_step).calls))
    _report(opt, steps, chunk, times, host)


def _paired(times: dict, name: str, k: int) -> float:
    """The median over repeats of the ratio of the TensorBoard run to variant k, less one."""
    return statistics.median(t / b for t, b in zip(times[name, 2], times[name, k], strict=True)) - 1


def _report(opt: Options, steps: int, chunk: int, times: dict, host: dict[str, list[float]]) -> None:
    title = (
        f"Cost of TensorBoard logging ({jax.default_backend()}, 2-{opt.hidden}-3, {steps} steps in "
        f"{-(-steps // chunk)} chunks of {chunk}, medians of {opt.repeats} repeats)"
    )
    table = Table(title=title)
    cols = (
        "run",
        "no callback (s)",
        "no-op callbacks (s)",
        "TensorBoard (s)",
        "cost vs no-op",
        "cost vs none",
    )
    for col in (*cols, "sink alone (ms)", "sink / run"):
        table.add_column(col, justify="right")
    for name in ("chunks", "logged"):
        med = [statistics.median(times[name, k]) for k in range(3)]
        alone = statistics.median(host[name])
        row = (
            name,
            *(f"{m:.3f}" for m in med),
            f"{_paired(times, name, 1):+.2%}",
            f"{_paired(times, name, 0):+.2%}",
        )
        table.add_row(*row, f"{alone * 1e3:.1f}", f"{alone / med[1]:.2%}")
    alone, base = statistics.median(host["every step"]), statistics.median(times["chunks", 1])
    row = (f"log_losses, {steps} steps", "", "", "", "", "", f"{alone * 1e3:.0f}")
    table.add_row(*row, f"{alone / base:.2%}")
    Console(width=160).print(table)


if __name__ == "__main__":
    main(tyro.cli(Options))
