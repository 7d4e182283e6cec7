"""Every parameter of the seed's ``ModifyVpnConnEx``: its type, value set, range and the rules between them.

Parameters are named exactly as the seed names them (``vpnConnName``, ``IKESet.dhGroupName``, ...), and those
names are the keys everywhere: in error maps, diffs, Slack ``block_id``s and the CLI's ``--set``. The one
exception the seed forces is the IPsec encryption algorithm, which its IKE table lists as
``IKESet.encryptAlgorithm``; here it is ``IPsecSet.encryptAlgorithm`` and the seed's spelling is an alias.

Values are parsed from text (the CLI, a Slack form) by :func:`parse_value`, which raises :class:`ParameterError`
with a message a person can act on; the cloud's text is read by :func:`read_value`, which takes a name as the cloud
holds it. Cross-parameter rules live in :func:`rule_problems`; the overlap checks they use are O(n log n) sweeps
(see ``first_overlap``, ``first_self_overlap``, ``first_pair_overlap``). Free text refuses characters that are
invisible or reorder the text around them (``UNSAFE_CATEGORIES``); :func:`visible` escapes them for display.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from types import MappingProxyType
from typing import Annotated, Any, Literal, TypeAlias, get_args

from pydantic import Field, TypeAdapter, ValidationError

# The seed's value sets (API 2.0's ModifyVpnConnEx), and what API 3.0 adds to each (reference/tencent-cloud.md,
# section 8, as Tencent's current SDK documents them). Values are the seed's lower-case spelling; the API 3.0 wire
# upper-cases them (bot.tencent.wire_v3).
IkeEncryptAlgorithm = Literal["3des-cbc", "aes-cbc-128", "aes-cbc-192", "aes-cbc-256", "des-cbc"]
IpsecEncryptAlgorithm = Literal["3des-cbc", "aes-cbc-128", "aes-cbc-192", "aes-cbc-256", "des-cbc", "null"]
AuthAlgorithm = Literal["md5", "sha"]
ExchangeMode = Literal["aggressive", "main"]
IdentityType = Literal["address", "fqdn"]
DhGroup = Literal["group1", "group2", "group5", "group14", "group24"]
PfsDhGroup = Literal["null", "dh-group1", "dh-group2", "dh-group5", "dh-group14", "dh-group24"]
IkeVersion = Literal["ikev1"]
# API 3.0's sets, in the order its documentation lists them (each holds the seed's).
Api3IkeEncryptAlgorithm = Literal[
    "3des-cbc", "aes-cbc-128", "aes-cbc-192", "aes-cbc-256", "des-cbc", "sm4", "aes128gcm128", "aes192gcm128",
    "aes256gcm128",
]  # fmt: skip
Api3IpsecEncryptAlgorithm = Literal[
    "3des-cbc", "aes-cbc-128", "aes-cbc-192", "aes-cbc-256", "des-cbc", "sm4", "null", "aes128gcm128",
    "aes192gcm128", "aes256gcm128",
]  # fmt: skip
Api3IkeAuthAlgorithm = Literal["md5", "sha", "sha-256", "sha-512"]
Api3IpsecIntegrityAlgorithm = Literal["md5", "sha", "sha-256", "sha-512", "sha-384", "sm3"]
Api3DhGroup = Literal[
    "group1", "group2", "group5", "group14", "group15", "group16", "group19", "group20", "group21", "group24"
]  # fmt: skip
Api3PfsDhGroup = Literal[
    "null", "dh-group1", "dh-group2", "dh-group5", "dh-group14", "dh-group15", "dh-group16", "dh-group19",
    "dh-group20", "dh-group21", "dh-group24",
]  # fmt: skip
Api3IkeVersion = Literal["ikev1", "ikev2"]


class ValueSets(enum.Enum):
    """Which values a connection's enums may be set to: the seed's (API 2.0) or API 3.0's wider ones. A
    connection read through API 3.0 offers API 3.0's; either may hold any value (see :func:`read_value`)."""

    SEED = "seed"
    API3 = "api3"


