"""``MLPClassifier`` and ``MLPRegressor``: ``funcmlp.fit`` behind scikit-learn's estimator interface.

``est.fit(X, y)`` is ``funcmlp.fit(X, y, head=..., test=0.0, ...)`` with the estimator's parameters: no
test rows are held out (hold out your own, or use ``cross_val_score``), a fraction ``val`` of the rows
(stratified for classes) chooses the best of ``seeds`` initialisations. The ``Fit`` is kept as ``fit_``.
Predictions apply the training rows' standardizer x' = (x - mu) / sigma, then the network z = f(x'):

- classifier: class k = argmax_k z_k mapped back to the original label ``classes_[k]``, probabilities
  p_k = exp(z_k) / sum_j exp(z_j) (softmax head);
- regressor: y = z std + mean, the network's standardised targets in their own units (linear head).

scikit-learn is needed only here: ``import funcmlp`` does not load it, ``funcmlp.MLPClassifier`` does.
"""

from __future__ import annotations

import numbers
from functools import partial
from typing import Any

import jax
import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as error:  # scikit-learn is an optional dependency of funcmlp
    raise ImportError(
        "funcmlp.MLPClassifier and funcmlp.MLPRegressor need scikit-learn >= 1.6: pip install scikit-learn"
    ) from error

from funcmlp.fitting.fit import fit as fit_run
from funcmlp.mlp import forward

# Fewer rows than this: no validation rows (all rows train, the seed is chosen on the training rows). A
# fifth of 20 rows is 4: fewer would leave a class without validation rows or without training rows.
MIN_ROWS_FOR_VAL = 20


@partial(jax.jit, static_argnames="activation")
def outputs(params: Any, x: jax.Array, *, activation: Any) -> jax.Array:
    """z^L = ``funcmlp.forward(params, x)``, compiled once per shape of x (scikit-learn's checks predict on
    many shapes; op-by-op, each would compile every layer's operations)."""
    return forward(params, x, activation=activation)


class _MLP(BaseEstimator):
    """What the two estimators share: the call of ``funcmlp.fit`` and the network's outputs."""

    def _fit(self, X: Any, y: Any, *, head: str, class_weight: str = "none") -> _MLP:
        """``fit_ = funcmlp.fit(X, y, head=head, test=0.0, ...)`` on validated X (n, d) and y (n,)."""
        if isinstance(self.val, bool) or not isinstance(self.val, numbers.Real) or not 0 <= self.val < 1:
            raise ValueError(f"val: expected a fraction in [0, 1), got {self.val!r}")
        n = X.shape[0]
        val = self.val if n >= MIN_ROWS_FOR_VAL else 0.0
        batch_size = self.batch_size
        if batch_size is not None:  # at most the training rows (those that ``val`` leaves, as split rounds)
            batch_size = min(batch_size, n - (0 if val == 0 else max(1, round(val * n))))
        self.fit_ = fit_run(
            X, y, head=head, hidden=self.hidden, activation=self.activation, optimizer=self.optimizer,
            learning_rate=self.learning_rate, steps=self.steps, seeds=self.seeds, batch_size=batch_size,
            l2=self.l2, init=self.init, val=val, test=0.0, standardize=self.standardize,
            class_weight=class_weight, patience=self.patience if val else None, seed=self.seed,
        )  # fmt: skip
        return self

    def _outputs(self, X: Any) -> np.ndarray:
        """z = f((x - mu) / sigma) (n, K) float64: the network's outputs on X standardised as at fit,
        computed in float64."""
        check_is_fitted(self, "fit_")
        X = validate_data(self, X, reset=False, dtype=np.float32)
        st = self.fit_.samples.prepared.standardizer
        x = np.asarray(X, np.float32) if st is None else st(X)
        # In float64 (the float32 parameters widened exactly): a row's output then does not depend on
        # where it stands in X to the last bits, as float32 kernels blocked by rows may make it.
        with jax.enable_x64(True):
            params = jax.tree.map(lambda a: np.asarray(a, np.float64), self.fit_.params)
            z = outputs(params, np.asarray(x, np.float64), activation=self.fit_.activation)
            return np.asarray(z, np.float64)


