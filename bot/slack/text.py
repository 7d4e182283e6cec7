"""Making any text safe to put in a Slack message.

Slack reads ``<``, ``>`` and ``&`` in mrkdwn and ``text`` fields as control sequences (``<!channel>``, ``<@U..>``,
``<https://evil|shown>``); :func:`esc` escapes them, wherever the value came from (a form, the cloud, a reason, an
error). Characters that change how text around them is shown (bidirectional overrides, zero-width spaces, C0 and
C1 controls) are made visible as ``\\u202e``-style escapes by :func:`visible`, so a name from the cloud cannot
disguise itself. Mentions are built only from ids that look like Slack's (:func:`user`).
"""

from __future__ import annotations

import re
from datetime import datetime

from bot.vpn.params import visible
from bot.vpn.redact import clip

__all__ = [
    "channel",
    "clip",
    "error_words",
    "esc",
    "esc_visible",
    "link",
    "slack_date",
    "user",
    "visible",
    "visible_lines",
]

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
_CHANNEL_ID = re.compile(r"^[CDG][A-Z0-9]{2,30}$")


def esc(text: str) -> str:
    """Text made safe for mrkdwn: Slack's three control characters escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def visible_lines(text: str) -> str:
    """:func:`visible`, keeping line breaks (for multi-line texts the bot itself composed around a value)."""
    return "\n".join(visible(line) for line in text.split("\n"))


def esc_visible(text: str) -> str:
    """:func:`visible`, then :func:`esc`: for any value put into mrkdwn."""
    return esc(visible(text))


def user(user_id: str) -> str:
    """A mention of ``user_id``, or the id escaped as text when it is not shaped like a Slack user id."""
    return f"<@{user_id}>" if _USER_ID.match(user_id) else f"`{esc_visible(user_id[:40])}`"


def channel(channel_id: str) -> str:
    """A channel link, or the id escaped as text when it is not shaped like a Slack channel id."""
    return f"<#{channel_id}>" if _CHANNEL_ID.match(channel_id) else f"`{esc_visible(channel_id[:40])}`"


def link(url: str | None, label: str) -> str:
    """``<url|label>`` for a URL Slack gave the bot (a permalink); the plain label otherwise."""
    if url and re.match(r"^https?://[^\s<>|]+$", url):
        return f"<{url}|{esc(label)}>"
    return esc(label)


def error_words(error: Exception, limit: int = 1500) -> str:
    """An error's text for mrkdwn: cut visibly, hidden characters shown, escaped (cloud texts are not trusted)."""
    return esc(visible_lines(clip(str(error), limit)))


def slack_date(moment: datetime, fmt: str = "{date_short_pretty} {time}") -> str:
    """A time in Slack's ``<!date^...>`` format, shown in each reader's time zone, with a UTC fallback."""
    return f"<!date^{int(moment.timestamp())}^{fmt}|{moment.strftime('%Y-%m-%d %H:%M UTC')}>"
