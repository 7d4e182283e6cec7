"""An async client for the three Tencent Cloud VPC API 2.0 actions vpnbot needs.

``DescribeVpnConn`` and ``DescribeVpcTaskResult`` are reads: retried with exponential backoff on transport
failures, HTTP 5xx and the retryable API codes (4400, 6000, 6200). ``ModifyVpnConnEx`` is the edit: sent exactly
once, whatever happens. Every request is signed afresh (new ``Timestamp``, ``Nonce`` and ``Signature``) and sent as
a POST form.

Secrets stay out of every log line and exception text: logs carry action names, attempts, codes, durations and
parameter names, never values or bodies; ``DescribeVpnConn`` items are normalised at once (the key becomes a
fingerprint) and ``ModifyVpnConnEx``'s answer, which echoes the key, is reduced to its ``taskId``.

:class:`BaseVpcClient` holds what the API 3.0 client (``bot.tencent.client_v3``) shares with this one: the retry
policy, the per-action counter, the HTTP error mapping and the secret hygiene of every attempt.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Self, TypeVar

import httpx
from pydantic import SecretStr

from bot.tencent.errors import (
    ApiError,
    CloudError,
    CloudTimeoutError,
    NotFoundError,
    ResponseError,
    ServerError,
    TransportError,
)
from bot.tencent.signing import SignatureMethod, sign, string_to_sign
from bot.tencent.tasks import TaskId, TaskState, TaskStatus
from bot.tencent.wire import DESCRIBE_LIMIT_MAX, REDACTED, describe_params, modify_params, task_params
from bot.vpn.connection import CloudDataError, VpnConnection, connection_from_describe
from bot.vpn.edit import Proposal

__all__ = ["DEFAULT_ENDPOINT", "BaseVpcClient", "Credentials", "VpcClient"]

log = logging.getLogger("bot.tencent")

DEFAULT_ENDPOINT = "https://vpc.api.qcloud.com/v2/index.php"
DESCRIBE = "DescribeVpnConn"
MODIFY = "ModifyVpnConnEx"
TASK = "DescribeVpcTaskResult"
NOT_FOUND = "InvalidVpnConn.NotFound"
_JITTER = 0.1
IN_FLIGHT = 16
_LIMITS = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
_DETAIL_MAX = 200


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
    by anything here, and a timeout on one says that the outcome is unknown.
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
    ) -> None:
        url = httpx.URL(endpoint)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"endpoint must be an http(s) URL, got {endpoint!r}")
        if timeout <= 0 or read_attempts < 1 or retry_base < 0:
            raise ValueError("need timeout > 0, read_attempts >= 1 and retry_base >= 0")
        self._credentials = credentials
        self._endpoint = endpoint
        self._host = url.host
        self._netloc = url.netloc.decode("ascii")
        self._path = url.path or "/"
        self._region = region
        self._timeout = timeout
        self._read_attempts = read_attempts
        self._retry_base = retry_base
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=httpx.Timeout(timeout), limits=_LIMITS)
        # At most IN_FLIGHT requests at once: more would wait inside httpcore's pool, which re-scans every queued
        # request on each change (quadratic) and blocks the event loop when a thousand tasks are followed at once.
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)
        self._calls: Counter[str] = Counter()

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
    def calls(self) -> Counter[str]:
        """A snapshot of the number of requests sent per action, every attempt counted."""
        return Counter(self._calls)

    def _request(self, action: str, params: Params) -> dict[str, Any]:
        """The signed request for one attempt, as keyword arguments of ``httpx.AsyncClient.post``."""
        raise NotImplementedError

    def _body(self, action: str, response: httpx.Response) -> dict[str, Any]:
        """The answer's JSON object in the dialect's shape; a TransportError (or ResponseError) otherwise."""
        raise NotImplementedError

    def _refusal(self, action: str, body: Mapping[str, Any], scrub: list[str]) -> ApiError | None:
        """The ApiError this answer is, with every ``scrub`` value masked in its texts; None for success."""
        raise NotImplementedError

    async def _read(self, action: str, params: Params) -> dict[str, Any]:
        attempt = 1
        while True:
            try:
                return await self._call(action, params, attempt)
            except CloudError as error:
                if attempt >= self._read_attempts or not _worth_retrying(error):
                    raise
                delay = self._retry_base * 2 ** (attempt - 1) * (1 + random.uniform(0, _JITTER))
                log.info("%s attempt %d: %s, retrying in %.2f s", action, attempt, type(error).__name__, delay)
            await asyncio.sleep(delay)
            attempt += 1

    async def _call(self, action: str, params: Params, attempt: int, scrub: Iterable[str] = ()) -> dict[str, Any]:
        """One signed request; the answer's JSON object when it is a success, else the matching CloudError."""
        request = self._request(action, params)
        self._calls[action] += 1
        started = time.perf_counter()
        try:
            body = self._body(action, await self._send(action, request))
        except CloudError as error:
            log.info("%s attempt %d: %s after %.0f ms", action, attempt, type(error).__name__, _ms(started))
            raise
        hidden = [self._credentials.secret_key.get_secret_value(), self._credentials.token or "", *scrub]
        refusal = self._refusal(action, body, [value for value in hidden if value])
        outcome = "ok" if refusal is None else f"code {str(refusal.code)[:60]}"
        level = logging.DEBUG if refusal is None else logging.INFO
        log.log(level, "%s attempt %d: %s in %.0f ms", action, attempt, outcome, _ms(started))
        if refusal is not None:
            raise refusal
        return body

    def _decoded(self, action: str, response: httpx.Response) -> object:
        """The decoded JSON answer; ServerError for HTTP 5xx, TransportError when it is not JSON."""
        status = response.status_code
        if status >= 500:
            raise ServerError(action, status)
        body = _json(response)
        if body is None:
            raise TransportError(action, f"HTTP {status}: the answer is not JSON")
        return body

    async def _send(self, action: str, request: Mapping[str, Any]) -> httpx.Response:
        try:
            async with self._in_flight:
                return await self._http.post(self._endpoint, timeout=self._timeout, **request)
        except httpx.TimeoutException as error:
            unknown = "; the edit may or may not have been applied" if action in self._EDITS else ""
            failure: CloudError = CloudTimeoutError(
                action, f"no answer within {self._timeout:g} s ({type(error).__name__}){unknown}"
            )
        except httpx.RequestError as error:
            failure = TransportError(action, f"{type(error).__name__}: {str(error)[:_DETAIL_MAX]}")
        raise failure  # outside the handler: the httpx error (its request holds the signed request) is not chained


