"""The benchmark matrix: funcmlp against plain JAX written the obvious way, cell by cell, in one process.

Each cell is one training problem (network sizes, data, batch size, number of models). For each, the same
initial parameters and data are trained by

* funcmlp: ``funcmlp.train`` (one model) or ``funcmlp.sweep`` (many models, one learning rate), plain SGD;
* plain JAX: ``jax.value_and_grad(funcmlp.loss)`` and ``optax.sgd`` in ``jax.jit(lax.scan)``, with
  ``jax.vmap`` over a stack of initial parameters for many models; mini-batches are ``x[idx]`` with a fresh
  ``jax.random.permutation`` per epoch (the last partial batch of an epoch is dropped, so every step sees
  ``batch_size`` samples, as in funcmlp, whose schedule differs);
* PyTorch, where ``import torch`` works: an eager ``torch.nn.Linear`` stack with ``torch.optim.SGD`` and
  the same batch size (single-model cells only).

What is measured: the wall time of a whole training call (``jax.block_until_ready`` on its outputs), the
median over ``repeats`` runs after one warm-up (compiling) run, with funcmlp and plain JAX (and PyTorch)
interleaved A B A B ... so that the load of a shared machine falls on both; reported per step, and per
model-step for the sweeps (time / (models * steps)). funcmlp's time includes its argument checks, and for
sweeps the initialisation of the models and their final metrics; the plain run starts from parameters built
beforehand (for the sweeps, a second funcmlp run of a quarter of the steps splits its time into that
fixed cost per call and the cost per model-step beyond it). The process CPU time of the same runs is kept
too (``*_cpu_s``). ``ratio`` is funcmlp / plain: below 1, funcmlp is faster. The first call of
``funcmlp.train`` and of the plain loop on the 2-4-3 cell, after ``jax.clear_caches()``, gives their
compile-and-first-run time (with a persistent compilation cache, as the command line sets up unless
``FUNCMLP_NO_CACHE=1``, a first call may load a compiled program from disk instead).

``run_matrix`` returns a JSON-ready dict, ``tables`` renders it with rich and ``save`` writes it;
``python -m benchmarks --matrix`` does all three.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import funcmlp
from funcmlp import data as datasets
from funcmlp import training


@dataclasses.dataclass(frozen=True)
class Cell:
    """One training problem of the matrix.

    Attributes:
      name: the row's name.
      sizes: layer widths (d_0, ..., d_L).
      data: ``"spiral"`` (the 300-point lecture spiral; needs d_0 = 2, d_L = 3) or ``"synthetic"``
        (x ~ N(0, 1) of shape (n, d_0), labels uniform in [0, d_L)).
      n: number of samples.
      lr: SGD learning rate.
      steps: optimizer steps per timed run; quick_steps: in the quick mode.
      batch_size: None for full batch; with a batch size, steps must be whole epochs of the plain loop
        (multiples of n // batch_size).
      models: 1 for ``funcmlp.train``; more for ``funcmlp.sweep`` (seeds = models, one learning rate).
      torch_steps: steps per timed PyTorch run (an eager loop is slower on small nets); None: ``steps``.
    """

    name: str
    sizes: tuple[int, ...]
    data: str
    n: int
    lr: float
    steps: int
    quick_steps: int
    batch_size: int | None = None
    models: int = 1
    torch_steps: int | None = None

    def __post_init__(self):
        if self.batch_size is not None:
            epoch = self.n // self.batch_size
            for k in (self.steps, self.quick_steps, self.torch_steps or epoch):
                if k % epoch:
                    raise ValueError(f"{self.name}: steps {k} are not whole epochs of {epoch} batches")

    def steps_for(self, quick: bool) -> int:
        return self.quick_steps if quick else self.steps


# Step counts: each timed run takes about 0.2-1 s on the project's machine (2 Xeon cores) when it is
# quiet, and up to 2.5x longer under load.
CELLS: tuple[Cell, ...] = (
    Cell("2-4-3 train", (2, 4, 3), "spiral", 300, 1.0, 40_000, 20, torch_steps=2_000),
    Cell("2-4-3 sweep x1024", (2, 4, 3), "spiral", 300, 1.0, 60, 3, models=1024),
    Cell("2-4-3 sweep x16384", (2, 4, 3), "spiral", 300, 1.0, 4, 2, models=16384),
    Cell("2-64-64-3 full batch", (2, 64, 64, 3), "spiral", 300, 0.1, 2_000, 20, torch_steps=1_000),
    Cell("784-512-512-10 batch 128", (784, 512, 512, 10), "synthetic", 2048, 0.01, 96, 16, batch_size=128),
    Cell("784-512-512-10 full batch", (784, 512, 512, 10), "synthetic", 2048, 0.01, 6, 2),
    Cell(
        "20-32-2 batch 32", (20, 32, 2), "synthetic", 5000, 0.1, 15_600, 156, batch_size=32, torch_steps=1_560
    ),
)


def cell(name: str) -> Cell:
    """The cell of ``CELLS`` called ``name``."""
    for c in CELLS:
        if c.name == name:
            return c
    raise ValueError(f"cell: expected one of {[c.name for c in CELLS]}, got {name!r}")


def make_data(c: Cell) -> tuple[jax.Array, jax.Array]:
    """(x float32 (n, d_0), y int32 (n,)) of a cell, always drawn from the same keys."""
    if c.data == "spiral":
        return datasets.spiral(jax.random.key(0), c.n // 3)
    kx, ky = jax.random.split(jax.random.key(0))
    x = jax.random.normal(kx, (c.n, c.sizes[0]), jnp.float32)
    return x, jax.random.randint(ky, (c.n,), 0, c.sizes[-1], jnp.int32)


# Seeds of the initial parameters (for a sweep: of funcmlp.sweep's key) and of the mini-batch shuffles.
INIT_SEED, BATCH_SEED = 1, 2


@partial(jax.jit, static_argnames=("sizes", "models"))
def _stacked_init(key, *, sizes, models):
    """The initial parameters of ``funcmlp.sweep``'s models: init_params(split(key, models)[j])."""
    return jax.vmap(lambda k: funcmlp.init_params(k, sizes))(jax.random.split(key, models))


def initial_params(c: Cell):
    """One model's parameters (``funcmlp.init_params``), or the stack of the sweep's ``models`` models."""
    if c.models == 1:
        return funcmlp.init_params(jax.random.key(INIT_SEED), c.sizes)
    return _stacked_init(jax.random.key(INIT_SEED), sizes=c.sizes, models=c.models)


# -- plain JAX: the obvious loop ---------------------------------------------------------------------------


def _plain_loop(params, x, y, key, *, lr: float, steps: int, batch_size: int | None):
    """SGD on ``funcmlp.loss`` in ``lax.scan``; returns (params, losses (steps,))."""
    opt = optax.sgd(lr)

    def step(carry, batch):
        p, s = carry
        xb, yb = batch
        loss, g = jax.value_and_grad(funcmlp.loss)(p, xb, yb)
        u, s = opt.update(g, s, p)
        return (optax.apply_updates(p, u), s), loss

    carry = (params, opt.init(params))
    if batch_size is None:
        (params, _), losses = jax.lax.scan(lambda c, _: step(c, (x, y)), carry, length=steps)
        return params, losses
    n = x.shape[0]
    per_epoch = n // batch_size

    def epoch(carry, e):
        perm = jax.random.permutation(jax.random.fold_in(key, e), n)
        idx = perm[: per_epoch * batch_size].reshape(per_epoch, batch_size)
        return jax.lax.scan(lambda c, i: step(c, (x[i], y[i])), carry, idx)

    (params, _), losses = jax.lax.scan(epoch, carry, jnp.arange(steps // per_epoch))
    return params, losses.reshape(-1)


@partial(jax.jit, static_argnames=("lr", "steps", "batch_size", "models"))
def plain_train(params, x, y, key, *, lr: float, steps: int, batch_size: int | None, models: bool):
    """The plain-JAX run of a cell: ``jit(scan)`` of value_and_grad + optax, ``jit(vmap(scan))`` with
    ``models`` (params with a leading model axis). Returns (params, losses (steps,) or (models, steps))."""
    loop = partial(_plain_loop, lr=lr, steps=steps, batch_size=batch_size)
    if models:
        return jax.vmap(loop, in_axes=(0, None, None, None))(params, x, y, key)
    return loop(params, x, y, key)


# -- the runs of a cell ------------------------------------------------------------------------------------


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


def runs(c: Cell, steps: int, torch_steps: int | None = None) -> Runs:
    """funcmlp, plain-JAX and (where torch imports) PyTorch runs of ``steps`` steps of cell ``c``."""
    x, y = make_data(c)
    params = initial_params(c)
    sgd = {"learning_rate": c.lr}
    init_key, batch_key = jax.random.key(INIT_SEED), jax.random.key(BATCH_SEED)

    if c.models == 1:

        def fm():
            return funcmlp.train(
                params,
                x,
                y,
                optimizer=optax.sgd,
                hyperparams=sgd,
                steps=steps,
                batch_size=c.batch_size,
                key=batch_key,
            )
    else:

        def fm():
            result = funcmlp.sweep(
                init_key,
                x,
                y,
                sizes=c.sizes,
                seeds=c.models,
                learning_rates=[c.lr],
                steps=steps,
                optimizer=optax.sgd,
                batch_size=c.batch_size,
                batch_key=batch_key,
            )
            jax.block_until_ready(result.groups)  # SweepResult is a dataclass, not a pytree
            return result

    def plain():
        return plain_train(
            params, x, y, batch_key, lr=c.lr, steps=steps, batch_size=c.batch_size, models=c.models > 1
        )

    def losses(which: str, out) -> np.ndarray:
        if which == "funcmlp":
            return np.asarray(out.losses if c.models == 1 else out.groups[0].losses[0])
        if which == "plain":
            return np.asarray(out[1])
        return np.asarray(out)

    torch_run = None
    if c.models == 1 and _torch_available():
        torch_run = _torch_run(c, params, x, y, torch_steps or steps)
    return Runs(fm, plain, torch_run, losses)


def _torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def _torch_run(c: Cell, params, x, y, steps: int) -> Callable[[], np.ndarray]:
    """PyTorch eager: ``nn.Linear`` layers with ReLU, ``optim.SGD``, cross-entropy; a fresh ``randperm`` per
    epoch for mini-batches (last partial batch dropped). Returns the loss of every step."""
    import torch

    xt = torch.from_numpy(np.asarray(x, np.float32))
    yt = torch.from_numpy(np.asarray(y, np.int64))
    n, bs = xt.shape[0], c.batch_size
    per_epoch = 1 if bs is None else n // bs

    def run() -> np.ndarray:
        layers: list[torch.nn.Module] = []
        for i, layer in enumerate(params):
            lin = torch.nn.Linear(*layer["w"].shape)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.array(layer["w"], np.float32).T))
                lin.bias.copy_(torch.from_numpy(np.array(layer["b"], np.float32)))
            layers += [lin, torch.nn.ReLU()] if i < len(params) - 1 else [lin]
        net = torch.nn.Sequential(*layers)
        opt = torch.optim.SGD(net.parameters(), lr=c.lr)
        gen, perm, out = torch.Generator().manual_seed(0), None, []
        for t in range(steps):
            xb, yb = xt, yt
            if bs is not None:
                if t % per_epoch == 0:
                    perm = torch.randperm(n, generator=gen)
                idx = perm[(t % per_epoch) * bs : (t % per_epoch + 1) * bs]
                xb, yb = xt[idx], yt[idx]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(xb), yb)
            loss.backward()
            opt.step()
            out.append(loss.detach())
        return torch.stack(out).numpy()

    return run


