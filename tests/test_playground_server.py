"""``vpnbot playground``'s server without a browser: its JSON API drives the unchanged bot over real signed HTTP, the
stand-in keeps what each person sees, server-sent events say when it changed, and the server answers only its own
pages on loopback. The browser tests (test_playground_browser.py) drive the same API through the page."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.playground.run import RunningPlayground, running_playground
from bot.playground.slack_payloads import fill_state_from_view
from bot.playground.workspace import APPROVER, CHANNEL_ID, GROUP_MEMBER, OUTSIDER, REQUESTER
from bot.slack.words import VERIFIED

SEED_CONN = "vpnx-ol6bcqp0"
WAIT = 15.0


@pytest.fixture(params=["v2", "v3"])
async def playground(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[RunningPlayground]:
    monkeypatch.setenv("VPNBOT_CLOUD_API", request.param)
    monkeypatch.setenv("VPNBOT_SIM_TASK_SECONDS", "0.3")
    monkeypatch.setenv("VPNBOT_TASK_POLL_INITIAL", "0.05s")
    monkeypatch.setenv("VPNBOT_TASK_POLL_MAX", "0.2s")
    monkeypatch.setenv("VPNBOT_WATCH", "0")
    async with running_playground(0) as running:
        yield running


@pytest.fixture
async def api(playground: RunningPlayground) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=playground.url, timeout=WAIT) as client:
        yield client


async def state(api: httpx.AsyncClient, user: str) -> dict[str, Any]:
    response = await api.get("/api/state", params={"user": user})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def until(api: httpx.AsyncClient, user: str, found: Callable[[dict[str, Any]], Any], what: str) -> Any:
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        seen = await state(api, user)
        result = found(seen)
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never saw {what}: {json.dumps(seen)[:3000]}")
        await asyncio.sleep(0.05)


def filled_form(seen: dict[str, Any]) -> dict[str, Any] | None:
    modal = seen["modal"]
    return modal if modal and any(b["type"] == "input" for b in modal["blocks"]) else None


def cards(seen: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in seen["messages"] if "approve_change" in json.dumps(m.get("blocks", []))]


async def post(api: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(path, json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def open_form(api: httpx.AsyncClient, user: str = REQUESTER.id) -> dict[str, Any]:
    assert (await post(api, "/api/command", {"user": user, "text": f"/vpn edit {SEED_CONN}"}))["ok"]
    form: dict[str, Any] = await until(api, user, filled_form, "the filled edit form")
    return form


async def test_a_change_from_command_to_verified_through_the_api(
    playground: RunningPlayground, api: httpx.AsyncClient
) -> None:
    form = await open_form(api)
    assert (await state(api, APPROVER.id))["modal"] is None, "a modal is shown to the person who opened it only"

    bad = fill_state_from_view(form, {"userGwCidrBlock": "10.0.0.0/33"}, client_validate=False)
    answer = await post(api, "/api/submit", {"user": REQUESTER.id, "view_id": form["id"], "values": bad})
    assert answer["ok"]
    assert not answer["closed"]
    assert "userGwCidrBlock" in answer["errors"], answer
    assert (await state(api, REQUESTER.id))["modal_errors"] == answer["errors"]
    assert cards(await state(api, REQUESTER.id)) == [], "an invalid form posts no card"

    good = fill_state_from_view(form, {"vpnConnName": "office-tunnel-2", "IKESet.dhGroupName": "group14"})
    answer = await post(api, "/api/submit", {"user": REQUESTER.id, "view_id": form["id"], "values": good})
    assert answer == {"ok": True, "closed": True, "errors": {}}
    card = (await until(api, REQUESTER.id, cards, "the change card"))[0]
    assert "office-tunnel-2" in json.dumps(card["blocks"])
    assert (await state(api, REQUESTER.id))["modal"] is None

    outsider = await post(
        api,
        "/api/action",
        {"user": OUTSIDER.id, "source": "message", "ts": card["ts"], "action_id": "approve_change"},
    )
    assert outsider["ok"]
    told = await until(api, OUTSIDER.id, lambda s: s["ephemerals"], "the outsider's refusal")
    assert "approve" in json.dumps(told).lower()
    assert (await state(api, REQUESTER.id))["ephemerals"] == [], "an ephemeral is shown to its person only"

    approved = await post(
        api,
        "/api/action",
        {"user": APPROVER.id, "source": "message", "ts": card["ts"], "action_id": "approve_change"},
    )
    assert approved["ok"]

    def verified(seen: dict[str, Any]) -> bool:
        parent = next(m for m in seen["messages"] if m["ts"] == card["ts"])
        return any(VERIFIED in json.dumps(r) for r in parent["replies"])

    await until(api, GROUP_MEMBER.id, verified, "the thread reaching verified")
    assert playground.sim.state.connection(SEED_CONN)["vpnConnName"] == "office-tunnel-2"
    assert playground.workspace.slack.invalid == []
    assert playground.workspace.slack.unrendered == []


async def test_events_say_when_anything_changed(playground: RunningPlayground, api: httpx.AsyncClient) -> None:
    async with api.stream("GET", "/api/events") as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        lines = events.aiter_lines()
        first = await asyncio.wait_for(anext(lines), WAIT)
        assert first == "event: changed"
        version = json.loads((await anext(lines)).removeprefix("data: "))["version"]
        await post(api, "/api/command", {"user": REQUESTER.id, "text": "/vpn help"})
        while True:
            line = await asyncio.wait_for(anext(lines), WAIT)
            if line.startswith("data: ") and json.loads(line.removeprefix("data: "))["version"] > version:
                break
    help_text = await until(api, REQUESTER.id, lambda s: s["ephemerals"], "/vpn help's answer")
    assert "/vpn edit" in json.dumps(help_text)


async def test_closing_the_form_sends_nothing_and_it_leaves(api: httpx.AsyncClient) -> None:
    form = await open_form(api)
    assert (await post(api, "/api/close", {"user": REQUESTER.id, "view_id": form["id"]}))["ok"]
    assert (await state(api, REQUESTER.id))["modal"] is None
    refused = await api.post("/api/submit", json={"user": REQUESTER.id, "view_id": form["id"], "values": {}})
    assert refused.status_code == 400
    assert "not open" in refused.json()["error"]


async def test_the_peer_control_is_the_simulators_and_changes_the_tunnel(
    playground: RunningPlayground, api: httpx.AsyncClient
) -> None:
    peer = (await api.get(f"/api/peer/{SEED_CONN}")).json()
    assert peer["vpnConnId"] == SEED_CONN
    assert peer["match"] is True, peer
    key = playground.sim.state.connection(SEED_CONN)["preSharedKey"]
    changed = await api.post(f"/api/peer/{SEED_CONN}", json={"IKESet": {"dhGroupName": "group21"}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["match"] is False
    assert changed.json()["mismatches"], changed.json()
    mirrored = await api.post(f"/api/peer/{SEED_CONN}", json={"mirror": True})
    assert mirrored.status_code == 200
    assert mirrored.json()["match"] is True
    assert key not in changed.text + mirrored.text, "the peer's key is masked on the page"
    bad = await api.post(f"/api/peer/{SEED_CONN}", json={"IKESet": {"dhGroupName": "group999"}})
    assert bad.status_code == 400
    assert "dhGroupName" in bad.text
    assert (await api.get("/api/peer/vpnx-nosuch00")).status_code == 404


async def test_the_api_answers_only_its_own_loopback_pages(api: httpx.AsyncClient) -> None:
    rebound = await api.get("/api/state", headers={"Host": "evil.example:8765"})
    assert rebound.status_code == 421
    form_post = await api.post("/api/command", content=b"user=U0REQUEST&text=/vpn+help")
    assert form_post.status_code == 415, "a cross-site form post must not reach the bot"
    assert (await api.post("/api/command", json={"user": "U0NOBODY", "text": "/vpn help"})).status_code == 400
    assert (await api.post("/api/command", json={"user": REQUESTER.id, "text": "/deploy"})).status_code == 400
    page = await api.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


async def test_a_permalink_opens_the_page_at_its_message(api: httpx.AsyncClient) -> None:
    response = await api.get(f"/archives/{CHANNEL_ID}/p1700000000000100", params={"user": APPROVER.id})
    assert response.status_code == 302
    assert response.headers["location"] == f"/?user={APPROVER.id}#msg-1700000000.000100"


async def test_an_open_event_stream_does_not_hold_up_the_stop() -> None:
    """Ctrl-C with the page open: the server's shutdown ends the page's event stream at once (it used to wait
    for aiohttp's 60-second shutdown timeout, and the playground did not stop)."""
    loop = asyncio.get_running_loop()
    async with running_playground(0) as running, httpx.AsyncClient(base_url=running.url, timeout=WAIT) as client:
        stream = client.stream("GET", "/api/events")
        response = await stream.__aenter__()
        assert (await anext(response.aiter_lines())) == "event: changed"
        stopping = loop.time()
    assert loop.time() - stopping < 5.0
    await stream.__aexit__(None, None, None)


async def test_a_call_slack_would_refuse_shows_in_the_state(
    playground: RunningPlayground, api: httpx.AsyncClient
) -> None:
    """A Block Kit mistake shows in the playground before it shows in Slack: the stand-in refuses the call as Slack
    does (``invalid_blocks``), and every person's state lists the refusal."""
    slack = playground.workspace.slack
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    broken = [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}, "colour": "red"}]
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel=CHANNEL_ID, text="x", blocks=broken)
    assert refused.value.response["error"] == "invalid_blocks"
    seen = await state(api, OUTSIDER.id)
    assert seen["refusals_total"] == 1
    (refusal,) = seen["refusals"]
    assert refusal["method"] == "chat.postMessage"
    assert "colour" in refusal["problem"]
