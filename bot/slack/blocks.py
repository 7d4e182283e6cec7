"""Block Kit for vpnbot, built as ``slack_sdk.models`` objects by pure functions (no Slack, no I/O).

Every view and message the bot sends comes from here, so Slack's limits are checked by the models' ``to_dict()``
before anything is sent. The edit modal's input blocks have ``block_id`` == element ``action_id`` == the seed's
parameter name, so validation problems map straight onto ``response_action: errors``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    RawTextObject,
    SectionBlock,
    StaticSelectElement,
    TableBlock,
)
from slack_sdk.models.views import View

from bot.changes import ConnectionListing
from bot.slack import diffview, tunnel
from bot.slack.text import clip, esc, esc_visible, link, slack_date, user, visible, visible_lines
from bot.vpn.change import ChangeRequest, ChangeState
from bot.vpn.connection import VpnConnection, VpnSettings
from bot.vpn.diff import DiffRow
from bot.vpn.params import PARAMS, Kind, Param, SpdPolicy, Value, edit_text, shown_value

Rendered = list[dict[str, Any]]
"""Blocks or a view as sent to Slack (``to_dict()`` of the models)."""

EDIT_CALLBACK = "vpn_edit"
REJECT_CALLBACK = "reject_reason"
APPROVE_ACTION = "approve_change"
REJECT_ACTION = "reject_change"
EDIT_BUTTON_ACTION = "edit_connection"
REVIEW_AGAIN_ACTION = "review_again"
REASON_BLOCK = "reason"
SECTION_MAX = 2900
GROUPS = (("", "Connection"), ("peers", "Peer networks"), ("IKESet", "IKE"), ("IPsecSet", "IPsec"))

STATE_EMOJI: Mapping[ChangeState, str] = MappingProxyType(
    {
        ChangeState.PENDING: ":hourglass_flowing_sand:",
        ChangeState.APPROVED: ":white_check_mark:",
        ChangeState.SUBMITTING: ":outbox_tray:",
        ChangeState.RUNNING: ":gear:",
        ChangeState.SUCCEEDED: ":large_green_circle:",
        ChangeState.FAILED: ":red_circle:",
        ChangeState.UNKNOWN: ":grey_question:",
        ChangeState.REJECTED: ":no_entry:",
        ChangeState.EXPIRED: ":alarm_clock:",
        ChangeState.CANCELLED: ":leftwards_arrow_with_hook:",
        ChangeState.STALE: ":warning:",
    }
)


def metadata(**values: str) -> str:
    """``private_metadata``: a small JSON object (Slack allows 3000 characters)."""
    text = json.dumps(values, separators=(",", ":"))
    if len(text) > 3000:
        raise ValueError("private_metadata is longer than 3000 characters")
    return text


# -- modals ----------------------------------------------------------------------------------------------------


def loading_view(vpn_conn_id: str, private_metadata: str) -> View:
    """Opened at once (the trigger_id lives 3 s); replaced by the form when the cloud answers."""
    return View(
        type="modal",
        callback_id=EDIT_CALLBACK,
        title="Edit VPN connection",
        close="Cancel",
        private_metadata=private_metadata,
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(text=f":hourglass: Reading `{esc_visible(vpn_conn_id)}` from Tencent Cloud…")
            )
        ],
    )


def message_view(title: str, text: str, callback_id: str = EDIT_CALLBACK) -> View:
    """A modal that only says something (a cloud error while loading, an explanation)."""
    return View(
        type="modal",
        callback_id=callback_id,
        title=clip(esc_visible(title), 24),
        close="Close",
        blocks=[SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_MAX)))],
    )


def edit_form_rendered(
    connection: VpnConnection, private_metadata: str, revert: RevertForm | None = None
) -> dict[str, Any]:
    """:func:`edit_form`, rendered."""
    return edit_form(connection, private_metadata, revert).to_dict()


@dataclass(frozen=True)
class RevertForm:
    """What makes an edit form a revert's: the change it reverts, the values before it, and whether an empty key
    field restores the key before it (kept for the watch window) or keeps the key now."""

    request_id: str
    values: VpnSettings
    key_change: bool
    key_kept: bool

    def note(self) -> str:
        text = (
            f":rewind: *Revert of `{esc_visible(self.request_id)}`*: the fields hold the values before that change. "
            "Submit to ask for the revert; it needs a second person's approval like any change."
        )
        if self.key_change and self.key_kept:
            text += " An empty key field *restores the key before the change* (kept encrypted for the watch)."
        elif self.key_change:
            text += (
                " The key before the change is no longer kept (it is erased after the watch): type it to restore it, "
                "or leave the field empty to keep the key the connection has now."
            )
        return text


def edit_form(connection: VpnConnection, private_metadata: str, revert: RevertForm | None = None) -> View:
    """Every parameter of the seed, pre-filled with the current values (a revert's: the values before the change it
    reverts), grouped under headers."""
    blocks: list[Block] = []
    values = revert.values if revert is not None else connection.settings
    for group, title in GROUPS:
        blocks.append(HeaderBlock(text=title))
        if not group:
            blocks.append(_connection_context(connection))
            if revert is not None:
                blocks.append(SectionBlock(block_id="revert_note", text=MarkdownTextObject(text=revert.note())))
        if group == "peers" and connection.settings.route_based:
            blocks.append(_route_based(connection))
            continue
        for param in PARAMS:
            if _group_of(param) == group and param.is_offered(connection.settings.value_sets):
                blocks.append(_input(param, connection, values, revert is not None and revert.key_kept))
    return View(
        type="modal",
        callback_id=EDIT_CALLBACK,
        title="Edit VPN connection",
        submit="Review change",
        close="Cancel",
        private_metadata=private_metadata,
        blocks=blocks,
    )


def form_fields(connection: VpnConnection) -> frozenset[str]:
    """The parameters the edit form of ``connection`` has an input for (what :func:`edit_form` offers): a value
    submitted for any other did not come from the form."""
    settings = connection.settings
    return frozenset(
        param.name
        for param in PARAMS
        if param.is_offered(settings.value_sets)
        and not (_group_of(param) == "peers" and settings.route_based)
        and not _too_long_for_input(param, connection)
    )


def _too_long_for_input(param: Param, connection: VpnConnection) -> bool:
    if param.kind not in (Kind.CIDR_LIST, Kind.SPD):
        return False
    return len(form_text(connection.settings[param.name])) > INPUT_MAX


def _group_of(param: Param) -> str:
    if param.kind in (Kind.CIDR_LIST, Kind.SPD):
        return "peers"
    return param.block


def _route_based(connection: VpnConnection) -> SectionBlock:
    """What stands in for the peer-network fields of a route-based tunnel: it has no SPD to edit."""
    text = (
        f"This tunnel is *route-based* (RouteType `{esc_visible(connection.route_type)}`): it has no SPD, so its "
        "peer networks are routes and are not edited here."
    )
    return SectionBlock(block_id="peers_route_based", text=MarkdownTextObject(text=text))


def _connection_context(connection: VpnConnection) -> ContextBlock:
    text = (
        f"`{esc_visible(connection.vpn_conn_id)}` · VPC `{esc_visible(connection.vpc_id)}` · "
        f"gateway `{esc_visible(connection.vpn_gw_id)}` · {esc_visible(connection.status_text)}"
    )
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def form_text(value: Value) -> str:
    """A value as a person edits it: one CIDR or SPD rule a line (``propose`` knows this text unchanged)."""
    return edit_text(value)


INPUT_MAX = 3000
"""Slack's limit for a ``plain_text_input``'s value, initial value included."""


def _input(param: Param, connection: VpnConnection, values: VpnSettings, restores_key: bool = False) -> Block:
    """The field of ``param``, pre-filled from ``values``; a list too long for a Slack input is shown, not offered
    (it is kept)."""
    name = param.name
    current = None if param.kind is Kind.SECRET else values[name]
    if current is not None and _too_long_for_input(param, connection):
        return SectionBlock(
            block_id=name,
            text=MarkdownTextObject(
                text=f"*{esc(param.label)}* (`{name}`): {_size_words(current)}, too long for a Slack input "
                f"({INPUT_MAX:,} characters), so it is kept as it is. Change it with "
                f"`vpnbot edit {esc_visible(connection.vpn_conn_id)} --set {name}=@FILE`."
            ),
        )
    hint = param.description
    optional = param.kind in (Kind.SECRET, Kind.CIDR_LIST, Kind.SPD, Kind.ADDRESS, Kind.FQDN)
    element: Any
    if param.kind is Kind.CHOICE:
        options = [Option(value=choice, text=choice) for choice in param.offered(connection.settings.value_sets)]
        initial = next((o for o in options if o.value == current), None)
        if initial is None and current:
            initial = _current_option(param, str(current))
            if initial is not None:
                options.append(initial)
        if initial is None:  # not reported, or too long to be an option's value: left unselected, it is kept
            optional = True
            hint = (
                f"{param.description}. Now {clip(visible(shown_value(param, current or '')), 100)}: leave it to keep it"
            )
        element = StaticSelectElement(action_id=name, options=options, initial_option=initial)
    elif param.kind is Kind.INTEGER:
        element = NumberInputElement(
            action_id=name,
            is_decimal_allowed=False,
            initial_value=str(current),
            min_value=str(param.minimum) if param.minimum is not None else None,
            max_value=str(param.maximum) if param.maximum is not None else None,
        )
        hint = f"{param.description}: {param.minimum}" + (f" to {param.maximum}" if param.maximum else " or more")
    elif param.kind is Kind.SECRET:
        keeps = "restore the key before the change" if restores_key else "keep the current key"
        element = PlainTextInputElement(action_id=name, placeholder=f"Leave empty to {keeps}")
    else:
        # A name from the cloud may hold characters that hide or reorder text: the form shows them as escapes
        # (and the modal takes that text back as "unchanged").
        text = form_text(current) if current is not None else ""
        if param.kind is Kind.NAME:
            text = visible(text)
        multiline = param.kind in (Kind.CIDR_LIST, Kind.SPD)
        element = PlainTextInputElement(
            action_id=name,
            initial_value=text or None,
            multiline=multiline or None,
            max_length=60 if param.kind is Kind.NAME else None,
            placeholder=_placeholder(param.kind),
        )
        if param.kind is Kind.SPD:
            hint = "One rule a line: VPC-CIDR: IDC-CIDR, IDC-CIDR (or JSON). Change either this or the peer CIDRs."
    return InputBlock(block_id=name, label=param.label, element=element, hint=hint, optional=optional or None)


OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
"""Slack's limits for an option's text and value."""


def _current_option(param: Param, current: str) -> Option | None:
    """The option for a current value the form does not offer (one vpnbot does not know, or one API 2.0 cannot
    set), so that it can be kept; None when it is too long to be an option's value."""
    if len(current) > OPTION_VALUE_MAX:
        return None
    shown = visible(current)
    label = f"{shown} (unknown: keep)" if not param.knows(current) else f"{shown} (current: keep)"
    return Option(value=current, text=clip(label, OPTION_TEXT_MAX))


