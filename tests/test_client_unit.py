"""VpcClient against a stand-in for the API 2.0 endpoint that verifies every signature and answers in the API's shapes.

Most tests use ``httpx.MockTransport``; the loopback tests use a real aiohttp server (real form encoding, a real
``Host: 127.0.0.1:<port>`` header, a real timeout).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from aiohttp import web
from items import FINGERPRINTS, item
from pydantic import SecretStr

from bot.tencent import (
    ApiError,
    CloudError,
    CloudTimeoutError,
    Credentials,
    NotFoundError,
    ResponseError,
    ServerError,
    TaskState,
    TaskStatus,
    TransportError,
    VpcClient,
)
from bot.tencent.client import LIMIT_ATTEMPTS
from bot.tencent.signing import sign, signature_method_of, string_to_sign
from bot.vpn.connection import VpnConnection, connection_from_describe
from bot.vpn.edit import propose

SECRET_ID = "AKIDunitTestSecretId0001"
SECRET_KEY = "sk-Unit-Test-Key-7f3a9c"
OLD_PSK = "old-psk-Yy72-plain"
NEW_PSK = "new-psk-Zz81-plain"
HOST = "vpc.example.test"
PATH = "/v2/index.php"
ENDPOINT = f"https://{HOST}:8443{PATH}"  # a port: the signature covers the Host header as sent, port included

Answer = Callable[[httpx.Request], httpx.Response]


def describe_item(conn_id: str = "vpnx-ol6bcqp0", name: str = "office-gz") -> dict[str, Any]:
    """A DescribeVpnConn item as API 2.0 returns it: numbers as strings, sha1, the key in plain text."""
    return item(unVpnConnId=conn_id, vpnConnName=name, preSharedKey=OLD_PSK, destinationCidr=["10.100.1.0/24"])


def ok(**fields: Any) -> Answer:
    return lambda request: httpx.Response(200, json={"code": "0", "message": "", "codeDesc": "Success", **fields})


def api_error(code: int | str, code_desc: str, message: str) -> Answer:
    return lambda request: httpx.Response(200, json={"code": code, "codeDesc": code_desc, "message": message})


def http_status(status: int) -> Answer:
    return lambda request: httpx.Response(status, text="<html>upstream error</html>")


def raises(kind: type[httpx.TransportError]) -> Answer:
    def answer(request: httpx.Request) -> httpx.Response:
        raise kind("simulated", request=request)

    return answer


def modify_echo(task_id: int | str = 12614) -> Answer:
    """The seed's ModifyVpnConnEx output, which echoes the new key."""
    data = {"vpnGwId": "vpngw-kfldykuz", "vpcConnId": "vpnx-ol6bcqp0", "taskId": task_id, "vpcConnStatus": 2}
    return ok(data={**data, "preSharedKey": NEW_PSK, "userGwSubnetList": ["10.100.2.0/24"], "userGwId": 315})


class FakeCloud:
    """Verifies each request like the service (POST form, signature over host-without-port, clock, fresh nonce),
    records the verified parameters, then plays the next scripted answer for the action (the last one repeats)."""

    def __init__(self, secret_key: str = SECRET_KEY, host: str = f"{HOST}:8443") -> None:
        self.secret_key = secret_key
        self.host = host
        self.script: dict[str, list[Answer]] = {}
        self.requests: list[dict[str, str]] = []
        self.nonces: set[str] = set()

    def on(self, action: str, *answers: Answer) -> FakeCloud:
        self.script[action] = list(answers)
        return self

    def of(self, action: str) -> list[dict[str, str]]:
        return [r for r in self.requests if r["Action"] == action]

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        assert request.url.path == PATH
        assert not request.url.query
        form = dict(parse_qsl(request.content.decode("ascii"), keep_blank_values=True, strict_parsing=True))
        refusal = self.refusal(form)
        if refusal:
            return refusal(request)
        self.requests.append(form)
        answers = self.script[form["Action"]]
        return (answers.pop(0) if len(answers) > 1 else answers[0])(request)

    def refusal(self, form: dict[str, str]) -> Answer | None:
        text = string_to_sign("POST", self.host, PATH, form)
        if form.get("Signature") != sign(self.secret_key, text, signature_method_of(form)):
            return api_error(4100, "AuthFailure", "signature mismatch")
        if abs(int(form["Timestamp"]) - time.time()) > 300 or form["Nonce"] in self.nonces:
            return api_error(4500, "RequestReplay", "replayed")
        self.nonces.add(form["Nonce"])
        return None


