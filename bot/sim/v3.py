"""The simulator's API 3.0 dialect: ``DescribeVpnConnections``, ``ModifyVpnConnectionAttribute`` and
``DescribeVpcTaskResult`` (Version ``2017-03-12``), answered from the same :class:`SimState` as API 2.0.

API 3.0 is a translation, not a second world: a read maps the stored ``DescribeVpnConn`` items into the 3.0 shape,
an edit is turned into ``ModifyVpnConnEx`` wire parameters and run by the API 2.0 action (so both dialects apply
the same ``bot.vpn`` rules and see each other's changes), and a task is the API 2.0 task, also named by the
RequestId of the call that started it.

The wire (``POST /`` with a JSON body; ``bot.sim.server`` does the HTTP) is checked in this order, each failure an
error in the API 3.0 shape ``{"Response": {"Error": {"Code", "Message"}, "RequestId"}}`` with HTTP 200:

1. ``Content-Type`` is ``application/json`` (``InvalidParameter`` otherwise); ``X-TC-Action``, ``X-TC-Version``
   and ``X-TC-Timestamp`` are present (``MissingParameter``).
2. ``Authorization`` reads as ``TC3-HMAC-SHA256 Credential=<SecretId>/<date>/<service>/tc3_request,
   SignedHeaders=content-type;host, Signature=<hex>`` (``AuthFailure.InvalidAuthorization``; the simulator verifies
   the ``content-type;host`` header set only).
3. The SecretId is known (``AuthFailure.SecretIdNotFound``); ``X-TC-Timestamp`` is within 300 s of the state's
   clock (``AuthFailure.SignatureExpire``).
4. The credential's date is the UTC date of ``X-TC-Timestamp`` and its service is ``vpc``, and the signature is
   right for the body bytes, the ``Content-Type`` sent and the host the request was sent to (the ``Host`` header
   without its port, the rule of the API 2.0 side) (``AuthFailure.SignatureFailure``). ``X-TC-Token`` is accepted
   and not checked (the world holds no temporary credentials); ``X-TC-Region`` is optional and not checked (the
   world has no regions).
5. ``X-TC-Version`` is ``2017-03-12`` (``NoSuchVersion``); the action is one of the three (``InvalidAction``).
6. The body is a JSON object (``InvalidParameter``); then the faults of the API 2.0 equivalent action apply
   (``RequestLimitExceeded`` for over-quota, ``InternalError`` for the failure rate, HTTP 503 as on API 2.0), then
   the action runs.

Codes follow Tencent Cloud's common error codes and the per-action lists of ``tencentcloud-sdk-go``
(``vpc/v20170312/client.go``): ``InvalidParameter.Coexist``, ``InvalidParameter.Filter*``,
``InvalidParameterValue.LimitExceeded`` / ``.Malformed``, ``ResourceNotFound``,
``UnsupportedOperation.VpnConnInvalidState`` (a task is running on the connection) and
``UnsupportedOperation.VpnConnSPDOverlap``. A value the ``bot.vpn`` rules refuse is ``InvalidParameterValue`` with
a message naming the API 3.0 field; a parameter the world does not model is ``UnknownParameter``.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from bot.sim.state import API2_ACTION, SimApiError, SimState, shown_name
from bot.tencent.signing import TC3_SIGNED_HEADERS, parse_tc3_authorization, tc3_date, tc3_signature
from bot.vpn.connection import IKE_BLOCKS, IPSEC_BLOCKS
from bot.vpn.params import PARAMS_BY_NAME

__all__ = [
    "ACTIONS",
    "API_VERSION",
    "CLOCK_SKEW_SECONDS",
    "SERVICE",
    "V3Error",
    "error_body",
    "fault_error",
    "parse_body",
    "run",
    "success_body",
    "v3_connection",
    "verify_request",
]

API_VERSION: Final = "2017-03-12"
SERVICE: Final = "vpc"
ACTIONS: Final = frozenset(API2_ACTION)
CLOCK_SKEW_SECONDS: Final = 300
DESCRIBE_LIMIT_DEFAULT: Final = 20
DESCRIBE_LIMIT_MAX: Final = 100
DESCRIBE_IDS_MAX: Final = 100
FILTERS_MAX: Final = 10
FILTER_VALUES_MAX: Final = 5

_CONN_ID: Final = re.compile(r"vpnx-[0-9a-z]{8}")
_TIMESTAMP: Final = re.compile(r"[0-9]{1,12}")
_TASK_NUMBER: Final = re.compile(r"[0-9]{1,12}")
_SHOWN_VALUE_MAX = 40


class V3Error(Exception):
    """An API 3.0 error: ``{"Error": {"Code": code, "Message": message}}`` inside ``Response``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def error_body(error: V3Error, request_id: str) -> dict[str, Any]:
    """The answer to a failed call: ``{"Response": {"Error": {...}, "RequestId": request_id}}``."""
    return {"Response": {"Error": {"Code": error.code, "Message": error.message}, "RequestId": request_id}}


