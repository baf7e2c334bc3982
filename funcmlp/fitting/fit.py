"""``fit``: the whole run on your data in one call, what ``funcmlp train --data`` does.

1. The rows are split into training, validation and test rows with the run's key (stratified for classes;
   ``funcmlp.fitting.samples``), standardised with the training rows' statistics if asked; the task is the
   head given, or read from the labels (``funcmlp.fitting.task``).
2. The hidden width and the L2 weights to try come from the data (``task.hidden_width``,
   ``task.l2_choices``).
3. ``seeds`` initialisations x the L2 weights train as one ``funcmlp.sweep``, every model's curves logged
   inside it (train / validation / test loss and accuracy every ``log_every`` steps), with early stopping
   per model under ``patience``.
4. The model with the best validation score (accuracy, ties to the lower loss; the linear head: loss) is
   chosen, never on the test rows; its curves, losses and parameters are the sweep's (nothing is trained
   twice), and it is scored on every split (``funcmlp.fitting.scores``).

``select`` does step 4 for any ``SweepResult``: ``funcmlp sweep`` keeps its best configuration's best seed
with it. ``funcmlp.fitting.report.save_run`` writes a ``Fit`` as a run directory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from funcmlp import chunking, early_stopping
from funcmlp.fitting import budget, scores
from funcmlp.fitting.budget import DEFAULT_BUDGET, Plan
from funcmlp.fitting.optimizers import optimizer_factory
from funcmlp.fitting.samples import Samples, load, run_keys
from funcmlp.fitting.task import Task, check_options, run_options
from funcmlp.options import Logging, Report
from funcmlp.sweeps.curves import model_history
from funcmlp.sweeps.grid import sweep
from funcmlp.sweeps.mesh import to_host
from funcmlp.sweeps.results import SweepResult


class Fit(NamedTuple):
    """What ``fit`` returns.

    Attributes:
      params: the chosen model's parameters (its best row's under ``patience``).
      history: its curves, name -> (rows,) float64: ``step``, ``<split>_loss`` (and ``_accuracy`` for
        classes) of train, val and test: the rows of a run's metrics.csv.
      losses: (steps,) its training loss J(theta_t) at every step (NaN after a divergence).
      choice: what was chosen and why: ``seed``, ``l2`` (and a sweep's axis values), ``why``.
      scores: ``funcmlp.fitting.scores.Scored`` on every split (accuracy, per-class scores, confusion
        matrices; or MAE, RMSE, R^2 in the targets' units).
      metrics: the run's summary (metrics.json): scores, final loss, divergence, chosen seed, seconds.
      samples: the split (and standardised) samples, with the preprocessing (``samples.prepared``).
      task: classes or targets (``funcmlp.fitting.task.Task``).
      sizes, activation: the network.
      sweep: the ``SweepResult`` every model came from.
      options: the options the run used, defaults filled in (config.json).
    """

    params: Any
    history: dict[str, np.ndarray]
    losses: np.ndarray
    choice: dict[str, Any]
    scores: scores.Scored
    metrics: dict[str, Any]
    samples: Samples
    task: Task
    sizes: tuple[int, ...]
    activation: str
    sweep: SweepResult
    options: dict[str, Any]

    @property
    def interrupted(self) -> bool:
        """Whether a callback stopped the run before its last step."""
        return bool(self.metrics.get("interrupted"))


def fit(
    data: Any, y: Any = None, *, head: str | None = None, hidden: Sequence[int] | None = None,
    activation: str = "relu", optimizer: str = "adam", learning_rate: float = 0.03, steps: int | None = None,
    seeds: int | None = None, batch_size: int | str | None = "auto", budget: float | None = DEFAULT_BUDGET,
    l2: float | None = None, init: str = "he", val: float | tuple[Any, Any] | None = None,
    test: float | tuple[Any, Any] | None = None, standardize: bool = False, class_weight: str = "none",
    patience: int | None = None, log_every: int | None = None, seed: int = 0,
    callback: Callable[[Report], Any] | None = None, on_plan: Callable[[Plan], Any] | None = None,
    logger: Any = None, **read: Any,
) -> Fit:  # fmt: skip
    """Train ``seeds`` networks on your data at once and keep the one best on the validation rows.

    Args:
      data: a data file (CSV, Parquet or .npz; the last column the label) or x (n, d) with ``y``.
      y: with x: class labels (any sortable values) or real-valued targets.
      head: ``"softmax"``, ``"sigmoid"`` (two classes) or ``"linear"`` (targets); None: from the labels.
      hidden: hidden widths; default one layer of 2 (d + K) units clipped to [8, 128].
      activation, optimizer (sgd, momentum, adam), learning_rate, init: the training.
      steps, seeds (initialisations trained at once, one ``funcmlp.sweep``), batch_size (None: the full
        batch): None ("auto" for batch_size) are chosen to fit ``budget`` (``funcmlp.fitting.budget``).
      budget: seconds the run aims at, reading to scoring; None: 64 seeds x 1000 full-batch steps.
      l2: L2 weight 0.5 l2 sum ||W||^2; None: 0, or for a regression chosen on the validation rows among
        0, 0.001, 0.01, 0.1 and 1.
      val, test: fractions of the rows held out (default 0.2 each); or, both as (x, y) pairs, the
        validation and test samples as they are (x, y then the training sample).
      standardize: rescale each feature with the training rows' mean and standard deviation.
      class_weight: ``"balanced"`` weighs each sample's loss by n / (K n_k).
      patience: early stopping per model after this many logged rows without improvement.
      log_every: steps between logged rows (default about 50 rows).
      seed: every random key of the run comes from it (``samples.run_keys``).
      callback: ``callback(report)`` between compiled chunks (a ``funcmlp.Report``, as every driver's; a
        ``funcmlp.progress.Progress`` of ``steps`` steps); returning True stops the run there, keeping the
        best model so far (``Fit.interrupted``).
      on_plan: called with the ``budget.Plan`` (seeds, steps, batch size) before training starts.
      logger: a ``funcmlp.tracking`` sink (TensorBoard, W&B): every model's loss at each chunk's end as
        it trains, then every model's curves, every configuration's hyperparameters and the chosen model's
        curves (run ``"chosen"``), all from the host between compiled chunks.
      read: options of the file reader (``funcmlp.io.datafile.prepare``).

    Returns:
      ``Fit``; its ``options`` and ``metrics`` hold the plan (``steps``, ``seeds``, ``batch_size``,
      ``budget``, the predicted seconds and the measured cost of a step).
    """
    t0 = time.perf_counter()
    check_options(head, class_weight)
    samples, task = load(
        data, y, key=run_keys(seed)["train"], head=head, val=val, test=test, standardize=standardize, **read
    )
    task = task._replace(class_weight=class_weight)
    given = dict(
        hidden=hidden, activation=activation, optimizer=optimizer, learning_rate=learning_rate, steps=steps,
        seeds=seeds, batch_size=batch_size, budget=budget, l2=l2, init=init, standardize=standardize,
        class_weight=class_weight, patience=patience, log_every=log_every, seed=seed,
    )  # fmt: skip
    options, choices, plan = run_options(samples, task, given, t0=t0)
    if on_plan is not None:
        on_plan(plan)
    return train_run(samples, task, options, choices, plan, callback=callback, logger=logger, t0=t0)


def train_run(
    samples: Samples, task: Task, options: dict[str, Any], choices, plan: Plan, *, callback, logger, t0
):
    """``fit``'s sweep of ``options`` (from ``run_options``) and its best model (``select``)."""
    stopped = []

    def report(progress: Report):
        halt = callback is not None and callback(progress) is True
        stopped.append(halt)
        return halt

    o = options
    sizes = (samples.n_features, *o["hidden"], task.n_outputs)
    if logger is not None:
        report = _tracked(
            logger, report, o["learning_rate"], choices, o["optimizer"], o["seeds"], sizes, o["activation"]
        )
    l2_grid = list(choices) if len(choices) > 1 else choices[0]
    result = sweep_samples(
        samples, task, seed=o["seed"], sizes=sizes, seeds=o["seeds"], steps=o["steps"], every=o["log_every"],
        configurations=len(choices), activation=o["activation"], optimizer=optimizer_factory(o["optimizer"]),
        learning_rates=[o["learning_rate"]], l2=l2_grid, batch_size=o["batch_size"], scheme=o["init"],
        patience=o["patience"], callback=report,
    )  # fmt: skip
    shown = ("l2",) if len(choices) > 1 else ()
    out = select(result, samples, task, options=options, shown=shown, interrupted=any(stopped), t0=t0)
    out.metrics.update(budget.plan_metrics(plan))
    if logger is not None:
        from funcmlp import tracking

        tracking.log_sweep(logger, result, losses=False)
        tracking.log_history(logger, out.history, run="chosen")
    return out


def sweep_samples(
    samples: Samples,
    task: Task,
    *,
    seed: int,
    sizes,
    seeds: int,
    steps: int,
    every: int,
    patience: int | None = None,
    configurations: int = 1,
    batch_size: int | None = None,
    **grid: Any,
) -> SweepResult:
    """``funcmlp.sweep`` of ``samples`` as a run makes it: the run's init and shuffle keys, the task's
    training head, the validation rows ranking the models, the test rows logged beside them every
    ``every`` steps, chunks of about a quarter second (``chunking.short_chunk``; ``configurations`` x
    ``seeds`` models per group). ``grid``: the rest of ``sweep``'s arguments (axes, optimizer, callback,
    start, ...)."""
    keys = run_keys(seed)
    n = len(samples.train[1])
    sets = {name: pair for name, pair in (("val", samples.val), ("test", samples.test)) if len(pair[1])}
    groups = sizes if isinstance(sizes[0], Sequence) else [sizes]
    work = chunking.step_work(groups, batch_size or n, configurations * seeds)
    return sweep(
        keys["init"], *samples.train, sizes=sizes, seeds=seeds, steps=steps, batch_size=batch_size,
        batch_key=keys["shuffle"], head=task.training_head(samples.train[1]),
        evaluate=sets or None, log=Logging(every, patience), chunk_size=chunking.short_chunk(every, work),
        **grid,
    )  # fmt: skip


def _tracked(logger, report, learning_rate, choices, optimizer, seeds, sizes, activation):
    """``report`` that first logs every model's last loss of the chunk to ``logger``."""
    from funcmlp import activations, tracking
    from funcmlp.sweeps.axes import grid_of

    l2 = list(choices) if len(choices) > 1 else choices[0]
    axes = grid_of([learning_rate], None, l2, optimizer_factory(optimizer)).axes
    groups = [(sizes, activations.get(activation).name)]
    return tracking.sweep_callback(logger, axes=axes, seeds=seeds, groups=groups, then=report)


def select(
    result: SweepResult,
    samples: Samples,
    task: Task,
    *,
    options: dict[str, Any],
    shown: Sequence[str] = (),
    configuration: dict[str, Any] | None = None,
    interrupted: bool = False,
    extra: dict[str, Any] | None = None,
    t0: float | None = None,
) -> Fit:
    """The ``Fit`` of the best model of ``result`` (of ``configuration``, if given), scored on
    ``samples``. ``shown``: the configuration's values reported with the run (metrics.json, the title);
    ``extra``: more entries for metrics.json; ``options``: the run's options (``log_every``,
    ``patience``, ``steps``)."""
    g, *index, j = result.best(configuration=configuration)
    group, at = result.groups[g], (*index, j)
    conf = result.configuration(g, tuple(index))
    params = result.model(g, *index, j)
    losses = np.asarray(to_host(group.losses)[at], np.float64)
    diverged_at = int(to_host(group.diverged_at)[at])
    history, stop = _history(group, at, task, diverged_at, options)
    scored = scores.evaluate(task, samples, params, activation=group.activation)
    final = None
    if diverged_at < 0:
        import funcmlp

        head = task.training_head(samples.train[1])
        final = funcmlp.loss(params, *samples.train, activation=group.activation, head=head, l2=conf["l2"])
    setting = {k: conf[k] for k in shown}
    metrics = {
        **scored.headline,
        "final_loss": None if final is None else float(final),
        "diverged_at": diverged_at if diverged_at >= 0 else None,
        "selected_seed": j,
        "seeds": result.seeds,
        "sizes": list(group.sizes),
        "learning_rate": conf["learning_rate"],
        "activation": group.activation,
        **({**setting, **(extra or {})} if shown else {}),
        **scored.details,
        **({} if stop is None else {"best_step": stop.best_step, "stopped_step": stop.stopped_step}),
        **({"interrupted": True, "step": result.step} if interrupted else {}),
        "seconds": 0.0 if t0 is None else time.perf_counter() - t0,
    }
    values = {k: v for k, v in conf.items() if k not in ("sizes", "activation", "activation_fn")}
    why = f"the best {result.metric} of {len(result.groups) * int(np.prod(result.shape))} x {result.seeds} models"
    choice = {"seed": j, **values, "shown": tuple(shown), "why": why}
    return Fit(
        params, history, losses, choice, scored, metrics, samples, task, tuple(group.sizes),
        group.activation, result, dict(options),
    )  # fmt: skip


def _history(group, at, task: Task, diverged_at: int, options: dict[str, Any]):
    """The chosen model's curves, cut after a divergence (the row after it is the last) and where its
    patience ran out; and its ``EarlyStop`` (None without patience)."""
    columns = model_history(group.history, at)
    if task.regression:
        columns = {k: v for k, v in columns.items() if not k.endswith("_accuracy")}
    steps, every, patience = columns["step"], options["log_every"], options.get("patience")
    keep = np.ones(len(steps), bool) if diverged_at < 0 else steps - every <= diverged_at
    stop = None
    if patience is not None and group.early_stop is not None:
        best = int(to_host(group.early_stop["best_step"])[at])
        ran_out = bool(to_host(group.early_stop["stopped"])[at])
        last = int(steps[keep][-1])
        stopped_step = min(best + patience * every, last) if ran_out else last
        keep &= steps <= stopped_step
        stop = early_stopping.EarlyStop(patience, best, stopped_step, ran_out)
    return {k: v[keep] for k, v in columns.items()}, stop
