"""The App Home tab: the view is valid Block Kit however many and however named the requests are; the change
service's queries behind it; and, end to end over real HTTP (signed ``app_home_opened`` events into the bot, the
bot's ``views.publish`` into the Slack stand-in), each person sees what waits for them, what they asked for and
what runs now, linked to the cards.

The end-to-end cases run under the default cloud dialect only: the home tab reads the store, never the cloud, and
the dialects differ only in how an edit is followed, which the other end-to-end modules cover.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from botharness import APPROVER, CHANNEL, GROUP_MEMBER, REQUESTER, STRANGER, WAIT, Harness, harness
from items import connection
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.changes import Background, ChangeService
from bot.config import Settings
from bot.playground.slack_api import view_problems
from bot.playground.slack_payloads import (
    JSON_CONTENT_TYPE,
    app_dm_channel,
    app_home_opened_payload,
    decode_body,
    event_body,
    sign,
)
from bot.slack import home
from bot.slack.home import EMPTY_MINE, EMPTY_RUNNING, EMPTY_WAITING, HomeSections, home_view, sort_requests
from bot.slack.listeners.events import HomeTabs
from bot.slack.records import SlackRecord
from bot.store import Store
from bot.vpn.change import ChangeRequest, ChangeState
from bot.vpn.edit import propose
from bot.vpn.watch import Watch, WatchState

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=30)
S = ChangeState
HOSTILE_NAMES = (
    "<!channel> now",
    "<https://evil.example|click me>",
    "a & b <@U0BOSS> &amp;",
    "\u202eevil\u200b",
    "n" * 3000,
)
WAITING, MINE, RUNNING = home.WAITING_TITLE, home.MINE_TITLE, home.RUNNING_TITLE


def request(
    name: str = "office-shanghai",
    *,
    requester: str = REQUESTER,
    state: ChangeState = S.PENDING,
    conn_id: str = "vpnx-ol6bcqp0",
    minutes: int = 0,
) -> ChangeRequest:
    conn = connection(unVpnConnId=conn_id)
    made = ChangeRequest.from_proposal(
        conn,
        propose(conn.settings, {"vpnConnName": "renamed"}),
        requester=requester,
        now=T0 + timedelta(minutes=minutes),
        ttl=timedelta(hours=24),
    )
    made = replace(made, conn_name=name, state=state)
    if state is not S.PENDING:
        made = replace(made, approver=APPROVER, approved_at=T0 + timedelta(minutes=minutes + 1))
    if state in home.RUNNING_STATES:
        made = replace(made, task_id=4242, task_started_at=T0 + timedelta(minutes=minutes + 2))
    return made


def rendered(view: View) -> dict[str, Any]:
    """The view as sent, checked as Slack would check it."""
    sent = view.to_dict()
    assert View(**json.loads(json.dumps(sent))).to_dict() == sent
    assert view_problems(sent) == []
    assert len(sent["blocks"]) <= 100
    assert len(json.dumps(sent)) < 250_000
    for block in sent["blocks"]:
        text = (block.get("text") or {}).get("text", "")
        assert len(text) <= 3000
    return sent


def sections_of(view: dict[str, Any]) -> dict[str, list[str]]:
    """Each section's title (without its count) and the texts of the blocks under it, up to the next divider."""
    found: dict[str, list[str]] = {}
    title: str | None = None
    for block in view["blocks"]:
        if block["type"] == "divider":
            title = None
        elif block["type"] == "header":
            title = re.sub(r" \(\d+\)$", "", block["text"]["text"])
            found[title] = []
        elif title is not None:
            texts = [block.get("text") or {}, *block.get("elements", [])]
            found[title].append(" ".join(str(t.get("text", "")) for t in texts))
    return found


def items_under(view: dict[str, Any], title: str) -> list[str]:
    return sections_of(view)[title]


# -- the view ----------------------------------------------------------------------------------------------------


def test_an_empty_home_says_so_in_each_section() -> None:
    sent = rendered(home_view(STRANGER, HomeSections(), {}, NOW))
    assert sent["type"] == "home"
    assert sections_of(sent)[WAITING] == [EMPTY_WAITING]
    assert sections_of(sent)[MINE] == [EMPTY_MINE]
    assert sections_of(sent)[RUNNING] == [EMPTY_RUNNING]
    shown = json.dumps(sent)
    assert "/vpn edit &lt;vpnConnId&gt;" in shown
    assert f"<@{STRANGER}>" in shown
    assert f"<!date^{int(NOW.timestamp())}^" in shown


