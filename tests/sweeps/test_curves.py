"""Every model's curves inside a sweep (``log_every``, ``evaluate``, ``metrics``), early stopping per model,
and a resumed sweep's whole history, against plain JAX + optax loops in float64."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp.sweeps.curves import model_history, norms

SIZES, SEEDS, STEPS, EVERY = (2, 5, 3), 2, 40, 10
LRS = [0.05, 0.5]


@pytest.fixture(scope="module")
def problem():
    jax.config.update("jax_enable_x64", True)
    try:
        key = jax.random.key(3)
        x, y = funcmlp.data.spiral(jax.random.key(1), 20)
        xv, yv = funcmlp.data.spiral(jax.random.key(2), 10)
        kw = dict(sizes=SIZES, seeds=SEEDS, learning_rates=LRS, optimizer=optax.sgd, l2=[0.0, 0.01])
        kw |= dict(evaluate={"val": (xv, yv)}, log=funcmlp.Logging(EVERY, metrics=norms), dtype=jnp.float64)
        whole = funcmlp.sweep(key, x, y, steps=STEPS, **kw)
        half = funcmlp.sweep(key, x, y, steps=STEPS // 2, **kw)
        resumed = funcmlp.sweep(key, x, y, steps=STEPS // 2, start=half, **kw)
        yield key, (x, y, xv, yv), whole, resumed
    finally:
        jax.config.update("jax_enable_x64", False)


def plain(params, x, y, lr, l2, steps):
    """theta_0 .. theta_steps of SGD on the loss plus L2 (the reference)."""
    opt = optax.sgd(lr)

    def step(carry, _):
        p, s = carry
        g = jax.grad(funcmlp.loss)(p, x, y, l2=l2)
        u, s = opt.update(g, s, p)
        p = optax.apply_updates(p, u)
        return (p, s), p

    _, ps = jax.lax.scan(step, (params, opt.init(params)), length=steps)
    return [params] + [jax.tree.map(lambda a, t=t: a[t], ps) for t in range(steps)]


def test_every_models_curves_and_gradient_norms_equal_plain_jax(problem):
    key, (x, y, xv, yv), whole, _ = problem
    h = whole.groups[0].history
    assert list(h["step"]) == list(range(0, STEPS + 1, EVERY))
    inits = [funcmlp.init_params(k, SIZES, dtype=jnp.float64) for k in jax.random.split(key, SEEDS)]
    for i, lr in enumerate(LRS):
        for c, l2 in enumerate([0.0, 0.01]):
            for j, p0 in enumerate(inits):
                path = plain(p0, x, y, lr, l2, STEPS)
                row = model_history(h, (i, c, j))
                for r, t in enumerate(h["step"]):
                    p = path[t]
                    g = jax.grad(funcmlp.loss)(p, x, y, l2=l2)
                    np.testing.assert_allclose(row["val_loss"][r], funcmlp.loss(p, xv, yv), rtol=1e-6)
                    np.testing.assert_allclose(row["train_accuracy"][r], funcmlp.accuracy(p, x, y), rtol=1e-6)
                    for layer in range(2):
                        want = np.linalg.norm(np.asarray(g[layer]["w"]))
                        np.testing.assert_allclose(row[f"grad_norm/{layer}/w"][r], want, rtol=1e-6)
                        want = np.linalg.norm(np.asarray(p[layer]["b"]))
                        np.testing.assert_allclose(row[f"param_norm/{layer}/b"][r], want, rtol=1e-6)


def test_a_resumed_sweep_holds_the_whole_history(problem):
    *_, whole, resumed = problem
    a, b = whole.groups[0], resumed.groups[0]
    assert resumed.step == STEPS and b.losses.shape[-1] == STEPS
    np.testing.assert_allclose(np.asarray(b.losses), np.asarray(a.losses), rtol=1e-6)
    assert list(b.history["step"]) == list(a.history["step"])
    for name in a.history:
        np.testing.assert_allclose(np.asarray(b.history[name]), np.asarray(a.history[name]), rtol=1e-6)


def test_resuming_with_other_fixed_settings_is_refused_unless_allowed():
    x, y = funcmlp.data.spiral(jax.random.key(1), 10)
    kw = dict(sizes=(2, 3, 3), seeds=1, steps=2, optimizer=optax.sgd)
    first = funcmlp.sweep(
        jax.random.key(0), x, y, hyperparams={"learning_rate": [0.1], "momentum": 0.9}, **kw
    )
    again = {"learning_rate": [0.1], "momentum": 0.5}
    with pytest.raises(ValueError, match="start: expected the same fixed setting momentum = 0.9 .*got 0.5"):
        funcmlp.sweep(jax.random.key(0), x, y, hyperparams=again, start=first, **kw)
    out = funcmlp.sweep(
        jax.random.key(0), x, y, hyperparams=again, start=funcmlp.Resume(first, allow_changes=True), **kw
    )
    assert out.settings["momentum"] == 0.5
    assert [s for _, s in out.settings["segments"]] == [first.settings, {**first.settings, "momentum": 0.5}]
    assert [t for t, _ in out.settings["segments"]] == [0, 2]


def test_the_curves_and_early_stopping_survive_save_and_load(problem, tmp_path):
    *_, whole, _ = problem
    funcmlp.save_sweep(tmp_path / "s.safetensors", whole)
    loaded = funcmlp.load_sweep(tmp_path / "s.safetensors")
    a, b = whole.groups[0].history, loaded.groups[0].history
    assert list(a) == list(b) and loaded.groups[0].early_stop is None
    for name in a:
        np.testing.assert_array_equal(np.asarray(b[name]), np.asarray(a[name]))
    x, y = funcmlp.data.spiral(jax.random.key(1), 10)
    kw = dict(sizes=(2, 4, 3), seeds=2, steps=12, learning_rates=[0.5, 2.0], log=funcmlp.Logging(3, 1))
    stopped = funcmlp.sweep(jax.random.key(0), x, y, evaluate={"val": (x, y)}, **kw)
    funcmlp.save_sweep(tmp_path / "e.safetensors", stopped)
    a, b = stopped.groups[0].early_stop, funcmlp.load_sweep(tmp_path / "e.safetensors").groups[0].early_stop
    assert sorted(a) == sorted(b) == ["best_step", "stopped"]
    for name in a:
        np.testing.assert_array_equal(np.asarray(b[name]), np.asarray(a[name]))


def test_metrics_of_five_arguments_see_the_optimizer_state_step_and_batch():
    """metrics(params, grads, opt_state, step, batch): the momentum trace of every model at each logged
    step equals plain optax's, and step and batch are the logged step and the model's training rows."""

    def watch(params, grads, opt_state, step, batch):
        trace = opt_state[0].trace  # optax.sgd(momentum=...): (TraceState, EmptyState)
        leaves = jax.tree.leaves(trace)
        return {
            "trace_norm": jnp.sqrt(sum(jnp.sum(t * t) for t in leaves)),
            "at": step.astype(jnp.float32),
            "rows": jnp.float32(batch[0].shape[0]),
            "label_sum": jnp.sum(batch[1]).astype(jnp.float32),
        }

    key = jax.random.key(5)
    x, y = funcmlp.data.spiral(jax.random.key(1), 12)
    kw = dict(sizes=(2, 4, 3), seeds=2, hyperparams={"learning_rate": [0.1, 0.3], "momentum": 0.9})
    result = funcmlp.sweep(
        key, x, y, steps=6, log=funcmlp.Logging(every=3, metrics=watch), optimizer=optax.sgd, **kw
    )
    h = result.groups[0].history
    assert list(h["step"]) == [0, 3, 6]
    for i, lr in enumerate([0.1, 0.3]):
        for j, k in enumerate(jax.random.split(key, 2)):
            p = funcmlp.init_params(k, (2, 4, 3))
            opt = optax.sgd(lr, momentum=0.9)
            s = opt.init(p)
            for t in range(7):
                if t % 3 == 0:
                    r = t // 3
                    want = np.sqrt(sum(float(jnp.sum(a * a)) for a in jax.tree.leaves(s[0].trace)))
                    np.testing.assert_allclose(h["trace_norm"][i, j, r], want, rtol=1e-4, atol=1e-7)
                    assert h["at"][i, j, r] == t and h["rows"][i, j, r] == x.shape[0]
                    assert h["label_sum"][i, j, r] == float(np.sum(y))
                u, s = opt.update(jax.grad(funcmlp.loss)(p, x, y), s, p)
                p = optax.apply_updates(p, u)


def test_early_stopping_ends_a_group_not_the_sweep():
    """Patience that runs out in the first group leaves the second to train: it equals the same group swept
    alone (its losses, its early stop, its best row's parameters)."""
    x, y = funcmlp.data.spiral(jax.random.key(0), 20)
    kw = dict(seeds=2, steps=400, learning_rates=[3.0], evaluate={"val": (x, y)}, log=funcmlp.Logging(10, 1))
    both = funcmlp.sweep(jax.random.key(1), x, y, sizes=[(2, 4, 3), (2, 8, 3)], **kw)
    assert len(both.groups) == 2 and both.groups[0].losses.shape[-1] < 400  # the first group stopped early
    alone, got = funcmlp.sweep(jax.random.key(1), x, y, sizes=(2, 8, 3), **kw).groups[0], both.groups[1]
    assert got.losses.shape == alone.losses.shape
    np.testing.assert_allclose(got.losses, alone.losses, rtol=1e-6)
    for name in ("best_step", "stopped"):
        np.testing.assert_array_equal(got.early_stop[name], alone.early_stop[name])
    for a, b in zip(jax.tree.leaves(got.params), jax.tree.leaves(alone.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert both.step == max(g.losses.shape[-1] for g in both.groups)
