"""The ``vpnbot`` command: ``serve``, ``playground``, ``sim``, ``show``, ``edit`` and ``audit`` (DESIGN.md section 2).

``edit`` exits 0 when the change is applied and verified, 1 when the cloud refused it or its task failed or timed
out (or it is not live afterwards, or its outcome is unknown), and 2 for bad usage or invalid input, in which case
nothing was sent. Every cloud error ends the command with one line, never a traceback.

Values of ``--set`` need never hold the key (:func:`resolve_values`): ``preSharedKey=-`` asks for it without echo
(or reads a line of stdin), ``PARAM=@FILE`` reads a file, ``PARAM=@-`` stdin, and ``@@`` escapes a leading ``@``.

``edit`` is a front of the change service (:mod:`bot.terminal`): a change request by ``cli:<login>`` in the state
file and the audit log, under the connection's lock. An edit whose answer never came (a timeout, an HTTP 5xx, an
answer without a task id) is not sent again and not called failed before the cloud could have applied it: the
service reads the connection over the settle window and reports what the reads show
(:mod:`bot.changes.evidence`).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import logging
import math
import os
import stat
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from bot import terminal
from bot.audit import run_audit
from bot.cloud import Cloud, credentials_from, open_cloud
from bot.config import ConfigError, Settings, load_settings
from bot.console import SecretInputError, ask_secret, connection_json, param_kinds_help, render_connection
from bot.store import Store, StoreError
from bot.tencent import CloudError
from bot.terminal import EXIT_CLOUD, EXIT_OK, EXIT_USAGE, one_line
from bot.vpn.connection import SecretFingerprints
from bot.vpn.edit import PSK
from bot.vpn.peer import PeerVendor

FROM_PROMPT = "-"  # preSharedKey=- : ask on the terminal, or read a line of stdin
FROM_FILE = "@"  # PARAM=@FILE ; PARAM=@- reads stdin ; PARAM=@@TEXT is the value @TEXT
FROM_STDIN = "-"
FILE_MAX_BYTES = 1 << 20
PLAIN_KEY_WARNING = (
    "a preSharedKey on the command line is visible in ps and shell history; "
    "use --set preSharedKey=- (asked without echo, or read from stdin) or --set preSharedKey=@FILE"
)
log = logging.getLogger("bot.cli")

VALUES_HELP = f"""\
values of --set:
  PARAM=VALUE        the value as written (lists comma-separated, spdAcl as JSON)
  PARAM=@FILE        the value from FILE: the whole file (one trailing newline dropped), handy for a large
                     spdAcl or userGwCidrBlock; for preSharedKey, the file's first line (warned about when the
                     file is readable by group or others)
  PARAM=@-           the value from stdin (the whole of it; for preSharedKey, as preSharedKey=-)
  PARAM=@@TEXT       the value @TEXT: a value that starts with '@' (@@@x gives @@x)
  preSharedKey=-     ask for the key on the terminal without showing it, twice to confirm; when stdin is not
                     a terminal, read it from stdin (one line, its newline dropped)
  A key that is literally '-' or starts with '@' can be given by either of the safe forms. A key written out
  (preSharedKey=KEY) still works, with a warning: it is visible in ps and shell history.
  stdin can serve one --set only. When a value comes from stdin, the question "Apply this change?" reads the
  next line of stdin (or use --yes). Files are read up to {FILE_MAX_BYTES >> 20} MiB.
