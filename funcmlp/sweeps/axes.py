"""The axes of a sweep's grid: hyperparameters, then the model's config values, then L2, then seeds.

A sweep trains every configuration of the product of its axes,

    (h_1, ..., h_k, l2) in H_1 x ... x H_k x L,

each with ``seeds`` initialisations. The axes come in the order given (``hyperparams={"learning_rate":
[...], "momentum": [...]}``), then ``l2`` when it is a list; a single value (``"momentum": 0.9``,
``l2=1e-4``) is a fixed setting, not an axis. Axis values may be a Python list or tuple, or a 1-D numpy or jax
array; a 0-d array is a single value. Configuration c is the row-major (C order) index of
(i_1, ..., i_k, i_l2), so the grid's arrays reshape from (C, seeds, ...) to (n_1, ..., n_k, n_l2, seeds, ...).
Hyperparameters, config values (``config={"gamma": [0, 1, 2]}``: what a model, its head or its activation
reads, ``funcmlp.models``) and L2 are traced data: one compiled program serves any values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np
import optax

from funcmlp import checks


class ByLearningRate(NamedTuple):
    """A sweep's optimizer factory ``optimizer(learning_rate)`` (the ``learning_rates=`` shorthand), called
    by keyword as the engine calls every factory."""

    factory: Callable[[Any], Any]

    def __call__(self, learning_rate):
        return self.factory(learning_rate)


class Grid(NamedTuple):
    """The configurations of a sweep.

    Attributes:
      axes: axis name -> its values, in grid order (hyperparameters, then ``"l2"``).
      settings: fixed hyperparameters and a single L2 weight (name -> value).
      hyperparams: name -> (C,) float64 value of every hyperparameter (axis or fixed) per configuration.
      l2: (C,) float64 L2 weight per configuration.
      factory: the optimizer factory, called as ``factory(**hyperparams)``.
      config: name -> (C,) float64 value of every ``config=`` entry (axis or fixed) per configuration: the
        traced values a model, its head and its activation see (``funcmlp.models``).
    """

    axes: dict[str, tuple[float, ...]]
    settings: dict[str, float]
    hyperparams: dict[str, np.ndarray]
    l2: np.ndarray
    factory: Callable[..., Any]
    config: dict[str, np.ndarray] = {}

    @property
    def shape(self) -> tuple[int, ...]:
        """(n_1, ..., n_k[, n_l2]): the grid's leading axes before the seeds."""
        return tuple(len(v) for v in self.axes.values())

    @property
    def size(self) -> int:
        """C, the number of configurations."""
        return math.prod(self.shape)

    @property
    def ndim(self) -> int:
        """k, the number of axes before the seeds."""
        return len(self.axes)

    @property
    def l2_is_axis(self) -> bool:
        return "l2" in self.axes


def _values(value: Any, name: str, *, nonnegative: bool) -> tuple[tuple[float, ...], bool]:
    """(values, is_axis) of a hyperparameter: one number (a 0-d array too) is a fixed value; a non-empty
    Python list or tuple, or a 1-D numpy or jax array, is an axis."""
    check = checks.check_nonnegative_real if nonnegative else checks.check_real
    if isinstance(value, (str, bytes)) or not (isinstance(value, Sequence) or hasattr(value, "__array__")):
        check(value, name)
        return (_number(value),), False
    try:
        ndim = np.ndim(value)
    except ValueError:  # a ragged list
        ndim = -1
    if ndim == 0:
        check(value, name)
        return (_number(value),), False
    if ndim != 1 or len(value) == 0:
        raise ValueError(
            f"{name}: expected a number or a non-empty list or 1-D array of numbers, got {_describe(value)}"
        )
    items = list(value) if isinstance(value, Sequence) else list(np.asarray(value))
    for i, v in enumerate(items):
        check(v, f"{name}[{i}]")
    return tuple(map(_number, items)), True


def _number(v: Any) -> float:
    """v as a Python float; a float16 / float32 value as the shortest decimal that rounds to it, so that
    ``jnp.asarray([0.1])`` gives the axis value 0.1 as ``[0.1]`` does (not 0.10000000149...)."""
    dtype = getattr(v, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jnp.floating) and jnp.dtype(dtype).itemsize < 8:
        v = np.asarray(v)[()]
        return float(np.format_float_scientific(v if v.dtype in (np.float16, np.float32) else np.float32(v)))
    return float(v)


def _describe(value: Any) -> str:
    shape = getattr(value, "shape", None)
    return repr(value) if shape is None else f"an array of shape {tuple(shape)}"


