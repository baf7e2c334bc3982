"""Stratified splits: every class keeps its share of the rows in every part, to within one row."""

import jax
import numpy as np
import pytest

from funcmlp.io import splits


def class_table(s: splits.Split, k: int) -> np.ndarray:
    """(classes, parts) rows per class in the test, validation and training parts."""
    return np.stack([np.bincount(y, minlength=k) for y in (s.y_test, s.y_val, s.y_train)], axis=1)


def check_within_one_row(s: splits.Split, y: np.ndarray, x: np.ndarray) -> None:
    n, k = len(y), int(y.max()) + 1
    table = class_table(s, k)
    sizes = table.sum(axis=0)
    quota = np.outer(np.bincount(y, minlength=k), sizes) / n  # each class's share of each part
    assert np.all(table >= np.floor(quota)) and np.all(table <= np.ceil(quota)), (table, quota)
    rows = np.concatenate([s.x_test, s.x_val, s.x_train])[:, 0].astype(int)
    np.testing.assert_array_equal(np.sort(rows), np.arange(n))  # every row exactly once
    for xs, ys in [(s.x_train, s.y_train), (s.x_val, s.y_val), (s.x_test, s.y_test)]:
        np.testing.assert_array_equal(ys, y[xs[:, 0].astype(int)])  # rows keep their labels


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_an_imbalanced_label_vector_357_to_12(seed):
    y = np.repeat([0, 1], [357, 12])
    x = np.arange(369, dtype=np.float32)[:, None]
    s = splits.split(jax.random.key(seed), x, y, val=0.2, test=0.2)
    # n_val = n_test = round(0.2 * 369) = 74, n_train = 221; class 1's shares: 12 * 74 / 369 = 2.41 in
    # the test and validation parts, 12 * 221 / 369 = 7.19 in the training part.
    table = class_table(s, 2)
    assert table.sum(axis=0).tolist() == [74, 74, 221]
    assert table[1, 0] in (2, 3) and table[1, 1] in (2, 3) and table[1, 2] in (7, 8)
    assert table[0].tolist() == [74 - table[1, 0], 74 - table[1, 1], 221 - table[1, 2]]
    assert table[1].sum() == 12
    check_within_one_row(s, y, x)
    # a plain random split of the same rows may leave the rare class out of a part altogether
    plain = splits.split(jax.random.key(seed), x, y, val=0.2, test=0.2, stratify=False)
    assert class_table(plain, 2).sum(axis=0).tolist() == [74, 74, 221]


def test_every_class_within_one_row_over_random_label_vectors():
    rng = np.random.default_rng(0)
    x = np.arange(60, dtype=np.float32)[:, None]  # one n: one compiled permutation
    for trial in range(150):
        k = int(rng.integers(1, 9))
        y = rng.permutation(np.r_[np.arange(k), rng.choice(k, 60 - k, p=rng.dirichlet(np.ones(k) / 2))])
        val, test = (float(v) for v in rng.choice([0.0, 0.05, 0.1, 0.2, 0.3, 0.45], 2))
        try:
            s = splits.split(jax.random.key(trial), x, y, val=val, test=test)
        except ValueError:  # too few rows left to train on: refused as before
            continue
        check_within_one_row(s, y, x)


def test_the_part_sizes_and_the_row_order_do_not_change():
    """Only which rows of a class go where changes: the parts keep their sizes; each part lists its rows in
    the order of the key's permutation, so a part is not sorted by class."""
    y = np.arange(100) % 3
    x = np.arange(100, dtype=np.float32)[:, None]
    key = jax.random.key(3)
    s = splits.split(key, x, y, val=0.1, test=0.2)
    assert (len(s.y_train), len(s.y_val), len(s.y_test)) == (70, 10, 20)
    position = np.argsort(np.asarray(jax.random.permutation(key, 100)))
    for part in (s.x_train, s.x_val, s.x_test):
        assert np.all(np.diff(position[part[:, 0].astype(int)]) > 0)
    assert np.any(np.diff(s.y_train) != 0) and not np.all(np.diff(s.y_train) >= 0)


def test_regression_targets_are_split_at_random():
    x = np.arange(50, dtype=np.float32)[:, None]
    key = jax.random.key(2)
    perm = np.asarray(jax.random.permutation(key, 50))
    for y in (np.linspace(0.0, 1.0, 50), np.linspace(0.0, 1.0, 50)[:, None]):
        s = splits.split(key, x, y, val=0.2, test=0.2)
        np.testing.assert_array_equal(s.x_test[:, 0], perm[:10])
        np.testing.assert_array_equal(s.x_val[:, 0], perm[10:20])
        np.testing.assert_array_equal(s.x_train[:, 0], perm[20:])
    labels = splits.split(key, x, np.arange(50) % 2, val=0.2, test=0.2, stratify=False)
    np.testing.assert_array_equal(labels.x_test[:, 0], perm[:10])
    with pytest.raises(ValueError, match=r"^stratify: expected integer class labels"):
        splits.split(key, x, np.linspace(0.0, 1.0, 50), stratify=True)
