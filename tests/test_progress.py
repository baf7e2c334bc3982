"""The progress bar (``funcmlp.progress``), the chunk lengths it reports at and ``train_logged``."""

import io
import math
import subprocess
import sys

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from rich.console import Console

import funcmlp
from funcmlp import chunking, progress


@pytest.fixture
def spiral():
    return funcmlp.data.spiral(jax.random.key(0))


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def console(terminal: bool) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=terminal, width=120), buf


@pytest.mark.parametrize("steps", [1, 7, 99, 100, 101, 999, 5000, 5001, 123457])
@pytest.mark.parametrize("updates", [1, 10, 50])
def test_chunk_size_reports_about_updates_times(steps, updates):
    c = progress.chunk_size(steps, updates=updates, min_chunk=100)
    n = math.ceil(steps / c)
    assert 1 <= c <= steps
    assert n <= updates
    assert c >= min(100, steps)
    assert n * c - steps < n  # the padded last chunk wastes less than one step per chunk
    if steps >= 100 * updates:
        assert n == updates


def drive(bar, clock, steps, chunk, seconds_per_chunk):
    for done in [*range(chunk, steps, chunk), steps]:
        clock.t += seconds_per_chunk
        bar.update(done, 1.0 / done)
    bar.close()


def test_plain_lines_without_a_terminal():
    con, buf = console(terminal=False)
    clock = FakeClock()
    bar = progress.Progress(1000, console=con, clock=clock, lines=4, delay=1.0)
    drive(bar, clock, 1000, 10, 0.05)  # 100 chunks, 5 s
    out = buf.getvalue().splitlines()
    assert 1 <= len(out) <= 4
    assert out[-1].startswith("training: step 1000/1000 (100%), loss 0.001, 5.0 s")
    assert "left" not in out[-1] and "left" in out[0]
    assert "\x1b[" not in buf.getvalue()  # no terminal control codes in a log file


def test_short_runs_print_nothing():
    con, buf = console(terminal=False)
    clock = FakeClock()
    drive(progress.Progress(1000, console=con, clock=clock, delay=1.0), clock, 1000, 100, 0.05)  # 0.5 s
    assert buf.getvalue() == ""


@pytest.mark.parametrize("terminal", [True, False])
def test_a_run_in_one_chunk_prints_nothing_however_long_it_compiled(terminal):
    con, buf = console(terminal)
    clock = FakeClock()
    bar = progress.Progress(1000, console=con, clock=clock, delay=1.0)
    clock.t = 30.0  # compiling and running took 30 s, but there was no chunk to report before the end
    bar.update(1000, 0.5)
    bar.close()
    assert buf.getvalue() == ""


@pytest.mark.parametrize("terminal", [True, False])
def test_quiet_prints_nothing(terminal):
    con, buf = console(terminal)
    clock = FakeClock()
    drive(progress.Progress(1000, console=con, clock=clock, quiet=True), clock, 1000, 100, 1.0)
    assert buf.getvalue() == ""


def test_bar_on_a_terminal_shows_steps_and_loss():
    con, buf = console(terminal=True)
    clock = FakeClock()
    bar = progress.Progress(500, console=con, clock=clock, description="spiral")
    drive(bar, clock, 500, 100, 0.5)
    text = buf.getvalue()
    assert "spiral" in text and "500/500" in text and "loss 0.002" in text


def test_progress_is_a_train_callback(spiral):
    x, y = spiral
    con, buf = console(terminal=False)
    clock = FakeClock()
    seen = []
    bar = progress.Progress(300, console=con, clock=clock, delay=0.0, lines=3)

    def callback(report):
        seen.append((report.step, report.steps, report.group, report.groups))
        bar(report)

    params = funcmlp.init_params(jax.random.key(1), (2, 4, 3))
    result = funcmlp.train(
        params,
        x,
        y,
        optimizer=optax.sgd(1.0),
        steps=300,
        callback=callback,
        chunk_size=progress.chunk_size(300, updates=3),
    )
    assert seen == [(100, 300, 0, 1), (200, 300, 0, 1), (300, 300, 0, 1)]
    assert bar.done == 300 and bar.loss == pytest.approx(float(result.losses[-1]))
    assert len(buf.getvalue().splitlines()) == 3


