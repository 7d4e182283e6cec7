"""Crash recovery with real processes: ``vpnbot serve`` is SIGKILLed at each point of a change and started again on
the same state file, while the Slack stand-in and the cloud simulator (in this process) live on, as Slack and
Tencent Cloud would. Nothing is mocked: the kill lands wherever the bot is, and only what it persisted survives.

The points, in the order of a change:

1. the card is posted (``pending``): the same card still works after the restart; killed after Slack posted it but
   before the bot saved its ``ts``, the request is cancelled at start (its card could never show the change) and
   the requester is told, so nothing runs unseen and the connection is free for a new request;
2. the approval is claimed but ``ModifyVpnConnEx`` not sent (``approved``): nothing is ever sent, the request fails
   saying so, and the card offers Review again;
3. ``ModifyVpnConnEx`` is on the wire with no answer (``submitting``): it is never re-sent; the request becomes
   ``unknown`` and is settled by reading the connection, whether the edit landed or not;
4. the task runs (``running``): it is followed to its end in the same thread, with one status message, also when
   the bot died before saving that message's ``ts``;
5. the end is saved (``succeeded``) but not yet shown: the restarted bot redraws the card and the status message and
   posts the final reply.

Slack's slow answers are made with ``HoldingSlackStandin.hold`` (Slack did the work, the bot dies before it hears),
the cloud's with the simulator's latency fault, so each kill lands at a known point.

The request's state is read from the state file only while the bot is dead.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import dialect
import httpx
import pytest
from botprocess import (
    APPROVER,
    CHANNEL,
    REQUESTER,
    SEED_CONN,
    BotProcess,
    HoldingSlackStandin,
    SlackClient,
    bot_env,
    running,
)

from bot.sim import SimServer, SimState, load_world
from bot.slack.records import SlackRecord, end_key
from bot.store import Store
from bot.vpn.change import ChangeRequest, ChangeState, EndKind

MODIFY = "ModifyVpnConnEx"
DESCRIBE = "DescribeVpnConn"
VERIFIED = "Verified: every proposed value is live"
POLL = "DescribeVpcTaskResult"
LIVE = "The proposed values are live"
NOT_LIVE = "did not take effect"
STATUS = "Tencent Cloud accepted the edit"  # the thread's status message, updated in place while the task runs

pytestmark = pytest.mark.usefixtures("cloud_api")


def ended(request: ChangeRequest) -> str:
    """How the final reply names the end: the task's, or (API 3.0 with no task) the edit's, read from the connection."""
    return "The edit succeeded in" if dialect.behaviour() == "v3" else f"Task {request.task_id} succeeded"


@dataclass
class Rig:
    sim: SimServer
    slack: HoldingSlackStandin
    bot: BotProcess
    client: SlackClient
    state_path: Path

    async def stored(self, request_id: str) -> ChangeRequest:
        """The request as the state file holds it; only while the bot is dead (no second writer)."""
        assert not self.bot.alive, "read the state file only while the bot is dead"
        store = Store.open(self.state_path)
        try:
            request = await store.get(request_id)
        finally:
            await store.aclose()
        assert request is not None, request_id
        return request

    async def slack_record(self, request_id: str, *, read_only: bool = False) -> SlackRecord:
        """Where the state file says the request is shown in Slack (its card, its status message, the end shown);
        only while the bot is dead, or ``read_only`` (the file opened as ``vpnbot audit`` does, writing nothing)."""
        assert read_only or not self.bot.alive, "read the state file only while the bot is dead"
        store = Store.open(self.state_path, read_only=read_only)
        try:
            return SlackRecord.from_json(await store.front_record(request_id))
        finally:
            await store.aclose()

    async def eventually(self, condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Poll ``condition`` (e.g. on the simulator, which notifies nobody) until it holds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {what} after {timeout} s; bot log:\n{self.bot.log()[-4000:]}")
            await asyncio.sleep(0.005)

    def name(self) -> str:
        return str(self.sim.state.connection(SEED_CONN)["vpnConnName"])

    def modify_answers(self) -> list[str]:
        """The codes the simulator answered ``ModifyVpnConnEx`` with (whether anyone was still listening)."""
        return [code for action, code in self.sim.state.journal if action == dialect.code("edit_action")]


@asynccontextmanager
async def rig(tmp_path: Path, *, task_seconds: float, **env: str) -> AsyncIterator[Rig]:
    world = dialect.world(load_world(None), task_seconds=task_seconds)
    state_path = tmp_path / "state.sqlite"
    async with SimServer(SimState(world)) as sim, HoldingSlackStandin() as slack, httpx.AsyncClient() as http:
        async with running(bot_env(slack, sim, state_path, **env), tmp_path) as bot:
            yield Rig(sim, slack, bot, SlackClient(slack, bot, http), state_path)
        assert slack.invalid == [], slack.invalid
        assert slack.unrendered == [], slack.unrendered


def path_of(request: ChangeRequest) -> list[str]:
    return [str(t.to_state) for t in request.history]


@dialect.local_only  # killed and restarted before any cloud call; the approval after it is an ordinary one
@pytest.mark.parametrize("at", ["once-it-is-saved", "before-its-ts-is-saved"])
async def test_a_card_posted_before_the_crash(tmp_path: Path, at: str) -> None:
    async with rig(tmp_path, task_seconds=0.5) as r:
        if at == "before-its-ts-is-saved":
            r.slack.hold("chat.postMessage", 2)  # Slack posts the card, its answer is slow: the bot dies waiting
        request_id, card = await r.client.propose({"vpnConnName": "after-crash-pending"})
        if at == "once-it-is-saved":
            await r.client.card_saved(request_id)
        await r.bot.killed()
        request = await r.stored(request_id)
        assert request.state is ChangeState.PENDING
        record = await r.slack_record(request_id)

        await r.bot.start()
        await r.client.click("approve_change", card, APPROVER)
        if at == "once-it-is-saved":
            assert record.card_ts == card["ts"]
            final = await r.client.wait_thread(card, VERIFIED)
        else:
            # The card is in Slack but the bot never learnt its ts, so it could never show the change's progress
            # on it: the request is cancelled at start (freeing the connection), and the requester is told.
            assert record.card_ts is None
            refused = await r.slack.wait_for("response_url", timeout=10)
            assert "already withdrawn" in json.dumps(refused[-1].args)
            told = [c for c in r.slack.calls("chat.postMessage") if c.args.get("channel") == REQUESTER]
            assert len(told) == 1, told
            assert "nothing was sent" in told[0].args["text"]
            assert request_id in told[0].args["text"]
            assert r.sim.state.received(MODIFY) == 0
            await r.bot.killed()
            assert (await r.stored(request_id)).state is ChangeState.CANCELLED
            await r.bot.start()
            request_id, card = await r.client.propose({"vpnConnName": "after-crash-pending"})
            await r.client.card_saved(request_id)
            await r.client.click("approve_change", card, APPROVER)
            final = await r.client.wait_thread(card, VERIFIED)

        assert "succeeded" in final
        assert r.sim.state.received(MODIFY) == 1
        assert r.name() == "after-crash-pending"
        assert "approve_change" not in r.client.buttons(card)
        assert len(r.client.thread(card)) == 2, r.client.thread(card)
        await r.bot.killed()
        request = await r.stored(request_id)
        assert request.state is ChangeState.SUCCEEDED
        assert request.approver == APPROVER


@dialect.no_edit
async def test_an_approval_claimed_but_not_sent_is_failed_and_never_sent(tmp_path: Path) -> None:
    async with rig(tmp_path, task_seconds=0.5) as r:
        request_id, card = await r.client.propose({"vpnConnName": "never-sent"})
        await r.client.card_saved(request_id)
        reads = r.sim.state.received(DESCRIBE)
        # Approval claims `approved`, then re-reads the connection: hold that read, and kill the bot in it.
        r.sim.state.update_faults({"latency": {DESCRIBE: 3}})
        await r.client.click("approve_change", card, APPROVER)
        await r.eventually(lambda: r.sim.state.received(DESCRIBE) > reads, "re-read at approval")
        await r.bot.killed()
        request = await r.stored(request_id)
        assert request.state is ChangeState.APPROVED
        assert request.approver == APPROVER

        r.sim.state.update_faults({"latency": {DESCRIBE: 0}})
        await r.bot.start()
        reply = await r.client.wait_thread(card, "nothing was sent")
        assert "Review again" in reply
        assert r.client.buttons(card) == ["review_again"]
        assert "failed" in json.dumps(r.client.card_now(card)["blocks"])
        await asyncio.sleep(1.0)  # time for anything the restarted bot might still send
        assert r.sim.state.received(MODIFY) == 0
        assert r.name() != "never-sent"

        await r.bot.killed()
        request = await r.stored(request_id)
        assert request.state is ChangeState.FAILED
        assert "nothing was sent" in request.outcome_message
        assert path_of(request) == ["approved", "failed"]


@pytest.mark.parametrize("landed", [True, False], ids=["the-edit-landed", "the-edit-was-refused"])
async def test_an_edit_sent_without_an_answer_is_reconciled_never_resent(tmp_path: Path, landed: bool) -> None:
    async with rig(tmp_path, task_seconds=1.0) as r:
        request_id, card = await r.client.propose({"vpnConnName": "in-flight"})
        await r.client.card_saved(request_id)
        # Hold the edit at the cloud for 2 s; when it must not land, the held request answers 4400 afterwards.
        faults: dict[str, object] = {"latency": {MODIFY: 2}}
        if not landed:
            faults["overQuota"] = {MODIFY: 1}
        r.sim.state.update_faults(faults)
        await r.client.click("approve_change", card, APPROVER)
        await r.eventually(lambda: r.sim.state.received(MODIFY) == 1, "ModifyVpnConnEx at the cloud")
        await r.bot.killed()
        assert r.modify_answers() == [], "the bot was killed after the cloud answered"
        assert (await r.stored(request_id)).state is ChangeState.SUBMITTING

        await r.bot.start()  # at once: the edit is still held at the cloud
        final = await r.client.wait_thread(card, (LIVE, NOT_LIVE))
        if landed:
            assert LIVE in final
            assert VERIFIED in final
            assert r.name() == "in-flight"
            assert r.modify_answers() == ["0"]
            assert "review_again" not in r.client.buttons(card)
        else:
            assert NOT_LIVE in final
            assert "vpnConnName" in final
            assert "Review again" in final
            assert r.name() != "in-flight"
            assert r.modify_answers() == [dialect.code("over_quota")]
            assert r.client.buttons(card) == ["review_again"]
        thread = r.client.thread(card)
        assert len(thread) == 2, thread
        assert "stopped while sending this change" in thread[0]
        await asyncio.sleep(0.5)
        assert r.sim.state.received(MODIFY) == 1

        await r.bot.killed()
        request = await r.stored(request_id)
        assert path_of(request) == ["approved", "submitting", "unknown", "succeeded" if landed else "failed"]
        if not landed:
            assert request.not_live == ["vpnConnName"]


@pytest.mark.parametrize("at", ["while-it-is-polled", "before-its-ts-is-saved"])
async def test_a_running_task_is_followed_to_its_end_after_the_crash(tmp_path: Path, at: str) -> None:
    async with rig(tmp_path, task_seconds=2.5) as r:
        request_id, card = await r.client.propose({"vpnConnName": "mid-task"})
        await r.client.card_saved(request_id)
        if at == "before-its-ts-is-saved":
            r.slack.hold("chat.postMessage", 2)  # the next post is the status message: its answer is slow
        await r.client.click("approve_change", card, APPROVER)
        await r.client.wait_thread(card, STATUS)
        if at == "while-it-is-polled":  # the status message's ts is saved before the task is first polled
            await r.eventually(lambda: r.sim.state.received(POLL) > 0, "a poll of the task")
        await r.bot.killed()
        request = await r.stored(request_id)
        assert request.state is ChangeState.RUNNING
        assert request.task_id is not None
        record = await r.slack_record(request_id)
        assert r.name() != "mid-task", "the task ended before the kill: nothing was left to follow"
        status = r.slack.calls("chat.postMessage")[-1]
        assert STATUS in status.args["text"]

        await r.bot.start()
        final = await r.client.wait_thread(card, VERIFIED)
        assert ended(request) in final
        thread = r.client.thread(card)
        assert len([text for text in thread if STATUS in text]) == 1, thread
        assert len(thread) == 2, thread
        assert r.sim.state.received(MODIFY) == 1
        assert r.name() == "mid-task"
        shown = r.slack.message(CHANNEL, status.response["ts"])["text"]
        if at == "while-it-is-polled":
            assert record.progress_ts == status.response["ts"]
            assert "succeeded" in shown, "the restarted bot did not update the status message in place"
        else:  # stored as being posted: its ts is unknown, so it stays as it was, and no second one is posted
            assert record.progress_ts == ""
            assert "running" in shown

        await r.bot.killed()
        assert (await r.stored(request_id)).state is ChangeState.SUCCEEDED


# The restarted bot shows the saved end with no cloud call: one run for a task's end (API 2.0; API 3.0 with a task
# ends the same way) and one for API 3.0's end without a task, whose words differ.
@pytest.mark.parametrize("cloud_api", ["v2", "v3"], indirect=True)
async def test_an_end_saved_but_not_shown_is_shown_after_the_crash(tmp_path: Path) -> None:
    async with rig(tmp_path, task_seconds=1.0) as r:
        request_id, card = await r.client.propose({"vpnConnName": "just-ended"})
        await r.client.card_saved(request_id)
        await r.client.click("approve_change", card, APPROVER)
        await r.client.wait_thread(card, STATUS)
        updates = len(r.slack.calls("chat.update"))
        r.slack.hold("chat.update", 30)  # the next update is the card's at the end: Slack does it, the bot never hears
        await r.eventually(lambda: len(r.slack.calls("chat.update")) > updates, "the card's last update", timeout=30)
        await r.bot.killed()
        request = await r.stored(request_id)
        assert request.state is ChangeState.SUCCEEDED
        assert request.end is EndKind.TASK_SUCCEEDED or request.end is EndKind.APPLIED_NO_TASK
        assert (await r.slack_record(request_id)).shown_end == ""  # saved, not shown
        status = next(c for c in r.slack.calls("chat.postMessage") if STATUS in c.args["text"])
        assert "running" in r.slack.message(CHANNEL, status.response["ts"])["text"]
        assert not [text for text in r.client.thread(card) if VERIFIED in text]

        await r.bot.start()
        final = await r.client.wait_thread(card, VERIFIED)
        assert ended(request) in final
        thread = r.client.thread(card)
        assert len(thread) == 2, thread
        assert "succeeded" in r.slack.message(CHANNEL, status.response["ts"])["text"]
        assert "succeeded" in r.slack.message(CHANNEL, card["ts"])["text"]
        assert r.sim.state.received(MODIFY) == 1
        # The end is recorded as shown just after the reply is posted: wait for that (reading only), then make sure.
        shown_end = end_key(request)
        deadline = time.monotonic() + 10
        while (await r.slack_record(request_id, read_only=True)).shown_end != shown_end:
            assert time.monotonic() < deadline, f"the end was not recorded as shown:\n{r.bot.log()[-4000:]}"
            await asyncio.sleep(0.02)
        await r.bot.killed()
        assert (await r.slack_record(request_id)).shown_end == end_key(await r.stored(request_id))
