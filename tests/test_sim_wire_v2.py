"""API 2.0's wire: ``ModifyVpnConnEx`` / ``DescribeVpnConn`` / ``DescribeVpcTaskResult`` parsed and answered as the
seed documents (through ``wire_v2.run``, no HTTP), then over real HTTP on loopback: the signature over the Host
header as received (port included), auth failures, faults, rate limits, the control surface, logging, lifecycle.

Requests are signed here with ``bot.tencent.signing`` (and once with the legacy SDK's signer), never with the
project's cloud client.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from QcloudApi.common.sign import Sign as LegacySign
from simthread import FakeClock

from bot.sim import DEMO_SECRET_ID, DEMO_SECRET_KEY, SimServer, SimState, V2Error, load_world, run_forever, wire_v2
from bot.tencent.signing import SignatureMethod, sign, string_to_sign

VPC, GW, CONN = "vpc-03vihbk9", "vpngw-kfldykuz", "vpnx-ol6bcqp0"
BJ1 = "vpnx-3mv8tqwd"  # same gateway, IKEArr/IPSECArr objects with "sha1", numbers as text
BJ2 = "vpnx-b5n1r8kc"  # gateway vpngw-q3bzxk4m, fqdn identities
ACME = "vpnx-k2w6fj0u"  # staging VPC, one-element list blocks
STAGING_VPC, STAGING_GW = "vpc-8e0ypm3z", "vpngw-7yl2d9xa"
LAB_VPC, LAB_GW = "vpc-l4b7rq2m", "vpngw-m4t9qe2c"
TWO, ROUTE, GCM = "vpnx-s2r7p5qe", "vpnx-r9t3w6yb", "vpnx-g4cm2k7d"
_nonces = itertools.count(int(time.time()) % 1_000_000 * 1000 + 1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock) -> SimState:
    return SimState(load_world(None), clock=clock, seed=11)


def v2_error(call: Callable[[], object]) -> V2Error:
    with pytest.raises(V2Error) as caught:
        call()
    return caught.value


def request(conn: str = CONN, gw: str = GW, vpc: str = VPC, **edits: str) -> dict[str, str]:
    """A ModifyVpnConnEx request; edits use ``__`` for ``.`` (``IKESet__dhGroupName``)."""
    return {"vpcId": vpc, "vpnGwId": gw, "vpnConnId": conn, **{k.replace("__", "."): v for k, v in edits.items()}}


def shanghai(**edits: str) -> dict[str, str]:
    """A request for the seed's connection that resends its current peer CIDR, as a client does."""
    return request(**{"userGwCidrBlock__0": "10.100.1.0/24", **edits})


def modify(state: SimState, params: dict[str, str]) -> dict[str, Any]:
    return wire_v2.run(state, "ModifyVpnConnEx", params)


def task_data(state: SimState, task_id: int) -> dict[str, Any]:
    data: dict[str, Any] = wire_v2.run(state, "DescribeVpcTaskResult", {"taskId": str(task_id)})["data"]
    return data


# ---------------------------------------------------------------------------------------------------------------
# DescribeVpnConn


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"vpnConnId": CONN}, {CONN}),
        ({"vpnConnId": "2101"}, {CONN}),
        ({"vpcId": VPC}, {CONN, BJ1, BJ2}),
        ({"vpcId": "3417"}, {"vpnx-x9d4hz2e", ACME}),
        ({"vpnGwId": GW}, {CONN, BJ1}),
        ({"vpnGwId": "1311", "vpcId": STAGING_VPC}, {"vpnx-x9d4hz2e", ACME}),
        ({"vpnConnName": "BEIJING"}, {BJ1, "vpnx-b5n1r8kc"}),
        ({"vpnConnName": "office", "vpcId": VPC}, {CONN}),
        ({"vpnConnId": "vpnx-nothere"}, set()),
        ({"vpcId": "vpc-nothere"}, set()),
    ],
)
def test_describe_filters(state: SimState, params: dict[str, str], expected: set[str]) -> None:
    answer = wire_v2.run(state, "DescribeVpnConn", params)
    assert {item["unVpnConnId"] for item in answer["data"]} == expected
    assert answer["totalCount"] == len(expected)


