"""Wiring the settings to a cloud: the API client and task follower, against Tencent Cloud or the embedded simulator.

The client speaks ``VPNBOT_CLOUD_API`` (API 2.0, the seed's, or API 3.0) behind one interface (``CloudClient``).
``open_cloud(settings, sim=True)`` starts the simulator in this process on a free loopback port with the demo world
(or ``VPNBOT_SIM_WORLD``) and points the client at its endpoint for that dialect with the world's own credentials,
so no Tencent Cloud account is needed.

``Cloud.listing`` reads through a short :class:`~bot.tencent.ListingCache`: a flood of ``/vpn list`` costs one cloud
read per scope every ``LISTING_TTL_SECONDS``. The client empties the cache whenever a connection may have changed
(after an edit is sent, when a poll finds its task done; the change flow does it too when, with no task, a read finds
the edit applied), so a list right after an approved change is read afresh.
Edits made elsewhere (the console, another bot) show at most ``LISTING_TTL_SECONDS`` late in a list; ``show``,
the edit modal and the approval re-read (``describe_vpn_conn``) are never cached.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import SecretStr

from bot.config import ConfigError, Settings
from bot.tencent import (
    CloudClient,
    ConnectionListing,
    Credentials,
    ListingCache,
    TaskFollower,
    TaskState,
    TaskStatus,
    make_client,
    settled,
)
from bot.vpn.connection import SecretFingerprints, VpnConnection

if TYPE_CHECKING:  # the simulator is imported only when it is used
    from bot.sim import SimServer, World

LISTING_TTL_SECONDS = 5.0


@dataclass(frozen=True)
class Cloud:
    """What a command needs of the cloud: the client, a follower for its tasks, the simulator's URL if any, and
    the cache of listings (emptied by the client on every change it makes, see the module's docstring)."""

    client: CloudClient
    follower: TaskFollower
    sim_url: str | None = None
    listings: ListingCache = field(default_factory=lambda: ListingCache(LISTING_TTL_SECONDS))

    def __post_init__(self) -> None:
        self.client.add_change_listener(self.listings.invalidate)

    async def listing(self, *, vpc_id: str | None = None, vpn_gw_id: str | None = None) -> ConnectionListing:
        """The connections in ``vpc_id`` / on ``vpn_gw_id`` (None: any), at most ``LISTING_TTL_SECONDS`` old unless
        this client changed one since; concurrent calls for one scope share one cloud read."""
        return await self.listings.get(
            (vpc_id, vpn_gw_id), lambda: self.client.list_vpn_conns(vpc_id=vpc_id, vpn_gw_id=vpn_gw_id)
        )


Missing = Callable[[VpnConnection], Awaitable[list[str] | None]]


@dataclass
class Settling:
    """The ``settle`` poll of an edit the service keeps no task for (``TaskFollower.follow(..., settle=...)``):
    one read of the connection, SUCCEEDED once it is back to normal and ``missing(live)`` (the proposed values not
    live, as ``bot.vpn.diff.not_live`` finds; None: cannot tell) is empty, else RUNNING. The read that found the
    edit applied is kept in ``applied``, and the listings are emptied then, as a task's end empties them."""

    cloud: Cloud
    vpn_conn_id: str
    missing: Missing
    applied: VpnConnection | None = None

    async def __call__(self) -> TaskState:
        live = await self.cloud.client.describe_vpn_conn(self.vpn_conn_id)
        gaps = await self.missing(live)
        state = TaskState(TaskStatus.RUNNING) if gaps is None else settled(live, gaps)
        if state.done:
            self.applied = live
            self.cloud.listings.invalidate()
        return state


def credentials_from(settings: Settings) -> Credentials:
    if not settings.tencentcloud_secret_id:
        raise ConfigError("TENCENTCLOUD_SECRET_ID is not set: export your API key pair, or use --sim")
    if settings.tencentcloud_secret_key is None or not settings.tencentcloud_secret_key.get_secret_value():
        raise ConfigError("TENCENTCLOUD_SECRET_KEY is not set: export your API key pair, or use --sim")
    token = settings.tencentcloud_session_token.get_secret_value() if settings.tencentcloud_session_token else None
    return Credentials(settings.tencentcloud_secret_id, settings.tencentcloud_secret_key, token or None)


def follower_for(client: CloudClient, settings: Settings, jitter: float = 0.0) -> TaskFollower:
    """The task follower of the settings; ``jitter`` spreads the polls of tasks started together."""
    return TaskFollower(
        client.task_status,
        initial_interval=settings.vpnbot_task_poll_initial.total_seconds(),
        max_interval=settings.vpnbot_task_poll_max.total_seconds(),
        deadline=settings.vpnbot_task_deadline.total_seconds(),
        jitter=jitter,
    )


@asynccontextmanager
async def open_cloud(
    settings: Settings,
    *,
    sim: bool,
    fingerprints: SecretFingerprints | None = None,
    poll_jitter: float = 0.0,
) -> AsyncIterator[Cloud]:
    """A ready Cloud for the life of the block; the client (and the simulator, with ``sim``) close after it.

    ``fingerprints`` keys the pre-shared key's fingerprints in what the client reads (the bot's is derived from its
    store key, so that they match across restarts); None: a random key for the life of the client.
    """
    async with AsyncExitStack() as stack:
        endpoint = settings.cloud_endpoint
        sim_url: str | None = None
        if sim:
            credentials, sim_url = await _start_sim(settings, stack)
            endpoint = sim_url
        else:
            credentials = credentials_from(settings)
        client = make_client(
            settings.vpnbot_cloud_api,
            credentials,
            endpoint=endpoint,
            region=settings.tencentcloud_region,
            signature_method=settings.vpnbot_signature_method,
            timeout=settings.vpnbot_cloud_timeout.total_seconds(),
            fingerprints=fingerprints,
        )
        stack.push_async_callback(client.aclose)
        yield Cloud(client, follower_for(client, settings, poll_jitter), sim_url)


def sim_world(settings: Settings) -> tuple[World, Credentials]:
    """The simulator's world as ``--sim`` runs it (``VPNBOT_SIM_WORLD``, ``VPNBOT_SIM_TASK_SECONDS``) and the
    credentials of its first account; ConfigError naming the variable when it cannot be used."""
    from bot.sim import load_world

    try:
        world = load_world(settings.vpnbot_sim_world)
    except (OSError, ValueError) as error:
        raise ConfigError(f"VPNBOT_SIM_WORLD: cannot load {settings.vpnbot_sim_world}: {error}") from None
    if settings.vpnbot_sim_task_seconds is not None:
        world = world.model_copy(update={"task_seconds": settings.vpnbot_sim_task_seconds})
    if not world.credentials:
        raise ConfigError("VPNBOT_SIM_WORLD: the world has no credentials")
    secret_id, secret_key = next(iter(world.credentials.items()))
    return world, Credentials(secret_id, SecretStr(secret_key))


def sim_endpoint(server: SimServer, settings: Settings) -> str:
    """The simulator's endpoint in the settings' API dialect."""
    return server.v3_url if settings.vpnbot_cloud_api == "v3" else server.url


async def _start_sim(settings: Settings, stack: AsyncExitStack) -> tuple[Credentials, str]:
    from bot.sim import SimServer, SimState

    world, credentials = sim_world(settings)
    server = await stack.enter_async_context(SimServer(SimState(world)))
    return credentials, sim_endpoint(server, settings)