def success_body(answer: Mapping[str, Any], request_id: str) -> dict[str, Any]:
    """The answer to a call that succeeded: ``{"Response": {**answer, "RequestId": request_id}}``."""
    return {"Response": {**answer, "RequestId": request_id}}


def fault_error(code: int) -> V3Error:
    """The API 3.0 form of an injected fault code: 4400 is ``RequestLimitExceeded``, anything else ``InternalError``."""
    if code == 4400:
        return V3Error("RequestLimitExceeded", "Your request frequency has exceeded the limit (simulated).")
    return V3Error("InternalError", "An internal error occurred, please retry later (simulated).")


# ---------------------------------------------------------------------------------------------------------------
# Verifying a request


def verify_request(state: SimState, http_method: str, host: str, headers: Mapping[str, str], body: bytes) -> str:
    """Check the headers, credentials, clock and TC3 signature of one request; returns its action.

    ``host`` is the host the request was sent to, without the port; ``headers`` is looked up case-insensitively
    by the caller's mapping (aiohttp's are). Raises :class:`V3Error` on the first failure, in the order of the
    module's docstring.
    """
    content_type = headers.get("Content-Type", "")
    if content_type.partition(";")[0].strip().lower() != "application/json":
        raise V3Error(
            "InvalidParameter",
            "Content-Type must be application/json; charset=utf-8: this endpoint speaks API 3.0 with "
            "TC3-HMAC-SHA256 (API 2.0 is at /v2/index.php)",
        )
    missing = [name for name in ("X-TC-Action", "X-TC-Version", "X-TC-Timestamp") if not headers.get(name)]
    if missing:
        raise V3Error("MissingParameter", f"The request is missing the required header(s) {', '.join(missing)}.")
    parsed = parse_tc3_authorization(headers.get("Authorization", ""))
    if parsed is None:
        raise V3Error(
            "AuthFailure.InvalidAuthorization",
            "The Authorization header does not conform to the TC3-HMAC-SHA256 standard: "
            "TC3-HMAC-SHA256 Credential=<SecretId>/<date>/vpc/tc3_request, SignedHeaders=content-type;host, "
            "Signature=<hex>",
        )
    secret_id, date, service, signed_headers, signature = parsed
    if signed_headers != TC3_SIGNED_HEADERS:
        raise V3Error(
            "AuthFailure.InvalidAuthorization",
            f"SignedHeaders={shown_name(signed_headers)}: this simulator verifies SignedHeaders={TC3_SIGNED_HEADERS}",
        )
    secret_key = state.secret_key_for(secret_id)
    if secret_key is None:
        raise V3Error("AuthFailure.SecretIdNotFound", "The SecretId is not found, please ensure it is correct.")
    timestamp = _timestamp(headers["X-TC-Timestamp"], state.clock())
    if date != tc3_date(timestamp):
        raise V3Error(
            "AuthFailure.SignatureFailure",
            f"The Credential date {date} is not the UTC date of X-TC-Timestamp ({tc3_date(timestamp)}).",
        )
    if service != SERVICE:
        raise V3Error(
            "AuthFailure.SignatureFailure", f"The Credential service {shown_name(service)!r} is not {SERVICE!r}."
        )
    try:
        expected = tc3_signature(
            secret_key,
            service=service,
            host=host,
            timestamp=timestamp,
            payload=body,
            content_type=content_type,
            http_method=http_method,
        )
    except ValueError:
        expected = ""
    if not expected or not hmac.compare_digest(expected, signature):
        raise V3Error(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        )
    if headers["X-TC-Version"] != API_VERSION:
        raise V3Error("NoSuchVersion", f"The API version {shown_name(headers['X-TC-Version'])!r} does not exist.")
    action = headers["X-TC-Action"]
    if action not in ACTIONS:
        known = ", ".join(sorted(ACTIONS))
        raise V3Error("InvalidAction", f"The action {shown_name(action)!r} does not exist (known: {known}).")
    return action


