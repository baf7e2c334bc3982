"""A whole sweep in one safetensors file: every model's parameters, optimizer state, losses and metrics.

``save_sweep`` stores, for group ``g``, the arrays ``group_{g}.layer_{l}.w`` / ``.b`` (parameters; for a model
of your own, ``funcmlp.models``, ``group_{g}.params.{i}``, its pytree's leaves, with the tree's shape of
nested dicts, lists and tuples in the metadata),
``group_{g}.opt_state.{i}`` (the optimizer state's leaves in ``jax.tree.leaves`` order), ``group_{g}.losses``,
``group_{g}.diverged_at`` and ``group_{g}.metrics.{name}``, and where the group has them its curves, early
stopping and halving records (``group_{g}.history.{name}``, ``.early_stop.{name}``, ``.halving.{name}``);
each keeps its leading (*axis lengths, seeds) axes and its dtype. The header's metadata holds the format
and its version (kind ``"sweep"``), the grid's axes, the number of seeds, the head, the global step, the
fixed settings and, per group, the sizes, activation, number of optimizer-state leaves, metric names and
record names, plus the SHA-256 over the metadata and every array (``checkpoint_file.digest``). The file is written atomically; no pickle is written or read.

``load_sweep`` verifies the digest and rebuilds the ``SweepResult`` with numpy arrays. The optimizer's tree
structure is not stored: ``opt_state`` comes back as the list of its leaves.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from safetensors.numpy import save as st_save

from funcmlp.io import checkpoint_file, trees
from funcmlp.io.checkpoint_file import FORMAT_VERSION, atomic_write_bytes, digest

if TYPE_CHECKING:
    from funcmlp.sweeps.results import SweepResult

__all__ = ["load_sweep", "save_sweep"]

KIND = "sweep"
# GroupResult's optional records of arrays (name -> array), stored as group_<g>.<record>.<name>
RECORDS = ("history", "early_stop", "halving")
_NATIVE = {"bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64"}
_NATIVE |= {"float16", "float32", "float64"}


def _check_path(path: Any) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a str or os.PathLike, got {type(path).__name__}")
    if Path(path).is_dir():
        raise ValueError(f"path: expected a file, got the directory {os.fspath(path)!r}")
    return repr(os.fspath(path))


def _json(value: Any, name: str) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"result: {name} expected JSON values (numbers, strings, lists), got {e}") from None


def _leaf(leaf: Any, where: str) -> Any:
    """An optimizer-state leaf as an array (a python number becomes a 0-d array); PRNG keys are refused."""
    dtype = getattr(leaf, "dtype", None)
    if dtype is None:
        leaf = np.asarray(leaf)
        dtype = leaf.dtype
    if jnp.issubdtype(dtype, jax.dtypes.prng_key):
        raise TypeError(f"result: {where} is a PRNG key array, which sweep files do not store")
    if not (jnp.issubdtype(dtype, jnp.number) or dtype == np.bool_):
        raise TypeError(f"result: {where} expected a numeric array, got {type(leaf).__name__} ({dtype})")
    return leaf


def _check_shapes(named: dict[str, np.ndarray], groups: list[dict], lead: tuple[int, ...], who: str) -> None:
    """Every array but the optimizer state's starts with the (*axis lengths, seeds) axes and fits the
    sizes."""
    for g, info in enumerate(groups):
        sizes = info["sizes"]
        for i in range(trees.count(info.get("params_tree"))):
            if named[f"group_{g}.params.{i}"].shape[: len(lead)] != lead:
                shape = named[f"group_{g}.params.{i}"].shape
                raise ValueError(f"{who}: group_{g}.params.{i} expected leading axes {lead}, got {shape}")
        want = {f"group_{g}.diverged_at": lead}
        want |= {f"group_{g}.metrics.{m}": lead for m in info["metrics"]}
        for layer, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            want[f"group_{g}.layer_{layer}.w"] = (*lead, d_in, d_out)
            want[f"group_{g}.layer_{layer}.b"] = (*lead, d_out)
        for name, shape in want.items():
            if named[name].shape != shape:
                raise ValueError(f"{who}: {name} expected shape {shape}, got {named[name].shape}")
        rows = [named[f"group_{g}.history.{m}"].shape for m in info.get("history", []) if m != "step"]
        steps = named.get(f"group_{g}.history.step")
        if rows and (steps is None or any(r != (*lead, steps.shape[0]) for r in rows)):
            raise ValueError(f"{who}: group_{g}.history expected (*{lead}, rows) curves and a step column")
        losses = named[f"group_{g}.losses"]
        if losses.shape[:-1] != lead or losses.ndim != len(lead) + 1:
            raise ValueError(f"{who}: group_{g}.losses expected shape (*{lead}, steps), got {losses.shape}")


def save_sweep(path: str | os.PathLike, result: SweepResult) -> None:
    """Save a whole sweep to one safetensors file at ``path``, atomically, with a SHA-256 over everything.

    Stored, per group: every layer's ``w`` and ``b`` (leading axes (*axis lengths, seeds)), the optimizer
    state's leaves in ``jax.tree.leaves`` order (dtypes kept, int32 counts included; a python number becomes
    a 0-d array), ``losses``, ``diverged_at`` and every metric. The metadata holds the format version, kind
    ``"sweep"``, axes, seeds, head, step, settings and, per group, sizes, activation, number of
    optimizer-state leaves (null when there is no state), metric names and the names in its records: the
    logged curves (``GroupResult.history``: ``step`` (rows,) and each curve (*axis lengths, seeds, rows)),
    ``early_stop`` (``best_step``, ``stopped``) and ``halving`` (``stopped_at``, ``rung``, ``scores``).

    In a multi-process run every process must call it (the arrays are gathered from all processes); only
    process 0 writes the file.
    """
    from funcmlp.sweeps.results import SweepResult

    if not isinstance(result, SweepResult):
        raise TypeError(f"result: expected a SweepResult (from funcmlp.sweep), got {type(result).__name__}")
    _check_path(path)
    if not isinstance(result.axes, dict) or not all(isinstance(k, str) for k in result.axes):
        raise TypeError(f"result: axes expected a dict of axis name -> values, got {result.axes!r}")
    axes = {k: list(v) for k, v in result.axes.items()}
    settings = dict(result.settings)
    seeds, step = int(result.seeds), int(result.step)
    named: dict[str, Any] = {}
    groups = []
    for g, group in enumerate(result.groups):
        group_named, info = _group_arrays(g, group)
        named |= group_named
        groups.append(info)
    arrays, views = _host_arrays(named)
    lead = (*(len(v) for v in axes.values()), seeds)
    _check_shapes(arrays, groups, lead, "result")
    metadata = {
        "format": "funcmlp",
        "format_version": str(FORMAT_VERSION),
        "funcmlp_version": checkpoint_file.package_version(),
        "kind": KIND,
        "axes": _json(axes, "axes"),
        "seeds": str(seeds),
        "head": _json(result.head, "head"),
        "step": str(step),
        "settings": _json(settings, "settings"),
        "groups": _json(groups, "groups"),
        "views": json.dumps(views),
    }
    metadata["sha256"] = digest(arrays, metadata)
    if jax.process_index() == 0:
        atomic_write_bytes(path, st_save(arrays, metadata=metadata))


def _group_arrays(g: int, group: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Group ``g``'s arrays by their stored names, and its metadata entry (sizes, activation, number of
    optimizer-state leaves, metric and curve names)."""
    named: dict[str, Any] = {}
    tree = None
    if not group.sizes:  # a model of your own: its params pytree, leaf by leaf, and its skeleton
        leaves: list[Any] = []
        tree = trees.skeleton(group.params, leaves, f"result: group {g}'s params")
        named |= {f"group_{g}.params.{i}": leaf for i, leaf in enumerate(leaves)}
    elif len(group.params) != len(group.sizes) - 1:
        raise ValueError(
            f"result: group {g} has sizes {list(group.sizes)} ({len(group.sizes) - 1} layers) "
            f"but {len(group.params)} layers of params"
        )
    for layer, p in enumerate(group.params if group.sizes else []):
        named |= {f"group_{g}.layer_{layer}.{k}": p[k] for k in ("w", "b")}
    leaves = None if group.opt_state is None else jax.tree.leaves(group.opt_state)
    for i, leaf in enumerate(leaves or []):
        named[f"group_{g}.opt_state.{i}"] = _leaf(leaf, f"group {g}'s opt_state leaf {i}")
    named[f"group_{g}.losses"] = group.losses
    named[f"group_{g}.diverged_at"] = group.diverged_at
    named |= {f"group_{g}.metrics.{m}": v for m, v in group.metrics.items()}
    info = {
        "sizes": [int(d) for d in group.sizes],
        "activation": str(group.activation),
        "opt_state_leaves": None if leaves is None else len(leaves),
        "metrics": list(group.metrics),
        **({} if tree is None else {"params_tree": tree}),
    }
    for field in RECORDS:  # the curves, early stopping and halving records: name -> array each
        record = getattr(group, field) or {}
        named |= {f"group_{g}.{field}.{m}": v for m, v in record.items()}
        info[field] = list(record)
    return named, info


