"""``vpnbot edit`` and ``vpnbot sim`` end to end for the tunnel-aware changes (issue 13): the impact and crypto lines
under the diff, ``VPNBOT_CRYPTO_POLICY=block``, ``--peer-config``, and the simulator's peer admin.

Edits run the real CLI in this process (``bot.cli.main``) against the simulator on a loopback port, served from a
thread (one per module: each test starts from the world file's connections and peers, planted back before it);
``vpnbot sim`` runs as a child process of the installed console script. Every edit runs under API 2.0 and API 3.0:
what is shown here is vpnbot's own, but the cloud's answers it is built from differ (API 3.0 names the customer
gateway by its id only, and gives neither gateway's address); whether an API 3.0 edit leaves a task is covered in
test_cli_e2e.py.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

import dialect
import pytest
from simthread import CANARY_SECRET_ID, CANARY_SECRET_KEY, ThreadedSim, threaded_sim

from bot.cli import main
from bot.sim import load_world
from bot.sim.model import Connection
from bot.sim.peer import Peer
from bot.vpn.crypto import rule_for
from bot.vpn.peer import KEY_PLACEHOLDER

SEED_CONN = "vpnx-ol6bcqp0"
"""office-shanghai: IKE aes-cbc-256/sha/group2, ESP aes-cbc-256/sha with PFS dh-group14, SPD 10.0.1.0/24 ->
10.100.1.0/24, between Tencent's 203.0.113.10 and the customer's 198.51.100.21."""
TWO_RULES = "vpnx-s2r7p5qe"
"""lab-two-rules: IKE group14."""
PEER_NAMED = MappingProxyType({"v2": "shanghai-office-fw, 198.51.100.21", "v3": "cgw-9k2pe1sx"})
"""The seed connection's customer gateway as each API names it (API 3.0's connection gives its id only)."""
MODIFY = "ModifyVpnConnEx"
NEW_KEY = "tunnel-canary-Key-4417"
PEER_KEY = "peer-canary-Key-8302"
REQUEST_ID = re.compile(r"^change request (chg-[a-z2-7]{10}) by ", re.MULTILINE)
KEY_HEADLINE = "impact: The tunnel goes down at its next authentication until the peer has the new key."
ONLY_STRENGTHENS = "crypto: this change only strengthens the crypto"
VPNBOT_SCRIPT = Path(sys.executable).with_name("vpnbot")

TWO_APIS = pytest.mark.parametrize("cloud_api", ["v2", "v3"], indirect=True)


# -- the simulator and the CLI ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SharedSim:
    """The module's simulator, and its connections and peers as the world file has them."""

    sim: ThreadedSim
    pristine: Mapping[str, tuple[Connection, Peer | None]]

    def restore(self) -> None:
        """Every connection and peer as the world file has them (an earlier test may have edited them)."""

        def plant() -> None:
            state = self.sim.state
            for conn_id, (connection, peer) in self.pristine.items():
                state.plant(conn_id, **{f.name: getattr(connection, f.name) for f in fields(connection)})
                if state.peer(conn_id) != peer:
                    state.set_peer(conn_id, peer)

        self.sim.call(plant)


@pytest.fixture(scope="module")
def shared_sim() -> Iterator[SharedSim]:
    world = load_world(None).model_copy(
        update={"credentials": {CANARY_SECRET_ID: CANARY_SECRET_KEY}, "task_seconds": 0.05}
    )
    with threaded_sim(world) as running:
        state = running.state
        yield SharedSim(running, running.call(lambda: {c.id: (c, state.peer(c.id)) for c in state.all()}))


@pytest.fixture
def world_sim(shared_sim: SharedSim) -> ThreadedSim:
    """The module's simulator as the world file has it."""
    shared_sim.restore()
    return shared_sim.sim


