"""A sweep in TensorBoard: every model's per-step loss and curves under "<configuration>/seed<j>", and the
hyperparameters of every configuration in the HParams plugin, read back with TensorBoard's reader."""

import jax
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp import tracking

HP = {"learning_rate": [0.1, 0.5], "momentum": [0.0, 0.9]}
SEEDS, STEPS, EVERY, CHUNK = 2, 12, 6, 3


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A 2 x 2 grid, 2 seeds, validation data, curves every 6 steps: chunk-boundary losses logged by the
    callback (logdir "live"), the whole result by log_sweep (logdir "after")."""
    x, y = funcmlp.data.spiral(jax.random.key(1), n_per_class=15)
    xv, yv = funcmlp.data.spiral(jax.random.key(2), n_per_class=8)
    root, seen = tmp_path_factory.mktemp("tb"), []
    groups = [((2, 6, 3), "relu")]
    with tracking.TensorBoard(root / "live") as sink:
        fn = tracking.sweep_callback(sink, axes=HP, seeds=SEEDS, groups=groups, then=seen.append)
        result = funcmlp.sweep(
            jax.random.key(0), x, y, sizes=(2, 6, 3), seeds=SEEDS, steps=STEPS, hyperparams=HP,
            optimizer=optax.sgd, evaluate={"val": (xv, yv)}, log=funcmlp.Logging(every=EVERY),
            chunk_size=CHUNK, callback=fn,
        )  # fmt: skip
    with tracking.TensorBoard(root / "after") as sink:
        tracking.log_sweep(sink, result)
    return result, seen, root


def runs_of(result):
    """(run name, index into the group's arrays, configuration name) for every model, built here by hand."""
    out = []
    for i, lr in enumerate(HP["learning_rate"]):
        for k, m in enumerate(HP["momentum"]):
            config = f"learning_rate={lr:g},momentum={m:g}"
            out += [(f"{config}/seed{j}", (i, k, j), config) for j in range(result.seeds)]
    return out


def test_every_models_loss_at_every_step(swept, read):
    result, _, root = swept
    logged = read.scalars(root / "after")
    losses = np.asarray(result.groups[0].losses, np.float32)
    for run, at, _ in runs_of(result):
        steps, values = zip(*logged[run]["loss"], strict=True)
        assert list(steps) == list(range(STEPS))
        np.testing.assert_array_equal(np.asarray(values, np.float32), losses[at])


def test_every_models_curves(swept, read):
    result, _, root = swept
    logged, history = read.scalars(root / "after"), result.groups[0].history
    for run, at, _ in runs_of(result):
        for tag in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
            steps, values = zip(*logged[run][tag], strict=True)
            assert list(steps) == [int(s) for s in history["step"]] == [0, 6, 12]
            np.testing.assert_array_equal(np.asarray(values, np.float32), np.float32(history[tag][at]))


def test_hparams_of_every_configuration(swept, read):
    result, _, root = swept
    found = read.hparams(root / "after")
    metrics = {k: np.asarray(v, np.float64) for k, v in result.groups[0].metrics.items()}
    logged = read.scalars(root / "after")
    assert len(found) == 4
    for _, (i, k, _), config in runs_of(result):
        assert found[config] == {
            "sizes": "2-6-3", "activation": "relu", "learning_rate": HP["learning_rate"][i],
            "momentum": HP["momentum"][k], "l2": 0.0,
        }  # fmt: skip
        for name in ("train_loss", "val_accuracy"):
            [(step, value)] = logged[config][f"final/{name}"]
            assert step == STEPS
            np.testing.assert_allclose(value, metrics[name][i, k].mean(), rtol=1e-6)
    assert {"final/val_accuracy", "final/val_loss", "final/diverged"} <= read.experiment_metrics(
        root / "after"
    )


def test_callback_logs_every_models_loss_at_chunk_ends(swept, read):
    result, seen, root = swept
    logged = read.scalars(root / "live")
    losses = np.asarray(result.groups[0].losses, np.float32)
    ends = [report.step - 1 for report in seen]
    assert ends == list(range(CHUNK - 1, STEPS, CHUNK))
    for run, at, _ in runs_of(result):
        steps, values = zip(*logged[run]["loss"], strict=True)
        assert list(steps) == ends
        np.testing.assert_array_equal(np.asarray(values, np.float32), losses[at][ends])


def test_names_of_several_groups():
    groups = [((2, 4, 3), "relu"), ((2, 4, 3), "tanh"), ((2, 8, 3), "relu"), ((2, 8, 3), "tanh")]
    names = tracking.seed_runs({"l2": [0.0, 1e-5]}, 2, groups)
    assert names[3][1, 0] == "sizes=2-8-3,activation=tanh,l2=1e-05/seed0"
    assert tracking.config_names({}, [((2, 4, 3), "relu")])[0][()] == "sizes=2-4-3,activation=relu"
    assert tracking.config_names({"momentum": [0.9]}, groups[:2])[1][0] == "activation=tanh,momentum=0.9"


def test_hparams_dashboard_lists_one_row_per_configuration(swept):
    """TensorBoard's own HParams backend, as its dashboard queries it: one session group per configuration,
    with its hyperparameters and the final metrics averaged over seeds."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups

    result, _, root = swept
    logdir = str(root / "after")
    mux = plugin_event_multiplexer.EventMultiplexer().AddRunsFromDirectory(logdir)
    mux.Reload()
    provider = data_provider.MultiplexerDataProvider(mux, logdir)
    backend = backend_context.Context(
        base_plugin.TBContext(logdir=logdir, multiplexer=mux, data_provider=provider)
    )
    request = api_pb2.ListSessionGroupsRequest(
        start_index=0, slice_size=100, allowed_statuses=[api_pb2.STATUS_SUCCESS],
        col_params=[api_pb2.ColParams(metric=api_pb2.MetricName(tag="final/val_accuracy"))],
    )  # fmt: skip
    groups = list_session_groups.Handler(context.RequestContext(), backend, "", request).run().session_groups
    val_accuracy = np.asarray(result.groups[0].metrics["val_accuracy"], np.float64)
    rows = {g.name: g for g in groups}
    assert len(rows) == 4
    for _, (i, k, _), config in runs_of(result):
        hp = rows[config].hparams
        assert (hp["learning_rate"].number_value, hp["momentum"].number_value) == (
            HP["learning_rate"][i], HP["momentum"][k],
        )  # fmt: skip
        [metric] = [m for m in rows[config].metric_values if m.name.tag == "final/val_accuracy"]
        np.testing.assert_allclose(metric.value, val_accuracy[i, k].mean(), rtol=1e-6)
