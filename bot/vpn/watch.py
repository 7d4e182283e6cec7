"""The health watch after a change: how long the tunnel is watched, what was seen, and what a reading means.

Pure (no I/O). The change service reads the connection during the watch window (``VPNBOT_WATCH`` from the moment
the change was verified live) and keeps a :class:`Watch` in the store after every reading that changes what it
knows, so a restarted vpnbot goes on watching where it stopped.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from bot.vpn.connection import VpnConnection

__all__ = ["TunnelReading", "Watch", "WatchState", "tunnel_reading"]


class WatchState(enum.StrEnum):
    """Where a watch is. ``watching`` until the window ends; then ``up`` (connected at the end) or ``down``."""

    WATCHING = "watching"
    UP = "up"
    DOWN = "down"
    UNREADABLE = "unreadable"
    """The window ended and no reading of the connection said whether the tunnel is up (none could be made, or
    each found it still modifying or without a status): nothing is claimed."""
    NOT_NEEDED = "not_needed"
    """The change cannot affect traffic (a name only): the tunnel is not watched."""


@dataclass(frozen=True)
class TunnelReading:
    """What one read of the connection says of the tunnel. ``up`` None: the read does not say (still modifying,
    or no status reported). ``status`` is the cloud's words, for showing (``NetStatus AVAILABLE``, ...)."""

    up: bool | None
    status: str


def tunnel_reading(connection: VpnConnection) -> TunnelReading:
    """Up when the connection is settled and its network status connected, and (API 3.0, when a health check is
    set) its health check available; down when the network status or the health check says unavailable."""
    net = connection.net_status.strip().lower()
    health = connection.health_check_status.strip().lower()
    words = f"net status {net or 'not reported'}" + (f", health check {health}" if health else "")
    if connection.status != 6:  # modifying, or an error state: the tunnel's status is not settled
        return TunnelReading(None, f"connection status {connection.status_text}; {words}")
    if net == "unavailable" or health == "unavailable":
        return TunnelReading(False, words)
    if net == "available" and health in ("", "available"):
        return TunnelReading(True, words)
    return TunnelReading(None, words)  # a status vpnbot does not know says nothing either way


@dataclass(frozen=True)
class Watch:
    """The watch of one finished change request.

    ``down_since``: when the watch first saw the tunnel down (None while it never has); ``up_again_at``: when it
    saw it connected again after that; ``announced_down``: the front was told of the fall (so a restart does not
    tell it twice); ``last_status``: the cloud's words at the last reading; ``last_read_at``: when a reading last
    said whether the tunnel is up (None while none has).
    """

    request_id: str
    vpn_conn_id: str
    started_at: datetime
    ends_at: datetime
    state: WatchState = WatchState.WATCHING
    down_since: datetime | None = None
    up_again_at: datetime | None = None
    announced_down: bool = False
    last_status: str = ""
    last_read_at: datetime | None = None
    peer_config_shown: bool = False
    down_before: bool = False
    said_last: bool = False

    @property
    def active(self) -> bool:
        return self.state is WatchState.WATCHING

    @property
    def is_down(self) -> bool:
        """Down at the last reading (seen down and not up since)."""
        return self.down_since is not None and self.up_again_at is None

    def seen(self, reading: TunnelReading, at: datetime) -> Watch:
        """This watch after ``reading`` taken at ``at``."""
        watch = replace(
            self,
            last_status=reading.status,
            last_read_at=self.last_read_at if reading.up is None else at,
            said_last=reading.up is not None,
        )
        if reading.up is False and not self.is_down:
            # Down at the first reading of a tunnel that was down before the change: not a fall to tell of.
            already = self.down_before and self.last_read_at is None
            return replace(watch, down_since=at, up_again_at=None, announced_down=already)
        if reading.up is True and self.is_down:
            return replace(watch, up_again_at=at)
        return watch

    def unread(self, why: str) -> Watch:
        """This watch after a reading that could not be made (``why``: plain words)."""
        return replace(self, last_status=why, said_last=False)

    def ended(self) -> Watch:
        """This watch at the end of its window: down or up by its last reading, or unreadable when the last
        reading said neither (an up or down seen earlier is no evidence of the end)."""
        if self.last_read_at is None or not self.said_last:
            return replace(self, state=WatchState.UNREADABLE)
        return replace(self, state=WatchState.DOWN if self.is_down else WatchState.UP)

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "vpn_conn_id": self.vpn_conn_id,
            "started_at": self.started_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "state": str(self.state),
            "down_since": _iso(self.down_since),
            "up_again_at": _iso(self.up_again_at),
            "announced_down": self.announced_down,
            "last_status": self.last_status,
            "last_read_at": _iso(self.last_read_at),
            "peer_config_shown": self.peer_config_shown,
            "down_before": self.down_before,
            "said_last": self.said_last,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Watch:
        """The watch :meth:`to_json` gave; ValueError when a field is missing or malformed."""
        try:
            return cls(
                request_id=str(data["request_id"]),
                vpn_conn_id=str(data["vpn_conn_id"]),
                started_at=_time(data["started_at"]),
                ends_at=_time(data["ends_at"]),
                state=WatchState(data.get("state", "watching")),
                down_since=_optional_time(data.get("down_since")),
                up_again_at=_optional_time(data.get("up_again_at")),
                announced_down=bool(data.get("announced_down", False)),
                last_status=str(data.get("last_status") or ""),
                last_read_at=_optional_time(data.get("last_read_at")),
                peer_config_shown=bool(data.get("peer_config_shown", False)),
                down_before=bool(data.get("down_before", False)),
                said_last=bool(data.get("said_last", data.get("last_read_at") is not None)),
            )
        except KeyError as error:
            raise ValueError(f"watch JSON lacks {error.args[0]!r}") from None
        except (TypeError, AttributeError) as error:
            raise ValueError(f"watch JSON is malformed: {error}") from None


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(text: Any) -> datetime:
    value = datetime.fromisoformat(str(text))
    if value.tzinfo is None:
        raise ValueError(f"not a timezone-aware time: {str(text)[:40]!r}")
    return value.astimezone(UTC)


def _optional_time(text: Any) -> datetime | None:
    return None if text is None else _time(text)
