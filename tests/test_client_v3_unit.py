"""VpcClientV3 against a real aiohttp stand-in for the API 3.0 endpoint on loopback, which verifies every TC3
signature (with ``bot.tencent.signing.tc3_signature``, over the Host header as received, port included, as the SDK
signs it) and every header, and answers in the API's shapes."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web
from items import FINGERPRINTS
from pydantic import SecretStr

from bot.tencent import (
    DEFAULT_ENDPOINTS,
    ApiError,
    CloudError,
    CloudTimeoutError,
    Credentials,
    NotFoundError,
    ResponseError,
    ServerError,
    TaskFollower,
    TaskOutcome,
    TaskState,
    TaskStatus,
    TransportError,
    VpcClient,
    VpcClientV3,
    make_client,
)
from bot.tencent.client import LIMIT_ATTEMPTS
from bot.tencent.limits import MARGIN_SECONDS, TENCENT_RATE_LIMITS
from bot.tencent.signing import TC3_CONTENT_TYPE, parse_tc3_authorization, tc3_date, tc3_signature
from bot.tencent.wire_v3 import read_connection
from bot.vpn.connection import VpnConnection
from bot.vpn.edit import Proposal, propose

SECRET_ID = "AKIDv3UnitTestSecretId01"
SECRET_KEY = "sk-V3-Unit-Test-Key-9b2e"
TOKEN = "tmp-session-token-Qw7-very-long-0001"
OLD_PSK = "old-psk-Yy72-plain-v3"
NEW_PSK = "new-psk-Zz81-plain-v3"
CONN_ID = "vpnx-ol6bcqp0"
DESCRIBE = "DescribeVpnConnections"
MODIFY = "ModifyVpnConnectionAttribute"
TASK = "DescribeVpcTaskResult"


def v3_item(conn_id: str = CONN_ID, name: str = "office-gz") -> dict[str, Any]:
    """A VpnConnectionSet item as DescribeVpnConnections returns it: the key in plain text."""
    return {
        "VpnConnectionId": conn_id,
        "VpnConnectionName": name,
        "VpcId": "vpc-03vihbk9",
        "VpnGatewayId": "vpngw-kfldykuz",
        "CustomerGatewayId": "cgw-3tq6x0f1",
        "PreShareKey": OLD_PSK,
        "VpnProto": "IPSEC",
        "CreatedTime": "2019-02-25 12:00:00",
        "State": "AVAILABLE",
        "NetStatus": "AVAILABLE",
        "SecurityPolicyDatabaseSet": [{"LocalCidrBlock": "10.0.0.0/16", "RemoteCidrBlock": ["10.100.1.0/24"]}],
        "IKEOptionsSpecification": {
            "PropoEncryAlgorithm": "AES-CBC-256",
            "PropoAuthenAlgorithm": "SHA",
            "ExchangeMode": "MAIN",
            "LocalIdentity": "ADDRESS",
            "RemoteIdentity": "ADDRESS",
            "LocalAddress": "203.0.113.10",
            "RemoteAddress": "198.51.100.20",
            "LocalFqdnName": "",
            "RemoteFqdnName": "",
            "DhGroupName": "GROUP2",
            "IKESaLifetimeSeconds": 86400,
            "IKEVersion": "IKEV1",
        },
        "IPSECOptionsSpecification": {
            "EncryptAlgorithm": "AES-CBC-128",
            "IntegrityAlgorith": "SHA1",
            "IPSECSaLifetimeSeconds": 3600,
            "PfsDhGroup": "NULL",
            "IPSECSaLifetimeTraffic": 1843200,
        },
    }


@dataclass
class Received:
    """One verified request: its action, headers and decoded JSON payload (and the raw body)."""

    action: str
    headers: dict[str, str]
    payload: dict[str, Any]
    body: bytes


Answer = Callable[[Received], Awaitable[web.Response]]


def response(status: int = 200, **fields: Any) -> web.Response:
    body = {"Response": {**fields, "RequestId": str(uuid.uuid4())}}
    return web.json_response(body, status=status)


def ok(**fields: Any) -> Answer:
    async def answer(received: Received) -> web.Response:
        return response(**fields)

    return answer


def api_error(code: str, message: str = "refused", status: int = 200) -> Answer:
    async def answer(received: Received) -> web.Response:
        return response(status, Error={"Code": code, "Message": message})

    return answer


def raw(status: int, text: str, content_type: str = "text/html") -> Answer:
    async def answer(received: Received) -> web.Response:
        return web.Response(status=status, text=text, content_type=content_type)

    return answer


def without_request_id(**fields: Any) -> Answer:
    async def answer(received: Received) -> web.Response:
        return web.json_response({"Response": fields})

    return answer


def modify_ok(request_id: str = "3c140219-cfe9-470e-b241-907877d6fb03") -> Answer:
    async def answer(received: Received) -> web.Response:
        return web.json_response({"Response": {"RequestId": request_id}})

    return answer


@dataclass
class StandIn:
    """The API 3.0 endpoint: verifies like the service, records, then plays the scripted answers per action (the
    last one repeats). ``hang`` answers wait until teardown (a real timeout for the client)."""

    secret_key: str = SECRET_KEY
    token: str | None = None
    endpoint: str = ""
    received: list[Received] = field(default_factory=list)
    arrivals: list[str] = field(default_factory=list)
    script: dict[str, list[Answer]] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def on(self, action: str, *answers: Answer) -> StandIn:
        self.script[action] = list(answers)
        return self

    def of(self, action: str) -> list[Received]:
        return [r for r in self.received if r.action == action]

    async def hang(self, received: Received) -> web.Response:
        await self.release.wait()
        return response()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        self.arrivals.append(headers.get("X-TC-Action", ""))
        refusal = self.refusal(request, body)
        if refusal is not None:
            return response(Error={"Code": refusal, "Message": "refused by the stand-in"})
        received = Received(headers["X-TC-Action"], headers, json.loads(body.decode("utf-8")), body)
        self.received.append(received)
        answers = self.script[received.action]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return await answer(received)

    def refusal(self, request: web.Request, body: bytes) -> str | None:
        """The API's error code for a request the service would refuse, or None."""
        headers = request.headers
        assert request.method == "POST"
        assert request.path == "/"
        assert not request.query_string
        assert headers["Content-Type"] == TC3_CONTENT_TYPE
        assert headers["X-TC-Version"] == "2017-03-12"
        assert headers["X-TC-Action"] in (DESCRIBE, MODIFY, TASK)
        assert headers["X-TC-Region"]
        parsed = parse_tc3_authorization(headers.get("Authorization", ""))
        if parsed is None:
            return "AuthFailure.InvalidAuthorization"
        secret_id, date, service, signed_headers, signature = parsed
        timestamp = int(headers["X-TC-Timestamp"])
        if abs(timestamp - time.time()) > 300:
            return "AuthFailure.SignatureExpire"
        if secret_id != SECRET_ID:
            return "AuthFailure.SecretIdNotFound"
        if (date, service, signed_headers) != (tc3_date(timestamp), "vpc", "content-type;host"):
            return "AuthFailure.InvalidAuthorization"
        host = request.host  # the Host header as received, port included, as the SDK signs it
        expected = tc3_signature(
            self.secret_key,
            service="vpc",
            host=host,
            timestamp=timestamp,
            payload=body,
            content_type=headers["Content-Type"],
        )
        if not hmac.compare_digest(expected, signature):
            return "AuthFailure.SignatureFailure"
        if headers.get("X-TC-Token") != self.token:
            return "AuthFailure.TokenFailure"
        return None


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


