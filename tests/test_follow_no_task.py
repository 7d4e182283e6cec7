"""An API 3.0 edit without a task, end to end over loopback against the simulator: ``DescribeVpcTaskResult`` does
not know the edit's RequestId (the world's ``modifyTask`` false, the documented default), so the follow reads the
connection until it shows the edit applied; a forced failure is never reported as success. Also: the client's rate
limits against the simulator enforcing Tencent's, and the one safe re-send of an edit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import dialect
import pytest
from botharness import APPROVER, card_text, harness
from pydantic import SecretStr
from simthread import CANARY_SECRET_ID, CANARY_SECRET_KEY, ThreadedSim, canary_world, threaded_sim

from bot.cli import main
from bot.sim import DEMO_SECRET_ID, DEMO_SECRET_KEY, SimServer, SimState, load_world
from bot.tencent import (
    ApiError,
    Credentials,
    ServerError,
    TaskFollower,
    TaskOutcome,
    TaskState,
    TaskStatus,
    VpcClientV3,
    settled,
)
from bot.vpn.diff import not_live
from bot.vpn.edit import propose

SEED_CONN = "vpnx-ol6bcqp0"
MODIFY = "ModifyVpnConnectionAttribute"
DESCRIBE = "DescribeVpnConnections"
TASK = "DescribeVpcTaskResult"
NO_TASK_WORDS = "applying (no task: reading the connection)"  # vpnbot edit's progress line


@pytest.fixture
def v3_without_tasks() -> Iterator[None]:
    """API 3.0 as documented: the edit leaves no task to query."""
    previous = dialect.behaviour()
    dialect.use("v3")
    try:
        yield
    finally:
        dialect.use(previous)


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    world = load_world(None).model_copy(update={"task_seconds": 0.3})
    async with SimServer(SimState(world)) as server:
        assert server.state.modify_task is False  # the documented default
        yield server


def client_for(sim: SimServer, **options: Any) -> VpcClientV3:
    credentials = Credentials(DEMO_SECRET_ID, SecretStr(DEMO_SECRET_KEY))
    return VpcClientV3(credentials, endpoint=sim.v3_url, retry_base=0.05, limit_retry_base=0.2, **options)


async def follow_edit(client: VpcClientV3, name: str, conn: str = SEED_CONN) -> tuple[Any, list[str]]:
    """Edit ``conn``'s name and follow it as vpnbot does: the task if there is one, else the connection."""
    connection = await client.describe_vpn_conn(conn)
    proposal = propose(connection.settings, {"vpnConnName": name})
    changed = ("vpnConnName",)
    task_id = await client.modify_vpn_conn(connection, proposal)
    seen: list[str] = []

    async def on_change(state: TaskState, elapsed: float) -> None:
        seen.append(state.status.value)

    async def settle() -> TaskState:
        live = await client.describe_vpn_conn(conn)
        return settled(live, not_live(proposal, changed, live.settings))

    follower = TaskFollower(client.task_status, initial_interval=0.05, max_interval=0.1, deadline=10, jitter=0.2)
    return await follower.follow(task_id, on_change, settle=settle), seen


# --- the client against the simulator -----------------------------------------------------------------------------


async def test_an_edit_without_a_task_is_followed_from_the_connection(sim: SimServer) -> None:
    async with client_for(sim) as client:
        result, seen = await follow_edit(client, "no-task-edit")
        assert (result.outcome, result.settled) == (TaskOutcome.SUCCEEDED, True)
        assert seen == ["no_task", "succeeded"]
        assert (await client.describe_vpn_conn(SEED_CONN)).name == "no-task-edit"
    assert sim.state.received(TASK) == 1  # asked once; not polled for half an hour
    assert sim.state.arrivals[DESCRIBE] >= 3


async def test_an_edit_with_a_task_is_followed_by_its_task(sim: SimServer) -> None:
    sim.state.modify_task = True
    async with client_for(sim) as client:
        result, seen = await follow_edit(client, "task-edit")
        assert (result.outcome, result.settled) == (TaskOutcome.SUCCEEDED, False)
        assert seen[0] == "running"
        assert seen[-1] == "succeeded"
    assert sim.state.received(TASK) >= 2


