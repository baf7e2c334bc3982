"""The TensorBoard sink read back with TensorBoard's own reader: a train run's per-step losses, a history
equal to its metrics.csv, the chunk-boundary callbacks, figures, hyperparameters and bad input."""

import csv
import subprocess
import sys

import jax
import matplotlib
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp import tracking
from funcmlp.history import train_logged
from funcmlp.io import rundir

matplotlib.use("Agg")
STEPS, EVERY = 40, 10


@pytest.fixture(scope="module")
def data():
    x, y = funcmlp.data.spiral(jax.random.key(1), n_per_class=20)
    xv, yv = funcmlp.data.spiral(jax.random.key(2), n_per_class=10)
    return funcmlp.init_params(jax.random.key(0), (2, 8, 3)), x, y, xv, yv


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """A train run logged live at chunk boundaries (run "live") and its losses after (run "all")."""
    params, x, y, _, _ = data
    logdir, seen = tmp_path_factory.mktemp("tb"), []
    with tracking.TensorBoard(logdir) as sink:
        fn = tracking.train_callback(sink, run="live", then=lambda r: seen.append((r.step, r.loss)))
        result = funcmlp.train(params, x, y, optimizer=optax.sgd(0.5), steps=STEPS, chunk_size=7, callback=fn)
        tracking.log_losses(sink, result.losses, run="all")
    return result, seen, logdir


def as_float32(pairs):
    steps, values = zip(*pairs, strict=True)
    return list(steps), np.asarray(values, np.float32)


def test_every_step_loss_of_a_train_run(trained, read):
    result, _, logdir = trained
    steps, values = as_float32(read.scalars(logdir)["all"]["loss"])
    assert steps == list(range(STEPS))
    np.testing.assert_array_equal(values, np.asarray(result.losses, np.float32))


def test_train_callback_logs_each_chunk_last_loss(trained, read):
    result, seen, logdir = trained
    steps, values = as_float32(read.scalars(logdir)["live"]["loss"])
    assert [d for d, _ in seen] == [7, 14, 21, 28, 35, 40]
    assert steps == [d - 1 for d, _ in seen]
    np.testing.assert_array_equal(values, np.asarray(result.losses, np.float32)[np.array(steps)])


@pytest.fixture(scope="module")
def history_run(data, tmp_path_factory):
    """train_logged with a validation set: rows logged live (run "live"), its metrics.csv, and that file
    logged after (run "csv")."""
    params, x, y, xv, yv = data
    logdir, out = tmp_path_factory.mktemp("tb"), tmp_path_factory.mktemp("run")
    with tracking.TensorBoard(logdir) as sink:
        _, history = train_logged(
            params, x, y, optimizer=optax.sgd(0.5), steps=STEPS, log=funcmlp.Logging(every=EVERY),
            evaluate={"val": (xv, yv)}, on_log=tracking.history_callback(sink, run="live"),
        )  # fmt: skip
        rundir.write_history(out / "metrics.csv", history.columns)
        tracking.log_history(sink, rundir.read_history(out / "metrics.csv"), run="csv")
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return rows, logdir


@pytest.mark.parametrize("run", ["csv", "live"])
def test_history_equals_metrics_csv(history_run, read, run):
    rows, logdir = history_run
    logged = read.scalars(logdir)[run]
    assert (
        set(logged) == set(rows[0]) - {"step"} == {"train_loss", "train_accuracy", "val_loss", "val_accuracy"}
    )
    for tag, pairs in logged.items():
        steps, values = as_float32(pairs)
        assert steps == [int(r["step"]) for r in rows] == list(range(0, STEPS + 1, EVERY))
        np.testing.assert_array_equal(values, np.asarray([float(r[tag]) for r in rows], np.float32))


def test_per_step_metric_names_and_hparams(tmp_path, read):
    with tracking.TensorBoard(tmp_path) as sink:
        for t in range(3):
            sink.scalars(np.int64(t), {"grad_norm/layer0": 0.5 * t, "loss": np.float32(t)}, run="a/seed0")
        sink.hparams("a", {"learning_rate": 0.1, "sizes": (2, 8, 3), "activation": "relu", "nesterov": True},
                     {"final/val_accuracy": 0.75}, step=2)  # fmt: skip
    logged = read.scalars(tmp_path)
    assert logged["a/seed0"]["grad_norm/layer0"] == [(0, 0.0), (1, 0.5), (2, 1.0)]
    assert logged["a"]["final/val_accuracy"] == [(2, 0.75)]
    assert read.hparams(tmp_path) == {
        "a": {"learning_rate": 0.1, "sizes": "2-8-3", "activation": "relu", "nesterov": True}
    }
    assert read.experiment_metrics(tmp_path) == {"final/val_accuracy"}


