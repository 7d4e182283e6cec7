"""What the terminal shows: connection tables, the diff table, JSON documents and the live progress line; and the
one thing it asks without showing: a pre-shared key (:func:`ask_secret`)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import io
import sys
import time
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TextIO

from rich.box import Box
from rich.cells import cell_len
from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from bot.tencent import TaskId
from bot.vpn.change import ChangeRequest
from bot.vpn.connection import VpnConnection
from bot.vpn.crypto import CryptoReview
from bot.vpn.diff import DiffRow
from bot.vpn.impact import impact_of
from bot.vpn.params import PARAMS, PARAMS_BY_NAME, SETTING_NAMES, Kind, SpdPolicy, Value, shown_value, visible

SPINNER_NAME = "line"  # rich's ASCII spinner (the old one's frames): shown alike on any terminal
TICK_SECONDS = 0.1


# A table without borders: columns two spaces apart, a rule of ``-`` under the header (plain ASCII, so a pipe, a log
# or a terminal in any encoding shows it alike, and ``grep``/``awk`` see words separated by white space only). Each
# line of a box is: left edge, fill, column divider, right edge.
_RULED_HEAD = Box(
    "    \n"  # top
    "    \n"  # head
    " -- \n"  # head_row: the rule under the header
    "    \n"  # mid
    "    \n"  # row
    "    \n"  # foot_row
    "    \n"  # foot
    "    \n",  # bottom
    ascii=True,
)
_GAP = 2  # spaces between columns
RICH_ROWS = 200
"""Rows that ``rich.table.Table`` lays out; rows past these (a long audit log) are padded to the same column widths
with ``rich.cells`` directly: the same lines (tests compare them), without the table's cost of some 70 us a cell."""


def cell_text(value: object) -> Text:
    """A cell as literal text: line breaks joined by ' ', every unsafe character (controls, escape sequences,
    bidirectional overrides) escaped by :func:`bot.vpn.params.visible`, never read as markup (``[bold]`` stays)."""
    return Text(visible(" ".join(str(value).split("\n"))), no_wrap=True, overflow="fold")


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    show_header: bool = True,
    right: Collection[int] = (),
) -> str:
    """A plain-text table: columns aligned by display width (a Chinese character or an emoji takes two cells), the
    header over a ``-`` rule, cells two spaces apart, trailing spaces cut off each line.

    Rendered by ``rich`` without colour, markup, emoji codes or highlighting, at the table's natural width: a value
    is never wrapped, folded or cut, however long (a terminal narrower than a line wraps it as it would any line).
    Cells are shown by :func:`cell_text`. ``show_header=False`` leaves header and rule out (one line per row);
    ``right`` names the columns (by index) aligned to the right.
    """
    header_cells = [cell_text(h) for h in headers]
    body = [[cell_text(c) for c in row] for row in rows]
    for row in body:
        if len(row) != len(headers):
            raise ValueError(f"a row has {len(row)} cells for {len(headers)} columns")
    widths = [
        max([h.cell_len if show_header else 0, *(row[i].cell_len for row in body)]) for i, h in enumerate(header_cells)
    ]
    lines = _rich_lines(header_cells, body[:RICH_ROWS], widths, show_header, right)
    lines += [_padded(row, widths, right) for row in body[RICH_ROWS:]]
    return "\n".join(lines)


def _rich_lines(
    headers: Sequence[Text],
    rows: Sequence[Sequence[Text]],
    widths: Sequence[int],
    show_header: bool,
    right: Collection[int],
) -> list[str]:
    grid = Table(
        box=_RULED_HEAD,
        show_header=show_header,
        show_edge=False,
        header_style=None,
        padding=(0, _GAP - 1, 0, 0),  # with the one-space divider: two spaces between columns
        pad_edge=False,
        collapse_padding=False,
        expand=False,
    )
    for index, header in enumerate(headers):
        grid.add_column(
            header,
            justify="right" if index in right else "left",
            no_wrap=True,
            overflow="fold",
            width=widths[index],  # measured by the caller, over every row
        )
    for row in rows:
        grid.add_row(*row)
    out = io.StringIO()
    Console(
        file=out,
        width=sum(widths) + (_GAP + 2) * len(widths) + 1,  # room to spare: the table takes its natural width
        color_system=None,
        no_color=True,
        markup=False,
        highlight=False,
        emoji=False,
        force_terminal=False,
        force_jupyter=False,
        force_interactive=False,
        legacy_windows=False,
        soft_wrap=False,
    ).print(grid)
    return [line.rstrip() for line in out.getvalue().splitlines()]


def _padded(row: Sequence[Text], widths: Sequence[int], right: Collection[int]) -> str:
    """One row as :func:`_rich_lines` lays it out (rich right-justifies a cell's text with its trailing white space
    cut, and pads by display width)."""
    cells = []
    for index, (cell, width) in enumerate(zip(row, widths, strict=True)):
        if index in right:
            text = cell.plain.rstrip()
            cells.append(" " * (width - cell_len(text)) + text)
        else:
            cells.append(cell.plain + " " * (width - cell.cell_len))
    return (" " * _GAP).join(cells).rstrip()


