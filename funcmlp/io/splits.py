"""A data set made ready for training: split into train / validation / test, preprocessed (``preprocess``)
and optionally standardised.

Class labels are split stratified: every class keeps its share of the data in every part, to within one
row. With n rows, n_c of class c and n_s rows in part s, class c puts floor(q) or ceil(q) of its rows in
part s, q = n_c * n_s / n, the parts keeping their sizes (a rounding that always exists). Regression
targets (float or 2-D) are split at random.

Standardisation uses the training split's statistics only,  x' = (x - mu) / sigma,  with sigma = 1 for a
constant column, so no information leaks from the validation or test points.
"""

from __future__ import annotations

import numbers
import os
from typing import Any, NamedTuple

import jax
import numpy as np

from funcmlp import checks
from funcmlp.io import cells, preprocess
from funcmlp.io.labels import encode_classes, read_labelled
from funcmlp.io.preprocess import Preprocessing
from funcmlp.io.standardize import Standardizer, standardizer
from funcmlp.io.targets import read_targets

__all__ = ["Prepared", "Split", "Standardizer", "prepare", "split", "standardizer"]


class Split(NamedTuple):
    """Train / validation / test parts; an empty part has 0 rows."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def split(
    key: jax.Array, x, y, *, val: float = 0.0, test: float = 0.2, stratify: bool | None = None
) -> Split:
    """Shuffle the samples with ``key`` and cut them into train / validation / test parts.

    Args:
      key: ``jax.random.key`` drawing the permutation.
      x: (n, d); y: (n,).
      val, test: fractions of n in [0, 1) for the validation and test parts (rounded to whole samples,
        at least one sample each when the fraction is positive); the training part keeps the rest and
        must keep at least one sample.
      stratify: keep each class's share in every part to within one row (see the module's docstring);
        None: when ``y`` holds integer class labels (1-D, integer or bool), not for regression targets.

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
    labels = y.ndim == 1 and (np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_)
    if stratify and not labels:
        raise ValueError(
            f"stratify: expected integer class labels y (n,), got dtype {y.dtype}, shape {y.shape}"
        )
    if not (labels if stratify is None else stratify):
        te, va, tr = perm[:n_test], perm[n_test : n_test + n_val], perm[n_test + n_val :]
        return Split(x[tr], y[tr], x[va], y[va], x[te], y[te])
    classes, first, inverse = np.unique(y[perm], return_index=True, return_inverse=True)
    table = _rounded_shares(np.bincount(inverse), (n_test, n_val, n - n_test - n_val), np.argsort(first))
    rank = np.empty(n, np.int64)  # position of each shuffled row among the shuffled rows of its class
    for c in range(len(classes)):
        rank[inverse == c] = np.arange(np.count_nonzero(inverse == c))
    cuts = np.cumsum(table, axis=1)[inverse]  # each row's class: ends of its test and validation rows
    part = (rank >= cuts[:, 0]).astype(np.int64) + (rank >= cuts[:, 1])  # 0 test, 1 validation, 2 train
    te, va, tr = (perm[part == k] for k in range(3))
    return Split(x[tr], y[tr], x[va], y[va], x[te], y[te])


def _rounded_shares(counts: np.ndarray, sizes: tuple[int, ...], order) -> np.ndarray:
    """The (classes, parts) table of rows: class c gives part s floor(q) or ceil(q) rows, q = counts[c] *
    sizes[s] / n, each class all its rows and each part its size.

    The floors are taken, then the rows left over are placed one at a time (classes in ``order``, parts with
    the larger fraction of q first), moving earlier ones to other parts where a part is full: augmenting
    paths of a flow. Such a table exists (the table of the q is one of a transportation polytope with
    integer corners), so every row finds a place.
    """
    n = int(counts.sum())
    num = np.outer(counts, sizes)  # n * q
    table, frac = num // n, num % n  # a row may be added where q is not whole
    room = np.asarray(sizes) - table.sum(axis=0)
    up = np.zeros(table.shape, bool)

    def place(c: int, seen: set[int]) -> bool:
        for s in np.argsort(-frac[c], kind="stable"):
            if frac[c, s] == 0 or up[c, s] or s in seen:
                continue
            seen.add(s)
            if room[s] > 0:
                room[s] -= 1
            else:  # part s is full: one of its extra rows moves to another part, if one can
                movable = next((o for o in np.flatnonzero(up[:, s]) if place(int(o), seen)), None)
                if movable is None:
                    continue
                up[movable, s] = False
            up[c, s] = True
            return True
        return False

    for c in order:
        for _ in range(int(counts[c] - table[c].sum())):
            if not place(int(c), set()):
                raise RuntimeError(f"no stratified split of {counts.tolist()} into {list(sizes)}")
    return table + up


