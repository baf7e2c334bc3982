"""``funcmlp.fit`` against references: the command line's run on the same file (bit for bit), a plain
JAX + optax loop for the chosen model's parameters and curves, and early stopping replayed by hand."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp.fitting import load_samples, run_keys

STEPS, SEEDS = 120, 4


@pytest.fixture(autouse=True)
def no_clock(monkeypatch):
    """A fixed cost of a step: wherever the budget still has a choice (the batch, on a larger file), the
    command line and ``fit`` make the same one, never from a clock."""
    monkeypatch.setattr(funcmlp.fitting.budget, "measure", lambda *a, **k: 0.0)


def write_csv(path, x, y, names):
    rows = "".join(",".join(f"{v:.6g}" for v in r) + f",{t}\n" for r, t in zip(x, y, strict=True))
    path.write_text(",".join([*names, "label"]) + "\n" + rows)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    datasets = pytest.importorskip("sklearn.datasets")
    folder = tmp_path_factory.mktemp("data")
    out = {}
    for name in ("iris", "wine", "diabetes"):
        b = getattr(datasets, f"load_{name}")()
        out[name] = write_csv(folder / f"{name}.csv", b.data, b.target, b.feature_names)
    return out


CASES = {
    "iris": ([], {}),
    "wine": (["--standardize"], {"standardize": True}),
    "diabetes": (["--standardize", "--head", "linear"], {"standardize": True, "head": "linear"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_fit_reproduces_the_command_line_run_bit_for_bit(files, tmp_path, name):
    from funcmlp.cli.app import main  # the command line's side only: fit below imports nothing from cli/

    argv, options = CASES[name]
    out = tmp_path / "run"
    common = ["--steps", str(STEPS), "--seeds", str(SEEDS), "--quiet", "--out", str(out)]
    assert main(["train", "--data", str(files[name]), *argv, *common]) == 0
    fit = funcmlp.fit(files[name], steps=STEPS, seeds=SEEDS, **options)
    saved, _ = funcmlp.load(out / "params.safetensors")
    for a, b in zip(jax.tree.leaves(saved), jax.tree.leaves(fit.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["selected_seed"] == fit.choice["seed"]
    if name == "diabetes":
        assert metrics["l2"] == fit.choice["l2"] and len(fit.sweep.axes["l2"]) == 5
    for k, v in fit.scores.headline.items():
        assert metrics[k] == v, k
    history = funcmlp.runs.read_history(out / "metrics.csv")
    for k, v in fit.history.items():
        np.testing.assert_array_equal(history[k], v)


def plain_train(params, x, y, lr, steps, head="softmax"):
    """Adam on funcmlp.loss with jax.grad: every step's parameters (the reference)."""
    opt = optax.adam(lr)

    def step(carry, _):
        p, s = carry
        g = jax.grad(funcmlp.loss)(p, x, y, head=head)
        u, s = opt.update(g, s, p)
        p = optax.apply_updates(p, u)
        return (p, s), p

    _, ps = jax.lax.scan(step, (params, opt.init(params)), length=steps)
    return jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), params, ps)  # theta_0 .. theta_steps


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b", "c"], 40)
    x = rng.normal(0, 1, (120, 3)) + 1.5 * np.eye(3)[np.searchsorted(["a", "b", "c"], y)]
    return x.astype(np.float32), y


@pytest.fixture(scope="module")
def fitted(blobs):
    return funcmlp.fit(*blobs, hidden=(6,), steps=STEPS, seeds=SEEDS, log_every=20, learning_rate=0.05)


def test_fit_on_arrays_keeps_the_plain_loop_model_best_on_validation(blobs, fitted):
    samples, task = load_samples(*blobs)
    assert task.head == "softmax" and task.classes == ("a", "b", "c")
    (x, y), (xv, yv) = samples.train, samples.val
    inits = [funcmlp.init_params(k, (3, 6, 3)) for k in jax.random.split(run_keys(0)["init"], SEEDS)]
    runs = [plain_train(p, x, y, 0.05, STEPS) for p in inits]
    final = [jax.tree.map(lambda a: a[-1], r) for r in runs]
    val = [(float(funcmlp.accuracy(p, xv, yv)), -float(funcmlp.loss(p, xv, yv))) for p in final]
    j = max(range(SEEDS), key=lambda i: val[i])
    assert fitted.choice["seed"] == j
    for a, b in zip(jax.tree.leaves(fitted.params), jax.tree.leaves(final[j]), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    # the curves are the chosen model's, measured at the logged steps
    steps = fitted.history["step"].astype(int)
    assert list(steps) == list(range(0, STEPS + 1, 20))
    for i, t in enumerate(steps):
        p = jax.tree.map(lambda a, t=t: a[t], runs[j])
        assert fitted.history["val_loss"][i] == pytest.approx(float(funcmlp.loss(p, xv, yv)), rel=1e-5)
        xt, yt = samples.test
        assert fitted.history["test_accuracy"][i] == pytest.approx(float(funcmlp.accuracy(p, xt, yt)))


def test_patience_keeps_each_models_best_row(blobs):
    fit = funcmlp.fit(*blobs, hidden=(6,), steps=600, seeds=2, log_every=10, patience=2, learning_rate=0.3)
    best, stopped = fit.metrics["best_step"], fit.metrics["stopped_step"]
    h = fit.history
    assert h["step"][-1] == stopped <= min(best + 2 * 10, 600)
    i = int(np.flatnonzero(h["step"] == best)[0])
    acc, loss = h["val_accuracy"], h["val_loss"]
    assert acc[i] == acc.max() and loss[i] == loss[acc == acc.max()].min()  # replayed by hand
    samples, _ = load_samples(*blobs)
    init = funcmlp.init_params(jax.random.split(run_keys(0)["init"], 2)[fit.choice["seed"]], (3, 6, 3))
    at_best = jax.tree.map(lambda a: a[best], plain_train(init, *samples.train, 0.3, best))
    for a, b in zip(jax.tree.leaves(fit.params), jax.tree.leaves(at_best), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)


def test_fit_infers_regression_and_saves_a_run(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(80, 2)).astype(np.float32)
    y = (x @ np.array([1.5, -0.5]) + 0.1 * rng.normal(size=80)).astype(np.float32)
    fit = funcmlp.fit(x, y, steps=STEPS, seeds=2, standardize=True)
    assert fit.task.head == "linear" and fit.choice["l2"] in funcmlp.fitting.task.L2_CHOICES
    funcmlp.save_run(tmp_path / "run", fit)
    run = funcmlp.load_run(tmp_path / "run")
    pred = run.model.predict(x)
    assert np.corrcoef(np.asarray(pred, np.float64), y)[0, 1] > 0.9
    assert run.metrics["test_r2"] == pytest.approx(fit.metrics["test_r2"])


def test_bad_input_names_the_argument(blobs):
    x, y = blobs
    with pytest.raises(ValueError, match="head: expected one of softmax, sigmoid, linear"):
        funcmlp.fit(x, y, head="tanh")
    with pytest.raises(
        ValueError, match=r"batch_size: expected at most 72 \(the training set's size\), got 500"
    ):
        funcmlp.fit(x, y, batch_size=500)
    with pytest.raises(ValueError, match="y: expected labels or targets"):
        funcmlp.fit(x)
    with pytest.raises(ValueError, match="patience: expected validation rows"):
        funcmlp.fit(x, y, val=0.0, patience=2)
