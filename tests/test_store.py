"""The store, on real SQLite files: requests, exactly-once claims, the encrypted key, the audit chain, closing."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import os
import sqlite3
import stat
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from items import connection
from pydantic import SecretStr

from bot.store import (
    AUDIT_GENESIS,
    ClaimConflictError,
    OpenRequestExistsError,
    Store,
    StoreClosedError,
    StoreError,
    StoreKeyError,
    TooManyOpenRequestsError,
    UnknownRequestError,
    audit_key_id,
    key_file_path,
    verify_chain,
)
from bot.vpn.change import ChangeRequest, ChangeState, InvalidTransitionError
from bot.vpn.edit import propose

S = ChangeState
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def new_request(
    conn_id: str = "vpnx-ol6bcqp0", *, key: str | None = None, now: datetime = T0, ttl: timedelta = timedelta(hours=24)
) -> ChangeRequest:
    conn = connection(unVpnConnId=conn_id)
    edits = {"vpnConnName": f"renamed-{uuid.uuid4().hex[:8]}"}
    if key is not None:
        edits["preSharedKey"] = key
    return ChangeRequest.from_proposal(conn, propose(conn.settings, edits), requester="U01REQ", now=now, ttl=ttl)


def unique_key() -> str:
    return f"psk-{uuid.uuid4().hex}-{uuid.uuid4().hex}"


def table(path: Path, name: str) -> dict[str, str]:
    with closing(sqlite3.connect(path)) as db:
        return dict(db.execute(f'SELECT key, value FROM "{name}"'))


def execute(path: Path, sql: str, *args: Any) -> None:
    with closing(sqlite3.connect(path)) as db:
        db.execute(sql, args)
        db.commit()


def raw_bytes(path: Path) -> bytes:
    """Every byte SQLite keeps for this state file (the file, and a WAL or journal if one were left behind)."""
    names = {path.name + suffix for suffix in ("", "-wal", "-journal", "-shm")}
    return b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name in names)


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "vpnbot-state.sqlite"


@pytest.fixture
async def store(path: Path) -> AsyncIterator[Store]:
    opened = Store.open(path)
    yield opened
    await opened.aclose()


# -- requests ----------------------------------------------------------------------------------------------------------


async def test_create_then_get_returns_the_same_request(store: Store) -> None:
    req = new_request()
    await store.create(req, None)
    assert await store.get(req.id) == req
    assert await store.get("chg-aaaaaaaaaa") is None


async def test_a_front_record_is_kept_apart_and_never_undoes_a_transition(store: Store) -> None:
    req = new_request()
    await store.create(req, None, front_record={"origin_channel": "C0ORIGIN"})
    assert await store.front_record(req.id) == {"origin_channel": "C0ORIGIN"}
    await store.claim(req.id, [S.PENDING], S.APPROVED, actor="U02", at=T0 + timedelta(minutes=1), approver="U02")
    await store.save_front_record(req.id, {"channel": "C0APPROVALS", "card_ts": "1700000000.000100"})
    stored = await store.get(req.id)
    assert stored is not None
    assert stored.state is S.APPROVED
    assert stored.approver == "U02"
    assert len(stored.history) == 1
    assert "C0APPROVALS" not in json.dumps(stored.to_json())
    assert await store.front_records([req.id, "chg-aaaaaaaaaa"]) == {
        req.id: {"channel": "C0APPROVALS", "card_ts": "1700000000.000100"}
    }
    assert await store.front_record("chg-aaaaaaaaaa") is None
    with pytest.raises(UnknownRequestError):
        await store.save_front_record("chg-aaaaaaaaaa", {})


async def test_a_schema_1_file_opens_with_its_slack_references_moved_to_front_records(tmp_path: Path) -> None:
    """A state file an earlier vpnbot wrote keeps its cards: the references move to the front record."""
    path = tmp_path / "state.sqlite"
    req = new_request()
    async with Store.open(path) as first:
        await first.create(req, None)
    old = req.to_json() | {"channel": "C0APPROVALS", "card_ts": "1700000000.000100", "progress_ts": None}
    old |= {"origin_channel": "C0ORIGIN", "final_reply": ":large_green_circle: done <@U01>"}
    for name in ("front", "end", "elapsed_seconds", "verify_note"):
        del old[name]
    with sqlite3.connect(path) as conn:
        conn.execute("REPLACE INTO requests (key, value) VALUES (?, ?)", (req.id, json.dumps(old)))
        conn.execute("REPLACE INTO meta (key, value) VALUES ('schema', '1')")
        conn.execute("DELETE FROM fronts")
    async with Store.open(path) as second:
        assert await second.get(req.id) == req
        assert await second.front_record(req.id) == {
            "channel": "C0APPROVALS",
            "card_ts": "1700000000.000100",
            "progress_ts": None,
            "origin_channel": "C0ORIGIN",
            "legacy_final_reply": ":large_green_circle: done <@U01>",
        }
    with sqlite3.connect(path) as conn:
        (raw,) = conn.execute("SELECT value FROM requests WHERE key = ?", (req.id,)).fetchone()
    assert "card_ts" not in json.loads(raw)


async def test_a_connection_has_at_most_one_open_request(store: Store) -> None:
    first = new_request()
    await store.create(first, None)
    with pytest.raises(OpenRequestExistsError) as caught:
        await store.create(new_request(), None)
    assert caught.value.request == first
    assert first.id in str(caught.value)
    other = new_request("vpnx-other001")
    await store.create(other, None)
    assert await store.open_request_for("vpnx-ol6bcqp0") == first
    assert await store.open_request_for("vpnx-other001") == other
    assert await store.open_request_for("vpnx-nothing0") is None
    # still open after approval; a new one may come once it ends
    await store.claim(first.id, [S.PENDING], S.APPROVED, actor="U02", at=T0)
    with pytest.raises(OpenRequestExistsError):
        await store.create(new_request(), None)
    await store.claim(first.id, [S.APPROVED], S.STALE, actor="vpnbot", at=T0)
    assert await store.open_request_for("vpnx-ol6bcqp0") is None
    again = new_request()
    await store.create(again, None)
    assert await store.open_request_for("vpnx-ol6bcqp0") == again
    assert len([r for r in await store.audit_log() if r.action == "created"]) == 3


MINUTES = itertools.count(1)


def by(requester: str, conn_id: str) -> ChangeRequest:
    """A request of ``requester``'s, made a minute after the last one (so oldest-first order is known)."""
    req = new_request(conn_id, now=T0 + timedelta(minutes=next(MINUTES)))
    req.requester = requester
    return req


