"""Checkpoints in safetensors: plain named arrays and a JSON header, no pickle, no code runs on load.

Layer l's arrays are stored as ``layer_{l}.w`` and ``layer_{l}.b``; a resumable checkpoint (``save_state``)
adds the optimizer state's leaves as ``opt_state.{i}`` (in ``jax.tree.leaves`` order) and the global step.
The header's metadata holds the format version, the layer sizes, the activation and head, the package
version, the user's config (JSON) and a SHA-256 over the metadata and every array's name, dtype, shape and
bytes, so a flipped byte anywhere is refused on load rather than silently changing a weight.

Writes are atomic: a temporary file in the same folder is written, fsync'ed and renamed over the target, so
a crash leaves the previous checkpoint (or none), never a half-written one under the real name.

The file format itself (atomic writes, the digest, reading and checking a safetensors file) is
``checkpoint_file``'s; this module turns parameters and optimizer states into its arrays and back.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from safetensors.numpy import save as st_save

from funcmlp import activations, checks, heads
from funcmlp.io.checkpoint_file import (
    FORMAT_VERSION,
    atomic_write_bytes,
    check_file_path,
    digest,
    meta_field,
    package_version,
    read_checked,
    to_numpy_arrays,
)
from funcmlp.mlp import Params

__all__ = [
    "FORMAT_VERSION",
    "atomic_write_bytes",
    "digest",
    "load",
    "load_state",
    "read_metadata",
    "save",
    "save_state",
]


def _treedef_text(treedef: Any) -> str:
    """The optimizer state's tree structure as text, without memory addresses (stable across runs)."""
    return re.sub(r" at 0x[0-9a-fA-F]+", "", str(treedef))


def _write(path, params, extra, *, kind, config, activation, head, step=None, treedef=None) -> None:
    check_file_path(path, reading=False)
    sizes = checks.check_params(params)
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise TypeError(f"config: expected a dict of JSON values, got {type(config).__name__}")
    try:
        config_json = json.dumps(config)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"config: expected a dict of JSON values, got one that JSON cannot encode ({e})"
        ) from None
    activation = activation if activation is not None else config.get("activation")
    head = head if head is not None else config.get("head")
    # A function is recorded by its __name__; load_model asks for the function back (it cannot be stored).
    if isinstance(activation, str):
        activations.get(activation)
    elif activation is not None:
        activation = activations.get(activation).name
    if head is not None:
        head = heads.name_of(head)
    named = {f"layer_{i}.{k}": layer[k] for i, layer in enumerate(params) for k in ("w", "b")}
    named.update(extra)
    arrays, views = to_numpy_arrays(named)
    metadata = {
        "format": "funcmlp",
        "format_version": str(FORMAT_VERSION),
        "funcmlp_version": package_version(),
        "kind": kind,
        "sizes": json.dumps(list(sizes)),
        "activation": json.dumps(activation),
        "head": json.dumps(head),
        "config": config_json,
        "views": json.dumps(views),
    }
    if step is not None:
        metadata["step"] = str(step)
        metadata["n_opt_leaves"] = str(len(extra))
        metadata["opt_treedef"] = _treedef_text(treedef)
    metadata["sha256"] = digest(arrays, metadata)
    atomic_write_bytes(path, st_save(arrays, metadata=metadata))


def save(
    path: str | os.PathLike,
    params: Params,
    *,
    config: dict[str, Any] | None = None,
    activation: str | None = None,
    head: str | None = None,
) -> None:
    """Save ``params`` (and a JSON-serialisable ``config``) to a safetensors file, atomically.

    ``activation`` and ``head`` are recorded in the metadata (default: ``config["activation"]`` /
    ``config["head"]`` when present); ``read_metadata`` returns them.
    """
    _write(path, params, {}, kind="params", config=config, activation=activation, head=head)


def save_state(
    path: str | os.PathLike,
    params: Params,
    opt_state: Any,
    step: int,
    *,
    config: dict[str, Any] | None = None,
    activation: str | None = None,
    head: str | None = None,
) -> None:
    """Save what resuming needs: params, the optax state's leaves (arrays, no pickle) and the global step.

    ``train(params, ..., opt_state=opt_state, start_step=step)`` after ``load_state`` continues exactly as
    an uninterrupted run (same key, same data).
    """
    step = checks.check_nonnegative_int(step, "step")
    leaves, treedef = jax.tree.flatten(opt_state)
    for i, leaf in enumerate(leaves):
        dtype = getattr(leaf, "dtype", None)
        if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key):
            raise TypeError(f"opt_state: leaf {i} is a PRNG key array, which checkpoints do not store")
        if dtype is None:
            dtype = np.asarray(leaf).dtype
        if not (jnp.issubdtype(dtype, jnp.number) or dtype == np.bool_):
            raise TypeError(f"opt_state: leaf {i} expected a numeric array, got {type(leaf).__name__}")
    extra = {f"opt_state.{i}": leaf for i, leaf in enumerate(leaves)}
    _write(
        path,
        params,
        extra,
        kind="state",
        config=config,
        activation=activation,
        head=head,
        step=step,
        treedef=treedef,
    )


