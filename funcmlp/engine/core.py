"""The training engine: one gradient step, its divergence rule, and the chunked runner, for one model or many.

A step differentiates the pure objective with ``jax.value_and_grad`` and applies an optax transformation,

    J_t, g_t = value_and_grad(J)(theta_t; batch_t),
    (u_t, s_{t+1}) = optimizer(**hyperparams).update(g_t, s_t, theta_t, value=J_t, grad=g_t, value_fn=J),
    theta_{t+1} = theta_t + u_t,

so ``optax.sgd(alpha)`` is the lecture's  w_new = w_old - alpha dJ/dw, and optimizers that need the loss
(``optax.lbfgs``, ``optax.contrib.reduce_on_plateau``) get it. Hyperparameters live in the state as traced
data, so one compiled program serves any values; the new parameters and optimizer state keep the dtypes
they had (the parameters' dtype is the computation's).

The objective (``Objective``) is ``funcmlp.mlp.mean_loss`` of any activation and head, or, where the plan
says so (``funcmlp.engine.plan``), the same loss with its registered derivative (``funcmlp.engine.fastpath``);
for a model of your own it is ``funcmlp.models.ModelObjective``, which also sees the state's ``config``.

Divergence rule: if the loss or a gradient turns non-finite at step t, the model stops there: the parameters
of step t - 1 (the last with a finite loss) are kept, later losses are NaN and ``diverged_at`` is t. If the
loss and gradient at step t are finite but the update takes the parameters to inf or NaN (or, at a call's
last step, to parameters whose loss is not finite: ``settle``), the parameters of step t are kept and
``diverged_at`` is t as well. Steps
run in chunks of ``CHUNK``: first without the rule (``step(careful=False)``), then, only if a chunk's losses
or parameters are not all finite, again from the chunk's start with the rule at every step. Both give the
same numbers. The chunked runner (``run``, ``run_fast``, ``settle``) is ``funcmlp.engine.runner``; ``run``
takes a state with a leading model axis (``models=True``) to train many models in one program: that is how
``funcmlp.sweep`` trains its grid.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from funcmlp import mlp
from funcmlp.activations import Activation
from funcmlp.engine import fastpath
from funcmlp.engine.batches import Data, epoch_perm, minibatch
from funcmlp.engine.plan import Plan
from funcmlp.heads import Head


class Objective(NamedTuple):
    """The mean loss J(theta; x, y, w) the engine differentiates (hashable: static in compiled code)."""

    act: Activation
    head: Head
    plan: Plan

    def targets(self, y: jax.Array, n_out: int, dtype: Any) -> jax.Array:
        """y as the loss takes it: the head's float targets for the registered derivative; float targets
        in the computation's dtype; integer labels as they are."""
        if self.plan.registered:
            return self.head.targets(y, n_out, dtype)
        return y.astype(dtype) if jnp.issubdtype(y.dtype, jnp.floating) else y

    def outputs(self, params, x, config=None) -> jax.Array:
        """The logits z^L of ``params`` on x (cast to the params' dtype); ``config`` is not used."""
        return mlp.apply(params, x.astype(jax.tree.leaves(params)[0].dtype), self.act.fn)

    def sample_losses(self, z, y, config=None) -> jax.Array:
        """The head's per-sample losses l(z_i, y_i) (n,)."""
        return self.head.per_sample_loss(z, y)

    def loss_on(self, params, x, y, l2=None, config=None) -> jax.Array:
        """J of ``funcmlp.mlp.mean_loss`` on labels as given (not the registered derivative's targets)."""
        return mlp.mean_loss(
            params, x.astype(jax.tree.leaves(params)[0].dtype), y, self.act.fn, self.head, l2
        )

    def __call__(self, params, x, y, weights=None, l2=None, config=None) -> jax.Array:
        if self.plan.registered:
            return fastpath.loss(params, x, y, weights, l2, act=self.act, head=self.head, sums=self.plan.sums)
        return mlp.mean_loss(params, x, y, self.act.fn, self.head, l2, weights)


class Fixed(NamedTuple):
    """An optimizer given as an object, as a factory of no hyperparameters."""

    optimizer: Any

    def __call__(self) -> Any:
        return self.optimizer


def extra_args(optimizer: Any) -> optax.GradientTransformationExtraArgs:
    """An optax transformation that takes ``value``, ``grad`` and ``value_fn`` (ignored where not needed)."""
    if hasattr(optimizer, "gradient_transformation"):  # optax.MultiSteps
        optimizer = optimizer.gradient_transformation()
    return optax.with_extra_args_support(optimizer)


