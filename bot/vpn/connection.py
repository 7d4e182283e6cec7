"""A VPN connection as vpnbot sees it: normalised from ``DescribeVpnConn``, with its pre-shared key dropped.

``DescribeVpnConn`` returns numbers as strings, the IKE block under ``IKESet`` or ``IKEArr``, the IPsec block
under ``IPsecSet`` or ``IPSECArr``, ``sha1`` where the input enum says ``sha``, no ``spdAcl`` (the SPD is
``sourceCidr`` x ``destinationCidr``) and the current pre-shared key in plain text. :func:`connection_from_describe`
absorbs all of that; the key survives only as a keyed fingerprint, good for "changed or not" and nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bot.vpn.params import (
    PARAMS_BY_NAME,
    SETTING_NAMES,
    Cidr,
    CidrSet,
    Kind,
    ParameterError,
    SpdPolicy,
    Value,
    parse_cidr,
    parse_value,
)

# Fingerprints are keyed by a secret, so a fingerprint says nothing about the key itself. Random per process unless
# the bot sets a persistent one (derived from its store key), so that fingerprints taken before a restart still match.
_fingerprint_key = secrets.token_bytes(32)
_READ: OrderedDict[bytes, VpnConnection] = OrderedDict()  # see connection_from_describe
READ_KEPT = 1024


def use_fingerprint_key(key: bytes) -> None:
    """Key secret fingerprints with ``key`` from now on (at least 32 bytes; keep it as secret as the store key)."""
    global _fingerprint_key
    if len(key) < 32:
        raise ValueError("a fingerprint key needs at least 32 bytes")
    _fingerprint_key = bytes(key)
    _READ.clear()


CONN_STATUS_TEXT: Mapping[int, str] = {
    0: "creating",
    1: "create error",
    2: "modifying",
    3: "modify error",
    4: "deleting",
    5: "delete error",
    6: "normal",
}
IKE_BLOCKS = ("IKESet", "IKEArr")
IPSEC_BLOCKS = ("IPsecSet", "IPSECArr")


def secret_fingerprint(secret: str) -> str:
    """A keyed digest of ``secret``: equal secrets give equal fingerprints within this process."""
    return hmac.new(_fingerprint_key, secret.encode(), hashlib.sha256).hexdigest()[:32]


class CloudDataError(ValueError):
    """The cloud described a connection in a way vpnbot cannot read; names the field, never a secret."""


@dataclass(frozen=True)
class VpnSettings:
    """The editable settings of a connection, keyed by the seed's parameter names (see ``params.SETTING_NAMES``).

    The pre-shared key is not held: ``psk_fingerprint`` tells whether a proposed key differs from the live one.
    """

    values: Mapping[str, Value]
    psk_fingerprint: str | None = None

    def __post_init__(self) -> None:
        missing = [name for name in SETTING_NAMES if name not in self.values]
        if missing:
            raise ValueError(f"settings lack {', '.join(missing)}")
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))

    def __getitem__(self, name: str) -> Value:
        return self.values[name]

    def cidrs(self) -> CidrSet:
        value = self.values["userGwCidrBlock"]
        assert isinstance(value, frozenset)
        return value

    def spd(self) -> SpdPolicy:
        value = self.values["spdAcl"]
        assert isinstance(value, SpdPolicy)
        return value

    def replace(self, changes: Mapping[str, Value]) -> VpnSettings:
        return VpnSettings({**self.values, **changes}, self.psk_fingerprint)


@dataclass(frozen=True)
class VpnConnection:
    """One connection: its ids (the ``un*`` forms), what it is attached to, its state and its settings."""

    vpc_id: str
    vpn_gw_id: str
    vpn_conn_id: str
    settings: VpnSettings
    vpc_name: str = ""
    vpn_gw_name: str = ""
    user_gw_id: str = ""
    user_gw_name: str = ""
    vpn_gw_address: str = ""
    user_gw_address: str = ""
    status: int = 6
    net_status: str = ""
    create_time: str = ""
    encap_mode: str = ""
    security_proto: str = ""
    source_cidrs: tuple[Cidr, ...] = field(default=())

    @property
    def name(self) -> str:
        return str(self.settings["vpnConnName"])

    @property
    def status_text(self) -> str:
        return CONN_STATUS_TEXT.get(self.status, f"status {self.status}")


def connection_from_describe(item: Mapping[str, Any]) -> VpnConnection:
    """Normalise one ``data[]`` item of ``DescribeVpnConn``; raises CloudDataError naming an unreadable field.

    An item read before, unchanged, gives the same (immutable) object again without parsing it: the last
    ``READ_KEPT`` are kept, by a keyed digest of the item (it holds the key, which is neither kept nor derivable).
    """
    digest = hashlib.blake2b(repr(item).encode(), key=_fingerprint_key[:64], digest_size=20).digest()
    known = _READ.get(digest)
    if known is not None:
        _READ.move_to_end(digest)
        return known
    connection = _connection(item)
    _READ[digest] = connection
    while len(_READ) > READ_KEPT:
        _READ.popitem(last=False)
    return connection


def _connection(item: Mapping[str, Any]) -> VpnConnection:
    ike = _block(item, IKE_BLOCKS)
    ipsec = _block(item, IPSEC_BLOCKS)
    sources = _cidr_tuple(item, "sourceCidr")
    destinations = frozenset(_cidr_tuple(item, "destinationCidr"))
    values: dict[str, Value] = {
        "vpnConnName": _read("vpnConnName", item.get("vpnConnName", "")),
        "userGwCidrBlock": destinations,
        "spdAcl": SpdPolicy.of(dict.fromkeys(sources, destinations)) if destinations else SpdPolicy(),
    }
    for name in SETTING_NAMES:
        block, _, field_name = name.partition(".")
        if block == "IKESet":
            values[name] = _read(name, ike.get(field_name))
        elif block == "IPsecSet":
            values[name] = _read(name, ipsec.get(field_name))
    psk = item.get("preSharedKey")
    settings = VpnSettings(values, secret_fingerprint(str(psk)) if psk else None)
    return VpnConnection(
        vpc_id=_id(item, "unVpcId", "vpcId"),
        vpn_gw_id=_id(item, "unVpnGwId", "vpnGwId"),
        vpn_conn_id=_id(item, "unVpnConnId", "vpnConnId"),
        settings=settings,
        vpc_name=str(item.get("vpcName", "")),
        vpn_gw_name=str(item.get("vpnGwName", "")),
        user_gw_id=str(item.get("unUserGwId") or item.get("userGwId") or ""),
        user_gw_name=str(item.get("userGwName", "")),
        vpn_gw_address=str(item.get("vpnGwAddress", "")),
        user_gw_address=str(item.get("userGwAddress", "")),
        status=_int(item.get("vpcConnStatus", 6), "vpcConnStatus"),
        net_status=str(item.get("netStatus", "")),
        create_time=str(item.get("createTime", "")),
        encap_mode=str(ipsec.get("encapMode", "")),
        security_proto=str(ipsec.get("securityProto", "")),
        source_cidrs=sources,
    )


def _block(item: Mapping[str, Any], names: tuple[str, ...]) -> Mapping[str, Any]:
    for name in names:
        block = item.get(name)
        if isinstance(block, list):
            block = block[0] if block else {}
        if isinstance(block, Mapping):
            return block
    raise CloudDataError(f"DescribeVpnConn returned no {' or '.join(names)} block")


def _read(name: str, raw: Any) -> Value:
    param = PARAMS_BY_NAME[name]
    if raw is None:
        if param.kind in (Kind.ADDRESS, Kind.FQDN):
            return ""
        raise CloudDataError(f"DescribeVpnConn returned no {name}")
    try:
        return parse_value(param, str(raw))
    except ParameterError as error:
        raise CloudDataError(f"DescribeVpnConn returned an unusable {name}: {error}") from None


def _cidr_tuple(item: Mapping[str, Any], key: str) -> tuple[Cidr, ...]:
    raw = item.get(key) or []
    if isinstance(raw, str):
        raw = [raw]
    try:
        return tuple(sorted({parse_cidr(str(c)) for c in raw}))
    except ParameterError as error:
        raise CloudDataError(f"DescribeVpnConn returned an unusable {key}: {error}") from None


def _id(item: Mapping[str, Any], preferred: str, fallback: str) -> str:
    value = item.get(preferred) or item.get(fallback)
    if not value:
        raise CloudDataError(f"DescribeVpnConn returned no {preferred}")
    return str(value)


def _int(raw: Any, name: str) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise CloudDataError(f"DescribeVpnConn returned a non-numeric {name}") from None
