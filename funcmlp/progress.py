"""Progress reporting for long training runs: a rich progress bar on a terminal, a few log lines elsewhere.

``funcmlp.train`` runs its compiled loop in chunks of ``chunk_size`` steps (every chunk reuses one compiled
program) and calls ``callback(steps_done, last_loss)`` after each. A ``Progress`` is such a callback:

    with Progress(steps) as bar:
        funcmlp.train(params, x, y, optimizer=opt, steps=steps, callback=bar, chunk_size=chunk_size(steps))

Nothing is shown until ``delay`` seconds (about one) after the first chunk has reported (by then the
program is compiled), so short runs stay silent. On a terminal the bar shows the step, the current loss,
the elapsed time and the time left; without one (a pipe, a log file, CI) up to ``lines`` plain lines are
printed instead. ``quiet=True`` turns reporting off.
Everything goes to stderr, so stdout keeps only the results.

The cost is one dispatch and one host synchronisation per chunk. With ``chunk_size(steps)`` (about 50
chunks of at least 100 steps) ``scripts/progress_overhead.py`` measured +1.5% of the time of one
uninterrupted compiled call, on CPU, for runs of 1 to 3 s (long enough to show the bar); see the README.

``train_logged`` adds a ``History``: loss and accuracy on the training data and on validation / test sets
after every chunk, as written to a run's metrics.csv.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as _RichProgress

from funcmlp import activations, checks, heads, training
from funcmlp.mlp import Params, _forward, validate
from funcmlp.training import TrainResult

DEFAULT_UPDATES = 50
MIN_CHUNK = 100


def chunk_size(steps: int, *, updates: int = DEFAULT_UPDATES, min_chunk: int = MIN_CHUNK) -> int:
    """Steps per compiled chunk so that a run of ``steps`` reports about ``updates`` times.

    The chunks are as even as possible (the last chunk, padded with no-op steps, wastes fewer than
    ``updates`` steps) and never shorter than ``min_chunk`` steps, so that the per-chunk cost (a dispatch
    and a device-to-host copy of one loss) stays small next to the chunk's work.

    Returns:
      c with 1 <= c <= steps: ``train(..., chunk_size=c)`` runs ceil(steps / c) chunks.
    """
    steps = checks.check_positive_int(steps, "steps")
    updates = checks.check_positive_int(updates, "updates")
    min_chunk = checks.check_positive_int(min_chunk, "min_chunk")
    n = max(1, min(updates, steps // min_chunk))
    return math.ceil(steps / n)


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
    """A ``callback(steps_done, last_loss)`` that reports a run of ``total`` steps.

    ``last_loss`` is a number, an array of them (a batch of models: the median and range are shown) or
    None (not shown).

    Args:
      total: steps in the run.
      description: what is running (shown left of the bar / at the start of each line).
      quiet: report nothing.
      delay: seconds after the first report before anything is shown; a run that ends sooner (or
        in one chunk) prints nothing.
      lines: at most this many plain lines (at even fractions of ``total``) when not on a terminal.
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
        self.first = 0
        self.done = 0
        self.loss: Any = math.nan
        self._mark = 0
        self._bar: _RichProgress | None = None
        self._task = None

    # -- the callback -------------------------------------------------------------------------------------
    def __call__(self, steps_done: int, last_loss: Any) -> None:
        self.done, self.loss = int(steps_done), last_loss
        if self.mode == "off":
            return
        now = self.clock()
        if self.start is None:
            self.start, self.first = now, self.done
        if now - self.start < self.delay:
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
        info = "" if self.loss is None else f"loss {format_loss(self.loss)}"
        self._bar.update(self._task, completed=self.done, info=info)

    def _log_line(self, elapsed: float) -> None:
        mark = self.done * self.lines // self.total  # how many of the marks total * k / lines are passed
        if mark <= self._mark:
            return
        self._mark = mark
        rate = (self.done - self.first) / max(self.clock() - self.start, 1e-9)  # steps/s since compiling
        left = (self.total - self.done) / rate if rate > 0 else math.inf
        eta = "" if self.done >= self.total or not math.isfinite(left) else f", about {_seconds(left)} left"
        self.console.print(
            f"{self.description}: step {self.done}/{self.total} ({self.done / self.total:.0%}), "
            f"{'' if self.loss is None else f'loss {format_loss(self.loss)}, '}{_seconds(elapsed)}{eta}",
            highlight=False,
            soft_wrap=True,
        )

    def for_sweep(self, steps: int) -> Callable[[int, int], None]:
        """A ``funcmlp.sweep`` callback ``(group, steps_done, losses)`` driving this bar over groups x ``steps``;
        it shows the lowest finite loss among the group's models."""

        def callback(group: int, done: int, losses: Any = None) -> None:
            finite = None if losses is None else np.asarray(losses)[np.isfinite(losses)]
            self(group * steps + done, None if finite is None or not finite.size else float(finite.min()))

        return callback

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


