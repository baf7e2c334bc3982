"""funcmlp.models: your own model (init, apply) and traced config= axes in train and sweep, each against a
hand-written plain JAX + optax loop in float64 (rtol 1e-6)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcmlp

STEPS = 12


def residual_init(key, config):
    """A residual MLP 2 -> 8 -> (+ skip) -> 3 with a learnable output scale; init scaled by config."""
    k1, k2, k3 = jax.random.split(key, 3)
    scale = config.get("init_scale", 1.0)
    return {
        "inp": {"w": scale * jax.random.normal(k1, (2, 8)) * 0.7, "b": jnp.zeros(8)},
        "mid": {"w": scale * jax.random.normal(k2, (8, 8)) * 0.35, "b": jnp.zeros(8)},
        "out": {"w": scale * jax.random.normal(k3, (8, 3)) * 0.35},
        "scale": jnp.ones(()),
    }


def residual_apply(params, x, config):
    slope = config.get("slope", 0.01)
    h = jax.nn.leaky_relu(x @ params["inp"]["w"] + params["inp"]["b"], slope)
    h = h + jax.nn.leaky_relu(h @ params["mid"]["w"] + params["mid"]["b"], slope)
    return params["scale"] * (h @ params["out"]["w"])


def focal(z, y, config):
    """Focal loss -(1 - p_y)^gamma log p_y."""
    logp = jax.nn.log_softmax(z)[jnp.arange(z.shape[0]), y]
    return -((1.0 - jnp.exp(logp)) ** config["gamma"]) * logp


def cross_entropy(z, y):
    return -jax.nn.log_softmax(z)[jnp.arange(z.shape[0]), y]


def plain(params, x, y, *, lr, l2, config, loss_fn=cross_entropy, steps=STEPS, momentum=None):
    """The reference: jax.value_and_grad of the loss plus 0.5 l2 sum of the rank-2 leaves, optax.sgd."""

    def objective(p):
        data = jnp.mean(loss_fn(residual_apply(p, x, config), y, *([config] if loss_fn is focal else [])))
        ranked = [leaf for leaf in jax.tree.leaves(p) if leaf.ndim >= 2]
        return data + l2 * 0.5 * sum(jnp.sum(leaf**2) for leaf in ranked)

    opt = optax.sgd(lr, momentum)
    state, losses = opt.init(params), []
    for _ in range(steps):
        value, grads = jax.value_and_grad(objective)(params)
        updates, state = opt.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        losses.append(value)
    return params, np.asarray(losses)


@pytest.fixture(scope="module")
def spiral():
    x, y = funcmlp.data.spiral(jax.random.key(0), n_per_class=20)
    return np.asarray(x, np.float64), np.asarray(y)


@pytest.fixture
def x64_on(spiral):
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", False)


def f64(tree):
    return jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), tree)


def pick(tree, index):
    return jax.tree.map(lambda v: v[index], tree)


def assert_tree_close(got, want, rtol=1e-6, atol=1e-9):
    jax.tree.map(lambda g, w: np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol, atol), got, want)


MODEL = funcmlp.Model(lambda k, c: f64(residual_init(k, c)), residual_apply, name="residual")


def test_train_own_model_equals_plain_loop(spiral, x64_on):
    x, y = spiral
    p0 = f64(residual_init(jax.random.key(1), {}))
    got = funcmlp.train(p0, x, y, optimizer=optax.sgd(0.3), steps=STEPS, model=MODEL, l2=0.01)
    want, losses = plain(p0, x, y, lr=0.3, l2=0.01, config={})
    np.testing.assert_allclose(np.asarray(got.losses), losses, rtol=1e-6)
    assert_tree_close(got.params, want)
    assert not np.allclose(np.asarray(got.params["scale"]), 1.0)  # the learnable scale moved


def test_l2_only_on_marked_leaves(spiral, x64_on):
    x, y = spiral
    p0 = f64(residual_init(jax.random.key(1), {}))
    only_out = funcmlp.Model(
        MODEL.init, residual_apply, l2_mask=lambda p: jax.tree.map(lambda _: False, p) | {"out": {"w": True}}
    )
    got = funcmlp.train(p0, x, y, optimizer=optax.sgd(0.3), steps=1, model=only_out, l2=0.5)
    data = jnp.mean(cross_entropy(residual_apply(p0, x, {}), y))
    want = data + 0.5 * 0.5 * jnp.sum(p0["out"]["w"] ** 2)
    np.testing.assert_allclose(float(got.losses[0]), float(want), rtol=1e-12)


@pytest.fixture(scope="module")
def residual_sweep(spiral):
    """Residual MLP: init scale (lazy 0.1, rich 1.0) x learning rate x 2 seeds, one sweep, curves logged."""
    jax.config.update("jax_enable_x64", True)
    x, y = spiral
    try:
        return funcmlp.sweep(
            jax.random.key(7), x, y, model=MODEL, seeds=2, steps=STEPS, learning_rates=[0.1, 0.5],
            config={"init_scale": [0.1, 1.0]}, l2=0.01, dtype=jnp.float64, evaluate={"val": (x, y)},
            log=funcmlp.Logging(every=6, metrics=funcmlp.sweeps.curves.norms),
        )  # fmt: skip
    finally:
        jax.config.update("jax_enable_x64", False)


def test_init_scale_by_learning_rate_sweep_equals_plain(spiral, residual_sweep, x64_on):
    x, y = spiral
    result, keys = residual_sweep, jax.random.split(jax.random.key(7), 2)
    assert result.axes == {"learning_rate": (0.1, 0.5), "init_scale": (0.1, 1.0)}
    group = result.groups[0]
    assert group.activation == "residual" and group.losses.shape == (2, 2, 2, STEPS)
    for i, lr in enumerate((0.1, 0.5)):
        for a, scale in enumerate((0.1, 1.0)):
            for j in range(2):
                config = {"init_scale": scale}
                p0 = f64(residual_init(keys[j], config))
                want, losses = plain(p0, x, y, lr=lr, l2=0.01, config=config)
                np.testing.assert_allclose(group.losses[i, a, j], losses, rtol=1e-6)
                assert_tree_close(pick(group.params, (i, a, j)), want)


def test_own_model_gradient_norms_equal_jax_grad(spiral, residual_sweep, x64_on):
    x, y = spiral
    group, keys = residual_sweep.groups[0], jax.random.split(jax.random.key(7), 2)
    assert list(group.history["step"]) == [0, 6, 12]
    i, a, j, lr, scale = 1, 0, 1, 0.5, 0.1
    p0 = f64(residual_init(keys[j], {"init_scale": scale}))
    for row, step in enumerate(group.history["step"]):
        params, _ = plain(p0, x, y, lr=lr, l2=0.01, config={}, steps=int(step))

        def objective(p):
            ranked = [leaf for leaf in jax.tree.leaves(p) if leaf.ndim >= 2]
            return jnp.mean(cross_entropy(residual_apply(p, x, {}), y)) + 0.005 * sum(
                jnp.sum(leaf**2) for leaf in ranked
            )

        grads = jax.grad(objective)(params)
        for name, want in (("out/w", grads["out"]["w"]), ("scale", grads["scale"])):
            got = group.history[f"grad_norm/{name}"][i, a, j, row]
            np.testing.assert_allclose(got, float(jnp.linalg.norm(want)), rtol=1e-6)
        val = float(jnp.mean(cross_entropy(residual_apply(params, x, {}), y)))
        np.testing.assert_allclose(group.history["val_loss"][i, a, j, row], val, rtol=1e-6)


def test_focal_gamma_by_slope_by_seeds_is_one_compile(spiral, x64_on):
    """Nine (gamma, slope) pairs trace the model fewer than nine times: no program per value."""
    x, y = spiral
    traces = []

    def apply(params, x, config):
        traces.append(1)  # runs only while JAX traces (the start, the training steps, the final metrics)
        return residual_apply(params, x, config)

    model = funcmlp.Model(MODEL.init, apply, name="residual")
    result = funcmlp.sweep(
        jax.random.key(3), x, y, model=model, seeds=2, steps=STEPS, learning_rates=[0.3], head=focal,
        config={"gamma": [0.0, 1.0, 2.0], "slope": [0.0, 0.1, 0.3]}, dtype=jnp.float64,
    )  # fmt: skip
    assert 0 < len(traces) < 9  # one compiled program for all 9 x 2 models (6 traces today)
    keys = jax.random.split(jax.random.key(3), 2)
    for a, gamma in enumerate((0.0, 1.0, 2.0)):
        for b, slope in enumerate((0.0, 0.1, 0.3)):
            config = {"gamma": gamma, "slope": slope}
            for j in range(2):
                p0 = f64(residual_init(keys[j], config))
                want, losses = plain(p0, x, y, lr=0.3, l2=0.0, config=config, loss_fn=focal)
                np.testing.assert_allclose(result.groups[0].losses[0, a, b, j], losses, rtol=1e-6)
                assert_tree_close(pick(result.groups[0].params, (0, a, b, j)), want)


def test_config_reaches_builtin_mlp_activation(spiral, x64_on):
    x, y = spiral
    result = funcmlp.sweep(
        jax.random.key(2), x, y, sizes=(2, 6, 3), seeds=1, steps=5, learning_rates=[0.5], dtype=jnp.float64,
        activation=lambda z, c: jax.nn.leaky_relu(z, c["slope"]), config={"slope": [0.0, 0.2]},
    )  # fmt: skip
    for b, slope in enumerate((0.0, 0.2)):
        alone = funcmlp.sweep(
            jax.random.key(2), x, y, sizes=(2, 6, 3), seeds=1, steps=5, learning_rates=[0.5], dtype=jnp.float64,
            activation=f"leaky_relu:{slope}" if slope else "relu",
        )  # fmt: skip
        np.testing.assert_allclose(result.groups[0].losses[0, b, 0], alone.groups[0].losses[0, 0], rtol=1e-6)


def test_resumed_own_model_sweep_equals_one_call(spiral, x64_on):
    x, y = spiral
    options = dict(model=MODEL, seeds=2, learning_rates=[0.2], config={"init_scale": [0.5, 1.0]},
                   dtype=jnp.float64, optimizer=optax.adam)  # fmt: skip
    whole = funcmlp.sweep(jax.random.key(4), x, y, steps=8, **options)
    half = funcmlp.sweep(jax.random.key(4), x, y, steps=4, **options)
    rest = funcmlp.sweep(jax.random.key(4), x, y, steps=4, start=half, **options)
    np.testing.assert_allclose(rest.groups[0].losses, whole.groups[0].losses, rtol=1e-6)
    assert_tree_close(rest.groups[0].params, whole.groups[0].params)


def test_model_errors_name_the_argument(spiral):
    x, y = spiral
    with pytest.raises(TypeError, match="model: expected funcmlp.Model"):
        funcmlp.sweep(jax.random.key(0), x, y, model=residual_apply, seeds=1, steps=1, learning_rates=[0.1])
    with pytest.raises(ValueError, match="sizes: expected none with a model"):
        funcmlp.sweep(
            jax.random.key(0), x, y, model=MODEL, sizes=(2, 3), seeds=1, steps=1, learning_rates=[0.1]
        )
    with pytest.raises(ValueError, match="config: expected names other than"):
        funcmlp.sweep(jax.random.key(0), x, y, model=MODEL, seeds=1, steps=1, learning_rates=[0.1],
                      config={"learning_rate": [1.0]})  # fmt: skip
    with pytest.raises(ValueError, match=r"config\['slope'\]"):
        funcmlp.sweep(jax.random.key(0), x, y, model=MODEL, seeds=1, steps=1, learning_rates=[0.1],
                      config={"slope": []})  # fmt: skip
    with pytest.raises(ValueError, match="sizes: expected layer widths"):
        funcmlp.sweep(jax.random.key(0), x, y, seeds=1, steps=1, learning_rates=[0.1])


def test_own_model_sweep_file_round_trip(residual_sweep, tmp_path):
    path = tmp_path / "residual.safetensors"
    funcmlp.save_sweep(path, residual_sweep)
    back = funcmlp.load_sweep(path)
    want = residual_sweep.groups[0]
    assert jax.tree.structure(back.groups[0].params) == jax.tree.structure(want.params)
    assert_tree_close(back.groups[0].params, want.params, rtol=0, atol=0)
    np.testing.assert_array_equal(back.groups[0].losses, want.losses)
    assert back.axes == residual_sweep.axes and back.groups[0].activation == "residual"


def test_readme_model_section_runs_as_written():
    """README's "Your own model" block, executed as written; its best configuration learnt the spiral."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = text.split("<!-- readme-model -->\n```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    best = namespace["study"].best_configuration()
    assert set(best) >= {"learning_rate", "init_scale", "l2"}
    assert namespace["study"].groups[0].metrics["val_accuracy"].max() > 0.9
    assert np.isfinite(np.asarray(namespace["one"].losses)).all()