def test_many_requests_are_cut_per_section_with_a_line_saying_how_many_more() -> None:
    pending = [request(f"conn-{i}", conn_id=f"vpnx-p{i:06d}", requester="U0OTHER", minutes=i) for i in range(40)]
    mine = [
        request(f"mine-{i}", conn_id=f"vpnx-m{i:06d}", state=S.APPROVED, requester=APPROVER, minutes=i)
        for i in range(20)
    ]
    running = [
        request(f"run-{i}", conn_id=f"vpnx-r{i:06d}", state=S.RUNNING, requester="U0X", minutes=i) for i in range(16)
    ]
    everything = pending + mine + running
    sections = sort_requests(APPROVER, everything, {r.id for r in pending})
    links = {r.id: f"https://example.slack.com/archives/C0VPNOPS/p{i:016d}" for i, r in enumerate(everything)}
    sent = rendered(home_view(APPROVER, sections, links, NOW))
    found = sections_of(sent)
    assert len(found[WAITING]) == home.SECTION_CAP + 1
    assert "and 25 more" in found[WAITING][-1]
    assert "/vpn status" in found[WAITING][-1]
    assert len(found[MINE]) == home.SECTION_CAP + 1
    assert "and 5 more" in found[MINE][-1]
    assert len(found[RUNNING]) == home.SECTION_CAP + 1
    assert "and 1 more" in found[RUNNING][-1]
    assert f"<{links[pending[0].id]}|conn-0>" in found[WAITING][0]  # the oldest first
    assert len(sections.shown()) == 3 * home.SECTION_CAP


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_and_links_are_escaped(name: str) -> None:
    hostile = replace(request(name, state=S.RUNNING), vpn_conn_id="vpnx-<!here>", requester="<!channel>")
    sections = sort_requests(REQUESTER, [hostile], set())
    for links in ({hostile.id: "https://example.slack.com/archives/C0VPNOPS/p1"}, {hostile.id: "javascript:x|<!here>"}):
        sent = rendered(home_view(REQUESTER, sections, links, NOW))
        shown = json.dumps(sent, ensure_ascii=False)
        for raw in ("<!channel>", "<!here>", "<https://evil", "<@U0BOSS>", "\u202e", "\u200b", "javascript:"):
            assert raw not in shown
        (item,) = items_under(sent, RUNNING)
        assert "&lt;!here&gt;" in item
        if "&" in name:
            assert "&amp;" in item
    if len(name) > home.NAME_MAX:
        assert "more characters)" in item
        assert len(item) < 1000


def test_the_sections_sort_requests_for_one_person() -> None:
    theirs = request("theirs", requester="U0OTHER")
    own = request("own", requester=APPROVER, conn_id="vpnx-own00001")
    approved = request("approved", state=S.APPROVED, requester=APPROVER, conn_id="vpnx-apr00001")
    submitting = request("submitting", state=S.SUBMITTING, conn_id="vpnx-sub00001")
    unknown = request("unknown", state=S.UNKNOWN, requester=APPROVER, conn_id="vpnx-unk00001")
    done = replace(request("done", conn_id="vpnx-don00001"), state=S.SUCCEEDED)
    watch = Watch(done.id, done.vpn_conn_id, NOW, NOW + timedelta(minutes=5))
    unfinished = [theirs, own, approved, submitting, unknown]
    sections = sort_requests(APPROVER, unfinished, {theirs.id, approved.id}, [(done, watch)], blocked={theirs.id})
    assert sections.waiting == (theirs,)  # not approved: it is no longer pending
    assert sections.mine == (own, approved, unknown)
    assert sections.running == (submitting, done)
    sent = rendered(home_view(APPROVER, sections, {}, NOW))
    (watched_item,) = [t for t in items_under(sent, RUNNING) if "done" in t]
    assert f"tunnel watched until <!date^{int(watch.ends_at.timestamp())}^" in watched_item
    (waiting,) = items_under(sent, WAITING)
    assert "VPNBOT_CRYPTO_POLICY" in waiting
    assert "asked by <@U0OTHER>" in waiting
    assert "expires <!date^" in waiting
    cli = replace(request("cli", requester=APPROVER, conn_id="vpnx-cli00001"), front="cli")
    (item,) = items_under(rendered(home_view(APPROVER, sort_requests(APPROVER, [cli], ()), {}, NOW)), MINE)
    assert "no card" in item