async def test_a_requester_holds_at_most_the_limit_of_open_requests(store: Store) -> None:
    held = [by("U01A", f"vpnx-held{n:04d}") for n in range(3)]
    for req in held:
        await store.create(req, None, max_open_per_requester=3)
    with pytest.raises(TooManyOpenRequestsError) as caught:
        await store.create(by("U01A", "vpnx-fourth01"), None, max_open_per_requester=3)
    assert caught.value.requests == held
    assert caught.value.limit == 3
    assert "U01A already has 3 open change requests" in str(caught.value)
    assert all(r.id in str(caught.value) for r in held)
    assert await store.open_request_for("vpnx-fourth01") is None
    assert len(await store.audit_log()) == 3  # the refusal wrote nothing
    # others are not counted, nor is a limit not asked for
    await store.create(by("U01B", "vpnx-other001"), None, max_open_per_requester=3)
    await store.create(by("U01A", "vpnx-nolimit1"), None)
    # the connection's own open request is named first, whoever holds it
    with pytest.raises(OpenRequestExistsError):
        await store.create(by("U01A", held[0].vpn_conn_id), None, max_open_per_requester=1)
    # an ended request frees its place; an approved one still holds it
    await store.claim(held[0].id, [S.PENDING], S.APPROVED, actor="U02", at=T0)
    await store.claim(held[1].id, [S.PENDING], S.REJECTED, actor="U02", at=T0)
    await store.claim(held[2].id, [S.PENDING], S.CANCELLED, actor="U01A", at=T0)
    await store.create(by("U01A", "vpnx-fourth01"), None, max_open_per_requester=3)
    with pytest.raises(TooManyOpenRequestsError) as caught:
        await store.create(by("U01A", "vpnx-fifth001"), None, max_open_per_requester=3)
    assert [r.vpn_conn_id for r in caught.value.requests] == [held[0].vpn_conn_id, "vpnx-nolimit1", "vpnx-fourth01"]
    with pytest.raises(ValueError, match="at least 1"):
        await store.create(by("U01C", "vpnx-zero0001"), None, max_open_per_requester=0)


