"""API 3.0 mapping (bot.tencent.wire_v3): realistic DescribeVpnConnections items into the domain, proposals out to
ModifyVpnConnectionAttribute, and the values the seed cannot express."""

from __future__ import annotations

import copy
import ipaddress
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from items import FINGERPRINTS

from bot.tencent.wire_v3 import (
    DESCRIBE_LIMIT_MAX,
    IKE_FIELDS,
    IPSEC_FIELDS,
    describe_payload,
    from_v3_enum,
    item_to_v2,
    modify_payload,
    read_connection,
    task_payload,
    to_v3_enum,
)
from bot.vpn.connection import CloudDataError, VpnConnection, connection_from_describe
from bot.vpn.diff import not_live
from bot.vpn.edit import propose
from bot.vpn.params import (
    PARAMS,
    PARAMS_BY_NAME,
    InvalidParametersError,
    Kind,
    SpdPolicy,
    ValueSets,
    parse_cidr,
    shown_value,
)

CURRENT_PSK = "old-key-Xq93-v3"

# A VpnConnectionSet item as DescribeVpnConnections returns it (field set of the API's VpnConnection structure).
ITEM: dict[str, Any] = {
    "VpnConnectionId": "vpnx-ol6bcqp0",
    "VpnConnectionName": "office-gz",
    "VpcId": "vpc-03vihbk9",
    "VpnGatewayId": "vpngw-kfldykuz",
    "CustomerGatewayId": "cgw-3tq6x0f1",
    "PreShareKey": CURRENT_PSK,
    "VpnProto": "IPSEC",
    "EncryptProto": "IKE/IPSec",
    "RouteType": "STATIC",
    "CreatedTime": "2019-02-25 12:00:00",
    "State": "AVAILABLE",
    "NetStatus": "AVAILABLE",
    "SecurityPolicyDatabaseSet": [
        {"LocalCidrBlock": "10.0.0.0/16", "RemoteCidrBlock": ["192.168.1.0/24", "192.168.2.0/24"]},
    ],
    "IKEOptionsSpecification": {
        "PropoEncryAlgorithm": "AES-CBC-256",
        "PropoAuthenAlgorithm": "SHA",
        "ExchangeMode": "MAIN",
        "LocalIdentity": "ADDRESS",
        "RemoteIdentity": "ADDRESS",
        "LocalAddress": "203.0.113.10",
        "RemoteAddress": "198.51.100.20",
        "LocalFqdnName": "",
        "RemoteFqdnName": "",
        "DhGroupName": "GROUP2",
        "IKESaLifetimeSeconds": 86400,
        "IKEVersion": "IKEV1",
    },
    "IPSECOptionsSpecification": {
        "EncryptAlgorithm": "AES-CBC-128",
        "IntegrityAlgorith": "SHA1",
        "IPSECSaLifetimeSeconds": 3600,
        "PfsDhGroup": "NULL",
        "IPSECSaLifetimeTraffic": 1843200,
    },
    "EnableHealthCheck": False,
    "HealthCheckLocalIp": "",
    "HealthCheckRemoteIp": "",
    "HealthCheckStatus": "",
    "DpdEnable": 0,
    "DpdTimeout": "30",
    "DpdAction": "clear",
    "TagSet": [],
    "NegotiationType": "active",
}


