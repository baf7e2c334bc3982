"""The options of ``funcmlp train`` and ``funcmlp sweep``, and their checks.

``RunOptions`` declares every option the two commands share; ``TrainConfig`` and ``SweepConfig`` add their
own. The checks run before any directory is made or any data drawn, and name the options as typed;
``flags`` re-words a library error with the option's name and ``optional`` marks an option that may be
left out (show and predict use both too).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

import tyro

from funcmlp.cli.defaults import choice_of

DatasetName = Literal["spiral", "xor", "blobs", "moons", "circles"]
OptimizerName = Literal["sgd", "momentum", "adam"]
InitName = Literal["he", "glorot", "normal"]
HeadName = Literal["softmax", "sigmoid", "linear"]
ClassWeightName = Literal["none", "balanced"]

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
    missing: Literal["impute", "drop"] = "impute"
    """With --data: a gap in a number column is filled with the training rows' median and marked in a
    missing-indicator input (impute), or its row is dropped (drop). Text columns are one-hot encoded."""
    drop: tuple[str, ...] = ()
    """With --data: feature columns to leave out, by header name (an identifier column, which is refused)."""
    head: HeadName = "softmax"
    """Output head: softmax (classes), sigmoid (two classes, one output unit) or linear (regression, with
    --data: the label column read as real targets, standardised with the training rows' mean and std)."""
    class_weight: ClassWeightName = "none"
    """With a classification head: balanced weighs each sample's loss by n / (K n_k), n_k the training
    rows of its class, so that every class counts alike."""
    dataset: Annotated[
        DatasetName | None, choice_of(DatasetName), tyro.conf.arg(help_behavior_hint="(optional)")
    ] = None
    """Toy data set, default spiral (not with --data)."""
    n_per_class: Annotated[int | None, optional("INT")] = None
    """Points per class, default 100 (the lecture's spiral: 3 x 100 = 300; not with --data)."""
    noise: Annotated[float | None, optional("FLOAT")] = None
    """Noise of the data set, default 0.2 (angle noise for the spiral; not with --data)."""
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
    tensorboard: Annotated[Path | None, optional("DIR")] = None
    """Also write TensorBoard event files to DIR: every model's loss as it trains, every model's logged
    curves, every configuration's hyperparameters (the HParams tab), the chosen model's curves and the
    run's figures (needs pip install "funcmlp[tensorboard]")."""
    wandb: Annotated[str | None, optional("PROJECT")] = None
    """Also log the same to Weights & Biases project PROJECT, offline (files under the run directory; sync
    them with `wandb sync`; needs pip install "funcmlp[wandb]")."""
    optimizer: OptimizerName = "adam"
    """Optimizer (optax): sgd, momentum (0.9) or adam."""
    steps: int = 1000
    """Optimizer steps per model."""
    log_every: Annotated[int | None, optional("STEPS")] = None
    """Steps between the rows of metrics.csv, the chosen model's logged evaluations (default: 50 rows)."""
    batch_size: Annotated[int | None, optional("INT")] = None
    """Mini-batch size; omit for full-batch gradient descent."""
    l2: float = 0.0
    """L2 penalty weight on the weights (0.5 * l2 * sum W^2)."""
    init: InitName = "he"
    """Weight initialisation scheme."""


@dataclasses.dataclass(frozen=True)
class TrainConfig(RunOptions):
    """Train an MLP on a toy data set or your own (--data) and report held-out accuracy (--head linear: MAE,
    RMSE and R^2)."""

    hidden: Annotated[tuple[int, ...] | None, optional("INT [INT ...]")] = None
    """Hidden layer widths, at least one. Default: the lecture's one hidden layer of 4; with --data one of
    2 (d + K) units clipped to [8, 128], d features and K outputs (classes)."""
    patience: Annotated[int | None, optional("N")] = None
    """Early stopping: stop when the validation accuracy (the linear head: loss) has not improved for N
    logged evaluations (--log-every) and keep the best evaluation's parameters."""
    activation: str = "relu"
    """Hidden activation: step, linear, sigmoid, tanh, relu, leaky_relu or leaky_relu:SLOPE."""
    lr: float = 0.03
    """Learning rate alpha (sgd: w_new = w_old - alpha dJ/dw)."""
    seeds: Annotated[int | None, optional("INT")] = None
    """Initialisations trained at once; the one with the best validation accuracy (--head linear: the lowest
    validation loss) is kept (1: one model). Default 64; with --data chosen to fit --budget."""
    steps: Annotated[int | None, optional("INT")] = None
    """Optimizer steps per model. Default 1000; with --data chosen to fit --budget."""
    batch_size: Annotated[int | None, optional("INT")] = None
    """Mini-batch size; omit for full-batch gradient descent (with --data: chosen to fit --budget)."""
    budget: Annotated[float | None, optional("SECONDS")] = None
    """With --data: the seconds the run aims at, from reading the file to scoring the chosen model (default
    10): the options left out of --seeds, --steps and --batch-size are chosen from a measured cost of one
    step to fit it (the choice is printed and saved in config.json and metrics.json)."""
    l2: Annotated[float | None, optional("FLOAT")] = None
    """L2 penalty weight on the weights (0.5 * l2 * sum W^2). Default 0; with --data and --head linear,
    chosen on the validation rows among 0, 0.001, 0.01, 0.1 and 1 (--seeds initialisations each)."""


@dataclasses.dataclass(frozen=True)
class SweepConfig(RunOptions):
    """Train every (width, activation, learning rate, optimizer setting, l2, seed) at once; summarise
    validation accuracy over seeds and keep the best configuration's best seed."""

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
    l2: tuple[float, ...] = (0.0,)
    """L2 penalty weights on the weights (0.5 * l2 * sum W^2): one value is a fixed setting, several are an
    axis of the grid."""
    momentum: Annotated[tuple[float, ...] | None, optional("FLOAT [FLOAT ...]")] = None
    """With --optimizer sgd or momentum: momentum values, an axis when several (default: none for sgd, 0.9
    for momentum)."""
    b1: Annotated[tuple[float, ...] | None, optional("FLOAT [FLOAT ...]")] = None
    """With --optimizer adam: decay rates of the first moment, in [0, 1) (default 0.9)."""
    b2: Annotated[tuple[float, ...] | None, optional("FLOAT [FLOAT ...]")] = None
    """With --optimizer adam: decay rates of the second moment, in [0, 1) (default 0.999)."""
    resume: Annotated[Path | None, optional("DIR")] = None
    """Continue the sweep saved in DIR (its sweep.safetensors) for --steps more steps and write DIR again;
    the options left out are read back from DIR/config.json, those given must match them."""


# The file of a sweep's run directory that holds the whole sweep (for `funcmlp sweep --resume` and
# `funcmlp predict --ensemble`).
SWEEP_FILE = "sweep.safetensors"


# The library's hints in Python spelling, as typed on the command line.
HINTS = (
    (re.compile(r"\boverwrite=True\b"), "--overwrite"),
    (re.compile(r"\bdrop=\('([^'\s]*)',\)"), r"--drop \1"),
)


@contextlib.contextmanager
def flags(**names: str) -> Iterator[None]:
    """Re-word a library error "<argument>: ..." as "<option>: ..." for the options given (path="--data"),
    and its hints (``HINTS``: "pass overwrite=True" as "pass --overwrite")."""
    try:
        yield
    except (ValueError, TypeError) as e:
        arg, sep, rest = str(e).partition(": ")
        if sep and arg in names:
            for pattern, typed in HINTS:
                rest = pattern.sub(typed, rest)
            raise type(e)(f"{names[arg]}: {rest}") from None
        raise


def validate_train(cfg: TrainConfig) -> None:
    """Check every option of ``funcmlp train``."""
    from funcmlp import checks

    if cfg.hidden is not None:
        check_widths(cfg.hidden, "--hidden")
    check_activation(cfg.activation, "--activation")
    checks.check_nonnegative_real(cfg.lr, "--lr")
    if cfg.budget is not None:
        if cfg.data is None:
            raise ValueError(
                "--budget: expected only with --data (a toy data set trains 64 seeds x 1000 steps), "
                f"got {cfg.budget}"
            )
        if not (checks.check_nonnegative_real(cfg.budget, "--budget") and cfg.budget > 0):
            raise ValueError(f"--budget: expected a positive number of seconds, got {cfg.budget}")
    validate_shared(cfg)


def validate_sweep(cfg: SweepConfig) -> None:
    """Check every option of ``funcmlp sweep``."""
    from funcmlp import checks

    checks.check_learning_rates(cfg.learning_rates, "--learning-rates")
    check_widths(cfg.widths, "--widths")
    checks.check_positive_int(cfg.depth, "--depth")
    for name in cfg.activations:
        check_activation(name, "--activations")
    from funcmlp.fitting.optimizers import OPTIMIZER_AXES

    takes = OPTIMIZER_AXES[cfg.optimizer]
    for name in ("momentum", "b1", "b2"):
        values, flag = getattr(cfg, name), "--" + name
        if values is not None and name not in takes:
            others = " or ".join(k for k, v in OPTIMIZER_AXES.items() if name in v)
            raise ValueError(
                f"{flag}: expected only with --optimizer {others}, got --optimizer {cfg.optimizer} "
                f"(which takes {', '.join('--' + k for k in takes)})"
            )
        if values is not None:
            check_values(values, flag, below_one=name != "momentum")
    validate_shared(cfg)


def validate_shared(cfg: TrainConfig | SweepConfig) -> None:
    """Check the options that ``funcmlp train`` and ``funcmlp sweep`` share."""
    from funcmlp import checks
    from funcmlp.cli import defaults

    given = (("--val", cfg.val), ("--test", cfg.test), ("--standardize", cfg.standardize or None))
    for flag, value in (*given, ("--drop", cfg.drop or None)):
        if value is not None and cfg.data is None:
            raise ValueError(
                f"{flag}: expected only with --data (a toy data set draws its own samples), got {value}"
            )
    defaults.check_head(cfg)
    defaults.check_data_options(cfg)
    defaults.check_stopping(cfg)
    for flag, value in (("--seeds", cfg.seeds), ("--steps", cfg.steps)):
        if value is not None:  # train's left out: 64 and 1000, or chosen with --data to fit --budget
            checks.check_positive_int(value, flag)
    if cfg.batch_size is not None:
        checks.check_positive_int(cfg.batch_size, "--batch-size")
    if cfg.l2 is not None:
        check_values(cfg.l2 if isinstance(cfg.l2, tuple) else (cfg.l2,), "--l2")
    if not 0 <= cfg.seed < 2**32:
        raise ValueError(f"--seed: expected an integer in [0, 2**32), got {cfg.seed}")
    if cfg.n_per_class is not None:
        checks.check_positive_int(cfg.n_per_class, "--n-per-class")
    if cfg.noise is not None:
        checks.check_nonnegative_real(cfg.noise, "--noise")


def check_values(values: tuple[float, ...], flag: str, *, below_one: bool = False) -> None:
    """Non-negative finite numbers (in [0, 1) with ``below_one``), at least one; ``flag[i]`` names an entry
    of several."""
    from funcmlp import checks

    if not values:
        raise ValueError(f"{flag}: expected at least one number, got none")
    for i, v in enumerate(values):
        name = flag if len(values) == 1 else f"{flag}[{i}]"
        checks.check_nonnegative_real(v, name)
        if below_one and not v < 1:
            raise ValueError(f"{name}: expected a number in [0, 1), got {v}")


def check_widths(widths: tuple[int, ...], flag: str) -> None:
    if not widths:
        raise ValueError(f"{flag}: expected at least one layer width, got none")
    if any(isinstance(h, bool) or h < 1 for h in widths):
        raise ValueError(f"{flag}: expected positive layer widths, got {' '.join(map(str, widths))}")


def check_activation(name: str, flag: str) -> None:
    from funcmlp import activations

    try:
        activations.get(name)
    except ValueError as e:
        raise ValueError(f"{flag}:{str(e).partition(':')[2]}") from None
