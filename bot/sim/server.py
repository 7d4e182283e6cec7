"""The simulator's HTTP: API 2.0 at ``/v2/index.php`` (``bot.sim.wire_v2``) and API 3.0 at ``/``
(``bot.sim.wire_v3``), both answered from one :class:`SimState`, so a change made through one dialect is visible
through the other; plus the control surface for out-of-process tests: ``GET /_sim/world`` (the world, SecretKeys
and the peers' keys masked, stored pre-shared keys shown, plus ``traffic``: arrivals, peak rates, rate-limit
refusals), ``POST /_sim/faults`` (a JSON object merged into the faults, ``rateLimits`` included),
``GET``/``POST /_sim/peers/{vpnConnId}`` (the other end of a tunnel, see :func:`handle_peer`), ``GET /healthz``.

Every request: its body is read, then it counts as arrived (``SimState.arrivals``, the peak rates); the wire
verifies it; the ``rateLimits`` apply; then the faults of the action (latency, HTTP 503, over-quota 4400 /
``RequestLimitExceeded``, failure rate 6000 / ``InternalError``); then the action runs. API errors answer HTTP 200
(only the injected fault answers 503) with ``Content-Type: application/json`` exactly (the official SDK
recognises an error only then). A client that goes away before its request arrived whole gets no answer
(``ConnectionResetError`` propagates); an unexpected exception answers an internal error, as the service would.

Logging (``bot.sim``, INFO): one line per request with the action, the code, the duration and the parameter
NAMES. No value is ever logged, and aiohttp's access log (which would show the query string) is off.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from bot.sim import wire_v2, wire_v3
from bot.sim.faults import InjectedFault
from bot.sim.model import WorldError
from bot.sim.peerfile import masked, patched, peer_json
from bot.sim.rules import shown
from bot.sim.tunnels import TunnelView
from bot.sim.wire_v2 import API_PATH, COMMON_PARAMS, NonceCache, V2Error
from bot.sim.wire_v3 import V3Error
from bot.sim.world import SimState
from bot.sim.worldfile import load_world

__all__ = ["API_PATH", "V3_PATH", "SimServer", "build_app", "run_forever"]

logger = logging.getLogger("bot.sim")

V3_PATH: Final = "/"
JSON_TYPE: Final = "application/json"
_UNAVAILABLE_PAGE: Final = (
    "<html><head><title>503 Service Temporarily Unavailable</title></head>"
    "<body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>"
)
_STATE_KEY: Final = web.AppKey("sim_state", SimState)
_NONCES_KEY: Final = web.AppKey("sim_nonces", NonceCache)


def json_response(document: Mapping[str, Any], status: int = 200) -> web.Response:
    """``document`` as UTF-8 JSON with ``Content-Type: application/json`` exactly (aiohttp's own
    ``json_response`` appends a charset, which makes the official SDK miss every error)."""
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return web.Response(status=status, body=body, headers={"Content-Type": JSON_TYPE})


def _unavailable() -> web.Response:
    return web.Response(status=503, body=_UNAVAILABLE_PAGE.encode(), headers={"Content-Type": "text/html"})


async def _suffer(state: SimState, action: str) -> InjectedFault:
    """Draw the fault of one request of ``action`` and wait its latency; the caller answers 503 or the error."""
    fault = state.draw_fault(action)
    if fault.latency > 0:
        await asyncio.sleep(fault.latency)
    return fault


def _log(action: str, code: str, started: float, names: str) -> None:
    logger.info("%s -> %s in %.3f s (params: %s)", action, code, time.perf_counter() - started, names or "none")


# --- API 2.0 ------------------------------------------------------------------------------------------------------


async def request_params(request: web.Request) -> dict[str, str]:
    """Every parameter: the query string, plus the form body of a POST; V2Error 4000 for a POST body that is not
    ``application/x-www-form-urlencoded`` or a parameter given twice."""
    pairs: MultiDict[str] = MultiDict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type != "application/x-www-form-urlencoded":
            raise V2Error(4000, "InvalidParameter", "POST bodies must be application/x-www-form-urlencoded")
        body: MultiDictProxy[str | Any] = await request.post()
        for name, value in body.items():
            if not isinstance(value, str):
                raise V2Error(4000, "InvalidParameter", f"{shown(name)}: file uploads are not accepted")
            pairs.add(name, value)
    params: dict[str, str] = {}
    for name, value in pairs.items():
        if name in params:
            raise V2Error(4000, "InvalidParameter", f"{shown(name)}: given more than once")
        params[name] = value
    return params


async def _answer_v2(state: SimState, nonces: NonceCache, request: web.Request, params: dict[str, str]) -> web.Response:
    host = request.headers.get("Host", "")
    action = wire_v2.authenticate(state, nonces, request.method, host, request.path, params)
    if not state.admit(params["SecretId"], action):
        raise wire_v2.fault_error(4400)
    fault = await _suffer(state, action)
    if fault.http_503:
        return _unavailable()
    if fault.code is not None:
        raise wire_v2.fault_error(fault.code)
    answer = wire_v2.run(state, action, {k: v for k, v in params.items() if k not in COMMON_PARAMS})
    return json_response({"code": 0, "message": "", "codeDesc": "Success", **answer})


async def handle_api(request: web.Request) -> web.Response:
    """``GET``/``POST /v2/index.php``: one API 2.0 call."""
    started = time.perf_counter()
    state = request.app[_STATE_KEY]
    action, names = "?", ""
    try:
        params = await request_params(request)
        action = shown(params.get("Action", "?"))
        state.arrived(action)
        names = ", ".join(shown(n) for n in sorted(params) if n not in COMMON_PARAMS)
        response = await _answer_v2(state, request.app[_NONCES_KEY], request, params)
        code = "0" if response.status == 200 else f"HTTP {response.status}"
    except V2Error as error:
        response, code = json_response(error.to_json()), str(error.code)
    except ConnectionResetError:
        raise
    except Exception as error:  # an answer, not a dropped connection: the client must see what a real 6000 looks like
        logger.error("%s failed inside the simulator: %s", action, type(error).__name__)
        response, code = json_response(wire_v2.fault_error(6000).to_json()), "6000"
    state.journal.append((action, code))
    _log(action, code, started, names)
    return response


# --- API 3.0 ------------------------------------------------------------------------------------------------------


async def _answer_v3(state: SimState, request: web.Request, request_id: str, names: list[str]) -> web.Response:
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise V3Error("RequestSizeLimitExceeded", "The request body is too large.") from None
    state.arrived(shown(request.headers.get("X-TC-Action") or "?"))
    host = request.headers.get("Host", "")
    action, secret_id = wire_v3.authenticate(state, request.method, host, request.headers, body)
    params = wire_v3.parse_body(body)
    names.extend(shown(name) for name in sorted(params))
    if not state.admit(secret_id, action):
        raise wire_v3.fault_error(4400)
    fault = await _suffer(state, action)
    if fault.http_503:
        return _unavailable()
    if fault.code is not None:
        raise wire_v3.fault_error(fault.code)
    answer = wire_v3.run(state, action, params, request_id)
    return json_response(wire_v3.success_body(answer, request_id))


async def handle_api_v3(request: web.Request) -> web.Response:
    """``POST /``: one API 3.0 call."""
    started = time.perf_counter()
    state = request.app[_STATE_KEY]
    request_id = state.request_id()
    action = shown(request.headers.get("X-TC-Action") or "?")
    names: list[str] = []  # the top-level parameter NAMES, once the body is read
    try:
        response = await _answer_v3(state, request, request_id, names)
        code = "0" if response.status == 200 else f"HTTP {response.status}"
    except V3Error as error:
        response, code = json_response(wire_v3.error_body(error, request_id)), error.code
    except ConnectionResetError:  # the client went away before its request arrived whole: nothing to answer
        raise
    except Exception as error:  # an answer, not a dropped connection, as on API 2.0
        logger.error("%s failed inside the simulator: %s", action, type(error).__name__)
        internal = wire_v3.fault_error(6000)
        response, code = json_response(wire_v3.error_body(internal, request_id)), internal.code
    state.journal.append((action, code))
    _log(action, code, started, ", ".join(names))
    return response


# --- control surface ----------------------------------------------------------------------------------------------


async def handle_world(request: web.Request) -> web.Response:
    """``GET /_sim/world``: the world as JSON (SecretKeys masked) with each connection's stored item, the tasks, and
    ``traffic`` (arrivals, peak rates and rate-limit refusals per action)."""
    state = request.app[_STATE_KEY]
    world = state.snapshot()
    world["credentials"] = dict.fromkeys(world["credentials"], "***")
    for item in world["vpnConnections"]:
        if item.get("peer") is not None:
            item["peer"] = masked(item["peer"])
    world["traffic"] = state.traffic.to_json()
    return json_response(world)


async def handle_faults(request: web.Request) -> web.Response:
    """``POST /_sim/faults``: merge a JSON object into the faults; answers the faults now in force, or 400."""
    try:
        patch = await request.json()
        if not isinstance(patch, dict):
            raise ValueError("the body must be a JSON object")
        faults = request.app[_STATE_KEY].update_faults(patch)
    except ValueError as error:  # json.JSONDecodeError and pydantic's ValidationError are ValueErrors
        return json_response({"error": str(error)}, status=400)
    except RecursionError:
        return json_response({"error": "the body is not JSON vpnbot reads (nested too deep)"}, status=400)
    return json_response({"faults": faults.to_json()})


def tunnel_json(view: TunnelView) -> dict[str, Any]:
    """The answer of ``/_sim/peers/{vpnConnId}`` (the peer's key masked)."""
    answer: dict[str, Any] = {
        "vpnConnId": view.conn_id,
        "peer": None if view.peer is None else masked(peer_json(view.peer)),
        "netStatus": view.net_status,
        "match": view.match,
        "mismatches": list(view.mismatches),
    }
    if view.renegotiates_at is not None:
        answer["renegotiatesAt"] = view.renegotiates_at
    return answer


async def handle_peer(request: web.Request) -> web.Response:
    """``GET /_sim/peers/{vpnConnId}``: ``{"vpnConnId", "peer" (key masked; null when none is modelled),
    "netStatus", "match" (null without a peer), "mismatches": [field, ...], "renegotiatesAt" (when pending)}``.

    ``POST`` with a JSON object: a patch of peer fields (``bot.sim.peerfile``; over the peer as it is) or
    ``{"mirror": true}`` (the peer becomes the connection as it is now; other keys then patch that); the tunnel
    renegotiates ``renegotiateSeconds`` later. Answers like GET; 400 ``{"error"}`` for a bad body, field or value,
    404 for an unknown connection."""
    state = request.app[_STATE_KEY]
    conn_id = request.match_info["conn_id"]
    try:
        if request.method == "POST":
            try:
                patch = await request.json()
            except json.JSONDecodeError as error:
                raise ValueError(f"the body is not JSON ({error.msg})") from None
            except RecursionError:
                raise ValueError("the body is not JSON vpnbot reads (nested too deep)") from None
            if not isinstance(patch, dict):
                raise ValueError("the body must be a JSON object")
            wants_mirror = patch.pop("mirror", False)
            if not isinstance(wants_mirror, bool):
                raise ValueError("mirror: must be true or false")
            base = state.mirror_of(conn_id) if wants_mirror else state.peer(conn_id)
            try:
                peer = patched(base, patch)
            except ValueError as error:
                hint = (
                    f" (no peer is modelled for {conn_id}: send mirror: true, or every field)" if base is None else ""
                )
                raise ValueError(f"{error}{hint}") from None
            view = state.set_peer(conn_id, peer)
            logger.info("peer of %s set (fields: %s)", conn_id, ", ".join(sorted(patch)) or "mirror")
        else:
            view = state.tunnel(conn_id)
    except WorldError as error:
        return json_response({"error": str(error)}, status=404)
    except ValueError as error:  # json.JSONDecodeError too
        return json_response({"error": str(error)}, status=400)
    return json_response(tunnel_json(view))


async def handle_health(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


def build_app(state: SimState) -> web.Application:
    """The aiohttp application answering for ``state``."""
    app = web.Application()
    app[_STATE_KEY] = state
    app[_NONCES_KEY] = NonceCache()
    app.router.add_route("GET", API_PATH, handle_api)
    app.router.add_route("POST", API_PATH, handle_api)
    app.router.add_route("POST", V3_PATH, handle_api_v3)
    app.router.add_get("/_sim/world", handle_world)
    app.router.add_post("/_sim/faults", handle_faults)
    app.router.add_get("/_sim/peers/{conn_id}", handle_peer)
    app.router.add_post("/_sim/peers/{conn_id}", handle_peer)
    app.router.add_get("/healthz", handle_health)
    return app


# --- running it ---------------------------------------------------------------------------------------------------


class SimServer:
    """The simulator on a loopback port: ``async with SimServer(state) as sim: ... sim.url ...``.

    ``port=0`` picks a free port. ``url`` is the API 2.0 endpoint, ``http://HOST:PORT/v2/index.php``; ``v3_url``
    the API 3.0 one, ``http://HOST:PORT/``. With ``ssl_context`` it serves TLS and the URLs say ``https``
    (``QcloudApi`` speaks HTTPS only). ``renegotiate_seconds`` overrides the world's ``renegotiateSeconds``.
    """

    def __init__(
        self,
        state: SimState | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        renegotiate_seconds: float | None = None,
    ) -> None:
        self.state = state if state is not None else SimState()
        if renegotiate_seconds is not None:
            self.state.renegotiate_seconds = _non_negative("renegotiate_seconds", renegotiate_seconds)
        self._host = host
        self._port = port
        self._ssl = ssl_context
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The endpoint URL; RuntimeError before :meth:`start`."""
        if self._url is None:
            raise RuntimeError("the simulator is not started")
        return self._url

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` (for ``/_sim/...`` and ``/healthz``)."""
        return self.url.removesuffix(API_PATH)

    @property
    def v3_url(self) -> str:
        """The API 3.0 endpoint, ``http://HOST:PORT/``; RuntimeError before :meth:`start`."""
        return self.base_url + V3_PATH

    async def start(self) -> str:
        """Start listening; returns the endpoint URL."""
        if self._url is not None:
            return self._url
        runner = web.AppRunner(build_app(self.state), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port, ssl_context=self._ssl)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        port = runner.addresses[0][1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        scheme = "https" if self._ssl is not None else "http"
        self._url = f"{scheme}://{host}:{port}{API_PATH}"
        return self._url

    async def stop(self) -> None:
        """Stop listening (idempotent)."""
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner, self._url = None, None

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


def _non_negative(name: str, seconds: float) -> float:
    if seconds < 0:
        raise ValueError(f"{name} must not be negative")
    return seconds


async def run_forever(
    host: str = "127.0.0.1",
    port: int = 8800,
    world_path: str | Path | None = None,
    task_seconds: float | None = None,
    on_ready: Callable[[str], None] | None = None,
    renegotiate_seconds: float | None = None,
) -> None:
    """Serve the world at ``world_path`` (None: the demo world) until cancelled; prints nothing.

    ``task_seconds`` and ``renegotiate_seconds`` override the world's; ``on_ready`` receives the endpoint URL
    once listening. Raises OSError / ValueError for an unreadable or invalid world or a negative duration, and
    OSError when the port is taken.
    """
    world = load_world(world_path)
    if task_seconds is not None:
        world = world.model_copy(update={"task_seconds": _non_negative("task_seconds", task_seconds)})
    if renegotiate_seconds is not None:
        seconds = _non_negative("renegotiate_seconds", renegotiate_seconds)
        world = world.model_copy(update={"renegotiate_seconds": seconds})
    async with SimServer(SimState(world), host, port) as server:
        if on_ready is not None:
            on_ready(server.url)
        await asyncio.Event().wait()
