"""``vpnbot show`` and ``vpnbot edit`` end to end: the real CLI, the real client, the simulator over loopback HTTP."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import dialect
import pytest
from simthread import CANARY_SECRET_ID, CANARY_SECRET_KEY, ThreadedSim, canary_world, threaded_sim

from bot.cli import main

SEED_CONN = "vpnx-ol6bcqp0"
MODIFY = "ModifyVpnConnEx"
CANARY_PSK = "canary-psk-Zq81-unique"

pytestmark = pytest.mark.usefixtures("cloud_api")


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[ThreadedSim]:
    with threaded_sim(canary_world(task_seconds=0.2)) as running:
        monkeypatch.chdir(str(tmp_path))
        env = {
            "VPNBOT_CLOUD_API": dialect.current,
            "VPNBOT_CLOUD_ENDPOINT": running.v3_url if dialect.current == "v3" else running.url,
            "TENCENTCLOUD_SECRET_ID": CANARY_SECRET_ID,
            "TENCENTCLOUD_SECRET_KEY": CANARY_SECRET_KEY,
            "VPNBOT_TASK_POLL_INITIAL": "0.05s",
            "VPNBOT_TASK_POLL_MAX": "0.2s",
            "VPNBOT_TASK_DEADLINE": "20s",
            "VPNBOT_CLOUD_TIMEOUT": "5s",
            "VPNBOT_SETTLE_WINDOW": "1s",  # how long an unanswered edit is checked for (default 2m)
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield running


def edit(*sets: str, conn: str = SEED_CONN, extra: tuple[str, ...] = ("--yes",)) -> int:
    argv = ["-vv", "edit", conn, *extra]
    for item in sets:
        argv += ["--set", item]
    return main(argv)


@pytest.mark.parametrize(
    ("sets", "check"),
    [
        (("vpnConnName=office-shanghai-2",), lambda item: item["vpnConnName"] == "office-shanghai-2"),
        ((f"preSharedKey={CANARY_PSK}",), lambda item: item["preSharedKey"] == CANARY_PSK),
        (
            ("userGwCidrBlock=10.100.2.0/24,10.100.3.0/24",),
            lambda item: sorted(item["destinationCidr"]) == ["10.100.2.0/24", "10.100.3.0/24"],
        ),
        (
            ('spdAcl={"10.0.0.0/24":["172.16.5.0/24","172.16.6.0/24"]}',),
            lambda item: (
                item["sourceCidr"] == ["10.0.0.0/24"]
                and sorted(item["destinationCidr"]) == ["172.16.5.0/24", "172.16.6.0/24"]
            ),
        ),
        (
            ("IKESet.dhGroupName=group24", "IKESet.exchangeMode=aggressive", "IKESet.ikeSaLifetimeSeconds=3600"),
            lambda item: (
                (ike := item.get("IKESet") or item["IKEArr"])["dhGroupName"] == "group24"
                and ike["exchangeMode"] == "aggressive"
                and str(ike["ikeSaLifetimeSeconds"]) == "3600"
            ),
        ),
        (
            ("IKESet.encryptAlgorithm=aes-cbc-192", "IPsecSet.pfsDhGroup=dh-group5"),
            lambda item: (
                (ipsec := item.get("IPsecSet") or item["IPSECArr"])["encryptAlgorithm"] == "aes-cbc-192"
                and ipsec["pfsDhGroup"] == "dh-group5"
            ),
        ),
    ],
    ids=["name", "key", "cidrs", "spd", "ike", "ipsec"],
)
def test_each_kind_of_edit_reaches_the_world(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], sets: tuple[str, ...], check: object
) -> None:
    assert edit(*sets) == 0
    out = capsys.readouterr().out
    assert "verified: every proposed value is live" in out
    assert sim.received(MODIFY) == 1
    item = sim.connection(SEED_CONN)
    assert callable(check)
    assert check(item), item
    assert item["vpcConnStatus"] in (6, "6")


def test_the_seeds_own_example_with_json(sim: ThreadedSim, capsys: pytest.CaptureFixture[str]) -> None:
    assert edit("userGwCidrBlock=10.100.2.0/24", "preSharedKey=tencenttest", extra=("--yes", "--json")) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["outcome"] == "succeeded"
    assert report["verified"] is True
    assert report["taskId"] >= 12614 if dialect.current == "v2" else len(report["taskId"]) == 36
    assert [row["parameter"] for row in report["diff"]] == ["preSharedKey", "userGwCidrBlock"]
    assert report["diff"][0]["proposed"] == "changed"
    assert "tencenttest" not in json.dumps(report)


@pytest.mark.parametrize(
    ("sets", "named"),
    [
        (("vpnConnName=" + "x" * 61,), "vpnConnName"),
        (("IKESet.propoEncryAlgorithm=aes-gcm-128",), "IKESet.propoEncryAlgorithm"),
        (("IKESet.propoAuthenAlgorithm=sha256",), "IKESet.propoAuthenAlgorithm"),
        (("IKESet.exchangeMode=quick",), "IKESet.exchangeMode"),
        (("IKESet.dhGroupName=group3",), "IKESet.dhGroupName"),
        (("IPsecSet.pfsDhGroup=group14",), "IPsecSet.pfsDhGroup"),
        (("IPsecSet.integrityAlgorith=sha512",), "IPsecSet.integrityAlgorith"),
        (("IKESet.encryptAlgorithm=aes-cbc-512",), "IPsecSet.encryptAlgorithm"),
        (("IKESet.ikeSaLifetimeSeconds=59",), "IKESet.ikeSaLifetimeSeconds"),
        (("IKESet.ikeSaLifetimeSeconds=604801",), "IKESet.ikeSaLifetimeSeconds"),
        (("IPsecSet.ipsecSaLifetimeSeconds=179",), "IPsecSet.ipsecSaLifetimeSeconds"),
        (("IPsecSet.ipsecSaLifetimeTraffic=2559",), "IPsecSet.ipsecSaLifetimeTraffic"),
        (("userGwCidrBlock=10.100.2.1/24",), "userGwCidrBlock"),
        (("userGwCidrBlock=10.0.0.0/16,10.0.1.0/24",), "userGwCidrBlock"),
        (("spdAcl={oops",), "spdAcl"),
        (("spdAcl={}",), "spdAcl"),
        (("userGwCidrBlock=10.9.0.0/24", 'spdAcl={"10.0.0.0/24":["10.9.0.0/24"]}'), "spdAcl"),
        (("IKESet.localIdentity=fqdn",), "IKESet.localFqdnName"),
        (("IKESet.remoteIdentity=fqdn",), "IKESet.remoteFqdnName"),
        (("IKESet.localAddress=",), "IKESet.localAddress"),
        (("IKESet.remoteAddress=not-an-ip",), "IKESet.remoteAddress"),
        (("preSharedKey=",), "preSharedKey"),
        (("vpnConnId=vpnx-other",), "vpnConnId"),
        (("IKESet.nonsense=1",), "IKESet.nonsense"),
        (("vpnConnName=office-shanghai",), "no change"),
    ],
)
def test_every_rule_refuses_with_exit_2_and_sends_nothing(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], sets: tuple[str, ...], named: str
) -> None:
    before = sim.connection(SEED_CONN)
    assert edit(*sets) == 2
    err = capsys.readouterr().err
    assert named in err
    assert "nothing was sent" in err
    assert sim.received(MODIFY) == 0
    assert sim.connection(SEED_CONN) == before


def test_every_problem_is_listed_at_once(sim: ThreadedSim, capsys: pytest.CaptureFixture[str]) -> None:
    assert edit("IKESet.dhGroupName=group3", "IPsecSet.ipsecSaLifetimeSeconds=5", "userGwCidrBlock=1.2.3.4/8") == 2
    err = capsys.readouterr().err
    for name in ("IKESet.dhGroupName", "IPsecSet.ipsecSaLifetimeSeconds", "userGwCidrBlock"):
        assert f"vpnbot: {name}:" in err


def test_bad_usage_exits_2(sim: ThreadedSim, capsys: pytest.CaptureFixture[str]) -> None:
    assert edit("vpnConnName") == 2
    assert "PARAM=VALUE" in capsys.readouterr().err
    assert sim.received("DescribeVpnConn") == 0


def test_without_yes_and_no_answer_nothing_is_sent(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert edit("vpnConnName=renamed", extra=()) == 2
    assert "nothing was sent" in capsys.readouterr().err
    assert sim.received(MODIFY) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert edit("vpnConnName=renamed", extra=()) == 0
    assert sim.connection(SEED_CONN)["vpnConnName"] == "renamed"


def test_show_prints_settings_without_the_key(sim: ThreadedSim, capsys: pytest.CaptureFixture[str]) -> None:
    stored_key = sim.connection(SEED_CONN)["preSharedKey"]
    assert main(["show", SEED_CONN]) == 0
    text = capsys.readouterr().out
    assert "IKESet.dhGroupName" in text
    assert "office-shanghai" in text
    assert main(["show", SEED_CONN, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["settings"]["IPsecSet.integrityAlgorith"] in ("md5", "sha")
    assert document["preSharedKeySet"] is True
    assert stored_key not in text + json.dumps(document)


@pytest.mark.parametrize("command", ["show", "edit"])
def test_unknown_connection(sim: ThreadedSim, capsys: pytest.CaptureFixture[str], command: str) -> None:
    argv = [command, "vpnx-doesnotx"] + (["--set", "vpnConnName=x", "--yes"] if command == "edit" else [])
    assert main(argv) == 1
    assert "NotFound" in capsys.readouterr().err
    assert sim.received(MODIFY) == 0


def test_wrong_secret_key_is_refused(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "not-the-right-key")
    assert main(["show", SEED_CONN]) == 1
    assert dialect.code("bad_signature") in capsys.readouterr().err


def test_unknown_secret_id_is_refused(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", "AKIDunknownxxxxxxxxxxxxxxxxxxxxxxxxx")
    assert main(["show", SEED_CONN]) == 1
    assert dialect.code("unknown_secret_id") in capsys.readouterr().err


def test_a_clock_off_by_ten_minutes_is_refused(sim: ThreadedSim, capsys: pytest.CaptureFixture[str]) -> None:
    sim.call(lambda: setattr(sim.state, "clock", lambda: time.time() + 600))
    assert main(["show", SEED_CONN]) == 1
    assert dialect.code("stale_timestamp") in capsys.readouterr().err


def test_a_reused_nonce_is_refused(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if dialect.current == "v3":
        pytest.skip("API 3.0 (TC3) has no nonce: a replay within the timestamp window is the service's to refuse")
    monkeypatch.setattr("bot.tencent.client.secrets.randbelow", lambda _: 41)
    assert main(["show", SEED_CONN]) == 0
    assert main(["show", SEED_CONN]) == 1
    assert "4500" in capsys.readouterr().err


def test_a_failed_task_exits_1_with_the_clouds_words(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a task, its words; with none (API 3.0's documented edit), the connection says it was not applied."""
    sim.faults(taskOutcome="failed")
    monkeypatch.setenv("VPNBOT_TASK_DEADLINE", "3s")
    assert edit("vpnConnName=will-fail") == 1
    err = capsys.readouterr().err
    assert ("not applied" if dialect.behaviour() == "v3" else "failed") in err
    assert sim.connection(SEED_CONN)["vpnConnName"] == "office-shanghai"


