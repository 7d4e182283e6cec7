"""The keyed audit chain: whoever can write the state file but has not the store key cannot rewrite the log
unnoticed, whether they recompute a plain sha256 chain, an HMAC chain under another key, or pass their records off
as an older vpnbot's. Records an older vpnbot really wrote (plain sha256, in files sqlitedict wrote) are named in a
note, not called tampered, and covered by the first keyed record."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import uuid
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from items import connection
from pydantic import SecretStr
from sqlitedict import SqliteDict

from bot.store import AUDIT_GENESIS, Store, audit_key_id, key_file_path
from bot.vpn.change import ChangeRequest, ChangeState
from bot.vpn.edit import propose

S = ChangeState
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
Record = dict[str, Any]


def new_request(conn_id: str = "vpnx-ol6bcqp0", *, key: str | None = None) -> ChangeRequest:
    conn = connection(unVpnConnId=conn_id)
    edits = {"vpnConnName": f"renamed-{uuid.uuid4().hex[:8]}"}
    if key is not None:
        edits["preSharedKey"] = key
    return ChangeRequest.from_proposal(
        conn, propose(conn.settings, edits), requester="U01REQ", now=T0, ttl=timedelta(hours=24)
    )


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def plain(prev_hash: str, body: Record) -> str:
    return hashlib.sha256((prev_hash + canonical(body)).encode()).hexdigest()


def keyed_with(key: bytes) -> Callable[[str, Record], str]:
    return lambda prev_hash, body: hmac.new(key, (prev_hash + canonical(body)).encode(), "sha256").hexdigest()


def audit(path: Path) -> list[Record]:
    with closing(sqlite3.connect(path)) as db:
        return [json.loads(v) for _, v in db.execute("SELECT key, value FROM audit ORDER BY key")]


def rewrite(path: Path, records: list[Record], head: Record | None) -> None:
    """Replace the log and its head, as someone with write access to the file (and no key) can."""
    with closing(sqlite3.connect(path)) as db:
        db.execute("DELETE FROM audit")
        for record in records:
            db.execute("INSERT INTO audit VALUES (?, ?)", (f"{record['seq']:012d}", canonical(record)))
        db.execute("DELETE FROM meta WHERE key = 'audit_head'")
        if head is not None:
            db.execute("INSERT INTO meta VALUES ('audit_head', ?)", (canonical(head),))
        db.commit()


def rechain(records: list[Record], start: int, digest: Callable[[str, Record], str]) -> list[Record]:
    """The records with every hash from index ``start`` on recomputed by ``digest`` (links kept consistent)."""
    out = [dict(r) for r in records]
    for i in range(start, len(out)):
        out[i]["prev_hash"] = out[i - 1]["hash"] if i else AUDIT_GENESIS
        body = {k: v for k, v in out[i].items() if k != "hash"}
        out[i]["hash"] = digest(out[i]["prev_hash"], body)
    return out


async def write_history(path: Path, key: str | None = None) -> list[str]:
    store = Store.open(path, key=key)
    try:
        a, b = new_request(), new_request("vpnx-other001")
        await store.create(a, None)
        await store.claim(a.id, [S.PENDING], S.APPROVED, actor="U02", at=T0, approver="U02")
        await store.create(b, None)
        await store.claim(b.id, [S.PENDING], S.REJECTED, actor="U03", at=T0, reason="no", decider="U03")
        await store.claim(a.id, [S.APPROVED], S.SUBMITTING, actor="vpnbot", at=T0)
    finally:
        await store.aclose()
    return [a.id, b.id]


async def verdict(path: Path, key: str | None = None) -> tuple[list[str], list[str]]:
    store = Store.open(path, key=key, read_only=True)
    try:
        found = await store.check_audit()
        return found.problems, found.notes
    finally:
        await store.aclose()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state.sqlite"


# -- forgeries -------------------------------------------------------------------------------------------------------


async def test_an_edit_with_a_recomputed_plain_sha256_chain_is_named(path: Path) -> None:
    await write_history(path)
    records = audit(path)
    records[1]["actor"] = "U99MALLORY"
    forged = rechain(records, 1, plain)
    rewrite(path, forged, {"seq": 5, "hash": forged[-1]["hash"]})
    problems, _ = await verdict(path)
    assert problems[:4] == [
        f"record {n}: hash mismatch, its content was changed after it was written" for n in (2, 3, 4, 5)
    ]
    assert "record 1" not in " ".join(problems)


async def test_an_edit_passed_off_as_an_older_vpnbots_records_is_named(path: Path) -> None:
    await write_history(path)
    records = audit(path)
    records[2]["detail"]["conn_name"] = "forged"
    for record in records[2:]:
        del record["key_id"]
    forged = rechain(records, 2, plain)
    rewrite(path, forged, {"seq": 5, "hash": forged[-1]["hash"]})
    problems, notes = await verdict(path)
    assert [p.split(" has ")[0] for p in problems] == ["record 3", "record 4", "record 5"]
    assert all("unkeyed hash of an older vpnbot, yet comes after records with the keyed hash" in p for p in problems)
    assert notes == []


async def test_the_whole_log_rewritten_as_an_older_vpnbots_is_named(path: Path) -> None:
    await write_history(path)
    records = audit(path)
    records[0]["actor"] = "U99MALLORY"
    for record in records:
        del record["key_id"]
    forged = rechain(records, 0, plain)
    rewrite(path, forged, {"seq": 5, "hash": forged[-1]["hash"]})
    problems, _ = await verdict(path)
    assert len(problems) == 5
    assert problems[0] == (
        "record 1 has the unkeyed hash of an older vpnbot, but vpnbot has keyed every record in this state file: it "
        "was rewritten by someone without the store key"
    )


async def test_the_whole_log_rewritten_and_the_key_check_deleted_is_named(path: Path) -> None:
    await write_history(path)
    records = audit(path)
    for record in records:
        del record["key_id"]
    forged = rechain(records, 0, plain)
    rewrite(path, forged, {"seq": 5, "hash": forged[-1]["hash"]})
    with closing(sqlite3.connect(path)) as db:
        db.execute("DELETE FROM meta WHERE key = 'key_check'")
        db.commit()
    problems, _ = await verdict(path)
    assert problems == [
        "the state file's key check was missing, so nothing vouches that the records with the unkeyed hash are an "
        "older vpnbot's"
    ]
    Store.open(path).close()  # the bot makes the key check again, and remembers it had to
    problems, notes = await verdict(path)
    assert problems == [
        "the state file's key check was missing when vpnbot opened it, so nothing vouches that the records with the "
        "unkeyed hash are an older vpnbot's"
    ]
    assert notes[0].startswith("records 1 to 5 have the unkeyed hash of an older vpnbot")


@pytest.mark.parametrize("claim_key_id", ["kept", "the wrong key's"])
async def test_a_chain_recomputed_with_a_wrong_hmac_key_is_named(path: Path, claim_key_id: str) -> None:
    await write_history(path)
    records = audit(path)
    records[3]["detail"]["reason"] = "approved after all"
    wrong = uuid.uuid4().bytes * 2
    if claim_key_id != "kept":
        for record in records[3:]:
            record["key_id"] = audit_key_id(wrong)
    forged = rechain(records, 3, keyed_with(wrong))
    head = {"seq": 5, "hash": forged[-1]["hash"], "mac": hmac.new(wrong, b"head", "sha256").hexdigest()}
    rewrite(path, forged, head)
    problems, _ = await verdict(path)
    assert problems
    if claim_key_id == "kept":
        assert problems[:2] == [
            f"record {n}: hash mismatch, its content was changed after it was written" for n in (4, 5)
        ]
    else:
        assert problems[0].startswith("records 4 to 5: made with another store key (key id ")
    assert "the recorded head of the log was changed (its keyed hash does not match)" in problems


async def test_a_head_set_back_after_a_cut_is_named(path: Path) -> None:
    await write_history(path)
    records = audit(path)
    rewrite(path, records[:3], {"seq": 3, "hash": records[2]["hash"]})
    problems, _ = await verdict(path)
    assert problems == [
        "the recorded head of the log has no keyed hash: it was rewritten by someone without the store key"
    ]


async def test_another_store_key_is_named_as_such(path: Path) -> None:
    await write_history(path)
    problems, _ = await verdict(path, key=Fernet.generate_key().decode())
    assert problems[0].startswith("the state file's key check does not open with this key (VPNBOT_STORE_KEY)")
    assert problems[1].startswith("records 1 to 5: made with another store key (key id ")
    assert not any("hash mismatch" in p for p in problems)


# -- an older vpnbot's files -----------------------------------------------------------------------------------------


def write_older_file(path: Path, key: str, psk: str) -> tuple[ChangeRequest, ChangeRequest]:
    """A state file as vpnbot wrote it before the chain was keyed: sqlitedict tables of JSON text, a sha256 chain,
    a key check of the old text, one request pending (with its key) and one rejected."""
    pending, rejected = new_request(key=psk), new_request("vpnx-other001")
    rejected.transition(S.REJECTED, actor="U02", at=T0, note="")
    fernet = Fernet(key.encode())
    records: list[Record] = []
    for seq, (req, actor, action) in enumerate(
        [(pending, "U01REQ", "created"), (rejected, "U01REQ", "created"), (rejected, "U02", "pending->rejected")], 1
    ):
        body: Record = {
            "seq": seq,
            "at": T0.isoformat(),
            "request_id": req.id,
            "vpn_conn_id": req.vpn_conn_id,
            "actor": actor,
            "action": action,
            "detail": {},
            "prev_hash": records[-1]["hash"] if records else AUDIT_GENESIS,
        }
        records.append({**body, "hash": plain(body["prev_hash"], body)})
    tables: dict[str, dict[str, Any]] = {
        "requests": {pending.id: pending.to_json(), rejected.id: rejected.to_json()},
        "secrets": {pending.id: fernet.encrypt(psk.encode()).decode()},
        "audit": {f"{r['seq']:012d}": r for r in records},
        "meta": {
            "schema": 1,
            "key_check": fernet.encrypt(b"vpnbot store key check").decode(),
            "audit_head": {"seq": 3, "hash": records[-1]["hash"]},
            "open:" + pending.id: pending.vpn_conn_id,
        },
    }
    for name, values in tables.items():
        with SqliteDict(str(path), tablename=name, autocommit=False, encode=canonical, decode=json.loads) as table:
            for k, v in values.items():
                table[k] = v
            table.commit()
    return pending, rejected


async def test_an_older_vpnbots_file_opens_and_its_log_is_noted_not_called_tampered(path: Path) -> None:
    key, psk = Fernet.generate_key().decode(), f"psk-{uuid.uuid4().hex}"
    pending, rejected = write_older_file(path, key, psk)
    problems, notes = await verdict(path, key)  # vpnbot audit, before the new bot ran
    assert problems == []
    assert notes == [
        "records 1 to 3 have the unkeyed hash of an older vpnbot; no keyed record covers them yet (the bot's next "
        "record will): until then anyone who can write the state file can rewrite them unnoticed"
    ]

    store = Store.open(path, key=key)
    try:
        assert store.key_matches
        assert await store.get(rejected.id) == rejected
        assert (await store.psk(pending.id) or SecretStr("")).get_secret_value() == psk
        assert (await store.check_audit()).problems == []
        at = T0 + timedelta(minutes=5)
        await store.claim(pending.id, [S.PENDING], S.APPROVED, actor="U02", at=at, approver="U02")
        found = await store.check_audit()
        assert found.problems == []
        assert found.notes == [
            "records 1 to 3 have the unkeyed hash of an older vpnbot; record 4's keyed hash covers them, so they "
            f"cannot have been changed since it was written ({at.isoformat()}), but anyone who could write the "
            "state file before then could have"
        ]
        assert [r.keyed for r in await store.audit_log()] == [False, False, False, True]
    finally:
        await store.aclose()

    # now an edit of an older record, even with its plain chain recomputed, breaks the keyed record's link
    records = audit(path)
    records[1]["actor"] = "U99MALLORY"
    rewrite(path, rechain(records[:3], 1, plain) + records[3:], {"seq": 4, "hash": records[3]["hash"]})
    problems, _ = await verdict(path, key)
    assert problems[0].startswith("record 4: prev_hash does not match the hash of record 3")


async def test_an_unkeyed_record_added_to_an_upgraded_file_is_named(path: Path) -> None:
    key = Fernet.generate_key().decode()
    write_older_file(path, key, "psk-" + uuid.uuid4().hex)
    Store.open(path, key=key).close()  # the key check now says: records 1 to 3, no more
    records = audit(path)
    body = {**{k: v for k, v in records[2].items() if k != "hash"}, "seq": 4, "prev_hash": records[2]["hash"]}
    records.append({**body, "hash": plain(body["prev_hash"], body)})
    rewrite(path, records, {"seq": 4, "hash": records[-1]["hash"]})
    problems, _ = await verdict(path, key)
    assert problems == [
        "record 4 has the unkeyed hash of an older vpnbot, but vpnbot has keyed every record after record 3: it was "
        "rewritten by someone without the store key"
    ]


async def test_sqlitedict_still_reads_every_table(path: Path) -> None:
    psk = f"psk-{uuid.uuid4().hex}"
    store = Store.open(path)
    req = new_request(key=psk)
    await store.create(req, SecretStr(psk))
    await store.aclose()
    read: dict[str, dict[str, Any]] = {}
    for name in ("requests", "secrets", "audit", "meta"):
        # journal_mode="WAL": sqlitedict's default would switch a WAL file to DELETE, which its read-only mode
        # cannot do (true of files every vpnbot wrote)
        with SqliteDict(str(path), tablename=name, flag="r", decode=json.loads, journal_mode="WAL") as table:
            read[name] = dict(table.items())
    assert read["requests"] == {req.id: req.to_json()}
    token = read["secrets"][req.id]
    assert Fernet(key_file_path(path).read_bytes().strip()).decrypt(token.encode()).decode() == psk
    assert [r["action"] for r in read["audit"].values()] == ["created"]
    assert read["meta"]["open:" + req.id] == req.vpn_conn_id
