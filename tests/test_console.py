"""The terminal's output (``bot.console``): tables aligned by display width, cloud text shown literally, nothing
cut, and the progress line (a live line on a TTY, today's lines elsewhere)."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import UTC, datetime
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st
from items import connection
from rich.cells import cell_len

import bot.console
from bot.audit import render_log
from bot.console import ProgressLine, render_connection, render_diff, table
from bot.store import AuditRecord
from bot.vpn.diff import DiffRow

CHINESE = "广州-上海专线"
NAMES = ["office-shanghai", CHINESE, "🚀 launch 火箭", "a", "東京-大阪"]


def starts(line: str, *cells: str) -> list[int]:
    """The display column at which each of ``cells`` starts in ``line`` (searched left to right)."""
    columns, at = [], 0
    for cell in cells:
        at = line.index(cell, at)
        columns.append(cell_len(line[:at]))
        at += len(cell)
    return columns


# -- tables ----------------------------------------------------------------------------------------------------------


def test_wide_characters_align() -> None:
    """Chinese, emoji and ASCII names: the later columns start at one display column on every line, and (the last
    column's values being of one width) every line has the same display width."""
    rows = [(name, f"vpnx-{i:08d}", "10.0.0.0/24") for i, name in enumerate(NAMES)]
    lines = table(("name", "id", "destination"), rows).splitlines()  # the last header as wide as its values
    assert len(lines) == 2 + len(rows)
    assert lines[0].split() == ["name", "id", "destination"]
    widths = {cell_len(line) for line in lines}
    assert len(widths) == 1, [(cell_len(line), line) for line in lines]
    columns = {tuple(starts(line, *row)) for line, row in zip(lines[2:], rows, strict=True)}
    assert len(columns) == 1, columns
    ((name_at, id_at, cidr_at),) = columns
    assert name_at == 0
    assert id_at == max(cell_len(n) for n in NAMES) + 2  # two spaces after the widest name
    assert cidr_at == id_at + len("vpnx-00000000") + 2
    assert starts(lines[0], "name", "id", "destination") == [0, id_at, cidr_at]
    assert set(lines[1]) == {"-"}  # the rule under the header spans the table


def test_a_right_aligned_column_and_no_header() -> None:
    lines = table(("n", "what"), [("7", "x"), ("12", "广州")], show_header=False, right={0}).splitlines()
    assert lines == [" 7  x", "12  广州"]


def test_markup_and_escape_sequences_are_shown_literally() -> None:
    hostile = "[red]x[/red] [bold]b[/bold] :rocket: \x1b[31mred\x1b[0m \u202egnp.exe\nnext"
    text = table(("name", "value"), [(hostile, "[link=http://x]y[/link]")])
    assert "[red]x[/red] [bold]b[/bold] :rocket:" in text  # no markup, no emoji codes
    assert "[link=http://x]y[/link]" in text
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert "\\u001b[31mred\\u001b[0m \\u202egnp.exe next" in text  # escaped; a line break joined by a space
    assert len(text.splitlines()) == 3


def test_a_long_value_is_whole_on_one_line() -> None:
    cidrs = ", ".join(f"10.{i // 256}.{i % 256}.0/24" for i in range(250))
    assert len(cidrs) > 3000
    lines = table(("parameter", "value"), [("userGwCidrBlock", cidrs), ("vpnConnName", CHINESE)]).splitlines()
    assert len(lines) == 4
    assert lines[2].split(None, 1) == ["userGwCidrBlock", cidrs]
    assert lines[3].rstrip() == lines[3]  # no padding to the long line's width
    assert "…" not in "\n".join(lines)


_CELL = st.text(
    st.sampled_from([*"ab Z09-/.,:[]", "广", "州", "🚀", "東", "\u0301", "\u3000", "Ａ", "\x1b", "\n", "\t"])
    | st.characters(),
    max_size=12,
)


@given(
    rows=st.lists(st.tuples(_CELL, _CELL, _CELL), max_size=6),
    headers=st.tuples(_CELL, _CELL, _CELL),
    show_header=st.booleans(),
    right=st.sets(st.integers(0, 2)),
)
def test_rows_past_the_rich_table_are_laid_out_alike(
    rows: list[tuple[str, str, str]], headers: tuple[str, str, str], show_header: bool, right: set[int]
) -> None:
    """A long table (an audit log) pads its later rows with rich.cells directly: the very lines rich's table gives."""
    laid_by_rich = table(headers, rows, show_header=show_header, right=right)
    with mock.patch.object(bot.console, "RICH_ROWS", 0):
        assert table(headers, rows, show_header=show_header, right=right) == laid_by_rich
    with mock.patch.object(bot.console, "RICH_ROWS", 1):
        assert table(headers, rows, show_header=show_header, right=right) == laid_by_rich


def test_a_long_table_stays_aligned_past_the_rich_rows() -> None:
    rows = [(str(n), NAMES[n % len(NAMES)], "pending->approved") for n in range(5000)]
    lines = table(("seq", "actor", "action"), rows, right={0}).splitlines()
    assert len(lines) == 5002
    assert {starts(line, "pending->approved")[0] for line in lines[2:]} == {4 + 2 + 15 + 2}  # seq, actor widths


def test_an_empty_table_is_its_header() -> None:
    assert table(("parameter", "value"), []).splitlines() == ["parameter  value", "----------------"]


def test_a_row_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="2 columns"):
        table(("a", "b"), [("only one",)])


