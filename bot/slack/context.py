"""What the listeners share: settings, the cloud, the store, who may approve, and forms awaiting submission."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.cloud import Cloud
from bot.config import Settings
from bot.slack.ackfirst import AckFirst
from bot.slack.cards import ResponseUrl
from bot.store import Store
from bot.vpn.connection import VpnConnection

log = logging.getLogger("bot.slack")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Draft:
    """An edit form as it was filled: the connection it was built from, for whom, and from which channel."""

    connection: VpnConnection
    requester: str
    origin_channel: str | None
    reply_to: ResponseUrl | None = None
    created: float = field(default_factory=time.monotonic)


class DraftCache:
    """Open edit forms by view id, bounded and short-lived (a form is submitted within minutes, or never).

    Held in memory: a form opened before a restart asks its user to open it again.
    """

    def __init__(self, capacity: int = 2000, ttl_seconds: float = 3600) -> None:
        self._drafts: OrderedDict[str, Draft] = OrderedDict()
        self._capacity = capacity
        self._ttl = ttl_seconds

    def put(self, view_id: str, draft: Draft) -> None:
        self._drafts[view_id] = draft
        self._drafts.move_to_end(view_id)
        while len(self._drafts) > self._capacity:
            self._drafts.popitem(last=False)

    def get(self, view_id: str) -> Draft | None:
        draft = self._drafts.get(view_id)
        if draft is None or time.monotonic() - draft.created > self._ttl:
            self._drafts.pop(view_id, None)
            return None
        return draft

    def pop(self, view_id: str) -> None:
        self._drafts.pop(view_id, None)


class ApproverPolicy:
    """``VPNBOT_APPROVERS``: user ids approve directly; members of listed user groups (``usergroups.users.list``)
    too. Nobody approves when the list is empty. A decision (``fresh=True``: approve, reject) reads the groups
    afresh, so someone removed from a group cannot approve a second later; checks that only choose what to show
    use a membership up to a minute old."""

    def __init__(self, approvers: tuple[str, ...], client: AsyncWebClient, cache_seconds: float = 60) -> None:
        self.users = frozenset(a for a in approvers if not a.startswith("S"))
        self.groups = tuple(a for a in approvers if a.startswith("S"))
        self._client = client
        self._cache_seconds = cache_seconds
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    @property
    def configured(self) -> bool:
        return bool(self.users or self.groups)

    async def may_approve(self, user_id: str, *, fresh: bool = True) -> bool:
        if user_id in self.users:
            return True
        for group in self.groups:
            if user_id in await self._group_members(group, fresh=fresh):
                return True
        return False

    async def _group_members(self, group: str, *, fresh: bool) -> frozenset[str]:
        cached = self._members.get(group)
        if not fresh and cached and time.monotonic() - cached[0] < self._cache_seconds:
            return cached[1]
        try:
            response = await self._client.usergroups_users_list(usergroup=group)
            users: list[object] = list(response.get("users") or [])
            members = frozenset(str(u) for u in users)
        except SlackApiError as error:
            log.warning("usergroups.users.list for %s failed: %s", group, error.response.get("error"))
            members = frozenset()
        self._members[group] = (time.monotonic(), members)
        return members


@dataclass
class BotContext:
    """Everything a listener needs; built once by the runner."""

    settings: Settings
    cloud: Cloud
    store: Store
    client: AsyncWebClient
    approvers: ApproverPolicy
    drafts: DraftCache = field(default_factory=DraftCache)
    clock: Callable[[], datetime] = utc_now
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    drawing: set[str] = field(default_factory=set)
    """Requests whose end is being shown now (so a redraw never posts a final reply twice)."""
    ack_first: AckFirst = field(default_factory=AckFirst)

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The aiohttp session the Web API client shares (answers on a ``response_url`` reuse it)."""
        return self.client.session

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``work`` in the background, kept referenced until done; failures are logged, never lost."""
        task = asyncio.create_task(work, name=name)
        self.background.add(task)
        task.add_done_callback(self._finished)
        return task

    def after_ack(self, work: Coroutine[Any, Any, Any], name: str, *, urgent: bool = False) -> asyncio.Task[Any]:
        """Run ``work`` in the background once it is its turn (:mod:`bot.slack.ackfirst`): acks go first."""
        return self.spawn(self._in_turn(work, urgent), name)

    async def _in_turn(self, work: Coroutine[Any, Any, Any], urgent: bool) -> Any:
        try:
            async with self.ack_first.urgent() if urgent else self.ack_first.background():
                return await work
        finally:
            work.close()  # a no-op once awaited; stops "never awaited" warnings when cancelled before its turn

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background work %s failed", task.get_name(), exc_info=task.exception())
