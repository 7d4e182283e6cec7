"""The simulator's world and rules: VPCs, VPN gateways, connections and tasks, with no HTTP.

A :class:`SimState` answers the API 2.0 actions ``DescribeVpnConn``, ``ModifyVpnConnEx`` and
``DescribeVpcTaskResult`` from plain ``name -> value`` parameters (the wire form, common parameters removed), and
raises :class:`SimApiError` where the real service answers an error. The API 3.0 dialect (``bot.sim.v3``) is a
translation onto these same actions, so both dialects see one world: :data:`API2_ACTION` names each API 3.0 action's
API 2.0 equivalent, under which its faults are looked up and its arrivals counted. Time comes from an injectable ``clock``: tasks
advance lazily on every call, so tests move time forward without sleeping. Everything runs on one event loop and no
method awaits, so each call is atomic.

Edits are validated with the client's own rules (``bot.vpn``): ``connection_from_describe`` reads the stored item,
``propose`` applies the request's edits, and every problem is answered at once as code 4000.
"""

from __future__ import annotations

import copy
import importlib.resources
import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, model_validator
from pydantic.alias_generators import to_camel

from bot.sim.faults import Faults, InjectedFault, TaskOutcome, draw
from bot.vpn.connection import IKE_BLOCKS, IPSEC_BLOCKS, VpnConnection, connection_from_describe
from bot.vpn.edit import PSK, Proposal, propose
from bot.vpn.params import (
    ID_PARAMS,
    InvalidParametersError,
    Pair,
    ParameterError,
    canonical_name,
    first_pair_overlap,
)

__all__ = [
    "ACTIONS",
    "API2_ACTION",
    "DEMO_SECRET_ID",
    "DEMO_SECRET_KEY",
    "SimApiError",
    "SimState",
    "Vpc",
    "VpnGateway",
    "World",
    "load_world",
]

FIRST_TASK_ID: Final = 12614
DESCRIBE_LIMIT_DEFAULT: Final = 20
DESCRIBE_LIMIT_MAX: Final = 50
STATUS_MODIFYING: Final = 2
STATUS_NORMAL: Final = 6
TASK_SUCCEEDED, TASK_FAILED, TASK_RUNNING = 0, 1, 2

_NAME_MAX_SHOWN = 64

# Each API 3.0 action (Version 2017-03-12) and the API 2.0 action it is answered by.
API2_ACTION: Final[Mapping[str, str]] = {
    "DescribeVpnConnections": "DescribeVpnConn",
    "ModifyVpnConnectionAttribute": "ModifyVpnConnEx",
    "DescribeVpcTaskResult": "DescribeVpcTaskResult",
}
_SAME_ACTION: Final[Mapping[str, frozenset[str]]] = {
    name: frozenset({v3, v2}) for v3, v2 in API2_ACTION.items() for name in (v3, v2)
}


class SimApiError(Exception):
    """An API error as the service answers it: ``{"code": code, "message": message, "codeDesc": code_desc}``.

    ``reason`` tells apart errors that share a code but that API 3.0 answers differently (``"spd-overlap"``: peer
    networks overlapping another connection's, a 4000 on API 2.0); empty for the others.
    """

    def __init__(self, code: int, code_desc: str, message: str, *, reason: str = "") -> None:
        super().__init__(f"{code} {code_desc}: {message}")
        self.code = code
        self.code_desc = code_desc
        self.message = message
        self.reason = reason

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "codeDesc": self.code_desc}


def invalid_parameters(problems: Mapping[str, str]) -> SimApiError:
    """Code 4000 ``InvalidParameter`` whose message names every parameter in ``problems``."""
    return SimApiError(4000, "InvalidParameter", str(InvalidParametersError(problems)))


def missing_parameters(names: Iterable[str]) -> SimApiError:
    """Code 4000 ``MissingParameter`` naming the required parameters that were not sent."""
    return SimApiError(4000, "MissingParameter", f"missing required parameter(s): {', '.join(names)}")


