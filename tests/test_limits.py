"""RateLimiter: no window of ``window`` seconds holds more than ``limit`` grants, in the order asked, and a caller
cancelled while it waits takes nothing and blocks nobody. A fake clock that moves only when the limiter sleeps makes
every test exact."""

from __future__ import annotations

import asyncio

import pytest

from bot.tencent.limits import MARGIN_SECONDS, TENCENT_RATE_LIMITS, RateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 500.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def limiter(fake: FakeTime, limit: int, window: float = 1.0) -> RateLimiter:
    return RateLimiter(limit, window=window, clock=fake.clock, sleep=fake.sleep)


def most_in_any_window(times: list[float], window: float) -> int:
    """The most grants within any half-open window ``[t, t + window)`` (checked from each grant on)."""
    ordered = sorted(times)
    return max(sum(1 for u in ordered if t <= u < t + window - 1e-9) for t in ordered)


@pytest.mark.parametrize(("limit", "callers"), [(20, 1000), (100, 1000), (3, 10), (1, 5)])
async def test_a_burst_never_passes_the_limit_in_any_window(limit: int, callers: int) -> None:
    fake = FakeTime()
    gate = limiter(fake, limit)
    granted: list[float] = []

    async def caller() -> None:
        await gate.acquire()
        granted.append(fake.now)

    await asyncio.gather(*(caller() for _ in range(callers)))
    assert len(granted) == callers
    assert most_in_any_window(granted, 1.0) == limit  # full use, never more
    assert granted[-1] - granted[0] == pytest.approx((callers - 1) // limit)  # no slower than the limit either


async def test_the_default_window_is_one_second_plus_the_margin() -> None:
    fake = FakeTime()
    gate = RateLimiter(20, clock=fake.clock, sleep=fake.sleep)
    granted: list[float] = []
    for _ in range(60):
        await gate.acquire()
        granted.append(fake.now)
    assert gate.window == 1.0 + MARGIN_SECONDS
    assert most_in_any_window(granted, 1.0 + MARGIN_SECONDS) == 20
    # Arrivals shifted by anything up to the margin still never put more than 20 into one second.
    shifted = [t + (MARGIN_SECONDS if i % 20 < 10 else 0.0) for i, t in enumerate(granted)]
    assert most_in_any_window(shifted, 1.0) <= 20
    assert TENCENT_RATE_LIMITS == {
        "DescribeVpcTaskResult": 20,
        "DescribeVpnConnections": 100,
        "ModifyVpnConnectionAttribute": 100,
        "DescribeCustomerGatewayVendors": 100,
        "DownloadCustomerGatewayConfiguration": 100,
    }


async def test_grants_go_in_the_order_asked() -> None:
    fake = FakeTime()
    gate = limiter(fake, 2)
    order: list[int] = []

    async def caller(n: int) -> None:
        await gate.acquire()
        order.append(n)

    tasks = []
    for n in range(12):
        tasks.append(asyncio.create_task(caller(n)))
        await asyncio.sleep(0)  # each asks after the one before
    await asyncio.gather(*tasks)
    assert order == list(range(12))


async def test_a_late_caller_does_not_overtake_the_queue() -> None:
    fake = FakeTime()
    release = asyncio.Event()

    async def held_sleep(seconds: float) -> None:  # time passes only when the test says so
        await release.wait()
        release.clear()
        fake.now += seconds

    gate = RateLimiter(1, window=1.0, clock=fake.clock, sleep=held_sleep)
    order: list[str] = []

    async def caller(name: str) -> None:
        await gate.acquire()
        order.append(name)

    first = [asyncio.create_task(caller(f"early-{n}")) for n in range(3)]
    for _ in range(3):
        await asyncio.sleep(0)
    assert order == ["early-0"]
    assert gate.waiting
    late = asyncio.create_task(caller("late"))
    while not late.done():
        release.set()
        await asyncio.sleep(0)
    await asyncio.gather(*first)
    assert order == ["early-0", "early-1", "early-2", "late"]


async def test_a_cancelled_waiter_takes_no_grant_and_blocks_nobody() -> None:
    fake = FakeTime()
    forever = asyncio.Event()

    async def stuck_sleep(seconds: float) -> None:
        fake.sleeps.append(seconds)
        if len(fake.sleeps) == 1:
            await forever.wait()  # the first waiter hangs in its sleep until cancelled
        fake.now += seconds

    gate = RateLimiter(1, window=1.0, clock=fake.clock, sleep=stuck_sleep)
    await gate.acquire()  # the one grant of this window
    waiter = asyncio.create_task(gate.acquire())
    behind = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert fake.sleeps == [1.0]
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.wait_for(behind, 1)  # the one behind got the grant the cancelled one would have had
    assert fake.now == pytest.approx(501.0)
    assert not gate.waiting
    fake.now += 1.0
    await asyncio.wait_for(gate.acquire(), 1)  # and nothing is held: the next window is free
    assert fake.sleeps == [1.0, 1.0]


async def test_a_caller_cancelled_while_queued_is_skipped() -> None:
    fake = FakeTime()
    gate = limiter(fake, 1)
    await gate.acquire()
    waiters = [asyncio.create_task(gate.acquire()) for _ in range(3)]
    await asyncio.sleep(0)
    waiters[1].cancel()  # queued behind the first, not yet sleeping
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert isinstance(results[1], asyncio.CancelledError)
    assert results[0] is None
    assert results[2] is None
    assert fake.now == pytest.approx(502.0)  # two grants after the first: exactly two windows later


@pytest.mark.parametrize("options", [{"limit": 0}, {"limit": 5, "window": 0.0}])
def test_bad_options(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="need"):
        RateLimiter(**options)  # type: ignore[arg-type]
