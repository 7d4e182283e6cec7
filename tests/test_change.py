"""The change request: its state machine, its JSON form, and the settings fingerprint that makes a card stale."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime, timedelta, timezone
from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from items import connection

from bot.vpn.change import (
    OPEN_STATES,
    TERMINAL_STATES,
    ChangeRequest,
    ChangeState,
    EndKind,
    InvalidTransitionError,
    Transition,
    is_request_id,
    new_request_id,
    settings_fingerprint,
)
from bot.vpn.connection import VpnSettings
from bot.vpn.diff import DiffRow
from bot.vpn.edit import propose
from bot.vpn.params import PARAMS_BY_NAME, SETTING_NAMES, Kind, SpdPolicy, Value, parse_cidr, parse_value

S = ChangeState
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

# The brief's table, written out independently of the module's.
ALLOWED = {
    (S.PENDING, S.APPROVED),
    (S.PENDING, S.REJECTED),
    (S.PENDING, S.EXPIRED),
    (S.PENDING, S.CANCELLED),
    (S.PENDING, S.STALE),
    (S.APPROVED, S.SUBMITTING),
    (S.APPROVED, S.STALE),
    (S.APPROVED, S.FAILED),
    (S.SUBMITTING, S.RUNNING),
    (S.SUBMITTING, S.FAILED),
    (S.SUBMITTING, S.UNKNOWN),
    (S.RUNNING, S.SUCCEEDED),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.UNKNOWN),
    (S.UNKNOWN, S.SUCCEEDED),
    (S.UNKNOWN, S.FAILED),
}


def request(state: ChangeState = S.PENDING, **changes: object) -> ChangeRequest:
    fields: dict[str, object] = {
        "id": "chg-abcdefghij",
        "vpn_conn_id": "vpnx-ol6bcqp0",
        "vpc_id": "vpc-03vihbk9",
        "vpn_gw_id": "vpngw-kfldykuz",
        "conn_name": "office-shanghai",
        "requester": "U01REQUESTER",
        "edits": {"vpnConnName": "office-sh2"},
        "psk_changed": False,
        "diff": [DiffRow("vpnConnName", "Name", "office-shanghai", "office-sh2")],
        "base_fingerprint": "f" * 64,
        "state": state,
        "created_at": T0,
        "expires_at": T0 + timedelta(hours=24),
        "updated_at": T0,
    }
    fields.update(changes)
    return ChangeRequest(**fields)  # type: ignore[arg-type]


def test_the_state_sets_are_the_briefs() -> None:
    assert {s.value for s in ChangeState} == {
        "pending",
        "approved",
        "submitting",
        "running",
        "succeeded",
        "failed",
        "unknown",
        "rejected",
        "expired",
        "cancelled",
        "stale",
    }
    assert {S.PENDING, S.APPROVED, S.SUBMITTING, S.RUNNING, S.UNKNOWN} == OPEN_STATES
    assert {S.SUCCEEDED, S.FAILED, S.REJECTED, S.EXPIRED, S.CANCELLED, S.STALE} == TERMINAL_STATES


@pytest.mark.parametrize(("before", "after"), sorted(ALLOWED))
def test_every_allowed_transition(before: ChangeState, after: ChangeState) -> None:
    req = request(before)
    at = T0 + timedelta(minutes=5)
    req.transition(after, actor="U02APPROVER", at=at, note="why")
    assert req.state is after
    assert req.updated_at == at
    assert req.history == [Transition(before, after, "U02APPROVER", at, "why")]
    assert req.is_terminal == (after in TERMINAL_STATES)
    assert req.is_open == (not req.is_terminal)
    assert req.finished_at == (at if after in TERMINAL_STATES else None)


@pytest.mark.parametrize(
    ("before", "after"), [pair for pair in product(ChangeState, ChangeState) if pair not in ALLOWED]
)
def test_every_other_transition_is_refused_and_changes_nothing(before: ChangeState, after: ChangeState) -> None:
    req = request(before)
    snapshot = req.to_json()
    with pytest.raises(InvalidTransitionError) as caught:
        req.transition(after, actor="U02APPROVER", at=T0 + timedelta(minutes=5))
    assert (caught.value.from_state, caught.value.to_state) == (before, after)
    assert f"from {before} to {after}" in str(caught.value)
    assert req.to_json() == snapshot


def test_a_whole_life_keeps_its_history() -> None:
    req = request()
    path = [S.APPROVED, S.SUBMITTING, S.RUNNING, S.UNKNOWN, S.SUCCEEDED]
    for minute, state in enumerate(path, start=1):
        req.transition(state, actor="vpnbot", at=T0 + timedelta(minutes=minute))
    assert [t.to_state for t in req.history] == path
    assert [t.from_state for t in req.history] == [S.PENDING, *path[:-1]]
    assert req.last_transition == req.history[-1]
    assert req.finished_at == T0 + timedelta(minutes=5)
    with pytest.raises(InvalidTransitionError):
        req.transition(S.FAILED, actor="vpnbot", at=T0 + timedelta(minutes=6))


def test_times_must_be_aware_and_become_utc() -> None:
    with pytest.raises(ValueError, match="created_at must be a timezone-aware"):
        request(created_at=datetime(2025, 3, 1, 9, 0))
    req = request()
    with pytest.raises(ValueError, match="timezone-aware"):
        req.transition(S.APPROVED, actor="U1", at=datetime(2025, 3, 1, 10, 0))
    assert req.state is S.PENDING
    assert req.history == []
    shanghai = timezone(timedelta(hours=8))
    req.transition(S.APPROVED, actor="U1", at=datetime(2025, 3, 1, 17, 0, tzinfo=shanghai))
    assert req.updated_at.tzinfo is UTC
    assert req.updated_at == datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def test_edits_never_hold_the_key() -> None:
    with pytest.raises(ValueError, match="preSharedKey"):
        request(edits={"preSharedKey": "hunter2-secret"})


def test_a_transition_needs_an_actor() -> None:
    req = request()
    with pytest.raises(ValueError, match="actor"):
        req.transition(S.APPROVED, actor="", at=T0)
    assert req.state is S.PENDING


def full_request() -> ChangeRequest:
    req = request(
        diff=[
            DiffRow("userGwCidrBlock", "Peer CIDRs", "10.1.0.0/24", "10.1.0.0/24, 10.2.0.0/24", ("10.2.0.0/24",), ()),
            DiffRow("preSharedKey", "Pre-shared key", "(hidden)", "changed"),
        ],
        edits={"userGwCidrBlock": "10.1.0.0/24, 10.2.0.0/24"},
        psk_changed=True,
        front="cli",
        outcome_message="",
        not_live=["userGwCidrBlock"],
    )
    req.transition(S.APPROVED, actor="U02APPROVER", at=T0 + timedelta(minutes=1), note="looks right")
    req.approver, req.approved_at = "U02APPROVER", T0 + timedelta(minutes=1)
    req.transition(S.SUBMITTING, actor="vpnbot", at=T0 + timedelta(minutes=2))
    req.transition(S.RUNNING, actor="vpnbot", at=T0 + timedelta(minutes=3))
    req.task_id, req.task_started_at = 123456, T0 + timedelta(minutes=3)
    req.transition(S.FAILED, actor="vpnbot", at=T0 + timedelta(minutes=4))
    req.outcome_message = "InternalError: the gateway is busy"
    req.end, req.elapsed_seconds, req.verify_note = EndKind.TASK_FAILED, 61.5, "DescribeVpnConn failed: down"
    return req


def test_json_round_trip_keeps_every_field() -> None:
    req = full_request()
    document = json.loads(json.dumps(req.to_json()))
    again = ChangeRequest.from_json(document)
    assert again == req
    assert again.diff[0].added == ("10.2.0.0/24",)
    assert document["created_at"] == "2025-03-01T09:00:00+00:00"
    assert document["state"] == "failed"
    assert document["history"][0] == {
        "from": "pending",
        "to": "approved",
        "actor": "U02APPROVER",
        "at": "2025-03-01T09:01:00+00:00",
        "note": "looks right",
    }
    assert document["diff"][1] == {
        "name": "preSharedKey",
        "label": "Pre-shared key",
        "current": "(hidden)",
        "proposed": "changed",
        "added": [],
        "removed": [],
        "size_before": None,
        "size_after": None,
    }


def test_from_json_names_what_is_wrong() -> None:
    document = request().to_json()
    del document["vpn_conn_id"]
    with pytest.raises(ValueError, match="vpn_conn_id"):
        ChangeRequest.from_json(document)
    document = request().to_json()
    document["expires_at"] = "2025-03-02T09:00:00"
    with pytest.raises(ValueError, match="expires_at must be a timezone-aware"):
        ChangeRequest.from_json(document)
    document = request().to_json()
    document["state"] = "approvedd"
    with pytest.raises(ValueError, match="approvedd"):
        ChangeRequest.from_json(document)


def test_a_request_an_earlier_vpnbot_saved_loads() -> None:
    """Schema 1 kept Slack's message references in the request and knew no front nor end: such a document loads
    (the store moves those references to the request's front record when it opens the file)."""
    document = request().to_json()
    for name in ("front", "end", "elapsed_seconds", "verify_note"):
        del document[name]
    document |= {"channel": "C0APPROVALS", "card_ts": "1700000000.000100", "final_reply": "posted later"}
    loaded = ChangeRequest.from_json(document)
    assert (loaded.front, loaded.end, loaded.elapsed_seconds, loaded.verify_note) == ("slack", None, None, "")
    assert "channel" not in loaded.to_json()


@settings(max_examples=60, deadline=None)
@given(
    choices=st.lists(st.integers(min_value=0, max_value=10), max_size=6),
    text=st.text(max_size=30),
    task_id=st.none() | st.integers(min_value=0, max_value=2**53),
)
def test_any_walk_round_trips_and_respects_the_table(choices: list[int], text: str, task_id: int | None) -> None:
    req = request(reason=text, outcome_message=text, task_id=task_id, conn_name=text or "x", verify_note=text)
    for step, choice in enumerate(choices, start=1):
        nexts = sorted(after for before, after in ALLOWED if before is req.state)
        if not nexts:
            assert req.is_terminal
            break
        req.transition(nexts[choice % len(nexts)], actor="U1", at=T0 + timedelta(seconds=step), note=text)
        assert ChangeRequest.from_json(json.loads(json.dumps(req.to_json()))) == req
    assert all((t.from_state, t.to_state) in ALLOWED for t in req.history)


def test_request_ids() -> None:
    ids = {new_request_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(is_request_id(i) and len(i) == 14 for i in ids)
    assert not is_request_id("chg-ABCDEFGHIJ")
    assert not is_request_id("chg-abcdefghi1")  # base32 has no 1
    assert not is_request_id("chg-abcdefghijk")


# -- the settings fingerprint ----------------------------------------------------------------------------------------


def other_value(name: str, current: Value) -> Value:
    """A valid value for ``name`` that differs from ``current``."""
    param = PARAMS_BY_NAME[name]
    candidates: list[Value]
    if param.kind is Kind.CHOICE:
        candidates = list(param.choices)
    elif param.kind is Kind.INTEGER:
        assert param.minimum is not None
        candidates = [param.minimum, param.minimum + 1]
    elif param.kind is Kind.CIDR_LIST:
        candidates = [frozenset({parse_cidr("10.9.0.0/24")})]
    elif param.kind is Kind.SPD:
        candidates = [SpdPolicy.of({parse_cidr("10.0.0.0/16"): [parse_cidr("10.9.0.0/24")]})]
    elif param.kind is Kind.ADDRESS:
        candidates = ["192.0.2.1", "192.0.2.2"]
    elif param.kind is Kind.FQDN:
        candidates = ["vpn.example.com", "vpn2.example.com"]
    else:
        candidates = ["another-name", "yet-another"]
    return next(c for c in candidates if c != current)


def test_equal_settings_give_equal_fingerprints() -> None:
    assert settings_fingerprint(connection().settings) == settings_fingerprint(connection().settings)
    assert len(settings_fingerprint(connection().settings)) == 64


@pytest.mark.parametrize("name", SETTING_NAMES)
def test_changing_any_parameter_changes_the_fingerprint(name: str) -> None:
    current = connection().settings
    changed = current.replace({name: other_value(name, current[name])})
    assert changed[name] != current[name]
    assert settings_fingerprint(changed) != settings_fingerprint(current)


def test_changing_the_key_changes_the_fingerprint() -> None:
    current = connection().settings
    rekeyed = connection(preSharedKey="another-key-2").settings
    assert rekeyed.values == current.values
    assert settings_fingerprint(rekeyed) != settings_fingerprint(current)
    assert settings_fingerprint(VpnSettings(current.values, None)) != settings_fingerprint(current)


def test_cidr_sets_and_spd_are_order_insensitive() -> None:
    forward = connection(
        destinationCidr=["192.168.1.0/24", "192.168.2.0/24"], sourceCidr=["10.0.0.0/16", "10.1.0.0/16"]
    )
    backward = connection(
        destinationCidr=["192.168.2.0/24", "192.168.1.0/24"], sourceCidr=["10.1.0.0/16", "10.0.0.0/16"]
    )
    assert settings_fingerprint(forward.settings) == settings_fingerprint(backward.settings)
    base = connection().settings
    cidrs = PARAMS_BY_NAME["userGwCidrBlock"]
    spd = PARAMS_BY_NAME["spdAcl"]
    one = base.replace(
        {
            "userGwCidrBlock": parse_value(cidrs, "10.1.0.0/24, 10.2.0.0/24, 10.3.0.0/24"),
            "spdAcl": parse_value(spd, '{"10.0.0.0/16": ["192.168.1.0/24", "192.168.2.0/24"]}'),
        }
    )
    two = base.replace(
        {
            "userGwCidrBlock": parse_value(cidrs, "10.3.0.0/24 10.1.0.0/24\n10.2.0.0/24, 10.1.0.0/24"),
            "spdAcl": parse_value(spd, "10.0.0.0/16: 192.168.2.0/24, 192.168.1.0/24"),
        }
    )
    assert settings_fingerprint(one) == settings_fingerprint(two)
    three = one.replace({"userGwCidrBlock": frozenset({ipaddress.IPv4Network("10.1.0.0/24")})})
    assert settings_fingerprint(three) != settings_fingerprint(one)


# -- building a request from a proposal ------------------------------------------------------------------------------


def test_from_proposal_holds_text_edits_and_no_key() -> None:
    conn = connection()
    proposal = propose(
        conn.settings,
        {
            "userGwCidrBlock": "192.168.3.0/24, 192.168.1.0/24",
            "preSharedKey": "brand-new-key-77",
            "IKESet.dhGroupName": "group14",
        },
    )
    req = ChangeRequest.from_proposal(
        conn, proposal, requester="cli:alice", now=T0, ttl=timedelta(hours=24), front="cli"
    )
    assert is_request_id(req.id)
    assert req.state is S.PENDING
    assert req.history == []
    assert (req.vpn_conn_id, req.vpc_id, req.vpn_gw_id, req.conn_name) == (
        "vpnx-ol6bcqp0",
        "vpc-03vihbk9",
        "vpngw-kfldykuz",
        "office-shanghai",
    )
    assert req.edits == {"userGwCidrBlock": "192.168.1.0/24, 192.168.3.0/24", "IKESet.dhGroupName": "group14"}
    assert req.psk_changed
    for name, text in req.edits.items():
        assert parse_value(PARAMS_BY_NAME[name], text) == proposal.value(name)
    assert [row.name for row in req.diff] == ["preSharedKey", "userGwCidrBlock", "IKESet.dhGroupName"]
    assert req.base_fingerprint == settings_fingerprint(conn.settings)
    assert req.expires_at == T0 + timedelta(hours=24)
    assert req.front == "cli"
    assert "brand-new-key-77" not in json.dumps(req.to_json())
    assert "brand-new-key-77" not in repr(req)


def test_from_proposal_refuses_a_proposal_that_changes_nothing() -> None:
    conn = connection()
    with pytest.raises(ValueError, match="changes nothing"):
        ChangeRequest.from_proposal(conn, propose(conn.settings, {}), requester="U01", now=T0, ttl=timedelta(hours=1))


def test_is_expired() -> None:
    req = request(expires_at=T0 + timedelta(hours=1))
    assert not req.is_expired(T0 + timedelta(minutes=59))
    assert req.is_expired(T0 + timedelta(hours=1))
    req.transition(S.APPROVED, actor="U1", at=T0)
    assert not req.is_expired(T0 + timedelta(hours=2))
