"""The Slack CLI contract, with this test playing the CLI: read ``.slack/hooks.json``, run its ``get-hooks`` as the
CLI does, then the hooks it answers with, each through the user's shell in the project root (slackapi/slack-cli
``internal/hooks``: the command's fields and the protocol flags joined by spaces, ``$SHELL -c``, else ``sh -c``).

``start`` runs as ``slack run`` runs it: one long process with the app's tokens in its environment, connecting to
the Slack stand-in's Socket Mode server, stopped by SIGINT (what the CLI sends when a watched file changes) or
SIGTERM. Every process gets an explicit environment without the developer's ``SLACK_*``, ``TENCENTCLOUD_*`` and
``VPNBOT_*``, and runs in a copy of the project (``manifest.yml`` and ``.slack/``) in the test's tmp dir, so no
``.env`` of the repository is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
from asyncio.subprocess import PIPE
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.playground.slack_api import SlackStandin, block_problems
from bot.playground.slack_payloads import slash_command_payload

ROOT = Path(__file__).resolve().parent.parent
SHELL = os.environ.get("SHELL") or "sh"  # the CLI's choice of shell on Linux and macOS
MESSAGE_BOUNDARIES = "message-boundaries"
SIMULATOR_NOTE = re.compile(r"TENCENTCLOUD_SECRET_ID is not set .*simulator.*TENCENTCLOUD_SECRET_KEY in \.env")
READY = re.compile(r"vpnbot serving in Socket Mode; cloud: (.+?) \(API")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The project as the CLI sees it: ``manifest.yml`` and ``.slack/``, in a directory with no ``.env``."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(ROOT / "manifest.yml", root / "manifest.yml")
    shutil.copytree(ROOT / ".slack", root / ".slack")
    return root


def cli_env(**extra: str) -> dict[str, str]:
    """A developer's environment with the venv active (its ``python3`` first on PATH) and none of vpnbot's or
    Slack's variables; ``PYTHONPATH`` is this checkout, so its ``bot`` is the one the hooks run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VPNBOT_", "TENCENTCLOUD_", "SLACK_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # each start would compile bot/ again: see conftest.py
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def shell_argv(command: str, *flags: str, shell: str = SHELL) -> list[str]:
    """The process the CLI starts for a hook: the command split on whitespace, the flags after it, one line for
    the shell."""
    return [shell, "-c", " ".join([*command.split(), *flags])]


def boundary_flags() -> tuple[str, list[str]]:
    """A fresh boundary (the CLI's is 32 hex digits) and the flags the CLI appends to name it."""
    boundary = secrets.token_hex(16)
    return boundary, [f"--protocol={MESSAGE_BOUNDARIES}", f"--boundary={boundary}"]


def between_boundaries(stdout: str, boundary: str) -> str:
    """The one message the message-boundaries protocol allows, as the CLI reads it."""
    parts = stdout.split(boundary)
    assert len(parts) == 3, f"want one message between two boundaries, got {stdout!r}"
    assert parts[0].strip() == parts[2].strip() == "", stdout
    return parts[1]


