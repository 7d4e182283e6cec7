"""The simulator's API 3.0 dialect over real HTTP on loopback: TC3-signed requests, auth failures, the 3.0 shapes,
edits and tasks shared with API 2.0, and faults keyed by the API 2.0 action names.

Requests are signed here with ``bot.tencent.signing`` (``tc3_authorization`` for API 3.0, ``sign`` for API 2.0),
never with the project's cloud client.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import ANY

import httpx
import pytest

from bot.sim import DEMO_SECRET_ID, DEMO_SECRET_KEY, SimServer, SimState, load_world
from bot.tencent.signing import TC3_CONTENT_TYPE, sign, string_to_sign, tc3_authorization

VPC, GW, CONN = "vpc-03vihbk9", "vpngw-kfldykuz", "vpnx-ol6bcqp0"  # office-shanghai
BJ1 = "vpnx-3mv8tqwd"  # idc-beijing-1, same gateway, IKEArr/IPSECArr with strings and "sha1", two source CIDRs
BJ2 = "vpnx-b5n1r8kc"  # idc-beijing-2, gateway vpngw-q3bzxk4m, fqdn identities
ACME = "vpnx-k2w6fj0u"  # partner-acme, staging VPC, one-element list blocks, unavailable
STAGING_VPC = "vpc-8e0ypm3z"
LOOPBACK = "127.0.0.1"
DESCRIBE, MODIFY, TASK = "DescribeVpnConnections", "ModifyVpnConnectionAttribute", "DescribeVpcTaskResult"
_nonces = itertools.count(int(time.time()) % 1_000_000 * 1000 + 1)


class FakeClock:
    """Starts at the real time (requests carry it as X-TC-Timestamp); tests move it by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


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


# ---------------------------------------------------------------------------------------------------------------
# Request helpers


def tc3_headers(
    action: str,
    payload: bytes,
    *,
    timestamp: float,
    host: str = LOOPBACK,
    secret_id: str = DEMO_SECRET_ID,
    secret_key: str = DEMO_SECRET_KEY,
    service: str = "vpc",
    signed_timestamp: float | None = None,
    content_type: str = TC3_CONTENT_TYPE,
    version: str = "2017-03-12",
) -> dict[str, str]:
    """The API 3.0 headers of one request, signed for ``host`` (the signature covers ``content_type`` and the exact
    ``payload``); ``signed_timestamp`` signs with another time than the ``X-TC-Timestamp`` sent."""
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


async def post3(http: httpx.AsyncClient, sim: SimServer, payload: bytes, headers: dict[str, str]) -> httpx.Response:
    return await http.post(sim.v3_url, content=payload, headers=headers)


async def call3(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, action: str, params: dict[str, Any], **options: Any
) -> dict[str, Any]:
    """Sign, send and return ``Response`` (asserting HTTP 200, JSON, and a RequestId in every answer)."""
    payload = json.dumps(params).encode()
    response = await post3(http, sim, payload, tc3_headers(action, payload, timestamp=clock.now, **options))
    return response_of(response)


def response_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    answer: dict[str, Any] = response.json()["Response"]
    assert uuid.UUID(answer["RequestId"])
    return answer


def error_of(answer: dict[str, Any]) -> tuple[str, str]:
    """``(Code, Message)`` of an error answer, checking its exact shape."""
    assert set(answer) == {"Error", "RequestId"}
    assert set(answer["Error"]) == {"Code", "Message"}
    return answer["Error"]["Code"], answer["Error"]["Message"]


async def call2(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, action: str, params: dict[str, str]
) -> dict[str, Any]:
    """One API 2.0 call (GET, HmacSHA256), its JSON answer."""
    everything = {
        **params,
        "Action": action,
        "Region": "ap-guangzhou",
        "SecretId": DEMO_SECRET_ID,
        "Timestamp": str(int(clock.now)),
        "Nonce": str(next(_nonces)),
        "SignatureMethod": "HmacSHA256",
    }
    everything["Signature"] = sign(
        DEMO_SECRET_KEY, string_to_sign("GET", LOOPBACK, "/v2/index.php", everything), "HmacSHA256"
    )
    response = await http.get(sim.url, params=everything)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


async def v2_item(http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, conn: str = CONN) -> dict[str, Any]:
    answer = await call2(http, sim, clock, "DescribeVpnConn", {"vpnConnId": conn})
    assert answer["code"] == 0
    item: dict[str, Any] = answer["data"][0]
    return item