IKE_SA_LIFETIME_SECONDS = (60, 604800)
IPSEC_SA_LIFETIME_SECONDS = (180, 604800)
# The seed documents 2560-604800 KB, yet the service's own default is 1843200: only the minimum is enforced.
IPSEC_SA_LIFETIME_TRAFFIC_MIN = 2560
IPSEC_SA_LIFETIME_TRAFFIC_MAX = 4294967295  # API 3.0's documented maximum (a 32-bit count of KB)
VPN_CONN_NAME_MAX = 60
PRE_SHARED_KEY_MAX = 128
FQDN_NAME_MAX = 255

IkeSaLifetimeSeconds = Annotated[int, Field(ge=IKE_SA_LIFETIME_SECONDS[0], le=IKE_SA_LIFETIME_SECONDS[1])]
IpsecSaLifetimeSeconds = Annotated[int, Field(ge=IPSEC_SA_LIFETIME_SECONDS[0], le=IPSEC_SA_LIFETIME_SECONDS[1])]
IpsecSaLifetimeTraffic = Annotated[int, Field(ge=IPSEC_SA_LIFETIME_TRAFFIC_MIN, le=IPSEC_SA_LIFETIME_TRAFFIC_MAX)]

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
    api3_choices: tuple[str, ...] = ()  # API 3.0's set (it holds the seed's ``choices``); empty: the seed's
    api3_only: bool = False  # not a parameter of the seed: offered only for a connection read through API 3.0

    @property
    def all_choices(self) -> tuple[str, ...]:
        """Every value vpnbot knows for this enum, in either API."""
        return self.api3_choices or self.choices

    def offered(self, value_sets: ValueSets) -> tuple[str, ...]:
        """The values a person may choose for a connection whose enums take ``value_sets``."""
        return self.all_choices if value_sets is ValueSets.API3 else self.choices

    def knows(self, value: Value) -> bool:
        """False for an enum value the cloud reported that vpnbot does not know (shown as such, carried as is)."""
        return self.kind is not Kind.CHOICE or value in self.all_choices or value == ""

    def is_offered(self, value_sets: ValueSets) -> bool:
        """Whether a form or ``--set`` offers this parameter for such a connection."""
        return not self.api3_only or value_sets is ValueSets.API3

    @property
    def block(self) -> str:
        return self.name.split(".", 1)[0] if "." in self.name else ""

    @property
    def field(self) -> str:
        return self.name.split(".", 1)[-1]


def _choice(
    name: str, label: str, values: Any, default: str | None, description: str, api3: Any = None, **more: Any
) -> Param:
    extra = tuple(get_args(api3)) if api3 is not None else ()
    return Param(
        name,
        Kind.CHOICE,
        label,
        description,
        choices=tuple(get_args(values)),
        default=default,
        api3_choices=extra,
        **more,
    )


# The connection's identity parameters: required on the wire, never editable.
ID_PARAMS = ("vpcId", "vpnGwId", "vpnConnId")

