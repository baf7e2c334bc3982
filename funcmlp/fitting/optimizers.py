"""The optimizers a run names: sgd, momentum (sgd with momentum 0.9) and adam, as optax factories of their
hyperparameters (traced, so one compiled program serves any values)."""

from __future__ import annotations

import functools
from typing import Any

import optax

# The optimizer arguments each name takes besides the learning rate (the axes of a sweep over them).
OPTIMIZER_AXES = {"sgd": ("momentum",), "momentum": ("momentum",), "adam": ("b1", "b2")}


def make_optimizer(name: str, learning_rate: Any, **hyperparams: Any) -> optax.GradientTransformation:
    """The optax optimizer ``name`` with its learning rate and the arguments of its axes
    (``OPTIMIZER_AXES``: momentum for sgd and momentum, b1 and b2 for adam; left out: optax's defaults)."""
    if name not in OPTIMIZER_AXES:
        raise ValueError(f"optimizer: expected one of sgd, momentum, adam, got {name!r}")
    unknown = sorted(set(hyperparams) - set(OPTIMIZER_AXES[name]))
    if unknown:
        raise TypeError(f"optimizer: {name!r} takes {', '.join(OPTIMIZER_AXES[name])}, got {unknown}")
    if name == "adam":
        return optax.adam(learning_rate, **hyperparams)
    momentum = hyperparams.get("momentum", 0.9 if name == "momentum" else None)
    return optax.sgd(learning_rate) if momentum is None else optax.sgd(learning_rate, momentum=momentum)


@functools.cache
def optimizer_factory(name: str):
    """The optimizer as a function of the learning rate and its axes' arguments (what ``funcmlp.sweep``
    takes). The same object for the same name: it is a static argument of the compiled loops, which one
    process then compiles once, whatever the learning rate."""
    make_optimizer(name, 1.0)  # fails early on an unknown name
    return functools.partial(make_optimizer, name)
