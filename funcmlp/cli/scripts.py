"""What the experiment scripts in scripts/ share: their options read from the command line into the
script's frozen dataclass (tyro), with the output folder ``out`` made."""

from __future__ import annotations

import sys
from typing import TypeVar

import tyro

T = TypeVar("T")


def options(config: type[T], argv: list[str] | None = None) -> T:
    """``config`` read from ``argv`` (default: the command line); its ``out`` folder is made."""
    cfg = tyro.cli(config, args=sys.argv[1:] if argv is None else argv)
    cfg.out.mkdir(parents=True, exist_ok=True)
    return cfg
