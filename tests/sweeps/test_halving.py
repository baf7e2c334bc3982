"""Successive halving inside a sweep (funcmlp.sweeps.halving) against models trained alone by funcmlp.train
and a float64 numpy ranking of the validation scores."""

import itertools
import math
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp import data
from funcmlp.sweeps import group, programs
from funcmlp.sweeps import halving as halving_mod
from funcmlp.sweeps.halving import Halving
from funcmlp.sweeps.mesh import padded

# 3 learning rates x 2 L2 weights = 6 configurations x 2 seeds, mini-batches; rungs end at steps 3 and 8 of 12,
# half kept: 6 -> 3 -> 2 configurations, each size its own compiled program.
# Chunks of the first rung's 3 steps: the last chunk of steps 3 .. 8 runs past step 8, and skips those steps.
SIZES, LRS, L2S, SEEDS, STEPS, ENDS, KEEP = (2, 5, 3), [0.05, 0.3, 1.5], [0.0, 0.03], 2, 12, (3, 8), 0.5


def numpy_scores(params, x, y):
    """(accuracy, mean softmax cross-entropy) of a relu network on (x, y), float64 numpy."""
    a = np.asarray(x, np.float64)
    for layer in params[:-1]:
        a = np.maximum(a @ np.float64(layer["w"]) + np.float64(layer["b"]), 0.0)
    z = a @ np.float64(params[-1]["w"]) + np.float64(params[-1]["b"])
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    y = np.asarray(y)
    return float(np.mean(z.argmax(1) == y)), float(-log_p[np.arange(len(y)), y].mean())


def alone(key, batch_key, x, y):
    """Every configuration (i, k) and seed j trained alone, in segments ending at the rung ends and STEPS:
    refs[i, k, j][end] = (params, losses of steps 0 .. end - 1)."""
    refs = {}
    for (i, lr), (k, l2), j in itertools.product(enumerate(LRS), enumerate(L2S), range(SEEDS)):
        params = funcmlp.init_params(jax.random.split(key, SEEDS)[j], SIZES, dtype=jnp.float64)
        opt_state, begin, losses, at = None, 0, [], {}
        for end in (*ENDS, STEPS):
            run = funcmlp.train(
                params, x, y, optimizer=optax.sgd, hyperparams={"learning_rate": lr}, steps=end - begin,
                batch_size=32, batch_key=batch_key, l2=l2, opt_state=opt_state, start_step=begin,
            )  # fmt: skip
            params, opt_state, begin = run.params, run.opt_state, end
            losses.append(np.asarray(run.losses))
            at[end] = (jax.tree.map(np.asarray, params), np.concatenate(losses))
        refs[i, k, j] = at
    return refs


def expected_rungs(refs, x_val, y_val):
    """Each configuration's stop step and each rung's scores, ranked independently: mean over seeds of the
    validation accuracy (higher first), then of the validation loss, then the configuration's index."""
    training = list(itertools.product(range(len(LRS)), range(len(L2S))))
    stop, scores = {c: STEPS for c in training}, {}
    for r, end in enumerate(ENDS):
        rows = {
            c: [numpy_scores(refs[(*c, j)][end][0], x_val, y_val) for j in range(SEEDS)] for c in training
        }
        means = {c: tuple(np.mean(np.array(v), axis=0)) for c, v in rows.items()}
        scores |= {(c, r): means[c][0] for c in training}
        order = sorted(training, key=lambda c: (-means[c][0], means[c][1], training.index(c)))
        count = min(len(training) - 1, max(1, math.ceil(KEEP * len(training))))
        for c in order[count:]:
            stop[c] = end
        training = sorted(order[:count])
    return stop, scores


def spiral64():
    x, y = data.spiral(jax.random.key(0), 40)
    x_val, y_val = data.spiral(jax.random.key(7), 20)
    return x.astype(jnp.float64), y, x_val.astype(jnp.float64), y_val


@pytest.fixture(scope="module")
def alone_runs():
    """Every model trained alone, the stop steps and rung scores expected from them."""
    with jax.enable_x64(True):
        x, y, x_val, y_val = spiral64()
        refs = alone(jax.random.key(3), jax.random.key(9), x, y)
    return SimpleNamespace(refs=refs, expected=expected_rungs(refs, x_val, y_val), val=(x_val, y_val))


def per_rung(cfg, smallest, training):
    """The accelerator's choice (one block per segment: one program per rung size), for the CPU test."""
    return padded(training, cfg.mesh.devices.shape[0])


