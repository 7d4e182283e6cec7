"""An async client for Tencent Cloud VPC API 3.0, with the same surface as the API 2.0 ``VpcClient``.

``DescribeVpnConnections`` and ``DescribeVpcTaskResult`` are reads, retried like API 2.0's (backoff on transport
failures, HTTP 5xx and the transient codes ``RequestLimitExceeded*``, ``InternalError*``, ``ServiceUnavailable*``).
``ModifyVpnConnectionAttribute`` is the edit: sent exactly once; its ``RequestId`` is the task id that
``DescribeVpcTaskResult`` follows. The retry loop, the counter and the secret hygiene are
``bot.tencent.client.BaseVpcClient``'s; this module adds TC3 signing, the JSON shapes and the mapping to the seed's
names (``bot.tencent.wire_v3``).

Each request is a POST of compact UTF-8 JSON (non-ASCII sent as is) with the headers ``Authorization`` (TC3-HMAC-
SHA256, service ``vpc``), ``Content-Type: application/json; charset=utf-8``, ``Host``, ``X-TC-Action``,
``X-TC-Version: 2017-03-12``, ``X-TC-Region``, ``X-TC-Timestamp`` and, for temporary credentials, ``X-TC-Token``.
The signature's ``host`` is the endpoint's host WITHOUT its port, as for API 2.0: the server sees the ``Host``
header (which carries the port when the endpoint has one) and signs it minus the port; for the real endpoint the
two are the same. The body is serialised once and those very bytes are signed and sent.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import httpx

from bot.tencent.client import BaseVpcClient, Credentials, as_int, masked
from bot.tencent.errors import ApiError, NotFoundError, ResponseError
from bot.tencent.signing import TC3_CONTENT_TYPE, tc3_authorization
from bot.tencent.tasks import TaskId, TaskState, TaskStatus
from bot.tencent.wire_v3 import API_VERSION, describe_payload, item_to_v2, modify_payload, task_payload
from bot.vpn.connection import CloudDataError, VpnConnection, connection_from_describe
from bot.vpn.edit import Proposal

__all__ = ["DEFAULT_ENDPOINT_V3", "SERVICE", "VpcClientV3"]

log = logging.getLogger("bot.tencent")

DEFAULT_ENDPOINT_V3 = "https://vpc.tencentcloudapi.com/"
SERVICE = "vpc"
DESCRIBE = "DescribeVpnConnections"
MODIFY = "ModifyVpnConnectionAttribute"
TASK = "DescribeVpcTaskResult"
NOT_FOUND = "ResourceNotFound"

_TASK_STATUSES = {"SUCCESS": TaskStatus.SUCCEEDED, "FAILED": TaskStatus.FAILED}


class VpcClientV3(BaseVpcClient[Mapping[str, Any]]):
    """The VPC API 3.0 client. Use as ``async with VpcClientV3(...) as client:`` or call :meth:`aclose`.

    Options as for ``VpcClient`` (there is no signature method to choose: API 3.0 signs with TC3-HMAC-SHA256 only).
    ``calls`` counts the API 3.0 action names.
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

    async def describe_vpn_conn(self, vpn_conn_id: str) -> VpnConnection:
        """The connection ``vpn_conn_id`` (``vpnx-...``); NotFoundError when the API says so or answers with no
        such item."""
        response = await self._read(DESCRIBE, describe_payload(vpn_conn_id=vpn_conn_id))
        matching = [c for c in _connections(response) if c.vpn_conn_id == vpn_conn_id]
        if matching:
            return matching[0]
        raise NotFoundError(DESCRIBE, NOT_FOUND, NOT_FOUND, f"no VPN connection {vpn_conn_id}")

    async def list_vpn_conns(
        self, *, vpc_id: str | None = None, vpn_gw_id: str | None = None, name: str | None = None
    ) -> list[VpnConnection]:
        """Every connection matching the filters, reading pages of 100 until ``TotalCount``."""
        found: list[VpnConnection] = []
        while True:
            payload = describe_payload(vpc_id=vpc_id, vpn_gw_id=vpn_gw_id, name=name, offset=len(found))
            response = await self._read(DESCRIBE, payload)
            page = _connections(response)
            found.extend(page)
            total = as_int(response.get("TotalCount"))
            if not page or len(found) >= (len(found) if total is None else total):
                return found

    async def modify_vpn_conn(self, connection: VpnConnection, proposal: Proposal) -> str:
        """Send the edit once and return its ``RequestId`` (the task id). Never retried: on CloudTimeoutError,
        ServerError or another TransportError the outcome is unknown, so re-read the connection first."""
        payload = modify_payload(connection, proposal)
        log.info("%s %s: sending %s", MODIFY, connection.vpn_conn_id, ", ".join(sorted(payload)))
        key = proposal.pre_shared_key
        response = await self._call(MODIFY, payload, attempt=1, scrub=[key.get_secret_value()] if key else [])
        request_id = response.get("RequestId")
        if not isinstance(request_id, str) or not request_id:
            raise ResponseError(MODIFY, "answered success without a RequestId; the edit may have been applied")
        return request_id

    async def task_status(self, task_id: TaskId) -> TaskState:
        """The task's state from ``DescribeVpcTaskResult``: ``Status`` SUCCESS or FAILED (with ``Output`` as the
        cloud's words), anything else running."""
        response = await self._read(TASK, task_payload(task_id))
        status = response.get("Status")
        if not isinstance(status, str):
            raise ResponseError(TASK, "the answer has no Status")
        state = _TASK_STATUSES.get(status.strip().upper(), TaskStatus.RUNNING)
        if state is not TaskStatus.FAILED:
            return TaskState(state)
        output = response.get("Output")
        return TaskState(state, output if isinstance(output, str) else "")

    def _request(self, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        body = json.dumps(params, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = int(time.time())
        authorization = tc3_authorization(
            self._credentials.secret_id,
            self._credentials.secret_key.get_secret_value(),
            service=SERVICE,
            host=self._host,
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

    def _body(self, action: str, response: httpx.Response) -> dict[str, Any]:
        """The ``Response`` object of the answer; the body never reaches an exception (it may hold a key)."""
        decoded = self._decoded(action, response)
        inner = decoded.get("Response") if isinstance(decoded, dict) else None
        if not isinstance(inner, dict):
            status = response.status_code
            raise ResponseError(action, f"HTTP {status}: the answer is not an API 3.0 object with a Response")
        error = inner.get("Error")
        if error is not None and not (isinstance(error, Mapping) and isinstance(error.get("Code"), str)):
            raise ResponseError(action, "the answer's Response.Error has no Code")
        return inner

    def _refusal(self, action: str, body: Mapping[str, Any], scrub: list[str]) -> ApiError | None:
        error = body.get("Error")
        if not isinstance(error, Mapping):
            return None
        code = masked(str(error.get("Code")), scrub)
        message = masked(str(error.get("Message") or ""), scrub)
        request_id = body.get("RequestId")
        if isinstance(request_id, str):
            log.info("%s refused with %s, RequestId %s", action, code[:60], request_id[:60])
        kind = NotFoundError if _is_not_found(code) else ApiError
        return kind(action, code, code, message)


def _is_not_found(code: str) -> bool:
    """``ResourceNotFound`` and its sub-codes, and codes whose last part ends in ``NotFound``
    (``InvalidParameterValue.VpnConnectionIdNotFound``), but not ``AuthFailure.SecretIdNotFound``: a key problem."""
    if code.startswith("AuthFailure"):
        return False
    return code.split(".", 1)[0] == NOT_FOUND or code.rsplit(".", 1)[-1].endswith("NotFound")


def _connections(response: Mapping[str, Any]) -> list[VpnConnection]:
    """The ``VpnConnectionSet`` items, normalised through the API 2.0 item shape (the raw items, with their keys,
    go no further)."""
    items = response.get("VpnConnectionSet")
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
        raise ResponseError(DESCRIBE, "VpnConnectionSet is not a list of connection objects")
    try:
        return [connection_from_describe(item_to_v2(item)) for item in items]
    except CloudDataError as error:  # its message names the field, never a value that could be a key
        raise ResponseError(DESCRIBE, str(error)) from None
