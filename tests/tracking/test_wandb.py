"""The W&B sink in offline mode: its run file holds every logged value, the hyperparameters and the
figure, read back record by record (the file's framing read here, each record parsed with W&B's protobuf)."""

import json
import sys

import numpy as np
import pytest

from funcmlp import tracking

wandb = pytest.importorskip("wandb")
wandb_pb = pytest.importorskip("wandb.proto.wandb_internal_pb2")

BLOCK, HEADER = 32768, 7  # the run file: 32 KiB blocks of records, each after a 7-byte header


def records(path):
    """The protobuf ``Record``s of a ``.wandb`` file: a 7-byte file header, then records framed as
    (crc32c: 4, length: 2 little-endian, type: 1; full=1, first=2, middle=3, last=4), never across blocks."""
    data, pos, buf = path.read_bytes(), HEADER, b""
    assert data[:4] == b":W&B"
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:
            pos += left
            continue
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        buf = chunk if kind in (1, 2) else buf + chunk
        if kind in (1, 4):
            record = wandb_pb.Record()
            record.ParseFromString(buf)
            yield record


def items(update):
    return {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in update}


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    """One offline W&B run: a loss curve, a history, a configuration's hyperparameters and a figure."""
    tmp_path = tmp_path_factory.mktemp("wandb")
    losses = np.array([1.5, 1.25, 0.75], np.float32)
    columns = {"step": np.array([0.0, 2.0]), "val_loss": np.array([1.4, 0.8]), "val_accuracy": [0.25, 0.5]}
    png = tmp_path / "curves.png"
    from matplotlib import pyplot as plt

    plt.imsave(png, np.zeros((3, 5, 3), np.uint8))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WANDB_SILENT", "true")
        with tracking.WandB("funcmlp-tests", dir=tmp_path / "wb", name="t") as sink:
            tracking.log_losses(sink, losses, run="lr=0.1/seed0")
            tracking.log_history(sink, columns, run="lr=0.1/seed0")
            sink.hparams("lr=0.1", {"learning_rate": 0.1, "sizes": (2, 4, 3)}, {"final/val_accuracy": 0.5})
            sink.image("figures/curves", png, step=2)
        wandb.teardown()  # the offline run file is complete once W&B's service has stopped
    [run_file] = (tmp_path / "wb" / "wandb").glob("offline-run-*/run-*.wandb")
    return run_file, losses, columns


def test_offline_run_holds_every_value(offline):
    run_file, losses, columns = offline
    history = [items(r.history.item) for r in records(run_file) if r.WhichOneof("record_type") == "history"]
    rows = [h for h in history if "lr=0.1/seed0/step" in h]
    loss_rows = [(h["lr=0.1/seed0/step"], h["lr=0.1/seed0/loss"]) for h in rows if "lr=0.1/seed0/loss" in h]
    assert loss_rows == [(t, float(v)) for t, v in enumerate(losses)]
    val = [(h["lr=0.1/seed0/step"], h["lr=0.1/seed0/val_loss"], h["lr=0.1/seed0/val_accuracy"]) for h in rows
           if "lr=0.1/seed0/val_loss" in h]  # fmt: skip
    assert val == list(zip([0, 2], columns["val_loss"].tolist(), columns["val_accuracy"], strict=True))
    [figure] = [h for h in history if "figures/curves/_type" in h]  # an image is a nested value
    assert figure["step"] == 2 and figure["figures/curves/_type"] == "image-file"
    [table] = [h for h in history if "hparams/_type" in h]
    assert table["hparams/_type"] == "table-file" and table["hparams/nrows"] == 1


def test_offline_run_holds_hparams_and_files(offline):
    run_file, _, _ = offline
    config, summary = {}, {}
    for r in records(run_file):
        kind = r.WhichOneof("record_type")
        if kind == "config":
            config |= items(r.config.update)
        elif kind == "summary":
            summary |= items(r.summary.update)
    assert config["lr=0.1"] == {"learning_rate": 0.1, "sizes": "2-4-3"}
    assert summary["lr=0.1/final/val_accuracy"] == 0.5
    assert list(run_file.parent.glob("files/media/images/figures/curves_*.png"))


def test_metric_names_with_dots_get_their_step_axis(offline):
    run_file, _, _ = offline
    kinds = [(r.WhichOneof("record_type"), r) for r in records(run_file)]
    step_of = {r.metric.name: r.metric.step_metric for k, r in kinds if k == "metric"}
    assert step_of["lr=0\\.1/seed0/loss"] == "lr=0\\.1/seed0/step"
    keys = {tuple(i.nested_key) or (i.key,) for k, r in kinds if k == "history" for i in r.history.item}
    assert ("lr=0.1/seed0/step",) in keys and not any(k[0] == "lr=0" for k in keys)


def test_missing_wandb_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(ImportError, match=r'pip install "funcmlp\[wandb\]"'):
        tracking.WandB("p", dir=tmp_path)
