import os

# The tests' programs are small and run a few steps: compiling them is most of the suite's time. XLA's
# backend optimisation level 0 compiles them about a quarter faster; what they compute is the same (the tests
# compare with references at their tolerances). Set before JAX starts its backend.
os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_backend_optimization_level=0".strip()

import jax  # noqa: E402
import pytest

# The command line's persistent compilation cache stays out of the tests' home folder (tests/test_cli.py
# turns it on for one test, in a folder of its own).
os.environ.setdefault("FUNCMLP_NO_CACHE", "1")

# The test workers of one run share JAX's persistent compilation cache (a folder of this run's own): many
# test files compile the same programs, and a program the other worker compiled is read, not compiled again.
# What a program computes does not depend on it; in-process counts of compiled programs are unchanged.
_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID")
if _RUN and os.environ.get("FUNCMLP_TESTS_SHARED_CACHE", "1") != "0":
    import tempfile

    jax.config.update(
        "jax_compilation_cache_dir", os.path.join(tempfile.gettempdir(), f"funcmlp-tests-{_RUN}")
    )
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


@pytest.fixture
def key():
    return jax.random.key(0)


@pytest.fixture
def x64():
    """Enable float64 for one test (comparisons at rtol 1e-6), then restore the default."""
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", False)