def test_the_manifest_declares_the_home_tab_and_its_event() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]
    assert manifest["features"]["app_home"] == {
        "home_tab_enabled": True,
        "messages_tab_enabled": True,  # the requester's direct messages about decisions are read there
        "messages_tab_read_only_enabled": True,
    }
    assert "event_subscriptions.request_url" in (ROOT / "manifest.yml").read_text()


def test_the_event_is_shaped_as_slack_sends_it() -> None:
    payload = app_home_opened_payload(APPROVER, view={"id": "V1", "type": "home", "blocks": [], "hash": "1.a"})
    assert payload["type"] == "event_callback"
    assert re.fullmatch(r"Ev[A-Z0-9]{9,11}", payload["event_id"])
    assert payload["event"]["channel"] == app_dm_channel(APPROVER) != app_dm_channel(STRANGER)
    assert payload["event"]["channel"].startswith("D")
    assert payload["event"]["view"]["hash"] == "1.a"
    assert payload["authorizations"][0]["is_bot"] is True
    assert isinstance(payload["event_context"], str)
    assert isinstance(payload["event_time"], int)
    body = event_body(payload)
    assert json.loads(body) == payload
    assert sign(body, "s")["Content-Type"] == JSON_CONTENT_TYPE
    assert "view" not in app_home_opened_payload(APPROVER, tab="messages")["event"]
    form = b"payload=%7B%7D"
    assert sign(form, "s")["Content-Type"] == "application/x-www-form-urlencoded"
    assert decode_body(form) == {}


# -- the service's queries ---------------------------------------------------------------------------------------


class Approvers:
    def __init__(self, people: Sequence[str], *, allow_self_approval: bool = False) -> None:
        self.people = frozenset(people)
        self.allow_self_approval = allow_self_approval
        self.asked: list[tuple[str, bool]] = []

    @property
    def configured(self) -> bool:
        return bool(self.people)

    async def may_approve(self, person: str, *, fresh: bool = True) -> bool:
        self.asked.append((person, fresh))
        return person in self.people


async def test_the_service_lists_unfinished_and_watched_requests_and_who_may_approve(tmp_path: Path) -> None:
    async with Store.open(tmp_path / "state.sqlite") as store:
        clock = [NOW]
        service = ChangeService(
            Settings(_env_file=None),  # type: ignore[call-arg]
            None,  # type: ignore[arg-type]  # the queries never reach the cloud
            store,
            None,  # type: ignore[arg-type]
            Background(),
            clock=lambda: clock[0],
        )
        pending = request("pending", conn_id="vpnx-pen00001")
        old = replace(request("old", conn_id="vpnx-old00001"), expires_at=NOW - timedelta(seconds=1))
        running = request("running", conn_id="vpnx-run00001", requester="U0OTHER", minutes=1)
        done = request("done", conn_id="vpnx-don00001", requester="U0OTHER")
        for made in (pending, old, running, done):
            await store.create(made, None)
        for before, after in ((S.PENDING, S.APPROVED), (S.APPROVED, S.SUBMITTING), (S.SUBMITTING, S.RUNNING)):
            for moved in (running, done):
                await store.claim(moved.id, [before], after, actor="vpnbot", at=NOW)
        await store.claim(done.id, [S.RUNNING], S.SUCCEEDED, actor="vpnbot", at=NOW)
        await store.save_watch(Watch(done.id, done.vpn_conn_id, NOW, NOW + timedelta(minutes=5)))
        ended = request("ended", conn_id="vpnx-end00001", requester="U0OTHER")
        await store.create(ended, None)
        await store.claim(ended.id, [S.PENDING], S.REJECTED, actor=APPROVER, at=NOW)

        assert [r.id for r in await service.unfinished()] == [pending.id, running.id]
        assert [(r.id, w.request_id) for r, w in await service.watched()] == [(done.id, done.id)]
        clock[0] = NOW + timedelta(minutes=6)  # the window is over, though nothing closed the watch yet
        assert await service.watched() == []
        await store.save_watch(Watch(done.id, done.vpn_conn_id, NOW, clock[0] + timedelta(minutes=1), WatchState.UP))
        assert await service.watched() == []  # ended
        clock[0] = NOW

        approvers = Approvers([APPROVER, REQUESTER])
        stored = await store.get(pending.id)
        assert stored is not None
        assert await service.may_approve(stored, APPROVER, approvers)
        assert not await service.may_approve(stored, REQUESTER, approvers)  # their own
        assert not await service.may_approve(stored, STRANGER, approvers)
        assert await service.may_approve(stored, REQUESTER, Approvers([REQUESTER], allow_self_approval=True))
        running_now = await store.get(running.id)
        assert running_now is not None
        assert not await service.may_approve(running_now, APPROVER, approvers)
        clock[0] = stored.expires_at
        assert not await service.may_approve(stored, APPROVER, approvers)  # its time is up
        assert approvers.asked
        assert all(fresh is False for _, fresh in approvers.asked)


