"""The playground's page shows in a real browser what the bot sends: every Block Kit kind ``bot.playground.kinds``
lists, Slack's mrkdwn, hostile text as the text it is, and the bot's own cards and forms; and it behaves as Slack's
client does (the modal's own validation, confirm dialogs, threads, anchors, the composer).

One Chromium and one page serve the whole module (``?render-test=1``: the page fetches nothing, renders on demand
through ``window.playground`` and records what it would POST); each test starts from a cleared page and fails on
any page error or console error, and on any request the page makes to anything but its own files.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from browser import WatchedPage, launched, serve_app, serve_static, watched_page
from items import connection
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
    ContextBlock,
    DatePickerElement,
    DividerBlock,
    FileBlock,
    HeaderBlock,
    ImageBlock,
    ImageElement,
    InputBlock,
    MarkdownBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    OptionGroup,
    OverflowMenuElement,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    RawTextObject,
    RichTextBlock,
    RichTextElementParts,
    RichTextListElement,
    RichTextPreformattedElement,
    RichTextQuoteElement,
    RichTextSectionElement,
    SectionBlock,
    StaticSelectElement,
    TableBlock,
    TableBlockColumnSettings,
    UserSelectElement,
    VideoBlock,
)

from bot.playground.kinds import RENDERED_BLOCKS, RENDERED_ELEMENTS, kinds_in, unrendered
from bot.playground.slack_api import block_problems, view_problems
from bot.slack import blocks as bot_blocks
from bot.slack.text import esc, slack_date
from bot.vpn.change import ChangeRequest
from bot.vpn.edit import propose

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

PAGE_DIR = Path(__file__).resolve().parent.parent / "bot" / "playground" / "page"
PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
ALICE, BOB, BOT = "U0ALICE", "U0BOB", "UBOT00001"
CHANNEL = "C0NETOPS"
SEED_CONN = "vpnx-ol6bcqp0"
STATE: dict[str, Any] = {
    "version": 1,
    "me": ALICE,
    "people": [
        {"id": ALICE, "name": "alice", "role": "requester"},
        {"id": BOB, "name": "bob", "role": "approver"},
    ],
    "groups": [{"id": "S0APPROVE", "handle": "netops-approvers", "name": "NetOps approvers", "members": [BOB]}],
    "channel": {"id": CHANNEL, "name": "netops"},
    "bot": {"id": BOT, "name": "vpnbot"},
    "messages": [],
    "ephemerals": [],
    "modal": None,
    "modal_errors": {},
    "home": None,
    "connections": [{"id": SEED_CONN, "name": "office-shanghai"}],
}
POST_PATHS = ("/api/command", "/api/action", "/api/submit", "/api/close", "/api/home")

RESET = """([state, paths]) => {
  document.getElementById('render-root').replaceChildren();
  if (!document.getElementById('confirm').hidden) document.getElementById('confirm-no').click();
  if (!document.getElementById('thread').hidden) document.getElementById('thread-close').click();
  if (!document.getElementById('peer').hidden) window.playground.togglePeer(false);
  document.getElementById('open-channel').click();
  history.replaceState(null, '', location.pathname + location.search);
  for (const path of paths) window.playground.answer(path, null);
  window.playground.loadState(state);
  document.getElementById('composer').value = '';
}"""

# A compact, exact picture of what a rendered text shows: text as is, and the formatting elements around it.
OUTLINE = """(root) => {
  const show = (n) => {
    if (n.nodeType === Node.TEXT_NODE) return n.textContent;
    if (n.nodeType !== Node.ELEMENT_NODE) return '';
    const inner = [...n.childNodes].map(show).join('');
    const tag = n.tagName.toLowerCase();
    if (n.classList.contains('pg-mention')) return `mention(${inner})`;
    if (n.classList.contains('pg-emoji')) return `emoji(${n.getAttribute('aria-label')})`;
    if (tag === 'a') return `a[${n.getAttribute('href')}](${inner})`;
    if (['strong', 'em', 'del', 'code', 'pre', 'blockquote', 'time'].includes(tag)) return `${tag}(${inner})`;
    return inner;
  };
  return show(root);
}"""


@dataclass
class Shown:
    watched: WatchedPage
    base: str

    @property
    def page(self) -> Page:
        return self.watched.page


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with launched() as launched_chromium:
        yield launched_chromium


@pytest.fixture(scope="module")
def shown(chromium: Browser) -> Iterator[Shown]:
    with serve_static(PAGE_DIR) as base, watched_page(chromium) as watched:
        watched.page.goto(f"{base}/index.html?render-test=1")
        watched.page.wait_for_function("() => window.playground !== undefined")
        yield Shown(watched, base)


@pytest.fixture
def page(shown: Shown) -> Iterator[Page]:
    """The module's page, cleared; after the test: no page error, no console error, nothing fetched from /api/ or
    from anywhere but the page's own server."""
    shown.page.evaluate(RESET, [STATE, list(POST_PATHS)])
    yield shown.page
    shown.watched.check()
    requested = list(shown.watched.requests)
    assert [url for url in requested if "/api/" in url] == []
    assert [url for url in requested if not url.startswith((shown.base, "data:"))] == []


def render(page: Page, blocks: list[dict[str, Any]], surface: str = "message") -> Locator:
    page.evaluate(
        "([blocks, surface]) => document.getElementById('render-root')"
        ".replaceChildren(window.playground.renderBlocks(blocks, {surface}))",
        [blocks, surface],
    )
    return page.locator("#render-root")