def _host_arrays(named: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Every array on the host, C-ordered, and the dtype names of those stored as raw bits (bfloat16 and
    other dtypes safetensors' numpy side lacks, viewed back on load)."""
    from funcmlp.sweeps.mesh import to_host

    arrays, views = {}, {}
    for name, a in named.items():  # the same order on every process: to_host is collective
        arr = np.asarray(to_host(a), order="C")
        if arr.dtype.name not in _NATIVE:
            views[name] = arr.dtype.name
            arr = arr.view(f"uint{8 * arr.dtype.itemsize}")
        arrays[name] = arr
    return arrays, views


def _read(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The file's arrays and metadata, after checking that it is a readable, intact funcmlp sweep file."""
    arrays, metadata = checkpoint_file.read_checked(path, what="sweep file")
    where = repr(os.fspath(path))
    kind = metadata.get("kind", "params")
    if kind != KIND:
        raise ValueError(
            f"path: {where} is a funcmlp {kind} checkpoint (written by save or save_state), not a sweep "
            "file; read it with funcmlp.load or funcmlp.load_state"
        )
    return arrays, metadata


def load_sweep(path: str | os.PathLike) -> SweepResult:
    """Load a ``SweepResult`` written by ``save_sweep``, with numpy arrays, after verifying its SHA-256.

    Every group's ``opt_state`` comes back as the plain list of its leaves (``jax.tree.leaves`` order), or
    None if none was saved: the optimizer's tree structure is not stored (``sweep(start=...)`` rebuilds it
    from the optimizer). A damaged, truncated or foreign file, or a params checkpoint, raises ValueError.
    """
    from funcmlp.sweeps.results import SweepResult

    arrays, metadata = _read(path)
    where = repr(os.fspath(path))
    try:
        axes = {str(k): tuple(v) for k, v in json.loads(metadata["axes"]).items()}
        seeds, step = int(metadata["seeds"]), int(metadata["step"])
        head, settings = json.loads(metadata["head"]), json.loads(metadata["settings"])
        groups = json.loads(metadata["groups"])
        expected = set()
        for g, info in enumerate(groups):
            n_layers, n_leaves = len(info["sizes"]) - 1, info["opt_state_leaves"]
            expected |= {f"group_{g}.layer_{layer}.{k}" for layer in range(n_layers) for k in ("w", "b")}
            expected |= {f"group_{g}.params.{i}" for i in range(trees.count(info.get("params_tree")))}
            expected |= {f"group_{g}.opt_state.{i}" for i in range(n_leaves or 0)}
            expected |= {f"group_{g}.{k}" for k in ("losses", "diverged_at")}
            expected |= {f"group_{g}.metrics.{m}" for m in info["metrics"]}
            expected |= {f"group_{g}.{f}.{m}" for f in RECORDS for m in info.get(f, [])}
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ValueError(
            f"path: {where} has damaged funcmlp sweep metadata ({type(e).__name__}: {e})"
        ) from None
    if set(arrays) != expected:
        missing, stray = sorted(expected - set(arrays)), sorted(set(arrays) - expected)
        raise ValueError(f"path: {where} does not match its metadata (missing {missing}, unexpected {stray})")
    _check_shapes(arrays, groups, (*(len(v) for v in axes.values()), seeds), f"path: {where}")
    result_groups = [_group(g, info, arrays) for g, info in enumerate(groups)]
    return SweepResult(
        axes=axes, seeds=seeds, head=head, groups=tuple(result_groups), step=step, settings=settings
    )


def _group(g: int, info: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    """Group ``g`` of a checked sweep file as a ``GroupResult``."""
    from funcmlp.sweeps.results import GroupResult

    n_leaves = info["opt_state_leaves"]
    params = [
        {k: arrays[f"group_{g}.layer_{layer}.{k}"] for k in ("w", "b")}
        for layer in range(len(info["sizes"]) - 1)
    ]
    if "params_tree" in info:
        count = trees.count(info["params_tree"])
        params = trees.rebuild(info["params_tree"], [arrays[f"group_{g}.params.{i}"] for i in range(count)])
    opt_state = None if n_leaves is None else [arrays[f"group_{g}.opt_state.{i}"] for i in range(n_leaves)]
    return GroupResult(
        sizes=tuple(info["sizes"]),
        activation=info["activation"],
        params=params,
        losses=arrays[f"group_{g}.losses"],
        diverged_at=arrays[f"group_{g}.diverged_at"],
        metrics={m: arrays[f"group_{g}.metrics.{m}"] for m in info["metrics"]},
        opt_state=opt_state,
        **{f: {m: arrays[f"group_{g}.{f}.{m}"] for m in info.get(f, [])} or None for f in RECORDS},
    )
