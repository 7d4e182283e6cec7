"""An async client for the three Tencent Cloud VPC API 2.0 actions vpnbot needs.

API 2.0 has no peer configuration (``DescribeCustomerGatewayVendors``, ``DownloadCustomerGatewayConfiguration``):
those methods raise UnsupportedActionError and send nothing.

``DescribeVpnConn`` and ``DescribeVpcTaskResult`` are reads: retried with exponential backoff on transport
failures, HTTP 5xx and the retryable API codes (4400, 6000, 6200). ``ModifyVpnConnEx`` is the edit: never re-sent
when its outcome is unknown; the one refusal it is sent again after is "over the rate limit" (see
:meth:`BaseVpcClient._edit`). Every request is signed afresh (new ``Timestamp``, ``Nonce`` and ``Signature``) and sent
as a POST form.

Secrets stay out of every log line and exception text: logs carry action names, attempts, codes, durations and
parameter names, never values or bodies; ``DescribeVpnConn`` items are normalised at once (the key becomes a
fingerprint) and ``ModifyVpnConnEx``'s answer, which echoes the key, is reduced to its ``taskId``. The one read that
keeps the key, :meth:`VpcClient.pre_shared_key` (for reverting a change of it), hands it back as a ``SecretStr`` and
nowhere else (``bot.tencent.psk``).

Any answer is handled: whatever the endpoint sends (more than ``MAX_ANSWER_BYTES``, not UTF-8, nested 200,000 deep,
a 5,000-digit ``taskId``, a ``code`` that is a list), the client raises a CloudError and nothing else, with a short
text that quotes none of the answer (``bot.tencent.decoding`` reads the bytes). Only a well-formed refusal (a
``code`` that is a number or a short text) is an ApiError; any other unreadable answer to the edit is a
ResponseError, a TransportError: the outcome is unknown.

:class:`BaseVpcClient` holds what the API 3.0 client (``bot.tencent.client_v3``) shares with this one: the retry
policy, the per-action rate limiters (``bot.tencent.limits``), the per-action counter, the HTTP error mapping and the
secret hygiene of every attempt.

Over the rate limit (API 2.0 code 4400, API 3.0 ``RequestLimitExceeded*``) a request waits longer than for other
passing trouble, and more often: from ``limit_retry_base`` (1 s, a whole window of the service's count) doubling to
8 s, with up to 50 % jitter, for up to ``LIMIT_ATTEMPTS`` attempts (about half a minute): a limit answer slows a
change down, it does not fail it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar, Generic, Self, TypeVar

import httpx
from pydantic import SecretStr

from bot.tencent.decoding import MAX_ANSWER_BYTES, MAX_NUMBER_DIGITS, NotJsonError, UnreadableJsonError, decode
from bot.tencent.errors import (
    ApiError,
    CloudError,
    CloudTimeoutError,
    NotFoundError,
    ResponseError,
    ServerError,
    TransportError,
    UnsupportedActionError,
)
from bot.tencent.limits import RateLimiter
from bot.tencent.listing import ConnectionListing, UnreadableConnection, read_items
from bot.tencent.peer import DOWNLOAD, VENDORS, GatewayVendor
from bot.tencent.psk import ItemSources, live_key
from bot.tencent.signing import SignatureMethod, sign, string_to_sign
from bot.tencent.tasks import TaskId, TaskState, TaskStatus
from bot.tencent.wire import DESCRIBE_LIMIT_MAX, REDACTED, describe_params, modify_params, task_params
from bot.vpn.connection import SecretFingerprints, VpnConnection, connection_from_describe
from bot.vpn.edit import PSK, Proposal

__all__ = ["API3_NEEDED", "DEFAULT_ENDPOINT", "Answer", "BaseVpcClient", "Credentials", "VpcClient"]

log = logging.getLogger("bot.tencent")

DEFAULT_ENDPOINT = "https://vpc.api.qcloud.com/v2/index.php"
DESCRIBE = "DescribeVpnConn"
MODIFY = "ModifyVpnConnEx"
TASK = "DescribeVpcTaskResult"
NOT_FOUND = "InvalidVpnConn.NotFound"
API3_NEEDED = "API 3.0 (VPNBOT_CLOUD_API=v3)"
_JITTER = 0.1
IN_FLIGHT = 16
"""Requests of one action in flight at once."""
ACTIONS_IN_FLIGHT = 4
"""Actions whose requests may be in flight together (the edit, the two reads, the task poll)."""
_LIMITS = httpx.Limits(
    max_connections=IN_FLIGHT * ACTIONS_IN_FLIGHT, max_keepalive_connections=IN_FLIGHT * ACTIONS_IN_FLIGHT
)
_DETAIL_MAX = 200
# The longest error code and codeDesc kept: the API's are under 70 characters (``InvalidParameterValue.Malformed``).
CODE_MAX = 100
# The longest task failure words kept, as ApiError keeps 500 characters of a message.
TASK_MESSAGE_MAX = 500
# A listing stops with a ResponseError past this many pages: an endpoint that ignores the offset, or claims a
# ``totalCount`` it never reaches with full pages, must not keep the client reading forever.
PAGES_MAX = 200
TASK_ID_MAX = 2**63 - 1
# Attempts of a request answered "over the rate limit", the edit's included, and the longest wait between two.
LIMIT_ATTEMPTS = 6
LIMIT_WAIT_MAX = 8.0
_LIMIT_JITTER = 0.5
_MIB = 1024 * 1024
Listener = Callable[[], None]
T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as read: its status and its body, whole (at most ``MAX_ANSWER_BYTES``; empty for 5xx)."""

    status: int
    content: bytes


