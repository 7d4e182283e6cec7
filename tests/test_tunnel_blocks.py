"""The Block Kit of what a change does to the tunnel (``bot.slack.tunnel`` and the change card), pure: every block
passes ``slack_sdk.models`` and the stand-in's checks of Slack's limits, data never brings markup into a mrkdwn text,
and a peer configuration is shown whole, inside its code blocks."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from items import connection
from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock

from bot.changes import PeerConfig, WatchEvent
from bot.playground.slack_api import block_problems
from bot.slack import blocks, tunnel
from bot.vpn.change import ChangeRequest, ChangeState, EndKind
from bot.vpn.connection import TEXT_MAX
from bot.vpn.edit import propose
from bot.vpn.watch import Watch, WatchState

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
REQUESTER, APPROVER = "U0REQUEST", "U0APPROVER"
EDITS = {
    "none": {"vpnConnName": "office-renamed"},
    "timing": {"IKESet.ikeSaLifetimeSeconds": "3600"},
    "selectors": {"userGwCidrBlock": "192.168.1.0/24\n10.9.0.0/16"},
    "proposal": {"IKESet.dhGroupName": "group14"},
    "key": {"preSharedKey": "NewKey-12345"},
    "must_not": {"IPsecSet.encryptAlgorithm": "des-cbc", "IKESet.dhGroupName": "group1"},
}
HOSTILE = (
    "<!channel>",
    "<https://evil.example|x>",
    "a & b <@U0VICTIM> <#C0SECRET>",
    "\u202egnp.exe",
    "line one\nline two\r\n*bold* `tick` ```fence```",
    "x" * 10_000,
)
ESCAPED_ENTITY = re.compile(r"&(amp|lt|gt);")
SLACK_SEQUENCE = re.compile(r"<@[UW][A-Z0-9]{2,30}>|<!date\^\d+\^[^<>|]*\|[^<>]*>")


def request(kind: str = "key", **changes: Any) -> ChangeRequest:
    live = connection()
    made = ChangeRequest.from_proposal(
        live, propose(live.settings, EDITS[kind]), requester=REQUESTER, now=T0, ttl=timedelta(hours=1)
    )
    return replace(made, **changes)


def succeeded(kind: str = "key", **changes: Any) -> ChangeRequest:
    ended: dict[str, Any] = {
        "state": ChangeState.SUCCEEDED,
        "end": EndKind.TASK_SUCCEEDED,
        "approver": APPROVER,
        "approved_at": T0 + timedelta(minutes=1),
        "task_id": 4242,
        "finished_at": T0 + timedelta(minutes=2),
    }
    return request(kind, **{**ended, **changes})


def watches() -> Iterator[tuple[Watch, WatchEvent]]:
    """A watch for every event, in every state it can be told in."""
    start = Watch("chg-abcdefgh23", "vpnx-ol6bcqp0", T0, T0 + timedelta(minutes=5), last_status="net status available")
    down = replace(start, down_since=T0 + timedelta(minutes=1), last_status="net status unavailable")
    back = replace(down, up_again_at=T0 + timedelta(minutes=3), last_status="net status available")
    yield start, WatchEvent.STARTED
    yield replace(start, state=WatchState.NOT_NEEDED), WatchEvent.NOT_NEEDED
    yield replace(down, announced_down=False), WatchEvent.DOWN
    yield back, WatchEvent.UP_AGAIN
    yield replace(start, state=WatchState.UP), WatchEvent.ENDED
    yield replace(back, state=WatchState.UP), WatchEvent.ENDED
    yield replace(down, state=WatchState.DOWN), WatchEvent.ENDED
    yield replace(start, state=WatchState.UNREADABLE, last_status=""), WatchEvent.ENDED


def rendered(built: Sequence[Block]) -> list[dict[str, Any]]:
    """``built`` as sent, after proving each block valid: it renders, Slack's limits hold, and ``Block.parse`` of
    what was sent gives the same block back."""
    sent = [block.to_dict() for block in built]
    assert block_problems(sent) == [], block_problems(sent)
    for block in sent:
        parsed = Block.parse(copy.deepcopy(block))
        assert parsed is not None, block
        parsed.validate_json()
        assert parsed.to_dict() == block
    return sent


def mrkdwn_texts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            yield str(node["text"])
        for value in node.values():
            yield from mrkdwn_texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from mrkdwn_texts(value)


def everything_built(req: ChangeRequest, configs: Sequence[PeerConfig] = ()) -> Iterator[tuple[str, list[Any]]]:
    """Every message the tunnel module and the card make for ``req``: (fallback text, rendered blocks). The card
    gets the name as long as the cloud's can be (``TEXT_MAX``): ``blocks.change_card`` does not cut it."""
    card = replace(req, conn_name=req.conn_name[:TEXT_MAX], peer=req.peer[: 2 * TEXT_MAX + 2])
    yield "", rendered(blocks.change_card(card, blocked=req.blocked_by("block")))
    yield "", rendered([SectionBlock(text=MarkdownTextObject(text=tunnel.impact_text(req)))])
    yield "", rendered([tunnel.revert_actions(req)])
    for message in tunnel.peer_config_messages(req, configs or (PeerConfig("strongswan", "strongSwan", "a\n"),)):
        yield "", rendered(message)
    for watch, event in watches():
        yield tunnel.watch_line(req, watch, event), []
        reply = tunnel.watch_reply(req, watch, event)
        if reply is not None:
            yield reply[0], rendered(reply[1])


