"""The peer's half of a change (``bot.vpn.peer``), checked against the grammar, the vendors' keywords and strongSwan.

strongSwan itself: one private charon per test session (per xdist worker; see ``strongswan.Charon``) loads every
generated fragment with ``swanctl --load-conns`` and ``--load-creds``; ``swanctl --list-conns`` and charon's own
log (which prints each proposal as it parsed it) are compared with what the settings meant. Without strongSwan
these tests skip, saying how to install it, except on CI (``CI`` set), which installs it (.ci/run) and so fails.

Always: every fragment parses under swanctl.conf's documented syntax (``strongswan.parse_settings``) and holds the
keywords of the reference mapping (/work/shared/reference/ipsec.md), IOS output uses only the IOS keywords listed
here and one ACL line per SPD pair, the key never appears, and hostile cloud text cannot add a line.
"""

from __future__ import annotations

import dataclasses
import inspect
import ipaddress
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import strongswan
from items import FINGERPRINTS, item

from bot.vpn import peer
from bot.vpn.connection import VpnConnection, VpnSettings, connection_from_describe
from bot.vpn.edit import propose
from bot.vpn.params import SpdPolicy, ValueSets, visible
from bot.vpn.peer import KEY_PLACEHOLDER, PeerConfigError, PeerVendor, cisco_config, peer_config, strongswan_config

OLD_KEY = "Q7v!oldPeerSecret#19"
NEW_KEY = "Zx8-newPeerSecret%42"
NAME = "vpnx-ol6bcqp0"  # the seed's connection id, already a section name

# The reference mapping (reference/ipsec.md: Tencent value to strongSwan keyword) ...
SWAN_ENCRYPTION = {
    "des-cbc": "des",
    "3des-cbc": "3des",
    "aes-cbc-128": "aes128",
    "aes-cbc-192": "aes192",
    "aes-cbc-256": "aes256",
    "aes128gcm128": "aes128gcm16",
    "aes192gcm128": "aes192gcm16",
    "aes256gcm128": "aes256gcm16",
}
SWAN_INTEGRITY = {"md5": "md5", "sha": "sha1", "sha-256": "sha256", "sha-384": "sha384", "sha-512": "sha512"}
SWAN_DH = {
    "group1": "modp768",
    "group2": "modp1024",
    "group5": "modp1536",
    "group14": "modp2048",
    "group15": "modp3072",
    "group16": "modp4096",
    "group19": "ecp256",
    "group20": "ecp384",
    "group21": "ecp521",
    "group24": "modp2048s256",
}
# ... and how charon names what it parsed (its log, at cfg level 2).
CHARON_ENCRYPTION = {
    "des-cbc": "DES_CBC",
    "3des-cbc": "3DES_CBC",
    "aes-cbc-128": "AES_CBC_128",
    "aes-cbc-192": "AES_CBC_192",
    "aes-cbc-256": "AES_CBC_256",
    "aes128gcm128": "AES_GCM_16_128",
    "aes192gcm128": "AES_GCM_16_192",
    "aes256gcm128": "AES_GCM_16_256",
    "null": "NULL",
}
CHARON_INTEGRITY = {
    "md5": "HMAC_MD5_96",
    "sha": "HMAC_SHA1_96",
    "sha-256": "HMAC_SHA2_256_128",
    "sha-384": "HMAC_SHA2_384_192",
    "sha-512": "HMAC_SHA2_512_256",
}
CHARON_PRF = {
    "md5": "PRF_HMAC_MD5",
    "sha": "PRF_HMAC_SHA1",
    "sha-256": "PRF_HMAC_SHA2_256",
    "sha-384": "PRF_HMAC_SHA2_384",
    "sha-512": "PRF_HMAC_SHA2_512",
}
CHARON_DH = {
    "group1": "MODP_768",
    "group2": "MODP_1024",
    "group5": "MODP_1536",
    "group14": "MODP_2048",
    "group15": "MODP_3072",
    "group16": "MODP_4096",
    "group19": "ECP_256",
    "group20": "ECP_384",
    "group21": "ECP_521",
    "group24": "MODP_2048_256",
}
GCM = frozenset({"aes128gcm128", "aes192gcm128", "aes256gcm128"})

# IOS keywords (Cisco IOS / IOS XE configuration guides and CLI help: crypto ikev2 proposal, crypto isakmp policy,
# crypto ipsec transform-set, set pfs).
IOS_IKEV2_ENCRYPTION = {
    "3des-cbc": "3des",
    "aes-cbc-128": "aes-cbc-128",
    "aes-cbc-192": "aes-cbc-192",
    "aes-cbc-256": "aes-cbc-256",
    "aes128gcm128": "aes-gcm-128",
    "aes256gcm128": "aes-gcm-256",
}
IOS_IKEV2_INTEGRITY = {"md5": "md5", "sha": "sha1", "sha-256": "sha256", "sha-384": "sha384", "sha-512": "sha512"}
IOS_ISAKMP_ENCRYPTION = {
    "des-cbc": "des",
    "3des-cbc": "3des",
    "aes-cbc-128": "aes",
    "aes-cbc-192": "aes 192",
    "aes-cbc-256": "aes 256",
}
IOS_ISAKMP_HASH = {"md5": "md5", "sha": "sha", "sha-256": "sha256", "sha-384": "sha384", "sha-512": "sha512"}
IOS_GROUPS = {f"group{n}": str(n) for n in (1, 2, 5, 14, 15, 16, 19, 20, 21, 24)}
IOS_ESP_ENCRYPTION = {
    "des-cbc": "esp-des",
    "3des-cbc": "esp-3des",
    "aes-cbc-128": "esp-aes",
    "aes-cbc-192": "esp-aes 192",
    "aes-cbc-256": "esp-aes 256",
    "aes128gcm128": "esp-gcm",
    "aes192gcm128": "esp-gcm 192",
    "aes256gcm128": "esp-gcm 256",
    "null": "esp-null",
}
IOS_ESP_INTEGRITY = {
    "md5": "esp-md5-hmac",
    "sha": "esp-sha-hmac",
    "sha-256": "esp-sha256-hmac",
    "sha-384": "esp-sha384-hmac",
    "sha-512": "esp-sha512-hmac",
}

