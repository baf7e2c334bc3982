"""The end of a ``funcmlp train`` or ``funcmlp sweep`` run: the chosen model trained again alone with its
learning curves logged, scored, and the run directory written (params.safetensors, config.json,
metrics.json, metrics.csv and the figures)."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

from funcmlp.cli import interrupt, scores, stopped, task
from funcmlp.cli.options import optimizer_factory
from funcmlp.cli.train import Config, Run


def finish_run(
    cfg: Config,
    run: Run,
    sizes,
    lr: float,
    activation: str,
    *,
    seed: int,
    selected=None,
    headline: str = "",
    setting: dict[str, float] | None = None,
    extra: dict[str, Any] | None = None,
) -> int:
    """Train model ``seed`` alone (as the sweep did), logging loss and accuracy per chunk, and write the run.

    With ``selected`` (the sweep's trained parameters of that seed) the run saves and scores exactly those
    parameters; the logged retraining gives the learning curves. With --patience the retraining stops early
    and its best evaluation's parameters are saved and scored instead (metrics.json: best_step,
    stopped_step). ``setting``: the sweep configuration's optimizer arguments and l2 (default --l2), also
    written to metrics.json with ``extra``.
    """
    import jax

    import funcmlp
    from funcmlp.cli import progress

    given, setting = setting is not None, dict(setting or {})
    l2 = setting.pop("l2", cfg.l2)
    samples, head = run.samples, task.training_head(cfg, run.samples)
    init = funcmlp.init_params(jax.random.split(run.keys["init"], cfg.seeds)[seed], sizes, scheme=cfg.init)
    with progress.Progress(cfg.steps, description=f"seed {seed}", quiet=cfg.quiet) as bar:
        result, history = progress.train_logged(
            init,
            *samples.train,
            optimizer=optimizer_factory(cfg.optimizer),  # one compiled program for any values
            hyperparams={"learning_rate": lr, **setting},
            steps=cfg.steps,
            activation=activation,
            head=head,
            batch_size=cfg.batch_size,
            key=run.keys["shuffle"],
            l2=l2,
            evaluate={"val": samples.val, "test": samples.test},
            callback=interrupt.stopping(bar),  # True once SIGINT or SIGTERM came: it stops there
            log_every=cfg.log_every,
            patience=getattr(cfg, "patience", None),
            on_log=bar.logged if len(samples.val[1]) and not cfg.quiet else None,  # shows the val metric
        )
    interrupted = stopped.marker(cfg, history, selected)  # a signal stopped it: "interrupted", "step"
    stop = history.early_stop  # --patience: the best evaluation's parameters, not the sweep's at --steps
    params, loss = result.params, float(result.losses[-1])
    if selected is not None or stop is not None:
        params = selected if stop is None else params
        loss = float(funcmlp.loss(params, *samples.train, activation=activation, head=head, l2=l2))
    scored = scores.evaluate(cfg, samples, params, activation=activation)
    diverged_at = int(result.diverged_at)
    metrics = {
        **scored.headline,
        "final_loss": loss if diverged_at < 0 else None,
        "diverged_at": diverged_at if diverged_at >= 0 else None,
        "selected_seed": seed,
        "seeds": cfg.seeds,
        "sizes": list(sizes),
        "learning_rate": lr,
        "activation": activation,
        **({**setting, "l2": l2, **(extra or {})} if given else {}),
        **scored.details,
        **({"best_step": stop.best_step, "stopped_step": stop.stopped_step} if stop is not None else {}),
        **interrupted,
    }
    name = f"{'-'.join(map(str, sizes))} {activation} net"
    chosen = f"seed {seed} of {cfg.seeds}" if cfg.seeds > 1 else "one seed"
    data = cfg.data.name if cfg.data is not None else cfg.dataset
    metrics["seconds"] = time.perf_counter() - run.t0
    values = "".join(f", {k} {v:g}" for k, v in {**setting, "l2": l2}.items() if given)  # a sweep's choice
    title = f"{name} on {data}, {chosen}" + (f"\n{values[2:]}" if values else "")  # figures: 2 lines
    write_run(
        cfg,
        run,
        params,
        history,
        result.losses,
        metrics,
        activation=activation,
        title=title,
        figures=not interrupted,
    )
    if not interrupted:  # an interrupted run ends without figures
        scores.draw(cfg, samples, scored, run.out, title=title)
    final = "n/a (diverged)" if metrics["final_loss"] is None else f"{metrics['final_loss']:.4f}"
    scored_text = scores.summary(metrics)
    summary = f"{headline}{name}, lr {lr:g}{values}, on {data}, {chosen}: {scored_text}, final loss {final}"
    print(f"{summary}, {metrics['seconds']:.1f} s -> {run.out}")
    if interrupted:
        return interrupt.report(run.out, interrupted["step"], cfg.steps)
    if diverged_at >= 0:
        where = run.out / "metrics.json"
        print(
            f"funcmlp: error: the loss became non-finite at step {diverged_at}; see {where}", file=sys.stderr
        )
        return 1
    return 0


def write_run(
    cfg: Config,
    run: Run,
    params,
    history,
    losses,
    metrics: dict[str, Any],
    *,
    activation: str,
    title: str,
    figures: bool = True,
) -> None:
    """Write a finished run: params.safetensors (with what ``predict`` needs), config.json, metrics.json,
    metrics.csv, learning_curves.png, loss.png and, for two features, decision_boundary.png (the figures
    only with ``figures``)."""
    from funcmlp import plots
    from funcmlp.io import runs

    out, samples, p = run.out, run.samples, run.samples.prepared
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(cfg).items()}
    prepared = (
        {}
        if p is None
        else {
            "standardizer": p.standardizer,
            "classes": p.classes or None,
            "feature_names": p.feature_names,
            "target_standardizer": p.target_standardizer,
        }
    )
    runs.save_model(out, params, activation=activation, head=cfg.head, config=config, **prepared)
    runs.write_json(out / "config.json", config)
    runs.write_history(out / "metrics.csv", history.columns)
    runs.write_json(out / "metrics.json", metrics)
    if not figures:
        return
    plots.learning_curves(history.columns, out / "learning_curves.png", title=title)
    plots.loss_curve(
        losses, out / "loss.png", title=f"Training loss at every step\n{title}", ylabel=scores.loss_label(cfg)
    )
    if samples.n_features != 2 or task.is_regression(cfg):
        return
    held_out = len(samples.test[1]) > 0
    x, y = samples.test if held_out else samples.train
    kw: dict[str, Any] = {"head": cfg.head}
    if p is not None:
        x = p.raw.x_test if held_out else p.raw.x_train
        kw |= {"transform": p.standardizer, "feature_names": p.feature_names, "class_names": p.classes}
    acc = metrics.get("test_accuracy")
    title += "" if acc is None else f", test accuracy {acc:.1%}"
    plots.decision_boundary(
        params, x, y, out / "decision_boundary.png", activation=activation, title=title, **kw
    )