def _size_words(value: Value) -> str:
    if isinstance(value, SpdPolicy):
        return f"{len(value.rules)} rules, {len(value.pairs())} pairs"
    return f"{len(value) if isinstance(value, frozenset) else 0} entries"


def _placeholder(kind: Kind) -> str | None:
    return {
        Kind.CIDR_LIST: "10.0.0.0/24 (one a line)",
        Kind.SPD: "10.0.0.0/24: 192.168.1.0/24, 192.168.2.0/24",
        Kind.ADDRESS: "203.0.113.10",
        Kind.FQDN: "vpn.example.com",
    }.get(kind)


def reject_view(request: ChangeRequest, private_metadata: str, *, withdraw: bool = False) -> View:
    """Asks an optional reason; for the requester it is a withdrawal."""
    what = f"*{esc_visible(request.conn_name)}* (`{esc_visible(request.vpn_conn_id)}`)"
    question = (
        f"Withdraw your change to {what}?" if withdraw else f"Reject {user(request.requester)}'s change to {what}?"
    )
    return View(
        type="modal",
        callback_id=REJECT_CALLBACK,
        title="Withdraw change" if withdraw else "Reject change",
        submit="Withdraw" if withdraw else "Reject",
        close="Back",
        private_metadata=private_metadata,
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=f"{question} Nothing will be sent to the cloud.")),
            InputBlock(
                block_id=REASON_BLOCK,
                label="Reason (optional)",
                optional=True,
                element=PlainTextInputElement(action_id=REASON_BLOCK, multiline=True, max_length=500),
            ),
        ],
    )


