"""Files: checkpoints (``checkpoint``), run directories (``runs``) and data files (``datafile``)."""

from funcmlp.io import checkpoint, datafile, runs

__all__ = ["checkpoint", "datafile", "runs"]
