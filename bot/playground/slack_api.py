"""A local Slack for end-to-end tests: the Web API the bot calls and the Socket Mode server it connects to.

``SlackStandin`` is an aiohttp server on 127.0.0.1. The bot gets ``standin.api_url`` as ``SLACK_API_URL``
(``AsyncWebClient(base_url=...)``); ``apps.connections.open`` hands out ``ws://`` URLs to the same server, so
Bolt's Socket Mode handler connects to it as it would to Slack.

What it promises, method by method, is in ``SlackStandin``'s docstring. In short it answers with Slack's response
shapes and error codes and keeps state so later calls are consistent (a message updated by ``chat.update`` is what
``message()`` returns; a view's ``hash`` changes on every update); it enforces what Slack enforces and a bot could
get wrong (tokens, a ``trigger_id`` used once and within 3 seconds, ``hash_conflict``, Block Kit validity and
limits); it records every call for assertions; and it can be told to answer 429 or an error.

Block Kit is validated the way Slack's schema would: each block is parsed with ``slack_sdk.models`` and
re-serialised (``to_dict()`` runs the models' validators), a property the models drop is reported as Slack reports
it ("invalid additional property"), and the limits the models do not check are checked here. Every problem is
appended to ``standin.invalid`` *and* answered as Slack answers (``invalid_blocks`` for messages,
``invalid_arguments`` for views), so a test can simply ``assert standin.invalid == []``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import re
import secrets
import socket
import string
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Self

from aiohttp import WSCloseCode, WSMsgType, web
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.playground.kinds import unrendered
from bot.playground.slack_payloads import (
    APP_ID,
    BOT_ID,
    BOT_NAME,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    make_trigger_id,
    random_block_id,
)

__all__ = [
    "DEFAULT_APP_TOKEN",
    "DEFAULT_BOT_TOKEN",
    "MESSAGE_MAX_BLOCKS",
    "TRIGGER_TTL",
    "VIEW_MAX_BLOCKS",
    "Ack",
    "Call",
    "SlackError",
    "SlackStandin",
    "SocketConnection",
    "block_problems",
    "view_problems",
]

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]

DEFAULT_BOT_TOKEN: Final = "xoxb-1000000001-2000000000002-StandinBotTokenAbCdEfGh"
DEFAULT_APP_TOKEN: Final = "xapp-1-A0VPNBOT01-3000000000003-standinapptoken0123456789abcdef"

TRIGGER_TTL: Final = 3.0  # seconds a trigger_id can be exchanged (views.open / views.push)
RESPONSE_URL_MAX_POSTS: Final = 5
RESPONSE_URL_TTL: Final = 30 * 60.0
MESSAGE_MAX_BLOCKS: Final = 50
VIEW_MAX_BLOCKS: Final = 100
VIEW_STACK_MAX: Final = 3  # one open view and at most two pushed
VIEW_MAX_BYTES: Final = 250_000
MESSAGE_MAX_TEXT: Final = 40_000

# Methods whose token is the app-level token (xapp-); every other method needs the bot token.
_APP_TOKEN_METHODS: Final = frozenset({"apps.connections.open"})
_NO_AUTH_METHODS: Final = frozenset({"api.test"})
# Arguments slack_sdk sends as JSON strings in form bodies (and as objects in JSON bodies).
_JSON_ARGS: Final = ("blocks", "attachments", "view", "metadata")


# --- records -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One Web API call as the stand-in received and answered it.

    ``args`` are the arguments from the query string and the body (form or JSON), with JSON-string arguments
    (``blocks``, ``view``, ``attachments``, ``metadata``) decoded; form values stay strings. The token is kept
    apart in ``token``. ``response`` is the JSON the stand-in answered, ``status`` its HTTP status. A post to a
    response URL is recorded as method ``"response_url"`` with the posted JSON as ``args``.
    """

    method: str
    args: JSONDict
    at: float
    token: str | None = None
    response: JSONDict = field(default_factory=dict)
    status: int = 200

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))


@dataclass
class SocketConnection:
    """A Socket Mode connection the app opened (with the ticket ``apps.connections.open`` gave it)."""

    id: int
    ticket: str
    opened_at: float
    closed_at: float | None = None
    received: list[JSONDict] = field(default_factory=list)  # every JSON message the app sent on it


@dataclass(frozen=True)
class Ack:
    """The app's acknowledgement of an envelope: ``{"envelope_id": ..., "payload": {...}?}``."""

    envelope_id: str
    payload: JSONDict | None
    at: float
    connection_id: int
    message: JSONDict = field(default_factory=dict, repr=False)  # the ack exactly as the app sent it


@dataclass
class _Trigger:
    issued_at: float
    view_id: str | None
    user_id: str | None = None
    used: bool = False


@dataclass
class _ResponseUrl:
    issued_at: float
    posts: int = 0
    channel: str | None = None
    user_id: str | None = None
    message_ts: str | None = None


@dataclass
class _Fault:
    remaining: int
    status: int
    body: JSONDict
    headers: dict[str, str]