def test_a_task_past_its_deadline_exits_1(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim.faults(taskSeconds=30)
    monkeypatch.setenv("VPNBOT_TASK_DEADLINE", "0.6s")
    started = time.monotonic()
    assert edit("vpnConnName=too-slow", extra=("--yes", "--json")) == 1
    assert time.monotonic() - started < 5
    assert json.loads(capsys.readouterr().out)["outcome"] == "timed_out"


def test_5xx_on_reads_is_retried_and_the_edit_is_never_retried(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.faults(http5xx={"DescribeVpnConn": 2})
    assert main(["show", SEED_CONN]) == 0
    assert sim.received("DescribeVpnConn") == 3
    sim.faults(http5xx={MODIFY: 1})
    started = time.monotonic()
    assert edit("vpnConnName=after-503") == 1
    err = capsys.readouterr().err
    assert "503" in err
    assert "not sent again" in err
    assert "not applied" in err  # only once the settle window passed with the connection settled
    assert time.monotonic() - started >= 1.0
    assert sim.received(MODIFY) == 1
    assert sim.connection(SEED_CONN)["vpnConnName"] == "office-shanghai"


def test_an_edit_that_times_out_is_not_resent_and_is_judged_by_reads(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The simulator still applies an edit whose client gave up (see test_cli_unanswered_edit.py): verified."""
    monkeypatch.setenv("VPNBOT_CLOUD_TIMEOUT", "0.3s")
    monkeypatch.setenv("VPNBOT_SETTLE_WINDOW", "10s")
    sim.faults(latency={MODIFY: 1.0})
    assert edit("vpnConnName=slow-edit") == 0
    captured = capsys.readouterr()
    assert "no answer within 0.3 s" in captured.err
    assert "no answer to the edit; it is not sent again; checking the connection" in captured.err
    assert "verified: every proposed value is live" in captured.out
    assert sim.received(MODIFY) == 1
    assert sim.connection(SEED_CONN)["vpnConnName"] == "slow-edit"


def test_over_quota_while_following_backs_off_and_reports_the_truth(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.faults(overQuota={"DescribeVpcTaskResult": 3})
    assert edit("vpnConnName=quota-ok") == 0
    assert sim.connection(SEED_CONN)["vpnConnName"] == "quota-ok"


def test_secrets_never_reach_output_or_logs(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert edit(f"preSharedKey={CANARY_PSK}", "IKESet.dhGroupName=group5", extra=("--yes", "--json")) == 0
    sim.faults(taskOutcome="failed")
    assert edit("preSharedKey=canary-psk-second-9X", extra=("--yes",)) == 1
    assert main(["-vv", "show", SEED_CONN, "--json"]) == 0
    captured = capsys.readouterr()
    everything = captured.out + captured.err + caplog.text
    assert dialect.code("edit_action") in caplog.text  # the logs were really captured
    for secret in (CANARY_PSK, "canary-psk-second-9X", CANARY_SECRET_KEY):
        assert secret not in everything
