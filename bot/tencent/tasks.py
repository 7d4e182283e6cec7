"""Following a cloud task until it ends or a deadline passes.

A task is named by a :data:`TaskId`: the ``data.taskId`` int of API 2.0's ``ModifyVpnConnEx``, or the ``RequestId``
string of API 3.0's ``ModifyVpnConnectionAttribute``. The follower never looks inside it; it hands it to ``poll``.

Nothing documents API 3.0's ``ModifyVpnConnectionAttribute`` as asynchronous (reference section 8): when
``DescribeVpcTaskResult`` answers that it keeps no task by that id (:attr:`TaskStatus.NO_TASK`), the follower reads
the edit's end from the connection itself through the caller's ``settle`` poll (:func:`settled`): the connection
back to normal with every proposed value live. Settling ends in success or at the deadline, never in failure: a
connection that does not show the values is no evidence that the edit failed, so the caller's reconciliation judges
a follow that timed out.

A :class:`TaskFollower` is a plain coroutine driver: no threads, no shared state between follows, so thousands of
tasks can be followed at once on one event loop, and cancelling the awaiting task stops the follow at once.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeAlias

from bot.tencent.errors import CloudError
from bot.vpn.connection import VpnConnection

__all__ = [
    "CONNECTION_NORMAL",
    "Settle",
    "TaskFollower",
    "TaskId",
    "TaskOutcome",
    "TaskResult",
    "TaskState",
    "TaskStatus",
    "settled",
]

TaskId: TypeAlias = int | str
"""A cloud task's id: an int under API 2.0, the edit's ``RequestId`` string under API 3.0."""

log = logging.getLogger("bot.tencent")


class TaskStatus(enum.Enum):
    """A task's status as ``DescribeVpcTaskResult`` reports it (API 2.0: 0 succeeded, 1 failed; API 3.0: SUCCESS,
    FAILED; anything else running). ``NO_TASK``: the service keeps no task by this id (API 3.0 answered
    ``ResourceNotFound``, ``InvalidParameterValue`` or ``UnsupportedOperation``): the edit's end is to be read from
    the connection."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    NO_TASK = "no_task"


@dataclass(frozen=True)
class TaskState:
    """One poll's answer: the status, and the cloud's words about a failure when it gives any."""

    status: TaskStatus
    message: str = ""

    @property
    def done(self) -> bool:
        """The task ended (succeeded or failed)."""
        return self.status in (TaskStatus.SUCCEEDED, TaskStatus.FAILED)


CONNECTION_NORMAL = 6
"""``VpnConnection.status`` of a connection nothing is changing (API 2.0 ``vpcConnStatus`` 6, API 3.0 ``State``
AVAILABLE)."""


def settled(live: VpnConnection, missing: list[str]) -> TaskState:
    """A settle poll's answer for a read of the connection: SUCCEEDED when it is back to normal and nothing proposed
    is ``missing`` from it (as ``bot.vpn.diff.not_live`` finds), else RUNNING."""
    done = live.status == CONNECTION_NORMAL and not missing
    return TaskState(TaskStatus.SUCCEEDED if done else TaskStatus.RUNNING)


