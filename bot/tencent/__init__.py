"""The cloud: typed async clients for Tencent Cloud's VPC API 2.0 and API 3.0 behind one interface
(:class:`CloudClient`, built by :func:`make_client`), a task follower, client-side rate limits, one error
hierarchy, and the vendors of Tencent's peer configuration (:class:`GatewayVendor`, :func:`parse_vendor`).

``bot.tencent.wire`` / ``bot.tencent.wire_v3`` (parameter encoding) and ``bot.tencent.signing`` are importable for
tests and the simulator, but callers need only the names below.
"""

from bot.tencent.client import Credentials, VpcClient
from bot.tencent.client_v3 import VpcClientV3
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
from bot.tencent.interface import DEFAULT_ENDPOINTS, CloudApi, CloudClient, make_client
from bot.tencent.limits import TENCENT_RATE_LIMITS, RateLimiter
from bot.tencent.listing import ConnectionListing, ListingCache, ListingKey, UnreadableConnection
from bot.tencent.peer import GatewayVendor, parse_vendor
from bot.tencent.signing import SignatureMethod
from bot.tencent.tasks import (
    CONNECTION_NORMAL,
    Settle,
    TaskFollower,
    TaskId,
    TaskOutcome,
    TaskResult,
    TaskState,
    TaskStatus,
    settled,
)

__all__ = [
    "CONNECTION_NORMAL",
    "DEFAULT_ENDPOINTS",
    "TENCENT_RATE_LIMITS",
    "ApiError",
    "CloudApi",
    "CloudClient",
    "CloudError",
    "CloudTimeoutError",
    "ConnectionListing",
    "Credentials",
    "GatewayVendor",
    "ListingCache",
    "ListingKey",
    "NotFoundError",
    "RateLimiter",
    "ResponseError",
    "ServerError",
    "Settle",
    "SignatureMethod",
    "TaskFollower",
    "TaskId",
    "TaskOutcome",
    "TaskResult",
    "TaskState",
    "TaskStatus",
    "TransportError",
    "UnreadableConnection",
    "UnsupportedActionError",
    "VpcClient",
    "VpcClientV3",
    "make_client",
    "parse_vendor",
    "settled",
]
