"""Labelled tables: a data file's feature columns, then its label column (the last one).

Labels may be numbers or words ("setosa"); either way they become class indices 0 .. K-1 in sorted order,
and the original labels are kept in ``classes`` so predictions can be reported in the file's own terms.
A row whose label is missing (an empty cell, or NA) is dropped and counted. (For regression,
``funcmlp.io.targets`` reads the label column as real-valued targets instead.)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from funcmlp.io import cells, preprocess
from funcmlp.io.tables import Dataset, parse_label, read_frame

if TYPE_CHECKING:
    import pandas as pd


class Labelled(NamedTuple):
    """A table's rows that have a label: ``frame`` (the feature columns, then the label column; rows indexed
    by line or row); ``label`` is the label column's name (None without a header row); ``unlabelled``
    counts the rows dropped for a missing label."""

    frame: pd.DataFrame
    label: str | None
    source: str
    unlabelled: int

    @property
    def features(self) -> pd.DataFrame:
        return self.frame.iloc[:, :-1]

    @property
    def values(self) -> list[Any]:
        """The label cells."""
        return self.frame.iloc[:, -1].tolist()


def read_labelled(path: str | os.PathLike) -> Labelled:
    """Read a data file whose last column is the label; rows without a label are dropped (and counted).

    Raises:
      ValueError: as ``tables.read_frame``, and for a file of one column.
    """
    table = read_frame(path, labelled=True)
    frame, source = table.frame, table.source
    if frame.shape[1] < 2:
        where = f" line {frame.index[0]}" if frame.index.name == "line" else ""
        raise ValueError(
            f"{source}{where}: expected at least 2 columns (features, then a label), got {frame.shape[1]}"
        )
    name = frame.columns[-1]
    _, gaps = cells.strings(frame, name)
    kept = frame[~gaps]
    if kept.empty:
        raise ValueError(f"{source}: expected labels in the last column {name!r}, got none")
    label = name if table.header else None
    return Labelled(kept, label, source, int(gaps.sum()))


def encode_classes(values: list[Any], source: str) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Class indices (n,) int32 of ``values`` and the sorted classes; numbers and words may not mix."""
    values = [parse_label(cells.canonical(v)) for v in values]
    kinds = {str if isinstance(v, str) else float for v in values}
    if len(kinds) > 1:
        word = next(str(v) for v in values if isinstance(v, str))
        raise ValueError(f"{source}: labels mix numbers and words (e.g. {word!r}); use one kind")
    classes = tuple(sorted(set(values)))
    if len(classes) < 2:
        raise ValueError(f"{source}: expected at least 2 classes in the label column, got {list(classes)}")
    index = {c: i for i, c in enumerate(classes)}
    return np.asarray([index[v] for v in values], np.int32), classes


def load(path: str | os.PathLike) -> Dataset:
    """Read a labelled data set from a ``.csv`` or ``.parquet`` (features then label) or ``.npz`` (x, y).

    The features are preprocessed as ``preprocess.fit`` learns on all the rows (text one-hot, gaps filled),
    not standardised.

    Returns:
      ``Dataset(x (n, d) float32, y (n,) int32 in [0, K), classes (K,), feature_names (d,))``.

    Raises:
      ValueError: for a missing or malformed file; CSV errors name the line and column.
    """
    rows = read_labelled(path)
    y, classes = encode_classes(rows.values, rows.source)
    features = cells.typed(rows.features, rows.source)
    prep = preprocess.fit(features, source=rows.source)
    return Dataset(preprocess.encode(prep, features, source=rows.source), y, classes, prep.feature_names)
