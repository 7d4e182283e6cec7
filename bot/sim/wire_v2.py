"""API 2.0's wire (``/v2/index.php``): verify a request, parse it into the world's typed queries and edits, and
render the answers and errors as the service does (``{"code", "message", "codeDesc", ...}``, HTTP 200).

Checked in this order (``bot.sim.server`` reads the parameters and applies the faults between 7 and 8):

1. the parameters read: the query, plus a POST's form body (any other POST body, or a name given twice, 4000);
2. ``Action``, ``Timestamp``, ``Nonce``, ``SecretId``, ``Signature``, ``Region`` present (4000 MissingParameter);
3. the SecretId known (4104 AuthFailure.SecretIdNotFound);
4. ``Timestamp`` unix seconds (4000) within 300 s of the world's clock (4500 ReplayAttack);
5. ``Signature`` right for the method, the ``Host`` header AS RECEIVED (port included, as ``QcloudApi`` signs
   its endpoint), the path and every parameter, HmacSHA256 when ``SignatureMethod`` says so, else HmacSHA1
   (4100 AuthFailure.SignatureFailure);
6. ``Nonce`` a positive whole number not seen for that SecretId in the last 300 s (4500; only requests whose
   signature verified record their nonce);
7. ``Action`` one of ``DescribeVpnConn``, ``ModifyVpnConnEx``, ``DescribeVpcTaskResult`` (4000 InvalidAction);
8. the ``rateLimits`` of the action for that SecretId (4400 RequestLimitExceeded, the action is not run);
9. the action's own parameters and the world's rules: 4000 InvalidParameter / MissingParameter (every problem
   in one message, ``name: detail; name: detail``), 4000 InvalidVpnConnName for a name the VPC already has,
   5000 InvalidVpc.NotFound / InvalidVpnGw.NotFound (for the gateway and the connection, as the seed lists it)
   / InvalidTask.NotFound, 5100 OperationDenied.VpnConnBusy while an edit runs (the seed documents no code for
   it: the simulator's choice).

``ModifyVpnConnEx`` reads ``userGwCidrBlock.N`` (every VPC-side CIDR gets that list of IDC-side CIDRs) or
``spdAcl.N`` (each a JSON object ``{"<vpc cidr>": ["<idc cidr>", ...]}``, order kept; it wins when both are sent);
one of them is required. IKE and IPsec fields come as ``IKESet.field`` or ``IKESet.0.field``;
``IKESet.encryptAlgorithm`` is the IPsec encryption algorithm (the seed's table). Enums take the seed's values
only, spelled as the seed spells them. It answers ``data.taskId`` (an int), as the seed documents.
"""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any, Final

from bot.sim.model import ConnectionEdit, Field, IkeEdit, IpsecEdit, Problem, Reason, WorldError
from bot.sim.rules import shown
from bot.sim.values import (
    DhGroup,
    ExchangeMode,
    Identity,
    IkeAuthentication,
    IkeEncryption,
    IpsecEncryption,
    IpsecIntegrity,
    PfsGroup,
    seed_choices,
    seed_text,
    seed_value,
)
from bot.sim.world import SimState, task_status_code
from bot.tencent.signing import verify as verify_signature

__all__ = [
    "ACTIONS",
    "API_PATH",
    "CLOCK_SKEW_SECONDS",
    "COMMON_PARAMS",
    "NONCE_WINDOW_SECONDS",
    "NonceCache",
    "V2Error",
    "authenticate",
    "fault_error",
    "run",
]

API_PATH: Final = "/v2/index.php"
REQUIRED_COMMON: Final = ("Action", "Timestamp", "Nonce", "SecretId", "Signature", "Region")
OPTIONAL_COMMON: Final = ("SignatureMethod", "Token", "RequestClient", "Version")
COMMON_PARAMS: Final = frozenset(REQUIRED_COMMON + OPTIONAL_COMMON)
CLOCK_SKEW_SECONDS: Final = 300
NONCE_WINDOW_SECONDS: Final = 300
DESCRIBE_LIMIT_DEFAULT: Final = 20
DESCRIBE_LIMIT_MAX: Final = 50
_NONCE: Final = re.compile("[0-9]{1,19}")
_WHOLE: Final = re.compile("-?[0-9]{1,12}")


class V2Error(Exception):
    """An answer ``{"code": code, "message": message, "codeDesc": code_desc}``."""

    def __init__(self, code: int, code_desc: str, message: str) -> None:
        super().__init__(f"{code} {code_desc}: {message}")
        self.code = code
        self.code_desc = code_desc
        self.message = message

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "codeDesc": self.code_desc}


