"""The device mesh of a sweep: padding, the mesh shape, the devices argument, and host <-> device arrays."""

import itertools
import math

import jax
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec

from funcmlp.sweeps import mesh


def test_padded_is_the_smallest_multiple_at_least_n():
    for n, k in itertools.product(range(10), range(1, 6)):
        p = mesh.padded(n, k)
        assert p == math.ceil(n / k) * k
        assert p % k == 0 and n <= p < n + k, (n, k)


@pytest.mark.parametrize(
    ("n_lr", "n_seeds", "n_devices", "want"),
    [
        (5, 5, 1, (1, 1)),  # one device: nothing to choose
        (3, 8, 8, (1, 8)),  # 3 x 8 models fit a 1 x 8 mesh without padding
        (4, 3, 4, (4, 1)),  # 4 x 3 = 12 models; (1, 4) and (2, 2) would pad to 16
        (2, 5, 2, (2, 1)),  # (1, 2) pads the seeds to 6: 12 models; (2, 1): 10
        (3, 3, 4, (1, 4)),  # (1, 4) and (4, 1) both pad to 12 models: the tie goes to the seed axis
        (6, 6, 4, (2, 2)),  # (2, 2): 36 models; (1, 4) and (4, 1): 48
    ],
)
def test_grid_shape_worked_examples(n_lr, n_seeds, n_devices, want):
    assert mesh.grid_shape(n_lr, n_seeds, n_devices) == want


def test_grid_shape_pads_the_fewest_models_and_ties_go_to_the_seed_axis():
    for n_lr, n_seeds, n_devices in itertools.product((1, 2, 3, 5), (1, 4, 7), (1, 2, 6, 8)):

        def models(a, b, n_lr=n_lr, n_seeds=n_seeds):
            return math.ceil(n_lr / a) * a * math.ceil(n_seeds / b) * b

        d_lr, d_seed = mesh.grid_shape(n_lr, n_seeds, n_devices)
        assert d_lr * d_seed == n_devices
        shapes = [(a, n_devices // a) for a in range(1, n_devices + 1) if n_devices % a == 0]
        fewest = min(models(*s) for s in shapes)
        assert (d_lr, d_seed) == min(s for s in shapes if models(*s) == fewest), (n_lr, n_seeds, n_devices)


def test_check_devices_accepts_lists_tuples_and_1d_arrays():
    devices = jax.devices()[:1]
    for given in (devices, tuple(devices), np.array(devices, dtype=object)):
        mesh.check_devices(given)


@pytest.mark.parametrize(
    ("devices", "got"),
    [
        ("cpu", "str"),
        (3, "int"),
        (None, "NoneType"),
        (["cpu"], "'cpu' (str) in the list"),
        ([0], "0 (int) in the list"),
    ],
)
def test_check_devices_names_what_is_not_a_device(devices, got):
    with pytest.raises(TypeError) as info:
        mesh.check_devices(devices)
    assert (
        str(info.value)
        == f"devices: expected a list of distinct jax devices such as jax.devices()[:2], got {got}"
    )


def test_check_devices_rejects_a_device_listed_twice():
    d = jax.devices()[0]
    with pytest.raises(ValueError) as info:
        mesh.check_devices([d, d])
    assert str(info.value) == (
        "devices: expected a list of distinct jax devices such as jax.devices()[:2], got "
        f"a device listed more than once: {[d, d]!r}"
    )


def test_grid_mesh_on_one_device_and_on_none():
    m = mesh.grid_mesh(3, 4, jax.devices()[:1])
    assert m.axis_names == mesh.AXES == ("config", "seed")
    assert m.devices.shape == (1, 1) and m.devices[0, 0] == jax.devices()[0]
    with pytest.raises(ValueError, match="^devices: expected at least one device, got none$"):
        mesh.grid_mesh(3, 4, [])


@pytest.mark.parametrize("spec", [PartitionSpec(), PartitionSpec("config"), PartitionSpec("config", "seed")])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_put_and_to_host_round_trip_on_the_cpu(spec, dtype):
    m = mesh.grid_mesh(3, 4, jax.devices("cpu")[:1])
    host = np.arange(3 * 4 * 2).reshape(3, 4, 2).astype(dtype)
    sharding = NamedSharding(m, spec)
    array = mesh.put(host, sharding)
    assert isinstance(array, jax.Array) and array.sharding == sharding
    back = mesh.to_host(array)
    assert isinstance(back, np.ndarray) and back.dtype == dtype
    np.testing.assert_array_equal(back, host)
    assert mesh.replicated(m).spec == PartitionSpec()


def test_to_host_gathers_an_array_this_process_does_not_hold_whole(monkeypatch):
    calls = []

    class Remote:  # stands in for an array some of whose shards live on another process
        is_fully_addressable = False

    def allgather(array, tiled):
        calls.append((array, tiled))
        return [[1, 2], [3, 4]]

    monkeypatch.setattr(mesh.multihost_utils, "process_allgather", allgather)
    remote = Remote()
    np.testing.assert_array_equal(mesh.to_host(remote), [[1, 2], [3, 4]])
    assert calls == [(remote, True)]
