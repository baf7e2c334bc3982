"""What a run learns, and the defaults that depend on it.

A task is classes (the softmax head, or the sigmoid head for two classes; optionally each sample's loss
weighted by n / (K n_k), "balanced") or real-valued targets (the linear head: mean squared error on targets
standardised with the training rows' mean and standard deviation). ``infer_head`` reads it from the labels
when it is not given: float labels that are not all whole numbers are targets, anything else classes.

Defaults fitted to the data:

- the hidden width: one layer of  2 (d + K)  units clipped to ``WIDTH_RANGE`` = [8, 128], for d features
  and K outputs (``hidden_width``: 14 for iris, 128 for the 8 x 8 digits);
- the L2 weight: 0, but for a regression with validation rows, where every seed is trained with each
  weight of ``L2_CHOICES`` and the lowest validation loss picks the weight with the seed (on a
  diabetes-sized file, 265 training rows, test R^2 -0.12 without the penalty and 0.56 with it).
"""

from __future__ import annotations

import sys
import time
from typing import Any, NamedTuple

import numpy as np

WIDTH_RANGE = (8, 128)
L2_CHOICES = (0.0, 0.001, 0.01, 0.1, 1.0)
HEADS = ("softmax", "sigmoid", "linear")
CLASS_WEIGHTS = ("none", "balanced")


class Task(NamedTuple):
    """What a run learns.

    Attributes:
      head: ``"softmax"``, ``"sigmoid"`` (two classes, one output unit) or ``"linear"`` (targets).
      classes: the class labels in the data's own terms, sorted (index k is class k); () for targets.
      class_weight: ``"none"`` or ``"balanced"``.
    """

    head: str
    classes: tuple[Any, ...] = ()
    class_weight: str = "none"

    @property
    def regression(self) -> bool:
        return self.head == "linear"

    @property
    def n_outputs(self) -> int:
        """Output units: 1 for the linear and sigmoid heads, else one per class."""
        return 1 if self.head in ("linear", "sigmoid") else len(self.classes)

    def training_head(self, y_train: Any) -> Any:
        """The head the network is trained with: its loss weighted by class when ``balanced``
        (weights n / (K n_k) from the training labels, ``funcmlp.heads.weighted``)."""
        if self.class_weight == "none":
            return self.head
        from funcmlp import heads

        k = 2 if self.head == "sigmoid" else len(self.classes)
        return heads.weighted(self.head, heads.balanced_weights(y_train, k))


def check_options(head: Any, class_weight: Any) -> None:
    """``head`` one of ``HEADS`` or None (inferred); ``class_weight`` one of ``CLASS_WEIGHTS``, and only
    with a classification head."""
    if head is not None and head not in HEADS:
        raise ValueError(f"head: expected one of {', '.join(HEADS)} or None (from the labels), got {head!r}")
    if class_weight not in CLASS_WEIGHTS:
        raise ValueError(f"class_weight: expected one of {', '.join(CLASS_WEIGHTS)}, got {class_weight!r}")
    if class_weight != "none" and head == "linear":
        raise ValueError(
            "class_weight: expected a classification head (softmax or sigmoid), got head 'linear'"
        )


def infer_head(y: Any) -> str:
    """``"linear"`` for float labels that are not all whole numbers, else ``"softmax"``."""
    y = np.asarray(y)
    if np.issubdtype(y.dtype, np.floating) and np.any(np.isfinite(y) & (y != np.round(y))):
        return "linear"
    return "softmax"


def check_classes(task: Task, n_rows: int) -> None:
    """The sigmoid head needs two classes; labels that look like real-valued targets under a
    classification head get a one-line warning on stderr."""
    if task.regression:
        return
    k = len(task.classes)
    if task.head == "sigmoid" and k != 2:
        raise ValueError(
            f"head: expected two classes for the sigmoid head (one output unit), got {k}; use the softmax head"
        )
    from funcmlp.io import datafile

    why = datafile.continuous_labels(task.classes, n_rows)
    if why is not None:
        print(
            f"funcmlp: warning: data: the labels look like real-valued targets ({why}), read as {k} "
            "classes; for regression use head='linear' (--head linear)",
            file=sys.stderr,
        )


def hidden_width(n_features: int, n_outputs: int) -> int:
    """The hidden width for d = ``n_features`` inputs and K = ``n_outputs`` outputs: 2 (d + K) clipped to
    ``WIDTH_RANGE``."""
    low, high = WIDTH_RANGE
    return min(high, max(low, 2 * (int(n_features) + int(n_outputs))))


def l2_choices(l2: float | None, task: Task, n_val: int) -> tuple[float, ...]:
    """The L2 weights a run tries: ``l2`` if given; else ``L2_CHOICES`` for a regression with ``n_val`` > 0
    validation rows to choose on; else 0."""
    if l2 is not None:
        return (float(l2),)
    if task.regression and n_val > 0:
        return L2_CHOICES
    return (0.0,)


def run_options(samples: Any, task: Task, given: dict[str, Any], *, t0: float):
    """``funcmlp.fit``'s arguments ``given`` (by name) checked and completed from the ``samples``: the
    options of the run (config.json), the L2 weights it tries and its ``budget.Plan`` (``t0``: when the
    run started, ``time.perf_counter``)."""
    from funcmlp import checks, chunking
    from funcmlp.fitting import budget
    from funcmlp.history import chunk_size

    n, n_val = len(samples.train[1]), len(samples.val[1])
    for name in ("steps", "seeds", "log_every"):
        if given[name] is not None:
            checks.check_positive_int(given[name], name)
    batch = None if given["batch_size"] == "auto" else given["batch_size"]
    if given["batch_size"] != "auto":
        if batch is not None:
            checks.check_positive_int(batch, "batch_size")
        check_batch_size(batch, n)
    if given["patience"] is not None and n_val == 0:
        raise ValueError(
            "patience: expected validation rows to watch, got none (give val a positive fraction)"
        )
    hidden = given["hidden"]
    hidden = (hidden_width(samples.n_features, task.n_outputs),) if hidden is None else tuple(hidden)
    sizes = (samples.n_features, *hidden, task.n_outputs)
    choices = l2_choices(given["l2"], task, n_val)
    plan = budget.plan_run(
        samples.train, sizes, budget.check_budget(given["budget"]), configurations=len(choices),
        activation=given["activation"], head=task.head, seeds=given["seeds"], steps=given["steps"],
        batch_size=given["batch_size"], spent=time.perf_counter() - t0,
    )  # fmt: skip
    every = chunking.round_interval(chunk_size(plan.steps))
    every = every if given["log_every"] is None else given["log_every"]
    options = {
        "head": task.head, **given, "hidden": list(hidden), "steps": plan.steps, "seeds": plan.seeds,
        "batch_size": plan.batch_size, "budget": plan.budget, "l2": None if len(choices) > 1 else choices[0],
        "log_every": every,
    }  # fmt: skip
    return options, choices, plan


def check_batch_size(batch_size: int | None, n: int) -> None:
    """A mini-batch no larger than the ``n`` training rows."""
    if batch_size is not None and batch_size > n:
        raise ValueError(f"batch_size: expected at most {n} (the training set's size), got {batch_size}")
