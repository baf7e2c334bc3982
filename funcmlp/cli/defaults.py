"""The options that go only with, or only without, ``--data``, and the toy data set's defaults.

The toy data set's options (``--dataset``, ``--n-per-class``, ``--noise``) default to None, "not given",
so that giving one with ``--data`` is refused; ``toy_options`` gives their values (spiral, 100 points per
class, noise 0.2) for a toy run, which trains the lecture's one hidden layer of 4 units unless --hidden is
given. The defaults that depend on the data (the hidden width, the L2 weights a regression chooses among)
are the library's (``funcmlp.fitting.task``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, get_args

import tyro

# The values of the toy data set's options when they are not given.
TOY_DEFAULTS: dict[str, Any] = {"dataset": "spiral", "n_per_class": 100, "noise": 0.2}
LECTURE_HIDDEN = (4,)  # funcmlp train's hidden widths on a toy data set
READ_OPTIONS = ("missing", "drop")  # the options of --data's reader, where the command has them


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


def resolved(cfg: Any) -> Any:
    """``cfg`` with the toy data set's options at their values when it runs on a toy data set."""
    return cfg if cfg.data is not None else dataclasses.replace(cfg, **toy_options(cfg))


def training_options(cfg: Any) -> dict[str, Any]:
    """``funcmlp.fit``'s ``seeds``, ``steps``, ``batch_size`` and ``budget`` from the options: with --data,
    those left out are chosen to fit --budget (default ``budget.DEFAULT_BUDGET`` seconds); a toy data set
    trains 64 seeds x 1000 full-batch steps unless told otherwise."""
    from funcmlp.fitting import budget

    if cfg.data is None:
        return {"seeds": cfg.seeds, "steps": cfg.steps, "batch_size": cfg.batch_size, "budget": None}
    return {
        "seeds": cfg.seeds,
        "steps": cfg.steps,
        "batch_size": budget.AUTO if cfg.batch_size is None else cfg.batch_size,
        "budget": budget.DEFAULT_BUDGET if cfg.budget is None else cfg.budget,
    }


def describe_plan(plan: Any) -> str:
    """What the budget chose, for the summary line (nothing when it chose nothing):
    ``"; 16 seeds x 1000 steps, batch 256 (about 3.1 s of training, budget 10 s)"``."""
    return "" if plan.seconds is None else f"; {plan.describe()}"


def read_options(cfg: Any) -> dict[str, Any]:
    """The file reader's options of a ``--data`` run (``funcmlp.io.datafile.prepare``); none for toy data."""
    if cfg.data is None:
        return {}
    return {k: getattr(cfg, k) for k in READ_OPTIONS if hasattr(cfg, k)}


def check_head(cfg: Any) -> None:
    """--head linear needs --data; --class-weight balanced needs a classification head."""
    if cfg.head == "linear" and cfg.data is None:
        raise ValueError(
            "--head: expected --data with --head linear (the toy data sets hold classes, not real "
            "targets), got no --data"
        )
    if cfg.class_weight != "none" and cfg.head == "linear":
        raise ValueError(
            f"--class-weight: expected a classification head (softmax or sigmoid), got --head {cfg.head}"
        )
