"""Attacks on the tunnel-aware changes (issue 13): secrets through the new paths (the peer's half, Tencent's
download, the key kept for a revert), Revert abuse, the crypto policy, a hostile cloud, and the watch under load
and on a full disk. End to end over real HTTP where the attack comes through Slack or the cloud; a pure function
directly where the fault is its own. A case marked ``xfail(strict=True)`` is a bug in a file this module's author
may not change: the reason names the file."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, closing
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botharness
import dialect
import httpx
import pytest
from botharness import (
    APPROVER,
    CHANNEL,
    GROUP_MEMBER,
    REQUESTER,
    SEED_CONN,
    STRANGER,
    WAIT,
    Harness,
    card_text,
    harness,
)
from items import connection as item_connection
from pydantic import SecretStr
from test_store_faults import fill, small_disk  # noqa: F401 - small_disk is a fixture used below

from bot.changes import PeerConfig, WatchEvent
from bot.changes.watching import Aftercare
from bot.cloud import open_cloud
from bot.config import Settings
from bot.playground.slack_payloads import block_action, view_submission
from bot.sim import DEMO_SECRET_ID, DEMO_SECRET_KEY, SimServer, SimState, World, load_world
from bot.sim import wire_v3 as sim_wire_v3
from bot.slack import tunnel
from bot.slack.runner import running_bot
from bot.store import Store, StoreUnavailableError
from bot.vpn.change import ChangeRequest, ChangeState
from bot.vpn.connection import SecretFingerprints
from bot.vpn.edit import propose
from bot.vpn.peer import PeerVendor, peer_config
from bot.vpn.redact import REDACTED, redact
from bot.vpn.watch import TunnelReading, Watch, WatchState

F = Callable[..., Any]


def _in_dialect(name: str) -> Callable[[F], F]:
    def mark(test: F) -> F:
        used: F = pytest.mark.usefixtures("cloud_api")(test)
        marked: F = pytest.mark.parametrize("cloud_api", [name], indirect=True)(used)
        return marked

    return mark


V2 = _in_dialect("v2")
"""An end-to-end case run under API 2.0 only: its subject is the same in every dialect."""
V3 = _in_dialect("v3")
"""An end-to-end case of API 3.0's own (Tencent's download, its NetStatus)."""
WATCH: dict[str, Any] = {"vpnbot_watch": "2s", "vpnbot_watch_interval": "0.1s"}
SEED_KEY = "sh-office-2019"  # the demo world's key of the seed connection
OTHER_CONN = "vpnx-b5n1r8kc"
DESCRIBE_V3 = "DescribeVpnConnections"
DOWNLOAD = "DownloadCustomerGatewayConfiguration"
MENTIONS = ("<!channel>", "<!here>", "<!everyone>", "<@U0EVIL>")


# --- helpers ------------------------------------------------------------------------------------------------------


def world_with(conns: Mapping[str, Mapping[str, Any]] | None = None, **top: Any) -> World:
    """The demo world with some connections' fields (``preSharedKey``, ``vpnConnName``, ``userGwName``) replaced;
    the peer mirrors each connection as the world file defines it, so the tunnel is up to begin with."""
    document = load_world(None).to_json()
    for item in document["vpnConnections"]:
        item.update((conns or {}).get(item["unVpnConnId"], {}))
    document.update(top)
    return World.model_validate(document)


def slack_everything(h: Harness) -> str:
    """Every Web API call and response_url post the bot made, arguments and Slack's answers, as one text."""
    return json.dumps([(c.method, c.args, c.response) for c in h.slack.calls()], ensure_ascii=False)


def slack_messages(h: Harness) -> str:
    """What the bot posted and updated as messages (not the forms, whose inputs Slack shows as plain text)."""
    return json.dumps([c.args for c in h.slack.calls() if not c.method.startswith("views.")], ensure_ascii=False)


def state_bytes(state: Path) -> bytes:
    return b"".join(
        p.read_bytes() for p in (state, *(state.with_name(state.name + s) for s in ("-wal", "-shm"))) if p.exists()
    )


async def request_of(h: Harness, card: dict[str, Any]) -> ChangeRequest:
    """The request a card's buttons carry, as stored."""
    for block in h.card_now(card).get("blocks", []):
        for element in block.get("elements", []) or []:
            if isinstance(element, dict) and element.get("action_id") in ("approve_change", "revert_change"):
                stored = await h.bot.context.store.get(str(element["value"]))
                assert stored is not None
                return stored
    raise AssertionError("the card carries no request id")


async def approved_and_live(h: Harness, card: dict[str, Any]) -> None:
    assert (await h.click("approve_change", card, APPROVER)).status_code == 200
    try:
        await h.wait_thread_text(card, "Verified: every proposed value is live", seconds=30)
    except TimeoutError:
        raise AssertionError(h.ephemerals_text()) from None


async def crafted_click(h: Harness, action_id: str, value: str, user_id: str) -> None:
    """A block action Slack never offered: ``value`` chosen by the clicker, on a message that has no such button."""
    body = block_action(
        action_id,
        value,
        user_id=user_id,
        channel_id=CHANNEL,
        message_ts="1700000000.000100",
        trigger_id=h.slack.new_trigger_id(),
        response_url=h.slack.new_response_url(),
    )
    assert (await h.post(body)).status_code == 200


