"""The other end of each tunnel in the simulator, over real HTTP on loopback: edits land, the tunnel renegotiates
``renegotiateSeconds`` later (on an injected clock: not before), and only then does ``NetStatus`` follow the match
rule; the peer is read and updated at ``/_sim/peers/{id}`` and by ``vpnbot sim --peer`` (``run_peer_update``); its
key never shows; the world file's ``peer`` is checked like the rest of the file."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from simthread import FakeClock

from bot.sim import DEMO_SECRET_ID, DEMO_SECRET_KEY, SimServer, SimState, World, load_world
from bot.sim.cli import run_peer_update
from bot.sim.peer_admin import parse_peer_setting, read_peer, update_peer
from bot.tencent.signing import TC3_CONTENT_TYPE, sign, string_to_sign, tc3_authorization

CONN = "vpnx-ol6bcqp0"  # office-shanghai: up, SPD 10.0.1.0/24 -> 10.100.1.0/24, key sh-office-2019
ACME = "vpnx-k2w6fj0u"  # partner-acme: the file says unavailable
TWO = "vpnx-s2r7p5qe"  # Policy: 10.8.2.0/24 -> 172.20.2.0/24, 10.8.3.0/24 -> 172.20.3.0/24
ROUTE = "vpnx-r9t3w6yb"  # StaticRoute with a health check
CONN_KEY = "sh-office-2019"
NEW_KEY = "peer-test-Key-5521"
TASK, RENEGOTIATE = 5.0, 2.0


@dataclass
class Cloud:
    """The simulator on loopback, an HTTP client and the world's clock, for one test."""

    http: httpx.AsyncClient
    sim: SimServer
    clock: FakeClock

    @property
    def base_url(self) -> str:
        return self.sim.base_url

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    async def v3(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        payload = json.dumps(params).encode()
        host = urlsplit(self.sim.v3_url).netloc
        headers = {
            "Authorization": tc3_authorization(
                DEMO_SECRET_ID,
                DEMO_SECRET_KEY,
                service="vpc",
                host=host,
                timestamp=int(self.clock.now),
                payload=payload,
                content_type=TC3_CONTENT_TYPE,
            ),
            "Content-Type": TC3_CONTENT_TYPE,
            "X-TC-Action": action,
            "X-TC-Version": "2017-03-12",
            "X-TC-Timestamp": str(int(self.clock.now)),
        }
        response = await self.http.post(self.sim.v3_url, content=payload, headers=headers)
        assert response.status_code == 200
        answer: dict[str, Any] = response.json()["Response"]
        return answer

    async def item(self, conn: str) -> dict[str, Any]:
        answer = await self.v3("DescribeVpnConnections", {"VpnConnectionIds": [conn]})
        item: dict[str, Any] = answer["VpnConnectionSet"][0]
        return item

    async def net_status(self, conn: str) -> str:
        return str((await self.item(conn))["NetStatus"])

    async def modify(self, conn: str, **fields: Any) -> None:
        answer = await self.v3("ModifyVpnConnectionAttribute", {"VpnConnectionId": conn, **fields})
        assert "Error" not in answer, answer

    async def edit_and_land(self, conn: str, **fields: Any) -> None:
        await self.modify(conn, **fields)
        self.advance(TASK)
        assert (await self.item(conn))["State"] == "AVAILABLE"

    async def peer(self, conn: str) -> httpx.Response:
        return await self.http.get(f"{self.base_url}/_sim/peers/{conn}")

    async def set_peer(self, conn: str, body: Any) -> httpx.Response:
        return await self.http.post(f"{self.base_url}/_sim/peers/{conn}", json=body)

    async def tunnel(self, conn: str) -> dict[str, Any]:
        response = await self.peer(conn)
        assert response.status_code == 200
        answer: dict[str, Any] = response.json()
        return answer


def demo_with_peer(conn: str, peer: Any) -> World:
    document = load_world(None).to_json()
    item = next(one for one in document["vpnConnections"] if one["unVpnConnId"] == conn)
    item["peer"] = peer
    return World.model_validate(document)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def world() -> World:
    return load_world(None)


@pytest.fixture
async def cloud(world: World, clock: FakeClock) -> AsyncIterator[Cloud]:
    async with SimServer(SimState(world, clock=clock, seed=11)) as sim, httpx.AsyncClient(timeout=5.0) as http:
        yield Cloud(http, sim, clock)


# --- the demo world ----------------------------------------------------------------------------------------------


async def test_every_demo_tunnel_has_a_matching_peer_and_keeps_the_files_status(cloud: Cloud) -> None:
    for conn in (CONN, ACME, TWO, ROUTE):
        tunnel = await cloud.tunnel(conn)
        assert (tunnel["vpnConnId"], tunnel["match"], tunnel["mismatches"]) == (conn, True, [])
        assert "renegotiatesAt" not in tunnel
        assert tunnel["peer"]["preSharedKey"] == "***"
    assert (await cloud.tunnel(ACME))["netStatus"] == "unavailable"  # as the file says, until it renegotiates
    peer = (await cloud.tunnel(CONN))["peer"]
    assert peer["IKESet"] == {
        "ikeVersion": "ikev1",
        "exchangeMode": "main",
        "propoEncryAlgorithm": "aes-cbc-256",
        "propoAuthenAlgorithm": "sha",
        "dhGroupName": "group2",
        "localIdentity": "address",
        "localAddress": "203.0.113.10",
        "localFqdnName": None,  # not checked: the identity is an address
        "remoteIdentity": "address",
        "remoteAddress": "198.51.100.21",
        "remoteFqdnName": None,
    }
    assert peer["IPsecSet"] == {
        "encryptAlgorithm": "aes-cbc-256",
        "integrityAlgorith": "sha1",
        "pfsDhGroup": "dh-group14",
    }
    assert peer["spdAcl"] == [{"10.0.1.0/24": ["10.100.1.0/24"]}]


# --- edits and renegotiation -------------------------------------------------------------------------------------


async def test_a_key_edit_goes_down_at_renegotiation_and_the_peers_new_key_brings_it_back(cloud: Cloud) -> None:
    started = cloud.clock.now
    await cloud.modify(CONN, PreShareKey=NEW_KEY)
    cloud.advance(TASK - 0.1)
    assert ((await cloud.item(CONN))["State"], await cloud.net_status(CONN)) == ("PENDING", "AVAILABLE")
    cloud.advance(0.1)  # the edit lands: the established SA survives until the renegotiation
    assert ((await cloud.item(CONN))["State"], await cloud.net_status(CONN)) == ("AVAILABLE", "AVAILABLE")
    tunnel = await cloud.tunnel(CONN)
    assert (tunnel["match"], tunnel["mismatches"], tunnel["netStatus"]) == (False, ["preSharedKey"], "available")
    assert tunnel["renegotiatesAt"] == pytest.approx(started + TASK + RENEGOTIATE)
    cloud.advance(RENEGOTIATE - 0.1)
    assert await cloud.net_status(CONN) == "AVAILABLE"
    cloud.advance(0.1)
    assert await cloud.net_status(CONN) == "UNAVAILABLE"
    assert "renegotiatesAt" not in await cloud.tunnel(CONN)

    updated = await cloud.set_peer(CONN, {"preSharedKey": NEW_KEY})
    assert updated.status_code == 200
    answer = updated.json()
    assert (answer["match"], answer["mismatches"], answer["netStatus"]) == (True, [], "unavailable")
    assert answer["renegotiatesAt"] == pytest.approx(cloud.clock.now + RENEGOTIATE)
    cloud.advance(RENEGOTIATE - 0.1)
    assert await cloud.net_status(CONN) == "UNAVAILABLE"
    cloud.advance(0.1)
    assert await cloud.net_status(CONN) == "AVAILABLE"


async def test_mirror_makes_the_peer_the_connection_as_it_is_now(cloud: Cloud) -> None:
    await cloud.edit_and_land(
        CONN,
        PreShareKey=NEW_KEY,
        IKEOptionsSpecification={"DhGroupName": "GROUP14", "PropoAuthenAlgorithm": "SHA-256"},
    )
    cloud.advance(RENEGOTIATE)
    tunnel = await cloud.tunnel(CONN)
    assert tunnel["mismatches"] == ["preSharedKey", "IKESet.propoAuthenAlgorithm", "IKESet.dhGroupName"]
    assert tunnel["netStatus"] == "unavailable"
    mirrored = (await cloud.set_peer(CONN, {"mirror": True})).json()
    assert (mirrored["match"], mirrored["peer"]["IKESet"]["dhGroupName"]) == (True, "group14")
    cloud.advance(RENEGOTIATE)
    assert await cloud.net_status(CONN) == "AVAILABLE"


async def test_a_proposal_the_peer_does_not_offer_goes_down(cloud: Cloud) -> None:
    await cloud.edit_and_land(
        CONN, IPSECOptionsSpecification={"PfsDhGroup": "DH-GROUP19", "EncryptAlgorithm": "AES-CBC-128"}
    )
    cloud.advance(RENEGOTIATE)
    assert await cloud.net_status(CONN) == "UNAVAILABLE"
    assert (await cloud.tunnel(CONN))["mismatches"] == ["IPsecSet.encryptAlgorithm", "IPsecSet.pfsDhGroup"]
    patch = {"IPsecSet": {"pfsDhGroup": "dh-group19"}, "IPsecSet.encryptAlgorithm": "AES-CBC-128"}  # nested, dotted
    assert (await cloud.set_peer(CONN, patch)).json()["match"] is True
    cloud.advance(RENEGOTIATE)
    assert await cloud.net_status(CONN) == "AVAILABLE"


async def test_a_selector_change_goes_down_until_the_peer_offers_the_same_pairs(cloud: Cloud) -> None:
    spd = [
        {"LocalCidrBlock": "10.8.2.0/24", "RemoteCidrBlock": ["172.20.2.0/24", "172.20.9.0/24"]},
        {"LocalCidrBlock": "10.8.3.0/24", "RemoteCidrBlock": ["172.20.3.0/24"]},
    ]
    await cloud.edit_and_land(TWO, SecurityPolicyDatabases=spd)
    cloud.advance(RENEGOTIATE)
    assert await cloud.net_status(TWO) == "UNAVAILABLE"
    assert (await cloud.tunnel(TWO))["mismatches"] == ["spdAcl"]
    only_part = {"spdAcl": [{"10.8.2.0/24": ["172.20.9.0/24"]}, {"10.8.3.0/24": ["172.20.3.0/24"]}]}
    assert (await cloud.set_peer(TWO, only_part)).json()["mismatches"] == ["spdAcl"]
    same_pairs_regrouped = {
        "spdAcl": [
            {"10.8.3.0/24": ["172.20.3.0/24"]},
            {"10.8.2.0/24": ["172.20.9.0/24"]},
            {"10.8.2.0/24": ["172.20.2.0/24"]},
        ]
    }
    assert (await cloud.set_peer(TWO, same_pairs_regrouped)).json()["match"] is True  # sets of pairs
    cloud.advance(RENEGOTIATE)
    assert await cloud.net_status(TWO) == "AVAILABLE"


async def test_a_name_only_edit_never_changes_net_status(cloud: Cloud) -> None:
    for conn, status in ((CONN, "AVAILABLE"), (ACME, "UNAVAILABLE")):
        await cloud.edit_and_land(conn, VpnConnectionName=f"renamed-{conn}")
        assert "renegotiatesAt" not in await cloud.tunnel(conn)
        cloud.advance(3600)
        assert await cloud.net_status(conn) == status


async def test_a_lifetimes_only_edit_renegotiates_and_stays_up(cloud: Cloud) -> None:
    await cloud.edit_and_land(
        CONN,
        IKEOptionsSpecification={"IKESaLifetimeSeconds": 3600},
        IPSECOptionsSpecification={"IPSECSaLifetimeSeconds": 900, "IPSECSaLifetimeTraffic": 2560},
    )
    tunnel = await cloud.tunnel(CONN)
    assert (tunnel["match"], "renegotiatesAt" in tunnel) == (True, True)
    cloud.advance(RENEGOTIATE)
    assert await cloud.net_status(CONN) == "AVAILABLE"


async def test_a_renegotiation_due_before_an_edit_lands_sees_the_old_settings(cloud: Cloud) -> None:
    """Tasks and renegotiations run in the order of their times, however far one call moves the clock."""
    await cloud.modify(CONN, PreShareKey=NEW_KEY)
    assert (await cloud.set_peer(CONN, {"mirror": True})).json()["match"] is True  # mirrors the settings in force
    cloud.advance(RENEGOTIATE)
    assert await cloud.net_status(CONN) == "AVAILABLE"
    cloud.advance(TASK + RENEGOTIATE)  # the edit lands at 5 s and renegotiates at 7 s with the old key on the peer
    assert await cloud.net_status(CONN) == "UNAVAILABLE"


async def test_the_health_check_status_follows_the_tunnel(cloud: Cloud) -> None:
    await cloud.edit_and_land(ROUTE, PreShareKey=NEW_KEY)
    cloud.advance(RENEGOTIATE)
    item = await cloud.item(ROUTE)
    assert (item["NetStatus"], item["HealthCheckStatus"]) == ("UNAVAILABLE", "UNAVAILABLE")
    await cloud.set_peer(ROUTE, {"mirror": True})
    cloud.advance(RENEGOTIATE)
    item = await cloud.item(ROUTE)
    assert (item["NetStatus"], item["HealthCheckStatus"]) == ("AVAILABLE", "AVAILABLE")


async def test_api_2_shows_the_status_in_its_own_words(cloud: Cloud) -> None:
    await cloud.edit_and_land(CONN, PreShareKey=NEW_KEY)
    cloud.advance(RENEGOTIATE)
    params = {
        "Action": "DescribeVpnConn",
        "Region": "ap-guangzhou",
        "SecretId": DEMO_SECRET_ID,
        "Timestamp": str(int(cloud.clock.now)),
        "Nonce": "4711",
        "SignatureMethod": "HmacSHA256",
        "vpnConnId": CONN,
    }
    host = urlsplit(cloud.sim.url).netloc
    params["Signature"] = sign(DEMO_SECRET_KEY, string_to_sign("GET", host, "/v2/index.php", params), "HmacSHA256")
    answer = (await cloud.http.get(cloud.sim.url, params=params)).json()
    assert answer["code"] == 0, answer
    assert answer["data"][0]["netStatus"] == "unavailable"


async def test_the_renegotiation_delay_comes_from_the_state_the_fault_or_the_server(
    cloud: Cloud, world: World, clock: FakeClock
) -> None:
    cloud.sim.state.renegotiate_seconds = 30
    await cloud.edit_and_land(CONN, PreShareKey=NEW_KEY)
    assert (await cloud.tunnel(CONN))["renegotiatesAt"] == pytest.approx(clock.now + 30)
    faults = await cloud.http.post(f"{cloud.base_url}/_sim/faults", json={"renegotiateSeconds": 0.5})
    assert faults.json()["faults"]["renegotiateSeconds"] == 0.5
    assert (await cloud.tunnel(CONN))["renegotiatesAt"] == pytest.approx(clock.now + 30)  # scheduled before
    answer = (await cloud.set_peer(CONN, {"IKESet.dhGroupName": "group5"})).json()  # still the old key, too
    assert answer["renegotiatesAt"] == pytest.approx(clock.now + 0.5)
    cloud.advance(0.4)
    assert await cloud.net_status(CONN) == "AVAILABLE"
    cloud.advance(0.1)
    assert await cloud.net_status(CONN) == "UNAVAILABLE"
    async with SimServer(SimState(world, clock=clock), renegotiate_seconds=7) as other:
        assert other.state.renegotiate_seconds == 7
    with pytest.raises(ValueError, match="renegotiate_seconds"):
        SimServer(SimState(world), renegotiate_seconds=-1)


# --- no peer ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("world", [demo_with_peer(CONN, None)])
async def test_without_a_peer_edits_never_change_net_status(cloud: Cloud) -> None:
    tunnel = await cloud.tunnel(CONN)
    assert (tunnel["peer"], tunnel["match"], tunnel["mismatches"]) == (None, None, [])
    await cloud.edit_and_land(CONN, PreShareKey=NEW_KEY, IKEOptionsSpecification={"DhGroupName": "GROUP14"})
    cloud.advance(3600)
    assert await cloud.net_status(CONN) == "AVAILABLE"
    assert "renegotiatesAt" not in await cloud.tunnel(CONN)
    partial = await cloud.set_peer(CONN, {"preSharedKey": NEW_KEY})
    assert partial.status_code == 400
    assert "no peer is modelled" in partial.json()["error"]
    assert "IKESet" in partial.json()["error"]
    created = (await cloud.set_peer(CONN, {"mirror": True})).json()
    assert (created["match"], created["peer"]["preSharedKey"]) == (True, "***")


# --- what never shows -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("world", [demo_with_peer(CONN, {"preSharedKey": "peer-only-Secret-771"})])
async def test_the_peers_key_shows_nowhere(cloud: Cloud, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    tunnel = await cloud.tunnel(CONN)
    assert (tunnel["match"], tunnel["mismatches"], tunnel["netStatus"]) == (False, ["preSharedKey"], "available")
    world = (await cloud.http.get(f"{cloud.base_url}/_sim/world")).text
    assert "peer-only-Secret-771" not in world
    item = next(one for one in json.loads(world)["vpnConnections"] if one["unVpnConnId"] == CONN)
    assert item["peer"]["preSharedKey"] == "***"
    other = next(one for one in json.loads(world)["vpnConnections"] if one["unVpnConnId"] == ACME)
    assert "peer" not in other  # a mirroring peer is left out, as the world file may leave it out
    second = "second-peer-Secret-9931"
    answered = await cloud.set_peer(CONN, {"preSharedKey": second, "IKESet": {"dhGroupName": "group5"}})
    too_long = await cloud.set_peer(CONN, {"preSharedKey": "x" + second * 10})
    assert too_long.status_code == 400
    assert "preSharedKey" in too_long.json()["error"]
    for text in (answered.text, too_long.text, (await cloud.peer(CONN)).text, caplog.text):
        assert second not in text
        assert "peer-only-Secret-771" not in text


async def test_the_snapshot_keeps_a_peer_that_differs_and_reloads_into_the_same_tunnels(cloud: Cloud) -> None:
    await cloud.set_peer(CONN, {"IKESet": {"dhGroupName": "group14", "localIdentity": None}})
    state = cloud.sim.state
    snapshot = state.snapshot()
    del snapshot["tasks"]
    item = next(one for one in snapshot["vpnConnections"] if one["unVpnConnId"] == CONN)
    assert item["peer"]["preSharedKey"] == CONN_KEY  # in process, as the stored keys are
    assert (item["peer"]["IKESet"]["localIdentity"], item["peer"]["IKESet"]["localAddress"]) == (None, None)
    reloaded = SimState(World.model_validate(snapshot))
    assert reloaded.tunnel(CONN).mismatches == ("IKESet.dhGroupName",)
    assert reloaded.peer(CONN) == state.peer(CONN)


# --- errors -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("not json", "JSON"),
        ([1, 2], "JSON object"),
        ({"frobnicate": 1}, "frobnicate"),
        ({"IKESet": {"dhGroupName": "group99"}}, "IKESet.dhGroupName: 'group99' is not one of"),
        ({"IKESet.propoEncryAlgorithm": "rot13"}, "IKESet.propoEncryAlgorithm"),
        ({"IKESet": {"ikeSaLifetimeSeconds": 3600}}, "IKESet.ikeSaLifetimeSeconds"),
        ({"IPsecSet": None}, "IPsecSet"),
        ({"spdAcl": [{"10.0.1.1/24": ["10.100.1.0/24"]}]}, "host bits"),
        ({"spdAcl": [{"10.0.1.0/24": []}]}, "spdAcl"),
        ({"IKESet": {"remoteAddress": "198.51.100"}}, "IKESet.remoteAddress"),
        ({"IKESet": {"localIdentity": None, "localAddress": "203.0.113.10"}}, "need localIdentity"),
        ({"preSharedKey": ""}, "preSharedKey"),
        ({"mirror": "yes"}, "mirror"),
    ],
)
async def test_a_bad_patch_is_400_naming_the_field(cloud: Cloud, body: Any, said: str) -> None:
    before = await cloud.tunnel(CONN)
    if body == "not json":
        response = await cloud.http.post(f"{cloud.base_url}/_sim/peers/{CONN}", content=b"{not json")
    else:
        response = await cloud.set_peer(CONN, body)
    assert response.status_code == 400
    assert said in response.json()["error"]
    assert await cloud.tunnel(CONN) == before


