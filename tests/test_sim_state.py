"""The simulator's world without HTTP: the demo world, the three actions, tasks on an injected clock, faults."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.sim import DEMO_SECRET_ID, DEMO_SECRET_KEY, SimApiError, SimState, World, load_world
from bot.sim.faults import Faults, draw
from bot.vpn.connection import connection_from_describe

VPC = "vpc-03vihbk9"
GW = "vpngw-kfldykuz"
CONN = "vpnx-ol6bcqp0"  # office-shanghai, IKESet/IPsecSet, 10.0.1.0/24 -> 10.100.1.0/24
BJ1 = "vpnx-3mv8tqwd"  # idc-beijing-1, same gateway, IKEArr/IPSECArr (objects), two source CIDRs
BJ2 = "vpnx-b5n1r8kc"  # idc-beijing-2, gateway vpngw-q3bzxk4m, fqdn identities
ACME = "vpnx-k2w6fj0u"  # partner-acme, staging VPC, IKEArr/IPSECArr as one-element lists
STAGING_VPC, STAGING_GW = "vpc-8e0ypm3z", "vpngw-7yl2d9xa"
TASK_SECONDS = 5.0


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock) -> SimState:
    return SimState(load_world(None), clock=clock, seed=7)


def request(conn: str = CONN, gw: str = GW, vpc: str = VPC, **edits: str) -> dict[str, str]:
    """A ModifyVpnConnEx request; edits use ``__`` for ``.`` (``IKESet__dhGroupName``)."""
    params = {"vpcId": vpc, "vpnGwId": gw, "vpnConnId": conn}
    params.update({name.replace("__", "."): value for name, value in edits.items()})
    return params


def shanghai(**edits: str) -> dict[str, str]:
    """A request for the seed's connection that resends its current peer CIDR, as the client does."""
    return request(**{"userGwCidrBlock__0": "10.100.1.0/24", **edits})


def api_error(call: Callable[[], object]) -> SimApiError:
    with pytest.raises(SimApiError) as caught:
        call()
    return caught.value


def task_status(state: SimState, task_id: int) -> dict[str, Any]:
    data: dict[str, Any] = state.describe_vpc_task_result({"taskId": str(task_id)})["data"]
    return data


# ---------------------------------------------------------------------------------------------------------------
# The world


def test_demo_world_holds_the_seed_example_and_the_api_quirks() -> None:
    world = load_world(None)
    assert len(DEMO_SECRET_ID) == 36
    assert DEMO_SECRET_ID.startswith("AKID")
    assert world.credentials == {DEMO_SECRET_ID: DEMO_SECRET_KEY}
    assert {v.un_vpc_id for v in world.vpcs} == {VPC, STAGING_VPC}
    assert len(world.vpn_gateways) == 3
    items = {item["unVpnConnId"]: item for item in world.vpn_connections}
    assert len(items) == 5
    seed = items[CONN]
    assert (seed["unVpcId"], seed["unVpnGwId"], seed["userGwId"]) == (VPC, GW, 315)
    assert "IKEArr" in items[BJ1]
    assert "IPSECArr" in items[BJ1]
    assert items[BJ1]["IKEArr"]["ikeSaLifetimeSeconds"] == "86400"
    assert items[BJ1]["IKEArr"]["propoAuthenAlgorithm"] == "sha1"
    assert len(items[BJ1]["sourceCidr"]) == 2
    assert items[BJ2]["IKESet"]["localIdentity"] == "fqdn"
    for item in items.values():
        assert connection_from_describe(item).vpn_conn_id == item["unVpnConnId"]


