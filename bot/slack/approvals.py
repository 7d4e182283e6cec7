"""The change card's buttons: Approve (``approve_change``) and Reject (``reject_change``), valued by the request id."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks, cards, changes
from bot.slack.context import BotContext, log
from bot.slack.text import esc_visible
from bot.vpn.change import ChangeState, is_request_id


def register(app: AsyncApp, ctx: BotContext) -> None:
    async def approve_clicked(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        request_id = str(action.get("value", ""))
        if not is_request_id(request_id):
            return
        approver = str(body.get("user", {}).get("id", ""))
        say = _ephemeral(cards.ResponseUrl.of(respond, ctx.session))
        ctx.after_ack(changes.approve(ctx, request_id, approver, say), f"approve-{request_id}")

    async def reject_clicked(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        request_id = str(action.get("value", ""))
        if not is_request_id(request_id):
            return
        say = _ephemeral(cards.ResponseUrl.of(respond, ctx.session))
        user_id = str(body.get("user", {}).get("id", ""))
        trigger_id = body.get("trigger_id")
        ctx.after_ack(_ask_reason(ctx, client, request_id, user_id, trigger_id, say), "reject-reason", urgent=True)

    app.action(blocks.APPROVE_ACTION)(approve_clicked)
    app.action(blocks.REJECT_ACTION)(reject_clicked)


async def _ask_reason(
    ctx: BotContext, client: AsyncWebClient, request_id: str, user_id: str, trigger_id: object, say: changes.Say
) -> None:
    """The reject-reason modal, for the requester (withdraw) or an approver, while the request is pending."""
    request = await ctx.store.get(request_id)
    if request is None:
        await say(f"There is no change request `{esc_visible(request_id)}`.")
        return
    if request.state is not ChangeState.PENDING:
        await say(changes.already_decided(request))
        return
    if user_id != request.requester and not await ctx.approvers.may_approve(user_id, fresh=False):
        await say("Only the requester or an approver (VPNBOT_APPROVERS) can reject this change. Nothing was changed.")
        return
    if not isinstance(trigger_id, str) or not trigger_id:
        log.warning("a Reject click for %s came without a trigger_id", request_id)
        return
    view = blocks.reject_view(request, blocks.metadata(request=request_id), withdraw=user_id == request.requester)
    try:
        await client.views_open(trigger_id=trigger_id, view=view.to_dict())
    except cards.SLACK_FAILURES as error:
        reason = cards.failure_reason(error)
        log.warning("views.open for rejecting %s failed: %s", request_id, reason)
        await say(f"I could not open the reason form (Slack answered `{esc_visible(reason)}`); click Reject again.")


def _ephemeral(reply_to: cards.ResponseUrl) -> changes.Say:
    async def say(text: str) -> None:
        await cards.ephemeral(reply_to, replace_original=False, text=text)

    return say
