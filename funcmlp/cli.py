"""The ``funcmlp`` command line: each subcommand is a frozen dataclass config, parsed by tyro.

    funcmlp train                      # the lecture's 2 -> 4 -> 3 ReLU net on the 300-point spiral
    funcmlp train --hidden 100 --l2 1e-3 --steps 10000

Bad input is reported as one line on stderr with exit code 2.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Literal

import tyro

from funcmlp import cli_tools

DatasetName = Literal["spiral", "xor", "blobs", "moons", "circles"]
OptimizerName = Literal["sgd", "momentum", "adam"]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Train an MLP on a 2-D toy data set and report held-out accuracy."""

    hidden: tuple[int, ...] = (4,)
    """Hidden layer widths (the lecture's network has one hidden layer of 4)."""
    activation: str = "relu"
    """Hidden activation: step, linear, sigmoid, tanh, relu, leaky_relu or leaky_relu:SLOPE."""
    lr: float = 1.0
    """Learning rate alpha in w_new = w_old - alpha dJ/dw."""
    optimizer: OptimizerName = "sgd"
    """Optimizer (optax): sgd, momentum (0.9) or adam."""
    steps: int = 5000
    """Optimizer steps."""
    batch_size: int | None = None
    """Mini-batch size; omit for full-batch gradient descent."""
    l2: float = 0.0
    """L2 penalty weight on the weights (0.5 * l2 * sum W^2)."""
    init: Literal["he", "glorot", "normal"] = "he"
    """Weight initialisation scheme."""
    seed: int = 0
    """Seed: draws the training, test data and the initial weights."""
    dataset: DatasetName = "spiral"
    """Toy data set."""
    n_per_class: int = 100
    """Points per class (the lecture's spiral: 3 x 100 = 300)."""
    noise: float = 0.2
    """Noise of the data set (angle noise for the spiral)."""
    out: Path | None = None
    """Run directory; defaults to runs/<timestamp>."""


def make_optimizer(name: str, lr: float):
    import optax

    if name == "sgd":
        return optax.sgd(lr)
    if name == "momentum":
        return optax.sgd(lr, momentum=0.9)
    if name == "adam":
        return optax.adam(lr)
    raise ValueError(f"optimizer: expected one of sgd, momentum, adam, got {name!r}")


def make_data(cfg: TrainConfig, key):
    from funcmlp import data

    if cfg.dataset == "spiral":
        return data.spiral(key, cfg.n_per_class, noise=cfg.noise)
    if cfg.dataset == "xor":
        return data.xor(key, cfg.n_per_class // 2 or 1, noise=cfg.noise)
    if cfg.dataset == "blobs":
        return data.blobs(key, cfg.n_per_class, spread=cfg.noise)
    return data.DATASETS[cfg.dataset](key, cfg.n_per_class, noise=cfg.noise)


def prepare_out(out: Path | None) -> Path:
    """Create the run directory now, so an unwritable path fails before any training."""
    out = Path("runs") / time.strftime("%Y%m%d-%H%M%S") if out is None else out
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise ValueError(f"out: expected a writable directory, got {str(out)!r} ({e.strerror})") from None
    return out


def run_train(cfg: TrainConfig) -> int:
    t0 = time.perf_counter()
    import jax

    import funcmlp
    from funcmlp import plots

    out = prepare_out(cfg.out)
    k_data, k_test, k_init, k_shuffle = jax.random.split(jax.random.key(cfg.seed), 4)
    x, y = make_data(cfg, k_data)
    x_test, y_test = make_data(cfg, k_test)
    n_classes = int(y.max()) + 1
    sizes = (2, *cfg.hidden, n_classes)
    params = funcmlp.init_params(k_init, sizes, scheme=cfg.init)
    result = funcmlp.train(
        params, x, y,
        optimizer=make_optimizer(cfg.optimizer, cfg.lr), steps=cfg.steps, activation=cfg.activation,
        batch_size=cfg.batch_size, key=k_shuffle, l2=cfg.l2,
    )  # fmt: skip
    kw = {"activation": cfg.activation}
    diverged_at = int(result.diverged_at)
    metrics = {
        "train_accuracy": float(funcmlp.accuracy(result.params, x, y, **kw)),
        "test_accuracy": float(funcmlp.accuracy(result.params, x_test, y_test, **kw)),
        "final_loss": float(result.losses[-1]),
        "diverged_at": diverged_at if diverged_at >= 0 else None,
        "sizes": list(sizes),
    }
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(cfg).items()}
    funcmlp.save(out / "params.safetensors", result.params, config=config)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    plots.decision_boundary(
        result.params, x_test, y_test, out / "decision_boundary.png", activation=cfg.activation,
        title=f"{'-'.join(map(str, sizes))} {cfg.activation} net, test accuracy "
        f"{metrics['test_accuracy']:.1%}",
    )  # fmt: skip
    plots.loss_curve(result.losses, out / "loss.png", title=f"Training loss ({cfg.optimizer}, lr {cfg.lr:g})")
    metrics["seconds"] = time.perf_counter() - t0
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(
        f"{'-'.join(map(str, sizes))} {cfg.activation} on {cfg.dataset}: "
        f"train accuracy {metrics['train_accuracy']:.3f}, test accuracy {metrics['test_accuracy']:.3f}, "
        f"final loss {metrics['final_loss']:.4f}, {metrics['seconds']:.1f} s -> {out}"
    )
    if diverged_at >= 0:
        print(f"error: the loss became non-finite at step {diverged_at}", file=sys.stderr)
        return 1
    return 0


COMMANDS = {"train": (TrainConfig, run_train), **cli_tools.COMMANDS}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    subcommands = {name: cls for name, (cls, _) in COMMANDS.items()}
    cfg = tyro.extras.subcommand_cli_from_dict(subcommands, args=args, prog="funcmlp")
    runner = next(fn for cls, fn in COMMANDS.values() if isinstance(cfg, cls))
    try:
        return runner(cfg)
    except (ValueError, TypeError) as e:
        print(f"funcmlp: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
