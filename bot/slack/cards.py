"""Posting and updating a change card and its thread. Slack failures here are logged, never raised: the change's
state lives in the store, and a card that could not be updated is redrawn at the next transition."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.slack.blocks import Rendered, card_text, change_card, dump, listing_messages, text_message
from bot.slack.records import SlackRecord
from bot.vpn.change import ChangeRequest

log = logging.getLogger("bot.slack")
# What a Web API call can fail with: Slack's answer, the network, or no answer in time.
SLACK_FAILURES = (SlackApiError, aiohttp.ClientError, TimeoutError)


def failure_reason(error: Exception) -> str:
    """Slack's error code, or the kind of network failure (never a payload)."""
    if isinstance(error, SlackApiError):
        return str(error.response.get("error"))
    return type(error).__name__


async def post_card(
    client: AsyncWebClient, channel: str, request: ChangeRequest, *, listing_pending: bool = False, blocked: str = ""
) -> str | None:
    """Post the card; its ``ts``, or None when Slack refused (the reason is logged)."""
    try:
        response = await client.chat_postMessage(
            channel=channel,
            text=card_text(request),
            blocks=dump(change_card(request, listing_pending=listing_pending, blocked=blocked)),
        )
    except SLACK_FAILURES as error:
        log.warning("posting the card of %s to %s failed: %s", request.id, channel, failure_reason(error))
        return None
    return str(response["ts"])


async def post_listing(client: AsyncWebClient, channel: str, card_ts: str, request: ChangeRequest) -> bool:
    """Every entry of a change too large for its card, in the card's thread; False when a message failed."""
    for message in listing_messages(request):
        try:
            await client.chat_postMessage(
                channel=channel, thread_ts=card_ts, text=f"Every entry of change {request.id}", blocks=message
            )
        except SLACK_FAILURES as error:
            log.warning("posting the full listing of %s failed: %s", request.id, failure_reason(error))
            return False
    return True


async def update_card(
    client: AsyncWebClient,
    request: ChangeRequest,
    record: SlackRecord,
    status_line: str | None = None,
    *,
    listing_pending: bool = False,
    blocked: str = "",
) -> bool:
    """Redraw the card where ``record`` says it is; False when it has none or Slack failed."""
    if not record.channel or not record.card_ts:
        return False
    try:
        await client.chat_update(
            channel=record.channel,
            ts=record.card_ts,
            text=card_text(request),
            blocks=dump(
                change_card(request, status_line=status_line, listing_pending=listing_pending, blocked=blocked)
            ),
        )
    except SLACK_FAILURES as error:
        log.warning("updating the card of %s failed: %s", request.id, failure_reason(error))
        return False
    return True


async def thread_post(client: AsyncWebClient, record: SlackRecord, text: str) -> str | None:
    """A reply in the card's thread; its ``ts``, or None (no card, or Slack failed)."""
    return await thread_post_blocks(client, record, text, text_message(text))


async def thread_post_blocks(client: AsyncWebClient, record: SlackRecord, text: str, blocks: Rendered) -> str | None:
    """A reply of ``blocks`` in the card's thread (``text``: its notification); its ``ts``, or None."""
    if not record.channel or not record.card_ts:
        return None
    try:
        response = await client.chat_postMessage(
            channel=record.channel, thread_ts=record.card_ts, text=text, blocks=blocks
        )
    except SLACK_FAILURES as error:
        log.warning("replying in the thread of card %s failed: %s", record.card_ts, failure_reason(error))
        return None
    return str(response["ts"])


async def thread_update(client: AsyncWebClient, record: SlackRecord, ts: str, text: str) -> None:
    if not record.channel:
        return
    try:
        await client.chat_update(channel=record.channel, ts=ts, text=text, blocks=text_message(text))
    except SLACK_FAILURES as error:
        log.warning("updating the status message of card %s failed: %s", record.card_ts, failure_reason(error))


async def permalink(client: AsyncWebClient, record: SlackRecord) -> str | None:
    if record.link:
        return record.link
    if not record.channel or not record.card_ts:
        return None
    try:
        response = await client.chat_getPermalink(channel=record.channel, message_ts=record.card_ts)
    except SLACK_FAILURES:
        return None
    link = response.get("permalink")
    return str(link) if link else None


@dataclass(frozen=True)
class ResponseUrl:
    """An interaction's ``response_url``, answered over the bot's shared aiohttp session (Bolt's ``respond`` opens
    a new session, and so a new connection, for every answer)."""

    url: str | None
    session: aiohttp.ClientSession | None = None

    @classmethod
    def of(cls, respond: AsyncRespond | None, session: aiohttp.ClientSession | None) -> ResponseUrl:
        """The URL Bolt found in the payload (``response_url``, or the first of a modal's ``response_urls``)."""
        url = getattr(respond, "response_url", None)
        return cls(url if isinstance(url, str) and url else None, session)

    async def send(self, **message: Any) -> None:
        assert self.url is not None
        response = await AsyncWebhookClient(self.url, session=self.session).send_dict(message)
        if response.status_code >= 400:
            log.info("the response_url answered HTTP %d", response.status_code)


async def ephemeral(reply_to: ResponseUrl | None, **message: Any) -> bool:
    """Answer on the interaction's ``response_url``; False, logged, when the payload had none or posting failed (a
    dead, used-up or malformed URL must not fail the listener)."""
    if reply_to is None or not reply_to.url:
        log.info("no response_url to answer on")
        return False
    try:
        await reply_to.send(response_type="ephemeral", **message)
    except Exception as error:  # aiohttp, yarl and the SDK raise different types for a bad URL
        log.warning("answering on the response_url failed: %s", type(error).__name__)
        return False
    return True


async def direct_message(client: AsyncWebClient, user_id: str, text: str) -> bool:
    """Tell one person something when there is no card or thread to say it in; False when Slack failed."""
    try:
        await client.chat_postMessage(channel=user_id, text=text, blocks=text_message(text))
    except SLACK_FAILURES as error:
        log.warning("messaging %s failed: %s", user_id, failure_reason(error))
        return False
    return True


async def tell(client: AsyncWebClient, user_id: str, text: str, reply_to: ResponseUrl | None) -> bool:
    """A word to one person: a direct message, or else an ephemeral answer where they asked; False (logged as an
    error) when neither reached them."""
    if await direct_message(client, user_id, text):
        return True
    if await ephemeral(reply_to, replace_original=False, text=text, blocks=text_message(text)):
        return True
    log.error("could not tell %s anything: the direct message and the response_url both failed", user_id)
    return False
