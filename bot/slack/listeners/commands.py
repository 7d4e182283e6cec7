"""``/vpn``: help at once in the ack; edit, list, show and status after it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks, cards, modals, replies
from bot.slack.context import bot_context
from bot.slack.text import esc_visible


async def vpn_command(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond, context: dict[str, Any]
) -> None:
    ctx = bot_context(context)
    words = str(body.get("text") or "").split()
    verb = words[0].lower() if words else "help"
    argument = words[1] if len(words) > 1 else None
    reply_to = cards.ResponseUrl.of(respond, ctx.session)
    if verb == "edit" and argument:
        await ack()
        opening = modals.open_edit_modal(
            ctx,
            client,
            argument,
            str(body.get("trigger_id", "")),
            str(body.get("user_id", "")),
            body.get("channel_id"),
            reply_to,
        )
        ctx.after_ack(opening, "open-edit-modal", trigger=True)
        return
    if verb in ("list", "show", "status") and (argument or verb == "list"):
        await ack()
        ctx.after_ack(replies.reply(ctx, client, verb, argument, reply_to), f"vpn-{verb}")
        return
    note = "" if verb == "help" else f"I don't know `/vpn {esc_visible(' '.join(words)[:100])}`."
    await ack(response_type="ephemeral", text="/vpn help", blocks=blocks.help_message(note))
