"""Any cloud answer is handled: whatever bytes the endpoint sends, the real clients of both dialects (over real HTTP
on loopback) raise a CloudError, never anything else, with a short text that holds nothing of the body.

The edit's answer is special: only a well-formed refusal is an ApiError (the callers read ApiError as "refused,
nothing changed"); any other unreadable answer to the edit is an error whose outcome is unknown.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import web
from items import FINGERPRINTS
from items import item as v2_item
from pydantic import SecretStr

from bot.tencent import (
    ApiError,
    CloudApi,
    CloudClient,
    CloudError,
    ConnectionListing,
    Credentials,
    NotFoundError,
    ResponseError,
    make_client,
)
from bot.vpn.connection import CloudDataError, VpnConnection, connection_from_describe
from bot.vpn.edit import Proposal, propose

MARK = "psk-Leak-Marker-77"  # in every garbage answer: never in an error text
CONN_ID = "vpnx-ol6bcqp0"
TEXT_MAX = 300
MiB = 1024 * 1024


@dataclass
class Garbage:
    """A loopback endpoint for both dialects that answers each action with the scripted bytes, as they are."""

    base: str = ""
    answers: dict[str, Callable[[web.Request], Any]] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        action = request.headers.get("X-TC-Action") or dict(parse_qsl(body.decode())).get("Action", "")
        self.hits[action] += 1
        answer = self.answers[action](request)
        return await answer if not isinstance(answer, web.StreamResponse) else answer


@pytest.fixture
async def garbage() -> AsyncIterator[Garbage]:
    server = Garbage()
    app = web.Application()
    app.router.add_post("/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    server.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield server
    finally:
        await runner.cleanup()


@dataclass(frozen=True)
class Dialect:
    """What differs between the dialects: the endpoint, the action names and the answers' shapes."""

    api: CloudApi

    @property
    def describe(self) -> str:
        return "DescribeVpnConn" if self.api == "v2" else "DescribeVpnConnections"

    @property
    def modify(self) -> str:
        return "ModifyVpnConnEx" if self.api == "v2" else "ModifyVpnConnectionAttribute"

    task = "DescribeVpcTaskResult"

    def endpoint(self, base: str) -> str:
        return base + ("/v2/index.php" if self.api == "v2" else "/")

    def ok(self, **fields: Any) -> dict[str, Any]:
        if self.api == "v2":
            return {"code": 0, "message": "", "codeDesc": "Success", **fields}
        return {"Response": {**fields, "RequestId": "req-1"}}

    def listing(self, items: list[Any], total: Any = None) -> dict[str, Any]:
        count = len(items) if total is None else total
        if self.api == "v2":
            return self.ok(totalCount=count, data=items)
        return self.ok(TotalCount=count, VpnConnectionSet=items)

    def edited(self, task_id: Any) -> dict[str, Any]:
        if self.api == "v2":
            return self.ok(data={"taskId": task_id, "vpcConnStatus": 2, "preSharedKey": MARK})
        return {"Response": {"RequestId": task_id}}

    def task_state(self, status: Any) -> dict[str, Any]:
        return self.ok(data={"status": status}) if self.api == "v2" else self.ok(Status=status)

    def item(self, conn_id: str = CONN_ID) -> dict[str, Any]:
        """A readable item that holds the marker as its key."""
        if self.api == "v2":
            return v2_item(unVpnConnId=conn_id, preSharedKey=MARK)
        return {
            "VpnConnectionId": conn_id,
            "VpnConnectionName": "office-gz",
            "VpcId": "vpc-03vihbk9",
            "VpnGatewayId": "vpngw-kfldykuz",
            "PreShareKey": MARK,
            "State": "AVAILABLE",
            "SecurityPolicyDatabaseSet": [{"LocalCidrBlock": "10.0.0.0/16", "RemoteCidrBlock": ["10.100.1.0/24"]}],
            "IKEOptionsSpecification": {
                "PropoEncryAlgorithm": "AES-CBC-256",
                "PropoAuthenAlgorithm": "SHA",
                "ExchangeMode": "MAIN",
                "LocalIdentity": "ADDRESS",
                "RemoteIdentity": "ADDRESS",
                "LocalAddress": "203.0.113.10",
                "RemoteAddress": "198.51.100.20",
                "DhGroupName": "GROUP2",
                "IKESaLifetimeSeconds": 86400,
            },
            "IPSECOptionsSpecification": {
                "EncryptAlgorithm": "AES-CBC-128",
                "IntegrityAlgorith": "SHA1",
                "IPSECSaLifetimeSeconds": 3600,
                "PfsDhGroup": "NULL",
                "IPSECSaLifetimeTraffic": 1843200,
            },
        }

    def item_with(self, what: str, raw: str) -> str:
        """A JSON item text whose field ``what`` (a name, the state, a CIDR list, a lifetime) is the JSON ``raw``."""
        base = self.item()
        hole = "@@HOLE@@"
        if self.api == "v2":
            if what == "name":
                base["vpnConnName"] = hole
            elif what == "status":
                base["vpcConnStatus"] = hole
            elif what == "cidrs":
                base["destinationCidr"] = hole
            else:
                base["IKESet"]["ikeSaLifetimeSeconds"] = hole
        elif what == "name":
            base["VpnConnectionName"] = hole
        elif what == "status":
            base["State"] = hole
        elif what == "cidrs":
            base["SecurityPolicyDatabaseSet"][0]["RemoteCidrBlock"] = hole
        else:
            base["IKEOptionsSpecification"]["IKESaLifetimeSeconds"] = hole
        return json.dumps(base).replace(json.dumps(hole), raw)

    def field_names(self, what: str) -> tuple[str, ...]:
        """The names a reason about ``what`` may use (the dialect's own, or the seed's)."""
        return {
            "name": ("vpnConnName", "VpnConnectionName"),
            "status": ("vpcConnStatus", "State"),
            "cidrs": ("destinationCidr", "SecurityPolicyDatabaseSet", "RemoteCidrBlock", "spdAcl"),
            "lifetime": ("ikeSaLifetimeSeconds", "IKESaLifetimeSeconds"),
        }[what]


