"""The simulator's world as typed records, the typed edit, and the world's typed errors. No wire, no I/O.

A connection's SPD is PAIRS: ``spd`` is a tuple of ``(local_cidr, (remote_cidr, ...))``, each VPC-side CIDR with
its own IDC-side CIDRs (the seed's ``spdAcl``, API 3.0's ``SecurityPolicyDatabaseSet``); API 2.0's
``sourceCidr``/``destinationCidr`` are a flattened view of it (:meth:`Connection.local_cidrs`,
:meth:`Connection.remote_cidrs`). Records are frozen: an edit makes a new :class:`Connection`.

Errors name a :class:`Field` (code-neutral: each wire spells it in its own dialect) and a :class:`Reason` (each
wire answers it with its own code). A :class:`Problem`'s ``detail`` may hold the tokens ``<related>`` and
``<value>``, which the wire replaces with its spelling of ``related`` and ``value``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum, StrEnum

from bot.sim.values import (
    ConnStatus,
    DhGroup,
    DpdAction,
    ExchangeMode,
    Identity,
    IkeAuthentication,
    IkeEncryption,
    IkeVersion,
    IpsecEncryption,
    IpsecIntegrity,
    NegotiationType,
    PfsGroup,
    RouteType,
)

SpdRule = tuple[str, tuple[str, ...]]


class Field(StrEnum):
    """A parameter of the world, whatever the dialect calls it."""

    VPC = "vpc"
    GATEWAY = "gateway"
    CONNECTION = "connection"
    TASK = "task"
    NAME = "name"
    PRE_SHARED_KEY = "pre_shared_key"
    SPD = "spd"
    REMOTES = "remotes"  # API 2.0's userGwCidrBlock: every local CIDR's remotes
    IKE_ENCRYPTION = "ike.encryption"
    IKE_AUTHENTICATION = "ike.authentication"
    IKE_EXCHANGE_MODE = "ike.exchange_mode"
    IKE_LOCAL_IDENTITY = "ike.local_identity"
    IKE_REMOTE_IDENTITY = "ike.remote_identity"
    IKE_LOCAL_ADDRESS = "ike.local_address"
    IKE_REMOTE_ADDRESS = "ike.remote_address"
    IKE_LOCAL_FQDN = "ike.local_fqdn"
    IKE_REMOTE_FQDN = "ike.remote_fqdn"
    IKE_DH_GROUP = "ike.dh_group"
    IKE_SA_LIFETIME = "ike.sa_lifetime_seconds"
    IKE_VERSION = "ike.version"
    IPSEC_ENCRYPTION = "ipsec.encryption"
    IPSEC_INTEGRITY = "ipsec.integrity"
    IPSEC_PFS = "ipsec.pfs_group"
    IPSEC_SA_LIFETIME = "ipsec.sa_lifetime_seconds"
    IPSEC_SA_TRAFFIC = "ipsec.sa_lifetime_traffic"
    DPD_ENABLE = "dpd_enable"
    DPD_TIMEOUT = "dpd_timeout"
    DPD_ACTION = "dpd_action"
    NEGOTIATION = "negotiation_type"
    HEALTH_CHECK = "health_check.enabled"
    HEALTH_CHECK_LOCAL_IP = "health_check.local_ip"
    HEALTH_CHECK_REMOTE_IP = "health_check.remote_ip"
    PROBE_TYPE = "health_check.probe_type"
    PROBE_INTERVAL = "health_check.probe_interval"
    PROBE_THRESHOLD = "health_check.probe_threshold"
    PROBE_TIMEOUT = "health_check.probe_timeout"
    BGP_TUNNEL_CIDR = "bgp.tunnel_cidr"
    BGP_LOCAL_IP = "bgp.local_ip"
    BGP_REMOTE_IP = "bgp.remote_ip"
    CUSTOMER_GATEWAY = "customer_gateway"


class Reason(Enum):
    """Why the world refuses, code-neutral."""

    INVALID_VALUE = "invalid value"  # not one of the values, or a combination the documents rule out
    MALFORMED = "malformed"  # not a CIDR, an address, an FQDN
    OUT_OF_RANGE = "out of range"  # a number, a length or a count beyond the documented limits
    CIDR_CONFLICT = "cidr conflict"  # pairs of one SPD that overlap each other
    SPD_OVERLAP = "spd overlap"  # a pair overlapping another tunnel's on the same gateway
    HEALTH_CHECK_IP_CONFLICT = "health check ip conflict"
    HEALTH_CHECK_ON_SPD = "health check on an SPD tunnel"
    NAME_TAKEN = "name taken"
    NOT_FOUND = "not found"
    BUSY = "busy"  # an edit runs on the connection, or it is not AVAILABLE
    INVALID_STATE = "invalid state"  # the tunnel's kind has no such setting (an SPD on a route-based tunnel)
    GATEWAY_VERSION = "gateway version"  # needs a 4.0 gateway


@dataclass(frozen=True)
class Problem:
    reason: Reason
    field: Field
    detail: str
    related: Field | None = None
    value: StrEnum | None = None


class WorldError(Exception):
    """The world refused; ``problems`` holds every reason found (at least one), the first one decides the code."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        if not self.problems:
            raise ValueError("a WorldError needs a problem")
        super().__init__("; ".join(f"{p.field}: {p.detail}" for p in self.problems))

    @property
    def reason(self) -> Reason:
        return self.problems[0].reason

    @property
    def field(self) -> Field:
        return self.problems[0].field


