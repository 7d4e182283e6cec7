"""The edit modal: opened at once with a loading view, filled from ``DescribeVpnConn``, validated on submit
(every problem beside its field), then the change card is posted. Also the reject-reason modal."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks, cards, changes
from bot.slack.blocks import esc
from bot.slack.context import BotContext, Draft
from bot.store import OpenRequestExistsError
from bot.tencent import CloudError
from bot.vpn.change import ChangeRequest, is_request_id
from bot.vpn.connection import CloudDataError
from bot.vpn.edit import PSK, propose
from bot.vpn.params import PARAMS, InvalidParametersError

log = logging.getLogger("bot.slack")
ID_MAX = 64  # no Slack or Tencent Cloud id is longer; keeps private_metadata within Slack's 3000 characters
INPUT_MAX = 3000  # Slack's own limit for a plain_text_input: a longer value did not come from the form
NO_CHANGE = "Nothing to change: every value is what the connection has now. Edit at least one field."


async def open_edit_modal(
    ctx: BotContext,
    client: AsyncWebClient,
    vpn_conn_id: str,
    trigger_id: str,
    requester: str,
    origin_channel: str | None,
    reply_to: cards.ResponseUrl | None,
) -> None:
    """The modal (a loading view at once, filled once it is the work's turn, see ``bot.slack.ackfirst``), unless
    the connection already has an open change (then a link to its card)."""
    vpn_conn_id = vpn_conn_id[:ID_MAX]
    existing = await ctx.store.open_request_for(vpn_conn_id)
    if existing is not None:
        link = await cards.permalink(client, existing)
        where = f"<{link}|its card>" if link else f"`/vpn status {existing.id}`"
        text = f"`{esc(vpn_conn_id)}` already has an open change ({existing.state.value}); see {where}."
        if not await cards.ephemeral(reply_to, replace_original=False, text=text):
            await cards.direct_message(client, requester, text)
        return
    if not trigger_id:
        log.warning("no trigger_id to open the form for %s with", vpn_conn_id)
        return
    private = blocks.metadata(conn=vpn_conn_id, channel=str(origin_channel or "")[:ID_MAX])
    try:
        opened = await client.views_open(
            trigger_id=trigger_id, view=blocks.loading_view(vpn_conn_id, private).to_dict()
        )
    except SlackApiError as error:
        log.warning("views.open for %s failed: %s", vpn_conn_id, error.response.get("error"))
        return
    view = {"id": opened["view"]["id"], "hash": opened["view"].get("hash")}
    filling = _fill_form(ctx, client, view, vpn_conn_id, private, requester, origin_channel)
    ctx.after_ack(filling, "fill-edit-form")


async def _fill_form(
    ctx: BotContext,
    client: AsyncWebClient,
    view: Mapping[str, Any],
    vpn_conn_id: str,
    private: str,
    requester: str,
    origin_channel: str | None,
) -> None:
    """Replace the loading view with the form, filled from ``DescribeVpnConn`` (or with the cloud's error)."""
    try:
        connection = await ctx.cloud.client.describe_vpn_conn(vpn_conn_id)
    except (CloudError, CloudDataError) as error:
        failed = blocks.message_view("Cannot edit", f":warning: Tencent Cloud: {esc(str(error))}")
        await _update_view(client, view, failed.to_dict())
        return
    ctx.drafts.put(str(view["id"]), Draft(connection, requester, origin_channel))
    await _update_view(client, view, blocks.edit_form_rendered(connection, private))


async def _update_view(client: AsyncWebClient, view: Mapping[str, Any], new_view: dict[str, Any]) -> None:
    try:
        await client.views_update(view_id=view["id"], hash=view.get("hash"), view=new_view)
    except SlackApiError as error:
        log.info(
            "views.update of %s failed: %s (closed or changed meanwhile)", view.get("id"), error.response.get("error")
        )


def submitted_edits(state_values: Mapping[str, Any]) -> dict[str, str]:
    """The form's values as ``name -> text`` for every parameter block found; an empty key means keep the key."""
    edits: dict[str, str] = {}
    for param in PARAMS:
        block = state_values.get(param.name)
        element = block.get(param.name) if isinstance(block, Mapping) else None
        if not isinstance(element, Mapping):
            continue
        option = element.get("selected_option")
        value = option.get("value") if isinstance(option, Mapping) else element.get("value")
        text = value if isinstance(value, str) else ""
        if param.name == PSK and not text:
            continue
        edits[param.name] = text
    return edits


def register(app: AsyncApp, ctx: BotContext) -> None:
    async def edit_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        user_id = str(body.get("user", {}).get("id", ""))
        draft = ctx.drafts.get(str(view.get("id", "")))
        if draft is None or draft.requester != user_id:
            inputs = _input_blocks(view)
            if not inputs:
                await ack()  # nothing to show an error beside: just close it
                return
            target = "vpnConnName" if "vpnConnName" in inputs else inputs[0]
            await ack(
                response_action="errors",
                errors={target: "This form has expired. Close it and run /vpn edit again."},
            )
            return
        edits = submitted_edits(view.get("state", {}).get("values", {}))
        # Slack's inputs hold at most 3000 characters; a longer value is refused before it is parsed, since
        # validating thousands of CIDRs would hold the event loop for seconds.
        oversized = {n: f"is longer than {INPUT_MAX} characters" for n, text in edits.items() if len(text) > INPUT_MAX}
        try:
            proposal = propose(draft.connection.settings, {n: t for n, t in edits.items() if n not in oversized})
        except InvalidParametersError as error:
            await ack(response_action="errors", errors=_errors_for_form({**error.problems, **oversized}))
            return
        if oversized:
            await ack(response_action="errors", errors=_errors_for_form(oversized))
            return
        if not proposal.changed(draft.connection.settings):
            await ack(response_action="errors", errors={"vpnConnName": NO_CHANGE})
            return
        await ack()
        ctx.drafts.pop(str(view.get("id", "")))
        request = ChangeRequest.from_proposal(
            draft.connection,
            proposal,
            requester=user_id,
            now=ctx.clock(),
            ttl=ctx.settings.vpnbot_request_ttl,
            origin_channel=draft.origin_channel,
        )
        ctx.after_ack(post_change(ctx, client, request, proposal.pre_shared_key), "post-change")

    async def edit_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        vpn_conn_id = str(action.get("value", ""))[:64]
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        opening = open_edit_modal(
            ctx,
            client,
            vpn_conn_id,
            str(body.get("trigger_id", "")),
            str(body.get("user", {}).get("id", "")),
            channel,
            None,
        )
        ctx.after_ack(opening, "open-edit-modal", urgent=True)

    async def reject_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        try:
            request_id = str(json.loads(view.get("private_metadata") or "{}").get("request", ""))
        except (ValueError, AttributeError):
            return
        if not is_request_id(request_id):
            return
        block = view.get("state", {}).get("values", {}).get(blocks.REASON_BLOCK, {})
        reason = str((block.get(blocks.REASON_BLOCK) or {}).get("value") or "")[:500]
        user_id = str(body.get("user", {}).get("id", ""))

        async def tell(text: str) -> None:
            await cards.direct_message(client, user_id, text)

        ctx.after_ack(changes.reject(ctx, request_id, user_id, reason, tell), "reject")

    app.view(blocks.EDIT_CALLBACK)(edit_submitted)
    app.view(blocks.REJECT_CALLBACK)(reject_submitted)
    app.action(blocks.EDIT_BUTTON_ACTION)(edit_button)
    app.action(blocks.REVIEW_AGAIN_ACTION)(edit_button)


def _input_blocks(view: Mapping[str, Any]) -> list[str]:
    """The block ids of the view's input blocks: where ``response_action: errors`` can show a message."""
    found = view.get("blocks")
    return [
        str(b["block_id"])
        for b in (found if isinstance(found, list) else [])
        if isinstance(b, Mapping) and b.get("type") == "input" and isinstance(b.get("block_id"), str) and b["block_id"]
    ]


def _errors_for_form(problems: Mapping[str, str]) -> dict[str, str]:
    """Problems keyed by block id; one on a name the form has no block for goes on the first field."""
    names = {p.name for p in PARAMS}
    errors: dict[str, str] = {}
    for name, message in problems.items():
        target = name if name in names else "vpnConnName"
        errors[target] = (errors[target] + "; " if target in errors else "") + message
    return {name: blocks.clip(message, 1900) for name, message in errors.items()}


async def post_change(ctx: BotContext, client: AsyncWebClient, request: ChangeRequest, psk: Any) -> None:
    """Store the request and post its card to the approval channel (or where /vpn was used)."""
    try:
        await ctx.store.create(request, psk)
    except OpenRequestExistsError as error:
        link = await cards.permalink(client, error.request)
        where = f"<{link}|its card>" if link else f"`/vpn status {error.request.id}`"
        await cards.direct_message(
            client, request.requester, f"`{request.vpn_conn_id}` already has an open change; see {where}."
        )
        return
    channel = ctx.settings.vpnbot_approval_channel or request.origin_channel
    ts = await cards.post_card(client, channel, request) if channel else None
    if ts is None:
        await changes.cancel_unposted(ctx, request)
        await cards.direct_message(
            client,
            request.requester,
            f"I could not post the change card for `{request.vpn_conn_id}` in <#{channel}>; nothing was sent. Invite me to the channel and try again.",
        )
        return
    request.channel, request.card_ts = channel, ts
    await ctx.store.save(request)
