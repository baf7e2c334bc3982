import jax
import jax.numpy as jnp
import numpy as np
import pytest

from funcmlp import heads


def _np_softmax_ce(z, y):
    z = np.asarray(z, np.float64)
    m = z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    return lse - z[np.arange(len(y)), y]


def _np_bce(z, y):
    s = 1 / (1 + np.exp(-np.asarray(z, np.float64)[:, 0]))
    return -(y * np.log(s) + (1 - y) * np.log(1 - s))


def test_softmax_cross_entropy_matches_numpy(key, x64):
    z = jax.random.normal(key, (50, 3), jnp.float64) * 3
    y = jax.random.randint(jax.random.key(1), (50,), 0, 3)
    np.testing.assert_allclose(
        heads.softmax_cross_entropy(z, y), _np_softmax_ce(z, np.asarray(y)), rtol=1e-10
    )


def test_sigmoid_bce_matches_numpy(key, x64):
    z = jax.random.normal(key, (50, 1), jnp.float64) * 3
    y = jax.random.bernoulli(jax.random.key(1), 0.5, (50,)).astype(jnp.int32)
    np.testing.assert_allclose(
        heads.sigmoid_binary_cross_entropy(z, y), _np_bce(z, np.asarray(y)), rtol=1e-10
    )


def test_squared_error_matches_numpy(key, x64):
    z = jax.random.normal(key, (50, 2), jnp.float64)
    t = jax.random.normal(jax.random.key(1), (50, 2), jnp.float64)
    np.testing.assert_allclose(
        heads.squared_error(z, t), ((np.asarray(z) - np.asarray(t)) ** 2).mean(1), rtol=1e-12
    )


@pytest.mark.parametrize("name", heads.NAMES)
def test_delta_is_the_gradient_of_the_mean_loss(name, key, x64):
    d = 1 if name == "sigmoid" else 3
    z = jax.random.normal(key, (20, d), jnp.float64) * 2
    if name == "linear":
        y = jax.random.normal(jax.random.key(1), (20, d), jnp.float64)
    else:
        y = jax.random.randint(jax.random.key(1), (20,), 0, max(d, 2))
    head = heads.get(name)
    auto = jax.grad(lambda z: jnp.mean(head.per_sample_loss(z, y)))(z)
    np.testing.assert_allclose(head.delta(z, y), auto, rtol=1e-6, atol=1e-15)


@pytest.mark.parametrize("name", heads.NAMES)
def test_loss_and_gradient_finite_at_huge_logits_float32(name):
    z = jnp.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]], jnp.float32)
    if name == "sigmoid":
        z, y = z[:, :1], jnp.array([0, 1])
    elif name == "linear":
        y = jnp.zeros((2, 3))
    else:
        y = jnp.array([1, 1])
    head = heads.get(name)
    value, grad = jax.value_and_grad(lambda z: jnp.mean(head.per_sample_loss(z, y)))(z)
    assert bool(jnp.isfinite(value)) and bool(jnp.all(jnp.isfinite(grad)))
    if name == "softmax":  # exact values for confidently wrong / right logits
        np.testing.assert_allclose(head.per_sample_loss(z, y), [2e4, 0.0], rtol=1e-6)


def test_unknown_head_lists_valid_names():
    with pytest.raises(ValueError, match="head: expected one of softmax, sigmoid, linear"):
        heads.get("hinge")
