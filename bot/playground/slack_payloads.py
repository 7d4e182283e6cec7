"""Requests as Slack sends them to an app: slash commands, block actions, view submissions and Events API events
(``app_home_opened``), signed or for Socket Mode.

Two forms of every interaction:

* ``*_payload(...)`` returns the payload dict. Socket Mode carries exactly this dict in an envelope
  (``SlackStandin.send_envelope(type_, payload)``); the HTTP form is built from it.
* ``slash_command(...)``, ``block_action(...)``, ``view_submission(...)``, ``view_closed(...)`` return the raw
  ``application/x-www-form-urlencoded`` body Slack POSTs to the request URL: the slash command's fields as form
  fields, or ``payload=<json>`` for interactions. ``sign(body, secret)`` gives the headers Bolt verifies.
* Events: ``app_home_opened_payload(...)`` returns the ``event_callback`` envelope (Socket Mode's ``events_api``
  envelope carries the same dict); ``event_body(payload)`` is the JSON body Slack POSTs, with ``Content-Type:
  application/json`` and the same v0 signature (``sign`` picks the content type from the body).

Shapes follow Slack's documentation (docs.slack.dev: slash commands, ``block_actions`` / ``view_submission`` /
``view_closed`` payloads, the Events API's envelope and ``app_home_opened``, Socket Mode) and the payloads bolt-python's own tests feed to Bolt. Values are strings
where Slack sends strings (a slash command's ``is_enterprise_install`` is ``"false"``).

``trigger_id``: a test that expects the app to open a modal must pass one issued by the stand-in
(``standin.new_trigger_id()``); the default here is well-formed but unknown to it, so ``views.open`` with it
answers ``invalid_trigger_id``, as Slack would for a made-up trigger.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import secrets
import string
import time
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

JSONDict = dict[str, Any]

# The workspace every test lives in; ``SlackStandin`` answers with the same ids by default.
TEAM_ID: Final = "T0VPNTEAM"
TEAM_DOMAIN: Final = "example"
APP_ID: Final = "A0VPNBOT01"
BOT_USER_ID: Final = "UBOT00001"
BOT_ID: Final = "B0VPNBOT01"
BOT_NAME: Final = "vpnbot"
DEFAULT_USER_ID: Final = "U0REQUEST"
DEFAULT_CHANNEL_ID: Final = "C0VPNOPS"
DEFAULT_CHANNEL_NAME: Final = "vpn-ops"
# The deprecated verification token Slack still puts in every payload; apps must not rely on it.
VERIFICATION_TOKEN: Final = "vErIfIcAtIoNtOkEnStAnDiN"

FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE: Final = "application/json"
SLACK_USER_AGENT: Final = "Slackbot 1.0 (+https://api.slack.com/robots)"
# Bolt (SignatureVerifier) rejects requests whose timestamp is more than five minutes away from now.
SIGNATURE_MAX_AGE: Final = 300

_ALNUM: Final = string.ascii_letters + string.digits


# --- ids ---------------------------------------------------------------------------------------------------------


def make_trigger_id() -> str:
    """A trigger id in Slack's format (``<digits>.<digits>.<32 hex>``), not registered with any stand-in."""
    return f"{secrets.randbelow(9 * 10**12) + 10**12}.{secrets.randbelow(9 * 10**11) + 10**11}.{secrets.token_hex(16)}"


def make_response_url(kind: str = "commands") -> str:
    """A ``response_url`` in Slack's format (``kind`` is ``commands`` or ``actions``); it points at Slack, so
    posting to it fails offline. Use ``SlackStandin.new_response_url()`` when the app is expected to post to it."""
    return f"https://hooks.slack.com/{kind}/{TEAM_ID}/{secrets.randbelow(10**13)}/{secrets.token_urlsafe(18)}"


def make_action_ts() -> str:
    """An ``action_ts`` like Slack's: the current time with microseconds."""
    return f"{time.time():.6f}"


