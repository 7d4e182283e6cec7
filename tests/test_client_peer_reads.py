"""The clients' reads for a revert and for the peer device, over real loopback HTTP: ``pre_shared_key`` (both
dialects) against the simulator and a hostile stand-in; Tencent's peer configuration (API 3.0's
``DescribeCustomerGatewayVendors`` and ``DownloadCustomerGatewayConfiguration``) against a stand-in that answers in
the official SDK's response models and checks every request against its request models, and against the
simulator; ``parse_vendor``; API 2.0's refusal to send what it has not."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import time
import urllib.parse
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr
from tencentcloud.vpc.v20170312 import models

from bot.sim import DEMO_SECRET_ID, DEMO_SECRET_KEY, SimServer, SimState, load_world
from bot.sim.peer_config import VENDORS as SIM_VENDORS
from bot.sim.shapes_v3 import vpn_connection
from bot.tencent import (
    ApiError,
    CloudApi,
    CloudClient,
    CloudError,
    Credentials,
    GatewayVendor,
    NotFoundError,
    ResponseError,
    TransportError,
    UnsupportedActionError,
    make_client,
    parse_vendor,
)
from bot.tencent.peer import CONFIGURATION_MAX_BYTES, VENDORS_MAX
from bot.tencent.psk import live_key
from bot.tencent.wire_v3 import read_connection
from bot.vpn.connection import SecretFingerprints, VpnConnection
from bot.vpn.edit import propose
from bot.vpn.params import PRE_SHARED_KEY_MAX

SEED_CONN = "vpnx-ol6bcqp0"
DESCRIBE: dict[CloudApi, str] = {"v2": "DescribeVpnConn", "v3": "DescribeVpnConnections"}
KEY_FIELD: dict[CloudApi, str] = {"v2": "preSharedKey", "v3": "PreShareKey"}
VENDORS = "DescribeCustomerGatewayVendors"
DOWNLOAD = "DownloadCustomerGatewayConfiguration"
HOSTILE = "hostile-KEY-7f3e9a"
"""A key the stand-in's answers carry: searched for in every log line and exception text."""
CISCO = GatewayVendor("cisco", "ios", "V15.4")
H3C = GatewayVendor("h3c", "comware", "V1.0")
API_DIALECTS: tuple[CloudApi, ...] = ("v2", "v3")


# --- helpers ----------------------------------------------------------------------------------------------------


def texts_of(error: BaseException) -> Iterator[str]:
    """Every text an error shows, its causes' and contexts' too."""
    seen: BaseException | None = error
    while seen is not None:
        yield str(seen)
        yield repr(seen)
        yield str(getattr(seen, "detail", ""))
        yield str(getattr(seen, "message", ""))
        seen = seen.__cause__ or seen.__context__


def assert_clean(secret: str, caplog: pytest.LogCaptureFixture, *errors: BaseException, client: Any = None) -> None:
    assert secret not in caplog.text
    for record in caplog.records:
        assert secret not in record.getMessage()
    for error in errors:
        for text in texts_of(error):
            assert secret not in text
    if client is not None:
        assert secret not in repr(client)
        assert all(secret not in action for action in client.calls)


async def settled(client: CloudClient, vpn_conn_id: str) -> VpnConnection:
    """The connection once it is back to normal (an edit done)."""
    deadline = time.monotonic() + 10
    while True:
        connection = await client.describe_vpn_conn(vpn_conn_id)
        if connection.status == 6 or time.monotonic() > deadline:
            return connection
        await asyncio.sleep(0.05)


# --- the simulator ----------------------------------------------------------------------------------------------


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    world = load_world(None).model_copy(update={"task_seconds": 0.1})
    async with SimServer(SimState(world)) as server:
        yield server


def sim_client(sim: SimServer, api: CloudApi, **options: Any) -> CloudClient:
    credentials = Credentials(DEMO_SECRET_ID, SecretStr(DEMO_SECRET_KEY))
    endpoint = sim.v3_url if api == "v3" else sim.url
    return make_client(api, credentials, endpoint=endpoint, **options)


def world_key(sim: SimServer, vpn_conn_id: str = SEED_CONN) -> str:
    key = sim.state.connection(vpn_conn_id)["preSharedKey"]
    assert isinstance(key, str)
    assert key
    return key


