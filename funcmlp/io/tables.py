"""Labelled data tables: a CSV or ``.npz`` file read into a ``Dataset``.

A CSV holds one sample per line: the feature columns x_1 .. x_d, then the label column. A header row is
allowed (it is recognised by a field that is not a number) and gives the feature names. Labels may be
numbers or words ("setosa"); either way they become class indices 0 .. K-1 in sorted order, and the
original labels are kept in ``classes`` so predictions can be reported in the file's own terms. (For
regression, ``funcmlp.io.targets`` reads the label column as real-valued targets instead.)

An ``.npz`` file holds an array ``x`` (n, d) and an array ``y`` (n,).

The row and ``.npz`` readers here (``read_rows``, ``parse_rows``, ``read_npz``) also serve ``features``, which
reads points to predict.
"""

from __future__ import annotations

import csv
import math
import os
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np


class Dataset(NamedTuple):
    """A labelled data set read from a file.

    Attributes:
      x: features (n, d) float32.
      y: class indices (n,) int32 in [0, K); real targets (n, 1) float32 from ``targets.load_targets``.
      classes: the K original labels, in the order of their indices (``classes[y[i]]`` is sample i's
        label); () for real targets.
      feature_names: d names (from the header row, else ``x1 .. xd``).
    """

    x: np.ndarray
    y: np.ndarray
    classes: tuple[Any, ...]
    feature_names: tuple[str, ...]


F32_MAX = float(np.finfo(np.float32).max)


def parse_number(field: str) -> float | None:
    try:
        return float(field)
    except ValueError:
        return None


def parse_label(field: str) -> int | float | str:
    """An integer-looking label becomes an int (so "1" and "1.0" agree), another finite number a float,
    anything else stays a word."""
    v = parse_number(field)
    if v is None or not math.isfinite(v):
        return field
    return int(v) if v == int(v) else v


def _sniff_delimiter(first_line: str) -> str:
    for delim in (",", ";", "\t"):
        if delim in first_line:
            return delim
    return ","


