"""Batched reads under API 3.0: concurrent ``describe_vpn_conn`` calls share one ``DescribeVpnConnections`` of up
to 100 ``VpnConnectionIds``; an id the service does not know fails nobody else's read; a batch waits for its rate-limit
turn and fills up meanwhile. Real HTTP on loopback against the verifying API 3.0 stand-in of test_client_v3_unit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from test_client_v3_unit import DESCRIBE, Received, StandIn, api_error, client_for, response, v3_item

from bot.tencent import NotFoundError, ResponseError, VpcClientV3
from bot.tencent.client_v3 import BATCH_MAX


@pytest.fixture
async def cloud() -> AsyncIterator[StandIn]:
    stand_in = StandIn()
    app = web.Application()
    app.router.add_post("/", stand_in.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    stand_in.endpoint = f"http://127.0.0.1:{runner.addresses[0][1]}/"
    try:
        yield stand_in
    finally:
        stand_in.release.set()
        await runner.cleanup()


def conn_id(n: int) -> str:
    return f"vpnx-{n:08d}"


KNOWN = {conn_id(n): v3_item(conn_id(n), f"conn-{n}") for n in range(250)}


async def by_ids(received: Received) -> web.Response:
    """DescribeVpnConnections as the service answers it: the known ids' items; an unknown id refuses the request."""
    ids = received.payload.get("VpnConnectionIds", [])
    if len(ids) > BATCH_MAX:
        return response(Error={"Code": "InvalidParameterValue.LimitExceeded", "Message": "at most 100 ids"})
    if any(i not in KNOWN for i in ids):
        return response(Error={"Code": "ResourceNotFound", "Message": "The VpnConnectionId does not exist."})
    return response(TotalCount=len(ids), VpnConnectionSet=[KNOWN[i] for i in ids])


async def test_concurrent_reads_are_one_request(cloud: StandIn) -> None:
    cloud.on(DESCRIBE, by_ids)
    async with client_for(cloud) as vpc:
        found = await asyncio.gather(*(vpc.describe_vpn_conn(conn_id(n)) for n in range(40)))
        assert [c.vpn_conn_id for c in found] == [conn_id(n) for n in range(40)]
        assert [c.name for c in found] == [f"conn-{n}" for n in range(40)]
        assert vpc.calls == {DESCRIBE: 1}
    [sent] = cloud.of(DESCRIBE)
    assert sent.payload == {"VpnConnectionIds": [conn_id(n) for n in range(40)], "Offset": 0, "Limit": 100}


async def test_more_than_a_hundred_ids_are_split_into_full_batches(cloud: StandIn) -> None:
    cloud.on(DESCRIBE, by_ids)
    async with client_for(cloud) as vpc:
        found = await asyncio.gather(*(vpc.describe_vpn_conn(conn_id(n)) for n in range(250)))
        assert {c.vpn_conn_id for c in found} == set(KNOWN)
    sizes = [len(r.payload["VpnConnectionIds"]) for r in cloud.of(DESCRIBE)]
    assert sizes == [100, 100, 50]


async def test_the_same_id_asked_twice_is_read_once_and_both_get_it(cloud: StandIn) -> None:
    cloud.on(DESCRIBE, by_ids)
    async with client_for(cloud) as vpc:
        a, b, c = await asyncio.gather(*(vpc.describe_vpn_conn(i) for i in (conn_id(1), conn_id(2), conn_id(1))))
    assert a == c
    assert a.vpn_conn_id == conn_id(1)
    assert b.vpn_conn_id == conn_id(2)
    [sent] = cloud.of(DESCRIBE)
    assert sent.payload["VpnConnectionIds"] == [conn_id(1), conn_id(2)]


async def test_an_unknown_id_fails_only_its_own_read(cloud: StandIn) -> None:
    cloud.on(DESCRIBE, by_ids)
    wanted = [conn_id(1), "vpnx-unknown1", conn_id(2), conn_id(3)]
    async with client_for(cloud) as vpc:
        results = await asyncio.gather(*(vpc.describe_vpn_conn(i) for i in wanted), return_exceptions=True)
    assert [getattr(r, "vpn_conn_id", None) for r in results] == [conn_id(1), None, conn_id(2), conn_id(3)]
    assert isinstance(results[1], NotFoundError)
    assert results[1].code == "ResourceNotFound"
    # The batch was refused as a whole; each id was then read alone.
    assert [r.payload["VpnConnectionIds"] for r in cloud.of(DESCRIBE)] == [wanted, *[[i] for i in wanted]]


