import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp.lecture.linear import boundary_line, collapse_linear


def _params(sizes, seed=0):
    params = funcmlp.init_params(jax.random.key(seed), sizes, scheme="glorot", dtype=jnp.float64)
    keys = jax.random.split(jax.random.key(seed + 1), len(params))
    return [
        {"w": p["w"], "b": jax.random.normal(k, p["b"].shape, jnp.float64)}
        for p, k in zip(params, keys, strict=True)
    ]


@pytest.mark.parametrize("sizes", [(3, 2), (3, 5, 2), (2, 4, 4, 3), (4, 8, 1, 6, 3)])
def test_linear_stack_is_one_affine_map(sizes, x64):
    params = _params(sizes)
    x = jax.random.normal(jax.random.key(9), (11, sizes[0]), jnp.float64)
    w, b = collapse_linear(params)
    assert w.shape == (sizes[0], sizes[-1]) and b.shape == (sizes[-1],)
    np.testing.assert_allclose(
        funcmlp.forward(params, x, activation="linear"), np.asarray(x) @ w + b, rtol=1e-10
    )
    # W is the plain product of the weight matrices (numpy, independent of the fold).
    np.testing.assert_allclose(w, np.linalg.multi_dot([np.eye(sizes[0])] + [p["w"] for p in params]))


def test_a_nonlinearity_breaks_the_collapse(x64):
    params = _params((2, 8, 3))
    x = jax.random.normal(jax.random.key(9), (50, 2), jnp.float64)
    w, b = collapse_linear(params)
    gap = np.abs(funcmlp.forward(params, x, activation="relu") - (x @ w + b)).max()
    assert gap > 0.1


def test_deep_linear_network_is_no_better_than_a_linear_classifier_on_the_spiral():
    x, y = funcmlp.data.spiral(jax.random.key(0))
    deep = funcmlp.init_params(jax.random.key(1), (2, 16, 16, 3))
    deep = funcmlp.train(deep, x, y, optimizer=optax.sgd(0.1), steps=1000, activation="linear").params
    w, b = collapse_linear(deep)
    np.testing.assert_array_equal(
        funcmlp.predict(deep, x, activation="linear"), np.argmax(np.asarray(x @ w + b), axis=1)
    )
    shallow = funcmlp.init_params(jax.random.key(1), (2, 3), scheme="normal")
    shallow = funcmlp.train(shallow, x, y, optimizer=optax.sgd(1.0), steps=200, l2=1e-3).params
    acc_deep = float(funcmlp.accuracy(deep, x, y, activation="linear"))
    acc_shallow = float(funcmlp.accuracy(shallow, x, y))
    # The notes: ~52% with a linear decision boundary
    # (a ReLU hidden layer of 4 units reaches > 75%: test_train).
    assert 0.4 < acc_shallow < 0.6 and 0.4 < acc_deep < 0.6, (acc_shallow, acc_deep)


def test_logistic_unit_has_a_straight_boundary():
    x, y = funcmlp.data.spiral(jax.random.key(0), n_classes=2)
    params = funcmlp.init_params(jax.random.key(1), (2, 1), scheme="normal")
    params = funcmlp.train(params, x, y, optimizer=optax.sgd(1.0), steps=500, head="sigmoid").params
    w, b = params[0]["w"][:, 0], params[0]["b"]
    pred = funcmlp.predict(params, x, head="sigmoid")
    np.testing.assert_array_equal(pred, (np.asarray(x) @ np.asarray(w) + float(b[0]) > 0).astype(int))
    assert float(jnp.mean(pred == y)) < 0.8  # one line cannot follow a spiral
    point, direction = boundary_line(w, b)
    normal = np.asarray(w) / np.linalg.norm(w)
    for t in [-2.0, 0.0, 3.0]:  # points along the line, nudged to either side of it
        on = np.asarray(point + t * direction)
        assert abs(on @ np.asarray(w) + float(b[0])) < 1e-5
        sides = np.stack([on + 1e-3 * normal, on - 1e-3 * normal]).astype(np.float32)
        np.testing.assert_array_equal(funcmlp.predict(params, sides, head="sigmoid"), [1, 0])


def test_bad_arguments():
    with pytest.raises(TypeError, match="params: expected a non-empty list"):
        collapse_linear({})
    with pytest.raises(ValueError, match=r"w, b: expected a 2-D unit's weights \(2,\) and bias \(1,\)"):
        boundary_line(jnp.ones(3), jnp.ones(1))
