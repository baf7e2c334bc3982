"""The training engine: the step, its divergence rule and the chunked runner (``core``), the data and
mini-batches a compiled loop sees (``batches``), the plan that picks a derivative per backend and size
(``plan``), and the registered derivative it may pick (``fastpath``)."""

from funcmlp.engine import batches, fastpath, finite, plan
from funcmlp.engine.batches import Data, epoch_perm, minibatch, shuffle
from funcmlp.engine.core import (
    Fixed,
    Objective,
    Spec,
    TrainState,
    all_finite,
    evaluate,
    extra_args,
    init_state,
    step,
)
from funcmlp.engine.plan import Plan, choose
from funcmlp.engine.runner import CHUNK, in_groups, run, run_fast, settle

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
    "finite",
    "in_groups",
    "init_state",
    "minibatch",
    "plan",
    "run",
    "run_fast",
    "settle",
    "shuffle",
    "step",
]