@pytest.mark.parametrize(
    ("loss", "text"),
    [
        (0.123456, "0.1235"),
        (float("nan"), "nan (diverged)"),
        (np.array([3.0, 1.0, 2.0]), "median 2 [1, 3]"),
        (np.array([3.0, np.nan, 1.0]), "median 2 [1, 3], 1 diverged"),
        (np.array([np.nan, np.nan]), "nan (all diverged)"),
    ],
)
def test_format_loss(loss, text):
    assert progress.format_loss(loss) == text


@pytest.mark.parametrize(("steps", "every", "batch_size"), [(67, 20, 50), (50, 50, None), (40, 100, 64)])
def test_train_logged_equals_one_train_call(spiral, x64, steps, every, batch_size):
    x, y = spiral
    x = x.astype(jnp.float64)
    params = funcmlp.init_params(jax.random.key(1), (2, 6, 3), dtype=jnp.float64)
    kw = dict(
        optimizer=optax.adam(0.05), steps=steps, batch_size=batch_size, batch_key=jax.random.key(2), l2=1e-3
    )
    whole = funcmlp.train(params, x, y, **kw)
    seen = []
    result, history = progress.train_logged(
        params, x, y, **kw, log=funcmlp.Logging(every=every), callback=lambda r: seen.append((r.step, r.loss))
    )
    chex.assert_trees_all_close(result.params, whole.params, rtol=1e-6)
    np.testing.assert_allclose(result.losses, whole.losses, rtol=1e-6)
    assert int(result.diverged_at) == int(whole.diverged_at) == -1
    logged = [*range(0, steps, every), steps]
    assert [s for s, _ in seen] == logged[1:]
    assert [v for _, v in seen] == pytest.approx([float(whole.losses[s - 1]) for s in logged[1:]], rel=1e-6)
    np.testing.assert_array_equal(history.columns["step"], logged)


def test_history_measures_the_parameters_at_each_logged_step(spiral, x64):
    x, y = spiral
    x = x.astype(jnp.float64)
    x_val, y_val = funcmlp.data.spiral(jax.random.key(9), 20)
    x_val = x_val.astype(jnp.float64)
    params = funcmlp.init_params(jax.random.key(1), (2, 8, 3), dtype=jnp.float64)
    opt = optax.sgd(0.5)
    _, h = progress.train_logged(
        params,
        x,
        y,
        optimizer=opt,
        steps=90,
        log=funcmlp.Logging(every=30),
        evaluate={"val": (x_val, y_val), "none": (x[:0], y[:0])},
    )
    assert set(h.columns) == {"step", "train_loss", "train_accuracy", "val_loss", "val_accuracy"}
    p = params
    for i, t in enumerate([0, 30, 60, 90]):
        if t:  # independent reference: plain train calls of 30 steps, resumed one after the other
            p = funcmlp.train(p, x, y, optimizer=opt, steps=30, start_step=t - 30).params
        # independent reference: the loss and accuracy of a separately trained copy, by numpy
        for name, (xs, ys) in {"train": (x, y), "val": (x_val, y_val)}.items():
            a = np.maximum(np.asarray(xs) @ np.asarray(p[0]["w"]) + np.asarray(p[0]["b"]), 0)
            z = a @ np.asarray(p[1]["w"]) + np.asarray(p[1]["b"])
            lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
            ys = np.asarray(ys)
            loss = np.mean(lse - z[np.arange(len(ys)), ys])
            assert h.columns[f"{name}_loss"][i] == pytest.approx(loss, rel=1e-6)
            assert h.columns[f"{name}_accuracy"][i] == pytest.approx(np.mean(z.argmax(1) == ys), abs=1e-12)


