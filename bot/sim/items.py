"""A connection as a world file holds it: the ``DescribeVpnConn`` item (API 2.0's output shape), read into a typed
:class:`~bot.sim.model.Connection` and written back.

Read (:func:`read_item`): values in any case; numbers as numbers or strings; the IKE block under ``IKESet`` or
``IKEArr`` and the IPsec block under ``IPsecSet`` or ``IPSECArr``, each an object or a one-element list; the SPD
from ``spdAcl`` (a list of ``{local: [remotes]}`` objects, order kept) or else ``sourceCidr`` x
``destinationCidr``. Optional keys for what API 3.0 adds: ``routeType``, ``IKESet.ikeVersion``,
``negotiationType``, ``dpdEnable``, ``dpdTimeout``, ``dpdAction``, ``enableHealthCheck``, ``healthCheckLocalIp``,
``healthCheckRemoteIp``, ``healthCheckStatus``, ``healthCheckConfig`` (``probeType``, ``probeInterval``,
``probeThreshold``, ``probeTimeout``), ``tagSet`` (``[{"key", "value"}]``), ``bgpConfig`` (``tunnelCidr``,
``localBgpIp``, ``remoteBgpIp``, ``localBgpAsn``, ``remoteBgpAsn``), ``encryptProto``. Unknown keys are refused;
``peer`` (the other end, ``bot.sim.peerfile``) is read by the world file, not here.

Written (:func:`describe_item`): what ``DescribeVpnConn`` answers, in the spelling the file used (see
``Presentation``): lower-case enums, ``sourceCidr`` = the VPC-side CIDRs, ``destinationCidr`` = the union of the
IDC-side ones. :func:`world_item` adds the API 3.0 keys that differ from their defaults, so a snapshot reloads
into the same world.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, Final, TypeVar

from bot.sim.model import (
    BgpConfig,
    Connection,
    CustomerGateway,
    Dpd,
    HealthCheck,
    IkeOptions,
    IpsecOptions,
    Presentation,
    ProbeConfig,
    SpdRule,
    Vpc,
    VpnGateway,
)
from bot.sim.rules import cidr_problem
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
    file_value,
    seed_text,
)

__all__ = ["describe_item", "read_item", "world_item"]

IKE_KEYS: Final = ("IKESet", "IKEArr")
IPSEC_KEYS: Final = ("IPsecSet", "IPSECArr")
_API2_KEYS: Final = frozenset(
    {
        "vpcId", "unVpcId", "vpcName", "vpnGwId", "unVpnGwId", "vpnGwName", "vpnConnId", "unVpnConnId",
        "vpnConnName", "userGwId", "unUserGwId", "userGwName", "vpnGwAddress", "userGwAddress", "preSharedKey",
        "sourceCidr", "destinationCidr", "vpcConnStatus", "netStatus", "createTime", "vpnProto",
        *IKE_KEYS, *IPSEC_KEYS,
    }
)  # fmt: skip
_EXTRA_KEYS: Final = frozenset(
    {
        "spdAcl", "routeType", "negotiationType", "dpdEnable", "dpdTimeout", "dpdAction", "enableHealthCheck",
        "healthCheckLocalIp", "healthCheckRemoteIp", "healthCheckStatus", "healthCheckConfig", "tagSet",
        "bgpConfig", "encryptProto", "peer",
    }
)  # fmt: skip
_IKE_FIELDS: Final = frozenset(
    {
        "propoEncryAlgorithm", "propoAuthenAlgorithm", "exchangeMode", "localIdentity", "remoteIdentity",
        "localAddress", "remoteAddress", "localFqdnName", "remoteFqdnName", "dhGroupName", "ikeSaLifetimeSeconds",
        "ikeVersion",
    }
)  # fmt: skip
_IPSEC_FIELDS: Final = frozenset(
    {
        "encryptAlgorithm", "integrityAlgorith", "encapMode", "securityProto", "pfsDhGroup",
        "ipsecSaLifetimeSeconds", "ipsecSaLifetimeTraffic",
    }
)  # fmt: skip

E = TypeVar("E", bound=StrEnum)


class _Reader:
    """Reads one item, naming the key at fault in every ValueError."""

    def __init__(self, item: Mapping[str, Any], where: str) -> None:
        self.item = item
        self.where = where

    def fail(self, key: str, why: str) -> ValueError:
        return ValueError(f"{self.where}: {key}: {why}")

    def text(self, key: str, default: str = "", block: Mapping[str, Any] | None = None, prefix: str = "") -> str:
        raw = (self.item if block is None else block).get(key, default)
        if raw is None:
            return default
        if not isinstance(raw, str):
            raise self.fail(prefix + key, "must be text")
        return raw

    def number(
        self, key: str, default: int | None = None, block: Mapping[str, Any] | None = None, prefix: str = ""
    ) -> int:
        raw = (self.item if block is None else block).get(key, default)
        if isinstance(raw, bool) or raw is None:
            raise self.fail(prefix + key, "missing" if raw is None else "must be a number")
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str) and raw.strip().isdigit():
            return int(raw)
        raise self.fail(prefix + key, "must be a whole number")

    def choice(
        self,
        kind: type[E],
        key: str,
        block: Mapping[str, Any] | None = None,
        prefix: str = "",
        default: str | None = None,
    ) -> E:
        raw = (self.item if block is None else block).get(key, default)
        if raw is None:
            raise self.fail(prefix + key, "missing")
        value = file_value(kind, raw) if isinstance(raw, str) else None
        if value is None:
            raise self.fail(prefix + key, f"{str(raw)[:40]!r} is not a known value")
        return value

    def flag(self, key: str) -> bool:
        raw = self.item.get(key, False)
        if isinstance(raw, bool):
            return raw
        if raw in (0, 1, "0", "1"):
            return raw in (1, "1")
        raise self.fail(key, "must be true/false or 0/1")

    def cidrs(self, key: str) -> list[str]:
        raw = self.item.get(key, [])
        values = [raw] if isinstance(raw, str) else raw
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise self.fail(key, "must be a list of CIDRs")
        return [self.cidr(key, value) for value in values]

    def cidr(self, key: str, value: str) -> str:
        why = cidr_problem(value)
        if why is not None:
            raise self.fail(key, why)
        return value

    def block(self, keys: tuple[str, ...], fields: frozenset[str]) -> tuple[str, bool, Mapping[str, Any]]:
        for key in keys:
            raw = self.item.get(key)
            if raw is None:
                continue
            as_list = isinstance(raw, list)
            if as_list and len(raw) == 1:
                raw = raw[0]
            if not isinstance(raw, Mapping):
                raise self.fail(key, "must be an object (or a list of one)")
            unknown = sorted(set(raw) - fields)
            if unknown:
                raise self.fail(f"{key}.{unknown[0]}", "unknown key")
            return key, as_list, raw
        raise self.fail(keys[0], f"missing (give {' or '.join(keys)})")


def read_item(item: Mapping[str, Any], gateways: Mapping[str, VpnGateway]) -> Connection:
    """The connection a world file's item describes; ValueError naming the connection and the key at fault.
    ``gateways`` are the world's, by id: the item must name one of them, of the VPC it names."""
    conn_id = item.get("unVpnConnId")
    if not isinstance(conn_id, str) or not conn_id:
        raise ValueError("a VPN connection item has no unVpnConnId")
    read = _Reader(item, f"VPN connection {conn_id}")
    unknown = sorted(set(item) - _API2_KEYS - _EXTRA_KEYS)
    if unknown:
        raise read.fail(unknown[0], "unknown key")
    for key in ("vpnConnId", "unVpcId", "unVpnGwId"):
        if key not in item:
            raise ValueError(f"a VPN connection item has no {key}")
    number = read.number("vpnConnId")
    vpc_id, gw_id = read.text("unVpcId"), read.text("unVpnGwId")
    gateway = gateways.get(gw_id)
    if gateway is None or gateway.vpc_id != vpc_id:
        raise ValueError(f"VPN connection {conn_id} names VPN gateway {gw_id}, which is not in VPC {vpc_id}")
    ike_key, ike_list, ike_block = read.block(IKE_KEYS, _IKE_FIELDS)
    ipsec_key, ipsec_list, ipsec_block = read.block(IPSEC_KEYS, _IPSEC_FIELDS)
    route_type = read.choice(RouteType, "routeType", default="STATIC")
    spd = _spd(read, route_type)
    status_raw = item.get("vpcConnStatus", 6)
    presentation = Presentation(
        ike_key=ike_key,
        ipsec_key=ipsec_key,
        blocks_as_lists=ike_list or ipsec_list,
        numbers_as_text=isinstance(status_raw, str),
        ike_sha=_sha_spelling(ike_block.get("propoAuthenAlgorithm")),
        ipsec_sha=_sha_spelling(ipsec_block.get("integrityAlgorith")),
    )
    try:
        status = ConnStatus(read.number("vpcConnStatus", 6))
    except ValueError:
        raise read.fail("vpcConnStatus", "must be 0 to 6") from None
    user_gw_raw = item.get("userGwId", 0)
    customer_gateway = CustomerGateway(
        id=read.text("unUserGwId"),
        number=user_gw_raw if isinstance(user_gw_raw, int | str) and not isinstance(user_gw_raw, bool) else 0,
        name=read.text("userGwName"),
        address=read.text("userGwAddress"),
    )
    return Connection(
        id=conn_id,
        number=number,
        vpc_id=vpc_id,
        gateway_id=gw_id,
        customer_gateway=customer_gateway,
        name=read.text("vpnConnName"),
        pre_shared_key=read.text("preSharedKey"),
        spd=spd,
        ike=_ike(read, ike_block, ike_key + "."),
        ipsec=_ipsec(read, ipsec_block, ipsec_key + "."),
        route_type=route_type,
        status=status,
        net_status=read.text("netStatus", "available"),
        created=read.text("createTime"),
        vpn_proto=read.text("vpnProto", "ipsec"),
        encrypt_proto=read.text("encryptProto", "IKE"),
        negotiation=read.choice(NegotiationType, "negotiationType", default="active"),
        dpd=Dpd(
            read.flag("dpdEnable"), read.number("dpdTimeout", 30), read.choice(DpdAction, "dpdAction", default="clear")
        ),
        health_check=_health_check(read),
        bgp=_bgp(read),
        tags=_tags(read),
        presentation=presentation,
    )


