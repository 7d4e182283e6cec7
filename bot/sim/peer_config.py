"""Tencent's peer configuration download as the simulator answers it (API 3.0 ``DescribeCustomerGatewayVendors``,
``DownloadCustomerGatewayConfiguration``): the vendors it knows and, for each, the device configuration rendered
from a connection's CURRENT settings, seen from the device (its local networks are the connection's IDC side).

Like the service (assumed: the API document shows a plain text answer beginning with ``#`` comments, though it
calls it "XML"), the text holds the pre-shared key in plain text, so a client's redaction can be tested. The key
is always written between delimiters (spaces, quotes or a line end), never escaped.

The vendor list: ``cisco / ios / V15.4`` and ``h3c / comware / V1.0`` are the API document's example answer; the
others are the simulator's choice of common devices (UNCONFIRMED that the service lists them so).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from bot.sim.model import Connection, VpnGateway
from bot.sim.values import DhGroup, ExchangeMode, Identity, IkeVersion, PfsGroup

__all__ = ["VENDORS", "Vendor", "find_vendor", "render"]


@dataclass(frozen=True)
class Vendor:
    vendor_name: str
    platform: str
    software_version: str

    def to_json(self) -> dict[str, str]:
        return {"Platform": self.platform, "SoftwareVersion": self.software_version, "VendorName": self.vendor_name}


VENDORS: Final = (
    Vendor("cisco", "ios", "V15.4"),
    Vendor("h3c", "comware", "V1.0"),
    Vendor("huawei", "vrp", "V200R019"),
    Vendor("fortinet", "fortios", "V6.4"),
    Vendor("paloalto", "pan-os", "V10.1"),
    Vendor("strongswan", "linux", "V5.9"),
)


def find_vendor(vendor_name: str, platform: str, software_version: str) -> Vendor | None:
    """The listed vendor with exactly these three values, or None."""
    wanted = Vendor(vendor_name, platform, software_version)
    return next((vendor for vendor in VENDORS if vendor == wanted), None)


@dataclass(frozen=True)
class _Tunnel:
    """A connection from the device's side."""

    name: str
    connection: Connection
    gateway: VpnGateway
    interface: str

    @property
    def psk(self) -> str:
        return self.connection.pre_shared_key

    @property
    def cloud_address(self) -> str:
        return self.gateway.address

    @property
    def pairs(self) -> list[tuple[ipaddress.IPv4Network, ipaddress.IPv4Network]]:
        """(device-side, cloud-side) networks; a route-based tunnel carries everything."""
        if self.connection.route_type.route_based or not self.connection.spd:
            anything = ipaddress.IPv4Network("0.0.0.0/0")
            return [(anything, anything)]
        return [
            (ipaddress.IPv4Network(remote), ipaddress.IPv4Network(local))
            for local, remotes in self.connection.spd
            for remote in remotes
        ]

    @property
    def ike_v2(self) -> bool:
        return self.connection.ike.version is IkeVersion.IKEV2

    @property
    def aggressive(self) -> bool:
        return self.connection.ike.exchange_mode is ExchangeMode.AGGRESSIVE

    def header(self, mark: str, vendor: Vendor) -> list[str]:
        c = self.connection
        return [
            f"{mark} Tencent Cloud VPN connection {c.id} ({c.name}) on VPN gateway {self.gateway.id} "
            f"({self.cloud_address})",
            f"{mark} for customer gateway {c.customer_gateway.id} ({c.customer_gateway.address}): "
            f"{vendor.vendor_name} {vendor.platform} {vendor.software_version}, interface {self.interface}",
            f"{mark} Rendered by the vpnbot simulator from the connection's current settings.",
        ]


def _group(value: DhGroup | PfsGroup) -> str | None:
    """The DH group's number (``GROUP14``, ``DH-GROUP14`` -> ``14``); None for PFS ``NULL``."""
    return None if value is PfsGroup.NULL else value.value.rsplit("GROUP", 1)[1]


def _wildcard(network: ipaddress.IPv4Network) -> str:
    return f"{network.network_address} {network.hostmask}"


def _mask(network: ipaddress.IPv4Network) -> str:
    return f"{network.network_address} {network.netmask}"


def _keyword(table: Mapping[str, str], value: str) -> str:
    return table.get(value, value.lower())


# --- Cisco IOS ------------------------------------------------------------------------------------------------

