"""Small statistics: nearest-rank percentiles in milliseconds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of ``values``; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Summary:
    """p50, p99 and max of a set of durations, in milliseconds, and how many there were."""

    p50: float
    p99: float
    max: float
    count: int

    @classmethod
    def of_seconds(cls, seconds: Sequence[float]) -> Summary:
        ms = [s * 1000 for s in seconds]
        return cls(percentile(ms, 50), percentile(ms, 99), max(ms) if ms else math.nan, len(ms))

    def to_json(self) -> dict[str, float]:
        return {"p50": self.p50, "p99": self.p99, "max": self.max, "count": self.count}
