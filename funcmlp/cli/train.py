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
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from funcmlp.cli.options import (
    DEFAULT_HELD_OUT,
    RunOptions,
    SweepConfig,
    TrainConfig,
    flags,
    make_optimizer,
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
    """One sample of the toy data set ``--dataset``."""
    from funcmlp import data

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
        p = datafile.prepare(cfg.data, key, standardize=cfg.standardize, val=val, test=test)
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
    return Run(t0, open_run(cfg), keys, samples)


def run_train(cfg: TrainConfig) -> int:
    run = start_run(cfg, validate_train)
    sizes = (run.samples.n_features, *cfg.hidden, run.samples.n_classes)
    if cfg.seeds == 1:
        return finish_run(cfg, run, sizes, cfg.lr, cfg.activation, seed=0)
    result = sweep_models(cfg, run, sizes, cfg.activation, learning_rates=[cfg.lr])
    g, *index, seed = result.best()  # chosen on the validation sample, never on the test sample
    selected = result.model(g, *index, seed)
    return finish_run(cfg, run, sizes, cfg.lr, cfg.activation, seed=seed, selected=selected)


def sweep_models(cfg: Config, run: Run, sizes, activation, *, configurations: int = 1, **grid):
    """``funcmlp.sweep`` of the networks ``sizes`` x ``activation`` x the grid x --seeds, with the options the
    two commands share, behind a progress bar; the validation sample scores the models.

    ``grid``: ``funcmlp.sweep``'s ``learning_rates=`` or ``hyperparams=``, and ``l2=`` (default --l2) and
    ``start=``; ``configurations``: how many configurations the grid has (for the progress bar).
    """
    import funcmlp
    from funcmlp.cli import progress

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
            chunk_size=progress.chunk_size(cfg.steps),
            callback=bar.for_sweep(cfg.steps),
            **{"l2": cfg.l2, **grid},
        )


def finish_run(
    cfg: Config,
    run: Run,
    sizes,
    lr: float,
    activation: str,
    *,
    seed: int,
    selected=None,
    headline: str = "",
    setting: dict[str, float] | None = None,
    extra: dict[str, Any] | None = None,
) -> int:
    """Train model ``seed`` alone (as the sweep did), logging loss and accuracy per chunk, and write the run.

    With ``selected`` (the sweep's trained parameters of that seed) the run saves and scores exactly those
    parameters; the logged retraining gives the learning curves. ``setting``: the sweep configuration's
    optimizer arguments and l2 (default --l2), also written to metrics.json with ``extra``.
    """
    import jax

    import funcmlp
    from funcmlp.cli import progress

    given, setting = setting is not None, dict(setting or {})
    l2 = setting.pop("l2", cfg.l2)
    samples = run.samples
    init = funcmlp.init_params(jax.random.split(run.keys["init"], cfg.seeds)[seed], sizes, scheme=cfg.init)
    with progress.Progress(cfg.steps, description=f"seed {seed}", quiet=cfg.quiet) as bar:
        result, history = progress.train_logged(
            init,
            *samples.train,
            optimizer=make_optimizer(cfg.optimizer, lr, **setting),
            steps=cfg.steps,
            activation=activation,
            batch_size=cfg.batch_size,
            key=run.keys["shuffle"],
            l2=l2,
            evaluate={"val": samples.val, "test": samples.test},
            callback=bar,
        )
    last = {k: float(v[-1]) for k, v in history.columns.items()}
    params, loss = result.params, float(result.losses[-1])
    if selected is not None:
        params = selected
        loss = float(funcmlp.loss(params, *samples.train, activation=activation, l2=l2))
        for split, (x, y) in zip(("train", "val", "test"), samples[:3], strict=True):
            if len(y):
                last[f"{split}_accuracy"] = float(funcmlp.accuracy(params, x, y, activation=activation))
    diverged_at = int(result.diverged_at)
    metrics = {
        "train_accuracy": last["train_accuracy"],
        "validation_accuracy": last.get("val_accuracy"),
        "test_accuracy": last.get("test_accuracy"),
        "final_loss": loss if diverged_at < 0 else None,
        "diverged_at": diverged_at if diverged_at >= 0 else None,
        "selected_seed": seed,
        "seeds": cfg.seeds,
        "sizes": list(sizes),
        "learning_rate": lr,
        "activation": activation,
        **({**setting, "l2": l2, **(extra or {})} if given else {}),
    }
    name = f"{'-'.join(map(str, sizes))} {activation} net"
    chosen = f"seed {seed} of {cfg.seeds}" if cfg.seeds > 1 else "one seed"
    data = cfg.data.name if cfg.data is not None else cfg.dataset
    metrics["seconds"] = time.perf_counter() - run.t0
    title = f"{name} on {data}, {chosen}"
    write_run(cfg, run, params, history, result.losses, metrics, activation=activation, title=title)
    final = "n/a (diverged)" if metrics["final_loss"] is None else f"{metrics['final_loss']:.4f}"
    scores = ", ".join(
        f"{split} accuracy {metrics[f'{split}_accuracy']:.3f}"
        for split in ("train", "validation", "test")
        if metrics[f"{split}_accuracy"] is not None
    )
    values = "".join(f", {k} {v:g}" for k, v in {**setting, "l2": l2}.items() if given)
    summary = f"{headline}{name}, lr {lr:g}{values}, on {data}, {chosen}: {scores}, final loss {final}"
    print(f"{summary}, {metrics['seconds']:.1f} s -> {run.out}")
    if diverged_at >= 0:
        where = run.out / "metrics.json"
        print(
            f"funcmlp: error: the loss became non-finite at step {diverged_at}; see {where}", file=sys.stderr
        )
        return 1
    return 0


def write_run(
    cfg: Config, run: Run, params, history, losses, metrics: dict[str, Any], *, activation: str, title: str
) -> None:
    """Write a finished run: params.safetensors (with what ``predict`` needs), config.json, metrics.json,
    metrics.csv, learning_curves.png, loss.png and, for two features, decision_boundary.png."""
    from funcmlp import plots
    from funcmlp.io import runs

    out, samples, p = run.out, run.samples, run.samples.prepared
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(cfg).items()}
    prepared = (
        {}
        if p is None
        else {"standardizer": p.standardizer, "classes": p.classes, "feature_names": p.feature_names}
    )
    runs.save_model(out, params, activation=activation, config=config, **prepared)
    runs.write_json(out / "config.json", config)
    runs.write_history(out / "metrics.csv", history.columns)
    runs.write_json(out / "metrics.json", metrics)
    plots.learning_curves(history.columns, out / "learning_curves.png", title=title)
    plots.loss_curve(losses, out / "loss.png", title=f"Training loss at every step\n{title}")
    if samples.n_features != 2:
        return
    held_out = len(samples.test[1]) > 0
    x, y = samples.test if held_out else samples.train
    kw: dict[str, Any] = {}
    if p is not None:
        x = p.raw.x_test if held_out else p.raw.x_train
        kw = {"transform": p.standardizer, "feature_names": p.feature_names, "class_names": p.classes}
    acc = metrics.get("test_accuracy")
    title += "" if acc is None else f", test accuracy {acc:.1%}"
    plots.decision_boundary(
        params, x, y, out / "decision_boundary.png", activation=activation, title=title, **kw
    )
