"""The edit modal's work after ``ack()``: opened at once with a loading view, filled from the connection as the
service reads it, validated on submit (every problem beside its field, see ``bot.slack.listeners.views``), then
the request opened through the service and its card posted."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import SecretStr
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.changes import CloudDataError, CloudError
from bot.slack import blocks, cards, diffview
from bot.slack.context import BotContext, Draft
from bot.slack.notifier import FRONT
from bot.slack.records import SlackRecord, permalink_from
from bot.slack.text import channel as channel_link
from bot.slack.text import clip, error_words, esc_visible, link, visible
from bot.store import OpenRequestExistsError, StoreError, TooManyOpenRequestsError
from bot.vpn.change import ChangeRequest
from bot.vpn.edit import PSK, propose
from bot.vpn.params import PARAMS, InvalidParametersError

log = logging.getLogger("bot.slack")
ID_MAX = 64  # no Slack or Tencent Cloud id is longer; keeps private_metadata within Slack's 3000 characters
NAME = "vpnConnName"
NO_CHANGE = "Nothing to change: every value is what the connection has now. Edit at least one field."


async def open_edit_modal(
    ctx: BotContext,
    client: AsyncWebClient,
    vpn_conn_id: str,
    trigger_id: str,
    requester: str,
    origin_channel: str | None,
    reply_to: cards.ResponseUrl | None,
    revert_of: str | None = None,
) -> None:
    """The modal (a loading view at once, then filled), unless the connection already has an open change, from
    Slack or another front (then a link to its card, or where it runs). ``revert_of``: the form of a revert of that
    change, pre-filled with the values before it."""
    vpn_conn_id = vpn_conn_id[:ID_MAX]
    existing = await ctx.service.open_request_for(vpn_conn_id)
    if existing is not None:
        text = (
            f"`{esc_visible(vpn_conn_id)}` already has an open change ({existing.state.value}); "
            f"see {await open_change_where(ctx, client, existing)}."
        )
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
    except cards.SLACK_FAILURES as error:
        reason = cards.failure_reason(error)
        log.warning("views.open for %s failed: %s", vpn_conn_id, reason)
        text = (
            f"I could not open the edit form for `{esc_visible(vpn_conn_id)}` (Slack answered `{esc_visible(reason)}`"
            f"{', the click came too late' if reason == 'expired_trigger_id' else ''}). Try `/vpn edit` again."
        )
        if not await cards.ephemeral(reply_to, replace_original=False, text=text):
            await cards.direct_message(client, requester, text)
        return
    view = {"id": opened["view"]["id"], "hash": opened["view"].get("hash")}
    await _fill_form(ctx, client, view, vpn_conn_id, private, requester, origin_channel, reply_to, revert_of)


async def open_revert_modal(
    ctx: BotContext,
    client: AsyncWebClient,
    request_id: str,
    trigger_id: str,
    requester: str,
    origin_channel: str | None,
    reply_to: cards.ResponseUrl | None,
) -> None:
    """The edit form of a revert of ``request_id`` (see :func:`open_edit_modal`)."""
    original = await ctx.service.get(request_id)
    if original is None:
        await cards.tell(client, requester, f"There is no change request `{esc_visible(request_id)}`.", reply_to)
        return
    await open_edit_modal(
        ctx, client, original.vpn_conn_id, trigger_id, requester, origin_channel, reply_to, revert_of=original.id
    )


async def open_change_where(ctx: BotContext, client: AsyncWebClient, request: ChangeRequest) -> str:
    """Where an open change is shown, in mrkdwn: its card, or who runs it in another front."""
    if request.front != FRONT:
        return (
            f"`/vpn status {esc_visible(request.id)}` (asked by `{esc_visible(request.requester)}` with "
            f"`vpnbot edit` in a terminal)"
        )
    record = await ctx.notifier.record(request)
    if not record.has_card:
        return f"`/vpn status {esc_visible(request.id)}`"
    return link(await cards.permalink(client, record), "its card")


async def _fill_form(
    ctx: BotContext,
    client: AsyncWebClient,
    view: Mapping[str, Any],
    vpn_conn_id: str,
    private: str,
    requester: str,
    origin_channel: str | None,
    reply_to: cards.ResponseUrl | None,
    revert_of: str | None,
) -> None:
    """Replace the loading view with the form, filled from ``DescribeVpnConn`` (or with the cloud's error); a
    revert's form with the values before the change it reverts."""
    revert: blocks.RevertForm | None = None
    try:
        if revert_of is not None:
            plan = await ctx.service.plan_revert(revert_of)
            if isinstance(plan, str):
                await _update_view(client, view, blocks.message_view("Cannot revert", esc_visible(plan)).to_dict())
                return
            connection = plan.connection
            revert = blocks.RevertForm(plan.original.id, plan.values, plan.original.psk_changed, plan.key_kept)
        else:
            connection = await ctx.service.read(vpn_conn_id)
    except (CloudError, CloudDataError) as error:
        failed = blocks.message_view("Cannot edit", f":warning: Tencent Cloud: {error_words(error)}")
        await _update_view(client, view, failed.to_dict())
        return
    except Exception as error:  # the modal must never stay on "Reading…"
        log.error("reading %s for the form failed: %s", vpn_conn_id, type(error).__name__, exc_info=error)
        failed = blocks.message_view("Cannot edit", ":warning: vpnbot could not read this connection; try again.")
        await _update_view(client, view, failed.to_dict())
        return
    restores = revert is not None and revert.key_kept
    draft = Draft(connection, requester, origin_channel, reply_to, revert_of=revert_of, restores_key=restores)
    ctx.drafts.put(str(view["id"]), draft)
    await _update_view(client, view, blocks.edit_form_rendered(connection, private, revert))


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


def metadata_field(private_metadata: object, name: str) -> str:
    """A field of a view's ``private_metadata`` (JSON written by the bot); "" for anything else Slack may send."""
    if not isinstance(private_metadata, str) or len(private_metadata) > 3000:
        return ""
    try:
        document = json.loads(private_metadata)
    except (ValueError, RecursionError):
        return ""
    value = document.get(name) if isinstance(document, dict) else None
    return value if isinstance(value, str) else ""


def input_blocks(view: Mapping[str, Any]) -> list[str]:
    """The block ids of the view's input blocks: where ``response_action: errors`` can show a message."""
    found = view.get("blocks")
    return [
        str(b["block_id"])
        for b in (found if isinstance(found, list) else [])
        if isinstance(b, Mapping) and b.get("type") == "input" and isinstance(b.get("block_id"), str) and b["block_id"]
    ]


def errors_for_form(problems: Mapping[str, str], names: Collection[str]) -> dict[str, str]:
    """Problems keyed by block id; one on a name the form has no block for (``names``: those it has) goes on the
    first field."""
    errors: dict[str, str] = {}
    for name, message in problems.items():
        target = name if name in names else "vpnConnName"
        errors[target] = (errors[target] + "; " if target in errors else "") + message
    return {name: clip(message, 1900) for name, message in errors.items()}


def unchanged_names_dropped(edits: Mapping[str, str], current_name: str) -> dict[str, str]:
    """The form shows a cloud name with hidden characters as escapes (``visible``); that text sent back is no edit."""
    if edits.get(NAME) == visible(current_name) != current_name:
        return {n: t for n, t in edits.items() if n != NAME}
    return dict(edits)


def review(
    draft: Draft, edits: Mapping[str, str], requester: str, now: datetime, ttl: timedelta
) -> tuple[ChangeRequest, SecretStr | None] | dict[str, str]:
    """The form's edits as a new request, or the problems by parameter (run in a worker thread)."""
    try:
        proposal = propose(draft.connection.settings, edits)
    except InvalidParametersError as error:
        return dict(error.problems)
    if not proposal.changed(draft.connection.settings):
        return {"vpnConnName": NO_CHANGE}
    request = ChangeRequest.from_proposal(
        draft.connection, proposal, requester=requester, now=now, ttl=ttl, front=FRONT, revert_of=draft.revert_of
    )
    return request, proposal.pre_shared_key


async def post_change(
    ctx: BotContext,
    client: AsyncWebClient,
    request: ChangeRequest,
    psk: SecretStr | None,
    origin_channel: str | None,
    reply_to: cards.ResponseUrl | None = None,
) -> None:
    """Open the request through the service (the connection's lock) and post its card to the approval channel (or
    where /vpn was used). A change with more entries than a card holds gets its full listing in the thread first,
    and its buttons only then."""
    conn = f"`{esc_visible(request.vpn_conn_id)}`"
    record = SlackRecord(origin_channel=origin_channel)
    try:
        await ctx.service.open(request, psk, front_record=record.to_json())
    except OpenRequestExistsError as error:
        where = await open_change_where(ctx, client, error.request)
        await cards.tell(client, request.requester, f"{conn} already has an open change; see {where}.", reply_to)
        return
    except TooManyOpenRequestsError as error:
        ids = ", ".join(f"`{esc_visible(r.id)}`" for r in error.requests)
        text = (
            f"You already have {len(error.requests)} open change requests ({ids}); at most "
            f"{ctx.settings.vpnbot_max_open_per_user} are allowed (VPNBOT_MAX_OPEN_PER_USER). Withdraw one or wait "
            f"for a decision, then ask again. Nothing was posted for {conn}."
        )
        await cards.tell(client, request.requester, text, reply_to)
        return
    except StoreError as error:
        text = f":warning: vpnbot could not save your change to {conn}: {esc_visible(str(error))}. Nothing was posted or sent."
        await cards.tell(client, request.requester, text, reply_to)
        return
    channel = ctx.settings.vpnbot_approval_channel or origin_channel
    listing = diffview.overflows(request.diff)
    workspace = await ctx.workspace_url()  # asked before the card, whose ts is saved right after it is posted
    blocked = request.blocked_by(ctx.settings.vpnbot_crypto_policy)
    ts = await cards.post_card(client, channel, request, listing_pending=listing, blocked=blocked) if channel else None
    link = permalink_from(workspace, channel or "", ts) if ts else None
    posted = record.with_(channel=channel, card_ts=ts, link=link)
    if ts is not None and listing and not await cards.post_listing(client, channel or "", ts, request):
        await _withdraw_unposted(ctx, client, request, posted, reply_to, "its full list of entries")
        return
    if ts is None or channel is None:
        await ctx.service.cancel_unposted(request)
        where = channel_link(channel) if channel else "any channel (set VPNBOT_APPROVAL_CHANNEL)"
        text = (
            f"I could not post the change card for {conn} in {where}; nothing was sent. "
            "Invite me to the channel and try again."
        )
        await cards.tell(client, request.requester, text, reply_to)
        return
    try:
        await ctx.store.save_front_record(request.id, posted.to_json())
    except StoreError as error:
        await _withdraw_unposted(ctx, client, request, posted, reply_to, f"it (the state file: {error})")
        return
    if listing:
        await cards.update_card(client, request, posted, blocked=blocked)


async def _withdraw_unposted(
    ctx: BotContext,
    client: AsyncWebClient,
    request: ChangeRequest,
    record: SlackRecord,
    reply_to: cards.ResponseUrl | None,
    what: str,
) -> None:
    """A card is in Slack but vpnbot could not post or save ``what``: the card loses its buttons, the request is
    cancelled (nothing was sent), and the requester is told."""
    await ctx.service.cancel_unposted(request)
    note = f"vpnbot could not post or save {esc_visible(what)}, so this card cannot be approved; nothing was sent."
    await cards.update_card(client, request, record, status_line=note, listing_pending=True)
    text = (
        f"I could not post {esc_visible(what)} for `{esc_visible(request.vpn_conn_id)}`; nothing was sent. Try again."
    )
    await cards.tell(client, request.requester, text, reply_to)
