"""``TensorBoard(logdir)``: a sink writing TensorBoard event files with tensorboardX (optional extra
``pip install "funcmlp[tensorboard]"``; imported when a sink is made, never by ``import funcmlp``).

Each run is a sub-directory of ``logdir`` with its own event file, so TensorBoard lists it as a run:
``logdir/learning_rate=0.1,momentum=0.9/seed3``. Scalars are the summaries of ``add_scalar``; a run's
hyperparameters are the three HParams summaries of tensorboardX's ``add_hparams`` (experiment, session
start, session end) and its metrics as scalars, in that run's directory, so the HParams dashboard shows
one row per run with its hyperparameters and metrics; images are PNG summaries.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from funcmlp.tracking import sinks

# PNG colour type -> channels (grey, RGB, palette, grey + alpha, RGBA)
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_files = itertools.count()


class TensorBoard(sinks.Closing):
    """Write runs as TensorBoard event files under ``logdir`` (created if missing).

    Args:
      logdir: the directory to give ``tensorboard --logdir``.
      flush_secs: at most this many seconds between writes to disk (tensorboardX's writer thread); every
        file is complete after ``close()``.
    """

    def __init__(self, logdir: str | os.PathLike, *, flush_secs: int = 30):
        if not isinstance(logdir, (str, os.PathLike)) or not str(logdir):
            raise TypeError(f"logdir: expected a directory path, got {logdir!r}")
        self._summary_writer = sinks.require("tensorboardX", "tensorboard").SummaryWriter
        self.logdir = Path(logdir)
        self.flush_secs = flush_secs
        self._writers: dict[str, Any] = {}

    def writer(self, run: str | None = None):
        """The tensorboardX ``SummaryWriter`` of ``run`` (``logdir/run``; None: ``logdir``), made once."""
        key = sinks.check_run(run) or ""
        if key not in self._writers:
            # a suffix per writer: two writers opened in the same second never share a file name
            suffix = f".{os.getpid()}.{next(_files)}"
            path = self.logdir / key if key else self.logdir
            self._writers[key] = self._summary_writer(
                logdir=str(path), flush_secs=self.flush_secs, filename_suffix=suffix
            )
        return self._writers[key]

    def scalars(self, step: int, values: Mapping[str, float], run: str | None = None) -> None:
        """One point per tag at ``step`` in ``run``, all in one event (the ``Summary`` that
        ``add_scalar(tag, value, step)`` writes, with one value per tag: a logged row costs one event)."""
        from tensorboardX.proto.summary_pb2 import Summary

        step = sinks.check_step(step)
        values = sinks.check_values(values)
        summary = Summary(value=[Summary.Value(tag=t, simple_value=v) for t, v in values.items()])
        self.writer(run).file_writer.add_summary(summary, step)

    def hparams(
        self, run: str, hparams: Mapping[str, Any], metrics: Mapping[str, float], step: int = 0
    ) -> None:
        """Run ``run``'s hyperparameters and ranking metrics for the HParams dashboard.

        These are the summaries ``SummaryWriter.add_hparams(hparams, metrics, name=run)`` writes, in the
        run's own event file (``add_hparams`` opens a second writer on the same directory, whose file
        name can clash with the first's); ``metrics`` become scalars at ``step``. Use one set of names for
        every run of a log directory: TensorBoard takes the columns from the first run it reads.
        """
        from tensorboardX.summary import hparams as hparams_summaries

        run = sinks.check_run(run, optional=False)
        step = sinks.check_step(step)
        hp, metrics = sinks.check_hparams(hparams, metrics)
        w = self.writer(run)
        for summary in hparams_summaries(hp, metrics):
            w.file_writer.add_summary(summary)
        for tag, v in metrics.items():
            w.add_scalar(tag, v, step)

    def image(self, tag: str, image: Any, step: int = 0, run: str | None = None) -> None:
        """A figure: a PNG file (its bytes are stored as they are) or an (H, W[, C]) array."""
        sinks.check_tag(tag)
        step = sinks.check_step(step)
        if sinks.is_path(image):
            self.writer(run).file_writer.add_summary(_png_summary(tag, Path(image)), step)
            return
        a = sinks.check_image_array(image)
        self.writer(run).add_image(tag, a, step, dataformats="HW" if a.ndim == 2 else "HWC")

    def flush(self) -> None:
        for w in self._writers.values():
            w.flush()

    def close(self) -> None:
        """Write everything and close every run's file (the sink can be used again: files are reopened)."""
        for w in self._writers.values():
            w.close()
        self._writers.clear()


def _png_summary(tag: str, path: Path):
    """A ``Summary`` holding the PNG file's bytes, its size and channels read from its IHDR chunk."""
    from tensorboardX.proto.summary_pb2 import Summary

    try:
        data = path.read_bytes()
    except OSError as e:
        raise ValueError(f"image: expected a readable PNG file, got {str(path)!r} ({e.strerror})") from None
    if len(data) < 33 or data[:8] != _PNG_MAGIC or data[12:16] != b"IHDR" or data[25] not in _PNG_CHANNELS:
        raise ValueError(f"image: expected a PNG file, got {str(path)!r} (no PNG header)")
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    img = Summary.Image(
        height=height, width=width, colorspace=_PNG_CHANNELS[data[25]], encoded_image_string=data
    )
    return Summary(value=[Summary.Value(tag=tag, image=img)])
