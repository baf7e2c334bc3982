"""Run docs/tutorial.md: its Python blocks in order in one namespace,
its ``funcmlp`` shell lines through the CLI."""

import re
import shlex
from pathlib import Path

import pytest

from funcmlp.cli.app import main

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks():
    text = TUTORIAL.read_text()
    return [
        (text[: m.start()].count("\n") + 1, m.group(1), m.group(2))
        for m in FENCE.finditer(text)
        if m.group(1) in ("python", "bash")
    ]


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
        for line, lang, code in BLOCKS:
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


@pytest.mark.parametrize(("line", "lang", "code"), BLOCKS, ids=[f"line{b[0]}" for b in BLOCKS])
def test_block_runs(session, line, lang, code):
    status, detail = session[line]
    if status == "fail":
        raise detail
