"""Work that runs after the caller returned (a task followed for minutes), kept referenced until done."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any

log = logging.getLogger("bot.changes")


class Background:
    """A set of tasks: spawned, logged when they fail, cancelled or awaited together."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        return iter(list(self.tasks))

    def __len__(self) -> int:
        return len(self.tasks)

    def spawn(
        self, work: Coroutine[Any, Any, Any], name: str, *, after: Callable[[], Awaitable[None]] | None = None
    ) -> asyncio.Task[Any]:
        """Run ``work`` in the background (once ``after()`` returns, when given); a failure is logged, never lost."""
        task = asyncio.create_task(work if after is None else _after(after, work), name=name)
        self.tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    async def wait(self) -> None:
        """Until every task (and any task they spawn) is done."""
        while self.tasks:
            await asyncio.wait(list(self.tasks))

    async def cancel(self) -> None:
        """Cancel every task and wait for it (work that is followed is picked up again at the next start)."""
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background work %s failed", task.get_name(), exc_info=task.exception())


async def _after(first: Callable[[], Awaitable[None]], work: Coroutine[Any, Any, Any]) -> Any:
    try:
        await first()
        return await work
    finally:
        work.close()  # a no-op once awaited; no "never awaited" warning when cancelled before it started
