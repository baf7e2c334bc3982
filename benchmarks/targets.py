"""The performance targets of the side-by-side benchmark (``benchmarks.bench``), each written once here: the
line that names it, its goal, whether the goal is a floor or a ceiling, and where a result holds the measured
value. ``targets`` compares a result with them; the goal appears in a line through ``{goal:g}``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable


@dataclasses.dataclass(frozen=True)
class Target:
    """One target: ``what`` (its line, ``{goal:g}`` where the goal is named), ``goal``, ``at_most`` (met when
    the value is at most the goal; otherwise when it is at least the goal) and ``value`` (the measured value
    from a result of ``benchmarks.bench.run_benchmark``, None when it was not measured)."""

    what: str
    goal: float
    at_most: bool
    value: Callable[[dict], float | None]

    def check(self, result: dict) -> dict:
        """{"target", "value", "goal", "met"} for ``result`` ("met": None when the value is missing)."""
        value = self.value(result)
        met = None if value is None else bool(value <= self.goal if self.at_most else value >= self.goal)
        return {"target": self.what.format(goal=self.goal), "value": value, "goal": self.goal, "met": met}


def _row(result: dict, name: str) -> dict | None:
    return next((r for r in result["rows"] if r["name"] == name), None)


def _x_numpy(name: str) -> Callable[[dict], float | None]:
    return lambda result: (_row(result, name) or {}).get("x_numpy")


def _sweep_slowdown(result: dict) -> float | None:
    """Time per model-step of the 1024-model sweep over that of the 1-model sweep."""
    s1, s1024 = _row(result, "funcmlp.sweep, 1 models"), _row(result, "funcmlp.sweep, 1024 models")
    return None if not (s1 and s1024) else s1024["seconds"] / s1["seconds"]


def _matmul_fraction(result: dict) -> float | None:
    big = [r for r in result["scaling"] if r["hidden"] == 512 and r["n"] == 30_000]
    return big[0]["matmul_fraction"] if big else None


TARGETS: dict[str, Target] = {
    "train_x_numpy": Target("train >= {goal:g}x the numpy loop", 20.0, False, _x_numpy("funcmlp.train")),
    "sweep1024_x_numpy": Target(
        "sweep of 1024 >= {goal:g}x the numpy loop per model-step",
        40.0,
        False,
        _x_numpy("funcmlp.sweep, 1024 models"),
    ),
    "sweep_slowdown": Target(
        "sweep of 1024 no slower per model-step than of 1 (ratio)", 1.0, True, _sweep_slowdown
    ),
    "compile_s": Target("compile time of train (s)", 1.5, True, lambda result: result["train_compile_s"]),
    "peak_gb": Target(
        "peak memory, 1024-model 10,000-step sweep (GB)",
        1.5,
        True,
        lambda result: result["peak_memory"].get("peak_gb"),
    ),
    "matmul_frac": Target("hidden 512 x n 30,000: fraction of matmul GFLOP/s", 0.5, False, _matmul_fraction),
}


def targets(result: dict) -> list[dict]:
    """Each target of ``TARGETS``, the measured value and whether it is met."""
    return [t.check(result) for t in TARGETS.values()]
