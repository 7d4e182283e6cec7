"""``vpnbot serve`` as a real process: start-up checks, /healthz, signed requests, clean stop on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from asyncio.subprocess import PIPE
from pathlib import Path

import httpx
import pytest
import yaml

from bot.playground.slack_api import SlackStandin
from bot.playground.slack_payloads import post_signed, sign_bytes, slash_command

VPNBOT = [sys.executable, "-m", "bot.cli"]
ROOT = Path(__file__).resolve().parent.parent


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VPNBOT_", "TENCENTCLOUD_", "SLACK_"))}
    env.update(extra)
    return env


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-wrong"}, "SLACK_APP_TOKEN"),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "VPNBOT_REQUEST_TTL": "soon"},
            "VPNBOT_REQUEST_TTL",
        ),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "VPNBOT_APPROVERS": "alice"}, "VPNBOT_APPROVERS"),
    ],
)
def test_a_missing_or_wrong_setting_stops_start_up_with_one_line(
    tmp_path: Path, variables: dict[str, str], named: str
) -> None:
    done = subprocess.run(
        [*VPNBOT, "serve", "--sim", "--port", "0"],
        capture_output=True,
        text=True,
        env=env_for(tmp_path, **variables),
        cwd=tmp_path,
        timeout=30,
    )
    assert done.returncode == 2
    assert named in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "xoxp-user-token" not in done.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_serve_answers_health_and_signed_requests_then_stops_cleanly(tmp_path: Path, signum: int) -> None:
    async with SlackStandin() as slack:
        await _serve_and_stop(tmp_path, signum, slack)


async def _serve_and_stop(tmp_path: Path, signum: int, slack: SlackStandin) -> None:
    secret = "process-signing-secret"
    env = env_for(
        tmp_path,
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_SIGNING_SECRET=secret,
        SLACK_API_URL=slack.api_url,
        VPNBOT_STATE_PATH=str(tmp_path / "state.sqlite"),
    )
    # stderr to a file, not a pipe: a pipe nobody reads until the end stalls a bot that logs more than it holds.
    log_path = tmp_path / "vpnbot.log"
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            *VPNBOT, "serve", "--sim", "--port", "0", stdout=PIPE, stderr=log_file, env=env, cwd=tmp_path
        )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        found = re.search(r"(http://127\.0\.0\.1:\d+)/slack/events", line)
        assert found, (line, log_path.read_text())
        base = found.group(1)
        async with httpx.AsyncClient(timeout=10) as http:
            health = await http.get(f"{base}/healthz")
            assert health.status_code == 200
            assert health.json() == {"ok": True}
            answer = await post_signed(f"{base}/slack/events", slash_command("help"), secret, client=http, timeout=10)
            assert answer.status_code == 200
            assert "/vpn edit" in answer.text
            bad = await post_signed(f"{base}/slack/events", slash_command("help"), "wrong-secret", client=http)
            assert bad.status_code == 401
            # What Bolt's own adapter answered with a 500 and a traceback: a 401 or 400, and one line each.
            garbled = {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=0"}
            assert (await http.post(f"{base}/slack/events", content=b"x", headers=garbled)).status_code == 401
            for body in (b"payload=", b"\xff\xfe", b"payload=%5B%5D"):
                refused = await http.post(f"{base}/slack/events", content=body, headers=sign_bytes(body, secret))
                assert refused.status_code == 400, refused.text
        process.send_signal(signum)
        assert await asyncio.wait_for(process.wait(), 15) == 0
        assert "stopped" in (await process.stdout.read()).decode()
        assert (tmp_path / "state.sqlite").exists()
        assert (tmp_path / "state.sqlite.key").stat().st_mode & 0o777 == 0o600
        logged = log_path.read_text()
        assert "Traceback" not in logged, logged
        assert len([line for line in logged.splitlines() if "refused POST /slack/events" in line]) == 5, logged
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_the_manifest_declares_what_the_bot_uses() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert manifest["_metadata"]["major_version"] == 1
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/vpn"
    assert command["description"]
    assert "edit" in command["usage_hint"]
    assert manifest["features"]["bot_user"]["display_name"]
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {"commands", "chat:write", "usergroups:read"}
    used = " ".join(p.read_text() for p in (ROOT / "bot" / "slack").rglob("*.py"))
    assert "usergroups_users_list" in used
    assert "chat_postMessage" in used
    for method in re.findall(r"(?<!cloud\.)client\.(\w+)\(", used):
        assert method in {
            "chat_postMessage",
            "chat_update",
            "chat_getPermalink",
            "views_open",
            "views_update",
            "views_publish",  # no scope: the Home tab (features.app_home)
            "usergroups_users_list",
            "auth_test",  # no scope needed: the workspace's URL, for card permalinks kept for other fronts
        }, method