def _timestamp(text: str, now: float) -> int:
    if _TIMESTAMP.fullmatch(text.strip()) is None:
        raise V3Error("InvalidParameter", "X-TC-Timestamp must be unix seconds.")
    timestamp = int(text)
    if abs(timestamp - now) > CLOCK_SKEW_SECONDS:
        raise V3Error(
            "AuthFailure.SignatureExpire",
            f"Signature expired: X-TC-Timestamp is {timestamp - now:+.0f} s away from the server time "
            f"(at most {CLOCK_SKEW_SECONDS} s).",
        )
    return timestamp


def parse_body(body: bytes) -> dict[str, Any]:
    """The JSON object in ``body`` (an empty body reads as ``{}``); ``InvalidParameter`` for anything else."""
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise V3Error("InvalidParameter", "The request body is not valid UTF-8 JSON.") from None
    if not isinstance(document, dict):
        raise V3Error("InvalidParameter", "The request body must be a JSON object.")
    return document


def run(state: SimState, action: str, params: Mapping[str, Any], request_id: str) -> dict[str, Any]:
    """Run ``action`` (one of :data:`ACTIONS`) with its JSON parameters; the answer's fields besides ``RequestId``.

    ``request_id`` is this call's RequestId: an edit's task is registered under it. Raises :class:`V3Error`.
    """
    handler = _HANDLERS.get(action)
    if handler is None:
        raise V3Error("InvalidAction", f"The action {shown_name(action)!r} does not exist.")
    return handler(state, params, request_id)


# ---------------------------------------------------------------------------------------------------------------
# Parameters


def _reject_unknown(params: Mapping[str, Any], known: Iterable[str], unmodelled: Iterable[str] = ()) -> None:
    known, unmodelled = set(known), set(unmodelled)
    for name in sorted(params):
        if name in known:
            continue
        why = " (documented, but this simulator's world does not model it)" if name in unmodelled else ""
        raise V3Error("UnknownParameter", f"The parameter `{shown_name(name)}` is not recognized{why}.")


def _int_param(params: Mapping[str, Any], name: str, default: int, high: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise V3Error("InvalidParameter", f"{name} must be an integer.")
    if value < 0:
        raise V3Error("InvalidParameterValue", f"{name}: {value} is out of range: must be 0 or more.")
    if value > high:
        raise V3Error("InvalidParameterValue.LimitExceeded", f"{name}: {value} exceeds the maximum of {high}.")
    return value


def _string_list(value: Any, name: str, maximum: int) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(one, str) for one in value):
        raise V3Error("InvalidParameter", f"{name} must be a list of strings.")
    if len(value) > maximum:
        raise V3Error("InvalidParameterValue.LimitExceeded", f"{name}: at most {maximum} values are allowed.")
    return value


# ---------------------------------------------------------------------------------------------------------------
# DescribeVpnConnections


_FILTER_KEYS: Final[Mapping[str, Callable[[Mapping[str, Any]], str]]] = {
    "vpc-id": lambda item: str(item.get("unVpcId", "")),
    "vpn-gateway-id": lambda item: str(item.get("unVpnGwId", "")),
    "vpn-connection-id": lambda item: str(item.get("unVpnConnId", "")),
    "vpn-connection-name": lambda item: str(item.get("vpnConnName", "")),
}


def describe_vpn_connections(state: SimState, params: Mapping[str, Any], request_id: str) -> dict[str, Any]:
    """``DescribeVpnConnections``: ``{"TotalCount", "VpnConnectionSet"}``, by ``VpnConnectionIds`` or ``Filters``
    (``vpc-id``, ``vpn-gateway-id``, ``vpn-connection-id``, ``vpn-connection-name`` (exact); values of one filter
    are alternatives, filters all apply), paged by ``Offset`` and ``Limit`` (default 20, at most 100), in
    ``DescribeVpnConn``'s default order. An id that is well-formed but unknown is ``ResourceNotFound``."""
    _reject_unknown(params, ("VpnConnectionIds", "Filters", "Offset", "Limit"))
    ids = _string_list(params.get("VpnConnectionIds", []), "VpnConnectionIds", DESCRIBE_IDS_MAX)
    filters = _filters(params.get("Filters", []))
    if ids and filters:
        raise V3Error("InvalidParameter.Coexist", "VpnConnectionIds and Filters cannot be specified at the same time.")
    offset = _int_param(params, "Offset", 0, 2**31 - 1)
    limit = _int_param(params, "Limit", DESCRIBE_LIMIT_DEFAULT, DESCRIBE_LIMIT_MAX)
    items = state.connections()
    if ids:
        items = _by_ids(items, ids)
    for key, values in filters:
        items = [item for item in items if _FILTER_KEYS[key](item) in values]
    page = items[offset : offset + limit]
    return {"TotalCount": len(items), "VpnConnectionSet": [v3_connection(item) for item in page]}