# -- end to end --------------------------------------------------------------------------------------------------


async def open_home(h: Harness, user_id: str, tab: str = "home") -> dict[str, Any]:
    """``user_id`` opens the Home tab: the view published for them after it."""
    before = len(h.slack.calls("views.publish"))
    payload = app_home_opened_payload(user_id, tab=tab, view=h.slack.home(user_id))
    response = await h.post(event_body(payload))
    assert response.status_code == 200
    await h.slack.wait_for("views.publish", count=before + 1, timeout=WAIT)
    view = h.slack.home(user_id)
    assert view is not None
    return view


async def permalink(h: Harness, channel: str | None, ts: str | None) -> str:
    """What ``chat.getPermalink`` answers for a message (the stand-in's, as Slack's)."""
    client = AsyncWebClient(token=h.slack.bot_token, base_url=h.slack.api_url)
    answer = await client.chat_getPermalink(channel=channel, message_ts=ts)
    return str(answer["permalink"])


def request_id_of(card: dict[str, Any]) -> str:
    found = re.search(r"chg-[a-z2-7]{10}", json.dumps(card["blocks"]))
    assert found is not None
    return found.group(0)


async def state_of(h: Harness, request_id: str, wanted: ChangeState, seconds: float = WAIT) -> None:
    async with asyncio.timeout(seconds):
        while True:
            found = await h.bot.context.service.get(request_id)
            if found is not None and found.state is wanted:
                return
            await asyncio.sleep(0.02)


async def test_each_person_sees_what_waits_for_them_and_what_they_asked(tmp_path: Path) -> None:
    # The requester is an approver too: their own request still does not wait for them (no self-approval).
    async with harness(tmp_path, vpnbot_approvers=f"{APPROVER},{REQUESTER},S0NETOPS") as h:
        card = await h.propose({"vpnConnName": "office-renamed"})
        request_id = request_id_of(card)
        link = await permalink(h, CHANNEL, card["ts"])

        for approver in (APPROVER, GROUP_MEMBER):
            (item,) = items_under(await open_home(h, approver), WAITING)
            assert f"<{link}|office-shanghai>" in item
            assert request_id in item
            assert "vpnx-ol6bcqp0" in item
            assert f"asked by <@{REQUESTER}>" in item
            assert "*pending*" in item

        mine = await open_home(h, REQUESTER)
        assert items_under(mine, WAITING) == [EMPTY_WAITING]  # their own: not theirs to approve
        (item,) = items_under(mine, MINE)
        assert f"<{link}|office-shanghai>" in item

        stranger = await open_home(h, STRANGER)
        assert items_under(stranger, WAITING) == [EMPTY_WAITING]
        assert items_under(stranger, MINE) == [EMPTY_MINE]
        assert items_under(stranger, RUNNING) == [EMPTY_RUNNING]
        for call in h.slack.calls("views.publish"):
            assert rendered(View(**call.args["view"])) == call.args["view"]

        response = await h.click("approve_change", card, APPROVER)
        assert response.status_code == 200
        await h.wait_thread_text(card, "Verified: every proposed value is live")
        await state_of(h, request_id, S.SUCCEEDED)
        for person in (APPROVER, REQUESTER, GROUP_MEMBER):
            after = await open_home(h, person)
            assert items_under(after, WAITING) == [EMPTY_WAITING]
            assert items_under(after, MINE) == [EMPTY_MINE]
            assert items_under(after, RUNNING) == [EMPTY_RUNNING]


