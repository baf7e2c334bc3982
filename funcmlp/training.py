"""Gradient-descent training: the whole loop is one jitted ``lax.scan``.

Each step applies an optax transformation to the gradient of the mean loss,

    g_t = dJ/dtheta (theta_t),   (u_t, s_{t+1}) = optimizer.update(g_t, s_t, theta_t),
    theta_{t+1} = theta_t + u_t,

so ``optax.sgd(alpha)`` is the lecture's  w_new = w_old - alpha dJ/dw.

If the loss or a gradient turns non-finite at step t, training stops there: the parameters of step t - 1
(the last with a finite loss) are kept, later losses are NaN, and ``diverged_at`` is t.

The loss and gradient come from ``fastpath.loss_and_grads`` (the backward pass by hand, features-major;
``mlp._loss`` stays the reference it is tested against). Steps run in chunks of ``CHUNK``: first without the
divergence rule (``_fast_step``), then, only if the chunk's losses or parameters are not all finite, again
from the chunk's start with the rule checked at every step (``_step``). Both give the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from funcmlp import activations, checks, fastpath, heads
from funcmlp.mlp import Params, validate


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


def _batch_index(perm, t, batch_size, n):
    """Sample indices (batch_size,) of mini-batch t of its epoch and their weights (1, or 0 for padding)."""
    n_batches = -(-n // batch_size)
    padded = jnp.concatenate([perm, perm[: n_batches * batch_size - n]])
    start = (t % n_batches) * batch_size
    idx = jax.lax.dynamic_slice_in_dim(padded, start, batch_size)
    return idx, ((start + jnp.arange(batch_size)) < n)


def _batch(x, y, perm, t, batch_size):
    """Mini-batch t of its epoch: a contiguous slice of the epoch's permutation, padded with weight 0."""
    idx, real = _batch_index(perm, t, batch_size, x.shape[0])
    return x[idx], y[idx], real.astype(x.dtype)


def _epoch_perm(key, t, n, batch_size):
    if batch_size is None:
        return jnp.zeros((0,), jnp.int32)
    epoch = t // -(-n // batch_size)
    return jax.random.permutation(jax.random.fold_in(key, epoch), n).astype(jnp.int32)


