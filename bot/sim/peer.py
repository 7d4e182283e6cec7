"""The other end of a tunnel: the customer's device as the simulator models it, and the rule that says whether it
and the Tencent side agree (no wire, no I/O).

A :class:`Peer` holds what the device would be configured with, spelled in the connection's terms: its
pre-shared key, IKE version, exchange mode, IKE proposal (encryption, authentication, DH group), ESP proposal
(encryption, integrity, PFS group), optionally the identities it expects of the VPN gateway (``local_*``) and
presents itself (``remote_*``), and its traffic selectors as SPD rules (VPC-side CIDR -> IDC-side CIDRs).

The match rule (:func:`mismatches`): the tunnel comes up when

- the pre-shared keys are equal;
- the IKE version, the exchange mode and the IKE proposal (encryption, authentication, DH group) are equal;
- the ESP proposal (encryption, integrity, PFS group) is equal;
- each identity the peer states is the connection's: its kind, and for that kind the address or FQDN when the
  peer states one (an empty ADDRESS identity on the connection is the gateway's / customer gateway's address);
- on a policy-based tunnel (``STATIC``, ``Policy``), the selectors are equal as SETS of (VPC-side, IDC-side) pairs;
  a route-based tunnel (``StaticRoute``, ``Bgp``) negotiates no selectors.

Lifetimes need not match (IKE and ESP settle on the shorter one), and nothing else (name, DPD, health check,
negotiation type) takes part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from bot.sim.model import Connection, SpdRule
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
)

__all__ = ["MATCH_FIELDS", "Peer", "PeerIdentity", "mirror", "mismatches", "selector_pairs"]

# Every field the match rule may name, in the world file's spelling and in the order mismatches are listed.
MATCH_FIELDS: Final = (
    "preSharedKey",
    "IKESet.ikeVersion",
    "IKESet.exchangeMode",
    "IKESet.propoEncryAlgorithm",
    "IKESet.propoAuthenAlgorithm",
    "IKESet.dhGroupName",
    "IKESet.localIdentity",
    "IKESet.localAddress",
    "IKESet.localFqdnName",
    "IKESet.remoteIdentity",
    "IKESet.remoteAddress",
    "IKESet.remoteFqdnName",
    "IPsecSet.encryptAlgorithm",
    "IPsecSet.integrityAlgorith",
    "IPsecSet.pfsDhGroup",
    "spdAcl",
)


@dataclass(frozen=True)
class PeerIdentity:
    """An identity the peer states: its kind, and the address or FQDN it holds (None: not checked)."""

    kind: Identity
    address: str | None = None
    fqdn: str | None = None


@dataclass(frozen=True)
class Peer:
    pre_shared_key: str = field(repr=False)
    ike_version: IkeVersion
    exchange_mode: ExchangeMode
    ike_encryption: IkeEncryption
    ike_authentication: IkeAuthentication
    dh_group: DhGroup
    ipsec_encryption: IpsecEncryption
    ipsec_integrity: IpsecIntegrity
    pfs_group: PfsGroup
    selectors: tuple[SpdRule, ...]
    local_identity: PeerIdentity | None = None
    remote_identity: PeerIdentity | None = None


def _local_identity(connection: Connection, gateway_address: str) -> PeerIdentity:
    ike = connection.ike
    return PeerIdentity(ike.local_identity, ike.local_address or gateway_address, ike.local_fqdn)


def _remote_identity(connection: Connection) -> PeerIdentity:
    ike = connection.ike
    return PeerIdentity(ike.remote_identity, ike.remote_address or connection.customer_gateway.address, ike.remote_fqdn)


def _stated(identity: PeerIdentity) -> PeerIdentity:
    """``identity`` as a device states it: the address of an ADDRESS identity, the FQDN of an FQDN one."""
    if identity.kind is Identity.ADDRESS:
        return PeerIdentity(identity.kind, address=identity.address)
    return PeerIdentity(identity.kind, fqdn=identity.fqdn)


def mirror(connection: Connection, gateway_address: str) -> Peer:
    """The peer a device admin gets by copying ``connection`` as it is (``gateway_address``: its VPN gateway's
    public IP, which an ADDRESS identity without an address stands for)."""
    ike, ipsec = connection.ike, connection.ipsec
    return Peer(
        pre_shared_key=connection.pre_shared_key,
        ike_version=ike.version,
        exchange_mode=ike.exchange_mode,
        ike_encryption=ike.encryption,
        ike_authentication=ike.authentication,
        dh_group=ike.dh_group,
        ipsec_encryption=ipsec.encryption,
        ipsec_integrity=ipsec.integrity,
        pfs_group=ipsec.pfs_group,
        selectors=connection.spd,
        local_identity=_stated(_local_identity(connection, gateway_address)),
        remote_identity=_stated(_remote_identity(connection)),
    )


def selector_pairs(rules: tuple[SpdRule, ...]) -> frozenset[tuple[str, str]]:
    """The (VPC-side, IDC-side) pairs the rules hold, order and grouping forgotten."""
    return frozenset((local, remote) for local, remotes in rules for remote in remotes)


def _identity_mismatch(side: str, stated: PeerIdentity | None, actual: PeerIdentity) -> list[str]:
    if stated is None:
        return []
    if stated.kind is not actual.kind:
        return [f"IKESet.{side}Identity"]
    if stated.kind is Identity.ADDRESS:
        return [f"IKESet.{side}Address"] if stated.address is not None and stated.address != actual.address else []
    return [f"IKESet.{side}FqdnName"] if stated.fqdn is not None and stated.fqdn != actual.fqdn else []


def mismatches(connection: Connection, peer: Peer, gateway_address: str) -> tuple[str, ...]:
    """The fields (world file spelling, :data:`MATCH_FIELDS` order) on which ``peer`` and ``connection`` disagree
    by the module's match rule; empty: the tunnel comes up."""
    ike, ipsec = connection.ike, connection.ipsec
    found = [
        name
        for name, differs in (
            ("preSharedKey", peer.pre_shared_key != connection.pre_shared_key),
            ("IKESet.ikeVersion", peer.ike_version is not ike.version),
            ("IKESet.exchangeMode", peer.exchange_mode is not ike.exchange_mode),
            ("IKESet.propoEncryAlgorithm", peer.ike_encryption is not ike.encryption),
            ("IKESet.propoAuthenAlgorithm", peer.ike_authentication is not ike.authentication),
            ("IKESet.dhGroupName", peer.dh_group is not ike.dh_group),
        )
        if differs
    ]
    found += _identity_mismatch("local", peer.local_identity, _local_identity(connection, gateway_address))
    found += _identity_mismatch("remote", peer.remote_identity, _remote_identity(connection))
    found += [
        name
        for name, differs in (
            ("IPsecSet.encryptAlgorithm", peer.ipsec_encryption is not ipsec.encryption),
            ("IPsecSet.integrityAlgorith", peer.ipsec_integrity is not ipsec.integrity),
            ("IPsecSet.pfsDhGroup", peer.pfs_group is not ipsec.pfs_group),
        )
        if differs
    ]
    if not connection.route_type.route_based and selector_pairs(peer.selectors) != selector_pairs(connection.spd):
        found.append("spdAcl")
    return tuple(found)
