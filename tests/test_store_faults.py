"""Store faults are visible and recoverable: a write SQLite refuses (a full disk, an I/O error, a lock held too long)
raises StoreUnavailableError at once, leaves nothing half written, sets ``fault``; the worker lives on, reads keep
working, and writes work again (``wait_writable`` returns) as soon as the file can be written.

The disk-full tests fill a real, small tmpfs (they need root and permission to mount: skipped otherwise, saying so);
the others inject SQLite's errors through a connection subclass, so they run everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import os
import sqlite3
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest
from items import connection
from pydantic import SecretStr

from bot.store import Store, StoreError, StoreUnavailableError
from bot.vpn.change import ChangeRequest, ChangeState
from bot.vpn.edit import propose

S = ChangeState
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
TABLES = ("requests", "secrets", "audit", "meta")
R = TypeVar("R")


def new_request(conn_id: str = "vpnx-ol6bcqp0", *, key: str | None = None) -> ChangeRequest:
    conn = connection(unVpnConnId=conn_id)
    edits = {"vpnConnName": f"renamed-{uuid.uuid4().hex[:8]}"}
    if key is not None:
        edits["preSharedKey"] = key
    return ChangeRequest.from_proposal(
        conn, propose(conn.settings, edits), requester="U01REQ", now=T0, ttl=timedelta(hours=24)
    )


def snapshot(path: Path) -> dict[str, dict[str, str]]:
    """Every row of every table, as another process reads the file now (the heartbeat left out)."""
    with closing(sqlite3.connect(path)) as db:
        tables = {name: dict(db.execute(f'SELECT key, value FROM "{name}"')) for name in TABLES}
    tables["meta"].pop("heartbeat", None)
    return tables


async def soon(awaitable: Awaitable[R], seconds: float = 10.0) -> R:
    """The awaitable's result; a hung coroutine fails the test instead of hanging it."""
    return await asyncio.wait_for(awaitable, seconds)


# -- a real full disk ------------------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs of its own (so filling it fills nothing else)."""
    where = tmp_path / "disk"
    where.mkdir()
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(where)],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as error:
        pytest.skip(f"cannot run mount ({error}): the disk-full test needs root and permission to mount a tmpfs")
    if mounted.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs ({mounted.stderr.strip() or mounted.returncode}): the disk-full test needs root and "
            "permission to mount; the injected-fault tests below cover the same code"
        )
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=10, check=False)