def client_for(cloud: StandIn, credentials: Credentials | None = None, **options: Any) -> VpcClientV3:
    options.setdefault("retry_base", 0.0)
    options.setdefault("limit_retry_base", 0.0)
    options.setdefault("fingerprints", FINGERPRINTS)
    credentials = credentials or Credentials(SECRET_ID, SecretStr(SECRET_KEY))
    return VpcClientV3(credentials, endpoint=cloud.endpoint, **options)


@pytest.fixture
async def client(cloud: StandIn) -> AsyncIterator[VpcClientV3]:
    async with client_for(cloud) as vpc:
        yield vpc


def current() -> VpnConnection:
    return read_connection(v3_item(), fingerprints=FINGERPRINTS)


def seed_proposal() -> tuple[VpnConnection, Proposal]:
    conn = current()
    return conn, propose(conn.settings, {"userGwCidrBlock": "10.100.2.0/24", "preSharedKey": NEW_PSK})


# --- reads --------------------------------------------------------------------------------------------------------


async def test_describe_sends_the_signed_headers_and_normalises(cloud: StandIn, client: VpcClientV3) -> None:
    cloud.on(DESCRIBE, ok(TotalCount=1, VpnConnectionSet=[v3_item()]))
    conn = await client.describe_vpn_conn(CONN_ID)
    assert conn == current()
    assert (conn.vpn_conn_id, conn.vpc_id, conn.name, conn.status_text) == (
        CONN_ID,
        "vpc-03vihbk9",
        "office-gz",
        "normal",
    )
    assert conn.settings["IKESet.propoAuthenAlgorithm"] == "sha"
    [sent] = cloud.received
    assert sent.payload == {"VpnConnectionIds": [CONN_ID], "Offset": 0, "Limit": 100}
    assert sent.headers["X-TC-Action"] == DESCRIBE
    assert sent.headers["X-TC-Region"] == "ap-guangzhou"
    assert abs(int(sent.headers["X-TC-Timestamp"]) - time.time()) < 5
    assert sent.headers["Host"] == cloud.endpoint.split("/")[2]  # the port is in the Host header...
    assert ":" in sent.headers["Host"]  # ... and the signature (verified) covers it as sent
    assert sent.headers["Authorization"].startswith(f"TC3-HMAC-SHA256 Credential={SECRET_ID}/")
    assert "X-TC-Token" not in sent.headers
    assert client.calls == {DESCRIBE: 1}


