"""The short listing cache: a flood of ``/vpn list`` costs one cloud read per scope, a change made through the client
is seen at once, and a failure is never kept.

Unit tests drive :class:`ListingCache` with a counting fetch and an injected clock; the end-to-end tests drive
``Cloud.listing`` with the real clients of both dialects against the simulator over loopback HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from items import connection
from pydantic import SecretStr

from bot.cloud import LISTING_TTL_SECONDS, Cloud, Settling
from bot.sim import DEMO_SECRET_ID, DEMO_SECRET_KEY, SimServer, SimState, load_world
from bot.tencent import (
    CloudApi,
    ConnectionListing,
    Credentials,
    ListingCache,
    ResponseError,
    TaskFollower,
    UnreadableConnection,
    make_client,
)
from bot.vpn.connection import VpnConnection
from bot.vpn.diff import not_live
from bot.vpn.edit import propose

SCOPE = ("vpc-03vihbk9", None)
SEED_CONN = "vpnx-ol6bcqp0"


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Fetcher:
    """A fetch that counts its calls, can be held open, and fails while ``failing`` is set."""

    calls: int = 0
    failing: bool = False
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    async def __call__(self) -> ConnectionListing:
        self.calls += 1
        number = self.calls
        await self.gate.wait()
        if self.failing:
            raise ResponseError("DescribeVpnConn", f"failure {number}")
        return ConnectionListing((connection(vpnConnName=f"read-{number}"),), (UnreadableConnection(None, "x"),))


async def test_fifty_concurrent_lists_cost_one_fetch() -> None:
    cache, fetch = ListingCache(5), Fetcher()
    fetch.gate.clear()
    waiting = [asyncio.create_task(cache.get(SCOPE, fetch)) for _ in range(50)]
    await asyncio.sleep(0)
    fetch.gate.set()
    listings = await asyncio.gather(*waiting)
    assert fetch.calls == 1
    assert all(listing is listings[0] for listing in listings)
    assert listings[0].connections[0].name == "read-1"


async def test_the_listing_is_reused_until_the_ttl_then_fetched_again() -> None:
    clock = Clock()
    cache, fetch = ListingCache(5, clock=clock), Fetcher()
    first = await cache.get(SCOPE, fetch)
    clock.now += 4.9
    assert await cache.get(SCOPE, fetch) is first
    assert fetch.calls == 1
    clock.now += 0.2
    again = await cache.get(SCOPE, fetch)
    assert fetch.calls == 2
    assert again.connections[0].name == "read-2"


async def test_scopes_are_kept_apart() -> None:
    cache, fetch = ListingCache(5), Fetcher()
    await cache.get(("vpc-1", None), fetch)
    await cache.get((None, "vpngw-1"), fetch)
    await cache.get((None, None), fetch)
    await cache.get(("vpc-1", None), fetch)
    assert fetch.calls == 3


async def test_errors_reach_every_waiter_and_are_not_kept() -> None:
    cache, fetch = ListingCache(5), Fetcher(failing=True)
    fetch.gate.clear()
    waiting = [asyncio.create_task(cache.get(SCOPE, fetch)) for _ in range(10)]
    await asyncio.sleep(0)
    fetch.gate.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert fetch.calls == 1
    assert all(isinstance(result, ResponseError) for result in results)
    with pytest.raises(ResponseError, match="failure 2"):
        await cache.get(SCOPE, fetch)
    fetch.failing = False
    assert (await cache.get(SCOPE, fetch)).connections[0].name == "read-3"
    assert fetch.calls == 3


async def test_invalidate_forgets_kept_and_running_fetches() -> None:
    cache, fetch = ListingCache(60), Fetcher()
    await cache.get(SCOPE, fetch)
    cache.invalidate()
    fetch.gate.clear()
    before = asyncio.create_task(cache.get(SCOPE, fetch))  # started before the change below
    await asyncio.sleep(0)
    cache.invalidate()  # a change: nobody may get `before`'s listing from now on
    after = asyncio.create_task(cache.get(SCOPE, fetch))
    await asyncio.sleep(0)
    fetch.gate.set()
    assert (await before).connections[0].name == "read-2"
    assert (await after).connections[0].name == "read-3"
    assert (await cache.get(SCOPE, fetch)).connections[0].name == "read-3"
    assert fetch.calls == 3


async def test_cancelling_one_waiter_leaves_the_fetch_to_the_others() -> None:
    cache, fetch = ListingCache(5), Fetcher()
    fetch.gate.clear()
    impatient = asyncio.create_task(cache.get(SCOPE, fetch))
    patient = asyncio.create_task(cache.get(SCOPE, fetch))
    await asyncio.sleep(0)
    impatient.cancel()
    await asyncio.sleep(0)
    fetch.gate.set()
    assert (await patient).connections[0].name == "read-1"
    assert impatient.cancelled()
    assert fetch.calls == 1


async def test_a_ttl_of_zero_only_shares_concurrent_fetches() -> None:
    cache, fetch = ListingCache(0), Fetcher()
    fetch.gate.clear()
    waiting = [asyncio.create_task(cache.get(SCOPE, fetch)) for _ in range(5)]
    await asyncio.sleep(0)
    fetch.gate.set()
    await asyncio.gather(*waiting)
    await cache.get(SCOPE, fetch)
    assert fetch.calls == 2


async def test_at_most_max_entries_scopes_are_kept() -> None:
    cache, fetch = ListingCache(60, max_entries=3), Fetcher()
    for n in range(5):
        await cache.get((f"vpc-{n}", None), fetch)
    for n in (2, 3, 4):
        await cache.get((f"vpc-{n}", None), fetch)
    assert fetch.calls == 5, "the newest three are kept"
    await cache.get(("vpc-0", None), fetch)
    assert fetch.calls == 6, "the oldest went first"


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        ListingCache(-1)
    with pytest.raises(ValueError, match="max_entries"):
        ListingCache(5, max_entries=0)


# --- Cloud.listing with the real clients, against the simulator -------------------------------------------------------


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    world = load_world(None).model_copy(update={"task_seconds": 0.05})
    async with SimServer(SimState(world)) as server:
        yield server


@pytest.fixture(params=["v2", "v3"])
async def cloud(request: pytest.FixtureRequest, sim: SimServer) -> AsyncIterator[Cloud]:
    api: CloudApi = request.param
    credentials = Credentials(DEMO_SECRET_ID, SecretStr(DEMO_SECRET_KEY))
    async with make_client(api, credentials, endpoint=sim.v3_url if api == "v3" else sim.url) as client:
        yield Cloud(client, TaskFollower(client.task_status, initial_interval=0.02, max_interval=0.05, deadline=10))


def describe_calls(cloud: Cloud) -> int:
    return sum(count for action, count in cloud.client.calls.items() if action.startswith("DescribeVpnConn"))


async def test_a_flood_of_lists_costs_one_cloud_read(cloud: Cloud) -> None:
    listings = await asyncio.gather(*(cloud.listing(vpc_id="vpc-03vihbk9") for _ in range(50)))
    assert describe_calls(cloud) == 1
    assert SEED_CONN in {c.vpn_conn_id for c in listings[0].connections}
    assert all(listing is listings[0] for listing in listings)
    await cloud.listing(vpc_id="vpc-03vihbk9")
    assert describe_calls(cloud) == 1
    await cloud.listing(vpn_gw_id="vpngw-kfldykuz")
    assert describe_calls(cloud) == 2
    assert LISTING_TTL_SECONDS <= 10


async def test_a_list_right_after_an_edit_shows_the_new_values(cloud: Cloud) -> None:
    def name_in(listing: ConnectionListing) -> str:
        return next(c.name for c in listing.connections if c.vpn_conn_id == SEED_CONN)

    before = await cloud.listing()
    live = await cloud.client.describe_vpn_conn(SEED_CONN)
    proposal = propose(live.settings, {"vpnConnName": "renamed-now"})
    task_id = await cloud.client.modify_vpn_conn(live, proposal)
    reads = describe_calls(cloud)
    await cloud.listing()
    assert describe_calls(cloud) == reads + 1, "the edit emptied the cache"
    changed = proposal.changed(live.settings)

    async def missing(now: VpnConnection) -> list[str]:
        return not_live(proposal, changed, now.settings)

    settling = Settling(cloud, SEED_CONN, missing)
    result = await cloud.follower.follow(task_id, settle=settling)
    assert result.outcome.value == "succeeded"
    reads = describe_calls(cloud)  # the settling reads (no task under API 3.0) are reads too
    after = await cloud.listing()
    assert describe_calls(cloud) == reads + 1, "the end (the task's, or the settled read's) emptied the cache"
    assert name_in(before) != "renamed-now"
    assert name_in(after) == "renamed-now"


async def test_a_failing_listener_does_not_lose_the_edits_task(cloud: Cloud, caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise RuntimeError("listener bug")

    cloud.client.add_change_listener(broken)
    live = await cloud.client.describe_vpn_conn(SEED_CONN)
    task_id = await cloud.client.modify_vpn_conn(live, propose(live.settings, {"vpnConnName": "still-sent"}))
    assert task_id
    assert "a change listener failed" in caplog.text
