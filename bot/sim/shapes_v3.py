"""API 3.0's shapes, as ``tencentcloud-sdk-python-vpc`` models them: a connection rendered as a ``VpnConnection``
(every field of the model, no other), ``ModifyVpnConnectionAttribute``'s JSON read into a typed edit, and the
world's errors in API 3.0's codes.

A ``VpnConnection`` holds ``SecurityPolicyDatabaseSet`` one rule per SPD rule, order kept (empty for a
route-based tunnel), enums in the section-8 spelling, ``DpdTimeout`` as a string, ``HealthCheckStatus`` only when
a health check is enabled, ``BgpConfig`` and ``HealthCheckConfig`` null when the tunnel has none, and both
``IntegrityAlgorith`` and its alias ``IntegrityAlgorithm``.

Reading an edit: a parameter the action does not take is ``UnknownParameter``; a value of the wrong JSON type
``InvalidParameter``; an enum outside its section-8 set (exact spelling) ``InvalidParameterValue``; JSON null
reads as absent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final

from bot.sim.model import (
    BgpEdit,
    Connection,
    ConnectionEdit,
    Field,
    IkeEdit,
    IpsecEdit,
    ProbeEdit,
    Problem,
    Reason,
    WorldError,
)
from bot.sim.rules import shown
from bot.sim.values import (
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
    v3_value,
)

__all__ = ["CONN_ID", "NAMES", "V3Error", "parse_modify", "vpn_connection", "world_error"]

CONN_ID: Final = re.compile(r"vpnx-[0-9a-z]{8}")
IKE_SPEC: Final = "IKEOptionsSpecification"
IPSEC_SPEC: Final = "IPSECOptionsSpecification"


class V3Error(Exception):
    """An API 3.0 error: ``{"Error": {"Code": code, "Message": message}}`` inside ``Response``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# --- rendering --------------------------------------------------------------------------------------------------


def vpn_connection(c: Connection) -> dict[str, Any]:
    """One ``VpnConnectionSet`` item."""
    ike, ipsec, check, dpd = c.ike, c.ipsec, c.health_check, c.dpd
    item: dict[str, Any] = {
        "VpnConnectionId": c.id,
        "VpnConnectionName": c.name,
        "VpcId": c.vpc_id,
        "VpnGatewayId": c.gateway_id,
        "CustomerGatewayId": c.customer_gateway.id,
        "PreShareKey": c.pre_shared_key,
        "VpnProto": c.vpn_proto.upper(),
        "EncryptProto": c.encrypt_proto,
        "RouteType": c.route_type.value,
        "CreatedTime": c.created,
        "State": c.status.v3_state,
        "NetStatus": c.net_status.upper(),
        "SecurityPolicyDatabaseSet": [
            {"LocalCidrBlock": local, "RemoteCidrBlock": list(remotes)} for local, remotes in c.spd
        ],
        IKE_SPEC: {
            "PropoEncryAlgorithm": ike.encryption.value,
            "PropoAuthenAlgorithm": ike.authentication.value,
            "ExchangeMode": ike.exchange_mode.value,
            "LocalIdentity": ike.local_identity.value,
            "RemoteIdentity": ike.remote_identity.value,
            "LocalAddress": ike.local_address,
            "RemoteAddress": ike.remote_address,
            "LocalFqdnName": ike.local_fqdn,
            "RemoteFqdnName": ike.remote_fqdn,
            "DhGroupName": ike.dh_group.value,
            "IKESaLifetimeSeconds": ike.sa_lifetime_seconds,
            "IKEVersion": ike.version.value,
        },
        IPSEC_SPEC: {
            "EncryptAlgorithm": ipsec.encryption.value,
            "IntegrityAlgorith": ipsec.integrity.value,
            "IPSECSaLifetimeSeconds": ipsec.sa_lifetime_seconds,
            "PfsDhGroup": ipsec.pfs_group.value,
            "IPSECSaLifetimeTraffic": ipsec.sa_lifetime_traffic,
            "IntegrityAlgorithm": ipsec.integrity.value,
        },
        "EnableHealthCheck": check.enabled,
        "HealthCheckLocalIp": check.local_ip,
        "HealthCheckRemoteIp": check.remote_ip,
    }
    if check.enabled:
        item["HealthCheckStatus"] = check.status
    item.update(
        {
            "DpdEnable": int(dpd.enabled),
            "DpdTimeout": str(dpd.timeout),
            "DpdAction": dpd.action.value,
            "TagSet": [{"Key": key, "Value": value} for key, value in c.tags],
            "NegotiationType": c.negotiation.value,
            "BgpConfig": None
            if c.bgp is None
            else {
                "TunnelCidr": c.bgp.tunnel_cidr,
                "LocalBgpIp": c.bgp.local_ip,
                "RemoteBgpIp": c.bgp.remote_ip,
                "LocalBgpAsn": c.bgp.local_asn,
                "RemoteBgpAsn": c.bgp.remote_asn,
            },
            "HealthCheckConfig": None
            if check.config is None
            else {
                "ProbeType": check.config.probe_type,
                "ProbeInterval": check.config.probe_interval,
                "ProbeThreshold": check.config.probe_threshold,
                "ProbeTimeout": check.config.probe_timeout,
            },
        }
    )
    return item


