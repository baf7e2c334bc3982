"""How the benchmarks time and record their runs: the JAX devices, the machine, a timed call, the median of
warm calls (interleaved when several implementations are compared) and the JSON file of a result.

Every timed call waits for its device work (``jax.block_until_ready`` on what it returns), and every
median follows one untimed warm-up (compiling) call.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax


def use_cpu_devices(n: int | None = None) -> int:
    """Split the CPU into ``n`` JAX devices (default: one per core) so that ``funcmlp.sweep`` shards its
    models over them; only possible before JAX starts its backend. Returns the number of devices in use."""
    with contextlib.suppress(Exception):  # the backend is already up: keep its devices
        jax.config.update("jax_num_cpu_devices", n or os.cpu_count() or 1)
    return len(jax.devices())


def load_average() -> float | None:
    """The one-minute load average of the machine (None where the system has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def machine() -> dict:
    """What the numbers were measured on."""
    model = "unknown CPU"
    if Path("/proc/cpuinfo").exists():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in ln
        ]
        model = names[0] if names else model
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "load_average": load_average(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "devices": [str(d) for d in jax.devices()],
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall s, process CPU s, output) of one call, waiting for its device work to finish."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = jax.block_until_ready(fn())
    return time.perf_counter() - w0, time.process_time() - c0, out


def interleaved(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, dict]:
    """Median wall and CPU time of each function over ``repeats`` calls after one warm-up call each, the
    calls interleaved (A B A B ...) so that the load of a shared machine falls on all of them. Returns
    name -> {"wall", "cpu", "first", "out"} ("first": the warm-up call's wall time; "out": its output)."""
    first = {name: timed(fn) for name, fn in fns.items()}
    walls: dict[str, list[float]] = {name: [] for name in fns}
    cpus: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            wall, cpu, _ = timed(fn)
            walls[name].append(wall)
            cpus[name].append(cpu)
    return {
        name: {
            "wall": statistics.median(walls[name]),
            "cpu": statistics.median(cpus[name]),
            "first": first[name][0],
            "out": first[name][2],
        }
        for name in fns
    }


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    """Median wall time of fn() in seconds over ``repeats`` calls, after one warm-up call."""
    return interleaved({"fn": fn}, repeats)["fn"]["wall"]


def save(result: dict, path: str | Path) -> None:
    """Write a benchmark's result as indented JSON (the parent folder is made if missing)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result, indent=2) + "\n")
