"""Modal submissions: the edit form (validated in the ack: every problem beside its field) and the reject reason."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import approvals, blocks, modals
from bot.slack.blocks import INPUT_MAX
from bot.slack.context import bot_context
from bot.vpn.change import is_request_id
from bot.vpn.edit import PSK

EXPIRED_FORM = "This form has expired. Close it and run /vpn edit again."
OLD_KEY_GONE = (
    "The key before the change is no longer kept (it is erased when the watch ends), so an empty field cannot "
    "restore it: type it here, or close this form and use /vpn edit to keep the key the connection has now."
)


async def edit_submitted(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
) -> None:
    ctx = bot_context(context)
    user_id = str(body.get("user", {}).get("id", ""))
    draft = ctx.drafts.get(str(view.get("id", "")))
    if draft is None or draft.requester != user_id:
        inputs = modals.input_blocks(view)
        if not inputs:
            await ack()  # nothing to show an error beside: just close it
            return
        target = "vpnConnName" if "vpnConnName" in inputs else inputs[0]
        await ack(response_action="errors", errors={target: EXPIRED_FORM})
        return
    fields = blocks.form_fields(draft.connection)
    submitted = modals.submitted_edits(view.get("state", {}).get("values", {}))
    edits = {n: t for n, t in submitted.items() if n in fields}
    # Slack's inputs hold at most 3000 characters; a longer value did not come from the form.
    oversized = {n: f"is longer than {INPUT_MAX} characters" for n, text in edits.items() if len(text) > INPUT_MAX}
    wanted = modals.unchanged_names_dropped(
        {n: t for n, t in edits.items() if n not in oversized}, draft.connection.name
    )
    if draft.revert_of and draft.restores_key and PSK not in wanted:  # an empty key field restores the old key
        old_key = await ctx.service.old_key(draft.revert_of)
        if old_key is None:  # erased since the form was filled: keeping the key now would be no revert of it
            await ack(response_action="errors", errors={PSK: OLD_KEY_GONE})
            return
        wanted[PSK] = old_key.get_secret_value()
    # Validating and diffing hundreds of CIDRs is CPU work: done off the loop, so other acks are not held.
    outcome = await asyncio.to_thread(
        modals.review, draft, wanted, user_id, ctx.clock(), ctx.settings.vpnbot_request_ttl
    )
    if isinstance(outcome, dict) or oversized:
        problems = {**(outcome if isinstance(outcome, dict) else {}), **oversized}
        await ack(response_action="errors", errors=modals.errors_for_form(problems, fields))
        return
    request, key = outcome
    await ack()
    ctx.drafts.pop(str(view.get("id", "")))
    posting = modals.post_change(ctx, client, request, key, draft.origin_channel, draft.reply_to)
    ctx.after_ack(posting, "post-change")


async def reject_submitted(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
) -> None:
    await ack()
    ctx = bot_context(context)
    request_id = modals.metadata_field(view.get("private_metadata"), "request")
    if not is_request_id(request_id):
        return
    block = view.get("state", {}).get("values", {}).get(blocks.REASON_BLOCK, {})
    reason = str((block.get(blocks.REASON_BLOCK) or {}).get("value") or "")[:500]
    user_id = str(body.get("user", {}).get("id", ""))
    rejecting = approvals.reject(ctx, request_id, user_id, reason, approvals.direct_say(client, user_id))
    ctx.after_ack(rejecting, "reject")