def _filters(raw: Any) -> list[tuple[str, frozenset[str]]]:
    if not isinstance(raw, list):
        raise V3Error("InvalidParameter", "Filters must be a list of {Name, Values} objects.")
    if len(raw) > FILTERS_MAX:
        raise V3Error("InvalidParameterValue.LimitExceeded", f"Filters: at most {FILTERS_MAX} filters are allowed.")
    filters = []
    for index, one in enumerate(raw):
        where = f"Filters.{index}"
        if not isinstance(one, dict):
            raise V3Error("InvalidParameter.FilterNotDict", f"{where} must be an object with Name and Values.")
        if "Name" not in one or "Values" not in one:
            raise V3Error("InvalidParameter.FilterMissParameter", f"{where} needs both Name and Values.")
        extra = sorted(set(one) - {"Name", "Values"})
        if extra:
            raise V3Error("UnknownParameter", f"The parameter `{where}.{shown_name(extra[0])}` is not recognized.")
        name = one["Name"]
        if not isinstance(name, str) or name not in _FILTER_KEYS:
            known = ", ".join(_FILTER_KEYS)
            shown = shown_name(name) if isinstance(name, str) else "(not a string)"
            raise V3Error("InvalidParameter.FilterInvalidKey", f"{where}.Name {shown!r} is not one of {known}.")
        values = one["Values"]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise V3Error("InvalidParameter.FilterValuesNotList", f"{where}.Values must be a list of strings.")
        if len(values) > FILTER_VALUES_MAX:
            raise V3Error(
                "InvalidParameterValue.LimitExceeded",
                f"{where}.Values: at most {FILTER_VALUES_MAX} values are allowed.",
            )
        filters.append((name, frozenset(values)))
    return filters


def _by_ids(items: list[dict[str, Any]], ids: list[str]) -> list[dict[str, Any]]:
    for one in ids:
        if _CONN_ID.fullmatch(one) is None:
            raise V3Error(
                "InvalidParameterValue.Malformed",
                f"VpnConnectionIds: {shown_name(one)!r} is not a VPN connection id such as vpnx-f49l6u0z.",
            )
    known = {str(item["unVpnConnId"]) for item in items}
    unknown = [one for one in dict.fromkeys(ids) if one not in known]
    if unknown:
        raise V3Error("ResourceNotFound", f"The VPN connection(s) {', '.join(unknown)} do not exist.")
    wanted = set(ids)
    return [item for item in items if item["unVpnConnId"] in wanted]


# The production state of a connection by API 2.0 ``vpcConnStatus``; API 3.0 documents PENDING, AVAILABLE, DELETING.
_STATE_BY_STATUS: Final[Mapping[int, str]] = {
    0: "PENDING",  # creating
    1: "PENDING",  # create error
    2: "PENDING",  # modifying: a task runs
    3: "AVAILABLE",  # modify error: the previous settings stay in force
    4: "DELETING",
    5: "DELETING",  # delete error
    6: "AVAILABLE",
}


