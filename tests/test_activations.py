import jax
import jax.numpy as jnp
import numpy as np
import pytest

from funcmlp import activations

ELEMENTWISE = list(activations.HIDDEN.values()) + [activations.leaky(0.1)]


def _points(key, n=512):
    z = jax.random.uniform(key, (n,), jnp.float64, -6.0, 6.0)
    return z[jnp.abs(z) > 1e-3]  # away from the kinks at 0


@pytest.mark.parametrize("act", ELEMENTWISE, ids=lambda a: a.name)
def test_hand_derivative_equals_jax_grad(act, key, x64):
    z = _points(key)
    auto = jax.vmap(jax.grad(act.fn))(z)
    np.testing.assert_allclose(act.grad(z), auto, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize(
    "name, expected_at_zero",
    [("step", 0.0), ("linear", 1.0), ("relu", 0.0), ("leaky_relu", 0.01), ("sigmoid", 0.25), ("tanh", 1.0)],
)
def test_derivative_at_kink_is_the_documented_choice(name, expected_at_zero):
    assert float(activations.get(name).grad(jnp.zeros(()))) == pytest.approx(expected_at_zero)


@pytest.mark.parametrize(
    "name, reference",
    [("relu", jax.nn.relu), ("leaky_relu", lambda z: jnp.where(z > 0, z, 0.01 * z))],
)
def test_kink_choice_matches_jax_grad_of_the_usual_definition(name, reference):
    assert float(activations.get(name).grad(jnp.zeros(()))) == pytest.approx(float(jax.grad(reference)(0.0)))


def test_values_against_numpy_float64(key, x64):
    z = np.asarray(jax.random.normal(key, (200,), jnp.float64) * 4)
    expected = {
        "step": (z > 0).astype(float),
        "linear": z,
        "sigmoid": 1 / (1 + np.exp(-z)),
        "tanh": (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z)),
        "relu": np.maximum(0, z),
        "leaky_relu": np.where(z > 0, z, 0.01 * z),
    }
    for name, ref in expected.items():
        np.testing.assert_allclose(activations.get(name).fn(jnp.asarray(z)), ref, rtol=1e-12, err_msg=name)
    np.testing.assert_allclose(
        activations.get("leaky_relu:0.1").fn(jnp.asarray(z)), np.where(z > 0, z, 0.1 * z)
    )


def test_sigmoid_derivative_bound_is_a_quarter(x64):
    z = jnp.linspace(-20, 20, 4001)
    assert float(jnp.max(activations.sigmoid_grad(z))) == pytest.approx(0.25)


def test_softmax_and_its_jacobian(key, x64):
    z = jax.random.normal(key, (5, 4), jnp.float64) * 3
    e = np.exp(np.asarray(z) - np.asarray(z).max(axis=1, keepdims=True))
    np.testing.assert_allclose(activations.softmax(z), e / e.sum(axis=1, keepdims=True), rtol=1e-12)
    auto = jax.vmap(jax.jacobian(activations.softmax))(z)
    np.testing.assert_allclose(activations.softmax_grad(z), auto, rtol=1e-6, atol=1e-12)


def test_softmax_is_finite_for_huge_logits():
    z = jnp.array([[1e4, -1e4, 0.0]], jnp.float32)
    assert bool(jnp.all(jnp.isfinite(activations.softmax(z))))


def test_leaky_is_cached_and_unknown_names_are_listed():
    assert activations.leaky(0.1) is activations.get("leaky_relu:0.1")
    with pytest.raises(ValueError, match="activation: expected one of step, linear"):
        activations.get("swish")


def test_distinct_functions_sharing_a_name_get_numbered_labels_in_the_order_given():
    f, g, h = (lambda z: z), (lambda z: 2 * z), (lambda z: 3 * z)

    def relu(z):  # a function of your own named like a built-in
        return jnp.maximum(z, 0.0)

    acts = [activations.get(a) for a in (f, g, "relu", f, relu, h)]
    got = activations.distinct(acts)
    assert [a.name for a in got] == ["<lambda>", "<lambda>#2", "relu", "<lambda>", "relu#2", "<lambda>#3"]
    assert [a.fn for a in got] == [f, g, activations.relu, f, relu, h]
    assert got[2] is activations.HIDDEN["relu"] and activations.builtin(got[2])  # a built-in keeps its name
    # a name given by you is kept, and a number it already uses is skipped
    named = activations.from_function(h, name="<lambda>#2")
    assert [a.name for a in activations.distinct([named, activations.get(f), activations.get(g)])] == [
        "<lambda>#2",
        "<lambda>",
        "<lambda>#3",
    ]
    assert activations.distinct([activations.get("tanh")] * 2) == [activations.HIDDEN["tanh"]] * 2


def test_named_finds_the_builtin_of_a_label():
    assert activations.named("tanh") is activations.HIDDEN["tanh"]
    assert activations.named("leaky_relu(0.1)") is activations.leaky(0.1)
    for label in ("<lambda>", "relu#2", "leaky_relu(x)", "leaky_relu(0.10)"):
        assert activations.named(label) is None
