"""Normalising DescribeVpnConn, proposing an edit (every problem at once), and the secret-safe diff."""

from __future__ import annotations

import pytest
from items import FINGERPRINTS, SEED_ITEM, connection, item

from bot.slack.blocks import form_text
from bot.vpn import edit, params
from bot.vpn.connection import CloudDataError, VpnSettings, connection_from_describe
from bot.vpn.diff import diff, not_live, psk_state
from bot.vpn.edit import propose
from bot.vpn.params import PARAMS_BY_NAME, InvalidParametersError, edit_text, format_value, parse_value


def test_normalises_strings_sha1_and_old_block_names() -> None:
    old_style = item(IKEArr=SEED_ITEM["IKESet"], IPSECArr=[SEED_ITEM["IPsecSet"]], IKESet=None, IPsecSet=None)
    del old_style["IKESet"], old_style["IPsecSet"]
    for raw in (SEED_ITEM, old_style):
        conn = connection_from_describe(raw, fingerprints=FINGERPRINTS)
        assert conn.vpn_conn_id == "vpnx-ol6bcqp0"
        assert conn.vpc_id == "vpc-03vihbk9"
        assert conn.vpn_gw_id == "vpngw-kfldykuz"
        assert conn.status == 6
        assert conn.settings["IKESet.ikeSaLifetimeSeconds"] == 86400
        assert conn.settings["IKESet.propoAuthenAlgorithm"] == "sha"
        assert conn.settings["IPsecSet.integrityAlgorith"] == "sha"
        assert conn.settings["IPsecSet.encryptAlgorithm"] == "aes-cbc-128"
        assert format_value(conn.settings["userGwCidrBlock"]) == "192.168.1.0/24, 192.168.2.0/24"
        assert str(conn.settings["spdAcl"]) == "10.0.0.0/16 -> 192.168.1.0/24, 192.168.2.0/24"


def test_the_key_is_dropped_at_the_edge() -> None:
    conn = connection()
    assert "current-key-1" not in repr(conn)
    assert conn.settings.psk_fingerprint is not None
    assert "current-key-1" not in conn.settings.psk_fingerprint


def test_unreadable_cloud_data_names_the_field() -> None:
    broken = item()
    broken["IKESet"] = {**SEED_ITEM["IKESet"], "ikeSaLifetimeSeconds": "forever"}
    with pytest.raises(CloudDataError, match=r"IKESet\.ikeSaLifetimeSeconds"):
        connection_from_describe(broken, fingerprints=FINGERPRINTS)


def test_seed_example_proposal_and_diff() -> None:
    current = connection().settings
    proposal = propose(current, {"userGwCidrBlock": "10.100.2.0/24", "preSharedKey": "tencenttest"})
    rows = diff(current, proposal)
    assert [r.name for r in rows] == ["preSharedKey", "userGwCidrBlock"]
    psk_row, cidr_row = rows
    assert (psk_row.current, psk_row.proposed) == ("(hidden)", "changed")
    assert cidr_row.proposed == "10.100.2.0/24"
    assert cidr_row.added == ("10.100.2.0/24",)
    assert cidr_row.removed == ("192.168.1.0/24", "192.168.2.0/24")
    assert "tencenttest" not in repr(rows) + repr(proposal)
    assert psk_state(current, proposal) == "changed"


def test_reordering_cidrs_and_retyping_the_same_key_change_nothing() -> None:
    current = connection().settings
    proposal = propose(current, {"userGwCidrBlock": "192.168.2.0/24,192.168.1.0/24", "preSharedKey": "current-key-1"})
    assert diff(current, proposal) == []
    assert psk_state(current, proposal) == "unchanged"