def random_block_id() -> str:
    """A block or action id like the ones Slack assigns when an app leaves them out (e.g. ``hspI``)."""
    return "".join(secrets.choice(_ALNUM) for _ in range(5))


def _user(user_id: str, user_name: str | None) -> JSONDict:
    name = user_name or user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": TEAM_ID}


def _team() -> JSONDict:
    return {"id": TEAM_ID, "domain": TEAM_DOMAIN}


def _compact(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


# --- slash commands ----------------------------------------------------------------------------------------------


def slash_command_payload(
    text: str,
    *,
    user_id: str = DEFAULT_USER_ID,
    user_name: str | None = None,
    channel_id: str = DEFAULT_CHANNEL_ID,
    channel_name: str = DEFAULT_CHANNEL_NAME,
    command: str = "/vpn",
    trigger_id: str | None = None,
    response_url: str | None = None,
) -> dict[str, str]:
    """The fields of a slash command invocation, all strings, in the order Slack sends them.

    Over HTTP they are the form fields of the POST body; over Socket Mode this dict is the envelope's ``payload``
    (type ``slash_commands``).
    """
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url or make_response_url("commands"),
        "trigger_id": trigger_id or make_trigger_id(),
    }


def slash_command(
    text: str,
    *,
    user_id: str = DEFAULT_USER_ID,
    user_name: str | None = None,
    channel_id: str = DEFAULT_CHANNEL_ID,
    channel_name: str = DEFAULT_CHANNEL_NAME,
    command: str = "/vpn",
    trigger_id: str | None = None,
    response_url: str | None = None,
) -> bytes:
    """The form-encoded body Slack POSTs for ``/vpn <text>`` (see ``slash_command_payload``)."""
    payload = slash_command_payload(
        text,
        user_id=user_id,
        user_name=user_name,
        channel_id=channel_id,
        channel_name=channel_name,
        command=command,
        trigger_id=trigger_id,
        response_url=response_url,
    )
    return urlencode(payload).encode()


# --- block actions -----------------------------------------------------------------------------------------------


def interactive_elements(blocks: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str | None, Mapping[str, Any]]]:
    """(block_id, element) for every interactive element of a message or view."""
    for block in blocks:
        block_id = block.get("block_id")
        if block.get("type") == "actions":
            for element in block.get("elements", []):
                yield block_id, element
        for key in ("accessory", "element"):
            element = block.get(key)
            if isinstance(element, Mapping):
                yield block_id, element


def _find_option(element: Mapping[str, Any], value: str) -> JSONDict | None:
    options: list[Any] = list(element.get("options", []))
    for group in element.get("option_groups", []):
        options.extend(group.get("options", []))
    for option in options:
        if option.get("value") == value:
            return dict(option)
    return None


def _action_from_element(action_id: str, value: str | None, block_id: str, element: Mapping[str, Any]) -> JSONDict:
    kind = str(element.get("type", "button"))
    action: JSONDict = {"action_id": action_id, "block_id": block_id, "type": kind}
    if kind == "button":
        action["text"] = element.get("text", {"type": "plain_text", "text": action_id, "emoji": True})
        chosen = value if value is not None else element.get("value")
        if chosen is not None:
            action["value"] = chosen
        if "style" in element:
            action["style"] = element["style"]
    elif kind in ("static_select", "overflow", "radio_buttons", "external_select"):
        if value is None:
            raise ValueError(f"{action_id}: a {kind} action needs the chosen option's value")
        option = _find_option(element, value)
        if option is None and kind != "external_select":
            raise ValueError(f"{action_id}: no option with value {value!r}")
        action["selected_option"] = option or {"text": {"type": "plain_text", "text": value}, "value": value}
    elif value is not None:
        action["value"] = value
    action["action_ts"] = make_action_ts()
    return action


