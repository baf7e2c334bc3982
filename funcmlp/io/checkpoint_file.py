"""The checkpoint file format: safetensors arrays with a JSON header, checked by a digest, written atomically.

``atomic_write_bytes`` writes a temporary file in the same folder, fsyncs it and renames it over the target,
so a crash leaves the previous file (or none), never a half-written one under the real name; the new file
gets the permissions ``open()`` would give it (0666 less the umask, or those of the file it replaces).
``digest`` is the SHA-256 over the metadata and every array's name, dtype, shape and bytes; ``read_checked``
refuses a file whose recorded digest does not match, that is not a funcmlp checkpoint, or whose format
version is newer than ``FORMAT_VERSION``. Arrays safetensors cannot store (bfloat16, ...) are kept as
raw bits and viewed back on reading.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as st_load

FORMAT_VERSION = 1
_NATIVE = {"bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64"}
_NATIVE |= {"float16", "float32", "float64"}


def package_version() -> str:
    from funcmlp import __version__

    return __version__


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one, never half."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"path: expected an existing folder to save into, got {str(path.parent)!r}")
    fd, tmp = _temporary(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable; not every platform can open a folder
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _temporary(path: Path) -> tuple[int, Path]:
    """A new file ``.<name>.<random>.tmp`` beside ``path``, opened for writing with the mode ``open()`` would
    give ``path``: 0666 less the umask (applied by the system), or the mode of the file it will replace."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        with contextlib.suppress(OSError):  # no file to replace (or none readable): the umask's mode stays
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        return fd, tmp
    raise FileExistsError(f"path: could not create a temporary file beside {str(path)!r}")


def digest(arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> str:
    h = hashlib.sha256(json.dumps(metadata, sort_keys=True).encode())
    for name in sorted(arrays):
        a = arrays[name]
        h.update(f"{name}|{a.dtype}|{a.shape}|".encode())
        h.update(a.tobytes())  # C order whatever the layout
    return h.hexdigest()


def to_numpy_arrays(tree_arrays: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Arrays safetensors can store, plus {name: dtype} for those kept as raw bits (bfloat16, ...)."""
    out, views = {}, {}
    for name, a in tree_arrays.items():
        arr = np.asarray(a, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        if arr.dtype.name not in _NATIVE:
            views[name] = arr.dtype.name
            arr = arr.view(f"uint{8 * arr.dtype.itemsize}")
        out[name] = arr
    return out, views


def check_file_path(path: Any, *, reading: bool) -> Path:
    """A str or os.PathLike naming a checkpoint file (an existing one when ``reading``)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a str or os.PathLike, got {type(path).__name__}")
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"path: expected a file, got the directory {os.fspath(path)!r}")
    if reading and not p.exists():
        raise ValueError(f"path: file {os.fspath(path)!r} does not exist")
    return p


def read_checked(
    path: str | os.PathLike, what: str = "checkpoint"
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The arrays (dtypes restored) and metadata of a readable, intact funcmlp file (a ``what``)."""
    check_file_path(path, reading=True)
    where = repr(os.fspath(path))
    data = Path(path).read_bytes()
    if len(data) < 8:
        raise ValueError(f"path: {where} is not a funcmlp {what} (empty or truncated to {len(data)} bytes)")
    try:
        arrays = st_load(data)
        header_len = int.from_bytes(data[:8], "little")
        metadata = json.loads(data[8 : 8 + header_len]).get("__metadata__") or {}
    except (SafetensorError, ValueError, UnicodeDecodeError, AttributeError) as e:
        raise ValueError(
            f"path: {where} is not a readable safetensors {what} (truncated or corrupted: {e})"
        ) from e
    if metadata.get("format") != "funcmlp":
        raise ValueError(f"path: {where} is a safetensors file but not a funcmlp {what}")
    version = metadata.get("format_version", "")
    if not version.isdigit():
        raise ValueError(f"path: {where} has damaged funcmlp metadata (format_version {version!r})")
    if int(version) > FORMAT_VERSION:
        raise ValueError(
            f"path: {where} has format version {version}; "
            f"this funcmlp ({package_version()}) reads up to {FORMAT_VERSION}"
        )
    recorded = metadata.pop("sha256", None)
    if recorded != digest(arrays, metadata):
        raise ValueError(f"path: {where} is corrupted: its checksum does not match its contents")
    try:
        views = json.loads(metadata.get("views", "{}"))
        for name, dtype in views.items():
            arrays[name] = arrays[name].view(jnp.dtype(dtype))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"path: {where} has damaged funcmlp metadata (views: {e})") from None
    return arrays, metadata


def meta_field(metadata: dict[str, str], field: str, path) -> Any:
    try:
        return json.loads(metadata[field])
    except (KeyError, json.JSONDecodeError) as e:
        raise ValueError(f"path: {os.fspath(path)!r} has damaged funcmlp metadata ({field}: {e})") from None
