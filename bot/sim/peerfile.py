"""A peer as JSON: the world file's ``"peer"`` key on a connection entry, and the body of ``POST /_sim/peers/{id}``.

The keys are spelled as the world file spells a connection's settings (any case for values)::

    {"preSharedKey": "...",
     "IKESet": {"ikeVersion": "ikev1", "exchangeMode": "main", "propoEncryAlgorithm": "aes-cbc-256",
                "propoAuthenAlgorithm": "sha", "dhGroupName": "group2",
                "localIdentity": "address", "localAddress": "203.0.113.10", "localFqdnName": "...",
                "remoteIdentity": "address", "remoteAddress": "198.51.100.21", "remoteFqdnName": "..."},
     "IPsecSet": {"encryptAlgorithm": "aes-cbc-256", "integrityAlgorith": "sha1", "pfsDhGroup": "dh-group14"},
     "spdAcl": [{"10.0.1.0/24": ["10.100.1.0/24"]}]}

The identity keys are optional: a side whose ``*Identity`` is null is not checked, nor is an address or FQDN that
is null (they are always written, null when absent). Both the world file's ``peer`` and a POST body are PATCHES:
the world file's over the mirror of the connection as loaded, a POST's over the peer as it is; ``IKESet`` and
``IPsecSet`` merge key by key, a key set to null is removed (``*Identity`` null takes its address and FQDN with
it), ``spdAcl`` is replaced whole, and a dotted key (``"IKESet.dhGroupName": "group14"``) means the nested one.
Errors name every field at fault and never quote the pre-shared key.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Annotated, Any, Final, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from bot.sim.model import SpdRule
from bot.sim.peer import Peer, PeerIdentity
from bot.sim.rules import PSK_MAX, address_problem, cidr_problem, fqdn_problem
from bot.sim.values import (
    DhGroup,
    ExchangeMode,
    Identity,
    IkeAuthentication,
    IkeEncryption,
    IkeVersion,
    IpsecEncryption,
    IpsecIntegrity,
    PfsGroup,
    file_value,
)

__all__ = ["BLOCKS", "MASK", "SETTING_KEYS", "masked", "patched", "peer_json"]

MASK: Final = "***"
BLOCKS: Final = ("IKESet", "IPsecSet")
_IKE_KEYS: Final = (
    "ikeVersion", "exchangeMode", "propoEncryAlgorithm", "propoAuthenAlgorithm", "dhGroupName",
    "localIdentity", "localAddress", "localFqdnName", "remoteIdentity", "remoteAddress", "remoteFqdnName",
)  # fmt: skip
_IPSEC_KEYS: Final = ("encryptAlgorithm", "integrityAlgorith", "pfsDhGroup")
# Every key a patch may set, dotted for the blocks' fields (what ``--peer-set KEY=VALUE`` takes).
SETTING_KEYS: Final = (
    "preSharedKey",
    *(f"IKESet.{key}" for key in _IKE_KEYS),
    *(f"IPsecSet.{key}" for key in _IPSEC_KEYS),
    "spdAcl",
)

E = TypeVar("E", bound=StrEnum)


def _enum_reader(kind: type[E]) -> Callable[[Any], E]:
    def read(raw: Any) -> E:
        if isinstance(raw, kind):
            return raw
        value = file_value(kind, raw) if isinstance(raw, str) else None
        if value is None:
            choices = ", ".join(member.value.lower() for member in kind)
            raise ValueError(f"{str(raw)[:40]!r} is not one of {choices}")
        return value

    return read


IkeVersionText = Annotated[IkeVersion, BeforeValidator(_enum_reader(IkeVersion))]
ExchangeModeText = Annotated[ExchangeMode, BeforeValidator(_enum_reader(ExchangeMode))]
IkeEncryptionText = Annotated[IkeEncryption, BeforeValidator(_enum_reader(IkeEncryption))]
IkeAuthenticationText = Annotated[IkeAuthentication, BeforeValidator(_enum_reader(IkeAuthentication))]
DhGroupText = Annotated[DhGroup, BeforeValidator(_enum_reader(DhGroup))]
IdentityText = Annotated[Identity, BeforeValidator(_enum_reader(Identity))]
IpsecEncryptionText = Annotated[IpsecEncryption, BeforeValidator(_enum_reader(IpsecEncryption))]
IpsecIntegrityText = Annotated[IpsecIntegrity, BeforeValidator(_enum_reader(IpsecIntegrity))]
PfsGroupText = Annotated[PfsGroup, BeforeValidator(_enum_reader(PfsGroup))]


class _Entry(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", frozen=True)


class _IkeEntry(_Entry):
    ike_version: IkeVersionText
    exchange_mode: ExchangeModeText
    propo_encry_algorithm: IkeEncryptionText
    propo_authen_algorithm: IkeAuthenticationText
    dh_group_name: DhGroupText
    local_identity: IdentityText | None = None
    local_address: str | None = None
    local_fqdn_name: str | None = None
    remote_identity: IdentityText | None = None
    remote_address: str | None = None
    remote_fqdn_name: str | None = None

    @field_validator("local_address", "remote_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value and (why := address_problem(value)) is not None:
            raise ValueError(why)
        return value

    @field_validator("local_fqdn_name", "remote_fqdn_name")
    @classmethod
    def _fqdn(cls, value: str | None) -> str | None:
        if value and (why := fqdn_problem(value)) is not None:
            raise ValueError(why)
        return value

    @model_validator(mode="after")
    def _identities(self) -> _IkeEntry:
        for side, kind, address, fqdn in (
            ("local", self.local_identity, self.local_address, self.local_fqdn_name),
            ("remote", self.remote_identity, self.remote_address, self.remote_fqdn_name),
        ):
            if kind is None and (address is not None or fqdn is not None):
                raise ValueError(f"{side}Address / {side}FqdnName need {side}Identity (address or fqdn)")
        return self


class _IpsecEntry(_Entry):
    encrypt_algorithm: IpsecEncryptionText
    integrity_algorith: IpsecIntegrityText
    pfs_dh_group: PfsGroupText


class _PeerEntry(_Entry):
    pre_shared_key: Annotated[str, Field(min_length=1, max_length=PSK_MAX)]
    ike: _IkeEntry = Field(alias="IKESet")
    ipsec: _IpsecEntry = Field(alias="IPsecSet")
    spd_acl: list[dict[str, list[str]]]

    @field_validator("spd_acl")
    @classmethod
    def _selectors(cls, rules: list[dict[str, list[str]]]) -> list[dict[str, list[str]]]:
        for index, rule in enumerate(rules):
            if not rule:
                raise ValueError(f"rule {index} is empty: give {{VPC-side CIDR: [IDC-side CIDRs]}}")
            for local, remotes in rule.items():
                if not remotes:
                    raise ValueError(f"rule {index}: {local} needs at least one IDC-side CIDR")
                for cidr in (local, *remotes):
                    if (why := cidr_problem(cidr)) is not None:
                        raise ValueError(f"rule {index}: {why}")
        return rules

    def record(self) -> Peer:
        ike, ipsec = self.ike, self.ipsec
        return Peer(
            pre_shared_key=self.pre_shared_key,
            ike_version=ike.ike_version,
            exchange_mode=ike.exchange_mode,
            ike_encryption=ike.propo_encry_algorithm,
            ike_authentication=ike.propo_authen_algorithm,
            dh_group=ike.dh_group_name,
            ipsec_encryption=ipsec.encrypt_algorithm,
            ipsec_integrity=ipsec.integrity_algorith,
            pfs_group=ipsec.pfs_dh_group,
            selectors=tuple((local, tuple(remotes)) for rule in self.spd_acl for local, remotes in rule.items()),
            local_identity=None
            if ike.local_identity is None
            else PeerIdentity(ike.local_identity, ike.local_address, ike.local_fqdn_name),
            remote_identity=None
            if ike.remote_identity is None
            else PeerIdentity(ike.remote_identity, ike.remote_address, ike.remote_fqdn_name),
        )


def _text(value: StrEnum) -> str:
    return value.value.lower()


def _identity_json(side: str, identity: PeerIdentity | None) -> dict[str, str | None]:
    return {
        f"{side}Identity": None if identity is None else _text(identity.kind),
        f"{side}Address": None if identity is None else identity.address,
        f"{side}FqdnName": None if identity is None else identity.fqdn,
    }


def _selectors_json(rules: tuple[SpdRule, ...]) -> list[dict[str, list[str]]]:
    return [{local: list(remotes)} for local, remotes in rules]


def peer_json(peer: Peer) -> dict[str, Any]:
    """``peer`` in the module's JSON (the pre-shared key included: :func:`masked` before showing it)."""
    return {
        "preSharedKey": peer.pre_shared_key,
        "IKESet": {
            "ikeVersion": _text(peer.ike_version),
            "exchangeMode": _text(peer.exchange_mode),
            "propoEncryAlgorithm": _text(peer.ike_encryption),
            "propoAuthenAlgorithm": _text(peer.ike_authentication),
            "dhGroupName": _text(peer.dh_group),
            **_identity_json("local", peer.local_identity),
            **_identity_json("remote", peer.remote_identity),
        },
        "IPsecSet": {
            "encryptAlgorithm": _text(peer.ipsec_encryption),
            "integrityAlgorith": _text(peer.ipsec_integrity),
            "pfsDhGroup": _text(peer.pfs_group),
        },
        "spdAcl": _selectors_json(peer.selectors),
    }


