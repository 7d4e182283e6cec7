"""Persistence: change requests, their pre-shared keys (encrypted) and a hash-chained audit log, in one sqlitedict file.

What a caller may rely on:

- **Serialised, off the loop.** Every operation runs on one dedicated worker thread, in the order called, so the event
  loop never blocks on SQLite and no two operations interleave: :meth:`Store.claim` is an atomic check-and-set.
  Each write is also one SQLite transaction taken with ``BEGIN IMMEDIATE`` across all tables, so a second process on
  the same file (say the CLI) cannot interleave a claim either, and a crash leaves all of a write or none of it.
- **Persisted before the side effect.** A write coroutine returns only after its commit (``synchronous=FULL``). A
  cancelled caller does not undo a write already handed to the worker.
- **The pre-shared key never in plain text.** Requests never hold it; the ``secrets`` table holds Fernet tokens only,
  deleted with ``secure_delete`` when the request ends; the audit log never sees it. The Fernet key is
  ``VPNBOT_STORE_KEY`` (the caller passes it) or else ``<state file>.key``, created 0600 on first use. A key that
  cannot decrypt a stored secret raises :class:`StoreKeyError` naming ``VPNBOT_STORE_KEY``, never a cryptography
  traceback.
- **Tamper-evident audit.** Every create and every transition appends an :class:`AuditRecord` whose hash covers the
  previous record's hash; :func:`verify_chain` names edited, removed and reordered records. The chain's head is kept
  in ``meta`` too, so cutting records off the end shows as well (:meth:`Store.verify_audit`).

Values are stored as JSON text (not sqlitedict's default pickle: a state file must never be able to run code).
Tables: ``requests`` (id -> request JSON), ``secrets`` (id -> Fernet token), ``audit`` (zero-padded sequence number
-> record), ``meta`` (the audit head, a key check, and ``open:<request id>`` -> connection id for open requests).
All four share one SQLite connection, so one commit covers a write across tables.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import logging
import os
import stat
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr
from sqlitedict import SqliteDict

from bot.vpn.change import OPEN_STATES, TERMINAL_STATES, ChangeRequest, ChangeState

__all__ = [
    "AUDIT_GENESIS",
    "AuditRecord",
    "ClaimConflictError",
    "OpenRequestExistsError",
    "Store",
    "StoreClosedError",
    "StoreError",
    "StoreKeyError",
    "UnknownRequestError",
    "audit_hash",
    "key_file_path",
    "verify_chain",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

AUDIT_GENESIS = "0" * 64
"""The ``prev_hash`` of the first audit record."""

_OPEN_PREFIX = "open:"
_AUDIT_HEAD = "audit_head"
_AUDIT_HEAD_LOST = "audit_head_lost"
_KEY_CHECK = "key_check"
_KEY_CHECK_TEXT = b"vpnbot store key check"
_SCHEMA = "schema"
_ENV_KEY = "VPNBOT_STORE_KEY"
# Fields a claim may not set: identity, and what transition() itself maintains.
_CLAIM_PROTECTED = frozenset({"id", "vpn_conn_id", "state", "history", "created_at", "updated_at"})
_CLAIM_FIELDS = frozenset(f.name for f in dataclasses.fields(ChangeRequest)) - _CLAIM_PROTECTED
# What save() writes: where the request is shown and what was found live; never its state or decisions.
SAVED_FIELDS = ("channel", "card_ts", "progress_ts", "origin_channel", "not_live", "final_reply")


class StoreError(Exception):
    """Something about the state file that a caller may report as is."""


class StoreKeyError(StoreError):
    """The store key is malformed, or cannot decrypt the secrets in the state file."""


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


@dataclass(frozen=True)
class AuditRecord:
    """One audit entry. ``hash`` is ``audit_hash(prev_hash, body())``: sha256 over ``prev_hash`` followed by the
    canonical JSON (sorted keys, no spaces) of every other field. ``detail`` never holds the pre-shared key."""

    seq: int
    at: datetime
    request_id: str
    vpn_conn_id: str
    actor: str
    action: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        """The hashed part: every field but ``hash``, as JSON."""
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "request_id": self.request_id,
            "vpn_conn_id": self.vpn_conn_id,
            "actor": self.actor,
            "action": self.action,
            "detail": self.detail,
            "prev_hash": self.prev_hash,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.body(), "hash": self.hash}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditRecord:
        detail = data["detail"]
        if not isinstance(detail, dict):
            raise ValueError("detail is not an object")
        return cls(
            seq=int(data["seq"]),
            at=datetime.fromisoformat(str(data["at"])),
            request_id=str(data["request_id"]),
            vpn_conn_id=str(data["vpn_conn_id"]),
            actor=str(data["actor"]),
            action=str(data["action"]),
            detail=detail,
            prev_hash=str(data["prev_hash"]),
            hash=str(data["hash"]),
        )


def audit_hash(prev_hash: str, body: Mapping[str, Any]) -> str:
    """sha256 hex of ``prev_hash`` + the canonical JSON of ``body``."""
    return hashlib.sha256((prev_hash + _canonical(body)).encode()).hexdigest()


def verify_chain(records: Sequence[AuditRecord], *, head: tuple[int, str] | None = None) -> list[str]:
    """The problems in ``records`` (in stored order), each naming the record; empty when the chain is intact.

    Finds edited records (hash mismatch), removed ones (a sequence gap, a broken link), reordered ones (a sequence
    going back) and, given ``head`` (the last sequence number and hash written), records cut off the end.
    """
    problems: list[str] = []
    prev_seq, prev_hash = 0, AUDIT_GENESIS
    for record in records:
        name = f"record {record.seq}"
        after = f"record {prev_seq}" if prev_seq else "the start of the log"
        if record.seq <= prev_seq:
            problems.append(f"{name} comes after record {prev_seq}: the log was reordered or a record duplicated")
        elif record.seq != prev_seq + 1:
            missing = _span(prev_seq + 1, record.seq - 1)
            problems.append(f"{name} follows {after}: sequence gap, {missing} removed or moved")
        if record.prev_hash != prev_hash:
            problems.append(f"{name}: prev_hash does not match the hash of {after} (broken link)")
        if audit_hash(record.prev_hash, record.body()) != record.hash:
            problems.append(f"{name}: hash mismatch, its content was changed after it was written")
        prev_seq, prev_hash = record.seq, record.hash
    if head is not None and head[0] > 0:
        head_seq, head_hash = head
        if not records:
            problems.append(f"the log is empty, yet {head_seq} records were written: all removed")
        elif (prev_seq, prev_hash) != (head_seq, head_hash):
            problems.append(
                f"the log ends at record {prev_seq}, yet the last record written was record {head_seq} "
                "(records removed from the end, or the last one changed)"
            )
    return problems


def key_file_path(state_path: Path) -> Path:
    """Where the store key lives when ``VPNBOT_STORE_KEY`` is not given: ``<state path>.key``."""
    return state_path.with_name(state_path.name + ".key")


class _Table(SqliteDict):  # type: ignore[misc]
    """A sqlitedict table that can share another table's connection (and so its transactions and its thread).

    Values are JSON text in, raw text out (callers parse, so one unreadable row cannot hide the others).
    """

    def __init__(self, path: Path, name: str, shared: Any = None, *, read_only: bool = False) -> None:
        self._shared = shared
        super().__init__(
            str(path),
            tablename=name,
            flag="r" if read_only else "c",
            autocommit=False,
            journal_mode="WAL",
            encode=_canonical,
            decode=_identity,
            outer_stack=False,
        )

    def _new_conn(self) -> Any:
        return self._shared if self._shared is not None else super()._new_conn()


@dataclass
class _Tables:
    requests: _Table
    secrets: _Table
    audit: _Table
    meta: _Table

    @classmethod
    def open(cls, path: Path, *, read_only: bool = False) -> _Tables:
        requests = _Table(path, "requests", read_only=read_only)
        try:
            conn = requests.conn
            # sqlitedict turns synchronous off; a claim must survive a power cut before its side effect.
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA secure_delete = ON")
            others = (_Table(path, name, conn, read_only=read_only) for name in ("secrets", "audit", "meta"))
            return cls(requests, *others)
        except BaseException:
            requests.close(force=True)
            raise

    @property
    def conn(self) -> Any:
        return self.requests.conn

    def close(self) -> None:
        conn = self.conn
        for table in (self.secrets, self.audit, self.meta):
            table.conn = None  # the shared connection is closed once, below
        if conn is not None:
            try:
                conn.commit(blocking=True)
            finally:
                self.requests.close()


class Store:
    """The bot's state file. Open with :meth:`open`; close with :meth:`close` / :meth:`aclose` (or ``async with``)."""

    def __init__(self, path: Path, fernet: Fernet, key_source: str, executor: ThreadPoolExecutor) -> None:
        self.path = path
        self._fernet = fernet
        self._key_source = key_source
        self._executor = executor
        self._tables: _Tables | None = None
        self._closed = False
        self.key_matches = True
        """False when the state file's secrets were written with another key (they cannot be read)."""
        self._key_material = b""
        self._read_only = False

    def derived_key(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose``, derived from the store key: stable across restarts, secret like it."""
        return hmac.new(self._key_material, b"vpnbot:" + purpose.encode(), hashlib.sha256).digest()

    @classmethod
    def open(cls, path: Path, *, key: str | None = None, read_only: bool = False) -> Store:
        """Open (creating, mode 0600) the state file at ``path``; called once at start, blocks briefly.

        ``key`` is ``VPNBOT_STORE_KEY`` when set; otherwise the key file beside the state file is used, created on
        first use. ``read_only`` (for ``vpnbot audit``) opens an existing file without writing anything to it or
        beside it: no key file is created and every write raises StoreError. Raises StoreKeyError for a malformed
        key, StoreError when the file cannot be opened.
        """
        path = Path(path)
        if not path.parent.is_dir():
            raise StoreError(f"the state file's directory {path.parent} does not exist (VPNBOT_STATE_PATH)")
        if read_only and not path.is_file():
            raise StoreError(f"there is no state file at {path} (VPNBOT_STATE_PATH)")
        key_path = key_file_path(path)
        if key is not None:
            key_text, source = key, _ENV_KEY
        elif read_only and not key_path.exists():
            key_text, source = Fernet.generate_key().decode(), "no key (read-only)"
        else:
            key_text, source = _read_or_create_key(key_path), f"the key file {key_path}"
        fernet = _fernet_from(key_text, _ENV_KEY if key is not None else str(key_path))
        if not read_only:
            _create_private(path)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vpnbot-store")
        store = cls(path, fernet, source, executor)
        store._key_material = key_text.strip().encode()
        store._read_only = read_only
        try:
            store._tables = executor.submit(_Tables.open, path, read_only=read_only).result()
            if not read_only:
                executor.submit(store._write, store._start).result()
        except BaseException as error:
            store.close()
            if isinstance(error, StoreError):
                raise
            raise StoreError(f"cannot open the state file {path}: {error}") from error
        return store

    # -- the async API ------------------------------------------------------------------------------------------------

    async def create(self, request: ChangeRequest, psk: SecretStr | None) -> None:
        """Store a new pending request and its new key (None when the key is unchanged), audited as ``created``.

        Raises OpenRequestExistsError (carrying the open request) when the connection already has one, and
        ValueError when the request is not a new pending one or ``psk`` disagrees with ``psk_changed``.
        """
        if request.state is not ChangeState.PENDING or request.history:
            raise ValueError(f"a new change request must be pending with no history (it is {request.state})")
        if (psk is not None) != request.psk_changed:
            raise ValueError("give the new pre-shared key exactly when psk_changed is set")
        document = request.to_json()

        def work(tables: _Tables) -> None:
            if request.id in tables.requests:
                raise StoreError(f"change request {request.id} already exists")
            existing = self._open_for(tables, request.vpn_conn_id)
            if existing is not None:
                raise OpenRequestExistsError(existing)
            tables.requests[request.id] = document
            if psk is not None:
                tables.secrets[request.id] = self._fernet.encrypt(psk.get_secret_value().encode()).decode()
            tables.meta[_OPEN_PREFIX + request.id] = request.vpn_conn_id
            detail = {
                "conn_name": request.conn_name,
                "vpc_id": request.vpc_id,
                "vpn_gw_id": request.vpn_gw_id,
                "diff": document["diff"],
                "psk_changed": request.psk_changed,
                "base_fingerprint": request.base_fingerprint,
                "expires_at": document["expires_at"],
            }
            _append_audit(tables, request.created_at, request, request.requester, "created", detail)

        await self._run(self._write, work)

    async def get(self, request_id: str) -> ChangeRequest | None:
        """The request as stored now, or None."""
        return await self._run(self._read, lambda tables: _load_request(tables, request_id))

    async def save(self, request: ChangeRequest) -> ChangeRequest:
        """Persist the request's presentation fields (``SAVED_FIELDS``: Slack coordinates, ``not_live``, the final
        reply still to post) onto the stored request and return it. State, history and decisions change only through
        :meth:`claim`, so saving a stale copy never undoes a transition. Raises UnknownRequestError."""
        changes = {name: getattr(request, name) for name in SAVED_FIELDS}

        def work(tables: _Tables) -> ChangeRequest:
            stored = _require(tables, request.id)
            merged = dataclasses.replace(stored, **changes)
            tables.requests[request.id] = merged.to_json()
            return merged

        return await self._run(self._write, work)

    async def claim(
        self,
        request_id: str,
        expected: Collection[ChangeState],
        to: ChangeState,
        *,
        actor: str,
        at: datetime,
        note: str = "",
        **changes: Any,
    ) -> ChangeRequest:
        """Atomically: if the stored state is in ``expected``, set ``changes`` (ChangeRequest attribute names), move to
        ``to``, erase the key when ``to`` is final, audit, commit; return the new request.

        Raises ClaimConflictError carrying the stored request when its state is not in ``expected`` (someone else
        got there first), InvalidTransitionError when the move is not allowed, UnknownRequestError; nothing is
        written then. Returns only once committed: do the side effect after.
        """
        expected_states = _states(expected)
        to = ChangeState(to)
        refused = sorted(set(changes) - _CLAIM_FIELDS)
        if refused:
            raise TypeError(f"claim() cannot set {', '.join(refused)}")

        def work(tables: _Tables) -> ChangeRequest:
            stored = _require(tables, request_id)
            if stored.state not in expected_states:
                raise ClaimConflictError(stored, expected_states)
            updated = dataclasses.replace(stored, **changes, history=list(stored.history))
            from_state = updated.state
            updated.transition(to, actor=actor, at=at, note=note)
            document = updated.to_json()
            tables.requests[request_id] = document
            if to in TERMINAL_STATES:
                _discard(tables.secrets, request_id)
                _discard(tables.meta, _OPEN_PREFIX + request_id)
            detail = {name: document[name] for name in sorted(changes)}
            if note:
                detail["note"] = note
            _append_audit(tables, updated.updated_at, updated, actor, f"{from_state}->{to}", detail)
            return updated

        return await self._run(self._write, work)

    async def open_request_for(self, vpn_conn_id: str) -> ChangeRequest | None:
        """The connection's open request (pending, approved, submitting, running or unknown), or None."""
        return await self._run(self._read, lambda tables: self._open_for(tables, vpn_conn_id))

    async def in_states(self, states: Collection[ChangeState]) -> list[ChangeRequest]:
        """Every request in one of ``states``, oldest first (e.g. submitting/running/unknown to resume after a
        restart). Open states are read through an index; final ones scan every request."""
        wanted = _states(states)

        def work(tables: _Tables) -> list[ChangeRequest]:
            found = self._open_requests(tables) if wanted <= OPEN_STATES else self._all_requests(tables)
            return sorted((r for r in found if r.state in wanted), key=lambda r: (r.created_at, r.id))

        return await self._run(self._read, work)

    async def expired(self, now: datetime) -> list[ChangeRequest]:
        """Pending requests whose ``expires_at`` is at or before ``now``, soonest first."""

        def work(tables: _Tables) -> list[ChangeRequest]:
            found = [r for r in self._open_requests(tables) if r.is_expired(now)]
            return sorted(found, key=lambda r: (r.expires_at, r.id))

        return await self._run(self._read, work)

    async def psk(self, request_id: str) -> SecretStr | None:
        """The request's new pre-shared key, or None (unchanged key, or erased because the request ended).

        Raises StoreKeyError when the key given at open cannot decrypt it."""
        token = await self._run(self._read, lambda tables: _get(tables.secrets, request_id))
        if token is None:
            return None
        try:
            return SecretStr(self._fernet.decrypt(str(token).encode()).decode())
        except InvalidToken:
            raise StoreKeyError(
                f"the state file's secrets cannot be decrypted with this key ({self._key_source}): "
                f"{_ENV_KEY} (or the key file when it is unset) differs from the key request {request_id}'s "
                "pre-shared key was stored with; restore that key, or cancel the request and propose the change again"
            ) from None

    async def erase_psk(self, request_id: str) -> None:
        """Delete the request's key (claim() does this on reaching a final state). No error when there is none."""
        await self._run(self._write, lambda tables: _discard(tables.secrets, request_id))

    async def audit_log(self) -> list[AuditRecord]:
        """Every audit record in stored order. Raises StoreError naming a record that cannot be read at all."""
        rows = await self._run(self._read, _audit_rows)
        records: list[AuditRecord] = []
        for key, record in rows:
            if not isinstance(record, AuditRecord):
                raise StoreError(f"audit record {key} cannot be read: {record}")
            records.append(record)
        return records

    async def verify_audit(self) -> list[str]:
        """:func:`verify_chain` over the stored log and its recorded head, plus records that cannot be read."""

        def work(tables: _Tables) -> list[str]:
            rows = _audit_rows(tables)
            problems = [f"record {key} cannot be read: {r}" for key, r in rows if not isinstance(r, AuditRecord)]
            records = [r for _, r in rows if isinstance(r, AuditRecord)]
            lost = _get(tables.meta, _AUDIT_HEAD_LOST)
            head = _audit_head(tables)
            if lost is not None:
                seq = lost.get("seq") if isinstance(lost, dict) else "?"
                problems.append(f"the audit log's head was missing (records after record {seq} may have been cut off)")
            elif head is None and records:
                problems.append(
                    f"the audit log's head is missing (records after record {records[-1].seq} may have been cut off)"
                )
            return problems + verify_chain(records, head=head)

        return await self._run(self._read, work)

    # -- closing -------------------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Commit, close the SQLite connection and its thread, stop the worker. Idempotent; waits for queued work."""
        if self._closed:
            return
        self._closed = True
        try:
            tables = self._tables
            if tables is not None:
                self._executor.submit(tables.close).result()
        finally:
            self._tables = None
            self._executor.shutdown(wait=True)

    async def aclose(self) -> None:
        """:meth:`close` without blocking the event loop."""
        if self._closed:
            return
        self._closed = True
        try:
            tables = self._tables
            if tables is not None:
                await asyncio.get_running_loop().run_in_executor(self._executor, tables.close)
        finally:
            self._tables = None
            self._executor.shutdown(wait=True)  # the worker is idle by now: this only joins it

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- on the worker thread ----------------------------------------------------------------------------------------

    async def _run(self, mode: Callable[[Callable[[_Tables], T]], T], work: Callable[[_Tables], T]) -> T:
        if self._closed:
            raise StoreClosedError("the store is closed")
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._executor, mode, work)
        except RuntimeError:  # shut down between the check and here
            raise StoreClosedError("the store is closed") from None
        return await future

    def _live_tables(self) -> _Tables:
        if self._tables is None:
            raise StoreClosedError("the store is closed")
        return self._tables

    def _read(self, work: Callable[[_Tables], T]) -> T:
        return work(self._live_tables())

    def _write(self, work: Callable[[_Tables], T]) -> T:
        """Run ``work`` in one transaction holding SQLite's write lock; commit, or roll back on any error."""
        if self._read_only:
            raise StoreError("the state file was opened read-only")
        tables = self._live_tables()
        conn = tables.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(tables)
            conn.commit(blocking=True)
        except BaseException:
            _rollback(conn)
            raise
        return result

    def _start(self, tables: _Tables) -> None:
        """Schema mark, key check, audit head and the open-request index, made consistent with what is stored."""
        tables.meta[_SCHEMA] = 1
        check = _get(tables.meta, _KEY_CHECK)
        if check is None:
            tables.meta[_KEY_CHECK] = self._fernet.encrypt(_KEY_CHECK_TEXT).decode()
        else:
            try:
                self._fernet.decrypt(str(check).encode())
            except InvalidToken:
                self.key_matches = False
                log.warning(
                    "the state file's secrets were stored with another key than %s: pending changes of the "
                    "pre-shared key cannot be applied (set %s back to the old key to recover them)",
                    self._key_source,
                    _ENV_KEY,
                )
        if _audit_head(tables) is None:
            rows = [r for _, r in _audit_rows(tables) if isinstance(r, AuditRecord)]
            if rows:
                log.warning("the audit log's head was missing; continuing from record %d", rows[-1].seq)
                tables.meta[_AUDIT_HEAD] = {"seq": rows[-1].seq, "hash": rows[-1].hash}
                # Remembered for good: records after this one may have been cut off with the head.
                tables.meta[_AUDIT_HEAD_LOST] = {"seq": rows[-1].seq}
        index = {key for key in tables.meta if key.startswith(_OPEN_PREFIX)}
        wanted: dict[str, str] = {}
        for request in self._all_requests(tables):
            if request.is_open:
                wanted[_OPEN_PREFIX + request.id] = request.vpn_conn_id
        for key in index - set(wanted):
            del tables.meta[key]
        for key, conn_id in wanted.items():
            if _get(tables.meta, key) != conn_id:
                tables.meta[key] = conn_id

    def _open_requests(self, tables: _Tables) -> list[ChangeRequest]:
        found: list[ChangeRequest] = []
        for key in list(tables.meta):
            if key.startswith(_OPEN_PREFIX):
                request = _load_request(tables, key[len(_OPEN_PREFIX) :])
                if request is not None and request.is_open:
                    found.append(request)
        return found

    def _open_for(self, tables: _Tables, vpn_conn_id: str) -> ChangeRequest | None:
        for key, raw in list(tables.meta.items()):
            if key.startswith(_OPEN_PREFIX) and json.loads(raw) == vpn_conn_id:
                request = _load_request(tables, key[len(_OPEN_PREFIX) :])
                if request is not None and request.is_open:
                    return request
        return None

    def _all_requests(self, tables: _Tables) -> list[ChangeRequest]:
        return [_parse_request(key, raw) for key, raw in list(tables.requests.items())]


