"""Tencent's official API 3.0 SDK (``tencentcloud-sdk-python-vpc``'s ``VpcClient``, unchanged) drives the simulator
over loopback: every answer parses into the SDK's models, errors raise ``TencentCloudSDKException`` with the
per-action codes (which the SDK only does when the answer's Content-Type is exactly ``application/json``), and the
SDK signs the Host header with the port, as the simulator verifies it.

The SDK is synchronous: the simulator runs on its own thread and loop (tests/simthread.py); the world's clock is a
fake one, moved on the simulator's loop, so a task is RUNNING, then SUCCESS, without sleeping.
"""

from __future__ import annotations

import json
import urllib.request
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from simthread import FakeClock, ThreadedSim, threaded_sim
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.vpc.v20170312 import models
from tencentcloud.vpc.v20170312.vpc_client import VpcClient

from bot.sim import DEMO_SECRET_ID, DEMO_SECRET_KEY, SimState, load_world

CONN, BJ1, ACME = "vpnx-ol6bcqp0", "vpnx-3mv8tqwd", "vpnx-k2w6fj0u"
GCM, TWO, ROUTE, BGP = "vpnx-g4cm2k7d", "vpnx-s2r7p5qe", "vpnx-r9t3w6yb", "vpnx-b8g5q1zu"
VPC, GW = "vpc-03vihbk9", "vpngw-kfldykuz"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[ThreadedSim]:
    world = load_world(None)
    with threaded_sim(world, state=SimState(world, clock=clock, seed=5)) as running:
        yield running


def advance(sim: ThreadedSim, clock: FakeClock, seconds: float) -> None:
    def move() -> None:
        clock.now += seconds

    sim.call(move)


def client(sim: ThreadedSim, secret_key: str = DEMO_SECRET_KEY) -> VpcClient:
    endpoint = urlsplit(sim.v3_url).netloc  # 127.0.0.1:PORT: the SDK sends and signs it as the Host header
    profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=endpoint))
    return VpcClient(credential.Credential(DEMO_SECRET_ID, secret_key), "ap-guangzhou", profile)


def request(model: type[Any], **fields: Any) -> Any:
    """An SDK request model filled from JSON-shaped ``fields``, as the SDK's users write them."""
    made = model()
    made.from_json_string(json.dumps(fields))
    return made


