"""The benchmark command, ``python -m benchmarks``: its options and what it runs.

python -m benchmarks                        # the side-by-side run (under 5 minutes), JSON to benchmark.json
python -m benchmarks --quick --out q.json   # tiny sizes: every row runs (the numbers mean little)
python -m benchmarks --matrix               # funcmlp against plain JAX, cell by cell (docs/performance.md)
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import tyro

from funcmlp import checks


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig:
    """Time funcmlp against a numpy loop, scikit-learn and plain JAX (docs/performance.md); with --matrix,
    against plain JAX (and PyTorch) on networks from 2-4-3 to 784-512-512-10 (benchmarks/matrix.py)."""

    out: Path = Path("benchmark.json")
    """Where to write the JSON result."""
    repeats: int = 5
    """Timed runs per row; the median is shown."""
    quick: bool = False
    """Tiny sizes: checks that every row runs (the numbers mean little)."""
    memory: bool = True
    """Measure the peak memory of a 1024-model, 10,000-step sweep (a separate process)."""
    matrix: bool = False
    """Run the benchmark matrix instead: per cell, funcmlp's and plain JAX's time per step and their ratio."""
    cells: tuple[str, ...] = ()
    """With --matrix, only these cells (names as in its table, e.g. '2-4-3 train'); default all."""


def run(cfg: BenchmarkConfig) -> int:
    """Run the benchmark ``cfg`` asks for, print its tables and write its JSON."""
    from rich.console import Console

    from benchmarks import bench, cells, matrix, report, timing

    checks.check_positive_int(cfg.repeats, "repeats")
    if cfg.cells and not cfg.matrix:
        raise ValueError("--cells: expected only with --matrix")
    timing.use_cpu_devices()
    if cfg.matrix:
        known = [c.name for c in cells.CELLS]
        for name in cfg.cells:
            if name not in known:
                raise ValueError(f"--cells: expected names from {known}, got {name!r}")
        result = matrix.run_matrix(quick=cfg.quick, repeats=cfg.repeats, names=cfg.cells or None)
        tables = report.matrix_tables
    else:
        result = bench.run_benchmark(quick=cfg.quick, repeats=cfg.repeats, memory=cfg.memory)
        tables = report.bench_tables
    console = Console(width=120)
    for table in tables(result):
        console.print(table)
    timing.save(result, cfg.out)
    console.print(f"total {result['total_s']:.0f} s; JSON: {cfg.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks [options]``: exit status 0, or 2 with one line on bad options."""
    cfg = tyro.cli(BenchmarkConfig, args=argv, prog="python -m benchmarks")
    try:
        return run(cfg)
    except (ValueError, TypeError) as e:
        print(f"benchmarks: error: {e}", file=sys.stderr)
        return 2
