"""Realistic DescribeVpnConn items, shaped as the API 2.0 returns them (strings for numbers, sha1, IKEArr...)."""

from __future__ import annotations

import copy
from typing import Any

from bot.vpn.connection import SecretFingerprints, VpnConnection, connection_from_describe

FINGERPRINTS = SecretFingerprints.random()
"""The fingerprinter of the connections these helpers read (a cloud client has its own)."""

SEED_ITEM: dict[str, Any] = {
    "vpcId": 1001,
    "unVpcId": "vpc-03vihbk9",
    "vpcName": "prod-gz",
    "vpnGwId": 2001,
    "unVpnGwId": "vpngw-kfldykuz",
    "vpnGwName": "gw-prod",
    "vpnConnId": 3001,
    "unVpnConnId": "vpnx-ol6bcqp0",
    "vpnConnName": "office-shanghai",
    "userGwId": 315,
    "unUserGwId": "cgw-3tq6x0f1",
    "userGwName": "shanghai-office-fw",
    "vpnGwAddress": "203.0.113.10",
    "userGwAddress": "198.51.100.20",
    "preSharedKey": "current-key-1",
    "sourceCidr": ["10.0.0.0/16"],
    "destinationCidr": ["192.168.1.0/24", "192.168.2.0/24"],
    "vpcConnStatus": "6",
    "netStatus": "available",
    "createTime": "2015-11-06 11:20:39",
    "vpnProto": "ipsec",
    "IKESet": {
        "propoEncryAlgorithm": "aes-cbc-256",
        "propoAuthenAlgorithm": "sha1",
        "exchangeMode": "main",
        "localIdentity": "address",
        "remoteIdentity": "address",
        "localAddress": "203.0.113.10",
        "remoteAddress": "198.51.100.20",
        "localFqdnName": "",
        "remoteFqdnName": "",
        "dhGroupName": "group2",
        "ikeSaLifetimeSeconds": "86400",
    },
    "IPsecSet": {
        "encryptAlgorithm": "aes-cbc-128",
        "integrityAlgorith": "sha1",
        "encapMode": "tunnel",
        "securityProto": "esp",
        "pfsDhGroup": "null",
        "ipsecSaLifetimeSeconds": "3600",
        "ipsecSaLifetimeTraffic": "1843200",
    },
}


def item(**changes: Any) -> dict[str, Any]:
    """A copy of the seed's item with top-level changes applied."""
    result = copy.deepcopy(SEED_ITEM)
    result.update(changes)
    return result


def connection(**changes: Any) -> VpnConnection:
    return connection_from_describe(item(**changes), fingerprints=FINGERPRINTS)
