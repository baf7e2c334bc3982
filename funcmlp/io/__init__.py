"""Files: checkpoints (``checkpoint``), whole sweeps (``sweepfile``), run directories (``runs``) and
data files (``datafile``)."""

from funcmlp.io import checkpoint, datafile, runs, sweepfile
from funcmlp.io.sweepfile import load_sweep, save_sweep

__all__ = ["checkpoint", "datafile", "load_sweep", "runs", "save_sweep", "sweepfile"]