# -- helpers (worker thread) -----------------------------------------------------------------------------------------


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _identity(value: Any) -> Any:
    return value


def _get(table: _Table, key: str) -> Any:
    """The decoded JSON value under ``key``, or None."""
    try:
        raw = table[key]
    except KeyError:
        return None
    return json.loads(raw)


def _discard(table: _Table, key: str) -> None:
    if key in table:
        del table[key]


def _parse_request(request_id: str, raw: Any) -> ChangeRequest:
    try:
        return ChangeRequest.from_json(json.loads(raw))
    except (ValueError, TypeError) as error:
        raise StoreError(f"change request {request_id} in the state file cannot be read: {error}") from None


def _load_request(tables: _Tables, request_id: str) -> ChangeRequest | None:
    try:
        raw = tables.requests[request_id]
    except KeyError:
        return None
    return _parse_request(request_id, raw)


def _require(tables: _Tables, request_id: str) -> ChangeRequest:
    request = _load_request(tables, request_id)
    if request is None:
        raise UnknownRequestError(f"no change request {request_id}")
    return request


def _audit_key(seq: int) -> str:
    return f"{seq:012d}"


def _audit_head(tables: _Tables) -> tuple[int, str] | None:
    head = _get(tables.meta, _AUDIT_HEAD)
    return None if head is None else (int(head["seq"]), str(head["hash"]))


