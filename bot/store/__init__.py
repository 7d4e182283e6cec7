"""Persistence: change requests, their pre-shared keys (encrypted) and a keyed, hash-chained audit log, in one
SQLite file.

What a caller may rely on:

- **Serialised, off the loop.** Every operation runs on one dedicated worker thread, in the order called, so the event
  loop never blocks on SQLite and no two operations interleave: :meth:`Store.claim` is an atomic check-and-set.
  Each write is also one SQLite transaction taken with ``BEGIN IMMEDIATE`` across all tables, so a second process on
  the same file (say the CLI) cannot interleave a claim either, and a crash leaves all of a write or none of it.
- **Persisted before the side effect.** A write coroutine returns only after its ``COMMIT`` (``synchronous=FULL``).
  A cancelled caller does not undo a write the worker has started.
- **Faults are visible and recoverable.** A write that SQLite refuses (disk full, I/O error, a read-only file,
  another process's write lock held beyond ``lock_timeout``) is rolled back whole, across every table, and raises
  :class:`StoreUnavailableError` at once, naming the problem in words a user can read ("the state file cannot be
  written (database or disk is full); nothing was changed"). The worker lives on: the next operation is tried
  afresh and works as soon as the file can be written again. :attr:`Store.fault` holds the reason meanwhile (None
  when healthy; set by a failed write, cleared by the next successful one) and :meth:`Store.wait_writable` returns
  once a write succeeds. Reads keep working during a write fault whenever SQLite can still read the file.
- **The pre-shared key never in plain text.** Requests never hold it; the ``secrets`` table holds Fernet tokens only,
  deleted with ``secure_delete`` when the request ends; the audit log never sees it. The Fernet key is
  ``VPNBOT_STORE_KEY`` (the caller passes it) or else ``<state file>.key``, created 0600 for a new state file. A
  missing key file beside a state file that holds requests, secrets, audit records or a key check refuses to open
  (:class:`StoreKeyError` naming the key file and ``VPNBOT_STORE_KEY``), rather than make a key that can read none of
  it. A key that cannot decrypt a stored secret raises :class:`StoreKeyError` naming ``VPNBOT_STORE_KEY``, never a
  cryptography traceback.
- **The key before a change, for a revert.** :meth:`Store.keep_old_psk` keeps the connection's key from before a
  request's edit as the pending key is kept (a Fernet token under the same key, in ``old_secrets``) until a time the
  caller gives; :meth:`Store.old_psk` returns it only before then. A request's end does not erase it:
  :meth:`Store.erase_old_psk` and :meth:`Store.erase_expired_old_psks` overwrite and delete it and then empty the
  write-ahead log, so its token leaves the ``-wal`` file at once (unless another process is reading the file then).
- **Health watches.** :meth:`Store.save_watch` keeps a request's :class:`~bot.vpn.watch.Watch` (replacing the one
  kept; never audited by itself), :meth:`Store.active_watches` lists those still watching, oldest started first.
- **Tamper-evident audit, keyed.** Every create and every transition appends an :class:`AuditRecord` whose hash is an
  HMAC-SHA256, under a key derived from the store key (so never in the state file), over the previous record's hash
  and the record. :func:`verify_chain` names edited, removed, reordered and forged records (a hash recomputed
  without the key does not match). The chain's head is kept in ``meta`` too, keyed as well, so cutting records off
  the end shows (:meth:`Store.check_audit`). Records an older vpnbot wrote with its unkeyed sha256 are not called
  tampered: the check accepts them as the start of the log, as far as the key check (a Fernet token in ``meta``)
  says they go, and says so in a note; the first keyed record covers them from then on (:mod:`bot.store.chain`).
  :meth:`Store.audit_event` appends a record, chained and keyed alike, of an event that is no transition (what a
  watch saw), refusing one that holds the request's pending or old key.

Why the standard :mod:`sqlite3` module and not sqlitedict. The store needs one transaction across several tables, taken
with ``BEGIN IMMEDIATE``, and to learn at once that a commit failed. sqlitedict gives each table its own connection
on a writer thread of its own and queues commits to it; sharing one connection meant overriding its private
``_new_conn`` and driving ``BEGIN``/``ROLLBACK`` through its internals, and a commit that failed on a full disk
killed that writer thread: every later operation waited for an answer that never came, and nothing said so. With
sqlite3 directly there is one connection, used only by the store's own worker thread, with explicit ``BEGIN
IMMEDIATE`` / ``COMMIT`` / ``ROLLBACK``: an error is an exception in the caller's coroutine, and the rollback is
SQLite's own. The file keeps sqlitedict's layout, so earlier state files open unchanged and
``sqlitedict.SqliteDict(path, tablename=..., decode=json.loads)`` still reads every table.

Values are stored as JSON text (not sqlitedict's default pickle: a state file must never be able to run code).
Tables: ``requests`` (id -> request JSON), ``secrets`` (id -> Fernet token), ``audit`` (zero-padded sequence number
-> record), ``meta`` (the audit head, the key check, the schema number, a heartbeat, and ``open:<request id>`` ->
connection id for open requests), ``fronts`` (id -> the front's record), ``watches`` (id -> watch JSON) and
``old_secrets`` (id -> ``{"token": Fernet token, "until": ISO time}``). A file of an older schema gets the tables it
lacks at open.
"""

from bot.store.chain import (
    AUDIT_GENESIS,
    AuditHead,
    AuditRecord,
    AuditVerdict,
    audit_hash,
    audit_key_id,
    audit_mac,
    check_chain,
    verify_chain,
)
from bot.store.embedded import DEFAULT_LOCK_TIMEOUT, LEGACY_FRONT_FIELDS, Store
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
from bot.store.keys import ENV_KEY, key_file_path

__all__ = [
    "AUDIT_GENESIS",
    "DEFAULT_LOCK_TIMEOUT",
    "ENV_KEY",
    "LEGACY_FRONT_FIELDS",
    "AuditHead",
    "AuditRecord",
    "AuditVerdict",
    "ChangeStore",
    "ClaimConflictError",
    "OpenRequestExistsError",
    "Store",
    "StoreClosedError",
    "StoreError",
    "StoreKeyError",
    "StoreUnavailableError",
    "TooManyOpenRequestsError",
    "UnknownRequestError",
    "audit_hash",
    "audit_key_id",
    "audit_mac",
    "check_chain",
    "key_file_path",
    "verify_chain",
]
