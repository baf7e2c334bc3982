"""The registered derivative of the built-in networks against autodiff of the reference loss."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcmlp
from funcmlp import activations, data, heads, mlp
from funcmlp.engine import fastpath


def problem(head, sizes, key):
    """Spiral inputs (the origin is among them, so relu meets its kink) and targets for a head."""
    x, y = data.spiral(key, n_per_class=20)
    x = x.astype(jnp.float64)
    if head == "sigmoid":
        y = (y > 0).astype(jnp.int32)
    elif head == "linear":
        y = jnp.stack([jnp.sin(k * x[:, 0]) + x[:, 1] for k in range(1, sizes[-1] + 1)], axis=1)
    return x, y


BUILTINS = [
    ((2, 4, 3), "softmax", "relu"),  # the lecture's net: every sum is unrolled
    ((2, 9, 12, 10), "softmax", "tanh"),  # wider than heads.SMALL: dot_general and jnp.sum
    ((2, 6, 1), "sigmoid", "leaky_relu:0.1"),
    ((2, 16, 1), "sigmoid", "sigmoid"),
    ((2, 5, 2), "linear", "step"),
    ((2, 3, 11), "linear", "linear"),
    ((2, 7, 3), "softmax", "leaky_relu"),
]


@pytest.mark.parametrize("sizes, head, activation", BUILTINS)
@pytest.mark.parametrize(
    "l2, weighted, sums", [(None, False, "dot"), (0.03, True, "reduce"), (0.03, False, "reduce")]
)
def test_registered_derivative_equals_autodiff_of_the_reference_loss(
    sizes, head, activation, l2, weighted, sums, x64
):
    x, y = problem(head, sizes, jax.random.key(3))
    params = funcmlp.init_params(jax.random.key(4), sizes, dtype=jnp.float64)
    weights = (jnp.arange(x.shape[0]) % 4 != 0).astype(jnp.float64) if weighted else None
    act, hd = activations.get(activation), heads.get(head)
    l2_arr = None if l2 is None else jnp.float64(l2)
    t = hd.targets(y, sizes[-1], jnp.float64)

    def reference(p, x, w, l2):  # autodiff: the rule switched off
        return mlp.mean_loss(p, x, y, act.fn, hd, l2, w)

    def registered(p, x, w, l2):
        return fastpath.loss(p, x, t, w, l2, act=act, head=hd, sums=sums)

    argnums = (0, 1) + ((2,) if weighted else ()) + ((3,) if l2 is not None else ())
    want = jax.value_and_grad(reference, argnums)(params, x, weights, l2_arr)
    got = jax.value_and_grad(registered, argnums)(params, x, weights, l2_arr)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
    chex.assert_trees_all_close(got[1], want[1], rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("head", ["softmax", "sigmoid", "linear"])
def test_the_targets_cotangent_equals_autodiff_of_the_rule(head, x64):
    # dJ/dT has no reference loss in T; the float-target loss written plainly is one.
    sizes = (2, 5, 1 if head == "sigmoid" else 3)
    x, y = problem(head, sizes, jax.random.key(5))
    params = funcmlp.init_params(jax.random.key(6), sizes, dtype=jnp.float64)
    act, hd = activations.get("tanh"), heads.get(head)
    t = hd.targets(y, sizes[-1], jnp.float64)

    def plain(t):
        z = mlp.apply(params, x, act.fn)
        return jnp.mean(hd.rule(z.T, t.T)[0])

    got = jax.grad(lambda t: fastpath.loss(params, x, t, act=act, head=hd))(t)
    np.testing.assert_allclose(got, jax.grad(plain)(t), rtol=1e-6, atol=1e-12)


def test_relu_derivative_at_the_kink_is_the_documented_zero():
    # The spiral starts at the origin: with zero biases, z^1 = 0 there, so the kink choice matters.
    assert float(jax.grad(activations.relu)(0.0)) == float(activations.relu_grad(jnp.zeros(()))) == 0.0


@pytest.mark.parametrize("width", [3, 12])  # narrow (ones row appended) and wide (dot_general, jnp.sum)
def test_sums_over_samples_by_matmul_and_by_reduction_agree_with_numpy(width, x64):
    a = jax.random.normal(jax.random.key(13), (width, 50), jnp.float64)
    delta = jax.random.normal(jax.random.key(14), (4, 50), jnp.float64)
    want_w, want_b = np.asarray(a) @ np.asarray(delta).T, np.asarray(delta).sum(axis=1)
    for how in ("dot", "reduce"):
        gw, gb = fastpath.sample_sums(a, delta, how)
        np.testing.assert_allclose(gw, want_w, rtol=1e-10)
        np.testing.assert_allclose(gb, want_b, rtol=1e-10)
