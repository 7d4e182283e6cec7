"""A VPN connection as vpnbot sees it: normalised from ``DescribeVpnConn``, with its pre-shared key dropped.

``DescribeVpnConn`` returns numbers as strings, the IKE block under ``IKESet`` or ``IKEArr``, the IPsec block
under ``IPsecSet`` or ``IPSECArr``, ``sha1`` where the input enum says ``sha``, no ``spdAcl`` (the SPD is
``sourceCidr`` x ``destinationCidr``) and the current pre-shared key in plain text. :func:`connection_from_describe`
absorbs all of that; the key survives only as a keyed fingerprint, good for "changed or not" and nothing else.

The item is the cloud's answer, so nothing about it is trusted: every field is checked for its type and size (a 1 MB
name, a 100,000-entry CIDR list, a status of 10**5000 or a field the decoder marked unreadable are refused), and
whatever goes wrong reading it is a :class:`CloudDataError` whose ``reason`` names the field and never a value.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
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
    ValueSets,
    parse_cidr,
    read_value,
)

CONN_STATUS_TEXT: Mapping[int, str] = MappingProxyType(
    {
        0: "creating",
        1: "create error",
        2: "modifying",
        3: "modify error",
        4: "deleting",
        5: "delete error",
        6: "normal",
    }
)
ROUTE_BASED = frozenset({"staticroute", "bgp"})
"""``RouteType`` values (case aside) of a route-based tunnel, which has no SPD: API 3.0 documents ``STATIC`` (the
default) and ``Policy`` as policy-based, ``StaticRoute`` and ``Bgp`` as route-based."""
IKE_BLOCKS = ("IKESet", "IKEArr")
IPSEC_BLOCKS = ("IPsecSet", "IPSECArr")
CIDRS_MAX = 1000
"""The most CIDRs one side of a connection may list: more cannot be shown to an approver (Slack's limits)."""
TEXT_MAX = 255
"""The longest text field read (names, addresses, times); the seed's own longest value, an FQDN, is 255."""
STATUS_MAX = 2**31 - 1
_NUMBER_MAX = 10**40  # a whole number read as text; larger ones are not data (str() refuses past 4300 digits)
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


FINGERPRINT_KEY_MIN = 32
"""The fewest bytes a fingerprint key may have."""


@dataclass(frozen=True)
class SecretFingerprints:
    """Keyed fingerprints of secrets (HMAC-SHA256 by ``key``, 32 hex digits): equal secrets give equal
    fingerprints under one key, and a fingerprint says nothing about the secret to whoever lacks the key.

    Immutable, and owned by whoever runs the bot: the cloud client holds one and hands it to every connection it
    reads (``VpnSettings.fingerprints``). The bot keys it with a key derived from its store key, so that
    fingerprints taken before a restart still match; :meth:`random` gives one for the life of its holder.
    ``key`` is as secret as the store key: it is never shown (not even by ``repr``).
    """

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key) < FINGERPRINT_KEY_MIN:
            raise ValueError(f"a fingerprint key needs at least {FINGERPRINT_KEY_MIN} bytes")
        object.__setattr__(self, "key", bytes(self.key))

    @classmethod
    def random(cls) -> SecretFingerprints:
        """Fingerprints under a fresh random key: they match only fingerprints taken by the same object."""
        return cls(secrets.token_bytes(FINGERPRINT_KEY_MIN))

    def of(self, secret: str) -> str:
        """The fingerprint of ``secret``. Any ``str`` is accepted, even one holding a lone surrogate (JSON's
        ``"\\ud800"``)."""
        return hmac.new(self.key, secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]