async def revert_form(h: Harness, message: dict[str, Any], user_id: str = REQUESTER) -> dict[str, Any]:
    """Click Revert on ``message`` (a card or a thread reply): the form as filled."""
    before = len(h.slack.calls("views.update"))
    assert (await h.click("revert_change", message, user_id)).status_code == 200
    updates = await h.slack.wait_for("views.update", count=before + 1, timeout=WAIT)
    return h.slack.view(updates[-1].response["view"]["id"])


def view_text(view: Mapping[str, Any]) -> str:
    return json.dumps(view.get("blocks", []), ensure_ascii=False)


def new_key_request(conn_id: str, key: str = "hostile-Unit-Key", now: datetime | None = None) -> ChangeRequest:
    """A pending change of the key of a connection read from ``tests/items.py``."""
    conn = item_connection(unVpnConnId=conn_id)
    return ChangeRequest.from_proposal(
        conn,
        propose(conn.settings, {"preSharedKey": key}),
        requester=REQUESTER,
        now=now or datetime.now(UTC),
        ttl=timedelta(hours=1),
    )


@asynccontextmanager
async def world_harness(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch, **overrides: Any
) -> AsyncIterator[Harness]:
    """``botharness.harness`` on ``world`` instead of the demo world."""
    with monkeypatch.context() as patch:
        patch.setattr(botharness, "load_world", lambda _path: world)
        async with harness(tmp_path, **overrides) as h:
            patch.undo()
            yield h


# --- 1. secrets ---------------------------------------------------------------------------------------------------


