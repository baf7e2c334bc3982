"""Points to predict: a CSV or ``.npz`` file's feature columns matched to a trained model's features.

Points to predict (``read_features``, ``funcmlp predict``) are matched to a trained model's features by the
header row's names, in any order, with at most one other column (the label, wherever it stands); a file
without a header row is read by position.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from funcmlp import checks
from funcmlp.io.tables import check_numeric_finite, check_path, parse_number, parse_rows, read_npz, read_rows


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
    rows = read_rows(path)
    first_no, first = rows[0]
    n_cols = len(first)
    has_header = any(parse_number(f) is None for f in (first[:-1] if n_cols > d else first))
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
    x, labels = parse_rows(path, rows, first_no, n_cols, feature_cols, label_col)
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
    arrays = read_npz(path)
    x = arrays.get("x")
    labels = [str(v) for v in arrays["y"].tolist()] if "y" in arrays else None
    if x is None:
        raise ValueError(f"path: {str(path)!r}: expected an array 'x' of shape (n, {d})")
    if x.ndim != 2 or x.shape[1] != d:
        raise ValueError(f"path: {str(path)!r}: expected x of shape (n, {d}), got {x.shape}")
    check_numeric_finite(x, path)
    return x.astype(np.float32), labels
