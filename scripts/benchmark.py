"""Side-by-side benchmark of funcmlp against a numpy loop, scikit-learn and plain JAX (``funcmlp.bench``).

    python scripts/benchmark.py                      # the full run (under 5 minutes), JSON to benchmark.json
    python scripts/benchmark.py --quick --out q.json # tiny sizes, a smoke test

The same run is ``funcmlp benchmark``.
"""

from __future__ import annotations

import argparse

from rich.console import Console

from funcmlp import bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmark.json", help="where to write the JSON result")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row (the median is shown)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that every row runs")
    parser.add_argument("--no-memory", action="store_true", help="skip the 1024-model peak-memory run")
    args = parser.parse_args()
    bench.use_cpu_devices()
    result = bench.run_benchmark(quick=args.quick, repeats=args.repeats, memory=not args.no_memory)
    console = Console(width=120)
    for table in bench.tables(result):
        console.print(table)
    console.print(f"total {result['total_s']:.0f} s; JSON: {args.out}")
    bench.save(result, args.out)


if __name__ == "__main__":
    main()