class CloudDataError(ValueError):
    """The cloud described a connection in a way vpnbot cannot read; never holds a secret.

    ``str()`` names the field and may quote a short, cut value (``'SM4'``); ``reason`` is a short text that names
    the field and never a value, for places that show the cloud's data to others (a listing, an error card).
    Not a ``CloudError`` (``bot.vpn`` knows nothing of the clients): the clients wrap it in a ``ResponseError``.
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason if reason is not None else message


def readable_id(raw: object) -> str | None:
    """``raw`` as a resource id (``vpnx-ol6bcqp0``, or a numeric API 2.0 id) when it reads as one, else None."""
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= 2**63:
        return str(raw)
    if isinstance(raw, str) and _ID.fullmatch(raw):
        return raw
    return None


@dataclass(frozen=True)
class VpnSettings:
    """The editable settings of a connection, keyed by the seed's parameter names (see ``params.SETTING_NAMES``).

    The pre-shared key is not held: ``psk_fingerprint`` is its fingerprint by ``fingerprints`` (the fingerprinter
    of the client that read it), and :meth:`psk_is` tells whether a proposed key is the live one. Settings built
    without a fingerprinter recognise no key (every key given counts as a change: the safe direction); equality
    ignores the fingerprinter. ``value_sets`` says which values the enums may be set to (the API the connection
    was read through), and ``route_type`` is the tunnel's ``RouteType`` as the service spells it (empty under API
    2.0, which has none).
    """

    values: Mapping[str, Value]
    psk_fingerprint: str | None = None
    value_sets: ValueSets = ValueSets.SEED
    route_type: str = ""
    fingerprints: SecretFingerprints | None = field(default=None, compare=False, repr=False)

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

    @property
    def route_based(self) -> bool:
        """A route-based tunnel (``RouteType`` StaticRoute or Bgp): it has no SPD to edit."""
        return self.route_type.strip().lower() in ROUTE_BASED

    @property
    def spd_uniform(self) -> bool:
        """Every VPC-side CIDR of the SPD reaches the same IDC-side CIDRs (the only SPD ``userGwCidrBlock`` can
        describe without widening it); true for an empty SPD."""
        return len({remotes for _, remotes in self.spd().rules}) <= 1

    def psk_is(self, secret: str) -> bool:
        """Whether ``secret`` is the live pre-shared key (by fingerprint); False when no key is set or these
        settings have no fingerprinter."""
        if self.psk_fingerprint is None or self.fingerprints is None:
            return False
        return hmac.compare_digest(self.fingerprints.of(secret), self.psk_fingerprint)

    def replace(self, changes: Mapping[str, Value]) -> VpnSettings:
        return VpnSettings(
            {**self.values, **changes}, self.psk_fingerprint, self.value_sets, self.route_type, self.fingerprints
        )


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
    health_check_status: str = ""
    """API 3.0's ``HealthCheckStatus`` (lower case; empty when no health check is set, and under API 2.0)."""
    create_time: str = ""
    encap_mode: str = ""
    security_proto: str = ""
    source_cidrs: tuple[Cidr, ...] = field(default=())

    @property
    def name(self) -> str:
        return str(self.settings["vpnConnName"])

    @property
    def route_type(self) -> str:
        return self.settings.route_type

    @property
    def status_text(self) -> str:
        return CONN_STATUS_TEXT.get(self.status, f"status {self.status}")


def connection_from_describe(
    item: Mapping[str, Any], value_sets: ValueSets = ValueSets.SEED, *, fingerprints: SecretFingerprints
) -> VpnConnection:
    """Normalise one ``data[]`` item of ``DescribeVpnConn``; raises CloudDataError (and nothing else, whatever the
    item holds) naming an unreadable field. The pre-shared key becomes its fingerprint by ``fingerprints``, which
    the settings keep to recognise the key later (:meth:`VpnSettings.psk_is`).

    ``bot.tencent.wire_v3`` brings API 3.0's items here in this shape, with ``value_sets`` API3 and two keys API 2.0
    has not: ``spdAcl`` (the SPD as pairs: a list of ``{local: [remote, ...]}``, the seed's own shape), read one to
    one instead of as ``sourceCidr`` x ``destinationCidr``, and ``routeType``. ``IKESet.ikeVersion`` is read when
    present (empty when not: API 2.0 does not report it).
    """
    try:
        return _connection(item, value_sets, fingerprints)
    except CloudDataError:
        raise
    except Exception as error:  # the item is untrusted input: nothing it holds may escape as another exception
        reason = f"unreadable item ({type(error).__name__})"
        failure = CloudDataError(f"DescribeVpnConn returned an {reason}", reason)
    raise failure  # outside the handler: the error's text may quote the item


