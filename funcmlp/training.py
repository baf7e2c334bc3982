"""Gradient-descent training: the whole loop is one jitted ``lax.scan``.

Each step applies an optax transformation to the gradient of the mean loss,

    g_t = dJ/dtheta (theta_t),   (u_t, s_{t+1}) = optimizer.update(g_t, s_t, theta_t),
    theta_{t+1} = theta_t + u_t,

so ``optax.sgd(alpha)`` is the lecture's  w_new = w_old - alpha dJ/dw.

If the loss or a gradient turns non-finite at step t, training stops there: the parameters of step t - 1
(the last with a finite loss) are kept, later losses are NaN, and ``diverged_at`` is t.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from funcmlp import activations, checks, heads
from funcmlp.mlp import Params, _loss, validate


class TrainResult(NamedTuple):
    """What ``train`` returns.

    Attributes:
      params: the trained parameters.
      losses: (steps,) loss J(theta_t) at each step, before its update; NaN after a divergence.
      opt_state: the optimizer state after the last step (pass it back to resume).
      diverged_at: int32 scalar, the first step with a non-finite loss or gradient; -1 if none.
    """

    params: Params
    losses: jax.Array
    opt_state: Any
    diverged_at: jax.Array


class _Carry(NamedTuple):
    params: Params
    prev_params: Params
    opt_state: Any
    diverged_at: jax.Array
    perm: jax.Array


def _all_finite(tree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]))


def _select(pred, on_true, on_false):
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


def _batch(x, y, perm, t, batch_size):
    """Mini-batch t of its epoch: a contiguous slice of the epoch's permutation, padded with weight 0."""
    n = x.shape[0]
    n_batches = -(-n // batch_size)
    padded = jnp.concatenate([perm, perm[: n_batches * batch_size - n]])
    start = (t % n_batches) * batch_size
    idx = jax.lax.dynamic_slice_in_dim(padded, start, batch_size)
    weights = ((start + jnp.arange(batch_size)) < n).astype(x.dtype)
    return x[idx], y[idx], weights


def _epoch_perm(key, t, n, batch_size):
    if batch_size is None:
        return jnp.zeros((0,), jnp.int32)
    epoch = t // -(-n // batch_size)
    return jax.random.permutation(jax.random.fold_in(key, epoch), n).astype(jnp.int32)


def _step(carry: _Carry, t, *, x, y, key, l2, end, optimizer, act_fn, head, batch_size):
    """One gradient step at global step t; a no-op once diverged or past ``end``."""
    if batch_size is None:
        xb, yb, wb, perm = x, y, None, carry.perm
    else:
        n_batches = -(-x.shape[0] // batch_size)
        perm = jax.lax.cond(
            t % n_batches == 0,
            lambda: _epoch_perm(key, t, x.shape[0], batch_size),
            lambda: carry.perm,
        )
        xb, yb, wb = _batch(x, y, perm, t, batch_size)
    value, grads = jax.value_and_grad(_loss)(carry.params, xb, yb, act_fn, head, l2, wb)
    running = (carry.diverged_at < 0) & (t < end)
    finite = jnp.isfinite(value) & _all_finite(grads)
    updates, opt_state = optimizer.update(grads, carry.opt_state, carry.params)
    new_params = optax.apply_updates(carry.params, updates)
    ok = running & finite
    halt = running & ~finite
    params = _select(ok, new_params, _select(halt, carry.prev_params, carry.params))
    new_carry = _Carry(
        params=params,
        prev_params=_select(ok, carry.params, carry.prev_params),
        opt_state=_select(ok, opt_state, carry.opt_state),
        diverged_at=jnp.where(halt, t, carry.diverged_at).astype(jnp.int32),
        perm=perm,
    )
    return new_carry, jnp.where(carry.diverged_at < 0, value, jnp.nan)


@partial(jax.jit, static_argnames=("length", "optimizer", "act_fn", "head", "batch_size"))
def _run(carry, x, y, key, l2, start, end, *, length, optimizer, act_fn, head, batch_size):
    step = partial(
        _step,
        x=x,
        y=y,
        key=key,
        l2=l2,
        end=end,
        optimizer=optimizer,
        act_fn=act_fn,
        head=head,
        batch_size=batch_size,
    )
    return jax.lax.scan(step, carry, start + jnp.arange(length))


def train(
    params: Params,
    x: jax.Array,
    y: jax.Array,
    *,
    optimizer: optax.GradientTransformation,
    steps: int,
    activation: str = "relu",
    head: str = "softmax",
    batch_size: int | None = None,
    key: jax.Array | None = None,
    l2: float = 0.0,
    opt_state: Any = None,
    start_step: int = 0,
    callback: Callable[[int, float], None] | None = None,
    chunk_size: int | None = None,
    on_chunk: Callable[[int, Params], None] | None = None,
) -> TrainResult:
    """Train ``params`` for ``steps`` optimizer steps on (x, y); one compiled ``lax.scan``.

    Args:
      params: initial parameters (``init_params``).
      x: inputs (n, d_0); y: labels/targets for ``head``.
      optimizer: any optax ``GradientTransformation``; ``optax.sgd(1.0)`` is plain gradient descent.
      steps: number of optimizer steps.
      activation: hidden activation; head: output head (see ``loss``).
      batch_size: None for full-batch gradient descent; otherwise each epoch is a fresh permutation
        (drawn from ``fold_in(key, epoch)``) cut into ceil(n / batch_size) mini-batches, so every sample
        is seen once per epoch (the last batch of an epoch may be smaller).
      key: ``jax.random.key`` for the mini-batch shuffles (required with ``batch_size``).
      l2: weight of the L2 penalty 0.5 * l2 * sum ||W||^2 (biases excluded).
      opt_state, start_step: resume from a saved optimizer state at global step ``start_step`` (the
        mini-batch order continues as if training had never stopped).
      callback: called as ``callback(steps_done, last_loss)`` after each chunk (progress reporting).
      chunk_size: steps per compiled call; defaults to all of them (one call). Every chunk reuses the
        same compiled program.
      on_chunk: called as ``on_chunk(steps_done, params)`` after each chunk, with the parameters reached
        so far (to measure them, e.g. ``funcmlp.progress.train_logged``).

    Returns:
      ``TrainResult(params, losses (steps,), opt_state, diverged_at)``.
    """
    steps = checks.check_positive_int(steps, "steps")
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            f"optimizer: expected an optax GradientTransformation such as optax.sgd(1.0), "
            f"got {type(optimizer).__name__}"
        )
    validate(params, x, y, head=head)
    x, y = jnp.asarray(x), jnp.asarray(y)
    if not jnp.issubdtype(x.dtype, jnp.floating):  # integers: compute (and weigh l2) in the params' dtype
        x = x.astype(jnp.result_type(params[0]["w"]))
    batch_size = checks.check_batch_size(batch_size, x.shape[0])
    if batch_size is not None and key is None:
        raise ValueError("key: expected a jax.random.key to shuffle mini-batches, got None")
    if key is not None:
        checks.check_key(key)
    start_step = checks.check_nonnegative_int(start_step, "start_step")
    length = steps if chunk_size is None else min(checks.check_positive_int(chunk_size, "chunk_size"), steps)
    checks.check_nonnegative_real(l2, "l2")
    checks.check_callback(callback)
    checks.check_callback(on_chunk, "on_chunk")
    act, hd = activations.get(activation), heads.get(head)
    if opt_state is not None:
        checks.check_opt_state(opt_state, jax.eval_shape(optimizer.init, params))
    key = jax.random.key(0) if key is None else key
    carry = _Carry(
        params=params,
        prev_params=params,
        opt_state=optimizer.init(params) if opt_state is None else opt_state,
        diverged_at=jnp.int32(-1),
        perm=_epoch_perm(key, start_step, x.shape[0], batch_size),
    )
    l2 = None if l2 == 0 else jnp.asarray(l2, x.dtype)
    end = jnp.int32(start_step + steps)
    chunks = []
    for c in range(math.ceil(steps / length)):
        first = start_step + c * length
        carry, losses = _run(
            carry, x, y, key, l2, jnp.int32(first), end,
            length=length, optimizer=optimizer, act_fn=act.fn, head=hd, batch_size=batch_size,
        )  # fmt: skip
        chunks.append(losses)
        done = min(steps, (c + 1) * length)
        if on_chunk is not None:
            on_chunk(done, carry.params)
        if callback is not None:
            callback(done, float(losses[done - c * length - 1]))
    losses = chunks[0] if len(chunks) == 1 else jnp.concatenate(chunks)[:steps]
    return TrainResult(carry.params, losses, carry.opt_state, carry.diverged_at)
