"""A whole run on your data: ``fit`` (split, defaults from the data, seeds as one sweep, the best on
validation rows, scores), ``save_run`` (the run directory) and what they use."""

from funcmlp.fitting.fit import Fit, fit, select
from funcmlp.fitting.report import save_run, summary
from funcmlp.fitting.samples import Samples, load_samples, run_keys
from funcmlp.fitting.task import Task

__all__ = ["Fit", "Samples", "Task", "fit", "load_samples", "run_keys", "save_run", "select", "summary"]
