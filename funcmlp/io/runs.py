"""Run directories: everything one training run produced, in ``runs/<name or timestamp>/``.

    config.json         the options the run was started with
    metrics.json        the summary: accuracies, final loss, divergence step, seconds
    metrics.csv         one row per logged step: step, train_loss, train_accuracy, val_..., test_...
    params.safetensors  the trained parameters, with what is needed to apply them to new points
                        (activation, head, standardisation, class labels, feature names)
    *.png               the figures

``show(dir)`` summarises a run; ``load_model(dir)`` gives back a ``Model`` whose ``predict`` takes raw
feature rows, as they appear in a data file.

Making the directory and its JSON / CSV files is ``rundir``'s, the saved network ``model``'s; this module
reads a whole run back (``load_run``) and summarises it (``show``), and offers all of their names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from funcmlp.io.model import CHECKPOINT, Model, load_model, save_model
from funcmlp.io.rundir import RUN_FILES, create, read_history, read_json, write_history, write_json

__all__ = [
    "CHECKPOINT",
    "RUN_FILES",
    "Model",
    "Run",
    "create",
    "load_model",
    "load_run",
    "read_history",
    "save_model",
    "show",
    "write_history",
    "write_json",
]


class Run(NamedTuple):
    """A finished run read back: its directory, options, final metrics, logged history and network."""

    path: Path
    config: dict[str, Any]
    metrics: dict[str, Any]
    history: dict[str, np.ndarray]
    model: Model


def load_run(run_dir: str | os.PathLike, *, activation: Any = None, head: Any = None) -> Run:
    """Everything a run directory holds, in one call: config.json, metrics.json, metrics.csv (as columns)
    and the saved network (``load_model``; pass back ``activation`` / ``head`` functions it was trained with).

    Raises:
      ValueError: not a run directory, or its checkpoint is missing or damaged.
    """
    path = Path(run_dir)
    if not (path / "config.json").is_file():
        raise ValueError(f"run_dir: expected a run directory holding config.json, got {str(run_dir)!r}")
    history = path / "metrics.csv"
    return Run(
        path,
        read_json(path / "config.json"),
        read_json(path / "metrics.json") if (path / "metrics.json").is_file() else {},
        read_history(history) if history.is_file() else {},
        load_model(path, activation=activation, head=head),
    )


# How ``show`` names a result whose name alone would mislead: final_loss is J with the L2 term, the losses
# of metrics.csv (train_loss, ...) are the data loss alone.
_LABELS = {"final_loss": "final_loss (with L2)"}


def _fmt(v: Any, key: str = "") -> str:
    """A value for ``show``. Integer lists: ``sizes`` 2-8-32-3 (inputs to outputs); ``hidden`` 8x32, the
    hidden widths of one network as ``funcmlp.sweeps.results.width_label`` writes them; ``widths`` 8, 32 (a
    sweep's alternatives, one network each)."""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list) and v and all(isinstance(x, int) for x in v) and key != "widths":
        return ("x" if key == "hidden" else "-").join(map(str, v))
    if isinstance(v, list):
        return ", ".join(map(str, v))
    return str(v)


def show(run_dir: str | os.PathLike) -> str:
    """A plain-text summary of a run: its options, results, learning history and files.

    Raises:
      ValueError: ``run_dir`` is not a directory holding a run (no config.json, metrics or checkpoint).
    """
    path = Path(run_dir)
    known = ("config.json", "metrics.json", "metrics.csv", CHECKPOINT)
    if not path.is_dir() or not any((path / f).exists() for f in known):
        raise ValueError(
            f"run_dir: expected a run directory (with config.json or metrics.json), got {str(run_dir)!r}"
        )
    config, metrics = read_json(path / "config.json"), read_json(path / "metrics.json")
    if config.get("data"):  # a data file replaces the toy data set and its options
        config = {k: v for k, v in config.items() if k not in ("dataset", "n_per_class", "noise")}
    w = max([16, *(len(_LABELS.get(k, k)) + 1 for k in (*config, *metrics))])
    lines = [f"run {path}"]
    if config:
        lines.append("options:")
        lines += [f"  {k:<{w}} {_fmt(v, k)}" for k, v in config.items() if v is not None]
    if metrics:
        lines.append("results:")
        lines += [
            f"  {_LABELS.get(k, k):<{w}} {_fmt(v, k)}"
            for k, v in metrics.items()
            if not isinstance(v, (dict, list)) or k == "sizes"
        ]
    if (path / "metrics.csv").exists():
        h = read_history(path / "metrics.csv")
        if h and h.get("step", np.empty(0)).size:
            steps = h["step"]
            lines.append(
                f"history: {steps.size} logged steps, {int(steps[0])} to {int(steps[-1])} "
                "(metrics.csv; losses without the L2 term)"
            )
            for k, v in h.items():
                if k == "step" or not np.isfinite(v).any():
                    continue
                best = np.nanargmin(v) if k.endswith("loss") else np.nanargmax(v)
                lines.append(
                    f"  {k:<{w}} first {v[0]:.4g}, last {v[-1]:.4g}, "
                    f"{'lowest' if k.endswith('loss') else 'highest'} {v[best]:.4g} "
                    f"at step {int(steps[best])}"
                )
    files = sorted(p.name for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    lines.append("files: " + ", ".join(files))
    return "\n".join(lines)