def _minibatch(perm, t, *, xt, targets, key, batch_size, end):
    """The data of step t: all of it (full batch, weights None), or mini-batch t of its epoch.

    Returns (perm, x_b (d_0, b), targets_b (d_L, b), weights (b,) or None); a new epoch before ``end``
    draws a new perm (steps past the end must not move the shuffle on: a later call resumes from it).
    """
    if batch_size is None:
        return perm, xt, targets, None
    n = xt.shape[1]
    n_batches = -(-n // batch_size)
    perm = jax.lax.cond(
        (t % n_batches == 0) & (t < end),
        lambda: _epoch_perm(key, t, n, batch_size),
        lambda: perm,
    )
    idx, real = _batch_index(perm, t, batch_size, n)
    return perm, xt[:, idx], targets[:, idx], real.astype(xt.dtype)


def _step(
    carry: _Carry, t, *, xt, targets, key, l2, end, optimizer, act, head, batch_size, sample_sums="dot"
):
    """One gradient step at global step t with the divergence rule; a no-op once diverged or past ``end``.

    ``xt`` (d_0, n) and ``targets`` (d_L, n) are the data features-major (``_prepare``); the loss and
    gradient come from ``fastpath.loss_and_grads``. Pure in every argument, so it can be vmapped over
    models (params, opt_state) with the data shared.
    """
    perm, xb, tb, wb = _minibatch(
        carry.perm, t, xt=xt, targets=targets, key=key, batch_size=batch_size, end=end
    )
    value, grads = fastpath.loss_and_grads(carry.params, xb, tb, act, head, l2, wb, sample_sums=sample_sums)
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


def _fast_step(
    carry: _Carry, t, *, xt, targets, key, l2, end, optimizer, act, head, batch_size, sample_sums="dot"
):
    """``_step`` without the divergence rule, for runs of steps that turn out finite.

    theta_{t+1} = theta_t + u_t + 0 g_t: the extra term is exactly 0 for a finite gradient and NaN for a
    non-finite one, and NaN parameters stay NaN, so a run of fast steps matches ``_step`` exactly when its
    losses and final parameters are finite. Steps t >= ``end`` leave the carry as it is.
    """
    perm, xb, tb, wb = _minibatch(
        carry.perm, t, xt=xt, targets=targets, key=key, batch_size=batch_size, end=end
    )
    value, grads = fastpath.loss_and_grads(carry.params, xb, tb, act, head, l2, wb, sample_sums=sample_sums)
    updates, opt_state = optimizer.update(grads, carry.opt_state, carry.params)
    live = t < end
    params = jax.tree.map(
        lambda new, p, g: jnp.where(live, new + 0 * g, p),
        optax.apply_updates(carry.params, updates),
        carry.params,
        grads,
    )
    new_carry = carry._replace(
        params=params,
        prev_params=_select(live, carry.params, carry.prev_params),
        opt_state=_select(live, opt_state, carry.opt_state),
        perm=perm,
    )
    return new_carry, value


def _clean(carry: _Carry, fast: _Carry, values, ts, end) -> jax.Array:
    """Whether fast steps ts from ``carry`` (giving ``fast`` and losses ``values``) equal ``_step``'s: the
    run had not diverged, and every loss before ``end`` and every final parameter is finite."""
    finite = jnp.all(jnp.isfinite(values) | (ts >= end)) & _all_finite(fast.params)
    return (carry.diverged_at < 0) & finite


def _chunk(carry: _Carry, ts, *, unroll, **kw):
    """Steps ts (k,): fast steps, kept when clean; otherwise redone from the same carry with ``_step``."""
    fast, values = jax.lax.scan(partial(_fast_step, **kw), carry, ts, unroll=unroll)
    return jax.lax.cond(
        _clean(carry, fast, values, ts, kw["end"]),
        lambda: (fast, values),
        lambda: jax.lax.scan(partial(_step, **kw), carry, ts),
    )


def _prepare(x, y, head: str, n_out: int):
    """The data features-major, once per call: x^T (d_0, n) and the head's float targets (d_L, n)."""
    return x.T, fastpath.targets(head, y, n_out, x.dtype)


# Steps per chunk (one finiteness check each) and scan unrolling of the fast steps: docs/performance.md.
# Unrolling the fast scan by 4 ran ~8% faster, but then a run resumed from a checkpoint no longer repeated
# an uninterrupted run bit for bit (tests/test_checkpoint.py), so the scan is not unrolled.
CHUNK, UNROLL = 1024, 1


@partial(jax.jit, static_argnames=("length", "optimizer", "act", "head", "batch_size", "chunk", "unroll"))
def _run(
    carry, x, y, key, l2, start, end, *, length, optimizer, act, head, batch_size, chunk=CHUNK, unroll=UNROLL
):
    """Steps start .. start + length - 1 (those >= ``end`` are no-ops), in chunks of ``chunk`` steps."""
    xt, targets = _prepare(x, y, head, carry.params[-1]["b"].shape[0])
    k = min(chunk, length)
    n_chunks = -(-length // k)
    body = partial(
        _chunk,
        end=jnp.minimum(end, start + length),
        unroll=min(unroll, k),
        xt=xt,
        targets=targets,
        key=key,
        l2=l2,
        optimizer=optimizer,
        act=act,
        head=head,
        batch_size=batch_size,
    )
    ts = start + jnp.arange(n_chunks * k, dtype=jnp.int32).reshape(n_chunks, k)
    carry, values = jax.lax.scan(body, carry, ts)
    return carry, values.reshape(-1)[:length]


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
            length=length, optimizer=optimizer, act=act, head=hd.name, batch_size=batch_size, chunk=CHUNK,
        )  # fmt: skip
        chunks.append(losses)
        done = min(steps, (c + 1) * length)
        if on_chunk is not None:
            on_chunk(done, carry.params)
        if callback is not None:
            callback(done, float(losses[done - c * length - 1]))
    losses = chunks[0] if len(chunks) == 1 else jnp.concatenate(chunks)[:steps]
    return TrainResult(carry.params, losses, carry.opt_state, carry.diverged_at)
