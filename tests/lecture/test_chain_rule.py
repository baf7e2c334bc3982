import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import funcmlp
from funcmlp import activations, heads
from funcmlp.lecture.chain_rule import backprop, reduced_form

N = 12


def _problem(head, n_hidden, seed=0, width=5):
    """Random float64 params (non-zero biases), inputs and labels/targets for a head."""
    d_out = {"softmax": 3, "sigmoid": 1, "linear": 2}[head]
    sizes = (3,) + (width,) * n_hidden + (d_out,)
    k = jax.random.split(jax.random.key(seed), 4)
    params = funcmlp.init_params(k[0], sizes, scheme="glorot", dtype=jnp.float64)
    params = [
        {"w": p["w"], "b": 0.3 * jax.random.normal(kb, p["b"].shape, jnp.float64)}
        for p, kb in zip(params, jax.random.split(k[1], len(params)), strict=True)
    ]
    x = jax.random.normal(k[2], (N, sizes[0]), jnp.float64)
    if head == "linear":
        y = jax.random.normal(k[3], (N, d_out), jnp.float64)
    else:
        y = jax.random.randint(k[3], (N,), 0, max(d_out, 2))
    return params, x, y


@pytest.mark.parametrize("n_hidden", [1, 2, 3, 4])
@pytest.mark.parametrize("activation", activations.NAMES)
@pytest.mark.parametrize("head", heads.NAMES)
def test_backprop_equals_jax_grad(head, activation, n_hidden, x64):
    params, x, y = _problem(head, n_hidden, seed=n_hidden)
    kw = {"activation": activation, "head": head}
    ours = funcmlp.backprop(params, x, y, **kw)
    auto = jax.grad(funcmlp.loss)(params, x, y, **kw)
    chex.assert_trees_all_equal_shapes_and_dtypes(ours, auto)
    chex.assert_trees_all_close(ours, auto, rtol=1e-6, atol=1e-13)


@pytest.mark.parametrize("head", heads.NAMES)
def test_backprop_with_l2_equals_jax_grad(head, x64):
    params, x, y = _problem(head, 2)
    ours = backprop(params, x, y, activation="tanh", head=head, l2=0.3)
    auto = jax.grad(funcmlp.loss)(params, x, y, activation="tanh", head=head, l2=0.3)
    chex.assert_trees_all_close(ours, auto, rtol=1e-6, atol=1e-13)
    plain = backprop(params, x, y, activation="tanh", head=head)
    for g, g0, p in zip(ours, plain, params, strict=True):  # dW += l2 W, biases untouched
        np.testing.assert_allclose(g["w"] - g0["w"], 0.3 * p["w"], rtol=1e-10, atol=1e-15)
        np.testing.assert_array_equal(g["b"], g0["b"])


@pytest.mark.parametrize("activation", ["linear", "sigmoid", "tanh"])
@pytest.mark.parametrize("head", heads.NAMES)
def test_backprop_matches_finite_differences(head, activation, x64):
    """check_grads compares the VJP with central differences; the VJP here is our backprop."""
    params, x, y = _problem(head, 2, seed=7)
    kw = {"activation": activation, "head": head, "l2": 0.1}

    @jax.custom_vjp
    def j(p):
        return funcmlp.loss(p, x, y, **kw)

    def j_fwd(p):
        return j(p), p

    def j_bwd(p, g):
        return (jax.tree.map(lambda t: g * t, backprop(p, x, y, **kw)),)

    j.defvjp(j_fwd, j_bwd)
    check_grads(j, (params,), order=1, modes=("rev",), eps=1e-5, atol=1e-7, rtol=1e-6)


def test_logistic_unit_gradient_is_x_transpose_yhat_minus_y(x64):
    """No hidden layer, sigmoid + BCE: dJ/dw = X^T (y_hat - y) / n, dJ/db = mean(y_hat - y) (numpy)."""
    params, x, y = _problem("sigmoid", 0)
    xn, yn = np.asarray(x), np.asarray(y, np.float64)
    w, b = np.asarray(params[0]["w"]), np.asarray(params[0]["b"])
    y_hat = 1 / (1 + np.exp(-(xn @ w + b)[:, 0]))
    (g,) = backprop(params, x, y, head="sigmoid")
    np.testing.assert_allclose(g["w"][:, 0], xn.T @ (y_hat - yn) / N, rtol=1e-10)
    np.testing.assert_allclose(g["b"][0], np.mean(y_hat - yn), rtol=1e-10)


