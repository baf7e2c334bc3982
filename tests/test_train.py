from functools import partial

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp import data, engine


@pytest.fixture
def spiral():
    return data.spiral(jax.random.key(0))


def test_sgd_step_is_the_lecture_update(spiral, x64):
    x, y = spiral
    x = x.astype(jnp.float64)
    params = funcmlp.init_params(jax.random.key(1), (2, 4, 3), dtype=jnp.float64)
    result = funcmlp.train(params, x, y, optimizer=optax.sgd(0.5), steps=1)
    grads = jax.grad(funcmlp.loss)(params, x, y)
    expected = jax.tree.map(lambda w, g: w - 0.5 * g, params, grads)
    chex.assert_trees_all_close(result.params, expected, rtol=1e-12)
    assert float(result.losses[0]) == pytest.approx(float(funcmlp.loss(params, x, y)), rel=1e-12)


def test_scan_equals_a_python_loop_of_optax_steps(spiral, x64):
    x, y = spiral
    x = x.astype(jnp.float64)
    params = funcmlp.init_params(jax.random.key(1), (2, 8, 3), dtype=jnp.float64)
    opt = optax.adam(0.01)
    result = funcmlp.train(params, x, y, optimizer=opt, steps=25, l2=1e-3)
    p, s = params, opt.init(params)
    for _ in range(25):
        g = jax.grad(funcmlp.loss)(p, x, y, l2=1e-3)
        u, s = opt.update(g, s, p)
        p = optax.apply_updates(p, u)
    chex.assert_trees_all_close(result.params, p, rtol=1e-6)


def test_one_trace_per_call_even_in_chunks(spiral):
    x, y = spiral
    traces = []

    def counted_relu(z):  # runs once per trace of the compiled loop
        traces.append(1)
        return jax.nn.relu(z)

    seen = []
    params = funcmlp.init_params(jax.random.key(1), (2, 4, 3))
    opt = optax.sgd(1.0)
    kw = dict(optimizer=opt, steps=100, activation=counted_relu)
    funcmlp.train(params, x, y, **kw, chunk_size=10)  # 10 chunks, all clean: the fast program only
    per_program = len(traces)
    funcmlp.train(params, x, y, **kw, chunk_size=30)  # the last chunk runs past the end: the careful one too
    # two programs for a new chunk length, not one a chunk
    assert len(traces) - per_program <= 3 * per_program
    before = len(traces)
    result = funcmlp.train(
        params, x, y, **kw, chunk_size=30, callback=lambda report: seen.append(report.step)
    )
    assert len(traces) == before  # the same programs again: nothing traced
    assert seen == [30, 60, 90, 100]
    assert result.losses.shape == (100,)
    whole = funcmlp.train(params, x, y, optimizer=opt, steps=100, activation=jax.nn.relu)
    np.testing.assert_allclose(result.losses, whole.losses, rtol=1e-6)


def test_lecture_net_learns_the_spiral(spiral):
    x, y = spiral
    params = funcmlp.init_params(jax.random.key(101), (2, 4, 3))
    result = funcmlp.train(params, x, y, optimizer=optax.sgd(1.0), steps=5000)
    assert result.losses.shape == (5000,)
    assert float(result.losses[-1]) < 0.6 * float(result.losses[0])
    assert float(funcmlp.accuracy(result.params, x, y)) > 0.75
    assert int(result.diverged_at) == -1