def _audit_rows(tables: _Tables) -> list[tuple[str, AuditRecord | str]]:
    """(key, record) in key order; an unreadable row gives (key, why) instead, so it cannot hide the others."""
    rows: list[tuple[str, AuditRecord | str]] = []
    for key, raw in sorted(tables.audit.items()):
        try:
            rows.append((key, AuditRecord.from_json(json.loads(raw))))
        except (ValueError, TypeError, KeyError) as error:
            rows.append((key, f"{type(error).__name__}: {error}"))
    return rows


def _append_audit(
    tables: _Tables, at: datetime, request: ChangeRequest, actor: str, action: str, detail: dict[str, Any]
) -> None:
    seq, prev_hash = _audit_head(tables) or (0, AUDIT_GENESIS)
    record = AuditRecord(seq + 1, at, request.id, request.vpn_conn_id, actor, action, detail, prev_hash, "")
    body = record.body()
    digest = audit_hash(prev_hash, body)
    tables.audit[_audit_key(record.seq)] = {**body, "hash": digest}
    tables.meta[_AUDIT_HEAD] = {"seq": record.seq, "hash": digest}


def _rollback(conn: Any) -> None:
    try:
        conn.check_raise_error()  # take any pending error, so the rollback itself is not refused for it
    except Exception as error:
        log.debug("state file: dropping a failed statement's error before rolling back: %s", error)
    try:
        conn.select_one("ROLLBACK")
    except Exception as error:
        log.debug("state file: rollback: %s", error)


