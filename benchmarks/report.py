"""The benchmarks' results as rich tables: ``bench_tables`` for the side-by-side run (``benchmarks.bench``),
``matrix_tables`` for the benchmark matrix (``benchmarks.matrix``). rich is imported only when a table is
made."""

from __future__ import annotations


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def bench_tables(result: dict):
    """The side-by-side result as rich tables: the rows, the targets, the scaling section."""
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
        ms, gflops, frac = r["seconds_per_step"] * 1e3, r["gflops"], r["matmul_fraction"]
        scale.add_row(str(r["hidden"]), str(r["n"]), f"{ms:.3f}", f"{gflops:.2f}", f"{frac:.0%}")
    return main, goals, scale


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} us"
    return f"{seconds * 1e3:.2f} ms"


def matrix_tables(result: dict):
    """The matrix as rich tables: one row per cell (times per step, or per model-step for sweeps), the
    sweeps' fixed and per-model-step costs, and the first-call (compile) times."""
    from rich.table import Table

    load = ", ".join("-" if v is None else f"{v:.2f}" for v in result["load_average"])
    quick = " (quick: the times mean little)" if result["quick"] else ""
    main = Table(
        title=f"funcmlp vs plain JAX on {result['backend']} ({result['device_kind']}, {result['devices']} "
        f"device(s)), jax {result['jax']}, median of {result['repeats']}{quick}",
        caption=f"ratio = funcmlp / plain wall time (< 1: funcmlp faster), cpu: the same for process CPU "
        f"time; randint: plain JAX with jax.random.randint mini-batches, ratio r = funcmlp / it; load "
        f"average {load} (start, end)",
    )
    cols = (
        "cell",
        "per",
        "funcmlp",
        "plain JAX",
        "ratio",
        "cpu",
        "randint",
        "ratio r",
        "PyTorch",
        "funcmlp plan",
    )
    for col in cols:
        left = col in ("cell", "per", "funcmlp plan")
        main.add_column(col, justify="left" if left else "right", no_wrap=col != "funcmlp plan")
    for r in result["cells"]:
        p = r["plan"]
        plan = "registered" if p["registered"] else "autodiff"
        if r["models"] > 1:
            size, count, rest = r.get("groups") or (r["models"], 1, 0)
            plan += f", {p['sums']}, {count}x{size}" + (f"+{rest}" if rest else "")
        times = (_time(r[k]) for k in ("funcmlp_s", "plain_s"))
        ratios = (f"{r['ratio']:.2f}", f"{r['cpu_ratio']:.2f}")
        randint = (_time(r.get("plain_randint_s")), _fmt(r.get("ratio_randint"), ".2f"))
        main.add_row(r["name"], r["per"], *times, *ratios, *randint, _time(r["torch_s"]), plan)
    out = [main]
    sweeps = [r for r in result["cells"] if "sweep_fixed_s" in r]
    if sweeps:
        split = Table(
            title="funcmlp.sweep: a call costs F + s * models * steps",
            caption="from runs of k and k/4 steps; F: checks, initialising the models, final metrics",
        )
        for col in ("cell", "k", "fixed F", "s per model-step", "plain JAX per model-step"):
            split.add_column(col, justify="left" if col == "cell" else "right")
        for r in sweeps:
            split.add_row(
                r["name"],
                str(r["steps"]),
                f"{r['sweep_fixed_s']:.3f} s",
                _time(r["sweep_marginal_s"]),
                _time(r["plain_s"]),
            )
        out.append(split)
    if "compile" in result:
        out.append(_first_call_table(result["compile"]))
    return tuple(out)


def _first_call_table(c: dict):
    """The first calls' table (``benchmarks.first_call``)."""
    from rich.table import Table

    first = Table(
        title=f"First call in a fresh process: {c['cell']}, {c['steps']} steps, median of {c['repeats']}",
        caption=f"compile: funcmlp.train / plain {c['compile_ratio']:.2f}, the engine's two-program form "
        f"(run_fast, run only when needed) / plain {c['engine_compile_ratio']:.2f}",
    )
    for col in ("", "first call", "of which compile (first - warm)"):
        first.add_column(col, justify="right" if col else "left")
    labels = (
        ("funcmlp", "funcmlp.train"),
        ("engine", "engine.run_fast (+ run)"),
        ("plain", "plain JAX jit(scan)"),
    )
    for who, label in labels:
        first.add_row(label, f"{c[f'{who}_first_call_s']:.2f} s", f"{c[f'{who}_compile_s']:.2f} s")
    return first
