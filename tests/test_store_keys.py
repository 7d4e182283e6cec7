"""The store key and the state file belong together: a missing key file beside a file that holds data refuses to
open (a new key would read none of it), a brand-new file makes its key, a read-only open without a key lists but
cannot check."""

from __future__ import annotations

import json
import sqlite3
import stat
import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from items import connection
from pydantic import SecretStr

from bot.store import Store, StoreKeyError, key_file_path
from bot.vpn.change import ChangeRequest, ChangeState
from bot.vpn.edit import propose

S = ChangeState
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def new_request(conn_id: str = "vpnx-ol6bcqp0", *, key: str | None = None) -> ChangeRequest:
    conn = connection(unVpnConnId=conn_id)
    edits = {"vpnConnName": f"renamed-{uuid.uuid4().hex[:8]}"}
    if key is not None:
        edits["preSharedKey"] = key
    return ChangeRequest.from_proposal(
        conn, propose(conn.settings, edits), requester="U01REQ", now=T0, ttl=timedelta(hours=24)
    )


def rows(path: Path) -> dict[str, list[tuple[str, str]]]:
    with closing(sqlite3.connect(path)) as db:
        names = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {n: sorted(db.execute(f'SELECT key, value FROM "{n}"')) for n in names}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "vpnbot-state.sqlite"


async def write(path: Path, what: str) -> str:
    """A state file holding ``what``; returns the pre-shared key stored (or "")."""
    psk = f"psk-{uuid.uuid4().hex}" if what == "a pending key" else ""
    store = Store.open(path)
    try:
        if what == "a pending key":
            await store.create(new_request(key=psk), SecretStr(psk))
        elif what == "an ended request":
            req = new_request()
            await store.create(req, None)
            await store.claim(req.id, [S.PENDING], S.CANCELLED, actor="U01REQ", at=T0)
    finally:
        await store.aclose()
    return psk


@pytest.mark.parametrize("what", ["a pending key", "an ended request", "nothing but its key check"])
async def test_a_missing_key_file_refuses_to_open(path: Path, what: str) -> None:
    await write(path, what)
    key_file = key_file_path(path)
    key_file.unlink()
    before = rows(path)
    with pytest.raises(StoreKeyError) as caught:
        Store.open(path)
    message = str(caught.value)
    assert str(key_file) in message
    assert "VPNBOT_STORE_KEY" in message
    assert "restore the key file" in message
    if what == "a pending key":
        assert "1 change request, 1 pre-shared key, 1 audit record" in message
    if what == "nothing but its key check":
        assert "the check of the key it was written with" in message
    assert not key_file.exists()  # no new key was made
    assert rows(path) == before  # nor anything written


async def test_the_restored_key_file_or_the_variable_opens_it(path: Path) -> None:
    psk = await write(path, "a pending key")
    key_file = key_file_path(path)
    key = key_file.read_text()
    key_file.unlink()
    with pytest.raises(StoreKeyError):
        Store.open(path)
    store = Store.open(path, key=key.strip())  # VPNBOT_STORE_KEY
    try:
        (pending,) = await store.in_states([S.PENDING])
        assert (await store.psk(pending.id) or SecretStr("")).get_secret_value() == psk
        assert await store.verify_audit() == []
    finally:
        await store.aclose()
    assert not key_file.exists()
    key_file.write_text(key)
    key_file.chmod(0o600)
    store = Store.open(path)
    try:
        assert store.key_matches
        assert await store.verify_audit() == []
    finally:
        await store.aclose()


@pytest.mark.parametrize("existing", ["none", "empty"])
def test_a_brand_new_state_file_makes_its_key_0600(path: Path, existing: str) -> None:
    if existing == "empty":
        path.touch(mode=0o600)
    Store.open(path).close()
    key_file = key_file_path(path)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    Fernet(key_file.read_bytes().strip())  # a real key


async def test_read_only_without_a_key_lists_but_cannot_check(path: Path) -> None:
    psk = await write(path, "a pending key")
    key_file_path(path).unlink()
    before = rows(path)
    store = Store.open(path, read_only=True)
    try:
        (record,) = await store.audit_log()
        assert record.action == "created"
        with pytest.raises(StoreKeyError, match=r"cannot be checked without the store key.*VPNBOT_STORE_KEY"):
            await store.check_audit()
        with pytest.raises(StoreKeyError, match="VPNBOT_STORE_KEY"):
            await store.psk(record.request_id)
    finally:
        await store.aclose()
    assert not key_file_path(path).exists()
    assert rows(path) == before
    assert psk not in json.dumps(before)
