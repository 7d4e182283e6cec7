"""The simulator's world without a wire: the world file, typed edits, the world's own rules (written from the seed
and reference/tencent-cloud.md, sections 4 and 8), tasks on an injected clock, faults, rate limits and peaks."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from simthread import FakeClock

from bot.sim import (
    DEMO_SECRET_ID,
    DEMO_SECRET_KEY,
    TENCENT_RATE_LIMITS,
    ConnectionEdit,
    Field,
    Reason,
    SimState,
    World,
    WorldError,
    load_world,
)
from bot.sim.faults import Faults, draw
from bot.sim.model import BgpEdit, IkeEdit, IpsecEdit, ProbeEdit
from bot.sim.tasks import TaskStatus
from bot.sim.values import (
    DhGroup,
    Identity,
    IkeAuthentication,
    IkeEncryption,
    IkeVersion,
    IpsecEncryption,
    IpsecIntegrity,
    PfsGroup,
    RouteType,
)

CONN = "vpnx-ol6bcqp0"  # office-shanghai, gateway vpngw-kfldykuz, 10.0.1.0/24 -> 10.100.1.0/24
BJ1 = "vpnx-3mv8tqwd"  # idc-beijing-1, same gateway, {10.0.2.0/24, 10.0.3.0/24} x {192.168.10/24, 192.168.11/24}
BJ2 = "vpnx-b5n1r8kc"  # idc-beijing-2, gateway vpngw-q3bzxk4m (2.0), fqdn identities
GCM = "vpnx-g4cm2k7d"  # lab, 4.0 gateway: AES256GCM128 / SHA-512 / GROUP20 / IKEV2
TWO = "vpnx-s2r7p5qe"  # lab, Policy: {10.8.2.0/24: [172.20.2.0/24], 10.8.3.0/24: [172.20.3.0/24]}
ROUTE = "vpnx-r9t3w6yb"  # lab, StaticRoute, health check 169.254.128.1 -> .2
BGP = "vpnx-b8g5q1zu"  # lab, Bgp, 169.254.129.0/30
TASK_SECONDS = 5.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_700_000_000.0)


@pytest.fixture
def state(clock: FakeClock) -> SimState:
    return SimState(load_world(None), clock=clock, seed=7)


def refused(state: SimState, conn_id: str, edit: ConnectionEdit) -> WorldError:
    with pytest.raises(WorldError) as caught:
        state.modify(conn_id, edit)
    assert list(state.snapshot()["tasks"]) == []
    return caught.value


# --- the world file -----------------------------------------------------------------------------------------------


def test_demo_world_holds_the_seed_example_and_api_3_only_connections() -> None:
    world = load_world(None)
    assert len(DEMO_SECRET_ID) == 36
    assert world.credentials == {DEMO_SECRET_ID: DEMO_SECRET_KEY}
    assert world.modify_task is False
    state = SimState(world)
    seed = state.get(CONN)
    assert (seed.vpc_id, seed.gateway_id, seed.customer_gateway.number) == ("vpc-03vihbk9", "vpngw-kfldykuz", 315)
    gcm = state.get(GCM)
    assert (gcm.ike.encryption, gcm.ike.authentication, gcm.ike.dh_group, gcm.ike.version) == (
        IkeEncryption.AES256GCM128,
        IkeAuthentication.SHA_512,
        DhGroup.GROUP20,
        IkeVersion.IKEV2,
    )
    assert state.get(TWO).spd == (("10.8.2.0/24", ("172.20.2.0/24",)), ("10.8.3.0/24", ("172.20.3.0/24",)))
    route = state.get(ROUTE)
    assert (route.route_type, route.spd, route.health_check.enabled) == (RouteType.STATIC_ROUTE, (), True)
    assert state.get(BGP).bgp is not None
    assert state.get(BJ1).spd == (
        ("10.0.2.0/24", ("192.168.10.0/24", "192.168.11.0/24")),
        ("10.0.3.0/24", ("192.168.10.0/24", "192.168.11.0/24")),
    )  # no spdAcl in the file: sourceCidr x destinationCidr


def test_describe_items_keep_the_file_spelling_and_the_snapshot_round_trips(tmp_path: Path, state: SimState) -> None:
    world = load_world(None)
    classic = [item for item in world.vpn_connections if item["unVpcId"] != "vpc-l4b7rq2m"]
    for item in classic:
        assert state.connection(item["unVpnConnId"]) == item  # IKEArr, "86400" as text, "sha1": as the file says
    assert state.snapshot()["vpnConnections"] == world.vpn_connections  # the API 3.0 keys too
    assert "dpdEnable" not in state.connection(GCM)  # not in DescribeVpnConn's shape
    state.modify(CONN, ConnectionEdit(name="office-shanghai-new"))
    snapshot = state.snapshot()
    assert snapshot["tasks"] == [{"taskId": 12614, "vpnConnId": CONN, "status": 2}]
    del snapshot["tasks"]
    path = tmp_path / "world.json"
    path.write_text(json.dumps(snapshot))
    assert load_world(path).to_json() == snapshot


def test_snapshot_writes_the_api_3_keys_that_differ_from_the_defaults(clock: FakeClock, state: SimState) -> None:
    state.modify(
        BJ1, ConnectionEdit(spd=(("10.0.2.0/24", ("192.168.10.0/24",)), ("10.0.3.0/24", ("192.168.11.0/24",))))
    )
    clock.advance(TASK_SECONDS)
    items = {item["unVpnConnId"]: item for item in state.snapshot()["vpnConnections"]}
    assert items[BJ1]["spdAcl"] == [{"10.0.2.0/24": ["192.168.10.0/24"]}, {"10.0.3.0/24": ["192.168.11.0/24"]}]
    assert "spdAcl" not in items[CONN]
    assert "routeType" not in items[CONN]
    assert items[ROUTE]["routeType"] == "StaticRoute"
    reloaded = SimState(World.model_validate(_without_tasks(state)))
    assert reloaded.get(BJ1).spd == state.get(BJ1).spd


def _without_tasks(state: SimState) -> dict[str, Any]:
    snapshot = state.snapshot()
    del snapshot["tasks"]
    return snapshot


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"unVpnGwId": "vpngw-nothere"}, "vpngw-nothere"),
        ({"unVpnGwId": "vpngw-7yl2d9xa"}, "not in VPC"),
        ({"unVpcId": "vpc-nothere"}, "not in VPC vpc-nothere"),
        ({"IKESet": {"propoEncryAlgorithm": "rot13"}}, "IKESet"),
        ({"sourceCidr": ["10.0.1.1/24"]}, "host bits"),
        ({"routeType": "StaticRoute"}, "route-based"),
        ({"spdAcl": [{"10.0.1.0/24": []}]}, "spdAcl.0"),
        ({"frobnicate": 1}, "frobnicate"),
    ],
)
def test_inconsistent_world_is_refused_with_the_problem_named(change: dict[str, Any], expected: str) -> None:
    document = load_world(None).to_json()
    document["vpnConnections"][0].update(change)
    with pytest.raises(ValueError, match=expected):
        World.model_validate(document)


# --- edits that land ----------------------------------------------------------------------------------------------


def test_an_edit_takes_the_task_duration_then_is_live(clock: FakeClock, state: SimState) -> None:
    task = state.modify(CONN, ConnectionEdit(name="renamed", remotes=("10.100.2.0/24",), pre_shared_key="k-2"))
    assert task.number == 12614
    assert state.get(CONN).status.v3_state == "PENDING"
    assert state.get(CONN).name == "office-shanghai"
    clock.advance(TASK_SECONDS - 0.01)
    assert state.task(12614) is not None
    assert state.task(12614).status is TaskStatus.RUNNING  # type: ignore[union-attr]
    clock.advance(0.01)
    after = state.get(CONN)
    assert (after.name, after.pre_shared_key, after.spd) == ("renamed", "k-2", (("10.0.1.0/24", ("10.100.2.0/24",)),))
    assert after.status.v3_state == "AVAILABLE"
    assert state.task(12614).status is TaskStatus.SUCCEEDED  # type: ignore[union-attr]


def test_remotes_edit_gives_every_local_cidr_the_new_list(clock: FakeClock, state: SimState) -> None:
    state.modify(TWO, ConnectionEdit(remotes=("172.20.9.0/24", "172.20.8.0/24")))
    clock.advance(TASK_SECONDS)
    assert state.get(TWO).spd == (
        ("10.8.2.0/24", ("172.20.9.0/24", "172.20.8.0/24")),
        ("10.8.3.0/24", ("172.20.9.0/24", "172.20.8.0/24")),
    )


def test_an_spd_of_pairs_is_stored_rule_for_rule(clock: FakeClock, state: SimState) -> None:
    rules = (("10.0.1.0/24", ("10.100.5.0/24",)), ("10.0.4.0/24", ("10.100.1.0/24", "10.100.6.0/24")))
    state.modify(CONN, ConnectionEdit(spd=rules))
    clock.advance(TASK_SECONDS)
    assert state.get(CONN).spd == rules
    item = state.connection(CONN)
    assert (item["sourceCidr"], item["destinationCidr"]) == (
        ["10.0.1.0/24", "10.0.4.0/24"],
        ["10.100.5.0/24", "10.100.1.0/24", "10.100.6.0/24"],
    )


def test_api_3_only_values_land_on_a_4_0_gateway(clock: FakeClock, state: SimState) -> None:
    edit = ConnectionEdit(
        ike=IkeEdit(encryption=IkeEncryption.AES128GCM128, dh_group=DhGroup.GROUP21, version=IkeVersion.IKEV1),
        ipsec=IpsecEdit(integrity=IpsecIntegrity.SM3, pfs_group=PfsGroup.DH_GROUP16, sa_lifetime_traffic=4294967295),
        dpd_timeout=60,
    )
    state.modify(GCM, edit)
    clock.advance(TASK_SECONDS)
    after = state.get(GCM)
    assert (after.ike.encryption, after.ike.dh_group, after.ike.version) == (
        IkeEncryption.AES128GCM128,
        DhGroup.GROUP21,
        IkeVersion.IKEV1,
    )
    assert after.ike.authentication is IkeAuthentication.SHA_512  # untouched field kept
    assert (after.ipsec.integrity, after.ipsec.pfs_group, after.dpd.timeout) == (
        IpsecIntegrity.SM3,
        PfsGroup.DH_GROUP16,
        60,
    )


def test_local_address_defaults_to_the_gateway_ip(clock: FakeClock, state: SimState) -> None:
    edit = ConnectionEdit(ike=IkeEdit(local_identity=Identity.ADDRESS, local_address="", remote_identity=Identity.FQDN))
    state.modify(BJ2, edit)
    clock.advance(TASK_SECONDS)
    assert state.get(BJ2).ike.local_address == "203.0.113.24"


def test_forced_failure_keeps_the_old_values(clock: FakeClock, state: SimState) -> None:
    state.update_faults({"taskOutcome": "failed"})
    before = state.get(CONN)
    task = state.modify(CONN, ConnectionEdit(name="never"))
    clock.advance(TASK_SECONDS)
    assert state.get(CONN) == before  # tasks advance lazily, at the world's next call
    assert task.status is TaskStatus.FAILED
    assert CONN in task.message


def test_an_unqueryable_task_still_lands(clock: FakeClock, state: SimState) -> None:
    task = state.modify(CONN, ConnectionEdit(name="no-task"), request_id="r-1", queryable=False)
    assert state.task(task.number) is None
    assert state.task_named("r-1") is None
    assert state.get(CONN).status.v3_state == "PENDING"
    clock.advance(TASK_SECONDS)
    assert state.get(CONN).name == "no-task"
    assert state.snapshot()["tasks"] == [
        {"taskId": 12614, "vpnConnId": CONN, "status": 0, "requestId": "r-1", "queryable": False}
    ]


def test_task_seconds_fault_overrides_the_world(clock: FakeClock, state: SimState) -> None:
    state.update_faults({"taskSeconds": 0.5})
    state.modify(CONN, ConnectionEdit(name="quick"))
    clock.advance(0.5)
    assert state.get(CONN).name == "quick"


# --- edits the documents refuse -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conn", "edit", "reason", "field", "said"),
    [
        (CONN, ConnectionEdit(name="x" * 61), Reason.OUT_OF_RANGE, Field.NAME, "at most 60"),
        (CONN, ConnectionEdit(name=""), Reason.OUT_OF_RANGE, Field.NAME, "empty"),
        (CONN, ConnectionEdit(name="idc-beijing-2"), Reason.NAME_TAKEN, Field.NAME, BJ2),
        (CONN, ConnectionEdit(pre_shared_key=""), Reason.OUT_OF_RANGE, Field.PRE_SHARED_KEY, "1 to 128"),
        (CONN, ConnectionEdit(ike=IkeEdit(sa_lifetime_seconds=59)), Reason.OUT_OF_RANGE, Field.IKE_SA_LIFETIME, "60 to 604800"),
        (CONN, ConnectionEdit(ike=IkeEdit(sa_lifetime_seconds=604801)), Reason.OUT_OF_RANGE, Field.IKE_SA_LIFETIME, "604800"),
        (CONN, ConnectionEdit(ipsec=IpsecEdit(sa_lifetime_seconds=179)), Reason.OUT_OF_RANGE, Field.IPSEC_SA_LIFETIME, "180"),
        (CONN, ConnectionEdit(ipsec=IpsecEdit(sa_lifetime_traffic=2559)), Reason.OUT_OF_RANGE, Field.IPSEC_SA_TRAFFIC, "2560"),
        (CONN, ConnectionEdit(ipsec=IpsecEdit(sa_lifetime_traffic=2**32)), Reason.OUT_OF_RANGE, Field.IPSEC_SA_TRAFFIC, "4294967295"),
        (CONN, ConnectionEdit(ike=IkeEdit(local_identity=Identity.FQDN)), Reason.INVALID_VALUE, Field.IKE_LOCAL_FQDN, "required"),
        (BJ2, ConnectionEdit(ike=IkeEdit(remote_identity=Identity.ADDRESS)), Reason.INVALID_VALUE, Field.IKE_REMOTE_ADDRESS, "required"),
        (CONN, ConnectionEdit(ike=IkeEdit(remote_address="198.51.100.300")), Reason.MALFORMED, Field.IKE_REMOTE_ADDRESS, "IPv4"),
        (BJ2, ConnectionEdit(ike=IkeEdit(local_fqdn="bad_name!")), Reason.MALFORMED, Field.IKE_LOCAL_FQDN, "FQDN"),
        (CONN, ConnectionEdit(remotes=("10.100.2.1/24",)), Reason.MALFORMED, Field.REMOTES, "host bits"),
        (CONN, ConnectionEdit(remotes=("10.100.2.0",)), Reason.MALFORMED, Field.REMOTES, "not an IPv4 CIDR"),
        (CONN, ConnectionEdit(remotes=("010.100.2.0/24",)), Reason.MALFORMED, Field.REMOTES, "not an IPv4 CIDR"),
        (CONN, ConnectionEdit(remotes=("2001:db8::/32",)), Reason.MALFORMED, Field.REMOTES, "not an IPv4 CIDR"),
        (CONN, ConnectionEdit(spd=()), Reason.INVALID_VALUE, Field.SPD, "cannot be emptied"),
        (CONN, ConnectionEdit(spd=(("10.0.1.0/24", ()),)), Reason.INVALID_VALUE, Field.SPD, "no IDC-side CIDR"),
        (CONN, ConnectionEdit(remotes=("10.100.1.0/24", "10.100.1.128/25")), Reason.CIDR_CONFLICT, Field.REMOTES, "overlaps"),
        (CONN, ConnectionEdit(spd=(("10.0.1.0/24", ("10.0.1.0/25",)),)), Reason.CIDR_CONFLICT, Field.SPD, "overlap"),
        (CONN, ConnectionEdit(spd=(("10.0.2.0/24", ("192.168.10.0/24",)),)), Reason.SPD_OVERLAP, Field.SPD, BJ1),
        (CONN, ConnectionEdit(spd=(("10.0.0.0/16", ("192.168.0.0/16",)),)), Reason.SPD_OVERLAP, Field.SPD, BJ1),
        (ROUTE, ConnectionEdit(spd=(("10.8.9.0/24", ("172.20.9.0/24",)),)), Reason.INVALID_STATE, Field.SPD, "route-based"),
        (ROUTE, ConnectionEdit(remotes=("172.20.9.0/24",)), Reason.INVALID_STATE, Field.REMOTES, "route-based"),
        (CONN, ConnectionEdit(ike=IkeEdit(encryption=IkeEncryption.AES256GCM128)), Reason.GATEWAY_VERSION, Field.IKE_ENCRYPTION, "4.0"),
        (CONN, ConnectionEdit(ipsec=IpsecEdit(encryption=IpsecEncryption.AES128GCM128)), Reason.GATEWAY_VERSION, Field.IPSEC_ENCRYPTION, "4.0"),
        (CONN, ConnectionEdit(customer_gateway_id="cgw-5vx8n2qa"), Reason.GATEWAY_VERSION, Field.CUSTOMER_GATEWAY, "4.0"),
        (GCM, ConnectionEdit(customer_gateway_id="cgw-00000000"), Reason.NOT_FOUND, Field.CUSTOMER_GATEWAY, "does not exist"),
        (GCM, ConnectionEdit(dpd_timeout=29), Reason.OUT_OF_RANGE, Field.DPD_TIMEOUT, "30 to 60"),
        (CONN, ConnectionEdit(health_check=True), Reason.HEALTH_CHECK_ON_SPD, Field.HEALTH_CHECK, "route-based tunnels only"),
        (ROUTE, ConnectionEdit(health_check_remote_ip="169.254.128.1"), Reason.HEALTH_CHECK_IP_CONFLICT, Field.HEALTH_CHECK_REMOTE_IP, "both"),
        (ROUTE, ConnectionEdit(probe=ProbeEdit(probe_interval=999)), Reason.OUT_OF_RANGE, Field.PROBE_INTERVAL, "1000 to 5000"),
        (ROUTE, ConnectionEdit(probe=ProbeEdit(probe_threshold=9)), Reason.OUT_OF_RANGE, Field.PROBE_THRESHOLD, "3 to 8"),
        (ROUTE, ConnectionEdit(probe=ProbeEdit(probe_type="PING")), Reason.INVALID_VALUE, Field.PROBE_TYPE, "NQA"),
        (ROUTE, ConnectionEdit(bgp=BgpEdit(tunnel_cidr="169.254.130.0/30")), Reason.INVALID_STATE, Field.BGP_TUNNEL_CIDR, "Bgp"),
        (BGP, ConnectionEdit(bgp=BgpEdit(local_ip="169.254.130.1")), Reason.INVALID_VALUE, Field.BGP_LOCAL_IP, "inside"),
    ],
)  # fmt: skip
def test_the_world_refuses_what_the_documents_refuse(
    state: SimState, conn: str, edit: ConnectionEdit, reason: Reason, field: Field, said: str
) -> None:
    before = state.get(conn)
    error = refused(state, conn, edit)
    assert (error.reason, error.field) == (reason, field)
    assert said in error.problems[0].detail
    assert state.get(conn) == before


def test_every_problem_is_found_at_once(state: SimState) -> None:
    edit = ConnectionEdit(name="", ike=IkeEdit(sa_lifetime_seconds=1), ipsec=IpsecEdit(sa_lifetime_seconds=1))
    error = refused(state, CONN, edit)
    assert [p.field for p in error.problems] == [Field.NAME, Field.IKE_SA_LIFETIME, Field.IPSEC_SA_LIFETIME]


def test_the_same_pairs_on_another_gateway_are_fine(state: SimState) -> None:
    state.modify(BJ2, ConnectionEdit(spd=(("10.0.2.0/24", ("192.168.10.0/24",)),)))  # BJ1's pair, other gateway


def test_a_name_of_another_vpc_is_fine(state: SimState) -> None:
    assert state.modify(CONN, ConnectionEdit(name="office-shenzhen")).number == 12614


def test_resending_the_current_spd_is_no_overlap(state: SimState) -> None:
    state.modify(BJ1, ConnectionEdit(spd=state.get(BJ1).spd))


def test_a_block_edit_never_fails_on_what_the_file_holds_elsewhere(state: SimState) -> None:
    state.modify(BJ2, ConnectionEdit(name="only-the-name"))  # BJ2's empty addresses are not looked at


def test_a_busy_connection_refuses_until_its_task_ends(clock: FakeClock, state: SimState) -> None:
    first = state.modify(CONN, ConnectionEdit(name="b"))
    with pytest.raises(WorldError) as caught:
        state.modify(CONN, ConnectionEdit(name="c"))
    assert caught.value.reason is Reason.BUSY
    assert str(first.number) in caught.value.problems[0].detail
    assert state.modify(BJ1, ConnectionEdit(name="other")).number == first.number + 1
    clock.advance(TASK_SECONDS)
    assert state.modify(CONN, ConnectionEdit(name="c")).number == first.number + 2


@pytest.mark.parametrize(
    ("ids", "field"),
    [
        (("vpc-nothere", "vpngw-kfldykuz", CONN), Field.VPC),
        (("vpc-03vihbk9", "vpngw-nothere", CONN), Field.GATEWAY),
        (("vpc-03vihbk9", "vpngw-7yl2d9xa", CONN), Field.GATEWAY),  # a gateway of another VPC
        (("vpc-03vihbk9", "vpngw-kfldykuz", "vpnx-nothere"), Field.CONNECTION),
        (("vpc-03vihbk9", "vpngw-kfldykuz", BJ2), Field.CONNECTION),  # a connection of another gateway
    ],
)
def test_find_names_the_first_id_that_does_not_exist(state: SimState, ids: tuple[str, str, str], field: Field) -> None:
    with pytest.raises(WorldError) as caught:
        state.find(*ids)
    assert (caught.value.reason, caught.value.field) == (Reason.NOT_FOUND, field)


def test_numeric_ids_find_the_same_connection(state: SimState) -> None:
    assert state.find("3302", "1270", "2101").id == CONN


def test_connection_accessor_copies_and_refuses_unknown_ids(state: SimState) -> None:
    state.connection(CONN)["vpnConnName"] = "mutated"
    assert state.connection(CONN)["vpnConnName"] == "office-shanghai"
    with pytest.raises(KeyError):
        state.connection("vpnx-nothere")


def test_plant_sets_fields_without_rules(state: SimState) -> None:
    state.plant(CONN, name="evil\u202e")
    assert state.connection(CONN)["vpnConnName"] == "evil\u202e"


# --- faults, rate limits, peaks -----------------------------------------------------------------------------------


def test_counted_faults_are_spent_per_action_with_wildcard_fallback() -> None:
    faults = Faults.model_validate({"http5xx": {"ModifyVpnConnEx": 2, "*": 1}, "overQuota": {"DescribeVpnConn": 1}})
    rng = random.Random(1)
    assert [draw(faults, "ModifyVpnConnEx", rng).http_503 for _ in range(3)] == [True, True, False]
    assert draw(faults, "DescribeVpcTaskResult", rng).http_503 is True
    assert draw(faults, "DescribeVpcTaskResult", rng).http_503 is False
    assert draw(faults, "DescribeVpnConn", rng).code == 4400
    assert draw(faults, "DescribeVpnConn", rng).code is None
    assert faults.to_json()["http5xx"] == {"ModifyVpnConnEx": 0, "*": 0}


def test_a_3_0_action_draws_its_2_0_equivalents_faults_unless_it_has_its_own(state: SimState) -> None:
    state.update_faults(
        {"overQuota": {"ModifyVpnConnEx": 1}, "latency": {"DescribeVpnConn": 0.2, "DescribeVpnConnections": 0.4}}
    )
    assert state.draw_fault("ModifyVpnConnectionAttribute").code == 4400
    assert state.draw_fault("ModifyVpnConnEx").code is None
    assert state.draw_fault("DescribeVpnConnections").latency == 0.4
    assert state.draw_fault("DescribeVpnConn").latency == 0.2


def test_failure_rate_is_seedable(clock: FakeClock) -> None:
    def outcomes(seed: int) -> list[int | None]:
        state = SimState(clock=clock, seed=seed)
        state.update_faults({"failureRate": {"DescribeVpnConn": 0.5}})
        return [state.draw_fault("DescribeVpnConn").code for _ in range(40)]

    first = outcomes(3)
    assert first == outcomes(3)
    assert 5 < first.count(6000) < 35


def test_update_faults_merges_validates_and_removes_with_null(state: SimState) -> None:
    state.update_faults({"latency": {"DescribeVpnConn": 0.2}, "taskOutcome": "failed", "rateLimits": {"A": 1, "B": 2}})
    state.update_faults({"latency": {"ModifyVpnConnEx": 1}, "taskOutcome": None, "rateLimits": {"A": None}})
    assert state.faults.latency == {"DescribeVpnConn": 0.2, "ModifyVpnConnEx": 1.0}
    assert state.faults.task_outcome is None
    assert state.faults.rate_limits == {"B": 2}
    for bad in (
        {"failureRate": {"*": 1.5}},
        {"http5xx": {"*": -1}},
        {"taskOutcome": "maybe"},
        {"rateLimits": {"A": -1}},
        {"jitter": {}},
    ):
        with pytest.raises(ValueError):  # noqa: PT011 - pydantic's ValidationError names the key itself
            state.update_faults(bad)


def test_faults_and_rate_limits_can_come_from_the_world_file(clock: FakeClock) -> None:
    document = load_world(None).to_json()
    document["faults"] = {"overQuota": {"*": 1}, "taskOutcome": "failed", "rateLimits": dict(TENCENT_RATE_LIMITS)}
    state = SimState(World.model_validate(document), clock=clock)
    assert state.draw_fault("DescribeVpnConn").code == 4400
    assert state.faults.rate_limits == {
        "DescribeVpnConnections": 100,
        "ModifyVpnConnectionAttribute": 100,
        "DescribeVpcTaskResult": 20,
    }


def test_rate_limits_slide_per_secret_id_and_action(clock: FakeClock, state: SimState) -> None:
    state.update_faults({"rateLimits": {"DescribeVpcTaskResult": 2}})
    admitted = []
    for _ in range(3):
        admitted.append(state.admit("AKID-a", "DescribeVpcTaskResult"))
        clock.advance(0.4)
    assert admitted == [True, True, False]  # at 0.0, 0.4, 0.8: two in the last second already
    assert state.admit("AKID-b", "DescribeVpcTaskResult") is True  # another SecretId has its own window
    assert state.admit("AKID-a", "DescribeVpnConn") is True  # another action is not limited
    # now 1.2: the request admitted at 0.0 has left the window, the one at 0.4 has not
    assert state.admit("AKID-a", "DescribeVpcTaskResult") is True
    assert state.admit("AKID-a", "DescribeVpcTaskResult") is False
    assert state.rate_refusals("DescribeVpcTaskResult") == 2
    assert state.rate_refusals("DescribeVpnConn") == 0


def test_peak_rate_is_the_most_arrivals_in_any_one_second(clock: FakeClock, state: SimState) -> None:
    for step in (0.0, 0.3, 0.3, 0.3, 0.5, 0.5, 0.5):  # at 0, .3, .6, .9, 1.4, 1.9, 2.4
        clock.advance(step)
        state.arrived("DescribeVpnConnections")
    assert state.peak_rate("DescribeVpnConnections") == 4  # 0, .3, .6, .9
    assert state.peak_rate("DescribeVpnConn") == 0
    assert state.received("DescribeVpnConn") == 7  # counted with its API 3.0 equivalent
