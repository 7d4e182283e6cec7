"""What the terminal shows: connection tables, the diff table, JSON documents and the live progress line; and the
one thing it asks without showing: a pre-shared key (:func:`ask_secret`)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import itertools
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from bot.tencent import TaskId
from bot.vpn.connection import VpnConnection
from bot.vpn.diff import DiffRow
from bot.vpn.params import PARAMS, PARAMS_BY_NAME, SETTING_NAMES, Kind, SpdPolicy, Value, shown_value

SPINNER = "|/-\\"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table with aligned columns; cells keep their line breaks out (joined by ' ')."""
    cells = [[" ".join(str(c).split("\n")) for c in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_connection(connection: VpnConnection) -> str:
    """Every setting of a connection, by the seed's parameter names; the key only as set or not."""
    head = [
        f"{connection.vpn_conn_id}  {connection.name}",
        f"  VPC {connection.vpc_id} {connection.vpc_name}".rstrip(),
        f"  gateway {connection.vpn_gw_id} {connection.vpn_gw_name} ({connection.vpn_gw_address})",
        f"  peer {connection.user_gw_id} {connection.user_gw_name} ({connection.user_gw_address})",
        f"  status {connection.status_text}, network {connection.net_status or 'unknown'}",
    ]
    if connection.route_type:
        kind = "route-based: no SPD" if connection.settings.route_based else "policy-based"
        head.append(f"  route type {connection.route_type} ({kind})")
    head.append("")
    offered = [p for p in PARAMS if p.is_offered(connection.settings.value_sets)]
    rows = [(p.name, _cell(p.name, connection)) for p in offered]
    return "\n".join(head) + table(("parameter", "value"), rows)


def _cell(name: str, connection: VpnConnection) -> str:
    if name == "preSharedKey":
        return "(set, hidden)" if connection.settings.psk_fingerprint else "(not set)"
    if name in ("userGwCidrBlock", "spdAcl") and connection.settings.route_based:
        return "(route-based tunnel: no SPD)"
    return shown_value(PARAMS_BY_NAME[name], connection.settings[name]) or "(empty)"


def render_diff(rows: Sequence[DiffRow]) -> str:
    lines = [(r.name, r.current, r.proposed) for r in rows]
    return table(("parameter", "current", "proposed"), lines)


def json_value(value: Value) -> Any:
    """A value as JSON: CIDR lists as sorted arrays, the SPD as an object, the rest as is."""
    if isinstance(value, frozenset):
        return [str(c) for c in sorted(value)]
    if isinstance(value, SpdPolicy):
        return {str(local): [str(r) for r in sorted(remotes)] for local, remotes in value.rules}
    return value


def connection_json(connection: VpnConnection) -> dict[str, Any]:
    offered = connection.settings.value_sets
    settings = {
        name: json_value(connection.settings[name])
        for name in SETTING_NAMES
        if PARAMS_BY_NAME[name].is_offered(offered)
    }
    return {
        "vpcId": connection.vpc_id,
        "vpnGwId": connection.vpn_gw_id,
        "vpnConnId": connection.vpn_conn_id,
        "vpcName": connection.vpc_name,
        "vpnGwName": connection.vpn_gw_name,
        "userGwId": connection.user_gw_id,
        "vpnGwAddress": connection.vpn_gw_address,
        "userGwAddress": connection.user_gw_address,
        "vpcConnStatus": connection.status,
        "status": connection.status_text,
        "netStatus": connection.net_status,
        "routeType": connection.route_type,
        "preSharedKeySet": connection.settings.psk_fingerprint is not None,
        "settings": settings,
    }


def diff_json(rows: Sequence[DiffRow]) -> list[dict[str, Any]]:
    return [{"parameter": r.name, "current": r.current, "proposed": r.proposed} for r in rows]


def param_kinds_help() -> str:
    lines = []
    for p in PARAMS:
        if p.kind is Kind.CHOICE:
            more = [c for c in p.all_choices if c not in p.choices]
            hint = " | ".join(p.choices) + (f" (API 3.0 also: {' | '.join(more)})" if more else "")
            if p.api3_only:
                hint = f"API 3.0 only: {' | '.join(p.all_choices)}"
        elif p.kind is Kind.INTEGER:
            hint = f"{p.minimum}..{p.maximum if p.maximum is not None else ''} {p.unit}".rstrip()
        elif p.kind is Kind.SECRET:
            hint = "the new key: - (asked without echo, or a line of stdin) or @FILE; leave it out to keep it"
        else:
            hint = p.description
        lines.append(f"  {p.name:34} {hint}")
    return "\n".join(lines)


class SecretInputError(Exception):
    """The key could not be asked for or was not confirmed; the text names the problem, never the key."""


def ask_secret(what: str, *, confirm: bool = True, read: Callable[[str], str] = getpass.getpass) -> str:
    """Ask for a secret without echo (``getpass``: on ``/dev/tty``, else on stdin when it is a terminal), twice when
    ``confirm``; an empty answer, end of input, two different answers, or a terminal whose echo cannot be turned off
    raise SecretInputError. Ctrl-C propagates as KeyboardInterrupt."""
    try:
        with warnings.catch_warnings():
            # getpass falls back to reading WITH echo (and only warns) when it cannot control the terminal.
            warnings.simplefilter("error", getpass.GetPassWarning)
            first = read(f"{what} (typing is not shown): ")
            if not first:
                raise SecretInputError(f"{what}: nothing was typed")
            if confirm and read(f"{what} again, to confirm: ") != first:
                raise SecretInputError(f"{what}: the two entries differ")
    except getpass.GetPassWarning:
        raise SecretInputError(f"{what}: cannot turn off echo on this terminal") from None
    except EOFError:
        raise SecretInputError(f"{what}: input ended before a key was typed") from None
    return first


class ProgressLine:
    """Progress on a terminal: one line redrawn in place on a TTY, a line per change otherwise.

    ``label`` names what is followed (default ``task <id>``). Off a TTY, each change is printed except to one of
    ``ends``: the caller reports those. ``started`` (``time.monotonic`` seconds, default now) is where the shown
    time counts from.
    """

    def __init__(
        self,
        task_id: TaskId,
        stream: TextIO | None = None,
        *,
        label: str | None = None,
        ends: frozenset[str] = frozenset({"succeeded", "failed", "timed_out"}),
        started: float | None = None,
    ) -> None:
        self.task_id = task_id
        self.label = label if label is not None else f"task {task_id}"
        self.ends = ends
        self.stream = stream or sys.stderr
        self.status = "submitted"
        self.started = time.monotonic() if started is None else started
        self._ticker: asyncio.Task[None] | None = None
        self.live = self.stream.isatty()

    async def __aenter__(self) -> ProgressLine:
        if self.live:
            self._ticker = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self.stream.write("\r\033[K")
            self.stream.flush()

    async def changed(self, status: str, elapsed: float) -> None:
        """Record a status; off a TTY print it when it is new, unless it is an end (the caller reports that)."""
        new, self.status = status != self.status, status
        if not self.live and new and status not in self.ends:
            self.stream.write(f"{self.label}: {status} after {elapsed:.1f}s\n")
            self.stream.flush()

    async def _tick(self) -> None:
        for frame in itertools.cycle(SPINNER):
            elapsed = time.monotonic() - self.started
            self.stream.write(f"\r\033[K{frame} {self.label}: {self.status} {elapsed:5.1f}s")
            self.stream.flush()
            await asyncio.sleep(0.2)
