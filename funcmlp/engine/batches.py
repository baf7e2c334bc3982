"""Mini-batches: the data a compiled loop sees (``Data``), the sample order of each epoch (``epoch_perm``)
and the batch of each step (``minibatch``).

An epoch of n samples at batch size B is ceil(n / B) steps; its order is a permutation drawn from
fold_in(key, epoch) (``shuffle``: rounds of one integer sort, not ``jax.random.permutation``, whose
key-value sorts cost a 5,000-sample run of batch 32 more than its training steps on the CPU), so a run
resumed at any step sees the batches it would have seen without stopping. The last batch of an epoch is
filled with the epoch's first samples at weight 0.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Data(NamedTuple):
    """The training data as the loop sees it (traced): x in the params' dtype, y from ``Objective.targets``,
    the key of the mini-batch shuffles, the L2 weight (None for none) and the global step to stop at."""

    x: jax.Array
    y: jax.Array
    key: jax.Array
    l2: Any
    end: jax.Array


def epoch_perm(key, t, n: int, batch_size: int | None) -> jax.Array:
    """The sample order of epoch t // ceil(n / batch_size): a permutation drawn from fold_in(key, epoch),
    its first samples repeated to fill the last batch (they get weight 0); empty for full batch."""
    if batch_size is None:  # from numpy: no program to compile on a first call
        return jnp.asarray(np.zeros((0,), np.int32))
    n_batches = -(-n // batch_size)
    perm = shuffle(jax.random.fold_in(key, t // n_batches), n)
    return jnp.concatenate([perm, perm[: n_batches * batch_size - n]])


def shuffle(key, n: int) -> jax.Array:
    """A random permutation of 0 .. n - 1 (int32 (n,)), by rounds of one integer sort each.

    Round r sorts the words  u_i = (bits_i >> k << k) | i  (k = ceil(log2 n) index bits, 32 - k random
    bits from fold_in(key, r)) and permutes the previous round's order by the sorted words' low k bits:
    equal random parts keep the previous round's (random) order, as the rounds of
    ``jax.random.permutation`` do, with  ceil(3 ln n / ((32 - k) ln 2))  rounds. A sort of one integer
    array is XLA's fast sort on the CPU (several times faster than the key-value sort of
    ``jax.random.permutation``, whose cost a mini-batch run pays once an epoch).
    """
    k = max(1, (n - 1).bit_length())
    free = 32 - k
    if free < 8:  # too few random bits per round: the library's permutation
        return jax.random.permutation(key, n).astype(jnp.int32)
    rounds = max(1, math.ceil(3 * math.log(max(n, 2)) / (free * math.log(2))))
    pos = jnp.arange(n, dtype=jnp.uint32)
    perm = pos
    for r in range(rounds):
        bits = jax.random.bits(jax.random.fold_in(key, r), (n,), jnp.uint32)
        words = jnp.sort((bits >> k << k) | pos)
        perm = perm[(words & ((1 << k) - 1)).astype(jnp.int32)]
    return perm.astype(jnp.int32)


def minibatch(perm, t, data: Data, batch_size: int | None):
    """(perm, x_b, y_b, weights) of step t: all the data (weights None), or mini-batch t of its epoch, padded
    with weight 0; a new epoch before ``end`` draws a new perm (steps past the end must not move the shuffle
    on: a later call resumes from it)."""
    if batch_size is None:
        return perm, data.x, data.y, None
    n = data.x.shape[0]
    n_batches = -(-n // batch_size)
    perm = jax.lax.cond(
        (t % n_batches == 0) & (t < data.end),
        lambda: epoch_perm(data.key, t, n, batch_size),
        lambda: perm,
    )
    start = (t % n_batches) * batch_size
    idx = jax.lax.dynamic_slice_in_dim(perm, start, batch_size)
    if n % batch_size == 0:
        return perm, data.x[idx], data.y[idx], None
    real = (start + jnp.arange(batch_size)) < n
    return perm, data.x[idx], data.y[idx], real.astype(data.x.dtype)
