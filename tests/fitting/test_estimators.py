"""funcmlp.MLPClassifier and MLPRegressor (scikit-learn's own checks: test_estimator_checks_*.py): the same model and scores
as funcmlp.fit with the same options on the same rows (predictions recomputed by hand in float64 numpy),
cross_val_score, a Pipeline, probabilities, string labels, the tiny-data fallback, and import funcmlp
without scikit-learn."""

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")

from estimator_options import FAST  # noqa: E402
from sklearn.datasets import load_diabetes, load_iris  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import funcmlp  # noqa: E402


def by_hand(fit, x: np.ndarray) -> np.ndarray:
    """z = relu(x' W1 + b1) W2 + b2 in float64 numpy, x' = (x - mu) / sigma as the standardizer rounds it
    (to float32)."""
    st = fit.samples.prepared.standardizer
    h = ((np.asarray(x, np.float32).astype(np.float64) - st.mean) / st.std).astype(np.float32)
    h = h.astype(np.float64)
    for i, layer in enumerate(fit.params):
        h = h @ np.asarray(layer["w"], np.float64) + np.asarray(layer["b"], np.float64)
        h = np.maximum(h, 0.0) if i < len(fit.params) - 1 else h
    return h


@pytest.fixture(scope="module")
def iris():
    x, y = load_iris(return_X_y=True)
    return x, y, funcmlp.MLPClassifier(**FAST).fit(x, y)


@pytest.fixture(scope="module")
def diabetes():
    x, y = load_diabetes(return_X_y=True)
    return x, y, funcmlp.MLPRegressor(**FAST).fit(x, y)


def test_classifier_is_fit_on_the_same_rows(iris):
    x, y, est = iris
    fit = funcmlp.fit(x, y, head="softmax", test=0.0, val=0.2, standardize=True, **FAST)
    for got, want in zip(est.fit_.params, fit.params, strict=True):
        np.testing.assert_array_equal(got["w"], want["w"])
        np.testing.assert_array_equal(got["b"], want["b"])
    assert est.fit_.choice["seed"] == fit.choice["seed"]
    z = by_hand(fit, x)
    np.testing.assert_array_equal(est.predict(x), np.arange(3)[np.argmax(z, axis=1)])
    p = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(est.predict_proba(x), p / p.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(est.score(x, y), np.mean(np.argmax(z, axis=1) == y), rtol=1e-6)
    raw = fit.samples.prepared.raw
    for split, (xs, ys) in (("train", raw[0:2]), ("validation", raw[2:4])):
        np.testing.assert_allclose(est.score(xs, ys), fit.metrics[f"{split}_accuracy"], rtol=1e-6)
    assert len(est.fit_.samples.val[1]) == 30 and len(est.fit_.samples.test[1]) == 0


def test_regressor_is_fit_on_the_same_rows(diabetes):
    x, y, est = diabetes
    fit = funcmlp.fit(x, y, head="linear", test=0.0, val=0.2, standardize=True, **FAST)
    for got, want in zip(est.fit_.params, fit.params, strict=True):
        np.testing.assert_array_equal(got["w"], want["w"])
    assert (est.fit_.choice["seed"], est.fit_.choice["l2"]) == (fit.choice["seed"], fit.choice["l2"])
    ts = fit.samples.prepared.target_standardizer
    want = by_hand(fit, x)[:, 0] * ts.std[0] + ts.mean[0]
    np.testing.assert_allclose(est.predict(x), want, rtol=1e-5)
    assert est.predict(x).dtype == np.float64 and est.predict(x).shape == y.shape
    raw = fit.samples.prepared.raw
    for split, (xs, ys) in (("train", raw[0:2]), ("validation", raw[2:4])):
        np.testing.assert_allclose(est.score(xs, ys[:, 0]), fit.metrics[f"{split}_r2"], rtol=1e-5)
        by_hand_xs = by_hand(fit, xs)[:, 0] * ts.std[0] + ts.mean[0]
        np.testing.assert_allclose(est.score(xs, ys[:, 0]), r2_score(ys[:, 0], by_hand_xs), rtol=1e-5)


def test_probabilities_sum_to_one(iris):
    x, _, est = iris
    p = est.predict_proba(x)
    assert p.shape == (150, 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(est.classes_[np.argmax(p, axis=1)], est.predict(x))


def test_string_labels_round_trip(iris):
    x, y, est = iris
    names = np.array(["setosa", "versicolor", "virginica"], dtype=object)
    named = funcmlp.MLPClassifier(**FAST).fit(x, names[y])
    np.testing.assert_array_equal(named.classes_, names)
    np.testing.assert_array_equal(named.predict(x), names[est.predict(x)])
    assert named.score(x, names[y]) == est.score(x, y)


def test_cross_val_score_and_pipeline(iris, diabetes):
    x, y, _ = iris
    scores = cross_val_score(funcmlp.MLPClassifier(**FAST), x, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.8)
    x, y, _ = diabetes
    # the scaler sees every row, funcmlp's standardizer the training rows: a model of its own
    pipe = make_pipeline(StandardScaler(), funcmlp.MLPRegressor(standardize=False, **FAST)).fit(x, y)
    assert pipe.predict(x).shape == y.shape and pipe.score(x, y) > 0.3


def test_tiny_data_trains_on_every_row(iris):
    x, y, _ = iris
    rows = np.r_[0:6, 50:56, 100:106]  # 18 rows: fewer than MIN_ROWS_FOR_VAL
    est = funcmlp.MLPClassifier(**FAST).fit(x[rows], y[rows])
    assert len(est.fit_.samples.train[1]) == 18 and len(est.fit_.samples.val[1]) == 0
    assert est.score(x[rows], y[rows]) > 0.8


def test_import_funcmlp_without_sklearn():
    code = (
        "import sys\n"
        "import funcmlp\n"
        "print('loaded:', sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))\n"
        "sys.modules['sklearn'] = None  # as if it were not installed\n"
        "try:\n    funcmlp.MLPClassifier\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "loaded: []" in out and "need scikit-learn" in out


@pytest.mark.parametrize("val", [1.0, -0.1, True, "0.2"])
def test_a_bad_val_is_refused_by_name(iris, val):
    x, y, _ = iris
    with pytest.raises(ValueError, match="val: expected a fraction in"):
        funcmlp.MLPClassifier(val=val, **FAST).fit(x[:10], y[:10])