def block_action_payload(
    action_id: str,
    value: str | None = None,
    *,
    user_id: str = DEFAULT_USER_ID,
    user_name: str | None = None,
    channel_id: str = DEFAULT_CHANNEL_ID,
    channel_name: str = DEFAULT_CHANNEL_NAME,
    message_ts: str | None = None,
    message: Mapping[str, Any] | None = None,
    view: Mapping[str, Any] | None = None,
    trigger_id: str | None = None,
    block_id: str | None = None,
    response_url: str | None = None,
) -> JSONDict:
    """A ``block_actions`` payload for a click on the element ``action_id``.

    Pass the ``message`` as the stand-in stores it (``standin.message(channel, ts)``): the button is looked up in
    its blocks, so its ``block_id``, ``text`` and ``value`` come from what the app really posted, and clicking a
    button the message does not have raises ``LookupError`` (Slack could not send that). ``value`` overrides the
    button's value; for a select it names the chosen option. Without ``message`` a minimal message with
    ``message_ts`` is used. Pass ``view`` instead for an element inside a modal (container type ``view``).
    """
    if message is not None and view is not None:
        raise ValueError("a block action comes from a message or from a view, not both")
    source_blocks: Sequence[Mapping[str, Any]] = []
    if message is not None:
        source_blocks = message.get("blocks", [])
    elif view is not None:
        source_blocks = view.get("blocks", [])

    action: JSONDict | None = None
    for found_block_id, element in interactive_elements(source_blocks):
        if element.get("action_id") == action_id and (block_id is None or found_block_id == block_id):
            action = _action_from_element(action_id, value, str(found_block_id or block_id or ""), element)
            break
    if action is None:
        if message is not None or view is not None:
            ids = [e.get("action_id") for _, e in interactive_elements(source_blocks)]
            raise LookupError(f"no element with action_id {action_id!r} (has {ids}); Slack cannot send this click")
        button = {"type": "button", "text": {"type": "plain_text", "text": action_id, "emoji": True}}
        if value is not None:
            button["value"] = value
        action = _action_from_element(action_id, value, block_id or random_block_id(), button)

    payload: JSONDict = {
        "type": "block_actions",
        "user": _user(user_id, user_name),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.get("id")}
        payload["trigger_id"] = trigger_id or make_trigger_id()
        payload["team"] = _team()
        payload["enterprise"] = None
        payload["is_enterprise_install"] = False
        payload["view"] = copy.deepcopy(dict(view))
    else:
        msg: JSONDict = (
            copy.deepcopy(dict(message))
            if message is not None
            else {
                "user": BOT_USER_ID,
                "type": "message",
                "ts": message_ts or make_action_ts(),
                "bot_id": BOT_ID,
                "app_id": APP_ID,
                "text": "",
                "team": TEAM_ID,
                "blocks": [],
            }
        )
        ts = str(msg.get("ts") or message_ts)
        payload["container"] = {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        payload["trigger_id"] = trigger_id or make_trigger_id()
        payload["team"] = _team()
        payload["enterprise"] = None
        payload["is_enterprise_install"] = False
        payload["channel"] = {"id": channel_id, "name": channel_name}
        payload["message"] = msg
        payload["state"] = {"values": {}}
        payload["response_url"] = response_url or make_response_url("actions")
    payload["actions"] = [action]
    return payload


def block_action(
    action_id: str,
    value: str | None = None,
    *,
    user_id: str = DEFAULT_USER_ID,
    user_name: str | None = None,
    channel_id: str = DEFAULT_CHANNEL_ID,
    channel_name: str = DEFAULT_CHANNEL_NAME,
    message_ts: str | None = None,
    message: Mapping[str, Any] | None = None,
    view: Mapping[str, Any] | None = None,
    trigger_id: str | None = None,
    block_id: str | None = None,
    response_url: str | None = None,
) -> bytes:
    """The form body (``payload=<json>``) Slack POSTs for a click; see ``block_action_payload``."""
    return interactive_body(
        block_action_payload(
            action_id,
            value,
            user_id=user_id,
            user_name=user_name,
            channel_id=channel_id,
            channel_name=channel_name,
            message_ts=message_ts,
            message=message,
            view=view,
            trigger_id=trigger_id,
            block_id=block_id,
            response_url=response_url,
        )
    )


# --- modal state -------------------------------------------------------------------------------------------------


class ClientValidationError(ValueError):
    """The input could not be submitted: Slack's own client checks this before anything reaches the app."""


_TEXT_INPUTS: Final = frozenset({"plain_text_input", "email_text_input", "url_text_input", "number_input"})
_SINGLE_OPTION: Final = frozenset({"static_select", "external_select", "radio_buttons"})
_MULTI_OPTION: Final = frozenset({"multi_static_select", "multi_external_select", "checkboxes"})
# element type -> (state key, initial key) for the pickers whose state is an id, a date or a list of ids.
_PICKERS: Final[Mapping[str, tuple[str, str]]] = {
    "users_select": ("selected_user", "initial_user"),
    "multi_users_select": ("selected_users", "initial_users"),
    "conversations_select": ("selected_conversation", "initial_conversation"),
    "multi_conversations_select": ("selected_conversations", "initial_conversations"),
    "channels_select": ("selected_channel", "initial_channel"),
    "multi_channels_select": ("selected_channels", "initial_channels"),
    "datepicker": ("selected_date", "initial_date"),
    "timepicker": ("selected_time", "initial_time"),
    "datetimepicker": ("selected_date_time", "initial_date_time"),
    "rich_text_input": ("rich_text_value", "initial_value"),
}


def _initial_state(element: Mapping[str, Any]) -> JSONDict:
    kind = str(element.get("type"))
    entry: JSONDict = {"type": kind}
    if kind in _TEXT_INPUTS:
        entry["value"] = element.get("initial_value") or None
    elif kind in _SINGLE_OPTION:
        entry["selected_option"] = copy.deepcopy(element.get("initial_option"))
    elif kind in _MULTI_OPTION:
        entry["selected_options"] = copy.deepcopy(list(element.get("initial_options", [])))
    elif kind in _PICKERS:
        state_key, initial_key = _PICKERS[kind]
        default: Any = [] if state_key.endswith("s") and kind.startswith("multi_") else None
        entry[state_key] = copy.deepcopy(element.get(initial_key, default))
    return entry


def _override_state(
    entry: JSONDict, element: Mapping[str, Any], block_id: str, value: str | Sequence[str] | None
) -> None:
    kind = entry["type"]
    if kind in _TEXT_INPUTS:
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{block_id}: a {kind} takes a string")
        entry["value"] = value or None  # Slack sends null, never "", for an empty input
    elif kind in _SINGLE_OPTION:
        if value is None:
            entry["selected_option"] = None
            return
        if not isinstance(value, str):
            raise TypeError(f"{block_id}: a {kind} takes one option value")
        option = _find_option(element, value)
        if option is None and kind != "external_select":
            choices = [o.get("value") for o in element.get("options", [])]
            raise LookupError(f"{block_id}: no option with value {value!r} (options: {choices})")
        entry["selected_option"] = option or {"text": {"type": "plain_text", "text": value}, "value": value}
    elif kind in _MULTI_OPTION:
        values = [] if value is None else [value] if isinstance(value, str) else list(value)
        selected = []
        for v in values:
            option = _find_option(element, v)
            if option is None:
                if kind != "multi_external_select":
                    raise LookupError(f"{block_id}: no option with value {v!r}")
                option = {"text": {"type": "plain_text", "text": v}, "value": v}
            selected.append(option)
        entry["selected_options"] = selected
    elif kind in _PICKERS:
        entry[_PICKERS[kind][0]] = value
    else:
        raise TypeError(f"{block_id}: cannot fill an element of type {kind}")


def _is_empty(entry: Mapping[str, Any]) -> bool:
    values = [v for k, v in entry.items() if k != "type"]
    return all(v is None or v == [] for v in values)


def _client_check(block: Mapping[str, Any], element: Mapping[str, Any], entry: Mapping[str, Any]) -> None:
    """The checks Slack's client makes before it lets the user press Submit."""
    block_id = block.get("block_id")
    if _is_empty(entry):
        if not block.get("optional", False):
            raise ClientValidationError(f"{block_id}: required input left empty")
        return
    kind = entry["type"]
    if kind == "plain_text_input":
        text = str(entry["value"])
        if "min_length" in element and len(text) < int(element["min_length"]):
            raise ClientValidationError(f"{block_id}: shorter than min_length {element['min_length']}")
        if "max_length" in element and len(text) > int(element["max_length"]):
            raise ClientValidationError(f"{block_id}: longer than max_length {element['max_length']}")
    elif kind == "number_input":
        try:
            number = Decimal(str(entry["value"]))
        except InvalidOperation:
            raise ClientValidationError(f"{block_id}: {entry['value']!r} is not a number") from None
        if not element.get("is_decimal_allowed", False) and number != number.to_integral_value():
            raise ClientValidationError(f"{block_id}: decimals are not allowed")
        if "min_value" in element and number < Decimal(str(element["min_value"])):
            raise ClientValidationError(f"{block_id}: below min_value {element['min_value']}")
        if "max_value" in element and number > Decimal(str(element["max_value"])):
            raise ClientValidationError(f"{block_id}: above max_value {element['max_value']}")


def fill_state_from_view(
    view: Mapping[str, Any],
    overrides: Mapping[str, str | Sequence[str] | None] | None = None,
    *,
    client_validate: bool = True,
) -> dict[str, dict[str, JSONDict]]:
    """``view.state.values`` as Slack submits it: every input block, as the form opened (``initial_value``,
    ``initial_option``, ...), with ``overrides`` applied by block_id.

    An override is the typed text (``None`` or ``""`` clears it), or for a select the chosen option's *value*
    (``LookupError`` if the view has no such option), or a list of values for a multi-select. An override for a
    block_id that is not an input block of the view raises ``KeyError``. With ``client_validate`` (the default)
    ``ClientValidationError`` is raised for input Slack's client would refuse to submit (a required field left
    empty, a number outside min/max or with decimals where none are allowed, text outside min/max length), so a
    test cannot send what no user could.
    """
    overrides = dict(overrides or {})
    values: dict[str, dict[str, JSONDict]] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input" or not isinstance(block.get("element"), Mapping):
            continue
        block_id, element = block.get("block_id"), block["element"]
        action_id = element.get("action_id")
        if not block_id or not action_id:
            raise ValueError("input block without block_id/action_id: pass the view as the stand-in returned it")
        entry = _initial_state(element)
        if block_id in overrides:
            _override_state(entry, element, block_id, overrides.pop(block_id))
        if client_validate:
            _client_check(block, element, entry)
        values[block_id] = {action_id: entry}
    if overrides:
        raise KeyError(f"no input blocks {sorted(overrides)} in view {view.get('callback_id')!r}")
    return values


# --- view submissions --------------------------------------------------------------------------------------------


def _submitted_view(view: Mapping[str, Any], values: Mapping[str, Mapping[str, Any]]) -> JSONDict:
    submitted = copy.deepcopy(dict(view))
    view_id = submitted.get("id") or "V" + "".join(
        secrets.choice(string.ascii_uppercase + string.digits) for _ in range(10)
    )
    defaults: JSONDict = {
        "id": view_id,
        "team_id": TEAM_ID,
        "type": "modal",
        "blocks": [],
        "private_metadata": "",
        "callback_id": "",
        "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
        "clear_on_close": False,
        "notify_on_close": False,
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": APP_ID,
        "external_id": "",
        "app_installed_team_id": TEAM_ID,
        "bot_id": BOT_ID,
    }
    for key, default in defaults.items():
        submitted.setdefault(key, default)
    submitted["state"] = {"values": copy.deepcopy({k: dict(v) for k, v in values.items()})}
    return submitted


def view_submission_payload(
    view: Mapping[str, Any],
    values: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    user_id: str = DEFAULT_USER_ID,
    user_name: str | None = None,
    trigger_id: str | None = None,
) -> JSONDict:
    """A ``view_submission`` payload for ``view`` (the dict the app opened or last updated, e.g.
    ``standin.view(view_id)``): its ``id``, ``hash``, ``callback_id``, ``private_metadata`` and ``blocks`` are kept,
    and ``view.state.values`` is ``values`` (block_id -> action_id -> value dict), by default
    ``fill_state_from_view(view)``."""
    state = fill_state_from_view(view) if values is None else values
    return {
        "type": "view_submission",
        "team": _team(),
        "user": _user(user_id, user_name),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or make_trigger_id(),
        "view": _submitted_view(view, state),
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_submission(
    view: Mapping[str, Any],
    values: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    user_id: str = DEFAULT_USER_ID,
    user_name: str | None = None,
    trigger_id: str | None = None,
) -> bytes:
    """The form body (``payload=<json>``) Slack POSTs when the user presses Submit; see
    ``view_submission_payload``."""
    return interactive_body(
        view_submission_payload(view, values, user_id=user_id, user_name=user_name, trigger_id=trigger_id)
    )


def view_closed_payload(
    view: Mapping[str, Any],
    *,
    user_id: str = DEFAULT_USER_ID,
    user_name: str | None = None,
    is_cleared: bool = False,
) -> JSONDict:
    """A ``view_closed`` payload (sent only for views opened with ``notify_on_close``)."""
    return {
        "type": "view_closed",
        "team": _team(),
        "user": _user(user_id, user_name),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "view": _submitted_view(view, fill_state_from_view(view, client_validate=False)),
        "is_cleared": is_cleared,
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_closed(
    view: Mapping[str, Any],
    *,
    user_id: str = DEFAULT_USER_ID,
    user_name: str | None = None,
    is_cleared: bool = False,
) -> bytes:
    """The form body (``payload=<json>``) Slack POSTs when the user closes a ``notify_on_close`` view."""
    return interactive_body(view_closed_payload(view, user_id=user_id, user_name=user_name, is_cleared=is_cleared))


# --- Events API --------------------------------------------------------------------------------------------------


def make_event_id() -> str:
    """An Events API ``event_id`` like Slack's (``Ev`` and 9 to 11 upper-case letters and digits)."""
    return "Ev" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(10))


def app_dm_channel(user_id: str) -> str:
    """The id of the direct-message channel between the app and ``user_id`` (``D...``): the same for one person
    every time, as Slack's is."""
    return "D" + hashlib.sha256(f"{TEAM_ID}:{APP_ID}:{user_id}".encode()).hexdigest()[:10].upper()


def _event_context(event_type: str, channel: str) -> str:
    """An ``event_context`` like Slack's: an opaque ``<digit>-<base64>`` token apps only pass back (its content
    here is made up; apps must not read it)."""
    inner = _compact({"et": event_type, "tid": TEAM_ID, "aid": APP_ID, "cid": channel})
    return "4-" + base64.urlsafe_b64encode(inner.encode()).decode().rstrip("=")


def event_callback(event: Mapping[str, Any], *, event_id: str | None = None, event_time: int | None = None) -> JSONDict:
    """The ``event_callback`` envelope Slack wraps every Events API event in, for an app installed as a bot in
    ``TEAM_ID`` (one authorization: the bot user)."""
    channel = str(event.get("channel") or "")
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "context_team_id": TEAM_ID,
        "context_enterprise_id": None,
        "api_app_id": APP_ID,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or make_event_id(),
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": _event_context(str(event.get("type", "")), channel),
    }


def app_home_opened_payload(
    user_id: str = DEFAULT_USER_ID,
    *,
    tab: str = "home",
    view: Mapping[str, Any] | None = None,
    channel_id: str | None = None,
    event_ts: str | None = None,
    event_id: str | None = None,
    event_time: int | None = None,
) -> JSONDict:
    """``app_home_opened`` in its envelope, as Slack sends it each time ``user_id`` opens the app's Home tab
    (``tab="home"``) or Messages tab (``"messages"``). ``view``: the Home tab's view as Slack stores it
    (``SlackStandin.home(user_id)``), which Slack includes once one was published; ``channel_id``: the app's
    direct-message channel with the person (:func:`app_dm_channel` by default)."""
    event: JSONDict = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": channel_id or app_dm_channel(user_id),
        "tab": tab,
        "event_ts": event_ts or make_action_ts(),
    }
    if view is not None:
        event["view"] = copy.deepcopy(dict(view))
    return event_callback(event, event_id=event_id, event_time=event_time)


