"""Ctrl-C (SIGINT) and SIGTERM during ``funcmlp train`` and ``funcmlp sweep``: a flag, checked between
compiled chunks of steps, instead of an exception thrown wherever the program happens to be.

    with interrupt.catch():                                    # funcmlp.cli.app, around the command
        funcmlp.sweep(..., callback=interrupt.stopping(bar))   # returns True once a signal came: it stops

The first signal only sets the flag: the training loop stops after its current chunk (about a quarter of
a second, ``funcmlp.chunking``), the command writes what it has and ``report`` prints one line and gives
the exit code 130. A second signal raises ``KeyboardInterrupt`` at once (the command line prints one line
and exits 130 too). The previous handlers come back when the block ends.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

EXIT_CODE = 130  # 128 + SIGINT, what shells report for a run stopped with Ctrl-C
SIGNALS = (signal.SIGINT, signal.SIGTERM)

_received: list[str] = []  # the names of the signals received inside ``catch``, in order
_reported: list[bool] = [False]


def requested() -> bool:
    """Whether a signal asked the command to stop."""
    return bool(_received)


def signal_name() -> str:
    """The name of the first signal received ("SIGINT", "SIGTERM"), or "" when none came."""
    return _received[0] if _received else ""


def _handler(signum: int, frame: Any) -> None:
    if _received:  # asked twice: stop now
        raise KeyboardInterrupt
    _received.append(signal.Signals(signum).name)


@contextlib.contextmanager
def catch(signals: tuple[signal.Signals, ...] = SIGNALS) -> Iterator[None]:
    """Turn ``signals`` into the flag ``requested()`` inside the block (main thread only; elsewhere the
    block runs with the handlers as they are); the old handlers and a clear flag come back after it."""
    old = {}
    try:
        for s in signals:
            old[s] = signal.signal(s, _handler)
    except ValueError:  # not the main thread: signals cannot be caught here
        pass
    _received.clear()
    _reported[0] = False
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        _received.clear()


def stopping(callback: Callable[..., Any] | None) -> Callable[..., bool]:
    """``callback(report)`` (a progress bar; None for none) that then returns ``requested()``: the training
    loops (``train``, ``train_logged``, ``funcmlp.sweep``, ``fit``) stop after a chunk whose callback returns
    True."""

    def call(report: Any) -> bool:
        if callback is not None:
            callback(report)
        return requested()

    return call


def report(where: Any, step: int, steps: int) -> int:
    """Print the one line of an interrupted command on stderr and return ``EXIT_CODE``."""
    _reported[0] = True
    at = f"after all {steps} steps" if step >= steps else f"at step {step} of {steps}"
    print(
        f"funcmlp: interrupted by {signal_name() or 'a signal'} {at}; the run so far is in {where}",
        file=sys.stderr,
    )
    return EXIT_CODE


def outcome(code: int) -> int:
    """The exit code of a command that returned ``code``: ``EXIT_CODE`` when a signal came that it did not
    act on (it came after the last chunk), with one line on stderr."""
    if requested() and not _reported[0]:
        print(f"funcmlp: interrupted by {signal_name()} after training; the run is complete", file=sys.stderr)
        return EXIT_CODE
    return code
