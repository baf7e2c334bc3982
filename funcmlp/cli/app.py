"""The ``funcmlp`` command line: each subcommand is a frozen dataclass config, parsed by tyro.

    funcmlp train                      # 64 seeds of the lecture's 2 -> 4 -> 3 ReLU net, the best on validation
    funcmlp train --seeds 1            # one model
    funcmlp train --hidden 100 --l2 1e-3 --steps 10000
    funcmlp sweep --learning-rates 0.01 0.03 0.1 --widths 2 4 8 16 --seeds 16
    funcmlp train --data flowers.csv --standardize --name flowers    # your own data (see cli_tools)

Bad input is reported as one line on stderr with exit code 2.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import os
import sys
import time
from pathlib import Path
from typing import Literal

import tyro

from funcmlp.cli import show as cli_tools

DatasetName = Literal["spiral", "xor", "blobs", "moons", "circles"]
OptimizerName = Literal["sgd", "momentum", "adam"]


@dataclasses.dataclass(frozen=True)
class TrainConfig(cli_tools.RunOptions):
    """Train an MLP on a toy data set or your own (--data) and report held-out accuracy."""

    hidden: tuple[int, ...] = (4,)
    """Hidden layer widths (the lecture's network has one hidden layer of 4)."""
    activation: str = "relu"
    """Hidden activation: step, linear, sigmoid, tanh, relu, leaky_relu or leaky_relu:SLOPE."""
    lr: float = 0.03
    """Learning rate alpha (sgd: w_new = w_old - alpha dJ/dw)."""
    optimizer: OptimizerName = "adam"
    """Optimizer (optax): sgd, momentum (0.9) or adam."""
    steps: int = 1000
    """Optimizer steps."""
    batch_size: int | None = None
    """Mini-batch size; omit for full-batch gradient descent."""
    l2: float = 0.0
    """L2 penalty weight on the weights (0.5 * l2 * sum W^2)."""
    init: Literal["he", "glorot", "normal"] = "he"
    """Weight initialisation scheme."""
    seeds: int = 64
    """Initialisations trained at once; the one with the best validation accuracy is kept (1: one model)."""
    seed: int = 0
    """Seed: draws the training, validation and test data, the initial weights and the mini-batches."""
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
    from funcmlp import checks

    check_widths(cfg.hidden, "--hidden")
    check_activation(cfg.activation, "--activation")
    checks.check_nonnegative_real(cfg.lr, "--lr")
    validate_shared(cfg)


def validate_shared(cfg) -> None:
    """The options that the train and sweep commands share."""
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


def optimizer_factory(name: str):
    """The optimizer as a function of the learning rate (what ``funcmlp.sweep`` takes)."""
    make_optimizer(name, 1.0)  # fails early on an unknown name
    return functools.partial(make_optimizer, name)


def draw_samples(cfg, seed: int):
    """Keys from ``seed``, and the training, validation and test samples, each drawn with its own key."""
    import jax

    names = ("train", "val", "test", "init", "shuffle")
    keys = dict(zip(names, jax.random.split(jax.random.key(seed), len(names)), strict=True))
    if cfg.data is not None:
        samples = cli_tools.load_samples(cfg, keys["train"])
    else:
        draw = jax.jit(functools.partial(make_data, cfg))  # one compile for the three samples
        samples = cli_tools.Samples(*[draw(keys[k]) for k in ("train", "val", "test")])
    n = len(samples.train[0])
    if cfg.batch_size is not None and cfg.batch_size > n:
        raise ValueError(
            f"--batch-size: expected at most {n} (the training set's size), got {cfg.batch_size}"
        )
    return keys, samples


def run_sweep_for(cfg, keys, train, val, *, sizes, learning_rates, activation):
    """``funcmlp.sweep`` with the options shared by the train and sweep commands, with a progress bar."""
    import funcmlp
    from funcmlp.cli import progress

    x_val, y_val = val if len(val[1]) else (None, None)
    n_groups = (len(sizes) if isinstance(sizes, list) else 1) * (
        1 if isinstance(activation, str) else len(activation)
    )
    n_models = n_groups * len(learning_rates) * cfg.seeds
    with cli_tools.progress_bar(cfg, n_groups * cfg.steps, f"{n_models} models") as bar:
        return funcmlp.sweep(
            keys["init"], *train, sizes=sizes, seeds=cfg.seeds, learning_rates=learning_rates, steps=cfg.steps,
            activation=activation, optimizer=optimizer_factory(cfg.optimizer), batch_size=cfg.batch_size,
            batch_key=keys["shuffle"], l2=cfg.l2, scheme=cfg.init, x_val=x_val, y_val=y_val,
            chunk_size=progress.chunk_size(cfg.steps), callback=bar.for_sweep(cfg.steps),
        )  # fmt: skip


def config_dict(cfg) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(cfg).items()}