@pytest.fixture
def cloud() -> FakeCloud:
    return FakeCloud()


@pytest.fixture
async def client(cloud: FakeCloud) -> AsyncIterator[VpcClient]:
    async with make_client(cloud) as vpc:
        yield vpc


def make_client(cloud: FakeCloud, credentials: Credentials | None = None, **options: Any) -> VpcClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(cloud.handle))
    options.setdefault("retry_base", 0.0)
    options.setdefault("limit_retry_base", 0.0)
    options.setdefault("fingerprints", FINGERPRINTS)
    return VpcClient(
        credentials or Credentials(SECRET_ID, SecretStr(SECRET_KEY)), endpoint=ENDPOINT, http=http, **options
    )


def current() -> VpnConnection:
    return connection_from_describe(describe_item(), fingerprints=FINGERPRINTS)


# --- reads --------------------------------------------------------------------------------------------------------


async def test_describe_signs_the_common_parameters_and_normalises(cloud: FakeCloud, client: VpcClient) -> None:
    cloud.on("DescribeVpnConn", ok(totalCount=1, data=[describe_item()]))
    conn = await client.describe_vpn_conn("vpnx-ol6bcqp0")
    assert conn == current()
    assert (conn.vpn_conn_id, conn.vpc_id, conn.name) == ("vpnx-ol6bcqp0", "vpc-03vihbk9", "office-gz")
    [sent] = cloud.requests
    assert sent["vpnConnId"] == "vpnx-ol6bcqp0"
    assert {k: sent[k] for k in ("Action", "Region", "SecretId", "SignatureMethod")} == {
        "Action": "DescribeVpnConn",
        "Region": "ap-guangzhou",
        "SecretId": SECRET_ID,
        "SignatureMethod": "HmacSHA256",
    }
    assert abs(int(sent["Timestamp"]) - time.time()) < 5
    assert 1 <= int(sent["Nonce"]) <= 2**31 - 1
    assert "Token" not in sent
    assert client.calls == {"DescribeVpnConn": 1}


async def test_integer_code_zero_is_success_too(cloud: FakeCloud, client: VpcClient) -> None:
    cloud.on(
        "DescribeVpnConn", lambda r: httpx.Response(200, json={"code": 0, "totalCount": 1, "data": [describe_item()]})
    )
    assert (await client.describe_vpn_conn("vpnx-ol6bcqp0")).vpn_gw_id == "vpngw-kfldykuz"


async def test_describe_of_nothing_is_not_found(cloud: FakeCloud, client: VpcClient) -> None:
    cloud.on("DescribeVpnConn", ok(totalCount=0, data=[]))
    with pytest.raises(NotFoundError) as caught:
        await client.describe_vpn_conn("vpnx-missing")
    assert isinstance(caught.value, ApiError)
    assert caught.value.code == caught.value.code_desc == "InvalidVpnConn.NotFound"
    assert "vpnx-missing" in str(caught.value)
    assert client.calls["DescribeVpnConn"] == 1


async def test_api_error_fields_and_text(cloud: FakeCloud, client: VpcClient) -> None:
    cloud.on("DescribeVpnConn", api_error(4000, "InvalidParameter", "vpnConnId is malformed"))
    with pytest.raises(ApiError) as caught:
        await client.describe_vpn_conn("bad")
    error = caught.value
    assert (error.action, error.code, error.code_desc, error.message) == (
        "DescribeVpnConn",
        4000,
        "InvalidParameter",
        "vpnConnId is malformed",
    )
    assert str(error) == "DescribeVpnConn failed: 4000 InvalidParameter: vpnConnId is malformed"
    assert not error.retryable
    assert client.calls["DescribeVpnConn"] == 1


async def test_string_codes_keep_their_form(cloud: FakeCloud, client: VpcClient) -> None:
    cloud.on("DescribeVpnConn", api_error("4104", "AuthFailure", "SecretId disabled"))
    with pytest.raises(ApiError) as caught:
        await client.describe_vpn_conn("vpnx-1")
    assert caught.value.code == "4104"
    assert caught.value.numeric_code == 4104


async def test_a_wrong_key_is_refused_and_not_retried(cloud: FakeCloud) -> None:
    async with make_client(cloud, Credentials(SECRET_ID, SecretStr("wrong"))) as vpc:
        cloud.on("DescribeVpnConn", ok(data=[]))
        with pytest.raises(ApiError, match="4100 AuthFailure"):
            await vpc.describe_vpn_conn("vpnx-1")
        assert vpc.calls["DescribeVpnConn"] == 1