async def v3_item(http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, conn: str = CONN) -> dict[str, Any]:
    answer = await call3(http, sim, clock, DESCRIBE, {"VpnConnectionIds": [conn]})
    assert answer["TotalCount"] == 1
    item: dict[str, Any] = answer["VpnConnectionSet"][0]
    return item


# ---------------------------------------------------------------------------------------------------------------
# Reading


async def test_describe_by_id_answers_the_3_0_shape(http: httpx.AsyncClient, sim: SimServer, clock: FakeClock) -> None:
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
                "EncapMode": "TUNNEL",
                "SecurityProto": "ESP",
            },
        }
    ]


async def test_older_item_shapes_map_to_the_same_3_0_shape(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock
) -> None:
    bj1 = await v3_item(http, sim, clock, BJ1)  # IKEArr / IPSECArr objects, numbers as strings, "sha1"
    assert bj1["IKEOptionsSpecification"]["PropoAuthenAlgorithm"] == "SHA"
    assert bj1["IKEOptionsSpecification"]["IKESaLifetimeSeconds"] == 86400
    assert bj1["IPSECOptionsSpecification"]["IntegrityAlgorith"] == "SHA1"
    assert bj1["IPSECOptionsSpecification"]["PfsDhGroup"] == "NULL"
    remotes = ["192.168.10.0/24", "192.168.11.0/24"]
    assert bj1["SecurityPolicyDatabaseSet"] == [
        {"LocalCidrBlock": "10.0.2.0/24", "RemoteCidrBlock": remotes},
        {"LocalCidrBlock": "10.0.3.0/24", "RemoteCidrBlock": remotes},
    ]
    acme = await v3_item(http, sim, clock, ACME)  # one-element list blocks
    assert acme["NetStatus"] == "UNAVAILABLE"
    assert acme["IKEOptionsSpecification"]["DhGroupName"] == "GROUP1"
    assert acme["IPSECOptionsSpecification"]["PfsDhGroup"] == "DH-GROUP2"
    bj2 = await v3_item(http, sim, clock, BJ2)
    assert bj2["IKEOptionsSpecification"]["LocalIdentity"] == "FQDN"
    assert bj2["IKEOptionsSpecification"]["LocalFqdnName"] == "gw-prod-2.vpn.example.com"


async def test_filters_and_paging(http: httpx.AsyncClient, sim: SimServer, clock: FakeClock) -> None:
    def ids(answer: dict[str, Any]) -> list[str]:
        return [item["VpnConnectionId"] for item in answer["VpnConnectionSet"]]

    by_vpc = [{"Name": "vpc-id", "Values": [VPC]}]
    first = await call3(http, sim, clock, DESCRIBE, {"Filters": by_vpc, "Limit": 2})
    assert (first["TotalCount"], ids(first)) == (3, [BJ1, CONN])  # createTime order, as DescribeVpnConn
    rest = await call3(http, sim, clock, DESCRIBE, {"Filters": by_vpc, "Limit": 2, "Offset": 2})
    assert (rest["TotalCount"], ids(rest)) == (3, [BJ2])
    everything = await call3(http, sim, clock, DESCRIBE, {})
    assert everything["TotalCount"] == 5
    two_gateways = [{"Name": "vpn-gateway-id", "Values": [GW, "vpngw-q3bzxk4m"]}]
    assert ids(await call3(http, sim, clock, DESCRIBE, {"Filters": two_gateways})) == [BJ1, CONN, BJ2]
    both = [{"Name": "vpc-id", "Values": [STAGING_VPC]}, {"Name": "vpn-connection-name", "Values": ["partner-acme"]}]
    assert ids(await call3(http, sim, clock, DESCRIBE, {"Filters": both})) == [ACME]
    by_id = [{"Name": "vpn-connection-id", "Values": [CONN, ACME]}]
    assert ids(await call3(http, sim, clock, DESCRIBE, {"Filters": by_id})) == [ACME, CONN]
    assert ids(await call3(http, sim, clock, DESCRIBE, {"VpnConnectionIds": [CONN, BJ1]})) == [BJ1, CONN]
    none = await call3(http, sim, clock, DESCRIBE, {"Filters": [{"Name": "vpc-id", "Values": ["vpc-nothere1"]}]})
    assert (none["TotalCount"], none["VpnConnectionSet"]) == (0, [])