def _sha_spelling(raw: object) -> str:
    return "sha1" if isinstance(raw, str) and raw.strip().lower() == "sha1" else "sha"


def _spd(read: _Reader, route_type: RouteType) -> tuple[SpdRule, ...]:
    raw = read.item.get("spdAcl")
    if raw is not None:
        if not isinstance(raw, list):
            raise read.fail("spdAcl", "must be a list of {local: [remotes]} objects")
        rules: list[SpdRule] = []
        for index, one in enumerate(raw):
            if not isinstance(one, Mapping) or not one:
                raise read.fail(f"spdAcl.{index}", "must be an object {local: [remotes]}")
            for local, remotes in one.items():
                if not isinstance(remotes, list) or not remotes or not all(isinstance(r, str) for r in remotes):
                    raise read.fail(f"spdAcl.{index}", "each local CIDR needs a list of remote CIDRs")
                where = f"spdAcl.{index}"
                rules.append((read.cidr(where, local), tuple(read.cidr(where, r) for r in remotes)))
    else:
        locals_, remotes = read.cidrs("sourceCidr"), read.cidrs("destinationCidr")
        rules = [(local, tuple(remotes)) for local in locals_] if remotes else []
    if route_type.route_based and rules:
        raise read.fail("routeType", f"a {route_type} tunnel is route-based and has no SPD: leave the CIDRs out")
    return tuple(rules)


