"""Real-valued targets: a data file's label column read as numbers for regression (the ``linear`` head),
and the check that tells a classification run when its labels look like such numbers.

A table's layout is ``labels``'s (feature columns, then the target); an ``.npz`` holds ``x`` (n, d) and a
numeric ``y`` (n,). The targets come back as a column (n, 1) float32, the shape the
linear head takes.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from funcmlp.io import cells, preprocess
from funcmlp.io.labels import Labelled, read_labelled
from funcmlp.io.tables import F32_MAX, Dataset, check_path, npz_xy, parse_number

# Integer labels look like a count or a measurement, not classes, when there are at least this many distinct
# values and fewer than ROWS_PER_CLASS rows per value on average.
MANY_CLASSES = 20
ROWS_PER_CLASS = 10


def target_values(rows: Labelled) -> np.ndarray:
    """The label column of ``rows`` as real-valued targets (n, 1) float32.

    Raises:
      ValueError: "<source> line 3, column 4: expected a real-valued target (a finite float32 number),
        got 'cheap'".
    """
    name = rows.frame.columns[-1]
    text, _ = cells.strings(rows.frame, name)
    y = np.full(len(text), np.nan)
    for i, field in enumerate(text.tolist()):
        v = parse_number(field)
        if v is None or not np.isfinite(v) or abs(v) > F32_MAX:
            where = cells.locate(rows.frame, rows.frame.index[i], name)
            raise ValueError(
                f"{rows.source} {where}: expected a real-valued target (a finite float32 number), got {field!r}"
            )
        y[i] = v
    return y.astype(np.float32)[:, None]


def read_targets(path: str | os.PathLike) -> tuple[Labelled, np.ndarray]:
    """The rows of a data file that have a target, and their targets (n, 1) float32 (``target_values``)."""
    path = check_path(path)
    if path.suffix.lower() == ".npz":
        _, y = npz_xy(path, "real-valued targets")
        if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
            raise ValueError(f"path: {str(path)!r}: expected numeric targets y, got dtype {y.dtype}")
        if np.any(np.abs(y.astype(np.float64)) > F32_MAX):
            raise ValueError(f"path: {str(path)!r}: expected targets y within the float32 range")
    rows = read_labelled(path)
    return rows, target_values(rows)


def load_targets(path: str | os.PathLike) -> Dataset:
    """Read features and real-valued targets from a ``.csv`` / ``.parquet`` (features, then the target) or
    an ``.npz`` (x, y); rows without a target are dropped.

    Returns:
      ``Dataset(x (n, d) float32, y (n, 1) float32, classes=(), feature_names (d,))``; the features
      preprocessed as ``labels.load`` does.

    Raises:
      ValueError: as ``labels.load`` for a malformed file, and for a target that is not a finite float32
        number (naming its line).
    """
    rows, y = read_targets(path)
    features = cells.typed(rows.features, rows.source)
    prep = preprocess.fit(features, source=rows.source)
    return Dataset(preprocess.encode(prep, features, source=rows.source), y, (), prep.feature_names)


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