def v3_connection(item: Mapping[str, Any]) -> dict[str, Any]:
    """One ``VpnConnectionSet`` element for a stored ``DescribeVpnConn`` item.

    Ids are the ``un*`` forms; enums are upper case (``AES-CBC-256``, ``GROUP14``, ``DH-GROUP14``, ``NULL``);
    the IKE authentication ``sha``/``sha1`` reads ``SHA`` and the IPsec integrity ``sha``/``sha1`` reads ``SHA1``
    (each field's documented value set); numbers are integers; ``SecurityPolicyDatabaseSet`` holds one rule per
    ``sourceCidr`` with every ``destinationCidr`` (the world stores the SPD as that cross product). ``RouteType``
    is ``STATIC`` and ``EncryptProto`` ``IKE``, as in the documentation's example; ``IKEVersion`` is ``IKEV1``,
    the only version the seed's model has.
    """
    ike = _stored_block(item, IKE_BLOCKS)
    ipsec = _stored_block(item, IPSEC_BLOCKS)
    status = _int(item.get("vpcConnStatus", 6))
    destinations = [str(c) for c in _cidr_list(item.get("destinationCidr"))]
    return {
        "VpnConnectionId": str(item.get("unVpnConnId", "")),
        "VpnConnectionName": str(item.get("vpnConnName", "")),
        "VpcId": str(item.get("unVpcId", "")),
        "VpnGatewayId": str(item.get("unVpnGwId", "")),
        "CustomerGatewayId": str(item.get("unUserGwId") or item.get("userGwId") or ""),
        "PreShareKey": str(item.get("preSharedKey", "")),
        "VpnProto": str(item.get("vpnProto") or "ipsec").upper(),
        "EncryptProto": "IKE",
        "RouteType": "STATIC",
        "CreatedTime": str(item.get("createTime", "")),
        "State": _STATE_BY_STATUS.get(status, "PENDING"),
        "NetStatus": str(item.get("netStatus", "")).upper(),
        "SecurityPolicyDatabaseSet": [
            {"LocalCidrBlock": str(local), "RemoteCidrBlock": list(destinations)}
            for local in _cidr_list(item.get("sourceCidr"))
        ],
        "IKEOptionsSpecification": {
            "PropoEncryAlgorithm": _upper(ike.get("propoEncryAlgorithm")),
            "PropoAuthenAlgorithm": _auth(ike.get("propoAuthenAlgorithm"), sha="SHA"),
            "ExchangeMode": _upper(ike.get("exchangeMode")),
            "LocalIdentity": _upper(ike.get("localIdentity")),
            "RemoteIdentity": _upper(ike.get("remoteIdentity")),
            "LocalAddress": str(ike.get("localAddress") or ""),
            "RemoteAddress": str(ike.get("remoteAddress") or ""),
            "LocalFqdnName": str(ike.get("localFqdnName") or ""),
            "RemoteFqdnName": str(ike.get("remoteFqdnName") or ""),
            "DhGroupName": _upper(ike.get("dhGroupName")),
            "IKESaLifetimeSeconds": _int(ike.get("ikeSaLifetimeSeconds")),
            "IKEVersion": "IKEV1",
        },
        "IPSECOptionsSpecification": {
            "EncryptAlgorithm": _upper(ipsec.get("encryptAlgorithm")),
            "IntegrityAlgorith": _auth(ipsec.get("integrityAlgorith"), sha="SHA1"),
            "IPSECSaLifetimeSeconds": _int(ipsec.get("ipsecSaLifetimeSeconds")),
            "PfsDhGroup": _upper(ipsec.get("pfsDhGroup")),
            "IPSECSaLifetimeTraffic": _int(ipsec.get("ipsecSaLifetimeTraffic")),
            "EncapMode": _upper(ipsec.get("encapMode") or "tunnel"),
            "SecurityProto": _upper(ipsec.get("securityProto") or "esp"),
        },
    }


def _stored_block(item: Mapping[str, Any], names: tuple[str, ...]) -> Mapping[str, Any]:
    for name in names:
        block = item.get(name)
        if isinstance(block, list):
            block = block[0] if block and isinstance(block[0], Mapping) else None
        if isinstance(block, Mapping):
            return block
    return {}


def _cidr_list(raw: Any) -> list[str]:
    if raw is None:
        return []
    return [str(one) for one in ([raw] if isinstance(raw, str) else raw)]


def _upper(value: Any) -> str:
    return "" if value is None else str(value).strip().upper()


def _auth(value: Any, *, sha: str) -> str:
    text = _upper(value)
    return sha if text in ("SHA", "SHA1") else text


def _int(value: Any) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        return 0


# ---------------------------------------------------------------------------------------------------------------
# ModifyVpnConnectionAttribute


@dataclass(frozen=True)
class _BlockField:
    """One field of ``IKEOptionsSpecification`` / ``IPSECOptionsSpecification`` and how it reaches the seed.

    ``seed`` is the API 2.0 parameter (None: nothing to store, only ``fixed`` values are accepted); ``choices``
    maps accepted upper-case values to the seed's value (empty: not an enum); ``integer`` fields take JSON integers.
    """

    seed: str | None
    choices: Mapping[str, str] = field(default_factory=dict)
    integer: bool = False