class History(NamedTuple):
    """Metrics at the logged steps t_0 = 0 < t_1 < ... < t_m = steps, measured on the parameters theta_t.

    Attributes:
      columns: name -> (m + 1,) float64 values; always ``step`` and ``train_loss``, then
        ``train_accuracy`` for classification heads, and ``<name>_loss`` / ``<name>_accuracy`` for every
        evaluation set. Losses are the mean data loss (1/n) sum_i l(z^L_i, y_i), without the L2 term.
    """

    columns: dict[str, np.ndarray]


@partial(jax.jit, static_argnames=("act_fn", "head"))
def _evaluate(params: Params, sets, *, act_fn, head):
    """(mean data loss, number correct) on each (x, y) of ``sets``, in one compiled call."""
    out = []
    for x, y in sets:
        z = _forward(params, x, act_fn)
        correct = jnp.sum(head.predict(z) == y) if head.name != "linear" else jnp.int32(0)
        out.append((jnp.mean(head.per_sample_loss(z, y)), correct))
    return out


def train_logged(
    params: Params,
    x: jax.Array,
    y: jax.Array,
    *,
    optimizer: optax.GradientTransformation,
    steps: int,
    log_every: int | None = None,
    evaluate: dict[str, tuple[Any, Any]] | None = None,
    callback: Callable[[int, float], None] | None = None,
    activation: str = "relu",
    head: str = "softmax",
    batch_size: int | None = None,
    key: jax.Array | None = None,
    l2: float = 0.0,
) -> tuple[TrainResult, History]:
    """``funcmlp.train`` in chunks of ``log_every`` steps, measuring loss and accuracy after each chunk.

    It is one ``train(..., chunk_size=log_every)`` call (one compiled program for every chunk), so the
    result is the same as without logging; after each chunk the current parameters are evaluated on the
    training data and on every ``evaluate`` set in one more compiled call.

    Args:
      params, x, y, optimizer, steps, activation, head, batch_size, key, l2: as for ``funcmlp.train``.
      log_every: steps between logged rows; default ``chunk_size(steps)`` (about 50 rows).
      evaluate: extra sets to measure, e.g. ``{"val": (x_val, y_val)}`` (empty sets are skipped).
      callback: ``callback(steps_done, last_loss)`` after each chunk, e.g. a ``Progress``.

    Returns:
      ``(TrainResult, History)``: the history has a row at step 0 and after each chunk; after a divergence
      at step t it ends with the chunk that holds t (the parameters stay those of step t - 1).
    """
    steps = checks.check_positive_int(steps, "steps")
    every = chunk_size(steps) if log_every is None else checks.check_positive_int(log_every, "log_every")
    validate(params, x, y, head=head)
    sets = {"train": (jnp.asarray(x), jnp.asarray(y))}
    for name, (xs, ys) in (evaluate or {}).items():
        if np.shape(xs)[0] > 0:
            validate(params, xs, ys, head=head)
            sets[name] = (jnp.asarray(xs), jnp.asarray(ys))
    act_fn, hd = activations.get(activation).fn, heads.get(head)
    logged: list[tuple[int, Any]] = []

    def record(t: int, p: Params) -> None:  # stays on the device; fetched once at the end
        logged.append((t, _evaluate(p, tuple(sets.values()), act_fn=act_fn, head=hd)))

    record(0, params)
    result = training.train(
        params, x, y, optimizer=optimizer, steps=steps, activation=activation, head=head,
        batch_size=batch_size, key=key, l2=l2, callback=callback, chunk_size=min(every, steps), on_chunk=record,
    )  # fmt: skip
    diverged_at = int(result.diverged_at)
    if diverged_at >= 0:  # keep the rows up to the end of the chunk that diverged
        logged = [(t, e) for t, e in logged if t - every <= diverged_at]
    columns: dict[str, list[float]] = {"step": [t for t, _ in logged]}
    for _, evals in jax.device_get(logged):
        for (name, (xs, _)), (loss, correct) in zip(sets.items(), evals, strict=True):
            columns.setdefault(f"{name}_loss", []).append(float(loss))
            if head != "linear":
                columns.setdefault(f"{name}_accuracy", []).append(int(correct) / xs.shape[0])
    return result, History({k: np.asarray(v, np.float64) for k, v in columns.items()})
