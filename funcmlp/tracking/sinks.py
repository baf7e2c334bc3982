"""The sink protocol: where a run's numbers go besides metrics.csv (TensorBoard, Weights & Biases, ...).

A sink is called from the host between compiled chunks, never inside compiled code. It receives

    scalars(step, {tag: value}, run)                one point per tag of run ``run`` at global step ``step``
    hparams(run, {name: value}, {tag: value}, step)  a run's hyperparameters and the metrics that rank it
    image(tag, png_path_or_array, step, run)         a figure
    close()

A run is a name such as ``"learning_rate=0.1,momentum=0.9/seed3"`` (``funcmlp.tracking.names``); None is the
sink's top level. Every sink is a context manager that closes itself.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from funcmlp import checks


@runtime_checkable
class Sink(Protocol):
    """What ``log_history``, ``log_losses``, ``log_sweep`` and the callbacks write to."""

    def scalars(self, step: int, values: Mapping[str, float], run: str | None = None) -> None: ...

    def hparams(
        self, run: str, hparams: Mapping[str, Any], metrics: Mapping[str, float], step: int = 0
    ) -> None: ...

    def image(self, tag: str, image: Any, step: int = 0, run: str | None = None) -> None: ...

    def close(self) -> None: ...


class Closing:
    """Context-manager support for a sink: ``with TensorBoard(dir) as sink: ...`` closes it on exit."""

    def close(self) -> None:  # pragma: no cover - every sink defines its own
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Multi(Closing):
    """Fan-out: every call goes to each of ``sinks`` in order (e.g. TensorBoard and W&B at once)."""

    def __init__(self, *sinks: Sink):
        for i, s in enumerate(sinks):
            if not isinstance(s, Sink):
                raise TypeError(f"sinks[{i}]: expected a sink (scalars, hparams, image, close), got {s!r}")
        self.sinks = sinks

    def scalars(self, step: int, values: Mapping[str, float], run: str | None = None) -> None:
        for s in self.sinks:
            s.scalars(step, values, run)

    def hparams(
        self, run: str, hparams: Mapping[str, Any], metrics: Mapping[str, float], step: int = 0
    ) -> None:
        for s in self.sinks:
            s.hparams(run, hparams, metrics, step)

    def image(self, tag: str, image: Any, step: int = 0, run: str | None = None) -> None:
        for s in self.sinks:
            s.image(tag, image, step, run)

    def close(self) -> None:
        for s in self.sinks:
            s.close()


def require(module: str, extra: str):
    """Import an optional dependency, or say which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f"{module} is not installed: expected it for this sink, install it with "
            f'pip install "funcmlp[{extra}]"'
        ) from e


def check_step(step: Any, name: str = "step") -> int:
    """A global step: a non-negative integer (numpy integers too)."""
    return checks.check_nonnegative_int(step, name)


def check_run(run: Any, name: str = "run", *, optional: bool = True) -> str | None:
    """A run name: None (the top level, where allowed) or a relative path of non-empty parts, no '.' or '..'."""
    if run is None and optional:
        return None
    parts = run.split("/") if isinstance(run, str) else []
    if not parts or any(p in ("", ".", "..") for p in parts) or "\\" in run:
        expected = "None or " if optional else ""
        raise ValueError(f"{name}: expected {expected}a name like 'learning_rate=0.1/seed0', got {run!r}")
    return run


def check_tag(tag: Any, name: str = "tag") -> str:
    if not isinstance(tag, str) or not tag or tag.startswith("/"):
        raise ValueError(f"{name}: expected a non-empty tag like 'loss' or 'grad_norm/layer0', got {tag!r}")
    return tag


def check_values(values: Any, name: str = "values") -> dict[str, float]:
    """Tag -> real number (NaN and inf pass: a diverged run's loss is logged as it is)."""
    if not isinstance(values, Mapping):
        raise TypeError(f"{name}: expected a dict of tag -> number, got {type(values).__name__}")
    out = {}
    for k, v in values.items():
        check_tag(k, f"{name} key")
        if (
            isinstance(v, (bool, np.bool_, str, bytes))
            or np.ndim(v) != 0
            or not checks.is_real(np.asarray(v).dtype)
        ):
            raise TypeError(f"{name}[{k!r}]: expected a real number, got {v!r}")
        out[k] = float(v)
    return out


def hparam_value(value: Any) -> bool | float | str:
    """A hyperparameter as TensorBoard and W&B store it: a bool, a number, or text (sizes (2, 16, 3) ->
    "2-16-3", an activation function -> its name)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        return v if not math.isnan(v) else "nan"
    if isinstance(value, str):
        return value
    if isinstance(value, (tuple, list)) and all(isinstance(v, (int, np.integer)) for v in value):
        return "-".join(str(int(v)) for v in value)
    return getattr(value, "name", None) or getattr(value, "__name__", None) or str(value)


def check_hparams(hparams: Any, metrics: Any) -> tuple[dict[str, bool | float | str], dict[str, float]]:
    if not isinstance(hparams, Mapping) or not hparams:
        raise TypeError(f"hparams: expected a non-empty dict of name -> value, got {hparams!r}")
    for k in hparams:
        if not isinstance(k, str) or not k:
            raise ValueError(f"hparams: expected names as non-empty strings, got {k!r}")
    return {k: hparam_value(v) for k, v in hparams.items()}, check_values(metrics, "metrics")


def is_path(image: Any) -> bool:
    return isinstance(image, (str, os.PathLike))


def check_image_array(image: Any, name: str = "image") -> np.ndarray:
    """An image as an (H, W) or (H, W, C) array, C in 1, 3, 4: uint8, or floats in [0, 1]."""
    a = np.asarray(image)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)) or 0 in a.shape:
        raise ValueError(
            f"{name}: expected a PNG path or an (H, W) / (H, W, C) array, C in 1, 3, 4, got shape {a.shape}"
        )
    if a.dtype != np.uint8 and not checks.is_real(a.dtype):
        raise TypeError(f"{name}: expected uint8 or float pixels, got dtype {a.dtype}")
    return a