def _ike(read: _Reader, block: Mapping[str, Any], prefix: str) -> IkeOptions:
    def choice(kind: type[E], key: str, default: str | None = None) -> E:
        return read.choice(kind, key, block, prefix, default)

    return IkeOptions(
        encryption=choice(IkeEncryption, "propoEncryAlgorithm"),
        authentication=choice(IkeAuthentication, "propoAuthenAlgorithm"),
        exchange_mode=choice(ExchangeMode, "exchangeMode"),
        local_identity=choice(Identity, "localIdentity"),
        remote_identity=choice(Identity, "remoteIdentity"),
        local_address=read.text("localAddress", "", block, prefix),
        remote_address=read.text("remoteAddress", "", block, prefix),
        local_fqdn=read.text("localFqdnName", "", block, prefix),
        remote_fqdn=read.text("remoteFqdnName", "", block, prefix),
        dh_group=choice(DhGroup, "dhGroupName"),
        sa_lifetime_seconds=read.number("ikeSaLifetimeSeconds", None, block, prefix),
        version=choice(IkeVersion, "ikeVersion", "IKEV1"),
    )


def _ipsec(read: _Reader, block: Mapping[str, Any], prefix: str) -> IpsecOptions:
    return IpsecOptions(
        encryption=read.choice(IpsecEncryption, "encryptAlgorithm", block, prefix),
        integrity=read.choice(IpsecIntegrity, "integrityAlgorith", block, prefix),
        pfs_group=read.choice(PfsGroup, "pfsDhGroup", block, prefix),
        sa_lifetime_seconds=read.number("ipsecSaLifetimeSeconds", None, block, prefix),
        sa_lifetime_traffic=read.number("ipsecSaLifetimeTraffic", None, block, prefix),
        encap_mode=read.text("encapMode", "tunnel", block, prefix),
        security_proto=read.text("securityProto", "esp", block, prefix),
    )


