"""Shared fixtures. Test modules import realistic cloud items from ``items.py`` beside this file.

End-to-end modules that declare ``pytestmark = pytest.mark.usefixtures("cloud_api")`` run every test once per
Tencent Cloud API dialect (``dialect.current``).

Randomness is repeatable. Hypothesis runs under the ``vpnbot`` profile: ``derandomize=True`` (a test's examples
are a function of the test itself, so every run tries the same ones), no example database (nothing carried from
one run to the next), no deadline (a busy 2-core CI machine makes timing per example meaningless; tests that care
about time assert it themselves) and no too-slow health check. The tests' own generators take
``botharness.fuzz_seed()``. Both are printed in pytest's header. ``HYPOTHESIS_PROFILE=explore`` draws new examples
every run instead (with Hypothesis's own seed printed on failure; replay it with ``--hypothesis-seed``), and
``VPNBOT_TEST_SEED=N`` gives the generators another seed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import dialect
import pytest
from botharness import SEED_VARIABLE, fuzz_seed
from hypothesis import HealthCheck, settings

PROFILE_VARIABLE = "HYPOTHESIS_PROFILE"
settings.register_profile(
    "vpnbot",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore",
    derandomize=False,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get(PROFILE_VARIABLE) or "vpnbot")


def _randomness() -> list[str]:
    current = settings.default
    return [
        f"hypothesis profile: {settings.get_current_profile_name()} (derandomize={current.derandomize}, "
        f"deadline={current.deadline}, database={current.database}; {PROFILE_VARIABLE}=explore for fresh examples)",
        f"test generators' seed: {fuzz_seed()} ({SEED_VARIABLE}=N for another)",
    ]


def pytest_report_header(config: pytest.Config) -> list[str]:
    return _randomness()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    """The same lines at the end when ``-q`` (the project's default) hides the header."""
    if config.get_verbosity() < 0:
        for line in _randomness():
            terminalreporter.write_line(line)


@pytest.fixture(params=dialect.BEHAVIOURS)
def cloud_api(request: pytest.FixtureRequest) -> Iterator[dialect.CloudApi]:
    previous = dialect.behaviour()
    dialect.use(request.param)
    try:
        yield dialect.current
    finally:
        dialect.use(previous)
