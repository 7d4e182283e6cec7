"""API 3.0's wire (``POST /``, JSON, TC3-HMAC-SHA256, Version ``2017-03-12``): verify a request, parse it into the
world's typed queries and edits, and render answers and errors as the service does (HTTP 200,
``{"Response": {..., "RequestId"}}`` or ``{"Response": {"Error": {"Code", "Message"}, "RequestId"}}``). The
shapes are ``bot.sim.shapes_v3``'s.

Checked in this order (``bot.sim.server`` reads the body and applies the faults between 7 and 8):

1. ``Content-Type`` is ``application/json`` (a charset may follow) (``InvalidParameter``); ``X-TC-Action``,
   ``X-TC-Version`` and ``X-TC-Timestamp`` present (``MissingParameter``);
2. ``Authorization`` is ``TC3-HMAC-SHA256 Credential=<SecretId>/<date>/<service>/tc3_request,
   SignedHeaders=content-type;host, Signature=<hex>`` (``AuthFailure.InvalidAuthorization``);
3. the SecretId known (``AuthFailure.SecretIdNotFound``); ``X-TC-Timestamp`` within 300 s of the world's clock
   (``AuthFailure.SignatureExpire``);
4. the credential's date is the UTC date of the timestamp, its service ``vpc``, and the signature right for the
   body bytes, the ``Content-Type`` sent and the ``Host`` header AS RECEIVED (port included, as the SDK signs
   its endpoint) (``AuthFailure.SignatureFailure``); ``X-TC-Token`` and ``X-TC-Region`` are not checked;
5. ``X-TC-Version`` is ``2017-03-12`` (``NoSuchVersion``); the action is one of :data:`ACTIONS`
   (``InvalidAction``);
6. the body is a JSON object (``InvalidParameter``);
7. the ``rateLimits`` of the action for that SecretId (``RequestLimitExceeded``, the action is not run);
8. the action: ``UnknownParameter``, ``MissingParameter``, ``InvalidParameter`` (wrong JSON type),
   ``InvalidParameter.Coexist``, ``InvalidParameter.Filter*``, ``InvalidParameterValue[.Malformed|.LimitExceeded|
   .Duplicate|.VpnConnCidrConflict|.VpnConnHealthCheckIpConflict]``, ``ResourceNotFound``,
   ``UnsupportedOperation[.InvalidState|.VpnConnInvalidState|.VpnConnSPDOverlap|
   .VpnConnCidrNotSupportedHealthCheck]``: the codes ``errorcodes.py`` of the SDK lists.

``ModifyVpnConnectionAttribute`` answers only a RequestId. When the world's ``modifyTask`` is false (the
documented behaviour) it leaves no task: ``DescribeVpcTaskResult`` with that RequestId is ``ResourceNotFound``;
when true, the task is known by it. ``DescribeVpcTaskResult`` also knows an API 2.0 task by its number written as
a string, and answers ``Status``, ``Output`` and ``Result`` (no ``TaskId``).

``DescribeCustomerGatewayVendors`` answers ``CustomerGatewayVendorSet`` (``bot.sim.peer_config``);
``DownloadCustomerGatewayConfiguration`` (``VpnGatewayId``, ``VpnConnectionId``, ``CustomerGatewayVendor``
{``Platform``, ``SoftwareVersion``, ``VendorName``}, ``InterfaceName``, all required) answers
``CustomerGatewayConfiguration``, the device's configuration from the connection's current settings, its
pre-shared key in plain text; a vendor not listed is ``InvalidParameterValue``, an unknown gateway or a connection
not on it ``ResourceNotFound``.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from bot.sim.model import Connection, WorldError
from bot.sim.peer_config import VENDORS, find_vendor, render
from bot.sim.rules import shown
from bot.sim.shapes_v3 import CONN_ID, V3Error, parse_modify, vpn_connection, world_error
from bot.sim.world import SimState
from bot.tencent.signing import TC3_SIGNED_HEADERS, parse_tc3_authorization, tc3_date, tc3_signature

__all__ = [
    "ACTIONS",
    "API_VERSION",
    "CLOCK_SKEW_SECONDS",
    "SERVICE",
    "V3Error",
    "authenticate",
    "error_body",
    "fault_error",
    "parse_body",
    "run",
    "success_body",
]

API_VERSION: Final = "2017-03-12"
SERVICE: Final = "vpc"
CLOCK_SKEW_SECONDS: Final = 300
DESCRIBE_LIMIT_DEFAULT: Final = 20
DESCRIBE_LIMIT_MAX: Final = 100
DESCRIBE_IDS_MAX: Final = 100
FILTERS_MAX: Final = 10
FILTER_VALUES_MAX: Final = 5
INTERFACE_NAME_MAX: Final = 64
_GATEWAY_ID: Final = re.compile(r"vpngw-[0-9a-z]{8}")
_INTERFACE_NAME: Final = re.compile(r"[\x21-\x7e]+")
_TIMESTAMP: Final = re.compile(r"[0-9]{1,12}")
_TASK_NUMBER: Final = re.compile(r"[0-9]{1,12}")


def error_body(error: V3Error, request_id: str) -> dict[str, Any]:
    return {"Response": {"Error": {"Code": error.code, "Message": error.message}, "RequestId": request_id}}


def success_body(answer: Mapping[str, Any], request_id: str) -> dict[str, Any]:
    return {"Response": {**answer, "RequestId": request_id}}


def fault_error(code: int) -> V3Error:
    """An injected fault or a rate limit: 4400 is ``RequestLimitExceeded``, anything else ``InternalError``."""
    if code == 4400:
        return V3Error("RequestLimitExceeded", "Your request frequency has exceeded the limit (simulated).")
    return V3Error("InternalError", "An internal error occurred, please retry later (simulated).")


# --- verifying --------------------------------------------------------------------------------------------------


def authenticate(state: SimState, method: str, host: str, headers: Mapping[str, str], body: bytes) -> tuple[str, str]:
    """Steps 1 to 5 of the module's docstring; returns ``(action, secret_id)``. ``host`` is the ``Host`` header
    as received; ``headers`` is looked up case-insensitively by the caller's mapping."""
    content_type = headers.get("Content-Type", "")
    if content_type.partition(";")[0].strip().lower() != "application/json":
        raise V3Error(
            "InvalidParameter",
            "Content-Type must be application/json: this endpoint speaks API 3.0 with TC3-HMAC-SHA256 "
            "(API 2.0 is at /v2/index.php)",
        )
    missing = [name for name in ("X-TC-Action", "X-TC-Version", "X-TC-Timestamp") if not headers.get(name)]
    if missing:
        raise V3Error("MissingParameter", f"The request is missing the required header(s) {', '.join(missing)}.")
    parsed = parse_tc3_authorization(headers.get("Authorization", ""))
    if parsed is None or parsed[3] != TC3_SIGNED_HEADERS:
        raise V3Error(
            "AuthFailure.InvalidAuthorization",
            "The Authorization header does not conform to the TC3-HMAC-SHA256 standard: TC3-HMAC-SHA256 "
            f"Credential=<SecretId>/<date>/vpc/tc3_request, SignedHeaders={TC3_SIGNED_HEADERS}, Signature=<hex>",
        )
    secret_id, date, service, _, signature = parsed
    secret_key = state.secret_key_for(secret_id)
    if secret_key is None:
        raise V3Error("AuthFailure.SecretIdNotFound", "The SecretId is not found, please ensure it is correct.")
    timestamp = _timestamp(headers["X-TC-Timestamp"], state.clock())
    if date != tc3_date(timestamp):
        message = f"The Credential date {date} is not the UTC date of X-TC-Timestamp ({tc3_date(timestamp)})."
        raise V3Error("AuthFailure.SignatureFailure", message)
    if service != SERVICE:
        message = f"The Credential service {shown(service)!r} is not {SERVICE!r}."
        raise V3Error("AuthFailure.SignatureFailure", message)
    try:
        expected = tc3_signature(
            secret_key,
            service=service,
            host=host,
            timestamp=timestamp,
            payload=body,
            content_type=content_type,
            http_method=method,
        )
    except ValueError:
        expected = ""
    if not expected or not hmac.compare_digest(expected, signature):
        raise V3Error(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        )
    if headers["X-TC-Version"] != API_VERSION:
        raise V3Error("NoSuchVersion", f"The API version {shown(headers['X-TC-Version'])!r} does not exist.")
    action = headers["X-TC-Action"]
    if action not in ACTIONS:
        known = ", ".join(sorted(ACTIONS))
        raise V3Error("InvalidAction", f"The action {shown(action)!r} does not exist (known: {known}).")
    return action, secret_id


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
    except (ValueError, RecursionError):
        raise V3Error("InvalidParameter", "The request body is not valid UTF-8 JSON.") from None
    if not isinstance(document, dict):
        raise V3Error("InvalidParameter", "The request body must be a JSON object.")
    return document


