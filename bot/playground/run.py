"""``vpnbot playground``: the simulator, the bot as ``vpnbot serve`` runs it, the Slack stand-in and the page.

Nothing in the bot knows it is in a playground: it is started by :func:`bot.slack.runner.running_bot` in HTTP mode,
with a Slack API URL (the stand-in), a signing secret (random, per run), cloud credentials and an endpoint (the
simulator's demo account), as ``serve`` would be with a real workspace and account. Every other ``VPNBOT_*``
setting of the environment applies (``VPNBOT_CRYPTO_POLICY``, ``VPNBOT_WATCH``...), but the state file is a fresh
temporary one: the simulator's world starts anew on every run, and requests left by an earlier run would point at
cards and tasks that no longer exist. A ``.env`` file is not read (its Slack tokens are a real workspace's).
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import socket
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from bot.cloud import sim_endpoint, sim_world
from bot.config import Settings
from bot.playground.server import Connection, PageServer
from bot.playground.slack_api import SlackStandin
from bot.playground.workspace import APPROVERS, CHANNEL_ID, GROUP_ID, GROUP_MEMBER, Workspace, standin_people
from bot.sim import SimServer, SimState
from bot.slack.runner import running_bot
from bot.tencent import Credentials

HOST = "127.0.0.1"


@dataclass(frozen=True)
class RunningPlayground:
    url: str
    workspace: Workspace
    sim: SimServer
    settings: Settings


def playground_settings(
    base: Settings, slack: SlackStandin, sim: SimServer, credentials: Credentials, state_path: Path, signing_secret: str
) -> Settings:
    """The bot's settings: ``base`` (the environment's), with Slack, the cloud and the state file the playground's
    own."""
    values: dict[str, Any] = {
        "slack_bot_token": slack.bot_token,
        "slack_signing_secret": signing_secret,
        "slack_app_token": None,
        "slack_api_url": slack.api_url,
        "tencentcloud_secret_id": credentials.secret_id,
        "tencentcloud_secret_key": credentials.secret_key.get_secret_value(),
        "vpnbot_cloud_endpoint": sim_endpoint(sim, base),
        "vpnbot_approvers": APPROVERS,
        "vpnbot_approval_channel": CHANNEL_ID,
        "vpnbot_state_path": state_path,
        "vpnbot_store_key": None,
    }
    return Settings(_env_file=None, **values)  # validated again: every value gets its field's type


@asynccontextmanager
async def running_playground(port: int, *, host: str = HOST) -> AsyncIterator[RunningPlayground]:
    """Everything up and serving for the life of the block; ``port`` 0 picks a free one."""
    base = Settings(_env_file=None)
    world, credentials = sim_world(base)
    async with AsyncExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vpnbot-playground-")))
        sim = await stack.enter_async_context(SimServer(SimState(world)))
        slack = await stack.enter_async_context(
            SlackStandin(usergroups={GROUP_ID: [GROUP_MEMBER.id]}, users=standin_people())
        )
        sock = _bind(host, port)  # first: the page's address is the workspace's, which the bot reads at start
        stack.callback(sock.close)
        actual = int(sock.getsockname()[1])
        url = f"http://{host}:{actual}/"
        slack.workspace_url = url
        signing_secret = secrets.token_hex(16)
        settings = playground_settings(base, slack, sim, credentials, directory / "state.sqlite", signing_secret)
        bot = await stack.enter_async_context(running_bot(settings, sim=False, port=0, host=HOST))
        assert bot.url is not None  # HTTP mode: no app token
        http = await stack.enter_async_context(httpx.AsyncClient())
        workspace = Workspace(slack, bot.url, signing_secret, http)
        connections = tuple(
            Connection(str(c["unVpnConnId"]), str(c.get("vpnConnName", ""))) for c in sim.state.connections()
        )
        page = PageServer(workspace, sim.base_url, connections, http)
        allowed = {f"{host}:{actual}", f"localhost:{actual}"}
        runner = web.AppRunner(page.application(lambda: allowed), access_log=None, handle_signals=False)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.SockSite(runner, sock).start()
        yield RunningPlayground(url, workspace, sim, settings)


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


async def run_playground(port: int, *, out: Callable[[str], None] = lambda line: print(line, flush=True)) -> int:
    """Serve the playground until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running_playground(port) as playground:
        api = f"API {playground.settings.vpnbot_cloud_api[1]}.0"
        out(f"vpnbot playground: open {playground.url} (the bot, a local Slack and the simulator, {api}; Ctrl-C stops)")
        await stop.wait()
    out("vpnbot playground stopped")
    return 0
