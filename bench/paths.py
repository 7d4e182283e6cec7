"""Where things are: the repository, and the test helpers the benchmarks reuse (``tests/`` on ``sys.path``)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def use_test_helpers() -> None:
    """Make ``botharness`` and ``dialect`` importable (as pytest does)."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
