"""Points to predict: a data file's rows in the file's own form, read through a model's preprocessing.

A file with a header row is matched by name: every feature column the model uses must head one column, in
any order; the columns the model dropped may be present, and at most one other column, which is the label
(wherever it stands). A file without a header row is read by position: the training file's feature
columns in their order, optionally followed by the label. An ``.npz`` holds ``x`` (n, d) in the training
order and optionally ``y`` (n,).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from funcmlp import checks
from funcmlp.io import preprocess
from funcmlp.io.preprocess import Preprocessing
from funcmlp.io.tables import read_frame

if TYPE_CHECKING:
    import pandas as pd


class Points(NamedTuple):
    """Points to predict read from a file.

    Attributes:
      frame: the file's cells, its columns in the file's order under the file's names (for a file without a
        header row: the training file's feature names, then ``"label"``).
      x: (n, D) float32, the model's inputs before standardisation (``preprocess.encode``).
      labels: the label column's cells as text (n strings), or None when the file has none.
      label_column: the position of the label column in ``frame.columns``, or None.
    """

    frame: pd.DataFrame
    x: np.ndarray
    labels: list[str] | None
    label_column: int | None


def read_points(path: str | os.PathLike, prep: Preprocessing, *, by_name: bool = True) -> Points:
    """Read points to predict and encode them with ``prep`` (see the module's docstring).

    Args:
      path: a ``.csv``, ``.parquet`` or ``.npz`` file.
      prep: the model's preprocessing (``Model.preprocessing``).
      by_name: match a header row by name; False reads every file by position.

    Raises:
      ValueError: naming the file and the problem: a header that lacks a feature column, repeats a name or
        has more than one other column; a model trained without feature names given a header; a file without
        a header row whose number of columns is neither d nor d + 1; and every malformed cell.
    """
    used = tuple(c.name for c in prep.columns)
    table = read_frame(path, names=used, labelled=False)
    frame, source = table.frame, table.source
    if by_name and table.header and not str(path).lower().endswith(".npz"):
        label_col = _match_header(source, list(frame.columns), prep)
    else:
        frame, label_col = _by_position(source, frame, prep)
    x = preprocess.encode(prep, frame, source=source)
    labels = None if label_col is None else [str(v) for v in frame.iloc[:, label_col].tolist()]
    return Points(frame, x, labels, label_col)


def _auto(names: Sequence[str]) -> bool:
    return tuple(names) == tuple(f"x{c + 1}" for c in range(len(names)))


def _match_header(source: str, header: list[str], prep: Preprocessing) -> int | None:
    """The position of the label column (the one other column, if any) of a header that holds every feature
    column of ``prep``, or refuse."""
    names = [c.name for c in prep.columns]
    missing = [n for n in names if n not in header]
    if missing and _auto(prep.inputs):
        raise ValueError(
            f"{source} has a header row {header}, but the model was trained without feature names (on a file "
            f"without a header row, or an .npz: {', '.join(names)}), so its columns cannot be matched by name; "
            "give the file without a header row, the features in the training order (then optionally the label)"
        )
    if missing:
        raise ValueError(
            f"{source}: expected the model's feature columns {names} in the header row, missing {missing}; "
            f"the header has {header}"
        )
    others = [c for c, name in enumerate(header) if name not in names and name not in prep.dropped]
    if len(others) > 1:
        raise ValueError(
            f"{source}: expected the model's feature columns {names} and at most one label column, got "
            f"{len(others)} other columns {[header[c] for c in others]}"
        )
    return others[0] if others else None


def _by_position(source: str, frame: pd.DataFrame, prep: Preprocessing) -> tuple[pd.DataFrame, int | None]:
    """The frame's columns named after the training file's: its feature columns, then the label."""
    d, n_cols = len(prep.inputs), frame.shape[1]
    if n_cols not in (d, d + 1):
        raise ValueError(
            f"{source}: expected {d} feature columns (optionally followed by a label), got {n_cols} columns"
        )
    frame = frame.copy()
    frame.columns = [*prep.inputs, *(["label"] if n_cols == d + 1 else [])]
    return frame, (d if n_cols == d + 1 else None)


class Features(NamedTuple):
    """Points to predict for a model of number columns (``read_features``).

    Attributes:
      x: (n, d) float32, the features in the model's order.
      labels: the raw label fields (n strings), or None when the file has no label column.
      columns: the file's column names in the file's order.
      feature_columns: d positions in ``columns``: the model's feature j is the file's column
        ``feature_columns[j]``.
      label_column: the position of the label column in ``columns``, or None.
    """

    x: np.ndarray
    labels: list[str] | None
    columns: tuple[str, ...]
    feature_columns: tuple[int, ...]
    label_column: int | None


def read_features(path: str | os.PathLike, d: int, names: Sequence[str] | None = None) -> Features:
    """``read_points`` for a model of ``d`` number columns named ``names`` (None: ``x1 .. xd``, and a CSV is
    read by position even when it has a header row)."""
    d = checks.check_positive_int(d, "d")
    if names is not None:
        names = tuple(str(n) for n in names)
        if len(names) != d:
            raise ValueError(f"names: expected {d} feature names (one per feature), got {len(names)}")
    model_names = names if names is not None else tuple(f"x{c + 1}" for c in range(d))
    p = read_points(path, preprocess.numeric(model_names), by_name=names is not None)
    columns = tuple(str(c) for c in p.frame.columns)
    return Features(p.x, p.labels, columns, tuple(columns.index(n) for n in model_names), p.label_column)


def load_features(
    path: str | os.PathLike, d: int, names: Sequence[str] | None = None
) -> tuple[np.ndarray, list[str] | None]:
    """``read_features`` without the column layout: ``(x (n, d) float32 in the model's order, labels or
    None)``."""
    f = read_features(path, d, names)
    return f.x, f.labels
