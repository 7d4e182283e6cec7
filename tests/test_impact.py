"""What a change does to the tunnel: each kind of diff row, the worst row, who acts on the peer, whole network lists."""

from __future__ import annotations

import json
from typing import Any

import pytest
from items import connection

from bot.vpn.diff import DiffRow, diff
from bot.vpn.edit import propose
from bot.vpn.impact import IMPACT_OF, ChangeImpact, Impact, impact_of
from bot.vpn.params import PARAMS

PEER = "shanghai-office-fw, 198.51.100.21"
NEW_KEY = "new-key-2-secret"


def impact(edits: dict[str, str]) -> ChangeImpact:
    current = connection().settings
    return impact_of(diff(current, propose(current, edits)))


def test_every_parameter_has_an_impact() -> None:
    assert set(IMPACT_OF) == {param.name for param in PARAMS}
    assert IMPACT_OF["preSharedKey"] is Impact.KEY
    assert IMPACT_OF["vpnConnName"] is Impact.NONE
    assert {name for name, level in IMPACT_OF.items() if level is Impact.SELECTORS} == {"userGwCidrBlock", "spdAcl"}
    assert {name for name, level in IMPACT_OF.items() if level is Impact.TIMING} == {
        "IKESet.ikeSaLifetimeSeconds",
        "IPsecSet.ipsecSaLifetimeSeconds",
        "IPsecSet.ipsecSaLifetimeTraffic",
    }


@pytest.mark.parametrize(
    ("edits", "worst", "row_text", "headline", "action"),
    [
        ({"vpnConnName": "renamed"}, Impact.NONE, "name only: no effect on traffic", "Name only", ""),
        (
            {"IKESet.ikeSaLifetimeSeconds": "3600"},
            Impact.TIMING,
            "renegotiation timing changes: IKE SA lifetime 86400 -> 3600 s; the tunnel stays up",
            "Only renegotiation timing changes",
            "",
        ),
        (
            {"IPsecSet.ipsecSaLifetimeTraffic": "3686400"},
            Impact.TIMING,
            "IPsec SA traffic 1843200 -> 3686400 KB",
            "the tunnel stays up",
            "",
        ),
        (
            {"userGwCidrBlock": "192.168.1.0/24, 10.2.0.0/24"},
            Impact.SELECTORS,
            "10.2.0.0/24 gains the tunnel; 192.168.2.0/24 loses it",
            "a policy-based peer must list the same selectors",
            f"On the peer ({PEER}): list the new traffic selectors if it is policy-based.",
        ),
        (
            {"IKESet.propoEncryAlgorithm": "aes-cbc-128"},
            Impact.PROPOSAL,
            "renegotiates: down until the peer offers IKE encryption aes-cbc-128",
            "stays down until the peer offers the new proposal",
            f"On the peer ({PEER}): set the new IKE proposal.",
        ),
        (
            {"IKESet.exchangeMode": "aggressive"},
            Impact.PROPOSAL,
            "renegotiates: down until the peer offers exchange mode aggressive",
            "renegotiates",
            f"On the peer ({PEER}): set the new IKE proposal.",
        ),
        (
            {"IPsecSet.pfsDhGroup": "dh-group14"},
            Impact.PROPOSAL,
            "renegotiates: down until the peer offers PFS dh-group14",
            "renegotiates",
            f"On the peer ({PEER}): set the new IPsec proposal.",
        ),
        (
            {"IKESet.remoteAddress": "198.51.100.21"},
            Impact.PROPOSAL,
            "down until the peer presents the identity expected of it (remote address 198.51.100.21)",
            "renegotiates",
            f"On the peer ({PEER}): set the new identities.",
        ),
        (
            {"IKESet.localAddress": "203.0.113.11"},
            Impact.PROPOSAL,
            "down until the peer expects this side's identity (local address 203.0.113.11)",
            "renegotiates",
            f"On the peer ({PEER}): set the new identities.",
        ),
        (
            {"preSharedKey": NEW_KEY},
            Impact.KEY,
            "next authentication fails until the peer has the new key",
            "The tunnel goes down at its next authentication until the peer has the new key.",
            f"On the peer ({PEER}): set the new pre-shared key.",
        ),
    ],
)
def test_each_kind_of_change(edits: dict[str, str], worst: Impact, row_text: str, headline: str, action: str) -> None:
    result = impact(edits)
    (row,) = result.rows
    assert row.impact is worst
    assert result.worst is worst
    assert row_text in row.text
    assert headline in result.headline()
    assert result.peer_action(PEER) == action
    assert result.peer_must_act is (worst >= Impact.SELECTORS)
    assert result.needs_watch is (worst is not Impact.NONE)
    for text in (row.text, result.headline(), result.peer_action(PEER)):
        assert NEW_KEY not in text
        assert not set(text) & set("*`<_~")


