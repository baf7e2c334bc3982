import jax
import numpy as np
import optax
import pytest

import funcmlp
from benchmarks import baselines
from funcmlp import data


@pytest.fixture
def problem():
    x, y = data.spiral(jax.random.key(0), n_per_class=30)
    return funcmlp.init_params(jax.random.key(1), (2, 4, 3)), x, y


@pytest.mark.parametrize("name", ["numpy_loop", "jax_python_loop", "jax_scan", "torch_loop"])
def test_baselines_train_the_same_net_as_funcmlp(problem, name):
    # Each returns J(theta_{k-1}), the loss of its last step: funcmlp.train's losses[k - 1].
    params, x, y = problem
    run = getattr(baselines, name)(params, x, y, 0.8)
    if run is None:
        pytest.skip(f"{name}: library not installed")
    want = funcmlp.train(params, x, y, optimizer=optax.sgd(0.8), steps=40).losses[39]
    np.testing.assert_allclose(run(40), want, rtol=1e-4)


def test_vmapped_baseline_trains_each_model_like_funcmlp(problem):
    params, x, y = problem
    others = [funcmlp.init_params(jax.random.key(k), (2, 4, 3)) for k in (2, 3)]
    run = baselines.jax_vmap_scan(baselines.stack([params, *others]), x, y, 0.8)
    want = np.mean(
        [funcmlp.train(p, x, y, optimizer=optax.sgd(0.8), steps=30).losses[29] for p in [params, *others]]
    )
    np.testing.assert_allclose(run(30), want, rtol=1e-4)


@pytest.mark.parametrize("name", ["sklearn_mlp", "equinox_loop", "flax_loop"])
def test_library_baselines_lower_the_loss(problem, name):
    # Their own initialisations differ from ours: check that they train, by their final losses.
    params, x, y = problem
    run = getattr(baselines, name)(params, x, y, 0.5)
    if run is None:
        pytest.skip(f"{name}: library not installed")
    first = run(1)
    assert run(150) < 0.9 * first
