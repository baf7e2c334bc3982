"""Checks of arrays: inputs, targets and labels, parameters and their dtypes, optimizer states.

The helpers here (``is_concrete``, ``dtype_of``, ``is_real``) serve the rest of the package too; value checks
(finiteness, label ranges) run only on concrete arrays.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def is_concrete(a: Any) -> bool:
    """Whether ``a`` holds values (not a tracer inside ``jit`` or ``grad``)."""
    return not isinstance(a, jax.core.Tracer)


def _shape(a: Any) -> tuple[int, ...]:
    return tuple(np.shape(a))


def dtype_of(a: Any, name: str) -> np.dtype:
    """The numpy dtype of an array or array-like; TypeError naming ``name`` for anything else."""
    try:
        return np.dtype(a.dtype) if hasattr(a, "dtype") else np.asarray(a).dtype
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name}: expected a numeric array, got {type(a).__name__}") from e


def _is_float(dtype: Any) -> bool:
    return jnp.issubdtype(dtype, jnp.floating)  # bfloat16 included, unlike np.issubdtype


def is_real(dtype: Any) -> bool:
    """A floating (bfloat16 included) or integer dtype; not bool, not complex."""
    return _is_float(dtype) or (jnp.issubdtype(dtype, jnp.integer) and dtype != np.bool_)


def _check_representable(arr: np.ndarray, name: str) -> None:
    """Values must be finite and survive JAX's conversion (float64 -> float32 without x64)."""
    bad = int(np.sum(~np.isfinite(arr))) if _is_float(arr.dtype) else 0
    if bad:
        raise ValueError(f"{name}: expected finite values, got {bad} NaN or inf entries")
    target = jax.dtypes.canonicalize_dtype(arr.dtype)
    if target == arr.dtype or arr.size == 0:
        return
    if _is_float(target):
        with np.errstate(over="ignore"):
            over = int(np.sum(~np.isfinite(arr.astype(target))))
        if over:
            raise ValueError(
                f"{name}: expected values within the {target} range "
                f"(|v| <= {float(jnp.finfo(target).max):.3g}), got {over} entries that overflow it"
            )
    elif arr.min() < np.iinfo(target).min or arr.max() > np.iinfo(target).max:
        raise ValueError(
            f"{name}: expected integers that fit {target} (jax_enable_x64 is off), "
            f"got values from {arr.min()} to {arr.max()}"
        )


def check_float_dtype(dtype: Any, name: str = "dtype") -> np.dtype:
    """A floating dtype: float16, bfloat16, float32 or float64."""
    try:
        dt = jnp.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name}: expected a floating dtype such as jnp.float32, got {dtype!r}") from None
    if not _is_float(dt):
        raise TypeError(f"{name}: expected a floating dtype such as jnp.float32, got {dt}")
    if dt == np.float64 and not jax.config.jax_enable_x64:
        raise TypeError(f"{name}: float64 needs jax_enable_x64; got float64 with it off")
    return dt


def check_params(params: Any, name: str = "params", *, finite: bool = False) -> tuple[int, ...]:
    """Params are a list of {"w": (d_in, d_out), "b": (d_out,)} float arrays whose widths chain.

    Returns the sizes (d_0, ..., d_L). With ``finite``, concrete arrays must also hold no NaN or inf.
    """
    if isinstance(params, tuple) and params:
        raise TypeError(f"{name}: expected a list of dicts {{'w', 'b'}}, got tuple")
    if not isinstance(params, list) or not params:
        raise TypeError(
            f"{name}: expected a non-empty list of layers {{'w': (d_in, d_out), 'b': (d_out,)}}, "
            f"got {type(params).__name__}"
        )
    sizes: list[int] = []
    for i, layer in enumerate(params):
        if isinstance(layer, dict) and type(layer) is not dict:
            raise TypeError(
                f"{name}[{i}]: expected a plain dict with keys 'b' and 'w', got {type(layer).__name__}"
            )
        if not isinstance(layer, dict) or set(layer) != {"w", "b"}:
            got = sorted(layer) if isinstance(layer, dict) else type(layer).__name__
            raise ValueError(f"{name}[{i}]: expected a dict with keys 'b' and 'w', got {got}")
        for k in ("w", "b"):
            if not (hasattr(layer[k], "shape") and hasattr(layer[k], "dtype")):
                raise TypeError(f"{name}[{i}]['{k}']: expected an array, got {type(layer[k]).__name__}")
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
        for k in ("w", "b"):
            dtype = dtype_of(layer[k], f"{name}[{i}]['{k}']")
            if not _is_float(dtype):
                raise TypeError(f"{name}[{i}]['{k}']: expected a floating-point array, got dtype {dtype}")
            if finite and is_concrete(layer[k]):
                bad = int(np.sum(~np.isfinite(np.asarray(layer[k]))))
                if bad:
                    raise ValueError(
                        f"{name}[{i}]['{k}']: expected finite values, got {bad} NaN or inf entries"
                    )
        if not sizes:
            sizes.append(w[0])
        sizes.append(w[1])
    return tuple(sizes)


def check_x(x: Any, d_in: int, name: str = "x") -> None:
    """x is a non-empty numeric (n, d_in) array with finite values."""
    dtype = dtype_of(x, name)
    if not is_real(dtype):
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
    if is_concrete(x):
        _check_representable(np.asarray(x), name)


