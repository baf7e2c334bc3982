"""Your own data: read a CSV or ``.npz`` file, standardise it, split it into train / validation / test.

A CSV holds one sample per line: the feature columns x_1 .. x_d, then the label column. A header row is
allowed (it is recognised by a field that is not a number) and gives the feature names. Labels may be
integers or words ("setosa"); either way they become class indices 0 .. K-1 in sorted order, and the
original labels are kept in ``classes`` so predictions can be reported in the file's own terms.

Points to predict (``read_features``, ``funcmlp predict``) are matched to a trained model's features by the
header row's names, in any order, with at most one other column (the label, wherever it stands); a file
without a header row is read by position.

An ``.npz`` file holds an array ``x`` (n, d) and an array ``y`` (n,).

Standardisation uses the training split's statistics only,  x' = (x - mu) / sigma,  with sigma = 1 for a
constant column, so no information leaks from the validation or test points.
"""

from __future__ import annotations

import csv
import math
import numbers
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from funcmlp import checks


class Dataset(NamedTuple):
    """A labelled data set read from a file.

    Attributes:
      x: features (n, d) float32.
      y: class indices (n,) int32 in [0, K).
      classes: the K original labels, in the order of their indices (``classes[y[i]]`` is sample i's label).
      feature_names: d names (from the header row, else ``x1 .. xd``).
    """

    x: np.ndarray
    y: np.ndarray
    classes: tuple[Any, ...]
    feature_names: tuple[str, ...]


class Split(NamedTuple):
    """Train / validation / test parts; an empty part has 0 rows."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


class Standardizer(NamedTuple):
    """x' = (x - mean) / std, per feature; ``mean`` and ``std`` are (d,)."""

    mean: np.ndarray
    std: np.ndarray

    def __call__(self, x) -> np.ndarray:
        return ((np.asarray(x, np.float32) - self.mean) / self.std).astype(np.float32)

    def to_json(self) -> dict[str, list[float]]:
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_json(cls, d: dict[str, list[float]]) -> Standardizer:
        return cls(np.asarray(d["mean"], np.float32), np.asarray(d["std"], np.float32))


_F32_MAX = float(np.finfo(np.float32).max)


def _number(field: str) -> float | None:
    try:
        return float(field)
    except ValueError:
        return None


def parse_label(field: str) -> int | str:
    """An integer-looking label becomes an int (so "1" and "1.0" agree), anything else stays a word."""
    v = _number(field)
    if v is not None and math.isfinite(v) and v == int(v):
        return int(v)
    return field


def _sniff_delimiter(first_line: str) -> str:
    for delim in (",", ";", "\t"):
        if delim in first_line:
            return delim
    return ","


def _rows(path: Path) -> list[tuple[int, list[str]]]:
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


def _parse_rows(
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
            v = _number(fields[c])
            if v is None:
                raise ValueError(
                    f"path: {str(path)!r} line {no}, column {c + 1}: expected a number, got {fields[c]!r}"
                )
            if not math.isfinite(v) or abs(v) > _F32_MAX:
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
    rows = _rows(path)
    names: tuple[str, ...] | None = None
    first_no, first = rows[0]
    feature_part = first[:-1] if labelled else first
    if any(_number(f) is None for f in feature_part):
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
    x, labels = _parse_rows(
        path, rows, first_no, expected, tuple(range(n_feat_cols)), expected - 1 if labelled else None
    )
    if names is None:
        names = tuple(f"x{c + 1}" for c in range(n_feat_cols))
    return x, labels, names


def _encode(labels: list[Any], where: str) -> tuple[np.ndarray, tuple[Any, ...]]:
    values = [parse_label(str(v)) for v in labels]
    kinds = {type(v) for v in values}
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


def _read_npz(path: Path) -> dict[str, np.ndarray]:
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


def _check_numeric_finite(x: np.ndarray, path: Path) -> None:
    """The x array of an .npz file is numeric and finite (naming the first bad entry)."""
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"path: {str(path)!r}: expected numeric x, got dtype {x.dtype}")
    bad = np.argwhere(~np.isfinite(x))
    if bad.size:
        r, c = bad[0]
        raise ValueError(f"path: {str(path)!r}: x[{r}, {c}] is {x[r, c]}; expected finite values")


def _load_npz(path: Path) -> Dataset:
    arrays = _read_npz(path)
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
    _check_numeric_finite(x, path)
    if np.issubdtype(y.dtype, np.floating) and not np.all(np.isfinite(y)):
        raise ValueError(f"path: {str(path)!r}: y has NaN or inf entries; expected class labels")
    labels = [v.item() if isinstance(v, np.generic) else v for v in y.tolist()]
    y_idx, classes = _encode(labels, repr(str(path)))
    names = tuple(f"x{c + 1}" for c in range(x.shape[1]))
    return Dataset(x.astype(np.float32), y_idx, classes, names)


