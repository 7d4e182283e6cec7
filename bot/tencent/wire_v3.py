"""The seed's parameters to and from Tencent Cloud API 3.0 (VPC, version 2017-03-12). Pure, no I/O.

The domain (``bot.vpn``) speaks the seed's names and lower-case enums; API 3.0 speaks ``VpnConnectionName``,
``PreShareKey``, ``SecurityPolicyDatabases``, ``IKEOptionsSpecification``, ``IPSECOptionsSpecification`` and
upper-case enums. This module is the only place that knows both:

* :func:`item_to_v2` turns a ``DescribeVpnConnections`` ``VpnConnectionSet`` item into the shape of an API 2.0
  ``DescribeVpnConn`` item, so that ``bot.vpn.connection.connection_from_describe`` normalises it unchanged (and
  drops its pre-shared key at the edge, as for API 2.0);
* :func:`modify_payload` turns a :class:`~bot.vpn.edit.Proposal` into ``ModifyVpnConnectionAttribute``'s JSON;
* :func:`describe_payload` and :func:`task_payload` build the two reads.

Decisions (reference/tencent-cloud.md, section 8, which is API 3.0 as Tencent's current SDK models it):

* Enums are vpnbot's lower-case values upper-cased (``aes-cbc-128`` <-> ``AES-CBC-128``, ``group20`` <-> ``GROUP20``),
  with one exception: the seed's ``sha`` is ``SHA`` for IKE's ``PropoAuthenAlgorithm`` but ``SHA1`` for IPsec's
  ``IntegrityAlgorith`` (the values each field documents); reading accepts ``SHA`` and ``SHA1`` in both, and the
  documentation's typo ``AES-CBS-192``. Every value of API 3.0's sets is read and may be chosen (SM4, the GCM
  ciphers, SHA-256/384/512, SM3, DH groups 15-21, IKEv2: ``bot.vpn.params``, ``ValueSets.API3``). A value vpnbot
  does not know is read as the cloud spells it, shown as unknown and sent back exactly so when its block is sent;
  a missing or null enum (``IntegrityAlgorith`` may come back null) reads as "not reported" and is left out.
* ``State`` becomes ``vpcConnStatus``: ``AVAILABLE`` 6 (normal), ``PENDING`` 2 (modifying: API 3.0 uses it while a
  connection is being produced or changed), ``DELETING`` 4; no ``State`` at all is 6, as a missing API 2.0
  ``vpcConnStatus`` is; any other value is 2, so that nothing treats a connection in a state vpnbot does not know
  as settled.
* The SPD is pairs, one to one: ``SecurityPolicyDatabaseSet`` is the seed's ``spdAcl`` (each VPC-side CIDR with
  its own IDC-side list), never flattened into all locals x all remotes (which would widen the policy).
  ``userGwCidrBlock`` reads as the union of the IDC-side lists; a change of it (API 3.0 has no such parameter) is
  sent as every current VPC-side CIDR with the new list, which ``bot.vpn.edit.propose`` allows only when every
  VPC-side CIDR already reaches the same IDC-side list (so nothing widens). ``RouteType`` is kept as the service
  spells it: a route-based tunnel (``StaticRoute``, ``Bgp``) has no SPD to edit.
* An IKE or IPsec change sends its whole block (so the service never resets an untouched field), with empty
  identity fields and unreported enums left out; nothing else is sent unless it changes: unlike
  ``ModifyVpnConnEx``, API 3.0 needs no peer networks on every call.
* The gateways' public addresses and the names of the VPC, gateway and customer gateway are not in a
  ``VpnConnectionSet`` item (they belong to other resources): those fields stay empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.vpn.connection import (
    CIDRS_MAX,
    TEXT_MAX,
    CloudDataError,
    SecretFingerprints,
    VpnConnection,
    VpnSettings,
    connection_from_describe,
    readable_id,
)
from bot.vpn.edit import PSK, Proposal
from bot.vpn.params import IKE_PARAMS, IPSEC_PARAMS, PARAMS_BY_NAME, Cidr, Kind, Param, SpdPolicy, ValueSets

__all__ = [
    "API_VERSION",
    "DESCRIBE_LIMIT_MAX",
    "IKE_FIELDS",
    "IPSEC_FIELDS",
    "SECRET_FIELDS",
    "STATE_TO_STATUS",
    "describe_payload",
    "from_v3_enum",
    "item_to_v2",
    "modify_payload",
    "read_connection",
    "task_payload",
    "to_v3_enum",
]

API_VERSION = "2017-03-12"
DESCRIBE_LIMIT_MAX = 100
# Fields whose values are never logged.
SECRET_FIELDS = frozenset({"PreShareKey"})

IKE_BLOCK = "IKEOptionsSpecification"
IPSEC_BLOCK = "IPSECOptionsSpecification"
SPD_SET = "SecurityPolicyDatabaseSet"

# The seed's name -> the API 3.0 field inside its block.
IKE_FIELDS: Mapping[str, str] = {
    "IKESet.propoEncryAlgorithm": "PropoEncryAlgorithm",
    "IKESet.propoAuthenAlgorithm": "PropoAuthenAlgorithm",
    "IKESet.exchangeMode": "ExchangeMode",
    "IKESet.localIdentity": "LocalIdentity",
    "IKESet.remoteIdentity": "RemoteIdentity",
    "IKESet.localAddress": "LocalAddress",
    "IKESet.remoteAddress": "RemoteAddress",
    "IKESet.localFqdnName": "LocalFqdnName",
    "IKESet.remoteFqdnName": "RemoteFqdnName",
    "IKESet.dhGroupName": "DhGroupName",
    "IKESet.ikeSaLifetimeSeconds": "IKESaLifetimeSeconds",
    "IKESet.ikeVersion": "IKEVersion",
}
IPSEC_FIELDS: Mapping[str, str] = {
    "IPsecSet.encryptAlgorithm": "EncryptAlgorithm",
    "IPsecSet.integrityAlgorith": "IntegrityAlgorith",
    "IPsecSet.ipsecSaLifetimeSeconds": "IPSECSaLifetimeSeconds",
    "IPsecSet.ipsecSaLifetimeTraffic": "IPSECSaLifetimeTraffic",
    "IPsecSet.pfsDhGroup": "PfsDhGroup",
}
_BLOCKS: tuple[tuple[str, tuple[Param, ...], Mapping[str, str]], ...] = (
    (IKE_BLOCK, IKE_PARAMS, IKE_FIELDS),
    (IPSEC_BLOCK, IPSEC_PARAMS, IPSEC_FIELDS),
)

# Where a seed value is not simply upper-cased on the way out.
_TO_V3: Mapping[tuple[str, str], str] = {("IPsecSet.integrityAlgorith", "sha"): "SHA1"}
# API 3.0 values (upper-cased) meaning a seed value, beyond the seed value upper-cased.
_FROM_V3: Mapping[str, str] = {"SHA1": "sha", "SHA": "sha", "AES-CBS-192": "aes-cbc-192"}

STATE_TO_STATUS: Mapping[str, int] = {"AVAILABLE": 6, "PENDING": 2, "DELETING": 4}
_UNKNOWN_STATE_STATUS = 2
_NO_STATE_STATUS = 6


def to_v3_enum(name: str, value: str) -> str:
    """The API 3.0 value of vpnbot's enum ``value`` for the parameter ``name`` (``sha`` -> ``SHA`` or ``SHA1``, any
    other known value upper-cased); a value vpnbot does not know goes back as the cloud spelled it."""
    if value not in PARAMS_BY_NAME[name].all_choices:
        return value
    return _TO_V3.get((name, value), value.upper())


def from_v3_enum(name: str, field: str, raw: object) -> str:
    """vpnbot's value for API 3.0's ``raw`` in ``field`` (the parameter ``name``), case-insensitively: a known
    value in vpnbot's spelling, an unknown one as the cloud spells it, null as empty (not reported). CloudDataError
    naming ``field`` for anything that is not short text."""
    if raw is None:
        return ""
    if not isinstance(raw, str) or len(raw) > TEXT_MAX:
        raise _unusable(field, "not text")
    text = raw.strip()
    known = _FROM_V3.get(text.upper(), text.lower())
    return known if known in PARAMS_BY_NAME[name].all_choices else text


def _unusable(field: str, why: str) -> CloudDataError:
    reason = f"unusable {field} ({why})"
    return CloudDataError(f"DescribeVpnConnections returned an {reason}", reason)


def _text(item: Mapping[str, Any], field: str, where: str = "") -> str:
    """A text field: absent or null is empty; anything but text of at most ``TEXT_MAX`` characters is refused."""
    raw = item.get(field)
    if raw is None:
        return ""
    if not isinstance(raw, str) or len(raw) > TEXT_MAX:
        raise _unusable(f"{where}{field}", "not text")
    return raw


# --- reading ----------------------------------------------------------------------------------------------------


def item_to_v2(item: Mapping[str, Any]) -> dict[str, Any]:
    """A ``VpnConnectionSet`` item of ``DescribeVpnConnections`` in the shape of an API 2.0 ``DescribeVpnConn``
    item (see the module's docstring for the decisions). The pre-shared key is passed on as ``preSharedKey`` for
    ``connection_from_describe`` to fingerprint and drop. Raises CloudDataError naming the API 3.0 field that is
    missing, malformed or not expressible with the seed's parameters (fields it passes on as they are, such as
    ``VpnConnectionName`` and the lifetimes, ``connection_from_describe`` checks, under the seed's names).
    """
    for required in ("VpnConnectionId", "VpcId", "VpnGatewayId"):
        if not item.get(required):
            raise CloudDataError(f"DescribeVpnConnections returned no {required}", f"no {required}")
        if not isinstance(item[required], str) or readable_id(item[required]) is None:
            raise _unusable(required, "not an id")
    key = item.get("PreShareKey")
    if key is not None and not isinstance(key, str):
        raise _unusable("PreShareKey", "not text")
    rules = _spd_rules(item.get(SPD_SET))
    result: dict[str, Any] = {
        "unVpnConnId": item["VpnConnectionId"],
        "unVpcId": item["VpcId"],
        "unVpnGwId": item["VpnGatewayId"],
        "vpnConnName": item.get("VpnConnectionName", ""),
        "sourceCidr": sorted({local for rule in rules for local in rule}),
        "spdAcl": rules,
        "routeType": _text(item, "RouteType"),
        "vpcConnStatus": _status(item.get("State")),
        "netStatus": _text(item, "NetStatus").lower(),
        "createTime": _text(item, "CreatedTime"),
        "IKESet": _ike_set(_block(item, IKE_BLOCK)),
        "IPsecSet": _ipsec_set(_block(item, IPSEC_BLOCK)),
    }
    optional = {
        "unUserGwId": _text(item, "CustomerGatewayId"),
        "preSharedKey": key,
        "vpnProto": _text(item, "VpnProto").lower(),
        "healthCheckStatus": _text(item, "HealthCheckStatus").lower(),
    }
    result.update({key: value for key, value in optional.items() if value})
    return result


def read_connection(item: Mapping[str, Any], *, fingerprints: SecretFingerprints) -> VpnConnection:
    """A ``VpnConnectionSet`` item as vpnbot's connection, its key fingerprinted by ``fingerprints``;
    CloudDataError naming the field at fault."""
    return connection_from_describe(item_to_v2(item), ValueSets.API3, fingerprints=fingerprints)


def _status(state: object) -> int:
    if state is None or state == "":
        return _NO_STATE_STATUS
    if not isinstance(state, str) or len(state) > TEXT_MAX:
        raise _unusable("State", "not text")
    return STATE_TO_STATUS.get(state.strip().upper(), _UNKNOWN_STATE_STATUS)


def _block(item: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    block = item.get(name)
    if not isinstance(block, Mapping):
        raise CloudDataError(f"DescribeVpnConnections returned no {name}", f"no {name}")
    return block


def _ike_set(block: Mapping[str, Any]) -> dict[str, Any]:
    return _seed_block(block, IKE_BLOCK, IKE_PARAMS, IKE_FIELDS)


def _ipsec_set(block: Mapping[str, Any]) -> dict[str, Any]:
    if block.get("IntegrityAlgorith") is None and "IntegrityAlgorithm" in block:
        block = {**block, "IntegrityAlgorith": block["IntegrityAlgorithm"]}
    result = _seed_block(block, IPSEC_BLOCK, IPSEC_PARAMS, IPSEC_FIELDS)
    proto = _text(block, "SecurityProto", f"{IPSEC_BLOCK}.")
    if proto:
        result["securityProto"] = proto.lower()
    return result


def _seed_block(
    block: Mapping[str, Any], block_name: str, params: tuple[Param, ...], fields: Mapping[str, str]
) -> dict[str, Any]:
    """The API 2.0 block: seed field names, vpnbot's enum values (null or missing: empty, not reported); other
    absent fields stay absent (connection_from_describe reports a missing required one, and reads a missing
    address or FQDN as empty)."""
    result: dict[str, Any] = {}
    for param in params:
        field = fields[param.name]
        raw = block.get(field)
        if param.kind is Kind.CHOICE:
            result[param.field] = from_v3_enum(param.name, f"{block_name}.{field}", raw)
        elif raw is not None:
            result[param.field] = raw
    return result


def _spd_rules(raw: object) -> list[dict[str, list[str]]]:
    """``SecurityPolicyDatabaseSet`` as the seed's ``spdAcl`` objects, one per entry, in the cloud's order (the
    CIDRs themselves are checked by connection_from_describe)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _unusable(SPD_SET, "not a list")
    if len(raw) > CIDRS_MAX:
        raise _unusable(SPD_SET, f"more than {CIDRS_MAX} entries")
    rules: list[dict[str, list[str]]] = []
    for entry in raw:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("LocalCidrBlock"), str):
            raise _unusable(SPD_SET, "an entry without a LocalCidrBlock")
        remotes = entry.get("RemoteCidrBlock") or []
        if isinstance(remotes, str):
            remotes = [remotes]
        if not isinstance(remotes, list) or not all(isinstance(r, str) and len(r) <= TEXT_MAX for r in remotes):
            raise _unusable(SPD_SET, "a RemoteCidrBlock that is not a list of CIDRs")
        if len(remotes) > CIDRS_MAX:
            raise _unusable(SPD_SET, f"a RemoteCidrBlock of more than {CIDRS_MAX} entries")
        if len(entry["LocalCidrBlock"]) > TEXT_MAX:
            raise _unusable(SPD_SET, "a LocalCidrBlock that is not a CIDR")
        rules.append({entry["LocalCidrBlock"]: list(remotes)})
    return rules


