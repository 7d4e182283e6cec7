"""An embedded simulator of the Tencent Cloud VPC API 2.0 (``DescribeVpnConn``, ``ModifyVpnConnEx``,
``DescribeVpcTaskResult``), like moto for one service: a world (:class:`SimState`) and a wire (:class:`SimServer`).

    async with SimServer(SimState()) as sim:   # the demo world on a free loopback port
        ...  # sign requests with DEMO_SECRET_ID / DEMO_SECRET_KEY and send them to sim.url
"""

from bot.sim.faults import Faults, InjectedFault
from bot.sim.server import SimServer, build_app, run_forever
from bot.sim.state import DEMO_SECRET_ID, DEMO_SECRET_KEY, SimApiError, SimState, World, load_world

__all__ = [
    "DEMO_SECRET_ID",
    "DEMO_SECRET_KEY",
    "Faults",
    "InjectedFault",
    "SimApiError",
    "SimServer",
    "SimState",
    "World",
    "build_app",
    "load_world",
    "run_forever",
]
