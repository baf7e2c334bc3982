"""Figures (matplotlib, Agg backend): decision boundaries, loss and accuracy curves, the activations, and a
trained model's results: confusion matrices (classes) and predicted against true values (regression)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from funcmlp import activations as acts  # noqa: E402
from funcmlp.mlp import Params, predict  # noqa: E402


def decision_boundary(
    params: Params,
    x,
    y,
    path: str | os.PathLike,
    *,
    activation: str = "relu",
    head: str = "softmax",
    title: str = "Decision boundary",
    resolution: int = 300,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    feature_names: Sequence[str] = ("$x_1$", "$x_2$"),
    class_names: Sequence[Any] | None = None,
) -> None:
    """Colour the plane by predicted class and scatter the labelled points on top.

    Args:
      params: a network with 2 inputs; x: points (n, 2) in the units to draw; y: class indices (n,).
      path: the PNG to write.
      transform: maps drawn points to network inputs (e.g. a ``datafile.Standardizer``), so the
        axes keep the data file's own units.
      feature_names: the two axis labels; class_names: legend label of each class index.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x: a decision boundary is drawn for 2 features, got shape {x.shape}")
    pad = 0.25 * (x.max(axis=0) - x.min(axis=0)) + 1e-3
    lo, hi = x.min(axis=0) - pad, x.max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    inputs = grid if transform is None else np.asarray(transform(grid), np.float32)
    region = np.asarray(predict(params, inputs, activation=activation, head=head)).reshape(gx.shape)
    k = int(max(y.max(), region.max())) + 1
    cmap = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(6, 5.4), constrained_layout=True)
    ax.contourf(gx, gy, region, levels=np.arange(k + 1) - 0.5, colors=[cmap(i) for i in range(k)], alpha=0.25)

    def label(c: int) -> str:
        return f"class {class_names[c]}" if class_names is not None and c < len(class_names) else f"class {c}"

    for c in range(k):
        pts = x[y == c]
        ax.scatter(pts[:, 0], pts[:, 1], s=14, color=cmap(c), edgecolors="k", linewidths=0.4, label=label(c))
    ax.set(
        xlabel=feature_names[0],
        ylabel=feature_names[1],
        xlim=(lo[0], hi[0]),
        ylim=(lo[1], hi[1]),
    )
    ax.set_title(title, fontsize=10 if len(title) > 50 else None)
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def loss_curve(
    losses,
    path: str | os.PathLike,
    *,
    title: str = "Training loss",
    labels=None,
    ylabel: str = "loss J (mean cross-entropy)",
) -> None:
    """Loss against step on a log y-axis; ``losses`` is (steps,) or (runs, steps)."""
    losses = np.atleast_2d(np.asarray(losses, dtype=np.float64))
    fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    for i, row in enumerate(losses):
        label = labels[i] if labels is not None else None
        ax.plot(np.arange(1, row.size + 1), row, lw=1.4, label=label)
    ax.set(xlabel="step", ylabel=ylabel, title=title, yscale="log")
    ax.grid(alpha=0.3, which="both")
    if labels is not None:
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def learning_curves(
    columns: dict[str, Any], path: str | os.PathLike, *, title: str = "Learning curves"
) -> None:
    """Loss (log scale, left) and accuracy (right) against step, one line per data split.

    Args:
      columns: ``step`` (m,) and ``<split>_loss`` / ``<split>_accuracy`` (m,) columns, as in a run's
        metrics.csv (``progress.History.columns``).
      path: the PNG to write.
    """
    steps = np.asarray(columns["step"], np.float64)
    splits = [k[: -len("_loss")] for k in columns if k.endswith("_loss")]
    has_acc = any(f"{s}_accuracy" in columns for s in splits)
    fig, axes = plt.subplots(
        1, 2 if has_acc else 1, figsize=(10.5 if has_acc else 6.4, 4.2), constrained_layout=True
    )
    axes = np.atleast_1d(axes)
    styles = {"train": "-", "val": "--", "test": ":"}
    for s in splits:
        axes[0].plot(steps, columns[f"{s}_loss"], styles.get(s, "-."), lw=1.6, marker=".", ms=4, label=s)
        if has_acc and f"{s}_accuracy" in columns:
            acc = 100 * np.asarray(columns[f"{s}_accuracy"], np.float64)
            axes[1].plot(steps, acc, styles.get(s, "-."), lw=1.6, marker=".", ms=4, label=s)
    axes[0].set(xlabel="step", ylabel="loss J (mean data loss, log scale)", yscale="log", title="Loss")
    if has_acc:
        axes[1].set(xlabel="step", ylabel="accuracy (%)", ylim=(0, 101), title="Accuracy")
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
        ax.legend(title="data", fontsize=8)
    fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def confusion_matrices(
    matrices: dict[str, Any],
    path: str | os.PathLike,
    *,
    class_names: Sequence[Any] | None = None,
    title: str = "Confusion matrix",
) -> None:
    """One panel per data split: C_jk = samples of true class j predicted as k (rows true, columns
    predicted), coloured by the row's fraction C_jk / sum_k C_jk (the recall on the diagonal) and written
    as counts (up to 20 classes).

    Args:
      matrices: split name -> C (K, K) counts, e.g. ``{"validation": C_val, "test": C_test}``.
      path: the PNG to write; class_names: the K labels (default 0 .. K-1).
    """
    items = [(name, np.asarray(c, np.int64)) for name, c in matrices.items()]
    if not items or any(c.ndim != 2 or c.shape[0] != c.shape[1] for _, c in items):
        raise ValueError("matrices: expected one or more square confusion matrices (K, K)")
    k = items[0][1].shape[0]
    names = [str(c) for c in (class_names if class_names is not None else range(k))]
    side = min(3.2 + 0.45 * k, 9.0)
    fig, axes = plt.subplots(
        1, len(items), figsize=(side * len(items) + 0.8, side + 0.6), squeeze=False, constrained_layout=True
    )
    image = None
    for ax, (split, c) in zip(axes[0], items, strict=True):
        rows = c.sum(axis=1, keepdims=True)
        frac = np.divide(c, rows, out=np.zeros(c.shape), where=rows > 0)
        image = ax.imshow(frac, cmap="Blues", vmin=0.0, vmax=1.0)
        if k <= 20:
            for (j, i), count in np.ndenumerate(c):
                colour = "white" if frac[j, i] > 0.6 else "black"
                ax.text(i, j, str(count), ha="center", va="center", color=colour, fontsize=9 if k <= 8 else 6)
        index = ""
        if k <= 30:
            turn = max(map(len, names)) > 3
            ax.set_xticks(range(k), names, rotation=45 if turn else 0, ha="right" if turn else "center")
            ax.set_yticks(range(k), names)
        else:
            index = " (index in sorted order)"
        n = int(c.sum())
        ax.set(xlabel=f"predicted class{index}", ylabel=f"true class{index}", title=f"{split} ({n} samples)")
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="fraction of the true class's samples")
    fig.suptitle(title, fontsize=10 if len(title) > 60 else None)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def predicted_vs_true(
    pairs: dict[str, tuple[Any, Any]],
    path: str | os.PathLike,
    *,
    title: str = "Predicted against true",
    target_name: str = "target",
) -> None:
    """Predicted against true values, one colour per data split, with the line y_hat = y; each split's
    legend entry gives its R^2 = 1 - sum (y - y_hat)^2 / sum (y - mean y)^2.

    Args:
      pairs: split name -> (true values (n,), predictions (n,)), both in the targets' units.
      path: the PNG to write; target_name: the axis label's quantity.
    """
    from funcmlp.metrics import r2

    if not pairs:
        raise ValueError("pairs: expected at least one split of (true values, predictions)")
    fig, ax = plt.subplots(figsize=(6, 5.6), constrained_layout=True)
    colours = {"train": "0.65", "validation": "tab:orange", "test": "tab:blue"}
    every = []
    for split, (t, p) in pairs.items():
        t, p = np.asarray(t, np.float64).ravel(), np.asarray(p, np.float64).ravel()
        every += [t, p]
        small = split == "train"
        ax.scatter(
            t,
            p,
            s=10 if small else 18,
            alpha=0.5 if small else 0.85,
            color=colours.get(split),
            edgecolors="none" if small else "k",
            linewidths=0.3,
            label=f"{split}: R$^2$ = {r2(t, p):.3f} (n = {t.size})",
        )
    values = np.concatenate(every)
    lo, hi = float(values.min()), float(values.max())
    pad = 0.05 * (hi - lo) + 1e-9
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="k", lw=1, ls="--", label="predicted = true")
    ax.set(
        xlim=(lo - pad, hi + pad),
        ylim=(lo - pad, hi + pad),
        xlabel=f"true {target_name}",
        ylabel=f"predicted {target_name}",
        aspect="equal",
    )
    ax.set_title(title, fontsize=10 if len(title) > 50 else None)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.savefig(path, dpi=110)
    plt.close(fig)


