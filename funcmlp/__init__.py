"""funcmlp: a neural-network lecture as verified, fast, pure JAX functions."""

from importlib.metadata import PackageNotFoundError, version

from funcmlp import (
    activations,
    checks,
    data,
    early_stopping,
    fitting,
    heads,
    history,
    metrics,
    models,
    options,
)
from funcmlp.fitting import Fit, fit, save_run
from funcmlp.history import History, train_logged
from funcmlp.io import datafile, runs
from funcmlp.io.checkpoint import load, load_state, read_metadata, save, save_state
from funcmlp.io.runs import load_run
from funcmlp.io.sweepfile import load_sweep, save_sweep
from funcmlp.lecture import diagnostics, perceptron
from funcmlp.lecture.chain_rule import backprop
from funcmlp.lecture.linear import collapse_linear
from funcmlp.mlp import Params, accuracy, forward, init_params, l2_penalty, loss, predict
from funcmlp.models import Model, mlp_model
from funcmlp.options import Logging, Report, Resume
from funcmlp.sweeps.grid import sweep
from funcmlp.sweeps.halving import Halving
from funcmlp.sweeps.results import SweepResult
from funcmlp.training import TrainResult, train


def __getattr__(name: str):
    # The progress bar loads rich: only when it is used (import funcmlp loads no UI or plotting library).
    if name == "progress":
        import importlib

        return importlib.import_module("funcmlp.progress")
    # The loggers load tensorboardX or wandb, optional extras: only when they are used.
    if name == "tracking":
        import importlib

        return importlib.import_module("funcmlp.tracking")
    # The estimators load scikit-learn, an optional dependency: only when they are used.
    if name in ("MLPClassifier", "MLPRegressor"):
        import importlib

        return getattr(importlib.import_module("funcmlp.fitting.estimators"), name)
    raise AttributeError(f"module 'funcmlp' has no attribute {name!r}")


try:
    __version__ = version("funcmlp")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = [
    "Fit",
    "Halving",
    "History",
    "Logging",
    "MLPClassifier",
    "MLPRegressor",
    "Model",
    "Params",
    "Report",
    "Resume",
    "TrainResult",
    "accuracy",
    "activations",
    "backprop",
    "checks",
    "collapse_linear",
    "data",
    "datafile",
    "diagnostics",
    "early_stopping",
    "fit",
    "fitting",
    "forward",
    "heads",
    "history",
    "init_params",
    "l2_penalty",
    "load",
    "load_run",
    "load_state",
    "load_sweep",
    "loss",
    "metrics",
    "mlp_model",
    "models",
    "options",
    "perceptron",
    "predict",
    "progress",
    "read_metadata",
    "runs",
    "save",
    "save_run",
    "save_state",
    "save_sweep",
    "sweep",
    "SweepResult",
    "tracking",
    "train",
    "train_logged",
]
