"""API 3.0 end to end, with Tencent's own SDK on the other side: a tunnel set by ``tencentcloud-sdk-python-vpc`` to
today's values (AES256GCM128, SHA-512, GROUP20, IKEv2) and a two-rule SPD is listed, shown and edited through
Slack, and its SPD survives vpnbot's unrelated edit byte for byte; a change made by the SDK is what ``vpnbot show``
reports, under both dialects. Both API 3.0 behaviours run (the edit with and without a task: ``dialect``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dialect
import pytest
from botharness import APPROVER, WAIT, card_text, harness
from simthread import CANARY_SECRET_ID, CANARY_SECRET_KEY, ThreadedSim, canary_world, threaded_sim
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.vpc.v20170312 import models, vpc_client

from bot.cli import main
from bot.sim import DEMO_SECRET_ID, DEMO_SECRET_KEY

LAB = "vpnx-g4cm2k7d"  # the demo world's tunnel on a 4.0 gateway (GCM needs one), in VPC vpc-l4b7rq2m
TWO_RULES = [
    {"LocalCidrBlock": "10.8.1.0/24", "RemoteCidrBlock": ["172.20.10.0/24"]},
    {"LocalCidrBlock": "10.8.4.0/24", "RemoteCidrBlock": ["172.20.20.0/24", "172.20.21.0/24"]},
]
TODAY = {
    "IKEOptionsSpecification": {
        "PropoEncryAlgorithm": "AES256GCM128",
        "PropoAuthenAlgorithm": "SHA-512",
        "DhGroupName": "GROUP19",
        "IKEVersion": "IKEV2",
        "ExchangeMode": "MAIN",
        "LocalIdentity": "ADDRESS",
        "RemoteIdentity": "ADDRESS",
        "LocalAddress": "203.0.113.40",
        "RemoteAddress": "192.0.2.101",
        "IKESaLifetimeSeconds": 86400,
    },
    "IPSECOptionsSpecification": {
        "EncryptAlgorithm": "AES256GCM128",
        "IntegrityAlgorith": "SHA-512",
        "PfsDhGroup": "DH-GROUP21",
        "IPSECSaLifetimeSeconds": 3600,
        "IPSECSaLifetimeTraffic": 4096000000,
    },
}


def sdk(endpoint_url: str, secret_id: str = DEMO_SECRET_ID, secret_key: str = DEMO_SECRET_KEY) -> Any:
    """Tencent's own VpcClient, pointed at the simulator's API 3.0 endpoint over plain HTTP."""
    netloc = urlsplit(endpoint_url).netloc
    profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=netloc, reqTimeout=10))
    return vpc_client.VpcClient(credential.Credential(secret_id, secret_key), "ap-guangzhou", profile)


def sdk_set_today(client: Any, conn: str = LAB) -> None:
    """The SDK's edit: today's values and a two-rule SPD, in one ModifyVpnConnectionAttribute."""
    request = models.ModifyVpnConnectionAttributeRequest()
    request.from_json_string(json.dumps({"VpnConnectionId": conn, "SecurityPolicyDatabases": TWO_RULES, **TODAY}))
    client.ModifyVpnConnectionAttribute(request)


def sdk_read(client: Any, conn: str = LAB) -> dict[str, Any]:
    request = models.DescribeVpnConnectionsRequest()
    request.VpnConnectionIds = [conn]
    answer = client.DescribeVpnConnections(request)
    (item,) = answer.VpnConnectionSet
    return dict(json.loads(item.to_json_string()))


async def until_live(client: Any, predicate: Any, seconds: float = 10.0) -> dict[str, Any]:
    """The SDK's view once ``predicate`` holds and the connection is AVAILABLE again (the edit takes the world's
    task time either way)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        item = await asyncio.to_thread(sdk_read, client)
        if item["State"] == "AVAILABLE" and predicate(item):
            return item
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not live within {seconds} s: {item['State']}")
        await asyncio.sleep(0.05)


@pytest.fixture(params=["v3", "v3-task"])
def api3(request: pytest.FixtureRequest) -> Iterator[str]:
    previous = dialect.behaviour()
    dialect.use(request.param)
    try:
        yield request.param
    finally:
        dialect.use(previous)


