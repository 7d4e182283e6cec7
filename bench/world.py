"""Worlds for the simulator: the demo world plus any number of generated connections.

Each generated connection is a copy of the seed's (``vpnx-ol6bcqp0``) with its own ids and name, on generated VPN
gateways of the demo's production VPC (50 connections a gateway), with its own customer gateway address (198.18.0.0/15,
the benchmarking range) and its own remote network (a /24 of 100.64.0.0/10), so no two connections of a gateway
have overlapping security policies and ``World`` validation holds.
"""

from __future__ import annotations

import copy
from typing import Any

from bot.sim import World, load_world

PER_GATEWAY = 50
SEED = "vpnx-ol6bcqp0"


def conn_id(index: int) -> str:
    return f"vpnx-b{index:07d}"


def conn_name(index: int) -> str:
    return f"bench-{index:05d}"


def bench_world(connections: int, task_seconds: float) -> World:
    """The demo world with ``connections`` more connections (``conn_id(0)``...), tasks lasting ``task_seconds``."""
    demo = load_world(None).to_json()
    vpc = demo["vpcs"][0]
    template = next(item for item in demo["vpnConnections"] if item["unVpnConnId"] == SEED)
    gateways: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    for index in range(connections):
        number = index // PER_GATEWAY
        if index % PER_GATEWAY == 0:
            gateways.append(
                {
                    "vpnGwId": 50_000 + number,
                    "unVpnGwId": f"vpngw-bench{number:03d}",
                    "unVpcId": vpc["unVpcId"],
                    "vpnGwName": f"gw-bench-{number}",
                    "vpnGwAddress": f"203.0.113.{100 + number % 150}",
                }
            )
        gateway = gateways[-1]
        peer = f"198.18.{index // 250}.{index % 250 + 1}"
        item = copy.deepcopy(template)
        item.update(
            vpnConnId=200_000 + index,
            unVpnConnId=conn_id(index),
            vpnConnName=conn_name(index),
            vpnGwId=gateway["vpnGwId"],
            unVpnGwId=gateway["unVpnGwId"],
            vpnGwName=gateway["vpnGwName"],
            vpnGwAddress=gateway["vpnGwAddress"],
            userGwId=100_000 + index,
            unUserGwId=f"cgw-b{index:07d}",
            userGwName=f"peer-{index}",
            userGwAddress=peer,
            destinationCidr=[f"100.{64 + index // 256}.{index % 256}.0/24"],
        )
        item["IKESet"].update(localAddress=gateway["vpnGwAddress"], remoteAddress=peer)
        items.append(item)
    demo["vpnGateways"] += gateways
    demo["vpnConnections"] += items
    demo["taskSeconds"] = task_seconds
    return World.model_validate(demo)
