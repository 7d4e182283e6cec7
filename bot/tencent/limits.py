"""Client-side rate limits: vpnbot keeps under Tencent Cloud's per-action request rates by itself.

Tencent documents, per account and per action, ``DescribeVpcTaskResult`` 20/s, ``DescribeVpnConnections`` 100/s and
``ModifyVpnConnectionAttribute`` 100/s (API 3.0; API 2.0 documents none). A :class:`RateLimiter` admits at most
``limit`` requests in any sliding window of ``window`` seconds; each client owns one per limited action, so
nothing is shared between clients and nothing lives at module level.

Why the window is ``1 s + MARGIN_SECONDS`` (0.5 s) and not 1 s: the service counts requests when they arrive, and
the delay from the grant to the arrival varies from one request to the next (event-loop lag before the write and at
the receiving end, a new connection's handshakes instead of a kept-alive one, the wait for one of the client's
in-flight slots). A limiter that spaces grants by exactly 1 s lets a burst granted at t = 1 s arrive while the
burst granted at t = 0 still counts: two limits' worth in one second. When the spread of that delay is at most the
margin, any second of arrivals comes from grants within ``1 s + margin``, so it holds at most ``limit`` requests.
0.5 s covers one or two round trips of a new HTTPS connection within a region and the loop lag of a bot busy with
thousands of followed tasks and watches (0.25 s was measured too little: peaks of 22/s against 20 in the ``many``
benchmark, one refusal among 2,000 watches on a loaded 2-core machine); it costs a third of the rate (13 polls/s of
the 20).
What it cannot cover (other tools of the same account spending the quota, a slower path) the service answers with
``RequestLimitExceeded``, which the client meets by backing off (``bot.tencent.client``), never by failing a change.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType

__all__ = ["MARGIN_SECONDS", "TENCENT_RATE_LIMITS", "RateLimiter"]

TENCENT_RATE_LIMITS: Mapping[str, int] = MappingProxyType(
    {
        "DescribeVpcTaskResult": 20,
        "DescribeVpnConnections": 100,
        "ModifyVpnConnectionAttribute": 100,
        "DescribeCustomerGatewayVendors": 100,
        "DownloadCustomerGatewayConfiguration": 100,
    }
)
"""Tencent Cloud's documented per-account rates (requests per second) for the API 3.0 actions vpnbot sends."""
MARGIN_SECONDS = 0.5


class RateLimiter:
    """At most ``limit`` grants in any ``window`` seconds, in the order asked (FIFO: nobody starves).

    :meth:`acquire` returns when the caller may send one request. A caller cancelled while it waits takes no grant
    and holds up nobody. ``clock`` and ``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        limit: int,
        *,
        window: float = 1.0 + MARGIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("need limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._grants: deque[float] = deque(maxlen=limit)
        self._queue = asyncio.Lock()  # its waiters are woken in the order they came

    @property
    def waiting(self) -> bool:
        """Whether someone waits for a grant (the next one asking queues behind them)."""
        return self._queue.locked()

    async def acquire(self) -> None:
        """Wait for a grant: until fewer than ``limit`` grants were made in the last ``window`` seconds."""
        async with self._queue:
            while len(self._grants) == self.limit:
                wait = self._grants[0] + self.window - self._clock()
                if wait <= 0:
                    break
                await self._sleep(wait)
            self._grants.append(self._clock())