async def test_5xx_reads_are_retried_with_fresh_nonce_and_signature(cloud: FakeCloud, client: VpcClient) -> None:
    cloud.on("DescribeVpnConn", http_status(503), http_status(502), ok(totalCount=1, data=[describe_item()]))
    await client.describe_vpn_conn("vpnx-ol6bcqp0")
    assert client.calls["DescribeVpnConn"] == 3
    assert len({r["Nonce"] for r in cloud.requests}) == 3
    assert len({r["Signature"] for r in cloud.requests}) == 3


async def test_5xx_until_the_attempts_run_out_is_a_server_error(cloud: FakeCloud, client: VpcClient) -> None:
    cloud.on("DescribeVpnConn", http_status(503))
    with pytest.raises(ServerError) as caught:
        await client.describe_vpn_conn("vpnx-1")
    assert caught.value.status == 503
    assert isinstance(caught.value, TransportError)
    assert "upstream" not in str(caught.value)
    assert client.calls["DescribeVpnConn"] == 4


async def test_backoff_doubles(cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    cloud.on("DescribeVpcTaskResult", raises(httpx.ConnectError))
    async with make_client(cloud, retry_base=0.5, read_attempts=4) as vpc:
        with pytest.raises(TransportError, match="ConnectError"):
            await vpc.task_status(1)
    assert len(sleeps) == 3
    for seconds, base in zip(sleeps, [0.5, 1.0, 2.0], strict=True):
        assert base <= seconds <= base * 1.1


@pytest.mark.parametrize("code", [4400, 6000, "6200"])
async def test_retryable_api_codes_are_retried(cloud: FakeCloud, client: VpcClient, code: int | str) -> None:
    cloud.on("DescribeVpcTaskResult", api_error(code, "Busy", "later"), ok(data={"status": 0}))
    assert await client.task_status(5) == TaskState(TaskStatus.SUCCEEDED)
    assert client.calls["DescribeVpcTaskResult"] == 2


async def test_read_timeouts_exhaust_into_cloud_timeout(cloud: FakeCloud, client: VpcClient) -> None:
    cloud.on("DescribeVpnConn", raises(httpx.ReadTimeout))
    with pytest.raises(CloudTimeoutError) as caught:
        await client.describe_vpn_conn("vpnx-1")
    assert isinstance(caught.value, TransportError)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert client.calls["DescribeVpnConn"] == 4


async def test_non_json_is_a_transport_error_and_retried(cloud: FakeCloud, client: VpcClient) -> None:
    html = lambda request: httpx.Response(200, text="<html>gateway</html>")  # noqa: E731
    cloud.on("DescribeVpnConn", html, ok(totalCount=1, data=[describe_item()]))
    await client.describe_vpn_conn("vpnx-ol6bcqp0")
    cloud.on("DescribeVpnConn", html)
    with pytest.raises(TransportError, match="not JSON") as caught:
        await client.describe_vpn_conn("vpnx-ol6bcqp0")
    assert "gateway" not in str(caught.value)
    assert caught.value.__context__ is None


@pytest.mark.parametrize("body", [[1, 2], {"message": "no code"}])
async def test_json_without_a_code_is_a_response_error_not_retried(
    cloud: FakeCloud, client: VpcClient, body: object
) -> None:
    cloud.on("DescribeVpnConn", lambda request: httpx.Response(200, json=body))
    with pytest.raises(ResponseError):
        await client.describe_vpn_conn("vpnx-1")
    assert client.calls["DescribeVpnConn"] == 1


async def test_unreadable_item_is_a_response_error(cloud: FakeCloud, client: VpcClient) -> None:
    broken = describe_item()
    del broken["IKESet"]
    cloud.on("DescribeVpnConn", ok(totalCount=1, data=[broken]))
    with pytest.raises(ResponseError, match="IKESet"):
        await client.describe_vpn_conn("vpnx-ol6bcqp0")


async def test_list_pages_until_total_count(cloud: FakeCloud, client: VpcClient) -> None:
    items = [describe_item(f"vpnx-{i:04d}", f"conn-{i}") for i in range(120)]

    def page(request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        start, size = int(form["offset"]), int(form["limit"])
        return ok(totalCount="120", data=items[start : start + size])(request)

    cloud.on("DescribeVpnConn", page)
    found = (await client.list_vpn_conns(vpc_id="vpc-03vihbk9")).connections
    assert [c.vpn_conn_id for c in found] == [f"vpnx-{i:04d}" for i in range(120)]
    assert [(r["offset"], r["limit"], r["vpcId"]) for r in cloud.requests] == [
        ("0", "50", "vpc-03vihbk9"),
        ("50", "50", "vpc-03vihbk9"),
        ("100", "50", "vpc-03vihbk9"),
    ]


async def test_list_stops_on_an_empty_page(cloud: FakeCloud, client: VpcClient) -> None:
    cloud.on("DescribeVpnConn", ok(totalCount=99, data=[describe_item()]), ok(totalCount=99, data=[]))
    assert len((await client.list_vpn_conns(name="office")).connections) == 1
    assert [r["vpnConnName"] for r in cloud.requests] == ["office", "office"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"status": 0}, TaskState(TaskStatus.SUCCEEDED)),
        ({"status": "2"}, TaskState(TaskStatus.RUNNING)),
        ({"status": 7}, TaskState(TaskStatus.RUNNING)),
        (
            {"status": 1, "output": "tunnel renegotiation failed"},
            TaskState(TaskStatus.FAILED, "tunnel renegotiation failed"),
        ),
        ({"status": "1"}, TaskState(TaskStatus.FAILED)),
    ],
)
async def test_task_status(cloud: FakeCloud, client: VpcClient, data: dict[str, Any], expected: TaskState) -> None:
    cloud.on("DescribeVpcTaskResult", ok(data=data))
    assert await client.task_status(12614) == expected
    assert cloud.requests[0]["taskId"] == "12614"


