"""Early stopping (``train_logged(..., log=Logging(patience=N))``) against a by-hand reference on a recorded
history."""

import jax
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp import early_stopping
from funcmlp.history import train_logged

STEPS, EVERY = 240, 8


def by_hand(acc, loss, patience):
    """The rule written out: (stop row, best row). A row improves on the best when its accuracy is higher,
    or equal with a lower loss; training stops at the first row that makes ``patience`` rows in a row
    without improvement."""
    best, waited = 0, 0
    for i in range(1, len(acc)):
        if acc[i] > acc[best] or (acc[i] == acc[best] and loss[i] < loss[best]):
            best, waited = i, 0
        else:
            waited += 1
        if waited == patience:
            return i, best
    return len(acc) - 1, best


@pytest.fixture(scope="module")
def problem():
    k_train, k_val, k_init = jax.random.split(jax.random.key(4), 3)
    train = funcmlp.data.spiral(k_train, 12, noise=0.6)  # noisy: the validation accuracy peaks early
    val = funcmlp.data.spiral(k_val, 6, noise=0.6)
    params = funcmlp.init_params(k_init, (2, 16, 3))
    kw = {"optimizer": optax.adam(0.05), "log": funcmlp.Logging(EVERY), "evaluate": {"val": val}}
    return params, train, kw


@pytest.fixture(scope="module")
def recorded(problem):
    """The whole run, every EVERY steps logged, without early stopping."""
    params, (x, y), kw = problem
    return train_logged(params, x, y, steps=STEPS, **kw)


def test_the_rule_on_a_written_history():
    acc = [0.3, 0.5, 0.5, 0.4, 0.6, 0.6, 0.6, 0.5, 0.6, 0.6]
    loss = [1.0, 0.9, 0.8, 0.85, 0.7, 0.75, 0.7, 0.6, 0.71, 0.72]
    cols = {"step": np.arange(10) * 5, "val_accuracy": np.array(acc), "val_loss": np.array(loss)}
    # row 2 ties row 1 in accuracy with a lower loss (an improvement); row 6 ties row 4 in both (none)
    assert early_stopping.stopping_point(cols, 1) == (3, 2)
    assert early_stopping.stopping_point(cols, 2) == (6, 4)
    assert early_stopping.stopping_point(cols, 3) == (7, 4)
    assert early_stopping.stopping_point(cols, 6) == (9, 4)  # patience never runs out: the last row
    assert [by_hand(acc, loss, p) for p in (1, 2, 3, 6)] == [(3, 2), (6, 4), (7, 4), (9, 4)]
    nan = {**cols, "val_loss": np.array([1.0, np.nan, *loss[2:]])}
    assert early_stopping.stopping_point(nan, 1) == (1, 0)  # NaN never improves, whatever the accuracy
    regression = {"step": cols["step"], "val_loss": np.array(loss)}
    assert early_stopping.stopping_point(regression, 3) == (9, 7)  # without accuracy: the loss alone


@pytest.mark.parametrize("patience", [1, 2, 3, 5])
def test_the_library_matches_the_by_hand_rule_on_a_recorded_history(recorded, patience):
    _, history = recorded
    acc, loss = history.columns["val_accuracy"], history.columns["val_loss"]
    assert len(acc) == STEPS // EVERY + 1
    assert early_stopping.stopping_point(history.columns, patience) == by_hand(acc, loss, patience)


@pytest.mark.parametrize("patience", [2, 5])
def test_train_logged_stops_and_restores_the_best_parameters(problem, recorded, patience):
    params, (x, y), kw = problem
    full = recorded[1].columns
    stop, best = by_hand(full["val_accuracy"], full["val_loss"], patience)
    assert stop < len(full["step"]) - 1  # the case is telling: training does stop early
    result, history = train_logged(
        params, x, y, steps=STEPS, **kw | {"log": funcmlp.Logging(EVERY, patience)}
    )
    stopped_step, best_step = int(full["step"][stop]), int(full["step"][best])
    assert history.early_stop == early_stopping.EarlyStop(patience, best_step, stopped_step, True)
    for name, column in history.columns.items():  # the rows up to the stop, as the whole run logged them
        np.testing.assert_allclose(column, full[name][: stop + 1], rtol=1e-6, err_msg=name)
    assert result.losses.shape == (stopped_step,)
    again, _ = train_logged(params, x, y, steps=best_step, **kw)  # the best step's parameters
    for a, b in zip(jax.tree.leaves(result.params), jax.tree.leaves(again.params), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
    x_val, y_val = kw["evaluate"]["val"]
    assert float(funcmlp.accuracy(result.params, x_val, y_val)) == pytest.approx(full["val_accuracy"][best])


def test_patience_that_never_runs_out_still_keeps_the_best(problem, recorded):
    params, (x, y), kw = problem
    full = recorded[1].columns
    _, best = by_hand(full["val_accuracy"], full["val_loss"], 10**6)
    result, history = train_logged(params, x, y, steps=STEPS, **kw | {"log": funcmlp.Logging(EVERY, 10**6)})
    assert history.early_stop == early_stopping.EarlyStop(10**6, int(full["step"][best]), STEPS, False)
    assert len(history.columns["step"]) == len(full["step"]) and result.losses.shape == (STEPS,)
    x_val, y_val = kw["evaluate"]["val"]
    assert float(funcmlp.accuracy(result.params, x_val, y_val)) == pytest.approx(full["val_accuracy"][best])


def test_on_log_gets_every_row_and_patience_needs_a_validation_set(problem, recorded):
    params, (x, y), kw = problem
    rows = []
    _, history = train_logged(params, x, y, steps=STEPS, on_log=lambda t, row: rows.append((t, row)), **kw)
    assert [t for t, _ in rows] == history.columns["step"].tolist()
    assert [r["val_accuracy"] for _, r in rows] == history.columns["val_accuracy"].tolist()
    assert recorded[1].early_stop is None
    empty = {"val": (x[:0], y[:0])}
    with pytest.raises(ValueError, match=r"^log.patience: expected a non-empty validation set"):
        train_logged(
            params,
            x,
            y,
            steps=STEPS,
            optimizer=kw["optimizer"],
            evaluate=empty,
            log=funcmlp.Logging(patience=2),
        )
    with pytest.raises(ValueError, match=r"^log.patience: expected a positive integer, got 0"):
        train_logged(params, x, y, steps=STEPS, **kw | {"log": funcmlp.Logging(EVERY, 0)})
