"""Issue 10 over the real HTTP endpoint: the approver sees the whole change, every message is safe to post, outcomes
come from evidence, a lost final reply is shown again, and the requester always hears why nothing happened."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dialect
import pytest
from botharness import APPROVER, GROUP_MEMBER, REQUESTER, SEED_CONN, Harness, card_text, harness

from bot.sim.state import SimState
from bot.vpn.change import ChangeState

pytestmark = pytest.mark.usefixtures("cloud_api")

MANY = [f"10.200.{n}.0/24" for n in range(42)]
HOSTILE = "<!channel> re-enter your token at <https://evil.example|https://vpn.corp.example/login>"
HOSTILE_NAME = "<!here> &amp; <@U0APPROVER> *x*"
NEW_PSK = "trust-psk-Zq81-unique"


def _strings(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """Every (field name, string) in a payload, recursively."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _strings(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, key)


INPUT_FIELDS = {"initial_value", "value", "private_metadata", "action_id", "block_id", "callback_id"}
"""What Slack never renders as mrkdwn: a form's own text (shown as typed), ids and metadata."""
_ALLOWED_SEQUENCE = re.compile(
    r"^(@U0[A-Z]+|!date\^\d+\^[^|>]*\|[^>]*|#C0[A-Z0-9]+|https?://127\.0\.0\.1[^|>]*\|[^>]*)$"
)


def unescaped_sequences(h: Harness) -> list[str]:
    """Control sequences in every payload the bot sent to Slack that the bot did not mean to send."""
    found: list[str] = []
    known_users = {REQUESTER, APPROVER, GROUP_MEMBER}
    for call in h.slack.calls():
        for key, text in _strings(call.args):
            if key in INPUT_FIELDS:
                continue
            if "\u202e" in text or "\u200b" in text or "\x85" in text:
                found.append(f"{call.method}: hidden character in {text[:80]!r}")
            for sequence in re.findall(r"<([^<>]*)>", text):
                if not _ALLOWED_SEQUENCE.match(sequence):
                    found.append(f"{call.method}: <{sequence}>")
                elif sequence.startswith("@") and sequence[1:] not in known_users:
                    found.append(f"{call.method}: mention of {sequence}")
    return found


