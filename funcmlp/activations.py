"""The neuron's activations a = act(z), each with its hand-derived derivative da/dz beside it.

Hidden layers use one of ``step``, ``linear``, ``sigmoid``, ``tanh``, ``relu`` and ``leaky_relu``; ``softmax``
turns the last layer's logits into class probabilities.

Derivatives at a kink are a choice, documented here and tested:

* ``step``: 0 everywhere, including z = 0 where it is undefined (a jump). This is why a step network cannot
  learn by gradient descent: every weight below it gets a zero gradient.
* ``relu``: 0 at z = 0 (the left derivative), as ``jax.grad(jax.nn.relu)`` gives.
* ``leaky_relu``: the negative slope at z = 0 (the left derivative), as ``jax.grad`` of
  ``where(z > 0, z, slope * z)`` gives.

An activation's ``name`` labels it in a sweep's groups and tables: a function of your own is named by its
``__name__`` (or ``from_function(fn, name=...)``), and ``distinct`` numbers different functions that share a
name (two lambdas: ``<lambda>``, ``<lambda>#2``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

DEFAULT_NEGATIVE_SLOPE = 0.01


def step(z: jax.Array) -> jax.Array:
    """Heaviside step: a = 1 if z > 0 else 0."""
    return (z > 0).astype(z.dtype)


def step_grad(z: jax.Array) -> jax.Array:
    """da/dz = 0 (undefined at z = 0; taken as 0)."""
    return jnp.zeros_like(z)


def linear(z: jax.Array) -> jax.Array:
    """Identity: a = z (no non-linearity: a stack of linear layers is one linear map)."""
    return z


def linear_grad(z: jax.Array) -> jax.Array:
    """da/dz = 1."""
    return jnp.ones_like(z)


def sigmoid(z: jax.Array) -> jax.Array:
    """Logistic sigmoid: a = 1 / (1 + exp(-z)), in (0, 1); computed without overflow for large |z|."""
    return jax.lax.logistic(z)


def sigmoid_grad(z: jax.Array) -> jax.Array:
    """da/dz = s (1 - s) with s = sigmoid(z); at most 0.25 (at z = 0), the root of vanishing gradients."""
    s = sigmoid(z)
    return s * (1 - s)


def tanh(z: jax.Array) -> jax.Array:
    """Hyperbolic tangent: a = (e^z - e^-z) / (e^z + e^-z), in (-1, 1)."""
    return jnp.tanh(z)


def tanh_grad(z: jax.Array) -> jax.Array:
    """da/dz = 1 - tanh(z)^2; at most 1 (at z = 0)."""
    t = jnp.tanh(z)
    return 1 - t * t


def relu(z: jax.Array) -> jax.Array:
    """Rectified linear unit: a = max(0, z), written as a select so that autodiff gives 0 at z = 0."""
    return jnp.where(z > 0, z, jnp.zeros_like(z))


def relu_grad(z: jax.Array) -> jax.Array:
    """da/dz = 1 if z > 0 else 0 (0 at the kink z = 0)."""
    return (z > 0).astype(z.dtype)


def leaky_relu(z: jax.Array, negative_slope: float = DEFAULT_NEGATIVE_SLOPE) -> jax.Array:
    """Leaky ReLU: a = z if z > 0 else negative_slope * z (the lecture's notes use 0.1)."""
    return jnp.where(z > 0, z, negative_slope * z)


def leaky_relu_grad(z: jax.Array, negative_slope: float = DEFAULT_NEGATIVE_SLOPE) -> jax.Array:
    """da/dz = 1 if z > 0 else negative_slope (negative_slope at the kink z = 0)."""
    return jnp.where(z > 0, jnp.ones_like(z), jnp.full_like(z, negative_slope))


def softmax(z: jax.Array, axis: int = -1) -> jax.Array:
    """Softmax over classes: a_k = exp(z_k - max z) / sum_j exp(z_j - max z) (shifted for stability)."""
    e = jnp.exp(z - jax.lax.stop_gradient(jnp.max(z, axis=axis, keepdims=True)))
    return e / jnp.sum(e, axis=axis, keepdims=True)


def softmax_grad(z: jax.Array) -> jax.Array:
    """Jacobian da_i/dz_j = a_i (delta_ij - a_j), shape (..., K, K) for z of shape (..., K)."""
    a = softmax(z)
    return a[..., :, None] * (jnp.eye(z.shape[-1], dtype=z.dtype) - a[..., None, :])


class Activation(NamedTuple):
    """A hidden-layer activation: its name, a = fn(z), and da/dz = grad(z), both elementwise."""

    name: str
    fn: Callable[[jax.Array], jax.Array]
    grad: Callable[[jax.Array], jax.Array]


HIDDEN: dict[str, Activation] = {
    "step": Activation("step", step, step_grad),
    "linear": Activation("linear", linear, linear_grad),
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_grad),
    "tanh": Activation("tanh", tanh, tanh_grad),
    "relu": Activation("relu", relu, relu_grad),
    "leaky_relu": Activation("leaky_relu", leaky_relu, leaky_relu_grad),
}
NAMES = tuple(HIDDEN)