async def test_the_limit_is_checked_in_the_same_write(store: Store) -> None:
    """Twenty requests at once from one person, each for another connection, under a limit of 3: exactly three are
    stored (the check and the write are one transaction on the one worker)."""
    requests = [by("U01A", f"vpnx-race{n:04d}") for n in range(20)]
    results = await asyncio.gather(
        *(store.create(r, None, max_open_per_requester=3) for r in requests), return_exceptions=True
    )
    assert sum(r is None for r in results) == 3
    assert all(isinstance(r, TooManyOpenRequestsError) for r in results if r is not None)
    assert len(await store.in_states([S.PENDING])) == 3


async def test_create_refuses_what_is_not_a_new_pending_request(store: Store) -> None:
    req = new_request(key=unique_key())
    with pytest.raises(ValueError, match="exactly when psk_changed"):
        await store.create(req, None)
    with pytest.raises(ValueError, match="exactly when psk_changed"):
        await store.create(new_request(), SecretStr("k" * 20))
    approved = new_request()
    approved.transition(S.APPROVED, actor="U02", at=T0)
    with pytest.raises(ValueError, match="pending"):
        await store.create(approved, None)
    await store.create(new_request("vpnx-other001"), None)
    assert await store.audit_log() != []
    assert await store.get(req.id) is None


async def test_a_failed_write_leaves_nothing_behind(store: Store) -> None:
    req = new_request()
    await store.create(req, None)
    duplicate = new_request("vpnx-other001")
    duplicate.id = req.id
    with pytest.raises(StoreError, match="already exists"):
        await store.create(duplicate, None)
    assert await store.get(req.id) == req
    assert await store.open_request_for("vpnx-other001") is None
    assert [r.action for r in await store.audit_log()] == ["created"]


# -- claims ------------------------------------------------------------------------------------------------------------


async def test_fifty_concurrent_approvals_exactly_one_wins(store: Store) -> None:
    req = new_request()
    await store.create(req, None)

    async def approve(n: int) -> ChangeRequest:
        at = T0 + timedelta(seconds=n)
        return await store.claim(req.id, [S.PENDING], S.APPROVED, actor=f"U{n:03d}", at=at, approver=f"U{n:03d}")

    results = await asyncio.gather(*(approve(n) for n in range(50)), return_exceptions=True)
    winners = [r for r in results if isinstance(r, ChangeRequest)]
    conflicts = [r for r in results if isinstance(r, ClaimConflictError)]
    assert len(winners) == 1
    assert len(conflicts) == 49
    winner = winners[0]
    assert winner.state is S.APPROVED
    assert winner.approver is not None
    for conflict in conflicts:
        assert conflict.request == winner
        assert f"approved (by {winner.approver} at" in str(conflict)
    stored = await store.get(req.id)
    assert stored == winner
    assert len(stored.history) == 1
    assert [r.action for r in await store.audit_log()] == ["created", "pending->approved"]


async def test_claim_applies_changes_and_persists_them(store: Store) -> None:
    req = new_request()
    await store.create(req, None)
    at = T0 + timedelta(minutes=2)
    await store.claim(req.id, [S.PENDING], S.APPROVED, actor="U02", at=at, approver="U02", approved_at=at)
    await store.claim(req.id, [S.APPROVED], S.SUBMITTING, actor="vpnbot", at=at)
    running = await store.claim(
        req.id, [S.SUBMITTING], S.RUNNING, actor="vpnbot", at=at, task_id=987654, task_started_at=at
    )
    assert (running.task_id, running.task_started_at, running.approver) == (987654, at, "U02")
    failed = await store.claim(
        req.id, [S.RUNNING, S.UNKNOWN], S.FAILED, actor="vpnbot", at=at, note="task 987654", outcome_message="Busy"
    )
    assert await store.get(req.id) == failed
    assert failed.finished_at == at
    last = (await store.audit_log())[-1]
    assert last.action == "running->failed"
    assert last.detail == {"outcome_message": "Busy", "note": "task 987654"}