# --- reading an edit --------------------------------------------------------------------------------------------

_IKE: Final[Mapping[str, tuple[str, type[Any]]]] = {
    "PropoEncryAlgorithm": ("encryption", IkeEncryption),
    "PropoAuthenAlgorithm": ("authentication", IkeAuthentication),
    "ExchangeMode": ("exchange_mode", ExchangeMode),
    "LocalIdentity": ("local_identity", Identity),
    "RemoteIdentity": ("remote_identity", Identity),
    "LocalAddress": ("local_address", str),
    "RemoteAddress": ("remote_address", str),
    "LocalFqdnName": ("local_fqdn", str),
    "RemoteFqdnName": ("remote_fqdn", str),
    "DhGroupName": ("dh_group", DhGroup),
    "IKESaLifetimeSeconds": ("sa_lifetime_seconds", int),
    "IKEVersion": ("version", IkeVersion),
}
_IPSEC: Final[Mapping[str, tuple[str, type[Any]]]] = {
    "EncryptAlgorithm": ("encryption", IpsecEncryption),
    "IntegrityAlgorith": ("integrity", IpsecIntegrity),
    "PfsDhGroup": ("pfs_group", PfsGroup),
    "IPSECSaLifetimeSeconds": ("sa_lifetime_seconds", int),
    "IPSECSaLifetimeTraffic": ("sa_lifetime_traffic", int),
}
_ALIASES: Final = {"IntegrityAlgorithm": "IntegrityAlgorith"}  # the SDK's correctly spelled alias
_PROBE: Final[Mapping[str, tuple[str, type[Any]]]] = {
    "ProbeType": ("probe_type", str),
    "ProbeInterval": ("probe_interval", int),
    "ProbeThreshold": ("probe_threshold", int),
    "ProbeTimeout": ("probe_timeout", int),
}
_BGP: Final[Mapping[str, tuple[str, type[Any]]]] = {
    "TunnelCidr": ("tunnel_cidr", str),
    "LocalBgpIp": ("local_ip", str),
    "RemoteBgpIp": ("remote_ip", str),
}
_TOP: Final[Mapping[str, tuple[str, type[Any]]]] = {
    "VpnConnectionName": ("name", str),
    "PreShareKey": ("pre_shared_key", str),
    "EnableHealthCheck": ("health_check", bool),
    "HealthCheckLocalIp": ("health_check_local_ip", str),
    "HealthCheckRemoteIp": ("health_check_remote_ip", str),
    "NegotiationType": ("negotiation", NegotiationType),
    "DpdAction": ("dpd_action", DpdAction),
    "CustomerGatewayId": ("customer_gateway_id", str),
}
MODIFY_PARAMS: Final = frozenset(
    {"VpnConnectionId", *_TOP, "SecurityPolicyDatabases", IKE_SPEC, IPSEC_SPEC, "DpdEnable", "DpdTimeout"}
    | {"HealthCheckConfig", "BgpConfig"}
)

