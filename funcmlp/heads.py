"""Output heads: how the last layer's logits z^L become a loss, a prediction and an output delta.

All losses are computed from logits, never from probabilities, so they stay finite for |z| up to 1e4 in
float32:

* ``softmax``: labels y in [0, K); per-sample cross-entropy  l = logsumexp(z) - z_y.
* ``sigmoid``: one output unit, y in {0, 1}; binary cross-entropy
  l = -y log s(z) - (1 - y) log(1 - s(z)) = softplus(z) - y z.
  (The notes write the second term as (1 - y_hat) log(1 - y_hat); the label, not the prediction, weighs it.)
* ``linear``: real targets of shape (n, d_out); per-sample l = mean_k (z_k - y_k)^2, so the mean over
  samples is the mean over all elements.

``delta`` is dJ/dz^L for J the mean loss over n samples: (y_hat - y) / n for softmax + cross-entropy and for
sigmoid + BCE (the derivative of the activation cancels against the loss's), and 2 (z - y) / (n d) for the
linear head.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from funcmlp import activations


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Per-sample l = logsumexp(z) - z_y. logits (n, K), integer labels (n,) -> (n,)."""
    picked = jnp.take_along_axis(logits, labels[:, None].astype(jnp.int32), axis=-1)[:, 0]
    return jax.nn.logsumexp(logits, axis=-1) - picked


def sigmoid_binary_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Per-sample l = softplus(z) - y z = -y log s(z) - (1 - y) log(1 - s(z)). logits (n, 1), y (n,) -> (n,)."""
    z = logits[:, 0]
    return jax.nn.softplus(z) - labels.astype(z.dtype) * z


def squared_error(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Per-sample l = mean_k (z_k - y_k)^2. logits (n, d), targets (n, d) -> (n,)."""
    return jnp.mean(jnp.square(logits - targets.astype(logits.dtype)), axis=-1)


def _softmax_delta(logits, labels):
    onehot = jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype)
    return (activations.softmax(logits) - onehot) / logits.shape[0]


def _sigmoid_delta(logits, labels):
    return (activations.sigmoid(logits) - labels.astype(logits.dtype)[:, None]) / logits.shape[0]


def _linear_delta(logits, targets):
    return 2 * (logits - targets.astype(logits.dtype)) / logits.size


class Head(NamedTuple):
    """An output head: per-sample loss, prediction from logits, and dJ/dz^L of the mean loss."""

    name: str
    per_sample_loss: Callable[[jax.Array, jax.Array], jax.Array]
    predict: Callable[[jax.Array], jax.Array]
    delta: Callable[[jax.Array, jax.Array], jax.Array]


HEADS: dict[str, Head] = {
    "softmax": Head(
        "softmax",
        softmax_cross_entropy,
        lambda z: jnp.argmax(z, axis=-1).astype(jnp.int32),
        _softmax_delta,
    ),
    "sigmoid": Head(
        "sigmoid",
        sigmoid_binary_cross_entropy,
        lambda z: (z[:, 0] > 0).astype(jnp.int32),
        _sigmoid_delta,
    ),
    "linear": Head("linear", squared_error, lambda z: z, _linear_delta),
}
NAMES = tuple(HEADS)


def get(head: str) -> Head:
    """Look up a head by name."""
    if isinstance(head, str) and head in HEADS:
        return HEADS[head]
    raise ValueError(f"head: expected one of {', '.join(NAMES)}, got {head!r}")