STRONG = {
    "IKESet.ikeVersion": "ikev2",
    "IKESet.propoEncryAlgorithm": "aes-cbc-256",
    "IKESet.propoAuthenAlgorithm": "sha-256",
    "IKESet.dhGroupName": "group14",
    "IPsecSet.encryptAlgorithm": "aes-cbc-256",
    "IPsecSet.integrityAlgorith": "sha-256",
    "IPsecSet.pfsDhGroup": "dh-group14",
}
MULTI_RULE_SPD = "10.0.0.0/16: 192.168.1.0/24, 192.168.2.0/24; 10.1.0.0/16: 192.168.3.0/24; 10.2.0.0/24: 192.168.1.0/24"
FQDNS = {
    "IKESet.localIdentity": "fqdn",
    "IKESet.localFqdnName": "vpn.tencent.example.com",
    "IKESet.remoteIdentity": "fqdn",
    "IKESet.remoteFqdnName": "office@example.com",
}


def _cases() -> Iterator[tuple[str, dict[str, str]]]:
    for value in SWAN_ENCRYPTION:
        yield f"ike-enc-{value}", {"IKESet.propoEncryAlgorithm": value}
        if value not in GCM:
            yield f"ikev1-enc-{value}", {"IKESet.ikeVersion": "ikev1", "IKESet.propoEncryAlgorithm": value}
    for value in ("md5", "sha", "sha-256", "sha-512"):
        yield f"ike-auth-{value}", {"IKESet.propoAuthenAlgorithm": value}
        yield f"ike-prf-{value}", {"IKESet.propoEncryAlgorithm": "aes256gcm128", "IKESet.propoAuthenAlgorithm": value}
        yield f"ikev1-auth-{value}", {"IKESet.ikeVersion": "ikev1", "IKESet.propoAuthenAlgorithm": value}
    for value in SWAN_DH:
        yield f"dh-{value}", {"IKESet.dhGroupName": value}
    for value in CHARON_ENCRYPTION:
        yield f"esp-enc-{value}", {"IPsecSet.encryptAlgorithm": value}
    for value in CHARON_INTEGRITY:
        yield f"esp-auth-{value}", {"IPsecSet.integrityAlgorith": value}
    yield "pfs-null", {"IPsecSet.pfsDhGroup": "null"}
    for value in SWAN_DH:
        yield f"pfs-dh-{value}", {"IPsecSet.pfsDhGroup": f"dh-{value}"}
    yield "ikev1-main", {"IKESet.ikeVersion": "ikev1", "IKESet.exchangeMode": "main"}
    yield "ikev1-aggressive-fqdn", {"IKESet.ikeVersion": "ikev1", "IKESet.exchangeMode": "aggressive", **FQDNS}
    yield "ikev2-fqdn", FQDNS
    yield "ikev2-multi-rule-spd", {"spdAcl": MULTI_RULE_SPD}
    yield "ikev1-multi-rule-spd", {"IKESet.ikeVersion": "ikev1", "spdAcl": MULTI_RULE_SPD}
    yield "lifetimes", {"IKESet.ikeSaLifetimeSeconds": "28800", "IPsecSet.ipsecSaLifetimeSeconds": "1800",
                        "IPsecSet.ipsecSaLifetimeTraffic": "2560"}  # fmt: skip


CASES = dict(_cases())


def base_connection(**changes: object) -> VpnConnection:
    """The seed's connection as read through API 3.0 (its value sets), with ``OLD_KEY`` as the live key."""
    return connection_from_describe(item(preSharedKey=OLD_KEY, **changes), ValueSets.API3, fingerprints=FINGERPRINTS)


def proposed(connection: VpnConnection, edits: Mapping[str, str]) -> VpnSettings:
    return propose(connection.settings, {**STRONG, **edits}).settings


def case_settings(case: str) -> tuple[VpnConnection, VpnSettings]:
    connection = base_connection()
    return connection, proposed(connection, CASES[case])


def _pairs_of(settings: VpnSettings) -> set[tuple[str, str]]:
    """The SPD as the peer sees it: (IDC-side, VPC-side) pairs."""
    return {(str(idc), str(vpc)) for vpc, idc in settings.spd().pairs()}


