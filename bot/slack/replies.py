"""The answers to ``/vpn list``, ``/vpn show`` and ``/vpn status``, ephemeral (only the requester needs them)."""

from __future__ import annotations

import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.changes import CloudDataError, CloudError
from bot.slack import blocks, cards
from bot.slack.blocks import Rendered, dump
from bot.slack.context import BotContext
from bot.slack.text import error_words, esc_visible
from bot.vpn.change import is_request_id

log = logging.getLogger("bot.slack")


async def reply(
    ctx: BotContext, client: AsyncWebClient, verb: str, argument: str | None, reply_to: cards.ResponseUrl
) -> None:
    answer = await _answer(ctx, client, verb, argument)
    await cards.ephemeral(reply_to, text=_fallback(answer), blocks=answer)


async def _answer(ctx: BotContext, client: AsyncWebClient, verb: str, argument: str | None) -> Rendered:
    if verb == "status":
        assert argument is not None
        if not is_request_id(argument):
            return blocks.text_message(
                f"`{esc_visible(argument[:80])}` is not a change request id (they look like `chg-...`)."
            )
        request = await ctx.service.get(argument)
        if request is None:
            return blocks.text_message(f"There is no change request `{esc_visible(argument)}`.")
        record = await ctx.notifier.record(request)
        return dump(blocks.request_status(request, await cards.permalink(client, record)))
    try:
        if verb == "show":
            assert argument is not None
            return dump(blocks.connection_details(await ctx.service.read(argument)))
        scope = argument or ""
        if scope and not scope.startswith(("vpc-", "vpngw-")):
            return blocks.text_message(
                f"`{esc_visible(scope[:80])}` is neither a VPC id (`vpc-...`) nor a VPN gateway id (`vpngw-...`)."
            )
        found = await ctx.service.listing(
            vpc_id=scope if scope.startswith("vpc-") else None,
            vpn_gw_id=scope if scope.startswith("vpngw-") else None,
        )
        return blocks.connection_list(found, f"in {scope}" if scope else "")
    except (CloudError, CloudDataError) as error:
        return blocks.text_message(f":warning: Tencent Cloud: {error_words(error)}")


def _fallback(reply: Rendered) -> str:
    first = reply[0] if reply else {}
    text = first.get("text")
    return str(text.get("text", "vpnbot")) if isinstance(text, dict) else "vpnbot"
