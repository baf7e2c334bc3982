"""Defaults that depend on the data, and the options that go only with, or only without, ``--data``.

The toy data set's options (``--dataset``, ``--n-per-class``, ``--noise``) default to None, "not given",
so that giving one with ``--data`` is refused; ``resolved`` fills in their values (spiral, 100 points per
class, noise 0.2) for a toy run, and the hidden widths of ``funcmlp train``:

- without ``--data``, the lecture's one hidden layer of 4 units;
- with ``--data``, one hidden layer of ``hidden_width(d, K)`` = 2 (d + K) units clipped to [8, 128], for d
  features and K outputs (the classes, with the softmax head), e.g. 14 for iris (d = 4, K = 3) and 128
  for the 8 x 8 digits (d = 64, K = 10).

The L2 weight of ``funcmlp train`` when ``--l2`` is not given (``l2_choices``): 0, but for a regression
(``--data`` with ``--head linear``) with validation rows, where every seed is trained with each weight of
``L2_CHOICES`` and the lowest validation loss picks the weight with the seed. Real targets are noisy and
a diabetes-sized file (265 training rows) is fitted to its noise within a few hundred steps: on
scikit-learn's diabetes data, test R^2 -0.12 without the penalty, 0.56 with the weight chosen.

``config.json`` holds the values a run used.
"""

from __future__ import annotations

import dataclasses
from typing import Any, get_args

import tyro

from funcmlp.cli import task

# The values of the toy data set's options when they are not given.
TOY_DEFAULTS: dict[str, Any] = {"dataset": "spiral", "n_per_class": 100, "noise": 0.2}
LECTURE_HIDDEN = (4,)  # funcmlp train's hidden widths on a toy data set
WIDTH_RANGE = (8, 128)  # the hidden width chosen for a --data file: 2 (d + K) clipped to this range
L2_CHOICES = (0.0, 0.001, 0.01, 0.1, 1.0)  # the L2 weights a regression run chooses among


def hidden_width(n_features: int, n_outputs: int) -> int:
    """The hidden width for d = ``n_features`` inputs and K = ``n_outputs`` outputs: 2 (d + K) clipped to
    ``WIDTH_RANGE``."""
    low, high = WIDTH_RANGE
    return min(high, max(low, 2 * (int(n_features) + int(n_outputs))))


def choice_of(names: tuple[str, ...] | Any):
    """The tyro spec of an option taking one of ``names`` (or a ``Literal``'s values) whose default None
    means "not given": the choices listed in order, "None" not among them."""
    names = tuple(get_args(names)) or tuple(names)
    return tyro.constructors.PrimitiveConstructorSpec(
        nargs=1,
        metavar="{" + ",".join(names) + "}",
        instance_from_str=lambda args: args[0],
        is_instance=lambda v: v is None or v in names,
        str_from_instance=lambda v: [str(v)],
        choices=names,
    )


def check_data_options(cfg: Any) -> None:
    """Refuse the toy data set's options given with ``--data`` ("--noise: expected only without --data")."""
    if cfg.data is None:
        return
    for name in TOY_DEFAULTS:
        value = getattr(cfg, name)
        if value is not None:
            raise ValueError(
                f"--{name.replace('_', '-')}: expected only without --data (the file's rows replace the toy "
                f"data set), got {value}"
            )


def check_stopping(cfg: Any) -> None:
    """``--log-every`` and ``--patience`` (where the command has them): positive integers; ``--patience``
    needs validation rows to watch."""
    from funcmlp import checks

    if getattr(cfg, "log_every", None) is not None:
        checks.check_positive_int(cfg.log_every, "--log-every")
    if getattr(cfg, "patience", None) is None:
        return
    checks.check_positive_int(cfg.patience, "--patience")
    if cfg.data is not None and cfg.val == 0:
        raise ValueError(
            "--patience: expected validation rows to watch, got --val 0 (give --val a positive fraction)"
        )


def toy_options(cfg: Any) -> dict[str, Any]:
    """--dataset, --n-per-class and --noise (by field name) as given, else their defaults."""
    return {k: v if getattr(cfg, k) is None else getattr(cfg, k) for k, v in TOY_DEFAULTS.items()}


def resolved(cfg: Any, n_features: int | None = None, n_outputs: int | None = None) -> Any:
    """``cfg`` with the defaults filled in: the toy data set's options without ``--data``, and the hidden
    widths of ``funcmlp train`` when --hidden is not given (from ``n_features`` and ``n_outputs`` with
    ``--data``)."""
    changes = toy_options(cfg) if cfg.data is None else {}
    if getattr(cfg, "hidden", ()) is None:
        if cfg.data is None:
            changes["hidden"] = LECTURE_HIDDEN
        elif n_features is None or n_outputs is None:
            raise TypeError("resolved: the hidden width of a --data run needs n_features and n_outputs")
        else:
            changes["hidden"] = (hidden_width(n_features, n_outputs),)
    return dataclasses.replace(cfg, **changes)


def l2_choices(cfg: Any, n_val: int) -> tuple[float, ...]:
    """The L2 weights ``funcmlp train`` tries: --l2 if given; else ``L2_CHOICES`` for a regression on
    ``--data`` with ``n_val`` > 0 validation rows to choose on; else 0."""
    if cfg.l2 is not None:
        return (float(cfg.l2),)
    if cfg.data is not None and task.is_regression(cfg) and n_val > 0:
        return L2_CHOICES
    return (0.0,)
