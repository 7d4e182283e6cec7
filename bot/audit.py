"""``vpnbot audit``: read and check the state file's tamper-evident audit log (``bot.store``).

What a caller (and an auditor) may rely on:

- **Never created.** The state file at ``VPNBOT_STATE_PATH`` must exist; a missing one is a one-line error with
  exit status 2, and no file is made. It is opened read-only (``Store.open(..., read_only=True)``), while the bot
  runs or not: nothing is written to the state file or beside it (no key file is created).
- **Checked with the store key.** The chain is keyed (an HMAC under a key derived from the store key, which is not
  in the state file), so checking it needs that key: ``VPNBOT_STORE_KEY``, or the key file beside the state file.
  Without either the log is still listed, with a one-line warning, and the status is 2; ``--verify`` says what to
  set and exits 2. A key other than the bot's is named as such (records "made with another store key"), not as
  tampering of every record.
- **One line per record** (oldest first): sequence number, time (UTC, ISO 8601), request id, connection, actor,
  action (``created`` or ``FROM->TO``) and a short detail: the parameter names a request changes, the task id,
  the outcome or the reason. Text that came from people (a reason, an actor) is shown with control characters
  escaped, so a record cannot forge extra lines or drive the terminal.
- ``--json``: a JSON array of every record exactly as stored (``AuditRecord.to_json()``: the hashed body plus
  ``hash``), which lets anyone recompute the chain independently.
- ``--verify``: checks the keyed hash chain and the recorded head (``Store.check_audit``). Intact: prints
  ``audit log intact: N records, head HASH`` and exits 0. Otherwise prints each problem, each naming the record
  (edited or re-hashed without the key, removed, reordered, cut off the end, unreadable), and exits 1. Records an
  older vpnbot wrote with its unkeyed hash are not tampering: they are named in a ``note:`` line saying what
  protects them (a keyed record written after them) and since when. With ``--json`` the verdict is one JSON
  object: ``{"intact": true, "records": N, "head": HASH}`` (plus ``"notes": [...]`` when there are notes) or
  ``{"intact": false, "problems": [...]}``.
- **Exit status**: 0 the log was listed (or verified) and is intact; 1 it is not intact (a listing still prints
  every readable record and warns on stderr; a record that cannot be read at all stops the listing); 2 bad usage,
  a state file that is missing or cannot be opened, or no store key to check the log with.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC
from pathlib import Path
from typing import Any, TextIO

from bot.console import table
from bot.store import AUDIT_GENESIS, AuditRecord, AuditVerdict, Store, StoreError, StoreKeyError

__all__ = [
    "EXIT_INTACT",
    "EXIT_NOT_INTACT",
    "EXIT_USAGE",
    "audit_json",
    "detail_summary",
    "record_fields",
    "render_log",
    "run_audit",
    "verdict_json",
    "verdict_text",
]

EXIT_INTACT, EXIT_NOT_INTACT, EXIT_USAGE = 0, 1, 2
_DETAIL_MAX = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Detail fields the listing leaves to --json: the actor and the record's own time already say who and when.
_QUIET = frozenset(
    {
        "approver",
        "approved_at",
        "decider",
        "decided_at",
        "task_started_at",
        "finished_at",
        "base_fingerprint",
        "expires_at",
        "vpc_id",
        "vpn_gw_id",
        "conn_name",
        "psk_changed",
    }
)


def printable(text: str) -> str:
    """``text`` on one line: control characters (line breaks, escape sequences) shown as escapes."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