@pytest.mark.parametrize("batch_size", [1, 7, 32, 300])
def test_mini_batches_cover_every_sample_once_per_epoch(batch_size):
    n = 300
    x = jnp.arange(n, dtype=jnp.float32)[:, None]
    y = jnp.arange(n)
    key = jax.random.key(5)
    n_batches = -(-n // batch_size)
    data = engine.Data(x, y, key, None, jnp.int32(10**6))
    take = jax.jit(partial(engine.minibatch, batch_size=batch_size))  # one compile; t is traced
    perm = engine.epoch_perm(key, 0, n, batch_size)
    for epoch in range(2):
        seen = []
        for t in range(epoch * n_batches, (epoch + 1) * n_batches):
            perm, xb, yb, w = take(perm, t, data)
            np.testing.assert_array_equal(xb[:, 0], yb)
            real = np.ones(batch_size, bool) if w is None else np.asarray(w) > 0  # None: no padding
            seen.extend(np.asarray(yb)[real].tolist())
        assert sorted(seen) == list(range(n))


def test_mini_batch_training_runs_and_resumes_the_shuffle(spiral):
    x, y = spiral
    params = funcmlp.init_params(jax.random.key(1), (2, 8, 3))
    opt = optax.sgd(0.5)
    key = jax.random.key(9)
    full = funcmlp.train(params, x, y, optimizer=opt, steps=40, batch_size=64, batch_key=key)
    half = funcmlp.train(params, x, y, optimizer=opt, steps=17, batch_size=64, batch_key=key)
    rest = funcmlp.train(
        half.params,
        x,
        y,
        optimizer=opt,
        steps=23,
        batch_size=64,
        batch_key=key,
        opt_state=half.opt_state,
        start_step=17,
    )
    chex.assert_trees_all_close(rest.params, full.params, rtol=1e-6)
    np.testing.assert_allclose(jnp.concatenate([half.losses, rest.losses]), full.losses, rtol=1e-6)
    with pytest.raises(ValueError, match="key: expected a jax.random.key"):
        funcmlp.train(params, x, y, optimizer=opt, steps=1, batch_size=64)


def test_divergence_stops_updates_and_keeps_last_finite_params(spiral):
    x, _ = spiral
    y = jnp.stack([x[:, 0] * x[:, 1], x[:, 0] - x[:, 1]], axis=1)
    params = funcmlp.init_params(jax.random.key(1), (2, 16, 2))
    kw = {"optimizer": optax.sgd(20.0), "head": "linear"}
    result = funcmlp.train(params, x, y, steps=200, **kw)
    t = int(result.diverged_at)
    assert 0 < t < 200
    assert np.all(np.isfinite(result.losses[:t])) and not np.isfinite(result.losses[t])
    assert np.all(np.isnan(result.losses[t + 1 :]))
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(result.params))
    assert bool(jnp.isfinite(funcmlp.loss(result.params, x, y, head="linear")))
    before = funcmlp.train(params, x, y, steps=t - 1, **kw)  # the params of step t - 1
    # Two programs (200 steps, t - 1 steps) on an exploding float32 trajectory: equal to rounding (1e-5);
    # the parameters of the steps around t differ by far more.
    chex.assert_trees_all_close(result.params, before.params, rtol=1e-5)


def test_bad_arguments(spiral):
    x, y = spiral
    params = funcmlp.init_params(jax.random.key(1), (2, 4, 3))
    with pytest.raises(ValueError, match="steps: expected a positive integer, got 0"):
        funcmlp.train(params, x, y, optimizer=optax.sgd(1.0), steps=0)
    with pytest.raises(TypeError, match="optimizer: expected an optax GradientTransformation"):
        funcmlp.train(params, x, y, optimizer=0.1, steps=1)
    with pytest.raises(ValueError, match="batch_size: expected at most n = 300"):
        funcmlp.train(
            params, x, y, optimizer=optax.sgd(1.0), steps=1, batch_size=301, batch_key=jax.random.key(0)
        )


def test_integer_inputs_train_like_their_float_values_l2_included():
    """Integer x is computed in the params' dtype: the l2 weight is not truncated to an integer."""
    x = np.array([[1, 2], [3, -1], [0, 2], [-2, -1]])
    y = np.array([0, 1, 2, 1])
    params = funcmlp.init_params(jax.random.key(1), (2, 4, 3))
    kw = {"optimizer": optax.sgd(0.1), "steps": 5, "l2": 0.5}
    as_int = funcmlp.train(params, x, y, **kw)
    as_float = funcmlp.train(params, x.astype(np.float32), y, **kw)
    chex.assert_trees_all_equal(as_int.params, as_float.params)
    chex.assert_trees_all_equal(as_int.losses, as_float.losses)
