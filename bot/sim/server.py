"""The simulator's wire: Tencent Cloud API 2.0 over HTTP at ``/v2/index.php`` and API 3.0 at ``/``, both answered
from one :class:`SimState`, so a change made through one dialect is visible through the other.

API 3.0 (``POST /``, JSON, TC3-HMAC-SHA256) is checked and answered by ``bot.sim.v3`` (see its docstring for the
order of checks and the codes); this module gives it the same machinery as API 2.0: arrivals, the journal (the
API 3.0 action and its ``Error.Code``, or "0"), the faults of the API 2.0 equivalent action, the 503 page, and the
log line. The rest of this docstring is about API 2.0.

Every request is checked like the real service, in this order: common parameters present (4000), SecretId known
(4104), ``Timestamp`` within 300 s of the state's clock (4500), ``Signature`` right for this method, host (the
``Host`` header without its port) and path (4100), ``Nonce`` not seen for that SecretId in the last 300 s (4500;
only requests whose signature verified record their nonce), ``Action`` known (4000). Then the faults of that
action (latency, HTTP 503, 4400, 6000) apply, then the action runs. API errors answer HTTP 200 with
``{"code", "message", "codeDesc"}``; only the injected fault answers 503.

Control surface for out-of-process tests: ``GET /_sim/world`` (the world, SecretKeys masked, stored pre-shared keys
shown), ``POST /_sim/faults`` (a JSON object merged into the faults), ``GET /healthz``.

Logging (``bot.sim``, INFO): one line per request with the action, the code, the duration and the parameter NAMES.
No value is ever logged, and aiohttp's access log (which would show the query string) is off.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from bot.sim import v3
from bot.sim.faults import InjectedFault
from bot.sim.state import (
    ACTIONS,
    SimApiError,
    SimState,
    load_world,
    missing_parameters,
    shown_name,
    unknown_action,
)
from bot.tencent.signing import verify

__all__ = ["API_PATH", "V3_PATH", "SimServer", "build_app", "run_forever"]

logger = logging.getLogger("bot.sim")

API_PATH: Final = "/v2/index.php"
V3_PATH: Final = "/"
REQUIRED_COMMON: Final = ("Action", "Timestamp", "Nonce", "SecretId", "Signature", "Region")
OPTIONAL_COMMON: Final = ("SignatureMethod", "Token", "RequestClient", "Version")
COMMON_PARAMS: Final = frozenset(REQUIRED_COMMON + OPTIONAL_COMMON)
CLOCK_SKEW_SECONDS: Final = 300
NONCE_WINDOW_SECONDS: Final = 300

_UNAVAILABLE_PAGE: Final = (
    "<html><head><title>503 Service Temporarily Unavailable</title></head>"
    "<body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>"
)


class NonceCache:
    """The nonces seen per SecretId within a sliding window of ``window`` seconds."""

    def __init__(self, window: float = NONCE_WINDOW_SECONDS) -> None:
        self._window = window
        self._seen: dict[tuple[str, str], float] = {}
        self._order: collections.deque[tuple[float, tuple[str, str]]] = collections.deque()

    def replayed(self, secret_id: str, nonce: str, now: float) -> bool:
        """True when ``nonce`` was already recorded for ``secret_id`` in the window; otherwise records it."""
        while self._order and self._order[0][0] <= now - self._window:
            seen_at, key = self._order.popleft()
            if self._seen.get(key) == seen_at:
                del self._seen[key]
        key = (secret_id, nonce)
        if key in self._seen:
            return True
        self._seen[key] = now
        self._order.append((now, key))
        return False


_NONCE: Final = re.compile("[0-9]{1,19}")
_STATE_KEY: Final = web.AppKey("sim_state", SimState)
_NONCES_KEY: Final = web.AppKey("sim_nonces", NonceCache)


# ---------------------------------------------------------------------------------------------------------------
# Reading and checking a request


async def request_params(request: web.Request) -> dict[str, str]:
    """Every parameter of ``request``: the query string, plus the form body of a POST.

    Raises SimApiError 4000 for a POST body that is not ``application/x-www-form-urlencoded`` or for a parameter
    given twice.
    """
    pairs: MultiDict[str] = MultiDict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type != "application/x-www-form-urlencoded":
            raise SimApiError(4000, "InvalidParameter", "POST bodies must be application/x-www-form-urlencoded")
        body: MultiDictProxy[str | Any] = await request.post()
        for name, value in body.items():
            if not isinstance(value, str):
                raise SimApiError(4000, "InvalidParameter", f"{shown_name(name)}: file uploads are not accepted")
            pairs.add(name, value)
    params: dict[str, str] = {}
    for name, value in pairs.items():
        if name in params:
            raise SimApiError(4000, "InvalidParameter", f"{shown_name(name)}: given more than once")
        params[name] = value
    return params


def host_without_port(host_header: str) -> str:
    """The ``Host`` header without its port (``[::1]:80`` gives ``[::1]``), as the signature covers it."""
    if host_header.startswith("["):
        return host_header.partition("]")[0] + "]"
    return host_header.partition(":")[0]


def authenticate(state: SimState, nonces: NonceCache, request: web.Request, params: Mapping[str, str]) -> None:
    """Check the common parameters, credentials, clock, signature and nonce; raises SimApiError on the first
    failure (see the module's docstring for the order and codes)."""
    missing = [name for name in REQUIRED_COMMON if not params.get(name)]
    if missing:
        raise missing_parameters(missing)
    secret_id = params["SecretId"]
    secret_key = state.secret_key_for(secret_id)
    if secret_key is None:
        raise SimApiError(4104, "AuthFailure.SecretIdNotFound", "the SecretId does not exist or is disabled")
    now = state.clock()
    _check_timestamp(params["Timestamp"], now)
    if not verify(secret_key, request.method, host_without_port(request.host), request.path, params):
        message = "the signature does not match: check the SecretKey, the string to sign and the SignatureMethod"
        raise SimApiError(4100, "AuthFailure.SignatureFailure", message)
    _check_nonce(nonces, secret_id, params["Nonce"], now)


def _check_timestamp(text: str, now: float) -> None:
    try:
        timestamp = int(text)
    except ValueError:
        raise SimApiError(4000, "InvalidParameter", "Timestamp: must be unix seconds") from None
    if abs(timestamp - now) > CLOCK_SKEW_SECONDS:
        message = f"Timestamp is {timestamp - now:+.0f} s away from the server's time (at most {CLOCK_SKEW_SECONDS})"
        raise SimApiError(4500, "ReplayAttack", message)


def _check_nonce(nonces: NonceCache, secret_id: str, text: str, now: float) -> None:
    if _NONCE.fullmatch(text) is None or int(text) == 0:
        raise SimApiError(4000, "InvalidParameter", "Nonce: must be a positive whole number")
    if nonces.replayed(secret_id, str(int(text)), now):
        message = f"the Nonce was already used with this SecretId in the last {NONCE_WINDOW_SECONDS} s"
        raise SimApiError(4500, "ReplayAttack", message)


# ---------------------------------------------------------------------------------------------------------------
# Handlers


def _fault_error(code: int) -> SimApiError:
    if code == 4400:
        return SimApiError(4400, "RequestLimitExceeded", "over quota: too many requests (simulated)")
    return SimApiError(6000, "InternalError", "internal error, please retry later (simulated)")


async def _suffer(state: SimState, action: str) -> InjectedFault:
    """Draw the fault of one request of ``action`` and wait its latency; the caller answers 503 or the error."""
    fault = state.draw_fault(action)
    if fault.latency > 0:
        await asyncio.sleep(fault.latency)
    return fault


def _unavailable() -> web.Response:
    return web.Response(status=503, text=_UNAVAILABLE_PAGE, content_type="text/html")


async def _answer(state: SimState, nonces: NonceCache, request: web.Request, params: dict[str, str]) -> web.Response:
    authenticate(state, nonces, request, params)
    action = params["Action"]
    if action not in ACTIONS:
        raise unknown_action(action)
    fault = await _suffer(state, action)
    if fault.http_503:
        return _unavailable()
    if fault.code is not None:
        raise _fault_error(fault.code)
    answer = state.handle(action, {k: v for k, v in params.items() if k not in COMMON_PARAMS})
    return web.json_response({"code": 0, "message": "", "codeDesc": "Success", **answer})


async def handle_api(request: web.Request) -> web.Response:
    """``GET``/``POST /v2/index.php``: one API 2.0 call."""
    started = time.perf_counter()
    action, names = "?", ""
    try:
        params = await request_params(request)
        action = shown_name(params.get("Action", "?"))
        request.app[_STATE_KEY].arrivals[action] += 1
        names = ", ".join(shown_name(n) for n in sorted(params) if n not in COMMON_PARAMS)
        response = await _answer(request.app[_STATE_KEY], request.app[_NONCES_KEY], request, params)
        code = "0" if response.status == 200 else f"HTTP {response.status}"
    except SimApiError as error:
        response, code = web.json_response(error.to_json()), str(error.code)
    except Exception as error:  # an answer, not a dropped connection: the client must see what a real 6000 looks like
        logger.error("%s failed inside the simulator: %s", action, type(error).__name__)
        response, code = web.json_response(_fault_error(6000).to_json()), "6000"
    request.app[_STATE_KEY].journal.append((action, code))
    logger.info("%s -> %s in %.3f s (params: %s)", action, code, time.perf_counter() - started, names or "none")
    return response


async def _answer_v3(state: SimState, request: web.Request, request_id: str, names: list[str]) -> web.Response:
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise v3.V3Error("RequestSizeLimitExceeded", "The request body is too large.") from None
    state.arrivals[shown_name(request.headers.get("X-TC-Action") or "?")] += 1  # arrived whole, as on API 2.0
    action = v3.verify_request(state, request.method, host_without_port(request.host), request.headers, body)
    params = v3.parse_body(body)
    names.extend(shown_name(name) for name in sorted(params))
    fault = await _suffer(state, action)
    if fault.http_503:
        return _unavailable()
    if fault.code is not None:
        raise v3.fault_error(fault.code)
    answer = v3.run(state, action, params, request_id)
    return web.json_response(v3.success_body(answer, request_id))


async def handle_api_v3(request: web.Request) -> web.Response:
    """``POST /``: one API 3.0 call; errors answer HTTP 200 with ``{"Response": {"Error": ...}}``."""
    started = time.perf_counter()
    state = request.app[_STATE_KEY]
    request_id = str(uuid.uuid4())
    action = shown_name(request.headers.get("X-TC-Action") or "?")
    names: list[str] = []  # the top-level parameter NAMES, once the body is read
    try:
        response = await _answer_v3(state, request, request_id, names)
        code = "0" if response.status == 200 else f"HTTP {response.status}"
    except v3.V3Error as error:
        response, code = web.json_response(v3.error_body(error, request_id)), error.code
    except ConnectionResetError:  # the client went away before its request arrived whole: nothing to answer
        raise
    except Exception as error:  # an answer, not a dropped connection, as on API 2.0
        logger.error("%s failed inside the simulator: %s", action, type(error).__name__)
        internal = v3.fault_error(6000)
        response, code = web.json_response(v3.error_body(internal, request_id)), internal.code
    state.journal.append((action, code))
    logger.info(
        "%s -> %s in %.3f s (params: %s)", action, code, time.perf_counter() - started, ", ".join(names) or "none"
    )
    return response


async def handle_world(request: web.Request) -> web.Response:
    """``GET /_sim/world``: the world as JSON (SecretKeys masked) with each connection's stored item and tasks."""
    world = request.app[_STATE_KEY].snapshot()
    world["credentials"] = dict.fromkeys(world["credentials"], "***")
    return web.json_response(world)


async def handle_faults(request: web.Request) -> web.Response:
    """``POST /_sim/faults``: merge a JSON object into the faults; answers the faults now in force, or 400."""
    try:
        patch = await request.json()
        if not isinstance(patch, dict):
            raise ValueError("the body must be a JSON object")
        faults = request.app[_STATE_KEY].update_faults(patch)
    except (ValueError, json.JSONDecodeError) as error:
        return web.json_response({"error": str(error)}, status=400)
    return web.json_response({"faults": faults.to_json()})


async def handle_health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


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
    app.router.add_get("/healthz", handle_health)
    return app


# ---------------------------------------------------------------------------------------------------------------
# Running it


class SimServer:
    """The simulator on a loopback port: ``async with SimServer(state) as sim: ... sim.url ...``.

    ``port=0`` picks a free port. ``url`` is the API 2.0 endpoint, ``http://HOST:PORT/v2/index.php``; ``v3_url``
    the API 3.0 one, ``http://HOST:PORT/``.
    """

    def __init__(self, state: SimState | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state if state is not None else SimState()
        self._host = host
        self._port = port
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
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        port = runner.addresses[0][1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._url = f"http://{host}:{port}{API_PATH}"
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


async def run_forever(
    host: str = "127.0.0.1",
    port: int = 8800,
    world_path: str | Path | None = None,
    task_seconds: float | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the world at ``world_path`` (None: the demo world) until cancelled; prints nothing.

    ``task_seconds`` overrides the world's task duration; ``on_ready`` receives the endpoint URL once listening.
    Raises OSError / ValueError for an unreadable or invalid world and OSError when the port is taken.
    """
    world = load_world(world_path)
    if task_seconds is not None:
        if task_seconds < 0:
            raise ValueError("task_seconds must not be negative")
        world = world.model_copy(update={"task_seconds": task_seconds})
    async with SimServer(SimState(world), host, port) as server:
        if on_ready is not None:
            on_ready(server.url)
        await asyncio.Event().wait()