GALLERY = ("step", "linear", "sigmoid", "tanh", "relu", "leaky_relu:0.1")


def with_breaks(v: np.ndarray, jump: float = 0.25) -> np.ndarray:
    """NaN at the samples after a jump, so a discontinuity is drawn as a gap rather than a vertical line."""
    v = v.astype(np.float64)
    v[1:][np.abs(np.diff(v)) > jump] = np.nan
    return v


def activations_gallery(
    path: str | os.PathLike, *, names: Sequence[str] = GALLERY, z_range: tuple[float, float] = (-4.0, 4.0)
) -> None:
    """One panel per hidden activation: a = act(z) and its derivative da/dz, from ``funcmlp.activations``.

    The leaky ReLU is drawn with the notes' negative slope 0.1 (the default 0.01 is too flat to see).

    The derivative is the hand-written ``Activation.grad``; at a kink it takes the value documented in
    ``funcmlp.activations`` (0 for step and relu at z = 0).
    """
    import jax.numpy as jnp

    names = list(names)
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.0 * cols, 3.2 * rows), squeeze=False, constrained_layout=True
    )
    z = jnp.linspace(z_range[0], z_range[1], 801)
    for ax, name in zip(axes.flat, names, strict=False):
        act = acts.get(name)
        a, da = with_breaks(np.array(act.fn(z))), with_breaks(np.array(act.grad(z)))
        zn = np.asarray(z)
        ax.axhline(0, color="0.6", lw=0.8)
        ax.axvline(0, color="0.6", lw=0.8)
        ax.plot(zn, a, lw=2.2, color="tab:blue", label="a = act(z)")
        ax.plot(zn, da, lw=1.8, ls="--", color="tab:orange", label="da/dz")
        if np.isnan(da).any():  # a jump in da/dz: mark the value chosen at the kink z = 0
            ax.plot(
                0.0, float(act.grad(jnp.zeros(()))), "o", color="tab:orange", ms=5, label="da/dz at z = 0"
            )
        ax.set(title=act.name, xlabel="z", ylabel="a, da/dz", xlim=z_range)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    fig.suptitle("Hidden activations a = act(z) (solid) and their derivatives da/dz (dashed)")
    fig.savefig(path, dpi=110)
    plt.close(fig)
