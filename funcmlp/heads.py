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

A ``Head`` is the one record of everything funcmlp knows about a head: its loss, prediction, probabilities,
label check, delta, and the float targets T and features-major rule (l, dl/dz) of the registered derivative
(``funcmlp.engine.fastpath``). Any per-sample loss ``fn(logits (n, K), y) -> (n,)`` is a head too
(``custom``): its gradient comes from ``jax.grad``, its prediction is argmax_k z_k unless a rule is given.
``weighted(head, w)`` weighs a classification head's per-sample loss by its class, l_i' = w_{y_i} l_i
(``balanced_weights``: w_k = n / (K n_k)).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from funcmlp import activations, checks


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Per-sample l = logsumexp(z) - z_y. logits (n, K), integer labels (n,) -> (n,)."""
    picked = jnp.take_along_axis(logits, labels[:, None].astype(jnp.int32), axis=-1)[:, 0]
    return jax.nn.logsumexp(logits, axis=-1) - picked


def sigmoid_binary_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Per-sample l = softplus(z) - y z = -y log s(z) - (1 - y) log(1 - s(z)).

    logits (n, 1), y (n,) -> (n,).
    """
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


# -- the registered derivative's view: float targets T (n, K), features-major rules on z, T (K, n) ----------

# Sums over at most this many rows are unrolled into elementwise multiply-adds (fused by XLA on the CPU).
SMALL = 8


def rows(op, z: jax.Array) -> jax.Array:
    """op-reduce z (K, n) over its K rows: z_0 op z_1 op ... (n,), unrolled when K <= SMALL."""
    if z.shape[0] <= SMALL:
        return functools.reduce(op, [z[k] for k in range(z.shape[0])])
    return {operator.add: jnp.sum, jnp.maximum: jnp.max}[op](z, axis=0)


def _softmax_rule(z, t):
    m = rows(jnp.maximum, z)
    e = jnp.exp(z - m)
    s = rows(operator.add, e)
    return m + jnp.log(s) - rows(operator.add, t * z), e / s - t, -z


def _sigmoid_rule(z, t):
    return jax.nn.softplus(z[0]) - t[0] * z[0], jax.lax.logistic(z) - t, -z


def _linear_rule(z, t):
    k = z.shape[0]
    r = z - t
    dz = (2.0 / k) * r
    return rows(operator.add, r * r) / k, dz, -dz


# -- label checks -------------------------------------------------------------------------------------------


def _check_classes(k_of):
    def check(y, n, d_out, name="y"):
        checks.check_labels(y, n, k_of(d_out), name)

    return check


def _check_sigmoid(y, n, d_out, name="y"):
    if d_out != 1:
        raise ValueError(f"params: head 'sigmoid' expects one output unit (sizes[-1] = 1), got {d_out}")
    checks.check_labels(y, n, 2, name, allowed="{0, 1}", head="sigmoid")


def _check_linear(y, n, d_out, name="y"):
    checks.check_targets(y, n, d_out, name)


def _check_any(y, n, d_out, name="y"):
    checks.check_leading(y, n, name)


class Head(NamedTuple):
    """An output head: everything funcmlp needs to train with it, predict with it and report it.

    Attributes:
      name: how tables, JSON and checkpoints name it.
      per_sample_loss: l(z (n, K), y) -> (n,).
      predict: z (n, K) -> predictions (class indices for a classifier).
      delta: dJ/dz^L (n, K) of the mean loss, for the chain rule by hand.
      check_y: ``check_y(y, n, d_out, name)`` raises a clear error for labels the head cannot take.
      classifies: whether accuracy (prediction == y) means something.
      probabilities: z -> class probabilities (n, K), or None.
      targets: ``targets(y, n_out, dtype) -> T (n, K)`` float targets of the registered derivative, or None.
      rule: ``rule(z, T) -> (l (n,), dl/dz (K, n), dl/dT (K, n))`` on features-major z, T (K, n), or None
        (no registered derivative: ``jax.grad`` of ``per_sample_loss``).
    """

    name: str
    per_sample_loss: Callable[[jax.Array, jax.Array], jax.Array]
    predict: Callable[[jax.Array], jax.Array]
    delta: Callable[[jax.Array, jax.Array], jax.Array]
    check_y: Callable[..., None]
    classifies: bool = True
    probabilities: Callable[[jax.Array], jax.Array] | None = None
    targets: Callable[[jax.Array, int, Any], jax.Array] | None = None
    rule: Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array, jax.Array]] | None = None


def argmax(z: jax.Array) -> jax.Array:
    """Class k = argmax_k z_k per sample, int32 (n,)."""
    return jnp.argmax(z, axis=-1).astype(jnp.int32)


def _sigmoid_probabilities(z):
    p = jax.nn.sigmoid(z[:, 0])
    return jnp.stack([1 - p, p], axis=-1)


