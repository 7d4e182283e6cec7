"""The running world: VPCs, VPN gateways, customer gateways, connections, tasks, credentials, faults, traffic and
the clock, behind typed queries and typed edits (:class:`~bot.sim.model.ConnectionEdit`). It knows no wire: the
wires (``bot.sim.wire_v2``, ``bot.sim.wire_v3``) parse requests into these calls and render what they return.

Time comes from ``clock`` (a plain attribute, unix seconds; tests replace it): tasks advance lazily at every
call, so nothing here awaits or sleeps and every call is atomic on the one event loop.

An edit (:meth:`SimState.modify`) is checked against ``bot.sim.rules`` and then takes the world's task duration
(``taskSeconds``, or the ``taskSeconds`` fault) to land: the connection is MODIFYING (API 3.0 ``PENDING``)
meanwhile, then NORMAL with the new values, or, with the forced outcome ``failed``, NORMAL with the old ones.

Each connection may have a peer, the device at the other end (``bot.sim.peer``). When an edit lands that changes
what the tunnel negotiates (pre-shared key, IKE or IPsec settings, SPD, customer gateway), and whenever the peer
is set, the tunnel renegotiates ``renegotiateSeconds`` later (the world's, or the ``renegotiateSeconds`` fault):
only then does ``netStatus`` (and, with a health check enabled, ``HealthCheckStatus``) become available or
unavailable by the match rule; until then it keeps its status. Renegotiations are lazy like tasks, and tasks and
renegotiations due at one call run in the order of their times.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Final

from bot.sim.faults import Faults, InjectedFault, draw
from bot.sim.items import describe_item, world_item
from bot.sim.model import (
    Connection,
    ConnectionEdit,
    CustomerGateway,
    Field,
    Problem,
    Reason,
    Vpc,
    VpnGateway,
    WorldError,
    not_found,
)
from bot.sim.peer import Peer, mirror, mismatches
from bot.sim.peerfile import peer_json
from bot.sim.rules import clashes, edited, shown
from bot.sim.tasks import Task, TaskBook, TaskStatus
from bot.sim.traffic import Traffic
from bot.sim.tunnels import Tunnels, TunnelView
from bot.sim.values import ConnStatus
from bot.sim.worldfile import World, load_world

__all__ = ["EQUIVALENT_ACTION", "SimState"]

# Each action and its equivalent in the other API generation.
EQUIVALENT_ACTION: Final[Mapping[str, str]] = {
    "DescribeVpnConnections": "DescribeVpnConn",
    "DescribeVpnConn": "DescribeVpnConnections",
    "ModifyVpnConnectionAttribute": "ModifyVpnConnEx",
    "ModifyVpnConnEx": "ModifyVpnConnectionAttribute",
    "DescribeVpcTaskResult": "DescribeVpcTaskResult",
}


class SimState:
    """The simulated service. ``world`` (default: the demo world) is read, never changed; ``clock`` returns unix
    seconds; ``seed`` seeds the random source of the ``failureRate`` fault and of RequestIds.

    Plain attributes tests may set: ``clock``, ``task_seconds`` (the world's ``taskSeconds``),
    ``renegotiate_seconds`` (the world's ``renegotiateSeconds``), ``modify_task`` (the world's ``modifyTask``:
    whether an API 3.0 edit leaves a task to query). ``traffic`` holds the arrivals, the
    journal, the peak rates and the rate-limit refusals (``bot.sim.traffic``).
    """

    def __init__(
        self, world: World | None = None, *, clock: Callable[[], float] = time.time, seed: int | None = None
    ) -> None:
        world = load_world(None) if world is None else world
        self._file = world.model_copy(deep=True)
        self._faults = self._file.faults
        self._vpcs: dict[str, Vpc] = {v.id: v for v in world.vpc_records()}
        self._gateways: dict[str, VpnGateway] = {g.id: g for g in world.gateway_records()}
        records = world.connection_records()
        self._connections: dict[str, Connection] = {c.id: c for c in records}
        self._customer_gateways: dict[str, CustomerGateway] = world.customer_gateway_records(records)
        self._tunnels = Tunnels(world.peer_records(records))
        self._tasks = TaskBook()
        self.task_seconds = world.task_seconds
        self.renegotiate_seconds = world.renegotiate_seconds
        self.modify_task = world.modify_task
        self.clock = clock
        self.rng = random.Random(seed)
        self.ids = random.Random(seed)
        self.traffic = Traffic()

    # -- credentials, traffic, faults ----------------------------------------------------------------------------

    def secret_key_for(self, secret_id: str) -> str | None:
        """The SecretKey of ``secret_id``, or None when the world does not know it."""
        return self._file.credentials.get(secret_id)

    @property
    def arrivals(self) -> Counter[str]:
        """Requests per action name as they arrived whole (answered or not)."""
        return self.traffic.arrivals

    @property
    def journal(self) -> list[tuple[str, str]]:
        """Each answer as (action, code or "0" or "HTTP 503"), in order."""
        return self.traffic.journal

    def arrived(self, action: str) -> None:
        self.traffic.arrived(action, self.clock())

    def received(self, action: str) -> int:
        """How many requests for ``action`` have arrived, counting its other-dialect equivalent too
        (``received("ModifyVpnConnEx")`` counts ``ModifyVpnConnectionAttribute`` and the other way round)."""
        names = {action, EQUIVALENT_ACTION.get(action, action)}
        return sum(self.traffic.arrivals[name] for name in names)

    def peak_rate(self, action: str) -> int:
        """The most requests of ``action`` (this name only) that arrived within any one second (sliding)."""
        return self.traffic.peak_rate(action)

    def rate_refusals(self, action: str) -> int:
        """How many requests of ``action`` the ``rateLimits`` refused."""
        return self.traffic.rate_refusals(action)

    def admit(self, secret_id: str, action: str) -> bool:
        """Whether the ``rateLimits`` let one more request of ``action`` by ``secret_id`` through now."""
        return self.traffic.admit(secret_id, action, self._faults.rate_limits.get(action), self.clock())

    @property
    def faults(self) -> Faults:
        return self._faults

    def update_faults(self, patch: Mapping[str, Any]) -> Faults:
        """Merge ``patch`` (JSON keys of :class:`Faults`) into the faults; ValueError on a bad key or value."""
        self._faults = self._faults.merged(patch)
        return self._faults

    def draw_fault(self, action: str) -> InjectedFault:
        """The fault for one request of ``action`` (spends one ``http5xx``/``overQuota`` count); an action's own
        entry wins over its equivalent's, which wins over ``"*"``."""
        return draw(self._faults, action, self.rng, EQUIVALENT_ACTION.get(action))

    def request_id(self) -> str:
        """A fresh RequestId (a UUID; seeded with ``seed``)."""
        value = self.ids.getrandbits(128)
        text = f"{value:032x}"
        return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-{'89ab'[value % 4]}{text[17:20]}-{text[20:]}"

    # -- reading -------------------------------------------------------------------------------------------------

    def all(self) -> list[Connection]:
        """Every connection, oldest first (``createTime``, then the numeric id)."""
        self._advance()
        return sorted(self._connections.values(), key=lambda c: (c.created, c.number))

    def get(self, conn_id: str) -> Connection:
        """The connection ``conn_id`` (``vpnx-...``); WorldError NOT_FOUND when there is none."""
        self._advance()
        connection = self._connections.get(conn_id)
        if connection is None:
            raise not_found(Field.CONNECTION, f"VPN connection {shown(conn_id)} does not exist")
        return connection

    def find(self, vpc_ref: str, gateway_ref: str, conn_ref: str) -> Connection:
        """The connection named by the three ids API 2.0 takes (``un*`` or numeric ids); WorldError NOT_FOUND
        naming the first that does not exist (a gateway of another VPC, a connection of another gateway)."""
        self._advance()
        vpc = next((v for v in self._vpcs.values() if vpc_ref in (v.id, str(v.number))), None)
        if vpc is None:
            raise not_found(Field.VPC, f"VPC {shown(vpc_ref)} does not exist")
        gateway = next((g for g in self._gateways.values() if gateway_ref in (g.id, str(g.number))), None)
        if gateway is None or gateway.vpc_id != vpc.id:
            raise not_found(Field.GATEWAY, f"VPN gateway {shown(gateway_ref)} does not exist in VPC {vpc.id}")
        for connection in self._connections.values():
            if conn_ref in (connection.id, str(connection.number)) and connection.gateway_id == gateway.id:
                return connection
        detail = f"VPN connection {shown(conn_ref)} does not exist on VPN gateway {gateway.id}"
        raise not_found(Field.CONNECTION, detail)

    def vpc_of(self, connection: Connection) -> Vpc:
        return self._vpcs[connection.vpc_id]

    def gateway_of(self, connection: Connection) -> VpnGateway:
        return self._gateways[connection.gateway_id]

    def vpc_id_of(self, ref: str) -> str | None:
        """The ``un*`` id of the VPC named ``ref`` (either id), or None."""
        return next((v.id for v in self._vpcs.values() if ref in (v.id, str(v.number))), None)

    def gateway_id_of(self, ref: str) -> str | None:
        """The ``un*`` id of the VPN gateway named ``ref`` (either id), or None."""
        return next((g.id for g in self._gateways.values() if ref in (g.id, str(g.number))), None)

    def connection(self, conn_id: str) -> dict[str, Any]:
        """The connection as ``DescribeVpnConn`` shows it (pre-shared key included); KeyError if unknown."""
        self._advance()
        connection = self._connections[conn_id]
        return describe_item(connection, self.vpc_of(connection), self.gateway_of(connection))

    def connections(self) -> list[dict[str, Any]]:
        """Every connection as ``DescribeVpnConn`` shows it, in its default order."""
        return [describe_item(c, self.vpc_of(c), self.gateway_of(c)) for c in self.all()]

    def snapshot(self) -> dict[str, Any]:
        """The world as JSON (loadable by :func:`load_world`), plus ``tasks``: each task's ``taskId``,
        ``vpnConnId``, ``status`` (0 succeeded, 1 failed, 2 running), and ``requestId`` when started through API
        3.0 (``queryable: false`` for an API 3.0 edit that left no task). A connection's ``peer`` is written (its
        key in plain text) unless it mirrors the connection as it is now; ``null`` when none is modelled."""
        self._advance()
        world = self._file.to_json()
        world["faults"] = self._faults.to_json()
        world["taskSeconds"] = self.task_seconds
        world["renegotiateSeconds"] = self.renegotiate_seconds
        world["modifyTask"] = self.modify_task
        world["vpnConnections"] = [self._world_item(c) for c in self._connections.values()]
        world["tasks"] = [_task_json(task) for task in self._tasks]
        return world

    def _world_item(self, connection: Connection) -> dict[str, Any]:
        item = world_item(connection, self.vpc_of(connection), self.gateway_of(connection))
        peer = self._tunnels.peer(connection.id)
        if peer is None:
            item["peer"] = None
        elif peer != mirror(connection, self.gateway_of(connection).address):
            item["peer"] = peer_json(peer)
        return item

    # -- the other end -------------------------------------------------------------------------------------------

    def peer(self, conn_id: str) -> Peer | None:
        """The peer of ``conn_id``, None when none is modelled; WorldError NOT_FOUND for an unknown connection."""
        return self._tunnels.peer(self.get(conn_id).id)

    def mirror_of(self, conn_id: str) -> Peer:
        """A peer that mirrors ``conn_id`` as it is now (what a device admin sets after copying the new config)."""
        connection = self.get(conn_id)
        return mirror(connection, self.gateway_of(connection).address)

    def set_peer(self, conn_id: str, peer: Peer | None) -> TunnelView:
        """Make ``peer`` the other end of ``conn_id`` (None: none is modelled); the tunnel renegotiates
        ``renegotiate_seconds`` from now. WorldError NOT_FOUND for an unknown connection."""
        self.get(conn_id)
        self._tunnels.set_peer(conn_id, peer)
        self._tunnels.schedule(conn_id, self.clock() + self._renegotiation_delay())
        return self.tunnel(conn_id)

    def tunnel(self, conn_id: str) -> TunnelView:
        """The peer of ``conn_id``, its status, whether the two match now and on which fields they differ."""
        connection = self.get(conn_id)
        peer = self._tunnels.peer(conn_id)
        found = () if peer is None else mismatches(connection, peer, self.gateway_of(connection).address)
        return TunnelView(
            conn_id=conn_id,
            peer=peer,
            net_status=connection.net_status,
            match=None if peer is None else not found,
            mismatches=found,
            renegotiates_at=self._tunnels.pending(conn_id),
        )

    def _renegotiation_delay(self) -> float:
        override = self._faults.renegotiate_seconds
        return override if override is not None else self.renegotiate_seconds

    def _renegotiate(self, conn_id: str) -> None:
        self._tunnels.done(conn_id)
        peer = self._tunnels.peer(conn_id)
        if peer is None:
            return
        connection = self._connections[conn_id]
        up = not mismatches(connection, peer, self.gateway_of(connection).address)
        self._connections[conn_id] = _with_status(connection, up)

    # -- edits ---------------------------------------------------------------------------------------------------

    def check(self, conn_id: str, edit: ConnectionEdit) -> tuple[Connection, list[Problem]]:
        """The connection as ``edit`` would leave it, and every problem found (empty: the edit is fine).

        Raises WorldError for what stops the edit before any value is looked at: NOT_FOUND, and BUSY while a task
        runs on the connection or it is not AVAILABLE.
        """
        before = self.get(conn_id)
        running = self._tasks.running_on(conn_id)
        if running is not None or not before.status.settled:
            why = f"being modified by task {running.number}" if running is not None else f"{before.status.v3_state}"
            detail = f"VPN connection {conn_id} is {why}; retry when it is AVAILABLE"
            raise WorldError([Problem(Reason.BUSY, Field.CONNECTION, detail)])
        after, problems = edited(before, edit, self.gateway_of(before), self._customer_gateways)
        problems += clashes(before, after, edit, self._connections.values())
        return after, problems

    def modify(
        self, conn_id: str, edit: ConnectionEdit, *, request_id: str | None = None, queryable: bool = True
    ) -> Task:
        """Check ``edit`` (WorldError with every problem) and start the task that applies it.

        ``request_id`` names the task for API 3.0; ``queryable`` False leaves no task to query (it still lands).
        """
        after, problems = self.check(conn_id, edit)
        if problems:
            raise WorldError(problems)
        seconds = self._faults.task_seconds if self._faults.task_seconds is not None else self.task_seconds
        task = self._tasks.start(
            conn_id,
            replace(after, status=ConnStatus.NORMAL),
            ends_at=self.clock() + seconds,
            outcome=self._faults.task_outcome or "succeeded",
            request_id=request_id,
            queryable=queryable,
        )
        self._connections[conn_id] = replace(self._connections[conn_id], status=ConnStatus.MODIFYING)
        self._advance()
        return task

    def plant(self, conn_id: str, **changes: Any) -> Connection:
        """Tests' back door: set fields of a stored :class:`Connection` directly (no rule, no task)."""
        self._connections[conn_id] = replace(self._connections[conn_id], **changes)
        return self._connections[conn_id]

    # -- tasks ---------------------------------------------------------------------------------------------------

    def task(self, number: int) -> Task | None:
        """The queryable task numbered ``number`` (API 2.0's ``taskId``), or None."""
        self._advance()
        return self._tasks.by_number(number)

    def task_named(self, request_id: str) -> Task | None:
        """The queryable task an API 3.0 call with this RequestId started, or None."""
        self._advance()
        return self._tasks.by_request_id(request_id)

    def _advance(self) -> None:
        now = self.clock()
        while True:
            task = min(self._tasks.due(now), key=lambda t: t.ends_at, default=None)
            renegotiation = self._tunnels.first_due(now)
            if task is None and renegotiation is None:
                return
            if task is not None and (renegotiation is None or task.ends_at <= renegotiation[0]):
                self._finish(task)
            elif renegotiation is not None:
                self._renegotiate(renegotiation[1])

    def _finish(self, task: Task) -> None:
        task.done = True
        current = self._connections[task.conn_id]
        if task.outcome == "succeeded":
            landed = _keeping_status(task.after, current)
            self._connections[task.conn_id] = landed
            if _negotiated(landed) != _negotiated(current):
                self._tunnels.schedule(task.conn_id, task.ends_at + self._renegotiation_delay())
            return
        address = current.customer_gateway.address
        task.message = (
            f"modifying VPN connection {task.conn_id} failed: IKE negotiation with the customer gateway {address} "
            "timed out (simulated); the previous settings remain in force"
        )
        self._connections[task.conn_id] = replace(current, status=ConnStatus.NORMAL)


_STATUS_CODE: Final = {TaskStatus.SUCCEEDED: 0, TaskStatus.FAILED: 1, TaskStatus.RUNNING: 2}


def _negotiated(connection: Connection) -> tuple[Any, ...]:
    """What an edit must change for the tunnel to renegotiate."""
    c = connection
    return (c.pre_shared_key, c.ike, c.ipsec, c.spd, c.route_type, c.customer_gateway)


def _with_status(connection: Connection, up: bool) -> Connection:
    check = connection.health_check
    if check.enabled:
        check = replace(check, status="AVAILABLE" if up else "UNAVAILABLE")
    return replace(connection, net_status="available" if up else "unavailable", health_check=check)


def _keeping_status(landed: Connection, current: Connection) -> Connection:
    """``landed`` (computed when the edit was sent) with the tunnel's status as it is now: a renegotiation may
    have happened meanwhile. A health check the edit turns on starts with the tunnel's status."""
    check = landed.health_check
    if check.enabled:
        started = not current.health_check.enabled
        up = current.net_status == "available"
        status = ("AVAILABLE" if up else "UNAVAILABLE") if started else current.health_check.status
        check = replace(check, status=status)
    return replace(landed, net_status=current.net_status, health_check=check)


def _task_json(task: Task) -> dict[str, Any]:
    answer: dict[str, Any] = {"taskId": task.number, "vpnConnId": task.conn_id, "status": _STATUS_CODE[task.status]}
    if task.request_id is not None:
        answer["requestId"] = task.request_id
    if not task.queryable:
        answer["queryable"] = False
    return answer


def task_status_code(task: Task) -> int:
    """API 2.0's ``data.status`` of ``task``: 0 succeeded, 1 failed, 2 running."""
    return _STATUS_CODE[task.status]