async def test_an_unknown_connection_is_404(cloud: Cloud) -> None:
    for response in (await cloud.peer("vpnx-00000000"), await cloud.set_peer("vpnx-00000000", {"mirror": True})):
        assert response.status_code == 404
        assert "vpnx-00000000" in response.json()["error"]


# --- the client and the command line ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("preSharedKey=new=key", ("preSharedKey", "new=key")),
        ("IKESet.dhGroupName=group14", ("IKESet.dhGroupName", "group14")),
        ("IKESet.localIdentity=", ("IKESet.localIdentity", None)),
        ('spdAcl={"10.0.1.0/24": ["10.100.1.0/24", "10.100.2.0/24"]}', ("spdAcl", [{"10.0.1.0/24": ["10.100.1.0/24", "10.100.2.0/24"]}])),
        ('spdAcl=[{"10.0.1.0/24": ["10.100.1.0/24"]}]', ("spdAcl", [{"10.0.1.0/24": ["10.100.1.0/24"]}])),
    ],
)  # fmt: skip
def test_parse_peer_setting(text: str, expected: tuple[str, Any]) -> None:
    assert parse_peer_setting(text) == expected


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("preSharedKey", "KEY=VALUE"),
        ("ike.encryption=aes-cbc-256", "'ike.encryption' is not a peer setting"),
        ("sh-office-2019-secret=1", "that key"),
        ("spdAcl=10.0.1.0/24", "spdAcl"),
        ('spdAcl=["10.0.1.0/24"]', "spdAcl"),
    ],
)
def test_parse_peer_setting_refuses(text: str, said: str) -> None:
    with pytest.raises(ValueError, match=said) as caught:
        parse_peer_setting(text)
    assert "secret" not in str(caught.value)


