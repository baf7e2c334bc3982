"""``funcmlp train``: the options read, ``funcmlp.fit`` called behind a progress bar that a SIGINT or SIGTERM
stops, the run written by ``funcmlp.save_run``, one summary line printed.

The samples of a toy data set (``--dataset``) are drawn here, each with its own key of the run
(``funcmlp.fitting.run_keys``); a ``--data`` file is read, split and standardised by ``fit``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from funcmlp.cli import defaults, interrupt
from funcmlp.cli.options import DEFAULT_HELD_OUT, RunOptions, TrainConfig, flags, validate_train

# How the library's argument names read as options in an error message.
FLAGS = {
    "path": "--data",
    "val": "--val",
    "test": "--test",
    "val, test": "--val, --test",
    "batch_size": "--batch-size",
    "budget": "--budget",
    "seeds": "--seeds",
    "steps": "--steps",
    "patience": "--patience",
    "head": "--head",
    "data": "--data",
    "drop": "--drop",
    "missing": "--missing",
}


def make_data(cfg: RunOptions, key):
    """One sample of the toy data set ``--dataset`` (the options left out at their defaults)."""
    from funcmlp import data

    toy = defaults.toy_options(cfg)
    name, n, noise = toy["dataset"], toy["n_per_class"], toy["noise"]
    if name == "spiral":
        return data.spiral(key, n, noise=noise)
    if name == "xor":
        return data.xor(key, n // 2 or 1, noise=noise)
    if name == "blobs":
        return data.blobs(key, n, spread=noise)
    return data.DATASETS[name](key, n, noise=noise)


def toy_samples(cfg: RunOptions) -> tuple[Any, Any, Any]:
    """The training, validation and test samples of the toy data set, each drawn with its run key."""
    import jax

    from funcmlp.fitting import run_keys

    keys = run_keys(cfg.seed)
    draw = jax.jit(functools.partial(make_data, cfg))  # one compile for the three samples
    return tuple(draw(keys[k]) for k in ("train", "val", "test"))


def open_run(cfg: RunOptions) -> Path:
    """The run directory: --out, else runs/--name, else runs/<date-time>; made now, so it fails early."""
    from funcmlp.io import runs

    with flags(name="--name", out="--out", root="--name"):
        return runs.create(cfg.name, out=cfg.out, overwrite=cfg.overwrite)


def fit_options(cfg: TrainConfig) -> dict[str, Any]:
    """``funcmlp.fit``'s arguments from the options."""
    hidden = cfg.hidden if cfg.hidden is not None or cfg.data is not None else defaults.LECTURE_HIDDEN
    return dict(
        head=cfg.head, hidden=hidden, activation=cfg.activation, optimizer=cfg.optimizer,
        learning_rate=cfg.lr, l2=cfg.l2, init=cfg.init, standardize=cfg.standardize,
        class_weight=cfg.class_weight, patience=cfg.patience, log_every=cfg.log_every, seed=cfg.seed,
        **defaults.training_options(cfg), **defaults.read_options(cfg),
    )  # fmt: skip


def data_name(cfg: RunOptions) -> str:
    return cfg.data.name if cfg.data is not None else defaults.toy_options(cfg)["dataset"]


def open_logger(cfg: RunOptions, out: Path) -> Any:
    """The sink of --tensorboard DIR and --wandb PROJECT (both: fanned out), or None."""
    if cfg.tensorboard is None and cfg.wandb is None:
        return None
    from funcmlp import tracking

    sinks = []
    if cfg.quiet and cfg.wandb is not None:
        os.environ.setdefault("WANDB_SILENT", "true")  # W&B's own console lines too
    for flag, make, value in (
        ("--tensorboard", tracking.TensorBoard, cfg.tensorboard),
        ("--wandb", lambda p: tracking.WandB(p, dir=out, name=out.name), cfg.wandb),
    ):
        if value is None:
            continue
        try:
            sinks.append(make(value))
        except ImportError as e:  # the optional extra is not installed: one line saying how
            raise ValueError(f"{flag}: {e}") from None
    return sinks[0] if len(sinks) == 1 else tracking.Multi(*sinks)


def close_logger(logger: Any, out: Path) -> None:
    """The run's figures into the sink, then close it."""
    if logger is None:
        return
    from funcmlp import tracking

    tracking.log_figures(logger, out, run="chosen")
    logger.close()


def run_train(cfg: TrainConfig) -> int:
    from funcmlp import fitting
    from funcmlp.cli import progress

    t0 = time.perf_counter()
    validate_train(cfg)
    toy = toy_samples(cfg) if cfg.data is None else None
    out = open_run(cfg)
    logger = None
    try:
        logger = open_logger(cfg, out)
        with progress.Progress(cfg.steps or 1, quiet=cfg.quiet) as bar:
            plans = []  # the run's budget.Plan, known once the data are read

            def planned(plan):
                plans.append(plan)
                bar.total, bar.description = plan.steps, f"{plan.seeds} seeds"

            callback = interrupt.stopping(bar)  # True after a signal: it stops
            with flags(**FLAGS):
                if toy is None:
                    val, test = (DEFAULT_HELD_OUT if v is None else v for v in (cfg.val, cfg.test))
                    data, y = cfg.data, None
                else:
                    (data, y), val, test = toy
                fit = fitting.fit(
                    data, y, val=val, test=test, callback=callback, on_plan=planned, logger=logger,
                    **fit_options(cfg),
                )  # fmt: skip
    except (ValueError, TypeError, ImportError):
        if logger is not None:
            logger.close()
        if out.is_dir() and not any(out.iterdir()):
            shutil.rmtree(out)  # nothing was written: the directory goes with the error
        raise
    chosen = {k: fit.options[k] for k in ("steps", "seeds", "batch_size", "budget")}
    plan = defaults.describe_plan(plans[0]) if plans else ""
    code = finish(
        cfg, fit, out, t0, plan, hidden=tuple(fit.options["hidden"]), l2=float(fit.choice["l2"]), **chosen
    )
    close_logger(logger, out)
    return code


def finish(
    cfg: Any, fit: Any, out: Path, t0: float, plan: str = "", headline: str = "", **changes: Any
) -> int:
    """Write the run (config.json: the options with ``changes``, the values the run used), print its
    summary line (``plan``: what a budget chose, after the scores) and return the exit code (1 after a
    divergence, the interrupted code after a signal)."""
    from funcmlp import fitting
    from funcmlp.io import datafile

    fit.metrics["seconds"] = time.perf_counter() - t0
    resolved = dataclasses.replace(cfg, **changes)
    config_json = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(resolved).items()}
    if cfg.data is None:
        config_json |= defaults.toy_options(cfg)
    fitting.save_run(out, fit, config=config_json, data_name=data_name(cfg))
    prep = getattr(fit.samples.prepared, "preprocessing", None)
    if prep is not None and not cfg.quiet and datafile.reworks(prep):  # what --data's columns became
        print(f"--data: {datafile.describe(prep)}", file=sys.stderr)
    print(f"{headline}{fitting.summary(fit, data_name(cfg))}{plan}, {fit.metrics['seconds']:.1f} s -> {out}")
    if fit.interrupted:
        return interrupt.report(out, fit.metrics["step"], fit.options["steps"])
    diverged_at = fit.metrics["diverged_at"]
    if diverged_at is not None:
        where = out / "metrics.json"
        print(
            f"funcmlp: error: the loss became non-finite at step {diverged_at}; see {where}", file=sys.stderr
        )
        return 1
    return 0