@pytest.fixture(params=["v2", "v3"])
def dialect(request: pytest.FixtureRequest) -> Dialect:
    param = request.param
    return param if isinstance(param, Dialect) else Dialect(param)


@pytest.fixture
async def client(garbage: Garbage, dialect: Dialect) -> AsyncIterator[CloudClient]:
    credentials = Credentials("AKIDgarbageTest0001", SecretStr("sk-garbage-test"))
    async with make_client(dialect.api, credentials, endpoint=dialect.endpoint(garbage.base), retry_base=0.0) as vpc:
        yield vpc


def body(raw: bytes | str, *, status: int = 200, headers: dict[str, str] | None = None) -> Callable[..., web.Response]:
    content = raw.encode() if isinstance(raw, str) else raw
    return lambda request: web.Response(
        status=status, body=content, content_type="application/json", headers=headers or {}
    )


def as_json(value: Any) -> Callable[..., web.Response]:
    return body(json.dumps(value))


def chunked(raw: bytes, chunk: int = 256 * 1024) -> Callable[..., Any]:
    """``raw`` in chunks with no Content-Length: the client cannot know the size before reading."""

    async def answer(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(raw), chunk):
            await response.write(raw[start : start + chunk])
        await response.write_eof()
        return response

    return answer


def proposal() -> tuple[VpnConnection, Proposal]:
    conn = connection_from_describe(v2_item(), fingerprints=FINGERPRINTS)
    return conn, propose(conn.settings, {"vpnConnName": "renamed"})


