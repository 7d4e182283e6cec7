"""The App Home tab: what waits for one person, what they asked for, and what is being changed now.

Pure (no I/O, no Slack): :func:`sort_requests` sorts the unfinished requests into the three sections for one person,
given which of them that person may approve (the change service decides that, as an Approve click would);
:func:`home_view` builds the ``home`` view from the sections and the cards' permalinks. The sections:

* waiting for your approval: pending requests you may approve (never your own unless self-approval is allowed);
* your open requests: yours not finished yet (pending, approved, submitting, running, and unknown while its outcome
  is judged: not finished either);
* running now: anyone's change being applied (submitting, running), then finished ones whose tunnel is watched.

Each section shows at most ``SECTION_CAP`` items, oldest first, then a line saying how many more there are, so the
view stays far under Slack's 100 blocks and 250 kB however many requests there are (at most 58 blocks of a few
hundred characters each). Every value from a request (names from the cloud, ids, people) is made visible, escaped
and cut before it goes into mrkdwn.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from slack_sdk.models.blocks import Block, ContextBlock, DividerBlock, HeaderBlock, MarkdownTextObject, SectionBlock
from slack_sdk.models.views import View

from bot.slack.notifier import FRONT
from bot.slack.text import clip, esc, esc_visible, link, slack_date, user, visible
from bot.vpn.change import ChangeRequest, ChangeState
from bot.vpn.watch import Watch

__all__ = [
    "EMPTY_MINE",
    "EMPTY_RUNNING",
    "EMPTY_WAITING",
    "HOME_CALLBACK",
    "RUNNING_STATES",
    "SECTION_CAP",
    "HomeSections",
    "home_view",
    "sort_requests",
]

HOME_CALLBACK = "vpnbot_home"
SECTION_CAP = 15
NAME_MAX = 100
ID_MAX = 80
RUNNING_STATES = frozenset({ChangeState.SUBMITTING, ChangeState.RUNNING})
"""The states of a change being applied (the edit sent or being sent, its task followed)."""

WAITING_TITLE = "Waiting for your approval"
MINE_TITLE = "Your open requests"
RUNNING_TITLE = "Running now"
EMPTY_WAITING = "Nothing waits for your approval."
EMPTY_MINE = "You have no open requests."
EMPTY_RUNNING = "No change is being applied or watched now."
HELP = esc(
    "Use `/vpn edit <vpnConnId>` in a channel to propose a change; `/vpn status <request id>` shows one request, "
    "`/vpn help` the rest. Each item links to its card, where it is approved or rejected."
)
MORE = esc("…and {hidden} more: `/vpn status <request id>` shows any one of them.")

_EMOJI: Mapping[ChangeState, str] = MappingProxyType(
    {
        ChangeState.PENDING: ":hourglass_flowing_sand:",
        ChangeState.APPROVED: ":white_check_mark:",
        ChangeState.SUBMITTING: ":outbox_tray:",
        ChangeState.RUNNING: ":gear:",
        ChangeState.UNKNOWN: ":grey_question:",
    }
)


@dataclass(frozen=True)
class HomeSections:
    """One person's three sections, each in the order shown (oldest first), uncut. ``watched_until``: the end of
    the tunnel watch of each finished change in ``running``; ``blocked``: requests ``VPNBOT_CRYPTO_POLICY=block``
    keeps from being approved."""

    waiting: tuple[ChangeRequest, ...] = ()
    mine: tuple[ChangeRequest, ...] = ()
    running: tuple[ChangeRequest, ...] = ()
    watched_until: Mapping[str, datetime] = field(default_factory=dict)
    blocked: frozenset[str] = frozenset()

    def shown(self, cap: int = SECTION_CAP) -> list[ChangeRequest]:
        """The requests the view shows (the first ``cap`` of each section), each once: those whose card links are
        wanted."""
        seen: dict[str, ChangeRequest] = {}
        for section in (self.waiting, self.mine, self.running):
            for request in section[:cap]:
                seen.setdefault(request.id, request)
        return list(seen.values())


def sort_requests(
    user_id: str,
    unfinished: Sequence[ChangeRequest],
    approvable: Collection[str],
    watched: Sequence[tuple[ChangeRequest, Watch]] = (),
    blocked: Collection[str] = (),
) -> HomeSections:
    """The sections for ``user_id``: ``approvable`` are the ids of the pending requests they may approve;
    ``unfinished`` every request not finished yet; ``watched`` the finished changes whose tunnel is watched now."""
    running = [r for r in unfinished if r.state in RUNNING_STATES]
    ids = {r.id for r in running}
    running += [r for r, _ in watched if r.id not in ids]
    return HomeSections(
        waiting=tuple(r for r in unfinished if r.state is ChangeState.PENDING and r.id in approvable),
        mine=tuple(r for r in unfinished if r.requester == user_id),
        running=tuple(running),
        watched_until={r.id: w.ends_at for r, w in watched},
        blocked=frozenset(blocked),
    )


def home_view(
    user_id: str, sections: HomeSections, links: Mapping[str, str], now: datetime, *, cap: int = SECTION_CAP
) -> View:
    """The ``home`` view for ``user_id``: ``links`` maps a request id to its card's permalink (an item without one
    is shown unlinked), ``now`` is when the view was made."""
    blocks: list[Block] = [
        HeaderBlock(text="vpnbot: VPN connection changes"),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"For {user(user_id)}, as of {slack_date(now)}. Opening this tab again shows what changed since."
                )
            ]
        ),
    ]
    parts = (
        (WAITING_TITLE, sections.waiting, EMPTY_WAITING),
        (MINE_TITLE, sections.mine, EMPTY_MINE),
        (RUNNING_TITLE, sections.running, EMPTY_RUNNING),
    )
    for title, requests, empty in parts:
        blocks.append(DividerBlock())
        blocks += _section(title, requests, empty, sections, links, cap)
    blocks += [DividerBlock(), ContextBlock(elements=[MarkdownTextObject(text=HELP)])]
    return View(type="home", callback_id=HOME_CALLBACK, blocks=blocks)


def _section(
    title: str,
    requests: Sequence[ChangeRequest],
    empty: str,
    sections: HomeSections,
    links: Mapping[str, str],
    cap: int,
) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text=f"{title} ({len(requests)})" if requests else title)]
    if not requests:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=empty)))
        return blocks
    for request in requests[:cap]:
        text = _item(request, links.get(request.id), sections)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text)))
    hidden = len(requests) - cap
    if hidden > 0:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=MORE.format(hidden=hidden))]))
    return blocks


def _item(request: ChangeRequest, permalink: str | None, sections: HomeSections) -> str:
    """One request in two lines: the connection (linked to the card) and the request's id; then its state, who
    asked and when, and what is due next."""
    name = visible(clip(request.conn_name, NAME_MAX)) or "(no name)"
    first = (
        f"{_EMOJI.get(request.state, ':white_circle:')} *{link(permalink, name)}* "
        f"`{esc_visible(clip(request.vpn_conn_id, ID_MAX))}` · request `{esc_visible(clip(request.id, ID_MAX))}`"
    )
    facts = [f"*{request.state.value}*", f"asked by {user(request.requester)} {slack_date(request.created_at)}"]
    if request.state is ChangeState.PENDING:
        facts.append(f"expires {slack_date(request.expires_at)}")
    if request.approver and request.approved_at:
        facts.append(f"approved by {user(request.approver)} {slack_date(request.approved_at)}")
    if request.task_started_at and request.state in RUNNING_STATES:
        facts.append(f"sent {slack_date(request.task_started_at)}")
    watched_until = sections.watched_until.get(request.id)
    if watched_until is not None and request.state not in RUNNING_STATES:
        facts.append(f"tunnel watched until {slack_date(watched_until)}")
    if request.id in sections.blocked:
        facts.append(":no_entry_sign: blocked by `VPNBOT_CRYPTO_POLICY` (see the card)")
    if request.front != FRONT:
        facts.append(f"asked through `{esc_visible(clip(request.front, ID_MAX))}`: no card")
    elif permalink is None:
        facts.append("no link to its card yet")
    return f"{first}\n" + " · ".join(facts)
