"""Every model's learning curves, measured inside the sweep: loss and accuracy on each evaluation set at the
logged steps t_0 = start, t_0 + k, ..., and early stopping per model.

At a logged step t every model (c, j) is measured on its parameters theta_t,

    <set>_loss[c, j] = (1/n) sum_i l(f(x_i; theta_t), y_i),   <set>_accuracy[c, j] = (1/n) #{argmax = y_i},

in one compiled call over the whole (configuration, seed) grid, on the devices that hold the models; the
rows stay there until the sweep ends. So a run that keeps one model of a sweep has its curves already: no
model is trained twice.

Early stopping (``patience=N``) follows ``funcmlp.early_stopping`` model by model: a row improves on a
model's best when its validation accuracy is higher, or equal with a lower validation loss (the linear
head: the loss alone is lower; a NaN never improves). Each model keeps the parameters of its best row and
counts the rows since; the sweep stops when every model has waited N rows, and each model's result is its
best row's parameters.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from funcmlp import checks
from funcmlp.early_stopping import MONITOR
from funcmlp.sweeps.mesh import to_host


def set_metrics(
    params, sets, names, set_axes, objective, extra=None, config=None, state=None
) -> dict[str, jax.Array]:
    """``<name>_loss`` and ``<name>_accuracy`` (NaN for the linear head) of every model of a (C, S) grid of
    ``params`` on each (x, y) of ``sets``; ``set_axes``: 0 for a set with a leading seed axis, else None.
    ``extra`` = (fn, l2, l2_axis): also ``fn(params, grads)`` of every model, grads = dJ/dtheta of the data
    loss plus 0.5 l2 sum ||W||^2 on the first set (the training data), l2 per configuration with
    ``l2_axis``, or ``fn(params, grads, opt_state, step, batch)`` (``checks.check_metrics``) with
    ``state`` = (opt_state (C, S, ...), step) and batch = that (x, y). ``config``: the models' config
    values (C, S) (``funcmlp.models``), or None."""
    opt_state, step = (None, None) if state is None else state

    def one(p, sets, l2, c, o):
        out = {}
        for name, (x, y) in zip(names, sets, strict=True):
            z = objective.outputs(p, x, c)
            value = jnp.mean(objective.sample_losses(z, y, c))
            accuracy = jnp.mean(objective.head.predict(z) == y) if objective.head.classifies else jnp.nan
            out[f"{name}_loss"], out[f"{name}_accuracy"] = value, jnp.asarray(accuracy, value.dtype)
        if extra is not None:
            x, y = sets[0]

            grads = jax.grad(lambda q: objective.loss_on(q, x, y, l2, c))(p)
            args = (p, grads, o, step, (x, y)) if checks.check_metrics(extra[0]) else (p, grads)
            out |= dict(extra[0](*args))
        return out

    fn, l2, l2_axis = (None, None, False) if extra is None else extra
    config = {} if config is None else config
    per_seed = jax.vmap(one, in_axes=(0, tuple((a, a) for a in set_axes), None, 0, 0))
    per_config = jax.vmap(per_seed, in_axes=(0, None, 0 if l2_axis else None, 0, 0))
    return per_config(params, sets, l2, config, opt_state)


@partial(jax.jit, static_argnames=("names", "set_axes", "objective", "fn", "l2_axis"))
def measure(
    params, sets, l2, config=None, state=None, *, names, set_axes, objective, fn=None, l2_axis=False
) -> dict[str, jax.Array]:
    """``set_metrics`` compiled: one row of every model's curves (``state``: (opt_state, step) or None)."""
    extra = None if fn is None else (fn, l2, l2_axis)
    return set_metrics(params, sets, names, set_axes, objective, extra, config, state)


def norms(params: Any, grads: Any) -> dict[str, jax.Array]:
    """Every leaf's gradient norm ||dJ/dtheta_k|| and parameter norm ||theta_k|| (Frobenius), named by
    its path in the pytree: ``grad_norm/0/w``, ``param_norm/0/w``, ... (a ``metrics=`` function)."""
    out = {}
    flat = jax.tree_util.tree_flatten_with_path(grads)[0]
    for (path, g), p in zip(flat, jax.tree.leaves(params), strict=True):
        name = "/".join(str(getattr(k, "key", getattr(k, "idx", getattr(k, "name", k)))) for k in path)
        out[f"grad_norm/{name}"] = jnp.sqrt(jnp.sum(jnp.square(g)))
        out[f"param_norm/{name}"] = jnp.sqrt(jnp.sum(jnp.square(p)))
    return out


class Best(NamedTuple):
    """Each model's best logged row so far (arrays (C, S, ...)): its validation accuracy and loss, step and
    parameters, and the rows logged since."""

    accuracy: jax.Array
    loss: jax.Array
    step: jax.Array
    params: Any
    waited: jax.Array


def _key(row: dict[str, jax.Array]) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(accuracy, loss, finite) of a row's validation metrics, ordered so that higher accuracy, then lower
    loss, is better; the linear head's accuracy (NaN) is -inf for every model, so its loss decides."""
    acc, loss = row[f"{MONITOR}_accuracy"], row[f"{MONITOR}_loss"]
    has_acc = ~jnp.all(jnp.isnan(acc))
    finite = ~jnp.isnan(loss) & (~jnp.isnan(acc) | ~has_acc)
    return jnp.where(finite & has_acc, acc, -jnp.inf), jnp.where(finite, loss, jnp.inf), finite


