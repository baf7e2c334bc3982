"""Placing a grid of models on every device: a 2-D mesh over the (configuration, seed) grid.

A sweep computes on a grid of (configuration, seed) pairs, a configuration being one point of the product
of its hyperparameter axes. A flat model axis sharded over D devices cannot be reshaped to that grid
without moving data (XLA replicates the reshaped array), so the grid itself is sharded: the devices form a
mesh of shape (D_config, D_seed) with D_config * D_seed = D, configuration rows are split over "config" and
seed columns over "seed". Each axis is padded to a multiple of its mesh size; the factorisation with the
fewest padded models is chosen. Every device then trains its own block of models, with no communication,
and keeps its block of the results.

After ``jax.distributed.initialize`` the same mesh spans the devices of every process: inputs are built with
``jax.make_array_from_callback`` (each process supplies its own shards of an array that every process can
compute), and ``to_host`` gathers small results from all processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXES = ("config", "seed")


def padded(n: int, k: int) -> int:
    """The smallest multiple of k that is >= n."""
    return -(-n // k) * k


def grid_shape(n_config: int, n_seeds: int, n_devices: int) -> tuple[int, int]:
    """Mesh shape (D_config, D_seed), D_config * D_seed = n_devices, with the fewest padded models.

    Ties go to more devices on the seed axis (seeds are usually the longer axis).
    """
    options = [(d, n_devices // d) for d in range(1, n_devices + 1) if n_devices % d == 0]
    return min(options, key=lambda s: (padded(n_config, s[0]) * padded(n_seeds, s[1]), s[0]))


def check_devices(devices: Any) -> None:
    """A list (or tuple) of distinct jax devices."""
    want = "devices: expected a list of distinct jax devices such as jax.devices()[:2], got"
    if isinstance(devices, np.ndarray) and devices.ndim == 1:
        devices = devices.tolist()
    if isinstance(devices, (str, bytes)) or not isinstance(devices, Sequence):
        raise TypeError(f"{want} {type(devices).__name__}")
    for d in devices:
        if not isinstance(d, jax.Device):
            raise TypeError(f"{want} {d!r} ({type(d).__name__}) in the list")
    if len(set(devices)) != len(devices):
        raise ValueError(f"{want} a device listed more than once: {list(devices)!r}")


def grid_mesh(n_config: int, n_seeds: int, devices: Sequence[Any] | None = None) -> Mesh:
    """A mesh with axes ("config", "seed") over ``devices`` (default: ``jax.devices()``, all processes)."""
    if devices is None:
        devices = jax.devices()
    else:
        check_devices(devices)
    devices = list(devices.tolist() if isinstance(devices, np.ndarray) else devices)
    if not devices:
        raise ValueError("devices: expected at least one device, got none")
    shape = grid_shape(n_config, n_seeds, len(devices))
    return Mesh(np.array(devices, dtype=object).reshape(shape), AXES)


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def put(host: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """A global array from a host array that every process holds whole; each process fills its own shards."""
    host = np.asarray(host)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def to_host(array: jax.Array) -> np.ndarray:
    """The whole array as numpy on this process (gathered from the other processes if needed)."""
    if getattr(array, "is_fully_addressable", True):
        return np.asarray(array)
    return np.asarray(multihost_utils.process_allgather(array, tiled=True))