def test_ensemble_of_own_model_averages_its_members(spiral, residual_sweep, x64_on):
    x, _ = spiral
    ens = funcmlp.sweeps.ensemble.top_seeds(residual_sweep, k=2)
    got = funcmlp.sweeps.ensemble.probabilities(ens, x, model=MODEL)
    config = {"init_scale": ens.configuration["init_scale"]}
    members = [jax.nn.softmax(residual_apply(pick(ens.params, m), jnp.asarray(x), config)) for m in range(2)]
    np.testing.assert_allclose(np.asarray(got), np.mean(np.stack(members), axis=0), rtol=1e-6)
    with pytest.raises(ValueError, match="model: expected the funcmlp.Model"):
        funcmlp.sweeps.ensemble.probabilities(ens, x)


def test_config_sweep_of_builtin_mlp_compiles_once_across_calls(spiral):
    x, y = spiral
    options = dict(sizes=(2, 5, 3), seeds=1, steps=3, learning_rates=[0.5], config={"slope": [0.0, 0.2]},
                   activation=leaky, evaluate={"val": (x, y)})  # fmt: skip
    funcmlp.sweep(jax.random.key(0), x, y, **options)
    before = len(LEAKY_TRACES)
    funcmlp.sweep(jax.random.key(1), x, y, **options | {"config": {"slope": [0.1, 0.3]}})
    assert before > 0 and len(LEAKY_TRACES) == before  # other values, the first call's programs


LEAKY_TRACES = []


def leaky(z, config):
    LEAKY_TRACES.append(1)  # runs only while JAX traces
    return jax.nn.leaky_relu(z, config["slope"])
