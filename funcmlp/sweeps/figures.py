"""Figures of a sweep (matplotlib, Agg backend): a heatmap of the mean metric over seeds on two of the grid's
dimensions, and the spread of the metric over seeds for every configuration.

The dimensions a figure can show are the sweep's axes (``SweepResult.axes``: learning rate, momentum, ...,
l2) and the hidden widths (``"width"``, one value per layer-size group); every panel is one activation.
"""

from __future__ import annotations

import os
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm, Normalize  # noqa: E402

from funcmlp.sweeps.mesh import to_host  # noqa: E402
from funcmlp.sweeps.results import SweepResult, metric_label, width_label  # noqa: E402

WIDTH = "width"
SHORT = {"learning_rate": "lr"}


def axis_label(name: str) -> str:
    """ "learning_rate" -> "learning rate"; "width" -> "hidden width"."""
    return "hidden width" if name == WIDTH else name.replace("_", " ")


def _dims(result: SweepResult) -> dict[str, list]:
    """Every dimension a figure can show, in grid order: each axis -> its values, then "width" -> labels."""
    dims: dict[str, list] = {name: list(values) for name, values in result.axes.items()}
    dims[WIDTH] = list(dict.fromkeys(width_label(g.sizes) for g in result.groups))
    return dims


def _tick(value) -> str:
    return value if isinstance(value, str) else f"{value:g}"


