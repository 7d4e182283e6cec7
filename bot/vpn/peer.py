"""The peer's half of a change: the configuration the customer's device (the other end of the tunnel) must apply.

:func:`peer_config` renders proposed :class:`VpnSettings` from the peer's point of view: *local* is the customer's
end (``user_gw_address``, Tencent's ``remote*`` identity), *remote* is Tencent's gateway (``vpn_gw_address``,
Tencent's ``local*`` identity); the local traffic selectors are the SPD's IDC-side CIDRs, the remote ones its
VPC-side CIDRs. Two vendors: a strongSwan ``swanctl.conf`` fragment and a Cisco IOS configuration block.

What a caller may rely on:

- **The key never appears.** It is not even passed in: the fragment holds :data:`KEY_PLACEHOLDER` where the key goes,
  with a comment saying so. A placeholder left in place cannot authenticate (nor, on IOS, even parse), so a forgotten
  key fails closed.
- **Selectors stay exact.** Each SPD pair is covered, and nothing more: strongSwan gets one child per VPC-side rule
  under IKEv2 (its IDC-side CIDRs as ``local_ts``), and one child per pair under IKEv1, which negotiates only the
  first selector of each side (swanctl.conf(5), ``local_ts``). IOS gets one ACL line per pair. Never all x all.
- **A value with no equivalent is refused**, not approximated: :class:`PeerConfigError` names the parameter and the
  value (SM4 and SM3 everywhere; AES-GCM for an IKEv1 IKE SA, which neither strongSwan nor IOS's ``isakmp policy``
  offers; DES and AES-GCM-192 in an IOS IKEv2 proposal; IKE lifetimes outside IOS's ranges). So is a route-based
  tunnel (it needs a tunnel interface on the device, not traffic selectors) and a policy-based one with no SPD.
- **Cloud text cannot break out of its line.** Addresses must read as IPv4 addresses and FQDNs as
  ``[A-Za-z0-9._@:-]`` of at most 255 characters, else :class:`PeerConfigError` (refused, never cleaned up). Free
  text (the connection's and customer gateway's names) appears only in comments, escaped by ``params.visible``
  (controls, line separators and invisible characters become ``\\uXXXX``); IOS comments escape every character
  outside printable ASCII, and ``?`` (IOS's CLI reads it as a request for help), the same way. Section and object
  names are a ``name`` of ``[A-Za-z0-9_-]`` (refused otherwise) or the connection id with ``.`` and ``:`` turned
  into ``_``.

Pure: stdlib and ``bot.vpn`` only, no I/O.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from bot.vpn.connection import VpnConnection, VpnSettings
from bot.vpn.params import FQDN_NAME_MAX, Cidr, Value, visible


class PeerVendor(enum.StrEnum):
    STRONGSWAN = "strongswan"
    CISCO = "cisco"


KEY_PLACEHOLDER = "<pre-shared key: set it here>"
"""What stands where the pre-shared key goes: never the key, which vpnbot does not hold."""

NAME_MAX = 64
_NAME = re.compile(rf"[A-Za-z0-9_-]{{1,{NAME_MAX}}}")
_ID_SEPARATORS = re.compile(r"[.:]")
_FQDN = re.compile(r"[A-Za-z0-9._@:-]+")
_SHOWN_MAX = 40


class PeerConfigError(ValueError):
    """The settings cannot be rendered for the vendor; ``parameter`` names the setting (or connection field) at
    fault, and the message says why, quoting the value escaped and cut short. Never holds a secret."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


# --- what both vendors render -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """An IKE identity: ``kind`` is ``address`` or ``fqdn``; ``value`` is checked for its kind."""

    kind: str
    value: str


@dataclass(frozen=True)
class PeerPlan:
    """The settings seen from the peer, checked and in vpnbot's spellings; the vendors map the algorithms."""

    name: str
    connection_id: str
    title: str
    peer_name: str
    ike_version: int
    aggressive: bool
    local_address: str
    remote_address: str
    local_id: Identity
    remote_id: Identity
    ike_encryption: str
    ike_integrity: str
    dh_group: str
    ike_lifetime: int
    esp_encryption: str
    esp_integrity: str
    pfs_group: str | None
    esp_lifetime: int
    esp_kilobytes: int
    rules: tuple[tuple[Cidr, tuple[Cidr, ...]], ...]
    """SPD rules as (VPC-side CIDR, its IDC-side CIDRs), sorted."""

    def pairs(self) -> tuple[tuple[Cidr, Cidr], ...]:
        """Every (IDC-side, VPC-side) pair, in the peer's (local, remote) order."""
        return tuple((idc, vpc) for vpc, idcs in self.rules for idc in idcs)


