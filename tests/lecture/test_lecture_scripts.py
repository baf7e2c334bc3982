"""The experiment scripts, run end to end with small options so they cannot rot."""

import importlib.util
import sys
from pathlib import Path

import chex
import jax
import numpy as np
import optax
import pytest

import funcmlp

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"scripts_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script is executed
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def vanishing():
    return _load("vanishing_gradients")


@pytest.fixture(scope="module")
def cs231n():
    return _load("reproduce_cs231n")


def test_vanishing_gradients_script(vanishing, tmp_path, capsys):
    out = vanishing.main(["--depth", "6", "--width", "8", "--step-steps", "5", "--out", str(tmp_path)])
    assert (tmp_path / "grad_norms.png").stat().st_size > 10_000
    assert set(out["norms"]) == {label for label, *_ in vanishing.CASES}
    for g in out["norms"].values():
        assert g.shape == (7,) and g.dtype == np.float64
    assert out["bound"] == pytest.approx(0.25**6, rel=1e-12, abs=0)
    norms = out["norms"]
    assert norms["relu (He x 2): exploding"][0] > 10 * norms["relu (He)"][0]
    assert norms["tanh (Glorot x 4): exploding"][0] > 10 * norms["tanh (Glorot)"][0]
    np.testing.assert_array_equal(out["norms"]["step (He)"][:-1], 0.0)
    np.testing.assert_array_equal(out["step_change"][:-1], 0.0)
    assert out["step_change"][-1] > 0
    printed = capsys.readouterr().out
    assert "sigmoid (Glorot)" in printed and "0.25^6" in printed


def test_cs231n_script(cs231n, tmp_path, capsys):
    args = ["--seeds", "2", "--steps", "20", "--linear-steps", "10", "--n-per-class", "20"]
    results = cs231n.main([*args, "--out", str(tmp_path)])
    assert (tmp_path / "decision_boundaries.png").stat().st_size > 10_000
    assert list(results) == [m.name for m in cs231n.MODELS]
    for acc in results.values():
        assert acc.shape == (2,) and np.all((acc >= 0) & (acc <= 1))
    printed = capsys.readouterr().out
    assert "49%" in printed and "98%" in printed


def test_vmapped_seeds_equal_single_model_training(cs231n):
    """Seed s of the vmapped run is exactly the model ``funcmlp.train`` gives for that seed alone."""
    model = cs231n.MODELS[1]._replace(hidden=(6,))
    keys = jax.random.split(jax.random.key(4), 3)
    params, acc, loss = cs231n.train_seeds(model, keys, steps=15, n_per_class=10)
    for s in range(3):
        k_data, k_init = jax.random.split(keys[s])
        x, y = funcmlp.data.spiral(k_data, 10)
        init = funcmlp.init_params(k_init, (2, 6, 3), scheme=model.scheme)
        single = funcmlp.train(init, x, y, optimizer=optax.sgd(model.lr), steps=15, l2=model.l2)
        chex.assert_trees_all_close(
            jax.tree.map(lambda a, s=s: a[s], params), single.params, rtol=1e-5, atol=1e-7
        )
        assert float(acc[s]) == pytest.approx(float(funcmlp.accuracy(single.params, x, y)))
        assert float(loss[s]) == pytest.approx(float(single.losses[-1]), rel=1e-5)
