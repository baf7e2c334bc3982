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
    return SweepResult({"learning_rate": LRS}, SEEDS, "softmax", tuple(groups))


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
    assert axes[0].get_ylabel() == "validation accuracy" and axes[0].get_ylim() == axes[1].get_ylim()
    for act, ax in zip(ACTS, axes, strict=True):
        assert ax.get_xlabel() == "learning rate"
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
    figures.seed_spread(SweepResult(result.axes, SEEDS, "softmax", groups), tmp_path / "spread.png")
    (fig,) = drawn
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["width 3", "width 4x4", "mean over seeds"]
    assert fig.get_suptitle() == f"Validation accuracy of each of {SEEDS} seeds"


GRID = {"learning_rate": (0.01, 0.1, 1.0, 10.0), "momentum": (0.0, 0.5, 0.9)}


def grid_result(axes, seeds=4):
    """One width, two activations, random accuracies on the grid of ``axes``; (result, accuracy per act)."""
    rng = np.random.default_rng(1)
    shape = (*(len(v) for v in axes.values()), seeds)
    base = {act: rng.uniform(0.0, 1.0, shape[:-1]) for act in ACTS}  # every configuration's level
    acc = {act: np.clip(b[..., None] + rng.normal(0.0, 0.05, shape), 0.0, 1.0) for act, b in base.items()}
    groups = []
    for act in ACTS:
        metrics = {"train_loss": 2 - acc[act], "train_accuracy": acc[act], "val_accuracy": acc[act]}
        metrics["val_loss"] = 1 - acc[act]
        groups.append(GroupResult((2, 4, 3), act, [], np.zeros((*shape, 1)), np.full(shape, -1), metrics))
    settings = {} if "l2" in axes else {"l2": 0.0}
    return SweepResult(axes, seeds, "softmax", tuple(groups), step=10, settings=settings), acc


def cell_texts(ax):
    """(column, row) -> the text of that cell."""
    return {tuple(map(round, t.get_position())): t.get_text() for t in ax.texts}


@pytest.mark.parametrize("transpose", [False, True])
def test_heatmap_of_a_two_axis_grid_shows_the_mean_over_seeds_of_every_configuration(
    drawn, tmp_path, transpose
):
    result, acc = grid_result(GRID)
    kw = {"x": "momentum", "y": "learning_rate"} if transpose else {}
    figures.heatmap(result, tmp_path / "grid.png", **kw)
    (fig,) = drawn
    assert_saved(fig, tmp_path / "grid.png")
    axes = panels(fig)
    assert [ax.get_title() for ax in axes] == [f"activation: {a}" for a in ACTS]
    (xname, xs), (yname, ys) = reversed(GRID.items()) if transpose else GRID.items()
    for act, ax in zip(ACTS, axes, strict=True):
        assert (ax.get_xlabel(), ax.get_ylabel()) == (xname.replace("_", " "), yname.replace("_", " "))
        assert tick_labels(ax, "x") == [f"{v:g}" for v in xs] and tick_labels(ax, "y") == [
            f"{v:g}" for v in ys
        ]
        means = acc[act].mean(axis=-1)  # (learning rate, momentum)
        means = means if transpose else means.T  # (row, column)
        assert len(ax.texts) == len(xs) * len(ys)
        assert cell_texts(ax) == {(i, j): f"{means[j, i]:.3f}" for j, i in np.ndindex(means.shape)}
        np.testing.assert_allclose(ax.images[0].get_array(), means)
        colours = {t.get_text(): t.get_color() for t in ax.texts}  # dark cells (low) white, light black
        assert set(colours.values()) == {"black", "white"}
        assert all(
            colours[f"{m:.3f}"] == ("white" if m < 0.2 else "black") for m in means.flat if abs(m - 0.5) > 0.3
        )
    lowest = min(a.mean(axis=-1).min() for a in acc.values())  # one scale: lowest mean (in tenths) to 1
    assert [ax.images[0].get_clim() for ax in axes] == [(np.floor(10 * lowest) / 10, 1.0)] * len(ACTS)
    assert fig.get_suptitle() == f"Mean validation accuracy over {result.seeds} seeds"


def test_heatmap_holds_the_axes_it_does_not_show_at_the_best_configuration(drawn, tmp_path):
    result, acc = grid_result({**GRID, "l2": (0.0, 1e-3)})
    figures.heatmap(result, tmp_path / "grid.png")
    (fig,) = drawn
    means = {act: a.mean(axis=-1) for act, a in acc.items()}  # (learning rate, momentum, l2)
    best_act = max(ACTS, key=lambda a: means[a].max())
    k = np.unravel_index(np.argmax(means[best_act]), means[best_act].shape)[2]
    for act, ax in zip(ACTS, panels(fig), strict=True):
        want = means[act][:, :, k].T
        assert cell_texts(ax) == {(i, j): f"{want[j, i]:.3f}" for j, i in np.ndindex(want.shape)}
    l2 = result.axes["l2"][k]
    assert fig.get_suptitle() == (
        f"Mean validation accuracy over {result.seeds} seeds\nat l2 = {l2:g} (the best configuration's)"
    )


def test_heatmap_rejects_an_unknown_or_repeated_dimension(tmp_path):
    result, _ = grid_result(GRID)
    with pytest.raises(ValueError, match="x: expected one of 'learning_rate', 'momentum', 'width'"):
        figures.heatmap(result, tmp_path / "grid.png", x="lr")
    with pytest.raises(ValueError, match="x, y: expected two different dimensions"):
        figures.heatmap(result, tmp_path / "grid.png", x="momentum", y="momentum")


def test_seed_spread_of_a_two_axis_grid_names_every_axis_value_and_shares_the_y_range(drawn, tmp_path):
    result, acc = grid_result(GRID)
    figures.seed_spread(result, tmp_path / "spread.png")
    (fig,) = drawn
    axes = panels(fig)
    want = [f"lr {lr:g}, momentum {m:g}" for lr in GRID["learning_rate"] for m in GRID["momentum"]]
    assert all(tick_labels(ax, "x") == want for ax in axes)
    assert axes[0].get_ylim() == axes[1].get_ylim()
    for act, ax in zip(ACTS, axes, strict=True):
        bars = [s[0][1] for c in ax.collections if isinstance(c, LineCollection) for s in c.get_segments()]
        np.testing.assert_allclose(bars, acc[act].mean(axis=-1).ravel())
