"""Data tables: a CSV, Parquet or ``.npz`` file read into a pandas data frame of its cells.

A CSV is read by pandas (its pyarrow reader): quoted fields (with the separator or a line break inside),
the separator sniffed among comma, semicolon, tab and pipe, the text decoded as UTF-8 (a byte order mark
allowed) or else as Latin-1. Blank lines and lines starting with ``#`` are skipped. A header row is
recognised when a field of the first row is not a number where the column's other rows mostly are, or
when every field of the first row is a distinct word; a file without one names its columns ``x1 .. xd``. The
cells are kept as text (numbers and gaps are read by ``cells``), the rows indexed by their line in the file.

A ``.parquet`` file is read by pandas (pyarrow) with its own column types, the rows indexed from 1. An
``.npz`` file holds an array ``x`` (n, d) and an array ``y`` (n,): the columns x1 .. xd and the labels.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from funcmlp.io.cells import F32_MAX, MISSING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["F32_MAX", "Dataset", "Table", "check_path", "parse_label", "parse_number", "read_frame"]
SEPARATORS = ",;\t|"
PARQUET = (".parquet", ".pq")


class Dataset(NamedTuple):
    """A labelled data set read from a file.

    Attributes:
      x: features (n, d) float32 (text columns one-hot encoded, gaps filled: ``preprocess``).
      y: class indices (n,) int32 in [0, K); real targets (n, 1) float32 from ``targets.load_targets``.
      classes: the K original labels, in the order of their indices (``classes[y[i]]`` is sample i's
        label); () for real targets.
      feature_names: d names (from the header row, else ``x1 .. xd``; ``site=Dream`` for a one-hot column).
    """

    x: np.ndarray
    y: np.ndarray
    classes: tuple[Any, ...]
    feature_names: tuple[str, ...]


class Table(NamedTuple):
    """A file's cells: ``frame`` (its columns under their names, in the file's order; the rows indexed by
    ``line`` or ``row``), ``source`` ("path: 'f.csv'", what messages start with) and whether the file has
    a header row."""

    frame: pd.DataFrame
    source: str
    header: bool


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


def check_path(path: Any, name: str = "path") -> Path:
    """A str or os.PathLike naming a data file (not a directory)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a str or os.PathLike, got {type(path).__name__}")
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{name}: expected a .csv, .parquet or .npz file, got the directory {str(p)!r}")
    return p


def read_frame(path: str | os.PathLike, *, names: tuple[str, ...] = (), labelled: bool = True) -> Table:
    """Read a ``.csv`` (or other text), ``.parquet`` or ``.npz`` file into a ``Table`` of its cells.

    Args:
      path: the file.
      names: column names expected in a header row: a first row holding them all is one.
      labelled: an ``.npz`` must hold ``y`` (else it may), read as the last column ``label``.

    Raises:
      ValueError: naming the file and, for a CSV, the line: no such file, no data rows, a row with another
        number of columns, a header naming a column twice, a damaged Parquet or ``.npz`` file.
    """
    import pandas as pd

    path = check_path(path)
    source = f"path: {str(path)!r}"
    suffix = path.suffix.lower()
    if suffix == ".npz":
        frame = _npz_frame(path, labelled)
    elif suffix in PARQUET:
        try:
            frame = pd.read_parquet(path)
        except FileNotFoundError:
            raise ValueError(f"path: file {str(path)!r} does not exist") from None
        except Exception as e:  # pyarrow raises its own errors for a damaged file
            raise ValueError(f"{source} is not a readable Parquet file ({type(e).__name__}: {e})") from None
        frame = frame.reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
    else:
        return _read_csv(path, source, names)
    if len(frame) == 0:
        raise ValueError(f"{source} has no data rows")
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="row")
    _check_unique(list(frame.columns), source)
    return Table(frame, source, True)


def _decode(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"path: file {str(path)!r} does not exist") from None
    if b"\x00" in data:
        raise ValueError(f"path: {str(path)!r} is not a text file (it holds NUL bytes); expected CSV text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _sniff(lines: list[str]) -> str:
    """The separator of the first lines: csv.Sniffer's choice among ``SEPARATORS``, else the first of them
    in the first line, else a comma."""
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=SEPARATORS).delimiter
    except csv.Error:
        return next((s for s in SEPARATORS if s in lines[0]), ",")


