"""Every parameter of the seed's ``ModifyVpnConnEx``: its type, value set, range and the rules between them.

Parameters are named exactly as the seed names them (``vpnConnName``, ``IKESet.dhGroupName``, ...), and those
names are the keys everywhere: in error maps, diffs, Slack ``block_id``s and the CLI's ``--set``. The one
exception the seed forces is the IPsec encryption algorithm, which its IKE table lists as
``IKESet.encryptAlgorithm``; here it is ``IPsecSet.encryptAlgorithm`` and the seed's spelling is an alias.

Values are parsed from text (the CLI, a Slack form, the cloud's echo) by :func:`parse_value`, which raises
:class:`ParameterError` with a message a person can act on. Cross-parameter rules live in :func:`rule_problems`.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeAlias, get_args

from pydantic import Field, TypeAdapter, ValidationError

IkeEncryptAlgorithm = Literal["3des-cbc", "aes-cbc-128", "aes-cbc-192", "aes-cbc-256", "des-cbc"]
IpsecEncryptAlgorithm = Literal["3des-cbc", "aes-cbc-128", "aes-cbc-192", "aes-cbc-256", "des-cbc", "null"]
AuthAlgorithm = Literal["md5", "sha"]
ExchangeMode = Literal["aggressive", "main"]
IdentityType = Literal["address", "fqdn"]
DhGroup = Literal["group1", "group2", "group5", "group14", "group24"]
PfsDhGroup = Literal["null", "dh-group1", "dh-group2", "dh-group5", "dh-group14", "dh-group24"]

IKE_SA_LIFETIME_SECONDS = (60, 604800)
IPSEC_SA_LIFETIME_SECONDS = (180, 604800)
# The seed documents 2560-604800 KB, yet the service's own default is 1843200: only the minimum is enforced.
IPSEC_SA_LIFETIME_TRAFFIC_MIN = 2560
VPN_CONN_NAME_MAX = 60
PRE_SHARED_KEY_MAX = 128
FQDN_NAME_MAX = 255

IkeSaLifetimeSeconds = Annotated[int, Field(ge=IKE_SA_LIFETIME_SECONDS[0], le=IKE_SA_LIFETIME_SECONDS[1])]
IpsecSaLifetimeSeconds = Annotated[int, Field(ge=IPSEC_SA_LIFETIME_SECONDS[0], le=IPSEC_SA_LIFETIME_SECONDS[1])]
IpsecSaLifetimeTraffic = Annotated[int, Field(ge=IPSEC_SA_LIFETIME_TRAFFIC_MIN)]

Cidr: TypeAlias = ipaddress.IPv4Network
CidrSet: TypeAlias = frozenset[ipaddress.IPv4Network]


@dataclass(frozen=True, order=True)
class SpdPolicy:
    """An SPD policy: each VPC-side CIDR mapped to the IDC-side CIDRs it may reach.

    Held sorted, so two policies listing the same pairs in another order are equal.
    """

    rules: tuple[tuple[Cidr, CidrSet], ...] = ()

    @classmethod
    def of(cls, mapping: Mapping[Cidr, Iterable[Cidr]]) -> SpdPolicy:
        merged: dict[Cidr, set[Cidr]] = {}
        for local, remotes in mapping.items():
            merged.setdefault(local, set()).update(remotes)
        return cls(tuple(sorted((k, frozenset(v)) for k, v in merged.items())))

    def pairs(self) -> frozenset[tuple[Cidr, Cidr]]:
        return frozenset((local, remote) for local, remotes in self.rules for remote in remotes)

    def local_cidrs(self) -> list[Cidr]:
        return [local for local, _ in self.rules]

    def remote_cidrs(self) -> list[Cidr]:
        return sorted({remote for _, remotes in self.rules for remote in remotes})

    def as_json_objects(self) -> list[dict[str, list[str]]]:
        """One ``{local: [remote, ...]}`` object per VPC-side CIDR, as the wire's ``spdAcl.N`` carries them."""
        return [{str(local): [str(r) for r in sorted(remotes)]} for local, remotes in self.rules]

    def __bool__(self) -> bool:
        return bool(self.rules)

    def __str__(self) -> str:
        return "; ".join(f"{local} -> {', '.join(str(r) for r in sorted(rs))}" for local, rs in self.rules)