def outline(page: Page, mrkdwn: str) -> str:
    root = render(page, [{"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}])
    return str(root.locator(".pg-section-text").evaluate(OUTLINE))


def dump(*blocks: Block) -> list[dict[str, Any]]:
    return [b.to_dict() for b in blocks]


def posts(page: Page) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = page.evaluate("window.playground.posted()")
    return answer


def load(page: Page, **changes: Any) -> None:
    page.evaluate("(state) => window.playground.loadState(state)", {**STATE, **changes})


def opt(text: str, value: str | None = None) -> Option:
    return Option(text=text, value=value or text)


def texts(locator: Locator) -> list[str]:
    return [t.strip() for t in locator.all_inner_texts()]


# --- 1. every kind the page renders ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    kind: tuple[str, str]
    blocks: list[dict[str, Any]]
    check: Callable[[Locator], None]
    surface: str = "message"

    def __str__(self) -> str:
        return " ".join(self.kind)


def _actions(root: Locator) -> None:
    buttons = root.locator(".pg-actions button")
    assert texts(buttons) == ["Approve", "Reject"]
    assert "pg-button-primary" in (buttons.nth(0).get_attribute("class") or "")
    assert "pg-button-danger" in (buttons.nth(1).get_attribute("class") or "")
    assert buttons.nth(0).get_attribute("data-action-id") == "approve"
    assert buttons.nth(0).evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(0, 122, 90)"


def _context(root: Locator) -> None:
    context = root.locator(".pg-context")
    assert context.locator("strong").inner_text() == "alice"
    assert "asked by alice" in context.inner_text()
    assert "plain & simple" in context.inner_text()


def _divider(root: Locator) -> None:
    assert root.locator("hr.pg-divider").count() == 1
    assert texts(root.locator(".pg-section")) == ["above", "below"]


def _header(root: Locator) -> None:
    assert root.locator(".pg-header-block").inner_text() == "VPN change: office-shanghai"


def _image_block(root: Locator) -> None:
    figure = root.locator("figure.pg-image-block")
    assert "Topology" in figure.inner_text()
    assert "the tunnel's topology" in figure.inner_text()
    assert root.locator("img").count() == 0  # an image from outside is framed, never fetched: the page is offline


def _input(root: Locator) -> None:
    block = root.locator('.pg-input-block[data-block-id="vpnConnName"]')
    assert block.locator(".pg-label").inner_text() == "Name"
    assert block.locator('input[data-action-id="vpnConnName"]').input_value() == "office-shanghai"
    assert block.locator(".pg-hint").inner_text() == "at most 60 characters"


def _markdown(root: Locator) -> None:
    shown = root.locator(".pg-markdown")
    assert shown.locator(".pg-md-h").inner_text() == "Runbook"
    assert shown.locator("strong").inner_text() == "bold"
    assert shown.locator("em").inner_text() == "it"
    assert shown.locator("code").inner_text() == "code"
    assert texts(shown.locator("li")) == ["one", "two"]
    assert shown.locator("a").get_attribute("href") == "https://example.com/docs"


def _rich_text(root: Locator) -> None:
    shown = root.locator(".pg-rich-text")
    assert shown.locator("strong").inner_text() == "Hello"
    assert shown.locator("a").inner_text() == "the site"
    assert shown.locator(".pg-mention").inner_text() == "@alice"
    assert texts(shown.locator("li")) == ["first", "second"]
    assert shown.locator("pre").inner_text() == "pre text"
    assert shown.locator("blockquote").inner_text() == "quoted"


def _section(root: Locator) -> None:
    section = root.locator(".pg-section")
    assert section.locator(".pg-section-text").inner_text() == "Connection vpnx-1"
    assert section.locator(".pg-section-text strong").inner_text() == "Connection"
    assert texts(section.locator(".pg-field")) == ["IKE\naes-cbc-256", "DH group2"]
    assert section.locator(".pg-accessory button").inner_text() == "Edit"


def _table(root: Locator) -> None:
    table = root.locator("table.pg-table")
    assert texts(table.locator("thead th")) == ["Parameter", "Current", "Proposed"]
    assert table.locator("tbody tr").count() == 2
    assert texts(table.locator("tbody tr").nth(0).locator("td")) == ["IKESet.dhGroupName", "group2", "group14"]
    assert table.locator("tbody tr").nth(1).locator("td").nth(2).locator("strong").inner_text() == "changed"
    assert table.locator("tbody td").nth(2).evaluate("td => getComputedStyle(td).textAlign") == "right"


def _button(root: Locator) -> None:
    link = root.locator("a.pg-button")
    assert link.inner_text() == "Open the docs"
    assert link.get_attribute("href") == "https://example.com/docs"
    assert link.get_attribute("target") == "_blank"
    danger = root.locator("button.pg-button-danger")
    assert danger.inner_text() == "Withdraw"
    assert danger.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(224, 30, 90)"


def _checkboxes(root: Locator) -> None:
    group = root.locator('.pg-checkboxes[data-action-id="sides"]')
    boxes = group.locator("input[type=checkbox]")
    assert boxes.count() == 2
    assert [boxes.nth(0).is_checked(), boxes.nth(1).is_checked()] == [False, True]
    assert group.locator("strong").inner_text() == "alpha"
    assert "the first one" in group.inner_text()


def _image_element(root: Locator) -> None:
    assert root.locator(".pg-context img").get_attribute("alt") == "status dot"
    assert "a remote picture" in root.locator(".pg-accessory").inner_text()


def _mrkdwn(root: Locator) -> None:
    assert root.locator(".pg-section-text strong").inner_text() == "bold"


def _number_input(root: Locator) -> None:
    field = root.locator('[data-block-id="life"] input[data-action-id="life"]')
    assert field.input_value() == "3600"
    assert field.get_attribute("inputmode") == "numeric"


def _overflow(root: Locator) -> None:
    toggle = root.locator(".pg-overflow-toggle")
    menu = root.locator(".pg-overflow-menu")
    assert menu.is_hidden()
    toggle.click()
    assert menu.is_visible()
    assert texts(menu.locator(".pg-overflow-option")) == ["Show", "Withdraw"]


def _plain_text(root: Locator) -> None:
    assert root.locator(".pg-section-text").inner_text() == "plain *not bold* & <b>"
    assert root.locator(".pg-section-text strong, .pg-section-text b").count() == 0


def _plain_text_input(root: Locator) -> None:
    area = root.locator('textarea[data-action-id="cidrs"]')
    assert area.input_value() == "10.0.0.0/24\n10.1.0.0/24"
    assert area.get_attribute("placeholder") == "one a line"


def _radio_buttons(root: Locator) -> None:
    radios = root.locator('.pg-radios[data-action-id="mode"] input[type=radio]')
    assert [radios.nth(0).is_checked(), radios.nth(1).is_checked()] == [False, True]
    assert texts(root.locator(".pg-radios .pg-choice")) == ["main", "aggressive"]


def _raw_text(root: Locator) -> None:
    assert texts(root.locator("tbody td")) == ["a & b <c>"]


def _rich_text_cell(root: Locator) -> None:
    assert root.locator("tbody td strong").inner_text() == "cell"


def _static_select(root: Locator) -> None:
    select = root.locator('select[data-action-id="dh"]')
    assert texts(select.locator("optgroup option")) == ["group14", "group19", "group2"]
    assert [g.get_attribute("label") for g in select.locator("optgroup").all()] == ["Modern", "Legacy"]
    assert select.evaluate("s => s.options[s.selectedIndex].text") == "group19"


def _rich_section(*parts: Any) -> RichTextSectionElement:
    return RichTextSectionElement(elements=list(parts))


def _text(text: str, **style: bool) -> RichTextElementParts.Text:
    return RichTextElementParts.Text(text=text, style=RichTextElementParts.TextStyle(**style) if style else None)


SAMPLES = (
    Sample(
        ("block", "actions"),
        dump(
            ActionsBlock(
                block_id="decide",
                elements=[
                    ButtonElement(text="Approve", action_id="approve", value="chg-1", style="primary"),
                    ButtonElement(text="Reject", action_id="reject", value="chg-1", style="danger"),
                ],
            )
        ),
        _actions,
    ),
    Sample(
        ("block", "context"),
        dump(
            ContextBlock(elements=[MarkdownTextObject(text="asked by *alice*"), PlainTextObject(text="plain & simple")])
        ),
        _context,
    ),
    Sample(
        ("block", "divider"),
        dump(SectionBlock(text="above"), DividerBlock(), SectionBlock(text="below")),
        _divider,
    ),
    Sample(("block", "header"), dump(HeaderBlock(text="VPN change: office-shanghai")), _header),
    Sample(
        ("block", "image"),
        dump(
            ImageBlock(image_url="https://example.com/topology.png", alt_text="the tunnel's topology", title="Topology")
        ),
        _image_block,
    ),
    Sample(
        ("block", "input"),
        dump(
            InputBlock(
                block_id="vpnConnName",
                label="Name",
                hint="at most 60 characters",
                element=PlainTextInputElement(action_id="vpnConnName", initial_value="office-shanghai"),
            )
        ),
        _input,
        "modal",
    ),
    Sample(
        ("block", "markdown"),
        dump(
            MarkdownBlock(
                text="# Runbook\n**bold** and *it* and `code`\n\n- one\n- two\n\n[the docs](https://example.com/docs)"
            )
        ),
        _markdown,
    ),
    Sample(
        ("block", "rich_text"),
        dump(
            RichTextBlock(
                elements=[
                    _rich_section(
                        _text("Hello", bold=True),
                        _text(" "),
                        RichTextElementParts.Link(url="https://example.com/", text="the site"),
                        _text(" "),
                        RichTextElementParts.User(user_id=ALICE),
                    ),
                    RichTextListElement(
                        style="bullet", elements=[_rich_section(_text("first")), _rich_section(_text("second"))]
                    ),
                    RichTextPreformattedElement(elements=[_text("pre text")]),
                    RichTextQuoteElement(elements=[_text("quoted")]),
                ]
            )
        ),
        _rich_text,
    ),
    Sample(
        ("block", "section"),
        dump(
            SectionBlock(
                text=MarkdownTextObject(text="*Connection* `vpnx-1`"),
                fields=[MarkdownTextObject(text="*IKE*\naes-cbc-256"), PlainTextObject(text="DH group2")],
                accessory=ButtonElement(text="Edit", action_id="edit", value="vpnx-1"),
            )
        ),
        _section,
    ),
    Sample(
        ("block", "table"),
        dump(
            TableBlock(
                rows=[
                    [RawTextObject(text="Parameter"), RawTextObject(text="Current"), RawTextObject(text="Proposed")],
                    [
                        RawTextObject(text="IKESet.dhGroupName"),
                        RawTextObject(text="group2"),
                        RawTextObject(text="group14"),
                    ],
                    [
                        RawTextObject(text="preSharedKey"),
                        RawTextObject(text="(hidden)"),
                        RichTextBlock(elements=[_rich_section(_text("changed", bold=True))]),
                    ],
                ],
                column_settings=[
                    TableBlockColumnSettings(is_wrapped=True),
                    TableBlockColumnSettings(is_wrapped=True),
                    TableBlockColumnSettings(align="right"),
                ],
            )
        ),
        _table,
    ),
    Sample(
        ("element", "button"),
        dump(
            ActionsBlock(
                elements=[
                    ButtonElement(text="Open the docs", action_id="docs", url="https://example.com/docs"),
                    ButtonElement(text="Withdraw", action_id="withdraw", value="chg-1", style="danger"),
                ]
            )
        ),
        _button,
    ),
    Sample(
        ("element", "checkboxes"),
        dump(
            InputBlock(
                label="Sides",
                element=CheckboxesElement(
                    action_id="sides",
                    options=[
                        Option(value="a", text=MarkdownTextObject(text="*alpha*"), description="the first one"),
                        opt("beta", "b"),
                    ],
                    initial_options=[opt("beta", "b")],
                ),
            )
        ),
        _checkboxes,
        "modal",
    ),
    Sample(
        ("element", "image"),
        dump(
            ContextBlock(
                elements=[ImageElement(image_url=PIXEL, alt_text="status dot"), MarkdownTextObject(text="ok")]
            ),
            SectionBlock(
                text="with a picture",
                accessory=ImageElement(image_url="https://example.com/p.png", alt_text="a remote picture"),
            ),
        ),
        _image_element,
    ),
    Sample(("element", "mrkdwn"), dump(SectionBlock(text=MarkdownTextObject(text="*bold* text"))), _mrkdwn),
    Sample(
        ("element", "number_input"),
        dump(
            InputBlock(
                block_id="life",
                label="Lifetime",
                element=NumberInputElement(
                    action_id="life", is_decimal_allowed=False, initial_value="3600", min_value="60", max_value="604800"
                ),
            )
        ),
        _number_input,
        "modal",
    ),
    Sample(
        ("element", "overflow"),
        dump(
            SectionBlock(
                text="More",
                accessory=OverflowMenuElement(action_id="more", options=[opt("Show"), opt("Withdraw")]),
            )
        ),
        _overflow,
    ),
    Sample(
        ("element", "plain_text"),
        dump(SectionBlock(text=PlainTextObject(text="plain *not bold* &amp; &lt;b&gt;"))),
        _plain_text,
    ),
    Sample(
        ("element", "plain_text_input"),
        dump(
            InputBlock(
                label="Peer CIDRs",
                element=PlainTextInputElement(
                    action_id="cidrs",
                    multiline=True,
                    placeholder="one a line",
                    initial_value="10.0.0.0/24\n10.1.0.0/24",
                ),
            )
        ),
        _plain_text_input,
        "modal",
    ),
    Sample(
        ("element", "radio_buttons"),
        dump(
            InputBlock(
                label="Mode",
                element=RadioButtonsElement(
                    action_id="mode", options=[opt("main"), opt("aggressive")], initial_option=opt("aggressive")
                ),
            )
        ),
        _radio_buttons,
        "modal",
    ),
    Sample(
        ("element", "raw_text"),
        dump(TableBlock(rows=[[RawTextObject(text="Name")], [RawTextObject(text="a &amp; b &lt;c&gt;")]])),
        _raw_text,
    ),
    Sample(
        ("element", "rich_text"),
        dump(
            TableBlock(
                rows=[[RawTextObject(text="Col")], [RichTextBlock(elements=[_rich_section(_text("cell", bold=True))])]]
            )
        ),
        _rich_text_cell,
    ),
    Sample(
        ("element", "static_select"),
        dump(
            InputBlock(
                block_id="dh",
                label="DH group",
                element=StaticSelectElement(
                    action_id="dh",
                    placeholder="Pick a group",
                    option_groups=[
                        OptionGroup(label="Modern", options=[opt("group14"), opt("group19")]),
                        OptionGroup(label="Legacy", options=[opt("group2")]),
                    ],
                    initial_option=opt("group19"),
                ),
            )
        ),
        _static_select,
        "modal",
    ),
)


def test_the_samples_cover_exactly_the_kinds_the_page_renders() -> None:
    wanted = {("block", k) for k in RENDERED_BLOCKS} | {("element", k) for k in RENDERED_ELEMENTS}
    assert sorted(s.kind for s in SAMPLES) == sorted(wanted)
    for sample in SAMPLES:
        assert sample.kind in set(kinds_in(sample.blocks)), f"the {sample} sample does not hold its kind"


@pytest.mark.parametrize("sample", SAMPLES, ids=str)
def test_every_kind_renders_what_it_holds(page: Page, sample: Sample) -> None:
    assert block_problems(sample.blocks) == []
    root = render(page, sample.blocks, sample.surface)
    assert root.locator(".pg-unknown").count() == 0
    sample.check(root)


UNKNOWN = (
    ("block", "video", VideoBlock(alt_text="a", video_url="https://example.com/v", thumbnail_url=PIXEL, title="v")),
    ("block", "file", FileBlock(external_id="F0EXTERNAL", source="remote")),
    ("element", "datepicker", InputBlock(label="When", element=DatePickerElement(action_id="when"))),
    ("element", "datepicker", ActionsBlock(elements=[DatePickerElement(action_id="when")])),
    ("element", "users_select", SectionBlock(text="who", accessory=UserSelectElement(action_id="who"))),
)


@pytest.mark.parametrize(("what", "kind", "block"), UNKNOWN, ids=lambda v: v if isinstance(v, str) else "")
def test_a_kind_the_page_does_not_render_shows_a_placeholder_naming_it(
    page: Page, what: str, kind: str, block: Block
) -> None:
    blocks = dump(block)
    assert block_problems(blocks) == []
    assert f"{what} {kind}" in unrendered(blocks)  # the stand-in would report it too
    root = render(page, blocks)
    assert texts(root.locator(".pg-unknown")) == [f"unknown {what}: {kind}"]


# --- 2. mrkdwn ------------------------------------------------------------------------------------------------

MRKDWN = (
    ("*bold*", "strong(bold)"),
    ("_italic_", "em(italic)"),
    ("~gone~", "del(gone)"),
    ("`vpnx-ol6bcqp0`", "code(vpnx-ol6bcqp0)"),
    ("a *b* _c_ ~d~ `e` f", "a strong(b) em(c) del(d) code(e) f"),
    ("*bold _and italic_*", "strong(bold em(and italic))"),
    ("`*not bold*`", "code(*not bold*)"),
    ("snake_case_name 2*3*4 a~b~c", "snake_case_name 2*3*4 a~b~c"),
    ("* not bold *", "* not bold *"),
    ("before\n```line *1*\n  <@U0ALICE> &lt;x&gt;```\nafter", "beforepre(line *1*\n  mention(@alice) <x>)after"),
    ("```unclosed", "```unclosed"),
    ("&gt; quoted *line*\nplain line", "blockquote(quoted strong(line))plain line"),
    ("> quoted\n> twice\nnot", "blockquote(quoted\ntwice)not"),
    ("intro\n&gt;&gt;&gt; all\nof this", "introblockquote(all\nof this)"),
    ("one\ntwo\n\nfour", "one\ntwo\n\nfour"),
    ("<https://example.com/a?b=1&amp;c=2|the docs>", "a[https://example.com/a?b=1&c=2](the docs)"),
    ("<https://example.com/x>", "a[https://example.com/x](https://example.com/x)"),
    ("*<https://example.com/x|bold link>*", "strong(a[https://example.com/x](bold link))"),
    ("<mailto:ops@example.com|write to ops>", "a[mailto:ops@example.com](write to ops)"),
    ("<javascript:alert(1)|click me>", "click me"),
    ("<ftp://example.com/f|a file>", "a file"),
    ("<@U0ALICE> and <@U0BOB>", "mention(@alice) and mention(@bob)"),
    ("<@UBOT00001>", "mention(@vpnbot)"),
    ("<@U0NOBODY>", "mention(@U0NOBODY)"),
    ("<#C0NETOPS>", "mention(#netops)"),
    ("<#C0ELSE|elsewhere>", "mention(#elsewhere)"),
    ("<!subteam^S0APPROVE>", "mention(@netops-approvers)"),
    ("<!subteam^S0OTHER|@other-team>", "mention(@other-team)"),
    ("<!here> <!channel> <!everyone>", "mention(@here) mention(@channel) mention(@everyone)"),
    ("a &amp; b &lt;i&gt;not markup&lt;/i&gt; &amp;lt;", "a & b <i>not markup</i> &lt;"),
    (":white_check_mark: done :not_an_emoji: 10:30:00", "emoji(white_check_mark) done :not_an_emoji: 10:30:00"),
    ("*:warning: careful*", "strong(emoji(warning) careful)"),
)


@pytest.mark.parametrize(("text", "expected"), MRKDWN)
def test_mrkdwn(page: Page, text: str, expected: str) -> None:
    assert outline(page, text) == expected
    assert page.locator("#render-root").locator("b, i, script, img").count() == 0


TS = 1700000000  # Tuesday 2023-11-14 22:13:20 UTC
DATES = (
    ("{date_num}", "2023-11-14"),
    ("{date}", "November 14th, 2023"),
    ("{date_short}", "Nov 14, 2023"),
    ("{date_long}", "Tuesday, November 14th, 2023"),
    ("{date_pretty}", "November 14th, 2023"),
    ("{date_short_pretty}", "Nov 14, 2023"),
    ("{date_long_pretty}", "Tuesday, November 14th, 2023"),
    ("{time}", "10:13 PM"),
    ("{time_secs}", "10:13:20 PM"),
    ("asked {date_short_pretty} at {time}", "asked Nov 14, 2023 at 10:13 PM"),
)


@pytest.mark.parametrize(("fmt", "expected"), DATES)
def test_dates_are_shown_in_the_viewers_time_zone(page: Page, fmt: str, expected: str) -> None:
    assert outline(page, f"<!date^{TS}^{fmt}|fallback text>") == f"time({expected})"


def test_pretty_dates_ago_fallbacks_and_links(page: Page) -> None:
    now = int(time.time())
    assert outline(page, f"<!date^{now}^{{date_pretty}}|x>") == "time(today)"
    assert outline(page, f"<!date^{now - 86400}^{{date_short_pretty}}|x>") == "time(yesterday)"
    assert outline(page, f"<!date^{now + 86400}^{{date_long_pretty}}|x>") == "time(tomorrow)"
    assert re.fullmatch(r"time\(\d+ years ago\)", outline(page, f"<!date^{TS}^{{ago}}|x>"))
    assert outline(page, "<!date^soon^{date}|the fallback>") == "time(the fallback)"
    linked = outline(page, f"<!date^{TS}^{{date_num}}^https://example.com/t|fb>")
    assert linked == "a[https://example.com/t](time(2023-11-14))"
    # what the bot writes (bot.slack.text.slack_date)
    moment = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert outline(page, f"asked {slack_date(moment)}") == "asked time(Nov 14, 2023 10:13 PM)"


# --- 3. hostile text ------------------------------------------------------------------------------------------

HOSTILE = (
    "<script>window.__pwned = 1</script>",
    '<img src=x onerror="window.__pwned = 1">',
    '"><b>bold</b><iframe src="javascript:window.__pwned=1">',
    "javascript:alert(1)",
    "<!channel> & <@U0VICTIM> *x*",
)
COUNT_INJECTED = """() => ({
  script: document.querySelectorAll('script').length,
  img: document.querySelectorAll('img').length,
  b: document.querySelectorAll('b').length,
  i: document.querySelectorAll('i').length,
  iframe: document.querySelectorAll('iframe').length,
  onerror: document.querySelectorAll('[onerror]').length,
  jsLinks: [...document.querySelectorAll('[href], [src]')].filter(
      (n) => /^\\s*javascript:/i.test(n.getAttribute('href') || n.getAttribute('src') || '')).length,
  pwned: window.__pwned === undefined ? 'no' : 'yes',
})"""


def hostile_blocks(bad: str) -> list[dict[str, Any]]:
    """``bad`` in every place a text can be: escaped where the bot escapes (mrkdwn), raw where it need not."""
    shown = esc(bad)
    options = [opt(bad[:75], "v1"), opt("safe", "v2")]
    return dump(
        HeaderBlock(text=bad[:150]),
        SectionBlock(
            block_id=bad[:255],
            text=MarkdownTextObject(text=f"escaped: {shown} · link <https://example.com/|{shown}> · bad <{shown}>"),
            fields=[MarkdownTextObject(text=shown), PlainTextObject(text=bad)],
            accessory=StaticSelectElement(action_id="pick", placeholder=bad[:150], options=options),
        ),
        SectionBlock(text=MarkdownTextObject(text=f"raw, as a bug would send it: {bad}")),
        SectionBlock(text=MarkdownTextObject(text="<javascript:alert(1)|a javascript link>")),
        ContextBlock(elements=[MarkdownTextObject(text=shown), PlainTextObject(text=bad)]),
        ActionsBlock(
            elements=[
                ButtonElement(text=bad[:75], action_id="b1", value=bad),
                ButtonElement(text="js url", action_id="b2", url="javascript:alert(1)"),
                OverflowMenuElement(action_id="more", options=options),
                CheckboxesElement(
                    action_id="boxes", options=[Option(value="c", text=MarkdownTextObject(text=esc(bad[:24])))]
                ),
            ]
        ),
        TableBlock(
            rows=[
                [RawTextObject(text=bad), RawTextObject(text=shown)],
                [
                    RawTextObject(text=shown),
                    RichTextBlock(
                        elements=[
                            _rich_section(
                                _text(bad), RichTextElementParts.Link(url="javascript:alert(1)", text="rich js link")
                            )
                        ]
                    ),
                ],
            ]
        ),
        MarkdownBlock(text=f"markdown {bad} [js](javascript:alert(1))"),
        ImageBlock(image_url="javascript:alert(1)", alt_text=bad),
    )


@pytest.mark.parametrize("bad", HOSTILE)
def test_hostile_text_stays_text(page: Page, bad: str) -> None:
    blocks = hostile_blocks(bad)
    assert block_problems(blocks) == []
    clean = page.evaluate(COUNT_INJECTED)
    root = render(page, blocks)
    assert page.evaluate(COUNT_INJECTED) == clean
    assert clean["pwned"] == "no"
    shown = root.inner_text()
    assert root.locator(".pg-header-block").inner_text() == bad
    assert shown.count(bad) >= 6  # escaped mrkdwn, plain text, fields, context, table cells, markdown
    assert root.locator(".pg-section").first.get_attribute("data-block-id") == bad
    assert root.locator("select option").nth(0).inner_text() == bad
    assert root.locator("select option").nth(1).inner_text() == bad
    assert root.locator(".pg-actions button").first.inner_text() == bad
    assert f"link {bad}" in shown
    assert "a javascript link" in shown
    assert "rich js link" in shown
    hrefs = root.locator("[href]").evaluate_all("nodes => nodes.map(n => n.href)")
    assert hrefs
    assert all(h.startswith(("https:", "http:", "mailto:")) for h in hrefs)


def test_hostile_state_stays_text(page: Page) -> None:
    """Names, fallback texts, titles and options from the state are text too."""
    bad = '<img src=x onerror="window.__pwned=1"><b>x</b>'
    clean = page.evaluate(COUNT_INJECTED)
    view = {
        "id": "VHOSTILE",
        "hash": "1.a",
        "type": "modal",
        "title": {"type": "plain_text", "text": bad[:24]},
        "submit": {"type": "plain_text", "text": bad[:24]},
        "blocks": hostile_blocks(bad)[:3],
    }
    load(
        page,
        people=[{"id": ALICE, "name": bad, "role": bad}, {"id": BOB, "name": "bob", "role": "approver"}],
        messages=[{"ts": "1700000000.000100", "user": BOT, "bot_id": "B1", "text": f"{esc(bad)} <@{ALICE}>"}],
        ephemerals=[{"message_ts": "1700000001.000100", "text": bad, "blocks": None}],
        modal=view,
        modal_errors={bad: bad},
    )
    assert page.evaluate(COUNT_INJECTED) == clean
    message = page.locator("#messages .pg-message").first
    assert message.locator(".pg-blocks").inner_text() == f"{bad} @{bad}"
    assert page.locator("#modal-title").inner_text() == bad[:24]
    assert page.locator("#person option").first.inner_text() == f"{bad} ({bad})"


# --- 4. the bot's own blocks ----------------------------------------------------------------------------------

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def change_request(name: str = "office-shanghai") -> ChangeRequest:
    live = connection(vpnConnName=name)
    edits = {
        "preSharedKey": "NewKey-12345",
        "IKESet.dhGroupName": "group14",
        "userGwCidrBlock": "192.168.1.0/24\n10.9.0.0/16",
    }
    return ChangeRequest.from_proposal(
        live, propose(live.settings, edits), requester=ALICE, now=T0, ttl=timedelta(hours=1)
    )


def test_the_change_card_renders_with_its_diff_in_a_table(page: Page) -> None:
    request = change_request()
    card = bot_blocks.dump(bot_blocks.change_card(request))
    assert block_problems(card) == []
    assert unrendered(card) == set()
    root = render(page, card)
    assert root.locator(".pg-unknown, .pg-broken").count() == 0
    table = root.locator("table.pg-table")
    assert texts(table.locator("thead th"))[:3] == ["Parameter", "Current", "Proposed"]
    rows = table.locator("tbody tr")
    assert rows.count() == len(request.diff)
    for i, row in enumerate(request.diff):
        assert rows.nth(i).locator("td").nth(0).inner_text() == row.name
    assert "NewKey-12345" not in root.inner_text()
    assert "+ 10.9.0.0/16" in rows.nth([r.name for r in request.diff].index("userGwCidrBlock")).inner_text()
    shown = root.inner_text()
    assert "<!date" not in shown
    assert "&lt;" not in shown
    assert "&amp;" not in shown
    assert "Mar 1, 2025 9:00 AM" in shown  # the state line's <!date^...> in the viewer's zone (UTC here)
    assert root.locator(".pg-mention").first.inner_text() == "@alice"
    assert texts(root.locator(".pg-actions button")) == ["Approve", "Reject"]


def test_a_hostile_connection_name_on_the_card_is_shown_as_text(page: Page) -> None:
    name = '<img src=x onerror="window.__pwned=1"> *x* <!channel>'
    card = bot_blocks.dump(bot_blocks.change_card(change_request(name)))
    assert block_problems(card) == []
    clean = page.evaluate(COUNT_INJECTED)
    root = render(page, card)
    assert page.evaluate(COUNT_INJECTED) == clean
    assert root.locator(".pg-header-block").inner_text() == f"VPN change: {name}"
    intro = root.locator(".pg-section").first.inner_text()
    assert '<img src=x onerror="window.__pwned=1">' in intro
    assert "<!channel>" in intro
    assert root.locator(".pg-broadcast").count() == 0


def edit_form(**changes: Any) -> dict[str, Any]:
    view = bot_blocks.edit_form_rendered(connection(), '{"conn":"vpnx-ol6bcqp0","channel":"C0NETOPS"}')
    assert view_problems(view) == []
    return {**view, "id": "V0EDITFORM", "hash": "1700000000.aaaa", **changes}


def test_the_edit_form_renders_every_field_filled_in(page: Page) -> None:
    view = edit_form()
    assert unrendered(view["blocks"]) == set()
    root = render(page, view["blocks"], "modal")
    assert root.locator(".pg-unknown, .pg-broken").count() == 0
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert inputs
    for block in inputs:
        container = root.locator(f'.pg-input-block[data-block-id="{block["block_id"]}"]')
        assert container.count() == 1, block["block_id"]
        assert container.locator(f'[data-action-id="{block["element"]["action_id"]}"]').count() == 1
    field = root.locator('[data-block-id="vpnConnName"] input[data-action-id="vpnConnName"]')
    assert field.input_value() == "office-shanghai"
    dh = root.locator('[data-block-id="IKESet.dhGroupName"] select')
    assert dh.evaluate("s => s.options[s.selectedIndex].text") == "group2"
    life = root.locator('[data-block-id="IKESet.ikeSaLifetimeSeconds"] input')
    assert life.input_value() == "86400"
    cidrs = root.locator('[data-block-id="userGwCidrBlock"] textarea')
    assert cidrs.input_value() == "192.168.1.0/24\n192.168.2.0/24"
    assert texts(root.locator(".pg-header-block"))[:2] == ["Connection", "Peer networks"]


# --- the modal as Slack's client runs it ----------------------------------------------------------------------


def modal_field(page: Page, block_id: str) -> Locator:
    return page.locator(f'#modal .pg-input-block[data-block-id="{block_id}"]')


def test_the_modal_checks_what_slacks_client_checks_before_sending(page: Page) -> None:
    load(page, modal=edit_form())
    assert page.locator("#modal").is_visible()
    assert page.locator("#modal-title").inner_text() == "Edit VPN connection"
    assert page.locator("#modal-submit").inner_text() == "Review change"
    assert page.locator("#modal-close").inner_text() == "Cancel"
    before = len(posts(page))
    name = modal_field(page, "vpnConnName")
    life = modal_field(page, "IKESet.ikeSaLifetimeSeconds")
    cases = (
        (name, "", "Please complete this required field."),
        (name, "x" * 61, "Please use 60 characters or fewer (1 over)."),
        (life, "", "Please complete this required field."),
        (life, "soon", "Please enter a number."),
        (life, "3600.5", "Please enter a whole number (no decimals)."),
        (life, "5", "Please enter a number that is at least 60."),
        (life, "99999999", "Please enter a number that is no more than 604800."),
    )
    for container, typed, message in cases:
        container.locator("input, textarea").fill(typed)
        page.click("#modal-submit")
        assert texts(page.locator("#modal .pg-error")) == [message], typed
        assert container.locator(".pg-error").count() == 1
        assert posts(page)[before:] == []
        container.locator("input, textarea").fill("office-shanghai" if container == name else "86400")
    page.click("#modal-submit")
    assert page.locator("#modal .pg-error").count() == 0
    sent = posts(page)[before:]
    assert [p["path"] for p in sent] == ["/api/submit"]
    body = sent[0]["body"]
    assert body["user"] == ALICE
    assert body["view_id"] == "V0EDITFORM"
    values = body["values"]
    assert values["vpnConnName"] == {"vpnConnName": {"type": "plain_text_input", "value": "office-shanghai"}}
    assert values["preSharedKey"] == {"preSharedKey": {"type": "plain_text_input", "value": None}}
    assert values["IKESet.ikeSaLifetimeSeconds"] == {
        "IKESet.ikeSaLifetimeSeconds": {"type": "number_input", "value": "86400"}
    }
    dh = values["IKESet.dhGroupName"]["IKESet.dhGroupName"]
    assert dh["type"] == "static_select"
    assert dh["selected_option"]["value"] == "group2"
    assert dh["selected_option"]["text"]["text"] == "group2"
    expected = {b["block_id"] for b in edit_form()["blocks"] if b["type"] == "input"}
    assert set(values) == expected


def test_the_servers_errors_show_under_their_fields_and_typed_values_stay(page: Page) -> None:
    view = edit_form()
    load(page, modal=view)
    page.evaluate(
        "window.playground.answer('/api/submit', "
        "{ok: true, closed: false, errors: {vpnConnName: 'That name is taken'}})"
    )
    name = modal_field(page, "vpnConnName").locator("input")
    name.fill("office-new")
    page.click("#modal-submit")
    assert modal_field(page, "vpnConnName").locator(".pg-error").inner_text() == "That name is taken"
    assert name.input_value() == "office-new"
    # the next state: the same view (same id and hash), the error recorded: nothing typed is lost
    load(page, modal=view, modal_errors={"vpnConnName": "That name is taken"})
    assert name.input_value() == "office-new"
    assert texts(page.locator("#modal .pg-error")) == ["That name is taken"]
    # the bot updated the view (a new hash): the new view's values are shown
    load(page, modal=edit_form(hash="1700000001.bbbb"), modal_errors={})
    assert modal_field(page, "vpnConnName").locator("input").input_value() == "office-shanghai"
    assert page.locator("#modal .pg-error").count() == 0
    load(page, modal=None)
    assert page.locator("#modal").is_hidden()


def test_a_loading_view_renders_and_escape_closes_the_confirm_then_the_modal(page: Page) -> None:
    loading = {
        **bot_blocks.loading_view(SEED_CONN, "{}").to_dict(),
        "id": "V0LOADING",
        "hash": "1.a",
        "blocks": dump(
            SectionBlock(text=MarkdownTextObject(text=f":hourglass: Reading `{SEED_CONN}`…")),
            ActionsBlock(
                block_id="act",
                elements=[
                    ButtonElement(
                        text="Drop it",
                        action_id="drop",
                        value="x",
                        confirm=ConfirmObject(title="Drop?", text="Really?", confirm="Drop", deny="Keep"),
                    )
                ],
            ),
        ),
    }
    load(page, modal=loading)
    assert page.locator("#modal-submit").is_hidden()
    assert "Reading vpnx-ol6bcqp0" in page.locator("#modal-body").inner_text()
    before = len(posts(page))
    page.click("#modal-body button.pg-button")
    assert page.locator("#confirm").is_visible()
    page.keyboard.press("Escape")
    assert page.locator("#confirm").is_hidden()
    assert page.locator("#modal").is_visible()
    assert posts(page)[before:] == []
    page.click("#modal-body button.pg-button")
    page.click("#confirm-yes")
    sent = posts(page)[before:]
    assert sent == [
        {
            "path": "/api/action",
            "body": {
                "user": ALICE,
                "source": "modal",
                "view_id": "V0LOADING",
                "block_id": "act",
                "action_id": "drop",
                "type": "button",
                "value": "x",
            },
        }
    ]
    page.keyboard.press("Escape")
    assert page.locator("#modal").is_hidden()
    assert posts(page)[-1] == {"path": "/api/close", "body": {"user": ALICE, "view_id": "V0LOADING"}}


# --- the channel: messages, ephemerals, threads, anchors, confirm, composer, home -----------------------------


def card_state() -> tuple[ChangeRequest, dict[str, Any]]:
    request = change_request()
    card = {
        "ts": "1700000100.000200",
        "user": BOT,
        "bot_id": "B0VPNBOT01",
        "text": bot_blocks.card_text(request),
        "blocks": bot_blocks.dump(bot_blocks.change_card(request)),
        "edited": {"user": BOT, "ts": "1700000150.000100"},
        "reply_count": 2,
        "replies": [
            {"ts": "1700000200.000300", "user": BOT, "bot_id": "B0VPNBOT01", "text": ":gear: Task `4242` is running"},
            {"ts": "1700000300.000400", "user": BOT, "bot_id": "B0VPNBOT01", "text": "Approved by <@U0BOB>"},
        ],
    }
    first = {"ts": "1700000000.000100", "user": BOT, "bot_id": "B0VPNBOT01", "text": "Hello *netops*", "replies": []}
    return request, {"messages": [first, card]}


def test_messages_ephemerals_and_their_order(page: Page) -> None:
    _, state = card_state()
    ephemeral = {
        "message_ts": "1700000050.000100",
        "text": "only for you",
        "blocks": bot_blocks.text_message("Only *you*"),
    }
    load(page, ephemerals=[ephemeral], **state)
    shown = page.locator("#messages .pg-message:not(.pg-system)")
    assert [m.get_attribute("data-ts") for m in shown.all()] == [
        "1700000000.000100",
        "1700000050.000100",
        "1700000100.000200",
    ]
    first = shown.nth(0)
    assert first.locator(".pg-author").inner_text() == "vpnbot"
    assert first.locator(".pg-app-badge").inner_text() == "APP"
    assert first.locator(".pg-time").inner_text() == "10:13 PM"
    assert first.locator(".pg-blocks").evaluate(OUTLINE) == "Hello strong(netops)"
    assert shown.nth(2).locator(".pg-edited").inner_text() == "(edited)"
    assert shown.nth(2).locator(".pg-replies").inner_text() == "2 replies"
    mine = shown.nth(1)
    assert "pg-ephemeral" in (mine.get_attribute("class") or "")
    assert "Only visible to you" in mine.inner_text()
    assert mine.locator(".pg-blocks strong").inner_text() == "you"
    card = shown.nth(2).element_handle()
    load(page, ephemerals=[ephemeral], **state)  # the same state again: the nodes are kept, not redrawn
    assert card.evaluate("(n) => n.isConnected")
    mine.locator(".pg-dismiss").click()
    assert page.locator("#messages .pg-ephemeral").count() == 0
    assert card.evaluate("(n) => n.isConnected")


def test_a_thread_opens_and_follows_updates(page: Page) -> None:
    _, state = card_state()
    load(page, **state)
    assert page.locator("#thread").is_hidden()
    page.locator("#messages .pg-replies").click()
    thread = page.locator("#thread")
    assert thread.is_visible()
    shown = thread.locator(".pg-message")
    assert [m.get_attribute("data-ts") for m in shown.all()] == [
        "1700000100.000200",
        "1700000200.000300",
        "1700000300.000400",
    ]
    assert shown.nth(2).locator(".pg-mention").inner_text() == "@bob"
    card = state["messages"][1]
    later = {"ts": "1700000400.000500", "user": BOT, "bot_id": "B0VPNBOT01", "text": "Done"}
    updated = {**card, "reply_count": 3, "replies": [*card["replies"], later]}
    load(page, messages=[state["messages"][0], updated])
    assert thread.locator(".pg-message").count() == 4
    assert thread.locator(".pg-message").last.inner_text().endswith("Done")
    assert page.locator("#messages .pg-replies").inner_text() == "3 replies"
    page.click("#thread-close")
    assert thread.is_hidden()


def test_an_archive_anchor_scrolls_to_a_message_or_opens_its_thread(page: Page) -> None:
    _, state = card_state()
    load(page, **state)
    page.evaluate("location.hash = '#msg-1700000000.000100'")
    top = page.locator('#messages .pg-message[data-ts="1700000000.000100"]')
    page.wait_for_function("document.querySelector('#messages .pg-highlight') !== null")
    assert "pg-highlight" in (top.get_attribute("class") or "")
    assert page.locator("#thread").is_hidden()
    page.evaluate("location.hash = '#msg-1700000300.000400'")
    page.wait_for_function("document.querySelector('#thread .pg-highlight') !== null")
    assert page.locator("#thread").is_visible()
    reply = page.locator('#thread .pg-message[data-ts="1700000300.000400"]')
    assert "pg-highlight" in (reply.get_attribute("class") or "")
    assert "pg-highlight" in (
        page.locator('#messages .pg-message[data-ts="1700000100.000200"]').get_attribute("class") or ""
    )
    # the bot's permalinks (on this server, or in Slack's own form) move within the page
    origin = page.evaluate("location.origin")
    links = (
        f"<{origin}/archives/{CHANNEL}/p1700000000000100|the first> "
        f"<https://example.slack.com/archives/{CHANNEL}/p1700000300000400?thread_ts=1700000100.000200|the reply> "
        f"<https://example.slack.com/archives/C0ELSEWHERE/p1700000000000100|elsewhere>"
    )
    root = render(page, [{"type": "section", "text": {"type": "mrkdwn", "text": links}}])
    assert root.locator("a").nth(2).get_attribute("target") == "_blank"
    root.locator("a").nth(0).click()
    assert page.evaluate("location.hash") == "#msg-1700000000.000100"
    assert root.locator("a").nth(0).get_attribute("target") is None
    root.locator("a").nth(1).click()
    assert page.evaluate("location.hash") == "#msg-1700000300.000400"


def test_approve_asks_first_and_only_yes_sends_the_action(page: Page) -> None:
    request, state = card_state()
    load(page, **state)
    before = len(posts(page))
    approve = page.locator('#messages button[data-action-id="approve_change"]')
    approve.click()
    assert page.locator("#confirm").is_visible()
    assert page.locator("#confirm-title").inner_text() == "Apply this change?"
    assert page.locator("#confirm-text").inner_text().startswith(f"Sends ModifyVpnConnEx for {SEED_CONN}")
    assert page.locator("#confirm-yes").inner_text() == "Approve and apply"
    assert page.locator("#confirm-no").inner_text() == "Cancel"
    page.click("#confirm-no")
    assert page.locator("#confirm").is_hidden()
    assert posts(page)[before:] == []
    approve.click()
    page.click("#confirm-yes")
    assert posts(page)[before:] == [
        {
            "path": "/api/action",
            "body": {
                "user": ALICE,
                "source": "message",
                "channel": CHANNEL,
                "ts": "1700000100.000200",
                "block_id": "decision",
                "action_id": "approve_change",
                "type": "button",
                "value": request.id,
            },
        }
    ]


def test_a_danger_confirm_has_a_red_yes(page: Page) -> None:
    confirm = ConfirmObject(
        title="Withdraw?",
        text=MarkdownTextObject(text="Withdraw *this*?"),
        confirm="Withdraw",
        deny="Keep",
        style="danger",
    )
    root = render(
        page, dump(ActionsBlock(elements=[ButtonElement(text="W", action_id="w", value="1", confirm=confirm)]))
    )
    root.locator("button").click()
    assert "pg-button-danger" in (page.locator("#confirm-yes").get_attribute("class") or "")
    assert page.locator("#confirm-text strong").inner_text() == "this"
    page.keyboard.press("Escape")
    assert page.locator("#confirm").is_hidden()


def test_the_composer_sends_vpn_commands_and_hints_at_them_otherwise(page: Page) -> None:
    composer = page.locator("#composer")
    assert composer.get_attribute("placeholder") == "Message #netops — try /vpn edit vpnx-ol6bcqp0"
    before = len(posts(page))
    composer.fill("hello there")
    composer.press("Enter")
    assert posts(page)[before:] == []
    assert (
        page.locator("#messages .pg-system").last.inner_text().endswith("vpnbot answers /vpn commands; try /vpn help")
    )
    composer.fill(f"/vpn edit {SEED_CONN}")
    composer.press("Enter")
    assert posts(page)[before:] == [{"path": "/api/command", "body": {"user": ALICE, "text": f"/vpn edit {SEED_CONN}"}}]
    assert composer.input_value() == ""
    page.evaluate("window.playground.answer('/api/command', {ok: false, error: 'dispatch_failed'})")
    composer.fill("/vpn help")
    page.click("#send")
    assert page.locator("#messages .pg-system").last.inner_text().endswith("/vpn failed: dispatch_failed")
    assert composer.input_value() == "/vpn help"


def test_the_home_tab(page: Page) -> None:
    before = len(posts(page))
    page.click("#open-home")
    assert page.locator("#home").is_visible()
    assert page.locator("#channel-view").is_hidden()
    assert posts(page)[before:] == [{"path": "/api/home", "body": {"user": ALICE}}]
    assert page.locator("#home").inner_text().endswith("vpnbot has not published a Home tab for you yet.")
    home = {
        "id": "V0HOME",
        "hash": "1.h",
        "type": "home",
        "blocks": dump(
            HeaderBlock(text="Your changes"),
            ActionsBlock(block_id="h", elements=[ButtonElement(text="Refresh", action_id="refresh", value="r")]),
        ),
    }
    load(page, home=home)
    assert page.locator("#home .pg-header-block").inner_text() == "Your changes"
    page.click('#home button[data-action-id="refresh"]')
    assert posts(page)[-1]["body"] == {
        "user": ALICE,
        "source": "home",
        "view_id": "V0HOME",
        "block_id": "h",
        "action_id": "refresh",
        "type": "button",
        "value": "r",
    }
    page.click("#open-channel")
    assert page.locator("#channel-view").is_visible()
    assert page.locator("#home").is_hidden()


def test_the_person_switch_lists_the_people_and_is_kept(page: Page) -> None:
    person = page.locator("#person")
    assert texts(person.locator("option")) == ["alice (requester)", "bob (approver)"]
    assert person.input_value() == ALICE
    person.select_option(BOB)
    assert page.evaluate("new URL(location.href).searchParams.get('user')") == BOB
    assert page.evaluate("localStorage.getItem('vpnbot-playground.user')") == BOB
    assert page.evaluate("new URL(location.href).searchParams.get('render-test')") == "1"


def test_the_peer_panel_sends_its_changes(page: Page) -> None:
    page.click("#peer-toggle")
    panel = page.locator("#peer")
    assert panel.is_visible()
    assert texts(page.locator("#peer-conn option")) == [f"office-shanghai ({SEED_CONN})"]
    assert page.locator("#peer-psk").get_attribute("type") == "password"
    before = len(posts(page))
    page.click("#peer-mirror")
    page.fill("#peer-psk", "PeerKey-1")
    page.click("#peer-psk-set")
    page.fill("#peer-setting", "IKESet.dhGroupName=group14")
    page.click("#peer-setting-set")
    page.fill("#peer-setting", 'spdAcl=[{"10.0.0.0/16": ["192.168.1.0/24"]}]')
    page.press("#peer-setting", "Enter")
    path = f"/api/peer/{SEED_CONN}"
    assert posts(page)[before:] == [
        {"path": path, "body": {"mirror": True}},
        {"path": path, "body": {"preSharedKey": "PeerKey-1"}},
        {"path": path, "body": {"IKESet.dhGroupName": "group14"}},
        {"path": path, "body": {"spdAcl": [{"10.0.0.0/16": ["192.168.1.0/24"]}]}},
    ]
    assert page.input_value("#peer-psk") == ""
    page.click("#peer-close")
    assert panel.is_hidden()


# --- the live page against the server's API -------------------------------------------------------------------


class FakePlayground:
    """The page's server API (``/api/state``, ``/api/events``, the POSTs, ``/api/peer``) in memory: just enough to
    drive the page's own fetching, event following and person switching. ``state_users`` records the person of
    every ``GET /api/state``; ``posted`` every POST body."""

    def __init__(self) -> None:
        self.version = 1
        self.ephemerals: dict[str, list[dict[str, Any]]] = {}
        self.state_users: list[str | None] = []
        self.posted: list[tuple[str, Any]] = []
        self.matching = False
        self.streams: list[web.StreamResponse] = []
        self.closing = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.index)
        app.router.add_get("/api/state", self.state)
        app.router.add_get("/api/events", self.events)
        app.router.add_post("/api/command", self.command)
        app.router.add_post("/api/home", self.record)
        app.router.add_get("/api/peer/{conn}", self.peer)
        app.router.add_post("/api/peer/{conn}", self.peer)
        app.router.add_post("/_test/burst", self.burst)
        app.router.add_static("/", PAGE_DIR)
        app.on_shutdown.append(self.shutdown)
        return app

    async def index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(PAGE_DIR / "index.html")

    async def state(self, request: web.Request) -> web.Response:
        user = request.query.get("user")
        self.state_users.append(user)
        await asyncio.sleep(0.05)  # a fetch takes a while, so events arrive while one is in flight
        me = user if user in (ALICE, BOB) else ALICE
        body = {**copy.deepcopy(STATE), "version": self.version, "me": me, "ephemerals": self.ephemerals.get(me, [])}
        return web.json_response(body)

    async def events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        self.streams.append(response)
        try:
            await self.closing.wait()
        finally:
            self.streams.remove(response)
        return response

    async def changed(self) -> None:
        self.version += 1
        for stream in list(self.streams):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await stream.write(f"event: changed\ndata: {json.dumps({'version': self.version})}\n\n".encode())

    async def record(self, request: web.Request) -> web.Response:
        self.posted.append((request.path, await request.json()))
        return web.json_response({"ok": True})

    async def command(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.posted.append((request.path, body))
        mine = self.ephemerals.setdefault(body["user"], [])
        mine.append({"message_ts": f"1700000{len(mine):03d}.000100", "text": f"You asked for `{body['text']}`"})
        await self.changed()
        return web.json_response({"ok": True})

    async def burst(self, request: web.Request) -> web.Response:
        for _ in range(int(request.query["n"])):
            await self.changed()
        return web.json_response({"version": self.version})

    async def peer(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            body = await request.json()
            self.posted.append((request.path, body))
            self.matching = body == {"mirror": True}
        return web.json_response(
            {
                "vpnConnId": request.match_info["conn"],
                "peer": {"preSharedKey": "***", "IKESet": {"dhGroupName": "group2"}, "spdAcl": []},
                "netStatus": "available" if self.matching else "unavailable",
                "match": self.matching,
                "mismatches": [] if self.matching else ["preSharedKey"],
            }
        )

    async def shutdown(self, app: web.Application) -> None:
        self.closing.set()


def test_the_live_page_follows_the_servers_events_as_the_person_chosen(chromium: Browser) -> None:
    fake = FakePlayground()
    with serve_app(fake.app()) as base, watched_page(chromium) as watched:
        page = watched.page
        page.goto(f"{base}/?user={BOB}")
        page.wait_for_function(f"() => window.playground.state()?.me === '{BOB}'")
        assert set(fake.state_users) == {BOB}
        assert page.locator("#person").input_value() == BOB
        assert page.locator("#status").is_hidden()

        page.fill("#composer", "/vpn help")
        page.press("#composer", "Enter")
        page.wait_for_selector("#messages .pg-ephemeral")
        assert fake.posted == [("/api/command", {"user": BOB, "text": "/vpn help"})]
        assert "You asked for /vpn help" in page.locator("#messages .pg-ephemeral").inner_text()

        fetched = len(fake.state_users)
        with urllib.request.urlopen(f"{base}/_test/burst?n=30", data=b"") as answer:
            version = json.load(answer)["version"]
        page.wait_for_function(f"() => window.playground.state().version === {version}")
        time.sleep(0.3)
        assert 1 <= len(fake.state_users) - fetched <= 3  # one fetch in flight, one queued, whatever the burst

        page.select_option("#person", ALICE)
        page.wait_for_function(f"() => window.playground.state().me === '{ALICE}'")
        assert fake.state_users[-1] == ALICE
        assert page.locator("#messages .pg-ephemeral").count() == 0
        assert page.evaluate("new URL(location.href).searchParams.get('user')") == ALICE

        page.click("#peer-toggle")
        page.wait_for_selector("#peer .pg-peer-match.pg-bad")
        assert "preSharedKey" in page.locator("#peer .pg-peer-match").inner_text()
        page.click("#peer-mirror")
        page.wait_for_selector("#peer .pg-peer-match.pg-ok")
        assert "available" in page.locator("#peer .pg-peer-tunnel").inner_text()
        assert fake.posted[-1] == (f"/api/peer/{SEED_CONN}", {"mirror": True})

        page.click("#open-home")
        page.wait_for_function("() => document.querySelector('#home .pg-home-empty') !== null")
        assert ("/api/home", {"user": ALICE}) in fake.posted
        page.goto(f"{base}/")  # no ?user: the person kept in localStorage
        page.wait_for_function(f"() => window.playground.state()?.me === '{ALICE}'")
        assert page.evaluate("new URL(location.href).searchParams.get('user')") == ALICE
        watched.check()


def test_what_slack_would_refuse_is_shown_once_as_it_happens(page: Page) -> None:
    """A Block Kit mistake of the bot shows in the playground: each refusal the stand-in recorded is one error line,
    shown once, its text literal."""
    refusal = {"method": "chat.postMessage", "problem": "<b>invalid</b> additional property [json-pointer:/blocks/0]"}
    load(page, refusals=[refusal], refusals_total=1)
    # The page is shared with other cases, which may leave error lines of their own: only refusals are counted.
    lines = page.locator("#messages .pg-system-error", has_text="Slack would refuse")
    assert lines.count() == 1
    assert "Slack would refuse vpnbot's chat.postMessage: <b>invalid</b> additional property" in lines.inner_text()
    assert page.locator("#messages .pg-system-error b").count() == 0
    load(page, refusals=[refusal], refusals_total=1)  # the same state again: no second line
    assert lines.count() == 1
    second = {"method": "views.update", "problem": "must provide submit"}
    load(page, refusals=[refusal, second], refusals_total=2)
    assert lines.count() == 2
    assert "views.update: must provide submit" in lines.nth(1).inner_text()
