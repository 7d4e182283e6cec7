"""ModifyVpnConnEx encoding (reference section 4), built from real DescribeVpnConn items and bot.vpn.edit.propose."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from items import FINGERPRINTS, item

from bot.tencent.wire import describe_params, modify_params, redacted, task_params
from bot.vpn.connection import VpnConnection, connection_from_describe
from bot.vpn.edit import propose
from bot.vpn.params import IKE_PARAMS, IPSEC_PARAMS

IDS = {"vpcId": "vpc-03vihbk9", "vpnGwId": "vpngw-kfldykuz", "vpnConnId": "vpnx-ol6bcqp0"}
CURRENT_PSK = "old-key-Xq93"
IKE_NAMES = {p.name for p in IKE_PARAMS if not p.api3_only}  # API 2.0 has no IKE version
IPSEC_NAMES = {p.name for p in IPSEC_PARAMS}

ITEM: dict[str, Any] = item(vpnConnName="office-gz", preSharedKey=CURRENT_PSK, destinationCidr=["10.100.1.0/24"])


def conn(**changes: Any) -> VpnConnection:
    """A connection normalised from a DescribeVpnConn item with top-level ``changes``."""
    return connection_from_describe({**copy.deepcopy(ITEM), **changes}, fingerprints=FINGERPRINTS)


def encode(edits: dict[str, str], connection: VpnConnection | None = None) -> dict[str, str]:
    connection = connection or conn()
    return modify_params(connection, propose(connection.settings, edits))


def keys_in(params: dict[str, str], prefix: str) -> set[str]:
    return {name for name in params if name.startswith(prefix)}


def test_seed_example_encodes_exactly_its_parameters() -> None:
    params = encode({"userGwCidrBlock": "10.100.2.0/24", "preSharedKey": "tencenttest"})
    assert params == {**IDS, "userGwCidrBlock.0": "10.100.2.0/24", "preSharedKey": "tencenttest"}


def test_ids_are_the_un_forms_even_when_numeric_ids_come_first() -> None:
    params = encode({"vpnConnName": "x"}, conn(vpcId=1, vpnGwId=2, vpnConnId=3))
    assert {k: params[k] for k in IDS} == IDS


def test_ike_change_sends_every_non_empty_ike_field_unindexed() -> None:
    params = encode({"IKESet.dhGroupName": "group14"})
    expected = {
        "IKESet.propoEncryAlgorithm": "aes-cbc-256",
        "IKESet.propoAuthenAlgorithm": "sha",
        "IKESet.exchangeMode": "main",
        "IKESet.localIdentity": "address",
        "IKESet.remoteIdentity": "address",
        "IKESet.localAddress": "203.0.113.10",
        "IKESet.remoteAddress": "198.51.100.20",
        "IKESet.dhGroupName": "group14",
        "IKESet.ikeSaLifetimeSeconds": "86400",
    }
    assert {k: v for k, v in params.items() if k.startswith("IKESet.")} == expected
    assert not keys_in(params, "IPsecSet.")
    assert "IKESet.localFqdnName" not in params
    assert "IKESet.remoteFqdnName" not in params


def test_ike_identity_change_sends_the_fqdn_and_keeps_the_merged_block() -> None:
    params = encode({"IKESet.localIdentity": "fqdn", "IKESet.localFqdnName": "vpn.example.com"})
    assert keys_in(params, "IKESet.") == IKE_NAMES - {"IKESet.remoteFqdnName"}
    assert params["IKESet.localIdentity"] == "fqdn"
    assert params["IKESet.localFqdnName"] == "vpn.example.com"
    assert params["IKESet.remoteAddress"] == "198.51.100.20"


def test_ipsec_change_through_the_seed_alias_is_sent_as_ipsecset() -> None:
    params = encode({"IKESet.encryptAlgorithm": "aes-cbc-256"})
    assert {k: v for k, v in params.items() if k.startswith("IPsecSet.")} == {
        "IPsecSet.encryptAlgorithm": "aes-cbc-256",
        "IPsecSet.integrityAlgorith": "sha",
        "IPsecSet.ipsecSaLifetimeSeconds": "3600",
        "IPsecSet.ipsecSaLifetimeTraffic": "1843200",
        "IPsecSet.pfsDhGroup": "null",
    }
    assert not keys_in(params, "IKESet.")


def test_both_blocks_when_both_change() -> None:
    params = encode({"IKESet.exchangeMode": "aggressive", "IPsecSet.pfsDhGroup": "dh-group14"})
    assert keys_in(params, "IKESet.") == IKE_NAMES - {"IKESet.localFqdnName", "IKESet.remoteFqdnName"}
    assert keys_in(params, "IPsecSet.") == IPSEC_NAMES


def test_name_only_change_sends_the_current_spd_and_no_cidr_list() -> None:
    params = encode({"vpnConnName": "office-gz-2"})
    assert params == {**IDS, "vpnConnName": "office-gz-2", "spdAcl.0": '{"10.0.0.0/16":["10.100.1.0/24"]}'}


def test_spd_change_is_compact_json_one_object_per_vpc_cidr_sorted() -> None:
    spd = {"10.1.0.0/24": ["192.168.3.0/24"], "10.0.0.0/24": ["192.168.2.0/24", "192.168.1.0/24"]}
    params = encode({"spdAcl": json.dumps(spd, indent=2)})
    assert keys_in(params, "spdAcl") == {"spdAcl.0", "spdAcl.1"}
    assert params["spdAcl.0"] == '{"10.0.0.0/24":["192.168.1.0/24","192.168.2.0/24"]}'
    assert params["spdAcl.1"] == '{"10.1.0.0/24":["192.168.3.0/24"]}'
    assert not keys_in(params, "userGwCidrBlock")


def test_cidr_list_change_is_indexed_in_network_order() -> None:
    params = encode({"userGwCidrBlock": "10.10.0.0/24, 10.9.0.0/24 10.2.0.0/24"})
    assert [params[f"userGwCidrBlock.{i}"] for i in range(3)] == ["10.2.0.0/24", "10.9.0.0/24", "10.10.0.0/24"]
    assert not keys_in(params, "spdAcl")


def test_unchanged_key_is_not_sent() -> None:
    params = encode({"preSharedKey": CURRENT_PSK, "vpnConnName": "n"})
    assert "preSharedKey" not in params


def test_no_change_still_names_the_peer_networks() -> None:
    assert encode({}) == {**IDS, "spdAcl.0": '{"10.0.0.0/16":["10.100.1.0/24"]}'}


def test_without_vpc_side_cidrs_the_current_cidr_list_is_the_fallback() -> None:
    params = encode({"vpnConnName": "n"}, conn(sourceCidr=[], destinationCidr=["10.1.0.0/24", "10.0.0.0/24"]))
    assert {k: params[k] for k in keys_in(params, "userGwCidrBlock")} == {
        "userGwCidrBlock.0": "10.0.0.0/24",
        "userGwCidrBlock.1": "10.1.0.0/24",
    }
    assert not keys_in(params, "spdAcl")


@pytest.mark.parametrize("name", ["spdAcl", "userGwCidrBlock"])
def test_emptying_the_peer_networks_cannot_be_encoded(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        encode({name: ""})


def test_old_style_blocks_encode_the_same() -> None:
    old = conn(IKEArr=[ITEM["IKESet"]], IPSECArr=ITEM["IPsecSet"], IKESet=None, IPsecSet=None)
    assert encode({"IKESet.dhGroupName": "group5"}, old) == encode({"IKESet.dhGroupName": "group5"})


_CHOICE_EDITS = st.fixed_dictionaries(
    {},
    optional={
        "vpnConnName": st.sampled_from(["a", "office-gz", "b-2"]),
        "preSharedKey": st.sampled_from(["k1", CURRENT_PSK]),
        "IKESet.dhGroupName": st.sampled_from(["group2", "group14"]),
        "IKESet.ikeSaLifetimeSeconds": st.sampled_from(["86400", "3600"]),
        "IPsecSet.pfsDhGroup": st.sampled_from(["null", "dh-group5"]),
        "userGwCidrBlock": st.sampled_from(["10.100.1.0/24", "10.5.0.0/16"]),
    },
)


@given(_CHOICE_EDITS)
def test_invariants_over_random_edits(edits: dict[str, str]) -> None:
    connection = conn()
    proposal = propose(connection.settings, edits)
    changed = set(proposal.changed(connection.settings))
    params = modify_params(connection, proposal)
    assert all(isinstance(v, str) and v for v in params.values())
    assert IDS.items() <= params.items()
    assert bool(keys_in(params, "spdAcl.")) != bool(keys_in(params, "userGwCidrBlock."))
    assert ("preSharedKey" in params) == ("preSharedKey" in changed)
    assert bool(keys_in(params, "IKESet.")) == bool(changed & IKE_NAMES)
    assert bool(keys_in(params, "IPsecSet.")) == bool(changed & IPSEC_NAMES)
    assert ("vpnConnName" in params) == ("vpnConnName" in changed)


def test_redacted_hides_secrets_and_keeps_the_rest() -> None:
    params = {**encode({"preSharedKey": "tencenttest"}), "Token": "tok", "Signature": "sig=", "Nonce": "7"}
    shown = redacted(params)
    assert shown["preSharedKey"] == shown["Token"] == shown["Signature"] == "***"
    assert shown["Nonce"] == "7"
    assert shown["vpnConnId"] == "vpnx-ol6bcqp0"
    assert "tencenttest" not in json.dumps(shown)
    assert params["preSharedKey"] == "tencenttest"


def test_describe_params_filters_and_page() -> None:
    assert describe_params() == {"offset": "0", "limit": "50"}
    assert describe_params(vpn_conn_id="vpnx-1", vpc_id="vpc-1", vpn_gw_id="vpngw-1", name="of", offset=50) == {
        "vpnConnId": "vpnx-1",
        "vpcId": "vpc-1",
        "vpnGwId": "vpngw-1",
        "vpnConnName": "of",
        "offset": "50",
        "limit": "50",
    }
    bad: list[dict[str, Any]] = [{"limit": 51}, {"limit": 0}, {"offset": -1}]
    for options in bad:
        with pytest.raises(ValueError, match="limit"):
            describe_params(**options)


def test_task_params() -> None:
    assert task_params(12614) == {"taskId": "12614"}