def describe(vpc: VpcClient, **fields: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the SDK warns of fields its models do not have: there must be none
        return vpc.DescribeVpnConnections(request(models.DescribeVpnConnectionsRequest, **fields))


def sdk_error(call: Any) -> TencentCloudSDKException:
    with pytest.raises(TencentCloudSDKException) as caught:
        call()
    return caught.value


def ids(response: Any) -> list[str]:
    return [item.VpnConnectionId for item in response.VpnConnectionSet]


MODEL_FIELDS = {name[1:] for name in vars(models.VpnConnection())}


# --- reading ------------------------------------------------------------------------------------------------------


def test_describe_by_ids_parses_into_every_field_of_the_model(sim: ThreadedSim) -> None:
    response = describe(client(sim), VpnConnectionIds=[GCM, ROUTE, BGP])
    assert (response.TotalCount, ids(response)) == (3, [GCM, ROUTE, BGP])
    assert response.RequestId
    gcm, route, bgp = response.VpnConnectionSet
    assert gcm.IKEOptionsSpecification.PropoEncryAlgorithm == "AES256GCM128"
    assert (gcm.IKEOptionsSpecification.PropoAuthenAlgorithm, gcm.IKEOptionsSpecification.IKEVersion) == (
        "SHA-512",
        "IKEV2",
    )
    with pytest.deprecated_call():  # the SDK keeps the misspelt name as a deprecated alias
        legacy = gcm.IPSECOptionsSpecification.IntegrityAlgorith
    assert (legacy, gcm.IPSECOptionsSpecification.IntegrityAlgorithm) == (
        "SHA-512",
        "SHA-512",
    )
    assert (gcm.IPSECOptionsSpecification.PfsDhGroup, gcm.DpdEnable, gcm.DpdTimeout, gcm.DpdAction) == (
        "DH-GROUP20",
        1,
        "30",
        "restart",
    )
    assert [(tag.Key, tag.Value) for tag in gcm.TagSet] == [("env", "lab")]
    assert (route.RouteType, route.SecurityPolicyDatabaseSet, route.NegotiationType) == ("StaticRoute", [], "passive")
    assert (route.HealthCheckLocalIp, route.HealthCheckStatus, route.HealthCheckConfig.ProbeType) == (
        "169.254.128.1",
        "AVAILABLE",
        "NQA",
    )
    assert (bgp.BgpConfig.TunnelCidr, bgp.BgpConfig.LocalBgpAsn) == ("169.254.129.0/30", "64551")
    assert {name for name in MODEL_FIELDS if getattr(route, name) is None} == {"BgpConfig"}
    assert {name for name in MODEL_FIELDS if getattr(bgp, name) is None} == {"HealthCheckStatus", "HealthCheckConfig"}
    assert {name for name in MODEL_FIELDS if getattr(gcm, name) is None} == {
        "HealthCheckStatus",
        "HealthCheckConfig",
        "BgpConfig",
    }
    assert gcm.State == "AVAILABLE"


def test_answers_round_trip_through_the_sdk_models(sim: ThreadedSim) -> None:
    response = describe(client(sim), VpnConnectionIds=[TWO, CONN])
    again = models.DescribeVpnConnectionsResponse()
    again.from_json_string(response.to_json_string())
    assert again.to_json_string() == response.to_json_string()
    serialized = response._serialize()
    assert serialized["VpnConnectionSet"][1]["SecurityPolicyDatabaseSet"] == [
        {"LocalCidrBlock": "10.8.2.0/24", "RemoteCidrBlock": ["172.20.2.0/24"]},
        {"LocalCidrBlock": "10.8.3.0/24", "RemoteCidrBlock": ["172.20.3.0/24"]},
    ]
    assert serialized["VpnConnectionSet"][0]["IKEOptionsSpecification"]["DhGroupName"] == "GROUP2"


@pytest.mark.parametrize(
    ("name", "values", "expected"),
    [
        ("vpc-id", ["vpc-l4b7rq2m"], [GCM, TWO, ROUTE, BGP]),
        ("vpn-gateway-id", [GW], [BJ1, CONN]),
        ("customer-gateway-id", ["cgw-9k2pe1sx", "cgw-0pq3r8zb"], [ACME, CONN]),
        ("vpn-connection-name", ["lab-two-rules"], [TWO]),
        ("vpn-connection-id", [CONN, ROUTE], [CONN, ROUTE]),
    ],
)
def test_describe_by_each_filter(sim: ThreadedSim, name: str, values: list[str], expected: list[str]) -> None:
    response = describe(client(sim), Filters=[{"Name": name, "Values": values}])
    assert (response.TotalCount, ids(response)) == (len(expected), expected)


def test_describe_pages(sim: ThreadedSim) -> None:
    vpc = client(sim)
    seen: list[str] = []
    for offset in range(0, 9, 4):
        page = describe(vpc, Offset=offset, Limit=4)
        assert page.TotalCount == 9
        seen += ids(page)
    assert len(seen) == len(set(seen)) == 9
    assert ids(describe(vpc)) == seen  # Limit defaults to 20


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"VpnConnectionIds": [CONN], "Filters": [{"Name": "vpc-id", "Values": [VPC]}]}, "InvalidParameter.Coexist"),
        ({"Filters": [{"Name": "zone", "Values": ["ap-guangzhou-3"]}]}, "InvalidParameter.FilterInvalidKey"),
        ({"Limit": 101}, "InvalidParameterValue.LimitExceeded"),
        ({"VpnConnectionIds": ["2101"]}, "InvalidParameterValue.Malformed"),
        ({"VpnConnectionIds": ["vpnx-00000000"]}, "ResourceNotFound"),
    ],
)
def test_describe_errors_raise_with_their_codes(sim: ThreadedSim, fields: dict[str, Any], code: str) -> None:
    error = sdk_error(lambda: describe(client(sim), **fields))
    assert error.get_code() == code
    assert error.get_request_id()


# --- editing ------------------------------------------------------------------------------------------------------


