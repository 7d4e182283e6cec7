"""What the rest of vpnbot may rely on of a cloud client, whichever API generation it speaks, and the factory.

``slack/``, ``cli.py`` and ``cloud.py`` hold a :class:`CloudClient` and never ask which dialect is behind it:
both speak the seed's parameter names (``bot.vpn``), raise the same errors (``bot.tencent.errors``) and follow the
same policy (reads retried with backoff, the edit sent once, again only after an "over the rate limit" refusal;
each action kept under its rate limit), and raise nothing but CloudError whatever the cloud answers. The only visible difference is the task id: an int
under API 2.0, the edit's ``RequestId`` string under API 3.0 (:data:`~bot.tencent.tasks.TaskId`), the action
names ``calls`` counts, and Tencent's peer configuration, which only API 3.0 has (API 2.0's client raises
UnsupportedActionError, sending nothing).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Literal, Protocol, Self, TypeAlias

import httpx
from pydantic import SecretStr

from bot.tencent.client import DEFAULT_ENDPOINT, Credentials, VpcClient
from bot.tencent.client_v3 import DEFAULT_ENDPOINT_V3, VpcClientV3
from bot.tencent.limits import TENCENT_RATE_LIMITS
from bot.tencent.listing import ConnectionListing
from bot.tencent.peer import GatewayVendor
from bot.tencent.signing import SignatureMethod
from bot.tencent.tasks import TaskId, TaskState
from bot.vpn.connection import SecretFingerprints, VpnConnection
from bot.vpn.edit import Proposal

__all__ = ["DEFAULT_ENDPOINTS", "CloudApi", "CloudClient", "make_client"]

CloudApi: TypeAlias = Literal["v2", "v3"]
DEFAULT_ENDPOINTS: dict[CloudApi, str] = {"v2": DEFAULT_ENDPOINT, "v3": DEFAULT_ENDPOINT_V3}


class CloudClient(Protocol):
    """A VPC client for vpnbot's actions. Use as ``async with client:`` or call :meth:`aclose`."""

    @property
    def calls(self) -> Counter[str]:
        """A snapshot of the number of requests sent per API action, every attempt counted."""
        ...

    @property
    def rate_limits(self) -> dict[str, int]:
        """The per-second rate the client keeps each limited action under; an action not named is not limited."""
        ...

    @property
    def fingerprints(self) -> SecretFingerprints:
        """What fingerprints the pre-shared key of every connection the client reads (``psk_fingerprint``): the
        one given to the client, or a random one for its life."""
        ...

    @property
    def edit_action(self) -> str:
        """The API action that edits a connection (``ModifyVpnConnEx`` or ``ModifyVpnConnectionAttribute``)."""
        ...

    def add_change_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` whenever a connection may have changed (after an edit is sent, whatever its answer;
        when a poll finds a task done), to empty caches of what the cloud said."""
        ...

    async def describe_vpn_conn(self, vpn_conn_id: str) -> VpnConnection:
        """The connection ``vpn_conn_id``; NotFoundError if there is none, ResponseError (naming the field, never
        a value) if the cloud describes it in a way vpnbot cannot read."""
        ...

    async def pre_shared_key(self, vpn_conn_id: str) -> SecretStr | None:
        """The connection's current pre-shared key, for one purpose only: to keep it (encrypted, by the store) so
        that a change of the key can be reverted. None when the cloud reports no key. A read like
        :meth:`describe_vpn_conn` (same retries, limits and errors); the key is checked against the fingerprint
        the same read gives the connection, so ``fingerprints.of(key)`` is that read's ``psk_fingerprint``:
        compare it with a connection you hold (``settings.psk_is``) to know it is the key you saw. ResponseError
        (naming the field, never the value) for a key that is not text or is longer than ``PRE_SHARED_KEY_MAX``.
        The key is in no log line, exception text or ``repr``: only in the SecretStr returned."""
        ...

    async def customer_gateway_vendors(self) -> list[GatewayVendor]:
        """The devices Tencent writes peer configurations for, in its order (API 3.0's
        ``DescribeCustomerGatewayVendors``); UnsupportedActionError under API 2.0, nothing sent."""
        ...

    async def customer_gateway_configuration(
        self, connection: VpnConnection, vendor: GatewayVendor, interface_name: str = ""
    ) -> str:
        """Tencent's configuration of ``vendor``'s device for ``connection`` (API 3.0's
        ``DownloadCustomerGatewayConfiguration``), as Tencent wrote it: it MAY HOLD THE PRE-SHARED KEY in plain
        text, so redact it before showing it to anyone. ResponseError for an answer that is not text or larger than
        ``bot.tencent.peer.CONFIGURATION_MAX_BYTES``; ValueError (nothing sent) for a bad ``interface_name``;
        UnsupportedActionError under API 2.0, nothing sent."""
        ...

    async def list_vpn_conns(
        self, *, vpc_id: str | None = None, vpn_gw_id: str | None = None, name: str | None = None
    ) -> ConnectionListing:
        """Every connection matching the filters, all pages read: the readable ones, and the unreadable ones named
        (one unreadable item hides nothing else)."""
        ...

    async def modify_vpn_conn(self, connection: VpnConnection, proposal: Proposal) -> TaskId:
        """Send the edit exactly once and return the id of the task that applies it. ApiError means a well-formed
        refusal (nothing changed); on CloudTimeoutError, ServerError or another TransportError (ResponseError
        included: an answer that cannot be read) the outcome is unknown: re-read the connection before anything."""
        ...

    async def task_status(self, task_id: TaskId) -> TaskState:
        """One poll of the task: running, succeeded, or failed with the cloud's words; NO_TASK when the service
        keeps no task by that id (API 3.0: nothing documents its edit as asynchronous)."""
        ...

    async def aclose(self) -> None:
        """Release the HTTP client if the cloud client made it."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...


def make_client(
    api: CloudApi,
    credentials: Credentials,
    *,
    endpoint: str | None = None,
    region: str = "ap-guangzhou",
    signature_method: SignatureMethod = "HmacSHA256",
    timeout: float = 10.0,
    read_attempts: int = 4,
    retry_base: float = 0.5,
    http: httpx.AsyncClient | None = None,
    rate_limits: Mapping[str, int] | None = None,
    limit_retry_base: float = 1.0,
    fingerprints: SecretFingerprints | None = None,
) -> CloudClient:
    """The client for ``api``: ``VpcClient`` (API 2.0) or ``VpcClientV3`` (API 3.0).

    ``endpoint`` None means the dialect's own (``DEFAULT_ENDPOINTS``). ``signature_method`` applies to API 2.0
    only: API 3.0 always signs with TC3-HMAC-SHA256. ``credentials.token`` is sent either way (``Token`` or
    ``X-TC-Token``). ``rate_limits`` None means the dialect's own: Tencent's documented rates under API 3.0
    (``TENCENT_RATE_LIMITS``), none under API 2.0, which documents none. ``fingerprints`` keys the pre-shared key's
    fingerprints (None: a random key for the client's life). Raises ValueError for an unknown ``api`` or a bad
    option.
    """
    url = endpoint if endpoint is not None else DEFAULT_ENDPOINTS.get(api)
    if api == "v2" and url is not None:
        return VpcClient(
            credentials,
            endpoint=url,
            region=region,
            signature_method=signature_method,
            timeout=timeout,
            read_attempts=read_attempts,
            retry_base=retry_base,
            http=http,
            rate_limits=rate_limits,
            limit_retry_base=limit_retry_base,
            fingerprints=fingerprints,
        )
    if api == "v3" and url is not None:
        return VpcClientV3(
            credentials,
            endpoint=url,
            region=region,
            timeout=timeout,
            read_attempts=read_attempts,
            retry_base=retry_base,
            http=http,
            rate_limits=TENCENT_RATE_LIMITS if rate_limits is None else rate_limits,
            limit_retry_base=limit_retry_base,
            fingerprints=fingerprints,
        )
    raise ValueError(f"unknown cloud API {api!r}: expected 'v2' or 'v3'")
