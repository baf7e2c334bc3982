import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp.lecture import perceptron


def _np_perceptron(x, y, epochs, lr):
    """The rule in plain float64 numpy: on a mistake, w += lr y_i x_i, b += lr y_i."""
    w, b, errors = np.zeros(x.shape[1]), 0.0, []
    for _ in range(epochs):
        mistakes = 0
        for xi, yi in zip(x, y, strict=True):
            y_hat = 1 if xi @ w + b > 0 else -1
            if y_hat != yi:
                w, b, mistakes = w + lr * yi * xi, b + lr * yi, mistakes + 1
        errors.append(mistakes)
    return w, b, np.array(errors)


def _signed(dataset, **kw):
    x, y = dataset(jax.random.key(3), **kw)
    return x, 2 * y - 1  # labels {0, 1} -> {-1, +1}


@pytest.mark.parametrize("dataset", [funcmlp.data.blobs, funcmlp.data.xor, funcmlp.data.moons])
def test_fit_equals_the_rule_in_numpy(dataset, x64):
    x, y = _signed(dataset, n_per_class=20) if dataset is not funcmlp.data.xor else _signed(dataset)
    x = np.asarray(x, np.float64)
    perm = np.random.default_rng(0).permutation(len(y))  # interleave the classes
    x, y = x[perm], np.asarray(y)[perm]
    result = perceptron.fit(x, y, epochs=8, lr=0.5)
    w, b, errors = _np_perceptron(x, y, 8, 0.5)
    np.testing.assert_allclose(result.w, w, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result.b, b, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(result.errors, errors)


def test_reaches_zero_errors_on_linearly_separable_blobs():
    x, y = _signed(funcmlp.data.blobs, spread=0.6)
    result = perceptron.fit(x, y, epochs=30)
    assert int(result.errors[0]) > 0  # it had to learn
    assert int(result.errors[-1]) == 0
    np.testing.assert_array_equal(perceptron.predict(result.w, result.b, x), y)


def test_never_reaches_zero_errors_on_xor():
    x, y = _signed(funcmlp.data.xor)
    result = perceptron.fit(x, y, epochs=100)
    assert int(jnp.min(result.errors)) > 0
    # No line separates XOR: at best three of the four clusters are on the right side.
    assert float(jnp.mean(perceptron.predict(result.w, result.b, x) == y)) <= 0.76


def test_two_hidden_units_solve_xor():
    """A 2-2-1 tanh network with a sigmoid head, trained by gradient descent, separates XOR
    (best of 8 seeds)."""
    x, y = funcmlp.data.xor(jax.random.key(3))

    def one(key):
        params = funcmlp.init_params(key, (2, 2, 1), scheme="glorot")
        result = funcmlp.train(
            params, x, y, optimizer=optax.sgd(1.0), steps=2000, activation="tanh", head="sigmoid"
        )
        return funcmlp.accuracy(result.params, x, y, activation="tanh", head="sigmoid")

    accuracies = jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(0), 8))
    assert float(jnp.max(accuracies)) == 1.0


def test_learning_rate_only_rescales_from_zero():
    x, y = _signed(funcmlp.data.moons)
    small, big = perceptron.fit(x, y, epochs=5, lr=0.1), perceptron.fit(x, y, epochs=5, lr=1.0)
    np.testing.assert_array_equal(small.errors, big.errors)
    np.testing.assert_allclose(10 * small.w, big.w, rtol=1e-5)


def test_predict_uses_the_threshold_strictly():
    w, b = jnp.array([1.0, 0.0]), jnp.array(-1.0)  # phi = 1: y_hat = 1 iff x_1 > 1
    x = jnp.array([[0.5, 3.0], [1.0, 0.0], [1.5, -2.0]])
    np.testing.assert_array_equal(perceptron.predict(w, b, x), [-1, -1, 1])


def test_bad_arguments():
    x, y = _signed(funcmlp.data.blobs)
    with pytest.raises(ValueError, match=r"y: expected labels in \{-1, \+1\}, got \[0\]"):
        perceptron.fit(x, (y + 1) // 2, epochs=1)
    with pytest.raises(ValueError, match="epochs: expected a positive integer, got 0"):
        perceptron.fit(x, y, epochs=0)
    with pytest.raises(ValueError, match="lr: expected a positive number, got -1"):
        perceptron.fit(x, y, epochs=1, lr=-1)
    with pytest.raises(ValueError, match="lr: expected a positive number"):
        perceptron.fit(x, y, epochs=1, lr=jnp.array([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"x: expected a 2-D array \(n, d\), got shape \(200,\)"):
        perceptron.fit(x[:, 0], y, epochs=1)
    with pytest.raises(ValueError, match=r"y: expected labels of shape \(200,\)"):
        perceptron.fit(x, y[:10], epochs=1)
