"""What can go wrong with the state file, as exceptions a caller may show as they are (no secret is ever in them)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from bot.vpn.change import ChangeRequest, ChangeState

__all__ = [
    "ClaimConflictError",
    "OpenRequestExistsError",
    "StoreClosedError",
    "StoreError",
    "StoreKeyError",
    "StoreUnavailableError",
    "TooManyOpenRequestsError",
    "UnknownRequestError",
]


class StoreError(Exception):
    """Something about the state file that a caller may report as is."""


class StoreKeyError(StoreError):
    """The store key is malformed, missing, or cannot decrypt the secrets in the state file."""


class StoreUnavailableError(StoreError):
    """The state file cannot be written (or read) now: the disk is full, an I/O error, a read-only file, another
    process holding its write lock beyond the lock timeout. Nothing of the operation was kept.

    The store itself keeps working: the next operation is tried afresh, :attr:`Store.fault` says why writes fail
    meanwhile, and :meth:`Store.wait_writable` returns once a write succeeds again."""


class StoreClosedError(StoreError):
    """The store was closed."""


class UnknownRequestError(StoreError, LookupError):
    """No request has this id."""


class OpenRequestExistsError(StoreError):
    """The connection already has an open request; ``request`` is that request."""

    def __init__(self, request: ChangeRequest) -> None:
        self.request = request
        super().__init__(
            f"{request.vpn_conn_id} already has an open change request {request.id} ({request.state}, "
            f"asked by {request.requester})"
        )


class TooManyOpenRequestsError(StoreError):
    """The requester already holds ``limit`` open requests; ``requests`` are those, oldest first."""

    def __init__(self, requester: str, requests: Sequence[ChangeRequest], limit: int) -> None:
        self.requester = requester
        self.requests = list(requests)
        self.limit = limit
        ids = ", ".join(r.id for r in self.requests)
        super().__init__(
            f"{requester} already has {len(self.requests)} open change request{'s' if len(self.requests) != 1 else ''}"
            f" ({ids}), the most one person may hold at once ({limit})"
        )


class ClaimConflictError(StoreError):
    """The request was not in an expected state; ``request`` is the request as stored now."""

    def __init__(self, request: ChangeRequest, expected: Collection[ChangeState]) -> None:
        self.request = request
        self.expected = frozenset(expected)
        last = request.last_transition
        by = f" (by {last.actor} at {last.at.isoformat()})" if last is not None else ""
        super().__init__(
            f"change request {request.id} is {request.state}{by}, not {' or '.join(sorted(self.expected))}"
        )
