"""The diff as an approver reads it: never cut, list changes as what is added and what is removed.

A scalar row shows its current and proposed value whole. A list row (peer CIDRs, SPD pairs) shows the entry counts
and, when they fit, every added and removed entry in the card's table; when any row has more entries than a card
holds, the card says how many there are and every entry is listed in the card's thread (:func:`full_listing`),
posted before the card gets its Approve button. The confirm dialog names the counts (:func:`confirm_summary`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.slack.text import esc_visible
from bot.vpn.diff import DiffRow

CARD_ENTRIES = 12
"""Added plus removed entries of one list row that the card's table shows; more go to the thread."""
CELL_CHARS = 1000
"""A scalar value longer than this (none of the seed's is) is listed in the thread rather than squeezed."""
LISTING_SECTION = 2800
LISTING_BLOCKS = 40
CONFIRM_MAX = 300


@dataclass(frozen=True)
class DiffCell:
    """The current and proposed cells of one row, as plain text (a table cell is ``raw_text``)."""

    name: str
    current: str
    proposed: str


def is_list_row(row: DiffRow) -> bool:
    return row.size_before is not None or bool(row.added or row.removed)


def overflows(rows: Sequence[DiffRow]) -> bool:
    """Does any row have more than the card shows (so the full listing goes to the thread)?"""
    return any(_row_overflows(row) for row in rows)


def _row_overflows(row: DiffRow) -> bool:
    if is_list_row(row):
        return len(row.added) + len(row.removed) > CARD_ENTRIES
    return len(row.current) > CELL_CHARS or len(row.proposed) > CELL_CHARS


def cells(row: DiffRow) -> DiffCell:
    """The table cells of ``row``; an overflowing row says where the rest is, in words, never a silent cut. Values
    are escaped even in ``raw_text``: a payload never carries a control sequence the bot did not write."""
    if not is_list_row(row):
        if _row_overflows(row):
            note = "(too long for the card: shown whole in the thread)"
            return DiffCell(row.name, esc_visible(row.current) if len(row.current) <= CELL_CHARS else note, note)
        return DiffCell(row.name, esc_visible(row.current), esc_visible(row.proposed))
    before, after = _count(row.size_before), _count(row.size_after)
    if _row_overflows(row):
        return DiffCell(
            row.name,
            f"{before}; {len(row.removed)} removed (every one listed in the thread)",
            f"{after}; {len(row.added)} added (every one listed in the thread)",
        )
    removed = "".join(f"\n− {esc_visible(entry)}" for entry in row.removed)
    added = "".join(f"\n+ {esc_visible(entry)}" for entry in row.added)
    return DiffCell(row.name, before + (removed or "\nnone removed"), after + (added or "\nnone added"))


def _count(size: int | None) -> str:
    if size is None:
        return "entries"
    return f"{size} {'entry' if size == 1 else 'entries'}"


def counts(rows: Sequence[DiffRow]) -> str:
    """One line: how many parameters change and, for each list, how many entries are added and removed."""
    parts = [f"{len(rows)} parameter{'s' if len(rows) != 1 else ''}"]
    for row in rows:
        if is_list_row(row):
            sizes = f" ({row.size_before} → {row.size_after})" if row.size_before is not None else ""
            parts.append(f"{row.name} +{len(row.added)} −{len(row.removed)}{sizes}")
    return "; ".join(parts)


def confirm_summary(vpn_conn_id: str, conn_name: str, rows: Sequence[DiffRow], *, listed_in_thread: bool) -> str:
    """The Approve confirmation's text (plain text, at most 300 characters), naming the counts."""
    where = " Every entry is listed in the card's thread." if listed_in_thread else ""
    tail = " IKE or IPsec changes renegotiate the tunnel."
    for summary in (counts(rows), _short_counts(rows)):
        text = f"Sends ModifyVpnConnEx for {vpn_conn_id} ({esc_visible(conn_name)[:60]}): {summary}.{where}{tail}"
        if len(text) <= CONFIRM_MAX:
            return text
    return f"Sends ModifyVpnConnEx for {vpn_conn_id}: {_short_counts(rows)}.{where}"[:CONFIRM_MAX]


def _short_counts(rows: Sequence[DiffRow]) -> str:
    added = sum(len(r.added) for r in rows if is_list_row(r))
    removed = sum(len(r.removed) for r in rows if is_list_row(r))
    return f"{len(rows)} parameters, {added} list entries added, {removed} removed"


def full_listing(request_id: str, rows: Sequence[DiffRow]) -> list[list[str]]:
    """Every entry of every row, as mrkdwn sections grouped into messages (each within Slack's limits)."""
    lines = [f"*Every entry of change `{esc_visible(request_id)}`* (the card shows the counts):"]
    for row in rows:
        if is_list_row(row):
            lines.append(f"*{esc_visible(row.name)}*: {_count(row.size_before)} → {_count(row.size_after)}")
            lines.append(f"Added ({len(row.added)}):" if row.added else "Added: none")
            lines.extend(f"+ `{esc_visible(entry)}`" for entry in row.added)
            lines.append(f"Removed ({len(row.removed)}):" if row.removed else "Removed: none")
            lines.extend(f"− `{esc_visible(entry)}`" for entry in row.removed)
        else:
            lines.append(f"*{esc_visible(row.name)}*")
            lines.extend(_chunks(f"current: {esc_visible(row.current)}"))
            lines.extend(_chunks(f"proposed: {esc_visible(row.proposed)}"))
    sections = _pack(lines, LISTING_SECTION)
    return [sections[i : i + LISTING_BLOCKS] for i in range(0, len(sections), LISTING_BLOCKS)]


def _chunks(text: str) -> list[str]:
    """A long line split into pieces that fit a section (nothing is dropped)."""
    return [text[i : i + LISTING_SECTION] for i in range(0, len(text), LISTING_SECTION)] or [""]


def _pack(lines: Sequence[str], limit: int) -> list[str]:
    sections: list[str] = []
    current = ""
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit and current:
            sections.append(current)
            current = line
        else:
            current = candidate
    if current:
        sections.append(current)
    return sections