@V3
async def test_tencents_download_after_a_change_that_keeps_the_key_never_shows_that_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The live key is in Tencent's download; for a change that leaves the key as it is, vpnbot held it only as a
    fingerprint, which finds a key only between delimiters: a key that begins with one, ``(k)``, went to Slack.
    Fixed in ``bot/changes/service.py`` (the download is cleaned of the live key read by value)."""
    keys = {SEED_CONN: "(canary-live-7q)", OTHER_CONN: "=canary-live-8r."}
    world = world_with({conn: {"preSharedKey": key} for conn, key in keys.items()})
    async with world_harness(tmp_path, world, monkeypatch, **WATCH, vpnbot_peer_vendor="cisco") as h:
        h.sim.state.renegotiate_seconds = 0.2
        for conn in keys:
            card = await h.propose({"IKESet.dhGroupName": "group14"}, conn=conn)
            await approved_and_live(h, card)
            await h.wait_thread_text(card, "The peer's half")
            thread = json.dumps(h.thread(card), ensure_ascii=False)
            assert "Tencent Cloud's configuration for cisco" in thread
            assert "crypto isakmp key (redacted) address" in thread  # shown, the key taken out
            await h.wait_thread_text(card, "at the end of the watch", seconds=20)
        shown = slack_everything(h) + h.ephemerals_text()
        for conn, key in keys.items():
            assert h.connection(conn)["preSharedKey"] == key  # really in the download: the key is still live
            assert key not in shown
            assert key.strip("()=.") not in shown


def test_redaction_by_value_holds_for_awkward_keys_and_texts() -> None:
    """The pending and old keys are taken out by value wherever they stand (regression: passes today)."""
    keys = ["a.b*c+?(x)|[y]^$\\1", "two words here", "ключ-Schlüssel-鍵", "k" * 128, '"quoted"']
    for key in keys:
        for text in (
            f"{key}",
            f"{key}\r\n{key}",
            f"pre-shared-key {key}\r\nend {key}",
            f"glued{key}glued",
            f"xx{key}{key}yy",
        ):
            assert key not in redact(text, [key]), (key, text)


@pytest.mark.parametrize(
    "text",
    [
        "crypto isakmp key K3Y address 1.2.3.4",
        "K3Y",
        "key K3Y\r\n",
        "a\r\nK3Y\r\nb K3Y",
        'secret = "K3Y"',
        "psk:K3Y,",
    ],
)
def test_redaction_by_fingerprint_finds_a_delimited_key(text: str) -> None:
    fingerprints = SecretFingerprints.random()
    assert "K3Y" not in redact(text, fingerprint=fingerprints.of("K3Y"), fingerprint_of=fingerprints.of)


@pytest.mark.parametrize("key", ["(s3cr3t)", "=s3cr3t", "'s3cr3t'", "[s3cr3t]", "s3cr3t"])
def test_redaction_by_fingerprint_finds_a_key_that_begins_with_a_delimiter_or_ends_a_sentence(key: str) -> None:
    fingerprints = SecretFingerprints.random()
    text = f"The pre-shared key {key} does not match. Key: {key}."
    assert key not in redact(text, fingerprint=fingerprints.of(key), fingerprint_of=fingerprints.of)


def test_redacting_a_one_character_key_does_not_spell_it_out() -> None:
    text = "crypto isakmp key e address 203.0.113.10\r\nencryption aes 256"
    cleaned = redact(text, ["e"])
    assert re.search(rf"\w{re.escape(REDACTED)}|{re.escape(REDACTED)}\w", cleaned) is None, cleaned


def test_redacting_a_hostile_download_takes_little_time() -> None:
    fingerprints = SecretFingerprints.random()
    text = "a " * (8 * 1024)  # 16 KiB
    started = time.monotonic()
    redact(text, fingerprint=fingerprints.of("not-there"), fingerprint_of=fingerprints.of)
    assert time.monotonic() - started < 0.5


# --- 2. Revert abuse ----------------------------------------------------------------------------------------------


async def rejected(h: Harness, card: dict[str, Any]) -> None:
    opens = len(h.slack.calls("views.open"))
    await h.click("reject_change", card, APPROVER)
    opened = await h.slack.wait_for("views.open", count=opens + 1, timeout=WAIT)
    view = h.slack.view(opened[-1].response["view"]["id"])
    values = {"reason": {"reason": {"type": "plain_text_input", "value": "no"}}}
    await h.post(view_submission(view, values, user_id=APPROVER))
    await h.wait_thread_text(card, "rejected this change")


def cards_in_channel(h: Harness, after: int) -> list[Any]:
    """The cards posted in the approval channel after the first ``after`` posts."""
    posts = h.slack.calls("chat.postMessage")[after:]
    return [c for c in posts if c.args.get("channel") == CHANNEL and not c.args.get("thread_ts")]


def revert_forms(h: Harness) -> list[dict[str, Any]]:
    """Every edit form filled as a revert so far."""
    views = [h.slack.view(c.response["view"]["id"]) for c in h.slack.calls("views.update")]
    return [v for v in views if "revert_note" in view_text(v)]


@V2
async def test_revert_is_refused_for_a_change_that_changed_nothing(tmp_path: Path) -> None:
    """Crafted Revert clicks, carrying the id of a pending, a rejected, a failed (nothing applied) and an unknown
    request: none opens a revert form."""
    async with harness(tmp_path, **WATCH) as h:
        pending = await h.propose({"vpnConnName": "still-pending"})
        pending_id = (await request_of(h, pending)).id
        await crafted_click(h, "revert_change", pending_id, REQUESTER)
        await h.slack.wait_until(
            lambda: "already has an open change" in h.ephemerals_text(), timeout=WAIT, what="the open change named"
        )
        await rejected(h, pending)

        h.sim.state.update_faults({"taskOutcome": "failed"})
        failed = await h.propose({"IKESet.dhGroupName": "group14"})
        failed_id = (await request_of(h, failed)).id
        await h.click("approve_change", failed, APPROVER)
        await h.wait_thread_text(failed, "failed after", seconds=30)
        h.sim.state.update_faults({"taskOutcome": None})
        stored = await h.bot.context.store.get(failed_id)
        assert stored is not None
        assert stored.state is ChangeState.FAILED
        assert "revert_change" not in json.dumps(h.card_now(failed))  # no button offered ...

        for request_id in (pending_id, failed_id):  # ... and none honoured when crafted
            before = len(h.slack.calls("views.update"))
            await crafted_click(h, "revert_change", request_id, REQUESTER)
            (update,) = (await h.slack.wait_for("views.update", count=before + 1, timeout=WAIT))[before:]
            shown = view_text(h.slack.view(update.response["view"]["id"]))
            assert "Cannot revert" in json.dumps(h.slack.view(update.response["view"]["id"]))
            assert "changed nothing on the connection" in shown
        await crafted_click(h, "revert_change", "chg-zzzzzzzzzz", REQUESTER)
        await h.slack.wait_until(
            lambda: "There is no change request" in slack_everything(h), timeout=WAIT, what="no such request"
        )
        assert revert_forms(h) == []
        assert h.sim.state.received("ModifyVpnConnEx") == 1


@V2
async def test_a_revert_needs_four_eyes_and_restores_that_connections_own_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two key changes on two connections; a stranger reverts the second: he may ask, not approve (nor may another
    stranger); the key restored is that connection's own, the other connection keeps its new key, and neither key
    reaches Slack, the logs or the state file in plain text."""
    caplog.set_level(logging.DEBUG)
    new_keys = {SEED_CONN: "hostile-New-Key-1", OTHER_CONN: "hostile-New-Key-2"}
    async with harness(tmp_path, **{**WATCH, "vpnbot_watch": "60s"}) as h:
        h.sim.state.renegotiate_seconds = 0.2
        old_keys = {conn: h.connection(conn)["preSharedKey"] for conn in new_keys}
        cards = {}
        for conn, key in new_keys.items():
            cards[conn] = await h.propose({"preSharedKey": key}, conn=conn)
            await approved_and_live(h, cards[conn])
        view = await revert_form(h, h.card_now(cards[OTHER_CONN]), STRANGER)
        assert "restores the key before the change" in view_text(view)
        posted = len(h.slack.calls("chat.postMessage"))
        assert (await h.submit(view, {}, user_id=STRANGER)).status_code == 200
        revert_card = h.slack.message(CHANNEL, (await h.next_card(posted)).response["ts"])
        revert = await request_of(h, revert_card)
        assert revert.revert_of == (await request_of(h, cards[OTHER_CONN])).id
        assert revert.vpn_conn_id == OTHER_CONN
        assert revert.psk_changed

        await h.click("approve_change", revert_card, STRANGER)
        await h.slack.wait_until(
            lambda: "someone else must approve" in h.ephemerals_text(), timeout=WAIT, what="self-approval refused"
        )
        await h.click("approve_change", revert_card, "U0STRANGR2")
        await h.slack.wait_until(
            lambda: "VPNBOT_APPROVERS" in h.ephemerals_text(), timeout=WAIT, what="a non-approver refused"
        )
        assert (await h.bot.context.store.get(revert.id)).state is ChangeState.PENDING  # type: ignore[union-attr]
        await approved_and_live(h, revert_card)
        assert h.connection(OTHER_CONN)["preSharedKey"] == old_keys[OTHER_CONN]
        assert h.connection(SEED_CONN)["preSharedKey"] == new_keys[SEED_CONN]
        everywhere = slack_everything(h) + h.ephemerals_text() + caplog.text
        stored = state_bytes(h.settings.vpnbot_state_path)
        for key in (*new_keys.values(), *old_keys.values()):
            assert key not in everywhere
            assert key.encode() not in stored


