"""The ``vpnbot`` command: ``serve``, ``sim``, ``show`` and ``edit`` (DESIGN.md section 2).

``edit`` exits 0 when the change is applied and verified, 1 when the cloud refused it or its task failed or timed
out (or it is not live afterwards), and 2 for bad usage or invalid input, in which case nothing was sent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from bot.audit import run_audit
from bot.cloud import Cloud, open_cloud
from bot.config import ConfigError, Settings, load_settings
from bot.console import (
    ProgressLine,
    connection_json,
    diff_json,
    param_kinds_help,
    render_connection,
    render_diff,
)
from bot.tencent import CloudError, TaskOutcome
from bot.vpn.diff import diff, not_live
from bot.vpn.edit import propose
from bot.vpn.params import InvalidParametersError

EXIT_OK, EXIT_CLOUD, EXIT_USAGE = 0, 1, 2
log = logging.getLogger("bot.cli")


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
        epilog="parameters (lists comma-separated, spdAcl as JSON):\n" + param_kinds_help(),
    )
    edit.add_argument("vpn_conn_id", metavar="VPNCONN_ID")
    edit.add_argument("--set", dest="edits", action="append", default=[], metavar="PARAM=VALUE", required=True)
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        settings = load_settings()
        return asyncio.run(_run(args, settings))
    except (ConfigError, UsageError) as error:
        print(f"vpnbot: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


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
    edits = parse_edits(args.edits)
    async with open_cloud(settings, sim=args.sim) as cloud:
        return await _edit(cloud, args.vpn_conn_id, edits, yes=args.yes, as_json=args.json)


async def _show(cloud: Cloud, vpn_conn_id: str, *, as_json: bool) -> int:
    try:
        connection = await cloud.client.describe_vpn_conn(vpn_conn_id)
    except CloudError as error:
        print(f"vpnbot: {error}", file=sys.stderr)
        return EXIT_CLOUD
    print(
        json.dumps(connection_json(connection), indent=2, ensure_ascii=False)
        if as_json
        else render_connection(connection)
    )
    return EXIT_OK


async def _edit(cloud: Cloud, vpn_conn_id: str, edits: dict[str, str], *, yes: bool, as_json: bool) -> int:
    try:
        connection = await cloud.client.describe_vpn_conn(vpn_conn_id)
    except CloudError as error:
        print(f"vpnbot: {error}", file=sys.stderr)
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
    try:
        task_id = await cloud.client.modify_vpn_conn(connection, proposal)
    except CloudError as error:
        print(f"vpnbot: the cloud refused the change: {error}", file=sys.stderr)
        return _finish(report | {"outcome": "refused", "error": str(error)}, as_json, EXIT_CLOUD)
    report["taskId"] = task_id
    print(f"{cloud.client.edit_action} accepted: task {task_id}", file=out)

    async with ProgressLine(task_id) as progress:
        result = await cloud.follower.follow(task_id, lambda state, t: progress.changed(state.status.value, t))
    report |= {"outcome": result.outcome.value, "elapsedSeconds": round(result.elapsed, 3)}
    if result.outcome is not TaskOutcome.SUCCEEDED:
        detail = f": {result.message}" if result.message else ""
        print(f"vpnbot: task {task_id} {result.outcome.value} after {result.elapsed:.1f}s{detail}", file=sys.stderr)
        return _finish(report | {"message": result.message}, as_json, EXIT_CLOUD)
    print(f"task {task_id} succeeded in {result.elapsed:.1f}s", file=out)

    try:
        live = await cloud.client.describe_vpn_conn(vpn_conn_id)
    except CloudError as error:
        print(f"vpnbot: could not verify the change: {error}", file=sys.stderr)
        return _finish(report | {"verified": False, "error": str(error)}, as_json, EXIT_CLOUD)
    missing = not_live(proposal, proposal.changed(connection.settings), live.settings)
    report |= {"verified": not missing, "notLive": missing}
    if missing:
        print(f"vpnbot: the task succeeded but these are not live: {', '.join(missing)}", file=sys.stderr)
        return _finish(report, as_json, EXIT_CLOUD)
    print("verified: every proposed value is live", file=out)
    return _finish(report, as_json, EXIT_OK)


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
