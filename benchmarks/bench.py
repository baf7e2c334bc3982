"""The side-by-side benchmark: funcmlp against what a user would otherwise run (``benchmarks.baselines``).

Every row trains the lecture's 2 -> 4 -> 3 ReLU net on the 300-point spiral by full-batch gradient descent
(alpha = 1) and reports the median over ``repeats`` timed runs, after one untimed warm-up run, of the time per
step (per model-step for the many-model rows) and its ratio to the numpy loop measured in the same run. Also:
the compile time of ``train``, the peak memory of a 1024-model, 10,000-step sweep (in a fresh process), and a
scaling section (hidden 4 / 64 / 512 x n 300 / 30,000) with the GFLOP/s of a step against a plain large
matmul on the same machine. ``python -m benchmarks`` runs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import optax

import funcmlp
from benchmarks import baselines
from funcmlp import data

LR = 1.0
TARGETS = {
    "train_x_numpy": 20.0,
    "sweep1024_x_numpy": 40.0,
    "compile_s": 1.5,
    "peak_gb": 1.5,
    "matmul_frac": 0.5,
}


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of fn() in seconds over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _block(tree) -> None:
    jax.block_until_ready(tree)


def use_cpu_devices(n: int | None = None) -> int:
    """Split the CPU into ``n`` JAX devices (default: one per core) so that ``funcmlp.sweep`` shards its
    models over them; only possible before JAX starts its backend. Returns the number of devices in use."""
    with contextlib.suppress(Exception):  # the backend is already up: keep its devices
        jax.config.update("jax_num_cpu_devices", n or os.cpu_count() or 1)
    return len(jax.devices())


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
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "jax": jax.__version__,
        "devices": [str(d) for d in jax.devices()],
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }


def _single_model_rows(params, x, y, steps: dict, repeats: int) -> tuple[list[dict], float]:
    """Rows for one model; returns them and the compile time of ``train`` (first call minus a warm call)."""
    opt = optax.sgd(LR)
    n = steps["train"]
    jax.clear_caches()
    t0 = time.perf_counter()
    _block(funcmlp.train(params, x, y, optimizer=opt, steps=n))
    first = time.perf_counter() - t0
    warm = _median_time(lambda: _block(funcmlp.train(params, x, y, optimizer=opt, steps=n)), repeats)
    rows = [{"name": "funcmlp.train", "per": "step", "seconds": warm / n}]
    runs = {
        "numpy, hand-written backprop loop": baselines.numpy_loop,
        "scikit-learn MLPClassifier (sgd, full batch)": baselines.sklearn_mlp,
        "PyTorch eager loop": baselines.torch_loop,
        "Equinox, jitted step in a Python loop": baselines.equinox_loop,
        "Flax NNX, jitted step in a Python loop": baselines.flax_loop,
        "JAX + optax, jitted step in a Python loop": baselines.jax_python_loop,
        "JAX + optax, whole loop in jit(lax.scan)": baselines.jax_scan,
    }
    for name, make in runs.items():
        key = name.split(",")[0].split(" ")[0].lower()
        k = steps.get(key, steps["baseline"]) if "scan" not in name else steps["train"]
        try:
            run = make(params, x, y, LR)
            if run is None:
                rows.append(
                    {"name": name, "per": "step", "seconds": None, "note": "not installed (extra bench)"}
                )
                continue
            rows.append(
                {
                    "name": name,
                    "per": "step",
                    "seconds": _median_time(lambda run=run, k=k: run(k), repeats) / k,
                }
            )
        except Exception as e:  # a baseline library's API moved: report, do not abort the benchmark
            rows.append(
                {
                    "name": name,
                    "per": "step",
                    "seconds": None,
                    "note": f"failed: {type(e).__name__}: {e}"[:200],
                }
            )
    return rows, first - warm


def _many_model_rows(x, y, steps: dict, repeats: int, models: tuple[int, ...], vmapped: int) -> list[dict]:
    rows = []
    k = steps["sweep"]
    if hasattr(funcmlp, "sweep"):
        for m in models:

            def run(models=m):
                r = funcmlp.sweep(
                    jax.random.key(1), x, y, sizes=(2, 4, 3), seeds=models, learning_rates=[LR], steps=k
                )
                _block(list(r.groups))

            t = _median_time(run, repeats)
            rows.append({"name": f"funcmlp.sweep, {m} models", "per": "model-step", "seconds": t / (m * k)})
    else:
        rows.append(
            {
                "name": "funcmlp.sweep",
                "per": "model-step",
                "seconds": None,
                "note": "funcmlp.sweep not available",
            }
        )
    keys = jax.random.split(jax.random.key(2), vmapped)
    stacked = baselines.stack([funcmlp.init_params(key, (2, 4, 3)) for key in keys])
    run = baselines.jax_vmap_scan(stacked, x, y, LR)
    t = _median_time(lambda: run(k), repeats)
    rows.append(
        {
            "name": f"JAX + optax, jit(vmap(scan)) over {vmapped} models",
            "per": "model-step",
            "seconds": t / (vmapped * k),
        }
    )
    return rows


_PEAK_SCRIPT = """
import resource, jax, funcmlp
x, y = funcmlp.data.spiral(jax.random.key(0))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
r = funcmlp.sweep(jax.random.key(1), x, y, sizes=(2, 4, 3), seeds={models}, learning_rates=[1.0], steps={steps})
jax.block_until_ready(list(r.groups))
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_memory(models: int = 1024, steps: int = 10_000) -> dict:
    """Peak resident memory (GB) of a fresh process that runs one sweep, and of the process before it."""
    if not hasattr(funcmlp, "sweep"):
        return {"note": "funcmlp.sweep not available"}
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT.format(models=models, steps=steps)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        return {
            "note": f"failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}"
        }
    before, after = (int(v) * 1024 / 1e9 for v in proc.stdout.split()[-2:])  # ru_maxrss is in KiB on Linux
    return {"models": models, "steps": steps, "peak_gb": after, "before_sweep_gb": before}


