"""One open change per connection, whatever the front: ``vpnbot edit`` and a Slack change of the same connection
exclude each other (both ways), and a terminal edit is a change request like any other: in the state file, in
``vpnbot audit --verify`` with its actor (``cli:<login>``), beside the Slack changes.

The bot runs as in the other end-to-end tests (real HTTP, the Slack stand-in, the simulator); the CLI runs its
``main()`` in a thread against the same simulator and the same state file (and its key file), as a second process
on the same host would.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import dialect
import pytest
from botharness import APPROVER, CHANNEL, SEED_CONN, Harness, harness

import bot.cli
from bot.sim import DEMO_SECRET_ID, DEMO_SECRET_KEY
from bot.terminal import operator_name
from bot.vpn.change import ChangeState

pytestmark = pytest.mark.usefixtures("cloud_api")
MODIFY = "ModifyVpnConnEx"


def cli_env(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's settings: the bot's simulator, the bot's state file (its key file beside it)."""
    values = {
        "VPNBOT_CLOUD_API": dialect.current,
        "VPNBOT_CLOUD_ENDPOINT": dialect.endpoint(h.sim),
        "TENCENTCLOUD_SECRET_ID": DEMO_SECRET_ID,
        "TENCENTCLOUD_SECRET_KEY": DEMO_SECRET_KEY,
        "VPNBOT_STATE_PATH": str(h.settings.vpnbot_state_path),
        "VPNBOT_TASK_POLL_INITIAL": "0.05s",
        "VPNBOT_TASK_POLL_MAX": "0.2s",
        "VPNBOT_TASK_DEADLINE": "30s",
        "VPNBOT_SETTLE_WINDOW": "1s",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("VPNBOT_STORE_KEY", raising=False)


async def cli(*argv: str) -> int:
    return await asyncio.to_thread(bot.cli.main, list(argv))


async def test_a_cli_edit_of_a_connection_with_an_open_slack_change_is_refused_with_a_link_to_its_card(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with harness(tmp_path) as h:
        cli_env(h, monkeypatch)
        card = await h.propose({"vpnConnName": "from-slack"})
        (pending,) = await h.bot.context.store.in_states({ChangeState.PENDING})
        edits = [entry for entry in h.sim.state.journal if entry[0] == dialect.code("edit_action")]
        assert await cli("edit", SEED_CONN, "--set", "vpnConnName=from-cli", "--yes") == 1
        err = capsys.readouterr().err
        assert "already has an open change in Slack" in err
        assert pending.id in err
        link = f"https://example.slack.com/archives/{CHANNEL}/p{card['ts'].replace('.', '')}"
        assert link in err  # the card's permalink, in the form Slack documents
        assert "nothing was sent" in err
        assert [e for e in h.sim.state.journal if e[0] == dialect.code("edit_action")] == edits  # no edit sent
        assert await h.bot.context.store.open_request_for(SEED_CONN) == pending  # and took nothing over
        await h.click("approve_change", card, APPROVER)
        await h.wait_thread_text(card, "Verified")
        assert h.connection()["vpnConnName"] == "from-slack"


async def test_a_slack_change_of_a_connection_with_a_running_cli_edit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with harness(tmp_path, task_seconds=2.0) as h:
        cli_env(h, monkeypatch)
        form = await h.open_form()  # opened before the terminal edit starts: submitted while it runs
        running = asyncio.create_task(cli("edit", SEED_CONN, "--set", "vpnConnName=from-cli", "--yes"))
        deadline = time.monotonic() + 10
        while (open_request := await h.bot.context.store.open_request_for(SEED_CONN)) is None:
            assert time.monotonic() < deadline, "the CLI opened no request"
            assert not running.done(), "the CLI ended without a request open"
            await asyncio.sleep(0.02)
        assert open_request.front == "cli"
        assert open_request.requester == operator_name()
        await h.command(f"edit {SEED_CONN}")
        await h.slack.wait_for("response_url", timeout=10)
        said = h.ephemerals_text()
        assert "already has an open change" in said
        assert "vpnbot edit" in said
        assert open_request.id in said
        posts = len(h.slack.calls("chat.postMessage"))
        response = await h.submit(form, {"vpnConnName": "from-slack"})
        assert response.status_code == 200
        await h.slack.wait_for("chat.postMessage", count=posts + 1, timeout=10)  # the word to the requester
        told = json.dumps([c.args for c in h.slack.calls("chat.postMessage")[posts:]])
        assert "already has an open change" in told
        assert await running == 0
        assert h.connection()["vpnConnName"] == "from-cli"
        assert not [m for m in h.slack.messages_in(CHANNEL) if "from-slack" in json.dumps(m)]  # no card
        stored = await h.bot.context.store.get(open_request.id)
        assert stored is not None
        assert stored.state is ChangeState.SUCCEEDED
        assert stored.approver == operator_name()


async def test_a_cli_edit_is_in_the_audit_log_with_its_actor_beside_slack_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with harness(tmp_path) as h:
        cli_env(h, monkeypatch)
        assert await cli("edit", SEED_CONN, "--set", "vpnConnName=by-terminal", "--yes") == 0
        card = await h.propose({"vpnConnName": "by-slack"})
        await h.click("approve_change", card, APPROVER)
        await h.wait_thread_text(card, "Verified")
        capsys.readouterr()
        assert await cli("audit", "--verify") == 0
        verdict = capsys.readouterr()
        assert await cli("audit", "--json") == 0
        records = json.loads(capsys.readouterr().out)
        assert len(records) == len(await h.bot.context.store.audit_log())
    actor = operator_name()
    cli_records = [r for r in records if r["actor"] == actor]
    assert [r["action"] for r in cli_records] == ["created", "pending->approved"]
    assert {r["actor"] for r in records} >= {actor, "vpnbot", "U0REQUEST", APPROVER}
    created = [r for r in records if r["action"] == "created"]
    assert [r["detail"]["front"] for r in created] == ["cli", "slack"]
    assert any(r["action"] == "running->succeeded" for r in records if r["request_id"] == cli_records[0]["request_id"])
    assert "audit log intact" in verdict.out
