"""Block Kit for what a change does to the tunnel: the impact and crypto review on the card, the peer's half in
the thread, the health watch's words and the Revert button. Pure functions, like ``bot.slack.blocks``.

Every text from the domain or the cloud is escaped here, and cut (visibly) where it could outgrow a section; a
peer configuration is shown whole, in as many code blocks as it takes (a section holds 3000 characters), never cut.
mrkdwn has no escape for a backtick, and a code block ends at the first three, so a configuration's backticks are
shown as ``ˋ`` and characters that hide or reorder text as ``\\uXXXX`` (tabs and line breaks kept), with a note
under it saying so; a configuration without them is shown exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.changes import PeerConfig, WatchEvent
from bot.slack.text import clip, esc, esc_visible, slack_date, user, visible
from bot.vpn.change import ChangeRequest
from bot.vpn.crypto import CryptoReview
from bot.vpn.impact import Impact, impact_of
from bot.vpn.watch import Watch, WatchState

__all__ = [
    "REVERT_ACTION",
    "crypto_text",
    "impact_text",
    "peer_config_messages",
    "revert_actions",
    "revert_button",
    "row_effects",
    "watch_line",
    "watch_reply",
]

REVERT_ACTION = "revert_change"
CODE_CHARS = 2800
"""The most characters of configuration one section's code block holds (Slack: 3000 a section)."""
MESSAGE_BLOCKS = 40
NAME_SHOWN, PEER_SHOWN, TITLE_SHOWN, PROBLEM_SHOWN = 100, 200, 80, 400
"""The most characters of a name or the cloud's words, the peer, a configuration's title and why it could not be
made that a text shows (cut visibly): each may grow sixfold once escaped, and a section holds 3000."""
TICK = "`"
TICK_SHOWN = "\u02cb"
"""MODIFIER LETTER GRAVE ACCENT: what a backtick in a configuration is shown as."""
_TAB_OR_LINE_BREAK = re.compile(r"([\t\r\n])")
IMPACT_EMOJI: Mapping[Impact, str] = MappingProxyType(
    {
        Impact.NONE: ":white_circle:",
        Impact.TIMING: ":large_blue_circle:",
        Impact.SELECTORS: ":large_orange_circle:",
        Impact.PROPOSAL: ":red_circle:",
        Impact.KEY: ":red_circle:",
    }
)


def impact_text(request: ChangeRequest) -> str:
    """The card's lead line: the worst impact, and who must act on the peer."""
    impact = impact_of(request.diff)
    text = f"{IMPACT_EMOJI[impact.worst]} *{esc(impact.headline())}*"
    action = impact.peer_action(clip(request.peer, PEER_SHOWN) or "the customer gateway")
    if action:
        text += f"\n{esc_visible(action)}"
    return text


def row_effects(request: ChangeRequest) -> dict[str, str]:
    """Each diff row's effect on the tunnel, plain text by parameter name (for the diff table's column)."""
    return {row.name: row.text for row in impact_of(request.diff).rows}


def crypto_text(review: CryptoReview | None, blocked: str = "") -> str:
    """The crypto review in mrkdwn: what the change brings in or weakens (marked), what it strengthens, and what
    the current settings already hold; ``blocked``: why ``VPNBOT_CRYPTO_POLICY=block`` refuses it."""
    if review is None:
        return ""
    lines: list[str] = []
    for finding in review.introduced:
        lines.append(f":no_entry: *Brings in* {esc_visible(finding.text)}")
    for weakening in review.weakened:
        lines.append(
            f":arrow_down: *Weakens* `{esc_visible(weakening.param)}`: {esc_visible(weakening.before)} "
            f"({esc(weakening.before_level.words)}) → {esc_visible(weakening.after)} ({esc(weakening.after_level.words)})"
        )
    if review.only_strengthens:
        changed = ", ".join(f"`{esc_visible(s.param)}` {esc_visible(s.after)}" for s in review.strengthened)
        lines.append(f":arrow_up: Only strengthens the crypto: {changed}.")
    introduced = {(f.param, f.value) for f in review.introduced}
    remaining = [f for f in review.proposed if (f.param, f.value) not in introduced]
    if remaining:
        listed = "".join(f"\n• {esc_visible(f.text)}" for f in remaining)
        lines.append(f":warning: After this change the settings still hold:{listed}")
    if blocked:
        lines.append(f":lock: *VPNBOT_CRYPTO_POLICY=block: this change cannot be approved.* {esc_visible(blocked)}")
    if not lines:
        return ""
    return "*Crypto review* (RFC 8247, RFC 8221, RFC 9395)\n" + "\n".join(lines)


def revert_actions(request: ChangeRequest) -> ActionsBlock:
    """An actions block holding :func:`revert_button` alone."""
    return ActionsBlock(block_id="revert", elements=[revert_button(request)])


def revert_button(request: ChangeRequest) -> ButtonElement:
    """The Revert button: a new change request, pre-filled with the values before ``request``."""
    confirm = ConfirmObject(
        title="Revert this change?",
        text=(
            f"This opens a new change request for {esc_visible(request.vpn_conn_id)} with the values before "
            f"{esc_visible(request.id)}. It needs a second person's approval like any change."
        ),
        confirm="Open the revert",
        deny="Cancel",
    )
    return ButtonElement(text="Revert", action_id=REVERT_ACTION, value=request.id, confirm=confirm)