PARAMS: tuple[Param, ...] = (
    Param("vpnConnName", Kind.NAME, "Name", f"Connection name, at most {VPN_CONN_NAME_MAX} characters"),
    Param("preSharedKey", Kind.SECRET, "Pre-shared key", "Leave empty to keep the current key"),
    Param("userGwCidrBlock", Kind.CIDR_LIST, "Peer CIDRs", "IDC-side networks the VPC may reach"),
    Param("spdAcl", Kind.SPD, "SPD policy", "Per VPC-side CIDR, the IDC-side CIDRs it may reach"),
    _choice(
        "IKESet.propoEncryAlgorithm",
        "IKE encryption",
        IkeEncryptAlgorithm,
        "3des-cbc",
        "IKE encryption",
        Api3IkeEncryptAlgorithm,
    ),
    _choice(
        "IKESet.propoAuthenAlgorithm",
        "IKE authentication",
        AuthAlgorithm,
        "md5",
        "IKE authentication",
        Api3IkeAuthAlgorithm,
    ),
    _choice("IKESet.exchangeMode", "Exchange mode", ExchangeMode, "main", "IKE negotiation mode"),
    _choice("IKESet.localIdentity", "Local identity", IdentityType, "address", "Local identity type"),
    _choice("IKESet.remoteIdentity", "Remote identity", IdentityType, "address", "Remote identity type"),
    Param("IKESet.localAddress", Kind.ADDRESS, "Local address", "Needed when the local identity is address"),
    Param("IKESet.remoteAddress", Kind.ADDRESS, "Remote address", "Needed when the remote identity is address"),
    Param("IKESet.localFqdnName", Kind.FQDN, "Local FQDN", "Needed when the local identity is fqdn"),
    Param("IKESet.remoteFqdnName", Kind.FQDN, "Remote FQDN", "Needed when the remote identity is fqdn"),
    _choice("IKESet.dhGroupName", "DH group", DhGroup, None, "DH group for the IKE key exchange", Api3DhGroup),
    Param(
        "IKESet.ikeSaLifetimeSeconds",
        Kind.INTEGER,
        "IKE SA lifetime",
        "IKE SA lifetime in seconds",
        minimum=IKE_SA_LIFETIME_SECONDS[0],
        maximum=IKE_SA_LIFETIME_SECONDS[1],
        unit="s",
    ),
    _choice(
        "IKESet.ikeVersion",
        "IKE version",
        IkeVersion,
        "ikev1",
        "IKE protocol version",
        Api3IkeVersion,
        api3_only=True,
    ),
    _choice(
        "IPsecSet.encryptAlgorithm",
        "IPsec encryption",
        IpsecEncryptAlgorithm,
        "3des-cbc",
        "IPsec encryption",
        Api3IpsecEncryptAlgorithm,
    ),
    _choice(
        "IPsecSet.integrityAlgorith",
        "IPsec integrity",
        AuthAlgorithm,
        "md5",
        "IPsec authentication",
        Api3IpsecIntegrityAlgorithm,
    ),
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
        maximum=IPSEC_SA_LIFETIME_TRAFFIC_MAX,
        unit="KB",
    ),
    _choice("IPsecSet.pfsDhGroup", "PFS", PfsDhGroup, "null", "Perfect forward secrecy DH group", Api3PfsDhGroup),
)

PARAMS_BY_NAME: Mapping[str, Param] = MappingProxyType({p.name: p for p in PARAMS})
IKE_PARAMS = tuple(p for p in PARAMS if p.block == "IKESet")
IPSEC_PARAMS = tuple(p for p in PARAMS if p.block == "IPsecSet")
# Every parameter a connection's settings hold (the key is never held: see VpnSettings.psk_fingerprint).
SETTING_NAMES = tuple(p.name for p in PARAMS if p.kind is not Kind.SECRET)

ALIASES: Mapping[str, str] = MappingProxyType({"IKESet.encryptAlgorithm": "IPsecSet.encryptAlgorithm"})
# Values the cloud echoes that mean a known value: DescribeVpnConn shows "sha1" for the input enum's "sha", API 3.0
# spells it SHA or SHA1, and its documentation has the typo AES-CBS-192.
CHOICE_SYNONYMS: Mapping[str, str] = MappingProxyType({"sha1": "sha", "aes-cbs-192": "aes-cbc-192"})

_INT_ADAPTERS: Mapping[str, TypeAdapter[int]] = MappingProxyType(
    {
        "IKESet.ikeSaLifetimeSeconds": TypeAdapter(IkeSaLifetimeSeconds),
        "IPsecSet.ipsecSaLifetimeSeconds": TypeAdapter(IpsecSaLifetimeSeconds),
        "IPsecSet.ipsecSaLifetimeTraffic": TypeAdapter(IpsecSaLifetimeTraffic),
    }
)
_FQDN_CHARS = re.compile(r"[A-Za-z0-9._@:-]+")
# Characters a person cannot see or that change how the text around them is shown: controls (C0, DEL, C1), format
# characters (zero-width, bidirectional embeddings, overrides and isolates, BOM, soft hyphen), line and paragraph
# separators, private use, surrogates and unassigned code points.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"})
_CATEGORY_WORDS: Mapping[str, str] = MappingProxyType(
    {
        "Cc": "a control character",
        "Cf": "an invisible format character",
        "Zl": "a line separator",
        "Zp": "a paragraph separator",
        "Co": "a private-use character",
        "Cs": "a surrogate",
        "Cn": "an unassigned code point",
    }
)
# unicodedata names no control character; these are the ones a paste brings.
_CONTROL_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "\x00": "NULL",
        "\t": "CHARACTER TABULATION",
        "\n": "LINE FEED",
        "\r": "CARRIAGE RETURN",
        "\x1b": "ESCAPE",
        "\x7f": "DELETE",
        "\x85": "NEXT LINE",
    }
)
_SHOWN_UNSAFE = 3


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