def texts(error: BaseException) -> str:
    """Everything an error could show: its text, repr and args, along its whole chain."""
    shown: list[str] = []
    seen: BaseException | None = error
    while seen is not None:
        shown += [str(seen), repr(seen), repr(seen.args)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(shown)


def assert_shown_safely(error: CloudError) -> None:
    assert len(str(error)) <= TEXT_MAX, str(error)[:400]
    assert MARK not in texts(error)
    assert "xxxxxxxxxx" not in texts(error)
    assert "1111111111" not in texts(error)


DEEP = "[" * 200_000 + "]" * 200_000


def whole_bodies(d: Dialect) -> dict[str, bytes | str]:
    """Answers that are garbage as a whole, each holding the marker somewhere when it can."""
    success = json.dumps(d.ok(note=MARK))
    return {
        "not utf-8": b"\xff\xfe\xfa{" + MARK.encode() + b"\xc3\x28}",
        "latin-1 json": json.dumps(d.ok(note=MARK + "\u00e9"), ensure_ascii=False).encode("latin-1"),
        "utf-16 json": json.dumps(d.ok(note=MARK)).encode("utf-16"),
        "a list": json.dumps([MARK, 1]),
        "a number": "42",
        "null": "null",
        "a string": json.dumps(MARK),
        "true": "true",
        "NaN": "NaN",
        "Infinity code": '{"code": Infinity, "Response": Infinity}',
        "nested 200000 deep": DEEP,
        "nested deep inside": success[:-1] + ', "deep": ' + DEEP + "}",
        "5000 digits": "1" * 5000,
        "a huge string": json.dumps(MARK + "x" * (3 * MiB)),
        "truncated": success[: len(success) // 2],
        "empty": "",
        "html": f"<html>{MARK}</html>",
    }


ACTIONS = ["describe", "list", "modify", "task"]


async def call(client: CloudClient, action: str) -> object:
    if action == "describe":
        return await client.describe_vpn_conn(CONN_ID)
    if action == "list":
        return await client.list_vpn_conns(vpc_id="vpc-03vihbk9")
    if action == "modify":
        return await client.modify_vpn_conn(*proposal())
    task_id: int | str = 12614 if client.edit_action == "ModifyVpnConnEx" else "req-12614"
    return await client.task_status(task_id)


def action_name(d: Dialect, action: str) -> str:
    return {"describe": d.describe, "list": d.describe, "modify": d.modify, "task": d.task}[action]


def answer_all(garbage: Garbage, d: Dialect, answer: Callable[..., Any]) -> None:
    for name in (d.describe, d.modify, d.task):
        garbage.answers[name] = answer


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("case", list(whole_bodies(Dialect("v2"))))
async def test_a_garbage_answer_is_a_cloud_error(
    garbage: Garbage, dialect: Dialect, client: CloudClient, case: str, action: str
) -> None:
    answer_all(garbage, dialect, body(whole_bodies(dialect)[case]))
    with pytest.raises(CloudError) as caught:
        await call(client, action)
    assert_shown_safely(caught.value)
    if action == "modify":
        assert not isinstance(caught.value, ApiError), "an unreadable answer to the edit is not a refusal"
        assert garbage.hits[dialect.modify] == 1


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("how", ["content-length", "chunked", "gzip"])
async def test_an_enormous_answer_is_a_response_error(
    garbage: Garbage, dialect: Dialect, client: CloudClient, action: str, how: str
) -> None:
    padded = json.dumps(dialect.ok(pad="x" * (11 * MiB), data={"taskId": 5, "status": 0})).encode()
    if how == "content-length":
        answer = body(padded)
    elif how == "chunked":
        answer = chunked(padded)
    else:
        answer = body(gzip.compress(padded), headers={"Content-Encoding": "gzip"})
    answer_all(garbage, dialect, answer)
    with pytest.raises(ResponseError, match="MiB") as caught:
        await call(client, action)
    assert_shown_safely(caught.value)
    assert garbage.hits[action_name(dialect, action)] == 1, "asking again gets the same answer: not retried"


@pytest.mark.parametrize(
    "raw", ["NaN", "-Infinity", "1e999", "1" * 5000, '{"a": 1, "a": 2}', "[" * 300 + "]" * 300, json.dumps("x" * MiB)]
)
async def test_garbage_in_a_field_nobody_reads_changes_nothing(
    garbage: Garbage, dialect: Dialect, client: CloudClient, raw: str
) -> None:
    def beside(answer: dict[str, Any]) -> Callable[..., web.Response]:
        text = json.dumps(answer)
        cut = text.index("{", 1) + 1 if dialect.api == "v3" else 1
        return body(text[:cut] + '"extra": ' + raw + ", " + text[cut:])

    garbage.answers[dialect.describe] = beside(dialect.listing([dialect.item()]))
    garbage.answers[dialect.modify] = beside(dialect.edited(12614 if dialect.api == "v2" else "req-12614"))
    garbage.answers[dialect.task] = beside(dialect.task_state(0 if dialect.api == "v2" else "SUCCESS"))
    assert (await client.describe_vpn_conn(CONN_ID)).vpn_conn_id == CONN_ID
    assert await client.modify_vpn_conn(*proposal()) == (12614 if dialect.api == "v2" else "req-12614")
    assert (await call(client, "task")).done  # type: ignore[attr-defined]


# --- the edit's answer ----------------------------------------------------------------------------------------------

V2_TASK_IDS: dict[str, str] = {
    "true": "true",
    "negative": "-5",
    "a float": "12614.5",
    "a whole float": "12614.0",
    "5000 digits": "1" * 5000,
    "a string of 5000 digits": json.dumps("1" * 5000),
    "a string of 30 digits": json.dumps("1" * 30),
    "digits and letters": json.dumps("12614abc"),
    "unicode digits": json.dumps("\u0661\u0662"),
    "null": "null",
    "an object": '{"id": 5}',
    "a list": "[5]",
    "empty string": '""',
}
V3_REQUEST_IDS: dict[str, str] = {
    "true": "true",
    "a number": "5",
    "5000 digits": "1" * 5000,
    "empty": '""',
    "null": "null",
    "a huge string": json.dumps("x" * MiB),
    "an object": '{"id": "r"}',
    "control characters": json.dumps("req\n\x00-1"),
}


def edit_answer(d: Dialect, raw_task_id: str) -> str:
    return json.dumps(d.edited("@@ID@@")).replace('"@@ID@@"', raw_task_id)


@pytest.mark.parametrize(
    ("dialect", "raw"),
    [
        *((Dialect("v2"), raw) for raw in V2_TASK_IDS.values()),
        *((Dialect("v3"), raw) for raw in V3_REQUEST_IDS.values()),
    ],
    indirect=["dialect"],
    ids=[*(f"v2-{case}" for case in V2_TASK_IDS), *(f"v3-{case}" for case in V3_REQUEST_IDS)],
)
async def test_an_unreadable_task_id_means_the_outcome_is_unknown(
    garbage: Garbage, dialect: Dialect, client: CloudClient, raw: str
) -> None:
    garbage.answers[dialect.modify] = body(edit_answer(dialect, raw))
    with pytest.raises(ResponseError, match="may have been applied") as caught:
        await client.modify_vpn_conn(*proposal())
    assert_shown_safely(caught.value)
    assert garbage.hits[dialect.modify] == 1


SUCCESSES_WITHOUT_A_TASK: list[tuple[CloudApi, dict[str, Any]]] = [
    ("v2", {"code": 0}),
    ("v2", {"code": 0, "data": None}),
    ("v2", {"code": 0, "data": []}),
    ("v2", {"code": 0, "data": "12614"}),
    ("v2", {"code": 0, "data": {}}),
    ("v3", {"Response": {}}),
    ("v3", {"Response": {"RequestId": None}}),
]


@pytest.mark.parametrize(
    ("dialect", "answer"),
    [(Dialect(api), answer) for api, answer in SUCCESSES_WITHOUT_A_TASK],
    indirect=["dialect"],
    ids=[f"{api}-{json.dumps(answer)}" for api, answer in SUCCESSES_WITHOUT_A_TASK],
)
async def test_a_success_without_a_task_means_the_outcome_is_unknown(
    garbage: Garbage, dialect: Dialect, client: CloudClient, answer: dict[str, Any]
) -> None:
    garbage.answers[dialect.modify] = as_json(answer)
    with pytest.raises(ResponseError, match="may have been applied"):
        await client.modify_vpn_conn(*proposal())


MALFORMED_REFUSALS: dict[CloudApi, list[str]] = {
    "v2": [
        '{"code": null, "message": "x"}',
        '{"code": true, "message": "x"}',
        '{"code": 0.0, "data": {"taskId": 5}}',
        '{"code": 4000.5, "message": "x"}',
        '{"code": [4000], "message": "x"}',
        '{"code": {"n": 4000}, "message": "x"}',
        '{"code": "", "message": "x"}',
        '{"code": ' + "4" * 5000 + ', "message": "x"}',
        '{"code": ' + json.dumps("x" * MiB) + ', "message": "x"}',
        '{"code": 4000, "code": 0, "data": {"taskId": 5}}',
        '{"code": 0, "code": 4000, "codeDesc": "InvalidParameter", "message": "x"}',
    ],
    "v3": [
        '{"Response": {"Error": {"Code": 5, "Message": "x"}, "RequestId": "r"}}',
        '{"Response": {"Error": {"Code": "", "Message": "x"}, "RequestId": "r"}}',
        '{"Response": {"Error": {"Code": null}, "RequestId": "r"}}',
        '{"Response": {"Error": {"Code": ' + json.dumps("x" * MiB) + '}, "RequestId": "r"}}',
        '{"Response": {"Error": [], "RequestId": "r"}}',
        '{"Response": {"Error": {"Code": "InvalidParameter", "Code": "X"}, "RequestId": "r"}}',
        '{"Response": {"RequestId": "r1"}, "Response": {"Error": {"Code": "InvalidParameter"}, "RequestId": "r2"}}',
    ],
}


@pytest.mark.parametrize(
    ("dialect", "raw"),
    [(Dialect(api), raw) for api, table in MALFORMED_REFUSALS.items() for raw in table],
    indirect=["dialect"],
    ids=[f"{api}-{i}" for api, table in MALFORMED_REFUSALS.items() for i in range(len(table))],
)
async def test_only_a_well_formed_refusal_is_an_api_error(
    garbage: Garbage, dialect: Dialect, client: CloudClient, raw: str
) -> None:
    garbage.answers[dialect.modify] = body(raw)
    with pytest.raises(CloudError) as caught:
        await client.modify_vpn_conn(*proposal())
    assert not isinstance(caught.value, ApiError)
    assert_shown_safely(caught.value)


async def test_a_refusal_with_huge_words_is_an_api_error_with_short_text(
    garbage: Garbage, dialect: Dialect, client: CloudClient
) -> None:
    words = "x" * MiB
    if dialect.api == "v2":
        refusal: dict[str, Any] = {"code": 4000, "codeDesc": words, "message": words}
    else:
        refusal = {"Response": {"Error": {"Code": "InvalidParameterValue", "Message": words}, "RequestId": words}}
    garbage.answers[dialect.modify] = as_json(refusal)
    with pytest.raises(ApiError) as caught:
        await client.modify_vpn_conn(*proposal())
    assert len(str(caught.value)) <= 700
    assert str(caught.value.code) in ("4000", "InvalidParameterValue")


@pytest.mark.parametrize("message", [["a", "list"], {"an": "object"}, 5, "[" * 300 + "]" * 300])
async def test_a_refusal_whose_words_are_not_text_is_still_a_refusal(
    garbage: Garbage, dialect: Dialect, client: CloudClient, message: Any
) -> None:
    raw = message if isinstance(message, str) else json.dumps(message)
    if dialect.api == "v2":
        text = '{"code": 4000, "codeDesc": "InvalidParameter", "message": @@}'
    else:
        text = '{"Response": {"Error": {"Code": "InvalidParameter", "Message": @@}, "RequestId": "r"}}'
    garbage.answers[dialect.modify] = body(text.replace("@@", raw))
    with pytest.raises(ApiError) as caught:
        await client.modify_vpn_conn(*proposal())
    assert_shown_safely(caught.value)


async def test_a_string_task_id_of_digits_is_read(garbage: Garbage, client: CloudClient, dialect: Dialect) -> None:
    garbage.answers[dialect.modify] = as_json(dialect.edited("12614" if dialect.api == "v2" else "req-12614"))
    assert await client.modify_vpn_conn(*proposal()) == (12614 if dialect.api == "v2" else "req-12614")


# --- task states ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["1" * 5000, "true", "null", "12.5", "-1e999", json.dumps("x" * MiB), "[0]", '{"s": 0}', json.dumps("1" * 5000)],
)
async def test_an_unreadable_task_status_is_a_response_error(
    garbage: Garbage, dialect: Dialect, client: CloudClient, raw: str
) -> None:
    garbage.answers[dialect.task] = body(json.dumps(dialect.task_state("@@")).replace('"@@"', raw))
    with pytest.raises(ResponseError) as caught:
        await call(client, "task")
    assert_shown_safely(caught.value)
    assert garbage.hits[dialect.task] == 1


async def test_a_failed_task_with_huge_words_is_cut(garbage: Garbage, dialect: Dialect, client: CloudClient) -> None:
    words = "tunnel failed " + "x" * MiB
    if dialect.api == "v2":
        answer = dialect.ok(data={"status": 1, "output": words})
    else:
        answer = dialect.ok(Status="FAILED", Output=words)
    garbage.answers[dialect.task] = as_json(answer)
    state = await call(client, "task")
    assert state.message.startswith("tunnel failed")  # type: ignore[attr-defined]
    assert len(state.message) <= 1000  # type: ignore[attr-defined]


# --- connection items -----------------------------------------------------------------------------------------------

ITEM_GARBAGE = [
    ("name", json.dumps("x" * MiB)),
    ("name", "1" * 5000),
    ("name", "[" * 300 + "]" * 300),
    ("name", '{"a": 1, "a": 2}'),
    ("name", "NaN"),
    ("status", "1" + "0" * 5000),
    ("status", "1" + "0" * 30),
    ("status", "-1"),
    ("status", "true"),
    ("status", "1e999"),
    ("status", '["AVAILABLE"]'),
    ("cidrs", json.dumps([f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}/32" for i in range(100_000)])),
    ("cidrs", json.dumps(["x" * MiB])),
    ("cidrs", "[" + "1" * 5000 + "]"),
    ("lifetime", "1" * 5000),
    ("lifetime", "1" + "0" * 30),
    ("lifetime", "86400.0"),
    ("lifetime", "true"),
]


@pytest.mark.parametrize(("what", "raw"), ITEM_GARBAGE, ids=lambda v: v if len(v) < 20 else f"{v[:12]}...{len(v)}")
async def test_describing_an_unreadable_item_is_a_response_error(
    garbage: Garbage, dialect: Dialect, client: CloudClient, what: str, raw: str
) -> None:
    listing = json.dumps(dialect.listing(["@@"]))
    garbage.answers[dialect.describe] = body(listing.replace('"@@"', dialect.item_with(what, raw)))
    with pytest.raises(ResponseError) as caught:
        await client.describe_vpn_conn(CONN_ID)
    assert_shown_safely(caught.value)
    assert any(name in str(caught.value) for name in dialect.field_names(what)), str(caught.value)
    assert garbage.hits[dialect.describe] == 1


@pytest.mark.parametrize("total", ["1" + "0" * 5000, "1" + "0" * 30, "-3", "true", "null", '"many"', "1e999"])
async def test_an_unreadable_total_count_does_not_stop_the_listing(
    garbage: Garbage, dialect: Dialect, client: CloudClient, total: str
) -> None:
    first = json.dumps(dialect.listing([dialect.item()], total="@@")).replace('"@@"', total)
    pages = [body(first), as_json(dialect.listing([], total=0))]
    garbage.answers[dialect.describe] = lambda request: pages.pop(0)(request) if len(pages) > 1 else pages[0](request)
    listing = await client.list_vpn_conns()
    assert [c.vpn_conn_id for c in listing.connections] == [CONN_ID]


# --- one unreadable connection hides nothing else (issue 10, point 11) ----------------------------------------------


def listing_of(d: Dialect, items: list[str], total: int | None = None) -> Callable[..., web.Response]:
    """A listing answer whose items are the given JSON texts."""
    text = json.dumps(d.listing(["@@"] * len(items), total=len(items) if total is None else total))
    for raw in items:
        text = text.replace('"@@"', raw, 1)
    return body(text)


def good(d: Dialect, conn_id: str) -> str:
    return json.dumps(d.item(conn_id))


def bad(d: Dialect, conn_id: str, what: str = "name", raw: str = json.dumps("x" * MiB)) -> str:
    return d.item_with(what, raw).replace(CONN_ID, conn_id)


def assert_named_safely(reason: str) -> None:
    assert 0 < len(reason) <= 120, reason
    assert MARK not in reason
    assert "xxxxxxxxxx" not in reason
    assert "1111111111" not in reason


async def test_a_listing_returns_the_readable_and_names_the_unreadable(
    garbage: Garbage, dialect: Dialect, client: CloudClient
) -> None:
    items = [
        good(dialect, "vpnx-good0001"),
        bad(dialect, "vpnx-badname1", "name"),
        good(dialect, "vpnx-good0002"),
        bad(dialect, "vpnx-badstat1", "status", "1" + "0" * 5000),
        "5",
        "null",
        '{"a": 1, "a": 2}',
        bad(dialect, "vpnx-badcidr1", "cidrs", json.dumps(["10.0.0.0/24"] * 100_000)),
        json.dumps({"vpnConnId": "x" * MiB, "VpnConnectionId": "x" * MiB}),
        bad(dialect, "vpnx-badlife1", "lifetime", "1" * 5000),
    ]
    garbage.answers[dialect.describe] = listing_of(dialect, items)
    listing = await client.list_vpn_conns(vpc_id="vpc-03vihbk9")
    assert isinstance(listing, ConnectionListing)
    assert [c.vpn_conn_id for c in listing.connections] == ["vpnx-good0001", "vpnx-good0002"]
    named = {u.vpn_conn_id: u.reason for u in listing.unreadable}
    assert [u.vpn_conn_id for u in listing.unreadable] == [
        "vpnx-badname1",
        "vpnx-badstat1",
        None,
        None,
        None,
        "vpnx-badcidr1",
        None,
        "vpnx-badlife1",
    ]
    for what, conn_id in [
        ("name", "badname1"),
        ("status", "badstat1"),
        ("cidrs", "badcidr1"),
        ("lifetime", "badlife1"),
    ]:
        assert any(field in named[f"vpnx-{conn_id}"] for field in dialect.field_names(what)), named
    for unreadable in listing.unreadable:
        assert_named_safely(unreadable.reason)
    assert listing.count == len(items)
    assert garbage.hits[dialect.describe] == 1


async def test_paging_counts_the_unreadable_items_too(garbage: Garbage, dialect: Dialect, client: CloudClient) -> None:
    page_size = 50 if dialect.api == "v2" else 100
    items = [
        bad(dialect, f"vpnx-{i:08d}", "lifetime", "true") if i % 7 == 3 else good(dialect, f"vpnx-{i:08d}")
        for i in range(260)
    ]
    offsets: list[int] = []

    async def answer(request: web.Request) -> web.Response:
        raw = await request.read()
        form = dict(parse_qsl(raw.decode())) if dialect.api == "v2" else {"offset": json.loads(raw)["Offset"]}
        start = int(form["offset"])
        offsets.append(start)
        return listing_of(dialect, items[start : start + page_size], total=len(items))(request)

    garbage.answers[dialect.describe] = answer
    listing = await client.list_vpn_conns()
    assert offsets == list(range(0, 260, page_size))
    assert [c.vpn_conn_id for c in listing.connections] == [f"vpnx-{i:08d}" for i in range(260) if i % 7 != 3]
    assert [u.vpn_conn_id for u in listing.unreadable] == [f"vpnx-{i:08d}" for i in range(260) if i % 7 == 3]


async def test_an_endless_listing_is_cut_short_with_a_response_error(
    garbage: Garbage, dialect: Dialect, client: CloudClient
) -> None:
    garbage.answers[dialect.describe] = listing_of(dialect, [good(dialect, CONN_ID)], total=10**9)  # offset ignored
    with pytest.raises(ResponseError, match="pages"):
        await client.list_vpn_conns()
    assert garbage.hits[dialect.describe] == 200


@pytest.mark.parametrize(
    ("what", "raw"), [("name", json.dumps("x" * MiB)), ("status", "1" + "0" * 5000), ("lifetime", "true")]
)
async def test_describing_the_unreadable_one_is_a_response_error_naming_the_field(
    garbage: Garbage, dialect: Dialect, client: CloudClient, what: str, raw: str
) -> None:
    garbage.answers[dialect.describe] = listing_of(dialect, [bad(dialect, "vpnx-broken01", what, raw)])
    with pytest.raises(ResponseError) as caught:
        await client.describe_vpn_conn("vpnx-broken01")
    assert isinstance(caught.value, CloudError)
    assert "vpnx-broken01" in str(caught.value)
    assert any(field in str(caught.value) for field in dialect.field_names(what))
    assert_shown_safely(caught.value)


async def test_describing_a_readable_one_beside_unreadable_ones_works(
    garbage: Garbage, dialect: Dialect, client: CloudClient
) -> None:
    items = [bad(dialect, "vpnx-broken01"), "7", good(dialect, "vpnx-fine0001")]
    garbage.answers[dialect.describe] = listing_of(dialect, items)
    assert (await client.describe_vpn_conn("vpnx-fine0001")).vpn_conn_id == "vpnx-fine0001"


@pytest.mark.parametrize("raw", ["5", "[]", '{"a": 1, "a": 2}', json.dumps({"vpnConnId": [1], "VpnConnectionId": [1]})])
async def test_an_item_without_a_readable_id_may_be_the_one_asked_for(
    garbage: Garbage, dialect: Dialect, client: CloudClient, raw: str
) -> None:
    garbage.answers[dialect.describe] = listing_of(dialect, [raw])
    with pytest.raises(ResponseError) as caught:
        await client.describe_vpn_conn(CONN_ID)
    assert not isinstance(caught.value, NotFoundError), "vpnbot cannot tell that the connection is not there"
    assert_shown_safely(caught.value)


async def test_an_item_of_another_id_that_is_unreadable_is_not_the_one_asked_for(
    garbage: Garbage, dialect: Dialect, client: CloudClient
) -> None:
    garbage.answers[dialect.describe] = listing_of(dialect, [bad(dialect, "vpnx-other001"), good(dialect, "vpnx-x2")])
    with pytest.raises(NotFoundError):
        await client.describe_vpn_conn(CONN_ID)


@pytest.mark.parametrize(
    "change",
    [
        {"vpcConnStatus": 10**5000},
        {"vpcConnStatus": float("nan")},
        {"vpnConnName": 10**5000},
        {"vpcName": 10**5000},
        {"vpnConnName": "x" * MiB},
        {"vpnGwName": "x" * MiB},
        {"unVpnConnId": "x" * MiB},
        {"unVpnConnId": ["vpnx-1"]},
        {"destinationCidr": [f"10.0.{i // 256}.{i % 256}/32" for i in range(5000)]},
        {"destinationCidr": [10**5000]},
        {"sourceCidr": {"10.0.0.0/8": 1}},
        {"IKESet": {"ikeSaLifetimeSeconds": 10**5000}},
        {"IKESet": [[[[[[]]]]]]},
        {"preSharedKey": 10**5000},
        {"preSharedKey": ["k"]},
        {"vpnConnName": "\ud800"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_connection_from_describe_raises_only_cloud_data_errors(change: dict[str, Any]) -> None:
    """The parser is the edge: any mapping, however odd (Python values no JSON decoder makes included), is refused
    with a CloudDataError whose reason names the field and quotes nothing."""
    raw = v2_item(preSharedKey=MARK)
    raw.update(change)
    with pytest.raises(CloudDataError) as caught:
        connection_from_describe(raw, fingerprints=FINGERPRINTS)
    assert next(iter(change)) in caught.value.reason
    assert_named_safely(caught.value.reason)
    assert len(str(caught.value)) <= TEXT_MAX
    assert MARK not in str(caught.value)


def test_a_key_that_is_no_valid_unicode_is_still_fingerprinted() -> None:
    broken = connection_from_describe(v2_item(preSharedKey="\ud800"), fingerprints=FINGERPRINTS)
    assert broken.settings.psk_fingerprint is not None
    sound = connection_from_describe(v2_item(), fingerprints=FINGERPRINTS)
    assert broken.settings.psk_fingerprint != sound.settings.psk_fingerprint
