"""A learning rate x momentum grid of SGD on the spiral, every configuration with many seeds, as a heatmap.

    python scripts/sweep_grid_figure.py                   # 4 x 3 configurations x 8 seeds, 300 steps
    python scripts/sweep_grid_figure.py --steps 1000 --out /tmp/grid.png

One ``funcmlp.sweep`` trains every (learning rate, momentum, seed) model of a 2-32-3 ReLU net at once,
full-batch, on a 300-point spiral; a second spiral drawn with another key is the validation sample. Saves
the heatmap of the mean validation accuracy over seeds (``funcmlp.sweeps.figures.heatmap``).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import jax
import optax
import tyro

import funcmlp
from funcmlp.sweeps import figures


@dataclasses.dataclass(frozen=True)
class Config:
    """Mean validation accuracy of SGD with momentum on the spiral, per learning rate and momentum."""

    learning_rates: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0)
    """The learning-rate axis (x)."""
    momenta: tuple[float, ...] = (0.0, 0.5, 0.9)
    """The momentum axis (y)."""
    hidden: int = 32
    """Units of the one hidden layer."""
    seeds: int = 8
    """Initialisations per configuration."""
    steps: int = 300
    """Full-batch SGD steps per model."""
    seed: int = 0
    """Seed for the training spiral, the validation spiral and the initial weights."""
    out: Path = Path("docs/images/sweep_lr_momentum.png")
    """Where the heatmap is saved."""


def main(argv: list[str] | None = None) -> funcmlp.SweepResult:
    cfg = tyro.cli(Config, args=sys.argv[1:] if argv is None else argv)
    k_train, k_val, k_init = jax.random.split(jax.random.key(cfg.seed), 3)
    x, y = funcmlp.data.spiral(k_train)
    x_val, y_val = funcmlp.data.spiral(k_val)
    t0 = time.perf_counter()
    result = funcmlp.sweep(
        k_init,
        x,
        y,
        sizes=(2, cfg.hidden, 3),
        seeds=cfg.seeds,
        steps=cfg.steps,
        optimizer=optax.sgd,
        hyperparams={"learning_rate": list(cfg.learning_rates), "momentum": list(cfg.momenta)},
        evaluate={"val": (x_val, y_val)},
    )
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    title = (
        f"Mean validation accuracy over {cfg.seeds} seeds on the spiral\n"
        f"{cfg.steps} full-batch SGD steps of a 2-{cfg.hidden}-3 net"
    )
    figures.heatmap(result, cfg.out, title=title)
    n = len(cfg.learning_rates) * len(cfg.momenta) * cfg.seeds
    print(f"{n} models, {cfg.steps} steps, in {time.perf_counter() - t0:.1f} s -> {cfg.out}")
    print(f"best configuration: {result.best_configuration()}")
    return result


if __name__ == "__main__":
    main()
