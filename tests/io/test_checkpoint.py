import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp.io import checkpoint


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_save_load_round_trips_bit_exactly(tmp_path, dtype):
    with jax.enable_x64(dtype == jnp.float64):
        params = funcmlp.init_params(jax.random.key(0), (2, 4, 8, 3), dtype=dtype)
        config = {"activation": "tanh", "lr": 0.5, "hidden": [4, 8]}
        funcmlp.save(tmp_path / "p.safetensors", params, config=config)
        loaded, cfg = funcmlp.load(tmp_path / "p.safetensors")
    assert cfg == config
    assert len(loaded) == len(params)
    for a, b in zip(loaded, params, strict=True):
        for name in ("w", "b"):
            assert a[name].dtype == b[name].dtype
            np.testing.assert_array_equal(
                np.asarray(a[name]).view(np.uint8), np.asarray(b[name]).view(np.uint8)
            )


def test_foreign_and_damaged_files_are_refused(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(ValueError, match="not a funcmlp checkpoint"):
        funcmlp.load(tmp_path / "empty")
    (tmp_path / "junk").write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="not a readable safetensors checkpoint"):
        funcmlp.load(tmp_path / "junk")
    from safetensors.numpy import save_file

    save_file({"a": np.zeros(3, np.float32)}, str(tmp_path / "foreign"))
    with pytest.raises(ValueError, match="not a funcmlp checkpoint"):
        funcmlp.load(tmp_path / "foreign")


# --- metadata --------------------------------------------------------------------------------------------


def test_metadata_records_format_sizes_activation_head_and_version(tmp_path):
    params = funcmlp.init_params(jax.random.key(1), (2, 5, 1))
    funcmlp.save(tmp_path / "p.safetensors", params, config={"activation": "tanh", "lr": 0.1}, head="sigmoid")
    meta = funcmlp.read_metadata(tmp_path / "p.safetensors")
    assert meta["format_version"] == checkpoint.FORMAT_VERSION == 1
    assert meta["sizes"] == [2, 5, 1]
    assert (meta["activation"], meta["head"]) == ("tanh", "sigmoid")
    assert meta["funcmlp_version"] == funcmlp.__version__
    assert meta["kind"] == "params" and "step" not in meta
    assert meta["config"] == {"activation": "tanh", "lr": 0.1}


def test_bfloat16_params_round_trip_bit_exactly(tmp_path):
    params = funcmlp.init_params(jax.random.key(0), (3, 4, 2), dtype=jnp.bfloat16)
    funcmlp.save(tmp_path / "p.safetensors", params)
    loaded, _ = funcmlp.load(tmp_path / "p.safetensors")
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(params), strict=True):
        assert a.dtype == jnp.bfloat16
        np.testing.assert_array_equal(np.asarray(a).view(np.uint16), np.asarray(b).view(np.uint16))


def test_loading_never_unpickles(tmp_path):
    """A pickle that would run code when unpickled is refused, and its code never runs."""
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (Path.write_text, (marker, "code ran"))

    (tmp_path / "evil.safetensors").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ValueError, match="not a readable safetensors checkpoint"):
        funcmlp.load(tmp_path / "evil.safetensors")
    assert not marker.exists()


# --- corruption ------------------------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path):
    """A small checkpoint, its bytes, params and config."""
    params = funcmlp.init_params(jax.random.key(3), (2, 3, 2))
    config = {"activation": "relu", "note": "x"}
    path = tmp_path / "c.safetensors"
    funcmlp.save(path, params, config=config)
    return path, path.read_bytes(), params, config


def _same(a_params, b_params):
    return all(
        np.array_equal(np.asarray(a).view(np.uint8), np.asarray(b).view(np.uint8))
        for a, b in zip(jax.tree.leaves(a_params), jax.tree.leaves(b_params), strict=True)
    )