def invalid(problems: list[tuple[str, str]], code_desc: str = "InvalidParameter") -> V2Error:
    return V2Error(4000, code_desc, "; ".join(f"{name}: {detail}" for name, detail in problems))


def fault_error(code: int) -> V2Error:
    """The answer of an injected fault or a rate limit: 4400 over quota, anything else 6000."""
    if code == 4400:
        return V2Error(4400, "RequestLimitExceeded", "over quota: too many requests (simulated)")
    return V2Error(6000, "InternalError", "internal error, please retry later (simulated)")


# --- verifying ----------------------------------------------------------------------------------------------------


class NonceCache:
    """The nonces seen per SecretId within a sliding window of ``window`` seconds."""

    def __init__(self, window: float = NONCE_WINDOW_SECONDS) -> None:
        self._window = window
        self._seen: dict[tuple[str, str], float] = {}
        self._order: collections.deque[tuple[float, tuple[str, str]]] = collections.deque()

    def replayed(self, secret_id: str, nonce: str, now: float) -> bool:
        """True when ``nonce`` was already recorded for ``secret_id`` in the window; otherwise records it."""
        while self._order and self._order[0][0] <= now - self._window:
            seen_at, key = self._order.popleft()
            if self._seen.get(key) == seen_at:
                del self._seen[key]
        key = (secret_id, nonce)
        if key in self._seen:
            return True
        self._seen[key] = now
        self._order.append((now, key))
        return False


def authenticate(
    state: SimState, nonces: NonceCache, method: str, host: str, path: str, params: Mapping[str, str]
) -> str:
    """Steps 2 to 7 of the module's docstring; returns the action. ``host`` is the ``Host`` header as received."""
    missing = [name for name in REQUIRED_COMMON if not params.get(name)]
    if missing:
        raise V2Error(4000, "MissingParameter", f"missing required parameter(s): {', '.join(missing)}")
    secret_id = params["SecretId"]
    secret_key = state.secret_key_for(secret_id)
    if secret_key is None:
        raise V2Error(4104, "AuthFailure.SecretIdNotFound", "the SecretId does not exist or is disabled")
    now = state.clock()
    try:
        timestamp = int(params["Timestamp"])
    except ValueError:
        raise V2Error(4000, "InvalidParameter", "Timestamp: must be unix seconds") from None
    if abs(timestamp - now) > CLOCK_SKEW_SECONDS:
        message = f"Timestamp is {timestamp - now:+.0f} s away from the server's time (at most {CLOCK_SKEW_SECONDS})"
        raise V2Error(4500, "ReplayAttack", message)
    if not verify_signature(secret_key, method, host, path, params):
        message = "the signature does not match: check the SecretKey, the string to sign and the SignatureMethod"
        raise V2Error(4100, "AuthFailure.SignatureFailure", message)
    nonce = params["Nonce"]
    if _NONCE.fullmatch(nonce) is None or int(nonce) == 0:
        raise V2Error(4000, "InvalidParameter", "Nonce: must be a positive whole number")
    if nonces.replayed(secret_id, str(int(nonce)), now):
        message = f"the Nonce was already used with this SecretId in the last {NONCE_WINDOW_SECONDS} s"
        raise V2Error(4500, "ReplayAttack", message)
    action = params["Action"]
    if action not in ACTIONS:
        known = ", ".join(sorted(ACTIONS))
        raise V2Error(4000, "InvalidAction", f"action not found: {shown(action)!r} (known: {known})")
    return action


# --- rendering the world's errors ---------------------------------------------------------------------------------

