"""Eager input validation shared by every public entry point.

Each check raises ``ValueError`` or ``TypeError`` whose message starts with the argument's name, then says
what was expected and what came, before anything is traced. Value checks (finiteness, label ranges) run only
on concrete arrays: inside a user's own ``jit`` the shapes and dtypes are still checked, the values cannot be.
``docs/errors.md`` lists every message. Checks of arrays are in ``arrays``, of scalar arguments in ``values``.
"""

from funcmlp.checks.arrays import (
    check_float_dtype,
    check_l2_fits,
    check_labels,
    check_leading,
    check_opt_state,
    check_params,
    check_params_dtype,
    check_targets,
    check_x,
    dtype_of,
    is_concrete,
    is_real,
)
from funcmlp.checks.values import (
    check_batch_size,
    check_callback,
    check_key,
    check_learning_rates,
    check_metrics,
    check_nonnegative_int,
    check_nonnegative_real,
    check_positive_int,
    check_real,
    check_scheme,
    check_sizes,
)

__all__ = [
    "check_batch_size",
    "check_callback",
    "check_metrics",
    "check_float_dtype",
    "check_key",
    "check_l2_fits",
    "check_labels",
    "check_leading",
    "check_learning_rates",
    "check_nonnegative_int",
    "check_nonnegative_real",
    "check_opt_state",
    "check_params",
    "check_params_dtype",
    "check_positive_int",
    "check_real",
    "check_scheme",
    "check_sizes",
    "check_targets",
    "check_x",
    "dtype_of",
    "is_concrete",
    "is_real",
]
