"""The records that group a run's options by concern, one meaning each, shared by the drivers:

- ``Logging``: what ``train_logged`` and ``sweep`` record at the logged steps (every ``every`` steps), and
  when a model stops early;
- ``Resume``: a sweep to continue, and whether its fixed settings may change;
- ``Report``: what ``train``, ``train_logged``, ``sweep`` and ``fit`` pass to ``callback(report)`` after each
  compiled chunk (one protocol: a progress bar or a logger serves all of them).

The sets a run measures are ``evaluate={"val": (x_val, y_val), "test": ...}`` in both drivers; ``"val"``
is the validation set that early stopping, successive halving and the choice of a model watch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from funcmlp import checks


class Logging(NamedTuple):
    """Curves recorded during training, and early stopping on them.

    Rows are recorded at step 0, every ``every`` steps and at the last step: loss (and accuracy) on the
    training rows and on every ``evaluate`` set, then one column per ``metrics`` value.

    Attributes:
      every: steps between logged rows; None: about 50 rows (``funcmlp.history.chunk_size(steps)`` rounded
        up to two significant digits).
      patience: early stopping: stop a model once its validation metric (the ``"val"`` set of ``evaluate``:
        accuracy for a classifier, else loss) has not improved for ``patience`` rows, and keep the
        parameters of its best row (``funcmlp.early_stopping``); None: no early stopping.
      metrics: ``metrics(params, grads) -> dict`` of scalars, or ``metrics(params, grads, opt_state, step,
        batch)``, a column each (grads: dJ/dtheta of the training objective, the loss plus L2, on
        batch = (x, y), all of the model's training rows); ``funcmlp.sweeps.curves.norms`` gives every
        layer's gradient and parameter norms.
    """

    every: int | None = None
    patience: int | None = None
    metrics: Callable[..., dict[str, Any]] | None = None


class Resume(NamedTuple):
    """A previous sweep to continue: ``sweep(..., start=Resume(result, allow_changes=True))``.

    Attributes:
      result: the ``SweepResult`` of the same grid (a previous ``sweep`` or ``load_sweep``).
      allow_changes: allow fixed settings (say momentum) other than the result's; the new result's
        ``settings["segments"]`` then lists (start step, settings) of each call.
    """

    result: Any
    allow_changes: bool = False


class Report(NamedTuple):
    """What every driver reports after each compiled chunk: ``callback(report)``; a callback that returns
    True stops training there (the result holds the steps done; a sweep's, the groups so far, the last one
    cut there; in a sweep over several processes every process's callback must return the same).

    Attributes:
      step: steps done so far in this call, 1 <= step <= steps (of group ``group`` in a sweep).
      steps: the call's steps (of each group).
      loss: the last step's loss: a float for ``train`` and ``train_logged`` (NaN after a divergence); for
        ``sweep`` and ``fit`` every model's, a (*grid, seeds) numpy array (NaN for a diverged model; None
        when some models live on another process).
      group: the sweep's group (a (sizes, activation) pair), 0 <= group < groups; 0 for one model.
      groups: the sweep's number of groups; 1 for one model.
    """

    step: int
    steps: int
    loss: Any
    group: int = 0
    groups: int = 1


# Keywords of earlier releases and where they went, for the error that says so.
MOVED = {
    "x_val": 'evaluate={"val": (x_val, y_val)}',
    "y_val": 'evaluate={"val": (x_val, y_val)}',
    "log_every": "log=funcmlp.Logging(every=...)",
    "patience": "log=funcmlp.Logging(patience=...)",
    "metrics": "log=funcmlp.Logging(metrics=...)",
    "allow_changes": "start=funcmlp.Resume(result, allow_changes=True)",
    "key": "batch_key=",
}
_MOVED_FROM = {
    "train": ("key",),
    "train_logged": ("key", "log_every", "patience", "metrics"),
    "sweep": ("x_val", "y_val", "log_every", "patience", "metrics", "allow_changes"),
}


def check_moved(function: str, given: dict[str, Any]) -> None:
    """Refuse the keywords in ``given`` (what ``function`` received beyond its signature), naming where a
    keyword of an earlier release went (``MOVED``)."""
    for name in given:
        if name not in _MOVED_FROM[function]:
            raise TypeError(f"{function}() got an unexpected keyword argument {name!r}")
        raise TypeError(f"{function}: {name}= moved; pass {MOVED[name]}")


def check_logging(log: Any, *, has_val: bool) -> Logging:
    """``log`` checked (a ``Logging``, or None for the defaults): its fields' types and values."""
    if log is None:
        return Logging()
    if not isinstance(log, Logging):
        raise TypeError(
            f"log: expected a funcmlp.Logging(every, patience, metrics), got {type(log).__name__}"
        )
    if log.every is not None:
        checks.check_positive_int(log.every, "log.every")
    if log.patience is not None:
        checks.check_positive_int(log.patience, "log.patience")
        if not has_val:
            raise ValueError(
                'log.patience: expected a validation set evaluate={"val": (x, y)} to watch, got none'
            )
    checks.check_metrics(log.metrics, "log.metrics")
    return log


def resume_of(start: Any) -> Resume | None:
    """``start`` as a ``Resume`` (a bare result continues with the same settings), or None."""
    if start is None or isinstance(start, Resume):
        return start
    return Resume(start)
