"""Run directories: everything one training run produced, in ``runs/<name or timestamp>/``.

    config.json         the options the run was started with
    metrics.json        the summary: accuracies, final loss, divergence step, seconds
    metrics.csv         one row per logged step: step, train_loss, train_accuracy, val_..., test_...
    params.safetensors  the trained parameters, with what is needed to apply them to new points
                        (activation, head, standardisation, class labels, feature names)
    *.png               the figures

``show(dir)`` summarises a run; ``load_model(dir)`` gives back a ``Model`` whose ``predict`` takes raw
feature rows, as they appear in a data file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from pathlib import Path
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from funcmlp import activations, heads
from funcmlp.io import checkpoint
from funcmlp.io.datafile import Standardizer
from funcmlp.mlp import Params

CHECKPOINT = "params.safetensors"


RUN_FILES = (".json", ".csv", ".png", ".safetensors")


def create(
    name: str | None = None,
    *,
    root: str | os.PathLike = "runs",
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> Path:
    """Make a fresh, writable run directory and return it.

    Args:
      name: the run's name: the directory is ``root/name``. It must not hold a run already.
        Without a name the directory is ``root/<YYYYmmdd-HHMMSS>`` (``-2``, ``-3``, ... if taken).
      root: the folder holding runs.
      out: an explicit directory instead (it may exist, but not hold a run).
      overwrite: replace a run already in the directory: its files (``RUN_FILES``) are removed first.

    Raises:
      ValueError: the name is not a plain folder name, the run exists (without ``overwrite``), or the
        directory is not writable.
    """
    if out is not None:
        path = Path(out)
        if (path / "config.json").exists() and not overwrite:
            raise ValueError(
                f"out: expected a directory without a run, but {str(path)!r} already holds one; "
                "pass --overwrite to replace it, or choose another directory"
            )
    elif name is not None:
        if not name or name in (".", "..") or any(sep in name for sep in ("/", "\\", os.sep)):
            raise ValueError(f"name: expected a plain folder name without '/', got {name!r}")
        path = Path(root) / name
        if (path / "config.json").exists() and not overwrite:
            raise ValueError(
                f"name: expected a new run name, but {str(path)!r} already holds a run; "
                "choose another name, pass --overwrite, or delete that folder"
            )
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path, i = Path(root) / stamp, 2
        while path.exists():
            path, i = Path(root) / f"{stamp}-{i}", i + 1
    try:
        if overwrite and (path / "config.json").exists():  # the old run's files, not the user's others
            for old in path.iterdir():
                if old.is_file() and old.suffix in RUN_FILES:
                    old.unlink()
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        arg = "out" if out is not None else ("name" if name is not None else "root")
        raise ValueError(f"{arg}: expected a writable directory, got {str(path)!r} ({e.strerror})") from None
    return path


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if hasattr(v, "shape") and hasattr(v, "tolist"):
        return _jsonable(np.asarray(v).tolist())
    return str(v)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically; NaN/inf become null, paths and arrays plain values."""
    checkpoint.atomic_write_bytes(path, (json.dumps(_jsonable(obj), indent=2) + "\n").encode())


def write_history(path: str | os.PathLike, columns: dict[str, Any]) -> None:
    """Write equal-length columns as a CSV file with a header row (integers stay integers)."""
    names = list(columns)
    arrays = [np.asarray(columns[k]) for k in names]
    if len({a.shape for a in arrays}) > 1 or any(a.ndim != 1 for a in arrays):
        shapes = {k: a.shape for k, a in zip(names, arrays, strict=True)}
        raise ValueError(f"columns: expected 1-D columns of one length, got shapes {shapes}")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(names)
    for row in zip(*arrays, strict=True):
        w.writerow([_cell(v) for v in row])
    checkpoint.atomic_write_bytes(path, buf.getvalue().encode())


def _cell(v: Any) -> str:
    v = v.item() if isinstance(v, np.generic) else v
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return str(int(v))
    return repr(v) if isinstance(v, float) else str(v)