def _clip(text: str, limit: int = _DETAIL_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def detail_summary(action: str, detail: Mapping[str, Any]) -> str:
    """A short, one-line account of a record's ``detail``: changed parameter names for ``created``; task id,
    outcome, reason, values found not live and notes for a transition; other fields as ``name=value``."""
    parts: list[str] = []
    if action == "created":
        rows = detail.get("diff")
        names = [str(row.get("name")) for row in rows if isinstance(row, Mapping)] if isinstance(rows, list) else []
        parts.append("changes " + (", ".join(names) if names else "(no parameters listed)"))
    for name in sorted(detail):
        value = detail[name]
        if name in _QUIET or name == "diff" or value in (None, "", [], {}):
            continue
        if name == "front":
            parts.insert(0, f"via {value}")
        elif name == "task_id":
            parts.append(f"task {value}")
        elif name == "end":
            parts.append(f"end: {value}")
        elif name == "elapsed_seconds" and isinstance(value, int | float):
            parts.append(f"after {value:.0f} s")
        elif name == "verify_note":
            parts.append(f"not verified: {_clip(str(value))}")
        elif name == "outcome_message":
            parts.append(f"outcome: {_clip(str(value))}")
        elif name == "reason":
            parts.append(f"reason: {_clip(str(value))}")
        elif name == "note":
            parts.append(f"note: {_clip(str(value))}")
        elif name == "not_live" and isinstance(value, list):
            parts.append("not live: " + ", ".join(str(item) for item in value))
        else:
            shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
            parts.append(f"{name}={_clip(shown, 40)}")
    return printable("; ".join(parts))


def record_fields(record: AuditRecord) -> tuple[str, ...]:
    """The listing's columns for one record: seq, UTC time, request, connection, actor, action, detail."""
    at = record.at if record.at.tzinfo is not None else record.at.replace(tzinfo=UTC)
    return (
        str(record.seq),
        at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        printable(record.request_id),
        printable(record.vpn_conn_id),
        printable(record.actor),
        printable(record.action),
        detail_summary(record.action, record.detail),
    )


_COLUMNS = ("seq", "time", "request", "connection", "actor", "action", "detail")


def render_log(records: Sequence[AuditRecord]) -> str:
    """One line per record, no header, columns aligned by display width (``bot.console.table``: a wide character
    takes two cells; the sequence number right-aligned, the detail last, nothing cut); empty text for an empty
    log."""
    rows = [record_fields(record) for record in records]
    if not rows:
        return ""
    return table(_COLUMNS, rows, show_header=False, right={0})


def audit_json(records: Sequence[AuditRecord]) -> str:
    """Every record as stored (``AuditRecord.to_json()``), as a JSON array."""
    return json.dumps([record.to_json() for record in records], indent=2, ensure_ascii=False)


def verdict_text(records: Sequence[AuditRecord], problems: Sequence[str], notes: Sequence[str] = ()) -> str:
    """``--verify``'s report: the intact line (and any notes), or one line per problem and a count."""
    if not problems:
        head = records[-1].hash if records else AUDIT_GENESIS
        lines = [f"audit log intact: {len(records)} records, head {head}"]
        lines += [f"note: {printable(note)}" for note in notes]
        return "\n".join(lines)
    lines = [f"problem: {printable(problem)}" for problem in problems]
    lines += [f"note: {printable(note)}" for note in notes]
    lines.append(f"audit log NOT intact: {len(problems)} problem{'s' if len(problems) != 1 else ''} found")
    return "\n".join(lines)


def verdict_json(records: Sequence[AuditRecord], problems: Sequence[str], notes: Sequence[str] = ()) -> str:
    """``--verify --json``'s report, one JSON object."""
    extra = {"notes": list(notes)} if notes else {}
    if not problems:
        head = records[-1].hash if records else AUDIT_GENESIS
        return json.dumps({"intact": True, "records": len(records), "head": head, **extra})
    return json.dumps({"intact": False, "problems": list(problems), **extra}, indent=2, ensure_ascii=False)


async def run_audit(state_path: Path, key: str | None, *, as_json: bool, verify: bool, out: TextIO, err: TextIO) -> int:
    """List or verify the audit log of the state file at ``state_path``; returns the exit status (see module)."""
    try:
        store = await asyncio.to_thread(_open_existing, state_path, key)
    except StoreError as error:
        print(f"vpnbot: {error}", file=err)
        return EXIT_USAGE
    async with store:
        verdict: AuditVerdict | None = None
        unchecked = ""
        try:
            verdict = await store.check_audit()
        except StoreKeyError as error:
            unchecked = str(error)
            if verify:
                print(f"vpnbot: {unchecked}", file=err)
                return EXIT_USAGE
        records: list[AuditRecord] = []
        try:
            records = await store.audit_log()
        except StoreError as error:
            if not verify:
                print(
                    f"vpnbot: the audit log is NOT intact: {error}; vpnbot audit --verify lists every problem", file=err
                )
                return EXIT_NOT_INTACT
    if verify:
        assert verdict is not None
        render = verdict_json if as_json else verdict_text
        print(render(records, verdict.problems, verdict.notes), file=out)
        return EXIT_INTACT if verdict.intact else EXIT_NOT_INTACT
    text = audit_json(records) if as_json else render_log(records)
    if text:
        print(text, file=out)
    else:
        print("vpnbot: the audit log is empty", file=err)
    if verdict is None:
        print(f"vpnbot: the audit log was listed, not checked: {unchecked}", file=err)
        return EXIT_USAGE
    if verdict.problems:
        count = f"{len(verdict.problems)} problem{'s' if len(verdict.problems) != 1 else ''}"
        print(f"vpnbot: the audit log is NOT intact ({count}): run vpnbot audit --verify", file=err)
        return EXIT_NOT_INTACT
    return EXIT_INTACT


def _open_existing(state_path: Path, key: str | None) -> Store:
    """The store at ``state_path``; StoreError when there is no such file (none is created) or it cannot be opened."""
    if not state_path.exists():
        raise StoreError(f"no state file at {state_path} (VPNBOT_STATE_PATH): nothing to audit")
    if not state_path.is_file():
        raise StoreError(f"{state_path} is not a state file (VPNBOT_STATE_PATH)")
    return Store.open(state_path, key=key, read_only=True)
