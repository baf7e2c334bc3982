import json
import subprocess
import sys

from funcmlp.cli import main


def test_train_writes_every_file(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--steps", "200", "--out", str(out)]) == 0
    for name in ["config.json", "metrics.json", "params.safetensors", "decision_boundary.png", "loss.png"]:
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    for field in ["train_accuracy", "test_accuracy", "final_loss", "seconds"]:
        assert isinstance(metrics[field], float)
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert json.loads((out / "config.json").read_text())["steps"] == 200


def test_console_entry_point_reports_bad_input_in_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "funcmlp", "train", "--steps", "0", "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["funcmlp: error: --steps: expected a positive integer, got 0"]
