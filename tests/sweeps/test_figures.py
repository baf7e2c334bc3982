"""The sweep figures, drawn from a SweepResult with known numbers: panels, cells, points and labels."""

import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402

from funcmlp.sweeps import figures  # noqa: E402
from funcmlp.sweeps.results import GroupResult, SweepResult  # noqa: E402

SIZES = {"3": (2, 3, 3), "4x4": (2, 4, 4, 3)}
ACTS = ("relu", "tanh")
LRS = (0.1, 1.0)
SEEDS = 3
NAN_CELL = ("tanh", "4x4", 1)  # every seed's metric missing
DIVERGED = ("relu", "3", 0, 2)  # (activation, width, learning rate index, seed)


def values(act, width, i):
    """Every seed's validation accuracy in one cell; all distinct across the figure."""
    w, a = list(SIZES).index(width), ACTS.index(act)
    if (act, width, i) == NAN_CELL:
        return np.full(SEEDS, np.nan)
    return 0.05 + 0.2 * w + 0.4 * i + 0.03 * np.arange(SEEDS) + 0.01 * a


def diverged(act, width, i):
    return [(act, width, i, j) == DIVERGED for j in range(SEEDS)]


def make_result():
    groups = []
    for width, act in itertools.product(SIZES, ACTS):
        acc = np.stack([values(act, width, i) for i in range(len(LRS))])
        at = np.where([diverged(act, width, i) for i in range(len(LRS))], 5, -1)
        metrics = {"train_loss": 2 - acc, "train_accuracy": acc, "val_loss": 1 - acc, "val_accuracy": acc}
        groups.append(GroupResult(SIZES[width], act, [], np.zeros((len(LRS), SEEDS, 1)), at, metrics))
    return SweepResult(LRS, SEEDS, "softmax", tuple(groups))


@pytest.fixture
def drawn(monkeypatch):
    """The figures the functions draw, kept open (plt.close only records them) until the test ends."""
    figs = []
    close = plt.close
    monkeypatch.setattr(plt, "close", figs.append)
    yield figs
    for fig in figs:
        close(fig)


def panels(fig):
    return [ax for ax in fig.axes if ax.get_title().startswith("activation: ")]


def assert_saved(fig, path):
    image = matplotlib.image.imread(path)
    w, h = fig.get_size_inches() * 110
    assert image.shape[:2] == (round(h), round(w))


def tick_labels(ax, axis):
    return [t.get_text() for t in getattr(ax, f"get_{axis}ticklabels")()]


@pytest.mark.parametrize(("metric", "offset"), [(None, 0.0), ("val_loss", 1.0)])
def test_heatmap_has_a_panel_per_activation_and_a_cell_per_width_and_rate(drawn, tmp_path, metric, offset):
    result = make_result()
    figures.heatmap(result, tmp_path / "heatmap.png", metric=metric)
    (fig,) = drawn
    assert_saved(fig, tmp_path / "heatmap.png")
    axes = panels(fig)
    assert [ax.get_title() for ax in axes] == [f"activation: {a}" for a in ACTS]
    sign = -1.0 if metric else 1.0  # val_loss = 1 - accuracy
    for act, ax in zip(ACTS, axes, strict=True):
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("learning rate", "hidden width")
        assert tick_labels(ax, "x") == ["0.1", "1"] and tick_labels(ax, "y") == ["3", "4x4"]
        want_grid = np.full((len(SIZES), len(LRS)), np.nan)
        want_text = {}
        for (w, width), i in itertools.product(enumerate(SIZES), range(len(LRS))):
            vals = values(act, width, i)
            k = sum(diverged(act, width, i))
            mean = np.nan if np.all(np.isnan(vals)) else offset + sign * np.nanmean(vals)
            want_grid[w, i] = mean
            want_text[(i, w)] = ("-" if np.isnan(mean) else f"{mean:.3f}") + (f"\n{k} div" if k else "")
        assert {tuple(map(round, t.get_position())): t.get_text() for t in ax.texts} == want_text
        assert len(ax.texts) == len(SIZES) * len(LRS)
        (image,) = ax.images
        np.testing.assert_allclose(np.ma.filled(image.get_array(), np.nan), want_grid)
    (colorbar,) = [ax for ax in fig.axes if ax not in axes]
    label = "validation loss" if metric else "validation accuracy"
    assert colorbar.get_ylabel() == f"mean {label}"
    assert fig.get_suptitle() == f"Mean {label} over {SEEDS} seeds"


def test_seed_spread_has_a_dot_per_seed_a_bar_per_cell_and_a_cross_per_divergence(drawn, tmp_path):
    result = make_result()
    figures.seed_spread(result, tmp_path / "spread.png", title="Spread")
    (fig,) = drawn
    assert_saved(fig, tmp_path / "spread.png")
    axes = panels(fig)
    assert [ax.get_title() for ax in axes] == [f"activation: {a}" for a in ACTS]
    span = 0.8 / len(SIZES)
    for act, ax in zip(ACTS, axes, strict=True):
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("learning rate", "validation accuracy")
        assert tick_labels(ax, "x") == ["0.1", "1"]
        where = {}  # value -> (band of x it must lie in, whether it diverged)
        means = []
        for (w, width), i in itertools.product(enumerate(SIZES), range(len(LRS))):
            vals, bad = values(act, width, i), diverged(act, width, i)
            band = (i - 0.4 + span * w, i - 0.4 + span * (w + 1))
            where |= {round(v, 6): (band, b) for v, b in zip(vals, bad, strict=True) if not np.isnan(v)}
            means += [] if np.all(np.isnan(vals)) else [round(float(np.nanmean(vals)), 6)]
        dots = [
            (x, y, c.get_sizes()[0] == 24)
            for c in ax.collections
            if isinstance(c, PathCollection)
            for x, y in np.asarray(c.get_offsets())
            if np.isfinite(y)
        ]
        assert sorted(round(y, 6) for _, y, _ in dots) == sorted(where)
        for x, y, cross in dots:
            (lo, hi), bad = where[round(y, 6)]
            assert lo <= x <= hi and cross == bad, (act, y)
        bars = [c for c in ax.collections if isinstance(c, LineCollection)]
        assert sorted(round(float(s[0][1]), 6) for c in bars for s in c.get_segments()) == sorted(means)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [
        "width 3",
        "width 4x4",
        "mean over seeds",
        "diverged",
    ]
    assert fig.get_suptitle() == "Spread"


def test_seed_spread_without_divergence_has_no_cross_in_the_legend(drawn, tmp_path):
    result = make_result()
    groups = tuple(g._replace(diverged_at=np.full_like(g.diverged_at, -1)) for g in result.groups)
    figures.seed_spread(SweepResult(LRS, SEEDS, "softmax", groups), tmp_path / "spread.png")
    (fig,) = drawn
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["width 3", "width 4x4", "mean over seeds"]
    assert fig.get_suptitle() == f"Validation accuracy of each of {SEEDS} seeds"