def not_found(what: Field, detail: str) -> WorldError:
    return WorldError([Problem(Reason.NOT_FOUND, what, detail)])


# --- the records -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vpc:
    id: str
    number: int
    name: str = ""
    cidr: str = ""


@dataclass(frozen=True)
class VpnGateway:
    id: str
    number: int
    vpc_id: str
    name: str = ""
    address: str = ""
    version: str = "2.0"

    @property
    def runs_gcm(self) -> bool:
        """4.0 gateways run the GCM algorithms and let a connection change its customer gateway."""
        try:
            return float(self.version) >= 4.0
        except ValueError:
            return False


@dataclass(frozen=True)
class CustomerGateway:
    id: str
    number: int | str = 0
    name: str = ""
    address: str = ""


@dataclass(frozen=True)
class IkeOptions:
    encryption: IkeEncryption
    authentication: IkeAuthentication
    exchange_mode: ExchangeMode
    local_identity: Identity
    remote_identity: Identity
    local_address: str
    remote_address: str
    local_fqdn: str
    remote_fqdn: str
    dh_group: DhGroup
    sa_lifetime_seconds: int
    version: IkeVersion = IkeVersion.IKEV1


@dataclass(frozen=True)
class IpsecOptions:
    encryption: IpsecEncryption
    integrity: IpsecIntegrity
    pfs_group: PfsGroup
    sa_lifetime_seconds: int
    sa_lifetime_traffic: int
    encap_mode: str = "tunnel"
    security_proto: str = "esp"


@dataclass(frozen=True)
class ProbeConfig:
    """``HealthCheckConfig``."""

    probe_type: str = "NQA"
    probe_interval: int = 5000
    probe_threshold: int = 3
    probe_timeout: int = 5000


@dataclass(frozen=True)
class HealthCheck:
    enabled: bool = False
    local_ip: str = ""
    remote_ip: str = ""
    status: str = "AVAILABLE"
    config: ProbeConfig | None = None


@dataclass(frozen=True)
class BgpConfig:
    tunnel_cidr: str
    local_ip: str
    remote_ip: str
    local_asn: str = ""
    remote_asn: str = ""


@dataclass(frozen=True)
class Dpd:
    enabled: bool = False
    timeout: int = 30
    action: DpdAction = DpdAction.CLEAR