def plan(connection: VpnConnection, settings: VpnSettings, *, name: str | None = None) -> PeerPlan:
    """Check everything the vendors share and turn it to the peer's point of view; raises PeerConfigError."""
    if settings.route_based:
        raise PeerConfigError(
            "routeType",
            f"{_shown(settings.route_type)} is route-based: its peer needs a tunnel interface and routes, which "
            "vpnbot does not generate (it writes policy-based configurations)",
        )
    version = _ike_version(settings["IKESet.ikeVersion"])
    mode = _text(settings["IKESet.exchangeMode"]) or "main"
    if mode not in ("main", "aggressive"):
        raise PeerConfigError("IKESet.exchangeMode", f"{_shown(mode)} is neither main nor aggressive")
    local_address = _address("userGwAddress", connection.user_gw_address)
    remote_address = _address("vpnGwAddress", connection.vpn_gw_address)
    pfs = _choice(settings, "IPsecSet.pfsDhGroup")
    return PeerPlan(
        name=_section_name(connection, name),
        connection_id=visible(connection.vpn_conn_id),
        title=visible(connection.name),
        peer_name=visible(connection.user_gw_name),
        ike_version=version,
        aggressive=mode == "aggressive",
        local_address=local_address,
        remote_address=remote_address,
        local_id=_identity(settings, "remote", local_address),
        remote_id=_identity(settings, "local", remote_address),
        ike_encryption=_choice(settings, "IKESet.propoEncryAlgorithm"),
        ike_integrity=_choice(settings, "IKESet.propoAuthenAlgorithm"),
        dh_group=_choice(settings, "IKESet.dhGroupName"),
        ike_lifetime=_number(settings, "IKESet.ikeSaLifetimeSeconds"),
        esp_encryption=_choice(settings, "IPsecSet.encryptAlgorithm"),
        esp_integrity=_choice(settings, "IPsecSet.integrityAlgorith"),
        pfs_group=None if pfs == "null" else pfs,
        esp_lifetime=_number(settings, "IPsecSet.ipsecSaLifetimeSeconds"),
        esp_kilobytes=_number(settings, "IPsecSet.ipsecSaLifetimeTraffic"),
        rules=_rules(settings),
    )


def _shown(value: object) -> str:
    text = visible(str(value))
    return repr(text if len(text) <= _SHOWN_MAX else text[:_SHOWN_MAX] + "...")


def _text(value: Value) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


def _ike_version(value: Value) -> int:
    text = _text(value)
    if text in ("", "ikev1"):
        return 1
    if text == "ikev2":
        return 2
    raise PeerConfigError("IKESet.ikeVersion", f"{_shown(value)} is neither ikev1 nor ikev2")


def _choice(settings: VpnSettings, parameter: str) -> str:
    value = settings[parameter]
    if not isinstance(value, str) or not value.strip():
        raise PeerConfigError(parameter, "not reported by the cloud: nothing to configure the peer with")
    return value.strip().lower()


def _number(settings: VpnSettings, parameter: str) -> int:
    value = settings[parameter]
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise PeerConfigError(parameter, f"{_shown(value)} is not a positive whole number")
    return value


