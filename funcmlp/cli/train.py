"""``funcmlp train``, and what it shares with ``funcmlp sweep`` (``sweep``): draw or read the samples,
train, and write the run directory.

Many models are trained at once by ``funcmlp.sweep`` (behind a progress bar) and the best on the validation
sample is kept; that model is trained again alone with its learning curves logged (``train --seeds 1``
trains only it), and the run is written: params.safetensors (what ``funcmlp predict`` reads), config.json,
metrics.json, metrics.csv and figures.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from funcmlp.cli import defaults, task
from funcmlp.cli.options import (
    DEFAULT_HELD_OUT,
    RunOptions,
    SweepConfig,
    TrainConfig,
    flags,
    optimizer_factory,
    validate_train,
)

Config = TrainConfig | SweepConfig  # the options of either command


class Samples(NamedTuple):
    """Training, validation and test samples (x, y) as the network sees them, and how they were made.

    Attributes:
      prepared: the ``datafile.Prepared`` of a ``--data`` file (raw values, standardizer, class names), or
        None for a toy data set.
    """

    train: tuple[Any, Any]
    val: tuple[Any, Any]
    test: tuple[Any, Any]
    prepared: Any = None

    @property
    def n_features(self) -> int:
        return int(self.train[0].shape[1])

    @property
    def n_classes(self) -> int:
        import numpy as np

        if self.prepared is not None:
            return len(self.prepared.classes)
        return int(max(np.max(np.asarray(y)) for _, y in (self.train, self.val, self.test) if len(y))) + 1


def make_data(cfg: RunOptions, key):
    """One sample of the toy data set ``--dataset`` (the options left out at their defaults)."""
    from funcmlp import data

    cfg = defaults.resolved(cfg)
    if cfg.dataset == "spiral":
        return data.spiral(key, cfg.n_per_class, noise=cfg.noise)
    if cfg.dataset == "xor":
        return data.xor(key, cfg.n_per_class // 2 or 1, noise=cfg.noise)
    if cfg.dataset == "blobs":
        return data.blobs(key, cfg.n_per_class, spread=cfg.noise)
    return data.DATASETS[cfg.dataset](key, cfg.n_per_class, noise=cfg.noise)


def load_samples(cfg: RunOptions, key) -> Samples:
    """``--data`` read, split with ``key`` (``--val``, ``--test``) and standardised if ``--standardize``."""
    from funcmlp.io import datafile

    with flags(path="--data", val="--val", test="--test", **{"val, test": "--val, --test"}):
        val, test = (DEFAULT_HELD_OUT if v is None else v for v in (cfg.val, cfg.test))
        targets = task.is_regression(cfg)
        p = datafile.prepare(cfg.data, key, standardize=cfg.standardize, val=val, test=test, targets=targets)
    s = p.split
    return Samples((s.x_train, s.y_train), (s.x_val, s.y_val), (s.x_test, s.y_test), p)


def draw_samples(cfg: RunOptions, seed: int) -> tuple[dict[str, Any], Samples]:
    """Keys from ``seed``, and the training, validation and test samples, each drawn with its own key."""
    import jax

    names = ("train", "val", "test", "init", "shuffle")
    keys = dict(zip(names, jax.random.split(jax.random.key(seed), len(names)), strict=True))
    if cfg.data is not None:
        samples = load_samples(cfg, keys["train"])
    else:
        draw = jax.jit(functools.partial(make_data, cfg))  # one compile for the three samples
        samples = Samples(*[draw(keys[k]) for k in ("train", "val", "test")])
    n = len(samples.train[0])
    if cfg.batch_size is not None and cfg.batch_size > n:
        raise ValueError(
            f"--batch-size: expected at most {n} (the training set's size), got {cfg.batch_size}"
        )
    return keys, samples


def open_run(cfg: RunOptions) -> Path:
    """The run directory: --out, else runs/--name, else runs/<date-time>; made now, so it fails early."""
    from funcmlp.io import runs

    with flags(name="--name", out="--out", root="--name"):
        return runs.create(cfg.name, out=cfg.out, overwrite=cfg.overwrite)


class Run(NamedTuple):
    """A run under way: when it started, its directory, its random keys and its samples."""

    t0: float
    out: Path
    keys: dict[str, Any]
    samples: Samples


def start_run(cfg: Config, validate: Callable[[Any], None]) -> Run:
    """Check the options, then draw (or read) the samples, then make the run directory."""
    t0 = time.perf_counter()
    validate(cfg)
    keys, samples = draw_samples(cfg, cfg.seed)
    task.check_samples(cfg, samples)
    return Run(t0, open_run(cfg), keys, samples)


def run_train(cfg: TrainConfig) -> int:
    from funcmlp.cli import interrupt, stopped
    from funcmlp.cli.finish import finish_run

    run = start_run(cfg, validate_train)
    cfg = defaults.resolved(cfg, run.samples.n_features, task.n_outputs(cfg, run.samples))  # --hidden
    sizes = (run.samples.n_features, *cfg.hidden, task.n_outputs(cfg, run.samples))
    choices = defaults.l2_choices(cfg, n_val=len(run.samples.val[1]))  # --l2, or the weights to choose from
    if cfg.seeds == 1 and len(choices) == 1:
        return finish_run(dataclasses.replace(cfg, l2=choices[0]), run, sizes, cfg.lr, cfg.activation, seed=0)
    l2 = list(choices) if len(choices) > 1 else choices[0]  # a list: an axis of the sweep
    result = sweep_models(
        cfg, run, sizes, cfg.activation, learning_rates=[cfg.lr], l2=l2, configurations=len(choices)
    )
    g, *index, seed = result.best()  # chosen on the validation sample, never on the test sample
    chosen = result.configuration(g, tuple(index))["l2"]
    cfg = dataclasses.replace(cfg, l2=float(chosen))  # config.json: the weight the run used
    if interrupt.requested():  # SIGINT or SIGTERM while the seeds trained: the best one so far is kept
        return stopped.sweep_phase(cfg, run, sizes, result)
    selected = result.model(g, *index, seed)
    setting = {"l2": cfg.l2} if len(choices) > 1 else None  # a chosen weight is reported with the run
    return finish_run(cfg, run, sizes, cfg.lr, cfg.activation, seed=seed, selected=selected, setting=setting)


def sweep_models(cfg: Config, run: Run, sizes, activation, *, configurations: int = 1, **grid):
    """``funcmlp.sweep`` of the networks ``sizes`` x ``activation`` x the grid x --seeds, with the options the
    two commands share, behind a progress bar; the validation sample scores the models.

    ``grid``: ``funcmlp.sweep``'s ``learning_rates=`` or ``hyperparams=``, and ``l2=`` (default --l2) and
    ``start=``; ``configurations``: how many configurations the grid has (for the progress bar).
    """
    import funcmlp
    from funcmlp.cli import interrupt, progress

    x_val, y_val = run.samples.val if len(run.samples.val[1]) else (None, None)
    n_groups = math.prod(len(v) if isinstance(v, list) else 1 for v in (sizes, activation))
    n_models = n_groups * configurations * cfg.seeds
    with progress.Progress(n_groups * cfg.steps, description=f"{n_models} models", quiet=cfg.quiet) as bar:
        return funcmlp.sweep(
            run.keys["init"],
            *run.samples.train,
            sizes=sizes,
            seeds=cfg.seeds,
            steps=cfg.steps,
            activation=activation,
            optimizer=optimizer_factory(cfg.optimizer),
            batch_size=cfg.batch_size,
            batch_key=run.keys["shuffle"],
            scheme=cfg.init,
            x_val=x_val,
            y_val=y_val,
            chunk_size=progress.sweep_chunk(cfg, sizes, configurations * cfg.seeds, run.samples),
            callback=interrupt.stopping(bar.for_sweep(cfg.steps)),  # True after a signal: the sweep stops
            head=task.training_head(cfg, run.samples),
            **{"l2": cfg.l2, **grid},
        )
