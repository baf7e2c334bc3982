"""Scores of a trained model's predictions: classification (confusion matrix, per-class precision, recall
and F1, balanced accuracy) and regression (MAE, RMSE, R^2). Plain numpy on host arrays.

Classification, for true classes y_i and predicted classes yhat_i in [0, K), i = 1..n:

    C_jk = #{i : y_i = j, yhat_i = k}            (rows: true class, columns: predicted class)
    precision_k = C_kk / sum_j C_jk,   recall_k = C_kk / sum_j C_kj,   F1_k = 2 P_k R_k / (P_k + R_k)
    balanced accuracy = mean of recall_k over the classes present in y (sum_j C_kj > 0)

A ratio with a zero denominator is 0 (scikit-learn's ``zero_division=0``).

Regression, for targets y_i and predictions yhat_i (per output column, then averaged over the columns):

    MAE = (1/n) sum_i |y_i - yhat_i|,   RMSE = sqrt((1/n) sum_i (y_i - yhat_i)^2),
    R^2 = 1 - sum_i (y_i - yhat_i)^2 / sum_i (y_i - ybar)^2

(with a constant target, R^2 is 1 for a perfect prediction and 0 otherwise, as scikit-learn's default).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _labels(y: Any, name: str) -> np.ndarray:
    a = np.asarray(y)
    if a.ndim != 1:
        raise ValueError(f"{name}: expected class labels of shape (n,), got shape {a.shape}")
    if a.size and (not np.all(a == np.round(a)) or a.min() < 0):
        raise ValueError(
            f"{name}: expected non-negative integer class labels, got values such as {a.flat[0]}"
        )
    return a.astype(np.int64)


def confusion_matrix(y_true: Any, y_pred: Any, k: int | None = None) -> np.ndarray:
    """C (K, K) int64 with C_jk = #{i : y_i = j, yhat_i = k}: rows are true classes, columns predicted.

    Args:
      y_true, y_pred: class indices (n,) in [0, K).
      k: the number of classes K; default 1 + the largest label in either.
    """
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_pred: expected the shape of y_true {t.shape}, got {p.shape}")
    biggest = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    k = biggest if k is None else int(k)
    if biggest > k:
        raise ValueError(f"k: expected more than the largest label {biggest - 1}, got {k}")
    c = np.zeros((k, k), np.int64)
    np.add.at(c, (t, p), 1)
    return c


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _square(c: Any) -> np.ndarray:
    c = np.asarray(c)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"c: expected a square confusion matrix (K, K), got shape {c.shape}")
    return c.astype(np.float64)


def per_class(c: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, F1), each (K,), from a confusion matrix C (K, K):

    P_k = C_kk / sum_j C_jk (of the samples predicted k, the fraction truly k), R_k = C_kk / sum_j C_kj
    (of the samples truly k, the fraction predicted k), F1_k = 2 P_k R_k / (P_k + R_k); 0 where a
    denominator is 0.
    """
    c = _square(c)
    tp = np.diag(c)
    precision, recall = _ratio(tp, c.sum(axis=0)), _ratio(tp, c.sum(axis=1))
    return precision, recall, _ratio(2 * precision * recall, precision + recall)


def balanced_accuracy(c: Any) -> float:
    """(1/|S|) sum_{k in S} R_k, the mean recall over the classes S present (sum_j C_kj > 0); NaN if none."""
    c = _square(c)
    support = c.sum(axis=1)
    present = support > 0
    if not present.any():
        return float("nan")
    return float(np.mean(np.diag(c)[present] / support[present]))


def _pair(y: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(y, np.float64), np.asarray(y_pred, np.float64)
    if t.shape != p.shape and t.size == p.size:
        p = p.reshape(t.shape)  # (n,) against (n, 1)
    if t.shape != p.shape or t.ndim not in (1, 2) or t.shape[0] == 0:
        raise ValueError(
            "y_pred: expected targets and predictions of one shape (n,) or (n, d), "
            f"got {t.shape} and {p.shape}"
        )
    return (t[:, None], p[:, None]) if t.ndim == 1 else (t, p)


def mae(y: Any, y_pred: Any) -> float:
    """Mean absolute error (1/n) sum_i |y_i - yhat_i| (averaged over output columns)."""
    t, p = _pair(y, y_pred)
    return float(np.mean(np.abs(t - p)))


def rmse(y: Any, y_pred: Any) -> float:
    """Root mean squared error sqrt((1/n) sum_i (y_i - yhat_i)^2), per output column, then averaged."""
    t, p = _pair(y, y_pred)
    return float(np.mean(np.sqrt(np.mean((t - p) ** 2, axis=0))))


def r2(y: Any, y_pred: Any) -> float:
    """Coefficient of determination R^2 = 1 - SS_res / SS_tot, SS_res = sum_i (y_i - yhat_i)^2,
    SS_tot = sum_i (y_i - ybar)^2, per output column, then averaged; a constant column scores 1 if
    predicted exactly, else 0."""
    t, p = _pair(y, y_pred)
    ss_res = np.sum((t - p) ** 2, axis=0)
    ss_tot = np.sum((t - t.mean(axis=0)) ** 2, axis=0)
    safe = np.where(ss_tot > 0, ss_tot, 1.0)
    score = np.where(ss_tot > 0, 1 - ss_res / safe, np.where(ss_res == 0, 1.0, 0.0))
    return float(np.mean(score))


def classification(y_true: Any, y_pred: Any, classes: tuple[Any, ...] | int) -> dict[str, Any]:
    """Every classification score of one data split, as a run's metrics.json holds it.

    Args:
      y_true, y_pred: class indices (n,); classes: the K class labels in index order, or K.

    Returns:
      ``{"accuracy", "balanced_accuracy", "per_class": {label: {"precision", "recall", "f1", "support"}},
      "confusion_matrix": C as a list of rows (true class) of counts per predicted class}``.
    """
    names = tuple(range(classes)) if isinstance(classes, int) else tuple(classes)
    c = confusion_matrix(y_true, y_pred, len(names))
    precision, recall, f1 = per_class(c)
    support = c.sum(axis=1)
    n = int(c.sum())
    return {
        "accuracy": float(np.trace(c) / n) if n else float("nan"),
        "balanced_accuracy": balanced_accuracy(c),
        "per_class": {
            str(name): {
                "precision": float(precision[k]),
                "recall": float(recall[k]),
                "f1": float(f1[k]),
                "support": int(support[k]),
            }
            for k, name in enumerate(names)
        },
        "confusion_matrix": c.tolist(),
    }


def regression(y: Any, y_pred: Any) -> dict[str, float]:
    """``{"mae", "rmse", "r2"}`` of predictions against targets (same units)."""
    return {"mae": mae(y, y_pred), "rmse": rmse(y, y_pred), "r2": r2(y, y_pred)}