# --- parameters -------------------------------------------------------------------------------------------------


def _reject_unknown(params: Mapping[str, Any], known: tuple[str, ...]) -> None:
    for name in sorted(params):
        if name not in known:
            raise V3Error("UnknownParameter", f"The parameter `{shown(name)}` is not recognized.")


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


def _conn_id(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise V3Error("InvalidParameter", f"{name} must be a string.")
    if CONN_ID.fullmatch(value) is None:
        message = f"{name}: {shown(value)!r} is not a VPN connection id such as vpnx-f49l6u0z."
        raise V3Error("InvalidParameterValue.Malformed", message)
    return value


# --- the actions ------------------------------------------------------------------------------------------------

_FILTER_KEYS: Final[Mapping[str, Callable[[Connection], str]]] = {
    "vpc-id": lambda c: c.vpc_id,
    "vpn-gateway-id": lambda c: c.gateway_id,
    "customer-gateway-id": lambda c: c.customer_gateway.id,
    "vpn-connection-name": lambda c: c.name,
    "vpn-connection-id": lambda c: c.id,
}


def describe_vpn_connections(state: SimState, params: Mapping[str, Any], request_id: str) -> dict[str, Any]:
    """``{"TotalCount", "VpnConnectionSet"}`` by ``VpnConnectionIds`` (at most 100) or ``Filters`` (at most 10, 5
    values each; values of one filter are alternatives, filters all apply; names exact), not both; paged by
    ``Offset`` and ``Limit`` (default 20, at most 100), oldest first. A well-formed unknown id is
    ``ResourceNotFound``."""
    _reject_unknown(params, ("VpnConnectionIds", "Filters", "Offset", "Limit"))
    ids = _string_list(params.get("VpnConnectionIds", []), "VpnConnectionIds", DESCRIBE_IDS_MAX)
    filters = _filters(params.get("Filters", []))
    if ids and filters:
        raise V3Error("InvalidParameter.Coexist", "VpnConnectionIds and Filters cannot be specified at the same time.")
    offset = _int_param(params, "Offset", 0, 2**31 - 1)
    limit = _int_param(params, "Limit", DESCRIBE_LIMIT_DEFAULT, DESCRIBE_LIMIT_MAX)
    found = state.all()
    if ids:
        for one in ids:
            _conn_id(one, "VpnConnectionIds")
        known = {c.id for c in found}
        unknown = [one for one in dict.fromkeys(ids) if one not in known]
        if unknown:
            raise V3Error("ResourceNotFound", f"The VPN connection(s) {', '.join(unknown)} do not exist.")
        found = [c for c in found if c.id in set(ids)]
    for key, values in filters:
        found = [c for c in found if _FILTER_KEYS[key](c) in values]
    page = found[offset : offset + limit]
    return {"TotalCount": len(found), "VpnConnectionSet": [vpn_connection(c) for c in page]}


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
            raise V3Error("UnknownParameter", f"The parameter `{where}.{shown(extra[0])}` is not recognized.")
        name = one["Name"]
        if not isinstance(name, str) or name not in _FILTER_KEYS:
            shown_name = shown(name) if isinstance(name, str) else "(not a string)"
            message = f"{where}.Name {shown_name!r} is not one of {', '.join(_FILTER_KEYS)}."
            raise V3Error("InvalidParameter.FilterInvalidKey", message)
        values = one["Values"]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise V3Error("InvalidParameter.FilterValuesNotList", f"{where}.Values must be a list of strings.")
        if len(values) > FILTER_VALUES_MAX:
            message = f"{where}.Values: at most {FILTER_VALUES_MAX} values are allowed."
            raise V3Error("InvalidParameterValue.LimitExceeded", message)
        filters.append((name, frozenset(values)))
    return filters


def modify_vpn_connection_attribute(state: SimState, params: Mapping[str, Any], request_id: str) -> dict[str, Any]:
    """Check the edit and start its task, named by ``request_id`` when the world's ``modifyTask`` is true.
    Answers ``{}`` (the envelope adds ``RequestId``)."""
    if params.get("VpnConnectionId") is None:
        raise V3Error("MissingParameter", "The request is missing the required parameter `VpnConnectionId`.")
    conn_id = _conn_id(params["VpnConnectionId"], "VpnConnectionId")
    edit = parse_modify(params)
    try:
        state.modify(conn_id, edit, request_id=request_id, queryable=state.modify_task)
    except WorldError as error:
        raise world_error(error) from None
    return {}


_STATUS: Final = {"running": "RUNNING", "succeeded": "SUCCESS", "failed": "FAILED"}


def describe_vpc_task_result(state: SimState, params: Mapping[str, Any], request_id: str) -> dict[str, Any]:
    """``{"Status": SUCCESS|FAILED|RUNNING, "Output", "Result": []}`` for ``TaskId``: the RequestId of the call
    that started the task, or an API 2.0 task's number as a string. ``Output`` holds a failed task's text."""
    _reject_unknown(params, ("TaskId",))
    ref = params.get("TaskId")
    if ref is None:
        raise V3Error("MissingParameter", "The request is missing the required parameter `TaskId`.")
    if not isinstance(ref, str):
        raise V3Error("InvalidParameter", "TaskId must be a string: the RequestId of the call that started the task.")
    task = state.task_named(ref)
    if task is None and _TASK_NUMBER.fullmatch(ref) is not None:
        task = state.task(int(ref))
    if task is None:
        raise V3Error("ResourceNotFound", f"The task {shown(ref)} does not exist.")
    status = _STATUS[task.status.value]
    return {"Status": status, "Output": task.message if status == "FAILED" else "", "Result": []}


def describe_customer_gateway_vendors(state: SimState, params: Mapping[str, Any], request_id: str) -> dict[str, Any]:
    """``{"CustomerGatewayVendorSet": [{Platform, SoftwareVersion, VendorName}, ...]}``; takes no parameter."""
    _reject_unknown(params, ())
    return {"CustomerGatewayVendorSet": [vendor.to_json() for vendor in VENDORS]}


_DOWNLOAD_PARAMS: Final = ("VpnGatewayId", "VpnConnectionId", "CustomerGatewayVendor", "InterfaceName")
_VENDOR_FIELDS: Final = ("Platform", "SoftwareVersion", "VendorName")


def _required_string(params: Mapping[str, Any], name: str, where: str = "") -> str:
    value = params.get(name)
    if value is None:
        raise V3Error("MissingParameter", f"The request is missing the required parameter `{where}{name}`.")
    if not isinstance(value, str):
        raise V3Error("InvalidParameter", f"{where}{name} must be a string.")
    return value


def download_customer_gateway_configuration(
    state: SimState, params: Mapping[str, Any], request_id: str
) -> dict[str, Any]:
    """``{"CustomerGatewayConfiguration": text}`` for the connection on the gateway, for a listed vendor."""
    _reject_unknown(params, _DOWNLOAD_PARAMS)
    for name in _DOWNLOAD_PARAMS:
        if params.get(name) is None:
            raise V3Error("MissingParameter", f"The request is missing the required parameter `{name}`.")
    gateway_ref = _required_string(params, "VpnGatewayId")
    conn_id = _conn_id(params["VpnConnectionId"], "VpnConnectionId")
    raw_vendor = params["CustomerGatewayVendor"]
    if not isinstance(raw_vendor, dict):
        raise V3Error(
            "InvalidParameter", "CustomerGatewayVendor must be an object {Platform, SoftwareVersion, VendorName}."
        )
    extra = sorted(set(raw_vendor) - set(_VENDOR_FIELDS))
    if extra:
        raise V3Error("UnknownParameter", f"The parameter `CustomerGatewayVendor.{shown(extra[0])}` is not recognized.")
    platform, version, name = (_required_string(raw_vendor, key, "CustomerGatewayVendor.") for key in _VENDOR_FIELDS)
    interface = _required_string(params, "InterfaceName")
    if not 1 <= len(interface) <= INTERFACE_NAME_MAX or _INTERFACE_NAME.fullmatch(interface) is None:
        message = (
            f"InterfaceName: {shown(interface)!r} is not an interface name such as eth0 (1 to 64 visible characters)."
        )
        raise V3Error("InvalidParameterValue.Malformed", message)
    if _GATEWAY_ID.fullmatch(gateway_ref) is None:
        message = f"VpnGatewayId: {shown(gateway_ref)!r} is not a VPN gateway id such as vpngw-p4lmbqwn."
        raise V3Error("InvalidParameterValue.Malformed", message)
    if state.gateway_id_of(gateway_ref) != gateway_ref:
        raise V3Error("ResourceNotFound", f"The VPN gateway {gateway_ref} does not exist.")
    try:
        connection = state.get(conn_id)
    except WorldError as error:
        raise world_error(error) from None
    if connection.gateway_id != gateway_ref:
        raise V3Error("ResourceNotFound", f"The VPN connection {conn_id} does not exist on VPN gateway {gateway_ref}.")
    vendor = find_vendor(name, platform, version)
    if vendor is None:
        wanted = f"{shown(name)}/{shown(platform)}/{shown(version)}"
        message = (
            f"CustomerGatewayVendor: {wanted!r} is not a supported customer gateway vendor "
            "(see DescribeCustomerGatewayVendors)."
        )
        raise V3Error("InvalidParameterValue", message)
    text = render(vendor, connection, state.gateway_of(connection), interface)
    return {"CustomerGatewayConfiguration": text}


_Handler = Callable[[SimState, Mapping[str, Any], str], dict[str, Any]]
_HANDLERS: Final[Mapping[str, _Handler]] = {
    "DescribeVpnConnections": describe_vpn_connections,
    "ModifyVpnConnectionAttribute": modify_vpn_connection_attribute,
    "DescribeVpcTaskResult": describe_vpc_task_result,
    "DescribeCustomerGatewayVendors": describe_customer_gateway_vendors,
    "DownloadCustomerGatewayConfiguration": download_customer_gateway_configuration,
}
ACTIONS: Final = frozenset(_HANDLERS)


def run(state: SimState, action: str, params: Mapping[str, Any], request_id: str) -> dict[str, Any]:
    """Run ``action`` (one of :data:`ACTIONS`); the answer's fields besides ``RequestId``. Raises V3Error."""
    return _HANDLERS[action](state, params, request_id)