Selectors = list[tuple[tuple[str, ...], tuple[str, ...]]]


def selectors(children: Iterable[tuple[Iterable[str], Iterable[str]]]) -> Selectors:
    """Children's (local_ts, remote_ts), in one canonical order."""
    return sorted((tuple(sorted(local)), tuple(sorted(remote))) for local, remote in children)


def expected_children(settings: VpnSettings) -> Selectors:
    """IKEv2: one child per VPC-side rule; IKEv1: one per pair (it negotiates one selector pair per SA)."""
    if settings["IKESet.ikeVersion"] == "ikev1":
        return selectors(([idc], [vpc]) for idc, vpc in _pairs_of(settings))
    return selectors(([str(r) for r in idcs], [str(vpc)]) for vpc, idcs in settings.spd().rules)


def expected_swan_keywords(settings: VpnSettings) -> tuple[str, str]:
    """(IKE proposal, ESP proposal) in strongSwan keywords, from the reference mapping."""
    ike_enc = str(settings["IKESet.propoEncryAlgorithm"])
    ike_auth = str(settings["IKESet.propoAuthenAlgorithm"])
    mac = "prf" + SWAN_INTEGRITY[ike_auth] if ike_enc in GCM else SWAN_INTEGRITY[ike_auth]
    ike = f"{SWAN_ENCRYPTION[ike_enc]}-{mac}-{SWAN_DH[str(settings['IKESet.dhGroupName'])]}"
    esp_enc = str(settings["IPsecSet.encryptAlgorithm"])
    esp = [SWAN_ENCRYPTION.get(esp_enc, esp_enc)]
    if esp_enc not in GCM:
        esp.append(SWAN_INTEGRITY[str(settings["IPsecSet.integrityAlgorith"])])
    pfs = str(settings["IPsecSet.pfsDhGroup"])
    if pfs != "null":
        esp.append(SWAN_DH[pfs.removeprefix("dh-")])
    return ike, "-".join(esp)


def expected_charon_proposals(settings: VpnSettings) -> tuple[str, str]:
    """(IKE, ESP) proposals as charon prints what it parsed."""
    ike_enc = str(settings["IKESet.propoEncryAlgorithm"])
    ike_auth = str(settings["IKESet.propoAuthenAlgorithm"])
    ike = [CHARON_ENCRYPTION[ike_enc]]
    if ike_enc not in GCM:
        ike.append(CHARON_INTEGRITY[ike_auth])
    ike += [CHARON_PRF[ike_auth], CHARON_DH[str(settings["IKESet.dhGroupName"])]]
    esp_enc = str(settings["IPsecSet.encryptAlgorithm"])
    esp = [CHARON_ENCRYPTION[esp_enc]]
    if esp_enc not in GCM:
        esp.append(CHARON_INTEGRITY[str(settings["IPsecSet.integrityAlgorith"])])
    pfs = str(settings["IPsecSet.pfsDhGroup"])
    if pfs != "null":
        esp.append(CHARON_DH[pfs.removeprefix("dh-")])
    return "IKE:" + "/".join(ike), "ESP:" + "/".join([*esp, "NO_EXT_SEQ"])


def expected_ids(settings: VpnSettings) -> tuple[str, str]:
    """(local, remote) identity as strongSwan shows it: the customer's is Tencent's remote identity."""

    def one(side: str, address: str) -> str:
        if settings[f"IKESet.{side}Identity"] == "fqdn":
            return str(settings[f"IKESet.{side}FqdnName"])
        return str(settings[f"IKESet.{side}Address"] or address)

    return one("remote", "198.51.100.20"), one("local", "203.0.113.10")


# --- always: the grammar, the keywords, the key, hostile text ---------------------------------------------


def test_the_keyword_tables_are_the_reference_mapping() -> None:
    assert dict(peer.SWANCTL_ENCRYPTION) == SWAN_ENCRYPTION
    assert dict(peer.SWANCTL_ESP_ENCRYPTION) == {**SWAN_ENCRYPTION, "null": "null"}
    assert dict(peer.SWANCTL_INTEGRITY) == SWAN_INTEGRITY
    assert dict(peer.SWANCTL_DH) == SWAN_DH
    assert dict(peer.IOS_IKEV2_ENCRYPTION) == IOS_IKEV2_ENCRYPTION
    assert dict(peer.IOS_IKEV2_INTEGRITY) == IOS_IKEV2_INTEGRITY
    assert dict(peer.IOS_ISAKMP_ENCRYPTION) == IOS_ISAKMP_ENCRYPTION
    assert dict(peer.IOS_ISAKMP_HASH) == IOS_ISAKMP_HASH
    assert dict(peer.IOS_GROUP) == IOS_GROUPS
    assert dict(peer.IOS_ESP_ENCRYPTION) == IOS_ESP_ENCRYPTION
    assert dict(peer.IOS_ESP_INTEGRITY) == IOS_ESP_INTEGRITY


