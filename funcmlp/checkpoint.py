"""Checkpoints in safetensors: plain named arrays and a JSON header, no pickle, no code runs on load.

Layer l's arrays are stored as ``layer_{l}.w`` and ``layer_{l}.b``; the header's metadata holds the format
version, the layer sizes, the package version and the user's config (JSON). Writes are atomic: a temporary
file in the same folder is written, fsync'ed and renamed over the target.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from funcmlp import checks
from funcmlp.mlp import Params

FORMAT_VERSION = "1"


def _version() -> str:
    from funcmlp import __version__

    return __version__


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one, never half."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def params_to_arrays(params: Params, prefix: str = "") -> dict[str, np.ndarray]:
    return {
        f"{prefix}layer_{i}.{name}": np.ascontiguousarray(np.asarray(layer[name]))
        for i, layer in enumerate(params)
        for name in ("w", "b")
    }


def save(path: str | os.PathLike, params: Params, *, config: dict[str, Any] | None = None) -> None:
    """Save ``params`` (and a JSON-serialisable ``config``) to a safetensors file, atomically."""
    sizes = checks.check_params(params)
    metadata = {
        "format": "funcmlp",
        "format_version": FORMAT_VERSION,
        "funcmlp_version": _version(),
        "sizes": json.dumps(list(sizes)),
        "config": json.dumps(config if config is not None else {}),
    }
    atomic_write_bytes(path, st_save(params_to_arrays(params), metadata=metadata))


def _read(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    data = Path(path).read_bytes()
    if len(data) < 8:
        raise ValueError(f"path: {os.fspath(path)!r} is not a funcmlp checkpoint (empty or truncated)")
    try:
        arrays = st_load(data)
        header_len = int.from_bytes(data[:8], "little")
        metadata = json.loads(data[8 : 8 + header_len]).get("__metadata__") or {}
    except (SafetensorError, ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"path: {os.fspath(path)!r} is not a readable safetensors checkpoint ({e})") from e
    if metadata.get("format") != "funcmlp":
        raise ValueError(f"path: {os.fspath(path)!r} is a safetensors file but not a funcmlp checkpoint")
    return arrays, metadata


def params_from_arrays(arrays: dict[str, np.ndarray], n_layers: int, prefix: str = "") -> Params:
    try:
        params = [
            {name: jnp.asarray(arrays[f"{prefix}layer_{i}.{name}"]) for name in ("w", "b")}
            for i in range(n_layers)
        ]
    except KeyError as e:
        raise ValueError(f"checkpoint: missing array {e.args[0]!r}") from None
    checks.check_params(params, name="checkpoint")
    return params


def load(path: str | os.PathLike) -> tuple[Params, dict[str, Any]]:
    """Load ``(params, config)`` saved by ``save``; raises ValueError for a foreign or damaged file."""
    arrays, metadata = _read(path)
    try:
        sizes = json.loads(metadata["sizes"])
        config = json.loads(metadata.get("config", "{}"))
    except (KeyError, json.JSONDecodeError) as e:
        raise ValueError(f"path: {os.fspath(path)!r} has damaged funcmlp metadata ({e})") from e
    params = params_from_arrays(arrays, len(sizes) - 1)
    if list(checks.check_params(params)) != list(sizes):
        raise ValueError(f"checkpoint: arrays do not match the recorded sizes {sizes}")
    return params, config