# -- timing ------------------------------------------------------------------------------------------------


def _timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall s, process CPU s, output) of one call, waiting for its device work to finish."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = jax.block_until_ready(fn())
    return time.perf_counter() - w0, time.process_time() - c0, out


def interleaved(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, dict]:
    """Median wall and CPU time of each function over ``repeats`` calls after one warm-up call each, the
    calls interleaved (A B A B ...). Returns name -> {"wall", "cpu", "first", "out"} ("first": the warm-up
    call's wall time; "out": its output)."""
    first = {name: _timed(fn) for name, fn in fns.items()}
    walls: dict[str, list[float]] = {name: [] for name in fns}
    cpus: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            wall, cpu, _ = _timed(fn)
            walls[name].append(wall)
            cpus[name].append(cpu)
    return {
        name: {
            "wall": statistics.median(walls[name]),
            "cpu": statistics.median(cpus[name]),
            "first": first[name][0],
            "out": first[name][2],
        }
        for name in fns
    }


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
    if r.torch is not None:
        fns["torch"] = r.torch
    if c.models > 1 and short < steps:
        fns["funcmlp_short"] = runs(c, short).funcmlp
    t = interleaved(fns, repeats)
    per = c.models * steps
    row: dict[str, Any] = {
        "name": c.name,
        "per": "model-step" if c.models > 1 else "step",
        "sizes": list(c.sizes),
        "n": c.n,
        "batch_size": c.batch_size,
        "models": c.models,
        "lr": c.lr,
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
    }
    row["ratio"] = row["funcmlp_s"] / row["plain_s"]
    row["cpu_ratio"] = row["funcmlp_cpu_s"] / row["plain_cpu_s"]
    if "torch" in t:
        row["torch_s"] = t["torch"]["wall"] / torch_steps
        row["torch_steps"] = torch_steps
    if "funcmlp_short" in t:
        slope = (t["funcmlp"]["wall"] - t["funcmlp_short"]["wall"]) / (steps - short)
        row["sweep_short_steps"] = short
        row["sweep_fixed_s"] = t["funcmlp"]["wall"] - slope * steps
        row["sweep_marginal_s"] = slope / c.models
    if cold:
        row["first_call_s"] = {k: t[k]["first"] for k in ("funcmlp", "plain")}
        row["compile_s"] = {k: t[k]["first"] - t[k]["wall"] for k in ("funcmlp", "plain")}
    return row


