"""Events API listeners: ``app_home_opened``, which publishes the person's Home tab (:mod:`bot.slack.home`) with
``views.publish``.

When a tab is published. Slack sends ``app_home_opened`` each time someone opens the Home tab, so the tab is built
again from the store at every opening, as Slack apps commonly do: what it shows is never older than the opening.
Besides, :meth:`HomeTabs.changed` (for the Slack notifier to call when a card changes) republishes the tabs of the
people a change concerns (its requester, approver and decider, and the approvers, who may see it waiting), among
those who opened their tab in this process in the last hour (at most ``OPENERS_MAX``, the most recent). It is
bounded and never blocks the change's flow: it only notes who is concerned; one background task, started at most
once per ``REFRESH_DELAY_SECONDS``, publishes once per person for all the changes of that moment. Someone a change
does not concern sees it under "Running now" at their next opening.

What an opening costs: one read of the index of open requests, one of the watches, one of the cards' records, and
one ``views.publish`` (tier 4). A card's link is the permalink saved in its record (made from ``auth.test``'s URL when
the card was posted), or else ``chat.getPermalink`` (tier 4), asked only for the items shown, one at a time, once
per card in the process's life (a bounded cache). Publishes for one person never overlap: an opening while one is
being made makes one more after it, so the newest state is published last and no ``hash`` is needed. A failure is
logged (Slack's error code, never a payload) and leaves the tab as it was.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.slack import cards, home
from bot.slack.cards import SLACK_FAILURES, failure_reason
from bot.slack.context import BotContext
from bot.slack.home import HomeSections
from bot.slack.notifier import FRONT
from bot.slack.records import SlackRecord
from bot.store import StoreError
from bot.vpn.change import ChangeRequest, ChangeState

__all__ = ["HOME_KEY", "HomeTabs", "home_opened", "home_tabs"]

log = logging.getLogger("bot.slack")
HOME_KEY = "vpnbot_home_tabs"
"""Where the app's middleware puts the :class:`HomeTabs` in Bolt's per-request context."""
OPENERS_MAX = 200
OPENER_SECONDS = 3600.0
PERMALINKS_MAX = 5000
REFRESH_DELAY_SECONDS = 2.0
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")


class HomeTabs:
    """The Home tabs of one running bot: who opened theirs lately, the cards' permalinks already asked for, and
    the publishes in progress (see the module)."""

    def __init__(
        self,
        ctx: BotContext,
        *,
        refresh_delay: float = REFRESH_DELAY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ctx = ctx
        self._refresh_delay = refresh_delay
        self._clock = clock
        self._openers: OrderedDict[str, float] = OrderedDict()
        self._permalinks: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._busy: set[str] = set()
        self._again: set[str] = set()
        self._concerned: set[str] = set()
        self._refreshing = False

    def opened(self, user_id: str) -> None:
        """``user_id`` opened their Home tab: publish it once Slack's requests give the loop a moment."""
        self._openers[user_id] = self._clock()
        self._openers.move_to_end(user_id)
        while len(self._openers) > OPENERS_MAX:
            self._openers.popitem(last=False)
        self._ctx.after_ack(self.publish(user_id), "home-tab")

    def recent_openers(self) -> list[str]:
        """Who opened their tab in the last hour, oldest first (older ones forgotten)."""
        since = self._clock() - OPENER_SECONDS
        while self._openers and next(iter(self._openers.values())) < since:
            self._openers.popitem(last=False)
        return list(self._openers)

    def changed(self, request: ChangeRequest) -> None:
        """``request``'s card changed: the tabs of the recent openers it concerns are republished shortly, in the
        background (never awaited by the caller)."""
        if not self._openers:
            return
        self._concerned.update(p for p in (request.requester, request.approver, request.decider) if p)
        if not self._refreshing:
            self._refreshing = True
            self._ctx.background.spawn(self._refresh(), "home-tabs-refresh")

    async def publish(self, user_id: str) -> None:
        """Build ``user_id``'s tab from the store and publish it; while one is being published, once more after."""
        if user_id in self._busy:
            self._again.add(user_id)
            return
        self._busy.add(user_id)
        try:
            again = True
            while again:
                self._again.discard(user_id)
                await self._publish_once(user_id)
                again = user_id in self._again
        finally:
            self._busy.discard(user_id)
            self._again.discard(user_id)

    async def sections(self, user_id: str) -> HomeSections:
        """``user_id``'s sections, from the store; what waits for them is decided as an Approve click would be."""
        service, approvers = self._ctx.service, self._ctx.approvers
        unfinished = await service.unfinished()
        watched = await service.watched()
        approvable = [r.id for r in unfinished if await service.may_approve(r, user_id, approvers)]
        blocked = [r.id for r in unfinished if r.state is ChangeState.PENDING and service.blocked_reason(r)]
        return home.sort_requests(user_id, unfinished, approvable, watched, blocked)

    async def links(self, requests: Sequence[ChangeRequest]) -> Mapping[str, str]:
        """The permalinks of the cards of ``requests`` that have one (see the module)."""
        shown = [r for r in requests if r.front == FRONT]
        records = await self._ctx.store.front_records([r.id for r in shown])
        found: dict[str, str] = {}
        for request in shown:
            permalink = await self._permalink(SlackRecord.from_json(records.get(request.id)))
            if permalink is not None:
                found[request.id] = permalink
        return found

    async def _publish_once(self, user_id: str) -> None:
        try:
            sections = await self.sections(user_id)
            links = await self.links(sections.shown())
        except StoreError as error:
            log.warning("the home tab of %s was not published: reading the store failed (%s)", user_id, error)
            return
        view = home.home_view(user_id, sections, links, self._ctx.clock())
        try:
            await self._ctx.client.views_publish(user_id=user_id, view=view.to_dict())
        except SLACK_FAILURES as error:
            log.warning("views.publish of the home tab of %s failed: %s", user_id, failure_reason(error))

    async def _permalink(self, record: SlackRecord) -> str | None:
        if record.link or not record.channel or not record.card_ts:
            return record.link
        key = (record.channel, record.card_ts)
        known = self._permalinks.get(key)
        if known is None:
            known = await cards.permalink(self._ctx.client, record)
            if known is None:  # Slack failed: asked again at the next opening
                return None
            self._permalinks[key] = known
            while len(self._permalinks) > PERMALINKS_MAX:
                self._permalinks.popitem(last=False)
        self._permalinks.move_to_end(key)
        return known

    async def _refresh(self) -> None:
        try:
            await asyncio.sleep(self._refresh_delay)
        finally:
            self._refreshing = False
        concerned, self._concerned = self._concerned, set()
        for person in self.recent_openers():
            if person in concerned or await self._ctx.approvers.may_approve(person, fresh=False):
                await self.publish(person)


async def home_opened(event: dict[str, Any], context: dict[str, Any]) -> None:
    """``app_home_opened``: the Home tab of whoever opened it is published (the Messages tab: nothing). Bolt acks
    an event before its listener runs; the work waits for a quiet moment like any listener's."""
    if event.get("tab") != "home":
        return
    user_id = event.get("user")
    if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
        return
    home_tabs(context).opened(user_id)


def home_tabs(context: Mapping[str, Any]) -> HomeTabs:
    """The HomeTabs a listener was given (Bolt's ``context``)."""
    found = context[HOME_KEY]
    assert isinstance(found, HomeTabs)
    return found
