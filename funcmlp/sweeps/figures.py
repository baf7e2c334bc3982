"""Figures of a sweep (matplotlib, Agg backend): the learning rate x width heatmap of the mean metric over
seeds, and the spread of the metric over seeds."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from funcmlp.sweeps.results import SweepResult, metric_label  # noqa: E402


def _axes_per_activation(result: SweepResult, height: float, width_per_panel: float):
    acts = list(dict.fromkeys(g.activation for g in result.groups))
    fig, axes = plt.subplots(
        1,
        len(acts),
        figsize=(0.6 + width_per_panel * len(acts), height),
        squeeze=False,
        constrained_layout=True,
    )
    return fig, dict(zip(acts, axes[0], strict=True))


def heatmap(
    result: SweepResult, path: str | os.PathLike, *, metric: str | None = None, title: str | None = None
) -> None:
    """Mean of ``metric`` over seeds for every (width, learning rate), one panel per activation.

    Cells are annotated with the mean; ``k div`` counts the seeds whose loss turned non-finite.
    """
    metric = result.metric if metric is None else metric
    summary = result.summary()
    lrs = list(result.learning_rates)
    widths = list(dict.fromkeys(r["width"] for r in summary))
    fig, axes = _axes_per_activation(result, 1.2 + 0.55 * len(widths), 1.2 + 0.9 * len(lrs))
    values = [r[f"{metric}_mean"] for r in summary if r.get(f"{metric}_mean") is not None]
    vmin, vmax = (min(values), max(values)) if values else (0.0, 1.0)
    image = None
    for act, ax in axes.items():
        grid = np.full((len(widths), len(lrs)), np.nan)
        diverged = np.zeros_like(grid, dtype=int)
        for r in (r for r in summary if r["activation"] == act):
            w, i = widths.index(r["width"]), lrs.index(r["learning_rate"])
            value = r.get(f"{metric}_mean")
            grid[w, i] = np.nan if value is None else value
            diverged[w, i] = r["diverged"]
        image = ax.imshow(grid, cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto", origin="lower")
        for (w, i), v in np.ndenumerate(grid):
            text = "-" if np.isnan(v) else f"{v:.3f}"
            text += f"\n{diverged[w, i]} div" if diverged[w, i] else ""
            bright = not np.isnan(v) and v > vmin + 0.6 * (vmax - vmin)
            ax.text(i, w, text, ha="center", va="center", fontsize=8, color="black" if bright else "white")
        ax.set_xticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
        ax.set_yticks(range(len(widths)), widths)
        ax.set(xlabel="learning rate", ylabel="hidden width", title=f"activation: {act}")
    fig.colorbar(image, ax=list(axes.values()), label=f"mean {metric_label(metric)}")
    fig.suptitle(title or f"Mean {metric_label(metric)} over {result.seeds} seeds")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def seed_spread(
    result: SweepResult, path: str | os.PathLike, *, metric: str | None = None, title: str | None = None
) -> None:
    """Every seed's ``metric`` as a dot, grouped by learning rate and coloured by width, with the mean over
    seeds as a bar; diverged models are crosses. One panel per activation."""
    metric = result.metric if metric is None else metric
    rows = result.table()
    lrs = list(result.learning_rates)
    widths = list(dict.fromkeys(r["width"] for r in rows))
    fig, axes = _axes_per_activation(result, 4.2, 1.6 + 1.1 * len(lrs))
    cmap = plt.get_cmap("tab10")
    span = 0.8 / len(widths)
    rng = np.random.default_rng(0)
    for act, ax in axes.items():
        for w, width in enumerate(widths):
            for i, lr in enumerate(lrs):
                sel = [
                    r for r in rows if (r["activation"], r["width"], r["learning_rate"]) == (act, width, lr)
                ]
                vals = np.array([np.nan if r[metric] is None else r[metric] for r in sel])
                bad = np.array([r["diverged_at"] is not None for r in sel], dtype=bool)
                centre = i - 0.4 + span * (w + 0.5)
                xs = centre + rng.uniform(-0.3, 0.3, vals.size) * span
                label = f"width {width}" if i == 0 else None
                ax.scatter(xs[~bad], vals[~bad], s=12, color=cmap(w % 10), alpha=0.7, label=label)
                ax.scatter(xs[bad], vals[bad], s=24, color=cmap(w % 10), marker="x")
                if np.any(~np.isnan(vals)):
                    ax.hlines(
                        np.nanmean(vals), centre - 0.45 * span, centre + 0.45 * span, color="black", lw=1.5
                    )
        ax.set_xticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
        ax.set(xlabel="learning rate", ylabel=metric_label(metric), title=f"activation: {act}")
        ax.grid(axis="y", alpha=0.3)
    handles, labels = next(iter(axes.values())).get_legend_handles_labels()
    handles.append(plt.Line2D([], [], color="black", lw=1.5))
    labels.append("mean over seeds")
    if any(r["diverged_at"] is not None for r in rows):
        handles.append(plt.Line2D([], [], color="gray", marker="x", ls=""))
        labels.append("diverged")
    fig.legend(handles, labels, loc="outside right center", fontsize=8)
    fig.suptitle(title or f"{metric_label(metric).capitalize()} of each of {result.seeds} seeds")
    fig.savefig(path, dpi=110)
    plt.close(fig)