NAMES: Final[Mapping[Field, str]] = {
    Field.VPC: "VpcId",
    Field.GATEWAY: "VpnGatewayId",
    Field.CONNECTION: "VpnConnectionId",
    Field.TASK: "TaskId",
    Field.SPD: "SecurityPolicyDatabases",
    Field.REMOTES: "SecurityPolicyDatabases",
    Field.DPD_ENABLE: "DpdEnable",
    Field.DPD_TIMEOUT: "DpdTimeout",
    Field.NAME: "VpnConnectionName",
    Field.PRE_SHARED_KEY: "PreShareKey",
    Field.HEALTH_CHECK: "EnableHealthCheck",
    Field.HEALTH_CHECK_LOCAL_IP: "HealthCheckLocalIp",
    Field.HEALTH_CHECK_REMOTE_IP: "HealthCheckRemoteIp",
    Field.NEGOTIATION: "NegotiationType",
    Field.DPD_ACTION: "DpdAction",
    Field.CUSTOMER_GATEWAY: "CustomerGatewayId",
    **{Field(f"ike.{attr}"): f"{IKE_SPEC}.{name}" for name, (attr, _) in _IKE.items()},
    **{Field(f"ipsec.{attr}"): f"{IPSEC_SPEC}.{name}" for name, (attr, _) in _IPSEC.items()},
    **{Field(f"health_check.{attr}"): f"HealthCheckConfig.{name}" for name, (attr, _) in _PROBE.items()},
    **{Field(f"bgp.{attr}"): f"BgpConfig.{name}" for name, (attr, _) in _BGP.items()},
}


def _unknown(name: str) -> V3Error:
    return V3Error("UnknownParameter", f"The parameter `{shown(name)}` is not recognized.")


def _typed(where: str, kind: type[Any], raw: Any) -> Any:
    if kind is bool:
        if not isinstance(raw, bool):
            raise V3Error("InvalidParameter", f"{where} must be a boolean.")
        return raw
    if kind is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise V3Error("InvalidParameter", f"{where} must be an integer.")
        return raw
    if not isinstance(raw, str):
        raise V3Error("InvalidParameter", f"{where} must be a string.")
    if kind is str:
        return raw
    assert issubclass(kind, StrEnum)
    value = v3_value(kind, raw)
    if value is None:
        choices = ", ".join(member.value for member in kind)
        raise V3Error("InvalidParameterValue", f"{where}: {shown(raw)!r} is not one of {choices}.")
    return value


def _object(
    name: str, raw: Any, fields: Mapping[str, tuple[str, type[Any]]], aliases: Mapping[str, str] | None = None
) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise V3Error("InvalidParameter", f"{name} must be an object.")
    values: dict[str, Any] = {}
    for given, value in raw.items():
        if value is None:
            continue
        key = (aliases or {}).get(given, given)
        spec = fields.get(key)
        if spec is None:
            raise _unknown(f"{name}.{given}")
        attr, kind = spec
        parsed = _typed(f"{name}.{given}", kind, value)
        if attr in values and values[attr] != parsed:
            raise V3Error("InvalidParameter", f"{name}.{key} and {name}.{given} disagree.")
        values[attr] = parsed
    return values