@V2
async def test_two_revert_clicks_make_one_request_and_a_third_is_pointed_to_it(tmp_path: Path) -> None:
    async with harness(tmp_path, **{**WATCH, "vpnbot_watch": "60s"}) as h:
        card = await h.propose({"IKESet.dhGroupName": "group14"})
        await approved_and_live(h, card)
        first = await revert_form(h, h.card_now(card), REQUESTER)
        second = await revert_form(h, h.card_now(card), GROUP_MEMBER)
        posted = len(h.slack.calls("chat.postMessage"))
        answers = await asyncio.gather(h.submit(first, {}), h.submit(second, {}, user_id=GROUP_MEMBER))
        assert [a.status_code for a in answers] == [200, 200]
        await h.next_card(posted)
        await h.slack.wait_until(
            lambda: "already has an open change" in slack_everything(h), timeout=WAIT, what="the loser told"
        )
        await asyncio.sleep(0.5)
        assert len(cards_in_channel(h, posted)) == 1
        opened = len(h.slack.calls("views.open"))
        await h.click("revert_change", h.card_now(card), APPROVER)
        await h.slack.wait_until(
            lambda: h.ephemerals_text().count("already has an open change") >= 1, timeout=WAIT, what="pointed to it"
        )
        await asyncio.sleep(0.3)
        assert len(h.slack.calls("views.open")) == opened  # no third form
        assert len(await h.bot.context.store.in_states({ChangeState.PENDING})) == 1


@V2
async def test_a_revert_whose_kept_key_was_erased_meanwhile_says_so_and_keeps_no_wrong_key(tmp_path: Path) -> None:
    """The form said an empty key field restores the key before the change; by the submit it was erased (the
    watch ended). Fixed in ``bot/slack/listeners/views.py``: the submit is refused beside the key field, instead of
    a revert that silently keeps the key that broke the tunnel."""
    async with harness(tmp_path, **{**WATCH, "vpnbot_watch": "60s"}) as h:
        card = await h.propose({"preSharedKey": "hostile-Erased-Key", "IKESet.dhGroupName": "group14"})
        await approved_and_live(h, card)
        original = await request_of(h, card)
        view = await revert_form(h, h.card_now(card))
        assert "restores the key before the change" in view_text(view)
        await h.bot.context.store.erase_old_psk(original.id)
        posted = len(h.slack.calls("chat.postMessage"))
        answer = await h.submit(view, {})
        assert answer.status_code == 200
        errors = answer.json()
        assert errors["response_action"] == "errors", errors
        assert "no longer kept" in errors["errors"]["preSharedKey"]
        await asyncio.sleep(0.3)
        assert cards_in_channel(h, posted) == []
        assert await h.bot.context.store.in_states({ChangeState.PENDING}) == []
        reopened = view_text(await revert_form(h, h.card_now(card)))  # a form opened now says so from the start
        assert "no longer kept" in reopened
        assert "Leave empty to keep the current key" in reopened
        # typed again, the key restores the tunnel
        answer = await h.submit(view, {"preSharedKey": SEED_KEY})
        assert answer.text in ("", "null"), answer.text
        revert_card = h.slack.message(CHANNEL, (await h.next_card(posted)).response["ts"])
        assert (await request_of(h, revert_card)).psk_changed


# --- 3. the crypto policy -----------------------------------------------------------------------------------------


async def refused_by_policy(h: Harness, card: dict[str, Any]) -> None:
    refusal = "VPNBOT_CRYPTO_POLICY is `block`"
    before = h.ephemerals_text().count(refusal)
    assert (await h.click("approve_change", card, APPROVER)).status_code == 200
    try:
        await h.slack.wait_until(lambda: h.ephemerals_text().count(refusal) > before, timeout=WAIT, what="refusal")
    except TimeoutError:
        raise AssertionError(h.ephemerals_text()) from None


async def restarted_with(h: Harness, edit_state: Callable[[Path], None] | None = None, **settings: Any) -> None:
    """Stop the bot once every pending card is saved as shown (one stopped before is cancelled at the next start,
    rightly), let ``edit_state`` change the state file while nothing holds it, start it with ``settings``."""
    context = h.bot.context
    for _ in range(200):
        pending = await context.store.in_states({ChangeState.PENDING})
        if all([await context.notifier.shown(r) for r in pending]):
            break
        await asyncio.sleep(0.05)
    await h.stack.aclose()
    if edit_state is not None:
        edit_state(h.settings.vpnbot_state_path)
    h.settings = h.settings.model_copy(update=settings)
    h.stack = AsyncExitStack()
    h.bot = await h.stack.enter_async_context(running_bot(h.settings, sim=False, port=0, host="127.0.0.1"))