def _address(field: str, text: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise PeerConfigError(field, f"{_shown(text)} is not an IPv4 address") from None


def _identity(settings: VpnSettings, side: str, address: str) -> Identity:
    """Tencent's ``side`` identity (``local``: Tencent's own; ``remote``: the customer's); an address identity left
    empty is that end's gateway address, as the service uses it."""
    kind = _choice(settings, f"IKESet.{side}Identity")
    if kind == "address":
        given = settings[f"IKESet.{side}Address"]
        return Identity("address", _address(f"IKESet.{side}Address", str(given)) if given else address)
    if kind == "fqdn":
        parameter = f"IKESet.{side}FqdnName"
        fqdn = settings[parameter]
        if not isinstance(fqdn, str) or len(fqdn) > FQDN_NAME_MAX or not _FQDN.fullmatch(fqdn):
            raise PeerConfigError(
                parameter,
                f"{_shown(fqdn)} is not a name of letters, digits and . - _ @ : (at most {FQDN_NAME_MAX} characters)",
            )
        return Identity("fqdn", fqdn)
    raise PeerConfigError(f"IKESet.{side}Identity", f"{_shown(kind)} is neither address nor fqdn")


def _section_name(connection: VpnConnection, name: str | None) -> str:
    if name is not None:
        if not _NAME.fullmatch(name):
            raise PeerConfigError("name", f"{_shown(name)} must be 1 to {NAME_MAX} of A-Z a-z 0-9 _ -")
        return name
    derived = _ID_SEPARATORS.sub("_", connection.vpn_conn_id)
    if not _NAME.fullmatch(derived):
        raise PeerConfigError("vpnConnId", f"{_shown(connection.vpn_conn_id)} is not an id; pass a name")
    return derived


def _rules(settings: VpnSettings) -> tuple[tuple[Cidr, tuple[Cidr, ...]], ...]:
    spd = settings.spd()
    rules = []
    for vpc, idcs in spd.rules:
        checked = [_cidr(c) for c in (vpc, *idcs)]
        if len(checked) > 1:
            rules.append((checked[0], tuple(sorted(checked[1:]))))
    if not rules:
        raise PeerConfigError("spdAcl", "is empty: a policy-based tunnel needs traffic selectors")
    return tuple(rules)


def _cidr(cidr: object) -> Cidr:
    if not isinstance(cidr, ipaddress.IPv4Network):
        raise PeerConfigError("spdAcl", f"{_shown(cidr)} is not an IPv4 CIDR")
    return cidr


def _mapped(table: Mapping[str, str], parameter: str, value: str, vendor: str, why: str = "") -> str:
    keyword = table.get(value)
    if keyword is None:
        raise PeerConfigError(parameter, f"{_shown(value)} has no {vendor} equivalent{why}")
    return keyword


# --- strongSwan (swanctl.conf) --------------------------------------------------------------------------------

_GCM = frozenset({"aes128gcm128", "aes192gcm128", "aes256gcm128"})
DH_GROUPS = ("group1", "group2", "group5", "group14", "group15", "group16", "group19", "group20", "group21", "group24")
"""Every IKE DH group vpnbot knows (API 3.0's set); a PFS group is ``dh-`` and one of them, or ``null``."""
SWANCTL_ENCRYPTION: Mapping[str, str] = MappingProxyType(
    {
        "des-cbc": "des",
        "3des-cbc": "3des",
        "aes-cbc-128": "aes128",
        "aes-cbc-192": "aes192",
        "aes-cbc-256": "aes256",
        "aes128gcm128": "aes128gcm16",
        "aes192gcm128": "aes192gcm16",
        "aes256gcm128": "aes256gcm16",
    }
)
"""IKE and ESP encryption; ESP also takes ``null`` (:data:`SWANCTL_ESP_ENCRYPTION`). GCM with a 128-bit ICV is
strongSwan's ``gcm16`` (16 octets)."""
SWANCTL_ESP_ENCRYPTION: Mapping[str, str] = MappingProxyType({**SWANCTL_ENCRYPTION, "null": "null"})
SWANCTL_INTEGRITY: Mapping[str, str] = MappingProxyType(
    {"md5": "md5", "sha": "sha1", "sha-256": "sha256", "sha-384": "sha384", "sha-512": "sha512"}
)
SWANCTL_PRF: Mapping[str, str] = MappingProxyType({k: "prf" + v for k, v in SWANCTL_INTEGRITY.items()})
"""The PRF an AEAD IKE proposal names (a non-AEAD one derives it from the integrity algorithm)."""
SWANCTL_DH: Mapping[str, str] = MappingProxyType(
    {
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
)
"""IKE DH groups; a PFS group ``dh-groupN`` maps as ``groupN``."""
_INDENT = "    "


def strongswan_config(connection: VpnConnection, settings: VpnSettings, *, name: str | None = None) -> str:
    """A swanctl.conf fragment: ``connections.<name>`` and ``secrets.ike-<name>``; raises PeerConfigError."""
    peer = plan(connection, settings, name=name)
    ike = _swan_ike_proposal(peer)
    esp = _swan_esp_proposal(peer)
    notes = [
        f"# vpnbot: the peer side of Tencent Cloud VPN connection {peer.connection_id} ({peer.title}),",
        f"# for the customer gateway {peer.local_address}{_named(peer.peer_name)}; the other end is Tencent's gateway "
        f"{peer.remote_address}.",
        "# Apply it when the change is applied on Tencent's side: swanctl --load-all (or --load-conns --load-creds).",
        "# Behind NAT, local_addrs must be this device's own address (or %any), not the public one.",
    ]
    if peer.aggressive and peer.ike_version == 1:
        notes.append("# Aggressive mode sends the identities in clear and exposes the key to offline guessing.")
    if peer.aggressive and peer.ike_version == 2:
        notes.append("# Tencent's exchange mode is aggressive, which applies to IKEv1 only: IKEv2 has no modes.")
    if peer.esp_encryption in _GCM:
        notes.append(
            f"# ESP uses AES-GCM, which authenticates by itself: IPsec integrity {peer.esp_integrity} is moot."
        )
    lines = [*notes, "connections {"]
    body = [
        f"version = {peer.ike_version}",
        f"local_addrs = {peer.local_address}",
        f"remote_addrs = {peer.remote_address}",
        f"proposals = {ike}",
        f"rekey_time = {peer.ike_lifetime}s",
    ]
    if peer.aggressive and peer.ike_version == 1:
        body.append("aggressive = yes")
    lines += _swan_section(peer.name, body, 1)[:-1]
    lines += _swan_section("local", ["auth = psk", f"id = {_swan_id(peer.local_id)}"], 2)
    lines += _swan_section("remote", ["auth = psk", f"id = {_swan_id(peer.remote_id)}"], 2)
    lines.append(_INDENT * 2 + "children {")
    for number, (local_ts, remote_ts) in enumerate(_swan_children(peer), start=1):
        child = [
            f"local_ts = {', '.join(str(c) for c in local_ts)}",
            f"remote_ts = {', '.join(str(c) for c in remote_ts)}",
            f"esp_proposals = {esp}",
            f"rekey_time = {peer.esp_lifetime}s",
            f"rekey_bytes = {peer.esp_kilobytes * 1024}",
        ]
        lines += _swan_section(f"{peer.name}-{number}", child, 3)
    lines += [_INDENT * 2 + "}", _INDENT + "}", "}", "secrets {"]
    secret = [
        f"id-local = {_swan_id(peer.local_id)}",
        f"id-remote = {_swan_id(peer.remote_id)}",
        "# The pre-shared key goes here: replace the placeholder with the key, in double quotes.",
        f'secret = "{KEY_PLACEHOLDER}"',
    ]
    lines += _swan_section(f"ike-{peer.name}", secret, 1)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _swan_section(name: str, body: list[str], depth: int) -> list[str]:
    indent = _INDENT * depth
    return [f"{indent}{name} {{", *(indent + _INDENT + line for line in body), f"{indent}}}"]


def _swan_children(peer: PeerPlan) -> list[tuple[tuple[Cidr, ...], tuple[Cidr, ...]]]:
    if peer.ike_version == 1:
        return [((idc,), (vpc,)) for idc, vpc in peer.pairs()]
    return [(idcs, (vpc,)) for vpc, idcs in peer.rules]


def _swan_id(identity: Identity) -> str:
    # An FQDN of digits and dots would otherwise be read as an address, one with @ as an e-mail identity.
    return identity.value if identity.kind == "address" else f"fqdn:{identity.value}"


def _swan_ike_proposal(peer: PeerPlan) -> str:
    parameter = "IKESet.propoEncryAlgorithm"
    if peer.ike_version == 1 and peer.ike_encryption in _GCM:
        raise PeerConfigError(
            parameter, f"{_shown(peer.ike_encryption)}: strongSwan offers no AEAD (GCM) for an IKEv1 IKE SA"
        )
    encryption = _mapped(SWANCTL_ENCRYPTION, parameter, peer.ike_encryption, "strongSwan")
    if peer.ike_encryption in _GCM:
        mac = _mapped(SWANCTL_PRF, "IKESet.propoAuthenAlgorithm", peer.ike_integrity, "strongSwan")
    else:
        mac = _mapped(SWANCTL_INTEGRITY, "IKESet.propoAuthenAlgorithm", peer.ike_integrity, "strongSwan")
    group = _mapped(SWANCTL_DH, "IKESet.dhGroupName", peer.dh_group, "strongSwan")
    return f"{encryption}-{mac}-{group}"


def _swan_esp_proposal(peer: PeerPlan) -> str:
    parts = [_mapped(SWANCTL_ESP_ENCRYPTION, "IPsecSet.encryptAlgorithm", peer.esp_encryption, "strongSwan")]
    if peer.esp_encryption not in _GCM:
        parts.append(_mapped(SWANCTL_INTEGRITY, "IPsecSet.integrityAlgorith", peer.esp_integrity, "strongSwan"))
    if peer.pfs_group is not None:
        parts.append(_mapped(SWANCTL_DH, "IPsecSet.pfsDhGroup", _pfs_as_group(peer.pfs_group), "strongSwan"))
    return "-".join(parts)


def _pfs_as_group(pfs: str) -> str:
    return pfs.removeprefix("dh-")


# --- Cisco IOS ----------------------------------------------------------------------------------------------

IOS_IKEV2_ENCRYPTION: Mapping[str, str] = MappingProxyType(
    {
        "3des-cbc": "3des",
        "aes-cbc-128": "aes-cbc-128",
        "aes-cbc-192": "aes-cbc-192",
        "aes-cbc-256": "aes-cbc-256",
        "aes128gcm128": "aes-gcm-128",
        "aes256gcm128": "aes-gcm-256",
    }
)
"""``crypto ikev2 proposal`` ``encryption``; IOS lists no DES nor AES-GCM-192 there."""
IOS_IKEV2_INTEGRITY: Mapping[str, str] = MappingProxyType(
    {"md5": "md5", "sha": "sha1", "sha-256": "sha256", "sha-384": "sha384", "sha-512": "sha512"}
)
"""``integrity`` (and ``prf`` for an AES-GCM proposal, which takes no integrity) of ``crypto ikev2 proposal``."""
IOS_GROUP: Mapping[str, str] = MappingProxyType({group: group.removeprefix("group") for group in DH_GROUPS})
"""``group N`` of ``crypto ikev2 proposal`` and ``crypto isakmp policy``; ``set pfs groupN`` for PFS."""
IOS_ISAKMP_ENCRYPTION: Mapping[str, str] = MappingProxyType(
    {"des-cbc": "des", "3des-cbc": "3des", "aes-cbc-128": "aes", "aes-cbc-192": "aes 192", "aes-cbc-256": "aes 256"}
)
"""``crypto isakmp policy`` ``encryption`` (IKEv1: no AES-GCM)."""
IOS_ISAKMP_HASH: Mapping[str, str] = MappingProxyType(
    {"md5": "md5", "sha": "sha", "sha-256": "sha256", "sha-384": "sha384", "sha-512": "sha512"}
)
IOS_ESP_ENCRYPTION: Mapping[str, str] = MappingProxyType(
    {
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
)
"""``crypto ipsec transform-set`` encryption transforms (``esp-aes`` and ``esp-gcm`` alone are 128-bit)."""
IOS_ESP_INTEGRITY: Mapping[str, str] = MappingProxyType(
    {
        "md5": "esp-md5-hmac",
        "sha": "esp-sha-hmac",
        "sha-256": "esp-sha256-hmac",
        "sha-384": "esp-sha384-hmac",
        "sha-512": "esp-sha512-hmac",
    }
)
IOS_ISAKMP_LIFETIME = (60, 86400)
IOS_IKEV2_LIFETIME = (120, 86400)
IOS_IPSEC_LIFETIME_SECONDS = (120, 2592000)
IOS_IPSEC_LIFETIME_KILOBYTES = (2560, 4294967295)
_IOS_SAFE = frozenset(chr(c) for c in range(0x20, 0x7F) if chr(c) != "?")


def cisco_config(connection: VpnConnection, settings: VpnSettings, *, name: str | None = None) -> str:
    """A Cisco IOS configuration block (IKEv2 or IKEv1, crypto map with an ACL per SPD pair); raises
    PeerConfigError."""
    peer = plan(connection, settings, name=name)
    lines = [
        f"! vpnbot: the peer side of Tencent Cloud VPN connection {_ios_text(peer.connection_id)} "
        f"({_ios_text(peer.title)}),",
        f"! for the customer gateway {peer.local_address}{_named(_ios_text(peer.peer_name))}; the other end is Tencent's "
        f"gateway {peer.remote_address}. IKEv{peer.ike_version}.",
        "! Apply it when the change is applied on Tencent's side.",
        "!",
    ]
    lines += _ios_ikev2(peer) if peer.ike_version == 2 else _ios_ikev1(peer)
    lines += _ios_ipsec(peer)
    return "\n".join(lines) + "\n"


def _ios_text(text: str) -> str:
    return "".join(
        c if c in _IOS_SAFE else f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}" for c in text
    )


def _ios_lifetime(parameter: str, seconds: int, bounds: tuple[int, int], what: str) -> int:
    if not bounds[0] <= seconds <= bounds[1]:
        raise PeerConfigError(parameter, f"{seconds} s is outside IOS's {what} range, {bounds[0]} to {bounds[1]} s")
    return seconds


def _ios_ikev2(peer: PeerPlan) -> list[str]:
    vendor = "IOS IKEv2"
    encryption = _mapped(IOS_IKEV2_ENCRYPTION, "IKESet.propoEncryAlgorithm", peer.ike_encryption, vendor)
    mac = _mapped(IOS_IKEV2_INTEGRITY, "IKESet.propoAuthenAlgorithm", peer.ike_integrity, vendor)
    group = _mapped(IOS_GROUP, "IKESet.dhGroupName", peer.dh_group, vendor)
    lifetime = _ios_lifetime("IKESet.ikeSaLifetimeSeconds", peer.ike_lifetime, IOS_IKEV2_LIFETIME, "IKEv2 profile")
    lines = [f"crypto ikev2 proposal {peer.name}-proposal", f" encryption {encryption}"]
    lines.append(f" prf {mac}" if peer.ike_encryption in _GCM else f" integrity {mac}")
    lines += [
        f" group {group}",
        "!",
        f"crypto ikev2 policy {peer.name}-policy",
        f" proposal {peer.name}-proposal",
        "!",
        f"crypto ikev2 keyring {peer.name}-keyring",
        " peer tencent",
        f"  address {peer.remote_address}",
        "  ! The pre-shared key goes here: replace the placeholder with the key.",
        f"  pre-shared-key {KEY_PLACEHOLDER}",
        "!",
        f"crypto ikev2 profile {peer.name}-profile",
        f" match identity remote {_ios_ikev2_id(peer.remote_id)}",
        f" identity local {_ios_ikev2_id(peer.local_id, local=True)}",
        " authentication remote pre-share",
        " authentication local pre-share",
        f" keyring local {peer.name}-keyring",
        f" lifetime {lifetime}",
        "!",
    ]
    if peer.aggressive:
        lines.insert(0, "! Tencent's exchange mode is aggressive, which applies to IKEv1 only: IKEv2 has no modes.")
    return lines


def _ios_ikev2_id(identity: Identity, *, local: bool = False) -> str:
    if identity.kind == "fqdn":
        return f"fqdn {identity.value}"
    return f"address {identity.value}" if local else f"address {identity.value} 255.255.255.255"


def _ios_ikev1(peer: PeerPlan) -> list[str]:
    vendor = "IOS IKEv1 (isakmp policy)"
    parameter = "IKESet.propoEncryAlgorithm"
    why = ": IOS offers no AES-GCM for IKEv1" if peer.ike_encryption in _GCM else ""
    encryption = _mapped(IOS_ISAKMP_ENCRYPTION, parameter, peer.ike_encryption, vendor, why)
    hash_keyword = _mapped(IOS_ISAKMP_HASH, "IKESet.propoAuthenAlgorithm", peer.ike_integrity, vendor)
    group = _mapped(IOS_GROUP, "IKESet.dhGroupName", peer.dh_group, vendor)
    lifetime = _ios_lifetime("IKESet.ikeSaLifetimeSeconds", peer.ike_lifetime, IOS_ISAKMP_LIFETIME, "isakmp policy")
    lines = [
        "crypto isakmp policy 10",
        f" encryption {encryption}",
        f" hash {hash_keyword}",
        " authentication pre-share",
        f" group {group}",
        f" lifetime {lifetime}",
        "!",
        f"crypto keyring {peer.name}-keyring",
        "  ! The pre-shared key goes here: replace the placeholder with the key.",
        f"  pre-shared-key address {peer.remote_address} key {KEY_PLACEHOLDER}",
        "!",
        f"crypto isakmp profile {peer.name}-isakmp",
        f" keyring {peer.name}-keyring",
    ]
    if peer.remote_id.kind == "fqdn":
        lines.append(f" match identity host {peer.remote_id.value}")
    else:
        lines.append(f" match identity address {peer.remote_id.value} 255.255.255.255")
    if peer.local_id.kind == "fqdn":
        lines += [
            " ! IOS sends its own host name and domain as this identity: they must read " + peer.local_id.value,
            " self-identity fqdn",
        ]
    else:
        lines.append(" self-identity address")
    if peer.aggressive:
        lines += [
            " ! Aggressive mode, as Tencent's side uses: identities go in clear and the key can be guessed offline.",
            " initiate mode aggressive",
        ]
    return [*lines, "!"]


def _ios_ipsec(peer: PeerPlan) -> list[str]:
    vendor = "IOS transform-set"
    encryption = _mapped(IOS_ESP_ENCRYPTION, "IPsecSet.encryptAlgorithm", peer.esp_encryption, vendor)
    transforms = [encryption]
    if peer.esp_encryption not in _GCM:
        transforms.append(_mapped(IOS_ESP_INTEGRITY, "IPsecSet.integrityAlgorith", peer.esp_integrity, vendor))
    seconds = _ios_lifetime(
        "IPsecSet.ipsecSaLifetimeSeconds", peer.esp_lifetime, IOS_IPSEC_LIFETIME_SECONDS, "IPsec SA"
    )
    kilobytes = peer.esp_kilobytes
    low, high = IOS_IPSEC_LIFETIME_KILOBYTES
    if not low <= kilobytes <= high:
        raise PeerConfigError(
            "IPsecSet.ipsecSaLifetimeTraffic", f"{kilobytes} KB is outside IOS's range, {low} to {high} KB"
        )
    lines = [f"crypto ipsec transform-set {peer.name}-transform {' '.join(transforms)}", " mode tunnel", "!"]
    lines.append(f"ip access-list extended {peer.name}-acl")
    lines += [f" permit ip {_ios_network(idc)} {_ios_network(vpc)}" for idc, vpc in peer.pairs()]
    lines += [
        "!",
        f"crypto map {peer.name}-map 10 ipsec-isakmp",
        f" set peer {peer.remote_address}",
        f" set transform-set {peer.name}-transform",
    ]
    if peer.ike_version == 2:
        lines.append(f" set ikev2-profile {peer.name}-profile")
    else:
        lines.append(f" set isakmp-profile {peer.name}-isakmp")
    if peer.pfs_group is None:
        lines.append(" ! PFS: none (Tencent's pfsDhGroup is null)")
    else:
        group = _mapped(IOS_GROUP, "IPsecSet.pfsDhGroup", _pfs_as_group(peer.pfs_group), vendor)
        lines.append(f" set pfs group{group}")
    lines += [
        f" set security-association lifetime seconds {seconds}",
        f" set security-association lifetime kilobytes {kilobytes}",
        f" match address {peer.name}-acl",
        "!",
        "! Then on the interface that faces Tencent's gateway:",
        "! interface <outside interface>",
        f"!  crypto map {peer.name}-map",
    ]
    return lines


def _ios_network(cidr: Cidr) -> str:
    return f"{cidr.network_address} {cidr.hostmask}"


# --- the entry point ----------------------------------------------------------------------------------------

_RENDERERS: Mapping[PeerVendor, Callable[..., str]] = MappingProxyType(
    {PeerVendor.STRONGSWAN: strongswan_config, PeerVendor.CISCO: cisco_config}
)


def peer_config(
    vendor: PeerVendor, connection: VpnConnection, settings: VpnSettings, *, name: str | None = None
) -> str:
    """The configuration ``vendor``'s device needs for ``settings`` (the proposed ones) on ``connection``; ``name``
    defaults to the connection id made safe for section names. Raises PeerConfigError (see the module)."""
    return _RENDERERS[PeerVendor(vendor)](connection, settings, name=name)


def _named(name: str) -> str:
    """`` (name)`` after an address, or nothing when the cloud gave no name."""
    return f" ({name})" if name else ""
