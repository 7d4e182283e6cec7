"""Judging an edit of unknown outcome (its answer never came; or it had no task and did not show by the deadline)
from the connection alone: only reads are sent, never the edit.

The rule: the edit succeeded as soon as a read of the connection, not being modified, shows every proposed value;
it was not applied only when reads made after the settle window (counted from sending), of a connection not being
modified, agree that some value is not live; otherwise the outcome stays unknown.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.tencent import CloudError
from bot.vpn.connection import CloudDataError, VpnConnection

__all__ = ["MODIFYING", "Evidence", "Found", "Reading", "gather_evidence"]

MODIFYING = 2
"""``vpcConnStatus`` while a task changes the connection."""


class Found(enum.StrEnum):
    LIVE = "succeeded"
    NOT_APPLIED = "not_applied"
    UNKNOWN = "unknown"


class Reading(enum.StrEnum):
    """What one read showed (for a progress line)."""

    LIVE = "live"
    MODIFYING = "modifying"
    NOT_LIVE_YET = "not live yet"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Evidence:
    """What the reads showed: ``found``; ``missing``, the proposed values not live at the last read; ``why`` the
    outcome is unknown (the last read failed: ``error``; or the connection was still being modified)."""

    found: Found
    reads: int
    elapsed: float
    missing: list[str] = field(default_factory=list)
    why: str = ""
    error: str = ""
    live: VpnConnection | None = None


Read = Callable[[], Awaitable[VpnConnection]]
Missing = Callable[[VpnConnection], list[str]]


async def gather_evidence(
    read: Read,
    missing_from: Missing,
    *,
    sent_at: float,
    window_ends: float,
    give_up_at: float,
    give_up_unreadable_at: float | None = None,
    initial: float,
    maximum: float,
    agree: int = 2,
    factor: float = 1.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_read: Callable[[Reading, float], Awaitable[None]] | None = None,
    describe_error: Callable[[Exception], Awaitable[str]] | None = None,
) -> Evidence:
    """Read the connection with the task follower's backoff (``initial`` seconds, growing by ``factor`` up to
    ``maximum``) until the evidence decides (see the module): ``agree`` reads at or after ``window_ends`` (the
    settle window's end) that find a value not live, on a connection not being modified. Times are ``clock``
    seconds; ``elapsed`` counts from ``sent_at``. Undecided at ``give_up_at`` (or, when the last read failed, at
    ``give_up_unreadable_at``, default the same), the outcome is unknown. ``describe_error`` turns a failed read
    into words fit to keep (keys taken out)."""
    unreadable_until = give_up_at if give_up_unreadable_at is None else give_up_unreadable_at
    delay = initial
    reads = agreeing = 0
    why, error = "the connection could not be read", ""
    last: VpnConnection | None = None
    missing: list[str] = []
    while True:
        reads += 1
        reading = Reading.UNREADABLE
        try:
            last = await read()
        except (CloudError, CloudDataError) as failure:
            error = await describe_error(failure) if describe_error is not None else str(failure)
            why, agreeing, last = f"the connection could not be read ({error})", 0, None
        else:
            error = ""
            missing = missing_from(last)
            if last.status == MODIFYING:
                reading, agreeing, why = Reading.MODIFYING, 0, "the connection was still being modified"
            elif not missing:
                reading = Reading.LIVE
            else:
                reading, why = Reading.NOT_LIVE_YET, "the proposed values were not live yet"
        now = clock()
        elapsed = now - sent_at
        if on_read is not None:
            await on_read(reading, elapsed)
        if reading is Reading.LIVE:
            return Evidence(Found.LIVE, reads, elapsed, live=last)
        if reading is Reading.NOT_LIVE_YET and now >= window_ends:
            agreeing += 1
            if agreeing >= agree:
                return Evidence(Found.NOT_APPLIED, reads, elapsed, missing, live=last)
        # Not live yet: read on to the window's end at least, to judge; modifying or unreadable: to the deadline.
        until = {Reading.UNREADABLE: unreadable_until, Reading.MODIFYING: give_up_at}.get(
            reading, max(give_up_at, window_ends)
        )
        if now >= until:
            return Evidence(Found.UNKNOWN, reads, elapsed, missing, why, error, last)
        target = window_ends if now < window_ends else until  # no read is late for the window's end
        await sleep(min(delay, target - now))
        delay = min(delay * factor, maximum)