def run_hook(command: str, *flags: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(shell_argv(command, *flags), cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def get_hooks(project: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """``get-hooks`` from the project's hooks.json, run in the project root; it must succeed and say nothing else."""
    command = json.loads((project / ".slack" / "hooks.json").read_text())["hooks"]["get-hooks"]
    done = run_hook(command, *flags, cwd=project, env=cli_env())
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    return done


def sdk_config(project: Path) -> dict[str, Any]:
    """What the CLI works with: get-hooks' answer (default protocol, as the CLI runs it) with hooks.json's own
    keys over it."""
    done = get_hooks(project)
    config: dict[str, Any] = json.loads(done.stdout)
    local = json.loads((project / ".slack" / "hooks.json").read_text())
    config["hooks"] = {**config["hooks"], **local["hooks"]}
    return config


# --- get-hooks ---------------------------------------------------------------------------------------------------


def test_hooks_json_holds_only_get_hooks_so_the_rest_comes_from_the_code() -> None:
    local = json.loads((ROOT / ".slack" / "hooks.json").read_text())
    assert list(local) == ["hooks"]
    assert list(local["hooks"]) == ["get-hooks"]
    assert local["hooks"]["get-hooks"].split()[:3] == ["python3", "-m", "bot.slack.cli_hooks"]
    ignored = (ROOT / ".slack" / ".gitignore").read_text().split()
    assert "apps.dev.json" in ignored  # each developer's own app and workspace: never committed
    assert "cache/" in ignored


@pytest.mark.parametrize(
    "protocol",
    [
        "cli",  # how the CLI runs get-hooks: no protocol flags (and, on Slack's dev hosts, flags of its own)
        MESSAGE_BOUNDARIES,
        "boundaries-as-separate-words",
    ],
)
def test_get_hooks_answers_the_interface(project: Path, protocol: str) -> None:
    boundary, flags = boundary_flags()
    if protocol == "cli":
        done = get_hooks(project, "--sdk-slack-dev-domain=dev.slack.com")
        answer = json.loads(done.stdout)  # the CLI takes all of stdout as the answer
    else:
        if protocol != MESSAGE_BOUNDARIES:
            flags = ["--protocol", MESSAGE_BOUNDARIES, "--boundary", boundary]
        done = get_hooks(project, *flags)
        answer = json.loads(between_boundaries(done.stdout, boundary))
    assert answer["runtime"] == "python"
    assert set(answer["hooks"]) >= {"get-manifest", "start"}
    config = answer["config"]
    assert config["protocol-version"][0] == MESSAGE_BOUNDARIES
    assert config["sdk-managed-connection-enabled"] is True  # vpnbot opens its own socket
    assert config["watch"]["manifest"]["paths"] == ["manifest.yml"]
    for path in config["watch"]["app"]["paths"]:
        assert (ROOT / path).is_dir(), path
    assert re.search(config["watch"]["app"]["filter-regex"], "bot/slack/app.py")
    # start becomes the bot (exec): the CLI signals the shell's pid, and dash would fork and keep the signal.
    assert answer["hooks"]["start"].startswith("exec ")
    for name, command in answer["hooks"].items():
        # The same interpreter that ran get-hooks, whatever python3 the shell would find later.
        words = shlex.split(command.removeprefix("exec "))
        assert Path(words[0]).resolve() == Path(sys.executable).resolve(), (name, command)
        assert words[1:3] == ["-m", "bot.slack.cli_hooks"]


# --- get-manifest ------------------------------------------------------------------------------------------------


def test_get_manifest_is_manifest_yml_as_json(project: Path) -> None:
    command = sdk_config(project)["hooks"]["get-manifest"]
    boundary, flags = boundary_flags()
    done = run_hook(command, *flags, cwd=project, env=cli_env())
    assert done.returncode == 0, done.stderr
    manifest = json.loads(between_boundaries(done.stdout, boundary))
    assert manifest == yaml.safe_load((ROOT / "manifest.yml").read_text())
    (command_entry,) = manifest["features"]["slash_commands"]
    assert command_entry["command"] == "/vpn"
    assert "url" not in command_entry  # Socket Mode: Slack needs no public URL
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert "request_url" not in manifest["settings"]["interactivity"]
    assert set(manifest["oauth_config"]["scopes"]["bot"]) >= {"commands", "chat:write", "usergroups:read"}
    # And with the default protocol, the manifest is the whole of stdout.
    plain = run_hook(command, cwd=project, env=cli_env())
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout) == manifest


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "no such file"),
        ("display_information:\n  name: [vpnbot\n", "not valid YAML at line"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("", "must be a YAML mapping"),
        ("display_information:\n  name: vpnbot\n  released: 2026-12-01\n", "JSON cannot carry"),
        ("\xff\xfe not text", "cannot read it"),
    ],
    ids=["missing", "bad-yaml", "a-list", "empty", "a-date", "not-utf8"],
)
def test_a_missing_or_malformed_manifest_is_one_line_naming_the_file(
    project: Path, content: str | None, said: str
) -> None:
    command = sdk_config(project)["hooks"]["get-manifest"]
    manifest = project / "manifest.yml"
    if content is None:
        manifest.unlink()
    else:
        manifest.write_bytes(content.encode("latin-1") if content.startswith("\xff") else content.encode())
    boundary, flags = boundary_flags()
    done = run_hook(command, *flags, cwd=project, env=cli_env())
    assert done.returncode != 0
    assert boundary not in done.stdout  # no answer for the CLI to take for a manifest
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(manifest) in lines[0]
    assert said in lines[0]
    assert "Traceback" not in done.stderr