def test_modify_lands_after_the_task_duration_with_every_value(sim: ThreadedSim, clock: FakeClock) -> None:
    vpc = client(sim)
    spd = [
        {"LocalCidrBlock": "10.8.2.0/24", "RemoteCidrBlock": ["172.20.5.0/24"]},
        {"LocalCidrBlock": "10.8.3.0/24", "RemoteCidrBlock": ["172.20.6.0/24", "172.20.4.0/24"]},
    ]
    edit = request(
        models.ModifyVpnConnectionAttributeRequest,
        VpnConnectionId=TWO,
        VpnConnectionName="lab-two-rules-b",
        PreShareKey="sdk-Key-9001",
        SecurityPolicyDatabases=spd,
        IKEOptionsSpecification={"PropoEncryAlgorithm": "SM4", "PropoAuthenAlgorithm": "SHA-256", "DhGroupName": "GROUP15", "IKEVersion": "IKEV2"},
        IPSECOptionsSpecification={"EncryptAlgorithm": "SM4", "IntegrityAlgorithm": "SM3", "PfsDhGroup": "DH-GROUP19", "IPSECSaLifetimeSeconds": 600},
        DpdEnable=1,
        DpdTimeout="40",
        NegotiationType="flowTrigger",
    )  # fmt: skip
    answer = vpc.ModifyVpnConnectionAttribute(edit)
    assert answer.RequestId
    assert describe(vpc, VpnConnectionIds=[TWO]).VpnConnectionSet[0].State == "PENDING"
    advance(sim, clock, 5)
    item = describe(vpc, VpnConnectionIds=[TWO]).VpnConnectionSet[0]
    assert (item.State, item.VpnConnectionName, item.PreShareKey) == ("AVAILABLE", "lab-two-rules-b", "sdk-Key-9001")
    assert [rule._serialize() for rule in item.SecurityPolicyDatabaseSet] == spd  # pairs, byte for byte
    ike, ipsec = item.IKEOptionsSpecification, item.IPSECOptionsSpecification
    assert (ike.PropoEncryAlgorithm, ike.PropoAuthenAlgorithm, ike.DhGroupName, ike.IKEVersion) == (
        "SM4",
        "SHA-256",
        "GROUP15",
        "IKEV2",
    )
    assert (ipsec.EncryptAlgorithm, ipsec.IntegrityAlgorithm, ipsec.PfsDhGroup, ipsec.IPSECSaLifetimeSeconds) == (
        "SM4",
        "SM3",
        "DH-GROUP19",
        600,
    )
    assert (item.DpdEnable, item.DpdTimeout, item.NegotiationType) == (1, "40", "flowTrigger")


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"VpnConnectionId": CONN, "SecurityPolicyDatabases": [{"LocalCidrBlock": "10.0.2.0/24", "RemoteCidrBlock": ["192.168.11.0/24"]}]}, "UnsupportedOperation.VpnConnSPDOverlap"),
        ({"VpnConnectionId": CONN, "SecurityPolicyDatabases": [{"LocalCidrBlock": "10.0.1.0/24", "RemoteCidrBlock": ["10.100.1.1/24"]}]}, "InvalidParameterValue.Malformed"),
        ({"VpnConnectionId": ROUTE, "SecurityPolicyDatabases": [{"LocalCidrBlock": "10.8.9.0/24", "RemoteCidrBlock": ["172.20.9.0/24"]}]}, "UnsupportedOperation.InvalidState"),
        ({"VpnConnectionId": CONN, "IKEOptionsSpecification": {"IKESaLifetimeSeconds": 59}}, "InvalidParameterValue.LimitExceeded"),
        ({"VpnConnectionId": CONN, "IKEOptionsSpecification": {"DhGroupName": "group14"}}, "InvalidParameterValue"),
        ({"VpnConnectionId": CONN, "VpnConnectionName": "idc-beijing-1"}, "InvalidParameterValue.Duplicate"),
        ({"VpnConnectionId": "vpnx-00000000"}, "ResourceNotFound"),
        ({"VpnConnectionId": "vpn-1"}, "InvalidParameterValue.Malformed"),
    ],
)  # fmt: skip
def test_refused_edits_raise_the_per_action_code(sim: ThreadedSim, fields: dict[str, Any], code: str) -> None:
    vpc = client(sim)
    error = sdk_error(
        lambda: vpc.ModifyVpnConnectionAttribute(request(models.ModifyVpnConnectionAttributeRequest, **fields))
    )
    assert error.get_code() == code
    assert sim.call(lambda: sim.state.snapshot()["tasks"]) == []


def test_a_busy_connection_raises_vpn_conn_invalid_state(sim: ThreadedSim) -> None:
    vpc = client(sim)
    vpc.ModifyVpnConnectionAttribute(
        request(models.ModifyVpnConnectionAttributeRequest, VpnConnectionId=CONN, VpnConnectionName="a")
    )
    again = request(models.ModifyVpnConnectionAttributeRequest, VpnConnectionId=CONN, VpnConnectionName="b")
    assert (
        sdk_error(lambda: vpc.ModifyVpnConnectionAttribute(again)).get_code()
        == "UnsupportedOperation.VpnConnInvalidState"
    )


