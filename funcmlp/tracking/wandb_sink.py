"""``WandB(project)``: a sink logging to Weights & Biases (optional extra ``pip install "funcmlp[wandb]"``;
imported when a sink is made, never by ``import funcmlp``), offline by default.

The whole run or sweep is one W&B run. A funcmlp run name prefixes its tags, ``"<run>/loss"``, and each
run has its own step axis ``"<run>/step"`` (``define_metric``), so a sweep's models, logged one after the
other, each get their curve from step 0; W&B's panels group the keys by the part before the first "/",
one section per configuration. Hyperparameters go to the run's config under the run's name, their
metrics to its summary as ``"<run>/<tag>"``, and ``close()`` logs a table ``hparams`` with one row per run
(hyperparameters, then metrics) to compare them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from funcmlp.tracking import sinks


class WandB(sinks.Closing):
    """Log to a W&B run of ``project``.

    Args:
      project: the W&B project.
      mode: ``"offline"`` (default: files under ``dir``/wandb, ``wandb sync`` uploads them later),
        ``"online"`` or ``"disabled"``.
      dir: where the ``wandb`` folder goes (default: the current directory).
      name, group, config: the W&B run's name, group and top-level config.
      **init: more arguments of ``wandb.init``.
    """

    def __init__(
        self,
        project: str,
        *,
        mode: str = "offline",
        dir: str | os.PathLike | None = None,
        name: str | None = None,
        group: str | None = None,
        config: Mapping[str, Any] | None = None,
        **init: Any,
    ):
        if not isinstance(project, str) or not project:
            raise ValueError(f"project: expected a W&B project name, got {project!r}")
        if mode not in ("offline", "online", "disabled"):
            raise ValueError(f"mode: expected one of offline, online, disabled, got {mode!r}")
        self._wandb = sinks.require("wandb", "wandb")
        if dir is not None:
            os.makedirs(dir, exist_ok=True)
        cfg = None if config is None else {k: sinks.hparam_value(v) for k, v in config.items()}
        self.run = self._wandb.init(
            project=project, mode=mode, dir=None if dir is None else str(dir), name=name, group=group,
            config=cfg, **init,
        )  # fmt: skip
        self._defined: set[str] = set()
        self._rows: list[tuple[str, dict[str, Any], dict[str, float]]] = []

    def _keys(self, run: str | None, tags) -> tuple[dict[str, str], str]:
        """Tag -> W&B key, and the run's step key, defining each new key's step axis once."""
        prefix = "" if run is None else f"{run}/"
        step_key = f"{prefix}step"
        keys = {t: prefix + t for t in tags}
        for key in keys.values():
            if key not in self._defined:
                # W&B reads '.' in a metric's name as nesting (0.1 -> 0, 1) unless escaped
                self.run.define_metric(_escaped(key), step_metric=_escaped(step_key))
                self._defined.add(key)
        return keys, step_key

    def scalars(self, step: int, values: Mapping[str, float], run: str | None = None) -> None:
        """One W&B row: ``{"<run>/<tag>": value, ..., "<run>/step": step}``."""
        step = sinks.check_step(step)
        values = sinks.check_values(values)
        keys, step_key = self._keys(sinks.check_run(run), values)
        self.run.log({keys[t]: v for t, v in values.items()} | {step_key: step})

    def hparams(
        self, run: str, hparams: Mapping[str, Any], metrics: Mapping[str, float], step: int = 0
    ) -> None:
        """``config[run] = hparams``, ``summary["<run>/<tag>"] = metric``, and a row of the ``hparams``
        table logged at ``close()`` (``step`` is unused: a summary has no step)."""
        run = sinks.check_run(run, optional=False)
        sinks.check_step(step)
        hp, metrics = sinks.check_hparams(hparams, metrics)
        self.run.config.update({run: hp}, allow_val_change=True)
        for tag, v in metrics.items():
            self.run.summary[f"{run}/{tag}"] = v
        self._rows.append((run, hp, metrics))

    def image(self, tag: str, image: Any, step: int = 0, run: str | None = None) -> None:
        """``wandb.Image`` of a PNG file or an (H, W[, C]) array, at the run's ``step``."""
        sinks.check_tag(tag)
        step = sinks.check_step(step)
        data = str(image) if sinks.is_path(image) else sinks.check_image_array(image)
        if isinstance(data, str) and not os.path.isfile(data):
            raise ValueError(f"image: expected a readable PNG file, got {data!r}")
        keys, step_key = self._keys(sinks.check_run(run), [tag])
        self.run.log({keys[tag]: self._wandb.Image(data), step_key: step})

    def close(self) -> None:
        """Log the ``hparams`` table (when any run has hyperparameters) and finish the W&B run."""
        if self.run is None:
            return
        if self._rows:
            names = list(dict.fromkeys(k for _, hp, _ in self._rows for k in hp))
            tags = list(dict.fromkeys(k for _, _, m in self._rows for k in m))
            data = [
                [run, *(hp.get(k) for k in names), *(m.get(k) for k in tags)] for run, hp, m in self._rows
            ]
            self.run.log({"hparams": self._wandb.Table(columns=["run", *names, *tags], data=data)})
        self.run.finish()
        self.run = None


def _escaped(key: str) -> str:
    return key.replace(".", "\\.")
