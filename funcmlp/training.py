"""``train``: gradient descent on one network, the whole loop one jitted ``lax.scan`` of the engine's step.

Each step applies an optax transformation to the gradient of the mean loss (``funcmlp.engine``),

    g_t = dJ/dtheta (theta_t),   (u_t, s_{t+1}) = optimizer.update(g_t, s_t, theta_t),
    theta_{t+1} = theta_t + u_t,

so ``optax.sgd(alpha)`` is the lecture's  w_new = w_old - alpha dJ/dw. The gradient is
``jax.value_and_grad`` of the pure loss, for any activation function and any per-sample loss; for the
built-ins, where ``funcmlp.engine.plan`` measured it faster, the loss carries a registered derivative
(``funcmlp.engine.fastpath``) that ``jax.grad`` uses.

If the loss or a gradient turns non-finite at step t, training stops there: the parameters of step t - 1
(the last with a finite loss) are kept, later losses are NaN, and ``diverged_at`` is t.

``funcmlp.history.train_logged`` adds a ``History``: loss and accuracy on the training data and on validation
/ test sets after every chunk of steps, as written to a run's metrics.csv.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from funcmlp import activations, checks, engine, heads, models
from funcmlp import options as run_options
from funcmlp.engine import optimizers, plan
from funcmlp.mlp import Params, validate

# The engine counts steps in int32.
STEP_LIMIT = 2**31 - 1


class TrainResult(NamedTuple):
    """What ``train`` returns.

    Attributes:
      params: the trained parameters.
      losses: (steps,) loss J(theta_t) at each step, before its update; NaN after a divergence.
      opt_state: the optimizer state after the last step (pass it back to resume).
      diverged_at: int32 scalar, the first step with a non-finite loss, gradient or update; -1 if none.
    """

    params: Params
    losses: jax.Array
    opt_state: Any
    diverged_at: jax.Array


def _targets(state, data, spec: engine.Spec):
    n_out = state.params[-1]["b"].shape[0] if spec.objective.plan.registered else 0
    return data._replace(y=spec.objective.targets(data.y, n_out, data.x.dtype))


@partial(jax.jit, static_argnames=("spec", "length"))
def _run(state, data, start, *, spec: engine.Spec, length: int):
    return engine.run(state, _targets(state, data, spec), start, spec=spec, length=length)


@partial(jax.jit, static_argnames=("spec", "length"))
def _run_fast(state, data, start, *, spec: engine.Spec, length: int):
    return engine.run_fast(state, _targets(state, data, spec), start, spec=spec, length=length)


def run_chunk(state, data, start, *, spec: engine.Spec, length: int):
    """``length`` steps from ``start``: the fast program (no divergence rule in its loop), and the careful
    one, compiled only then, when the fast call was not clean (a divergence, steps past the end, or a
    final loss not proven finite): the same numbers either way (``engine.run_fast``)."""
    if not any(isinstance(a, jax.core.Tracer) for a in jax.tree.leaves((state, data))):  # under jvp / vmap:
        new, losses, clean = _run_fast(state, data, start, spec=spec, length=length)  # no host check there
        if bool(clean):
            return new, losses
    return _run(state, data, start, spec=spec, length=length)


def cast_data(x: Any, dtype: Any, name: str = "x") -> jax.Array:
    """x in the computation's dtype (the params'); refuses values that the cast would turn into inf."""
    x = jnp.asarray(x)
    if x.dtype != dtype and checks.is_concrete(x) and x.size:
        biggest = float(jnp.max(jnp.abs(x.astype(jnp.float32 if x.dtype != jnp.float64 else x.dtype))))
        limit = float(jnp.finfo(dtype).max)
        if biggest > limit:
            raise ValueError(
                f"{name}: expected values within the range of the params' dtype {jnp.dtype(dtype).name} "
                f"(|v| <= {limit:.4g}), got |v| up to {biggest:.4g}"
            )
    return x.astype(dtype)


def make_objective(activation: Any, head: Any, sizes, *, models: int = 1, batch_size=None, backend=None):
    """The engine's ``Objective`` for an activation and a head, with the plan for this backend and size."""
    act, hd = activations.get(activation), heads.get(head)
    available = activations.builtin(act) and hd.rule is not None
    p = plan.choose(
        backend or jax.default_backend(), sizes, models=models, batch_size=batch_size, available=available
    )
    return engine.Objective(act, hd, p)