def _connection(item: Mapping[str, Any], value_sets: ValueSets, fingerprints: SecretFingerprints) -> VpnConnection:
    ike = _block(item, IKE_BLOCKS)
    ipsec = _block(item, IPSEC_BLOCKS)
    sources = _cidr_tuple(item, "sourceCidr")
    if "spdAcl" in item:
        spd = _spd_pairs(item["spdAcl"])
        destinations = frozenset(spd.remote_cidrs())
    else:
        destinations = frozenset(_cidr_tuple(item, "destinationCidr"))
        spd = SpdPolicy.of(dict.fromkeys(sources, destinations)) if destinations else SpdPolicy()
    values: dict[str, Value] = {
        "vpnConnName": _read("vpnConnName", item.get("vpnConnName", "")),
        "userGwCidrBlock": destinations,
        "spdAcl": spd,
    }
    for name in SETTING_NAMES:
        block, _, field_name = name.partition(".")
        if block == "IKESet":
            values[name] = _read(name, ike.get(field_name, "" if PARAMS_BY_NAME[name].api3_only else None))
        elif block == "IPsecSet":
            values[name] = _read(name, ipsec.get(field_name))
    psk = _text(item, "preSharedKey", limit=None)
    route_type = _text(item, "routeType")
    settings = VpnSettings(values, fingerprints.of(psk) if psk else None, value_sets, route_type, fingerprints)
    return VpnConnection(
        vpc_id=_id(item, "unVpcId", "vpcId"),
        vpn_gw_id=_id(item, "unVpnGwId", "vpnGwId"),
        vpn_conn_id=_id(item, "unVpnConnId", "vpnConnId"),
        settings=settings,
        vpc_name=_text(item, "vpcName"),
        vpn_gw_name=_text(item, "vpnGwName"),
        user_gw_id=_text(item, "unUserGwId") or _text(item, "userGwId"),
        user_gw_name=_text(item, "userGwName"),
        vpn_gw_address=_text(item, "vpnGwAddress"),
        user_gw_address=_text(item, "userGwAddress"),
        status=_status(item.get("vpcConnStatus", 6)),
        net_status=_text(item, "netStatus"),
        health_check_status=_text(item, "healthCheckStatus"),
        create_time=_text(item, "createTime"),
        encap_mode=_text(ipsec, "encapMode", "IPsecSet.encapMode"),
        security_proto=_text(ipsec, "securityProto", "IPsecSet.securityProto"),
        source_cidrs=sources,
    )


def _unusable(name: str, why: str = "") -> CloudDataError:
    reason = f"unusable {name}" + (f" ({why})" if why else "")
    return CloudDataError(f"DescribeVpnConn returned an {reason}", reason)


def _block(item: Mapping[str, Any], names: tuple[str, ...]) -> Mapping[str, Any]:
    for name in names:
        block = item.get(name)
        if isinstance(block, list):
            block = block[0] if block else {}
        if isinstance(block, Mapping):
            return block
    reason = f"no {' or '.join(names)} block"
    raise CloudDataError(f"DescribeVpnConn returned {reason}", reason)


def _read(name: str, raw: Any) -> Value:
    param = PARAMS_BY_NAME[name]
    if raw is None:
        if param.kind in (Kind.ADDRESS, Kind.FQDN):
            return ""
        raise CloudDataError(f"DescribeVpnConn returned no {name}", f"no {name}")
    raw = _digits(raw)
    if not isinstance(raw, str):
        raise _unusable(name, "not text or a whole number")
    if len(raw) > TEXT_MAX:
        raise _unusable(name, f"longer than {TEXT_MAX} characters")
    if any("\ud800" <= ch <= "\udfff" for ch in raw):
        raise _unusable(name, "not valid Unicode (a lone surrogate)")
    try:
        return read_value(param, raw)
    except ParameterError as error:
        raise CloudDataError(f"DescribeVpnConn returned an unusable {name}: {error}", f"unusable {name}") from None