def check_targets(y: Any, n: int, d_out: int, name: str = "y") -> None:
    """Real regression targets of shape (n, d_out) with finite values (head ``linear``)."""
    dtype = dtype_of(y, name)
    if not is_real(dtype):
        raise TypeError(f"{name}: expected real targets, got dtype {dtype}")
    shape = _shape(y)
    if shape != (n, d_out):
        raise ValueError(f"{name}: expected targets of shape ({n}, {d_out}) for head 'linear', got {shape}")
    if is_concrete(y):
        _check_representable(np.asarray(y), name)


def check_labels(
    y: Any, n: int, k: int, name: str = "y", *, allowed: str | None = None, head: str = "softmax"
) -> None:
    """Integer class labels (n,) in [0, k) (float labels must hold whole numbers)."""
    dtype = dtype_of(y, name)
    shape = _shape(y)
    if shape != (n,):
        raise ValueError(f"{name}: expected labels of shape ({n},) (one per row of x), got {shape}")
    if not (is_real(dtype) or dtype == np.bool_):
        raise TypeError(f"{name}: expected integer class labels, got dtype {dtype}")
    if not is_concrete(y):
        return
    arr = np.asarray(y)
    if _is_float(dtype):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name}: expected finite labels, got NaN or inf entries")
        if not np.all(arr == np.round(arr)):
            first = arr[arr != np.round(arr)].flat[0]
            raise TypeError(f"{name}: expected integer class labels, got non-integer values such as {first}")
    if arr.size and (arr.min() < 0 or arr.max() >= k):
        allowed = allowed or f"[0, {k}) (K = {k} output units)"
        raise ValueError(
            f"{name}: expected labels in {allowed} for head {head!r}, "
            f"got values from {arr.min()} to {arr.max()}"
        )


def check_leading(y: Any, n: int, name: str = "y") -> None:
    """Anything with one row per sample, (n, ...), for a head of your own."""
    dtype_of(y, name)
    shape = _shape(y)
    if not shape or shape[0] != n:
        raise ValueError(f"{name}: expected one row per sample, shape ({n}, ...), got {shape}")
    if is_concrete(y) and _is_float(dtype_of(y, name)):
        _check_representable(np.asarray(y), name)


def check_l2_fits(params: Any, l2: Any, name: str = "l2") -> None:
    """The penalty l2 * 0.5 * sum ||W||^2 stays finite in the params' dtype (checked l2, concrete values)."""
    if not (is_concrete(l2) and float(l2) > 0) or not all(is_concrete(layer["w"]) for layer in params):
        return
    dtype = jnp.result_type(*[layer["w"] for layer in params])
    ws = [np.asarray(layer["w"], np.float64) for layer in params]
    r = max(0.5 * sum(float(np.sum(np.square(w))) for w in ws), max(float(np.max(np.abs(w))) for w in ws))
    top = float(jnp.finfo(dtype).max)
    if float(l2) > top or float(l2) * r > top:
        raise ValueError(
            f"{name}: expected a value for which l2 * 0.5 * sum ||W||^2 stays within {dtype} "
            f"(|v| <= {top:.3g}), got {float(l2)}"
        )


def check_params_dtype(params: Any, name: str = "params") -> np.dtype:
    """The one floating dtype of every leaf of ``params`` (the dtype training computes in), for the built-in
    MLP's layers and a model's own pytree alike."""
    leaves = jax.tree.leaves(params)
    if not leaves:
        raise ValueError(f"{name}: expected a pytree with at least one array, got {params!r}")
    dtypes = {jnp.dtype(dtype_of(leaf, name)) for leaf in leaves}
    if len(dtypes) != 1 or not _is_float(next(iter(dtypes))):
        raise TypeError(
            f"{name}: expected every leaf in one floating dtype (the one training computes in), "
            f"got {sorted(d.name for d in dtypes)}"
        )
    dtype = dtypes.pop()
    if dtype == np.float64 and not jax.config.jax_enable_x64:
        raise TypeError(f"{name}: float64 params need jax_enable_x64; got float64 with it off")
    return dtype


def check_opt_state(opt_state: Any, like: Any, name: str = "opt_state") -> None:
    """``opt_state`` has the tree structure, shapes and dtypes of ``like`` (``optimizer.init(params)``)."""
    got, want = jax.tree.structure(opt_state), jax.tree.structure(like)
    if got != want:
        raise ValueError(
            f"{name}: expected the state of this optimizer for these params (as optimizer.init(params) "
            f"makes, {want.num_leaves} arrays), "
            f"got a differently structured state with {got.num_leaves} arrays"
        )
    for i, (a, b) in enumerate(zip(jax.tree.leaves(opt_state), jax.tree.leaves(like), strict=True)):
        if _shape(a) != _shape(b) or jnp.dtype(dtype_of(a, name)) != jnp.dtype(b.dtype):
            raise ValueError(
                f"{name}: leaf {i} expected shape {_shape(b)} and dtype {b.dtype}, "
                f"got shape {_shape(a)} and dtype {dtype_of(a, name)}"
            )
        if is_concrete(a) and _is_float(dtype_of(a, name)):
            bad = int(np.sum(~np.isfinite(np.asarray(a))))
            if bad:
                raise ValueError(f"{name}: leaf {i} expected finite values, got {bad} NaN or inf entries")
