"""scikit-learn's own estimator checks on funcmlp.MLPRegressor (one file per estimator, so that the two
test workers share them)."""

import pytest

pytest.importorskip("sklearn")

from estimator_options import FAST, expected_failures  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import funcmlp  # noqa: E402


@parametrize_with_checks(
    [funcmlp.MLPRegressor(**FAST)],
    expected_failed_checks=expected_failures,
)
def test_sklearn_checks(estimator, check):
    check(estimator)