_CISCO_IKE_ENC: Final = MappingProxyType(
    {"3DES-CBC": "3des", "DES-CBC": "des", "AES-CBC-128": "aes 128", "AES-CBC-192": "aes 192", "AES-CBC-256": "aes 256"}
)
_CISCO_IKE_HASH: Final = MappingProxyType({"MD5": "md5", "SHA": "sha", "SHA-256": "sha256", "SHA-512": "sha512"})
_CISCO_ESP_ENC: Final = MappingProxyType(
    {
        "3DES-CBC": "esp-3des", "DES-CBC": "esp-des", "AES-CBC-128": "esp-aes 128", "AES-CBC-192": "esp-aes 192",
        "AES-CBC-256": "esp-aes 256", "NULL": "esp-null", "AES128GCM128": "esp-gcm 128", "AES192GCM128": "esp-gcm 192",
        "AES256GCM128": "esp-gcm 256",
    }
)  # fmt: skip
_CISCO_ESP_HASH: Final = MappingProxyType(
    {
        "MD5": "esp-md5-hmac", "SHA1": "esp-sha-hmac", "SHA-256": "esp-sha256-hmac", "SHA-384": "esp-sha384-hmac",
        "SHA-512": "esp-sha512-hmac",
    }
)  # fmt: skip


def _cisco(t: _Tunnel, vendor: Vendor) -> list[str]:
    ike, ipsec = t.connection.ike, t.connection.ipsec
    lines = [*t.header("!", vendor), "!"]
    if t.ike_v2:
        lines += [
            f"crypto ikev2 proposal {t.name}",
            f" encryption {_keyword(_CISCO_IKE_ENC, ike.encryption).replace(' ', '-cbc-')}",
            f" integrity {_keyword(_CISCO_IKE_HASH, ike.authentication)}",
            f" group {_group(ike.dh_group)}",
            f"crypto ikev2 policy {t.name}",
            f" proposal {t.name}",
            f"crypto ikev2 keyring {t.name}",
            f" peer {t.name}",
            f"  address {t.cloud_address}",
            f"  pre-shared-key {t.psk}",
            f"crypto ikev2 profile {t.name}",
            f" match identity remote address {t.cloud_address} 255.255.255.255",
            " authentication remote pre-share",
            " authentication local pre-share",
            f" keyring local {t.name}",
            f" lifetime {ike.sa_lifetime_seconds}",
        ]
    else:
        lines += [
            "crypto isakmp policy 10",
            f" encryption {_keyword(_CISCO_IKE_ENC, ike.encryption)}",
            f" hash {_keyword(_CISCO_IKE_HASH, ike.authentication)}",
            " authentication pre-share",
            f" group {_group(ike.dh_group)}",
            f" lifetime {ike.sa_lifetime_seconds}",
            f"crypto isakmp key {t.psk} address {t.cloud_address}",
        ]
    transform = _keyword(_CISCO_ESP_ENC, ipsec.encryption)
    if not ipsec.encryption.value.endswith("GCM128"):
        transform += " " + _keyword(_CISCO_ESP_HASH, ipsec.integrity)
    lines += ["!", f"crypto ipsec transform-set {t.name} {transform}", " mode tunnel", "!"]
    lines += [f"access-list 150 permit ip {_wildcard(mine)} {_wildcard(theirs)}" for mine, theirs in t.pairs]
    lines += ["!", f"crypto map {t.name} 10 ipsec-isakmp", f" set peer {t.cloud_address}"]
    lines += [f" set transform-set {t.name}", f" set security-association lifetime seconds {ipsec.sa_lifetime_seconds}"]
    lines += [f" set security-association lifetime kilobytes {ipsec.sa_lifetime_traffic}"]
    if (pfs := _group(ipsec.pfs_group)) is not None:
        lines.append(f" set pfs group{pfs}")
    if t.ike_v2:
        lines.append(f" set ikev2-profile {t.name}")
    lines += [" match address 150", "!", f"interface {t.interface}", f" crypto map {t.name}", "!"]
    return lines


# --- H3C Comware and Huawei VRP ---------------------------------------------------------------------------------