async def test_claim_refusals_write_nothing(store: Store) -> None:
    req = new_request()
    await store.create(req, None)
    with pytest.raises(InvalidTransitionError, match="from pending to running"):
        await store.claim(req.id, [S.PENDING], S.RUNNING, actor="vpnbot", at=T0)
    with pytest.raises(ClaimConflictError) as caught:
        await store.claim(req.id, [S.APPROVED], S.SUBMITTING, actor="vpnbot", at=T0)
    assert caught.value.request == req
    assert "is pending, not approved" in str(caught.value)
    # What a claim may set is ``RequestUpdate``: the type checker refuses ``state=`` or ``colour=`` (mypy --strict).
    with pytest.raises(ClaimConflictError):
        await store.claim(req.id, S.APPROVED, S.SUBMITTING, actor="vpnbot", at=T0)  # type: ignore[arg-type]
    with pytest.raises(UnknownRequestError):
        await store.claim("chg-aaaaaaaaaa", [S.PENDING], S.APPROVED, actor="U02", at=T0)
    assert await store.get(req.id) == req
    assert len(await store.audit_log()) == 1


async def test_state_survives_close_and_reopen(path: Path) -> None:
    first = Store.open(path)
    req = new_request()
    await first.create(req, None)
    approved = await first.claim(req.id, [S.PENDING], S.APPROVED, actor="U02", at=T0, approver="U02")
    await first.aclose()

    second = Store.open(path)
    try:
        assert await second.get(req.id) == approved
        assert await second.open_request_for(req.vpn_conn_id) == approved
        with pytest.raises(ClaimConflictError):
            await second.claim(req.id, [S.PENDING], S.APPROVED, actor="U03", at=T0)
        await second.claim(req.id, [S.APPROVED], S.SUBMITTING, actor="vpnbot", at=T0)
        assert [r.action for r in await second.audit_log()] == ["created", "pending->approved", "approved->submitting"]
        assert await second.verify_audit() == []
    finally:
        second.close()


async def test_in_states_and_expired(path: Path) -> None:
    store = Store.open(path)
    hour = timedelta(hours=1)
    soon = new_request("vpnx-soon0001", ttl=hour)
    later = new_request("vpnx-later001", ttl=3 * hour)
    approved = new_request("vpnx-appr0001", ttl=hour)
    running = new_request("vpnx-runn0001")
    unknown = new_request("vpnx-unkn0001")
    rejected = new_request("vpnx-reje0001", ttl=hour)
    for req in (soon, later, approved, running, unknown, rejected):
        await store.create(req, None)
    await store.claim(approved.id, [S.PENDING], S.APPROVED, actor="U02", at=T0)
    await store.claim(rejected.id, [S.PENDING], S.REJECTED, actor="U02", at=T0, reason="no")
    for req, path_ in ((running, [S.APPROVED, S.SUBMITTING, S.RUNNING]), (unknown, [S.APPROVED, S.SUBMITTING])):
        for state in path_:
            await store.claim(req.id, [S.PENDING, S.APPROVED, S.SUBMITTING], state, actor="vpnbot", at=T0)
    await store.claim(unknown.id, [S.SUBMITTING], S.UNKNOWN, actor="vpnbot", at=T0)
    await store.aclose()

    store = Store.open(path)
    try:
        assert await store.expired(T0 + hour - timedelta(seconds=1)) == []
        assert [r.id for r in await store.expired(T0 + hour)] == [soon.id]
        assert [r.id for r in await store.expired(T0 + 5 * hour)] == [soon.id, later.id]
        resume = await store.in_states([S.SUBMITTING, S.RUNNING, S.UNKNOWN])
        assert {r.id: r.state for r in resume} == {running.id: S.RUNNING, unknown.id: S.UNKNOWN}
        assert [r.id for r in await store.in_states([S.REJECTED])] == [rejected.id]
        assert {r.id for r in await store.in_states([S.PENDING, S.REJECTED])} == {soon.id, later.id, rejected.id}
        assert await store.in_states([S.SUCCEEDED]) == []
    finally:
        await store.aclose()