@pytest.mark.parametrize("case", CASES)
def test_the_fragment_follows_swanctl_grammar_with_the_mapped_keywords(case: str) -> None:
    connection, settings = case_settings(case)
    tree = strongswan.parse_settings(strongswan_config(connection, settings))
    assert not tree.values
    assert set(tree.sections) == {"connections", "secrets"}
    assert set(tree["connections"].sections) == {NAME}
    conn = tree[f"connections.{NAME}"]
    version = 1 if settings["IKESet.ikeVersion"] == "ikev1" else 2
    ike, esp = expected_swan_keywords(settings)
    local_id, remote_id = expected_ids(settings)
    expected = {
        "version": str(version),
        "local_addrs": "198.51.100.20",
        "remote_addrs": "203.0.113.10",
        "proposals": ike,
        "rekey_time": f"{settings['IKESet.ikeSaLifetimeSeconds']}s",
    }
    if version == 1 and settings["IKESet.exchangeMode"] == "aggressive":
        expected["aggressive"] = "yes"
    assert conn.values == expected
    assert set(conn.sections) == {"local", "remote", "children"}
    shown_id = {"fqdn": "fqdn:{}", "address": "{}"}
    local_kind, remote_kind = settings["IKESet.remoteIdentity"], settings["IKESet.localIdentity"]
    assert conn["local"].values == {"auth": "psk", "id": shown_id[str(local_kind)].format(local_id)}
    assert conn["remote"].values == {"auth": "psk", "id": shown_id[str(remote_kind)].format(remote_id)}
    children = conn["children"].sections
    assert all(not child.sections for child in children.values())
    found = selectors(
        (child.values["local_ts"].split(", "), child.values["remote_ts"].split(", ")) for child in children.values()
    )
    assert found == expected_children(settings)
    for child in children.values():
        assert child.values["esp_proposals"] == esp
        assert child.values["rekey_time"] == f"{settings['IPsecSet.ipsecSaLifetimeSeconds']}s"
        assert child.values["rekey_bytes"] == str(int(str(settings["IPsecSet.ipsecSaLifetimeTraffic"])) * 1024)
    assert set(tree["secrets"].sections) == {f"ike-{NAME}"}
    assert tree[f"secrets.ike-{NAME}"].values == {
        "id-local": conn["local"].values["id"],
        "id-remote": conn["remote"].values["id"],
        "secret": KEY_PLACEHOLDER,
    }


def test_no_selector_is_widened_beyond_the_spd_pairs() -> None:
    """A multi-rule SPD stays its pairs: every child's local x remote is inside the SPD, and together they are it."""
    connection = base_connection()
    for version in ("ikev1", "ikev2"):
        settings = proposed(connection, {"IKESet.ikeVersion": version, "spdAcl": MULTI_RULE_SPD})
        children = strongswan.parse_settings(strongswan_config(connection, settings))[f"connections.{NAME}.children"]
        covered: list[tuple[str, str]] = []
        for child in children.sections.values():
            covered += [
                (local, remote)
                for local in child.values["local_ts"].split(", ")
                for remote in child.values["remote_ts"].split(", ")
            ]
        assert len(covered) == len(set(covered))
        assert set(covered) == _pairs_of(settings)
        assert ("192.168.3.0/24", "10.0.0.0/16") not in covered  # what all x all would add


def _windows(text: str, size: int = 6) -> set[str]:
    return {text[i : i + size] for i in range(len(text) - size + 1)}


@pytest.mark.parametrize("vendor", list(PeerVendor))
def test_the_key_never_appears_only_its_placeholder(vendor: PeerVendor) -> None:
    connection = base_connection()
    proposal = propose(connection.settings, {**STRONG, "preSharedKey": NEW_KEY})
    assert proposal.pre_shared_key is not None  # the proposal changes the key: nothing is passed to peer_config
    text = peer_config(vendor, connection, proposal.settings)
    assert text.count(KEY_PLACEHOLDER) == 1
    assert re.search(r"(?im)^\s*[#!].*key goes here", text)
    fingerprint = connection.settings.psk_fingerprint
    assert fingerprint
    assert fingerprint not in text
    for key in (OLD_KEY, NEW_KEY):
        assert not [piece for piece in _windows(key) if piece in text]
        assert key.encode().hex() not in text


def test_peer_config_takes_no_key() -> None:
    assert list(inspect.signature(peer_config).parameters) == ["vendor", "connection", "settings", "name"]
    assert list(inspect.signature(strongswan_config).parameters) == ["connection", "settings", "name"]
    assert list(inspect.signature(cisco_config).parameters) == ["connection", "settings", "name"]


HOSTILE_TEXT = [
    "x\n}\nsecrets {\n    ike-evil {\n        secret = leaked\n    }\n}\nconnections {\n    evil {",
    "x\r}\rsecrets {\r ike-evil {\r secret = leaked\r }\r}",
    "x\u2028}\u2028secrets {\u2029secret = leaked",
    "x\x85}\x0bsecrets {\x0csecret = leaked",
    'x" } { # secret = "leaked',
    "x\x00?\x1b[2J crypto map leaked",
    "上海办公室\u202e}",
]


def _structure(text: str) -> list[tuple[str, str]]:
    return list(strongswan.parse_settings(text).walk())


def _commands(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.lstrip().startswith("!")]


