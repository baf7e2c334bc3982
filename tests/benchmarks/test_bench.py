import json

import pytest

from benchmarks import bench
from benchmarks.run import main
from benchmarks.targets import TARGETS, targets


def test_step_flops_counts_forward_weight_gradients_and_deltas():
    n = 300
    forward = 2 * n * (2 * 4 + 4 * 3)  # z^1 = X W^1, z^2 = A^1 W^2
    weight_grads = 2 * n * (2 * 4 + 4 * 3)  # dJ/dW^l = A^{l-1 T} delta^l
    deltas = 2 * n * 4 * 3  # delta^1 = delta^2 W^2 T; nothing is sent back to the inputs
    assert bench.step_flops(n, (2, 4, 3)) == forward + weight_grads + deltas


def _result(train_x, sweep1_us, sweep1024_us, compile_s, peak_gb, frac):
    numpy_us = 100.0
    rows = [
        {"name": "numpy, hand-written backprop loop", "seconds": numpy_us, "x_numpy": 1.0},
        {"name": "funcmlp.train", "seconds": numpy_us / train_x, "x_numpy": train_x},
        {"name": "funcmlp.sweep, 1 models", "seconds": sweep1_us, "x_numpy": numpy_us / sweep1_us},
        {"name": "funcmlp.sweep, 1024 models", "seconds": sweep1024_us, "x_numpy": numpy_us / sweep1024_us},
    ]
    scaling = [{"hidden": 512, "n": 30_000, "matmul_fraction": frac}]
    return {
        "rows": rows,
        "train_compile_s": compile_s,
        "peak_memory": {"peak_gb": peak_gb},
        "scaling": scaling,
    }


@pytest.mark.parametrize(
    "args, met",
    [
        ((25.0, 3.0, 2.0, 1.0, 1.0, 0.6), [True, True, True, True, True, True]),
        ((19.0, 2.0, 2.6, 1.6, 1.6, 0.4), [False, False, False, False, False, False]),
    ],
)
def test_targets_compare_each_measurement_with_its_goal(args, met):
    assert [t["met"] for t in targets(_result(*args))] == met


def test_each_target_names_its_goal_once():
    checked = targets(_result(25.0, 3.0, 2.0, 1.0, 1.0, 0.6))
    assert [t["goal"] for t in checked] == [t.goal for t in TARGETS.values()]
    assert checked[0]["target"] == "train >= 20x the numpy loop"
    assert checked[1]["target"] == "sweep of 1024 >= 40x the numpy loop per model-step"


def test_a_target_not_measured_is_neither_met_nor_missed():
    result = _result(25.0, 3.0, 2.0, 1.0, None, 0.6)
    result["scaling"] = []
    met = {t["target"]: t["met"] for t in targets(result)}
    assert met["hidden 512 x n 30,000: fraction of matmul GFLOP/s"] is None
    assert met["peak memory, 1024-model 10,000-step sweep (GB)"] is None


def test_benchmark_command_writes_every_row_as_json(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert main(["--quick", "--repeats", "1", "--no-memory", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    names = [r["name"] for r in result["rows"]]
    assert names[0] == "funcmlp.train" and any(n.startswith("numpy") for n in names)
    numpy_row = next(r for r in result["rows"] if r["name"].startswith("numpy"))
    assert numpy_row["x_numpy"] == 1.0
    for r in result["rows"]:  # every row ran, or says why not
        assert (r["seconds"] is not None and r["seconds"] > 0) or r["note"]
    assert {t["target"] for t in result["targets"]} and "funcmlp.train" in capsys.readouterr().out


def test_benchmark_command_refuses_zero_repeats(capsys):
    assert main(["--repeats", "0", "--quick"]) == 2
    assert "repeats: expected a positive integer, got 0" in capsys.readouterr().err
