"""Gradient diagnostics: how the size of dJ/dW^l changes from the output layer down to the first.

Backpropagation multiplies by W^lT and by act'(z^{l-1}) once per layer:

    delta^{l-1} = (delta^l W^lT) * act'(z^{l-1}),    dJ/dW^l = A^{l-1}T delta^l.

With sigmoid, act' = s (1 - s) <= 0.25, so across 50 layers the factors alone shrink the signal by up to
0.25^50 ~ 8e-31 (vanishing gradients: w_new = w_old, the early layers stop learning); with weights that
grow the signal (||W|| act' > 1 per layer, e.g. a gain of 2: 2 x 2 x 2 ...) it grows exponentially instead
(exploding gradients). With the step function act' = 0: nothing below the output layer ever changes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from funcmlp import checks
from funcmlp.lecture.chain_rule import backprop
from funcmlp.mlp import Params

SIGMOID_MAX_SLOPE = 0.25


def layer_grad_norms(
    params: Params, x: jax.Array, y: jax.Array, *, activation: str = "relu", head: str = "softmax"
) -> jax.Array:
    """Frobenius norms ||dJ/dW^l||_F of the weight gradients, l = 1..L (by ``funcmlp.backprop``).

    Args:
      params: L layers; x (n, d_0); y labels or targets for ``head``.

    Returns:
      (L,) array, entry l - 1 for layer l (first layer first).
    """
    grads = backprop(params, x, y, activation=activation, head=head)
    return jnp.stack([jnp.sqrt(jnp.sum(jnp.square(g["w"]))) for g in grads])


def sigmoid_bound(depth: int) -> float:
    """0.25^depth: the largest product of ``depth`` sigmoid derivatives (e.g. 0.25^50 ~ 7.9e-31)."""
    return SIGMOID_MAX_SLOPE ** int(depth)


def max_weight_change(before: Params, after: Params) -> jax.Array:
    """(L,) max |W^l_after - W^l_before| per layer: which layers training moved, and which it left alone."""
    if checks.check_params(before, "before") != checks.check_params(after, "after"):
        raise ValueError(
            f"after: expected the layer sizes of before, {checks.check_params(before, 'before')}, "
            f"got {checks.check_params(after, 'after')}"
        )
    return jnp.stack([jnp.max(jnp.abs(a["w"] - b["w"])) for b, a in zip(before, after, strict=True)])