async def test_over_quota_backs_off_longer_and_more_often(cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    cloud.on("DescribeVpnConn", api_error(4400, "RequestLimitExceeded", "over quota"))
    async with make_client(cloud, retry_base=0.01, read_attempts=2, limit_retry_base=1.0) as vpc:
        assert vpc.rate_limits == {}  # API 2.0 documents no limits: nothing is limited in the client
        with pytest.raises(ApiError) as caught:
            await vpc.describe_vpn_conn("vpnx-1")
        assert caught.value.rate_limited
        assert vpc.calls["DescribeVpnConn"] == LIMIT_ATTEMPTS  # more than read_attempts: a limit answer slows down
    assert len(sleeps) == LIMIT_ATTEMPTS - 1
    for seconds, base in zip(sleeps, [1.0, 2.0, 4.0, 8.0, 8.0], strict=True):
        assert base <= seconds <= base * 1.5


async def test_task_status_without_data_is_a_response_error(cloud: FakeCloud, client: VpcClient) -> None:
    cloud.on("DescribeVpcTaskResult", ok())
    with pytest.raises(ResponseError):
        await client.task_status(1)


# --- the edit -----------------------------------------------------------------------------------------------------


def seed_proposal() -> tuple[VpnConnection, Any]:
    conn = current()
    return conn, propose(conn.settings, {"userGwCidrBlock": "10.100.2.0/24", "preSharedKey": NEW_PSK})


@pytest.mark.parametrize("task_id", [12614, "12614"])
async def test_modify_sends_the_seed_parameters_and_returns_the_task_id(
    cloud: FakeCloud, client: VpcClient, task_id: int | str
) -> None:
    cloud.on("ModifyVpnConnEx", modify_echo(task_id))
    result = await client.modify_vpn_conn(*seed_proposal())
    assert result == 12614
    assert type(result) is int
    [sent] = cloud.requests
    action_params = {k: v for k, v in sent.items() if k[0].islower()}
    assert action_params == {
        "vpcId": "vpc-03vihbk9",
        "vpnGwId": "vpngw-kfldykuz",
        "vpnConnId": "vpnx-ol6bcqp0",
        "userGwCidrBlock.0": "10.100.2.0/24",
        "preSharedKey": NEW_PSK,
    }


async def test_spd_json_survives_the_form_encoding_once(cloud: FakeCloud, client: VpcClient) -> None:
    cloud.on("ModifyVpnConnEx", modify_echo())
    conn = current()
    spd = '{"10.0.0.0/24":["192.168.1.0/24"],"10.1.0.0/24":["192.168.1.0/24"]}'
    await client.modify_vpn_conn(conn, propose(conn.settings, {"spdAcl": spd}))
    sent = cloud.requests[0]
    assert json.loads(sent["spdAcl.0"]) == {"10.0.0.0/24": ["192.168.1.0/24"]}
    assert sent["spdAcl.1"] == '{"10.1.0.0/24":["192.168.1.0/24"]}'


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (http_status(503), ServerError),
        (raises(httpx.ReadTimeout), CloudTimeoutError),
        (raises(httpx.ConnectError), TransportError),
        (api_error(6000, "InternalError", "retry later"), ApiError),
        (lambda request: httpx.Response(200, text="oops"), TransportError),
    ],
)
async def test_modify_is_sent_exactly_once_whatever_fails(
    cloud: FakeCloud, client: VpcClient, answer: Answer, error: type[CloudError]
) -> None:
    cloud.on("ModifyVpnConnEx", answer, modify_echo())
    with pytest.raises(error):
        await client.modify_vpn_conn(*seed_proposal())
    assert client.calls == {"ModifyVpnConnEx": 1}
    assert len(cloud.requests) == 1


