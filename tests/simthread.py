"""The simulator on a real loopback port, served from its own thread and event loop.

Synchronous tests (the CLI runs ``asyncio.run`` itself) use it as the cloud; async tests can use ``SimServer``
directly. ``call`` runs a function on the simulator's loop, so the world is never touched from two threads.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import dialect

from bot.sim import SimServer, SimState, World, load_world

T = TypeVar("T")


class FakeClock:
    """A clock for ``SimState(clock=...)`` that tests move by hand. It starts at the real time by default, because
    requests carry it (``Timestamp``, ``X-TC-Timestamp``) and the simulator checks them against it."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


CANARY_SECRET_ID = "AKIDcanaryTESTxxxxxxxxxxxxxxxxxxxxxx"
CANARY_SECRET_KEY = "canary-secret-key-7f3a9c1e5b"


class ThreadedSim:
    """``state`` (default: a fresh one on ``world``) lets a test inject the clock; ``ssl_context`` serves TLS."""

    def __init__(
        self, world: World, *, state: SimState | None = None, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = SimServer(state if state is not None else SimState(world), ssl_context=ssl_context)
        self._thread = threading.Thread(target=self.loop.run_forever, name="sim", daemon=True)

    @property
    def state(self) -> SimState:
        return self.server.state

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def v3_url(self) -> str:
        return self.server.v3_url

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def call(self, fn: Callable[[], T]) -> T:
        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def faults(self, **patch: Any) -> None:
        self.call(lambda: self.state.update_faults(patch))

    def received(self, action: str) -> int:
        return self.call(lambda: self.state.received(action))

    def connection(self, vpn_conn_id: str) -> dict[str, Any]:
        return self.call(lambda: self.state.connection(vpn_conn_id))


def canary_world(task_seconds: float = 0.2) -> World:
    """The demo world, signed for with a unique key that tests search for in every output."""
    world = load_world(None)
    return dialect.world(world, credentials={CANARY_SECRET_ID: CANARY_SECRET_KEY}, task_seconds=task_seconds)


@contextmanager
def threaded_sim(
    world: World, *, state: SimState | None = None, ssl_context: ssl.SSLContext | None = None
) -> Iterator[ThreadedSim]:
    sim = ThreadedSim(world, state=state, ssl_context=ssl_context)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()