def _read_csv(path: Path, source: str, names: tuple[str, ...]) -> Table:
    import pandas as pd

    text = _decode(path)
    kept = [
        (no, line.rstrip("\r"))
        for no, line in enumerate(text.split("\n"), 1)
        if line.strip() and not line.startswith("#")
    ]
    if not kept:
        raise ValueError(f"{source} has no data rows (the file is empty)")
    body = "".join(line + "\n" for _, line in kept).encode()
    sep = _sniff([line for _, line in kept[:20]])
    try:
        frame = pd.read_csv(
            io.BytesIO(body), sep=sep, header=None, dtype=str, keep_default_na=False, engine="pyarrow"
        )
    except pd.errors.ParserError as e:
        raise ValueError(_row_error(str(e), kept, source)) from None
    frame = frame.map(lambda v: v.strip() if isinstance(v, str) else "").astype(object)  # text: cells decides
    breaks = frame.map(lambda v: v.count("\n")).to_numpy().sum(axis=1)  # line breaks inside quoted fields
    starts = np.arange(len(frame)) + np.concatenate([[0], np.cumsum(breaks)[:-1]]).astype(int)
    frame.index = pd.Index([kept[i][0] for i in starts], name="line")
    header = _has_header(frame, names)
    if header:
        columns = [c or f"x{i + 1}" for i, c in enumerate(frame.iloc[0])]
        _check_unique(columns, source)
        first = frame.index[0]
        frame = frame.iloc[1:]
        if frame.empty:
            raise ValueError(f"{source} has a header row (line {first}) but no data rows")
    else:
        columns = [f"x{i + 1}" for i in range(frame.shape[1])]
    frame.columns = columns
    return Table(frame, source, header)


def _row_error(message: str, kept: list[tuple[int, str]], source: str) -> str:
    """pyarrow's "Expected 3 columns, got 2: 4,5" as "<source> line 3: expected 3 columns like line 1, got 2"."""
    found = re.search(r"Expected (\d+) columns, got (\d+): (.*)", message, re.S)
    if found is None:
        return f"{source} is not a readable CSV file ({message.strip()})"
    expected, got, row = found.groups()
    first = row.split("\n")[0]
    no = next((n for n, line in kept[1:] if line == first or (first and line.startswith(first))), None)
    where = f" line {no}" if no is not None else ""
    return f"{source}{where}: expected {expected} columns like line {kept[0][0]}, got {got}"


def _has_header(frame: pd.DataFrame, names: tuple[str, ...]) -> bool:
    """Whether the first row names the columns (see the module's docstring)."""
    first = [str(v) for v in frame.iloc[0]]
    if names and set(names) <= set(first):
        return True
    if all(f not in MISSING and parse_number(f) is None for f in first) and len(set(first)) == len(first):
        return True
    for c, field in enumerate(first):
        if field in MISSING or parse_number(field) is not None:
            continue
        rest = [v for v in frame.iloc[1:, c] if v not in MISSING]
        if rest and 2 * sum(parse_number(v) is not None for v in rest) >= len(rest):
            return True
    return False


def _check_unique(columns: list[str], source: str) -> None:
    seen: dict[str, int] = {}
    for c, name in enumerate(columns):
        if name in seen:
            raise ValueError(
                f"{source}: the header row names column {name!r} twice (columns {seen[name] + 1} and {c + 1}); "
                "expected unique column names"
            )
        seen[name] = c


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


def _npz_frame(path: Path, labelled: bool) -> pd.DataFrame:
    """The columns x1 .. xd of ``x`` (float32), then ``label`` from ``y`` when there is one."""
    import pandas as pd

    if labelled:
        x, y = npz_xy(path, "class labels")  # targets: checked first by targets.read_targets
    else:
        arrays = read_npz(path)
        x, y = arrays.get("x"), arrays.get("y")
        if x is None or x.ndim != 2:
            got = "no array 'x'" if x is None else f"x of shape {x.shape}"
            raise ValueError(f"path: {str(path)!r}: expected an array 'x' of shape (n, d), got {got}")
        check_numeric_finite(x, path)
    columns: dict[str, Any] = {f"x{c + 1}": x[:, c].astype(np.float32) for c in range(x.shape[1])}
    if y is not None and y.shape == (x.shape[0],):
        columns["label"] = [v.item() if isinstance(v, np.generic) else v for v in y.tolist()]
    return pd.DataFrame(columns)