async def test_modify_refused_over_quota_is_sent_again_after_a_wait(
    cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    over = api_error(4400, "RequestLimitExceeded", "over quota")
    cloud.on("ModifyVpnConnEx", over, over, modify_echo(777))
    async with make_client(cloud, limit_retry_base=1.0) as vpc:
        assert await vpc.modify_vpn_conn(*seed_proposal()) == 777
        assert vpc.calls == {"ModifyVpnConnEx": 3}
    assert len(sleeps) == 2
    assert 1.0 <= sleeps[0] <= 1.5
    assert 2.0 <= sleeps[1] <= 3.0
    assert len({r["Nonce"] for r in cloud.requests}) == 3  # each one signed afresh


async def test_modify_over_quota_every_time_gives_up_with_the_refusal(cloud: FakeCloud, client: VpcClient) -> None:
    cloud.on("ModifyVpnConnEx", api_error("4400", "RequestLimitExceeded", "over quota"))
    with pytest.raises(ApiError, match="4400"):
        await client.modify_vpn_conn(*seed_proposal())
    assert client.calls == {"ModifyVpnConnEx": LIMIT_ATTEMPTS}


async def test_modify_timeout_says_the_outcome_is_unknown(cloud: FakeCloud, client: VpcClient) -> None:
    cloud.on("ModifyVpnConnEx", raises(httpx.WriteTimeout))
    with pytest.raises(CloudTimeoutError, match="may or may not have been applied"):
        await client.modify_vpn_conn(*seed_proposal())


async def test_modify_success_without_task_id_is_a_response_error(cloud: FakeCloud, client: VpcClient) -> None:
    cloud.on("ModifyVpnConnEx", ok(data={"preSharedKey": NEW_PSK}))
    with pytest.raises(ResponseError, match="taskId") as caught:
        await client.modify_vpn_conn(*seed_proposal())
    assert NEW_PSK not in repr(caught.value)


async def test_not_found_from_the_api(cloud: FakeCloud, client: VpcClient) -> None:
    cloud.on("ModifyVpnConnEx", api_error(4000, "InvalidVpc.NotFound", "no such VPC"))
    with pytest.raises(NotFoundError, match=r"InvalidVpc\.NotFound"):
        await client.modify_vpn_conn(*seed_proposal())


# --- credentials, options ----------------------------------------------------------------------------------------


async def test_token_and_sha1_are_sent_when_configured(cloud: FakeCloud) -> None:
    credentials = Credentials(SECRET_ID, SecretStr(SECRET_KEY), token="tmp-token-1")
    cloud.on("DescribeVpcTaskResult", ok(data={"status": 2}))
    async with make_client(cloud, credentials, signature_method="HmacSHA1", region="ap-shanghai") as vpc:
        await vpc.task_status(3)
    [sent] = cloud.requests
    assert (sent["Token"], sent["SignatureMethod"], sent["Region"]) == ("tmp-token-1", "HmacSHA1", "ap-shanghai")
    assert "tmp-token-1" not in repr(credentials)
    assert SECRET_KEY not in repr(credentials)


# aclose and bad options: test_client_v3_unit.py, for both dialects' clients.


# --- secrets ------------------------------------------------------------------------------------------------------


def _texts(error: BaseException) -> str:
    chain: list[str] = []
    seen: BaseException | None = error
    while seen is not None:
        chain += [str(seen), repr(seen), repr(seen.args)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(chain)


async def test_no_secret_in_logs_errors_or_reprs(
    cloud: FakeCloud, client: VpcClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cloud.on("DescribeVpnConn", ok(totalCount=1, data=[describe_item()]))
    conn = await client.describe_vpn_conn("vpnx-ol6bcqp0")
    _, proposal = seed_proposal()
    cloud.on("ModifyVpnConnEx", modify_echo())
    await client.modify_vpn_conn(conn, proposal)
    errors: list[CloudError] = []
    for answer in (
        api_error(4000, "InvalidParameter", f"preSharedKey {NEW_PSK} too weak; key {SECRET_KEY}"),
        raises(httpx.ReadTimeout),
        raises(httpx.ConnectError),
        http_status(500),
        lambda request: httpx.Response(200, text=f"not json {NEW_PSK}"),
        ok(data={"preSharedKey": NEW_PSK}),
    ):
        cloud.on("ModifyVpnConnEx", answer)
        with pytest.raises(CloudError) as caught:
            await client.modify_vpn_conn(conn, proposal)
        errors.append(caught.value)
    cloud.on("DescribeVpnConn", api_error(4000, "InvalidParameter", f"bad {SECRET_KEY}"))
    with pytest.raises(ApiError) as read_error:
        await client.describe_vpn_conn("vpnx-ol6bcqp0")
    errors.append(read_error.value)

    assert "preSharedKey *** too weak; key ***" in str(errors[0])
    logged = caplog.text + "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    assert "ModifyVpnConnEx" in caplog.text
    assert "preSharedKey" in caplog.text
    shown = "\n".join([logged, *map(_texts, errors), repr(client), repr(conn), repr(proposal)])
    for secret in (SECRET_KEY, OLD_PSK, NEW_PSK):
        assert secret not in shown


# --- real HTTP on loopback ----------------------------------------------------------------------------------------


@dataclass
class Loopback:
    endpoint: str
    cloud: FakeCloud
    hosts: list[str]
    arrived: list[str]


@pytest.fixture
async def loopback() -> AsyncIterator[Loopback]:
    """A real aiohttp server that checks requests with FakeCloud; ``ModifyVpnConnEx`` hangs until teardown."""
    fake = FakeCloud(host="127.0.0.1")
    fake.on("ModifyVpnConnEx", modify_echo())
    release = asyncio.Event()
    hosts: list[str] = []
    arrived: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        hosts.append(request.host)
        fake.host = request.host  # the Host header as received: what the signature covers
        action = dict(parse_qsl(body.decode())).get("Action", "")
        arrived.append(action)
        if action == "ModifyVpnConnEx":
            await release.wait()
        headers = {"content-type": request.headers["Content-Type"]}
        answer = fake.handle(httpx.Request("POST", f"http://127.0.0.1{request.path_qs}", content=body, headers=headers))
        return web.Response(status=answer.status_code, body=answer.content, content_type="application/json")

    app = web.Application()
    app.router.add_post(PATH, handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        yield Loopback(f"http://127.0.0.1:{port}{PATH}", fake, hosts, arrived)
    finally:
        release.set()
        await runner.cleanup()


async def test_loopback_signature_covers_the_host_with_its_port(loopback: Loopback) -> None:
    loopback.cloud.on("DescribeVpnConn", ok(totalCount=1, data=[describe_item()]))
    async with VpcClient(Credentials(SECRET_ID, SecretStr(SECRET_KEY)), endpoint=loopback.endpoint) as vpc:
        conn = await vpc.describe_vpn_conn("vpnx-ol6bcqp0")
    assert conn.vpn_conn_id == "vpnx-ol6bcqp0"
    assert loopback.hosts == [loopback.endpoint.split("/")[2]]
    assert ":" in loopback.hosts[0]
    assert len(loopback.cloud.requests) == 1


async def test_loopback_edit_timeout_is_real_and_not_retried(loopback: Loopback) -> None:
    conn, proposal = seed_proposal()
    started = time.monotonic()
    async with VpcClient(Credentials(SECRET_ID, SecretStr(SECRET_KEY)), endpoint=loopback.endpoint, timeout=0.3) as vpc:
        with pytest.raises(CloudTimeoutError):
            await vpc.modify_vpn_conn(conn, proposal)
        assert vpc.calls == {"ModifyVpnConnEx": 1}
    assert 0.3 <= time.monotonic() - started < 3
    assert loopback.arrived == ["ModifyVpnConnEx"]