def train(
    params: Params,
    x: jax.Array,
    y: jax.Array,
    *,
    optimizer: Any,
    steps: int,
    hyperparams: dict[str, float] | None = None,
    activation: Any = "relu",
    head: Any = "softmax",
    batch_size: int | None = None,
    batch_key: jax.Array | None = None,
    l2: float = 0.0,
    opt_state: Any = None,
    start_step: int = 0,
    callback: Callable[[run_options.Report], Any] | None = None,
    chunk_size: int | None = None,
    model: Any = None,
    config: dict[str, float] | None = None,
    **moved: Any,
) -> TrainResult:
    """Train ``params`` for ``steps`` optimizer steps on (x, y); one compiled ``lax.scan``.

    Args:
      params: initial parameters (``init_params``); their dtype is the computation's (x is cast to it).
      x: inputs (n, d_0); y: labels/targets for ``head``.
      optimizer: an optax ``GradientTransformation`` (``optax.sgd(1.0)`` is plain gradient descent;
        ``optax.lbfgs()``, ``optax.MultiSteps`` and chains with ``reduce_on_plateau`` work too), or a
        factory such as ``optax.sgd`` called as ``optimizer(**hyperparams)`` inside the compiled loop.
      steps: number of optimizer steps.
      hyperparams: a factory's arguments, e.g. ``{"learning_rate": 0.1}``; traced (a loop compiles once).
      activation: hidden activation, a name or any elementwise function (``jax.nn.gelu``).
      head: a name, or a per-sample loss ``fn(logits, y) -> (n,)`` (see ``funcmlp.heads``).
      batch_size: None for full-batch gradient descent; otherwise each epoch is a fresh permutation
        (drawn from ``fold_in(batch_key, epoch)``) cut into ceil(n / batch_size) mini-batches, so every sample
        is seen once per epoch (the last batch of an epoch may be smaller).
      batch_key: ``jax.random.key`` for the mini-batch shuffles (required with ``batch_size``).
      l2: weight of the L2 penalty 0.5 * l2 * sum ||W||^2 (biases excluded).
      opt_state, start_step: resume from a saved optimizer state at global step ``start_step`` (the
        mini-batch order continues as if training had never stopped).
      callback: ``callback(report)`` after each chunk (a ``funcmlp.Report``); True stops training there.
      chunk_size: steps per compiled call (one program for every chunk); defaults to all of them.
      model: a model of your own, ``funcmlp.Model(init, apply)`` (``funcmlp.models``): ``params`` is then
        any pytree and ``activation`` is not used; L2 applies to the leaves ``model.l2_mask`` marks.
      config: traced values (name -> number) that ``apply``, a head ``loss(z, y, config)`` and an
        activation ``fn(z, config)`` receive; a loop over their values compiles once.

    Returns:
      ``TrainResult(params, losses (steps,), opt_state, diverged_at)``.
    """
    run_options.check_moved("train", moved)
    checks.check_callback(callback)
    options = {k: v for k, v in locals().items() if k not in ("params", "x", "y", "callback", "moved")}
    chunks = []
    for chunk in train_chunks(params, x, y, **options):
        done, state, losses = chunk
        chunks.append(losses)
        if callback is not None and callback(report_of(done, steps, losses)) is True:
            break
    return result_of(state, chunks, done)


def report_of(done: int, steps: int, losses: jax.Array) -> run_options.Report:
    """The ``Report`` after a chunk of ``train_chunks``: its last step's loss (one host synchronisation)."""
    return run_options.Report(done, steps, float(losses[(done - 1) % losses.shape[0]]))


def result_of(state: engine.TrainState, chunks: list[jax.Array], steps: int) -> TrainResult:
    """The ``TrainResult`` of the last state of ``train_chunks`` and its chunks' losses, cut to ``steps``."""
    one = len(chunks) == 1 and chunks[0].shape[0] == steps
    losses = chunks[0] if one else jnp.concatenate(chunks)[:steps]
    return TrainResult(state.params, losses, state.opt_state, state.diverged_at)


def train_chunks(params: Params, x: jax.Array, y: jax.Array, **options: Any) -> Chunks:
    """``train`` one chunk at a time: yields ``(steps_done, state, chunk_losses)`` after each compiled call.

    ``options`` are ``train``'s keyword arguments but ``callback`` (validated here, before the first chunk
    runs; ``train``'s signature holds their defaults); ``state`` is the engine's ``TrainState``
    (``state.params`` the parameters reached so far), and the last chunk's losses may run past ``steps``
    (its padded steps change nothing). ``train`` and ``funcmlp.history.train_logged`` are loops over it.
    """
    return _start(params, x, y, **(_DEFAULTS | options))