class MLPClassifier(ClassifierMixin, _MLP):
    """A softmax-head MLP classifier trained by ``funcmlp.fit``: ``seeds`` initialisations at once, the
    best on a stratified fraction ``val`` of the rows (none when fewer than ``MIN_ROWS_FOR_VAL`` = 20 rows).

    Args (stored unchanged, as scikit-learn asks; see ``funcmlp.fit``):
      hidden: hidden widths; None: one layer of 2 (d + K) units clipped to [8, 128].
      activation, optimizer ("sgd", "momentum", "adam"), learning_rate, steps, batch_size (clipped to the
        training rows), l2 (0.5 l2 sum ||W||^2; None: 0), init: the training.
      seeds: initialisations trained at once; the best on the validation rows is kept.
      val: fraction of the rows held out to choose the seed; standardize: x' = (x - mu) / sigma with the
        training rows' statistics; class_weight: "none" or "balanced" (n / (K n_k)).
      patience: early stopping after this many logged rows without improvement (with validation rows).
      seed: every random key of a fit (the split, the weights, the batches): fits are deterministic.

    Attributes:
      classes_: (K,) the sorted labels; n_features_in_: d; fit_: the ``funcmlp.fitting.Fit``.
    """

    def __init__(
        self, hidden=None, activation="relu", optimizer="adam", learning_rate=0.03, steps=1000, seeds=64,
        batch_size=None, l2=None, init="he", val=0.2, standardize=True, class_weight="none", patience=None,
        seed=0,
    ):  # fmt: skip
        self.hidden, self.activation, self.optimizer = hidden, activation, optimizer
        self.learning_rate, self.steps, self.seeds, self.batch_size = learning_rate, steps, seeds, batch_size
        self.l2, self.init, self.val, self.standardize = l2, init, val, standardize
        self.class_weight, self.patience, self.seed = class_weight, patience, seed

    def fit(self, X: Any, y: Any) -> MLPClassifier:
        """Train on X (n, d) and labels y (n,) of any sortable values (K >= 1 classes)."""
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        return self._fit(X, y, head="softmax", class_weight=self.class_weight)

    def predict_proba(self, X: Any) -> np.ndarray:
        """p_k = exp(z_k) / sum_j exp(z_j), (n, K) float64, columns in the order of ``classes_``."""
        z = self._outputs(X)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """classes_[argmax_k z_k] (n,): the labels in their own values."""
        z = self._outputs(X)
        return self.classes_[np.argmax(z, axis=1)]


class MLPRegressor(RegressorMixin, _MLP):
    """A linear-head MLP regressor trained by ``funcmlp.fit`` on targets y (n,) standardised with the
    training rows' mean and standard deviation, y' = (y - mean) / std (one target per row). Without
    ``l2`` the L2 weight is chosen with the seed on the validation rows (``funcmlp.fit``); none are held
    out when fewer than ``MIN_ROWS_FOR_VAL`` = 20 rows (then l2 = 0).

    Args: as ``MLPClassifier``'s, without ``class_weight``.

    Attributes:
      n_features_in_: d; fit_: the ``funcmlp.fitting.Fit``.
    """

    def __init__(
        self, hidden=None, activation="relu", optimizer="adam", learning_rate=0.03, steps=1000, seeds=64,
        batch_size=None, l2=None, init="he", val=0.2, standardize=True, patience=None, seed=0,
    ):  # fmt: skip
        self.hidden, self.activation, self.optimizer = hidden, activation, optimizer
        self.learning_rate, self.steps, self.seeds, self.batch_size = learning_rate, steps, seeds, batch_size
        self.l2, self.init, self.val, self.standardize = l2, init, val, standardize
        self.patience, self.seed = patience, seed

    def fit(self, X: Any, y: Any) -> MLPRegressor:
        """Train on X (n, d) and real-valued targets y (n,)."""
        X, y = validate_data(self, X, y, dtype=np.float32, y_numeric=True)
        return self._fit(X, y, head="linear")

    def predict(self, X: Any) -> np.ndarray:
        """y = z std + mean, (n,) float64."""
        z = self._outputs(X)
        st = self.fit_.samples.prepared.target_standardizer
        return (z * st.std + st.mean)[:, 0]
