"""Buttons: Approve, Reject and Revert on a card (valued by the request id), Edit in a list and Review again on a
card (valued by the connection id)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import approvals, cards, modals
from bot.slack.context import BotContext, bot_context
from bot.slack.modals import ID_MAX
from bot.vpn.change import is_request_id


async def approve_clicked(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, context: dict[str, Any]
) -> None:
    await ack()
    ctx = bot_context(context)
    request_id = str(action.get("value", ""))
    if not is_request_id(request_id):
        return
    approver = str(body.get("user", {}).get("id", ""))
    say = approvals.ephemeral_say(cards.ResponseUrl.of(respond, ctx.session))
    ctx.after_ack(approvals.approve(ctx, request_id, approver, say), f"approve-{request_id}")


async def reject_clicked(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: dict[str, Any],
) -> None:
    await ack()
    ctx = bot_context(context)
    request_id = str(action.get("value", ""))
    if not is_request_id(request_id):
        return
    say = approvals.ephemeral_say(cards.ResponseUrl.of(respond, ctx.session))
    user_id = str(body.get("user", {}).get("id", ""))
    asking = approvals.ask_reason(ctx, client, request_id, user_id, body.get("trigger_id"), say)
    ctx.after_ack(asking, "reject-reason", trigger=True)


async def edit_clicked(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: dict[str, Any],
) -> None:
    await ack()
    ctx = bot_context(context)
    vpn_conn_id = str(action.get("value", ""))[:ID_MAX]
    opening = modals.open_edit_modal(ctx, client, vpn_conn_id, *_form_asked(body, respond, ctx))
    ctx.after_ack(opening, "open-edit-modal", trigger=True)


async def revert_clicked(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: dict[str, Any],
) -> None:
    """Revert on a finished change: the edit form of a new request, pre-filled with the values before it."""
    await ack()
    ctx = bot_context(context)
    request_id = str(action.get("value", ""))
    if not is_request_id(request_id):
        return
    opening = modals.open_revert_modal(ctx, client, request_id, *_form_asked(body, respond, ctx))
    ctx.after_ack(opening, "open-revert-modal", trigger=True)


def _form_asked(
    body: dict[str, Any], respond: AsyncRespond, ctx: BotContext
) -> tuple[str, str, str | None, cards.ResponseUrl]:
    """Who clicked for a form, and where: the trigger, the person, the channel and the response URL."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    reply_to = cards.ResponseUrl.of(respond, ctx.session)
    return str(body.get("trigger_id", "")), str(body.get("user", {}).get("id", "")), channel, reply_to
