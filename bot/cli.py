"""The ``vpnbot`` command: ``serve``, ``sim``, ``show``, ``edit`` and ``audit`` (DESIGN.md section 2).

``edit`` exits 0 when the change is applied and verified, 1 when the cloud refused it or its task failed or timed
out (or it is not live afterwards, or its outcome is unknown), and 2 for bad usage or invalid input, in which case
nothing was sent. Every cloud error ends the command with one line, never a traceback.

Values of ``--set`` need never hold the key (:func:`resolve_values`): ``preSharedKey=-`` asks for it without echo
(or reads a line of stdin), ``PARAM=@FILE`` reads a file, ``PARAM=@-`` stdin, and ``@@`` escapes a leading ``@``.

An edit whose answer never came (a timeout, an HTTP 5xx, an answer without a task id) is not sent again and not
called failed before the cloud could have applied it: :func:`check_unanswered_edit` reads the connection over the
settle window (``VPNBOT_SETTLE_WINDOW``, counted from sending) and reports what the reads show.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import stat
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bot.audit import run_audit
from bot.cloud import Cloud, Settling, credentials_from, open_cloud
from bot.config import ConfigError, Settings, load_settings
from bot.console import (
    ProgressLine,
    SecretInputError,
    ask_secret,
    connection_json,
    diff_json,
    param_kinds_help,
    render_connection,
    render_diff,
)
from bot.tencent import (
    ApiError,
    CloudClient,
    CloudError,
    CloudTimeoutError,
    TaskOutcome,
    TaskState,
    TaskStatus,
)
from bot.vpn.connection import VpnConnection
from bot.vpn.diff import diff, not_live
from bot.vpn.edit import PSK, Proposal, propose
from bot.vpn.params import InvalidParametersError

EXIT_OK, EXIT_CLOUD, EXIT_USAGE = 0, 1, 2
MODIFYING = 2  # vpcConnStatus while a task changes the connection (API 3.0's PENDING reads as 2 too)
V3_EDIT = "ModifyVpnConnectionAttribute"  # its RequestId may or may not name a task
NO_TASK_RUNNING = "applying (no task: reading the connection)"
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

    sim = commands.add_parser("sim", help="run the Tencent Cloud VPC API 2.0 simulator alone")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8800)
    sim.add_argument("--world", help="world JSON file (default: the demo world)")
    sim.add_argument("--task-seconds", type=float, help="how long each edit's task runs")

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

    audit = commands.add_parser(
        "audit",
        help="list the state file's audit log (VPNBOT_STATE_PATH), or --verify its hash chain",
        description="List the tamper-evident audit log, one line per record, or check it with --verify "
        "(exit 0 intact, 1 not intact, naming each problem; 2 no state file).",
    )
    audit.add_argument("--json", action="store_true", help="print the records (or the verdict) as JSON")
    audit.add_argument("--verify", action="store_true", help="check the hash chain and its head")
    return parser


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


def one_line(text: str) -> str:
    """``text`` on one line: every run of whitespace or line breaks (a cloud's message may hold them) as one space."""
    return " ".join(text.split())


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "sim":
        from bot.sim.cli import run_sim

        return await run_sim(settings, host=args.host, port=args.port, world=args.world, task_seconds=args.task_seconds)
    if args.command == "serve":
        from bot.slack.runner import run_bot

        return await run_bot(settings, sim=args.sim, port=args.port)
    if args.command == "audit":
        return await run_audit(
            settings.vpnbot_state_path,
            settings.vpnbot_store_key.get_secret_value() if settings.vpnbot_store_key else None,
            as_json=args.json,
            verify=args.verify,
            out=sys.stdout,
            err=sys.stderr,
        )
    if args.command == "show":
        async with open_cloud(settings, sim=args.sim) as cloud:
            return await _show(cloud, args.vpn_conn_id, as_json=args.json)
    async with open_cloud(settings, sim=args.sim) as cloud:
        return await _edit(cloud, args.vpn_conn_id, args.edits, yes=args.yes, as_json=args.json, settings=settings)


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


async def _edit(
    cloud: Cloud, vpn_conn_id: str, edits: dict[str, str], *, yes: bool, as_json: bool, settings: Settings
) -> int:
    try:
        connection = await cloud.client.describe_vpn_conn(vpn_conn_id)
    except CloudError as error:
        print(f"vpnbot: {one_line(str(error))}", file=sys.stderr)
        return EXIT_CLOUD
    try:
        proposal = propose(connection.settings, edits)
    except InvalidParametersError as error:
        for name, message in error.problems.items():
            print(f"vpnbot: {name}: {message}", file=sys.stderr)
        print("vpnbot: nothing was sent", file=sys.stderr)
        return EXIT_USAGE
    rows = diff(connection.settings, proposal)
    if not rows:
        print(
            f"vpnbot: no change: every value given is already live on {vpn_conn_id}; nothing was sent", file=sys.stderr
        )
        return EXIT_USAGE
    out = sys.stderr if as_json else sys.stdout
    print(
        f"{connection.vpn_conn_id} ({connection.name}) in {connection.vpc_id}, gateway {connection.vpn_gw_id}", file=out
    )
    print(render_diff(rows), file=out)
    if not yes and not await _confirm(f"Apply this change to {connection.vpn_conn_id}? [y/N] "):
        print("vpnbot: not confirmed; nothing was sent (use --yes to skip the question)", file=sys.stderr)
        return EXIT_USAGE

    report: dict[str, Any] = {"vpnConnId": connection.vpn_conn_id, "diff": diff_json(rows)}
    changed = proposal.changed(connection.settings)
    sent_at = time.monotonic()
    try:
        task_id = await cloud.client.modify_vpn_conn(connection, proposal)
    except ApiError as error:
        print(f"vpnbot: the cloud refused the change: {one_line(str(error))}", file=sys.stderr)
        return _finish(report | {"outcome": "refused", "error": one_line(str(error))}, as_json, EXIT_CLOUD)
    except CloudError as error:  # no answer, or none that says what happened: the outcome is unknown
        return await _unanswered(cloud, connection, proposal, changed, error, sent_at, report, as_json, settings)
    report["taskId"] = task_id
    label = f"RequestId {task_id}" if cloud.client.edit_action == V3_EDIT else f"task {task_id}"
    print(f"{cloud.client.edit_action} accepted: {label}", file=out)

    async def not_yet_live(live: VpnConnection) -> list[str]:
        return not_live(proposal, changed, live.settings)

    settle = Settling(cloud, vpn_conn_id, not_yet_live)

    async def on_change(state: TaskState, elapsed: float) -> None:
        no_task = state.status is TaskStatus.NO_TASK
        await progress.changed(NO_TASK_RUNNING if no_task else state.status.value, elapsed)

    async with ProgressLine(task_id, label=label) as progress:
        result = await cloud.follower.follow(task_id, on_change, settle=settle)
    report |= {"outcome": result.outcome.value, "elapsedSeconds": round(result.elapsed, 3)}
    if result.settled:
        report["noTask"] = True
    if result.outcome is TaskOutcome.TIMED_OUT and result.settled:
        print(
            f"vpnbot: no task by {label}, and {vpn_conn_id} did not show the edit applied within "
            f"{result.elapsed:.1f}s; judging from the connection",
            file=sys.stderr,
        )
        return await _judged(
            cloud, connection, proposal, changed, sent_at, report, as_json, settings, undecided=result.outcome.value
        )
    if result.outcome is not TaskOutcome.SUCCEEDED:
        detail = f": {one_line(result.message)}" if result.message else ""
        print(f"vpnbot: {label} {result.outcome.value} after {result.elapsed:.1f}s{detail}", file=sys.stderr)
        return _finish(report | {"message": one_line(result.message)}, as_json, EXIT_CLOUD)
    if result.settled:
        print(f"{label}: no task; the edit is applied ({result.elapsed:.1f}s after sending)", file=out)
    else:
        print(f"{label} succeeded in {result.elapsed:.1f}s", file=out)

    try:
        live = settle.applied or await cloud.client.describe_vpn_conn(vpn_conn_id)
    except CloudError as error:
        print(f"vpnbot: could not verify the change: {one_line(str(error))}", file=sys.stderr)
        return _finish(report | {"verified": False, "error": one_line(str(error))}, as_json, EXIT_CLOUD)
    missing = not_live(proposal, changed, live.settings)
    report |= {"verified": not missing, "notLive": missing}
    if missing:
        print(f"vpnbot: the task succeeded but these are not live: {', '.join(missing)}", file=sys.stderr)
        return _finish(report, as_json, EXIT_CLOUD)
    print("verified: every proposed value is live", file=out)
    return _finish(report, as_json, EXIT_OK)


async def _unanswered(
    cloud: Cloud,
    connection: VpnConnection,
    proposal: Proposal,
    changed: tuple[str, ...],
    error: CloudError,
    sent_at: float,
    report: dict[str, Any],
    as_json: bool,
    settings: Settings,
) -> int:
    """Report an edit whose answer never came from what repeated reads of the connection show."""
    window = settings.vpnbot_settle_window.total_seconds()
    answer = "no answer" if isinstance(error, CloudTimeoutError) else "no usable answer"
    cause = one_line(f"{error.action}: {error.detail}")  # not "... failed": that is what is not known
    print(f"vpnbot: {cause}", file=sys.stderr)
    print(
        f"vpnbot: {answer} to the edit; it is not sent again; checking the connection "
        f"(for up to {window:g}s after sending)",
        file=sys.stderr,
    )
    report |= {"noAnswer": cause}
    return await _judged(cloud, connection, proposal, changed, sent_at, report, as_json, settings)


async def _judged(
    cloud: Cloud,
    connection: VpnConnection,
    proposal: Proposal,
    changed: tuple[str, ...],
    sent_at: float,
    report: dict[str, Any],
    as_json: bool,
    settings: Settings,
    *,
    undecided: str = "",
) -> int:
    """Report an edit of unknown outcome (no answer; or no task and no sign of it by the deadline) from what
    repeated reads of the connection show (:func:`check_unanswered_edit`). ``undecided``: the outcome to report
    when the reads decide nothing (default ``unknown``)."""
    out = sys.stderr if as_json else sys.stdout
    window = settings.vpnbot_settle_window.total_seconds()
    async with ProgressLine(
        connection.vpn_conn_id, label=f"checking {connection.vpn_conn_id}", ends=frozenset({"live"}), started=sent_at
    ) as progress:
        check = await check_unanswered_edit(
            cloud.client,
            connection.vpn_conn_id,
            proposal,
            changed,
            sent_at=sent_at,
            window=window,
            deadline=max(window, settings.vpnbot_task_deadline.total_seconds()),
            initial=settings.vpnbot_task_poll_initial.total_seconds(),
            maximum=settings.vpnbot_task_poll_max.total_seconds(),
            on_read=progress.changed,
        )
    report |= {
        "outcome": undecided if undecided and check.outcome == CHECK_UNKNOWN else check.outcome,
        "verified": check.outcome == CHECK_LIVE,
        "notLive": check.missing,
        "reads": check.reads,
        "elapsedSeconds": round(check.elapsed, 3),
    }
    conn_id = connection.vpn_conn_id
    if check.outcome == CHECK_LIVE:
        print(f"verified: every proposed value is live (read {check.elapsed:.1f}s after sending)", file=out)
        return _finish(report, as_json, EXIT_OK)
    if check.outcome == CHECK_NOT_APPLIED:
        print(
            f"vpnbot: not applied: {check.elapsed:.1f}s after sending, {conn_id} is not being modified and these "
            f"are not live: {', '.join(check.missing)}",
            file=sys.stderr,
        )
        return _finish(report, as_json, EXIT_CLOUD)
    if check.error:
        report["error"] = check.error
        why = f"the connection cannot be read ({check.error})"
    else:
        why = f"{conn_id} is still being modified {check.elapsed:.1f}s after sending"
    print(
        f"vpnbot: unknown: {why}; whether the edit was applied is not known: "
        f"check with `vpnbot show {conn_id}` before trying again",
        file=sys.stderr,
    )
    return _finish(report, as_json, EXIT_CLOUD)


CHECK_LIVE, CHECK_NOT_APPLIED, CHECK_UNKNOWN = "succeeded", "not_applied", "unknown"


@dataclass(frozen=True)
class EditCheck:
    """What reading the connection after an unanswered edit showed.

    ``outcome``: ``succeeded`` (every proposed value live on a connection not being modified), ``not_applied``
    (the settle window passed, the connection not being modified, ``missing`` not live), or ``unknown`` (the last
    read failed, ``error`` says how, or the connection was still being modified at the deadline). ``elapsed`` is
    counted from sending.
    """

    outcome: str
    reads: int
    elapsed: float
    missing: list[str] = field(default_factory=list)
    error: str = ""
    live: VpnConnection | None = None


async def check_unanswered_edit(
    client: CloudClient,
    vpn_conn_id: str,
    proposal: Proposal,
    changed: tuple[str, ...],
    *,
    sent_at: float,
    window: float,
    deadline: float,
    initial: float,
    maximum: float,
    factor: float = 1.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_read: Callable[[str, float], Awaitable[None]] | None = None,
) -> EditCheck:
    """Read the connection, with the task follower's backoff (``initial`` seconds growing by ``factor`` up to
    ``maximum``), until the evidence decides: the proposed values live on a settled connection (``succeeded``,
    as soon as seen), or ``window`` seconds after ``sent_at`` (``clock`` seconds) a settled connection without them
    (``not_applied``). A connection still being modified (``vpcConnStatus`` 2) is read on until ``deadline``
    seconds after sending; then, or when the last read within the window failed, the outcome is ``unknown``.

    Only reads are sent; the edit never is. ``on_read(status, elapsed)`` is awaited after each read with
    ``live``, ``modifying``, ``not live yet`` or ``unreadable``.
    """
    delay = initial
    reads = 0
    while True:
        reads += 1
        live: VpnConnection | None = None
        error = ""
        try:
            live = await client.describe_vpn_conn(vpn_conn_id)
        except CloudError as failure:
            error = one_line(str(failure))
            log.info("checking %s after an unanswered edit: %s", vpn_conn_id, type(failure).__name__)
        elapsed = clock() - sent_at
        missing = [] if live is None else not_live(proposal, changed, live.settings)
        settled = live is not None and live.status != MODIFYING
        status = "unreadable" if live is None else "modifying" if not settled else "not live yet" if missing else "live"
        if on_read is not None:
            await on_read(status, elapsed)
        if settled and not missing:
            return EditCheck(CHECK_LIVE, reads, elapsed, live=live)
        if settled and elapsed >= window:
            return EditCheck(CHECK_NOT_APPLIED, reads, elapsed, missing, live=live)
        horizon = deadline if live is not None and not settled else window
        if elapsed >= horizon:
            return EditCheck(CHECK_UNKNOWN, reads, elapsed, missing, error, live)
        await sleep(min(delay, horizon - elapsed))
        delay = min(delay * factor, maximum)


def _finish(report: dict[str, Any], as_json: bool, status: int) -> int:
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    return status


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
