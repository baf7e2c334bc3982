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


# -- class weights: heads.weighted, heads.balanced_weights --------------------------------------------------


def test_balanced_weights_are_n_over_k_times_n_k():
    y = np.array([0, 0, 0, 1, 2, 2])  # n = 6, K = 3, n_k = (3, 1, 2)
    np.testing.assert_allclose(heads.balanced_weights(y, 3), [6 / 9, 6 / 3, 6 / 6], rtol=1e-6)
    assert float(np.sum(heads.balanced_weights(y, 3)[y])) == pytest.approx(6)  # sum_i w_{y_i} = n
    np.testing.assert_allclose(heads.balanced_weights([0, 0, 1], 3), [3 / 6, 3 / 3, 0.0])  # class 2 absent


@pytest.mark.parametrize("name", ["softmax", "sigmoid"])
def test_weighted_head_gradient_matches_the_reference_formula(name, key, x64):
    n, k = 30, (1 if name == "sigmoid" else 4)
    w = np.array([0.5, 3.0] if name == "sigmoid" else [0.5, 3.0, 1.0, 2.0])
    z = jax.random.normal(key, (n, k), jnp.float64) * 2
    y = jax.random.randint(jax.random.key(1), (n,), 0, len(w))
    yn = np.asarray(y)

    def reference(
        z,
    ):  # the numpy formulas, in jnp for jax.grad: w_y (logsumexp(z) - z_y), w_y (softplus(z) - y z)
        if name == "sigmoid":
            per = jnp.logaddexp(0.0, z[:, 0]) - yn * z[:, 0]
        else:
            per = jax.nn.logsumexp(z, axis=1) - z[np.arange(n), yn]
        return jnp.mean(jnp.asarray(w)[yn] * per)

    head = heads.weighted(name, w)
    np.testing.assert_allclose(jnp.mean(head.per_sample_loss(z, y)), reference(z), rtol=1e-12)
    want = jax.grad(reference)(z)
    np.testing.assert_allclose(head.delta(z, y), want, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(jax.grad(lambda z: jnp.mean(head.per_sample_loss(z, y)))(z), want, rtol=1e-10)
    zn = np.asarray(z)
    if name == "softmax":  # and the closed form w_{y_i} (softmax(z_i) - onehot(y_i)) / n
        p = np.exp(zn - zn.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        closed = w[yn][:, None] * (p - np.eye(k)[yn]) / n
    else:  # w_{y_i} (sigmoid(z_i) - y_i) / n
        closed = (w[yn] * (1 / (1 + np.exp(-zn[:, 0])) - yn) / n)[:, None]
    np.testing.assert_allclose(want, closed, rtol=1e-10, atol=1e-15)
    assert head.name == name and head.predict is heads.get(name).predict
    assert heads.weighted(name, list(w)) is head  # cached: one compiled program per head and weights


def test_train_and_sweep_take_a_weighted_head():
    import optax

    import funcmlp

    x = jax.random.normal(jax.random.key(2), (24, 3))
    y = jnp.asarray(np.repeat([0, 1, 2], [16, 6, 2]))
    head = heads.weighted("softmax", heads.balanced_weights(y, 3))
    init = funcmlp.init_params(jax.random.split(jax.random.key(3), 2)[1], (3, 5, 3))
    trained = funcmlp.train(init, x, y, optimizer=optax.sgd(0.5), steps=20, head=head)

    w = jnp.asarray(heads.balanced_weights(y, 3))

    def reference(p):
        z = funcmlp.forward(p, x)
        return jnp.mean(w[y] * (jax.nn.logsumexp(z, axis=1) - z[jnp.arange(24), y]))

    @jax.jit
    def descend(p):  # 20 steps of plain gradient descent on the weighted mean loss
        for _ in range(20):
            p = jax.tree.map(lambda a, g: a - 0.5 * g, p, jax.grad(reference)(p))
        return p

    p = descend(init)
    for a, b in zip(jax.tree.leaves(trained.params), jax.tree.leaves(p), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-5)
    result = funcmlp.sweep(
        jax.random.key(3), x, y, sizes=(3, 5, 3), seeds=2, steps=20, learning_rates=[0.5], head=head
    )
    assert result.head == "softmax"
    for a, b in zip(jax.tree.leaves(result.model(0, 0, 1)), jax.tree.leaves(p), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: heads.weighted("linear", [1.0]), "head: class weights need a classification head"),
        (
            lambda: heads.weighted("softmax", [1.0, -1.0]),
            r"class_weights: expected K >= 1 finite weights >= 0",
        ),
        (
            lambda: heads.weighted("softmax", [1.0, 2.0]).check_y(np.array([0, 1]), 2, 3),
            r"class_weights: expected 3 weights \(one per class\), got 2",
        ),
    ],
)
def test_weighted_head_refuses_bad_weights(call, message):
    with pytest.raises(ValueError, match=message):
        call()