# -- the change card -------------------------------------------------------------------------------------------


def diff_table(rows: Sequence[DiffRow], effects: Mapping[str, str] | None = None) -> TableBlock:
    """Parameter | current | proposed (| effect on the tunnel, given ``effects`` by name); lists as counts with what
    is added and removed; the key only as changed. Nothing is cut: what does not fit the card is listed in its
    thread (``bot.slack.diffview``)."""
    names = ["Parameter", "Current", "Proposed"] + (["Effect on the tunnel"] if effects is not None else [])
    header = [RawTextObject(text=name) for name in names]
    body = []
    for row in rows:
        cell = diffview.cells(row)
        line = [RawTextObject(text=cell.name), RawTextObject(text=cell.current), RawTextObject(text=cell.proposed)]
        if effects is not None:
            line.append(RawTextObject(text=effects.get(row.name) or "-"))
        body.append(line)
    return TableBlock(rows=[header, *body], column_settings=[{"is_wrapped": True}] * len(names))


def card_text(request: ChangeRequest) -> str:
    """The notification / fallback text of a card."""
    return (
        f"VPN change {esc_visible(request.id)} by {user(request.requester)} to {esc_visible(request.conn_name)} "
        f"({esc_visible(request.vpn_conn_id)}): {request.state}"
    )