class Features(NamedTuple):
    """Points to predict, read from a file, and where each of the model's features was found in it.

    Attributes:
      x: (n, d) float32, the features in the model's order.
      labels: the raw label fields (n strings), or None when the file has no label column.
      columns: the file's column names in the file's order: its header row's, or for a file without one
        the model's feature names by position (then ``"label"``).
      feature_columns: d positions in ``columns``: the model's feature j is the file's column
        ``feature_columns[j]``.
      label_column: the position of the label column in ``columns``, or None.
    """

    x: np.ndarray
    labels: list[str] | None
    columns: tuple[str, ...]
    feature_columns: tuple[int, ...]
    label_column: int | None


def _auto_names(d: int) -> tuple[str, ...]:
    return tuple(f"x{c + 1}" for c in range(d))


def read_features(path: str | os.PathLike, d: int, names: Sequence[str] | None = None) -> Features:
    """Read points to predict and match their columns to the model's ``d`` features.

    A CSV with a header row (its first row has a field that is not a number, the last field aside when the
    row has more than ``d`` fields) is matched by name: every one of ``names`` must head one column, in any
    order, and at most one other column may be present, which is the label column (wherever it stands). A
    CSV without a header row is read by position: ``d`` feature columns, optionally followed by a label. An
    ``.npz`` holds ``x`` (n, d) in the model's order and optionally ``y`` (n,).

    Args:
      path: the ``.csv`` or ``.npz`` file.
      d: the number of features the model takes.
      names: the model's d feature names (``Model.feature_names``; ``x1 .. xd`` when it was trained on a
        file without a header row or an ``.npz``). None reads a CSV by position even when it has a header.

    Returns:
      ``Features(x (n, d) float32 in the model's order, labels or None, columns, feature_columns,
      label_column)``.

    Raises:
      ValueError: naming the file and the problem: a header that lacks some of ``names``, repeats a name,
        or has more than one column that is not a feature; a model without feature names given a header;
        a file without a header that has neither d nor d + 1 columns; and every malformed row ``load``
        refuses.
    """
    d = checks.check_positive_int(d, "d")
    if names is not None:
        names = tuple(str(n) for n in names)
        if len(names) != d:
            raise ValueError(f"names: expected {d} feature names (one per feature), got {len(names)}")
    path = check_path(path)
    model_names = names if names is not None else _auto_names(d)
    if path.suffix.lower() == ".npz":
        x, labels = _npz_features(path, d)
        label_col = None if labels is None else d
        return Features(
            x, labels, (*model_names, *(["label"] if labels is not None else [])), tuple(range(d)), label_col
        )
    rows = _rows(path)
    first_no, first = rows[0]
    n_cols = len(first)
    has_header = any(_number(f) is None for f in (first[:-1] if n_cols > d else first))
    if has_header and names is not None:
        feature_cols, label_col = _match_header(path, first, names)
    elif n_cols in (d, d + 1):
        feature_cols, label_col = tuple(range(d)), (d if n_cols == d + 1 else None)
    else:
        raise ValueError(
            f"path: {str(path)!r}: expected {d} feature columns (optionally followed by a label), "
            f"got {n_cols} columns"
        )
    if has_header:
        columns = tuple(first)
        rows = rows[1:]
        if not rows:
            raise ValueError(f"path: {str(path)!r} has a header row (line {first_no}) but no data rows")
    else:
        columns = (*model_names, *(["label"] if label_col is not None else []))
    x, labels = _parse_rows(path, rows, first_no, n_cols, feature_cols, label_col)
    return Features(x, labels if label_col is not None else None, columns, feature_cols, label_col)


def _match_header(
    path: Path, header: list[str], names: tuple[str, ...]
) -> tuple[tuple[int, ...], int | None]:
    """The header position of each of ``names`` and of the one other (label) column, or refuse."""
    seen: dict[str, int] = {}
    for c, name in enumerate(header):
        if name in seen:
            raise ValueError(
                f"path: {str(path)!r}: the header row names column {name!r} twice (columns {seen[name] + 1} "
                f"and {c + 1}); expected unique names to match the model's features {list(names)}"
            )
        seen[name] = c
    missing = [n for n in names if n not in seen]
    if missing and names == _auto_names(len(names)):
        raise ValueError(
            f"path: {str(path)!r} has a header row {header}, but the model was trained without feature "
            f"names (on a file without a header row, or an .npz: {', '.join(names)}), so its columns cannot "
            "be matched by name; give the file without a header row, the features in the training order "
            "(then optionally the label)"
        )
    if missing:
        raise ValueError(
            f"path: {str(path)!r}: expected the model's feature columns {list(names)} in the header row, "
            f"missing {missing}; the header has {header}"
        )
    others = [c for c, name in enumerate(header) if name not in names]
    if len(others) > 1:
        raise ValueError(
            f"path: {str(path)!r}: expected the model's feature columns {list(names)} and at most one label "
            f"column, got {len(others)} other columns {[header[c] for c in others]}"
        )
    return tuple(seen[n] for n in names), (others[0] if others else None)


