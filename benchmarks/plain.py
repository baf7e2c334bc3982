"""Plain JAX written the obvious way, the reference both benchmarks time funcmlp against.

SGD on a loss (by default ``funcmlp.loss``) with ``jax.value_and_grad`` and ``optax.sgd``, the whole loop in
``jax.jit(lax.scan)``, and ``jax.vmap`` over a stack of initial parameters for many models (``optimizer``
names another optax factory, such as ``"adam"``). Mini-batches are ``x[idx]``, by either rule a user writes:

* ``"perm"``: a fresh ``jax.random.permutation`` per epoch; the last partial batch of an epoch is dropped,
  so every step sees ``batch_size`` samples;
* ``"randint"``: ``idx = jax.random.randint(fold_in(key, t), (batch_size,), 0, n)`` at step t (samples
  drawn with replacement, no epochs).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import optax

import funcmlp

Loss = Callable[..., jax.Array]


def sgd_step(loss_fn: Loss, opt: optax.GradientTransformation):
    """One step as a ``lax.scan`` body: ((params, opt_state), (x, y)) -> ((params, opt_state), loss)."""

    def step(carry, batch):
        p, s = carry
        loss, g = jax.value_and_grad(loss_fn)(p, *batch)
        u, s = opt.update(g, s, p)
        return (optax.apply_updates(p, u), s), loss

    return step


def sgd_scan(
    params,
    x,
    y,
    key=None,
    *,
    lr: float,
    steps: int,
    batch_size: int | None,
    loss_fn: Loss,
    optimizer: str = "sgd",
    sampling: str = "perm",
    permutation: Callable[..., jax.Array] = jax.random.permutation,
):
    """``steps`` steps of ``optax.<optimizer>(lr)`` in ``lax.scan`` (``key``: of the mini-batches); returns
    (params, losses (steps,)). With a batch size and ``sampling="perm"``, ``steps`` must be whole epochs
    (multiples of n // batch_size); ``permutation(key, n)`` draws an epoch's order."""
    opt = getattr(optax, optimizer)(lr)
    step = sgd_step(loss_fn, opt)
    carry = (params, opt.init(params))
    if batch_size is None:
        (params, _), losses = jax.lax.scan(lambda c, _: step(c, (x, y)), carry, length=steps)
        return params, losses
    n = x.shape[0]
    if sampling == "randint":

        def sampled(c, t):
            idx = jax.random.randint(jax.random.fold_in(key, t), (batch_size,), 0, n)
            return step(c, (x[idx], y[idx]))

        (params, _), losses = jax.lax.scan(sampled, carry, jnp.arange(steps))
        return params, losses
    per_epoch = n // batch_size

    def epoch(carry, e):
        perm = permutation(jax.random.fold_in(key, e), n)
        idx = perm[: per_epoch * batch_size].reshape(per_epoch, batch_size)
        return jax.lax.scan(lambda c, i: step(c, (x[i], y[i])), carry, idx)

    (params, _), losses = jax.lax.scan(epoch, carry, jnp.arange(steps // per_epoch))
    return params, losses.reshape(-1)


@partial(
    jax.jit,
    static_argnames=(
        "lr",
        "steps",
        "batch_size",
        "models",
        "loss_fn",
        "optimizer",
        "sampling",
        "permutation",
    ),
)
def plain_train(
    params,
    x,
    y,
    key=None,
    *,
    lr: float,
    steps: int,
    batch_size: int | None = None,
    models: bool = False,
    loss_fn: Loss = funcmlp.loss,
    optimizer: str = "sgd",
    sampling: str = "perm",
    permutation: Callable[..., jax.Array] = jax.random.permutation,
):
    """The plain-JAX run: ``jit(scan)`` of value_and_grad + optax, ``jit(vmap(scan))`` with ``models``
    (params with a leading model axis); ``optimizer``, ``sampling``, ``permutation`` as in ``sgd_scan``.
    Returns (params, losses (steps,) or (models, steps))."""
    loop = partial(
        sgd_scan,
        lr=lr,
        steps=steps,
        batch_size=batch_size,
        loss_fn=loss_fn,
        optimizer=optimizer,
        sampling=sampling,
        permutation=permutation,
    )
    if models:
        return jax.vmap(loop, in_axes=(0, None, None, None))(params, x, y, key)
    return loop(params, x, y, key)