@pytest.mark.parametrize("keep", [0, 1, 7, 8, 9, 100, "header", "-4", "-1"])
def test_truncated_checkpoint_is_refused(saved, keep):
    path, data, _, _ = saved
    header_end = 8 + int.from_bytes(data[:8], "little")
    n = {"header": header_end, "-4": len(data) - 4, "-1": len(data) - 1}.get(keep, keep)
    path.write_bytes(data[:n])
    with pytest.raises(ValueError, match=r"^path: .*(empty or truncated|truncated or corrupted)"):
        funcmlp.load(path)


def test_every_single_byte_flip_is_refused_or_harmless(saved):
    """Flip each byte in turn: load raises ValueError, or (a flip in the header's padding) returns the
    very same params and config. Never different weights."""
    path, data, params, config = saved
    header_end = 8 + int.from_bytes(data[:8], "little")
    refused = 0
    for i in range(len(data)):
        damaged = bytearray(data)
        damaged[i] ^= 0x5A
        path.write_bytes(bytes(damaged))
        try:
            loaded, cfg = funcmlp.load(path)
        except ValueError:
            refused += 1
            continue
        assert i < header_end, f"a flip in the array bytes at {i} went unnoticed"
        assert _same(loaded, params) and cfg == config, f"a flip at byte {i} changed the contents"
    assert refused >= len(data) - 8  # at most the header's few padding bytes are harmless


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_are_refused(tmp_path, seed):
    rng = np.random.default_rng(seed)
    path = tmp_path / "r.safetensors"
    path.write_bytes(rng.bytes(int(rng.integers(8, 4000))))
    with pytest.raises(ValueError, match=r"^path: "):
        funcmlp.load(path)


def test_random_bytes_with_a_plausible_header_length_are_refused(saved):
    path, data, _, _ = saved
    rng = np.random.default_rng(0)
    path.write_bytes(data[:8] + rng.bytes(len(data) - 8))
    with pytest.raises(ValueError, match=r"^path: "):
        funcmlp.load(path)