@pytest.fixture(scope="module", params=["blocks", "per_rung"])
def run(request, alone_runs):
    """The halving sweep, in blocks of the last rung's size (the CPU's choice: one program) or one block per
    rung (the accelerators' choice), and every call of the training program (its block size, statics, length)."""
    with pytest.MonkeyPatch.context() as patch, jax.enable_x64(True):
        if request.param == "per_rung":
            patch.setattr(group, "block_size", per_rung)
        calls, train_steps = [], programs.train_steps

        def spy(state, *args, cfg, length):
            calls.append((jax.tree.leaves(state)[0].shape[0], cfg, length))
            return train_steps(state, *args, cfg=cfg, length=length)

        patch.setattr(programs, "train_steps", spy)
        x, y, x_val, y_val = spiral64()
        result = funcmlp.sweep(
            jax.random.key(3), x, y, sizes=SIZES, seeds=SEEDS, steps=STEPS, learning_rates=LRS, l2=L2S,
            batch_size=32, batch_key=jax.random.key(9), evaluate={"val": (x_val, y_val)}, dtype=jnp.float64,
            halving=Halving(ENDS, KEEP),
        )  # fmt: skip
    stop, scores = alone_runs.expected
    return SimpleNamespace(
        result=result, calls=calls, refs=alone_runs.refs, stop=stop, scores=scores, val=alone_runs.val,
        mode=request.param,
    )  # fmt: skip


def test_kept_configurations_are_the_top_fraction_by_validation_score(run):
    record = run.result.groups[0].halving
    for c, step in run.stop.items():
        assert np.all(record["stopped_at"][c] == step), c
        assert np.all(record["rung"][c] == sum(e < step for e in ENDS)), c
    for (c, r), score in run.scores.items():
        np.testing.assert_allclose(record["scores"][c][:, r], score, rtol=1e-6)
    assert sorted(run.stop.values()) == [3, 3, 3, 8, 12, 12]


def test_every_model_equals_its_training_alone_to_the_step_it_stopped(run):
    group = run.result.groups[0]
    for (i, k, j), at in run.refs.items():
        params, losses = at[run.stop[i, k]]
        got = run.result.model(0, i, k, j)
        jax.tree.map(lambda g, w: np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-12), got, params)
        stopped = run.stop[i, k]
        np.testing.assert_allclose(group.losses[i, k, j, :stopped], losses, rtol=1e-6)
        held = np.asarray(group.losses[i, k, j])
        np.testing.assert_array_equal(held[stopped:], held[stopped - 1])  # its last loss, held after the stop
        acc, loss = numpy_scores(params, *run.val)
        assert float(group.metrics["val_accuracy"][i, k, j]) == pytest.approx(acc, rel=1e-6)
        assert float(group.metrics["val_loss"][i, k, j]) == pytest.approx(loss, rel=1e-6)
    best = run.result.best_configuration()
    assert run.stop[LRS.index(best["learning_rate"]), L2S.index(best["l2"])] in (3, 8, 12)


def test_one_compiled_program_per_block_size(run):
    """Blocks of 2 configurations for 6, 3 and 2 configurations: one program; per rung: one per size."""
    programs_used = set(run.calls)
    want = {"blocks": {2}, "per_rung": {6, 3, 2}}[run.mode]
    assert {c_pad for c_pad, _, _ in programs_used} == want
    assert {length for _, _, length in programs_used} == {3}
    assert len(programs_used) == len(want)


def test_the_halving_record_survives_save_and_load(run, tmp_path):
    funcmlp.save_sweep(tmp_path / "h.safetensors", run.result)
    a, b = run.result.groups[0].halving, funcmlp.load_sweep(tmp_path / "h.safetensors").groups[0].halving
    assert sorted(a) == sorted(b) == ["rung", "scores", "stopped_at"]
    for name in a:
        np.testing.assert_array_equal(np.asarray(b[name]), np.asarray(a[name]))


def test_rung_ends_and_counts():
    assert halving_mod.rung_ends(3, 1 / 3, 100) == (3, 9, 27, 81)
    assert halving_mod.rung_ends([5, 20, 50], 0.5, 20) == (5,)
    assert [halving_mod.kept(n, 1 / 3) for n in (81, 27, 9, 3, 2, 1)] == [27, 9, 3, 1, 1, 1]
    assert halving_mod.kept(5, 0.9) == 4  # at least one stops while more than one trains
    assert halving_mod.counts(81, 5, 1 / 3) == [81, 27, 9, 3, 1]


