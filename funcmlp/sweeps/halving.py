"""Successive halving inside a compiled sweep: every configuration trains to the first rung end, the best
fraction on the validation rows goes on, compacted into a smaller model axis, and so on to the last step.

At rung end e_r every configuration c still training is scored on the validation rows by the mean over its
seeds of its metric at theta_{e_r} (seeds with a NaN metric left out; a configuration whose every seed is
NaN ranks last),

    score_c = (1/S) sum_j val_accuracy[c, j]   (higher is better; ties: lower mean val_loss, then lower c)
    score_c = (1/S) sum_j val_loss[c, j]       (with ``metric="val_loss"``; lower is better),

and the k_r = min(n_r - 1, max(1, ceil(keep n_r))) best of the n_r configurations go on (at least one stops
at each rung while more than one trains). The survivors' states (parameters, optimizer states, divergence
steps, hyperparameters, L2 weights) are gathered from the whole grid's state into blocks of b configurations
(the last block filled by repeating survivors), which train on: no step is spent on a stopped model, and a
stopped model keeps its state at its last rung end. On an accelerator a rung is one block (b = its
configurations, padded to the mesh's "config" devices): one compiled program per rung size. On a CPU, where
the engine runs cache-sized groups of models anyway and a compile costs several seconds, b is the last
rung's size: one compiled program for every rung. Every chunk has the first rung's length. The mini-batch
order is the global step's, so a survivor's steps are the ones it takes alone. Logged rows measure the
whole grid, the blocks' states in place, at steps that divide the rung ends (``log_interval``).

``Halving(rungs=r)`` puts the rung ends at round(r / keep^i), i = 0, 1, ...: with keep = 1/3 and 3^k
configurations trained for r 3^k steps, each rung costs about as much as the first, and the whole run about
(1 + 2k/3) / 3^k of the full grid's steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding

from funcmlp import checks, engine, training
from funcmlp.sweeps import programs
from funcmlp.sweeps.curves import measure
from funcmlp.sweeps.mesh import padded, to_host

METRICS = ("val_accuracy", "val_loss")


class Halving(NamedTuple):
    """Successive halving of a sweep's configurations (``sweep(..., halving=Halving(...))``).

    Attributes:
      rungs: the first rung's end (steps; later ends at round(rungs / keep^i)), or the rung ends, a list of
        increasing global steps; ends at or past the sweep's last step are dropped.
      keep: the fraction of configurations that go on at each rung end, 0 < keep < 1.
      metric: ``"val_accuracy"`` or ``"val_loss"`` (default: accuracy, the loss for the linear head).
    """

    rungs: int | Sequence[int]
    keep: float = 1 / 3
    metric: str | None = None


class Plan(NamedTuple):
    """A checked ``Halving`` for a sweep: its rung ends (global steps before the last), fraction, metric,
    and the grid's configurations and seeds."""

    ends: tuple[int, ...]
    keep: float
    metric: str
    configs: int
    seeds: int


def rung_ends(rungs: int | Sequence[int], keep: float, last: int) -> tuple[int, ...]:
    """The rung ends before ``last``: round(rungs / keep^i) for an int (distinct, increasing), or the list."""
    if isinstance(rungs, Sequence):
        ends = tuple(checks.check_positive_int(e, "halving.rungs") for e in rungs)
        if not ends or any(b <= a for a, b in zip(ends, ends[1:], strict=False)):
            raise ValueError(f"halving.rungs: expected increasing positive steps, got {list(rungs)!r}")
        return tuple(e for e in ends if e < last)
    end, out = checks.check_positive_int(rungs, "halving.rungs"), []
    for i in range(64):
        e = round(end / keep**i)
        if e >= last:
            break
        if not out or e > out[-1]:
            out.append(e)
    return tuple(out)


def checked(halving: Any, *, steps: int, head, has_val: bool, configs: int, seeds: int, others: dict) -> Plan:
    """The ``Plan`` of a sweep's ``halving``, after checking it and the options it cannot go with (``others``:
    name -> value of ``start``, which must be None)."""
    if not isinstance(halving, Halving):
        raise TypeError(f"halving: expected a funcmlp.sweeps.Halving, got {type(halving).__name__}")
    keep = checks.check_real(halving.keep, "halving.keep")
    if not 0 < keep < 1:
        raise ValueError(f"halving.keep: expected a fraction 0 < keep < 1, got {keep}")
    metric = halving.metric or ("val_accuracy" if head.classifies else "val_loss")
    if metric not in METRICS:
        raise ValueError(f"halving.metric: expected one of {', '.join(METRICS)}, got {metric!r}")
    if metric == "val_accuracy" and not head.classifies:
        raise ValueError(f"halving.metric: expected val_loss for the {head.name} head, got {metric!r}")
    if not has_val:
        raise ValueError(
            'halving: expected a validation set evaluate={"val": (x, y)} to rank configurations, got none'
        )
    for name, value in others.items():
        if value is not None:
            raise ValueError(f"{name}: expected None with halving (not supported together), got {value!r}")
    return Plan(rung_ends(halving.rungs, keep, steps), keep, metric, configs, seeds)


