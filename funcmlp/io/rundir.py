"""A run directory's making and its plain files: ``create`` a fresh directory, write and read its JSON and
its CSV history (``metrics.csv``, one row per logged step).

Every file is written atomically (``atomic_write_bytes``); NaN and inf become JSON null.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from funcmlp.io.checkpoint_file import atomic_write_bytes

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
                "pass overwrite=True to replace it, or choose another directory"
            )
    elif name is not None:
        if not name or name in (".", "..") or any(sep in name for sep in ("/", "\\", os.sep)):
            raise ValueError(f"name: expected a plain folder name without '/', got {name!r}")
        path = Path(root) / name
        if (path / "config.json").exists() and not overwrite:
            raise ValueError(
                f"name: expected a new run name, but {str(path)!r} already holds a run; "
                "choose another name, pass overwrite=True, or delete that folder"
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


def jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if hasattr(v, "shape") and hasattr(v, "tolist"):
        return jsonable(np.asarray(v).tolist())
    return str(v)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically; NaN/inf become null, paths and arrays plain values."""
    atomic_write_bytes(path, (json.dumps(jsonable(obj), indent=2) + "\n").encode())


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
    atomic_write_bytes(path, buf.getvalue().encode())


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


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
