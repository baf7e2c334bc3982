"""Run docs/tutorial.md: its Python blocks in order in one namespace, its ``funcmlp`` shell lines through the CLI.

A block whose info string says ``requires=a.b.c`` is skipped (and reported as skipped) only while that
attribute does not exist; every other block must run.
"""

import importlib
import re
import shlex
from pathlib import Path

import pytest

from funcmlp.cli import main

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.S | re.M)


def blocks():
    out = []
    for m in FENCE.finditer(TUTORIAL.read_text()):
        lang, info, code = m.group(1), m.group(2), m.group(3)
        if lang not in ("python", "bash"):
            continue
        req = re.search(r"requires=(\S+)", info)
        line = TUTORIAL.read_text()[: m.start()].count("\n") + 1
        out.append((line, lang, req.group(1) if req else None, code))
    return out


def available(dotted: str | None) -> bool:
    if dotted is None:
        return True
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


BLOCKS = blocks()


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """Execute every block once, in order, in a scratch folder; record each block's outcome."""
    import os

    folder = tmp_path_factory.mktemp("tutorial")
    outcomes, namespace = {}, {"__name__": "tutorial"}
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        for line, lang, req, code in BLOCKS:
            if not available(req):
                outcomes[line] = ("skip", f"{req} does not exist yet")
                continue
            try:
                if lang == "python":
                    exec(compile(code, f"{TUTORIAL}:{line}", "exec"), namespace)
                else:
                    for cmd in code.splitlines():
                        if cmd.strip():
                            argv = shlex.split(cmd)
                            assert argv[0] == "funcmlp", cmd
                            assert main(argv[1:]) == 0, cmd
                outcomes[line] = ("ok", None)
            except (Exception, SystemExit) as e:  # recorded, reported by the block's own test
                outcomes[line] = ("fail", e)
    finally:
        os.chdir(cwd)
    return outcomes


def test_the_tutorial_has_the_lecture_sections():
    text = TUTORIAL.read_text()
    for title in [
        "A neuron",
        "Activations",
        "perceptron",
        "logistic unit",
        "2-4-3",
        "Backpropagation by hand",
        "sweep",
    ]:
        assert title in text, title
    assert len([b for b in BLOCKS if b[1] == "python"]) >= 10


@pytest.mark.parametrize(("line", "lang", "req", "code"), BLOCKS, ids=[f"line{b[0]}" for b in BLOCKS])
def test_block_runs(session, line, lang, req, code):
    status, detail = session[line]
    if status == "skip":
        pytest.skip(detail)
    if status == "fail":
        raise detail