_H3C_ENC: Final = MappingProxyType(
    {"3DES-CBC": "3des-cbc", "DES-CBC": "des-cbc", "SM4": "sm4-cbc", "AES128GCM128": "aes-gcm-128",
     "AES192GCM128": "aes-gcm-192", "AES256GCM128": "aes-gcm-256"}
)  # fmt: skip
_H3C_HASH: Final = MappingProxyType(
    {"SHA": "sha", "SHA1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
)
_HUAWEI_ENC: Final = MappingProxyType(
    {"3DES-CBC": "3des", "DES-CBC": "des", "AES-CBC-128": "aes-128", "AES-CBC-192": "aes-192", "AES-CBC-256": "aes-256",
     "SM4": "sm4"}
)  # fmt: skip
_HUAWEI_HASH: Final = MappingProxyType(
    {"SHA": "sha1", "SHA1": "sha1", "SHA-256": "sha2-256", "SHA-384": "sha2-384", "SHA-512": "sha2-512"}
)


def _acl_rules(t: _Tunnel) -> list[str]:
    return [
        f" rule {5 * n} permit ip source {_wildcard(mine)} destination {_wildcard(theirs)}"
        for n, (mine, theirs) in enumerate(t.pairs)
    ]


def _identity_line(kind: Identity, address: str, fqdn: str) -> str:
    return f"address {address}" if kind is Identity.ADDRESS else f"fqdn {fqdn}"


def _h3c(t: _Tunnel, vendor: Vendor) -> list[str]:
    ike, ipsec = t.connection.ike, t.connection.ipsec
    own = _identity_line(
        ike.remote_identity, ike.remote_address or t.connection.customer_gateway.address, ike.remote_fqdn
    )
    theirs = _identity_line(ike.local_identity, ike.local_address or t.cloud_address, ike.local_fqdn)
    lines = [*t.header("#", vendor), "#", "acl advanced 3100", *_acl_rules(t), "#"]
    prefix = "ikev2" if t.ike_v2 else "ike"
    lines += [
        f"{prefix} proposal 10",
        f" encryption{'' if t.ike_v2 else '-algorithm'} {_keyword(_H3C_ENC, ike.encryption)}",
        f" {'integrity' if t.ike_v2 else 'authentication-algorithm'} {_keyword(_H3C_HASH, ike.authentication)}",
        f" dh group{_group(ike.dh_group)}",
        f" sa duration {ike.sa_lifetime_seconds}",
        "#",
        f"{prefix} keychain {t.name}" if not t.ike_v2 else f"ikev2 keyring {t.name}",
        f" pre-shared-key address {t.cloud_address} 255.255.255.255 key simple {t.psk}",
        "#",
        f"{prefix} profile {t.name}",
        f" {'keyring' if t.ike_v2 else 'keychain'} {t.name}",
        *([] if t.ike_v2 else [f" exchange-mode {'aggressive' if t.aggressive else 'main'}"]),
        f" local-identity {own}",
        f" match remote identity {theirs}",
        " proposal 10",
        "#",
        f"ipsec transform-set {t.name}",
        f" esp encryption-algorithm {_keyword(_H3C_ENC, ipsec.encryption)}",
        f" esp authentication-algorithm {_keyword(_H3C_HASH, ipsec.integrity)}",
        *([] if (pfs := _group(ipsec.pfs_group)) is None else [f" pfs dh-group{pfs}"]),
        "#",
        f"ipsec policy {t.name} 10 isakmp",
        f" transform-set {t.name}",
        " security acl 3100",
        f" remote-address {t.cloud_address}",
        f" {prefix}-profile {t.name}",
        f" sa duration time-based {ipsec.sa_lifetime_seconds}",
        f" sa duration traffic-based {ipsec.sa_lifetime_traffic}",
        "#",
        f"interface {t.interface}",
        f" ipsec apply policy {t.name}",
        "#",
    ]
    return lines


def _huawei(t: _Tunnel, vendor: Vendor) -> list[str]:
    ike, ipsec = t.connection.ike, t.connection.ipsec
    lines = [*t.header("#", vendor), "#", "acl number 3100", *_acl_rules(t)]
    lines += [
        "#",
        "ike proposal 10",
        f" encryption-algorithm {_keyword(_HUAWEI_ENC, ike.encryption)}",
        f" authentication-algorithm {_keyword(_HUAWEI_HASH, ike.authentication)}",
        f" dh group{_group(ike.dh_group)}",
        f" sa duration {ike.sa_lifetime_seconds}",
        "#",
        f"ike peer {t.name}",
        " version 2" if t.ike_v2 else " undo version 2",
        *([] if t.ike_v2 else [f" exchange-mode {'aggressive' if t.aggressive else 'main'}"]),
        f" pre-shared-key simple {t.psk}",
        " ike-proposal 10",
        f" remote-address {t.cloud_address}",
        "#",
        f"ipsec proposal {t.name}",
        f" esp authentication-algorithm {_keyword(_HUAWEI_HASH, ipsec.integrity)}",
        f" esp encryption-algorithm {_keyword(_HUAWEI_ENC, ipsec.encryption)}",
        "#",
        f"ipsec policy {t.name} 10 isakmp",
        " security acl 3100",
        f" ike-peer {t.name}",
        f" proposal {t.name}",
        *([] if (pfs := _group(ipsec.pfs_group)) is None else [f" pfs dh-group{pfs}"]),
        f" sa duration time-based {ipsec.sa_lifetime_seconds}",
        f" sa duration traffic-based {ipsec.sa_lifetime_traffic}",
        "#",
        f"interface {t.interface}",
        f" ipsec policy {t.name}",
        "#",
    ]
    return lines


# --- FortiOS and PAN-OS -------------------------------------------------------------------------------------------

_FORTI_ENC: Final = MappingProxyType(
    {"3DES-CBC": "3des", "DES-CBC": "des", "AES-CBC-128": "aes128", "AES-CBC-192": "aes192", "AES-CBC-256": "aes256",
     "NULL": "null", "AES128GCM128": "aes128gcm", "AES256GCM128": "aes256gcm"}
)  # fmt: skip
_FORTI_HASH: Final = MappingProxyType(
    {"MD5": "md5", "SHA": "sha1", "SHA1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
)
_PAN_ENC: Final = MappingProxyType(
    {"3DES-CBC": "3des", "DES-CBC": "des", "AES-CBC-128": "aes-128-cbc", "AES-CBC-192": "aes-192-cbc",
     "AES-CBC-256": "aes-256-cbc", "NULL": "null", "AES128GCM128": "aes-128-gcm", "AES256GCM128": "aes-256-gcm"}
)  # fmt: skip


def _fortinet(t: _Tunnel, vendor: Vendor) -> list[str]:
    ike, ipsec = t.connection.ike, t.connection.ipsec
    lines = [*t.header("#", vendor), "config vpn ipsec phase1-interface", f'    edit "{t.name}"']
    lines += [
        f'        set interface "{t.interface}"',
        f"        set ike-version {2 if t.ike_v2 else 1}",
        *([] if t.ike_v2 else [f"        set mode {'aggressive' if t.aggressive else 'main'}"]),
        f"        set proposal {_keyword(_FORTI_ENC, ike.encryption)}-{_keyword(_FORTI_HASH, ike.authentication)}",
        f"        set dhgrp {_group(ike.dh_group)}",
        f"        set keylife {ike.sa_lifetime_seconds}",
        f"        set remote-gw {t.cloud_address}",
        f"        set psksecret {t.psk}",
        "    next",
        "end",
        "config vpn ipsec phase2-interface",
    ]
    pfs = _group(ipsec.pfs_group)
    for n, (mine, theirs) in enumerate(t.pairs, start=1):
        lines += [
            f'    edit "{t.name}-{n}"',
            f'        set phase1name "{t.name}"',
            f"        set proposal {_keyword(_FORTI_ENC, ipsec.encryption)}-{_keyword(_FORTI_HASH, ipsec.integrity)}",
            "        set pfs disable" if pfs is None else f"        set dhgrp {pfs}",
            f"        set keylifeseconds {ipsec.sa_lifetime_seconds}",
            f"        set src-subnet {_mask(mine)}",
            f"        set dst-subnet {_mask(theirs)}",
            "    next",
        ]
    return [*lines, "end"]


def _paloalto(t: _Tunnel, vendor: Vendor) -> list[str]:
    ike, ipsec = t.connection.ike, t.connection.ipsec
    version = "ikev2" if t.ike_v2 else "ikev1"
    pfs = _group(ipsec.pfs_group)
    gateway = f"set network ike gateway {t.name}"
    lines = [
        *t.header("#", vendor),
        f"set network ike crypto-profiles ike-crypto-profiles {t.name} encryption {_keyword(_PAN_ENC, ike.encryption)}"
        f" hash {_keyword(_FORTI_HASH, ike.authentication)} dh-group group{_group(ike.dh_group)}"
        f" lifetime seconds {ike.sa_lifetime_seconds}",
        f"set network ike crypto-profiles ipsec-crypto-profiles {t.name} esp encryption"
        f" {_keyword(_PAN_ENC, ipsec.encryption)} authentication {_keyword(_FORTI_HASH, ipsec.integrity)}"
        f" dh-group {'no-pfs' if pfs is None else 'group' + pfs} lifetime seconds {ipsec.sa_lifetime_seconds}",
        f"{gateway} protocol version {version}",
        f"{gateway} protocol {version} ike-crypto-profile {t.name}",
        *([] if t.ike_v2 else [f"{gateway} protocol ikev1 exchange-mode {'aggressive' if t.aggressive else 'main'}"]),
        f"{gateway} authentication pre-shared-key key {t.psk}",
        f"{gateway} local-address interface {t.interface}",
        f"{gateway} peer-address ip {t.cloud_address}",
        f"set network tunnel ipsec {t.name} auto-key ike-gateway {t.name}",
        f"set network tunnel ipsec {t.name} auto-key ipsec-crypto-profile {t.name}",
    ]
    lines += [
        f"set network tunnel ipsec {t.name} auto-key proxy-id pair-{n} local {mine} remote {theirs} protocol any"
        for n, (mine, theirs) in enumerate(t.pairs, start=1)
    ]
    return lines


# --- strongSwan (swanctl.conf) ------------------------------------------------------------------------------------

_SWAN_ENC: Final = MappingProxyType(
    {"3DES-CBC": "3des", "DES-CBC": "des", "AES-CBC-128": "aes128", "AES-CBC-192": "aes192", "AES-CBC-256": "aes256",
     "NULL": "null", "AES128GCM128": "aes128gcm16", "AES192GCM128": "aes192gcm16", "AES256GCM128": "aes256gcm16"}
)  # fmt: skip
_SWAN_GROUP: Final = MappingProxyType(
    {"1": "modp768", "2": "modp1024", "5": "modp1536", "14": "modp2048", "15": "modp3072", "16": "modp4096",
     "19": "ecp256", "20": "ecp384", "21": "ecp521", "24": "modp2048s256"}
)  # fmt: skip


def _strongswan(t: _Tunnel, vendor: Vendor) -> list[str]:
    ike, ipsec = t.connection.ike, t.connection.ipsec
    cgw = t.connection.customer_gateway.address
    ike_group = _SWAN_GROUP.get(_group(ike.dh_group) or "", "")
    proposal = f"{_keyword(_SWAN_ENC, ike.encryption)}-{_keyword(_FORTI_HASH, ike.authentication)}-{ike_group}"
    esp = f"{_keyword(_SWAN_ENC, ipsec.encryption)}"
    if not ipsec.encryption.value.endswith("GCM128"):
        esp += f"-{_keyword(_FORTI_HASH, ipsec.integrity)}"
    if (pfs := _group(ipsec.pfs_group)) is not None:
        esp += f"-{_SWAN_GROUP.get(pfs, 'modp' + pfs)}"
    own = (ike.remote_address or cgw) if ike.remote_identity is Identity.ADDRESS else ike.remote_fqdn
    theirs = (ike.local_address or t.cloud_address) if ike.local_identity is Identity.ADDRESS else ike.local_fqdn
    lines = [*t.header("#", vendor), "connections {", f"    {t.name} {{", f"        version = {2 if t.ike_v2 else 1}"]
    lines += [*(["        aggressive = yes"] if t.aggressive else []), f"        remote_addrs = {t.cloud_address}"]
    lines += [f"        proposals = {proposal}", f"        rekey_time = {ike.sa_lifetime_seconds}s"]
    lines += ["        local {", "            auth = psk", f"            id = {own}", "        }"]
    lines += [
        "        remote {",
        "            auth = psk",
        f"            id = {theirs}",
        "        }",
        "        children {",
    ]
    for n, (mine, cloud) in enumerate(t.pairs, start=1):
        lines += [
            f"            {t.name}-{n} {{",
            f"                local_ts = {mine}",
            f"                remote_ts = {cloud}",
            f"                esp_proposals = {esp}",
            f"                rekey_time = {ipsec.sa_lifetime_seconds}s",
            "            }",
        ]
    lines += ["        }", "    }", "}", "secrets {", f"    ike-{t.name} {{", f"        id = {theirs}"]
    return [*lines, f'        secret = "{t.psk}"', "    }", "}"]


_RENDERERS: Final[Mapping[str, Callable[[_Tunnel, Vendor], list[str]]]] = MappingProxyType(
    {
        "cisco": _cisco,
        "h3c": _h3c,
        "huawei": _huawei,
        "fortinet": _fortinet,
        "paloalto": _paloalto,
        "strongswan": _strongswan,
    }
)


def render(vendor: Vendor, connection: Connection, gateway: VpnGateway, interface: str) -> str:
    """The configuration of ``vendor``'s device for ``connection`` (on ``gateway``), its outside interface
    ``interface``; lines end with CRLF, as the service's example does. The pre-shared key is in it."""
    tunnel = _Tunnel(f"tencent-{connection.id}", connection, gateway, interface)
    return "\r\n".join(_RENDERERS[vendor.vendor_name](tunnel, vendor)) + "\r\n"
