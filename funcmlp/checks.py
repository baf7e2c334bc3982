"""Eager input validation shared by every public entry point.

Each check raises ``ValueError`` or ``TypeError`` whose message names the argument, what was expected and
what came, before anything is traced. Value checks (finiteness, label ranges) run only on concrete arrays:
inside a user's own ``jit`` the shapes are still checked, the values cannot be.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np


def is_concrete(a: Any) -> bool:
    return not isinstance(a, jax.core.Tracer)


def _shape(a: Any) -> tuple[int, ...]:
    return tuple(np.shape(a))


def _dtype(a: Any, name: str) -> np.dtype:
    try:
        return np.dtype(a.dtype) if hasattr(a, "dtype") else np.asarray(a).dtype
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name}: expected a numeric array, got {type(a).__name__}") from e


def check_sizes(sizes: Any, name: str = "sizes") -> tuple[int, ...]:
    """Layer widths (d_0, ..., d_L): at least two positive integers."""
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


def check_params(params: Any, name: str = "params") -> tuple[int, ...]:
    """Params are a list of {"w": (d_in, d_out), "b": (d_out,)} whose widths chain; returns the sizes."""
    if not isinstance(params, (list, tuple)) or not params:
        raise TypeError(
            f"{name}: expected a non-empty list of layers {{'w': (d_in, d_out), 'b': (d_out,)}}, "
            f"got {type(params).__name__}"
        )
    sizes: list[int] = []
    for i, layer in enumerate(params):
        if not isinstance(layer, dict) or set(layer) != {"w", "b"}:
            got = sorted(layer) if isinstance(layer, dict) else type(layer).__name__
            raise ValueError(f"{name}[{i}]: expected a dict with keys 'b' and 'w', got {got}")
        w, b = _shape(layer["w"]), _shape(layer["b"])
        if len(w) != 2 or b != w[1:]:
            raise ValueError(
                f"{name}[{i}]: expected w of shape (d_in, d_out) and b of shape (d_out,), got w {w} and b {b}"
            )
        if sizes and w[0] != sizes[-1]:
            raise ValueError(
                f"{name}[{i}]: layers do not chain: expected w with {sizes[-1]} rows "
                f"(the previous layer's width), got shape {w}"
            )
        if not sizes:
            sizes.append(w[0])
        sizes.append(w[1])
    return tuple(sizes)


def check_x(x: Any, d_in: int, name: str = "x") -> None:
    """x is a non-empty numeric (n, d_in) array with finite values."""
    dtype = _dtype(x, name)
    if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
        raise TypeError(f"{name}: expected a numeric (float or int) array, got dtype {dtype}")
    shape = _shape(x)
    if len(shape) != 2:
        raise ValueError(f"{name}: expected a 2-D array (n, {d_in}), got shape {shape}")
    if shape[0] == 0:
        raise ValueError(f"{name}: expected at least one sample, got shape {shape}")
    if shape[1] != d_in:
        raise ValueError(
            f"{name}: expected {d_in} features per sample (sizes[0] = {d_in}), got shape {shape}"
        )
    if is_concrete(x) and not np.all(np.isfinite(np.asarray(x))):
        bad = int(np.sum(~np.isfinite(np.asarray(x))))
        raise ValueError(f"{name}: expected finite values, got {bad} NaN or inf entries")


def check_y(y: Any, n: int, head: str, d_out: int, name: str = "y") -> None:
    """Labels/targets match the head: integers in [0, K) (softmax), {0, 1} (sigmoid), (n, d_out) reals."""
    dtype = _dtype(y, name)
    shape = _shape(y)
    concrete = is_concrete(y)
    if head == "linear":
        if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
            raise TypeError(f"{name}: expected real targets, got dtype {dtype}")
        if shape != (n, d_out):
            raise ValueError(
                f"{name}: expected targets of shape ({n}, {d_out}) for head 'linear', got {shape}"
            )
        if concrete and not np.all(np.isfinite(np.asarray(y))):
            raise ValueError(f"{name}: expected finite targets, got NaN or inf entries")
        return
    if shape != (n,):
        raise ValueError(f"{name}: expected labels of shape ({n},) (one per row of x), got {shape}")
    if head == "sigmoid" and d_out != 1:
        raise ValueError(f"sizes: head 'sigmoid' expects one output unit, got {d_out}")
    if concrete:
        arr = np.asarray(y)
        if np.issubdtype(dtype, np.floating):
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name}: expected finite labels, got NaN or inf entries")
            if not np.all(arr == np.round(arr)):
                raise TypeError(f"{name}: expected integer class labels, got non-integer values")
        elif not (np.issubdtype(dtype, np.integer) or dtype == np.bool_):
            raise TypeError(f"{name}: expected integer class labels, got dtype {dtype}")
        k = 2 if head == "sigmoid" else d_out
        if arr.size and (arr.min() < 0 or arr.max() >= k):
            allowed = "{0, 1}" if head == "sigmoid" else f"[0, {k})"
            raise ValueError(
                f"{name}: expected labels in {allowed} for head {head!r}, "
                f"got values from {arr.min()} to {arr.max()}"
            )
    elif not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
        raise TypeError(f"{name}: expected integer class labels, got dtype {dtype}")


def check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def check_batch_size(batch_size: Any, n: int) -> int | None:
    if batch_size is None:
        return None
    bs = check_positive_int(batch_size, "batch_size")
    if bs > n:
        raise ValueError(f"batch_size: expected at most n = {n} (the number of samples), got {bs}")
    return bs
