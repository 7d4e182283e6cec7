"""``vpnbot serve``: placeholder until the Slack bot lands (issue: Step 2)."""

from __future__ import annotations

from bot.config import ConfigError, Settings


async def run_bot(settings: Settings, *, sim: bool, port: int) -> int:
    raise ConfigError("vpnbot serve is not available yet in this version; use vpnbot edit")
