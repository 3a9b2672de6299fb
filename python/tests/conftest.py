"""Shared inputs of the protoot Python tests (run by scripts/test.sh against the installed wheel)."""
import sys
from pathlib import Path

import numpy as np
import pytest

# The NumPy references the C++ tests use (tests/reference/*.py) serve here too.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "reference"))


@pytest.fixture
def rng():
    return np.random.default_rng(15)


@pytest.fixture
def problem(rng):
    """A 12 x 17 balanced problem: uniform a, random b, cost in [0, 1)."""
    n, m = 12, 17
    b = rng.random(m) + 0.1
    return np.full(n, 1.0 / n), b / b.sum(), rng.random((n, m))
