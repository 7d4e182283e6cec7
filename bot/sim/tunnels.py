"""The tunnels' other ends and their pending renegotiations, kept by :class:`~bot.sim.world.SimState`.

A renegotiation is a point on the world's clock after which the tunnel's status is decided afresh by the match
rule (``bot.sim.peer``); until then an established SA survives, so the status stays what it was. One connection
has at most one pending renegotiation: a later reason to renegotiate replaces it. A connection without a peer
(``"peer": null``) never renegotiates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.sim.peer import Peer

__all__ = ["TunnelView", "Tunnels"]


@dataclass(frozen=True)
class TunnelView:
    """What ``GET /_sim/peers/{id}`` shows: ``match`` is None when no peer is modelled; ``renegotiates_at`` (the
    world's unix seconds) None when nothing is pending."""

    conn_id: str
    peer: Peer | None
    net_status: str
    match: bool | None
    mismatches: tuple[str, ...]
    renegotiates_at: float | None


class Tunnels:
    def __init__(self, peers: Mapping[str, Peer | None]) -> None:
        self._peers: dict[str, Peer | None] = dict(peers)
        self._due: dict[str, float] = {}

    def peer(self, conn_id: str) -> Peer | None:
        return self._peers.get(conn_id)

    def set_peer(self, conn_id: str, peer: Peer | None) -> None:
        self._peers[conn_id] = peer
        if peer is None:
            self._due.pop(conn_id, None)

    def schedule(self, conn_id: str, at: float) -> None:
        """Renegotiate ``conn_id`` at ``at`` (replacing what was pending); nothing when it has no peer."""
        if self._peers.get(conn_id) is not None:
            self._due[conn_id] = at

    def pending(self, conn_id: str) -> float | None:
        return self._due.get(conn_id)

    def first_due(self, now: float) -> tuple[float, str] | None:
        """The earliest renegotiation due at ``now`` as ``(at, conn_id)``, or None."""
        due = [(at, conn_id) for conn_id, at in self._due.items() if at <= now]
        return min(due, default=None)

    def done(self, conn_id: str) -> None:
        self._due.pop(conn_id, None)