@functools.cache
def leaky(negative_slope: float) -> Activation:
    """Leaky ReLU with a chosen negative slope, e.g. ``leaky(0.1)`` as in the notes.

    Cached, so equal slopes give the same object and a jitted function is not compiled twice.
    """
    slope = float(negative_slope)
    return Activation(
        f"leaky_relu({slope:g})",
        functools.partial(leaky_relu, negative_slope=slope),
        functools.partial(leaky_relu_grad, negative_slope=slope),
    )


@functools.cache
def from_function(fn: Callable[[jax.Array], jax.Array], name: str | None = None) -> Activation:
    """An ``Activation`` from any elementwise JAX function (``jax.nn.gelu``, ``jnp.sin``, a lambda).

    da/dz is the forward-mode derivative of ``fn`` along ones, exact for elementwise functions. Training
    differentiates ``fn`` with ``jax.grad`` (only the built-ins have a registered derivative). Cached, so
    the same function gives the same ``Activation`` and a jitted loop is not compiled again.
    """

    def grad(z: jax.Array) -> jax.Array:
        return jax.jvp(fn, (z,), (jnp.ones_like(z),))[1]

    return Activation(name or getattr(fn, "__name__", None) or type(fn).__name__, fn, grad)


def builtin(act: Activation) -> bool:
    """Whether ``act`` is one of funcmlp's own activations (those the registered derivative knows)."""
    if act in HIDDEN.values():
        return True
    fn = act.fn
    return (
        isinstance(fn, functools.partial)
        and fn.func is leaky_relu
        and act == leaky(fn.keywords["negative_slope"])
    )


def named(label: str) -> Activation | None:
    """The built-in activation whose ``name`` is ``label`` (``"relu"``, ``"leaky_relu(0.1)"``), else None."""
    if label in HIDDEN:
        return HIDDEN[label]
    if label.startswith("leaky_relu(") and label.endswith(")"):
        try:
            act = leaky(float(label[len("leaky_relu(") : -1]))
        except ValueError:
            return None
        return act if act.name == label else None
    return None


def get(activation: str | Activation | Callable) -> Activation:
    """Look up a hidden activation by name, pass an ``Activation`` through, or wrap an elementwise function.

    ``"leaky_relu:0.1"`` selects a leaky ReLU with negative slope 0.1; ``jax.nn.gelu`` (any callable) is
    wrapped by ``from_function``.
    """
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        if activation in HIDDEN:
            return HIDDEN[activation]
        name, _, slope = activation.partition(":")
        if name == "leaky_relu" and slope:
            try:
                return leaky(float(slope))
            except ValueError:
                pass
    elif callable(activation):
        return from_function(activation)
    raise ValueError(
        f"activation: expected one of {', '.join(NAMES)} (or 'leaky_relu:SLOPE', or an elementwise "
        f"function such as jax.nn.gelu), got {activation!r}"
    )


def distinct(acts: Sequence[Activation]) -> list[Activation]:
    """The activations with distinct names, in the order given: the first of different activations that
    share a name keeps it, the others get ``name#2``, ``name#3``, ... (the first number that no activation
    of the list is named); a built-in always keeps its name; the same activation given twice keeps one.

    Args:
      acts: ``Activation`` records (``get`` of each item of a sweep's ``activation`` list).

    Returns:
      the same records, in the same order, those that shared a name renamed (``Activation._replace``).
    """
    names = {a.name for a in acts}
    label: dict[Activation, str] = {a: a.name for a in acts if builtin(a)}
    for a in acts:
        if a not in label and a.name not in label.values():
            label[a] = a.name
    for a in acts:
        k = 2
        while a not in label:
            if f"{a.name}#{k}" not in names | set(label.values()):
                label[a] = f"{a.name}#{k}"
            k += 1
    return [a if label[a] == a.name else a._replace(name=label[a]) for a in acts]
