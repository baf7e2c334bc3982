"""What an interrupted ``funcmlp train`` or ``funcmlp sweep`` keeps (``funcmlp.cli.interrupt``).

- ``train``, stopped while its seeds train (``funcmlp.fit`` with a callback that returns True): the run
  directory of the seed best on validation so far, but for the figures: config.json,
  params.safetensors, metrics.csv (the rows logged so far and one at the step reached) and metrics.json
  with ``"interrupted": true`` and ``"step"`` (``funcmlp.cli.train.finish``).
- ``sweep``, stopped before its end (``sweep``): config.json and metrics.json with ``"interrupted": true``,
  ``"step"`` and ``"group"`` of ``"groups"`` (widths x activations, trained one after the other); with
  one group, also sweep.safetensors (``"saved_sweep": true``), so that
  ``funcmlp sweep --resume DIR`` continues it. A resumed sweep that cannot be saved whole leaves DIR as
  it was.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from funcmlp.cli import interrupt


def sweep(cfg: Any, out: Any, result: Any, start: Any = None) -> int:
    """Write ``funcmlp sweep`` stopped before its end (``start``: the sweep it resumed, or None)."""
    from funcmlp import save_sweep
    from funcmlp.cli.options import SWEEP_FILE
    from funcmlp.io import runs

    groups = len(cfg.widths) * len(cfg.activations)
    whole = len(result.groups) == groups and len({g.losses.shape[-1] for g in result.groups}) == 1
    steps = (0 if start is None else start.step) + cfg.steps
    if not whole and start is not None:  # DIR keeps the sweep it held
        return interrupt.report(out, start.step, steps)
    if whole:
        save_sweep(out / SWEEP_FILE, result)
    config = dataclasses.asdict(
        dataclasses.replace(cfg, steps=result.step if whole else cfg.steps, resume=None)
    )
    runs.write_json(out / "config.json", config)
    where = {"group": len(result.groups), "groups": groups}
    runs.write_json(
        out / "metrics.json", {"interrupted": True, "step": result.step, **where, "saved_sweep": whole}
    )
    return interrupt.report(out, result.step, steps)