def test_describe_pages_through_everything_in_creation_order(state: SimState) -> None:
    seen: list[str] = []
    for offset in range(0, 12, 2):
        answer = wire_v2.run(state, "DescribeVpnConn", {"offset": str(offset), "limit": "2"})
        assert answer["totalCount"] == 9
        seen += [item["createTime"] for item in answer["data"]]
    assert len(seen) == 9
    assert seen == sorted(seen)
    by_name = [i["vpnConnName"] for i in wire_v2.run(state, "DescribeVpnConn", {"orderField": "vpnConnName"})["data"]]
    assert by_name == sorted(by_name)
    desc = wire_v2.run(state, "DescribeVpnConn", {"orderField": "createTime", "orderDirection": "desc"})["data"]
    assert [i["createTime"] for i in desc] == sorted(seen, reverse=True)


def test_describe_shows_the_spd_flattened_and_the_quirks_of_the_file(state: SimState) -> None:
    two = wire_v2.run(state, "DescribeVpnConn", {"vpnConnId": TWO})["data"][0]
    assert (two["sourceCidr"], two["destinationCidr"]) == (
        ["10.8.2.0/24", "10.8.3.0/24"],
        ["172.20.2.0/24", "172.20.3.0/24"],
    )
    route = wire_v2.run(state, "DescribeVpnConn", {"vpnConnId": ROUTE})["data"][0]
    assert (route["sourceCidr"], route["destinationCidr"]) == ([], [])
    gcm = wire_v2.run(state, "DescribeVpnConn", {"vpnConnId": GCM})["data"][0]
    assert (gcm["IKESet"]["propoEncryAlgorithm"], gcm["IPsecSet"]["integrityAlgorith"]) == ("aes256gcm128", "sha-512")
    bj1 = wire_v2.run(state, "DescribeVpnConn", {"vpnConnId": BJ1})["data"][0]
    assert (bj1["vpcConnStatus"], bj1["IKEArr"]["ikeSaLifetimeSeconds"], bj1["IKEArr"]["propoAuthenAlgorithm"]) == (
        "6",
        "86400",
        "sha1",
    )
    assert bj1["preSharedKey"] == "bj1-Preshared-7731"  # the real API returns it in plain text


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
    error = v2_error(lambda: wire_v2.run(state, "DescribeVpnConn", params))
    assert (error.code, error.code_desc) == (4000, "InvalidParameter")
    assert error.message.startswith(named + ":")


# ---------------------------------------------------------------------------------------------------------------
# ModifyVpnConnEx and its task


def test_seed_example_answers_like_the_seed_and_applies_after_the_task(state: SimState, clock: FakeClock) -> None:
    answer = modify(state, request(**{"userGwCidrBlock__0": "10.100.2.0/24", "preSharedKey": "tencenttest"}))
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
    running = state.connection(CONN)
    assert (running["vpcConnStatus"], running["destinationCidr"]) == (2, ["10.100.1.0/24"])
    assert task_data(state, 12614) == {"status": 2}
    clock.advance(4.99)
    assert task_data(state, 12614) == {"status": 2}
    clock.advance(0.01)
    assert task_data(state, 12614) == {"status": 0}
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
            {"destinationCidr": ["10.100.4.0/24", "10.100.3.0/24"], "sourceCidr": ["10.0.1.0/24"]},
            id="cidrs-in-order",
        ),
        pytest.param(
            request(
                **{
                    "spdAcl__0": '{"10.0.1.0/24": ["10.100.1.0/24", "10.100.5.0/24"]}',
                    "spdAcl__1": '{"10.0.4.0/24": ["10.100.6.0/24"]}',
                }
            ),
            {"sourceCidr": ["10.0.1.0/24", "10.0.4.0/24"], "destinationCidr": ["10.100.1.0/24", "10.100.5.0/24", "10.100.6.0/24"]},
            id="spd",
        ),
        pytest.param(
            shanghai(IKESet__propoEncryAlgorithm="aes-cbc-128", IKESet__dhGroupName="group24", IKESet__exchangeMode="aggressive"),
            {"IKESet.propoEncryAlgorithm": "aes-cbc-128", "IKESet.dhGroupName": "group24", "IKESet.exchangeMode": "aggressive"},
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
            id="ipsec-alias-under-IKESet",
        ),
        pytest.param(
            request(BJ1, **{"userGwCidrBlock__0": "192.168.10.0/24", "IKESet__exchangeMode": "aggressive"}),
            {"IKEArr.exchangeMode": "aggressive", "destinationCidr": ["192.168.10.0/24"]},
            id="ike-into-IKEArr",
        ),
        pytest.param(
            request(ACME, STAGING_GW, STAGING_VPC, userGwCidrBlock__0="100.64.10.0/24", IPsecSet__integrityAlgorith="md5"),
            {"IPSECArr.integrityAlgorith": "md5"},
            id="ipsec-into-IPSECArr-list",
        ),
        pytest.param(
            request(userGwCidrBlock_0="10.100.9.0/24", IKESet_dhGroupName="group5"),
            {"destinationCidr": ["10.100.9.0/24"], "IKESet.dhGroupName": "group5"},
            id="underscore-names",
        ),
        pytest.param(
            request(TWO, LAB_GW, LAB_VPC, userGwCidrBlock__0="172.20.7.0/24"),
            {"sourceCidr": ["10.8.2.0/24", "10.8.3.0/24"], "destinationCidr": ["172.20.7.0/24"]},
            id="cidrs-for-every-local",
        ),
    ],
)  # fmt: skip
def test_valid_edit_runs_a_task_then_is_applied(
    state: SimState, clock: FakeClock, params: dict[str, str], check: dict[str, Any]
) -> None:
    conn_id = params["vpnConnId"]
    task_id = modify(state, params)["data"]["taskId"]
    assert state.connection(conn_id)["vpcConnStatus"] in (2, "2")
    assert _stored(state.connection(conn_id), check) != check  # nothing applied while the task runs
    clock.advance(5)
    assert task_data(state, task_id)["status"] == 0
    assert _stored(state.connection(conn_id), check) == check


