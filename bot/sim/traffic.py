"""What arrives at the simulator: counts per action, the journal of answers, peak rates and rate limiting.

Rate limits are per SecretId, per action, over a SLIDING one-second window: a request at time t is admitted when
fewer than ``limit`` requests of that SecretId and action were admitted in ``(t - 1, t]``. A sliding window is
stricter than the fixed calendar seconds a service may use (a burst straddling a second boundary is refused here),
so a client that stays under it stays under the service's. Refused requests are not admitted, so they do not use
up the window. Peaks are measured over the same sliding window, over every arrival of an action (admitted or not,
whatever the SecretId): :meth:`Traffic.peak_rate` is the most requests that arrived within any one second.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any, Final

__all__ = ["WINDOW_SECONDS", "Traffic"]

WINDOW_SECONDS: Final = 1.0


def _slide(window: deque[float], now: float) -> None:
    while window and window[0] <= now - WINDOW_SECONDS:
        window.popleft()


class Traffic:
    def __init__(self) -> None:
        # Requests per action as they arrive, and each answer as (action, code or "HTTP 503").
        self.arrivals: Counter[str] = Counter()
        self.journal: list[tuple[str, str]] = []
        self._arrived: dict[str, deque[float]] = {}
        self._peaks: Counter[str] = Counter()
        self._admitted: dict[tuple[str, str], deque[float]] = {}
        self._refused: Counter[str] = Counter()

    def arrived(self, action: str, now: float) -> None:
        """Count one request of ``action`` that arrived whole at ``now``."""
        self.arrivals[action] += 1
        window = self._arrived.setdefault(action, deque())
        _slide(window, now)
        window.append(now)
        self._peaks[action] = max(self._peaks[action], len(window))

    def admit(self, secret_id: str, action: str, limit: int | None, now: float) -> bool:
        """Whether one more request of ``action`` by ``secret_id`` fits ``limit`` per second (None: no limit)."""
        if limit is None:
            return True
        window = self._admitted.setdefault((secret_id, action), deque())
        _slide(window, now)
        if len(window) >= limit:
            self._refused[action] += 1
            return False
        window.append(now)
        return True

    def peak_rate(self, action: str) -> int:
        """The most requests of ``action`` that arrived within any one second so far."""
        return self._peaks[action]

    def rate_refusals(self, action: str) -> int:
        """How many requests of ``action`` were refused for the rate limit."""
        return self._refused[action]

    def to_json(self) -> dict[str, Any]:
        """``arrivals``, ``peakRates`` and ``rateRefusals`` per action, for out-of-process readers."""
        return {
            "arrivals": dict(self.arrivals),
            "peakRates": dict(self._peaks),
            "rateRefusals": dict(self._refused),
        }