@pytest.mark.parametrize(
    "extra, match",
    [
        ({"halving": Halving(4, keep=1.0)}, "halving.keep"),
        ({"halving": Halving([8, 4])}, "halving.rungs"),
        ({"halving": Halving(4, metric="train_loss")}, "halving.metric"),
        ({"halving": (4, 0.5)}, "halving"),
        ({"halving": Halving(4), "no_val": True}, "validation"),
        ({"halving": Halving(4), "start": "previous"}, "start: expected None with halving"),
    ],
)
def test_bad_halving_is_named(extra, match):
    x, y = data.spiral(jax.random.key(0), 10)
    kw = {k: v for k, v in extra.items() if k != "no_val"}
    val = {} if extra.get("no_val") else {"evaluate": {"val": (x, y)}}
    common = dict(sizes=(2, 3), seeds=1, steps=8, learning_rates=[0.1], **val)
    if kw.get("start") == "previous":  # a sweep of the same grid to continue
        kw["start"] = funcmlp.sweep(jax.random.key(0), x, y, **common)
    with pytest.raises((ValueError, TypeError), match=match):
        funcmlp.sweep(jax.random.key(0), x, y, **common, **kw)


LOGGED = dict(sizes=SIZES, seeds=SEEDS, steps=STEPS, learning_rates=LRS, l2=L2S, batch_size=32,
              batch_key=jax.random.key(9), dtype=jnp.float64)  # fmt: skip


@pytest.fixture(scope="module")
def full_curves():
    """The sweep without halving, every step logged: the reference of the two tests below."""
    with jax.enable_x64(True):
        x, y, x_val, y_val = spiral64()
        log = funcmlp.Logging(every=1)
        kw = LOGGED | {"evaluate": {"val": (x_val, y_val)}}
        return funcmlp.sweep(jax.random.key(3), x, y, log=log, **kw).groups[0].history


def test_curves_with_halving_are_the_full_grids_until_each_model_stops(x64, full_curves):
    """``log=Logging(every=1)`` with halving: every model's rows up to the step it stopped at equal those of
    the same sweep without halving (float64, rtol 1e-6); its rows after are NaN. (A ``metrics`` function
    gets the same whole-grid state at a logged step as these rows: ``Curves.log``.)"""
    x, y, x_val, y_val = spiral64()
    kw = LOGGED | {"evaluate": {"val": (x_val, y_val)}, "halving": Halving(ENDS, KEEP)}
    halved = funcmlp.sweep(jax.random.key(3), x, y, log=funcmlp.Logging(every=1), **kw).groups[0]
    np.testing.assert_array_equal(halved.history["step"], np.arange(STEPS + 1))
    assert (
        set(halved.history)
        == set(full_curves)
        == {"step", "train_loss", "train_accuracy", "val_loss", "val_accuracy"}
    )
    stopped = halved.halving["stopped_at"]
    assert sorted(set(stopped.ravel().tolist())) == [3, 8, 12]
    for name in set(full_curves) - {"step"}:
        got, want = np.asarray(halved.history[name]), np.asarray(full_curves[name])
        for at in np.ndindex(stopped.shape):
            rows = halved.history["step"] <= stopped[at]
            np.testing.assert_allclose(got[at][rows], want[at][rows], rtol=1e-6, atol=1e-12, err_msg=name)
            assert np.all(np.isnan(got[at][~rows])), (name, at)
    with pytest.raises(
        ValueError, match=r"^log.every: expected a divisor of every rung end \(3, 8\) with halving"
    ):
        funcmlp.sweep(jax.random.key(3), x, y, log=funcmlp.Logging(2), **kw)


def test_early_stopping_with_halving_follows_the_rule_on_each_models_rows(x64, full_curves):
    """``Logging(every=1, patience=2)`` with halving: each model's best step is
    ``early_stopping.stopping_point``'s on its rows, the full grid's up to the step it stopped at and that
    row repeated after (its state stays there); the sweep ends once every model has run out."""
    from funcmlp import early_stopping

    x, y, x_val, y_val = spiral64()
    kw = LOGGED | {"evaluate": {"val": (x_val, y_val)}, "halving": Halving(ENDS, KEEP)}
    patience = 2
    halved = funcmlp.sweep(jax.random.key(3), x, y, log=funcmlp.Logging(1, patience), **kw).groups[0]
    stopped, ends = halved.halving["stopped_at"], []
    for at in np.ndindex(stopped.shape):
        rows = np.minimum(np.arange(STEPS + 1), stopped[at])  # after its stop, its last row again
        columns = {k: np.asarray(full_curves[k])[at][rows] for k in ("val_loss", "val_accuracy")}
        stop, best = early_stopping.stopping_point({"step": full_curves["step"], **columns}, patience)
        assert halved.early_stop["best_step"][at] == best, at
        ends.append(stop)
    assert halved.losses.shape[-1] == max(ends) < STEPS  # every model ran out before the last step
