"""``/vpn``: help, list, show, edit, status. Every reply only the requester needs is ephemeral."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks, cards
from bot.slack.blocks import Rendered, dump
from bot.slack.context import BotContext
from bot.slack.modals import open_edit_modal
from bot.slack.text import error_words, esc_visible
from bot.tencent import CloudError
from bot.vpn.change import is_request_id
from bot.vpn.connection import CloudDataError

log = logging.getLogger("bot.slack")


def register(app: AsyncApp, ctx: BotContext) -> None:
    async def vpn_command(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        words = str(body.get("text") or "").split()
        verb = words[0].lower() if words else "help"
        argument = words[1] if len(words) > 1 else None
        reply_to = cards.ResponseUrl.of(respond, ctx.session)
        if verb == "edit" and argument:
            await ack()
            opening = open_edit_modal(
                ctx,
                client,
                argument,
                str(body.get("trigger_id", "")),
                str(body.get("user_id", "")),
                body.get("channel_id"),
                reply_to,
            )
            ctx.after_ack(opening, "open-edit-modal", urgent=True)
            return
        if verb in ("list", "show", "status") and (argument or verb == "list"):
            await ack()
            ctx.after_ack(_reply(ctx, client, verb, argument, reply_to), f"vpn-{verb}")
            return
        note = "" if verb == "help" else f"I don't know `/vpn {esc_visible(' '.join(words)[:100])}`."
        await ack(response_type="ephemeral", text="/vpn help", blocks=blocks.help_message(note))

    app.command("/vpn")(vpn_command)


async def _reply(
    ctx: BotContext, client: AsyncWebClient, verb: str, argument: str | None, reply_to: cards.ResponseUrl
) -> None:
    reply = await _answer(ctx, client, verb, argument)
    await cards.ephemeral(reply_to, text=_fallback(reply), blocks=reply)


async def _answer(ctx: BotContext, client: AsyncWebClient, verb: str, argument: str | None) -> Rendered:
    if verb == "status":
        assert argument is not None
        if not is_request_id(argument):
            return blocks.text_message(
                f"`{esc_visible(argument[:80])}` is not a change request id (they look like `chg-...`)."
            )
        request = await ctx.store.get(argument)
        if request is None:
            return blocks.text_message(f"There is no change request `{esc_visible(argument)}`.")
        return dump(blocks.request_status(request, await cards.permalink(client, request)))
    try:
        if verb == "show":
            assert argument is not None
            return dump(blocks.connection_details(await ctx.cloud.client.describe_vpn_conn(argument)))
        scope = argument or ""
        if scope and not scope.startswith(("vpc-", "vpngw-")):
            return blocks.text_message(
                f"`{esc_visible(scope[:80])}` is neither a VPC id (`vpc-...`) nor a VPN gateway id (`vpngw-...`)."
            )
        found = await ctx.cloud.listing(
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