def _spd_pairs(raw: object) -> SpdPolicy:
    """``spdAcl`` as pairs: a list of ``{local: [remote, ...]}`` objects; at most ``CIDRS_MAX`` rules, remotes in a
    rule and distinct remotes in all (the limits of the flattened view)."""
    if not isinstance(raw, list) or len(raw) > CIDRS_MAX or not all(isinstance(rule, Mapping) for rule in raw):
        raise _unusable("spdAcl", f"not a list of at most {CIDRS_MAX} rules")
    rules: dict[Cidr, set[Cidr]] = {}
    remotes_seen: set[Cidr] = set()
    try:
        for rule in raw:
            for local, remotes in rule.items():
                if not isinstance(local, str) or len(local) > TEXT_MAX or not isinstance(remotes, list):
                    raise _unusable("spdAcl", "a rule that is not a CIDR and its list")
                if len(remotes) > CIDRS_MAX or not all(isinstance(r, str) and len(r) <= TEXT_MAX for r in remotes):
                    raise _unusable("spdAcl", f"a rule that is not a list of at most {CIDRS_MAX} CIDRs")
                parsed = {parse_cidr(r) for r in remotes}
                remotes_seen |= parsed
                if len(remotes_seen) > CIDRS_MAX:
                    raise _unusable("spdAcl", f"more than {CIDRS_MAX} IDC-side CIDRs")
                rules.setdefault(parse_cidr(local), set()).update(parsed)
    except ParameterError as error:
        raise CloudDataError(f"DescribeVpnConn returned an unusable spdAcl: {error}", "unusable spdAcl") from None
    return SpdPolicy.of(rules)


def _cidr_tuple(item: Mapping[str, Any], key: str) -> tuple[Cidr, ...]:
    raw = item.get(key) or []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise _unusable(key, "not a list")
    if len(raw) > CIDRS_MAX:
        raise _unusable(key, f"more than {CIDRS_MAX} entries")
    if not all(isinstance(c, str) and len(c) <= TEXT_MAX for c in raw):
        raise _unusable(key, "an entry that is not a CIDR")
    try:
        return tuple(sorted({parse_cidr(c) for c in raw}))
    except ParameterError as error:
        raise CloudDataError(f"DescribeVpnConn returned an unusable {key}: {error}", f"unusable {key}") from None


def _id(item: Mapping[str, Any], preferred: str, fallback: str) -> str:
    raw = item.get(preferred) or item.get(fallback)
    if not raw:
        raise CloudDataError(f"DescribeVpnConn returned no {preferred}", f"no {preferred}")
    value = readable_id(raw)
    if value is None:
        raise _unusable(preferred, "not an id")
    return value


def _text(item: Mapping[str, Any], key: str, name: str | None = None, *, limit: int | None = TEXT_MAX) -> str:
    """A text field: absent or null is empty, a whole number reads as its digits, anything else is refused."""
    raw = _digits(item.get(key))
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise _unusable(name or key, "not text")
    if limit is not None and len(raw) > limit:
        raise _unusable(name or key, f"longer than {limit} characters")
    return raw


def _digits(raw: object) -> object:
    """A whole number of sane size as its digits (the API sends numbers as text or as numbers); ``raw`` else."""
    if isinstance(raw, int) and not isinstance(raw, bool) and -_NUMBER_MAX < raw < _NUMBER_MAX:
        return str(raw)
    return raw


def _status(raw: Any) -> int:
    """``vpcConnStatus``: a whole number (or a string of digits) from 0 to 2**31 - 1."""
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit() and len(raw.strip()) <= 10:
        raw = int(raw.strip())
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= STATUS_MAX:
        raise _unusable("vpcConnStatus", "not a status number")
    return raw