def _object(read: _Reader, key: str) -> Mapping[str, Any] | None:
    raw = read.item.get(key)
    if raw is not None and not isinstance(raw, Mapping):
        raise read.fail(key, "must be an object")
    return raw


def _health_check(read: _Reader) -> HealthCheck:
    raw = _object(read, "healthCheckConfig")
    config = None
    if raw is not None:
        prefix = "healthCheckConfig."
        config = ProbeConfig(
            probe_type=read.text("probeType", "NQA", raw, prefix),
            probe_interval=read.number("probeInterval", 5000, raw, prefix),
            probe_threshold=read.number("probeThreshold", 3, raw, prefix),
            probe_timeout=read.number("probeTimeout", 5000, raw, prefix),
        )
    return HealthCheck(
        enabled=read.flag("enableHealthCheck"),
        local_ip=read.text("healthCheckLocalIp"),
        remote_ip=read.text("healthCheckRemoteIp"),
        status=read.text("healthCheckStatus", "AVAILABLE").upper(),
        config=config,
    )


def _bgp(read: _Reader) -> BgpConfig | None:
    raw = _object(read, "bgpConfig")
    if raw is None:
        return None
    prefix = "bgpConfig."
    return BgpConfig(
        tunnel_cidr=read.cidr(prefix + "tunnelCidr", read.text("tunnelCidr", "", raw, prefix)),
        local_ip=read.text("localBgpIp", "", raw, prefix),
        remote_ip=read.text("remoteBgpIp", "", raw, prefix),
        local_asn=read.text("localBgpAsn", "", raw, prefix),
        remote_asn=read.text("remoteBgpAsn", "", raw, prefix),
    )


def _tags(read: _Reader) -> tuple[tuple[str, str], ...]:
    raw = read.item.get("tagSet", [])
    if not isinstance(raw, list):
        raise read.fail("tagSet", "must be a list of {key, value} objects")
    tags = []
    for index, one in enumerate(raw):
        if not isinstance(one, Mapping) or set(one) != {"key", "value"}:
            raise read.fail(f"tagSet.{index}", "must be an object with key and value")
        tags.append((read.text("key", "", one, f"tagSet.{index}."), read.text("value", "", one, f"tagSet.{index}.")))
    return tuple(tags)


# --- writing ----------------------------------------------------------------------------------------------------


