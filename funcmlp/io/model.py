"""A trained network saved in a run directory: ``save_model`` writes ``params.safetensors`` with what is
needed to apply it to new points (activation, head, the whole preprocessing: column names and kinds,
categories, medians, standardisation; class labels), and ``load_model`` gives it back as a ``Model`` whose
``predict`` takes raw rows as they appear in a data file: a path, a data frame, or the number matrix.

A run saved before the preprocessing was kept loads as number columns under its feature names.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from funcmlp import activations, heads
from funcmlp.io import checkpoint, preprocess
from funcmlp.io.preprocess import Preprocessing
from funcmlp.io.rundir import jsonable
from funcmlp.io.standardize import Standardizer
from funcmlp.mlp import Params

CHECKPOINT = "params.safetensors"


class Model(NamedTuple):
    """A trained network with what it needs to predict from raw feature rows.

    Attributes:
      params: the layers; activation, head: as used in training.
      standardizer: x -> (x - mean) / std applied before the network, or None.
      classes: original label of each class index, or None (the index is the label).
      feature_names: names of the d input features.
      target_standardizer: for a regression network trained on standardised targets, the ``Standardizer``
        y' = (y - mean) / std whose inverse, y = y' std + mean, gives predictions in the targets' units.
      preprocessing: how raw rows become the inputs (``preprocess.Preprocessing``); None: number columns
        named ``feature_names``.
    """

    params: Params
    activation: str
    head: str
    standardizer: Standardizer | None
    classes: tuple[Any, ...] | None
    feature_names: tuple[str, ...]
    target_standardizer: Standardizer | None = None
    preprocessing: Preprocessing | None = None

    @property
    def n_features(self) -> int:
        return int(np.shape(self.params[0]["w"])[0])

    @property
    def reader(self) -> Preprocessing:
        """The preprocessing that reads raw rows (``preprocessing``, else number columns ``feature_names``)."""
        return self.preprocessing or preprocess.numeric(self.feature_names)

    def inputs(self, x) -> np.ndarray:
        """The inputs (n, d) before standardisation of ``x``: a data file's path (``features.read_points``),
        a data frame of raw rows (columns by name, ``preprocess.encode``), or an array (n, d) as it is."""
        if isinstance(x, (str, os.PathLike)):
            from funcmlp.io.features import read_points

            return read_points(x, self.reader).x
        pd = sys.modules.get("pandas")  # a data frame is pandas', loaded by whoever made it
        if pd is not None and isinstance(x, pd.DataFrame):
            return preprocess.encode(self.reader, x)
        return np.asarray(x, np.float32)

    def logits(self, x) -> np.ndarray:
        """z^L (n, d_L) for raw rows x (a path, a data frame, or an array (n, d): ``inputs``)."""
        from funcmlp.mlp import forward

        x = self.inputs(x)
        if self.standardizer is not None:
            x = self.standardizer(x)
        return np.asarray(forward(self.params, x, activation=self.activation))

    def predict(self, x) -> list[Any]:
        """Predicted labels for raw rows x (``inputs``), in the training file's own labels; for a
        regression network (a head that does not classify), the predicted values in the targets' units
        (one float per row for one output, else a list per row)."""
        from funcmlp.heads import get

        head = get(self.head)
        if not head.classifies:
            z = np.asarray(head.predict(self.logits(x)), np.float64)
            st = self.target_standardizer
            z = z if st is None else z * st.std.astype(np.float64) + st.mean.astype(np.float64)
            return z[:, 0].tolist() if z.shape[1] == 1 else z.tolist()
        idx = np.asarray(head.predict(self.logits(x)))
        if self.classes is None:
            return idx.tolist()
        return [self.classes[i] for i in idx.tolist()]

    def probabilities(self, x) -> np.ndarray:
        """Class probabilities (n, K): softmax of the logits, or (1 - s, s) for a sigmoid head."""
        z = self.logits(x).astype(np.float64)
        head = heads.get(self.head)
        if head.probabilities is None:
            raise ValueError(
                f"head: {head.name!r} gives no class probabilities (softmax and sigmoid heads do)"
            )
        return np.asarray(head.probabilities(jnp.asarray(z)), np.float64)


def save_model(
    run_dir: str | os.PathLike,
    params: Params,
    *,
    activation: str = "relu",
    head: str = "softmax",
    standardizer: Standardizer | None = None,
    classes: tuple[Any, ...] | None = None,
    feature_names: tuple[str, ...] | None = None,
    config: dict[str, Any] | None = None,
    target_standardizer: Standardizer | None = None,
    preprocessing: Preprocessing | None = None,
) -> Path:
    """Save ``params`` to ``run_dir/params.safetensors`` with what ``load_model`` needs (the preprocessing in
    its metadata, as ``Preprocessing.to_json``); returns the path."""
    model = {
        "preprocessing": None if preprocessing is None else preprocessing.to_json(),
        "activation": activation,
        "head": head,
        "standardize": None if standardizer is None else standardizer.to_json(),
        "standardize_targets": None if target_standardizer is None else target_standardizer.to_json(),
        "classes": None if classes is None else list(classes),
        "feature_names": None if feature_names is None else list(feature_names),
    }
    path = Path(run_dir) / CHECKPOINT
    checkpoint.save(
        path, params, config=jsonable({**(config or {}), "model": model}), activation=activation, head=head
    )
    return path


def load_model(run_dir: str | os.PathLike, *, activation: Any = None, head: Any = None) -> Model:
    """Load the network saved in a run directory (or a checkpoint file) as a ``Model``.

    A network trained with your own activation function or loss records only its name; pass the function
    back as ``activation=`` / ``head=``.

    Raises:
      ValueError: no checkpoint there, it is not a funcmlp checkpoint, or it names a function not passed back.
    """
    path = Path(run_dir)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.exists():
        raise ValueError(f"run_dir: expected a run directory holding {CHECKPOINT}, got {str(run_dir)!r}")
    params, config = checkpoint.load(path)
    model = config.get("model") or {}
    d = int(np.shape(params[0]["w"])[0])
    std, targets = model.get("standardize"), model.get("standardize_targets")
    classes = model.get("classes")
    names = model.get("feature_names")
    prep = model.get("preprocessing")
    recorded = {
        "activation": model.get("activation", config.get("activation", "relu")),
        "head": model.get("head", config.get("head", "softmax")),
    }
    given = {"activation": activation, "head": head}
    for field, lookup in (("activation", activations.get), ("head", heads.get)):
        if given[field] is not None:
            continue
        try:
            lookup(recorded[field])
        except ValueError:
            raise ValueError(
                f"{field}: the model in {str(run_dir)!r} was trained with a function named "
                f"{recorded[field]!r}, which a checkpoint cannot hold; expected it passed back as "
                f"load_model(..., {field}={recorded[field]})"
            ) from None
    return Model(
        params=params,
        activation=recorded["activation"] if activation is None else activation,
        head=recorded["head"] if head is None else head,
        standardizer=None if std is None else Standardizer.from_json(std),
        classes=None if classes is None else tuple(classes),
        feature_names=tuple(names) if names else tuple(f"x{i + 1}" for i in range(d)),
        target_standardizer=None if targets is None else Standardizer.from_json(targets),
        preprocessing=None if prep is None else Preprocessing.from_json(prep),
    )