def test_train_logged_stops_at_a_divergence(spiral):
    x, _ = spiral
    y = jnp.stack([x[:, 0] * x[:, 1], x[:, 0] - x[:, 1]], axis=1)
    params = funcmlp.init_params(jax.random.key(1), (2, 16, 2))
    kw = {"optimizer": optax.sgd(20.0), "head": "linear", "steps": 200}
    whole = funcmlp.train(params, x, y, **kw)
    result, history = progress.train_logged(
        params,
        x,
        y,
        **kw,
        log=funcmlp.Logging(every=25),
    )
    t = int(whole.diverged_at)
    assert t >= 0
    assert int(result.diverged_at) == t
    chex.assert_trees_all_close(result.params, whole.params)
    np.testing.assert_array_equal(np.isnan(result.losses), np.isnan(whole.losses))
    assert set(history.columns) == {"step", "train_loss"}  # no accuracy for a regression head
    np.testing.assert_array_equal(history.columns["step"], range(0, 25 * (t // 25 + 2), 25))


def test_sweep_callback_counts_steps_over_groups():
    con, buf = console(terminal=False)
    clock = FakeClock()
    bar = progress.Progress(2 * 400, console=con, clock=clock, delay=0.0, lines=2)
    for group in range(2):
        for done in (200, 400):
            clock.t += 1.0
            bar(funcmlp.Report(done, 400, np.array([[0.5, np.nan], [0.25 + group, 2.0]]), group, 2))
    assert bar.done == 800
    lines = buf.getvalue().splitlines()
    assert lines == [  # the lowest finite loss among the group's models; the first once the delay passed
        "training: step 200/800 (25%), loss 0.25, 1.0 s",
        "training: step 400/800 (50%), loss 0.25, 2.0 s, about 2.0 s left",
        "training: step 800/800 (100%), loss 0.5, 4.0 s",
    ]


@pytest.mark.parametrize("terminal", [True, False])
@pytest.mark.parametrize("total", [2_000, 100_000, 10_000_000, 1_000_000_000])
def test_progress_shows_within_two_seconds_whatever_the_steps(terminal, total):
    # compiling and the first chunk take 0.8 s, then a chunk of total / 10**4 steps reports every 0.25 s
    con, buf = console(terminal)
    clock = FakeClock()
    bar = progress.Progress(total, console=con, clock=clock, delay=1.0)
    done, step = 0, max(1, total // 10_000)
    clock.t = 0.8
    while not buf.getvalue():
        done += step
        bar.update(done, 0.5)
        clock.t += 0.25
    assert clock.t - 0.25 <= 2.0 and done < total


@pytest.mark.parametrize("steps", [1_000, 100_000, 10_000_000, 2_000_000_000])
@pytest.mark.parametrize(
    ("sizes", "samples", "models"),
    [((2, 4, 3), 300, 1), ((2, 100, 3), 300, 1), ((2, 4, 3), 300, 64), ((784, 512, 10), 60_000, 1)],
)
def test_short_chunks_end_on_every_logged_step_and_hold_a_quarter_second_of_work(
    steps, sizes, samples, models
):
    every = chunking.round_interval(progress.chunk_size(steps))
    work = chunking.step_work(sizes, samples, models)
    c = chunking.short_chunk(every, work)
    assert every % c == 0 and chunking.even(c)
    assert c * work <= chunking.CHUNK_WORK or c == 1
    assert c * work >= chunking.CHUNK_WORK / 10 or c == every  # not needlessly short
    if steps == 1_000 and sizes == (2, 4, 3):  # a default run is chunked as before: 10 chunks of 100
        assert c == 100


def test_round_interval_and_losses_list():
    cases = {1: 1, 99: 99, 100: 100, 101: 110, 247: 250, 2470: 2500, 200_000: 200_000, 123_457: 130_000}
    assert {n: chunking.round_interval(n) for n in cases} == cases
    losses = chunking.Losses()
    for i in range(1100):  # joined 32 at a time, then 32 joined blocks at a time
        losses.append(jnp.arange(3.0 * i, 3.0 * i + 3))
    assert len(losses) < 2 * chunking.JOIN
    np.testing.assert_array_equal(jnp.concatenate(losses), np.arange(3.0 * 1100))


def test_progress_is_a_library_module_that_import_funcmlp_loads_on_first_use():
    code = (
        "import sys, funcmlp; assert 'rich' not in sys.modules and 'funcmlp.cli' not in sys.modules; "
        "bar = funcmlp.progress.Progress; assert 'rich' in sys.modules and 'funcmlp.cli' not in sys.modules; "
        "from funcmlp.cli import progress; assert progress.Progress is bar; print(funcmlp.progress.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "funcmlp.progress"
