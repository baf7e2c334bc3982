"""Progress reporting for long training runs: a rich progress bar on a terminal, a few log lines elsewhere.

``funcmlp.train`` runs its compiled loop in chunks of ``chunk_size`` steps (every chunk reuses one compiled
program) and calls ``callback(report)`` after each (a ``funcmlp.Report``), as ``train_logged``, ``sweep`` and
``fit`` do. A ``Progress`` is such a callback, for any of them:

    with Progress(steps) as bar:
        funcmlp.train(params, x, y, optimizer=opt, steps=steps, callback=bar, chunk_size=chunk_size(steps))

Nothing is shown during the first ``delay`` seconds (about one) after the bar is made, nor at a first
report that is also the last (a run in one chunk), so short runs stay silent. On a terminal the bar shows
the step, the current loss, the elapsed time and the time left; without one (a pipe, a log file, CI) plain
lines are printed instead: one when the delay has passed, then one as each of ``lines`` even fractions of
the run is reached. ``quiet=True`` turns reporting off. Everything goes to stderr, so stdout keeps only
the results.

``train_logged`` and the sweeps of ``funcmlp.fit`` run chunks of about a quarter second
(``funcmlp.chunking``), so the first report comes soon after compiling however many steps the run has, and
a callback that asks to stop is obeyed within about that time (the command line's Ctrl-C). The cost is one
dispatch and one host synchronisation per chunk: ``scripts/progress_overhead.py`` measures it against one
uninterrupted compiled call (see the README).

``chunk_size``, ``History`` and ``train_logged`` live in ``funcmlp.history`` and are re-exported here. The
module loads rich: ``import funcmlp`` loads it on first use of ``funcmlp.progress``; the command line's
``funcmlp.cli.progress`` re-exports it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as _RichProgress

from funcmlp import checks
from funcmlp.history import DEFAULT_UPDATES, MIN_CHUNK, History, chunk_size, train_logged
from funcmlp.options import Report

__all__ = [
    "DEFAULT_UPDATES",
    "MIN_CHUNK",
    "History",
    "Progress",
    "chunk_size",
    "format_loss",
    "train_logged",
]


def format_loss(loss: Any) -> str:
    """A loss for display: one number, or the median and range over a batch of runs (a sweep)."""
    a = np.asarray(loss, dtype=np.float64)
    if a.size == 1:
        v = float(a.reshape(()))
        return f"{v:.4g}" if math.isfinite(v) else f"{v} (diverged)"
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return "nan (all diverged)"
    text = f"median {np.median(finite):.4g} [{finite.min():.3g}, {finite.max():.3g}]"
    if finite.size < a.size:
        text += f", {a.size - finite.size} diverged"
    return text


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 60 else f"{int(s // 60)} min {s % 60:02.0f} s"


class Progress:
    """A ``callback(report)`` (``funcmlp.Report``) that reports a run of ``total`` steps: of a sweep's
    groups one after the other, ``report.group * report.steps + report.step`` steps are done; the loss
    shown is the report's, for a sweep the lowest finite loss among the group's models.

    ``update(steps_done, loss)`` moves it directly; ``loss`` is a number, an array of them (a batch of
    models: the median and range are shown) or None (not shown).

    Args:
      total: steps in the run.
      description: what is running (shown left of the bar / at the start of each line).
      quiet: report nothing.
      delay: seconds after the bar is made before anything is shown; a run that ends sooner (or in
        one chunk) prints nothing. Plain lines are also at least this far apart (but the last).
      lines: when not on a terminal, a plain line at each of this many even fractions of ``total``, after
        one when the delay has passed.
      console: where to write; defaults to stderr (``Console(stderr=True)``).
      clock: a ``time.perf_counter``-like function (tests pass a fake one).

    Use it as a context manager (or call ``close()``) so that the bar is removed from the screen cleanly.
    """

    def __init__(
        self,
        total: int,
        *,
        description: str = "training",
        quiet: bool = False,
        delay: float = 1.0,
        lines: int = 4,
        console: Console | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.total = checks.check_positive_int(total, "total")
        self.lines = checks.check_positive_int(lines, "lines")
        self.description = description
        self.delay = float(delay)
        self.console = Console(stderr=True) if console is None else console
        self.clock = clock
        self.mode = "off" if quiet else ("bar" if self.console.is_terminal else "plain")
        self.created = clock()
        self.start: float | None = None  # when the first chunk reported: compiling is over
        self.printed: float | None = None  # when the last plain line was printed
        self.first = 0
        self.done = 0
        self.loss: Any = math.nan
        self.metric = ""  # the latest logged validation metric, ", val accuracy 0.933" (see ``logged``)
        self._mark = 0
        self._bar: _RichProgress | None = None
        self._task = None

    # -- the callback -------------------------------------------------------------------------------------
    def __call__(self, report: Report) -> None:
        """After a chunk of ``train``, ``train_logged``, ``sweep`` or ``fit``."""
        loss = report.loss
        if loss is not None and np.ndim(loss):  # a sweep's models: the best one's
            finite = np.asarray(loss)[np.isfinite(loss)]
            loss = float(finite.min()) if finite.size else math.nan
        self.update(report.group * report.steps + report.step, loss)

    def update(self, steps_done: int, last_loss: Any) -> None:
        """Report ``steps_done`` of ``total`` steps, with ``last_loss`` (a number, an array or None)."""
        self.done, self.loss = int(steps_done), last_loss
        if self.mode == "off":
            return
        now = self.clock()
        again = self.start is not None  # not the first report (the end of a run in one chunk shows nothing)
        if self.start is None:
            self.start, self.first = now, self.done
        if now - self.created < self.delay or not (again or self.done < self.total):
            return
        elapsed = now - self.created
        if self.mode == "bar":
            self._update_bar()
        else:
            self._log_line(elapsed)

    def _update_bar(self) -> None:
        if self._bar is None:
            self._bar = _RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("steps  {task.fields[info]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total, info="")
        info = "" if self.loss is None else f"loss {format_loss(self.loss)}{self.metric}"
        self._bar.update(self._task, completed=self.done, info=info)

    def _log_line(self, elapsed: float) -> None:
        mark = self.done * self.lines // self.total  # how many of the marks total * k / lines are passed
        passed, self._mark = mark > self._mark, max(mark, self._mark)
        now = self.clock()  # a mark within ``delay`` of the previous line is skipped, but the last one
        recent = self.printed is not None and now - self.printed < self.delay and self.done < self.total
        if self.printed is not None and (not passed or recent):  # the first line comes once the delay passed
            return
        self.printed = now
        rate = (self.done - self.first) / max(self.clock() - self.start, 1e-9)  # steps/s since compiling
        left = (self.total - self.done) / rate if rate > 0 else math.inf
        eta = "" if self.done >= self.total or not math.isfinite(left) else f", about {_seconds(left)} left"
        loss = "" if self.loss is None else f"loss {format_loss(self.loss)}{self.metric}, "
        self.console.print(
            f"{self.description}: step {self.done}/{self.total} ({self.done / self.total:.0%}), "
            f"{loss}{_seconds(elapsed)}{eta}",
            highlight=False,
            soft_wrap=True,
        )

    def logged(self, step: int, row: dict[str, Any]) -> None:
        """A ``train_logged(..., on_log=)`` hook: the reports also show the validation metric of the
        latest logged row (its accuracy, or its loss without one); nothing without a validation set."""
        name = next((k for k in ("val_accuracy", "val_loss") if k in row), None)
        self.metric = "" if name is None else f", {name.replace('_', ' ')} {row[name]:.4g}"

    # -- lifetime ------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the bar (leaving its final state on screen)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
