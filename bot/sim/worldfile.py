"""The world file (``--world FILE``, JSON) and the demo world (package data ``demo.json``).

The file is the edge: a pydantic :class:`World` checked on load; the running world (``bot.sim.world``) reads
typed records out of it (:meth:`World.vpc_records`, :meth:`World.gateway_records`, :meth:`World.connection_records`,
:meth:`World.peer_records`).
"""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from bot.sim.faults import Faults
from bot.sim.items import read_item
from bot.sim.model import Connection, CustomerGateway, Vpc, VpnGateway
from bot.sim.peer import Peer, mirror
from bot.sim.peerfile import patched

__all__ = ["DEMO_SECRET_ID", "DEMO_SECRET_KEY", "World", "load_world"]


class _FileModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class VpcEntry(_FileModel):
    """``vpcId``, ``unVpcId``, ``vpcName``, ``cidrBlock``."""

    vpc_id: int
    un_vpc_id: str
    vpc_name: str = ""
    cidr_block: str = ""


class VpnGatewayEntry(_FileModel):
    """``vpnGwId``, ``unVpnGwId``, ``unVpcId`` (its VPC), ``vpnGwName``, ``vpnGwAddress``, ``version`` (default
    ``2.0``; ``4.0`` gateways run the GCM algorithms and let a connection change its customer gateway)."""

    vpn_gw_id: int
    un_vpn_gw_id: str
    un_vpc_id: str
    vpn_gw_name: str = ""
    vpn_gw_address: str = ""
    version: str = "2.0"


class CustomerGatewayEntry(_FileModel):
    """A customer gateway no connection uses yet: ``userGwId``, ``unUserGwId``, ``userGwName``,
    ``userGwAddress`` (the connections' items name theirs)."""

    user_gw_id: int | str = 0
    un_user_gw_id: str
    user_gw_name: str = ""
    user_gw_address: str = ""


