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
from typing import Annotated

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
    """Points to classify: CSV with the training features (then optionally a label column), or .npz with x."""
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
    from funcmlp import runs

    with flags(run_dir="DIR"):
        print(runs.show(cfg.dir))
    return 0


def predictions_table(cfg: PredictConfig) -> tuple[str, str]:
    """The predictions as CSV text (features, label if given, prediction, probabilities) and a summary line."""
    from funcmlp import datafile, runs

    with flags(run_dir="DIR"):
        model = runs.load_model(cfg.dir)
    with flags(path="--data"):
        x, labels = datafile.load_features(cfg.data, model.n_features)
    predicted = model.predict(x)
    classes = model.classes if model.classes is not None else tuple(range(model.params[-1]["w"].shape[1]))
    header = [*model.feature_names, *(["label"] if labels is not None else []), "prediction"]
    columns: list[list] = [[float(v) for v in x[:, j]] for j in range(x.shape[1])]
    if labels is not None:
        columns.append(labels)
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
    from funcmlp import checkpoint

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