def unknown_action(action: str) -> SimApiError:
    """Code 4000 ``InvalidAction`` for an action the simulator does not answer."""
    known = ", ".join(sorted(ACTIONS))
    return SimApiError(4000, "InvalidAction", f"action not found: {shown_name(action)!r} (known: {known})")


def shown_name(name: str) -> str:
    """A request-supplied name, cut short enough to quote in a message or a log line."""
    return name if len(name) <= _NAME_MAX_SHOWN else name[:_NAME_MAX_SHOWN] + "..."


# ---------------------------------------------------------------------------------------------------------------
# The world file


class _WorldModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Vpc(_WorldModel):
    """A VPC: ``vpcId``, ``unVpcId``, ``vpcName``, ``cidrBlock``."""

    vpc_id: int
    un_vpc_id: str
    vpc_name: str = ""
    cidr_block: str = ""


class VpnGateway(_WorldModel):
    """A VPN gateway: ``vpnGwId``, ``unVpnGwId``, ``unVpcId`` (its VPC), ``vpnGwName``, ``vpnGwAddress``."""

    vpn_gw_id: int
    un_vpn_gw_id: str
    un_vpc_id: str
    vpn_gw_name: str = ""
    vpn_gw_address: str = ""


class World(_WorldModel):
    """A world file: ``credentials`` (SecretId -> SecretKey), ``vpcs``, ``vpnGateways``, ``vpnConnections`` (items in
    the ``DescribeVpnConn`` output shape), ``taskSeconds`` (default 5) and ``faults`` (see ``bot.sim.faults``).

    Validation guarantees unique ids, that every connection names a known VPC and a gateway of that VPC, and that
    every connection item is readable by ``bot.vpn.connection.connection_from_describe``.
    """

    credentials: dict[str, str]
    vpcs: list[Vpc] = Field(default_factory=list)
    vpn_gateways: list[VpnGateway] = Field(default_factory=list)
    vpn_connections: list[dict[str, Any]] = Field(default_factory=list)
    task_seconds: NonNegativeFloat = 5.0
    faults: Faults = Field(default_factory=Faults)

    @model_validator(mode="after")
    def _consistent(self) -> World:
        _check_unique("unVpcId", [v.un_vpc_id for v in self.vpcs] + [str(v.vpc_id) for v in self.vpcs])
        gateway_ids = [g.un_vpn_gw_id for g in self.vpn_gateways] + [str(g.vpn_gw_id) for g in self.vpn_gateways]
        _check_unique("unVpnGwId", gateway_ids)
        vpcs = {v.un_vpc_id: v for v in self.vpcs}
        gateways = {g.un_vpn_gw_id: g for g in self.vpn_gateways}
        for gateway in self.vpn_gateways:
            if gateway.un_vpc_id not in vpcs:
                raise ValueError(f"VPN gateway {gateway.un_vpn_gw_id} names unknown VPC {gateway.un_vpc_id}")
        ids = []
        for item in self.vpn_connections:
            _check_connection(item, vpcs, gateways)
            ids += [str(item["unVpnConnId"]), str(item["vpnConnId"])]
        _check_unique("unVpnConnId", ids)
        return self

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