def step_flops(n: int, sizes: tuple[int, ...]) -> int:
    """Matmul FLOPs of one full-batch step: 2 n d_in d_out per layer forward, as much for dJ/dW, and as much
    again for every delta sent back (all layers but the first)."""
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    return sum(2 * n * a * b * (2 if i == 0 else 3) for i, (a, b) in enumerate(pairs))


def matmul_gflops(size: int, repeats: int) -> float:
    a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (size, size), jnp.float32)
    mm = jax.jit(jnp.dot)
    return 2 * size**3 / _median_time(lambda: _block(mm(a, b)), repeats) / 1e9


def scaling(hiddens, ns, steps_for: Callable[[int, int], int], repeats: int) -> list[dict]:
    """Time per step of ``train`` (SGD, alpha = 0.1) for nets (2, h, 3) on n-point spirals, and its GFLOP/s."""
    rows, opt = [], optax.sgd(0.1)
    for n in ns:
        x, y = data.spiral(jax.random.key(0), n // 3)
        for h in hiddens:
            params, k = funcmlp.init_params(jax.random.key(1), (2, h, 3)), steps_for(h, n)

            def run(params=params, k=k, x=x, y=y):
                _block(funcmlp.train(params, x, y, optimizer=opt, steps=k))

            t = _median_time(run, repeats) / k
            flops = step_flops(x.shape[0], (2, h, 3))
            rows.append({"hidden": h, "n": x.shape[0], "seconds_per_step": t, "gflops": flops / t / 1e9})
    return rows


def run_benchmark(*, quick: bool = False, repeats: int = 5, memory: bool = True) -> dict:
    """Every measurement of the benchmark as a JSON-ready dict (``quick``: tiny sizes, for a smoke test)."""
    t_start = time.perf_counter()
    x, y = data.spiral(jax.random.key(0))
    params = funcmlp.init_params(jax.random.key(1), (2, 4, 3))
    if quick:
        steps = {"train": 200, "baseline": 20, "numpy": 20, "scikit-learn": 20, "flax": 5, "sweep": 10}
    else:
        steps = {
            "train": 20_000,
            "baseline": 500,
            "numpy": 1000,
            "scikit-learn": 500,
            "flax": 100,
            "sweep": 500,
        }
    rows, compile_s = _single_model_rows(params, x, y, steps, repeats)
    models, vmapped = ((1, 8), 8) if quick else ((1, 64, 1024), 1024)
    rows += _many_model_rows(x, y, steps, repeats, models, vmapped)
    numpy_s = next(r["seconds"] for r in rows if r["name"].startswith("numpy"))
    for r in rows:
        r["us"] = None if r["seconds"] is None else r["seconds"] * 1e6
        r["x_numpy"] = None if r["seconds"] is None else numpy_s / r["seconds"]
    result = {
        "machine": machine(),
        "quick": quick,
        "repeats": repeats,
        "rows": rows,
        "train_compile_s": compile_s,
    }
    result["peak_memory"] = peak_memory() if memory and not quick else {"note": "not measured"}
    if quick:
        result["scaling"] = scaling((4, 16), (300,), lambda h, n: 20, repeats)
        result["matmul_gflops"] = matmul_gflops(256, repeats)
    else:
        steps_for = lambda h, n: int(min(5000, max(5, 2e9 / step_flops(n, (2, h, 3)))))  # noqa: E731
        result["scaling"] = scaling((4, 64, 512), (300, 30_000), steps_for, repeats)
        result["matmul_gflops"] = matmul_gflops(2048, repeats)
    for r in result["scaling"]:
        r["matmul_fraction"] = r["gflops"] / result["matmul_gflops"]
    result["targets"] = targets(result)
    result["total_s"] = time.perf_counter() - t_start
    return result


def targets(result: dict) -> list[dict]:
    """Each target of the performance spec, the measured value and whether it is met."""
    by_name = {r["name"]: r for r in result["rows"]}
    out = []

    def add(what, value, goal, met):
        out.append(
            {"target": what, "value": value, "goal": goal, "met": None if value is None else bool(met)}
        )

    train = by_name["funcmlp.train"]["x_numpy"]
    add("train >= 20x the numpy loop", train, TARGETS["train_x_numpy"], train is not None and train >= 20)
    s1, s1024 = by_name.get("funcmlp.sweep, 1 models"), by_name.get("funcmlp.sweep, 1024 models")
    r1024 = s1024["x_numpy"] if s1024 else None
    add(
        "sweep of 1024 >= 40x the numpy loop per model-step",
        r1024,
        TARGETS["sweep1024_x_numpy"],
        r1024 is not None and r1024 >= 40,
    )
    slower = None if not (s1 and s1024) else s1024["seconds"] / s1["seconds"]
    add(
        "sweep of 1024 no slower per model-step than of 1 (ratio)",
        slower,
        1.0,
        slower is not None and slower <= 1,
    )
    add(
        "compile time of train (s)",
        result["train_compile_s"],
        TARGETS["compile_s"],
        result["train_compile_s"] <= 1.5,
    )
    peak = result["peak_memory"].get("peak_gb")
    add(
        "peak memory, 1024-model 10,000-step sweep (GB)",
        peak,
        TARGETS["peak_gb"],
        peak is not None and peak <= 1.5,
    )
    big = [r for r in result["scaling"] if r["hidden"] == 512 and r["n"] == 30_000]
    frac = big[0]["matmul_fraction"] if big else None
    add(
        "hidden 512 x n 30,000: fraction of matmul GFLOP/s",
        frac,
        TARGETS["matmul_frac"],
        frac is not None and frac >= 0.5,
    )
    return out


def save(result: dict, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result, indent=2) + "\n")


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def tables(result: dict):
    """The result as rich tables: the side-by-side rows, the targets, the scaling section."""
    from rich.table import Table

    m = result["machine"]
    main = Table(
        title=f"2-4-3 net, 300-point spiral, full-batch SGD ({m['cpu']}, {m['cores']} cores, jax {m['jax']})"
    )
    for col in ("what", "us / step", "x numpy loop", "note"):
        main.add_column(col, justify="left" if col in ("what", "note") else "right")
    for r in result["rows"]:
        unit = " per model" if r["per"] == "model-step" else ""
        main.add_row(r["name"], _fmt(r["us"], ".2f") + unit, _fmt(r["x_numpy"], ".1f"), r.get("note", ""))
    goals = Table(title=f"Targets (compile time of train: {result['train_compile_s']:.2f} s)")
    for col in ("target", "measured", "goal", "met"):
        goals.add_column(col)
    for t in result["targets"]:
        met = "-" if t["met"] is None else ("yes" if t["met"] else "no")
        goals.add_row(t["target"], _fmt(t["value"], ".3g"), _fmt(t["goal"], "g"), met)
    scale = Table(title=f"Scaling: funcmlp.train step (plain {result['matmul_gflops']:.1f} GFLOP/s matmul)")
    for col in ("hidden", "n", "ms / step", "GFLOP/s", "of matmul"):
        scale.add_column(col, justify="right")
    for r in result["scaling"]:
        scale.add_row(
            str(r["hidden"]), str(r["n"]), f"{r['seconds_per_step'] * 1e3:.3f}", f"{r['gflops']:.2f}",
            f"{r['matmul_fraction']:.0%}",
        )  # fmt: skip
    return main, goals, scale