def change_card(
    request: ChangeRequest, *, status_line: str | None = None, listing_pending: bool = False, blocked: str = ""
) -> list[Block]:
    """The card: who asks, the connection, what the change does to the tunnel, the diff, the crypto review, and,
    while pending, Approve and Reject; once the edit reached the cloud, Revert. A change with more entries than
    the card holds says so, and gets its buttons only once the full listing is in the thread (``listing_pending``
    until then). ``blocked``: why ``VPNBOT_CRYPTO_POLICY=block`` refuses its approval."""
    emoji = STATE_EMOJI.get(request.state, "")
    reverts = f" (a revert of `{esc_visible(request.revert_of)}`)" if request.revert_of else ""
    intro = (
        f"{user(request.requester)} asks to change *{esc_visible(request.conn_name)}* "
        f"(`{esc_visible(request.vpn_conn_id)}`){reverts}\n"
        f"VPC `{esc_visible(request.vpc_id)}` · gateway `{esc_visible(request.vpn_gw_id)}`"
    )
    summary = f"*This change:* {esc(diffview.counts(request.diff))}."
    if diffview.overflows(request.diff):
        summary += " It has more entries than this card can show: *every entry is listed in this card's thread*"
        summary += (
            ", being posted now; Approve appears once it is there." if listing_pending else "; read it before deciding."
        )
    blocks: list[Block] = [
        HeaderBlock(text=header_text(f"VPN change: {request.conn_name}")),
        SectionBlock(text=MarkdownTextObject(text=intro)),
        SectionBlock(text=MarkdownTextObject(text=tunnel.impact_text(request))),
        diff_table(request.diff, tunnel.row_effects(request)),
        ContextBlock(elements=[MarkdownTextObject(text=summary)]),
    ]
    review = tunnel.crypto_text(request.crypto, blocked if request.state is ChangeState.PENDING else "")
    if review:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=review)))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=_state_line(request, emoji))]))
    if status_line:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(status_line, SECTION_MAX))))
    if request.state is ChangeState.PENDING and not listing_pending:
        blocks.append(_decision_buttons(request))
        return blocks
    after: list[ButtonElement] = []
    if request.state in (ChangeState.STALE, ChangeState.FAILED):
        after.append(ButtonElement(text="Review again", action_id=REVIEW_AGAIN_ACTION, value=request.vpn_conn_id))
    if request.revertible:
        after.append(tunnel.revert_button(request))
    if after:
        blocks.append(ActionsBlock(block_id="again", elements=after))
    return blocks