# --- writing ----------------------------------------------------------------------------------------------------


def modify_payload(connection: VpnConnection, proposal: Proposal) -> dict[str, Any]:
    """``ModifyVpnConnectionAttribute``'s JSON object applying ``proposal`` to ``connection``.

    ``VpnConnectionId``, then only what changes: ``VpnConnectionName``, ``PreShareKey``,
    ``SecurityPolicyDatabases`` (from an ``spdAcl`` or a ``userGwCidrBlock`` change), the whole
    ``IKEOptionsSpecification`` or ``IPSECOptionsSpecification`` when any of its fields changes. Raises ValueError
    (naming the parameter) when the SPD to send would be empty, or when a ``userGwCidrBlock`` change meets a
    connection that reports no VPC-side CIDR to pair the new IDC-side CIDRs with.
    """
    current = connection.settings
    changed = set(proposal.changed(current))
    payload: dict[str, Any] = {"VpnConnectionId": connection.vpn_conn_id}
    if "vpnConnName" in changed:
        payload["VpnConnectionName"] = str(proposal.value("vpnConnName"))
    if PSK in changed and proposal.pre_shared_key is not None:
        payload["PreShareKey"] = proposal.pre_shared_key.get_secret_value()
    if "spdAcl" in changed:
        payload["SecurityPolicyDatabases"] = _spd_entries(proposal.settings.spd())
    elif "userGwCidrBlock" in changed:
        payload["SecurityPolicyDatabases"] = _cidr_entries(connection, proposal.settings)
    for block_name, params, fields in _BLOCKS:
        if any(param.name in changed for param in params):
            payload[block_name] = _whole_block(proposal.settings, params, fields)
    return payload


