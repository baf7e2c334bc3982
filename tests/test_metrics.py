"""funcmlp.metrics against hand-computed examples and independent numpy references (scikit-learn's formulas
written out: precision = tp / (tp + fp), recall = tp / (tp + fn), F1 = 2 tp / (2 tp + fp + fn))."""

import numpy as np
import pytest

from funcmlp import metrics

# y_true = [0, 0, 0, 1, 1, 2], y_pred = [0, 0, 1, 1, 2, 2]:
#   C = [[2, 1, 0], [0, 1, 1], [0, 0, 1]], precision = (1, 1/2, 1/2), recall = (2/3, 1/2, 1),
#   F1 = (0.8, 1/2, 2/3), balanced accuracy = (2/3 + 1/2 + 1) / 3 = 13/18, accuracy = 4/6.
Y_TRUE = [0, 0, 0, 1, 1, 2]
Y_PRED = [0, 0, 1, 1, 2, 2]


def test_hand_computed_classification_example():
    c = metrics.confusion_matrix(Y_TRUE, Y_PRED)
    np.testing.assert_array_equal(c, [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    precision, recall, f1 = metrics.per_class(c)
    np.testing.assert_allclose(precision, [1, 1 / 2, 1 / 2])
    np.testing.assert_allclose(recall, [2 / 3, 1 / 2, 1])
    np.testing.assert_allclose(f1, [0.8, 1 / 2, 2 / 3])
    assert metrics.balanced_accuracy(c) == pytest.approx(13 / 18)
    report = metrics.classification(Y_TRUE, Y_PRED, ("a", "b", "c"))
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["per_class"]["a"] == {
        "precision": 1.0,
        "recall": pytest.approx(2 / 3),
        "f1": 0.8,
        "support": 3,
    }
    assert report["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def _reference(y_true, y_pred, k):
    """Per-class counts straight from the labels, no confusion matrix."""
    out = []
    for c in range(k):
        tp = np.sum((y_true == c) & (y_pred == c))
        fp = np.sum((y_true != c) & (y_pred == c))
        fn = np.sum((y_true == c) & (y_pred != c))
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
        out.append((p, r, f, tp + fn))
    return np.array(out, np.float64)


@pytest.mark.parametrize("seed", range(5))
def test_per_class_and_balanced_accuracy_match_the_counting_reference(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 7))
    y_true = rng.integers(0, k, size=int(rng.integers(1, 60)))
    y_pred = np.where(rng.random(y_true.size) < 0.6, y_true, rng.integers(0, k, size=y_true.size))
    c = metrics.confusion_matrix(y_true, y_pred, k)
    loops = np.zeros((k, k), int)
    for t, p in zip(y_true, y_pred, strict=True):
        loops[t, p] += 1
    np.testing.assert_array_equal(c, loops)
    ref = _reference(y_true, y_pred, k)
    for got, want in zip(metrics.per_class(c), ref.T[:3], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    present = ref[:, 3] > 0
    assert metrics.balanced_accuracy(c) == pytest.approx(ref[present, 1].mean(), rel=1e-12)


def test_a_class_never_predicted_or_absent_scores_zero_and_is_left_out_of_balanced_accuracy():
    # class 2 is never in y_true (left out of the mean recall); class 1 is never predicted (precision 0)
    c = metrics.confusion_matrix([0, 0, 1, 1], [0, 2, 0, 0], 3)
    precision, recall, f1 = metrics.per_class(c)
    np.testing.assert_allclose(precision, [1 / 3, 0, 0])
    np.testing.assert_allclose(recall, [1 / 2, 0, 0])
    np.testing.assert_allclose(f1, [0.4, 0, 0])
    assert metrics.balanced_accuracy(c) == pytest.approx((1 / 2 + 0) / 2)
    assert np.isnan(metrics.balanced_accuracy(np.zeros((2, 2))))


def test_hand_computed_regression_example():
    # y = (1, 2, 3, 4), yhat = (1, 2, 3, 5): MAE 1/4, RMSE sqrt(1/4), R^2 = 1 - 1 / 5
    assert metrics.regression([1, 2, 3, 4], [1, 2, 3, 5]) == pytest.approx(
        {"mae": 0.25, "rmse": 0.5, "r2": 0.8}
    )


@pytest.mark.parametrize("shape", [(40,), (40, 1), (40, 3)])
def test_regression_scores_match_numpy_formulas(shape):
    rng = np.random.default_rng(1)
    y = rng.normal(5.0, 3.0, size=shape)
    yhat = y + rng.normal(0.0, 1.0, size=shape)
    t, p = y.reshape(40, -1), yhat.reshape(40, -1)
    r2_cols = [
        1 - np.sum((t[:, j] - p[:, j]) ** 2) / np.sum((t[:, j] - t[:, j].mean()) ** 2)
        for j in range(t.shape[1])
    ]
    assert metrics.mae(y, yhat) == pytest.approx(np.abs(t - p).mean(), rel=1e-12)
    assert metrics.rmse(y, yhat) == pytest.approx(np.mean(np.sqrt(((t - p) ** 2).mean(0))), rel=1e-12)
    assert metrics.r2(y, yhat) == pytest.approx(np.mean(r2_cols), rel=1e-12)


def test_r2_edge_cases():
    y = np.array([1.0, 2.0, 4.0])
    assert metrics.r2(y, y) == 1.0
    assert metrics.r2(y, np.full(3, y.mean())) == pytest.approx(0.0)  # the mean predictor
    assert metrics.r2(y, -y) < 0  # worse than the mean
    assert metrics.r2([3.0, 3.0], [3.0, 3.0]) == 1.0 and metrics.r2([3.0, 3.0], [3.0, 4.0]) == 0.0
    assert metrics.mae(y, y[:, None]) == 0.0  # (n,) against (n, 1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: metrics.confusion_matrix([0.5, 1], [0, 1]),
            "y_true: expected non-negative integer class labels",
        ),
        (
            lambda: metrics.confusion_matrix([0, 1, 2, 3], [0, 1, 2]),
            r"y_pred: expected the shape of y_true \(4,\)",
        ),
        (
            lambda: metrics.confusion_matrix([0, 3], [0, 1], 2),
            "k: expected more than the largest label 3, got 2",
        ),
        (lambda: metrics.per_class(np.zeros((2, 3))), r"c: expected a square confusion matrix \(K, K\)"),
        (
            lambda: metrics.r2([1, 2, 3, 4], [1, 2, 3]),
            r"y_pred: expected targets and predictions of one shape",
        ),
    ],
)
def test_bad_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()