def _seed_choices(seed: str, extra: Mapping[str, str] | None = None) -> _BlockField:
    choices = {value.upper(): value for value in PARAMS_BY_NAME[seed].choices}
    return _BlockField(seed, {**choices, **(extra or {})})


def _fixed(*values: str) -> _BlockField:
    return _BlockField(None, {value: value for value in values})


IKE_SPEC: Final = "IKEOptionsSpecification"
IPSEC_SPEC: Final = "IPSECOptionsSpecification"

_BLOCKS: Final[Mapping[str, Mapping[str, _BlockField]]] = {
    IKE_SPEC: {
        "PropoEncryAlgorithm": _seed_choices("IKESet.propoEncryAlgorithm"),
        "PropoAuthenAlgorithm": _BlockField("IKESet.propoAuthenAlgorithm", {"MD5": "md5", "SHA": "sha", "SHA1": "sha"}),
        "ExchangeMode": _seed_choices("IKESet.exchangeMode"),
        "LocalIdentity": _seed_choices("IKESet.localIdentity"),
        "RemoteIdentity": _seed_choices("IKESet.remoteIdentity"),
        "LocalAddress": _BlockField("IKESet.localAddress"),
        "RemoteAddress": _BlockField("IKESet.remoteAddress"),
        "LocalFqdnName": _BlockField("IKESet.localFqdnName"),
        "RemoteFqdnName": _BlockField("IKESet.remoteFqdnName"),
        "DhGroupName": _seed_choices("IKESet.dhGroupName"),
        "IKESaLifetimeSeconds": _BlockField("IKESet.ikeSaLifetimeSeconds", integer=True),
        "IKEVersion": _fixed("IKEV1"),
    },
    IPSEC_SPEC: {
        "EncryptAlgorithm": _seed_choices("IPsecSet.encryptAlgorithm"),
        "IntegrityAlgorith": _BlockField("IPsecSet.integrityAlgorith", {"MD5": "md5", "SHA1": "sha", "SHA": "sha"}),
        "IPSECSaLifetimeSeconds": _BlockField("IPsecSet.ipsecSaLifetimeSeconds", integer=True),
        "PfsDhGroup": _seed_choices("IPsecSet.pfsDhGroup"),
        "IPSECSaLifetimeTraffic": _BlockField("IPsecSet.ipsecSaLifetimeTraffic", integer=True),
        "SecurityProto": _fixed("ESP"),
        "EncapMode": _fixed("TUNNEL"),
    },
}
# Newer SDKs also spell the IPsec integrity field correctly; both names are accepted (not both at once).
_FIELD_ALIASES: Final[Mapping[str, str]] = {"IntegrityAlgorithm": "IntegrityAlgorith"}

_MODIFY_PARAMS: Final = (
    "VpnConnectionId",
    "VpnConnectionName",
    "PreShareKey",
    "SecurityPolicyDatabases",
    IKE_SPEC,
    IPSEC_SPEC,
)
# Documented parameters of ModifyVpnConnectionAttribute that the seed's model has no place for.
_MODIFY_UNMODELLED: Final = (
    "EnableHealthCheck",
    "HealthCheckLocalIp",
    "HealthCheckRemoteIp",
    "NegotiationType",
    "DpdEnable",
    "DpdTimeout",
    "DpdAction",
    "RouteType",
    "BgpConfig",
    "HealthCheckConfig",
)

# API 2.0 (seed) parameter names and the API 3.0 names errors are reported under.
_V3_NAME: Final[Mapping[str, str]] = {
    "vpnConnName": "VpnConnectionName",
    "preSharedKey": "PreShareKey",
    "spdAcl": "SecurityPolicyDatabases",
    "userGwCidrBlock": "SecurityPolicyDatabases",
    **{
        spec.seed: f"{block}.{name}"
        for block, fields in _BLOCKS.items()
        for name, spec in fields.items()
        if spec.seed is not None
    },
}
_SEED_NAME_IN_TEXT: Final = re.compile(
    r"(?<![\w.])(" + "|".join(re.escape(n) for n in sorted(_V3_NAME, key=len, reverse=True)) + r")(?![\w])"
)


