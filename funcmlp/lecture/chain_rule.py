"""Backpropagation written out by hand: the chain rule, layer by layer, for a network of any depth.

With A^0 = X (n, d_0), z^l = A^{l-1} W^l + b^l and A^l = act(z^l) for l < L, the gradient of the mean loss

    J = (1/n) sum_i l(z^L_i, y_i) + 0.5 * l2 * sum_l ||W^l||_F^2

is computed backwards from the output delta  delta^L = dJ/dz^L  (``funcmlp.heads.Head.delta``):

    delta^L = (y_hat - y) / n               softmax + cross-entropy, sigmoid + BCE
                                            (act'(z^L) cancels against the loss's derivative)
    delta^L = 2 (z^L - y) / (n d_L)         linear head, squared error
    dJ/dW^l = A^{l-1}T delta^l + l2 W^l     (d_{l-1}, d_l)
    dJ/db^l = sum_i delta^l_i               (d_l,)
    delta^{l-1} = (delta^l W^lT) * act'(z^{l-1})

The lecture's notes write a "reduced form"  dJ/dW^1 = (A^2 - y) W^2 x  that leaves out act'(z^1), the 0/1
mask of ReLU. ``reduced_form`` computes that expression (generalised to any depth: every act' replaced by 1)
so that it can be compared with the true gradient: it is right only where act' = 1, e.g. for linear layers.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from funcmlp import activations, checks, heads
from funcmlp.mlp import Params, validate


def backprop(
    params: Params, x: Array, y: Array, *, activation: str = "relu", head: str = "softmax", l2: float = 0.0
) -> Params:
    """dJ/dtheta by the chain rule, the same pytree as ``jax.grad(funcmlp.loss)(params, x, y, ...)``.

    Args:
      params: ``[{"w": (d_{l-1}, d_l), "b": (d_l,)}, ...]``, L layers.
      x: inputs (n, d_0).
      y: labels (n,) for ``"softmax"`` / ``"sigmoid"``, targets (n, d_L) for ``"linear"``.
      activation: hidden activation; its hand-written derivative ``Activation.grad`` is used.
      head: output head; its ``Head.delta`` gives delta^L = dJ/dz^L.
      l2: weight of the penalty 0.5 * l2 * sum ||W^l||^2 (adds l2 W^l to dJ/dW^l, nothing to dJ/db^l).

    Returns:
      ``[{"w": dJ/dW^l (d_{l-1}, d_l), "b": dJ/db^l (d_l,)}, ...]``.
    """
    return _gradients(params, x, y, activation, head, l2, drop_act_grad=False)


def reduced_form(
    params: Params, x: Array, y: Array, *, activation: str = "relu", head: str = "softmax", l2: float = 0.0
) -> Params:
    """The notes' "reduced form": backprop with every act'(z^l) taken as 1. WRONG unless act' = 1.

    For the lecture's 2-layer network it is

        dJ/dW^1 = X^T [(A^2 - Y)/n  W^2T],   dJ/db^1 = sum_i [(A^2 - Y)/n  W^2T]_i,

    the true gradient without the factor act'(z^1). dJ/dW^L and dJ/db^L are still right (no act' enters
    them); every earlier layer is wrong wherever a unit has act'(z) != 1 (ReLU: the units with z <= 0).
    Same arguments and pytree as ``backprop``.
    """
    return _gradients(params, x, y, activation, head, l2, drop_act_grad=True)


def _gradients(params, x, y, activation, head, l2, *, drop_act_grad: bool) -> Params:
    """The arguments checked, then ``_backprop``; with ``drop_act_grad`` every act' is taken as 1."""
    validate(params, x, y, head=head)
    _check_l2(l2)
    checks.check_l2_fits(params, l2)
    act = activations.get(activation)
    if drop_act_grad:
        act = act._replace(name=f"{act.name} without act'", grad=activations.linear_grad)
    grads = _backprop(params, jnp.asarray(x), jnp.asarray(y), act, heads.get(head), l2)
    return _in_params_dtype(grads, params)


def _in_params_dtype(grads: Params, params: Params) -> Params:
    """Each gradient in its parameter's dtype (as ``jax.grad`` gives), whatever x's dtype."""
    return [
        {k: jnp.asarray(g[k]).astype(jax.dtypes.canonicalize_dtype(checks.dtype_of(p[k], k))) for k in g}
        for g, p in zip(grads, params, strict=True)
    ]


def _check_l2(l2: Any) -> None:
    if isinstance(l2, (bool, str, bytes)) or l2 is None or np.ndim(l2) != 0:
        raise ValueError(f"l2: expected a non-negative number, got {l2!r}")
    if not checks.is_concrete(l2):
        return
    try:
        v = float(l2)
    except (TypeError, ValueError):
        raise TypeError(f"l2: expected a non-negative number, got {l2!r}") from None
    if not v >= 0:
        raise ValueError(f"l2: expected a non-negative number, got {l2!r}")
    if not math.isfinite(v):
        raise ValueError(f"l2: expected a finite non-negative number, got {v}")


def _backprop(
    params: Params, x: Array, y: Array, act: activations.Activation, head: heads.Head, l2: Any
) -> Params:
    # Forward pass, keeping z^l and A^l for the backward pass.
    a = [x]  # A^0 .. A^{L-1}
    zs = []  # z^1 .. z^{L-1}
    for layer in params[:-1]:
        z = a[-1] @ layer["w"] + layer["b"]
        zs.append(z)
        a.append(act.fn(z))
    logits = a[-1] @ params[-1]["w"] + params[-1]["b"]

    # Backward pass: delta^L from the head, then down one layer at a time.
    delta = head.delta(logits, y)  # (n, d_L)
    grads: Params = [{} for _ in params]
    for l in reversed(range(len(params))):  # noqa: E741 - l is the lecture's layer index
        w = params[l]["w"]
        grads[l] = {"w": a[l].T @ delta + l2 * w, "b": jnp.sum(delta, axis=0)}
        if l > 0:
            delta = (delta @ w.T) * act.grad(zs[l - 1])  # (n, d_{l-1})
    return grads