class SlackError(Exception):
    """A Slack error answer (``{"ok": false, "error": code, **extra}``) raised by a method handler."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra

    def body(self) -> JSONDict:
        return {"ok": False, "error": self.code, **self.extra}


# --- Block Kit validation ----------------------------------------------------------------------------------------


def _text(obj: Any) -> str:
    if isinstance(obj, Mapping):
        return str(obj.get("text", ""))
    return "" if obj is None else str(obj)


def _too_long(value: Any, limit: int, what: str, pointer: str) -> list[str]:
    text = _text(value)
    return [f"{what} must be less than {limit + 1} characters [json-pointer:{pointer}]"] if len(text) > limit else []


_OPTION_LIMITS: Final[Mapping[str, int]] = {
    "static_select": 100,
    "multi_static_select": 100,
    "overflow": 5,
    "radio_buttons": 10,
    "checkboxes": 10,
}


def _element_limits(element: Mapping[str, Any], p: str) -> list[str]:
    problems: list[str] = []
    kind = element.get("type")
    problems += _too_long(element.get("action_id"), 255, "action_id", f"{p}/action_id")
    if "placeholder" in element:
        problems += _too_long(element["placeholder"], 150, "placeholder", f"{p}/placeholder/text")
    if kind == "button":
        problems += _too_long(element.get("text"), 75, "button text", f"{p}/text/text")
        problems += _too_long(element.get("value"), 2000, "button value", f"{p}/value")
        problems += _too_long(element.get("url"), 3000, "button url", f"{p}/url")
    options: list[Any] = list(element.get("options", []))
    for group in element.get("option_groups", []):
        options += list(group.get("options", []))
    if isinstance(kind, str) and kind in _OPTION_LIMITS and len(options) > _OPTION_LIMITS[kind]:
        problems.append(f"no more than {_OPTION_LIMITS[kind]} options allowed [json-pointer:{p}/options]")
    for i, option in enumerate(options):
        if isinstance(option, Mapping):
            problems += _too_long(option.get("text"), 75, "option text", f"{p}/options/{i}/text/text")
            problems += _too_long(option.get("value"), 150, "option value", f"{p}/options/{i}/value")
    return problems


def _block_limits(block: Mapping[str, Any], p: str) -> list[str]:
    """Slack's limits, checked here whether or not slack_sdk's models check them too."""
    problems = _too_long(block.get("block_id"), 255, "block_id", f"{p}/block_id")
    kind = block.get("type")
    elements = block.get("elements") if isinstance(block.get("elements"), list) else []
    assert isinstance(elements, list)
    if kind == "section":
        problems += _too_long(block.get("text"), 3000, "section text", f"{p}/text/text")
        fields = block.get("fields") or []
        if len(fields) > 10:
            problems.append(f"no more than 10 fields allowed [json-pointer:{p}/fields]")
        for i, item in enumerate(fields):
            problems += _too_long(item, 2000, "section field", f"{p}/fields/{i}/text")
    elif kind == "header":
        problems += _too_long(block.get("text"), 150, "header text", f"{p}/text/text")
    elif kind == "actions" and len(elements) > 25:
        problems.append(f"no more than 25 elements allowed [json-pointer:{p}/elements]")
    elif kind == "context" and len(elements) > 10:
        problems.append(f"no more than 10 elements allowed [json-pointer:{p}/elements]")
    elif kind == "input":
        problems += _too_long(block.get("label"), 2000, "label", f"{p}/label/text")
        problems += _too_long(block.get("hint"), 2000, "hint", f"{p}/hint/text")
    elif kind == "table":
        rows = block.get("rows") or []
        if len(rows) > 100:
            problems.append(f"no more than 100 rows allowed [json-pointer:{p}/rows]")
        for i, row in enumerate(rows):
            if isinstance(row, list) and len(row) > 20:
                problems.append(f"no more than 20 cells allowed [json-pointer:{p}/rows/{i}]")
    for key in ("accessory", "element"):
        if isinstance(block.get(key), Mapping):
            problems += _element_limits(block[key], f"{p}/{key}")
    if kind == "actions":
        seen: set[str] = set()
        for i, element in enumerate(elements):
            if not isinstance(element, Mapping):
                continue
            problems += _element_limits(element, f"{p}/elements/{i}")
            action_id = element.get("action_id")
            if action_id is not None and action_id in seen:
                problems.append(f"duplicate action_id: {action_id} [json-pointer:{p}/elements/{i}/action_id]")
            seen.add(str(action_id))
    return problems


def _shape_problems(original: Any, normalized: Any, p: str) -> list[str]:
    """What Slack's schema would reject but slack_sdk silently drops or converts: unknown properties, and a
    string where an object is required."""
    if isinstance(original, Mapping) and isinstance(normalized, Mapping):
        problems: list[str] = []
        for key, value in original.items():
            if value is None or value == [] or value == {} or value == "":
                continue
            if key not in normalized:
                problems.append(f"invalid additional property: {key} [json-pointer:{p}]")
            else:
                problems += _shape_problems(value, normalized[key], f"{p}/{key}")
        return problems
    if isinstance(original, list) and isinstance(normalized, list) and len(original) == len(normalized):
        return [
            q
            for i, (a, b) in enumerate(zip(original, normalized, strict=True))
            for q in _shape_problems(a, b, f"{p}/{i}")
        ]
    if isinstance(original, str) and isinstance(normalized, Mapping):
        return [f"expected object, got string [json-pointer:{p}]"]
    return []


def block_problems(blocks: Any, *, max_blocks: int = MESSAGE_MAX_BLOCKS, pointer: str = "/blocks") -> list[str]:
    """Why Slack would refuse ``blocks`` (empty if it would accept them), in Slack's wording
    (``"<reason> [json-pointer:/blocks/3/text]"``). Usable directly on a builder's output in unit tests."""
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{pointer}]"]
    problems: list[str] = []
    if len(blocks) > max_blocks:
        problems.append(f"no more than {max_blocks} items allowed [json-pointer:{pointer}]")
    block_ids: set[str] = set()
    tables = 0
    for i, raw in enumerate(blocks):
        p = f"{pointer}/{i}"
        if not isinstance(raw, Mapping):
            problems.append(f"expected object [json-pointer:{p}]")
            continue
        try:
            parsed = Block.parse(copy.deepcopy(dict(raw)))
            if parsed is None:
                problems.append(f"unsupported block type: {raw.get('type')!r} [json-pointer:{p}]")
                continue
            normalized = parsed.to_dict()
        except SlackObjectFormationError as e:
            problems.append(f"{e} [json-pointer:{p}]")
            continue
        except Exception as e:  # a malformed nested object makes the models raise anything
            problems.append(f"malformed block ({type(e).__name__}: {e}) [json-pointer:{p}]")
            continue
        problems += _shape_problems(raw, normalized, p)
        problems += _block_limits(raw, p)
        block_id = raw.get("block_id")
        if block_id is not None:
            if block_id in block_ids:
                problems.append(f"duplicate block_id: {block_id} [json-pointer:{p}/block_id]")
            block_ids.add(str(block_id))
        tables += raw.get("type") == "table"
    if tables > 1:
        problems.append(f"only one table block allowed per message [json-pointer:{pointer}]")
    return problems


def view_problems(view: Any, pointer: str = "/view") -> list[str]:
    """Why Slack would refuse ``view`` for views.open/update/push (empty if it would accept it)."""
    if not isinstance(view, Mapping):
        return [f"must be an object [json-pointer:{pointer}]"]
    problems: list[str] = []
    for required in ("type", "blocks") + (("title",) if view.get("type") == "modal" else ()):
        if required not in view:
            problems.append(f"missing required field: {required} [json-pointer:{pointer}]")
    if problems:
        return problems
    problems += block_problems(view["blocks"], max_blocks=VIEW_MAX_BLOCKS, pointer=f"{pointer}/blocks")
    if problems:
        return problems
    try:
        normalized = View(**copy.deepcopy(dict(view))).to_dict()
    except SlackObjectFormationError as e:
        return [f"{e} [json-pointer:{pointer}]"]
    except Exception as e:
        return [f"malformed view ({type(e).__name__}: {e}) [json-pointer:{pointer}]"]
    top = {k: v for k, v in view.items() if k != "blocks"}
    problems += _shape_problems(top, {k: v for k, v in normalized.items() if k != "blocks"}, pointer)
    for key in ("title", "submit", "close"):
        problems += _too_long(view.get(key), 24, key, f"{pointer}/{key}/text")
    problems += _too_long(view.get("private_metadata"), 3000, "private_metadata", f"{pointer}/private_metadata")
    problems += _too_long(view.get("callback_id"), 255, "callback_id", f"{pointer}/callback_id")
    problems += _too_long(view.get("external_id"), 255, "external_id", f"{pointer}/external_id")
    has_input = any(isinstance(b, Mapping) and b.get("type") == "input" for b in view["blocks"])
    if view.get("type") == "modal" and has_input and not view.get("submit"):
        problems.append(f"must provide submit when the view has input blocks [json-pointer:{pointer}/submit]")
    return problems


