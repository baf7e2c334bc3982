"""scikit-learn's own estimator checks on funcmlp.MLPRegressor (one file per estimator, so that the two
test workers share them)."""

import pytest

pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import funcmlp  # noqa: E402

# One program per data shape: the same steps and seeds everywhere share what is compiled.
FAST = dict(steps=50, seeds=2)


def expected_failures(estimator) -> dict[str, str]:
    if isinstance(estimator, funcmlp.MLPClassifier):
        return {
            "check_class_weight_classifiers": "class_weight takes 'none' or 'balanced' (funcmlp.fit's "
            "n / (K n_k)), not a dict of weights per class"
        }
    return {}


@parametrize_with_checks(
    [funcmlp.MLPRegressor(**FAST)],
    expected_failed_checks=expected_failures,
)
def test_sklearn_checks(estimator, check):
    check(estimator)
