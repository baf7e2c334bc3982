"""funcmlp's command line on scikit-learn's bundled data sets, against scikit-learn's own MLP.

python -m benchmarks.own_data [NAME ...]   # about a minute on two cores; prints a markdown table

For iris, wine, breast_cancer, digits (classes) and diabetes (real targets), each data set is written to a
CSV file (a header row of feature names, the label last) and trained by what a user would type,

    python -m funcmlp train --data FILE --standardize --quiet --out DIR      (--head linear for diabetes)

with every other option at its default: the seeds, steps and batch size chosen to fit the default time
budget (``funcmlp.fitting.budget``, 10 s) from a cost of one step measured on this machine, the best seed
on the validation rows kept. Its test accuracy (R^2 for diabetes), hidden width and what the budget chose
are read from DIR/metrics.json.

scikit-learn's MLPClassifier / MLPRegressor, at its defaults but with the same one hidden layer, is then
trained on the same training rows, standardised with the same training statistics, and scored on the same
test rows. The split is funcmlp's own: ``funcmlp.io.datafile.prepare`` with the key the command line draws
from --seed 0 (``funcmlp.cli.train.draw_samples``: the first of five keys split from ``jax.random.key(0)``).
For diabetes scikit-learn also gets the targets standardised as funcmlp trains on them (training rows'
mean and standard deviation), its predictions mapped back to the targets' units before scoring. Every run
checks that the split is the one the command used: the saved standardisation matches, and the saved model
scores the test rows as metrics.json says (and, for classes, the test confusion matrix counts them).

The seconds are wall-clock: the whole ``funcmlp train`` process (start-up and compilation included), and
scikit-learn's ``fit``; the CPU seconds of the ``funcmlp train`` process (all threads) say how much of its
wall time was its own on a machine shared with other work. "*" marks a scikit-learn fit stopped by its iteration limit (max_iter = 200) before
it converged.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

DATA_SETS = ("iris", "wine", "breast_cancer", "digits", "diabetes")
REGRESSION = ("diabetes",)
SEED = 0  # funcmlp train's default --seed
HELD_OUT = 0.2  # funcmlp train's default --val and --test


class Row(NamedTuple):
    name: str
    n: int
    d: int
    classes: int | None  # None for regression
    width: int
    funcmlp_score: float
    sklearn_score: float
    sklearn_converged: bool
    funcmlp_seconds: float
    sklearn_seconds: float
    funcmlp_cpu: float  # CPU seconds of the funcmlp train process, all its threads
    plan: str  # what funcmlp's budget chose: "16 x 1000, batch 256"


def write_csv(name: str, folder: Path) -> tuple[Path, int, int, int | None]:
    """scikit-learn's data set ``name`` as ``folder/name.csv``: (path, n, d, classes or None)."""
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    x, y = np.asarray(bunch.data, np.float64), np.asarray(bunch.target)
    names = [re.sub(r"\W+", "_", str(f)).strip("_") for f in bunch.feature_names]
    path = folder / f"{name}.csv"
    regression = name in REGRESSION
    with path.open("w") as f:
        f.write(",".join([*names, "target" if regression else "label"]) + "\n")
        for row, label in zip(x, y, strict=True):
            last = repr(float(label)) if regression else str(int(label))
            f.write(",".join([*(repr(float(v)) for v in row), last]) + "\n")
    return path, x.shape[0], x.shape[1], None if regression else len(np.unique(y))


def run_funcmlp(path: Path, out: Path, regression: bool) -> tuple[dict[str, Any], float, float]:
    """``funcmlp train`` on ``path`` with its defaults; (metrics.json, wall-clock seconds, CPU seconds)."""
    cmd = [sys.executable, "-m", "funcmlp", "train", "--data", str(path), "--standardize", "--quiet"]
    cmd += ["--out", str(out), *(["--head", "linear"] if regression else [])]
    t0, cpu0 = time.perf_counter(), _children_cpu()
    subprocess.run(cmd, check=True, stdout=sys.stderr)  # its summary line as progress, off the table
    seconds, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    return json.loads((out / "metrics.json").read_text()), seconds, cpu


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def the_split(path: Path, regression: bool):
    """The ``Prepared`` split funcmlp train made of ``path`` with --seed SEED and --standardize."""
    import jax

    from funcmlp.io import datafile

    key = jax.random.split(jax.random.key(SEED), 5)[0]  # draw_samples's "train" key
    return datafile.prepare(path, key, standardize=True, val=HELD_OUT, test=HELD_OUT, targets=regression)


