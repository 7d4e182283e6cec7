"""Acknowledgements first: the work that follows an ack waits for a moment when no Slack request is arriving.

Slack gives a request 3 seconds to be acknowledged (and sends it again when it was not); what a listener does after
its ``ack()`` (open a modal and fill it from the cloud, post a list, approve and send an edit, redraw a card) can
wait a few milliseconds. All of it runs on the one event loop, so without an order a burst of requests is answered
only as fast as the work behind the earlier ones allows. Here the work takes a slot in a lane and then waits until
the loop is quiet: no request arrived for ``quiet`` seconds (longer than Bolt takes to answer one: it looks for the
listener's ack every 10 ms), or until its lane's ``max_wait`` has passed, so work never starves under a long burst.
Two lanes: ``urgent`` for what has a Slack deadline of its own (``views.open`` within the 3 s its ``trigger_id``
lives), ``background`` for the rest.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

QUIET_SECONDS = 0.015
FULL_COLLECTION_CHECK = 5.0
_automatic_off = 0  # blocks of full_collections_when_quiet running
_saved_thresholds: list[int] = []


@dataclass
class Lane:
    """At most ``slots`` pieces of work at once, each started once the loop is quiet or ``max_wait`` has passed.

    A piece of work stops counting against the slots when it ends or ``hold`` seconds after it started, whichever
    comes first: one waiting on a hung cloud or a slow reconciliation must not stop the work behind it.
    """

    slots: int
    max_wait: float
    hold: float = 1.0
    semaphore: asyncio.Semaphore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.semaphore = asyncio.Semaphore(self.slots)


class AckFirst:
    """Notes when Slack requests arrive (:meth:`arrived`, from a Bolt middleware) and gives post-ack work its turn
    (:meth:`urgent`, :meth:`background`, :meth:`pause`)."""

    def __init__(
        self,
        *,
        quiet: float = QUIET_SECONDS,
        urgent: Lane | None = None,
        background: Lane | None = None,
    ) -> None:
        self.quiet = quiet
        self.urgent_lane = urgent or Lane(slots=16, max_wait=0.15)
        self.background_lane = background or Lane(slots=4, max_wait=2.0)
        self._last_arrival = float("-inf")

    def arrived(self) -> None:
        self._last_arrival = time.monotonic()

    def is_quiet(self) -> bool:
        return time.monotonic() - self._last_arrival >= self.quiet

    async def pause(self, max_wait: float) -> None:
        """Wait until the loop is quiet, at most ``max_wait`` seconds (polling every ``quiet`` seconds while busy).

        A poll that wakes late means the loop was held (other work, a garbage collection): requests may be waiting
        unread in their sockets, so that counts as busy too.
        """
        deadline = time.monotonic() + max_wait
        while not self.is_quiet():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            step = min(self.quiet, left)
            asked = time.monotonic()
            await asyncio.sleep(step)
            woke = time.monotonic()
            if woke - asked - step > self.quiet:
                self._last_arrival = max(self._last_arrival, woke)

    @asynccontextmanager
    async def turn(self, lane: Lane) -> AsyncIterator[None]:
        """A slot in ``lane``, entered once the loop is quiet (or ``lane.max_wait`` after asking)."""
        asked = time.monotonic()
        semaphore = lane.semaphore
        await semaphore.acquire()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                semaphore.release()

        timer = asyncio.get_running_loop().call_later(lane.hold, release)
        try:
            await self.pause(lane.max_wait - (time.monotonic() - asked))
            yield
        finally:
            timer.cancel()
            release()

    def urgent(self) -> AbstractAsyncContextManager[None]:
        return self.turn(self.urgent_lane)

    def background(self) -> AbstractAsyncContextManager[None]:
        return self.turn(self.background_lane)


@asynccontextmanager
async def full_collections_when_quiet(
    gate: AckFirst, check_every: float = FULL_COLLECTION_CHECK, max_wait: float = 2 * FULL_COLLECTION_CHECK
) -> AsyncIterator[None]:
    """For the life of the block, Python's full (generation 2) garbage collections run at quiet moments.

    A full collection holds the loop for as long as it scans every object (tens of ms with a thousand changes being
    followed); Python starts one whenever its allocation counts say, in the middle of a request as likely as not.
    Here automatic full collections are off; every ``check_every`` seconds, once as many younger collections have
    run as would have triggered one, it runs after :meth:`AckFirst.pause` (at most ``max_wait`` later).
    """
    global _automatic_off
    if _automatic_off == 0:
        _saved_thresholds[:] = gc.get_threshold()
        gc.set_threshold(_saved_thresholds[0], _saved_thresholds[1], 2**30)
    _automatic_off += 1  # several bots in one process (tests): the last one out turns them back on
    due = max(1, _saved_thresholds[2])

    async def collect() -> None:
        while True:
            await asyncio.sleep(check_every)
            if gc.get_count()[2] >= due:
                await gate.pause(max_wait)
                gc.collect(2)

    task = asyncio.create_task(collect(), name="full-collections")
    try:
        yield
    finally:
        task.cancel()
        _automatic_off -= 1
        if _automatic_off == 0:
            gc.set_threshold(*_saved_thresholds)
