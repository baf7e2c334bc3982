"""A sweep's inputs: the checks of its data and of a sweep it continues, and their placement on the
(configuration, seed) mesh: per-seed data padded and split over "seed", shared data on every device,
hyperparameters and L2 weights split over "config"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding

from funcmlp import activations, checks, engine, models, training
from funcmlp.mlp import SCHEMES
from funcmlp.sweeps import mesh as sharding
from funcmlp.sweeps import programs
from funcmlp.sweeps.axes import Grid, pad_configs, pad_seeds
from funcmlp.sweeps.results import GroupResult, SweepResult


class Placed(NamedTuple):
    """Everything of a sweep on the mesh: the padded grid sizes, the hyperparameters (C_pad,), the seed
    keys (S_pad,), the batch key, the training data, the L2 weights, the evaluation sets (name -> (x, y))
    with their seed axes, and the compile-time flags of ``programs.Static``."""

    mesh: Any
    c_pad: int
    s_pad: int
    hyperparams: dict[str, Any]
    seed_keys: Any
    batch_key: Any
    data: tuple[Any, Any]
    l2: Any
    sets: dict[str, tuple[Any, Any]]
    set_axes: tuple[Any, ...]
    statics: dict[str, bool]
    config: dict[str, Any] = {}


def place(grid: Grid, key, batch_key, seeds: int, dtype, devices, data, val, extra, per_seed, per_seed_val):
    """Lay the grid over every device and put every input on the mesh (``Placed``)."""
    mesh = sharding.grid_mesh(grid.size, seeds, devices)
    c_pad = sharding.padded(grid.size, mesh.devices.shape[0])
    s_pad = sharding.padded(seeds, mesh.devices.shape[1])
    hp_dtype = np.float64 if dtype == np.float64 else np.float32
    config, seed, rep = (NamedSharding(mesh, p) for p in (programs.CONFIG, programs.SEED, programs.REP))
    g_hp, g_config = (
        {k: sharding.put(pad_configs(v, c_pad).astype(dt), config) for k, v in columns.items()}
        for columns, dt in ((grid.hyperparams, hp_dtype), (grid.config, dtype))
    )
    raw, impl = key_data(key)
    bkey = raw if batch_key is None else key_data(batch_key)[0]
    seed_keys = pad_seeds(np.asarray(jax.random.key_data(jax.random.split(key, seeds))), s_pad)
    g_keys = jax.random.wrap_key_data(sharding.put(seed_keys, seed), impl=impl)
    g_bkey = jax.random.wrap_key_data(sharding.put(bkey, rep), impl=impl)
    g_x, g_y = put_data(*data, per_seed, s_pad, seed, rep)
    if grid.l2_is_axis:
        l2 = sharding.put(pad_configs(grid.l2, c_pad).astype(dtype), config)
    else:
        l2 = None if grid.settings["l2"] == 0 else jnp.asarray(grid.settings["l2"], dtype)
    sets = {"train": (g_x, g_y)}
    if val is not None:
        sets["val"] = put_data(*val, per_seed_val, s_pad, seed, rep)
    sets |= {k: tuple(sharding.put(np.asarray(a), rep) for a in v) for k, v in extra.items()}
    set_axes = (0 if per_seed else None, *([0 if per_seed_val else None] * (val is not None)))
    set_axes += (None,) * len(extra)
    statics = dict(per_seed=per_seed, per_seed_val=per_seed_val, l2_axis=grid.l2_is_axis)
    return Placed(mesh, c_pad, s_pad, g_hp, g_keys, g_bkey, (g_x, g_y), l2, sets, set_axes, statics, g_config)


def checked_sets(evaluate, groups, head, dtype, seeds: int):
    """The ``evaluate`` sets, each (x, y) checked like the training data: ``(val, per_seed_val, extra)``, the
    ``"val"`` pair (None without one; it may carry the seed axis) and the other sets (shared by every
    model)."""
    if evaluate is None:
        return None, False, {}
    if not isinstance(evaluate, dict):
        raise TypeError(f"evaluate: expected a dict name -> (x, y), got {type(evaluate).__name__}")
    val, per_seed_val, out = None, False, {}
    for name, pair in evaluate.items():
        if name == "train" or not isinstance(name, str):
            raise ValueError(
                f"evaluate: expected set names other than 'train' (the training rows), got {name!r}"
            )
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise TypeError(f"evaluate[{name!r}]: expected a pair (x, y), got {type(pair).__name__}")
        x, y, per_seed = checked_data(*pair, groups, head, dtype, seeds, f"evaluate[{name!r}] x", "y")
        if name == "val":
            val, per_seed_val = [x, y], per_seed
            continue
        if per_seed:
            raise ValueError(
                f"evaluate[{name!r}]: expected (n, d) data shared by every seed, got per-seed data"
            )
        out[name] = (x, y)
    return val, per_seed_val, out


def put_data(x, y, per_seed: bool, s_pad: int, seed, rep):
    """(x, y) on the mesh: per-seed data padded to s_pad seeds and split over "seed"; shared data on every
    device."""
    if per_seed:
        return sharding.put(pad_seeds(np.asarray(x), s_pad), seed), sharding.put(
            pad_seeds(np.asarray(y), s_pad), seed
        )
    return sharding.put(np.asarray(x), rep), sharding.put(np.asarray(y), rep)


def check_start(start: Any, grid: Grid, seeds: int, labels, head, allow_changes: bool = False) -> int:
    """The step a previous sweep reached, after checking that it is a sweep of the same grid (``labels``:
    each group's (sizes, activation label))."""
    if not isinstance(start, SweepResult):
        raise TypeError(
            f"start: expected a SweepResult (a previous sweep or load_sweep), got {type(start).__name__}"
        )
    want = {
        "axes": {k: tuple(map(float, v)) for k, v in grid.axes.items()},
        "seeds": seeds,
        "head": head.name,
        "groups": [(tuple(s), a) for s, a in labels],
    }
    got = {
        "axes": {k: tuple(map(float, v)) for k, v in start.axes.items()},
        "seeds": start.seeds,
        "head": start.head,
        "groups": [(tuple(g.sizes), g.activation) for g in start.groups],
    }
    for k in want:
        if want[k] != got[k]:
            raise ValueError(f"start: expected a sweep with the same {k} ({want[k]}), got {got[k]}")
    changed = {k: (v, grid.settings.get(k)) for k, v in start.settings.items() if grid.settings.get(k) != v}
    if changed and not allow_changes:
        k, (old, new) = next(iter(changed.items()))
        raise ValueError(
            f"start: expected the same fixed setting {k} = {old} as the sweep it continues, got {new} "
            "(pass start=funcmlp.Resume(result, allow_changes=True) to change it; the result records each "
            "segment's settings)"
        )
    if any(g.opt_state is None for g in start.groups):
        raise ValueError("start: expected a sweep with its optimizer states, got one without")
    return checks.check_nonnegative_int(start.step, "start.step")


def resumed(group: GroupResult, grid: Grid, cfg, placed: Placed, step: int):
    """The grid's state from a previous group: its arrays (*grid shape, seeds, ...) folded to
    (C, seeds, ...), padded like a fresh grid and placed on the mesh."""
    g_hp, g_bkey, c_pad, s_pad = placed.hyperparams, placed.batch_key, placed.c_pad, placed.s_pad
    one = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape[grid.ndim + 1 :], a.dtype), group.params)
    hp_one = {k: jax.ShapeDtypeStruct((), v.dtype) for k, v in g_hp.items()}
    like = jax.eval_shape(lambda p, h: engine.extra_args(cfg.spec.optimizer(**h)).init(p), one, hp_one)
    leaves, treedef = jax.tree.leaves(group.opt_state), jax.tree.structure(like)
    want = [(leaf.shape, jnp.dtype(leaf.dtype)) for leaf in jax.tree.leaves(like)]
    got = [
        (tuple(np.shape(a))[grid.ndim + 1 :], jnp.dtype(np.asarray(a).dtype))
        for a in map(sharding.to_host, leaves)
    ]
    if want != got:
        raise ValueError(f"start: expected optimizer-state leaves {want} for this optimizer, got {got}")
    grid_sharding = NamedSharding(cfg.mesh, programs.GRID)

    def place(a):
        a = np.asarray(sharding.to_host(a))
        a = a.reshape(grid.size, a.shape[grid.ndim], *a.shape[grid.ndim + 1 :])
        return sharding.put(pad_seeds(pad_configs(a, c_pad), s_pad, axis=1), grid_sharding)

    params, diverged_at = jax.tree.map(place, group.params), place(group.diverged_at)
    opt_state = jax.tree.unflatten(treedef, [place(a) for a in leaves])
    step = jnp.int32(step)
    return programs.resume(params, opt_state, diverged_at, g_hp, g_bkey, step, placed.config, cfg=cfg)