# --- bodies and signatures ---------------------------------------------------------------------------------------


def interactive_body(payload: Mapping[str, Any]) -> bytes:
    """``payload=<url-encoded JSON>``: how Slack POSTs every interaction to the request URL."""
    return urlencode({"payload": _compact(payload)}).encode()


def event_body(payload: Mapping[str, Any]) -> bytes:
    """The JSON body (``Content-Type: application/json``) in which Slack POSTs an Events API envelope."""
    return _compact(payload).encode()


def decode_body(body: bytes) -> JSONDict:
    """The inverse of the builders: the payload dict of an interaction body, or a slash command's fields."""
    fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
    if set(fields) == {"payload"}:
        decoded: JSONDict = json.loads(fields["payload"])
        return decoded
    return dict(fields)


def content_type_of(body: bytes) -> str:
    """The ``Content-Type`` Slack sends ``body`` with: JSON for an Events API body (a JSON object), the form
    type for everything else (slash commands and interactions)."""
    return JSON_CONTENT_TYPE if body.lstrip()[:1] == b"{" else FORM_CONTENT_TYPE


def sign(body: bytes, secret: str, timestamp: int | None = None, *, content_type: str | None = None) -> dict[str, str]:
    """The headers of a request Slack signed with ``secret`` (now, unless ``timestamp`` is given). The v0 signature
    is the same for every kind of body; ``content_type`` defaults to the one Slack sends ``body`` with
    (:func:`content_type_of`)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    return {
        "Content-Type": content_type or content_type_of(body),
        "User-Agent": SLACK_USER_AGENT,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }


def sign_bad_signature(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers that look right but carry a signature made with another secret: Bolt must answer 401."""
    return sign(body, secret + "-not-the-signing-secret", timestamp)


