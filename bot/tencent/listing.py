"""A listing of VPN connections that survives unreadable items, and a short cache of listings.

One connection the cloud describes in a way vpnbot cannot read (a value the seed cannot express, a 1 MB name) must
not hide the others: :class:`ConnectionListing` holds the readable connections and names the unreadable ones, by
id when the item has a readable one, with a short reason that names the field and never a value.

:class:`ListingCache` spares the cloud a flood of identical ``/vpn list`` requests: concurrent requests for one
scope share one cloud read, and its answer is reused for a few seconds. It is an object (no module-level state),
owned by ``bot.cloud.Cloud``, which empties it whenever a connection may have changed (an edit sent, a task done).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from bot.vpn.connection import CloudDataError, VpnConnection, readable_id

__all__ = ["ConnectionListing", "ListingCache", "ListingKey", "UnreadableConnection", "read_items"]

log = logging.getLogger("bot.tencent")


@dataclass(frozen=True)
class UnreadableConnection:
    """A connection the cloud listed but vpnbot cannot read. ``vpn_conn_id`` is None when the item holds no
    readable id; ``reason`` is short, names the field, and never holds a value (it may be shown to anyone)."""

    vpn_conn_id: str | None
    reason: str


@dataclass(frozen=True)
class ConnectionListing:
    """What a listing found: the readable connections, in the cloud's order, and the unreadable ones.

    Immutable (tuples), so one listing can be handed to many callers, as :class:`ListingCache` does.
    """

    connections: tuple[VpnConnection, ...] = ()
    unreadable: tuple[UnreadableConnection, ...] = ()

    @property
    def count(self) -> int:
        """How many items the cloud listed, readable or not."""
        return len(self.connections) + len(self.unreadable)

    def __add__(self, other: ConnectionListing) -> ConnectionListing:
        return ConnectionListing(self.connections + other.connections, self.unreadable + other.unreadable)


def read_items(
    items: Iterable[object], parse: Callable[[Mapping[str, Any]], VpnConnection], id_fields: tuple[str, ...]
) -> ConnectionListing:
    """Each item parsed with ``parse``; one that is not an object, or that ``parse`` cannot read (whatever it
    raises), is named by its first readable ``id_fields`` and the CloudDataError's ``reason``."""
    connections: list[VpnConnection] = []
    unreadable: list[UnreadableConnection] = []
    for item in items:
        if not isinstance(item, Mapping):
            unreadable.append(UnreadableConnection(None, "the item is not an object"))
            continue
        try:
            connections.append(parse(item))
        except CloudDataError as error:
            unreadable.append(UnreadableConnection(_item_id(item, id_fields), error.reason))
        except Exception as error:  # the item is untrusted input: nothing it holds may escape as a crash
            reason = f"unreadable item ({type(error).__name__})"
            unreadable.append(UnreadableConnection(_item_id(item, id_fields), reason))
    return ConnectionListing(tuple(connections), tuple(unreadable))


def _item_id(item: Mapping[str, Any], fields: tuple[str, ...]) -> str | None:
    return next((found for found in map(readable_id, (item.get(name) for name in fields)) if found), None)


ListingKey: TypeAlias = tuple[str | None, str | None]
"""A listing's scope: ``(vpc_id, vpn_gw_id)``, None for "any"."""
Fetch = Callable[[], Awaitable[ConnectionListing]]


class ListingCache:
    """Listings by scope, kept ``ttl_seconds`` after they arrive; concurrent ``get``s of one scope share one fetch.

    What a caller may rely on: a listing is at most ``ttl_seconds`` old, or was fetched for this very call (or one
    running at the same time); a failed fetch is not kept (each waiter gets its error, the next ``get`` fetches
    again); after :meth:`invalidate`, no ``get`` answers with a listing fetched before it. Cancelling one waiter
    leaves the shared fetch running for the others. At most ``max_entries`` scopes are kept (the oldest go first).
    ``clock`` is injectable for tests.
    """

    def __init__(
        self, ttl_seconds: float = 5.0, *, max_entries: int = 256, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if ttl_seconds < 0 or max_entries < 1:
            raise ValueError("need ttl_seconds >= 0 and max_entries >= 1")
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._kept: dict[ListingKey, tuple[float, ConnectionListing]] = {}
        self._fetching: dict[ListingKey, asyncio.Task[ConnectionListing]] = {}
        self._generation = 0

    async def get(self, key: ListingKey, fetch: Fetch) -> ConnectionListing:
        """The listing of ``key``: kept, being fetched, or fetched now with ``fetch``."""
        kept = self._kept.get(key)
        if kept is not None:
            if kept[0] > self._clock():
                return kept[1]
            del self._kept[key]
        task = self._fetching.get(key)
        if task is None:
            task = asyncio.ensure_future(self._fetch(key, fetch, self._generation))
            task.add_done_callback(_retrieve)
            self._fetching[key] = task
        return await asyncio.shield(task)

    def invalidate(self) -> None:
        """Forget every listing, including those being fetched (their waiters still get them; nobody else)."""
        self._generation += 1
        self._kept.clear()
        self._fetching.clear()

    async def _fetch(self, key: ListingKey, fetch: Fetch, generation: int) -> ConnectionListing:
        try:
            listing = await fetch()
        finally:
            if self._fetching.get(key) is asyncio.current_task():
                del self._fetching[key]
        if generation == self._generation and self._ttl > 0:
            self._keep(key, listing)
        return listing

    def _keep(self, key: ListingKey, listing: ConnectionListing) -> None:
        now = self._clock()
        for stale in [k for k, (until, _) in self._kept.items() if until <= now]:
            del self._kept[stale]
        while len(self._kept) >= self._max:
            del self._kept[next(iter(self._kept))]
        self._kept[key] = (now + self._ttl, listing)


def _retrieve(task: asyncio.Task[ConnectionListing]) -> None:
    """Mark a shared fetch's error as seen: when every waiter was cancelled, nobody else would."""
    if not task.cancelled():
        task.exception()
