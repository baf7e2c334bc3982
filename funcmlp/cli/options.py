"""The options of ``funcmlp train`` and ``funcmlp sweep``, and their checks.

``RunOptions`` declares every option the two commands share; ``TrainConfig`` and ``SweepConfig`` add their
own. The checks run before any directory is made or any data drawn, and name the options as typed;
``flags`` re-words a library error with the option's name and ``optional`` marks an option that may be
left out (show and predict use both too).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

import tyro

DatasetName = Literal["spiral", "xor", "blobs", "moons", "circles"]
OptimizerName = Literal["sgd", "momentum", "adam"]
InitName = Literal["he", "glorot", "normal"]

# Fractions of a --data file held out for validation and for the test, each.
DEFAULT_HELD_OUT = 0.2


def optional(metavar: str):
    """The help of an option whose default None means "not given": ``--out PATH ... (optional)``."""
    return tyro.conf.arg(metavar=metavar, help_behavior_hint="(optional)")


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """Options of every training command: the data, the run directory, the optimizer, progress."""

    data: Annotated[Path | None, optional("PATH")] = None
    """Your own data instead of --dataset: a CSV (feature columns, then the label; a header row is allowed)
    or an .npz with arrays x (n, d) and y (n,)."""
    standardize: bool = False
    """With --data: rescale each feature to mean 0, standard deviation 1 (training rows' statistics)."""
    val: Annotated[float | None, optional("FRACTION")] = None
    """With --data: fraction of the rows held out for validation (it picks the best seed); default 0.2."""
    test: Annotated[float | None, optional("FRACTION")] = None
    """With --data: fraction of the rows held out for the final test accuracy; default 0.2."""
    dataset: DatasetName = "spiral"
    """Toy data set."""
    n_per_class: int = 100
    """Points per class (the lecture's spiral: 3 x 100 = 300)."""
    noise: float = 0.2
    """Noise of the data set (angle noise for the spiral)."""
    seed: int = 0
    """Seed: draws the training, validation and test data, the initial weights and the mini-batches."""
    name: Annotated[str | None, optional("NAME")] = None
    """Run name: files go to runs/NAME (default runs/<date-time>; --out overrides)."""
    out: Annotated[Path | None, optional("PATH")] = None
    """Run directory; defaults to runs/<timestamp>."""
    overwrite: bool = False
    """Replace a run already in the run directory (--out or runs/NAME): its files are removed first."""
    quiet: bool = False
    """No progress bar (nor progress lines when the output is not a terminal)."""
    optimizer: OptimizerName = "adam"
    """Optimizer (optax): sgd, momentum (0.9) or adam."""
    steps: int = 1000
    """Optimizer steps per model."""
    batch_size: Annotated[int | None, optional("INT")] = None
    """Mini-batch size; omit for full-batch gradient descent."""
    l2: float = 0.0
    """L2 penalty weight on the weights (0.5 * l2 * sum W^2)."""
    init: InitName = "he"
    """Weight initialisation scheme."""


@dataclasses.dataclass(frozen=True)
class TrainConfig(RunOptions):
    """Train an MLP on a toy data set or your own (--data) and report held-out accuracy."""

    hidden: tuple[int, ...] = (4,)
    """Hidden layer widths (the lecture's network has one hidden layer of 4)."""
    activation: str = "relu"
    """Hidden activation: step, linear, sigmoid, tanh, relu, leaky_relu or leaky_relu:SLOPE."""
    lr: float = 0.03
    """Learning rate alpha (sgd: w_new = w_old - alpha dJ/dw)."""
    seeds: int = 64
    """Initialisations trained at once; the one with the best validation accuracy is kept (1: one model)."""


@dataclasses.dataclass(frozen=True)
class SweepConfig(RunOptions):
    """Train every (learning rate, width, activation, seed) at once; summarise validation accuracy
    over seeds."""

    learning_rates: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1)
    """Learning rates (one compiled program serves them all)."""
    widths: tuple[int, ...] = (2, 4, 8, 16)
    """Hidden layer widths (one compiled group each)."""
    depth: int = 1
    """Hidden layers per network, all of the same width."""
    activations: tuple[str, ...] = ("relu",)
    """Hidden activations (one compiled group each)."""
    seeds: int = 16
    """Initialisations per configuration."""


def make_optimizer(name: str, lr: float):
    """The optax optimizer of --optimizer ``name`` with learning rate ``lr``."""
    import optax

    if name == "sgd":
        return optax.sgd(lr)
    if name == "momentum":
        return optax.sgd(lr, momentum=0.9)
    if name == "adam":
        return optax.adam(lr)
    raise ValueError(f"optimizer: expected one of sgd, momentum, adam, got {name!r}")


def optimizer_factory(name: str):
    """The optimizer as a function of the learning rate (what ``funcmlp.sweep`` takes)."""
    make_optimizer(name, 1.0)  # fails early on an unknown name
    return functools.partial(make_optimizer, name)


@contextlib.contextmanager
def flags(**names: str) -> Iterator[None]:
    """Re-word a library error "<argument>: ..." as "<option>: ..." for the options given (path="--data")."""
    try:
        yield
    except (ValueError, TypeError) as e:
        arg, sep, rest = str(e).partition(": ")
        if sep and arg in names:
            raise type(e)(f"{names[arg]}: {rest}") from None
        raise


def validate_train(cfg: TrainConfig) -> None:
    """Check every option of ``funcmlp train``."""
    from funcmlp import checks

    check_widths(cfg.hidden, "--hidden")
    check_activation(cfg.activation, "--activation")
    checks.check_nonnegative_real(cfg.lr, "--lr")
    validate_shared(cfg)


def validate_sweep(cfg: SweepConfig) -> None:
    """Check every option of ``funcmlp sweep``."""
    from funcmlp import checks

    checks.check_learning_rates(cfg.learning_rates, "--learning-rates")
    check_widths(cfg.widths, "--widths")
    checks.check_positive_int(cfg.depth, "--depth")
    for name in cfg.activations:
        check_activation(name, "--activations")
    validate_shared(cfg)


def validate_shared(cfg: TrainConfig | SweepConfig) -> None:
    """Check the options that ``funcmlp train`` and ``funcmlp sweep`` share."""
    from funcmlp import checks

    for flag, value in (("--val", cfg.val), ("--test", cfg.test), ("--standardize", cfg.standardize or None)):
        if value is not None and cfg.data is None:
            raise ValueError(
                f"{flag}: expected only with --data (a toy data set draws its own samples), got {value}"
            )
    checks.check_positive_int(cfg.seeds, "--seeds")
    checks.check_positive_int(cfg.steps, "--steps")
    if cfg.batch_size is not None:
        checks.check_positive_int(cfg.batch_size, "--batch-size")
    checks.check_nonnegative_real(cfg.l2, "--l2")
    if not 0 <= cfg.seed < 2**32:
        raise ValueError(f"--seed: expected an integer in [0, 2**32), got {cfg.seed}")
    checks.check_positive_int(cfg.n_per_class, "--n-per-class")
    checks.check_nonnegative_real(cfg.noise, "--noise")


def check_widths(widths: tuple[int, ...], flag: str) -> None:
    if any(isinstance(h, bool) or h < 1 for h in widths):
        raise ValueError(f"{flag}: expected positive layer widths, got {' '.join(map(str, widths))}")


def check_activation(name: str, flag: str) -> None:
    from funcmlp import activations

    try:
        activations.get(name)
    except ValueError as e:
        raise ValueError(f"{flag}:{str(e).partition(':')[2]}") from None