@V2
async def test_block_lets_a_strengthening_through_and_refuses_the_weakening_back(tmp_path: Path) -> None:
    async with harness(tmp_path, vpnbot_crypto_policy="block") as h:
        card = await h.propose({"IKESet.dhGroupName": "group14"})  # group2 (SHOULD NOT) -> group14 (MUST)
        assert "Only strengthens" in card_text(card)
        assert "cannot be approved" not in card_text(card)
        await approved_and_live(h, card)
        card = await h.propose({"IKESet.dhGroupName": "group2"})  # and back: a weakening, though no MUST NOT
        shown = card_text(card)
        assert "Weakens" in shown
        assert "cannot be approved" in shown
        await refused_by_policy(h, card)
        assert "RFC 8247" in h.ephemerals_text()
        assert h.sim.state.received("ModifyVpnConnEx") == 1
        assert (await request_of(h, card)).state is ChangeState.PENDING


@V2
async def test_the_policy_is_the_one_in_force_when_the_approval_comes(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        card = await h.propose({"IPsecSet.encryptAlgorithm": "des-cbc"})
        assert "cannot be approved" not in card_text(card)  # warn, when the card was made
        await restarted_with(h, vpnbot_crypto_policy="block")
        await refused_by_policy(h, card)
        assert h.sim.state.received("ModifyVpnConnEx") == 0
        await restarted_with(h, vpnbot_crypto_policy="warn")
        await approved_and_live(h, card)  # and the other way round: the block is lifted, the change may go
        assert h.connection()["IPsecSet"]["encryptAlgorithm"].lower() == "des-cbc"


def without_crypto_reviews(state: Path) -> None:
    """Every stored request as an older vpnbot stored it: no ``crypto`` field."""
    with closing(sqlite3.connect(state)) as db, db:
        for key, value in list(db.execute("SELECT key, value FROM requests")):
            document = json.loads(value)
            document.pop("crypto", None)
            db.execute("UPDATE requests SET value = ? WHERE key = ?", (json.dumps(document), key))


@V2
async def test_block_refuses_a_weakening_stored_by_an_older_vpnbot_without_a_review(tmp_path: Path) -> None:
    """A request stored before step 9 has no ``crypto`` review; under ``block`` it was approved unreviewed. Fixed in
    ``bot/changes/service.py``: such a request is reviewed at approval, against the connection as it is."""
    async with harness(tmp_path) as h:
        weak = await h.propose({"IKESet.dhGroupName": "group1"}, conn=SEED_CONN)
        strong = await h.propose({"IKESet.dhGroupName": "group14"}, conn=OTHER_CONN)  # group5 -> group14
        await restarted_with(h, without_crypto_reviews, vpnbot_crypto_policy="block")
        assert (await request_of(h, weak)).crypto is None
        await refused_by_policy(h, weak)
        assert "MUST NOT" in h.ephemerals_text()
        assert "group1" in h.ephemerals_text()
        assert h.sim.state.received("ModifyVpnConnEx") == 0
        await approved_and_live(h, strong)  # reviewed too, and nothing to hold it back
        assert h.sim.state.received("ModifyVpnConnEx") == 1


# --- 4. a hostile cloud -------------------------------------------------------------------------------------------


def verified_in_slack(h: Harness) -> Callable[[], bool]:
    """Whether a change was verified live (its reply is in Slack): from then on the hostile answers below start,
    so the form, the edit and its verification read the connection as it is."""
    return lambda: any("Verified: every proposed value is live" in str(c.args) for c in h.slack.calls())


def hostile_describe(h: Harness, monkeypatch: pytest.MonkeyPatch, fields: Mapping[str, Any]) -> None:
    """``DescribeVpnConnections`` answers ``fields`` in every item once a change was verified."""
    handlers = sim_wire_v3._HANDLERS
    honest = handlers[DESCRIBE_V3]
    verified = verified_in_slack(h)

    def answer(state: SimState, params: Mapping[str, Any], request_id: str) -> dict[str, Any]:
        result = honest(state, params, request_id)
        if verified():
            for item in result.get("VpnConnectionSet", []):
                item.update(fields)
        return result

    monkeypatch.setitem(handlers, DESCRIBE_V3, answer)


def hostile_download(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setitem(
        sim_wire_v3._HANDLERS,
        DOWNLOAD,
        lambda state, params, request_id: {"CustomerGatewayConfiguration": text},
    )


def assert_no_raw_mentions(shown: str) -> None:
    for mention in MENTIONS:
        assert mention not in shown, mention


async def ended_watch(h: Harness, request_id: str, seconds: float = 20.0) -> Watch:
    """The request's watch once it ended, as stored."""
    for _ in range(int(seconds / 0.05)):
        watch = await h.bot.context.store.watch(request_id)
        if watch is not None and not watch.active:
            return watch
        await asyncio.sleep(0.05)
    raise AssertionError(f"the watch of {request_id} did not end within {seconds} s")


@V3
@pytest.mark.parametrize(
    "fields",
    [
        {"NetStatus": "AVAILABLE" * 2000},
        {"NetStatus": {"AVAILABLE": True}},
        {"HealthCheckStatus": ["UNAVAILABLE"]},
        {"NetStatus": 7},
        {"NetStatus": "AVAILABLE <!channel> \u202e<@U0EVIL> *x* ```"},
        {"NetStatus": "AVAILABLE\u2028<!here>", "HealthCheckStatus": "\u202e<!everyone>"},
    ],
    ids=["huge", "object", "list", "number", "mentions", "line-separator"],
)
async def test_a_garbage_tunnel_status_is_never_read_as_up_and_never_shown_raw(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any]
) -> None:
    """``DescribeVpnConnections`` answers garbage for the tunnel's status for the whole watch: the watch goes on to
    its end, claims nothing, and shows the cloud's words only escaped and short."""
    async with harness(tmp_path, **WATCH) as h:
        hostile_describe(h, monkeypatch, fields)
        card = await h.propose({"IKESet.ikeSaLifetimeSeconds": "28800"})  # timing only: the tunnel stays up
        await approved_and_live(h, card)
        watch = await ended_watch(h, (await request_of(h, card)).id)
        assert watch.state is WatchState.UNREADABLE
        assert len(watch.last_status) < 400
        await h.slack.wait_until(lambda: len(h.thread(card)) >= 3, timeout=WAIT, what="the watch's end told")
        shown = slack_everything(h)
        assert "stayed connected" not in shown
        assert_no_raw_mentions(shown)
        assert "\u202e" not in shown
        assert "\u2028" not in shown
        assert "AVAILABLE" * 10 not in shown.upper()


@V3
@pytest.mark.parametrize(
    ("text", "shown", "problem"),
    [
        ("x" * (10 * 1024 * 1024), "", "Tencent Cloud answered: ResponseError"),
        ("! bad \ud800 surrogate", "", "Tencent Cloud answered: "),
        ("crypto isakmp <!channel> <@U0EVIL> <https://evil.example|click>", "&lt;!channel&gt;", ""),
    ],
    ids=["10MB", "lone-surrogate", "mentions"],
)
async def test_a_hostile_download_is_refused_or_shown_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, shown: str, problem: str
) -> None:
    async with harness(tmp_path, **WATCH, vpnbot_peer_vendor="cisco") as h:
        hostile_download(monkeypatch, text)
        card = await h.propose({"IKESet.dhGroupName": "group14"})
        await approved_and_live(h, card)
        await h.wait_thread_text(card, "The peer's half")
        thread = json.dumps(h.thread(card), ensure_ascii=False)
        assert "Tencent Cloud's configuration for cisco" in thread
        assert shown in thread
        assert problem in thread
        assert_no_raw_mentions(slack_everything(h))
        assert "<https://evil" not in slack_everything(h)
        assert "x" * 3000 not in slack_everything(h)
        await h.wait_thread_text(card, "at the end of the watch", seconds=20)  # and the watch went on


