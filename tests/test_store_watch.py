"""The store keeps health watches and the key a connection had before a change (for a revert), on real SQLite files:
watches round-trip and list, the old key is kept encrypted like the pending key and erased for good, watch events
join the keyed audit chain, a refused write leaves nothing behind, and a schema-2 file opens as schema 3."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography.fernet import Fernet
from items import connection
from pydantic import SecretStr

from bot.cli import main
from bot.store import (
    Store,
    StoreError,
    StoreKeyError,
    StoreUnavailableError,
    UnknownRequestError,
    check_chain,
    key_file_path,
)
from bot.vpn.change import ChangeRequest, ChangeState
from bot.vpn.edit import propose
from bot.vpn.watch import TunnelReading, Watch, WatchState

S = ChangeState
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
ALL_TABLES = ("requests", "secrets", "audit", "meta", "fronts", "watches", "old_secrets")
SCHEMA_2_TABLES = {
    name: f'CREATE TABLE "{name}" (key TEXT PRIMARY KEY, value BLOB)'
    for name in ("audit", "fronts", "meta", "requests", "secrets")
}
"""sqlite_master of a file the schema-2 store wrote (read from one it made before schema 3 existed)."""


def new_request(conn_id: str = "vpnx-ol6bcqp0", *, key: str | None = None) -> ChangeRequest:
    conn = connection(unVpnConnId=conn_id)
    edits = {"vpnConnName": f"renamed-{uuid.uuid4().hex[:8]}"}
    if key is not None:
        edits["preSharedKey"] = key
    return ChangeRequest.from_proposal(
        conn, propose(conn.settings, edits), requester="U01REQ", now=T0, ttl=timedelta(hours=24)
    )


def unique_key(label: str = "psk") -> str:
    return f"{label}-{uuid.uuid4().hex}{uuid.uuid4().hex}"


def watch_of(request: ChangeRequest, started: datetime = T0, state: WatchState = WatchState.WATCHING) -> Watch:
    return Watch(request.id, request.vpn_conn_id, started, started + timedelta(minutes=5), state)


async def created(store: Store, conn_id: str = "vpnx-ol6bcqp0", *, key: str | None = None) -> ChangeRequest:
    request = new_request(conn_id, key=key)
    await store.create(request, SecretStr(key) if key is not None else None)
    return request


async def succeed(store: Store, request: ChangeRequest) -> ChangeRequest:
    for before, after in ((S.PENDING, S.APPROVED), (S.APPROVED, S.SUBMITTING), (S.SUBMITTING, S.RUNNING)):
        await store.claim(request.id, [before], after, actor="vpnbot", at=T0)
    return await store.claim(request.id, [S.RUNNING], S.SUCCEEDED, actor="vpnbot", at=T0)


def table(path: Path, name: str) -> dict[str, str]:
    with closing(sqlite3.connect(path)) as db:
        return dict(db.execute(f'SELECT key, value FROM "{name}"'))


def snapshot(path: Path) -> dict[str, dict[str, str]]:
    """Every row of every table, as another process reads the file now (the heartbeat left out)."""
    tables = {name: table(path, name) for name in ALL_TABLES}
    tables["meta"].pop("heartbeat", None)
    return tables


def raw_bytes(path: Path) -> bytes:
    """Every byte SQLite keeps for this state file now: the file, and its -wal, -shm or -journal beside it."""
    names = {path.name + suffix for suffix in ("", "-wal", "-journal", "-shm")}
    return b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name in names)


def layout(path: Path) -> dict[str, str]:
    with closing(sqlite3.connect(path)) as db:
        return dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "vpnbot-state.sqlite"


@pytest.fixture
async def store(path: Path) -> AsyncIterator[Store]:
    opened = Store.open(path)
    yield opened
    await opened.aclose()


# -- watches ---------------------------------------------------------------------------------------------------------


async def test_a_watch_round_trips_and_is_replaced_by_its_request(store: Store, path: Path) -> None:
    request = await created(store)
    first = watch_of(request)
    await store.save_watch(first)
    assert await store.watch(request.id) == first
    later = first.seen(TunnelReading(False, "net status unavailable"), T0 + timedelta(minutes=1))
    await store.save_watch(later)
    assert await store.watch(request.id) == later
    assert later.is_down
    assert list(table(path, "watches")) == [request.id]
    assert json.loads(table(path, "watches")[request.id]) == later.to_json()
    assert await store.watch("chg-aaaaaaaaaa") is None
    assert [r.action for r in await store.audit_log()] == ["created"]  # saving a watch audits nothing
    await store.aclose()
    async with Store.open(path) as reopened:
        assert await reopened.watch(request.id) == later


async def test_a_watch_in_another_zone_reads_back_equal(store: Store) -> None:
    request = await created(store)
    east = timezone(timedelta(hours=8))
    watch = watch_of(request, T0.astimezone(east))
    await store.save_watch(watch)
    stored = await store.watch(request.id)
    assert stored == watch
    assert stored is not None
    assert stored.started_at.utcoffset() == timedelta(0)


async def test_save_watch_refuses_what_it_cannot_keep_and_writes_nothing(store: Store, path: Path) -> None:
    request = await created(store)
    with pytest.raises(UnknownRequestError) as unknown:
        await store.save_watch(Watch("chg-aaaaaaaaaa", "vpnx-ol6bcqp0", T0, T0 + HOUR))
    assert isinstance(unknown.value, StoreError)
    with pytest.raises(ValueError, match="is of vpnx-other001, but the request is for vpnx-ol6bcqp0"):
        await store.save_watch(Watch(request.id, "vpnx-other001", T0, T0 + HOUR))
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.save_watch(Watch(request.id, request.vpn_conn_id, T0.replace(tzinfo=None), T0 + HOUR))
    assert table(path, "watches") == {}
    assert store.fault is None


async def test_active_watches_are_those_watching_oldest_started_first(store: Store) -> None:
    requests = [await created(store, f"vpnx-watch{n:03d}") for n in range(6)]
    started = [T0 + timedelta(minutes=m) for m in (30, 10, 20, 10, 5, 1)]
    states = [WatchState.WATCHING] * 4 + [WatchState.UP, WatchState.DOWN]
    for request, at, state in zip(requests, started, states, strict=True):
        await store.save_watch(watch_of(request, at, state))
    tied = sorted([requests[1].id, requests[3].id])
    active = await store.active_watches()
    assert [w.request_id for w in active] == [*tied, requests[2].id, requests[0].id]
    assert all(w.state is WatchState.WATCHING for w in active)
    ended = (await store.watch(requests[2].id) or watch_of(requests[2])).ended()
    await store.save_watch(ended)
    assert [w.request_id for w in await store.active_watches()] == [*tied, requests[0].id]


async def test_an_unreadable_watch_is_named(store: Store, path: Path) -> None:
    request = await created(store)
    await store.save_watch(watch_of(request))
    with closing(sqlite3.connect(path)) as db:
        db.execute("UPDATE watches SET value = ? WHERE key = ?", ('{"request_id": 1}', request.id))
        db.commit()
    with pytest.raises(StoreError, match=f"the watch of change request {request.id} in the state file cannot be read"):
        await store.active_watches()


async def test_two_saves_at_once_each_land_whole(path: Path) -> None:
    """On one store (its worker serialises them) and on two stores on one file (two processes: SQLite's write
    lock does): every watch of its own request is kept, and the one request both wrote holds one of the two whole."""
    one = Store.open(path)
    other = Store.open(path)
    try:
        requests = [await created(one, f"vpnx-conc{n:04d}") for n in range(20)]
        shared = requests[0]
        down = watch_of(shared).seen(TunnelReading(False, "net status unavailable"), T0 + timedelta(minutes=1))
        up = watch_of(shared).seen(TunnelReading(True, "net status available"), T0 + timedelta(minutes=2))
        await asyncio.gather(one.save_watch(down), one.save_watch(up))
        assert await one.watch(shared.id) == up  # one worker: in the order called
        saves = [
            (one if n % 2 else other).save_watch(watch_of(r, T0 + timedelta(seconds=n)))
            for n, r in enumerate(requests[1:], 1)
        ]
        await asyncio.gather(*saves, one.save_watch(down), other.save_watch(up))
        assert await other.watch(shared.id) in (down, up)
        for n, request in enumerate(requests[1:], 1):
            assert await one.watch(request.id) == watch_of(request, T0 + timedelta(seconds=n))
        assert len(await other.active_watches()) == 20
    finally:
        await one.aclose()
        await other.aclose()


# -- the key before the change ---------------------------------------------------------------------------------------


async def test_the_old_key_is_kept_encrypted_like_the_pending_key_until_its_time(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pending, old = unique_key("pending"), unique_key("old")
    store = Store.open(path)
    request = await created(store, key=pending)
    await store.keep_old_psk(request.id, SecretStr(old), until=T0 + HOUR)
    assert (await store.old_psk(request.id, T0) or SecretStr("")).get_secret_value() == old
    assert (
        await store.old_psk(request.id, T0 + HOUR - timedelta(seconds=1)) or SecretStr("")
    ).get_secret_value() == old
    assert await store.old_psk(request.id, T0 + HOUR) is None  # from `until` on
    assert await store.old_psk("chg-aaaaaaaaaa", T0) is None
    data = raw_bytes(path)
    assert old.encode() not in data
    assert pending.encode() not in data
    assert request.id.encode() in data  # the check reads the right file

    fernet = Fernet(key_file_path(path).read_text().strip().encode())
    entry = json.loads(table(path, "old_secrets")[request.id])
    assert entry["until"] == (T0 + HOUR).isoformat()
    assert entry["token"].startswith("gAAAAA")
    assert fernet.decrypt(entry["token"].encode()).decode() == old  # the store key, as for the pending key
    assert fernet.decrypt(json.loads(table(path, "secrets")[request.id]).encode()).decode() == pending

    finished = await succeed(store, request)
    assert finished.is_terminal
    assert await store.psk(request.id) is None  # the pending key ends with the request
    assert (await store.old_psk(request.id, T0) or SecretStr("")).get_secret_value() == old  # the old one is kept
    await store.aclose()
    assert old.encode() not in raw_bytes(path)
    async with Store.open(path) as reopened:
        assert (await reopened.old_psk(request.id, T0) or SecretStr("")).get_secret_value() == old
        for record in await reopened.audit_log():
            assert old not in json.dumps(record.to_json())
            assert entry["token"] not in json.dumps(record.to_json())
    assert old not in caplog.text
    assert entry["token"] not in caplog.text


async def test_keep_old_psk_refuses_and_writes_nothing(store: Store, path: Path) -> None:
    keyed = await created(store, key=unique_key())
    unkeyed = await created(store, "vpnx-other001")
    with pytest.raises(ValueError, match="empty"):
        await store.keep_old_psk(keyed.id, SecretStr(""), until=T0 + HOUR)
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.keep_old_psk(keyed.id, SecretStr(unique_key()), until=T0.replace(tzinfo=None))
    with pytest.raises(ValueError, match="leaves the pre-shared key as it is"):
        await store.keep_old_psk(unkeyed.id, SecretStr(unique_key()), until=T0 + HOUR)
    with pytest.raises(UnknownRequestError):
        await store.keep_old_psk("chg-aaaaaaaaaa", SecretStr(unique_key()), until=T0 + HOUR)
    assert table(path, "old_secrets") == {}


async def test_a_wrong_store_key_cannot_read_the_old_key(path: Path) -> None:
    old = unique_key("old")
    async with Store.open(path, key=Fernet.generate_key().decode()) as store:
        request = await created(store, key=unique_key())
        await store.keep_old_psk(request.id, SecretStr(old), until=T0 + HOUR)
    async with Store.open(path, key=Fernet.generate_key().decode()) as other:
        with pytest.raises(StoreKeyError, match="VPNBOT_STORE_KEY") as caught:
            await other.old_psk(request.id, T0)
        assert f"request {request.id}'s old pre-shared key was stored with" in str(caught.value)
        assert old not in str(caught.value)


async def test_erase_old_psk_overwrites_it_and_empties_the_log_at_once(store: Store, path: Path) -> None:
    old = unique_key("old")
    request = await created(store, key=unique_key())
    await store.keep_old_psk(request.id, SecretStr(old), until=T0 + HOUR)
    token = json.loads(table(path, "old_secrets")[request.id])["token"].encode()
    assert token in raw_bytes(path)  # the check can fail: the write-ahead log holds it now
    await store.erase_old_psk(request.id)
    assert await store.old_psk(request.id, T0) is None
    assert table(path, "old_secrets") == {}
    assert token not in raw_bytes(path)  # while the store is still open: not left in the -wal file
    await store.erase_old_psk(request.id)  # idempotent
    await store.erase_old_psk("chg-aaaaaaaaaa")
    assert (await store.get(request.id)) == request  # nothing else touched
    await store.aclose()
    assert token not in raw_bytes(path)


async def test_erase_expired_old_psks_erases_those_whose_time_has_come(store: Store, path: Path) -> None:
    requests = [await created(store, f"vpnx-old{n:05d}", key=unique_key()) for n in range(3)]
    keys = [unique_key("old") for _ in requests]
    for n, (request, key) in enumerate(zip(requests, keys, strict=True), 1):
        await store.keep_old_psk(request.id, SecretStr(key), until=T0 + n * HOUR)
    tokens = {k: json.loads(v)["token"].encode() for k, v in table(path, "old_secrets").items()}
    assert await store.erase_expired_old_psks(T0 + HOUR - timedelta(seconds=1)) == 0
    assert await store.erase_expired_old_psks(T0 + 2 * HOUR) == 2
    assert list(table(path, "old_secrets")) == [requests[2].id]
    data = raw_bytes(path)
    assert tokens[requests[0].id] not in data
    assert tokens[requests[1].id] not in data
    assert tokens[requests[2].id] in data
    assert (await store.old_psk(requests[2].id, T0 + 2 * HOUR) or SecretStr("")).get_secret_value() == keys[2]
    assert await store.erase_expired_old_psks(T0 + 2 * HOUR) == 0
    # a record nothing can date is erased rather than kept for ever
    with closing(sqlite3.connect(path)) as db:
        db.execute("UPDATE old_secrets SET value = ? WHERE key = ?", ('{"token": "gAAAA"}', requests[2].id))
        db.commit()
    with pytest.raises(StoreError, match="has an unreadable record"):
        await store.old_psk(requests[2].id, T0)
    assert await store.erase_expired_old_psks(T0) == 1
    assert table(path, "old_secrets") == {}


async def test_a_missing_key_file_names_the_old_key_it_would_lose(path: Path) -> None:
    async with Store.open(path) as store:
        request = await created(store, key=unique_key())
        await store.keep_old_psk(request.id, SecretStr(unique_key("old")), until=T0 + HOUR)
        await store.claim(request.id, [S.PENDING], S.CANCELLED, actor="U01REQ", at=T0)
    key_file_path(path).unlink()
    with pytest.raises(StoreKeyError, match="holds 1 change request, 1 old pre-shared key, 2 audit records"):
        Store.open(path)


# -- audit events ----------------------------------------------------------------------------------------------------


async def test_an_audit_event_joins_the_keyed_chain_and_verifies(store: Store) -> None:
    request = await created(store)
    await succeed(store, request)
    await store.save_watch(watch_of(request))
    down_at = T0 + timedelta(minutes=2)
    await store.audit_event(
        request.id, actor="vpnbot", at=down_at, action="watch: tunnel down", detail={"since": down_at, "n": [1]}
    )
    records = await store.audit_log()
    assert [r.action for r in records][-2:] == ["running->succeeded", "watch: tunnel down"]
    event = records[-1]
    assert (event.request_id, event.vpn_conn_id, event.actor, event.at) == (
        request.id,
        request.vpn_conn_id,
        "vpnbot",
        down_at,
    )
    assert event.detail == {"since": down_at.isoformat(), "n": [1]}
    assert event.prev_hash == records[-2].hash
    assert event.keyed
    assert check_chain(records, key=store.derived_key("audit-chain")).problems == []
    assert (await store.check_audit()).intact
    second = await created(store)  # the chain goes on after an event
    after = (await store.audit_log())[-1]
    assert (after.action, after.request_id, after.prev_hash) == ("created", second.id, event.hash)


@pytest.fixture
def eventful(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, int, str]:
    """A state file whose log holds watch events between transitions; the CLI pointed at it (its key file)."""

    async def write() -> tuple[int, str]:
        async with Store.open(path) as store:
            request = await created(store)
            await audit_an_event(store, request)
            await succeed(store, request)
            await store.audit_event(request.id, actor="vpnbot", at=T0, action="watch: tunnel up", detail={})
            records = await store.audit_log()
        return len(records), records[-1].hash

    count, head = asyncio.run(write())
    monkeypatch.setenv("VPNBOT_STATE_PATH", str(path))
    monkeypatch.delenv("VPNBOT_STORE_KEY", raising=False)
    monkeypatch.chdir(path.parent)
    return path, count, head


def test_vpnbot_audit_verify_says_intact_with_events(
    eventful: tuple[Path, int, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, count, head = eventful
    assert count == 7
    assert main(["audit", "--verify"]) == 0
    assert capsys.readouterr().out.startswith(f"audit log intact: {count} records, head {head}")
    assert main(["audit"]) == 0
    listing = capsys.readouterr().out
    assert "watch: tunnel down" in listing
    assert "watch: tunnel up" in listing
    # and an edit of an event is named like that of any record
    with closing(sqlite3.connect(path)) as db:
        (raw,) = db.execute("SELECT value FROM audit WHERE key = '000000000002'").fetchone()
        record = json.loads(raw) | {"action": "watch: tunnel up"}
        db.execute("UPDATE audit SET value = ? WHERE key = '000000000002'", (json.dumps(record),))
        db.commit()
    assert main(["audit", "--verify"]) == 1
    assert "record 2: hash mismatch" in capsys.readouterr().out


async def test_an_audit_event_never_holds_a_key(store: Store) -> None:
    pending, old = unique_key("pending"), unique_key("old")
    request = await created(store, key=pending)
    await store.keep_old_psk(request.id, SecretStr(old), until=T0 + HOUR)
    token = json.loads(table(store.path, "old_secrets")[request.id])["token"]
    before = await store.audit_log()
    holding: list[dict[str, Any]] = [
        {"since": T0.isoformat(), "note": f"key was {pending}"},
        {"nested": {"list": ["x", old]}},
        {old: "as a name"},
        {"token": token},
    ]
    for detail in holding:
        with pytest.raises(ValueError, match="holds the request's pending or old pre-shared key") as caught:
            await store.audit_event(request.id, actor="vpnbot", at=T0, action="watch: tunnel down", detail=detail)
        assert pending not in str(caught.value)
        assert old not in str(caught.value)
    with pytest.raises(ValueError, match="holds") as caught:
        await store.audit_event(request.id, actor="vpnbot", at=T0, action=f"watch {old}", detail={})
    assert old not in str(caught.value)
    with pytest.raises(ValueError, match="holds"):
        await store.audit_event(request.id, actor=pending, at=T0, action="watch: up", detail={})
    assert await store.audit_log() == before
    assert store.fault is None


async def test_an_audit_event_refuses_what_is_no_event(store: Store) -> None:
    request = await created(store)
    before = await store.audit_log()
    for action in ("created", "pending->approved", "watch->anything", " "):
        with pytest.raises(ValueError, match="neither 'created' nor a transition"):
            await store.audit_event(request.id, actor="vpnbot", at=T0, action=action, detail={})
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.audit_event(request.id, actor="vpnbot", at=T0.replace(tzinfo=None), action="watch: up", detail={})
    naive = {"since": T0.replace(tzinfo=None)}
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.audit_event(request.id, actor="vpnbot", at=T0, action="watch: up", detail=naive)
    with pytest.raises(ValueError, match="must be JSON: object is not JSON"):
        await store.audit_event(request.id, actor="vpnbot", at=T0, action="watch: up", detail={"x": object()})
    with pytest.raises(ValueError, match="must be JSON"):
        await store.audit_event(request.id, actor="vpnbot", at=T0, action="watch: up", detail={"x": float("nan")})
    with pytest.raises(ValueError, match="needs an actor"):
        await store.audit_event(request.id, actor="", at=T0, action="watch: up", detail={})
    with pytest.raises(UnknownRequestError):
        await store.audit_event("chg-aaaaaaaaaa", actor="vpnbot", at=T0, action="watch: up", detail={})
    assert await store.audit_log() == before


# -- faults ----------------------------------------------------------------------------------------------------------


class FlakyConnection(sqlite3.Connection):
    """A real SQLite connection that fails, while ``failing`` is set, at the first statement holding ``at``: the
    way a sick disk makes SQLite fail (as in test_store_faults)."""

    failing: ClassVar[str | None] = None
    at: ClassVar[str] = "COMMIT"

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        message = FlakyConnection.failing
        if message is not None and FlakyConnection.at in sql:
            raise sqlite3.OperationalError(message)
        return super().execute(sql, *args)


@pytest.fixture
def flaky(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FlakyConnection]]:
    monkeypatch.setattr(sqlite3, "connect", functools.partial(sqlite3.connect, factory=FlakyConnection))
    FlakyConnection.failing, FlakyConnection.at = None, "COMMIT"
    yield FlakyConnection
    FlakyConnection.failing, FlakyConnection.at = None, "COMMIT"


OLD = "old-" + uuid.uuid4().hex


async def save_later_watch(store: Store, request: ChangeRequest) -> None:
    await store.save_watch(watch_of(request).seen(TunnelReading(False, "down"), T0 + timedelta(minutes=1)))


async def keep_another_old_key(store: Store, request: ChangeRequest) -> None:
    await store.keep_old_psk(request.id, SecretStr(OLD + "-2"), until=T0 + 2 * HOUR)


async def audit_an_event(store: Store, request: ChangeRequest) -> None:
    await store.audit_event(request.id, actor="vpnbot", at=T0, action="watch: tunnel down", detail={"since": T0})


async def erase_the_old_key(store: Store, request: ChangeRequest) -> None:
    await store.erase_old_psk(request.id)


async def erase_expired(store: Store, request: ChangeRequest) -> None:
    await store.erase_expired_old_psks(T0 + 3 * HOUR)


@pytest.mark.parametrize(
    ("operation", "at"),
    [
        (save_later_watch, "COMMIT"),
        (save_later_watch, 'INTO "watches"'),
        (keep_another_old_key, "COMMIT"),
        (keep_another_old_key, 'INTO "old_secrets"'),
        (audit_an_event, "COMMIT"),
        (audit_an_event, 'INTO "meta"'),  # after the record itself was written
        (erase_the_old_key, "COMMIT"),
        (erase_the_old_key, 'DELETE FROM "old_secrets"'),
        (erase_expired, "COMMIT"),
    ],
    ids=lambda value: value.replace('"', "") if isinstance(value, str) else value.__name__,
)
@pytest.mark.parametrize("error", ["database or disk is full", "attempt to write a readonly database"])
async def test_a_write_the_disk_refuses_raises_and_leaves_nothing(
    tmp_path: Path, flaky: type[FlakyConnection], operation: Any, at: str, error: str
) -> None:
    path = tmp_path / "state.sqlite"
    async with Store.open(path) as store:
        request = await created(store, key=unique_key())
        await store.save_watch(watch_of(request))
        await store.keep_old_psk(request.id, SecretStr(OLD), until=T0 + HOUR)
        before = snapshot(path)
        flaky.failing, flaky.at = error, at
        with pytest.raises(StoreUnavailableError) as caught:
            await asyncio.wait_for(operation(store, request), 10)
        assert str(caught.value) == f"the state file cannot be written ({error}); nothing was changed"
        assert store.fault == f"the state file cannot be written ({error})"
        assert OLD not in str(caught.value)
        assert snapshot(path) == before
        assert await store.watch(request.id) == watch_of(request)  # the store's view is the file's
        assert (await store.old_psk(request.id, T0) or SecretStr("")).get_secret_value() == OLD
        flaky.failing = None
        await operation(store, request)
        assert store.fault is None
        assert snapshot(path) != before
        assert await store.verify_audit() == []


# -- the schema ------------------------------------------------------------------------------------------------------


async def write_schema_2_file(path: Path) -> tuple[ChangeRequest, str]:
    """A state file as the schema-2 store left it: written by this store, then its schema-3 tables dropped and its
    mark set back; its layout is checked against a file the schema-2 code wrote (:data:`SCHEMA_2_TABLES`)."""
    psk = unique_key()
    async with Store.open(path) as store:
        request = await created(store, key=psk)
        await store.save_front_record(request.id, {"channel": "C0APPROVALS"})
        await store.claim(request.id, [S.PENDING], S.APPROVED, actor="U02", at=T0, approver="U02")
    with closing(sqlite3.connect(path)) as db:
        db.execute("DROP TABLE watches")
        db.execute("DROP TABLE old_secrets")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")
        db.commit()
    assert layout(path) == SCHEMA_2_TABLES
    return request, psk


async def test_a_schema_2_file_opens_as_schema_3_and_keeps_everything(path: Path) -> None:
    request, psk = await write_schema_2_file(path)
    before = {name: table(path, name) for name in SCHEMA_2_TABLES}
    async with Store.open(path) as store:
        assert layout(path) == SCHEMA_2_TABLES | {
            name: f'CREATE TABLE "{name}" (key TEXT PRIMARY KEY, value BLOB)' for name in ("watches", "old_secrets")
        }
        assert table(path, "meta")["schema"] == "3"
        assert {name: table(path, name) for name in ("requests", "secrets", "audit", "fronts")} == {
            name: before[name] for name in ("requests", "secrets", "audit", "fronts")
        }
        assert await store.get(request.id) is not None
        assert (await store.psk(request.id) or SecretStr("")).get_secret_value() == psk
        assert await store.front_record(request.id) == {"channel": "C0APPROVALS"}
        assert await store.verify_audit() == []
        assert await store.active_watches() == []
        await store.save_watch(watch_of(request))
        await store.keep_old_psk(request.id, SecretStr("the-old-key-" + uuid.uuid4().hex), until=T0 + HOUR)
        await audit_an_event(store, request)
    async with Store.open(path) as again:  # opening an up-to-date file writes nothing
        assert await again.watch(request.id) == watch_of(request)
        assert await again.verify_audit() == []


async def test_a_schema_3_file_an_older_vpnbot_opened_is_brought_up_to_date(path: Path) -> None:
    """An older vpnbot ignores the new tables and marks the file as schema 2; the next start of this one finds the
    watches and old keys where they were."""
    old = unique_key("old")
    async with Store.open(path) as store:
        request = await created(store, key=unique_key())
        await store.save_watch(watch_of(request))
        await store.keep_old_psk(request.id, SecretStr(old), until=T0 + HOUR)
    with closing(sqlite3.connect(path)) as db:
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")
        db.commit()
    async with Store.open(path) as store:
        assert table(path, "meta")["schema"] == "3"
        assert [w.request_id for w in await store.active_watches()] == [request.id]
        assert (await store.old_psk(request.id, T0) or SecretStr("")).get_secret_value() == old


async def test_vpnbot_audit_reads_a_schema_2_file_without_writing(path: Path) -> None:
    request, _ = await write_schema_2_file(path)
    before = snapshot_of(path)
    async with Store.open(path, read_only=True) as store:
        assert await store.watch(request.id) is None
        assert await store.active_watches() == []
        assert await store.old_psk(request.id, T0) is None
        assert await store.verify_audit() == []
        with pytest.raises(StoreError, match="read-only"):
            await store.save_watch(watch_of(request))
    assert layout(path) == SCHEMA_2_TABLES
    assert snapshot_of(path) == before


def snapshot_of(path: Path) -> dict[str, dict[str, str]]:
    return {name: table(path, name) for name in layout(path)}


async def test_an_erasure_stands_when_the_log_cannot_be_emptied_at_once(
    path: Path, flaky: type[FlakyConnection], caplog: pytest.LogCaptureFixture
) -> None:
    """Another process reading the file keeps the log from being emptied, and a failed checkpoint is no failed
    erasure: the key is erased either way, and the log is emptied by the next erasure that can."""
    caplog.set_level(logging.INFO, logger="bot.store")
    async with Store.open(path, lock_timeout=0.2) as store:
        requests = [await created(store, f"vpnx-erase{n:03d}", key=unique_key()) for n in range(3)]
        for request in requests:
            await store.keep_old_psk(request.id, SecretStr(unique_key("old")), until=T0 + HOUR)
        tokens = [json.loads(v)["token"].encode() for v in table(path, "old_secrets").values()]
        with closing(sqlite3.connect(path, isolation_level=None)) as reader:
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM old_secrets").fetchone()  # a read snapshot held open
            await store.erase_old_psk(requests[0].id)
            assert "another process's read kept the write-ahead log from being emptied" in caplog.text
            assert tokens[0] in raw_bytes(path)  # the check can fail: still in the -wal file
        flaky.failing, flaky.at = "disk I/O error", "wal_checkpoint"
        await store.erase_old_psk(requests[1].id)
        assert "emptying the write-ahead log after an erasure: disk I/O error" in caplog.text
        assert store.fault is None
        flaky.failing = None
        assert table(path, "old_secrets") == {requests[2].id: table(path, "old_secrets")[requests[2].id]}
        await store.erase_old_psk(requests[2].id)
        data = raw_bytes(path)
        assert not [token for token in tokens if token in data]