async def test_a_42_entry_list_is_shown_whole_before_approve_exists(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        card = await h.propose({"userGwCidrBlock": "\n".join(MANY)})
        first = h.slack.calls("chat.postMessage")[0]
        assert "approve_change" not in json.dumps(first.args["blocks"]), "Approve before the listing is in the thread"
        await h.slack.wait_until(
            lambda: "approve_change" in json.dumps(h.card_now(card).get("blocks", [])), what="the card's buttons"
        )
        thread = json.dumps(h.thread(card))
        for cidr in MANY:
            assert cidr in thread, cidr
        assert "10.100.1.0/24" in thread  # the removed one
        now = h.card_now(card)
        text = card_text(now)
        assert "42 entries" in text
        assert "1 entry" in text
        assert "every entry is listed in this card's thread" in text
        confirm = next(
            e["confirm"]["text"]["text"]
            for b in now["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == "approve_change"
        )
        assert "+42 −1" in confirm
        await h.command(f"status {_request_id(now)}")
        await h.slack.wait_for("response_url")
        status = h.ephemerals_text()
        assert "42 entries" in status
        assert '"table"' in status
        await h.click("approve_change", now, APPROVER)
        await h.wait_thread_text(card, "Verified")
        if dialect.current == "v2":
            assert sorted(h.connection()["destinationCidr"]) == sorted(MANY)


def _request_id(card: dict[str, Any]) -> str:
    match = re.search(r"chg-[a-z0-9]+", card_text(card))
    assert match
    return match.group(0)


async def test_a_small_list_change_shows_what_is_added_and_removed_on_the_card(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        card = await h.propose({"userGwCidrBlock": "10.100.1.0/24\n10.100.9.0/24"})
        table = next(b for b in card["blocks"] if b["type"] == "table")
        cells = json.dumps(table)
        assert "+ 10.100.9.0/24" in cells
        assert "none removed" in cells
        assert h.thread(card) == []  # nothing overflowed


async def test_hostile_strings_reach_slack_only_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original_finish = SimState._finish

    def finish_echoing(self: SimState, task: Any) -> None:
        original_finish(self, task)
        if task.outcome != "succeeded":
            task.message = f"{task.message} {HOSTILE} key={task.after.pre_shared_key}"

    monkeypatch.setattr(SimState, "_finish", finish_echoing)
    async with harness(tmp_path) as h:
        # A hostile name from the form, then withdrawn with a hostile reason.
        card = await h.propose({"vpnConnName": HOSTILE_NAME})
        await h.click("reject_change", card, REQUESTER)
        opened = (await h.slack.wait_for("views.open", count=2))[-1]
        await _submit_reason(h, opened, HOSTILE)
        await h.wait_thread_text(card, "withdrew")
        # A hostile reject reason from an approver.
        card = await h.propose({"vpnConnName": "second-try"})
        await h.click("reject_change", card, APPROVER)
        opened = (await h.slack.wait_for("views.open", count=4))[-1]
        await _submit_reason(h, opened, HOSTILE)
        await h.wait_thread_text(card, "rejected")
        # Names and status texts from the cloud, with hidden characters, through list, show and the form.
        h.sim.state.plant(SEED_CONN, name="evil\u202e<!channel>\u200b\x85")
        for words in ("list", f"show {SEED_CONN}", "status chg-nonexistent", "<!channel>"):
            await h.command(words)
        await h.slack.wait_for("response_url", count=3)
        view = await h.open_form()
        name_field = next(b for b in view["blocks"] if b.get("block_id") == "vpnConnName")
        assert name_field["element"]["initial_value"] == "evil\\u202e<!channel>\\u200b"  # NEL: white space, cut
        h.sim.state.plant(SEED_CONN, name="office-shanghai")
        if dialect.behaviour() != "v3":  # the documented API 3.0 edit leaves no task, so no task text to echo
            # A failed task whose text echoes the new key and a hostile link.
            h.sim.state.update_faults({"taskOutcome": "failed"})
            card = await h.propose({"vpnConnName": "clean-name", "preSharedKey": NEW_PSK})
            await h.click("approve_change", card, APPROVER)
            final = await h.wait_thread_text(card, "failed after")
            assert "&lt;!channel&gt;" in final
            assert "(redacted)" in final
            assert NEW_PSK not in json.dumps([c.args for c in h.slack.calls()])
            request = next(r for r in await h.bot.context.store.in_states({ChangeState.FAILED}))
            assert NEW_PSK not in request.outcome_message
        assert view is not None
        assert unescaped_sequences(h) == []


async def _submit_reason(h: Harness, opened: Any, reason: str) -> None:
    from bot.playground.slack_payloads import view_submission

    view = h.slack.view(opened.response["view"]["id"])
    user = REQUESTER if "Withdraw" in json.dumps(view) else APPROVER
    values = {"reason": {"reason": {"type": "plain_text_input", "value": reason}}}
    response = await h.post(view_submission(view, values, user_id=user, trigger_id=h.slack.new_trigger_id()))
    assert response.status_code == 200


async def test_an_edit_whose_answer_never_came_but_landed_is_reported_succeeded(tmp_path: Path) -> None:
    """VPNBOT_CLOUD_TIMEOUT 1 s, the cloud applies the edit after 2 s: unknown first, then succeeded from reads."""
    async with harness(tmp_path, vpnbot_cloud_timeout="1s", vpnbot_settle_window="20s") as h:
        card = await h.propose({"vpnConnName": "landed-late"})
        h.sim.state.update_faults({"latency": {"ModifyVpnConnEx": 2.0}})
        await h.click("approve_change", card, APPROVER)
        await h.wait_thread_text(card, "No answer to")
        final = await h.wait_thread_text(card, "The proposed values are live", seconds=20)
        assert "did not take effect" not in json.dumps(h.thread(card))
        assert final
        request = (await h.bot.context.store.in_states({ChangeState.SUCCEEDED}))[0]
        states = [t.to_state for t in request.history]
        assert ChangeState.UNKNOWN in states
        assert ChangeState.FAILED not in states


async def test_an_edit_that_never_lands_fails_only_after_the_settle_window(tmp_path: Path) -> None:
    async with harness(tmp_path, vpnbot_cloud_timeout="1s", vpnbot_settle_window="2s") as h:
        card = await h.propose({"vpnConnName": "never-lands"})
        h.sim.state.update_faults({"latency": {"ModifyVpnConnEx": 8.0}})  # lands after the verdict
        await h.click("approve_change", card, APPROVER)
        unknown_at = await h.wait_thread_text(card, "No answer to")
        assert unknown_at
        started = h.bot.context.clock()
        final = await h.wait_thread_text(card, "did not take effect", seconds=20)
        assert (h.bot.context.clock() - started).total_seconds() >= 1.5
        assert "vpnConnName" in final


async def test_a_final_reply_slack_refused_is_posted_again(tmp_path: Path) -> None:
    async with harness(tmp_path, vpnbot_request_ttl="8s") as h:
        card = await h.propose({"vpnConnName": "reply-lost"})
        await h.click("approve_change", card, APPROVER)
        await h.wait_thread_text(card, "accepted the edit")
        h.slack.fail("chat.postMessage", "internal_error", times=1)
        final = await h.wait_thread_text(card, "Verified", seconds=15)
        assert final


async def test_a_failed_views_open_tells_the_user(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.slack.fail("views.open", "expired_trigger_id")
        await h.command(f"edit {SEED_CONN}")
        await h.slack.wait_for("response_url")
        assert "could not open the edit form" in h.ephemerals_text()


async def test_when_the_card_and_the_direct_message_fail_the_requester_hears_it_where_they_asked(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path) as h:
        view = await h.open_form()
        h.slack.fail("chat.postMessage", "channel_not_found", times=2)
        await h.submit(view, {"vpnConnName": "nowhere"})
        await h.slack.wait_for("response_url")
        assert "could not post the change card" in h.ephemerals_text()


async def test_open_requests_per_requester_are_capped(tmp_path: Path) -> None:
    async with harness(tmp_path, vpnbot_max_open_per_user=1) as h:
        await h.propose({"vpnConnName": "first-open"})
        other = next(c["unVpnConnId"] for c in h.sim.state.connections() if c["unVpnConnId"] != SEED_CONN)
        view = await h.open_form(other)
        await h.submit(view, {"vpnConnName": "second-open"})
        await h.slack.wait_until(
            lambda: "VPNBOT_MAX_OPEN_PER_USER" in json.dumps([c.args for c in h.slack.calls("chat.postMessage")]),
            what="the cap's explanation",
        )
        assert len(await h.bot.context.store.in_states({ChangeState.PENDING})) == 1


async def test_removal_from_an_approver_group_counts_at_once(tmp_path: Path) -> None:
    async with harness(tmp_path, usergroups={"S0NETOPS": [GROUP_MEMBER]}) as h:
        card = await h.propose({"vpnConnName": "group-check"})
        await h.click("reject_change", card, GROUP_MEMBER)  # membership read (and cached) once
        await h.slack.wait_for("views.open", count=2)
        h.slack.usergroups["S0NETOPS"] = []
        await h.click("approve_change", card, GROUP_MEMBER)
        await h.slack.wait_until(lambda: "cannot approve" in h.ephemerals_text(), what="the refusal", timeout=5)
        assert h.sim.state.received(dialect.code("edit_action")) == 0


async def test_a_connection_whose_lists_exceed_a_slack_input_can_still_change_its_dh_group(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        remotes = tuple(f"172.16.{m}.0/24" for m in range(250))
        h.sim.state.plant(SEED_CONN, spd=tuple((f"10.{n}.0.0/24", remotes) for n in range(1, 5)))
        view = await h.open_form()
        kinds = {b.get("block_id"): b["type"] for b in view["blocks"]}
        assert kinds["userGwCidrBlock"] == "section"
        assert kinds["spdAcl"] == "section"
        assert kinds["IKESet.dhGroupName"] == "input"
        assert "too long for a Slack input" in json.dumps(view)
        card = await h.submit_and_wait(view, {"IKESet.dhGroupName": "group24"})
        assert "IKESet.dhGroupName" in card_text(card)
        assert "userGwCidrBlock" not in card_text(card)
        await h.click("approve_change", card, APPROVER)
        await h.wait_thread_text(card, "Verified")
        assert len(h.connection()["destinationCidr"]) == 250
