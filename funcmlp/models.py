"""Your own model: two pure functions, trained by the same engine as the built-in MLP.

A model is ``init(key, config) -> params`` (any pytree of float arrays) and ``apply(params, x, config) ->
outputs (n, K)``. ``config`` is a dict of traced scalars: the values of a sweep's ``config=`` axes (one
compiled program serves every value) or ``train``'s ``config=``; a model that needs none ignores it. The
objective trained is

    J(theta; c) = sum_i a_i l(apply(theta, x_i, c), y_i; c) + l2 * 0.5 * sum_{k marked} ||theta_k||^2,

a_i = 1/n (or w_i / sum w with sample weights), l the head's per-sample loss (``funcmlp.heads``; a head
function of three arguments ``loss(outputs, y, config)`` gets the config too), and the marked leaves those
``l2_mask(params)`` marks True: by default every leaf of rank >= 2 (weight matrices, not biases or scales).

``mlp_model(sizes, activation)`` is the built-in MLP as such a model; its activation may take the config too,
``activation(z, config)`` (a leaky slope swept as an axis). The built-in MLP given by ``sizes=`` keeps the
engine's registered derivative; a ``Model`` is differentiated by ``jax.grad``.

    model = funcmlp.Model(init, apply)
    result = funcmlp.sweep(key, x, y, model=model, seeds=4, steps=300, learning_rates=[0.1, 0.3],
                           config={"scale": [0.1, 1.0, 10.0]})
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from funcmlp import activations, heads, mlp
from funcmlp.engine import plan


class Model(NamedTuple):
    """A model as two pure functions (hashable: a static argument of compiled code).

    Attributes:
      init: ``init(key, config) -> params``, any pytree of float arrays.
      apply: ``apply(params, x (n, d), config) -> outputs (n, K)``.
      l2_mask: ``l2_mask(params) -> pytree of bools`` (True: the L2 term includes that leaf); None: every
        leaf of rank >= 2.
      name: how tables and files name it (default: ``apply.__name__``).
    """

    init: Callable[[jax.Array, dict[str, jax.Array]], Any]
    apply: Callable[[Any, jax.Array, dict[str, jax.Array]], jax.Array]
    l2_mask: Callable[[Any], Any] | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or getattr(self.apply, "__name__", None) or type(self.apply).__name__


def check_model(model: Any, name: str = "model") -> Model:
    """``model`` as a ``Model``: a ``Model``, or a pair ``(init, apply)``."""
    if isinstance(model, tuple) and not isinstance(model, Model) and len(model) == 2:
        model = Model(*model)
    if not isinstance(model, Model) or not (callable(model.init) and callable(model.apply)):
        raise TypeError(
            f"{name}: expected funcmlp.Model(init, apply) or a pair (init, apply) of functions "
            f"init(key, config) -> params and apply(params, x, config) -> outputs, got {model!r}"
        )
    if model.l2_mask is not None and not callable(model.l2_mask):
        raise TypeError(
            f"{name}.l2_mask: expected a function params -> pytree of bools, got {model.l2_mask!r}"
        )
    return model


def _takes(fn: Callable, count: int) -> bool:
    """Whether ``fn`` can be called with ``count`` positional arguments."""
    try:
        inspect.signature(fn).bind(*range(count))
    except TypeError:
        return False
    except ValueError:  # no signature (a builtin): assume the plain form
        return count == 1 or count == 2
    return True


def mlp_model(
    sizes: Sequence[int], activation: Any = "relu", *, scheme: str = "he", dtype: Any = jnp.float32
) -> Model:
    """The built-in MLP as a ``Model``: ``init_params(key, sizes)``, ``forward`` with ``activation``, which
    may be a name, ``fn(z)`` or ``fn(z, config)``. Params are the usual list of ``{"w", "b"}`` layers.
    Cached: the same arguments give the same ``Model``, so a compiled sweep is not compiled again."""
    return _mlp_model(tuple(int(s) for s in sizes), activations.get(activation), scheme, jnp.dtype(dtype))


@functools.cache
def _mlp_model(sizes: tuple[int, ...], activation: activations.Activation, scheme: str, dtype: Any) -> Model:
    act = activation.fn
    with_config = not _takes(act, 1) and _takes(act, 2)

    def init(key, config):
        return mlp.init_params(key, sizes, scheme=scheme, dtype=dtype)

    def apply(params, x, config):
        return mlp.apply(params, x, (lambda z: act(z, config)) if with_config else act)

    return Model(init, apply, None, f"mlp {'-'.join(map(str, sizes))} {activation.name}")


def default_mask(params: Any) -> Any:
    """True for every leaf of rank >= 2."""
    return jax.tree.map(lambda a: jnp.ndim(a) >= 2, params)


def l2_term(params: Any, mask: Callable[[Any], Any] | None) -> jax.Array:
    """0.5 * sum over the marked leaves of ||theta_k||^2."""
    marks = (mask or default_mask)(params)
    chosen = [leaf for leaf, m in zip(jax.tree.leaves(params), jax.tree.leaves(marks), strict=True) if m]
    if not chosen:
        return jnp.zeros((), jax.tree.leaves(params)[0].dtype)
    return 0.5 * sum(jnp.sum(jnp.square(leaf)) for leaf in chosen)


class ModelObjective(NamedTuple):
    """The engine's objective for a ``Model`` (what ``funcmlp.engine.Objective`` is for the built-in MLP):
    J(theta; x, y, w, l2, config) of the module docstring, differentiated by ``jax.grad``."""

    model: Model
    head: heads.Head
    plan: plan.Plan
    head_config: bool = False  # the head's loss takes (outputs, y, config)

    act = None  # no activation of its own: the bound of ``funcmlp.engine.finite`` does not apply

    def targets(self, y: jax.Array, n_out: int, dtype: Any) -> jax.Array:
        return y.astype(dtype) if jnp.issubdtype(y.dtype, jnp.floating) else y

    def outputs(self, params, x, config=None) -> jax.Array:
        dtype = jax.tree.leaves(params)[0].dtype
        return self.model.apply(params, x.astype(dtype), {} if config is None else config)

    def sample_losses(self, z, y, config=None) -> jax.Array:
        if self.head_config:
            return self.head.per_sample_loss(z, y, {} if config is None else config)
        return self.head.per_sample_loss(z, y)

    def loss_on(self, params, x, y, l2=None, config=None) -> jax.Array:
        """J on labels as given (the same as calling the objective: no registered derivative here)."""
        return self(params, x, y, None, l2, config)

    def __call__(self, params, x, y, weights=None, l2=None, config=None) -> jax.Array:
        per_sample = self.sample_losses(self.outputs(params, x, config), y, config)
        j = jnp.mean(per_sample) if weights is None else jnp.sum(weights * per_sample) / jnp.sum(weights)
        if l2 is None or (isinstance(l2, (int, float)) and l2 == 0):
            return j
        return j + l2 * l2_term(params, self.model.l2_mask)


def objective(model: Model, head: Any, *, models: int = 1, backend: str | None = None) -> ModelObjective:
    """The ``ModelObjective`` of ``model`` and ``head``, with the engine's plan: autodiff, and every model of
    a device in one vmap (measured on the CPU, ``benchmarks/models.py``: a 72-model config sweep ran 1.19x
    plain JAX in groups of 36 and 1.00x in one vmap; the 48-model residual cell 0.97x and 0.96x)."""
    hd = heads.get(head)
    takes_config = not _takes(hd.per_sample_loss, 2) and _takes(hd.per_sample_loss, 3)
    chosen = plan.choose(backend or jax.default_backend(), (1, 1), models=models, available=False)
    return ModelObjective(model, hd, chosen._replace(group=None), takes_config)


def check_config(config: Any, dtype: Any, name: str = "config") -> dict[str, jax.Array]:
    """``config`` (name -> real scalar) as traced arrays in ``dtype``."""
    if config is None:
        return {}
    if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
        raise TypeError(f"{name}: expected a dict name -> number such as {{'scale': 0.5}}, got {config!r}")
    out = {}
    for k, v in config.items():
        if jnp.ndim(v) != 0 or not jnp.isfinite(
            jnp.asarray(v, jnp.float64 if dtype == jnp.float64 else None)
        ):
            raise ValueError(f"{name}[{k!r}]: expected one finite real number, got {v!r}")
        out[k] = jnp.asarray(v, dtype)
    return out


def output_width(model: Model, params: Any, x: Any, config: dict[str, Any], name: str = "model") -> int:
    """K of ``apply(params, x, config)``, traced shapes only; a clear error unless it is (n, K)."""
    out = jax.eval_shape(model.apply, params, x, config)
    shape = getattr(out, "shape", None)
    if shape is None or len(shape) != 2 or shape[0] != jnp.shape(x)[0]:
        raise ValueError(
            f"{name}.apply: expected outputs of shape (n={jnp.shape(x)[0]}, K), got "
            f"{shape if shape is not None else type(out).__name__}"
        )
    return int(shape[1])
