"""Tencent's legacy API 2.0 SDK (``QcloudApi``, qcloudapi-sdk-python 2.0.15) drives the simulator's API 2.0 actions
over HTTPS on loopback, and a change made through it is visible through the official API 3.0 SDK (and the other
way round): one world, two wires.

``QcloudApi`` speaks HTTPS only and signs its ``requestHost`` (port included): the simulator serves TLS with a
throw-away self-signed certificate for 127.0.0.1 made here, which the SDK trusts through ``SSL_CERT_FILE``.
Its ``vpc`` module pins ``requestHost`` to ``vpc.api.qcloud.com`` as a class attribute, which wins over
``config["endpoint"]`` (``modules/base.py``: ``self.requestHost or config.get("endpoint")``); the test clears that
one class attribute (monkeypatch, undone after each test) so the SDK's own endpoint setting is honoured. Signing,
parameter flattening and transport are the SDK's, unchanged.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from QcloudApi.modules.vpc import Vpc
from QcloudApi.qcloudapi import QcloudApi
from simthread import FakeClock, ThreadedSim, threaded_sim
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.vpc.v20170312 import models
from tencentcloud.vpc.v20170312.vpc_client import VpcClient

from bot.cli import main
from bot.sim import DEMO_SECRET_ID, DEMO_SECRET_KEY, SimState, load_world

VPC, GW, CONN = "vpc-03vihbk9", "vpngw-kfldykuz", "vpnx-ol6bcqp0"
LAB_VPC, LAB_GW, TWO, GCM = "vpc-l4b7rq2m", "vpngw-m4t9qe2c", "vpnx-s2r7p5qe", "vpnx-g4cm2k7d"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A fresh certificate and key for 127.0.0.1 (the certificate is its own CA), as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vpnbot simulator test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "sim.pem", directory / "sim.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def pem(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path)


@pytest.fixture
def sim(pem: tuple[Path, Path], clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadedSim]:
    cert, key = pem
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    monkeypatch.setattr(Vpc, "requestHost", "")
    world = load_world(None)
    with threaded_sim(world, state=SimState(world, clock=clock, seed=9), ssl_context=context) as running:
        yield running


def advance(sim: ThreadedSim, clock: FakeClock, seconds: float) -> None:
    def move() -> None:
        clock.now += seconds

    sim.call(move)


def qcloud(
    sim: ThreadedSim, *, method: str = "POST", signature: str = "HmacSHA256", secret_key: str = DEMO_SECRET_KEY
) -> QcloudApi:
    config = {
        "secretId": DEMO_SECRET_ID,
        "secretKey": secret_key,
        "Region": "ap-guangzhou",
        "method": method,
        "SignatureMethod": signature,
        "endpoint": urlsplit(sim.url).netloc,  # 127.0.0.1:PORT
    }
    return QcloudApi("vpc", config)


def call(api: QcloudApi, action: str, params: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(api.call(action, params))
    return answer


def v3(sim: ThreadedSim) -> VpcClient:
    """The official API 3.0 SDK, over the same TLS listener (trusting the test's certificate)."""
    certificate = os.environ["SSL_CERT_FILE"]
    http = HttpProfile(protocol="https", endpoint=urlsplit(sim.v3_url).netloc, certification=certificate)
    profile = ClientProfile(httpProfile=http)
    return VpcClient(credential.Credential(DEMO_SECRET_ID, DEMO_SECRET_KEY), "ap-guangzhou", profile)


def v3_item(sim: ThreadedSim, conn_id: str) -> Any:
    request = models.DescribeVpnConnectionsRequest()
    request.VpnConnectionIds = [conn_id]
    return v3(sim).DescribeVpnConnections(request).VpnConnectionSet[0]


def test_the_simulator_speaks_https(sim: ThreadedSim) -> None:
    assert sim.url.startswith("https://127.0.0.1:")


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("signature", ["HmacSHA256", "HmacSHA1"])
def test_describe_vpn_conn(sim: ThreadedSim, method: str, signature: str) -> None:
    answer = call(qcloud(sim, method=method, signature=signature), "DescribeVpnConn", {"vpnConnId": CONN})
    assert (answer["code"], answer["codeDesc"], answer["totalCount"]) == (0, "Success", 1)
    item = answer["data"][0]
    assert (item["unVpnConnId"], item["vpnGwId"], item["IKESet"]["dhGroupName"]) == (CONN, 1270, "group2")
    listed = call(qcloud(sim, method=method, signature=signature), "DescribeVpnConn", {"vpcId": VPC, "limit": 50})
    assert listed["totalCount"] == 3


def test_the_seed_example_through_the_sdk_then_its_task(sim: ThreadedSim, clock: FakeClock) -> None:
    api = qcloud(sim)
    answer = call(
        api,
        "ModifyVpnConnEx",
        {
            "vpcId": VPC,
            "vpnGwId": GW,
            "vpnConnId": CONN,
            "userGwCidrBlock": ["10.100.2.0/24"],
            "preSharedKey": "tencenttest",
        },
    )
    assert answer == {
        "code": 0,
        "message": "",
        "codeDesc": "Success",
        "data": {
            "vpnGwId": GW,
            "vpcConnId": CONN,
            "taskId": 12614,
            "vpcConnStatus": 2,
            "preSharedKey": "tencenttest",
            "userGwSubnetList": ["10.100.2.0/24"],
            "userGwId": 315,
        },
    }
    assert call(api, "DescribeVpcTaskResult", {"taskId": 12614})["data"] == {"status": 2}
    advance(sim, clock, 5)
    assert call(api, "DescribeVpcTaskResult", {"taskId": 12614})["data"] == {"status": 0}
    item = call(api, "DescribeVpnConn", {"vpnConnId": CONN})["data"][0]
    assert (item["destinationCidr"], item["preSharedKey"]) == (["10.100.2.0/24"], "tencenttest")


def test_a_change_through_qcloudapi_is_visible_through_the_api_3_sdk(sim: ThreadedSim, clock: FakeClock) -> None:
    spd = ['{"10.8.2.0/24": ["172.20.12.0/24"]}', '{"10.8.3.0/24": ["172.20.13.0/24"]}']
    params = {
        "vpcId": LAB_VPC,
        "vpnGwId": LAB_GW,
        "vpnConnId": TWO,
        "spdAcl": spd,  # flattened by the SDK into spdAcl.0, spdAcl.1
        "IKESet": {"propoEncryAlgorithm": "aes-cbc-192", "dhGroupName": "group24", "ikeSaLifetimeSeconds": 3600},
        "IPsecSet": {"integrityAlgorith": "md5", "pfsDhGroup": "dh-group5"},
    }
    assert call(qcloud(sim), "ModifyVpnConnEx", params)["code"] == 0
    assert v3_item(sim, TWO).State == "PENDING"
    advance(sim, clock, 5)
    item = v3_item(sim, TWO)
    assert [rule._serialize() for rule in item.SecurityPolicyDatabaseSet] == [
        {"LocalCidrBlock": "10.8.2.0/24", "RemoteCidrBlock": ["172.20.12.0/24"]},
        {"LocalCidrBlock": "10.8.3.0/24", "RemoteCidrBlock": ["172.20.13.0/24"]},
    ]
    ike, ipsec = item.IKEOptionsSpecification, item.IPSECOptionsSpecification
    assert (ike.PropoEncryAlgorithm, ike.DhGroupName, ike.IKESaLifetimeSeconds) == ("AES-CBC-192", "GROUP24", 3600)
    assert (ipsec.IntegrityAlgorithm, ipsec.PfsDhGroup) == ("MD5", "DH-GROUP5")


def test_a_change_through_the_api_3_sdk_is_visible_through_qcloudapi(sim: ThreadedSim, clock: FakeClock) -> None:
    request = models.ModifyVpnConnectionAttributeRequest()
    request.from_json_string(
        json.dumps(
            {
                "VpnConnectionId": CONN,
                "VpnConnectionName": "renamed-by-v3",
                "IKEOptionsSpecification": {"ExchangeMode": "AGGRESSIVE", "DhGroupName": "GROUP14"},
            }
        )
    )
    v3(sim).ModifyVpnConnectionAttribute(request)
    api = qcloud(sim, method="GET")
    assert call(api, "DescribeVpnConn", {"vpnConnId": CONN})["data"][0]["vpcConnStatus"] == 2
    advance(sim, clock, 5)
    item = call(api, "DescribeVpnConn", {"vpnConnId": CONN})["data"][0]
    assert (item["vpnConnName"], item["IKESet"]["exchangeMode"], item["IKESet"]["dhGroupName"]) == (
        "renamed-by-v3",
        "aggressive",
        "group14",
    )
    assert (item["vpcConnStatus"], item["destinationCidr"]) == (6, ["10.100.1.0/24"])


def test_api_3_only_values_read_through_api_2_and_refused_as_input(sim: ThreadedSim) -> None:
    api = qcloud(sim)
    item = call(api, "DescribeVpnConn", {"vpnConnId": GCM})["data"][0]
    assert (item["IKESet"]["propoEncryAlgorithm"], item["IKESet"]["dhGroupName"]) == ("aes256gcm128", "group20")
    params = {
        "vpcId": LAB_VPC,
        "vpnGwId": LAB_GW,
        "vpnConnId": GCM,
        "userGwCidrBlock": ["172.20.1.0/24"],
        "IKESet": {"dhGroupName": "group20"},
    }
    refused = call(api, "ModifyVpnConnEx", params)
    assert (refused["code"], refused["codeDesc"]) == (4000, "InvalidParameter")
    assert refused["message"].startswith("IKESet.dhGroupName: 'group20' is not one of")


@pytest.mark.parametrize(
    ("params", "code", "code_desc"),
    [
        ({"vpcId": VPC, "vpnGwId": GW, "vpnConnId": CONN, "vpnConnName": "x"}, 4000, "InvalidParameter"),
        ({"vpcId": VPC, "vpnGwId": GW, "vpnConnId": CONN, "userGwCidrBlock": ["10.100.1.0/24"], "vpnConnName": "idc-beijing-2"}, 4000, "InvalidVpnConnName"),
        ({"vpcId": "vpc-nothere", "vpnGwId": GW, "vpnConnId": CONN, "userGwCidrBlock": ["10.1.0.0/24"]}, 5000, "InvalidVpc.NotFound"),
        ({"vpcId": VPC, "vpnGwId": GW, "vpnConnId": "vpnx-nothere", "userGwCidrBlock": ["10.1.0.0/24"]}, 5000, "InvalidVpnGw.NotFound"),
    ],
)  # fmt: skip
def test_refusals_in_the_seeds_codes(sim: ThreadedSim, params: dict[str, Any], code: int, code_desc: str) -> None:
    answer = call(qcloud(sim), "ModifyVpnConnEx", params)
    assert (answer["code"], answer["codeDesc"]) == (code, code_desc)


def test_a_wrong_secret_key_is_4100(sim: ThreadedSim) -> None:
    answer = call(qcloud(sim, secret_key="not-the-key"), "DescribeVpnConn", {})
    assert (answer["code"], answer["codeDesc"]) == (4100, "AuthFailure.SignatureFailure")


def test_an_over_limit_call_is_4400(sim: ThreadedSim) -> None:
    sim.faults(rateLimits={"DescribeVpnConn": 1})
    api = qcloud(sim)
    assert call(api, "DescribeVpnConn", {})["code"] == 0
    assert call(api, "DescribeVpnConn", {})["code"] == 4400


@pytest.mark.parametrize("api", ["v2", "v3"])
def test_a_change_through_qcloudapi_is_what_vpnbot_show_reports(
    sim: ThreadedSim,
    clock: FakeClock,
    api: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """vpnbot's own clients over the same TLS listener (httpx trusts ``SSL_CERT_FILE`` too)."""
    params = {"vpcId": VPC, "vpnGwId": GW, "vpnConnId": CONN, "vpnConnName": "renamed-by-qcloudapi"}
    params |= {"userGwCidrBlock": ["10.100.7.0/24"], "IKESet": {"dhGroupName": "group14"}}
    assert call(qcloud(sim), "ModifyVpnConnEx", params)["code"] == 0
    advance(sim, clock, 5)
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "VPNBOT_CLOUD_API": api,
        "VPNBOT_CLOUD_ENDPOINT": sim.v3_url if api == "v3" else sim.url,
        "TENCENTCLOUD_SECRET_ID": DEMO_SECRET_ID,
        "TENCENTCLOUD_SECRET_KEY": DEMO_SECRET_KEY,
    }.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert main(["show", CONN, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["settings"]
    assert (shown["vpnConnName"], shown["userGwCidrBlock"], shown["IKESet.dhGroupName"]) == (
        "renamed-by-qcloudapi",
        ["10.100.7.0/24"],
        "group14",
    )