def _spd_entries(policy: SpdPolicy) -> list[dict[str, Any]]:
    if not policy:
        raise ValueError("spdAcl would be empty: give at least one VPC-side CIDR and its IDC-side CIDRs")
    return [_entry(local, remotes) for local, remotes in policy.rules]


def _cidr_entries(connection: VpnConnection, proposed: VpnSettings) -> list[dict[str, Any]]:
    """Every current VPC-side CIDR with the new IDC-side list (``propose`` allows a ``userGwCidrBlock`` change only
    where every VPC-side CIDR already shares one list, so this never widens the policy)."""
    remotes = proposed.cidrs()
    if not remotes:
        raise ValueError("userGwCidrBlock would be empty: give at least one IDC-side CIDR")
    current = connection.settings
    if not current.spd() or not current.spd_uniform:
        raise ValueError(
            "userGwCidrBlock cannot be sent through API 3.0 for this connection without changing its SPD's shape: "
            "set spdAcl instead"
        )
    return [_entry(local, remotes) for local in current.spd().local_cidrs()]


def _entry(local: Cidr, remotes: Iterable[Cidr]) -> dict[str, Any]:
    return {"LocalCidrBlock": str(local), "RemoteCidrBlock": [str(r) for r in sorted(remotes)]}


def _whole_block(settings: VpnSettings, params: tuple[Param, ...], fields: Mapping[str, str]) -> dict[str, Any]:
    """Every field of the block with a value: enums in API 3.0's spelling (unknown ones as read), numbers as
    numbers; empty identity fields (an address or FQDN the chosen identity type does not use) and unreported enums
    left out."""
    block: dict[str, Any] = {}
    for param in params:
        value = settings[param.name]
        if param.kind is Kind.CHOICE:
            if value != "":
                block[fields[param.name]] = to_v3_enum(param.name, str(value))
        elif param.kind is Kind.INTEGER:
            block[fields[param.name]] = int(str(value))
        elif value != "":
            block[fields[param.name]] = str(value)
    return block


