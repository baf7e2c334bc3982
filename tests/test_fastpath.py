from functools import partial

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp import activations, data, fastpath, heads, training
from funcmlp.mlp import _loss


def _problem(head, sizes, key):
    """Spiral inputs (the origin is among them, so relu meets its kink) and targets for a head."""
    x, y = data.spiral(key, n_per_class=20)
    x = x.astype(jnp.float64)
    if head == "sigmoid":
        y = (y > 0).astype(jnp.int32)
    elif head == "linear":
        y = jnp.stack([jnp.sin(k * x[:, 0]) + x[:, 1] for k in range(1, sizes[-1] + 1)], axis=1)
    return x, y


@pytest.mark.parametrize(
    "sizes, head, activation",
    [
        ((2, 4, 3), "softmax", "relu"),  # the lecture's net: every sum is unrolled
        ((2, 9, 12, 10), "softmax", "tanh"),  # wider than fastpath.SMALL: dot_general and jnp.sum
        ((2, 6, 1), "sigmoid", "leaky_relu:0.1"),
        ((2, 16, 1), "sigmoid", "sigmoid"),
        ((2, 5, 2), "linear", "step"),
        ((2, 3, 11), "linear", "linear"),
    ],
)
@pytest.mark.parametrize("l2", [None, 0.03])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_and_grads_equal_autodiff_of_the_reference_loss(sizes, head, activation, l2, weighted, x64):
    x, y = _problem(head, sizes, jax.random.key(3))
    params = funcmlp.init_params(jax.random.key(4), sizes, dtype=jnp.float64)
    weights = (jnp.arange(x.shape[0]) % 4 != 0).astype(jnp.float64) if weighted else None
    act = activations.get(activation)
    l2_arr = None if l2 is None else jnp.float64(l2)
    ref_value, ref_grads = jax.value_and_grad(_loss)(params, x, y, act.fn, heads.get(head), l2_arr, weights)
    targets = fastpath.targets(head, y, sizes[-1], jnp.float64)
    value, grads = fastpath.loss_and_grads(params, x.T, targets, act, head, l2_arr, weights)
    np.testing.assert_allclose(value, ref_value, rtol=1e-6)
    chex.assert_trees_all_close(grads, ref_grads, rtol=1e-6, atol=1e-12)


def test_relu_derivative_at_the_kink_is_the_documented_zero():
    # The spiral starts at the origin: with zero biases, z^1 = 0 there, so the kink choice matters.
    assert float(jax.grad(activations.relu)(0.0)) == float(activations.relu_grad(jnp.zeros(()))) == 0.0


def _weird_tanh(threshold):
    """tanh whose stated derivative is NaN for z > threshold: a finite loss with a non-finite gradient."""
    return activations.Activation(
        "weird_tanh", jnp.tanh, lambda z: jnp.where(z > threshold, jnp.nan, activations.tanh_grad(z))
    )


def _reference_scan(carry, x, y, key, l2, start, end, *, length, optimizer, act, head, batch_size):
    """The plain path: every step is training._step, the divergence rule checked at each step."""
    xt, targets = training._prepare(x, y, head, carry.params[-1]["b"].shape[0])
    step = partial(
        training._step,
        xt=xt,
        targets=targets,
        key=key,
        l2=l2,
        end=jnp.minimum(end, start + length),
        optimizer=optimizer,
        act=act,
        head=head,
        batch_size=batch_size,
    )
    return jax.lax.scan(step, carry, start + jnp.arange(length))