def masked(document: Mapping[str, Any]) -> dict[str, Any]:
    """A peer's JSON with the pre-shared key replaced by ``***``."""
    shown = dict(document)
    if "preSharedKey" in shown:
        shown["preSharedKey"] = MASK
    return shown


def _nested(patch: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in patch.items():
        block, dot, name = key.partition(".")
        if dot and block in BLOCKS:
            inner = nested.setdefault(block, {})
            if isinstance(inner, dict):
                inner[name] = value
            continue
        if key in BLOCKS and isinstance(value, Mapping) and isinstance(nested.get(key), dict):
            nested[key].update(value)
        else:
            nested[key] = dict(value) if key in BLOCKS and isinstance(value, Mapping) else value
    return nested


def _problems(error: ValidationError, where: str) -> str:
    parts = []
    for one in error.errors(include_url=False, include_input=False, include_context=False):
        field = ".".join(str(part) for part in one["loc"])
        parts.append(f"{where}{field or 'peer'}: {one['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def patched(base: Peer | None, patch: Mapping[str, Any], *, where: str = "") -> Peer:
    """``base`` (None: no peer, so every field must be given) with ``patch`` applied (see the module's docstring).

    Raises ValueError naming every field at fault, each prefixed with ``where`` (``IKESet.dhGroupName: 'group99'
    is not one of ...``); the pre-shared key is never quoted.
    """
    document: dict[str, Any] = copy.deepcopy(peer_json(base)) if base is not None else {}
    for key, value in _nested(patch).items():
        current = document.get(key)
        if key in BLOCKS and isinstance(value, Mapping) and isinstance(current, dict):
            merged = {**current, **value}
            for side in ("local", "remote"):
                if f"{side}Identity" in value and value[f"{side}Identity"] is None:
                    for dropped in (f"{side}Address", f"{side}FqdnName"):
                        merged[dropped] = value.get(dropped)
            document[key] = {name: one for name, one in merged.items() if one is not None}
        elif value is None:
            document.pop(key, None)
        else:
            document[key] = value
    try:
        return _PeerEntry.model_validate(document).record()
    except ValidationError as error:
        raise ValueError(_problems(error, where)) from None