@pytest.mark.parametrize(
    ("params", "code", "said"),
    [
        ({"Limit": 101}, "InvalidParameterValue.LimitExceeded", "Limit"),
        ({"Offset": -1}, "InvalidParameterValue", "Offset"),
        ({"Limit": "20"}, "InvalidParameter", "Limit"),
        (
            {"VpnConnectionIds": [CONN], "Filters": [{"Name": "vpc-id", "Values": [VPC]}]},
            "InvalidParameter.Coexist",
            "VpnConnectionIds",
        ),
        ({"Filters": [{"Name": "zone", "Values": ["x"]}]}, "InvalidParameter.FilterInvalidKey", "zone"),
        ({"Filters": [{"Name": "vpc-id", "Values": VPC}]}, "InvalidParameter.FilterValuesNotList", "Filters.0"),
        ({"Filters": ["vpc-id"]}, "InvalidParameter.FilterNotDict", "Filters.0"),
        ({"VpnConnectionIds": ["vpnx-nothere1"]}, "ResourceNotFound", "vpnx-nothere1"),
        ({"VpnConnectionIds": ["2101"]}, "InvalidParameterValue.Malformed", "2101"),
        ({"vpnConnId": CONN}, "UnknownParameter", "vpnConnId"),
    ],
)
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


@pytest.mark.parametrize(
    ("skew", "code"), [(-301, "AuthFailure.SignatureExpire"), (301, "AuthFailure.SignatureExpire")]
)
async def test_timestamp_more_than_five_minutes_off_is_expired(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, skew: int, code: str
) -> None:
    payload = b"{}"
    headers = tc3_headers(DESCRIBE, payload, timestamp=clock.now + skew)
    assert error_of(response_of(await post3(http, sim, payload, headers)))[0] == code


@pytest.mark.parametrize("skew", [-299, 299])
async def test_timestamp_within_five_minutes_is_fine(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, skew: int
) -> None:
    payload = b"{}"
    answer = response_of(await post3(http, sim, payload, tc3_headers(DESCRIBE, payload, timestamp=clock.now + skew)))
    assert answer["TotalCount"] == 5


@pytest.mark.parametrize("wrong", ["key", "tampered", "host", "content-type", "date", "service"])
async def test_bad_signature_is_a_signature_failure(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, wrong: str
) -> None:
    payload = json.dumps({"VpnConnectionIds": [CONN]}).encode()
    headers = tc3_headers(
        DESCRIBE,
        payload,
        timestamp=clock.now,
        secret_key="not-the-key" if wrong == "key" else DEMO_SECRET_KEY,
        host="vpc.tencentcloudapi.com" if wrong == "host" else LOOPBACK,
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
    "authorization",
    [
        None,
        "TC3-HMAC-SHA256 nonsense",
        f"HmacSHA256 Credential={DEMO_SECRET_ID}",
        "signed-headers",
    ],
)
async def test_malformed_authorization(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, authorization: str | None
) -> None:
    payload = b"{}"
    headers = tc3_headers(DESCRIBE, payload, timestamp=clock.now)
    if authorization is None:
        del headers["Authorization"]
    elif authorization == "signed-headers":  # well-formed, but over a header set the simulator does not verify
        headers["Authorization"] = headers["Authorization"].replace(
            "content-type;host", "content-type;host;x-tc-action"
        )
    else:
        headers["Authorization"] = authorization
    code, _ = error_of(response_of(await post3(http, sim, payload, headers)))
    assert code == "AuthFailure.InvalidAuthorization"


async def test_token_is_accepted_and_region_is_optional(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock
) -> None:
    payload = b"{}"
    headers = tc3_headers(DESCRIBE, payload, timestamp=clock.now)
    headers["X-TC-Token"] = "temporary-session-token"
    del headers["X-TC-Region"]
    assert response_of(await post3(http, sim, payload, headers))["TotalCount"] == 5


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
    headers = tc3_headers(
        "DeleteVpnConnection" if change == "action" else DESCRIBE,
        payload,
        timestamp=clock.now,
        content_type="application/x-www-form-urlencoded" if change == "form" else TC3_CONTENT_TYPE,
        version="2019-01-01" if change == "version" else "2017-03-12",
    )
    headers.pop({"no-action": "X-TC-Action", "no-timestamp": "X-TC-Timestamp"}.get(change, ""), None)
    answered, message = error_of(response_of(await post3(http, sim, payload, headers)))
    assert answered == code
    assert said in message


# ---------------------------------------------------------------------------------------------------------------
# Editing, both ways


