"""What a change does to the tunnel, end to end over real HTTP: the impact on the card, the peer's half in the
thread, the health watch, and a revert; against the simulator's model of the peer (``bot.sim``), which takes the
tunnel down when the two ends no longer match and up again when they do."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import dialect
import httpx
import pytest
from botharness import APPROVER, CHANNEL, REQUESTER, SEED_CONN, WAIT, Harness, card_text, harness

from bot.vpn.change import ChangeState

NEW_PSK = "tunnel-e2e-Key-7f3"
WATCH = {"vpnbot_watch": "4s", "vpnbot_watch_interval": "0.1s"}

pytestmark = pytest.mark.usefixtures("cloud_api")


def texts(h: Harness, card: dict[str, Any]) -> str:
    """Every message of the card's thread, blocks and text, as one string."""
    return "\n".join(card_text(m) for m in h.thread(card))


async def update_peer(h: Harness, patch: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"{h.sim.base_url}/_sim/peers/{SEED_CONN}", json=patch, timeout=WAIT)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def wait_thread(h: Harness, card: dict[str, Any], needle: str, seconds: float = 15.0) -> dict[str, Any]:
    """The first thread message holding ``needle`` (in its blocks or text)."""

    def found() -> bool:
        return any(needle in card_text(m) for m in h.thread(card))

    await h.slack.wait_until(found, timeout=seconds, what=f"a thread message holding {needle!r}")
    return next(m for m in h.thread(card) if needle in card_text(m))


async def approved(h: Harness, card: dict[str, Any]) -> None:
    response = await h.click("approve_change", card, APPROVER)
    assert response.status_code == 200
    await wait_thread(h, card, "Verified: every proposed value is live")


async def test_a_key_change_whose_peer_follows_is_reported_up(tmp_path: Path) -> None:
    async with harness(tmp_path, **WATCH) as h:
        h.sim.state.renegotiate_seconds = 1.0
        card = await h.propose({"preSharedKey": NEW_PSK})
        shown = card_text(card)
        assert "goes down" in shown
        assert "new key" in shown
        assert "On the peer (" in shown  # who must act on the peer: the customer gateway as the cloud names it
        assert ("shanghai-office-fw" if dialect.current == "v2" else "cgw-9k2pe1sx") in shown
        await approved(h, card)
        peer = await wait_thread(h, card, "The peer's half")
        assert "connections {" in card_text(peer)
        assert "crypto isakmp" in card_text(peer) + texts(h, card)
        await update_peer(h, {"preSharedKey": NEW_PSK})
        await wait_thread(h, card, "Tunnel up")
        everything = texts(h, card) + h.ephemerals_text()
        assert NEW_PSK not in everything
        assert "sh-office-2019" not in everything  # the key before the change is never shown either
        assert h.sim.state.get(SEED_CONN).net_status == "available"


async def test_a_key_change_the_peer_never_gets_is_reported_down_and_reverted(tmp_path: Path) -> None:
    async with harness(tmp_path, **{**WATCH, "vpnbot_watch": "30s"}) as h:
        h.sim.state.renegotiate_seconds = 0.2
        card = await h.propose({"preSharedKey": NEW_PSK})
        await approved(h, card)
        down = await wait_thread(h, card, "is *down* since")
        text = card_text(down)
        assert f"<@{REQUESTER}>" in text
        assert f"<@{APPROVER}>" in text
        assert "<!date^" in text
        assert "revert_change" in json.dumps(down["blocks"])

        before = len(h.slack.calls("views.update"))
        response = await h.click("revert_change", down, REQUESTER)
        assert response.status_code == 200
        updates = await h.slack.wait_for("views.update", count=before + 1, timeout=WAIT)
        view = h.slack.view(updates[-1].response["view"]["id"])
        assert "Revert of" in json.dumps(view["blocks"])
        posted = len(h.slack.calls("chat.postMessage"))
        assert (await h.submit(view, {})).status_code == 200
        calls = await h.slack.wait_for("chat.postMessage", count=posted + 1, timeout=WAIT)
        revert_card = h.slack.message(CHANNEL, calls[posted].response["ts"])
        assert "a revert of" in card_text(revert_card)
        assert "preSharedKey" in card_text(revert_card)

        assert (await h.click("approve_change", revert_card, REQUESTER)).status_code == 200  # four eyes stay four
        await h.slack.wait_until(
            lambda: "someone else must approve" in h.ephemerals_text(), timeout=WAIT, what="the self-approval refusal"
        )
        await approved(h, revert_card)
        assert h.connection()["preSharedKey"] == "sh-office-2019"  # the key before the change, restored
        await wait_thread(h, card, "The tunnel is up again", seconds=20)  # the first change's watch sees it
        revert_watch = await h.bot.context.store.watch(revert_card_request_id(h.card_now(revert_card)))
        assert revert_watch is not None
        assert revert_watch.active
        assert revert_watch.down_before  # the tunnel was down when the revert was sent: no fall of the revert's
        assert not any("is *down* since" in card_text(m) for m in h.thread(revert_card))
        stored = await h.bot.context.store.get(revert_card_request_id(revert_card))
        assert stored is not None
        assert stored.revert_of is not None


