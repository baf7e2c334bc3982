import os
import pickle
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file

import funcmlp
from funcmlp.io import sweepfile
from funcmlp.sweeps import mesh
from funcmlp.sweeps.results import GroupResult, SweepResult

AXES = {"learning_rate": (0.1, 1.0), "momentum": (0.0, 0.9)}
SEEDS = 3
LEAD = (2, 2, SEEDS)


def _vmapped(fn, n_axes):
    for _ in range(n_axes):
        fn = jax.vmap(fn)
    return fn


def _group(rng, sizes, optimizer, steps=5, dtype=np.float32):
    params = [
        {
            "w": rng.standard_normal((*LEAD, d_in, d_out)).astype(dtype),
            "b": rng.standard_normal((*LEAD, d_out)).astype(dtype),
        }
        for d_in, d_out in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    opt_state = None if optimizer is None else _vmapped(optimizer.init, len(LEAD))(params)
    losses = rng.random((*LEAD, steps)).astype(np.float32)
    losses[0, 1, 2, 3:] = np.nan
    diverged_at = np.full(LEAD, -1, np.int32)
    diverged_at[0, 1, 2] = 3
    metrics = {k: rng.random(LEAD).astype(np.float32) for k in ("train_loss", "train_accuracy", "val_loss")}
    return GroupResult(tuple(sizes), "tanh", params, losses, diverged_at, metrics, opt_state)


def _result(groups, step=7):
    return SweepResult(
        axes=dict(AXES),
        seeds=SEEDS,
        head="softmax",
        groups=tuple(groups),
        step=step,
        settings={"l2": 1e-4, "batch_size": 16.0},
    )


@pytest.fixture
def result():
    rng = np.random.default_rng(0)
    return _result(
        [
            _group(rng, (2, 4, 3), optax.sgd(0.1, momentum=0.9)),
            _group(rng, (2, 5, 6, 3), optax.adam(1e-3)),
        ]
    )


def _bits(a):
    a = np.asarray(a)
    return a.dtype, a.shape, a.tobytes()


def _assert_same(loaded, original):
    assert loaded.axes == original.axes and list(loaded.axes) == list(original.axes)
    assert all(isinstance(v, tuple) for v in loaded.axes.values())
    assert (loaded.seeds, loaded.head, loaded.step) == (original.seeds, original.head, original.step)
    assert loaded.settings == original.settings
    assert len(loaded.groups) == len(original.groups)
    for got, want in zip(loaded.groups, original.groups, strict=True):
        assert (got.sizes, got.activation) == (want.sizes, want.activation)
        assert list(got.metrics) == list(want.metrics)
        assert len(got.params) == len(want.params)
        pairs = [(got.losses, want.losses), (got.diverged_at, want.diverged_at)]
        pairs += [(got.metrics[k], want.metrics[k]) for k in want.metrics]
        pairs += list(zip(jax.tree.leaves(got.params), jax.tree.leaves(want.params), strict=True))
        if want.opt_state is None:
            assert got.opt_state is None
        else:
            assert isinstance(got.opt_state, list)
            pairs += list(zip(got.opt_state, jax.tree.leaves(want.opt_state), strict=True))
        for a, b in pairs:
            assert isinstance(a, np.ndarray)
            assert _bits(a) == _bits(b)


def test_round_trip_is_bitwise(tmp_path, result):
    funcmlp.save_sweep(tmp_path / "s.safetensors", result)
    loaded = funcmlp.load_sweep(tmp_path / "s.safetensors")
    _assert_same(loaded, result)
    adam_leaves = loaded.groups[1].opt_state
    assert any(leaf.dtype == np.int32 and leaf.shape == LEAD for leaf in adam_leaves)  # adam's count


def test_opt_state_leaves_rebuild_the_optimizer_state(tmp_path, result):
    funcmlp.save_sweep(tmp_path / "s.safetensors", result)
    loaded = funcmlp.load_sweep(tmp_path / "s.safetensors")
    for got, want in zip(loaded.groups, result.groups, strict=True):
        state = jax.tree.unflatten(jax.tree.structure(want.opt_state), got.opt_state)
        assert jax.tree.structure(state) == jax.tree.structure(want.opt_state)


def test_no_opt_state_python_scalars_and_bfloat16(tmp_path):
    rng = np.random.default_rng(1)
    plain = _group(rng, (3, 2), None)
    scalars = _group(rng, (3, 4, 1), None, dtype=jnp.bfloat16)._replace(opt_state=[np.zeros(LEAD), 5, 0.5])
    funcmlp.save_sweep(tmp_path / "s.safetensors", _result([plain, scalars], step=0))
    loaded = funcmlp.load_sweep(tmp_path / "s.safetensors")
    assert loaded.groups[0].opt_state is None
    five, half = loaded.groups[1].opt_state[1:]
    assert five.shape == () and five == 5 and np.issubdtype(five.dtype, np.integer)
    assert half.shape == () and half == 0.5
    assert loaded.groups[1].params[0]["w"].dtype == jnp.bfloat16
    _assert_same(loaded, _result([plain, scalars], step=0))


def test_file_is_plain_safetensors_with_sweep_metadata(tmp_path, result):
    path = tmp_path / "s.safetensors"
    funcmlp.save_sweep(path, result)
    arrays = load_file(str(path))
    assert "group_1.layer_2.w" in arrays and "group_0.metrics.val_loss" in arrays
    n_adam = len(jax.tree.leaves(result.groups[1].opt_state))
    assert sum(n.startswith("group_1.opt_state.") for n in arrays) == n_adam
    with safe_open(str(path), "np") as f:
        meta = f.metadata()
    assert (meta["format"], meta["kind"], meta["format_version"]) == ("funcmlp", "sweep", "1")
    assert meta["funcmlp_version"] == funcmlp.__version__ and len(meta["sha256"]) == 64
    assert meta["seeds"] == "3" and meta["step"] == "7" and meta["head"] == '"softmax"'
    assert '"learning_rate": [0.1, 1.0], "momentum": [0.0, 0.9]' in meta["axes"]
    assert f'"opt_state_leaves": {n_adam}' in meta["groups"]
    assert path.read_bytes()[:1] != b"\x80"  # not a pickle
    source = Path(sweepfile.__file__).read_text()
    assert "import pickle" not in source and "allow_pickle" not in source


def test_loading_never_unpickles(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (Path.write_text, (marker, "code ran"))

    (tmp_path / "evil").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ValueError, match="^path: .*not a readable safetensors sweep file"):
        funcmlp.load_sweep(tmp_path / "evil")
    assert not marker.exists()


@pytest.fixture
def small(tmp_path):
    rng = np.random.default_rng(2)
    result = _result([_group(rng, (2, 1), optax.adam(0.1), steps=1)])
    path = tmp_path / "small.safetensors"
    funcmlp.save_sweep(path, result)
    return path, path.read_bytes(), result


def test_every_header_byte_flip_is_refused_or_harmless(small):
    path, data, result = small
    header_end = 8 + int.from_bytes(data[:8], "little")
    refused = 0
    for i in [*range(header_end), *range(header_end, len(data), 7)]:
        damaged = bytearray(data)
        damaged[i] ^= 0x5A
        path.write_bytes(bytes(damaged))
        try:
            loaded = funcmlp.load_sweep(path)
        except ValueError as e:
            assert str(e).startswith("path: ")
            refused += 1
            continue
        assert i < header_end, f"a flip in the array bytes at {i} went unnoticed"
        _assert_same(loaded, result)  # only the header's padding may change harmlessly
    assert refused >= header_end - 8


@pytest.mark.parametrize("keep", [0, 7, 8, 100, "header", "-1"])
def test_truncated_file_is_refused(small, keep):
    path, data, _ = small
    header_end = 8 + int.from_bytes(data[:8], "little")
    path.write_bytes(data[: {"header": header_end, "-1": len(data) - 1}.get(keep, keep)])
    with pytest.raises(ValueError, match=r"^path: .*(empty or truncated|truncated or corrupted)"):
        funcmlp.load_sweep(path)


def test_wrong_kind_is_refused_both_ways(tmp_path, small):
    sweep_path = small[0]
    params_path = tmp_path / "p.safetensors"
    funcmlp.save(params_path, funcmlp.init_params(jax.random.key(0), (2, 3, 1)))
    with pytest.raises(ValueError, match=r"^path: .*params checkpoint .*not a sweep file.*funcmlp\.load"):
        funcmlp.load_sweep(params_path)
    for read in (funcmlp.load, funcmlp.read_metadata):
        with pytest.raises(ValueError, match=r"^path: .*sweep file, not a checkpoint.*load_sweep"):
            read(sweep_path)
    with pytest.raises(ValueError, match=r"^path: .*sweep file, not a checkpoint"):
        funcmlp.load_state(sweep_path, None)


def test_bad_arguments_are_named(tmp_path, result):
    for bad in ({"axes": {}}, result.groups[0], None):
        with pytest.raises(TypeError, match="^result: expected a SweepResult"):
            funcmlp.save_sweep(tmp_path / "s.safetensors", bad)
    with pytest.raises(TypeError, match="^path: "):
        funcmlp.save_sweep(3, result)
    with pytest.raises(ValueError, match="^path: .*does not exist"):
        funcmlp.load_sweep(tmp_path / "missing")
    with pytest.raises(ValueError, match="^path: .*directory"):
        funcmlp.load_sweep(tmp_path)
    short = result.groups[0]._replace(diverged_at=result.groups[0].diverged_at[:, :, :2])
    with pytest.raises(ValueError, match=r"^result: group_0\.diverged_at expected shape \(2, 2, 3\)"):
        funcmlp.save_sweep(tmp_path / "s.safetensors", _result([short]))
    assert not (tmp_path / "s.safetensors").exists()


def test_only_process_zero_writes_but_every_process_gathers(tmp_path, result, monkeypatch):
    gathered = []

    def to_host(a):
        gathered.append(a)
        return np.asarray(a)

    monkeypatch.setattr(mesh, "to_host", to_host)
    monkeypatch.setattr(jax, "process_index", lambda: 1)
    funcmlp.save_sweep(tmp_path / "s.safetensors", result)
    assert not (tmp_path / "s.safetensors").exists()
    n_arrays = sum(
        len(jax.tree.leaves(g.params)) + len(jax.tree.leaves(g.opt_state)) + 2 + len(g.metrics)
        for g in result.groups
    )
    assert len(gathered) == n_arrays
    monkeypatch.setattr(jax, "process_index", lambda: 0)
    funcmlp.save_sweep(tmp_path / "s.safetensors", result)
    _assert_same(funcmlp.load_sweep(tmp_path / "s.safetensors"), result)


def test_a_failed_write_keeps_the_old_file(tmp_path, result, small, monkeypatch):
    path, data, _ = small

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        funcmlp.save_sweep(path, result)
    assert path.read_bytes() == data
    assert sorted(p.name for p in path.parent.iterdir()) == ["small.safetensors"]
