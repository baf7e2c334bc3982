"""Standardisation with the training rows' statistics:  x' = (x - mu) / sigma,  per feature, with sigma = 1
for a constant column, so no information leaks from the validation or test points.

mu and sigma are kept in float64 and x' is computed in float64, then rounded to float32: a column far from
0 relative to its spread (a year, 2007 .. 2009) keeps float32 precision in x' (in float32 arithmetic its
mean alone would be off by 1e-4 sigma)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Standardizer(NamedTuple):
    """x' = (x - mean) / std, per feature; ``mean`` and ``std`` are (d,) float64; x' is float32."""

    mean: np.ndarray
    std: np.ndarray

    def __call__(self, x) -> np.ndarray:
        return ((np.asarray(x, np.float32).astype(np.float64) - self.mean) / self.std).astype(np.float32)

    def to_json(self) -> dict[str, list[float]]:
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_json(cls, d: dict[str, list[float]]) -> Standardizer:
        return cls(np.asarray(d["mean"], np.float64), np.asarray(d["std"], np.float64))


def standardizer(x_train) -> Standardizer:
    """Per-feature mean mu and standard deviation sigma of the training points (sigma = 1 where constant)."""
    x = np.asarray(x_train, np.float32).astype(np.float64)  # the float32 values the network is given
    std = x.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return Standardizer(x.mean(axis=0), std)