def test_empty_file_is_refused(tmp_path):
    (tmp_path / "e.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="empty or truncated to 0 bytes"):
        funcmlp.load(tmp_path / "e.safetensors")


# --- crash during save -----------------------------------------------------------------------------------


def _boom(*args, **kwargs):
    raise OSError("simulated crash")


class _HalfWriter:
    """A file that writes half of what it is given, then fails (a disk full or a crash mid-write)."""

    def __init__(self, f):
        self.f = f

    def write(self, data):
        self.f.write(data[: len(data) // 2])
        raise OSError("simulated crash mid-write")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


@pytest.mark.parametrize("where", ["write", "fsync", "rename"])
def test_crash_during_save_keeps_the_old_checkpoint(saved, monkeypatch, where):
    path, data, params, config = saved
    new = funcmlp.init_params(jax.random.key(4), (2, 3, 2))
    if where == "write":
        real_fdopen = os.fdopen
        monkeypatch.setattr(checkpoint.os, "fdopen", lambda fd, mode: _HalfWriter(real_fdopen(fd, mode)))
    else:
        monkeypatch.setattr(checkpoint.os, {"fsync": "fsync", "rename": "replace"}[where], _boom)
    with pytest.raises(OSError, match="simulated crash"):
        funcmlp.save(path, new, config={"other": 1})
    monkeypatch.undo()
    assert path.read_bytes() == data
    loaded, cfg = funcmlp.load(path)
    assert _same(loaded, params) and cfg == config
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary left behind


def test_process_killed_mid_save_leaves_the_old_checkpoint(saved):
    """SIGKILL while the new file is being synced: no cleanup runs, yet the real name still holds the old
    checkpoint (only a hidden temporary is left)."""
    path, data, params, _ = saved
    script = (
        "import os, signal, jax, funcmlp\n"
        "from funcmlp.io import checkpoint\n"
        "checkpoint.os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)\n"
        f"funcmlp.save({str(path)!r}, funcmlp.init_params(jax.random.key(9), (2, 3, 2)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, env=os.environ | {"JAX_PLATFORMS": "cpu"}
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert path.read_bytes() == data
    assert _same(funcmlp.load(path)[0], params)
    assert [p.name for p in path.parent.iterdir() if p.name != path.name][0].startswith(f".{path.name}.")


# --- resume and determinism ------------------------------------------------------------------------------


def _problem():
    x, y = funcmlp.data.spiral(jax.random.key(0), 10)  # n = 30
    return funcmlp.init_params(jax.random.key(1), (2, 8, 3)), x, y


def _bits_equal(a, b):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(la) == len(lb)
    for u, v in zip(la, lb, strict=True):
        assert u.dtype == v.dtype and u.shape == v.shape
        np.testing.assert_array_equal(np.atleast_1d(u).view(np.uint8), np.atleast_1d(v).view(np.uint8))


@pytest.mark.parametrize(
    ("optimizer", "batch_size"),
    [
        (optax.sgd(0.5), None),
        (optax.adam(0.05), None),
        (optax.sgd(0.3, momentum=0.9), 8),
        (optax.adam(0.05), 7),
    ],
    ids=["sgd-full", "adam-full", "momentum-minibatch", "adam-minibatch"],
)
def test_resume_from_checkpoint_equals_uninterrupted_training(tmp_path, optimizer, batch_size):
    """train N, save_state, load_state, train N more == train 2N, bitwise (N = 6 stops mid-epoch)."""
    params, x, y = _problem()
    n_steps, key = 6, jax.random.key(2)
    kw = {"optimizer": optimizer, "batch_size": batch_size, "batch_key": key}
    whole = funcmlp.train(params, x, y, steps=2 * n_steps, **kw)
    first = funcmlp.train(params, x, y, steps=n_steps, **kw)
    funcmlp.save_state(tmp_path / "s.safetensors", first.params, first.opt_state, n_steps, config={"lr": 1})
    p, s, step, cfg = funcmlp.load_state(tmp_path / "s.safetensors", optimizer.init(params))
    assert (step, cfg) == (n_steps, {"lr": 1})
    _bits_equal(s, first.opt_state)  # the state survives the file bit for bit
    second = funcmlp.train(p, x, y, steps=n_steps, opt_state=s, start_step=step, **kw)
    _bits_equal(second.params, whole.params)
    _bits_equal(second.opt_state, whole.opt_state)
    _bits_equal(jnp.concatenate([first.losses, second.losses]), whole.losses)


def test_load_state_accepts_an_abstract_state_like(tmp_path):
    params, _, _ = _problem()
    opt = optax.adam(0.1)
    state = opt.init(params)
    funcmlp.save_state(tmp_path / "s.safetensors", params, state, 0)
    _, loaded, _, _ = funcmlp.load_state(tmp_path / "s.safetensors", jax.eval_shape(opt.init, params))
    _bits_equal(loaded, state)
    assert funcmlp.read_metadata(tmp_path / "s.safetensors")["step"] == 0


@pytest.mark.parametrize("batch_size", [None, 8])
def test_same_inputs_and_key_give_bitwise_identical_params(batch_size):
    params, x, y = _problem()
    kw = {"steps": 25, "batch_size": batch_size, "batch_key": jax.random.key(5)}
    a = funcmlp.train(params, x, y, optimizer=optax.adam(0.05), **kw)
    # a new optimizer object is a new static argument: the loop is traced and compiled again, so that
    # determinism does not hinge on reusing one executable (without clearing the other tests' programs)
    b = funcmlp.train(params, x, y, optimizer=optax.adam(0.05), **kw)
    _bits_equal(a.params, b.params)
    _bits_equal(a.losses, b.losses)
    assert not np.array_equal(np.asarray(a.params[0]["w"]), np.asarray(params[0]["w"]))  # it did train
