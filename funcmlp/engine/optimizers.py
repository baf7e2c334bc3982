"""An optimizer as the engine takes it: a factory and its hyperparameters as traced arrays, so a loop over
their values reuses one compiled program (an optax object is a factory of no hyperparameters)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import optax

from funcmlp import checks
from funcmlp.engine.core import Fixed


def optimizer_spec(optimizer: Any, hyperparams: Any, dtype: Any) -> tuple[Callable[..., Any], dict]:
    """(factory, traced hyperparameters) from an optax object, or from a factory and its hyperparameters.

    The hyperparameters become arrays (float64 with float64 params, else float32), so a loop over their
    values reuses one compiled program.
    """
    if hyperparams is not None and not isinstance(hyperparams, dict):
        raise TypeError(f"hyperparams: expected a dict such as {{'learning_rate': 0.1}}, got {hyperparams!r}")
    is_object = isinstance(optimizer, optax.GradientTransformation) or (
        hasattr(optimizer, "init") and hasattr(optimizer, "update") and not callable(optimizer)
    )
    if is_object:
        if hyperparams:
            raise ValueError(
                "hyperparams: expected none with an optimizer object such as optax.sgd(0.1); pass the "
                f"factory (optimizer=optax.sgd) to make them traced, got {sorted(hyperparams)}"
            )
        return Fixed(optimizer), {}
    if not callable(optimizer):
        raise TypeError(
            "optimizer: expected an optax GradientTransformation such as optax.sgd(1.0), or a factory such "
            f"as optax.sgd with hyperparams, got {type(optimizer).__name__}"
        )
    hyperparams = dict(hyperparams or {})
    for name, value in hyperparams.items():
        checks.check_real(value, f"hyperparams[{name!r}]")
    try:
        made = optimizer(**hyperparams)
    except TypeError as e:
        name = getattr(optimizer, "__name__", repr(optimizer))
        if not hyperparams:
            raise TypeError(
                "optimizer: expected an optax GradientTransformation such as optax.sgd(1.0), or a factory "
                f"with the hyperparams it needs, got function {name} and no hyperparams ({e})"
            ) from None
        raise TypeError(f"hyperparams: {name!r} does not take them ({e})") from None
    if not (hasattr(made, "init") and hasattr(made, "update")):
        raise TypeError(
            f"optimizer: expected a factory returning an optax GradientTransformation, got {optimizer!r} "
            f"returning {type(made).__name__}"
        )
    hp_dtype = jnp.float64 if jnp.dtype(dtype) == jnp.float64 else jnp.float32
    return optimizer, {k: jnp.asarray(v, hp_dtype) for k, v in hyperparams.items()}
