"""The command line: ``main`` reads the command and its options (tyro) and runs it."""

from funcmlp.cli.app import main

__all__ = ["main"]