"""


class UsageError(Exception):
    """Bad usage or invalid input: exit 2, nothing was sent."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vpnbot", description="Chat-ops for Tencent Cloud VPN connections.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv for debug)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the Slack bot")
    serve.add_argument("--sim", action="store_true", help="use the embedded cloud simulator")
    serve.add_argument("--port", type=int, default=3000, help="HTTP port when not in Socket Mode (default 3000)")

    playground = commands.add_parser(
        "playground",
        help="try vpnbot with no Slack workspace: the bot, a local page that plays Slack, and the simulator",
    )
    playground.add_argument(
        "--port", type=int, default=8765, help="the page's port on 127.0.0.1 (default 8765; 0 picks a free one)"
    )

    sim = commands.add_parser("sim", help="run the Tencent Cloud VPC API 2.0 simulator alone")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8800)
    sim.add_argument("--world", help="world JSON file (default: the demo world)")
    sim.add_argument("--task-seconds", type=sim_seconds, help="how long each edit's task runs")
    sim.add_argument(
        "--renegotiate-seconds",
        type=sim_seconds,
        help="how long after an edit or a peer update the simulated tunnel renegotiates (default: the world's, 2)",
    )
    sim.add_argument(
        "--peer",
        metavar="VPNCONN_ID",
        help="do not start a simulator: show or update the peer of VPNCONN_ID on the one running at --host/--port",
    )
    sim.add_argument(
        "--peer-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="with --peer: a peer setting (preSharedKey=..., IKESet.dhGroupName=group14, spdAcl=JSON); repeat for more",
    )
    sim.add_argument(
        "--peer-mirror", action="store_true", help="with --peer: make the peer match the connection as it is now"
    )

    show = commands.add_parser("show", help="a connection's current settings (the key is never shown)")
    show.add_argument("vpn_conn_id", metavar="VPNCONN_ID")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.add_argument("--sim", action="store_true", help="use the embedded cloud simulator")

    edit = commands.add_parser(
        "edit",
        help="change a connection: validate, diff, confirm, ModifyVpnConnEx, follow the task, verify",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=VALUES_HELP + "\nparameters (lists comma-separated, spdAcl as JSON):\n" + param_kinds_help(),
    )
    edit.add_argument("vpn_conn_id", metavar="VPNCONN_ID")
    edit.add_argument(
        "--set",
        dest="edits",
        action="append",
        default=[],
        metavar="PARAM=VALUE",
        required=True,
        help="a new value (repeat for more); VALUE may be @FILE, @- (stdin), or - for preSharedKey: see below",
    )
    edit.add_argument("--yes", action="store_true", help="apply without asking")
    edit.add_argument("--json", action="store_true", help="print the result as JSON")
    edit.add_argument("--sim", action="store_true", help="use the embedded cloud simulator")
    edit.add_argument(
        "--peer-config",
        choices=[str(v) for v in PeerVendor],
        help="print the peer's half of the change (strongSwan swanctl.conf or Cisco IOS) before asking",
    )

    audit = commands.add_parser(
        "audit",
        help="list the state file's audit log (VPNBOT_STATE_PATH), or --verify its hash chain",
        description="List the tamper-evident audit log, one line per record, or check it with --verify "
        "(exit 0 intact, 1 not intact, naming each problem; 2 no state file).",
    )
    audit.add_argument("--json", action="store_true", help="print the records (or the verdict) as JSON")
    audit.add_argument("--verify", action="store_true", help="check the hash chain and its head")
    return parser


