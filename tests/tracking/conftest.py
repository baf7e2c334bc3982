"""Readers of what the sinks wrote, independent of funcmlp: TensorBoard's own event multiplexer and
HParams metadata parser."""

from collections import defaultdict
from types import SimpleNamespace

import pytest

pytest.importorskip("tensorboardX")
event_multiplexer = pytest.importorskip("tensorboard.backend.event_processing.event_multiplexer")
hparams_metadata = pytest.importorskip("tensorboard.plugins.hparams.metadata")


def load(logdir):
    """TensorBoard's view of ``logdir``: every run found under it, loaded."""
    mux = event_multiplexer.EventMultiplexer().AddRunsFromDirectory(str(logdir))
    mux.Reload()
    return mux


def scalars(logdir) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """run -> tag -> [(step, value), ...] in the order written (run "." is logdir itself)."""
    mux = load(logdir)
    out: dict[str, dict[str, list]] = defaultdict(dict)
    for run, tags in mux.Runs().items():
        for tag in tags["scalars"]:
            out[run][tag] = [(e.step, e.value) for e in mux.Scalars(run, tag)]
    return dict(out)


def hparams(logdir) -> dict[str, dict]:
    """run -> its hyperparameters as the HParams plugin parses them (name -> number, text or bool)."""
    content = load(logdir).PluginRunToTagToContent(hparams_metadata.PLUGIN_NAME)
    out = {}
    for run, tags in content.items():
        if hparams_metadata.SESSION_START_INFO_TAG in tags:
            info = hparams_metadata.parse_session_start_info_plugin_data(
                tags[hparams_metadata.SESSION_START_INFO_TAG]
            )
            out[run] = {k: getattr(v, v.WhichOneof("kind")) for k, v in info.hparams.items()}
    return out


def experiment_metrics(logdir) -> set[str]:
    """The metric tags the HParams experiment summary names (the table's metric columns)."""
    content = load(logdir).PluginRunToTagToContent(hparams_metadata.PLUGIN_NAME)
    for tags in content.values():
        if hparams_metadata.EXPERIMENT_TAG in tags:
            exp = hparams_metadata.parse_experiment_plugin_data(tags[hparams_metadata.EXPERIMENT_TAG])
            return {m.name.tag for m in exp.metric_infos}
    return set()


@pytest.fixture
def read():
    """The readers, as ``read.scalars(dir)``, ``read.hparams(dir)``, ``read.experiment_metrics(dir)``."""

    return SimpleNamespace(scalars=scalars, hparams=hparams, experiment_metrics=experiment_metrics, load=load)