def test_a_configuration_holding_a_code_fence_stays_inside_its_code_block() -> None:
    """Once a bug (``` closed the block and the rest became mrkdwn); fixed in ``bot/slack/tunnel.py`` meanwhile."""
    request = new_key_request("vpnx-fence0001")
    text = "line one\n```\n*not bold* _not italic_ ~not struck~\n```\nlast line\n"
    (blocks,) = tunnel.peer_config_messages(request, (PeerConfig("tencent", "Tencent", text),))
    sections = [b.to_dict()["text"]["text"] for b in blocks[1:] if b.to_dict()["type"] == "section"]
    assert sections
    for body in sections:
        assert body.count("```") == 2, body
        assert "*not bold* _not italic_ ~not struck~" in body


@V2
async def test_hostile_names_are_escaped_in_the_impact_line_the_peers_half_and_the_watch_reply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "<!channel> *bold* ```x``` \u202eexe.txt"
    peer = "<!here> <@U0EVIL> \u2028peer"
    world = world_with({SEED_CONN: {"vpnConnName": name, "userGwName": peer}})
    async with world_harness(tmp_path, world, monkeypatch, **{**WATCH, "vpnbot_watch": "20s"}) as h:
        h.sim.state.renegotiate_seconds = 0.2
        card = await h.propose({"preSharedKey": "hostile-Name-Key"})
        lead = card_text(card)
        assert "On the peer (&lt;!here&gt; &lt;@U0EVIL&gt; \\\\u2028peer" in lead  # JSON: one backslash
        await approved_and_live(h, card)
        down = await h.wait_thread_text(card, "is *down* since", seconds=20)
        assert "&lt;!channel&gt;" in down
        assert "\\u202eexe.txt" in down
        peer_half = await h.wait_thread_text(card, "The peer's half")
        assert peer_half
        thread = json.dumps(h.thread(card), ensure_ascii=False)
        assert "\\\\u202eexe.txt" in thread  # the fragments' comments show the override as an escape
        shown = slack_messages(h)
        assert_no_raw_mentions(shown)
        assert "\u202e" not in shown
        assert "\u2028" not in shown


def test_a_hostile_name_cannot_leave_the_comment_of_a_peer_fragment() -> None:
    """Names reach the fragments only in comments; a line break in them would start a directive of its own."""
    conn = item_connection(
        vpnConnName="x\n}\nconnections { evil { remote_addrs = %any } }\n! \u2028crypto map evil",
        userGwName="y\r\nsecrets { ike-evil { secret = leaked } }",
    )
    for vendor in PeerVendor:
        text = peer_config(vendor, replace(conn, user_gw_address="198.51.100.21"), conn.settings)
        for line in text.splitlines():
            if "evil" in line or "leaked" in line:
                assert line.lstrip().startswith(("#", "!")), (vendor, line)


