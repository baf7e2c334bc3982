import jax
import matplotlib.figure
import numpy as np
import pytest

import funcmlp
from funcmlp import plots
from funcmlp.io import datafile


@pytest.fixture
def saved(monkeypatch):
    """Keep every figure that a plot function saves, to inspect what it drew."""
    figures = []
    original = matplotlib.figure.Figure.savefig

    def keep(fig, path, **kw):
        figures.append(fig)
        original(fig, path, **kw)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep)
    return figures


REFERENCE = {  # independent numpy formulas of a(z) and da/dz
    "step": (lambda z: (z > 0) * 1.0, lambda z: 0 * z),
    "linear": (lambda z: z, lambda z: 1 + 0 * z),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    "tanh": (np.tanh, lambda z: 1 / np.cosh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
    "leaky_relu(0.1)": (lambda z: np.where(z > 0, z, 0.1 * z), lambda z: np.where(z > 0, 1.0, 0.1)),
}


def test_activations_gallery_draws_each_function_and_derivative(tmp_path, saved):
    plots.activations_gallery(tmp_path / "acts.png")
    assert (tmp_path / "acts.png").stat().st_size > 10_000
    axes = [ax for ax in saved[0].axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == list(REFERENCE)
    for ax in axes:
        fn, grad = REFERENCE[ax.get_title()]
        lines = {line.get_label(): line for line in ax.get_lines()}
        for label, ref in (("a = act(z)", fn), ("da/dz", grad)):
            z, v = (np.asarray(a, float) for a in lines[label].get_data())
            ok = np.isfinite(v)
            assert ok.sum() >= len(z) - 2  # at most the jump itself is left out
            np.testing.assert_allclose(v[ok], ref(z[ok]), rtol=1e-5, atol=1e-6)
        assert ax.get_xlabel() == "z" and ax.get_legend() is not None


def test_breaks_only_at_jumps():
    v = np.array([0.0, 0.0, 1.0, 1.1, 1.2, 0.1])
    out = plots.with_breaks(v)
    np.testing.assert_array_equal(np.isnan(out), [False, False, True, False, False, True])


def test_decision_boundary_predicts_on_transformed_points(tmp_path, monkeypatch, saved):
    x = np.random.default_rng(0).normal([50.0, -3.0], [10.0, 0.5], size=(60, 2)).astype(np.float32)
    y = (x[:, 0] > 50).astype(np.int32)
    st = datafile.standardizer(x)
    params = funcmlp.init_params(jax.random.key(0), (2, 4, 2))
    seen = []
    real = plots.predict
    monkeypatch.setattr(plots, "predict", lambda p, g, **kw: seen.append(np.asarray(g)) or real(p, g, **kw))
    plots.decision_boundary(
        params,
        x,
        y,
        tmp_path / "db.png",
        transform=st,
        feature_names=("length", "width"),
        class_names=("no", "yes"),
        resolution=50,
    )
    grid = seen[0]
    raw = grid * st.std + st.mean  # the grid spans the raw data, and the network saw it standardised
    assert raw[:, 0].min() < x[:, 0].min() and raw[:, 0].max() > x[:, 0].max()
    assert raw[:, 1].min() < x[:, 1].min() and raw[:, 1].max() > x[:, 1].max()
    ax = saved[0].axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("length", "width")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class no", "class yes"]
    with pytest.raises(ValueError, match="x: a decision boundary is drawn for 2 features"):
        plots.decision_boundary(params, np.zeros((3, 3)), np.zeros(3, int), tmp_path / "no.png")


def test_learning_curves_one_line_per_split(tmp_path, saved):
    cols = {
        "step": np.array([0, 50, 100]),
        "train_loss": np.array([1.1, 0.5, 0.2]),
        "train_accuracy": np.array([0.3, 0.8, 0.95]),
        "val_loss": np.array([1.1, 0.6, 0.4]),
        "val_accuracy": np.array([0.3, 0.7, 0.85]),
    }
    plots.learning_curves(cols, tmp_path / "curves.png")
    loss_ax, acc_ax = saved[0].axes
    assert [line.get_label() for line in loss_ax.get_lines()] == ["train", "val"]
    np.testing.assert_array_equal(acc_ax.get_lines()[1].get_ydata(), 100 * cols["val_accuracy"])
    assert loss_ax.get_yscale() == "log" and acc_ax.get_ylabel() == "accuracy (%)"