async def test_the_open_index_is_rebuilt_at_open(path: Path) -> None:
    store = Store.open(path)
    req = new_request()
    await store.create(req, None)
    await store.aclose()
    execute(path, "DELETE FROM meta WHERE key LIKE 'open:%'")
    store = Store.open(path)
    try:
        assert await store.open_request_for(req.vpn_conn_id) == req
        with pytest.raises(OpenRequestExistsError):
            await store.create(new_request(), None)
    finally:
        await store.aclose()


# -- the pre-shared key ----------------------------------------------------------------------------------------------


async def test_the_key_is_stored_encrypted_and_decrypts_after_reopen(path: Path) -> None:
    psk = unique_key()
    store = Store.open(path)
    req = new_request(key=psk)
    await store.create(req, SecretStr(psk))
    assert (await store.psk(req.id) or SecretStr("")).get_secret_value() == psk
    await store.aclose()

    data = raw_bytes(path)
    assert psk.encode() not in data
    assert req.id.encode() in data  # the check reads the right file
    token = json.loads(table(path, "secrets")[req.id])
    assert token.startswith("gAAAAA")  # a Fernet token
    file_key = key_file_path(path).read_text().strip()
    assert Fernet(file_key.encode()).decrypt(token.encode()).decode() == psk
    assert psk not in json.dumps(table(path, "requests")) + json.dumps(table(path, "audit"))

    store = Store.open(path)
    try:
        assert (await store.psk(req.id) or SecretStr("")).get_secret_value() == psk
        assert store.key_matches
    finally:
        await store.aclose()


async def test_a_wrong_key_gives_a_clear_error(path: Path) -> None:
    psk = unique_key()
    store = Store.open(path, key=Fernet.generate_key().decode())
    req = new_request(key=psk)
    await store.create(req, SecretStr(psk))
    await store.aclose()

    store = Store.open(path, key=Fernet.generate_key().decode())
    try:
        assert not store.key_matches
        with pytest.raises(StoreKeyError, match="VPNBOT_STORE_KEY") as caught:
            await store.psk(req.id)
        assert "cannot be decrypted with this key" in str(caught.value)
        assert caught.value.__cause__ is None
        assert caught.value.__suppress_context__
        assert psk not in str(caught.value)
        assert not key_file_path(path).exists()  # an explicit key never writes a key file
    finally:
        await store.aclose()


@pytest.mark.parametrize("bad", ["", "not-a-key", "A" * 43, Fernet.generate_key().decode()[:-4]])
def test_a_malformed_key_is_refused_at_open(path: Path, bad: str) -> None:
    threads = set(threading.enumerate())
    with pytest.raises(StoreKeyError, match="VPNBOT_STORE_KEY is not a valid store key"):
        Store.open(path, key=bad)
    assert set(threading.enumerate()) == threads


def test_a_malformed_key_file_is_named(path: Path) -> None:
    key_file_path(path).write_text("garbage\n")
    with pytest.raises(StoreKeyError, match=r"vpnbot-state\.sqlite\.key is not a valid store key"):
        Store.open(path)


def test_the_key_file_and_state_file_are_private_from_the_start(path: Path) -> None:
    with umask(0):
        Store.open(path).close()
    key_file = key_file_path(path)
    assert key_file.name == "vpnbot-state.sqlite.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = key_file.read_text()
    Store.open(path).close()
    assert key_file.read_text() == first  # reused, not replaced


