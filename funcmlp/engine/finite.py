"""A cheap proof that a loss is finite, so that ``settle`` skips its forward pass over all the data.

For the built-in activations and heads the logits are bounded by the parameters and the data alone:

    A_0 = max |x|,    Z_l = f_l max_j (A_{l-1} sum_i |W^l_ij| + |b^l_j|),    A_l = c Z_l or 1,

with c = 1 for linear and ReLU, max(1, |slope|) for a leaky ReLU, and A_l = 1 for the bounded sigmoid,
tanh and step; f_l = 1 + 2 (d_{l-1} + 1) eps covers the rounding of a sum of d_{l-1} + 1 terms (and of the
bound's own arithmetic) in the dtype's precision eps. Every per-sample loss is then at most
K (Z_L + Y + 1)^2 (softmax cross-entropy <= 2 Z_L + log K, softplus - y z <= 2 Z_L + 1, squared error
<= (Z_L + Y)^2, Y = max |y|), so the mean data loss is finite when 4 n K (Z_L + Y + 1)^2 is below the
dtype's largest number, and the loss is finite when the L2 term l2 R(theta) is below a quarter of it too.
The bound costs one pass over the data and the weights, against a forward pass over all the data; where it
cannot prove the loss finite (a custom activation or head, non-finite or huge values), the loss is computed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from funcmlp import activations, heads, mlp


def _growth(act: activations.Activation) -> float | None:
    """c of the module docstring (0 for the activations bounded by 1), None for an activation it does not
    know."""
    if not activations.builtin(act):
        return None
    if act.name in ("sigmoid", "tanh", "step"):
        return 0.0
    if act.name.startswith("leaky_relu"):
        keywords = getattr(act.fn, "keywords", {})
        return max(1.0, abs(keywords.get("negative_slope", activations.DEFAULT_NEGATIVE_SLOPE)))
    return 1.0


def knows(act: activations.Activation | None, head: heads.Head) -> bool:
    """Whether ``surely_finite`` can bound the loss of this activation and head (built-ins only; None: a
    model of your own, which it does not know)."""
    return act is not None and _growth(act) is not None and head in heads.HEADS.values()


def surely_finite(
    params, x: jax.Array, y: jax.Array, l2, *, act: activations.Activation, head: heads.Head
) -> jax.Array:
    """True where the loss of ``params`` on all of (x, y) with L2 weight ``l2`` is finite by the bound of
    the module docstring (False: not proven, compute it); ``knows(act, head)`` must hold. True implies
    that every parameter is finite (a NaN or inf weight or bias makes the bound NaN or inf).

    Args:
      params: one model's parameters [{"w": (d_{l-1}, d_l), "b": (d_l,)}, ...].
      x: (n, d_0) in the params' dtype; y: labels (n,) or targets (n, d_L).
      l2: the L2 weight (a scalar) or None.

    Returns:
      bool scalar.
    """
    c = _growth(act)
    dtype = jnp.result_type(params[0]["w"])
    big = jnp.finfo(dtype).max
    a = jnp.max(jnp.abs(x)) if x.size else jnp.zeros((), dtype)
    z = a
    for i, layer in enumerate(params):
        rounding = 1.0 + 2.0 * (layer["w"].shape[0] + 1) * float(jnp.finfo(dtype).eps)
        if rounding > 1.5:  # sums too long for the dtype's precision: no bound
            return jnp.bool_(False)
        # two reductions a layer: the compile time of a small program grows with its kernels
        z = rounding * jnp.max(a * jnp.sum(jnp.abs(layer["w"]), axis=0) + jnp.abs(layer["b"]))
        if i < len(params) - 1:
            a = c * z if c else 1 + 0 * z  # 0 z: a NaN or inf in this layer still shows at the end
    # class labels and one-hot targets are 0 or 1 (checked on entry): only a regression's targets count
    regression = head.name == "linear" and jnp.issubdtype(y.dtype, jnp.floating) and y.size
    t = jnp.max(jnp.abs(y)).astype(dtype) if regression else 1.0
    n, k = x.shape[0], params[-1]["w"].shape[1]
    room = big / (4.0 * max(n, 1) * k)
    ok = jnp.isfinite(z) & (jnp.square(z + t + 1) < room)
    if l2 is not None:
        penalty = l2 * mlp.l2_penalty(params)
        ok = ok & (jnp.abs(penalty) < big / 4)
    return ok
