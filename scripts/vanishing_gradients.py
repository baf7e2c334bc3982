"""Vanishing and exploding gradients in 50-layer networks, and the step function's zero gradient.

    python scripts/vanishing_gradients.py                 # depth 50, width 32, the spiral
    python scripts/vanishing_gradients.py --depth 10 --out /tmp/vg

Prints ||dJ/dW^l||_F of the first and the last layer for each activation beside the bound 0.25^depth on a
product of sigmoid derivatives, saves `grad_norms.png` (log-scale norm against layer), and trains a step
network to show that its hidden weights never move. Gradients are computed in float64 (no underflow).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from rich.console import Console
from rich.table import Table

import funcmlp
from funcmlp import diagnostics
from funcmlp.cli import scripts
from funcmlp.plots import plt  # matplotlib with the Agg backend


@dataclasses.dataclass(frozen=True)
class Config:
    """Gradient norms layer by layer in deep networks on the 300-point spiral."""

    depth: int = 50
    """Hidden layers (each followed by the activation); the network has depth + 1 weight matrices."""
    width: int = 32
    """Units per hidden layer."""
    seed: int = 0
    """Seed for the data and the initial weights."""
    step_steps: int = 200
    """Gradient-descent steps for the step-activation network."""
    out: Path = Path("runs/vanishing_gradients")
    """Directory for grad_norms.png."""


# (label, activation, init scheme, weight gain): the gain multiplies every initial weight matrix.
CASES = [
    ("sigmoid (Glorot)", "sigmoid", "glorot", 1.0),
    ("tanh (Glorot)", "tanh", "glorot", 1.0),
    ("relu (He)", "relu", "he", 1.0),
    ("leaky_relu (He)", "leaky_relu", "he", 1.0),
    ("relu (He x 2): exploding", "relu", "he", 2.0),
    ("tanh (Glorot x 4): exploding", "tanh", "glorot", 4.0),
    ("step (He)", "step", "he", 1.0),
]


def grad_norms(cfg: Config) -> dict[str, np.ndarray]:
    """||dJ/dW^l||_F for l = 1..depth + 1, one array per case, in float64."""
    k_data, k_init = jax.random.split(jax.random.key(cfg.seed))
    x, y = funcmlp.data.spiral(k_data)
    x = x.astype(jnp.float64)
    sizes = (2,) + (cfg.width,) * cfg.depth + (3,)
    out = {}
    for label, activation, scheme, gain in CASES:
        params = funcmlp.init_params(k_init, sizes, scheme=scheme, dtype=jnp.float64)
        params = [{"w": gain * p["w"], "b": p["b"]} for p in params]
        out[label] = np.asarray(diagnostics.layer_grad_norms(params, x, y, activation=activation))
    return out


def step_weight_change(cfg: Config) -> np.ndarray:
    """Max |W^l_after - W^l_before| per layer after training a 2-16-16-3 step network by gradient descent."""
    k_data, k_init = jax.random.split(jax.random.key(cfg.seed))
    x, y = funcmlp.data.spiral(k_data)
    params = funcmlp.init_params(k_init, (2, 16, 16, 3))
    result = funcmlp.train(params, x, y, optimizer=optax.sgd(1.0), steps=cfg.step_steps, activation="step")
    return np.asarray(diagnostics.max_weight_change(params, result.params))


def plot(norms: dict[str, np.ndarray], cfg: Config, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 5), constrained_layout=True)
    layers = np.arange(1, cfg.depth + 2)
    styles = iter(["-", "-", "-", ":", "-", "-"])
    for label, g in norms.items():
        if label.startswith("step"):
            continue  # zero below the output layer: nothing to draw on a log scale
        ax.plot(layers, g, next(styles), lw=1.8, label=label)
    sig = norms[CASES[0][0]]
    bound = sig[-1] * diagnostics.SIGMOID_MAX_SLOPE ** (cfg.depth + 1 - layers)
    ax.plot(layers, bound, "k--", lw=1, label="last sigmoid layer's norm x $0.25^{L-l}$")
    ax.plot([], [], " ", label="step: 0 below the last layer (not drawn)")
    ax.set(
        xlabel="layer l (1 = next to the input)",
        ylabel=r"gradient norm $\Vert dJ/dW^l \Vert_F$ (log scale)",
        yscale="log",
        title=f"Gradient norm by layer, {cfg.depth} hidden layers of {cfg.width} units, spiral data",
    )
    ax.grid(alpha=0.3, which="major")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    cfg = scripts.options(Config, argv)
    t0 = time.perf_counter()
    with jax.enable_x64(True):
        norms = grad_norms(cfg)
    change = step_weight_change(cfg)
    bound = diagnostics.sigmoid_bound(cfg.depth)

    table = Table(title=f"||dJ/dW^l||_F, depth {cfg.depth} (bound 0.25^{cfg.depth} = {bound:.1e})")
    for col in ["network", "first layer", "last layer", "first / last", f"0.25^{cfg.depth}"]:
        table.add_column(col, justify="left" if col == "network" else "right")
    for label, g in norms.items():
        ratio = g[0] / g[-1] if g[-1] > 0 else float("nan")
        reference = f"{bound:.1e}" if label.startswith("sigmoid") else ""
        table.add_row(label, f"{g[0]:.2e}", f"{g[-1]:.2e}", f"{ratio:.2e}", reference)
    console = Console(width=110)
    console.print(table)
    moved = ", ".join(f"W^{i + 1}: {c:.2g}" for i, c in enumerate(change))
    console.print(f"step network 2-16-16-3 after {cfg.step_steps} steps, max |change| per layer: {moved}")
    path = cfg.out / "grad_norms.png"
    plot(norms, cfg, path)
    console.print(f"figure: {path}  ({time.perf_counter() - t0:.1f} s)")
    return {"norms": norms, "step_change": change, "bound": bound}


if __name__ == "__main__":
    main()
