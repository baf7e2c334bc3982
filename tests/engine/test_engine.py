"""The one engine: gradients from jax.grad of any activation and loss, the factory form, optimizers that need
the loss, every dtype pair, the divergence rule in chunks, and the plan per backend."""

from functools import partial

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp import activations, data, engine, heads, training
from funcmlp.engine import plan


@pytest.fixture(scope="module")
def spiral():
    x, y = data.spiral(jax.random.key(0), n_per_class=20)
    return x, y


def hand_loop(params, x, y, loss, opt, steps):
    """The obvious research script: jax.value_and_grad of a pure loss and optax, one jitted step at a
    time."""

    @jax.jit
    def step(params, state):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        updates, state = opt.update(
            grads, state, params, value=value, grad=grads, value_fn=lambda p: loss(p, x, y)
        )
        return optax.apply_updates(params, updates), state

    state = opt.init(params)
    for _ in range(steps):
        params, state = step(params, state)
    return params


def my_loss(logits, y):
    """A per-sample loss of the user's own: cross-entropy with label smoothing 0.1."""
    k = logits.shape[-1]
    target = 0.9 * jax.nn.one_hot(y, k, dtype=logits.dtype) + 0.1 / k
    return -jnp.sum(target * jax.nn.log_softmax(logits), axis=-1)


def mlp_loss(act, per_sample):
    def loss(p, x, y):
        a = x
        for layer in p[:-1]:
            a = act(a @ layer["w"] + layer["b"])
        return jnp.mean(per_sample(a @ p[-1]["w"] + p[-1]["b"], y))

    return loss


def test_a_callable_activation_and_loss_train_as_a_hand_written_grad_loop(spiral, x64):
    x, y = spiral
    x = x.astype(jnp.float64)
    params = funcmlp.init_params(jax.random.key(1), (2, 6, 3), dtype=jnp.float64)
    opt = optax.adam(0.05)
    result = funcmlp.train(params, x, y, optimizer=opt, steps=20, activation=jax.nn.gelu, head=my_loss)
    want = hand_loop(params, x, y, mlp_loss(jax.nn.gelu, my_loss), opt, 20)
    chex.assert_trees_all_close(result.params, want, rtol=1e-6, atol=1e-12)
    assert float(funcmlp.loss(params, x, y, activation=jax.nn.gelu, head=my_loss)) == pytest.approx(
        float(result.losses[0]), rel=1e-12
    )


def test_a_sweep_of_callables_equals_hand_written_loops(spiral, x64):
    x, y = spiral
    x = x.astype(jnp.float64)
    key, lrs = jax.random.key(2), [0.02, 0.1]
    result = funcmlp.sweep(
        key,
        x,
        y,
        sizes=(2, 5, 3),
        seeds=2,
        learning_rates=lrs,
        steps=15,
        activation=jnp.sin,
        head=my_loss,
        optimizer=optax.adam,
        dtype=jnp.float64,
    )
    (group,) = result.groups
    assert group.activation == "sin" and result.head == "my_loss"
    for i, lr in enumerate(lrs):
        for j, k in enumerate(jax.random.split(key, 2)):
            p0 = funcmlp.init_params(k, (2, 5, 3), dtype=jnp.float64)
            want = hand_loop(p0, x, y, mlp_loss(jnp.sin, my_loss), optax.adam(lr), 15)
            chex.assert_trees_all_close(
                jax.tree.map(lambda a, i=i, j=j: a[i, j], group.params), want, rtol=1e-6, atol=1e-12
            )


