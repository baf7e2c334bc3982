"""benchmarks/models.py at tiny sizes: both sides of each cell train the same models (no timing)."""

import numpy as np
import pytest

from benchmarks import models


@pytest.mark.parametrize("cell", ["custom model", "config axis"])
def test_funcmlp_and_plain_losses_equal(cell):
    (fns,) = [fns for name, fns in models.cells(steps=4, seeds=2).items() if name.startswith(cell)]
    got, want = np.asarray(fns["funcmlp"]()), np.asarray(fns["plain"]())
    assert got.shape == want.shape == ((6 if cell == "custom model" else 9) * 2, 4)
    assert np.isfinite(got).all() and np.isfinite(want).all()
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert models.check_equal(cell, got, want, early=4) == (0, pytest.approx(0.0, abs=1e-5))
