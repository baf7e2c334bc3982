"""SIGINT and SIGTERM during a run: acted on between short chunks, one line on stderr, exit code 130, and
the run directory keeps config.json, the metrics so far and the last finite parameters."""

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp import chunking
from funcmlp.cli import interrupt
from funcmlp.cli.app import main
from funcmlp.cli.options import SweepConfig
from funcmlp.cli.sweep import resumed_config
from funcmlp.history import train_logged

# The first progress line must come within 2 s of the start of training; a loaded test machine compiles
# slowly, so the check allows 2 s + 4 s (the line states the seconds since training began).
FIRST_PROGRESS_S = 2.0 + 4.0


def test_catch_turns_signals_into_a_flag_and_restores_the_handlers(capsys):
    before = {s: signal.getsignal(s) for s in interrupt.SIGNALS}
    seen = []
    with interrupt.catch():
        check = interrupt.stopping(seen.append)
        one, two = funcmlp.Report(1, 2, 0.5), funcmlp.Report(2, 2, 0.25)
        assert not interrupt.requested() and check(one) is False
        signal.raise_signal(signal.SIGTERM)
        assert interrupt.requested() and interrupt.signal_name() == "SIGTERM"
        assert check(two) is True and seen == [one, two]
        assert interrupt.outcome(0) == 130  # a signal no loop acted on still ends the command with 130
        assert (
            capsys.readouterr().err == "funcmlp: interrupted by SIGTERM after training; the run is complete\n"
        )
        with pytest.raises(KeyboardInterrupt):  # asked twice: at once
            signal.raise_signal(signal.SIGINT)
    assert not interrupt.requested()
    assert {s: signal.getsignal(s) for s in interrupt.SIGNALS} == before


def test_a_callback_returning_true_stops_train_logged_with_a_row_there(monkeypatch, x64):
    x, y = funcmlp.data.spiral(jax.random.key(0), 30)
    work = chunking.step_work((2, 4, 3), x.shape[0])
    monkeypatch.setattr(chunking, "CHUNK_WORK", 10.5 * work)  # chunks of 10 steps for this tiny network
    x = x.astype(jnp.float64)
    params = funcmlp.init_params(jax.random.key(1), (2, 4, 3), dtype=jnp.float64)
    kw = {"optimizer": optax.adam(0.05), "steps": 600}
    seen = []

    def callback(report):
        seen.append(report.step)
        return report.step >= 230

    result, history = train_logged(params, x, y, **kw, callback=callback)
    assert seen == list(range(10, 231, 10))  # a report every chunk of 10 steps, rows every 100 steps
    np.testing.assert_array_equal(history.columns["step"], [0, 100, 200, 230])
    alone = funcmlp.train(params, x, y, optimizer=kw["optimizer"], steps=230, chunk_size=10)
    assert result.losses.shape == (230,)
    np.testing.assert_array_equal(result.losses, alone.losses)
    for a, b in zip(jax.tree.leaves(result.params), jax.tree.leaves(alone.params), strict=True):
        np.testing.assert_array_equal(a, b)
    cut = funcmlp.train(
        params, x, y, **kw, chunk_size=10, callback=lambda r: r.step >= 230
    )  # train: the same
    np.testing.assert_array_equal(cut.losses, alone.losses)
    for a, b in zip(jax.tree.leaves(cut.params), jax.tree.leaves(alone.params), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_callback_returning_true_stops_a_sweep_there():
    x, y = funcmlp.data.spiral(jax.random.key(0), 20)
    kw = {"seeds": 2, "learning_rates": [0.1], "optimizer": optax.adam, "chunk_size": 10}
    result = funcmlp.sweep(
        jax.random.key(1),
        x,
        y,
        sizes=[(2, 4, 3), (2, 8, 3)],
        steps=1000,
        **kw,
        callback=lambda report: report.step >= 30,
    )
    alone = funcmlp.sweep(jax.random.key(1), x, y, sizes=(2, 4, 3), steps=30, **kw)
    assert result.step == 30 and len(result.groups) == 1  # the second group never started
    np.testing.assert_array_equal(result.groups[0].losses, alone.groups[0].losses)
    for a, b in zip(
        jax.tree.leaves(result.groups[0].params), jax.tree.leaves(alone.groups[0].params), strict=True
    ):
        np.testing.assert_array_equal(a, b)


def test_an_interrupted_sweep_keeps_its_state_to_resume(tmp_path, monkeypatch, capsys):
    out = tmp_path / "grid"
    args = ["--learning-rates", "0.1", "--widths", "4", "--seeds", "2", "--n-per-class", "20", "--quiet"]
    monkeypatch.setattr(interrupt, "requested", lambda: True)  # as if Ctrl-C came during the first chunk
    assert main(["sweep", *args, "--steps", "100000", "--out", str(out)]) == 130
    assert capsys.readouterr().err.strip().splitlines() == [
        f"funcmlp: interrupted by a signal at step 2000 of 100000; the run so far is in {out}"
    ]
    assert json.loads((out / "metrics.json").read_text()) == {
        "interrupted": True,
        "step": 2000,
        "group": 1,
        "groups": 1,
        "saved_sweep": True,
    }
    assert funcmlp.load_sweep(out / "sweep.safetensors").step == 2000
    resumed = resumed_config(SweepConfig(resume=out, steps=100))  # what `sweep --resume DIR` reads back
    assert resumed.widths == (4,) and resumed.seeds == 2 and resumed.n_per_class == 20


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put((time.perf_counter(), line))
    into.put((time.perf_counter(), None))


@pytest.mark.parametrize(("sig", "seeds"), [(signal.SIGINT, "2"), (signal.SIGTERM, "1")])
def test_a_signal_stops_a_long_run_which_keeps_what_it_trained(tmp_path, sig, seeds):
    # the seeds train together in one sweep (one model with --seeds 1)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "funcmlp", "train", "--steps", "10000000", "--n-per-class", "20"]
    env = {**os.environ, "FUNCMLP_NO_CACHE": "1"}
    proc = subprocess.Popen(
        [*command, "--seeds", seeds, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stderr, lines), daemon=True).start()
    try:
        progress = re.compile(r"^\d seeds: step \d+/10000000 \(0%\)")
        first = ""
        while not progress.match(first):  # the first progress line (plain: stderr is a pipe)
            first = lines.get(timeout=120)[1]
            assert first is not None, "the run ended before it showed progress"
        seconds = float(re.search(r", (\d+\.\d) s", first).group(1))  # since training began
        assert seconds <= FIRST_PROGRESS_S, first
        sent = time.perf_counter()
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == interrupt.EXIT_CODE
        assert time.perf_counter() - sent < 10  # acted on within a chunk, then the run is written
    finally:
        proc.kill()
    rest = []
    while (line := lines.get(timeout=10)[1]) is not None:
        rest.append(line)
    assert len(rest) == 1, rest  # one line, no traceback
    name = signal.Signals(sig).name
    assert re.match(
        rf"^funcmlp: interrupted by {name} at step \d+ of 10000000; the run so far is in ", rest[0]
    )
    run = funcmlp.load_run(out)
    assert run.config["steps"] == 10_000_000 and run.config["seeds"] == int(seeds)
    assert run.metrics["interrupted"] is True and 0 < run.metrics["step"] < 10_000_000
    assert f"at step {run.metrics['step']} of" in rest[0]
    assert run.history["step"][-1] == run.metrics["step"]  # metrics.csv: the rows so far, the last one there
    assert all(np.isfinite(np.asarray(a)).all() for a in jax.tree.leaves(run.model.params))