THRESHOLD = 2.5
CASES = {
    "full batch": dict(opt=optax.sgd(0.5), head="softmax", act="relu", batch=None, end=40),
    "momentum, l2": dict(opt=optax.sgd(0.3, momentum=0.9), head="softmax", act="tanh", batch=None, end=40),
    "mini-batches": dict(opt=optax.adam(0.05), head="softmax", act="relu", batch=16, end=40),
    "past the end": dict(opt=optax.sgd(0.5), head="softmax", act="relu", batch=16, end=29),
    "loss diverges": dict(opt=optax.sgd(10.0), head="linear", act="linear", batch=None, end=40),
    # Diverges at step 9 and ends at step 11: later chunks lie wholly past the end, yet their losses are NaN.
    "loss diverges, then the end": dict(opt=optax.sgd(10.0), head="linear", act="linear", batch=None, end=8),
    # zero_nans turns the NaN gradient into a finite update: only the gradient check can see it.
    "gradient diverges": dict(
        opt=optax.chain(optax.zero_nans(), optax.sgd(5.0)),
        head="softmax",
        act=_weird_tanh(THRESHOLD),
        batch=None,
        end=40,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_chunked_fast_steps_equal_the_plain_step_by_step_rule(case, x64):
    c = CASES[case]
    sizes = (2, 8, 2) if c["head"] == "linear" else (2, 8, 3)
    x, y = _problem(c["head"], sizes, jax.random.key(5))
    params = funcmlp.init_params(jax.random.key(6), sizes, dtype=jnp.float64)
    act = activations.get(c["act"])
    carry = training._Carry(
        params=params,
        prev_params=params,
        opt_state=c["opt"].init(params),
        diverged_at=jnp.int32(-1),
        perm=training._epoch_perm(jax.random.key(7), 3, x.shape[0], c["batch"]),
    )
    l2 = jnp.float64(0.01) if "l2" in case else None
    args = (carry, x, y, jax.random.key(7), l2, jnp.int32(3), jnp.int32(3 + c["end"]))
    kw = dict(length=36, optimizer=c["opt"], act=act, head=c["head"], batch_size=c["batch"])
    want_carry, want_losses = _reference_scan(*args, **kw)
    diverged = int(want_carry.diverged_at)
    if "diverges" in case:
        assert 3 < diverged < 3 + 36, "the case must diverge inside the run"
    else:
        assert diverged == -1
    # Chunks of 6 and 8 steps put a divergence in the middle of a chunk and at a chunk's first step;
    # 36 steps leave the last chunk padded.
    for chunk in (6, 8):
        got_carry, got_losses = training._run(*args, **kw, chunk=chunk, unroll=3)
        assert int(got_carry.diverged_at) == diverged
        np.testing.assert_allclose(got_losses, want_losses, rtol=1e-6)  # NaN where NaN
        chex.assert_trees_all_close(got_carry, want_carry, rtol=1e-6, atol=1e-12)


def test_train_uses_the_fast_path_and_keeps_its_results(x64):
    # Whole runs through the public entry point, against a Python loop of optax steps on jax.grad(loss).
    x, y = _problem("softmax", (2, 4, 3), jax.random.key(8))
    params = funcmlp.init_params(jax.random.key(9), (2, 4, 3), dtype=jnp.float64)
    opt = optax.sgd(1.0)
    result = funcmlp.train(params, x, y, optimizer=opt, steps=2 * training.CHUNK + 5)

    @jax.jit
    def step(p, s):
        u, s = opt.update(jax.grad(funcmlp.loss)(p, x, y), s, p)
        return optax.apply_updates(p, u), s

    p, s = params, opt.init(params)
    for _ in range(2 * training.CHUNK + 5):
        p, s = step(p, s)
    chex.assert_trees_all_close(result.params, p, rtol=1e-6, atol=1e-12)
    assert int(result.diverged_at) == -1


def test_chunked_calls_resume_the_shuffle_where_they_stopped(x64, monkeypatch):
    # Calls of 13 steps in fast chunks of 5: each call's last chunk runs 2 steps past the call's end. With 2
    # mini-batches per epoch, the second of those (step 14) starts an epoch that the next call, resuming at
    # step 13, must not see yet.
    monkeypatch.setattr(training, "CHUNK", 5)
    x, y = _problem("softmax", (2, 8, 3), jax.random.key(10))
    params = funcmlp.init_params(jax.random.key(11), (2, 8, 3), dtype=jnp.float64)
    kw = dict(optimizer=optax.sgd(0.5), steps=39, batch_size=30, key=jax.random.key(12))
    whole = funcmlp.train(params, x, y, **kw)
    chunked = funcmlp.train(params, x, y, **kw, chunk_size=13)
    np.testing.assert_allclose(chunked.losses, whole.losses, rtol=1e-6)
    chex.assert_trees_all_close(chunked.params, whole.params, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("width", [3, 12])  # narrow (ones row appended) and wide (dot_general, jnp.sum)
def test_sums_over_samples_by_matmul_and_by_reduction_agree_with_numpy(width, x64):
    a = jax.random.normal(jax.random.key(13), (width, 50), jnp.float64)
    delta = jax.random.normal(jax.random.key(14), (4, 50), jnp.float64)
    want_w, want_b = np.asarray(a) @ np.asarray(delta).T, np.asarray(delta).sum(axis=1)
    for how in ("dot", "reduce"):
        gw, gb = fastpath._sample_sums(a, delta, how)
        np.testing.assert_allclose(gw, want_w, rtol=1e-10)
        np.testing.assert_allclose(gb, want_b, rtol=1e-10)
