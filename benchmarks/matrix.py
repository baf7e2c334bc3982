"""The benchmark matrix: funcmlp against plain JAX written the obvious way, cell by cell, in one process.

Each cell is one training problem (network sizes, data, batch size, number of models). For each, the same
initial parameters and data are trained by

* funcmlp: ``funcmlp.train`` (one model) or ``funcmlp.sweep`` (many models, one learning rate), with the
  cell's optax factory (SGD unless it says Adam);
* plain JAX: ``jax.value_and_grad(funcmlp.loss)`` and the same optimizer in ``jax.jit(lax.scan)``, with
  ``jax.vmap`` over a stack of initial parameters for many models; mini-batches are ``x[idx]`` with a fresh
  ``jax.random.permutation`` per epoch (the last partial batch of an epoch is dropped, so every step sees
  ``batch_size`` samples, as in funcmlp, whose schedule differs), and, as a second plain run of the
  mini-batch cells (``plain_randint``), with ``jax.random.randint`` indices drawn at every step;
* PyTorch, where ``import torch`` works: an eager ``torch.nn.Linear`` stack with ``torch.optim.SGD`` and
  the same batch size (single-model cells only).

Two cells leave the built-in MLP's loss: a residual model of your own (``funcmlp.Model``, 3 learning rates x
2 init scales x 8 seeds) and a config axis (focal gamma x leaky slope x 8 seeds); their funcmlp side is one
``funcmlp.sweep`` with ``model=`` / ``config=``, their plain side one ``jax.vmap`` of ``jax.value_and_grad`` +
optax over the whole grid, from ``benchmarks.models``.

What is measured: the wall time of a whole training call (``jax.block_until_ready`` on its outputs), the
median over ``repeats`` runs after one warm-up (compiling) run, with funcmlp and plain JAX (and PyTorch)
interleaved A B A B ... so that the load of a shared machine falls on both; reported per step, and per
model-step for the sweeps (time / (models * steps)). funcmlp's time includes its argument checks, and for
sweeps the initialisation of the models and their final metrics; the plain run starts from parameters built
beforehand (for the sweeps, a second funcmlp run of a quarter of the steps splits its time into that
fixed cost per call and the cost per model-step beyond it). The process CPU time of the same runs is kept
too (``*_cpu_s``). ``ratio`` is funcmlp / plain: below 1, funcmlp is faster. The first calls of
``funcmlp.train``, of the engine's two-program form and of the plain loop on the 2-4-3 cell, each in a fresh
process, give their compile-and-first-run times (``benchmarks.first_call``).

The cells and their data are in ``benchmarks.cells``, the plain-JAX loop in ``benchmarks.plain``, the
PyTorch loop in ``benchmarks.baselines``. ``run_matrix`` returns a JSON-ready dict,
``benchmarks.report.matrix_tables`` renders it with rich and ``benchmarks.timing.save`` writes it;
``python -m benchmarks --matrix`` does all three.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import jax
import numpy as np
import optax

import funcmlp
from benchmarks import baselines, first_call, timing
from benchmarks import models as own_models
from benchmarks.cells import BATCH_SEED, CELLS, INIT_SEED, Cell, cell, initial_params, make_data
from benchmarks.plain import plain_train
from funcmlp import training
from funcmlp.engine import plan as engine_plan


@dataclasses.dataclass
class Runs:
    """A cell's runs, each a no-argument call that trains from the same start and returns its outputs.

    ``losses(which, out)`` maps the output of run ``which`` ("funcmlp", "plain" or "torch") to its loss
    trajectory as a numpy array ((steps,) for one model, (models, steps) for many), so the runs can be
    checked against each other."""

    funcmlp: Callable[[], Any]
    plain: Callable[[], Any]
    torch: Callable[[], Any] | None
    losses: Callable[[str, Any], np.ndarray]
    plain_randint: Callable[[], Any] | None = None


def _funcmlp_run(c: Cell, x, y, params, steps: int) -> Callable[[], Any]:
    """funcmlp's run of cell ``c``: ``train`` for one model, ``sweep`` of ``c.models`` seeds for many."""
    factory = getattr(optax, c.optimizer)
    init_key, batch_key = jax.random.key(INIT_SEED), jax.random.key(BATCH_SEED)
    if c.models == 1:
        hp = {"learning_rate": c.lr}
        kw = dict(
            optimizer=factory, hyperparams=hp, steps=steps, batch_size=c.batch_size, batch_key=batch_key
        )
        return partial(funcmlp.train, params, x, y, **kw)
    devices = None if c.devices is None else jax.devices()[: c.devices]

    def fm():
        result = funcmlp.sweep(
            init_key,
            x,
            y,
            sizes=c.sizes,
            seeds=c.models,
            learning_rates=[c.lr],
            steps=steps,
            optimizer=factory,
            batch_size=c.batch_size,
            batch_key=batch_key,
            devices=devices,
        )
        jax.block_until_ready(result.groups)  # SweepResult is a dataclass, not a pytree
        return result

    return fm