def log_interval(plan: Plan, every: int, given: int | None) -> int:
    """The steps between logged rows with halving: ``given`` (``Logging.every``), which must divide every
    rung end so that each segment's chunks end on the logged steps; by default the largest divisor of the
    rung ends' greatest common divisor up to ``every``."""
    common = math.gcd(*plan.ends) if plan.ends else every
    if given is None:
        return max(d for d in range(1, min(every, common) + 1) if common % d == 0)
    if common % given:
        ends = ", ".join(map(str, plan.ends))
        raise ValueError(
            f"log.every: expected a divisor of every rung end ({ends}) with halving, got {given}"
        )
    return given


def stopped_rows(history: dict[str, Any], stopped_at: np.ndarray) -> dict[str, Any]:
    """A halving sweep's curves with each model's rows after the step it stopped at set to NaN
    (``stopped_at``: (*grid, seeds)); its row at that step is its last state's."""
    after = np.asarray(history["step"])[None] > np.asarray(stopped_at)[..., None]
    out = {"step": history["step"]}
    for name, values in history.items():
        if name != "step":
            host = np.asarray(to_host(values))
            out[name] = np.where(after, np.nan, host).astype(host.dtype)
    return out


def kept(n: int, keep: float) -> int:
    """How many of n configurations go on: ceil(keep n), at least 1 and at most n - 1."""
    return min(n - 1, max(1, math.ceil(keep * n - 1e-9))) if n > 1 else n


def counts(configs: int, rungs: int, keep: float) -> list[int]:
    """The configurations training in each segment: C, kept(C), kept(kept(C)), ... (until one is left)."""
    out = [configs]
    for _ in range(rungs):
        if out[-1] == 1:
            break
        out.append(kept(out[-1], keep))
    return out


def block_size(cfg: programs.Static, smallest: int, training: int) -> int:
    """Configurations per compiled call. On a CPU (the engine vmaps cache-sized groups there) every segment
    runs in blocks of the smallest segment's size: one program for every rung. On an accelerator, where one
    vmap over all the models fills the device best, a segment is one block: one program per rung size."""
    plan = getattr(cfg.spec.objective, "plan", None)
    size = training if getattr(plan, "group", None) is None else smallest
    return padded(size, cfg.mesh.devices.shape[0])


