"""Acks before work: what a listener leaves for after its ack starts once Slack's requests give the loop a moment.

Bolt answers Slack as soon as a listener calls ``ack()``; the work the listener then leaves (fill the modal, post a
list, approve) runs on the same event loop as the next requests. Measured with 20 clients sending without pause
(``python -m bench --only ack``), starting that work at once put command acks at p99 132 ms (a bare Bolt app:
20 ms), past the 100 ms target; waiting for a quiet moment brings them back under it. This is the one mechanism
kept of the earlier scheduler (no lanes, no garbage-collector tuning): work waits until no Slack request has been
in progress for ``quiet`` seconds, at most ``max_wait``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["QuietGate"]

QUIET_SECONDS = 0.015
TRIGGER_WAIT_SECONDS = 0.15
"""The longest a ``views.open`` waits: its ``trigger_id`` lives 3 s."""
WORK_WAIT_SECONDS = 2.0


class QuietGate:
    """Counts the Slack requests in progress (:meth:`request`, from the app's middleware); :meth:`wait` returns
    once none has been in progress for ``quiet`` seconds, or after ``max_wait``."""

    def __init__(self, quiet: float = QUIET_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.quiet = quiet
        self._clock = clock
        self._in_progress = 0
        self._last = 0.0

    @contextmanager
    def request(self) -> Iterator[None]:
        self._in_progress += 1
        try:
            yield
        finally:
            self._in_progress -= 1
            self._last = self._clock()

    async def wait(self, max_wait: float = WORK_WAIT_SECONDS) -> None:
        deadline = self._clock() + max_wait
        while (now := self._clock()) < deadline:
            idle = now - self._last
            if not self._in_progress and idle >= self.quiet:
                return
            await asyncio.sleep(min(self.quiet if self._in_progress else self.quiet - idle, deadline - now))
