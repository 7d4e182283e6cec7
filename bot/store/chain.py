"""The audit chain: records, their keyed hashes, and the check that names what was changed, removed or forged.

Each record's ``hash`` is an HMAC-SHA256, keyed with a key derived from the store key (never in the state file),
over the previous record's hash followed by the canonical JSON (sorted keys, no spaces) of every other field. The
record names the key it was made with by ``key_id`` (a fingerprint that reveals nothing of the key), so a log
checked with another key says so instead of calling every record edited.

Records written by an older vpnbot have no ``key_id`` and a plain sha256 ``hash`` (:func:`audit_hash`). They are
accepted only as the start of the log, and only as far as the state file's key check allows (it records, under the
store key, how many such records there were when this vpnbot first opened the file); the check says so in a note
rather than calling them tampered. The first keyed record's hash covers its ``prev_hash``, so from the moment it is
written the older records cannot be changed unnoticed either.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "AUDIT_GENESIS",
    "AuditHead",
    "AuditRecord",
    "AuditVerdict",
    "audit_hash",
    "audit_key_id",
    "audit_mac",
    "check_chain",
    "head_mac",
    "verify_chain",
]

AUDIT_GENESIS = "0" * 64
"""The ``prev_hash`` of the first audit record."""

_KEY_HINT = "VPNBOT_STORE_KEY, or the key file beside the state file"


def canonical(value: Any) -> str:
    """The JSON text the hashes cover and the tables store: sorted keys, no spaces, UTF-8 as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class AuditRecord:
    """One audit entry. ``hash`` is ``audit_mac(key, prev_hash, body())``, or for a record of an older vpnbot
    (``key_id`` None) ``audit_hash(prev_hash, body())``. ``detail`` never holds the pre-shared key."""

    seq: int
    at: datetime
    request_id: str
    vpn_conn_id: str
    actor: str
    action: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str
    key_id: str | None = None

    @property
    def keyed(self) -> bool:
        return self.key_id is not None

    def body(self) -> dict[str, Any]:
        """The hashed part: every field but ``hash``, as JSON (``key_id`` only on keyed records)."""
        body: dict[str, Any] = {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "request_id": self.request_id,
            "vpn_conn_id": self.vpn_conn_id,
            "actor": self.actor,
            "action": self.action,
            "detail": self.detail,
            "prev_hash": self.prev_hash,
        }
        if self.key_id is not None:
            body["key_id"] = self.key_id
        return body

    def to_json(self) -> dict[str, Any]:
        return {**self.body(), "hash": self.hash}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditRecord:
        detail = data["detail"]
        if not isinstance(detail, dict):
            raise ValueError("detail is not an object")
        key_id = data.get("key_id")
        return cls(
            seq=int(data["seq"]),
            at=datetime.fromisoformat(str(data["at"])),
            request_id=str(data["request_id"]),
            vpn_conn_id=str(data["vpn_conn_id"]),
            actor=str(data["actor"]),
            action=str(data["action"]),
            detail=detail,
            prev_hash=str(data["prev_hash"]),
            hash=str(data["hash"]),
            key_id=None if key_id is None else str(key_id),
        )


@dataclass(frozen=True)
class AuditHead:
    """The last record written, as kept in ``meta`` (so records cut off the end show); ``mac`` keys it."""

    seq: int
    hash: str
    mac: str | None = None


