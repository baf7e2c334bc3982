import jax
import numpy as np
import pytest

from funcmlp import data


def test_spiral_matches_the_cs231n_construction(key):
    x, y = data.spiral(key, n_per_class=100, n_classes=3, noise=0.2)
    assert x.shape == (300, 2) and x.dtype == np.float32
    assert y.shape == (300,) and y.dtype == np.int32
    # Rebuild with numpy, using the same angle noise.
    noise = 0.2 * np.asarray(jax.random.normal(key, (300,)), np.float64)
    ref = np.zeros((300, 2))
    for j in range(3):
        ix = slice(100 * j, 100 * (j + 1))
        r = np.linspace(0.0, 1, 100)
        t = np.linspace(j * 4, (j + 1) * 4, 100) + noise[ix]
        ref[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        assert np.all(np.asarray(y)[ix] == j)
    np.testing.assert_allclose(x, ref, atol=1e-5)


@pytest.mark.parametrize("name", sorted(data.DATASETS))
def test_every_dataset_is_float32_points_with_int_labels(name, key):
    x, y = data.DATASETS[name](key)
    assert x.ndim == 2 and x.shape[1] == 2 and x.dtype == np.float32
    assert y.shape == (x.shape[0],) and y.dtype == np.int32
    assert set(np.unique(y)) == set(range(int(y.max()) + 1))


def test_xor_labels_are_the_sign_product(key):
    x, y = data.xor(key, noise=0.05)
    np.testing.assert_array_equal(np.asarray(y), (np.asarray(x[:, 0]) * np.asarray(x[:, 1]) < 0))


def test_different_keys_give_different_samples():
    a, _ = data.spiral(jax.random.key(0))
    b, _ = data.spiral(jax.random.key(1))
    assert not np.allclose(a, b)