def test_the_factory_form_equals_the_object_form_and_compiles_once(spiral):
    x, y = spiral
    params = funcmlp.init_params(jax.random.key(3), (2, 4, 3))
    traces = []

    def counted_relu(z):  # runs once per trace of the compiled loop
        traces.append(1)
        return jax.nn.relu(z)

    def run(lr, form):
        if form == "object":
            return funcmlp.train(
                params, x, y, optimizer=optax.sgd(lr, momentum=0.9), steps=30, activation=counted_relu
            )
        hp = {"learning_rate": lr, "momentum": 0.9}
        return funcmlp.train(
            params, x, y, optimizer=optax.sgd, hyperparams=hp, steps=30, activation=counted_relu
        )

    first = run(0.1, "factory")
    after_first = len(traces)
    for lr in (0.2, 0.3, 0.05, 0.4):
        run(lr, "factory")
    assert len(traces) == after_first  # no new trace for new learning rates
    obj = run(0.1, "object")
    np.testing.assert_allclose(first.losses, obj.losses, rtol=1e-6)
    chex.assert_trees_all_close(first.params, obj.params, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "make",
    [
        lambda: optax.lbfgs(),
        lambda: optax.chain(optax.adam(0.05), optax.contrib.reduce_on_plateau(patience=2, factor=0.5)),
        lambda: optax.MultiSteps(optax.adam(0.05), every_k_schedule=3),
    ],
    ids=["lbfgs", "reduce_on_plateau", "MultiSteps"],
)
def test_optimizers_that_need_the_loss_train_as_a_hand_written_loop(spiral, make, x64):
    x, y = spiral
    x = x.astype(jnp.float64)
    params = funcmlp.init_params(jax.random.key(4), (2, 6, 3), dtype=jnp.float64)
    result = funcmlp.train(params, x, y, optimizer=make(), steps=12, activation="tanh")
    opt = make()
    opt = opt.gradient_transformation() if hasattr(opt, "gradient_transformation") else opt
    want = hand_loop(params, x, y, mlp_loss(jnp.tanh, heads.softmax_cross_entropy), opt, 12)
    chex.assert_trees_all_close(result.params, want, rtol=1e-6, atol=1e-10)
    assert float(result.losses[-1]) < float(result.losses[0])


PARAM_DTYPES = ["float64", "float32", "bfloat16", "float16"]
DATA_DTYPES = ["float64", "float32", "int32"]
# One optimizer object for every pair: the data is cast to the params' dtype before the compiled loop, so
# the pairs of one params dtype share its program.
ADAM = optax.adam(0.05)


@pytest.mark.parametrize("param_dtype", PARAM_DTYPES)
@pytest.mark.parametrize("data_dtype", DATA_DTYPES)
def test_every_dtype_pair_trains_in_the_params_dtype(spiral, param_dtype, data_dtype, request):
    x, y = spiral
    if "float64" in (param_dtype, data_dtype):
        request.getfixturevalue("x64")
    xd = np.asarray(x * 4).astype(data_dtype)  # integers: a coarse grid of the spiral
    params = funcmlp.init_params(jax.random.key(5), (2, 8, 3), dtype=jnp.float32)
    params = jax.tree.map(lambda a: jnp.asarray(a, param_dtype), params)
    result = funcmlp.train(params, xd, y, optimizer=ADAM, steps=20, l2=1e-4)
    assert {leaf.dtype for leaf in jax.tree.leaves(result.params)} == {jnp.dtype(param_dtype)}
    assert np.all(np.isfinite(np.asarray(result.losses, np.float32)))
    assert float(result.losses[-1]) < float(result.losses[0])
    if data_dtype == "float32":  # the sweep casts the data as train does: one data dtype per params dtype
        opts = dict(seeds=2, learning_rates=[0.05], steps=10, optimizer=optax.adam, dtype=param_dtype)
        sweep = funcmlp.sweep(jax.random.key(6), xd, y, sizes=(2, 4, 3), **opts)
        assert sweep.groups[0].params[0]["w"].dtype == jnp.dtype(param_dtype)


def test_params_in_mixed_dtypes_are_refused_by_name(spiral):
    x, y = spiral
    params = funcmlp.init_params(jax.random.key(5), (2, 4, 3))
    params[1]["w"] = params[1]["w"].astype(jnp.bfloat16)
    with pytest.raises(TypeError, match=r"^params: expected every leaf in one floating dtype"):
        funcmlp.train(params, x, y, optimizer=optax.sgd(0.1), steps=2)