def revert_card_request_id(card: dict[str, Any]) -> str:
    """The request id a card's buttons carry."""
    for block in card.get("blocks", []):
        for element in block.get("elements", []) or []:
            if isinstance(element, dict) and element.get("action_id") in ("revert_change", "approve_change"):
                return str(element["value"])
    raise AssertionError("the card has no request id")


async def test_a_proposal_the_peer_does_not_offer_takes_the_tunnel_down(tmp_path: Path) -> None:
    async with harness(tmp_path, **WATCH) as h:
        h.sim.state.renegotiate_seconds = 0.2
        card = await h.propose({"IKESet.dhGroupName": "group14"})
        shown = card_text(card)
        assert "renegotiates" in shown
        assert "Only strengthens" in shown  # group2 (SHOULD NOT) to group14 (MUST)
        await approved(h, card)
        await wait_thread(h, card, "is *down* since")
        await wait_thread(h, card, "Tunnel still down at the end of the watch", seconds=20)


async def test_a_selector_change_lists_the_networks_and_comes_back_when_the_peer_matches(tmp_path: Path) -> None:
    async with harness(tmp_path, **{**WATCH, "vpnbot_watch": "20s"}) as h:
        h.sim.state.renegotiate_seconds = 0.2
        card = await h.propose({"userGwCidrBlock": "10.100.1.0/24\n10.100.9.0/24"})
        shown = card_text(card)
        assert "10.100.9.0/24" in shown
        assert "gains the tunnel" in shown
        await approved(h, card)
        await wait_thread(h, card, "is *down* since")
        await update_peer(h, {"mirror": True})
        await wait_thread(h, card, "The tunnel is up again")


@dialect.no_edit
async def test_a_name_only_change_needs_no_watch_and_says_so(tmp_path: Path) -> None:
    async with harness(tmp_path, **WATCH) as h:
        card = await h.propose({"vpnConnName": "office-shanghai-renamed"})
        assert "Name only" in card_text(card)
        await approved(h, card)
        await wait_thread(h, card, "not watched")
        assert "The peer's half" not in texts(h, card)
        request = await h.bot.context.store.get(revert_card_request_id(h.card_now(card)))
        assert request is not None
        assert request.state is ChangeState.SUCCEEDED


@dialect.local_only
async def test_block_refuses_to_approve_a_must_not_value(tmp_path: Path) -> None:
    async with harness(tmp_path, vpnbot_crypto_policy="block") as h:
        card = await h.propose({"IPsecSet.encryptAlgorithm": "des-cbc"})
        shown = card_text(card)
        assert "MUST NOT" in shown
        assert "RFC 8221" in shown
        assert "cannot be approved" in shown
        response = await h.click("approve_change", card, APPROVER)
        assert response.status_code == 200
        await h.slack.wait_until(lambda: "VPNBOT_CRYPTO_POLICY" in h.ephemerals_text(), timeout=WAIT, what="refusal")
        assert "MUST NOT" in h.ephemerals_text()
        assert h.sim.state.received("ModifyVpnConnEx") == 0


async def test_the_watch_survives_a_restart(tmp_path: Path) -> None:
    async with harness(tmp_path, **{**WATCH, "vpnbot_watch": "30s"}) as h:
        h.sim.state.renegotiate_seconds = 0.2
        card = await h.propose({"preSharedKey": NEW_PSK})
        await approved(h, card)
        await wait_thread(h, card, "is *down* since")
        request_id = revert_card_request_id(h.card_now(card))
        store = h.bot.context.store

        async def told() -> bool:
            watch = await store.watch(request_id)
            return watch is not None and watch.announced_down

        for _ in range(200):  # the fall is saved as told just after Slack took it
            if await told():
                break
            await asyncio.sleep(0.05)
        await h.restart()
        await update_peer(h, {"preSharedKey": NEW_PSK})
        await wait_thread(h, card, "The tunnel is up again")
        downs = [m for m in h.thread(card) if "is *down* since" in card_text(m)]
        assert len(downs) == 1  # the fall was told once, before the restart
        watch = await h.bot.context.store.watch(request_id)
        assert watch is not None
        assert watch.down_since is not None
        assert watch.up_again_at is not None
