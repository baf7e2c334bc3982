"""The scores of a finished run, for metrics.json, the summary line and the figures (``funcmlp.metrics``
does the arithmetic, ``funcmlp.plots`` the drawing).

Classification: accuracy on train / validation / test, and on validation and test the balanced accuracy,
per-class precision, recall and F1 and the confusion matrix (confusion_matrix.png). Regression (the
linear head): MAE, RMSE and R^2 on train / validation / test in the targets' own units, the network's
standardised predictions mapped back by y = y' std + mean (predicted_vs_true.png).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

SPLITS = ("train", "validation", "test")
# The splits whose per-class scores and confusion matrix metrics.json holds.
DETAILED = ("validation", "test")


class Scored(NamedTuple):
    """A run's scores.

    Attributes:
      headline: the numbers of the summary line, ``<split>_accuracy`` and ``<split>_balanced_accuracy``
        (classes) or ``<split>_mae``, ``_rmse``, ``_r2`` (regression); None for a split without samples.
      details: ``classes`` and per split ``<split>_per_class`` and ``<split>_confusion_matrix`` (classes).
      pairs: split -> (true values, predictions): class indices, or targets in their own units.
    """

    headline: dict[str, Any]
    details: dict[str, Any]
    pairs: dict[str, tuple[np.ndarray, np.ndarray]]


@partial(jax.jit, static_argnames=("activation", "head"))
def _apply(params: Any, x: Any, y: Any, *, activation: Any, head: str):
    """(z, predictions, accuracy) of ``funcmlp.forward`` / ``predict`` / ``accuracy``, in one compiled call
    per split shape (op by op, each shape of a new data set would compile every operation); the accuracy
    is NaN for the linear head."""
    import funcmlp

    z = funcmlp.forward(params, x, activation=activation)
    if head == "linear":
        return z, z, jnp.nan
    return (
        z,
        funcmlp.predict(params, x, activation=activation, head=head),
        funcmlp.accuracy(params, x, y, activation=activation, head=head),
    )


def evaluate(task: Any, samples: Any, params: Any, *, activation: Any) -> Scored:
    """Apply ``params`` to every split of ``samples`` (a ``funcmlp.fitting.Samples``) and score the
    predictions for ``task``."""
    from funcmlp import metrics

    regression = task.regression
    pairs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    accuracy: dict[str, float] = {}  # funcmlp.accuracy's, as the library computes it (float32)
    for i, (split, (x, y)) in enumerate(zip(SPLITS, samples[:3], strict=True)):
        if not len(y):
            continue
        z, pred, acc = jax.device_get(_apply(params, x, y, activation=activation, head=task.head))
        if regression:
            p = samples.prepared
            st = p.target_standardizer
            pred = np.asarray(z, np.float64) * st.std.astype(np.float64) + st.mean.astype(np.float64)
            pairs[split] = (np.asarray(p.raw[2 * i + 1], np.float64)[:, 0], pred[:, 0])
        else:
            pairs[split] = (np.asarray(y), np.asarray(pred))
            accuracy[split] = float(acc)
    headline: dict[str, Any] = {}
    details: dict[str, Any] = {}
    if regression:
        for split in SPLITS:
            scores = metrics.regression(*pairs[split]) if split in pairs else {}
            headline |= {f"{split}_{k}": scores.get(k) for k in ("mae", "rmse", "r2")}
        return Scored(headline, details, pairs)
    classes = tuple(task.classes)
    details["classes"] = list(classes)
    for split in SPLITS:
        report = metrics.classification(*pairs[split], classes) if split in pairs else None
        headline[f"{split}_accuracy"] = accuracy.get(split)
        if split in DETAILED:
            headline[f"{split}_balanced_accuracy"] = None if report is None else report["balanced_accuracy"]
            if report is not None:
                details[f"{split}_per_class"] = report["per_class"]
                details[f"{split}_confusion_matrix"] = report["confusion_matrix"]
    return Scored(headline, details, pairs)


def summary(scores: dict[str, Any]) -> str:
    """The summary line's scores: "train accuracy 0.950, ..., test accuracy 0.900 (balanced 0.880)", or
    "train R^2 0.61 (MAE 41.2, RMSE 52.3), ..." for regression."""
    parts = []
    for split in SPLITS:
        if scores.get(f"{split}_r2") is not None:
            mae, rmse = scores[f"{split}_mae"], scores[f"{split}_rmse"]
            parts.append(f"{split} R^2 {scores[f'{split}_r2']:.3f} (MAE {mae:.4g}, RMSE {rmse:.4g})")
        elif scores.get(f"{split}_accuracy") is not None:
            text = f"{split} accuracy {scores[f'{split}_accuracy']:.3f}"
            balanced = scores.get(f"{split}_balanced_accuracy")
            parts.append(text if balanced is None else f"{text} (balanced {balanced:.3f})")
    return ", ".join(parts)


def loss_label(task: Any) -> str:
    """The loss axis's label of the figures."""
    if task.regression:
        return "loss J (mean squared error, standardised targets)"
    return "loss J (mean cross-entropy" + (", class-weighted)" if task.class_weight != "none" else ")")


def draw(task: Any, scored: Scored, out: Path, *, title: str) -> None:
    """confusion_matrix.png (validation and test, else train) or predicted_vs_true.png (every split)."""
    from funcmlp import plots

    if task.regression:
        target = "target"
        r2 = scored.headline.get("test_r2")
        extra = "" if r2 is None else f", test R$^2$ {r2:.3f}"
        plots.predicted_vs_true(
            scored.pairs, out / "predicted_vs_true.png", title=title + extra, target_name=target
        )
        return
    shown = [s for s in DETAILED if f"{s}_confusion_matrix" in scored.details] or ["train"]
    k = len(scored.details["classes"])
    from funcmlp import metrics

    matrices = {s: metrics.confusion_matrix(*scored.pairs[s], k) for s in shown}
    plots.confusion_matrices(
        matrices, out / "confusion_matrix.png", class_names=scored.details["classes"], title=title
    )