def test_a_watch_that_saw_the_tunnel_only_at_its_start_claims_nothing_about_the_rest() -> None:
    t0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    request = new_key_request("vpnx-claim0001", now=t0)
    watch = Watch(request.id, request.vpn_conn_id, t0, t0 + timedelta(minutes=5))
    watch = watch.seen(TunnelReading(True, "net status available"), t0)
    for minute in range(1, 6):  # a failed read leaves the watch as it is; a modifying one says nothing
        watch = watch.seen(TunnelReading(None, "connection status modifying"), t0 + timedelta(minutes=minute))
    line = tunnel.watch_line(request, watch.ended(), WatchEvent.ENDED)
    assert "for the whole watch" not in line, line


# --- 5. the watch, at scale and on a full disk --------------------------------------------------------------------


@dataclass
class WatchBook:
    """A store holding watches only, in memory (the Aftercare's part of the store), for thousands of them."""

    watches: dict[str, Watch] = field(default_factory=dict)
    audited: list[tuple[str, str]] = field(default_factory=list)

    async def save_watch(self, watch: Watch) -> None:
        self.watches[watch.request_id] = watch

    async def audit_event(self, request_id: str, *, actor: str, at: datetime, action: str, detail: Any) -> None:
        self.audited.append((request_id, action))

    async def erase_old_psk(self, request_id: str) -> None:
        return None

    async def wait_writable(self) -> None:
        return None


@dataclass
class WatchEars:
    """A notifier that hears the watch's events."""

    events: list[tuple[str, WatchEvent, WatchState]] = field(default_factory=list)

    async def watch(self, request: ChangeRequest, watch: Watch, event: WatchEvent) -> None:
        self.events.append((request.id, event, watch.state))

    async def peer_config(self, request: ChangeRequest, configs: tuple[PeerConfig, ...]) -> None:
        raise AssertionError("the watches were saved with their peer configuration shown")


def watch_settings(sim: SimServer, state: Path, api: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "vpnbot_cloud_api": api,
        "vpnbot_cloud_endpoint": sim.v3_url if api == "v3" else sim.url,
        "tencentcloud_secret_id": DEMO_SECRET_ID,
        "tencentcloud_secret_key": DEMO_SECRET_KEY,
        "vpnbot_state_path": state,
        "vpnbot_cloud_timeout": "5s",
        **overrides,
    }
    return Settings(_env_file=None, **values)


def demo_connection_ids() -> list[str]:
    return [str(item["unVpnConnId"]) for item in load_world(None).to_json()["vpnConnections"]]


async def test_thousands_of_watches_at_once_stay_under_the_describe_rate_limit(tmp_path: Path) -> None:
    """2,000 watches at once: 1,800 on the demo world's nine connections, 200 on connections the cloud does not know
    (each batch holding one is refused, so every id is read alone). The simulator enforces Tencent's 100/s and
    counts every arrival: nothing is refused, no second holds more than 100, every request went through the
    client, and every watch ends, the known ones up and the unknown ones claiming nothing."""
    limits = {"DescribeVpnConnections": 100, "ModifyVpnConnectionAttribute": 100, "DescribeVpcTaskResult": 20}
    world = world_with(faults={**load_world(None).to_json().get("faults", {}), "rateLimits": limits})
    known = demo_connection_ids()
    now = datetime.now(UTC)
    pairs = []
    for number in range(2000):
        conn = known[number % len(known)] if number < 1800 else f"vpnx-u{number:07d}"
        request = replace(new_key_request("vpnx-ol6bcqp0", now=now), id=f"chg-load{number:06d}", vpn_conn_id=conn)
        pairs.append((request, Watch(request.id, conn, now, now + timedelta(seconds=1), peer_config_shown=True)))
    async with SimServer(SimState(world)) as sim:
        settings = watch_settings(sim, tmp_path / "state.sqlite", "v3", vpnbot_watch_interval="0.5s")
        async with open_cloud(settings, sim=False) as cloud:
            book, ears = WatchBook(), WatchEars()

            async def no_secrets(request: ChangeRequest) -> list[str]:
                return []

            aftercare = Aftercare(settings, cloud, book, ears, lambda: datetime.now(UTC), no_secrets)  # type: ignore[arg-type]
            await asyncio.wait_for(asyncio.gather(*(aftercare.run(r, w) for r, w in pairs)), 120)
            sent = cloud.client.calls[DESCRIBE_V3]
        arrived = sim.state.received(DESCRIBE_V3)
        assert sim.state.rate_refusals(DESCRIBE_V3) == 0
        assert sim.state.peak_rate(DESCRIBE_V3) <= 100
        assert arrived == sent > 200  # the unknown ids were really read one by one, all through the client
    ended = {rid: state for rid, event, state in ears.events if event is WatchEvent.ENDED}
    assert len(ended) == 2000
    assert {ended[r.id] for r, _ in pairs[:1800] if r.vpn_conn_id != "vpnx-k2w6fj0u"} == {WatchState.UP}
    assert {ended[r.id] for r, _ in pairs[1800:]} == {WatchState.UNREADABLE}