def parse_value(param: Param, text: str, value_sets: ValueSets = ValueSets.SEED) -> Value:
    """Parse the text form of ``param``'s value as a person typed it; raises ParameterError naming what is wrong.

    Every rule of the seed applies; an enum takes the values ``value_sets`` offers. For what the cloud reports, use
    :func:`read_value`.
    """
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
        offered = param.offered(value_sets)
        if value not in offered:
            shown = text if len(text) <= 40 else text[:40] + "..."
            why = " (API 3.0 only: this connection is edited through API 2.0)" if value in param.all_choices else ""
            raise ParameterError(f"{shown!r} is not one of {', '.join(offered)}{why}")
        return value
    if kind is Kind.INTEGER:
        return _parse_integer(param, text)
    if kind is Kind.ADDRESS:
        return _parse_address(text)
    if kind is Kind.FQDN:
        return _parse_fqdn(text)
    return _parse_name(text)


def read_value(param: Param, text: str) -> Value:
    """Parse a value as the cloud reports it (``DescribeVpnConn``): as :func:`parse_value` does, except that the
    connection name is taken as the cloud holds it (surrounding white space aside), whatever its length or
    characters. The cloud accepted that name once; refusing it would leave the connection unreadable, and an
    edit that leaves it alone sends it back unchanged (see ``bot.vpn.edit.propose``). Show it through
    :func:`visible`. So is an enum value vpnbot does not know (a newer algorithm): kept as the cloud spells it,
    shown as unknown (:func:`shown_value`), sent back unchanged; a known one in any case or spelling reads as
    vpnbot's. Numbers take API 3.0's ranges, the wider ones.
    """
    if param.kind is Kind.NAME:
        return text.strip()
    if param.kind is Kind.CHOICE:
        known = CHOICE_SYNONYMS.get(text.strip().lower(), text.strip().lower())
        return known if known in param.all_choices else text.strip()
    return parse_value(param, text, ValueSets.API3)


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
    """The seed: "可任意命名，但不得超过60个字符" (any name, at most 60 characters; counted as code points).

    "Any name" is read as any text a person can see: characters that are invisible or that reorder the text
    around them (see ``UNSAFE_CATEGORIES``) would let a name look like another in the channel and on the card.
    The message names each such character by its code point and never echoes the name.
    """
    if not text:
        raise ParameterError("must not be empty")
    if len(text) > VPN_CONN_NAME_MAX:
        raise ParameterError(f"is {len(text)} characters long; at most {VPN_CONN_NAME_MAX} are allowed")
    unsafe = _unsafe_characters(text)
    if unsafe:
        raise ParameterError(_unsafe_message(unsafe))
    return text


def _parse_secret(text: str) -> str:
    """The seed says only "预共享密钥" (a string): no length and no character set. Beyond it, and never echoing the
    key: at most ``PRE_SHARED_KEY_MAX`` characters, no white space at either end (Slack and terminals lose it
    silently) and no invisible or control characters (the key is never shown back, so nobody could tell why the
    peer's copy does not match). Spaces inside, punctuation and non-ASCII letters are accepted."""
    if not text:
        raise ParameterError("must not be empty (leave the field out to keep the current key)")
    if len(text) > PRE_SHARED_KEY_MAX:
        raise ParameterError(f"is too long: at most {PRE_SHARED_KEY_MAX} characters")
    if text != text.strip():
        raise ParameterError("must not start or end with a space")
    if _unsafe_characters(text):
        raise ParameterError(
            "must not contain control or invisible characters (line breaks, tabs, zero-width or bidirectional "
            "marks); type the key again"
        )
    return text


