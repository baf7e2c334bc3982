"""Classification results from the command line: per-class precision, recall and F1, balanced accuracy and
the confusion matrix in metrics.json and confusion_matrix.png, ``--class-weight balanced``, and the warning
for labels that look continuous."""

import contextlib
import io
import json

import jax
import numpy as np
import pytest

import funcmlp
from funcmlp.cli.app import main
from funcmlp.io import runs

COUNTS = (60, 24, 12)  # imbalanced classes
# Both runs train the same 3-6-3 network with the same class weights (one compiled program).
COMMON = ["--class-weight", "balanced", "--hidden", "6", "--seeds", "1", "--steps", "200", "--quiet"]


def call(argv):
    """(exit code, stdout, stderr) of ``funcmlp ARGV`` run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def write(path, labels):
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0, 0], [1.5, 0, 1], [0, 1.5, -1]])
    x = np.concatenate([rng.normal(c, 0.9, size=(n, 3)) for c, n in zip(centres, COUNTS, strict=True)])
    y = np.repeat(labels, COUNTS)
    rows = "".join(f"{a:.4f},{b:.4f},{c:.4f},{t}\n" for (a, b, c), t in zip(x, y, strict=True))
    path.write_text("f1,f2,f3,kind\n" + rows)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classes")
    path = write(folder / "bugs.csv", ["ant", "bee", "cat"])
    out = folder / "run"
    code, stdout, stderr = call(["train", "--data", path, "--out", out, *COMMON])
    assert code == 0, stderr
    return path, out, stdout, stderr, json.loads((out / "metrics.json").read_text())


def reference_samples(path):
    from funcmlp.fitting import load_samples, run_keys

    return run_keys(0), load_samples(path, head="softmax")[0]


@pytest.mark.parametrize("split", ["validation", "test"])
def test_per_class_scores_and_confusion_matrix_match_the_saved_model(trained, split):
    path, out, stdout, stderr, metrics = trained
    assert stderr == ""  # word labels: no warning
    _, samples = reference_samples(path)
    raw = samples.prepared.raw
    x, y = (raw.x_val, raw.y_val) if split == "validation" else (raw.x_test, raw.y_test)
    truth = [("ant", "bee", "cat")[i] for i in y]
    pred = runs.load_model(out).predict(x)
    names = ["ant", "bee", "cat"]
    matrix = [
        [sum(t == a and p == b for t, p in zip(truth, pred, strict=True)) for b in names] for a in names
    ]
    assert metrics[f"{split}_confusion_matrix"] == matrix
    recalls = []
    for name in names:
        tp = sum(t == p == name for t, p in zip(truth, pred, strict=True))
        fp = sum(t != name and p == name for t, p in zip(truth, pred, strict=True))
        fn = sum(t == name and p != name for t, p in zip(truth, pred, strict=True))
        got = metrics[f"{split}_per_class"][name]
        assert got["precision"] == pytest.approx(tp / (tp + fp) if tp + fp else 0.0)
        assert got["recall"] == pytest.approx(tp / (tp + fn) if tp + fn else 0.0)
        assert got["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
        assert got["support"] == tp + fn
        if tp + fn:
            recalls.append(tp / (tp + fn))
    assert metrics[f"{split}_balanced_accuracy"] == pytest.approx(np.mean(recalls))
    assert metrics["classes"] == names
    balanced = metrics["test_balanced_accuracy"]
    assert f"test accuracy {metrics['test_accuracy']:.3f} (balanced {balanced:.3f})" in stdout
    assert (out / "confusion_matrix.png").stat().st_size > 0  # three features: no decision boundary
    assert not (out / "decision_boundary.png").exists()


def test_balanced_class_weights_weigh_the_training_loss(trained):
    path, out, _, _, metrics = trained
    keys, samples = reference_samples(path)
    x, y = (np.asarray(a) for a in samples.train)
    n_k = np.bincount(y, minlength=3)
    w = len(y) / (3 * n_k)  # n / (K n_k)
    init = funcmlp.init_params(jax.random.split(keys["init"], 1)[0], tuple(metrics["sizes"]))
    z = np.asarray(funcmlp.forward(init, x), np.float64)
    m = z.max(1, keepdims=True)
    ce = (m[:, 0] + np.log(np.exp(z - m).sum(1))) - z[np.arange(len(y)), y]
    first = runs.read_history(out / "metrics.csv")["train_loss"][0]  # the loss at step 0, as trained
    assert first == pytest.approx(np.mean(w[y] * ce), rel=1e-5)
    assert abs(np.mean(w[y] * ce) - np.mean(ce)) > 1e-3  # the weights change it


def test_continuous_labels_warn_in_one_line_and_the_run_goes_on(tmp_path):
    path = write(tmp_path / "levels.csv", ["0.5", "1.5", "2.5"])
    code, stdout, stderr = call(["train", "--data", path, "--out", tmp_path / "run", *COMMON])
    assert code == 0
    assert stderr.splitlines() == [
        "funcmlp: warning: data: the labels look like real-valued targets (numbers that are not whole, "
        "such as 0.5), read as 3 classes; for regression use head='linear' (--head linear)"
    ]
    assert "test accuracy" in stdout
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["classes"] == [0.5, 1.5, 2.5]


def test_sigmoid_head_needs_two_classes(trained, tmp_path):
    path = trained[0]
    code, _, stderr = call(["train", "--data", path, "--head", "sigmoid", "--out", tmp_path / "run"])
    assert code == 2 and not (tmp_path / "run").exists()
    assert stderr.strip() == (
        "funcmlp: error: --head: expected two classes for the sigmoid head (one output unit), got 3; "
        "use the softmax head"
    )