def plan_of(c: Cell):
    """The ``funcmlp.plan.Plan`` that funcmlp chooses for a cell on the default backend."""
    models = c.models
    if models > 1:  # a sweep plans for each device's share of the models
        models = -(-models // len(jax.devices()))
    return training.make_objective("relu", "softmax", c.sizes, models=models, batch_size=c.batch_size).plan


def _load_average() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


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
    from benchmarks import bench

    t0 = time.perf_counter()
    chosen = CELLS if names is None else tuple(cell(n) for n in names)
    start_load = _load_average()
    rows = [measure(c, quick=quick, repeats=repeats, cold=c.name == "2-4-3 train") for c in chosen]
    result: dict[str, Any] = {
        "backend": jax.default_backend(),
        "device_kind": jax.devices()[0].device_kind,
        "devices": len(jax.devices()),
        "jax": jax.__version__,
        "torch": _torch_version(),
        "machine": bench.machine(),
        # with a persistent compilation cache (the command line sets one) a first call may load programs
        "compilation_cache_dir": jax.config.jax_compilation_cache_dir,
        "load_average": [start_load, _load_average()],
        "quick": quick,
        "repeats": repeats,
        "cells": rows,
    }
    cold = next((r for r in rows if "first_call_s" in r), None)
    if cold is not None:
        result["compile"] = {
            "cell": cold["name"],
            "steps": cold["steps"],
            "funcmlp_first_call_s": cold["first_call_s"]["funcmlp"],
            "funcmlp_compile_s": cold["compile_s"]["funcmlp"],
            "plain_first_call_s": cold["first_call_s"]["plain"],
            "plain_compile_s": cold["compile_s"]["plain"],
        }
    result["total_s"] = time.perf_counter() - t0
    return result


def _torch_version() -> str | None:
    if not _torch_available():
        return None
    import torch

    return torch.__version__


def save(result: dict, path: str | Path) -> None:
    """Write the result as indented JSON (the parent folder is made if missing)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result, indent=2) + "\n")


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} us"
    return f"{seconds * 1e3:.2f} ms"


def tables(result: dict):
    """The matrix as rich tables: one row per cell (times per step, or per model-step for sweeps), the
    sweeps' fixed and per-model-step costs, and the first-call (compile) times."""
    from rich.table import Table

    load = ", ".join("-" if v is None else f"{v:.2f}" for v in result["load_average"])
    quick = " (quick: the times mean little)" if result["quick"] else ""
    main = Table(
        title=f"funcmlp vs plain JAX on {result['backend']} ({result['device_kind']}, {result['devices']} "
        f"device(s)), jax {result['jax']}, median of {result['repeats']}{quick}",
        caption=f"ratio = funcmlp / plain wall time (< 1: funcmlp faster), cpu: the same for process CPU "
        f"time; load average {load} (start, end)",
    )
    for col in ("cell", "per", "funcmlp", "plain JAX", "ratio", "cpu", "PyTorch", "funcmlp plan"):
        left = col in ("cell", "per", "funcmlp plan")
        main.add_column(col, justify="left" if left else "right", no_wrap=col != "funcmlp plan")
    for r in result["cells"]:
        p = r["plan"]
        plan = "registered" if p["registered"] else "autodiff"
        if r["models"] > 1:
            plan += f", {p['sums']}" + ("" if p["group"] is None else f", {p['group']}")
        times = (_time(r[k]) for k in ("funcmlp_s", "plain_s"))
        ratios = (f"{r['ratio']:.2f}", f"{r['cpu_ratio']:.2f}")
        main.add_row(r["name"], r["per"], *times, *ratios, _time(r["torch_s"]), plan)
    out = [main]
    sweeps = [r for r in result["cells"] if "sweep_fixed_s" in r]
    if sweeps:
        split = Table(
            title="funcmlp.sweep: a call costs F + s * models * steps",
            caption="from runs of k and k/4 steps; F: checks, initialising the models, final metrics",
        )
        for col in ("cell", "k", "fixed F", "s per model-step", "plain JAX per model-step"):
            split.add_column(col, justify="left" if col == "cell" else "right")
        for r in sweeps:
            split.add_row(
                r["name"],
                str(r["steps"]),
                f"{r['sweep_fixed_s']:.3f} s",
                _time(r["sweep_marginal_s"]),
                _time(r["plain_s"]),
            )
        out.append(split)
    if "compile" in result:
        c = result["compile"]
        cache = result.get("compilation_cache_dir")
        first = Table(
            title=f"First call after jax.clear_caches(): {c['cell']}, {c['steps']} steps",
            caption="persistent compilation cache: " + (cache or "off"),
        )
        for col in ("", "first call", "of which compile (first - warm)"):
            first.add_column(col, justify="right" if col else "left")
        for who, label in (("funcmlp", "funcmlp.train"), ("plain", "plain JAX jit(scan)")):
            first.add_row(label, f"{c[f'{who}_first_call_s']:.2f} s", f"{c[f'{who}_compile_s']:.2f} s")
        out.append(first)
    return tuple(out)
