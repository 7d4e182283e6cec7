"""What the listeners share: settings, the change service, the Slack client, who may approve, and forms awaiting
submission."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.changes import Background, ChangeService
from bot.changes.service import utc_now
from bot.config import Settings
from bot.slack.cards import SLACK_FAILURES, ResponseUrl, failure_reason
from bot.slack.notifier import SlackNotifier
from bot.slack.quiet import TRIGGER_WAIT_SECONDS, WORK_WAIT_SECONDS, QuietGate
from bot.store.interface import ChangeStore
from bot.vpn.connection import VpnConnection

log = logging.getLogger("bot.slack")


@dataclass(frozen=True)
class Draft:
    """An edit form as it was filled: the connection it was built from, for whom, and from which channel; for a
    revert, the change it reverts and whether an empty key field restores the key before it."""

    connection: VpnConnection
    requester: str
    origin_channel: str | None
    reply_to: ResponseUrl | None = None
    created: float = field(default_factory=time.monotonic)
    revert_of: str | None = None
    restores_key: bool = False


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

    def __init__(
        self,
        approvers: tuple[str, ...],
        client: AsyncWebClient,
        cache_seconds: float = 60,
        *,
        allow_self_approval: bool = False,
    ) -> None:
        self.allow_self_approval = allow_self_approval
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
    """Everything a listener needs; built once by the runner, and handed to listeners in Bolt's context
    (:func:`bot_context`)."""

    settings: Settings
    service: ChangeService
    store: ChangeStore
    client: AsyncWebClient
    approvers: ApproverPolicy
    notifier: SlackNotifier
    background: Background
    drafts: DraftCache = field(default_factory=DraftCache)
    clock: Callable[[], datetime] = utc_now
    quiet: QuietGate = field(default_factory=QuietGate)
    """Slack requests in progress, so that work left for after an ack waits for a quiet moment."""
    workspace: list[str | None] = field(default_factory=list)
    """``auth.test``'s ``url`` once asked (:meth:`workspace_url`)."""

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The aiohttp session the Web API client shares (answers on a ``response_url`` reuse it)."""
        return self.client.session

    def after_ack(self, work: Coroutine[Any, Any, Any], name: str, *, trigger: bool = False) -> None:
        """Run ``work`` once Slack's requests give the loop a moment (:mod:`bot.slack.quiet`); ``trigger``: it
        opens a modal, whose ``trigger_id`` expires, so it waits less."""
        wait = TRIGGER_WAIT_SECONDS if trigger else WORK_WAIT_SECONDS
        self.background.spawn(work, name, after=lambda: self.quiet.wait(wait))

    async def workspace_url(self) -> str | None:
        """The workspace's URL (``auth.test``, asked once), from which a card's permalink is made for other fronts
        to point at; None when Slack did not say (asked again next time)."""
        if not self.workspace:
            try:
                answer = await self.client.auth_test()
            except SLACK_FAILURES as error:
                log.info("auth.test failed (%s): no permalink kept for this card", failure_reason(error))
                return None
            url = answer.get("url")
            self.workspace.append(url if isinstance(url, str) else None)
        return self.workspace[0]


CONTEXT_KEY = "vpnbot"
"""Where the app's middleware puts the BotContext in Bolt's per-request context."""


def bot_context(context: Mapping[str, Any]) -> BotContext:
    """The BotContext a listener was given (Bolt's ``context`` argument)."""
    found = context[CONTEXT_KEY]
    assert isinstance(found, BotContext)
    return found
