"""What a sweep returns, and its views on the host: a tidy per-model table, a per-configuration summary over
seeds, CSV / JSON export, the best model and the best configuration.

A group's activation is named by its label (``funcmlp.activations.distinct``: two lambdas are ``<lambda>``
and ``<lambda>#2``); a configuration holds both the label (``activation``) and the function
(``activation_fn``), so the best configuration can be trained again as it was swept.

The arrays of a ``GroupResult`` stay on the devices that trained them; the table and summary gather only the
per-model metrics (every process of a multi-process run must call them: the gather is collective).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np

from funcmlp.activations import Activation, named
from funcmlp.mlp import Params
from funcmlp.sweeps.mesh import to_host

METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")


class GroupResult(NamedTuple):
    """One compiled group: fixed sizes and activation, every (configuration, seed) pair.

    Attributes:
      sizes: layer widths (d_0, ..., d_L); activation: the hidden activation's label.
      params: ``[{"w": (*grid, seeds, d_{l-1}, d_l), "b": (*grid, seeds, d_l)}, ...]``, sharded, where
        ``*grid`` are the sweep's axes (``SweepResult.axes``).
      losses: (*grid, seeds, steps) J(theta_t) before each update of this call; NaN after a divergence.
      diverged_at: (*grid, seeds) int32, first step with a non-finite loss or gradient, -1 if none.
      metrics: (*grid, seeds) arrays at the final parameters: ``train_loss``, ``train_accuracy`` and, with
        validation data, ``val_loss``, ``val_accuracy``. Losses are the mean per-sample loss (1/n) sum_i l_i
        (no L2 term); accuracy is the fraction of correct predictions (NaN for the linear head).
      opt_state: every model's optimizer state, leaves with leading axes (*grid, seeds) (from
        ``load_sweep``: the list of its leaves), to continue with ``sweep(..., start=result)``.
      history: with ``sweep(..., log=Logging(every=k))``, every model's curves: ``step`` (rows,) and each
        ``<set>_loss`` / ``<set>_accuracy`` (*grid, seeds, rows) (``funcmlp.sweeps.curves``); else None.
      early_stop: with ``sweep(..., log=Logging(patience=N))``, per model (*grid, seeds): ``best_step``
        (the row whose parameters ``params`` holds) and ``stopped`` (patience ran out); else None.
      halving: with ``sweep(..., halving=...)`` (``funcmlp.sweeps.halving``), per model: ``stopped_at``
        (*grid, seeds), the global step its ``params``, ``opt_state`` and ``metrics`` are at (its last rung
        end, or the sweep's last step); ``rung`` (*grid, seeds), the rung ends its configuration passed;
        ``scores`` (*grid, seeds, rungs), its configuration's score at each rung end (NaN where not ranked).
        Its ``losses`` after ``stopped_at`` hold its last loss. Else None.
    """

    sizes: tuple[int, ...]
    activation: str
    params: Params
    losses: jax.Array
    diverged_at: jax.Array
    metrics: dict[str, jax.Array]
    opt_state: Any = None
    history: dict[str, Any] | None = None
    early_stop: dict[str, Any] | None = None
    halving: dict[str, Any] | None = None


def width_label(sizes: tuple[int, ...]) -> str:
    """Hidden widths as text: (2, 16, 16, 3) -> "16x16"; no hidden layer -> "none"."""
    return "x".join(map(str, sizes[1:-1])) or "none"


def _clean(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """All groups of a sweep. Axis ``name`` of ``axes`` and the seeds index the leading axes of every
    group's arrays, in that order.

    Attributes:
      axes: the grid's axes in order, name -> values (hyperparameters, then ``"l2"`` when it was a list).
      seeds: initialisations per configuration; head: the head's name.
      groups: one ``GroupResult`` per (sizes, activation).
      step: the global steps trained (``sweep(start=...)`` continues from it).
      settings: the fixed hyperparameters and L2 weight (not axes).
      activations: the groups' hidden activations, named by their labels; empty for a sweep read by
        ``load_sweep`` (its built-in activations are then found by name).
    """

    axes: dict[str, tuple[float, ...]]
    seeds: int
    head: str
    groups: tuple[GroupResult, ...]
    step: int = 0
    settings: dict[str, float] = dataclasses.field(default_factory=dict)
    activations: tuple[Activation, ...] = ()

    @property
    def learning_rates(self) -> tuple[float, ...]:
        """The learning-rate axis (``sweep(learning_rates=...)``)."""
        if "learning_rate" not in self.axes:
            raise AttributeError("learning_rates: this sweep has no learning-rate axis")
        return self.axes["learning_rate"]

    @property
    def shape(self) -> tuple[int, ...]:
        """(n_1, ..., n_k): the lengths of the axes before the seeds."""
        return tuple(len(v) for v in self.axes.values())

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns of ``table()``: sizes, width, activation, one per axis, seed, metrics, diverged_at."""
        return ("sizes", "width", "activation", *self.axes, "seed", *METRICS, "diverged_at")

    @property
    def has_validation(self) -> bool:
        return "val_loss" in self.groups[0].metrics

    @property
    def metric(self) -> str:
        """The column that ranks models: validation accuracy if given, else train accuracy (loss: linear)."""
        split = "val" if self.has_validation else "train"
        return f"{split}_loss" if self.head == "linear" else f"{split}_accuracy"

    def configurations(self):
        """Every (group, index) of a configuration: index = (i_1, ..., i_k) into the axes."""
        for g in range(len(self.groups)):
            for index in np.ndindex(*self.shape):
                yield g, index

    def activation_fn(self, label: str) -> Callable[[Any], Any] | None:
        """The hidden activation function a group's ``label`` names: the one the sweep was given, else the
        built-in of that name; None for a function of your own in a sweep read from a file."""
        given = [a for a in self.activations if a.name == label] or [named(label)]
        return None if given[0] is None else given[0].fn

    def configuration(self, group: int, index: tuple[int, ...]) -> dict[str, Any]:
        """The values of configuration ``index`` of ``group``: sizes, ``activation`` (the label),
        ``activation_fn`` (the function, see ``activation_fn``), each axis, the settings."""
        g = self.groups[group]
        values = {name: vals[i] for (name, vals), i in zip(self.axes.items(), index, strict=True)}
        fn = self.activation_fn(g.activation)
        return {
            "sizes": tuple(g.sizes),
            "activation": g.activation,
            "activation_fn": fn,
            **values,
            **self.settings,
        }

    def table(self) -> list[dict[str, Any]]:
        """One row per model (columns ``self.columns``); NaN and missing values are None."""
        rows = []
        for g, group in enumerate(self.groups):
            metrics = {k: to_host(v) for k, v in group.metrics.items()}
            diverged = to_host(group.diverged_at)
            for _, index in (c for c in self.configurations() if c[0] == g):
                values = {name: vals[i] for (name, vals), i in zip(self.axes.items(), index, strict=True)}
                for j in range(self.seeds):
                    at = (*index, j)
                    row = {"sizes": "-".join(map(str, group.sizes)), "width": width_label(group.sizes)}
                    row |= {"activation": group.activation, **values, "seed": j}
                    for k in METRICS:
                        row[k] = _clean(float(metrics[k][at])) if k in metrics else None
                    row["diverged_at"] = int(diverged[at]) if diverged[at] >= 0 else None
                    rows.append(row)
        return rows

    def summary(self) -> list[dict[str, Any]]:
        """Per configuration (sizes, activation, axis values): mean / min / max / std over seeds of the
        ranking metric and of its loss, and the number of diverged seeds."""
        loss_key = self.metric.replace("accuracy", "loss")
        keys = [self.metric] if loss_key == self.metric else [self.metric, loss_key]
        by_config: dict[tuple, list[dict[str, Any]]] = {}
        for row in self.table():
            by_config.setdefault(tuple(row[c] for c in ("sizes", "activation", *self.axes)), []).append(row)
        out = []
        for rows in by_config.values():
            entry = {k: rows[0][k] for k in ("sizes", "width", "activation", *self.axes)}
            entry["seeds"] = len(rows)
            entry["diverged"] = sum(r["diverged_at"] is not None for r in rows)
            for k in keys:
                vals = np.array([np.nan if r[k] is None else r[k] for r in rows], dtype=np.float64)
                stats = (("mean", np.nanmean), ("min", np.nanmin), ("max", np.nanmax), ("std", np.nanstd))
                for stat, fn in stats:
                    entry[f"{k}_{stat}"] = _clean(float(fn(vals))) if np.any(~np.isnan(vals)) else None
            out.append(entry)
        return out

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write the per-model table as CSV (None as an empty cell)."""
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(self.table())

    def to_json(self, path: str | os.PathLike) -> None:
        """Write ``{"models": table, "summary": summary, "best_configuration": ...}`` as JSON (None as
        null; the configuration's function is named by its ``activation`` label)."""
        best = {k: v for k, v in self.best_configuration().items() if k != "activation_fn"}
        doc = {"models": self.table(), "summary": self.summary(), "best_configuration": best}
        with open(path, "w") as f:
            f.write(json.dumps(doc, indent=1) + "\n")

    def _ranked(self, metric: str | None):
        """(sign, per group the host arrays of the metric, its tie-breaking loss and the divergence)."""
        metric = self.metric if metric is None else metric
        tie = metric.replace("accuracy", "loss")
        arrays = []
        for group in self.groups:
            if metric not in group.metrics:
                raise ValueError(f"metric: expected one of {', '.join(group.metrics)}, got {metric!r}")
            arrays.append(
                (to_host(group.metrics[metric]), to_host(group.metrics[tie]), to_host(group.diverged_at) >= 0)
            )
        return 1.0 if "loss" in metric else -1.0, arrays

    def best(self, metric: str | None = None, configuration: dict[str, Any] | None = None) -> tuple[int, ...]:
        """(group, i_1, ..., i_k, j) of the best model by ``metric`` (default ``self.metric``): highest
        accuracy or lowest loss; ties go to the lower loss on the same split; diverged models rank last.
        With ``configuration`` (as ``best_configuration`` returns it): the best seed of that configuration."""
        sign, arrays = self._ranked(metric)
        best_key, best_at = None, None
        for g, index in self.configurations():
            if configuration is not None and self.configuration(g, index) != configuration:
                continue
            m, t, diverged = (a[index] for a in arrays[g])
            for j in range(self.seeds):
                k = (
                    bool(diverged[j]),
                    np.nan_to_num(sign * m[j], nan=np.inf),
                    np.nan_to_num(t[j], nan=np.inf),
                )
                if best_key is None or k < best_key:
                    best_key, best_at = k, (g, *index, j)
        if best_at is None:
            raise ValueError(
                f"configuration: expected one of this sweep's configurations, got {configuration!r}"
            )
        return best_at

    def best_configuration(self, metric: str | None = None) -> dict[str, Any]:
        """The configuration (as ``configuration`` gives it: sizes, the activation's label and function, each
        axis value, the settings) with the best mean of ``metric`` over its seeds (highest accuracy or
        lowest loss; ties: lower mean loss). A diverged seed counts with its metric at the parameters it
        kept."""
        sign, arrays = self._ranked(metric)
        best_key, best_at = None, (0, ())
        for g, index in self.configurations():
            m, t, _ = (np.asarray(a[index], np.float64) for a in arrays[g])
            mean_m = np.nanmean(m) if np.any(~np.isnan(m)) else np.nan
            mean_t = np.nanmean(t) if np.any(~np.isnan(t)) else np.nan
            k = (np.nan_to_num(sign * mean_m, nan=np.inf), np.nan_to_num(mean_t, nan=np.inf))
            if best_key is None or k < best_key:
                best_key, best_at = k, (g, index)
        return self.configuration(*best_at)

    def model(self, group: int, *index: int) -> Params:
        """The parameters of model (i_1, ..., i_k, j) of a group, as numpy arrays on this host."""
        return jax.tree.map(lambda a: to_host(a)[tuple(index)], self.groups[group].params)

    def summary_table(self, title: str | None = None):
        """The summary as a ``rich.table.Table`` (print it with ``rich.print``); diverged rows in red."""
        from rich.table import Table

        metric = self.metric
        loss_key = metric.replace("accuracy", "loss")
        table = Table(title=title or f"{metric_label(metric).capitalize()} over {self.seeds} seeds")
        for c in ("width", "activation"):
            table.add_column(c)
        for name in self.axes:
            table.add_column(name.replace("_", "\n"), justify="right")
        table.add_column(f"{metric_label(metric)}\nmean \\[min, max]", justify="right", no_wrap=True)
        table.add_column(f"{metric_label(loss_key)}\nmean", justify="right")
        table.add_column("diverged", justify="right")
        for r in self.summary():
            spread = f"{_fmt(r[metric + '_mean'])} [{_fmt(r[metric + '_min'])}, {_fmt(r[metric + '_max'])}]"
            cells = (r["width"], r["activation"], *(f"{r[name]:g}" for name in self.axes), spread)
            style = "red" if r["diverged"] else None
            table.add_row(*cells, _fmt(r[loss_key + "_mean"]), f"{r['diverged']}/{r['seeds']}", style=style)
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
