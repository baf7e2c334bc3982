"""``funcmlp show`` and ``funcmlp predict``: look at a finished run, apply its network to new points.

funcmlp show runs/iris
funcmlp predict runs/iris --data new_flowers.csv               # prints CSV to stdout
funcmlp predict runs/iris --data new_flowers.csv --out pred.csv --probabilities
funcmlp predict runs/grid --data new_flowers.csv --ensemble 5  # a sweep's best configuration, top 5 seeds
"""

from __future__ import annotations

import csv
import dataclasses
import io
import sys
from pathlib import Path
from typing import Annotated, Any

import tyro

from funcmlp.cli.options import SWEEP_FILE, flags, optional


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
    out: Annotated[Path | None, optional("PATH")] = None
    """Write the predictions to this CSV file instead of printing them."""
    probabilities: bool = False
    """Add one column per class with its predicted probability."""
    ensemble: Annotated[int | None, optional("K")] = None
    """For a sweep's run directory: average the predicted probabilities of the top K seeds of its best
    configuration (read from its sweep.safetensors) instead of applying params.safetensors."""


def run_show(cfg: ShowConfig) -> int:
    from funcmlp.io import runs

    with flags(run_dir="DIR"):
        print(runs.show(cfg.dir))
    return 0


def predictions_table(cfg: PredictConfig) -> tuple[str, str]:
    """Apply the run's network to the points of ``--data`` and lay out what to print.

    The file's columns are matched to the model's columns by their header names (by position without a
    header row), read through the model's preprocessing (``datafile.read_points``) and echoed as the file
    holds them, in the file's order under the file's names (the training file's names and "label" for a
    file without a header), followed by ``prediction`` and, with ``--probabilities``, one ``p_<class>``
    column per class.

    Args:
      cfg: the ``funcmlp predict`` options.

    Returns:
      ``(CSV text with a header row, summary line)``; the summary gives the accuracy against the file's
      label column when it has one.

    Raises:
      ValueError: "DIR: ..." for a folder without a run, "--data: ..." for a file that cannot be read or
        whose columns do not match the model's features.
    """
    import numpy as np

    from funcmlp import heads
    from funcmlp.io import datafile, runs

    with flags(run_dir="DIR"):
        model = runs.load_model(cfg.dir)
    with flags(path="--data"):
        points = datafile.read_points(cfg.data, model.reader)  # raw rows in the training file's own form
    x, labels = points.x, points.labels
    regression = not heads.get(model.head).classifies
    if regression:
        check_regression_options(cfg, model)
    predicted, probs = model.predict(x), None
    if cfg.ensemble is not None:
        predicted, probs = ensemble_predictions(cfg, model, x)
    classes = model.classes if model.classes is not None else tuple(range(model.params[-1]["w"].shape[1]))
    header = [*map(str, points.frame.columns), "prediction"]
    columns: list[list] = [[str(v) for v in points.frame[c].to_numpy()] for c in points.frame.columns]
    columns.append([str(np.float32(v)) for v in predicted] if regression else predicted)
    if cfg.probabilities:
        probs = model.probabilities(x) if probs is None else probs
        header += [f"p_{c}" for c in classes]
        columns += [[f"{p:.6f}" for p in probs[:, k]] for k in range(probs.shape[1])]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(zip(*columns, strict=True))
    summary = f"{len(predicted)} points {'predicted' if regression else 'classified'} by {cfg.dir}"
    if cfg.ensemble is not None:
        summary += f" (the average of the best configuration's top {cfg.ensemble} seeds)"
    if labels is not None and regression:
        summary += "; against the file's targets: " + target_scores(labels, predicted)
    elif labels is not None:
        hits = sum(datafile.parse_label(a) == b for a, b in zip(labels, predicted, strict=True))
        summary += (
            f"; accuracy against the file's labels {hits / len(predicted):.3f} ({hits}/{len(predicted)})"
        )
    return buf.getvalue(), summary


def check_regression_options(cfg: PredictConfig, model) -> None:
    """--probabilities and --ensemble need a classification run."""
    for flag, given in (("--probabilities", cfg.probabilities), ("--ensemble", cfg.ensemble is not None)):
        if given:
            raise ValueError(
                f"{flag}: expected a classification run, got a regression run (head {model.head!r}) in "
                f"{str(cfg.dir)!r}"
            )


def target_scores(labels: list[str], predicted: list[float]) -> str:
    """ "MAE m, RMSE r, R^2 s" of the predictions against the label column's numbers."""
    from funcmlp import metrics
    from funcmlp.io import datafile

    values = [datafile.parse_label(v) for v in labels]
    bad = [v for v in values if isinstance(v, str)]
    if bad:
        raise ValueError(
            f"--data: expected finite numbers in the target column of a regression run, got {bad[0]!r}"
        )
    s = metrics.regression(values, predicted)
    return f"MAE {s['mae']:.4g}, RMSE {s['rmse']:.4g}, R^2 {s['r2']:.3f}"


def ensemble_predictions(cfg: PredictConfig, model, x) -> tuple[list, Any]:
    """(labels, probabilities (n, K)) of the average of the top --ensemble seeds of the best configuration
    of the sweep in DIR, on the rows ``x`` standardised as the saved model's."""
    import numpy as np

    import funcmlp
    from funcmlp import checks
    from funcmlp.sweeps import ensemble

    checks.check_positive_int(cfg.ensemble, "--ensemble")
    path = cfg.dir / SWEEP_FILE
    if not path.is_file():
        raise ValueError(
            f"--ensemble: expected a sweep's run directory holding {SWEEP_FILE} (written by funcmlp sweep), "
            f"got {str(cfg.dir)!r}"
        )
    with flags(path="DIR"):
        result = funcmlp.load_sweep(path)
    with flags(k="--ensemble", ensemble="--ensemble"):
        members = ensemble.top_seeds(result, cfg.ensemble)
        x = np.asarray(x, np.float32)
        x = x if model.standardizer is None else model.standardizer(x)
        probs = np.asarray(ensemble.probabilities(members, x), np.float64)
        idx = np.asarray(ensemble.predict(members, x)).tolist()
    labels = idx if model.classes is None else [model.classes[i] for i in idx]
    return labels, probs


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
            reason = e.strerror or type(e).__name__
            raise ValueError(
                f"--out: expected a writable file path, got {str(cfg.out)!r} ({reason})"
            ) from None
        print(f"{summary} -> {cfg.out}")
    return 0
