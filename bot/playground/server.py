"""The page's server: the static page, its JSON API, and server-sent events when anything may have changed.

Loopback only, and only for pages it served itself: a request whose ``Host`` is not the playground's own address
is refused (a web page elsewhere cannot reach it by DNS rebinding), and every ``POST`` must be JSON (a page of
another origin cannot send that without a CORS preflight, which is never granted). The API is the contract of
``page/playground.js``; see its routes below.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import quote

import httpx
from aiohttp import web

from bot.playground.workspace import REQUESTER, PlaygroundError, Workspace

log = logging.getLogger(__name__)

PAGE_FILES: Final = MappingProxyType(
    {
        "/": ("index.html", "text/html"),
        "/playground.js": ("playground.js", "text/javascript"),
        "/playground.css": ("playground.css", "text/css"),
    }
)
EVENT_KEEPALIVE_SECONDS: Final = 15.0
EVENT_CHECK_SECONDS: Final = 0.5  # how soon an event stream notices the server is stopping
MAX_BODY_BYTES: Final = 256 * 1024
SECURITY_HEADERS: Final = MappingProxyType(
    {
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data: https:; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Connection:
    """A connection the Peer panel can pick."""

    id: str
    name: str


@dataclass
class PageServer:
    """The routes of the page. ``sim_url`` is the simulator's base URL, for ``/_sim/peers`` (the Peer panel)."""

    workspace: Workspace
    sim_url: str
    connections: tuple[Connection, ...]
    http: httpx.AsyncClient

    def __post_init__(self) -> None:
        self._stopping = asyncio.Event()

    def application(self, allowed_hosts: Callable[[], set[str]]) -> web.Application:
        """The aiohttp application; ``allowed_hosts()`` gives the ``Host`` values it answers (known once bound)."""
        app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[_guard(allowed_hosts)])
        app.on_response_prepare.append(_secure)
        app.on_shutdown.append(self._stop_streams)
        for path in PAGE_FILES:
            app.router.add_get(path, self.page_file)
        app.router.add_get("/archives/{channel}/{ts}", self.permalink)
        app.router.add_get("/api/state", self.state)
        app.router.add_get("/api/events", self.events)
        app.router.add_post("/api/command", self.command)
        app.router.add_post("/api/action", self.action)
        app.router.add_post("/api/submit", self.submit)
        app.router.add_post("/api/close", self.close)
        app.router.add_post("/api/home", self.home)
        app.router.add_get("/api/peer/{conn}", self.peer)
        app.router.add_post("/api/peer/{conn}", self.peer)
        return app

    async def page_file(self, request: web.Request) -> web.Response:
        name, content_type = PAGE_FILES[request.path]
        text = resources.files("bot.playground").joinpath("page", name).read_text(encoding="utf-8")
        return web.Response(text=text, content_type=content_type, charset="utf-8")

    async def permalink(self, request: web.Request) -> web.Response:
        """A permalink the bot got from ``chat.getPermalink``: the page, scrolled to that message."""
        digits = request.match_info["ts"].removeprefix("p")
        ts = f"{digits[:-6]}.{digits[-6:]}" if digits.isdigit() and len(digits) > 6 else ""
        user = request.query.get("user", "")
        target = f"/?user={quote(user)}#msg-{ts}" if user else f"/#msg-{ts}"
        raise web.HTTPFound(target)

    async def state(self, request: web.Request) -> web.Response:
        user = request.query.get("user") or REQUESTER.id
        try:
            state = self.workspace.state(user)
        except PlaygroundError as error:
            return _error(400, str(error))
        state["connections"] = [{"id": c.id, "name": c.name} for c in self.connections]
        return web.json_response(state)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """``event: changed`` whenever the stand-in's state may have changed; a comment line as a keep-alive."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        slack = self.workspace.slack
        seen = slack.version
        await response.write(f"event: changed\ndata: {json.dumps({'version': seen})}\n\n".encode())
        quiet = 0.0
        try:
            while not self._stopping.is_set():
                if request.transport is None or request.transport.is_closing():
                    break  # the client left: its handler ends now, not at the next write
                now = await slack.changed_since(seen, EVENT_CHECK_SECONDS)
                if now != seen:
                    seen, quiet = now, 0.0
                    await response.write(f"event: changed\ndata: {json.dumps({'version': now})}\n\n".encode())
                    continue
                quiet += EVENT_CHECK_SECONDS
                if quiet >= EVENT_KEEPALIVE_SECONDS:
                    quiet = 0.0
                    await response.write(b": keep-alive\n\n")
        except ConnectionResetError:
            pass
        return response

    async def _stop_streams(self, app: web.Application) -> None:
        """Stopping: the event streams end now, not when the server's shutdown timeout would cancel them."""
        self._stopping.set()

    async def command(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        return await _answer(self.workspace.command(_text(body, "user"), _text(body, "text")))

    async def action(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        return await _answer(self.workspace.action(_text(body, "user"), body))

    async def submit(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        values = body.get("values")
        if not isinstance(values, dict) or not all(
            isinstance(v, dict) and all(isinstance(s, dict) for s in v.values()) for v in values.values()
        ):
            return _error(400, "values: an object of block id -> action id -> state")
        return await _answer(self.workspace.submit(_text(body, "user"), _text(body, "view_id"), values))

    async def close(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        return await _answer(self.workspace.close(_text(body, "user"), _text(body, "view_id")))

    async def home(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        return await _answer(self.workspace.open_home(_text(body, "user")))

    async def peer(self, request: web.Request) -> web.Response:
        """The simulator's ``/_sim/peers/{conn}``, passed through (its answers name what is wrong)."""
        conn = request.match_info["conn"]
        if conn not in {c.id for c in self.connections}:
            return _error(404, "no such connection in the playground")
        url = f"{self.sim_url.rstrip('/')}/_sim/peers/{quote(conn)}"
        try:
            if request.method == "POST":
                answer = await self.http.post(url, json=await _json_body(request), timeout=10.0)
            else:
                answer = await self.http.get(url, timeout=10.0)
        except httpx.HTTPError as error:
            return _error(502, f"the simulator did not answer ({type(error).__name__})")
        await self.workspace.slack.touch()
        return web.Response(
            body=answer.content, status=answer.status_code, content_type="application/json", charset="utf-8"
        )


def _guard(allowed_hosts: Callable[[], set[str]]) -> Any:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.host not in allowed_hosts():
            return web.Response(status=421, text="this playground answers only on its own loopback address")
        if request.method == "POST" and request.content_type != "application/json":
            return _error(415, "the playground's API takes application/json")
        try:
            return await handler(request)
        except _RefusedError as refused:
            return _error(refused.status, refused.message)

    return guard


async def _secure(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)


class _RefusedError(Exception):
    """A request the API refuses; the guard answers it as ``{"ok": false, "error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _RefusedError(413, f"the body is larger than {MAX_BODY_BYTES} bytes") from None
    try:
        body = json.loads(raw.decode("utf-8"))  # JSON is UTF-8 (RFC 8259 8.1), whatever charset is declared
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise _RefusedError(400, "the body is not JSON") from None
    except RecursionError:
        raise _RefusedError(400, "the body is not JSON the playground reads (nested too deep)") from None
    if not isinstance(body, dict):
        raise _RefusedError(400, "the body is not a JSON object")
    return body


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise _RefusedError(400, f"{key}: a non-empty string is needed")
    return value


async def _answer(work: Awaitable[dict[str, Any]]) -> web.Response:
    try:
        return web.json_response(await work)
    except PlaygroundError as error:
        return _error(400, str(error))


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)


__all__ = ["Connection", "PageServer"]
