"""The API 2.0 parameters of vpnbot's actions, as flat ``name -> str`` maps ready to sign. Pure, no I/O.

``ModifyVpnConnEx`` is encoded as decided in reference/tencent-cloud.md, section 4: lists indexed
(``userGwCidrBlock.0``), each ``spdAcl.N`` a compact JSON object ``{"<vpc cidr>":["<idc cidr>",...]}``, IKE and
IPsec fields un-indexed (``IKESet.dhGroupName``), a touched block sent whole, and the IPsec encryption algorithm as
``IPsecSet.encryptAlgorithm`` (the seed's ``IKESet.encryptAlgorithm`` is an alias resolved in ``bot.vpn.params``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from bot.vpn.connection import VpnConnection, VpnSettings
from bot.vpn.edit import PSK, Proposal
from bot.vpn.params import IKE_PARAMS, IPSEC_PARAMS, CidrSet, Param, SpdPolicy, format_value

__all__ = ["DESCRIBE_LIMIT_MAX", "SECRET_PARAMS", "describe_params", "modify_params", "redacted", "task_params"]

DESCRIBE_LIMIT_MAX = 50
# Parameters whose values are never logged: the key itself, the temporary-credential token, the signature.
SECRET_PARAMS = frozenset({PSK, "Token", "Signature"})
REDACTED = "***"


def modify_params(connection: VpnConnection, proposal: Proposal) -> dict[str, str]:
    """The ``ModifyVpnConnEx`` parameters (common parameters excluded) that apply ``proposal`` to ``connection``.

    Always the three ``un*`` ids and exactly one of ``userGwCidrBlock.N`` / ``spdAcl.N``; then only what changes:
    ``vpnConnName``, ``preSharedKey``, and the whole IKE or IPsec block when any of its fields changes. Raises
    ValueError (naming the parameter) when the peer networks to send would be empty.
    """
    current = connection.settings
    changed = set(proposal.changed(current))
    params = {"vpcId": connection.vpc_id, "vpnGwId": connection.vpn_gw_id, "vpnConnId": connection.vpn_conn_id}
    if "vpnConnName" in changed:
        params["vpnConnName"] = str(proposal.value("vpnConnName"))
    if PSK in changed and proposal.pre_shared_key is not None:
        params[PSK] = proposal.pre_shared_key.get_secret_value()
    params.update(_peer_networks(current, proposal.settings, changed))
    for block in (IKE_PARAMS, IPSEC_PARAMS):
        if any(param.name in changed for param in block):
            params.update(_whole_block(proposal.settings, block))
    return params


def _peer_networks(current: VpnSettings, proposed: VpnSettings, changed: set[str]) -> dict[str, str]:
    """The changed one of ``spdAcl`` / ``userGwCidrBlock``, or else the current ``spdAcl``.

    The API requires one of the two on every call, and ``bot.vpn.edit.propose`` never lets both change. When the
    edit leaves both alone the current ``spdAcl`` is sent because it states both sides exactly (VPC-side x IDC-side
    CIDRs), where ``userGwCidrBlock`` states only the IDC side and leaves the VPC side to the service.
    The current ``userGwCidrBlock`` is the fallback for a connection that reports no VPC-side CIDRs.
    """
    if "spdAcl" in changed:
        return _spd(proposed.spd())
    if "userGwCidrBlock" in changed:
        return _cidrs(proposed.cidrs())
    if current.spd():
        return _spd(current.spd())
    return _cidrs(current.cidrs())


def _spd(policy: SpdPolicy) -> dict[str, str]:
    if not policy:
        raise ValueError("spdAcl would be empty: give at least one VPC-side CIDR and its IDC-side CIDRs")
    objects = policy.as_json_objects()
    return {f"spdAcl.{i}": json.dumps(obj, separators=(",", ":")) for i, obj in enumerate(objects)}


def _cidrs(cidrs: CidrSet) -> dict[str, str]:
    if not cidrs:
        raise ValueError("userGwCidrBlock would be empty: give at least one IDC-side CIDR")
    return {f"userGwCidrBlock.{i}": str(cidr) for i, cidr in enumerate(sorted(cidrs))}


def _whole_block(settings: VpnSettings, block: tuple[Param, ...]) -> dict[str, str]:
    """Every field of the block with a value, so the service never resets an untouched field to its default
    (API 3.0's IKE version is not a field of API 2.0's)."""
    values = {param.name: format_value(settings[param.name]) for param in block if not param.api3_only}
    return {name: text for name, text in values.items() if text}


def describe_params(
    *,
    vpn_conn_id: str | None = None,
    vpc_id: str | None = None,
    vpn_gw_id: str | None = None,
    name: str | None = None,
    offset: int = 0,
    limit: int = DESCRIBE_LIMIT_MAX,
) -> dict[str, str]:
    """``DescribeVpnConn`` filters (``name`` matches fuzzily) and one page; ValueError for a page out of range."""
    if offset < 0 or not 1 <= limit <= DESCRIBE_LIMIT_MAX:
        raise ValueError(f"need offset >= 0 and 1 <= limit <= {DESCRIBE_LIMIT_MAX}")
    filters = {"vpnConnId": vpn_conn_id, "vpcId": vpc_id, "vpnGwId": vpn_gw_id, "vpnConnName": name}
    params = {key: value for key, value in filters.items() if value is not None}
    params.update(offset=str(offset), limit=str(limit))
    return params


def task_params(task_id: int) -> dict[str, str]:
    """``DescribeVpcTaskResult`` parameters."""
    return {"taskId": str(task_id)}


def redacted(params: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``params`` with every secret value (key, token, signature) replaced by ``***``, for debug logs."""
    return {name: REDACTED if name in SECRET_PARAMS else value for name, value in params.items()}
