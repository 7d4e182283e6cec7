"""``vpnbot sim``: run the simulator alone and print where it listens and how to sign for it; and
``vpnbot sim --peer VPNCONN_ID [--peer-set KEY=VALUE ...] [--peer-mirror]``: show or update the other end of a
tunnel in a running simulator."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import httpx

from bot.config import ConfigError, Settings
from bot.sim.peer_admin import parse_peer_setting, read_peer, update_peer
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
    lines.append(
        f"The tunnels' other ends: GET/POST {v3_url}_sim/peers/VPNCONN_ID, or vpnbot sim --peer VPNCONN_ID "
        "[--peer-set KEY=VALUE ...] [--peer-mirror]"
    )
    lines.append("Ctrl-C stops it.")
    print("\n".join(lines), flush=True)


async def run_sim(
    settings: Settings,
    *,
    host: str,
    port: int,
    world: str | None,
    task_seconds: float | None,
    renegotiate_seconds: float | None = None,
) -> int:
    """Serve until SIGINT or SIGTERM; a bad world file, a negative duration or a taken port is a usage error
    (exit 2)."""
    world = world or (str(settings.vpnbot_sim_world) if settings.vpnbot_sim_world else None)
    if world is not None and not await asyncio.to_thread(Path(world).is_file):
        raise ConfigError(f"--world {world}: no such file")
    serving = asyncio.create_task(
        run_forever(
            host,
            port,
            world,
            task_seconds,
            lambda url: _announce(url, world),
            renegotiate_seconds=renegotiate_seconds,
        )
    )
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


async def run_peer_update(host: str, port: int, vpn_conn_id: str, items: list[str], mirror: bool) -> int:
    """Update the peer of ``vpn_conn_id`` in the simulator at ``host``:``port`` with the ``KEY=VALUE`` ``items``
    (after mirroring the connection when ``mirror``), or show it when there is nothing to change; prints the
    simulator's answer (the peer's key masked) as JSON. Exit status 0, or 2 for a bad item, a refusal by the
    simulator (a bad value, an unknown connection) or a simulator that cannot be reached."""
    try:
        patch: dict[str, object] = dict(parse_peer_setting(item) for item in items)
    except ValueError as error:
        print(f"vpnbot: --peer-set: {error}", file=sys.stderr)
        return 2
    if mirror:
        patch["mirror"] = True
    base_url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    try:
        answer = await (update_peer(base_url, vpn_conn_id, patch) if patch else read_peer(base_url, vpn_conn_id))
    except ValueError as error:
        print(f"vpnbot: the simulator refused: {error}", file=sys.stderr)
        return 2
    except httpx.HTTPError as error:
        print(f"vpnbot: cannot reach the simulator at {base_url}: {type(error).__name__}", file=sys.stderr)
        return 2
    print(json.dumps(answer, indent=2), flush=True)
    return 0