# --- tasks --------------------------------------------------------------------------------------------------------


def test_without_modify_task_the_request_id_names_no_task(sim: ThreadedSim, clock: FakeClock) -> None:
    vpc = client(sim)
    answer = vpc.ModifyVpnConnectionAttribute(
        request(models.ModifyVpnConnectionAttributeRequest, VpnConnectionId=CONN, VpnConnectionName="no-task")
    )
    task = request(models.DescribeVpcTaskResultRequest, TaskId=answer.RequestId)
    error = sdk_error(lambda: vpc.DescribeVpcTaskResult(task))
    assert (error.get_code(), error.get_request_id() != answer.RequestId) == ("ResourceNotFound", True)
    advance(sim, clock, 5)
    assert describe(vpc, VpnConnectionIds=[CONN]).VpnConnectionSet[0].VpnConnectionName == "no-task"  # it landed


def test_with_modify_task_the_task_runs_then_succeeds(sim: ThreadedSim, clock: FakeClock) -> None:
    sim.call(lambda: setattr(sim.state, "modify_task", True))
    vpc = client(sim)
    answer = vpc.ModifyVpnConnectionAttribute(
        request(models.ModifyVpnConnectionAttributeRequest, VpnConnectionId=CONN, VpnConnectionName="with-task")
    )
    task = request(models.DescribeVpcTaskResultRequest, TaskId=answer.RequestId)
    running = vpc.DescribeVpcTaskResult(task)
    assert (running.Status, running.Output, running.Result) == ("RUNNING", "", [])
    advance(sim, clock, 5)
    done = vpc.DescribeVpcTaskResult(task)
    assert (done.Status, done.RequestId != running.RequestId) == ("SUCCESS", True)
    again = models.DescribeVpcTaskResultResponse()
    again.from_json_string(done.to_json_string())
    assert again._serialize() == done._serialize()


def test_a_forced_failure_is_failed_with_output(sim: ThreadedSim, clock: FakeClock) -> None:
    sim.call(lambda: setattr(sim.state, "modify_task", True))
    sim.faults(taskOutcome="failed")
    vpc = client(sim)
    answer = vpc.ModifyVpnConnectionAttribute(
        request(models.ModifyVpnConnectionAttributeRequest, VpnConnectionId=CONN, VpnConnectionName="never")
    )
    advance(sim, clock, 5)
    failed = vpc.DescribeVpcTaskResult(request(models.DescribeVpcTaskResultRequest, TaskId=answer.RequestId))
    assert (failed.Status, "failed" in failed.Output) == ("FAILED", True)
    assert describe(vpc, VpnConnectionIds=[CONN]).VpnConnectionSet[0].VpnConnectionName == "office-shanghai"


# --- the wire -----------------------------------------------------------------------------------------------------


def test_a_wrong_secret_key_is_a_signature_failure(sim: ThreadedSim) -> None:
    error = sdk_error(lambda: describe(client(sim, secret_key="not-the-key")))
    assert error.get_code() == "AuthFailure.SignatureFailure"
    assert "not-the-key" not in error.get_message()


def test_an_over_limit_call_raises_request_limit_exceeded(sim: ThreadedSim) -> None:
    sim.faults(rateLimits={"DescribeVpnConnections": 2})
    vpc = client(sim)
    describe(vpc)
    describe(vpc)
    assert sdk_error(lambda: describe(vpc)).get_code() == "RequestLimitExceeded"
    assert sim.call(
        lambda: (sim.state.peak_rate("DescribeVpnConnections"), sim.state.rate_refusals("DescribeVpnConnections"))
    ) == (3, 1)


