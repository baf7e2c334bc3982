"""Sweeps: many models trained at once in one compiled program (``grid``), the device mesh they are
sharded over (``mesh``), their axes (``axes``), their compiled programs (``programs``), their results
(``results``), ensembles of their seeds (``ensemble``) and successive halving (``halving``). Figures of a sweep are in ``figures``, which
loads matplotlib and is imported only when a figure is drawn."""

from funcmlp.sweeps import ensemble
from funcmlp.sweeps.grid import sweep
from funcmlp.sweeps.halving import Halving
from funcmlp.sweeps.results import GroupResult, SweepResult

__all__ = ["GroupResult", "Halving", "SweepResult", "ensemble", "sweep"]