@dataclass(frozen=True)
class Presentation:
    """How the world file spelled a connection, so API 2.0 answers keep the service's quirks: the block keys
    (``IKESet``/``IKEArr``, ``IPsecSet``/``IPSECArr``), blocks as one-element lists, numbers as strings, and
    ``sha1`` where the input enum says ``sha``."""

    ike_key: str = "IKESet"
    ipsec_key: str = "IPsecSet"
    blocks_as_lists: bool = False
    numbers_as_text: bool = False
    ike_sha: str = "sha"
    ipsec_sha: str = "sha"


@dataclass(frozen=True)
class Connection:
    id: str
    number: int
    vpc_id: str
    gateway_id: str
    customer_gateway: CustomerGateway
    name: str
    pre_shared_key: str = field(repr=False)
    spd: tuple[SpdRule, ...]
    ike: IkeOptions
    ipsec: IpsecOptions
    route_type: RouteType = RouteType.STATIC
    status: ConnStatus = ConnStatus.NORMAL
    net_status: str = "available"
    created: str = ""
    vpn_proto: str = "ipsec"
    encrypt_proto: str = "IKE"
    negotiation: NegotiationType = NegotiationType.ACTIVE
    dpd: Dpd = Dpd()
    health_check: HealthCheck = HealthCheck()
    bgp: BgpConfig | None = None
    tags: tuple[tuple[str, str], ...] = ()
    presentation: Presentation = Presentation()

    def local_cidrs(self) -> list[str]:
        """API 2.0's ``sourceCidr``: the VPC-side CIDRs, in SPD order."""
        return list(dict.fromkeys(local for local, _ in self.spd))

    def remote_cidrs(self) -> list[str]:
        """API 2.0's ``destinationCidr``: the union of the IDC-side CIDRs, in order of first appearance."""
        return list(dict.fromkeys(remote for _, remotes in self.spd for remote in remotes))


# --- the edit --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IkeEdit:
    encryption: IkeEncryption | None = None
    authentication: IkeAuthentication | None = None
    exchange_mode: ExchangeMode | None = None
    local_identity: Identity | None = None
    remote_identity: Identity | None = None
    local_address: str | None = None
    remote_address: str | None = None
    local_fqdn: str | None = None
    remote_fqdn: str | None = None
    dh_group: DhGroup | None = None
    sa_lifetime_seconds: int | None = None
    version: IkeVersion | None = None


@dataclass(frozen=True)
class IpsecEdit:
    encryption: IpsecEncryption | None = None
    integrity: IpsecIntegrity | None = None
    pfs_group: PfsGroup | None = None
    sa_lifetime_seconds: int | None = None
    sa_lifetime_traffic: int | None = None


@dataclass(frozen=True)
class ProbeEdit:
    probe_type: str | None = None
    probe_interval: int | None = None
    probe_threshold: int | None = None
    probe_timeout: int | None = None


@dataclass(frozen=True)
class BgpEdit:
    tunnel_cidr: str | None = None
    local_ip: str | None = None
    remote_ip: str | None = None


@dataclass(frozen=True)
class ConnectionEdit:
    """What one edit changes; None leaves a setting as it is. ``spd`` replaces the SPD rule for rule (order kept);
    ``remotes`` (API 2.0's ``userGwCidrBlock``) gives every local CIDR this list of remotes. Strings are checked
    by the world's rules (CIDRs strict IPv4, addresses, FQDNs); enums arrive typed, read by the wire with its
    dialect's value set."""

    name: str | None = None
    pre_shared_key: str | None = field(default=None, repr=False)
    spd: tuple[SpdRule, ...] | None = None
    remotes: tuple[str, ...] | None = None
    ike: IkeEdit = IkeEdit()
    ipsec: IpsecEdit = IpsecEdit()
    dpd_enable: bool | None = None
    dpd_timeout: int | None = None
    dpd_action: DpdAction | None = None
    negotiation: NegotiationType | None = None
    health_check: bool | None = None
    health_check_local_ip: str | None = None
    health_check_remote_ip: str | None = None
    probe: ProbeEdit | None = None
    bgp: BgpEdit | None = None
    customer_gateway_id: str | None = None
