"""The ``funcmlp`` command line: each subcommand is a frozen dataclass config, parsed by tyro.

    funcmlp train                      # 64 seeds of the lecture's 2-4-3 ReLU net, the best on validation
    funcmlp train --seeds 1            # one model
    funcmlp train --hidden 100 --l2 1e-3 --steps 10000
    funcmlp sweep --learning-rates 0.01 0.03 0.1 --widths 2 4 8 16 --seeds 16
    funcmlp sweep --optimizer sgd --momentum 0 0.9 --l2 0 1e-4 --name grid; funcmlp sweep --resume runs/grid
    funcmlp train --data flowers.csv --standardize --name flowers    # your own data
    funcmlp show runs/flowers; funcmlp predict runs/flowers --data new.csv

Bad input is reported as one line on stderr with exit code 2. The options of train and sweep and their
checks are in ``options``, the two commands in ``train`` and ``sweep``, show and predict in ``show``, the
progress bar in ``progress``; this module reads the command line and runs the command.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import sys
from pathlib import Path

import tyro

from funcmlp.cli import interrupt
from funcmlp.cli.options import SweepConfig, TrainConfig
from funcmlp.cli.show import PredictConfig, ShowConfig, run_predict, run_show
from funcmlp.cli.sweep import run_sweep
from funcmlp.cli.train import run_train

COMMANDS = {
    "train": (TrainConfig, run_train),
    "sweep": (SweepConfig, run_sweep),
    "show": (ShowConfig, run_show),
    "predict": (PredictConfig, run_predict),
}


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
    trains = isinstance(cfg, (TrainConfig, SweepConfig))  # SIGINT, SIGTERM: stop between chunks, save
    try:
        with interrupt.catch() if trains else contextlib.nullcontext():
            return interrupt.outcome(runner(cfg))
    except (ValueError, TypeError) as e:
        print(f"funcmlp: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # a second signal, or Ctrl-C outside training: stop at once
        print("funcmlp: interrupted; stopped at once, without saving more", file=sys.stderr)
        return interrupt.EXIT_CODE


if __name__ == "__main__":
    sys.exit(main())