def _states(states: Collection[ChangeState]) -> frozenset[ChangeState]:
    """The states given; a lone state (a str, so itself a collection of letters) counts as one."""
    if isinstance(states, str):
        return frozenset({ChangeState(states)})
    return frozenset(ChangeState(state) for state in states)


def _span(first: int, last: int) -> str:
    return f"record {first}" if first == last else f"records {first} to {last}"


# -- the key -----------------------------------------------------------------------------------------------------------


def _fernet_from(text: str, source: str) -> Fernet:
    try:
        return Fernet(text.strip().encode())
    except (ValueError, TypeError):
        raise StoreKeyError(
            f"{source} is not a valid store key: it must be 32 url-safe base64-encoded bytes, as printed by "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        ) from None


def _read_or_create_key(key_path: Path) -> str:
    """The key file's key, creating the file (0600 from the first instant, never world-readable) when absent."""
    try:
        fd = os.open(key_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        try:
            mode = key_path.stat().st_mode
            text = key_path.read_text()
        except OSError as error:
            raise StoreKeyError(f"cannot read the key file {key_path}: {error.strerror}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("the key file %s is readable by others: chmod 600 it", key_path)
        return text
    except OSError as error:
        raise StoreKeyError(f"cannot create the key file {key_path}: {error.strerror}") from None
    key = Fernet.generate_key()
    with os.fdopen(fd, "wb") as file:
        file.write(key + b"\n")
        file.flush()
        os.fsync(file.fileno())
    log.info("created the store key file %s; keep it with the state file (or set %s)", key_path, _ENV_KEY)
    return key.decode()


def _create_private(path: Path) -> None:
    """Create the state file 0600 when absent (SQLite gives its -wal and -shm files the same mode)."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    except OSError as error:
        raise StoreError(f"cannot create the state file {path}: {error.strerror}") from None
    os.close(fd)