def _params(arrays: dict[str, np.ndarray], metadata: dict[str, str], path) -> Params:
    sizes = meta_field(metadata, "sizes", path)
    if not isinstance(sizes, list) or len(sizes) < 2:
        raise ValueError(f"path: {os.fspath(path)!r} has damaged funcmlp metadata (sizes {sizes!r})")
    try:
        params = [
            {k: jnp.asarray(arrays[f"layer_{i}.{k}"]) for k in ("w", "b")} for i in range(len(sizes) - 1)
        ]
    except KeyError as e:
        raise ValueError(
            f"checkpoint: missing array {e.args[0]!r} (sizes {sizes} need {len(sizes) - 1} layers)"
        ) from None
    try:
        got = checks.check_params(params, name="checkpoint")
    except TypeError as e:  # a foreign array type is a damaged file, not a caller's mistake
        raise ValueError(str(e)) from None
    if list(got) != sizes:
        raise ValueError(f"checkpoint: expected arrays of the recorded sizes {sizes}, got sizes {list(got)}")
    return params


def _check_kind(metadata: dict[str, str], path) -> None:
    kind = metadata.get("kind", "params")
    if kind not in ("params", "state"):
        raise ValueError(
            f"path: {os.fspath(path)!r} is a funcmlp {kind} file, not a checkpoint; "
            "read it with funcmlp.load_sweep"
        )


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint's metadata: format_version, funcmlp_version, kind, sizes, activation, head, config
    (and step for a resumable checkpoint). Validates the whole file like ``load``."""
    _, metadata = read_checked(path)
    _check_kind(metadata, path)
    out = {
        "format_version": int(metadata["format_version"]),
        "funcmlp_version": metadata.get("funcmlp_version"),
        "kind": metadata.get("kind", "params"),
    }
    for field in ("sizes", "activation", "head", "config"):
        out[field] = meta_field(metadata, field, path)
    if "step" in metadata:
        out["step"] = int(metadata["step"])
    return out


def _load(path) -> tuple[Params, dict[str, Any], dict[str, np.ndarray], dict[str, str]]:
    arrays, metadata = read_checked(path)
    _check_kind(metadata, path)
    params = _params(arrays, metadata, path)
    config = meta_field(metadata, "config", path)
    expected = {f"layer_{i}.{k}" for i in range(len(params)) for k in ("w", "b")}
    stray = sorted(n for n in arrays if n not in expected and not n.startswith("opt_state."))
    if stray:
        raise ValueError(f"checkpoint: expected only layer arrays, got unexpected {stray}")
    return params, config, arrays, metadata


def load(path: str | os.PathLike) -> tuple[Params, dict[str, Any]]:
    """Load ``(params, config)`` saved by ``save`` (or ``save_state``); ValueError for a foreign or
    damaged file."""
    params, config, _, _ = _load(path)
    return params, config


def load_state(path: str | os.PathLike, opt_state_like: Any) -> tuple[Params, Any, int, dict[str, Any]]:
    """Load ``(params, opt_state, step, config)`` saved by ``save_state``.

    Args:
      path: the checkpoint.
      opt_state_like: a state of the same optimizer for the same params, e.g. ``optimizer.init(params)``
        or ``jax.eval_shape(optimizer.init, params)``; gives the tree structure, shapes and dtypes.
    """
    params, config, arrays, metadata = _load(path)
    if metadata.get("kind") != "state" or "step" not in metadata:
        raise ValueError(
            f"path: {os.fspath(path)!r} holds parameters only (written by save); resuming needs save_state"
        )
    like, treedef = jax.tree.flatten(opt_state_like)
    n = int(metadata.get("n_opt_leaves", "-1"))
    if n != len(like):
        raise ValueError(
            f"opt_state_like: expected a state with {n} leaves (as saved), got {len(like)}; "
            "is it the same optimizer?"
        )
    saved = metadata.get("opt_treedef")
    if saved is not None and saved != _treedef_text(treedef):
        raise ValueError(
            f"opt_state_like: expected the state of the optimizer that was saved ({saved}), "
            f"got a differently structured state ({treedef}); is it the same optimizer?"
        )
    leaves = []
    for i, ref in enumerate(like):
        a = arrays.get(f"opt_state.{i}")
        if a is None:
            raise ValueError(f"checkpoint: missing array 'opt_state.{i}'")
        want_shape, want_dtype = tuple(np.shape(ref)), jnp.dtype(getattr(ref, "dtype", np.asarray(ref).dtype))
        if a.shape != want_shape or jnp.dtype(a.dtype) != want_dtype:
            raise ValueError(
                f"opt_state_like: leaf {i} expected shape {a.shape} and dtype {a.dtype} (as saved), "
                f"got shape {want_shape} and dtype {want_dtype}"
            )
        leaves.append(jnp.asarray(a))
    return params, jax.tree.unflatten(treedef, leaves), int(metadata["step"]), config
