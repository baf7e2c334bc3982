"""Real-valued targets: a data file's label column read as numbers for regression (the ``linear`` head),
and the check that tells a classification run when its labels look like such numbers.

A CSV's layout is ``tables``'s (feature columns, then the target; a header row allowed); an ``.npz`` holds
``x`` (n, d) and a numeric ``y`` (n,). The targets come back as a column (n, 1) float32, the shape the
linear head takes.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from funcmlp.io.tables import F32_MAX, Dataset, check_path, npz_xy, parse_number, read_rows, read_table

# Integer labels look like a count or a measurement, not classes, when there are at least this many distinct
# values and fewer than ROWS_PER_CLASS rows per value on average.
MANY_CLASSES = 20
ROWS_PER_CLASS = 10


def load_targets(path: str | os.PathLike) -> Dataset:
    """Read features and real-valued targets from a ``.csv`` (features, then the target) or ``.npz``.

    Returns:
      ``Dataset(x (n, d) float32, y (n, 1) float32, classes=(), feature_names (d,))``.

    Raises:
      ValueError: as ``tables.load`` for a malformed file, and for a target that is not a finite float32
        number (naming its line).
    """
    path = check_path(path)
    if path.suffix.lower() == ".npz":
        x, y = npz_xy(path, "real-valued targets")
        if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
            raise ValueError(f"path: {str(path)!r}: expected numeric targets y, got dtype {y.dtype}")
        if np.any(np.abs(y.astype(np.float64)) > F32_MAX):
            raise ValueError(f"path: {str(path)!r}: expected targets y within the float32 range")
        names = tuple(f"x{c + 1}" for c in range(x.shape[1]))
        return Dataset(x.astype(np.float32), y.astype(np.float32)[:, None], (), names)
    x, labels, names = read_table(path, labelled=True)
    y = np.empty((len(labels), 1), np.float32)
    for i, field in enumerate(labels):
        v = parse_number(field)
        if v is None or not math.isfinite(v) or abs(v) > F32_MAX:
            rows = read_rows(path)
            no = rows[len(rows) - len(labels) + i][0]
            raise ValueError(
                f"path: {str(path)!r} line {no}, column {x.shape[1] + 1}: expected a real-valued target "
                f"(a finite float32 number), got {field!r}"
            )
        y[i, 0] = v
    return Dataset(x, y, (), names)


def continuous_labels(classes: tuple[Any, ...], n: int) -> str | None:
    """Why labels read as classes look like real-valued targets, or None when they look like classes.

    They do when every class label is a number and some are not whole numbers, or when there are at least
    ``MANY_CLASSES`` distinct whole numbers with fewer than ``ROWS_PER_CLASS`` of the n rows each on average.

    Args:
      classes: the distinct labels (``Dataset.classes``); n: the number of rows.
    """
    if not classes or any(isinstance(c, (str, bool)) or not isinstance(c, (int, float)) for c in classes):
        return None
    fractional = [c for c in classes if isinstance(c, float)]
    if fractional:
        return f"numbers that are not whole, such as {fractional[0]:g}"
    k = len(classes)
    if k >= MANY_CLASSES and n < ROWS_PER_CLASS * k:
        return f"{k} distinct numbers in {n} rows"
    return None