@dataclass
class FullDiskWatch:
    """A watch running while its state file's disk is full: the store, what the front heard, the file that fills
    the disk (delete it to make room) and the watch's task."""

    store: Store
    ears: WatchEars
    filler: Path
    running: asyncio.Task[None]


@asynccontextmanager
async def watch_on_a_full_disk(disk: Path) -> AsyncIterator[FullDiskWatch]:
    """A 3 s watch of a change of the seed connection, its state file on ``disk``, which is full as the watch
    starts; half a second in, the peer's key changes, so the tunnel falls."""
    async with SimServer(SimState(dialect.world(load_world(None)))) as sim:
        sim.state.renegotiate_seconds = 0.1
        settings = watch_settings(sim, disk / "state.sqlite", "v2", vpnbot_watch="3s", vpnbot_watch_interval="0.1s")
        store = Store.open(disk / "state.sqlite")
        try:
            request = new_key_request(SEED_CONN)
            await store.create(request, SecretStr("hostile-Disk-Key"))
            now = datetime.now(UTC)
            watch = Watch(request.id, SEED_CONN, now, now + timedelta(seconds=3), peer_config_shown=True)
            await store.save_watch(watch)
            async with open_cloud(settings, sim=False) as cloud:
                ears = WatchEars()

                async def no_secrets(request: ChangeRequest) -> list[str]:
                    return []

                aftercare = Aftercare(settings, cloud, store, ears, lambda: datetime.now(UTC), no_secrets)  # type: ignore[arg-type]
                filler = fill(disk)
                with pytest.raises(StoreUnavailableError):
                    await store.save_watch(watch)
                running = asyncio.create_task(aftercare.run(request, watch))
                try:
                    await asyncio.sleep(0.5)
                    async with httpx.AsyncClient() as http:  # the peer's key changes: the tunnel falls
                        answer = await http.post(f"{sim.base_url}/_sim/peers/{SEED_CONN}", json={"preSharedKey": "x"})
                        assert answer.status_code == 200, answer.text
                    yield FullDiskWatch(store, ears, filler, running)
                finally:
                    running.cancel()
        finally:
            await store.aclose()


async def told_down(ears: WatchEars, seconds: float) -> bool:
    for _ in range(int(seconds / 0.05)):
        if any(event is WatchEvent.DOWN for _, event, _ in ears.events):
            return True
        await asyncio.sleep(0.05)
    return False


async def ended_after_the_disk_came_back(disk: FullDiskWatch) -> Watch:
    """The watch as saved at its end, the disk freed once the window was over (the watch waiting for it)."""
    await asyncio.sleep(4)  # past the window's end
    assert not disk.running.done()
    (request,) = await disk.store.in_states(set(ChangeState))
    saved = await disk.store.watch(request.id)
    assert saved is not None
    assert saved.last_read_at is None  # as saved before the disk filled: nothing half written
    await asyncio.to_thread(disk.filler.unlink)
    await asyncio.wait_for(disk.running, 30)
    saved = await disk.store.watch(request.id)
    assert saved is not None
    return saved


@V2
async def test_a_disk_that_fills_during_a_watch_neither_crashes_it_nor_loses_it(small_disk: Path) -> None:  # noqa: F811
    """The watch waits for the disk (nothing half written meanwhile), then saves its end and tells it."""
    async with watch_on_a_full_disk(small_disk) as disk:
        saved = await ended_after_the_disk_came_back(disk)
        assert not saved.active
        assert [e for _, e, _ in disk.ears.events].count(WatchEvent.ENDED) == 1


@V2
async def test_a_watch_held_up_by_a_full_disk_ends_on_a_reading_taken_after_it(small_disk: Path) -> None:  # noqa: F811
    async with watch_on_a_full_disk(small_disk) as disk:
        saved = await ended_after_the_disk_came_back(disk)
        assert saved.state is WatchState.DOWN


@V2
async def test_a_tunnel_that_falls_while_the_disk_is_full_is_told_at_once(small_disk: Path) -> None:  # noqa: F811
    async with watch_on_a_full_disk(small_disk) as disk:
        assert await told_down(disk.ears, 5)
        await asyncio.to_thread(disk.filler.unlink)
        await asyncio.wait_for(disk.running, 30)


# --- the simulator's admin endpoints ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [f"/_sim/peers/{SEED_CONN}", "/_sim/faults"])
async def test_the_simulators_admin_endpoints_refuse_a_body_nested_too_deep_with_a_400(path: str) -> None:
    """Was an HTTP 500 (RecursionError out of ``request.json()``). Fixed in ``bot/sim/server.py``."""
    async with SimServer(SimState()) as sim, httpx.AsyncClient() as http:
        nested = b"[" * 100_000 + b"]" * 100_000
        answer = await http.post(f"{sim.base_url}{path}", content=nested, headers={"content-type": "application/json"})
        assert answer.status_code == 400, answer.text
        assert "nested too deep" in answer.json()["error"]
        peer = await http.get(f"{sim.base_url}/_sim/peers/{SEED_CONN}")  # and the simulator is still there
        assert peer.status_code == 200
        assert peer.json()["peer"]["preSharedKey"] == "***"  # the peer's key masked, as ever
        assert SEED_KEY not in peer.text