def fill(disk: Path) -> Path:
    """Fill the disk to the last byte with one file; returns it (delete it to make room)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    try:
        for chunk in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * chunk)
    finally:
        os.close(fd)
    with pytest.raises(OSError, match="No space left on device") as full:
        (disk / "probe").write_bytes(b"x" * 4096)
    assert full.value.errno == errno.ENOSPC
    return filler


@pytest.fixture
async def full_disk_store(small_disk: Path) -> AsyncIterator[tuple[Store, Path]]:
    store = Store.open(small_disk / "state.sqlite")
    try:
        yield store, small_disk
    finally:
        await store.aclose()


async def test_a_full_disk_refuses_the_write_whole_and_recovers(full_disk_store: tuple[Store, Path]) -> None:
    store, disk = full_disk_store
    path = store.path
    first = new_request("vpnx-first001", key="first-psk-" + uuid.uuid4().hex)
    await soon(store.create(first, SecretStr(first_psk(first))))
    before = snapshot(path)
    assert store.fault is None
    filler = fill(disk)

    psk = "second-psk-" + uuid.uuid4().hex
    second = new_request("vpnx-second01", key=psk)
    with pytest.raises(StoreUnavailableError) as caught:
        await soon(store.create(second, SecretStr(psk)))
    message = str(caught.value)
    assert message == "the state file cannot be written (database or disk is full); nothing was changed"
    assert psk not in message
    assert store.fault == "the state file cannot be written (database or disk is full)"
    assert snapshot(path) == before  # nothing of the request, its key, its audit record or the index
    # a claim (requests, secrets, meta and audit in one transaction) is refused whole too
    with pytest.raises(StoreUnavailableError):
        await soon(store.claim(first.id, [S.PENDING], S.REJECTED, actor="U02", at=T0, reason="no"))
    assert snapshot(path) == before
    # reads keep working, and say what the file holds
    assert await soon(store.get(first.id)) == first
    assert await soon(store.get(second.id)) is None
    assert await soon(store.open_request_for("vpnx-second01")) is None
    assert (await soon(store.psk(first.id)) or SecretStr("")).get_secret_value() == first_psk(first)
    assert [r.action for r in await soon(store.audit_log())] == ["created"]
    # no coroutine is left hanging: twenty more operations at once all get an answer
    results = await soon(
        asyncio.gather(
            *(store.create(new_request(f"vpnx-more{n:04d}"), None) for n in range(10)),
            *(store.get(first.id) for _ in range(10)),
            return_exceptions=True,
        )
    )
    assert all(isinstance(r, StoreUnavailableError) for r in results[:10])
    assert all(r == first for r in results[10:])

    waiting = asyncio.create_task(store.wait_writable(poll_seconds=0.05))
    await asyncio.sleep(0.3)
    assert not waiting.done()  # still full: the probe keeps failing
    assert store.fault is not None
    filler.unlink()
    await soon(waiting)
    assert store.fault is None
    await soon(store.wait_writable())  # healthy: returns at once

    await soon(store.create(second, SecretStr(psk)))
    rejected = await soon(store.claim(first.id, [S.PENDING], S.REJECTED, actor="U02", at=T0, reason="no"))
    await store.aclose()

    reopened = Store.open(path)
    try:
        assert await reopened.get(second.id) == second
        assert await reopened.get(first.id) == rejected
        assert (await reopened.psk(second.id) or SecretStr("")).get_secret_value() == psk
        assert await reopened.psk(first.id) is None
        assert [r.action for r in await reopened.audit_log()] == ["created", "created", "pending->rejected"]
        assert await reopened.verify_audit() == []
    finally:
        await reopened.aclose()


def first_psk(request: ChangeRequest) -> str:
    return "first-psk-" + request.id


async def test_a_full_disk_at_open_is_named_and_changes_nothing(small_disk: Path) -> None:
    path = small_disk / "state.sqlite"
    store = Store.open(path)
    req = new_request()
    await store.create(req, None)
    await store.aclose()
    before = snapshot(path)
    key = (small_disk / "state.sqlite.key").read_bytes()
    filler = fill(small_disk)
    # SQLite needs room for its -shm file to open a WAL file at all
    with pytest.raises(StoreUnavailableError, match=r"cannot open the state file .*state\.sqlite: disk I/O error"):
        Store.open(path)
    filler.unlink()
    assert snapshot(path) == before
    assert (small_disk / "state.sqlite.key").read_bytes() == key
    store = Store.open(path)
    try:
        assert await soon(store.get(req.id)) == req
    finally:
        await store.aclose()


# -- injected faults -------------------------------------------------------------------------------------------------


class FlakyConnection(sqlite3.Connection):
    """A real SQLite connection that fails the way a sick disk makes SQLite fail: at COMMIT, or at a chosen
    statement, while ``failing`` is set. Nothing else about it differs."""

    failing: ClassVar[str | None] = None
    at: ClassVar[str] = "COMMIT"

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        message = FlakyConnection.failing
        if message is not None and FlakyConnection.at in sql:
            raise sqlite3.OperationalError(message)
        return super().execute(sql, *args)

    def commit(self) -> None:
        if FlakyConnection.failing is not None:
            raise sqlite3.OperationalError(FlakyConnection.failing)
        super().commit()


@pytest.fixture
def flaky(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FlakyConnection]]:
    monkeypatch.setattr(sqlite3, "connect", functools.partial(sqlite3.connect, factory=FlakyConnection))
    FlakyConnection.failing, FlakyConnection.at = None, "COMMIT"
    yield FlakyConnection
    FlakyConnection.failing, FlakyConnection.at = None, "COMMIT"


@pytest.fixture
async def store(tmp_path: Path, flaky: type[FlakyConnection]) -> AsyncIterator[Store]:
    opened = Store.open(tmp_path / "state.sqlite")
    yield opened
    FlakyConnection.failing = None
    await opened.aclose()


@pytest.mark.parametrize(
    ("error", "at"),
    [
        ("database or disk is full", "COMMIT"),
        ("disk I/O error", "COMMIT"),
        ("attempt to write a readonly database", "COMMIT"),
        ("disk I/O error", 'INTO "audit"'),  # after the request, its key and the index were written
    ],
)
async def test_a_failed_commit_is_raised_at_once_and_undone_whole(
    store: Store, flaky: type[FlakyConnection], error: str, at: str
) -> None:
    first = new_request("vpnx-first001")
    await soon(store.create(first, None))
    before = snapshot(store.path)
    flaky.failing, flaky.at = error, at
    psk = "psk-" + uuid.uuid4().hex
    second = new_request("vpnx-second01", key=psk)
    with pytest.raises(StoreUnavailableError) as caught:
        await soon(store.create(second, SecretStr(psk)), 5)
    assert str(caught.value) == f"the state file cannot be written ({error}); nothing was changed"
    assert isinstance(caught.value, StoreError)
    assert store.fault == f"the state file cannot be written ({error})"
    with pytest.raises(StoreUnavailableError):
        await soon(store.claim(first.id, [S.PENDING], S.APPROVED, actor="U02", at=T0), 5)
    assert snapshot(store.path) == before
    assert await soon(store.get(second.id)) is None  # the store's view is the file's
    assert await soon(store.get(first.id)) == first
    assert await soon(store.open_request_for("vpnx-second01")) is None

    flaky.failing = None
    await soon(store.create(second, SecretStr(psk)))
    assert store.fault is None
    assert (await soon(store.psk(second.id)) or SecretStr("")).get_secret_value() == psk
    assert await soon(store.verify_audit()) == []


async def test_wait_writable_returns_once_a_probe_write_succeeds(store: Store, flaky: type[FlakyConnection]) -> None:
    await soon(store.wait_writable())  # healthy: at once
    flaky.failing = "database or disk is full"
    with pytest.raises(StoreUnavailableError):
        await soon(store.create(new_request(), None))
    waiters = [asyncio.create_task(store.wait_writable(poll_seconds=0.02)) for _ in range(3)]
    await asyncio.sleep(0.2)
    assert not any(w.done() for w in waiters)
    flaky.failing = None
    await soon(asyncio.gather(*waiters), 5)
    assert store.fault is None
    await soon(store.create(new_request(), None))


async def test_a_refusal_is_not_a_fault(store: Store, flaky: type[FlakyConnection]) -> None:
    req = new_request()
    await store.create(req, None)
    flaky.failing = "disk I/O error"
    with pytest.raises(StoreUnavailableError):
        await soon(store.claim(req.id, [S.PENDING], S.APPROVED, actor="U02", at=T0))
    flaky.failing = None
    with pytest.raises(StoreError, match="already has an open change request"):
        await soon(store.create(new_request(), None))
    assert store.fault is not None  # a refusal wrote nothing, so it proves nothing about the disk
    await soon(store.claim(req.id, [S.PENDING], S.APPROVED, actor="U02", at=T0))
    assert store.fault is None


async def test_a_lock_held_too_long_is_a_fault_until_released(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    store = Store.open(path, lock_timeout=0.2)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        req = new_request()
        await store.create(req, None)
        other.execute("BEGIN IMMEDIATE")  # another process (a CLI) holds the write lock
        with pytest.raises(StoreUnavailableError) as caught:
            await soon(store.claim(req.id, [S.PENDING], S.APPROVED, actor="U02", at=T0), 5)
        assert "database is locked" in str(caught.value)
        assert "another process held its write lock for more than 0.2 s" in str(caught.value)
        assert store.fault is not None
        assert await soon(store.get(req.id)) == req  # reads are not blocked by the other's write lock
        waiting = asyncio.create_task(store.wait_writable(poll_seconds=0.05))
        await asyncio.sleep(0.5)
        assert not waiting.done()
        other.execute("ROLLBACK")
        await soon(waiting, 5)
        assert store.fault is None
        approved = await soon(store.claim(req.id, [S.PENDING], S.APPROVED, actor="U02", at=T0))
        assert approved.state is S.APPROVED
    finally:
        other.close()
        await store.aclose()


async def test_a_broken_connection_is_made_again(
    store: Store, flaky: type[FlakyConnection], caplog: pytest.LogCaptureFixture
) -> None:
    """Even when ROLLBACK fails too (the connection is in a state nothing can be trusted of), the next operation
    connects again and works."""
    req = new_request()
    await store.create(req, None)
    flaky.failing, flaky.at = "disk I/O error", "O"  # COMMIT and ROLLBACK alike, and every statement with an O
    with pytest.raises(StoreUnavailableError):
        await soon(store.claim(req.id, [S.PENDING], S.APPROVED, actor="U02", at=T0))
    assert "rollback failed (disk I/O error); reconnecting" in caplog.text
    flaky.failing = None
    assert await soon(store.get(req.id)) == req
    approved = await soon(store.claim(req.id, [S.PENDING], S.APPROVED, actor="U02", at=T0))
    assert approved.state is S.APPROVED
    assert store.fault is None
