"""``train_logged``'s per-step metrics against a plain optax loop in float64."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp.history import train_logged


def test_metrics_at_every_logged_step_equal_a_plain_optax_loop(x64):
    """metrics(params, grads, opt_state, step, batch) at steps 0, 5, ..., 20: the gradient norm of the loss
    plus L2, Adam's first-moment norm, the step and the batch equal those of a hand-written loop."""
    x, y = funcmlp.data.spiral(jax.random.key(0), 10)
    x = x.astype(jnp.float64)
    params = funcmlp.init_params(jax.random.key(1), (2, 5, 3), dtype=jnp.float64)
    l2, opt = 0.01, optax.adam(0.05)

    def watch(params, grads, opt_state, step, batch):
        mu = jax.tree.leaves(opt_state[0].mu)
        return {
            "grad_norm_w0": jnp.linalg.norm(grads[0]["w"]),
            "mu_norm": jnp.sqrt(sum(jnp.sum(m * m) for m in mu)),
            "at": step.astype(jnp.float64),
            "rows": jnp.float64(batch[0].shape[0]),
        }

    result, history = train_logged(
        params,
        x,
        y,
        optimizer=opt,
        steps=20,
        l2=l2,
        log=funcmlp.Logging(every=5, metrics=watch),
    )
    cols = history.columns
    assert list(cols["step"]) == [0, 5, 10, 15, 20]
    p, s = params, opt.init(params)
    for t in range(21):
        g = jax.grad(funcmlp.loss)(p, x, y, l2=l2)
        if t % 5 == 0:
            r = t // 5
            np.testing.assert_allclose(cols["grad_norm_w0"][r], np.linalg.norm(g[0]["w"]), rtol=1e-6)
            mu = np.sqrt(sum(float(jnp.sum(m * m)) for m in jax.tree.leaves(s[0].mu)))
            np.testing.assert_allclose(cols["mu_norm"][r], mu, rtol=1e-6, atol=1e-12)
            assert cols["at"][r] == t and cols["rows"][r] == x.shape[0]
        u, s = opt.update(g, s, p)
        p = optax.apply_updates(p, u)
    norm = funcmlp.Logging(every=5, metrics=lambda p, g: {"g": jnp.linalg.norm(g[0]["w"])})
    two, _ = train_logged(params, x, y, optimizer=opt, steps=20, l2=l2, log=norm)
    np.testing.assert_array_equal(two.losses, result.losses)  # metrics change nothing of the training
    with pytest.raises(TypeError, match="metrics: expected a function"):
        train_logged(
            params,
            x,
            y,
            optimizer=opt,
            steps=2,
            log=funcmlp.Logging(metrics="norms"),
        )