def assert_inert(text: str) -> None:
    """No markup but Slack's own sequences the bot builds: mentions of Slack-shaped ids and dates."""
    bare = ESCAPED_ENTITY.sub("", SLACK_SEQUENCE.sub("", text))
    assert not set("<>&") & set(bare), text[:400]
    assert "\u202e" not in text


# -- validity ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(EDITS))
@pytest.mark.parametrize(
    "state",
    [ChangeState.PENDING, ChangeState.RUNNING, ChangeState.SUCCEEDED, ChangeState.FAILED, ChangeState.REJECTED],
)
def test_every_block_is_one_slack_accepts(kind: str, state: ChangeState) -> None:
    req = succeeded(kind) if state is ChangeState.SUCCEEDED else request(kind, state=state)
    if kind == "none":
        req = replace(req, revert_of="chg-zyxwvuts22")
    messages = list(everything_built(req, (PeerConfig("cisco", "Cisco IOS", "crypto isakmp\n"),)))
    assert len(messages) >= 10
    for fallback, sent in messages:
        assert_inert(fallback)
        for text in mrkdwn_texts(sent):
            assert_inert(text)


def test_the_card_leads_with_the_worst_impact_and_marks_the_crypto() -> None:
    card = rendered(blocks.change_card(request("must_not"), blocked=request("must_not").blocked_by("block")))
    texts = "\n".join(mrkdwn_texts(card))
    assert "stays down until the peer offers the new proposal" in texts
    assert "*Brings in*" in texts
    assert "MUST NOT" in texts
    assert "RFC 8221" in texts
    assert "cannot be approved" in texts
    (table,) = [block for block in card if block["type"] == "table"]
    assert table["rows"][0][-1]["text"] == "Effect on the tunnel"
    strengthening = "\n".join(mrkdwn_texts(rendered(blocks.change_card(request("proposal"))))).lower()
    assert "only strengthens" in strengthening
    name_only = "\n".join(mrkdwn_texts(rendered(blocks.change_card(request("none")))))
    assert "Brings in" not in name_only
    assert "Weakens" not in name_only
    assert "cannot be approved" not in name_only


@pytest.mark.parametrize(("watch", "event"), list(watches()))
def test_every_watch_event_has_its_words(watch: Watch, event: WatchEvent) -> None:
    req = succeeded()
    line = tunnel.watch_line(req, watch, event)
    assert_inert(line)
    reply = tunnel.watch_reply(req, watch, event)
    if event is WatchEvent.STARTED:
        assert reply is None  # the status message's line says it
        assert "watching until <!date^" in line
        return
    assert reply is not None
    text, built = reply[0], rendered(reply[1])
    assert_inert(text)
    if event is WatchEvent.DOWN or (event is WatchEvent.ENDED and watch.state is WatchState.DOWN):
        assert f"<@{REQUESTER}>" in text
        assert f"<@{APPROVER}>" in text
        assert actions_of(built) == ["revert_change"]
    else:
        assert actions_of(built) == []
    expected = {
        WatchState.UP: "Tunnel up",
        WatchState.DOWN: "still down",
        WatchState.UNREADABLE: "state is not known",
        WatchState.NOT_NEEDED: "not watched",
    }
    if event is WatchEvent.ENDED or event is WatchEvent.NOT_NEEDED:
        assert expected[watch.state] in text
    if event is WatchEvent.DOWN:
        assert f"<!date^{int(T0.timestamp()) + 60}^" in text  # since the reading that saw it down