def test_figures_of_a_run_directory(tmp_path, read):
    from matplotlib import pyplot as plt

    run = tmp_path / "run"
    run.mkdir()
    pixels = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    plt.imsave(run / "curves.png", pixels)
    (run / "notes.txt").write_text("not a figure")
    logdir = tmp_path / "tb"
    with tracking.TensorBoard(logdir) as sink:
        assert tracking.log_figures(sink, run, step=5) == ["figures/curves"]
        sink.image("grey", np.linspace(0, 1, 12).reshape(3, 4), run="arrays")
    mux = read.load(logdir)
    [event] = mux.Images(".", "figures/curves")
    assert (event.step, event.width, event.height) == (5, 6, 4)
    assert event.encoded_image_string == (run / "curves.png").read_bytes()
    [grey] = mux.Images("arrays", "grey")
    assert (grey.width, grey.height) == (4, 3)


def test_missing_tensorboardx_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r'pip install "funcmlp\[tensorboard\]"'):
        tracking.TensorBoard(tmp_path)


def test_import_funcmlp_loads_no_logger():
    code = "import sys, funcmlp; print(sorted(m for m in ('tensorboardX', 'wandb') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda s: s.scalars(-1, {"loss": 1.0}), "step: expected a non-negative integer"),
        (lambda s: s.scalars(0, {"loss": "low"}), r"values\['loss'\]: expected a real number"),
        (lambda s: s.scalars(0, {"loss": 1.0}, run="../up"), "run: expected None or a name"),
        (lambda s: s.hparams(None, {"lr": 0.1}, {}), "run: expected a name"),
        (lambda s: s.hparams("a", {}, {}), "hparams: expected a non-empty dict"),
        (lambda s: s.image("fig", np.zeros((2, 2, 2))), r"image: expected a PNG path or an \(H, W\)"),
        (lambda s: tracking.log_history(s, {"loss": [1.0]}), "columns: expected a dict with a 'step'"),
        (lambda s: tracking.log_history(s, {"step": [0, 1], "loss": [1.0]}), "columns: expected 1-D columns"),
        (lambda s: tracking.log_losses(s, np.zeros((2, 3))), r"losses: expected a \(steps,\) array"),
    ],
)
def test_bad_input_names_the_argument(tmp_path, call, match):
    with tracking.TensorBoard(tmp_path) as sink, pytest.raises((ValueError, TypeError), match=match):
        call(sink)


def test_image_file_must_be_png(tmp_path):
    (tmp_path / "a.png").write_text("text")
    with (
        tracking.TensorBoard(tmp_path / "tb") as sink,
        pytest.raises(ValueError, match="image: expected a PNG"),
    ):
        sink.image("fig", tmp_path / "a.png")


@pytest.mark.parametrize(
    "n, every, steps", [(7, 3, [0, 3, 6]), (6, 3, [0, 3, 5]), (1, 4, [0]), (3, 1, [0, 1, 2])]
)
def test_log_losses_every(tmp_path, read, n, every, steps):
    losses = np.linspace(2.0, 1.0, n)
    with tracking.TensorBoard(tmp_path) as sink:
        tracking.log_losses(sink, losses, start=10, run="r", every=every)
    logged = read.scalars(tmp_path)["r"]["loss"]
    assert logged == [(10 + t, pytest.approx(losses[t], rel=1e-6)) for t in steps]


def test_multi_writes_every_sink_and_callbacks_return_then(tmp_path, read):
    with tracking.Multi(tracking.TensorBoard(tmp_path / "a"), tracking.TensorBoard(tmp_path / "b")) as sink:
        report = funcmlp.Report(5, 10, 0.25)
        assert tracking.train_callback(sink, start=100, then=lambda r: r is report)(report) is True
        assert tracking.history_callback(sink, run="r")(3, {"val_loss": 0.5}) is None
    for d in ("a", "b"):
        assert read.scalars(tmp_path / d) == {".": {"loss": [(104, 0.25)]}, "r": {"val_loss": [(3, 0.5)]}}
    with pytest.raises(TypeError, match="sinks\\[1\\]: expected a sink"):
        tracking.Multi(tracking.TensorBoard(tmp_path / "c"), object())