async def test_a_running_change_shows_under_running_now_for_anyone(tmp_path: Path) -> None:
    async with harness(tmp_path, task_seconds=5) as h:
        card = await h.propose({"vpnConnName": "office-renamed"})
        request_id = request_id_of(card)
        await h.click("approve_change", card, APPROVER)
        await state_of(h, request_id, S.RUNNING)
        (item,) = items_under(await open_home(h, STRANGER), RUNNING)
        assert request_id in item
        assert "*running*" in item
        assert f"approved by <@{APPROVER}>" in item
        assert f"<{await permalink(h, CHANNEL, card['ts'])}|office-shanghai>" in item
        (item,) = items_under(await open_home(h, REQUESTER), MINE)
        assert "*running*" in item


async def test_the_messages_tab_publishes_nothing(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        for user_id in (REQUESTER, "not-a-user", "U0REQUEST<!channel>"):
            payload = app_home_opened_payload(user_id, tab="messages" if user_id == REQUESTER else "home")
            response = await h.post(event_body(payload))
            assert response.status_code == 200
        await asyncio.sleep(0.5)  # past the quiet moment a publish would wait for
        assert h.slack.calls("views.publish") == []
        await open_home(h, REQUESTER)
        await asyncio.sleep(0.3)
        assert len(h.slack.calls("views.publish")) == 1


async def test_a_card_link_slack_must_give_is_asked_for_once(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        card = await h.propose({"vpnConnName": "office-renamed"})
        request_id = request_id_of(card)
        store = h.bot.context.store
        record = SlackRecord.from_json(await store.front_record(request_id))
        assert record.link == await permalink(h, record.channel, record.card_ts)
        await store.save_front_record(request_id, record.with_(link=None).to_json())  # auth.test had failed
        before = len(h.slack.calls("chat.getPermalink"))
        for _ in range(3):
            (item,) = items_under(await open_home(h, APPROVER), WAITING)
            assert f"<{record.link}|office-shanghai>" in item
        assert len(h.slack.calls("chat.getPermalink")) == before + 1


async def test_a_change_republishes_the_tabs_of_recent_openers_it_concerns_once(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        card = await h.propose({"vpnConnName": "office-renamed"})
        request = await h.bot.context.service.get(request_id_of(card))
        assert request is not None
        homes = HomeTabs(h.bot.context, refresh_delay=0.1)
        homes.changed(request)  # nobody opened a tab yet: nothing to do
        assert homes.recent_openers() == []
        homes.opened(APPROVER)
        homes.opened(STRANGER)
        await h.slack.wait_for("views.publish", count=2, timeout=WAIT)
        for _ in range(5):
            homes.changed(request)
        await h.slack.wait_for("views.publish", count=3, timeout=WAIT)
        await asyncio.sleep(0.4)
        published = [c.args["user_id"] for c in h.slack.calls("views.publish")]
        assert sorted(published[:2]) == [APPROVER, STRANGER]
        assert published[2:] == [APPROVER]  # the stranger's tab is not theirs to refresh
        assert homes.recent_openers() == [APPROVER, STRANGER]


async def test_an_open_home_tab_follows_the_card_without_being_opened_again(tmp_path: Path) -> None:
    """The bot's notifier tells the Home tabs when a card changes: the approver's tab, opened while the card waited,
    is republished once the change is decided and done, with no second ``app_home_opened``."""
    async with harness(tmp_path) as h:
        card = await h.propose({"vpnConnName": "office-renamed"})
        (item,) = items_under(await open_home(h, APPROVER), WAITING)
        assert request_id_of(card) in item
        events_before = len(h.responses)
        response = await h.click("approve_change", card, APPROVER)
        assert response.status_code == 200
        await h.wait_thread_text(card, "Verified: every proposed value is live")

        def settled() -> bool:
            home = h.slack.home(APPROVER)
            return home is not None and items_under(home, WAITING) == [EMPTY_WAITING]

        await h.slack.wait_until(settled, timeout=WAIT, what="the approver's tab republished")
        assert len(h.responses) == events_before + 1, "only the click was sent: no app_home_opened again"
