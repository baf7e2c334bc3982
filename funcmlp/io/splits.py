"""A data set made ready for training: split into train / validation / test, optionally standardised.

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
from funcmlp.io.tables import load


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
