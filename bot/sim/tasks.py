"""The world's running edits: each edit is a :class:`Task` that lands when the clock reaches ``ends_at``.

A task has a number (API 2.0's ``taskId``, counting from the seed's example 12614) and, when it was started
through API 3.0, the RequestId that names it there. An API 3.0 edit made while the world's ``modifyTask`` is
false still takes its time to land, but leaves no task to query (``queryable`` False): the documented behaviour of
``ModifyVpnConnectionAttribute``, whose answer holds only a RequestId.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal

from bot.sim.model import Connection

__all__ = ["FIRST_TASK_NUMBER", "Task", "TaskBook", "TaskOutcome", "TaskStatus"]

FIRST_TASK_NUMBER: Final = 12614
TaskOutcome = Literal["succeeded", "failed"]


class TaskStatus(Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass
class Task:
    """One edit on its way: ``after`` is the connection as it will be once the task succeeds."""

    number: int
    conn_id: str
    ends_at: float
    outcome: TaskOutcome
    after: Connection
    request_id: str | None = None
    queryable: bool = True
    done: bool = False
    message: str = ""

    @property
    def status(self) -> TaskStatus:
        if not self.done:
            return TaskStatus.RUNNING
        return TaskStatus.SUCCEEDED if self.outcome == "succeeded" else TaskStatus.FAILED


class TaskBook:
    """Every task, by number and by RequestId; only queryable tasks can be looked up."""

    def __init__(self) -> None:
        self._tasks: dict[int, Task] = {}
        self._named: dict[str, Task] = {}
        self._next = FIRST_TASK_NUMBER

    def start(
        self,
        conn_id: str,
        after: Connection,
        *,
        ends_at: float,
        outcome: TaskOutcome,
        request_id: str | None,
        queryable: bool,
    ) -> Task:
        task = Task(self._next, conn_id, ends_at, outcome, after, request_id, queryable)
        self._next += 1
        self._tasks[task.number] = task
        if request_id is not None and queryable:
            self._named[request_id] = task
        return task

    def by_number(self, number: int) -> Task | None:
        task = self._tasks.get(number)
        return task if task is not None and task.queryable else None

    def by_request_id(self, request_id: str) -> Task | None:
        return self._named.get(request_id)

    def running_on(self, conn_id: str) -> Task | None:
        return next((t for t in self._tasks.values() if not t.done and t.conn_id == conn_id), None)

    def due(self, now: float) -> list[Task]:
        """The running tasks whose time has come, in the order they were started."""
        return [t for t in self._tasks.values() if not t.done and now >= t.ends_at]

    def __iter__(self) -> Iterator[Task]:
        return iter(self._tasks.values())
