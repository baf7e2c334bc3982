"""``funcmlp show`` and ``funcmlp predict``: look at a finished run, apply its network to new points.

funcmlp show runs/iris
funcmlp predict runs/iris --data new_flowers.csv               # prints CSV to stdout
funcmlp predict runs/iris --data new_flowers.csv --out pred.csv --probabilities
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import tyro


@dataclasses.dataclass(frozen=True)
class ShowConfig:
    """Summarise a run directory: its options, results, learning history and files."""

    dir: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="DIR")]
    """The run directory (runs/<name>)."""


@dataclasses.dataclass(frozen=True)
class PredictConfig:
    """Apply a trained run's network to new points from a CSV or .npz file."""

    dir: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="DIR")]
    """The run directory (runs/<name>) holding params.safetensors."""
    data: Path
    """Points to classify: a CSV whose header names the training features (matched by name, in any order;
    one more column is the label), a CSV without a header (by position), or an .npz with x."""
    out: Path | None = None
    """Write the predictions to this CSV file instead of printing them."""
    probabilities: bool = False
    """Add one column per class with its predicted probability."""


@contextlib.contextmanager
def flags(**names: str) -> Iterator[None]:
    """Re-word a library error "<argument>: ..." as "<option>: ..." for the options given, e.g. path="--data"."""
    try:
        yield
    except (ValueError, TypeError) as e:
        arg, sep, rest = str(e).partition(": ")
        if sep and arg in names:
            raise type(e)(f"{names[arg]}: {rest}") from None
        raise


def run_show(cfg: ShowConfig) -> int:
    from funcmlp.io import runs

    with flags(run_dir="DIR"):
        print(runs.show(cfg.dir))
    return 0


def predictions_table(cfg: PredictConfig) -> tuple[str, str]:
    """Apply the run's network to the points of ``--data`` and lay out what to print.

    The file's columns are matched to the model's features by their header names (by position without a
    header row) and echoed in the file's order under the file's names (the model's feature names and
    "label" for a file without a header; the numbers as the model reads them, in float32), followed by
    ``prediction`` and, with ``--probabilities``, one ``p_<class>`` column per class.

    Args:
      cfg: the ``funcmlp predict`` options.

    Returns:
      ``(CSV text with a header row, summary line)``; the summary gives the accuracy against the file's
      label column when it has one.

    Raises:
      ValueError: "DIR: ..." for a folder without a run, "--data: ..." for a file that cannot be read or
        whose columns do not match the model's features.
    """
    from funcmlp.io import datafile, runs

    with flags(run_dir="DIR"):
        model = runs.load_model(cfg.dir)
    with flags(path="--data"):
        points = datafile.read_features(cfg.data, model.n_features, model.feature_names)
    x, labels = points.x, points.labels
    predicted = model.predict(x)
    classes = model.classes if model.classes is not None else tuple(range(model.params[-1]["w"].shape[1]))
    feature_of = {c: j for j, c in enumerate(points.feature_columns)}
    header = [*points.columns, "prediction"]
    columns: list[list] = []
    for c in range(len(points.columns)):  # the file's columns, in the file's order
        if c == points.label_column:
            columns.append(labels)
        else:
            columns.append([str(v) for v in x[:, feature_of[c]]])  # float32: shortest repr
    columns.append(predicted)
    if cfg.probabilities:
        probs = model.probabilities(x)
        header += [f"p_{c}" for c in classes]
        columns += [[f"{p:.6f}" for p in probs[:, k]] for k in range(probs.shape[1])]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(zip(*columns, strict=True))
    summary = f"{len(predicted)} points classified by {cfg.dir}"
    if labels is not None:
        hits = sum(datafile.parse_label(a) == b for a, b in zip(labels, predicted, strict=True))
        summary += (
            f"; accuracy against the file's labels {hits / len(predicted):.3f} ({hits}/{len(predicted)})"
        )
    return buf.getvalue(), summary


def run_predict(cfg: PredictConfig) -> int:
    from funcmlp.io import checkpoint

    text, summary = predictions_table(cfg)
    if cfg.out is None:
        sys.stdout.write(text)
        print(summary, file=sys.stderr)
    else:
        try:
            checkpoint.atomic_write_bytes(cfg.out, text.encode())
        except OSError as e:
            raise ValueError(
                f"--out: expected a writable file path, got {str(cfg.out)!r} ({e.strerror or type(e).__name__})"
            ) from None
        print(f"{summary} -> {cfg.out}")
    return 0