def block_metrics(state, val, cfg: programs.Static, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """``metric`` and val_loss (b, S_pad) of a block's models on the validation rows, on the host."""
    axes = (0 if cfg.per_seed_val else None,)
    own = {"config": state.config} if getattr(state, "config", None) else {}
    kw = dict(names=("val",), set_axes=axes, objective=cfg.spec.objective, **own)
    row = measure(state.params, (tuple(val),), None, **kw)
    return tuple(np.asarray(to_host(row[k]), np.float64) for k in (metric, "val_loss"))


def seed_means(a: np.ndarray) -> np.ndarray:
    """Mean over the seeds (axis 1) of the finite values; NaN where a row has none."""
    finite = ~np.isnan(a)
    total = np.where(finite, a, 0.0).sum(axis=1)
    return np.where(finite.any(axis=1), total / np.maximum(finite.sum(axis=1), 1), np.nan)


def ranked(score: np.ndarray, tie: np.ndarray, metric: str) -> np.ndarray:
    """Positions of the configurations, best first (NaN last; ties: lower tie value, then lower position)."""
    sign = -1.0 if metric == "val_accuracy" else 1.0
    first = np.nan_to_num(sign * score, nan=np.inf)
    return np.lexsort((np.arange(len(score)), np.nan_to_num(tie, nan=np.inf), first))


def resized(cfg: programs.Static, c_pad: int, s_pad: int) -> programs.Static:
    """The group's ``Static`` for a grid of c_pad configurations (the engine's plan for that many models)."""
    d_config, d_seed = cfg.mesh.devices.shape
    obj, spec = cfg.spec.objective, cfg.spec
    if not isinstance(obj, engine.Objective):  # a model of your own: no plan to fit to the size
        return cfg
    objective = training.make_objective(
        obj.act, obj.head, cfg.sizes, models=(c_pad // d_config) * (s_pad // d_seed),
        batch_size=spec.batch_size, backend=cfg.mesh.devices.flat[0].platform,
    )  # fmt: skip
    return cfg._replace(spec=spec._replace(objective=objective))


@partial(jax.jit, static_argnames=("mesh",))
def gather(state, l2, rows, *, mesh):
    """Configurations ``rows`` (b,) of the state (and of the L2 weights, None when shared), on the mesh."""
    state = jax.tree.map(lambda a: jnp.take(a, rows, axis=0), state)
    state = jax.lax.with_sharding_constraint(state, NamedSharding(mesh, programs.GRID))
    if l2 is not None:
        l2 = jax.lax.with_sharding_constraint(
            jnp.take(l2, rows, axis=0), NamedSharding(mesh, programs.CONFIG)
        )
    return state, l2


@jax.jit
def merge(full, part, rows):
    """``full`` with its configurations ``rows`` (k,) replaced by the first k of ``part`` (a row listed twice
    gets the same values twice: blocks repeat configurations only as exact copies)."""
    return jax.tree.map(lambda f, p: f.at[rows].set(p[: rows.shape[0]].astype(f.dtype)), full, part)


class Ladder:
    """A halving group's bookkeeping: the whole grid's state (each model at its last step so far), the
    configurations still training, the segments' losses and the record.

    Args:
      carry: the whole grid's start state, leaves (C_pad, S_pad, ...); l2: the L2 weights (C_pad,) with
        ``cfg.l2_axis``, else shared; plan: the ``Plan``; first: the start step.
    """

    def __init__(self, carry, l2, plan: Plan, first: int):
        lead = jax.tree.leaves(carry)[0].shape[:2]
        self.plan, self.full, self.l2, self.lead = plan, carry, l2, lead
        self.rows, self.segments, self.last = np.arange(plan.configs), [], None
        self.stopped_at = np.full(lead[0], first, np.int32)
        self.rung = np.zeros(lead[0], np.int32)
        self.scores = np.full((lead[0], len(plan.ends)), np.nan)

    @property
    def count(self) -> int:
        """The configurations still training."""
        return len(self.rows)

    def blocks(self, b: int, cfg: programs.Static):
        """The configurations training, repeated to fill blocks of b: the rows (blocks, b), each block's
        state and L2 weights gathered from the whole grid, and the ``Static`` of a block."""
        rows = np.take(self.rows, np.arange(padded(len(self.rows), b)) % len(self.rows)).reshape(-1, b)
        own = self.l2 if cfg.l2_axis else None
        parts = [gather(self.full, own, jnp.asarray(r, jnp.int32), mesh=cfg.mesh) for r in rows]
        l2s = [p[1] if cfg.l2_axis else self.l2 for p in parts]
        return rows, [p[0] for p in parts], l2s, resized(cfg, b, self.lead[1])

    def told(self, rows, losses, at: int):
        """Every model's last loss so far (C_pad, S_pad), after the blocks' chunk ``losses`` (column ``at``)."""
        if self.last is None:
            self.last = jnp.full(self.lead, jnp.nan, losses[0].dtype)
        for r, a in zip(rows, losses, strict=True):
            self.last = merge(self.last, a[:, :, at], jnp.asarray(r, jnp.int32))
        return self.last

    def peek(self, rows, states):
        """The whole grid's state with the training blocks' ``states`` in place (the grid kept as it is)."""
        full = self.full
        for r, state in zip(rows, states, strict=True):
            full = merge(full, state, jnp.asarray(r, jnp.int32))
        return full

    def absorb(self, rows, states, losses, step: int) -> None:
        """A segment has ended at global ``step``: its blocks' states and losses (b, S_pad, steps)."""
        for r, state in zip(rows, states, strict=True):
            self.full = merge(self.full, state, jnp.asarray(r, jnp.int32))
        self.segments.append(list(zip(rows, losses, strict=True)))
        self.stopped_at[self.rows] = step

    def prune(self, states, cfg: programs.Static, val, r: int) -> None:
        """Rung r's end: score the configurations training on the validation rows, keep the best."""
        plan, n = self.plan, len(self.rows)
        pairs = [block_metrics(s, val, cfg, plan.metric) for s in states]
        score, tie = (seed_means(np.concatenate(m)[:n, : plan.seeds]) for m in zip(*pairs, strict=True))
        self.scores[self.rows, r] = score
        self.rows = self.rows[np.sort(ranked(score, tie, plan.metric)[: kept(n, plan.keep)])]
        self.rung[self.rows] = r + 1

    def losses(self) -> list[np.ndarray]:
        """Each segment's losses over the whole grid, (C_pad, S_pad, steps) on the host: a stopped model's
        last loss held after the step it stopped at."""
        out, last = [], None
        for blocks in self.segments:
            host = [(rows, np.asarray(to_host(a))) for rows, a in blocks]
            shape = (*self.lead, host[0][1].shape[2])
            block = np.full(shape, np.nan, host[0][1].dtype) if last is None else np.broadcast_to(last, shape)
            block = np.array(block)
            for rows, losses in host:
                block[rows] = losses
            out.append(block)
            last = block[..., -1:]
        return out

    def record(self) -> dict[str, np.ndarray]:
        """Per model (C_pad, S_pad, ...): ``stopped_at`` (global step of its state), ``rung`` (rung ends
        passed) and ``scores`` (its configuration's score at each rung end, NaN where not ranked)."""
        out = {"stopped_at": self.stopped_at, "rung": self.rung, "scores": self.scores}
        return {k: np.repeat(v[:, None], self.lead[1], axis=1) for k, v in out.items()}
