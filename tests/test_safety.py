"""Safe under faults: exactly-once approval, approval bound to what was seen, withdrawal, and a flaky cloud."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import dialect
import pytest
from botharness import APPROVER, CHANNEL, GROUP_MEMBER, REQUESTER, SEED_CONN, SIGNING_SECRET, card_text, harness
from pydantic import SecretStr

from bot.playground.slack_payloads import block_action, post_signed, sign, view_submission
from bot.sim import DEMO_SECRET_ID, DEMO_SECRET_KEY
from bot.slack.context import ApproverPolicy
from bot.tencent import Credentials, TaskFollower, make_client
from bot.vpn.change import ChangeState
from bot.vpn.edit import propose

MODIFY = "ModifyVpnConnEx"

pytestmark = pytest.mark.usefixtures("cloud_api")


async def test_concurrent_clicks_and_slack_retries_send_exactly_one_edit(tmp_path: Path) -> None:
    async with harness(tmp_path, task_seconds=0.5) as h:
        ctx = h.bot.context
        # Group membership read afresh on every click (usergroups.users.list): clicks overlap between the check of
        # who clicked and the claim, which is what the atomic claim must survive.
        ctx.approvers = ApproverPolicy(h.settings.vpnbot_approvers, ctx.client, cache_seconds=0)
        card = await h.propose({"IKESet.dhGroupName": "group5"})
        bodies: list[tuple[bytes, dict[str, str]]] = []
        for clicker in [GROUP_MEMBER] * 15 + [APPROVER] * 5:
            body = block_action(
                "approve_change",
                user_id=clicker,
                channel_id=CHANNEL,
                message=card,
                response_url=h.slack.new_response_url(),
            )
            bodies.append((body, sign(body, SIGNING_SECRET)))
        retried = bodies[0][0]
        for attempt in range(1, 6):  # Slack re-sends the same request with X-Slack-Retry-Num when the ack is slow
            headers = {
                **sign(retried, SIGNING_SECRET),
                "X-Slack-Retry-Num": str(attempt),
                "X-Slack-Retry-Reason": "http_timeout",
            }
            bodies.append((retried, headers))

        answers = await asyncio.gather(
            *(post_signed(h.url, body, SIGNING_SECRET, headers=headers, client=h.http) for body, headers in bodies)
        )
        assert [a.status_code for a in answers] == [200] * len(bodies)
        await h.wait_thread_text(card, "Verified")
        assert h.sim.state.received(MODIFY) == 1
        request = (await h.bot.context.store.in_states({ChangeState.SUCCEEDED}))[0]
        refusals = await h.slack.wait_for("response_url", count=len(bodies) - 1)
        winner = f"<@{request.approver}>"
        for refusal in refusals:
            text = str(refusal.args.get("text", ""))
            assert "already" in text
            assert winner in text
            assert re.search(r"<!date\^\d+\^", text)
        history = [(t.from_state, t.to_state) for t in request.history]
        assert history.count((ChangeState.PENDING, ChangeState.APPROVED)) == 1


async def test_a_card_whose_connection_changed_is_stale_and_sends_nothing(tmp_path: Path) -> None:
    async with harness(tmp_path, task_seconds=0.1) as h:
        card = await h.propose({"vpnConnName": "from-the-card"})
        # Someone edits the connection in the console meanwhile.
        credentials = Credentials(DEMO_SECRET_ID, SecretStr(DEMO_SECRET_KEY))
        async with make_client(dialect.current, credentials, endpoint=dialect.endpoint(h.sim)) as console:
            current = await console.describe_vpn_conn(SEED_CONN)
            task = await console.modify_vpn_conn(
                current, propose(current.settings, {"IPsecSet.pfsDhGroup": "dh-group24"})
            )
            await TaskFollower(console.task_status, initial_interval=0.05, deadline=5).follow(task)
        await h.click("approve_change", card, APPROVER)
        reply = await h.wait_thread_text(card, "changed since this card was made")
        assert "vpnConnName → from-the-card" in reply
        assert h.sim.state.received(MODIFY) == 1  # the console's edit only
        now = h.card_now(card)
        assert "stale" in card_text(now)
        assert "review_again" in json.dumps(now["blocks"])
        assert "approve_change" not in json.dumps(now["blocks"])
        assert h.connection()["vpnConnName"] == "office-shanghai"

        opens = len(h.slack.calls("views.open"))
        await h.click("review_again", card, REQUESTER)
        updates = await h.slack.wait_for("views.update", count=2)
        assert len(h.slack.calls("views.open")) == opens + 1
        fresh = json.dumps(updates[-1].args["view"])
        assert "dh-group24" in fresh


@dialect.no_edit
async def test_the_requester_can_withdraw_a_pending_card(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        card = await h.propose({"vpnConnName": "never-mind"})
        await h.click("reject_change", card, REQUESTER)
        opened = await h.slack.wait_for("views.open", count=2)
        view = h.slack.view(opened[-1].response["view"]["id"])
        assert "Withdraw" in json.dumps(view["title"])
        await h.post(
            view_submission(
                view, {"reason": {"reason": {"type": "plain_text_input", "value": None}}}, user_id=REQUESTER
            )
        )
        await h.wait_thread_text(card, "withdrew this change")
        assert "withdrawn" in card_text(h.card_now(card))
        request = (await h.bot.context.store.in_states({ChangeState.CANCELLED}))[0]
        assert request.decider == REQUESTER
        assert await h.bot.context.store.open_request_for(SEED_CONN) is None
        # A late Approve from a client still showing the old card is refused.
        await h.post(
            block_action(
                "approve_change",
                user_id=APPROVER,
                channel_id=CHANNEL,
                message=card,
                response_url=h.slack.new_response_url(),
            )
        )
        await h.slack.wait_for("response_url")
        assert "withdrawn" in h.ephemerals_text()
        assert h.sim.state.received(MODIFY) == 0


@dialect.local_only  # the modal opens before the cloud is asked; test_slack_e2e reads slowly in every dialect
async def test_the_modal_opens_within_3s_while_the_cloud_takes_10s(tmp_path: Path) -> None:
    async with harness(tmp_path, vpnbot_cloud_timeout="15s") as h:
        h.sim.state.update_faults({"latency": {"DescribeVpnConn": 10.0}})
        sent = time.time()
        await h.command(f"edit {SEED_CONN}")
        (opened,) = await h.slack.wait_for("views.open")
        assert opened.response["ok"] is True
        assert opened.at - sent < 3.0
        (updated,) = await h.slack.wait_for("views.update", timeout=20)
        assert updated.response["ok"] is True
        assert updated.at - sent >= 10.0
        assert "IKESet.dhGroupName" in json.dumps(updated.args["view"])


async def test_following_rides_out_5xx_timeouts_and_over_quota(tmp_path: Path) -> None:
    async with harness(tmp_path, task_seconds=2.0, vpnbot_cloud_timeout="0.3s") as h:
        card = await h.propose({"IPsecSet.ipsecSaLifetimeSeconds": "7200"})
        faults = {
            "http5xx": {"DescribeVpcTaskResult": 3},
            "overQuota": {"DescribeVpcTaskResult": 3},
            "latency": {"DescribeVpcTaskResult": 1.0},
        }
        h.sim.state.update_faults(faults)
        await h.click("approve_change", card, APPROVER)
        await h.wait_thread_text(card, "running")
        async with asyncio.timeout(10):
            while h.sim.state.received("DescribeVpcTaskResult") < 4:
                await asyncio.sleep(0.05)
        h.sim.state.update_faults({"latency": {"DescribeVpcTaskResult": 0.0}})
        final = await h.wait_thread_text(card, "Verified", seconds=20)
        assert "succeeded in" in final
        answers = [code for action, code in h.sim.state.journal if action == "DescribeVpcTaskResult"]
        assert "HTTP 503" in answers
        assert dialect.code("over_quota") in answers
        assert h.sim.state.received(MODIFY) == 1
        ipsec = h.connection().get("IPsecSet") or h.connection()["IPSECArr"]
        assert str(ipsec["ipsecSaLifetimeSeconds"]) == "7200"
