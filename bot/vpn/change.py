"""The change request: one proposed edit of one connection, from its card to its end, and the states it moves through.

Pure (no I/O). This module says which transitions exist and keeps each request's history; :mod:`bot.store`
persists requests and makes each transition happen exactly once (``Store.claim``). Like an Atlantis plan, a request
is built once from the settings it was shown against (``base_fingerprint``), approved once, applied, followed;
an approval against settings that changed since (compare :func:`settings_fingerprint`) ends it as ``stale``.

A request never holds the pre-shared key: ``edits`` refuses it, the diff says only "changed", and the store keeps
the key apart, encrypted, until the request ends.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, TypedDict

from bot.vpn.connection import VpnConnection, VpnSettings
from bot.vpn.crypto import CryptoReview, review
from bot.vpn.diff import DiffRow
from bot.vpn.diff import diff as diff_rows
from bot.vpn.edit import PSK, Proposal
from bot.vpn.params import SETTING_NAMES, format_value

__all__ = [
    "NO_TASK_ENDS",
    "OPEN_STATES",
    "REQUEST_ID_PATTERN",
    "TASK_ENDS",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "ChangeRequest",
    "ChangeState",
    "EndKind",
    "InvalidTransitionError",
    "RequestUpdate",
    "Transition",
    "is_request_id",
    "new_request_id",
    "settings_fingerprint",
]


class ChangeState(enum.StrEnum):
    """Where a change request is. Values are the lower-case names, as stored and shown."""

    PENDING = "pending"
    APPROVED = "approved"
    SUBMITTING = "submitting"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    STALE = "stale"


_S = ChangeState
TRANSITIONS: Mapping[ChangeState, frozenset[ChangeState]] = MappingProxyType(
    {
        _S.PENDING: frozenset({_S.APPROVED, _S.REJECTED, _S.EXPIRED, _S.CANCELLED, _S.STALE}),
        _S.APPROVED: frozenset({_S.SUBMITTING, _S.STALE, _S.FAILED}),
        _S.SUBMITTING: frozenset({_S.RUNNING, _S.FAILED, _S.UNKNOWN}),
        _S.RUNNING: frozenset({_S.SUCCEEDED, _S.FAILED, _S.UNKNOWN}),
        # unknown: the cloud may or may not have taken the edit (a lost answer, a follow that timed out); only
        # evidence (the task's result, a re-read) ends it, never a blind retry.
        _S.UNKNOWN: frozenset({_S.SUCCEEDED, _S.FAILED}),
        _S.SUCCEEDED: frozenset(),
        _S.FAILED: frozenset(),
        _S.REJECTED: frozenset(),
        _S.EXPIRED: frozenset(),
        _S.CANCELLED: frozenset(),
        _S.STALE: frozenset(),
    }
)
"""Every allowed move, from each state to the states it may go to next."""

TERMINAL_STATES: frozenset[ChangeState] = frozenset(state for state, nexts in TRANSITIONS.items() if not nexts)
OPEN_STATES: frozenset[ChangeState] = frozenset(ChangeState) - TERMINAL_STATES
"""A connection has at most one request in these states (the store enforces it)."""

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
REQUEST_ID_PATTERN = re.compile(r"chg-[a-z2-7]{10}")


def new_request_id() -> str:
    """``chg-`` and 10 random lower-case base32 characters (50 bits from :mod:`secrets`)."""
    return "chg-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


def is_request_id(text: str) -> bool:
    """Whether ``text`` has the form :func:`new_request_id` gives (e.g. a button's value, before any lookup)."""
    return REQUEST_ID_PATTERN.fullmatch(text) is not None


def settings_fingerprint(settings: VpnSettings) -> str:
    """A sha256 hex digest of every setting's value and the key's fingerprint.

    Equal settings give equal fingerprints (CIDR sets and SPD policies are canonical, so order never matters);
    any change of any value, or of the key, changes it. The key's part is ``settings.psk_fingerprint``, keyed by
    the cloud client's ``SecretFingerprints`` (``bot.vpn.connection``): the bot derives that key from its store key,
    so fingerprints stay comparable across restarts (with another store key a pending request reads as stale: the
    safe direction).
    """
    document: dict[str, str | None] = {name: format_value(settings[name]) for name in SETTING_NAMES}
    document[PSK] = settings.psk_fingerprint
    return hashlib.sha256(_canonical_json(document).encode()).hexdigest()


class EndKind(enum.StrEnum):
    """How a change ended, as the service found it (a front chooses the words). ``timed_out`` and
    ``settle_timed_out`` are no end: the request, ``unknown``, is then reconciled from the evidence."""

    TASK_SUCCEEDED = "task_succeeded"
    APPLIED_NO_TASK = "applied_no_task"
    """No task by the edit's RequestId: a read showed the connection back to normal with the edit applied."""
    FOUND_LIVE = "found_live"
    """An edit of unknown outcome, found applied by reading the connection."""
    FOUND_NOT_LIVE = "found_not_live"
    """An edit of unknown outcome, found not applied once the settle window passed."""
    TASK_FAILED = "task_failed"
    TIMED_OUT = "timed_out"
    SETTLE_TIMED_OUT = "settle_timed_out"
    """No task by the edit's RequestId, and the connection did not show the edit applied by the deadline."""
    REFUSED = "refused"
    """The cloud refused the edit: nothing was changed."""
    NOT_SENT = "not_sent"
    """The approved edit was never sent (the connection could not be re-read, the key could not be read, ...)."""
    STALE = "stale"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    UNPOSTED = "unposted"
    """Cancelled by vpnbot: the front could not show the request, so nobody could approve it."""


NO_TASK_ENDS = frozenset({EndKind.APPLIED_NO_TASK, EndKind.SETTLE_TIMED_OUT})
"""Ends read from the connection because the service kept no task for the edit."""
TASK_ENDS = frozenset({EndKind.TASK_SUCCEEDED, EndKind.TASK_FAILED, EndKind.TIMED_OUT})
"""Ends that a task's own result decided (a front may say "task ...")."""


class RequestUpdate(TypedDict, total=False):
    """What a claim may set besides the state (``Store.claim(..., **update)``), checked by the type checker."""

    approver: str
    approved_at: datetime
    decider: str
    decided_at: datetime
    reason: str
    task_id: int | str
    task_started_at: datetime
    finished_at: datetime
    outcome_message: str
    not_live: list[str]
    end: EndKind
    elapsed_seconds: float | None
    verify_note: str
    tunnel_before: str


class InvalidTransitionError(ValueError):
    """A move the state machine does not allow; names both states."""

    def __init__(self, from_state: ChangeState, to_state: ChangeState) -> None:
        self.from_state = from_state
        self.to_state = to_state
        allowed = ", ".join(sorted(TRANSITIONS[from_state])) or "nothing: it is final"
        super().__init__(
            f"a change request cannot move from {from_state} to {to_state} (from {from_state} it may go to {allowed})"
        )


@dataclass(frozen=True)
class Transition:
    """One move in a request's history: who moved it, when, and an optional note (never a secret)."""

    from_state: ChangeState
    to_state: ChangeState
    actor: str
    at: datetime
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "from": str(self.from_state),
            "to": str(self.to_state),
            "actor": self.actor,
            "at": self.at.isoformat(),
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Transition:
        return cls(
            ChangeState(data["from"]),
            ChangeState(data["to"]),
            str(data["actor"]),
            _parse_time(data["at"], "at"),
            str(data.get("note", "")),
        )


@dataclass(kw_only=True)
class ChangeRequest:
    """One proposed edit of one connection and everything that happened to it since.

    ``edits`` maps seed parameter names to ``params.format_value`` text (``params.parse_value`` reads each back);
    it never holds ``preSharedKey``: ``psk_changed`` says whether the key changes, and the store holds the key.
    Times are timezone-aware and normalised to UTC; a naive time is refused. Change ``state`` only through
    :meth:`transition` (or ``Store.claim``), so the history stays complete.
    """

    id: str
    vpn_conn_id: str
    vpc_id: str
    vpn_gw_id: str
    conn_name: str
    requester: str
    edits: dict[str, str]
    psk_changed: bool
    diff: list[DiffRow]
    base_fingerprint: str
    state: ChangeState = ChangeState.PENDING
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    front: str = "slack"
    before: dict[str, str] = field(default_factory=dict)
    """The changed parameters' values before the change (the key aside), as ``edits`` spells values: what a revert
    proposes."""
    crypto: CryptoReview | None = None
    """The RFC review of the settings before and after the change, made with the request (None: an older vpnbot's
    request)."""
    peer: str = ""
    """The other end of the tunnel, as the cloud names it (customer gateway name and address), for saying who must
    act on the peer."""
    revert_of: str | None = None
    """The request whose change this one reverts."""
    tunnel_before: str = ""
    """The tunnel when the edit was sent: ``up``, ``down``, or "" when the read did not say."""
    """The front that opened the request (``slack``, ``cli``); where it is shown is that front's own record."""
    approver: str | None = None
    approved_at: datetime | None = None
    decider: str | None = None
    decided_at: datetime | None = None
    reason: str = ""
    task_id: int | str | None = None  # API 2.0 tasks are numbers; API 3.0's are the edit's RequestId
    task_started_at: datetime | None = None
    finished_at: datetime | None = None
    outcome_message: str = ""
    not_live: list[str] = field(default_factory=list)
    end: EndKind | None = None
    """How the change ended, or stopped being followed (``timed_out``); set with the claim of that state."""
    elapsed_seconds: float | None = None
    """From sending the edit to its end, when the end came from the task or the connection."""
    verify_note: str = ""
    """Why the end could not be verified by a read of the connection (plain text), when it could not."""
    history: list[Transition] = field(default_factory=list)

    def __post_init__(self) -> None:
        if PSK in self.edits:
            raise ValueError("edits must not hold preSharedKey: set psk_changed and give the key to the store")
        self.state = ChangeState(self.state)
        self.end = None if self.end is None else EndKind(self.end)
        self.created_at = _utc(self.created_at, "created_at")
        self.expires_at = _utc(self.expires_at, "expires_at")
        self.updated_at = _utc(self.updated_at, "updated_at")
        for name in ("approved_at", "decided_at", "task_started_at", "finished_at"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, _utc(value, name))

    @classmethod
    def from_proposal(
        cls,
        connection: VpnConnection,
        proposal: Proposal,
        *,
        requester: str,
        now: datetime,
        ttl: timedelta,
        front: str = "slack",
        revert_of: str | None = None,
    ) -> ChangeRequest:
        """A new pending request for ``proposal`` against ``connection`` as it was read; raises ValueError when the
        proposal changes nothing."""
        current = connection.settings
        changed = proposal.changed(current)
        if not changed:
            raise ValueError("the proposal changes nothing")
        now = _utc(now, "now")
        return cls(
            id=new_request_id(),
            vpn_conn_id=connection.vpn_conn_id,
            vpc_id=connection.vpc_id,
            vpn_gw_id=connection.vpn_gw_id,
            conn_name=connection.name,
            requester=requester,
            edits={name: format_value(proposal.value(name)) for name in changed if name != PSK},
            psk_changed=PSK in changed,
            diff=diff_rows(current, proposal),
            base_fingerprint=settings_fingerprint(current),
            created_at=now,
            expires_at=now + ttl,
            updated_at=now,
            front=front,
            before={name: format_value(current[name]) for name in changed if name != PSK},
            crypto=review(current.values, proposal.settings.values),
            peer=_peer_of(connection),
            revert_of=revert_of,
        )

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def last_transition(self) -> Transition | None:
        """The latest move (who approved / rejected / ..., and when), or None while it was never moved."""
        return self.history[-1] if self.history else None

    @property
    def revertible(self) -> bool:
        """The edit reached the cloud and changed something: it succeeded, or failed halfway (some of the proposed
        values are live, not all)."""
        if self.end in (EndKind.TASK_SUCCEEDED, EndKind.APPLIED_NO_TASK, EndKind.FOUND_LIVE):
            return True
        if self.end in (EndKind.TASK_FAILED, EndKind.FOUND_NOT_LIVE):
            return bool(self.not_live) and set(self.not_live) < {row.name for row in self.diff}
        return False

    def blocked_by(self, crypto_policy: str) -> str:
        """Why ``VPNBOT_CRYPTO_POLICY`` (``warn`` or ``block``) refuses to let this request be approved: under
        ``block``, a change that brings in a MUST NOT value or weakens one (a revert: only one that brings in a MUST
        NOT value), in plain text naming the values and the RFCs; "" when it does not."""
        if crypto_policy != "block" or self.crypto is None or not self.crypto.concerning:
            return ""
        if self.revert_of is not None and not self.crypto.introduced:
            return ""  # a revert puts back values that were live before: only a MUST NOT value stops it
        return self.crypto.blocked_reason()

    def is_expired(self, now: datetime) -> bool:
        """Pending and past ``expires_at``."""
        return self.state is ChangeState.PENDING and self.expires_at <= now

    def transition(self, to: ChangeState, *, actor: str, at: datetime, note: str = "") -> None:
        """Move to ``to``: raises InvalidTransitionError (changing nothing) unless the move is allowed; otherwise
        appends to ``history``, sets ``updated_at`` and, on reaching a final state, ``finished_at`` unless set."""
        to = ChangeState(to)
        if to not in TRANSITIONS[self.state]:
            raise InvalidTransitionError(self.state, to)
        if not actor:
            raise ValueError("a transition needs an actor")
        at = _utc(at, "at")
        self.history.append(Transition(self.state, to, actor, at, note))
        self.state = to
        self.updated_at = at
        if to in TERMINAL_STATES and self.finished_at is None:
            self.finished_at = at

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: ISO 8601 times with their offset, states as their values, diff rows as objects."""
        return {
            "version": 1,
            "id": self.id,
            "vpn_conn_id": self.vpn_conn_id,
            "vpc_id": self.vpc_id,
            "vpn_gw_id": self.vpn_gw_id,
            "conn_name": self.conn_name,
            "requester": self.requester,
            "edits": dict(self.edits),
            "psk_changed": self.psk_changed,
            "diff": [_row_to_json(row) for row in self.diff],
            "base_fingerprint": self.base_fingerprint,
            "state": str(self.state),
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "front": self.front,
            "before": dict(self.before),
            "crypto": None if self.crypto is None else self.crypto.to_json(),
            "peer": self.peer,
            "revert_of": self.revert_of,
            "tunnel_before": self.tunnel_before,
            "approver": self.approver,
            "approved_at": _iso(self.approved_at),
            "decider": self.decider,
            "decided_at": _iso(self.decided_at),
            "reason": self.reason,
            "task_id": self.task_id,
            "task_started_at": _iso(self.task_started_at),
            "finished_at": _iso(self.finished_at),
            "outcome_message": self.outcome_message,
            "not_live": list(self.not_live),
            "end": None if self.end is None else str(self.end),
            "elapsed_seconds": self.elapsed_seconds,
            "verify_note": self.verify_note,
            "history": [t.to_json() for t in self.history],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChangeRequest:
        """The request :meth:`to_json` gave; raises ValueError naming what is missing or malformed."""
        try:
            task_id = data.get("task_id")
            return cls(
                id=str(data["id"]),
                vpn_conn_id=str(data["vpn_conn_id"]),
                vpc_id=str(data["vpc_id"]),
                vpn_gw_id=str(data["vpn_gw_id"]),
                conn_name=str(data["conn_name"]),
                requester=str(data["requester"]),
                edits={str(k): str(v) for k, v in data["edits"].items()},
                psk_changed=bool(data["psk_changed"]),
                diff=[_row_from_json(row) for row in data["diff"]],
                base_fingerprint=str(data["base_fingerprint"]),
                state=ChangeState(data["state"]),
                created_at=_parse_time(data["created_at"], "created_at"),
                expires_at=_parse_time(data["expires_at"], "expires_at"),
                updated_at=_parse_time(data["updated_at"], "updated_at"),
                front=str(data.get("front") or "slack"),
                before={str(k): str(v) for k, v in (data.get("before") or {}).items()},
                crypto=None if data.get("crypto") is None else CryptoReview.from_json(data["crypto"]),
                peer=str(data.get("peer") or ""),
                revert_of=None if data.get("revert_of") is None else str(data["revert_of"]),
                tunnel_before=str(data.get("tunnel_before") or ""),
                approver=data.get("approver"),
                approved_at=_parse_optional_time(data.get("approved_at"), "approved_at"),
                decider=data.get("decider"),
                decided_at=_parse_optional_time(data.get("decided_at"), "decided_at"),
                reason=str(data.get("reason", "")),
                task_id=task_id if task_id is None or isinstance(task_id, str) else int(task_id),
                task_started_at=_parse_optional_time(data.get("task_started_at"), "task_started_at"),
                finished_at=_parse_optional_time(data.get("finished_at"), "finished_at"),
                outcome_message=str(data.get("outcome_message", "")),
                not_live=[str(name) for name in data.get("not_live", [])],
                end=None if data.get("end") is None else EndKind(data["end"]),
                elapsed_seconds=_optional_float(data.get("elapsed_seconds")),
                verify_note=str(data.get("verify_note") or ""),
                history=[Transition.from_json(t) for t in data.get("history", [])],
            )
        except KeyError as error:
            raise ValueError(f"change request JSON lacks {error.args[0]!r}") from None
        except (TypeError, AttributeError) as error:
            raise ValueError(f"change request JSON is malformed: {error}") from None


def _peer_of(connection: VpnConnection) -> str:
    """The customer gateway in words: its name and address, whichever the cloud gave."""
    parts = [part for part in (connection.user_gw_name, connection.user_gw_address) if part]
    return ", ".join(parts) or connection.user_gw_id


def _row_to_json(row: DiffRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "label": row.label,
        "current": row.current,
        "proposed": row.proposed,
        "added": list(row.added),
        "removed": list(row.removed),
        "size_before": row.size_before,
        "size_after": row.size_after,
    }


def _row_from_json(data: Mapping[str, Any]) -> DiffRow:
    return DiffRow(
        name=str(data["name"]),
        label=str(data["label"]),
        current=str(data["current"]),
        proposed=str(data["proposed"]),
        added=tuple(str(item) for item in data.get("added", ())),
        removed=tuple(str(item) for item in data.get("removed", ())),
        size_before=_optional_int(data.get("size_before")),
        size_after=_optional_int(data.get("size_after")),
    )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _canonical_json(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value.astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_time(text: Any, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        raise ValueError(f"{name} is not an ISO 8601 time: {str(text)[:40]!r}") from None
    return _utc(value, name)


def _parse_optional_time(text: Any, name: str) -> datetime | None:
    return None if text is None else _parse_time(text, name)