def item(**changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(ITEM)
    result.update(changes)
    return result


def with_block(block: str, **fields: Any) -> dict[str, Any]:
    result = item()
    result[block].update(fields)
    return result


def conn(raw: dict[str, Any] | None = None) -> VpnConnection:
    return read_connection(raw if raw is not None else item(), fingerprints=FINGERPRINTS)


def encode(edits: dict[str, str], connection: VpnConnection | None = None) -> dict[str, Any]:
    connection = connection or conn()
    return modify_payload(connection, propose(connection.settings, edits))


# --- reading: item_to_v2 + connection_from_describe ---------------------------------------------------------------


def test_item_becomes_the_api_2_shape() -> None:
    v2 = item_to_v2(item())
    assert v2 == {
        "unVpnConnId": "vpnx-ol6bcqp0",
        "unVpcId": "vpc-03vihbk9",
        "unVpnGwId": "vpngw-kfldykuz",
        "unUserGwId": "cgw-3tq6x0f1",
        "vpnConnName": "office-gz",
        "preSharedKey": CURRENT_PSK,
        "vpnProto": "ipsec",
        "sourceCidr": ["10.0.0.0/16"],
        "spdAcl": [{"10.0.0.0/16": ["192.168.1.0/24", "192.168.2.0/24"]}],
        "routeType": "STATIC",
        "vpcConnStatus": 6,
        "netStatus": "available",
        "createTime": "2019-02-25 12:00:00",
        "IKESet": {
            "propoEncryAlgorithm": "aes-cbc-256",
            "propoAuthenAlgorithm": "sha",
            "exchangeMode": "main",
            "localIdentity": "address",
            "remoteIdentity": "address",
            "localAddress": "203.0.113.10",
            "remoteAddress": "198.51.100.20",
            "localFqdnName": "",
            "remoteFqdnName": "",
            "dhGroupName": "group2",
            "ikeSaLifetimeSeconds": 86400,
            "ikeVersion": "ikev1",
        },
        "IPsecSet": {
            "encryptAlgorithm": "aes-cbc-128",
            "integrityAlgorith": "sha",
            "ipsecSaLifetimeSeconds": 3600,
            "pfsDhGroup": "null",
            "ipsecSaLifetimeTraffic": 1843200,
        },
    }


def test_item_normalises_like_the_api_2_item_of_the_same_connection() -> None:
    connection = conn()
    v2_item = {
        "unVpcId": "vpc-03vihbk9",
        "unVpnGwId": "vpngw-kfldykuz",
        "unVpnConnId": "vpnx-ol6bcqp0",
        "unUserGwId": "cgw-3tq6x0f1",
        "vpnConnName": "office-gz",
        "preSharedKey": CURRENT_PSK,
        "sourceCidr": ["10.0.0.0/16"],
        "destinationCidr": ["192.168.2.0/24", "192.168.1.0/24"],
        "vpcConnStatus": "6",
        "netStatus": "available",
        "createTime": "2019-02-25 12:00:00",
        "IKESet": {
            "propoEncryAlgorithm": "aes-cbc-256",
            "propoAuthenAlgorithm": "sha1",
            "exchangeMode": "main",
            "localIdentity": "address",
            "remoteIdentity": "address",
            "localAddress": "203.0.113.10",
            "remoteAddress": "198.51.100.20",
            "dhGroupName": "group2",
            "ikeSaLifetimeSeconds": "86400",
        },
        "IPsecSet": {
            "encryptAlgorithm": "aes-cbc-128",
            "integrityAlgorith": "sha1",
            "pfsDhGroup": "null",
            "ipsecSaLifetimeSeconds": "3600",
            "ipsecSaLifetimeTraffic": "1843200",
        },
    }
    read_v2 = connection_from_describe(v2_item, fingerprints=FINGERPRINTS).settings
    assert {**connection.settings.values, "IKESet.ikeVersion": ""} == read_v2.values  # API 2.0 reports no version
    assert connection.settings.psk_fingerprint == read_v2.psk_fingerprint
    assert (connection.settings.value_sets, read_v2.value_sets) == (ValueSets.API3, ValueSets.SEED)
    assert (connection.vpn_conn_id, connection.vpc_id, connection.vpn_gw_id, connection.user_gw_id) == (
        "vpnx-ol6bcqp0",
        "vpc-03vihbk9",
        "vpngw-kfldykuz",
        "cgw-3tq6x0f1",
    )
    assert (connection.status, connection.status_text, connection.net_status) == (6, "normal", "available")
    assert connection.settings.psk_fingerprint == FINGERPRINTS.of(CURRENT_PSK)
    assert CURRENT_PSK not in repr(connection)


@pytest.mark.parametrize(
    ("state", "status", "text"),
    [
        ("AVAILABLE", 6, "normal"),
        ("PENDING", 2, "modifying"),
        ("DELETING", 4, "deleting"),
        ("available", 6, "normal"),
        ("SOMETHING_NEW", 2, "modifying"),
        (None, 6, "normal"),
    ],
)
def test_state_to_vpc_conn_status(state: str | None, status: int, text: str) -> None:
    raw = item(State=state) if state is not None else {k: v for k, v in ITEM.items() if k != "State"}
    connection = conn(raw)
    assert (connection.status, connection.status_text) == (status, text)


def test_net_status_is_lower_cased() -> None:
    assert conn(item(NetStatus="UNAVAILABLE")).net_status == "unavailable"


def test_the_spd_is_read_as_pairs_never_flattened() -> None:
    """``{A: [X], B: [Y]}`` stays that: flattened it would read as A, B x X, Y, a wider policy."""
    spd = [
        {"LocalCidrBlock": "10.1.0.0/24", "RemoteCidrBlock": ["192.168.3.0/24"]},
        {"LocalCidrBlock": "10.0.0.0/24", "RemoteCidrBlock": ["192.168.1.0/24", "192.168.2.0/24"]},
        {"LocalCidrBlock": "10.0.0.0/24", "RemoteCidrBlock": "192.168.1.0/24"},
    ]
    settings = conn(item(SecurityPolicyDatabaseSet=spd)).settings
    assert settings.spd() == SpdPolicy.of(
        {
            parse_cidr("10.0.0.0/24"): [parse_cidr("192.168.1.0/24"), parse_cidr("192.168.2.0/24")],
            parse_cidr("10.1.0.0/24"): [parse_cidr("192.168.3.0/24")],
        }
    )
    assert (parse_cidr("10.1.0.0/24"), parse_cidr("192.168.1.0/24")) not in settings.spd().pairs()
    assert settings.cidrs() == {parse_cidr(f"192.168.{i}.0/24") for i in (1, 2, 3)}
    assert not settings.spd_uniform


def test_no_spd_reads_as_no_peer_networks() -> None:
    settings = conn(item(SecurityPolicyDatabaseSet=[])).settings
    assert settings.cidrs() == frozenset()
    assert settings.spd() == SpdPolicy()


@pytest.mark.parametrize(
    ("block", "field", "value", "name", "expected"),
    [
        ("IKEOptionsSpecification", "PropoEncryAlgorithm", "SM4", "IKESet.propoEncryAlgorithm", "sm4"),
        (
            "IKEOptionsSpecification",
            "PropoEncryAlgorithm",
            "AES256GCM128",
            "IKESet.propoEncryAlgorithm",
            "aes256gcm128",
        ),
        ("IKEOptionsSpecification", "PropoAuthenAlgorithm", "SHA-512", "IKESet.propoAuthenAlgorithm", "sha-512"),
        ("IKEOptionsSpecification", "DhGroupName", "GROUP20", "IKESet.dhGroupName", "group20"),
        ("IKEOptionsSpecification", "IKEVersion", "IKEV2", "IKESet.ikeVersion", "ikev2"),
        ("IPSECOptionsSpecification", "EncryptAlgorithm", "AES128GCM128", "IPsecSet.encryptAlgorithm", "aes128gcm128"),
        ("IPSECOptionsSpecification", "IntegrityAlgorith", "SM3", "IPsecSet.integrityAlgorith", "sm3"),
        ("IPSECOptionsSpecification", "IntegrityAlgorith", "SHA-384", "IPsecSet.integrityAlgorith", "sha-384"),
        ("IPSECOptionsSpecification", "PfsDhGroup", "DH-GROUP21", "IPsecSet.pfsDhGroup", "dh-group21"),
    ],
)
def test_todays_values_are_read(block: str, field: str, value: str, name: str, expected: str) -> None:
    settings = conn(with_block(block, **{field: value})).settings
    assert settings[name] == expected
    assert PARAMS_BY_NAME[name].knows(settings[name])
    assert expected in PARAMS_BY_NAME[name].offered(ValueSets.API3)
    assert expected not in PARAMS_BY_NAME[name].offered(ValueSets.SEED)


def test_a_value_nobody_knows_is_read_shown_as_such_and_sent_back_as_it_was() -> None:
    connection = conn(with_block("IKEOptionsSpecification", PropoEncryAlgorithm="AES512XTS"))
    param = PARAMS_BY_NAME["IKESet.propoEncryAlgorithm"]
    assert connection.settings[param.name] == "AES512XTS"
    assert not param.knows("AES512XTS")
    assert shown_value(param, "AES512XTS") == "AES512XTS (unknown to vpnbot: kept as it is)"
    payload = modify_payload(connection, propose(connection.settings, {"IKESet.dhGroupName": "group20"}))
    assert payload["IKEOptionsSpecification"]["PropoEncryAlgorithm"] == "AES512XTS"
    assert payload["IKEOptionsSpecification"]["DhGroupName"] == "GROUP20"


def test_an_integrity_algorithm_that_comes_back_null_is_not_reported_and_not_sent() -> None:
    connection = conn(with_block("IPSECOptionsSpecification", IntegrityAlgorith=None))
    param = PARAMS_BY_NAME["IPsecSet.integrityAlgorith"]
    assert connection.settings[param.name] == ""
    assert shown_value(param, "") == "(not reported)"
    payload = modify_payload(connection, propose(connection.settings, {"IPsecSet.pfsDhGroup": "dh-group14"}))
    assert "IntegrityAlgorith" not in payload["IPSECOptionsSpecification"]


@pytest.mark.parametrize(
    ("block", "field", "value", "seed_name", "expected"),
    [
        ("IKEOptionsSpecification", "PropoAuthenAlgorithm", "SHA1", "propoAuthenAlgorithm", "sha"),
        ("IKEOptionsSpecification", "PropoAuthenAlgorithm", "md5", "propoAuthenAlgorithm", "md5"),
        ("IKEOptionsSpecification", "PropoEncryAlgorithm", "AES-CBS-192", "propoEncryAlgorithm", "aes-cbc-192"),
        ("IKEOptionsSpecification", "ExchangeMode", "AGGRESSIVE", "exchangeMode", "aggressive"),
        ("IPSECOptionsSpecification", "IntegrityAlgorith", "SHA", "integrityAlgorith", "sha"),
        ("IPSECOptionsSpecification", "EncryptAlgorithm", "NULL", "encryptAlgorithm", "null"),
        ("IPSECOptionsSpecification", "PfsDhGroup", "DH-GROUP14", "pfsDhGroup", "dh-group14"),
    ],
)
def test_enum_synonyms_and_case_on_read(block: str, field: str, value: str, seed_name: str, expected: str) -> None:
    v2 = item_to_v2(with_block(block, **{field: value}))
    assert v2["IKESet" if block.startswith("IKE") else "IPsecSet"][seed_name] == expected


def test_a_missing_ike_version_is_not_reported() -> None:
    raw = item()
    del raw["IKEOptionsSpecification"]["IKEVersion"]
    assert conn(raw).settings["IKESet.ikeVersion"] == ""
    assert conn().settings["IKESet.ikeVersion"] == "ikev1"


def test_fqdn_identity_reads() -> None:
    raw = with_block(
        "IKEOptionsSpecification", LocalIdentity="FQDN", LocalFqdnName="vpn.example.com", LocalAddress=None
    )
    settings = conn(raw).settings
    assert settings["IKESet.localIdentity"] == "fqdn"
    assert settings["IKESet.localFqdnName"] == "vpn.example.com"
    assert settings["IKESet.localAddress"] == ""


@pytest.mark.parametrize("missing", ["VpnConnectionId", "VpcId", "VpnGatewayId"])
def test_missing_ids_name_the_api_3_field(missing: str) -> None:
    with pytest.raises(CloudDataError, match=missing):
        item_to_v2({k: v for k, v in ITEM.items() if k != missing})


@pytest.mark.parametrize("block", ["IKEOptionsSpecification", "IPSECOptionsSpecification"])
def test_missing_block_names_it(block: str) -> None:
    with pytest.raises(CloudDataError, match=block):
        item_to_v2(item(**{block: None}))


@pytest.mark.parametrize(
    "spd",
    ["10.0.0.0/16", [{"RemoteCidrBlock": ["10.0.0.0/24"]}], [{"LocalCidrBlock": "10.0.0.0/16", "RemoteCidrBlock": 5}]],
)
def test_malformed_spd_names_it(spd: Any) -> None:
    with pytest.raises(CloudDataError, match="SecurityPolicyDatabaseSet"):
        item_to_v2(item(SecurityPolicyDatabaseSet=spd))


# --- enums both ways ----------------------------------------------------------------------------------------------

CHOICE_PARAMS = [p for p in PARAMS if p.kind is Kind.CHOICE]


@pytest.mark.parametrize("param", CHOICE_PARAMS, ids=lambda p: p.name)
def test_every_seed_enum_value_round_trips(param: Any) -> None:
    for value in param.choices:
        wire = to_v3_enum(param.name, value)
        assert wire == wire.upper()
        assert from_v3_enum(param.name, "Field", wire) == value


def test_documented_spellings_out() -> None:
    assert to_v3_enum("IKESet.propoAuthenAlgorithm", "sha") == "SHA"
    assert to_v3_enum("IPsecSet.integrityAlgorith", "sha") == "SHA1"
    assert to_v3_enum("IPsecSet.encryptAlgorithm", "null") == "NULL"
    assert to_v3_enum("IPsecSet.pfsDhGroup", "dh-group14") == "DH-GROUP14"
    assert to_v3_enum("IKESet.dhGroupName", "group14") == "GROUP14"
    assert to_v3_enum("IKESet.propoEncryAlgorithm", "3des-cbc") == "3DES-CBC"
    assert to_v3_enum("IKESet.localIdentity", "fqdn") == "FQDN"


# --- writing: modify_payload --------------------------------------------------------------------------------------


def test_seed_example_sends_the_key_and_one_spd_entry_per_current_vpc_cidr() -> None:
    payload = encode({"userGwCidrBlock": "10.100.2.0/24", "preSharedKey": "tencenttest"})
    assert payload == {
        "VpnConnectionId": "vpnx-ol6bcqp0",
        "PreShareKey": "tencenttest",
        "SecurityPolicyDatabases": [{"LocalCidrBlock": "10.0.0.0/16", "RemoteCidrBlock": ["10.100.2.0/24"]}],
    }


def test_cidr_list_change_pairs_every_current_vpc_cidr_with_the_new_remotes_when_they_share_one_list() -> None:
    spd = [
        {"LocalCidrBlock": "10.1.0.0/24", "RemoteCidrBlock": ["192.168.3.0/24"]},
        {"LocalCidrBlock": "10.0.0.0/24", "RemoteCidrBlock": ["192.168.3.0/24"]},
    ]
    connection = conn(item(SecurityPolicyDatabaseSet=spd))
    payload = encode({"userGwCidrBlock": "172.16.1.0/24, 172.16.0.0/24"}, connection)
    remotes = ["172.16.0.0/24", "172.16.1.0/24"]
    assert payload["SecurityPolicyDatabases"] == [
        {"LocalCidrBlock": "10.0.0.0/24", "RemoteCidrBlock": remotes},
        {"LocalCidrBlock": "10.1.0.0/24", "RemoteCidrBlock": remotes},
    ]
    assert set(payload) == {"VpnConnectionId", "SecurityPolicyDatabases"}


def test_a_cidr_list_change_that_would_widen_a_two_rule_spd_is_refused_naming_spdacl() -> None:
    """``{A: [X], B: [Y]}``: one list for both would let A reach Y and B reach X."""
    spd = [
        {"LocalCidrBlock": "10.1.0.0/24", "RemoteCidrBlock": ["192.168.3.0/24"]},
        {"LocalCidrBlock": "10.0.0.0/24", "RemoteCidrBlock": ["192.168.1.0/24"]},
    ]
    connection = conn(item(SecurityPolicyDatabaseSet=spd))
    with pytest.raises(InvalidParametersError) as refused:
        propose(connection.settings, {"userGwCidrBlock": "172.16.0.0/24"})
    assert set(refused.value.problems) == {"userGwCidrBlock"}
    assert "edit spdAcl instead" in refused.value.problems["userGwCidrBlock"]
    payload = encode({"spdAcl": "10.0.0.0/24: 172.16.0.0/24\n10.1.0.0/24: 192.168.3.0/24"}, connection)
    assert payload["SecurityPolicyDatabases"] == [
        {"LocalCidrBlock": "10.0.0.0/24", "RemoteCidrBlock": ["172.16.0.0/24"]},
        {"LocalCidrBlock": "10.1.0.0/24", "RemoteCidrBlock": ["192.168.3.0/24"]},
    ]


@pytest.mark.parametrize("route_type", ["StaticRoute", "Bgp", "BGP"])
def test_a_route_based_tunnel_has_no_spd_to_edit(route_type: str) -> None:
    connection = conn(item(RouteType=route_type))
    assert connection.settings.route_based
    for name, text in (("userGwCidrBlock", "172.16.0.0/24"), ("spdAcl", "10.0.0.0/16: 172.16.0.0/24")):
        with pytest.raises(InvalidParametersError) as refused:
            propose(connection.settings, {name: text})
        assert f"route-based (RouteType {route_type})" in refused.value.problems[name]
    assert set(encode({"vpnConnName": "renamed"}, connection)) == {"VpnConnectionId", "VpnConnectionName"}


def test_cidr_list_change_without_a_vpc_side_cidr_cannot_be_sent() -> None:
    connection = conn(item(SecurityPolicyDatabaseSet=[]))
    with pytest.raises(ValueError, match="userGwCidrBlock"):
        encode({"userGwCidrBlock": "10.1.0.0/24"}, connection)


def test_spd_change_is_sent_as_its_rules_sorted() -> None:
    spd = {"10.1.0.0/24": ["192.168.3.0/24"], "10.0.0.0/24": ["192.168.2.0/24", "192.168.1.0/24"]}
    payload = encode({"spdAcl": json.dumps(spd)})
    assert payload == {
        "VpnConnectionId": "vpnx-ol6bcqp0",
        "SecurityPolicyDatabases": [
            {"LocalCidrBlock": "10.0.0.0/24", "RemoteCidrBlock": ["192.168.1.0/24", "192.168.2.0/24"]},
            {"LocalCidrBlock": "10.1.0.0/24", "RemoteCidrBlock": ["192.168.3.0/24"]},
        ],
    }


def test_name_only_change_sends_only_the_name() -> None:
    assert encode({"vpnConnName": "广州-上海"}) == {
        "VpnConnectionId": "vpnx-ol6bcqp0",
        "VpnConnectionName": "广州-上海",
    }


def test_no_change_sends_only_the_id() -> None:
    assert encode({}) == {"VpnConnectionId": "vpnx-ol6bcqp0"}
    assert encode({"preSharedKey": CURRENT_PSK}) == {"VpnConnectionId": "vpnx-ol6bcqp0"}


def test_ike_change_sends_the_whole_block_in_api_3_spelling() -> None:
    payload = encode({"IKESet.dhGroupName": "group14"})
    assert payload == {
        "VpnConnectionId": "vpnx-ol6bcqp0",
        "IKEOptionsSpecification": {
            "PropoEncryAlgorithm": "AES-CBC-256",
            "PropoAuthenAlgorithm": "SHA",
            "ExchangeMode": "MAIN",
            "LocalIdentity": "ADDRESS",
            "RemoteIdentity": "ADDRESS",
            "LocalAddress": "203.0.113.10",
            "RemoteAddress": "198.51.100.20",
            "DhGroupName": "GROUP14",
            "IKESaLifetimeSeconds": 86400,
            "IKEVersion": "IKEV1",
        },
    }
    assert type(payload["IKEOptionsSpecification"]["IKESaLifetimeSeconds"]) is int


def test_todays_values_are_chosen_and_sent_in_api_3_spelling() -> None:
    edits = {
        "IKESet.propoEncryAlgorithm": "aes256gcm128",
        "IKESet.propoAuthenAlgorithm": "SHA-512",
        "IKESet.dhGroupName": "group20",
        "IKESet.ikeVersion": "IKEv2",
        "IPsecSet.integrityAlgorith": "sm3",
        "IPsecSet.pfsDhGroup": "dh-group21",
    }
    payload = encode(edits)
    ike, ipsec = payload["IKEOptionsSpecification"], payload["IPSECOptionsSpecification"]
    assert (ike["PropoEncryAlgorithm"], ike["PropoAuthenAlgorithm"], ike["DhGroupName"], ike["IKEVersion"]) == (
        "AES256GCM128",
        "SHA-512",
        "GROUP20",
        "IKEV2",
    )
    assert (ipsec["IntegrityAlgorith"], ipsec["PfsDhGroup"]) == ("SM3", "DH-GROUP21")


def test_api_2_connections_offer_the_seeds_values_only() -> None:
    v2 = connection_from_describe(item_to_v2(item()), fingerprints=FINGERPRINTS)  # read as API 2.0 would
    with pytest.raises(InvalidParametersError) as refused:
        propose(v2.settings, {"IKESet.dhGroupName": "group20", "IKESet.ikeVersion": "ikev2"})
    assert "API 3.0 only" in refused.value.problems["IKESet.dhGroupName"]
    assert "API 3.0 only" in refused.value.problems["IKESet.ikeVersion"]


def test_ike_identity_change_sends_the_fqdn() -> None:
    block = encode({"IKESet.remoteIdentity": "fqdn", "IKESet.remoteFqdnName": "idc.example.com"})[
        "IKEOptionsSpecification"
    ]
    assert (block["RemoteIdentity"], block["RemoteFqdnName"]) == ("FQDN", "idc.example.com")
    assert "LocalFqdnName" not in block
    assert set(block) == set(IKE_FIELDS.values()) - {"LocalFqdnName"}


def test_ipsec_change_sends_the_whole_block_in_api_3_spelling() -> None:
    payload = encode({"IKESet.encryptAlgorithm": "null", "IPsecSet.pfsDhGroup": "dh-group14"})
    assert payload == {
        "VpnConnectionId": "vpnx-ol6bcqp0",
        "IPSECOptionsSpecification": {
            "EncryptAlgorithm": "NULL",
            "IntegrityAlgorith": "SHA1",
            "IPSECSaLifetimeSeconds": 3600,
            "IPSECSaLifetimeTraffic": 1843200,
            "PfsDhGroup": "DH-GROUP14",
        },
    }


def test_both_blocks_and_everything_at_once() -> None:
    payload = encode(
        {
            "vpnConnName": "n",
            "preSharedKey": "k-new",
            "spdAcl": '{"10.0.0.0/16":["192.168.9.0/24"]}',
            "IKESet.exchangeMode": "aggressive",
            "IPsecSet.integrityAlgorith": "md5",
        }
    )
    assert set(payload) == {
        "VpnConnectionId",
        "VpnConnectionName",
        "PreShareKey",
        "SecurityPolicyDatabases",
        "IKEOptionsSpecification",
        "IPSECOptionsSpecification",
    }
    assert payload["IKEOptionsSpecification"]["ExchangeMode"] == "AGGRESSIVE"
    assert payload["IPSECOptionsSpecification"]["IntegrityAlgorith"] == "MD5"
    assert set(payload["IPSECOptionsSpecification"]) == set(IPSEC_FIELDS.values())


def test_payload_round_trips_through_an_item() -> None:
    """What modify_payload sends, applied to the item as the service would, reads back as every proposed value
    (the bot's own verification, ``not_live``, finds nothing missing)."""
    connection = conn()
    edits = {
        "vpnConnName": "office-gz-2",
        "userGwCidrBlock": "10.9.0.0/24",
        "IKESet.propoEncryAlgorithm": "aes-cbc-192",
        "IKESet.localIdentity": "fqdn",
        "IKESet.localFqdnName": "gw.example.com",
        "IPsecSet.ipsecSaLifetimeTraffic": "2560",
        "IPsecSet.integrityAlgorith": "md5",
    }
    proposal = propose(connection.settings, edits)
    payload = modify_payload(connection, proposal)
    after = item(VpnConnectionName=payload["VpnConnectionName"])
    after["SecurityPolicyDatabaseSet"] = payload["SecurityPolicyDatabases"]
    after["IKEOptionsSpecification"] = payload["IKEOptionsSpecification"]
    after["IPSECOptionsSpecification"] = payload["IPSECOptionsSpecification"]
    changed = proposal.changed(connection.settings)
    assert len(changed) == len(edits)
    assert not_live(proposal, changed, conn(after).settings) == []


def test_emptying_the_spd_cannot_be_encoded() -> None:
    with pytest.raises(ValueError, match="spdAcl"):
        encode({"spdAcl": ""})


_EDITS = st.fixed_dictionaries(
    {},
    optional={
        "vpnConnName": st.sampled_from(["a", "office-gz", "连接-2"]),
        "preSharedKey": st.sampled_from(["k1", CURRENT_PSK]),
        "IKESet.dhGroupName": st.sampled_from(["group2", "group14"]),
        "IKESet.ikeSaLifetimeSeconds": st.sampled_from(["86400", "3600"]),
        "IPsecSet.pfsDhGroup": st.sampled_from(["null", "dh-group5"]),
        "IPsecSet.encryptAlgorithm": st.sampled_from(["aes-cbc-128", "null"]),
        "userGwCidrBlock": st.sampled_from(["192.168.1.0/24,192.168.2.0/24", "10.5.0.0/16"]),
    },
)


@given(_EDITS)
def test_invariants_over_random_edits(edits: dict[str, str]) -> None:
    connection = conn()
    proposal = propose(connection.settings, edits)
    changed = set(proposal.changed(connection.settings))
    payload = modify_payload(connection, proposal)
    assert payload["VpnConnectionId"] == "vpnx-ol6bcqp0"
    assert ("VpnConnectionName" in payload) == ("vpnConnName" in changed)
    assert ("PreShareKey" in payload) == ("preSharedKey" in changed)
    assert ("SecurityPolicyDatabases" in payload) == ("userGwCidrBlock" in changed)
    assert ("IKEOptionsSpecification" in payload) == any(n.startswith("IKESet.") for n in changed)
    assert ("IPSECOptionsSpecification" in payload) == any(n.startswith("IPsecSet.") for n in changed)
    for entry in payload.get("SecurityPolicyDatabases", []):
        ipaddress.IPv4Network(entry["LocalCidrBlock"])
        assert entry["RemoteCidrBlock"] == sorted(entry["RemoteCidrBlock"], key=ipaddress.IPv4Network)
    json.dumps(payload, ensure_ascii=False)  # JSON-ready as it is


# --- reads --------------------------------------------------------------------------------------------------------


def test_describe_payload_by_id_and_by_filters() -> None:
    assert describe_payload(vpn_conn_id="vpnx-1") == {"VpnConnectionIds": ["vpnx-1"], "Offset": 0, "Limit": 100}
    assert describe_payload() == {"Offset": 0, "Limit": 100}
    assert describe_payload(vpc_id="vpc-1", vpn_gw_id="vpngw-1", name="office", offset=100, limit=5) == {
        "Filters": [
            {"Name": "vpc-id", "Values": ["vpc-1"]},
            {"Name": "vpn-gateway-id", "Values": ["vpngw-1"]},
            {"Name": "vpn-connection-name", "Values": ["office"]},
        ],
        "Offset": 100,
        "Limit": 5,
    }
    assert DESCRIBE_LIMIT_MAX == 100


@pytest.mark.parametrize(
    "options", [{"limit": 101}, {"limit": 0}, {"offset": -1}, {"vpn_conn_id": "vpnx-1", "vpc_id": "vpc-1"}]
)
def test_describe_payload_refuses(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"limit|not both"):
        describe_payload(**options)


def test_task_payload_is_a_string() -> None:
    assert task_payload("3c140219-cfe9-470e-b241-907877d6fb03") == {"TaskId": "3c140219-cfe9-470e-b241-907877d6fb03"}
    assert task_payload(12614) == {"TaskId": "12614"}
