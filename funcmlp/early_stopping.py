"""Early stopping on the validation metric, one logged evaluation at a time.

The evaluations are the rows of a ``funcmlp.history.History`` (step 0 included), as ``train_logged`` logs
them every ``Logging.every`` steps. A row *improves* on the best row so far when

- classification heads: its validation accuracy is higher, or equal with a lower validation loss;
- the linear head: its validation loss is lower;

a row with a NaN never improves. Row 0 is the first best. After each later row that does not improve, the
count of rows since the best grows by one (an improving row sets it back to 0); training stops at the first
row where it reaches ``patience``, and the parameters of the best row are the result. With patience N and
logging every k steps, a run stops at most N * k steps after its best evaluation.

``train_logged(..., log=Logging(patience=N))`` uses an ``EarlyStopping``; ``stopping_point`` replays the
rule on a recorded history.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from funcmlp import checks

MONITOR = "val"  # the evaluation set watched: train_logged(evaluate={"val": (x_val, y_val)})


class EarlyStop(NamedTuple):
    """Where an early-stopped run ended.

    Attributes:
      patience: the logged evaluations without improvement that stop training.
      best_step: the step of the best evaluation, whose parameters are kept.
      stopped_step: the step of the last evaluation, where training stopped: the run's ``steps`` unless
        patience ran out earlier (or the run was interrupted).
      stopped: whether patience ran out.
    """

    patience: int
    best_step: int
    stopped_step: int
    stopped: bool


def score(row: Mapping[str, float], monitor: str = MONITOR) -> tuple[float, ...]:
    """The ordering key of a logged row: (accuracy, -loss) of ``monitor``, or (-loss,) without an accuracy;
    all -inf when either is NaN. Higher is better."""
    key = tuple(float(row[k]) for k in (f"{monitor}_accuracy", f"{monitor}_loss") if k in row)
    key = key[:-1] + (-key[-1],)
    return tuple(-math.inf for _ in key) if any(math.isnan(v) for v in key) else key


class EarlyStopping:
    """Feed it the logged rows in order (``update``); it says when to stop and keeps the best parameters.

    Args:
      patience: stop after this many logged evaluations in a row without improvement (positive integer).
      monitor: the evaluation set whose ``<monitor>_loss`` (and ``<monitor>_accuracy``) is watched.
    """

    def __init__(self, patience: int, monitor: str = MONITOR) -> None:
        self.patience = checks.check_positive_int(patience, "patience")
        self.monitor = monitor
        self.best: tuple[float, ...] | None = None
        self.best_step = -1
        self.best_params: Any = None
        self.step = -1
        self.waited = 0

    def update(self, step: int, row: Mapping[str, float], params: Any = None) -> bool:
        """Take the row logged at ``step`` (of the parameters ``params``); True when training should stop."""
        key = score(row, self.monitor)
        if self.best is None or key > self.best:
            self.best, self.best_step, self.best_params, self.waited = key, int(step), params, 0
        else:
            self.waited += 1
        self.step = int(step)
        return self.waited >= self.patience

    def result(self, steps: int) -> EarlyStop:
        """The ``EarlyStop`` of a run of ``steps`` steps fed up to now."""
        return EarlyStop(
            self.patience, self.best_step, min(self.step, int(steps)), self.waited >= self.patience
        )


def stopping_point(columns: Mapping[str, Any], patience: int, monitor: str = MONITOR) -> tuple[int, int]:
    """(index of the row where training stops, index of the best row) of a recorded history's ``columns``
    (as ``History.columns``); the stop index is the last row's when patience never runs out."""
    n = len(np.asarray(columns["step"]))
    if n == 0 or f"{monitor}_loss" not in columns:
        raise ValueError(
            f"columns: expected logged rows with {monitor}_loss, got {sorted(columns)} ({n} rows)"
        )
    stopper = EarlyStopping(patience, monitor)
    names = [k for k in (f"{monitor}_loss", f"{monitor}_accuracy") if k in columns]
    for i in range(n):
        if stopper.update(i, {k: float(np.asarray(columns[k])[i]) for k in names}):
            return i, stopper.best_step
    return n - 1, stopper.best_step