def test_world_file_round_trips_through_snapshot(tmp_path: Path, state: SimState) -> None:
    state.modify_vpn_conn_ex(shanghai(vpnConnName="office-shanghai-new"))
    snapshot = state.snapshot()
    assert snapshot["tasks"] == [{"taskId": 12614, "vpnConnId": CONN, "status": 2}]
    del snapshot["tasks"]
    path = tmp_path / "world.json"
    path.write_text(json.dumps(snapshot))
    reloaded = load_world(path)
    assert reloaded.to_json() == snapshot


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"unVpnGwId": "vpngw-nothere"}, "vpngw-nothere"),
        ({"unVpnGwId": STAGING_GW}, "not in VPC"),
        ({"unVpcId": "vpc-nothere"}, "unknown VPC vpc-nothere"),
        ({"IKESet": {"propoEncryAlgorithm": "rot13"}}, "IKESet"),
    ],
)
def test_inconsistent_world_is_refused_with_the_problem_named(change: dict[str, Any], expected: str) -> None:
    document = load_world(None).to_json()
    document["vpnConnections"][0].update(change)
    with pytest.raises(ValueError, match=expected):
        World.model_validate(document)


# ---------------------------------------------------------------------------------------------------------------
# DescribeVpnConn


@pytest.mark.parametrize("conn_id", [CONN, "2101"])
def test_describe_by_connection_id(state: SimState, conn_id: str) -> None:
    answer = state.describe_vpn_conn({"vpnConnId": conn_id})
    assert answer["totalCount"] == 1
    item = answer["data"][0]
    assert item["unVpnConnId"] == CONN
    assert item["preSharedKey"] == "sh-office-2019"  # the real API returns it in plain text
    assert item["vpcConnStatus"] == 6


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"vpcId": VPC}, {CONN, BJ1, BJ2}),
        ({"vpcId": "3417"}, {"vpnx-x9d4hz2e", ACME}),
        ({"vpnGwId": GW}, {CONN, BJ1}),
        ({"vpnGwId": "1311", "vpcId": STAGING_VPC}, {"vpnx-x9d4hz2e", ACME}),
        ({"vpnConnName": "BEIJING"}, {BJ1, BJ2}),
        ({"vpnConnName": "office", "vpcId": VPC}, {CONN}),
        ({"vpnConnId": "vpnx-nothere"}, set()),
    ],
)
def test_describe_filters(state: SimState, params: dict[str, str], expected: set[str]) -> None:
    answer = state.describe_vpn_conn(params)
    assert {item["unVpnConnId"] for item in answer["data"]} == expected
    assert answer["totalCount"] == len(expected)


def test_describe_pages_through_everything(state: SimState) -> None:
    seen: list[str] = []
    for offset in (0, 2, 4, 6):
        answer = state.describe_vpn_conn({"offset": str(offset), "limit": "2"})
        assert answer["totalCount"] == 5
        seen += [item["unVpnConnId"] for item in answer["data"]]
    assert len(seen) == 5
    assert len(set(seen)) == 5
    assert len(state.describe_vpn_conn({})["data"]) == 5


def test_describe_orders_by_name_or_creation(state: SimState) -> None:
    by_name = [i["vpnConnName"] for i in state.describe_vpn_conn({"orderField": "vpnConnName"})["data"]]
    assert by_name == sorted(by_name)
    newest_first = state.describe_vpn_conn({"orderField": "createTime", "orderDirection": "desc"})["data"]
    times = [i["createTime"] for i in newest_first]
    assert times == sorted(times, reverse=True)
    assert [i["createTime"] for i in state.describe_vpn_conn({})["data"]] == sorted(times)


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": "51"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"limit": "ten"}, "limit"),
        ({"orderField": "vpnGwId"}, "orderField"),
        ({"orderDirection": "up"}, "orderDirection"),
        ({"vpnConnIds": CONN}, "vpnConnIds"),
    ],
)
def test_describe_refuses_bad_parameters(state: SimState, params: dict[str, str], named: str) -> None:
    error = api_error(lambda: state.describe_vpn_conn(params))
    assert (error.code, error.code_desc) == (4000, "InvalidParameter")
    assert error.message.startswith(named + ":")


def test_describe_limit_fifty_is_allowed(state: SimState) -> None:
    assert state.describe_vpn_conn({"limit": "50"})["totalCount"] == 5


