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

from funcmlp.cli import defaults, interrupt, stopped, task
from funcmlp.cli.finish import finish_run
from funcmlp.cli.options import OPTIMIZER_AXES, SWEEP_FILE, SweepConfig, flags, validate_sweep
from funcmlp.cli.train import Run, draw_samples, start_run, sweep_models

# The options of a resumed sweep that come from the command, not from DIR/config.json.
NOT_READ_BACK = ("steps", "quiet", "resume")


def run_sweep(cfg: SweepConfig) -> int:
    import rich

    import funcmlp

    start = None
    if cfg.resume is None:
        run = start_run(cfg, validate_sweep)
    else:
        t0 = time.perf_counter()
        cfg = resumed_config(cfg)
        validate_sweep(cfg)
        run = Run(t0, cfg.resume, *draw_samples(cfg, cfg.seed))
        with flags(path="--resume"):
            start = funcmlp.load_sweep(cfg.resume / SWEEP_FILE)
    cfg = defaults.resolved(cfg)  # the toy data set's options at their defaults when left out
    n, k = run.samples.n_features, task.n_outputs(cfg, run.samples)
    sizes = [(n, *[w] * cfg.depth, k) for w in cfg.widths]
    with flags(start="--resume"):
        result = sweep_models(cfg, run, sizes, list(cfg.activations), start=start, **grid_options(cfg))
    if interrupt.requested():  # SIGINT or SIGTERM: keep what is cheap to keep (funcmlp.cli.stopped)
        return stopped.sweep(cfg, run, result, start)
    if start is not None:
        result = with_earlier_losses(result, start)
    funcmlp.save_sweep(run.out / SWEEP_FILE, result)
    rich.print(result.summary_table())
    result.to_csv(run.out / "models.csv")
    result.to_json(run.out / "models.json")
    best = result.best_configuration()
    draw_figures(result, best, run.out)
    n_models = len(result.groups) * math.prod(result.shape) * result.seeds
    seconds = time.perf_counter() - run.t0
    print(f"{n_models} models on {cfg.data or cfg.dataset} in {seconds:.1f} s -> {run.out}")
    stats = configuration_stats(result, best)
    print(best_line(result, best, stats))
    g, *index, j = result.best(configuration=best)  # its best seed: trained again alone, logged and saved
    group, selected = result.groups[g], result.model(g, *index, j)
    setting = {k: v for k, v in best.items() if k not in ("sizes", "activation", "learning_rate")}
    cfg = dataclasses.replace(cfg, steps=result.step, resume=None)  # config.json: the steps trained in all
    return finish_run(
        cfg,
        run,
        group.sizes,
        best["learning_rate"],
        group.activation,
        seed=j,
        selected=selected,
        headline="best: ",
        setting=setting,
        extra=stats,
    )


def grid_options(cfg: SweepConfig) -> dict[str, Any]:
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


def with_earlier_losses(result, start):
    """``result`` with each model's losses of the steps before (``start``'s) in front: the whole history."""
    import numpy as np

    from funcmlp.sweeps.mesh import to_host

    groups = tuple(
        g._replace(losses=np.concatenate([to_host(old.losses), to_host(g.losses)], axis=-1))
        for g, old in zip(result.groups, start.groups, strict=True)
    )
    return dataclasses.replace(result, groups=groups)


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