# -- what `show`, `edit` and `audit` print ---------------------------------------------------------------------------


def test_show_with_a_chinese_name_aligns() -> None:
    long_name = CHINESE + "-备用链路-二号机房-联通出口-华南区域"  # wider on screen than any other value
    text = render_connection(connection(vpnConnName=long_name, vpcName="生产-广州"))
    head, _, body = text.partition("\nparameter")
    assert head.splitlines()[0] == f"vpnx-ol6bcqp0  {long_name}"
    assert "  VPC vpc-03vihbk9 生产-广州" in head
    lines = ("parameter" + body).splitlines()
    value_at = starts(lines[0], "parameter", "value")[1]
    rows = [line for line in lines[2:] if line.strip()]
    assert len(rows) > 10
    for line in rows:
        name, value = line.split(None, 1)
        assert starts(line, name, value)[1] == value_at, line
    (named,) = [line for line in rows if line.startswith("vpnConnName ")]
    assert named.split(None, 1)[1] == long_name
    assert cell_len(lines[1]) == max(cell_len(line) for line in lines) == cell_len(named)  # the rule spans it
    assert re.search(r"IKESet\.dhGroupName\s+group2", text)
    assert "preSharedKey" in text
    assert "(set, hidden)" in text
    assert "current-key-1" not in text


def test_show_escapes_the_clouds_text_in_the_head_too() -> None:
    text = render_connection(connection(vpnConnName="x\x1b[31mred", vpcName="[bold]v\x1b]0;title\x07"))
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "x\\u001b[31mred" in text
    assert "[bold]v\\u001b]0;title\\u0007" in text


def test_the_diff_table_with_wide_values() -> None:
    rows = [
        DiffRow("vpnConnName", "name", CHINESE, "office-shanghai"),
        DiffRow("preSharedKey", "key", "(hidden)", "changed"),
        DiffRow("IKESet.dhGroupName", "DH", "group2", "group5"),
    ]
    lines = render_diff(rows).splitlines()
    assert lines[0].split() == ["parameter", "current", "proposed"]
    columns = {tuple(starts(line, r.name, r.current, r.proposed)) for line, r in zip(lines[2:], rows, strict=True)}
    assert len(columns) == 1
    assert tuple(starts(lines[0], "parameter", "current", "proposed")) in columns


def test_the_audit_listing_aligns_wide_actors_one_line_per_record() -> None:
    at = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)

    def record(seq: int, actor: str, action: str, detail: dict[str, object]) -> AuditRecord:
        return AuditRecord(seq, at, f"req-{seq}", "vpnx-ol6bcqp0", actor, action, dict(detail), "0" * 64, "1" * 64)

    records = [
        record(1, "U0ALICE", "created", {"diff": [{"name": "vpnConnName"}]}),
        record(9, "张伟", "pending->approved", {}),
        record(10, "vpnbot", "pending->rejected", {"reason": "not now\n\x1b[2Jgone"}),
    ]
    lines = render_log(records).splitlines()
    assert len(lines) == 3
    assert [line.split()[0] for line in lines] == ["1", "9", "10"]
    assert lines[0].startswith(" 1  2026-12-01T15:00:00Z  req-1")
    actions = {starts(line, record.action)[0] for line, record in zip(lines, records, strict=True)}
    assert len(actions) == 1
    assert lines[0].endswith("changes vpnConnName")
    assert lines[2].endswith("reason: not now\\n\\x1b[2Jgone")
    assert "\x1b" not in "\n".join(lines)
    assert render_log([]) == ""


