"""API 3.0's wire over real HTTP on loopback: TC3 requests signed over the Host header as sent (port included),
auth failures, the SDK's shapes, edits and tasks shared with API 2.0 (with and without ``modifyTask``), the
per-action error codes, faults keyed by the API 2.0 names, rate limits, counting and logging.

Requests are signed here with ``bot.tencent.signing`` (``tc3_authorization``, ``sign``), never with the project's
cloud client; the official SDK drives the simulator in test_sim_sdk_v3.py.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from simthread import FakeClock

from bot.sim import DEMO_SECRET_ID, DEMO_SECRET_KEY, SimServer, SimState, load_world
from bot.tencent.signing import TC3_CONTENT_TYPE, sign, string_to_sign, tc3_authorization

VPC, GW, CONN = "vpc-03vihbk9", "vpngw-kfldykuz", "vpnx-ol6bcqp0"  # office-shanghai
BJ1 = "vpnx-3mv8tqwd"  # idc-beijing-1, same gateway, IKEArr/IPSECArr with strings and "sha1", two source CIDRs
BJ2 = "vpnx-b5n1r8kc"  # idc-beijing-2, gateway vpngw-q3bzxk4m, fqdn identities
ACME = "vpnx-k2w6fj0u"  # partner-acme, staging VPC, one-element list blocks, unavailable
STAGING_VPC = "vpc-8e0ypm3z"
LAB_VPC, LAB_GW = "vpc-l4b7rq2m", "vpngw-m4t9qe2c"
GCM, TWO, ROUTE, BGP = "vpnx-g4cm2k7d", "vpnx-s2r7p5qe", "vpnx-r9t3w6yb", "vpnx-b8g5q1zu"
DESCRIBE, MODIFY, TASK = "DescribeVpnConnections", "ModifyVpnConnectionAttribute", "DescribeVpcTaskResult"
_nonces = itertools.count(int(time.time()) % 1_000_000 * 1000 + 1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock) -> SimState:
    return SimState(load_world(None), clock=clock, seed=3)


@pytest.fixture
async def sim(state: SimState) -> AsyncIterator[SimServer]:
    async with SimServer(state) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


def tc3_headers(
    action: str,
    payload: bytes,
    *,
    timestamp: float,
    host: str,
    secret_id: str = DEMO_SECRET_ID,
    secret_key: str = DEMO_SECRET_KEY,
    service: str = "vpc",
    signed_timestamp: float | None = None,
    content_type: str = TC3_CONTENT_TYPE,
    version: str = "2017-03-12",
) -> dict[str, str]:
    signing_time = int(signed_timestamp if signed_timestamp is not None else timestamp)
    authorization = tc3_authorization(
        secret_id,
        secret_key,
        service=service,
        host=host,
        timestamp=signing_time,
        payload=payload,
        content_type=content_type,
    )
    return {
        "Authorization": authorization,
        "Content-Type": content_type,
        "X-TC-Action": action,
        "X-TC-Version": version,
        "X-TC-Region": "ap-guangzhou",
        "X-TC-Timestamp": str(int(timestamp)),
    }


def host_of(sim: SimServer) -> str:
    return urlsplit(sim.v3_url).netloc


def headers_for(sim: SimServer, clock: FakeClock, action: str, payload: bytes, **options: Any) -> dict[str, str]:
    options.setdefault("host", host_of(sim))
    options.setdefault("timestamp", clock.now)
    return tc3_headers(action, payload, **options)


async def post3(http: httpx.AsyncClient, sim: SimServer, payload: bytes, headers: dict[str, str]) -> httpx.Response:
    return await http.post(sim.v3_url, content=payload, headers=headers)


async def call3(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, action: str, params: dict[str, Any], **options: Any
) -> dict[str, Any]:
    payload = json.dumps(params).encode()
    return response_of(await post3(http, sim, payload, headers_for(sim, clock, action, payload, **options)))


def response_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"  # exactly: the SDK checks it
    answer: dict[str, Any] = response.json()["Response"]
    assert uuid.UUID(answer["RequestId"])
    return answer


def error_of(answer: dict[str, Any]) -> tuple[str, str]:
    assert set(answer) == {"Error", "RequestId"}
    assert set(answer["Error"]) == {"Code", "Message"}
    return answer["Error"]["Code"], answer["Error"]["Message"]


async def call2(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, action: str, params: dict[str, str]
) -> dict[str, Any]:
    everything = {
        **params,
        "Action": action,
        "Region": "ap-guangzhou",
        "SecretId": DEMO_SECRET_ID,
        "Timestamp": str(int(clock.now)),
        "Nonce": str(next(_nonces)),
        "SignatureMethod": "HmacSHA256",
    }
    host = urlsplit(sim.url).netloc
    everything["Signature"] = sign(
        DEMO_SECRET_KEY, string_to_sign("GET", host, "/v2/index.php", everything), "HmacSHA256"
    )
    response = await http.get(sim.url, params=everything)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


async def v2_item(http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, conn: str = CONN) -> dict[str, Any]:
    answer = await call2(http, sim, clock, "DescribeVpnConn", {"vpnConnId": conn})
    item: dict[str, Any] = answer["data"][0]
    return item


async def v3_item(http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, conn: str = CONN) -> dict[str, Any]:
    answer = await call3(http, sim, clock, DESCRIBE, {"VpnConnectionIds": [conn]})
    assert answer["TotalCount"] == 1
    item: dict[str, Any] = answer["VpnConnectionSet"][0]
    return item


# ---------------------------------------------------------------------------------------------------------------
# Reading


async def test_describe_by_id_answers_the_sdk_shape(http: httpx.AsyncClient, sim: SimServer, clock: FakeClock) -> None:
    answer = await call3(http, sim, clock, DESCRIBE, {"VpnConnectionIds": [CONN]})
    assert set(answer) == {"TotalCount", "VpnConnectionSet", "RequestId"}
    assert answer["VpnConnectionSet"] == [
        {
            "VpnConnectionId": CONN,
            "VpnConnectionName": "office-shanghai",
            "VpcId": VPC,
            "VpnGatewayId": GW,
            "CustomerGatewayId": "cgw-9k2pe1sx",
            "PreShareKey": "sh-office-2019",
            "VpnProto": "IPSEC",
            "EncryptProto": "IKE",
            "RouteType": "STATIC",
            "CreatedTime": "2017-03-14 10:21:05",
            "State": "AVAILABLE",
            "NetStatus": "AVAILABLE",
            "SecurityPolicyDatabaseSet": [{"LocalCidrBlock": "10.0.1.0/24", "RemoteCidrBlock": ["10.100.1.0/24"]}],
            "IKEOptionsSpecification": {
                "PropoEncryAlgorithm": "AES-CBC-256",
                "PropoAuthenAlgorithm": "SHA",
                "ExchangeMode": "MAIN",
                "LocalIdentity": "ADDRESS",
                "RemoteIdentity": "ADDRESS",
                "LocalAddress": "203.0.113.10",
                "RemoteAddress": "198.51.100.21",
                "LocalFqdnName": "",
                "RemoteFqdnName": "",
                "DhGroupName": "GROUP2",
                "IKESaLifetimeSeconds": 86400,
                "IKEVersion": "IKEV1",
            },
            "IPSECOptionsSpecification": {
                "EncryptAlgorithm": "AES-CBC-256",
                "IntegrityAlgorith": "SHA1",
                "IPSECSaLifetimeSeconds": 3600,
                "PfsDhGroup": "DH-GROUP14",
                "IPSECSaLifetimeTraffic": 1843200,
                "IntegrityAlgorithm": "SHA1",
            },
            "EnableHealthCheck": False,
            "HealthCheckLocalIp": "",
            "HealthCheckRemoteIp": "",
            "DpdEnable": 0,
            "DpdTimeout": "30",
            "DpdAction": "clear",
            "TagSet": [],
            "NegotiationType": "active",
            "BgpConfig": None,
            "HealthCheckConfig": None,
        }
    ]


async def test_api_3_only_shapes(http: httpx.AsyncClient, sim: SimServer, clock: FakeClock) -> None:
    gcm = await v3_item(http, sim, clock, GCM)
    assert gcm["IKEOptionsSpecification"]["PropoEncryAlgorithm"] == "AES256GCM128"
    assert (gcm["IKEOptionsSpecification"]["IKEVersion"], gcm["IKEOptionsSpecification"]["DhGroupName"]) == (
        "IKEV2",
        "GROUP20",
    )
    assert gcm["IPSECOptionsSpecification"]["IntegrityAlgorith"] == "SHA-512"
    assert (gcm["DpdEnable"], gcm["DpdAction"], gcm["TagSet"]) == (1, "restart", [{"Key": "env", "Value": "lab"}])
    two = await v3_item(http, sim, clock, TWO)
    assert (two["RouteType"], two["SecurityPolicyDatabaseSet"]) == (
        "Policy",
        [
            {"LocalCidrBlock": "10.8.2.0/24", "RemoteCidrBlock": ["172.20.2.0/24"]},
            {"LocalCidrBlock": "10.8.3.0/24", "RemoteCidrBlock": ["172.20.3.0/24"]},
        ],
    )
    route = await v3_item(http, sim, clock, ROUTE)
    assert (route["RouteType"], route["SecurityPolicyDatabaseSet"], route["HealthCheckStatus"]) == (
        "StaticRoute",
        [],
        "AVAILABLE",
    )
    assert route["HealthCheckConfig"] == {
        "ProbeType": "NQA",
        "ProbeInterval": 5000,
        "ProbeThreshold": 3,
        "ProbeTimeout": 5000,
    }
    bgp = await v3_item(http, sim, clock, BGP)
    assert bgp["BgpConfig"]["TunnelCidr"] == "169.254.129.0/30"
    assert "HealthCheckStatus" not in bgp  # no health check: the field is not returned


async def test_older_item_shapes_map_to_the_same_shape(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock
) -> None:
    bj1 = await v3_item(http, sim, clock, BJ1)
    assert bj1["IKEOptionsSpecification"]["PropoAuthenAlgorithm"] == "SHA"
    assert bj1["IKEOptionsSpecification"]["IKESaLifetimeSeconds"] == 86400
    assert bj1["IPSECOptionsSpecification"]["IntegrityAlgorith"] == "SHA1"
    assert bj1["IPSECOptionsSpecification"]["PfsDhGroup"] == "NULL"
    remotes = ["192.168.10.0/24", "192.168.11.0/24"]
    assert bj1["SecurityPolicyDatabaseSet"] == [
        {"LocalCidrBlock": "10.0.2.0/24", "RemoteCidrBlock": remotes},
        {"LocalCidrBlock": "10.0.3.0/24", "RemoteCidrBlock": remotes},
    ]
    acme = await v3_item(http, sim, clock, ACME)
    assert (acme["NetStatus"], acme["IKEOptionsSpecification"]["DhGroupName"]) == ("UNAVAILABLE", "GROUP1")
    bj2 = await v3_item(http, sim, clock, BJ2)
    assert bj2["IKEOptionsSpecification"]["LocalFqdnName"] == "gw-prod-2.vpn.example.com"


async def test_filters_and_paging(http: httpx.AsyncClient, sim: SimServer, clock: FakeClock) -> None:
    def ids(answer: dict[str, Any]) -> list[str]:
        return [item["VpnConnectionId"] for item in answer["VpnConnectionSet"]]

    by_vpc = [{"Name": "vpc-id", "Values": [VPC]}]
    first = await call3(http, sim, clock, DESCRIBE, {"Filters": by_vpc, "Limit": 2})
    assert (first["TotalCount"], ids(first)) == (3, [BJ1, CONN])
    rest = await call3(http, sim, clock, DESCRIBE, {"Filters": by_vpc, "Limit": 2, "Offset": 2})
    assert (rest["TotalCount"], ids(rest)) == (3, [BJ2])
    everything = await call3(http, sim, clock, DESCRIBE, {})
    assert (everything["TotalCount"], len(everything["VpnConnectionSet"])) == (9, 9)
    assert len((await call3(http, sim, clock, DESCRIBE, {"Limit": 100}))["VpnConnectionSet"]) == 9
    two_gateways = [{"Name": "vpn-gateway-id", "Values": [GW, "vpngw-q3bzxk4m"]}]
    assert ids(await call3(http, sim, clock, DESCRIBE, {"Filters": two_gateways})) == [BJ1, CONN, BJ2]
    both = [{"Name": "vpc-id", "Values": [STAGING_VPC]}, {"Name": "vpn-connection-name", "Values": ["partner-acme"]}]
    assert ids(await call3(http, sim, clock, DESCRIBE, {"Filters": both})) == [ACME]
    by_id = [{"Name": "vpn-connection-id", "Values": [CONN, ACME]}]
    assert ids(await call3(http, sim, clock, DESCRIBE, {"Filters": by_id})) == [ACME, CONN]
    by_cgw = [{"Name": "customer-gateway-id", "Values": ["cgw-4hq0v7nt", "cgw-3hs7lc3d"]}]
    assert ids(await call3(http, sim, clock, DESCRIBE, {"Filters": by_cgw})) == [BJ1, ROUTE]
    assert ids(await call3(http, sim, clock, DESCRIBE, {"VpnConnectionIds": [CONN, BJ1]})) == [BJ1, CONN]
    none = await call3(http, sim, clock, DESCRIBE, {"Filters": [{"Name": "vpc-id", "Values": ["vpc-nothere1"]}]})
    assert (none["TotalCount"], none["VpnConnectionSet"]) == (0, [])


@pytest.mark.parametrize(
    ("params", "code", "said"),
    [
        ({"Limit": 101}, "InvalidParameterValue.LimitExceeded", "Limit"),
        ({"Offset": -1}, "InvalidParameterValue", "Offset"),
        ({"Limit": "20"}, "InvalidParameter", "Limit"),
        ({"VpnConnectionIds": [CONN], "Filters": [{"Name": "vpc-id", "Values": [VPC]}]}, "InvalidParameter.Coexist", "VpnConnectionIds"),
        ({"VpnConnectionIds": [CONN] * 101}, "InvalidParameterValue.LimitExceeded", "100"),
        ({"Filters": [{"Name": "vpc-id", "Values": [VPC]}] * 11}, "InvalidParameterValue.LimitExceeded", "10"),
        ({"Filters": [{"Name": "vpc-id", "Values": [VPC] * 6}]}, "InvalidParameterValue.LimitExceeded", "5"),
        ({"Filters": [{"Name": "zone", "Values": ["x"]}]}, "InvalidParameter.FilterInvalidKey", "zone"),
        ({"Filters": [{"Name": "vpc-id", "Values": VPC}]}, "InvalidParameter.FilterValuesNotList", "Filters.0"),
        ({"Filters": ["vpc-id"]}, "InvalidParameter.FilterNotDict", "Filters.0"),
        ({"Filters": [{"Name": "vpc-id"}]}, "InvalidParameter.FilterMissParameter", "Filters.0"),
        ({"VpnConnectionIds": ["vpnx-nothere1"]}, "ResourceNotFound", "vpnx-nothere1"),
        ({"VpnConnectionIds": ["2101"]}, "InvalidParameterValue.Malformed", "2101"),
        ({"vpnConnId": CONN}, "UnknownParameter", "vpnConnId"),
    ],
)  # fmt: skip
async def test_describe_errors(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, params: dict[str, Any], code: str, said: str
) -> None:
    answered, message = error_of(await call3(http, sim, clock, DESCRIBE, params))
    assert answered == code
    assert said in message


# ---------------------------------------------------------------------------------------------------------------
# Authentication and the wire


async def test_unknown_secret_id(http: httpx.AsyncClient, sim: SimServer, clock: FakeClock) -> None:
    answer = await call3(http, sim, clock, DESCRIBE, {}, secret_id="AKID" + "z" * 32)
    assert error_of(answer)[0] == "AuthFailure.SecretIdNotFound"


@pytest.mark.parametrize(("skew", "expired"), [(-301, True), (301, True), (-299, False), (299, False)])
async def test_timestamp_within_five_minutes(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, skew: int, expired: bool
) -> None:
    answer = await call3(http, sim, clock, DESCRIBE, {}, timestamp=clock.now + skew)
    if expired:
        assert error_of(answer)[0] == "AuthFailure.SignatureExpire"
    else:
        assert answer["TotalCount"] == 9


@pytest.mark.parametrize("wrong", ["key", "tampered", "host", "host-without-port", "content-type", "date", "service"])
async def test_bad_signature_is_a_signature_failure(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, wrong: str
) -> None:
    payload = json.dumps({"VpnConnectionIds": [CONN]}).encode()
    hosts = {"host": "vpc.tencentcloudapi.com", "host-without-port": "127.0.0.1"}
    headers = headers_for(
        sim,
        clock,
        DESCRIBE,
        payload,
        secret_key="not-the-key" if wrong == "key" else DEMO_SECRET_KEY,
        host=hosts.get(wrong, host_of(sim)),
        content_type="application/json" if wrong == "content-type" else TC3_CONTENT_TYPE,
        signed_timestamp=clock.now - 86400 if wrong == "date" else None,
        service="cvm" if wrong == "service" else "vpc",
    )
    if wrong == "content-type":
        headers["Content-Type"] = TC3_CONTENT_TYPE  # signed as "application/json", sent with the charset
    sent = json.dumps({"VpnConnectionIds": [BJ1]}).encode() if wrong == "tampered" else payload
    code, message = error_of(response_of(await post3(http, sim, sent, headers)))
    assert code == "AuthFailure.SignatureFailure"
    if wrong in ("date", "service"):
        assert wrong in message.lower()


@pytest.mark.parametrize(
    "authorization", [None, "TC3-HMAC-SHA256 nonsense", f"HmacSHA256 Credential={DEMO_SECRET_ID}", "signed-headers"]
)
async def test_malformed_authorization(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, authorization: str | None
) -> None:
    payload = b"{}"
    headers = headers_for(sim, clock, DESCRIBE, payload)
    if authorization is None:
        del headers["Authorization"]
    elif authorization == "signed-headers":
        headers["Authorization"] = headers["Authorization"].replace(
            "content-type;host", "content-type;host;x-tc-action"
        )
    else:
        headers["Authorization"] = authorization
    assert error_of(response_of(await post3(http, sim, payload, headers)))[0] == "AuthFailure.InvalidAuthorization"


async def test_token_is_accepted_and_region_is_optional(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock
) -> None:
    payload = b"{}"
    headers = headers_for(sim, clock, DESCRIBE, payload)
    headers["X-TC-Token"] = "temporary-session-token"
    del headers["X-TC-Region"]
    assert response_of(await post3(http, sim, payload, headers))["TotalCount"] == 9


@pytest.mark.parametrize(
    ("change", "code", "said"),
    [
        ("form", "InvalidParameter", "Content-Type"),
        ("no-action", "MissingParameter", "X-TC-Action"),
        ("no-timestamp", "MissingParameter", "X-TC-Timestamp"),
        ("version", "NoSuchVersion", "2019-01-01"),
        ("action", "InvalidAction", "DeleteVpnConnection"),
        ("body", "InvalidParameter", "JSON object"),
        ("not-json", "InvalidParameter", "JSON"),
    ],
)
async def test_wire_errors(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, change: str, code: str, said: str
) -> None:
    payload = {"body": b"[1, 2]", "not-json": b"{nope"}.get(change, b"{}")
    headers = headers_for(
        sim,
        clock,
        "DeleteVpnConnection" if change == "action" else DESCRIBE,
        payload,
        content_type="application/x-www-form-urlencoded" if change == "form" else TC3_CONTENT_TYPE,
        version="2019-01-01" if change == "version" else "2017-03-12",
    )
    headers.pop({"no-action": "X-TC-Action", "no-timestamp": "X-TC-Timestamp"}.get(change, ""), None)
    answered, message = error_of(response_of(await post3(http, sim, payload, headers)))
    assert answered == code
    assert said in message


# ---------------------------------------------------------------------------------------------------------------
# Editing, both ways, with and without a task


EDIT = {
    "VpnConnectionId": CONN,
    "VpnConnectionName": "office-shanghai-v3",
    "PreShareKey": "v3-Shared-Key-77",
    "SecurityPolicyDatabases": [{"LocalCidrBlock": "10.0.1.0/24", "RemoteCidrBlock": ["10.100.1.0/24", "10.100.9.0/24"]}],
    "IKEOptionsSpecification": {"PropoEncryAlgorithm": "AES-CBC-128", "PropoAuthenAlgorithm": "SHA", "DhGroupName": "GROUP5", "IKESaLifetimeSeconds": 28800},
    "IPSECOptionsSpecification": {"EncryptAlgorithm": "AES-CBC-192", "IntegrityAlgorithm": "MD5", "PfsDhGroup": "NULL", "IPSECSaLifetimeSeconds": 7200},
}  # fmt: skip


async def test_without_modify_task_the_edit_leaves_no_task_but_lands(
    http: httpx.AsyncClient, sim: SimServer, state: SimState, clock: FakeClock
) -> None:
    answer = await call3(http, sim, clock, MODIFY, EDIT)
    assert set(answer) == {"RequestId"}
    assert error_of(await call3(http, sim, clock, TASK, {"TaskId": answer["RequestId"]}))[0] == "ResourceNotFound"
    assert (await v3_item(http, sim, clock))["State"] == "PENDING"
    assert (await v2_item(http, sim, clock))["vpcConnStatus"] == 2
    clock.advance(5)
    item = await v3_item(http, sim, clock)
    assert (item["State"], item["VpnConnectionName"]) == ("AVAILABLE", "office-shanghai-v3")


async def test_with_modify_task_the_edit_is_followed_through_both_dialects(
    http: httpx.AsyncClient, sim: SimServer, state: SimState, clock: FakeClock
) -> None:
    state.modify_task = True
    answer = await call3(http, sim, clock, MODIFY, EDIT)
    task = {"TaskId": answer["RequestId"]}
    running = await call3(http, sim, clock, TASK, task)
    assert (running["Status"], running["Output"], running["Result"]) == ("RUNNING", "", [])
    assert "TaskId" not in running
    [started] = state.snapshot()["tasks"]
    assert started["requestId"] == answer["RequestId"]
    assert (await call2(http, sim, clock, TASK, {"taskId": str(started["taskId"])}))["data"] == {"status": 2}
    clock.advance(5)
    assert (await call3(http, sim, clock, TASK, task))["Status"] == "SUCCESS"
    assert (await call2(http, sim, clock, TASK, {"taskId": str(started["taskId"])}))["data"] == {"status": 0}
    item = await v2_item(http, sim, clock)
    assert (item["vpcConnStatus"], item["vpnConnName"], item["preSharedKey"]) == (
        6,
        "office-shanghai-v3",
        "v3-Shared-Key-77",
    )
    assert (item["sourceCidr"], item["destinationCidr"]) == (["10.0.1.0/24"], ["10.100.1.0/24", "10.100.9.0/24"])
    ike, ipsec = item["IKESet"], item["IPsecSet"]
    assert (ike["propoEncryAlgorithm"], ike["propoAuthenAlgorithm"], ike["dhGroupName"], ike["exchangeMode"]) == (
        "aes-cbc-128",
        "sha",
        "group5",
        "main",
    )
    assert (ipsec["encryptAlgorithm"], ipsec["integrityAlgorith"], ipsec["ipsecSaLifetimeTraffic"]) == (
        "aes-cbc-192",
        "md5",
        1843200,
    )


async def test_edit_leaving_the_spd_alone_keeps_it(http: httpx.AsyncClient, sim: SimServer, clock: FakeClock) -> None:
    await call3(http, sim, clock, MODIFY, {"VpnConnectionId": TWO, "VpnConnectionName": "two-rules-b"})
    clock.advance(5)
    item = await v3_item(http, sim, clock, TWO)
    assert item["VpnConnectionName"] == "two-rules-b"
    assert [rule["RemoteCidrBlock"] for rule in item["SecurityPolicyDatabaseSet"]] == [
        ["172.20.2.0/24"],
        ["172.20.3.0/24"],
    ]


async def test_edit_through_2_0_is_visible_through_3_0(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock
) -> None:
    edit = {
        "vpcId": VPC,
        "vpnGwId": GW,
        "vpnConnId": CONN,
        "userGwCidrBlock.0": "10.100.2.0/24",
        "vpnConnName": "office-shanghai-v2",
        "IKESet.dhGroupName": "group24",
        "IPsecSet.pfsDhGroup": "dh-group2",
    }
    answer = await call2(http, sim, clock, "ModifyVpnConnEx", edit)
    task = {"TaskId": str(answer["data"]["taskId"])}  # a task started on API 2.0, followed on API 3.0
    assert (await call3(http, sim, clock, TASK, task))["Status"] == "RUNNING"
    clock.advance(5)
    assert (await call3(http, sim, clock, TASK, task))["Status"] == "SUCCESS"
    item = await v3_item(http, sim, clock)
    assert item["VpnConnectionName"] == "office-shanghai-v2"
    assert item["SecurityPolicyDatabaseSet"] == [
        {"LocalCidrBlock": "10.0.1.0/24", "RemoteCidrBlock": ["10.100.2.0/24"]}
    ]
    assert (item["IKEOptionsSpecification"]["DhGroupName"], item["IPSECOptionsSpecification"]["PfsDhGroup"]) == (
        "GROUP24",
        "DH-GROUP2",
    )


async def test_api_3_only_parameters_are_stored(http: httpx.AsyncClient, sim: SimServer, clock: FakeClock) -> None:
    await call3(
        http,
        sim,
        clock,
        MODIFY,
        {
            "VpnConnectionId": GCM,
            "IKEOptionsSpecification": {"PropoEncryAlgorithm": "AES192GCM128", "DhGroupName": "GROUP19", "IKEVersion": "IKEV1"},
            "IPSECOptionsSpecification": {"IntegrityAlgorith": "SHA-384", "PfsDhGroup": "DH-GROUP21", "IPSECSaLifetimeTraffic": 4294967295},
            "DpdEnable": 0,
            "DpdTimeout": "45",
            "DpdAction": "clear",
            "NegotiationType": "flowTrigger",
            "CustomerGatewayId": "cgw-5vx8n2qa",
        },
    )  # fmt: skip
    await call3(
        http,
        sim,
        clock,
        MODIFY,
        {"VpnConnectionId": ROUTE, "HealthCheckConfig": {"ProbeInterval": 1000}, "EnableHealthCheck": False},
    )
    await call3(
        http,
        sim,
        clock,
        MODIFY,
        {"VpnConnectionId": BGP, "BgpConfig": {"LocalBgpIp": "169.254.129.2", "RemoteBgpIp": "169.254.129.1"}},
    )
    clock.advance(5)
    gcm = await v3_item(http, sim, clock, GCM)
    assert gcm["IKEOptionsSpecification"]["PropoEncryAlgorithm"] == "AES192GCM128"
    assert gcm["IKEOptionsSpecification"]["PropoAuthenAlgorithm"] == "SHA-512"  # untouched
    assert gcm["IPSECOptionsSpecification"]["IntegrityAlgorithm"] == "SHA-384"
    assert (gcm["DpdEnable"], gcm["DpdTimeout"], gcm["NegotiationType"], gcm["CustomerGatewayId"]) == (
        0,
        "45",
        "flowTrigger",
        "cgw-5vx8n2qa",
    )
    route = await v3_item(http, sim, clock, ROUTE)
    assert (route["EnableHealthCheck"], route["HealthCheckConfig"]["ProbeInterval"]) == (False, 1000)
    assert (await v3_item(http, sim, clock, BGP))["BgpConfig"]["LocalBgpIp"] == "169.254.129.2"


@pytest.mark.parametrize(
    ("conn", "edit", "code", "field"),
    [
        (CONN, {"IKEOptionsSpecification": {"PropoEncryAlgorithm": "aes-cbc-128"}}, "InvalidParameterValue", "IKEOptionsSpecification.PropoEncryAlgorithm"),
        (CONN, {"IKEOptionsSpecification": {"PropoEncryAlgorithm": "AES-CBS-192"}}, "InvalidParameterValue", "IKEOptionsSpecification.PropoEncryAlgorithm"),
        (CONN, {"IKEOptionsSpecification": {"PropoAuthenAlgorithm": "SHA1"}}, "InvalidParameterValue", "IKEOptionsSpecification.PropoAuthenAlgorithm"),
        (CONN, {"IPSECOptionsSpecification": {"IntegrityAlgorith": "SHA"}}, "InvalidParameterValue", "IPSECOptionsSpecification.IntegrityAlgorith"),
        (CONN, {"IKEOptionsSpecification": {"DhGroupName": "GROUP3"}}, "InvalidParameterValue", "IKEOptionsSpecification.DhGroupName"),
        (CONN, {"IKEOptionsSpecification": {"IKEVersion": "IKEV3"}}, "InvalidParameterValue", "IKEOptionsSpecification.IKEVersion"),
        (CONN, {"IKEOptionsSpecification": {"IKESaLifetimeSeconds": 10}}, "InvalidParameterValue.LimitExceeded", "IKEOptionsSpecification.IKESaLifetimeSeconds"),
        (CONN, {"IPSECOptionsSpecification": {"IPSECSaLifetimeSeconds": 100}}, "InvalidParameterValue.LimitExceeded", "IPSECOptionsSpecification.IPSECSaLifetimeSeconds"),
        (CONN, {"IPSECOptionsSpecification": {"IPSECSaLifetimeTraffic": 4294967296}}, "InvalidParameterValue.LimitExceeded", "IPSECOptionsSpecification.IPSECSaLifetimeTraffic"),
        (CONN, {"IKEOptionsSpecification": {"LocalIdentity": "FQDN"}}, "InvalidParameterValue", "IKEOptionsSpecification.LocalFqdnName"),
        (CONN, {"IKEOptionsSpecification": {"RemoteAddress": "not-an-ip"}}, "InvalidParameterValue.Malformed", "IKEOptionsSpecification.RemoteAddress"),
        (CONN, {"IKEOptionsSpecification": {"PropoEncryAlgorithm": "AES256GCM128"}}, "UnsupportedOperation", "IKEOptionsSpecification.PropoEncryAlgorithm"),
        (CONN, {"VpnConnectionName": "x" * 61}, "InvalidParameterValue.LimitExceeded", "VpnConnectionName"),
        (CONN, {"VpnConnectionName": "idc-beijing-2"}, "InvalidParameterValue.Duplicate", "VpnConnectionName"),
        (CONN, {"SecurityPolicyDatabases": [{"LocalCidrBlock": "10.0.1.0/33", "RemoteCidrBlock": ["10.100.1.0/24"]}]}, "InvalidParameterValue.Malformed", "SecurityPolicyDatabases"),
        (CONN, {"SecurityPolicyDatabases": []}, "InvalidParameterValue", "SecurityPolicyDatabases"),
        (CONN, {"SecurityPolicyDatabases": [{"LocalCidrBlock": "10.0.1.0/24", "RemoteCidrBlock": []}]}, "InvalidParameterValue", "SecurityPolicyDatabases"),
        (CONN, {"SecurityPolicyDatabases": [{"LocalCidrBlock": "10.0.1.0/24", "RemoteCidrBlock": ["10.9.0.0/16", "10.9.1.0/24"]}]}, "InvalidParameterValue.VpnConnCidrConflict", "SecurityPolicyDatabases"),
        (CONN, {"SecurityPolicyDatabases": [{"LocalCidrBlock": "10.0.2.0/24", "RemoteCidrBlock": ["192.168.10.0/24"]}]}, "UnsupportedOperation.VpnConnSPDOverlap", "SecurityPolicyDatabases"),
        (ROUTE, {"SecurityPolicyDatabases": [{"LocalCidrBlock": "10.8.9.0/24", "RemoteCidrBlock": ["172.20.9.0/24"]}]}, "UnsupportedOperation.InvalidState", "SecurityPolicyDatabases"),
        (CONN, {"EnableHealthCheck": True}, "UnsupportedOperation.VpnConnCidrNotSupportedHealthCheck", "EnableHealthCheck"),
        (ROUTE, {"HealthCheckRemoteIp": "169.254.128.1"}, "InvalidParameterValue.VpnConnHealthCheckIpConflict", "HealthCheckRemoteIp"),
        (ROUTE, {"HealthCheckConfig": {"ProbeTimeout": 5001}}, "InvalidParameterValue.LimitExceeded", "HealthCheckConfig.ProbeTimeout"),
        (GCM, {"DpdTimeout": "61"}, "InvalidParameterValue.LimitExceeded", "DpdTimeout"),
        (GCM, {"CustomerGatewayId": "cgw-00000000"}, "ResourceNotFound", "CustomerGatewayId"),
        (CONN, {"CustomerGatewayId": "cgw-5vx8n2qa"}, "UnsupportedOperation", "CustomerGatewayId"),
        (BGP, {"BgpConfig": {"LocalBgpIp": "10.0.0.1"}}, "InvalidParameterValue", "BgpConfig.LocalBgpIp"),
        (CONN, {"BgpConfig": {"TunnelCidr": "169.254.130.0/30"}}, "UnsupportedOperation.InvalidState", "BgpConfig.TunnelCidr"),
        (CONN, {"PreShareKey": "k" * 129}, "InvalidParameterValue.LimitExceeded", "PreShareKey"),
    ],
)  # fmt: skip
async def test_refused_edits_answer_the_per_action_code_naming_the_field(
    http: httpx.AsyncClient,
    sim: SimServer,
    state: SimState,
    clock: FakeClock,
    conn: str,
    edit: dict[str, Any],
    code: str,
    field: str,
) -> None:
    answered, message = error_of(await call3(http, sim, clock, MODIFY, {"VpnConnectionId": conn, **edit}))
    assert answered == code
    assert message.startswith(field + ":") or (code == "ResourceNotFound" and "cgw-00000000" in message)
    assert "IKESet" not in message
    assert "k" * 129 not in message
    assert state.snapshot()["tasks"] == []


@pytest.mark.parametrize(
    ("params", "code", "said"),
    [
        ({}, "MissingParameter", "VpnConnectionId"),
        ({"VpnConnectionId": "vpnx-nothere1"}, "ResourceNotFound", "vpnx-nothere1"),
        ({"VpnConnectionId": "2101"}, "InvalidParameterValue.Malformed", "VpnConnectionId"),
        ({"VpnConnectionId": 2101}, "InvalidParameter", "VpnConnectionId"),
        ({"VpnConnectionId": CONN, "RouteType": "Bgp"}, "UnknownParameter", "RouteType"),
        ({"VpnConnectionId": CONN, "vpnConnName": "x"}, "UnknownParameter", "vpnConnName"),
        ({"VpnConnectionId": CONN, "IKEOptionsSpecification": {"Foo": "x"}}, "UnknownParameter", "IKEOptionsSpecification.Foo"),
        ({"VpnConnectionId": CONN, "IKEOptionsSpecification": {"IKESaLifetimeSeconds": "86400"}}, "InvalidParameter", "integer"),
        ({"VpnConnectionId": CONN, "IKEOptionsSpecification": "MAIN"}, "InvalidParameter", "IKEOptionsSpecification"),
        ({"VpnConnectionId": CONN, "SecurityPolicyDatabases": {"10.0.1.0/24": ["10.100.1.0/24"]}}, "InvalidParameter", "SecurityPolicyDatabases"),
        ({"VpnConnectionId": CONN, "DpdEnable": 2}, "InvalidParameterValue", "DpdEnable"),
        ({"VpnConnectionId": CONN, "DpdTimeout": 30}, "InvalidParameter", "DpdTimeout"),
        ({"VpnConnectionId": CONN, "EnableHealthCheck": "true"}, "InvalidParameter", "EnableHealthCheck"),
        ({"VpnConnectionId": CONN, "IPSECOptionsSpecification": {"IntegrityAlgorith": "MD5", "IntegrityAlgorithm": "SHA1"}}, "InvalidParameter", "disagree"),
    ],
)  # fmt: skip
async def test_modify_request_errors(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, params: dict[str, Any], code: str, said: str
) -> None:
    answered, message = error_of(await call3(http, sim, clock, MODIFY, params))
    assert answered == code
    assert said in message


async def test_busy_connection_through_both_dialects(http: httpx.AsyncClient, sim: SimServer, clock: FakeClock) -> None:
    assert set(await call3(http, sim, clock, MODIFY, {"VpnConnectionId": CONN, "VpnConnectionName": "a"})) == {
        "RequestId"
    }
    code, _ = error_of(await call3(http, sim, clock, MODIFY, {"VpnConnectionId": CONN, "VpnConnectionName": "b"}))
    assert code == "UnsupportedOperation.VpnConnInvalidState"
    busy_v2 = await call2(
        http,
        sim,
        clock,
        "ModifyVpnConnEx",
        {"vpcId": VPC, "vpnGwId": GW, "vpnConnId": CONN, "userGwCidrBlock.0": "10.100.1.0/24"},
    )
    assert busy_v2["codeDesc"] == "OperationDenied.VpnConnBusy"  # an edit without a task holds the connection too


async def test_forced_task_failure(http: httpx.AsyncClient, sim: SimServer, state: SimState, clock: FakeClock) -> None:
    state.modify_task = True
    response = await http.post(sim.base_url + "/_sim/faults", json={"taskOutcome": "failed", "taskSeconds": 1})
    assert response.status_code == 200
    answer = await call3(http, sim, clock, MODIFY, {"VpnConnectionId": CONN, "VpnConnectionName": "never-applied"})
    clock.advance(1)
    result = await call3(http, sim, clock, TASK, {"TaskId": answer["RequestId"]})
    assert result["Status"] == "FAILED"
    assert "failed" in result["Output"]
    item = await v3_item(http, sim, clock)
    assert (item["VpnConnectionName"], item["State"]) == ("office-shanghai", "AVAILABLE")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"TaskId": str(uuid.uuid4())}, "ResourceNotFound"),
        ({"TaskId": "99"}, "ResourceNotFound"),
        ({}, "MissingParameter"),
        ({"TaskId": 12614}, "InvalidParameter"),
        ({"TaskId": "x", "taskId": "x"}, "UnknownParameter"),
    ],
)
async def test_task_result_errors(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, params: dict[str, Any], code: str
) -> None:
    assert error_of(await call3(http, sim, clock, TASK, params))[0] == code


# ---------------------------------------------------------------------------------------------------------------
# Faults, rate limits, counting, logging


async def test_latency_keyed_by_the_2_0_name_delays_the_3_0_action(
    http: httpx.AsyncClient, sim: SimServer, state: SimState, clock: FakeClock
) -> None:
    state.update_faults({"latency": {"DescribeVpnConn": 0.3}})
    started = time.perf_counter()
    assert (await call3(http, sim, clock, DESCRIBE, {}))["TotalCount"] == 9
    assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    assert error_of(await call3(http, sim, clock, TASK, {"TaskId": "1"}))[0] == "ResourceNotFound"
    assert time.perf_counter() - started < 0.3


async def test_503_fault_keyed_by_the_2_0_name(
    http: httpx.AsyncClient, sim: SimServer, state: SimState, clock: FakeClock
) -> None:
    state.update_faults({"http5xx": {"ModifyVpnConnEx": 1}})
    payload = json.dumps({"VpnConnectionId": CONN, "VpnConnectionName": "after-503"}).encode()
    failed = await post3(http, sim, payload, headers_for(sim, clock, MODIFY, payload))
    assert failed.status_code == 503
    assert state.snapshot()["tasks"] == []
    assert set(await call3(http, sim, clock, MODIFY, {"VpnConnectionId": CONN, "VpnConnectionName": "after-503"})) == {
        "RequestId"
    }
    assert state.journal[-2:] == [(MODIFY, "HTTP 503"), (MODIFY, "0")]


async def test_over_quota_and_failure_rate_faults(
    http: httpx.AsyncClient, sim: SimServer, state: SimState, clock: FakeClock
) -> None:
    state.update_faults({"overQuota": {"DescribeVpnConn": 1}, "failureRate": {"ModifyVpnConnEx": 1.0}})
    assert error_of(await call3(http, sim, clock, DESCRIBE, {}))[0] == "RequestLimitExceeded"
    assert (await call3(http, sim, clock, DESCRIBE, {}))["TotalCount"] == 9
    code, _ = error_of(await call3(http, sim, clock, MODIFY, {"VpnConnectionId": CONN, "VpnConnectionName": "x"}))
    assert code == "InternalError"
    assert state.snapshot()["tasks"] == []
    assert state.journal == [(DESCRIBE, "RequestLimitExceeded"), (DESCRIBE, "0"), (MODIFY, "InternalError")]


async def test_rate_limit_per_action_name_and_peak(
    http: httpx.AsyncClient, sim: SimServer, state: SimState, clock: FakeClock
) -> None:
    state.update_faults({"rateLimits": {DESCRIBE: 2}})
    answers = [await call3(http, sim, clock, DESCRIBE, {"Limit": 1}) for _ in range(3)]
    assert [a.get("TotalCount") for a in answers[:2]] == [9, 9]
    assert error_of(answers[2])[0] == "RequestLimitExceeded"
    assert (await call2(http, sim, clock, "DescribeVpnConn", {}))["code"] == 0  # API 2.0's action: another name
    assert (state.peak_rate(DESCRIBE), state.rate_refusals(DESCRIBE), state.peak_rate("DescribeVpnConn")) == (3, 1, 1)
    clock.advance(1)
    assert (await call3(http, sim, clock, DESCRIBE, {"Limit": 1}))["TotalCount"] == 9


async def test_received_counts_both_dialects(
    http: httpx.AsyncClient, sim: SimServer, state: SimState, clock: FakeClock
) -> None:
    await call3(http, sim, clock, DESCRIBE, {})
    await call3(http, sim, clock, DESCRIBE, {}, secret_key="forged")  # counted: it arrived
    await call2(http, sim, clock, "DescribeVpnConn", {})
    await call3(http, sim, clock, TASK, {"TaskId": "1"})
    assert state.received("DescribeVpnConn") == state.received(DESCRIBE) == 3
    assert (state.arrivals[DESCRIBE], state.arrivals["DescribeVpnConn"]) == (2, 1)
    assert state.received(TASK) == 1
    assert state.received("ModifyVpnConnEx") == state.received(MODIFY) == 0


async def test_log_lines_name_parameters_but_never_secrets(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.sim")
    payload = json.dumps({"VpnConnectionId": CONN, "PreShareKey": "Psk-Secret-42"}).encode()
    headers = headers_for(sim, clock, MODIFY, payload)
    assert set(response_of(await post3(http, sim, payload, headers))) == {"RequestId"}
    await v3_item(http, sim, clock, BJ1)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert f"{MODIFY} -> 0" in text
    assert "PreShareKey" in text
    for secret in ("Psk-Secret-42", "bj1-Preshared-7731", DEMO_SECRET_KEY, headers["Authorization"].rpartition("=")[2]):
        assert secret not in text