_DEFAULTS = {
    name: p.default
    for name, p in inspect.signature(train).parameters.items()
    if p.kind is p.KEYWORD_ONLY and p.default is not p.empty and name != "callback"
}


def _start(
    params,
    x,
    y,
    *,
    optimizer,
    steps,
    hyperparams,
    activation,
    head,
    batch_size,
    batch_key,
    l2,
    opt_state,
    start_step,
    chunk_size,
    model,
    config,
):
    steps = checks.check_positive_int(steps, "steps")
    objective, dtype, cfg = _objective(params, x, y, activation, head, batch_size, model, config)
    factory, hp = optimizers.optimizer_spec(optimizer, hyperparams, dtype)
    x = cast_data(x, dtype)
    y = jnp.asarray(y)
    batch_size = checks.check_batch_size(batch_size, x.shape[0])
    if batch_size is not None and batch_key is None:
        raise ValueError("batch_key: expected a jax.random.key to shuffle mini-batches, got None")
    if batch_key is not None:
        checks.check_key(batch_key, "batch_key")
    start_step = checks.check_nonnegative_int(start_step, "start_step")
    if start_step + steps > STEP_LIMIT:
        raise ValueError(
            f"start_step: expected start_step + steps <= {STEP_LIMIT} (the step counter is int32), "
            f"got {start_step} + {steps}"
        )
    length = steps if chunk_size is None else min(checks.check_positive_int(chunk_size, "chunk_size"), steps)
    checks.check_nonnegative_real(l2, "l2")
    spec = engine.Spec(objective, factory, batch_size)
    if opt_state is not None:
        like = jax.eval_shape(lambda p, h: engine.extra_args(factory(**h)).init(p), params, hp)
        checks.check_opt_state(opt_state, like)
    key = jax.random.key(0) if batch_key is None else batch_key
    state = _init_state(params, key, np.int32(start_step), hp, opt_state, cfg, spec=spec, n=x.shape[0])
    l2 = None if l2 == 0 else jnp.asarray(l2, dtype)
    data = engine.Data(x, y, key, l2, np.int32(start_step + steps))
    return Chunks(state, _chunks(state, data, spec, start_step, steps, length))


class Chunks:
    """``train_chunks``' iterator of ``(steps_done, state, chunk_losses)``; ``start`` is the engine's state
    before the first chunk (the parameters and optimizer state at ``start_step``)."""

    def __init__(self, start: engine.TrainState, chunks: Iterator[Any]) -> None:
        self.start, self._chunks = start, chunks

    def __iter__(self) -> Iterator[Any]:
        return self._chunks


@partial(jax.jit, static_argnames=("spec", "n"))
def _init_state(params, key, start, hyperparams, opt_state, config, *, spec, n):
    """``engine.init_state`` compiled: one small program on a first call, where building the optimizer
    state and the epoch order eagerly compiled an operation each."""
    return engine.init_state(params, spec, key, start, n, hyperparams, opt_state, config)


def _objective(params, x, y, activation, head, batch_size, model, config):
    """(objective, dtype, traced config): the built-in MLP's ``Objective`` (registered derivative where the
    plan says so), or, for a model of your own or with ``config``, a ``funcmlp.models.ModelObjective``."""
    if model is None and config is None:
        sizes = validate(params, x, y, head=head)
        return (
            make_objective(activation, head, sizes, batch_size=batch_size),
            checks.check_params_dtype(params),
            None,
        )
    if model is None:
        sizes = validate(params, x, y, head=head)
        model = models.mlp_model(sizes, activation)
    elif activation != "relu":
        raise ValueError(
            f"activation: expected none with a model of your own (its apply has one), got {activation!r}"
        )
    model = models.check_model(model)
    dtype = checks.check_params_dtype(params)
    cfg = models.check_config(config, dtype)
    checks.check_x(x, jnp.shape(x)[-1] if jnp.ndim(x) == 2 else 0)
    hd = heads.get(head)
    hd.check_y(y, jnp.shape(x)[0], models.output_width(model, params, cast_data(x, dtype), cfg), "y")
    return models.objective(model, head), dtype, cfg


def _chunks(state, data, spec, start_step: int, steps: int, length: int):
    for c in range(math.ceil(steps / length)):
        state, losses = run_chunk(state, data, np.int32(start_step + c * length), spec=spec, length=length)
        yield min(steps, (c + 1) * length), state, losses
