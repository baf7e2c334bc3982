"""What an interrupted ``funcmlp train`` or ``funcmlp sweep`` keeps (``funcmlp.cli.interrupt``).

- ``train``, stopped while the chosen model trains alone with its curves logged (``finish_run``): the run
  directory as at the end, but for the figures: config.json, params.safetensors (the parameters reached:
  the last finite ones), metrics.csv (the rows logged so far, and one at the step reached) and
  metrics.json with ``"interrupted": true`` and ``"step"`` (the step reached; for the model a sweep chose,
  which the sweep trained to the end, all the steps).
- ``train --seeds N``, stopped while its seeds train together (``sweep_phase``): the same files for the
  seed best on validation so far, scored on the training and validation samples at the step reached
  (metrics.csv: that one row).
- ``sweep``, stopped before its end (``sweep``): config.json and metrics.json with ``"interrupted": true``,
  ``"step"`` and ``"group"`` of ``"groups"`` (widths x activations, trained one after the other); with
  one group, also sweep.safetensors (``"saved_sweep": true``), so that
  ``funcmlp sweep --resume DIR`` continues it. A resumed sweep that cannot be saved whole leaves DIR as
  it was.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from funcmlp.cli import interrupt


def marker(cfg: Any, history: Any, selected: Any = None) -> dict[str, Any]:
    """``{"interrupted": True, "step": n}`` for metrics.json when a signal came (n: the history's last step,
    or all the steps for a sweep's ``selected`` model, which the sweep trained to the end); else {}."""
    if not interrupt.requested():
        return {}
    step = cfg.steps if selected is not None else int(history.columns["step"][-1])
    return {"interrupted": True, "step": step}


def sweep_phase(cfg: Any, run: Any, sizes: Any, result: Any) -> int:
    """Write ``funcmlp train --seeds N`` stopped during its sweep: the best seed so far
    (``result.best()``)."""
    import numpy as np

    from funcmlp.cli.finish import write_run
    from funcmlp.history import History
    from funcmlp.sweeps.mesh import to_host

    g, *index, seed = result.best()
    group, at = result.groups[g], (*index, seed)
    scores = {k: float(to_host(v)[at]) for k, v in group.metrics.items()}
    losses = np.asarray(to_host(group.losses)[at])
    diverged_at = int(to_host(group.diverged_at)[at])
    metrics = {
        "interrupted": True,
        "step": result.step,
        "train_accuracy": scores.get("train_accuracy"),
        "validation_accuracy": scores.get("val_accuracy"),
        "test_accuracy": None,
        "final_loss": float(losses[-1]) if diverged_at < 0 and losses.size else None,
        "diverged_at": diverged_at if diverged_at >= 0 else None,
        "selected_seed": seed,
        "seeds": cfg.seeds,
        "sizes": list(sizes),
        "learning_rate": cfg.lr,
        "activation": cfg.activation,
        "seconds": time.perf_counter() - run.t0,
    }
    history = History({"step": np.asarray([result.step]), **{k: np.asarray([v]) for k, v in scores.items()}})
    params = result.model(g, *index, seed)
    write_run(cfg, run, params, history, losses, metrics, activation=cfg.activation, title="", figures=False)
    return interrupt.report(run.out, result.step, cfg.steps)


def sweep(cfg: Any, run: Any, result: Any, start: Any = None) -> int:
    """Write ``funcmlp sweep`` stopped before its end (``start``: the sweep it resumed, or None)."""
    from funcmlp import save_sweep
    from funcmlp.cli.options import SWEEP_FILE
    from funcmlp.cli.sweep import with_earlier_losses
    from funcmlp.io import runs

    groups = len(cfg.widths) * len(cfg.activations)
    whole = len(result.groups) == groups and len({g.losses.shape[-1] for g in result.groups}) == 1
    steps = (0 if start is None else start.step) + cfg.steps
    if not whole and start is not None:  # DIR keeps the sweep it held
        return interrupt.report(run.out, start.step, steps)
    if whole:
        result = result if start is None else with_earlier_losses(result, start)
        save_sweep(run.out / SWEEP_FILE, result)
    config = dataclasses.asdict(
        dataclasses.replace(cfg, steps=result.step if whole else cfg.steps, resume=None)
    )
    runs.write_json(run.out / "config.json", config)
    where = {"group": len(result.groups), "groups": groups}
    runs.write_json(
        run.out / "metrics.json", {"interrupted": True, "step": result.step, **where, "saved_sweep": whole}
    )
    return interrupt.report(run.out, result.step, steps)
