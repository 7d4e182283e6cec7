"""The simulator's wire over real HTTP on loopback: signed API 2.0 requests, auth failures, faults, control surface.

Requests are signed here with ``bot.tencent.signing`` (and once with the legacy SDK's signer), never with the
project's cloud client.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from QcloudApi.common.sign import Sign as LegacySign

from bot.sim import DEMO_SECRET_ID, DEMO_SECRET_KEY, SimServer, SimState, load_world, run_forever
from bot.tencent.signing import SignatureMethod, sign, string_to_sign

VPC, GW, CONN = "vpc-03vihbk9", "vpngw-kfldykuz", "vpnx-ol6bcqp0"
LOOPBACK = "127.0.0.1"
_nonces = itertools.count(int(time.time()) % 1_000_000 * 1000 + 1)


class FakeClock:
    """Starts at the real time (requests carry it as Timestamp); tests move it by hand."""

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
    return SimState(load_world(None), clock=clock, seed=11)


@pytest.fixture
async def sim(state: SimState) -> AsyncIterator[SimServer]:
    async with SimServer(state) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


def signed(
    action: str,
    params: dict[str, str],
    *,
    method: str = "GET",
    host: str = LOOPBACK,
    secret_id: str = DEMO_SECRET_ID,
    secret_key: str = DEMO_SECRET_KEY,
    signature_method: SignatureMethod | None = "HmacSHA256",
    timestamp: float | None = None,
    nonce: int | None = None,
) -> dict[str, str]:
    """``params`` plus the common parameters, signed for ``method``, ``host`` and ``/v2/index.php``."""
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
    text = string_to_sign(method, host, "/v2/index.php", everything)
    everything["Signature"] = sign(secret_key, text, signature_method or "HmacSHA1")
    return everything


async def send(http: httpx.AsyncClient, sim: SimServer, params: dict[str, str], method: str = "GET") -> httpx.Response:
    if method == "GET":
        return await http.get(sim.url, params=params)
    return await http.post(sim.url, data=params)


async def call(
    http: httpx.AsyncClient, sim: SimServer, action: str, params: dict[str, str], method: str = "GET", **options: Any
) -> dict[str, Any]:
    """Sign, send, and return the JSON answer (asserting HTTP 200 and a JSON content type)."""
    response = await send(http, sim, signed(action, params, method=method, **options), method)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    answer: dict[str, Any] = response.json()
    return answer


def modify_params(**edits: str) -> dict[str, str]:
    return {"vpcId": VPC, "vpnGwId": GW, "vpnConnId": CONN, **{k.replace("__", "."): v for k, v in edits.items()}}


# ---------------------------------------------------------------------------------------------------------------
# Reading


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("signature_method", ["HmacSHA256", "HmacSHA1", None])
async def test_describe_by_id_over_get_and_post_with_both_hmacs(
    http: httpx.AsyncClient, sim: SimServer, method: str, signature_method: SignatureMethod | None
) -> None:
    answer = await call(
        http, sim, "DescribeVpnConn", {"vpnConnId": CONN}, method=method, signature_method=signature_method
    )
    assert (answer["code"], answer["message"], answer["codeDesc"]) == (0, "", "Success")
    assert answer["totalCount"] == 1
    assert answer["data"][0]["unVpnConnId"] == CONN
    assert answer["data"][0]["IKESet"]["dhGroupName"] == "group2"


async def test_listing_with_filters_and_paging(http: httpx.AsyncClient, sim: SimServer) -> None:
    answer = await call(http, sim, "DescribeVpnConn", {"vpcId": VPC, "limit": "2", "orderField": "vpnConnName"})
    assert answer["totalCount"] == 3
    assert [item["vpnConnName"] for item in answer["data"]] == ["idc-beijing-1", "idc-beijing-2"]
    rest = await call(
        http, sim, "DescribeVpnConn", {"vpcId": VPC, "limit": "2", "offset": "2", "orderField": "vpnConnName"}
    )
    assert [item["vpnConnName"] for item in rest["data"]] == ["office-shanghai"]


async def test_limit_above_fifty_is_a_4000_naming_limit(http: httpx.AsyncClient, sim: SimServer) -> None:
    answer = await call(http, sim, "DescribeVpnConn", {"limit": "51"})
    assert answer["code"] == 4000
    assert answer["message"].startswith("limit:")


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
    params["Signature"] = LegacySign(DEMO_SECRET_ID, DEMO_SECRET_KEY).make(LOOPBACK, "/v2/index.php", params, "POST")
    answer = (await send(http, sim, params, "POST")).json()
    assert answer["code"] == 0
    assert answer["totalCount"] == 2


# ---------------------------------------------------------------------------------------------------------------
# Authentication


async def test_unknown_secret_id_is_4104(http: httpx.AsyncClient, sim: SimServer) -> None:
    answer = await call(http, sim, "DescribeVpnConn", {}, secret_id="AKID" + "z" * 32)
    assert (answer["code"], answer["codeDesc"]) == (4104, "AuthFailure.SecretIdNotFound")


@pytest.mark.parametrize("wrong", ["key", "tampered", "host", "method"])
async def test_bad_signature_is_4100(http: httpx.AsyncClient, sim: SimServer, wrong: str) -> None:
    params = signed(
        "DescribeVpnConn",
        {"vpnConnId": CONN},
        secret_key="not-the-key" if wrong == "key" else DEMO_SECRET_KEY,
        host="vpc.api.qcloud.com" if wrong == "host" else LOOPBACK,
        method="POST" if wrong == "method" else "GET",
    )
    if wrong == "tampered":
        params["vpnConnId"] = "vpnx-3mv8tqwd"
    answer = (await send(http, sim, params, "GET")).json()
    assert (answer["code"], answer["codeDesc"]) == (4100, "AuthFailure.SignatureFailure")
    assert "totalCount" not in answer


@pytest.mark.parametrize(("skew", "code"), [(-301, 4500), (301, 4500), (-299, 0), (299, 0)])
async def test_timestamp_must_be_within_five_minutes(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock, skew: int, code: int
) -> None:
    answer = await call(http, sim, "DescribeVpnConn", {}, timestamp=clock.now + skew)
    assert answer["code"] == code


async def test_reused_nonce_is_4500_but_only_after_a_verified_signature(
    http: httpx.AsyncClient, sim: SimServer, clock: FakeClock
) -> None:
    nonce = next(_nonces)
    forged = await call(http, sim, "DescribeVpnConn", {}, nonce=nonce, secret_key="forged")
    assert forged["code"] == 4100
    first = await call(http, sim, "DescribeVpnConn", {}, nonce=nonce)
    assert first["code"] == 0
    again = await call(http, sim, "DescribeVpnConn", {"limit": "1"}, nonce=nonce)
    assert (again["code"], again["codeDesc"]) == (4500, "ReplayAttack")
    padded = signed("DescribeVpnConn", {})
    padded["Nonce"] = f"000{nonce}"
    padded["Signature"] = sign(DEMO_SECRET_KEY, string_to_sign("GET", LOOPBACK, "/v2/index.php", padded), "HmacSHA256")
    assert (await send(http, sim, padded)).json()["code"] == 4500  # the same number
    clock.advance(301)
    later = await call(http, sim, "DescribeVpnConn", {}, nonce=nonce, timestamp=clock.now)
    assert later["code"] == 0


@pytest.mark.parametrize("dropped", ["Region", "Nonce", "Timestamp", "SecretId", "Signature", "Action"])
async def test_missing_common_parameter_is_named(http: httpx.AsyncClient, sim: SimServer, dropped: str) -> None:
    params = signed("DescribeVpnConn", {})
    del params[dropped]
    answer = (await send(http, sim, params)).json()
    assert answer["code"] == 4000
    assert dropped in answer["message"]


async def test_unknown_action_is_4000(http: httpx.AsyncClient, sim: SimServer) -> None:
    answer = await call(http, sim, "DeleteVpnConn", {"vpnConnId": CONN})
    assert (answer["code"], answer["codeDesc"]) == (4000, "InvalidAction")


async def test_json_post_body_is_refused(http: httpx.AsyncClient, sim: SimServer) -> None:
    response = await http.post(sim.url, json=signed("DescribeVpnConn", {}, method="POST"))
    assert response.status_code == 200
    assert response.json()["code"] == 4000


# ---------------------------------------------------------------------------------------------------------------
# Editing


async def test_edit_runs_a_task_then_is_applied(http: httpx.AsyncClient, sim: SimServer, clock: FakeClock) -> None:
    params = modify_params(userGwCidrBlock__0="10.100.2.0/24", preSharedKey="tencenttest", IKESet__dhGroupName="group5")
    answer = await call(http, sim, "ModifyVpnConnEx", params, method="POST")
    assert answer["code"] == 0
    assert answer["data"]["vpcConnStatus"] == 2
    task = {"taskId": str(answer["data"]["taskId"])}
    assert (await call(http, sim, "DescribeVpcTaskResult", task))["data"] == {"status": 2}
    running = (await call(http, sim, "DescribeVpnConn", {"vpnConnId": CONN}))["data"][0]
    assert running["vpcConnStatus"] == 2
    clock.advance(5)
    assert (await call(http, sim, "DescribeVpcTaskResult", task, timestamp=clock.now))["data"] == {"status": 0}
    done = (await call(http, sim, "DescribeVpnConn", {"vpnConnId": CONN}, timestamp=clock.now))["data"][0]
    assert done["vpcConnStatus"] == 6
    assert done["destinationCidr"] == ["10.100.2.0/24"]
    assert done["preSharedKey"] == "tencenttest"
    assert done["IKESet"]["dhGroupName"] == "group5"


async def test_underscore_names_read_as_dots(http: httpx.AsyncClient, sim: SimServer) -> None:
    answer = await call(http, sim, "ModifyVpnConnEx", modify_params(userGwCidrBlock_0="10.100.6.0/24"), method="POST")
    assert answer["data"]["userGwSubnetList"] == ["10.100.6.0/24"]


async def test_invalid_edit_is_4000_naming_the_parameter(http: httpx.AsyncClient, sim: SimServer) -> None:
    params = modify_params(userGwCidrBlock__0="10.100.1.0/24", IKESet__ikeSaLifetimeSeconds="10", preSharedKey="Zz-9")
    answer = await call(http, sim, "ModifyVpnConnEx", params, method="POST")
    assert (answer["code"], answer["codeDesc"]) == (4000, "InvalidParameter")
    assert answer["message"].startswith("IKESet.ikeSaLifetimeSeconds: 10 is out of range")
    assert "Zz-9" not in answer["message"]


async def test_not_found_and_busy(http: httpx.AsyncClient, sim: SimServer) -> None:
    missing = await call(
        http, sim, "ModifyVpnConnEx", modify_params(vpnGwId="vpngw-nothere", userGwCidrBlock__0="10.1.0.0/24")
    )
    assert (missing["code"], missing["codeDesc"]) == (5000, "InvalidVpnGw.NotFound")
    first = await call(http, sim, "ModifyVpnConnEx", modify_params(userGwCidrBlock__0="10.100.2.0/24"))
    assert first["code"] == 0
    busy = await call(http, sim, "ModifyVpnConnEx", modify_params(userGwCidrBlock__0="10.100.3.0/24"))
    assert (busy["code"], busy["codeDesc"]) == (5100, "OperationDenied.VpnConnBusy")
    unknown_task = await call(http, sim, "DescribeVpcTaskResult", {"taskId": "1"})
    assert (unknown_task["code"], unknown_task["codeDesc"]) == (5000, "InvalidTask.NotFound")


async def test_forced_task_failure(http: httpx.AsyncClient, sim: SimServer, clock: FakeClock) -> None:
    response = await http.post(sim.base_url + "/_sim/faults", json={"taskOutcome": "failed", "taskSeconds": 1})
    assert response.status_code == 200
    assert response.json()["faults"]["taskOutcome"] == "failed"
    answer = await call(http, sim, "ModifyVpnConnEx", modify_params(userGwCidrBlock__0="10.100.2.0/24"))
    clock.advance(1)
    result = await call(
        http, sim, "DescribeVpcTaskResult", {"taskId": str(answer["data"]["taskId"])}, timestamp=clock.now
    )
    assert result["data"]["status"] == 1
    assert "failed" in result["data"]["message"]
    item = (await call(http, sim, "DescribeVpnConn", {"vpnConnId": CONN}, timestamp=clock.now))["data"][0]
    assert item["destinationCidr"] == ["10.100.1.0/24"]


# ---------------------------------------------------------------------------------------------------------------
# Faults


async def test_http_503_fault_answers_503_then_recovers(
    http: httpx.AsyncClient, sim: SimServer, state: SimState
) -> None:
    state.update_faults({"http5xx": {"DescribeVpnConn": 1}})
    failed = await send(http, sim, signed("DescribeVpnConn", {}))
    assert failed.status_code == 503
    assert "503" in failed.text
    assert (await call(http, sim, "DescribeVpnConn", {}))["code"] == 0


async def test_latency_fault_delays_only_its_action(http: httpx.AsyncClient, sim: SimServer, state: SimState) -> None:
    state.update_faults({"latency": {"DescribeVpnConn": 0.3}})
    started = time.perf_counter()
    assert (await call(http, sim, "DescribeVpnConn", {}))["code"] == 0
    assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    assert (await call(http, sim, "DescribeVpcTaskResult", {"taskId": "1"}))["code"] == 5000
    assert time.perf_counter() - started < 0.3


async def test_latency_does_not_block_other_requests(http: httpx.AsyncClient, sim: SimServer, state: SimState) -> None:
    state.update_faults({"latency": {"ModifyVpnConnEx": 0.5}})
    slow = asyncio.create_task(call(http, sim, "ModifyVpnConnEx", modify_params(userGwCidrBlock__0="10.100.2.0/24")))
    started = time.perf_counter()
    assert (await call(http, sim, "DescribeVpnConn", {}))["code"] == 0
    assert time.perf_counter() - started < 0.4
    assert (await slow)["code"] == 0


async def test_over_quota_fault_is_4400(http: httpx.AsyncClient, sim: SimServer) -> None:
    await http.post(sim.base_url + "/_sim/faults", json={"overQuota": {"*": 1}})
    limited = await call(http, sim, "DescribeVpnConn", {})
    assert limited["code"] == 4400
    assert (await call(http, sim, "DescribeVpnConn", {}))["code"] == 0


async def test_failure_rate_fault_is_6000_and_changes_nothing(
    http: httpx.AsyncClient, sim: SimServer, state: SimState
) -> None:
    state.update_faults({"failureRate": {"ModifyVpnConnEx": 1.0}})
    answer = await call(http, sim, "ModifyVpnConnEx", modify_params(userGwCidrBlock__0="10.100.2.0/24"))
    assert (answer["code"], answer["codeDesc"]) == (6000, "InternalError")
    assert state.connection(CONN)["vpcConnStatus"] == 6
    assert state.snapshot()["tasks"] == []


# ---------------------------------------------------------------------------------------------------------------
# Control surface, logging, lifecycle


async def test_control_surface(http: httpx.AsyncClient, sim: SimServer) -> None:
    health = await http.get(sim.base_url + "/healthz")
    assert health.json() == {"status": "ok"}
    world = (await http.get(sim.base_url + "/_sim/world")).json()
    assert world["credentials"] == {DEMO_SECRET_ID: "***"}
    assert {item["unVpnConnId"] for item in world["vpnConnections"]} >= {CONN}
    refused = await http.post(sim.base_url + "/_sim/faults", json={"failureRate": {"*": 2}})
    assert refused.status_code == 400
    not_object = await http.post(sim.base_url + "/_sim/faults", json=[1])
    assert not_object.status_code == 400


async def test_log_lines_name_parameters_but_never_secrets(
    http: httpx.AsyncClient, sim: SimServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.sim")
    params = signed("ModifyVpnConnEx", modify_params(userGwCidrBlock__0="10.100.2.0/24", preSharedKey="Psk-Secret-42"))
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
    finally:
        await other.stop()
        await server.stop()
        await server.stop()
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(url)


async def test_run_forever_serves_until_cancelled(tmp_path: Any) -> None:
    urls: list[str] = []
    ready = asyncio.Event()

    def on_ready(url: str) -> None:
        urls.append(url)
        ready.set()

    task = asyncio.create_task(run_forever(LOOPBACK, 0, None, 0.2, on_ready))
    await asyncio.wait_for(ready.wait(), 5)
    async with httpx.AsyncClient() as client:
        health = await client.get(urls[0].removesuffix("/v2/index.php") + "/healthz")
        world = (await client.get(urls[0].removesuffix("/v2/index.php") + "/_sim/world")).json()
    assert health.status_code == 200
    assert world["taskSeconds"] == 0.2
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