class World(_FileModel):
    """A world file:

    - ``credentials``: SecretId -> SecretKey;
    - ``vpcs``, ``vpnGateways``, ``customerGateways`` (optional, spares);
    - ``vpnConnections``: items in the ``DescribeVpnConn`` output shape, with the optional API 3.0 keys
      ``spdAcl``, ``routeType``, ``IKESet.ikeVersion``, ``negotiationType``, ``dpdEnable``/``dpdTimeout``/
      ``dpdAction``, ``enableHealthCheck``, ``healthCheckLocalIp``/``RemoteIp``/``Status``,
      ``healthCheckConfig``, ``tagSet``, ``bgpConfig``, ``encryptProto`` (see ``bot.sim.items``), and ``peer``:
      the customer's device at the other end (``bot.sim.peerfile``; absent: it mirrors the connection as loaded;
      null: none is modelled, and the tunnel's ``netStatus`` never changes);
    - ``taskSeconds`` (default 5): how long an edit takes to land;
    - ``renegotiateSeconds`` (default 2): how long after an edit lands, or the peer is updated, the tunnel
      renegotiates and its ``netStatus`` follows the match rule (``bot.sim.peer``);
    - ``modifyTask`` (default false, the documented behaviour): whether API 3.0's ``ModifyVpnConnectionAttribute``
      leaves a task that ``DescribeVpcTaskResult`` knows by the call's RequestId;
    - ``faults`` (see ``bot.sim.faults``; ``rateLimits`` among them).

    Validation guarantees unique ids, that every gateway is in a known VPC and every connection on a gateway of
    the VPC it names, and that every item reads (values, CIDRs, keys), its ``peer`` too.
    """

    credentials: dict[str, str]
    vpcs: list[VpcEntry] = Field(default_factory=list)
    vpn_gateways: list[VpnGatewayEntry] = Field(default_factory=list)
    customer_gateways: list[CustomerGatewayEntry] = Field(default_factory=list)
    vpn_connections: list[dict[str, Any]] = Field(default_factory=list)
    task_seconds: NonNegativeFloat = 5.0
    renegotiate_seconds: NonNegativeFloat = 2.0
    modify_task: bool = False
    faults: Faults = Field(default_factory=Faults)

    @model_validator(mode="after")
    def _consistent(self) -> World:
        _check_unique("unVpcId", [v.un_vpc_id for v in self.vpcs] + [str(v.vpc_id) for v in self.vpcs])
        gateway_ids = [g.un_vpn_gw_id for g in self.vpn_gateways] + [str(g.vpn_gw_id) for g in self.vpn_gateways]
        _check_unique("unVpnGwId", gateway_ids)
        vpcs = {v.un_vpc_id for v in self.vpcs}
        for gateway in self.vpn_gateways:
            if gateway.un_vpc_id not in vpcs:
                raise ValueError(f"VPN gateway {gateway.un_vpn_gw_id} names unknown VPC {gateway.un_vpc_id}")
        connections = self.connection_records()
        _check_unique("unVpnConnId", [c.id for c in connections] + [str(c.number) for c in connections])
        self.peer_records(connections)
        return self

    def vpc_records(self) -> list[Vpc]:
        return [Vpc(v.un_vpc_id, v.vpc_id, v.vpc_name, v.cidr_block) for v in self.vpcs]

    def gateway_records(self) -> list[VpnGateway]:
        return [
            VpnGateway(g.un_vpn_gw_id, g.vpn_gw_id, g.un_vpc_id, g.vpn_gw_name, g.vpn_gw_address, g.version)
            for g in self.vpn_gateways
        ]

    def connection_records(self) -> list[Connection]:
        """Every connection item, read; ValueError naming the item and key at fault."""
        gateways = {g.id: g for g in self.gateway_records()}
        return [read_item(item, gateways) for item in self.vpn_connections]

    def peer_records(self, connections: list[Connection]) -> dict[str, Peer | None]:
        """Each connection's peer by id (``connections`` are :meth:`connection_records`); ValueError naming the
        connection and the peer's field at fault."""
        addresses = {g.id: g.address for g in self.gateway_records()}
        peers: dict[str, Peer | None] = {}
        for item, connection in zip(self.vpn_connections, connections, strict=True):
            mirrored = mirror(connection, addresses[connection.gateway_id])
            if "peer" not in item:
                peers[connection.id] = mirrored
            elif item["peer"] is None:
                peers[connection.id] = None
            elif not isinstance(item["peer"], dict):
                raise ValueError(f"VPN connection {connection.id}: peer: must be an object or null")
            else:
                try:
                    peers[connection.id] = patched(mirrored, item["peer"], where="peer.")
                except ValueError as error:
                    raise ValueError(f"VPN connection {connection.id}: {error}") from None
        return peers

    def customer_gateway_records(self, connections: list[Connection]) -> dict[str, CustomerGateway]:
        """The spare customer gateways and those the connections use, by id."""
        found = {c.customer_gateway.id: c.customer_gateway for c in connections if c.customer_gateway.id}
        for entry in self.customer_gateways:
            found.setdefault(
                entry.un_user_gw_id,
                CustomerGateway(entry.un_user_gw_id, entry.user_gw_id, entry.user_gw_name, entry.user_gw_address),
            )
        return found

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


def _check_unique(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for one in ids:
        if one in seen:
            raise ValueError(f"{what} {one} appears more than once")
        seen.add(one)


def load_world(path: str | Path | None = None) -> World:
    """The world in the JSON file at ``path``, or the demo world when None.

    Raises OSError when the file cannot be read and ValueError (naming the problem, never quoting the file's
    values) when it is not a valid world.
    """
    try:
        return World.model_validate(json.loads(_world_text(path)))
    except ValidationError as error:
        parts = []
        for one in error.errors(include_url=False, include_input=False, include_context=False):
            where = ".".join(str(part) for part in one["loc"])
            parts.append(f"{where + ': ' if where else ''}{one['msg'].removeprefix('Value error, ')}")
        raise ValueError(f"{path or 'the demo world'}: {'; '.join(parts)}") from None


def _world_text(path: str | Path | None) -> str:
    if path is None:
        return importlib.resources.files("bot.sim").joinpath("demo.json").read_text(encoding="utf-8")
    return Path(path).read_text(encoding="utf-8")


def _demo_credentials() -> tuple[str, str]:
    credentials: dict[str, str] = json.loads(_world_text(None))["credentials"]
    return next(iter(credentials.items()))


DEMO_SECRET_ID, DEMO_SECRET_KEY = _demo_credentials()
