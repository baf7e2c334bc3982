"""The training engine: the step, its divergence rule and the chunked runner (``core``), the data and
mini-batches a compiled loop sees (``batches``), the plan that picks a derivative per backend and size
(``plan``), and the registered derivative it may pick (``fastpath``)."""

from funcmlp.engine import batches, fastpath, plan
from funcmlp.engine.batches import Data, epoch_perm, minibatch
from funcmlp.engine.core import (
    CHUNK,
    Fixed,
    Objective,
    Spec,
    TrainState,
    all_finite,
    evaluate,
    extra_args,
    in_groups,
    init_state,
    run,
    settle,
    step,
)
from funcmlp.engine.plan import Plan, choose

__all__ = [
    "batches",
    "CHUNK",
    "Data",
    "Fixed",
    "Objective",
    "Plan",
    "Spec",
    "TrainState",
    "all_finite",
    "choose",
    "epoch_perm",
    "evaluate",
    "extra_args",
    "fastpath",
    "in_groups",
    "init_state",
    "minibatch",
    "plan",
    "run",
    "settle",
    "step",
]