def _parse_address(text: str) -> str:
    if not text:
        return ""
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise ParameterError(f"{text[:40]!r} is not an IPv4 address such as 203.0.113.10") from None


def _parse_fqdn(text: str) -> str:
    """The seed names the field only ("本端标识" / "对端标识"); the character set is the project's."""
    if not text:
        return ""
    unsafe = _unsafe_characters(text)
    if unsafe:
        raise ParameterError(_unsafe_message(unsafe))
    if len(text) > FQDN_NAME_MAX or not _FQDN_CHARS.fullmatch(text):
        raise ParameterError(
            f"must be a name such as vpn.example.com (letters, digits, . - _ @ :), at most {FQDN_NAME_MAX} characters"
        )
    return text


def _is_unsafe(character: str) -> bool:
    return unicodedata.category(character) in UNSAFE_CATEGORIES


def _unsafe_characters(text: str) -> dict[str, int]:
    """Each distinct unsafe character of ``text``, with the (1-based) position of its first occurrence."""
    found: dict[str, int] = {}
    for position, character in enumerate(text, start=1):
        if character not in found and _is_unsafe(character):
            found[character] = position
    return found


def describe_character(character: str) -> str:
    """``U+202E (RIGHT-TO-LEFT OVERRIDE)``: a character by code point and name (or kind, when it has no name)."""
    name = unicodedata.name(character, "") or _CONTROL_NAMES.get(character, "")
    if not name:
        name = _CATEGORY_WORDS.get(unicodedata.category(character), "a character")
    return f"U+{ord(character):04X} ({name})"


def _unsafe_message(unsafe: Mapping[str, int]) -> str:
    shown = [f"{describe_character(c)} at character {position}" for c, position in unsafe.items()]
    more = len(shown) - _SHOWN_UNSAFE
    listed = ", ".join(shown[:_SHOWN_UNSAFE]) + (f" and {more} more" if more > 0 else "")
    return f"must not contain {listed}; remove {'it' if len(shown) == 1 else 'them'}"


def visible(text: str) -> str:
    """``text`` with every unsafe character (see ``UNSAFE_CATEGORIES``) replaced by its escape, ``\\u202e`` (or
    ``\\U000f0000`` beyond the BMP), so a name read from the cloud is shown as it is instead of being interpreted:
    an override cannot reverse the text after it, a line separator cannot break a line, a zero-width space shows.
    Every other character, backslashes included, is kept; text without unsafe characters comes back unchanged.
    Pure, and linear in ``len(text)``.
    """
    if not any(_is_unsafe(c) for c in text):
        return text
    return "".join(_escape(c) if _is_unsafe(c) else c for c in text)


def _escape(character: str) -> str:
    code = ord(character)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def format_value(value: Value) -> str:
    """The text form of a value, which :func:`parse_value` reads back to the same value."""
    if isinstance(value, frozenset):
        return ", ".join(str(c) for c in sorted(value))
    return str(value)


def shown_value(param: Param, value: Value) -> str:
    """A value as a person reads it: :func:`format_value`, with an enum value vpnbot does not know marked as such
    (``AES512XTS (unknown to vpnbot: kept as it is)``, hidden and control characters escaped: the cloud's text)
    and an enum the cloud did not report as ``(not reported)``."""
    if param.kind is Kind.CHOICE and value == "":
        return "(not reported)"
    text = format_value(value)
    return text if param.knows(value) else f"{visible(text)} (unknown to vpnbot: kept as it is)"


def edit_text(value: Value) -> str:
    """A value as a person edits it in a form: one CIDR a line, SPD rules as ``local: remote, remote`` lines,
    anything else as :func:`format_value` writes it. ``bot.slack.blocks.form_text`` renders the same text, and
    ``propose`` recognises it unchanged without parsing it; :func:`parse_value` reads it back to ``value``."""
    if isinstance(value, frozenset):
        return "\n".join(str(c) for c in sorted(value, key=_key))
    if isinstance(value, SpdPolicy):
        return "\n".join(f"{local}: {', '.join(str(r) for r in sorted(rs, key=_key))}" for local, rs in value.rules)
    return format_value(value)