# -- the progress line -----------------------------------------------------------------------------------------------


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


_CSI = re.compile(r"\x1b\[(\??)([0-9;]*)([A-Za-z])")


def screen(transcript: str) -> list[str]:
    """What a terminal shows after ``transcript``, down to the cursor's line: text, CR, LF, and the CSI sequences
    rich's live display uses (cursor up, erase in line, cursor shown or hidden, colours ignored); any other control
    fails the test."""
    rows, row, col, at = [""], 0, 0, 0
    while at < len(transcript):
        ch = transcript[at]
        if ch == "\x1b":
            match = _CSI.match(transcript, at)
            assert match, f"unexpected escape at {transcript[at : at + 12]!r}"
            private, args, final = match.groups()
            if private == "?" and args == "25" and final in "hl":
                pass
            elif final == "A":
                row = max(row - int(args or "1"), 0)
            elif final == "K":
                if args == "2":
                    rows[row] = ""
                else:
                    rows[row] = rows[row][:col]
            elif final == "m":
                pass
            else:
                raise AssertionError(f"unexpected sequence {match.group()!r}")
            at = match.end()
            continue
        if ch == "\r":
            col = 0
        elif ch == "\n":
            row, col = row + 1, 0
            rows += [""] * (row + 1 - len(rows))
        else:
            assert ch.isprintable(), repr(ch)
            line = rows[row].ljust(col)
            rows[row] = line[:col] + ch + line[col + 1 :]
            col += 1
        at += 1
    assert not any(rows[row + 1 :]), "text below the cursor"
    return rows[: row + 1]


async def test_off_a_tty_the_same_lines_as_before() -> None:
    out = io.StringIO()
    async with ProgressLine(12614, out) as progress:
        await progress.changed("submitted", 0.1)  # not new
        await progress.changed("running", 1.25)
        await progress.changed("running", 2.0)  # not new
        await progress.changed("retrying", 3.04)
        await progress.changed("succeeded", 4.0)  # an end: the caller reports it
    checking = io.StringIO()
    async with ProgressLine("vpnx-1", checking, label="checking vpnx-1", ends=frozenset({"live"})) as progress:
        await progress.changed("modifying", 0.5)
        await progress.changed("live", 1.0)
    assert out.getvalue() == "task 12614: running after 1.2s\ntask 12614: retrying after 3.0s\n"
    assert checking.getvalue() == "checking vpnx-1: modifying after 0.5s\n"


async def test_on_a_tty_a_live_line_is_drawn_and_cleared() -> None:
    term = FakeTerminal()
    term.write("before\n")
    async with ProgressLine(12614, term) as progress:
        await progress.changed("running", 0.3)
        await asyncio.sleep(0.25)  # a few ticks
        during = screen(term.getvalue())
        assert during[0] == "before"
        (shown,) = [line for line in during[1:] if line]
        assert re.fullmatch(r"[-\\|/] task 12614: running +\d+\.\ds", shown), shown
    transcript = term.getvalue()
    assert transcript.count("task 12614: running") >= 2  # redrawn in place, not printed line after line
    assert "after" not in transcript
    assert screen(transcript) == ["before", ""]  # erased: the caller's report starts on a clean line
    assert transcript.rindex("\x1b[?25h") > transcript.rindex("\x1b[?25l")  # the cursor is shown again


async def test_on_a_tty_the_label_cannot_drive_the_terminal() -> None:
    term = FakeTerminal()
    async with ProgressLine(1, term, label="task [bold]1[/bold] \x1b[31m") as progress:
        await progress.changed("running\x1b[2J", 0.1)
        during = [line for line in screen(term.getvalue()) if line]
    assert during == [during[0]]
    assert "task [bold]1[/bold] \\u001b[31m: running\\u001b[2J" in during[0]
    assert "\x1b[31m" not in term.getvalue()
    assert "\x1b[2J" not in term.getvalue()
    assert not any(screen(term.getvalue()))


async def test_on_a_tty_an_error_inside_still_clears_the_line() -> None:
    term = FakeTerminal()

    async def fail() -> None:
        async with ProgressLine(5, term) as progress:
            await progress.changed("running", 0.1)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await fail()
    assert not any(screen(term.getvalue()))