Value: TypeAlias = str | int | CidrSet | SpdPolicy


class Kind(enum.Enum):
    """How a parameter is typed in and shown."""

    NAME = "name"
    SECRET = "secret"
    CIDR_LIST = "cidr_list"
    SPD = "spd"
    CHOICE = "choice"
    INTEGER = "integer"
    ADDRESS = "address"
    FQDN = "fqdn"


@dataclass(frozen=True)
class Param:
    """One parameter of the seed. ``block`` is ``""``, ``"IKESet"`` or ``"IPsecSet"``."""

    name: str
    kind: Kind
    label: str
    description: str
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    default: str | int | None = None
    unit: str = ""

    @property
    def block(self) -> str:
        return self.name.split(".", 1)[0] if "." in self.name else ""

    @property
    def field(self) -> str:
        return self.name.split(".", 1)[-1]


def _choice(name: str, label: str, values: Any, default: str | None, description: str) -> Param:
    return Param(name, Kind.CHOICE, label, description, choices=tuple(get_args(values)), default=default)


# The connection's identity parameters: required on the wire, never editable.
ID_PARAMS = ("vpcId", "vpnGwId", "vpnConnId")

PARAMS: tuple[Param, ...] = (
    Param("vpnConnName", Kind.NAME, "Name", f"Connection name, at most {VPN_CONN_NAME_MAX} characters"),
    Param("preSharedKey", Kind.SECRET, "Pre-shared key", "Leave empty to keep the current key"),
    Param("userGwCidrBlock", Kind.CIDR_LIST, "Peer CIDRs", "IDC-side networks the VPC may reach"),
    Param("spdAcl", Kind.SPD, "SPD policy", "Per VPC-side CIDR, the IDC-side CIDRs it may reach"),
    _choice("IKESet.propoEncryAlgorithm", "IKE encryption", IkeEncryptAlgorithm, "3des-cbc", "IKE encryption"),
    _choice("IKESet.propoAuthenAlgorithm", "IKE authentication", AuthAlgorithm, "md5", "IKE authentication"),
    _choice("IKESet.exchangeMode", "Exchange mode", ExchangeMode, "main", "IKE negotiation mode"),
    _choice("IKESet.localIdentity", "Local identity", IdentityType, "address", "Local identity type"),
    _choice("IKESet.remoteIdentity", "Remote identity", IdentityType, "address", "Remote identity type"),
    Param("IKESet.localAddress", Kind.ADDRESS, "Local address", "Needed when the local identity is address"),
    Param("IKESet.remoteAddress", Kind.ADDRESS, "Remote address", "Needed when the remote identity is address"),
    Param("IKESet.localFqdnName", Kind.FQDN, "Local FQDN", "Needed when the local identity is fqdn"),
    Param("IKESet.remoteFqdnName", Kind.FQDN, "Remote FQDN", "Needed when the remote identity is fqdn"),
    _choice("IKESet.dhGroupName", "DH group", DhGroup, None, "DH group for the IKE key exchange"),
    Param(
        "IKESet.ikeSaLifetimeSeconds",
        Kind.INTEGER,
        "IKE SA lifetime",
        "IKE SA lifetime in seconds",
        minimum=IKE_SA_LIFETIME_SECONDS[0],
        maximum=IKE_SA_LIFETIME_SECONDS[1],
        unit="s",
    ),
    _choice("IPsecSet.encryptAlgorithm", "IPsec encryption", IpsecEncryptAlgorithm, "3des-cbc", "IPsec encryption"),
    _choice("IPsecSet.integrityAlgorith", "IPsec integrity", AuthAlgorithm, "md5", "IPsec authentication"),
    Param(
        "IPsecSet.ipsecSaLifetimeSeconds",
        Kind.INTEGER,
        "IPsec SA lifetime",
        "IPsec SA lifetime in seconds",
        minimum=IPSEC_SA_LIFETIME_SECONDS[0],
        maximum=IPSEC_SA_LIFETIME_SECONDS[1],
        unit="s",
    ),
    Param(
        "IPsecSet.ipsecSaLifetimeTraffic",
        Kind.INTEGER,
        "IPsec SA traffic",
        "IPsec SA lifetime in KB",
        minimum=IPSEC_SA_LIFETIME_TRAFFIC_MIN,
        unit="KB",
    ),
    _choice("IPsecSet.pfsDhGroup", "PFS", PfsDhGroup, "null", "Perfect forward secrecy DH group"),
)

