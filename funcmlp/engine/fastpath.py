"""The registered derivative of the built-in networks: backpropagation by hand, features-major.

``loss(params, x, t, weights, l2, act=..., head=...)`` is the mean loss of ``funcmlp.mlp`` for a built-in
activation and head, with a ``jax.custom_jvp`` whose rule is built from the hand-derived gradient,

    dJ = sum over the inputs u of <dJ/du, du>     (u = params, x, T, the weights, l2),

linear in the tangents du. ``jax.grad`` transposes it: the forward pass computes J and every dJ/du once by
hand and the backward pass only scales them by the output's cotangent, the cost of a hand-written
backward pass; ``jax.jvp`` and ``jax.jacfwd`` use the rule as it is; higher derivatives (``jax.hessian``)
differentiate the hand rule by autodiff. Callers write ``jax.value_and_grad`` as for any loss. The rule
computes the lecture's backward pass with every activation stored transposed, (features, n), so the n
samples run along the vector lanes:

    A^0 = X^T,   z^l = W^l^T A^{l-1} + b^l,   A^l = act(z^l),                       (forward)
    delta^L = dJ/dz^L = c * (dl/dz^L),   c_i = 1/n (or w_i / sum_j w_j with sample weights),
    dJ/dW^l = A^{l-1} delta^l^T,   dJ/db^l = sum_i delta^l_i,                          (backward)
    delta^{l-1} = (W^l delta^l) * act'(z^{l-1}),   dJ/dX = (W^1 delta^1)^T.

Each head's per-sample loss and dl/dz come from its features-major ``Head.rule`` on float targets T
(``Head.targets``), with sums over the K outputs only, so no gather or scatter runs inside the training loop.
The derivatives of every input are formed (x, T, the weights, l2) so the rule is a complete derivative; an
input that is not differentiated (a symbolic zero tangent) adds no term, and inside ``jit`` XLA drops the
derivatives no term uses.

On a CPU the cost of a small network is the number of kernels XLA launches per step, not the arithmetic
(docs/performance.md), so sums over at most ``heads.SMALL`` features are unrolled multiply-adds that XLA fuses
into the surrounding elementwise kernel; over the n samples, dJ/dW and dJ/db come out of one matmul,
[A; 1] delta^T, when the layer is narrow (``sums="dot"``), or of products summed over n (``sums="reduce"``,
faster when vmapped over many models). ``funcmlp.engine.plan`` decides where this rule is used at all.
"""

from __future__ import annotations

import functools
import operator
from typing import Any

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from funcmlp.activations import Activation
from funcmlp.heads import SMALL, Head

Params = list[dict[str, jax.Array]]

# Contract axis 0 of both operands: (p, q) x (p, n) -> (q, n).
_FIRST = (((0,), (0,)), ((), ()))
# Contract axis 1 of both operands: (p, n) x (q, n) -> (p, q), the sum over samples.
_SAMPLES = (((1,), (1,)), ((), ()))


def _contract(w: jax.Array, a: jax.Array) -> jax.Array:
    """w^T a for w (p, q) and a (p, n) -> (q, n): sum_k w_k a_k, unrolled over rows when p <= SMALL."""
    if w.shape[0] <= SMALL:
        return functools.reduce(operator.add, [w[k][:, None] * a[k] for k in range(w.shape[0])])
    return jax.lax.dot_general(w, a, _FIRST)


def sample_sums(a: jax.Array, delta: jax.Array, how: str = "dot") -> tuple[jax.Array, jax.Array]:
    """dJ/dW = a delta^T (p, q) and dJ/db = delta 1 (q,) for a (p, n), delta (q, n): sums over the samples.

    ``how="dot"``: one matmul, with a row of ones appended to a narrow a (fastest for one model).
    ``how="reduce"``: products a_i delta_j summed over n (fastest when vmapped over many models).
    """
    if how == "reduce":
        return jnp.sum(a[:, None, :] * delta[None], axis=-1), jnp.sum(delta, axis=-1)
    if a.shape[0] <= SMALL:
        g = jax.lax.dot_general(jnp.concatenate([a, jnp.ones_like(a[:1])]), delta, _SAMPLES)
        return g[:-1], g[-1]
    return jax.lax.dot_general(a, delta, _SAMPLES), jnp.sum(delta, axis=1)