async def test_describe_of_an_empty_set_is_not_found(cloud: StandIn, client: VpcClientV3) -> None:
    cloud.on(DESCRIBE, ok(TotalCount=0, VpnConnectionSet=[]))
    with pytest.raises(NotFoundError) as caught:
        await client.describe_vpn_conn("vpnx-missing")
    assert caught.value.code == caught.value.code_desc == "ResourceNotFound"
    assert "vpnx-missing" in str(caught.value)
    assert client.calls[DESCRIBE] == 1


async def test_describe_answering_another_connection_is_not_found(cloud: StandIn, client: VpcClientV3) -> None:
    cloud.on(DESCRIBE, ok(TotalCount=1, VpnConnectionSet=[v3_item("vpnx-other")]))
    with pytest.raises(NotFoundError):
        await client.describe_vpn_conn(CONN_ID)


@pytest.mark.parametrize(
    ("code", "not_found"),
    [
        ("ResourceNotFound", True),
        ("ResourceNotFound.VpnConnection", True),
        ("InvalidParameterValue.VpnConnectionIdNotFound", True),
        ("AuthFailure.SecretIdNotFound", False),
        ("InvalidParameterValue.Malformed", False),
        ("UnauthorizedOperation", False),
    ],
)
async def test_api_errors_and_not_found(cloud: StandIn, client: VpcClientV3, code: str, not_found: bool) -> None:
    cloud.on(DESCRIBE, api_error(code, "the message"))
    with pytest.raises(ApiError) as caught:
        await client.describe_vpn_conn(CONN_ID)
    error = caught.value
    assert isinstance(error, NotFoundError) is not_found
    assert (error.action, error.code, error.code_desc, error.message) == (DESCRIBE, code, code, "the message")
    assert str(error) == f"{DESCRIBE} failed: {code}: the message"
    assert not error.retryable
    assert client.calls[DESCRIBE] == 1


async def test_a_wrong_key_is_refused_and_not_retried(cloud: StandIn) -> None:
    cloud.on(DESCRIBE, ok(VpnConnectionSet=[]))
    async with client_for(cloud, Credentials(SECRET_ID, SecretStr("wrong-key"))) as vpc:
        with pytest.raises(ApiError, match=r"AuthFailure\.SignatureFailure"):
            await vpc.describe_vpn_conn(CONN_ID)
        assert vpc.calls[DESCRIBE] == 1
    assert cloud.arrivals == [DESCRIBE]


