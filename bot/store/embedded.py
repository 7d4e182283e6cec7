"""The embedded store: change requests, their pre-shared keys (encrypted) and the keyed audit chain, in one SQLite
file. See :mod:`bot.store` for what a caller may rely on."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from bot.store.chain import (
    AUDIT_GENESIS,
    AuditHead,
    AuditRecord,
    AuditVerdict,
    audit_key_id,
    audit_mac,
    canonical,
    check_chain,
    head_mac,
)
from bot.store.errors import (
    ClaimConflictError,
    OpenRequestExistsError,
    StoreClosedError,
    StoreError,
    StoreKeyError,
    StoreUnavailableError,
    TooManyOpenRequestsError,
    UnknownRequestError,
)
from bot.store.interface import ChangeStore
from bot.store.keys import (
    ENV_KEY,
    KeyCheck,
    create_key_file,
    derive_key,
    fernet_from,
    key_file_path,
    read_key_file,
)
from bot.store.tables import Database, describe_error, is_damage
from bot.vpn.change import OPEN_STATES, TERMINAL_STATES, ChangeRequest, ChangeState, RequestUpdate
from bot.vpn.watch import Watch

__all__ = ["DEFAULT_LOCK_TIMEOUT", "LEGACY_FRONT_FIELDS", "Store"]

log = logging.getLogger("bot.store")

T = TypeVar("T")

DEFAULT_LOCK_TIMEOUT = 5.0
"""Seconds a write waits for another process's write lock before it fails as StoreUnavailableError."""

_REQUESTS, _SECRETS, _AUDIT, _META, _FRONTS = "requests", "secrets", "audit", "meta", "fronts"
_WATCHES, _OLD_SECRETS = "watches", "old_secrets"
_OPEN_PREFIX = "open:"
_AUDIT_HEAD = "audit_head"
_AUDIT_HEAD_LOST = "audit_head_lost"
_KEY_CHECK = "key_check"
_HEARTBEAT = "heartbeat"
_SCHEMA = "schema"
SCHEMA_VERSION = 3
"""The layout this vpnbot writes: 2 moved the Slack fields out of the requests into ``fronts``; 3 added ``watches``
and ``old_secrets`` (empty in an older file: nothing moves). Every migration may run again harmlessly, so a file an
older vpnbot opened since (it marks the file with its own number) is brought up to date again."""
LEGACY_FRONT_FIELDS = ("channel", "card_ts", "progress_ts", "origin_channel")
"""Where a request was shown in Slack, which vpnbots before schema 2 kept in the request itself; moved at open into
the request's front record."""