# ---------------------------------------------------------------------------------------------------------------
# ModifyVpnConnEx and its task


def test_seed_example_answers_like_the_seed_and_applies_after_the_task(state: SimState, clock: FakeClock) -> None:
    answer = state.modify_vpn_conn_ex(request(**{"userGwCidrBlock__0": "10.100.2.0/24", "preSharedKey": "tencenttest"}))
    assert answer == {
        "data": {
            "vpnGwId": GW,
            "vpcConnId": CONN,
            "taskId": 12614,
            "vpcConnStatus": 2,
            "preSharedKey": "tencenttest",
            "userGwSubnetList": ["10.100.2.0/24"],
            "userGwId": 315,
        }
    }
    running = state.describe_vpn_conn({"vpnConnId": CONN})["data"][0]
    assert running["vpcConnStatus"] == 2
    assert running["destinationCidr"] == ["10.100.1.0/24"]  # not applied yet
    assert task_status(state, 12614) == {"status": 2}
    clock.advance(TASK_SECONDS - 0.01)
    assert task_status(state, 12614) == {"status": 2}
    clock.advance(0.01)
    assert task_status(state, 12614) == {"status": 0}
    done = state.connection(CONN)
    assert (done["vpcConnStatus"], done["destinationCidr"], done["preSharedKey"]) == (
        6,
        ["10.100.2.0/24"],
        "tencenttest",
    )


@pytest.mark.parametrize(
    ("params", "check"),
    [
        pytest.param(shanghai(vpnConnName="office-shanghai-b"), {"vpnConnName": "office-shanghai-b"}, id="name"),
        pytest.param(shanghai(preSharedKey="n3w-Key!"), {"preSharedKey": "n3w-Key!"}, id="key"),
        pytest.param(
            request(**{"userGwCidrBlock__0": "10.100.4.0/24", "userGwCidrBlock__1": "10.100.3.0/24"}),
            {"destinationCidr": ["10.100.3.0/24", "10.100.4.0/24"], "sourceCidr": ["10.0.1.0/24"]},
            id="cidrs",
        ),
        pytest.param(
            request(
                **{
                    "spdAcl__0": '{"10.0.1.0/24": ["10.100.1.0/24", "10.100.5.0/24"]}',
                    "spdAcl__1": '{"10.0.4.0/24": ["10.100.1.0/24"]}',
                }
            ),
            {"sourceCidr": ["10.0.1.0/24", "10.0.4.0/24"], "destinationCidr": ["10.100.1.0/24", "10.100.5.0/24"]},
            id="spd",
        ),
        pytest.param(
            shanghai(
                IKESet__propoEncryAlgorithm="aes-cbc-128",
                IKESet__dhGroupName="group24",
                IKESet__exchangeMode="aggressive",
            ),
            {
                "IKESet.propoEncryAlgorithm": "aes-cbc-128",
                "IKESet.dhGroupName": "group24",
                "IKESet.exchangeMode": "aggressive",
            },
            id="ike",
        ),
        pytest.param(
            shanghai(**{"IKESet.0.ikeSaLifetimeSeconds": "3600", "IKESet.0.propoAuthenAlgorithm": "md5"}),
            {"IKESet.ikeSaLifetimeSeconds": 3600, "IKESet.propoAuthenAlgorithm": "md5"},
            id="ike-indexed",
        ),
        pytest.param(
            shanghai(IPsecSet__pfsDhGroup="dh-group2", IPsecSet__ipsecSaLifetimeTraffic="2560"),
            {"IPsecSet.pfsDhGroup": "dh-group2", "IPsecSet.ipsecSaLifetimeTraffic": 2560},
            id="ipsec",
        ),
        pytest.param(
            shanghai(IKESet__encryptAlgorithm="null"),
            {"IPsecSet.encryptAlgorithm": "null", "IKESet.propoEncryAlgorithm": "aes-cbc-256"},
            id="ipsec-alias",
        ),
        pytest.param(
            request(BJ1, **{"userGwCidrBlock__0": "192.168.10.0/24", "IKESet__exchangeMode": "aggressive"}),
            {"IKEArr.exchangeMode": "aggressive", "destinationCidr": ["192.168.10.0/24"]},
            id="ike-into-IKEArr",
        ),
        pytest.param(
            request(
                ACME, STAGING_GW, STAGING_VPC, userGwCidrBlock__0="100.64.10.0/24", IPsecSet__integrityAlgorith="sha"
            ),
            {"IPSECArr.integrityAlgorith": "sha"},
            id="ipsec-into-IPSECArr-list",
        ),
        pytest.param(
            request(userGwCidrBlock_0="10.100.9.0/24", IKESet_dhGroupName="group5"),
            {"destinationCidr": ["10.100.9.0/24"], "IKESet.dhGroupName": "group5"},
            id="underscore-names",
        ),
    ],
)
def test_valid_edit_runs_a_task_then_is_applied(
    state: SimState, clock: FakeClock, params: dict[str, str], check: dict[str, Any]
) -> None:
    conn_id = params["vpnConnId"]
    before = state.connection(conn_id)
    task_id = state.modify_vpn_conn_ex(params)["data"]["taskId"]
    assert state.connection(conn_id)["vpcConnStatus"] == 2
    assert _stored(state.connection(conn_id), check) != check  # nothing applied while the task runs
    clock.advance(TASK_SECONDS)
    assert task_status(state, task_id)["status"] == 0
    after = state.connection(conn_id)
    assert after["vpcConnStatus"] == 6
    assert _stored(after, check) == check
    untouched = {k for k in before if k not in {"vpcConnStatus", "sourceCidr", "destinationCidr"}}
    untouched -= {name.partition(".")[0] for name in check}
    assert {k: after[k] for k in untouched} == {k: before[k] for k in untouched}