@pytest.mark.parametrize(
    "states",
    [
        [S.REJECTED],
        [S.CANCELLED],
        [S.EXPIRED],
        [S.STALE],
        [S.APPROVED, S.FAILED],
        [S.APPROVED, S.SUBMITTING, S.UNKNOWN, S.SUCCEEDED],
    ],
    ids=lambda states: "-".join(states),
)
async def test_the_key_is_erased_when_the_change_ends(path: Path, states: list[ChangeState]) -> None:
    psk = unique_key()
    store = Store.open(path)
    req = new_request(key=psk)
    await store.create(req, SecretStr(psk))
    token = json.loads(table(path, "secrets")[req.id]).encode()
    for state in states[:-1]:
        await store.claim(req.id, [S.PENDING, S.APPROVED, S.SUBMITTING], state, actor="vpnbot", at=T0)
        assert await store.psk(req.id) is not None
    await store.claim(req.id, [S.PENDING, S.APPROVED, S.UNKNOWN], states[-1], actor="vpnbot", at=T0)
    assert await store.psk(req.id) is None
    await store.aclose()
    assert table(path, "secrets") == {}
    assert token not in raw_bytes(path)  # overwritten (secure_delete), not just unlinked from the table


async def test_erase_psk(store: Store) -> None:
    psk = unique_key()
    req = new_request(key=psk)
    await store.create(req, SecretStr(psk))
    await store.erase_psk(req.id)
    assert await store.psk(req.id) is None
    await store.erase_psk(req.id)  # nothing left: no error
    assert await store.psk("chg-aaaaaaaaaa") is None


# -- the audit log -----------------------------------------------------------------------------------------------------


async def write_some_history(path: Path, psk: str) -> list[str]:
    store = Store.open(path)
    a = new_request(key=psk)
    b = new_request("vpnx-other001")
    await store.create(a, SecretStr(psk))
    await store.claim(a.id, [S.PENDING], S.APPROVED, actor="U02", at=T0, approver="U02")
    await store.create(b, None)
    await store.claim(a.id, [S.APPROVED], S.SUBMITTING, actor="vpnbot", at=T0)
    await store.claim(b.id, [S.PENDING], S.REJECTED, actor="U03", at=T0, reason="not now", decider="U03")
    await store.claim(a.id, [S.SUBMITTING], S.RUNNING, actor="vpnbot", at=T0, task_id=4242)
    await store.aclose()
    return [a.id, b.id]


async def test_the_audit_chain_is_intact_and_key_free(path: Path) -> None:
    psk = unique_key()
    a, b = await write_some_history(path, psk)
    store = Store.open(path)
    try:
        records = await store.audit_log()
        assert [(r.seq, r.request_id, r.actor, r.action) for r in records] == [
            (1, a, "U01REQ", "created"),
            (2, a, "U02", "pending->approved"),
            (3, b, "U01REQ", "created"),
            (4, a, "vpnbot", "approved->submitting"),
            (5, b, "U03", "pending->rejected"),
            (6, a, "vpnbot", "submitting->running"),
        ]
        assert records[0].prev_hash == AUDIT_GENESIS
        audit_key = store.derived_key("audit-chain")
        for before, record in zip([None, *records], records, strict=False):
            assert record.prev_hash == (before.hash if before else AUDIT_GENESIS)
            body = {k: v for k, v in record.to_json().items() if k != "hash"}
            assert body["key_id"] == audit_key_id(audit_key)
            canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            assert record.hash == hmac.new(audit_key, (record.prev_hash + canonical).encode(), "sha256").hexdigest()
            assert record.hash != hashlib.sha256((record.prev_hash + canonical).encode()).hexdigest()
        assert records[0].detail["psk_changed"] is True
        assert [row["name"] for row in records[0].detail["diff"]] == ["vpnConnName", "preSharedKey"]
        assert records[4].detail == {"decider": "U03", "reason": "not now"}
        assert records[5].detail == {"task_id": 4242}
        assert all(r.vpn_conn_id in ("vpnx-ol6bcqp0", "vpnx-other001") for r in records)
        assert psk not in json.dumps([r.to_json() for r in records])
        assert verify_chain(records, key=audit_key) == []
        assert verify_chain(records, key=b"another key" * 3) != []
        assert await store.verify_audit() == []
    finally:
        await store.aclose()


async def problems_after(path: Path) -> list[str]:
    store = Store.open(path)
    try:
        return await store.verify_audit()
    finally:
        await store.aclose()


async def test_an_edited_record_is_named(path: Path) -> None:
    await write_some_history(path, unique_key())
    record = json.loads(table(path, "audit")["000000000002"])
    record["actor"] = "U99MALLORY"
    execute(path, "UPDATE audit SET value = ? WHERE key = ?", json.dumps(record), "000000000002")
    problems = await problems_after(path)
    assert problems == ["record 2: hash mismatch, its content was changed after it was written"]