@pytest.mark.parametrize(
    "code",
    [
        "RequestLimitExceeded",
        "RequestLimitExceeded.UinLimitExceeded",
        "InternalError",
        "InternalError.ModuleError",
        "ServiceUnavailable",
    ],
)
async def test_transient_codes_are_retried(cloud: StandIn, client: VpcClientV3, code: str) -> None:
    cloud.on(TASK, api_error(code), api_error(code), ok(Status="SUCCESS", Output="success"))
    assert await client.task_status("req-1") == TaskState(TaskStatus.SUCCEEDED)
    assert client.calls[TASK] == 3


@pytest.mark.parametrize(
    "code", ["ResourceUnavailable", "ResourceInUse", "LimitExceeded", "RequestLimitExceededX", "FailedOperation"]
)
async def test_other_codes_are_not_retried(cloud: StandIn, client: VpcClientV3, code: str) -> None:
    cloud.on(TASK, api_error(code), ok(Status="SUCCESS"))
    with pytest.raises(ApiError):
        await client.task_status("req-1")
    assert client.calls[TASK] == 1


async def test_5xx_reads_are_retried_then_a_server_error(cloud: StandIn, client: VpcClientV3) -> None:
    cloud.on(DESCRIBE, raw(503, "<html>busy</html>"), raw(502, "<html>bad</html>"), ok(VpnConnectionSet=[v3_item()]))
    await client.describe_vpn_conn(CONN_ID)
    assert client.calls[DESCRIBE] == 3
    cloud.on(DESCRIBE, raw(500, "<html>upstream error</html>"))
    with pytest.raises(ServerError) as caught:
        await client.describe_vpn_conn(CONN_ID)
    assert caught.value.status == 500
    assert "upstream" not in str(caught.value)
    assert client.calls[DESCRIBE] == 3 + 4


async def test_non_json_is_retried_and_never_shown(cloud: StandIn, client: VpcClientV3) -> None:
    cloud.on(DESCRIBE, raw(200, "<html>gateway</html>"), ok(VpnConnectionSet=[v3_item()]))
    await client.describe_vpn_conn(CONN_ID)
    assert client.calls[DESCRIBE] == 2
    cloud.on(DESCRIBE, raw(200, "<html>gateway</html>"))
    with pytest.raises(TransportError, match="not JSON") as caught:
        await client.describe_vpn_conn(CONN_ID)
    assert "gateway" not in str(caught.value)
    assert caught.value.__context__ is None


@pytest.mark.parametrize(
    "body",
    [
        [1, 2],
        {"code": 0, "data": []},
        {"Response": "x"},
        {"Response": {"Error": "x", "RequestId": "r"}},
        {"Response": {"Error": {"Message": "no code"}, "RequestId": "r"}},
    ],
)
async def test_other_shapes_are_response_errors_not_retried(cloud: StandIn, client: VpcClientV3, body: Any) -> None:
    async def answer(received: Received) -> web.Response:
        return web.json_response(body)

    cloud.on(DESCRIBE, answer)
    with pytest.raises(ResponseError):
        await client.describe_vpn_conn(CONN_ID)
    assert client.calls[DESCRIBE] == 1


async def test_an_unreadable_enum_is_a_response_error(cloud: StandIn, client: VpcClientV3) -> None:
    """SM4 or a value nobody knows is data to show and carry (tests/test_wire_v3.py); a number is not an enum."""
    item = v3_item()
    item["IKEOptionsSpecification"]["PropoEncryAlgorithm"] = 42
    cloud.on(DESCRIBE, ok(VpnConnectionSet=[item]))
    with pytest.raises(ResponseError, match="PropoEncryAlgorithm") as caught:
        await client.describe_vpn_conn(CONN_ID)
    assert OLD_PSK not in str(caught.value)


async def test_transport_failures_are_retried_then_raised() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    credentials = Credentials(SECRET_ID, SecretStr(SECRET_KEY))
    async with VpcClientV3(credentials, endpoint=f"http://127.0.0.1:{port}/", retry_base=0.0) as vpc:
        with pytest.raises(TransportError, match="ConnectError"):
            await vpc.task_status("req-1")
        assert vpc.calls == {TASK: 4}


