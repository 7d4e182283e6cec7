"""The change card's buttons: Approve (``approve_change``) and Reject (``reject_change``), valued by the request id."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks, cards, changes
from bot.slack.context import BotContext, log
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
        ctx.spawn(changes.approve(ctx, request_id, approver, _ephemeral(respond)), f"approve-{request_id}")

    async def reject_clicked(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        request_id = str(action.get("value", ""))
        if not is_request_id(request_id):
            return
        say = _ephemeral(respond)
        user_id = str(body.get("user", {}).get("id", ""))
        request = await ctx.store.get(request_id)
        if request is None:
            await say(f"There is no change request `{request_id}`.")
            return
        if request.state is not ChangeState.PENDING:
            await say(changes.already_decided(request))
            return
        if user_id != request.requester and not await ctx.approvers.may_approve(user_id):
            await say(
                "Only the requester or an approver (VPNBOT_APPROVERS) can reject this change. Nothing was changed."
            )
            return
        trigger_id = body.get("trigger_id")
        if not isinstance(trigger_id, str) or not trigger_id:
            log.warning("a Reject click for %s came without a trigger_id", request_id)
            return
        view = blocks.reject_view(request, blocks.metadata(request=request_id), withdraw=user_id == request.requester)
        try:
            await client.views_open(trigger_id=trigger_id, view=view.to_dict())
        except SlackApiError as error:
            log.warning("views.open for rejecting %s failed: %s", request_id, error.response.get("error"))

    app.action(blocks.APPROVE_ACTION)(approve_clicked)
    app.action(blocks.REJECT_ACTION)(reject_clicked)


def _ephemeral(respond: AsyncRespond) -> changes.Say:
    async def say(text: str) -> None:
        await cards.ephemeral(respond, replace_original=False, text=text)

    return say