def describe_item(connection: Connection, vpc: Vpc, gateway: VpnGateway) -> dict[str, Any]:
    """The connection as API 2.0's ``DescribeVpnConn`` answers it (pre-shared key included, as the service does)."""
    look = connection.presentation
    number: Callable[[int], int | str] = str if look.numbers_as_text else int
    cgw = connection.customer_gateway
    ike, ipsec = connection.ike, connection.ipsec
    ike_block: dict[str, Any] = {
        "propoEncryAlgorithm": seed_text(ike.encryption),
        "propoAuthenAlgorithm": look.ike_sha
        if ike.authentication is IkeAuthentication.SHA
        else seed_text(ike.authentication),
        "exchangeMode": seed_text(ike.exchange_mode),
        "localIdentity": seed_text(ike.local_identity),
        "remoteIdentity": seed_text(ike.remote_identity),
        "localAddress": ike.local_address,
        "remoteAddress": ike.remote_address,
        "localFqdnName": ike.local_fqdn,
        "remoteFqdnName": ike.remote_fqdn,
        "dhGroupName": seed_text(ike.dh_group),
        "ikeSaLifetimeSeconds": number(ike.sa_lifetime_seconds),
    }
    ipsec_block: dict[str, Any] = {
        "encryptAlgorithm": seed_text(ipsec.encryption),
        "integrityAlgorith": look.ipsec_sha if ipsec.integrity is IpsecIntegrity.SHA1 else seed_text(ipsec.integrity),
        "encapMode": ipsec.encap_mode,
        "securityProto": ipsec.security_proto,
        "pfsDhGroup": seed_text(ipsec.pfs_group),
        "ipsecSaLifetimeSeconds": number(ipsec.sa_lifetime_seconds),
        "ipsecSaLifetimeTraffic": number(ipsec.sa_lifetime_traffic),
    }
    return {
        "vpcId": vpc.number,
        "unVpcId": vpc.id,
        "vpcName": vpc.name,
        "vpnGwId": gateway.number,
        "unVpnGwId": gateway.id,
        "vpnGwName": gateway.name,
        "vpnConnId": connection.number,
        "unVpnConnId": connection.id,
        "vpnConnName": connection.name,
        "userGwId": cgw.number,
        "unUserGwId": cgw.id,
        "userGwName": cgw.name,
        "vpnGwAddress": gateway.address,
        "userGwAddress": cgw.address,
        "preSharedKey": connection.pre_shared_key,
        "sourceCidr": connection.local_cidrs(),
        "destinationCidr": connection.remote_cidrs(),
        "vpcConnStatus": number(int(connection.status)),
        "netStatus": connection.net_status,
        "createTime": connection.created,
        "vpnProto": connection.vpn_proto,
        look.ike_key: [ike_block] if look.blocks_as_lists else ike_block,
        look.ipsec_key: [ipsec_block] if look.blocks_as_lists else ipsec_block,
    }


def world_item(connection: Connection, vpc: Vpc, gateway: VpnGateway) -> dict[str, Any]:
    """The world file's item: :func:`describe_item` plus the API 3.0 keys whose values differ from the defaults
    (``spdAcl`` when the SPD is not the cross product ``sourceCidr`` x ``destinationCidr``)."""
    item = describe_item(connection, vpc, gateway)
    ike_block = item[connection.presentation.ike_key]
    (ike_block[0] if isinstance(ike_block, list) else ike_block).update(
        {"ikeVersion": connection.ike.version.value} if connection.ike.version is not IkeVersion.IKEV1 else {}
    )
    remotes = tuple(connection.remote_cidrs())
    if any(rule_remotes != remotes for _, rule_remotes in connection.spd):
        item["spdAcl"] = [{local: list(rule_remotes)} for local, rule_remotes in connection.spd]
    check, dpd = connection.health_check, connection.dpd
    extras: dict[str, Any] = {
        "routeType": connection.route_type.value,
        "encryptProto": connection.encrypt_proto,
        "negotiationType": connection.negotiation.value,
        "dpdEnable": int(dpd.enabled),
        "dpdTimeout": dpd.timeout,
        "dpdAction": dpd.action.value,
        "enableHealthCheck": check.enabled,
        "healthCheckLocalIp": check.local_ip,
        "healthCheckRemoteIp": check.remote_ip,
        "healthCheckStatus": check.status,
        "tagSet": [{"key": key, "value": value} for key, value in connection.tags],
    }
    defaults = {
        "routeType": "STATIC", "encryptProto": "IKE", "negotiationType": "active", "dpdEnable": 0,
        "dpdTimeout": 30, "dpdAction": "clear", "enableHealthCheck": False, "healthCheckLocalIp": "",
        "healthCheckRemoteIp": "", "healthCheckStatus": "AVAILABLE", "tagSet": [],
    }  # fmt: skip
    item.update({key: value for key, value in extras.items() if value != defaults[key]})
    if check.config is not None:
        config = check.config
        item["healthCheckConfig"] = {
            "probeType": config.probe_type,
            "probeInterval": config.probe_interval,
            "probeThreshold": config.probe_threshold,
            "probeTimeout": config.probe_timeout,
        }
    if connection.bgp is not None:
        bgp = connection.bgp
        item["bgpConfig"] = {
            "tunnelCidr": bgp.tunnel_cidr,
            "localBgpIp": bgp.local_ip,
            "remoteBgpIp": bgp.remote_ip,
            "localBgpAsn": bgp.local_asn,
            "remoteBgpAsn": bgp.remote_asn,
        }
    return item
