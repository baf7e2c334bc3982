"""Run names of a sweep: one namespace per configuration, one run per seed under it.

A configuration is named by the values that tell it apart, ``name=value`` joined by commas: the sizes
and activation when the sweep has several of either, then each axis (``SweepResult.axes``), e.g.
``"learning_rate=0.1,momentum=0.9"``; seed j of it is the run ``"learning_rate=0.1,momentum=0.9/seed3"``.
A sweep with no axes and one group is named by its sizes and activation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from funcmlp import checks
from funcmlp.tracking.sinks import hparam_value


def format_value(value: Any) -> str:
    """A value in a run name: numbers as ``%g`` (0.1, 0.0001, 1e-05), sizes as "2-16-3", text as it is."""
    v = hparam_value(value)
    if isinstance(v, bool):
        return str(v)
    return f"{v:g}" if isinstance(v, float) else v


def config_name(values: Mapping[str, Any]) -> str:
    """``"name=value,..."`` in the order given."""
    return ",".join(f"{k}={format_value(v)}" for k, v in values.items())


def seed_run(config: str, seed: int) -> str:
    """The run of seed ``seed`` of configuration ``config``: ``"<config>/seed<seed>"``."""
    return f"{config}/seed{checks.check_nonnegative_int(seed, 'seed')}"


def config_names(
    axes: Mapping[str, Sequence[Any]], groups: Sequence[tuple[Sequence[int], str]]
) -> list[np.ndarray]:
    """Per group, the (n_1, ..., n_k) object array of its configurations' names.

    Args:
      axes: axis name -> values, as ``SweepResult.axes`` (or ``funcmlp.sweeps.axes.grid_of(...).axes``
        before the sweep runs).
      groups: (sizes, activation name) of each group, in the sweep's order (every sizes, then within
        each every activation: ``[(s, a) for s in sizes for a in activations]``).
    """
    if not isinstance(axes, Mapping):
        raise TypeError(f"axes: expected a dict of axis name -> values, got {type(axes).__name__}")
    if isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence) or not groups:
        raise ValueError(f"groups: expected a non-empty list of (sizes, activation), got {groups!r}")
    groups = [(checks.check_sizes(s, "groups sizes"), str(a)) for s, a in groups]
    shape = tuple(len(v) for v in axes.values())
    vary_sizes = len({s for s, _ in groups}) > 1
    vary_act = len({a for _, a in groups}) > 1
    out = []
    for sizes, act in groups:
        fixed = {"sizes": sizes} if vary_sizes or not (axes or vary_act) else {}
        fixed |= {"activation": act} if vary_act or not (axes or vary_sizes) else {}
        names = np.empty(shape, dtype=object)
        for index in np.ndindex(*shape):
            values = {k: v[i] for (k, v), i in zip(axes.items(), index, strict=True)}
            names[index] = config_name(fixed | values)
        out.append(names)
    return out


def seed_runs(
    axes: Mapping[str, Sequence[Any]], seeds: int, groups: Sequence[tuple[Sequence[int], str]]
) -> list[np.ndarray]:
    """Per group, the (n_1, ..., n_k, seeds) object array of run names ``"<configuration>/seed<j>"``."""
    seeds = checks.check_positive_int(seeds, "seeds")
    out = []
    for configs in config_names(axes, groups):
        runs = np.empty((*configs.shape, seeds), dtype=object)
        for index in np.ndindex(*configs.shape):
            for j in range(seeds):
                runs[(*index, j)] = seed_run(configs[index], j)
        out.append(runs)
    return out
