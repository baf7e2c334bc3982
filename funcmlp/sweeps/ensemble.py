"""Ensembles of a sweep's seeds: the average of the predicted probabilities of the top k seeds of one
configuration,

    p(x) = (1/k) sum_{j in top k} softmax(z^L(theta_j; x))      (sigmoid: the mean of sigma(z)),

with the seeds ranked by the sweep's metric (``SweepResult.metric``: validation accuracy when there was
validation data). The k networks run as one ``vmap`` over their stacked parameters.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from funcmlp import activations, checks, heads
from funcmlp.mlp import Params, apply
from funcmlp.models import check_model
from funcmlp.sweeps.mesh import to_host
from funcmlp.sweeps.results import SweepResult


class Ensemble(NamedTuple):
    """The members of an ensemble: stacked parameters (leading axis k), which seeds, and how to run them.

    Attributes:
      params: ``[{"w": (k, d_{l-1}, d_l), "b": (k, d_l)}, ...]`` of the chosen seeds, best first.
      seeds: the seeds' indices j.
      configuration: the configuration's values (as ``SweepResult.best_configuration`` gives them).
      activation, head: names.
    """

    params: Params
    seeds: tuple[int, ...]
    configuration: dict[str, Any]
    activation: str
    head: str


def top_seeds(
    result: SweepResult, k: int | None = None, configuration: dict[str, Any] | None = None
) -> Ensemble:
    """The ``k`` best seeds (default: all) of ``configuration`` (default: ``result.best_configuration()``),
    ranked as ``SweepResult.best`` ranks them (``result.metric``, then the loss; diverged last)."""
    if not isinstance(result, SweepResult):
        raise TypeError(f"result: expected a SweepResult, got {type(result).__name__}")
    k = result.seeds if k is None else checks.check_positive_int(k, "k")
    if k > result.seeds:
        raise ValueError(f"k: expected at most the sweep's {result.seeds} seeds, got {k}")
    configuration = result.best_configuration() if configuration is None else configuration
    found = [c for c in result.configurations() if result.configuration(*c) == configuration]
    if not found:
        raise ValueError(f"configuration: expected one of this sweep's configurations, got {configuration!r}")
    g, index = found[0]
    group = result.groups[g]
    sign = 1.0 if "loss" in result.metric else -1.0
    m = np.asarray(to_host(group.metrics[result.metric])[index], np.float64)
    tie = np.asarray(to_host(group.metrics[result.metric.replace("accuracy", "loss")])[index], np.float64)
    diverged = to_host(group.diverged_at)[index] >= 0

    def rank(j):  # as SweepResult.best: not diverged, best metric, then lowest loss
        return bool(diverged[j]), np.nan_to_num(sign * m[j], nan=np.inf), np.nan_to_num(tie[j], nan=np.inf)

    order = sorted(range(result.seeds), key=rank)
    chosen = tuple(order[:k])
    params = jax.tree.map(lambda a: jnp.asarray(to_host(a)[index][np.asarray(chosen)]), group.params)
    return Ensemble(params, chosen, configuration, group.activation, result.head)


def probabilities(
    ensemble: Ensemble, x: jax.Array, *, activation: Any = None, model: Any = None
) -> jax.Array:
    """p(x) (n, K): the members' predicted probabilities averaged (one vmap over the members).

    ``activation``: the function, when the sweep used one of your own (``ensemble.activation`` is its name);
    ``model``: the ``funcmlp.Model`` of a sweep of your own model, run with the configuration's numbers as
    its config.
    """
    hd = heads.get(ensemble.head)
    if hd.probabilities is None:
        raise ValueError(f"ensemble: head {hd.name!r} has no probabilities; average predictions instead")
    if model is not None:
        model = check_model(model)
        config = {k: v for k, v in ensemble.configuration.items() if isinstance(v, (int, float))}
        dtype = jax.tree.leaves(ensemble.params)[0].dtype
        member = jax.vmap(lambda p: hd.probabilities(model.apply(p, jnp.asarray(x, dtype), config)))
        return jnp.mean(member(ensemble.params), axis=0)
    if not isinstance(ensemble.params, list):
        raise ValueError("model: expected the funcmlp.Model of this sweep of your own model, got None")
    act = activations.get(ensemble.activation if activation is None else activation)
    d_in = ensemble.params[0]["w"].shape[1]
    checks.check_x(x, d_in)
    x = jnp.asarray(x, ensemble.params[0]["w"].dtype)
    member = jax.vmap(lambda p: hd.probabilities(apply(p, x, act.fn)))
    return jnp.mean(member(ensemble.params), axis=0)


def predict(ensemble: Ensemble, x: jax.Array, *, activation: Any = None, model: Any = None) -> jax.Array:
    """The ensemble's classes: argmax_k p_k(x) (for the sigmoid head, p = (1 - p_1, p_1): 1[p_1 > 0.5])."""
    return jnp.argmax(probabilities(ensemble, x, activation=activation, model=model), axis=-1).astype(
        jnp.int32
    )