def peer_config_messages(request: ChangeRequest, configs: Sequence[PeerConfig]) -> list[list[Block]]:
    """The peer's configuration, every line of it, in as many messages as it takes."""
    impact = impact_of(request.diff)
    peer = clip(request.peer, PEER_SHOWN) or "the customer gateway"
    intro = (
        f":wrench: *The peer's half of this change* ({esc_visible(peer)}). "
        f"{esc_visible(impact.peer_action(peer))} The pre-shared key is never shown: each fragment says where it "
        "goes."
    )
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=intro))]
    for config in configs:
        title = esc_visible(clip(config.title, TITLE_SHOWN))
        if config.problem:
            text = f"*{title}*: not available: {esc_visible(clip(config.problem, PROBLEM_SHOWN))}"
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=text)]))
            continue
        shown = code_text(config.text)
        chunks = _chunks(shown)
        for number, chunk in enumerate(chunks, 1):
            part = f" (part {number} of {len(chunks)})" if len(chunks) > 1 else ""
            blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*{title}*{part}\n```{esc(chunk)}```")))
        if shown != config.text:
            note = (
                f"In *{title}*, each backtick is shown as {TICK_SHOWN} and each character that would hide or reorder "
                "text as its \\uXXXX escape, if any: Slack cannot show them in a code block."
            )
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=note)]))
    return [blocks[i : i + MESSAGE_BLOCKS] for i in range(0, len(blocks), MESSAGE_BLOCKS)]


def code_text(text: str) -> str:
    """``text`` as a mrkdwn code block can hold it (before :func:`esc`): backticks, which would end the block, shown
    as :data:`TICK_SHOWN`, and characters that hide or reorder text made visible; tabs and line breaks kept. Text
    without either comes back unchanged."""
    parts = _TAB_OR_LINE_BREAK.split(text.replace(TICK, TICK_SHOWN))
    return "".join(part if _TAB_OR_LINE_BREAK.fullmatch(part) else visible(part) for part in parts)


def _chunks(text: str) -> list[str]:
    """``text`` in pieces of at most :data:`CODE_CHARS` characters once escaped, cut between lines where it can."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(esc(line)) > CODE_CHARS:  # one very long line: cut it, every character kept
            head, line = line[: CODE_CHARS // 5], line[CODE_CHARS // 5 :]
            if current:
                chunks.append(current)
                current = ""
            chunks.append(head)
        if len(esc(current + line)) > CODE_CHARS:
            chunks.append(current)
            current = ""
        current += line
    if current or not chunks:
        chunks.append(current)
    return chunks


def watch_line(request: ChangeRequest, watch: Watch, event: WatchEvent) -> str:
    """The status message's added line for the watch."""
    status = f" ({esc_visible(clip(watch.last_status, NAME_SHOWN))})" if watch.last_status else ""
    if event is WatchEvent.NOT_NEEDED:
        return ":white_circle: Name only: no effect on traffic, so the tunnel is not watched."
    if watch.state is WatchState.WATCHING:
        now = ":red_circle: tunnel down" if watch.is_down else ":eyes: tunnel up so far"
        return f"{now}{status}; watching until {slack_date(watch.ends_at)}."
    if watch.state is WatchState.UP:
        if watch.down_since is not None:
            return f":large_green_circle: Tunnel up at the end of the watch (down from {slack_date(watch.down_since)}).{status}"
        return f":large_green_circle: Tunnel up: it stayed connected for the whole watch.{status}"
    if watch.state is WatchState.DOWN:
        since = slack_date(watch.down_since) if watch.down_since else "the start"
        return f":red_circle: Tunnel still down at the end of the watch (since {since}).{status}"
    if watch.last_read_at is not None:
        seen = "down" if watch.is_down else "up"
        return (
            f":grey_question: The tunnel's state at the end of the watch is not known: the last readings said "
            f"nothing of it{status}. It was last seen {seen} {slack_date(watch.last_read_at)}."
        )
    return f":grey_question: No reading of the connection said whether the tunnel is up, so its state is not known.{status}"


def watch_reply(request: ChangeRequest, watch: Watch, event: WatchEvent) -> tuple[str, list[Block]] | None:
    """A thread reply for the event (with a Revert button when the tunnel fell), or None when the status
    message says enough."""
    mentions = " ".join(user(p) for p in dict.fromkeys(filter(None, (request.requester, request.approver))))
    if event is WatchEvent.DOWN and watch.down_since is not None:
        text = (
            f":red_circle: {mentions} The tunnel of *{esc_visible(clip(request.conn_name, NAME_SHOWN))}* "
            f"(`{esc_visible(request.vpn_conn_id)}`) is *down* since {slack_date(watch.down_since)} "
            f"({esc_visible(clip(watch.last_status, NAME_SHOWN))}), after change `{esc_visible(request.id)}`. "
            f"{esc_visible(impact_of(request.diff).headline())} Update the peer, or revert the change."
        )
        blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=text)), revert_actions(request)]
        return text, blocks
    if event is WatchEvent.UP_AGAIN and watch.up_again_at is not None:
        text = f":large_green_circle: The tunnel is up again since {slack_date(watch.up_again_at)} {mentions}."
        return text, [SectionBlock(text=MarkdownTextObject(text=text))]
    if event is WatchEvent.ENDED:
        text = watch_line(request, watch, event)
        if watch.state is WatchState.DOWN:
            text = f"{text} {mentions}"
            return text, [SectionBlock(text=MarkdownTextObject(text=text)), revert_actions(request)]
        return text, [SectionBlock(text=MarkdownTextObject(text=text))]
    if event is WatchEvent.NOT_NEEDED:
        text = watch_line(request, watch, event)
        return text, [SectionBlock(text=MarkdownTextObject(text=text))]
    return None
