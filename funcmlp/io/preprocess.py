"""The preprocessing of a table's feature columns into network inputs, fitted on the training rows.

``fit`` learns, from the training rows only, one ``Column`` record per feature column:

- a number column: its median m, filling its gaps, x_ij = m where the cell is missing; a missing indicator
  column 1[cell i missing] after it when the training rows had gaps (``missing="impute"``); with
  ``standardize``, x' = (x - mu) / sigma with the mean mu and standard deviation sigma of the filled
  training values (sigma = 1 for a constant column);
- a text column: one-hot, one column per category seen in the training rows in sorted order (as
  scikit-learn's OneHotEncoder), x_ik = 1[cell i == category k]; a gap takes the most frequent category
  (the smallest of a tie, as SimpleImputer(strategy="most_frequent")); a category not seen in training is
  all zeros, with a one-line warning on stderr. A text column holding a different value in every row (an
  identifier) is refused with a hint to drop it.

``encode`` applies it to any rows whose columns carry the same names (in any order, other columns ignored):
the unstandardised inputs (n, D); ``transform`` standardises them as well. The record is a tuple of
numbers and strings: ``to_json`` / ``from_json`` keep it beside a saved model.
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from funcmlp.io import cells
from funcmlp.io.standardize import Standardizer

if TYPE_CHECKING:
    import pandas as pd

MISSING_POLICIES = ("impute", "drop")
ID_MIN_ROWS = 10  # fewer distinct values than this cannot tell an identifier from a small sample


class Column(NamedTuple):
    """What ``fit`` learned of one feature column (``kind`` "number" or "text"); see the module docstring.

    ``gaps``: missing cells in the training rows; ``median`` None (a model saved before medians were kept)
    refuses gaps."""

    name: str
    kind: str
    gaps: int = 0
    median: float | None = None
    indicator: bool = False
    mean: float = 0.0
    std: float = 1.0
    categories: tuple[str, ...] = ()
    fill: str | None = None

    @property
    def encoded(self) -> tuple[str, ...]:
        """The names of its input columns: ``name`` (and ``name (missing)``), or ``name=category`` each."""
        if self.kind == "text":
            return tuple(f"{self.name}={c}" for c in self.categories)
        return (self.name, f"{self.name} (missing)") if self.indicator else (self.name,)


class Preprocessing(NamedTuple):
    """The fitted preprocessing of a table.

    Attributes:
      columns: one ``Column`` per feature column used, in the file's order.
      inputs: every feature column of the training file in its order, dropped ones included (a file without
        a header row is read by position against them).
      dropped: columns left out (``drop=``); label: the label column's name (None: no header row).
      missing: "impute" (gaps filled) or "drop" (rows with a gap were dropped before fitting).
      standardize: whether number columns are standardised.
      unlabelled, incomplete: rows dropped for a missing label, and (``missing="drop"``) for a gap.
    """

    columns: tuple[Column, ...]
    inputs: tuple[str, ...]
    dropped: tuple[str, ...] = ()
    label: str | None = None
    missing: str = "impute"
    standardize: bool = False
    unlabelled: int = 0
    incomplete: int = 0

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(n for c in self.columns for n in c.encoded)

    @property
    def standardizer(self) -> Standardizer | None:
        """x' = (x - mean) / std over the D inputs (mean 0, std 1 for one-hot and indicator columns)."""
        if not self.standardize:
            return None
        pairs = [
            (c.mean, c.std) if c.kind == "number" and i == 0 else (0.0, 1.0)
            for c in self.columns
            for i in range(len(c.encoded))
        ]
        mean, std = (np.asarray(v, np.float64).reshape(-1) for v in zip(*pairs, strict=True))
        return Standardizer(mean, std)

    def to_json(self) -> dict[str, Any]:
        d = self._asdict()
        d["columns"] = [{**c._asdict(), "categories": list(c.categories)} for c in self.columns]
        return {**d, "inputs": list(self.inputs), "dropped": list(self.dropped)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Preprocessing:
        try:
            columns = tuple(Column(**{**c, "categories": tuple(c["categories"])}) for c in d["columns"])
            return cls(
                **{**d, "columns": columns, "inputs": tuple(d["inputs"]), "dropped": tuple(d["dropped"])}
            )
        except (KeyError, TypeError) as e:
            raise ValueError(
                f"preprocessing: expected a record written by Preprocessing.to_json, got {e}"
            ) from None


def numeric(names: tuple[str, ...], standardizer: Standardizer | None = None) -> Preprocessing:
    """The preprocessing of number columns ``names`` without gaps (a model saved without one)."""
    st = standardizer
    columns = tuple(
        Column(
            n,
            "number",
            mean=0.0 if st is None else float(st.mean[j]),
            std=1.0 if st is None else float(st.std[j]),
        )
        for j, n in enumerate(names)
    )
    return Preprocessing(columns, tuple(names), standardize=st is not None)


def fit(
    frame: pd.DataFrame,
    *,
    standardize: bool = False,
    missing: str = "impute",
    drop: tuple[str, ...] = (),
    label: str | None = None,
    source: str = "frame:",
) -> Preprocessing:
    """Learn the preprocessing of the feature columns of ``frame`` (its training rows).

    Args:
      frame: (n, columns) data frame: cells as read from a file (text) or typed (numbers, strings).
      standardize: standardise the number columns.
      missing: "impute" (median and missing indicator; most frequent category) or "drop" (the caller
        dropped rows with gaps: no indicator columns).
      drop: columns to leave out; label: the label column, left out.
      source: what messages start with ("path: 'f.csv'").

    Returns:
      ``Preprocessing``: one ``Column`` per column used.

    Raises:
      ValueError: an unknown ``missing`` or ``drop`` column, no column left, a column without any value,
        a text column of all-distinct values (an identifier), a cell that is not a number in a number column.
    """
    check_options(missing, drop, [c for c in frame.columns if c != label], source)
    names = [c for c in frame.columns if c != label]
    used = [c for c in names if c not in drop]
    if not used:
        raise ValueError(f"drop: expected at least one feature column left, got all of {names} dropped")
    columns = tuple(_fit_column(frame, name, standardize, missing, source) for name in used)
    return Preprocessing(columns, tuple(names), tuple(drop), label, missing, bool(standardize))


def check_options(missing: Any, drop: Any, names: list[str], source: str) -> None:
    """``missing`` one of ``MISSING_POLICIES``; ``drop`` a tuple of names among ``names``."""
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing: expected one of {', '.join(MISSING_POLICIES)}, got {missing!r}")
    if not isinstance(drop, (tuple, list)) or not all(isinstance(c, str) for c in drop):
        raise TypeError(f"drop: expected a tuple of column names, got {drop!r}")
    unknown = [c for c in drop if c not in names]
    if unknown:
        raise ValueError(
            f"drop: expected feature columns of {source.removeprefix('path: ')} {names}, got {unknown}"
        )


def _fit_column(frame: pd.DataFrame, name: str, standardize: bool, missing: str, source: str) -> Column:
    where = f"{source} {cells.column_place(frame, name)}"
    hint = f"drop the column (drop=({name!r},))"
    if cells.holds_numbers(frame, name):
        v = cells.numbers(frame, name, source)
        gaps = np.isnan(v)
        if gaps.all():
            raise ValueError(f"{where}: expected numbers, got no value in the training rows; {hint}")
        median = float(np.median(v[~gaps]))
        filled = np.where(gaps, median, v).astype(np.float32).astype(np.float64)
        mean, std = (float(filled.mean()), float(filled.std())) if standardize else (0.0, 1.0)
        return Column(
            name,
            "number",
            int(gaps.sum()),
            median,
            bool(gaps.any() and missing == "impute"),
            mean,
            std if std > 0 else 1.0,
        )
    values, gaps = cells.strings(frame, name)
    present = values[~gaps]
    if not len(present):
        raise ValueError(f"{where}: expected values, got no value in the training rows; {hint}")
    counts = Counter(present.tolist())
    if len(counts) == len(present) >= ID_MIN_ROWS:
        raise ValueError(
            f"{where}: a different text in each of its {len(present)} rows, like an identifier, which one-hot "
            f"encoding cannot learn from; {hint}"
        )
    top = max(counts.values())
    fill = min(c for c, k in counts.items() if k == top)
    return Column(name, "text", int(gaps.sum()), categories=tuple(sorted(counts)), fill=fill)


def encode(
    prep: Preprocessing, frame: pd.DataFrame, *, source: str = "frame:", warn: bool = True
) -> np.ndarray:
    """The network inputs of ``frame``'s rows before standardisation (see the module's docstring).

    Args:
      prep: the fitted preprocessing.
      frame: rows holding every column of ``prep.columns`` by name, in any order (others are ignored).
      source: what messages start with; warn: print the one-line warning for unseen categories.

    Returns:
      (n, D) float32, D = ``len(prep.feature_names)``.

    Raises:
      ValueError: a column missing, a cell that is not a number in a number column, a gap that the record
        cannot fill (a model saved without medians).
    """
    needed = [c.name for c in prep.columns]
    absent = [n for n in needed if n not in frame.columns]
    if absent:
        raise ValueError(
            f"{source} expected the columns {needed}, missing {absent}; got {list(frame.columns)}"
        )
    blocks, unseen = [], []
    for col in prep.columns:
        block, new = _encode_column(col, frame, source)
        blocks.append(block)
        unseen += [f"{col.name!r} = {v!r} ({k} row{'s' if k > 1 else ''})" for v, k in new.items()]
    if unseen and warn:
        print(
            f"funcmlp: warning: {source} categories not seen in training, encoded as all zeros: "
            f"{', '.join(unseen)}",
            file=sys.stderr,
        )
    x = np.concatenate(blocks, axis=1) if blocks else np.zeros((len(frame), 0))
    return x.astype(np.float32)


def _encode_column(col: Column, frame: pd.DataFrame, source: str) -> tuple[np.ndarray, dict[str, int]]:
    if col.kind == "number":
        v = cells.numbers(frame, col.name, source)
        gaps = np.isnan(v)
        if gaps.any() and col.median is None:
            where = cells.locate(frame, frame.index[int(np.argmax(gaps))], col.name)
            raise ValueError(
                f"{source} {where}: expected a number, got a gap (this model keeps no median to fill it)"
            )
        v = np.where(gaps, col.median if col.median is not None else 0.0, v)
        return (np.stack([v, gaps], axis=1) if col.indicator else v[:, None]), {}
    values, gaps = cells.strings(frame, col.name)
    values = np.where(gaps, col.fill, values)
    index = {c: k for k, c in enumerate(col.categories)}
    block = np.zeros((len(values), len(index)), np.float32)
    hits = np.asarray([index.get(v, -1) for v in values.tolist()], np.int64)
    block[np.flatnonzero(hits >= 0), hits[hits >= 0]] = 1.0
    return block, dict(Counter(values[hits < 0].tolist()))


def transform(prep: Preprocessing, frame: pd.DataFrame, **kw: Any) -> np.ndarray:
    """``encode``, then standardised with ``prep.standardizer`` when it standardises: (n, D) float32."""
    x = encode(prep, frame, **kw)
    st = prep.standardizer
    return x if st is None else st(x)
