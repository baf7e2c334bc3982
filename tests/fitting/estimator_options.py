"""What the estimator tests share: small training options and the scikit-learn checks expected to fail."""

import funcmlp

# One program per data shape: the same steps and seeds everywhere share what is compiled. Plain gradient
# descent: its compiled programs are a fifth cheaper than Adam's (what the checks test is the interface,
# and funcmlp.fit's optimizers have tests of their own).
FAST = dict(steps=50, seeds=2, optimizer="sgd", learning_rate=0.3)


def expected_failures(estimator) -> dict[str, str]:
    if isinstance(estimator, funcmlp.MLPClassifier):
        return {
            "check_class_weight_classifiers": "class_weight takes 'none' or 'balanced' (funcmlp.fit's "
            "n / (K n_k)), not a dict of weights per class"
        }
    return {}
