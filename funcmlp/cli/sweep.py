"""``funcmlp sweep``: every (width, activation, learning rate, optimizer setting, l2, seed) trained at once,
summarised over seeds, and the whole sweep kept in the run directory.

The grid's axes are --learning-rates, the optimizer's own arguments (--momentum for sgd and momentum, --b1
and --b2 for adam) and --l2, in that order; one value of an option is a fixed setting, several an axis.
--widths and --activations make one compiled group each. The run directory holds sweep.safetensors (every
model with its optimizer state: ``funcmlp.save_sweep``), models.csv and models.json (a row per model, a
column per axis), heatmap.png and seed_spread.png (``funcmlp.sweeps.figures``) and, as for
``funcmlp train``, params.safetensors: the best seed of the best configuration (the best mean over seeds),
which ``funcmlp predict`` applies (``--ensemble K``: the average of its top K seeds).

``funcmlp sweep --resume DIR --steps N`` continues the sweep saved in DIR for N more steps and writes DIR
again (N steps, then N more, equal 2N steps). The options left out are read back from DIR/config.json; one
given must have the saved value (one given at its default value counts as left out).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any

from funcmlp.cli import defaults, interrupt, stopped
from funcmlp.cli.options import DEFAULT_HELD_OUT, SWEEP_FILE, SweepConfig, flags, validate_sweep
from funcmlp.cli.train import FLAGS, close_logger, finish, open_logger, open_run, toy_samples

# The options of a resumed sweep that come from the command, not from DIR/config.json.
NOT_READ_BACK = ("steps", "quiet", "resume")


def load_samples(cfg: SweepConfig) -> tuple[Any, Any]:
    """(``funcmlp.fitting.Samples``, ``Task``) of the toy data set or the --data file."""
    from funcmlp.fitting import run_keys, samples

    if cfg.data is None:
        (x, y), val, test = toy_samples(cfg)
        return samples.load(x, y, key=None, head=cfg.head, val=val, test=test, standardize=False)
    val, test = (DEFAULT_HELD_OUT if v is None else v for v in (cfg.val, cfg.test))
    key = run_keys(cfg.seed)["train"]
    with flags(**FLAGS):
        read = defaults.read_options(cfg)
        return samples.load(
            cfg.data, None, key=key, head=cfg.head, val=val, test=test, standardize=cfg.standardize, **read
        )


def run_sweep(cfg: SweepConfig) -> int:
    import rich

    import funcmlp
    from funcmlp import fitting
    from funcmlp.fitting import task as task_checks

    t0, start = time.perf_counter(), None
    if cfg.resume is not None:
        cfg = resumed_config(cfg)
    validate_sweep(cfg)
    data, task = load_samples(cfg)
    with flags(**FLAGS):
        task_checks.check_batch_size(cfg.batch_size, len(data.train[1]))
    task = task._replace(class_weight=cfg.class_weight)
    if cfg.resume is None:
        out = open_run(cfg)
    else:
        out = cfg.resume
        with flags(path="--resume"):
            start = funcmlp.load_sweep(cfg.resume / SWEEP_FILE)
    logger = open_logger(cfg, out)
    result, every = sweep_models(cfg, data, task, start, logger)
    if interrupt.requested():  # SIGINT or SIGTERM: keep what is cheap to keep (funcmlp.cli.stopped)
        return stopped.sweep(cfg, out, result, start)
    funcmlp.save_sweep(out / SWEEP_FILE, result)
    rich.print(result.summary_table())
    result.to_csv(out / "models.csv")
    result.to_json(out / "models.json")
    best = result.best_configuration()
    draw_figures(result, best, out)
    n_models = len(result.groups) * math.prod(result.shape) * result.seeds
    print(
        f"{n_models} models on {cfg.data or defaults.toy_options(cfg)['dataset']} in {time.perf_counter() - t0:.1f} s -> {out}"
    )
    stats = configuration_stats(result, best)
    print(best_line(result, best, stats))
    shown = [k for k in best if k not in ("sizes", "activation", "activation_fn", "learning_rate")]
    options = {"log_every": every, "steps": result.step}
    fit = fitting.select(result, data, task, options=options, shown=shown, configuration=best, extra=stats)
    code = finish(cfg, fit, out, t0, headline="best: ", steps=result.step, resume=None)
    if logger is not None:
        from funcmlp import tracking

        tracking.log_sweep(logger, result, losses=False)
        tracking.log_history(logger, fit.history, run="chosen")
    close_logger(logger, out)
    return code


def sweep_models(cfg: SweepConfig, data: Any, task: Any, start: Any, logger: Any = None) -> tuple[Any, int]:
    """``funcmlp.sweep`` of the options' grid behind a progress bar, every model's curves logged; and the
    logging interval."""
    from funcmlp import chunking
    from funcmlp.cli import progress
    from funcmlp.fitting.fit import sweep_samples
    from funcmlp.fitting.optimizers import optimizer_factory
    from funcmlp.history import chunk_size

    n, k = data.n_features, task.n_outputs
    sizes = [(n, *[w] * cfg.depth, k) for w in cfg.widths]
    grid = grid_options(cfg)
    configurations = grid.pop("configurations")
    n_models = len(sizes) * len(cfg.activations) * configurations * cfg.seeds
    every = cfg.log_every or chunking.round_interval(chunk_size(cfg.steps))
    total = len(sizes) * len(cfg.activations) * cfg.steps
    bar = progress.Progress(total, description=f"{n_models} models", quiet=cfg.quiet)
    callback = tracked(logger, cfg, grid, sizes, interrupt.stopping(bar), start)
    with bar, flags(start="--resume", batch_size="--batch-size"):
        result = sweep_samples(
            data, task, seed=cfg.seed, sizes=sizes, seeds=cfg.seeds, steps=cfg.steps, every=every,
            configurations=configurations, batch_size=cfg.batch_size, activation=list(cfg.activations),
            optimizer=optimizer_factory(cfg.optimizer), scheme=cfg.init, callback=callback, start=start,
            **grid,
        )  # fmt: skip
    return result, every


def tracked(logger: Any, cfg: SweepConfig, grid: dict[str, Any], sizes, callback, start) -> Any:
    """``callback`` that first logs every model's last loss of the chunk to ``logger`` (when given)."""
    if logger is None:
        return callback
    from funcmlp import activations, tracking
    from funcmlp.fitting.optimizers import optimizer_factory
    from funcmlp.sweeps.axes import grid_of

    factory = optimizer_factory(cfg.optimizer)
    axes = grid_of(grid.get("learning_rates"), grid.get("hyperparams"), grid["l2"], factory).axes
    groups = [(s, activations.get(a).name) for s in sizes for a in cfg.activations]
    first = 0 if start is None else start.step
    return tracking.sweep_callback(
        logger, axes=axes, seeds=cfg.seeds, groups=groups, start=first, then=callback
    )


