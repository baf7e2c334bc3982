"""Backpropagation by hand, features-major: the fast path of ``train``.

The reference is ``funcmlp.mlp._loss`` differentiated by ``jax.value_and_grad`` on samples-major arrays
(n, d). Here the same mean loss and its gradient are written out as the lecture's backward pass, with every
activation stored transposed, (features, n), so the n samples run along the vector lanes of the CPU:

    A^0 = X^T,   z^l = W^l^T A^{l-1} + b^l,   A^l = act(z^l),                       (forward)
    delta^L = dJ/dz^L = c * (dl/dz^L),   c_i = 1/n (or w_i / sum_j w_j for a weighted mini-batch),
    dJ/dW^l = A^{l-1} delta^l^T,   dJ/db^l = sum_i delta^l_i,                          (backward)
    delta^{l-1} = (W^l delta^l) * act'(z^{l-1}).

Each head's per-sample loss and dl/dz are computed from float targets T (K, n) (``targets``) with sums over
the K outputs only, so no gather or scatter runs inside the training loop:

* softmax: l = logsumexp_k z_k - sum_k T_k z_k,  dl/dz = softmax(z) - T  (T one-hot);
* sigmoid: l = softplus(z) - T z,  dl/dz = sigmoid(z) - T  (K = 1);
* linear:  l = (1/K) sum_k (z_k - T_k)^2,  dl/dz = 2 (z - T) / K.

Weights stay in the public layout W^l (d_{l-1}, d_l); ``dot_general`` contracts their first axis, so no
transpose is materialised.

On the CPU the cost of a small network is the number of kernels XLA launches per step, not the arithmetic
(docs/performance.md). So sums over at most ``SMALL`` features (the 2 inputs and 4 hidden units of the
lecture's net, the 3 classes of the softmax) are written as unrolled multiply-adds over rows, which XLA fuses
into the surrounding elementwise kernel; longer sums use ``dot_general`` or ``jnp.sum``. Over the n samples,
dJ/dW and dJ/db come out of one matmul, [A; 1] delta^T, when the layer is narrow.
"""

from __future__ import annotations

import functools
import operator

import jax
import jax.numpy as jnp

from funcmlp.activations import Activation
from funcmlp.mlp import Params

# Contract axis 0 of both operands: (p, q) x (p, n) -> (q, n).
_FIRST = (((0,), (0,)), ((), ()))
# Contract axis 1 of both operands: (p, n) x (q, n) -> (p, q), the sum over samples.
_SAMPLES = (((1,), (1,)), ((), ()))
# Sums over at most this many features are unrolled into elementwise multiply-adds.
SMALL = 8


def _rows(op, z: jax.Array) -> jax.Array:
    """op-reduce z (K, n) over its K rows: z_0 op z_1 op ... (n,), unrolled when K <= SMALL."""
    if z.shape[0] <= SMALL:
        return functools.reduce(op, [z[k] for k in range(z.shape[0])])
    return {operator.add: jnp.sum, jnp.maximum: jnp.max}[op](z, axis=0)


def _contract(w: jax.Array, a: jax.Array) -> jax.Array:
    """w^T a for w (p, q) and a (p, n) -> (q, n): sum_k w_k a_k, unrolled over rows when p <= SMALL."""
    if w.shape[0] <= SMALL:
        return functools.reduce(operator.add, [w[k][:, None] * a[k] for k in range(w.shape[0])])
    return jax.lax.dot_general(w, a, _FIRST)


def _sample_sums(a: jax.Array, delta: jax.Array, how: str = "dot") -> tuple[jax.Array, jax.Array]:
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


def targets(head: str, y: jax.Array, n_out: int, dtype) -> jax.Array:
    """Float targets T (K, n) for a head: one-hot rows (softmax), y as one row (sigmoid), y^T (linear)."""
    if head == "softmax":
        return (jnp.arange(n_out)[:, None] == y[None, :].astype(jnp.int32)).astype(dtype)
    if head == "sigmoid":
        return y.astype(dtype)[None, :]
    return y.astype(dtype).T


def _head_loss_and_dz(head: str, z: jax.Array, t: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Per-sample loss l (n,) and dl/dz (K, n) from logits z (K, n) and targets T (K, n)."""
    if head == "softmax":
        m = _rows(jnp.maximum, z)
        e = jnp.exp(z - m)
        s = _rows(operator.add, e)
        return m + jnp.log(s) - _rows(operator.add, t * z), e / s - t
    if head == "sigmoid":
        return jax.nn.softplus(z[0]) - t[0] * z[0], jax.lax.logistic(z) - t
    k = z.shape[0]
    r = z - t
    return _rows(operator.add, r * r) / k, (2.0 / k) * r


def loss_and_grads(
    params: Params,
    xt: jax.Array,
    t: jax.Array,
    act: Activation,
    head: str,
    l2=None,
    weights: jax.Array | None = None,
    *,
    sample_sums: str = "dot",
) -> tuple[jax.Array, Params]:
    """Mean loss J and dJ/dtheta by the backward pass above; equals ``value_and_grad(mlp._loss)``.

    Args:
      params: ``[{"w": (d_{l-1}, d_l), "b": (d_l,)}, ...]``.
      xt: inputs transposed, (d_0, n).
      t: targets (d_L, n) from ``targets``.
      act: the hidden activation (its ``fn`` and hand-derived ``grad``).
      head: "softmax", "sigmoid" or "linear".
      l2: None, or the weight of the penalty 0.5 * l2 * sum ||W||^2.
      weights: None (the mean over n), or (n,) sample weights (mini-batch padding has weight 0).
      sample_sums: how dJ/dW and dJ/db are summed over the samples, ``"dot"`` or ``"reduce"``
        (``_sample_sums``); the same numbers up to rounding.

    Returns:
      ``(J, grads)`` with grads shaped like params.
    """
    n = xt.shape[1]
    zs, a_in = [], [xt]
    for i, layer in enumerate(params):
        z = _contract(layer["w"], a_in[-1]) + layer["b"][:, None]
        zs.append(z)
        if i < len(params) - 1:
            a_in.append(act.fn(z))
    per_sample, dz = _head_loss_and_dz(head, zs[-1], t)
    if weights is None:  # the mean as mlp._loss takes it (sum, then divide by n): J overflows where it does
        value, delta = jnp.mean(per_sample), dz / n
    else:
        total = jnp.sum(weights)
        value, delta = jnp.sum(weights * per_sample) / total, dz * (weights / total)
    grads: Params = [None] * len(params)  # type: ignore[list-item]
    for i in range(len(params) - 1, -1, -1):
        gw, gb = _sample_sums(a_in[i], delta, sample_sums)
        grads[i] = {"w": gw, "b": gb}
        if i > 0:
            delta = _contract(params[i]["w"].T, delta) * act.grad(zs[i - 1])
    if l2 is not None:
        value = value + 0.5 * l2 * sum(jnp.sum(jnp.square(layer["w"])) for layer in params)
        grads = [{"w": g["w"] + l2 * layer["w"], "b": g["b"]} for g, layer in zip(grads, params, strict=True)]
    return value, grads
