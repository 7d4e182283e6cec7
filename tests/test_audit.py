"""``vpnbot audit`` on state files written by the whole bot (real changes through Slack, the simulator and SQLite),
then tampered with directly in SQLite: every kind of tampering is named by ``--verify``."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import sqlite3
import uuid
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botharness import APPROVER, REQUESTER, SEED_CONN, harness
from cryptography.fernet import Fernet

from bot.cli import main
from bot.playground.slack_payloads import view_submission
from bot.vpn.change import ChangeState

STORE_KEY = Fernet.generate_key().decode()
PSK = f"audit-psk-{uuid.uuid4().hex}"
APPLIED = ["created", "pending->approved", "approved->submitting", "submitting->running", "running->succeeded"]
REJECTED = ["created", "pending->rejected"]


@dataclass(frozen=True)
class History:
    """A state file the bot wrote: one change applied and verified, then one rejected (seven records)."""

    path: Path
    applied: str
    rejected: str
    task_id: int


async def write_history(state_dir: Path) -> History:
    async with harness(state_dir, vpnbot_store_key=STORE_KEY) as h:
        card = await h.propose({"vpnConnName": "audited-name", "preSharedKey": PSK})
        await h.click("approve_change", card, APPROVER)
        await h.wait_thread_text(card, "Verified: every proposed value is live")
        card = await h.propose({"IKESet.dhGroupName": "group5"})
        await h.click("reject_change", card, APPROVER)
        opened = await h.slack.wait_for("views.open", count=3)
        reject_view = h.slack.view(opened[-1].response["view"]["id"])
        values = {"reason": {"reason": {"type": "plain_text_input", "value": "not during\nbusiness hours"}}}
        await h.post(view_submission(reject_view, values, user_id=APPROVER))
        await h.wait_thread_text(card, "rejected this change")
        (applied,) = await h.bot.context.store.in_states({ChangeState.SUCCEEDED})
        (rejected,) = await h.bot.context.store.in_states({ChangeState.REJECTED})
    assert applied.task_id is not None
    return History(state_dir / "state.sqlite", applied.id, rejected.id, applied.task_id)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> History:
    """Written once by the running bot (stopped before any test reads or tampers); tests get a copy."""
    return asyncio.run(write_history(tmp_path_factory.mktemp("bot")))


@pytest.fixture
def history(written: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> History:
    for suffix in ("", "-wal", "-shm"):
        source = written.path.with_name(written.path.name + suffix)
        if source.exists():
            shutil.copy(source, tmp_path / source.name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VPNBOT_STATE_PATH", str(tmp_path / written.path.name))
    monkeypatch.setenv("VPNBOT_STORE_KEY", STORE_KEY)
    return History(tmp_path / written.path.name, written.applied, written.rejected, written.task_id)


def audit(capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str, str]:
    status = main(["audit", *flags])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def rows(path: Path) -> dict[str, str]:
    with closing(sqlite3.connect(path)) as db:
        return dict(db.execute("SELECT key, value FROM audit"))


def execute(path: Path, sql: str, *args: Any) -> None:
    with closing(sqlite3.connect(path)) as db:
        db.execute(sql, args)
        db.commit()


def key(seq: int) -> str:
    return f"{seq:012d}"


# -- listing ---------------------------------------------------------------------------------------------------------


def test_the_listing_shows_every_transition(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = audit(capsys)
    assert status == 0, err
    lines = out.splitlines()
    assert len(lines) == 7
    fields = [line.split() for line in lines]
    assert [f[0] for f in fields] == [str(n) for n in range(1, 8)]
    assert [(f[2], f[3], f[5]) for f in fields] == [(history.applied, SEED_CONN, a) for a in APPLIED] + [
        (history.rejected, SEED_CONN, a) for a in REJECTED
    ]
    assert [f[4] for f in fields] == [REQUESTER, APPROVER, "vpnbot", "vpnbot", "vpnbot", REQUESTER, APPROVER]
    assert all(f[1].endswith("Z") and f[1][10] == "T" for f in fields)
    assert lines[0].endswith("changes vpnConnName, preSharedKey")
    assert f"task {history.task_id}" in lines[3]
    assert lines[5].endswith("changes IKESet.dhGroupName")
    assert lines[6].endswith("reason: not during\\nbusiness hours")  # one line per record, whatever was typed
    assert PSK not in out + err


def test_json_has_every_record_as_stored(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = audit(capsys, "--json")
    assert status == 0
    records = json.loads(out)
    assert len(records) == 7
    assert [r["action"] for r in records] == APPLIED + REJECTED
    assert [r["seq"] for r in records] == list(range(1, 8))
    assert records[0]["detail"]["psk_changed"] is True
    assert records[3]["detail"]["task_id"] == history.task_id
    assert all(r["prev_hash"] == p["hash"] for p, r in itertools.pairwise(records))
    assert json.loads(rows(history.path)[key(4)]) == records[3]
    assert PSK not in out


def test_verify_passes_on_the_bots_own_log(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = audit(capsys, "--verify")
    assert status == 0
    head = json.loads(rows(history.path)[key(7)])["hash"]
    assert out.strip() == f"audit log intact: 7 records, head {head}"
    status, out, _ = audit(capsys, "--verify", "--json")
    assert status == 0
    assert json.loads(out) == {"intact": True, "records": 7, "head": head}


def test_a_missing_state_file_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "nowhere.sqlite"
    monkeypatch.setenv("VPNBOT_STATE_PATH", str(missing))
    monkeypatch.delenv("VPNBOT_STORE_KEY", raising=False)
    for flags in ((), ("--verify",), ("--json",)):
        status, out, err = audit(capsys, *flags)
        assert status == 2
        assert out == ""
        assert err.count("\n") == 1
        assert "no state file" in err
        assert "VPNBOT_STATE_PATH" in err
    assert list(tmp_path.iterdir()) == []


def test_a_malformed_store_key_is_one_line_and_exit_2(
    history: History, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VPNBOT_STORE_KEY", "not-a-fernet-key")
    status, out, err = audit(capsys)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "VPNBOT_STORE_KEY" in err
    assert "Traceback" not in err


# -- tampering -------------------------------------------------------------------------------------------------------


def not_intact(capsys: pytest.CaptureFixture[str]) -> str:
    status, out, _ = audit(capsys, "--verify")
    assert status == 1, out
    assert "audit log NOT intact" in out
    assert "audit log intact" not in out
    status, _, err = audit(capsys)
    assert status == 1
    assert "NOT intact" in err
    return out


def test_an_edited_record_is_named(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    record = json.loads(rows(history.path)[key(3)])
    record["actor"] = "U0MALLORY"
    execute(history.path, "UPDATE audit SET value = ? WHERE key = ?", json.dumps(record), key(3))
    out = not_intact(capsys)
    assert "record 3: hash mismatch, its content was changed" in out
    assert "record 2" not in out
    assert "record 4" not in out


def test_a_deleted_record_is_named(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    execute(history.path, "DELETE FROM audit WHERE key = ?", key(4))
    out = not_intact(capsys)
    assert "record 5 follows record 3: sequence gap, record 4 removed" in out


def test_swapped_records_are_named(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    stored = rows(history.path)
    execute(history.path, "UPDATE audit SET value = ? WHERE key = ?", stored[key(3)], key(2))
    execute(history.path, "UPDATE audit SET value = ? WHERE key = ?", stored[key(2)], key(3))
    out = not_intact(capsys)
    assert "record 2 comes after record 3: the log was reordered" in out


def test_a_record_cut_off_the_end_is_named(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    execute(history.path, "DELETE FROM audit WHERE key = ?", key(7))
    out = not_intact(capsys)
    assert "the log ends at record 6, yet the last record written was record 7" in out


def test_an_unreadable_record_is_named_and_stops_the_listing(
    history: History, capsys: pytest.CaptureFixture[str]
) -> None:
    execute(history.path, "UPDATE audit SET value = ? WHERE key = ?", "{not json", key(2))
    out = not_intact(capsys)
    assert f"record {key(2)} cannot be read" in out
    status, out, err = audit(capsys, "--json")
    assert status == 1
    assert out == ""
    assert f"audit record {key(2)} cannot be read" in err


def test_a_cut_with_the_head_removed_too_is_named(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    execute(history.path, "DELETE FROM audit WHERE key = ?", key(7))
    execute(history.path, "DELETE FROM meta WHERE key = ?", "audit_head")
    status, out, _ = audit(capsys, "--verify")
    assert status == 1, out
