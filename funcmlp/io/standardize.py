"""Standardisation with the training rows' statistics:  x' = (x - mu) / sigma,  per feature, with sigma = 1
for a constant column, so no information leaks from the validation or test points."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


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