# -- hostile data ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", HOSTILE, ids=lambda h: repr(h[:20]))
def test_hostile_data_reaches_no_text_as_markup(hostile: str) -> None:
    short = hostile[:60]  # ids are validated where they are read (at most 64 characters); try them anyway
    req = succeeded(
        "must_not",
        conn_name=hostile,
        peer=hostile,
        requester=short,
        approver=short,
        vpn_conn_id=short,
        vpc_id=short,
        vpn_gw_id=short,
        revert_of=short,
        reason=hostile,
        outcome_message=hostile,
    )
    configs = (
        PeerConfig(hostile, hostile, hostile),
        PeerConfig(hostile, hostile, problem=hostile),
        PeerConfig("strongswan", "strongSwan", f"connections {{\n  # {hostile}\n}}\n"),
    )
    hostile_watch = [(replace(w, last_status=hostile), e) for w, e in watches()]
    messages = list(everything_built(req, configs))
    for watch, event in hostile_watch:
        messages.append((tunnel.watch_line(req, watch, event), []))
        reply = tunnel.watch_reply(req, watch, event)
        if reply is not None:
            messages.append((reply[0], rendered(reply[1])))
    for fallback, sent in messages:
        for text in [fallback, *mrkdwn_texts(sent)]:
            assert_inert(text)
            assert re.findall(r"<[@#!][^d]", text) == []  # no mention: requester and approver here are not ids


def test_a_mention_is_made_only_of_slack_shaped_ids() -> None:
    req = succeeded(requester="U0REQUEST", approver="<!here>")
    down = next(w for w, e in watches() if e is WatchEvent.DOWN)
    reply = tunnel.watch_reply(req, down, WatchEvent.DOWN)
    assert reply is not None
    assert "<@U0REQUEST>" in reply[0]
    assert "<!here>" not in reply[0]
    assert "&lt;!here&gt;" in reply[0]


# -- the peer's configuration ------------------------------------------------------------------------------------

FENCE = "```"


