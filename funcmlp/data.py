"""Toy 2-D classification data sets, drawn from a ``jax.random.key``.

Every generator returns ``(x float32 (n, 2), y int32 (n,))`` with labels in [0, n_classes).

``bootstrap`` and ``kfold`` turn one data set (x (n, d), y (n, ...)) into a stack with a leading axis, one
data set per model, as ``funcmlp.sweep`` takes per-model data: x (seeds, n, d) and y (seeds, n, ...).
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from funcmlp import checks


def _finite(x: jax.Array, name: str, value: float) -> jax.Array:
    """``x`` float32, refusing a noise (spread, factor) so large that points overflow float32."""
    x = x.astype(jnp.float32)
    if checks.is_concrete(x) and not bool(jnp.all(jnp.isfinite(x))):
        raise ValueError(f"{name}: expected a value small enough that x stays within float32, got {value!r}")
    return x


def spiral(
    key: jax.Array, n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2
) -> tuple[jax.Array, jax.Array]:
    """The CS231n spiral: for class j, radius r = linspace(0, 1, N), angle t = linspace(4j, 4(j+1), N)
    + noise * N(0, 1), point (r sin t, r cos t). Not linearly separable: a linear classifier reaches ~50%.
    """
    checks.check_key(key)
    checks.check_nonnegative_real(noise, "noise")
    n = checks.check_positive_int(n_per_class, "n_per_class")
    k = checks.check_positive_int(n_classes, "n_classes")
    r = jnp.tile(jnp.linspace(0.0, 1.0, n), k)
    j = jnp.repeat(jnp.arange(k), n)
    t = jnp.concatenate([jnp.linspace(4.0 * c, 4.0 * (c + 1), n) for c in range(k)])
    t = t + noise * jax.random.normal(key, (n * k,))
    x = jnp.stack([r * jnp.sin(t), r * jnp.cos(t)], axis=1)
    return _finite(x, "noise", noise), j.astype(jnp.int32)


def xor(key: jax.Array, n_per_cluster: int = 50, noise: float = 0.1) -> tuple[jax.Array, jax.Array]:
    """XOR: four clusters at (+-1, +-1); y = 1 where the signs differ. No line separates the classes."""
    checks.check_key(key)
    checks.check_nonnegative_real(noise, "noise")
    n = checks.check_positive_int(n_per_cluster, "n_per_cluster")
    centres = jnp.array([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
    labels = jnp.array([0, 0, 1, 1])
    x = jnp.repeat(centres, n, axis=0) + noise * jax.random.normal(key, (4 * n, 2))
    return _finite(x, "noise", noise), jnp.repeat(labels, n).astype(jnp.int32)


def blobs(
    key: jax.Array, n_per_class: int = 100, n_classes: int = 2, spread: float = 0.3
) -> tuple[jax.Array, jax.Array]:
    """Gaussian blobs with centres on a circle of radius 2; linearly separable for small ``spread``."""
    checks.check_key(key)
    checks.check_nonnegative_real(spread, "spread")
    n = checks.check_positive_int(n_per_class, "n_per_class")
    k = checks.check_positive_int(n_classes, "n_classes")
    angle = 2 * jnp.pi * jnp.arange(k) / k
    centres = 2.0 * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=1)
    x = jnp.repeat(centres, n, axis=0) + spread * jax.random.normal(key, (n * k, 2))
    return _finite(x, "spread", spread), jnp.repeat(jnp.arange(k), n).astype(jnp.int32)


def moons(key: jax.Array, n_per_class: int = 100, noise: float = 0.1) -> tuple[jax.Array, jax.Array]:
    """Two interleaving half circles: (cos t, sin t) and (1 - cos t, 0.5 - sin t), t in [0, pi]."""
    checks.check_key(key)
    checks.check_nonnegative_real(noise, "noise")
    n = checks.check_positive_int(n_per_class, "n_per_class")
    t = jnp.linspace(0.0, jnp.pi, n)
    upper = jnp.stack([jnp.cos(t), jnp.sin(t)], axis=1)
    lower = jnp.stack([1.0 - jnp.cos(t), 0.5 - jnp.sin(t)], axis=1)
    x = jnp.concatenate([upper, lower]) + noise * jax.random.normal(key, (2 * n, 2))
    return _finite(x, "noise", noise), jnp.repeat(jnp.arange(2), n).astype(jnp.int32)


def circles(
    key: jax.Array, n_per_class: int = 100, noise: float = 0.05, factor: float = 0.5
) -> tuple[jax.Array, jax.Array]:
    """Two concentric circles of radius 1 (class 0) and ``factor`` (class 1)."""
    checks.check_key(key)
    checks.check_nonnegative_real(noise, "noise")
    checks.check_nonnegative_real(factor, "factor")
    n = checks.check_positive_int(n_per_class, "n_per_class")
    t = jnp.linspace(0.0, 2 * jnp.pi, n, endpoint=False)
    ring = jnp.stack([jnp.cos(t), jnp.sin(t)], axis=1)
    ring2 = jnp.concatenate([ring, factor * ring])
    x = ring2 + noise * jax.random.normal(key, (2 * n, 2))
    if checks.is_concrete(ring2) and not bool(jnp.all(jnp.isfinite(ring2.astype(jnp.float32)))):
        raise ValueError(f"factor: expected a value small enough that x stays within float32, got {factor!r}")
    return _finite(x, "noise", noise), jnp.repeat(jnp.arange(2), n).astype(jnp.int32)


DATASETS = {"spiral": spiral, "xor": xor, "blobs": blobs, "moons": moons, "circles": circles}


def _checked_pair(x: Any, y: Any) -> tuple[jax.Array, jax.Array]:
    """x a non-empty numeric (n, d) array, y one row per row of x, (n, ...); both as JAX arrays."""
    if len(np.shape(x)) != 2:
        raise ValueError(f"x: expected a 2-D array (n, d), got shape {np.shape(x)}")
    checks.check_x(x, np.shape(x)[1])
    checks.check_leading(y, np.shape(x)[0])
    return jnp.asarray(x), jnp.asarray(y)


def bootstrap(key: jax.Array, x: Any, y: Any, seeds: int) -> tuple[jax.Array, jax.Array]:
    """``seeds`` bootstrap resamples of (x, y): each n rows drawn uniformly with replacement.

    With k_j = split(key, seeds)[j] and idx_j = jax.random.choice(k_j, n, (n,), replace=True), so that
    idx_j[i] ~ Uniform{0, ..., n - 1} independently:

        xs[j, i] = x[idx_j[i]],    ys[j, i] = y[idx_j[i]],    j < seeds, i < n.

    Pure: the same key gives the same stack. Jit-friendly with ``seeds`` static (the draws are a ``vmap``
    over the split keys).

    Args:
      key: a ``jax.random.key``.
      x: inputs (n, d), finite.
      y: labels (n,) or targets (n, ...), one row per row of x.
      seeds: the number of resamples (>= 1).

    Returns:
      ``(xs (seeds, n, d), ys (seeds, n, ...))`` in the dtypes of x and y.
    """
    checks.check_key(key)
    seeds = checks.check_positive_int(seeds, "seeds")
    return _resample(key, *_checked_pair(x, y), seeds)


@partial(jax.jit, static_argnums=3)
def _resample(key: jax.Array, x: jax.Array, y: jax.Array, seeds: int) -> tuple[jax.Array, jax.Array]:
    n = x.shape[0]
    idx = jax.vmap(lambda k: jax.random.choice(k, n, (n,), replace=True))(jax.random.split(key, seeds))
    return x[idx], y[idx]


class Folds(NamedTuple):
    """k-fold splits, leading axis folds.

    Fold j trains on (x_train[j], y_train[j]) and validates on (x_val[j], y_val[j]).
    """

    x_train: jax.Array  # (folds, n - n // folds, d)
    y_train: jax.Array  # (folds, n - n // folds, ...)
    x_val: jax.Array  # (folds, n // folds, d)
    y_val: jax.Array  # (folds, n // folds, ...)


def kfold(key: jax.Array, x: Any, y: Any, folds: int) -> Folds:
    """k-fold cross-validation splits of a random permutation of (x, y), as equal-size stacks.

    With p = jax.random.permutation(key, n) and m = floor(n / folds), fold j (j < folds) holds out

        V_j = (p[j m], p[j m + 1], ..., p[(j + 1) m - 1])        (m validation rows)
        T_j = p with positions j m, ..., (j + 1) m - 1 removed   (n - m training rows, in the order of p)

    and x_val[j] = x[V_j], y_val[j] = y[V_j], x_train[j] = x[T_j], y_train[j] = y[T_j]. A stack needs equal
    shapes, so every fold has exactly m validation rows: the n mod folds leftover rows p[folds m:] are in no
    validation set and in every training set. Each other row is validated in exactly one fold, and each
    fold's training and validation rows are disjoint and together are all n rows.

    Pure: the same key gives the same folds. Jit-friendly with ``folds`` static.

    Args:
      key: a ``jax.random.key``.
      x: inputs (n, d), finite.
      y: labels (n,) or targets (n, ...), one row per row of x.
      folds: the number of folds, 2 <= folds <= n.

    Returns:
      ``Folds(x_train, y_train, x_val, y_val)``, each with leading axis folds.
    """
    checks.check_key(key)
    folds = checks.check_positive_int(folds, "folds")
    x, y = _checked_pair(x, y)
    n = x.shape[0]
    if folds < 2:
        raise ValueError(f"folds: expected at least 2 (one part to validate, the rest to train), got {folds}")
    if folds > n:
        raise ValueError(f"folds: expected at most n = {n} (the number of samples), got {folds}")
    return _split(key, x, y, folds)


@partial(jax.jit, static_argnums=3)
def _split(key: jax.Array, x: jax.Array, y: jax.Array, folds: int) -> Folds:
    n = x.shape[0]
    m = n // folds
    positions = np.arange(n)
    val_pos = positions[: folds * m].reshape(folds, m)
    train_pos = np.stack([np.delete(positions, val_pos[j]) for j in range(folds)])
    p = jax.random.permutation(key, n)
    val, train = p[val_pos], p[train_pos]
    return Folds(x[train], y[train], x[val], y[val])
