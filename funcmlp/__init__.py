"""funcmlp: a neural-network lecture as verified, fast, pure JAX functions."""

from importlib.metadata import PackageNotFoundError, version

from funcmlp import activations, checks, data, heads
from funcmlp.checkpoint import load, save
from funcmlp.mlp import Params, accuracy, forward, init_params, l2_penalty, loss, predict
from funcmlp.sweep_results import SweepResult
from funcmlp.sweeps import sweep
from funcmlp.training import TrainResult, train

try:
    __version__ = version("funcmlp")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = [
    "Params",
    "TrainResult",
    "accuracy",
    "activations",
    "checks",
    "data",
    "forward",
    "heads",
    "init_params",
    "l2_penalty",
    "load",
    "loss",
    "predict",
    "save",
    "sweep",
    "SweepResult",
    "train",
]
