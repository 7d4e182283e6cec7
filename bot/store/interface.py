"""What the change service needs of a store: the interface the embedded SQLite store satisfies, and that a store
shared by several replicas (a later step) must satisfy too.

Its promises, which any implementation keeps: ``claim`` is an atomic check-and-set persisted before it returns (any
number of concurrent claims of one move: exactly one wins, the others raise ClaimConflictError carrying the request
as stored); a connection has at most one open request (``create`` raises OpenRequestExistsError); the pre-shared key
is kept encrypted and erased when the request ends; every create and transition is appended to the audit chain; a
write the store cannot make raises StoreUnavailableError, and ``wait_writable`` returns once one can be made.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, Protocol, Unpack

from pydantic import SecretStr

from bot.vpn.change import ChangeRequest, ChangeState, RequestUpdate

__all__ = ["ChangeStore"]


class ChangeStore(Protocol):
    """Change requests, their pending keys, the fronts' records of them and the audit chain (see the module)."""

    @property
    def fault(self) -> str | None:
        """Why the last write failed (None while writes succeed)."""
        ...

    async def wait_writable(self, poll_seconds: float = 2.0) -> None: ...

    async def create(
        self,
        request: ChangeRequest,
        psk: SecretStr | None,
        *,
        max_open_per_requester: int | None = None,
        front_record: Mapping[str, Any] | None = None,
    ) -> None: ...

    async def get(self, request_id: str) -> ChangeRequest | None: ...

    async def claim(
        self,
        request_id: str,
        expected: Collection[ChangeState],
        to: ChangeState,
        *,
        actor: str,
        at: datetime,
        note: str = "",
        **changes: Unpack[RequestUpdate],
    ) -> ChangeRequest: ...

    async def open_request_for(self, vpn_conn_id: str) -> ChangeRequest | None: ...

    async def in_states(self, states: Collection[ChangeState]) -> list[ChangeRequest]: ...

    async def expired(self, now: datetime) -> list[ChangeRequest]: ...

    async def psk(self, request_id: str) -> SecretStr | None: ...

    async def front_record(self, request_id: str) -> dict[str, Any] | None: ...

    async def front_records(self, request_ids: Collection[str]) -> dict[str, dict[str, Any]]: ...

    async def save_front_record(self, request_id: str, record: Mapping[str, Any]) -> None: ...
