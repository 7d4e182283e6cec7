"""The values the simulated service knows, and which of them each dialect's wire accepts.

Every enum's values are API 3.0's spelling (reference/tencent-cloud.md, section 8, which overrides section 7): the
world holds the widest set any connection may have. API 2.0's wire accepts only the seed's value sets
(``seed/ModifyVpnConnEx.md``), spelled in lower case, with the IPsec integrity ``SHA1`` written ``sha``
(:func:`seed_value`, :func:`seed_text`); API 3.0's wire accepts exactly the section-8 spellings
(:func:`v3_value`). A world file may spell any value in any case (:func:`file_value`).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Final, TypeVar

__all__ = [
    "GCM",
    "ConnStatus",
    "DhGroup",
    "DpdAction",
    "ExchangeMode",
    "Identity",
    "IkeAuthentication",
    "IkeEncryption",
    "IkeVersion",
    "IpsecEncryption",
    "IpsecIntegrity",
    "NegotiationType",
    "PfsGroup",
    "RouteType",
    "file_value",
    "seed_choices",
    "seed_text",
    "seed_value",
    "v3_value",
]


class IkeEncryption(StrEnum):
    DES3_CBC = "3DES-CBC"
    AES_CBC_128 = "AES-CBC-128"
    AES_CBC_192 = "AES-CBC-192"
    AES_CBC_256 = "AES-CBC-256"
    DES_CBC = "DES-CBC"
    SM4 = "SM4"
    AES128GCM128 = "AES128GCM128"
    AES192GCM128 = "AES192GCM128"
    AES256GCM128 = "AES256GCM128"


class IkeAuthentication(StrEnum):
    MD5 = "MD5"
    SHA = "SHA"
    SHA_256 = "SHA-256"
    SHA_512 = "SHA-512"


class ExchangeMode(StrEnum):
    MAIN = "MAIN"
    AGGRESSIVE = "AGGRESSIVE"


class Identity(StrEnum):
    ADDRESS = "ADDRESS"
    FQDN = "FQDN"


class DhGroup(StrEnum):
    GROUP1 = "GROUP1"
    GROUP2 = "GROUP2"
    GROUP5 = "GROUP5"
    GROUP14 = "GROUP14"
    GROUP15 = "GROUP15"
    GROUP16 = "GROUP16"
    GROUP19 = "GROUP19"
    GROUP20 = "GROUP20"
    GROUP21 = "GROUP21"
    GROUP24 = "GROUP24"


class IkeVersion(StrEnum):
    IKEV1 = "IKEV1"
    IKEV2 = "IKEV2"


class IpsecEncryption(StrEnum):
    DES3_CBC = "3DES-CBC"
    AES_CBC_128 = "AES-CBC-128"
    AES_CBC_192 = "AES-CBC-192"
    AES_CBC_256 = "AES-CBC-256"
    DES_CBC = "DES-CBC"
    SM4 = "SM4"
    NULL = "NULL"
    AES128GCM128 = "AES128GCM128"
    AES192GCM128 = "AES192GCM128"
    AES256GCM128 = "AES256GCM128"


class IpsecIntegrity(StrEnum):
    MD5 = "MD5"
    SHA1 = "SHA1"
    SHA_256 = "SHA-256"
    SHA_512 = "SHA-512"
    SHA_384 = "SHA-384"
    SM3 = "SM3"


class PfsGroup(StrEnum):
    NULL = "NULL"
    DH_GROUP1 = "DH-GROUP1"
    DH_GROUP2 = "DH-GROUP2"
    DH_GROUP5 = "DH-GROUP5"
    DH_GROUP14 = "DH-GROUP14"
    DH_GROUP15 = "DH-GROUP15"
    DH_GROUP16 = "DH-GROUP16"
    DH_GROUP19 = "DH-GROUP19"
    DH_GROUP20 = "DH-GROUP20"
    DH_GROUP21 = "DH-GROUP21"
    DH_GROUP24 = "DH-GROUP24"


class RouteType(StrEnum):
    """As the service spells it: ``STATIC`` (the default, older tunnels) and ``Policy`` are SPD tunnels;
    ``StaticRoute`` and ``Bgp`` are route-based and have no SPD."""

    STATIC = "STATIC"
    POLICY = "Policy"
    STATIC_ROUTE = "StaticRoute"
    BGP = "Bgp"

    @property
    def route_based(self) -> bool:
        return self in (RouteType.STATIC_ROUTE, RouteType.BGP)


class NegotiationType(StrEnum):
    ACTIVE = "active"
    PASSIVE = "passive"
    FLOW_TRIGGER = "flowTrigger"


class DpdAction(StrEnum):
    CLEAR = "clear"
    RESTART = "restart"


class ConnStatus(IntEnum):
    """API 2.0's ``vpcConnStatus``."""

    CREATING = 0
    CREATE_ERROR = 1
    MODIFYING = 2
    MODIFY_ERROR = 3
    DELETING = 4
    DELETE_ERROR = 5
    NORMAL = 6

    @property
    def v3_state(self) -> str:
        """API 3.0's ``State``: PENDING, AVAILABLE or DELETING."""
        if self in (ConnStatus.NORMAL, ConnStatus.MODIFY_ERROR):
            return "AVAILABLE"
        if self in (ConnStatus.DELETING, ConnStatus.DELETE_ERROR):
            return "DELETING"
        return "PENDING"

    @property
    def settled(self) -> bool:
        """Whether the connection takes an edit (AVAILABLE)."""
        return self.v3_state == "AVAILABLE"