async def test_a_forced_failure_without_a_task_is_never_a_success(sim: SimServer) -> None:
    sim.state.update_faults({"taskOutcome": "failed"})
    async with client_for(sim) as client:
        connection = await client.describe_vpn_conn(SEED_CONN)
        proposal = propose(connection.settings, {"vpnConnName": "never-lands"})
        task_id = await client.modify_vpn_conn(connection, proposal)

        async def settle() -> TaskState:
            live = await client.describe_vpn_conn(SEED_CONN)
            return settled(live, not_live(proposal, ("vpnConnName",), live.settings))

        follower = TaskFollower(client.task_status, initial_interval=0.05, max_interval=0.1, deadline=1.0)
        result = await follower.follow(task_id, settle=settle)
    assert (result.outcome, result.settled) == (TaskOutcome.TIMED_OUT, True)


async def test_a_thousand_reads_and_polls_stay_under_the_enforced_limits(sim: SimServer) -> None:
    limits = {TASK: 20, DESCRIBE: 100, MODIFY: 100}
    sim.state.update_faults({"rateLimits": limits})
    async with client_for(sim) as client:
        tasks = [client.task_status(f"req-{n}") for n in range(60)]
        reads = [client.describe_vpn_conn(SEED_CONN) for _ in range(1000)]
        states = await asyncio.gather(*tasks)
        found = await asyncio.gather(*reads)
    assert {s.status for s in states} == {TaskStatus.NO_TASK}
    assert {c.vpn_conn_id for c in found} == {SEED_CONN}
    assert sim.state.rate_refusals(TASK) == 0
    assert sim.state.rate_refusals(DESCRIBE) == 0
    assert sim.state.peak_rate(TASK) <= 20
    assert sim.state.arrivals[DESCRIBE] <= 5  # a thousand reads of one id, batched


async def test_an_edit_refused_for_the_rate_limit_is_sent_again_and_lands(sim: SimServer) -> None:
    sim.state.update_faults({"overQuota": {"ModifyVpnConnEx": 2}})
    async with client_for(sim) as client:
        result, _ = await follow_edit(client, "after-the-limit")
        assert result.outcome is TaskOutcome.SUCCEEDED
        assert (await client.describe_vpn_conn(SEED_CONN)).name == "after-the-limit"
    assert sim.state.received(MODIFY) == 3


async def test_an_edit_without_a_usable_answer_is_not_sent_again(sim: SimServer) -> None:
    sim.state.update_faults({"http5xx": {"ModifyVpnConnEx": 1}})
    async with client_for(sim) as client:
        connection = await client.describe_vpn_conn(SEED_CONN)
        with pytest.raises(ServerError):
            await client.modify_vpn_conn(connection, propose(connection.settings, {"vpnConnName": "maybe"}))
        sim.state.update_faults({"failureRate": {"ModifyVpnConnEx": 1.0}})
        with pytest.raises(ApiError, match="InternalError"):
            await client.modify_vpn_conn(connection, propose(connection.settings, {"vpnConnName": "maybe"}))
    assert sim.state.received(MODIFY) == 2


# --- the Slack flow -----------------------------------------------------------------------------------------------


def status_texts(h: Any) -> list[str]:
    """Every text the status message had: as posted, then as updated."""
    posted = [str(c.args.get("text", "")) for c in h.slack.calls("chat.postMessage")]
    updated = [str(c.args.get("text", "")) for c in h.slack.calls("chat.update")]
    return [t for t in posted + updated if "accepted the edit" in t]


@pytest.mark.usefixtures("v3_without_tasks")
async def test_slack_an_edit_without_a_task_is_verified(tmp_path: Path) -> None:
    async with harness(tmp_path, task_seconds=0.5) as h:
        card = await h.propose({"vpnConnName": "no-task-in-slack"})
        await h.click("approve_change", card, APPROVER)
        final = await h.wait_thread_text(card, "Verified")
        assert "succeeded in" in final
        assert "no task" in final
        assert "every proposed value is live" in final
        assert "succeeded" in card_text(h.card_now(card))
        texts = status_texts(h)
        assert "succeeded (no task: read from the connection)" in texts[-1], texts
        assert not any("task `" in t or "task running" in t or "task succeeded" in t for t in texts), texts
        assert h.sim.state.received(TASK) == 1
        assert h.sim.state.connection(SEED_CONN)["vpnConnName"] == "no-task-in-slack"