class Member(NamedTuple):
    """One group of a sweep: the built-in MLP of ``sizes`` and ``act``, or a ``model`` (``funcmlp.models``;
    with ``config`` the MLP is one too); ``io``: (d_in, ..., d_out) its data is checked against."""

    sizes: tuple[int, ...]
    act: Any
    model: Any
    label: str
    io: tuple[int, ...]


def group_members(sizes, activation, model, grid: Grid, x, scheme: str, dtype) -> list[Member]:
    """The groups of ``sweep(sizes=..., activation=..., model=...)``: every (sizes, activation) pair, or
    the one model (``scheme`` checked: the built-in MLP's init)."""
    checks.check_scheme(scheme, SCHEMES)
    if model is not None:
        if sizes is not None or activation is not None:
            which = "sizes" if sizes is not None else "activation"
            raise ValueError(f"{which}: expected none with a model of your own (its init and apply), got one")
        model = models.check_model(model)
        config = {k: jnp.asarray(v[0], dtype) for k, v in grid.config.items()}
        params = jax.eval_shape(model.init, jax.random.key(0), config)
        checks.check_params_dtype(params, "model.init(key, config)")
        x0 = jax.ShapeDtypeStruct((1, np.shape(x)[-1]), dtype)
        return [
            Member(
                (),
                None,
                model,
                model.label,
                (np.shape(x)[-1], models.output_width(model, params, x0, config)),
            )
        ]
    if sizes is None:
        raise ValueError("sizes: expected layer widths such as (2, 4, 3), or model=, got neither")
    activation = "relu" if activation is None else activation
    if isinstance(activation, (str, activations.Activation)) or callable(activation):
        activation = [activation]
    if not isinstance(activation, Sequence) or not activation:
        raise ValueError(
            f"activation: expected a name, a function or a non-empty list of them, got {activation!r}"
        )
    acts = activations.distinct([activations.get(a) for a in activation])
    out = []
    for s in size_list(sizes):
        for a in acts:
            own = None if not grid.config else models.mlp_model(s, a, scheme=scheme, dtype=dtype)
            out.append(Member(s, a, own, a.name, s))
    return out


