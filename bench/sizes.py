"""How big each benchmark is: the full run, and the smoke run that only checks the benchmarks work."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    ack_commands: int = 2000
    ack_clicks: int = 2000
    ack_rounds: int = 10
    ack_cards: int = 20
    trigger_holds: tuple[float, float] = (2.5, 10.0)
    trigger_commands: int = 50
    many_changes: int = 1000
    many_task_seconds: float = 30.0
    trickle_interval: float = 0.05
    idle_seconds: float = 60.0
    economy_changes: int = 3
    economy_task_seconds: float = 60.0
    signing_rounds: int = 15
    signing_batch: int = 4000


FULL = Sizes()
SMOKE = Sizes(
    ack_commands=60,
    ack_clicks=60,
    ack_rounds=2,
    ack_cards=2,
    trigger_holds=(0.5, 1.0),
    trigger_commands=5,
    many_changes=5,
    many_task_seconds=1.0,
    trickle_interval=0.1,
    idle_seconds=1.0,
    economy_changes=1,
    economy_task_seconds=1.0,
    signing_rounds=3,
    signing_batch=200,
)