@pytest.mark.parametrize("hostile", HOSTILE_TEXT, ids=[f"hostile-{i}" for i in range(len(HOSTILE_TEXT))])
def test_hostile_names_stay_inside_their_comment(hostile: str) -> None:
    """The connection's and customer gateway's names are escaped into comments: the structure is the benign one,
    no line holds an unescaped control or separator, and IOS comments are printable ASCII without ``?``."""
    benign = base_connection()
    settings = proposed(benign, {})
    hostile_settings = settings.replace({"vpnConnName": hostile})
    connection = dataclasses.replace(benign, settings=hostile_settings, user_gw_name=hostile)
    swan = strongswan_config(connection, hostile_settings)
    assert _structure(swan) == _structure(strongswan_config(benign, settings))
    assert "leaked" not in "".join(line for line in swan.splitlines() if not line.startswith("#"))
    ios = cisco_config(connection, hostile_settings)
    assert _commands(ios) == _commands(cisco_config(benign, settings))
    for text in (swan, ios):
        lines = text.split("\n")
        assert lines == [*text.splitlines(), ""]  # no \r, \v, \f, \x1c-\x1e, \x85, \u2028, \u2029 split a line
        assert not [c for c in text if c not in "\n" and (ord(c) < 0x20 or ord(c) == 0x7F or 0x80 <= ord(c) < 0xA0)]
    assert all(" " <= c <= "~" and c != "?" for c in ios.replace("\n", ""))
    assert visible(hostile) in swan  # escaped, not dropped


@pytest.mark.parametrize(
    ("change", "parameter"),
    [
        ({"vpn_conn_id": "vpnx-1\n}\nsecrets {"}, "vpnConnId"),
        ({"user_gw_address": "198.51.100.20\n}"}, "userGwAddress"),
        ({"vpn_gw_address": "gw.example.com"}, "vpnGwAddress"),
        ({"vpn_gw_address": ""}, "vpnGwAddress"),
    ],
)
def test_hostile_connection_fields_are_refused(change: dict[str, Any], parameter: str) -> None:
    connection = dataclasses.replace(base_connection(), **change)
    settings = proposed(base_connection(), {})
    for vendor in PeerVendor:
        with pytest.raises(PeerConfigError) as raised:
            peer_config(vendor, connection, settings)
        assert raised.value.parameter == parameter
        assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("values", "parameter"),
    [
        (
            {"IKESet.localIdentity": "fqdn", "IKESet.localFqdnName": "a.example.com\n}\nsecrets {"},
            "IKESet.localFqdnName",
        ),
        ({"IKESet.remoteIdentity": "fqdn", "IKESet.remoteFqdnName": 'a"b'}, "IKESet.remoteFqdnName"),
        ({"IKESet.remoteIdentity": "fqdn", "IKESet.remoteFqdnName": "a b#c"}, "IKESet.remoteFqdnName"),
        ({"IKESet.remoteIdentity": "fqdn", "IKESet.remoteFqdnName": ""}, "IKESet.remoteFqdnName"),
        ({"IKESet.localAddress": "203.0.113.10 }"}, "IKESet.localAddress"),
        ({"IKESet.localIdentity": "keyid"}, "IKESet.localIdentity"),
    ],
)
def test_hostile_identities_are_refused(values: dict[str, str], parameter: str) -> None:
    connection = base_connection()
    settings = proposed(connection, {}).replace(values)
    for vendor in PeerVendor:
        with pytest.raises(PeerConfigError) as raised:
            peer_config(vendor, connection, settings)
        assert raised.value.parameter == parameter


def test_a_name_is_a_safe_identifier_or_refused() -> None:
    connection = base_connection()
    settings = proposed(connection, {})
    tree = strongswan.parse_settings(strongswan_config(connection, settings, name="office_2-b"))
    assert set(tree["connections"].sections) == {"office_2-b"}
    assert set(tree["connections.office_2-b.children"].sections) == {"office_2-b-1"}
    assert "crypto map office_2-b-map 10 ipsec-isakmp" in cisco_config(connection, settings, name="office_2-b")
    for bad in ("x y", "x.y", "a{", "", "x" * 65, "x\n}"):
        with pytest.raises(PeerConfigError) as raised:
            strongswan_config(connection, settings, name=bad)
        assert raised.value.parameter == "name"
    dotted = dataclasses.replace(connection, vpn_conn_id="vpnx-a.b:c")
    assert set(strongswan.parse_settings(strongswan_config(dotted, settings))["connections"].sections) == {"vpnx-a_b_c"}


