import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcmlp


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
