"""The samples of a run: a data file or arrays split into training, validation and test rows (stratified
for classes), standardised with the training rows' statistics; or the three samples given as they are.

The run's random keys all come from one seed, one key per use:
``train, val, test, init, shuffle = split(key(seed), 5)`` (the split of the rows or the toy training
sample, the toy validation and test samples, the initial weights, the mini-batch order).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from funcmlp.fitting.task import Task, check_classes, infer_head
from funcmlp.io import datafile

KEY_NAMES = ("train", "val", "test", "init", "shuffle")
HELD_OUT = 0.2  # the default fraction of the rows held out for validation, and for the test


def run_keys(seed: int) -> dict[str, jax.Array]:
    """The run's keys, ``KEY_NAMES`` -> ``split(key(seed), 5)``."""
    keys = jax.random.split(jax.random.key(seed), len(KEY_NAMES))
    return dict(zip(KEY_NAMES, keys, strict=True))


class Samples(NamedTuple):
    """Training, validation and test samples (x, y) as the network sees them.

    Attributes:
      prepared: the ``datafile.Prepared`` of split data (raw values, standardizers, class names, feature
        names), or None for samples given as they are.
    """

    train: tuple[Any, Any]
    val: tuple[Any, Any]
    test: tuple[Any, Any]
    prepared: Any = None

    @property
    def n_features(self) -> int:
        return int(np.shape(self.train[0])[1])


def is_path(data: Any) -> bool:
    return isinstance(data, (str, os.PathLike))


def load(
    data: Any, y: Any, *, key, head: str | None, val: Any, test: Any, standardize: bool, **read
) -> tuple:
    """(``Samples``, ``Task``): a file (``data`` a path) or arrays (``data`` = x, with ``y``) split with
    ``key`` into ``val`` / ``test`` fractions; or, when ``val`` and ``test`` are (x, y) pairs, x and y
    as the training sample and those as the other two. ``read``: the file reader's options."""
    if isinstance(val, tuple) or isinstance(test, tuple):
        return _given(data, y, val, test, head)
    val, test = (HELD_OUT if v is None else v for v in (val, test))
    if is_path(data):
        if y is not None:
            raise ValueError("y: expected none with a data file (its last column holds the labels), got y")
        p = _prepare(Path(data), key, head, val, test, standardize, read)
    else:
        if y is None:
            raise ValueError("y: expected labels or targets for the rows of x, got None")
        p = _prepare_arrays(data, y, key, head, val, test, standardize)
    head = head or ("linear" if p.target_standardizer is not None else "softmax")
    task = Task(head, () if head == "linear" else tuple(p.classes))
    s = p.split
    samples = Samples((s.x_train, s.y_train), (s.x_val, s.y_val), (s.x_test, s.y_test), p)
    check_classes(task, sum(len(a) for a in (s.y_train, s.y_val, s.y_test)))
    return samples, task


def _prepare(path: Path, key, head, val, test, standardize, read):
    kw = dict(standardize=standardize, val=val, test=test, **read)
    p = datafile.prepare(path, key, targets=head == "linear", **kw)
    if head is None and datafile.continuous_labels(p.classes, sum(len(a) for a in p.raw[1::2])) is not None:
        p = datafile.prepare(path, key, targets=True, **kw)  # the labels are real-valued targets
    return p


def _prepare_arrays(x, y, key, head, val, test, standardize):
    """``datafile.prepare`` of arrays: class labels encoded as 0 .. K-1 in sorted order, targets (n,) or
    (n, k) standardised with the training rows' mean and standard deviation."""
    x, y = np.asarray(x, np.float32), np.asarray(y)
    if x.ndim != 2 or len(y) != len(x):
        raise ValueError(f"x, y: expected x (n, d) and y with n rows, got shapes {x.shape} and {y.shape}")
    head = head or infer_head(y)
    names = tuple(f"x{i + 1}" for i in range(x.shape[1]))
    if head == "linear":
        y = np.asarray(y, np.float32).reshape(len(y), -1)
        classes: tuple[Any, ...] = ()
    else:
        values, y = np.unique(y, return_inverse=True)
        classes, y = tuple(v.item() if isinstance(v, np.generic) else v for v in values), y.astype(np.int32)
    raw = datafile.split(key, x, y, val=val, test=test)
    ts = datafile.standardizer(raw.y_train) if head == "linear" else None
    st = datafile.standardizer(raw.x_train) if standardize else None
    parts = datafile.Split(*(a if s is None else s(a) for a, s in zip(raw, (st, ts) * 3, strict=True)))
    return datafile.Prepared(parts, raw, st, classes, names, ts)


def _given(x, y, val, test, head) -> tuple[Samples, Task]:
    """Samples given as they are (``val`` and ``test`` (x, y) pairs; an empty pair: none)."""
    pairs = [(np.asarray(x), np.asarray(y))]
    for name, pair in (("val", val), ("test", test)):
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise TypeError(f"{name}: expected an (x, y) pair with the other given as one, got {pair!r}")
        pairs.append((np.asarray(pair[0]), np.asarray(pair[1])))
    head = head or infer_head(y)
    k = 0 if head == "linear" else int(max(np.max(b) for _, b in pairs if len(b))) + 1
    return Samples(*pairs), Task(head, tuple(range(k)))


def load_samples(data: Any, y: Any = None, *, seed: int = 0, head: str | None = None, **options: Any):
    """(``Samples``, ``Task``) exactly as ``fit(data, y, seed=seed, ...)`` makes them: ``load`` with the
    run's ``train`` key. ``options``: ``val``, ``test``, ``standardize`` and the reader's options."""
    options = {"val": None, "test": None, "standardize": False} | options
    return load(data, y, key=run_keys(seed)["train"], head=head, **options)