def sim_seconds(text: str) -> float:
    """A duration of ``vpnbot sim`` in seconds: a finite number, 0 or more (``nan`` or ``inf`` would leave a task
    or a renegotiation never due, and ``nan`` would put ``NaN``, which is not JSON, in the simulator's answers)."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a finite number of seconds, 0 or more")
    return seconds


def parse_edits(pairs: Sequence[str]) -> dict[str, str]:
    """``PARAM=VALUE`` pairs; the value may itself contain ``=``."""
    edits: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set {pair.split('=')[0]!r}: write PARAM=VALUE")
        if name.strip() in edits:
            raise UsageError(f"--set {name.strip()}: given more than once")
        edits[name.strip()] = value
    return edits


def resolve_values(
    edits: dict[str, str],
    *,
    stdin: TextIO | None = None,
    ask: Callable[[str], str] | None = None,
    warn: Callable[[str], None] | None = None,
) -> dict[str, str]:
    """The ``--set`` values with every indirection read (see ``VALUES_HELP``); raises UsageError naming the
    parameter (never showing a key) for a file that is missing, unreadable, not UTF-8 or too big, an empty key,
    a key not confirmed, or stdin wanted twice.

    ``stdin`` defaults to ``sys.stdin``; ``ask(what)`` asks for the key without echo (default: :func:`ask_secret`,
    twice); ``warn`` prints a one-line warning (default: to stderr).
    """
    source = sys.stdin if stdin is None else stdin
    say = warn or (lambda text: print(f"vpnbot: warning: {text}", file=sys.stderr))
    from_stdin = [name for name, raw in edits.items() if _reads_stdin(name, raw)]
    if len(from_stdin) > 1:  # refused before anything is read
        raise UsageError(
            f"--set {from_stdin[1]}: stdin already gives {from_stdin[0]}; read one of them from a file (@FILE); "
            "nothing was sent"
        )
    resolved: dict[str, str] = {}
    for name, raw in edits.items():
        is_key = name == PSK
        if name in from_stdin:
            resolved[name] = _key_from_user(source, ask) if is_key else _whole_stdin(name, source)
        elif raw.startswith(FROM_FILE) and not raw.startswith(FROM_FILE * 2):
            resolved[name] = _from_file(name, raw[1:], say)
        else:
            resolved[name] = raw[1:] if raw.startswith(FROM_FILE * 2) else raw
            if is_key and raw:
                say(PLAIN_KEY_WARNING)
        if is_key and not resolved[name]:
            raise UsageError(
                f"--set {name}: the key is empty (leave {name} out to keep the current key); nothing was sent"
            )
    return resolved


def _reads_stdin(name: str, raw: str) -> bool:
    return (name == PSK and raw == FROM_PROMPT) or raw == FROM_FILE + FROM_STDIN


def _key_from_user(stdin: TextIO, ask: Callable[[str], str] | None) -> str:
    """The key typed on the terminal without echo, or the first line of stdin when stdin is not a terminal."""
    if _is_terminal(stdin):
        try:
            return (ask or ask_secret)(PSK)
        except SecretInputError as error:
            raise UsageError(f"--set {PSK}=-: {str(error).removeprefix(PSK + ': ')}; nothing was sent") from None
    try:
        line = stdin.readline()
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise UsageError(f"--set {PSK}=-: cannot read stdin ({type(error).__name__}); nothing was sent") from None
    if not line:
        raise UsageError(f"--set {PSK}=-: stdin is empty: give the key on its first line; nothing was sent")
    return _without_newline(line)


def _whole_stdin(name: str, stdin: TextIO) -> str:
    try:
        text = stdin.read(FILE_MAX_BYTES + 1)
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise UsageError(f"--set {name}=@-: cannot read stdin ({type(error).__name__}); nothing was sent") from None
    if len(text) > FILE_MAX_BYTES:
        raise UsageError(f"--set {name}=@-: stdin holds more than {FILE_MAX_BYTES >> 20} MiB; nothing was sent")
    return _without_newline(text)


def _from_file(name: str, path_text: str, warn: Callable[[str], None]) -> str:
    """The value in the file ``path_text``: its first line for the key, else all of it (one final newline off)."""
    # A key's path is not shown: "@..." may be a key that was meant to start with '@'.
    where = f"--set {name}=@{path_text}" if name != PSK else f"--set {PSK}=@FILE"
    if not path_text:
        raise UsageError(f"{where}: write @FILE, or @@ for a value that starts with '@'; nothing was sent")
    path = Path(path_text).expanduser()
    try:
        with path.open("rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            data = file.read(FILE_MAX_BYTES + 1)
    except FileNotFoundError:
        hint = " (a key that itself starts with '@' is written @@KEY)" if name == PSK else ""
        raise UsageError(f"{where}: no such file{hint}; nothing was sent") from None
    except PermissionError:
        raise UsageError(f"{where}: permission denied; nothing was sent") from None
    except IsADirectoryError:
        raise UsageError(f"{where}: is a directory; nothing was sent") from None
    except OSError as error:
        raise UsageError(
            f"{where}: cannot read it ({error.strerror or type(error).__name__}); nothing was sent"
        ) from None
    if len(data) > FILE_MAX_BYTES:
        raise UsageError(f"{where}: larger than {FILE_MAX_BYTES >> 20} MiB; nothing was sent")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{where}: not UTF-8 text; nothing was sent") from None
    if name != PSK:
        return _without_newline(text)
    if stat.S_ISREG(mode) and mode & (stat.S_IRGRP | stat.S_IROTH):
        warn(
            f"{path_text} holds a preSharedKey but is readable by group or others (mode {stat.S_IMODE(mode):04o}): "
            f"chmod 600 {path_text}"
        )
    key = _without_newline(text.split("\n", 1)[0] + "\n")
    if not key:
        raise UsageError(f"{where}: the file's first line is empty: put the key on it; nothing was sent")
    return key


def _without_newline(text: str) -> str:
    """``text`` less one final line break (``\\n`` or ``\\r\\n``)."""
    if text.endswith("\n"):
        text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
    return text


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):
        return False


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        settings = load_settings()
        if args.command == "edit":
            edits = parse_edits(args.edits)
            if not args.sim:
                credentials_from(settings)  # a missing key pair is said before the key is asked for
            args.edits = resolve_values(edits)
        return asyncio.run(_run(args, settings))
    except (ConfigError, UsageError) as error:
        print(f"vpnbot: {error}", file=sys.stderr)
        return EXIT_USAGE
    except CloudError as error:  # each command reports its own; this is the net under them
        print(f"vpnbot: {one_line(str(error))}", file=sys.stderr)
        return EXIT_CLOUD
    except KeyboardInterrupt:
        return 130


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "sim":
        from bot.sim.cli import run_peer_update, run_sim

        if args.peer:
            return await run_peer_update(args.host, args.port, args.peer, args.peer_set, args.peer_mirror)
        if args.peer_set or args.peer_mirror:
            raise UsageError("--peer-set and --peer-mirror need --peer VPNCONN_ID")
        return await run_sim(
            settings,
            host=args.host,
            port=args.port,
            world=args.world,
            task_seconds=args.task_seconds,
            renegotiate_seconds=args.renegotiate_seconds,
        )
    if args.command == "playground":
        from bot.playground.run import run_playground

        try:
            return await run_playground(args.port)
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            raise UsageError(f"port {args.port} on 127.0.0.1 is in use: pick another with --port N") from None
    if args.command == "serve":
        from bot.slack.runner import run_bot

        return await run_bot(settings, sim=args.sim, port=args.port)
    if args.command == "audit":
        return await run_audit(
            settings.vpnbot_state_path,
            _store_key(settings),
            as_json=args.json,
            verify=args.verify,
            out=sys.stdout,
            err=sys.stderr,
        )
    if args.command == "show":
        async with open_cloud(settings, sim=args.sim) as cloud:
            return await _show(cloud, args.vpn_conn_id, as_json=args.json)
    try:
        store = Store.open(settings.vpnbot_state_path, key=_store_key(settings))
    except StoreError as error:  # a missing or wrong key names VPNBOT_STORE_KEY and the key file
        print(f"vpnbot: VPNBOT_STATE_PATH: {one_line(str(error))}; nothing was sent", file=sys.stderr)
        return EXIT_USAGE
    async with store:
        fingerprints = SecretFingerprints(store.derived_key("settings-fingerprint"))
        async with open_cloud(settings, sim=args.sim, fingerprints=fingerprints) as cloud:
            return await terminal.edit(
                settings,
                cloud,
                store,
                args.vpn_conn_id,
                args.edits,
                yes=args.yes,
                as_json=args.json,
                confirm=_confirm,
                peer_vendor=PeerVendor(args.peer_config) if args.peer_config else None,
            )


def _store_key(settings: Settings) -> str | None:
    return settings.vpnbot_store_key.get_secret_value() if settings.vpnbot_store_key else None


async def _show(cloud: Cloud, vpn_conn_id: str, *, as_json: bool) -> int:
    try:
        connection = await cloud.client.describe_vpn_conn(vpn_conn_id)
    except CloudError as error:
        print(f"vpnbot: {one_line(str(error))}", file=sys.stderr)
        return EXIT_CLOUD
    print(
        json.dumps(connection_json(connection), indent=2, ensure_ascii=False)
        if as_json
        else render_connection(connection)
    )
    return EXIT_OK


async def _confirm(question: str) -> bool:
    """Ask on the terminal (or read a piped answer); no answer at all means no."""
    print(question, end="", file=sys.stderr, flush=True)
    try:
        answer = await asyncio.to_thread(sys.stdin.readline)
    except (OSError, ValueError):
        return False
    return answer.strip().lower() in ("y", "yes")


if __name__ == "__main__":
    sys.exit(main())