COMMANDS = {"show": (ShowConfig, run_show), "predict": (PredictConfig, run_predict)}


# -- shared by `funcmlp train` and `funcmlp sweep`: your own data, the run directory, progress -----------------


# Fractions of a --data file held out for validation and for the test, each.
DEFAULT_HELD_OUT = 0.2


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """Options of every training command: data file, run name, progress."""

    data: Path | None = None
    """Your own data instead of --dataset: a CSV (feature columns, then the label; a header row is allowed)
    or an .npz with arrays x (n, d) and y (n,)."""
    standardize: bool = False
    """With --data: rescale each feature to mean 0, standard deviation 1 (training rows' statistics)."""
    val: Annotated[float | None, tyro.conf.arg(metavar="FRACTION")] = None
    """With --data: fraction of the rows held out for validation (it picks the best seed); default 0.2."""
    test: Annotated[float | None, tyro.conf.arg(metavar="FRACTION")] = None
    """With --data: fraction of the rows held out for the final test accuracy; default 0.2."""
    name: str | None = None
    """Run name: files go to runs/NAME (default runs/<date-time>; --out overrides)."""
    quiet: bool = False
    """No progress bar (nor progress lines when the output is not a terminal)."""
    overwrite: bool = False
    """Replace a run already in the run directory (--out or runs/NAME): its files are removed first."""


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


def open_run(cfg: RunOptions) -> Path:
    """The run directory: --out, else runs/--name, else runs/<date-time>; made now, so it fails early."""
    from funcmlp.io import runs

    with flags(name="--name", out="--out", root="--name"):
        return runs.create(cfg.name, out=getattr(cfg, "out", None), overwrite=cfg.overwrite)


def load_samples(cfg: RunOptions, key) -> Samples:
    """``--data`` read, split with ``key`` (``--val``, ``--test``) and standardised if ``--standardize``."""
    from funcmlp.io import datafile

    with flags(path="--data", val="--val", test="--test", **{"val, test": "--val, --test"}):
        val, test = (DEFAULT_HELD_OUT if v is None else v for v in (cfg.val, cfg.test))
        p = datafile.prepare(cfg.data, key, standardize=cfg.standardize, val=val, test=test)
    s = p.split
    return Samples((s.x_train, s.y_train), (s.x_val, s.y_val), (s.x_test, s.y_test), p)


def progress_bar(cfg: RunOptions, total: int, description: str):
    """A ``progress.Progress`` on stderr (a bar on a terminal, a few lines otherwise, nothing with --quiet)."""
    from funcmlp.cli import progress

    return progress.Progress(total, description=description, quiet=cfg.quiet)


def write_run(
    out: Path,
    *,
    params,
    history,
    losses,
    samples: Samples,
    config: dict[str, Any],
    metrics: dict[str, Any],
    activation: str,
    title: str,
) -> None:
    """Write a finished run: params.safetensors (with what ``predict`` needs), config.json, metrics.json,
    metrics.csv, learning_curves.png, loss.png and, for two features, decision_boundary.png."""
    from funcmlp import plots
    from funcmlp.io import runs

    p = samples.prepared
    runs.save_model(
        out, params, activation=activation, standardizer=None if p is None else p.standardizer,
        classes=None if p is None else p.classes, feature_names=None if p is None else p.feature_names,
        config=config,
    )  # fmt: skip
    runs.write_json(out / "config.json", config)
    runs.write_history(out / "metrics.csv", history.columns)
    runs.write_json(out / "metrics.json", metrics)
    plots.learning_curves(history.columns, out / "learning_curves.png", title=title)
    plots.loss_curve(losses, out / "loss.png", title=f"Training loss at every step\n{title}")
    if samples.n_features == 2:
        x_test, y_test = samples.test if len(samples.test[1]) else samples.train
        kw: dict[str, Any] = {}
        if p is not None:
            x_test = p.raw.x_test if len(samples.test[1]) else p.raw.x_train
            kw = {"transform": p.standardizer, "feature_names": p.feature_names, "class_names": p.classes}
        acc = metrics.get("test_accuracy")
        plots.decision_boundary(
            params, x_test, y_test, out / "decision_boundary.png", activation=activation,
            title=title + ("" if acc is None else f", test accuracy {acc:.1%}"), **kw,
        )  # fmt: skip
