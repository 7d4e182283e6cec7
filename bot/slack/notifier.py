"""The Slack front's notifier: the change service's events as the card, its thread and direct messages.

Each request the Slack front opened has a :class:`~bot.slack.records.SlackRecord` in the store. A Slack failure
is logged, never raised (the change's state lives in the store): a card that could not be updated is redrawn at
the next event, and an end whose final reply Slack did not take is shown again by :meth:`SlackNotifier.redraw`
(at start and by the sweeper), twice if vpnbot was killed between posting it and recording that it did (a reply
missing would leave the requester, whom it mentions, waiting).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from slack_sdk.web.async_client import AsyncWebClient

from bot.changes import Background, Note, NoteKind, PeerConfig, Progress, Step, WatchEvent, Word
from bot.slack import cards, tunnel, words
from bot.slack.blocks import dump
from bot.slack.records import STATUS_POSTING, SlackRecord, end_key
from bot.slack.text import user
from bot.store import StoreError, StoreUnavailableError
from bot.store.interface import ChangeStore
from bot.vpn.change import TERMINAL_STATES, ChangeRequest, ChangeState, EndKind
from bot.vpn.watch import Watch

__all__ = ["FRONT", "SlackNotifier"]

log = logging.getLogger("bot.slack")
FRONT = "slack"
ENDED_STATES = frozenset({*TERMINAL_STATES, ChangeState.UNKNOWN})


class SlackNotifier:
    """See the module. ``drawing``: requests whose end is being shown now (a redraw never posts it twice);
    ``crypto_policy``: ``VPNBOT_CRYPTO_POLICY``, which a pending card states when it blocks the change."""

    def __init__(
        self, client: AsyncWebClient, store: ChangeStore, background: Background, crypto_policy: str = "warn"
    ) -> None:
        self.client = client
        self.store = store
        self.background = background
        self.crypto_policy = crypto_policy
        self.drawing: set[str] = set()
        self.card_listeners: list[Callable[[ChangeRequest], None]] = []
        """Told (synchronously, so they must only schedule work) after a card changed or its end was shown:
        the Home tabs that list it are republished."""

    def _tell_listeners(self, request: ChangeRequest) -> None:
        for listener in self.card_listeners:
            listener(request)

    async def record(self, request: ChangeRequest) -> SlackRecord:
        """The request's record (empty for a request of another front, or one not stored)."""
        if request.front != FRONT:
            return SlackRecord()
        try:
            return SlackRecord.from_json(await self.store.front_record(request.id))
        except StoreError as error:
            log.warning("reading the Slack record of %s failed: %s", request.id, error)
            return SlackRecord()

    async def save(self, request: ChangeRequest, record: SlackRecord) -> None:
        """Save the record, waiting while the state file cannot be written (what it says already happened)."""
        while True:
            try:
                await self.store.save_front_record(request.id, record.to_json())
                return
            except StoreUnavailableError:
                await self.store.wait_writable()

    # -- the Notifier interface --------------------------------------------------------------------------------------

    async def card_changed(self, request: ChangeRequest, note: Note | None = None) -> None:
        status_line = words.note_words(note)[1] if note is not None else None
        blocked = request.blocked_by(self.crypto_policy)
        await cards.update_card(self.client, request, await self.record(request), status_line, blocked=blocked)
        self._tell_listeners(request)

    async def progress(self, request: ChangeRequest, progress: Progress) -> None:
        if progress.step is Step.SENT:
            record = await self.record(request)
            if record.has_card and record.progress_ts is None:
                # Shielded: a graceful stop between posting and saving would otherwise leave a second status message.
                await asyncio.shield(self._post_status(request, record))
        elif progress.step is Step.STATUS and not progress.no_task:  # no task: "running" still (one update fewer)
            record = await self.record(request)
            if record.progress_ts:
                text = words.running_text(request, words.status_words(progress.status), progress.elapsed)
                await cards.thread_update(self.client, record, record.progress_ts, text)

    async def note(self, request: ChangeRequest, note: Note) -> None:
        record = await self.record(request)
        text, status_line = words.note_words(note)
        if note.kind is NoteKind.APPROVAL_NOT_SAVED:
            text = f"{text} {user(request.requester)}"
        if status_line is not None:
            await cards.update_card(self.client, request, record, status_line)
        await cards.thread_post(self.client, record, text)

    async def finished(self, request: ChangeRequest) -> None:
        """Show a saved end: the card, the status message, then the final reply, recorded as shown once posted."""
        if request.front != FRONT or request.id in self.drawing:
            return
        self.drawing.add(request.id)
        try:
            record = await self.record(request)
            if request.end is EndKind.UNPOSTED:  # the front that could not show it said so itself
                await self._shown(request, record)
                return
            await cards.update_card(self.client, request, record)
            self._tell_listeners(request)
            if record.progress_ts:
                text = words.running_text(request, words.end_words(request), None)
                await cards.thread_update(self.client, record, record.progress_ts, text)
            if record.legacy_final_reply:
                if await cards.thread_post(self.client, record, record.legacy_final_reply) is None:
                    return
                record = record.with_(legacy_final_reply="")
            reply = words.final_reply(request) if record.shown_end != end_key(request) else None
            if reply is not None and await cards.thread_post(self.client, record, reply) is None:
                return  # shown again by the next redraw
            await self._shown(request, record)
        finally:
            self.drawing.discard(request.id)

    async def peer_config(self, request: ChangeRequest, configs: tuple[PeerConfig, ...]) -> None:
        record = await self.record(request)
        for blocks in tunnel.peer_config_messages(request, configs):
            text = f"The peer's half of change {request.id}"
            if await cards.thread_post_blocks(self.client, record, text, dump(blocks)) is None:
                return

    async def watch(self, request: ChangeRequest, watch: Watch, event: WatchEvent) -> None:
        if event is WatchEvent.NOT_NEEDED:  # the final reply said so already: no call more per change
            return
        record = await self.record(request)
        if record.progress_ts:
            status = words.running_text(request, words.end_words(request), None)
            line = tunnel.watch_line(request, watch, event)
            await cards.thread_update(self.client, record, record.progress_ts, f"{status}\n{line}")
        reply = tunnel.watch_reply(request, watch, event)
        if reply is not None:
            await cards.thread_post_blocks(self.client, record, reply[0], dump(reply[1]))

    async def tell(self, person: str, word: Word, request: ChangeRequest) -> None:
        if request.front == FRONT:
            await cards.direct_message(self.client, person, words.told(word, request))

    async def shown(self, request: ChangeRequest) -> bool:
        """A Slack request is shown once its card's ``ts`` is saved (vpnbot may have stopped while posting it:
        the card may be in Slack, but its updates and thread could not be, so it must not be approved)."""
        return request.front != FRONT or (await self.record(request)).has_card

    # -- the Slack front's own -------------------------------------------------------------------------------------

    async def redraw(self) -> int:
        """Show again every end that was saved but not shown (vpnbot stopped between saving and showing, or Slack
        failed); run at start and by the sweeper. How many."""
        ended = [
            r
            for r in await self.store.in_states(ENDED_STATES)
            if r.front == FRONT and r.end is not None and r.id not in self.drawing
        ]
        records = await self.store.front_records([r.id for r in ended])
        due = [
            r
            for r in ended
            if (record := SlackRecord.from_json(records.get(r.id))).shown_end != end_key(r) or record.legacy_final_reply
        ]
        for request in due:
            self.background.spawn(self.finished(request), f"draw-end-{request.id}")
        return len(due)

    async def _shown(self, request: ChangeRequest, record: SlackRecord) -> None:
        key = end_key(request)
        if record.shown_end != key or record.legacy_final_reply:
            try:
                await self.store.save_front_record(request.id, record.with_(shown_end=key).to_json())
            except StoreError as error:  # not recorded: shown once more by the next redraw
                log.warning("recording the end of %s as shown failed: %s", request.id, error)

    async def _post_status(self, request: ChangeRequest, record: SlackRecord) -> None:
        """Post the status message, recorded as being posted first (``STATUS_POSTING``)."""
        record = record.with_(progress_ts=STATUS_POSTING)
        await self.save(request, record)
        ts = await cards.thread_post(self.client, record, words.running_text(request, "", 0))
        await self.save(request, record.with_(progress_ts=ts))
