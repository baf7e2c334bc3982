"""The benchmark matrix: its plain-JAX baselines train the same way as funcmlp, and its result has every cell.

No timing is asserted: the runs are a few steps (the cells' quick mode) and only what they compute, and the
shape of the result, are checked.
"""

import dataclasses
import io
import json

import jax
import numpy as np
import pytest
from rich.console import Console

import funcmlp
from benchmarks import cells, first_call, matrix, report, timing
from benchmarks.plain import plain_train
from benchmarks.run import main
from funcmlp.engine import batches

NAMES = [
    "2-4-3 train",
    "2-4-3 sweep x1024",
    "2-4-3 sweep x16384",
    "2-64-64-3 full batch",
    "784-512-512-10 batch 128",
    "784-512-512-10 full batch",
    "20-32-2 batch 32",
    "2-16-3 sgd x72",
    "2-4-3 adam x72",
    "2-16-3 sgd x100",
    "2-4-3 adam x100",
    "2-16-3 sgd x1000",
    "2-4-3 adam x1000",
    "residual own x48",
    "2-16-3 focal x slope x72",
]


def test_the_matrix_has_its_cells():
    assert [c.name for c in cells.CELLS] == NAMES
    assert [c.models for c in cells.CELLS] == [1, 1024, 16384, 1, 1, 1, 1] + [
        72,
        72,
        100,
        100,
        1000,
        1000,
        48,
        72,
    ]
    assert [c.batch_size for c in cells.CELLS][:7] == [None, None, None, None, 128, None, 32]
    assert [c.optimizer for c in cells.CELLS][7:13] == ["sgd", "adam"] * 3
    assert [c.kind for c in cells.CELLS][13:] == ["custom model", "config axis"]
    assert all(c.quick_steps <= c.steps for c in cells.CELLS)


def test_a_mini_batch_cell_needs_whole_epochs_and_names_must_exist():
    with pytest.raises(ValueError, match="not whole epochs of 16 batches"):
        cells.Cell("bad", (784, 10), "synthetic", 2048, 0.1, 100, 16, batch_size=128)
    with pytest.raises(ValueError, match="expected one of"):
        cells.cell("2-4-3 trian")


def _fake_runs(c, steps, torch_steps=None):
    """Instant stand-ins for a cell's runs: the matrix's bookkeeping without any training."""
    losses = np.ones((c.models, steps) if c.models > 1 else (steps,), np.float32)
    randint = None if c.batch_size is None else (lambda: losses)
    return matrix.Runs(lambda: losses, lambda: losses, None, lambda which, out: out, randint)


def _fake_first_calls(cell, repeats, steps=2000):
    keys = [f"{w}_{k}" for w in first_call.WHO for k in ("first_call_s", "warm_s", "compile_s")]
    fixed = {
        "cell": cell,
        "steps": steps,
        "repeats": repeats,
        "compile_ratio": 1.0,
        "engine_compile_ratio": 1.0,
    }
    return fixed | dict.fromkeys(keys, 1.0)


def test_result_has_every_cell_with_ratio_funcmlp_over_plain_and_is_json(monkeypatch, tmp_path):
    monkeypatch.setattr(matrix, "runs", _fake_runs)
    monkeypatch.setattr(first_call, "measure", _fake_first_calls)
    result = matrix.run_matrix(quick=True, repeats=2)
    assert [r["name"] for r in result["cells"]] == NAMES
    assert result["backend"] == jax.default_backend() and result["jax"] == jax.__version__
    for r, c in zip(result["cells"], cells.CELLS, strict=True):
        assert r["ratio"] == pytest.approx(r["funcmlp_s"] / r["plain_s"])
        assert r["per"] == ("model-step" if c.models > 1 else "step") and r["steps"] == c.quick_steps
        assert r["funcmlp_s"] > 0 and r["plain_s"] > 0 and r["torch_s"] is None
        assert ("sweep_fixed_s" in r) is (c.models > 1)
        assert ("ratio_randint" in r) is (c.batch_size is not None)
    assert result["cells"][8]["groups"] == [36, 2, 0]  # 72 models on one CPU device: 2 groups of 36
    assert set(result["compile"]) >= {"funcmlp_first_call_s", "funcmlp_compile_s", "plain_first_call_s"}
    timing.save(result, tmp_path / "m.json")
    assert json.loads((tmp_path / "m.json").read_text())["cells"][0]["name"] == "2-4-3 train"
    text = io.StringIO()
    for table in report.matrix_tables(result):
        Console(file=text, width=120).print(table)
    assert all(name in text.getvalue() for name in NAMES)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--matrix", "--cells", "2-4-3"], "--cells: expected names from"),
        (["--cells", "2-4-3 train"], "--cells: expected only with --matrix"),
    ],
)
def test_matrix_command_refuses_unknown_cells(args, message, capsys):
    assert main(["--quick", *args]) == 2
    assert message in capsys.readouterr().err