@dataclass(frozen=True)
class AuditVerdict:
    """What a check found: ``problems`` (the log is not intact when there are any) and ``notes`` (true things an
    auditor should know that are not tampering, such as records an older vpnbot hashed without the key)."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def audit_hash(prev_hash: str, body: Mapping[str, Any]) -> str:
    """The unkeyed hash of an older vpnbot: sha256 hex of ``prev_hash`` + the canonical JSON of ``body``."""
    return hashlib.sha256((prev_hash + canonical(body)).encode()).hexdigest()


def audit_mac(key: bytes, prev_hash: str, body: Mapping[str, Any]) -> str:
    """The keyed hash: HMAC-SHA256 hex, under ``key``, of ``prev_hash`` + the canonical JSON of ``body``."""
    return hmac.new(key, (prev_hash + canonical(body)).encode(), hashlib.sha256).hexdigest()


def audit_key_id(key: bytes) -> str:
    """A short public name for an audit key (16 hex digits of an HMAC under it), to tell keys apart."""
    return hmac.new(key, b"vpnbot audit key id", hashlib.sha256).hexdigest()[:16]


def head_mac(key: bytes, seq: int, record_hash: str) -> str:
    """The keyed hash of the recorded head, so that it cannot be set back to an earlier record without the key."""
    return hmac.new(key, f"vpnbot audit head:{seq}:{record_hash}".encode(), hashlib.sha256).hexdigest()


def verify_chain(
    records: Sequence[AuditRecord],
    *,
    key: bytes | None = None,
    head: AuditHead | tuple[int, str] | None = None,
    unkeyed_through: int | None = None,
) -> list[str]:
    """The problems :func:`check_chain` finds (empty when the chain is intact)."""
    return check_chain(records, key=key, head=head, unkeyed_through=unkeyed_through).problems


def check_chain(
    records: Sequence[AuditRecord],
    *,
    key: bytes | None = None,
    head: AuditHead | tuple[int, str] | None = None,
    unkeyed_through: int | None = None,
) -> AuditVerdict:
    """Check ``records`` (in stored order) with the audit ``key``; every problem names its record.

    Finds edited records (hash mismatch: also one whose hash was recomputed without the key), removed ones (a
    sequence gap, a broken link), reordered ones (a sequence going back), records hashed without the key where an
    older vpnbot cannot have written them, records made under another key, and, given ``head`` (the last record
    written, as kept beside the log), records cut off the end. ``unkeyed_through`` is how many records the key
    check says an older vpnbot wrote (None: not known, any leading run of unkeyed records is accepted as theirs).
    """
    problems: list[str] = []
    own_id = audit_key_id(key) if key is not None else None
    prev_seq, prev_hash = 0, AUDIT_GENESIS
    seen_keyed = False
    unkeyed: list[AuditRecord] = []
    cover: AuditRecord | None = None
    foreign: dict[str, list[int]] = {}
    unchecked: list[int] = []
    for record in records:
        name = f"record {record.seq}"
        after = f"record {prev_seq}" if prev_seq else "the start of the log"
        if record.seq <= prev_seq:
            problems.append(f"{name} comes after record {prev_seq}: the log was reordered or a record duplicated")
        elif record.seq != prev_seq + 1:
            missing = _span(prev_seq + 1, record.seq - 1)
            problems.append(f"{name} follows {after}: sequence gap, {missing} removed or moved")
        if record.prev_hash != prev_hash:
            problems.append(f"{name}: prev_hash does not match the hash of {after} (broken link)")
        if record.key_id is None:
            if seen_keyed:
                problems.append(
                    f"{name} has the unkeyed hash of an older vpnbot, yet comes after records with the keyed hash: "
                    "it was rewritten by someone without the store key"
                )
            elif unkeyed_through is not None and record.seq > unkeyed_through:
                since = f"after record {unkeyed_through}" if unkeyed_through else "in this state file"
                problems.append(
                    f"{name} has the unkeyed hash of an older vpnbot, but vpnbot has keyed every record {since}: "
                    "it was rewritten by someone without the store key"
                )
            elif audit_hash(record.prev_hash, record.body()) != record.hash:
                problems.append(f"{name}: hash mismatch, its content was changed after it was written")
            else:
                unkeyed.append(record)
        else:
            seen_keyed = True
            if key is None:
                unchecked.append(record.seq)
            elif record.key_id != own_id:
                foreign.setdefault(record.key_id, []).append(record.seq)
            elif not hmac.compare_digest(audit_mac(key, record.prev_hash, record.body()), record.hash):
                problems.append(f"{name}: hash mismatch, its content was changed after it was written")
            elif cover is None and unkeyed and record.prev_hash == unkeyed[-1].hash:
                cover = record
        prev_seq, prev_hash = record.seq, record.hash
    for key_id, seqs in foreign.items():
        problems.append(
            f"{_spans(seqs)}: made with another store key (key id {key_id}) than this one, so they cannot be "
            f"checked with it; check them with the key the bot used ({_KEY_HINT})"
        )
    if unchecked:
        problems.append(f"{_spans(unchecked)}: keyed hash, and no store key was given to check them ({_KEY_HINT})")
    if head is not None:
        problems += _check_head(records, _as_head(head), key, own_id, prev_seq, prev_hash)
    notes = [_unkeyed_note(unkeyed, cover)] if unkeyed else []
    return AuditVerdict(problems, notes)


def _check_head(
    records: Sequence[AuditRecord],
    head: AuditHead,
    key: bytes | None,
    own_id: str | None,
    last_seq: int,
    last_hash: str,
) -> list[str]:
    if head.seq <= 0:
        return []
    if not records:
        return [f"the log is empty, yet {head.seq} records were written: all removed"]
    if (last_seq, last_hash) != (head.seq, head.hash):
        return [
            f"the log ends at record {last_seq}, yet the last record written was record {head.seq} "
            "(records removed from the end, or the last one changed)"
        ]
    if key is None:
        return []
    if head.mac is not None:
        if not hmac.compare_digest(head_mac(key, head.seq, head.hash), head.mac):
            return ["the recorded head of the log was changed (its keyed hash does not match)"]
    elif records[-1].key_id is not None and records[-1].key_id == own_id:
        return ["the recorded head of the log has no keyed hash: it was rewritten by someone without the store key"]
    return []


def _unkeyed_note(unkeyed: Sequence[AuditRecord], cover: AuditRecord | None) -> str:
    span = _span(unkeyed[0].seq, unkeyed[-1].seq)
    verb = "has" if len(unkeyed) == 1 else "have"
    text = f"{span} {verb} the unkeyed hash of an older vpnbot"
    if cover is not None:
        return (
            f"{text}; record {cover.seq}'s keyed hash covers them, so they cannot have been changed since it was "
            f"written ({cover.at.isoformat()}), but anyone who could write the state file before then could have"
        )
    return (
        f"{text}; no keyed record covers them yet (the bot's next record will): until then anyone who can write "
        "the state file can rewrite them unnoticed"
    )


def _as_head(head: AuditHead | tuple[int, str]) -> AuditHead:
    return head if isinstance(head, AuditHead) else AuditHead(int(head[0]), str(head[1]))


def _span(first: int, last: int) -> str:
    return f"record {first}" if first == last else f"records {first} to {last}"


def _spans(seqs: Sequence[int]) -> str:
    """``records 1 to 4, 7`` for [1, 2, 3, 4, 7]."""
    runs: list[tuple[int, int]] = []
    for seq in sorted(seqs):
        if runs and seq == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], seq)
        else:
            runs.append((seq, seq))
    if len(runs) == 1:
        return _span(*runs[0])
    return "records " + ", ".join(str(a) if a == b else f"{a} to {b}" for a, b in runs)
