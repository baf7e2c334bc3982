"""Toy 2-D classification data sets, drawn from a ``jax.random.key``.

Every generator returns ``(x float32 (n, 2), y int32 (n,))`` with labels in [0, n_classes).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

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