PARAMS_BY_NAME: Mapping[str, Param] = {p.name: p for p in PARAMS}
IKE_PARAMS = tuple(p for p in PARAMS if p.block == "IKESet")
IPSEC_PARAMS = tuple(p for p in PARAMS if p.block == "IPsecSet")
# Every parameter a connection's settings hold (the key is never held: see VpnSettings.psk_fingerprint).
SETTING_NAMES = tuple(p.name for p in PARAMS if p.kind is not Kind.SECRET)

ALIASES: Mapping[str, str] = {"IKESet.encryptAlgorithm": "IPsecSet.encryptAlgorithm"}
# Values the cloud echoes that mean a seed value (DescribeVpnConn shows "sha1" for the input enum's "sha").
CHOICE_SYNONYMS: Mapping[str, str] = {"sha1": "sha"}

_INT_ADAPTERS: Mapping[str, TypeAdapter[int]] = {
    "IKESet.ikeSaLifetimeSeconds": TypeAdapter(IkeSaLifetimeSeconds),
    "IPsecSet.ipsecSaLifetimeSeconds": TypeAdapter(IpsecSaLifetimeSeconds),
    "IPsecSet.ipsecSaLifetimeTraffic": TypeAdapter(IpsecSaLifetimeTraffic),
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FQDN_CHARS = re.compile(r"^[A-Za-z0-9._@:-]+$")


class ParameterError(ValueError):
    """A value that a parameter does not accept; the message says why and never echoes a secret."""


class InvalidParametersError(ValueError):
    """Every problem found in one edit, keyed by the seed's parameter name."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems: dict[str, str] = dict(problems)
        super().__init__(" | ".join(f"{name}: {message}" for name, message in self.problems.items()))


def canonical_name(name: str) -> str:
    """The seed's name for ``name`` (resolving aliases); raises ParameterError for an unknown or fixed one."""
    name = name.strip()
    name = ALIASES.get(name, name)
    if name in PARAMS_BY_NAME:
        return name
    if name in ID_PARAMS:
        raise ParameterError(f"{name} identifies the connection and cannot be changed")
    raise ParameterError(f"unknown parameter {name!r}; known: {', '.join(p.name for p in PARAMS)}")


def parse_cidr(text: str) -> Cidr:
    """An IPv4 network in CIDR notation; host bits set is an error that suggests the network meant."""
    text = text.strip()
    try:
        return ipaddress.IPv4Network(text, strict=True)
    except ipaddress.AddressValueError:
        raise ParameterError(f"{text!r} is not an IPv4 CIDR such as 10.0.0.0/24") from None
    except ipaddress.NetmaskValueError:
        raise ParameterError(f"{text!r} has an invalid prefix length (use /0 to /32)") from None
    except ValueError:
        network = ipaddress.IPv4Network(text, strict=False)
        raise ParameterError(f"{text} has host bits set; did you mean {network}?") from None


def parse_cidr_list(text: str) -> CidrSet:
    """CIDRs separated by commas, spaces or new lines; duplicates collapse, order does not matter."""
    items = [item for item in re.split(r"[\s,]+", text.strip()) if item]
    return frozenset(parse_cidr(item) for item in items)


def parse_spd(text: str) -> SpdPolicy:
    """An SPD policy as JSON (``{"10.0.0.0/24": ["192.168.1.0/24"]}`` or a list of such objects) or as lines
    ``10.0.0.0/24: 192.168.1.0/24, 192.168.2.0/24`` (``->`` works as the separator too; ``;`` ends a rule like a
    line break, so the one-line form ``str(policy)`` reads back)."""
    text = text.strip()
    if not text:
        return SpdPolicy()
    if text[0] in "[{":
        return _spd_from_json(text)
    mapping: dict[Cidr, set[Cidr]] = {}
    for number, line in enumerate(re.split(r"[\n;]", text), start=1):
        if not line.strip():
            continue
        parts = re.split(r"\s*(?:->|=>|:)\s*", line.strip(), maxsplit=1)
        if len(parts) != 2:
            raise ParameterError(f"line {number}: write 'VPC-CIDR: IDC-CIDR, IDC-CIDR' (got {line.strip()!r})")
        _add_spd_rule(mapping, parts[0], parse_cidr_list(parts[1]))
    return SpdPolicy.of(mapping)


def _spd_from_json(text: str) -> SpdPolicy:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ParameterError(f"is not valid JSON ({error.msg} at character {error.pos})") from None
    except RecursionError:
        raise ParameterError("is not an SPD policy: its JSON is nested too deeply") from None
    objects = document if isinstance(document, list) else [document]
    mapping: dict[Cidr, set[Cidr]] = {}
    for item in objects:
        if not isinstance(item, dict):
            raise ParameterError('must map each VPC-side CIDR to a list of IDC-side CIDRs: {"10.0.0.0/24": [...]}')
        for local, remotes in item.items():
            if isinstance(remotes, str):
                remotes = [remotes]
            if not isinstance(remotes, list) or not all(isinstance(r, str) for r in remotes):
                raise ParameterError(f"the value for {local} must be a list of CIDR strings")
            _add_spd_rule(mapping, str(local), frozenset(parse_cidr(r) for r in remotes))
    return SpdPolicy.of(mapping)


def _add_spd_rule(mapping: dict[Cidr, set[Cidr]], local_text: str, remotes: CidrSet) -> None:
    local = parse_cidr(local_text)
    if not remotes:
        raise ParameterError(f"{local} needs at least one IDC-side CIDR")
    mapping.setdefault(local, set()).update(remotes)


def parse_value(param: Param, text: str) -> Value:
    """Parse the text form of ``param``'s value; raises ParameterError naming what is wrong."""
    kind = param.kind
    if kind is Kind.CIDR_LIST:
        return parse_cidr_list(text)
    if kind is Kind.SPD:
        return parse_spd(text)
    if kind is Kind.SECRET:
        return _parse_secret(text)
    text = text.strip()
    if kind is Kind.CHOICE:
        value = CHOICE_SYNONYMS.get(text.lower(), text.lower())
        if value not in param.choices:
            shown = text if len(text) <= 40 else text[:40] + "..."
            raise ParameterError(f"{shown!r} is not one of {', '.join(param.choices)}")
        return value
    if kind is Kind.INTEGER:
        return _parse_integer(param, text)
    if kind is Kind.ADDRESS:
        return _parse_address(text)
    if kind is Kind.FQDN:
        return _parse_fqdn(text)
    return _parse_name(text)


def _parse_integer(param: Param, text: str) -> int:
    if not re.fullmatch(r"[+-]?\d{1,12}", text):
        raise ParameterError(f"{text[:40]!r} is not a whole number")
    number = int(text)
    try:
        return _INT_ADAPTERS[param.name].validate_python(number)
    except ValidationError:
        bounds = f"at least {param.minimum}" if param.maximum is None else f"{param.minimum} to {param.maximum}"
        raise ParameterError(f"{number} is out of range: must be {bounds} {param.unit}".rstrip()) from None


def _parse_name(text: str) -> str:
    if not text:
        raise ParameterError("must not be empty")
    if len(text) > VPN_CONN_NAME_MAX:
        raise ParameterError(f"is {len(text)} characters long; at most {VPN_CONN_NAME_MAX} are allowed")
    if _CONTROL.search(text):
        raise ParameterError("must not contain control characters or line breaks")
    return text


def _parse_secret(text: str) -> str:
    if not text:
        raise ParameterError("must not be empty (leave the field out to keep the current key)")
    if len(text) > PRE_SHARED_KEY_MAX:
        raise ParameterError(f"is too long: at most {PRE_SHARED_KEY_MAX} characters")
    if text != text.strip():
        raise ParameterError("must not start or end with a space")
    if _CONTROL.search(text):
        raise ParameterError("must not contain control characters or line breaks")
    return text


def _parse_address(text: str) -> str:
    if not text:
        return ""
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise ParameterError(f"{text[:40]!r} is not an IPv4 address such as 203.0.113.10") from None


def _parse_fqdn(text: str) -> str:
    if not text:
        return ""
    if len(text) > FQDN_NAME_MAX or not _FQDN_CHARS.match(text):
        raise ParameterError(
            f"must be a name such as vpn.example.com (letters, digits, . - _ @ :), at most {FQDN_NAME_MAX} characters"
        )
    return text


def format_value(value: Value) -> str:
    """The text form of a value, which :func:`parse_value` reads back to the same value."""
    if isinstance(value, frozenset):
        return ", ".join(str(c) for c in sorted(value))
    return str(value)


def rule_problems(values: Mapping[str, Value]) -> dict[str, str]:
    """The rules between parameters, checked on whatever values parsed; keys are the parameters to fix."""
    problems: dict[str, str] = {}
    cidrs = values.get("userGwCidrBlock")
    spd = values.get("spdAcl")
    if isinstance(cidrs, frozenset) and isinstance(spd, SpdPolicy) and not cidrs and not spd:
        problems["userGwCidrBlock"] = "give userGwCidrBlock or spdAcl: one of them is required"
    if isinstance(cidrs, frozenset):
        overlap = first_overlap(cidrs)
        if overlap:
            problems["userGwCidrBlock"] = f"{overlap[0]} overlaps {overlap[1]}"
    if isinstance(spd, SpdPolicy):
        pair_overlap = first_self_overlap(spd.pairs())
        if pair_overlap:
            problems["spdAcl"] = f"pairs overlap: {_pair(pair_overlap[0])} and {_pair(pair_overlap[1])}"
    for side in ("local", "remote"):
        identity = values.get(f"IKESet.{side}Identity")
        needed = {"address": f"IKESet.{side}Address", "fqdn": f"IKESet.{side}FqdnName"}.get(str(identity))
        if needed is not None and values.get(needed) == "":
            problems[needed] = f"required when IKESet.{side}Identity is {identity}"
    return problems


def first_overlap(cidrs: Iterable[Cidr]) -> tuple[Cidr, Cidr] | None:
    """Two distinct CIDRs of ``cidrs`` that overlap, or None."""
    ordered = sorted(cidrs)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if a.overlaps(b):
                return a, b
    return None


Pair: TypeAlias = tuple[Cidr, Cidr]


def first_pair_overlap(mine: Iterable[Pair], others: Iterable[Pair]) -> tuple[Pair, Pair] | None:
    """A pair of ``mine`` and a pair of ``others`` covering common traffic (both sides overlap; equal pairs do)."""
    other_list = sorted(others)
    for a in sorted(mine):
        for b in other_list:
            if a[0].overlaps(b[0]) and a[1].overlaps(b[1]):
                return a, b
    return None


def first_self_overlap(pairs: Iterable[Pair]) -> tuple[Pair, Pair] | None:
    """Two distinct pairs of one policy covering common traffic, or None."""
    ordered = sorted(set(pairs))
    for i, a in enumerate(ordered):
        found = first_pair_overlap([a], ordered[i + 1 :])
        if found:
            return found
    return None


def _pair(pair: Pair) -> str:
    return f"{pair[0]} -> {pair[1]}"