class Spec(NamedTuple):
    """What a compiled loop is specialised on: the objective, the optimizer factory, the batch size."""

    objective: Objective
    optimizer: Callable[..., Any]
    batch_size: int | None


class TrainState(NamedTuple):
    """Everything a step carries: parameters (and the previous ones, for the divergence rule), optimizer
    state, the divergence step (-1 while finite), the epoch's permutation and the traced hyperparameters."""

    params: Any
    prev_params: Any
    opt_state: Any
    diverged_at: jax.Array
    perm: jax.Array
    hyperparams: dict[str, jax.Array]
    config: dict[str, jax.Array] | None = None


def init_state(
    params, spec: Spec, key, start, n: int, hyperparams=None, opt_state=None, config=None
) -> TrainState:
    """The state at global step ``start``: a fresh optimizer state unless one is given; ``config`` (traced
    values the objective sees, ``funcmlp.models``) rides along unchanged."""
    hyperparams = {} if hyperparams is None else hyperparams
    if opt_state is None:
        opt_state = extra_args(spec.optimizer(**hyperparams)).init(params)
    perm = epoch_perm(key, start, n, spec.batch_size)
    return TrainState(params, params, opt_state, jnp.int32(-1), perm, hyperparams, config)


def all_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.bool_(True)


def _select(pred, on_true, on_false):
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


def _like(new, old):
    """``new`` with the dtypes of ``old`` (a step never changes the carry's types)."""
    return jax.tree.map(lambda a, b: a.astype(jnp.result_type(b)), new, old)


def step(state: TrainState, t, *, spec: Spec, data: Data, careful: bool = True):
    """One gradient step at global step t; careful steps are no-ops past ``data.end`` and once diverged.

    ``careful=False`` skips the divergence rule and the end: theta_{t+1} = theta_t + u_t + 0 g_t, where the
    extra term is 0 for a finite gradient and NaN otherwise, so a run of such steps before ``data.end`` equals
    careful steps exactly when its losses and final parameters are finite. Pure in every argument: vmap it
    over models.

    Returns:
      ``(state, J_t)``; J_t is NaN after a divergence (careful steps).
    """
    perm, xb, yb, wb = minibatch(state.perm, t, data, spec.batch_size)

    def objective(p):
        return spec.objective(p, xb, yb, wb, data.l2, state.config)

    value, grads = jax.value_and_grad(objective)(state.params)
    opt = extra_args(spec.optimizer(**state.hyperparams))
    updates, opt_state = opt.update(
        grads, state.opt_state, state.params, value=value, grad=grads, value_fn=objective
    )
    new_params = _like(optax.apply_updates(state.params, updates), state.params)
    opt_state = _like(opt_state, state.opt_state)
    live = t < data.end
    if not careful:  # only for chunks that lie wholly before data.end (_chunk): no selects in the hot loop
        params = jax.tree.map(lambda new, g: new + 0 * g, new_params, grads)
        return state._replace(params=params, prev_params=state.params, opt_state=opt_state, perm=perm), value
    running = (state.diverged_at < 0) & live
    finite = jnp.isfinite(value) & all_finite(grads)
    landed = all_finite(new_params)  # a finite loss and gradient can still step to inf (a huge rate)
    ok, halt = running & finite & landed, running & ~(finite & landed)
    kept = _select(finite, state.params, state.prev_params)  # the last parameters with a finite loss
    new_state = state._replace(
        params=_select(ok, new_params, _select(halt, kept, state.params)),
        prev_params=_select(ok, state.params, state.prev_params),
        opt_state=_select(ok, opt_state, state.opt_state),
        diverged_at=jnp.where(halt, t, state.diverged_at).astype(jnp.int32),
        perm=perm,
    )
    return new_state, jnp.where(state.diverged_at < 0, value, jnp.nan).astype(value.dtype)


def evaluate(params, sets, *, act_fn, head: Head):
    """(mean data loss (1/n) sum_i l_i, number correct or 0) on each (x, y) of ``sets``; traceable."""
    out = []
    for x, y in sets:
        z = mlp.apply(params, x.astype(jnp.result_type(params[0]["w"])), act_fn)
        correct = jnp.sum(head.predict(z) == y) if head.classifies else jnp.int32(0)
        out.append((jnp.mean(head.per_sample_loss(z, y)), correct))
    return out