def code_blocks(messages: Sequence[Sequence[Block]], title: str) -> list[str]:
    """The code blocks of the configuration titled ``title``, in order, as Slack shows them (un-escaped)."""
    found = []
    for message in messages:
        for text in mrkdwn_texts(rendered(message)):
            if not text.startswith(f"*{title}*"):
                continue
            body = text.split("\n", 1)[1]
            assert body.startswith(FENCE), text[:200]
            assert body.endswith(FENCE), text[-200:]
            inner = body[len(FENCE) : -len(FENCE)]
            assert FENCE not in inner  # nothing inside closes the block early
            found.append(inner.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    return found


def big_config() -> str:
    lines = []
    for n in range(200):
        lines.append(f"    children-{n} {{ local_ts = 10.{n % 256}.0.0/16 & <192.168.{n % 256}.0/24> }}\n")
    lines.append("# " + "&<>" * 1500 + "\n")  # one line longer than a section, nearly all of it escaped
    lines.append("secret = <pre-shared key: set it here>\n")
    lines.append("\tindented\r\nlast line without its end")
    text = "".join(lines)
    assert len(text) < 20_000
    return text + "z" * (20_000 - len(text))


def test_a_20000_character_configuration_is_shown_whole_in_sections_and_messages() -> None:
    text = big_config()
    assert len(text) == 20_000
    titles = ("strongSwan (swanctl.conf)", "Cisco IOS", "Tencent", "one more", "and another", "the last")
    configs = [PeerConfig("strongswan", title, text) for title in titles]
    messages = tunnel.peer_config_messages(succeeded(), configs)
    assert len(messages) >= 2  # more blocks than one message holds
    for message in messages:
        assert len(message) <= 50
        for block in rendered(message):
            for chunk in mrkdwn_texts(block):
                assert len(chunk) <= 3000
    for title in titles:
        parts = code_blocks(messages, title)
        assert len(parts) > 7
        assert "".join(parts) == text


def test_a_configuration_that_could_not_be_made_says_why() -> None:
    configs = (PeerConfig("cisco", "Cisco IOS", problem="IPsecSet.encryptAlgorithm sm4 has no IOS equivalent"),)
    (message,) = tunnel.peer_config_messages(succeeded(), configs)
    shown = "\n".join(mrkdwn_texts(rendered(message)))
    assert "not available" in shown
    assert "sm4 has no IOS equivalent" in shown
    assert "pre-shared key is never shown" in shown


@pytest.mark.parametrize(
    "text",
    [
        "before\n```\n<!here> *pinged* <https://evil.example|click>\n```\nafter\n",
        "`",
        "``",
        "ends with a tick`",
        "`starts with a tick",
        "````\n",
        "a \u202e reversed \u200b hidden\tand a tab\n",
    ],
)
def test_a_configuration_cannot_break_out_of_its_code_block_or_ping(text: str) -> None:
    """Slack's mrkdwn has no escape for a backtick, and a code block ends at the first three: a configuration
    holding backticks has each shown as ˋ, and characters that hide or reorder text as escapes, with a note saying
    so; tabs and line breaks are kept."""
    messages = tunnel.peer_config_messages(succeeded(), (PeerConfig("tencent", "Tencent", text),))
    shown = [t for m in messages for t in mrkdwn_texts(rendered(m))]
    for one in shown:
        assert_inert(one)
    assert "<!here>" not in "".join(shown)
    (code,) = code_blocks(messages, "Tencent")
    assert "`" not in code
    assert code.replace("\u02cb", "`") == text.replace("\u202e", "\\u202e").replace("\u200b", "\\u200b")
    noted = any("shown as" in one for one in shown)
    assert noted is (code != text)


# -- the buttons -------------------------------------------------------------------------------------------------


def actions_of(sent: Sequence[dict[str, Any]]) -> list[str]:
    return [
        element["action_id"]
        for block in sent
        if block["type"] == "actions"
        for element in block["elements"]
        if element.get("type") == "button"
    ]


@pytest.mark.parametrize(
    ("req", "expected"),
    [
        (request(), ["approve_change", "reject_change"]),
        (request(state=ChangeState.REJECTED, end=EndKind.REJECTED), []),
        (request(state=ChangeState.RUNNING, task_id=1), []),
        (succeeded(), ["revert_change"]),
        (request(state=ChangeState.STALE, end=EndKind.STALE), ["review_again"]),
        (request(state=ChangeState.FAILED, end=EndKind.NOT_SENT), ["review_again"]),
        (request("must_not", state=ChangeState.FAILED, end=EndKind.TASK_FAILED), ["review_again"]),
        (
            request(
                "must_not", state=ChangeState.FAILED, end=EndKind.TASK_FAILED, not_live=["IPsecSet.encryptAlgorithm"]
            ),
            ["review_again", "revert_change"],  # failed halfway: one value is live, so there is something to revert
        ),
    ],
    ids=["pending", "rejected", "running", "succeeded", "stale", "failed", "failed-nothing-live", "failed-halfway"],
)
def test_the_card_offers_the_buttons_its_state_allows(req: ChangeRequest, expected: list[str]) -> None:
    sent = rendered(blocks.change_card(req))
    assert actions_of(sent) == expected
    for block in sent:
        for element in block.get("elements", []):
            if isinstance(element, dict) and element.get("action_id") == "revert_change":
                assert element["value"] == req.id
                assert "second person" in element["confirm"]["text"]["text"]


def test_a_down_reply_offers_revert_with_the_request_id() -> None:
    req = succeeded()
    down = next(w for w, e in watches() if e is WatchEvent.DOWN)
    reply = tunnel.watch_reply(req, down, WatchEvent.DOWN)
    assert reply is not None
    (button,) = [e for b in rendered(reply[1]) if b["type"] == "actions" for e in b["elements"]]
    assert (button["action_id"], button["value"]) == ("revert_change", req.id)
    up = next(w for w, e in watches() if e is WatchEvent.UP_AGAIN)
    reply_up = tunnel.watch_reply(req, up, WatchEvent.UP_AGAIN)
    assert reply_up is not None
    assert actions_of(rendered(reply_up[1])) == []
