"""``vpnbot sim``: run the simulator alone and print where it listens and how to sign for it."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from bot.config import ConfigError, Settings
from bot.sim.server import run_forever
from bot.sim.worldfile import DEMO_SECRET_ID, DEMO_SECRET_KEY, load_world


def _announce(url: str, world: str | None) -> None:
    credentials = load_world(world).credentials
    v3_url = url.removesuffix("v2/index.php")
    lines = [
        f"vpnbot simulator (Tencent Cloud VPC) listening: API 2.0 at {url}, API 3.0 at {v3_url}",
        f"export VPNBOT_CLOUD_ENDPOINT={url}  # or, with VPNBOT_CLOUD_API=v3: {v3_url}",
    ]
    for secret_id, secret_key in credentials.items():
        lines.append(f"export TENCENTCLOUD_SECRET_ID={secret_id}")
        if secret_id == DEMO_SECRET_ID and secret_key == DEMO_SECRET_KEY:
            lines.append(f"export TENCENTCLOUD_SECRET_KEY={DEMO_SECRET_KEY}")
        else:
            lines.append(f"# TENCENTCLOUD_SECRET_KEY: the key for {secret_id} in {world}")
        break
    lines.append("Ctrl-C stops it.")
    print("\n".join(lines), flush=True)


async def run_sim(settings: Settings, *, host: str, port: int, world: str | None, task_seconds: float | None) -> int:
    """Serve until SIGINT or SIGTERM; a bad world file or a taken port is a usage error (exit 2)."""
    world = world or (str(settings.vpnbot_sim_world) if settings.vpnbot_sim_world else None)
    if world is not None and not await asyncio.to_thread(Path(world).is_file):
        raise ConfigError(f"--world {world}: no such file")
    serving = asyncio.create_task(run_forever(host, port, world, task_seconds, lambda url: _announce(url, world)))
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, serving.cancel)
    try:
        await serving
    except asyncio.CancelledError:
        return 0
    except (OSError, ValueError) as error:
        print(f"vpnbot: simulator cannot start: {error}", file=sys.stderr)
        return 2
    return 0