def first_best(row: dict[str, jax.Array], params: Any, step: int) -> Best:
    """The best row of every model after the first logged row (the first row is every model's best)."""
    acc, loss, _ = _key(row)
    return Best(acc, loss, jnp.full(loss.shape, step, jnp.int32), params, jnp.zeros(loss.shape, jnp.int32))


@jax.jit
def update_best(best: Best, row: dict[str, jax.Array], params: Any, step, patience) -> Best:
    """Take the row logged at ``step``: a model whose row improves keeps these parameters and waits 0 rows;
    the others wait one row more. A model that has waited ``patience`` rows has stopped: it keeps its best."""
    acc, loss, finite = _key(row)
    active = best.waited < patience
    better = active & finite & ((acc > best.accuracy) | ((acc == best.accuracy) & (loss < best.loss)))

    def pick(new, old):
        b = better.reshape(better.shape + (1,) * (new.ndim - better.ndim))
        return jnp.where(b, new, old)

    return Best(
        jnp.where(better, acc, best.accuracy),
        jnp.where(better, loss, best.loss),
        jnp.where(better, step, best.step).astype(jnp.int32),
        jax.tree.map(pick, params, best.params),
        jnp.where(better, 0, jnp.where(active, best.waited + 1, best.waited)).astype(jnp.int32),
    )


class Curves:
    """The rows logged so far (on the devices) and, with ``patience``, every model's best row.

    Args:
      sets: name -> (x, y) placed on the mesh; ``set_axes``: 0 per set with a leading seed axis.
      objective: the group's engine objective (its activation and head); patience: None or a positive int.
      metrics, train_l2: ``metrics(params, grads)`` (or ``metrics(params, grads, opt_state, step, batch)``)
        and (l2, l2_axis) of the training objective (``measure``).
      config: the models' config values, name -> (C_pad, S_pad), or None.
    """

    def __init__(
        self,
        sets,
        set_axes,
        objective,
        patience: int | None,
        metrics=None,
        train_l2=(None, False),
        config=None,
    ):
        self.names, self.sets, self.config = tuple(sets), tuple(sets.values()), config
        self.set_axes, self.objective, self.patience = tuple(set_axes), objective, patience
        self.metrics, (self.l2, self.l2_axis) = metrics, train_l2
        self.takes_state = checks.check_metrics(metrics)  # whether rows pass it (opt_state, step)
        self.steps: list[int] = []
        self.rows: list[dict[str, jax.Array]] = []
        self.best: Best | None = None

    def log(self, step: int, params: Any, opt_state: Any = None) -> bool:
        """Measure every model at ``step`` (its optimizer states go to a ``metrics`` function that takes
        them); True when patience has run out for every model."""
        if self.steps and self.steps[-1] == step:
            return False
        state = (opt_state, np.int32(step)) if self.takes_state else None
        row = measure(
            params, self.sets, self.l2, self.config, state, names=self.names, set_axes=self.set_axes,
            objective=self.objective, fn=self.metrics, l2_axis=self.l2_axis,
        )  # fmt: skip
        self.steps.append(int(step))
        self.rows.append(row)
        if self.patience is None:
            return False
        if self.best is None:
            self.best = first_best(row, params, step)
            return False
        self.best = update_best(self.best, row, params, jnp.int32(step), jnp.int32(self.patience))
        return bool(jnp.all(self.best.waited >= self.patience))

    def columns(self, unfold) -> dict[str, Any]:
        """``step`` (rows,) and every metric as an array (*grid, seeds, rows), ``unfold`` taking (C_pad,
        S_pad, ...) to (*grid, seeds, ...)."""
        out: dict[str, Any] = {"step": np.asarray(self.steps, np.int64)}
        own = [f"{s}_{m}" for s in self.names for m in ("loss", "accuracy")]
        for name in own + sorted(set(self.rows[0] if self.rows else ()) - set(own)):
            out[name] = unfold(jnp.stack([r[name] for r in self.rows], axis=-1))
        return out


def stopping(best: Best | None, patience: int | None, unfold) -> dict[str, Any]:
    """Per model (*grid, seeds): ``best_step`` and whether patience ran out (``stopped``), for the result."""
    if best is None:
        return {}
    return {"best_step": unfold(best.step), "stopped": unfold(best.waited >= patience)}


def model_history(columns: dict[str, Any], index: tuple[int, ...]) -> dict[str, np.ndarray]:
    """One model's curves (the rows of a run's metrics.csv) from a group's ``history`` columns."""
    out = {"step": np.asarray(columns["step"], np.float64)}
    for name, values in columns.items():
        if name != "step":
            out[name] = np.asarray(to_host(values)[index], np.float64)
    return out


def joined_history(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """A resumed sweep's whole history: the earlier call's rows, then this call's (its first row, at the
    step the earlier call ended on, is that call's last row and is dropped)."""
    if set(before) != set(after):
        return after
    drop = 1 if len(before["step"]) and len(after["step"]) and before["step"][-1] == after["step"][0] else 0
    out = {"step": np.concatenate([np.asarray(before["step"]), np.asarray(after["step"])[drop:]])}
    for name in after:
        if name != "step":
            old, new = np.asarray(to_host(before[name])), np.asarray(to_host(after[name]))
            out[name] = np.concatenate([old, new[..., drop:]], axis=-1)
    return out
