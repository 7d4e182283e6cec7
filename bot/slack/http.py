"""The HTTP front of ``vpnbot serve``: the aiohttp app that serves ``POST /slack/events`` and ``GET /healthz``.

Why not Bolt's own ``app.web_app()``: its adapter decodes, parses and indexes the body before anything is checked,
and whatever it trips on (a body that is not UTF-8, ``payload=`` that is not a JSON object, a timestamp that is not
a number, ``actions: []``, ``user: 5``, JSON nested 100,000 deep) becomes a 500 with a traceback. Slack shows its
user an error either way, but a 5xx says "the server is broken", pages someone, and the traceback fills the log.

What every request to ``/slack/events`` gets, in this order (a caller may rely on each):

1. **413** when the body is over :data:`MAX_BODY_BYTES`, before it is read (Slack's payloads are far smaller).
2. **200**, empty, for Slack's ``ssl_check`` (``ssl_check=1``, form-encoded): Slack sends it unsigned, and Bolt
   answers it before verifying anything; answering it here keeps that and nothing of it reaches a listener.
3. **401** ``{"error": "invalid request"}`` (Bolt's answer) unless the request is signed with the signing secret
   (``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{raw body}``) and the timestamp is a whole number of seconds within
   :data:`SIGNATURE_MAX_AGE` of now. Checked over the raw bytes, before the body is decoded: beyond the
   ssl_check test, nothing an unauthenticated sender wrote is parsed, and nothing of it is logged.
4. **400** ``{"error": "invalid_request", "reason": ...}`` when a signed body is not a request Slack sends: not
   UTF-8, not the form or JSON it claims to be, a repeated key (at any depth), a ``payload`` that is not a JSON
   object, an unknown payload type, or a field that Bolt reads before any listener runs missing or of another type
   than Slack documents (:func:`payload_problem` lists them).
5. Otherwise Bolt's own answer (``app.async_dispatch``): url_verification, routing, acks, 404 for what no
   listener takes, and the retry headers (``X-Slack-Retry-Num``/``-Reason``) passed through untouched.

Each refusal (413, 401, 400) is one WARNING line on ``bot.slack.http`` naming the reason and the size, never the
body (a view submission holds a new pre-shared key) and never a traceback; so is HTTP that aiohttp itself refuses
as malformed (a bad request line, header or chunk: 400), which aiohttp would log at ERROR with a traceback.

Bolt is handed the body as parsed here and never parses a request itself. That also mends its parser's reading of
any form body with the word "payload" in it (a slash command typed in ``#payload-team``) as an interaction with no
payload, which it routed nowhere (404).

Listeners get the fields in 4 with the types Slack documents; everything else in a payload (``view.state``,
``private_metadata``, ``actions[].value``, ...) is theirs to check.

``GET /healthz``: 200 ``{"ok": true}`` while the store can be written, else 503 ``{"ok": false, "reason": ...}``
with :attr:`bot.store.Store.fault`'s words, so a load balancer or orchestrator stops sending work to a bot that
cannot persist a decision.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.slack.context import BotContext

__all__ = [
    "EVENTS_PATH",
    "HEALTH_PATH",
    "MAX_BODY_BYTES",
    "SIGNATURE_MAX_AGE",
    "BadRequestError",
    "parse_body",
    "payload_problem",
    "serving",
    "signature_problem",
    "web_app",
]

log = logging.getLogger(__name__)

EVENTS_PATH: Final = "/slack/events"
HEALTH_PATH: Final = "/healthz"
MAX_BODY_BYTES: Final = 1024 * 1024
"""aiohttp's ``client_max_size``. A view submission of the edit form (every field at Slack's 3,000 characters,
URL-encoded) or a click on the largest card stays well under 1 MiB; nothing larger comes from Slack."""
SIGNATURE_MAX_AGE: Final = 295
"""Seconds a signature's timestamp may be from now. Slack's rule (and Bolt's check after this one) is 300; five
seconds less, so Bolt never refuses what was let through here (it would log the whole body, pre-shared key and
all, at INFO)."""
MAX_FORM_FIELDS: Final = 100  # a slash command has about 15
MAX_NESTING: Final = 16  # of the objects Bolt looks into recursively (event, message, ...); Slack's go 3 deep

_TIMESTAMP_DIGITS: Final = 11
_SIGNATURE_LENGTH: Final = len("v0=") + 64
_JSON: Final = "application/json"
_UNAUTHORIZED: Final = {"error": "invalid request"}  # Bolt's own 401 body

# The interactive payload types Slack sends to the request URL, and what each must carry for Bolt to route it.
_INTERACTIVE: Final = frozenset(
    {
        "block_actions",
        "block_suggestion",
        "view_submission",
        "view_closed",
        "shortcut",
        "message_action",
        "interactive_message",
        "dialog_submission",
        "dialog_cancellation",
        "dialog_suggestion",
        "workflow_step_edit",
    }
)
_NEEDS_CALLBACK_ID: Final = frozenset(
    {
        "shortcut",
        "message_action",
        "interactive_message",
        "dialog_submission",
        "dialog_cancellation",
        "dialog_suggestion",
        "workflow_step_edit",
    }
)
_EVENTS_API: Final = frozenset({"event_callback", "url_verification", "app_rate_limited"})
# Objects Bolt reads an id from ("id" in it, then .get): absent, null, a string, or an object with a string id.
_ID_HOLDERS: Final = ("enterprise", "team", "user", "channel")
# Objects Bolt's context builder descends into, reading the same fields again.
_NESTED: Final = ("event", "message", "previous_message", "item", "assistant_thread")


class BadRequestError(ValueError):
    """A signed body this front will not hand to Bolt; ``str(error)`` is the reason (of the body's values it
    quotes at most an unknown payload type, cut to 40 characters)."""


# --- the checks, in the order they run ---------------------------------------------------------------------------


def signature_problem(
    secret: str,
    body: bytes,
    timestamps: Sequence[str],
    signatures: Sequence[str],
    *,
    now: float,
    max_age: float = SIGNATURE_MAX_AGE,
) -> str | None:
    """Why the request is not signed with ``secret`` (None when it is). ``timestamps`` and ``signatures`` are every
    value of ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` sent; a repeated header is refused, since Bolt
    and this check might each read another of the copies."""
    if not timestamps or not signatures:
        return "no signature"
    if len(timestamps) > 1 or len(signatures) > 1:
        return "a repeated signature header"
    timestamp, signature = timestamps[0], signatures[0]
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= _TIMESTAMP_DIGITS):
        return "the timestamp is not a number of seconds"
    if abs(now - int(timestamp)) > max_age:
        return "the timestamp is not within five minutes of now"
    if len(signature) != _SIGNATURE_LENGTH or not signature.isascii() or not signature.startswith("v0="):
        return "a malformed signature"
    expected = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(("v0=" + expected).encode(), signature.encode()):
        return "a wrong signature"
    return None


def parse_body(text: str, content_type: str | None) -> dict[str, Any]:
    """The request as Bolt routes it: the JSON object of an Events API body (``application/json``, or any body
    starting with ``{``, as Bolt decides), the JSON object in an interaction's ``payload`` field, or a slash
    command's (or ssl_check's) form fields. BadRequestError when it is none of these."""
    if not text:
        raise BadRequestError("an empty body")
    if content_type == _JSON or text.startswith("{"):
        return _json_object(text, "the JSON body")
    form = _form(text)
    if "payload" in form:
        return _json_object(form["payload"], "the payload field")
    if "command" in form or "ssl_check" in form:
        return form
    raise BadRequestError("a form that is neither a slash command nor an interaction")


def payload_problem(body: Mapping[str, Any]) -> str | None:
    """What in a parsed request Bolt would trip on before any listener runs (None: nothing). Every field Bolt
    reads to route a request or build its context must have the type Slack documents for it:

    * ``enterprise``, ``team``, ``user``, ``channel``: absent, null, a string, or an object whose ``id`` (if any)
      is a string or null; ``authorizations``: a list of such objects; ``response_url``: a string;
      ``response_urls``: a list of objects; the same again inside ``event``, ``message``, ``previous_message``,
      ``item`` and ``assistant_thread`` when they are objects (at most :data:`MAX_NESTING` deep);
    * a slash command: ``command`` (a string, as every form field is);
    * an interaction: ``type`` one of Slack's interactive payload types; ``user`` an object and ``channel`` an
      object or null when present (there Slack never sends them as strings); ``block_actions``: ``actions``, a
      non-empty list of objects each with a string ``action_id`` (``interactive_message``: of objects);
      ``block_suggestion``: a string ``action_id``; ``view_submission``/``view_closed``: ``view``, an object with
      a string ``callback_id`` and ``type`` (and ``workflow_step`` beside it for a workflow step's view); the
      other types: a string ``callback_id`` (and ``workflow_step`` for ``workflow_step_edit``);
    * an Events API body: ``type`` one of ``event_callback``, ``url_verification``, ``app_rate_limited``;
      ``event_callback``: ``event``, an object with a string ``type``.
    """
    problem = _envelope_problem(body, MAX_NESTING)
    if problem is not None:
        return problem
    if "command" in body or "ssl_check" in body:
        return None if isinstance(body.get("command", ""), str) else "command is not a string"
    kind = body.get("type")
    if not isinstance(kind, str):
        return "no payload type"
    if kind in _EVENTS_API:
        event = body.get("event")
        if kind == "event_callback" and not (isinstance(event, dict) and isinstance(event.get("type"), str)):
            return "an event_callback without an event type"
        return None
    if kind not in _INTERACTIVE:
        return f"an unknown payload type {_quoted(kind)}"
    if not isinstance(body.get("user", {}), dict) or not isinstance(body.get("channel") or {}, dict):
        return f"a {kind} payload whose user or channel is not an object"
    if kind in ("block_actions", "interactive_message"):
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions:
            return f"a {kind} payload without actions"
        if not all(isinstance(a, dict) for a in actions):
            return f"a {kind} payload whose actions are not all objects"
        if kind == "block_actions" and not all(isinstance(a.get("action_id"), str) for a in actions):
            return "a block_actions action without a string action_id"
    if kind == "block_suggestion" and not isinstance(body.get("action_id"), str):
        return "a block_suggestion without a string action_id"
    if kind in ("view_submission", "view_closed"):
        view = body.get("view")
        if not isinstance(view, dict):
            return f"a {kind} payload without a view object"
        if not isinstance(view.get("callback_id"), str) or not isinstance(view.get("type"), str):
            return f"a {kind} view without a string callback_id and type"
        if kind == "view_submission" and view["type"] == "workflow_step" and "workflow_step" not in body:
            return "a workflow step's view_submission without workflow_step"
    if kind in _NEEDS_CALLBACK_ID and not isinstance(body.get("callback_id"), str):
        return f"a {kind} payload without a string callback_id"
    if kind == "workflow_step_edit" and "workflow_step" not in body:
        return "a workflow_step_edit payload without workflow_step"
    return None


def _envelope_problem(node: Mapping[str, Any], depth: int) -> str | None:
    if depth <= 0:
        return "objects nested too deeply"
    for name in _ID_HOLDERS:
        value = node.get(name)
        if isinstance(value, dict):
            if not isinstance(value.get("id"), (str, type(None))):
                return f"{name}.id is not a string"
        elif value is not None and not isinstance(value, str):
            return f"{name} is neither an object nor a string"
    authorizations = node.get("authorizations")
    if authorizations is not None:
        if not isinstance(authorizations, list) or not all(isinstance(a, dict) for a in authorizations):
            return "authorizations is not a list of objects"
        for authorization in authorizations[:1]:
            problem = _envelope_problem(authorization, depth - 1)
            if problem is not None:
                return problem
    if "response_url" in node and not isinstance(node["response_url"], str):
        return "response_url is not a string"
    urls = node.get("response_urls")
    listed = isinstance(urls, list) and all(isinstance(u, dict) for u in urls)
    if "response_url" not in node and urls is not None and not listed:
        return "response_urls is not a list of objects"
    if "event" in node and not isinstance(node["event"], dict):
        return "event is not an object"
    for name in _NESTED:
        inner = node.get(name)
        if isinstance(inner, dict):
            problem = _envelope_problem(inner, depth - 1)
            if problem is not None:
                return problem
    return None


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError:
        raise BadRequestError(f"{what} is nested too deeply") from None
    except BadRequestError:
        raise
    except ValueError:
        raise BadRequestError(f"{what} is not JSON") from None
    if not isinstance(document, dict):
        raise BadRequestError(f"{what} is JSON {_json_kind(document)}, not an object")
    return document


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise BadRequestError("a JSON object with a repeated key")
    return document


def _no_constant(name: str) -> Any:
    raise BadRequestError(f"{name} is not JSON")


def _form(text: str) -> dict[str, str]:
    try:
        fields = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (ValueError, UnicodeDecodeError):
        raise BadRequestError("a body that is neither form-encoded nor JSON") from None
    form = dict(fields)
    if len(form) != len(fields):
        raise BadRequestError("a form with a repeated field")
    return form


def _json_kind(document: Any) -> str:
    if document is None:
        return "null"
    if isinstance(document, bool):
        return "true/false"
    if isinstance(document, list):
        return "an array"
    return "a string" if isinstance(document, str) else "a number"


def _quoted(value: str, limit: int = 40) -> str:
    return repr(value[:limit] + ("..." if len(value) > limit else ""))


# --- the aiohttp app ---------------------------------------------------------------------------------------------


def web_app(
    app: AsyncApp,
    ctx: BotContext,
    *,
    signing_secret: str,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """``POST /slack/events`` into ``app`` as described above, and ``GET /healthz`` from ``ctx.store``."""
    front = _SlackFront(app, signing_secret, clock)
    web_application = web.Application(client_max_size=MAX_BODY_BYTES)
    web_application.router.add_post(EVENTS_PATH, front.handle)

    async def healthz(request: web.Request) -> web.Response:
        fault = ctx.store.fault
        if fault is None:
            return web.json_response({"ok": True})
        return web.json_response({"ok": False, "reason": fault}, status=503)

    web_application.router.add_get(HEALTH_PATH, healthz)
    return web_application


@asynccontextmanager
async def serving(application: web.Application, host: str, port: int) -> AsyncIterator[str]:
    """``application`` listening on ``host:port`` (0: a free port) for the life of the block; the URL of its
    ``/slack/events`` (``0.0.0.0`` shown as ``127.0.0.1``)."""
    runner = web.AppRunner(application, access_log=None, handle_signals=False, logger=_ServerLog(log))
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1] if runner.addresses else port
        yield f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{bound}{EVENTS_PATH}"
    finally:
        await runner.cleanup()


class _ServerLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server log: a request aiohttp itself refuses as malformed HTTP (a bad request line, header or
    chunk; it answers 400 before any handler runs) is one line, where aiohttp would log it at ERROR with a
    traceback; everything else (a handler's unhandled exception above all) as aiohttp logs it."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        error = kwargs.get("exc_info")
        if isinstance(error, tuple):
            error = error[1]
        if isinstance(error, HttpProcessingError):
            remote = args[0] if args else "?"
            what = (error.message or type(error).__name__).splitlines()[0].rstrip(":")
            self.logger.log(
                min(level, logging.WARNING), "refused malformed HTTP with %d: %s (from %s)", error.code, what, remote
            )
            return
        super().log(level, msg, *args, **kwargs)


class _SlackFront:
    def __init__(self, app: AsyncApp, signing_secret: str, clock: Callable[[], float]) -> None:
        self._app = app
        self._secret = signing_secret
        self._clock = clock

    async def handle(self, request: web.Request) -> web.StreamResponse:
        declared = request.content_length
        if declared is not None and declared > MAX_BODY_BYTES:
            return _refused(request, 413, f"a body of {declared} bytes, over {MAX_BODY_BYTES}", declared)
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _refused(request, 413, f"a body over {MAX_BODY_BYTES} bytes", MAX_BODY_BYTES)
        content_type = _media_type(request.headers.get("Content-Type"))
        if b"ssl_check=" in raw and _is_ssl_check(raw, content_type):
            log.debug("answered Slack's ssl_check")
            return web.Response(status=200)
        headers = request.headers
        problem = signature_problem(
            self._secret,
            raw,
            headers.getall("X-Slack-Request-Timestamp", []),
            headers.getall("X-Slack-Signature", []),
            now=self._clock(),
        )
        if problem is not None:
            return _refused(request, 401, problem, len(raw))
        try:
            text = raw.decode("utf-8")
            body = parse_body(text, content_type)
            problem = payload_problem(body)
            if problem is not None:
                raise BadRequestError(problem)
            bolt_request = _bolt_request(request, text, body)
        except UnicodeDecodeError:
            return _refused(request, 400, "a body that is not UTF-8", len(raw))
        except BadRequestError as error:
            return _refused(request, 400, str(error), len(raw))
        bolt_response = await self._app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)


def _media_type(header: str | None) -> str | None:
    media = (header or "").split(";")[0].strip().lower()
    return media or None


def _is_ssl_check(raw: bytes, content_type: str | None) -> bool:
    if content_type == _JSON or raw.startswith(b"{"):
        return False
    try:
        return _form(raw.decode("utf-8")).get("ssl_check") == "1"
    except (UnicodeDecodeError, BadRequestError):
        return False


def _bolt_request(request: web.Request, text: str, body: dict[str, Any]) -> AsyncBoltRequest:
    """What ``slack_bolt.adapter.aiohttp.to_bolt_request`` makes, with the body parsed here instead of by Bolt.
    BadRequestError when Bolt cannot build its context from it (a safety net: ``payload_problem`` should have
    said so first)."""
    headers = {name: request.headers.getall(name) for name in request.headers}  # first value wins, as above
    bolt_request = AsyncBoltRequest(body="", query=request.query_string, headers=headers)  # type: ignore[arg-type]
    bolt_request.raw_body = text
    bolt_request.body = body
    try:
        bolt_request.context = build_async_context(AsyncBoltContext(), body)
    except Exception as error:  # whatever Bolt trips on here is the request's fault, not the server's
        raise BadRequestError(f"a request Bolt cannot read ({type(error).__name__})") from None
    return bolt_request


def _refused(request: web.Request, status: int, reason: str, size: int) -> web.Response:
    """One log line and the answer; a 413 also closes the connection (the rest of the body is not wanted)."""
    log.warning(
        "refused %s %s with %d: %s (%d bytes from %s)",
        request.method,
        request.path,
        status,
        reason,
        size,
        request.remote,
    )
    if status == 401:
        return web.json_response(_UNAUTHORIZED, status=401)
    if status == 413:
        response = web.json_response({"error": "request_too_large"}, status=413)
        response.force_close()
        return response
    return web.json_response({"error": "invalid_request", "reason": reason}, status=status)