def test_every_problem_at_once() -> None:
    current = connection().settings
    with pytest.raises(InvalidParametersError) as caught:
        propose(
            current,
            {
                "vpnConnName": "n" * 61,
                "IKESet.ikeSaLifetimeSeconds": "59",
                "IPsecSet.pfsDhGroup": "group14",
                "IKESet.localIdentity": "fqdn",
                "userGwCidrBlock": "10.0.0.1/24",
                "vpnGwId": "vpngw-other",
                "nonsense": "1",
            },
        )
    problems = caught.value.problems
    assert set(problems) == {
        "vpnConnName",
        "IKESet.ikeSaLifetimeSeconds",
        "IPsecSet.pfsDhGroup",
        "IKESet.localFqdnName",
        "userGwCidrBlock",
        "vpnGwId",
        "nonsense",
    }
    assert "IKESet.ikeSaLifetimeSeconds: 59 is out of range" in str(caught.value)


def test_cidrs_and_spd_cannot_both_change() -> None:
    current = connection().settings
    with pytest.raises(InvalidParametersError) as caught:
        propose(current, {"userGwCidrBlock": "10.9.0.0/24", "spdAcl": '{"10.0.0.0/24":["10.9.0.0/24"]}'})
    assert set(caught.value.problems) == {"userGwCidrBlock", "spdAcl"}


def test_alias_for_ipsec_encryption() -> None:
    current = connection().settings
    proposal = propose(current, {"IKESet.encryptAlgorithm": "aes-cbc-256"})
    assert [r.name for r in diff(current, proposal)] == ["IPsecSet.encryptAlgorithm"]


def test_not_live_compares_with_what_the_cloud_reports() -> None:
    current = connection().settings
    proposal = propose(current, {"vpnConnName": "renamed", "preSharedKey": "new-key-2"})
    changed = proposal.changed(current)
    assert not_live(proposal, changed, current) == ["vpnConnName", "preSharedKey"]
    applied = connection(vpnConnName="renamed", preSharedKey="new-key-2").settings
    assert not_live(proposal, changed, applied) == []


def test_a_peer_list_cannot_be_emptied() -> None:
    current = connection().settings
    for name in ("userGwCidrBlock", "spdAcl"):
        with pytest.raises(InvalidParametersError) as caught:
            propose(current, {name: ""})
        assert set(caught.value.problems) == {name}


# --- unchanged values are kept as the cloud holds them, without re-checking the list rules ------------------------


def _overlapping_current() -> VpnSettings:
    """Settings as the cloud may hold them, breaking the list rules (overlaps) and the identity rule."""
    return connection().settings.replace(
        {
            "userGwCidrBlock": parse_value(PARAMS_BY_NAME["userGwCidrBlock"], "10.0.0.0/16, 10.0.1.0/24"),
            "spdAcl": parse_value(PARAMS_BY_NAME["spdAcl"], "10.1.0.0/16: 192.168.0.0/16, 192.168.7.0/24"),
            "IKESet.localIdentity": "fqdn",
            "IKESet.localFqdnName": "",
        }
    )


def _no_list_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("a list rule ran on an unchanged list")

    monkeypatch.setattr(params, "first_overlap", refuse)
    monkeypatch.setattr(params, "first_self_overlap", refuse)


def test_absent_lists_are_kept_without_a_rule_check(monkeypatch: pytest.MonkeyPatch) -> None:
    current = _overlapping_current()
    _no_list_rules(monkeypatch)
    proposal = propose(current, {"vpnConnName": "renamed", "IKESet.dhGroupName": "group14"})
    assert proposal.changed(current) == ("vpnConnName", "IKESet.dhGroupName")
    assert proposal.settings["userGwCidrBlock"] == current["userGwCidrBlock"]
    assert proposal.settings["spdAcl"] == current["spdAcl"]


