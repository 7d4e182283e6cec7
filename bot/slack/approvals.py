"""The change card's buttons after ``ack()``: an approval or a rejection through the change service, and the
reject-reason modal. The person who clicked is told, ephemerally, why nothing happened when nothing did."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_sdk.web.async_client import AsyncWebClient

from bot.changes import Verdict
from bot.slack import blocks, cards, words
from bot.slack.context import BotContext
from bot.slack.text import esc_visible
from bot.vpn.change import ChangeState

log = logging.getLogger("bot.slack")
Say = Callable[[str], Awaitable[None]]


async def approve(ctx: BotContext, request_id: str, approver: str, say: Say) -> None:
    """An Approve click: the service checks who clicked, claims the approval once and sends the edit."""
    decision = await ctx.service.approve(request_id, approver, ctx.approvers)
    text = words.decision_words(decision, request_id, approving=True)
    if text is not None:
        await say(text)


async def reject(ctx: BotContext, request_id: str, decider: str, reason: str, say: Say) -> None:
    """Reject (an approver) or withdraw (the requester) a pending request."""
    decision = await ctx.service.reject(request_id, decider, reason, ctx.approvers)
    text = words.decision_words(decision, request_id, approving=False)
    if text is not None:
        await say(text)


async def ask_reason(
    ctx: BotContext, client: AsyncWebClient, request_id: str, user_id: str, trigger_id: object, say: Say
) -> None:
    """The reject-reason modal, for the requester (withdraw) or an approver, while the request is pending."""
    request = await ctx.service.get(request_id)
    if request is None:
        await say(f"There is no change request `{esc_visible(request_id)}`.")
        return
    if request.state is not ChangeState.PENDING:
        await say(words.already_decided(request))
        return
    if user_id != request.requester and not await ctx.approvers.may_approve(user_id, fresh=False):
        await say(words.decision_words_for(Verdict.NOT_AN_APPROVER, request, request_id, approving=False) or "")
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


def ephemeral_say(reply_to: cards.ResponseUrl) -> Say:
    async def say(text: str) -> None:
        await cards.ephemeral(reply_to, replace_original=False, text=text)

    return say


def direct_say(client: AsyncWebClient, user_id: str) -> Say:
    async def say(text: str) -> None:
        await cards.direct_message(client, user_id, text)

    return say
