"""The ``funcmlp`` command line: each subcommand is a frozen dataclass config, parsed by tyro.

    funcmlp train                      # the lecture's 2 -> 4 -> 3 ReLU net on the 300-point spiral
    funcmlp train --hidden 100 --l2 1e-3 --steps 10000

Bad input is reported as one line on stderr with exit code 2.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
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


def validate_config(cfg: TrainConfig) -> None:
    """Check every option before any directory is made or any data drawn (flags named as typed)."""
    from funcmlp import activations, checks

    if any(isinstance(h, bool) or h < 1 for h in cfg.hidden):
        raise ValueError(f"--hidden: expected positive layer widths, got {' '.join(map(str, cfg.hidden))}")
    try:
        activations.get(cfg.activation)
    except ValueError as e:
        raise ValueError(f"--{e}") from None
    checks.check_nonnegative_real(cfg.lr, "--lr")
    checks.check_positive_int(cfg.steps, "--steps")
    if cfg.batch_size is not None:
        checks.check_positive_int(cfg.batch_size, "--batch-size")
    checks.check_nonnegative_real(cfg.l2, "--l2")
    if not 0 <= cfg.seed < 2**32:
        raise ValueError(f"--seed: expected an integer in [0, 2**32), got {cfg.seed}")
    checks.check_positive_int(cfg.n_per_class, "--n-per-class")
    checks.check_nonnegative_real(cfg.noise, "--noise")


def prepare_out(out: Path | None) -> Path:
    """Create the run directory now, so an unwritable path fails before any training."""
    out = Path("runs") / time.strftime("%Y%m%d-%H%M%S") if out is None else out
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise ValueError(f"--out: expected a writable directory, got {str(out)!r} ({e.strerror})") from None
    return out


def run_train(cfg: TrainConfig) -> int:
    t0 = time.perf_counter()
    import jax

    import funcmlp
    from funcmlp import plots

    validate_config(cfg)
    k_data, k_test, k_init, k_shuffle = jax.random.split(jax.random.key(cfg.seed), 4)
    x, y = make_data(cfg, k_data)
    if cfg.batch_size is not None and cfg.batch_size > len(x):
        raise ValueError(
            f"--batch-size: expected at most {len(x)} (the training set's size), got {cfg.batch_size}"
        )
    out = prepare_out(cfg.out)
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
        "final_loss": float(result.losses[-1]) if diverged_at < 0 else None,
        "diverged_at": diverged_at if diverged_at >= 0 else None,
        "sizes": list(sizes),
    }
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(cfg).items()}
    funcmlp.save(out / "params.safetensors", result.params, config=config, head="softmax")
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    plots.decision_boundary(
        result.params, x_test, y_test, out / "decision_boundary.png", activation=cfg.activation,
        title=f"{'-'.join(map(str, sizes))} {cfg.activation} net, test accuracy "
        f"{metrics['test_accuracy']:.1%}",
    )  # fmt: skip
    plots.loss_curve(result.losses, out / "loss.png", title=f"Training loss ({cfg.optimizer}, lr {cfg.lr:g})")
    metrics["seconds"] = time.perf_counter() - t0
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    final = "n/a (diverged)" if metrics["final_loss"] is None else f"{metrics['final_loss']:.4f}"
    print(
        f"{'-'.join(map(str, sizes))} {cfg.activation} on {cfg.dataset}: "
        f"train accuracy {metrics['train_accuracy']:.3f}, test accuracy {metrics['test_accuracy']:.3f}, "
        f"final loss {final}, {metrics['seconds']:.1f} s -> {out}"
    )
    if diverged_at >= 0:
        print(f"funcmlp: error: the loss became non-finite at step {diverged_at}; see {out / 'metrics.json'}",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


COMMANDS = {"train": (TrainConfig, run_train), **cli_tools.COMMANDS}


def _one_line(panel: str) -> str:
    """The first paragraph of tyro's boxed parse error, as one line (the box, help text and rules dropped).

    The box is drawn with line-drawing characters on a UTF-8 stream and with dashes otherwise.
    """
    words = []
    for line in panel.splitlines()[1:]:
        text = line.strip().strip("│|╭╮╰╯").strip()
        if not text or set(text) <= set("─-━"):
            if words:
                break
            continue
        words.append(text)
    return " ".join(words) or " ".join(panel.split()) or "could not parse the command line"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    subcommands = {name: cls for name, (cls, _) in COMMANDS.items()}
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            cfg = tyro.extras.subcommand_cli_from_dict(subcommands, args=args, prog="funcmlp")
    except SystemExit as e:
        if e.code not in (0, None):
            print(f"funcmlp: error: {_one_line(captured.getvalue())}", file=sys.stderr)
        return 0 if e.code is None else e.code
    sys.stderr.write(captured.getvalue())
    runner = next(fn for cls, fn in COMMANDS.values() if isinstance(cfg, cls))
    try:
        return runner(cfg)
    except (ValueError, TypeError) as e:
        print(f"funcmlp: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
