"""The Slack bot end to end: a real server on loopback, signed requests, the Slack stand-in, the simulator."""

from __future__ import annotations

import json
import time
from pathlib import Path

import dialect
import pytest
from botharness import (
    APPROVER,
    CHANNEL,
    GROUP_MEMBER,
    REQUESTER,
    SEED_CONN,
    SIGNING_SECRET,
    STRANGER,
    WAIT,
    card_text,
    harness,
)

from bot.playground.slack_payloads import (
    block_action,
    post_signed,
    sign_bad_signature,
    sign_stale,
    slash_command,
    view_submission,
)
from bot.vpn.change import ChangeState

MODIFY = "ModifyVpnConnEx"
NEW_PSK = "e2e-psk-Wq93-unique"

pytestmark = pytest.mark.usefixtures("cloud_api")


async def test_the_whole_happy_path(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        started = len(h.slack.calls())
        response = await h.command(f"edit {SEED_CONN}")
        assert response.status_code == 200
        (opened,) = await h.slack.wait_for("views.open", timeout=WAIT)
        assert opened.args["view"]["callback_id"] == "vpn_edit"
        (updated,) = await h.slack.wait_for("views.update", timeout=WAIT)
        view = h.slack.view(updated.response["view"]["id"])
        blocks = {b.get("block_id"): b for b in view["blocks"] if b["type"] == "input"}
        assert blocks["vpnConnName"]["element"]["initial_value"] == "office-shanghai"
        assert blocks["IKESet.dhGroupName"]["element"]["initial_option"]["value"] == "group2"
        assert blocks["preSharedKey"]["element"].get("initial_value") is None
        for block_id, block in blocks.items():
            assert block["element"]["action_id"] == block_id

        submitted = await h.submit(view, {"userGwCidrBlock": "10.100.2.0/24\n10.100.3.0/24", "preSharedKey": NEW_PSK})
        assert submitted.status_code == 200
        (card_call,) = await h.slack.wait_for("chat.postMessage", timeout=WAIT)
        assert card_call.args["channel"] == CHANNEL
        card = h.slack.message(CHANNEL, card_call.response["ts"])
        text = card_text(card)
        assert "userGwCidrBlock" in text
        assert "preSharedKey" in text
        assert "changed" in text
        assert NEW_PSK not in text
        assert f"<@{REQUESTER}>" in text
        assert "vpc-03vihbk9" in text
        assert "vpngw-kfldykuz" in text

        response = await h.click("approve_change", card, APPROVER)
        assert response.status_code == 200
        final = await h.wait_thread_text(card, "Verified: every proposed value is live")
        assert "succeeded in" in final
        assert h.sim.state.received(MODIFY) == 1
        item = h.connection()
        assert sorted(item["destinationCidr"]) == ["10.100.2.0/24", "10.100.3.0/24"]
        assert item["preSharedKey"] == NEW_PSK
        now = h.card_now(card)
        assert "approve_change" not in json.dumps(now["blocks"])
        assert f"approved by <@{APPROVER}>" in card_text(now)
        assert "succeeded" in card_text(now)
        thread = h.thread(card)
        assert len(thread) == 2
        assert "task" in thread[0]["text"]
        calls = h.slack.calls()[started:]
        # auth.test is Bolt's once-per-process token check, not part of a change.
        web_api = [c.method for c in calls if c.method not in ("response_url", "auth.test")]
        assert len(web_api) <= 8, web_api
        assert NEW_PSK not in json.dumps([c.args for c in calls])


@dialect.no_edit
async def test_errors_show_inline_and_nothing_is_sent(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        view = await h.open_form()
        response = await h.submit(
            view,
            {
                "vpnConnName": "x" * 61,
                "userGwCidrBlock": "10.100.2.1/24",
                "IKESet.ikeSaLifetimeSeconds": "30",
                "IKESet.localIdentity": "fqdn",
            },
        )
        assert response.status_code == 200
        answer = response.json()
        assert answer["response_action"] == "errors"
        assert set(answer["errors"]) == {
            "vpnConnName",
            "userGwCidrBlock",
            "IKESet.ikeSaLifetimeSeconds",
            "IKESet.localFqdnName",
        }
        assert "did you mean 10.100.2.0/24" in answer["errors"]["userGwCidrBlock"]
        assert h.slack.calls("chat.postMessage") == []
        assert h.sim.state.received(MODIFY) == 0


@dialect.no_edit
async def test_a_submission_that_changes_nothing_is_refused(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        view = await h.open_form()
        response = await h.submit(view, {"userGwCidrBlock": "10.100.1.0/24"})
        answer = response.json()
        assert answer["response_action"] == "errors"
        assert "Nothing to change" in answer["errors"]["vpnConnName"]
        assert h.slack.calls("chat.postMessage") == []


@dialect.no_edit
async def test_reject_with_a_reason(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        card = await h.propose({"vpnConnName": "to-be-rejected"})
        await h.click("reject_change", card, APPROVER)
        opened = await h.slack.wait_for("views.open", count=2, timeout=WAIT)
        reject_view = h.slack.view(opened[-1].response["view"]["id"])
        assert reject_view["callback_id"] == "reject_reason"
        values = {"reason": {"reason": {"type": "plain_text_input", "value": "not during business hours"}}}
        response = await h.post(view_submission(reject_view, values, user_id=APPROVER))
        assert response.status_code == 200
        reply = await h.wait_thread_text(card, "rejected this change")
        assert "not during business hours" in reply
        assert f"<@{REQUESTER}>" in reply
        now = card_text(h.card_now(card))
        assert "rejected" in now
        assert "not during business hours" in now
        assert "approve_change" not in now
        assert h.sim.state.received(MODIFY) == 0


@dialect.no_edit
@pytest.mark.parametrize(
    ("clicker", "expected"), [(STRANGER, "cannot approve"), (REQUESTER, "someone else must approve")]
)
async def test_who_may_not_approve_gets_an_ephemeral_and_nothing_changes(
    tmp_path: Path, clicker: str, expected: str
) -> None:
    async with harness(tmp_path) as h:
        card = await h.propose({"vpnConnName": "not-yet"})
        await h.click("approve_change", card, clicker)
        await h.slack.wait_for("response_url", timeout=WAIT)
        assert expected in h.ephemerals_text()
        assert "approve_change" in json.dumps(h.card_now(card)["blocks"])
        assert h.sim.state.received(MODIFY) == 0
        request = (await h.bot.context.store.in_states({ChangeState.PENDING}))[0]
        assert request.approver is None


async def test_self_approval_when_allowed_and_group_members_approve(tmp_path: Path) -> None:
    async with harness(tmp_path / "self", vpnbot_allow_self_approval=True, vpnbot_approvers=REQUESTER) as h:
        card = await h.propose({"vpnConnName": "self-approved"})
        await h.click("approve_change", card, REQUESTER)
        await h.wait_thread_text(card, "Verified")
    # A bot of its own: a state file of its own (sharing one, say the session's, with the other dialect's run
    # resumed that run's requests against a cloud and cards that were gone).
    async with harness(tmp_path / "group", vpnbot_approvers="S0NETOPS") as h:
        card = await h.propose({"vpnConnName": "group-approved"})
        await h.click("approve_change", card, GROUP_MEMBER)
        await h.wait_thread_text(card, "Verified")
        assert h.slack.calls("usergroups.users.list")


async def test_a_cloud_refusal_at_approval_is_shown_in_the_thread(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        card = await h.propose({"vpnConnName": "idc-beijing-1"})  # another connection of the VPC has that name
        await h.click("approve_change", card, APPROVER)
        reply = await h.wait_thread_text(card, "refused")
        assert dialect.code("name_taken") in reply
        assert "failed" in card_text(h.card_now(card))
        assert h.sim.state.received(MODIFY) == 1


async def test_an_edit_refused_for_the_rate_limit_is_sent_again_and_succeeds(tmp_path: Path) -> None:
    """Over the limit, the service did nothing: the one edit vpnbot ever sends twice."""
    async with harness(tmp_path) as h:
        card = await h.propose({"IKESet.dhGroupName": "group5"})
        h.sim.state.update_faults({"overQuota": {MODIFY: 1}})
        await h.click("approve_change", card, APPROVER)
        await h.wait_thread_text(card, "Verified: every proposed value is live", seconds=20)
        assert h.sim.state.received(MODIFY) == 2
        assert dialect.code("over_quota") not in json.dumps(h.thread(card))


async def test_a_failed_task_reports_the_clouds_words(tmp_path: Path) -> None:
    """With a task, the cloud's words; with none (API 3.0's documented edit), the connection's evidence: the values
    never went live, so the edit did not take effect."""
    short = {"vpnbot_task_deadline": "4s", "vpnbot_cloud_timeout": "1s", "vpnbot_settle_window": "1s"}
    async with harness(tmp_path, **short) as h:  # the deadline passes after the settle window: a conclusion
        h.sim.state.update_faults({"taskOutcome": "failed"})
        card = await h.propose({"IPsecSet.pfsDhGroup": "dh-group2"})
        await h.click("approve_change", card, APPROVER)
        if dialect.behaviour() == "v3":
            reply = await h.wait_thread_text(card, "did not take effect", seconds=30)
        else:
            reply = await h.wait_thread_text(card, "failed after")
            assert "the cloud gave no reason" not in reply
        assert "failed" in card_text(h.card_now(card))
        assert h.connection()["IPsecSet"]["pfsDhGroup"] == "dh-group14"  # as it was


async def test_a_restarted_bot_finishes_the_thread(tmp_path: Path) -> None:
    async with harness(tmp_path, task_seconds=2.5) as h:
        card = await h.propose({"vpnConnName": "survives-restart"})
        await h.click("approve_change", card, APPROVER)
        await h.wait_thread_text(card, "running")
        (request,) = await h.bot.context.store.in_states({ChangeState.RUNNING})
        assert request.task_id is not None
        # Whether the task ends while the bot is down or after it is back (a busy machine decides), the bot that
        # starts again must finish the thread: read the state before the restart, not after.
        await h.restart()
        final = await h.wait_thread_text(card, "Verified: every proposed value is live", seconds=20)
        assert "succeeded" in final
        assert h.sim.state.received(MODIFY) == 1
        assert len(h.thread(card)) == 2, [m["text"] for m in h.thread(card)]
        assert h.connection()["vpnConnName"] == "survives-restart"


@dialect.no_edit
async def test_a_429_from_slack_is_retried(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.slack.rate_limit("chat.postMessage", times=1, retry_after=0)
        card = await h.propose({"vpnConnName": "after-429"})
        assert "after-429" in card_text(card)
        assert len(h.slack.rate_limited_calls) == 1


@dialect.local_only
async def test_bad_signatures_and_stale_timestamps_get_401(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        body = slash_command(f"edit {SEED_CONN}", trigger_id=h.slack.new_trigger_id())
        for headers in (sign_bad_signature(body, SIGNING_SECRET), sign_stale(body, SIGNING_SECRET)):
            response = await post_signed(h.url, body, SIGNING_SECRET, headers=headers, client=h.http)
            assert response.status_code == 401
        assert h.slack.calls() == []


@dialect.no_edit
async def test_one_open_change_per_connection(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.propose({"vpnConnName": "first"})
        opens = len(h.slack.calls("views.open"))
        await h.command(f"edit {SEED_CONN}")
        await h.slack.wait_for("response_url", timeout=WAIT)
        assert "already has an open change" in h.ephemerals_text()
        assert len(h.slack.calls("views.open")) == opens


@dialect.no_edit
async def test_help_list_show_status(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        response = await h.command("help")
        assert "/vpn edit" in response.text
        response = await h.command("frobnicate")
        assert "don't know" in response.text
        await h.command("list vpc-03vihbk9")
        await h.command(f"show {SEED_CONN}")
        replies = await h.slack.wait_for("response_url", count=2, timeout=WAIT)
        # Answered after their acks, each when its turn comes: in either order.
        listing, details = sorted(
            (json.dumps(r.args) for r in replies), key=lambda text: "VPN connection(s)" not in text
        )
        assert SEED_CONN in listing
        assert "edit_connection" in listing
        assert "IKESet.dhGroupName" in details
        stored_psk = h.connection()["preSharedKey"]
        assert stored_psk not in details
        card = await h.propose({"vpnConnName": "status-check"})
        request = (await h.bot.context.store.in_states({ChangeState.PENDING}))[0]
        await h.command(f"status {request.id}")
        replies = await h.slack.wait_for("response_url", count=3, timeout=WAIT)
        assert "pending" in json.dumps(replies[-1].args)
        assert card["ts"]


@dialect.no_edit
async def test_the_edit_modal_opens_at_once_even_when_the_cloud_is_slow(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.sim.state.update_faults({"latency": {"DescribeVpnConn": 2.0}})
        started = time.time()
        await h.command(f"edit {SEED_CONN}")
        (opened,) = await h.slack.wait_for("views.open", timeout=10)
        # What proves it did not wait for the cloud (not a bound tight enough to trip on a busy machine): the view
        # opened is the loading view, without the form (that comes with views.update once the cloud answers), and
        # Slack took the trigger, which lives 3 s.
        assert opened.response["ok"] is True
        assert not [b for b in opened.args["view"]["blocks"] if b.get("type") == "input"]
        assert opened.at - started < 3.0
        (updated,) = await h.slack.wait_for("views.update", timeout=15)
        assert updated.response["ok"] is True


@dialect.no_edit
async def test_a_cloud_error_while_loading_replaces_the_form(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.command("edit vpnx-notthere")
        (updated,) = await h.slack.wait_for("views.update", timeout=WAIT)
        assert "NotFound" in json.dumps(updated.args["view"])


@dialect.no_edit
async def test_cards_go_to_the_approval_channel(tmp_path: Path) -> None:
    async with harness(tmp_path, vpnbot_approval_channel="C0APPROVALS") as h:
        view = await h.open_form()
        await h.submit(view, {"vpnConnName": "elsewhere"})
        (card_call,) = await h.slack.wait_for("chat.postMessage", timeout=WAIT)
        assert card_call.args["channel"] == "C0APPROVALS"


@dialect.no_edit
async def test_an_unanswered_card_expires_and_a_late_click_is_refused(tmp_path: Path) -> None:
    async with harness(tmp_path, vpnbot_request_ttl="1s") as h:
        card = await h.propose({"vpnConnName": "too-late"})
        await h.slack.wait_until(lambda: "expired" in card_text(h.card_now(card)), timeout=10, what="the expired card")
        assert "approve_change" not in json.dumps(h.card_now(card)["blocks"])
        message = h.card_now(card)
        body_message = {**message, "blocks": card["blocks"]}  # a click from a client still showing the old card
        click = block_action(
            "approve_change",
            user_id=APPROVER,
            channel_id=CHANNEL,
            message=body_message,
            response_url=h.slack.new_response_url(),
        )
        await h.post(click)
        await h.slack.wait_for("response_url", timeout=WAIT)
        assert "expired" in h.ephemerals_text()
        assert h.sim.state.received(MODIFY) == 0


@dialect.local_only
async def test_list_needs_a_vpc_or_gateway_id(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.command("list office")
        (reply,) = await h.slack.wait_for("response_url", timeout=WAIT)
        assert "neither a VPC id" in json.dumps(reply.args)
        assert h.sim.state.received("DescribeVpnConn") == 0
