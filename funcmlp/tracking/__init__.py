"""Runs and sweeps in the tools researchers read: TensorBoard event files and Weights & Biases.

A sink (``TensorBoard(logdir)``, ``WandB(project)``, ``Multi(a, b)``) is written from the host between
compiled chunks: ``log_history`` (a run's metrics.csv), ``log_losses`` (per-step losses), ``log_sweep``
(every model of a sweep and every configuration's hyperparameters), ``log_figures`` (a run directory's
PNG files), and the callbacks ``train_callback``, ``history_callback`` and ``sweep_callback``. tensorboardX
and wandb are optional extras, imported when a sink is made. docs/tracking.md says what appears where.
"""

from funcmlp.tracking import names
from funcmlp.tracking.log import (
    history_callback,
    log_figures,
    log_history,
    log_losses,
    log_sweep,
    sweep_callback,
    train_callback,
)
from funcmlp.tracking.names import config_names, seed_runs
from funcmlp.tracking.sinks import Multi, Sink
from funcmlp.tracking.tensorboard_sink import TensorBoard
from funcmlp.tracking.wandb_sink import WandB

__all__ = [
    "Multi",
    "Sink",
    "TensorBoard",
    "WandB",
    "config_names",
    "history_callback",
    "log_figures",
    "log_history",
    "log_losses",
    "log_sweep",
    "names",
    "seed_runs",
    "sweep_callback",
    "train_callback",
]
