"""--tensorboard on the command line: the event files hold the chosen model's metrics.csv, every model's
loss at each chunk's end as saved in sweep.safetensors, and every configuration's hyperparameters."""

import numpy as np
import pytest

import funcmlp
from funcmlp.cli.app import main


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tb")
    out, logdir = folder / "run", folder / "events"
    argv = ["sweep", "--learning-rates", "0.01", "0.1", "--widths", "3", "--seeds", "2", "--steps", "60"]
    argv += ["--n-per-class", "20", "--quiet", "--out", str(out), "--tensorboard", str(logdir)]
    assert main(argv) == 0
    return out, logdir


def test_the_chosen_models_curves_equal_metrics_csv(swept, read):
    out, logdir = swept
    csv = funcmlp.runs.read_history(out / "metrics.csv")
    chosen = read.scalars(logdir)["chosen"]
    for name in ("train_loss", "val_loss", "val_accuracy", "test_loss"):
        steps, values = zip(*chosen[name], strict=True)
        assert list(steps) == list(csv["step"].astype(int))
        np.testing.assert_allclose(values, csv[name], rtol=1e-6)


def test_every_models_chunk_losses_and_every_configurations_hparams(swept, read):
    out, logdir = swept
    result = funcmlp.load_sweep(out / "sweep.safetensors")
    losses = np.asarray(result.groups[0].losses)  # (learning rates, seeds, steps)
    runs = read.scalars(logdir)
    for i, lr in enumerate((0.01, 0.1)):
        for j in range(2):
            logged = runs[f"learning_rate={lr:g}/seed{j}"]["loss"]
            assert logged, (lr, j)
            for step, value in logged:
                np.testing.assert_allclose(value, losses[i, j, step], rtol=1e-6)
    hp = read.hparams(logdir)
    assert sorted(v["learning_rate"] for v in hp.values() if "learning_rate" in v) == pytest.approx(
        [0.01, 0.1]
    )


def test_a_missing_extra_is_one_line(tmp_path, capsys, monkeypatch):
    from funcmlp import tracking

    def missing(logdir):
        raise ImportError('TensorBoard: needs tensorboardX; pip install "funcmlp[tensorboard]"')

    monkeypatch.setattr(tracking, "TensorBoard", missing)
    argv = ["train", "--steps", "5", "--seeds", "1", "--quiet", "--out", str(tmp_path / "r")]
    assert main([*argv, "--tensorboard", str(tmp_path / "tb")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("funcmlp: error: --tensorboard: ") and "funcmlp[tensorboard]" in line
    assert not (tmp_path / "r").exists()