def rule_problems(values: Mapping[str, Value], changed: Collection[str] | None = None) -> dict[str, str]:
    """The rules between parameters, checked on whatever values parsed; keys are the parameters to fix.

    With ``changed``, a rule runs only when one of the parameters it involves is in it: values the cloud holds
    are accepted as they are (the list overlap checks, the costly ones, run only on a changed list). Without it,
    every rule runs on every value.
    """

    def touched(*names: str) -> bool:
        return changed is None or any(name in changed for name in names)

    problems: dict[str, str] = {}
    cidrs = values.get("userGwCidrBlock")
    spd = values.get("spdAcl")
    if (
        touched("userGwCidrBlock", "spdAcl")
        and isinstance(cidrs, frozenset)
        and isinstance(spd, SpdPolicy)
        and not cidrs
        and not spd
    ):
        problems["userGwCidrBlock"] = "give userGwCidrBlock or spdAcl: one of them is required"
    if touched("userGwCidrBlock") and isinstance(cidrs, frozenset):
        overlap = first_overlap(cidrs)
        if overlap:
            problems["userGwCidrBlock"] = f"{overlap[0]} overlaps {overlap[1]}"
    if touched("spdAcl") and isinstance(spd, SpdPolicy):
        pair_overlap = first_self_overlap(spd.pairs())
        if pair_overlap:
            problems["spdAcl"] = f"pairs overlap: {_pair(pair_overlap[0])} and {_pair(pair_overlap[1])}"
    for side in ("local", "remote"):
        names = {"address": f"IKESet.{side}Address", "fqdn": f"IKESet.{side}FqdnName"}
        identity = values.get(f"IKESet.{side}Identity")
        needed = names.get(str(identity))
        if needed is not None and values.get(needed) == "" and touched(f"IKESet.{side}Identity", *names.values()):
            problems[needed] = f"required when IKESet.{side}Identity is {identity}"
    return problems


# --- overlaps ---------------------------------------------------------------------------------------------------
#
# IPv4 prefixes are laminar: two overlap iff one contains the other. Inside, a CIDR is its key (network address as
# an int, prefix length), which sorts as ipaddress sorts networks; every answer below is the one comparing every
# pair in sorted order would give (tests/test_rules_overlap.py checks this against that reference).

Pair: TypeAlias = tuple[Cidr, Cidr]
_Key: TypeAlias = tuple[int, int]
_PairKey: TypeAlias = tuple[int, int, int, int]
_ALL = 0xFFFFFFFF
_NONE = 1 << 62  # a rank no pair has: "no such pair"


def _key(cidr: Cidr) -> _Key:
    return int(cidr.network_address), cidr.prefixlen


def _pair_key(pair: Pair) -> _PairKey:
    return (*_key(pair[0]), *_key(pair[1]))


def _last(key: _Key) -> int:
    """The highest address of the CIDR ``key``."""
    return key[0] | (_ALL >> key[1])


def _overlap(a: _Key, b: _Key) -> bool:
    return a[0] <= _last(b) and b[0] <= _last(a)


def _contains(outer: _Key, inner: _Key) -> bool:
    return outer[1] <= inner[1] and outer[0] <= inner[0] <= _last(outer)


def _pairs_overlap(a: _PairKey, b: _PairKey) -> bool:
    return _overlap((a[0], a[1]), (b[0], b[1])) and _overlap((a[2], a[3]), (b[2], b[3]))


def first_overlap(cidrs: Iterable[Cidr]) -> tuple[Cidr, Cidr] | None:
    """The first two CIDRs of ``cidrs`` that overlap, in sorted order (``a`` before ``b``), or None.

    Sorted by (network address, prefix length), the CIDRs inside ``a`` come right after ``a``: if ``a``'s
    successor is not inside it, nothing later is. So only neighbours are compared: O(n log n) for the sort and
    O(n) for the pass, where comparing every pair took O(n²).
    """
    ordered = sorted(cidrs, key=_key)
    for a, b in pairwise(ordered):
        if int(b.network_address) <= _last(_key(a)):
            return a, b
    return None