class Prepared(NamedTuple):
    """A data file made ready for training: split, preprocessed and optionally standardised, with the
    training rows' statistics.

    Attributes:
      split: ``Split`` of the network inputs (standardised if asked).
      raw: ``Split`` of the inputs before standardisation: the file's own numbers (gaps filled), one-hot
        and missing-indicator columns (for figures in the file's units).
      standardizer: the ``Standardizer`` applied (mean 0, std 1 on one-hot and indicator columns), or None.
      classes: as in ``Dataset``; feature_names: the D inputs' names (``preprocess.Column.encoded``).
      target_standardizer: with real-valued targets, the ``Standardizer`` of the training targets that
        turned ``raw``'s y into ``split``'s, y' = (y - mean) / std; else None.
      preprocessing: the ``preprocess.Preprocessing`` fitted on the training rows (None for arrays).
    """

    split: Split
    raw: Split
    standardizer: Standardizer | None
    classes: tuple[Any, ...]
    feature_names: tuple[str, ...]
    target_standardizer: Standardizer | None = None
    preprocessing: Preprocessing | None = None


def prepare(
    path: str | os.PathLike,
    key: jax.Array,
    *,
    standardize: bool = False,
    val: float = 0.0,
    test: float = 0.2,
    targets: bool = False,
    missing: str = "impute",
    drop: tuple[str, ...] = (),
) -> Prepared:
    """Read a file, ``split`` its rows with ``key``, fit the preprocessing on the training rows
    (``preprocess.fit``: text one-hot, gaps filled, number columns standardised if ``standardize``) and
    apply it to every part.

    Rows without a label are dropped (``Preprocessing.unlabelled`` counts them); with ``missing="drop"`` so
    are rows with a gap in a feature column used (``Preprocessing.incomplete``). With ``targets`` the label
    column holds real-valued targets (``targets.read_targets``), always standardised with the training
    targets' mean and std.

    Args:
      path: a ``.csv``, ``.parquet`` or ``.npz`` file; key: ``jax.random.key`` of the split.
      standardize, val, test: as above and in ``split``.
      missing: "impute" or "drop"; drop: feature columns to leave out (an identifier column).

    Returns:
      ``Prepared``.
    """
    if targets:
        rows, y = read_targets(path)
        classes: tuple[Any, ...] = ()
    else:
        rows = read_labelled(path)
        y, classes = encode_classes(rows.values, rows.source)
    names = list(rows.features.columns)
    preprocess.check_options(missing, drop, names, rows.source)
    features = cells.typed(rows.features, rows.source, skip=tuple(drop))
    incomplete = 0
    if missing == "drop":
        complete = ~features[[c for c in names if c not in drop]].isna().any(axis=1).to_numpy()
        features, y, incomplete = features[complete], y[complete], int((~complete).sum())
    parts = split(key, np.arange(len(y)), y, val=val, test=test)
    prep = preprocess.fit(
        features.iloc[parts.x_train],
        standardize=standardize,
        missing=missing,
        drop=tuple(drop),
        source=rows.source,
    )
    prep = prep._replace(label=rows.label, unlabelled=rows.unlabelled, incomplete=incomplete)
    x = [preprocess.encode(prep, features.iloc[i], source=rows.source) for i in parts[0::2]]
    raw = Split(x[0], parts.y_train, x[1], parts.y_val, x[2], parts.y_test)
    st, ts = prep.standardizer, standardizer(raw.y_train) if targets else None
    scaled = Split(*(a if s is None else s(a) for a, s in zip(raw, (st, ts) * 3, strict=True)))
    return Prepared(scaled, raw, st, classes, prep.feature_names, ts, prep)