def describe_payload(
    *,
    vpn_conn_id: str | None = None,
    vpc_id: str | None = None,
    vpn_gw_id: str | None = None,
    name: str | None = None,
    offset: int = 0,
    limit: int = DESCRIBE_LIMIT_MAX,
) -> dict[str, Any]:
    """``DescribeVpnConnections``: ``VpnConnectionIds`` for one id, else ``Filters`` (``vpc-id``,
    ``vpn-gateway-id``, ``vpn-connection-name``), and one page. The API refuses ids and filters together, so
    does this: ValueError, as for a page out of range."""
    if offset < 0 or not 1 <= limit <= DESCRIBE_LIMIT_MAX:
        raise ValueError(f"need offset >= 0 and 1 <= limit <= {DESCRIBE_LIMIT_MAX}")
    filters = {"vpc-id": vpc_id, "vpn-gateway-id": vpn_gw_id, "vpn-connection-name": name}
    given = [{"Name": key, "Values": [value]} for key, value in filters.items() if value is not None]
    payload: dict[str, Any] = {}
    if vpn_conn_id is not None:
        if given:
            raise ValueError("DescribeVpnConnections takes a vpn_conn_id or filters, not both")
        payload["VpnConnectionIds"] = [vpn_conn_id]
    elif given:
        payload["Filters"] = given
    payload.update(Offset=offset, Limit=limit)
    return payload


def task_payload(task_id: int | str) -> dict[str, str]:
    """``DescribeVpcTaskResult``: the edit's ``RequestId`` as ``TaskId``."""
    return {"TaskId": str(task_id)}