async def test_list_pages_until_total_count(cloud: StandIn, client: VpcClientV3) -> None:
    items = [v3_item(f"vpnx-{i:04d}", f"conn-{i}") for i in range(250)]

    async def page(received: Received) -> web.Response:
        start, size = received.payload["Offset"], received.payload["Limit"]
        return response(TotalCount=250, VpnConnectionSet=items[start : start + size])

    cloud.on(DESCRIBE, page)
    found = (await client.list_vpn_conns(vpc_id="vpc-03vihbk9", name="conn")).connections
    assert [c.vpn_conn_id for c in found] == [f"vpnx-{i:04d}" for i in range(250)]
    filters = [{"Name": "vpc-id", "Values": ["vpc-03vihbk9"]}, {"Name": "vpn-connection-name", "Values": ["conn"]}]
    assert [r.payload for r in cloud.received] == [
        {"Filters": filters, "Offset": offset, "Limit": 100} for offset in (0, 100, 200)
    ]


async def test_list_stops_on_an_empty_page(cloud: StandIn, client: VpcClientV3) -> None:
    cloud.on(DESCRIBE, ok(TotalCount=99, VpnConnectionSet=[v3_item()]), ok(TotalCount=99, VpnConnectionSet=[]))
    assert len((await client.list_vpn_conns(vpn_gw_id="vpngw-kfldykuz")).connections) == 1
    assert client.calls[DESCRIBE] == 2


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"Status": "SUCCESS", "Output": "success"}, TaskState(TaskStatus.SUCCEEDED)),
        ({"Status": "RUNNING", "Output": ""}, TaskState(TaskStatus.RUNNING)),
        ({"Status": "QUEUED"}, TaskState(TaskStatus.RUNNING)),
        (
            {"Status": "FAILED", "Output": "tunnel renegotiation failed"},
            TaskState(TaskStatus.FAILED, "tunnel renegotiation failed"),
        ),
        ({"Status": "FAILED"}, TaskState(TaskStatus.FAILED)),
    ],
)
async def test_task_status(cloud: StandIn, client: VpcClientV3, fields: dict[str, Any], expected: TaskState) -> None:
    cloud.on(TASK, ok(**fields))
    assert await client.task_status("3c140219-cfe9") == expected
    assert cloud.received[0].payload == {"TaskId": "3c140219-cfe9"}


@pytest.mark.parametrize(
    "code",
    [
        "ResourceNotFound",
        "ResourceNotFound.TaskNotFound",
        "InvalidParameterValue",
        "InvalidParameterValue.Malformed",
        "UnsupportedOperation",
        "UnsupportedOperation.TaskNotSupported",
    ],
)
async def test_a_task_the_service_does_not_keep_is_no_task(cloud: StandIn, client: VpcClientV3, code: str) -> None:
    cloud.on(TASK, api_error(code, "The task does not exist."))
    assert await client.task_status("3c140219-cfe9") == TaskState(TaskStatus.NO_TASK)
    assert client.calls == {TASK: 1}


@pytest.mark.parametrize("code", ["InvalidParameter", "AuthFailure.UnauthorizedOperation", "FailedOperation"])
async def test_other_task_refusals_are_errors(cloud: StandIn, client: VpcClientV3, code: str) -> None:
    cloud.on(TASK, api_error(code))
    with pytest.raises(ApiError, match=code):
        await client.task_status("r")


async def test_tencents_rate_limits_are_the_default_and_can_be_turned_off(cloud: StandIn) -> None:
    credentials = Credentials(SECRET_ID, SecretStr(SECRET_KEY))
    async with make_client("v3", credentials, endpoint=cloud.endpoint) as vpc:
        assert vpc.rate_limits == dict(TENCENT_RATE_LIMITS)
    async with make_client("v3", credentials, endpoint=cloud.endpoint, rate_limits={}) as vpc:
        assert vpc.rate_limits == {}
    async with make_client("v2", credentials, endpoint=cloud.endpoint) as vpc:
        assert vpc.rate_limits == {}


async def test_polls_stay_under_the_limit_in_any_window(cloud: StandIn) -> None:
    arrived: list[float] = []

    async def running(received: Received) -> web.Response:
        arrived.append(time.monotonic())
        return response(Status="RUNNING")

    cloud.on(TASK, running)
    async with client_for(cloud, rate_limits={TASK: 5}) as vpc:
        started = time.monotonic()
        await asyncio.gather(*(vpc.task_status(f"req-{n}") for n in range(12)))
        assert time.monotonic() - started >= 2 * (1.0 + MARGIN_SECONDS) - 0.05  # 12 polls at 5 a window: 3 windows
    most = max(sum(1 for u in arrived if t <= u < t + 1.0) for t in arrived)
    assert most <= 5
    assert len(arrived) == 12