def _check_unique(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for one in ids:
        if one in seen:
            raise ValueError(f"{what} {one} appears more than once")
        seen.add(one)


def _check_connection(item: Mapping[str, Any], vpcs: Mapping[str, Vpc], gateways: Mapping[str, VpnGateway]) -> None:
    for key in ("vpnConnId", "unVpnConnId", "unVpcId", "unVpnGwId"):
        if key not in item:
            raise ValueError(f"a VPN connection item has no {key}")
    conn_id, vpc_id, gw_id = item["unVpnConnId"], item["unVpcId"], item["unVpnGwId"]
    if not str(item["vpnConnId"]).isdigit():
        raise ValueError(f"VPN connection {conn_id} has a non-numeric vpnConnId")
    if vpc_id not in vpcs:
        raise ValueError(f"VPN connection {conn_id} names unknown VPC {vpc_id}")
    gateway = gateways.get(gw_id)
    if gateway is None or gateway.un_vpc_id != vpc_id:
        raise ValueError(f"VPN connection {conn_id} names VPN gateway {gw_id}, which is not in VPC {vpc_id}")
    connection_from_describe(item)


def load_world(path: str | Path | None = None) -> World:
    """The world in the JSON file at ``path``, or the demo world (package data ``demo.json``) when None.

    Raises OSError when the file cannot be read and ValueError (naming the problem) when it is not a valid world.
    """
    return World.model_validate(json.loads(_world_text(path)))


def _world_text(path: str | Path | None) -> str:
    if path is None:
        return importlib.resources.files("bot.sim").joinpath("demo.json").read_text(encoding="utf-8")
    return Path(path).read_text(encoding="utf-8")


def _demo_credentials() -> tuple[str, str]:
    credentials: dict[str, str] = json.loads(_world_text(None))["credentials"]
    return next(iter(credentials.items()))


DEMO_SECRET_ID, DEMO_SECRET_KEY = _demo_credentials()


# ---------------------------------------------------------------------------------------------------------------
# Wire parameters


def wire_names(params: Mapping[str, str]) -> dict[str, str]:
    """``params`` with ``_`` read as ``.`` in names, as the service does; two names that become one are a 4000."""
    result: dict[str, str] = {}
    for name, value in params.items():
        key = name.replace("_", ".")
        if key in result:
            raise invalid_parameters({shown_name(key): "given more than once"})
        result[key] = value
    return result


def _reject_unknown(params: Mapping[str, str], known: Iterable[str]) -> None:
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise invalid_parameters({shown_name(name): "unknown parameter for this action" for name in unknown})


def _int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int | None = None) -> int:
    text = params.get(name)
    if text is None:
        return default
    try:
        number = int(text)
    except ValueError:
        raise invalid_parameters({name: "must be a whole number"}) from None
    if number < low or (high is not None and number > high):
        bounds = f"at least {low}" if high is None else f"{low} to {high}"
        raise invalid_parameters({name: f"{number} is out of range: must be {bounds}"})
    return number


