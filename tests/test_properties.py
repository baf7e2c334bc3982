"""Property tests: random shapes, dtypes and values (NaN, inf, huge, non-integer labels, wrong widths) go
through the public entry points and come out either as a clear ValueError/TypeError raised by funcmlp itself
or as a finite result. An exception from inside JAX or numpy, or a silent NaN, fails the test."""

import re
import traceback
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import funcmlp


def examples(n: int) -> settings:
    """n examples, derandomized (the same on every run), no deadline (the first call of a shape compiles)."""
    return settings(max_examples=n, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


PACKAGE = str(Path(funcmlp.__file__).parent)

X_DTYPES = [
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "int8",
    "int32",
    "int64",
    "uint8",
    "bool",
    "complex64",
]
Y_DTYPES = ["int8", "int32", "int64", "uint8", "float32", "float64", "bool", "str"]
SPECIAL = [np.nan, np.inf, -np.inf, 1e300, -1e300, 2.0**40]


def outcome(fn):
    """Run fn: a clear funcmlp error returns None, anything else must be all finite and is returned."""
    try:
        result = fn()
    except (ValueError, TypeError) as err:
        origin = traceback.extract_tb(err.__traceback__)[-1].filename
        assert origin.startswith(PACKAGE), f"{type(err).__name__} from {origin}: {err}"
        assert re.match(r"^[-\w\[\]'.]+: \S", str(err)), str(err)
        event(f"clear {type(err).__name__}: {str(err).split(':')[0]}")
        return None
    for leaf in jax.tree.leaves(result):
        assert bool(jnp.all(jnp.isfinite(jnp.asarray(leaf, jnp.float32)))), f"non-finite result {leaf}"
    event("finite result")
    return result


@st.composite
def arrays(draw, shape, dtypes, low, high, bad):
    """An array of a drawn dtype, values in [low, high]; with ``bad`` one entry is NaN, inf or huge."""
    dtype = draw(st.sampled_from(dtypes))
    size = int(np.prod(shape))
    values = np.asarray(draw(st.lists(st.integers(low, high), min_size=size, max_size=size)), np.float64)
    if dtype.startswith(("float", "bfloat", "complex")):
        values = values * draw(st.sampled_from([0.37, 1.0, 10.0]))
        if bad and size:
            values[draw(st.integers(0, size - 1))] = draw(st.sampled_from(SPECIAL))
    if dtype == "str":
        return values.astype(int).astype(str).reshape(shape)
    with np.errstate(invalid="ignore", over="ignore"):
        return values.astype(jnp.dtype(dtype)).reshape(shape)


@st.composite
def problems(draw):
    """(params, x, y, head, activation): each of several things is off with probability about 1/8."""

    def off() -> bool:  # a middle value: hypothesis favours the ends of a range
        return draw(st.integers(0, 15)) == 5

    d_in = draw(st.integers(1, 3))
    hidden = draw(st.lists(st.integers(1, 4), max_size=2))
    head = "hinge" if off() else draw(st.sampled_from(funcmlp.heads.NAMES))
    d_out = 1 if head == "sigmoid" and not off() else draw(st.integers(1, 3))
    sizes = (d_in, *hidden, d_out)
    if not off():
        dtype = draw(st.sampled_from([jnp.float32, jnp.bfloat16]))
        # He-scaled, drawn in numpy: no compile per shape
        rng = np.random.default_rng(draw(st.integers(0, 3)))
        params = [
            {"w": jnp.asarray(rng.normal(size=(a, b)) * np.sqrt(2 / a), dtype), "b": jnp.zeros(b, dtype)}
            for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        ]
    else:  # random layer shapes: most do not chain
        width = st.integers(1, 3)
        params = [
            {"w": jnp.ones(draw(st.tuples(width, width))), "b": jnp.zeros(draw(width))}
            for _ in range(draw(width))
        ]
    n = 0 if off() else draw(st.integers(1, 5))
    x_shape = draw(st.sampled_from([(n,), (n, d_in + 1), (1, n, d_in)])) if off() else (n, d_in)
    x_dtypes = X_DTYPES if off() else ["float16", "bfloat16", "float32", "float64", "int8", "int64", "uint8"]
    x = draw(arrays(x_shape, x_dtypes, -1000, 1000, off()))
    k = d_out if head != "sigmoid" else 2
    if head == "linear":
        y_shape = draw(st.sampled_from([(n,), (n + 1, d_out)])) if off() else (n, d_out)
        y = draw(arrays(y_shape, ["float32", "float64", "int32"] + ["complex64"] * off(), -1000, 1000, off()))
    else:
        y_shape = draw(st.sampled_from([(n, 1), (n + 1,)])) if off() else (n,)
        y_dtypes = Y_DTYPES if off() else ["int8", "int32", "int64", "uint8", "float32"]
        y = draw(arrays(y_shape, y_dtypes, -off(), k - 1 + off(), False))
        if off() and y.dtype.kind == "f":
            y = y + 0.5
    activations = [*funcmlp.activations.NAMES, "leaky_relu:0.2"]
    activation = "gelu" if off() else draw(st.sampled_from(activations))
    return params, x, y, head, activation


@examples(40)
@given(problems())
def test_inference_entry_points_error_clearly_or_return_finite(problem):
    params, x, y, head, activation = problem
    outcome(lambda: funcmlp.forward(params, x, activation=activation))
    outcome(lambda: funcmlp.predict(params, x, activation=activation, head=head))
    outcome(lambda: funcmlp.loss(params, x, y, activation=activation, head=head))
    if head != "linear":
        acc = outcome(lambda: funcmlp.accuracy(params, x, y, activation=activation, head=head))
        assert acc is None or 0.0 <= float(acc) <= 1.0


@examples(25)
@given(problems())
def test_gradients_error_clearly_or_are_finite(problem):
    params, x, y, head, activation = problem
    # jit (one compile per example): params are traced, x and y stay concrete and are checked eagerly
    grad = jax.jit(jax.grad(lambda p: funcmlp.loss(p, x, y, activation=activation, head=head, l2=1e-3)))
    outcome(lambda: grad(params))


@st.composite
def train_problems(draw):
    """Few distinct shapes (each one compiles a training loop), random values, dtypes and arguments."""
    params, x, y, head, activation = draw(problems())
    steps = 0 if draw(st.integers(0, 15)) == 5 else 3
    batch_size = draw(st.sampled_from([None, None, None, 2, 2, 0, 9]))
    return params, x, y, head, activation, steps, batch_size


@examples(10)
@given(train_problems())
def test_train_errors_clearly_or_returns_finite_params(problem):
    params, x, y, head, activation, steps, batch_size = problem
    kw = {"steps": steps, "head": head, "activation": activation, "batch_size": batch_size}
    result = outcome(
        lambda: (
            funcmlp.train(params, x, y, optimizer=optax.sgd(0.01), batch_key=jax.random.key(0), **kw).params
        )
    )
    if result is not None:
        assert jax.tree.structure(result) == jax.tree.structure(params)


@pytest.mark.parametrize("head", funcmlp.heads.NAMES)
@pytest.mark.parametrize("scale", [1e2, 1e3, 1e4])
def test_gradients_through_the_network_finite_for_huge_logits_float32(head, scale):
    """Weights scaled so the logits reach |z| ~ scale; the loss and every parameter gradient stay finite."""
    d_out = 1 if head == "sigmoid" else 3
    params = funcmlp.init_params(jax.random.key(0), (2, 4, d_out))
    x = jnp.array([[1.0, -1.0], [-1.0, 1.0], [0.5, 0.5], [-0.7, 0.2]], jnp.float32)
    z0 = funcmlp.forward(params, x, activation="tanh")
    params[-1] = {"w": params[-1]["w"] * (scale / jnp.max(jnp.abs(z0))), "b": params[-1]["b"]}
    z = funcmlp.forward(params, x, activation="tanh")
    assert float(jnp.max(jnp.abs(z))) == pytest.approx(scale, rel=1e-3)
    y = jnp.zeros((4, d_out)) if head == "linear" else jnp.array([0, 1, 1, 0]) % max(d_out, 2)
    value, grads = jax.value_and_grad(funcmlp.loss)(params, x, y, activation="tanh", head=head)
    assert bool(jnp.isfinite(value))
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
    # and the value is right: float64 numpy reference of the same network and loss formula
    w1, b1, w2, b2 = (np.asarray(params[i][k], np.float64) for i in (0, 1) for k in ("w", "b"))
    z64 = np.tanh(np.asarray(x, np.float64) @ w1 + b1) @ w2 + b2
    y64 = np.asarray(y)
    if head == "softmax":
        ref = np.mean([np.logaddexp.reduce(zi) - zi[yi] for zi, yi in zip(z64, y64, strict=True)])
    elif head == "sigmoid":
        ref = np.mean(np.logaddexp(0.0, z64[:, 0]) - y64 * z64[:, 0])
    else:
        ref = np.mean((z64 - y64) ** 2)
    np.testing.assert_allclose(float(value), ref, rtol=1e-5, atol=scale * 1e-6)
