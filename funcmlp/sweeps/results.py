"""What a sweep returns, and its views on the host: a tidy per-model table, a per-configuration summary over
seeds, CSV / JSON export, the best model.

The arrays of a ``GroupResult`` stay on the devices that trained them; the table and summary gather only the
per-model metrics (every process of a multi-process run must call them: the gather is collective).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from typing import Any, NamedTuple

import jax
import numpy as np

from funcmlp.mlp import Params
from funcmlp.sweeps.mesh import to_host

COLUMNS = (
    "sizes",
    "width",
    "activation",
    "learning_rate",
    "seed",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "diverged_at",
)


class GroupResult(NamedTuple):
    """One compiled group: fixed sizes and activation, every (learning rate, seed) pair.

    Attributes:
      sizes: layer widths (d_0, ..., d_L); activation: hidden activation name.
      params: ``[{"w": (n_lr, n_seeds, d_{l-1}, d_l), "b": (n_lr, n_seeds, d_l)}, ...]``, sharded.
      losses: (n_lr, n_seeds, steps) J(theta_t) before each update; NaN after a divergence.
      diverged_at: (n_lr, n_seeds) int32, first step with a non-finite loss or gradient, -1 if none.
      metrics: (n_lr, n_seeds) arrays at the final parameters: ``train_loss``, ``train_accuracy`` and, with
        validation data, ``val_loss``, ``val_accuracy``. Losses are the mean per-sample loss (1/n) sum_i l_i
        (no L2 term); accuracy is the fraction of correct predictions (NaN for the linear head).
    """

    sizes: tuple[int, ...]
    activation: str
    params: Params
    losses: jax.Array
    diverged_at: jax.Array
    metrics: dict[str, jax.Array]


def width_label(sizes: tuple[int, ...]) -> str:
    """Hidden widths as text: (2, 16, 16, 3) -> "16x16"; no hidden layer -> "none"."""
    return "x".join(map(str, sizes[1:-1])) or "none"


def _clean(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """All groups of a sweep. ``learning_rates[i]`` and seed ``j`` index axes 0 and 1 of every group's arrays."""

    learning_rates: tuple[float, ...]
    seeds: int
    head: str
    groups: tuple[GroupResult, ...]

    @property
    def has_validation(self) -> bool:
        return "val_loss" in self.groups[0].metrics

    @property
    def metric(self) -> str:
        """The column that ranks models: validation accuracy if given, else train accuracy (loss: linear)."""
        split = "val" if self.has_validation else "train"
        return f"{split}_loss" if self.head == "linear" else f"{split}_accuracy"

    def table(self) -> list[dict[str, Any]]:
        """One row per model (columns ``COLUMNS``); NaN and missing values are None."""
        rows = []
        for g in self.groups:
            metrics = {k: to_host(v) for k, v in g.metrics.items()}
            diverged = to_host(g.diverged_at)
            for i, lr in enumerate(self.learning_rates):
                for j in range(self.seeds):
                    row = {"sizes": "-".join(map(str, g.sizes)), "width": width_label(g.sizes)}
                    row |= {"activation": g.activation, "learning_rate": lr, "seed": j}
                    for k in COLUMNS[5:9]:
                        row[k] = _clean(float(metrics[k][i, j])) if k in metrics else None
                    row["diverged_at"] = int(diverged[i, j]) if diverged[i, j] >= 0 else None
                    rows.append(row)
        return rows

    def summary(self) -> list[dict[str, Any]]:
        """Per (sizes, activation, learning rate): mean / min / max over seeds of the ranking metric and of
        its loss, and the number of diverged seeds."""
        loss_key = self.metric.replace("accuracy", "loss")
        keys = [self.metric] if loss_key == self.metric else [self.metric, loss_key]
        groups: dict[tuple, list[dict[str, Any]]] = {}
        for row in self.table():
            groups.setdefault((row["sizes"], row["activation"], row["learning_rate"]), []).append(row)
        out = []
        for rows in groups.values():
            first = rows[0]
            entry = {k: first[k] for k in ("sizes", "width", "activation", "learning_rate")}
            entry["seeds"] = len(rows)
            entry["diverged"] = sum(r["diverged_at"] is not None for r in rows)
            for k in keys:
                vals = np.array([np.nan if r[k] is None else r[k] for r in rows], dtype=np.float64)
                for stat, fn in (("mean", np.nanmean), ("min", np.nanmin), ("max", np.nanmax)):
                    entry[f"{k}_{stat}"] = _clean(float(fn(vals))) if np.any(~np.isnan(vals)) else None
            out.append(entry)
        return out

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write the per-model table as CSV (None as an empty cell)."""
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(self.table())

    def to_json(self, path: str | os.PathLike) -> None:
        """Write ``{"models": table, "summary": summary}`` as JSON (None as null)."""
        doc = {"models": self.table(), "summary": self.summary()}
        with open(path, "w") as f:
            f.write(json.dumps(doc, indent=1) + "\n")

    def best(self, metric: str | None = None) -> tuple[int, int, int]:
        """(group, i, j) of the best model by ``metric`` (default ``self.metric``): highest accuracy or
        lowest loss; ties go to the lower loss on the same split; diverged models rank last."""
        metric = self.metric if metric is None else metric
        tie = metric.replace("accuracy", "loss")
        sign = 1.0 if "loss" in metric else -1.0
        best_key, best_at = None, (0, 0, 0)
        for g, group in enumerate(self.groups):
            if metric not in group.metrics:
                raise ValueError(f"metric: expected one of {', '.join(group.metrics)}, got {metric!r}")
            m, t = to_host(group.metrics[metric]), to_host(group.metrics[tie])
            diverged = to_host(group.diverged_at) >= 0
            for i, j in np.ndindex(m.shape):
                k = (
                    bool(diverged[i, j]),
                    np.nan_to_num(sign * m[i, j], nan=np.inf),
                    np.nan_to_num(t[i, j], nan=np.inf),
                )
                if best_key is None or k < best_key:
                    best_key, best_at = k, (g, i, j)
        return best_at

    def model(self, group: int, i: int, j: int) -> Params:
        """The parameters of model (i, j) of a group, as numpy arrays on this host."""
        return jax.tree.map(lambda a: to_host(a)[i, j], self.groups[group].params)

    def summary_table(self, title: str | None = None):
        """The summary as a ``rich.table.Table`` (print it with ``rich.print``); diverged rows in red."""
        from rich.table import Table

        metric = self.metric
        loss_key = metric.replace("accuracy", "loss")
        table = Table(title=title or f"{metric_label(metric).capitalize()} over {self.seeds} seeds")
        for c in ("width", "activation"):
            table.add_column(c)
        table.add_column("learning\nrate", justify="right")
        table.add_column(f"{metric_label(metric)}\nmean \\[min, max]", justify="right", no_wrap=True)
        table.add_column(f"{metric_label(loss_key)}\nmean", justify="right")
        table.add_column("diverged", justify="right")
        for r in self.summary():
            spread = f"{_fmt(r[metric + '_mean'])} [{_fmt(r[metric + '_min'])}, {_fmt(r[metric + '_max'])}]"
            cells = (
                r["width"],
                r["activation"],
                f"{r['learning_rate']:g}",
                spread,
                _fmt(r[loss_key + "_mean"]),
            )
            table.add_row(*cells, f"{r['diverged']}/{r['seeds']}", style="red" if r["diverged"] else None)
        return table


def metric_label(metric: str) -> str:
    """ "val_accuracy" -> "validation accuracy"."""
    return metric.replace("val_", "validation ").replace("_", " ")


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)
