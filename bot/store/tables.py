"""The state file's tables through the standard :mod:`sqlite3` module: one connection, explicit transactions.

The layout is sqlitedict's, so files written by earlier vpnbots open unchanged and ``sqlitedict.SqliteDict(path,
tablename=..., decode=json.loads)`` can still read every table: one table per name, ``(key TEXT PRIMARY KEY, value
BLOB)``, values JSON text. A :class:`Database` is used by one thread only (the store's worker); it never caches a
value, so what it returns is what the file holds.

SQLite errors are not translated here: the store decides what a failed read or write means for its caller.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["TABLES", "Database", "describe_error", "is_damage"]

log = logging.getLogger("bot.store")

TABLES = ("requests", "secrets", "audit", "meta", "fronts", "watches", "old_secrets")
"""Every table the store uses; a file lacking some (an older vpnbot's) gets them at open."""

# SQLite's primary result codes (the low byte of an extended code).
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 10, 11, 13, 14, 26


def describe_error(error: sqlite3.Error, lock_timeout: float) -> str:
    """SQLite's own words for ``error``, with what they mean for the state file where that helps (no data in it)."""
    text = str(error) or type(error).__name__
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in (_BUSY, _LOCKED):
        return f"{text}: another process held its write lock for more than {lock_timeout:g} s"
    if primary == _READONLY:
        return f"{text}: the file, its directory or its -wal/-shm files cannot be written"
    if primary in (_CORRUPT, _NOTADB):
        return f"{text}: restore the state file from a backup"
    if primary == _CANTOPEN:
        return f"{text}: the file or its directory cannot be opened"
    return text


def is_damage(error: sqlite3.Error) -> bool:
    """Whether ``error`` says the file itself is damaged or no SQLite file (waiting will not help)."""
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in (_CORRUPT, _NOTADB)


class Database:
    """A connection to the state file. Not thread-safe: the store's worker thread is its only user."""

    def __init__(self, path: Path, *, read_only: bool, lock_timeout: float) -> None:
        self.path = path
        self.read_only = read_only
        self.lock_timeout = lock_timeout
        self._conn: sqlite3.Connection | None = None
        self._present: set[str] = set()
        self._creating: set[str] = set()

    @classmethod
    def open(cls, path: Path, *, read_only: bool, lock_timeout: float) -> Database:
        """Connect (raising sqlite3.Error when the file is no SQLite file or cannot be opened). Creates no table."""
        database = cls(path, read_only=read_only, lock_timeout=lock_timeout)
        database._connect()
        return database

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: the module issues no BEGIN or COMMIT of its own; every transaction here is explicit.
        conn = sqlite3.connect(str(self.path), timeout=self.lock_timeout, isolation_level=None)
        try:
            if self.read_only:
                conn.execute("PRAGMA query_only = ON")
            else:
                conn.execute("PRAGMA journal_mode = WAL")
            # A claim must survive a power cut before its side effect; an erased secret is overwritten, not unlinked.
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA secure_delete = ON")
            self._present = _tables_in(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection, made again when a failure had to drop it."""
        return self._conn if self._conn is not None else self._connect()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    # -- transactions ------------------------------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        """One transaction holding SQLite's write lock (``BEGIN IMMEDIATE``, so a claim cannot interleave with another
        process's); committed when the block ends, rolled back on any error, the commit's own included."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            self._creating.clear()
            self._abandon()
            raise
        self._present |= self._creating
        self._creating.clear()

    @contextmanager
    def reading(self) -> Iterator[None]:
        """One read transaction: every read in the block sees the same committed state."""
        conn = self.conn
        conn.execute("BEGIN DEFERRED")
        try:
            if self.read_only and len(self._present) < len(TABLES):
                self._present = _tables_in(conn)  # a brand-new file whose tables the bot is making now
            yield
        finally:
            self._abandon()

    def _abandon(self) -> None:
        """End the transaction without keeping anything. SQLite may have rolled back already (a failed COMMIT on a
        full disk does); when even ROLLBACK fails the connection is dropped, and the next operation connects again."""
        conn = self._conn
        if conn is None or not conn.in_transaction:
            return
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error as error:
            log.warning("state file %s: rollback failed (%s); reconnecting", self.path, error)
            self._conn = None
            try:
                conn.close()
            except sqlite3.Error as close_error:
                log.debug("state file %s: close after a failed rollback: %s", self.path, close_error)

    # -- tables ------------------------------------------------------------------------------------------------------

    def create_tables(self) -> None:
        """sqlitedict's schema for every table that is missing (inside :meth:`writing`)."""
        for name in TABLES:
            if name not in self._present:
                self.conn.execute(f'CREATE TABLE IF NOT EXISTS "{name}" (key TEXT PRIMARY KEY, value BLOB)')
                self._creating.add(name)

    def _has(self, table: str) -> bool:
        return table in self._present or table in self._creating

    def get(self, table: str, key: str) -> str | None:
        """The raw text under ``key``, or None."""
        if not self._has(table):
            return None
        row = self.conn.execute(f'SELECT value FROM "{table}" WHERE key = ?', (key,)).fetchone()
        return None if row is None else _text(row[0])

    def put(self, table: str, key: str, value: str) -> None:
        self.conn.execute(f'REPLACE INTO "{table}" (key, value) VALUES (?, ?)', (key, value))

    def delete(self, table: str, key: str) -> None:
        """Remove ``key`` (no error when absent)."""
        if self._has(table):
            self.conn.execute(f'DELETE FROM "{table}" WHERE key = ?', (key,))

    def contains(self, table: str, key: str) -> bool:
        if not self._has(table):
            return False
        return self.conn.execute(f'SELECT 1 FROM "{table}" WHERE key = ?', (key,)).fetchone() is not None

    def items(self, table: str, prefix: str = "") -> list[tuple[str, str]]:
        """(key, raw text) in key order; only keys starting with ``prefix`` when given."""
        if not self._has(table):
            return []
        if prefix:
            # Every key with the prefix sorts at or after it and before the prefix with its last character bumped.
            upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
            sql = f'SELECT key, value FROM "{table}" WHERE key >= ? AND key < ? ORDER BY key'
            rows = self.conn.execute(sql, (prefix, upper)).fetchall()
        else:
            rows = self.conn.execute(f'SELECT key, value FROM "{table}" ORDER BY key').fetchall()
        return [(str(key), _text(value)) for key, value in rows]

    def empty_log(self) -> bool:
        """Copy the write-ahead log into the file and truncate it to nothing (outside any transaction), so pages an
        erasure replaced are gone from the ``-wal`` file now rather than when the last connection closes. False when
        another connection's read kept it from being emptied (its pages stay until SQLite reuses or removes it)."""
        if self.read_only:
            return False
        busy, _, _ = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return not busy

    def count(self, table: str) -> int:
        if not self._has(table):
            return 0
        (number,) = self.conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        return int(number)


def _tables_in(conn: sqlite3.Connection) -> set[str]:
    return {str(name) for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _text(value: object) -> str:
    """A stored value as text (vpnbot writes text; a BLOB from another writer is read as UTF-8)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)