_IKE: Final[Mapping[str, tuple[str, type[Any]]]] = {
    "propoEncryAlgorithm": ("encryption", IkeEncryption),
    "propoAuthenAlgorithm": ("authentication", IkeAuthentication),
    "exchangeMode": ("exchange_mode", ExchangeMode),
    "localIdentity": ("local_identity", Identity),
    "remoteIdentity": ("remote_identity", Identity),
    "localAddress": ("local_address", str),
    "remoteAddress": ("remote_address", str),
    "localFqdnName": ("local_fqdn", str),
    "remoteFqdnName": ("remote_fqdn", str),
    "dhGroupName": ("dh_group", DhGroup),
    "ikeSaLifetimeSeconds": ("sa_lifetime_seconds", int),
}
_IPSEC: Final[Mapping[str, tuple[str, type[Any]]]] = {
    "encryptAlgorithm": ("encryption", IpsecEncryption),
    "integrityAlgorith": ("integrity", IpsecIntegrity),
    "pfsDhGroup": ("pfs_group", PfsGroup),
    "ipsecSaLifetimeSeconds": ("sa_lifetime_seconds", int),
    "ipsecSaLifetimeTraffic": ("sa_lifetime_traffic", int),
}
_BLOCKS: Final = {"IKESet": ("ike", _IKE), "IPsecSet": ("ipsec", _IPSEC)}
NAMES: Final[Mapping[Field, str]] = {
    Field.VPC: "vpcId",
    Field.GATEWAY: "vpnGwId",
    Field.CONNECTION: "vpnConnId",
    Field.TASK: "taskId",
    Field.NAME: "vpnConnName",
    Field.PRE_SHARED_KEY: "preSharedKey",
    Field.SPD: "spdAcl",
    Field.REMOTES: "userGwCidrBlock",
    **{
        Field(f"{block}.{attr}"): f"{prefix}.{name}"
        for prefix, (block, fields) in _BLOCKS.items()
        for name, (attr, _) in fields.items()
    },
}


def _problem_text(problem: Problem) -> tuple[str, str]:
    detail = problem.detail
    if problem.related is not None:
        detail = detail.replace("<related>", NAMES.get(problem.related, str(problem.related)))
    if problem.value is not None:
        detail = detail.replace("<value>", seed_text(problem.value))
    return NAMES.get(problem.field, str(problem.field)), detail


_NOT_FOUND: Final = {Field.VPC: "InvalidVpc.NotFound", Field.TASK: "InvalidTask.NotFound"}


def world_error(error: WorldError, before: Sequence[tuple[str, str]] = ()) -> V2Error:
    """The API 2.0 answer to ``error``, after the wire's own ``before`` problems."""
    problem = error.problems[0]
    if problem.reason is Reason.NOT_FOUND and problem.field is not Field.CUSTOMER_GATEWAY:
        return V2Error(5000, _NOT_FOUND.get(problem.field, "InvalidVpnGw.NotFound"), problem.detail)
    if problem.reason is Reason.BUSY:
        return V2Error(5100, "OperationDenied.VpnConnBusy", problem.detail)
    problems = [*before, *(_problem_text(p) for p in error.problems)]
    code_desc = "InvalidVpnConnName" if not before and problem.reason is Reason.NAME_TAKEN else "InvalidParameter"
    return invalid(problems, code_desc)


# --- parameters ---------------------------------------------------------------------------------------------------


def wire_names(params: Mapping[str, str]) -> dict[str, str]:
    """``params`` with ``_`` read as ``.`` in names, as the service does; two names that become one are a 4000."""
    result: dict[str, str] = {}
    for name, value in params.items():
        key = name.replace("_", ".")
        if key in result:
            raise invalid([(shown(key), "given more than once")])
        result[key] = value
    return result


def _reject_unknown(params: Mapping[str, str], known: tuple[str, ...]) -> None:
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise invalid([(shown(name), "unknown parameter for this action") for name in unknown])


def _int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int | None = None) -> int:
    text = params.get(name)
    if text is None:
        return default
    if _WHOLE.fullmatch(text) is None:
        raise invalid([(name, "must be a whole number")])
    number = int(text)
    if number < low or (high is not None and number > high):
        bounds = f"at least {low}" if high is None else f"{low} to {high}"
        raise invalid([(name, f"{number} is out of range: must be {bounds}")])
    return number


