"""Faults the simulator injects: latency, HTTP 503s, over-quota answers, random internal errors, task outcomes.

Per-action settings are keyed by the API action (``ModifyVpnConnEx``) or ``"*"`` for every action; an action's own
entry wins over ``"*"``. The same keys are used in the world file (``faults``) and in ``POST /_sim/faults``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt

WILDCARD = "*"
Rate = Annotated[float, Field(ge=0.0, le=1.0)]
TaskOutcome = Literal["succeeded", "failed"]


class Faults(BaseModel):
    """The fault settings; JSON keys are ``latency``, ``failureRate``, ``http5xx``, ``overQuota``,
    ``taskOutcome`` and ``taskSeconds``.

    - ``latency``: ``{action: seconds}`` to wait before answering.
    - ``failureRate``: ``{action: 0..1}`` probability of answering code 6000 instead of running the action.
    - ``http5xx``: ``{action: n}``: the next n requests answer HTTP 503 (each one spends one).
    - ``overQuota``: ``{action: n}``: the next n requests answer code 4400.
    - ``taskOutcome``: ``null`` (tasks succeed), ``"succeeded"`` or ``"failed"``, for tasks created from now on.
    - ``taskSeconds``: overrides the world's task duration for tasks created from now on.
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    latency: dict[str, NonNegativeFloat] = Field(default_factory=dict)
    failure_rate: dict[str, Rate] = Field(default_factory=dict, alias="failureRate")
    http5xx: dict[str, NonNegativeInt] = Field(default_factory=dict)
    over_quota: dict[str, NonNegativeInt] = Field(default_factory=dict, alias="overQuota")
    task_outcome: TaskOutcome | None = Field(default=None, alias="taskOutcome")
    task_seconds: NonNegativeFloat | None = Field(default=None, alias="taskSeconds")

    def merged(self, patch: Mapping[str, Any]) -> Faults:
        """A copy with ``patch`` (JSON keys) applied: per-action maps are merged key by key, other keys replaced.

        Raises ``pydantic.ValidationError`` (a ValueError) for an unknown key or a value out of range.
        """
        current = self.to_json()
        for key, value in patch.items():
            old = current.get(key)
            current[key] = {**old, **value} if isinstance(old, dict) and isinstance(value, Mapping) else value
        return Faults.model_validate(current)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


@dataclass(frozen=True)
class InjectedFault:
    """What to do to one request: wait ``latency`` seconds, then answer HTTP 503 if ``http_503``, else answer the
    API error ``code`` (4400 or 6000) if set, else run the action."""

    latency: float = 0.0
    http_503: bool = False
    code: int | None = None


def draw(faults: Faults, action: str, rng: random.Random) -> InjectedFault:
    """Decide the fault for one request of ``action``, spending one count of ``http5xx`` or ``overQuota``.

    At most one of 503, 4400 and 6000 is chosen, in that order of precedence; latency applies regardless.
    """
    latency = _lookup(faults.latency, action, 0.0)
    if _spend(faults.http5xx, action):
        return InjectedFault(latency, http_503=True)
    if _spend(faults.over_quota, action):
        return InjectedFault(latency, code=4400)
    rate = _lookup(faults.failure_rate, action, 0.0)
    if rate > 0 and rng.random() < rate:
        return InjectedFault(latency, code=6000)
    return InjectedFault(latency)


def _lookup(table: Mapping[str, float], action: str, default: float) -> float:
    if action in table:
        return table[action]
    return table.get(WILDCARD, default)


def _spend(counts: dict[str, int], action: str) -> bool:
    key = action if action in counts else WILDCARD
    if counts.get(key, 0) > 0:
        counts[key] -= 1
        return True
    return False