async def test_an_edited_record_with_a_recomputed_plain_hash_is_named(path: Path) -> None:
    await write_some_history(path, unique_key())
    record = json.loads(table(path, "audit")["000000000003"])
    record["detail"]["conn_name"] = "forged"
    body = {k: v for k, v in record.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    record["hash"] = hashlib.sha256((record["prev_hash"] + canonical).encode()).hexdigest()
    execute(path, "UPDATE audit SET value = ? WHERE key = ?", json.dumps(record), "000000000003")
    problems = await problems_after(path)
    assert problems[0] == "record 3: hash mismatch, its content was changed after it was written"
    assert problems[1].startswith("record 4: prev_hash does not match the hash of record 3")
    assert len(problems) == 2


async def test_a_deleted_record_is_named(path: Path) -> None:
    await write_some_history(path, unique_key())
    execute(path, "DELETE FROM audit WHERE key = ?", "000000000003")
    problems = await problems_after(path)
    assert any("record 4 follows record 2: sequence gap, record 3 removed" in p for p in problems)
    assert any(p.startswith("record 4: prev_hash does not match the hash of record 2") for p in problems)


async def test_swapped_records_are_named(path: Path) -> None:
    await write_some_history(path, unique_key())
    rows = table(path, "audit")
    execute(path, "UPDATE audit SET value = ? WHERE key = ?", rows["000000000004"], "000000000003")
    execute(path, "UPDATE audit SET value = ? WHERE key = ?", rows["000000000003"], "000000000004")
    problems = await problems_after(path)
    assert any("record 3 comes after record 4: the log was reordered" in p for p in problems)
    assert any(p.startswith("record 4 follows record 2") for p in problems)


async def test_records_cut_off_the_end_are_noticed(path: Path) -> None:
    await write_some_history(path, unique_key())
    execute(path, "DELETE FROM audit WHERE key >= ?", "000000000005")
    problems = await problems_after(path)
    assert problems == [
        "the log ends at record 4, yet the last record written was record 6 "
        "(records removed from the end, or the last one changed)"
    ]


async def test_an_unreadable_record_is_named(path: Path) -> None:
    await write_some_history(path, unique_key())
    execute(path, "UPDATE audit SET value = ? WHERE key = ?", "{not json", "000000000002")
    store = Store.open(path)
    try:
        with pytest.raises(StoreError, match="audit record 000000000002 cannot be read"):
            await store.audit_log()
        problems = await store.verify_audit()
        assert problems[0].startswith("record 000000000002 cannot be read")
        assert any("record 3 follows record 1" in p for p in problems)
    finally:
        await store.aclose()


# -- the worker and closing ------------------------------------------------------------------------------------------


async def test_close_stops_every_thread_and_later_calls_fail_cleanly(path: Path) -> None:
    before = set(threading.enumerate())
    store = Store.open(path)
    assert len(set(threading.enumerate()) - before) == 1  # the worker, nothing else
    req = new_request()
    await store.create(req, None)
    pending = asyncio.gather(*(store.get(req.id) for _ in range(20)))
    await asyncio.sleep(0)  # the gets are handed to the worker; close() waits for them
    await store.aclose()
    assert all(r == req for r in await pending)
    assert set(threading.enumerate()) == before
    with pytest.raises(StoreClosedError):
        await store.get(req.id)
    store.close()  # idempotent
    await store.aclose()


async def test_sqlite_runs_off_the_event_loop_thread(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    original = ChangeRequest.from_json

    def spy(data: Any) -> ChangeRequest:
        seen.append(threading.current_thread().name)
        return original(data)

    monkeypatch.setattr(ChangeRequest, "from_json", spy)
    req = new_request()
    await store.create(req, None)
    await store.get(req.id)
    await store.claim(req.id, [S.PENDING], S.CANCELLED, actor=req.requester, at=T0)
    assert seen
    assert all(name.startswith("vpnbot-store") for name in seen)


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(tmp_path / "nowhere" / "state.sqlite")