def run_train(cfg: TrainConfig) -> int:
    t0 = time.perf_counter()
    validate_config(cfg)
    keys, samples = draw_samples(cfg, cfg.seed)
    out = cli_tools.open_run(cfg)
    sizes = (samples.n_features, *cfg.hidden, samples.n_classes)
    seed, selected = 0, None
    if cfg.seeds > 1:
        result = run_sweep_for(
            cfg, keys, samples.train, samples.val, sizes=sizes, learning_rates=[cfg.lr], activation=cfg.activation
        )  # fmt: skip
        g, i, seed = result.best()  # chosen on the validation sample, never on the test sample
        selected = result.model(g, i, seed)
    return finish_run(
        cfg,
        t0,
        out,
        keys,
        samples,
        sizes=sizes,
        lr=cfg.lr,
        activation=cfg.activation,
        seed=seed,
        selected=selected,
    )


def finish_run(
    cfg,
    t0: float,
    out: Path,
    keys,
    samples,
    *,
    sizes,
    lr: float,
    activation: str,
    seed: int,
    headline: str = "",
    selected=None,
) -> int:
    """Train the chosen seed alone, logged, and write the run. With ``selected`` (the sweep's trained
    parameters of that seed) the run saves and scores exactly those parameters; the logged retraining gives
    the learning curves."""
    """Train model ``seed`` alone (as the sweep did), logging loss and accuracy per chunk; write the run."""
    import jax

    import funcmlp
    from funcmlp.cli import progress

    init = funcmlp.init_params(jax.random.split(keys["init"], cfg.seeds)[seed], sizes, scheme=cfg.init)
    evaluate = {"val": samples.val, "test": samples.test}
    with cli_tools.progress_bar(cfg, cfg.steps, f"seed {seed}") as bar:
        result, history = progress.train_logged(
            init, *samples.train, optimizer=make_optimizer(cfg.optimizer, lr), steps=cfg.steps,
            activation=activation, batch_size=cfg.batch_size, key=keys["shuffle"], l2=cfg.l2,
            evaluate=evaluate, callback=bar,
        )  # fmt: skip
    h = {k: float(v[-1]) for k, v in history.columns.items()}
    diverged_at = int(result.diverged_at)
    if selected is not None:
        params = selected
        for split, (xs, ys) in (("train", samples.train), ("val", samples.val), ("test", samples.test)):
            if len(ys):
                h[f"{split}_accuracy"] = float(funcmlp.accuracy(params, xs, ys, activation=activation))
    else:
        params = result.params
    metrics = {
        "train_accuracy": h["train_accuracy"],
        "validation_accuracy": h.get("val_accuracy"),
        "test_accuracy": h.get("test_accuracy"),
        "final_loss": (
            float(result.losses[-1])
            if selected is None
            else float(funcmlp.loss(params, *samples.train, l2=cfg.l2))
        )
        if diverged_at < 0
        else None,
        "diverged_at": diverged_at if diverged_at >= 0 else None,
        "selected_seed": seed,
        "seeds": cfg.seeds,
        "sizes": list(sizes),
        "learning_rate": lr,
        "activation": activation,
    }
    name = f"{'-'.join(map(str, sizes))} {activation} net"
    chosen = f"seed {seed} of {cfg.seeds}" if cfg.seeds > 1 else "one seed"
    data = cfg.data.name if cfg.data is not None else cfg.dataset
    metrics["seconds"] = time.perf_counter() - t0
    cli_tools.write_run(
        out, params=params, history=history, losses=result.losses, samples=samples,
        config=config_dict(cfg), metrics=metrics, activation=activation, title=f"{name} on {data}, {chosen}",
    )  # fmt: skip
    final = "n/a (diverged)" if metrics["final_loss"] is None else f"{metrics['final_loss']:.4f}"
    scores = ", ".join(
        f"{split} accuracy {metrics[key]:.3f}"
        for split, key in (
            ("train", "train_accuracy"),
            ("validation", "validation_accuracy"),
            ("test", "test_accuracy"),
        )
        if metrics[key] is not None
    )
    print(
        f"{headline}{name}, lr {lr:g}, on {data}, {chosen}: {scores}, final loss {final}, {metrics['seconds']:.1f} s -> {out}"
    )
    if diverged_at >= 0:
        print(f"funcmlp: error: the loss became non-finite at step {diverged_at}; see {out / 'metrics.json'}",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


@dataclasses.dataclass(frozen=True)
class SweepConfig(cli_tools.RunOptions):
    """Train every (learning rate, width, activation, seed) at once; summarise validation accuracy over seeds."""

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
    optimizer: OptimizerName = "adam"
    """Optimizer (optax): sgd, momentum (0.9) or adam."""
    steps: int = 1000
    """Optimizer steps per model."""
    batch_size: int | None = None
    """Mini-batch size; omit for full-batch gradient descent."""
    l2: float = 0.0
    """L2 penalty weight on the weights."""
    init: Literal["he", "glorot", "normal"] = "he"
    """Weight initialisation scheme."""
    seed: int = 0
    """Seed: draws the training and validation data, the initial weights and the mini-batches."""
    dataset: DatasetName = "spiral"
    """Toy data set."""
    n_per_class: int = 100
    """Points per class."""
    noise: float = 0.2
    """Noise of the data set."""
    out: Path | None = None
    """Run directory; defaults to runs/<timestamp>."""


def validate_sweep_config(cfg: SweepConfig) -> None:
    """Check every option of the sweep command before any directory is made or any data drawn."""
    from funcmlp import checks

    checks.check_learning_rates(cfg.learning_rates, "--learning-rates")
    check_widths(cfg.widths, "--widths")
    checks.check_positive_int(cfg.depth, "--depth")
    for name in cfg.activations:
        check_activation(name, "--activations")
    validate_shared(cfg)


def run_sweep(cfg: SweepConfig) -> int:
    t0 = time.perf_counter()
    import rich

    from funcmlp.sweeps import figures as sweep_plots

    validate_sweep_config(cfg)
    keys, samples = draw_samples(cfg, cfg.seed)
    out = cli_tools.open_run(cfg)
    sizes = [(samples.n_features, *[w] * cfg.depth, samples.n_classes) for w in cfg.widths]
    lrs, acts = list(cfg.learning_rates), list(cfg.activations)
    result = run_sweep_for(
        cfg, keys, samples.train, samples.val, sizes=sizes, learning_rates=lrs, activation=acts
    )
    rich.print(result.summary_table())
    result.to_csv(out / "models.csv")
    result.to_json(out / "models.json")
    sweep_plots.heatmap(result, out / "heatmap.png")
    sweep_plots.seed_spread(result, out / "seed_spread.png")
    n_models = len(result.groups) * len(result.learning_rates) * result.seeds
    print(f"{n_models} models on {cfg.data or cfg.dataset} in {time.perf_counter() - t0:.1f} s -> {out}")
    g, i, j = result.best()  # the best model is trained again alone, logged, and saved for `funcmlp predict`
    group = result.groups[g]
    return finish_run(
        cfg, t0, out, keys, samples, sizes=group.sizes, lr=result.learning_rates[i], activation=group.activation,
        seed=j, headline="best: ", selected=result.model(g, i, j),
    )  # fmt: skip


COMMANDS = {"train": (TrainConfig, run_train), "sweep": (SweepConfig, run_sweep), **cli_tools.COMMANDS}


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


def cache_dir() -> Path | None:
    """Where the command line keeps compiled programs between processes (JAX's persistent compilation
    cache): ``$FUNCMLP_CACHE_DIR``, else ``$XDG_CACHE_HOME/funcmlp`` or ``~/.cache/funcmlp``; None when
    ``FUNCMLP_NO_CACHE`` is set to anything but 0 or empty."""
    if os.environ.get("FUNCMLP_NO_CACHE", "") not in ("", "0"):
        return None
    if os.environ.get("FUNCMLP_CACHE_DIR"):
        return Path(os.environ["FUNCMLP_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "funcmlp"


def configure_jax() -> None:
    """Before the first computation: one JAX CPU device per core (sweeps spread their models over them;
    no effect once JAX has started, or on GPU / TPU) and the persistent compilation cache."""
    import jax

    with contextlib.suppress(Exception):  # the backend is already up: keep its devices
        jax.config.update("jax_num_cpu_devices", os.cpu_count() or 1)
    folder = cache_dir()
    if folder is not None:
        jax.config.update("jax_compilation_cache_dir", str(folder))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def unknown_words(args: list[str]) -> str | None:
    """A "did you mean" message for an unknown command or option, or None when every word is known."""
    import difflib

    if not args or args[0] in ("-h", "--help"):
        return None
    command = args[0]
    if command == "benchmark":
        return "the benchmarks live outside the package: run `python -m benchmarks` in a source checkout"
    if command not in COMMANDS:
        close = difflib.get_close_matches(command, list(COMMANDS), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown command {command!r}; {hint}(commands: {', '.join(COMMANDS)})"
    cls = COMMANDS[command][0]
    flags = {"--help", "-h"}
    for field in dataclasses.fields(cls):
        flag = "--" + field.name.replace("_", "-")
        flags.add(flag)
        if field.type in (bool, "bool"):
            flags.add("--no-" + flag[2:])
    for word in args[1:]:
        flag = word.split("=", 1)[0]
        if flag.startswith("--") and flag not in flags:
            prefixed = [f for f in sorted(flags) if f.startswith(flag)]
            close = prefixed[:1] or difflib.get_close_matches(flag, sorted(flags), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            return (
                f"unknown option {flag} for 'funcmlp {command}'{hint} (funcmlp {command} --help lists them)"
            )
    return None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    unknown = unknown_words(args)
    if unknown is not None:
        print(f"funcmlp: error: {unknown}", file=sys.stderr)
        return 2
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
    configure_jax()
    try:
        return runner(cfg)
    except (ValueError, TypeError) as e:
        print(f"funcmlp: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
