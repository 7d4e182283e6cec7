"""Acks first (``bot.slack.ackfirst``): post-ack work waits while Slack requests keep arriving, runs once the loop is
quiet, never starves, keeps to its lane's slots, and treats a held loop as busy."""

from __future__ import annotations

import asyncio
import gc
import time

import pytest

from bot.slack.ackfirst import AckFirst, Lane, full_collections_when_quiet

QUIET = 0.02


def ack_first(slots: int = 4, max_wait: float = 5.0) -> AckFirst:
    return AckFirst(quiet=QUIET, urgent=Lane(slots=slots, max_wait=max_wait), background=Lane(slots, max_wait))


async def arrivals(gate: AckFirst, every: float, lasting: float) -> float:
    """Requests arriving every ``every`` seconds for ``lasting`` seconds; the time of the last one."""
    end = time.monotonic() + lasting
    last = time.monotonic()
    while time.monotonic() < end:
        gate.arrived()
        last = time.monotonic()
        await asyncio.sleep(every)
    return last


async def started_at(gate: AckFirst, urgent: bool = False) -> float:
    async with gate.urgent() if urgent else gate.background():
        return time.monotonic()


async def test_work_waits_for_the_requests_to_stop_then_runs() -> None:
    gate = ack_first()
    gate.arrived()
    work = asyncio.create_task(started_at(gate))
    last = await arrivals(gate, every=0.005, lasting=0.3)
    began = await work
    assert began >= last + QUIET * 0.9, "the work ran while requests were still arriving"
    assert began < last + 0.2, "the work did not run soon after the requests stopped"


async def test_work_on_a_quiet_loop_runs_at_once() -> None:
    gate = ack_first()
    asked = time.monotonic()
    assert await started_at(gate) - asked < QUIET / 2, "work waited on a loop where no request had arrived"


async def test_work_never_waits_longer_than_its_lane_allows() -> None:
    gate = ack_first(max_wait=0.15)
    gate.arrived()
    asked = time.monotonic()
    work = asyncio.create_task(started_at(gate))
    await arrivals(gate, every=0.005, lasting=0.6)
    began = await work
    assert 0.14 <= began - asked < 0.45, f"started {began - asked:.3f} s after asking, with max_wait 0.15 s"


async def test_urgent_work_is_not_queued_behind_background_work() -> None:
    gate = AckFirst(quiet=QUIET, urgent=Lane(slots=2, max_wait=0.1), background=Lane(slots=1, max_wait=5.0))
    gate.arrived()
    background = [asyncio.create_task(started_at(gate)) for _ in range(3)]
    asked = time.monotonic()
    urgent = asyncio.create_task(started_at(gate, urgent=True))
    await arrivals(gate, every=0.005, lasting=1.0)
    assert await urgent - asked < 0.6  # max_wait 0.1 s, with room for a busy CI machine; the quiet came at 1.0 s
    assert min(await asyncio.gather(*background)) > await urgent


async def test_a_lane_runs_at_most_its_slots_at_once() -> None:
    gate = ack_first(slots=3)
    running = peak = 0

    async def job() -> None:
        nonlocal running, peak
        async with gate.background():
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.02)
            running -= 1

    await asyncio.gather(*(job() for _ in range(12)))
    assert peak == 3


async def test_a_held_loop_counts_as_busy() -> None:
    """A poll that wakes late (the loop was held, so requests may sit unread in their sockets) does not start work
    at once: it waits one more quiet period, in which the waiting requests are read."""
    gate = ack_first()
    gate.arrived()
    work = asyncio.create_task(started_at(gate))
    await asyncio.sleep(QUIET / 2)  # the work is polling now
    time.sleep(QUIET * 4)  # noqa: ASYNC251 - holds the loop on purpose, like a long garbage collection
    released = time.monotonic()
    began = await work
    assert began - released >= QUIET * 0.9, "work started the moment the held loop was released"


async def test_work_cancelled_before_its_turn_is_closed_not_leaked(recwarn: pytest.WarningsRecorder) -> None:
    from bot.slack.context import BotContext

    gate = ack_first()
    gate.arrived()
    ran = []

    async def work() -> None:
        ran.append(True)

    ctx = BotContext.__new__(BotContext)  # only the parts after_ack uses
    ctx.background, ctx.ack_first = set(), gate
    task = ctx.after_ack(work(), "never-runs")
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not ran
    assert not [w for w in recwarn if "never awaited" in str(w.message)]


async def test_full_collections_wait_for_a_quiet_loop() -> None:
    gate = ack_first()
    full: list[float] = []

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            full.append(time.monotonic())

    before = gc.get_threshold()
    gc.callbacks.append(record)
    try:
        async with full_collections_when_quiet(gate, check_every=0.05, max_wait=5.0):
            assert gc.get_threshold()[2] > 10**6, "automatic full collections are still on"
            garbage = []
            end = time.monotonic() + 0.5
            while time.monotonic() < end:  # busy: requests arriving, young collections running
                gate.arrived()
                garbage.append([[] for _ in range(2000)])
                garbage = garbage[-3:]
                await asyncio.sleep(0.003)
            last_arrival = time.monotonic()
            assert full == [], "a full collection ran while requests kept arriving"
            await asyncio.sleep(0.3)
        assert full, "no full collection once the loop was quiet"
        assert full[0] >= last_arrival
    finally:
        gc.callbacks.remove(record)
    assert gc.get_threshold() == before


async def test_work_that_hangs_stops_holding_its_slot() -> None:
    gate = AckFirst(quiet=QUIET, background=Lane(slots=1, max_wait=5.0, hold=0.1))
    hung = asyncio.Event()

    async def hangs() -> None:
        async with gate.background():
            await hung.wait()

    stuck = asyncio.create_task(hangs())
    await asyncio.sleep(0)
    asked = time.monotonic()
    began = await asyncio.wait_for(started_at(gate), 2.0)
    assert 0.08 <= began - asked < 0.5, "the work behind a hung one did not start once the hung one's hold ran out"
    hung.set()
    await stuck
    slots = gate.background_lane.semaphore
    assert not slots.locked(), "the hung work's slot was never given back"
    await slots.acquire()
    assert slots.locked(), "the hung work's slot was given back twice"
    slots.release()


async def test_nested_blocks_turn_automatic_collections_back_on_only_at_the_end() -> None:
    before = gc.get_threshold()
    first = full_collections_when_quiet(ack_first())
    second = full_collections_when_quiet(ack_first())
    await first.__aenter__()
    await second.__aenter__()
    await first.__aexit__(None, None, None)  # the first bot stops while the second still runs
    assert gc.get_threshold()[2] > 10**6
    await second.__aexit__(None, None, None)
    assert gc.get_threshold() == before