def read_history(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a ``metrics.csv`` back as name -> (rows,) float64 column (empty cells become NaN)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    values: list[list[float]] = []
    for line, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise ValueError(f"path: {str(path)!r} line {line}: expected {len(header)} numbers, got {len(r)}")
        try:
            values.append([float(c) if c not in ("", "nan") else np.nan for c in r])
        except ValueError:
            raise ValueError(
                f"path: {str(path)!r} line {line}: expected {len(header)} numbers, got {r}"
            ) from None
    return {name: np.asarray([v[i] for v in values], np.float64) for i, name in enumerate(header)}


class Model(NamedTuple):
    """A trained network with what it needs to predict from raw feature rows.

    Attributes:
      params: the layers; activation, head: as used in training.
      standardizer: x -> (x - mean) / std applied before the network, or None.
      classes: original label of each class index, or None (the index is the label).
      feature_names: names of the d input features.
    """

    params: Params
    activation: str
    head: str
    standardizer: Standardizer | None
    classes: tuple[Any, ...] | None
    feature_names: tuple[str, ...]

    @property
    def n_features(self) -> int:
        return int(np.shape(self.params[0]["w"])[0])

    def logits(self, x) -> np.ndarray:
        """z^L (n, d_L) for raw feature rows x (n, d)."""
        from funcmlp.mlp import forward

        x = np.asarray(x, np.float32)
        if self.standardizer is not None:
            x = self.standardizer(x)
        return np.asarray(forward(self.params, x, activation=self.activation))

    def predict(self, x) -> list[Any]:
        """Predicted labels for raw feature rows x (n, d), in the training file's own labels."""
        from funcmlp.heads import get

        idx = np.asarray(get(self.head).predict(self.logits(x)))
        if self.classes is None:
            return idx.tolist()
        return [self.classes[i] for i in idx.tolist()]

    def probabilities(self, x) -> np.ndarray:
        """Class probabilities (n, K): softmax of the logits, or (1 - s, s) for a sigmoid head."""
        z = self.logits(x).astype(np.float64)
        head = heads.get(self.head)
        if head.probabilities is None:
            raise ValueError(
                f"head: {head.name!r} gives no class probabilities (softmax and sigmoid heads do)"
            )
        return np.asarray(head.probabilities(jnp.asarray(z)), np.float64)


def save_model(
    run_dir: str | os.PathLike,
    params: Params,
    *,
    activation: str = "relu",
    head: str = "softmax",
    standardizer: Standardizer | None = None,
    classes: tuple[Any, ...] | None = None,
    feature_names: tuple[str, ...] | None = None,
    config: dict[str, Any] | None = None,
) -> Path:
    """Save ``params`` to ``run_dir/params.safetensors`` with what ``load_model`` needs; returns the path."""
    model = {
        "activation": activation,
        "head": head,
        "standardize": None if standardizer is None else standardizer.to_json(),
        "classes": None if classes is None else list(classes),
        "feature_names": None if feature_names is None else list(feature_names),
    }
    path = Path(run_dir) / CHECKPOINT
    checkpoint.save(
        path, params, config=_jsonable({**(config or {}), "model": model}), activation=activation, head=head
    )
    return path


def load_model(run_dir: str | os.PathLike, *, activation: Any = None, head: Any = None) -> Model:
    """Load the network saved in a run directory (or a checkpoint file) as a ``Model``.

    A network trained with your own activation function or loss records only its name; pass the function
    back as ``activation=`` / ``head=``.

    Raises:
      ValueError: no checkpoint there, it is not a funcmlp checkpoint, or it names a function not passed back.
    """
    path = Path(run_dir)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.exists():
        raise ValueError(f"run_dir: expected a run directory holding {CHECKPOINT}, got {str(run_dir)!r}")
    params, config = checkpoint.load(path)
    model = config.get("model") or {}
    d = int(np.shape(params[0]["w"])[0])
    std = model.get("standardize")
    classes = model.get("classes")
    names = model.get("feature_names")
    recorded = {
        "activation": model.get("activation", config.get("activation", "relu")),
        "head": model.get("head", config.get("head", "softmax")),
    }
    given = {"activation": activation, "head": head}
    for field, lookup in (("activation", activations.get), ("head", heads.get)):
        if given[field] is not None:
            continue
        try:
            lookup(recorded[field])
        except ValueError:
            raise ValueError(
                f"{field}: the model in {str(run_dir)!r} was trained with a function named "
                f"{recorded[field]!r}, which a checkpoint cannot hold; expected it passed back as "
                f"load_model(..., {field}={recorded[field]})"
            ) from None
    return Model(
        params=params,
        activation=recorded["activation"] if activation is None else activation,
        head=recorded["head"] if head is None else head,
        standardizer=None if std is None else Standardizer.from_json(std),
        classes=None if classes is None else tuple(classes),
        feature_names=tuple(names) if names else tuple(f"x{i + 1}" for i in range(d)),
    )


class Run(NamedTuple):
    """A finished run read back: its directory, options, final metrics, logged history and network."""

    path: Path
    config: dict[str, Any]
    metrics: dict[str, Any]
    history: dict[str, np.ndarray]
    model: Model


def load_run(run_dir: str | os.PathLike, *, activation: Any = None, head: Any = None) -> Run:
    """Everything a run directory holds, in one call: config.json, metrics.json, metrics.csv (as columns)
    and the saved network (``load_model``; pass back ``activation`` / ``head`` functions it was trained with).

    Raises:
      ValueError: not a run directory, or its checkpoint is missing or damaged.
    """
    path = Path(run_dir)
    if not (path / "config.json").is_file():
        raise ValueError(f"run_dir: expected a run directory holding config.json, got {str(run_dir)!r}")
    history = path / "metrics.csv"
    return Run(
        path,
        _read_json(path / "config.json"),
        _read_json(path / "metrics.json") if (path / "metrics.json").is_file() else {},
        read_history(history) if history.is_file() else {},
        load_model(path, activation=activation, head=head),
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return "-".join(map(str, v)) if all(isinstance(x, int) for x in v) else ", ".join(map(str, v))
    return str(v)


def show(run_dir: str | os.PathLike) -> str:
    """A plain-text summary of a run: its options, results, learning history and files.

    Raises:
      ValueError: ``run_dir`` is not a directory holding a run (no config.json, metrics or checkpoint).
    """
    path = Path(run_dir)
    known = ("config.json", "metrics.json", "metrics.csv", CHECKPOINT)
    if not path.is_dir() or not any((path / f).exists() for f in known):
        raise ValueError(
            f"run_dir: expected a run directory (with config.json or metrics.json), got {str(run_dir)!r}"
        )
    config, metrics = _read_json(path / "config.json"), _read_json(path / "metrics.json")
    if config.get("data"):  # a data file replaces the toy data set and its options
        config = {k: v for k, v in config.items() if k not in ("dataset", "n_per_class", "noise")}
    w = max([16, *(len(k) + 1 for k in (*config, *metrics))])
    lines = [f"run {path}"]
    if config:
        lines.append("options:")
        lines += [f"  {k:<{w}} {_fmt(v)}" for k, v in config.items() if v is not None]
    if metrics:
        lines.append("results:")
        lines += [
            f"  {k:<{w}} {_fmt(v)}"
            for k, v in metrics.items()
            if not isinstance(v, (dict, list)) or k == "sizes"
        ]
    if (path / "metrics.csv").exists():
        h = read_history(path / "metrics.csv")
        if h and h.get("step", np.empty(0)).size:
            steps = h["step"]
            lines.append(
                f"history: {steps.size} logged steps, {int(steps[0])} to {int(steps[-1])} (metrics.csv)"
            )
            for k, v in h.items():
                if k == "step" or not np.isfinite(v).any():
                    continue
                best = np.nanargmin(v) if k.endswith("loss") else np.nanargmax(v)
                lines.append(
                    f"  {k:<{w}} first {v[0]:.4g}, last {v[-1]:.4g}, "
                    f"{'lowest' if k.endswith('loss') else 'highest'} {v[best]:.4g} at step {int(steps[best])}"
                )
    files = sorted(p.name for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    lines.append("files: " + ", ".join(files))
    return "\n".join(lines)