def _trajectories(c: cells.Cell):
    r = matrix.runs(c, c.quick_steps)
    return r.losses("funcmlp", r.funcmlp()), r.losses("plain", r.plain())


@pytest.mark.parametrize("name", ["2-4-3 train", "2-64-64-3 full batch"])
def test_plain_baseline_has_funcmlps_loss_trajectory(name):
    """Both do full-batch SGD on the same loss from the same start: the same losses up to float32 rounding
    (funcmlp may use its registered derivative, the baseline autodiff)."""
    fm, plain = _trajectories(cells.cell(name))
    assert fm.shape == plain.shape == (cells.cell(name).quick_steps,)
    np.testing.assert_allclose(fm, plain, rtol=1e-4)
    assert fm[-1] < fm[0]


def test_plain_vmapped_baseline_has_every_sweep_models_loss_trajectory():
    """jit(vmap(scan)) from the stacked init_params(split(key, models)[j]) is model j of funcmlp.sweep."""
    c = dataclasses.replace(cells.cell("2-4-3 sweep x1024"), models=6)
    fm, plain = _trajectories(c)
    assert fm.shape == plain.shape == (6, c.quick_steps)
    np.testing.assert_allclose(fm, plain, rtol=1e-4)
    assert len({float(v) for v in fm[:, 0]}) == 6  # six different initialisations


def test_mini_batch_baseline_sees_the_same_samples_per_step():
    """With n a multiple of the batch size and funcmlp's epoch order (``batches.shuffle``) both draw epoch
    e's order from fold_in(key, e) and cut it the same way, so they see the same samples at every step (not
    required of the baseline, which uses jax.random.permutation and only has to see as many samples per
    step, but a check of its x[idx] batches)."""
    c = dataclasses.replace(cells.cell("20-32-2 batch 32"), n=320, quick_steps=20)
    fm = matrix.runs(c, c.quick_steps)
    x, y = cells.make_data(c)
    out = plain_train(
        cells.initial_params(c),
        x,
        y,
        jax.random.key(cells.BATCH_SEED),
        lr=c.lr,
        steps=c.quick_steps,
        batch_size=c.batch_size,
        permutation=batches.shuffle,
    )
    np.testing.assert_allclose(fm.losses("funcmlp", fm.funcmlp()), out[1], rtol=1e-4)


def test_randint_baseline_samples_with_replacement_and_trains():
    """The randint rule: step t's batch is randint(fold_in(key, t), (B,), 0, n); its losses are the plain
    loss of those rows."""
    c = dataclasses.replace(cells.cell("20-32-2 batch 32"), n=320, quick_steps=20)
    x, y = cells.make_data(c)
    params, key = cells.initial_params(c), jax.random.key(cells.BATCH_SEED)
    _, losses = plain_train(params, x, y, key, lr=c.lr, steps=3, batch_size=32, sampling="randint")
    idx = jax.random.randint(jax.random.fold_in(key, 0), (32,), 0, 320)
    assert float(losses[0]) == pytest.approx(float(funcmlp.loss(params, x[idx], y[idx])), rel=1e-5)


def test_matrix_command_times_a_cell_and_writes_json(tmp_path, capsys):
    """After the trajectory tests, so that the cell's programs are compiled already."""
    out, name = tmp_path / "matrix.json", "2-64-64-3 full batch"
    args = ["--matrix", "--quick", "--repeats", "1", "--cells", name, "--out", str(out)]
    assert main(args) == 0
    result = json.loads(out.read_text())
    (row,) = result["cells"]
    assert row["name"] == name and row["funcmlp_s"] > 0 and row["plain_s"] > 0
    assert row["ratio"] == pytest.approx(row["funcmlp_s"] / row["plain_s"])
    assert set(row["plan"]) == {"registered", "sums", "group"}
    assert row["funcmlp_final_loss"] == pytest.approx(row["plain_final_loss"], rel=1e-4)
    printed = capsys.readouterr().out
    assert "funcmlp vs plain JAX" in printed and name in printed


def test_the_config_cell_trains_the_same_models_on_both_sides():
    """A cell from benchmarks.models through the matrix's runs: funcmlp.sweep with config= on one device
    and the plain vmapped loop give every model's losses, (models, steps), equal up to float32 rounding
    (tests/benchmarks/test_models_bench.py checks both of those cells' two sides at tiny sizes)."""
    c = cells.cell("2-16-3 focal x slope x72")
    fm, plain = _trajectories(dataclasses.replace(c, quick_steps=2))
    assert fm.shape == plain.shape == (c.models, 2)
    np.testing.assert_allclose(fm, plain, rtol=1e-5)