async def test_edit_through_3_0_is_visible_through_2_0(
    http: httpx.AsyncClient, sim: SimServer, state: SimState, clock: FakeClock
) -> None:
    edit = {
        "VpnConnectionId": CONN,
        "VpnConnectionName": "office-shanghai-v3",
        "PreShareKey": "v3-Shared-Key-77",
        "SecurityPolicyDatabases": [
            {"LocalCidrBlock": "10.0.1.0/24", "RemoteCidrBlock": ["10.100.1.0/24", "10.100.9.0/24"]}
        ],
        "IKEOptionsSpecification": {
            "PropoEncryAlgorithm": "AES-CBC-128",
            "PropoAuthenAlgorithm": "SHA1",
            "DhGroupName": "GROUP5",
            "IKESaLifetimeSeconds": 28800,
            "IKEVersion": "IKEV1",
        },
        "IPSECOptionsSpecification": {
            "EncryptAlgorithm": "AES-CBC-192",
            "IntegrityAlgorith": "MD5",
            "PfsDhGroup": "NULL",
            "IPSECSaLifetimeSeconds": 7200,
        },
    }
    answer = await call3(http, sim, clock, MODIFY, edit)
    assert set(answer) == {"RequestId"}
    task = {"TaskId": answer["RequestId"]}
    assert await call3(http, sim, clock, TASK, task) == {**task, "Status": "RUNNING", "Output": "", "RequestId": ANY}
    assert (await v2_item(http, sim, clock))["vpcConnStatus"] == 2
    assert (await v3_item(http, sim, clock))["State"] == "PENDING"
    [started] = state.snapshot()["tasks"]
    assert started["requestId"] == answer["RequestId"]
    assert (await call2(http, sim, clock, TASK, {"taskId": str(started["taskId"])}))["data"] == {"status": 2}

    clock.advance(5)
    assert (await call3(http, sim, clock, TASK, task))["Status"] == "SUCCESS"
    assert (await call2(http, sim, clock, TASK, {"taskId": str(started["taskId"])}))["data"] == {"status": 0}
    item = await v2_item(http, sim, clock)
    assert item["vpcConnStatus"] == 6
    assert item["vpnConnName"] == "office-shanghai-v3"
    assert item["preSharedKey"] == "v3-Shared-Key-77"
    assert (item["sourceCidr"], item["destinationCidr"]) == (["10.0.1.0/24"], ["10.100.1.0/24", "10.100.9.0/24"])
    ike, ipsec = item["IKESet"], item["IPsecSet"]
    assert (ike["propoEncryAlgorithm"], ike["propoAuthenAlgorithm"]) == ("aes-cbc-128", "sha")
    assert (ike["dhGroupName"], ike["ikeSaLifetimeSeconds"], ike["exchangeMode"]) == ("group5", 28800, "main")
    assert (ipsec["encryptAlgorithm"], ipsec["integrityAlgorith"]) == ("aes-cbc-192", "md5")
    assert (ipsec["pfsDhGroup"], ipsec["ipsecSaLifetimeSeconds"], ipsec["ipsecSaLifetimeTraffic"]) == (
        "null",
        7200,
        1843200,
    )
    again = await v3_item(http, sim, clock)
    assert again["State"] == "AVAILABLE"
    assert again["IKEOptionsSpecification"]["DhGroupName"] == "GROUP5"


async def test_edit_leaving_the_spd_alone_keeps_it(http: httpx.AsyncClient, sim: SimServer, clock: FakeClock) -> None:
    answer = await call3(http, sim, clock, MODIFY, {"VpnConnectionId": BJ1, "VpnConnectionName": "idc-beijing-1b"})
    assert set(answer) == {"RequestId"}
    clock.advance(5)
    item = await v2_item(http, sim, clock, BJ1)
    assert item["vpnConnName"] == "idc-beijing-1b"
    assert item["sourceCidr"] == ["10.0.2.0/24", "10.0.3.0/24"]
    assert item["destinationCidr"] == ["192.168.10.0/24", "192.168.11.0/24"]


