"""How the engine runs a training problem on a backend: chosen from measurements, never assumed.

A ``Plan`` has three choices, each made per backend and network size from the benchmark matrix
(``funcmlp benchmark``; the measurements are in docs/performance.md):

* ``registered``: use the hand-written features-major derivative (``funcmlp.fastpath``) instead of
  autodiff of ``funcmlp.mlp.mean_loss``. Only possible for a built-in activation and head. On a CPU it wins
  where a step costs kernel launches rather than arithmetic: narrow networks (every layer at most
  ``NARROW`` wide) trained full batch; with mini-batches and wide layers autodiff of the plain loss is as fast
  or faster. On a GPU or TPU the same holds for the small nets of a sweep (fewer, fused kernels) and the
  wide nets go to autodiff and the vendor's matmuls.
* ``sums``: how the registered derivative sums over samples, ``"dot"`` for one model, ``"reduce"`` when
  vmapped over many.
* ``group``: how many models are vmapped together in a sweep. On a CPU groups of ``CPU_GROUP`` models keep
  each group's arrays in cache; on an accelerator one vmap over all of a device's models fills it best.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

# Widest layer for which the registered derivative is chosen (CPU and accelerators alike).
NARROW = 64
# Models per vmapped group of a sweep on a CPU (cache-sized); None means all at once.
CPU_GROUP = 64


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
      batch_size: None for full batch, else the mini-batch size.
      available: whether the activation and head have a registered derivative (built-ins only).

    Returns:
      ``Plan(registered, sums, group)``.
    """
    narrow = max(sizes[1:]) <= NARROW
    if backend == "cpu":
        registered = available and narrow and batch_size is None
        group = CPU_GROUP if models > 1 else None
    else:
        registered = available and narrow
        group = None
    return Plan(registered, "reduce" if models > 1 else "dot", group)