def size_list(sizes: Any) -> list[tuple[int, ...]]:
    """``sizes`` (one network's widths or a list of them) as a list of checked width tuples."""
    if isinstance(sizes, Sequence) and sizes and all(isinstance(s, Sequence) for s in sizes):
        return [checks.check_sizes(s) for s in sizes]
    return [checks.check_sizes(sizes)]


def checked_data(x, y, groups, head, dtype, seeds: int, x_name="x", y_name="y"):
    """Check (x, y) against every group's sizes; integer inputs are computed in ``dtype`` (as ``train``).

    Returns (x, y, per_seed): per_seed when x is (seeds, n, d) and y has the same leading seed axis."""
    per_seed = np.ndim(x) == 3
    if per_seed:
        if np.shape(x)[0] != seeds:
            raise ValueError(
                f"{x_name}: expected (n, d) or (seeds={seeds}, n, d) with a leading seed axis, got shape "
                f"{tuple(np.shape(x))}"
            )
        if np.ndim(y) < 1 or np.shape(y)[0] != seeds:
            raise ValueError(
                f"{y_name}: expected a leading seed axis of {seeds} like {x_name}'s, "
                f"got shape {tuple(np.shape(y))}"
            )
        flat_x = jnp.reshape(jnp.asarray(x), (-1, np.shape(x)[-1]))
        flat_y = jnp.reshape(jnp.asarray(y), (-1, *np.shape(y)[2:]))
        if np.shape(y)[1] != np.shape(x)[1]:
            raise ValueError(
                f"{y_name}: expected {np.shape(x)[1]} rows per seed (as {x_name}), "
                f"got shape {tuple(np.shape(y))}"
            )
    else:
        flat_x, flat_y = x, y
    for s in groups:
        checks.check_x(flat_x, s[0], x_name)
        head.check_y(flat_y, np.shape(flat_x)[0], s[-1], y_name)
    return training.cast_data(x, dtype, x_name), jnp.asarray(y), per_seed


def key_data(key: Any) -> tuple[np.ndarray, str]:
    """Raw key data (host) and the implementation name of a typed or legacy uint32 ``jax.random`` key."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return np.asarray(jax.random.key_data(key)), str(jax.random.key_impl(key))
    return np.asarray(key), "threefry2x32"
