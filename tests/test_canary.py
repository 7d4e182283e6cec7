"""The secrets canary: whole changes run with unique pre-shared keys and a unique API secret key, every logger at
DEBUG, then every output is searched for them: Slack Web API calls and response_url posts, the bot's HTTP answers,
log records (text and args), the CLI's stdout and stderr, the raw bytes of the state file (with its -wal and -shm
files) and its key file, and the audit export. DESIGN.md section 4: the key never appears in any of them."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager, closing
from pathlib import Path
from typing import Any

import dialect
import httpx
import pytest
from botharness import APPROVER, GROUP_MEMBER, REQUESTER, SEED_CONN, Harness, bot_settings
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bot.cli import main
from bot.playground.slack_api import SlackStandin
from bot.playground.slack_payloads import view_submission
from bot.sim import SimServer, SimState, World, load_world
from bot.slack.app import CHATTY_LOGGERS
from bot.slack.runner import running_bot
from bot.store import key_file_path
from bot.vpn.change import ChangeRequest, ChangeState

MODIFY = "ModifyVpnConnEx"
RUN = uuid.uuid4().hex
SECRET_ID = f"AKIDcanary{RUN[:26]}"
SECRET_KEY = f"canary-api-secret-{RUN}"

pytestmark = pytest.mark.usefixtures("cloud_api")


def canary_psk(label: str) -> str:
    return f"canary-psk-{label}-{RUN}"


def canary_world(task_seconds: float = 0.3) -> World:
    """The demo world whose only credential is the unique API key pair above."""
    world = load_world(None)
    return dialect.world(world, credentials={SECRET_ID: SECRET_KEY}, task_seconds=task_seconds)


@asynccontextmanager
async def canary_bot(state_dir: Path, **overrides: Any) -> AsyncIterator[Harness]:
    """``botharness.harness``, but the simulator runs the canary world and the bot signs with its key pair."""
    async with (
        SimServer(SimState(canary_world())) as sim,
        SlackStandin(usergroups={"S0NETOPS": [GROUP_MEMBER]}) as slack,
        httpx.AsyncClient() as http,
    ):
        settings = bot_settings(
            slack,
            sim,
            state_dir / "state.sqlite",
            tencentcloud_secret_id=SECRET_ID,
            tencentcloud_secret_key=SECRET_KEY,
            **overrides,
        )
        stack = AsyncExitStack()
        bot = await stack.enter_async_context(running_bot(settings, sim=False, port=0, host="127.0.0.1"))
        h = Harness(slack, sim, settings, bot, http, stack)
        try:
            yield h
        finally:
            await h.stack.aclose()
        assert slack.invalid == [], slack.invalid
        assert slack.unrendered == [], slack.unrendered


def debug_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    """Every logger at DEBUG: the root (what ``-vv`` does), and every logger created so far inherits it."""
    caplog.set_level(logging.DEBUG)
    logging.getLogger().setLevel(logging.DEBUG)
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            logger.setLevel(logging.NOTSET)
            logger.disabled = False


def record_texts(records: Iterable[logging.LogRecord]) -> str:
    """Each record's message, raw msg and args (repr), exception and every other attribute it carries."""
    formatter = logging.Formatter()
    parts = []
    for record in records:
        exc = formatter.formatException(record.exc_info) if record.exc_info else ""
        parts.append(f"{record.getMessage()}\n{record.msg!r}\n{record.args!r}\n{exc}\n{record.__dict__!r}")
    return "\n".join(parts)


def state_files(state: Path) -> dict[str, bytes]:
    """The raw bytes of the state file, its -wal, -shm and -journal files (when present) and its key file."""
    found = {}
    for path in (*(state.with_name(state.name + s) for s in ("", "-wal", "-shm", "-journal")), key_file_path(state)):
        if path.exists():
            found[path.name] = path.read_bytes()
    return found


def secrets_table(state: Path) -> dict[str, str]:
    with closing(sqlite3.connect(state)) as db:
        return dict(db.execute("SELECT key, value FROM secrets"))


def leaks(canaries: Iterable[str], places: dict[str, str | bytes]) -> list[str]:
    found = []
    for canary in canaries:
        for where, text in places.items():
            if (canary.encode() if isinstance(text, bytes) else canary) in text:
                found.append(f"{canary!r} in {where}")
    return found


async def pending_request(h: Harness) -> ChangeRequest:
    (request,) = await h.bot.context.store.in_states({ChangeState.PENDING})
    return request


async def reject(h: Harness, card: dict[str, Any], reason: str) -> None:
    opens = len(h.slack.calls("views.open"))
    await h.click("reject_change", card, APPROVER)
    opened = await h.slack.wait_for("views.open", count=opens + 1)
    reject_view = h.slack.view(opened[-1].response["view"]["id"])
    values = {"reason": {"reason": {"type": "plain_text_input", "value": reason}}}
    await h.post(view_submission(reject_view, values, user_id=APPROVER))
    await h.wait_thread_text(card, "rejected this change")