def grid_options(cfg: SweepConfig) -> dict[str, Any]:
    from funcmlp.fitting.optimizers import OPTIMIZER_AXES

    """``funcmlp.sweep``'s grid of the options: ``learning_rates=``, or ``hyperparams=`` when the optimizer's
    own options are given, and ``l2=``; one value is a fixed setting, several an axis. With
    ``configurations``: the number of configurations."""

    def axis(values: tuple[float, ...]) -> Any:
        return list(values) if len(values) > 1 else float(values[0])

    own = {k: getattr(cfg, k) for k in OPTIMIZER_AXES[cfg.optimizer] if getattr(cfg, k) is not None}
    sizes = [len(cfg.learning_rates), *(len(v) for v in (*own.values(), cfg.l2) if len(v) > 1)]
    grid: dict[str, Any] = {"l2": axis(cfg.l2), "configurations": math.prod(sizes)}
    if own:
        grid["hyperparams"] = {"learning_rate": list(cfg.learning_rates)} | {
            k: axis(v) for k, v in own.items()
        }
    else:
        grid["learning_rates"] = list(cfg.learning_rates)
    return grid


def _shown(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def resumed_config(cfg: SweepConfig) -> SweepConfig:
    """The options of the sweep in --resume DIR, read back from DIR/config.json but for ``NOT_READ_BACK``.

    Raises:
      ValueError: DIR holds no sweep, --out, --name or --overwrite is given, or an option given differs
        from the saved one (an option at its default value counts as not given).
    """
    folder = cfg.resume
    if not (folder / SWEEP_FILE).is_file() or not (folder / "config.json").is_file():
        raise ValueError(
            f"--resume: expected a sweep run directory holding {SWEEP_FILE} and config.json, "
            f"got {str(folder)!r}"
        )
    for flag, value in (("--out", cfg.out), ("--name", cfg.name), ("--overwrite", cfg.overwrite or None)):
        if value is not None:
            raise ValueError(
                f"{flag}: expected none with --resume (the sweep is written to DIR again), got {value}"
            )
    try:
        saved = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"--resume: expected a readable {folder / 'config.json'}, got {e}") from None
    if isinstance(saved, dict) and saved.get("data"):  # a --data sweep: the toy options are not its own
        saved = {k: v for k, v in saved.items() if k not in defaults.TOY_DEFAULTS}
    default, values = SweepConfig(), {}
    for field in dataclasses.fields(SweepConfig):
        if field.name in NOT_READ_BACK:
            continue
        old = getattr(default, field.name)
        value = saved.get(field.name, old) if isinstance(saved, dict) else old
        if isinstance(value, list) or (isinstance(old, tuple) and isinstance(value, (int, float))):
            value = tuple(value) if isinstance(value, list) else (value,)
        elif isinstance(value, str) and "Path" in str(field.type):
            value = Path(value)
        given = getattr(cfg, field.name)
        if given != old and given != value:
            flag = "--" + field.name.replace("_", "-")
            raise ValueError(
                f"{flag}: expected the resumed sweep's {_shown(value)} "
                f"(from {str(folder / 'config.json')!r}) "
                f"or nothing, got {_shown(given)}"
            )
        values[field.name] = value
    return dataclasses.replace(cfg, **values)