async def test_task_status_without_status_is_a_response_error(cloud: StandIn, client: VpcClientV3) -> None:
    cloud.on(TASK, ok(Output="?"))
    with pytest.raises(ResponseError, match="Status"):
        await client.task_status("r")


# --- the edit -----------------------------------------------------------------------------------------------------


async def test_modify_sends_only_the_changes_and_returns_the_request_id(cloud: StandIn, client: VpcClientV3) -> None:
    cloud.on(MODIFY, modify_ok("req-42"))
    task_id = await client.modify_vpn_conn(*seed_proposal())
    assert task_id == "req-42"
    [sent] = cloud.received
    assert sent.action == MODIFY
    assert sent.payload == {
        "VpnConnectionId": CONN_ID,
        "PreShareKey": NEW_PSK,
        "SecurityPolicyDatabases": [{"LocalCidrBlock": "10.0.0.0/16", "RemoteCidrBlock": ["10.100.2.0/24"]}],
    }
    assert client.calls == {MODIFY: 1}


async def test_non_ascii_is_sent_as_utf8_and_signed_as_sent(cloud: StandIn, client: VpcClientV3) -> None:
    cloud.on(MODIFY, modify_ok())
    conn = current()
    await client.modify_vpn_conn(conn, propose(conn.settings, {"vpnConnName": "广州-上海 隧道"}))
    [sent] = cloud.received
    assert "广州-上海 隧道".encode() in sent.body
    assert sent.payload["VpnConnectionName"] == "广州-上海 隧道"


async def test_edit_then_follow_the_request_id(cloud: StandIn, client: VpcClientV3) -> None:
    cloud.on(MODIFY, modify_ok("req-7"))
    cloud.on(TASK, ok(Status="RUNNING"), ok(Status="SUCCESS", Output="success"))
    conn = current()
    task_id = await client.modify_vpn_conn(conn, propose(conn.settings, {"IPsecSet.pfsDhGroup": "dh-group14"}))
    result = await TaskFollower(client.task_status, initial_interval=0.01, max_interval=0.01, deadline=5).follow(
        task_id
    )
    assert (result.task_id, result.outcome, result.polls) == ("req-7", TaskOutcome.SUCCEEDED, 2)
    assert [r.payload for r in cloud.of(TASK)] == [{"TaskId": "req-7"}] * 2
    ipsec = cloud.of(MODIFY)[0].payload["IPSECOptionsSpecification"]
    assert ipsec["PfsDhGroup"] == "DH-GROUP14"
    assert ipsec["IntegrityAlgorith"] == "SHA1"


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (raw(503, "<html>busy</html>"), ServerError),
        (api_error("InternalError"), ApiError),
        (api_error("UnsupportedOperation.VpnConnInvalidState"), ApiError),
        (api_error("RequestLimitExceededX"), ApiError),
        (raw(200, "oops"), TransportError),
    ],
)
async def test_modify_is_sent_exactly_once_whatever_fails(
    cloud: StandIn, client: VpcClientV3, answer: Answer, error: type[CloudError]
) -> None:
    cloud.on(MODIFY, answer, modify_ok())
    with pytest.raises(error):
        await client.modify_vpn_conn(*seed_proposal())
    assert client.calls == {MODIFY: 1}
    assert cloud.arrivals == [MODIFY]


@pytest.mark.parametrize("code", ["RequestLimitExceeded", "RequestLimitExceeded.UinLimitExceeded"])
async def test_modify_refused_for_the_rate_limit_is_sent_again(cloud: StandIn, client: VpcClientV3, code: str) -> None:
    cloud.on(MODIFY, api_error(code), api_error(code), modify_ok("req-after-limit"))
    assert await client.modify_vpn_conn(*seed_proposal()) == "req-after-limit"
    assert client.calls == {MODIFY: 3}
    assert cloud.arrivals == [MODIFY] * 3
    assert all(r.payload == cloud.of(MODIFY)[0].payload for r in cloud.of(MODIFY))  # the same edit, nothing else