@dataclass(frozen=True)
class Credentials:
    """An API key pair; ``token`` is set for temporary credentials (sent as the ``Token`` common parameter under
    API 2.0, the ``X-TC-Token`` header under API 3.0). Neither the key nor the token shows in ``repr``."""

    secret_id: str
    secret_key: SecretStr
    token: str | None = field(default=None, repr=False)


Params = TypeVar("Params", bound=Mapping[str, Any])


class BaseVpcClient(Generic[Params]):
    """What the API 2.0 and API 3.0 clients share: the HTTP client and its life, the per-action call counter, one
    attempt's bookkeeping (count, time, log, classify) and the retry policy for reads.

    A dialect says how to sign and encode a request (:meth:`_request`), what a well-formed answer is
    (:meth:`_body`) and when that answer is a refusal (:meth:`_refusal`). Actions in ``_EDITS`` are never retried
    by the read policy, and a timeout on one says that the outcome is unknown; :meth:`_edit` sends one.

    ``rate_limits`` (``{action: requests per second}``) gives each named action a :class:`RateLimiter` of this
    client's own; an action not named is not limited here. ``fingerprints`` keys the pre-shared key's fingerprint
    in every connection read (None: a random key for this client's life, see :attr:`fingerprints`).
    """

    _EDITS: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        credentials: Credentials,
        *,
        endpoint: str,
        region: str,
        timeout: float,
        read_attempts: int,
        retry_base: float,
        http: httpx.AsyncClient | None,
        rate_limits: Mapping[str, int] | None = None,
        limit_retry_base: float = 1.0,
        fingerprints: SecretFingerprints | None = None,
    ) -> None:
        url = httpx.URL(endpoint)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"endpoint must be an http(s) URL, got {endpoint!r}")
        if timeout <= 0 or read_attempts < 1 or retry_base < 0 or limit_retry_base < 0:
            raise ValueError("need timeout > 0, read_attempts >= 1, retry_base >= 0 and limit_retry_base >= 0")
        self._credentials = credentials
        self._endpoint = endpoint
        self._netloc = url.netloc.decode("ascii")
        self._path = url.path or "/"
        self._region = region
        self._timeout = timeout
        self._read_attempts = read_attempts
        self._retry_base = retry_base
        self._limit_retry_base = limit_retry_base
        self._fingerprints = fingerprints if fingerprints is not None else SecretFingerprints.random()
        self._limiters = {action: RateLimiter(limit) for action, limit in (rate_limits or {}).items()}
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=httpx.Timeout(timeout), limits=_LIMITS)
        # At most IN_FLIGHT requests of an action at once: more would wait inside httpcore's pool, which re-scans
        # every queued request on each change (quadratic) and blocks the event loop when a thousand tasks are
        # followed at once. One queue per action: a rate-limited request waits for its slot right after its grant,
        # so it must never queue behind another action's traffic (grants held back, then sent together, would
        # arrive at the service faster than the limit).
        self._in_flight: dict[str, asyncio.Semaphore] = {}
        self._calls: Counter[str] = Counter()
        self._listeners: list[Listener] = []

    def __repr__(self) -> str:
        return f"{type(self).__name__}(endpoint={self._endpoint!r}, region={self._region!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this client made it."""
        if self._owns_http:
            await self._http.aclose()

    @property
    def rate_limits(self) -> dict[str, int]:
        """The per-second rate this client keeps each limited action under (none: not limited here)."""
        return {action: limiter.limit for action, limiter in self._limiters.items()}

    @property
    def calls(self) -> Counter[str]:
        """A snapshot of the number of requests sent per action, every attempt counted."""
        return Counter(self._calls)

    @property
    def fingerprints(self) -> SecretFingerprints:
        """What fingerprints the pre-shared key of every connection this client reads (``psk_fingerprint``)."""
        return self._fingerprints

    def add_change_listener(self, listener: Listener) -> None:
        """Call ``listener()`` whenever a connection may have changed: after each edit is sent (whatever its
        answer) and when a poll finds a task done. For caches of what the cloud said; a listener that raises is
        logged and ignored (the edit's answer matters more)."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            try:
                listener()
            except Exception:
                log.exception("a change listener failed")

    def _parsed(self, action: str, parse: Callable[[], T]) -> T:
        """``parse()`` (reading an answer), with any exception but a CloudError turned into a ResponseError (never
        chained: the exception's text may quote the answer). The readers check every type; this is the net."""
        try:
            return parse()
        except CloudError:
            raise
        except Exception as error:
            failure = ResponseError(action, f"the answer could not be read ({type(error).__name__})")
        raise failure

    def _request(self, action: str, params: Params) -> dict[str, Any]:
        """The signed request for one attempt, as keyword arguments of ``httpx.AsyncClient.post``."""
        raise NotImplementedError

    def _body(self, action: str, answer: Answer) -> dict[str, Any]:
        """The answer's JSON object in the dialect's shape; a TransportError (or ResponseError) otherwise."""
        raise NotImplementedError

    def _refusal(self, action: str, body: Mapping[str, Any], scrub: list[str]) -> ApiError | None:
        """The ApiError this answer is, with every ``scrub`` value masked in its texts; None for success."""
        raise NotImplementedError

    async def _read(self, action: str, params: Params, *, granted: bool = False) -> dict[str, Any]:
        """A read, retried as the module says; ``granted``: the first attempt's rate-limit turn is already taken."""
        attempt = 1
        while True:
            try:
                return await self._call(action, params, attempt, limited=not (granted and attempt == 1))
            except CloudError as error:
                delay = self._retry_delay(error, attempt)
                if delay is None:
                    raise
                log.info("%s attempt %d: %s, retrying in %.2f s", action, attempt, type(error).__name__, delay)
            await asyncio.sleep(delay)
            attempt += 1

    def _retry_delay(self, error: CloudError, attempt: int) -> float | None:
        """How long to wait before retrying a read after ``attempt`` failed with ``error``; None: do not."""
        if isinstance(error, ApiError) and error.rate_limited:
            return self._limit_delay(attempt)
        if attempt >= self._read_attempts or not _worth_retrying(error):
            return None
        return self._retry_base * 2.0 ** (attempt - 1) * (1 + random.uniform(0, _JITTER))

    def _limit_delay(self, attempt: int) -> float | None:
        if attempt >= LIMIT_ATTEMPTS:
            return None
        wait = min(self._limit_retry_base * 2.0 ** (attempt - 1), LIMIT_WAIT_MAX)
        return wait * (1 + random.uniform(0, _LIMIT_JITTER))

    async def _edit(self, action: str, params: Params, scrub: list[str]) -> dict[str, Any]:
        """Send the edit ``action``. It is sent again only when the cloud refused it for the rate limit: such a
        refusal comes before the edit is looked at, so it was not applied, and sending it again after a wait (as
        for a read, at most ``LIMIT_ATTEMPTS`` times) is safe. Any other refusal is raised at once, and an edit
        whose outcome is unknown (a timeout, HTTP 5xx, an unreadable answer) is never sent again."""
        attempt = 1
        try:
            while True:
                try:
                    return await self._call(action, params, attempt, scrub)
                except ApiError as error:
                    delay = self._limit_delay(attempt) if error.rate_limited else None
                    if delay is None:
                        raise
                    log.info("%s attempt %d: over the rate limit, not applied; again in %.2f s", action, attempt, delay)
                await asyncio.sleep(delay)
                attempt += 1
        finally:
            self._changed()

    async def _call(
        self, action: str, params: Params, attempt: int, scrub: Iterable[str] = (), *, limited: bool = True
    ) -> dict[str, Any]:
        """One signed request, after the action's rate-limit turn (unless ``limited`` is False: the caller took
        it); the answer's JSON object when it is a success, else the matching CloudError."""
        slot: contextlib.AbstractAsyncContextManager[Any] = self._slots(action) if limited else contextlib.nullcontext()
        async with slot:  # the slot first, then the turn: a grant is spent on a request sent at once
            if limited:
                await self._turn(action)
            request = self._request(action, params)
            self._calls[action] += 1
            started = time.perf_counter()
            hidden = [self._credentials.secret_key.get_secret_value(), self._credentials.token or "", *scrub]
            try:
                answer = await self._send(action, request, slot_held=limited)
                body = self._parsed(action, lambda: self._body(action, answer))
                refusal = self._parsed(action, lambda: self._refusal(action, body, [v for v in hidden if v]))
            except CloudError as error:
                log.info("%s attempt %d: %s after %.0f ms", action, attempt, type(error).__name__, _ms(started))
                raise
            outcome = "ok" if refusal is None else f"code {str(refusal.code)[:60]}"
            level = logging.DEBUG if refusal is None else logging.INFO
            log.log(level, "%s attempt %d: %s in %.0f ms", action, attempt, outcome, _ms(started))
            if refusal is not None:
                raise refusal
            return body

    async def _turn(self, action: str) -> None:
        """Wait until ``action`` may be sent without passing its rate limit (at once when it has none)."""
        limiter = self._limiters.get(action)
        if limiter is not None:
            await limiter.acquire()

    def _decoded(self, action: str, answer: Answer) -> object:
        """The decoded JSON answer; ServerError for HTTP 5xx, TransportError when it is not JSON (worth a retry on
        a read: an error page, a cut-off answer), ResponseError for JSON vpnbot will not read."""
        status = answer.status
        if status >= 500:
            raise ServerError(action, status)
        try:
            return decode(answer.content)
        except NotJsonError as error:
            failure: CloudError = TransportError(action, f"HTTP {status}: the answer is not JSON ({error})")
        except UnreadableJsonError as error:
            failure = ResponseError(action, f"HTTP {status}: the answer is JSON {error}")
        raise failure

    def _slots(self, action: str) -> asyncio.Semaphore:
        """The action's in-flight slots (made at its first request)."""
        slots = self._in_flight.get(action)
        if slots is None:
            slots = self._in_flight[action] = asyncio.Semaphore(IN_FLIGHT)
        return slots

    async def _send(self, action: str, request: Mapping[str, Any], *, slot_held: bool = False) -> Answer:
        """One POST, its answer read whole; past ``MAX_ANSWER_BYTES`` (decoded) a ResponseError, the rest unread.
        ``slot_held``: the caller holds one of the action's in-flight slots already."""
        slot: contextlib.AbstractAsyncContextManager[Any] = (
            contextlib.nullcontext() if slot_held else self._slots(action)
        )
        try:
            async with (
                slot,
                self._http.stream("POST", self._endpoint, timeout=self._timeout, **request) as response,
            ):
                if response.status_code >= 500:
                    return Answer(response.status_code, b"")
                return Answer(response.status_code, await _bounded_content(action, response))
        except httpx.TimeoutException as error:
            unknown = "; the edit may or may not have been applied" if action in self._EDITS else ""
            failure: CloudError = CloudTimeoutError(
                action, f"no answer within {self._timeout:g} s ({type(error).__name__}){unknown}"
            )
        except (httpx.HTTPError, httpx.StreamError) as error:
            failure = TransportError(action, f"{type(error).__name__}: {str(error)[:_DETAIL_MAX]}")
        raise failure  # outside the handler: the httpx error (its request holds the signed request) is not chained


class VpcClient(BaseVpcClient[Mapping[str, str]]):
    """The VPC API 2.0 client. Use as ``async with VpcClient(...) as client:`` or call :meth:`aclose`.

    The signature covers ``POST`` + the ``Host`` header sent (the endpoint's host, with its port when it has one,
    as ``QcloudApi`` signs it) + the endpoint's path. ``timeout`` (seconds) bounds every request, including on a
    caller's ``http`` client (which :meth:`aclose` leaves open). A read is tried up to ``read_attempts`` times,
    waiting ``retry_base * 2**n`` seconds (plus up to 10 % jitter) before retry ``n + 1``; over the rate limit
    (4400), as the module says. API 2.0 documents no rate limits, so ``rate_limits`` is empty unless given.
    """

    _EDITS = frozenset({MODIFY})
    edit_action = MODIFY

    def __init__(
        self,
        credentials: Credentials,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        region: str = "ap-guangzhou",
        signature_method: SignatureMethod = "HmacSHA256",
        timeout: float = 10.0,
        read_attempts: int = 4,
        retry_base: float = 0.5,
        http: httpx.AsyncClient | None = None,
        rate_limits: Mapping[str, int] | None = None,
        limit_retry_base: float = 1.0,
        fingerprints: SecretFingerprints | None = None,
    ) -> None:
        super().__init__(
            credentials,
            endpoint=endpoint,
            region=region,
            timeout=timeout,
            read_attempts=read_attempts,
            retry_base=retry_base,
            http=http,
            rate_limits=rate_limits,
            limit_retry_base=limit_retry_base,
            fingerprints=fingerprints,
        )
        self._method: SignatureMethod = signature_method

    async def describe_vpn_conn(self, vpn_conn_id: str) -> VpnConnection:
        """The connection ``vpn_conn_id`` (``vpnx-...``, or the numeric id); NotFoundError if there is none,
        ResponseError (naming the field) if the cloud describes it in a way vpnbot cannot read."""
        body = await self._read(DESCRIBE, describe_params(vpn_conn_id=vpn_conn_id, limit=DESCRIBE_LIMIT_MAX))
        page = self._parsed(DESCRIBE, partial(_connections, body, self.fingerprints))
        return described(DESCRIBE, NOT_FOUND, vpn_conn_id, page, sole_item_is_it=True)

    async def pre_shared_key(self, vpn_conn_id: str) -> SecretStr | None:
        """The connection's current ``preSharedKey``, to keep (encrypted) so that a change of it can be reverted;
        None when the cloud reports none. Read as :meth:`describe_vpn_conn` reads (its retries, limits and errors),
        and checked against the fingerprint that read gives the connection: ``fingerprints.of`` of the key is the
        ``psk_fingerprint`` of the connection read with it. ResponseError (naming the field) for a key that is not
        text or longer than ``PRE_SHARED_KEY_MAX``. The key is in no log line, error or ``repr``."""
        log.info("%s %r: reading the pre-shared key, to keep it", DESCRIBE, vpn_conn_id[:64])
        body = await self._read(DESCRIBE, describe_params(vpn_conn_id=vpn_conn_id, limit=DESCRIBE_LIMIT_MAX))
        return self._parsed(DESCRIBE, partial(_live_key, body, vpn_conn_id, self.fingerprints))

    async def customer_gateway_vendors(self) -> list[GatewayVendor]:
        """API 2.0 has no such action: UnsupportedActionError, nothing sent."""
        raise UnsupportedActionError(VENDORS, API3_NEEDED)

    async def customer_gateway_configuration(
        self, connection: VpnConnection, vendor: GatewayVendor, interface_name: str = ""
    ) -> str:
        """API 2.0 has no such action: UnsupportedActionError, nothing sent."""
        raise UnsupportedActionError(DOWNLOAD, API3_NEEDED)

    async def list_vpn_conns(
        self, *, vpc_id: str | None = None, vpn_gw_id: str | None = None, name: str | None = None
    ) -> ConnectionListing:
        """Every connection matching the filters (``name`` fuzzily), reading pages of 50 until ``totalCount``; an
        item vpnbot cannot read is named in ``unreadable`` and hides nothing else."""
        found = ConnectionListing()
        for _ in range(PAGES_MAX):
            params = describe_params(vpc_id=vpc_id, vpn_gw_id=vpn_gw_id, name=name, offset=found.count)
            body = await self._read(DESCRIBE, params)
            page = self._parsed(DESCRIBE, partial(_connections, body, self.fingerprints))
            found += page
            if not page.count or found.count >= _total_count(body, found.count):
                return found
        raise ResponseError(DESCRIBE, f"the listing did not end within {PAGES_MAX} pages")

    async def modify_vpn_conn(self, connection: VpnConnection, proposal: Proposal) -> int:
        """Send the edit and return its ``taskId``. Sent again only after a 4400 (over the rate limit: not applied;
        :meth:`BaseVpcClient._edit`); on CloudTimeoutError, ServerError or another TransportError (ResponseError
        included: an answer without a readable ``taskId``) the outcome is unknown, so re-read the connection before
        anything else. ApiError only for a well-formed refusal."""
        params = modify_params(connection, proposal)
        log.info("%s %s: sending %s", MODIFY, connection.vpn_conn_id, ", ".join(sorted(params)))
        key = proposal.pre_shared_key
        body = await self._edit(MODIFY, params, [key.get_secret_value()] if key else [])
        return self._parsed(MODIFY, partial(_task_id, body))

    async def task_status(self, task_id: TaskId) -> TaskState:
        """The task's state from ``DescribeVpcTaskResult`` (status 0 succeeded, 1 failed, any other number running;
        no readable status is a ResponseError).

        API 2.0 task ids are numbers: a string of digits is read as one, any other string raises ValueError (a
        task id of the other dialect; nothing is sent).
        """
        number = as_int(task_id)
        if number is None or not 0 <= number <= TASK_ID_MAX:
            raise ValueError(f"an API 2.0 task id is a number, got {str(task_id)[:60]!r}")
        body = await self._read(TASK, task_params(number))
        state = self._parsed(TASK, partial(_task_state, body))
        if state.done:
            self._changed()
        return state

    def _request(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        return {"data": self._signed(action, params)}

    def _signed(self, action: str, params: Mapping[str, str]) -> dict[str, str]:
        form = dict(params)
        form.update(
            Action=action,
            Region=self._region,
            Timestamp=str(int(time.time())),
            Nonce=str(secrets.randbelow(2**31 - 1) + 1),
            SecretId=self._credentials.secret_id,
            SignatureMethod=self._method,
        )
        if self._credentials.token:
            form["Token"] = self._credentials.token
        text = string_to_sign("POST", self._netloc, self._path, form)
        form["Signature"] = sign(self._credentials.secret_key.get_secret_value(), text, self._method)
        return form

    def _body(self, action: str, answer: Answer) -> dict[str, Any]:
        """The JSON object answer with a well-formed ``code`` (a number, or a short text); the body never reaches
        an exception (it may hold a key)."""
        body = self._decoded(action, answer)
        if not isinstance(body, dict) or "code" not in body:
            raise ResponseError(action, f"HTTP {answer.status}: the answer is not an API 2.0 object with a code")
        if error_code(body["code"]) is None:
            raise ResponseError(action, f"HTTP {answer.status}: the answer's code is neither a number nor a code")
        return body

    def _refusal(self, action: str, body: Mapping[str, Any], scrub: list[str]) -> ApiError | None:
        return None if _is_success(body.get("code")) else _api_error(action, body, scrub)


async def _bounded_content(action: str, response: httpx.Response) -> bytes:
    """The body, decoded from its ``Content-Encoding``; a ResponseError as soon as it passes ``MAX_ANSWER_BYTES``
    (a declared ``Content-Length`` says so before anything is read)."""
    too_big = ResponseError(action, f"the answer is larger than {MAX_ANSWER_BYTES // _MIB} MiB")
    declared = response.headers.get("content-length", "")
    encoded = response.headers.get("content-encoding", "identity").strip().lower() not in ("", "identity")
    if not encoded and declared.isdigit() and (len(declared) > 12 or int(declared) > MAX_ANSWER_BYTES):
        raise too_big
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _worth_retrying(error: CloudError) -> bool:
    if isinstance(error, ApiError):
        return error.retryable
    return isinstance(error, TransportError) and not isinstance(error, ResponseError)


def _is_success(code: object) -> bool:
    return (type(code) is int and code == 0) or (isinstance(code, str) and code.strip() == "0")


def error_code(raw: object) -> int | str | None:
    """``raw`` as an API error code: a whole number, or a printable text of 1 to ``CODE_MAX`` characters (the
    codes of both dialects); None for anything else (null, a bool, a float, a list, a 1 MB text)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and len(raw.strip()) > 0 and len(raw) <= CODE_MAX and raw.isprintable():
        return raw
    return None


def words(raw: object, limit: int | None = None) -> str:
    """``raw`` when it is text (cut at ``limit``), else empty: the cloud's words are shown only when they are words."""
    if not isinstance(raw, str):
        return ""
    return raw if limit is None else raw[:limit]


def _api_error(action: str, body: Mapping[str, Any], scrub: Iterable[str]) -> ApiError:
    """The ApiError for an answer with a non-zero, well-formed code; ``scrub`` values are masked in its texts."""
    code = error_code(body.get("code"))
    if code is None:  # _body lets no such answer through; kept so that this function stands on its own
        raise ResponseError(action, "the answer's code is neither a number nor a code")
    hidden = [s for s in scrub if s]
    desc = masked(words(body.get("codeDesc")), hidden)[:CODE_MAX]
    message = masked(words(body.get("message")), hidden)
    error = ApiError(action, code, desc, message)
    if desc.endswith(".NotFound") or error.numeric_code == 5000:
        return NotFoundError(action, code, desc, message)
    return error


def masked(text: str, hidden: Iterable[str]) -> str:
    """``text`` with every value of ``hidden`` replaced by ``***`` (shared by both dialects' error texts)."""
    for value in hidden:
        text = text.replace(value, REDACTED)
    return text


def _connections(
    body: Mapping[str, Any],
    fingerprints: SecretFingerprints,
    parse: Callable[[Mapping[str, Any]], VpnConnection] | None = None,
) -> ConnectionListing:
    """The ``data[]`` items of a DescribeVpnConn answer, normalised by ``parse`` (None: fingerprinted by
    ``fingerprints``; the raw items, with their keys, go no further); ResponseError when ``data`` is not a list."""
    items = body.get("data")
    if items is None:
        return ConnectionListing()
    if not isinstance(items, list):
        raise ResponseError(DESCRIBE, "data is not a list of connection objects")
    reader = parse if parse is not None else partial(connection_from_describe, fingerprints=fingerprints)
    return read_items(items, reader, ("unVpnConnId", "vpnConnId"))


def _live_key(body: Mapping[str, Any], vpn_conn_id: str, fingerprints: SecretFingerprints) -> SecretStr | None:
    """The ``preSharedKey`` of the item ``describe_vpn_conn`` would read ``vpn_conn_id`` from (same errors)."""
    sources = ItemSources(partial(connection_from_describe, fingerprints=fingerprints))
    page = _connections(body, fingerprints, sources)
    connection = described(DESCRIBE, NOT_FOUND, vpn_conn_id, page, sole_item_is_it=True)
    return live_key(DESCRIBE, PSK, sources.item_of(connection).get(PSK), connection, fingerprints)


def described(
    action: str, not_found: str, vpn_conn_id: str, page: ConnectionListing, *, sole_item_is_it: bool = False
) -> VpnConnection:
    """The connection ``vpn_conn_id`` of a describe-by-id ``page`` (shared by both dialects).

    ``sole_item_is_it``: a page of one item is the connection asked for, whatever id form it was asked by (API
    2.0 takes the numeric id too). ResponseError when the connection (or an item that may be it, having no
    readable id) cannot be read; NotFoundError (code ``not_found``) when the page does not hold it.
    """
    matching = [c for c in page.connections if c.vpn_conn_id == vpn_conn_id]
    if matching:
        return matching[0]
    if sole_item_is_it and page.count == 1:
        if page.connections:
            return page.connections[0]
        raise unreadable_error(action, vpn_conn_id, page.unreadable[0])
    maybe = [u for u in page.unreadable if u.vpn_conn_id in (vpn_conn_id, None)]
    if maybe:
        raise unreadable_error(action, vpn_conn_id, maybe[0])
    raise NotFoundError(action, not_found, not_found, f"no VPN connection {vpn_conn_id}")


def unreadable_error(action: str, vpn_conn_id: str, item: UnreadableConnection) -> ResponseError:
    """The ResponseError for a connection the cloud described in a way vpnbot cannot read (the reason names the
    field, never a value)."""
    return ResponseError(action, f"cannot read connection {vpn_conn_id[:64]}: {item.reason}")


def as_int(raw: object) -> int | None:
    """``raw`` as an int when it is one or a string of at most ``MAX_NUMBER_DIGITS`` ASCII digits (the API sends
    numbers either way), else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        if text.isascii() and text.isdigit() and len(text) <= MAX_NUMBER_DIGITS:
            return int(text)
    return None


def _total_count(body: Mapping[str, Any], default: int) -> int:
    count = as_int(body.get("totalCount"))
    return default if count is None else count


def _task_id(body: Mapping[str, Any]) -> int:
    """``data.taskId``: a whole number (or a string of digits) from 0 to 2**63 - 1."""
    data = body.get("data")
    task_id = as_int(data.get("taskId")) if isinstance(data, Mapping) else None
    if task_id is None or not 0 <= task_id <= TASK_ID_MAX:
        raise ResponseError(MODIFY, "answered success without a readable data.taskId; the edit may have been applied")
    return task_id


_TASK_STATUSES: dict[int | None, TaskStatus] = {0: TaskStatus.SUCCEEDED, 1: TaskStatus.FAILED}
# Where a failed task's words may be: the API 2.0 docs name none, so the usual field names are tried in order.
_TASK_MESSAGE_FIELDS = ("message", "output", "errorMessage", "errMsg")


def _task_state(body: Mapping[str, Any]) -> TaskState:
    data = body.get("data")
    if not isinstance(data, Mapping):
        raise ResponseError(TASK, "the answer has no data object")
    number = _status_number(data.get("status"))
    if number is None:
        raise ResponseError(TASK, "the answer has no readable data.status")
    status = _TASK_STATUSES.get(number, TaskStatus.RUNNING)
    if status is not TaskStatus.FAILED:
        return TaskState(status)
    said = [data.get(name) for name in _TASK_MESSAGE_FIELDS] + [body.get("message")]
    return TaskState(status, next((text for w in said if (text := words(w, TASK_MESSAGE_MAX))), ""))


def _status_number(raw: object) -> int | None:
    """A task status: a whole number, or a string of digits, of at most 10 digits."""
    number = as_int(raw)
    return number if number is not None and abs(number) < 10**10 else None