def test_doctor_reports_the_runtime(project: Path) -> None:
    command = sdk_config(project)["hooks"]["doctor"]
    boundary, flags = boundary_flags()
    done = run_hook(command, *flags, cwd=project, env=cli_env())
    assert done.returncode == 0, done.stderr
    versions = {v["name"]: v for v in json.loads(between_boundaries(done.stdout, boundary))["versions"]}
    assert versions["python"]["current"] == ".".join(str(n) for n in sys.version_info[:3])
    assert versions["slack-bolt"]["current"]
    assert "error" not in versions["vpnbot"]


# --- start -------------------------------------------------------------------------------------------------------


async def _start(project: Path, env: dict[str, str], log: Path, shell: str = SHELL) -> asyncio.subprocess.Process:
    command = sdk_config(project)["hooks"]["start"]
    # stderr to a file, not a pipe: a pipe nobody reads until the end stalls a bot that logs more than it holds.
    # A session of its own, so that _kill can end whatever the shell started, even a bot the shell forked.
    with log.open("wb") as log_file:
        return await asyncio.create_subprocess_exec(
            *shell_argv(command, shell=shell),
            stdout=PIPE,
            stderr=log_file,
            env=env,
            cwd=project,
            start_new_session=True,
        )


async def _kill(process: asyncio.subprocess.Process) -> None:
    """SIGKILL what is left of the process group _start made, and reap the shell: a shell that died of a signal
    may leave the bot it forked running. (While the group has a member, its id cannot be given to another
    process, so the signal reaches only what the test started.)"""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()


async def _ready_line(process: asyncio.subprocess.Process, log: Path) -> str:
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
    if not READY.search(line):
        raise AssertionError(f"{line!r} instead of the ready line; log:\n{await asyncio.to_thread(log.read_text)}")
    return line


def state_files_in(directory: Path) -> list[str]:
    return [path.name for path in directory.glob("vpnbot-state*")]


# Shells the CLI may pick ($SHELL, else sh): dash forks a command where bash becomes it, and the CLI signals the
# shell's pid.
SHELLS = [shell for shell in ("sh", "bash") if shutil.which(shell)]


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(
    ("tokens", "signum"),
    [
        (("SLACK_APP_TOKEN", "SLACK_BOT_TOKEN"), signal.SIGTERM),
        (("SLACK_CLI_XAPP", "SLACK_CLI_XOXB"), signal.SIGINT),  # the names the CLI also passes; SIGINT: a restart
    ],
    ids=["SLACK_APP_TOKEN-SIGTERM", "SLACK_CLI_XAPP-SIGINT"],
)
async def test_slack_run_starts_the_bot_in_socket_mode_on_the_simulator(
    project: Path, tmp_path: Path, tokens: tuple[str, str], signum: int, shell: str
) -> None:
    async with SlackStandin() as slack:
        app_var, bot_var = tokens
        env = cli_env(
            **{app_var: slack.app_token, bot_var: slack.bot_token},
            SLACK_API_URL=slack.api_url,
            VPNBOT_STATE_PATH=str(tmp_path / "state.sqlite"),
        )
        log = tmp_path / "start.log"
        process = await _start(project, env, log, shell)
        try:
            line = await _ready_line(process, log)
            assert "the embedded simulator" in line
            await slack.wait_for_connection(timeout=10)
            (opened,) = slack.calls("apps.connections.open")
            assert opened.token == slack.app_token  # the socket is the CLI's app's
            help_command = slash_command_payload(
                "help", trigger_id=slack.new_trigger_id(), response_url=slack.new_response_url()
            )
            ack = await slack.send_envelope("slash_commands", help_command, timeout=10)
            answer = ack["payload"]
            assert answer["response_type"] == "ephemeral"
            assert block_problems(answer["blocks"]) == []
            assert "/vpn edit" in json.dumps(answer["blocks"])
            process.send_signal(signum)  # to the shell's pid, as the CLI does: the shell has become python
            assert await asyncio.wait_for(process.wait(), 15) == 0, log.read_text()
            assert process.stdout is not None
            rest = (await process.stdout.read()).decode()
            await slack.wait_for_disconnect(timeout=5)
        finally:
            await _kill(process)
    assert "vpnbot stopped" in rest
    logged = log.read_text()
    assert len(SIMULATOR_NOTE.findall(logged)) == 1, logged
    assert "Traceback" not in logged, logged
    for token in (slack.app_token, slack.bot_token):
        assert token not in line + rest + logged
    assert (tmp_path / "state.sqlite").exists()  # VPNBOT_STATE_PATH, not the project's directory
    assert state_files_in(project) == []