def modify_vpn_connection_attribute(state: SimState, params: Mapping[str, Any], request_id: str) -> dict[str, Any]:
    """``ModifyVpnConnectionAttribute``: translate the edit into ``ModifyVpnConnEx`` wire parameters (ids from the
    stored connection; the current ``destinationCidr`` resent as ``userGwCidrBlock`` when the SPD is not edited)
    and run it; the task it starts is registered under ``request_id``. Answers ``{}`` (the envelope adds
    ``RequestId``, which ``DescribeVpcTaskResult`` takes as ``TaskId``)."""
    conn_id = params.get("VpnConnectionId")
    if conn_id is None:
        raise V3Error("MissingParameter", "The request is missing the required parameter `VpnConnectionId`.")
    if not isinstance(conn_id, str):
        raise V3Error("InvalidParameter", "VpnConnectionId must be a string.")
    _reject_unknown(params, _MODIFY_PARAMS, _MODIFY_UNMODELLED)
    if _CONN_ID.fullmatch(conn_id) is None:
        raise V3Error(
            "InvalidParameterValue.Malformed",
            f"VpnConnectionId: {shown_name(conn_id)!r} is not a VPN connection id such as vpnx-f49l6u0z.",
        )
    try:
        item = state.connection(conn_id)
    except KeyError:
        raise V3Error("ResourceNotFound", f"The VPN connection {conn_id} does not exist.") from None
    wire = _modify_wire(item, params)
    try:
        answer = state.modify_vpn_conn_ex(wire)
    except SimApiError as error:
        raise _v3_error_of(error) from None
    state.name_task(int(answer["data"]["taskId"]), request_id)
    return {}


def _modify_wire(item: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, str]:
    wire = {"vpcId": str(item["unVpcId"]), "vpnGwId": str(item["unVpnGwId"]), "vpnConnId": str(item["unVpnConnId"])}
    for v3_name, seed_name in (("VpnConnectionName", "vpnConnName"), ("PreShareKey", "preSharedKey")):
        if v3_name in params:
            value = params[v3_name]
            if not isinstance(value, str):
                raise V3Error("InvalidParameter", f"{v3_name} must be a string.")
            wire[seed_name] = value
    if "SecurityPolicyDatabases" in params:
        for index, rule in enumerate(_spd_rules(params["SecurityPolicyDatabases"])):
            wire[f"spdAcl.{index}"] = json.dumps(rule)
    else:
        for index, cidr in enumerate(_cidr_list(item.get("destinationCidr"))):
            wire[f"userGwCidrBlock.{index}"] = cidr
    for block in (IKE_SPEC, IPSEC_SPEC):
        if block in params:
            wire.update(_block_wire(block, params[block]))
    return wire


def _spd_rules(raw: Any) -> list[dict[str, list[str]]]:
    name = "SecurityPolicyDatabases"
    if not isinstance(raw, list):
        raise V3Error("InvalidParameter", f"{name} must be a list of {{LocalCidrBlock, RemoteCidrBlock}} objects.")
    if not raw:
        raise V3Error("InvalidParameterValue", f"{name}: give at least one rule (the peer networks cannot be emptied).")
    rules = []
    for index, rule in enumerate(raw):
        where = f"{name}.{index}"
        if not isinstance(rule, dict):
            raise V3Error("InvalidParameter", f"{where} must be an object with LocalCidrBlock and RemoteCidrBlock.")
        extra = sorted(set(rule) - {"LocalCidrBlock", "RemoteCidrBlock"})
        if extra:
            raise V3Error("UnknownParameter", f"The parameter `{where}.{shown_name(extra[0])}` is not recognized.")
        local, remotes = rule.get("LocalCidrBlock"), rule.get("RemoteCidrBlock")
        if not isinstance(local, str):
            raise V3Error("InvalidParameter", f"{where}.LocalCidrBlock must be a string such as 10.0.0.0/24.")
        if not isinstance(remotes, list) or not all(isinstance(r, str) for r in remotes):
            raise V3Error("InvalidParameter", f"{where}.RemoteCidrBlock must be a list of CIDR strings.")
        rules.append({local: remotes})
    return rules