@pytest.mark.usefixtures("v3_without_tasks")
async def test_slack_a_failed_edit_without_a_task_is_not_reported_succeeded(tmp_path: Path) -> None:
    options = {"vpnbot_task_deadline": "1.5s", "vpnbot_cloud_timeout": "1s", "vpnbot_settle_window": "1s"}
    async with harness(tmp_path, task_seconds=0.3, **options) as h:
        h.sim.state.update_faults({"taskOutcome": "failed"})
        card = await h.propose({"vpnConnName": "fails-quietly"})
        await h.click("approve_change", card, APPROVER)
        final = await h.wait_thread_text(card, "did not take effect", seconds=20)
        assert "not live" in final
        assert "vpnConnName" in final
        replies = [str(m.get("text", "")) for m in h.thread(card)]
        assert not any("succeeded" in r or "Verified" in r for r in replies), replies
        assert any("No task by RequestId" in r for r in replies), replies
        assert "failed" in card_text(h.card_now(card))
        assert h.sim.state.connection(SEED_CONN)["vpnConnName"] != "fails-quietly"


@pytest.mark.usefixtures("v3_without_tasks")
async def test_slack_a_restarted_bot_settles_an_edit_without_a_task(tmp_path: Path) -> None:
    async with harness(tmp_path, task_seconds=2.0) as h:
        card = await h.propose({"vpnConnName": "survives-without-task"})
        await h.click("approve_change", card, APPROVER)
        await h.wait_thread_text(card, "accepted the edit")
        async with asyncio.timeout(10):
            while h.sim.state.received(TASK) < 1:  # the service was asked, and knows no task
                await asyncio.sleep(0.01)
        await h.restart()
        final = await h.wait_thread_text(card, "Verified", seconds=15)
        assert "no task" in final
        assert h.sim.state.received(TASK) == 2  # once by each life of the bot


# --- vpnbot edit ---------------------------------------------------------------------------------------------------


@pytest.fixture
def cli_sim(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, v3_without_tasks: None) -> Iterator[ThreadedSim]:
    with threaded_sim(canary_world(task_seconds=0.3)) as running:
        monkeypatch.chdir(str(tmp_path))
        env = {
            "VPNBOT_CLOUD_API": "v3",
            "VPNBOT_CLOUD_ENDPOINT": running.v3_url,
            "TENCENTCLOUD_SECRET_ID": CANARY_SECRET_ID,
            "TENCENTCLOUD_SECRET_KEY": CANARY_SECRET_KEY,
            "VPNBOT_TASK_POLL_INITIAL": "0.05s",
            "VPNBOT_TASK_POLL_MAX": "0.2s",
            "VPNBOT_TASK_DEADLINE": "2s",
            "VPNBOT_CLOUD_TIMEOUT": "1s",
            "VPNBOT_SETTLE_WINDOW": "1s",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield running


def test_cli_an_edit_without_a_task_is_verified(cli_sim: ThreadedSim, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["edit", SEED_CONN, "--yes", "--json", "--set", "vpnConnName=cli-no-task"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert (report["outcome"], report["verified"], report["noTask"]) == ("succeeded", True, True)
    assert f"RequestId {report['taskId']}: {NO_TASK_WORDS}" in captured.err
    assert cli_sim.state.received(TASK) == 1
    assert cli_sim.call(lambda: cli_sim.state.connection(SEED_CONN))["vpnConnName"] == "cli-no-task"


def test_cli_a_failed_edit_without_a_task_exits_1(cli_sim: ThreadedSim, capsys: pytest.CaptureFixture[str]) -> None:
    cli_sim.faults(taskOutcome="failed")
    assert main(["edit", SEED_CONN, "--yes", "--json", "--set", "vpnConnName=cli-fails"]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["outcome"] == "not_applied"
    assert report["verified"] is False
    assert report["notLive"] == ["vpnConnName"]
    assert "no task" in captured.err