async def test_modify_always_over_the_limit_gives_up_with_the_refusal(cloud: StandIn, client: VpcClientV3) -> None:
    cloud.on(MODIFY, api_error("RequestLimitExceeded", "slow down"))
    with pytest.raises(ApiError, match="RequestLimitExceeded") as caught:
        await client.modify_vpn_conn(*seed_proposal())
    assert caught.value.rate_limited
    assert client.calls == {MODIFY: LIMIT_ATTEMPTS}


async def test_modify_timeout_is_real_unknown_and_not_retried(cloud: StandIn) -> None:
    cloud.on(MODIFY, cloud.hang)
    started = time.monotonic()
    async with client_for(cloud, timeout=0.3) as vpc:
        with pytest.raises(CloudTimeoutError, match="may or may not have been applied"):
            await vpc.modify_vpn_conn(*seed_proposal())
        assert vpc.calls == {MODIFY: 1}
    assert 0.3 <= time.monotonic() - started < 3
    assert cloud.arrivals == [MODIFY]


async def test_modify_success_without_request_id_is_a_response_error(cloud: StandIn, client: VpcClientV3) -> None:
    cloud.on(MODIFY, without_request_id(PreShareKey=NEW_PSK))
    with pytest.raises(ResponseError, match="RequestId") as caught:
        await client.modify_vpn_conn(*seed_proposal())
    assert NEW_PSK not in repr(caught.value)


async def test_not_found_from_the_edit(cloud: StandIn, client: VpcClientV3) -> None:
    cloud.on(MODIFY, api_error("ResourceNotFound", "no such connection"))
    with pytest.raises(NotFoundError, match="ResourceNotFound"):
        await client.modify_vpn_conn(*seed_proposal())


# --- credentials, options, the factory ----------------------------------------------------------------------------


async def test_temporary_credentials_send_x_tc_token(cloud: StandIn) -> None:
    cloud.token = TOKEN
    cloud.on(TASK, ok(Status="RUNNING"))
    credentials = Credentials(SECRET_ID, SecretStr(SECRET_KEY), token=TOKEN)
    async with client_for(cloud, credentials, region="ap-shanghai") as vpc:
        assert await vpc.task_status("r") == TaskState(TaskStatus.RUNNING)
    [sent] = cloud.received
    assert (sent.headers["X-TC-Token"], sent.headers["X-TC-Region"]) == (TOKEN, "ap-shanghai")
    assert TOKEN not in repr(credentials)
    async with client_for(cloud) as vpc:  # the stand-in now wants the token
        with pytest.raises(ApiError, match="TokenFailure"):
            await vpc.task_status("r")


async def test_make_client_picks_the_dialect_and_its_default_endpoint() -> None:
    credentials = Credentials(SECRET_ID, SecretStr(SECRET_KEY), token=TOKEN)
    v3 = make_client("v3", credentials)
    v2 = make_client("v2", credentials, signature_method="HmacSHA1")
    try:
        assert isinstance(v3, VpcClientV3)
        assert isinstance(v2, VpcClient)
        assert DEFAULT_ENDPOINTS == {
            "v2": "https://vpc.api.qcloud.com/v2/index.php",
            "v3": "https://vpc.tencentcloudapi.com/",
        }
        assert "vpc.tencentcloudapi.com" in repr(v3)
        assert "vpc.api.qcloud.com" in repr(v2)
        assert SECRET_KEY not in repr(v3) + repr(v2)
        assert TOKEN not in repr(v3) + repr(v2)
    finally:
        await v3.aclose()
        await v2.aclose()
    with pytest.raises(ValueError, match="v4"):
        make_client("v4", credentials)  # type: ignore[arg-type]


async def test_the_v2_client_refuses_a_v3_task_id_without_sending() -> None:
    async with make_client("v2", Credentials(SECRET_ID, SecretStr(SECRET_KEY)), endpoint="http://127.0.0.1:9/") as vpc:
        with pytest.raises(ValueError, match=r"API 2\.0 task id is a number"):
            await vpc.task_status("3c140219-cfe9-470e-b241-907877d6fb03")
        assert vpc.calls == {}