def test_data_that_overflows_the_params_dtype_is_refused(spiral):
    x, y = spiral
    params = jax.tree.map(lambda a: a.astype(jnp.float16), funcmlp.init_params(jax.random.key(5), (2, 4, 3)))
    with pytest.raises(
        ValueError, match=r"^x: expected values within the range of the params' dtype float16"
    ):
        funcmlp.train(params, x * 1e6, y, optimizer=optax.sgd(0.1), steps=2)


def test_the_plan_is_chosen_per_backend_and_size():
    small, wide = (2, 4, 3), (784, 512, 512, 10)
    assert plan.choose("cpu", small) == plan.Plan(True, "dot", None)
    assert plan.choose("cpu", small, models=1024) == plan.Plan(True, "reduce", plan.CPU_GROUP)
    assert plan.choose("gpu", small, models=16384) == plan.Plan(True, "reduce", None)
    assert not plan.choose("cpu", wide).registered and not plan.choose("gpu", wide, batch_size=128).registered
    assert (
        not plan.choose("cpu", (2, 64, 64, 3)).registered and not plan.choose("cpu", (20, 32, 2)).registered
    )
    assert plan.choose("cpu", small, batch_size=32).registered
    assert not plan.choose("tpu", small, available=False).registered
    assert training.make_objective(jax.nn.gelu, "softmax", small, backend="cpu").plan.registered is False
    assert training.make_objective("relu", my_loss, small, backend="cpu").plan.registered is False
    assert training.make_objective("relu", "softmax", small, backend="cpu").plan.registered is True


def _nan_grad_tanh(threshold):
    """tanh whose derivative is NaN for z > threshold: a finite loss with a non-finite gradient."""

    @jax.custom_jvp
    def f(z):
        return jnp.tanh(z)

    f.defjvp(
        lambda primals, tangents: (
            f(primals[0]),
            jnp.where(primals[0] > threshold, jnp.nan, 1.0) * tangents[0],
        )
    )
    return f