def _with_ids(blocks: Iterable[Any]) -> list[Any]:
    """The blocks as Slack stores them: a block or interactive element without an id gets a random one."""
    stored: list[Any] = []
    for raw in blocks:
        block = copy.deepcopy(raw)
        if isinstance(block, dict):
            block.setdefault("block_id", random_block_id())
            elements = list(block.get("elements", [])) if block.get("type") == "actions" else []
            elements += [block[k] for k in ("accessory", "element") if isinstance(block.get(k), dict)]
            for element in elements:
                if isinstance(element, dict) and element.get("type") not in ("image", "mrkdwn", "plain_text"):
                    element.setdefault("action_id", random_block_id())
        stored.append(block)
    return stored


# --- the server --------------------------------------------------------------------------------------------------


Handler = Callable[[JSONDict], JSONDict]


class SlackStandin:
    """A local Slack Web API and Socket Mode server with Slack's wire format.

    Web API (``POST`` or ``GET`` ``/api/<method>``, form or JSON bodies, token in ``Authorization: Bearer``):

    * every method but ``api.test`` needs a token: none answers ``not_authed``, an unknown one ``invalid_auth``,
      the wrong kind (app token for a bot method or the reverse) ``not_allowed_token_type``;
    * ``auth.test``; ``chat.postMessage`` (unique increasing ``ts``, thread replies with ``thread_ts``);
      ``chat.update`` (``message_not_found`` for an unknown ts; blocks left out are kept, as Slack does);
      ``chat.delete``; ``chat.postEphemeral``; ``chat.getPermalink``;
    * ``views.open`` / ``views.push``: the ``trigger_id`` must come from ``new_trigger_id()`` (else
      ``invalid_trigger_id``), be used once (else ``exchanged_trigger_id``) and within ``TRIGGER_TTL`` seconds (else
      ``expired_trigger_id``) -- these are the error codes Slack's views.* methods use; ``views.update`` by
      ``view_id`` or ``external_id`` (``not_found``), ``hash_conflict`` for a stale ``hash``; every update gives a new
      hash; ``views.push`` stacks at most 3 views (``push_limit_reached``); a person (the user a trigger was
      issued for) has one modal stack, which a new ``views.open`` replaces; ``views.publish`` keeps each user's home
      view (``hash_conflict`` for a stale ``hash``);
    * ``usergroups.users.list`` from ``usergroups`` (``no_such_subteam``); ``users.info`` (``user_not_found`` for an
      id that is not a user id); ``apps.connections.open`` (app token) returns a ``ws://`` URL to ``/socket``;
    * anything else answers ``unknown_method``.

    What Slack's client does with an app's answers is here too, for the playground: :meth:`answer_view` applies a
    ``view_submission`` answer, :meth:`show_response` shows a response (a response URL that knows its channel and
    user does so itself), and :attr:`version` / :meth:`changed_since` tell a page when to look again. Every kind of
    block or element sent that the playground's page cannot render is recorded in ``unrendered``.

    Socket Mode (``GET /socket?ticket=...``): a ticket from ``apps.connections.open`` is needed (401 otherwise);
    Slack's ``hello`` is sent on connect; pings are answered; ``send_envelope`` delivers an envelope and returns
    the app's ack. Response URLs from ``new_response_url()`` take up to 5 JSON posts within 30 minutes.

    All methods of this class are to be called from the event loop the server runs on.
    """

    def __init__(
        self,
        *,
        bot_token: str = DEFAULT_BOT_TOKEN,
        app_token: str = DEFAULT_APP_TOKEN,
        usergroups: Mapping[str, Iterable[str]] | None = None,
        users: Mapping[str, Mapping[str, Any]] | None = None,
        channels: Iterable[str] | None = None,
        clock: Callable[[], float] = time.time,
        trigger_ttl: float = TRIGGER_TTL,
        team_id: str = TEAM_ID,
        team_domain: str = TEAM_DOMAIN,
        app_id: str = APP_ID,
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
        bot_name: str = BOT_NAME,
    ) -> None:
        """``usergroups`` maps a group id (``S...``) to its members; ``users`` gives fields of a user object for
        ``users.info`` (merged over a generated one); ``channels``, if given, are the only channels the bot can post
        to (others answer ``channel_not_found``). ``clock`` drives trigger ages, ``ts`` values and record times."""
        self.bot_token = bot_token
        self.app_token = app_token
        self.usergroups: dict[str, list[str]] = {k: list(v) for k, v in (usergroups or {}).items()}
        self.users: dict[str, JSONDict] = {k: dict(v) for k, v in (users or {}).items()}
        self.channels: set[str] | None = set(channels) if channels is not None else None
        self.trigger_ttl = trigger_ttl
        self.team_id, self.team_domain, self.app_id = team_id, team_domain, app_id
        self.bot_user_id, self.bot_id, self.bot_name = bot_user_id, bot_id, bot_name
        self._clock = clock
        self.workspace_url: str | None = None
        """The workspace's address, as ``auth.test`` answers it and permalinks start (None: on slack.com)."""

        # records
        self._calls: list[Call] = []
        self.rate_limited_calls: list[Call] = []
        self.invalid: list[tuple[str, str]] = []
        self.unrendered: list[tuple[str, str]] = []  # (method, kind): kinds the playground's page cannot show
        self.ephemerals: list[JSONDict] = []
        self.connections: list[SocketConnection] = []
        self.envelopes: list[JSONDict] = []
        self.acks: list[Ack] = []

        # state
        self._messages: dict[str, dict[str, JSONDict]] = {}
        self._views: dict[str, JSONDict] = {}
        self._stacks: dict[str, list[str]] = {}  # root view id -> view ids, root first
        self._view_users: dict[str, str] = {}  # view id -> the user it was opened for (when the trigger said)
        self._homes: dict[str, str] = {}  # user id -> the id of their published home view
        self._version = 0  # counts every answered call: what a page polls or waits on
        self._triggers: dict[str, _Trigger] = {}
        self._tickets: dict[str, bool] = {}  # ticket -> already used
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._last_ts_micros = 0
        self._sockets: dict[int, web.WebSocketResponse] = {}
        self._pending_acks: dict[str, asyncio.Future[Ack]] = {}
        self._changed = asyncio.Condition()

        self._handlers: dict[str, Handler] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.push": self._views_push,
            "views.publish": self._views_publish,
            "usergroups.users.list": self._usergroups_users_list,
            "users.info": self._users_info,
            "apps.connections.open": self._apps_connections_open,
        }
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # --- lifecycle -----------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on a free loopback port."""
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._on_api)
        app.router.add_get("/socket", self._on_socket)
        app.router.add_post("/hooks/{hook_id}", self._on_response_url)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = int(sock.getsockname()[1])
        await web.SockSite(runner, sock).start()
        self._runner = runner

    async def stop(self) -> None:
        """Close every Socket Mode connection (code 1001), fail pending envelopes, stop listening."""
        for ws in list(self._sockets.values()):
            with contextlib.suppress(Exception):
                await ws.close(code=WSCloseCode.GOING_AWAY, message=b"stand-in stopping")
        for future in self._pending_acks.values():
            if not future.done():
                future.set_exception(ConnectionError("stand-in stopped before the app acknowledged"))
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("SlackStandin is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:PORT/api/``: the ``SLACK_API_URL`` / ``AsyncWebClient(base_url=...)`` to use."""
        return f"{self.base_url}/api/"

    # --- records -------------------------------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """The calls answered so far (rate-limited ones are in ``rate_limited_calls``), oldest first."""
        return [c for c in self._calls if method is None or c.method == method]

    def last(self, method: str) -> Call:
        """The latest call of ``method``; ``LookupError`` naming the methods seen if there is none."""
        for c in reversed(self._calls):
            if c.method == method:
                return c
        raise LookupError(f"no {method} call; calls so far: {[c.method for c in self._calls]}")

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the whole wait, part of the contract
        predicate: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Wait until ``count`` calls of ``method`` (matching ``predicate``) have been answered; return them all.

        Raises ``TimeoutError`` naming what was seen, so a test shows what the bot did instead."""

        def matching() -> list[Call]:
            return [c for c in self._calls if c.method == method and (predicate is None or predicate(c))]

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: len(matching()) >= count), timeout)
            except TimeoutError:
                seen = [c.method for c in self._calls]
                raise TimeoutError(
                    f"{len(matching())}/{count} matching {method} calls after {timeout}s; calls so far: {seen}"
                ) from None
        return matching()

    async def wait_until(
        self,
        condition: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the whole wait
        what: str = "the condition",
    ) -> None:
        """Wait until ``condition()`` holds; it is re-checked after every call, post and Socket Mode event
        (e.g. ``lambda: "edited" in standin.message(channel, ts)``; a ``LookupError`` from it counts as not yet).
        ``TimeoutError`` names ``what``."""

        def holds() -> bool:
            try:
                return bool(condition())
            except LookupError:
                return False

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(holds), timeout)
            except TimeoutError:
                seen = [c.method for c in self._calls]
                raise TimeoutError(f"no {what} after {timeout}s; calls so far: {seen}") from None

    def clear(self) -> None:
        """Forget the records (calls, rate-limited calls, invalid, ephemerals, envelopes, acks); state stays."""
        self._calls.clear()
        self.rate_limited_calls.clear()
        self.invalid.clear()
        self.ephemerals.clear()
        self.envelopes.clear()
        self.acks.clear()

    async def _notify(self) -> None:
        self._version += 1
        async with self._changed:
            self._changed.notify_all()

    @property
    def version(self) -> int:
        """A number that grows with every call answered (and response URL posted to): state may have changed."""
        return self._version

    async def changed_since(self, version: int, timeout: float) -> int:  # noqa: ASYNC109 - a long poll's bound
        """Wait until :attr:`version` is past ``version`` (at most ``timeout`` seconds); the version then."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(lambda: self._version > version), timeout)
        return self._version

    # --- state seen by tests -------------------------------------------------------------------------------------

    def message(self, channel: str, ts: str) -> JSONDict:
        """The current message (a copy) as Slack stores it: text, blocks (with ids), ``edited`` after an update."""
        try:
            return copy.deepcopy(self._messages[channel][ts])
        except KeyError:
            raise LookupError(f"no message {ts} in {channel}") from None

    def messages_in(self, channel: str) -> list[JSONDict]:
        """The channel's top-level messages (not thread replies), oldest first."""
        msgs = self._messages.get(channel, {}).values()
        return [copy.deepcopy(m) for m in msgs if m.get("thread_ts") in (None, m["ts"])]

    def thread(self, channel: str, thread_ts: str) -> list[JSONDict]:
        """The replies in the thread of ``thread_ts``, oldest first (the parent not included)."""
        msgs = self._messages.get(channel, {}).values()
        return [copy.deepcopy(m) for m in msgs if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts]

    def view(self, view_id: str) -> JSONDict:
        """The view (a copy) as Slack holds it now: what ``views.open``/``update`` last returned for it."""
        try:
            return copy.deepcopy(self._views[view_id])
        except KeyError:
            raise LookupError(f"no view {view_id}") from None

    @property
    def views(self) -> dict[str, JSONDict]:
        """Every view opened or pushed, by id (copies)."""
        return copy.deepcopy(self._views)

    def new_trigger_id(self, *, view_id: str | None = None, user_id: str | None = None) -> str:
        """A fresh trigger id, issued now, as Slack puts in a slash command or interaction payload. ``view_id``:
        the interaction happened inside that view (so ``views.push`` stacks on it); ``user_id``: the person who
        acted, for whom a view opened with it is shown (:meth:`open_views`)."""
        trigger_id = make_trigger_id()
        self._triggers[trigger_id] = _Trigger(issued_at=self._clock(), view_id=view_id, user_id=user_id)
        return trigger_id

    def open_views(self, user_id: str) -> list[JSONDict]:
        """The top view of each modal stack open for ``user_id`` (copies): at most one, since a ``views.open`` for a
        person replaces their stack; a stack leaves when :meth:`close_view` closes its root."""
        stacks = [ids for root, ids in self._stacks.items() if self._view_users.get(root) == user_id]
        return [copy.deepcopy(self._views[i]) for ids in stacks for i in ids[-1:]]

    def close_view(self, view_id: str, *, whole_stack: bool = False) -> None:
        """The person closed ``view_id`` (or ``response_action: clear`` closed its stack): it leaves the stack."""
        view = self._views.get(view_id)
        if view is None:
            return
        stack = self._stacks.get(view["root_view_id"], [])
        if whole_stack or stack[-1:] != [view_id] or len(stack) <= 1:
            self._stacks.pop(view["root_view_id"], None)
        else:
            stack.pop()
        self._version += 1

    def answer_view(self, view_id: str, action: Mapping[str, Any]) -> list[str]:
        """Apply an app's answer to a ``view_submission`` of ``view_id`` as Slack does: ``update`` replaces the view,
        ``push`` stacks a new one, ``clear`` closes the stack; an empty answer closes the view (``errors`` leaves it
        open: the caller shows them). Returns the problems Slack would refuse the answer for (nothing applied)."""
        kind = action.get("response_action")
        view = self._views.get(view_id)
        if view is None:
            return [f"no view {view_id}"]
        if kind in ("update", "push"):
            problems = view_problems(action.get("view"), pointer="/view")
            if problems:
                self.invalid.extend((f"response_action {kind}", p) for p in problems)
                return problems
            sent = dict(action["view"])
            self.check_renderable(f"response_action {kind}", list(sent["blocks"]))
            if kind == "update":
                self._store_view(
                    sent,
                    view_id=view_id,
                    root_view_id=view["root_view_id"],
                    previous_view_id=view["previous_view_id"],
                )
            else:
                stack = self._stacks.get(view["root_view_id"], [])
                if len(stack) >= VIEW_STACK_MAX:
                    return ["push_limit_reached"]
                new_id = self._new_view_id()
                self._store_view(sent, view_id=new_id, root_view_id=stack[0], previous_view_id=stack[-1])
                stack.append(new_id)
        elif kind == "clear":
            self.close_view(view_id, whole_stack=True)
        elif kind != "errors":
            self.close_view(view_id)
        self._version += 1
        return []

    async def touch(self) -> None:
        """Wake whoever waits on :meth:`changed_since` (state changed outside a Web API call)."""
        await self._notify()

    def home(self, user_id: str) -> JSONDict | None:
        """The home tab view published for ``user_id`` (a copy), or None."""
        view_id = self._homes.get(user_id)
        return copy.deepcopy(self._views[view_id]) if view_id is not None else None

    def ephemerals_for(self, user_id: str, channel: str) -> list[JSONDict]:
        """The ephemeral messages ``user_id`` was shown in ``channel``, oldest first (copies)."""
        return [copy.deepcopy(e) for e in self.ephemerals if e.get("user") == user_id and e.get("channel") == channel]

    def age_trigger(self, trigger_id: str, seconds: float) -> None:
        """Pretend ``trigger_id`` was issued ``seconds`` earlier than it was (to test expiry without sleeping)."""
        self._triggers[trigger_id].issued_at -= seconds

    def new_response_url(
        self, *, channel: str | None = None, user_id: str | None = None, message_ts: str | None = None
    ) -> str:
        """A response URL on this server; give it to a request builder's ``response_url``. Given the ``channel``
        and ``user_id`` of the interaction (and ``message_ts``, the message it came from), posts to it act as
        Slack's do: shown to that user only (``ephemeral``, the default), posted to the channel (``in_channel``),
        or replacing / deleting the original message (``replace_original``, ``delete_original``); without them a
        post is only recorded."""
        hook_id = secrets.token_urlsafe(16)
        self._response_urls[hook_id] = _ResponseUrl(
            issued_at=self._clock(), channel=channel, user_id=user_id, message_ts=message_ts
        )
        return f"{self.base_url}/hooks/{hook_id}"

    # --- faults --------------------------------------------------------------------------------------------------

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer HTTP 429 with ``Retry-After: retry_after`` and
        ``{"ok": false, "error": "ratelimited"}``; they are recorded in ``rate_limited_calls``, not ``calls``."""
        self._faults.setdefault(method, []).append(
            _Fault(times, 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})
        )

    def fail(self, method: str, error: str = "fatal_error", times: int = 1, status: int = 200) -> None:
        """The next ``times`` calls of ``method`` answer ``{"ok": false, "error": error}`` with HTTP ``status``
        (recorded in ``calls``; nothing is changed)."""
        self._faults.setdefault(method, []).append(_Fault(times, status, {"ok": False, "error": error}, {}))

    def _take_fault(self, method: str) -> _Fault | None:
        faults = self._faults.get(method)
        if not faults:
            return None
        fault = faults[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            faults.pop(0)
        return fault

    # --- HTTP: Web API -------------------------------------------------------------------------------------------

    async def _read_args(self, request: web.Request) -> JSONDict:
        args: JSONDict = dict(request.query.items())
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    args.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    args[key] = value if isinstance(value, str) else f"<file {getattr(value, 'filename', '')}>"
        for key in _JSON_ARGS:
            if isinstance(args.get(key), str):
                with contextlib.suppress(ValueError):
                    args[key] = json.loads(args[key])
        return args

    def _token(self, request: web.Request, args: JSONDict) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            args.pop("token", None)
            return header.removeprefix("Bearer ").strip()
        token = args.pop("token", None)
        return str(token) if token is not None else None

    def _check_token(self, method: str, token: str | None) -> None:
        if method in _NO_AUTH_METHODS:
            return
        if not token:
            raise SlackError("not_authed")
        wanted, other = (
            (self.app_token, self.bot_token) if method in _APP_TOKEN_METHODS else (self.bot_token, self.app_token)
        )
        if token == other:
            raise SlackError("not_allowed_token_type")
        if token != wanted:
            raise SlackError("invalid_auth")

    async def _on_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        args = await self._read_args(request)
        token = self._token(request, args)
        fault = self._take_fault(method)
        if fault is not None and fault.status == 429:
            self.rate_limited_calls.append(Call(method, args, self._clock(), token, fault.body, 429))
            await self._notify()
            return web.json_response(fault.body, status=429, headers=fault.headers)

        status = 200
        try:
            handler = self._handlers.get(method)
            if handler is None:
                raise SlackError("unknown_method", req_method=method)
            self._check_token(method, token)
            if fault is not None:
                status = fault.status
                raise SlackError(str(fault.body["error"]))
            body = handler(args)
        except SlackError as e:
            body = e.body()
        self._calls.append(Call(method, args, self._clock(), token, body, status))
        if not body.get("ok"):
            log.debug("stand-in %s -> %s", method, body)
        await self._notify()
        return web.json_response(body, status=status, headers=fault.headers if fault is not None else None)

    # --- helpers for handlers ------------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        micros = max(int(self._clock() * 1_000_000), self._last_ts_micros + 1)
        self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _reject(self, method: str, problems: list[str], code: str, **extra: Any) -> SlackError:
        for problem in problems:
            self.invalid.append((method, problem))
        messages = [f"[ERROR] {p}" for p in problems]
        return SlackError(code, **extra, response_metadata={"messages": messages})

    def _checked_blocks(self, method: str, args: JSONDict) -> list[Any] | None:
        if "blocks" not in args:
            return None
        blocks = args["blocks"]
        if isinstance(blocks, str):
            raise self._reject(method, ["blocks is not valid JSON [json-pointer:/blocks]"], "invalid_blocks_format")
        problems = block_problems(blocks)
        if problems:
            code = "only_one_table_allowed" if any("only one table" in p for p in problems) else "invalid_blocks"
            raise self._reject(method, problems, code, errors=problems)
        assert isinstance(blocks, list)
        self.check_renderable(method, blocks)
        return blocks

    def check_renderable(self, method: str, blocks: list[Any]) -> None:
        """Record the kinds the playground's page has no renderer for (Slack itself would show them); ``method``
        names where the blocks came from (a Web API method, ``response_url``, or an app's HTTP answer)."""
        self.unrendered.extend((method, kind) for kind in sorted(unrendered(blocks)))

    def _channel(self, args: JSONDict) -> str:
        channel = str(args.get("channel") or "")
        if not channel or (self.channels is not None and channel not in self.channels):
            raise SlackError("channel_not_found")
        return channel

    def _stored(self, channel: str, ts: str) -> JSONDict:
        message = self._messages.get(channel, {}).get(ts)
        if message is None:
            raise SlackError("message_not_found")
        return message

    def _workspace(self) -> str:
        return (self.workspace_url or f"https://{self.team_domain}.slack.com").rstrip("/")

    def _bot_profile(self) -> JSONDict:
        return {
            "id": self.bot_id,
            "app_id": self.app_id,
            "name": self.bot_name,
            "icons": {"image_48": "https://a.slack-edge.com/80588/img/plugins/app/bot_48.png"},
            "deleted": False,
            "updated": 1700000000,
            "team_id": self.team_id,
        }

    # --- methods -------------------------------------------------------------------------------------------------

    def _api_test(self, args: JSONDict) -> JSONDict:
        return {"ok": True, "args": args}

    def _auth_test(self, args: JSONDict) -> JSONDict:
        return {
            "ok": True,
            "url": f"{self._workspace()}/",
            "team": "VPN Ops (stand-in)",
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: JSONDict) -> JSONDict:
        channel = self._channel(args)
        blocks = self._checked_blocks("chat.postMessage", args)
        text = args.get("text")
        if not text and not blocks and not args.get("attachments"):
            raise SlackError("no_text")
        if text and len(str(text)) > MESSAGE_MAX_TEXT:
            raise SlackError("msg_too_long")
        ts = self._next_ts()
        message: JSONDict = {
            "user": self.bot_user_id,
            "type": "message",
            "ts": ts,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "text": str(text or ""),
            "team": self.team_id,
            "bot_profile": self._bot_profile(),
        }
        if blocks:
            message["blocks"] = _with_ids(blocks)
        if args.get("attachments"):
            message["attachments"] = copy.deepcopy(args["attachments"])
        thread_ts = args.get("thread_ts")
        if thread_ts:
            message["thread_ts"] = str(thread_ts)
            parent = self._messages.get(channel, {}).get(str(thread_ts))
            if parent is not None:
                message["parent_user_id"] = parent["user"]
                parent["thread_ts"] = parent["ts"]
                parent["reply_count"] = int(parent.get("reply_count", 0)) + 1
                parent["reply_users"] = sorted({*parent.get("reply_users", []), self.bot_user_id})
                parent["reply_users_count"] = len(parent["reply_users"])
                parent["latest_reply"] = ts
        self._messages.setdefault(channel, {})[ts] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": copy.deepcopy(message)}

    def _chat_update(self, args: JSONDict) -> JSONDict:
        channel = self._channel(args)
        message = self._stored(channel, str(args.get("ts") or ""))
        blocks = self._checked_blocks("chat.update", args)
        if "text" not in args and blocks is None and "attachments" not in args:
            raise SlackError("no_text")
        if "text" in args:
            message["text"] = str(args["text"] or "")
        if blocks is not None:  # absent: the previous blocks stay; [] removes them
            if blocks:
                message["blocks"] = _with_ids(blocks)
            else:
                message.pop("blocks", None)
        if "attachments" in args:
            message["attachments"] = copy.deepcopy(args["attachments"])
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        reply = {k: copy.deepcopy(v) for k, v in message.items() if k not in ("ts", "edited", "bot_profile")}
        return {"ok": True, "channel": channel, "ts": message["ts"], "text": message["text"], "message": reply}

    def _chat_delete(self, args: JSONDict) -> JSONDict:
        channel = self._channel(args)
        ts = str(args.get("ts") or "")
        self._stored(channel, ts)
        del self._messages[channel][ts]
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_post_ephemeral(self, args: JSONDict) -> JSONDict:
        channel = self._channel(args)
        if not args.get("user"):
            raise SlackError("user_not_in_channel")
        blocks = self._checked_blocks("chat.postEphemeral", args)
        if not args.get("text") and not blocks and not args.get("attachments"):
            raise SlackError("no_text")
        ts = self._next_ts()
        self.ephemerals.append(
            {"channel": channel, "user": args["user"], "message_ts": ts, "text": args.get("text"), "blocks": blocks}
        )
        return {"ok": True, "message_ts": ts}

    def _chat_get_permalink(self, args: JSONDict) -> JSONDict:
        channel = self._channel(args)
        ts = str(args.get("message_ts") or "")
        message = self._stored(channel, ts)
        permalink = f"{self._workspace()}/archives/{channel}/p{ts.replace('.', '')}"
        if message.get("thread_ts") not in (None, ts):
            permalink += f"?thread_ts={message['thread_ts']}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": permalink}

    def _exchange_trigger(self, method: str, args: JSONDict) -> _Trigger:
        trigger_id = args.get("trigger_id")
        if not trigger_id:
            raise self._reject(method, ["missing required field: trigger_id"], "invalid_arguments")
        trigger = self._triggers.get(str(trigger_id))
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if self._clock() - trigger.issued_at > self.trigger_ttl:
            raise SlackError("expired_trigger_id")
        trigger.used = True
        return trigger

    def _checked_view(self, method: str, args: JSONDict) -> JSONDict:
        view = args.get("view")
        if isinstance(view, str) or view is None:
            raise self._reject(method, ["view must be a JSON object [json-pointer:/view]"], "invalid_arguments")
        problems = view_problems(view)
        if problems:
            raise self._reject(method, problems, "invalid_arguments")
        self.check_renderable(method, list(view["blocks"]))
        if len(json.dumps(view)) > VIEW_MAX_BYTES:
            raise self._reject(method, [f"view is larger than {VIEW_MAX_BYTES} bytes"], "view_too_large")
        assert isinstance(view, dict)
        external_id = view.get("external_id")
        if external_id:
            owner = next((v["id"] for v in self._views.values() if v.get("external_id") == external_id), None)
            if owner is not None and owner != args.get("view_id"):
                raise SlackError("duplicate_external_id")
        return view

    def _new_hash(self) -> str:
        return f"{int(self._clock())}.{secrets.token_urlsafe(6)}"

    def _store_view(self, sent: JSONDict, *, view_id: str, root_view_id: str, previous_view_id: str | None) -> JSONDict:
        view: JSONDict = {
            "id": view_id,
            "team_id": self.team_id,
            "type": sent["type"],
            "blocks": _with_ids(sent["blocks"]),
            "private_metadata": sent.get("private_metadata", ""),
            "callback_id": sent.get("callback_id", ""),
            "state": {"values": {}},
            "hash": self._new_hash(),
            "title": copy.deepcopy(sent.get("title")),
            "clear_on_close": bool(sent.get("clear_on_close", False)),
            "notify_on_close": bool(sent.get("notify_on_close", False)),
            "close": copy.deepcopy(sent.get("close")),
            "submit": copy.deepcopy(sent.get("submit")),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id,
            "app_id": self.app_id,
            "external_id": sent.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self._views[view_id] = view
        return copy.deepcopy(view)

    def _new_view_id(self) -> str:
        while True:
            view_id = "V" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(10))
            if view_id not in self._views:
                return view_id

    def _views_open(self, args: JSONDict) -> JSONDict:
        sent = self._checked_view("views.open", args)
        if sent.get("type") != "modal":
            raise self._reject(
                "views.open", ["views.open takes a modal view [json-pointer:/view/type]"], "invalid_arguments"
            )
        trigger = self._exchange_trigger("views.open", args)
        view_id = self._new_view_id()
        self._stacks[view_id] = [view_id]
        if trigger.user_id is not None:  # one modal stack a person: a new one takes the place of the last
            for root in [r for r, u in self._view_users.items() if u == trigger.user_id and r in self._stacks]:
                del self._stacks[root]
            self._view_users[view_id] = trigger.user_id
        return {
            "ok": True,
            "view": self._store_view(sent, view_id=view_id, root_view_id=view_id, previous_view_id=None),
        }

    def _views_push(self, args: JSONDict) -> JSONDict:
        sent = self._checked_view("views.push", args)
        trigger = self._exchange_trigger("views.push", args)
        view_id = self._new_view_id()
        parent = self._views.get(trigger.view_id or "")
        if parent is None:  # a trigger from outside a modal: the pushed view starts its own stack
            self._stacks[view_id] = [view_id]
            return {
                "ok": True,
                "view": self._store_view(sent, view_id=view_id, root_view_id=view_id, previous_view_id=None),
            }
        stack = self._stacks[parent["root_view_id"]]
        if len(stack) >= VIEW_STACK_MAX:
            raise SlackError("push_limit_reached")
        stored = self._store_view(sent, view_id=view_id, root_view_id=stack[0], previous_view_id=stack[-1])
        stack.append(view_id)
        return {"ok": True, "view": stored}

    def _views_update(self, args: JSONDict) -> JSONDict:
        view_id, external_id = args.get("view_id"), args.get("external_id")
        if not view_id and not external_id:
            raise self._reject("views.update", ["either view_id or external_id is required"], "invalid_arguments")
        current = (
            self._views.get(str(view_id))
            if view_id
            else next((v for v in self._views.values() if v.get("external_id") == external_id), None)
        )
        if current is None:
            raise SlackError("not_found")
        args = {**args, "view_id": current["id"]}
        sent = self._checked_view("views.update", args)
        given_hash = args.get("hash")
        if given_hash and given_hash != current["hash"]:
            raise SlackError("hash_conflict")
        sent = {**sent, "external_id": sent.get("external_id") or current.get("external_id", "")}
        stored = self._store_view(
            sent,
            view_id=current["id"],
            root_view_id=current["root_view_id"],
            previous_view_id=current["previous_view_id"],
        )
        return {"ok": True, "view": stored}

    def _views_publish(self, args: JSONDict) -> JSONDict:
        """``views.publish``: a ``home`` view for ``user_id``, replacing the one published before (whose ``hash``
        must match when given: ``hash_conflict``)."""
        user_id = str(args.get("user_id") or "")
        if not user_id:
            raise self._reject("views.publish", ["missing required field: user_id"], "invalid_arguments")
        if user_id not in self.users and not re.fullmatch(r"[UW][A-Z0-9]{2,}", user_id):
            raise SlackError("user_not_found")
        sent = self._checked_view("views.publish", args)
        if sent.get("type") != "home":
            raise self._reject(
                "views.publish", ["views.publish takes a home view [json-pointer:/view/type]"], "invalid_arguments"
            )
        previous = self._views.get(self._homes.get(user_id, ""))
        given_hash = args.get("hash")
        if given_hash and (previous is None or given_hash != previous["hash"]):
            raise SlackError("hash_conflict")
        view_id = previous["id"] if previous is not None else self._new_view_id()
        self._homes[user_id] = view_id
        return {
            "ok": True,
            "view": self._store_view(sent, view_id=view_id, root_view_id=view_id, previous_view_id=None),
        }

    def _usergroups_users_list(self, args: JSONDict) -> JSONDict:
        group = str(args.get("usergroup") or "")
        if group not in self.usergroups:
            raise SlackError("no_such_subteam")
        return {"ok": True, "users": list(self.usergroups[group])}

    def _users_info(self, args: JSONDict) -> JSONDict:
        user_id = str(args.get("user") or "")
        if user_id not in self.users and not re.fullmatch(r"[UW][A-Z0-9]{2,}", user_id):
            raise SlackError("user_not_found")
        is_bot = user_id == self.bot_user_id
        name = self.bot_name if is_bot else user_id.lower()
        real_name = self.bot_name if is_bot else f"User {user_id}"
        user: JSONDict = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": False,
            "color": "9f69e7",
            "real_name": real_name,
            "tz": "Asia/Shanghai",
            "tz_label": "China Standard Time",
            "tz_offset": 28800,
            "profile": {
                "real_name": real_name,
                "display_name": name,
                "real_name_normalized": real_name,
                "display_name_normalized": name,
                "email": None if is_bot else f"{name}@example.com",
                "team": self.team_id,
            },
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": 1700000000,
        }
        overrides = self.users.get(user_id, {})
        profile = {**user["profile"], **overrides.get("profile", {})}
        user.update({k: v for k, v in overrides.items() if k != "profile"})
        user["profile"] = profile
        return {"ok": True, "user": user}

    def _apps_connections_open(self, args: JSONDict) -> JSONDict:
        ticket = uuid.uuid4().hex
        self._tickets[ticket] = False
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket?ticket={ticket}&app_id={self.app_id}"}

    # --- HTTP: response URLs -------------------------------------------------------------------------------------

    async def _on_response_url(self, request: web.Request) -> web.StreamResponse:
        hook = self._response_urls.get(request.match_info["hook_id"])
        if hook is None:
            return web.Response(status=404, text="no_service")
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        args: JSONDict = body if isinstance(body, dict) else {"body": body}
        expired = self._clock() - hook.issued_at > RESPONSE_URL_TTL
        used_up = hook.posts >= RESPONSE_URL_MAX_POSTS
        status, text = (404, "expired_url") if expired else (404, "used_url") if used_up else (200, "ok")
        if status == 200:
            hook.posts += 1
            if "blocks" in args:
                problems = block_problems(args["blocks"])
                if problems:
                    self.invalid.extend(("response_url", p) for p in problems)
                    status, text = 400, "invalid_blocks"
                else:
                    self.check_renderable("response_url", list(args["blocks"]))
            if status == 200 and hook.channel is not None and hook.user_id is not None:
                self.show_response(args, channel=hook.channel, user_id=hook.user_id, message_ts=hook.message_ts)
        self._calls.append(Call("response_url", args, self._clock(), None, {"ok": status == 200, "text": text}, status))
        await self._notify()
        return web.Response(status=status, text=text)

    def show_response(
        self, args: Mapping[str, Any], *, channel: str, user_id: str, message_ts: str | None = None
    ) -> None:
        """Show a response as Slack does for a response URL post or a slash command's acknowledgement body: to
        ``user_id`` only (``ephemeral``, the default), in the channel (``in_channel``), or replacing / deleting the
        message ``message_ts`` it came from. The caller has validated its blocks."""
        args = dict(args)
        original = self._messages.get(channel, {}).get(message_ts or "")
        if args.get("delete_original") in (True, "true") and original is not None:
            del self._messages[channel][original["ts"]]
            return
        if args.get("replace_original") in (True, "true") and original is not None:
            original["text"] = str(args.get("text") or "")
            if args.get("blocks"):
                original["blocks"] = _with_ids(args["blocks"])
            else:
                original.pop("blocks", None)
            original["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
            return
        if args.get("response_type") == "in_channel":
            with contextlib.suppress(SlackError):
                self._chat_post_message({**args, "channel": channel})
            return
        self.ephemerals.append(
            {
                "channel": channel,
                "user": user_id,
                "message_ts": self._next_ts(),
                "text": args.get("text"),
                "blocks": args.get("blocks"),
            }
        )

    # --- Socket Mode ---------------------------------------------------------------------------------------------

    async def _on_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if self._tickets.get(ticket, True):
            return web.Response(status=401, text="invalid or used ticket")
        self._tickets[ticket] = True
        ws = web.WebSocketResponse(autoping=True)  # answers the client's pings with pongs
        await ws.prepare(request)
        conn = SocketConnection(id=len(self.connections) + 1, ticket=ticket, opened_at=self._clock())
        self.connections.append(conn)
        self._sockets[conn.id] = ws
        try:
            await ws.send_json(
                {
                    "type": "hello",
                    "num_connections": len(self._sockets),
                    "debug_info": {
                        "host": "applink-standin-1",
                        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self._clock())),
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": self.app_id},
                }
            )
            await self._notify()
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    log.warning("stand-in socket %s: not JSON: %r", conn.id, msg.data)
                    continue
                if not isinstance(data, dict):
                    continue
                conn.received.append(data)
                envelope_id = data.get("envelope_id")
                if envelope_id:
                    ack = Ack(str(envelope_id), data.get("payload"), self._clock(), conn.id, data)
                    self.acks.append(ack)
                    future = self._pending_acks.get(str(envelope_id))
                    if future is not None and not future.done():
                        future.set_result(ack)
                await self._notify()
        finally:
            conn.closed_at = self._clock()
            self._sockets.pop(conn.id, None)
            await self._notify()
        return ws

    @property
    def open_connections(self) -> list[SocketConnection]:
        return [c for c in self.connections if c.id in self._sockets]

    async def wait_for_connection(self, timeout: float = 5.0) -> SocketConnection:  # noqa: ASYNC109
        """The newest open Socket Mode connection, waiting up to ``timeout`` for one (``TimeoutError``)."""
        await self.wait_until(lambda: bool(self._sockets), timeout, "a Socket Mode connection")
        return self.open_connections[-1]

    async def wait_for_disconnect(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until no Socket Mode connection is open (``TimeoutError`` after ``timeout`` seconds)."""
        await self.wait_until(lambda: not self._sockets, timeout, "every Socket Mode connection closed")

    async def send_envelope(
        self,
        type_: str,
        payload: Mapping[str, Any],
        accepts_response_payload: bool = True,
        timeout: float = 5.0,  # noqa: ASYNC109 - Slack-like ack deadline, part of the contract
    ) -> JSONDict:
        """Deliver ``payload`` in a Socket Mode envelope of ``type_`` (``slash_commands``, ``interactive``,
        ``events_api``) on the newest open connection, waiting for one; return the app's ack as sent
        (``{"envelope_id": ..., "payload": {...}?}``). ``TimeoutError`` if there is no connection or no ack within
        ``timeout`` seconds in total -- Slack's own limit for an ack is 3 s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        conn = await self.wait_for_connection(timeout)
        ws = self._sockets[conn.id]
        envelope: JSONDict = {
            "envelope_id": str(uuid.uuid4()),
            "type": type_,
            "payload": copy.deepcopy(dict(payload)),
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        future: asyncio.Future[Ack] = loop.create_future()
        self._pending_acks[envelope["envelope_id"]] = future
        self.envelopes.append(envelope)
        try:
            await ws.send_str(json.dumps(envelope))
            ack = await asyncio.wait_for(future, max(deadline - loop.time(), 0.0))
        except TimeoutError:
            raise TimeoutError(f"no ack for {type_} envelope {envelope['envelope_id']} within {timeout}s") from None
        finally:
            self._pending_acks.pop(envelope["envelope_id"], None)
        return copy.deepcopy(ack.message)

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Send Slack's ``disconnect`` message on every open connection (the app is expected to reconnect)."""
        for ws in list(self._sockets.values()):
            await ws.send_json({"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-standin-1"}})