def test_the_forms_own_text_is_kept_without_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    current = _overlapping_current()
    parsed: list[str] = []

    def recording(param: params.Param, text: str, *value_sets: params.ValueSets) -> params.Value:
        parsed.append(param.name)
        return params.parse_value(param, text, *value_sets)

    monkeypatch.setattr(edit, "parse_value", recording)
    _no_list_rules(monkeypatch)
    form = {name: form_text(current[name]) for name in ("userGwCidrBlock", "spdAcl", "IKESet.localFqdnName")}
    cli = {name: format_value(current[name]) for name in ("userGwCidrBlock", "spdAcl")}
    for edits in (form, cli):
        proposal = propose(current, {**edits, "vpnConnName": "renamed"})
        assert proposal.changed(current) == ("vpnConnName",)
    assert parsed == ["vpnConnName", "vpnConnName"]


def test_text_that_parses_to_the_current_value_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    current = _overlapping_current()
    _no_list_rules(monkeypatch)
    proposal = propose(
        current,
        {
            "userGwCidrBlock": "10.0.1.0/24\n\n10.0.0.0/16, 10.0.1.0/24",
            "spdAcl": '{"10.1.0.0/16": ["192.168.7.0/24", "192.168.0.0/16"]}',
            "IKESet.localIdentity": "FQDN",
            "IPsecSet.pfsDhGroup": "dh-group14",
        },
    )
    assert proposal.changed(current) == ("IPsecSet.pfsDhGroup",)


def test_changed_values_meet_every_rule() -> None:
    current = _overlapping_current()
    with pytest.raises(InvalidParametersError) as caught:
        propose(current, {"userGwCidrBlock": "10.0.0.0/16, 10.0.2.0/24"})
    assert caught.value.problems == {"userGwCidrBlock": "10.0.0.0/16 overlaps 10.0.2.0/24"}
    with pytest.raises(InvalidParametersError) as caught:
        propose(current, {"spdAcl": "10.1.0.0/16: 192.168.0.0/16\n10.1.5.0/24: 192.168.3.0/24"})
    assert caught.value.problems == {
        "spdAcl": "pairs overlap: 10.1.0.0/16 -> 192.168.0.0/16 and 10.1.5.0/24 -> 192.168.3.0/24"
    }
    fqdn_side = connection().settings.replace({"IKESet.localIdentity": "fqdn", "IKESet.localFqdnName": "gw.example"})
    for edits, named in (
        ({"IKESet.localIdentity": "address", "IKESet.localAddress": ""}, "IKESet.localAddress"),
        ({"IKESet.localFqdnName": ""}, "IKESet.localFqdnName"),
    ):
        with pytest.raises(InvalidParametersError) as caught:
            propose(fqdn_side, edits)
        assert set(caught.value.problems) == {named}
    assert propose(current, {"IKESet.localFqdnName": "gw.example.com"}).changed(current) == ("IKESet.localFqdnName",)


def test_an_empty_list_left_empty_is_kept() -> None:
    current = connection().settings.replace({"userGwCidrBlock": frozenset()})
    assert propose(current, {"userGwCidrBlock": form_text(frozenset()), "vpnConnName": "n"}).changed(current) == (
        "vpnConnName",
    )


def test_a_parameter_given_twice_is_refused_even_when_unchanged() -> None:
    current = connection().settings
    edits = {"IPsecSet.encryptAlgorithm": str(current["IPsecSet.encryptAlgorithm"]), "IKESet.encryptAlgorithm": "null"}
    with pytest.raises(InvalidParametersError) as caught:
        propose(current, edits)
    assert caught.value.problems == {"IPsecSet.encryptAlgorithm": "given more than once"}


@pytest.mark.parametrize(
    "value",
    [
        frozenset(),
        parse_value(PARAMS_BY_NAME["userGwCidrBlock"], "10.0.0.0/24 10.0.1.0/24 192.168.0.0/16"),
        parse_value(
            PARAMS_BY_NAME["spdAcl"], "10.0.0.0/16: 192.168.2.0/24, 192.168.1.0/24\n10.1.0.0/16: 172.16.0.0/12"
        ),
        "office-shanghai",
        86400,
    ],
    ids=["empty", "cidrs", "spd", "name", "number"],
)
def test_edit_text_is_what_the_form_prefills(value: params.Value) -> None:
    assert edit_text(value) == form_text(value)
