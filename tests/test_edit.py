"""Normalising DescribeVpnConn, proposing an edit (every problem at once), and the secret-safe diff."""

from __future__ import annotations

import pytest
from items import SEED_ITEM, connection, item

from bot.vpn.connection import CloudDataError, connection_from_describe
from bot.vpn.diff import diff, not_live, psk_state
from bot.vpn.edit import propose
from bot.vpn.params import InvalidParametersError, format_value


def test_normalises_strings_sha1_and_old_block_names() -> None:
    old_style = item(IKEArr=SEED_ITEM["IKESet"], IPSECArr=[SEED_ITEM["IPsecSet"]], IKESet=None, IPsecSet=None)
    del old_style["IKESet"], old_style["IPsecSet"]
    for raw in (SEED_ITEM, old_style):
        conn = connection_from_describe(raw)
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
    broken["IKESet"] = {**SEED_ITEM["IKESet"], "dhGroupName": "group99"}
    with pytest.raises(CloudDataError, match=r"IKESet\.dhGroupName"):
        connection_from_describe(broken)


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