@pytest.mark.parametrize("api", API_DIALECTS)
async def test_the_key_read_is_the_worlds_and_has_describes_fingerprint(
    sim: SimServer, api: CloudApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fingerprints = SecretFingerprints.random()
    expected = world_key(sim)
    async with sim_client(sim, api, fingerprints=fingerprints) as client:
        connection = await client.describe_vpn_conn(SEED_CONN)
        key = await client.pre_shared_key(SEED_CONN)
        assert key is not None
        assert key.get_secret_value() == expected
        assert fingerprints.of(key.get_secret_value()) == connection.settings.psk_fingerprint
        assert connection.settings.psk_is(key.get_secret_value())
        assert client.calls[DESCRIBE[api]] == 2
        with pytest.raises(NotFoundError) as caught:
            await client.pre_shared_key("vpnx-00000000")
        assert_clean(expected, caplog, caught.value, client=client)
        assert expected not in repr(key)
        assert expected not in str(key)
    assert sim.state.received(DESCRIBE[api]) == 3


@pytest.mark.parametrize("api", API_DIALECTS)
async def test_a_kept_key_reverts_a_change_of_the_key(sim: SimServer, api: CloudApi) -> None:
    original = world_key(sim)
    async with sim_client(sim, api) as client:
        kept = await client.pre_shared_key(SEED_CONN)
        assert kept is not None
        connection = await client.describe_vpn_conn(SEED_CONN)
        await client.modify_vpn_conn(connection, propose(connection.settings, {"preSharedKey": "brand-New-Key-42"}))
        changed = await settled(client, SEED_CONN)
        assert world_key(sim) == "brand-New-Key-42"
        live = await client.pre_shared_key(SEED_CONN)
        assert live is not None
        assert live.get_secret_value() == "brand-New-Key-42"
        assert not changed.settings.psk_is(kept.get_secret_value())
        revert = propose(changed.settings, {"preSharedKey": kept.get_secret_value()})
        await client.modify_vpn_conn(changed, revert)
        reverted = await settled(client, SEED_CONN)
    assert world_key(sim) == original
    assert reverted.settings.psk_is(original)


@pytest.mark.parametrize("api", API_DIALECTS)
async def test_the_key_read_is_retried_like_describe(sim: SimServer, api: CloudApi) -> None:
    async with sim_client(sim, api, retry_base=0.01, limit_retry_base=0.01, read_attempts=3) as client:
        sim.state.update_faults({"overQuota": {"DescribeVpnConn": 2}, "http5xx": {"DescribeVpnConn": 1}})
        key = await client.pre_shared_key(SEED_CONN)
        assert key is not None
        assert key.get_secret_value() == world_key(sim)
        assert sim.state.received(DESCRIBE[api]) == 4
        sim.state.update_faults({"failureRate": {"DescribeVpnConn": 1.0}})
        with pytest.raises(ApiError) as caught:
            await client.pre_shared_key(SEED_CONN)
        assert caught.value.retryable
    assert sim.state.received(DESCRIBE[api]) == 4 + 3


@pytest.mark.parametrize("api", API_DIALECTS)
async def test_the_key_read_keeps_the_describe_rate_limit(sim: SimServer, api: CloudApi) -> None:
    async with sim_client(sim, api, rate_limits={DESCRIBE[api]: 1}) as client:
        started = time.monotonic()
        await client.describe_vpn_conn(SEED_CONN)
        await client.pre_shared_key(SEED_CONN)
        assert time.monotonic() - started >= 1.0  # the second request waited for the limiter's window
    assert sim.state.peak_rate(DESCRIBE[api]) == 1


# --- a stand-in for the cloud: any answer, the SDK's shapes ---------------------------------------------------------

Reply = Callable[[], web.Response]


def v3(**fields: Any) -> Reply:
    return lambda: web.json_response({"Response": {**fields, "RequestId": str(uuid.uuid4())}})


def v3_error(code: str, message: str = "refused") -> Reply:
    return v3(Error={"Code": code, "Message": message})


def v2(**fields: Any) -> Reply:
    return lambda: web.json_response({"code": 0, "message": "", "codeDesc": "Success", **fields})


def raw(status: int, body: bytes, content_type: str = "text/html") -> Reply:
    return lambda: web.Response(status=status, body=body, content_type=content_type)


def sdk(response: models.AbstractModel) -> Reply:
    """The answer as the official SDK's response model serialises it."""
    return lambda: web.json_response({"Response": json.loads(response.to_json_string())})


@dataclass
class StandIn:
    """An endpoint answering each action with its replies in turn (the last one again and again), recording what
    it received: ``(action, payload)``, the payload the JSON object (API 3.0) or the form (API 2.0)."""

    url: str = ""
    replies: dict[str, list[Reply]] = field(default_factory=dict)
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def on(self, action: str, *replies: Reply) -> None:
        self.replies[action] = list(replies)

    def sent(self, action: str) -> list[dict[str, Any]]:
        return [payload for name, payload in self.received if name == action]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        action = request.headers.get("X-TC-Action")
        if action is None:
            form = dict(urllib.parse.parse_qsl(body.decode()))
            action, payload = form.get("Action", ""), form
        else:
            payload = json.loads(body)
        self.received.append((action, payload))
        queue = self.replies.get(action)
        if not queue:
            return web.Response(status=404, text="no such action here")
        return (queue.pop(0) if len(queue) > 1 else queue[0])()


@pytest.fixture
async def cloud() -> AsyncIterator[StandIn]:
    stand_in = StandIn()
    app = web.Application()
    app.router.add_post("/{tail:.*}", stand_in.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    stand_in.url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
    try:
        yield stand_in
    finally:
        await runner.cleanup()


def stand_in_client(cloud: StandIn, api: CloudApi, **options: Any) -> CloudClient:
    credentials = Credentials("AKIDpeerReadsTest01", SecretStr("peer-reads-secret-key"))
    endpoint = cloud.url if api == "v3" else cloud.url + "v2/index.php"
    defaults: dict[str, Any] = {"retry_base": 0.0, "limit_retry_base": 0.0, "read_attempts": 3, "rate_limits": {}}
    return make_client(api, credentials, endpoint=endpoint, **{**defaults, **options})


def v2_items() -> list[dict[str, Any]]:
    return SimState(load_world(None)).connections()


def v3_items() -> list[dict[str, Any]]:
    return [vpn_connection(c) for c in SimState(load_world(None)).all()]


DROP = object()
"""A field value in ``seed_item``: leave the field out."""


def seed_item(api: CloudApi, **changes: Any) -> dict[str, Any]:
    items = v2_items() if api == "v2" else v3_items()
    id_field = "unVpnConnId" if api == "v2" else "VpnConnectionId"
    item = next(i for i in items if i[id_field] == SEED_CONN)
    item.update(changes)
    return {k: v for k, v in item.items() if v is not DROP}


def listing(api: CloudApi, *items: dict[str, Any]) -> Reply:
    if api == "v2":
        return v2(totalCount=len(items), data=list(items))
    return v3(TotalCount=len(items), VpnConnectionSet=list(items))


@pytest.mark.parametrize("api", API_DIALECTS)
@pytest.mark.parametrize(
    ("key", "why"),
    [
        (12345, "not text"),
        ([HOSTILE], "not text"),
        ({"key": HOSTILE}, "not text"),
        (True, "not text"),
        (HOSTILE * 8, f"longer than {PRE_SHARED_KEY_MAX} characters"),
        (HOSTILE + "\ud800", "not valid Unicode"),
    ],
    ids=["number", "list", "object", "bool", "too-long", "lone-surrogate"],
)
async def test_an_unusable_key_is_a_response_error_naming_the_field(
    cloud: StandIn, api: CloudApi, key: object, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cloud.on(DESCRIBE[api], listing(api, seed_item(api, **{KEY_FIELD[api]: key})))
    async with stand_in_client(cloud, api) as client:
        with pytest.raises(ResponseError) as caught:
            await client.pre_shared_key(SEED_CONN)
        assert KEY_FIELD[api] in str(caught.value)
        assert why in str(caught.value)
        assert client.calls == {DESCRIBE[api]: 1}  # a cloud data error is not retried
        assert_clean(HOSTILE, caplog, caught.value, client=client)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize("api", API_DIALECTS)
@pytest.mark.parametrize("key", [None, "", DROP], ids=["null", "empty", "absent"])
async def test_no_key_reported_is_none(cloud: StandIn, api: CloudApi, key: object) -> None:
    cloud.on(DESCRIBE[api], listing(api, seed_item(api, **{KEY_FIELD[api]: key})))
    async with stand_in_client(cloud, api) as client:
        assert await client.pre_shared_key(SEED_CONN) is None
        assert (await client.describe_vpn_conn(SEED_CONN)).settings.psk_fingerprint is None


@pytest.mark.parametrize("api", API_DIALECTS)
async def test_the_key_at_the_limit_is_read_whole(
    cloud: StandIn, api: CloudApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    longest = (HOSTILE * 10)[:PRE_SHARED_KEY_MAX]
    cloud.on(DESCRIBE[api], listing(api, seed_item(api, **{KEY_FIELD[api]: longest})))
    async with stand_in_client(cloud, api) as client:
        key = await client.pre_shared_key(SEED_CONN)
        assert key is not None
        assert key.get_secret_value() == longest
        assert_clean(HOSTILE, caplog, client=client)


@pytest.mark.parametrize("api", API_DIALECTS)
async def test_the_key_comes_from_the_item_describe_reads(cloud: StandIn, api: CloudApi) -> None:
    """Two items naming the connection (a hostile page): describe reads the first readable one, and so does the
    key read, whose fingerprint is that item's."""
    broken = seed_item(api, **{KEY_FIELD[api]: "key-of-broken-item"})
    broken.pop("IKEOptionsSpecification", None)
    first = seed_item(api, **{KEY_FIELD[api]: "key-of-first-item"})
    second = seed_item(api, **{KEY_FIELD[api]: "key-of-second-item"})
    if api == "v2":
        cloud.on(DESCRIBE[api], listing(api, first, second))  # API 2.0 reads one item by id: duplicates only
    else:
        cloud.on(DESCRIBE[api], listing(api, broken, first, second))
    async with stand_in_client(cloud, api) as client:
        connection = await client.describe_vpn_conn(SEED_CONN)
        key = await client.pre_shared_key(SEED_CONN)
    assert key is not None
    assert key.get_secret_value() == "key-of-first-item"
    assert connection.settings.psk_is("key-of-first-item")


async def test_api2_reads_the_key_of_the_sole_item_asked_for_by_number(cloud: StandIn) -> None:
    cloud.on(DESCRIBE["v2"], listing("v2", seed_item("v2", preSharedKey=HOSTILE)))
    async with stand_in_client(cloud, "v2") as client:
        key = await client.pre_shared_key("3001")
    assert key is not None
    assert key.get_secret_value() == HOSTILE
    assert cloud.sent(DESCRIBE["v2"])[0]["vpnConnId"] == "3001"


@pytest.mark.parametrize("api", API_DIALECTS)
async def test_an_unreadable_connection_fails_the_key_read_as_it_fails_describe(
    cloud: StandIn, api: CloudApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    item = seed_item(api, **{KEY_FIELD[api]: HOSTILE})
    item["vpnConnName" if api == "v2" else "VpnConnectionName"] = ["not", "a", "name", HOSTILE]
    cloud.on(DESCRIBE[api], listing(api, item))
    async with stand_in_client(cloud, api) as client:
        with pytest.raises(ResponseError) as from_describe:
            await client.describe_vpn_conn(SEED_CONN)
        with pytest.raises(ResponseError) as from_key:
            await client.pre_shared_key(SEED_CONN)
    assert str(from_key.value) == str(from_describe.value)
    assert_clean(HOSTILE, caplog, from_key.value, from_describe.value)


def test_a_key_other_than_the_one_fingerprinted_is_refused() -> None:
    """The check behind "the key is the one that read fingerprinted": a key, or its absence, that disagrees
    with the connection's fingerprint (or under another fingerprinter) is a cloud data error, the key unnamed."""
    fingerprints = SecretFingerprints.random()
    keyed = read_connection(seed_item("v3", PreShareKey=HOSTILE), fingerprints=fingerprints)
    keyless = read_connection(seed_item("v3", PreShareKey=DROP), fingerprints=fingerprints)
    key = live_key(DESCRIBE["v3"], "PreShareKey", HOSTILE, keyed, fingerprints)
    assert key is not None
    assert key.get_secret_value() == HOSTILE
    assert live_key(DESCRIBE["v3"], "PreShareKey", None, keyless, fingerprints) is None
    for raw, connection, by in (
        (HOSTILE + "x", keyed, fingerprints),
        (None, keyed, fingerprints),
        (HOSTILE, keyless, fingerprints),
        (HOSTILE, keyed, SecretFingerprints.random()),
    ):
        with pytest.raises(ResponseError, match="PreShareKey of vpnx-ol6bcqp0 does not match") as caught:
            live_key(DESCRIBE["v3"], "PreShareKey", raw, connection, by)
        assert HOSTILE not in str(caught.value)


# --- Tencent's peer configuration against the SDK's shapes ----------------------------------------------------------


def vendors_answer(*vendors: GatewayVendor) -> Reply:
    answer = models.DescribeCustomerGatewayVendorsResponse()
    answer.CustomerGatewayVendorSet = []
    for vendor in vendors:
        item = models.CustomerGatewayVendor()
        item.VendorName, item.Platform, item.SoftwareVersion = vendor.vendor, vendor.platform, vendor.software_version
        answer.CustomerGatewayVendorSet.append(item)
    answer.RequestId = str(uuid.uuid4())
    return sdk(answer)


def configuration_answer(text: str) -> Reply:
    answer = models.DownloadCustomerGatewayConfigurationResponse()
    answer.CustomerGatewayConfiguration = text
    answer.RequestId = str(uuid.uuid4())
    return sdk(answer)


def sdk_request(model: type[models.AbstractModel], payload: dict[str, Any]) -> Any:
    """``payload`` read by the SDK's request model: a field the model does not know fails the test."""
    request = model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        request._deserialize(payload)  # CustomerGatewayVendor's fields are checked by its own model, nested
    return request


def configuration_text(key: str) -> str:
    return (
        "crypto isakmp policy 10\n encryption aes-256\n"
        f"crypto isakmp key {key} address 203.0.113.10\n"
        "crypto ipsec transform-set TS esp-aes 128 esp-sha-hmac\n"
    )


@pytest.fixture
async def peer_cloud(cloud: StandIn) -> StandIn:
    cloud.on(DESCRIBE["v3"], listing("v3", seed_item("v3", PreShareKey=HOSTILE)))
    cloud.on(VENDORS, vendors_answer(CISCO, H3C))
    return cloud


async def test_vendors_are_read_from_the_sdk_shape(peer_cloud: StandIn) -> None:
    async with stand_in_client(peer_cloud, "v3") as client:
        vendors = await client.customer_gateway_vendors()
        assert vendors == [CISCO, H3C]
        assert client.calls == {VENDORS: 1}
    (payload,) = peer_cloud.sent(VENDORS)
    assert payload == {}  # DescribeCustomerGatewayVendorsRequest has no fields


async def test_the_configuration_is_asked_for_in_the_sdk_shape_and_returned_as_is(
    peer_cloud: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    text = configuration_text(HOSTILE) + "# 中文 注释\r\n"
    peer_cloud.on(DOWNLOAD, configuration_answer(text))
    async with stand_in_client(peer_cloud, "v3") as client:
        connection = await client.describe_vpn_conn(SEED_CONN)
        got = await client.customer_gateway_configuration(connection, H3C, "eth0")
        assert got == text
        assert client.calls[DOWNLOAD] == 1
        assert_clean(HOSTILE, caplog, client=client)
    (payload,) = peer_cloud.sent(DOWNLOAD)
    request = sdk_request(models.DownloadCustomerGatewayConfigurationRequest, payload)
    assert request.VpnGatewayId == connection.vpn_gw_id
    assert request.VpnConnectionId == SEED_CONN
    assert request.InterfaceName == "eth0"
    assert (request.CustomerGatewayVendor.VendorName, request.CustomerGatewayVendor.Platform) == ("h3c", "comware")
    assert request.CustomerGatewayVendor.SoftwareVersion == "V1.0"


async def test_the_interface_name_is_always_sent_as_the_api_requires(peer_cloud: StandIn) -> None:
    peer_cloud.on(DOWNLOAD, configuration_answer("config"))
    async with stand_in_client(peer_cloud, "v3") as client:
        connection = await client.describe_vpn_conn(SEED_CONN)
        await client.customer_gateway_configuration(connection, CISCO)
    (payload,) = peer_cloud.sent(DOWNLOAD)
    assert payload["InterfaceName"] == ""
    assert set(payload) == {"VpnGatewayId", "VpnConnectionId", "CustomerGatewayVendor", "InterfaceName"}


@pytest.mark.parametrize("name", ["eth0\n", " eth0", "x" * 256, "eth\x000"], ids=["newline", "space", "long", "nul"])
async def test_a_bad_interface_name_sends_nothing(peer_cloud: StandIn, name: str) -> None:
    async with stand_in_client(peer_cloud, "v3") as client:
        connection = await client.describe_vpn_conn(SEED_CONN)
        with pytest.raises(ValueError, match="interface name"):
            await client.customer_gateway_configuration(connection, CISCO, name)
        assert DOWNLOAD not in client.calls
    assert peer_cloud.sent(DOWNLOAD) == []


@pytest.mark.parametrize(
    ("answer", "error", "words"),
    [
        (v3(CustomerGatewayConfiguration=12345), ResponseError, "no CustomerGatewayConfiguration text"),
        (v3(CustomerGatewayConfiguration=[HOSTILE]), ResponseError, "no CustomerGatewayConfiguration text"),
        (v3(CustomerGatewayConfiguration={"text": HOSTILE}), ResponseError, "no CustomerGatewayConfiguration text"),
        (v3(CustomerGatewayConfiguration=None), ResponseError, "no CustomerGatewayConfiguration text"),
        (v3(), ResponseError, "no CustomerGatewayConfiguration text"),
        (v3(CustomerGatewayConfiguration=HOSTILE + "\ud800"), ResponseError, "not valid Unicode"),
        (configuration_answer(HOSTILE * (CONFIGURATION_MAX_BYTES // len(HOSTILE) + 1)), ResponseError, "256 KiB"),
        (configuration_answer("é" * (CONFIGURATION_MAX_BYTES // 2 + 1)), ResponseError, "256 KiB"),
        (raw(200, b'{"Response": ["' + HOSTILE.encode() + b'"]}', "application/json"), ResponseError, "Response"),
        (raw(200, b"<html>" + HOSTILE.encode() + b"</html>"), TransportError, "not JSON"),
        (raw(200, b'{"Response": {"CustomerGatewayConfiguration": "' + HOSTILE.encode()), TransportError, "not JSON"),
        (v3_error("ResourceNotFound", f"no connection {HOSTILE}"), NotFoundError, "ResourceNotFound"),
        (v3_error("UnsupportedOperation", f"preSharedKey={HOSTILE}"), ApiError, "preSharedKey=(redacted)"),
        (v3_error("InvalidParameterValue", f"the key '{HOSTILE}' is bad"), ApiError, "'(redacted)'"),
    ],
    ids=[
        "number",
        "list",
        "object",
        "null",
        "absent",
        "lone-surrogate",
        "huge",
        "huge-in-utf8",
        "response-not-object",
        "html",
        "cut-off",
        "not-found",
        "refusal-echoing-key",
        "refusal-quoting-key",
    ],
)
async def test_a_hostile_configuration_answer_is_a_clean_cloud_error(
    peer_cloud: StandIn, answer: Reply, error: type[CloudError], words: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    peer_cloud.on(DOWNLOAD, answer)
    async with stand_in_client(peer_cloud, "v3") as client:
        connection = await client.describe_vpn_conn(SEED_CONN)
        with pytest.raises(error) as caught:
            await client.customer_gateway_configuration(connection, CISCO, "eth0")
        assert type(caught.value) is error
        assert words in str(caught.value)
        assert_clean(HOSTILE, caplog, caught.value, client=client)
        retried = error is TransportError
        assert client.calls[DOWNLOAD] == (3 if retried else 1)
    assert len(str(caught.value)) < 600


async def test_the_largest_configuration_is_read(peer_cloud: StandIn) -> None:
    text = "x" * CONFIGURATION_MAX_BYTES
    peer_cloud.on(DOWNLOAD, configuration_answer(text))
    async with stand_in_client(peer_cloud, "v3") as client:
        connection = await client.describe_vpn_conn(SEED_CONN)
        assert await client.customer_gateway_configuration(connection, CISCO) == text


@pytest.mark.parametrize("code", ["RequestLimitExceeded", "InternalError.ModuleError"])
async def test_passing_trouble_is_retried_as_for_any_read(peer_cloud: StandIn, code: str) -> None:
    peer_cloud.on(DOWNLOAD, v3_error(code), raw(503, b""), configuration_answer("config"))
    peer_cloud.on(VENDORS, v3_error(code), vendors_answer(CISCO))
    async with stand_in_client(peer_cloud, "v3") as client:
        connection = await client.describe_vpn_conn(SEED_CONN)
        assert await client.customer_gateway_configuration(connection, CISCO) == "config"
        assert await client.customer_gateway_vendors() == [CISCO]
        assert client.calls[DOWNLOAD] == 3
        assert client.calls[VENDORS] == 2


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (v3(), "no CustomerGatewayVendorSet list"),
        (v3(CustomerGatewayVendorSet=None), "no CustomerGatewayVendorSet list"),
        (v3(CustomerGatewayVendorSet={"VendorName": "cisco"}), "no CustomerGatewayVendorSet list"),
        (v3(CustomerGatewayVendorSet=[HOSTILE]), "CustomerGatewayVendorSet[0] is not an object"),
        (v3(CustomerGatewayVendorSet=[{"Platform": "ios"}]), "CustomerGatewayVendorSet[0].VendorName is missing"),
        (v3(CustomerGatewayVendorSet=[{"VendorName": 7}]), "CustomerGatewayVendorSet[0].VendorName is not text"),
        (
            v3(CustomerGatewayVendorSet=[{"VendorName": "cisco"}, {"VendorName": "h3c", "Platform": HOSTILE * 20}]),
            "CustomerGatewayVendorSet[1].Platform is not a printable name",
        ),
        (
            v3(CustomerGatewayVendorSet=[{"VendorName": f"{HOSTILE}\n"}]),
            "CustomerGatewayVendorSet[0].VendorName is not a printable name",
        ),
        (v3(CustomerGatewayVendorSet=[{"VendorName": "x"}] * (VENDORS_MAX + 1)), f"more than {VENDORS_MAX}"),
        (v3_error("AuthFailure.UnauthorizedOperation"), "AuthFailure.UnauthorizedOperation"),
    ],
    ids=["absent", "null", "object", "item-text", "no-name", "name-number", "long", "control", "too-many", "refused"],
)
async def test_a_hostile_vendor_list_is_a_clean_cloud_error(
    peer_cloud: StandIn, answer: Reply, words: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    peer_cloud.on(VENDORS, answer)
    async with stand_in_client(peer_cloud, "v3") as client:
        with pytest.raises(CloudError) as caught:
            await client.customer_gateway_vendors()
        assert words in str(caught.value)
        assert_clean(HOSTILE, caplog, caught.value, client=client)


async def test_vendors_are_listed_once_each_with_missing_parts_empty(peer_cloud: StandIn) -> None:
    items = [
        {"VendorName": "cisco", "Platform": "ios", "SoftwareVersion": "V15.4"},
        {"VendorName": "cisco", "Platform": "ios", "SoftwareVersion": "V15.4"},
        {"VendorName": "paloalto", "Platform": None},
    ]
    peer_cloud.on(VENDORS, v3(CustomerGatewayVendorSet=items))
    async with stand_in_client(peer_cloud, "v3") as client:
        assert await client.customer_gateway_vendors() == [CISCO, GatewayVendor("paloalto", "", "")]


# --- API 2.0 has no peer configuration --------------------------------------------------------------------------


async def test_api2_refuses_the_peer_configuration_and_sends_nothing(cloud: StandIn) -> None:
    cloud.on(DESCRIBE["v2"], listing("v2", seed_item("v2")))
    async with stand_in_client(cloud, "v2") as client:
        connection = await client.describe_vpn_conn(SEED_CONN)
        with pytest.raises(UnsupportedActionError) as vendors:
            await client.customer_gateway_vendors()
        with pytest.raises(UnsupportedActionError) as download:
            await client.customer_gateway_configuration(connection, CISCO, "eth0")
        assert client.calls == {DESCRIBE["v2"]: 1}
    assert [name for name, _ in cloud.received] == [DESCRIBE["v2"]]
    for caught, action in ((vendors, VENDORS), (download, DOWNLOAD)):
        assert isinstance(caught.value, CloudError)
        assert not isinstance(caught.value, (ApiError, TransportError))
        assert caught.value.action == action
        assert "API 3.0" in str(caught.value)
        assert "VPNBOT_CLOUD_API=v3" in str(caught.value)


# --- parse_vendor -----------------------------------------------------------------------------------------------

KNOWN = (
    CISCO,
    GatewayVendor("cisco", "ios", "V12.4"),
    GatewayVendor("cisco", "asa", "V9.8"),
    H3C,
    GatewayVendor("paloalto", "", ""),
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cisco", CISCO),
        ("CISCO", CISCO),
        ("  Cisco ", CISCO),
        ("cisco/ios", CISCO),
        ("cisco/IOS/v12.4", KNOWN[1]),
        ("cisco / asa", KNOWN[2]),
        ("H3C/Comware/V1.0", H3C),
        ("h3c", H3C),
        ("paloalto", KNOWN[4]),
    ],
)
def test_parse_vendor_matches_case_insensitively_and_fills_the_rest(text: str, expected: GatewayVendor) -> None:
    found = parse_vendor(text, KNOWN)
    assert found == expected
    assert any(found is vendor for vendor in KNOWN)  # Tencent's spelling, to be sent back exactly so


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("juniper", "unknown peer vendor 'juniper'"),
        ("cisco/nx-os", "cisco has no platform 'nx-os': Tencent Cloud offers ios, asa"),
        ("cisco/ios/V16", "cisco/ios has no version 'V16': Tencent Cloud offers V15.4, V12.4"),
        ("cisco//V15.4", "is not VENDOR[/PLATFORM[/VERSION]]"),
        ("cisco/", "is not VENDOR[/PLATFORM[/VERSION]]"),
        ("cisco/ios/V15.4/extra", "is not VENDOR[/PLATFORM[/VERSION]]"),
        ("paloalto/pan-os", "paloalto has no platform 'pan-os': Tencent Cloud offers (none)"),
    ],
)
def test_parse_vendor_says_what_is_wrong_and_what_is_known(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)) as caught:
        parse_vendor(text, KNOWN)
    assert words in str(caught.value)
    if "has no" not in words:
        assert "cisco/ios/V15.4, cisco/ios/V12.4, cisco/asa/V9.8, h3c/comware/V1.0" in str(caught.value)


def test_parse_vendor_with_nothing_known_says_so() -> None:
    with pytest.raises(ValueError, match="lists no customer gateway vendors"):
        parse_vendor("cisco", [])


def test_parse_vendor_quotes_a_long_value_cut() -> None:
    with pytest.raises(ValueError, match="unknown peer vendor") as caught:
        parse_vendor("x" * 5000, KNOWN)
    assert len(str(caught.value)) < 300


# --- Tencent's peer configuration against the simulator -----------------------------------------------------------


async def test_the_simulators_vendors_and_configurations_are_read_as_is(
    sim: SimServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = world_key(sim)
    async with sim_client(sim, "v3") as client:
        vendors = await client.customer_gateway_vendors()
        assert vendors == [GatewayVendor(v.vendor_name, v.platform, v.software_version) for v in SIM_VENDORS]
        assert CISCO in vendors
        assert H3C in vendors
        connection = await client.describe_vpn_conn(SEED_CONN)
        for vendor in vendors:
            chosen = parse_vendor(vendor.vendor.upper(), vendors)
            text = await client.customer_gateway_configuration(connection, chosen, "GigabitEthernet0/1")
            assert key in text  # Tencent writes the key in plain text; the client hands it back untouched
            assert connection.vpn_conn_id in text
            assert "GigabitEthernet0/1" in text
            assert text.endswith("\r\n")
        assert client.calls[DOWNLOAD] == len(vendors)
        assert_clean(key, caplog, client=client)
    assert sim.state.received(DOWNLOAD) == len(vendors)
    assert sim.state.received(VENDORS) == 1


async def test_the_simulators_refusals_of_a_download_are_clean_api_errors(
    sim: SimServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = world_key(sim)
    async with sim_client(sim, "v3", retry_base=0.01) as client:
        connection = await client.describe_vpn_conn(SEED_CONN)
        errors: list[CloudError] = []
        with pytest.raises(ApiError, match=r"InvalidParameterValue\.Malformed") as empty_interface:
            await client.customer_gateway_configuration(connection, CISCO)  # the API requires a name
        errors.append(empty_interface.value)
        with pytest.raises(ApiError, match="InvalidParameterValue") as unlisted:
            await client.customer_gateway_configuration(connection, GatewayVendor("cisco", "asa", "V9.8"), "outside")
        errors.append(unlisted.value)
        elsewhere = dataclasses.replace(connection, vpn_gw_id="vpngw-00000000")
        with pytest.raises(NotFoundError) as no_gateway:
            await client.customer_gateway_configuration(elsewhere, CISCO, "eth0")
        errors.append(no_gateway.value)
        sim.state.update_faults({"http5xx": {DOWNLOAD: 1}, "overQuota": {VENDORS: 1}})
        assert key in await client.customer_gateway_configuration(connection, CISCO, "eth0")
        assert await client.customer_gateway_vendors()
        assert_clean(key, caplog, *errors, client=client)
    assert sim.state.received(DOWNLOAD) == 3 + 2
    assert sim.state.received(VENDORS) == 2