def runs(c: Cell, steps: int, torch_steps: int | None = None) -> Runs:
    """funcmlp, plain-JAX and (where torch imports) PyTorch runs of ``steps`` steps of cell ``c``."""
    if c.kind != "mlp":  # benchmarks.models: both sides return the losses (models, steps)
        devices = None if c.devices is None else jax.devices()[: c.devices]
        (fns,) = [f for n, f in own_models.cells(steps, devices=devices).items() if n.startswith(c.kind)]
        return Runs(fns["funcmlp"], fns["plain"], None, lambda which, out: np.asarray(out))
    x, y = make_data(c)
    params = initial_params(c)
    batch_key = jax.random.key(BATCH_SEED)
    fm = _funcmlp_run(c, x, y, params, steps)

    def plain(sampling="perm"):
        return plain_train(
            params,
            x,
            y,
            batch_key,
            lr=c.lr,
            steps=steps,
            batch_size=c.batch_size,
            models=c.models > 1,
            optimizer=c.optimizer,
            sampling=sampling,
        )

    def losses(which: str, out) -> np.ndarray:
        if which == "funcmlp":
            return np.asarray(out.losses if c.models == 1 else out.groups[0].losses[0])
        if which.startswith("plain"):
            return np.asarray(out[1])
        return np.asarray(out)

    torch_run = None
    if c.models == 1 and baselines.installed("torch"):
        torch_losses = baselines.torch_losses(params, x, y, c.lr, c.batch_size)
        torch_run = partial(torch_losses, torch_steps or steps)
    randint = None if c.batch_size is None else partial(plain, "randint")
    return Runs(fm, plain, torch_run, losses, randint)


def _final_loss(losses: np.ndarray) -> float:
    """The mean over models of the last loss (the quantity both runs should agree on)."""
    return float(np.mean(losses[..., -1]))


