import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp.lecture import diagnostics


def _deep(activation, depth, *, scheme, gain=1.0, width=16, seed=0):
    x, y = funcmlp.data.spiral(jax.random.key(seed), 20)
    sizes = (2,) + (width,) * depth + (3,)
    params = funcmlp.init_params(jax.random.key(seed + 1), sizes, scheme=scheme, dtype=jnp.float64)
    params = [{"w": gain * p["w"], "b": p["b"]} for p in params]
    return params, x.astype(jnp.float64), y


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "step"])
def test_layer_grad_norms_are_frobenius_norms_of_jax_grad(activation, x64):
    params, x, y = _deep(activation, 3, scheme="glorot")
    norms = diagnostics.layer_grad_norms(params, x, y, activation=activation)
    grads = jax.grad(funcmlp.loss)(params, x, y, activation=activation)
    expected = [np.linalg.norm(np.asarray(g["w"])) for g in grads]
    assert norms.shape == (4,)
    np.testing.assert_allclose(norms, expected, rtol=1e-6, atol=1e-300)


def test_sigmoid_gradients_vanish_with_depth(x64):
    """Each sigmoid layer multiplies the backward signal by act' <= 0.25: after 30 layers it is ~0."""
    depth = 30
    params, x, y = _deep("sigmoid", depth, scheme="glorot")
    norms = np.asarray(diagnostics.layer_grad_norms(params, x, y, activation="sigmoid"))
    assert norms[0] / norms[-1] < diagnostics.sigmoid_bound(depth // 2)
    assert np.all(np.diff(np.log(norms[:-1])) > 0)  # smaller at every step towards the input


def test_relu_with_he_init_keeps_gradients_and_gain_two_explodes_them(x64):
    depth = 30
    he, x, y = _deep("relu", depth, scheme="he")
    big, _, _ = _deep("relu", depth, scheme="he", gain=2.0)
    norms_he = np.asarray(diagnostics.layer_grad_norms(he, x, y, activation="relu"))
    norms_big = np.asarray(diagnostics.layer_grad_norms(big, x, y, activation="relu"))
    assert 1e-3 < norms_he[0] / norms_he[-1] < 1e3
    assert norms_big[0] > 1e6 * norms_he[0]  # about 2^30 ~ 1e9


def test_sigmoid_bound():
    assert diagnostics.sigmoid_bound(50) == pytest.approx(2.0**-100, rel=1e-12, abs=0)
    assert diagnostics.sigmoid_bound(50) == pytest.approx(7.9e-31, rel=0.01, abs=0)


def test_step_activation_leaves_hidden_weights_unchanged():
    """act' = 0: dJ/dW^l = 0 below the output layer, so gradient descent never moves those weights."""
    x, y = funcmlp.data.spiral(jax.random.key(0))
    params = funcmlp.init_params(jax.random.key(1), (2, 8, 8, 3))
    result = funcmlp.train(params, x, y, optimizer=optax.sgd(1.0), steps=100, activation="step")
    for before, after in zip(params[:-1], result.params[:-1], strict=True):
        np.testing.assert_array_equal(after["w"], before["w"])
        np.testing.assert_array_equal(after["b"], before["b"])
    assert not np.array_equal(result.params[-1]["w"], params[-1]["w"])
    change = diagnostics.max_weight_change(params, result.params)
    expected = [
        np.abs(np.asarray(a["w"]) - np.asarray(b["w"])).max()
        for b, a in zip(params, result.params, strict=True)
    ]
    np.testing.assert_array_equal(change, expected)
    assert change[0] == 0 and change[1] == 0 and change[2] > 0
    norms = diagnostics.layer_grad_norms(params, x, y, activation="step")
    np.testing.assert_array_equal(norms[:-1], [0.0, 0.0])
    assert norms[-1] > 0