@pytest.mark.parametrize(
    ("edits", "parameter", "vendors"),
    [
        ({"IKESet.propoEncryAlgorithm": "sm4"}, "IKESet.propoEncryAlgorithm", list(PeerVendor)),
        ({"IPsecSet.encryptAlgorithm": "sm4"}, "IPsecSet.encryptAlgorithm", list(PeerVendor)),
        ({"IPsecSet.integrityAlgorith": "sm3"}, "IPsecSet.integrityAlgorith", list(PeerVendor)),
        (
            {"IKESet.ikeVersion": "ikev1", "IKESet.propoEncryAlgorithm": "aes128gcm128"},
            "IKESet.propoEncryAlgorithm",
            list(PeerVendor),
        ),
        ({"IKESet.propoEncryAlgorithm": "des-cbc"}, "IKESet.propoEncryAlgorithm", [PeerVendor.CISCO]),
        ({"IKESet.propoEncryAlgorithm": "aes192gcm128"}, "IKESet.propoEncryAlgorithm", [PeerVendor.CISCO]),
        ({"IKESet.ikeSaLifetimeSeconds": "604800"}, "IKESet.ikeSaLifetimeSeconds", [PeerVendor.CISCO]),
        ({"IKESet.ikeSaLifetimeSeconds": "60"}, "IKESet.ikeSaLifetimeSeconds", [PeerVendor.CISCO]),
        (
            {"IKESet.ikeVersion": "ikev1", "IKESet.ikeSaLifetimeSeconds": "100000"},
            "IKESet.ikeSaLifetimeSeconds",
            [PeerVendor.CISCO],
        ),
        ({"IPsecSet.ipsecSaLifetimeTraffic": "4294967295"}, None, []),
    ],
)
def test_values_without_an_equivalent_are_refused_by_name(
    edits: dict[str, str], parameter: str | None, vendors: list[PeerVendor]
) -> None:
    connection = base_connection()
    settings = proposed(connection, edits)
    for vendor in PeerVendor:
        if vendor not in vendors:
            peer_config(vendor, connection, settings)
            continue
        with pytest.raises(PeerConfigError) as raised:
            peer_config(vendor, connection, settings)
        assert raised.value.parameter == parameter
        assert isinstance(raised.value, ValueError)
        value = next(iter(edits.values())) if len(edits) == 1 else edits[str(parameter)]
        assert value in str(raised.value)


def test_a_route_based_or_selectorless_tunnel_is_refused() -> None:
    connection = base_connection()
    settings = proposed(connection, {})
    route_based = dataclasses.replace(settings, route_type="StaticRoute")
    empty = settings.replace({"spdAcl": SpdPolicy()})
    for vendor in PeerVendor:
        with pytest.raises(PeerConfigError, match="route-based"):
            peer_config(vendor, connection, route_based)
        with pytest.raises(PeerConfigError) as raised:
            peer_config(vendor, connection, empty)
        assert raised.value.parameter == "spdAcl"


def test_aggressive_mode_and_its_notes() -> None:
    connection = base_connection()
    v1 = proposed(connection, {"IKESet.ikeVersion": "ikev1", "IKESet.exchangeMode": "aggressive"})
    v2 = proposed(connection, {"IKESet.exchangeMode": "aggressive"})
    assert strongswan.parse_settings(strongswan_config(connection, v1))[f"connections.{NAME}"].values["aggressive"]
    assert (
        "aggressive" not in strongswan.parse_settings(strongswan_config(connection, v2))[f"connections.{NAME}"].values
    )
    assert "IKEv1 only" in strongswan_config(connection, v2)
    assert " initiate mode aggressive" in cisco_config(connection, v1).splitlines()
    assert "IKEv1 only" in cisco_config(connection, v2)


# --- Cisco IOS: structure and keywords --------------------------------------------------------------------