class VpcClient(BaseVpcClient[Mapping[str, str]]):
    """The VPC API 2.0 client. Use as ``async with VpcClient(...) as client:`` or call :meth:`aclose`.

    The signature covers ``POST`` + the endpoint's host WITHOUT its port (the host as the server sees it, minus
    the port) + the endpoint's path. ``timeout`` (seconds) bounds every request, including on a caller's ``http``
    client (which :meth:`aclose` leaves open). A read is tried up to ``read_attempts`` times, waiting
    ``retry_base * 2**n`` seconds (plus up to 10 % jitter) before retry ``n + 1``.
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
    ) -> None:
        super().__init__(
            credentials,
            endpoint=endpoint,
            region=region,
            timeout=timeout,
            read_attempts=read_attempts,
            retry_base=retry_base,
            http=http,
        )
        self._method: SignatureMethod = signature_method

    async def describe_vpn_conn(self, vpn_conn_id: str) -> VpnConnection:
        """The connection ``vpn_conn_id`` (``vpnx-...``, or the numeric id); NotFoundError if there is none."""
        body = await self._read(DESCRIBE, describe_params(vpn_conn_id=vpn_conn_id, limit=DESCRIBE_LIMIT_MAX))
        found = _connections(body)
        matching = [c for c in found if c.vpn_conn_id == vpn_conn_id]
        if matching or len(found) == 1:
            return (matching or found)[0]
        raise NotFoundError(DESCRIBE, NOT_FOUND, NOT_FOUND, f"no VPN connection {vpn_conn_id}")

    async def list_vpn_conns(
        self, *, vpc_id: str | None = None, vpn_gw_id: str | None = None, name: str | None = None
    ) -> list[VpnConnection]:
        """Every connection matching the filters (``name`` fuzzily), reading pages of 50 until ``totalCount``."""
        found: list[VpnConnection] = []
        while True:
            params = describe_params(vpc_id=vpc_id, vpn_gw_id=vpn_gw_id, name=name, offset=len(found))
            body = await self._read(DESCRIBE, params)
            page = _connections(body)
            found.extend(page)
            if not page or len(found) >= _total_count(body, len(found)):
                return found

    async def modify_vpn_conn(self, connection: VpnConnection, proposal: Proposal) -> int:
        """Send the edit once and return its ``taskId``. Never retried: on CloudTimeoutError, ServerError or
        another TransportError the outcome is unknown, so re-read the connection before anything else."""
        params = modify_params(connection, proposal)
        log.info("%s %s: sending %s", MODIFY, connection.vpn_conn_id, ", ".join(sorted(params)))
        key = proposal.pre_shared_key
        body = await self._call(MODIFY, params, attempt=1, scrub=[key.get_secret_value()] if key else [])
        return _task_id(body)

    async def task_status(self, task_id: TaskId) -> TaskState:
        """The task's state from ``DescribeVpcTaskResult`` (status 0 succeeded, 1 failed, anything else running).

        API 2.0 task ids are numbers: a string of digits is read as one, any other string raises ValueError (a
        task id of the other dialect; nothing is sent).
        """
        number = as_int(task_id)
        if number is None:
            raise ValueError(f"an API 2.0 task id is a number, got {str(task_id)[:60]!r}")
        return _task_state(await self._read(TASK, task_params(number)))

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
        text = string_to_sign("POST", self._host, self._path, form)
        form["Signature"] = sign(self._credentials.secret_key.get_secret_value(), text, self._method)
        return form

    def _body(self, action: str, response: httpx.Response) -> dict[str, Any]:
        """The JSON object answer; the body never reaches an exception (it may hold a key)."""
        body = self._decoded(action, response)
        if not isinstance(body, dict) or "code" not in body:
            status = response.status_code
            raise ResponseError(action, f"HTTP {status}: the answer is not an API 2.0 object with a code")
        return body

    def _refusal(self, action: str, body: Mapping[str, Any], scrub: list[str]) -> ApiError | None:
        return None if _is_success(body.get("code")) else _api_error(action, body, scrub)


def _json(response: httpx.Response) -> object:
    """The decoded body, or None when it is not JSON; the decoder's error (it holds the body) goes no further."""
    try:
        return response.json()
    except ValueError:
        return None


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _worth_retrying(error: CloudError) -> bool:
    if isinstance(error, ApiError):
        return error.retryable
    return isinstance(error, TransportError) and not isinstance(error, ResponseError)