class TaskOutcome(enum.Enum):
    """How a follow ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"


@dataclass(frozen=True)
class TaskResult:
    """The end of a follow. ``message``: the cloud's failure words (FAILED), or the error of the last poll when it
    failed (TIMED_OUT; empty when the last poll simply said "running"). ``elapsed`` is in seconds of ``clock``.
    ``settled``: the service kept no task, so the end was read from the connection (SUCCEEDED: it is back to
    normal with every proposed value live; TIMED_OUT: it did not show that by the deadline). ``polls`` counts
    the task polls and the settle reads."""

    task_id: TaskId
    outcome: TaskOutcome
    elapsed: float
    polls: int
    message: str = ""
    settled: bool = False


Poll = Callable[[TaskId], Awaitable[TaskState]]
Settle = Callable[[], Awaitable[TaskState]]
OnChange = Callable[[TaskState, float], Awaitable[None]]
NO_TASK = TaskState(TaskStatus.NO_TASK)


class TaskFollower:
    """Polls a task with a growing interval until it succeeds, fails or ``deadline`` seconds pass.

    The first poll is immediate; then the wait is ``initial_interval``, multiplied by ``factor`` after each poll,
    capped at ``max_interval`` (each wait spread by up to ``jitter`` either way), and never longer than the time
    left before the deadline (so the last poll happens at the deadline). A poll that raises :class:`CloudError`
    does not end the follow; any other exception, including cancellation and exceptions from ``on_change``,
    propagates. ``clock`` and ``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        poll: Poll,
        *,
        initial_interval: float = 2.0,
        max_interval: float = 30.0,
        factor: float = 1.5,
        deadline: float = 1800.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: float = 0.0,
    ) -> None:
        if not 0 <= jitter < 1:
            raise ValueError("need 0 <= jitter < 1")
        if initial_interval <= 0 or max_interval < initial_interval:
            raise ValueError("need 0 < initial_interval <= max_interval")
        if factor < 1 or deadline < 0:
            raise ValueError("need factor >= 1 and deadline >= 0")
        self._poll = poll
        self._initial = initial_interval
        self._max = max_interval
        self._factor = factor
        self._deadline = deadline
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter

    async def follow(
        self, task_id: TaskId, on_change: OnChange | None = None, *, settle: Settle | None = None
    ) -> TaskResult:
        """Follow ``task_id`` to its end. ``on_change(state, elapsed)`` is awaited once per status change, the
        first status included; a failed poll is not a change.

        When a poll answers NO_TASK and ``settle`` is given, the follow goes on with ``settle()`` in place of the
        poll, on the same schedule and deadline: ``on_change`` sees NO_TASK once, then SUCCEEDED when ``settle``
        answers it (the end, ``settled`` True); any other answer of ``settle`` means "not yet". Without ``settle``,
        NO_TASK is a poll that could not tell, and the follow goes on to its deadline.
        """
        start = self._clock()
        interval = self._initial
        polls = 0
        previous: TaskStatus | None = None
        settling = False
        while True:
            polls += 1
            if settling and settle is not None:
                state, error = await self._settle_once(task_id, settle)
            else:
                state, error = await self._poll_once(task_id)
                if state is not None and state.status is TaskStatus.NO_TASK:
                    settling = settle is not None
                    if not settling:
                        state, error = None, f"the service keeps no task {task_id}"
            elapsed = self._clock() - start
            if state is not None and state.status is not previous:
                previous = state.status
                if on_change is not None:
                    await on_change(state, elapsed)
            if state is not None and state.done:
                return self._finish(task_id, _OUTCOMES[state.status], elapsed, polls, state.message, settling)
            remaining = self._deadline - elapsed
            if remaining <= 0:
                return self._finish(task_id, TaskOutcome.TIMED_OUT, elapsed, polls, error, settling)
            spread = 1 + self._jitter * (2 * random.random() - 1)  # tasks started together do not poll together
            await self._sleep(min(interval * spread, remaining))
            interval = min(interval * self._factor, self._max)

    async def _settle_once(self, task_id: TaskId, settle: Settle) -> tuple[TaskState | None, str]:
        """One read of the connection: SUCCEEDED, or NO_TASK (still settling); a CloudError is a failed read."""
        try:
            state = await settle()
        except CloudError as error:
            log.info("task %s: reading the connection failed (%s), will retry", task_id, type(error).__name__)
            return None, str(error)
        return (state if state.status is TaskStatus.SUCCEEDED else NO_TASK), ""

    async def _poll_once(self, task_id: TaskId) -> tuple[TaskState | None, str]:
        try:
            return await self._poll(task_id), ""
        except CloudError as error:
            log.info("task %s: poll failed (%s), will retry", task_id, type(error).__name__)
            return None, str(error)

    def _finish(
        self, task_id: TaskId, outcome: TaskOutcome, elapsed: float, polls: int, message: str, settled: bool
    ) -> TaskResult:
        how = ", no task: read from the connection" if settled else ""
        log.info("task %s: %s after %.1f s, %d polls%s", task_id, outcome.value, elapsed, polls, how)
        return TaskResult(task_id, outcome, elapsed, polls, message, settled)


_OUTCOMES = {TaskStatus.SUCCEEDED: TaskOutcome.SUCCEEDED, TaskStatus.FAILED: TaskOutcome.FAILED}
