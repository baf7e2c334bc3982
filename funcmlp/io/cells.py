"""The cells of a table read as numbers or as text, with the place of a bad cell in the file.

A table's rows are indexed by where they stand: ``line`` (a CSV's line, counted from 1, blank and ``#``
lines included), ``row`` (a Parquet or ``.npz`` row, from 1), or anything else for a data frame of your own.
A cell is missing (a gap) when it is empty or one of ``MISSING`` (pandas' own markers of a missing value,
and ``?``).

A column holds numbers when its values are of a numeric dtype, or when at least half of its non-missing
cells read as numbers (then every other cell is an error naming its line); otherwise it holds text.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

F32_MAX = float(np.finfo(np.float32).max)
MISSING = frozenset(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A"}
    | {"NA", "NULL", "NaN", "None", "n/a", "nan", "null", "?"}
)


def locate(frame: pd.DataFrame, label: Any, name: str) -> str:
    """Where cell (row ``label``, column ``name``) stands: "line 7, column 2" for a file's table, else
    "row 7, column 'b'"."""
    kind = frame.index.name
    if kind in ("line", "row"):
        return f"{kind} {label}, column {frame.columns.get_loc(name) + 1}"
    return f"row {label!r}, column {name!r}"


def column_place(frame: pd.DataFrame, name: str) -> str:
    """ "column 3 ('site')" for a file's table, else "column 'site'"."""
    if frame.index.name in ("line", "row"):
        return f"column {frame.columns.get_loc(name) + 1} ({name!r})"
    return f"column {name!r}"


def _is_text_dtype(series: pd.Series) -> bool:
    import pandas as pd

    dtype = series.dtype
    return isinstance(dtype, (pd.StringDtype, pd.CategoricalDtype)) or pd.api.types.is_bool_dtype(dtype)


def _is_number_dtype(series: pd.Series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)


def canonical(value: Any) -> str:
    """A cell as text: a whole number without its ``.0``, anything else as ``str`` gives it."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def strings(frame: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Column ``name`` as text: ``(values (n,) object of str, missing (n,) bool)``; a missing cell's value
    is ""."""
    import pandas as pd

    cells = frame[name].to_numpy(dtype=object)
    values = np.empty(len(cells), dtype=object)
    missing = np.zeros(len(cells), bool)
    for i, v in enumerate(cells):
        text = "" if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else canonical(v)
        missing[i] = text in MISSING
        values[i] = "" if missing[i] else text
    return values, missing


def as_number(field: str) -> float:
    """float(field), NaN for a text that is not a number."""
    try:
        return float(field)
    except ValueError:
        return float("nan")


def _parse(values: np.ndarray) -> np.ndarray:
    """float64 of each text (NaN where it is not a number)."""
    try:
        return values.astype(str).astype(np.float64)
    except ValueError:
        return np.asarray([as_number(v) for v in values], np.float64)


def holds_numbers(frame: pd.DataFrame, name: str) -> bool:
    """Whether column ``name`` holds numbers (see the module's docstring); a column without any value does."""
    series = frame[name]
    if _is_number_dtype(series):
        return True
    if _is_text_dtype(series):
        return False
    values, missing = strings(frame, name)
    parsed = _parse(values[~missing])
    return 2 * int(np.count_nonzero(~np.isnan(parsed))) >= len(parsed)


def numbers(frame: pd.DataFrame, name: str, source: str) -> np.ndarray:
    """Column ``name`` as float64 numbers (n,), NaN where a cell is missing.

    Raises:
      ValueError: ``"<source> line 7, column 2: expected a number, got 'x'"`` for a cell that is not a number,
        and "expected a finite float32 number" for inf or a value beyond float32.
    """
    series = frame[name]
    if _is_number_dtype(series):
        raw = series.to_numpy(dtype=np.float64, na_value=np.nan)
        values = raw
    else:
        text, missing = strings(frame, name)
        values = np.where(missing, np.nan, _parse(np.where(missing, "0", text)))
        raw = text
        bad = np.flatnonzero(~missing & np.isnan(values))
        if bad.size:
            i = int(bad[0])
            where = locate(frame, frame.index[i], name)
            raise ValueError(f"{source} {where}: expected a number, got {text[i]!r}")
    bad = np.flatnonzero(np.isinf(values) | (np.abs(np.nan_to_num(values)) > F32_MAX))
    if bad.size:
        i = int(bad[0])
        where = locate(frame, frame.index[i], name)
        raise ValueError(f"{source} {where}: expected a finite float32 number, got {raw[i]!r}")
    return values


def typed(frame: pd.DataFrame, source: str, *, skip: tuple[str, ...] = ()) -> pd.DataFrame:
    """The frame with each column (but ``skip``) as numbers (float64, NaN for a gap) or as text (pandas'
    string dtype, missing for a gap), the kind told by ``holds_numbers``; the index is kept."""
    import pandas as pd

    columns = {}
    for name in frame.columns:
        if name in skip:
            columns[name] = frame[name]
        elif holds_numbers(frame, name):
            columns[name] = pd.Series(numbers(frame, name, source), index=frame.index)
        else:
            values, missing = strings(frame, name)
            columns[name] = pd.Series(np.where(missing, None, values), index=frame.index, dtype="string")
    out = pd.DataFrame(columns, index=frame.index)
    out.index.name = frame.index.name
    return out