def test_lecture_network_by_the_notes_formulas(x64):
    """2 -> 4 -> 3 ReLU/softmax, every line of the notes in numpy, with act'(z^1) = 1[z^1 > 0] kept."""
    params, x, y = _problem("softmax", 1, width=4)
    x = np.asarray(x)
    w1, b1, w2, b2 = (np.asarray(params[i][k]) for i in (0, 1) for k in ("w", "b"))
    z1 = x @ w1 + b1
    a1 = np.maximum(z1, 0)
    z2 = a1 @ w2 + b2
    a2 = np.exp(z2) / np.exp(z2).sum(1, keepdims=True)
    g = (a2 - np.eye(3)[np.asarray(y)]) / N  # dJ/dz^2 = (A^2 - y) / n
    expected = [
        {"w": x.T @ ((g @ w2.T) * (z1 > 0)), "b": ((g @ w2.T) * (z1 > 0)).sum(0)},
        {"w": a1.T @ g, "b": g.sum(0)},
    ]
    chex.assert_trees_all_close(backprop(params, x, y), expected, rtol=1e-10)


def test_sigmoid_network_by_the_notes_formulas(x64):
    """Page 2: h = s(z^h), y_hat = s(z^o), BCE; delta^o = y_hat - y, delta^h = s'(z^h) * delta^o W^oT
    (numpy)."""
    params, x, y = _problem("sigmoid", 1, width=3)
    x, yn = np.asarray(x), np.asarray(y, np.float64)[:, None]
    wi, bi, wo, bo = (np.asarray(params[i][k]) for i in (0, 1) for k in ("w", "b"))
    s = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    zh = x @ wi + bi
    h = s(zh)
    y_hat = s(h @ wo + bo)
    delta_o = (y_hat - yn) / N  # 1a: s'(z^o) cancels against dL/dy_hat = (y_hat - y) / (y_hat (1 - y_hat))
    delta_h = s(zh) * (1 - s(zh)) * (delta_o @ wo.T)  # 2a and delta^h
    expected = [{"w": x.T @ delta_h, "b": delta_h.sum(0)}, {"w": h.T @ delta_o, "b": delta_o.sum(0)}]
    chex.assert_trees_all_close(
        backprop(params, x, y, activation="sigmoid", head="sigmoid"), expected, rtol=1e-10
    )


def test_reduced_form_without_relu_mask_is_wrong(x64):
    params, x, y = _problem("softmax", 1, width=4)
    z1 = np.asarray(x @ params[0]["w"] + params[0]["b"])
    assert (z1 <= 0).any() and (z1 > 0).any()  # some ReLU units are off, so the mask matters
    true, reduced = backprop(params, x, y), reduced_form(params, x, y)
    chex.assert_trees_all_close(reduced[1], true[1], rtol=1e-12)  # the output layer has no act'
    err = np.linalg.norm(reduced[0]["w"] - true[0]["w"]) / np.linalg.norm(true[0]["w"])
    assert err > 0.1, err
    # Where act' = 1 the reduced form is exact: linear hidden layers.
    chex.assert_trees_all_close(
        reduced_form(params, x, y, activation="linear"),
        backprop(params, x, y, activation="linear"),
        rtol=1e-12,
    )


def test_backprop_refuses_bad_input():
    params = funcmlp.init_params(jax.random.key(0), (2, 4, 3))
    with pytest.raises(ValueError, match=r"x: expected 2 features"):
        backprop(params, jnp.ones((5, 3)), jnp.zeros(5, jnp.int32))
    with pytest.raises(ValueError, match=r"y: expected labels in \[0, 3\)"):
        backprop(params, jnp.ones((5, 2)), jnp.full(5, 3))
    with pytest.raises(ValueError, match="l2: expected a non-negative number, got -0.1"):
        backprop(params, jnp.ones((5, 2)), jnp.zeros(5, jnp.int32), l2=-0.1)
    with pytest.raises(ValueError, match="activation: expected one of"):
        backprop(params, jnp.ones((5, 2)), jnp.zeros(5, jnp.int32), activation="gelu")


def test_backprop_under_jit_matches_eager():
    x, y = funcmlp.data.spiral(jax.random.key(0))
    params = funcmlp.init_params(jax.random.key(1), (2, 8, 3))
    jitted = jax.jit(backprop, static_argnames=("activation", "head"))(params, x, y, activation="tanh")
    chex.assert_trees_all_close(jitted, backprop(params, x, y, activation="tanh"), rtol=1e-5, atol=1e-7)