@pytest.mark.usefixtures("api3")
async def test_todays_tunnel_lists_shows_and_edits_and_its_spd_survives_byte_for_byte(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        client = sdk(h.sim.v3_url)
        await asyncio.to_thread(sdk_set_today, client)
        before = await until_live(client, lambda item: item["SecurityPolicyDatabaseSet"] == TWO_RULES)

        await h.command("list vpc-l4b7rq2m")
        await h.command(f"show {LAB}")
        replies = await h.slack.wait_for("response_url", count=2, timeout=WAIT)
        texts = sorted((json.dumps(r.args) for r in replies), key=lambda text: "VPN connection(s)" not in text)
        listing, details = texts
        assert LAB in listing
        assert "could not be read" not in listing
        for value in ("aes256gcm128", "sha-512", "group19", "ikev2", "dh-group21"):
            assert value in details, value
        assert "10.8.1.0/24 -&gt; 172.20.10.0/24; 10.8.4.0/24 -&gt; 172.20.20.0/24, 172.20.21.0/24" in details

        view = await h.open_form(LAB)
        fields = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
        assert fields["IKESet.ikeVersion"]["element"]["initial_option"]["value"] == "ikev2"
        assert fields["IKESet.dhGroupName"]["element"]["initial_option"]["value"] == "group19"
        card = await h.submit_and_wait(view, {"vpnConnName": "lab-renamed", "IKESet.dhGroupName": "group21"})
        assert "group19" in card_text(card)
        assert "group21" in card_text(card)
        assert (await h.click("approve_change", card, APPROVER)).status_code == 200
        await h.wait_thread_text(card, "Verified: every proposed value is live")

        after = await asyncio.to_thread(sdk_read, client)
        assert after["VpnConnectionName"] == "lab-renamed"
        assert after["IKEOptionsSpecification"]["DhGroupName"] == "GROUP21"
        for unchanged in ("PropoEncryAlgorithm", "PropoAuthenAlgorithm", "IKEVersion"):
            assert after["IKEOptionsSpecification"][unchanged] == before["IKEOptionsSpecification"][unchanged]
        assert json.dumps(after["SecurityPolicyDatabaseSet"]) == json.dumps(before["SecurityPolicyDatabaseSet"])
        assert after["IPSECOptionsSpecification"] == before["IPSECOptionsSpecification"]


@pytest.mark.usefixtures("api3")
# Refused by vpnbot itself, before any edit of its own: whether an edit leaves a task is moot, so one run.
@pytest.mark.parametrize("api3", ["v3"], indirect=True)
async def test_a_peer_cidr_edit_that_would_widen_the_two_rule_spd_is_refused_inline(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        client = sdk(h.sim.v3_url)
        await asyncio.to_thread(sdk_set_today, client)
        await until_live(client, lambda item: item["SecurityPolicyDatabaseSet"] == TWO_RULES)
        view = await h.open_form(LAB)
        response = await h.submit(view, {"userGwCidrBlock": "172.20.30.0/24"})
        errors = response.json()["errors"]
        assert "edit spdAcl instead" in errors["userGwCidrBlock"]
        assert h.sim.state.received("ModifyVpnConnectionAttribute") == 1  # the SDK's own edit only


@pytest.fixture
def cli_sim(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ThreadedSim]:
    with threaded_sim(canary_world(task_seconds=0.1)) as running:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", CANARY_SECRET_ID)
        monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", CANARY_SECRET_KEY)
        yield running


def show_json(sim: ThreadedSim, api: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("VPNBOT_CLOUD_API", api)
    monkeypatch.setenv("VPNBOT_CLOUD_ENDPOINT", sim.v3_url if api == "v3" else sim.url)
    capsys.readouterr()
    assert main(["show", LAB, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_change_made_by_tencents_sdk_is_what_vpnbot_show_reports_under_both_dialects(
    cli_sim: ThreadedSim, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = sdk(cli_sim.v3_url, CANARY_SECRET_ID, CANARY_SECRET_KEY)
    sdk_set_today(client)
    deadline = 100
    while sdk_read(client)["State"] != "AVAILABLE" and deadline:
        deadline -= 1
        asyncio.run(asyncio.sleep(0.05))
    v3 = show_json(cli_sim, "v3", capsys, monkeypatch)["settings"]
    assert v3["IKESet.propoEncryAlgorithm"] == "aes256gcm128"
    assert v3["IKESet.ikeVersion"] == "ikev2"
    assert v3["IPsecSet.integrityAlgorith"] == "sha-512"
    assert v3["spdAcl"] == {"10.8.1.0/24": ["172.20.10.0/24"], "10.8.4.0/24": ["172.20.20.0/24", "172.20.21.0/24"]}
    v2 = show_json(cli_sim, "v2", capsys, monkeypatch)["settings"]
    # API 2.0 shows what its DescribeVpnConn can: the same values, the SPD as its VPC-side x IDC-side CIDRs.
    assert v2["IKESet.propoEncryAlgorithm"] == "aes256gcm128"
    assert v2["IKESet.dhGroupName"] == "group19"
    assert sorted(v2["userGwCidrBlock"]) == ["172.20.10.0/24", "172.20.20.0/24", "172.20.21.0/24"]
    assert "IKESet.ikeVersion" not in v2