def _spd(raw: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    name = "SecurityPolicyDatabases"
    if not isinstance(raw, list):
        raise V3Error("InvalidParameter", f"{name} must be a list of {{LocalCidrBlock, RemoteCidrBlock}} objects.")
    rules = []
    for index, rule in enumerate(raw):
        where = f"{name}.{index}"
        if not isinstance(rule, dict):
            raise V3Error("InvalidParameter", f"{where} must be an object with LocalCidrBlock and RemoteCidrBlock.")
        extra = sorted(set(rule) - {"LocalCidrBlock", "RemoteCidrBlock"})
        if extra:
            raise _unknown(f"{where}.{extra[0]}")
        local, remotes = rule.get("LocalCidrBlock"), rule.get("RemoteCidrBlock")
        if not isinstance(local, str):
            raise V3Error("InvalidParameter", f"{where}.LocalCidrBlock must be a string such as 10.0.1.0/24.")
        if not isinstance(remotes, list) or not all(isinstance(r, str) for r in remotes):
            raise V3Error("InvalidParameter", f"{where}.RemoteCidrBlock must be a list of CIDR strings.")
        rules.append((local, tuple(remotes)))
    return tuple(rules)


def parse_modify(params: Mapping[str, Any]) -> ConnectionEdit:
    """``ModifyVpnConnectionAttribute``'s parameters (``VpnConnectionId`` excluded) as a typed edit."""
    for name in sorted(params):
        if name not in MODIFY_PARAMS:
            raise _unknown(name)
    given = {name: value for name, value in params.items() if value is not None and name != "VpnConnectionId"}
    top: dict[str, Any] = {}
    for name, (attr, kind) in _TOP.items():
        if name in given:
            top[attr] = _typed(name, kind, given[name])
    if "DpdEnable" in given:
        enable = _typed("DpdEnable", int, given["DpdEnable"])
        if enable not in (0, 1):
            raise V3Error("InvalidParameterValue", f"DpdEnable: {enable} is not one of 0, 1.")
        top["dpd_enable"] = bool(enable)
    if "DpdTimeout" in given:
        text = _typed("DpdTimeout", str, given["DpdTimeout"])
        if not re.fullmatch("[0-9]{1,9}", text):
            raise V3Error("InvalidParameterValue.Malformed", f"DpdTimeout: {shown(text)!r} is not a number of seconds.")
        top["dpd_timeout"] = int(text)
    return ConnectionEdit(
        **top,
        spd=_spd(given["SecurityPolicyDatabases"]) if "SecurityPolicyDatabases" in given else None,
        ike=IkeEdit(**_object(IKE_SPEC, given[IKE_SPEC], _IKE)) if IKE_SPEC in given else IkeEdit(),
        ipsec=IpsecEdit(**_object(IPSEC_SPEC, given[IPSEC_SPEC], _IPSEC, _ALIASES))
        if IPSEC_SPEC in given
        else IpsecEdit(),
        probe=ProbeEdit(**_object("HealthCheckConfig", given["HealthCheckConfig"], _PROBE))
        if "HealthCheckConfig" in given
        else None,
        bgp=BgpEdit(**_object("BgpConfig", given["BgpConfig"], _BGP)) if "BgpConfig" in given else None,
    )


# --- the world's errors -----------------------------------------------------------------------------------------

_CODES: Final[Mapping[Reason, str]] = {
    Reason.INVALID_VALUE: "InvalidParameterValue",
    Reason.MALFORMED: "InvalidParameterValue.Malformed",
    Reason.OUT_OF_RANGE: "InvalidParameterValue.LimitExceeded",
    Reason.CIDR_CONFLICT: "InvalidParameterValue.VpnConnCidrConflict",
    Reason.SPD_OVERLAP: "UnsupportedOperation.VpnConnSPDOverlap",
    Reason.HEALTH_CHECK_IP_CONFLICT: "InvalidParameterValue.VpnConnHealthCheckIpConflict",
    Reason.HEALTH_CHECK_ON_SPD: "UnsupportedOperation.VpnConnCidrNotSupportedHealthCheck",
    Reason.NAME_TAKEN: "InvalidParameterValue.Duplicate",
    Reason.NOT_FOUND: "ResourceNotFound",
    Reason.BUSY: "UnsupportedOperation.VpnConnInvalidState",
    Reason.INVALID_STATE: "UnsupportedOperation.InvalidState",
    Reason.GATEWAY_VERSION: "UnsupportedOperation",
}


def _text(problem: Problem) -> str:
    detail = problem.detail
    if problem.related is not None:
        detail = detail.replace("<related>", NAMES.get(problem.related, str(problem.related)))
    if problem.value is not None:
        detail = detail.replace("<value>", problem.value.value)
    return f"{NAMES.get(problem.field, str(problem.field))}: {detail}"


def world_error(error: WorldError) -> V3Error:
    """API 3.0 answers one error: the first problem's, in its code, naming the API 3.0 parameter."""
    problem = error.problems[0]
    message = problem.detail if problem.reason in (Reason.NOT_FOUND, Reason.BUSY) else _text(problem)
    return V3Error(_CODES[problem.reason], message)
