"""Shared fixtures. Test modules import realistic cloud items from ``items.py`` beside this file.

End-to-end modules that declare ``pytestmark = pytest.mark.usefixtures("cloud_api")`` run every test once per
Tencent Cloud API dialect (``dialect.current``), but for the cases marked ``dialect.no_edit`` or
``dialect.local_only``, which more runs would prove nothing more about (see ``dialect.py``).

The suite runs in parallel (pytest-xdist, ``-n`` in pyproject's addopts; ``-n 0`` for one process), so a test
must keep to its own ``tmp_path`` (never the working directory), ports the system chooses (port 0) and a state of
its own, and a test that measures time must leave a margin for a busy machine.

Bytecode is written even where ``PYTHONDONTWRITEBYTECODE`` is set (as on this project's machines): each worker
would otherwise rewrite and compile every test module anew, seconds of CPU apiece (``__pycache__`` is ignored by
git).

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
import re
import sys
from collections.abc import Iterator

import dialect
import pytest
from botharness import SEED_VARIABLE, fuzz_seed
from browser import browser, page  # noqa: F401 - the browser tests' fixtures, for every module
from hypothesis import HealthCheck, settings

sys.dont_write_bytecode = False  # before any test module is imported: see the module's docstring

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


_GENERATED = re.compile(r"[A-Za-z0-9_-]{32,}")


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """A stable id for a parameter that is a freshly generated key or token (a long base64url string of mixed
    characters, e.g. ``Fernet.generate_key()``): its text differs in every process, and pytest-xdist refuses a
    run whose workers collected different test ids. Every other value keeps pytest's own id."""
    if isinstance(val, str) and _GENERATED.fullmatch(val) and len(set(val)) > 4:
        return f"{argname}-generated-{len(val)}-chars"
    return None


# The tests that take longest (wall time: a minute of fuzzing, the benchmarks' smoke run, real bot processes killed
# and restarted, the cloud's and the bot's own waits), by node id prefix, longest first. They are started first, so
# that no parallel worker is left running one at the end: pytest-xdist hands each worker two tests to begin with,
# then one more as each ends (``--maxschedchunk 1``), so the long ones are interleaved with short ones and each
# worker begins on one.
LONG_FIRST = (
    "tests/test_fuzz_slack.py::test_bad_input_everywhere",
    "tests/test_bench_smoke.py::",
    "tests/test_http_hostile.py::test_thousands_of_hostile_requests_get_no_5xx",
    "tests/test_cli_e2e.py::test_secrets_never_reach_output_or_logs",
    "tests/test_safety.py::test_the_modal_opens_within_3s_while_the_cloud_takes_10s",
    "tests/test_cli_e2e.py::test_over_quota_while_following_backs_off_and_reports_the_truth",
    "tests/test_safety.py::test_following_rides_out_5xx_timeouts_and_over_quota",
    "tests/test_trust_slack.py::test_an_edit_that_never_lands_fails_only_after_the_settle_window",
    "tests/test_cli_e2e.py::test_5xx_on_reads_is_retried_and_the_edit_is_never_retried",
    "tests/test_crash_recovery.py::",
)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """``LONG_FIRST`` first, in its order, each followed by a short test; every other test after them, in the order
    collected."""

    def rank(item: pytest.Item) -> int:
        return next((i for i, prefix in enumerate(LONG_FIRST) if item.nodeid.startswith(prefix)), len(LONG_FIRST))

    ranked = sorted(items, key=rank)
    long = [item for item in ranked if rank(item) < len(LONG_FIRST)]
    short = ranked[len(long) :]
    paired = [test for pair in zip(long, short, strict=False) for test in pair]
    items[:] = paired + short[len(long) :] + long[len(short) :]


@pytest.fixture(params=dialect.BEHAVIOURS)
def cloud_api(request: pytest.FixtureRequest) -> Iterator[dialect.CloudApi]:
    previous = dialect.behaviour()
    dialect.use(request.param)
    try:
        yield dialect.current
    finally:
        dialect.use(previous)
