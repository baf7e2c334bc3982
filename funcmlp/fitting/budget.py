"""How much training a run on your data can afford: seeds, steps and batch size sized to a time budget.

``fit`` (and ``funcmlp train --data``) with ``seeds``, ``steps`` or ``batch_size`` left out measures what
one training step of one model costs on the machine at hand and picks the most training that fits the
budget, ``DEFAULT_BUDGET`` = 10 seconds for the whole ``fit`` (``plan_run``):

1. ``measure``: c, the seconds of one full-batch step of one model on the n training rows: the best of
   three timings of a compiled chunk of ``MEASURE_STEPS`` Adam steps of ``MEASURE_MODELS`` models on
   slices of min(n, ``MEASURE_ROWS``) rows, per model and per step, times n / rows (a step's arithmetic
   grows with its rows). A small program: it compiles in a fraction of a second.
2. The training gets ``TRAINING_SHARE`` of the budget left after reading the data and measuring; the rest
   is for compiling the sweep and scoring the chosen model.
3. ``choose`` (a pure function of c, n and those seconds, so tests give it costs): the first candidate of
   ``CANDIDATES`` (seeds, steps, batch), ordered from the most training to the least, whose predicted time

       seconds = c x configurations x seeds x steps x rows / n,   rows = min(batch, n) (None: n),

   is within them; the last (cheapest) when none is. A batch of more than n / ``MIN_BATCHES`` rows is the
   full batch (a mini-batch needs a few batches an epoch), so a small file keeps full-batch steps and
   trades seeds and steps; a larger one takes mini-batches first. ``configurations`` counts the L2
   weights a regression chooses among, each trained with every seed.

Values given by the caller win: they replace the candidates' own (an explicit ``steps=300`` keeps every
candidate's seeds and batch), and when they leave a single choice nothing is measured. Without a budget
(``budget=None``) the rest are ``UNBUDGETED``'s, 64 seeds x 1000 full-batch steps.

On scikit-learn's digits (1078 training rows, 64-128-10) a 2-core machine measures c of about 1 ms and
trains 8 to 16 seeds x 1000 steps of 256 rows, where 64 x 1000 full-batch steps took two minutes
(``benchmarks/own_data.py``).
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from funcmlp import checks

DEFAULT_BUDGET = 10.0  # seconds of training a run on your data aims at
UNBUDGETED = (64, 1000, None)  # seeds, steps, batch size (None: full batch) with budget=None
# (seeds, steps, batch size), from the most training to the least; None: the full batch.
CANDIDATES: tuple[tuple[int, int, int | None], ...] = (
    (64, 1000, None),
    (32, 1000, None),
    (
        16,
        1000,
        256,
    ),  # not 32 or 64 models of mini-batches: on 2 cores they ran 3x slower a model than measured
    (8, 1000, 256),
    (4, 1000, 256),
    (4, 500, 256),
    (2, 300, 256),
    (1, 200, 256),
)
AUTO = "auto"  # batch_size left to the budget (None is the full batch)
MIN_BATCHES = 4  # a candidate's mini-batch applies when the training rows hold at least this many
TRAINING_SHARE = 0.5  # of the budget left after reading and measuring; the rest compiles and scores
MEASURE_ROWS = 256
MEASURE_MODELS = 8
MEASURE_STEPS = 8


class Plan(NamedTuple):
    """The training a run does.

    Attributes:
      seeds, steps: initialisations trained at once, and steps per model.
      batch_size: rows per step; None: the full batch.
      seconds: the predicted seconds of training (None: nothing was measured).
      cost: c, the measured seconds of one full-batch step of one model (None: not measured).
      budget: the budget in seconds (None: none).
    """

    seeds: int
    steps: int
    batch_size: int | None
    seconds: float | None = None
    cost: float | None = None
    budget: float | None = None

    def describe(self) -> str:
        """``"16 seeds x 1000 steps, batch 256 (about 3.1 s of training, budget 10 s)"``."""
        batch = "full batch" if self.batch_size is None else f"batch {self.batch_size}"
        text = f"{self.seeds} seed{'s' if self.seeds > 1 else ''} x {self.steps} steps, {batch}"
        if self.seconds is None or self.budget is None:
            return text
        return f"{text} (about {self.seconds:.1f} s of training, budget {self.budget:g} s)"


def check_budget(budget: Any) -> float | None:
    """``budget``: None or a positive finite number of seconds."""
    if budget is None:
        return None
    checks.check_nonnegative_real(budget, "budget")
    if not budget > 0:
        raise ValueError(f"budget: expected a positive number of seconds or None, got {budget}")
    return float(budget)


def candidates(
    n: int, *, seeds: int | None = None, steps: int | None = None, batch_size: int | str | None = AUTO
) -> list[tuple[int, int, int | None]]:
    """``CANDIDATES`` for ``n`` training rows with the given values in place of their own (``seeds``,
    ``steps``: None, ``batch_size``: ``AUTO`` when not given), duplicates dropped, in order; a mini-batch
    of more than n / ``MIN_BATCHES`` rows becomes the full batch."""
    out: list[tuple[int, int, int | None]] = []
    for s, t, b in CANDIDATES:
        b = b if b is not None and b * MIN_BATCHES <= n else None
        c = (
            s if seeds is None else seeds,
            t if steps is None else steps,
            b if batch_size == AUTO else batch_size,
        )
        if c not in out:
            out.append(c)
    return out


def predicted_seconds(cost: float, n: int, seeds: int, steps: int, batch_size: int | None, configurations=1):
    """c x configurations x seeds x steps x rows / n, rows = min(batch_size, n) (None: n)."""
    rows = n if batch_size is None else min(batch_size, n)
    return float(cost) * configurations * seeds * steps * rows / n


def choose(
    cost: float,
    n: int,
    budget: float,
    *,
    configurations: int = 1,
    seeds: int | None = None,
    steps: int | None = None,
    batch_size: int | str | None = AUTO,
) -> Plan:
    """The first of ``candidates(n, ...)`` whose ``predicted_seconds`` is at most ``budget``; the last one
    when none is.

    Args:
      cost: c, seconds of one full-batch step of one model (``measure``).
      n: training rows.
      budget: seconds.
      configurations: configurations trained with every seed (the L2 weights of a regression).
      seeds, steps, batch_size: values given by the caller (None, and ``AUTO`` for the batch: the
        candidates').

    Returns:
      ``Plan`` with the predicted seconds, ``cost`` and ``budget``.
    """
    if not cost >= 0:
        raise ValueError(f"cost: expected a non-negative number of seconds, got {cost}")
    checks.check_positive_int(n, "n")
    options = candidates(n, seeds=seeds, steps=steps, batch_size=batch_size)
    for s, t, b in options:
        seconds = predicted_seconds(cost, n, s, t, b, configurations)
        if seconds <= budget:
            break
    return Plan(s, t, b, seconds, float(cost), float(budget))


def measure(
    x: Any, y: Any, sizes: tuple[int, ...], *, activation: Any = "relu", head: Any = "softmax"
) -> float:
    """c: seconds of one full-batch step of one model on the n rows of ``x`` (n, d) and ``y``, timed on
    this machine as the module says: ``MEASURE_MODELS`` models (vmapped) take ``MEASURE_STEPS`` Adam steps
    on consecutive slices of min(n, ``MEASURE_ROWS``) rows (as mini-batches are taken), in one compiled
    call; the best of three calls (after the one that compiles), per model-step, times n / rows."""
    import jax
    import numpy as np
    import optax

    from funcmlp import mlp

    n = int(np.shape(x)[0])
    rows = min(n, MEASURE_ROWS)
    xs, ys = jax.numpy.asarray(x), jax.numpy.asarray(y)
    opt = optax.adam(1e-3)

    def step(carry, t):
        p, s = carry
        start = (t * rows) % (n - rows + 1)
        xb = jax.lax.dynamic_slice_in_dim(xs, start, rows)
        yb = jax.lax.dynamic_slice_in_dim(ys, start, rows)
        g = jax.grad(mlp.loss)(p, xb, yb, activation=activation, head=head)
        u, s = opt.update(g, s, p)
        return (optax.apply_updates(p, u), s), None

    def chunk(p):
        return jax.lax.scan(step, (p, opt.init(p)), jax.numpy.arange(MEASURE_STEPS))[0][0]

    rng = np.random.default_rng(0)  # He-scaled weights from numpy: nothing to compile but the chunk
    params = [
        {"w": (rng.normal(size=(MEASURE_MODELS, a, b)) * np.sqrt(2 / a)).astype(np.float32),
         "b": np.zeros((MEASURE_MODELS, b), np.float32)}
        for a, b in zip(sizes[:-1], sizes[1:], strict=True)
    ]  # fmt: skip
    run = jax.jit(jax.vmap(chunk))
    jax.block_until_ready(run(params))
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        jax.block_until_ready(run(params))
        best = min(best, time.perf_counter() - t0)
    return best / (MEASURE_MODELS * MEASURE_STEPS) * n / rows


def plan_run(
    train: tuple[Any, Any],
    sizes: tuple[int, ...],
    budget: float | None,
    *,
    configurations: int = 1,
    activation: Any = "relu",
    head: Any = "softmax",
    seeds: int | None = None,
    steps: int | None = None,
    batch_size: int | str | None = AUTO,
    spent: float = 0.0,
) -> Plan:
    """The ``Plan`` of a run on the training sample ``train`` = (x (n, d), y): the values given win;
    without a budget the others are ``UNBUDGETED``'s; when the given values leave one candidate it is the
    plan, unmeasured; else ``choose(measure(...), n, TRAINING_SHARE x (budget - spent), ...)``, ``spent``
    the seconds the run has taken so far (reading the data, and the measurement itself): the rest of the
    budget goes to compiling the sweep and scoring the chosen model."""
    n = int(len(train[1]))
    if budget is None:
        s, t, b = UNBUDGETED
        b = b if batch_size == AUTO else batch_size
        return Plan(s if seeds is None else seeds, t if steps is None else steps, b)
    options = candidates(n, seeds=seeds, steps=steps, batch_size=batch_size)
    if len(options) == 1:
        return Plan(*options[0], budget=budget)
    t0 = time.perf_counter()
    cost = measure(*train, sizes, activation=activation, head=head)
    left = max(0.0, budget - spent - (time.perf_counter() - t0)) * TRAINING_SHARE
    plan = choose(
        cost, n, left, configurations=configurations, seeds=seeds, steps=steps, batch_size=batch_size
    )
    return plan._replace(budget=budget)


def plan_metrics(plan: Plan) -> dict[str, Any]:
    """What metrics.json says of the plan: ``steps``, ``batch_size``, ``budget``, ``predicted_seconds``,
    ``step_cost`` (c, seconds of one full-batch step of one model; None when not measured)."""
    return {
        "steps": plan.steps,
        "batch_size": plan.batch_size,
        "budget": plan.budget,
        "predicted_seconds": plan.seconds,
        "step_cost": plan.cost,
    }