class _ActiveRemotes:
    """The remote CIDRs of the pairs whose local CIDR encloses a sweep's position, each with its pairs' ranks.

    Built over every remote that may become active (``m`` distinct ones). Pairs are pushed in ascending rank and
    popped last-in first-out, so the least rank of a remote is the first of its list. A segment tree over the
    remotes in sorted order holds each one's least active rank. ``least_overlapping(r)`` is the least rank of an
    active pair whose remote overlaps ``r``: the remotes inside ``r`` are one contiguous run of the sorted remotes
    (one range query, O(log m)); those strictly enclosing ``r`` are at most one per shorter prefix length present
    (W ≤ 32 dictionary look-ups). Push and pop are O(log m).
    """

    def __init__(self, remotes: Iterable[_Key]) -> None:
        self._keys = sorted(set(remotes))
        self._index = {key: i for i, key in enumerate(self._keys)}
        self._starts = [key[0] for key in self._keys]
        self._lengths = sorted({key[1] for key in self._keys})
        self._ranks: list[list[int]] = [[] for _ in self._keys]
        self._size = 1
        while self._size < len(self._keys):
            self._size *= 2
        self._tree = [_NONE] * (2 * self._size)

    def push(self, remote: _Key, rank: int) -> None:
        i = self._index[remote]
        self._ranks[i].append(rank)
        if len(self._ranks[i]) == 1:
            self._set(i, rank)

    def pop(self, remote: _Key) -> None:
        i = self._index[remote]
        self._ranks[i].pop()
        if not self._ranks[i]:
            self._set(i, _NONE)

    def least_overlapping(self, remote: _Key) -> int:
        """The least active rank whose remote overlaps ``remote``, or ``_NONE``."""
        start = bisect_left(self._keys, remote)
        end = bisect_right(self._starts, _last(remote))
        best = self._least(start, end)
        for length in self._lengths:
            if length >= remote[1]:
                break
            i = self._index.get((remote[0] & (_ALL ^ (_ALL >> length)), length))
            if i is not None and self._ranks[i]:
                best = min(best, self._ranks[i][0])
        return best

    def _set(self, i: int, rank: int) -> None:
        i += self._size
        self._tree[i] = rank
        while i > 1:
            i //= 2
            self._tree[i] = min(self._tree[2 * i], self._tree[2 * i + 1])

    def _least(self, start: int, end: int) -> int:
        best = _NONE
        start += self._size
        end += self._size
        while start < end:
            if start & 1:
                best = min(best, self._tree[start])
                start += 1
            if end & 1:
                end -= 1
                best = min(best, self._tree[end])
            start //= 2
            end //= 2
        return best


def _groups(keys: Sequence[_PairKey]) -> Iterator[tuple[_Key, range]]:
    """The runs of sorted pair keys that share a local CIDR: (local, index range)."""
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i][:2] != keys[start][:2]:
            yield (keys[start][0], keys[start][1]), range(start, i)
            start = i


def _remote(key: _PairKey) -> _Key:
    return key[2], key[3]


def _least_with_partner(keys: Sequence[_PairKey]) -> int | None:
    """The index of the least of the sorted, distinct pair ``keys`` that overlaps another of them, or None.

    Of two overlapping pairs, one's local encloses (or is) the other's, and that one sorts first. So the least pair
    with a partner is found either beside a pair of its own local CIDR (a plain CIDR check of the group's sorted
    remotes), or as the least pair of an enclosing local whose remote overlaps the remote of a pair inside it. The
    sweep walks the locals in order with a stack of the enclosing ones; their pairs' remotes are in
    :class:`_ActiveRemotes`. Each pair is pushed, popped and queried once: O(n (log n + W)) for n pairs and W ≤ 32
    prefix lengths, against O(n²) for comparing every pair.
    """
    active = _ActiveRemotes(_remote(key) for key in keys)
    stack: list[tuple[_Key, range]] = []
    best = _NONE
    for local, group in _groups(keys):
        while stack and not _contains(stack[-1][0], local):
            for i in reversed(stack.pop()[1]):
                active.pop(_remote(keys[i]))
        for i in group:
            best = min(best, active.least_overlapping(_remote(keys[i])))
        for i in group[:-1]:
            if _overlap(_remote(keys[i]), _remote(keys[i + 1])):
                best = min(best, i)
                break
        for i in group:
            active.push(_remote(keys[i]), i)
        stack.append((local, group))
    return None if best == _NONE else best