def _per_seed(result: SweepResult, metric: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """activation -> (metric, diverged), each (*axes, widths, seeds): every model's metric (NaN: missing)."""
    widths = _dims(result)[WIDTH]
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for g in result.groups:
        if metric not in g.metrics:
            raise ValueError(f"metric: expected one of {', '.join(g.metrics)}, got {metric!r}")
        shape = (*result.shape, len(widths), result.seeds)
        vals, bad = out.setdefault(g.activation, (np.full(shape, np.nan), np.zeros(shape, bool)))
        w = widths.index(width_label(g.sizes))
        vals[..., w, :] = to_host(g.metrics[metric])
        bad[..., w, :] = to_host(g.diverged_at) >= 0
    return out


def _mean(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis, ignoring NaN; NaN where every value is NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=-1)


def _panels(acts, width_per_panel: float, height: float, sharey: bool = False):
    fig, axes = plt.subplots(
        1,
        len(acts),
        figsize=(0.8 + width_per_panel * len(acts), height),
        squeeze=False,
        sharey=sharey,
        constrained_layout=True,
    )
    return fig, dict(zip(acts, axes[0], strict=True))


def _pick(dims: dict[str, list], x: str | None, y: str | None) -> tuple[str, str | None]:
    """The shown dimensions: x defaults to the first axis, y to the widths if there are several, else to the
    next dimension."""
    for name, value in (("x", x), ("y", y)):
        if value is not None and value not in dims:
            raise ValueError(f"{name}: expected one of {', '.join(map(repr, dims))}, got {value!r}")
    x = next(iter(dims)) if x is None else x
    if y is None:
        rest = [d for d in dims if d != x]
        y = WIDTH if x != WIDTH and len(dims[WIDTH]) > 1 else (rest[0] if rest else None)
    if x == y:
        raise ValueError(f"x, y: expected two different dimensions, got {x!r} twice")
    return x, y


def _norm(metric: str, values: np.ndarray) -> Normalize:
    """One colour scale for every panel: accuracy from its lowest mean rounded down to a tenth up to 1; a
    loss on [0, its largest mean], or on a log scale when the means span more than two decades."""
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if "accuracy" in metric:
        return Normalize(min(np.floor(10 * lo) / 10, 0.9), 1.0)
    if lo > 0 and hi > 100 * lo:
        return LogNorm(lo, hi)
    return Normalize(min(lo, 0.0), hi if hi > min(lo, 0.0) else min(lo, 0.0) + 1.0)


def _text_colour(rgba) -> str:
    """Black on light cells, white on dark ones (by relative luminance)."""
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


def heatmap(
    result: SweepResult,
    path: str | os.PathLike,
    *,
    metric: str | None = None,
    x: str | None = None,
    y: str | None = None,
    title: str | None = None,
) -> None:
    """Mean of ``metric`` (default ``result.metric``) over seeds on a grid of two dimensions, one panel per
    activation.

    ``x`` and ``y`` name an axis of ``result.axes`` or ``"width"``; by default x is the first axis and y the
    widths if there are several, else the second axis. The other dimensions are fixed at the values of
    the best configuration (``result.best_configuration(metric)``), named in the title. Each cell shows its
    mean; ``k div`` counts the seeds whose loss turned non-finite. The colour scale is shared by the panels
    (accuracy: from the lowest mean, rounded down to a tenth, to 1); brighter is better (a loss uses the
    reversed colour map); cell text is black on light cells and white on dark ones.
    """
    metric = result.metric if metric is None else metric
    dims = _dims(result)
    x, y = _pick(dims, x, y)
    per_seed = _per_seed(result, metric)
    fixed = {d: 0 for d in dims if d not in (x, y)}
    if any(len(dims[d]) > 1 for d in fixed):
        best = result.best_configuration(metric)
        fixed = {d: dims[d].index(width_label(best["sizes"]) if d == WIDTH else best[d]) for d in fixed}
    names = list(dims)
    cells = {}
    for act, (vals, bad) in per_seed.items():
        index = tuple(slice(None) if d in (x, y) else fixed[d] for d in names)
        mean, div = _mean(vals)[index], bad.sum(axis=-1)[index]
        if y is None:
            mean, div = mean[None], div[None]
        elif names.index(x) < names.index(y):
            mean, div = mean.T, div.T
        cells[act] = (mean, div)  # (y, x)
    xs, ys = dims[x], ([""] if y is None else dims[y])
    fig, axes = _panels(list(cells), 1.0 + 0.95 * len(xs), 1.9 + 0.6 * len(ys))
    norm = _norm(metric, np.concatenate([m.ravel() for m, _ in cells.values()]))
    cmap = plt.get_cmap("viridis" if "accuracy" in metric else "viridis_r").with_extremes(bad="0.85")
    image = None
    for act, ax in axes.items():
        mean, div = cells[act]
        image = ax.imshow(mean, cmap=cmap, norm=norm, aspect="auto", origin="lower")
        for (j, i), v in np.ndenumerate(mean):
            text = "-" if np.isnan(v) else f"{v:.3f}"
            text += f"\n{div[j, i]} div" if div[j, i] else ""
            colour = "black" if np.isnan(v) else _text_colour(cmap(norm(v)))
            ax.text(i, j, text, ha="center", va="center", fontsize=9, color=colour)
        ax.set_xticks(range(len(xs)), [_tick(v) for v in xs])
        ax.set_yticks(range(len(ys)), [_tick(v) for v in ys])
        ax.set(xlabel=axis_label(x), ylabel="" if y is None else axis_label(y), title=f"activation: {act}")
    fig.colorbar(image, ax=list(axes.values()), label=f"mean {metric_label(metric)}")
    held = [f"{axis_label(d)} = {_tick(dims[d][i])}" for d, i in fixed.items() if len(dims[d]) > 1]
    note = f"\nat {', '.join(held)} (the best configuration's)" if held else ""
    fig.suptitle(title or f"Mean {metric_label(metric)} over {result.seeds} seeds{note}")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def config_label(result: SweepResult, index: tuple[int, ...]) -> str:
    """The values of configuration ``index``: "lr 0.1, momentum 0.9"."""
    parts = zip(result.axes.items(), index, strict=True)
    return ", ".join(f"{SHORT.get(name, axis_label(name))} {values[i]:g}" for (name, values), i in parts)


def seed_spread(
    result: SweepResult, path: str | os.PathLike, *, metric: str | None = None, title: str | None = None
) -> None:
    """Every seed's ``metric`` as a dot, grouped by configuration (every combination of the axes) and
    coloured by width, with the mean over seeds as a bar; diverged models are crosses. One panel per
    activation, all on the same y range.

    With one axis the ticks are its values and the x label its name; with several, every tick names each
    axis value ("lr 0.1, momentum 0.9").
    """
    metric = result.metric if metric is None else metric
    widths = _dims(result)[WIDTH]
    per_seed = _per_seed(result, metric)
    configs = list(np.ndindex(*result.shape))
    single = len(result.axes) == 1
    fig, axes = _panels(list(per_seed), 1.2 + (1.1 if single else 0.75) * len(configs), 4.6, sharey=True)
    cmap = plt.get_cmap("tab10")
    span = 0.8 / len(widths)
    rng = np.random.default_rng(0)
    for act, ax in axes.items():
        vals_all, bad_all = per_seed[act]
        for w, width in enumerate(widths):
            for c, index in enumerate(configs):
                vals, bad = vals_all[(*index, w)], bad_all[(*index, w)]
                centre = c - 0.4 + span * (w + 0.5)
                xs = centre + rng.uniform(-0.3, 0.3, vals.size) * span
                label = f"width {width}" if c == 0 else None
                ax.scatter(xs[~bad], vals[~bad], s=12, color=cmap(w % 10), alpha=0.7, label=label)
                ax.scatter(xs[bad], vals[bad], s=24, color=cmap(w % 10), marker="x")
                if np.any(~np.isnan(vals)):
                    ax.hlines(_mean(vals), centre - 0.45 * span, centre + 0.45 * span, color="black", lw=1.5)
        if single:
            name, values = next(iter(result.axes.items()))
            ax.set_xticks(range(len(configs)), [f"{v:g}" for v in values])
            ax.set_xlabel(axis_label(name))
        else:
            labels = [config_label(result, index) for index in configs]
            ax.set_xticks(range(len(configs)), labels, rotation=35, ha="right", rotation_mode="anchor")
        ax.set_title(f"activation: {act}")
        ax.grid(axis="y", alpha=0.3)
    next(iter(axes.values())).set_ylabel(metric_label(metric))
    handles, labels = next(iter(axes.values())).get_legend_handles_labels()
    handles.append(plt.Line2D([], [], color="black", lw=1.5))
    labels.append("mean over seeds")
    if any(bad.any() for _, bad in per_seed.values()):
        handles.append(plt.Line2D([], [], color="gray", marker="x", ls=""))
        labels.append("diverged")
    fig.legend(handles, labels, loc="outside right center", fontsize=8)
    fig.suptitle(title or f"{metric_label(metric).capitalize()} of each of {result.seeds} seeds")
    fig.savefig(path, dpi=110)
    plt.close(fig)
