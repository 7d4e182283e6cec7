"""An embedded simulator of the Tencent Cloud VPC API, built as moto builds one: a world with typed edits and its
own rules (``bot.sim.world``, ``bot.sim.rules``, ``bot.sim.model``), and two wires that verify, parse and render
like the real service (``bot.sim.wire_v2``, ``bot.sim.wire_v3``), served over HTTP by :class:`SimServer`:

- API 2.0 at ``/v2/index.php`` (``DescribeVpnConn``, ``ModifyVpnConnEx``, ``DescribeVpcTaskResult``; HmacSHA1 or
  HmacSHA256), ``sim.url``;
- API 3.0 at ``/`` (``DescribeVpnConnections``, ``ModifyVpnConnectionAttribute``, ``DescribeVpcTaskResult``,
  ``DescribeCustomerGatewayVendors``, ``DownloadCustomerGatewayConfiguration``, Version ``2017-03-12``;
  TC3-HMAC-SHA256), ``sim.v3_url``.

Each tunnel has a modelled other end, the customer's device (``bot.sim.peer``): after an edit lands, or the peer
is updated (``/_sim/peers/{vpnConnId}``, ``bot.sim.peer_admin``), the tunnel renegotiates ``renegotiateSeconds``
later and its ``netStatus`` follows whether the two ends match.

    async with SimServer(SimState()) as sim:   # the demo world on a free loopback port
        ...  # sign with DEMO_SECRET_ID / DEMO_SECRET_KEY, send to sim.url or sim.v3_url

Both dialects see one world: a change made through one is visible through the other. Faults are keyed by the API
2.0 action names and apply to both dialects; ``rateLimits`` apply per action name; ``SimState.received`` counts
an action together with its equivalent in the other dialect; ``SimState.peak_rate`` is the most requests of an
action within any one second.
"""

from bot.sim.faults import TENCENT_RATE_LIMITS, Faults, InjectedFault
from bot.sim.model import ConnectionEdit, Field, Problem, Reason, WorldError
from bot.sim.server import SimServer, build_app, run_forever
from bot.sim.shapes_v3 import V3Error
from bot.sim.wire_v2 import V2Error
from bot.sim.world import EQUIVALENT_ACTION, SimState
from bot.sim.worldfile import DEMO_SECRET_ID, DEMO_SECRET_KEY, World, load_world

__all__ = [
    "DEMO_SECRET_ID",
    "DEMO_SECRET_KEY",
    "EQUIVALENT_ACTION",
    "TENCENT_RATE_LIMITS",
    "ConnectionEdit",
    "Faults",
    "Field",
    "InjectedFault",
    "Problem",
    "Reason",
    "SimServer",
    "SimState",
    "V2Error",
    "V3Error",
    "World",
    "WorldError",
    "build_app",
    "load_world",
    "run_forever",
]
