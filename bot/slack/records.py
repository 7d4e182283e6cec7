"""What the Slack front keeps of each change request it shows: where its card and status message are, and which
end it has shown. Kept in the store as the request's front record (``ChangeStore.front_record``); the domain's
request knows none of it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from bot.vpn.change import ChangeRequest

__all__ = ["STATUS_POSTING", "SlackRecord", "end_key", "permalink_from"]

STATUS_POSTING = ""
"""``progress_ts`` while the status message is being posted. It is saved before the post, so after a crash between
the post and saving the message's ts the restarted bot knows one may exist (where, it cannot know) and posts no
second one; ``None`` means none was ever posted."""


@dataclass(frozen=True)
class SlackRecord:
    """``origin_channel``: where ``/vpn`` was used; ``channel``/``card_ts``: the card (None until it is posted);
    ``link``: the card's permalink when the workspace's URL is known (for other fronts to point at);
    ``progress_ts``: the status message in its thread; ``shown_end``: the last end shown (:func:`end_key`);
    ``legacy_final_reply``: a final reply an older vpnbot saved and had not posted yet."""

    origin_channel: str | None = None
    channel: str | None = None
    card_ts: str | None = None
    link: str | None = None
    progress_ts: str | None = None
    shown_end: str = ""
    legacy_final_reply: str = ""

    @property
    def has_card(self) -> bool:
        return bool(self.channel and self.card_ts)

    def with_(self, **changes: Any) -> SlackRecord:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {"front": "slack", **dataclasses.asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> SlackRecord:
        """The record, or an empty one for None; fields of another shape read as absent."""
        if not data:
            return cls()

        def text(name: str) -> str | None:
            value = data.get(name)
            return value if isinstance(value, str) else None

        return cls(
            origin_channel=text("origin_channel"),
            channel=text("channel"),
            card_ts=text("card_ts"),
            link=text("link"),
            progress_ts=text("progress_ts"),
            shown_end=text("shown_end") or "",
            legacy_final_reply=text("legacy_final_reply") or "",
        )


def end_key(request: ChangeRequest) -> str:
    """Which end a request is at (``state:end``); "" before it has one."""
    return f"{request.state}:{request.end}" if request.end is not None else ""


def permalink_from(workspace_url: str | None, channel: str, ts: str) -> str | None:
    """A message's permalink in the form Slack documents (``<workspace>/archives/<channel>/p<ts without the dot>``),
    from ``auth.test``'s ``url``; None when that is unknown."""
    if not workspace_url or not workspace_url.startswith("https://"):
        return None
    return f"{workspace_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