async def test_make_client_v3_against_the_stand_in(cloud: StandIn) -> None:
    cloud.on(DESCRIBE, ok(VpnConnectionSet=[v3_item()]))
    credentials = Credentials(SECRET_ID, SecretStr(SECRET_KEY))
    async with make_client("v3", credentials, endpoint=cloud.endpoint, retry_base=0.0) as vpc:
        assert (await vpc.describe_vpn_conn(CONN_ID)).vpn_conn_id == CONN_ID
        assert vpc.calls == {DESCRIBE: 1}


# Both dialects' clients (API 2.0's ``VpcClient`` is tested on its own in test_client_unit.py).


@pytest.mark.parametrize("cls", [VpcClient, VpcClientV3], ids=["v2", "v3"])
async def test_aclose_closes_only_its_own_http_client(cls: type[VpcClient]) -> None:
    mine = httpx.AsyncClient()
    async with cls(Credentials(SECRET_ID, SecretStr(SECRET_KEY)), http=mine):
        pass
    assert not mine.is_closed
    await mine.aclose()
    own = cls(Credentials(SECRET_ID, SecretStr(SECRET_KEY)))
    await own.aclose()
    assert own._http.is_closed


@pytest.mark.parametrize(
    ("cls", "options"),
    [
        (VpcClient, {"endpoint": "vpc.api.qcloud.com/v2"}),  # no scheme
        (VpcClientV3, {"endpoint": "vpc.tencentcloudapi.com"}),
        *((cls, options) for cls in (VpcClient, VpcClientV3) for options in ({"timeout": 0}, {"read_attempts": 0})),
    ],
    ids=["v2-endpoint", "v3-endpoint", "v2-timeout", "v2-read_attempts", "v3-timeout", "v3-read_attempts"],
)
def test_bad_options(cls: type[VpcClient], options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"endpoint|need"):
        cls(Credentials(SECRET_ID, SecretStr(SECRET_KEY)), **options)


# --- secrets ------------------------------------------------------------------------------------------------------


def _texts(error: BaseException) -> str:
    chain: list[str] = []
    seen: BaseException | None = error
    while seen is not None:
        chain += [str(seen), repr(seen), repr(seen.args)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(chain)


async def test_no_secret_in_logs_errors_or_reprs(cloud: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cloud.token = TOKEN
    credentials = Credentials(SECRET_ID, SecretStr(SECRET_KEY), token=TOKEN)
    async with client_for(cloud, credentials, timeout=0.3) as client:
        cloud.on(DESCRIBE, ok(VpnConnectionSet=[v3_item()]))
        conn = await client.describe_vpn_conn(CONN_ID)
        _, proposal = seed_proposal()
        cloud.on(MODIFY, modify_ok())
        await client.modify_vpn_conn(conn, proposal)
        errors: list[CloudError] = []
        for answer in (
            api_error("InvalidParameterValue", f"PreShareKey {NEW_PSK} too weak; key {SECRET_KEY}; token {TOKEN}"),
            api_error(f"Weird.{NEW_PSK}", "code echoes the key"),
            cloud.hang,
            raw(500, f"<html>{NEW_PSK}</html>"),
            raw(200, f"not json {NEW_PSK}"),
            without_request_id(PreShareKey=NEW_PSK),
        ):
            cloud.on(MODIFY, answer)
            with pytest.raises(CloudError) as caught:
                await client.modify_vpn_conn(conn, proposal)
            errors.append(caught.value)
        cloud.on(DESCRIBE, api_error("InvalidParameter", f"bad {SECRET_KEY}"))
        with pytest.raises(ApiError) as read_error:
            await client.describe_vpn_conn(CONN_ID)
        errors.append(read_error.value)
        shown_client = repr(client)

    assert "PreShareKey *** too weak; key ***; token ***" in str(errors[0])
    logged = caplog.text + "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    assert MODIFY in caplog.text
    assert "PreShareKey" in caplog.text  # the names of what is sent are logged, never the values
    shown = "\n".join([logged, *map(_texts, errors), shown_client, repr(conn), repr(proposal)])
    for secret in (SECRET_KEY, OLD_PSK, NEW_PSK, TOKEN):
        assert secret not in shown