async def test_a_cloud_account_in_dot_env_is_used_instead_of_the_simulator(project: Path, tmp_path: Path) -> None:
    endpoint = "http://127.0.0.1:9/v2/index.php"  # never called: serve reads the cloud only when asked
    (project / ".env").write_text(
        "TENCENTCLOUD_SECRET_ID=AKIDdotenvsecretid0000000000000000000\n"
        "TENCENTCLOUD_SECRET_KEY=dotenvsecretkey000000000000000000\n"
        f"VPNBOT_CLOUD_ENDPOINT={endpoint}\n"
    )
    async with SlackStandin() as slack:
        env = cli_env(
            SLACK_APP_TOKEN=slack.app_token,
            SLACK_BOT_TOKEN=slack.bot_token,
            SLACK_API_URL=slack.api_url,
            VPNBOT_STATE_PATH=str(tmp_path / "state.sqlite"),
        )
        log = tmp_path / "start.log"
        process = await _start(project, env, log)
        try:
            line = await _ready_line(process, log)
            found = READY.search(line)
            assert found is not None
            assert found.group(1) == endpoint
            await slack.wait_for_connection(timeout=10)
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), 15) == 0, log.read_text()
        finally:
            await _kill(process)
    logged = log.read_text()
    assert not SIMULATOR_NOTE.search(logged), logged
    assert "dotenvsecretkey" not in line + logged


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({}, "SLACK_APP_TOKEN"),
        ({"SLACK_APP_TOKEN": "xapp-1-A0-1-onlytheapptoken"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_APP_TOKEN": "xoxp-1-wrongkindoftoken", "SLACK_BOT_TOKEN": "xoxb-1-bot"}, "SLACK_APP_TOKEN"),
        (
            {"SLACK_APP_TOKEN": "xapp-1-A0-1-apptoken", "SLACK_BOT_TOKEN": "xoxb-1-bot", "VPNBOT_REQUEST_TTL": "soon"},
            "VPNBOT_REQUEST_TTL",
        ),
    ],
    ids=["no-tokens", "no-bot-token", "not-an-app-token", "bad-setting"],
)
def test_start_refuses_in_one_line_naming_what_is_wrong(
    project: Path, tmp_path: Path, variables: dict[str, str], named: str
) -> None:
    command = sdk_config(project)["hooks"]["start"]
    env = cli_env(**variables, VPNBOT_STATE_PATH=str(tmp_path / "state.sqlite"))
    done = run_hook(command, cwd=project, env=env)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if not SIMULATOR_NOTE.search(line)]
    assert len(lines) == 1, done.stderr
    assert named in lines[0]
    assert "Traceback" not in done.stderr
    for value in variables.values():
        if value.startswith("x"):
            assert value not in done.stdout + done.stderr