def _block(text: str, header: str) -> list[str]:
    """The sub-command lines of the block that starts with ``header`` (up to the next ``!`` line)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    block: list[str] = []
    for line in lines[start + 1 :]:
        if line.strip() == "!" or not line.startswith(" "):
            break
        if not line.lstrip().startswith("!"):
            block.append(line.strip())
    return block


def _acl_pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for line in _block(text, f"ip access-list extended {NAME}-acl"):
        match = re.fullmatch(r"permit ip (\S+) (\S+) (\S+) (\S+)", line)
        assert match, line
        source = ipaddress.IPv4Network(f"{match[1]}/{match[2]}")  # a host mask reads as a wildcard
        destination = ipaddress.IPv4Network(f"{match[3]}/{match[4]}")
        pairs.append((str(source), str(destination)))
    return pairs


CISCO_REFUSED = {"IKESet.propoEncryAlgorithm": {"des-cbc", "aes192gcm128"}}


@pytest.mark.parametrize("case", CASES)
def test_cisco_uses_only_ios_keywords_and_one_acl_line_per_pair(case: str) -> None:
    connection, settings = case_settings(case)
    version = settings["IKESet.ikeVersion"]
    ike_enc = str(settings["IKESet.propoEncryAlgorithm"])
    if version == "ikev2" and ike_enc in CISCO_REFUSED["IKESet.propoEncryAlgorithm"]:
        with pytest.raises(PeerConfigError):
            cisco_config(connection, settings)
        return
    text = cisco_config(connection, settings)
    ike_auth = str(settings["IKESet.propoAuthenAlgorithm"])
    group = IOS_GROUPS[str(settings["IKESet.dhGroupName"])]
    lifetime = settings["IKESet.ikeSaLifetimeSeconds"]
    if version == "ikev2":
        mac = "prf" if ike_enc in GCM else "integrity"
        assert _block(text, f"crypto ikev2 proposal {NAME}-proposal") == [
            f"encryption {IOS_IKEV2_ENCRYPTION[ike_enc]}",
            f"{mac} {IOS_IKEV2_INTEGRITY[ike_auth]}",
            f"group {group}",
        ]
        assert _block(text, f"crypto ikev2 policy {NAME}-policy") == [f"proposal {NAME}-proposal"]
        assert _block(text, f"crypto ikev2 keyring {NAME}-keyring") == [
            "peer tencent",
            "address 203.0.113.10",
            f"pre-shared-key {KEY_PLACEHOLDER}",
        ]
        profile = _block(text, f"crypto ikev2 profile {NAME}-profile")
        assert f"keyring local {NAME}-keyring" in profile
        assert f"lifetime {lifetime}" in profile
        assert {"authentication remote pre-share", "authentication local pre-share"} <= set(profile)
    else:
        assert _block(text, "crypto isakmp policy 10") == [
            f"encryption {IOS_ISAKMP_ENCRYPTION[ike_enc]}",
            f"hash {IOS_ISAKMP_HASH[ike_auth]}",
            "authentication pre-share",
            f"group {group}",
            f"lifetime {lifetime}",
        ]
        assert _block(text, f"crypto keyring {NAME}-keyring") == [
            f"pre-shared-key address 203.0.113.10 key {KEY_PLACEHOLDER}"
        ]
        isakmp = _block(text, f"crypto isakmp profile {NAME}-isakmp")
        assert ("initiate mode aggressive" in isakmp) == (settings["IKESet.exchangeMode"] == "aggressive")
    esp_enc = str(settings["IPsecSet.encryptAlgorithm"])
    transforms = [IOS_ESP_ENCRYPTION[esp_enc]]
    if esp_enc not in GCM:
        transforms.append(IOS_ESP_INTEGRITY[str(settings["IPsecSet.integrityAlgorith"])])
    assert f"crypto ipsec transform-set {NAME}-transform {' '.join(transforms)}" in text.splitlines()
    crypto_map = _block(text, f"crypto map {NAME}-map 10 ipsec-isakmp")
    pfs = str(settings["IPsecSet.pfsDhGroup"])
    expected_map = [
        "set peer 203.0.113.10",
        f"set transform-set {NAME}-transform",
        f"set ikev2-profile {NAME}-profile" if version == "ikev2" else f"set isakmp-profile {NAME}-isakmp",
        *([] if pfs == "null" else [f"set pfs group{IOS_GROUPS[pfs.removeprefix('dh-')]}"]),
        f"set security-association lifetime seconds {settings['IPsecSet.ipsecSaLifetimeSeconds']}",
        f"set security-association lifetime kilobytes {settings['IPsecSet.ipsecSaLifetimeTraffic']}",
        f"match address {NAME}-acl",
    ]
    assert crypto_map == expected_map
    pairs = _acl_pairs(text)
    assert len(pairs) == len(set(pairs))
    assert set(pairs) == _pairs_of(settings)
    assert text.count(KEY_PLACEHOLDER) == 1


def test_cisco_fqdn_identities() -> None:
    connection = base_connection()
    v2 = cisco_config(connection, proposed(connection, FQDNS))
    profile = _block(v2, f"crypto ikev2 profile {NAME}-profile")
    assert "match identity remote fqdn vpn.tencent.example.com" in profile
    assert "identity local fqdn office@example.com" in profile
    v1 = cisco_config(connection, proposed(connection, {"IKESet.ikeVersion": "ikev1", **FQDNS}))
    isakmp = _block(v1, f"crypto isakmp profile {NAME}-isakmp")
    assert "match identity host vpn.tencent.example.com" in isakmp
    assert "self-identity fqdn" in isakmp


# --- strongSwan itself --------------------------------------------------------------------------------------


def test_missing_strongswan_fails_on_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(pytest.fail.Exception, match="CI must have strongSwan"):
        strongswan.require("swanctl missing", {"CI": "true"})
    with pytest.raises(pytest.skip.Exception, match="swanctl missing"):
        strongswan.require("swanctl missing", {})
    strongswan.require(None, {"CI": "true"})
    monkeypatch.setattr(strongswan, "CHARON", Path("/nonexistent/charon"))
    reason = strongswan.missing()
    assert reason is not None
    assert "apt-get install -y strongswan-swanctl strongswan-charon" in reason


@pytest.fixture(scope="session")
def charon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[strongswan.Charon]:
    """One private charon for this session (this xdist worker), stopped by its pid at the end."""
    strongswan.require(strongswan.missing(), os.environ)
    daemon = strongswan.Charon(tmp_path_factory.mktemp("charon"))
    daemon.start()
    process = daemon.process
    assert process is not None
    try:
        yield daemon
    finally:
        daemon.stop()
        assert process.poll() is not None, "charon is still running"


def load(daemon: strongswan.Charon, path: Path, connections: int = 1) -> None:
    """Load the fragment's connections and secrets; swanctl exits 0 even for a file it cannot parse (it then
    unloads everything), so its words are checked too."""
    conns = daemon.swanctl("--load-conns", "--file", str(path))
    said = conns.stdout + conns.stderr
    assert conns.returncode == 0, said
    assert f"successfully loaded {connections} connections" in conns.stdout, said
    creds = daemon.swanctl("--load-creds", "--noprompt", "--file", str(path))
    assert creds.returncode == 0, creds.stdout + creds.stderr
    assert f"loaded ike secret 'ike-{NAME}'" in creds.stdout, creds.stdout + creds.stderr


@pytest.mark.parametrize("case", CASES)
def test_strongswan_loads_the_fragment_as_meant(charon: strongswan.Charon, tmp_path: Path, case: str) -> None:
    connection, settings = case_settings(case)
    path = tmp_path / "peer.conf"
    path.write_text(strongswan_config(connection, settings))
    mark = charon.log_size()
    load(charon, path)
    listing = strongswan.parse_pretty(charon.swanctl("--list-conns", "--pretty").stdout)
    assert set(listing) == {NAME}
    conn = listing[NAME]
    assert isinstance(conn, dict)
    version = "IKEv1" if settings["IKESet.ikeVersion"] == "ikev1" else "IKEv2"
    local_id, remote_id = expected_ids(settings)
    assert (conn["version"], conn["local_addrs"], conn["remote_addrs"]) == (
        version,
        ["198.51.100.20"],
        ["203.0.113.10"],
    )
    assert conn["rekey_time"] == str(settings["IKESet.ikeSaLifetimeSeconds"])
    for side, identity in (("local-1", local_id), ("remote-1", remote_id)):
        auth = conn[side]
        assert isinstance(auth, dict)
        assert (auth["id"], auth["class"]) == (identity, "pre-shared key")
    children = conn["children"]
    assert isinstance(children, dict)
    found = []
    for child in children.values():
        assert isinstance(child, dict)
        assert child["mode"] == "TUNNEL"
        assert child["rekey_time"] == str(settings["IPsecSet.ipsecSaLifetimeSeconds"])
        assert child["rekey_bytes"] == str(int(str(settings["IPsecSet.ipsecSaLifetimeTraffic"])) * 1024)
        found.append((child["local-ts"], child["remote-ts"]))
    assert selectors(found) == expected_children(settings)
    log = charon.wait_for_log(mark, f"vici connection: {NAME}")  # added, updated or replaced
    parsed = strongswan.loaded_proposals(log)[NAME]
    ike, esp = expected_charon_proposals(settings)
    assert parsed == {"proposals": ike, **{f"child:{child}": esp for child in children}}


def test_the_load_check_catches_what_swanctl_refuses(charon: strongswan.Charon, tmp_path: Path) -> None:
    """The checks above can fail: swanctl says 0 for an unparsable file and 22 for an unknown algorithm."""
    broken = tmp_path / "broken.conf"
    broken.write_text("connections {\n    x {\n")
    result = charon.swanctl("--load-conns", "--file", str(broken))
    assert "successfully loaded" not in result.stdout
    with pytest.raises(AssertionError):
        load(charon, broken)
    connection, settings = case_settings("ike-enc-aes-cbc-256")
    unknown = tmp_path / "sm4.conf"
    unknown.write_text(strongswan_config(connection, settings).replace("aes256-sha256-modp2048", "sm4-sm3-modp2048"))
    result = charon.swanctl("--load-conns", "--file", str(unknown))
    assert result.returncode == 22
    assert "invalid value for: proposals" in result.stdout + result.stderr


def test_a_daemon_is_stopped_by_its_pid(charon: strongswan.Charon, tmp_path_factory: pytest.TempPathFactory) -> None:
    other = strongswan.Charon(tmp_path_factory.mktemp("second-charon"))
    other.start()  # beside the session's: private namespaces and pid file, so no clash
    pid = other.pid
    assert pid is not None
    assert other.swanctl("--stats").returncode == 0
    assert charon.swanctl("--stats").returncode == 0
    other.stop()
    assert other.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_daemon_dies_with_the_process_that_started_it(charon: strongswan.Charon, tmp_path: Path) -> None:
    """A test run killed outright (SIGKILL: no teardown) leaves no charon behind."""
    starter = subprocess.Popen(
        [sys.executable, "-c", _STARTER, str(Path(__file__).parent), str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert starter.stdout is not None
        pid = int(starter.stdout.readline())
        os.kill(pid, 0)
    finally:
        starter.kill()
        starter.wait()
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


_STARTER = """
import sys, time
sys.path.insert(0, sys.argv[1])
import strongswan
daemon = strongswan.Charon(__import__("pathlib").Path(sys.argv[2]))
daemon.start()
print(daemon.pid, flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by init, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


# --- the parser itself ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a {\n",
        "}\n",
        "a = b",
        "a = b }\n",
        "a = b\na = c\n",
        "a.b = c\n",
        "a:b {\n}\n",
        "include other.conf\n",
        'a = "unterminated\n',
        'a = b"c"\n',
        "a\n{\n}\n",
        "a {\n} }\n",
    ],
)
def test_the_grammar_parser_refuses_what_the_syntax_does_not_allow(text: str) -> None:
    with pytest.raises(strongswan.SettingsSyntaxError):
        strongswan.parse_settings(text)


def test_the_grammar_parser_reads_sections_values_quotes_and_comments() -> None:
    tree = strongswan.parse_settings(
        '# { braces in a comment }\nx {\n  a = one two # note\n  b = "q \\"u\\" \\\\ # }"\n  y {\n  }\n}\n'
    )
    assert tree["x"].values == {"a": "one two", "b": 'q "u" \\ # }'}
    assert set(tree["x"].sections) == {"y"}
    # strongSwan's lexer ends a comment at a carriage return: what follows is read.
    assert strongswan.parse_settings("# c\rz = 1\n").values == {"z": "1"}