def _stored(item: dict[str, Any], check: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in check:
        block, _, field = name.partition(".")
        value = item.get(block)
        if field:
            value = (value[0] if isinstance(value, list) else value).get(field)
        found[name] = value
    return found


def test_the_sha1_quirk_of_the_file_survives_an_edit(state: SimState, clock: FakeClock) -> None:
    modify(
        state,
        request(ACME, STAGING_GW, STAGING_VPC, userGwCidrBlock__0="100.64.10.0/24", IPsecSet__integrityAlgorith="sha"),
    )
    clock.advance(5)
    assert state.connection(ACME)["IPSECArr"][0]["integrityAlgorith"] == "sha1"  # outputs show sha1 for the input sha


@pytest.mark.parametrize(
    ("params", "named", "said"),
    [
        (shanghai(IKESet__ikeSaLifetimeSeconds="59"), "IKESet.ikeSaLifetimeSeconds", "out of range"),
        (shanghai(IPsecSet__ipsecSaLifetimeSeconds="604801"), "IPsecSet.ipsecSaLifetimeSeconds", "out of range"),
        (shanghai(IPsecSet__ipsecSaLifetimeTraffic="2559"), "IPsecSet.ipsecSaLifetimeTraffic", "out of range"),
        (shanghai(IKESet__ikeSaLifetimeSeconds="ten"), "IKESet.ikeSaLifetimeSeconds", "whole number"),
        (shanghai(IKESet__dhGroupName="group3"), "IKESet.dhGroupName", "not one of group1, group2, group5, group14, group24"),
        (shanghai(IKESet__dhGroupName="group20"), "IKESet.dhGroupName", "not one of"),  # API 3.0 only
        (shanghai(IKESet__propoEncryAlgorithm="sm4"), "IKESet.propoEncryAlgorithm", "not one of"),
        (shanghai(IKESet__propoEncryAlgorithm="AES-CBC-128"), "IKESet.propoEncryAlgorithm", "not one of"),
        (shanghai(IKESet__propoAuthenAlgorithm="sha-256"), "IKESet.propoAuthenAlgorithm", "not one of md5, sha"),
        (shanghai(IPsecSet__integrityAlgorith="sha1"), "IPsecSet.integrityAlgorith", "not one of md5, sha"),
        (shanghai(IPsecSet__pfsDhGroup="group2"), "IPsecSet.pfsDhGroup", "not one of"),
        (request(userGwCidrBlock__0="10.100.2.1/24"), "userGwCidrBlock", "host bits"),
        (request(userGwCidrBlock__0="10.100.2.0/24,10.100.3.0/24"), "userGwCidrBlock", "exactly one CIDR"),
        (request(userGwCidrBlock__0=""), "userGwCidrBlock", "exactly one CIDR"),
        (shanghai(IKESet__localIdentity="fqdn"), "IKESet.localFqdnName", "required when IKESet.localIdentity is fqdn"),
        (
            request(BJ2, "vpngw-q3bzxk4m", userGwCidrBlock__0="192.168.20.0/22", IKESet__remoteIdentity="address"),
            "IKESet.remoteAddress",
            "required when IKESet.remoteIdentity is address",
        ),
        (request(vpnConnName="office-shanghai-2"), "userGwCidrBlock", "one of them is required"),
        (request(spdAcl__0="10.0.1.0/24 -> 10.100.1.0/24"), "spdAcl", "JSON object"),
        (request(spdAcl__0='{"10.0.1.0/24": ["a"], "10.0.2.0/24": ["b"]}'), "spdAcl", "JSON object"),
        (request(spdAcl__0='{"10.0.1.0/24": ["10.100.1.0/33"]}'), "spdAcl", "not an IPv4 CIDR"),
        (shanghai(vpnConnName="x" * 61), "vpnConnName", "at most 60"),
        (shanghai(vpnConnName=""), "vpnConnName", "must not be empty"),
        (shanghai(frobnicate="1"), "frobnicate", "unknown parameter"),
        (shanghai(IKESet__encapMode="tunnel"), "IKESet.encapMode", "unknown parameter"),
        (shanghai(**{"IKESet.1.dhGroupName": "group2"}), "IKESet.1.dhGroupName", "unknown parameter"),
        (shanghai(IKESet__encryptAlgorithm="null", IPsecSet__encryptAlgorithm="null"), "IPsecSet.encryptAlgorithm", "more than once"),
        (request(userGwCidrBlock__0="10.100.1.0/24", **{"userGwCidrBlock.1": "10.100.1.128/25"}), "userGwCidrBlock", "overlaps"),
        (request(spdAcl__0='{"10.0.2.0/24": ["192.168.10.0/24"]}'), "spdAcl", BJ1),  # another tunnel's pair
        (request(ROUTE, LAB_GW, LAB_VPC, userGwCidrBlock__0="172.20.9.0/24"), "userGwCidrBlock", "route-based"),
    ],
)  # fmt: skip
def test_invalid_edit_is_a_4000_naming_the_parameter(
    state: SimState, params: dict[str, str], named: str, said: str
) -> None:
    error = v2_error(lambda: modify(state, {**params, "preSharedKey": "Pr0blem-Key-777"}))
    assert (error.code, error.code_desc) == (4000, "InvalidParameter")
    assert error.message.startswith(f"{named}: ") or f"; {named}: " in error.message
    assert said in error.message
    assert "Pr0blem-Key-777" not in error.message
    assert state.connection(params["vpnConnId"])["vpcConnStatus"] in (6, "6")
    assert state.snapshot()["tasks"] == []


def test_every_problem_is_reported_at_once(state: SimState) -> None:
    error = v2_error(
        lambda: modify(state, request(IKESet__dhGroupName="group3", IPsecSet__pfsDhGroup="none", bogus="1"))
    )
    for name in ("IKESet.dhGroupName", "IPsecSet.pfsDhGroup", "bogus", "userGwCidrBlock"):
        assert name + ":" in error.message


def test_wire_and_world_problems_are_reported_together(state: SimState) -> None:
    error = v2_error(lambda: modify(state, shanghai(IKESet__dhGroupName="group3", IKESet__ikeSaLifetimeSeconds="1")))
    assert "IKESet.dhGroupName:" in error.message
    assert "IKESet.ikeSaLifetimeSeconds: 1 is out of range" in error.message


def test_a_flattened_resend_of_a_two_rule_spd_widens_it_as_sent(state: SimState, clock: FakeClock) -> None:
    """What a client that reads sourceCidr x destinationCidr and sends it back does to {A: [X], B: [Y]}."""
    item = state.connection(TWO)
    spd = {
        f"spdAcl.{i}": f'{{"{local}": ["{item["destinationCidr"][0]}", "{item["destinationCidr"][1]}"]}}'
        for i, local in enumerate(item["sourceCidr"])
    }
    modify(state, request(TWO, LAB_GW, LAB_VPC, vpnConnName="renamed", **spd))
    clock.advance(5)
    assert state.get(TWO).spd == (
        ("10.8.2.0/24", ("172.20.2.0/24", "172.20.3.0/24")),
        ("10.8.3.0/24", ("172.20.2.0/24", "172.20.3.0/24")),
    )


def test_name_already_used_in_the_vpc_is_invalid_vpn_conn_name(state: SimState) -> None:
    error = v2_error(lambda: modify(state, shanghai(vpnConnName="idc-beijing-2")))
    assert (error.code, error.code_desc) == (4000, "InvalidVpnConnName")
    assert modify(state, shanghai(vpnConnName="office-shenzhen"))["data"]["taskId"] == 12614  # another VPC's name


def test_numeric_ids_are_accepted(state: SimState) -> None:
    answer = modify(state, request("2101", "1270", "3302", userGwCidrBlock__0="10.100.1.0/24"))
    assert (answer["data"]["vpcConnId"], answer["data"]["vpnGwId"]) == (CONN, GW)


def test_missing_ids_are_named(state: SimState) -> None:
    error = v2_error(lambda: modify(state, {"vpnConnId": CONN, "userGwCidrBlock.0": "10.100.1.0/24"}))
    assert (error.code, error.code_desc) == (4000, "MissingParameter")
    assert "vpcId" in error.message
    assert "vpnGwId" in error.message
    assert "vpnConnId" not in error.message


@pytest.mark.parametrize(
    ("ids", "code_desc", "said"),
    [
        ((CONN, GW, "vpc-nothere"), "InvalidVpc.NotFound", "VPC vpc-nothere"),
        ((CONN, "vpngw-nothere", VPC), "InvalidVpnGw.NotFound", "VPN gateway vpngw-nothere"),
        ((CONN, STAGING_GW, VPC), "InvalidVpnGw.NotFound", "VPN gateway vpngw-7yl2d9xa"),
        (("vpnx-nothere", GW, VPC), "InvalidVpnGw.NotFound", "VPN connection vpnx-nothere does not exist"),
        ((BJ2, GW, VPC), "InvalidVpnGw.NotFound", f"VPN connection {BJ2} does not exist"),
    ],
)
def test_not_found(state: SimState, ids: tuple[str, str, str], code_desc: str, said: str) -> None:
    error = v2_error(lambda: modify(state, request(*ids, userGwCidrBlock__0="10.100.1.0/24")))
    assert (error.code, error.code_desc) == (5000, code_desc)
    assert said in error.message


def test_busy_connection_is_5100_until_its_task_ends(state: SimState, clock: FakeClock) -> None:
    first = modify(state, shanghai(vpnConnName="b"))["data"]["taskId"]
    error = v2_error(lambda: modify(state, shanghai(vpnConnName="c", IKESet__dhGroupName="group99")))
    assert (error.code, error.code_desc) == (5100, "OperationDenied.VpnConnBusy")  # busy before any value
    assert str(first) in error.message
    clock.advance(5)
    assert modify(state, shanghai(vpnConnName="c"))["data"]["taskId"] == first + 1


def test_forced_task_failure_leaves_settings_and_explains(state: SimState, clock: FakeClock) -> None:
    state.update_faults({"taskOutcome": "failed"})
    before = state.connection(CONN)
    task_id = modify(state, request(userGwCidrBlock__0="10.100.7.0/24"))["data"]["taskId"]
    clock.advance(5)
    result = task_data(state, task_id)
    assert result["status"] == 1
    assert CONN in result["message"]
    assert result["output"] == result["message"]
    assert state.connection(CONN) == before


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
    error = v2_error(lambda: wire_v2.run(state, "DescribeVpcTaskResult", params))
    assert (error.code, error.code_desc) == (code, code_desc)


def test_absurd_parameter_names_are_unknown_not_internal_errors(state: SimState) -> None:
    name = "userGwCidrBlock." + "9" * 5000
    error = v2_error(lambda: modify(state, shanghai(**{name: "10.9.0.0/24"})))
    assert error.code == 4000
    assert "unknown parameter" in error.message
    assert len(error.message) < 300


# ---------------------------------------------------------------------------------------------------------------
# Over HTTP


@pytest.fixture
async def sim(state: SimState) -> AsyncIterator[SimServer]:
    async with SimServer(state) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


def host_of(sim: SimServer) -> str:
    """The Host header httpx sends to the simulator: ``127.0.0.1:PORT``."""
    return urlsplit(sim.url).netloc


def signed(
    action: str,
    params: dict[str, str],
    *,
    host: str,
    method: str = "GET",
    secret_id: str = DEMO_SECRET_ID,
    secret_key: str = DEMO_SECRET_KEY,
    signature_method: SignatureMethod | None = "HmacSHA256",
    timestamp: float | None = None,
    nonce: int | None = None,
) -> dict[str, str]:
    common = {
        "Action": action,
        "Region": "ap-guangzhou",
        "SecretId": secret_id,
        "Timestamp": str(int(timestamp if timestamp is not None else time.time())),
        "Nonce": str(nonce if nonce is not None else next(_nonces)),
    }
    if signature_method is not None:
        common["SignatureMethod"] = signature_method
    everything = {**params, **common}
    everything["Signature"] = sign(
        secret_key, string_to_sign(method, host, "/v2/index.php", everything), signature_method or "HmacSHA1"
    )
    return everything


async def send(http: httpx.AsyncClient, sim: SimServer, params: dict[str, str], method: str = "GET") -> httpx.Response:
    if method == "GET":
        return await http.get(sim.url, params=params)
    return await http.post(sim.url, data=params)


async def call(
    http: httpx.AsyncClient, sim: SimServer, action: str, params: dict[str, str], method: str = "GET", **options: Any
) -> dict[str, Any]:
    """Sign (for the Host sent, port included), send, and return the JSON answer (HTTP 200, exact JSON type)."""
    options.setdefault("host", host_of(sim))
    response = await send(http, sim, signed(action, params, method=method, **options), method)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    answer: dict[str, Any] = response.json()
    return answer


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("signature_method", ["HmacSHA256", "HmacSHA1", None])
async def test_describe_by_id_over_get_and_post_with_both_hmacs(
    http: httpx.AsyncClient, sim: SimServer, method: str, signature_method: SignatureMethod | None
) -> None:
    answer = await call(
        http, sim, "DescribeVpnConn", {"vpnConnId": CONN}, method=method, signature_method=signature_method
    )
    assert (answer["code"], answer["message"], answer["codeDesc"], answer["totalCount"]) == (0, "", "Success", 1)
    assert answer["data"][0]["IKESet"]["dhGroupName"] == "group2"


async def test_request_signed_by_the_legacy_sdk_is_accepted(http: httpx.AsyncClient, sim: SimServer) -> None:
    params = {
        "Action": "DescribeVpnConn",
        "Region": "ap-guangzhou",
        "SecretId": DEMO_SECRET_ID,
        "Timestamp": str(int(time.time())),
        "Nonce": str(next(_nonces)),
        "RequestClient": "SDK_PYTHON_2.0.15",
        "vpnGwId": GW,
    }
    params["Signature"] = LegacySign(DEMO_SECRET_ID, DEMO_SECRET_KEY).make(
        host_of(sim), "/v2/index.php", params, "POST"
    )
    answer = (await send(http, sim, params, "POST")).json()
    assert (answer["code"], answer["totalCount"]) == (0, 2)


async def test_unknown_secret_id_is_4104(http: httpx.AsyncClient, sim: SimServer) -> None:
    answer = await call(http, sim, "DescribeVpnConn", {}, secret_id="AKID" + "z" * 32)
    assert (answer["code"], answer["codeDesc"]) == (4104, "AuthFailure.SecretIdNotFound")


@pytest.mark.parametrize("wrong", ["key", "tampered", "host", "host-without-port", "method"])
async def test_bad_signature_is_4100(http: httpx.AsyncClient, sim: SimServer, wrong: str) -> None:
    hosts = {"host": "vpc.api.qcloud.com", "host-without-port": "127.0.0.1"}
    params = signed(
        "DescribeVpnConn",
        {"vpnConnId": CONN},
        host=hosts.get(wrong, host_of(sim)),
        secret_key="not-the-key" if wrong == "key" else DEMO_SECRET_KEY,
        method="POST" if wrong == "method" else "GET",
    )
    if wrong == "tampered":
        params["vpnConnId"] = BJ1
    answer = (await send(http, sim, params, "GET")).json()
    assert (answer["code"], answer["codeDesc"]) == (4100, "AuthFailure.SignatureFailure")
    assert "totalCount" not in answer


@pytest.mark.parametrize(("skew", "code"), [(-301, 4500), (301, 4500), (-299, 0), (299, 0)])
async def test_timestamp_must_be_within_five_minutes(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, skew: int, code: int
) -> None:
    assert (await call(http, sim, "DescribeVpnConn", {}, timestamp=clock.now + skew))["code"] == code


async def test_reused_nonce_is_4500_but_only_after_a_verified_signature(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock
) -> None:
    nonce = next(_nonces)
    assert (await call(http, sim, "DescribeVpnConn", {}, nonce=nonce, secret_key="forged"))["code"] == 4100
    assert (await call(http, sim, "DescribeVpnConn", {}, nonce=nonce))["code"] == 0
    again = await call(http, sim, "DescribeVpnConn", {"limit": "1"}, nonce=nonce)
    assert (again["code"], again["codeDesc"]) == (4500, "ReplayAttack")
    padded = signed("DescribeVpnConn", {}, host=host_of(sim))
    padded["Nonce"] = f"000{nonce}"
    padded["Signature"] = sign(
        DEMO_SECRET_KEY, string_to_sign("GET", host_of(sim), "/v2/index.php", padded), "HmacSHA256"
    )
    assert (await send(http, sim, padded)).json()["code"] == 4500  # the same number
    clock.advance(301)
    assert (await call(http, sim, "DescribeVpnConn", {}, nonce=nonce, timestamp=clock.now))["code"] == 0


@pytest.mark.parametrize("dropped", ["Region", "Nonce", "Timestamp", "SecretId", "Signature", "Action"])
async def test_missing_common_parameter_is_named(http: httpx.AsyncClient, sim: SimServer, dropped: str) -> None:
    params = signed("DescribeVpnConn", {}, host=host_of(sim))
    del params[dropped]
    answer = (await send(http, sim, params)).json()
    assert answer["code"] == 4000
    assert dropped in answer["message"]


async def test_unknown_action_and_json_bodies_are_4000(http: httpx.AsyncClient, sim: SimServer) -> None:
    answer = await call(http, sim, "DeleteVpnConn", {"vpnConnId": CONN})
    assert (answer["code"], answer["codeDesc"]) == (4000, "InvalidAction")
    response = await http.post(sim.url, json=signed("DescribeVpnConn", {}, method="POST", host=host_of(sim)))
    assert (response.status_code, response.json()["code"]) == (200, 4000)


async def test_edit_over_http_runs_a_task_then_is_applied(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock
) -> None:
    params = request(userGwCidrBlock__0="10.100.2.0/24", preSharedKey="tencenttest", IKESet__dhGroupName="group5")
    answer = await call(http, sim, "ModifyVpnConnEx", params, method="POST")
    assert (answer["code"], answer["data"]["vpcConnStatus"]) == (0, 2)
    task = {"taskId": str(answer["data"]["taskId"])}
    assert (await call(http, sim, "DescribeVpcTaskResult", task))["data"] == {"status": 2}
    clock.advance(5)
    assert (await call(http, sim, "DescribeVpcTaskResult", task, timestamp=clock.now))["data"] == {"status": 0}
    done = (await call(http, sim, "DescribeVpnConn", {"vpnConnId": CONN}, timestamp=clock.now))["data"][0]
    assert (done["vpcConnStatus"], done["destinationCidr"], done["IKESet"]["dhGroupName"]) == (
        6,
        ["10.100.2.0/24"],
        "group5",
    )


async def test_refusals_over_http(http: httpx.AsyncClient, sim: SimServer) -> None:
    params = request(userGwCidrBlock__0="10.100.1.0/24", IKESet__ikeSaLifetimeSeconds="10", preSharedKey="Zz-9")
    answer = await call(http, sim, "ModifyVpnConnEx", params, method="POST")
    assert (answer["code"], answer["codeDesc"]) == (4000, "InvalidParameter")
    assert answer["message"].startswith("IKESet.ikeSaLifetimeSeconds: 10 is out of range")
    assert "Zz-9" not in answer["message"]
    missing = await call(http, sim, "ModifyVpnConnEx", request(gw="vpngw-nothere", userGwCidrBlock__0="10.1.0.0/24"))
    assert (missing["code"], missing["codeDesc"]) == (5000, "InvalidVpnGw.NotFound")


# --- faults and rate limits ---------------------------------------------------------------------------------------


async def test_http_503_fault_answers_503_then_recovers(
    http: httpx.AsyncClient, sim: SimServer, state: SimState
) -> None:
    state.update_faults({"http5xx": {"DescribeVpnConn": 1}})
    failed = await send(http, sim, signed("DescribeVpnConn", {}, host=host_of(sim)))
    assert (failed.status_code, "503" in failed.text) == (503, True)
    assert (await call(http, sim, "DescribeVpnConn", {}))["code"] == 0
    assert state.journal == [("DescribeVpnConn", "HTTP 503"), ("DescribeVpnConn", "0")]


async def test_latency_delays_only_its_action_and_blocks_nothing(
    http: httpx.AsyncClient, sim: SimServer, state: SimState
) -> None:
    state.update_faults({"latency": {"ModifyVpnConnEx": 0.5}})
    slow = asyncio.create_task(call(http, sim, "ModifyVpnConnEx", request(userGwCidrBlock__0="10.100.2.0/24")))
    started = time.perf_counter()
    assert (await call(http, sim, "DescribeVpnConn", {}))["code"] == 0
    assert time.perf_counter() - started < 0.4
    assert (await slow)["code"] == 0


async def test_over_quota_and_failure_rate_faults(http: httpx.AsyncClient, sim: SimServer, state: SimState) -> None:
    await http.post(
        sim.base_url + "/_sim/faults", json={"overQuota": {"*": 1}, "failureRate": {"ModifyVpnConnEx": 1.0}}
    )
    assert (await call(http, sim, "DescribeVpnConn", {}))["code"] == 4400
    assert (await call(http, sim, "DescribeVpnConn", {}))["code"] == 0
    answer = await call(http, sim, "ModifyVpnConnEx", request(userGwCidrBlock__0="10.100.2.0/24"))
    assert (answer["code"], answer["codeDesc"]) == (6000, "InternalError")
    assert state.snapshot()["tasks"] == []


async def test_rate_limit_is_4400_and_the_action_is_not_run(
    http: httpx.AsyncClient, sim: SimServer, state: SimState
) -> None:
    response = await http.post(sim.base_url + "/_sim/faults", json={"rateLimits": {"ModifyVpnConnEx": 1}})
    assert response.json()["faults"]["rateLimits"] == {"ModifyVpnConnEx": 1}
    first = await call(http, sim, "ModifyVpnConnEx", request(userGwCidrBlock__0="10.100.2.0/24"))
    second = await call(http, sim, "ModifyVpnConnEx", request(BJ1, userGwCidrBlock__0="192.168.10.0/24"))
    assert first["code"] == 0
    assert (second["code"], second["codeDesc"]) == (4400, "RequestLimitExceeded")
    assert [t["vpnConnId"] for t in state.snapshot()["tasks"]] == [CONN]
    assert (state.rate_refusals("ModifyVpnConnEx"), state.peak_rate("ModifyVpnConnEx")) == (1, 2)
    traffic = (await http.get(sim.base_url + "/_sim/world")).json()["traffic"]
    assert (traffic["peakRates"]["ModifyVpnConnEx"], traffic["rateRefusals"]) == (2, {"ModifyVpnConnEx": 1})
    assert (await call(http, sim, "DescribeVpnConn", {}))["code"] == 0  # another action
    assert (await call(http, sim, "DescribeVpnConn", {}, secret_key="forged"))["code"] == 4100  # checked before


# --- control surface, logging, lifecycle --------------------------------------------------------------------------


async def test_control_surface(http: httpx.AsyncClient, sim: SimServer) -> None:
    health = await http.get(sim.base_url + "/healthz")
    assert (health.json(), health.headers["content-type"]) == ({"status": "ok"}, "application/json")
    world = (await http.get(sim.base_url + "/_sim/world")).json()
    assert world["credentials"] == {DEMO_SECRET_ID: "***"}
    assert {item["unVpnConnId"] for item in world["vpnConnections"]} >= {CONN, TWO}
    assert world["modifyTask"] is False
    assert world["traffic"]["arrivals"] == {}  # the control surface is not an API action
    assert (await http.post(sim.base_url + "/_sim/faults", json={"failureRate": {"*": 2}})).status_code == 400
    assert (await http.post(sim.base_url + "/_sim/faults", json=[1])).status_code == 400
    assert (await http.post(sim.base_url + "/_sim/faults", content=b"{nope")).status_code == 400


async def test_log_lines_name_parameters_but_never_secrets(
    http: httpx.AsyncClient, sim: SimServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.sim")
    params = signed(
        "ModifyVpnConnEx", request(userGwCidrBlock__0="10.100.2.0/24", preSharedKey="Psk-Secret-42"), host=host_of(sim)
    )
    await send(http, sim, params)
    await call(http, sim, "DescribeVpnConn", {"vpnConnId": CONN})  # its answer holds stored keys
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "ModifyVpnConnEx -> 0" in text
    assert "preSharedKey" in text
    assert "DescribeVpnConn -> 0" in text
    for secret in ("Psk-Secret-42", "sh-office-2019", DEMO_SECRET_KEY, params["Signature"]):
        assert secret not in text


async def test_server_lifecycle(state: SimState) -> None:
    server = SimServer(state)
    with pytest.raises(RuntimeError):
        _ = server.url
    url = await server.start()
    other = SimServer(state)
    try:
        assert urlsplit(url).path == "/v2/index.php"
        assert urlsplit(await other.start()).port != urlsplit(url).port
        assert other.v3_url == other.base_url + "/"
    finally:
        await other.stop()
        await server.stop()
        await server.stop()
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(url)


async def test_run_forever_serves_until_cancelled() -> None:
    urls: list[str] = []
    ready = asyncio.Event()

    def on_ready(url: str) -> None:
        urls.append(url)
        ready.set()

    task = asyncio.create_task(run_forever("127.0.0.1", 0, None, 0.2, on_ready))
    await asyncio.wait_for(ready.wait(), 5)
    async with httpx.AsyncClient() as client:
        world = (await client.get(urls[0].removesuffix("/v2/index.php") + "/_sim/world")).json()
    assert world["taskSeconds"] == 0.2
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
