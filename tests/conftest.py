import jax
import pytest


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
