"""The multi-layer perceptron as pure functions on a plain pytree of parameters.

Params are one dict per layer, ``[{"w": (d_in, d_out), "b": (d_out,)}, ...]``, applied batch-first:

    A^0 = X,   z^l = A^{l-1} W^l + b^l,   A^l = act(z^l)  (l < L),   logits = z^L.

The lecture's network is sizes (2, 4, 3): X (300, 2) -> z^1, A^1 (300, 4) -> z^2 (300, 3). The notes write the
biases as (1, 4) and (1, 3) rows; a (4,) / (3,) vector broadcasts the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np

from funcmlp import activations, checks, heads

Params = list[dict[str, jax.Array]]
SCHEMES = ("he", "glorot", "normal")


def init_params(
    key: jax.Array, sizes: Sequence[int], *, scheme: str = "he", dtype: Any = jnp.float32
) -> Params:
    """Random weights and zero biases for layer widths ``sizes = (d_0, ..., d_L)``.

    Schemes (W^l of shape (d_{l-1}, d_l), b^l = 0):

    * ``"he"``: W ~ N(0, 2 / d_in), keeps the variance of ReLU activations constant across layers;
    * ``"glorot"``: W ~ U(-r, r), r = sqrt(6 / (d_in + d_out)), for tanh / sigmoid / linear layers;
    * ``"normal"``: W ~ 0.01 N(0, 1), the small-random start of the CS231n case study.

    Args:
      key: a ``jax.random.key``; split once per layer.
      sizes: layer widths, e.g. ``(2, 4, 3)``.
      scheme: one of ``"he"``, ``"glorot"``, ``"normal"``.
      dtype: floating dtype of the parameters (float64 needs ``jax_enable_x64``).

    Returns:
      ``[{"w": (d_{l-1}, d_l), "b": (d_l,)} for l = 1..L]``.
    """
    checks.check_key(key)
    sizes = checks.check_sizes(sizes)
    checks.check_scheme(scheme, SCHEMES)
    dtype = checks.check_float_dtype(dtype)
    params = []
    for k, d_in, d_out in zip(jax.random.split(key, len(sizes) - 1), sizes[:-1], sizes[1:], strict=True):
        # drawn flat and reshaped: the same numbers as a (d_in, d_out) draw, and a program that compiles
        # in a fraction of the time where d_out is not a multiple of 8 (0.15 s against 0.52 s for 128 x 10)
        flat = (d_in * d_out,)
        if scheme == "he":
            w = jax.random.normal(k, flat, dtype) * jnp.sqrt(2.0 / d_in).astype(dtype)
        elif scheme == "glorot":
            r = (6.0 / (d_in + d_out)) ** 0.5
            w = jax.random.uniform(k, flat, dtype, -r, r)
        else:
            w = 0.01 * jax.random.normal(k, flat, dtype)
        params.append({"w": w.reshape(d_in, d_out), "b": jnp.zeros((d_out,), dtype)})
    return params


def forward(params: Params, x: jax.Array, *, activation: Any = "relu") -> jax.Array:
    """Logits z^L of the network: z^l = A^{l-1} W^l + b^l, A^l = act(z^l) for the hidden layers.

    Args:
      params: ``[{"w": (d_{l-1}, d_l), "b": (d_l,)}, ...]``.
      x: inputs (n, d_0).
      activation: hidden-layer activation name (see ``funcmlp.activations``).

    Returns:
      logits (n, d_L); the last layer is affine.
    """
    sizes = checks.check_params(params, finite=True)
    checks.check_x(x, sizes[0])
    act = activations.get(activation)
    z = apply(params, jnp.asarray(x), act.fn)
    _check_finite_result(z, x, "logits")
    return z


def _check_finite_result(value: jax.Array, x: Any, what: str) -> None:
    """Finite params and x can still overflow: refuse x then, naming its largest magnitude."""
    if checks.is_concrete(value) and checks.is_concrete(x) and not bool(jnp.all(jnp.isfinite(value))):
        top = float(np.max(np.abs(np.asarray(x, np.float64))))
        raise ValueError(
            f"x: expected inputs small enough that the {what} stay finite in {value.dtype}, "
            f"got values up to |x| = {top:.3g}"
        )


def apply(params: Params, x: jax.Array, act_fn) -> jax.Array:
    """Logits z^L for an activation function ``act_fn``; no checks (for traced code)."""
    n = x.shape[0]
    a = x
    for layer in params[:-1]:
        a = act_fn(a @ layer["w"] + layer["b"])
        chex.assert_shape(a, (n, layer["w"].shape[1]))
    z = a @ params[-1]["w"] + params[-1]["b"]
    chex.assert_shape(z, (n, params[-1]["w"].shape[1]))
    return z


def l2_penalty(params: Params) -> jax.Array:
    """R = 0.5 * sum_l ||W^l||_F^2 (weights only, not biases)."""
    return 0.5 * sum(jnp.sum(jnp.square(layer["w"])) for layer in params)


def loss(
    params: Params,
    x: jax.Array,
    y: jax.Array,
    *,
    activation: Any = "relu",
    head: Any = "softmax",
    l2: float = 0.0,
) -> jax.Array:
    """Mean loss J = (1/n) sum_i l(z^L_i, y_i) + l2 * 0.5 * sum_l ||W^l||^2, from logits (stable).

    Heads (see ``funcmlp.heads``): ``"softmax"`` cross-entropy with integer labels (n,); ``"sigmoid"``
    binary cross-entropy with labels (n,) in {0, 1} and one output unit; ``"linear"`` mean squared error
    over all elements with targets (n, d_L).
    """
    validate(params, x, y, head=head)
    checks.check_nonnegative_real(l2, "l2")
    checks.check_l2_fits(params, l2)
    act = activations.get(activation)
    j = mean_loss(params, jnp.asarray(x), jnp.asarray(y), act.fn, heads.get(head), l2)
    _check_finite_result(j, x, "loss")
    return j


def mean_loss(params, x, y, act_fn, head: heads.Head, l2=0.0, weights=None):
    """J = sum_i c_i l(z^L_i, y_i) + l2 R(theta), c_i = 1/n or w_i / sum w; no checks (for traced code)."""
    per_sample = head.per_sample_loss(apply(params, x, act_fn), y)
    j = jnp.mean(per_sample) if weights is None else jnp.sum(weights * per_sample) / jnp.sum(weights)
    if l2 is None or (isinstance(l2, (int, float)) and l2 == 0):
        return j
    return j + l2 * l2_penalty(params)


def predict(params: Params, x: jax.Array, *, activation: Any = "relu", head: Any = "softmax"):
    """Predictions: argmax_k z_k (softmax), 1[z > 0] (sigmoid), z (linear). Integer labels (n,) or (n, d)."""
    hd = heads.get(head)
    z = forward(params, x, activation=activation)
    if heads.name_of(head) == "sigmoid" and z.shape[-1] != 1:
        raise ValueError(f"params: head 'sigmoid' expects one output unit (sizes[-1] = 1), got {z.shape[-1]}")
    return hd.predict(z)


def accuracy(
    params: Params, x: jax.Array, y: jax.Array, *, activation: Any = "relu", head: Any = "softmax"
) -> jax.Array:
    """Fraction of samples whose predicted class equals y (softmax and sigmoid heads)."""
    if not heads.get(head).classifies:
        raise ValueError(
            "head: accuracy needs a classification head ('softmax' or 'sigmoid'), "
            f"got {heads.name_of(head)!r}"
        )
    validate(params, x, y, head=head)
    return jnp.mean(predict(params, x, activation=activation, head=head) == jnp.asarray(y))


def validate(params: Params, x: Any, y: Any, *, head: Any) -> tuple[int, ...]:
    """Eager checks of params (finite, chaining), x and y for a head; returns the layer sizes."""
    sizes = checks.check_params(params, finite=True)
    hd = heads.get(head)
    checks.check_x(x, sizes[0])
    hd.check_y(y, np.shape(x)[0], sizes[-1], "y")
    return sizes