def test_the_worst_row_wins_and_the_rows_keep_the_diff_order() -> None:
    edits = {
        "vpnConnName": "renamed",
        "IKESet.ikeSaLifetimeSeconds": "3600",
        "userGwCidrBlock": "192.168.1.0/24, 10.2.0.0/24",
        "preSharedKey": NEW_KEY,
        "IKESet.propoEncryAlgorithm": "aes-cbc-128",
        "IPsecSet.encryptAlgorithm": "aes-cbc-256",
    }
    current = connection().settings
    rows = diff(current, propose(current, edits))
    result = impact_of(rows)
    assert [row.name for row in result.rows] == [row.name for row in rows]
    assert result.worst is Impact.KEY
    assert result.headline() == "The tunnel goes down at its next authentication until the peer has the new key."
    assert result.peer_action(PEER) == (
        f"On the peer ({PEER}): set the new pre-shared key, the new IKE proposal and the new IPsec proposal; "
        "list the new traffic selectors if it is policy-based."
    )
    without_key = impact({k: v for k, v in edits.items() if k != "preSharedKey"})
    assert without_key.worst is Impact.PROPOSAL
    lifetime_and_name = impact({"vpnConnName": "renamed", "IKESet.ikeSaLifetimeSeconds": "3600"})
    assert lifetime_and_name.worst is Impact.TIMING
    assert lifetime_and_name.peer_action(PEER) == ""


def test_the_briefs_example_of_a_key_and_ike_change() -> None:
    result = impact({"preSharedKey": NEW_KEY, "IKESet.dhGroupName": "group14"})
    assert result.peer_action(PEER) == f"On the peer ({PEER}): set the new pre-shared key and the new IKE proposal."


def test_every_added_network_is_listed_even_500() -> None:
    added = [f"10.{i // 250}.{i % 250}.0/24" for i in range(500)]
    result = impact({"userGwCidrBlock": ", ".join(["192.168.1.0/24", *added])})
    (row,) = result.rows
    assert sorted(row.gained) == sorted(added)
    assert len(row.gained) == 500
    assert row.lost == ("192.168.2.0/24",)
    assert row.text == "500 networks gain the tunnel; 192.168.2.0/24 loses it"
    assert ChangeImpact.from_json(result.to_json()).rows[0].gained == row.gained


def test_spd_pairs_gain_and_lose_the_tunnel() -> None:
    result = impact({"spdAcl": "10.0.0.0/16: 192.168.1.0/24, 192.168.3.0/24, 192.168.4.0/24"})
    (row,) = result.rows
    assert row.gained == ("10.0.0.0/16 -> 192.168.3.0/24", "10.0.0.0/16 -> 192.168.4.0/24")
    assert row.lost == ("10.0.0.0/16 -> 192.168.2.0/24",)
    assert row.text == (
        "10.0.0.0/16 -> 192.168.3.0/24 and 10.0.0.0/16 -> 192.168.4.0/24 gain the tunnel; "
        "10.0.0.0/16 -> 192.168.2.0/24 loses it"
    )


def test_many_lost_spd_pairs_are_counted_in_the_text_and_all_kept() -> None:
    lost = tuple(f"10.0.0.0/16 -> 172.16.{i}.0/24" for i in range(7))
    row = impact_of([DiffRow("spdAcl", "SPD policy", "...", "...", removed=lost, size_before=8, size_after=1)]).rows[0]
    assert row.text == "7 SPD pairs lose the tunnel"
    assert row.lost == lost


def test_no_rows_is_no_impact() -> None:
    result = impact_of([])
    assert result.worst is Impact.NONE
    assert not result.needs_watch
    assert result.peer_action(PEER) == ""
    assert "no effect on traffic" in result.headline()


def test_a_row_vpnbot_does_not_know_counts_as_a_proposal_change() -> None:
    result = impact_of([DiffRow("IKESet.futureThing", "Future", "a", "b")])
    assert result.worst is Impact.PROPOSAL
    assert "IKESet.futureThing" in result.peer_action(PEER)


def test_json_round_trips() -> None:
    result = impact(
        {"preSharedKey": NEW_KEY, "userGwCidrBlock": "192.168.1.0/24, 10.2.0.0/24", "vpnConnName": "renamed"}
    )
    data = json.loads(json.dumps(result.to_json()))
    assert NEW_KEY not in json.dumps(data)
    assert ChangeImpact.from_json(data) == result


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: [],
        lambda d: {**d, "rows": None},
        lambda d: {**d, "worst": "CATASTROPHIC"},
        lambda d: {**d, "rows": ["preSharedKey"]},
        lambda d: {**d, "rows": [{**d["rows"][0], "impact": 4}]},
        lambda d: {**d, "rows": [{**d["rows"][0], "gained": "10.0.0.0/24"}]},
        lambda d: {**d, "rows": [{**d["rows"][0], "lost": [1]}]},
        lambda d: {**d, "rows": [{**d["rows"][0], "text": None}]},
    ],
)
def test_malformed_json_is_a_value_error(mutate: Any) -> None:
    data = impact({"userGwCidrBlock": "192.168.1.0/24, 10.2.0.0/24"}).to_json()
    with pytest.raises(ValueError, match="change impact"):
        ChangeImpact.from_json(mutate(data))
