"""A ``Fit`` written as a run directory, and its one-line summary.

    params.safetensors   the chosen network, with what ``funcmlp predict`` / ``load_model`` need to apply
                         it to raw rows (activation, head, preprocessing, class labels, feature names)
    config.json          the options the run used
    metrics.json         the scores, final loss, divergence, chosen seed and settings, seconds
    metrics.csv          the chosen model's logged rows (``Fit.history``)
    learning_curves.png, loss.png, and confusion_matrix.png or predicted_vs_true.png; for two features,
    decision_boundary.png (figures only with ``figures=True``; an interrupted run has none)

``funcmlp.load_run`` reads it back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from funcmlp.fitting import scores


def title(fit: Any, data_name: str) -> str:
    """ "2-14-3 relu net on iris.csv, seed 3 of 64" and, for settings a sweep chose, a second line."""
    name = f"{'-'.join(map(str, fit.sizes))} {fit.activation} net"
    seeds = fit.metrics["seeds"]
    chosen = f"seed {fit.choice['seed']} of {seeds}" if seeds > 1 else "one seed"
    values = ", ".join(f"{k} {fit.choice[k]:g}" for k in fit.choice["shown"])
    return f"{name} on {data_name}, {chosen}" + (f"\n{values}" if values else "")


def summary(fit: Any, data_name: str) -> str:
    """The run's one line: network, learning rate and chosen settings, data, seed, scores, final loss."""
    m = fit.metrics
    name = f"{'-'.join(map(str, fit.sizes))} {fit.activation} net"
    values = "".join(f", {k} {fit.choice[k]:g}" for k in fit.choice["shown"])
    chosen = f"seed {fit.choice['seed']} of {m['seeds']}" if m["seeds"] > 1 else "one seed"
    final = "n/a (diverged)" if m["final_loss"] is None else f"{m['final_loss']:.4f}"
    text = scores.summary(m)
    return f"{name}, lr {m['learning_rate']:g}{values}, on {data_name}, {chosen}: {text}, final loss {final}"


def save_run(
    run_dir: str | os.PathLike,
    fit: Any,
    *,
    figures: bool = True,
    config: dict[str, Any] | None = None,
    data_name: str = "data",
) -> Path:
    """Write ``fit`` to ``run_dir`` (made if missing); ``config``: what config.json holds (default
    ``fit.options``). Returns the directory."""
    from funcmlp.io import datafile, runs

    out = Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = dict(fit.options if config is None else config)
    p = fit.samples.prepared
    prepared = {}
    if p is not None:
        prepared = {
            "standardizer": p.standardizer,
            "classes": tuple(p.classes) or None,
            "feature_names": p.feature_names,
            "target_standardizer": p.target_standardizer,
            "preprocessing": p.preprocessing,
        }
        if p.preprocessing is not None:  # what was done to which column
            config["preprocessing"] = datafile.summary(p.preprocessing)
    runs.save_model(out, fit.params, activation=fit.activation, head=fit.task.head, config=config, **prepared)
    runs.write_json(out / "config.json", config)
    runs.write_history(out / "metrics.csv", fit.history)
    runs.write_json(out / "metrics.json", fit.metrics)
    if figures and not fit.interrupted:
        draw(out, fit, title(fit, data_name))
    return out


def draw(out: Path, fit: Any, name: str) -> None:
    """The run's figures, titled ``name``."""
    from funcmlp import plots

    plots.learning_curves(fit.history, out / "learning_curves.png", title=name)
    label = scores.loss_label(fit.task)
    plots.loss_curve(fit.losses, out / "loss.png", title=f"Training loss at every step\n{name}", ylabel=label)
    scores.draw(fit.task, fit.scores, out, title=name)
    if fit.samples.n_features != 2 or fit.task.regression:
        return
    samples, p = fit.samples, fit.samples.prepared
    held_out = len(samples.test[1]) > 0
    x, y = samples.test if held_out else samples.train
    kw: dict[str, Any] = {"head": fit.task.head}
    if p is not None:
        x = p.raw.x_test if held_out else p.raw.x_train
        kw |= {"transform": p.standardizer, "feature_names": p.feature_names, "class_names": p.classes}
    acc = fit.metrics.get("test_accuracy")
    name += "" if acc is None else f", test accuracy {acc:.1%}"
    plots.decision_boundary(
        fit.params, x, y, out / "decision_boundary.png", activation=fit.activation, title=name, **kw
    )
