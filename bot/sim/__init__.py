"""An embedded simulator of the Tencent Cloud VPC API, like moto for one service: a world (:class:`SimState`) and a
wire (:class:`SimServer`) that speaks two dialects over that one world, so a change made through one is visible
through the other:

- API 2.0 at ``/v2/index.php`` (``DescribeVpnConn``, ``ModifyVpnConnEx``, ``DescribeVpcTaskResult``; HmacSHA1 or
  HmacSHA256 signatures), ``sim.url``;
- API 3.0 at ``/`` (``DescribeVpnConnections``, ``ModifyVpnConnectionAttribute``, ``DescribeVpcTaskResult``,
  Version ``2017-03-12``; TC3-HMAC-SHA256), ``sim.v3_url`` (see ``bot.sim.v3``).

    async with SimServer(SimState()) as sim:   # the demo world on a free loopback port
        ...  # sign requests with DEMO_SECRET_ID / DEMO_SECRET_KEY and send them to sim.url or sim.v3_url

Faults are keyed by the API 2.0 action names and apply to both dialects; ``SimState.received`` counts an action
together with its equivalent in the other dialect.
"""

from bot.sim.faults import Faults, InjectedFault
from bot.sim.server import SimServer, build_app, run_forever
from bot.sim.state import API2_ACTION, DEMO_SECRET_ID, DEMO_SECRET_KEY, SimApiError, SimState, World, load_world
from bot.sim.v3 import V3Error

__all__ = [
    "API2_ACTION",
    "DEMO_SECRET_ID",
    "DEMO_SECRET_KEY",
    "Faults",
    "InjectedFault",
    "SimApiError",
    "SimServer",
    "SimState",
    "V3Error",
    "World",
    "build_app",
    "load_world",
    "run_forever",
]
