"""vpnbot's side of the Slack CLI contract (``.slack/hooks.json``), so that ``slack run`` in the repository root
creates the app from ``manifest.yml`` and starts ``vpnbot serve`` in Socket Mode with the CLI's tokens.

How the CLI uses these hooks (slackapi/slack-cli, ``.github/cli-sdk-specification.md`` and ``internal/hooks``):

* it runs the ``get-hooks`` command of ``.slack/hooks.json`` in the project root, with its default protocol (no
  extra flags), and merges the JSON printed on stdout with hooks.json (keys in hooks.json win);
* every other hook is a shell command (``$SHELL -c``, else ``sh -c``) run in the project root; when the
  ``protocol-version`` list offers ``message-boundaries``, the CLI appends ``--protocol=message-boundaries
  --boundary=X`` and reads as the answer only what is printed between two ``X`` (logs may go around it);
* with ``sdk-managed-connection-enabled``, ``start`` is one long-running process that opens its own Socket Mode
  connection with the tokens in its environment (``SLACK_APP_TOKEN``/``SLACK_BOT_TOKEN``, and ``SLACK_CLI_XAPP``/
  ``SLACK_CLI_XOXB``); the CLI restarts it with SIGINT when a watched file changes, and ``serve`` stops cleanly on
  SIGINT or SIGTERM.

Bolt for Python's samples get these hooks from ``slack-cli-hooks``, whose ``get-manifest`` wants a
``manifest.json`` and whose ``start`` runs an ``app.py``; vpnbot has ``manifest.yml`` and ``vpnbot serve``, so the
hooks are its own and reuse only that package's protocol classes (:func:`slack_cli_hooks.protocol.build_protocol`,
which ignores flags it does not know, such as the CLI's ``--sdk-slack-dev-domain``).

``get-hooks`` is the first thing every CLI command runs, so this module imports nothing heavy at the top: YAML for
``get-manifest`` and the bot for ``start`` are imported by the hook that needs them.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from slack_cli_hooks.protocol import DefaultProtocol, MessageBoundaryProtocol, build_protocol

__all__ = [
    "MANIFEST_FILE",
    "ManifestError",
    "SlackTokens",
    "doctor_payload",
    "hooks_payload",
    "main",
    "manifest_json",
    "slack_tokens",
    "start",
]

MANIFEST_FILE = "manifest.yml"
MODULE = "bot.slack.cli_hooks"
EXIT_FAILED, EXIT_USAGE = 1, 2
SIMULATOR_NOTE = (
    "vpnbot: TENCENTCLOUD_SECRET_ID is not set (environment or .env): serving on the embedded Tencent Cloud "
    "simulator (demo world); for a real account put TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY in .env "
    "and start `slack run` again"
)


class ManifestError(Exception):
    """The manifest is missing or malformed; the text is one line naming the file."""


@dataclass(frozen=True)
class SlackTokens:
    """The app-level token (``xapp-``, for the socket) and the bot token (``xoxb-``) of the app ``slack run`` runs."""

    app: str
    bot: str

    def __repr__(self) -> str:  # never show a token, even in a traceback's locals
        return "SlackTokens(app=..., bot=...)"


def hooks_payload(python: str | None = None) -> dict[str, Any]:
    """What ``get-hooks`` answers: every hook as a shell command on this same interpreter (quoted, so a path with
    spaces survives the CLI's ``sh -c``), the protocols in order of preference, and what ``slack run`` watches:
    the bot's code (the CLI restarts ``start``) and ``manifest.yml`` (the CLI reinstalls the app)."""
    run = f"{shlex.quote(python or sys.executable)} -m {MODULE}"
    # The CLI stops ``start`` by signalling the shell's pid (SIGINT, SIGKILL 5 s later); dash (``sh`` on Debian)
    # forks the command instead of becoming it, so the bot would never hear the signal and would outlive the
    # killed shell. PowerShell has no ``exec`` (and Go cannot send SIGINT on Windows: the CLI kills at once).
    become = "" if os.name == "nt" else "exec "
    return {
        "hooks": {
            "get-manifest": f"{run} get-manifest",
            "start": f"{become}{run} start",
            "doctor": f"{run} doctor",
        },
        "config": {
            "protocol-version": [MessageBoundaryProtocol.name, DefaultProtocol.name],
            "sdk-managed-connection-enabled": True,
            "watch": {
                "app": {"filter-regex": r"\.py$", "paths": ["bot"]},
                "manifest": {"paths": [MANIFEST_FILE]},
            },
        },
        "runtime": "python",
    }


def manifest_json(directory: Path) -> str:
    """``manifest.yml`` in ``directory`` (the project root, where the CLI runs its hooks) as compact JSON, the
    one form the CLI takes; ManifestError for a file that is missing, unreadable, not YAML, or not a mapping."""
    import yaml  # type: ignore[import-untyped, unused-ignore]  # typed once types-PyYAML is installed

    path = directory / MANIFEST_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(
            f"{path}: no such file: run the Slack CLI from the vpnbot repository root, where {MANIFEST_FILE} is"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
        raise ManifestError(f"{path}: cannot read it ({reason})") from None
    try:
        manifest = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        raise ManifestError(f"{path}: not valid YAML{where}: {problem}") from None
    if not isinstance(manifest, dict) or not manifest:
        raise ManifestError(f"{path}: must be a YAML mapping of manifest keys (_metadata, display_information, ...)")
    try:
        return json.dumps(manifest, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as error:  # a date, a set, a non-string key, .inf ...: YAML has more than JSON
        raise ManifestError(f"{path}: holds a value JSON cannot carry ({_one_line(str(error))})") from None


def doctor_payload() -> dict[str, Any]:
    """What ``slack doctor`` shows for this project: the interpreter and the versions of vpnbot's Slack stack."""
    versions: list[dict[str, str]] = [
        {"name": "python", "current": platform.python_version()},
        {"name": "implementation", "current": platform.python_implementation()},
    ]
    for package in ("vpnbot", "slack-bolt", "slack-sdk", "slack-cli-hooks"):
        try:
            versions.append({"name": package, "current": metadata.version(package)})
        except metadata.PackageNotFoundError:
            versions.append({"name": package, "current": "", "error": f"{package} is not installed: pip install -e ."})
    return {"versions": versions}


def slack_tokens(environ: Mapping[str, str]) -> SlackTokens | None:
    """The tokens the CLI hands ``start``: ``SLACK_CLI_XAPP``/``SLACK_CLI_XOXB`` first (only the CLI sets them, so
    a ``SLACK_BOT_TOKEN`` exported for another app cannot win over them), else ``SLACK_APP_TOKEN``/
    ``SLACK_BOT_TOKEN``; None unless both are there."""
    app = environ.get("SLACK_CLI_XAPP") or environ.get("SLACK_APP_TOKEN") or ""
    bot = environ.get("SLACK_CLI_XOXB") or environ.get("SLACK_BOT_TOKEN") or ""
    return SlackTokens(app, bot) if app and bot else None


def start() -> int:
    """``vpnbot serve`` in this process, in Socket Mode with the CLI's tokens; on the embedded simulator (said in one
    line on stderr) when no ``TENCENTCLOUD_SECRET_ID`` is set in the environment or ``.env``. Its exit status is
    serve's: 0 after SIGINT/SIGTERM, 2 with one line for a missing or malformed setting."""
    tokens = slack_tokens(os.environ)
    if tokens is None:
        print(
            "vpnbot: start: no Slack tokens (SLACK_APP_TOKEN and SLACK_BOT_TOKEN): `slack run` passes them; "
            "without the Slack CLI, run `vpnbot serve`",
            file=sys.stderr,
        )
        return EXIT_USAGE
    # serve reads its settings from the environment, which wins over .env: the CLI's app is the one served.
    os.environ["SLACK_APP_TOKEN"] = tokens.app
    os.environ["SLACK_BOT_TOKEN"] = tokens.bot

    from bot.cli import main as vpnbot
    from bot.config import ConfigError, load_settings

    argv = ["serve"]
    try:
        real_account = bool(load_settings().tencentcloud_secret_id)
    except ConfigError:
        real_account = True  # serve names the bad setting itself, in one line, before touching any cloud
    if not real_account:
        print(SIMULATOR_NOTE, file=sys.stderr, flush=True)
        argv.append("--sim")
    return vpnbot(argv)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bot.slack.cli_hooks HOOK [--protocol=message-boundaries --boundary=X] [...]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    protocol = build_protocol(argv=[MODULE, *args])
    hook = next((arg for arg in args if not arg.startswith("-")), "")
    if hook == "get-hooks":
        protocol.respond(json.dumps(hooks_payload()))
    elif hook == "get-manifest":
        try:
            protocol.respond(manifest_json(Path.cwd()))
        except ManifestError as error:
            print(f"vpnbot: {error}", file=sys.stderr)
            return EXIT_USAGE
    elif hook == "doctor":
        protocol.respond(json.dumps(doctor_payload()))
    elif hook == "start":
        return start()
    else:
        known = ", ".join(hooks_payload()["hooks"])
        print(f"vpnbot: {hook or 'no hook'}: not a hook of vpnbot (get-hooks, {known})", file=sys.stderr)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
