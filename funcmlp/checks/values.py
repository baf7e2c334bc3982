"""Checks of scalar arguments: integers, real numbers, layer sizes, names from a list, PRNG keys, the batch
size, a sweep's learning rates and callbacks. Traced real scalars pass unchecked."""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from funcmlp.checks.arrays import is_concrete


def check_sizes(sizes: Any, name: str = "sizes") -> tuple[int, ...]:
    """Layer widths (d_0, ..., d_L): at least two positive integers."""
    if isinstance(sizes, np.ndarray) and sizes.ndim == 1:
        sizes = sizes.tolist()
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise TypeError(f"{name}: expected a sequence of layer widths like (2, 4, 3), got {sizes!r}")
    if len(sizes) < 2:
        raise ValueError(f"{name}: expected at least two widths (inputs and outputs), got {tuple(sizes)!r}")
    out = []
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
            raise ValueError(f"{name}: expected positive integer widths, got {tuple(sizes)!r}")
        out.append(int(s))
    return tuple(out)


def check_scheme(scheme: Any, schemes: Sequence[str], name: str = "scheme") -> str:
    if not isinstance(scheme, str) or scheme not in schemes:
        raise ValueError(f"{name}: expected one of {', '.join(schemes)}, got {scheme!r}")
    return scheme


def check_key(key: Any, name: str = "key") -> None:
    """A PRNG key: ``jax.random.key(seed)`` (shape ()) or a legacy ``PRNGKey`` (uint32, shape (2,))."""
    dtype = getattr(key, "dtype", None)
    shape = getattr(key, "shape", None)
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key):
        if shape != ():
            raise ValueError(f"{name}: expected a single key of shape (), got a key array of shape {shape}")
        return
    if dtype == np.uint32 and shape == (2,):
        return
    got = f"{type(key).__name__} {key!r}" if dtype is None else f"an array of dtype {dtype} and shape {shape}"
    raise TypeError(f"{name}: expected a jax.random.key(seed), got {got}")


def check_positive_int(value: Any, name: str) -> int:
    """A positive integer (steps, batch_size, a sweep's seeds, ...)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def check_nonnegative_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name}: expected a non-negative integer, got {value!r}")
    return int(value)


def check_batch_size(batch_size: Any, n: int) -> int | None:
    if batch_size is None:
        return None
    bs = check_positive_int(batch_size, "batch_size")
    if bs > n:
        raise ValueError(f"batch_size: expected at most n = {n} (the number of samples), got {bs}")
    return bs


def check_nonnegative_real(value: Any, name: str) -> Any:
    """A finite real number >= 0 (l2, noise, a learning rate); traced scalars pass unchecked."""
    if not is_concrete(value):
        return value
    v = _real(value, name)
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{name}: expected a finite non-negative number, got {v}")
    return value


def _real(value: Any, name: str) -> float:
    """A concrete real scalar as a float; TypeError for anything else (bools and strings included)."""
    if isinstance(value, (bool, str, bytes)) or np.ndim(value) != 0:
        raise TypeError(f"{name}: expected a real number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a real number, got {value!r}") from None


def check_real(value: Any, name: str) -> float:
    """A finite real number (a hyperparameter); traced scalars pass unchecked."""
    if not is_concrete(value):
        return value
    v = _real(value, name)
    if not math.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {v}")
    return v


def check_learning_rates(learning_rates: Any, name: str = "learning_rates") -> tuple[float, ...]:
    """A non-empty list (or 1-D array) of finite, non-negative learning rates; returns them as floats."""
    if isinstance(learning_rates, (str, bytes)) or np.ndim(learning_rates) != 1:
        raise TypeError(
            f"{name}: expected a non-empty list of numbers like [0.1, 1.0], got {learning_rates!r}"
        )
    values = list(learning_rates)
    if not values:
        raise ValueError(f"{name}: expected at least one learning rate, got an empty list")
    for i, lr in enumerate(values):
        check_nonnegative_real(lr, f"{name}[{i}]")
    return tuple(float(lr) for lr in values)


def check_callback(callback: Any, name: str = "callback") -> None:
    """``callback``: None or a function of one ``funcmlp.Report`` (``callback(report)``)."""
    if callback is None:
        return
    if not callable(callback):
        raise TypeError(f"{name}: expected None or a function {name}(report), got {callback!r}")
    try:
        inspect.signature(callback).bind(None)
    except TypeError:
        raise TypeError(
            f"{name}: expected a function of one funcmlp.Report, {name}(report) (report.step, report.loss, "
            f"report.group), got {_describe_function(callback)}"
        ) from None
    except ValueError:  # no signature to read (a builtin): trusted
        pass


def _describe_function(fn: Any) -> str:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return repr(fn)
    return f"{getattr(fn, '__name__', type(fn).__name__)}({', '.join(params)})"


def check_metrics(metrics: Any, name: str = "metrics") -> bool:
    """``metrics``: None or a per-step metrics function; True when it takes ``(params, grads, opt_state,
    step, batch)`` (binds five positional arguments), False for ``(params, grads)`` or None."""
    if metrics is None:
        return False
    if not callable(metrics):
        raise TypeError(f"{name}: expected a function of (params, grads, ...) -> dict, got {metrics!r}")
    try:
        inspect.signature(metrics).bind(*range(5))
    except (TypeError, ValueError):
        return False
    return True
