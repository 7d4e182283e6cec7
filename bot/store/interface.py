"""What the change service needs of a store: the interface the embedded SQLite store satisfies, and that a store
shared by several replicas (a later step) must satisfy too.

Its promises, which any implementation keeps: ``claim`` is an atomic check-and-set persisted before it returns (any
number of concurrent claims of one move: exactly one wins, the others raise ClaimConflictError carrying the request
as stored); a connection has at most one open request (``create`` raises OpenRequestExistsError); the pre-shared key
is kept encrypted and erased when the request ends; every create and transition is appended to the audit chain; a
write the store cannot make raises StoreUnavailableError, writes nothing of itself, and ``wait_writable`` returns
once one can be made.

After a change: a request's health watch is kept by ``save_watch`` (an upsert by ``request_id``, for a request that
exists, else a StoreError; not audited) and read back equal by ``watch``; ``active_watches`` are those still
``watching``, the oldest started first. The key the connection had before a request's edit (``keep_old_psk``: a
request whose edit changes the key, a key that is not empty, else ValueError) is encrypted as the pending key is,
with the same key material, survives the request's end, and is returned by ``old_psk`` only while ``now`` is before
its ``until``; ``erase_old_psk`` (idempotent) and ``erase_expired_old_psks`` (every one whose ``until`` has come;
how many) overwrite and delete it. Neither key ever reaches the audit chain, a log line or the file in plain text.
``audit_event`` appends a keyed record of an event that is no transition (not ``created``, no ``FROM->TO``) and
refuses, with ValueError and writing nothing, an action, actor or detail that holds the request's pending or old key.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, Protocol, Unpack

from pydantic import SecretStr

from bot.vpn.change import ChangeRequest, ChangeState, RequestUpdate
from bot.vpn.watch import Watch

__all__ = ["ChangeStore"]


class ChangeStore(Protocol):
    """Change requests, their pending keys, the fronts' records of them, their health watches and old keys, and the
    audit chain (see the module)."""

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

    async def save_watch(self, watch: Watch) -> None: ...

    async def watch(self, request_id: str) -> Watch | None: ...

    async def active_watches(self) -> list[Watch]: ...

    async def keep_old_psk(self, request_id: str, key: SecretStr, *, until: datetime) -> None: ...

    async def old_psk(self, request_id: str, now: datetime) -> SecretStr | None: ...

    async def erase_old_psk(self, request_id: str) -> None: ...

    async def erase_expired_old_psks(self, now: datetime) -> int: ...

    async def audit_event(
        self, request_id: str, *, actor: str, at: datetime, action: str, detail: Mapping[str, Any]
    ) -> None: ...