def check_split(p, out: Path, metrics: dict[str, Any], regression: bool) -> None:
    """Fail unless ``p`` is the split the run in ``out`` trained and scored on."""
    from funcmlp import metrics as scores
    from funcmlp.io.model import load_model

    model = load_model(out)
    np.testing.assert_allclose(model.standardizer.mean, p.standardizer.mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(model.standardizer.std, p.standardizer.std, rtol=1e-6, atol=1e-6)
    pred = np.asarray(model.predict(p.raw.x_test))
    if regression:
        score = scores.r2(p.raw.y_test[:, 0], pred)
        expected = metrics["test_r2"]
    else:
        counted = int(np.sum(metrics["test_confusion_matrix"]))
        if counted != len(p.raw.y_test):
            raise AssertionError(
                f"test rows: metrics.json counts {counted}, the split has {len(p.raw.y_test)}"
            )
        labels = [model.classes.index(c) for c in pred.tolist()] if model.classes else pred
        score = float(np.mean(np.asarray(labels) == p.raw.y_test))
        expected = metrics["test_accuracy"]
    if abs(score - expected) > 1e-4:
        raise AssertionError(f"test score: metrics.json says {expected}, the split gives {score}")


def run_sklearn(p, width: int, regression: bool) -> tuple[float, bool, float]:
    """scikit-learn's MLP (defaults, one hidden layer of ``width``) on the split: (test score, converged,
    seconds)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import r2_score
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    s = p.split
    kind = MLPRegressor if regression else MLPClassifier
    net = kind(hidden_layer_sizes=(width,), random_state=SEED)
    y_train = s.y_train[:, 0] if regression else s.y_train
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        t0 = time.perf_counter()
        net.fit(s.x_train, y_train)
        seconds = time.perf_counter() - t0
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    if regression:
        st = p.target_standardizer
        pred = net.predict(s.x_test) * float(st.std[0]) + float(st.mean[0])
        score = float(r2_score(p.raw.y_test[:, 0], pred))
    else:
        score = float(np.mean(net.predict(s.x_test) == s.y_test))
    return score, converged, seconds


def compare(name: str, folder: Path) -> Row:
    regression = name in REGRESSION
    path, n, d, k = write_csv(name, folder)
    out = folder / f"{name}_run"
    metrics, funcmlp_seconds, funcmlp_cpu = run_funcmlp(path, out, regression)
    sizes = metrics["sizes"]
    if len(sizes) != 3 or sizes[0] != d:
        raise AssertionError(f"{name}: expected sizes (d, h, K) with d = {d}, got {sizes}")
    p = the_split(path, regression)
    check_split(p, out, metrics, regression)
    sk_score, converged, sk_seconds = run_sklearn(p, sizes[1], regression)
    score = metrics["test_r2" if regression else "test_accuracy"]
    batch = "full batch" if metrics["batch_size"] is None else f"batch {metrics['batch_size']}"
    plan = f"{metrics['seeds']} x {metrics['steps']}, {batch}"
    return Row(
        name, n, d, k, sizes[1], score, sk_score, converged, funcmlp_seconds, sk_seconds, funcmlp_cpu, plan
    )


def table(rows: list[Row]) -> str:
    lines = [
        "| data set | n, d, classes | funcmlp hidden width | funcmlp seeds x steps "
        "| funcmlp test accuracy (R^2) | scikit-learn MLP test accuracy (R^2) "
        "| seconds: funcmlp train / scikit-learn | ratio | funcmlp train CPU seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        shape = f"{r.n}, {r.d}, " + ("regression" if r.classes is None else str(r.classes))
        fmt = (lambda v: f"R^2 {v:.3f}") if r.classes is None else (lambda v: f"{v:.3f}")
        star = "" if r.sklearn_converged else "*"
        ratio = r.funcmlp_seconds / r.sklearn_seconds
        lines.append(
            f"| {r.name} | {shape} | {r.width} | {r.plan} | {fmt(r.funcmlp_score)} "
            f"| {fmt(r.sklearn_score)}{star} | {r.funcmlp_seconds:.1f} / {r.sklearn_seconds:.2f} | {ratio:.0f}x | {r.funcmlp_cpu:.1f} |"
        )
    return "\n".join(lines)


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in DATA_SETS]
    if unknown:
        raise SystemExit(f"data sets: expected some of {', '.join(DATA_SETS)}, got {', '.join(unknown)}")
    rows = []
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="funcmlp-own-data-") as tmp:
        for name in names or DATA_SETS:
            rows.append(compare(name, Path(tmp)))
            print(f"{name}: done", file=sys.stderr, flush=True)
    print(table(rows))
    print(
        f"\n{os.cpu_count()} cores; 1-minute load average {load:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    if not all(r.sklearn_converged for r in rows):
        print("\n\\* scikit-learn stopped at its max_iter = 200 before converging")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