def read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """The non-blank, non-comment lines of a CSV file as ``(line number from 1, stripped fields)``.

    Raises:
      ValueError: the file does not exist, is not UTF-8 text, or has no data rows.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValueError(f"path: file {str(path)!r} does not exist") from None
    except UnicodeDecodeError as e:
        raise ValueError(
            f"path: {str(path)!r} is not a UTF-8 text file ({e.reason} at byte {e.start})"
        ) from None
    lines = [
        (i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip() and not line.startswith("#")
    ]
    if not lines:
        raise ValueError(f"path: {str(path)!r} has no data rows (the file is empty)")
    delim = _sniff_delimiter(lines[0][1])
    return [
        (no, [f.strip() for f in fields])
        for (no, _), fields in zip(
            lines, csv.reader([text for _, text in lines], delimiter=delim), strict=True
        )
    ]


def parse_rows(
    path: Path,
    rows: list[tuple[int, list[str]]],
    first_no: int,
    n_cols: int,
    feature_cols: tuple[int, ...],
    label_col: int | None,
) -> tuple[np.ndarray, list[str]]:
    """Numbers from the columns ``feature_cols`` (in that order) and raw fields from ``label_col``.

    Args:
      path: the file, for messages.
      rows: ``(line number, fields)`` of the data rows (no header).
      first_no: the line number of the file's first row (the header, if any), for messages.
      n_cols: the number of fields every row must have.
      feature_cols: the 0-based file column of each output feature.
      label_col: the 0-based label column, or None.

    Returns:
      ``(x (len(rows), len(feature_cols)) float32, labels: one string per row, empty if no label column)``.
    """
    x = np.empty((len(rows), len(feature_cols)), np.float32)
    in_file_order = sorted(enumerate(feature_cols), key=lambda jc: jc[1])
    labels: list[str] = []
    for r, (no, fields) in enumerate(rows):
        if len(fields) != n_cols:
            raise ValueError(
                f"path: {str(path)!r} line {no}: expected {n_cols} columns like line {first_no}, "
                f"got {len(fields)}"
            )
        for j, c in in_file_order:
            v = parse_number(fields[c])
            if v is None:
                raise ValueError(
                    f"path: {str(path)!r} line {no}, column {c + 1}: expected a number, got {fields[c]!r}"
                )
            if not math.isfinite(v) or abs(v) > F32_MAX:
                raise ValueError(
                    f"path: {str(path)!r} line {no}, column {c + 1}: "
                    f"expected a finite float32 number, got {fields[c]!r}"
                )
            x[r, j] = v
        if label_col is not None:
            if not fields[label_col]:
                raise ValueError(f"path: {str(path)!r} line {no}, column {label_col + 1}: the label is empty")
            labels.append(fields[label_col])
    return x, labels


def read_table(
    path: str | os.PathLike, *, labelled: bool = True
) -> tuple[np.ndarray, list[str], tuple[str, ...]]:
    """Parse a CSV file into numeric features, raw label fields and feature names.

    Args:
      path: the CSV file (comma, semicolon or tab separated; blank lines and lines starting with ``#``
        are skipped).
      labelled: whether the last column is a label; False reads feature columns only.

    Returns:
      ``(x (n, d) float32, labels: n strings (empty if not labelled), feature_names (d,))``.

    Raises:
      ValueError: naming the file, the line and the problem (wrong column count, a non-number, a
        non-finite value, an empty label, no data rows).
    """
    path = Path(path)
    rows = read_rows(path)
    names: tuple[str, ...] | None = None
    first_no, first = rows[0]
    feature_part = first[:-1] if labelled else first
    if any(parse_number(f) is None for f in feature_part):
        names = tuple(feature_part)
        rows = rows[1:]
        if not rows:
            raise ValueError(f"path: {str(path)!r} has a header row (line {first_no}) but no data rows")
    expected = len(first)
    if labelled and expected < 2:
        raise ValueError(
            f"path: {str(path)!r} line {first_no}: expected at least 2 columns (features, then a label), "
            f"got {expected}"
        )
    n_feat_cols = expected - 1 if labelled else expected
    x, labels = parse_rows(
        path, rows, first_no, expected, tuple(range(n_feat_cols)), expected - 1 if labelled else None
    )
    if names is None:
        names = tuple(f"x{c + 1}" for c in range(n_feat_cols))
    return x, labels, names


def _encode(labels: list[Any], where: str) -> tuple[np.ndarray, tuple[Any, ...]]:
    values = [parse_label(str(v)) for v in labels]
    kinds = {str if isinstance(v, str) else float for v in values}
    if len(kinds) > 1:
        word = next(str(v) for v in values if isinstance(v, str))
        raise ValueError(f"path: {where}: labels mix numbers and words (e.g. {word!r}); use one kind")
    classes = tuple(sorted(set(values)))
    if len(classes) < 2:
        raise ValueError(
            f"path: {where}: expected at least 2 classes in the label column, got {list(classes)}"
        )
    index = {c: i for i, c in enumerate(classes)}
    return np.asarray([index[v] for v in values], np.int32), classes


def load(path: str | os.PathLike) -> Dataset:
    """Read a labelled data set from a ``.csv`` (features then label) or ``.npz`` (arrays x, y) file.

    Returns:
      ``Dataset(x (n, d) float32, y (n,) int32 in [0, K), classes (K,), feature_names (d,))``.

    Raises:
      ValueError: for a missing or malformed file; CSV errors name the line and column.
    """
    path = check_path(path)
    if path.suffix.lower() == ".npz":
        return _load_npz(path)
    x, labels, names = read_table(path, labelled=True)
    y, classes = _encode(labels, repr(str(path)))
    return Dataset(x, y, classes, names)


def check_path(path: Any, name: str = "path") -> Path:
    """A str or os.PathLike naming a data file (not a directory)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a str or os.PathLike, got {type(path).__name__}")
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{name}: expected a .csv or .npz file, got the directory {str(p)!r}")
    return p


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, or a ValueError naming the file."""
    try:
        f = np.load(path, allow_pickle=False)
        if not isinstance(f, np.lib.npyio.NpzFile):
            raise ValueError("not a zip archive of .npy arrays")
        with f:
            arrays = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise ValueError(f"path: file {str(path)!r} does not exist") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"path: {str(path)!r} is not a readable .npz file ({e})") from None
    for k, a in arrays.items():
        if not isinstance(a, np.ndarray) or a.dtype == object:
            got = type(a).__name__ if not isinstance(a, np.ndarray) else "an object array"
            raise ValueError(f"path: {str(path)!r}: expected numeric arrays, got {got} for member {k!r}")
    return arrays


def check_numeric_finite(x: np.ndarray, path: Path) -> None:
    """The x array of an .npz file is numeric and finite (naming the first bad entry)."""
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"path: {str(path)!r}: expected numeric x, got dtype {x.dtype}")
    bad = np.argwhere(~np.isfinite(x))
    if bad.size:
        r, c = bad[0]
        raise ValueError(f"path: {str(path)!r}: x[{r}, {c}] is {x[r, c]}; expected finite values")


def _load_npz(path: Path) -> Dataset:
    x, y = npz_xy(path, "class labels")
    labels = [v.item() if isinstance(v, np.generic) else v for v in y.tolist()]
    y_idx, classes = _encode(labels, repr(str(path)))
    names = tuple(f"x{c + 1}" for c in range(x.shape[1]))
    return Dataset(x.astype(np.float32), y_idx, classes, names)


def npz_xy(path: Path, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The checked arrays x (n, d) (numeric, finite) and y (n,) (finite if floating) of an .npz file."""
    arrays = read_npz(path)
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise ValueError(
            f"path: {str(path)!r}: expected arrays 'x' (n, d) and 'y' (n,), missing {missing}; "
            f"found {sorted(arrays)}"
        )
    x, y = arrays["x"], arrays["y"]
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"path: {str(path)!r}: expected x of shape (n, d) with n >= 1, got {x.shape}")
    if y.shape != (x.shape[0],):
        raise ValueError(
            f"path: {str(path)!r}: expected y of shape ({x.shape[0]},) (one per row of x), got {y.shape}"
        )
    check_numeric_finite(x, path)
    if np.issubdtype(y.dtype, np.floating) and not np.all(np.isfinite(y)):
        raise ValueError(f"path: {str(path)!r}: y has NaN or inf entries; expected {what}")
    return x, y