def _least_mine_with_partner(mine: Sequence[_PairKey], others: Sequence[_PairKey]) -> int | None:
    """The index of the least of the sorted ``mine`` that overlaps one of the sorted ``others``, or None.

    One sweep over the locals of both, as in :func:`_least_with_partner`: a pair of ``mine`` is a candidate when
    an ``others`` pair at an enclosing (or the same) local has an overlapping remote; and a pair of ``others``
    names the least of ``mine`` at a strictly enclosing local whose remote overlaps its own. O(n (log n + W)).
    """
    mine_active = _ActiveRemotes(_remote(key) for key in mine)
    others_active = _ActiveRemotes(_remote(key) for key in others)
    mine_groups = dict(_groups(mine))
    others_groups = dict(_groups(others))
    empty = range(0)
    stack: list[tuple[_Key, range, range]] = []
    best = _NONE
    for local in sorted(mine_groups.keys() | others_groups.keys()):
        while stack and not _contains(stack[-1][0], local):
            _, mine_popped, others_popped = stack.pop()
            for i in reversed(mine_popped):
                mine_active.pop(_remote(mine[i]))
            for i in reversed(others_popped):
                others_active.pop(_remote(others[i]))
        mine_group = mine_groups.get(local, empty)
        others_group = others_groups.get(local, empty)
        for i in others_group:
            best = min(best, mine_active.least_overlapping(_remote(others[i])))
            others_active.push(_remote(others[i]), i)
        for i in mine_group:
            if others_active.least_overlapping(_remote(mine[i])) != _NONE:
                best = min(best, i)
                break
        for i in mine_group:
            mine_active.push(_remote(mine[i]), i)
        stack.append((local, mine_group, others_group))
    return None if best == _NONE else best


def first_pair_overlap(mine: Iterable[Pair], others: Iterable[Pair]) -> tuple[Pair, Pair] | None:
    """A pair of ``mine`` and a pair of ``others`` covering common traffic (both sides overlap; equal pairs do),
    or None: the least such pair of ``mine`` in sorted order, with the least of ``others`` it overlaps.

    Two pairs overlap iff their locals overlap and their remotes overlap; found by a sweep (see
    :func:`_least_mine_with_partner`) in O(n log n) for n pairs in all, then one linear pass for the partner.
    """
    mine_sorted = sorted(set(mine), key=_pair_key)
    others_sorted = sorted(set(others), key=_pair_key)
    mine_keys = [_pair_key(p) for p in mine_sorted]
    others_keys = [_pair_key(p) for p in others_sorted]
    least = _least_mine_with_partner(mine_keys, others_keys)
    if least is None:
        return None
    return mine_sorted[least], others_sorted[_first_partner(mine_keys[least], others_keys, 0)]


def first_self_overlap(pairs: Iterable[Pair]) -> tuple[Pair, Pair] | None:
    """Two distinct pairs of one policy covering common traffic, or None: the least such pair in sorted order, with
    the least pair after it that it overlaps. O(n log n) for n pairs (see :func:`_least_with_partner`)."""
    ordered = sorted(set(pairs), key=_pair_key)
    keys = [_pair_key(p) for p in ordered]
    least = _least_with_partner(keys)
    if least is None:
        return None
    # Every partner of the least pair with a partner sorts after it: that partner has a partner too.
    return ordered[least], ordered[_first_partner(keys[least], keys, least + 1)]


def _first_partner(key: _PairKey, keys: Sequence[_PairKey], start: int) -> int:
    return next(i for i in range(start, len(keys)) if _pairs_overlap(key, keys[i]))


def _pair(pair: Pair) -> str:
    return f"{pair[0]} -> {pair[1]}"
