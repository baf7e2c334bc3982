"""Rosenblatt's perceptron, compiled: one ``lax.scan`` over epochs around one ``lax.scan`` over samples.

The notes' unit predicts

    y_hat = 1 if w . x > phi else -1,

written here with a bias b = -phi:  y_hat = 1 if w . x + b > 0 else -1. The perceptron learning rule
visits the samples in order and, on each mistake (y_hat_i != y_i), moves the boundary towards the sample:

    w <- w + lr * y_i * x_i,    b <- b + lr * y_i.

Its loss is the 0/1 loss, the number of mistakes, which has no useful gradient (it is piecewise constant):
that is why the rule is not gradient descent and why a multi-layer network needs a smooth loss instead. On
linearly separable data the rule stops making mistakes after finitely many updates (Novikoff); on data such
as XOR that no line separates it never does.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from funcmlp import checks


class PerceptronResult(NamedTuple):
    """What ``fit`` returns.

    Attributes:
      w: (d,) weights; b: scalar bias (the notes' threshold is phi = -b).
      errors: (epochs,) int32, the mistakes (0/1 loss summed over samples) made during each epoch.
    """

    w: jax.Array
    b: jax.Array
    errors: jax.Array


def predict(w: jax.Array, b: jax.Array, x: jax.Array) -> jax.Array:
    """y_hat = 1 if w . x + b > 0 else -1 for each row of x (n, d); returns int32 (n,) in {-1, +1}."""
    if len(np.shape(x)) != 2:
        raise ValueError(f"x: expected a 2-D array (n, d), got shape {np.shape(x)}")
    d = np.shape(x)[1]
    checks.check_x(x, d)
    for name, value, shape in (("w", w, (d,)), ("b", b, ())):
        dtype = checks.dtype_of(value, name)
        if not checks.is_real(dtype):
            raise TypeError(f"{name}: expected a real number or array, got dtype {dtype}")
        if np.shape(value) != shape:
            what = f"weights of shape ({d},) (one per column of x)" if name == "w" else "a scalar bias"
            raise ValueError(f"{name}: expected {what}, got shape {np.shape(value)}")
        if checks.is_concrete(value) and not np.all(np.isfinite(np.asarray(value))):
            raise ValueError(f"{name}: expected finite values, got NaN or inf entries")
    return jnp.where(jnp.asarray(x) @ w + b > 0, 1, -1).astype(jnp.int32)


def fit(x: jax.Array, y: jax.Array, *, epochs: int, lr: float = 1.0) -> PerceptronResult:
    """Train a perceptron from w = 0, b = 0 with the perceptron rule, samples in their given order.

    Args:
      x: inputs (n, d), finite.
      y: labels (n,) in {-1, +1}.
      epochs: passes over the data.
      lr: learning rate (> 0); from w = 0 it only rescales w and b, so the mistakes do not depend on it.

    Returns:
      ``PerceptronResult(w (d,), b (), errors (epochs,))``.
    """
    epochs = checks.check_positive_int(epochs, "epochs")
    if len(np.shape(x)) != 2:
        raise ValueError(f"x: expected a 2-D array (n, d), got shape {np.shape(x)}")
    checks.check_x(x, np.shape(x)[1])
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    n = x.shape[0]
    if np.shape(y) != (n,):
        raise ValueError(f"y: expected labels of shape ({n},) (one per row of x), got {np.shape(y)}")
    if checks.is_concrete(y):
        bad = ~np.isin(np.asarray(y), (-1, 1))
        if bad.any():
            raise ValueError(f"y: expected labels in {{-1, +1}}, got {np.unique(np.asarray(y)[bad])[:5]}")
    if isinstance(lr, bool) or np.ndim(lr) != 0 or (checks.is_concrete(lr) and not float(lr) > 0):
        raise ValueError(f"lr: expected a positive number, got {lr!r}")
    if checks.is_concrete(lr):
        top = float(jnp.finfo(x.dtype).max)
        if not float(lr) <= top:
            raise ValueError(
                f"lr: expected a finite positive number within {x.dtype} (<= {top:.3g}), got {lr!r}"
            )
    return _fit(x, jnp.asarray(y).astype(x.dtype), jnp.asarray(lr, x.dtype), epochs=epochs)


@partial(jax.jit, static_argnames="epochs")
def _fit(x, y, lr, *, epochs):
    def sample(carry, xy):
        w, b, mistakes = carry
        xi, yi = xy
        wrong = jnp.where(xi @ w + b > 0, 1.0, -1.0) != yi
        step = jnp.where(wrong, lr * yi, 0.0)
        return (w + step * xi, b + step, mistakes + wrong.astype(jnp.int32)), None

    def epoch(carry, _):
        w, b = carry
        (w, b, mistakes), _ = jax.lax.scan(sample, (w, b, jnp.int32(0)), (x, y))
        return (w, b), mistakes

    init = (jnp.zeros(x.shape[1], x.dtype), jnp.zeros((), x.dtype))
    (w, b), errors = jax.lax.scan(epoch, init, None, length=epochs)
    return PerceptronResult(w, b, errors)