def test_answers_are_exactly_application_json(sim: ThreadedSim) -> None:
    """What the SDK's ``_check_error`` needs to see an error at all."""
    unsigned = urllib.request.Request(
        sim.v3_url, data=b"{}", headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(unsigned, timeout=5) as response:
        assert response.headers["Content-Type"] == "application/json"
        assert json.loads(response.read())["Response"]["Error"]["Code"] == "MissingParameter"


# --- the other end of the tunnel ----------------------------------------------------------------------------------


def vendor_request(**vendor: str) -> dict[str, str]:
    return {"Platform": "comware", "SoftwareVersion": "V1.0", "VendorName": "h3c", **vendor}


def download(vpc: VpcClient, **fields: Any) -> Any:
    fields = {"VpnGatewayId": GW, "VpnConnectionId": CONN, "CustomerGatewayVendor": vendor_request(), **fields}
    fields.setdefault("InterfaceName", "GigabitEthernet1/0/1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return vpc.DownloadCustomerGatewayConfiguration(
            request(models.DownloadCustomerGatewayConfigurationRequest, **fields)
        )


def test_the_sdk_lists_the_customer_gateway_vendors(sim: ThreadedSim) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every field of the answer is one the SDK's models have
        answer = client(sim).DescribeCustomerGatewayVendors(models.DescribeCustomerGatewayVendorsRequest())
    listed = [(v.VendorName, v.Platform, v.SoftwareVersion) for v in answer.CustomerGatewayVendorSet]
    assert {("cisco", "ios", "V15.4"), ("h3c", "comware", "V1.0")} <= set(listed)  # the API document's example
    assert len(listed) == len(set(listed)) >= 4
    assert answer.RequestId


def test_the_sdk_downloads_a_configuration_from_the_current_settings(sim: ThreadedSim, clock: FakeClock) -> None:
    vpc = client(sim)
    before = download(vpc).CustomerGatewayConfiguration
    assert "key simple sh-office-2019\r\n" in before  # the key in plain text, as the service is assumed to send it
    assert "dh group2" in before
    assert "interface GigabitEthernet1/0/1" in before
    edit = request(
        models.ModifyVpnConnectionAttributeRequest,
        VpnConnectionId=CONN,
        PreShareKey="downloaded-Key-3307",
        IKEOptionsSpecification={"DhGroupName": "GROUP14"},
    )
    vpc.ModifyVpnConnectionAttribute(edit)
    assert "sh-office-2019" in download(vpc).CustomerGatewayConfiguration  # not landed yet: what is in force
    advance(sim, clock, 5)
    after = download(vpc).CustomerGatewayConfiguration
    assert ("key simple downloaded-Key-3307" in after, "sh-office-2019" in after, "dh group14" in after) == (
        True,
        False,
        True,
    )
    for vendor in vpc.DescribeCustomerGatewayVendors(
        models.DescribeCustomerGatewayVendorsRequest()
    ).CustomerGatewayVendorSet:
        text = download(vpc, CustomerGatewayVendor=vendor._serialize()).CustomerGatewayConfiguration
        assert "downloaded-Key-3307" in text, vendor.VendorName
        assert text.index("10.100.1.0") < text.index("10.0.1.0"), vendor.VendorName  # the device's side first


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"CustomerGatewayVendor": vendor_request(VendorName="acme")}, "InvalidParameterValue"),
        ({"CustomerGatewayVendor": vendor_request(SoftwareVersion="V9.9")}, "InvalidParameterValue"),
        ({"VpnConnectionId": "vpnx-00000000"}, "ResourceNotFound"),
        ({"VpnConnectionId": BJ1, "VpnGatewayId": "vpngw-q3bzxk4m"}, "ResourceNotFound"),
        ({"VpnGatewayId": "vpngw-00000000"}, "ResourceNotFound"),
        ({"VpnGatewayId": "gw-1"}, "InvalidParameterValue.Malformed"),
        ({"InterfaceName": None}, "MissingParameter"),
        ({"InterfaceName": "eth0\nexit"}, "InvalidParameterValue.Malformed"),
    ],
)
def test_a_download_the_service_would_refuse_raises_its_code(
    sim: ThreadedSim, fields: dict[str, Any], code: str
) -> None:
    error = sdk_error(lambda: download(client(sim), **fields))
    assert error.get_code() == code
    assert "sh-office-2019" not in error.get_message()


def test_describe_shows_the_tunnel_unavailable_after_an_edit_the_peer_does_not_follow(
    sim: ThreadedSim, clock: FakeClock
) -> None:
    vpc = client(sim)
    edit = request(
        models.ModifyVpnConnectionAttributeRequest,
        VpnConnectionId=CONN,
        IPSECOptionsSpecification={"EncryptAlgorithm": "AES-CBC-128"},
    )
    vpc.ModifyVpnConnectionAttribute(edit)
    advance(sim, clock, 5)
    item = describe(vpc, VpnConnectionIds=[CONN]).VpnConnectionSet[0]
    assert (item.State, item.NetStatus, item.IPSECOptionsSpecification.EncryptAlgorithm) == (
        "AVAILABLE",
        "AVAILABLE",  # landed; the SA in force survives until the tunnel renegotiates
        "AES-CBC-128",
    )
    advance(sim, clock, 2)
    assert describe(vpc, VpnConnectionIds=[CONN]).VpnConnectionSet[0].NetStatus == "UNAVAILABLE"