# The algorithms only 4.0 gateways run (section 8).
GCM: Final = frozenset({"AES128GCM128", "AES192GCM128", "AES256GCM128"})

E = TypeVar("E", bound=StrEnum)

# The seed's value sets (API 2.0's wire): every other value of these enums is API 3.0 only.
_SEED: Final[dict[type[StrEnum], frozenset[str]]] = {
    IkeEncryption: frozenset({"3DES-CBC", "AES-CBC-128", "AES-CBC-192", "AES-CBC-256", "DES-CBC"}),
    IkeAuthentication: frozenset({"MD5", "SHA"}),
    ExchangeMode: frozenset(ExchangeMode),
    Identity: frozenset(Identity),
    DhGroup: frozenset({"GROUP1", "GROUP2", "GROUP5", "GROUP14", "GROUP24"}),
    IpsecEncryption: frozenset({"3DES-CBC", "AES-CBC-128", "AES-CBC-192", "AES-CBC-256", "DES-CBC", "NULL"}),
    IpsecIntegrity: frozenset({"MD5", "SHA1"}),
    PfsGroup: frozenset({"NULL", "DH-GROUP1", "DH-GROUP2", "DH-GROUP5", "DH-GROUP14", "DH-GROUP24"}),
}
# World files may use the spellings API 2.0 answers with.
_FILE_ALIASES: Final[dict[type[StrEnum], dict[str, str]]] = {
    IkeAuthentication: {"SHA1": "SHA"},
    IpsecIntegrity: {"SHA": "SHA1"},
}


def seed_text(value: StrEnum) -> str:
    """API 2.0's spelling of ``value``: lower case, the IPsec integrity ``SHA1`` as the seed's ``sha``."""
    return "sha" if value is IpsecIntegrity.SHA1 else value.value.lower()


def seed_choices(kind: type[E]) -> list[str]:
    """The API 2.0 spellings the seed allows for ``kind``, in the enum's order."""
    allowed = _SEED.get(kind, frozenset(kind))
    return [seed_text(member) for member in kind if member.value in allowed]


def seed_value(kind: type[E], text: str) -> E | None:
    """The value API 2.0's wire reads in ``text`` (exact seed spelling), or None when the seed has no such value."""
    allowed = _SEED.get(kind, frozenset(kind))
    return next((m for m in kind if m.value in allowed and seed_text(m) == text), None)


def v3_value(kind: type[E], text: str) -> E | None:
    """The value API 3.0's wire reads in ``text`` (exact section-8 spelling), or None."""
    return next((m for m in kind if m.value == text), None)


def file_value(kind: type[E], text: str) -> E | None:
    """The value a world file means by ``text``, in any case (``sha1`` for the IKE ``SHA``, ``sha`` for the IPsec
    ``SHA1``, as API 2.0 answers); None when it is no value of ``kind``."""
    folded = text.strip().casefold()
    for member in kind:
        if member.value.casefold() == folded:
            return member
    alias = _FILE_ALIASES.get(kind, {}).get(text.strip().upper())
    return None if alias is None else kind(alias)
