"""One error hierarchy for everything that can go wrong talking to Tencent Cloud.

Catch at the level you care about::

    CloudError                      anything below; ``action`` names the API action
    ├── UnsupportedActionError      the client's API generation has no such action (nothing was sent)
    ├── ApiError                    the API refused (``code``, ``code_desc``, ``message``): a non-zero API 2.0
    │                               ``code``, or an API 3.0 ``Response.Error``
    │   └── NotFoundError           the resource does not exist
    └── TransportError              no usable answer: network failure, HTTP error page, not JSON
        ├── CloudTimeoutError       no answer within the timeout
        ├── ServerError             HTTP 5xx (``status``)
        └── ResponseError           JSON, but not in the shape the API documents

No exception text holds a response body, a request parameter value or a key: API errors carry the API's own
``message`` field (which the client scrubs of the key it sent), transport errors name the failure's kind only.
"""

from __future__ import annotations

__all__ = [
    "RATE_LIMIT_CODE",
    "RATE_LIMIT_FAMILY",
    "RETRYABLE_CODES",
    "RETRYABLE_CODE_FAMILIES",
    "ApiError",
    "CloudError",
    "CloudTimeoutError",
    "NotFoundError",
    "ResponseError",
    "ServerError",
    "TransportError",
    "UnsupportedActionError",
    "in_family",
]

# 4400 over quota, 6000 internal error, 6200 API temporarily unavailable (reference section 2).
RETRYABLE_CODES = frozenset({4400, 6000, 6200})
# API 3.0's transient error codes, each with its sub-codes (``RequestLimitExceeded.UinLimitExceeded``): rate limits,
# the service's internal errors, the service briefly unavailable. Nothing about a resource's own state is here
# (``ResourceUnavailable``, ``ResourceInUse``, ``LimitExceeded`` are quota or state, not passing trouble).
RETRYABLE_CODE_FAMILIES = ("RequestLimitExceeded", "InternalError", "ServiceUnavailable")
# Over the rate limit: API 2.0's 4400, API 3.0's RequestLimitExceeded and its sub-codes. The request was refused at
# the gate, so nothing was done: the one refusal after which even the edit may be sent again.
RATE_LIMIT_CODE = 4400
RATE_LIMIT_FAMILY = "RequestLimitExceeded"
_MESSAGE_MAX = 500


class CloudError(Exception):
    """A failed call to the cloud. ``str()`` reads ``"<action> failed: <detail>"``."""

    def __init__(self, action: str, detail: str) -> None:
        super().__init__(f"{action} failed: {detail}")
        self.action = action
        self.detail = detail


class UnsupportedActionError(CloudError):
    """The action exists only in another API generation (Tencent's peer configuration is API 3.0's): nothing was
    sent, and asking again through this client gets the same answer. ``needs`` names the generation that has it."""

    def __init__(self, action: str, needs: str) -> None:
        super().__init__(action, f"not available through this client: it needs Tencent Cloud {needs}")
        self.needs = needs


class ApiError(CloudError):
    """The API refused the call: its ``code`` (int, or a string such as ``"4000"``), ``codeDesc`` and ``message``.

    ``str()`` reads ``"ModifyVpnConnEx failed: 4000 InvalidParameter: <message>"``; the message is cut at 500
    characters. API 3.0 has one error code (``AuthFailure.SignatureFailure``), carried as both ``code`` and
    ``code_desc`` and shown once.
    """

    def __init__(self, action: str, code: int | str, code_desc: str = "", message: str = "") -> None:
        self.code = code
        self.code_desc = code_desc
        self.message = message[:_MESSAGE_MAX]
        head = f"{code} {code_desc}" if code_desc and code_desc != str(code) else str(code)
        super().__init__(action, f"{head}: {self.message}" if self.message else head)

    @property
    def numeric_code(self) -> int | None:
        """``code`` as an int when it is one (``4000`` and ``"4000"`` alike), else None."""
        if isinstance(self.code, int):
            return self.code
        text = self.code.strip()
        return int(text) if text.lstrip("-").isdigit() else None

    @property
    def retryable(self) -> bool:
        """True for errors worth retrying a read on: 4400 over quota, 6000 internal, 6200 unavailable, HTTP-style
        5xx codes (500-599) that gateways in front of the API put into ``code``, and API 3.0's
        ``RequestLimitExceeded``, ``InternalError`` and ``ServiceUnavailable`` codes with their sub-codes."""
        code = self.numeric_code
        if code is None:
            return in_family(str(self.code), RETRYABLE_CODE_FAMILIES)
        return code in RETRYABLE_CODES or 500 <= code <= 599

    @property
    def rate_limited(self) -> bool:
        """True for "over the rate limit" (``4400``, ``RequestLimitExceeded`` and its sub-codes): the request was
        not carried out, so it may be sent again after a wait, the edit included."""
        if self.numeric_code is not None:
            return self.numeric_code == RATE_LIMIT_CODE
        return in_family(str(self.code), (RATE_LIMIT_FAMILY,))


def in_family(code: str, families: tuple[str, ...]) -> bool:
    """Whether the API 3.0 ``code`` is one of ``families`` or a sub-code of one (``RequestLimitExceeded.X``)."""
    return any(code == family or code.startswith(family + ".") for family in families)


class NotFoundError(ApiError):
    """The resource does not exist.

    Raised when a describe by id returns no item (the client then chooses ``code`` and ``code_desc``
    ``"InvalidVpnConn.NotFound"``, the API having answered success with nothing), and when the API itself answers
    with code 5000 or a ``codeDesc`` ending in ``.NotFound`` (``InvalidVpc.NotFound``, ``InvalidVpnGw.NotFound``).
    Under API 3.0: an empty ``VpnConnectionSet`` for an id (code ``ResourceNotFound``), and the API's own
    ``ResourceNotFound`` codes and codes whose last part ends in ``NotFound``
    (``InvalidParameterValue.VpnConnectionIdNotFound``), ``AuthFailure.*`` excepted.
    """


class TransportError(CloudError):
    """No usable answer: the connection failed, or the answer was an error page or not JSON."""


class CloudTimeoutError(TransportError):
    """No answer within the timeout.

    On a read this is safe to retry. On the edit (``ModifyVpnConnEx``) the outcome is UNKNOWN: the cloud may have
    applied the change and started a task. Re-read the connection before deciding anything; never resend blindly.
    """


class ServerError(TransportError):
    """The endpoint answered with HTTP ``status`` 5xx. On the edit the outcome is unknown, as for a timeout."""

    def __init__(self, action: str, status: int) -> None:
        super().__init__(action, f"HTTP {status} from the endpoint")
        self.status = status


class ResponseError(TransportError):
    """The answer was JSON but not in the documented shape (no ``code``, no ``data.taskId``, an unreadable
    connection item). Never retried: asking again gets the same answer."""
