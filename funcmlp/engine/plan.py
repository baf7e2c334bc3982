"""How the engine runs a training problem on a backend: chosen from measurements, never assumed.

A ``Plan`` has three choices, each made per backend and network size from the benchmark matrix
(``funcmlp benchmark``; the measurements are in docs/performance.md):

* ``registered``: use the hand-written features-major derivative (``funcmlp.engine.fastpath``) instead of
  autodiff of ``funcmlp.mlp.mean_loss``. Only possible for a built-in activation and head. It wins where a
  step costs kernel launches rather than arithmetic, which is where its sums over features are unrolled
  into fused multiply-adds: every layer at most ``NARROW`` wide. Measured on the CPU (funcmlp time / plain
  JAX time, full batch): 2-4-3 0.39 (registered), 2-8-3 1.10 (registered) against 1.06 (autodiff), 2-16-16-3
  1.26 against 1.01, 2-64-3 1.57 against 1.02, 2-64-64-3 1.20 against 1.00; one H200 run of a
  16,384-model 2-4-3 sweep: 38.8 ns per model-step registered against 57 ns for plain autodiff.
  A sweep on the CPU (vmapped groups, ``sums="reduce"``) takes it up to ``SWEEP_WIDE`` units in every
  layer, the input included: 1,000 models in groups of 50, CPU time per model-step registered against
  autodiff, 2-16-3 11 us against 31, 2-64-3 41 against 93, 2-128-3 139 against 253, 2-16-16-3 32 against
  53, 2-64-64-3 192 against 244, 10-32-32-4 79 against 104, 2-128-128-3 878 against 962; 784-32-10 (100
  models) 520 against 516, so a wide input keeps autodiff.
* ``sums``: how the registered derivative sums over samples, ``"dot"`` for one model, ``"reduce"`` when
  vmapped over many.
* ``group``: how many models are vmapped together in a sweep. On a CPU groups of ``CPU_GROUP`` models keep
  each group's arrays in cache; on an accelerator one vmap over all of a device's models fills it best.
  ``groups`` cuts a model count into such groups without padding: equal groups of a divisor of the count
  near ``group`` where there is one, else full groups and one smaller remainder group.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

# Widest layer for which the registered derivative is chosen (CPU and accelerators alike): heads.SMALL.
NARROW = 8
# Widest layer, the input included, for which a sweep on a CPU (models > 1) uses the registered derivative.
SWEEP_WIDE = 128
# Models per vmapped group of a sweep on a CPU (cache-sized); None means all at once.
CPU_GROUP = 64


def groups(models: int, group: int | None) -> tuple[int, int, int]:
    """(size, count, rest): ``models`` cut into ``count`` groups of ``size`` and one group of ``rest`` < size.

    The largest divisor of ``models`` in [group / 2, group] gives equal groups (72 -> 2 x 36, 100 -> 2 x 50,
    1,000 -> 20 x 50: no padded copies); without one, groups of ``group`` and the remainder (97 -> 1 x 64 +
    33). ``group`` None or at least ``models``: one group of all. On the CPU a group of 32-64 models costs
    the same per model as one of 64 (docs/performance.md).
    """
    if group is None or group >= models:
        return models, 1, 0
    for size in range(group, (group + 1) // 2 - 1, -1):
        if models % size == 0:
            return size, models // size, 0
    return group, models // group, models % group


class Plan(NamedTuple):
    """The engine's choices for one problem (hashable: a static argument of the compiled loop)."""

    registered: bool
    sums: str
    group: int | None


def choose(
    backend: str,
    sizes: Sequence[int],
    *,
    models: int = 1,
    batch_size: int | None = None,
    available: bool = True,
) -> Plan:
    """The plan for training ``models`` networks of layer widths ``sizes`` on ``backend``.

    Args:
      backend: ``jax.default_backend()`` of the devices that train ("cpu", "gpu", "tpu", ...).
      sizes: layer widths (d_0, ..., d_L).
      models: how many models are vmapped together (1 for ``train``).
      batch_size: None for full batch, else the mini-batch size (no measurement so far made it change the
        choice; it is here so that one can).
      available: whether the activation and head have a registered derivative (built-ins only).

    Returns:
      ``Plan(registered, sums, group)``.
    """
    sweep_on_cpu = backend == "cpu" and models > 1 and max(sizes) <= SWEEP_WIDE
    registered = available and (max(sizes[1:]) <= NARROW or sweep_on_cpu)
    group = CPU_GROUP if backend == "cpu" and models > 1 else None
    return Plan(registered, "reduce" if models > 1 else "dot", group)
