"""TaskFollower: backoff schedule, deadline, outcomes, errors mid-way, change callbacks, cancellation, scale."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import pytest

from bot.tencent.errors import ApiError, CloudError, TransportError
from bot.tencent.tasks import TaskFollower, TaskOutcome, TaskState, TaskStatus

RUNNING = TaskState(TaskStatus.RUNNING)
SUCCEEDED = TaskState(TaskStatus.SUCCEEDED)


class FakeTime:
    """A clock that only moves when the follower sleeps (or a poll takes ``poll_cost``)."""

    def __init__(self, poll_cost: float = 0.0) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.poll_cost = poll_cost

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Script:
    """A poll that answers the given states and errors in turn, then repeats the last one."""

    def __init__(self, answers: Iterable[TaskState | CloudError], fake: FakeTime | None = None) -> None:
        self.answers = list(answers)
        self.fake = fake
        self.polls: list[int] = []

    async def __call__(self, task_id: int) -> TaskState:
        self.polls.append(task_id)
        if self.fake is not None:
            self.fake.now += self.fake.poll_cost
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, CloudError):
            raise answer
        return answer


def follower(script: Script, fake: FakeTime, **options: float) -> TaskFollower:
    return TaskFollower(script, clock=fake.clock, sleep=fake.sleep, **options)


async def test_backoff_grows_by_factor_and_the_last_sleep_ends_at_the_deadline() -> None:
    fake = FakeTime()
    result = await follower(Script([RUNNING]), fake, deadline=100).follow(7)
    assert fake.sleeps == pytest.approx([2, 3, 4.5, 6.75, 10.125, 15.1875, 22.78125, 30, 5.65625])
    assert result.outcome is TaskOutcome.TIMED_OUT
    assert result.elapsed == pytest.approx(100)
    assert result.polls == len(fake.sleeps) + 1
    assert result.message == ""


async def test_interval_is_capped_and_never_sleeps_past_the_deadline() -> None:
    fake = FakeTime(poll_cost=0.25)
    result = await follower(Script([RUNNING]), fake).follow(7)
    assert max(fake.sleeps) == 30
    assert fake.sleeps.count(30) > 50
    assert fake.now - 1000.0 == pytest.approx(1800)
    assert result.outcome is TaskOutcome.TIMED_OUT
    assert result.elapsed == pytest.approx(1800)


async def test_succeeded() -> None:
    fake = FakeTime()
    script = Script([RUNNING, RUNNING, SUCCEEDED], fake)
    result = await follower(script, fake).follow(12614)
    assert (result.task_id, result.outcome, result.polls, result.message) == (12614, TaskOutcome.SUCCEEDED, 3, "")
    assert result.elapsed == pytest.approx(5)
    assert script.polls == [12614, 12614, 12614]


async def test_first_poll_is_immediate() -> None:
    fake = FakeTime()
    result = await follower(Script([SUCCEEDED]), fake).follow(1)
    assert fake.sleeps == []
    assert result.polls == 1
    assert result.elapsed == 0


async def test_failed_carries_the_clouds_words() -> None:
    fake = FakeTime()
    failed = TaskState(TaskStatus.FAILED, "peer gateway unreachable")
    result = await follower(Script([RUNNING, failed]), fake).follow(3)
    assert result.outcome is TaskOutcome.FAILED
    assert result.message == "peer gateway unreachable"
    assert result.polls == 2


async def test_timed_out_with_the_last_error() -> None:
    fake = FakeTime()
    error = ApiError("DescribeVpcTaskResult", 6200, "ServiceUnavailable", "try later")
    result = await follower(Script([RUNNING, error]), fake, deadline=10).follow(3)
    assert result.outcome is TaskOutcome.TIMED_OUT
    assert result.message == "DescribeVpcTaskResult failed: 6200 ServiceUnavailable: try later"


async def test_errors_midway_keep_the_backoff_then_success() -> None:
    fake = FakeTime()
    boom = TransportError("DescribeVpcTaskResult", "ConnectError: refused")
    changes: list[tuple[TaskStatus, float]] = []

    async def on_change(state: TaskState, elapsed: float) -> None:
        changes.append((state.status, elapsed))

    script = Script([RUNNING, boom, boom, RUNNING, SUCCEEDED], fake)
    result = await follower(script, fake).follow(9, on_change)
    assert result.outcome is TaskOutcome.SUCCEEDED
    assert result.polls == 5
    assert fake.sleeps == pytest.approx([2, 3, 4.5, 6.75])
    assert changes == [(TaskStatus.RUNNING, 0), (TaskStatus.SUCCEEDED, pytest.approx(16.25))]


async def test_on_change_once_per_status_change_first_included() -> None:
    fake = FakeTime()
    seen: list[TaskState] = []

    async def on_change(state: TaskState, elapsed: float) -> None:
        seen.append(state)

    failed = TaskState(TaskStatus.FAILED, "no")
    await follower(Script([RUNNING, RUNNING, RUNNING, failed]), fake).follow(1, on_change)
    assert seen == [RUNNING, failed]


async def test_other_exceptions_propagate() -> None:
    async def broken(task_id: int) -> TaskState:
        raise RuntimeError("bug")

    fake = FakeTime()
    with pytest.raises(RuntimeError, match="bug"):
        await TaskFollower(broken, clock=fake.clock, sleep=fake.sleep).follow(1)


async def test_zero_deadline_polls_once() -> None:
    fake = FakeTime()
    result = await follower(Script([RUNNING]), fake, deadline=0).follow(1)
    assert result.outcome is TaskOutcome.TIMED_OUT
    assert result.polls == 1
    assert fake.sleeps == []


async def test_a_poll_at_the_deadline_still_counts() -> None:
    fake = FakeTime()
    result = await follower(Script([RUNNING, RUNNING, SUCCEEDED]), fake, deadline=4).follow(1)
    assert fake.sleeps == [2, 2]
    assert result.outcome is TaskOutcome.SUCCEEDED


@pytest.mark.parametrize(
    "options",
    [{"initial_interval": 0}, {"initial_interval": 40}, {"factor": 0.5}, {"deadline": -1}],
)
def test_bad_options(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="need"):
        TaskFollower(Script([RUNNING]), **options)


async def test_cancellation_propagates_and_stops_polling() -> None:
    polled = asyncio.Event()
    script = Script([RUNNING])

    async def poll(task_id: int) -> TaskState:
        polled.set()
        return await script(task_id)

    task = asyncio.create_task(TaskFollower(poll, initial_interval=60, max_interval=60).follow(1))
    await polled.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert script.polls == [1]


async def test_thousands_of_follows_at_once_on_one_loop() -> None:
    count = 2000
    scripts = [Script([RUNNING, RUNNING, SUCCEEDED]) for _ in range(count)]
    followers = [TaskFollower(s, initial_interval=0.01, max_interval=0.01) for s in scripts]
    started = time.monotonic()
    results = await asyncio.gather(*(f.follow(i) for i, f in enumerate(followers)))
    assert time.monotonic() - started < 5
    assert all(r.outcome is TaskOutcome.SUCCEEDED and r.polls == 3 for r in results)
    assert [r.task_id for r in results] == list(range(count))


# --- no task: settling from the connection -------------------------------------------------------------------------

NO_TASK = TaskState(TaskStatus.NO_TASK)


class Settle:
    """A settle poll that answers the given states and errors in turn (the last one repeats), counting its reads."""

    def __init__(self, answers: Iterable[TaskState | CloudError]) -> None:
        self.answers = list(answers)
        self.reads = 0

    async def __call__(self) -> TaskState:
        self.reads += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, CloudError):
            raise answer
        return answer


async def test_no_task_switches_to_settling_on_the_same_schedule() -> None:
    fake = FakeTime()
    script = Script([NO_TASK], fake)
    settle = Settle([RUNNING, RUNNING, SUCCEEDED])
    changes: list[tuple[TaskStatus, float]] = []

    async def on_change(state: TaskState, elapsed: float) -> None:
        changes.append((state.status, elapsed))

    result = await follower(script, fake).follow("req-1", on_change, settle=settle)
    assert script.polls == ["req-1"]  # the task is asked once; the connection after
    assert settle.reads == 3
    assert fake.sleeps == pytest.approx([2, 3, 4.5])
    assert (result.outcome, result.settled, result.polls) == (TaskOutcome.SUCCEEDED, True, 4)
    assert result.elapsed == pytest.approx(9.5)
    assert changes == [(TaskStatus.NO_TASK, 0), (TaskStatus.SUCCEEDED, pytest.approx(9.5))]


async def test_no_task_after_running_also_settles() -> None:
    fake = FakeTime()
    settle = Settle([SUCCEEDED])
    result = await follower(Script([RUNNING, NO_TASK], fake), fake).follow("req-2", settle=settle)
    assert (result.outcome, result.settled, result.polls) == (TaskOutcome.SUCCEEDED, True, 3)


async def test_settling_never_concludes_failed_and_times_out_at_the_deadline() -> None:
    fake = FakeTime()
    failed = TaskState(TaskStatus.FAILED, "not applied")
    boom = TransportError("DescribeVpnConnections", "ConnectError: refused")
    seen: list[TaskStatus] = []

    async def on_change(state: TaskState, elapsed: float) -> None:
        seen.append(state.status)

    settle = Settle([failed, RUNNING, boom, failed])
    result = await follower(Script([NO_TASK], fake), fake, deadline=60).follow("req-3", on_change, settle=settle)
    assert result.outcome is TaskOutcome.TIMED_OUT
    assert result.settled
    assert result.elapsed == pytest.approx(60)
    assert seen == [TaskStatus.NO_TASK]  # "not yet" is no change, and a failure is not taken from settling
    assert result.message == ""


async def test_a_failed_settle_read_is_the_last_error_at_the_deadline() -> None:
    fake = FakeTime()
    boom = TransportError("DescribeVpnConnections", "ConnectError: refused")
    result = await follower(Script([NO_TASK], fake), fake, deadline=10).follow("r", settle=Settle([boom]))
    assert (result.outcome, result.settled) == (TaskOutcome.TIMED_OUT, True)
    assert result.message == "DescribeVpnConnections failed: ConnectError: refused"


async def test_no_task_without_settle_is_a_poll_that_could_not_tell() -> None:
    fake = FakeTime()
    seen: list[TaskStatus] = []

    async def on_change(state: TaskState, elapsed: float) -> None:
        seen.append(state.status)

    result = await follower(Script([NO_TASK], fake), fake, deadline=20).follow("req-4", on_change)
    assert (result.outcome, result.settled) == (TaskOutcome.TIMED_OUT, False)
    assert "no task req-4" in result.message
    assert seen == []


async def test_a_task_that_exists_is_followed_and_settle_is_never_called() -> None:
    fake = FakeTime()
    settle = Settle([SUCCEEDED])
    failed = TaskState(TaskStatus.FAILED, "IKE timed out")
    result = await follower(Script([RUNNING, failed], fake), fake).follow("req-5", settle=settle)
    assert (result.outcome, result.settled, result.message) == (TaskOutcome.FAILED, False, "IKE timed out")
    assert settle.reads == 0


def test_no_task_is_not_done() -> None:
    assert not NO_TASK.done
    assert SUCCEEDED.done
    assert TaskState(TaskStatus.FAILED).done
    assert not RUNNING.done