def sign_stale(body: bytes, secret: str, age: int = SIGNATURE_MAX_AGE + 60) -> dict[str, str]:
    """Correctly signed headers whose timestamp is ``age`` seconds old (a replay): Bolt must answer 401."""
    return sign(body, secret, int(time.time()) - age)


async def post_signed(
    url: str,
    body: bytes,
    secret: str,
    *,
    headers: Mapping[str, str] | None = None,
    client: httpx.AsyncClient | None = None,
    timeout: float = 5.0,  # noqa: ASYNC109 - passed to httpx
) -> httpx.Response:
    """POST ``body`` to the app's request URL as Slack does: signed now, with the content type Slack sends such a
    body with (JSON for an event), unless ``headers`` are given (use ``sign_bad_signature`` / ``sign_stale`` for
    the failure cases)."""
    sent_headers = dict(headers) if headers is not None else sign(body, secret)
    if client is not None:
        return await client.post(url, content=body, headers=sent_headers, timeout=timeout)
    async with httpx.AsyncClient() as own:
        return await own.post(url, content=body, headers=sent_headers, timeout=timeout)


def sign_bytes(body: bytes, secret: str, timestamp: int | str | None = None) -> dict[str, str]:
    """Like ``sign``, for any bytes (``sign`` needs a UTF-8 body): the HMAC is taken over the raw bytes, as Slack
    does. ``timestamp`` may be any text, to send a malformed one signed consistently."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": FORM_CONTENT_TYPE,
        "User-Agent": SLACK_USER_AGENT,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
    }
