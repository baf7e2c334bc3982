"""Own models and config axes: ``funcmlp.sweep`` against the same training written in plain JAX.

python -m benchmarks.models   # a few minutes on two cores; prints a markdown table

Two cells, each timed for funcmlp and for plain JAX in the same run (median of 5 warm calls, interleaved,
after one first call that compiles), every call waiting for its results (``jax.block_until_ready``):

1. custom model: a residual MLP 2 -> 32 (+ skip) -> 3 with a learnable output scale, given as
   ``funcmlp.Model(init, apply)``, on the spiral (300 x 2, 3 classes): 3 learning rates x 2 init scales x 8
   seeds = 48 models, 1000 full-batch SGD steps on the mean cross-entropy.
2. config axis: the built-in MLP 2-16-3 with a leaky-ReLU slope in [0, 0.1, 0.3] and the focal loss
   -(1 - p_y)^gamma log p_y with gamma in [0, 1, 2], x 8 seeds = 72 models, SGD at 0.3, 1000 steps.

Plain JAX is one ``jax.vmap`` over all models of a ``jax.value_and_grad(loss)`` +
``optax.inject_hyperparams(optax.sgd)`` step (learning rate and config values as vmapped arrays), in
``jax.jit(lambda ...: jax.lax.scan(...))``, with the inits from ``jax.random.split(key, seeds)`` drawn in the
same program. Both sides' losses must agree (rtol 1e-4, float32) over the first 30 steps before a time is
reported; the table counts the models whose final losses (step 1000) differ by more than 1e-4.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

import funcmlp
from benchmarks import timing

LEARNING_RATES = (0.03, 0.1, 0.3)
INIT_SCALES = (0.5, 1.0)
GAMMAS = (0.0, 1.0, 2.0)
SLOPES = (0.0, 0.1, 0.3)
SEEDS = 8
STEPS = 1000
REPEATS = 5
RTOL = 1e-4


def residual_init(key, config):
    """Residual MLP params: W_in (2, 32), W_res (32, 32), W_out (32, 3) ~ s N(0, 1) times 0.7, 0.25, 0.25."""
    k1, k2, k3 = jax.random.split(key, 3)
    s = config["init_scale"]
    return {
        "inp": {"w": s * jax.random.normal(k1, (2, 32)) * 0.7, "b": jnp.zeros(32)},
        "res": {"w": s * jax.random.normal(k2, (32, 32)) * 0.25, "b": jnp.zeros(32)},
        "out": {"w": s * jax.random.normal(k3, (32, 3)) * 0.25},
        "scale": jnp.ones(()),
    }


def residual_apply(params, x, config):
    """Logits scale * (h W_out), h = h_1 + relu(h_1 W_res + b_res), h_1 = relu(x W_in + b_in)."""
    h = jax.nn.relu(x @ params["inp"]["w"] + params["inp"]["b"])
    h = h + jax.nn.relu(h @ params["res"]["w"] + params["res"]["b"])
    return params["scale"] * (h @ params["out"]["w"])


def cross_entropy(z, y, config):
    """Per-sample -log softmax(z)_y, (n,)."""
    return -jax.nn.log_softmax(z)[jnp.arange(z.shape[0]), y]


def focal(z, y, config):
    """Per-sample focal loss -(1 - p_y)^gamma log p_y, (n,)."""
    logp = jax.nn.log_softmax(z)[jnp.arange(z.shape[0]), y]
    return -((1.0 - jnp.exp(logp)) ** config["gamma"]) * logp


def leaky(z, config):
    """Leaky ReLU of slope config["slope"]: max(z, slope z)."""
    return jax.nn.leaky_relu(z, config["slope"])


def mlp_init(key, config):
    """The built-in MLP 2-16-3 (He init), as ``funcmlp.sweep`` draws it."""
    return funcmlp.init_params(key, (2, 16, 3))


def mlp_apply(params, x, config):
    """Logits of the 2-16-3 MLP with leaky-ReLU of slope config["slope"]."""
    return funcmlp.mlp.apply(params, x, lambda z: leaky(z, config))


def plain_sweep(init, apply, loss, key, x, y, lrs, configs: dict[str, Sequence[float]], seeds, steps):
    """Plain JAX: one vmap over the (lr, *configs, seed) grid of a value_and_grad + optax.sgd step, scanned.

    Returns a function of no arguments giving the losses (n_models, steps), the grid in C order."""
    grid = list(itertools.product(lrs, *configs.values(), range(seeds)))
    cols = np.asarray(grid, np.float32).T
    lr, values, seed = (
        jnp.asarray(cols[0]),
        dict(zip(configs, map(jnp.asarray, cols[1:-1]), strict=True)),
        cols[-1],
    )
    keys = jax.random.split(key, seeds)[seed.astype(int)]

    def one(k, lr, config):
        opt = optax.inject_hyperparams(optax.sgd)(learning_rate=lr)
        params = init(k, config)

        def step(carry, _):
            p, s = carry
            value, g = jax.value_and_grad(lambda q: jnp.mean(loss(apply(q, x, config), y, config)))(p)
            u, s = opt.update(g, s, p)
            return (optax.apply_updates(p, u), s), value

        return jax.lax.scan(step, (params, opt.init(params)), None, length=steps)[1]

    run = jax.jit(lambda k, lr, v: jax.vmap(one)(k, lr, v))
    return lambda: run(keys, lr, values)


def funcmlp_sweep(key, x, y, lrs, configs, seeds, steps, **options) -> Callable[[], jax.Array]:
    """funcmlp.sweep of the same grid; returns a function giving its losses (n_models, steps)."""

    def call():
        result = funcmlp.sweep(
            key, x, y, seeds=seeds, steps=steps, learning_rates=list(lrs), config=dict(configs), **options
        )
        return jnp.reshape(jnp.asarray(result.groups[0].losses), (-1, steps))

    return call


def cells(
    steps: int = STEPS, seeds: int = SEEDS, devices=None
) -> dict[str, dict[str, Callable[[], jax.Array]]]:
    """cell name -> {"funcmlp": fn, "plain": fn}, each fn() -> losses (n_models, steps); ``devices``:
    funcmlp's (default all; plain JAX's one vmap runs on the default device)."""
    x, y = funcmlp.data.spiral(jax.random.key(0))
    own = {"init_scale": INIT_SCALES}
    axes = {"gamma": GAMMAS, "slope": SLOPES}
    key = jax.random.key(1)
    model = funcmlp.Model(residual_init, residual_apply, name="residual")
    return {
        "custom model (48 residual MLPs)": {
            "funcmlp": funcmlp_sweep(
                key, x, y, LEARNING_RATES, own, seeds, steps, model=model, devices=devices
            ),
            "plain": plain_sweep(
                residual_init, residual_apply, cross_entropy, key, x, y, LEARNING_RATES, own, seeds, steps
            ),
        },
        "config axis (72 focal x slope MLPs)": {
            "funcmlp": funcmlp_sweep(
                key,
                x,
                y,
                (0.3,),
                axes,
                seeds,
                steps,
                sizes=(2, 16, 3),
                activation=leaky,
                head=focal,
                devices=devices,
            ),
            "plain": plain_sweep(mlp_init, mlp_apply, focal, key, x, y, (0.3,), axes, seeds, steps),
        },
    }


def check_equal(name: str, got: jax.Array, want: jax.Array, rtol: float = RTOL, early: int = 30):
    """Raise unless both sides' losses are finite and agree at ``rtol`` over the first ``early`` steps.

    Returns (models whose final losses differ by more than ``rtol``, largest relative difference of the final
    losses): float32 rounding, amplified over many steps near the ReLU kinks, parts the trajectories at large learning rates
    after some 40 to 1000 steps (the curves stay alike)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape or not (np.isfinite(got).all() and np.isfinite(want).all()):
        raise AssertionError(f"{name}: expected finite losses of one shape, got {got.shape}, {want.shape}")
    np.testing.assert_allclose(got[:, :early], want[:, :early], rtol=rtol, err_msg=f"{name}: losses differ")
    rel = np.abs(got[:, -1] - want[:, -1]) / np.abs(want[:, -1])
    return int(np.sum(rel > rtol)), float(np.max(rel))


def main(argv: Sequence[str] = ()) -> None:
    """Time both cells and print the markdown table."""
    print(f"load average {timing.load_average()}, {os.cpu_count()} cores, jax {jax.__version__}")
    print(
        "| cell | funcmlp s | plain s | ratio | first call funcmlp / plain s | final loss rel. diff > 1e-4 |"
    )
    print("|---|---|---|---|---|---|")
    for name, fns in cells().items():
        t = timing.interleaved(fns, REPEATS)
        apart, rel = check_equal(name, t["funcmlp"]["out"], t["plain"]["out"])
        f, p = t["funcmlp"], t["plain"]
        row = f"| {name} | {f['wall']:.3f} | {p['wall']:.3f} | {f['wall'] / p['wall']:.2f}x"
        print(f"{row} | {f['first']:.2f} / {p['first']:.2f} | {apart} models (max {rel:.1e}) |", flush=True)
    print(f"load average after {timing.load_average()}")


if __name__ == "__main__":
    main(sys.argv[1:])