async def test_an_id_missing_from_the_answer_is_not_found(cloud: StandIn) -> None:
    async def without_the_second(received: Received) -> web.Response:
        ids = received.payload["VpnConnectionIds"]
        return response(TotalCount=1, VpnConnectionSet=[KNOWN[ids[0]]])

    cloud.on(DESCRIBE, without_the_second)
    async with client_for(cloud) as vpc:
        first, second = await asyncio.gather(
            vpc.describe_vpn_conn(conn_id(5)), vpc.describe_vpn_conn(conn_id(6)), return_exceptions=True
        )
    assert getattr(first, "vpn_conn_id", None) == conn_id(5)
    assert isinstance(second, NotFoundError)
    assert len(cloud.of(DESCRIBE)) == 1


async def test_an_unreadable_item_without_an_id_blames_nobody_else(cloud: StandIn) -> None:
    async def one_broken(received: Received) -> web.Response:
        ids = received.payload["VpnConnectionIds"]
        items: list[dict[str, Any]] = [KNOWN[i] for i in ids if i != conn_id(8)]
        if conn_id(8) in ids:
            broken = dict(KNOWN[conn_id(8)])
            del broken["VpnConnectionId"]  # nothing says whose it is
            items.append(broken)
        return response(TotalCount=len(items), VpnConnectionSet=items)

    cloud.on(DESCRIBE, one_broken)
    async with client_for(cloud) as vpc:
        results = await asyncio.gather(*(vpc.describe_vpn_conn(conn_id(n)) for n in (7, 8, 9)), return_exceptions=True)
    assert getattr(results[0], "vpn_conn_id", None) == conn_id(7)
    assert getattr(results[2], "vpn_conn_id", None) == conn_id(9)
    assert isinstance(results[1], ResponseError)


async def test_a_failed_batch_fails_every_read_in_it(cloud: StandIn) -> None:
    cloud.on(DESCRIBE, api_error("UnauthorizedOperation", "no"))
    async with client_for(cloud) as vpc:
        results = await asyncio.gather(*(vpc.describe_vpn_conn(conn_id(n)) for n in range(3)), return_exceptions=True)
    assert all(getattr(r, "code", None) == "UnauthorizedOperation" for r in results)
    assert len(cloud.of(DESCRIBE)) == 1  # not a refusal an id can cause: no reads alone


async def test_reads_waiting_for_the_rate_limit_fill_the_next_batch(cloud: StandIn) -> None:
    cloud.on(DESCRIBE, by_ids)
    async with client_for(cloud, rate_limits={DESCRIBE: 1}) as vpc:
        first = asyncio.create_task(vpc.describe_vpn_conn(conn_id(0)))
        await first  # the window's one request is spent
        later = []
        for n in range(1, 31):  # one at a time, each on its own turn of the loop
            later.append(asyncio.create_task(vpc.describe_vpn_conn(conn_id(n))))
            await asyncio.sleep(0.01)
        found = await asyncio.gather(*later)
        assert [c.vpn_conn_id for c in found] == [conn_id(n) for n in range(1, 31)]
    assert [len(r.payload["VpnConnectionIds"]) for r in cloud.of(DESCRIBE)] == [1, 30]


async def test_a_cancelled_caller_leaves_the_others_their_answers(cloud: StandIn) -> None:
    cloud.on(DESCRIBE, by_ids)
    async with client_for(cloud) as vpc:
        gone = asyncio.create_task(vpc.describe_vpn_conn(conn_id(1)))
        kept = asyncio.create_task(vpc.describe_vpn_conn(conn_id(2)))
        await asyncio.sleep(0)
        gone.cancel()
        assert (await kept).vpn_conn_id == conn_id(2)
        with pytest.raises(asyncio.CancelledError):
            await gone


async def test_closing_the_client_stops_waiting_batches(cloud: StandIn) -> None:
    cloud.on(DESCRIBE, by_ids)
    vpc: VpcClientV3 = client_for(cloud, rate_limits={DESCRIBE: 1})
    await vpc.describe_vpn_conn(conn_id(0))
    waiting = asyncio.create_task(vpc.describe_vpn_conn(conn_id(1)))
    await asyncio.sleep(0.05)
    await asyncio.wait_for(vpc.aclose(), 1)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiting, 1)
    assert len(cloud.of(DESCRIBE)) == 1