CASES = {
    "full batch": dict(opt=optax.sgd(0.5), head="softmax", act="relu", batch=None, end=40),
    "momentum": dict(opt=optax.sgd(0.3, momentum=0.9), head="softmax", act="tanh", batch=None, end=40),
    "mini-batches": dict(opt=optax.adam(0.05), head="softmax", act="relu", batch=16, end=40),
    "past the end": dict(opt=optax.sgd(0.5), head="softmax", act="relu", batch=16, end=29),
    "loss diverges": dict(opt=optax.sgd(10.0), head="linear", act="linear", batch=None, end=40),
    # Diverges at step 9 and ends at step 11: later chunks lie wholly past the end, yet their losses are NaN.
    "loss diverges, then the end": dict(opt=optax.sgd(10.0), head="linear", act="linear", batch=None, end=8),
    # zero_nans turns the NaN gradient into a finite update: only the gradient check can see it.
    "gradient diverges": dict(
        opt=optax.chain(optax.zero_nans(), optax.sgd(5.0)),
        head="softmax",
        act=_nan_grad_tanh(2.5),
        batch=None,
        end=40,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_chunked_fast_steps_equal_the_careful_step_by_step_rule(case, x64):
    c = CASES[case]
    sizes = (2, 8, 2) if c["head"] == "linear" else (2, 8, 3)
    x, y = data.spiral(jax.random.key(5), n_per_class=20)
    x = x.astype(jnp.float64)
    if c["head"] == "linear":
        y = jnp.stack([jnp.sin(x[:, 0]) + x[:, 1], x[:, 0] * x[:, 1]], axis=1)
    params = funcmlp.init_params(jax.random.key(6), sizes, dtype=jnp.float64)
    objective = training.make_objective(c["act"], c["head"], sizes, batch_size=c["batch"], backend="cpu")
    spec = engine.Spec(objective, engine.Fixed(c["opt"]), c["batch"])
    key = jax.random.key(7)
    state = engine.init_state(params, spec, key, 3, x.shape[0])
    data_ = engine.Data(x, objective.targets(y, sizes[-1], x.dtype), key, None, jnp.int32(3 + c["end"]))
    careful = partial(engine.step, spec=spec, data=data_._replace(end=jnp.minimum(data_.end, 3 + 36)))
    want_state, want_losses = jax.lax.scan(careful, state, 3 + jnp.arange(36))
    diverged = int(want_state.diverged_at)
    if "diverges" in case:
        assert 3 < diverged < 3 + 36, "the case must diverge inside the run"
    else:
        assert diverged == -1
    # Chunks of 6 and 8 steps put a divergence in the middle of a chunk and at a chunk's first step;
    # 36 steps leave the last chunk padded.
    for chunk in (6, 8):
        got_state, got_losses = engine.run(state, data_, jnp.int32(3), spec=spec, length=36, chunk=chunk)
        assert int(got_state.diverged_at) == diverged
        np.testing.assert_allclose(got_losses, want_losses, rtol=1e-6)  # NaN where NaN
        chex.assert_trees_all_close(got_state, want_state, rtol=1e-6, atol=1e-12)


def test_a_user_activation_record_is_differentiated_by_autodiff_not_by_its_stated_grad(spiral, x64):
    x, y = spiral
    x = x.astype(jnp.float64)
    wrong = activations.Activation("tanh_with_a_wrong_grad", jnp.tanh, lambda z: jnp.ones_like(z))
    params = funcmlp.init_params(jax.random.key(8), (2, 5, 3), dtype=jnp.float64)
    result = funcmlp.train(params, x, y, optimizer=optax.sgd(0.5), steps=5, activation=wrong)
    want = funcmlp.train(params, x, y, optimizer=optax.sgd(0.5), steps=5, activation="tanh")
    chex.assert_trees_all_close(result.params, want.params, rtol=1e-6, atol=1e-12)


def test_backprop_and_diagnostics_take_functions_too(spiral, x64):
    # The chain rule by hand with da/dz by forward mode and delta by autodiff of the user's loss.
    x, y = spiral
    x = x.astype(jnp.float64)
    params = funcmlp.init_params(jax.random.key(9), (2, 6, 3), dtype=jnp.float64)
    by_hand = funcmlp.backprop(params, x, y, activation=jax.nn.gelu, head=my_loss)
    auto = jax.grad(funcmlp.loss)(params, x, y, activation=jax.nn.gelu, head=my_loss)
    chex.assert_trees_all_close(by_hand, auto, rtol=1e-6, atol=1e-12)
    norms = funcmlp.diagnostics.layer_grad_norms(params, x, y, activation=jnp.sin)
    want = [
        np.linalg.norm(np.asarray(g["w"])) for g in jax.grad(funcmlp.loss)(params, x, y, activation=jnp.sin)
    ]
    np.testing.assert_allclose(norms, want, rtol=1e-6)


def test_an_update_to_inf_is_a_divergence_that_keeps_the_last_finite_parameters(spiral):
    x, y = spiral
    params = funcmlp.init_params(jax.random.key(10), (2, 4, 3))
    hp = {"learning_rate": 1e30}
    for steps in (1, 5):  # the loss at step 0 is finite; the update is not
        result = funcmlp.train(params, x * 1e18, y, optimizer=optax.sgd, hyperparams=hp, steps=steps)
        assert int(result.diverged_at) == 0
        chex.assert_trees_all_equal(result.params, params)
        assert np.isfinite(result.losses[0]) and np.all(np.isnan(result.losses[1:]))
    with pytest.raises(ValueError, match=r"^start_step: expected start_step \+ steps <= 2147483647"):
        funcmlp.train(params, x, y, optimizer=optax.sgd(0.1), steps=10, start_step=2**31 - 5)