def measure(c: Cell, *, quick: bool = False, repeats: int = 5, cold: bool = False) -> dict:
    """Time one cell (see the module docstring); ``cold``: clear JAX's caches first and report the first
    calls of funcmlp and plain JAX (compile + one run) and their difference from a warm run.

    For a sweep, ``funcmlp.sweep`` also runs (interleaved) for a quarter of the steps, k/4: a call costing
    F + s * models * steps gives its fixed cost F (checks, initialising the models, final metrics) and the
    cost s of a model-step beyond it (``sweep_fixed_s``, ``sweep_marginal_s``)."""
    steps = c.steps_for(quick)
    torch_steps = min(c.torch_steps or steps, steps) if quick else (c.torch_steps or steps)
    r = runs(c, steps, torch_steps)
    short = max(1, steps // 4)
    if cold:
        jax.clear_caches()
    fns = {"funcmlp": r.funcmlp, "plain": r.plain}
    if r.plain_randint is not None:
        fns["plain_randint"] = r.plain_randint
    if r.torch is not None:
        fns["torch"] = r.torch
    if c.models > 1 and short < steps:
        fns["funcmlp_short"] = runs(c, short).funcmlp
    t = timing.interleaved(fns, repeats)
    per = c.models * steps
    row: dict[str, Any] = {
        "name": c.name,
        "per": "model-step" if c.models > 1 else "step",
        "sizes": list(c.sizes),
        "n": c.n,
        "batch_size": c.batch_size,
        "models": c.models,
        "lr": c.lr,
        "optimizer": c.optimizer,
        "steps": steps,
        "funcmlp_s": t["funcmlp"]["wall"] / per,
        "plain_s": t["plain"]["wall"] / per,
        "torch_s": None,
        "funcmlp_cpu_s": t["funcmlp"]["cpu"] / per,
        "plain_cpu_s": t["plain"]["cpu"] / per,
        "funcmlp_run_s": t["funcmlp"]["wall"],
        "plain_run_s": t["plain"]["wall"],
        "funcmlp_final_loss": _final_loss(r.losses("funcmlp", t["funcmlp"]["out"])),
        "plain_final_loss": _final_loss(r.losses("plain", t["plain"]["out"])),
        "plan": plan_of(c)._asdict(),
        "groups": list(groups_of(c)),
    }
    row["ratio"] = row["funcmlp_s"] / row["plain_s"]
    row["cpu_ratio"] = row["funcmlp_cpu_s"] / row["plain_cpu_s"]
    row |= _optional_rows(t, per, row["funcmlp_s"], torch_steps)
    if "funcmlp_short" in t:
        slope = (t["funcmlp"]["wall"] - t["funcmlp_short"]["wall"]) / (steps - short)
        row["sweep_short_steps"] = short
        row["sweep_fixed_s"] = t["funcmlp"]["wall"] - slope * steps
        row["sweep_marginal_s"] = slope / c.models
    if cold:
        row["first_call_s"] = {k: t[k]["first"] for k in ("funcmlp", "plain")}
        row["compile_s"] = {k: t[k]["first"] - t[k]["wall"] for k in ("funcmlp", "plain")}
    return row


def _optional_rows(t: dict, per: int, funcmlp_s: float, torch_steps: int) -> dict:
    """The randint baseline's and PyTorch's entries of a row, where they ran."""
    row: dict[str, Any] = {}
    if "plain_randint" in t:
        row["plain_randint_s"] = t["plain_randint"]["wall"] / per
        row["ratio_randint"] = funcmlp_s / row["plain_randint_s"]
    if "torch" in t:
        row["torch_s"] = t["torch"]["wall"] / torch_steps
        row["torch_steps"] = torch_steps
    return row


def plan_of(c: Cell):
    """The ``funcmlp.plan.Plan`` that funcmlp chooses for a cell on the default backend."""
    models = c.models
    if models > 1:  # a sweep plans for each device's share of the models
        models = -(-models // (c.devices or len(jax.devices())))
    if c.kind == "custom model":
        model = funcmlp.Model(own_models.residual_init, own_models.residual_apply)
        return funcmlp.models.objective(model, "softmax", models=models).plan
    act, head = (own_models.leaky, own_models.focal) if c.kind == "config axis" else ("relu", "softmax")
    return training.make_objective(act, head, c.sizes, models=models, batch_size=c.batch_size).plan


def groups_of(c: Cell) -> tuple[int, int, int]:
    """(size, count, rest) of the model groups of a device's share of a sweep cell (``plan.groups``)."""
    per_device = -(-c.models // (c.devices or len(jax.devices())))
    return engine_plan.groups(per_device, plan_of(c).group)


def run_matrix(*, quick: bool = False, repeats: int = 5, names: Sequence[str] | None = None) -> dict:
    """Every cell (or those in ``names``) timed as in the module docstring; a JSON-ready dict.

    Args:
      quick: the cells' ``quick_steps`` (a few steps: checks that everything runs; the times mean little).
      repeats: timed runs per implementation and cell (the median is kept).
      names: cell names to run; default all of ``CELLS``.

    Returns:
      {"backend", "device_kind", "devices", "jax", "torch", "machine", "compilation_cache_dir",
      "load_average" (start, end), "quick", "repeats", "cells": [row, ...], "compile": {...} (when the
      2-4-3 train cell ran), "total_s"}. A row has the cell's definition, ``funcmlp_s``, ``plain_s`` and
      ``torch_s`` (seconds per step or model-step, ``per``), ``ratio`` = funcmlp_s / plain_s, the same for
      process CPU time (``*_cpu_s``, ``cpu_ratio``), the whole runs' wall times (``*_run_s``), the final
      losses of the warm-up runs, and funcmlp's ``plan`` (``funcmlp.plan.Plan``) for the cell.
    """
    t0 = time.perf_counter()
    chosen = CELLS if names is None else tuple(cell(n) for n in names)
    start_load = timing.load_average()
    rows = [measure(c, quick=quick, repeats=repeats) for c in chosen]
    result: dict[str, Any] = {
        "backend": jax.default_backend(),
        "device_kind": jax.devices()[0].device_kind,
        "devices": len(jax.devices()),
        "jax": jax.__version__,
        "torch": _torch_version(),
        "machine": timing.machine(),
        # with a persistent compilation cache a first call may load compiled programs from disk
        "compilation_cache_dir": jax.config.jax_compilation_cache_dir,
        "load_average": [start_load, timing.load_average()],
        "quick": quick,
        "repeats": repeats,
        "cells": rows,
    }
    if any(c.name == "2-4-3 train" for c in chosen):
        result["compile"] = first_call.measure("2-4-3 train", repeats=1 if quick else 5)
    result["total_s"] = time.perf_counter() - t0
    return result


def _torch_version() -> str | None:
    if not baselines.installed("torch"):
        return None
    import torch

    return torch.__version__
