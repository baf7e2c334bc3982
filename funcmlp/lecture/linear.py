"""Linear models: a stack of linear layers is "still a linear model, just weirdly parameterized".

With act(z) = z every layer is affine, and a composition of affine maps is affine:

    z^L = (...((X W^1 + b^1) W^2 + b^2) ...) W^L + b^L = X W + b,
    W = W^1 W^2 ... W^L,    b = (...((b^1 W^2 + b^2) W^3 + b^3) ...) W^L + b^L.

So depth adds parameters but no expressive power: the decision boundary of a softmax (or sigmoid) head on top
stays linear, as for the logistic-regression unit  y_hat = sigmoid(x . w + b)  (``init_params(key, (d, 1))``
with ``head="sigmoid"``), whose boundary is the line x . w + b = 0.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from funcmlp import checks
from funcmlp.mlp import Params


def collapse_linear(params: Params) -> tuple[jax.Array, jax.Array]:
    """Fold the layers of a linear-activation network into one affine map (W, b).

    Args:
      params: ``[{"w": (d_{l-1}, d_l), "b": (d_l,)}, ...]``.

    Returns:
      ``(W (d_0, d_L), b (d_L,))`` with ``forward(params, x, activation="linear") == x @ W + b``.
    """
    checks.check_params(params)
    w, b = params[0]["w"], params[0]["b"]
    for layer in params[1:]:
        w, b = w @ layer["w"], b @ layer["w"] + layer["b"]
    return w, b


def boundary_line(w: jax.Array, b: jax.Array) -> jax.Array:
    """The logistic unit's decision boundary x . w + b = 0 in 2-D, as a point on it and its direction.

    Args:
      w: weights (2,) or (2, 1); b: bias () or (1,).

    Returns:
      (2, 2): row 0 the point of the line closest to the origin, -b w / ||w||^2; row 1 a unit direction
      along it, (-w_2, w_1) / ||w||.
    """
    w = jnp.ravel(jnp.asarray(w))
    b = jnp.ravel(jnp.asarray(b))
    if w.shape != (2,) or b.shape != (1,):
        raise ValueError(
            f"w, b: expected a 2-D unit's weights (2,) and bias (1,), got {w.shape} and {b.shape}"
        )
    norm2 = w @ w
    return jnp.stack([-b[0] * w / norm2, jnp.array([-w[1], w[0]]) / jnp.sqrt(norm2)])