def _value_and_cotangents(act: Activation, head: Head, sums: str, params, x, t, weights, l2):
    """J and dJ/d(params, x, t, weights, l2) by the backward pass of the module docstring."""
    n = x.shape[0]
    zs, a_in = [], [x.T]
    for i, layer in enumerate(params):
        z = _contract(layer["w"], a_in[-1]) + layer["b"][:, None]
        zs.append(z)
        if i < len(params) - 1:
            a_in.append(act.fn(z))
    tt = t.T
    per_sample, dz, dt = head.rule(zs[-1], tt)
    if (
        weights is None
    ):  # the mean as mlp.mean_loss takes it (sum, then divide by n): J overflows where it does
        value, c = jnp.mean(per_sample), None
        delta = dz / n
    else:
        total = jnp.sum(weights)
        value, c = jnp.sum(weights * per_sample) / total, weights / total
        delta = dz * c
    d_t = (dt / n if c is None else dt * c).T
    d_weights = None if weights is None else (per_sample - value) / total
    grads: Params = [None] * len(params)  # type: ignore[list-item]
    for i in range(len(params) - 1, -1, -1):
        gw, gb = sample_sums(a_in[i], delta, sums)
        grads[i] = {"w": gw, "b": gb}
        delta = _contract(params[i]["w"].T, delta)
        if i > 0:
            delta = delta * act.grad(zs[i - 1])
    d_x = delta.T
    d_l2 = None
    if l2 is not None:
        penalty = 0.5 * sum(jnp.sum(jnp.square(layer["w"])) for layer in params)
        value = value + l2 * penalty
        grads = [{"w": g["w"] + l2 * layer["w"], "b": g["b"]} for g, layer in zip(grads, params, strict=True)]
        d_l2 = penalty
    return value, (grads, d_x, d_t, d_weights, d_l2)


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1, 2))
def _loss(act: Activation, head: Head, sums: str, params, x, t, weights, l2):
    return _value_and_cotangents(act, head, sums, params, x, t, weights, l2)[0]


def _loss_jvp(act, head, sums, primals, tangents):
    """dJ = sum over the inputs u of <dJ/du, du>: linear in the tangents, so JAX transposes it for
    ``jax.grad`` (the backward pass only scales the hand-derived cotangents by the output's cotangent).
    Inputs that are not differentiated (symbolic zeros) add no term."""
    value, cotangents = _value_and_cotangents(act, head, sums, *primals)
    terms = [
        jnp.sum(c * d)
        for c, d in zip(jax.tree.leaves(cotangents), jax.tree.leaves(tangents), strict=True)
        if not isinstance(d, SymbolicZero)
    ]
    return value, functools.reduce(operator.add, terms) if terms else jnp.zeros_like(value)


_loss.defjvp(_loss_jvp, symbolic_zeros=True)


def loss(
    params: Params,
    x: jax.Array,
    t: jax.Array,
    weights: jax.Array | None = None,
    l2: Any = None,
    *,
    act: Activation,
    head: Head,
    sums: str = "dot",
) -> jax.Array:
    """Mean loss J = sum_i c_i l(z^L_i, T_i) (+ 0.5 l2 sum ||W||^2)
    with the derivative of the module docstring.

    Args:
      params: ``[{"w": (d_{l-1}, d_l), "b": (d_l,)}, ...]``.
      x: inputs (n, d_0), in the params' dtype.
      t: float targets (n, d_L) from ``head.targets``.
      weights: None (c_i = 1/n) or sample weights (n,) (mini-batch padding has weight 0).
      l2: None or the weight of the penalty 0.5 * l2 * sum ||W||^2.
      act: a built-in activation (its ``fn`` and hand-derived ``grad``); head: a head with a ``rule``.
      sums: how dJ/dW and dJ/db are summed over the samples (``sample_sums``).

    Returns:
      J, a scalar; ``jax.grad``, ``jax.jvp`` and their compositions use the rule above.
    """
    return _loss(act, head, sums, params, x, t, weights, l2)