def _choice_param(params: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str | None:
    value = params.get(name)
    if value is not None and value not in choices:
        raise invalid([(name, f"must be one of {', '.join(choices)}")])
    return value


# --- the actions --------------------------------------------------------------------------------------------------

_DESCRIBE_PARAMS: Final = (
    "vpcId",
    "vpnGwId",
    "vpnConnId",
    "vpnConnName",
    "offset",
    "limit",
    "orderField",
    "orderDirection",
)


def describe_vpn_conn(state: SimState, params: Mapping[str, str]) -> dict[str, Any]:
    """``{"totalCount", "data": [items]}``: filtered (ids ``un*`` or numeric, ``vpnConnName`` fuzzy), ordered by
    ``orderField`` (``createTime`` default, ``vpnConnName``) then numeric id, paged (``limit`` 1-50, default 20)."""
    params = wire_names(params)
    _reject_unknown(params, _DESCRIBE_PARAMS)
    offset = _int_param(params, "offset", 0, 0)
    limit = _int_param(params, "limit", DESCRIBE_LIMIT_DEFAULT, 1, DESCRIBE_LIMIT_MAX)
    order_field = _choice_param(params, "orderField", ("createTime", "vpnConnName")) or "createTime"
    descending = _choice_param(params, "orderDirection", ("asc", "desc")) == "desc"
    vpc = params.get("vpcId")
    gateway = params.get("vpnGwId")
    conn = params.get("vpnConnId")
    fuzzy = params.get("vpnConnName")
    vpc_id = None if vpc is None else state.vpc_id_of(vpc)
    gateway_id = None if gateway is None else state.gateway_id_of(gateway)
    found = [
        c
        for c in state.all()
        if (vpc is None or c.vpc_id == vpc_id)
        and (gateway is None or c.gateway_id == gateway_id)
        and (conn is None or conn in (c.id, str(c.number)))
        and (fuzzy is None or fuzzy.casefold() in c.name.casefold())
    ]
    found.sort(key=lambda c: (c.name if order_field == "vpnConnName" else c.created, c.number), reverse=descending)
    page = found[offset : offset + limit]
    return {"totalCount": len(found), "data": [state.connection(c.id) for c in page]}


_IDS: Final = ("vpcId", "vpnGwId", "vpnConnId")
_CIDR_ELEMENT: Final = re.compile(r"userGwCidrBlock\.([0-9]{1,4})")
_SPD_ELEMENT: Final = re.compile(r"spdAcl\.([0-9]{1,4})")
_BLOCK_FIELD: Final = re.compile(r"(IKESet|IPsecSet)\.(?:([0-9]+)\.)?([A-Za-z]+)")


def modify_vpn_conn_ex(state: SimState, params: Mapping[str, str]) -> dict[str, Any]:
    """Check the edit, start its task, answer ``data`` as the seed's example: ``vpnGwId``, ``vpcConnId``,
    ``taskId``, ``vpcConnStatus`` 2, ``preSharedKey``, ``userGwSubnetList``, ``userGwId``."""
    params = wire_names(params)
    missing = [name for name in _IDS if not params.get(name)]
    if missing:
        raise V2Error(4000, "MissingParameter", f"missing required parameter(s): {', '.join(missing)}")
    try:
        connection = state.find(params["vpcId"], params["vpnGwId"], params["vpnConnId"])
    except WorldError as error:
        raise world_error(error) from None
    edit, problems = parse_edit({k: v for k, v in params.items() if k not in _IDS})
    try:
        if problems:
            _, found = state.check(connection.id, edit)
            raise world_error(WorldError(found), problems) if found else invalid(problems)
        task = state.modify(connection.id, edit)
    except WorldError as error:
        raise world_error(error, problems) from None
    after = task.after
    return {
        "data": {
            "vpnGwId": after.gateway_id,
            "vpcConnId": after.id,
            "taskId": task.number,
            "vpcConnStatus": 2,
            "preSharedKey": after.pre_shared_key,
            "userGwSubnetList": after.remote_cidrs(),
            "userGwId": after.customer_gateway.number,
        }
    }


def parse_edit(params: Mapping[str, str]) -> tuple[ConnectionEdit, list[tuple[str, str]]]:
    """``ModifyVpnConnEx``'s editing parameters (ids excluded) as a typed edit, and the wire's problems with them
    (unknown names, values outside the seed's sets, ill-formed list elements) as ``(name, detail)``."""
    problems: list[tuple[str, str]] = []
    plain: dict[str, str] = {}
    blocks: dict[str, dict[str, Any]] = {"ike": {}, "ipsec": {}}
    cidrs: dict[int, str] = {}
    rules: dict[int, tuple[str, tuple[str, ...]]] = {}
    for name, value in params.items():
        if (match := _CIDR_ELEMENT.fullmatch(name)) is not None:
            if not value.strip() or re.search(r"[\s,;]", value):
                problems.append(("userGwCidrBlock", f"{name} must hold exactly one CIDR such as 10.0.0.0/24"))
            cidrs[int(match[1])] = value
        elif (match := _SPD_ELEMENT.fullmatch(name)) is not None:
            rule = _spd_element(name, value, problems)
            if rule is not None:
                rules[int(match[1])] = rule
        elif name in ("vpnConnName", "preSharedKey"):
            plain[name] = value
        elif (match := _BLOCK_FIELD.fullmatch(name)) is not None and match[2] in (None, "0"):
            _block_field(match[1], match[3], value, blocks, problems, shown(name))
        else:
            problems.append((shown(name), "unknown parameter for ModifyVpnConnEx"))
    if not cidrs and not rules:
        problems.append(("userGwCidrBlock", "give userGwCidrBlock or spdAcl: one of them is required"))
    spd = tuple(rules[i] for i in sorted(rules)) if rules else None
    remotes = tuple(cidrs[i] for i in sorted(cidrs)) if cidrs and spd is None else None
    edit = ConnectionEdit(
        name=plain.get("vpnConnName"),
        pre_shared_key=plain.get("preSharedKey"),
        spd=spd,
        remotes=remotes,
        ike=IkeEdit(**blocks["ike"]),
        ipsec=IpsecEdit(**blocks["ipsec"]),
    )
    return edit, problems


def _spd_element(name: str, value: str, problems: list[tuple[str, str]]) -> tuple[str, tuple[str, ...]] | None:
    try:
        document = json.loads(value)
    except (ValueError, RecursionError):
        document = None
    if isinstance(document, dict) and len(document) == 1:
        [(local, remotes)] = document.items()
        if isinstance(remotes, list) and all(isinstance(r, str) for r in remotes):
            return local, tuple(remotes)
    problems.append(("spdAcl", f'{name} must be a JSON object such as {{"10.0.0.0/24": ["192.168.1.0/24"]}}'))
    return None


def _block_field(
    prefix: str,
    field_name: str,
    value: str,
    blocks: dict[str, dict[str, Any]],
    problems: list[tuple[str, str]],
    given: str,
) -> None:
    if prefix == "IKESet" and field_name == "encryptAlgorithm":
        prefix = "IPsecSet"  # the seed lists the IPsec algorithm under IKESet
    block, fields = _BLOCKS[prefix]
    spec = fields.get(field_name)
    if spec is None:
        problems.append((given, "unknown parameter for ModifyVpnConnEx"))
        return
    name = f"{prefix}.{field_name}"
    attr, kind = spec
    if attr in blocks[block]:
        problems.append((name, "given more than once"))
        return
    parsed = _value(kind, value)
    if parsed is None:
        why = (
            "must be a whole number"
            if kind is int
            else f"{shown(value)!r} is not one of {', '.join(seed_choices(kind))}"
        )
        problems.append((name, why))
        return
    blocks[block][attr] = parsed


def _value(kind: type[Any], text: str) -> Any:
    if kind is str:
        return text
    if kind is int:
        return int(text) if _WHOLE.fullmatch(text) else None
    assert issubclass(kind, StrEnum)
    return seed_value(kind, text)


def describe_vpc_task_result(state: SimState, params: Mapping[str, str]) -> dict[str, Any]:
    """``{"data": {"status": 0|1|2}}`` (succeeded, failed, running); a failed task adds ``output`` and ``message``
    holding the failure text. A task an API 3.0 edit left unqueryable does not exist here either."""
    params = wire_names(params)
    _reject_unknown(params, ("taskId",))
    if "taskId" not in params:
        raise V2Error(4000, "MissingParameter", "missing required parameter(s): taskId")
    number = _int_param(params, "taskId", 0, 0)
    task = state.task(number)
    if task is None:
        raise V2Error(5000, "InvalidTask.NotFound", f"task {number} does not exist")
    data: dict[str, Any] = {"status": task_status_code(task)}
    if task.done and task.outcome == "failed":
        data.update(output=task.message, message=task.message)
    return {"data": data}


_Handler = Callable[[SimState, Mapping[str, str]], dict[str, Any]]
_HANDLERS: Final[Mapping[str, _Handler]] = {
    "DescribeVpnConn": describe_vpn_conn,
    "ModifyVpnConnEx": modify_vpn_conn_ex,
    "DescribeVpcTaskResult": describe_vpc_task_result,
}
ACTIONS: Final = frozenset(_HANDLERS)


def run(state: SimState, action: str, params: Mapping[str, str]) -> dict[str, Any]:
    """Run ``action`` (one of :data:`ACTIONS`) with its parameters (common ones removed); the answer's fields
    besides ``code``, ``message`` and ``codeDesc``. Raises :class:`V2Error`."""
    return _HANDLERS[action](state, params)
