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


def _rows(n=23, d=3):
    """x whose column 0 is the row's index (so every row is traceable), y = 10 * index."""
    x = np.random.default_rng(0).normal(size=(n, d)).astype(np.float32)
    x[:, 0] = np.arange(n)
    return x, (10 * np.arange(n)).astype(np.int32)


# One shape per function throughout, so each compiles once.
SEEDS, FOLDS = 4, 5


@pytest.fixture(scope="module")
def boot():
    return data.bootstrap(jax.random.key(0), *_rows(), seeds=SEEDS)


def test_bootstrap_rows_are_the_drawn_rows_of_the_original(key, boot):
    x, y = _rows()
    xs, ys = boot
    assert xs.shape == (SEEDS, 23, 3) and xs.dtype == np.float32
    assert ys.shape == (SEEDS, 23) and ys.dtype == np.int32
    keys = jax.random.split(key, SEEDS)
    for j in range(SEEDS):
        idx = np.asarray(jax.random.choice(keys[j], 23, (23,), replace=True))
        np.testing.assert_array_equal(np.asarray(xs[j]), x[idx])
        np.testing.assert_array_equal(np.asarray(ys[j]), y[idx])
    ids = np.asarray(xs[..., 0]).astype(int)
    np.testing.assert_array_equal(np.asarray(ys), 10 * ids)  # x and y rows stay paired


def test_bootstrap_seeds_differ_and_each_key_is_deterministic(key, boot):
    x, y = _rows()
    xs, ys = boot
    assert all(not np.array_equal(xs[a], xs[b]) for a in range(SEEDS) for b in range(a))
    again = data.bootstrap(key, x, y, seeds=SEEDS)
    np.testing.assert_array_equal(again[0], xs)
    np.testing.assert_array_equal(again[1], ys)
    other, _ = data.bootstrap(jax.random.key(1), x, y, seeds=SEEDS)
    assert not np.array_equal(other, xs)


def test_bootstrap_and_kfold_trace_under_jit(key):
    """Abstract x, y and key (as inside a user's jit) go through; only seeds and folds are static."""
    x, y = _rows()
    xs, ys = jax.eval_shape(lambda k, a, b: data.bootstrap(k, a, b, SEEDS), key, x, y)
    assert (xs.shape, ys.shape) == ((SEEDS, 23, 3), (SEEDS, 23))
    f = jax.eval_shape(lambda k, a, b: data.kfold(k, a, b, FOLDS), key, x, y)
    assert [a.shape for a in f] == [(FOLDS, 19, 3), (FOLDS, 19), (FOLDS, 4, 3), (FOLDS, 4)]
    f = jax.eval_shape(lambda k, a, b: data.kfold(k, a, b, 23), key, x, y)  # folds = n: leave one out
    assert [a.shape for a in f] == [(23, 22, 3), (23, 22), (23, 1, 3), (23, 1)]


def test_kfold_validates_each_row_once_and_trains_on_the_rest(key):
    n, folds = 23, FOLDS  # 23 % 5 = 3 leftover rows
    x, y = _rows(n)
    f = data.kfold(key, x, y, folds=folds)
    assert isinstance(f, data.Folds)
    m = n // folds
    assert f.x_train.shape == (folds, n - m, 3) and f.y_train.shape == (folds, n - m)
    assert f.x_val.shape == (folds, m, 3) and f.y_val.shape == (folds, m)
    train = np.asarray(f.x_train[..., 0]).astype(int)
    val = np.asarray(f.x_val[..., 0]).astype(int)
    np.testing.assert_array_equal(np.asarray(f.y_train), 10 * train)
    np.testing.assert_array_equal(np.asarray(f.y_val), 10 * val)
    np.testing.assert_array_equal(np.asarray(f.x_val), x[val])  # whole rows, not only the ids
    np.testing.assert_array_equal(np.asarray(f.x_train), x[train])
    # Each row is validated at most once; the n % folds that are not are the leftovers, in every training set.
    assert len(set(val.ravel())) == folds * m
    leftover = set(range(n)) - set(val.ravel())
    assert len(leftover) == n % folds
    for j in range(folds):
        assert set(train[j]).isdisjoint(val[j])
        assert sorted([*train[j], *val[j]]) == list(range(n))
        assert leftover <= set(train[j])
    # The folds are the consecutive parts of the key's permutation; training keeps the permutation's order.
    p = np.asarray(jax.random.permutation(key, n))
    np.testing.assert_array_equal(val, p[: folds * m].reshape(folds, m))
    np.testing.assert_array_equal(train[0], p[m:])


def test_kfold_is_deterministic_per_key(key):
    x, y = _rows()
    a, b = data.kfold(key, x, y, FOLDS), data.kfold(key, x, y, FOLDS)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(data.kfold(jax.random.key(1), x, y, FOLDS).x_val, a.x_val)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda k, x, y: data.bootstrap(k, x, y, 0),
            ValueError,
            r"seeds: expected a positive integer, got 0",
        ),
        (lambda k, x, y: data.bootstrap(k, x, y, 2.0), ValueError, r"seeds: expected a positive integer"),
        (
            lambda k, x, y: data.bootstrap(k, x, y[:-1], 2),
            ValueError,
            r"y: expected one row per sample, shape \(23, \.\.\.\), got \(22,\)",
        ),
        (
            lambda k, x, y: data.bootstrap(k, x[:, 0], y, 2),
            ValueError,
            r"x: expected a 2-D array \(n, d\), got shape \(23,\)",
        ),
        (lambda k, x, y: data.bootstrap(k, x[:0], y[:0], 2), ValueError, r"x: expected at least one sample"),
        (lambda k, x, y: data.bootstrap(0, x, y, 2), TypeError, r"key: expected a jax.random.key"),
        (lambda k, x, y: data.kfold(k, x, y, 1), ValueError, r"folds: expected at least 2 .*, got 1"),
        (lambda k, x, y: data.kfold(k, x, y, 24), ValueError, r"folds: expected at most n = 23 .*, got 24"),
        (lambda k, x, y: data.kfold(k, x, y, 0), ValueError, r"folds: expected a positive integer, got 0"),
        (
            lambda k, x, y: data.kfold(k, x, y[:5], 3),
            ValueError,
            r"y: expected one row per sample, shape \(23, \.\.\.\), got \(5,\)",
        ),
        (
            lambda k, x, y: data.kfold(k, np.where(x > 1, np.nan, x), y, 3),
            ValueError,
            r"x: expected finite values",
        ),
    ],
)
def test_bootstrap_and_kfold_name_the_bad_argument(key, call, error, match):
    x, y = _rows()
    with pytest.raises(error, match=match):
        call(key, x, y)