def grid_of(learning_rates: Any, hyperparams: Any, l2: Any, optimizer: Any, config: Any = None) -> Grid:
    """The grid of ``sweep(learning_rates=..., hyperparams=..., l2=..., optimizer=..., config=...)``.

    ``learning_rates=[...]`` is shorthand for ``hyperparams={"learning_rate": [...]}`` with ``optimizer``
    called as ``optimizer(learning_rate)``; with ``hyperparams`` it is called as ``optimizer(**values)``.
    The ``config`` axes come after the hyperparameters' and before ``l2``.
    """
    if (learning_rates is None) == (hyperparams is None):
        raise ValueError(
            "learning_rates, hyperparams: expected exactly one (learning_rates=[...] or "
            f"hyperparams={{'learning_rate': [...], ...}}), "
            f"got {'both' if learning_rates is not None else 'neither'}"
        )
    if learning_rates is not None:
        values = checks.check_learning_rates(learning_rates)
        hyperparams, factory = {"learning_rate": list(values)}, ByLearningRate(optimizer)
    else:
        if not isinstance(hyperparams, dict) or not hyperparams:
            raise TypeError(
                f"hyperparams: expected a dict such as {{'learning_rate': [0.01, 0.1]}}, got {hyperparams!r}"
            )
        factory = optimizer
    axes: dict[str, tuple[float, ...]] = {}
    settings: dict[str, float] = {}
    for name, value in hyperparams.items():
        if not isinstance(name, str) or not name.isidentifier() or name == "l2":
            raise ValueError(f"hyperparams: expected argument names of the optimizer, got {name!r}")
        vals, is_axis = _values(value, f"hyperparams[{name!r}]", nonnegative=name == "learning_rate")
        (axes if is_axis else settings)[name] = vals if is_axis else vals[0]
    config = _config_axes(config, hyperparams, axes, settings)
    l2_vals, l2_axis = _values(l2, "l2", nonnegative=True)
    if l2_axis:
        axes["l2"] = l2_vals
    else:
        settings["l2"] = l2_vals[0]
    shape = tuple(len(v) for v in axes.values())
    index = np.indices(shape).reshape(len(shape), -1) if shape else np.zeros((0, 1), int)
    position = dict(zip(axes, index, strict=True))
    size = math.prod(shape)
    columns = {
        name: np.asarray(axes[name], np.float64)[position[name]]
        if name in axes
        else np.full(size, settings[name], np.float64)
        for name in hyperparams
    }
    l2_col = np.asarray(l2_vals, np.float64)[position["l2"]] if l2_axis else np.full(size, l2_vals[0])
    _check_optimizer(factory, {k: float(v[0]) for k, v in columns.items()})
    config_cols = {
        name: np.asarray(axes[name], np.float64)[position[name]]
        if name in axes
        else np.full(size, settings[name], np.float64)
        for name in config
    }
    return Grid(axes, settings, columns, l2_col, factory, config_cols)


def _config_axes(config: Any, hyperparams: dict, axes: dict, settings: dict) -> list[str]:
    """Add ``config``'s axes (lists) to ``axes`` and its single values to ``settings``; its names."""
    if config is None:
        return []
    if not isinstance(config, dict):
        raise TypeError(f"config: expected a dict such as {{'gamma': [0, 1, 2]}}, got {config!r}")
    for name, value in config.items():
        if not isinstance(name, str) or not name.isidentifier() or name == "l2" or name in hyperparams:
            raise ValueError(
                f"config: expected names other than 'l2' and the hyperparameters' {sorted(hyperparams)}, "
                f"got {name!r}"
            )
        vals, is_axis = _values(value, f"config[{name!r}]", nonnegative=False)
        (axes if is_axis else settings)[name] = vals if is_axis else vals[0]
    return list(config)


def _check_optimizer(factory: Any, values: dict[str, float]) -> None:
    made = None
    if callable(getattr(factory, "factory", factory)):
        try:
            made = factory(**values)
        except TypeError as e:
            name = getattr(factory, "__name__", repr(factory))
            raise TypeError(f"hyperparams: optimizer {name!r} does not take {sorted(values)} ({e})") from None
    if not isinstance(made, optax.GradientTransformation):
        what = "a learning rate" if isinstance(factory, ByLearningRate) else "hyperparameters"
        raise TypeError(
            f"optimizer: expected a function from {what} to an optax GradientTransformation "
            f"such as optax.sgd, got {getattr(factory, 'factory', factory)!r}"
        )


def pad_configs(a: np.ndarray, size: int) -> np.ndarray:
    """Axis 0 (configurations) padded to ``size`` by repeating configurations from the first."""
    return np.take(a, np.arange(size) % a.shape[0], axis=0)


def pad_seeds(a: np.ndarray, size: int, axis: int = 0) -> np.ndarray:
    """The seed axis padded to ``size`` with copies of seed 0 (padded models are dropped at the end)."""
    n = a.shape[axis]
    return np.take(a, np.concatenate([np.arange(n), np.zeros(size - n, int)]), axis=axis)
