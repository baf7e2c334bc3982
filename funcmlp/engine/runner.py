"""The chunked runner: steps in chunks of fast steps, one finiteness check per chunk, and the end of a call.

A call of ``length`` steps runs as equal chunks of at most ``CHUNK`` steps. Each chunk first runs without the
divergence rule (``core.step(careful=False)``); it is kept when every model is clean (had not diverged, every
loss and final parameter finite, the chunk wholly before ``data.end``), else it is redone from its start
with the rule at every step. After the last chunk, ``settle`` applies the rule to the call's last update.

Two entry points share these pieces:

* ``run``: the careful copy of a chunk is compiled into the program, behind a ``lax.cond``;
* ``run_fast``: only fast chunks, and a flag ``clean``. Where it is true the result is ``run``'s; where it is
  false the caller calls ``run`` with the same arguments. A program without the careful copy compiles in
  about half the time, and most calls never need the careful one:

      state2, losses, clean = jit(run_fast)(state, data, start, ...)
      if not clean:  # a divergence, or a call whose end cuts its last chunk: compile the careful copy now
          state2, losses = jit(run)(state, data, start, ...)
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from funcmlp.engine import finite, plan
from funcmlp.engine.batches import Data
from funcmlp.engine.core import Spec, TrainState, all_finite, step

# Steps per chunk: one finiteness check each (docs/performance.md).
CHUNK = 1024


def _clean(state: TrainState, fast: TrainState, values, ts, end, params: bool = True) -> jax.Array:
    """Whether fast steps ts from ``state`` (giving ``fast`` and losses ``values``) equal careful ones: the
    model had not diverged, and every loss before ``end`` and (unless ``params`` is False: the caller checks
    them) every final parameter is finite."""
    finite_run = jnp.all(jnp.isfinite(values) | (ts >= end))
    if params:
        finite_run = finite_run & all_finite(fast.params)
    return (state.diverged_at < 0) & finite_run


def in_groups(fn, tree, size: int | None):
    """``fn`` over the leading (model) axis of ``tree``, about ``size`` models at a time: ``lax.map`` over
    equal groups, and one more call for a smaller remainder group where the count has no divisor near
    ``size`` (``plan.groups``); nothing is padded. None: all at once."""
    m = jax.tree.leaves(tree)[0].shape[0]
    g, count, rest = plan.groups(m, size)
    if count == 1 and rest == 0:
        return fn(tree)
    full = jax.tree.map(lambda a: a[: g * count].reshape(count, g, *a.shape[1:]), tree)
    out = jax.tree.map(lambda a: a.reshape(g * count, *a.shape[2:]), jax.lax.map(fn, full))
    if rest == 0:
        return out
    tail = fn(jax.tree.map(lambda a: a[g * count :], tree))
    return jax.tree.map(lambda a, b: jnp.concatenate([a, b]), out, tail)


def _per_model(data: Data, per_model: tuple[str, ...]):
    """The fields of ``data`` that carry a leading model axis, and ``join``, which puts one model's slice of
    them back into ``data`` (the other fields are shared by every model)."""
    fields = {f: getattr(data, f) for f in per_model}

    def join(own):
        return data._replace(**own)

    return fields, join


def _steps(state, ts, *, spec: Spec, data: Data, models: bool, per_model, careful: bool):
    """The steps ts (k,) of one model, or vmapped over the models (fast ones in ``plan.group`` groups)."""

    def steps(s, d):
        return jax.lax.scan(partial(step, spec=spec, data=d, careful=careful), s, ts)

    if not models:
        return steps(state, data)
    own, join = _per_model(data, per_model)
    many = jax.vmap(lambda so: steps(so[0], join(so[1])))
    return many((state, own)) if careful else in_groups(many, (state, own), spec.objective.plan.group)


def _fast(state, ts, *, spec: Spec, data: Data, models: bool, per_model):
    """(state, losses, ok) of fast steps ts; ok: every model clean and the chunk wholly before the end."""
    fast, values = _steps(state, ts, spec=spec, data=data, models=models, per_model=per_model, careful=False)
    clean = jax.vmap(_clean, (0, 0, 0, None, None)) if models else _clean
    return fast, values, (ts[-1] < data.end) & jnp.all(clean(state, fast, values, ts, data.end))


def _chunk(state: TrainState, ts, *, spec: Spec, data: Data, models: bool, per_model: tuple[str, ...] = ()):
    """Steps ts (k,): fast steps, kept when every model is clean; otherwise redone carefully."""
    kw = dict(spec=spec, data=data, models=models, per_model=per_model)
    fast, values, ok = _fast(state, ts, **kw)
    return jax.lax.cond(ok, lambda: (fast, values), lambda: _steps(state, ts, **kw, careful=True))


def _unsettled(state: TrainState, *, spec: Spec, data: Data, bound: bool = True) -> jax.Array:
    """Whether the model had not diverged and its final parameters give a non-finite loss on all the data;
    with ``bound``, the loss is computed only where ``finite.surely_finite`` cannot prove it finite."""
    objective = spec.objective

    def loss_not_finite():
        return ~jnp.isfinite(objective(state.params, data.x, data.y, None, data.l2, state.config))

    if bound and finite.knows(objective.act, objective.head):
        proven = finite.surely_finite(
            state.params, data.x, data.y, data.l2, act=objective.act, head=objective.head
        )
        bad = jax.lax.cond(proven, lambda: jnp.bool_(False), loss_not_finite)
    else:
        bad = loss_not_finite()
    return (state.diverged_at < 0) & bad


def settle(state: TrainState, *, spec: Spec, data: Data, last) -> TrainState:
    """After a call's last step: a model whose final parameters give a non-finite loss on all the data
    diverged at that step (its update landed where the loss is not finite): keep the parameters before it."""
    bad = _unsettled(state, spec=spec, data=data)
    return state._replace(
        params=jax.tree.map(lambda a, b: jnp.where(bad, a, b), state.prev_params, state.params),
        diverged_at=jnp.where(bad, last, state.diverged_at).astype(jnp.int32),
    )


def _layout(data: Data, start, length: int, chunk: int):
    """(data with ``end`` cut to the call, ts (n_chunks, k)): the call's steps as equal chunks."""
    n_chunks = -(-length // chunk)
    k = -(-length // n_chunks)  # chunks as even as possible: most step counts need no padded chunk
    data = data._replace(end=jnp.minimum(data.end, start + length))
    return data, start + jnp.arange(n_chunks * k, dtype=jnp.int32).reshape(n_chunks, k)


def _losses(values, length: int, models: bool):
    if not models:
        return values.reshape(-1)[:length]
    values = jnp.moveaxis(values, 0, 1)  # (n_chunks, m, k) -> (m, n_chunks * k)
    return values.reshape(values.shape[0], -1)[:, :length]


def run(
    state: TrainState,
    data: Data,
    start,
    *,
    spec: Spec,
    length: int,
    models: bool = False,
    per_model: tuple[str, ...] = (),
    chunk=CHUNK,
):
    """Steps start .. start + length - 1 (those >= ``data.end`` are no-ops) in chunks of ``chunk`` steps.

    Pure and not jitted: ``train`` jits it, ``sweep`` runs it per device. With ``models`` the state has a
    leading model axis and the losses come back as (models, length); the data is shared by every model,
    except the fields named in ``per_model`` (of ``"x"``, ``"y"``, ``"l2"``), which have a leading model
    axis too (each model's own data set or L2 weight).

    Returns:
      ``(state, losses)``: losses (length,), or (models, length).
    """
    data, ts = _layout(data, start, length, chunk)
    chunk_fn = partial(_chunk, spec=spec, data=data, models=models, per_model=per_model)
    state, values = jax.lax.scan(chunk_fn, state, ts)
    last = data.end - 1
    if not models:
        return settle(state, spec=spec, data=data, last=last), _losses(values, length, models)
    own, join = _per_model(data, per_model)
    settled = jax.vmap(lambda s, o: settle(s, spec=spec, data=join(o), last=last))
    state = jax.lax.cond(
        _all_settled(state, spec, data, per_model), lambda: state, lambda: settled(state, own)
    )
    return state, _losses(values, length, models)


def _all_settled(state, spec: Spec, data: Data, per_model) -> jax.Array:
    """Whether no model of a model axis needs ``settle``: one ``cond`` for all (under ``vmap`` a ``cond``
    would compute both branches), the losses computed only where the bound proves not all of them finite."""
    own, join = _per_model(data, per_model)

    def exact():
        unsettled = partial(_unsettled, spec=spec, bound=False)
        return ~jnp.any(jax.vmap(lambda s, o: unsettled(s, data=join(o)))(state, own))

    if not finite.knows(spec.objective.act, spec.objective.head):
        return exact()
    proven = jax.vmap(lambda s, o: _proven(s, spec=spec, data=join(o)))(state, own)
    return jax.lax.cond(jnp.all(proven), lambda: jnp.bool_(True), exact)


def run_fast(
    state: TrainState,
    data: Data,
    start,
    *,
    spec: Spec,
    length: int,
    models: bool = False,
    per_model: tuple[str, ...] = (),
    chunk=CHUNK,
):
    """``run`` without the careful copy of a chunk: ``(state, losses, clean)``.

    Where ``clean`` (a bool scalar) is true, ``state`` and ``losses`` are exactly ``run``'s with the same
    arguments; where it is false (a model diverged or was already diverged, a chunk reaches past
    ``data.end``, or the final loss is not proven finite without a forward pass, ``_proven``), they mean
    nothing and the caller calls ``run`` with the same arguments (the module docstring). The steps after a
    divergence still run (on NaN), so such a call costs up to twice a clean one.
    """
    data, ts = _layout(data, start, length, chunk)
    # One scan over all the steps (one loop compiles faster than a loop of chunks; the steps are the same):
    # fast steps keep non-finite parameters non-finite (theta + u + 0 g), so the final parameters and all
    # the losses being finite means every chunk was clean, and one check serves the call.
    new, flat = _steps(
        state, ts.reshape(-1), spec=spec, data=data, models=models, per_model=per_model, careful=False
    )
    values = jnp.moveaxis(flat.reshape(flat.shape[0], *ts.shape), 1, 0) if models else flat.reshape(ts.shape)
    # where the bound knows the net, it proves the final parameters finite too (finite.surely_finite)
    clean = partial(_clean, params=not finite.knows(spec.objective.act, spec.objective.head))
    clean = jax.vmap(clean, (0, 0, 1, None, None)) if models else clean
    ok = (ts[-1, -1] < data.end) & jnp.all(clean(state, new, values, ts, data.end))
    state = new
    proven = partial(_proven, spec=spec)
    if models:
        own, join = _per_model(data, per_model)
        ok = ok & jnp.all(jax.vmap(lambda s, o: proven(s, data=join(o)))(state, own))
    else:
        ok = ok & proven(state, data=data)
    return state, _losses(values, length, models), ok


def _proven(state: TrainState, *, spec: Spec, data: Data) -> jax.Array:
    """Whether ``settle`` surely leaves a clean model as it is: its loss on all the data is proven finite by
    ``finite.surely_finite`` (no forward pass; not proven: ``run`` decides), or, for an activation or head
    the bound does not know, computed and finite."""
    objective = spec.objective
    if finite.knows(objective.act, objective.head):
        return finite.surely_finite(
            state.params, data.x, data.y, data.l2, act=objective.act, head=objective.head
        )
    return jnp.isfinite(objective(state.params, data.x, data.y, None, data.l2, state.config))
