"""The side-by-side benchmark: funcmlp against what a user would otherwise run (``benchmarks.baselines``).

Every row trains the lecture's 2 -> 4 -> 3 ReLU net on the 300-point spiral by full-batch gradient descent
(alpha = 1) and reports the median over ``repeats`` timed runs, after one untimed warm-up run, of the time per
step (per model-step for the many-model rows) and its ratio to the numpy loop measured in the same run. Also:
the compile time of ``train``, the peak memory of a 1024-model, 10,000-step sweep (in a fresh process), and a
scaling section (hidden 4 / 64 / 512 x n 300 / 30,000) with the GFLOP/s of a step against a plain large
matmul on the same machine. The targets each measurement is held to are in ``benchmarks.targets``, the
tables in ``benchmarks.report``; ``python -m benchmarks`` runs it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

import funcmlp
from benchmarks import baselines, timing
from benchmarks.targets import targets
from funcmlp import data

LR = 1.0


def _single_model_rows(params, x, y, steps: dict, repeats: int) -> tuple[list[dict], float]:
    """Rows for one model; returns them and the compile time of ``train`` (first call minus a warm call)."""
    opt = optax.sgd(LR)
    n = steps["train"]
    jax.clear_caches()
    t0 = time.perf_counter()
    jax.block_until_ready(funcmlp.train(params, x, y, optimizer=opt, steps=n))
    first = time.perf_counter() - t0
    warm = timing.median_time(lambda: funcmlp.train(params, x, y, optimizer=opt, steps=n), repeats)
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
                    "seconds": timing.median_time(lambda run=run, k=k: run(k), repeats) / k,
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
    for m in models:

        def run(models=m):  # a SweepResult is not a pytree: wait for its groups
            r = funcmlp.sweep(
                jax.random.key(1), x, y, sizes=(2, 4, 3), seeds=models, learning_rates=[LR], steps=k
            )
            return list(r.groups)

        t = timing.median_time(run, repeats)
        rows.append({"name": f"funcmlp.sweep, {m} models", "per": "model-step", "seconds": t / (m * k)})
    keys = jax.random.split(jax.random.key(2), vmapped)
    stacked = baselines.stack([funcmlp.init_params(key, (2, 4, 3)) for key in keys])
    run = baselines.jax_vmap_scan(stacked, x, y, LR)
    t = timing.median_time(lambda: run(k), repeats)
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
r = funcmlp.sweep(
    jax.random.key(1), x, y, sizes=(2, 4, 3), seeds={models}, learning_rates=[1.0], steps={steps}
)
jax.block_until_ready(list(r.groups))
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_memory(models: int = 1024, steps: int = 10_000) -> dict:
    """Peak resident memory (GB) of a fresh process that runs one sweep, and of the process before it."""
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT.format(models=models, steps=steps)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        why = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode
        return {"note": f"failed: {why}"}
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
    return 2 * size**3 / timing.median_time(lambda: mm(a, b), repeats) / 1e9


def scaling(hiddens, ns, steps_for: Callable[[int, int], int], repeats: int) -> list[dict]:
    """Time per step of ``train`` (SGD, alpha = 0.1) for nets (2, h, 3) on n-point spirals,
    and its GFLOP/s."""
    rows, opt = [], optax.sgd(0.1)
    for n in ns:
        x, y = data.spiral(jax.random.key(0), n // 3)
        for h in hiddens:
            params, k = funcmlp.init_params(jax.random.key(1), (2, h, 3)), steps_for(h, n)

            def run(params=params, k=k, x=x, y=y):
                return funcmlp.train(params, x, y, optimizer=opt, steps=k)

            t = timing.median_time(run, repeats) / k
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
        "machine": timing.machine(),
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