def load_features(
    path: str | os.PathLike, d: int, names: Sequence[str] | None = None
) -> tuple[np.ndarray, list[str] | None]:
    """Read points to predict: ``read_features`` without the column layout.

    Args:
      path: a ``.csv`` or ``.npz`` file.
      d: the number of features the model takes.
      names: the model's feature names, to match a header row by name; None reads by position.

    Returns:
      ``(x (n, d) float32 in the model's order, labels or None)``; labels are the raw label fields when
      the file has them.
    """
    f = read_features(path, d, names)
    return f.x, f.labels


def _npz_features(path: Path, d: int) -> tuple[np.ndarray, list[str] | None]:
    arrays = _read_npz(path)
    x = arrays.get("x")
    labels = [str(v) for v in arrays["y"].tolist()] if "y" in arrays else None
    if x is None:
        raise ValueError(f"path: {str(path)!r}: expected an array 'x' of shape (n, {d})")
    if x.ndim != 2 or x.shape[1] != d:
        raise ValueError(f"path: {str(path)!r}: expected x of shape (n, {d}), got {x.shape}")
    _check_numeric_finite(x, path)
    return x.astype(np.float32), labels


def standardizer(x_train) -> Standardizer:
    """Per-feature mean mu and standard deviation sigma of the training points (sigma = 1 where constant)."""
    x = np.asarray(x_train, np.float64)
    std = x.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return Standardizer(x.mean(axis=0).astype(np.float32), std.astype(np.float32))


def split(key: jax.Array, x, y, *, val: float = 0.0, test: float = 0.2) -> Split:
    """Shuffle the samples with ``key`` and cut them into train / validation / test parts.

    Args:
      key: ``jax.random.key`` drawing the permutation.
      x: (n, d); y: (n,).
      val, test: fractions of n in [0, 1) for the validation and test parts (rounded to whole samples,
        at least one sample each when the fraction is positive); the training part keeps the rest and
        must keep at least one sample.

    Returns:
      ``Split(x_train, y_train, x_val, y_val, x_test, y_test)``, numpy arrays.
    """
    checks.check_key(key)
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim < 1:
        raise ValueError(f"x: expected an array (n, d), got shape {x.shape}")
    n = x.shape[0]
    if y.ndim < 1 or y.shape[0] != n:
        raise ValueError(f"y: expected one label per row of x, shape ({n},), got shape {y.shape}")
    for name, frac in (("val", val), ("test", test)):
        if isinstance(frac, (bool, np.bool_)) or not isinstance(frac, numbers.Real) or not 0.0 <= frac < 1.0:
            raise ValueError(f"{name}: expected a fraction in [0, 1), got {frac!r}")
    n_val = 0 if val == 0 else max(1, round(val * n))
    n_test = 0 if test == 0 else max(1, round(test * n))
    if n - n_val - n_test < 1:
        raise ValueError(
            f"val, test: expected fractions that leave training samples, got val={val}, test={test} "
            f"for n = {n} samples ({n_val} + {n_test} held out)"
        )
    perm = np.asarray(jax.random.permutation(key, n))
    te, va, tr = perm[:n_test], perm[n_test : n_test + n_val], perm[n_test + n_val :]
    return Split(x[tr], y[tr], x[va], y[va], x[te], y[te])


class Prepared(NamedTuple):
    """A data file made ready for training: split, optionally standardised (with the training statistics).

    Attributes:
      split: ``Split`` of the network inputs (standardised if asked).
      raw: ``Split`` of the file's own values (for figures in the file's units).
      standardizer: the ``Standardizer`` applied, or None.
      classes, feature_names: as in ``Dataset``.
    """

    split: Split
    raw: Split
    standardizer: Standardizer | None
    classes: tuple[Any, ...]
    feature_names: tuple[str, ...]


def prepare(
    path: str | os.PathLike, key: jax.Array, *, standardize: bool = False, val: float = 0.0, test: float = 0.2
) -> Prepared:
    """``load`` a file, ``split`` it with ``key``, and standardise every part with the training part's
    mean and standard deviation if ``standardize``."""
    ds = load(path)
    raw = split(key, ds.x, ds.y, val=val, test=test)
    if not standardize:
        return Prepared(raw, raw, None, ds.classes, ds.feature_names)
    st = standardizer(raw.x_train)
    parts = Split(st(raw.x_train), raw.y_train, st(raw.x_val), raw.y_val, st(raw.x_test), raw.y_test)
    return Prepared(parts, raw, st, ds.classes, ds.feature_names)