def _block_wire(block: str, raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise V3Error("InvalidParameter", f"{block} must be an object.")
    fields = _BLOCKS[block]
    wire: dict[str, str] = {}
    seen: set[str] = set()
    for given, value in raw.items():
        name = _FIELD_ALIASES.get(given, given) if block == IPSEC_SPEC else given
        where = f"{block}.{shown_name(name)}"
        spec = fields.get(name)
        if spec is None:
            raise V3Error("UnknownParameter", f"The parameter `{block}.{shown_name(given)}` is not recognized.")
        if name in seen:
            raise V3Error("InvalidParameter", f"{where} is given twice (IntegrityAlgorith and IntegrityAlgorithm).")
        seen.add(name)
        text = _field_text(where, spec, value)
        if spec.seed is not None:
            wire[spec.seed] = text
    return wire


def _field_text(where: str, spec: _BlockField, value: Any) -> str:
    if spec.integer:
        if isinstance(value, bool) or not isinstance(value, int):
            raise V3Error("InvalidParameter", f"{where} must be an integer.")
        return str(value)
    if not isinstance(value, str):
        raise V3Error("InvalidParameter", f"{where} must be a string.")
    if not spec.choices:
        return value
    chosen = spec.choices.get(value.strip().upper())
    if chosen is None:
        shown = value if len(value) <= _SHOWN_VALUE_MAX else value[:_SHOWN_VALUE_MAX] + "..."
        choices = ", ".join(dict.fromkeys(spec.choices))
        raise V3Error(
            "InvalidParameterValue",
            f"{where}: {shown!r} is not supported by this connection's model; use one of {choices}.",
        )
    return chosen


def _v3_error_of(error: SimApiError) -> V3Error:
    """The API 3.0 answer for an error of ``ModifyVpnConnEx``, its parameter names translated to API 3.0's."""
    message = _SEED_NAME_IN_TEXT.sub(lambda m: _V3_NAME[m[1]], error.message)
    if error.reason == "spd-overlap":
        return V3Error("UnsupportedOperation.VpnConnSPDOverlap", message)
    if error.code_desc in ("InvalidParameter", "InvalidVpnConnName"):
        return V3Error("InvalidParameterValue", message)
    if error.code_desc == "MissingParameter":
        return V3Error("MissingParameter", message)
    if error.code == 5000:
        return V3Error("ResourceNotFound", message)
    if error.code_desc == "OperationDenied.VpnConnBusy":
        return V3Error("UnsupportedOperation.VpnConnInvalidState", message)
    return V3Error("InternalError", message)


# ---------------------------------------------------------------------------------------------------------------
# DescribeVpcTaskResult


_TASK_STATUS: Final[Mapping[int, str]] = {0: "SUCCESS", 1: "FAILED", 2: "RUNNING"}


def describe_vpc_task_result(state: SimState, params: Mapping[str, Any], request_id: str) -> dict[str, Any]:
    """``DescribeVpcTaskResult``: ``{"TaskId", "Status": SUCCESS|FAILED|RUNNING, "Output"}`` for ``TaskId``, the
    RequestId of the call that started the task (a task started through API 2.0 answers to its integer id written
    as a string). ``Output`` holds the failure text of a failed task, else is empty. Unknown: ``ResourceNotFound``."""
    _reject_unknown(params, ("TaskId",))
    ref = params.get("TaskId")
    if ref is None:
        raise V3Error("MissingParameter", "The request is missing the required parameter `TaskId`.")
    if not isinstance(ref, str):
        raise V3Error("InvalidParameter", "TaskId must be a string: the RequestId of the call that started the task.")
    task_id = state.task_id_named(ref)
    if task_id is None and _TASK_NUMBER.fullmatch(ref) is not None:
        task_id = int(ref)
    not_found = V3Error("ResourceNotFound", f"The task {shown_name(ref)} does not exist.")
    if task_id is None:
        raise not_found
    try:
        data = state.describe_vpc_task_result({"taskId": str(task_id)})["data"]
    except SimApiError as error:
        raise (not_found if error.code == 5000 else V3Error("InternalError", error.message)) from None
    status = _TASK_STATUS.get(int(data["status"]), "RUNNING")
    output = str(data.get("output", "")) if status == "FAILED" else ""
    return {"TaskId": ref, "Status": status, "Output": output}


_Handler = Callable[[SimState, Mapping[str, Any], str], dict[str, Any]]
_HANDLERS: Final[Mapping[str, _Handler]] = {
    "DescribeVpnConnections": describe_vpn_connections,
    "ModifyVpnConnectionAttribute": modify_vpn_connection_attribute,
    "DescribeVpcTaskResult": describe_vpc_task_result,
}