def _choice_param(params: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str | None:
    value = params.get(name)
    if value is not None and value not in choices:
        raise invalid_parameters({name: f"must be one of {', '.join(choices)}"})
    return value


def _matches(item: Mapping[str, Any], wanted: str, numeric_key: str, un_key: str) -> bool:
    return wanted in (str(item.get(numeric_key, "")), str(item.get(un_key, "")))


_CIDR_ELEMENT = re.compile(r"^userGwCidrBlock\.([0-9]{1,4})$")
_SPD_ELEMENT = re.compile(r"^spdAcl\.([0-9]{1,4})$")
_BLOCK_FIELD = re.compile(r"^(IKESet|IPsecSet)\.(?:(\d+)\.)?([A-Za-z]+)$")
_PLAIN_EDITS = ("vpnConnName", PSK)


@dataclass
class _DecodedEdit:
    """A ``ModifyVpnConnEx`` request turned into ``propose`` edits (seed names to text) and wire problems."""

    edits: dict[str, str]
    problems: dict[str, str]


def decode_edit(params: Mapping[str, str]) -> _DecodedEdit:
    """Decode ``ModifyVpnConnEx``'s editing parameters (ids excluded) into edits keyed by the seed's names.

    ``userGwCidrBlock.N`` becomes one comma-separated list, the ``spdAcl.N`` JSON objects one JSON list,
    ``IKESet.0.field`` reads as ``IKESet.field`` and ``IKESet.encryptAlgorithm`` as ``IPsecSet.encryptAlgorithm``.
    """
    decoded = _DecodedEdit({}, {})
    cidrs: dict[int, str] = {}
    spd: dict[int, str] = {}
    for name, value in params.items():
        if name in ID_PARAMS:
            continue
        if (match := _CIDR_ELEMENT.match(name)) is not None:
            cidrs[int(match[1])] = _cidr_element(name, value, decoded.problems)
        elif (match := _SPD_ELEMENT.match(name)) is not None:
            spd[int(match[1])] = _spd_element(name, value, decoded.problems)
        else:
            _plain_edit(name, value, decoded)
    if not cidrs and not spd:
        decoded.problems.setdefault("userGwCidrBlock", "give userGwCidrBlock or spdAcl: one of them is required")
    if cidrs:
        decoded.edits["userGwCidrBlock"] = ",".join(cidrs[i] for i in sorted(cidrs))
    if spd:
        decoded.edits["spdAcl"] = "[" + ",".join(spd[i] for i in sorted(spd)) + "]"
    return decoded


def _cidr_element(name: str, value: str, problems: dict[str, str]) -> str:
    if not value.strip() or re.search(r"[\s,;]", value.strip()):
        problems.setdefault("userGwCidrBlock", f"{name} must hold exactly one CIDR such as 10.0.0.0/24")
    return value


def _spd_element(name: str, value: str, problems: dict[str, str]) -> str:
    try:
        document = json.loads(value)
    except json.JSONDecodeError:
        document = None
    if not isinstance(document, dict) or not document:
        problems.setdefault("spdAcl", f'{name} must be a JSON object such as {{"10.0.0.0/24": ["192.168.1.0/24"]}}')
        return "{}"
    return value


def _plain_edit(name: str, value: str, decoded: _DecodedEdit) -> None:
    seed_name = _seed_name(name)
    if seed_name is None:
        decoded.problems[shown_name(name)] = "unknown parameter for ModifyVpnConnEx"
    elif seed_name in decoded.edits:
        decoded.problems[seed_name] = "given more than once"
    else:
        decoded.edits[seed_name] = value


def _seed_name(name: str) -> str | None:
    if name in _PLAIN_EDITS:
        return name
    match = _BLOCK_FIELD.match(name)
    if match is None or match[2] not in (None, "0"):
        return None
    try:
        return canonical_name(f"{match[1]}.{match[3]}")
    except ParameterError:
        return None


# ---------------------------------------------------------------------------------------------------------------
# Applying an edit to a stored item


def edited_item(item: Mapping[str, Any], proposal: Proposal, edits: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``item`` as ``DescribeVpnConn`` shows it once the edit is applied.

    Peer networks: ``spdAcl`` (when sent and changed, or sent alone) sets ``sourceCidr`` to its VPC-side CIDRs and
    ``destinationCidr`` to the union of its IDC-side CIDRs; otherwise ``userGwCidrBlock`` sets ``destinationCidr``.
    IKE and IPsec fields are written as sent (parsed) into whichever block key the item uses.
    """
    new = copy.deepcopy(dict(item))
    current = connection_from_describe(item).settings
    values = proposal.settings
    if "vpnConnName" in edits:
        new["vpnConnName"] = values["vpnConnName"]
    if proposal.pre_shared_key is not None:
        new["preSharedKey"] = proposal.pre_shared_key.get_secret_value()
    spd = values.spd()
    if "spdAcl" in edits and (spd != current.spd() or "userGwCidrBlock" not in edits):
        new["sourceCidr"] = [str(c) for c in spd.local_cidrs()]
        new["destinationCidr"] = [str(c) for c in spd.remote_cidrs()]
    elif "userGwCidrBlock" in edits:
        new["destinationCidr"] = [str(c) for c in sorted(values.cidrs())]
    for name in edits:
        block, _, field = name.partition(".")
        if block in ("IKESet", "IPsecSet"):
            _block_of(new, IKE_BLOCKS if block == "IKESet" else IPSEC_BLOCKS)[field] = values[name]
    return new


def _block_of(item: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    for name in names:
        block = item.get(name)
        if isinstance(block, list) and block and isinstance(block[0], dict):
            return block[0]
        if isinstance(block, dict):
            return block
    raise KeyError(names[0])  # unreachable for items that passed World validation


def peer_pairs(connection: VpnConnection) -> frozenset[Pair]:
    """The (VPC-side, IDC-side) CIDR pairs a connection's SPD covers."""
    return connection.settings.spd().pairs()


# ---------------------------------------------------------------------------------------------------------------
# Tasks and the state


@dataclass
class Task:
    """A ``ModifyVpnConnEx`` task: it ends at ``ends_at`` (clock seconds) with ``outcome``; ``result`` is the item
    stored on success."""

    task_id: int
    vpn_conn_id: str
    ends_at: float
    outcome: TaskOutcome
    result: dict[str, Any]
    done: bool = False
    message: str = ""
    request_id: str | None = None  # the API 3.0 RequestId that names the task there, when it started on API 3.0

    @property
    def status(self) -> int:
        if not self.done:
            return TASK_RUNNING
        return TASK_SUCCEEDED if self.outcome == "succeeded" else TASK_FAILED


ActionHandler = Callable[["SimState", Mapping[str, str]], dict[str, Any]]


class SimState:
    """The simulated service: the world, its running tasks and its faults.

    ``clock`` returns unix seconds (default ``time.time``); ``seed`` seeds the random source of ``failureRate``.
    The ``world`` given is copied, never changed.
    """

    def __init__(
        self, world: World | None = None, *, clock: Callable[[], float] = time.time, seed: int | None = None
    ) -> None:
        world = load_world(None) if world is None else world
        self._world = world.model_copy(deep=True)
        self._connections: dict[str, dict[str, Any]] = {
            str(item["unVpnConnId"]): item for item in self._world.vpn_connections
        }
        self._world.vpn_connections = []
        self._tasks: dict[int, Task] = {}
        self._tasks_by_request: dict[str, int] = {}
        self._next_task_id = FIRST_TASK_ID
        self.clock = clock
        self.rng = random.Random(seed)
        # What tests count: requests per Action as they arrive, and each answer as (Action, code or "HTTP 503").
        self.arrivals: Counter[str] = Counter()
        self.journal: list[tuple[str, str]] = []

    # -- credentials and faults ----------------------------------------------------------------------------------

    def received(self, action: str) -> int:
        """How many requests for ``action`` have arrived, answered or not (a client may give up before the answer).

        Dialect-agnostic: an action counts together with its equivalent in the other API generation, so
        ``received("ModifyVpnConnEx")`` counts ``ModifyVpnConnectionAttribute`` requests too (and the other way
        round); ``arrivals`` keeps the per-name counts.
        """
        return sum(self.arrivals[name] for name in _SAME_ACTION.get(action, frozenset({action})))

    def secret_key_for(self, secret_id: str) -> str | None:
        """The SecretKey of ``secret_id``, or None when the world does not know it."""
        return self._world.credentials.get(secret_id)

    @property
    def faults(self) -> Faults:
        return self._world.faults

    def update_faults(self, patch: Mapping[str, Any]) -> Faults:
        """Merge ``patch`` (JSON keys of :class:`Faults`) into the faults; raises ValueError on a bad key or value."""
        self._world.faults = self._world.faults.merged(patch)
        return self._world.faults

    def draw_fault(self, action: str) -> InjectedFault:
        """The fault to inject into one request of ``action`` (spends one ``http5xx``/``overQuota`` count).

        An API 3.0 action draws the faults of its API 2.0 equivalent (:data:`API2_ACTION`): a world's faults are
        keyed by the API 2.0 names and apply to both dialects.
        """
        return draw(self._world.faults, API2_ACTION.get(action, action), self.rng)

    # -- reading the world ---------------------------------------------------------------------------------------

    def connection(self, vpn_conn_id: str) -> dict[str, Any]:
        """A copy of the stored ``DescribeVpnConn`` item of ``vpn_conn_id`` (``vpnx-...``); KeyError if unknown."""
        self._advance()
        return copy.deepcopy(self._connections[vpn_conn_id])

    def connections(self) -> list[dict[str, Any]]:
        """Copies of every stored ``DescribeVpnConn`` item, in ``DescribeVpnConn``'s default order (``createTime``,
        then numeric ``vpnConnId``)."""
        self._advance()
        items = sorted(self._connections.values(), key=lambda item: _order_key(item, None))
        return copy.deepcopy(items)

    def snapshot(self) -> dict[str, Any]:
        """The world as JSON (loadable by :func:`load_world`), plus ``tasks``: each task's id, connection and status
        (and ``requestId`` for a task started through API 3.0)."""
        self._advance()
        world = self._world.to_json()
        world["vpnConnections"] = copy.deepcopy(list(self._connections.values()))
        world["tasks"] = [_task_json(t) for t in self._tasks.values()]
        return world

    # -- API 3.0 task names --------------------------------------------------------------------------------------

    def name_task(self, task_id: int, request_id: str) -> None:
        """Register ``request_id`` (an API 3.0 RequestId) as another name of task ``task_id``; KeyError if unknown.

        API 3.0 follows an asynchronous edit by the RequestId of the call that started it; the task keeps its
        integer id, so the same task is visible through both dialects.
        """
        task = self._tasks[task_id]
        task.request_id = request_id
        self._tasks_by_request[request_id] = task_id

    def task_id_named(self, request_id: str) -> int | None:
        """The integer id of the task registered under ``request_id``, or None."""
        return self._tasks_by_request.get(request_id)

    # -- actions -------------------------------------------------------------------------------------------------

    def handle(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        """Run ``action`` with its parameters (common parameters removed); the answer's fields besides ``code``,
        ``message`` and ``codeDesc``. Raises SimApiError, code 4000 for an action not in ``ACTIONS``."""
        handler = _ACTIONS.get(action)
        if handler is None:
            raise unknown_action(action)
        return handler(self, params)

    def describe_vpn_conn(self, params: Mapping[str, str]) -> dict[str, Any]:
        """``DescribeVpnConn``: ``{"totalCount": N, "data": [items]}``, filtered, ordered and paged."""
        params = wire_names(params)
        _reject_unknown(params, _DESCRIBE_PARAMS)
        offset = _int_param(params, "offset", 0, 0)
        limit = _int_param(params, "limit", DESCRIBE_LIMIT_DEFAULT, 1, DESCRIBE_LIMIT_MAX)
        order_field = _choice_param(params, "orderField", ("createTime", "vpnConnName"))
        descending = _choice_param(params, "orderDirection", ("asc", "desc")) == "desc"
        self._advance()
        items = [item for item in self._connections.values() if _describe_filter(item, params)]
        items.sort(key=lambda item: _order_key(item, order_field), reverse=descending)
        page = items[offset : offset + limit]
        return {"totalCount": len(items), "data": copy.deepcopy(page)}

    def modify_vpn_conn_ex(self, params: Mapping[str, str]) -> dict[str, Any]:
        """``ModifyVpnConnEx``: validates the edit, starts a task and marks the connection modifying (status 2).

        Errors, all as SimApiError:

        - 4000 ``MissingParameter`` / ``InvalidParameter``: an id missing, an unknown parameter, neither
          ``userGwCidrBlock`` nor ``spdAcl``, a value the ``bot.vpn`` rules refuse, or peer networks overlapping
          another connection's on the same gateway; ``InvalidVpnConnName`` for a name another connection of the
          VPC already has.
        - 5000 ``InvalidVpc.NotFound``; ``InvalidVpnGw.NotFound`` for the gateway and for the connection (as the
          seed lists it).
        - 5100 ``OperationDenied.VpnConnBusy`` while a task runs on the connection (the simulator's choice: the
          seed documents no code for it).
        """
        params = wire_names(params)
        missing = [name for name in ID_PARAMS if not params.get(name)]
        if missing:
            raise missing_parameters(missing)
        self._advance()
        item = self._find_connection(params["vpcId"], params["vpnGwId"], params["vpnConnId"])
        self._check_not_busy(item)
        decoded = decode_edit(params)
        current = connection_from_describe(item)
        proposal = _propose(current, decoded)
        new_item = edited_item(item, proposal, decoded.edits)
        if new_item.get("vpnConnName") != item.get("vpnConnName"):
            self._check_name_free(new_item)
        self._check_no_overlap(current, new_item, decoded.edits)
        task = self._start_task(item, new_item)
        return {
            "data": {
                "vpnGwId": item["unVpnGwId"],
                "vpcConnId": item["unVpnConnId"],
                "taskId": task.task_id,
                "vpcConnStatus": STATUS_MODIFYING,
                "preSharedKey": new_item.get("preSharedKey", ""),
                "userGwSubnetList": list(new_item.get("destinationCidr", [])),
                "userGwId": item.get("userGwId"),
            }
        }

    def describe_vpc_task_result(self, params: Mapping[str, str]) -> dict[str, Any]:
        """``DescribeVpcTaskResult``: ``{"data": {"status": 0|1|2}}`` (0 succeeded, 1 failed, 2 running); a failed
        task adds ``output`` and ``message`` holding the failure text. Unknown id: 5000 ``InvalidTask.NotFound``."""
        params = wire_names(params)
        _reject_unknown(params, ("taskId",))
        if "taskId" not in params:
            raise missing_parameters(["taskId"])
        task_id = _int_param(params, "taskId", 0, 0)
        self._advance()
        task = self._tasks.get(task_id)
        if task is None:
            raise SimApiError(5000, "InvalidTask.NotFound", f"task {task_id} does not exist")
        data: dict[str, Any] = {"status": task.status}
        if task.status == TASK_FAILED:
            data.update(output=task.message, message=task.message)
        return {"data": data}

    # -- internals -----------------------------------------------------------------------------------------------

    def _find_connection(self, vpc_ref: str, gw_ref: str, conn_ref: str) -> dict[str, Any]:
        vpc = next((v for v in self._world.vpcs if vpc_ref in (v.un_vpc_id, str(v.vpc_id))), None)
        if vpc is None:
            raise SimApiError(5000, "InvalidVpc.NotFound", f"VPC {shown_name(vpc_ref)} does not exist")
        gateway = next(
            (g for g in self._world.vpn_gateways if gw_ref in (g.un_vpn_gw_id, str(g.vpn_gw_id))),
            None,
        )
        if gateway is None or gateway.un_vpc_id != vpc.un_vpc_id:
            where = f"VPN gateway {shown_name(gw_ref)} does not exist in VPC {vpc.un_vpc_id}"
            raise SimApiError(5000, "InvalidVpnGw.NotFound", where)
        for item in self._connections.values():
            if _matches(item, conn_ref, "vpnConnId", "unVpnConnId") and item["unVpnGwId"] == gateway.un_vpn_gw_id:
                return item
        where = f"VPN connection {shown_name(conn_ref)} does not exist on VPN gateway {gateway.un_vpn_gw_id}"
        raise SimApiError(5000, "InvalidVpnGw.NotFound", where)

    def _check_not_busy(self, item: Mapping[str, Any]) -> None:
        for task in self._tasks.values():
            if not task.done and task.vpn_conn_id == item["unVpnConnId"]:
                named = f" (RequestId {task.request_id})" if task.request_id else ""
                message = (
                    f"VPN connection {task.vpn_conn_id} is being modified by task {task.task_id}{named}; retry later"
                )
                raise SimApiError(5100, "OperationDenied.VpnConnBusy", message)

    def _check_name_free(self, new_item: Mapping[str, Any]) -> None:
        name = new_item.get("vpnConnName")
        for other in self._connections.values():
            if other["unVpcId"] != new_item["unVpcId"] or other["unVpnConnId"] == new_item["unVpnConnId"]:
                continue
            if other.get("vpnConnName") == name:
                message = f"vpnConnName: already used by VPN connection {other['unVpnConnId']} in this VPC"
                raise SimApiError(4000, "InvalidVpnConnName", message)

    def _check_no_overlap(self, current: VpnConnection, new_item: Mapping[str, Any], edits: Mapping[str, str]) -> None:
        mine = peer_pairs(connection_from_describe(new_item))
        if mine == peer_pairs(current):
            return
        for other in self._connections.values():
            if other["unVpnGwId"] != new_item["unVpnGwId"] or other["unVpnConnId"] == new_item["unVpnConnId"]:
                continue
            clash = first_pair_overlap(mine, peer_pairs(connection_from_describe(other)))
            if clash is not None:
                (a_local, a_remote), (b_local, b_remote) = clash
                name = "spdAcl" if "spdAcl" in edits else "userGwCidrBlock"
                message = (
                    f"{a_local} -> {a_remote} overlaps {b_local} -> {b_remote} of VPN connection "
                    f"{other['unVpnConnId']} on the same VPN gateway"
                )
                error = invalid_parameters({name: message})
                error.reason = "spd-overlap"
                raise error

    def _start_task(self, item: dict[str, Any], result: dict[str, Any]) -> Task:
        faults = self._world.faults
        seconds = faults.task_seconds if faults.task_seconds is not None else self._world.task_seconds
        task = Task(
            task_id=self._next_task_id,
            vpn_conn_id=str(item["unVpnConnId"]),
            ends_at=self.clock() + seconds,
            outcome=faults.task_outcome or "succeeded",
            result=result,
        )
        self._next_task_id += 1
        self._tasks[task.task_id] = task
        item["vpcConnStatus"] = STATUS_MODIFYING
        return task

    def _advance(self) -> None:
        now = self.clock()
        for task in self._tasks.values():
            if not task.done and now >= task.ends_at:
                self._finish(task)

    def _finish(self, task: Task) -> None:
        task.done = True
        item = self._connections[task.vpn_conn_id]
        if task.outcome == "succeeded":
            item = self._connections[task.vpn_conn_id] = task.result
        else:
            task.message = (
                f"modifying VPN connection {task.vpn_conn_id} failed: IKE negotiation with the customer gateway "
                f"{item.get('userGwAddress', '')} timed out (simulated); the previous settings remain in force"
            )
        item["vpcConnStatus"] = STATUS_NORMAL


def _task_json(task: Task) -> dict[str, Any]:
    answer: dict[str, Any] = {"taskId": task.task_id, "vpnConnId": task.vpn_conn_id, "status": task.status}
    if task.request_id is not None:
        answer["requestId"] = task.request_id
    return answer


def _propose(current: VpnConnection, decoded: _DecodedEdit) -> Proposal:
    problems = dict(decoded.problems)
    try:
        proposal = propose(current.settings, decoded.edits)
    except InvalidParametersError as error:
        for name, message in error.problems.items():
            problems.setdefault(name, message)
        raise invalid_parameters(problems) from None
    if problems:
        raise invalid_parameters(problems)
    return proposal


_DESCRIBE_PARAMS = (
    "vpcId",
    "vpnGwId",
    "vpnConnId",
    "vpnConnName",
    "offset",
    "limit",
    "orderField",
    "orderDirection",
)


def _describe_filter(item: Mapping[str, Any], params: Mapping[str, str]) -> bool:
    for name, un_name in (("vpcId", "unVpcId"), ("vpnGwId", "unVpnGwId"), ("vpnConnId", "unVpnConnId")):
        wanted = params.get(name)
        if wanted is not None and not _matches(item, wanted, name, un_name):
            return False
    fuzzy = params.get("vpnConnName")
    return fuzzy is None or fuzzy.casefold() in str(item.get("vpnConnName", "")).casefold()


def _order_key(item: Mapping[str, Any], order_field: str | None) -> tuple[str, int]:
    """Items sort by ``order_field`` (default ``createTime``), then by numeric ``vpnConnId``."""
    return str(item.get(order_field or "createTime", "")), int(item.get("vpnConnId", 0))


_ACTIONS: Mapping[str, ActionHandler] = {
    "DescribeVpnConn": SimState.describe_vpn_conn,
    "ModifyVpnConnEx": SimState.modify_vpn_conn_ex,
    "DescribeVpcTaskResult": SimState.describe_vpc_task_result,
}
ACTIONS: frozenset[str] = frozenset(_ACTIONS)
