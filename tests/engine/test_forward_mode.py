"""Forward-mode derivatives (jax.jvp, jax.jacfwd, jax.hessian) through the registered derivative, funcmlp.loss,
funcmlp.forward and funcmlp.train, whatever the plan chose: against autodiff of the plain loss (the rule
switched off) and central finite differences, in float64."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp import activations, heads, mlp, training
from funcmlp.engine import fastpath, plan

ACTIVATIONS = activations.NAMES
# at most heads.SMALL (every sum over features unrolled) and wider (dot_general, jnp.sum)
WIDTHS = [4, plan.NARROW + 1]
L2 = 0.03
# Every activation x head pair at width 4, where both objectives take the registered rule with sums unrolled.
# Wider, the same rule's code for each activation and head runs with dot_general sums (a sweep on the CPU)
# or autodiff replaces it (one model): the sums do not depend on the pair, so every activation once and
# every head twice.
CASES = [(a, h, WIDTHS[0]) for a in ACTIVATIONS for h in heads.NAMES] + [
    (a, heads.NAMES[i % len(heads.NAMES)], WIDTHS[1]) for i, a in enumerate(ACTIVATIONS)
]


def problem(head: str, width: int):
    """(params, x, y, T, sample weights) in float64: random biases keep every z^1 off the kinks at 0."""
    k = jax.random.split(jax.random.key(7), 5)
    x, y = funcmlp.data.spiral(k[0], n_per_class=4)
    x = x.astype(jnp.float64)
    k_out = {"softmax": 3, "sigmoid": 1, "linear": 2}[head]
    if head == "sigmoid":
        y = (y > 0).astype(jnp.int32)
    elif head == "linear":
        y = jnp.stack([jnp.sin(x[:, 0]) + x[:, 1], x[:, 0] * x[:, 1]], axis=1)
    params = funcmlp.init_params(k[1], (2, width, k_out), dtype=jnp.float64)
    params = [
        {"w": p["w"], "b": 0.3 * jax.random.normal(kb, p["b"].shape, jnp.float64)}
        for p, kb in zip(params, jax.random.split(k[2], len(params)), strict=True)
    ]
    weights = jax.random.uniform(k[3], (x.shape[0],), jnp.float64, 0.5, 1.5)
    return params, x, y, heads.get(head).targets(y, k_out, jnp.float64), weights


def plain_loss(act, head):
    """J(params, x, T, w, l2) = sum_i w_i l_i / sum_i w_i + l2 R written plainly: autodiff, no rule."""

    def loss(params, x, t, w, l2):
        per_sample = head.rule(mlp.apply(params, x, act.fn).T, t.T)[0]
        return jnp.sum(w * per_sample) / jnp.sum(w) + l2 * mlp.l2_penalty(params)

    return loss


def random_like(tree, seed: int):
    leaves, treedef = jax.tree.flatten(tree)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    return jax.tree.unflatten(
        treedef, [jax.random.normal(k, a.shape, a.dtype) for k, a in zip(keys, leaves, strict=True)]
    )


@functools.partial(jax.jit, static_argnames=("single", "many", "act", "head"))
def derivatives(params, x, y, t, w, v, *, single, many, act, head):
    """Every derivative the test compares, in one compiled program per (activation, head, width): of the
    engine's objective as the plan chose it for one model (``single``) and for a sweep's group (``many``),
    of ``funcmlp.loss``, and of the plain loss (the references)."""
    plain = plain_loss(act, head)
    l2 = jnp.float64(L2)

    def objective(obj):
        targets = obj.targets(y, t.shape[1], jnp.float64)
        return lambda p, x, w, l2: obj(p, x, targets, w, l2)

    def on_first_bias(f):  # the loss as a function of b^1 alone: it reaches J through act and act'
        return lambda b: f([{**params[0], "b": b}, *params[1:]], x, w, l2)

    ones = jnp.ones_like(w)
    public = functools.partial(funcmlp.loss, y=y, activation=act, head=head, l2=L2)  # c_i = 1/n
    return {
        "jacfwd": jax.jacfwd(objective(single), (0, 1))(params, x, w, l2),
        "grad_plain": jax.grad(plain, (0, 1))(params, x, t, w, l2),
        "hessian": jax.hessian(on_first_bias(objective(many)))(params[0]["b"]),
        "hessian_plain": jax.hessian(on_first_bias(lambda p, x, w, l2: plain(p, x, t, w, l2)))(
            params[0]["b"]
        ),
        "jvp_public": jax.jvp(lambda p, x: public(p, x), (params, x), v),
        "jvp_public_plain": jax.jvp(lambda p, x: plain(p, x, t, ones, l2), (params, x), v),
    }


def close(got, want):
    chex.assert_trees_all_close(got, want, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize(("activation", "head", "width"), CASES)
def test_forward_mode_through_the_planned_objective_and_loss_equals_autodiff(activation, head, width, x64):
    params, x, y, t, w = problem(head, width)
    act, hd = activations.get(activation), heads.get(head)
    sizes = (2, width, t.shape[1])
    single = training.make_objective(act, hd, sizes)
    many = training.make_objective(act, hd, sizes, models=64)
    assert single.plan.registered == (width <= plan.NARROW)
    # a sweep on the CPU takes the registered derivative up to plan.SWEEP_WIDE units
    assert many.plan.registered == (width <= plan.NARROW or jax.default_backend() == "cpu")
    v = random_like((params, x), 11)
    d = derivatives(params, x, y, t, w, v, single=single, many=many, act=act, head=hd)
    close(d["jacfwd"], d["grad_plain"])
    close(d["hessian"], d["hessian_plain"])
    assert d["hessian"].shape == (width, width)
    close(d["jvp_public"], d["jvp_public_plain"])


@functools.partial(jax.jit, static_argnames=("act", "head", "sums"))
def jvps_in_every_input(primals, tangents, *, act, head, sums):
    def registered(*args):
        return fastpath.loss(*args, act=act, head=head, sums=sums)

    return jax.jvp(registered, primals, tangents), jax.jvp(plain_loss(act, head), primals, tangents)


@pytest.mark.parametrize(("head", "sums"), [("softmax", "dot"), ("linear", "reduce")])
def test_jvp_of_the_registered_rule_in_every_input_equals_autodiff(head, sums, x64):
    # the float targets T too: every term of the rule (params, x, T, sample weights, l2), random tangents
    params, x, _, t, w = problem(head, 4)
    primals = (params, x, t, w, jnp.float64(L2))
    act, hd = activations.get("tanh"), heads.get(head)
    got, want = jvps_in_every_input(primals, random_like(primals, 13), act=act, head=hd, sums=sums)
    close(got, want)


def numpy_forward(params, x, act: str) -> np.ndarray:
    """z^L in float64 numpy, independent of funcmlp."""
    fns = {
        "step": lambda z: (z > 0).astype(np.float64),
        "linear": lambda z: z,
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        "tanh": np.tanh,
        "relu": lambda z: np.maximum(z, 0),
        "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
        "leaky_relu:0.1": lambda z: np.where(z > 0, z, 0.1 * z),
    }
    a = np.asarray(x)
    for layer in params[:-1]:
        a = fns[act](a @ np.asarray(layer["w"]) + np.asarray(layer["b"]))
    return a @ np.asarray(params[-1]["w"]) + np.asarray(params[-1]["b"])


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_jvp_of_forward_equals_central_differences(activation, width, x64):
    params, x, _, _, _ = problem("softmax", width)
    v = random_like((params, x), 12)
    _, got = jax.jvp(lambda p, x: funcmlp.forward(p, x, activation=activation), (params, x), v)
    h = 1e-6

    def at(s):
        p, xs = jax.tree.map(lambda a, d: np.asarray(a) + s * np.asarray(d), (params, x), v)
        return numpy_forward(p, xs, activation)

    np.testing.assert_allclose(got, (at(h) - at(-h)) / (2 * h), rtol=1e-6, atol=1e-8)


STEPS, LR = 4, 0.5


@pytest.fixture(scope="module")
def train_problem():
    with jax.enable_x64(True):
        x, y = funcmlp.data.spiral(jax.random.key(0), n_per_class=8)
        x_val, y_val = funcmlp.data.spiral(jax.random.key(1), n_per_class=5)
        params = funcmlp.init_params(jax.random.key(2), (2, 4, 3), dtype=jnp.float64)
        yield x.astype(jnp.float64), y, x_val.astype(jnp.float64), y_val, params


def validation_loss(train_problem, lr, params):
    """The validation loss after STEPS steps of SGD at learning rate lr from params (tanh, softmax)."""
    x, y, x_val, y_val, _ = train_problem
    hp = {"learning_rate": lr}
    r = funcmlp.train(params, x, y, optimizer=optax.sgd, hyperparams=hp, steps=STEPS, activation="tanh")
    return funcmlp.loss(r.params, x_val, y_val, activation="tanh")


def test_width_4_trains_with_the_registered_derivative():
    # what makes the tests below go through the rule: the plan chooses it for this network on any backend
    assert training.make_objective("tanh", "softmax", (2, 4, 3)).plan.registered


def test_jacfwd_through_train_wrt_the_learning_rate_equals_central_differences(train_problem, x64):
    params = train_problem[-1]
    got = jax.jacfwd(lambda lr: validation_loss(train_problem, lr, params))(jnp.float64(LR))
    h = 1e-5
    up, down = (validation_loss(train_problem, jnp.float64(LR + s), params) for s in (h, -h))
    np.testing.assert_allclose(got, (up - down) / (2 * h), rtol=1e-6)


def test_jacfwd_through_train_wrt_the_initial_params_equals_central_differences(train_problem, x64):
    params = train_problem[-1]
    jac = jax.jacfwd(lambda p: validation_loss(train_problem, jnp.float64(LR), p))(params)
    h = 1e-5
    for seed in range(2):  # the Jacobian along random directions v: <dJ/dtheta, v>
        v = random_like(params, 20 + seed)
        got = sum(jnp.vdot(j, d) for j, d in zip(jax.tree.leaves(jac), jax.tree.leaves(v), strict=True))
        up, down = (
            validation_loss(
                train_problem, jnp.float64(LR), jax.tree.map(lambda a, d, s=s: a + s * d, params, v)
            )
            for s in (h, -h)
        )
        np.testing.assert_allclose(got, (up - down) / (2 * h), rtol=1e-6)
