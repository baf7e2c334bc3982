import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcmlp
from funcmlp import data


def _np_forward(params, x, act):
    a = np.asarray(x, np.float64)
    for layer in params[:-1]:
        a = act(a @ np.asarray(layer["w"], np.float64) + np.asarray(layer["b"], np.float64))
    return a @ np.asarray(params[-1]["w"], np.float64) + np.asarray(params[-1]["b"], np.float64)


def test_lecture_shapes_under_jit(key):
    x, y = data.spiral(key)
    params = funcmlp.init_params(jax.random.key(1), (2, 4, 3))
    assert [(p["w"].shape, p["b"].shape) for p in params] == [((2, 4), (4,)), ((4, 3), (3,))]
    hidden = jax.jit(lambda p, x: jax.nn.relu(x @ p[0]["w"] + p[0]["b"]))(params, x)
    chex.assert_shape(x, (300, 2))
    chex.assert_shape(hidden, (300, 4))
    chex.assert_shape(jax.jit(funcmlp.forward)(params, x), (300, 3))
    assert jax.jit(funcmlp.loss)(params, x, y).shape == ()


def test_wrong_input_width_is_refused_with_both_shapes(key):
    params = funcmlp.init_params(key, (2, 4, 3))
    with pytest.raises(ValueError, match=r"x: expected 2 features .* got shape \(300, 5\)"):
        funcmlp.forward(params, jnp.ones((300, 5)))
    with pytest.raises(ValueError, match=r"x: expected 2 features"):
        jax.jit(funcmlp.forward)(params, jnp.ones((300, 5)))


def test_params_that_do_not_chain_are_refused(key):
    params = funcmlp.init_params(key, (2, 4, 3))
    params[1]["w"] = jnp.ones((5, 3))
    with pytest.raises(ValueError, match="do not chain"):
        funcmlp.forward(params, jnp.ones((3, 2)))


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu", "linear"])
def test_forward_matches_numpy_float64(activation, key, x64):
    ref_act = {
        "relu": lambda z: np.maximum(z, 0),
        "tanh": np.tanh,
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
        "linear": lambda z: z,
    }[activation]
    params = funcmlp.init_params(key, (3, 5, 4, 2), dtype=jnp.float64)
    x = jax.random.normal(jax.random.key(2), (7, 3), jnp.float64)
    out = funcmlp.forward(params, x, activation=activation)
    assert out.dtype == jnp.float64
    np.testing.assert_allclose(out, _np_forward(params, x, ref_act), rtol=1e-12)


def test_loss_per_head_matches_numpy_float64(key, x64):
    x = jax.random.normal(key, (40, 2), jnp.float64)
    p3 = funcmlp.init_params(jax.random.key(1), (2, 6, 3), dtype=jnp.float64)
    p1 = funcmlp.init_params(jax.random.key(1), (2, 6, 1), dtype=jnp.float64)
    relu = lambda z: np.maximum(z, 0)  # noqa: E731
    y = np.asarray(jax.random.randint(jax.random.key(3), (40,), 0, 3))
    z = _np_forward(p3, x, relu)
    ce = np.log(np.exp(z).sum(1)) - z[np.arange(40), y]
    np.testing.assert_allclose(funcmlp.loss(p3, x, y), ce.mean(), rtol=1e-10)
    yb = y % 2
    s = 1 / (1 + np.exp(-_np_forward(p1, x, relu)[:, 0]))
    bce = -(yb * np.log(s) + (1 - yb) * np.log(1 - s))
    np.testing.assert_allclose(funcmlp.loss(p1, x, yb, head="sigmoid"), bce.mean(), rtol=1e-10)
    t = np.asarray(jax.random.normal(jax.random.key(4), (40, 3), jnp.float64))
    np.testing.assert_allclose(funcmlp.loss(p3, x, t, head="linear"), ((z - t) ** 2).mean(), rtol=1e-10)
    l2 = 1e-3 * 0.5 * sum((np.asarray(p["w"]) ** 2).sum() for p in p3)
    np.testing.assert_allclose(funcmlp.loss(p3, x, y, l2=1e-3), ce.mean() + l2, rtol=1e-10)


@pytest.mark.parametrize(
    "scheme, std",
    [
        ("he", lambda i, o: np.sqrt(2 / i)),
        ("glorot", lambda i, o: np.sqrt(2 / (i + o))),
        ("normal", lambda i, o: 0.01),
    ],
)
def test_init_schemes_have_their_documented_scale(scheme, std, key):
    params = funcmlp.init_params(key, (400, 300, 200), scheme=scheme)
    for layer in params:
        d_in, d_out = layer["w"].shape
        assert float(jnp.std(layer["w"])) == pytest.approx(std(d_in, d_out), rel=0.03)
        assert float(jnp.abs(jnp.mean(layer["w"]))) < 0.01 * std(d_in, d_out) + 1e-3
        assert not bool(jnp.any(layer["b"]))


@pytest.mark.parametrize("sizes", [(2, 4, 3), (64, 128, 10), (7, 5, 1)])
@pytest.mark.parametrize("scheme", ["he", "glorot", "normal"])
def test_init_draws_each_layer_from_its_key_as_one_shaped_draw(sizes, scheme, key):
    """W^l is jax.random's draw of shape (d_in, d_out) from the l-th split key, scaled as documented."""
    params = funcmlp.init_params(key, sizes, scheme=scheme)
    keys = jax.random.split(key, len(sizes) - 1)
    for k, layer, d_in, d_out in zip(keys, params, sizes[:-1], sizes[1:], strict=True):
        if scheme == "glorot":
            r = (6.0 / (d_in + d_out)) ** 0.5
            want = jax.random.uniform(k, (d_in, d_out), jnp.float32, -r, r)
        else:
            scale = np.sqrt(2.0 / d_in) if scheme == "he" else 0.01
            want = jax.random.normal(k, (d_in, d_out), jnp.float32) * jnp.float32(scale)
        np.testing.assert_array_equal(layer["w"], want)


def test_init_rejects_bad_sizes_and_scheme(key):
    with pytest.raises(ValueError, match="sizes: expected at least two"):
        funcmlp.init_params(key, (2,))
    with pytest.raises(ValueError, match="sizes: expected positive integer"):
        funcmlp.init_params(key, (2, 0, 3))
    with pytest.raises(ValueError, match="scheme: expected one of he, glorot, normal, got 'xavier'"):
        funcmlp.init_params(key, (2, 3), scheme="xavier")


def test_predict_and_accuracy(key):
    params = funcmlp.init_params(key, (2, 4, 3))
    x, y = data.spiral(key)
    pred = funcmlp.predict(params, x)
    np.testing.assert_array_equal(pred, np.argmax(np.asarray(funcmlp.forward(params, x)), axis=1))
    assert float(funcmlp.accuracy(params, x, y)) == pytest.approx(
        float(np.mean(np.asarray(pred) == np.asarray(y)))
    )
