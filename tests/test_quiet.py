"""Work left for after an ack waits for a quiet moment (``bot.slack.quiet``), and never longer than it may."""

from __future__ import annotations

import asyncio
import time

from bot.slack.quiet import QuietGate


async def test_work_waits_while_requests_keep_coming_then_goes() -> None:
    gate = QuietGate(quiet=0.05)
    started = time.monotonic()
    waiting = asyncio.create_task(gate.wait(max_wait=5))
    for _ in range(4):  # a request every 20 ms: never 50 ms of quiet
        with gate.request():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.01)
        assert not waiting.done()
    await waiting
    assert time.monotonic() - started >= 0.07 + 0.05 - 0.01  # the last request ended at 70 ms: 50 ms of quiet after


async def test_work_never_waits_past_its_longest_wait() -> None:
    gate = QuietGate(quiet=0.05)
    started = time.monotonic()
    with gate.request():  # a request that never ends
        await gate.wait(max_wait=0.1)
    assert 0.09 <= time.monotonic() - started < 1.0


async def test_an_idle_gate_lets_work_go_at_once() -> None:
    gate = QuietGate(quiet=0.05)
    started = time.monotonic()
    await gate.wait(max_wait=5)
    assert time.monotonic() - started < 0.05