HEADS: dict[str, Head] = {
    "softmax": Head(
        "softmax",
        softmax_cross_entropy,
        argmax,
        _softmax_delta,
        _check_classes(lambda d_out: d_out),
        probabilities=jax.nn.softmax,
        targets=lambda y, k, dtype: jax.nn.one_hot(y, k, dtype=dtype),
        rule=_softmax_rule,
    ),
    "sigmoid": Head(
        "sigmoid",
        sigmoid_binary_cross_entropy,
        lambda z: (z[:, 0] > 0).astype(jnp.int32),
        _sigmoid_delta,
        _check_sigmoid,
        probabilities=_sigmoid_probabilities,
        targets=lambda y, k, dtype: y.astype(dtype)[:, None],
        rule=_sigmoid_rule,
    ),
    "linear": Head(
        "linear",
        squared_error,
        lambda z: z,
        _linear_delta,
        _check_linear,
        classifies=False,
        targets=lambda y, k, dtype: y.astype(dtype),
        rule=_linear_rule,
    ),
}
NAMES = tuple(HEADS)


def _autodiff_delta(fn):
    def delta(logits, y):
        return jax.grad(lambda z: jnp.mean(fn(z, y)))(logits)

    return delta


@functools.cache
def custom(
    loss: Callable[[jax.Array, jax.Array], jax.Array],
    predict: Callable[[jax.Array], jax.Array] | None = None,
    *,
    name: str | None = None,
    classifies: bool = True,
) -> Head:
    """A head from your own per-sample loss ``loss(logits (n, K), y) -> (n,)``,
    differentiated by ``jax.grad``.

    ``predict`` maps logits to predictions (default: argmax_k z_k, so ``accuracy`` compares it with integer
    labels); ``name`` defaults to ``loss.__name__``. Cached: the same function gives the same head, so a
    jitted training loop is not compiled again.
    """
    if not callable(loss):
        raise TypeError(f"head: expected a name or a function loss(logits, y) -> (n,), got {loss!r}")
    if predict is not None and not callable(predict):
        raise TypeError(f"predict: expected None or a function logits -> predictions, got {predict!r}")
    label = name or getattr(loss, "__name__", None) or type(loss).__name__
    return Head(
        label, loss, argmax if predict is None else predict, _autodiff_delta(loss), _check_any, classifies
    )


def get(head: str | Head | Callable) -> Head:
    """A head by name (``"softmax"``, ``"sigmoid"``, ``"linear"``), a ``Head``,
    or a per-sample loss function."""
    if isinstance(head, Head):
        return head
    if isinstance(head, str):
        if head in HEADS:
            return HEADS[head]
    elif callable(head):
        return custom(head)
    raise ValueError(
        f"head: expected one of {', '.join(NAMES)} or a function loss(logits, y) -> (n,), got {head!r}"
    )


def name_of(head: str | Head | Callable) -> str:
    """The name a table, a JSON file or a checkpoint gives a head."""
    return get(head).name


def balanced_weights(y, k: int) -> np.ndarray:
    """Class weights w_k = n / (K n_k) (K, float32) of labels y (n,) in [0, K), n_k = #{i : y_i = k}; a
    class without samples gets w_k = 0 (no sample carries it). sum_i w_{y_i} = n when every class occurs."""
    y = np.asarray(y).astype(np.int64).ravel()
    counts = np.bincount(y, minlength=k).astype(np.float64)[:k]
    w = np.divide(y.size, k * counts, out=np.zeros(k), where=counts > 0)
    return w.astype(np.float32)


def weighted(head: str | Head, class_weights) -> Head:
    """A classification head whose per-sample loss is weighted by the sample's class:
    l'(z_i, y_i) = w_{y_i} l(z_i, y_i), so J = (1/n) sum_i w_{y_i} l_i.

    Its prediction, probabilities and name are ``head``'s (a checkpoint applies it as ``head``); its
    gradient comes from ``jax.grad``. Cached: the same head and weights give the same ``Head``.

    Args:
      head: ``"softmax"`` or ``"sigmoid"`` (or a classifying ``Head`` with probabilities).
      class_weights: K finite weights >= 0, one per class (K = the output units; 2 for sigmoid).
    """
    base = get(head)
    if not base.classifies or base.probabilities is None:
        raise ValueError(
            f"head: class weights need a classification head (softmax or sigmoid), got {base.name!r}"
        )
    w = np.asarray(class_weights, np.float64)
    if w.ndim != 1 or w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"class_weights: expected K >= 1 finite weights >= 0 (K,), got {class_weights!r}")
    return _weighted(base, tuple(float(v) for v in w))


@functools.cache
def _weighted(base: Head, w: tuple[float, ...]) -> Head:
    table = np.asarray(w, np.float32)

    def loss(z, y):
        return jnp.asarray(table, z.dtype)[jnp.asarray(y).astype(jnp.int32)] * base.per_sample_loss(z, y)

    def check(y, n, d_out, name="y"):
        base.check_y(y, n, d_out, name)
        k = 2 if base.name == "sigmoid" else d_out
        if len(w) != k:
            raise ValueError(f"class_weights: expected {k} weights (one per class), got {len(w)}")

    return Head(base.name, loss, base.predict, _autodiff_delta(loss), check, True, base.probabilities)
