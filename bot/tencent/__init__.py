"""The cloud: a typed async client for Tencent Cloud's VPC API 2.0, a task follower, and one error hierarchy.

``bot.tencent.wire`` (parameter encoding) and ``bot.tencent.signing`` are importable for tests and the simulator,
but callers need only the names below.
"""

from bot.tencent.client import Credentials, VpcClient
from bot.tencent.errors import (
    ApiError,
    CloudError,
    CloudTimeoutError,
    NotFoundError,
    ResponseError,
    ServerError,
    TransportError,
)
from bot.tencent.signing import SignatureMethod
from bot.tencent.tasks import TaskFollower, TaskOutcome, TaskResult, TaskState, TaskStatus

__all__ = [
    "ApiError",
    "CloudError",
    "CloudTimeoutError",
    "Credentials",
    "NotFoundError",
    "ResponseError",
    "ServerError",
    "SignatureMethod",
    "TaskFollower",
    "TaskOutcome",
    "TaskResult",
    "TaskState",
    "TaskStatus",
    "TransportError",
    "VpcClient",
]
