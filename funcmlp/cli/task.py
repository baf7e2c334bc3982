"""What a ``funcmlp train`` or ``funcmlp sweep`` run learns: classes (--head softmax or sigmoid, optionally
--class-weight balanced) or real-valued targets (--head linear), and the checks of those options.

For --head linear the label column of --data is read as real targets and standardised with the training
rows' mean and standard deviation (``datafile.prepare(..., targets=True)``): the network predicts
standardised targets, and the run reports its predictions and scores in the targets' own units.
"""

from __future__ import annotations

import sys
from typing import Any


def is_regression(cfg: Any) -> bool:
    """Whether the run learns real-valued targets (--head linear)."""
    return cfg.head == "linear"


def check_head(cfg: Any) -> None:
    """--head linear needs --data; --class-weight balanced needs a classification head."""
    if is_regression(cfg) and cfg.data is None:
        raise ValueError(
            "--head: expected --data with --head linear (the toy data sets hold classes, not real "
            "targets), got no --data"
        )
    if cfg.class_weight != "none" and is_regression(cfg):
        raise ValueError(
            f"--class-weight: expected a classification head (softmax or sigmoid), got --head {cfg.head}"
        )


def check_samples(cfg: Any, samples: Any) -> None:
    """Checks once the samples are read, before the run directory is made: --head sigmoid needs two
    classes; labels that look continuous under a classification head get a warning (one stderr line)."""
    if is_regression(cfg):
        return
    k = samples.n_classes
    if cfg.head == "sigmoid" and k != 2:
        raise ValueError(
            f"--head: expected two classes for --head sigmoid (one output unit), got {k}; use --head softmax"
        )
    p = samples.prepared
    if p is not None:
        from funcmlp.io import datafile

        n = sum(len(y) for y in (p.raw.y_train, p.raw.y_val, p.raw.y_test))
        why = datafile.continuous_labels(p.classes, n)
        if why is not None:
            print(
                f"funcmlp: warning: --data: the labels look like real-valued targets ({why}), read as {k} "
                "classes; for regression use --head linear",
                file=sys.stderr,
            )


def n_outputs(cfg: Any, samples: Any) -> int:
    """The network's output units: 1 for --head linear (one target) and sigmoid, else the classes."""
    return 1 if cfg.head in ("linear", "sigmoid") else samples.n_classes


def training_head(cfg: Any, samples: Any) -> Any:
    """The head the network is trained with: --head, its loss weighted by class with --class-weight
    balanced (weights n / (K n_k) from the training labels, ``funcmlp.heads.weighted``)."""
    if cfg.class_weight == "none":
        return cfg.head
    from funcmlp import heads

    k = 2 if cfg.head == "sigmoid" else samples.n_classes
    return heads.weighted(cfg.head, heads.balanced_weights(samples.train[1], k))
