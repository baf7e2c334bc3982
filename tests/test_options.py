"""``funcmlp.options``: one ``Logging`` record for ``train_logged`` and ``sweep`` (the same rows, the same
curves as the single-model path), ``Resume``, and the errors that name where an old keyword went."""

import jax
import numpy as np
import optax
import pytest

import funcmlp

STEPS = 400


@pytest.fixture(scope="module")
def spiral():
    x, y = funcmlp.data.spiral(jax.random.key(0), 20)
    xv, yv = funcmlp.data.spiral(jax.random.key(1), 10)
    return x, y, xv, yv


def test_default_logging_is_the_same_in_train_logged_and_sweep(spiral):
    """``log=Logging()`` logs the same steps in both drivers, and the sweep's one model has the curves that
    ``train_logged`` measures for the same initial parameters (float32, rtol 1e-5)."""
    x, y, xv, yv = spiral
    kw = dict(steps=STEPS, evaluate={"val": (xv, yv)}, log=funcmlp.Logging())
    swept = funcmlp.sweep(jax.random.key(2), x, y, sizes=(2, 4, 3), seeds=1, learning_rates=[0.5], **kw)
    params = funcmlp.init_params(jax.random.split(jax.random.key(2), 1)[0], (2, 4, 3))
    one, history = funcmlp.train_logged(params, x, y, optimizer=optax.sgd(0.5), **kw)
    curves = swept.groups[0].history
    np.testing.assert_array_equal(curves["step"], history.columns["step"])
    assert len(history.columns["step"]) > 2
    for name in ("train_loss", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(curves[name][0, 0], history.columns[name], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(swept.groups[0].losses[0, 0], one.losses, rtol=1e-5)


def _sweep(x, y, **kw):
    return funcmlp.sweep(
        jax.random.key(0), x, y, sizes=(2, 4, 3), seeds=1, steps=2, learning_rates=[0.1], **kw
    )


@pytest.mark.parametrize(
    ("old", "where"),
    [
        ("x_val", r'evaluate=\{"val": \(x_val, y_val\)\}'),
        ("log_every", r"log=funcmlp.Logging\(every=...\)"),
        ("patience", r"log=funcmlp.Logging\(patience=...\)"),
        ("metrics", r"log=funcmlp.Logging\(metrics=...\)"),
        ("allow_changes", r"start=funcmlp.Resume\(result, allow_changes=True\)"),
    ],
)
def test_sweep_names_where_an_old_keyword_went(spiral, old, where):
    x, y, *_ = spiral
    with pytest.raises(TypeError, match=rf"^sweep: {old}= moved; pass {where}$"):
        _sweep(x, y, **{old: 1})


def test_train_and_train_logged_name_where_an_old_keyword_went(spiral):
    x, y, *_ = spiral
    params = funcmlp.init_params(jax.random.key(1), (2, 4, 3))
    kw = dict(optimizer=optax.sgd(0.1), steps=2, batch_size=10)
    with pytest.raises(TypeError, match=r"^train: key= moved; pass batch_key=$"):
        funcmlp.train(params, x, y, key=jax.random.key(3), **kw)
    with pytest.raises(TypeError, match=r"^train_logged: key= moved; pass batch_key=$"):
        funcmlp.train_logged(params, x, y, key=jax.random.key(3), **kw)
    with pytest.raises(TypeError, match=r"^train_logged: patience= moved; pass log=funcmlp.Logging"):
        funcmlp.train_logged(params, x, y, patience=3, **kw)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'x_val'"):
        funcmlp.train(params, x, y, x_val=x, **kw)
    old = r"^callback: expected a function of one funcmlp.Report, callback\(report\) .* got <lambda>\(s, v\)"
    with pytest.raises(TypeError, match=old):  # the (steps_done, loss) form of earlier releases
        funcmlp.train(params, x, y, callback=lambda s, v: None, **kw | {"batch_size": None})
    with pytest.raises(TypeError, match=r"^callback: .* got <lambda>\(g, s, losses\)"):
        _sweep(x, y, callback=lambda g, s, losses: None)


def test_logging_and_evaluate_are_checked(spiral):
    x, y, xv, yv = spiral
    with pytest.raises(
        TypeError, match=r"^log: expected a funcmlp.Logging\(every, patience, metrics\), got dict"
    ):
        _sweep(x, y, log={"every": 1})
    with pytest.raises(ValueError, match=r"^log.every: expected a positive integer, got 0"):
        _sweep(x, y, log=funcmlp.Logging(every=0))
    with pytest.raises(ValueError, match=r'^log.patience: expected a validation set evaluate=\{"val"'):
        _sweep(x, y, log=funcmlp.Logging(every=1, patience=2))
    with pytest.raises(TypeError, match=r"^log.metrics: expected a function"):
        _sweep(x, y, log=funcmlp.Logging(every=1, metrics=3))
    with pytest.raises(TypeError, match=r"^evaluate\['val'\]: expected a pair \(x, y\), got list"):
        _sweep(x, y, evaluate={"val": [xv, yv]})
    with pytest.raises(ValueError, match=r"^evaluate: expected set names other than 'train' .* got 'train'"):
        _sweep(x, y, evaluate={"train": (xv, yv)})


def test_resume_with_allow_changes_continues_a_sweep_with_another_setting(spiral):
    """``start=Resume(result, allow_changes=True)``: a changed momentum is accepted and recorded; a bare
    result with the change is refused."""
    x, y, *_ = spiral
    kw = dict(sizes=(2, 4, 3), seeds=1, steps=2, optimizer=optax.sgd)
    first = funcmlp.sweep(
        jax.random.key(0), x, y, hyperparams={"learning_rate": [0.1], "momentum": 0.0}, **kw
    )
    more = {"learning_rate": [0.1], "momentum": 0.9}
    with pytest.raises(ValueError, match=r"start=funcmlp.Resume\(result, allow_changes=True\)"):
        funcmlp.sweep(jax.random.key(0), x, y, hyperparams=more, start=first, **kw)
    then = funcmlp.sweep(jax.random.key(0), x, y, hyperparams=more, start=funcmlp.Resume(first, True), **kw)
    assert then.step == 4
    assert [seg[0] for seg in then.settings["segments"]] == [0, 2]
