"""Faults the simulator injects: latency, HTTP 503s, over-quota answers, random internal errors, task outcomes, and
the rate limits it enforces.

Per-action settings are keyed by the API action or ``"*"`` for every action. The fault keys are the API 2.0 action
names (``ModifyVpnConnEx``) and apply to both dialects; an API 3.0 name (``ModifyVpnConnectionAttribute``) may be
used too and then applies to that action alone. Lookup order: the action's own name, its other-dialect
equivalent, ``"*"``. ``rateLimits`` differ: each key applies to its own action only, and there is no wildcard
(``DescribeVpcTaskResult`` has the same name in both dialects, so its limit covers both).
The same keys are used in the world file (``faults``) and in ``POST /_sim/faults``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt

WILDCARD = "*"
# The documented limits per account and action (requests per second), reference/tencent-cloud.md, section 8.
# Not enforced unless a world asks: ``{"faults": {"rateLimits": TENCENT_RATE_LIMITS}}``.
TENCENT_RATE_LIMITS: Mapping[str, int] = {
    "DescribeVpnConnections": 100,
    "ModifyVpnConnectionAttribute": 100,
    "DescribeVpcTaskResult": 20,
}
Rate = Annotated[float, Field(ge=0.0, le=1.0)]
TaskOutcome = Literal["succeeded", "failed"]


class Faults(BaseModel):
    """The fault settings; JSON keys are ``latency``, ``failureRate``, ``http5xx``, ``overQuota``,
    ``taskOutcome``, ``taskSeconds``, ``renegotiateSeconds`` and ``rateLimits``.

    - ``latency``: ``{action: seconds}`` to wait before answering.
    - ``failureRate``: ``{action: 0..1}`` probability of answering code 6000 instead of running the action.
    - ``http5xx``: ``{action: n}``: the next n requests answer HTTP 503 (each one spends one).
    - ``overQuota``: ``{action: n}``: the next n requests answer code 4400.
    - ``taskOutcome``: ``null`` (tasks succeed), ``"succeeded"`` or ``"failed"``, for tasks created from now on.
    - ``taskSeconds``: overrides the world's task duration for tasks created from now on.
    - ``renegotiateSeconds``: overrides the world's delay between a landed edit (or a peer update) and the
      tunnel's renegotiation, for renegotiations scheduled from now on.
    - ``rateLimits``: ``{action: n}``: at most n requests per second per SecretId for that action (either
      dialect's name, each its own action; see ``bot.sim.traffic``); over it, 4400 / ``RequestLimitExceeded``.
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    latency: dict[str, NonNegativeFloat] = Field(default_factory=dict)
    failure_rate: dict[str, Rate] = Field(default_factory=dict, alias="failureRate")
    http5xx: dict[str, NonNegativeInt] = Field(default_factory=dict)
    over_quota: dict[str, NonNegativeInt] = Field(default_factory=dict, alias="overQuota")
    task_outcome: TaskOutcome | None = Field(default=None, alias="taskOutcome")
    task_seconds: NonNegativeFloat | None = Field(default=None, alias="taskSeconds")
    renegotiate_seconds: NonNegativeFloat | None = Field(default=None, alias="renegotiateSeconds")
    rate_limits: dict[str, NonNegativeInt] = Field(default_factory=dict, alias="rateLimits")

    def merged(self, patch: Mapping[str, Any]) -> Faults:
        """A copy with ``patch`` (JSON keys) applied: per-action maps are merged key by key (a key set to null is
        removed), other keys replaced.

        Raises ``pydantic.ValidationError`` (a ValueError) for an unknown key or a value out of range.
        """
        current = self.to_json()
        for key, value in patch.items():
            old = current.get(key)
            if isinstance(old, dict) and isinstance(value, Mapping):
                merged = {**old, **value}
                current[key] = {name: one for name, one in merged.items() if one is not None}
            else:
                current[key] = value
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


def draw(faults: Faults, action: str, rng: random.Random, equivalent: str | None = None) -> InjectedFault:
    """Decide the fault for one request of ``action`` (whose other-dialect name is ``equivalent``), spending one
    count of ``http5xx`` or ``overQuota``.

    At most one of 503, 4400 and 6000 is chosen, in that order of precedence; latency applies regardless.
    """
    names = (action, equivalent or action, WILDCARD)
    latency = _lookup(faults.latency, names, 0.0)
    if _spend(faults.http5xx, names):
        return InjectedFault(latency, http_503=True)
    if _spend(faults.over_quota, names):
        return InjectedFault(latency, code=4400)
    rate = _lookup(faults.failure_rate, names, 0.0)
    if rate > 0 and rng.random() < rate:
        return InjectedFault(latency, code=6000)
    return InjectedFault(latency)


def _lookup(table: Mapping[str, float], names: tuple[str, ...], default: float) -> float:
    return next((table[name] for name in names if name in table), default)


def _spend(counts: dict[str, int], names: tuple[str, ...]) -> bool:
    key = next((name for name in names if name in counts), None)
    if key is not None and counts[key] > 0:
        counts[key] -= 1
        return True
    return False