def _stored(item: dict[str, Any], check: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in check:
        block, _, field = name.partition(".")
        value = item.get(block)
        if field:
            value = (value[0] if isinstance(value, list) else value).get(field)
        found[name] = value
    return found


@pytest.mark.parametrize(
    ("params", "named", "said"),
    [
        (shanghai(IKESet__ikeSaLifetimeSeconds="59"), "IKESet.ikeSaLifetimeSeconds", "out of range"),
        (shanghai(IPsecSet__ipsecSaLifetimeSeconds="604801"), "IPsecSet.ipsecSaLifetimeSeconds", "out of range"),
        (shanghai(IPsecSet__ipsecSaLifetimeTraffic="2559"), "IPsecSet.ipsecSaLifetimeTraffic", "out of range"),
        (shanghai(IKESet__dhGroupName="group3"), "IKESet.dhGroupName", "not one of"),
        (shanghai(IPsecSet__pfsDhGroup="group2"), "IPsecSet.pfsDhGroup", "not one of"),
        (request(userGwCidrBlock__0="10.100.2.1/24"), "userGwCidrBlock", "host bits"),
        (request(userGwCidrBlock__0="10.100.2.0/24,10.100.3.0/24"), "userGwCidrBlock", "exactly one CIDR"),
        (request(userGwCidrBlock__0=""), "userGwCidrBlock", "exactly one CIDR"),
        (shanghai(IKESet__localIdentity="fqdn"), "IKESet.localFqdnName", "required when IKESet.localIdentity"),
        (
            request(BJ2, "vpngw-q3bzxk4m", userGwCidrBlock__0="192.168.20.0/22", IKESet__remoteIdentity="address"),
            "IKESet.remoteAddress",
            "required",
        ),
        (request(vpnConnName="office-shanghai-2"), "userGwCidrBlock", "one of them is required"),
        (request(spdAcl__0="10.0.1.0/24 -> 10.100.1.0/24"), "spdAcl", "JSON object"),
        (request(spdAcl__0='{"10.0.1.0/24": ["10.100.1.0/33"]}'), "spdAcl", "prefix length"),
        (shanghai(vpnConnName="x" * 61), "vpnConnName", "at most 60"),
        (shanghai(vpnConnName=""), "vpnConnName", "must not be empty"),
        (shanghai(frobnicate="1"), "frobnicate", "unknown parameter"),
        (shanghai(**{"IKESet.1.dhGroupName": "group2"}), "IKESet.1.dhGroupName", "unknown parameter"),
        (
            shanghai(IKESet__encryptAlgorithm="null", IPsecSet__encryptAlgorithm="null"),
            "IPsecSet.encryptAlgorithm",
            "more than once",
        ),
        (
            request(userGwCidrBlock__0="10.100.1.0/24", **{"userGwCidrBlock.1": "10.100.1.128/25"}),
            "userGwCidrBlock",
            "overlaps",
        ),
    ],
)
def test_invalid_edit_is_refused_naming_the_parameter(
    state: SimState, params: dict[str, str], named: str, said: str
) -> None:
    error = api_error(lambda: state.modify_vpn_conn_ex({**params, "preSharedKey": "Pr0blem-Key-777"}))
    assert (error.code, error.code_desc) == (4000, "InvalidParameter")
    assert error.message.startswith(f"{named}: ") or f"; {named}: " in error.message
    assert said in error.message
    assert "Pr0blem-Key-777" not in error.message
    assert state.connection(params["vpnConnId"])["vpcConnStatus"] in (6, "6")
    assert state.snapshot()["tasks"] == []


def test_every_problem_is_reported_at_once(state: SimState) -> None:
    params = request(IKESet__dhGroupName="group3", IPsecSet__pfsDhGroup="none", bogus="1")
    error = api_error(lambda: state.modify_vpn_conn_ex(params))
    for name in ("IKESet.dhGroupName", "IPsecSet.pfsDhGroup", "bogus", "userGwCidrBlock"):
        assert name + ":" in error.message


@pytest.mark.parametrize(
    "spd",
    [
        '{"10.0.2.0/24": ["192.168.10.0/24"]}',  # the very pair idc-beijing-1 already has
        '{"10.0.0.0/16": ["192.168.0.0/16"]}',  # covers idc-beijing-1's traffic
    ],
)
def test_spd_overlapping_another_connection_on_the_gateway_is_refused(state: SimState, spd: str) -> None:
    error = api_error(lambda: state.modify_vpn_conn_ex(request(spdAcl__0=spd)))
    assert error.code == 4000
    assert error.message.startswith("spdAcl:")
    assert BJ1 in error.message


def test_same_peer_networks_on_another_gateway_are_fine(state: SimState) -> None:
    answer = state.modify_vpn_conn_ex(request(BJ2, "vpngw-q3bzxk4m", spdAcl__0='{"10.0.2.0/24": ["192.168.10.0/24"]}'))
    assert answer["data"]["userGwSubnetList"] == ["192.168.10.0/24"]


def test_name_already_used_in_the_vpc_is_refused(state: SimState) -> None:
    error = api_error(lambda: state.modify_vpn_conn_ex(shanghai(vpnConnName="idc-beijing-2")))
    assert (error.code, error.code_desc) == (4000, "InvalidVpnConnName")
    assert state.modify_vpn_conn_ex(shanghai(vpnConnName="office-shenzhen"))["data"]["taskId"] == 12614  # other VPC


def test_numeric_ids_are_accepted(state: SimState) -> None:
    answer = state.modify_vpn_conn_ex(request("2101", "1270", "3302", userGwCidrBlock__0="10.100.1.0/24"))
    assert (answer["data"]["vpcConnId"], answer["data"]["vpnGwId"]) == (CONN, GW)


def test_missing_ids_are_named(state: SimState) -> None:
    error = api_error(lambda: state.modify_vpn_conn_ex({"vpnConnId": CONN, "userGwCidrBlock.0": "10.100.1.0/24"}))
    assert (error.code, error.code_desc) == (4000, "MissingParameter")
    assert "vpcId" in error.message
    assert "vpnGwId" in error.message
    assert "vpnConnId" not in error.message


@pytest.mark.parametrize(
    ("ids", "code_desc", "said"),
    [
        ((CONN, GW, "vpc-nothere"), "InvalidVpc.NotFound", "VPC vpc-nothere"),
        ((CONN, "vpngw-nothere", VPC), "InvalidVpnGw.NotFound", "VPN gateway vpngw-nothere"),
        ((CONN, STAGING_GW, VPC), "InvalidVpnGw.NotFound", "VPN gateway vpngw-7yl2d9xa"),  # gateway of another VPC
        (("vpnx-nothere", GW, VPC), "InvalidVpnGw.NotFound", "VPN connection vpnx-nothere does not exist"),
        ((BJ2, GW, VPC), "InvalidVpnGw.NotFound", f"VPN connection {BJ2} does not exist"),  # not on that gateway
    ],
)
def test_not_found(state: SimState, ids: tuple[str, str, str], code_desc: str, said: str) -> None:
    error = api_error(lambda: state.modify_vpn_conn_ex(request(*ids, userGwCidrBlock__0="10.100.1.0/24")))
    assert (error.code, error.code_desc) == (5000, code_desc)
    assert said in error.message


def test_busy_connection_is_refused_until_its_task_ends(state: SimState, clock: FakeClock) -> None:
    first = state.modify_vpn_conn_ex(shanghai(vpnConnName="office-shanghai-b"))["data"]["taskId"]
    error = api_error(lambda: state.modify_vpn_conn_ex(shanghai(vpnConnName="office-shanghai-c")))
    assert (error.code, error.code_desc) == (5100, "OperationDenied.VpnConnBusy")
    assert str(first) in error.message
    other = state.modify_vpn_conn_ex(request(BJ1, userGwCidrBlock__0="192.168.10.0/24"))["data"]["taskId"]
    assert other == first + 1  # another connection is not busy
    clock.advance(TASK_SECONDS)
    assert state.modify_vpn_conn_ex(shanghai(vpnConnName="office-shanghai-c"))["data"]["taskId"] == first + 2


def test_forced_task_failure_leaves_settings_and_explains(state: SimState, clock: FakeClock) -> None:
    state.update_faults({"taskOutcome": "failed"})
    before = state.connection(CONN)
    task_id = state.modify_vpn_conn_ex(request(userGwCidrBlock__0="10.100.7.0/24"))["data"]["taskId"]
    clock.advance(TASK_SECONDS)
    result = task_status(state, task_id)
    assert result["status"] == 1
    assert CONN in result["message"]
    assert result["output"] == result["message"]
    assert state.connection(CONN) == before


def test_task_seconds_fault_overrides_the_world(state: SimState, clock: FakeClock) -> None:
    state.update_faults({"taskSeconds": 0.5})
    task_id = state.modify_vpn_conn_ex(shanghai(vpnConnName="quick"))["data"]["taskId"]
    clock.advance(0.5)
    assert task_status(state, task_id)["status"] == 0
    assert state.connection(CONN)["vpnConnName"] == "quick"


@pytest.mark.parametrize(
    ("params", "code", "code_desc"),
    [
        ({"taskId": "999"}, 5000, "InvalidTask.NotFound"),
        ({"taskId": "abc"}, 4000, "InvalidParameter"),
        ({}, 4000, "MissingParameter"),
        ({"taskId": "12614", "verbose": "1"}, 4000, "InvalidParameter"),
    ],
)
def test_task_result_errors(state: SimState, params: dict[str, str], code: int, code_desc: str) -> None:
    error = api_error(lambda: state.describe_vpc_task_result(params))
    assert (error.code, error.code_desc) == (code, code_desc)


def test_unknown_action_is_refused(state: SimState) -> None:
    error = api_error(lambda: state.handle("DeleteVpnConn", {}))
    assert (error.code, error.code_desc) == (4000, "InvalidAction")
    assert "DeleteVpnConn" in error.message
    assert state.handle("DescribeVpnConn", {"vpnConnId": CONN})["totalCount"] == 1


def test_connection_accessor_copies_and_refuses_unknown_ids(state: SimState) -> None:
    state.connection(CONN)["vpnConnName"] = "mutated"
    assert state.connection(CONN)["vpnConnName"] == "office-shanghai"
    with pytest.raises(KeyError):
        state.connection("vpnx-nothere")


# ---------------------------------------------------------------------------------------------------------------
# Faults


def test_counted_faults_are_spent_per_action_with_wildcard_fallback() -> None:
    faults = Faults.model_validate({"http5xx": {"ModifyVpnConnEx": 2, "*": 1}, "overQuota": {"DescribeVpnConn": 1}})
    rng = random.Random(1)
    assert [draw(faults, "ModifyVpnConnEx", rng).http_503 for _ in range(3)] == [True, True, False]
    assert draw(faults, "DescribeVpcTaskResult", rng).http_503 is True  # the wildcard's one
    assert draw(faults, "DescribeVpcTaskResult", rng).http_503 is False
    assert draw(faults, "DescribeVpnConn", rng).code == 4400
    assert draw(faults, "DescribeVpnConn", rng).code is None
    assert faults.to_json()["http5xx"] == {"ModifyVpnConnEx": 0, "*": 0}


def test_latency_and_failure_rate_prefer_the_action_over_the_wildcard() -> None:
    faults = Faults.model_validate({"latency": {"*": 0.5, "DescribeVpnConn": 0.1}, "failureRate": {"*": 1.0}})
    rng = random.Random(1)
    assert draw(faults, "DescribeVpnConn", rng).latency == 0.1
    assert draw(faults, "ModifyVpnConnEx", rng).latency == 0.5
    assert draw(faults, "ModifyVpnConnEx", rng).code == 6000
    faults = faults.merged({"failureRate": {"DescribeVpnConn": 0.0}})
    assert all(draw(faults, "DescribeVpnConn", rng).code is None for _ in range(50))


def test_failure_rate_is_seedable(clock: FakeClock) -> None:
    def outcomes(seed: int) -> list[int | None]:
        state = SimState(clock=clock, seed=seed)
        state.update_faults({"failureRate": {"DescribeVpnConn": 0.5}})
        return [state.draw_fault("DescribeVpnConn").code for _ in range(40)]

    first = outcomes(3)
    assert first == outcomes(3)
    assert 5 < first.count(6000) < 35


def test_update_faults_merges_and_validates(state: SimState) -> None:
    state.update_faults({"latency": {"DescribeVpnConn": 0.2}, "taskOutcome": "failed"})
    state.update_faults({"latency": {"ModifyVpnConnEx": 1}, "taskOutcome": None})
    assert state.faults.latency == {"DescribeVpnConn": 0.2, "ModifyVpnConnEx": 1.0}
    assert state.faults.task_outcome is None
    for bad in ({"failureRate": {"*": 1.5}}, {"http5xx": {"*": -1}}, {"taskOutcome": "maybe"}, {"jitter": {}}):
        with pytest.raises(ValueError):  # noqa: PT011 - pydantic's ValidationError names the key itself
            state.update_faults(bad)
    assert state.faults.failure_rate == {}


def test_faults_can_come_from_the_world_file(clock: FakeClock) -> None:
    document = load_world(None).to_json()
    document["faults"] = {"overQuota": {"*": 1}, "taskOutcome": "failed"}
    state = SimState(World.model_validate(document), clock=clock)
    assert state.draw_fault("DescribeVpnConn").code == 4400
    assert state.faults.task_outcome == "failed"


def test_absurd_parameter_names_are_unknown_not_internal_errors(state: SimState) -> None:
    name = "userGwCidrBlock." + "9" * 5000
    error = api_error(lambda: state.modify_vpn_conn_ex(shanghai(**{name: "10.9.0.0/24"})))
    assert error.code == 4000
    assert "unknown parameter" in error.message
    assert len(error.message) < 300
