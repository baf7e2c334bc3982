"""Figures (matplotlib, Agg backend): decision boundaries and loss curves."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

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
) -> None:
    """Colour the plane by predicted class and scatter the labelled points on top."""
    x, y = np.asarray(x), np.asarray(y)
    pad = 0.25 * (x.max(axis=0) - x.min(axis=0)) + 1e-3
    lo, hi = x.min(axis=0) - pad, x.max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    region = np.asarray(predict(params, grid, activation=activation, head=head)).reshape(gx.shape)
    k = int(max(y.max(), region.max())) + 1
    cmap = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(6, 5.4), constrained_layout=True)
    ax.contourf(gx, gy, region, levels=np.arange(k + 1) - 0.5, colors=[cmap(i) for i in range(k)], alpha=0.25)
    for c in range(k):
        pts = x[y == c]
        ax.scatter(
            pts[:, 0], pts[:, 1], s=14, color=cmap(c), edgecolors="k", linewidths=0.4, label=f"class {c}"
        )
    ax.set(xlabel="$x_1$", ylabel="$x_2$", title=title, xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]))
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def loss_curve(losses, path: str | os.PathLike, *, title: str = "Training loss", labels=None) -> None:
    """Loss against step on a log y-axis; ``losses`` is (steps,) or (runs, steps)."""
    losses = np.atleast_2d(np.asarray(losses, dtype=np.float64))
    fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    for i, row in enumerate(losses):
        label = labels[i] if labels is not None else None
        ax.plot(np.arange(1, row.size + 1), row, lw=1.4, label=label)
    ax.set(xlabel="step", ylabel="loss J (mean cross-entropy)", title=title, yscale="log")
    ax.grid(alpha=0.3, which="both")
    if labels is not None:
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)
