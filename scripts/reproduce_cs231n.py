"""The CS231n spiral case study, reproduced over many seeds trained at once with ``jax.vmap``.

    python scripts/reproduce_cs231n.py                    # 16 seeds, the case study's settings
    python scripts/reproduce_cs231n.py --seeds 4 --steps 2000 --out /tmp/cs231n

Each seed draws its own 300-point, 3-class spiral and its own initial weights; all seeds of a model train in
one compiled program. Full-batch gradient descent with step size 1; the case study's two models use L2 1e-3
(0.5 * l2 * sum W^2) and weights 0.01 N(0, 1), the lecture's net He initialisation and no L2.
Prints training accuracy (mean / min / max) beside the reported numbers and saves `decision_boundaries.png`
(the first seed of each model).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from rich.console import Console
from rich.table import Table

import funcmlp
from funcmlp.cli import scripts
from funcmlp.plots import plt  # matplotlib with the Agg backend


@dataclasses.dataclass(frozen=True)
class Config:
    """Softmax linear classifier, 2-layer ReLU net and the lecture's 2-4-3 net on the spiral."""

    seeds: int = 16
    """Seeds per model, trained at once (vmap)."""
    steps: int = 10000
    """Full-batch steps for the two networks (the case study: 10,000)."""
    linear_steps: int = 200
    """Full-batch steps for the linear classifier (the case study: 200)."""
    n_per_class: int = 100
    """Spiral points per class (3 classes)."""
    seed: int = 0
    """Base seed; seed s of a model uses fold_in(key(seed), s)."""
    out: Path = Path("runs/cs231n")
    """Directory for decision_boundaries.png."""


class Model(NamedTuple):
    name: str
    hidden: tuple[int, ...]
    activation: str
    scheme: str
    lr: float
    l2: float
    reported: str


MODELS = [
    Model("softmax linear classifier", (), "relu", "normal", 1.0, 1e-3, "49%"),
    Model("2-layer ReLU, 100 hidden", (100,), "relu", "normal", 1.0, 1e-3, "98%"),
    Model("lecture 2-4-3 ReLU", (4,), "relu", "he", 1.0, 0.0, "-"),
]


def train_seeds(model: Model, keys: jax.Array, *, steps: int, n_per_class: int):
    """Train one model per key (vmapped).

    Returns (params with a leading seed axis, accuracy (S,), final loss (S,)).
    """
    sizes = (2, *model.hidden, 3)

    def one(key):
        k_data, k_init = jax.random.split(key)
        x, y = funcmlp.data.spiral(k_data, n_per_class)
        params = funcmlp.init_params(k_init, sizes, scheme=model.scheme)
        result = funcmlp.train(
            params, x, y, optimizer=optax.sgd(model.lr), steps=steps, activation=model.activation, l2=model.l2
        )
        acc = funcmlp.accuracy(result.params, x, y, activation=model.activation)
        return result.params, acc, result.losses[-1]

    return jax.jit(jax.vmap(one))(keys)


def plot(panels, path: Path, resolution: int = 200) -> None:
    """One panel per model: predicted class over the plane, the training points on top."""
    cmap = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.9), constrained_layout=True)
    for ax, (title, params, activation, x, y) in zip(np.atleast_1d(axes), panels, strict=True):
        x, y = np.asarray(x), np.asarray(y)
        g = np.linspace(-1.3, 1.3, resolution)
        gx, gy = np.meshgrid(g, g)
        grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
        region = np.asarray(funcmlp.predict(params, grid, activation=activation)).reshape(gx.shape)
        ax.contourf(
            gx, gy, region, levels=[-0.5, 0.5, 1.5, 2.5], colors=[cmap(i) for i in range(3)], alpha=0.3
        )
        for c in range(3):
            ax.scatter(*x[y == c].T, s=12, color=cmap(c), edgecolors="k", linewidths=0.4, label=f"class {c}")
        ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
        ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    fig.suptitle("Decision boundaries on the 3-class spiral (first seed of each model)")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    cfg = scripts.options(Config, argv)
    t0 = time.perf_counter()
    base = jax.random.key(cfg.seed)
    keys = jax.vmap(lambda s: jax.random.fold_in(base, s))(jnp.arange(cfg.seeds))
    table = Table(title=f"Spiral, training accuracy over {cfg.seeds} seeds (data and init)")
    for col in ["model", "init", "l2", "steps", "mean", "min", "max", "mean final loss", "CS231n"]:
        table.add_column(col, justify="left" if col == "model" else "right")
    results, panels = {}, []
    for model in MODELS:
        steps = cfg.steps if model.hidden else cfg.linear_steps
        params, acc, loss = train_seeds(model, keys, steps=steps, n_per_class=cfg.n_per_class)
        acc = np.asarray(acc)
        results[model.name] = acc
        accs = [f"{a:.1%}" for a in (acc.mean(), acc.min(), acc.max())]  # mean, min, max
        mean_loss = f"{float(np.mean(loss)):.3f}"
        table.add_row(
            model.name, model.scheme, f"{model.l2:g}", f"{steps:,}", *accs, mean_loss, model.reported
        )
        first = jax.tree.map(lambda a: a[0], params)
        x, y = funcmlp.data.spiral(jax.random.split(keys[0])[0], cfg.n_per_class)
        panels.append((f"{model.name}: {acc[0]:.0%} train accuracy", first, model.activation, x, y))
    console = Console(width=110)
    console.print(table)
    path = cfg.out / "decision_boundaries.png"
    plot(panels, path)
    console.print(f"figure: {path}  ({time.perf_counter() - t0:.1f} s)")
    return results


if __name__ == "__main__":
    main()