def render_connection(connection: VpnConnection) -> str:
    """Every setting of a connection, by the seed's parameter names; the key only as set or not. The cloud's text
    (names, addresses, states) is shown through :func:`bot.vpn.params.visible`: it cannot drive the terminal."""
    c = connection
    head = [
        f"{c.vpn_conn_id}  {visible(c.name)}",
        f"  VPC {c.vpc_id} {visible(c.vpc_name)}".rstrip(),
        f"  gateway {c.vpn_gw_id} {visible(c.vpn_gw_name)} ({visible(c.vpn_gw_address)})",
        f"  peer {c.user_gw_id} {visible(c.user_gw_name)} ({visible(c.user_gw_address)})",
        f"  status {c.status_text}, network {visible(c.net_status) or 'unknown'}",
    ]
    if c.route_type:
        kind = "route-based: no SPD" if c.settings.route_based else "policy-based"
        head.append(f"  route type {visible(c.route_type)} ({kind})")
    head.append("")
    offered = [p for p in PARAMS if p.is_offered(c.settings.value_sets)]
    rows = [(p.name, _cell(p.name, c)) for p in offered]
    return "\n".join(head) + table(("parameter", "value"), rows)


def _cell(name: str, connection: VpnConnection) -> str:
    if name == "preSharedKey":
        return "(set, hidden)" if connection.settings.psk_fingerprint else "(not set)"
    if name in ("userGwCidrBlock", "spdAcl") and connection.settings.route_based:
        return "(route-based tunnel: no SPD)"
    return shown_value(PARAMS_BY_NAME[name], connection.settings[name]) or "(empty)"


def render_diff(rows: Sequence[DiffRow], marks: Mapping[str, str] | None = None) -> str:
    """The diff as a table: parameter, current, proposed (the key only as ``(hidden)`` and ``changed``), and, when
    ``marks`` (by parameter) has any, a ``crypto`` column marking what the review found in the change."""
    if marks:
        marked = [(r.name, r.current, r.proposed, marks.get(r.name, "")) for r in rows]
        return table(("parameter", "current", "proposed", "crypto"), marked)
    lines = [(r.name, r.current, r.proposed) for r in rows]
    return table(("parameter", "current", "proposed"), lines)


def crypto_marks(review: CryptoReview | None) -> dict[str, str]:
    """What the crypto review says of each changed parameter, in a word: ``MUST NOT``, ``weaker``, ``stronger``."""
    if review is None:
        return {}
    marks = {s.param: f"stronger ({s.after_level.words})" for s in review.strengthened}
    marks.update({w.param: f"WEAKER ({w.before_level.words} -> {w.after_level.words})" for w in review.weakened})
    marks.update({f.param: f"{f.level.words.upper()}: {f.rfc} §{f.section}" for f in review.introduced})
    return marks


def render_tunnel(request: ChangeRequest, blocked: str = "") -> str:
    """What the change does to the tunnel and what the crypto review found, as lines under the diff."""
    impact = impact_of(request.diff)
    lines = [f"impact: {impact.headline()}"]
    lines += [f"  {row.name}: {row.text}" for row in impact.rows]
    action = impact.peer_action(request.peer or "the customer gateway")
    if action:
        lines.append(f"on the peer: {action}")
    review = request.crypto
    if review is not None:
        lines += [f"crypto: brings in {f.text}" for f in review.introduced]
        lines += [
            f"crypto: weakens {w.param}: {w.before} ({w.before_level.words}) -> {w.after} ({w.after_level.words})"
            for w in review.weakened
        ]
        if review.only_strengthens:
            lines.append("crypto: this change only strengthens the crypto")
        introduced = {(f.param, f.value) for f in review.introduced}
        lines += [
            f"crypto: still in the settings: {f.text}" for f in review.proposed if (f.param, f.value) not in introduced
        ]
    if blocked:
        lines.append(f"crypto: VPNBOT_CRYPTO_POLICY=block refuses this change: {blocked}")
    return "\n".join(visible(line) for line in lines)


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
    """Progress on a terminal: a live status line on a TTY, a line per change otherwise.

    ``label`` names what is followed (default ``task <id>``). On a TTY (``stream.isatty()``) a ``rich`` live line
    shows a spinner, the label, the status and the seconds since ``started``, redrawn in place by a ticker on the
    event loop (no thread) and erased when the context ends, so the caller's report follows on a clean line. Off a
    TTY, each change is printed as ``LABEL: STATUS after N.Ns``, except to one of ``ends``: the caller reports
    those. ``started`` (``time.monotonic`` seconds, default now) is where the shown time counts from. The label
    and the status are shown as literal text, unsafe characters escaped (:func:`bot.vpn.params.visible`).
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
        self._display: Live | None = None
        self._spinner = Spinner(SPINNER_NAME)
        self.live = self.stream.isatty()

    async def __aenter__(self) -> ProgressLine:
        if self.live:
            console = Console(
                file=self.stream,
                force_terminal=True,
                markup=False,
                highlight=False,
                emoji=False,
                soft_wrap=False,
            )
            # No redirection of sys.stdout/sys.stderr: rich would send what is printed to stdout to this stream.
            self._display = Live(
                self._line(),
                console=console,
                auto_refresh=False,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._display.start(refresh=True)
            self._ticker = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._display is not None:
            display, self._display = self._display, None
            display.stop()  # transient: the line is erased and the cursor shown again
            self.stream.flush()

    async def changed(self, status: str, elapsed: float) -> None:
        """Record a status; on a TTY show it at once, off a TTY print it when it is new, unless it is an end (the
        caller reports that)."""
        new, self.status = status != self.status, status
        if self._display is not None:
            self._display.update(self._line(), refresh=True)
        elif not self.live and new and status not in self.ends:
            self.stream.write(f"{self.label}: {status} after {elapsed:.1f}s\n")
            self.stream.flush()

    def _line(self) -> Spinner:
        elapsed = time.monotonic() - self.started
        text = Text(f"{visible(self.label)}: {visible(self.status)} {elapsed:5.1f}s", no_wrap=True, overflow="ellipsis")
        self._spinner.update(text=text)
        return self._spinner

    async def _tick(self) -> None:
        while self._display is not None:
            self._display.update(self._line(), refresh=True)
            await asyncio.sleep(TICK_SECONDS)
