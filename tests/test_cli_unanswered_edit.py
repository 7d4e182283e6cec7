"""``vpnbot edit`` when the edit's answer never comes (issue 10 point 3, the CLI side), and every cloud error.

An edit that times out (or gets an HTTP 5xx, or an answer without a task id) may still be applied by the cloud, so
the CLI never calls it failed on the spot and never sends it again: it reads the connection over the settle window
(``VPNBOT_SETTLE_WINDOW``, from sending) and reports what the reads show. The simulator plays a slow cloud with a
latency on the edit action longer than ``VPNBOT_CLOUD_TIMEOUT``: its aiohttp handler is not cancelled when the
client disconnects (``AppRunner`` leaves ``handler_cancellation`` off), so after the latency it applies the edit
and starts the task, as a real cloud would.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import dialect
import items
import pytest
from simthread import CANARY_SECRET_ID, CANARY_SECRET_KEY, ThreadedSim, canary_world, threaded_sim

import bot.cli
import bot.cloud
from bot.changes.evidence import gather_evidence
from bot.cli import main
from bot.cloud import Cloud
from bot.tencent import ApiError, CloudError
from bot.vpn.connection import VpnConnection, VpnSettings
from bot.vpn.diff import not_live
from bot.vpn.edit import Proposal, propose

SEED_CONN = "vpnx-ol6bcqp0"
MODIFY = "ModifyVpnConnEx"
DESCRIBE = "DescribeVpnConn"
STARTED_CHECK = "no answer to the edit; it is not sent again; checking the connection"


@pytest.fixture
def sim(cloud_api: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[ThreadedSim]:
    """The simulator, once per API dialect (``cloud_api``), and the CLI's settings pointing at it."""
    with threaded_sim(canary_world(task_seconds=0.2)) as running:
        monkeypatch.chdir(str(tmp_path))
        env = {
            "VPNBOT_CLOUD_API": dialect.current,
            "VPNBOT_CLOUD_ENDPOINT": running.v3_url if dialect.current == "v3" else running.url,
            "TENCENTCLOUD_SECRET_ID": CANARY_SECRET_ID,
            "TENCENTCLOUD_SECRET_KEY": CANARY_SECRET_KEY,
            "VPNBOT_TASK_POLL_INITIAL": "0.05s",
            "VPNBOT_TASK_POLL_MAX": "0.2s",
            "VPNBOT_TASK_DEADLINE": "20s",
            "VPNBOT_CLOUD_TIMEOUT": "0.3s",
            "VPNBOT_SETTLE_WINDOW": "10s",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield running


def edit(*sets: str, extra: tuple[str, ...] = ("--yes",)) -> int:
    argv = ["edit", SEED_CONN, *extra]
    for item in sets:
        argv += ["--set", item]
    return main(argv)


def test_an_edit_answered_too_late_is_verified_from_reads_and_not_resent(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.faults(latency={MODIFY: 1.0})
    started = time.monotonic()
    assert edit("vpnConnName=slow-edit", extra=("--yes", "--json")) == 0
    took = time.monotonic() - started
    captured = capsys.readouterr()
    assert STARTED_CHECK in captured.err
    for verdict in ("refused", "failed", "did not take effect", "not applied"):
        assert verdict not in captured.err
    report = json.loads(captured.out)
    assert report["outcome"] == "succeeded"
    assert report["verified"] is True
    assert "taskId" not in report  # the answer that names it never came
    assert "no answer within 0.3 s" in report["noAnswer"]
    assert sim.received(MODIFY) == 1
    assert sim.connection(SEED_CONN)["vpnConnName"] == "slow-edit"
    assert took >= 1.0  # the value is live only once the cloud applied it, after the latency


def test_the_simulator_applies_an_edit_after_its_client_gave_up(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the tests above rely on: the handler runs to its end after the client's timeout and disconnect."""
    monkeypatch.setenv("VPNBOT_SETTLE_WINDOW", "0.1s")  # look once and give up: the CLI must not see it land
    sim.faults(latency={MODIFY: 0.8}, taskSeconds=0.0)
    assert edit("vpnConnName=landed-late") == 1
    assert "not applied" in capsys.readouterr().err
    assert sim.connection(SEED_CONN)["vpnConnName"] == "office-shanghai"
    deadline = time.monotonic() + 5
    edit_action = dialect.code("edit_action")
    while (edit_action, "0") not in sim.call(lambda: list(sim.state.journal)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (edit_action, "0") in sim.call(lambda: list(sim.state.journal))
    assert sim.connection(SEED_CONN)["vpnConnName"] == "landed-late"


def test_an_unanswered_edit_that_never_lands_is_not_applied_once_the_window_passed(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VPNBOT_SETTLE_WINDOW", "1.5s")
    sim.faults(latency={MODIFY: 1.0}, failureRate={MODIFY: 1.0})  # the slow answer is a refusal nobody hears
    started = time.monotonic()
    assert edit("vpnConnName=never-lands", extra=("--yes", "--json")) == 1
    took = time.monotonic() - started
    captured = capsys.readouterr()
    assert STARTED_CHECK in captured.err
    assert "not applied" in captured.err
    assert "vpnConnName" in captured.err
    report = json.loads(captured.out)
    assert report["outcome"] == "not_applied"
    assert report["notLive"] == ["vpnConnName"]
    assert report["reads"] >= 2
    assert took >= 1.5  # not before the settle window, counted from sending
    assert sim.received(MODIFY) == 1
    assert sim.connection(SEED_CONN)["vpnConnName"] == "office-shanghai"


def test_an_unanswered_edit_on_an_unreadable_cloud_is_unknown(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VPNBOT_SETTLE_WINDOW", "0.5s")
    sim.faults(latency={MODIFY: 1.0})
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(edit("vpnConnName=cannot-tell")))
    runner.start()
    deadline = time.monotonic() + 10
    while sim.received(MODIFY) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    sim.faults(http5xx={DESCRIBE: 1000})  # every read from now on, retries included, answers 503
    runner.join(30)
    assert result == [1]
    err = capsys.readouterr().err
    assert STARTED_CHECK in err
    assert "unknown" in err
    assert "could not be read" in err
    assert "503" in err
    assert sim.received(MODIFY) == 1


def test_an_unanswered_edit_still_being_modified_at_the_deadline_is_unknown(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VPNBOT_SETTLE_WINDOW", "1.5s")
    monkeypatch.setenv("VPNBOT_TASK_DEADLINE", "3s")
    sim.faults(latency={MODIFY: 0.5}, taskSeconds=60)
    started = time.monotonic()
    assert edit("vpnConnName=still-going", extra=("--yes", "--json")) == 1
    took = time.monotonic() - started
    captured = capsys.readouterr()
    assert "unknown" in captured.err
    assert "still being modified" in captured.err
    assert json.loads(captured.out)["outcome"] == "unknown"
    assert 3.0 <= took < 15  # read on past the window while the connection was modifying, up to the deadline
    assert sim.received(MODIFY) == 1


def test_an_http_503_on_the_edit_is_not_resent_and_read_back(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VPNBOT_SETTLE_WINDOW", "0.5s")
    sim.faults(http5xx={MODIFY: 1})
    assert edit("vpnConnName=after-503") == 1
    err = capsys.readouterr().err
    assert "no usable answer to the edit; it is not sent again" in err
    assert "not applied" in err
    assert sim.received(MODIFY) == 1


# -- every CloudError subclass ends the command with one line, exit 1 -----------------------------------------------


def _all_cloud_errors() -> list[type[CloudError]]:
    found: list[type[CloudError]] = []
    pending: list[type[CloudError]] = [CloudError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda c: c.__name__)


def _instance(cls: type[CloudError], action: str) -> CloudError:
    """An instance of ``cls`` whatever its constructor, with a detail spread over two lines."""
    error = cls.__new__(cls)
    if isinstance(error, ApiError):
        ApiError.__init__(error, action, 4000, "InvalidParameter", "first line\nsecond line")
    else:
        CloudError.__init__(error, action, "first line\nsecond line")
    return error


class _Faulty:
    """A CloudClient that raises ``error`` on the ``nth`` call of ``method`` and otherwise is ``inner``."""

    def __init__(self, inner: Any, method: str, nth: int, error: CloudError) -> None:
        self._inner, self._method, self._nth, self._error, self._count = inner, method, nth, error, 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name != self._method:
            return attribute

        async def call(*args: Any, **kwargs: Any) -> Any:
            self._count += 1
            if self._count == self._nth:
                raise self._error
            return await attribute(*args, **kwargs)

        return call


@pytest.mark.parametrize("cls", _all_cloud_errors(), ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    ("method", "nth"),
    [("describe_vpn_conn", 1), ("describe_vpn_conn", 2), ("modify_vpn_conn", 1), ("describe_vpn_conn", 3)],
    ids=["first-read", "re-read", "edit", "verify-read"],
)
def test_every_cloud_error_exits_1_with_one_line(
    sim: ThreadedSim,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    cls: type[CloudError],
    method: str,
    nth: int,
) -> None:
    monkeypatch.setenv("VPNBOT_SETTLE_WINDOW", "0.2s")
    real_open = bot.cloud.open_cloud

    @asynccontextmanager
    async def faulty_open(*args: Any, **kwargs: Any) -> AsyncIterator[Cloud]:
        async with real_open(*args, **kwargs) as cloud:
            client = _Faulty(cloud.client, method, nth, _instance(cls, "SomeAction"))
            yield dataclasses.replace(cloud, client=client)

    monkeypatch.setattr(bot.cli, "open_cloud", faulty_open)
    if dialect.behaviour() == "v3" and nth == 3:
        # The second read is the approval's re-read (nothing is sent when it fails). No task: the third read is a
        # settling read, and a failed poll is retried, not an end. The read that
        # finds the values live is the verification.
        assert edit("vpnConnName=error-path") == 0
        assert sim.connection(SEED_CONN)["vpnConnName"] == "error-path"
        return
    assert edit("vpnConnName=error-path") == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "first line second line" in err  # the error's text, on one line
    assert "second line\n" not in err.replace("first line second line", "")


# -- the check itself, on a fake clock ------------------------------------------------------------------------------


class _Reads:
    """A describe_vpn_conn that answers from a script: a connection, or an exception to raise."""

    def __init__(self, script: list[VpnConnection | CloudError]) -> None:
        self.script = script
        self.count = 0

    async def describe_vpn_conn(self, vpn_conn_id: str) -> VpnConnection:
        step = self.script[min(self.count, len(self.script) - 1)]
        self.count += 1
        if isinstance(step, CloudError):
            raise step
        return step


def _connection(name: str, status: int = 6) -> VpnConnection:
    base = items.connection()
    return dataclasses.replace(base, status=status, settings=base.settings.replace({"vpnConnName": name}))


@pytest.fixture
def proposal() -> tuple[VpnSettings, Proposal]:
    current = _connection("old").settings
    return current, propose(current, {"vpnConnName": "new"})


async def _check(reads: _Reads, proposal: Proposal, current: VpnSettings) -> Any:
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    changed = proposal.changed(current)
    return await gather_evidence(
        lambda: reads.describe_vpn_conn(SEED_CONN),
        lambda live: not_live(proposal, changed, live.settings),
        sent_at=0.0,
        window_ends=10.0,
        give_up_at=30.0,
        give_up_unreadable_at=10.0,
        initial=1.0,
        maximum=4.0,
        clock=lambda: now[0],
        sleep=sleep,
    )


async def test_the_check_waits_the_whole_window_before_not_applied(proposal: tuple[VpnSettings, Proposal]) -> None:
    current, wanted = proposal
    check = await _check(_Reads([_connection("old")]), wanted, current)
    assert (check.found, check.missing) == ("not_applied", ["vpnConnName"])
    assert check.elapsed == pytest.approx(14.0)
    assert check.reads == 7  # at 0, 1, 2.5, 4.75, 8.125 s (the task backoff), 10 s (the window's end) and 14 s:
    # two reads at or after the window must agree


async def test_the_check_waits_for_a_modifying_connection_to_settle(proposal: tuple[VpnSettings, Proposal]) -> None:
    current, wanted = proposal
    script: list[VpnConnection | CloudError] = [_connection("new", status=2), _connection("new", status=2)]
    script += [_connection("new", status=2), _connection("new")]
    check = await _check(_Reads(script), wanted, current)
    assert check.found == "succeeded"
    assert check.reads == 4


async def test_the_check_is_unknown_when_the_last_read_fails(proposal: tuple[VpnSettings, Proposal]) -> None:
    current, wanted = proposal
    check = await _check(_Reads([_connection("old"), CloudError(DESCRIBE, "down")]), wanted, current)
    assert check.found == "unknown"
    assert check.error == "DescribeVpnConn failed: down"
