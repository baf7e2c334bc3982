"""Files are written with the permissions ``open()`` would give them: 0666 less the umask (a new file), or
those of the file they replace."""

import contextlib
import os
import stat

import pytest

from funcmlp.cli.app import main
from funcmlp.io.checkpoint_file import atomic_write_bytes


@contextlib.contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002, 0o000])
def test_a_new_file_gets_0666_less_the_umask(tmp_path, mask):
    with umask(mask):
        atomic_write_bytes(tmp_path / "a.json", b"{}")
    assert mode(tmp_path / "a.json") == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temporary file left behind


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "a.json"
    path.write_bytes(b"old")
    path.chmod(0o640)
    with umask(0o022):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new" and mode(path) == 0o640


SWEEP = ["sweep", "--learning-rates", "0.1", "--widths", "3", "--seeds", "2"]
TRAIN = ["train", "--seeds", "1"]


@pytest.mark.parametrize(("mask", "command"), [(0o022, SWEEP), (0o077, TRAIN)])
def test_every_file_of_a_run_directory_follows_the_umask(tmp_path, mask, command):
    out = tmp_path / "run"
    with umask(mask):
        assert main([*command, "--n-per-class", "10", "--steps", "20", "--quiet", "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {
        "config.json",
        "metrics.json",
        "metrics.csv",
        "params.safetensors",
        "learning_curves.png",
    } <= names
    assert command == TRAIN or {"sweep.safetensors", "models.csv", "heatmap.png"} <= names
    assert {p.name: oct(mode(p)) for p in out.iterdir()} == {name: oct(0o666 & ~mask) for name in names}
    assert mode(out) == 0o777 & ~mask
