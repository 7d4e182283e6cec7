"""The real client against the simulator over loopback HTTP: reads, the edit, tasks and the cloud's refusals."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from bot.sim import DEMO_SECRET_ID, DEMO_SECRET_KEY, SimServer, SimState, load_world
from bot.tencent import (
    ApiError,
    CloudTimeoutError,
    Credentials,
    NotFoundError,
    SignatureMethod,
    TaskFollower,
    TaskOutcome,
    TaskState,
    VpcClient,
)
from bot.vpn.edit import propose

SEED_CONN = "vpnx-ol6bcqp0"


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    world = load_world(None).model_copy(update={"task_seconds": 0.1})
    async with SimServer(SimState(world)) as server:
        yield server


def client_for(sim: SimServer, *, method: SignatureMethod = "HmacSHA256", **options: float) -> VpcClient:
    credentials = Credentials(DEMO_SECRET_ID, SecretStr(DEMO_SECRET_KEY))
    return VpcClient(credentials, endpoint=sim.url, signature_method=method, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["HmacSHA256", "HmacSHA1"])
async def test_edit_follow_verify_with_each_signature_method(sim: SimServer, method: SignatureMethod) -> None:
    async with client_for(sim, method=method) as client:
        connection = await client.describe_vpn_conn(SEED_CONN)
        proposal = propose(connection.settings, {"vpnConnName": f"renamed-{method}"})
        task_id = await client.modify_vpn_conn(connection, proposal)
        follower = TaskFollower(client.task_status, initial_interval=0.05, max_interval=0.1, deadline=5)
        seen: list[str] = []

        async def on_change(state: TaskState, elapsed: float) -> None:
            seen.append(state.status.value)

        result = await follower.follow(task_id, on_change)
        assert result.outcome is TaskOutcome.SUCCEEDED
        assert seen[0] == "running"
        assert seen[-1] == "succeeded"
        assert (await client.describe_vpn_conn(SEED_CONN)).name == f"renamed-{method}"


async def test_listing_with_filters_pages_through_everything(sim: SimServer) -> None:
    async with client_for(sim) as client:
        everything = await client.list_vpn_conns()
        assert len(everything.connections) == len(load_world(None).vpn_connections)
        assert everything.unreadable == ()
        in_vpc = (await client.list_vpn_conns(vpc_id="vpc-03vihbk9")).connections
        assert {c.vpc_id for c in in_vpc} == {"vpc-03vihbk9"}
        on_gateway = (await client.list_vpn_conns(vpn_gw_id="vpngw-kfldykuz")).connections
        assert SEED_CONN in {c.vpn_conn_id for c in on_gateway}
        assert {c.vpn_gw_id for c in on_gateway} == {"vpngw-kfldykuz"}


async def test_unknown_ids_are_the_seeds_errors(sim: SimServer) -> None:
    async with client_for(sim) as client:
        with pytest.raises(NotFoundError):
            await client.describe_vpn_conn("vpnx-00000000")
        connection = await client.describe_vpn_conn(SEED_CONN)
        proposal = propose(connection.settings, {"vpnConnName": "x"})
        for field, code_desc in (
            ("vpc_id", "InvalidVpc.NotFound"),
            ("vpn_gw_id", "InvalidVpnGw.NotFound"),
            ("vpn_conn_id", "InvalidVpnGw.NotFound"),
        ):
            wrong = dataclasses.replace(connection, **{field: "x-00000000"})
            with pytest.raises(ApiError) as caught:
                await client.modify_vpn_conn(wrong, proposal)
            assert caught.value.code_desc == code_desc
    assert sim.state.received("ModifyVpnConnEx") == 3


async def test_a_busy_connection_refuses_a_second_edit(sim: SimServer) -> None:
    async with client_for(sim) as client:
        connection = await client.describe_vpn_conn(SEED_CONN)
        await client.modify_vpn_conn(connection, propose(connection.settings, {"vpnConnName": "first"}))
        running = await client.describe_vpn_conn(SEED_CONN)
        assert running.status == 2
        with pytest.raises(ApiError) as caught:
            await client.modify_vpn_conn(connection, propose(connection.settings, {"vpnConnName": "second"}))
        assert caught.value.code_desc == "OperationDenied.VpnConnBusy"


async def test_reads_time_out_after_their_retries(sim: SimServer) -> None:
    sim.state.update_faults({"latency": {"DescribeVpnConn": 0.5}})
    async with client_for(sim, timeout=0.1, read_attempts=2, retry_base=0.01) as client:
        with pytest.raises(CloudTimeoutError):
            await client.describe_vpn_conn(SEED_CONN)
    assert sim.state.received("DescribeVpnConn") == 2


async def test_internal_errors_on_task_reads_are_retried(sim: SimServer) -> None:
    async with client_for(sim, retry_base=0.01) as client:
        connection = await client.describe_vpn_conn(SEED_CONN)
        task_id = await client.modify_vpn_conn(connection, propose(connection.settings, {"vpnConnName": "ok"}))
        sim.state.update_faults({"failureRate": {"DescribeVpcTaskResult": 1.0}})
        follower = TaskFollower(client.task_status, initial_interval=0.05, max_interval=0.05, deadline=0.5)
        result = await follower.follow(task_id)
        assert result.outcome is TaskOutcome.TIMED_OUT
        assert "6000" in result.message
        sim.state.update_faults({"failureRate": {"DescribeVpcTaskResult": 0.0}})
        result = await TaskFollower(client.task_status, initial_interval=0.05, deadline=5).follow(task_id)
        assert result.outcome is TaskOutcome.SUCCEEDED