def cli(*argv: str) -> int:
    return main(list(argv))


async def test_no_secret_reaches_any_output(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    debug_everywhere(caplog)
    psk = {name: canary_psk(name) for name in ("applied", "failed", "rejected", "inline", "cli", "cli-json")}
    too_long = canary_psk("too-long") + "x" * 128
    state = tmp_path / "state.sqlite"
    monkeypatch.chdir(tmp_path)
    # API 3.0's documented edit has no task: its failure is concluded from reads once the settle window passed.
    short = {"vpnbot_task_deadline": "4s", "vpnbot_cloud_timeout": "1s", "vpnbot_settle_window": "1s"}
    # Watched, so the key before each change is kept (encrypted) for a revert, and the peer's half is posted; under
    # API 3.0 with Tencent's own download, which holds the live key in plain text.
    watched: dict[str, str] = {"vpnbot_watch": "2s", "vpnbot_watch_interval": "0.2s"}
    if dialect.current == "v3":
        watched["vpnbot_peer_vendor"] = "cisco"
    async with canary_bot(tmp_path, **watched, **(short if dialect.behaviour() == "v3" else {})) as h:
        store = h.bot.context.store
        # The bot holds Slack's libraries at INFO; the canary overrides that too, so it sees everything they log.
        assert all(logging.getLogger(name).getEffectiveLevel() == logging.INFO for name in CHATTY_LOGGERS)
        debug_everywhere(caplog)

        # 1. applied: the key and another parameter; while pending the key is only in the store, encrypted.
        card = await h.propose({"preSharedKey": psk["applied"], "IKESet.dhGroupName": "group5"})
        request = await pending_request(h)
        assert request.psk_changed
        assert await store.psk(request.id) == SecretStr(psk["applied"])
        (token,) = secrets_table(state).values()
        fernet = Fernet(key_file_path(state).read_bytes().strip())
        assert fernet.decrypt(json.loads(token).encode()).decode() == psk["applied"]
        found = leaks([psk["applied"]], dict(state_files(state)))
        assert found == [], "the pending key is in plain text in " + ", ".join(found)
        await h.click("approve_change", card, APPROVER)
        await h.wait_thread_text(card, "Verified: every proposed value is live")
        assert h.connection()["preSharedKey"] == psk["applied"]  # the key really went through
        assert await store.psk(request.id) is None
        assert secrets_table(state) == {}
        if dialect.current == "v3":
            await h.wait_thread_text(card, "The peer's half")
            assert "Tencent Cloud's configuration for cisco" in json.dumps([m for m in h.thread(card)])
        await h.slack.wait_until(
            lambda: any("Tunnel" in json.dumps(m) for m in h.thread(card)), timeout=15, what="the watch's end"
        )

        # 2. the task fails
        h.sim.state.update_faults({"taskOutcome": "failed"})
        card = await h.propose({"preSharedKey": psk["failed"], "IPsecSet.pfsDhGroup": "dh-group2"})
        request = await pending_request(h)
        await h.click("approve_change", card, APPROVER)
        if dialect.behaviour() == "v3":
            await h.wait_thread_text(card, "did not take effect", seconds=30)
        else:
            await h.wait_thread_text(card, "failed after")
        assert await store.psk(request.id) is None
        h.sim.state.update_faults({"taskOutcome": None})

        # 3. rejected
        card = await h.propose({"preSharedKey": psk["rejected"], "vpnConnName": "never-applied"})
        request = await pending_request(h)
        await reject(h, card, "not today")
        assert await store.psk(request.id) is None

        # 4. inline errors: a valid key beside an invalid field, then an invalid key
        for changes in (
            {"preSharedKey": psk["inline"], "vpnConnName": "x" * 61},
            {"preSharedKey": too_long, "IKESet.dhGroupName": "group2"},
        ):
            response = await h.submit(await h.open_form(), changes)
            assert response.json()["response_action"] == "errors"
        assert await store.in_states({ChangeState.PENDING}) == []

        # 5. the CLI against the same simulator (in a thread: it runs its own event loop)
        for name, value in {
            "VPNBOT_CLOUD_API": dialect.current,
            "VPNBOT_CLOUD_ENDPOINT": dialect.endpoint(h.sim),
            "TENCENTCLOUD_SECRET_ID": SECRET_ID,
            "TENCENTCLOUD_SECRET_KEY": SECRET_KEY,
            "VPNBOT_TASK_POLL_INITIAL": "0.05s",
            "VPNBOT_TASK_POLL_MAX": "0.2s",
            "VPNBOT_TASK_DEADLINE": "20s",
            "VPNBOT_STATE_PATH": str(state),
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("VPNBOT_STORE_KEY", raising=False)
        conn = SEED_CONN
        assert await asyncio.to_thread(cli, "-vv", "edit", conn, "--set", f"preSharedKey={psk['cli']}", "--yes") == 0
        sets = ["--set", f"preSharedKey={psk['cli-json']}", "--set", "vpnConnName=via-cli"]
        assert await asyncio.to_thread(cli, "-vv", "edit", conn, *sets, "--yes", "--json") == 0
        assert h.connection()["preSharedKey"] == psk["cli-json"]
        assert h.sim.state.received(MODIFY) == 4
        slack_calls = json.dumps([(c.method, c.args, c.response) for c in h.slack.calls()], ensure_ascii=False)
        bot_answers = "\n".join(r.text for r in h.responses)
        requests = [r.to_json() for r in await store.in_states(set(ChangeState))]
        running_files = {f"{name} (bot running)": data for name, data in state_files(state).items()}
    assert len(requests) == 5  # three from Slack, two from the terminal: each a request in the state file
    assert sorted(r["front"] for r in requests) == ["cli", "cli", "slack", "slack", "slack"]
    assert "state.sqlite-wal (bot running)" in running_files

    edits = capsys.readouterr()
    assert "verified: every proposed value is live" in edits.out

    # 6. the audit, after the bot stopped
    assert await asyncio.to_thread(cli, "audit") == 0
    listing = capsys.readouterr()
    assert await asyncio.to_thread(cli, "audit", "--json") == 0
    exported = capsys.readouterr()
    everything = json.loads(exported.out)
    assert any(r["action"].startswith("watch: tunnel") for r in everything)  # the watch's records, key-free too
    records = [r for r in everything if not r["action"].startswith("watch:")]
    assert [r["action"] for r in records].count("created") == 5
    # applied, failed (after running; with no task, concluded from reads: unknown first), rejected; then the two
    # terminal edits, each created, approved by its operator, sent, running, succeeded
    assert len(records) == 5 + (6 if dialect.behaviour() == "v3" else 5) + 2 + 2 * 5
    assert sum(r["detail"].get("psk_changed") is True for r in records) == 5
    assert "preSharedKey" in listing.out

    # everything captured really was captured
    assert MODIFY in caplog.text
    debug_from = {r.name.split(".")[0] for r in caplog.records if r.levelno == logging.DEBUG}
    assert {"bot", "slack_bolt", "slack_sdk", "httpcore"} <= debug_from, debug_from
    assert "chat.postMessage" in slack_calls
    assert '"response_action"' in bot_answers

    places: dict[str, str | bytes] = {
        "Slack Web API calls and response_url posts": slack_calls,
        "the bot's HTTP answers to Slack": bot_answers,
        "caplog.text": caplog.text,
        "log records (message, args, attributes)": record_texts(caplog.records),
        "CLI stdout": edits.out,
        "CLI stderr": edits.err,
        "audit listing": listing.out + listing.err,
        "audit --json": exported.out + exported.err,
        "stored requests": json.dumps(requests),
        **running_files,
        **state_files(state),
    }
    assert {"state.sqlite", "state.sqlite.key"} <= set(places)
    found = leaks([*psk.values(), too_long[:60], SECRET_KEY], places)
    assert found == [], "secrets leaked:\n" + "\n".join(found)


async def approve_under_another_store_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> tuple[ChangeRequest, str, int]:
    """A pending change of the key made under store key A, approved after a restart under key B: the request as
    stored at its end, the card's thread reply, and how many ModifyVpnConnEx the cloud received."""
    debug_everywhere(caplog)
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    async with canary_bot(tmp_path, vpnbot_store_key=key_a) as h:
        card = await h.propose({"preSharedKey": canary_psk("wrong-store-key"), "vpnConnName": "key-mixup"})
        request = await pending_request(h)
        h.settings = h.settings.model_copy(update={"vpnbot_store_key": SecretStr(key_b)})
        await h.restart()
        await h.click("approve_change", card, APPROVER)
        reply = await h.wait_thread_text(card, f"<@{REQUESTER}>")
        stored = await h.bot.context.store.get(request.id)
        assert stored is not None
        return stored, reply, h.sim.state.received(MODIFY)


@dialect.no_edit
async def test_a_wrong_store_key_sends_nothing_never_crashes_and_fails_naming_the_variable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stored, reply, modified = await approve_under_another_store_key(tmp_path, caplog)
    assert modified == 0
    assert stored.is_terminal
    assert "nothing was sent" in reply.lower() or "cannot be sent" in reply.lower()
    assert "Traceback" not in caplog.text
    assert "InvalidToken" not in caplog.text
    assert "cryptography" not in record_texts(caplog.records)
    assert "VPNBOT_STORE_KEY" in caplog.text  # the start-up warning names it
    assert canary_psk("wrong-store-key") not in caplog.text + reply
    # ... and the change fails, its reply and its outcome naming the variable
    assert "VPNBOT_STORE_KEY" in reply
    assert stored.state is ChangeState.FAILED
    assert "VPNBOT_STORE_KEY" in stored.outcome_message