def configuration_stats(result, configuration: dict[str, Any]) -> dict[str, Any]:
    """The ranking metric's mean, min, max and std over the seeds of ``configuration`` and its diverged
    seeds, as ``configuration_<metric>_<stat>`` and ``configuration_diverged``."""
    sizes = "-".join(map(str, configuration["sizes"]))
    for row in result.summary():
        if (row["sizes"], row["activation"]) == (sizes, configuration["activation"]) and all(
            row[a] == configuration[a] for a in result.axes
        ):
            stats = {f"configuration_{k}": v for k, v in row.items() if k.startswith(result.metric + "_")}
            return {**stats, "configuration_diverged": row["diverged"]}
    raise ValueError(f"configuration: expected one of the sweep's configurations, got {configuration!r}")


def best_line(result, configuration: dict[str, Any], stats: dict[str, Any]) -> str:
    """ "best configuration: width 4, relu, learning_rate 0.3, ...: validation accuracy 0.9 mean over 2 seeds
    (min, max, std)"."""
    from funcmlp.sweeps.results import metric_label, width_label

    def num(v: Any) -> str:
        return "-" if v is None else f"{v:.3f}"

    m = stats[f"configuration_{result.metric}_mean"]
    spread = ", ".join(
        f"{s} {num(stats[f'configuration_{result.metric}_{s}'])}" for s in ("min", "max", "std")
    )
    values = ", ".join(f"{k} {configuration[k]:g}" for k in result.axes)
    where = f"width {width_label(configuration['sizes'])}, {configuration['activation']}, {values}"
    label = metric_label(result.metric)
    return f"best configuration: {where}: {label} {num(m)} mean over {result.seeds} seeds ({spread})"


def draw_figures(result, configuration: dict[str, Any], out: Path) -> None:
    """heatmap.png (mean over seeds, learning rate x width or x the next axis, at the best configuration's
    value of every other axis, named in its title) and seed_spread.png (every seed of every configuration)."""
    from funcmlp.sweeps import figures

    figures.heatmap(result, out / "heatmap.png")
    figures.seed_spread(result, out / "seed_spread.png")
