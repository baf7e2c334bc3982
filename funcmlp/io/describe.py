"""What a preprocessing did to which column: ``summary`` (a dict for config.json) and ``describe`` (one
line for the command line)."""

from __future__ import annotations

from typing import Any

from funcmlp.io.preprocess import Preprocessing


def _rows(k: int) -> str:
    return f"{k} row{'' if k == 1 else 's'}"


def summary(prep: Preprocessing) -> dict[str, Any]:
    """What was done to which column, for config.json."""
    numbers = [c for c in prep.columns if c.kind == "number"]
    return {
        "one_hot": {c.name: list(c.categories) for c in prep.columns if c.kind == "text"},
        "median_imputed": {c.name: {"median": c.median, "gaps": c.gaps} for c in numbers if c.gaps},
        "missing_indicator": [c.name for c in numbers if c.indicator],
        "most_frequent_imputed": {
            c.name: {"value": c.fill, "gaps": c.gaps} for c in prep.columns if c.kind == "text" and c.gaps
        },
        "standardized": [c.name for c in numbers] if prep.standardize else [],
        "dropped_columns": list(prep.dropped),
        "dropped_rows": {"missing_label": prep.unlabelled, "gaps": prep.incomplete},
        "missing": prep.missing,
        "inputs": len(prep.feature_names),
    }


def describe(prep: Preprocessing) -> str:
    """One line of ``summary``: "one-hot site (3), sex (2); median + indicator bill (2 gaps); ..."."""
    s = summary(prep)
    parts = []
    if s["one_hot"]:
        parts.append("one-hot " + ", ".join(f"{n} ({len(c)})" for n, c in s["one_hot"].items()))
    if s["median_imputed"]:
        how = "median + indicator" if prep.missing == "impute" else "median"
        parts.append(f"{how} " + ", ".join(f"{n} ({v['gaps']} gaps)" for n, v in s["median_imputed"].items()))
    if s["most_frequent_imputed"]:
        parts.append(
            "most frequent "
            + ", ".join(f"{n} ({v['gaps']} gaps)" for n, v in s["most_frequent_imputed"].items())
        )
    if s["standardized"]:
        parts.append(f"{len(s['standardized'])} number columns standardised")
    if s["dropped_columns"]:
        parts.append("dropped " + ", ".join(s["dropped_columns"]))
    rows = s["dropped_rows"]
    if rows["missing_label"]:
        parts.append(f"{_rows(rows['missing_label'])} without a label dropped")
    if rows["gaps"]:
        parts.append(f"{_rows(rows['gaps'])} with a gap dropped")
    return "; ".join(parts) + f" -> {s['inputs']} inputs"


def reworks(prep: Preprocessing) -> bool:
    """Whether the preprocessing does more than read numbers (and standardise them): text columns, gaps,
    dropped columns or rows."""
    return bool(
        prep.dropped
        or prep.unlabelled
        or prep.incomplete
        or any(c.kind == "text" or c.gaps for c in prep.columns)
    )