def header_text(text: str) -> str:
    """A header's plain text: hidden characters made visible, within Slack's 150 characters (marked when cut)."""
    return clip(esc_visible(text), 150)


def _state_line(request: ChangeRequest, emoji: str) -> str:
    state = request.state
    parts = [
        f"{emoji} *{state.value}*",
        f"request `{esc_visible(request.id)}`",
        f"asked {slack_date(request.created_at)}",
    ]
    if state is ChangeState.PENDING:
        parts.append(f"expires {slack_date(request.expires_at)}")
    if request.approver and request.approved_at:
        parts.append(f"approved by {user(request.approver)} {slack_date(request.approved_at)}")
    if request.decider and request.decided_at and state in (ChangeState.REJECTED, ChangeState.CANCELLED):
        verb = "rejected" if state is ChangeState.REJECTED else "withdrawn"
        parts.append(f"{verb} by {user(request.decider)} {slack_date(request.decided_at)}")
    if request.task_id is not None:  # API 3.0 names the edit by its RequestId, which may name no task
        kind = "RequestId" if isinstance(request.task_id, str) else "task"
        parts.append(f"{kind} `{esc_visible(str(request.task_id))}`")
    line = " · ".join(parts)
    if request.reason:
        line += f"\nReason: {esc_visible(clip(request.reason, 500))}"
    if request.outcome_message and state in (ChangeState.FAILED, ChangeState.UNKNOWN, ChangeState.STALE):
        line += f"\n{esc(visible_lines(clip(request.outcome_message, 1500)))}"
    return line


def _decision_buttons(request: ChangeRequest) -> ActionsBlock:
    confirm = ConfirmObject(
        title="Apply this change?",
        text=diffview.confirm_summary(
            request.vpn_conn_id, request.conn_name, request.diff, listed_in_thread=diffview.overflows(request.diff)
        ),
        confirm="Approve and apply",
        deny="Cancel",
    )
    return ActionsBlock(
        block_id="decision",
        elements=[
            ButtonElement(text="Approve", action_id=APPROVE_ACTION, value=request.id, style="primary", confirm=confirm),
            ButtonElement(text="Reject", action_id=REJECT_ACTION, value=request.id, style="danger"),
        ],
    )


def listing_messages(request: ChangeRequest) -> list[Rendered]:
    """The thread messages that list every entry of a change too large for its card."""
    return [dump(text_blocks_whole(sections)) for sections in diffview.full_listing(request.id, request.diff)]


def text_blocks_whole(sections: Sequence[str]) -> list[Block]:
    return [SectionBlock(text=MarkdownTextObject(text=section)) for section in sections]


# -- command replies -------------------------------------------------------------------------------------------

HELP = (
    "*/vpn* edits Tencent Cloud VPN connections with a second person's approval.\n"
    "• `/vpn list [vpcId|vpnGwId]`: connections, their status, and an Edit button\n"
    "• `/vpn show <vpnConnId>`: a connection's settings (the key is never shown)\n"
    "• `/vpn edit <vpnConnId>`: open the edit form; the change is posted for approval\n"
    "• `/vpn status <request id>`: where a change request stands\n"
    "• `/vpn help`: this text"
)


def help_message(note: str = "") -> Rendered:
    """The ``/vpn help`` blocks, rendered (``note`` first, when given)."""
    return dump(_help_blocks(note))


def _help_blocks(note: str) -> list[Block]:
    text = (f"{note}\n\n" if note else "") + HELP
    return [SectionBlock(text=MarkdownTextObject(text=text))]