class Store:
    """The bot's state file. Open with :meth:`open`; close with :meth:`close` / :meth:`aclose` (or ``async with``)."""

    def __init__(self, path: Path, executor: ThreadPoolExecutor, *, read_only: bool) -> None:
        self.path = path
        self._executor = executor
        self._read_only = read_only
        self._db: Database | None = None
        self._closed = False
        self._fernet: Fernet | None = None
        self._key_material: bytes | None = None
        self._key_source = "no key"
        self._audit_key: bytes | None = None
        self._audit_key_id = ""
        self._fault: str | None = None
        self.key_matches = True
        """False when the state file's secrets were written with another key (they cannot be read)."""

    @classmethod
    def open(
        cls, path: Path, *, key: str | None = None, read_only: bool = False, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> Store:
        """Open (creating, mode 0600) the state file at ``path``; called once at start, blocks briefly.

        ``key`` is ``VPNBOT_STORE_KEY`` when set; otherwise the key file beside the state file is used. A key file is
        made (0600) only for a state file that holds nothing yet: when it is missing beside a file that holds
        requests, secrets, audit records or a key check, open raises StoreKeyError naming the key file and
        ``VPNBOT_STORE_KEY`` rather than make a new key that could read none of it. ``read_only`` (for ``vpnbot
        audit``) opens an existing file without writing anything to it or beside it: no key file is created (without
        a key the log can be listed, not checked) and every write raises StoreError. ``lock_timeout`` is how long a
        write waits for another process's write lock. Raises StoreKeyError for a malformed or missing key, StoreError
        when the file cannot be opened, StoreUnavailableError when it cannot be written at start.
        """
        path = Path(path)
        if not path.parent.is_dir():
            raise StoreError(f"the state file's directory {path.parent} does not exist (VPNBOT_STATE_PATH)")
        if read_only and not path.is_file():
            raise StoreError(f"there is no state file at {path} (VPNBOT_STATE_PATH)")
        key_path = key_file_path(path)
        if key is not None:
            key_text: str | None = key
            source = ENV_KEY
            fernet_from(key, ENV_KEY)
        else:
            key_text = read_key_file(key_path)
            source = f"the key file {key_path}"
            if key_text is not None:
                fernet_from(key_text, str(key_path))
        if not read_only:
            _create_private(path)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vpnbot-store")
        store = cls(path, executor, read_only=read_only)
        try:
            store._db = executor.submit(Database.open, path, read_only=read_only, lock_timeout=lock_timeout).result()
            if key_text is None and not read_only:
                held = executor.submit(store._read, _what_needs_the_key).result()
                if held:
                    raise StoreKeyError(
                        f"the state file {path} holds {held}, but its key file {key_path} is missing and {ENV_KEY} "
                        f"is not set: restore the key file (mode 600) beside the state file, or set {ENV_KEY} to the "
                        "key it was written with. No new key was made: it could not read the pending pre-shared keys "
                        "nor check the audit log"
                    )
                key_text = create_key_file(key_path)
            if key_text is not None:
                store._use_key(key_text, source)
            else:
                store._key_source = f"no key ({ENV_KEY} is unset and there is no key file {key_path})"
            if read_only:
                executor.submit(store._read, store._check_key).result()
            else:
                executor.submit(store._write, store._start).result()
        except BaseException as error:
            store.close()
            if isinstance(error, StoreError):
                raise
            if isinstance(error, sqlite3.Error):
                reason = f"cannot open the state file {path}: {describe_error(error, lock_timeout)}"
                raise (StoreError if is_damage(error) else StoreUnavailableError)(reason) from None
            raise StoreError(f"cannot open the state file {path}: {error}") from error
        return store

    def _use_key(self, text: str, source: str) -> None:
        self._fernet = fernet_from(text, source)
        self._key_material = text.strip().encode()
        self._key_source = source
        self._audit_key = derive_key(self._key_material, "audit-chain")
        self._audit_key_id = audit_key_id(self._audit_key)

    def derived_key(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose``, derived from the store key: stable across restarts, secret like it.
        Raises StoreKeyError for a store opened read-only without a key."""
        if self._key_material is None:
            raise StoreKeyError(f"the store has no key: {self._key_source}")
        return derive_key(self._key_material, purpose)

    # -- health ------------------------------------------------------------------------------------------------------

    @property
    def fault(self) -> str | None:
        """None while the state file can be written; else why the last write failed, in words a user can read
        (no secret, no path). Set by a failed write, cleared by the next successful one."""
        return self._fault

    async def wait_writable(self, poll_seconds: float = 2.0) -> None:
        """Return once a write succeeds: at once when :attr:`fault` is None, else after probing every
        ``poll_seconds`` with a harmless write (a heartbeat in ``meta``). Raises StoreClosedError when closed."""
        while self._fault is not None:
            try:
                await self._run(self._write, _heartbeat)
            except StoreUnavailableError:
                await asyncio.sleep(poll_seconds)

    # -- the async API ------------------------------------------------------------------------------------------------

    async def create(
        self,
        request: ChangeRequest,
        psk: SecretStr | None,
        *,
        max_open_per_requester: int | None = None,
        front_record: Mapping[str, Any] | None = None,
    ) -> None:
        """Store a new pending request, its new key (None when the key is unchanged) and the front's first record
        of it (:meth:`front_record`), audited as ``created``.

        In the same transaction, raises OpenRequestExistsError (carrying the open request) when the connection
        already has one, and TooManyOpenRequestsError (carrying them) when the requester already holds
        ``max_open_per_requester`` open requests; ValueError when the request is not a new pending one or ``psk``
        disagrees with ``psk_changed``; StoreUnavailableError when the file cannot be written. Nothing is written then.
        """
        if request.state is not ChangeState.PENDING or request.history:
            raise ValueError(f"a new change request must be pending with no history (it is {request.state})")
        if (psk is not None) != request.psk_changed:
            raise ValueError("give the new pre-shared key exactly when psk_changed is set")
        if max_open_per_requester is not None and max_open_per_requester < 1:
            raise ValueError("max_open_per_requester must be at least 1")
        document = request.to_json()
        token = self._encrypt(psk) if psk is not None else None
        shown = canonical(dict(front_record)) if front_record is not None else None

        def work(db: Database) -> None:
            if db.contains(_REQUESTS, request.id):
                raise StoreError(f"change request {request.id} already exists")
            existing = _open_for(db, request.vpn_conn_id)
            if existing is not None:
                raise OpenRequestExistsError(existing)
            if max_open_per_requester is not None:
                held = [r for r in _open_requests(db) if r.requester == request.requester]
                if len(held) >= max_open_per_requester:
                    held.sort(key=lambda r: (r.created_at, r.id))
                    raise TooManyOpenRequestsError(request.requester, held, max_open_per_requester)
            db.put(_REQUESTS, request.id, canonical(document))
            if token is not None:
                db.put(_SECRETS, request.id, canonical(token))
            db.put(_META, _OPEN_PREFIX + request.id, canonical(request.vpn_conn_id))
            if shown is not None:
                db.put(_FRONTS, request.id, shown)
            detail = {
                "conn_name": request.conn_name,
                "vpc_id": request.vpc_id,
                "vpn_gw_id": request.vpn_gw_id,
                "diff": document["diff"],
                "psk_changed": request.psk_changed,
                "front": request.front,
                "base_fingerprint": request.base_fingerprint,
                "expires_at": document["expires_at"],
            }
            self._append_audit(db, request.created_at, request, request.requester, "created", detail)

        await self._run(self._write, work)

    async def get(self, request_id: str) -> ChangeRequest | None:
        """The request as stored now, or None."""
        return await self._run(self._read, lambda db: _load_request(db, request_id))

    async def front_record(self, request_id: str) -> dict[str, Any] | None:
        """What the request's front keeps of it (a JSON object only that front reads: where it is shown), or None."""
        found = await self._run(self._read, lambda db: _get(db, _FRONTS, request_id))
        return dict(found) if isinstance(found, dict) else None

    async def front_records(self, request_ids: Collection[str]) -> dict[str, dict[str, Any]]:
        """:meth:`front_record` of each of ``request_ids`` that has one, in one read."""
        wanted = set(request_ids)

        def work(db: Database) -> dict[str, dict[str, Any]]:
            found = {key: json.loads(raw) for key, raw in db.items(_FRONTS) if key in wanted}
            return {key: value for key, value in found.items() if isinstance(value, dict)}

        return await self._run(self._read, work)

    async def save_front_record(self, request_id: str, record: Mapping[str, Any]) -> None:
        """Replace the request's front record (not audited: it says where the request is shown, never what
        happened to it). Raises UnknownRequestError for a request that does not exist."""
        document = canonical(dict(record))

        def work(db: Database) -> None:
            _require(db, request_id)
            db.put(_FRONTS, request_id, document)

        await self._run(self._write, work)

    async def save_watch(self, watch: Watch) -> None:
        """Keep ``watch`` as its request's health watch, replacing the one kept. Not audited: what a watch saw is
        recorded with :meth:`audit_event` when the caller decides it matters.

        Raises UnknownRequestError (a StoreError) for a request that does not exist, ValueError when the watch is
        of another connection than its request or would not read back as given (a naive time),
        StoreUnavailableError when the file cannot be written; nothing is written then."""
        document = watch.to_json()
        if Watch.from_json(document) != watch:
            raise ValueError(f"the watch of {watch.request_id} does not read back as it was given")
        text = canonical(document)

        def work(db: Database) -> None:
            request = _require(db, watch.request_id)
            if request.vpn_conn_id != watch.vpn_conn_id:
                raise ValueError(
                    f"the watch of {watch.request_id} is of {watch.vpn_conn_id}, but the request is for "
                    f"{request.vpn_conn_id}"
                )
            db.put(_WATCHES, watch.request_id, text)

        await self._run(self._write, work)

    async def watch(self, request_id: str) -> Watch | None:
        """The request's watch as last saved, or None. Raises StoreError when the stored watch cannot be read."""

        def work(db: Database) -> Watch | None:
            raw = db.get(_WATCHES, request_id)
            return None if raw is None else _parse_watch(request_id, raw)

        return await self._run(self._read, work)

    async def active_watches(self) -> list[Watch]:
        """Every watch still ``watching`` (to go on with after a restart), the oldest started first."""

        def work(db: Database) -> list[Watch]:
            found = [w for w in (_parse_watch(k, raw) for k, raw in db.items(_WATCHES)) if w.active]
            return sorted(found, key=lambda w: (w.started_at, w.request_id))

        return await self._run(self._read, work)

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
    ) -> ChangeRequest:
        """Atomically: if the stored state is in ``expected``, set ``changes``, move to
        ``to``, erase the key when ``to`` is final, audit, commit; return the new request.

        Raises ClaimConflictError carrying the stored request when its state is not in ``expected`` (someone else
        got there first), InvalidTransitionError when the move is not allowed, UnknownRequestError,
        StoreUnavailableError when the file cannot be written; nothing is written then. Returns only once committed:
        do the side effect after.
        """
        expected_states = _states(expected)
        to = ChangeState(to)

        def work(db: Database) -> ChangeRequest:
            stored = _require(db, request_id)
            if stored.state not in expected_states:
                raise ClaimConflictError(stored, expected_states)
            updated = dataclasses.replace(stored, **changes, history=list(stored.history))
            from_state = updated.state
            updated.transition(to, actor=actor, at=at, note=note)
            document = updated.to_json()
            db.put(_REQUESTS, request_id, canonical(document))
            if to in TERMINAL_STATES:
                db.delete(_SECRETS, request_id)
                db.delete(_META, _OPEN_PREFIX + request_id)
            detail: dict[str, Any] = {name: document[name] for name in sorted(changes)}
            if note:
                detail["note"] = note
            self._append_audit(db, updated.updated_at, updated, actor, f"{from_state}->{to}", detail)
            return updated

        return await self._run(self._write, work)

    async def open_request_for(self, vpn_conn_id: str) -> ChangeRequest | None:
        """The connection's open request (pending, approved, submitting, running or unknown), or None."""
        return await self._run(self._read, lambda db: _open_for(db, vpn_conn_id))

    async def in_states(self, states: Collection[ChangeState]) -> list[ChangeRequest]:
        """Every request in one of ``states``, oldest first (e.g. submitting/running/unknown to resume after a
        restart). Open states are read through an index; final ones scan every request."""
        wanted = _states(states)

        def work(db: Database) -> list[ChangeRequest]:
            found = _open_requests(db) if wanted <= OPEN_STATES else _all_requests(db)
            return sorted((r for r in found if r.state in wanted), key=lambda r: (r.created_at, r.id))

        return await self._run(self._read, work)

    async def expired(self, now: datetime) -> list[ChangeRequest]:
        """Pending requests whose ``expires_at`` is at or before ``now``, soonest first."""

        def work(db: Database) -> list[ChangeRequest]:
            found = [r for r in _open_requests(db) if r.is_expired(now)]
            return sorted(found, key=lambda r: (r.expires_at, r.id))

        return await self._run(self._read, work)

    async def psk(self, request_id: str) -> SecretStr | None:
        """The request's new pre-shared key, or None (unchanged key, or erased because the request ended).

        Raises StoreKeyError when the key given at open cannot decrypt it."""
        token = await self._run(self._read, lambda db: _get(db, _SECRETS, request_id))
        if token is None:
            return None
        return self._decrypt(
            str(token), request_id, "pre-shared key", "cancel the request and propose the change again"
        )

    async def erase_psk(self, request_id: str) -> None:
        """Delete the request's key (claim() does this on reaching a final state). No error when there is none."""
        await self._run(self._write, lambda db: db.delete(_SECRETS, request_id))

    async def keep_old_psk(self, request_id: str, key: SecretStr, *, until: datetime) -> None:
        """Keep the key the connection had before the request's edit, for a revert, until ``until``: encrypted as
        the pending key is (the same Fernet key), in ``old_secrets``, never in a log or the audit log. A request's
        ending does not erase it: :meth:`erase_old_psk` or :meth:`erase_expired_old_psks` does. Replaces an old key
        kept before.

        Raises ValueError for an empty key, a naive ``until`` or a request whose edit leaves the key as it is;
        UnknownRequestError for a request that does not exist; StoreUnavailableError when the file cannot be
        written (nothing is written then)."""
        if not key.get_secret_value():
            raise ValueError("the old pre-shared key is empty: there is nothing to keep")
        entry = canonical({"token": self._encrypt(key), "until": _aware(until, "until").isoformat()})

        def work(db: Database) -> None:
            request = _require(db, request_id)
            if not request.psk_changed:
                raise ValueError(f"change request {request_id} leaves the pre-shared key as it is: no old key to keep")
            db.put(_OLD_SECRETS, request_id, entry)

        await self._run(self._write, work)

    async def old_psk(self, request_id: str, now: datetime) -> SecretStr | None:
        """The old key :meth:`keep_old_psk` kept, while ``now`` is before its ``until``; None from ``until`` on (even
        before it is erased), after erasure, or when none was kept. Raises StoreKeyError when the key given at
        open cannot decrypt it, StoreError when its record cannot be read."""
        now = _aware(now, "now")
        raw = await self._run(self._read, lambda db: db.get(_OLD_SECRETS, request_id))
        if raw is None:
            return None
        token, until = _old_entry(request_id, raw)
        if until <= now:
            return None
        return self._decrypt(token, request_id, "old pre-shared key", "a revert of the key cannot be made by vpnbot")

    async def erase_old_psk(self, request_id: str) -> None:
        """Erase the request's old key: the row is overwritten (``secure_delete``) and deleted, and the write-ahead
        log is emptied at once where no other connection's read prevents it. No error when there is none."""

        def work(db: Database) -> bool:
            if not db.contains(_OLD_SECRETS, request_id):
                return False
            db.delete(_OLD_SECRETS, request_id)
            return True

        await self._run(self._erasing, work)

    async def erase_expired_old_psks(self, now: datetime) -> int:
        """Erase, as :meth:`erase_old_psk` does and in one write, every old key whose ``until`` is at or before
        ``now``, and any whose record cannot be read (nothing could say how long it may be kept); how many."""
        now = _aware(now, "now")

        def work(db: Database) -> int:
            erased = 0
            for request_id, raw in db.items(_OLD_SECRETS):
                try:
                    _, until = _old_entry(request_id, raw)
                except StoreError:
                    log.warning("the old pre-shared key of %s has an unreadable record: erased", request_id)
                    until = now
                if until <= now:
                    db.delete(_OLD_SECRETS, request_id)
                    erased += 1
            return erased

        return await self._run(self._erasing, work)

    async def audit_event(
        self, request_id: str, *, actor: str, at: datetime, action: str, detail: Mapping[str, Any]
    ) -> None:
        """Append to the audit chain a record of something that happened to the request that is no transition (say
        ``watch: tunnel down`` with ``{"since": ...}``), keyed and verified like every other record.

        ``detail`` is JSON (a timezone-aware datetime in it is kept as ISO 8601 text). Refused with ValueError,
        writing nothing, when ``action`` is empty, ``created`` or a transition's ``FROM->TO``, ``at`` is naive, the
        detail is not JSON, or the action, actor or detail holds the request's pending or old pre-shared key (or
        its stored token); UnknownRequestError for a request that does not exist; StoreUnavailableError when the
        file cannot be written."""
        if not action.strip() or action == "created" or "->" in action:
            raise ValueError(
                "an audit event needs an action that is neither 'created' nor a transition (FROM->TO): the store "
                "audits those itself"
            )
        if not actor:
            raise ValueError("an audit event needs an actor")
        at = _aware(at, "at")
        document = _json_detail(detail)
        texts = [action, actor, canonical(document), *_strings(document)]

        def work(db: Database) -> None:
            request = _require(db, request_id)
            if any(secret in text for secret in self._secrets_of(db, request_id) for text in texts):
                raise ValueError(
                    f"the audit event of {request_id} holds the request's pending or old pre-shared key: nothing "
                    "was recorded"
                )
            self._append_audit(db, at, request, actor, action, document)

        await self._run(self._write, work)

    async def audit_log(self) -> list[AuditRecord]:
        """Every audit record in stored order. Raises StoreError naming a record that cannot be read at all."""
        rows = await self._run(self._read, _audit_rows)
        records: list[AuditRecord] = []
        for key, record in rows:
            if not isinstance(record, AuditRecord):
                raise StoreError(f"audit record {key} cannot be read: {record}")
            records.append(record)
        return records

    async def check_audit(self) -> AuditVerdict:
        """The keyed check of the stored log (:func:`~bot.store.chain.check_chain`) with its recorded head and the
        key check's count of an older vpnbot's unkeyed records, plus records that cannot be read. Raises
        StoreKeyError when the store has no key (opened read-only without one): the chain cannot be checked."""
        key = self._audit_key
        if key is None:
            raise StoreKeyError(f"the audit log cannot be checked without the store key: {self._key_source}")
        fernet = self._fernet
        assert fernet is not None

        def work(db: Database) -> AuditVerdict:
            rows = _audit_rows(db)
            problems = [f"record {k} cannot be read: {r}" for k, r in rows if not isinstance(r, AuditRecord)]
            records = [r for _, r in rows if isinstance(r, AuditRecord)]
            lost = _get(db, _META, _AUDIT_HEAD_LOST)
            head = _audit_head(db)
            if lost is not None:
                seq = lost.get("seq") if isinstance(lost, dict) else "?"
                problems.append(f"the audit log's head was missing (records after record {seq} may have been cut off)")
            elif head is None and records:
                problems.append(
                    f"the audit log's head is missing (records after record {records[-1].seq} may have been cut off)"
                )
            token = _get(db, _META, _KEY_CHECK)
            check: KeyCheck | None = None
            if token is not None:
                try:
                    check = KeyCheck.read(fernet, str(token))
                except InvalidToken:
                    problems.append(
                        f"the state file's key check does not open with this key ({self._key_source}): it is not the "
                        "key the bot writes with, or the key check was replaced"
                    )
            unkeyed_through = check.unkeyed_audit_records if check is not None else None
            verdict = check_chain(records, key=key, head=head, unkeyed_through=unkeyed_through)
            if verdict.notes and (token is None or (check is not None and check.recreated)):
                problems.append(
                    "the state file's key check was missing"
                    + (" when vpnbot opened it" if token is not None else "")
                    + ", so nothing vouches that the records with the unkeyed hash are an older vpnbot's"
                )
            return AuditVerdict(problems + verdict.problems, verdict.notes)

        return await self._run(self._read, work)

    async def verify_audit(self) -> list[str]:
        """The problems :meth:`check_audit` finds: empty when the log is intact."""
        return (await self.check_audit()).problems

    # -- closing -------------------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the SQLite connection and stop the worker. Idempotent; waits for queued work."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._db is not None:
                self._executor.submit(self._close_db).result()
        finally:
            self._executor.shutdown(wait=True)

    async def aclose(self) -> None:
        """:meth:`close` without blocking the event loop."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._db is not None:
                await asyncio.get_running_loop().run_in_executor(self._executor, self._close_db)
        finally:
            self._executor.shutdown(wait=True)  # the worker is idle by now: this only joins it

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- on the worker thread ----------------------------------------------------------------------------------------

    async def _run(self, mode: Callable[[Callable[[Database], T]], T], work: Callable[[Database], T]) -> T:
        if self._closed:
            raise StoreClosedError("the store is closed")
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._executor, mode, work)
        except RuntimeError:  # shut down between the check and here
            raise StoreClosedError("the store is closed") from None
        return await future

    def _live_db(self) -> Database:
        if self._db is None:
            raise StoreClosedError("the store is closed")
        return self._db

    def _close_db(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            try:
                db.close()
            except sqlite3.Error as error:
                log.warning("state file %s: closing: %s", self.path, error)

    def _read(self, work: Callable[[Database], T]) -> T:
        """Run ``work`` in one read transaction. SQLite errors become StoreUnavailableError; :attr:`fault` is left
        as it is (it is about writing)."""
        db = self._live_db()
        try:
            with db.reading():
                return work(db)
        except sqlite3.Error as error:
            reason = describe_error(error, db.lock_timeout)
            raise StoreUnavailableError(f"the state file cannot be read ({reason})") from error

    def _write(self, work: Callable[[Database], T]) -> T:
        """Run ``work`` in one transaction holding SQLite's write lock; commit, or roll back on any error.

        A SQLite error (the commit's own included) sets :attr:`fault` and raises StoreUnavailableError; the
        transaction is rolled back whole, so the file holds all of the write or none of it. A refusal from ``work``
        (a conflict, a bad request) rolls back too and leaves :attr:`fault` as it was."""
        if self._read_only:
            raise StoreError("the state file was opened read-only")
        db = self._live_db()
        try:
            with db.writing():
                result = work(db)
        except sqlite3.Error as error:
            fault = f"the state file cannot be written ({describe_error(error, db.lock_timeout)})"
            if fault != self._fault:
                log.error("state file %s: %s", self.path, fault)
            self._fault = fault
            raise StoreUnavailableError(f"{fault}; nothing was changed") from error
        if self._fault is not None:
            log.warning("state file %s can be written again", self.path)
            self._fault = None
        return result

    def _check_key(self, db: Database) -> None:
        """Whether the key given opens the key check (read-only open: nothing is written)."""
        token = _get(db, _META, _KEY_CHECK)
        if token is not None and self._fernet is not None:
            try:
                KeyCheck.read(self._fernet, str(token))
            except InvalidToken:
                self.key_matches = False

    def _start(self, db: Database) -> None:
        """Tables, schema mark, key check, audit head and the open-request index, made consistent with what is
        stored. Writes only what differs, so opening an unchanged file writes nothing."""
        fernet = self._fernet
        assert fernet is not None
        db.create_tables()  # schema 3's watches and old_secrets among them: an older file had none to move
        if _get(db, _META, _SCHEMA) != SCHEMA_VERSION:
            _move_legacy_front_fields(db)
            db.put(_META, _SCHEMA, canonical(SCHEMA_VERSION))
        token = _get(db, _META, _KEY_CHECK)
        if token is None:
            held = db.count(_REQUESTS) + db.count(_AUDIT) > 0
            if held:
                log.warning(
                    "the state file %s had no key check; made one again with %s (vpnbot audit --verify will say so)",
                    self.path,
                    self._key_source,
                )
            db.put(_META, _KEY_CHECK, canonical(KeyCheck(2, _leading_unkeyed(db), held).token(fernet)))
        else:
            try:
                check = KeyCheck.read(fernet, str(token))
            except InvalidToken:
                self.key_matches = False
                log.warning(
                    "the state file's secrets were stored with another key than %s: pending changes of the "
                    "pre-shared key cannot be applied (set %s back to the old key to recover them)",
                    self._key_source,
                    ENV_KEY,
                )
            else:
                if check.version < 2:  # an older vpnbot's file: remember, under the key, how far its records go
                    db.put(_META, _KEY_CHECK, canonical(KeyCheck(2, _leading_unkeyed(db)).token(fernet)))
        if _audit_head(db) is None:
            rows = [r for _, r in _audit_rows(db) if isinstance(r, AuditRecord)]
            if rows:
                log.warning("the audit log's head was missing; continuing from record %d", rows[-1].seq)
                self._put_head(db, rows[-1].seq, rows[-1].hash)
                # Remembered for good: records after this one may have been cut off with the head.
                db.put(_META, _AUDIT_HEAD_LOST, canonical({"seq": rows[-1].seq}))
        index = {key: raw for key, raw in db.items(_META, _OPEN_PREFIX)}
        wanted = {_OPEN_PREFIX + r.id: canonical(r.vpn_conn_id) for r in _all_requests(db) if r.is_open}
        for key in set(index) - set(wanted):
            db.delete(_META, key)
        for key, conn_id in wanted.items():
            if index.get(key) != conn_id:
                db.put(_META, key, conn_id)

    def _encrypt(self, psk: SecretStr) -> str:
        if self._fernet is None:
            raise StoreError("the state file was opened read-only")
        return self._fernet.encrypt(psk.get_secret_value().encode()).decode()

    def _decrypt(self, token: str, request_id: str, what: str, remedy: str) -> SecretStr:
        if self._fernet is None:
            raise StoreKeyError(f"request {request_id}'s {what} cannot be read: {self._key_source}")
        try:
            return SecretStr(self._fernet.decrypt(token.encode()).decode())
        except InvalidToken:
            raise StoreKeyError(
                f"the state file's secrets cannot be decrypted with this key ({self._key_source}): "
                f"{ENV_KEY} (or the key file when it is unset) differs from the key request {request_id}'s "
                f"{what} was stored with; restore that key, or {remedy}"
            ) from None

    def _secrets_of(self, db: Database, request_id: str) -> list[str]:
        """The request's pending and old keys as stored (their tokens) and, where this key opens them, in plain."""
        tokens: list[str] = []
        pending = _get(db, _SECRETS, request_id)
        if pending is not None:
            tokens.append(str(pending))
        raw = db.get(_OLD_SECRETS, request_id)
        if raw is not None:
            with contextlib.suppress(StoreError):
                tokens.append(_old_entry(request_id, raw)[0])
        found = list(tokens)
        for token in tokens:
            if self._fernet is not None:
                with contextlib.suppress(InvalidToken):
                    found.append(self._fernet.decrypt(token.encode()).decode())
        return [secret for secret in found if secret]

    def _erasing(self, work: Callable[[Database], T]) -> T:
        """:meth:`_write`, then, when ``work`` says it erased something, the write-ahead log emptied so the erased
        row's earlier pages leave the ``-wal`` file now (best effort: the write stands either way)."""
        result = self._write(work)
        if not result:
            return result
        db = self._live_db()
        try:
            emptied = db.empty_log()
        except sqlite3.Error as error:
            log.warning(
                "state file %s: emptying the write-ahead log after an erasure: %s",
                self.path,
                describe_error(error, db.lock_timeout),
            )
        else:
            if not emptied:
                log.info(
                    "state file %s: another process's read kept the write-ahead log from being emptied after an "
                    "erasure; the replaced pages stay in it until SQLite reuses or removes it",
                    self.path,
                )
        return result

    def _put_head(self, db: Database, seq: int, record_hash: str) -> None:
        head: dict[str, Any] = {"seq": seq, "hash": record_hash}
        if self._audit_key is not None:
            head["mac"] = head_mac(self._audit_key, seq, record_hash)
        db.put(_META, _AUDIT_HEAD, canonical(head))

    def _append_audit(
        self, db: Database, at: datetime, request: ChangeRequest, actor: str, action: str, detail: dict[str, Any]
    ) -> None:
        key = self._audit_key
        assert key is not None  # a writable store always has its key
        head = _audit_head(db)
        seq, prev_hash = (head.seq, head.hash) if head is not None else (0, AUDIT_GENESIS)
        record = AuditRecord(
            seq + 1, at, request.id, request.vpn_conn_id, actor, action, detail, prev_hash, "", self._audit_key_id
        )
        body = record.body()
        digest = audit_mac(key, prev_hash, body)
        db.put(_AUDIT, _audit_key(record.seq), canonical({**body, "hash": digest}))
        self._put_head(db, record.seq, digest)


# -- helpers (worker thread) -----------------------------------------------------------------------------------------


def _move_legacy_front_fields(db: Database) -> None:
    """Schema 1 to 2: the Slack fields an older vpnbot kept in each request move to the request's front record
    (its final reply still to post, if any, stays there for the Slack front to post)."""
    for key, raw in db.items(_REQUESTS):
        try:
            document = json.loads(raw)
        except ValueError:
            continue  # reported by the read that needs it
        if not isinstance(document, dict) or not any(f in document for f in (*LEGACY_FRONT_FIELDS, "final_reply")):
            continue
        record = {name: document.pop(name, None) for name in LEGACY_FRONT_FIELDS}
        reply = document.pop("final_reply", "")
        if reply:
            record["legacy_final_reply"] = reply
        if not db.contains(_FRONTS, key):
            db.put(_FRONTS, key, canonical(record))
        db.put(_REQUESTS, key, canonical(document))


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value.astimezone(UTC)


def _parse_watch(request_id: str, raw: str) -> Watch:
    try:
        return Watch.from_json(json.loads(raw))
    except (ValueError, TypeError) as error:
        raise StoreError(
            f"the watch of change request {request_id} in the state file cannot be read: {error}"
        ) from None


def _old_entry(request_id: str, raw: str) -> tuple[str, datetime]:
    """The token and ``until`` of an old key's record; StoreError (saying nothing of the record) when unreadable."""
    try:
        data = json.loads(raw)
        token, until = str(data["token"]), datetime.fromisoformat(str(data["until"]))
        if not token or until.utcoffset() is None:
            raise ValueError("no token, or a naive time")
    except (ValueError, TypeError, KeyError):
        raise StoreError(f"the old pre-shared key of change request {request_id} has an unreadable record") from None
    return token, until


def _json_detail(detail: Mapping[str, Any]) -> dict[str, Any]:
    """``detail`` as the JSON the audit record will hold; ValueError (naming no value) when it is none."""

    def time_text(value: object) -> str:
        if isinstance(value, datetime):
            return _aware(value, "a time in the audit detail").isoformat()
        raise TypeError(f"{type(value).__name__} is not JSON")

    try:
        document = json.loads(json.dumps(dict(detail), default=time_text, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise ValueError(f"the audit detail must be JSON: {error}") from None
    assert isinstance(document, dict)
    return document


def _strings(value: Any) -> list[str]:
    """Every string in a JSON value, the objects' keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in (key, *_strings(item))]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def _heartbeat(db: Database) -> None:
    db.put(_META, _HEARTBEAT, canonical(datetime.now(UTC).isoformat()))


def _what_needs_the_key(db: Database) -> str:
    """What in the file was written under a key ("" when nothing: a new key may be made)."""
    parts = []
    for table, what in (
        (_REQUESTS, "change request"),
        (_SECRETS, "pre-shared key"),
        (_OLD_SECRETS, "old pre-shared key"),
        (_AUDIT, "audit record"),
    ):
        number = db.count(table)
        if number:
            parts.append(f"{number} {what}{'s' if number != 1 else ''}")
    if not parts and db.get(_META, _KEY_CHECK) is not None:
        parts.append("the check of the key it was written with")
    return ", ".join(parts)


def _get(db: Database, table: str, key: str) -> Any:
    """The decoded JSON value under ``key``, or None."""
    raw = db.get(table, key)
    return None if raw is None else json.loads(raw)


def _parse_request(request_id: str, raw: str) -> ChangeRequest:
    try:
        return ChangeRequest.from_json(json.loads(raw))
    except (ValueError, TypeError) as error:
        raise StoreError(f"change request {request_id} in the state file cannot be read: {error}") from None


def _load_request(db: Database, request_id: str) -> ChangeRequest | None:
    raw = db.get(_REQUESTS, request_id)
    return None if raw is None else _parse_request(request_id, raw)


def _require(db: Database, request_id: str) -> ChangeRequest:
    request = _load_request(db, request_id)
    if request is None:
        raise UnknownRequestError(f"no change request {request_id}")
    return request


def _all_requests(db: Database) -> list[ChangeRequest]:
    return [_parse_request(key, raw) for key, raw in db.items(_REQUESTS)]


def _open_requests(db: Database) -> list[ChangeRequest]:
    found: list[ChangeRequest] = []
    for key, _ in db.items(_META, _OPEN_PREFIX):
        request = _load_request(db, key[len(_OPEN_PREFIX) :])
        if request is not None and request.is_open:
            found.append(request)
    return found


def _open_for(db: Database, vpn_conn_id: str) -> ChangeRequest | None:
    for key, raw in db.items(_META, _OPEN_PREFIX):
        if json.loads(raw) == vpn_conn_id:
            request = _load_request(db, key[len(_OPEN_PREFIX) :])
            if request is not None and request.is_open:
                return request
    return None


def _audit_key(seq: int) -> str:
    return f"{seq:012d}"


def _audit_head(db: Database) -> AuditHead | None:
    head = _get(db, _META, _AUDIT_HEAD)
    if head is None:
        return None
    mac = head.get("mac")
    return AuditHead(int(head["seq"]), str(head["hash"]), None if mac is None else str(mac))


def _audit_rows(db: Database) -> list[tuple[str, AuditRecord | str]]:
    """(key, record) in key order; an unreadable row gives (key, why) instead, so it cannot hide the others."""
    rows: list[tuple[str, AuditRecord | str]] = []
    for key, raw in db.items(_AUDIT):
        try:
            rows.append((key, AuditRecord.from_json(json.loads(raw))))
        except (ValueError, TypeError, KeyError) as error:
            rows.append((key, f"{type(error).__name__}: {error}"))
    return rows


def _leading_unkeyed(db: Database) -> int:
    """The sequence number of the last record of the log's leading run of unkeyed records (0 when none)."""
    last = 0
    for _, record in _audit_rows(db):
        if not isinstance(record, AuditRecord) or record.keyed:
            break
        last = record.seq
    return last


def _states(states: Collection[ChangeState]) -> frozenset[ChangeState]:
    """The states given; a lone state (a str, so itself a collection of letters) counts as one."""
    if isinstance(states, str):
        return frozenset({ChangeState(states)})
    return frozenset(ChangeState(state) for state in states)


def _create_private(path: Path) -> None:
    """Create the state file 0600 when absent (SQLite gives its -wal and -shm files the same mode)."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    except OSError as error:
        raise StoreError(f"cannot create the state file {path}: {error.strerror}") from None
    os.close(fd)


if TYPE_CHECKING:  # the embedded store is one implementation of the store interface
    _IMPLEMENTS: type[ChangeStore] = Store