async def test_the_client_functions_talk_to_the_simulator(cloud: Cloud) -> None:
    answer = await update_peer(cloud.base_url, CONN, dict([parse_peer_setting("IKESet.exchangeMode=aggressive")]))
    assert (answer["match"], answer["mismatches"]) == (False, ["IKESet.exchangeMode"])
    assert (await read_peer(cloud.base_url, CONN))["peer"]["IKESet"]["exchangeMode"] == "aggressive"
    with pytest.raises(ValueError, match=r"IKESet\.exchangeMode: 'sideways'"):
        await update_peer(cloud.base_url, CONN, {"IKESet.exchangeMode": "sideways"})
    with pytest.raises(ValueError, match="vpnx-00000000"):
        await read_peer(cloud.base_url, "vpnx-00000000")


async def test_run_peer_update_against_a_running_simulator(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    host, port = urlsplit(cloud.base_url).hostname or "", urlsplit(cloud.base_url).port or 0
    assert (
        await run_peer_update(host, port, CONN, [f"preSharedKey={NEW_KEY}", "IKESet.dhGroupName=group14"], False) == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert (printed["peer"]["preSharedKey"], printed["peer"]["IKESet"]["dhGroupName"]) == ("***", "group14")
    assert printed["mismatches"] == ["preSharedKey", "IKESet.dhGroupName"]
    assert printed["renegotiatesAt"] == pytest.approx(cloud.clock.now + RENEGOTIATE)

    assert await run_peer_update(host, port, CONN, [], True) == 0
    assert json.loads(capsys.readouterr().out)["match"] is True
    assert await run_peer_update(host, port, CONN, [], False) == 0  # nothing to change: shows it
    shown = capsys.readouterr()
    assert (json.loads(shown.out)["vpnConnId"], NEW_KEY in shown.out) == (CONN, False)

    assert await run_peer_update(host, port, CONN, ["IKESet.dhGroupName=group99"], False) == 2
    assert "group99" in capsys.readouterr().err
    assert await run_peer_update(host, port, CONN, ["nonsense"], False) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert await run_peer_update(host, port, "vpnx-00000000", ["preSharedKey=x"], False) == 2
    assert "vpnx-00000000" in capsys.readouterr().err
    async with SimServer(SimState()) as gone:
        gone_port = urlsplit(gone.base_url).port or 0
    assert await run_peer_update("127.0.0.1", gone_port, CONN, [], True) == 2
    assert "cannot reach" in capsys.readouterr().err


# --- the world file -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "said"),
    [
        ({"IKESet": {"dhGroupName": "group99"}}, "VPN connection vpnx-ol6bcqp0: peer.IKESet.dhGroupName: 'group99'"),
        ({"IPsecSet": {"pfsDhGroup": "group14"}}, "peer.IPsecSet.pfsDhGroup"),
        ({"spdAcl": [{"10.0.1.1/24": ["10.100.1.0/24"]}]}, "peer.spdAcl: rule 0: '10.0.1.1/24': host bits set"),
        ({"spdAcl": "10.0.1.0/24"}, "peer.spdAcl"),
        ({"frobnicate": 1}, "peer.frobnicate"),
        ({"preSharedKey": 42}, "peer.preSharedKey"),
        ({"IKESet": {"localFqdnName": "not a name!"}}, "peer.IKESet.localFqdnName"),
        ("everything", "peer: must be an object or null"),
    ],
)
def test_a_bad_peer_in_the_world_file_is_refused_with_the_field_named(peer: Any, said: str) -> None:
    with pytest.raises(ValueError, match=re.escape(said)):
        demo_with_peer(CONN, peer)


def test_load_world_names_the_field_and_never_quotes_the_peers_key(tmp_path: Path) -> None:
    document = load_world(None).to_json()
    secret = "p" * 129  # one character too many
    document["vpnConnections"][0]["peer"] = {"preSharedKey": secret}
    path = tmp_path / "world.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match=r"peer\.preSharedKey: String should have at most 128 characters") as caught:
        load_world(path)
    assert secret[:40] not in str(caught.value)


def test_a_world_file_peer_patches_the_mirror_and_renegotiate_seconds_is_read() -> None:
    document = load_world(None).to_json()
    assert document["renegotiateSeconds"] == 2.0
    document["renegotiateSeconds"] = 9
    document["vpnConnections"][0]["peer"] = {
        "IKESet": {"ikeVersion": "IKEV2"},
        "IPsecSet": {"integrityAlgorith": "SHA"},
    }
    state = SimState(World.model_validate(document))
    assert state.renegotiate_seconds == 9
    conn = document["vpnConnections"][0]["unVpnConnId"]
    assert state.tunnel(conn).mismatches == ("IKESet.ikeVersion",)  # "sha" is IPsec SHA1, as the file spells it
    assert state.tunnel(conn).net_status == "available"  # nothing renegotiated yet
