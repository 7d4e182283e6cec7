"""``vpnbot audit --verify`` with the keyed chain: a record edited and its chain recomputed (plain sha256, or HMAC
under a wrong key) is reported; an older vpnbot's unkeyed records get a note, not a verdict of tampering; without
the store key the log is listed but not called intact."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from items import connection

from bot.cli import main
from bot.store import AUDIT_GENESIS, Store, key_file_path
from bot.vpn.change import ChangeRequest, ChangeState
from bot.vpn.edit import propose

S = ChangeState
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def new_request(conn_id: str) -> ChangeRequest:
    conn = connection(unVpnConnId=conn_id)
    proposal = propose(conn.settings, {"vpnConnName": f"renamed-{uuid.uuid4().hex[:8]}"})
    return ChangeRequest.from_proposal(conn, proposal, requester="U01REQ", now=T0, ttl=timedelta(hours=24))


@pytest.fixture
async def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Four records written by the store with its key file; the CLI pointed at them (no VPNBOT_STORE_KEY)."""
    path = tmp_path / "state.sqlite"
    store = Store.open(path)
    a, b = new_request("vpnx-ol6bcqp0"), new_request("vpnx-other001")
    await store.create(a, None)
    await store.claim(a.id, [S.PENDING], S.APPROVED, actor="U02", at=T0, approver="U02")
    await store.create(b, None)
    await store.claim(b.id, [S.PENDING], S.REJECTED, actor="U03", at=T0, reason="no", decider="U03")
    await store.aclose()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VPNBOT_STATE_PATH", str(path))
    monkeypatch.delenv("VPNBOT_STORE_KEY", raising=False)
    return path


def audit(capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str, str]:
    status = main(["audit", *flags])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def forge(path: Path, seq: int, digest: Any, *, strip_key_id: bool = False) -> None:
    """Change record ``seq``'s approver and recompute the chain from it, and the head, with ``digest``."""
    with closing(sqlite3.connect(path)) as db:
        records = [json.loads(v) for _, v in db.execute("SELECT key, value FROM audit ORDER BY key")]
        records[seq - 1]["detail"]["approver"] = "U99MALLORY"
        for i in range(seq - 1, len(records)):
            if strip_key_id:
                records[i].pop("key_id", None)
            records[i]["prev_hash"] = records[i - 1]["hash"] if i else AUDIT_GENESIS
            body = {k: v for k, v in records[i].items() if k != "hash"}
            records[i]["hash"] = digest((records[i]["prev_hash"] + canonical(body)).encode())
            db.execute("UPDATE audit SET value = ? WHERE key = ?", (canonical(records[i]), f"{i + 1:012d}"))
        head = {"seq": len(records), "hash": records[-1]["hash"]}
        db.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", (canonical(head),))
        db.commit()


def test_the_bots_own_log_is_intact(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = audit(capsys, "--verify")
    assert status == 0, out + err
    assert out.startswith("audit log intact: 4 records, head ")
    assert "note:" not in out


@pytest.mark.parametrize("how", ["plain sha256", "plain sha256, as an older vpnbot", "HMAC under a wrong key"])
def test_an_edited_approver_with_a_recomputed_chain_is_reported(
    state: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    wrong = uuid.uuid4().bytes

    def digest(data: bytes) -> str:
        if how.startswith("HMAC"):
            return hmac.new(wrong, data, "sha256").hexdigest()
        return hashlib.sha256(data).hexdigest()

    forge(state, 2, digest, strip_key_id="older" in how)
    status, out, _ = audit(capsys, "--verify")
    assert status == 1, out
    assert "audit log NOT intact" in out
    if "older" in how:
        assert (
            "problem: record 2 has the unkeyed hash of an older vpnbot, yet comes after records with the keyed" in out
        )
    else:
        assert "problem: record 2: hash mismatch, its content was changed after it was written" in out
    assert "record 1" not in out
    status, _, err = audit(capsys)
    assert status == 1
    assert "NOT intact" in err
    status, out, _ = audit(capsys, "--verify", "--json")
    assert status == 1
    assert json.loads(out)["intact"] is False


def test_without_the_key_the_log_is_listed_not_checked(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key_file = key_file_path(state)
    key = key_file.read_text().strip()
    key_file.unlink()
    status, out, err = audit(capsys, "--verify")
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "cannot be checked without the store key" in err
    assert "VPNBOT_STORE_KEY" in err
    status, out, err = audit(capsys)
    assert status == 2
    assert len(out.splitlines()) == 4
    assert "listed, not checked" in err
    assert not key_file.exists()  # the audit never makes a key
    key_file.write_text(key + "\n")
    assert audit(capsys, "--verify")[0] == 0


def test_another_key_is_named_not_called_tampering(
    state: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VPNBOT_STORE_KEY", Fernet.generate_key().decode())
    status, out, _ = audit(capsys, "--verify")
    assert status == 1
    assert "the state file's key check does not open with this key (VPNBOT_STORE_KEY)" in out
    assert "records 1 to 4: made with another store key" in out
    assert "hash mismatch" not in out


def test_an_older_vpnbots_records_get_a_note(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The file as an older vpnbot left it: every record with the plain hash, the old key check."""
    fernet = Fernet(key_file_path(state).read_bytes().strip())
    with closing(sqlite3.connect(state)) as db:
        records = [json.loads(v) for _, v in db.execute("SELECT key, value FROM audit ORDER BY key")]
        for i, record in enumerate(records):
            record.pop("key_id")
            record["prev_hash"] = records[i - 1]["hash"] if i else AUDIT_GENESIS
            body = {k: v for k, v in record.items() if k != "hash"}
            record["hash"] = hashlib.sha256((record["prev_hash"] + canonical(body)).encode()).hexdigest()
            db.execute("UPDATE audit SET value = ? WHERE key = ?", (canonical(record), f"{i + 1:012d}"))
        head = canonical({"seq": 4, "hash": records[-1]["hash"]})
        db.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", (head,))
        check = canonical(fernet.encrypt(b"vpnbot store key check").decode())
        db.execute("UPDATE meta SET value = ? WHERE key = 'key_check'", (check,))
        db.commit()
    status, out, _ = audit(capsys, "--verify")
    assert status == 0, out
    lines = out.splitlines()
    assert lines[0] == f"audit log intact: 4 records, head {records[-1]['hash']}"
    assert lines[1].startswith("note: records 1 to 4 have the unkeyed hash of an older vpnbot; no keyed record")
    status, out, _ = audit(capsys, "--verify", "--json")
    assert status == 0
    verdict = json.loads(out)
    assert verdict["intact"] is True
    assert verdict["notes"][0].startswith("records 1 to 4 have the unkeyed hash of an older vpnbot")