async def test_edit_through_2_0_is_visible_through_3_0(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock
) -> None:
    edit = {
        "vpcId": VPC,
        "vpnGwId": GW,
        "vpnConnId": CONN,
        "userGwCidrBlock.0": "10.100.2.0/24",
        "vpnConnName": "office-shanghai-v2",
        "preSharedKey": "v2-Shared-Key-88",
        "IKESet.dhGroupName": "group24",
        "IPsecSet.pfsDhGroup": "dh-group2",
    }
    answer = await call2(http, sim, clock, "ModifyVpnConnEx", edit)
    assert answer["code"] == 0
    task = {"TaskId": str(answer["data"]["taskId"])}  # a task started on API 2.0, followed on API 3.0
    assert (await call3(http, sim, clock, TASK, task))["Status"] == "RUNNING"
    clock.advance(5)
    assert (await call3(http, sim, clock, TASK, task))["Status"] == "SUCCESS"
    item = await v3_item(http, sim, clock)
    assert (item["VpnConnectionName"], item["PreShareKey"]) == ("office-shanghai-v2", "v2-Shared-Key-88")
    assert item["SecurityPolicyDatabaseSet"] == [
        {"LocalCidrBlock": "10.0.1.0/24", "RemoteCidrBlock": ["10.100.2.0/24"]}
    ]
    assert item["IKEOptionsSpecification"]["DhGroupName"] == "GROUP24"
    assert item["IPSECOptionsSpecification"]["PfsDhGroup"] == "DH-GROUP2"


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        ({"IKEOptionsSpecification": {"PropoEncryAlgorithm": "SM4"}}, "IKEOptionsSpecification.PropoEncryAlgorithm"),
        (
            {"IKEOptionsSpecification": {"PropoAuthenAlgorithm": "SHA-256"}},
            "IKEOptionsSpecification.PropoAuthenAlgorithm",
        ),
        ({"IKEOptionsSpecification": {"IKEVersion": "IKEV2"}}, "IKEOptionsSpecification.IKEVersion"),
        (
            {"IPSECOptionsSpecification": {"IntegrityAlgorith": "SHA-256"}},
            "IPSECOptionsSpecification.IntegrityAlgorith",
        ),
        ({"IPSECOptionsSpecification": {"PfsDhGroup": "DH-GROUP19"}}, "IPSECOptionsSpecification.PfsDhGroup"),
        ({"IKEOptionsSpecification": {"IKESaLifetimeSeconds": 10}}, "IKEOptionsSpecification.IKESaLifetimeSeconds"),
        (
            {"IPSECOptionsSpecification": {"IPSECSaLifetimeSeconds": 100}},
            "IPSECOptionsSpecification.IPSECSaLifetimeSeconds",
        ),
        ({"IKEOptionsSpecification": {"LocalIdentity": "FQDN"}}, "IKEOptionsSpecification.LocalFqdnName"),
        ({"IKEOptionsSpecification": {"RemoteAddress": "not-an-ip"}}, "IKEOptionsSpecification.RemoteAddress"),
        ({"VpnConnectionName": "x" * 61}, "VpnConnectionName"),
        ({"VpnConnectionName": "idc-beijing-2"}, "VpnConnectionName"),  # another connection of the VPC has it
        (
            {"SecurityPolicyDatabases": [{"LocalCidrBlock": "10.0.1.0/33", "RemoteCidrBlock": ["10.100.1.0/24"]}]},
            "SecurityPolicyDatabases",
        ),
        ({"SecurityPolicyDatabases": []}, "SecurityPolicyDatabases"),
        (
            {"SecurityPolicyDatabases": [{"LocalCidrBlock": "10.0.1.0/24", "RemoteCidrBlock": []}]},
            "SecurityPolicyDatabases",
        ),
    ],
)
async def test_invalid_values_are_invalid_parameter_value_naming_the_field(
    http: httpx.AsyncClient, sim: SimServer, state: SimState, clock: FakeClock, edit: dict[str, Any], field: str
) -> None:
    code, message = error_of(await call3(http, sim, clock, MODIFY, {"VpnConnectionId": CONN, **edit}))
    assert code == "InvalidParameterValue"
    assert message.startswith(field + ":")
    assert "IKESet" not in message  # API 3.0 names only
    assert "IPsecSet" not in message
    assert state.snapshot()["tasks"] == []


async def test_refused_key_is_never_echoed(http: httpx.AsyncClient, sim: SimServer, clock: FakeClock) -> None:
    code, message = error_of(
        await call3(http, sim, clock, MODIFY, {"VpnConnectionId": CONN, "PreShareKey": " Lk-Secret-9 "})
    )
    assert code == "InvalidParameterValue"
    assert message.startswith("PreShareKey:")
    assert "Lk-Secret-9" not in message