def _is_success(code: object) -> bool:
    return (type(code) is int and code == 0) or (isinstance(code, str) and code.strip() == "0")


def _api_error(action: str, body: Mapping[str, Any], scrub: Iterable[str]) -> ApiError:
    """The ApiError for an answer with a non-zero code; ``scrub`` values are masked in its texts."""
    raw = body.get("code")
    code: int | str = raw if isinstance(raw, int | str) and not isinstance(raw, bool) else str(raw)
    hidden = [s for s in scrub if s]
    desc = masked(str(body.get("codeDesc") or ""), hidden)
    message = masked(str(body.get("message") or ""), hidden)
    error = ApiError(action, code, desc, message)
    if desc.endswith(".NotFound") or error.numeric_code == 5000:
        return NotFoundError(action, code, desc, message)
    return error


def masked(text: str, hidden: Iterable[str]) -> str:
    """``text`` with every value of ``hidden`` replaced by ``***`` (shared by both dialects' error texts)."""
    for value in hidden:
        text = text.replace(value, REDACTED)
    return text


def _connections(body: Mapping[str, Any]) -> list[VpnConnection]:
    """The ``data[]`` items of a DescribeVpnConn answer, normalised (the raw items, with their keys, go no further)."""
    items = body.get("data")
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
        raise ResponseError(DESCRIBE, "data is not a list of connection objects")
    try:
        return [connection_from_describe(item) for item in items]
    except CloudDataError as error:  # its message names the field, never a value that could be a key
        raise ResponseError(DESCRIBE, str(error)) from None


def as_int(raw: object) -> int | None:
    """``raw`` as an int when it is one or a string of digits (the API sends numbers either way), else None."""
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        return None
    text = str(raw).strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _total_count(body: Mapping[str, Any], default: int) -> int:
    count = as_int(body.get("totalCount"))
    return default if count is None else count


def _task_id(body: Mapping[str, Any]) -> int:
    data = body.get("data")
    task_id = as_int(data.get("taskId")) if isinstance(data, Mapping) else None
    if task_id is None:
        raise ResponseError(MODIFY, "answered success without a numeric data.taskId; the edit may have been applied")
    return task_id


_TASK_STATUSES: dict[int | None, TaskStatus] = {0: TaskStatus.SUCCEEDED, 1: TaskStatus.FAILED}
# Where a failed task's words may be: the API 2.0 docs name none, so the usual field names are tried in order.
_TASK_MESSAGE_FIELDS = ("message", "output", "errorMessage", "errMsg")


def _task_state(body: Mapping[str, Any]) -> TaskState:
    data = body.get("data")
    if not isinstance(data, Mapping):
        raise ResponseError(TASK, "the answer has no data object")
    status = _TASK_STATUSES.get(as_int(data.get("status")), TaskStatus.RUNNING)
    if status is not TaskStatus.FAILED:
        return TaskState(status)
    words = [data.get(name) for name in _TASK_MESSAGE_FIELDS] + [body.get("message")]
    return TaskState(status, next((w for w in words if isinstance(w, str) and w), ""))
