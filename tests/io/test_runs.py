import csv
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcmlp
from funcmlp.io import datafile, runs


def test_create_timestamped_runs_never_collide(tmp_path):
    a = runs.create(root=tmp_path)
    b = runs.create(root=tmp_path)
    assert a != b and a.is_dir() and b.is_dir()
    assert a.parent == b.parent == tmp_path


def test_create_named_run_refuses_to_overwrite(tmp_path):
    path = runs.create("iris", root=tmp_path)
    assert path == tmp_path / "iris"
    (path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="name: expected a new run name, but .* already holds a run") as e:
        runs.create("iris", root=tmp_path)
    assert "pass overwrite=True" in str(e.value) and "--" not in str(e.value)


@pytest.mark.parametrize("name", ["a/b", "..", ""])
def test_create_rejects_paths_as_names(tmp_path, name):
    with pytest.raises(ValueError, match="name: expected a plain folder name"):
        runs.create(name, root=tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_create_reports_an_unwritable_directory(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(ValueError, match="out: expected a writable directory"):
        runs.create(out=locked / "run")


def test_history_round_trip(tmp_path):
    cols = {
        "step": np.array([0.0, 10.0, 20.0]),  # as in a History: whole numbers are written without ".0"
        "train_loss": np.array([1.0986, 0.5, np.nan]),
        "val_accuracy": [0.25, 0.5, 1 / 3],
    }
    runs.write_history(tmp_path / "m.csv", cols)
    with open(tmp_path / "m.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["step", "train_loss", "val_accuracy"]
    assert [r[0] for r in rows[1:]] == ["0", "10", "20"]
    back = runs.read_history(tmp_path / "m.csv")
    for k, v in cols.items():
        np.testing.assert_array_equal(back[k], np.asarray(v, np.float64))
    with pytest.raises(ValueError, match="columns: expected 1-D columns of one length"):
        runs.write_history(tmp_path / "bad.csv", {"a": [1, 2], "b": [1]})


def test_write_json_makes_values_plain(tmp_path):
    runs.write_json(
        tmp_path / "m.json", {"loss": float("nan"), "acc": np.float32(0.5), "sizes": (2, 4), "out": tmp_path}
    )
    assert json.loads((tmp_path / "m.json").read_text()) == {
        "loss": None,
        "acc": 0.5,
        "sizes": [2, 4],
        "out": str(tmp_path),
    }


@pytest.mark.parametrize("head", ["softmax", "sigmoid"])
def test_model_round_trip_predicts_from_raw_rows(tmp_path, head):
    k = 3 if head == "softmax" else 1
    params = funcmlp.init_params(jax.random.key(0), (2, 5, k))
    x = np.random.default_rng(0).normal(10.0, 4.0, size=(30, 2)).astype(np.float32)
    st = datafile.standardizer(x)
    classes = ("ant", "bee", "cat")[: max(k, 2)]
    runs.save_model(
        tmp_path,
        params,
        activation="tanh",
        head=head,
        standardizer=st,
        classes=classes,
        feature_names=("u", "v"),
    )
    model = runs.load_model(tmp_path)
    assert model.feature_names == ("u", "v") and model.classes == classes and model.n_features == 2
    xs = (x - x.mean(0)) / x.std(0)  # independent standardisation in numpy
    z = np.tanh(xs @ np.asarray(params[0]["w"]) + np.asarray(params[0]["b"])) @ np.asarray(
        params[1]["w"]
    ) + np.asarray(params[1]["b"])
    idx = z.argmax(1) if head == "softmax" else (z[:, 0] > 0).astype(int)
    assert model.predict(x) == [classes[i] for i in idx]
    p = model.probabilities(x)
    expected = (
        np.exp(z) / np.exp(z).sum(1, keepdims=True)
        if head == "softmax"
        else np.stack([1 / (1 + np.exp(z[:, 0])), 1 / (1 + np.exp(-z[:, 0]))], 1)
    )
    np.testing.assert_allclose(p, expected, rtol=1e-4, atol=1e-6)


def test_load_model_without_a_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="run_dir: expected a run directory holding params.safetensors"):
        runs.load_model(tmp_path)


def test_load_model_of_a_plain_checkpoint_uses_its_config(tmp_path):
    params = funcmlp.init_params(jax.random.key(0), (2, 4, 3))
    funcmlp.save(tmp_path / "params.safetensors", params, config={"activation": "sigmoid"})
    model = runs.load_model(tmp_path)
    assert model.activation == "sigmoid" and model.head == "softmax" and model.classes is None
    x = jnp.array([[0.3, -0.2], [1.0, 2.0]])
    assert model.predict(x) == funcmlp.predict(params, x, activation="sigmoid").tolist()


def test_show_summarises_the_files(tmp_path):
    runs.write_json(tmp_path / "config.json", {"activation": "relu", "lr": 0.5, "steps": 20})
    runs.write_json(tmp_path / "metrics.json", {"test_accuracy": 0.875, "sizes": [2, 4, 3]})
    runs.write_history(
        tmp_path / "metrics.csv",
        {"step": [0, 10, 20], "train_loss": [1.1, 0.4, 0.6], "val_accuracy": [0.3, 0.9, 0.8]},
    )
    (tmp_path / "loss.png").write_bytes(b"png")
    text = runs.show(tmp_path)
    assert "lr               0.5" in text
    assert "test_accuracy    0.875" in text
    assert "sizes            2-4-3" in text
    assert "history: 3 logged steps, 0 to 20" in text
    assert "train_loss       first 1.1, last 0.6, lowest 0.4 at step 10" in text
    assert "val_accuracy     first 0.3, last 0.8, highest 0.9 at step 10" in text
    assert "files: config.json, loss.png, metrics.csv, metrics.json" in text


def test_show_rejects_a_folder_without_a_run(tmp_path):
    with pytest.raises(ValueError, match="run_dir: expected a run directory"):
        runs.show(tmp_path)