@pytest.mark.parametrize(
    ("params", "code", "said"),
    [
        ({}, "MissingParameter", "VpnConnectionId"),
        ({"VpnConnectionId": "vpnx-nothere1"}, "ResourceNotFound", "vpnx-nothere1"),
        ({"VpnConnectionId": "2101"}, "InvalidParameterValue.Malformed", "VpnConnectionId"),
        ({"VpnConnectionId": 2101}, "InvalidParameter", "VpnConnectionId"),
        ({"VpnConnectionId": CONN, "DpdEnable": 1}, "UnknownParameter", "does not model"),
        ({"VpnConnectionId": CONN, "vpnConnName": "x"}, "UnknownParameter", "vpnConnName"),
        (
            {"VpnConnectionId": CONN, "IKEOptionsSpecification": {"Foo": "x"}},
            "UnknownParameter",
            "IKEOptionsSpecification.Foo",
        ),
        (
            {"VpnConnectionId": CONN, "IKEOptionsSpecification": {"IKESaLifetimeSeconds": "86400"}},
            "InvalidParameter",
            "integer",
        ),
        ({"VpnConnectionId": CONN, "IKEOptionsSpecification": "MAIN"}, "InvalidParameter", "IKEOptionsSpecification"),
        (
            {"VpnConnectionId": CONN, "SecurityPolicyDatabases": {"10.0.1.0/24": ["10.100.1.0/24"]}},
            "InvalidParameter",
            "SecurityPolicyDatabases",
        ),
    ],
)
async def test_modify_request_errors(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, params: dict[str, Any], code: str, said: str
) -> None:
    answered, message = error_of(await call3(http, sim, clock, MODIFY, params))
    assert answered == code
    assert said in message


async def test_busy_connection_and_overlapping_spd(http: httpx.AsyncClient, sim: SimServer, clock: FakeClock) -> None:
    clash = {
        "VpnConnectionId": CONN,
        "SecurityPolicyDatabases": [{"LocalCidrBlock": "10.0.2.0/24", "RemoteCidrBlock": ["192.168.10.0/24"]}],
    }
    code, message = error_of(await call3(http, sim, clock, MODIFY, clash))
    assert code == "UnsupportedOperation.VpnConnSPDOverlap"
    assert BJ1 in message
    assert message.startswith("SecurityPolicyDatabases:")
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
    assert busy_v2["codeDesc"] == "OperationDenied.VpnConnBusy"  # the task started on API 3.0 holds it on API 2.0 too


async def test_forced_task_failure_has_output(http: httpx.AsyncClient, sim: SimServer, clock: FakeClock) -> None:
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
# Faults, counting, logging


async def test_latency_keyed_by_the_2_0_name_delays_the_3_0_action(
    http: httpx.AsyncClient, sim: SimServer, state: SimState, clock: FakeClock
) -> None:
    state.update_faults({"latency": {"DescribeVpnConn": 0.3}})
    started = time.perf_counter()
    assert (await call3(http, sim, clock, DESCRIBE, {}))["TotalCount"] == 5
    assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    assert error_of(await call3(http, sim, clock, TASK, {"TaskId": "1"}))[0] == "ResourceNotFound"
    assert time.perf_counter() - started < 0.3


async def test_503_fault_keyed_by_the_2_0_name(
    http: httpx.AsyncClient, sim: SimServer, state: SimState, clock: FakeClock
) -> None:
    state.update_faults({"http5xx": {"ModifyVpnConnEx": 1}})
    payload = json.dumps({"VpnConnectionId": CONN, "VpnConnectionName": "after-503"}).encode()
    failed = await post3(http, sim, payload, tc3_headers(MODIFY, payload, timestamp=clock.now))
    assert failed.status_code == 503
    assert "503" in failed.text
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
    assert (await call3(http, sim, clock, DESCRIBE, {}))["TotalCount"] == 5
    code, _ = error_of(await call3(http, sim, clock, MODIFY, {"VpnConnectionId": CONN, "VpnConnectionName": "x"}))
    assert code == "InternalError"
    assert state.snapshot()["tasks"] == []
    assert state.journal == [(DESCRIBE, "RequestLimitExceeded"), (DESCRIBE, "0"), (MODIFY, "InternalError")]


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
    headers = tc3_headers(MODIFY, payload, timestamp=clock.now)
    assert set(response_of(await post3(http, sim, payload, headers))) == {"RequestId"}
    await v3_item(http, sim, clock, BJ1)  # its answer holds a stored key
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert f"{MODIFY} -> 0" in text
    assert "PreShareKey" in text
    assert f"{DESCRIBE} -> 0" in text
    for secret in ("Psk-Secret-42", "bj1-Preshared-7731", DEMO_SECRET_KEY, headers["Authorization"].rpartition("=")[2]):
        assert secret not in text