def text_blocks(text: str) -> list[Block]:
    return [SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_MAX)))]


def text_message(text: str) -> Rendered:
    """:func:`text_blocks`, rendered."""
    return dump(text_blocks(text))


LIST_SHOWN = 44  # with the header, the unreadable and the "more" lines, within Slack's 50 blocks a message
UNREADABLE_SHOWN = 20


def connection_list(listing: ConnectionListing, scope: str) -> Rendered:
    """One section a connection with an Edit button (at most 44: Slack allows 50 blocks), and one naming the
    connections that could not be read, so one odd connection never hides the others. Rendered."""
    total = len(listing.connections)
    shown = listing.connections[:LIST_SHOWN]
    unreadable = listing.unreadable
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"*{total} VPN connection(s)* {esc_visible(scope)}".rstrip()))
    ]
    for c in shown:
        line = (
            f"*{esc_visible(c.name)}* `{esc_visible(c.vpn_conn_id)}`\n{esc_visible(c.status_text)} · "
            f"network {esc_visible(c.net_status or 'unknown')} · VPC `{esc_visible(c.vpc_id)}` · "
            f"gateway `{esc_visible(c.vpn_gw_id)}`"
        )
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=clip(line, SECTION_MAX)),
                accessory=ButtonElement(text="Edit", action_id=EDIT_BUTTON_ACTION, value=c.vpn_conn_id[:2000]),
            )
        )
    if total > len(shown):
        blocks.append(text_blocks(f"…and {total - len(shown)} more: narrow with a VPC or gateway id")[0])
    if unreadable:
        named = "\n".join(
            f"• `{esc_visible((u.vpn_conn_id or '(no id)')[:64])}`: {esc_visible(u.reason[:200])}"
            for u in unreadable[:UNREADABLE_SHOWN]
        )
        more = f"\n…and {len(unreadable) - UNREADABLE_SHOWN} more" if len(unreadable) > UNREADABLE_SHOWN else ""
        text = f":warning: *{len(unreadable)} connection(s) could not be read* and are not listed:\n{named}{more}"
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_MAX))))
    return dump(blocks)


def connection_details(connection: VpnConnection) -> list[Block]:
    """Every setting by the seed's parameter names, as section fields (10 a section)."""
    lines = []
    for param in PARAMS:
        if param.kind is Kind.SECRET:
            value = "set (hidden)" if connection.settings.psk_fingerprint else "not set"
        else:
            value = shown_value(param, connection.settings[param.name]) or "(empty)"
        lines.append(f"*{param.name}*\n{esc_visible(clip(value, 1900))}")
    blocks: list[Block] = [
        HeaderBlock(text=header_text(f"{connection.name} ({connection.vpn_conn_id})")),
        _connection_context(connection),
    ]
    for start in range(0, len(lines), 10):
        blocks.append(SectionBlock(fields=[MarkdownTextObject(text=t) for t in lines[start : start + 10]]))
    blocks.append(
        ActionsBlock(elements=[ButtonElement(text="Edit", action_id=EDIT_BUTTON_ACTION, value=connection.vpn_conn_id)])
    )
    return blocks


def request_status(request: ChangeRequest, permalink: str | None) -> list[Block]:
    """Where a request stands, with its diff (the same table as the card) and a link to the card."""
    where = link(permalink, "the card")
    text = (
        f"{STATE_EMOJI.get(request.state, '')} Change `{esc_visible(request.id)}` to "
        f"*{esc_visible(request.conn_name)}* (`{esc_visible(request.vpn_conn_id)}`) is *{request.state.value}*; "
        f"see {where}.\n" + _state_line(request, "").lstrip(" ·")
    )
    summary = f"*This change:* {esc(diffview.counts(request.diff))}."
    if diffview.overflows(request.diff):
        summary += " Every entry is listed in the card's thread."
    return [
        SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_MAX))),
        diff_table(request.diff),
        ContextBlock(elements=[MarkdownTextObject(text=summary)]),
    ]


def dump(blocks: Sequence[Block]) -> Rendered:
    return [b.to_dict() for b in blocks]
