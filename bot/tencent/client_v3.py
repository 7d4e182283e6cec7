"""An async client for Tencent Cloud VPC API 3.0, with the same surface as the API 2.0 ``VpcClient``.

``DescribeVpnConnections`` and ``DescribeVpcTaskResult`` are reads, retried like API 2.0's (backoff on transport
failures, HTTP 5xx and the transient codes ``RequestLimitExceeded*``, ``InternalError*``, ``ServiceUnavailable*``).
``ModifyVpnConnectionAttribute`` is the edit: sent once (again only after ``RequestLimitExceeded``, which means it was
not applied); its ``RequestId`` is the task id that ``DescribeVpcTaskResult`` may know. When that answers that there
is no such task (``ResourceNotFound*``, ``InvalidParameterValue*``, ``UnsupportedOperation*``), :meth:`task_status`
says NO_TASK and the follower reads the edit's end from the connection (``bot.tencent.tasks``). The retry loop, the
rate limiters, the counter and the secret hygiene are ``bot.tencent.client.BaseVpcClient``'s; this module adds TC3
signing, the JSON shapes and the mapping to the seed's names (``bot.tencent.wire_v3``).

By default the client keeps under Tencent's documented rates (``bot.tencent.limits.TENCENT_RATE_LIMITS``), and
reads by id are batched: concurrent :meth:`VpcClientV3.describe_vpn_conn` calls share one ``DescribeVpnConnections``
of up to 100 ``VpnConnectionIds``. A batch is closed when its request may be sent: at the next turn of the event loop
when the rate limit leaves room, later when it does not, so the busier the client, the fuller its batches.

Each request is a POST of compact UTF-8 JSON (non-ASCII sent as is) with the headers ``Authorization`` (TC3-HMAC-
SHA256, service ``vpc``), ``Content-Type: application/json; charset=utf-8``, ``Host``, ``X-TC-Action``,
``X-TC-Version: 2017-03-12``, ``X-TC-Region``, ``X-TC-Timestamp`` and, for temporary credentials, ``X-TC-Token``.
The signature's ``host`` is the ``Host`` header sent, port included when the endpoint has one, as Tencent's SDK
signs it (for the real endpoint there is no port). The body is serialised once and those very bytes are signed and sent.

Two more reads are API 3.0's own: the vendors Tencent writes peer configurations for
(``DescribeCustomerGatewayVendors``) and that configuration for one connection
(``DownloadCustomerGatewayConfiguration``, ``bot.tencent.peer``). The configuration may hold the pre-shared key in
plain text: it is handed back as it is and never logged, and a refusal's message is cleared of the connection's
key (found by its fingerprint) before it becomes an ApiError's text. :meth:`VpcClientV3.pre_shared_key` reads the
key itself, alone (not in a batch: it is rare, and its item must be seen whole), as ``bot.tencent.psk`` says.

Any answer is handled as under API 2.0 (``bot.tencent.client``): only a ``Response.Error`` with a well-formed
``Code`` (a short printable text) is an ApiError; an edit answered with anything else unreadable (no readable
``RequestId``, a ``Code`` that is a number) is a ResponseError, whose outcome is unknown.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import httpx
from pydantic import SecretStr

from bot.tencent.client import (
    CODE_MAX,
    PAGES_MAX,
    TASK_MESSAGE_MAX,
    Answer,
    BaseVpcClient,
    Credentials,
    as_int,
    described,
    error_code,
    masked,
    words,
)
from bot.tencent.errors import ApiError, CloudError, NotFoundError, ResponseError, in_family
from bot.tencent.limits import TENCENT_RATE_LIMITS
from bot.tencent.listing import ConnectionListing, read_items
from bot.tencent.peer import (
    DOWNLOAD,
    VENDORS,
    GatewayVendor,
    configuration_payload,
    read_configuration,
    read_vendors,
)
from bot.tencent.psk import ItemSources, live_key
from bot.tencent.signing import TC3_CONTENT_TYPE, tc3_authorization
from bot.tencent.tasks import TaskId, TaskState, TaskStatus
from bot.tencent.wire_v3 import API_VERSION, describe_payload, modify_payload, read_connection, task_payload
from bot.vpn.connection import SecretFingerprints, VpnConnection
from bot.vpn.edit import Proposal
from bot.vpn.redact import redact

__all__ = ["DEFAULT_ENDPOINT_V3", "SERVICE", "VpcClientV3"]

log = logging.getLogger("bot.tencent")

DEFAULT_ENDPOINT_V3 = "https://vpc.tencentcloudapi.com/"
SERVICE = "vpc"
DESCRIBE = "DescribeVpnConnections"
KEY_FIELD = "PreShareKey"
MODIFY = "ModifyVpnConnectionAttribute"
TASK = "DescribeVpcTaskResult"
NOT_FOUND = "ResourceNotFound"
BATCH_MAX = 100  # VpnConnectionIds per DescribeVpnConnections
# DescribeVpcTaskResult's answers for a TaskId the service keeps no task by (reference section 8).
NO_TASK_FAMILIES = ("ResourceNotFound", "InvalidParameterValue", "UnsupportedOperation")
# A batch refused with one of these may be refused for one of its ids: each is then read alone.
_BATCH_REFUSALS = ("ResourceNotFound", "InvalidParameterValue")

_TASK_STATUSES = {"SUCCESS": TaskStatus.SUCCEEDED, "FAILED": TaskStatus.FAILED}
# A RequestId is a UUID; anything else short and plain is accepted, as it becomes the task id shown and stored.
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_STATUS_MAX = 64


class VpcClientV3(BaseVpcClient[Mapping[str, Any]]):
    """The VPC API 3.0 client. Use as ``async with VpcClientV3(...) as client:`` or call :meth:`aclose`.

    Options as for ``VpcClient`` (there is no signature method to choose: API 3.0 signs with TC3-HMAC-SHA256 only).
    ``rate_limits`` defaults to Tencent's documented rates (``{}`` turns them off). ``calls`` counts the API 3.0
    action names.
    """

    _EDITS = frozenset({MODIFY})
    edit_action = MODIFY

    def __init__(
        self,
        credentials: Credentials,
        *,
        endpoint: str = DEFAULT_ENDPOINT_V3,
        region: str = "ap-guangzhou",
        timeout: float = 10.0,
        read_attempts: int = 4,
        retry_base: float = 0.5,
        http: httpx.AsyncClient | None = None,
        rate_limits: Mapping[str, int] | None = TENCENT_RATE_LIMITS,
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
        self._wanted: dict[str, list[asyncio.Future[VpnConnection]]] = {}
        self._collecting = False  # a batch is open: the ids asked for now join it
        self._batches: set[asyncio.Task[None]] = set()

    async def aclose(self) -> None:
        """Stop the batches in flight (their callers see CancelledError), then close the HTTP client if this
        client made it."""
        for batch in list(self._batches):
            batch.cancel()
        await asyncio.gather(*self._batches, return_exceptions=True)
        await super().aclose()

    async def describe_vpn_conn(self, vpn_conn_id: str) -> VpnConnection:
        """The connection ``vpn_conn_id`` (``vpnx-...``); NotFoundError when the API says so or answers with no
        such item. Read in a batch with the other ids asked for meanwhile (see the module's docstring); an id the
        service refuses fails no other id's read."""
        future: asyncio.Future[VpnConnection] = asyncio.get_running_loop().create_future()
        self._wanted.setdefault(vpn_conn_id, []).append(future)
        if not self._collecting:
            self._open_batch()
        return await future

    def _open_batch(self) -> None:
        self._collecting = True
        batch = asyncio.get_running_loop().create_task(self._batch(), name="describe-batch")
        self._batches.add(batch)
        batch.add_done_callback(self._batches.discard)

    async def _batch(self) -> None:
        """Collect ids until the request may be sent, then read up to ``BATCH_MAX`` of them in one request."""
        taken: dict[str, list[asyncio.Future[VpnConnection]]] = {}
        try:
            await asyncio.sleep(0)  # the callers of this turn of the loop join
            await self._turn(DESCRIBE)  # and those that come while the rate limit holds the request
        except asyncio.CancelledError:
            self._collecting = False
            taken, self._wanted = self._wanted, {}
            _cancel(taken)
            raise
        self._collecting = False
        for vpn_conn_id in list(self._wanted)[:BATCH_MAX]:
            taken[vpn_conn_id] = self._wanted.pop(vpn_conn_id)
        if self._wanted:
            self._open_batch()
        ids = [i for i, futures in taken.items() if not all(f.done() for f in futures)]
        try:
            if ids:
                await self._read_batch(ids, taken)
        except asyncio.CancelledError:
            _cancel(taken)
            raise
        except Exception as error:  # a bug here must not leave the callers waiting forever
            for future in (f for futures in taken.values() for f in futures if not f.done()):
                future.set_exception(error)

    async def _read_batch(self, ids: list[str], taken: Mapping[str, list[asyncio.Future[VpnConnection]]]) -> None:
        """Hand each id's callers its connection or error; the request's rate-limit turn is already taken."""
        payload = {**describe_payload(vpn_conn_id=ids[0]), "VpnConnectionIds": ids}
        outcomes: dict[str, VpnConnection | CloudError] = {}
        try:
            response = await self._read(DESCRIBE, payload, granted=True)
            page = self._parsed(DESCRIBE, partial(_connections, response, self.fingerprints))
        except CloudError as error:
            if len(ids) > 1 and isinstance(error, ApiError) and in_family(str(error.code), _BATCH_REFUSALS):
                log.info("%s of %d ids refused with %s: reading each alone", DESCRIBE, len(ids), str(error.code)[:60])
                singles = await asyncio.gather(*(self._read_one(i) for i in ids))
                outcomes = dict(zip(ids, singles, strict=True))
            else:
                outcomes = dict.fromkeys(ids, error)
        else:
            # An unreadable item without a readable id may be any id's: the ids not named on the page are read alone.
            nameless = len(ids) > 1 and any(item.vpn_conn_id is None for item in page.unreadable)
            alone = [i for i in ids if nameless and not _names(page, i)]
            outcomes = {i: _outcome(partial(described, DESCRIBE, NOT_FOUND, i, page)) for i in ids if i not in alone}
            outcomes.update(zip(alone, await asyncio.gather(*(self._read_one(i) for i in alone)), strict=True))
        for vpn_conn_id, outcome in outcomes.items():
            for future in taken[vpn_conn_id]:
                if future.done():
                    continue
                if isinstance(outcome, CloudError):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    async def _read_one(self, vpn_conn_id: str) -> VpnConnection | CloudError:
        """One id read alone: its connection, or the error its read ended with."""
        try:
            response = await self._read(DESCRIBE, describe_payload(vpn_conn_id=vpn_conn_id))
            page = self._parsed(DESCRIBE, partial(_connections, response, self.fingerprints))
            return described(DESCRIBE, NOT_FOUND, vpn_conn_id, page)
        except CloudError as error:
            return error

    async def pre_shared_key(self, vpn_conn_id: str) -> SecretStr | None:
        """The connection's current ``PreShareKey``, to keep (encrypted) so that a change of it can be reverted;
        None when the cloud reports none. Read alone, with :meth:`describe_vpn_conn`'s retries, limits and errors,
        and checked against the fingerprint that read gives the connection: ``fingerprints.of`` of the key is the
        ``psk_fingerprint`` of the connection read with it. ResponseError (naming the field) for a key that is not
        text or longer than ``PRE_SHARED_KEY_MAX``. The key is in no log line, error or ``repr``."""
        log.info("%s %r: reading the pre-shared key, to keep it", DESCRIBE, vpn_conn_id[:64])
        response = await self._read(DESCRIBE, describe_payload(vpn_conn_id=vpn_conn_id))
        return self._parsed(DESCRIBE, partial(_live_key, response, vpn_conn_id, self.fingerprints))

    async def customer_gateway_vendors(self) -> list[GatewayVendor]:
        """The devices Tencent writes peer configurations for (``DescribeCustomerGatewayVendors``), in its order;
        a read like any other. ResponseError (naming the field) for a malformed list."""
        response = await self._read(VENDORS, {})
        return self._parsed(VENDORS, partial(read_vendors, response))

    async def customer_gateway_configuration(
        self, connection: VpnConnection, vendor: GatewayVendor, interface_name: str = ""
    ) -> str:
        """Tencent's configuration of ``vendor``'s device for ``connection``
        (``DownloadCustomerGatewayConfiguration``), as Tencent wrote it: it may hold the pre-shared key in plain
        text, so whoever shows it must redact it first. A read like any other; ValueError (nothing sent) for a bad
        ``interface_name``; ResponseError for an answer that is not text or larger than
        ``CONFIGURATION_MAX_BYTES``; an ApiError's message is cleared of the connection's key."""
        payload = configuration_payload(connection, vendor, interface_name)
        log.info("%s %s: asking for the configuration of a %s", DOWNLOAD, connection.vpn_conn_id, vendor)
        try:
            response = await self._read(DOWNLOAD, payload)
        except ApiError as error:
            refusal = _without_key(error, connection)
        else:
            return self._parsed(DOWNLOAD, partial(read_configuration, response))
        raise refusal  # outside the handler: the original error's message may hold the key

    async def list_vpn_conns(
        self, *, vpc_id: str | None = None, vpn_gw_id: str | None = None, name: str | None = None
    ) -> ConnectionListing:
        """Every connection matching the filters, reading pages of 100 until ``TotalCount``; an item vpnbot cannot
        read is named in ``unreadable`` and hides nothing else."""
        found = ConnectionListing()
        for _ in range(PAGES_MAX):
            payload = describe_payload(vpc_id=vpc_id, vpn_gw_id=vpn_gw_id, name=name, offset=found.count)
            response = await self._read(DESCRIBE, payload)
            page = self._parsed(DESCRIBE, partial(_connections, response, self.fingerprints))
            found += page
            total = as_int(response.get("TotalCount"))
            if not page.count or found.count >= (found.count if total is None else total):
                return found
        raise ResponseError(DESCRIBE, f"the listing did not end within {PAGES_MAX} pages")

    async def modify_vpn_conn(self, connection: VpnConnection, proposal: Proposal) -> str:
        """Send the edit and return its ``RequestId`` (the task id, if the service keeps one). Sent again only after
        ``RequestLimitExceeded`` (not applied; :meth:`BaseVpcClient._edit`): on CloudTimeoutError, ServerError or
        another TransportError (ResponseError included: an answer without a readable ``RequestId``) the outcome is
        unknown, so re-read the connection first. ApiError only for a well-formed refusal."""
        payload = modify_payload(connection, proposal)
        log.info("%s %s: sending %s", MODIFY, connection.vpn_conn_id, ", ".join(sorted(payload)))
        key = proposal.pre_shared_key
        response = await self._edit(MODIFY, payload, [key.get_secret_value()] if key else [])
        return self._parsed(MODIFY, partial(_request_id, response))

    async def task_status(self, task_id: TaskId) -> TaskState:
        """The task's state from ``DescribeVpcTaskResult``: ``Status`` SUCCESS or FAILED (with ``Output`` as the
        cloud's words, cut at 500 characters), any other short text running; no readable ``Status`` is a
        ResponseError. NO_TASK when the service answers that it keeps no task by this id (``NO_TASK_FAMILIES``)."""
        try:
            response = await self._read(TASK, task_payload(task_id))
        except ApiError as error:
            if in_family(str(error.code), NO_TASK_FAMILIES):
                return TaskState(TaskStatus.NO_TASK)
            raise
        state = self._parsed(TASK, partial(_task_state, response))
        if state.done:
            self._changed()
        return state

    def _request(self, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        body = json.dumps(params, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = int(time.time())
        authorization = tc3_authorization(
            self._credentials.secret_id,
            self._credentials.secret_key.get_secret_value(),
            service=SERVICE,
            host=self._netloc,
            timestamp=timestamp,
            payload=body,
            content_type=TC3_CONTENT_TYPE,
            canonical_uri=self._path,
        )
        headers = {
            "Authorization": authorization,
            "Content-Type": TC3_CONTENT_TYPE,
            "Host": self._netloc,
            "X-TC-Action": action,
            "X-TC-Version": API_VERSION,
            "X-TC-Region": self._region,
            "X-TC-Timestamp": str(timestamp),
        }
        if self._credentials.token:
            headers["X-TC-Token"] = self._credentials.token
        return {"content": body, "headers": headers}

    def _body(self, action: str, answer: Answer) -> dict[str, Any]:
        """The ``Response`` object of the answer, its ``Error`` (if any) with a well-formed ``Code``; the body
        never reaches an exception (it may hold a key)."""
        decoded = self._decoded(action, answer)
        inner = decoded.get("Response") if isinstance(decoded, dict) else None
        if not isinstance(inner, dict):
            raise ResponseError(action, f"HTTP {answer.status}: the answer is not an API 3.0 object with a Response")
        error = inner.get("Error")
        if error is not None and not (isinstance(error, Mapping) and isinstance(error_code(error.get("Code")), str)):
            raise ResponseError(action, "the answer's Response.Error has no readable Code")
        return inner

    def _refusal(self, action: str, body: Mapping[str, Any], scrub: list[str]) -> ApiError | None:
        error = body.get("Error")
        if not isinstance(error, Mapping):
            return None
        code = masked(str(error.get("Code")), scrub)[:CODE_MAX]
        message = masked(words(error.get("Message")), scrub)
        request_id = body.get("RequestId")
        if isinstance(request_id, str):
            log.info("%s refused with %s, RequestId %r", action, code[:60], request_id[:60])
        kind = NotFoundError if _is_not_found(code) else ApiError
        return kind(action, code, code, message)


def _names(page: ConnectionListing, vpn_conn_id: str) -> bool:
    """Whether ``page`` holds an item (readable or not) that says it is ``vpn_conn_id``."""
    return any(c.vpn_conn_id == vpn_conn_id for c in page.connections) or any(
        u.vpn_conn_id == vpn_conn_id for u in page.unreadable
    )


def _cancel(waiting: Mapping[str, list[asyncio.Future[VpnConnection]]]) -> None:
    for futures in waiting.values():
        for future in futures:
            future.cancel()


def _outcome(read: Callable[[], VpnConnection]) -> VpnConnection | CloudError:
    try:
        return read()
    except CloudError as error:
        return error


def _is_not_found(code: str) -> bool:
    """``ResourceNotFound`` and its sub-codes, and codes whose last part ends in ``NotFound``
    (``InvalidParameterValue.VpnConnectionIdNotFound``), but not ``AuthFailure.SecretIdNotFound``: a key problem."""
    if code.startswith("AuthFailure"):
        return False
    return code.split(".", 1)[0] == NOT_FOUND or code.rsplit(".", 1)[-1].endswith("NotFound")


def _connections(
    response: Mapping[str, Any],
    fingerprints: SecretFingerprints,
    parse: Callable[[Mapping[str, Any]], VpnConnection] | None = None,
) -> ConnectionListing:
    """The ``VpnConnectionSet`` items, normalised through the API 2.0 item shape by ``parse`` (None: fingerprinted
    by ``fingerprints``; the raw items, with their keys, go no further); ResponseError when ``VpnConnectionSet`` is
    not a list."""
    items = response.get("VpnConnectionSet")
    if items is None:
        return ConnectionListing()
    if not isinstance(items, list):
        raise ResponseError(DESCRIBE, "VpnConnectionSet is not a list of connection objects")
    reader = parse if parse is not None else partial(read_connection, fingerprints=fingerprints)
    return read_items(items, reader, ("VpnConnectionId",))


def _live_key(response: Mapping[str, Any], vpn_conn_id: str, fingerprints: SecretFingerprints) -> SecretStr | None:
    """The ``PreShareKey`` of the item ``describe_vpn_conn`` would read ``vpn_conn_id`` from (same errors)."""
    sources = ItemSources(partial(read_connection, fingerprints=fingerprints))
    page = _connections(response, fingerprints, sources)
    connection = described(DESCRIBE, NOT_FOUND, vpn_conn_id, page)
    return live_key(DESCRIBE, KEY_FIELD, sources.item_of(connection).get(KEY_FIELD), connection, fingerprints)


def _without_key(error: ApiError, connection: VpnConnection) -> ApiError:
    """``error`` with every delimited occurrence of the connection's current key (by its fingerprint) in its
    message replaced; ``error`` itself when there is none."""
    settings = connection.settings
    if settings.psk_fingerprint is None or settings.fingerprints is None:
        return error
    message = redact(error.message, fingerprint=settings.psk_fingerprint, fingerprint_of=settings.fingerprints.of)
    if message == error.message:
        return error
    return type(error)(error.action, error.code, error.code_desc, message)


def _request_id(response: Mapping[str, Any]) -> str:
    request_id = response.get("RequestId")
    if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
        raise ResponseError(MODIFY, "answered success without a readable RequestId; the edit may have been applied")
    return request_id


def _task_state(response: Mapping[str, Any]) -> TaskState:
    status = response.get("Status")
    if not isinstance(status, str) or len(status) > _STATUS_MAX:
        raise ResponseError(TASK, "the answer has no readable Status")
    state = _TASK_STATUSES.get(status.strip().upper(), TaskStatus.RUNNING)
    if state is not TaskStatus.FAILED:
        return TaskState(state)
    return TaskState(state, words(response.get("Output"), TASK_MESSAGE_MAX))