@pytest.fixture
def sim(
    world_sim: ThreadedSim, cloud_api: dialect.CloudApi, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> ThreadedSim:
    """``world_sim``, and the CLI's environment pointing at it in the dialect of ``cloud_api`` (nothing kept from
    the developer's ``VPNBOT_*``/``TENCENTCLOUD_*``; a state file of the test's own)."""
    for name in list(os.environ):
        if name.startswith(("VPNBOT_", "TENCENTCLOUD_", "SLACK_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    env = {
        "VPNBOT_CLOUD_API": cloud_api,
        "VPNBOT_CLOUD_ENDPOINT": world_sim.v3_url if cloud_api == "v3" else world_sim.url,
        "TENCENTCLOUD_SECRET_ID": CANARY_SECRET_ID,
        "TENCENTCLOUD_SECRET_KEY": CANARY_SECRET_KEY,
        "VPNBOT_STATE_PATH": str(tmp_path / "vpnbot-state.sqlite"),
        "VPNBOT_TASK_POLL_INITIAL": "0.05s",
        "VPNBOT_TASK_POLL_MAX": "0.2s",
        "VPNBOT_TASK_DEADLINE": "20s",
        "VPNBOT_CLOUD_TIMEOUT": "5s",
        "VPNBOT_SETTLE_WINDOW": "1s",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return world_sim


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str

    def lines(self, prefix: str) -> list[str]:
        """The lines of stdout that start with ``prefix``."""
        return [line for line in self.out.splitlines() if line.startswith(prefix)]

    def row(self, parameter: str) -> str:
        """The diff table's row of ``parameter``."""
        rows = self.lines(parameter + " ")
        assert len(rows) == 1, self.out
        return rows[0]

    @property
    def header(self) -> str:
        return self.lines("parameter ")[0]

    @property
    def request_id(self) -> str:
        found = REQUEST_ID.search(self.out + self.err)
        assert found, self.out
        return found.group(1)


def vpnbot(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    status = main(list(argv))
    captured = capsys.readouterr()
    return Run(status, captured.out, captured.err)


def edit(capsys: pytest.CaptureFixture[str], conn: str, *sets: str, extra: tuple[str, ...] = ("--yes",)) -> Run:
    argv = ["-vv", "edit", conn, *extra]
    for item in sets:
        argv += ["--set", item]
    return vpnbot(capsys, *argv)


def key_file(tmp_path: Path, key: str = NEW_KEY) -> str:
    path = tmp_path / "psk"
    path.write_text(key + "\n")
    path.chmod(0o600)
    return f"preSharedKey=@{path}"


def ike(item: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = item.get("IKESet") or item["IKEArr"]
    return block


def ipsec(item: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = item.get("IPsecSet") or item["IPSECArr"]
    return block


# -- 1. what the change does to the tunnel, and who acts on the peer --------------------------------------------------


@TWO_APIS
def test_a_key_change_says_the_tunnel_goes_down_until_the_peer_has_the_key(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    run = edit(capsys, SEED_CONN, key_file(tmp_path))
    assert run.status == 0, run.err
    assert run.lines("impact: ") == [KEY_HEADLINE]
    assert "  preSharedKey: next authentication fails until the peer has the new key" in run.out.splitlines()
    assert run.lines("on the peer: ") == [
        f"on the peer: On the peer ({PEER_NAMED[dialect.current]}): set the new pre-shared key."
    ]
    assert run.out.index(run.row("preSharedKey")) < run.out.index("impact: ") < run.out.index("accepted: ")
    assert re.fullmatch(r"parameter\s+current\s+proposed", run.header)  # the key is no crypto parameter
    assert "verified: every proposed value is live" in run.out
    assert sim.connection(SEED_CONN)["preSharedKey"] == NEW_KEY
    assert NEW_KEY not in run.out + run.err + caplog.text
    assert dialect.code("edit_action") in caplog.text  # the log was really captured


@TWO_APIS
def test_a_selector_change_lists_the_networks_and_asks_the_peer_for_them(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str]
) -> None:
    run = edit(capsys, SEED_CONN, "userGwCidrBlock=10.100.2.0/24")
    assert run.status == 0, run.err
    assert run.lines("impact: ") == [
        "impact: Networks gain or lose the tunnel; a policy-based peer must list the same selectors."
    ]
    assert "  userGwCidrBlock: 10.100.2.0/24 gains the tunnel; 10.100.1.0/24 loses it" in run.out.splitlines()
    (on_the_peer,) = run.lines("on the peer: ")
    assert PEER_NAMED[dialect.current] in on_the_peer
    assert "list the new traffic selectors if it is policy-based" in on_the_peer


@TWO_APIS
@pytest.mark.parametrize(
    ("setting", "headline", "row", "stored"),
    [
        (
            "vpnConnName=office-shanghai-renamed",
            "impact: Name only: no effect on traffic.",
            "  vpnConnName: name only: no effect on traffic",
            lambda item: item["vpnConnName"],
        ),
        (
            "IPsecSet.ipsecSaLifetimeSeconds=7200",
            "impact: Only renegotiation timing changes; the tunnel stays up.",
            "  IPsecSet.ipsecSaLifetimeSeconds: renegotiation timing changes: IPsec SA lifetime 3600 -> 7200 s; "
            "the tunnel stays up",
            lambda item: str(ipsec(item)["ipsecSaLifetimeSeconds"]),
        ),
    ],
    ids=["name", "lifetime"],
)
def test_a_change_the_peer_need_not_mirror_has_no_on_the_peer_line(
    sim: ThreadedSim,
    capsys: pytest.CaptureFixture[str],
    setting: str,
    headline: str,
    row: str,
    stored: Callable[[dict[str, Any]], str],
) -> None:
    run = edit(capsys, SEED_CONN, setting)
    assert run.status == 0, run.err
    assert run.lines("impact: ") == [headline]
    assert row in run.out.splitlines()
    assert not [line for line in run.out.splitlines() if "on the peer" in line.lower()]
    assert "crypto" not in run.header
    assert not run.lines("crypto: brings in") + run.lines("crypto: weakens") + run.lines(ONLY_STRENGTHENS)
    assert run.lines("crypto: still in the settings: IKESet.dhGroupName group2: SHOULD NOT (RFC 8247 §2.4")
    assert stored(sim.connection(SEED_CONN)) == setting.split("=")[1]


# -- 2 and 3. the crypto review in the diff, and VPNBOT_CRYPTO_POLICY ---------------------------------------------------


@TWO_APIS
def test_a_must_not_value_is_marked_and_applied_under_warn(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = sim.received(MODIFY)
    run = edit(capsys, SEED_CONN, "IPsecSet.encryptAlgorithm=des-cbc")
    assert run.status == 0, run.err
    assert re.fullmatch(r"parameter\s+current\s+proposed\s+crypto", run.header)
    assert re.fullmatch(
        r"IPsecSet\.encryptAlgorithm\s+aes-cbc-256\s+des-cbc\s+MUST NOT: RFC 8221 §5",
        run.row("IPsecSet.encryptAlgorithm"),
    )
    (brought,) = run.lines("crypto: brings in ")
    assert brought.startswith("crypto: brings in IPsecSet.encryptAlgorithm des-cbc: MUST NOT (RFC 8221 §5, ENCR_DES)")
    assert run.lines("crypto: weakens ") == [weakens_line("IPsecSet.encryptAlgorithm", "aes-cbc-256", "des-cbc")]
    assert not run.lines(ONLY_STRENGTHENS)
    assert "VPNBOT_CRYPTO_POLICY" not in run.out + run.err
    assert sim.received(MODIFY) == sent + 1
    assert ipsec(sim.connection(SEED_CONN))["encryptAlgorithm"] == "des-cbc"


@TWO_APIS
@pytest.mark.parametrize("answer", ["--yes", "y on stdin"])
def test_block_refuses_a_must_not_value_before_the_question_and_withdraws_the_request(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, answer: str
) -> None:
    monkeypatch.setenv("VPNBOT_CRYPTO_POLICY", "block")
    stdin = io.StringIO("y\n")
    monkeypatch.setattr("sys.stdin", stdin)
    before, sent = sim.connection(SEED_CONN), sim.received(MODIFY)
    run = edit(capsys, SEED_CONN, "IPsecSet.encryptAlgorithm=des-cbc", extra=("--yes",) if answer == "--yes" else ())
    assert run.status == 2
    refusals = [line for line in run.err.splitlines() if "VPNBOT_CRYPTO_POLICY=block" in line]
    assert len(refusals) == 1, run.err
    refusal = refusals[0]
    assert refusal.startswith("vpnbot: VPNBOT_CRYPTO_POLICY=block refuses this change: Brings in ")
    for named in ("IPsecSet.encryptAlgorithm des-cbc", "MUST NOT", "RFC 8221 §5", "ENCR_DES"):
        assert named in refusal
    assert refusal.endswith("; nothing was sent")
    assert "Apply this change" not in run.err  # refused before the question: the answer on stdin was not read
    assert stdin.read() == "y\n"
    assert "accepted" not in run.out
    assert sim.received(MODIFY) == sent
    assert sim.connection(SEED_CONN) == before

    request_id = run.request_id
    listing = vpnbot(capsys, "audit")
    assert listing.status == 0, listing.err
    mine = [line for line in listing.out.splitlines() if request_id in line]
    assert len(mine) == 2, listing.out
    assert "created" in mine[0]
    assert "pending->cancelled" in mine[1]
    assert "end: withdrawn" in mine[1]
    records = json.loads(vpnbot(capsys, "audit", "--json").out)
    (withdrawn,) = [r for r in records if r["request_id"] == request_id and r["action"] == "pending->cancelled"]
    assert withdrawn["detail"]["end"] == "withdrawn"
    assert withdrawn["detail"]["reason"].startswith("refused by VPNBOT_CRYPTO_POLICY=block: Brings in ")
    assert "RFC 8221" in withdrawn["detail"]["reason"]

    again = edit(capsys, SEED_CONN, "vpnConnName=after-the-block")  # the lock was given back
    assert again.status == 0, again.err
    assert sim.connection(SEED_CONN)["vpnConnName"] == "after-the-block"


def level(parameter: str, value: str) -> str:
    """The RFC level of ``value`` in the review's words (test_crypto_review.py checks the table value by value; these
    tests check what the terminal makes of it)."""
    rule = rule_for(parameter, value)
    assert rule is not None, (parameter, value)
    return rule.level.words


def weakening(parameter: str, before: str, after: str) -> tuple[str, str, str, str]:
    """The diff row of a change that weakens ``parameter``, split in its four columns."""
    return parameter, before, after, f"WEAKER ({level(parameter, before)} -> {level(parameter, after)})"


def weakens_line(parameter: str, before: str, after: str) -> str:
    return f"crypto: weakens {parameter}: {before} ({level(parameter, before)}) -> {after} ({level(parameter, after)})"


@dataclass(frozen=True)
class Review:
    """A crypto change: the diff rows it shows (split in their four columns), and the lines the review says."""

    conn: str
    sets: tuple[str, ...]
    rows: tuple[tuple[str, str, str, str], ...]
    says: tuple[str, ...]
    only_strengthens: bool = False
    weakens: bool = True


DH, PFS = "IKESet.dhGroupName", "IPsecSet.pfsDhGroup"
STRONGER_DH = (DH, "group2", "group14", f"stronger ({level(DH, 'group14')})")
REVIEWS = MappingProxyType(
    {
        "group14-to-group2": Review(
            TWO_RULES,
            (f"{DH}=group2",),
            (weakening(DH, "group14", "group2"),),
            (weakens_line(DH, "group14", "group2"),),
        ),
        "group2-to-group1": Review(
            SEED_CONN,
            (f"{DH}=group1",),
            ((DH, "group2", "group1", "MUST NOT: RFC 8247 §2.4"),),  # what it brings in outranks that it weakens
            (
                "crypto: brings in IKESet.dhGroupName group1: MUST NOT (RFC 8247 §2.4, 768-bit MODP Group (1)); "
                "broken with modest computing power",
                weakens_line(DH, "group2", "group1"),
            ),
        ),
        "pfs-group14-to-group2": Review(
            SEED_CONN,
            (f"{PFS}=dh-group2",),
            (weakening(PFS, "dh-group14", "dh-group2"),),
            (weakens_line(PFS, "dh-group14", "dh-group2"),),
        ),
        "group2-to-group14": Review(
            SEED_CONN,
            (f"{DH}=group14",),
            (STRONGER_DH,),
            (ONLY_STRENGTHENS,),
            only_strengthens=True,
            weakens=False,
        ),
        "stronger-and-weaker": Review(
            SEED_CONN,
            (f"{DH}=group14", f"{PFS}=dh-group2"),
            (STRONGER_DH, weakening(PFS, "dh-group14", "dh-group2")),
            (weakens_line(PFS, "dh-group14", "dh-group2"),),
        ),
    }
)


@TWO_APIS
@pytest.mark.parametrize("case", list(REVIEWS))
def test_weakening_and_strengthening_are_marked_and_applied_under_warn(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    review = REVIEWS[case]
    run = edit(capsys, review.conn, *review.sets)
    assert run.status == 0, run.err
    assert run.header.split() == ["parameter", "current", "proposed", "crypto"]
    for row in review.rows:
        assert tuple(run.row(row[0]).split(None, 3)) == row
    for line in review.says:
        assert line in run.out.splitlines()
    assert bool(run.lines(ONLY_STRENGTHENS)) is review.only_strengthens
    assert bool(run.lines("crypto: weakens ")) is review.weakens
    item = sim.connection(review.conn)
    for setting in review.sets:
        name, value = setting.split("=")
        block = ike(item) if name.startswith("IKESet.") else ipsec(item)
        assert block[name.split(".")[1]] == value


@TWO_APIS
def test_block_refuses_a_weakening_but_not_a_strengthening(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VPNBOT_CRYPTO_POLICY", "block")
    sent = sim.received(MODIFY)
    weaker = edit(capsys, TWO_RULES, "IKESet.dhGroupName=group2")
    assert weaker.status == 2
    assert (
        "vpnbot: VPNBOT_CRYPTO_POLICY=block refuses this change: Weakens IKESet.dhGroupName group14 -> group2 "
        f"({level(DH, 'group14')} -> {level(DH, 'group2')}; RFC 8247 §2.4, 1024-bit MODP Group (2)); nothing was sent"
    ) in weaker.err.splitlines()
    assert sim.received(MODIFY) == sent
    assert ike(sim.connection(TWO_RULES))["dhGroupName"] == "group14"
    stronger = edit(capsys, SEED_CONN, "IKESet.dhGroupName=group14")
    assert stronger.status == 0, stronger.err
    assert stronger.lines(ONLY_STRENGTHENS)
    assert "VPNBOT_CRYPTO_POLICY" not in stronger.out + stronger.err
    assert ike(sim.connection(SEED_CONN))["dhGroupName"] == "group14"


# -- 4. the peer's half: --peer-config ----------------------------------------------------------------------------------


@TWO_APIS
def test_the_strongswan_fragment_holds_the_proposed_values_and_never_the_key(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = edit(
        capsys,
        SEED_CONN,
        "IPsecSet.encryptAlgorithm=aes-cbc-128",
        key_file(tmp_path),
        extra=("--yes", "--peer-config", "strongswan"),
    )
    assert run.status == 0, run.err
    heading = f"peer configuration (strongswan), to apply on {PEER_NAMED[dialect.current]}:"
    assert run.lines("peer configuration") == [heading]
    fragment = run.out[run.out.index(heading) : run.out.index("accepted: ")]  # printed before the edit is sent
    lines = [line.strip() for line in fragment.splitlines()]
    for line in (
        "local_addrs = 198.51.100.21",
        "remote_addrs = 203.0.113.10",
        "proposals = aes256-sha1-modp1024",
        "local_ts = 10.100.1.0/24",
        "remote_ts = 10.0.1.0/24",
        "esp_proposals = aes128-sha1-modp2048",  # the proposed ESP encryption, not the current aes256
        f'secret = "{KEY_PLACEHOLDER}"',
    ):
        assert line in lines, fragment
    assert "aes256-sha1-modp2048" not in fragment
    assert NEW_KEY not in run.out + run.err
    assert sim.connection(SEED_CONN)["preSharedKey"] == NEW_KEY


@TWO_APIS
def test_the_cisco_fragment_holds_the_proposed_values_and_never_the_key(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = edit(
        capsys,
        SEED_CONN,
        "IKESet.propoEncryAlgorithm=aes-cbc-128",
        key_file(tmp_path),
        extra=("--yes", "--peer-config", "cisco"),
    )
    assert run.status == 0, run.err
    heading = f"peer configuration (cisco), to apply on {PEER_NAMED[dialect.current]}:"
    fragment = run.out[run.out.index(heading) : run.out.index("accepted: ")]
    lines = fragment.splitlines()
    for line in (
        "crypto isakmp policy 10",
        " encryption aes",  # the proposed aes-cbc-128 ("aes 256" is the current one)
        " group 2",
        f"  pre-shared-key address 203.0.113.10 key {KEY_PLACEHOLDER}",
        "crypto ipsec transform-set vpnx-ol6bcqp0-transform esp-aes 256 esp-sha-hmac",
        " permit ip 10.100.1.0 0.0.0.255 10.0.1.0 0.0.0.255",
        " set pfs group14",
    ):
        assert line in lines, fragment
    assert " encryption aes 256" not in lines
    assert NEW_KEY not in run.out + run.err


@TWO_APIS
def test_the_json_report_has_the_peer_config_without_the_key(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = edit(
        capsys,
        SEED_CONN,
        "IPsecSet.encryptAlgorithm=aes-cbc-128",
        key_file(tmp_path),
        extra=("--yes", "--json", "--peer-config", "strongswan"),
    )
    assert run.status == 0, run.err
    report = json.loads(run.out)  # stdout holds the report only
    assert report["outcome"] == "succeeded"
    assert set(report["peerConfig"]) == {"vendor", "text"}
    assert report["peerConfig"]["vendor"] == "strongswan"
    text = report["peerConfig"]["text"]
    assert "esp_proposals = aes128-sha1-modp2048" in text
    assert f'secret = "{KEY_PLACEHOLDER}"' in text
    assert text.rstrip("\n") in run.err  # the same fragment was shown, on stderr beside the report
    assert NEW_KEY not in run.out + run.err


@TWO_APIS
def test_the_fragment_is_shown_before_the_question(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    sent = sim.received(MODIFY)
    run = edit(capsys, SEED_CONN, "IKESet.dhGroupName=group14", extra=("--peer-config", "strongswan"))
    assert run.status == 2
    assert "proposals = aes256-sha1-modp2048" in [line.strip() for line in run.out.splitlines()]
    assert "Apply this change to vpnx-ol6bcqp0? [y/N]" in run.err
    assert "not confirmed; nothing was sent" in run.err
    assert sim.received(MODIFY) == sent


@pytest.mark.parametrize(
    ("cloud_api", "setting", "vendor", "said"),
    [
        pytest.param(
            "v3",
            "IKESet.propoEncryAlgorithm=sm4",
            "strongswan",
            "vpnbot: --peer-config strongswan: IKESet.propoEncryAlgorithm: 'sm4' has no strongSwan equivalent",
            id="sm4-strongswan",
        ),
        pytest.param(
            "v3",
            "IKESet.propoEncryAlgorithm=sm4",
            "cisco",
            "vpnbot: --peer-config cisco: IKESet.propoEncryAlgorithm: 'sm4' has no IOS IKEv1 (isakmp policy) "
            "equivalent",
            id="sm4-cisco",
        ),
        pytest.param(
            "v2",
            "IKESet.ikeSaLifetimeSeconds=604800",
            "cisco",
            "vpnbot: --peer-config cisco: IKESet.ikeSaLifetimeSeconds: 604800 s is outside IOS's isakmp policy "
            "range, 60 to 86400 s",
            id="lifetime-cisco",
        ),
    ],
    indirect=["cloud_api"],
)
def test_a_value_the_vendor_cannot_express_is_said_and_the_edit_still_works(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], setting: str, vendor: str, said: str
) -> None:
    run = edit(capsys, SEED_CONN, setting, extra=("--yes", "--json", "--peer-config", vendor))
    assert run.status == 0, run.err
    assert said in run.err.splitlines()
    report = json.loads(run.out)
    assert report["outcome"] == "succeeded"
    assert "peerConfig" not in report
    assert "peer configuration" not in run.err
    name, value = setting.split("=")
    assert str(ike(sim.connection(SEED_CONN))[name.split(".")[1]]) == value


# -- 5. vpnbot sim: the other end of the tunnel ---------------------------------------------------------------------


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VPNBOT_", "TENCENTCLOUD_", "SLACK_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # each child would compile bot/ again: see conftest.py
    return env


def vpnbot_child(tmp_path: Path, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The installed ``vpnbot`` console script, as a user runs it."""
    assert VPNBOT_SCRIPT.is_file(), f"the console script is not installed at {VPNBOT_SCRIPT}"
    return subprocess.run(
        [str(VPNBOT_SCRIPT), *argv], capture_output=True, text=True, env=child_env(), cwd=tmp_path, timeout=timeout
    )


def port_of(sim: ThreadedSim) -> str:
    found = re.search(r":(\d+)/", sim.url)
    assert found, sim.url
    return found.group(1)


def a_closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def test_sim_peer_sets_the_key_shows_it_masked_and_mirror_brings_the_match_back(
    world_sim: ThreadedSim, tmp_path: Path
) -> None:
    port = port_of(world_sim)
    shown = vpnbot_child(tmp_path, "sim", "--peer", SEED_CONN, "--port", port)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["match"] is True

    done = vpnbot_child(tmp_path, "sim", "--peer", SEED_CONN, "--peer-set", f"preSharedKey={PEER_KEY}", "--port", port)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["vpnConnId"] == SEED_CONN
    assert answer["peer"]["preSharedKey"] == "***"
    assert answer["match"] is False
    assert answer["mismatches"] == ["preSharedKey"]
    assert PEER_KEY not in done.stdout + done.stderr
    peer = world_sim.call(lambda: world_sim.state.peer(SEED_CONN))
    assert peer is not None
    assert peer.pre_shared_key == PEER_KEY

    mirrored = vpnbot_child(tmp_path, "sim", "--peer", SEED_CONN, "--peer-mirror", "--port", port)
    assert mirrored.returncode == 0, mirrored.stderr
    answer = json.loads(mirrored.stdout)
    assert (answer["match"], answer["mismatches"]) == (True, [])
    assert answer["peer"]["preSharedKey"] == "***"
    peer = world_sim.call(lambda: world_sim.state.peer(SEED_CONN))
    assert peer is not None
    assert peer.pre_shared_key == world_sim.connection(SEED_CONN)["preSharedKey"]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("--peer", SEED_CONN, "--peer-set", "IKESet.dhGroupName"), "vpnbot: --peer-set: a peer setting is KEY=VALUE"),
        (("--peer", SEED_CONN, "--peer-set", "IKESet.nonsense=1"), "'IKESet.nonsense' is not a peer setting"),
        (
            ("--peer", SEED_CONN, "--peer-set", "IKESet.dhGroupName=group99"),
            "vpnbot: the simulator refused: IKESet.dhGroupName: 'group99' is not one of",
        ),
        (("--peer", "vpnx-nothere1", "--peer-set", "preSharedKey=x"), "vpnx-nothere1 does not exist"),
        (("--peer-set", "preSharedKey=x"), "vpnbot: --peer-set and --peer-mirror need --peer VPNCONN_ID"),
        (("--peer-mirror",), "vpnbot: --peer-set and --peer-mirror need --peer VPNCONN_ID"),
    ],
    ids=["no-equals", "unknown-key", "bad-value", "unknown-connection", "set-without-peer", "mirror-without-peer"],
)
def test_sim_peer_bad_usage_exits_2_and_changes_nothing(
    world_sim: ThreadedSim, tmp_path: Path, argv: tuple[str, ...], said: str
) -> None:
    before = world_sim.call(lambda: world_sim.state.peer(SEED_CONN))
    done = vpnbot_child(
        tmp_path, "sim", *argv, "--port", port_of(world_sim)
    )  # the port is taken: no simulator can start
    assert done.returncode == 2
    assert said in done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "listening" not in done.stdout
    assert world_sim.call(lambda: world_sim.state.peer(SEED_CONN)) == before


def test_sim_peer_says_when_no_simulator_answers(tmp_path: Path) -> None:
    port = a_closed_port()
    done = vpnbot_child(tmp_path, "sim", "--peer", SEED_CONN, "--port", port)
    assert done.returncode == 2
    assert f"vpnbot: cannot reach the simulator at http://127.0.0.1:{port}" in done.stderr


def test_sim_renegotiate_seconds_sets_when_the_tunnel_renegotiates(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [str(VPNBOT_SCRIPT), "sim", "--port", "0", "--renegotiate-seconds", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/v2/index\.php", first)
        assert found, first
        done = vpnbot_child(
            tmp_path, "sim", "--peer", SEED_CONN, "--peer-set", "IKESet.dhGroupName=group14", "--port", found.group(1)
        )
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        assert answer["mismatches"] == ["IKESet.dhGroupName"]
        assert 20 < answer["renegotiatesAt"] - time.time() <= 30  # the world's own delay is 2 s
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--renegotiate-seconds", "nan"),
        ("--renegotiate-seconds", "-1"),
        ("--task-seconds", "inf"),
        ("--task-seconds", "soon"),
    ],
)
def test_sim_durations_must_be_finite_and_not_negative(tmp_path: Path, flag: str, value: str) -> None:
    done = vpnbot_child(tmp_path, "sim", "--port", a_closed_port(), flag, value, timeout=20)  # else it serves on
    assert done.returncode == 2
    assert f"argument {flag}: {value!r}" in done.stderr
    assert "listening" not in done.stdout
